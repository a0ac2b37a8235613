/*
 * The MicroPython component's core without MicroPython (ports/micropython/
 * natmod_mp.c): MicroPython-style native code (text, relocation stream,
 * rodata, bss, qstr and object tables, firmware imports) placed in a store
 * on emulated NOR flash, relinked identically after a "reboot" without
 * programming flash, surviving a power cut at every flash operation, and
 * malformed streams refused with a reason.
 *
 * Expected words are computed here from what each test planted (base +
 * addend), not by the code under test.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "natmod/abi.h"
#include "natmod/format.h"
#include "natmod/mpy.h"
#include "natmod_mp.h"
#include "test.h"

#define FLASH_AT 0x5a000000u
#define FLASH_SIZE (64u * 1024u)
#define BLOCK 4096u
#define RW_AT 0x5b000000u
#define RW_SIZE 4096u

static uint8_t *flash, *rwmem;
static long cut_after = -1; /* flash operations left before the power cut; -1: none */

static int power(void) {
    if (cut_after == 0) {
        return 0;
    }
    if (cut_after > 0) {
        cut_after--;
    }
    return 1;
}

static int f_erase(void *ctx, uint32_t off) {
    (void)ctx;
    if (!power()) {
        memset(flash + off, 0xA5, BLOCK / 2); /* torn: half erased, half not */
        return -1;
    }
    memset(flash + off, 0xFF, BLOCK);
    return 0;
}

static int f_prog(void *ctx, uint32_t off, const void *p, uint32_t n) {
    (void)ctx;
    const uint8_t *s = p;
    uint32_t upto = n;
    if (!power()) {
        upto = n / 2; /* torn program */
    }
    for (uint32_t i = 0; i < upto; i++) {
        flash[off + i] &= s[i];
    }
    return upto == n ? 0 : -1;
}

static const nm_mp_flash_t fl = {FLASH_AT, FLASH_SIZE, BLOCK, 16, NULL, f_erase, f_prog, NULL};

/* a fake firmware: mp_fun_table and two functions */
/* the fake firmware lives below 4 GB too: 32-bit words must hold its addresses */
#define FW_AT 0x5c000000u
static uintptr_t *fake_fun_table;
#define fw_a (FW_AT + 0x101u)
#define fw_b (FW_AT + 0x201u)
static nm_export_t exports[3];

static int by_hash(const void *a, const void *b) {
    uint32_t x = ((const nm_export_t *)a)->hash, y = ((const nm_export_t *)b)->hash;
    return x < y ? -1 : x > y;
}

static void setup_exports(void) {
    exports[0] = (nm_export_t){nm_hash("mp_fun_table"), "mp_fun_table", fake_fun_table, 0, NULL};
    exports[1] = (nm_export_t){nm_hash("fw_a"), "fw_a", (const void *)(uintptr_t)fw_a, 0, NULL};
    exports[2] = (nm_export_t){nm_hash("fw_b"), "fw_b", (const void *)(uintptr_t)fw_b, 0, NULL};
    qsort(exports, 3, sizeof exports[0], by_hash);
    for (unsigned i = 0; i < 16; i++) {
        fake_fun_table[i] = 0x1000 + i;
    }
}

static void *t_alloc(size_t n) {
    return malloc(n);
}
static void t_free(void *p, size_t n) {
    (void)n;
    free(p);
}

static int boot(nm_mp_t *mp, unsigned word) {
    mp->alloc = t_alloc;
    mp->free = t_free;
    nm_detail_t d;
    int rc = nm_mp_init(mp, &fl, rwmem, RW_SIZE, word == 8 ? NM_ARCH_X64 : NM_ARCH_ARMV7M,
                        word == 8 ? NM_FLOAT_HARD : NM_FLOAT_SOFT, exports, 3, &d);
    if (rc != NM_OK) {
        fprintf(stderr, "boot: %s\n", d.msg);
    }
    return rc;
}

/* ---- building MicroPython-style code ---- */

