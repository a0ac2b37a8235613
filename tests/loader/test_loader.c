#define _DEFAULT_SOURCE /* mmap flags under -std=c11 */
/*
 * The runtime loader on the host board: modules whose text is real x86-64
 * code are loaded into mmap'd memory and called.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../format/nmtest_images.h"
#include "../test.h"
#include "host_mem.h"
#include "loader/loader_internal.h"
#include "natmod/loader.h"
#include "x64_modules.h"

static volatile int marker;
static int host_add(int a, int b) {
    return a + b;
}

static nm_export_t host_exports[3];
static size_t n_host_exports;

static int cmp_export(const void *a, const void *b) {
    const nm_export_t *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* The firmware export table, sorted by hash, optionally without one name. */
static void make_exports(const char *without) {
    static const struct {
        const char *name;
        const void *addr;
    } all[] = {
        {"host_add", (const void *)(uintptr_t)host_add},
        {"marker", (const void *)&marker},
        {"hal_print", (const void *)(uintptr_t)puts},
    };
    n_host_exports = 0;
    for (size_t i = 0; i < 3; i++) {
        if (without && strcmp(all[i].name, without) == 0) {
            continue;
        }
        host_exports[n_host_exports++] = (nm_export_t){nm_hash(all[i].name), all[i].name, all[i].addr, 0, NULL};
    }
    qsort(host_exports, n_host_exports, sizeof host_exports[0], cmp_export);
}

static nm_loader_config_t host_config(host_mem_t *h) {
    nm_loader_config_t c = {0};
    c.arch = NM_ARCH_X64;
    c.float_abi = NM_FLOAT_HARD;
    c.exports = host_exports;
    c.n_exports = n_host_exports;
    c.alloc_cb = hm_alloc;
    c.free_cb = hm_free;
    c.flush_cb = hm_flush;
    c.context = h;
    return c;
}

typedef int (*fn_void)(void);
typedef int (*fn_2int)(int, int);

static void *sym(nm_module_t *m, const char *name) {
    void *a = NULL;
    nm_detail_t d;
    int rc = nm_module_sym(m, name, &a, &d);
    CHECK_EQ(rc, NM_OK);
    return rc == NM_OK ? a : NULL;
}

static void descriptor_is_small(void) {
    CHECK(sizeof(nm_module_t) <= 64);
}

static void export_find_confirms_the_name(void) {
    make_exports(NULL);
    CHECK(nm_export_find(host_exports, n_host_exports, "host_add") != NULL);
    CHECK(nm_export_find(host_exports, n_host_exports, "marker")->addr == (const void *)&marker);
    CHECK(nm_export_find(host_exports, n_host_exports, "nope") == NULL);
    CHECK(nm_export_find(host_exports, 0, "host_add") == NULL);
    /* a hash match alone never binds */
    nm_export_t fake[1] = {{nm_hash("foo"), "bar", (const void *)&marker, 0, NULL}};
    CHECK(nm_export_find(fake, 1, "foo") == NULL);
    CHECK(nm_export_find(fake, 1, "bar") == NULL);
}

