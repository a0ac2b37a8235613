/*
 * The firmware export build step (nm-gen-exports), run as the build runs it.
 *
 *   test_gen_exports GEN CC INCLUDE_DIR
 *
 * GEN is the nm-gen-exports program, CC the C compiler (to preprocess marker
 * sources and to compile the generated table with -Werror), INCLUDE_DIR the
 * natmod include folder (natmod/export.h is there).
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "natmod/abi.h"
#include "natmod/error.h"
#include "test.h"

static const char *gen, *cc, *inc_dir;
static char tmp[256];

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Whole file as a malloc'd string ("" if missing). */
static char *read_file(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    if (f && buf) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
    }
    if (f) {
        fclose(f);
    }
    return buf;
}

static int exists(const char *name) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return stat(path, &st) == 0;
}

/* Run a shell command in tmp; returns its exit status (-1 if it died). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "cd '%s' && ", tmp);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + k, sizeof cmd - (size_t)k, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* Generate from one preprocessed text; returns the exit status. */
static int gen_from(const char *pp_text, const char *extra_opts) {
    write_file("in.i", pp_text);
    return run("'%s' %s -o out.c -s out.syms in.i 2>err.txt", gen, extra_opts);
}

static void gen_exports_sorts_by_hash_and_writes_symbol_list(void) {
    const char *names[] = {"hal_print", "memcpy", "zeta", "alpha", "b", "strlen"};
    char pp[2048] = "# 1 \"fw.c\"\n";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "extern const char nm_fw_export__%s[1];\n", names[i]);
        strcat(pp, line);
    }
    CHECK_EQ(gen_from(pp, ""), 0);
    char *syms = read_file("out.syms");
    CHECK(syms[0] == '#');
    /* Every non-comment line is `name 0xHASH`, hashes strictly ascending,
     * and each name appears with its nm_hash. */
    unsigned count = 0;
    uint32_t prev = 0;
    for (char *line = strtok(syms, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            continue;
        }
        char name[64];
        unsigned h;
        CHECK_EQ(sscanf(line, "%63s 0x%8x", name, &h), 2);
        CHECK_EQ(h, nm_hash(name));
        char again[128];
        snprintf(again, sizeof again, "%s 0x%08x", name, h);
        CHECK(!strcmp(again, line)); /* exactly that format, 8 hex digits */
        CHECK(count == 0 || h > prev);
        prev = h;
        count++;
    }
    CHECK_EQ(count, 6);
    free(syms);

    char *c = read_file("out.c");
    CHECK_STR_CONTAINS(c, "const nm_export_t nm_fw_exports[] = {");
    CHECK_STR_CONTAINS(c, "const size_t nm_fw_n_exports = 6;");
    char want[128];
    /* No declaration in the input: the type is unknown (0, NULL). */
    snprintf(want, sizeof want, "{0x%08xu, \"memcpy\", nm_fwx_memcpy, 0, NULL}", nm_hash("memcpy"));
    CHECK_STR_CONTAINS(c, want);
    /* Table order is hash order too. */
    const char *prev_pos = c;
    uint32_t last = 0;
    for (const char *p = strstr(c, "{0x"); p; p = strstr(p + 1, "{0x")) {
        unsigned h = (unsigned)strtoul(p + 1, NULL, 16);
        CHECK(p == prev_pos || h > last || last == 0);
        last = h;
        prev_pos = p;
    }
    free(c);
}

static void gen_exports_ignores_strings_and_dedupes_names(void) {
    const char *pp = "# 1 \"a.c\"\n"
                     "extern const char nm_fw_export__foo[1];\n"
                     "const char *s = \"nm_fw_export__in_string\";\n"
                     "char c = 'x'; int nm_fw_export_not_marker;\n"
                     "# 1 \"b.c\"\n"
                     "extern const char nm_fw_export__foo[1];\n"
                     "extern const char nm_fw_export__bar[1];\n";
    CHECK_EQ(gen_from(pp, ""), 0);
    char *syms = read_file("out.syms");
    CHECK_STR_CONTAINS(syms, "foo 0x");
    CHECK_STR_CONTAINS(syms, "bar 0x");
    CHECK(!strstr(syms, "in_string"));
    CHECK(!strstr(syms, "not_marker"));
    const char *first = strstr(syms, "\nfoo 0x");
    CHECK(first && !strstr(first + 1, "\nfoo 0x")); /* exported twice, listed once */
    CHECK_STR_CONTAINS(syms, "# 2 symbols");
    free(syms);
}

/* Two different names with the same 32-bit FNV-1a hash, found by brute
 * force. Enumerating names in order ("c0", "c1", ...) finds none: FNV-1a's
 * structure keeps such near-identical names apart. Pseudo-random 9-letter
 * names do collide at the birthday rate (2^18 of them give ~8 pairs), and a
 * fixed seed keeps the test deterministic. */