typedef struct code {
    uint8_t text[512];
    uint32_t text_size;
    uint8_t rodata[64];
    uint8_t rel[64];
    uint32_t n_rel;
    nm_mp_code_t c;
    /* planted words: where (0 text, 1 rodata), offset, destination, addend */
    struct {
        unsigned where, dest;
        uint32_t off;
        uint64_t addend;
    } w[16];
    unsigned n_w;
} code_t;

static void put_word(uint8_t *p, unsigned word, uint64_t v) {
    for (unsigned i = 0; i < word; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_word(const uint8_t *p, unsigned word) {
    uint64_t v = 0;
    for (unsigned i = 0; i < word; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void put_uint(code_t *k, uint32_t v) {
    uint8_t tmp[5];
    int n = 0;
    do {
        tmp[n++] = v & 0x7f;
        v >>= 7;
    } while (v);
    while (n--) {
        k->rel[k->n_rel++] = (uint8_t)(tmp[n] | (n ? 0x80 : 0));
    }
}

/* one relocation op at (where, word index) to dest (0 text 1 rodata 2 bss 6 qstr 7 obj 8 table) */
static void plant(code_t *k, unsigned word, unsigned where, uint32_t index, unsigned dest, uint64_t addend) {
    uint8_t *p = (where ? k->rodata : k->text) + index * word;
    put_word(p, word, addend);
    unsigned op = dest <= 2 ? dest << 1 : dest;
    k->rel[k->n_rel++] = (uint8_t)(op << 1 | 1);
    put_uint(k, index << 1 | where);
    k->w[k->n_w].where = where;
    k->w[k->n_w].dest = dest;
    k->w[k->n_w].off = index * word;
    k->w[k->n_w].addend = addend;
    k->n_w++;
}

static void put32(uint8_t *p, uint32_t v) {
    put_word(p, 4, v);
}

/* A module: 128 bytes of "code", relocations of every kind, optionally an
 * NMFW table importing the given names. seed varies the code bytes. */
static void make_code(code_t *k, unsigned word, const char *name, unsigned seed, const char *const *fw, unsigned n_fw) {
    memset(k, 0, sizeof *k);
    for (unsigned i = 0; i < 128; i++) {
        k->text[i] = (uint8_t)(i * 7 + seed);
    }
    for (unsigned i = 0; i < 32; i++) {
        k->rodata[i] = (uint8_t)(0x40 + i);
    }
    plant(k, word, 0, 2, 0, 0x10);   /* text -> text + 0x10 */
    plant(k, word, 0, 4, 1, 0x8);    /* text -> rodata + 8 */
    plant(k, word, 0, 6, 2, 0x4);    /* text -> bss + 4 */
    plant(k, word, 0, 8, 6, 0x2);    /* text -> qstr table + 2 */
    plant(k, word, 0, 10, 7, 0);     /* text -> object table */
    plant(k, word, 0, 12, 8, 0);     /* text -> mp_fun_table */
    plant(k, word, 1, 2, 0, 0x20);   /* rodata -> text + 0x20 */
    plant(k, word, 1, 3, 2, 0x0);    /* rodata -> bss */
    k->rel[k->n_rel++] = 0xff;
    uint32_t size = 128;
    if (n_fw) {
        /* slots, then the table, then {table_off, magic} (docs/mpy.md) */
        uint32_t slots = size;
        size += n_fw * word;
        uint32_t table = size;
        put32(k->text + table, n_fw);
        uint32_t names = 4 + 8 * n_fw, no = names;
        for (unsigned i = 0; i < n_fw; i++) {
            put32(k->text + table + 4 + 8 * i, slots + i * word);
            put32(k->text + table + 8 + 8 * i, no);
            memcpy(k->text + table + no, fw[i], strlen(fw[i]) + 1);
            no += (uint32_t)strlen(fw[i]) + 1;
        }
        size = table + ((no + 3) & ~3u);
        put32(k->text + size, table);
        put32(k->text + size + 4, NM_MP_NMFW_MAGIC);
        size += 8;
    }
    k->text_size = size;
    k->c = (nm_mp_code_t){name, k->text, size, k->rel, k->n_rel, k->rodata, 32, 24, 20, 3 * word, (uint8_t)word, NULL, 0};
}

/* every planted word holds base + addend at the run-time place */
static void check_placed(const code_t *k, unsigned word, const uint8_t *text, const uint8_t *rw) {
    nm_mp_layout_t lay;
    nm_mp_rw_layout(&k->c, &lay);
    for (unsigned i = 0; i < k->n_w; i++) {
        const uint8_t *p = (k->w[i].where ? rw + lay.rodata : text) + k->w[i].off;
        uint64_t base = 0;
        switch (k->w[i].dest) {
        case 0: base = (uintptr_t)text; break;
        case 1: base = (uintptr_t)rw + lay.rodata; break;
        case 2: base = (uintptr_t)rw + lay.bss; break;
        case 6: base = (uintptr_t)rw + lay.qstr; break;
        case 7: base = (uintptr_t)rw + lay.obj; break;
        case 8: base = (uintptr_t)fake_fun_table; break;
        }
        uint64_t want = base + k->w[i].addend;
        if (word == 4) {
            want &= 0xffffffffu;
        }
        CHECK_EQ(get_word(p, word), want);
    }
    /* unrelocated bytes unchanged: byte 0 of text, rodata bytes 0..7 */
    CHECK_EQ(text[0], k->text[0]);
    CHECK(memcmp(rw + lay.rodata, k->rodata, 8) == 0);
}

static void test_slice_is_a_valid_natmod_slice(void) {
    for (unsigned word = 4; word <= 8; word += 4) {
        code_t k;
        static const char *const fw[] = {"fw_a", "fw_b"};
        make_code(&k, word, "mod", 1, fw, 2);
        size_t cap = nm_mp_slice_bound(&k.c), len = 0;
        CHECK(cap > 0);
        uint8_t *s = malloc(cap);
        nm_detail_t d;
        CHECK_EQ(nm_mp_build(&k.c, word == 8 ? NM_ARCH_X64 : NM_ARCH_ARMV7M, 0, s, cap, &len, &d), NM_OK);
        nm_image_t img;
        int rc = nm_image_parse(s, len, &img, &d);
        CHECK_EQ(rc, NM_OK);
        if (rc != NM_OK) {
            fprintf(stderr, "parse: %s\n", d.msg);
        }
        CHECK_EQ(get_word(s + 42, 2), 3); /* mp_fun_table, fw_a, fw_b */
        nm_import_info_t ii;
        CHECK_EQ(nm_image_import(&img, 1, &ii), NM_OK);
        CHECK(strcmp(ii.name, "fw_a") == 0);
        /* 8 planted + 2 slots */
        CHECK_EQ(get_word(s + 52, 4), 10);
        free(s);
    }
}

static void test_place_reboot_writes_nothing(void) {
    for (unsigned word = 4; word <= 8; word += 4) {
        memset(flash, 0, FLASH_SIZE); /* QEMU RAM starts zeroed: no store */
        static nm_mp_t mp;
        CHECK_EQ(boot(&mp, word), NM_OK);
        code_t k;
        static const char *const fw[] = {"fw_b"};
        make_code(&k, word, "tests.mod_a", 3, fw, 1);
        void *text = NULL;
        uint8_t *rw = NULL;
        nm_detail_t d;
        int rc = nm_mp_place(&mp, &k.c, &text, &rw, &d);
        CHECK_EQ(rc, NM_OK);
        if (rc != NM_OK) {
            fprintf(stderr, "place: %s\n", d.msg);
            continue;
        }
        CHECK((uintptr_t)text >= FLASH_AT && (uintptr_t)text < FLASH_AT + FLASH_SIZE);
        CHECK((uintptr_t)rw >= RW_AT && (uintptr_t)rw < RW_AT + RW_SIZE);
        CHECK_EQ(mp.st.installs, 1);
        CHECK(mp.st.prog_calls > 0);
        check_placed(&k, word, text, rw);
        uint32_t slot = 128;
        CHECK_EQ(get_word((uint8_t *)text + slot, word), fw_b);
        uint8_t before[512];
        memcpy(before, text, k.text_size);

        /* imported again in the same session: it runs already */
        void *t2;
        uint8_t *r2;
        CHECK_EQ(nm_mp_place(&mp, &k.c, &t2, &r2, &d), NM_ERR_BUSY);

        /* reboot: same flash, fresh RAM state */
        memset(rwmem, 0x5c, RW_SIZE);
        CHECK_EQ(boot(&mp, word), NM_OK);
        CHECK_EQ(nm_mp_place(&mp, &k.c, &t2, &r2, &d), NM_OK);
        CHECK_EQ(mp.st.prog_calls, 0);
        CHECK_EQ(mp.st.erase_calls, 0);
        CHECK_EQ(mp.st.reuses, 1);
        CHECK(t2 == text && r2 == rw);
        CHECK(memcmp(before, t2, k.text_size) == 0);
        check_placed(&k, word, t2, r2); /* rodata re-copied, bss zeroed by the load */
        nm_mp_layout_t lay;
        nm_mp_rw_layout(&k.c, &lay);
        CHECK_EQ(r2[lay.bss + 8], 0);

        /* a changed module (new build) is written again, under the same name */
        code_t k2;
        make_code(&k2, word, "tests.mod_a", 4, fw, 1);
        CHECK_EQ(boot(&mp, word), NM_OK);
        CHECK_EQ(nm_mp_place(&mp, &k2.c, &t2, &r2, &d), NM_OK);
        CHECK_EQ(mp.st.installs, 1);
        CHECK(mp.st.prog_calls > 0);
        check_placed(&k2, word, t2, r2);
        nm_store_stats_t st;
        nm_store_stat(&mp.store, &st);
        CHECK_EQ(st.n_modules, 1);
    }
}

static void test_missing_firmware_function_is_named_and_writes_nothing(void) {
    memset(flash, 0xFF, FLASH_SIZE);
    static nm_mp_t mp;
    CHECK_EQ(boot(&mp, 4), NM_OK);
    uint32_t p0 = mp.st.prog_calls, e0 = mp.st.erase_calls;
    code_t k;
    static const char *const fw[] = {"fw_a", "natmod_no_such_function"};
    make_code(&k, 4, "periph_missing", 5, fw, 2);
    void *t;
    uint8_t *r;
    nm_detail_t d;
    CHECK_EQ(nm_mp_place(&mp, &k.c, &t, &r, &d), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "'natmod_no_such_function'");
    CHECK_EQ(mp.st.prog_calls, p0);
    CHECK_EQ(mp.st.erase_calls, e0);
    /* the RAM fallback refuses it the same way, and without a table at all */
    uint8_t text[512];
    memcpy(text, k.text, k.text_size);
    nm_mp_bases_t b = {(uintptr_t)text, 0x100, 0x200, 0x300, 0x400, (uintptr_t)fake_fun_table};
    uint8_t ro[64];
    memcpy(ro, k.rodata, sizeof ro);
    CHECK_EQ(nm_mp_relocate_ram(&k.c, text, ro, &b, exports, 3, &d), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "natmod_no_such_function");
    memcpy(text, k.text, k.text_size);
    memcpy(ro, k.rodata, sizeof ro);
    CHECK_EQ(nm_mp_relocate_ram(&k.c, text, ro, &b, NULL, 0, &d), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "'fw_a'");
}

static void test_ram_fallback_matches_micropython(void) {
    code_t k;
    static const char *const fw[] = {"fw_a"};
    make_code(&k, 8, "m", 9, fw, 1);
    uint8_t text[512], ro[64];
    memcpy(text, k.text, k.text_size);
    memcpy(ro, k.rodata, sizeof ro);
    nm_mp_bases_t b = {(uintptr_t)text, 0x10000, 0x20000, 0x30000, 0x40000, (uintptr_t)fake_fun_table};
    nm_detail_t d;
    CHECK_EQ(nm_mp_relocate_ram(&k.c, text, ro, &b, exports, 3, &d), NM_OK);
    CHECK_EQ(get_word(text + 16, 8), (uintptr_t)text + 0x10);
    CHECK_EQ(get_word(text + 32, 8), 0x10000 + 8);
    CHECK_EQ(get_word(text + 48, 8), 0x20000 + 4);
    CHECK_EQ(get_word(text + 64, 8), 0x30000 + 2);
    CHECK_EQ(get_word(text + 80, 8), 0x40000);
    CHECK_EQ(get_word(text + 96, 8), (uintptr_t)fake_fun_table);
    CHECK_EQ(get_word(ro + 16, 8), (uintptr_t)text + 0x20);
    CHECK_EQ(get_word(ro + 24, 8), 0x20000);
    CHECK_EQ(get_word(text + 128, 8), (uintptr_t)fw_a);
    /* an mp_fun_table entry's value (op >= 9): a firmware constant, written
     * into the slice; refused without the table, or past its end */
    code_t e;
    make_code(&e, 4, "e", 1, NULL, 0);
    e.n_rel--; /* drop 0xff */
    put_word(e.text + 80, 4, 0);
    e.rel[e.n_rel++] = (uint8_t)((9 + 3) << 1 | 1);
    put_uint(&e, 20 << 1);
    e.rel[e.n_rel++] = 0xff;
    e.c.relocs_size = e.n_rel;
    size_t cap = nm_mp_slice_bound(&e.c), len;
    uint8_t *s = malloc(cap);
    CHECK_EQ(nm_mp_build(&e.c, NM_ARCH_ARMV7M, 0, s, cap, &len, &d), NM_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(d.msg, "mp_fun_table entry");
    e.c.fun_table = fake_fun_table;
    e.c.fun_table_n = 3;
    CHECK_EQ(nm_mp_build(&e.c, NM_ARCH_ARMV7M, 0, s, cap, &len, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "past its end");
    memcpy(text, e.text, e.text_size);
    CHECK(nm_mp_relocate_ram(&e.c, text, ro, &b, exports, 3, &d) == NM_ERR_CORRUPT);
    e.c.fun_table_n = 16;
    CHECK_EQ(nm_mp_build(&e.c, NM_ARCH_ARMV7M, 0, s, cap, &len, &d), NM_OK);
    CHECK_EQ(get_word(s + NM_HEADER_SIZE + 80, 4), 0x1003);
    free(s);
    memcpy(text, e.text, e.text_size);
    b.text = (uintptr_t)text;
    CHECK_EQ(nm_mp_relocate_ram(&e.c, text, ro, &b, exports, 3, &d), NM_OK);
    CHECK_EQ(get_word(text + 80, 4), 0x1003);
}

static void test_malformed_streams_are_refused(void) {
    static const struct {
        uint8_t rel[12];
        uint32_t n;
        const char *why;
    } bad[] = {
        {{0x01, 0x00}, 2, "no end"},                 /* no 0xff */
        {{0x00, 0xff}, 2, "before naming"},          /* adjust before an address */
        {{0x01, 0x81, 0x80, 0x00, 0xff}, 5, "outside text"}, /* word 8192 */
        {{0x01, 0x41, 0xff}, 3, "outside rodata"},   /* rodata word 32 */
        {{0x03, 0x00, 0x8f, 0xff, 0xff, 0xff, 0x7f, 0xff}, 8, "outside text"}, /* huge count */
        {{0x01, 0x80}, 2, "past its end"},           /* uint cut short */
        {{0x01, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff}, 7, "past its end"}, /* uint overflow */
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t text[64] = {0}, ro[8] = {0};
        nm_mp_code_t c = {"bad", text, 64, bad[i].rel, bad[i].n, ro, 8, 0, 0, 0, 4, NULL, 0};
        size_t cap = nm_mp_slice_bound(&c), len;
        uint8_t *s = malloc(cap);
        nm_detail_t d;
        int rc = nm_mp_build(&c, NM_ARCH_ARMV7M, 0, s, cap, &len, &d);
        CHECK(rc == NM_ERR_CORRUPT);
        if (rc != NM_OK) {
            CHECK_STR_CONTAINS(d.msg, bad[i].why);
            CHECK_STR_CONTAINS(d.msg, "'bad'");
        }
        nm_mp_bases_t b = {(uintptr_t)text, 0, 0, 0, 0, (uintptr_t)fake_fun_table};
        CHECK(nm_mp_relocate_ram(&c, text, ro, &b, exports, 3, &d) < 0);
        free(s);
    }
    /* a firmware table that lies */
    code_t k;
    static const char *const fw[] = {"fw_a"};
    make_code(&k, 4, "t", 1, fw, 1);
    uint32_t table = 132;
    uint8_t keep[4];
    memcpy(keep, k.text + table + 4, 4);
    put32(k.text + table + 4, 130); /* slot not aligned */
    uint32_t n;
    CHECK_EQ(nm_mp_imports(k.text, k.text_size, &n), NM_ERR_CORRUPT);
    memcpy(k.text + table + 4, keep, 4);
    put32(k.text + table + 8, 4000); /* name outside */
    CHECK_EQ(nm_mp_imports(k.text, k.text_size, &n), NM_ERR_CORRUPT);
    put32(k.text + k.text_size - 8, 3); /* table offset unaligned */
    CHECK_EQ(nm_mp_imports(k.text, k.text_size, &n), NM_ERR_CORRUPT);
    size_t cap = nm_mp_slice_bound(&k.c);
    CHECK_EQ(cap, 0);
}

/* A power cut at every flash operation of installing module B leaves A
 * running as before and B either absent or whole. */
static void test_power_cut_at_every_operation(void) {
    code_t a, b;
    static const char *const fw[] = {"fw_a"};
    make_code(&a, 4, "mod_a", 1, fw, 1);
    make_code(&b, 4, "mod_b", 2, NULL, 0);
    static nm_mp_t mp;
    nm_detail_t d;
    void *t;
    uint8_t *r;
    /* how many operations does B's install take? */
    memset(flash, 0xFF, FLASH_SIZE);
    boot(&mp, 4);
    nm_mp_place(&mp, &a.c, &t, &r, &d);
    uint8_t a_bytes[512];
    memcpy(a_bytes, t, a.text_size);
    static uint8_t image[FLASH_SIZE];
    memcpy(image, flash, FLASH_SIZE);
    boot(&mp, 4);
    CHECK_EQ(nm_mp_place(&mp, &b.c, &t, &r, &d), NM_OK);
    uint32_t ops = mp.st.prog_calls + mp.st.erase_calls;
    CHECK(ops > 3);
    unsigned whole = 0, absent = 0;
    for (uint32_t cut = 0; cut < ops; cut++) {
        memcpy(flash, image, FLASH_SIZE);
        boot(&mp, 4);
        cut_after = cut;
        int rc = nm_mp_place(&mp, &b.c, &t, &r, &d);
        cut_after = -1;
        CHECK(rc != NM_OK);
        /* reboot after the cut */
        CHECK_EQ(boot(&mp, 4), NM_OK);
        CHECK_EQ(nm_mp_place(&mp, &a.c, &t, &r, &d), NM_OK);
        CHECK_EQ(mp.st.reuses, 1);
        CHECK(memcmp(t, a_bytes, a.text_size) == 0);
        const nm_store_entry_t *e = nm_store_find(&mp.store, "mod_b");
        if (e) {
            whole++;
            void *tb;
            uint8_t *rb;
            CHECK_EQ(nm_mp_place(&mp, &b.c, &tb, &rb, &d), NM_OK);
            CHECK_EQ(mp.st.installs, 0);
        } else {
            absent++;
        }
    }
    CHECK(absent > 0);
    printf("  power cuts: %u points, B absent after %u, whole after %u\n", (unsigned)ops, absent, whole);
}

static void test_store_full_and_no_region(void) {
    static nm_mp_t mp;
    nm_detail_t d;
    mp.alloc = t_alloc;
    mp.free = t_free;
    CHECK_EQ(nm_mp_init(&mp, NULL, rwmem, RW_SIZE, NM_ARCH_ARMV7M, 0, exports, 3, &d), NM_ERR_NOENT);
    CHECK_STR_CONTAINS(d.msg, "reserves no flash");
    code_t k;
    make_code(&k, 4, "m", 1, NULL, 0);
    void *t;
    uint8_t *r;
    CHECK_EQ(nm_mp_place(&mp, &k.c, &t, &r, &d), NM_ERR_NOENT);
    /* full: as many modules as fit, then NOSPC */
    memset(flash, 0xFF, FLASH_SIZE);
    boot(&mp, 4);
    int rc = NM_OK;
    unsigned placed = 0;
    char names[40][16];
    for (unsigned i = 0; i < 40 && rc == NM_OK; i++) {
        snprintf(names[i], sizeof names[i], "m%u", i);
        make_code(&k, 4, names[i], i, NULL, 0);
        rc = nm_mp_place(&mp, &k.c, &t, &r, &d);
        placed += rc == NM_OK;
    }
    CHECK_EQ(rc, NM_ERR_NOSPC);
    CHECK(placed >= 8);
    printf("  %u modules fit in %u KB flash / %u B RW; then: %s\n", placed, FLASH_SIZE / 1024, RW_SIZE, d.msg);
}


/* .mpy files natmod's linker wrote (tests/corpus/mpy): the component takes
 * their text, stream and rodata as MicroPython hands them over, builds a
 * slice natmod's reader accepts, places it, and the placed words equal what
 * the RAM path (MicroPython's own algorithm) gives for the same addresses. */
static const char *corpus_dir = ".";

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    static uint8_t buf[65536];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static void test_real_natmod_mpy_files(void) {
    static const struct {
        const char *file;
        const char *imports; /* the slice's imports, space-separated */
    } files[] = {
        {"natmod_fw_periph_x64.mpy", "mp_fun_table natmod_sim_periph natmod_periph_rmw"},
        {"natmod_fw_periph_armv7m.mpy", "mp_fun_table natmod_sim_periph natmod_periph_rmw"},
        {"natmod_mpy_a_x64.mpy", NULL},
        {"natmod_mpy_b_armv6m.mpy", NULL},
    };
    static nm_export_t fw[3];
    fw[0] = exports[0];
    fw[1] = (nm_export_t){nm_hash("natmod_periph_rmw"), "natmod_periph_rmw", (const void *)(uintptr_t)(FW_AT + 0x301), 0, NULL};
    fw[2] = (nm_export_t){nm_hash("natmod_sim_periph"), "natmod_sim_periph", (const void *)(uintptr_t)(FW_AT + 0x401), 0, NULL};
    qsort(fw, 3, sizeof fw[0], by_hash);
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, files[i].file);
        size_t n;
        uint8_t *buf = slurp(path, &n);
        CHECK(buf != NULL);
        if (!buf) {
            fprintf(stderr, "%s: cannot read\n", path);
            continue;
        }
        nm_mpy_t m;
        nm_detail_t d;
        CHECK_EQ(nm_mpy_parse(buf, n, &m, &d), NM_OK);
        CHECK(m.relocs != NULL);
        unsigned word = nm_mpy_word_size(m.arch);
        uint8_t text[8192], ro[1024];
        CHECK(m.text_size <= sizeof text && m.rodata_size <= sizeof ro);
        memcpy(text, m.text, m.text_size);
        if (m.rodata_size) {
            memcpy(ro, m.rodata, m.rodata_size);
        }
        nm_mp_code_t c = {"real", text, m.text_size, m.relocs, m.relocs_len, m.rodata_size ? ro : NULL,
                          m.rodata_size, m.bss_size, 2 * m.n_qstr, word * m.n_obj, (uint8_t)word,
                          fake_fun_table, 128};
        size_t cap = nm_mp_slice_bound(&c), len = 0;
        CHECK(cap > 0);
        uint8_t *sl = malloc(cap ? cap : 1);
        int rc = nm_mp_build(&c, word == 8 ? NM_ARCH_X64 : NM_ARCH_ARMV7M, 0, sl, cap, &len, &d);
        CHECK_EQ(rc, NM_OK);
        if (rc != NM_OK) {
            fprintf(stderr, "%s: %s\n", files[i].file, d.msg);
            free(sl);
            continue;
        }
        nm_image_t img;
        CHECK_EQ(nm_image_parse(sl, len, &img, &d), NM_OK);
        if (files[i].imports) {
            char got[256] = "";
            uint16_t ni = (uint16_t)(sl[42] | sl[43] << 8);
            for (uint16_t k = 0; k < ni; k++) {
                nm_import_info_t ii;
                nm_image_import(&img, k, &ii);
                strcat(got, k ? " " : "");
                strcat(got, ii.name);
            }
            CHECK(strcmp(got, files[i].imports) == 0);
            if (strcmp(got, files[i].imports)) {
                fprintf(stderr, "%s: imports '%s'\n", files[i].file, got);
            }
        }
        free(sl);
        /* placed in a store vs relocated in RAM at the same addresses */
        static nm_mp_t mp;
        memset(flash, 0xFF, FLASH_SIZE);
        mp.alloc = t_alloc;
        mp.free = t_free;
        CHECK_EQ(nm_mp_init(&mp, &fl, rwmem, RW_SIZE, word == 8 ? NM_ARCH_X64 : NM_ARCH_ARMV7M,
                            word == 8 ? NM_FLOAT_HARD : NM_FLOAT_SOFT, fw, 3, &d), NM_OK);
        void *t;
        uint8_t *r;
        rc = nm_mp_place(&mp, &c, &t, &r, &d);
        CHECK_EQ(rc, NM_OK);
        if (rc != NM_OK) {
            fprintf(stderr, "%s: %s\n", files[i].file, d.msg);
            continue;
        }
        nm_mp_layout_t lay;
        nm_mp_rw_layout(&c, &lay);
        uint8_t want[8192], want_ro[1024];
        memcpy(want, m.text, m.text_size);
        if (m.rodata_size) {
            memcpy(want_ro, m.rodata, m.rodata_size);
        }
        nm_mp_bases_t b = {(uintptr_t)t, (uintptr_t)r + lay.rodata, (uintptr_t)r + lay.bss, (uintptr_t)r + lay.qstr,
                           (uintptr_t)r + lay.obj, (uintptr_t)fake_fun_table};
        c.text = want;
        CHECK_EQ(nm_mp_relocate_ram(&c, want, want_ro, &b, fw, 3, &d), NM_OK);
        CHECK(memcmp(t, want, m.text_size) == 0);
        CHECK(m.rodata_size == 0 || memcmp(r + lay.rodata, want_ro, m.rodata_size) == 0);
    }
}

int main(int argc, char **argv) {
    if (argc > 1) {
        corpus_dir = argv[1];
    }
    flash = mmap((void *)(uintptr_t)FLASH_AT, FLASH_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    fake_fun_table = mmap((void *)(uintptr_t)FW_AT, 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    rwmem = mmap((void *)(uintptr_t)RW_AT, RW_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (flash != (void *)(uintptr_t)FLASH_AT || fake_fun_table != (void *)(uintptr_t)FW_AT || rwmem != (void *)(uintptr_t)RW_AT) {
        fprintf(stderr, "cannot map the emulated flash below 4 GB\n");
        return 1;
    }
    setup_exports();
    RUN(test_slice_is_a_valid_natmod_slice);
    RUN(test_place_reboot_writes_nothing);
    RUN(test_missing_firmware_function_is_named_and_writes_nothing);
    RUN(test_ram_fallback_matches_micropython);
    RUN(test_malformed_streams_are_refused);
    RUN(test_power_cut_at_every_operation);
    RUN(test_store_full_and_no_region);
    RUN(test_real_natmod_mpy_files);
    return TEST_DONE();
}