static void pcrel_module_runs_and_unloads(void) {
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    uint8_t *img;
    size_t len;
    CHECK_EQ(x_build_pcrel(&img, &len, NULL), NM_OK);
    nm_module_t m;
    nm_detail_t d;
    marker = 0;
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_OK);
    CHECK_EQ(marker, 0x11); /* init ran, through a relocated GOT slot */
    CHECK_EQ(h.calls, 1);   /* one IMAGE block */
    CHECK_EQ(h.live, 1);
    CHECK_EQ(h.flushes, 1);
    CHECK_EQ(h.last_flush_len, X_PCREL_RW + 28 + 16);
    CHECK(m.rw == m.text + X_PCREL_RW);
    CHECK((uintptr_t)m.text % 16 == 0);

    fn_void get42 = (fn_void)(uintptr_t)sym(&m, "get42");
    fn_2int call_add = (fn_2int)(uintptr_t)sym(&m, "call_add");
    fn_void read_ptr = (fn_void)(uintptr_t)sym(&m, "read_ptr");
    fn_void bump = (fn_void)(uintptr_t)sym(&m, "bump");
    if (get42 && call_add && read_ptr && bump) {
        CHECK_EQ(get42(), 42);
        CHECK_EQ(call_add(2, 3), 5);
        CHECK_EQ(read_ptr(), 1234);
        CHECK_EQ(bump(), 1); /* bss starts zeroed */
        CHECK_EQ(bump(), 2);
    }
    int *value = sym(&m, "value"), *counter = sym(&m, "counter");
    if (value && counter) {
        CHECK_EQ(*value, 1234);
        CHECK_EQ(*counter, 2);
    }
    void *a;
    CHECK_EQ(nm_module_sym(&m, "no_such", &a, &d), NM_ERR_NOENT);
    CHECK_STR_CONTAINS(d.msg, "module 'pcrel' has no export 'no_such'");
    CHECK_EQ(nm_module_sym(&m, "get4", &a, &d), NM_ERR_NOENT); /* exact names only */

    /* a second instance has its own RW */
    nm_module_t m2;
    CHECK_EQ(nm_load(&cfg, &m2, img, len, &d), NM_OK);
    fn_void bump2 = (fn_void)(uintptr_t)sym(&m2, "bump");
    if (bump2) {
        CHECK_EQ(bump2(), 1);
    }
    CHECK_EQ(nm_unload(&m2), NM_OK);

    CHECK_EQ(nm_unload(&m), NM_OK);
    CHECK_EQ(marker, 0x22); /* deinit ran */
    CHECK_EQ(h.live, 0);
    CHECK_EQ(h.bad_frees, 0);
    CHECK_EQ(nm_unload(&m), NM_ERR_INVAL);
    CHECK_EQ(nm_module_sym(&m, "get42", &a, &d), NM_ERR_INVAL);
    free(img);
}

static void split_module_runs_with_w_xor_x(void) {
    host_mem_t h = {0};
    h.mode = HM_MPROTECT;
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    uint8_t *img;
    size_t len;
    CHECK_EQ(x_build_split(&img, &len), NM_OK);
    nm_module_t m;
    nm_detail_t d;
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_OK);
    CHECK_EQ(h.calls, 2); /* TEXT and RW */
    CHECK_EQ(h.flushes, 1);
    CHECK_EQ(h.last_flush_len, 32);
    CHECK_EQ(m.one_block, 0);
    fn_void get_value = (fn_void)(uintptr_t)sym(&m, "get_value");
    fn_2int call_host = (fn_2int)(uintptr_t)sym(&m, "call_host");
    if (get_value && call_host) {
        CHECK_EQ(get_value(), 777);
        CHECK_EQ(call_host(20, 22), 42);
    }
    CHECK_EQ(nm_unload(&m), NM_OK);
    CHECK_EQ(h.live, 0);
    CHECK_EQ(h.bad_frees, 0);
    free(img);
}

static void allocation_failure_leaks_nothing(void) {
    make_exports(NULL);
    uint8_t *img[2];
    size_t len[2];
    CHECK_EQ(x_build_split(&img[0], &len[0]), NM_OK);
    CHECK_EQ(x_build_pcrel(&img[1], &len[1], NULL), NM_OK);
    for (int which = 0; which < 2; which++) {
        int allocs = which == 0 ? 2 : 1;
        for (int k = 1; k <= allocs; k++) {
            host_mem_t h = {0};
            h.fail_at = k;
            nm_loader_config_t cfg = host_config(&h);
            nm_module_t m;
            nm_detail_t d;
            marker = 0;
            CHECK_EQ(nm_load(&cfg, &m, img[which], len[which], &d), NM_ERR_NOMEM);
            CHECK_STR_CONTAINS(d.msg, "alloc_cb refused");
            CHECK_EQ(h.live, 0);
            CHECK_EQ(h.bad_frees, 0);
            CHECK_EQ(marker, 0);
            CHECK_EQ(m.state, 0);
            CHECK_EQ(nm_unload(&m), NM_ERR_INVAL);
        }
    }
    free(img[0]);
    free(img[1]);
}