typedef struct {
    uint32_t h;
    uint32_t i;
} hi_t;

static int hi_cmp(const void *a, const void *b) {
    const hi_t *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h ? 1 : (x->i > y->i) - (x->i < y->i);
}

static void name_of(uint32_t i, char *out) {
    uint64_t s = (uint64_t)i * 0x9E3779B97F4A7C15ull + 1;
    s ^= s >> 31;
    s *= 0xBF58476D1CE4E5B9ull;
    s ^= s >> 29;
    out[0] = 'n';
    for (int k = 1; k < 9; k++) {
        out[k] = (char)('a' + s % 26);
        s /= 26;
    }
    out[9] = '\0';
}

static int find_collision(char *a, char *b) {
    enum { N = 1 << 18 };
    hi_t *v = malloc(N * sizeof *v);
    if (!v) {
        return 0;
    }
    char name[16];
    for (uint32_t i = 0; i < N; i++) {
        name_of(i, name);
        v[i].h = nm_hash(name);
        v[i].i = i;
    }
    qsort(v, N, sizeof *v, hi_cmp);
    int found = 0;
    for (uint32_t k = 1; k < N && !found; k++) {
        if (v[k].h == v[k - 1].h) {
            name_of(v[k - 1].i, a);
            name_of(v[k].i, b);
            found = 1;
        }
    }
    free(v);
    return found;
}

static void gen_exports_fails_on_hash_collision_naming_both(void) {
    char a[16], b[16];
    CHECK(find_collision(a, b));
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ(nm_hash(a), nm_hash(b));
    printf("  colliding pair: %s %s -> 0x%08x\n", a, b, (unsigned)nm_hash(a));

    char pp[512];
    snprintf(pp, sizeof pp,
             "# 1 \"fw_one.c\"\nextern const char nm_fw_export__hal_print[1];\n"
             "\nextern const char nm_fw_export__%s[1];\n"
             "# 40 \"fw_two.c\"\nextern const char nm_fw_export__%s[1];\n",
             a, b);
    /* A stale table from an earlier good run must not survive the failure. */
    write_file("out.c", "stale");
    write_file("out.syms", "stale");
    CHECK_EQ(gen_from(pp, ""), -NM_ERR_DUP);
    char *err = read_file("err.txt");
    fprintf(stderr, "  (expected) %s", err);
    CHECK_STR_CONTAINS(err, "hash collision");
    CHECK_STR_CONTAINS(err, a);
    CHECK_STR_CONTAINS(err, b);
    CHECK_STR_CONTAINS(err, "fw_one.c:3");
    CHECK_STR_CONTAINS(err, "fw_two.c:40");
    free(err);
    CHECK(!exists("out.c"));
    CHECK(!exists("out.syms"));
}

static void gen_exports_hash_bits_option_forces_collisions(void) {
    /* With 2-bit hashes, 5 names cannot all differ. */
    const char *pp = "extern const char nm_fw_export__n1[1];\nextern const char nm_fw_export__n2[1];\n"
                     "extern const char nm_fw_export__n3[1];\nextern const char nm_fw_export__n4[1];\n"
                     "extern const char nm_fw_export__n5[1];\n";
    CHECK_EQ(gen_from(pp, "--hash-bits 2"), -NM_ERR_DUP);
    char *err = read_file("err.txt");
    CHECK_STR_CONTAINS(err, "hash collision");
    free(err);
    CHECK_EQ(gen_from(pp, "--hash-bits 0"), -NM_ERR_INVAL);
    CHECK_EQ(gen_from(pp, "--hash-bits 32"), 0);
}

/* The real pipeline: NM_FW_EXPORT through `cc -E`, #if respected, the
 * generated table compiles with -Wall -Wextra -Werror even for names that
 * are compiler builtins (memcpy, printf, malloc), and links. */
