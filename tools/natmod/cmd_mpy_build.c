/* natmod mpy build: what MicroPython's py/dynruntime.mk does, without make
 * or Python: write the config header, compile each source with the arch's
 * flags, then link the objects with libgcc and libm into a .mpy.
 * natmod mpy qstrs: the config header alone, as mpy_ld.py --preprocess
 * writes it. Also reads that header back for the linker. */
#define _GNU_SOURCE /* mkdtemp, realpath, nftw */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_mpy.h"
#include "cli_xtwin.h"
#include "natmod/abi.h"
#include "natmod/mpy.h"

/* The qstr table of a .mpy is indexed by 16-bit values at run time
 * (mp_native_qstr_table is uint16_t[]); entry 0 is the source name. */
#define MPY_MAX_MODULE_QSTRS 65535

/* ---- growing buffers ---- */

/* Text built piece by piece; oom is sticky so callers check once. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
    if (b->oom) {
        return;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + (size_t)k + 1) {
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A list of strings; owned ones are freed with it. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist_t;

static int sl_push(strlist_t *l, char *s) {
    if (!s) {
        return -1;
    }
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            return -1;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
    return 0;
}

static void sl_free(strlist_t *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the config header ---- */

static int is_ident_char(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Every MP_QSTR_name token in a file, as mpy_ld.py finds them: the text
 * after each "MP_QSTR_" up to the first non-identifier character, with
 * no word boundary needed before it (comments and strings count too). */
static int scan_qstrs(const char *path, strlist_t *names) {
    uint8_t *data;
    size_t len;
    if (cli_read_file(path, &data, &len) != NM_OK) {
        return cli_exit_code(NM_ERR_IO);
    }
    static const char tok[] = "MP_QSTR_";
    const size_t tl = sizeof tok - 1;
    int rc = 0;
    for (size_t i = 0; i + tl <= len;) {
        if (memcmp(data + i, tok, tl) != 0) {
            i++;
            continue;
        }
        size_t s = i + tl, e = s;
        while (e < len && is_ident_char(data[e])) {
            e++;
        }
        if (sl_push(names, strndup((const char *)data + s, e - s))) {
            rc = cli_fail(NM_ERR_NOMEM, "out of memory");
            break;
        }
        i = e;
    }
    free(data);
    return rc;
}

/* The static qstr number whose C name is `name`, or 0. */
static unsigned static_qstr_of_cname(const char *name) {
    char buf[64];
    for (unsigned q = 1; q <= NM_MPY_N_STATIC_QSTRS; q++) {
        const char *c = nm_mpy_static_qstr_cname(q, buf, sizeof buf);
        if (c && !strcmp(c, name)) {
            return q;
        }
    }
    return 0;
}

int cli_mpy_write_config(const char *out, const char *const *srcs, size_t n) {
    strlist_t names = {0};
    sbuf_t b = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = scan_qstrs(srcs[i], &names);
    }
    if (rc) {
        goto done;
    }
    if (names.n) {
        qsort(names.v, names.n, sizeof *names.v, cmp_str);
    }
    sb_printf(&b, "#include <stdint.h>\ntypedef uintptr_t mp_off_t;\n");
    /* Every static qstr is defined whether used or not: the firmware has them all. */
    char buf[64];
    for (unsigned q = 1; q <= NM_MPY_N_STATIC_QSTRS; q++) {
        sb_printf(&b, "#define MP_QSTR_%s (%u)\n", nm_mpy_static_qstr_cname(q, buf, sizeof buf), q);
    }
    size_t idx = 0;
    for (size_t i = 0; i < names.n; i++) {
        if ((i > 0 && !strcmp(names.v[i], names.v[i - 1])) || static_qstr_of_cname(names.v[i])) {
            continue;
        }
        if (++idx > MPY_MAX_MODULE_QSTRS) {
            rc = cli_fail(NM_ERR_UNSUPPORTED, "%s: more than %u module qstrs (a .mpy qstr table holds at most that)",
                          out, MPY_MAX_MODULE_QSTRS);
            goto done;
        }
        sb_printf(&b, "#define MP_QSTR_%s (mp_native_qstr_table[%zu])\n", names.v[i], idx);
    }
    sb_printf(&b, "extern const uint16_t mp_native_qstr_table[];\nextern const uintptr_t mp_native_obj_table[];\n");
    if (b.oom) {
        rc = cli_fail(NM_ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = cli_exit_code(cli_write_file(out, (const uint8_t *)b.p, b.n));
done:
    free(b.p);
    sl_free(&names);
    return rc;
}

void cli_mpy_free_names(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++) {
        free(names[i]);
    }
    free(names);
}

/* What a config header line is, for reading it back. */
enum qstr_line { QL_OTHER, QL_STATIC, QL_MODULE, QL_BAD };

static int skip_digits(const char **p, const char *end, unsigned long *v) {
    const char *s = *p;
    *v = 0;
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
        if (*v <= MPY_MAX_MODULE_QSTRS) { /* saturates: any larger value is out of range anyway */
            *v = *v * 10 + (unsigned long)(**p - '0');
        }
    }
    return *p > s;
}

static int take(const char **p, const char *end, const char *lit) {
    size_t l = strlen(lit);
    if ((size_t)(end - *p) < l || memcmp(*p, lit, l) != 0) {
        return 0;
    }
    *p += l;
    return 1;
}

/* Classify [p, end): "#define MP_QSTR_<name> (N)" is QL_STATIC,
 * "#define MP_QSTR_<name> (mp_native_qstr_table[I])" QL_MODULE (name and
 * I returned), another "#define MP_QSTR_" line QL_BAD, anything else QL_OTHER. */