static void missing_import_refused_before_init(void) {
    host_mem_t h = {0};
    make_exports("marker"); /* the firmware does not export marker */
    nm_loader_config_t cfg = host_config(&h);
    uint8_t *img;
    size_t len;
    CHECK_EQ(x_build_pcrel(&img, &len, NULL), NM_OK);
    nm_module_t m;
    nm_detail_t d;
    marker = 0;
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_NOSYM);
    char want[100];
    snprintf(want, sizeof want, "undefined import 'marker' (hash 0x%x): the firmware does not export it",
             nm_hash("marker"));
    CHECK_STR_CONTAINS(d.msg, want);
    CHECK_EQ(marker, 0); /* init (which writes 0x11) never ran */
    CHECK_EQ(h.calls, 0); /* nothing was even allocated */
    free(img);

    /* an import whose hash matches but whose name differs does not bind */
    make_exports(NULL);
    static const char *const other[] = {"host_add", "markerX"};
    CHECK_EQ(x_build_pcrel(&img, &len, other), NM_OK);
    cfg = host_config(&h);
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "'markerX'");
    CHECK_EQ(marker, 0);
    free(img);
}

static void wrong_arch_and_float_refused(void) {
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    nm_module_t m;
    nm_detail_t d;
    uint8_t *img;
    size_t len;
    CHECK_EQ(t_build_stream_module(&img, &len), NM_OK); /* armv7m/soft */
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(d.msg, "module 'stream' is armv7m/soft; this board is x86_64/hard");
    /* an armv7em board would run it (Thumb boards run lower Thumb archs);
     * only the verify phase is driven here: the code is not x86 */
    nm_loader_config_t thumb = cfg;
    thumb.arch = NM_ARCH_ARMV7EM;
    thumb.float_abi = NM_FLOAT_SOFT;
    nm_image_t v;
    CHECK_EQ(nmld_verify(&thumb, img, len, &v, &d), NM_OK);
    thumb.arch = NM_ARCH_ARMV6M;
    CHECK_EQ(nmld_verify(&thumb, img, len, &v, &d), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(d.msg, "is armv7m/soft; this board is armv6m/soft");
    free(img);

    CHECK_EQ(x_build_const(&img, &len, "softie", NM_FLOAT_SOFT, 5, 0, 0), NM_OK);
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_FLOAT_ABI);
    CHECK_STR_CONTAINS(d.msg, "module 'softie' is x86_64/soft; this board is x86_64/hard");
    CHECK_EQ(h.calls, 0);
    free(img);
}

static void bad_crc_refused(void) {
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    uint8_t *img;
    size_t len;
    CHECK_EQ(x_build_pcrel(&img, &len, NULL), NM_OK);
    img[NM_HEADER_SIZE + 1] ^= 1;
    nm_module_t m;
    nm_detail_t d;
    marker = 0;
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_CRC);
    CHECK_STR_CONTAINS(d.msg, "CRC-32");
    CHECK_EQ(h.calls, 0);
    CHECK_EQ(marker, 0);
    free(img);
}

static void failing_init_unloads(void) {
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    uint8_t *img;
    size_t len;
    CHECK_EQ(x_build_const(&img, &len, "grumpy", NM_FLOAT_HARD, 5, 1, 1), NM_OK);
    nm_module_t m;
    nm_detail_t d;
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_INIT);
    CHECK_STR_CONTAINS(d.msg, "init of module 'grumpy' returned 1");
    CHECK_EQ(h.calls, 2);
    CHECK_EQ(h.live, 0);
    CHECK_EQ(m.state, 0);
    CHECK_EQ(nm_unload(&m), NM_ERR_INVAL);
    free(img);
    CHECK_EQ(x_build_const(&img, &len, "grumpy", NM_FLOAT_HARD, 5, 1, (uint32_t)-5), NM_OK);
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_ERR_INIT);
    CHECK_STR_CONTAINS(d.msg, "returned -5");
    CHECK_EQ(h.live, 0);
    free(img);
    /* init returning 0 loads */
    CHECK_EQ(x_build_const(&img, &len, "happy", NM_FLOAT_HARD, 5, 1, 0), NM_OK);
    CHECK_EQ(nm_load(&cfg, &m, img, len, &d), NM_OK);
    CHECK_EQ(nm_unload(&m), NM_OK);
    CHECK_EQ(h.live, 0);
    free(img);
}

