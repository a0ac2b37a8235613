/*
 * ar archive reader: GNU/SysV format ("!<arch>\n", 60-byte headers, "/"
 * symbol index, "//" long-name table, "/123" names) plus BSD "#1/N" names.
 * The "/" symbol index is handed to the core raw, which uses it to parse
 * only the members it pulls (libc.a has a thousand; a module needs a few).
 * Every header is checked, but names are only located, not copied: a link
 * reads a thousand headers and names the few members it pulls.
 */
#include <string.h>

#include "link/link_internal.h"

#define AR_MAGIC "!<arch>\n"
#define AR_HDR 60

int nml_is_archive(const uint8_t *data, size_t size) {
    return size >= 8 && memcmp(data, AR_MAGIC, 8) == 0;
}

/* Are the n bytes at p all spaces? Header fields are mostly padding:
 * compared a word at a time (two overlapping loads cover 4..16 bytes). */
static int all_spaces(const uint8_t *p, size_t n) {
    uint64_t a, b;
    uint32_t x, y;
    while (n > 16) {
        memcpy(&a, p, 8);
        if (a != 0x2020202020202020ull) {
            return 0;
        }
        p += 8;
        n -= 8;
    }
    if (n >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
        return a == 0x2020202020202020ull && b == 0x2020202020202020ull;
    }
    if (n >= 4) {
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        return x == 0x20202020u && y == 0x20202020u;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ') {
            return 0;
        }
    }
    return 1;
}

/* Parse a right-padded decimal field of n <= 18 bytes (so no overflow);
 * -1 if not a number. Every header has one or two. */
static int64_t ar_num(const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    while (p < end && *p == ' ') {
        p++;
    }
    unsigned d;
    if (p == end || (d = (unsigned)(*p - '0')) > 9) {
        return -1;
    }
    int64_t v = 0;
    do {
        v = v * 10 + d;
    } while (++p < end && (d = (unsigned)(*p - '0')) <= 9);
    return all_spaces(p, (size_t)(end - p)) ? v : -1;
}

/* The length of m's name (name_kind says where it ends). */
static size_t name_len(const nml_member_t *m) {
    const uint8_t *s = m->name;
    size_t k = 0, lim = m->name_max;
    switch (m->name_kind) {
    case NML_AR_NAME_LONG:
        while (k < lim && s[k] != '\n' && s[k] != 0 && !(s[k] == '/' && (k + 1 == lim || s[k + 1] == '\n'))) {
            k++;
        }
        return k;
    case NML_AR_NAME_BSD:
        k = lim;
        while (k > 0 && s[k - 1] == 0) {
            k--;
        }
        return k;
    default:
        k = lim;
        while (k > 0 && s[k - 1] == ' ') {
            k--;
        }
        if (k > 0 && s[k - 1] == '/') {
            k--;
        }
        return k;
    }
}

char *nml_ar_name(nml_arena_t *a, const char *prefix, const nml_member_t *m) {
    size_t n = name_len(m), lp = prefix ? strlen(prefix) : 0;
    size_t extra = prefix ? lp + 2 : 0; /* "prefix(" and ")" */
    char *s = nml_alloc(a, n + extra + 1);
    if (!s) {
        return NULL;
    }
    char *d = s;
    if (prefix) {
        memcpy(d, prefix, lp);
        d[lp] = '(';
        d += lp + 1;
    }
    memcpy(d, m->name, n);
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0 || d[i] == '\n') {
            d[i] = '?';
        }
    }
    if (prefix) {
        d[n] = ')';
    }
    return s;
}

/* Names starting "__.SYMDEF" are BSD symbol indexes, not objects. */
static int is_symdef(const uint8_t *p, size_t n) {
    return n >= 9 && memcmp(p, "__.SYMDEF", 9) == 0;
}

enum { HDR_MEMBER, HDR_INDEX, HDR_NAMES, HDR_OTHER };

/* Decode the header at pos into *m; which kind of entry it is in *kind.
 * The one place header fields are read: nml_ar_parse checks each header
 * with it (e non-NULL), nml_ar_member decodes a checked one again. */