static enum qstr_line classify(const char *p, const char *end, const char **name, size_t *nlen, unsigned long *idx) {
    if (!take(&p, end, "#define MP_QSTR_")) {
        return QL_OTHER;
    }
    *name = p;
    while (p < end && is_ident_char((unsigned char)*p)) {
        p++;
    }
    *nlen = (size_t)(p - *name);
    if (!take(&p, end, " (")) {
        return QL_BAD;
    }
    if (skip_digits(&p, end, idx)) {
        return take(&p, end, ")") && p == end ? QL_STATIC : QL_BAD;
    }
    if (take(&p, end, "mp_native_qstr_table[") && skip_digits(&p, end, idx) && take(&p, end, "])") && p == end) {
        return QL_MODULE;
    }
    return QL_BAD;
}

int cli_mpy_read_config(const char *path, char ***names_out, size_t *n_out) {
    uint8_t *data;
    size_t len;
    *names_out = NULL;
    *n_out = 0;
    if (cli_read_file(path, &data, &len) != NM_OK) {
        return cli_exit_code(NM_ERR_IO);
    }
    strlist_t names = {0};
    int rc = 0;
    const char *p = (const char *)data, *end = p + len;
    for (unsigned line = 1; p < end && !rc; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p && le[-1] == '\r') {
            le--;
        }
        const char *name = NULL;
        size_t nlen = 0;
        unsigned long idx = 0;
        switch (classify(p, le, &name, &nlen, &idx)) {
        case QL_OTHER:
            break;
        case QL_STATIC: { /* the firmware's own: only checked, a header from another version shows here */
            char buf[64];
            const char *c = NULL;
            if (idx >= 1 && idx <= NM_MPY_N_STATIC_QSTRS) {
                c = nm_mpy_static_qstr_cname((unsigned)idx, buf, sizeof buf);
            }
            if (!c || strlen(c) != nlen || memcmp(c, name, nlen) != 0) {
                rc = cli_fail(NM_ERR_VERSION,
                              "%s:%u: MP_QSTR_%.*s (%lu) is not static qstr %lu of .mpy sub-version %d%s%s%s: a header "
                              "for another MicroPython version?",
                              path, line, (int)nlen, name, idx, idx, NM_MPY_SUB_VERSION, c ? " (that is MP_QSTR_" : "",
                              c ? c : "", c ? ")" : "");
            }
            break;
        }
        case QL_BAD:
            rc = cli_fail(NM_ERR_CORRUPT,
                          "%s:%u: not a qstr definition natmod knows (want \"#define MP_QSTR_name (N)\" or "
                          "\"#define MP_QSTR_name (mp_native_qstr_table[i])\")",
                          path, line);
            break;
        case QL_MODULE:
            if (nlen == 0) {
                rc = cli_fail(NM_ERR_CORRUPT, "%s:%u: module qstr with an empty name", path, line);
            } else if (names.n >= MPY_MAX_MODULE_QSTRS) {
                rc = cli_fail(NM_ERR_UNSUPPORTED, "%s:%u: more than %u module qstrs (what a .mpy qstr table holds)",
                              path, line, MPY_MAX_MODULE_QSTRS);
            } else if (idx != names.n + 1) {
                /* mpy_ld.py takes the lines in file order and ignores the
                 * numbers; the compiled code used the numbers: they must agree. */
                rc = cli_fail(NM_ERR_CORRUPT, "%s:%u: MP_QSTR_%.*s has index %s%lu, expected %zu (1, 2, ... in order)",
                              path, line, (int)nlen, name, idx > MPY_MAX_MODULE_QSTRS ? "over " : "",
                              idx > MPY_MAX_MODULE_QSTRS ? (unsigned long)MPY_MAX_MODULE_QSTRS : idx, names.n + 1);
            } else if (sl_push(&names, strndup(name, nlen))) {
                rc = cli_fail(NM_ERR_NOMEM, "out of memory");
            }
            break;
        }
        p = nl ? nl + 1 : end;
    }
    free(data);
    if (rc) {
        sl_free(&names);
        return rc;
    }
    *names_out = names.v;
    *n_out = names.n;
    return 0;
}

/* ---- checking a MicroPython tree ---- */

/* One Python string literal at *pp ('...' or "..."), unescaped into out.
 * Returns 0, or -1 if it is not one (or longer than cap - 1). */
static int py_string(const char **pp, const char *end, char *out, size_t cap) {
    const char *p = *pp;
    size_t n = 0;
    if (p >= end || (*p != '\'' && *p != '"')) {
        return -1;
    }
    char quote = *p++;
    while (p < end && *p != quote) {
        int c = (unsigned char)*p++;
        if (c == '\n') {
            return -1;
        }
        if (c == '\\') {
            if (p >= end) {
                return -1;
            }
            c = (unsigned char)*p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'a': c = '\a'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'v': c = '\v'; break;
            case '\\': case '\'': case '"': break;
            case 'x': {
                int v = 0;
                for (int k = 0; k < 2; k++, p++) {
                    int h = p < end ? *p : 0;
                    int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                                     : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                    if (d < 0) {
                        return -1;
                    }
                    v = v * 16 + d;
                }
                c = v;
                break;
            }
            default:
                if (c >= '0' && c <= '7') {
                    int v = c - '0';
                    for (int k = 0; k < 2 && p < end && *p >= '0' && *p <= '7'; k++) {
                        v = v * 8 + (*p++ - '0');
                    }
                    c = v & 0xff;
                } else {
                    return -1; /* \N{...}, \u: not in a qstr list */
                }
            }
        }
        if (n + 1 >= cap) {
            return -1;
        }
        out[n++] = (char)c;
    }
    if (p >= end) {
        return -1;
    }
    out[n] = 0;
    *pp = p + 1;
    return 0;
}

/* s quoted for a message, control characters as \\xNN. */
static const char *show_str(const char *s, char *buf, size_t n) {
    size_t o = 0;
    buf[o++] = '"';
    for (; *s && o + 6 < n; s++) {
        unsigned char c = (unsigned char)*s;
        o += (size_t)(c < 0x20 || c == 0x7f ? snprintf(buf + o, n - o, "\\x%02x", c) : (buf[o] = (char)c, 1));
    }
    buf[o++] = '"';
    buf[o] = 0;
    return buf;
}