static void ptr32_that_does_not_fit_is_refused(void) {
    /* A PTR32 word against a text base above 4 GB cannot be represented. */
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    static const uint8_t text[8] = {0xC3};
    static const uint8_t data[8] = {0};
    static const nm_reloc_t rel[] = {{.site = 8, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT}};
    nm_wmodule_t w = {0};
    w.arch = NM_ARCH_X64;
    w.float_abi = NM_FLOAT_HARD;
    w.name = "narrow";
    w.text = text;
    w.text_size = 8;
    w.data = data;
    w.data_size = 8;
    w.rw_offset = 8;
    w.relocs = rel;
    w.n_relocs = 1;
    w.init_idx = w.deinit_idx = NM_NO_INDEX;
    uint8_t *img;
    size_t len;
    CHECK_EQ(nm_write_image(&w, &img, &len, NULL), NM_OK);
    nm_module_t m;
    nm_detail_t d;
    int rc = nm_load(&cfg, &m, img, len, &d);
    if (rc == NM_OK) {
        /* mmap gave memory below 4 GB: then the word must equal the text address */
        uint32_t word;
        memcpy(&word, m.rw, 4);
        CHECK_EQ(word, (uint32_t)(uintptr_t)m.text);
        nm_unload(&m);
    } else {
        CHECK_EQ(rc, NM_ERR_RELOC);
        CHECK_STR_CONTAINS(d.msg, "relocation 0 at site 0x8: PTR32 result does not fit");
    }
    CHECK_EQ(h.live, 0);
    free(img);
}

static void universal_loads_the_boards_slice(void) {
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    uint8_t *s[3];
    size_t l[3];
    CHECK_EQ(t_build_stream_module(&s[0], &l[0]), NM_OK);
    CHECK_EQ(x_build_const(&s[1], &l[1], "soft", NM_FLOAT_SOFT, 2, 0, 0), NM_OK);
    CHECK_EQ(x_build_const(&s[2], &l[2], "hard", NM_FLOAT_HARD, 3, 0, 0), NM_OK);
    uint8_t *u;
    size_t ulen;
    nm_detail_t d;
    CHECK_EQ(nm_write_universal((const uint8_t *const *)s, l, 3, &u, &ulen, &d), NM_OK);
    nm_module_t m;
    CHECK_EQ(nm_load(&cfg, &m, u, ulen, &d), NM_OK);
    fn_void get = (fn_void)(uintptr_t)sym(&m, "get");
    if (get) {
        CHECK_EQ(get(), 3);
    }
    CHECK(m.image > u && m.image < u + ulen);
    CHECK_EQ(nm_unload(&m), NM_OK);

    /* a board with no slice */
    nm_loader_config_t rv = cfg;
    rv.arch = NM_ARCH_RV32IMC;
    rv.float_abi = NM_FLOAT_SOFT;
    CHECK_EQ(nm_load(&rv, &m, u, ulen, &d), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(d.msg, "no slice for rv32imc/soft (has armv7m/soft, x86_64/soft, x86_64/hard)");
    CHECK_EQ(h.live, 0);
    for (int i = 0; i < 3; i++) {
        free(s[i]);
    }
    free(u);
}

static void bad_arguments_are_refused(void) {
    host_mem_t h = {0};
    make_exports(NULL);
    nm_loader_config_t cfg = host_config(&h);
    nm_module_t m;
    nm_detail_t d;
    CHECK_EQ(nm_load(NULL, &m, "x", 1, &d), NM_ERR_INVAL);
    CHECK_EQ(nm_load(&cfg, NULL, "x", 1, &d), NM_ERR_INVAL);
    cfg.alloc_cb = NULL;
    CHECK_EQ(nm_load(&cfg, &m, "x", 1, &d), NM_ERR_INVAL);
    cfg = host_config(&h);
    CHECK_EQ(nm_load(&cfg, &m, "", 0, NULL), NM_ERR_TRUNCATED);
    CHECK_EQ(nm_load(&cfg, &m, "\x7f" "ELF", 4, &d), NM_ERR_MAGIC);
    CHECK_EQ(nm_unload(NULL), NM_ERR_INVAL);
}

int main(void) {
    RUN(descriptor_is_small);
    RUN(export_find_confirms_the_name);
    RUN(pcrel_module_runs_and_unloads);
    RUN(split_module_runs_with_w_xor_x);
    RUN(allocation_failure_leaks_nothing);
    RUN(missing_import_refused_before_init);
    RUN(wrong_arch_and_float_refused);
    RUN(bad_crc_refused);
    RUN(failing_init_unloads);
    RUN(ptr32_that_does_not_fit_is_refused);
    RUN(universal_loads_the_boards_slice);
    RUN(bad_arguments_are_refused);
    return TEST_DONE();
}
