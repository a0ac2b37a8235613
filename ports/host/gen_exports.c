/*
 * nm-gen-exports: the firmware export build step (host program, board-neutral).
 *
 *   nm-gen-exports -o EXPORTS.c -s BOARD.syms [--hash-bits N] FILE.i...
 *
 * Reads preprocessed C sources (`cc -E` output, line markers kept), collects
 * every name marked with NM_FW_EXPORT (the token `nm_fw_export__<name>`, see
 * natmod/export.h), hashes each with nm_hash, sorts by hash and writes:
 *   - EXPORTS.c: `const nm_export_t nm_fw_exports[]` sorted by ascending hash
 *     and `const size_t nm_fw_n_exports`;
 *   - BOARD.syms: one `name 0xHASH` per line after a `#` header, for the linker;
 *     `name 0xHASH 0xTYPE PROTOTYPE` for an export whose type is known.
 *
 * Each export's type (docs/format.md 2.3) is read from the first file-scope
 * declaration of its name in the sources (gen_protos.c): the normalised
 * prototype text, e.g. `int (uint8_t, const void *, size_t)`, and its
 * nm_hash, the type hash. Both go into the table and the symbol list, so
 * the linker can record in a module what it was linked against and the
 * loader can refuse it after a firmware update changed that prototype.
 * An export with no declaration the scanner can read has type hash 0
 * (unchecked) and a warning says so.
 *
 * Rules:
 *   - the same name exported more than once (two sources, or a header seen by
 *     several sources) is kept once, silently: exporting is idempotent;
 *   - two different names with the same hash fail the build (exit NM_ERR_DUP
 *     as a positive status) with a message naming both names and where each
 *     was exported; the loader's binary search needs unique hashes;
 *   - on any failure no output file is left behind, so a stale table can never
 *     be linked after a failed run.
 * --hash-bits N (1..32) keeps only the low N hash bits. It exists to test the
 * collision path; a table made with it does not work with the loader.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_protos.h"
#include "natmod/abi.h"
#include "natmod/error.h"

#define PREFIX "nm_fw_export__"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define MAX_NAME 255
#define MAX_FILE 480
#define MAX_WHERE (MAX_FILE + 32)

typedef struct gx_entry {
    char *name;
    char *where; /* "file:line" of the first marker seen */
    uint32_t hash;
    unsigned order; /* discovery order, to keep the first location on dedupe */
    char *proto;        /* normalised type text, NULL until a declaration is found */
    int proto_old_style; /* proto came from a `()` declaration: a prototype replaces it */
} gx_entry_t;

typedef struct gx_list {
    gx_entry_t *v;
    size_t n, cap;
} gx_list_t;

static const char *prog = "nm-gen-exports";

