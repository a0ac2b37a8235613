/*
 * libFuzzer target for the module reader and the loader.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_loader.c src/format/[*].c src/loader/[*].c   (globs)
 *   ./a.out -max_total_time=60 tests/corpus/nmod
 *
 * Every input goes through slice selection, the full parse, the accessors,
 * the relocation walk, and then the loader's phases (verify, resolve, place,
 * reloc) into malloc'd memory (below 4 GB for the rv32imc board). Module code is never called: the phases are
 * driven through loader_internal.h instead of nm_load, so no init runs.
 * Install-time linking (nm_xip_link) runs on every input too, into a
 * buffer; whatever it accepts must come out as an image the reader accepts
 * (same CRC rules, XIP record), and that image is relinked elsewhere and
 * back, which must give the same bytes.
 * write.c is not linked (this is the freestanding side), so no input is
 * written back.
 */
#define _GNU_SOURCE /* posix_memalign, strnlen, MAP_32BIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "loader/loader_internal.h"
#include "natmod/format.h"
#include "natmod/loader.h"

static int fz_var;
static void fz_func(void) {
}

/* Sorted by hash at first use. */
static nm_export_t fz_exports[] = {
    {0, "host_add", (const void *)(uintptr_t)fz_func, 0, "int (int, int)"}, /* typed: the ABI check runs */
    {0, "marker", &fz_var, 0, NULL},
    {0, "hal_print", (const void *)(uintptr_t)fz_func, 0, NULL},
    {0, "memcpy", (const void *)(uintptr_t)fz_func, 0, NULL},
    {0, "fw_a", &fz_var, 0, NULL}, /* what the rv32 seeds (tests/format/nmtest_images.h) import */
};
#define FZ_N (sizeof fz_exports / sizeof fz_exports[0])

static void *fz_alloc(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx;
    (void)kind;
    if (size > (1u << 24)) {
        return NULL; /* a real board refuses too; keeps the fuzzer's RSS small */
    }
    void *p = NULL;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? p : NULL;
}

static void fz_free(void *ctx, void *ptr, unsigned kind) {
    (void)ctx;
    (void)kind;
    free(ptr);
}

static void sort_exports(void) {
    static int done;
    if (done) {
        return;
    }
    for (size_t i = 0; i < FZ_N; i++) {
        fz_exports[i].hash = nm_hash(fz_exports[i].name);
        fz_exports[i].type_hash = fz_exports[i].proto ? nm_hash(fz_exports[i].proto) : 0;
    }
    for (size_t i = 1; i < FZ_N; i++) { /* insertion sort: five entries */
        for (size_t j = i; j > 0 && fz_exports[j - 1].hash > fz_exports[j].hash; j--) {
            nm_export_t t = fz_exports[j];
            fz_exports[j] = fz_exports[j - 1];
            fz_exports[j - 1] = t;
        }
    }
    done = 1;
}

static void walk_image(const nm_image_t *img) {
    nm_import_info_t imp;
    nm_export_info_t ex;
    for (uint32_t i = 0; i < img->n_imports; i++) {
        if (nm_image_import(img, i, &imp) != NM_OK || strlen(imp.name) >= img->strtab_size ||
            (imp.proto && (strlen(imp.proto) >= img->strtab_size ||
                           (imp.type_hash && nm_hash(imp.proto) != imp.type_hash)))) {
            __builtin_trap();
        }
    }
    for (uint32_t i = 0; i < img->n_exports; i++) {
        if (nm_image_export(img, i, &ex) != NM_OK) {
            __builtin_trap();
        }
    }
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, img);
    int rc;
    while ((rc = nm_reloc_next(&it, &r)) == 1) {
    }
    if (rc != 0) {
        __builtin_trap(); /* the parse accepted a stream the iterator rejects */
    }
}

/* rv32imc fields hold 32-bit addresses, and a 64-bit loader refuses
 * regions above 4 GB: give that board blocks from MAP_32BIT mappings, each
 * ending where the mapping ends (outside ASan's heap, an overrun faults on
 * the next page unless another mapping happens to sit there). A load holds
 * at most two blocks (TEXT and RW) at once. */
static struct {
    void *ptr, *map;
    size_t len;
} fz_low[2];

static void *fz_alloc_low(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx;
    (void)kind;
    if (size > (1u << 24) || align > 4096) {
        return NULL;
    }
    for (size_t i = 0; i < 2; i++) {
        if (fz_low[i].ptr) {
            continue;
        }
        size_t len = (size + 4095) & ~(size_t)4095;
        uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        if (p == MAP_FAILED) {
            return NULL;
        }
        fz_low[i].map = p;
        fz_low[i].len = len;
        fz_low[i].ptr = p + (len - ((size + align - 1) & ~(align - 1)));
        return fz_low[i].ptr;
    }
    __builtin_trap(); /* the loader asked for a third block */
}

