/*
 * The firmware ABI check (docs/format.md 2.3), end to end: nm-gen-exports
 * makes two export tables from abi_fw.h, version 1 and version 2 (which
 * changed hal_i2c_write's prototype and kept its name); natmod build links
 * modules against version 1's symbol list; this program holds both tables
 * and loads the modules against each.
 *
 *   test_abi DIR NATMOD SRC_DIR INCLUDE_DIR
 *
 * DIR holds the modules the build made: abi_mod.nmod and abi_mod_add.nmod
 * (linked against v1.syms), abi_mod_untyped.nmod (linked against v1.syms
 * with the type fields cut off, as an older list has them), and v1.syms.
 * NATMOD, SRC_DIR and INCLUDE_DIR serve the symbol-list parsing checks.
 */
#define _DEFAULT_SOURCE /* mkdtemp, MAP_ANONYMOUS under -std=c11 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../loader/host_mem.h"
#include "../test.h"
#include "abi_fw.h"
#include "format/writer.h"
#include "natmod/loader.h"

/* The two generated tables, compiled in under their own names. */
extern const nm_export_t abi_v1_exports[];
extern const size_t abi_v1_n_exports;
extern const nm_export_t abi_v2_exports[];
extern const size_t abi_v2_n_exports;

/* The firmware's side, version 1 (both tables point at it: only the
 * recorded types differ). */
static int i2c_calls;
int hal_i2c_write(uint8_t addr, const void *buf, size_t len) {
    const uint8_t *b = buf;
    i2c_calls++;
    return addr == 0x42 && len && b[len - 1] == len ? (int)len : -1;
}
int hal_add(int a, int b) {
    return a + b;
}
volatile uint32_t hal_scale = 10;

static const char *dir, *natmod, *src_dir, *inc_dir;
static host_mem_t mem;

static nm_loader_config_t board(int version) {
    nm_loader_config_t c = {0};
    c.arch = NM_ARCH_X64;
    c.float_abi = NM_FLOAT_HARD;
    c.exports = version == 1 ? abi_v1_exports : abi_v2_exports;
    c.n_exports = version == 1 ? abi_v1_n_exports : abi_v2_n_exports;
    c.alloc_cb = hm_alloc;
    c.free_cb = hm_free;
    c.flush_cb = hm_flush;
    c.context = &mem;
    return c;
}

static uint8_t *read_module(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) {
        return NULL;
    }
    uint8_t *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void *sym(const nm_module_t *m, const char *name) {
    void *p = NULL;
    CHECK_EQ(nm_module_sym(m, name, &p, NULL), NM_OK);
    return p;
}

/* The export tables themselves: generated with each prototype and its hash. */
static void tables_carry_each_prototype_and_its_hash(void) {
    const nm_export_t *e1 = nm_export_find(abi_v1_exports, abi_v1_n_exports, "hal_i2c_write");
    const nm_export_t *e2 = nm_export_find(abi_v2_exports, abi_v2_n_exports, "hal_i2c_write");
    CHECK(e1 && e2);
    if (!e1 || !e2) {
        return;
    }
    CHECK(!strcmp(e1->proto, "int (uint8_t, const void *, size_t)"));
    CHECK(!strcmp(e2->proto, "int (uint8_t, const void *, size_t, int)"));
    CHECK_EQ(e1->type_hash, nm_hash(e1->proto));
    CHECK_EQ(e2->type_hash, nm_hash(e2->proto));
    const nm_export_t *s = nm_export_find(abi_v2_exports, abi_v2_n_exports, "hal_scale");
    CHECK(s && !strcmp(s->proto, "volatile uint32_t"));
}