/* Does the tree's py/makeqstrdata.py list the same static qstrs, in the same
 * order, as natmod's table? A .mpy stores static qstrs by number, so a
 * different list means natmod would write numbers that firmware reads as
 * other names. Also compares MPY_VERSION/MPY_SUB_VERSION when it finds them. */
static int check_mpy_dir(const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/py/makeqstrdata.py", dir);
    if (access(path, R_OK) != 0) {
        return cli_fail(NM_ERR_INVAL, "--mpy-dir %s: no py/makeqstrdata.py there: not a MicroPython tree", dir);
    }
    uint8_t *data;
    size_t len;
    if (cli_read_file(path, &data, &len) != NM_OK) {
        return cli_exit_code(NM_ERR_IO);
    }
    int rc = 0;
    const char *s = (const char *)data, *end = s + len, *p = NULL;
    static const char key[] = "\nstatic_qstr_list = [";
    for (const char *q = s; q + sizeof key - 1 <= end; q++) {
        if (!memcmp(q, key, sizeof key - 1)) {
            p = q + sizeof key - 1;
            break;
        }
    }
    if (!p) {
        rc = cli_fail(NM_ERR_VERSION,
                      "MicroPython tree %s: no static_qstr_list in py/makeqstrdata.py: cannot check its static qstrs",
                      dir);
        goto done;
    }
    unsigned i = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')) {
            p++;
        }
        if (p < end && *p == '#') {
            while (p < end && *p != '\n') {
                p++;
            }
            continue;
        }
        if (p < end && *p == ']') {
            break;
        }
        char str[128];
        if (py_string(&p, end, str, sizeof str)) {
            rc = cli_fail(NM_ERR_VERSION,
                          "MicroPython tree %s: cannot read entry %u of static_qstr_list in py/makeqstrdata.py", dir, i);
            goto done;
        }
        if (i >= NM_MPY_N_STATIC_QSTRS || strcmp(str, nm_mpy_static_qstrs[i])) {
            char theirs[96], ours[96];
            rc = cli_fail(NM_ERR_VERSION,
                          "MicroPython tree %s: its static qstrs differ from natmod's (.mpy sub-version %d table) at "
                          "index %u (qstr %u): %s there, %s in natmod; that tree makes a different .mpy version",
                          dir, NM_MPY_SUB_VERSION, i, i + 1, show_str(str, theirs, sizeof theirs),
                          i < NM_MPY_N_STATIC_QSTRS ? show_str(nm_mpy_static_qstrs[i], ours, sizeof ours) : "nothing");
            goto done;
        }
        i++;
    }
    if (i != NM_MPY_N_STATIC_QSTRS) {
        rc = cli_fail(NM_ERR_VERSION,
                      "MicroPython tree %s: its static qstrs differ from natmod's (.mpy sub-version %d table) at index "
                      "%u: the list ends there, natmod's has %u; that tree makes a different .mpy version",
                      dir, NM_MPY_SUB_VERSION, i, NM_MPY_N_STATIC_QSTRS);
        goto done;
    }
    free(data);
    data = NULL;
    /* The version numbers, if py/persistentcode.h is where they have been. */
    snprintf(path, sizeof path, "%s/py/persistentcode.h", dir);
    if (access(path, R_OK) == 0 && cli_read_file(path, &data, &len) == NM_OK) {
        s = (const char *)data;
        end = s + len;
        const char *names[2] = {"\n#define MPY_VERSION ", "\n#define MPY_SUB_VERSION "};
        const int want[2] = {NM_MPY_VERSION, NM_MPY_SUB_VERSION};
        for (int k = 0; k < 2; k++) {
            size_t kl = strlen(names[k]);
            for (const char *q = s; q + kl < end; q++) {
                if (!memcmp(q, names[k], kl)) {
                    int v = atoi(q + kl);
                    if (v != want[k]) {
                        rc = cli_fail(NM_ERR_VERSION,
                                      "MicroPython tree %s makes .mpy %s %d; natmod writes version %d.%d",
                                      dir, k ? "sub-version" : "version", v, NM_MPY_VERSION, NM_MPY_SUB_VERSION);
                        goto done;
                    }
                    break;
                }
            }
        }
    }
done:
    free(data);
    return rc;
}

/* ---- natmod mpy qstrs ---- */

static void qstrs_help(void) {
    puts("usage: natmod mpy qstrs [-o OUT.config.h] [--mpy-dir DIR] SOURCES...\n"
         "\n"
         "Write the config header a dynamic native module is compiled with (what\n"
         "mpy_ld.py --preprocess writes): every static qstr as its number, every\n"
         "other MP_QSTR_name the sources use as an entry of mp_native_qstr_table.\n"
         "\n"
         "  -o FILE        output (default: the first source with .c replaced by .config.h)\n"
         "  --mpy-dir DIR  check that MicroPython tree's static qstrs match natmod's");
}