static void gx_error(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static char *gx_strndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int gx_add(gx_list_t *l, const char *name, size_t len, const char *file, unsigned long line,
                  uint32_t mask) {
    if (len > MAX_NAME) {
        gx_error("%s:%lu: exported name too long (%zu > %d characters)", file, line, len, MAX_NAME);
        return NM_ERR_INVAL;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        gx_entry_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            return NM_ERR_NOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    char where[MAX_WHERE];
    snprintf(where, sizeof where, "%s:%lu", file, line);
    gx_entry_t *e = &l->v[l->n];
    e->name = gx_strndup(name, len);
    e->where = gx_strndup(where, strlen(where));
    if (!e->name || !e->where) {
        free(e->name);
        free(e->where);
        return NM_ERR_NOMEM;
    }
    e->hash = nm_hash(e->name) & mask;
    e->order = (unsigned)l->n;
    e->proto = NULL;
    e->proto_old_style = 0;
    l->n++;
    return NM_OK;
}

static int is_ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(int c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Parse a line marker `# 12 "file" flags` (or `#line 12 "file"`) starting at
 * p (just after the '#'). Updates *line (the number of the NEXT line) and
 * file. Other directives (#pragma, #ident) are ignored. */
static void gx_line_marker(const char *p, const char *end, unsigned long *line, char *file,
                           size_t file_cap) {
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (end - p >= 4 && !memcmp(p, "line", 4)) {
        p += 4;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
    }
    if (p >= end || *p < '0' || *p > '9') {
        return;
    }
    unsigned long n = 0;
    while (p < end && *p >= '0' && *p <= '9' && n < 100000000ul) {
        n = n * 10 + (unsigned long)(*p - '0');
        p++;
    }
    /* The marker names the line that follows; the scanner counts the
     * marker's own newline, so store n - 1. */
    *line = n ? n - 1 : 0;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p < end && *p == '"') {
        p++;
        size_t k = 0;
        while (p < end && *p != '"' && *p != '\n' && k + 1 < file_cap) {
            if (*p == '\\' && p + 1 < end) {
                p++;
            }
            file[k++] = *p++;
        }
        file[k] = '\0';
    }
}

/* Scan one preprocessed file for markers. Skips string and character
 * literals, comments (in case -C was used) and pp-numbers, so only real
 * identifiers count. */
static int gx_scan(gx_list_t *l, const char *path, const char *buf, size_t len, uint32_t mask) {
    const char *p = buf, *end = buf + len;
    unsigned long line = 1;
    char file[MAX_FILE];
    int at_line_start = 1;
    snprintf(file, sizeof file, "%s", path);

    while (p < end) {
        char c = *p;
        if (c == '\n') {
            line++;
            at_line_start = 1;
            p++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            p++;
            continue;
        }
        if (c == '#' && at_line_start) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) {
                eol = end;
            }
            gx_line_marker(p + 1, eol, &line, file, sizeof file);
            p = eol;
            continue;
        }
        at_line_start = 0;
        if (c == '"' || c == '\'') {
            p++;
            while (p < end && *p != c && *p != '\n') {
                p += (*p == '\\' && p + 1 < end) ? 2 : 1;
            }
            if (p < end && *p == c) {
                p++;
            }
            continue;
        }
        if (gx_skip_comment(&p, end, &line)) {
            continue;
        }
        if (c >= '0' && c <= '9') {
            while (p < end && (is_ident(*p) || *p == '.')) {
                p++;
            }
            continue;
        }
        if (is_ident_start(c)) {
            const char *s = p;
            while (p < end && is_ident(*p)) {
                p++;
            }
            size_t n = (size_t)(p - s);
            if (n > PREFIX_LEN && !memcmp(s, PREFIX, PREFIX_LEN)) {
                int err = gx_add(l, s + PREFIX_LEN, n - PREFIX_LEN, file, line, mask);
                if (err) {
                    return err;
                }
            }
            continue;
        }
        p++;
    }
    return NM_OK;
}

static int gx_read(const char *path, char **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        gx_error("%s: cannot open: %s", path, strerror(errno));
        return NM_ERR_IO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        gx_error("%s: read failed", path);
        return NM_ERR_IO;
    }
    *out = buf;
    *out_len = n;
    return NM_OK;
}