/* The module records what it was linked against, per import. */
static void module_records_the_prototypes_it_was_linked_against(void) {
    size_t len;
    uint8_t *buf = read_module("abi_mod.nmod", &len);
    nm_image_t img;
    CHECK_EQ(nm_image_parse(buf, len, &img, NULL), NM_OK);
    CHECK(img.flags & NM_FLAG_IMPORT_TYPES);
    CHECK(img.import_types != NULL);
    int seen = 0;
    for (uint32_t i = 0; i < img.n_imports; i++) {
        nm_import_info_t imp;
        CHECK_EQ(nm_image_import(&img, i, &imp), NM_OK);
        CHECK(imp.proto != NULL);
        if (imp.proto) {
            CHECK_EQ(imp.type_hash, nm_hash(imp.proto));
        }
        if (!strcmp(imp.name, "hal_i2c_write")) {
            CHECK(!strcmp(imp.proto, "int (uint8_t, const void *, size_t)"));
            seen++;
        }
    }
    CHECK_EQ(seen, 1);
    free(buf);

    /* Linked against a list without types: no flag, no table. */
    buf = read_module("abi_mod_untyped.nmod", &len);
    CHECK_EQ(nm_image_parse(buf, len, &img, NULL), NM_OK);
    CHECK(!(img.flags & NM_FLAG_IMPORT_TYPES));
    CHECK(img.import_types == NULL);
    nm_import_info_t imp;
    CHECK_EQ(nm_image_import(&img, 0, &imp), NM_OK);
    CHECK(imp.type_hash == 0 && imp.proto == NULL);
    free(buf);
}

static void module_loads_and_runs_on_the_firmware_it_was_linked_against(void) {
    size_t len;
    uint8_t *buf = read_module("abi_mod.nmod", &len);
    nm_loader_config_t c = board(1);
    nm_module_t m;
    nm_detail_t d = {{0}};
    CHECK_EQ(nm_load(&c, &m, buf, len, &d), NM_OK);
    int (*send)(int) = (int (*)(int))sym(&m, "i2c_send");
    int (*add)(int, int) = (int (*)(int, int))sym(&m, "add_scaled");
    if (send && add) {
        CHECK_EQ(send(5), 5);
        CHECK_EQ(i2c_calls, 1);
        CHECK_EQ(add(2, 3), 50);
    }
    CHECK_EQ(nm_unload(&m), NM_OK);
    free(buf);
}

static void changed_prototype_is_refused_naming_both(void) {
    size_t len;
    uint8_t *buf = read_module("abi_mod.nmod", &len);
    nm_loader_config_t c = board(2);
    nm_module_t m;
    nm_detail_t d = {{0}};
    int live = mem.live;
    CHECK_EQ(nm_load(&c, &m, buf, len, &d), NM_ERR_NOSYM);
    printf("  (expected) %s\n", d.msg);
    CHECK(!strcmp(d.msg, "hal_i2c_write: module wants int (uint8_t, const void *, size_t), "
                         "firmware has int (uint8_t, const void *, size_t, int)"));
    CHECK(strlen(d.msg) < NM_DETAIL_MAX);
    CHECK_EQ(mem.live, live); /* refused before anything was allocated */
    free(buf);
}

typedef struct sink {
    uint8_t *buf;
    size_t cap;
} sink_t;

static int sink_write(void *ctx, uint32_t off, const void *data, size_t len) {
    sink_t *s = ctx;
    if (off + len > s->cap) {
        return 1;
    }
    memcpy(s->buf + off, data, len);
    return 0;
}

/* nm_xip_link (and so nm_store_install) refuses the changed prototype too,
 * and on the right firmware copies the type table into the linked image.
 * The addresses are a board's (below 4 GB): the image is only parsed here. */
static void install_time_linking_checks_types_and_keeps_the_table(void) {
    size_t len;
    uint8_t *buf = read_module("abi_mod.nmod", &len);
    static _Alignas(4096) uint8_t flash[1 << 16];
    sink_t s = {flash, sizeof flash};
    nm_detail_t d = {{0}};
    nm_loader_config_t c2 = board(2);
    memset(flash, 0xA5, sizeof flash);
    CHECK_EQ(nm_xip_link(&c2, buf, len, 0x08010000u, 0x20000000u, sink_write, &s, NULL, &d),
             NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "hal_i2c_write: ");
    CHECK(flash[0] == 0xA5 && flash[64] == 0xA5); /* nothing written */

    nm_loader_config_t c1 = board(1);
    uint32_t size = 0;
    CHECK_EQ(nm_xip_link(&c1, buf, len, 0x08010000u, 0x20000000u, sink_write, &s, &size, &d),
             NM_OK);
    if (d.msg[0]) {
        fprintf(stderr, "  nm_xip_link: %s\n", d.msg);
    }
    nm_image_t img, orig;
    CHECK_EQ(nm_image_parse(flash, size, &img, &d), NM_OK);
    CHECK_EQ(nm_image_parse(buf, len, &orig, NULL), NM_OK);
    CHECK(img.flags & NM_FLAG_XIP_LINKED);
    CHECK(img.flags & NM_FLAG_IMPORT_TYPES);
    CHECK(img.import_types && !memcmp(img.import_types, orig.import_types,
                                      (size_t)orig.n_imports * NM_IMPORT_TYPE_SIZE));
    /* Relinking the linked image against version 2 is refused as well. */
    static _Alignas(4096) uint8_t moved[1 << 16];
    sink_t s2 = {moved, sizeof moved};
    CHECK_EQ(nm_xip_link(&c2, flash, size, 0x08020000u, 0, sink_write, &s2, NULL, &d), NM_ERR_NOSYM);
    free(buf);
}