static void fz_free_low(void *ctx, void *ptr, unsigned kind) {
    (void)ctx;
    (void)kind;
    for (size_t i = 0; i < 2; i++) {
        if (fz_low[i].ptr == ptr) {
            munmap(fz_low[i].map, fz_low[i].len);
            fz_low[i].ptr = NULL;
            return;
        }
    }
    __builtin_trap(); /* freed something it was not given */
}

static void try_load(const uint8_t *data, size_t size, uint8_t arch, uint8_t fabi) {
    nm_loader_config_t cfg = {0};
    cfg.arch = arch;
    cfg.float_abi = fabi;
    cfg.exports = fz_exports;
    cfg.n_exports = FZ_N;
    cfg.alloc_cb = arch == NM_ARCH_RV32IMC ? fz_alloc_low : fz_alloc;
    cfg.free_cb = arch == NM_ARCH_RV32IMC ? fz_free_low : fz_free;
    nm_image_t img;
    nm_detail_t d;
    nm_module_t m;
    memset(&m, 0, sizeof m);
    if (nmld_verify(&cfg, data, size, &img, &d) != NM_OK || nmld_resolve(&cfg, &img, &d) != NM_OK ||
        nmld_place(&cfg, &img, &m, &d) != NM_OK) {
        return;
    }
    (void)nmld_reloc(&cfg, &img, &m, &d);
    nmld_release(&m);
}

/* nm_xip_link's output: a bounded buffer, every write checked in range. */
typedef struct fz_out {
    uint8_t buf[1u << 17];
    uint32_t high;
} fz_out_t;

static int fz_write(void *ctx, uint32_t off, const void *data, size_t len) {
    fz_out_t *o = ctx;
    if (off > sizeof o->buf || len > sizeof o->buf - off) {
        return -1;
    }
    memcpy(o->buf + off, data, len);
    o->high = off + (uint32_t)len > o->high ? off + (uint32_t)len : o->high;
    return 0;
}