static int gx_cmp(const void *a, const void *b) {
    const gx_entry_t *x = a, *y = b;
    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    int c = strcmp(x->name, y->name);
    if (c) {
        return c;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sort by (hash, name), drop repeated names, report every collision. */
static int gx_finish(gx_list_t *l) {
    qsort(l->v, l->n, sizeof l->v[0], gx_cmp);
    size_t w = 0;
    for (size_t r = 0; r < l->n; r++) {
        if (w && !strcmp(l->v[w - 1].name, l->v[r].name)) {
            free(l->v[r].name);
            free(l->v[r].where);
            free(l->v[r].proto);
            continue;
        }
        l->v[w++] = l->v[r];
    }
    l->n = w;
    int collisions = 0;
    for (size_t i = 1; i < l->n; i++) {
        if (l->v[i].hash == l->v[i - 1].hash) {
            gx_error("hash collision: `%s` (%s) and `%s` (%s) both hash to 0x%08x; "
                     "rename one of them (the export table needs unique hashes)",
                     l->v[i - 1].name, l->v[i - 1].where, l->v[i].name, l->v[i].where,
                     (unsigned)l->v[i].hash);
            collisions++;
        }
    }
    return collisions ? NM_ERR_DUP : NM_OK;
}

/* ---- export types (gen_protos.c finds the declarations) ---- */

typedef struct gx_types {
    gx_list_t *l;
    uint32_t mask;
    int nomem;
} gx_types_t;

/* The entry called name[0..len) in the sorted, deduplicated list, or NULL. */
static gx_entry_t *gx_find(const gx_types_t *t, const char *name, size_t len) {
    char buf[MAX_NAME + 1];
    if (len > MAX_NAME) {
        return NULL;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    uint32_t h = nm_hash(buf) & t->mask;
    size_t lo = 0, hi = t->l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->l->v[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo; i < t->l->n && t->l->v[i].hash == h; i++) {
        if (!strcmp(t->l->v[i].name, buf)) {
            return &t->l->v[i];
        }
    }
    return NULL;
}

static int gx_type_wanted(void *ctx, const char *name, size_t len) {
    gx_entry_t *e = gx_find(ctx, name, len);
    return e && (!e->proto || e->proto_old_style);
}

/* The first declaration wins, except that a prototype replaces a `()` one. */
static void gx_type_found(void *ctx, const char *name, size_t len, const char *text, int old_style) {
    gx_types_t *t = ctx;
    gx_entry_t *e = gx_find(t, name, len);
    if (!e || (e->proto && (old_style || !e->proto_old_style))) {
        return;
    }
    char *p = gx_strndup(text, strlen(text));
    if (!p) {
        t->nomem = 1;
        return;
    }
    free(e->proto);
    e->proto = p;
    e->proto_old_style = old_style;
}

static int gx_types(gx_list_t *l, char **bufs, size_t *lens, int nfiles, uint32_t mask) {
    gx_types_t t = {l, mask, 0};
    gx_proto_sink_t sink = {gx_type_wanted, gx_type_found, &t};
    for (int i = 0; i < nfiles; i++) {
        if (gx_protos_scan(bufs[i], lens[i], &sink) != NM_OK || t.nomem) {
            gx_error("out of memory");
            return NM_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i].proto) {
            fprintf(stderr, "%s: warning: %s: no declaration of `%s` read; its type is not recorded "
                            "(modules importing it are not type-checked)\n",
                    prog, l->v[i].where, l->v[i].name);
        }
    }
    return NM_OK;
}

static uint32_t gx_type_hash(const gx_entry_t *e) {
    return e->proto ? nm_hash(e->proto) : 0;
}

/* proto as a C string literal's contents. */
static void gx_put_c_string(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        fputc(*s, f);
    }
}

static int gx_write_c(FILE *f, const gx_list_t *l, int nfiles, unsigned bits) {
    fprintf(f, "/* Generated by nm-gen-exports from %d preprocessed source(s). Do not edit.\n"
               " * The firmware export table: %zu symbol(s) sorted by nm_hash (FNV-1a).", nfiles,
            l->n);
    if (bits < 32) {
        fprintf(f, "\n * TEST TABLE: hashes truncated to %u bits, not usable by the loader.", bits);
    }
    fprintf(f, " */\n#include <stddef.h>\n\n#include \"natmod/loader.h\"\n\n"
               "/* Each symbol is declared under a private name bound to the real one with\n"
               " * an asm label, so no declaration here clashes with the symbol's real type\n"
               " * (or a compiler builtin such as memcpy). Only its address is used. */\n"
               "#define NMX_STR2(x) #x\n#define NMX_STR(x) NMX_STR2(x)\n"
               "#define NMX_SYM(s) __asm__(NMX_STR(__USER_LABEL_PREFIX__) #s)\n\n");
    for (size_t i = 0; i < l->n; i++) {
        fprintf(f, "extern const char nm_fwx_%s[] NMX_SYM(%s);\n", l->v[i].name, l->v[i].name);
    }
    fprintf(f, "\nconst nm_export_t nm_fw_exports[] = {\n");
    for (size_t i = 0; i < l->n; i++) {
        const gx_entry_t *e = &l->v[i];
        fprintf(f, "    {0x%08xu, \"%s\", nm_fwx_%s, ", (unsigned)e->hash, e->name, e->name);
        if (e->proto) {
            fprintf(f, "0x%08xu, \"", (unsigned)gx_type_hash(e));
            gx_put_c_string(f, e->proto);
            fprintf(f, "\"},\n");
        } else {
            fprintf(f, "0, NULL},\n");
        }
    }
    if (!l->n) {
        /* C has no empty arrays; the count stays 0. */
        fprintf(f, "    {0, NULL, NULL, 0, NULL},\n");
    }
    fprintf(f, "};\n\nconst size_t nm_fw_n_exports = %zu;\n", l->n);
    return ferror(f) ? NM_ERR_IO : NM_OK;
}

static int gx_write_syms(FILE *f, const gx_list_t *l, unsigned bits) {
    fprintf(f, "# natmod firmware symbol list (nm-gen-exports): one `name 0xHASH` per line,\n"
               "# sorted by hash; hash = nm_hash(name), 32-bit FNV-1a. A known type follows:\n"
               "# `name 0xHASH 0xTYPE PROTOTYPE`, TYPE = nm_hash(PROTOTYPE) (docs/format.md 2.3).\n");
    if (bits < 32) {
        fprintf(f, "# TEST LIST: hashes truncated to %u bits.\n", bits);
    }
    fprintf(f, "# %zu symbols\n", l->n);
    for (size_t i = 0; i < l->n; i++) {
        const gx_entry_t *e = &l->v[i];
        if (e->proto) {
            fprintf(f, "%s 0x%08x 0x%08x %s\n", e->name, (unsigned)e->hash, (unsigned)gx_type_hash(e),
                    e->proto);
        } else {
            fprintf(f, "%s 0x%08x\n", e->name, (unsigned)e->hash);
        }
    }
    return ferror(f) ? NM_ERR_IO : NM_OK;
}

/* Write through a temporary file and rename, so a reader never sees half a file. */
static int gx_emit(const char *path, int (*fn)(FILE *, const gx_list_t *, int, unsigned),
                   const gx_list_t *l, int nfiles, unsigned bits) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        gx_error("%s: path too long", path);
        return NM_ERR_INVAL;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        gx_error("%s: cannot create: %s", tmp, strerror(errno));
        return NM_ERR_IO;
    }
    int err = fn(f, l, nfiles, bits);
    if (fclose(f) != 0 && !err) {
        err = NM_ERR_IO;
    }
    if (!err && rename(tmp, path) != 0) {
        err = NM_ERR_IO;
    }
    if (err) {
        gx_error("%s: write failed", path);
        remove(tmp);
    }
    return err;
}