/* What version 2 left alone still loads: the module importing only
 * unchanged symbols, and a module linked without types (by name, as before). */
static void unchanged_imports_and_untyped_modules_still_load(void) {
    const char *names[] = {"abi_mod_add.nmod", "abi_mod_untyped.nmod"};
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *buf = read_module(names[k], &len);
        nm_loader_config_t c = board(2);
        nm_module_t m;
        nm_detail_t d = {{0}};
        CHECK_EQ(nm_load(&c, &m, buf, len, &d), NM_OK);
        if (d.msg[0]) {
            fprintf(stderr, "  %s: %s\n", names[k], d.msg);
        }
        int (*add)(int, int) = (int (*)(int, int))sym(&m, "add_scaled");
        if (add) {
            CHECK_EQ(add(4, 5), 90);
        }
        CHECK_EQ(nm_unload(&m), NM_OK);
        free(buf);
    }
    /* A firmware table without types (older generator, or a hand-written
     * one: type_hash 0) checks nothing. */
    static nm_export_t plain[3];
    for (size_t i = 0; i < abi_v2_n_exports && i < 3; i++) {
        plain[i] = abi_v2_exports[i];
        plain[i].type_hash = 0;
        plain[i].proto = NULL;
    }
    size_t len;
    uint8_t *buf = read_module("abi_mod.nmod", &len);
    nm_loader_config_t c = board(2);
    c.exports = plain;
    nm_module_t m;
    CHECK_EQ(nm_load(&c, &m, buf, len, NULL), NM_OK);
    CHECK_EQ(nm_unload(&m), NM_OK);
    free(buf);
}

/* The refusal's detail stays one line within NM_DETAIL_MAX whatever the
 * texts: long prototypes start near their first difference, a missing
 * text shows its hash, a long name is cut. */