int cmd_mpy_qstrs(int argc, char **argv) {
    const char *out = NULL, *mpy_dir = NULL;
    const char **srcs = calloc((size_t)argc + 1, sizeof *srcs);
    size_t n = 0;
    char *defout = NULL;
    int rc = 0;
    if (!srcs) {
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            qstrs_help();
            goto done;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_optarg(argc, argv, &i))) {
                rc = cli_exit_code(NM_ERR_INVAL);
                goto done;
            }
        } else if (!strcmp(a, "--mpy-dir")) {
            if (!(mpy_dir = cli_optarg(argc, argv, &i))) {
                rc = cli_exit_code(NM_ERR_INVAL);
                goto done;
            }
        } else if (a[0] == '-' && a[1]) {
            rc = cli_fail(NM_ERR_INVAL, "mpy qstrs: unknown option '%s' (see natmod mpy qstrs --help)", a);
            goto done;
        } else {
            srcs[n++] = a;
        }
    }
    if (!n) {
        rc = cli_fail(NM_ERR_INVAL, "mpy qstrs: no sources (see natmod mpy qstrs --help)");
        goto done;
    }
    if (mpy_dir && (rc = check_mpy_dir(mpy_dir))) {
        goto done;
    }
    if (!out) {
        size_t l = strlen(srcs[0]);
        if (!cli_has_suffix(srcs[0], ".c") || !(defout = malloc(l + 8))) {
            rc = cli_fail(NM_ERR_INVAL, "mpy qstrs: %s is no .c file: pass -o OUT.config.h", srcs[0]);
            goto done;
        }
        memcpy(defout, srcs[0], l - 1);
        memcpy(defout + l - 1, "config.h", 9);
        out = defout;
    }
    rc = cli_mpy_write_config(out, srcs, n);
done:
    free(defout);
    free(srcs);
    return rc;
}

/* ---- natmod mpy build ---- */

/* The compiler and flags per arch, as py/dynruntime.mk has them (the archs
 * natmod's .mpy linker handles; x86 it does not build). RISC-V: gcc with
 * picolibc (its only C library in Debian), whose libc.a holds libm.
 * xtensawin: clang-22 (Debian has no windowed gcc), see cli_xtwin.h. */
struct mpy_arch {
    const char *name;
    uint8_t arch;
    const char *cc;     /* default compiler (dynruntime.mk's $(CROSS)gcc) */
    const char *cc_env; /* environment variable that overrides it */
    const char *flags[5];
    const char *float_impl;
};

