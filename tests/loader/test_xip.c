#define _GNU_SOURCE /* MAP_32BIT: Thumb images hold 32-bit addresses */
/*
 * Install-time linking (nm_xip_link) and execute-in-place loading
 * (nm_load_xip) on the host, with a Thumb image that has no init, so no
 * module code runs: "flash" and "RAM" are 32-bit-addressable mappings, and
 * the tests check every word the linker and loader write, what they leave
 * alone, and each refusal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../format/nmtest_images.h"
#include "../test.h"
#include "natmod/loader.h"

static nm_export_t exports[2];

static uint8_t *flash, *ram; /* 64 KB each, below 4 GB */
/* Stand-ins for two firmware functions: only their (32-bit) addresses matter. */
#define fw_func_a (ram[0x8000])
#define fw_func_b (ram[0x9000])
static int claims, frees;
static void *claimed_at;
static size_t claimed_size;
static int refuse_claim;

static int claim(void *ctx, void *addr, size_t size, unsigned kind) {
    (void)ctx;
    CHECK_EQ(kind, NM_MEM_RW);
    if (refuse_claim) {
        return -1;
    }
    claims++;
    claimed_at = addr;
    claimed_size = size;
    return 0;
}

static void release(void *ctx, void *p, unsigned kind) {
    (void)ctx;
    CHECK_EQ(kind, NM_MEM_RW);
    CHECK(p == claimed_at);
    frees++;
}

static void *no_alloc(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx, (void)size, (void)align, (void)kind;
    CHECK(0); /* XIP never allocates text */
    return NULL;
}

static nm_loader_config_t config(void) {
    nm_loader_config_t c = {0};
    c.arch = NM_ARCH_ARMV7M;
    c.float_abi = NM_FLOAT_SOFT;
    c.exports = exports;
    c.n_exports = 2;
    c.alloc_cb = no_alloc;
    c.free_cb = release;
    c.claim_cb = claim;
    return c;
}

static void set_exports(void *a, void *b) {
    exports[0] = (nm_export_t){nm_hash("fw_a"), "fw_a", a, 0, NULL};
    exports[1] = (nm_export_t){nm_hash("fw_b"), "fw_b", b, 0, NULL};
    if (exports[0].hash > exports[1].hash) {
        nm_export_t t = exports[0];
        exports[0] = exports[1];
        exports[1] = t;
    }
}

/*
 * armv7m, no init: text 16 bytes { +0: ptr to text+8, +4: ptr to RW+4,
 * +8: fw_a (bound at install), +12: 0 }, data 8 bytes { +0: GOT entry for
 * fw_b (bound at load), +4: ptr to text+12 }, bss 8.
 */
