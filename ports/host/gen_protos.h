/*
 * nm-gen-exports, phase 2: the type of each export (docs/format.md 2.3).
 *
 * gx_protos_scan walks the file-scope declarations of one preprocessed
 * source and, for each declared name that lookup() accepts, hands over the
 * normalised type text through found():
 *   - a function: its type without the name and without parameter names,
 *     typedef names kept as written: `int (uint8_t, const void *, size_t)`;
 *   - data: its type: `volatile uint32_t`, `const uint8_t [16]`;
 *   - storage classes (extern, static, inline, _Noreturn), GCC attributes
 *     and asm labels dropped; tokens separated by one space except after
 *     `(`, `[` and `*`, before `)`, `]` and `,`, and between `)` or `]`
 *     and a following `(` or `[`.
 * The text is what nm_hash turns into the export's type hash, so the same
 * prototype gives the same hash whatever the spacing or parameter names.
 * A declaration it cannot read (typedefs, markers, odd syntax) is skipped;
 * an export no declaration describes simply has no type.
 */
#ifndef NM_GEN_PROTOS_H
#define NM_GEN_PROTOS_H

#include <stddef.h>

#define GX_PROTO_MAX 512 /* longer types are not recorded */

/* lookup(ctx, name, len): non-zero if name is an export that still wants a
 * type. found(ctx, name, len, text, old_style): text (NUL-terminated,
 * valid during the call) is its type; old_style is 1 if it is a function
 * declared without a prototype (`()`), which a later prototype replaces. */
typedef struct gx_proto_sink {
    int (*lookup)(void *ctx, const char *name, size_t len);
    void (*found)(void *ctx, const char *name, size_t len, const char *text, int old_style);
    void *ctx;
} gx_proto_sink_t;

/* Returns 0, or NM_ERR_NOMEM. */
int gx_protos_scan(const char *buf, size_t len, const gx_proto_sink_t *sink);

/* If *pp starts a C comment, move *pp past it (to end if unterminated),
 * add the newlines it spans to *line (if line is non-NULL) and return 1;
 * else 0. Shared by both phases' tokenisers. */
static inline int gx_skip_comment(const char **pp, const char *end, unsigned long *line) {
    const char *p = *pp;
    if (p + 1 >= end || p[0] != '/' || (p[1] != '*' && p[1] != '/')) {
        return 0;
    }
    if (p[1] == '/') {
        while (p < end && *p != '\n') {
            p++;
        }
    } else {
        for (p += 2; p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++) {
            if (line && *p == '\n') {
                (*line)++;
            }
        }
        p = p + 1 < end ? p + 2 : end;
    }
    *pp = p;
    return 1;
}

#endif /* NM_GEN_PROTOS_H */