static const struct mpy_arch mpy_archs[] = {
    {"x64", NM_ARCH_X64, "x86_64-linux-gnu-gcc", "NATMOD_CC_X64", {"-fno-stack-protector", NULL}, "DOUBLE"},
    {"armv6m", NM_ARCH_ARMV6M, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mthumb", "-mcpu=cortex-m0", NULL}, "FLOAT"},
    {"armv7m", NM_ARCH_ARMV7M, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mthumb", "-mcpu=cortex-m3", NULL}, "FLOAT"},
    {"armv7emsp", NM_ARCH_ARMV7EMSP, "arm-none-eabi-gcc", "NATMOD_CC_ARM",
     {"-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", NULL}, "FLOAT"},
    {"armv7emdp", NM_ARCH_ARMV7EMDP, "arm-none-eabi-gcc", "NATMOD_CC_ARM",
     {"-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard", NULL}, "DOUBLE"},
    {"rv32imc", NM_ARCH_RV32IMC, "riscv64-unknown-elf-gcc", "NATMOD_CC_RV32",
     {"-march=rv32imac", "-mabi=ilp32", "-mno-relax", NULL}, "NONE"},
    {"rv64imc", NM_ARCH_RV64IMC, "riscv64-unknown-elf-gcc", "NATMOD_CC_RV64",
     {"-march=rv64imac", "-mabi=lp64", "-mno-relax", NULL}, "NONE"},
    /* dynruntime.mk: CROSS = xtensa-lx106-elf-, -mforce-l32, MICROPY_FLOAT_IMPL none */
    {"xtensa", NM_ARCH_XTENSA, "xtensa-lx106-elf-gcc", "NATMOD_CC_XTENSA", {"-mforce-l32", NULL}, "NONE"},
    /* dynruntime.mk: CROSS = xtensa-esp32-elf-, no flags; natmod: clang-22 with
     * cli_xtwin_cc_flags in place of -fpic (a gcc given with --cc gets
     * dynruntime.mk's flags as they are) */
    {"xtensawin", NM_ARCH_XTENSAWIN, "clang-22", "NATMOD_CC_XTENSAWIN", {NULL}, "FLOAT"},
};
#define RV_GCC "riscv64-unknown-elf-gcc"
#define RV_PICOLIBC "/usr/lib/picolibc/riscv64-unknown-elf"

static int is_rv(const struct mpy_arch *a) {
    return a->arch == NM_ARCH_RV32IMC || a->arch == NM_ARCH_RV64IMC;
}

#define N_MPY_ARCHS (sizeof mpy_archs / sizeof mpy_archs[0])

static const struct mpy_arch *find_arch(const char *name) {
    if (!strcmp(name, "x86_64")) {
        name = "x64";
    }
    for (size_t i = 0; i < N_MPY_ARCHS; i++) {
        if (!strcmp(mpy_archs[i].name, name)) {
            return &mpy_archs[i];
        }
    }
    return NULL;
}

/* Append the whitespace-separated words of s (no quoting). */
static int push_words(strlist_t *l, const char *s) {
    while (*s) {
        size_t sp = strspn(s, " \t\n");
        s += sp;
        size_t w = strcspn(s, " \t\n");
        if (w && sl_push(l, strndup(s, w))) {
            return -1;
        }
        s += w;
    }
    return 0;
}

static int push_all(strlist_t *l, const char *const *v) {
    for (; *v; v++) {
        if (sl_push(l, strdup(*v))) {
            return -1;
        }
    }
    return 0;
}

/* Run argv: cli_spawn's result (0, the exit status, or -1). */
static int run(const strlist_t *a, int verbose, char *capture, size_t cap_len) {
    return cli_spawn(a->v, verbose, capture, cap_len);
}

static int is_archive(const char *path) {
    FILE *f = fopen(path, "rb");
    char magic[8] = {0};
    int ok = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, "!<arch>\n", 8);
    if (f) {
        fclose(f);
    }
    return ok;
}

/* The archives a GNU ld script names in GROUP ( ... ) or INPUT ( ... ), as
 * glibc's libm.a is on x86-64 ("GROUP ( libm-2.36.a libmvec.a )"): absolute
 * paths to ar archives only; anything else in it is ignored. */
static int push_script_archives(strlist_t *inputs, const char *path, int verbose) {
    uint8_t *data;
    size_t len;
    if (cli_read_file(path, &data, &len) != NM_OK) {
        return cli_exit_code(NM_ERR_IO);
    }
    int rc = 0, depth = 0;
    for (size_t i = 0; i < len && !rc;) {
        char c = (char)data[i];
        if (c == '/' && i + 1 < len && data[i + 1] == '*') {
            const char *e = NULL;
            for (size_t j = i + 2; j + 1 < len && !e; j++) {
                e = (data[j] == '*' && data[j + 1] == '/') ? (const char *)data + j + 2 : NULL;
            }
            i = e ? (size_t)(e - (const char *)data) : len;
        } else if (c == '(' || c == ')') {
            depth += c == '(' ? 1 : -1;
            i++;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
            i++;
        } else {
            size_t j = i;
            while (j < len && !strchr(" \t\r\n,()", data[j])) {
                j++;
            }
            if (depth > 0 && c == '/') {
                char *lib = strndup((const char *)data + i, j - i);
                if (!lib) {
                    rc = cli_fail(NM_ERR_NOMEM, "out of memory");
                } else if (is_archive(lib)) {
                    if (verbose) {
                        fprintf(stderr, "natmod: mpy build: %s names %s\n", path, lib);
                    }
                    rc = sl_push(inputs, lib) ? cli_fail(NM_ERR_NOMEM, "out of memory") : 0;
                } else {
                    free(lib);
                }
            }
            i = j;
        }
    }
    free(data);
    return rc;
}

int cli_mpy_script_archives(const char *path, char ***out, size_t *n) {
    strlist_t l = {0};
    int rc = push_script_archives(&l, path, 0);
    if (rc) {
        sl_free(&l);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

/* Add the library the compiler knows for these arch flags (query is
 * -print-libgcc-file-name or -print-file-name=libm.a), if it has one: gcc
 * echoes the bare name back when it does not. A linker script in its place
 * (glibc's libm.a) contributes the archives it names. */
static int push_lib(strlist_t *inputs, const strlist_t *cc_arch, const char *query, int verbose) {
    strlist_t a = {0};
    char out[PATH_MAX], real[PATH_MAX];
    int rc = 0;
    if (push_all(&a, (const char *const *)cc_arch->v) || sl_push(&a, strdup(query))) {
        rc = cli_fail(NM_ERR_NOMEM, "out of memory");
    } else if (run(&a, verbose, out, sizeof out) == 0 && out[0] == '/' && realpath(out, real)) {
        if (is_archive(real)) {
            rc = sl_push(inputs, strdup(real)) ? cli_fail(NM_ERR_NOMEM, "out of memory") : 0;
        } else {
            rc = push_script_archives(inputs, real, verbose);
        }
    }
    sl_free(&a);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The base name of path without its extension. */
static char *stem(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *bn = slash ? slash + 1 : path;
    const char *dot = strrchr(bn, '.');
    return strndup(bn, dot && dot != bn ? (size_t)(dot - bn) : strlen(bn));
}

static void build_help(void) {
    puts("usage: natmod mpy build --arch ARCH (--mpy-dir DIR | --no-mpy-dir) [options] SOURCES...\n"
         "\n"
         "Build a MicroPython native module (.mpy) the way py/dynruntime.mk does, without\n"
         "make or Python: write BUILD/MOD.config.h (the module's qstrs), compile each .c\n"
         "and .S source with dynruntime.mk's flags for the arch, and link the objects with\n"
         "the compiler's libgcc and libm (members pulled only when needed).\n"
         ".o and .a arguments go to the linker as they are. .py sources are not supported.\n"
         "\n"
         "  --arch ARCH        x64, armv6m, armv7m, armv7emsp, armv7emdp, rv32imc, rv64imc, xtensa,\n"
         "                     xtensawin (clang-22, through assembly)\n"
         "  --mpy-dir DIR      the MicroPython tree (adds -I DIR; its static qstrs are checked)\n"
         "  --no-mpy-dir       no MicroPython tree: the -I options provide py/dynruntime.h\n"
         "  -o FILE            output (default: MOD.mpy)\n"
         "  --name MOD         module name (default: the first source's base name)\n"
         "  -I DIR, -D DEF     passed to the compiler\n"
         "  --cflags \"FLAGS\"   more compiler flags (split at spaces)\n"
         "  --float-impl IMPL  none, float or double (default dynruntime.mk's: double on x64, armv7emdp;\n"
         "                     float on armv6m, armv7m, armv7emsp, xtensawin; none on RISC-V, xtensa)\n"
         "  --cc COMPILER      compiler (default: dynruntime.mk's, clang-22 on xtensawin, or $NATMOD_CC_X64 /\n"
         "                     _ARM / _RV32 / _RV64 / _XTENSA / _XTENSAWIN); on RISC-V a clang gets\n"
         "                     --target and picolibc's headers\n"
         "  --arch-flags F     rv32imc: the extensions the code uses (zba,zcmp or a number)\n"
         "  -l LIB.a           an archive to link (members pulled on demand)\n"
         "  --firmware FW.elf  firmware ELF: its symbols may be used at their addresses\n"
         "  --externs FILE     linker-script symbol file (sym = 0xADDR;), as mpy_ld.py --externs\n"
         "  --build-dir DIR    where the header and objects go (default: a temporary directory)\n"
         "  --keep             keep the temporary build directory (its path is printed)\n"
         "  --no-gc            keep sections mpy_init does not reach\n"
         "  -v                 print the commands");
}

int cmd_mpy_build(int argc, char **argv) {
    const char *arch_name = NULL, *mpy_dir = NULL, *out = NULL, *name = NULL, *cc = NULL;
    const char *float_impl = NULL, *firmware = NULL, *externs = NULL, *build_dir = NULL, *arch_flags = NULL;
    int no_mpy_dir = 0, keep = 0, verbose = 0, gc = 1, rc = 0;
    strlist_t user = {0};   /* -I, -D, --cflags words, in order */
    strlist_t srcs = {0};   /* .c/.S sources */
    strlist_t inputs = {0}; /* link inputs: objects, then user .o/.a, then libraries */
    strlist_t extra = {0};  /* user .o/.a and -l archives */
    strlist_t base = {0}, cc_arch = {0}, cmd = {0};
    strlist_t rv_extra = {0}, libq = {0}; /* RISC-V: picolibc flags; the library queries' argv */
    char *mod = NULL, *defout = NULL, *config = NULL, tmpdir[PATH_MAX] = "", bdir[PATH_MAX] = "";
#define NEED_ARG(var)                                                                                                 \
    do {                                                                                                              \
        if (!((var) = cli_optarg(argc, argv, &i))) {                                                                  \
            rc = cli_exit_code(NM_ERR_INVAL);                                                                         \
            goto done;                                                                                                \
        }                                                                                                             \
    } while (0)
#define OOM()                                                                                                         \
    do {                                                                                                              \
        rc = cli_fail(NM_ERR_NOMEM, "out of memory");                                                                 \
        goto done;                                                                                                    \
    } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            build_help();
            goto done;
        } else if (!strcmp(a, "--arch")) {
            NEED_ARG(arch_name);
        } else if (!strcmp(a, "--mpy-dir")) {
            NEED_ARG(mpy_dir);
        } else if (!strcmp(a, "--no-mpy-dir")) {
            no_mpy_dir = 1;
        } else if (!strcmp(a, "-o")) {
            NEED_ARG(out);
        } else if (!strcmp(a, "--name")) {
            NEED_ARG(name);
        } else if (!strcmp(a, "--cc")) {
            NEED_ARG(cc);
        } else if (!strcmp(a, "--float-impl")) {
            NEED_ARG(float_impl);
        } else if (!strcmp(a, "--arch-flags")) {
            NEED_ARG(arch_flags);
        } else if (!strcmp(a, "--firmware")) {
            NEED_ARG(firmware);
        } else if (!strcmp(a, "--externs")) {
            NEED_ARG(externs);
        } else if (!strcmp(a, "--build-dir")) {
            NEED_ARG(build_dir);
        } else if (!strcmp(a, "--keep")) {
            keep = 1;
        } else if (!strcmp(a, "--no-gc")) {
            gc = 0;
        } else if (!strcmp(a, "-v")) {
            verbose = 1;
        } else if (!strcmp(a, "--cflags")) {
            NEED_ARG(v);
            if (push_words(&user, v)) {
                OOM();
            }
        } else if ((!strncmp(a, "-I", 2) || !strncmp(a, "-D", 2)) && a[2]) {
            if (sl_push(&user, strdup(a))) {
                OOM();
            }
        } else if (!strcmp(a, "-I") || !strcmp(a, "-D")) {
            NEED_ARG(v);
            if (sl_push(&user, strdup(a)) || sl_push(&user, strdup(v))) {
                OOM();
            }
        } else if (!strcmp(a, "-l") || (!strncmp(a, "-l", 2) && a[2])) {
            if (!a[2]) {
                NEED_ARG(v);
            } else {
                v = a + 2;
            }
            if (sl_push(&extra, strdup(v))) {
                OOM();
            }
        } else if (a[0] == '-' && a[1]) {
            rc = cli_fail(NM_ERR_INVAL, "mpy build: unknown option '%s' (see natmod mpy build --help)", a);
            goto done;
        } else if (cli_has_suffix(a, ".o") || cli_has_suffix(a, ".a")) {
            if (sl_push(&extra, strdup(a))) {
                OOM();
            }
        } else if (cli_has_suffix(a, ".c") || cli_has_suffix(a, ".S") || cli_has_suffix(a, ".s")) {
            if (sl_push(&srcs, strdup(a))) {
                OOM();
            }
        } else if (cli_has_suffix(a, ".py")) {
            rc = cli_fail(NM_ERR_UNSUPPORTED,
                          "mpy build: %s: Python sources are not supported (compile them with mpy-cross and "
                          "merge the .mpy files with mpy-tool.py --merge)",
                          a);
            goto done;
        } else {
            rc = cli_fail(NM_ERR_INVAL, "mpy build: %s: not a .c, .S, .o or .a file", a);
            goto done;
        }
    }
#undef NEED_ARG
    if (!arch_name) {
        rc = cli_fail(NM_ERR_INVAL,
                      "mpy build: --arch is required (x64, armv6m, armv7m, armv7emsp, armv7emdp, rv32imc, rv64imc, xtensa, "
                      "xtensawin)");
        goto done;
    }
    const struct mpy_arch *arch = find_arch(arch_name);
    if (!arch) {
        static const char *const later[] = {"x86"};
        int known = 0;
        for (size_t k = 0; k < sizeof later / sizeof later[0]; k++) {
            known |= !strcmp(arch_name, later[k]);
        }
        rc = cli_fail(known ? NM_ERR_UNSUPPORTED : NM_ERR_INVAL,
                      "mpy build: %s arch '%s' (x64, armv6m, armv7m, armv7emsp, armv7emdp, rv32imc, rv64imc, xtensa, "
                      "xtensawin)",
                      known ? "natmod cannot build .mpy files for" : "unknown", arch_name);
        goto done;
    }
    uint32_t flags = 0;
    if (arch_flags && (rc = cli_mpy_parse_arch_flags(arch_flags, arch->arch, &flags))) {
        goto done;
    }
    if (!mpy_dir && !no_mpy_dir) {
        rc = cli_fail(NM_ERR_INVAL, "mpy build: --mpy-dir DIR (the MicroPython tree) is required (or --no-mpy-dir "
                                    "with -I for py/dynruntime.h)");
        goto done;
    }
    if (mpy_dir && no_mpy_dir) {
        rc = cli_fail(NM_ERR_INVAL, "mpy build: --mpy-dir and --no-mpy-dir exclude each other");
        goto done;
    }
    if (!srcs.n) {
        rc = cli_fail(NM_ERR_INVAL, "mpy build: no .c or .S sources (see natmod mpy build --help)");
        goto done;
    }
    if (float_impl && strcmp(float_impl, "none") && strcmp(float_impl, "float") && strcmp(float_impl, "double")) {
        rc = cli_fail(NM_ERR_INVAL, "mpy build: --float-impl must be none, float or double, not '%s'", float_impl);
        goto done;
    }
    if (mpy_dir && (rc = check_mpy_dir(mpy_dir))) {
        goto done;
    }
    if (!(mod = name ? strdup(name) : stem(srcs.v[0]))) {
        OOM();
    }
    if (!mod[0] || strchr(mod, '/')) {
        rc = cli_fail(NM_ERR_INVAL, "mpy build: bad module name '%s'", mod);
        goto done;
    }
    if (!out) {
        if (!(defout = malloc(strlen(mod) + 5))) {
            OOM();
        }
        sprintf(defout, "%s.mpy", mod);
        out = defout;
    }

    /* The build directory: the user's (kept), or a temporary one. */
    if (build_dir) {
        if (cli_mkdir_p(build_dir) != 0) {
            rc = cli_fail(NM_ERR_IO, "mpy build: cannot make %s: %s", build_dir, strerror(errno));
            goto done;
        }
        if (!realpath(build_dir, bdir)) {
            rc = cli_fail(NM_ERR_IO, "mpy build: %s: %s", build_dir, strerror(errno));
            goto done;
        }
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/natmod-mpy-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = 0;
            rc = cli_fail(NM_ERR_IO, "mpy build: cannot make a temporary directory: %s", strerror(errno));
            goto done;
        }
        if (!realpath(tmpdir, bdir)) {
            rc = cli_fail(NM_ERR_IO, "mpy build: %s: %s", tmpdir, strerror(errno));
            goto done;
        }
    }
    if (asprintf(&config, "%s/%s.config.h", bdir, mod) < 0) {
        config = NULL;
        OOM();
    }
    if ((rc = cli_mpy_write_config(config, (const char *const *)srcs.v, srcs.n))) {
        goto done;
    }

    /* The compiler with the arch flags (also used for library queries, so
     * gcc picks the multilib that matches), then dynruntime.mk's CFLAGS. */
    if (!cc) {
        cc = getenv(arch->cc_env);
        cc = cc && *cc ? cc : arch->cc;
    }
    int rv = is_rv(arch), clang = cli_is_clang(cc);
    int xtwin = arch->arch == NM_ARCH_XTENSAWIN && clang;
    const char *rv_target = arch->arch == NM_ARCH_RV64IMC ? "--target=riscv64-unknown-elf" : "--target=riscv32-unknown-elf";
    if (push_words(&cc_arch, cc) || (rv && clang && sl_push(&cc_arch, strdup(rv_target))) ||
        push_all(&cc_arch, arch->flags)) {
        OOM();
    }
    if (!cc_arch.n) {
        rc = cli_fail(NM_ERR_INVAL, "mpy build: --cc is empty");
        goto done;
    }
    /* RISC-V: picolibc's headers (gcc: through its specs, as dynruntime.mk
     * does; clang: -isystem), and its libraries asked of gcc */
    const char *picolibc = getenv("NATMOD_PICOLIBC_RV");
    picolibc = picolibc && *picolibc ? picolibc : RV_PICOLIBC;
    if (rv && !clang && sl_push(&rv_extra, strdup("--specs=picolibc.specs"))) {
        OOM();
    }
    if (rv && clang) {
        char *inc = NULL;
        if (asprintf(&inc, "%s/include", picolibc) < 0 || sl_push(&rv_extra, strdup("-isystem")) ||
            sl_push(&rv_extra, inc)) {
            OOM();
        }
    }
    if (rv && clang ? (sl_push(&libq, strdup(RV_GCC)) || push_all(&libq, arch->flags))
                    : push_all(&libq, (const char *const *)cc_arch.v)) {
        OOM();
    }
    char *mpy_inc = NULL, *cfg_def = NULL, *float_def = NULL;
    char fi[8];
    snprintf(fi, sizeof fi, "%s", float_impl ? float_impl : arch->float_impl);
    for (char *s = fi; *s; s++) {
        *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
    }
    if (asprintf(&cfg_def, "-DMP_CONFIGFILE=<%s>", config) < 0 ||
        asprintf(&float_def, "-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_%s", fi) < 0 ||
        (mpy_dir && asprintf(&mpy_inc, "-I%s", mpy_dir) < 0)) {
        free(cfg_def);
        free(float_def);
        OOM();
    }
    static const char *const cflags[] = {"-std=c99", "-Os", "-Wall", "-Werror", "-DNDEBUG", "-DNO_QSTR",
                                         "-DMICROPY_ENABLE_DYNRUNTIME", NULL};
    static const char *const arch_common[] = {"-fpic", "-fno-common", "-U_FORTIFY_SOURCE", NULL};
    /* clang 22 refuses -fpic for Xtensa ("PIC relocations are not
     * supported"); it means nothing there: code reaches every address
     * through a literal word the .mpy relocates (gcc's -fpic only marks
     * call targets' words R_XTENSA_PLT) */
    static const char *const gc_flags[] = {"-ffunction-sections", "-fdata-sections", NULL};
    /* dynruntime.mk's order: CFLAGS, then CFLAGS_ARCH, then the float impl */
    if (push_words(&base, cc) || sl_push(&base, strdup("-I.")) || (mpy_inc && sl_push(&base, mpy_inc)) ||
        push_all(&base, cflags) || sl_push(&base, cfg_def) || push_all(&base, arch_common + xtwin) ||
        (rv && clang && sl_push(&base, strdup(rv_target))) || push_all(&base, arch->flags) ||
        (rv_extra.n && push_all(&base, (const char *const *)rv_extra.v)) ||
        (xtwin && push_all(&base, cli_xtwin_cc_flags)) || sl_push(&base, float_def) ||
        push_all(&base, gc_flags)) {
        OOM();
    }
    for (size_t k = 0; k < user.n; k++) {
        if (sl_push(&base, strdup(user.v[k]))) {
            OOM();
        }
    }
    /* natmod's own headers last (after the user's -I): "natmod/mpy_fw.h" */
    char *nm_inc = NULL;
    if (asprintf(&nm_inc, "-I%s", cli_include_dir()) < 0 || sl_push(&base, nm_inc)) {
        OOM();
    }

    /* As the link does: a failed build leaves no output, not even an older one. */
    remove(out);
    for (size_t k = 0; k < srcs.n; k++) {
        char *st = stem(srcs.v[k]), *obj = NULL;
        int dup = 0;
        for (size_t j = 0; st && j < k; j++) {
            char *o = stem(srcs.v[j]);
            dup |= o && !strcmp(o, st);
            free(o);
        }
        int bad = !st || (dup ? asprintf(&obj, "%s/%s.%zu.o", bdir, st, k) : asprintf(&obj, "%s/%s.o", bdir, st)) < 0;
        free(st);
        if (bad) {
            OOM();
        }
        sl_free(&cmd);
        if (xtwin) {
            /* through assembly: OBJ.s and OBJ.x.s beside OBJ.o (cli_xtwin.h) */
            if (sl_push(&inputs, obj)) {
                OOM();
            }
            size_t ol = strlen(obj) - 2; /* without ".o" */
            char *as1 = malloc(ol + 3), *as2 = malloc(ol + 5);
            if (!as1 || !as2) {
                free(as1);
                free(as2);
                OOM();
            }
            snprintf(as1, ol + 3, "%.*s.s", (int)ol, obj);
            snprintf(as2, ol + 5, "%.*s.x.s", (int)ol, obj);
            rc = cli_xtwin_compile("mpy build", base.v, srcs.v[k], as1, as2, obj, verbose);
            free(as1);
            free(as2);
            if (rc) {
                goto done;
            }
            continue;
        }
        if (push_all(&cmd, (const char *const *)base.v) || sl_push(&cmd, strdup("-o")) || sl_push(&cmd, strdup(obj)) ||
            sl_push(&cmd, strdup("-c")) || sl_push(&cmd, strdup(srcs.v[k])) || sl_push(&inputs, obj)) {
            OOM();
        }
        int st_run = run(&cmd, verbose, NULL, 0);
        if (st_run == 127 || st_run < 0) {
            rc = cli_fail(NM_ERR_IO, "mpy build: cannot run %s: install it or pass --cc", cmd.v[0]);
            goto done;
        }
        if (st_run) {
            rc = cli_fail(NM_ERR_IO, "mpy build: compiling %s for %s failed (%s exit %d)", srcs.v[k], arch->name,
                          cmd.v[0], st_run);
            goto done;
        }
    }
    for (size_t k = 0; k < extra.n; k++) {
        if (sl_push(&inputs, strdup(extra.v[k]))) {
            OOM();
        }
    }
    /* libgcc and libm last: the linker pulls a member only for a symbol still
     * undefined, so offering them costs nothing when they are not needed. */
    const char *queries[2] = {"-print-libgcc-file-name", "-print-file-name=libm.a"};
    /* none for xtensawin with clang: clang has no Xtensa builtins library,
     * and lx106's libgcc is call0 code */
    for (int q = 0; q < (xtwin ? 0 : 2); q++) {
        if (rv && q == 1) {
            /* picolibc's libc.a (which holds libm), in its multilib directory:
             * gcc 12 does not search the specs' directories for -print-file-name */
            strlist_t a = {0};
            char dir[PATH_MAX] = "", *lib = NULL;
            if (push_all(&a, (const char *const *)libq.v) || sl_push(&a, strdup("-print-multi-directory"))) {
                sl_free(&a);
                OOM();
            }
            int st_run = run(&a, verbose, dir, sizeof dir);
            sl_free(&a);
            if (st_run == 0 && dir[0] && asprintf(&lib, "%s/lib/%s/libc.a", picolibc, dir) >= 0) {
                if (is_archive(lib)) {
                    if (sl_push(&inputs, lib)) {
                        OOM();
                    }
                } else {
                    fprintf(stderr, "natmod: mpy build: warning: no picolibc libc.a at %s\n", lib);
                    free(lib);
                }
            }
            continue;
        }
        if ((rc = push_lib(&inputs, &libq, queries[q], verbose))) {
            goto done;
        }
    }

    cli_mpy_link_t link;
    memset(&link, 0, sizeof link);
    link.arch = arch->arch;
    link.output = out;
    link.qstrs_path = config;
    link.inputs = (const char *const *)inputs.v;
    link.n_inputs = inputs.n;
    link.firmware = firmware;
    link.externs = externs;
    link.gc = gc;
    link.verbose = verbose;
    link.arch_flags = flags;
    rc = cli_mpy_link(&link);
    if (!rc && keep && tmpdir[0]) {
        printf("build directory: %s\n", tmpdir);
    }
done:
    if (tmpdir[0] && !keep) {
        nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    sl_free(&user);
    sl_free(&srcs);
    sl_free(&inputs);
    sl_free(&extra);
    sl_free(&base);
    sl_free(&cc_arch);
    sl_free(&cmd);
    sl_free(&rv_extra);
    sl_free(&libq);
    free(mod);
    free(defout);
    free(config);
    return rc;
#undef OOM
}