static int build(uint8_t **out, size_t *len, uint32_t flags) {
    static const uint8_t text[16] = {8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t data[8] = {0, 0, 0, 0, 12, 0, 0, 0};
    static const char *const imports[] = {"fw_a", "fw_b"};
    static const nm_wexport_t ex[] = {{"get", 1, NM_REGION_TEXT, NM_EXPORT_FUNC},
                                      {"state", 4, NM_REGION_RW, NM_EXPORT_DATA}};
    static const nm_reloc_t relocs[] = {
        {.site = 0, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT},
        {.site = 4, .kind = NM_RELOC_PTR32, .target = NM_TARGET_RW},
        {.site = 8, .kind = NM_RELOC_PTR32, .target = NM_TARGET_IMPORT0},
        {.site = 16, .kind = NM_RELOC_PTR32, .target = NM_TARGET_IMPORT0 + 1},
        {.site = 20, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT},
    };
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_ARMV7M;
    m.float_abi = NM_FLOAT_SOFT;
    m.flags = flags;
    m.name = "xipmod";
    m.text = text;
    m.text_size = 16;
    m.data = data;
    m.data_size = 8;
    m.bss_size = 8;
    m.rw_offset = 16;
    m.got_offset = 0;
    m.got_count = 1;
    m.text_align_log2 = 2;
    m.rw_align_log2 = 3;
    m.relocs = relocs;
    m.n_relocs = 5;
    m.imports = imports;
    m.n_imports = 2;
    m.exports = ex;
    m.n_exports = 2;
    m.init_idx = NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    return nm_write_image(&m, out, len, NULL);
}

/* Writes into flash at ctx's offset, recording the order of offsets. */
typedef struct sink {
    uint8_t *at;
    uint32_t order[64];
    unsigned n;
    int fail_at; /* fail the n-th write (1-based), 0 never */
} sink_t;

static int sink_write(void *ctx, uint32_t off, const void *data, size_t len) {
    sink_t *s = ctx;
    if (s->n < 64) {
        s->order[s->n] = off;
    }
    s->n++;
    if (s->fail_at && (int)s->n == s->fail_at) {
        return -1;
    }
    memcpy(s->at + off, data, len);
    return 0;
}

static uint32_t u32(uintptr_t p) {
    return (uint32_t)p;
}

static void link_patches_text_and_data_and_leaves_the_got(void) {
    uint8_t *src;
    size_t len;
    CHECK_EQ(build(&src, &len, 0), NM_OK);
    nm_loader_config_t cfg = config();
    nm_detail_t d;
    uint32_t size = 0, want = 0, rw_size = 0, rw_align = 0;
    CHECK_EQ(nm_xip_size(&cfg, src, len, &want, &rw_size, &rw_align, &d), NM_OK);
    CHECK_EQ(want, len + NM_XIP_RECORD_SIZE);
    CHECK_EQ(rw_size, 16);
    CHECK_EQ(rw_align, 8);
    sink_t s = {.at = flash};
    memset(flash, 0xFF, 4096);
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, (uintptr_t)ram + 64, sink_write, &s, &size, &d),
             NM_OK);
    CHECK_EQ(size, want);
    CHECK(s.n >= 2 && s.n <= 64);
    CHECK_EQ(s.order[s.n - 1], 0); /* the header is written last */
    for (unsigned i = 1; i + 1 < s.n; i++) {
        CHECK(s.order[i] > s.order[i - 1]); /* the body in ascending order */
    }
    nm_image_t img;
    CHECK_EQ(nm_image_parse(flash, size, &img, &d), NM_OK);
    CHECK(img.flags & NM_FLAG_XIP_LINKED);
    CHECK_EQ(img.xip_text_addr, u32((uintptr_t)flash + 64));
    CHECK_EQ(img.xip_rw_addr, u32((uintptr_t)ram + 64));
    CHECK_EQ(img.xip_src_crc, t_rd32(src + 12));
    const uint8_t *t = flash + 64;
    CHECK_EQ(t_rd32(t), u32((uintptr_t)flash + 64 + 8));
    CHECK_EQ(t_rd32(t + 4), u32((uintptr_t)ram + 64 + 4));
    CHECK_EQ(t_rd32(t + 8), u32((uintptr_t)&fw_func_a));
    CHECK_EQ(t_rd32(t + 16), 0);                           /* GOT: still the addend */
    CHECK_EQ(t_rd32(t + 20), u32((uintptr_t)flash + 64 + 12)); /* data -> text */
    /* A linked image relinks for a new address (a store moving it): text
     * words follow text, RW words and imports stay, the record follows. */
    uint8_t *moved = malloc(size);
    sink_t s2 = {0};
    s2.at = moved;
    uint32_t size2 = 0;
    uintptr_t to = (uintptr_t)flash + 0x1000;
    CHECK_EQ(nm_xip_link(&cfg, flash, size, to, (uintptr_t)ram, sink_write, &s2, &size2, &d), NM_OK);
    CHECK_EQ(size2, size);
    CHECK_EQ(nm_image_parse(moved, size2, &img, &d), NM_OK);
    CHECK_EQ(img.xip_text_addr, u32(to + 64));
    CHECK_EQ(img.xip_rw_addr, u32((uintptr_t)ram + 64)); /* rw_addr argument ignored: the slot stays */
    CHECK_EQ(img.xip_src_crc, t_rd32(src + 12));
    CHECK_EQ(t_rd32(moved + 64), u32(to + 64 + 8));
    CHECK_EQ(t_rd32(moved + 64 + 4), u32((uintptr_t)ram + 64 + 4));
    CHECK_EQ(t_rd32(moved + 64 + 8), u32((uintptr_t)&fw_func_a));
    CHECK_EQ(t_rd32(moved + 64 + 20), u32(to + 64 + 12));
    /* and back again gives the original bytes */
    uint8_t *back = malloc(size);
    sink_t s3 = {0};
    s3.at = back;
    CHECK_EQ(nm_xip_link(&cfg, moved, size2, (uintptr_t)flash, 0, sink_write, &s3, NULL, &d), NM_OK);
    CHECK(memcmp(back, flash, size) == 0);
    free(moved);
    free(back);
    free(src);
}