static void try_xip_link(const uint8_t *data, size_t size, uint8_t arch, uint8_t fabi) {
    static fz_out_t out;
    nm_loader_config_t cfg = {0};
    cfg.arch = arch;
    cfg.float_abi = fabi;
    cfg.exports = fz_exports;
    cfg.n_exports = FZ_N;
    nm_detail_t d;
    uint32_t want = 0, got = 0, rw = 0, rw_align = 0;
    if (nm_xip_size(&cfg, data, size, &want, &rw, &rw_align, &d) != NM_OK || want > sizeof out.buf) {
        return;
    }
    out.high = 0;
    /* Addresses that fit 32 bits, aligned to anything up to 64 KB. */
    if (nm_xip_link(&cfg, data, size, 0x10000000u - NM_HEADER_SIZE + 0x10000u, 0x20010000u, fz_write,
                    &out, &got, &d) != NM_OK) {
        return;
    }
    nm_image_t img;
    if (got != want || out.high != got || nm_image_parse(out.buf, got, &img, &d) != NM_OK ||
        !(img.flags & NM_FLAG_XIP_LINKED) || img.data_size + img.bss_size != rw) {
        __builtin_trap(); /* the linker wrote something the reader refuses */
    }
    /* Relinking (a store moving the module) there and back again must give
     * the same bytes: every TEXT/RW word moves by exactly its base's change. */
    static fz_out_t moved, back;
    uint32_t got2 = 0, got3 = 0;
    moved.high = back.high = 0;
    if (nm_xip_link(&cfg, out.buf, got, 0x10000000u - NM_HEADER_SIZE + 0x50000u, 0x20030000u, fz_write,
                    &moved, &got2, &d) != NM_OK ||
        got2 != got || nm_image_parse(moved.buf, got2, &img, &d) != NM_OK ||
        img.xip_text_addr != 0x10050000u ||
        nm_xip_link(&cfg, moved.buf, got2, 0x10000000u - NM_HEADER_SIZE + 0x10000u, 0, fz_write, &back,
                    &got3, &d) != NM_OK ||
        got3 != got || memcmp(back.buf, out.buf, got) != 0) {
        __builtin_trap();
    }
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* Rewrites a slice's CRC so mutations reach the checks behind it. Returns the
 * new CRC (or the old one if image_size does not fit). */
static uint32_t fix_slice_crc(uint8_t *p, size_t size) {
    if (size < NM_HEADER_SIZE || memcmp(p, NM_MAGIC, 4) != 0) {
        return size >= 16 ? rd32(p + 12) : 0;
    }
    uint32_t isz = rd32(p + 16);
    if (isz >= NM_HEADER_SIZE && isz <= size) {
        wr32(p + 12, nm_image_crc(p, isz));
    }
    return rd32(p + 12);
}

static void fix_crcs(uint8_t *p, size_t size) {
    if (size >= 4 && memcmp(p, NM_UNIVERSAL_MAGIC, 4) == 0 && size >= NM_UNIVERSAL_HEADER_SIZE) {
        uint32_t n = (uint32_t)(p[6] | (p[7] << 8));
        if (n > NM_UNIVERSAL_MAX_SLICES || 16 + 16 * n > size) {
            return;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *e = p + 16 + 16 * i;
            uint32_t off = rd32(e + 4), sz = rd32(e + 8);
            if ((uint64_t)off + sz <= size) {
                wr32(e + 12, fix_slice_crc(p + off, sz));
            }
        }
        wr32(p + 12, nm_crc32(0, p + 16, 16 * n));
    } else {
        fix_slice_crc(p, size);
    }
}

static void run_all(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sort_exports();
    run_all(data, size);
    /* Again with every CRC made right: random mutations almost never keep a
     * CRC valid, and the deep table/stream checks sit behind it. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        fix_crcs(copy, size);
        run_all(copy, size);
        free(copy);
    }
    return 0;
}

/* The signature policy on every parsed slice: one trusted key, RFC 8032's
 * TEST 1 public key, whose key id the signed seeds carry
 * (tests/loader/gen_corpus.c), so mutations of them reach the verifier
 * with the trailer, key id and message as the input has them. */
static const uint8_t fz_trusted[1][NM_PUBKEY_SIZE] = {
    {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
     0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a}};

static void trust_check(const nm_image_t *img) {
    nm_loader_config_t c;
    nm_detail_t d;
    memset(&c, 0, sizeof c);
    c.trusted_keys = fz_trusted;
    c.n_trusted_keys = 1;
    int rc = nm_trust_check(&c, img, &d);
    /* no seed carries a valid signature and the fuzzer cannot make one:
     * only a slice the policy does not verify (SIG_CHECKED) may pass */
    if (rc == NM_OK && !(img->flags & NM_FLAG_SIG_CHECKED)) {
        __builtin_trap();
    }
    if (rc != NM_OK && (rc != NM_ERR_TRUST || !d.msg[0])) {
        __builtin_trap();
    }
}

static void run_all(const uint8_t *data, size_t size) {
    nm_detail_t d;
    nm_image_t img;
    nm_slice_info_t s;

    if (nm_image_parse(data, size, &img, &d) == NM_OK) {
        walk_image(&img);
        trust_check(&img);
    }
    /* The store's fast path (nm_image_parse_meta with the meta CRC a store
     * would have recorded): the structure walk runs whatever the bytes, and
     * on a slice whose CRC is right its verdict is nm_image_parse's. */
    if (nm_image_parse_header(data, size, &img, &d) == NM_OK) {
        nm_image_t fast;
        int rc = nm_image_parse_meta(data, size, nm_image_meta_crc(&img), &fast, &d);
        if (rc == NM_OK) {
            walk_image(&fast);
        }
        if (nm_image_crc(img.base, img.image_size) == img.crc32 && rc != nm_image_parse(data, size, &img, &d)) {
            __builtin_trap();
        }
    }
    int n = nm_universal_count(data, size, &d);
    for (int i = 0; i < n; i++) {
        if (nm_universal_slice(data, size, (uint32_t)i, &s, &d) != NM_OK ||
            (uint64_t)s.offset + s.size > size) {
            __builtin_trap();
        }
        if (nm_image_parse(data + s.offset, s.size, &img, &d) == NM_OK) {
            walk_image(&img);
        }
    }
    if (nm_select_slice(data, size, NM_ARCH_ARMV7EMDP, NM_FLOAT_SOFT, &s, &d) == NM_OK &&
        (uint64_t)s.offset + s.size > size) {
        __builtin_trap();
    }
    /* The loader as an x86-64 host, and as a Thumb board (PTR32 paths). */
    try_load(data, size, NM_ARCH_X64, NM_FLOAT_HARD);
    try_load(data, size, NM_ARCH_ARMV7EMDP, NM_FLOAT_SOFT);
    try_xip_link(data, size, NM_ARCH_ARMV7EMDP, NM_FLOAT_SOFT);
    try_xip_link(data, size, NM_ARCH_X64, NM_FLOAT_HARD);
    /* rv32imc: INSN entries in RAM mode, installed, and relinked */
    try_load(data, size, NM_ARCH_RV32IMC, NM_FLOAT_SOFT);
    try_xip_link(data, size, NM_ARCH_RV32IMC, NM_FLOAT_SOFT);
    if (strnlen(d.msg, sizeof d.msg) >= sizeof d.msg) {
        __builtin_trap(); /* details are always terminated */
    }
}