static void refusal_detail_fits_for_long_and_missing_prototypes(void) {
    static const uint8_t ret[16] = {0xc3};
    static const struct {
        const char *name, *mod, *fw, *want[3];
    } cases[] = {
        {"hal_long",
         "int (const struct very_long_configuration_block *, const struct another_long_block *, size_t)",
         "int (const struct very_long_configuration_block *, const struct another_long_block *, size_t, int)",
         {"hal_long: module wants ...", "size_t), firmware has ...", "size_t, int)"}},
        {"hal_fw_text_only", "int (int)", NULL, {"hal_fw_text_only: the module expects int (int), the firmware has 0x", "", ""}},
        {"a_very_long_symbol_name_that_goes_on_and_on_and_on_for_ever", "void (void)", "void (int)",
         {"a_very_long_symbol_name_that_goes_on_...: the module expects void (void), the firmware has void (int)",
          "", ""}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *imports[1] = {cases[i].name};
        nm_wimport_type_t ty = {nm_hash(cases[i].mod), cases[i].mod};
        nm_wmodule_t w = {0};
        w.arch = NM_ARCH_X64;
        w.float_abi = NM_FLOAT_HARD;
        w.name = "long";
        w.text = ret;
        w.text_size = sizeof ret;
        w.rw_offset = 16;
        w.imports = imports;
        w.n_imports = 1;
        w.import_types = &ty;
        w.init_idx = w.deinit_idx = NM_NO_INDEX;
        uint8_t *img = NULL;
        size_t len;
        CHECK_EQ(nm_write_image(&w, &img, &len, NULL), NM_OK);
        nm_export_t fw = {nm_hash(cases[i].name), cases[i].name, ret,
                          cases[i].fw ? nm_hash(cases[i].fw) : 0x5eed, cases[i].fw};
        nm_loader_config_t c = board(1);
        c.exports = &fw;
        c.n_exports = 1;
        nm_module_t m;
        nm_detail_t d;
        memset(&d, 'x', sizeof d);
        CHECK_EQ(nm_load(&c, &m, img, len, &d), NM_ERR_NOSYM);
        CHECK(memchr(d.msg, '\0', sizeof d.msg) != NULL && !strchr(d.msg, '\n'));
        for (int k = 0; k < 3; k++) {
            if (!strstr(d.msg, cases[i].want[k])) {
                fprintf(stderr, "  got '%s', want '%s' in it\n", d.msg, cases[i].want[k]);
            }
            CHECK_STR_CONTAINS(d.msg, cases[i].want[k]);
        }
        free(img);
    }
}

/* Run a shell command; returns its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *b = calloc(1, 8192);
    if (f) {
        size_t n = fread(b, 1, 8191, f);
        b[n] = '\0';
        fclose(f);
    }
    return b;
}

/* The symbol list's type fields: optional, checked when present, and a bad
 * line named by file and line in one line. */
static void symbol_list_type_fields_are_checked(void) {
    static const struct {
        const char *syms, *msg; /* msg NULL: the link succeeds */
    } cases[] = {
        {"hal_i2c_write\nhal_add 0x1\nhal_scale 0x2\n", NULL},
        {"hal_i2c_write 0x0 0xe3b5d4fc\nhal_add\nhal_scale\n", NULL}, /* a type hash without its text */
        {"# c\nhal_i2c_write 0x0 int (int)\nhal_add\nhal_scale\n", "bad.syms:2: 'hal_i2c_write': third field"},
        {"hal_add\nhal_scale\nhal_i2c_write 0x0 0x123456789 int (int)\n", "bad.syms:3: 'hal_i2c_write': third field"},
        {"hal_add\nhal_i2c_write 0x0 0x12345678 int (int)\nhal_scale\n",
         "bad.syms:2: 'hal_i2c_write': type hash 0x12345678 is not nm_hash of `int (int)`"},
    };
    char tmp[] = "/tmp/nm_abi.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/bad.syms", tmp);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (!f) {
            continue;
        }
        fputs(cases[i].syms, f);
        fclose(f);
        int st = run("cd '%s' && '%s' build -q --arch x86_64 --syms bad.syms -I '%s' -I '%s' -o m.nmod "
                     "'%s/abi_mod.c' 2>err.txt",
                     tmp, natmod, src_dir, inc_dir, src_dir);
        snprintf(path, sizeof path, "%s/err.txt", tmp);
        char *err = slurp(path);
        if (cases[i].msg) {
            CHECK(st != 0);
            CHECK_STR_CONTAINS(err, cases[i].msg);
            CHECK(strchr(err, '\n') == strrchr(err, '\n')); /* one line */
        } else {
            CHECK_EQ(st, 0);
            if (st) {
                fprintf(stderr, "  case %zu: %s", i, err);
            }
        }
        free(err);
    }
    run("rm -rf '%s'", tmp);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: test_abi DIR NATMOD SRC_DIR INCLUDE_DIR\n");
        return 2;
    }
    dir = argv[1];
    natmod = argv[2];
    src_dir = argv[3];
    inc_dir = argv[4];
    mem.mode = HM_RWX;
    RUN(tables_carry_each_prototype_and_its_hash);
    RUN(module_records_the_prototypes_it_was_linked_against);
    RUN(module_loads_and_runs_on_the_firmware_it_was_linked_against);
    RUN(changed_prototype_is_refused_naming_both);
    RUN(install_time_linking_checks_types_and_keeps_the_table);
    RUN(unchanged_imports_and_untyped_modules_still_load);
    RUN(refusal_detail_fits_for_long_and_missing_prototypes);
    RUN(symbol_list_type_fields_are_checked);
    return TEST_DONE();
}