static void load_xip_claims_rw_only_and_never_writes_text(void) {
    uint8_t *src;
    size_t len;
    CHECK_EQ(build(&src, &len, 0), NM_OK);
    nm_loader_config_t cfg = config();
    nm_detail_t d;
    uint32_t size;
    sink_t s = {.at = flash};
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, (uintptr_t)ram + 64, sink_write, &s, &size, &d),
             NM_OK);
    uint8_t before[4096];
    memcpy(before, flash, size);
    memset(ram, 0xAA, 256);
    claims = frees = 0;
    nm_module_t m;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_OK);
    CHECK_EQ(claims, 1);
    CHECK(claimed_at == ram + 64);
    CHECK_EQ(claimed_size, 16);
    CHECK(m.xip && m.text == flash + 64 && m.rw == ram + 64);
    CHECK_EQ(t_rd32(ram + 64), u32((uintptr_t)&fw_func_b));       /* GOT bound now */
    CHECK_EQ(t_rd32(ram + 68), u32((uintptr_t)flash + 64 + 12));  /* copied, pre-linked */
    CHECK_EQ(t_rd32(ram + 72), 0);                                /* bss cleared */
    CHECK_EQ(t_rd32(ram + 76), 0);
    CHECK_EQ(ram[80], 0xAA); /* nothing past RW */
    CHECK_EQ(memcmp(before, flash, size), 0);
    void *a;
    CHECK_EQ(nm_module_sym(&m, "state", &a, &d), NM_OK);
    CHECK(a == ram + 68);
    CHECK_EQ(nm_module_sym(&m, "get", &a, &d), NM_OK);
    CHECK(a == flash + 65);
    CHECK_EQ(nm_unload(&m), NM_OK);
    CHECK_EQ(frees, 1);
    /* and again: reload from the same flash */
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_OK);
    CHECK_EQ(nm_unload(&m), NM_OK);
    CHECK_EQ(frees, 2);
    CHECK_EQ(memcmp(before, flash, size), 0);
    free(src);
}

static void load_xip_refusals(void) {
    uint8_t *src;
    size_t len;
    CHECK_EQ(build(&src, &len, 0), NM_OK);
    nm_loader_config_t cfg = config();
    nm_detail_t d;
    uint32_t size;
    sink_t s = {.at = flash};
    nm_module_t m;
    claims = frees = 0;
    /* not linked, not PC-relative: must be installed first */
    memcpy(flash + 8192, src, len);
    CHECK_EQ(nm_load_xip(&cfg, &m, flash + 8192, len, &d), NM_ERR_XIP);
    CHECK(strstr(d.msg, "install it first") != NULL);
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, (uintptr_t)ram + 64, sink_write, &s, &size, &d),
             NM_OK);
    /* moved: linked for another address */
    memcpy(flash + 8192, flash, size);
    CHECK_EQ(nm_load_xip(&cfg, &m, flash + 8192, size, &d), NM_ERR_XIP);
    CHECK(strstr(d.msg, "linked for text at") != NULL);
    /* the firmware moved fw_a, which text holds: refused after the claim, released */
    set_exports(&fw_func_b, &fw_func_b);
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_XIP);
    CHECK(strstr(d.msg, "install it again") != NULL);
    CHECK_EQ(claims, frees);
    /* moving fw_b (only in the GOT) is fine */
    set_exports(&fw_func_a, &fw_func_a);
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_OK);
    CHECK_EQ(t_rd32(ram + 64), u32((uintptr_t)&fw_func_a));
    nm_unload(&m);
    set_exports(&fw_func_a, &fw_func_b);
    /* RW taken */
    refuse_claim = 1;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_NOMEM);
    CHECK(strstr(d.msg, "taken") != NULL);
    refuse_claim = 0;
    /* a flipped bit in the XIP record: the CRC catches it */
    flash[size - 5] ^= 1;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_CRC);
    flash[size - 5] ^= 1;
    /* a missing import */
    exports[1].name = "nope";
    exports[1].hash = nm_hash("nope");
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_NOSYM);
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, (uintptr_t)ram, sink_write, &s, NULL, &d), NM_ERR_NOSYM);
    set_exports(&fw_func_a, &fw_func_b);
    /* wrong arch */
    cfg.arch = NM_ARCH_ARMV6M;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_ARCH);
    cfg.arch = NM_ARCH_ARMV7M;
    CHECK_EQ(claims, frees);
    /* link-time refusals: misaligned text or RW, a failing write */
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash + 2, (uintptr_t)ram, sink_write, &s, NULL, &d), NM_ERR_XIP);
    CHECK(strstr(d.msg, "alignment") != NULL);
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, (uintptr_t)ram + 4, sink_write, &s, NULL, &d), NM_ERR_XIP);
    sink_t f = {.at = flash + 16384, .fail_at = 2};
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash + 16384, (uintptr_t)ram, sink_write, &f, NULL, &d), NM_ERR_IO);
    CHECK_EQ(nm_xip_link(NULL, src, len, 0, 0, sink_write, &s, NULL, &d), NM_ERR_INVAL);
    CHECK_EQ(nm_xip_link(&cfg, src, len, 0, 0, NULL, &s, NULL, &d), NM_ERR_INVAL);
    cfg.claim_cb = NULL;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_INVAL);
    free(src);
}