static int gx_write_c_adapter(FILE *f, const gx_list_t *l, int nfiles, unsigned bits) {
    return gx_write_c(f, l, nfiles, bits);
}

static int gx_write_syms_adapter(FILE *f, const gx_list_t *l, int nfiles, unsigned bits) {
    (void)nfiles;
    return gx_write_syms(f, l, bits);
}

static void usage(FILE *f) {
    fprintf(f, "usage: %s -o EXPORTS.c -s BOARD.syms [--hash-bits N] FILE.i...\n"
               "  Collects NM_FW_EXPORT(name) markers from preprocessed sources and writes\n"
               "  the firmware export table (sorted by nm_hash) and the symbol list.\n"
               "  Fails (status %d) on a hash collision, naming both symbols.\n",
            prog, -NM_ERR_DUP);
}

int main(int argc, char **argv) {
    const char *out_c = NULL, *out_syms = NULL;
    unsigned bits = 32;
    int first_file = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out_c = argv[++i];
        } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            out_syms = argv[++i];
        } else if (!strcmp(argv[i], "--hash-bits") && i + 1 < argc) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 1 || v > 32) {
                gx_error("--hash-bits wants 1..32, got `%s`", argv[i]);
                return -NM_ERR_INVAL;
            }
            bits = (unsigned)v;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            gx_error("unknown option `%s`", argv[i]);
            usage(stderr);
            return -NM_ERR_INVAL;
        } else {
            first_file = i;
            break;
        }
    }
    if (!first_file || (!out_c && !out_syms)) {
        usage(stderr);
        return -NM_ERR_INVAL;
    }
    /* No output survives a failed run (a stale table must not be linked). */
    if (out_c) {
        remove(out_c);
    }
    if (out_syms) {
        remove(out_syms);
    }

    uint32_t mask = bits == 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u);
    gx_list_t l = {0};
    int err = NM_OK;
    int nfiles = 0;
    /* The sources stay in memory: the types are read once the export list is known. */
    char **bufs = calloc((size_t)argc, sizeof *bufs);
    size_t *lens = calloc((size_t)argc, sizeof *lens);
    if (!bufs || !lens) {
        err = NM_ERR_NOMEM;
    }
    for (int i = first_file; i < argc && !err; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            gx_error("options must come before the input files (`%s`)", argv[i]);
            err = NM_ERR_INVAL;
            break;
        }
        err = gx_read(argv[i], &bufs[nfiles], &lens[nfiles]);
        if (!err) {
            err = gx_scan(&l, argv[i], bufs[nfiles], lens[nfiles], mask);
            nfiles++;
        }
    }
    if (err == NM_ERR_NOMEM) {
        gx_error("out of memory");
    }
    if (!err) {
        err = gx_finish(&l);
    }
    if (!err) {
        err = gx_types(&l, bufs, lens, nfiles, mask);
    }
    for (int i = 0; bufs && i < nfiles; i++) {
        free(bufs[i]);
    }
    free(bufs);
    free(lens);
    if (!err && out_c) {
        err = gx_emit(out_c, gx_write_c_adapter, &l, nfiles, bits);
    }
    if (!err && out_syms) {
        err = gx_emit(out_syms, gx_write_syms_adapter, &l, nfiles, bits);
        if (err && out_c) {
            remove(out_c);
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.v[i].name);
        free(l.v[i].where);
        free(l.v[i].proto);
    }
    free(l.v);
    return err ? -err : 0;
}