static void gen_exports_pipeline_respects_if_and_compiles_clean(void) {
    write_file("fw.c", "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
                       "#include \"natmod/export.h\"\n"
                       "int board_thing(int x) { return x + 1; }\n"
                       "int board_data[4];\n"
                       "NM_FW_EXPORT(board_thing);\nNM_FW_EXPORT(board_data);\n"
                       "NM_FW_EXPORT(memcpy);\nNM_FW_EXPORT(printf);\nNM_FW_EXPORT(malloc);\n"
                       "#if 0\nNM_FW_EXPORT(not_exported);\n#endif\n"
                       "#ifdef NOPE\nNM_FW_EXPORT(nor_this);\n#endif\n");
    CHECK_EQ(run("'%s' -std=c11 -I'%s' -Wall -Wextra -Werror -c fw.c -o fw.o 2>err.txt", cc,
                 inc_dir), 0);
    CHECK_EQ(run("'%s' -std=c11 -I'%s' -E fw.c -o fw.i", cc, inc_dir), 0);
    CHECK_EQ(run("'%s' -o tab.c -s tab.syms fw.i 2>err.txt", gen), 0);
    char *syms = read_file("tab.syms");
    CHECK_STR_CONTAINS(syms, "board_thing 0x");
    CHECK_STR_CONTAINS(syms, "board_data 0x");
    CHECK_STR_CONTAINS(syms, "memcpy 0x");
    CHECK(!strstr(syms, "not_exported"));
    CHECK(!strstr(syms, "nor_this"));
    CHECK_STR_CONTAINS(syms, "# 5 symbols");
    free(syms);
    CHECK_EQ(run("'%s' -std=c11 -I'%s' -Wall -Wextra -Werror -pedantic -c tab.c -o tab.o 2>err.txt",
                 cc, inc_dir), 0);
    char *err = read_file("err.txt");
    if (err[0]) {
        fprintf(stderr, "%s", err);
    }
    free(err);
    /* Link: the table's addresses are the real symbols. */
    write_file("main.c", "#include <stdio.h>\n#include <string.h>\n#include \"natmod/loader.h\"\n"
                         "extern const nm_export_t nm_fw_exports[]; extern const size_t nm_fw_n_exports;\n"
                         "int board_thing(int); extern int board_data[4];\n"
                         "int main(void) { int ok = 0;\n"
                         " for (size_t i = 0; i < nm_fw_n_exports; i++) {\n"
                         "  const nm_export_t *e = &nm_fw_exports[i];\n"
                         "  if (!strcmp(e->name, \"memcpy\")) ok += e->addr == (const void *)memcpy;\n"
                         "  if (!strcmp(e->name, \"board_thing\")) ok += e->addr == (const void *)board_thing;\n"
                         "  if (!strcmp(e->name, \"board_data\")) ok += e->addr == (const void *)board_data;\n"
                         " }\n return ok == 3 ? 0 : 1; }\n");
    CHECK_EQ(run("'%s' -std=c11 -I'%s' -w main.c tab.o fw.o -o tabtest 2>err.txt && ./tabtest", cc,
                 inc_dir), 0);
}

/* The syms line of name, or "" (points into syms). */
static const char *syms_line(char *syms, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = syms; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, name, n) && p[n] == ' ') {
            size_t k = strcspn(p, "\n");
            k = k < cap - 1 ? k : cap - 1;
            memcpy(out, p, k);
            out[k] = '\0';
            break;
        }
    }
    return out;
}

/* Each export's normalised prototype and its hash, in the symbol list and
 * the table: parameter names, storage classes, attributes and asm labels
 * dropped, typedef names kept, spacing normalised; data gets its type. */