static int decode(const nml_ar_t *ar, size_t pos, nml_member_t *m, int *kind, nml_err_t *e) {
    const char *path = ar->path;
    size_t size = ar->size;
    if (size - pos < AR_HDR) {
        return nml_fail(e, NM_ERR_ARCHIVE, "%s: truncated member header at offset %zu", path, pos);
    }
    const uint8_t *h = ar->data + pos;
    if (h[58] != '`' || h[59] != '\n') {
        return nml_fail(e, NM_ERR_ARCHIVE, "%s: bad member header magic at offset %zu", path, pos);
    }
    int64_t msize = ar_num(h + 48, 10);
    if (msize < 0) {
        return nml_fail(e, NM_ERR_ARCHIVE, "%s: member at offset %zu: size field '%.10s' is not a number", path,
                        pos, (const char *)h + 48);
    }
    size_t body = pos + AR_HDR;
    if ((uint64_t)msize > size - body) {
        return nml_fail(e, NM_ERR_ARCHIVE,
                        "%s: member at offset %zu: size %lld beyond the end of the archive (%zu bytes)", path, pos,
                        (long long)msize, size);
    }
    m->data = ar->data + body;
    m->size = (size_t)msize;
    m->hdr_off = pos;
    m->name = h;
    m->name_max = 16;
    m->name_kind = NML_AR_NAME_SHORT;
    *kind = HDR_MEMBER;
    if (h[0] == '/') {
        if (h[1] == ' ') {
            *kind = HDR_INDEX;
        } else if (h[1] == 'S' && memcmp(h, "/SYM64/ ", 8) == 0) {
            *kind = HDR_OTHER; /* 64-bit index: not used, members are parsed instead */
        } else if (h[1] == '/' && h[2] == ' ') {
            *kind = HDR_NAMES;
        } else if (h[1] >= '0' && h[1] <= '9') {
            int64_t off = ar_num(h + 1, 15);
            if (off < 0 || !ar->longnames || (uint64_t)off >= ar->longnames_size) {
                return nml_fail(e, NM_ERR_ARCHIVE,
                                "%s: member at offset %zu: long name offset '%.15s' outside the name table", path,
                                pos, (const char *)h + 1);
            }
            m->name = ar->longnames + off;
            m->name_max = ar->longnames_size - (size_t)off;
            m->name_kind = NML_AR_NAME_LONG;
        }
    } else if (h[0] == '#' && h[1] == '1' && h[2] == '/') {
        int64_t nl = ar_num(h + 3, 13);
        if (nl < 0 || (uint64_t)nl > m->size) {
            return nml_fail(e, NM_ERR_ARCHIVE, "%s: member at offset %zu: BSD name length '%.13s' invalid", path,
                            pos, (const char *)h + 3);
        }
        m->name = m->data;
        m->name_max = (size_t)nl;
        m->name_kind = NML_AR_NAME_BSD;
        m->data += nl;
        m->size -= (size_t)nl;
        if (is_symdef(m->name, m->name_max)) {
            *kind = HDR_OTHER;
        }
    } else if (h[0] == '_' && is_symdef(h, 16)) {
        *kind = HDR_OTHER;
    }
    return NM_OK;
}

void nml_ar_member(const nml_ar_t *ar, size_t k, nml_member_t *m) {
    int kind = HDR_OTHER;
    memset(m, 0, sizeof(*m));
    decode(ar, ar->off[k], m, &kind, NULL);
}

int nml_ar_parse(nml_ar_t *ar, const char *path, const uint8_t *data, size_t size, nml_arena_t *a, nml_err_t *e) {
    memset(ar, 0, sizeof(*ar));
    ar->path = path;
    ar->data = data;
    ar->size = size;
    if (size >= 8 && memcmp(data, "!<thin>\n", 8) == 0) {
        return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: thin archives not supported", path);
    }
    if (!nml_is_archive(data, size)) {
        return nml_fail(e, NM_ERR_ARCHIVE, "%s: not an ar archive", path);
    }
    /* Grown by doubling: sized for the worst case (a member per 60 bytes)
     * the array would be megabytes of zeroes for libgcc.a. */
    size_t cap = 0;
    size_t pos = 8;
    while (pos < size) {
        nml_member_t m = {0};
        int kind = HDR_OTHER;
        int err = decode(ar, pos, &m, &kind, e);
        if (err) {
            return err;
        }
        if (kind == HDR_INDEX && !ar->map.data) { /* the first one counts */
            ar->map.data = m.data;
            ar->map.size = m.size;
        } else if (kind == HDR_NAMES) {
            ar->longnames = m.data;
            ar->longnames_size = m.size;
        } else if (kind == HDR_MEMBER) {
            if (ar->n == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                size_t *no = nml_alloc_array(a, ncap, sizeof(*no));
                if (!no) {
                    return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", path);
                }
                if (ar->n) {
                    memcpy(no, ar->off, ar->n * sizeof(*no));
                }
                ar->off = no;
                cap = ncap;
            }
            ar->off[ar->n++] = pos;
        }
        /* the next header follows the size field's bytes (a BSD name is
         * part of them) at an even offset; the pad byte may be missing at EOF */
        pos = (size_t)(m.data - data) + m.size;
        if ((pos & 1) && pos < size) {
            pos++;
        }
    }
    if (!ar->off && !(ar->off = nml_alloc(a, sizeof(*ar->off)))) {
        return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", path);
    }
    return NM_OK;
}