/* The store's fast path: the whole CRC was checked by the caller, which
 * recorded the meta CRC; the load checks everything but the text. */
static void load_xip_verified_checks_all_but_text(void) {
    uint8_t *src;
    size_t len;
    CHECK_EQ(build(&src, &len, 0), NM_OK);
    nm_loader_config_t cfg = config();
    nm_detail_t d;
    uint32_t size;
    sink_t s = {.at = flash};
    nm_module_t m;
    claims = frees = 0;
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, (uintptr_t)ram + 64, sink_write, &s, &size, &d),
             NM_OK);
    nm_image_t img;
    CHECK_EQ(nm_image_parse(flash, size, &img, &d), NM_OK);
    uint32_t meta = nm_image_meta_crc(&img);
    /* The definition: header, then everything after text. */
    uint32_t want = nm_crc32(nm_crc32(0, flash, 64), flash + 64 + img.text_size, size - 64 - img.text_size);
    CHECK_EQ(meta, want);
    CHECK_EQ(nm_load_xip_verified(&cfg, &m, flash, size, meta, &d), NM_OK);
    CHECK_EQ(t_rd32(ram + 64), u32((uintptr_t)&fw_func_b)); /* GOT bound as by nm_load_xip */
    CHECK_EQ(nm_unload(&m), NM_OK);
    /* A wrong meta CRC is refused before anything is claimed. */
    CHECK_EQ(nm_load_xip_verified(&cfg, &m, flash, size, meta ^ 1, &d), NM_ERR_CRC);
    CHECK(strstr(d.msg, "meta CRC") != NULL);
    /* A flipped bit in text: nm_load_xip catches it, the fast path trusts
     * the text (its caller checked it) and loads. */
    flash[64 + 13] ^= 0x10;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_ERR_CRC);
    CHECK_EQ(nm_load_xip_verified(&cfg, &m, flash, size, meta, &d), NM_OK);
    CHECK_EQ(nm_unload(&m), NM_OK);
    flash[64 + 13] ^= 0x10;
    /* Anything else flipped is refused: header fields no structure check
     * sees (bss_size, init index), the data image, the relocation stream,
     * the tables, the strings, the XIP record. */
    uint32_t at[] = {28, 29, 8, img.text_size + 64 + 2, (uint32_t)(img.relocs - flash),
                     (uint32_t)(img.exports - flash) + 4, (uint32_t)((const uint8_t *)img.strtab - flash) + 1,
                     size - 16, size - 12, size - 8, size - 1};
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
        flash[at[i]] ^= 0x04;
        int rc = nm_load_xip_verified(&cfg, &m, flash, size, meta, &d);
        CHECK(rc < 0);
        if (rc == NM_OK) {
            nm_unload(&m);
        }
        flash[at[i]] ^= 0x04;
    }
    /* The firmware moved an import bound into text: refused as by nm_load_xip. */
    set_exports(&fw_func_b, &fw_func_b);
    CHECK_EQ(nm_load_xip_verified(&cfg, &m, flash, size, meta, &d), NM_ERR_XIP);
    CHECK(strstr(d.msg, "install it again") != NULL);
    set_exports(&fw_func_a, &fw_func_b);
    CHECK_EQ(claims, frees);
    CHECK_EQ(nm_load_xip_verified(&cfg, &m, flash, size, meta, &d), NM_OK);
    CHECK_EQ(nm_unload(&m), NM_OK);
    free(src);
}

static void pcrel_image_with_text_relocations_is_refused(void) {
    uint8_t *src;
    size_t len;
    CHECK_EQ(build(&src, &len, NM_FLAG_RW_PCREL), NM_OK);
    nm_loader_config_t cfg = config();
    nm_detail_t d;
    nm_module_t m;
    memcpy(flash + 8192, src, len);
    CHECK_EQ(nm_load_xip(&cfg, &m, flash + 8192, len, &d), NM_ERR_XIP);
    CHECK(strstr(d.msg, "text has a relocation") != NULL);
    free(src);
}

int main(void) {
    flash = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    ram = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (flash == MAP_FAILED || ram == MAP_FAILED) {
        printf("mmap(MAP_32BIT) failed\n1 passed, 1 failed\n");
        return 1;
    }
    set_exports(&fw_func_a, &fw_func_b);
    RUN(link_patches_text_and_data_and_leaves_the_got);
    RUN(load_xip_claims_rw_only_and_never_writes_text);
    RUN(load_xip_refusals);
    RUN(load_xip_verified_checks_all_but_text);
    RUN(pcrel_image_with_text_relocations_is_refused);
    return TEST_DONE();
}