static void gen_exports_records_normalised_prototypes(void) {
    write_file("hal.h", "#include <stddef.h>\n#include <stdint.h>\n"
                        "typedef struct regs { volatile uint32_t cr; } regs_t;\n"
                        "extern int   hal_i2c_write( uint8_t addr ,const void*buf, size_t len )\n"
                        "    __attribute__((nonnull(2)));\n"
                        "void hal_timer(uint32_t ms, void (*cb)(void *ctx), void *ctx);\n"
                        "static inline int hal_inl(int x) { return x; }\n"
                        "regs_t *hal_regs(unsigned n);\n"
                        "extern volatile uint32_t hal_tick;\n"
                        "extern const uint8_t hal_table[16];\n"
                        "int hal_old();\n"
                        "int hal_fmt(const char *fmt, ...) __asm__(\"hal_fmt\");\n"
                        "struct ops { int (*hal_nope)(int); };\n");
    write_file("fw.c", "#include \"hal.h\"\n#include <string.h>\n#include \"natmod/export.h\"\n"
                       "int hal_i2c_write(uint8_t a, const void *b, size_t n) { (void)a; (void)b; return (int)n; }\n"
                       "int hal_old(int unused) { return unused; }\n"
                       "NM_FW_EXPORT(hal_i2c_write);\nNM_FW_EXPORT(hal_timer);\nNM_FW_EXPORT(hal_inl);\n"
                       "NM_FW_EXPORT(hal_regs);\nNM_FW_EXPORT(hal_tick);\nNM_FW_EXPORT(hal_table);\n"
                       "NM_FW_EXPORT(hal_old);\nNM_FW_EXPORT(hal_fmt);\nNM_FW_EXPORT(memcpy);\n");
    CHECK_EQ(run("'%s' -std=c11 -I'%s' -E fw.c -o fw.i", cc, inc_dir), 0);
    CHECK_EQ(run("'%s' -o tab.c -s tab.syms fw.i 2>err.txt", gen), 0);
    char *syms = read_file("tab.syms");
    static const struct {
        const char *name, *proto;
    } want[] = {
        {"hal_i2c_write", "int (uint8_t, const void *, size_t)"},
        {"hal_timer", "void (uint32_t, void (*)(void *), void *)"},
        {"hal_inl", "int (int)"},
        {"hal_regs", "regs_t *(unsigned)"},
        {"hal_tick", "volatile uint32_t"},
        {"hal_table", "const uint8_t [16]"},
        {"hal_old", "int (int)"}, /* the prototype of the definition replaces `()` */
        {"hal_fmt", "int (const char *, ...)"},
    };
    char line[512], expect[512];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(expect, sizeof expect, "%s 0x%08x 0x%08x %s", want[i].name, nm_hash(want[i].name),
                 nm_hash(want[i].proto), want[i].proto);
        syms_line(syms, want[i].name, line, sizeof line);
        if (strcmp(line, expect) != 0) {
            fprintf(stderr, "  want: %s\n  got:  %s\n", expect, line);
        }
        CHECK(!strcmp(line, expect));
    }
    /* glibc's memcpy, whatever its attributes: the text has no parameter names. */
    syms_line(syms, "memcpy", line, sizeof line);
    CHECK_STR_CONTAINS(line, "void *(void *");
    CHECK(!strstr(line, "__dest") && !strstr(line, "__attribute__"));
    CHECK(!strstr(syms, "hal_nope"));
    free(syms);
    char *c = read_file("tab.c");
    snprintf(expect, sizeof expect, "nm_fwx_hal_i2c_write, 0x%08xu, \"int (uint8_t, const void *, size_t)\"}",
             nm_hash("int (uint8_t, const void *, size_t)"));
    CHECK_STR_CONTAINS(c, expect);
    free(c);
    char *err = read_file("err.txt");
    CHECK(!strstr(err, "warning")); /* every export's declaration was read */
    free(err);
    CHECK_EQ(run("'%s' -std=c11 -I'%s' -Wall -Wextra -Werror -pedantic -c tab.c -o tab.o 2>err.txt",
                 cc, inc_dir), 0);

    /* An export declared in a way the scanner cannot see: no type, a warning. */
    CHECK_EQ(gen_from("extern const char nm_fw_export__ghost[1];\n", ""), 0);
    syms = read_file("out.syms");
    syms_line(syms, "ghost", line, sizeof line);
    snprintf(expect, sizeof expect, "ghost 0x%08x", nm_hash("ghost"));
    CHECK(!strcmp(line, expect));
    free(syms);
    err = read_file("err.txt");
    CHECK_STR_CONTAINS(err, "warning");
    CHECK_STR_CONTAINS(err, "ghost");
    free(err);
}

static void gen_exports_marker_of_undeclared_symbol_does_not_compile(void) {
    write_file("typo.c", "#include \"natmod/export.h\"\nNM_FW_EXPORT(hal_prnit);\n");
    CHECK(run("'%s' -std=c11 -I'%s' -c typo.c -o typo.o 2>/dev/null", cc, inc_dir) != 0);
}

static void gen_exports_reports_missing_input(void) {
    CHECK_EQ(run("'%s' -o x.c -s x.syms does_not_exist.i 2>err.txt", gen), -NM_ERR_IO);
    char *err = read_file("err.txt");
    CHECK_STR_CONTAINS(err, "does_not_exist.i");
    free(err);
    CHECK(!exists("x.c"));
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s GEN CC INCLUDE_DIR\n", argv[0]);
        return 2;
    }
    static char gen_abs[4096];
    if (!realpath(argv[1], gen_abs)) {
        perror(argv[1]);
        return 2;
    }
    gen = gen_abs;
    cc = argv[2];
    inc_dir = argv[3];
    snprintf(tmp, sizeof tmp, "/tmp/nm_gen_exports.XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(gen_exports_sorts_by_hash_and_writes_symbol_list);
    RUN(gen_exports_ignores_strings_and_dedupes_names);
    RUN(gen_exports_fails_on_hash_collision_naming_both);
    RUN(gen_exports_hash_bits_option_forces_collisions);
    RUN(gen_exports_pipeline_respects_if_and_compiles_clean);
    RUN(gen_exports_records_normalised_prototypes);
    RUN(gen_exports_marker_of_undeclared_symbol_does_not_compile);
    RUN(gen_exports_reports_missing_input);
    int rc = TEST_DONE();
    if (!rc) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmp);
        }
    } else {
        fprintf(stderr, "files kept in %s\n", tmp);
    }
    return rc;
}
