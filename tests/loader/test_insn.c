#define _GNU_SOURCE /* MAP_32BIT: rv32 fields hold 32-bit addresses */
/*
 * RISC-V INSN relocations (docs/format.md 4.1) applied by the loader on the
 * host: the field encoder against words the GNU assembler produced, hi/lo
 * pairs decoded back to the address for random values, the rvmod module
 * (tests/format/nmtest_images.h) linked in place by nm_xip_link against
 * what GNU ld makes of the same source at the same addresses, relinked
 * (a store moving it) against a fresh link, loaded in RAM mode through
 * nm_load, and run in place through nm_load_xip. No module code runs: the
 * module has no init and the host is not RISC-V; only bytes are checked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../format/nmtest_images.h"
#include "../test.h"
#include "loader/loader_internal.h"
#include "natmod/loader.h"

/* ---- independent reference: decode the immediates as the ISA manual says ---- */

static int32_t sext(uint32_t v, unsigned bits) {
    uint32_t m = 1u << (bits - 1);
    return (int32_t)((v ^ m) - m);
}
static uint32_t imm_u(uint32_t insn) {
    return insn & 0xFFFFF000u;
}
static int32_t imm_i(uint32_t insn) {
    return sext(insn >> 20, 12);
}
static int32_t imm_s(uint32_t insn) {
    return sext(((insn >> 25) << 5) | ((insn >> 7) & 0x1F), 12);
}

/* One nmld_insn call on the word w, with A = base + addend. */
static uint32_t apply(uint32_t w, unsigned form, uint32_t base, uint32_t addend, uint32_t text,
                      uint32_t site, uint32_t hi_site) {
    uint8_t b[4];
    t_wr32(b, w);
    nm_reloc_t r = {.site = site, .kind = NM_RELOC_INSN, .target = NM_TARGET_RW, .form = (uint8_t)form,
                    .addend = addend, .hi_site = hi_site};
    nm_detail_t d;
    CHECK_EQ(nmld_insn(b, &r, base, text, 0, &d), NM_OK);
    return t_rd32(b);
}

/*
 * Expected words from GNU as 2.40 (riscv64-unknown-elf-as -march=rv32imc,
 * objdump -M no-aliases), starting from words whose immediates are all
 * ones (lui a0,0xfffff / addi a0,a0,-1 / sw a1,-1(a0) / auipc a5,0xfffff /
 * lw a0,-1(a5) / sw a1,-1(a5)): the fields are written, not added to.
 */
static void fields_match_the_assembler(void) {
    const uint32_t LUI = 0xfffff537u, ADDI = 0xfff50513u, SW = 0xfeb52fa3u;
    const uint32_t AUIPC = 0xfffff797u, LW5 = 0xfff7a503u, SW5 = 0xfeb7afa3u;
    static const struct {
        uint32_t a, lui, addi; /* lui a0,%hi(a) ; addi a0,a0,%lo(a) */
    } abs[] = {
        {0x12345678u, 0x12345537u, 0x67850513u},
        {0x12345800u, 0x12346537u, 0x80050513u}, /* lo = -2048: hi carries */
        {0x123457ffu, 0x12345537u, 0x7ff50513u}, /* lo = 2047: no carry */
        {0x12345fffu, 0x12346537u, 0xfff50513u}, /* lo = -1 */
        {0xfffff800u, 0x00000537u, 0x80050513u}, /* hi wraps to 0 */
        {0x7ffff800u, 0x80000537u, 0x80050513u},
    };
    for (size_t i = 0; i < sizeof abs / sizeof abs[0]; i++) {
        /* A = base + addend with a non-zero addend, mod 2^32 */
        CHECK_EQ(apply(LUI, NM_INSN_RV_HI20, abs[i].a - 0x10, 0x10, 0, 0, 0), abs[i].lui);
        CHECK_EQ(apply(ADDI, NM_INSN_RV_LO12_I, abs[i].a + 0x20, 0xFFFFFFE0u, 0, 4, 0), abs[i].addi);
    }
    CHECK_EQ(apply(SW, NM_INSN_RV_LO12_S, 0x12345000u, 0xabc, 0, 8, 0), 0xaab52e23u); /* sw a1,-1348(a0) */
    CHECK_EQ(apply(SW, NM_INSN_RV_LO12_S, 0x120007ffu, 0, 0, 8, 0), 0x7eb52fa3u);     /* sw a1,2047(a0) */
    /* AUIPC at 0x10000010 for 0x20000000: auipc a5,0x10000; lw a0,-16(a5); sw a1,-16(a5) */
    const uint32_t text = 0x10000000u;
    CHECK_EQ(apply(AUIPC, NM_INSN_RV_PCREL_HI20, 0x20000000u, 0, text, 0x10, 0), 0x10000797u);
    CHECK_EQ(apply(LW5, NM_INSN_RV_PCREL_LO12_I, 0x20000000u, 0, text, 0x14, 0x10), 0xff07a503u);
    CHECK_EQ(apply(SW5, NM_INSN_RV_PCREL_LO12_S, 0x20000000u, 0, text, 0x40, 0x10), 0xfeb7a823u);
    /* backwards, 0x804 below the AUIPC: auipc a5,0xfffff; lw a0,2044(a5); sw a1,2044(a5) */
    CHECK_EQ(apply(AUIPC, NM_INSN_RV_PCREL_HI20, 0x0FFFF80Cu, 0, text, 0x10, 0), 0xfffff797u);
    CHECK_EQ(apply(LW5, NM_INSN_RV_PCREL_LO12_I, 0x0FFFF80Cu, 0, text, 0x4, 0x10), 0x7fc7a503u);
    CHECK_EQ(apply(SW5, NM_INSN_RV_PCREL_LO12_S, 0x0FFFF80Cu, 0, text, 0x30, 0x10), 0x7eb7ae23u);
    /* the lo uses P_hi, not its own P */
    CHECK(apply(LW5, NM_INSN_RV_PCREL_LO12_I, 0x20000000u, 0, text, 0x14, 0x14) != 0xff07a503u);
}

/* For random A, P, and random other bits: the written hi and lo decode back
 * to A (LUI + I/S), or to A from P_hi (AUIPC + I/S), and no other bit moves. */
static void hi_plus_lo_decode_to_the_address(void) {
    uint32_t seed = 0x1234567u;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t a = seed;
        seed = seed * 1664525u + 1013904223u;
        uint32_t text = seed & ~1u;
        seed = seed * 1664525u + 1013904223u;
        uint32_t other = seed;
        uint32_t site = (seed >> 7) & 0xFFFE, hi_site = (seed >> 17) & 0x3FFE;
        if (i % 8 == 0) {
            a = (a & ~0xFFFu) | (0x7FFu + (uint32_t)(i / 8 % 3)); /* 0x7ff, 0x800, 0x801 */
        }
        uint32_t lui = apply(other, NM_INSN_RV_HI20, a, 0, 0, 0, 0);
        uint32_t addi = apply(other, NM_INSN_RV_LO12_I, a, 0, 0, 0, 0);
        uint32_t sw = apply(other, NM_INSN_RV_LO12_S, a, 0, 0, 0, 0);
        uint32_t auipc = apply(other, NM_INSN_RV_PCREL_HI20, a, 0, text, hi_site, 0);
        uint32_t lo_i = apply(other, NM_INSN_RV_PCREL_LO12_I, a, 0, text, site, hi_site);
        uint32_t lo_s = apply(other, NM_INSN_RV_PCREL_LO12_S, a, 0, text, site, hi_site);
        uint32_t p_hi = text + hi_site;
        bad += imm_u(lui) + (uint32_t)imm_i(addi) != a;
        bad += imm_u(lui) + (uint32_t)imm_s(sw) != a;
        bad += p_hi + imm_u(auipc) + (uint32_t)imm_i(lo_i) != a;
        bad += p_hi + imm_u(auipc) + (uint32_t)imm_s(lo_s) != a;
        bad += (lui & 0xFFFu) != (other & 0xFFFu) || (auipc & 0xFFFu) != (other & 0xFFFu);
        bad += (addi & 0xFFFFFu) != (other & 0xFFFFFu) || (lo_i & 0xFFFFFu) != (other & 0xFFFFFu);
        bad += (sw & 0x01FFF07Fu) != (other & 0x01FFF07Fu) || (lo_s & 0x01FFF07Fu) != (other & 0x01FFF07Fu);
    }
    CHECK_EQ(bad, 0);
}

/* ---- rvmod against GNU ld ---- */

/*
 * .text of rvmod as GNU ld 2.40 links it (riscv64-unknown-elf-ld -m
 * elf32lriscv --no-relax -Tdata=0x20000100 -Ttext=T): RW at 0x20000100
 * and text at T = 0x10000040, 0x10123440 and 0x7ffffc40 (func crosses
 * 0x80000000; the AUIPCs' lo halves carry).
 */
static const uint8_t ld_text_10000040[T_RV_TEXT_SIZE] = {
    0x37, 0x05, 0x00, 0x20, 0x13, 0x05, 0x45, 0x11, 0x23, 0x2a, 0xb5, 0x10, 0x37, 0x06, 0x00,
    0x10, 0x13, 0x06, 0x86, 0x07, 0x97, 0x17, 0x00, 0x10, 0x03, 0xa5, 0x87, 0x89, 0x23, 0xac,
    0xb7, 0x88, 0x01, 0x00, 0x17, 0x07, 0x00, 0x10, 0x13, 0x07, 0xe7, 0x0a, 0x21, 0xa0, 0x83,
    0x26, 0xe8, 0x99, 0x82, 0x80, 0x17, 0x18, 0x00, 0x10, 0xdd, 0xbf, 0x82, 0x80, 0x01, 0x00,
};
static const uint8_t ld_text_10123440[T_RV_TEXT_SIZE] = {
    0x37, 0x05, 0x00, 0x20, 0x13, 0x05, 0x45, 0x11, 0x23, 0x2a, 0xb5, 0x10, 0x37, 0x36, 0x12,
    0x10, 0x13, 0x06, 0x86, 0x47, 0x97, 0xd7, 0xed, 0x0f, 0x03, 0xa5, 0x87, 0x49, 0x23, 0xac,
    0xb7, 0x48, 0x01, 0x00, 0x17, 0xd7, 0xed, 0x0f, 0x13, 0x07, 0xe7, 0xca, 0x21, 0xa0, 0x83,
    0x26, 0xe8, 0x59, 0x82, 0x80, 0x17, 0xd8, 0xed, 0x0f, 0xdd, 0xbf, 0x82, 0x80, 0x01, 0x00,
};
static const uint8_t ld_text_7ffffc40[T_RV_TEXT_SIZE] = {
    0x37, 0x05, 0x00, 0x20, 0x13, 0x05, 0x45, 0x11, 0x23, 0x2a, 0xb5, 0x10, 0x37, 0x06, 0x00,
    0x80, 0x13, 0x06, 0x86, 0xc7, 0x97, 0x17, 0x00, 0xa0, 0x03, 0xa5, 0x87, 0xc9, 0x23, 0xac,
    0xb7, 0xc8, 0x01, 0x00, 0x17, 0x07, 0x00, 0xa0, 0x13, 0x07, 0xe7, 0x4a, 0x21, 0xa0, 0x83,
    0x26, 0xe8, 0xd9, 0x82, 0x80, 0x17, 0x18, 0x00, 0xa0, 0xdd, 0xbf, 0x82, 0x80, 0x01, 0x00,
};
#define LD_RW 0x20000100u

static uint8_t *flash, *ram; /* 64 KB each, below 4 GB */
static nm_export_t exports[1];
static int claims, frees;

static int claim(void *ctx, void *addr, size_t size, unsigned kind) {
    (void)ctx, (void)addr, (void)size, (void)kind;
    claims++;
    return 0;
}
static void release(void *ctx, void *p, unsigned kind) {
    (void)ctx, (void)p, (void)kind;
    frees++;
}

/* RAM mode: blocks from a MAP_32BIT mapping (low) or an ordinary one (high). */
static int high_mem;
static void *low_alloc(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx, (void)kind;
    size_t len = (size + align + 4095) & ~(size_t)4095;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (high_mem ? 0 : MAP_32BIT),
                      -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    claims++;
    return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1)); /* leaked on purpose: tests are short */
}

static nm_loader_config_t config(void) {
    nm_loader_config_t c = {0};
    c.arch = NM_ARCH_RV32IMC;
    c.float_abi = NM_FLOAT_SOFT;
    c.exports = exports;
    c.n_exports = 1;
    c.alloc_cb = low_alloc;
    c.free_cb = release;
    c.claim_cb = claim;
    return c;
}

typedef struct sink {
    uint8_t *at;
} sink_t;

static int sink_write(void *ctx, uint32_t off, const void *data, size_t len) {
    memcpy(((sink_t *)ctx)->at + off, data, len);
    return 0;
}

/* nm_xip_link src for dest (text at dest + 64) and rw into a new buffer. */
static uint8_t *link_at(const uint8_t *src, size_t len, uint32_t dest, uint32_t rw, uint32_t *size) {
    nm_loader_config_t cfg = config();
    nm_detail_t d;
    uint32_t want = 0;
    CHECK_EQ(nm_xip_size(&cfg, src, len, &want, NULL, NULL, &d), NM_OK);
    uint8_t *out = calloc(1, want);
    sink_t s = {out};
    int rc = nm_xip_link(&cfg, src, len, dest, rw, sink_write, &s, size, &d);
    CHECK_EQ(rc, NM_OK);
    if (rc != NM_OK) {
        fprintf(stderr, "    nm_xip_link: %s\n", d.msg);
    }
    return out;
}

static void xip_link_matches_gnu_ld_and_relinks_exactly(void) {
    uint8_t *src;
    size_t len;
    nm_detail_t d;
    CHECK_EQ(t_build_rv32(&src, &len, NULL, 0, 0, NULL, 0, &d), NM_OK);
    uint32_t s1, s2, s3, s4, f2, f3;
    uint8_t *a = link_at(src, len, 0x10000000u, LD_RW, &s1);
    CHECK_EQ(memcmp(a + 64, ld_text_10000040, T_RV_TEXT_SIZE), 0);
    CHECK_EQ(t_rd32(a + 64 + T_RV_TEXT_SIZE), 0x10000040u + 0x38); /* data -> func */
    CHECK_EQ(t_rd32(a + 64 + T_RV_TEXT_SIZE + 8), 0);               /* the GOT waits for load */
    nm_image_t img;
    CHECK_EQ(nm_image_parse(a, s1, &img, &d), NM_OK);
    CHECK_EQ(img.xip_text_addr, 0x10000040u);
    CHECK_EQ(img.xip_rw_addr, LD_RW);
    CHECK_EQ(img.xip_bind_crc, 0); /* INSN never binds an import */

    /* A store moves it: relinking the linked image equals a fresh link
     * there (same RW slot), byte for byte, and GNU ld's text. */
    uint8_t *b = link_at(a, s1, 0x10123400u, 0x30000000u /* ignored: RW stays */, &s2);
    uint8_t *fresh_b = link_at(src, len, 0x10123400u, LD_RW, &f2);
    CHECK(s2 == f2 && memcmp(b, fresh_b, s2) == 0);
    CHECK_EQ(memcmp(b + 64, ld_text_10123440, T_RV_TEXT_SIZE), 0);
    uint8_t *c = link_at(b, s2, 0x7ffffc00u, 0, &s3);
    uint8_t *fresh_c = link_at(src, len, 0x7ffffc00u, LD_RW, &f3);
    CHECK(s3 == f3 && memcmp(c, fresh_c, s3) == 0);
    CHECK_EQ(memcmp(c + 64, ld_text_7ffffc40, T_RV_TEXT_SIZE), 0);
    uint8_t *back = link_at(c, s3, 0x10000000u, 0, &s4);
    CHECK(s4 == s1 && memcmp(back, a, s1) == 0);
    free(a), free(b), free(c), free(back), free(fresh_b), free(fresh_c);
    free(src);

    /* RW_PCREL: RW follows text, so a relink moves it too (RW = text +
     * rw_offset = +0x40): again equal to a fresh link. */
    CHECK_EQ(t_build_rv32(&src, &len, NULL, 0, NM_FLAG_RW_PCREL, NULL, 0, &d), NM_OK);
    a = link_at(src, len, 0x10000000u, 0, &s1);
    b = link_at(a, s1, 0x10123400u, 0, &s2);
    fresh_b = link_at(src, len, 0x10123400u, 0, &f2);
    CHECK(s2 == f2 && memcmp(b, fresh_b, s2) == 0);
    CHECK_EQ(nm_image_parse(b, s2, &img, &d), NM_OK);
    CHECK_EQ(img.xip_rw_addr, 0x10123440u + 0x40);
    /* lui a0 + addi a0 at text 0/4 give RW + 0x14; the AUIPC at 0x14 and the lw at 0x18 give RW + 0x7ec */
    uint32_t lui = t_rd32(b + 64), addi = t_rd32(b + 68), auipc = t_rd32(b + 64 + 0x14), lw = t_rd32(b + 64 + 0x18);
    CHECK_EQ(imm_u(lui) + (uint32_t)imm_i(addi), 0x10123480u + 0x14);
    CHECK_EQ(0x10123440u + 0x14 + imm_u(auipc) + (uint32_t)imm_i(lw), 0x10123480u + 0x7ec);
    free(a), free(b), free(fresh_b);
    free(src);
}

/* Checks every rvmod field against the run-time addresses by decoding. */
static void check_rvmod_text(const uint8_t *t, uint32_t text, uint32_t rw) {
    const uint32_t var4 = rw + 0x14, func = text + 0x38, big = rw + 0x7ec, var = rw + 0x10, var9 = rw + 0x910;
    CHECK_EQ(imm_u(t_rd32(t + 0x00)) + (uint32_t)imm_i(t_rd32(t + 0x04)), var4);
    CHECK_EQ(imm_u(t_rd32(t + 0x00)) + (uint32_t)imm_s(t_rd32(t + 0x08)), var4);
    CHECK_EQ(imm_u(t_rd32(t + 0x0c)) + (uint32_t)imm_i(t_rd32(t + 0x10)), func);
    uint32_t hi1 = text + 0x14 + imm_u(t_rd32(t + 0x14));
    CHECK_EQ(hi1 + (uint32_t)imm_i(t_rd32(t + 0x18)), big);
    CHECK_EQ(hi1 + (uint32_t)imm_s(t_rd32(t + 0x1c)), big);
    CHECK_EQ(text + 0x22 + imm_u(t_rd32(t + 0x22)) + (uint32_t)imm_i(t_rd32(t + 0x26)), var);
    CHECK_EQ(text + 0x32 + imm_u(t_rd32(t + 0x32)) + (uint32_t)imm_i(t_rd32(t + 0x2c)), var9);
    /* the compressed instructions and the non-immediate bits are untouched */
    static const uint32_t keep[][2] = {{0x00, 0xFFF}, {0x04, 0xFFFFF}, {0x08, 0x01FFF07F}, {0x14, 0xFFF},
                                       {0x18, 0xFFFFF}, {0x1c, 0x01FFF07F}, {0x22, 0xFFF}, {0x2c, 0xFFFFF}};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        CHECK_EQ(t_rd32(t + keep[i][0]) & keep[i][1], t_rd32(t_rv_text + keep[i][0]) & keep[i][1]);
    }
    CHECK_EQ(memcmp(t + 0x20, t_rv_text + 0x20, 2), 0);
    CHECK_EQ(memcmp(t + 0x2a, t_rv_text + 0x2a, 2), 0);
    CHECK_EQ(memcmp(t + 0x36, t_rv_text + 0x36, 6), 0);
}

static void ram_load_writes_every_form(void) {
    for (int pcrel = 0; pcrel < 2; pcrel++) {
        uint8_t *src;
        size_t len;
        nm_detail_t d;
        CHECK_EQ(t_build_rv32(&src, &len, NULL, 0, pcrel ? NM_FLAG_RW_PCREL : 0, NULL, 0, &d), NM_OK);
        nm_loader_config_t cfg = config();
        nm_module_t m;
        int rc = nm_load(&cfg, &m, src, len, &d);
        CHECK_EQ(rc, NM_OK);
        if (rc != NM_OK) {
            fprintf(stderr, "    nm_load: %s\n", d.msg);
            free(src);
            continue;
        }
        uint32_t text = (uint32_t)(uintptr_t)m.text, rw = (uint32_t)(uintptr_t)m.rw;
        CHECK(pcrel ? rw == text + 0x40 : 1);
        check_rvmod_text(m.text, text, rw);
        CHECK_EQ(t_rd32(m.rw), text + 0x38);                           /* PTR32 -> func */
        CHECK_EQ(t_rd32(m.rw + 8), (uint32_t)(uintptr_t)exports[0].addr); /* GOT */
        /* the same addresses through install-time linking: the same text */
        uint32_t size;
        uint8_t *x = link_at(src, len, text - 64, rw, &size);
        CHECK_EQ(memcmp(x + 64, m.text, T_RV_TEXT_SIZE), 0);
        free(x);
        CHECK_EQ(nm_unload(&m), NM_OK);
        free(src);
    }
    /* A 64-bit loader given regions above 4 GB refuses rather than truncate. */
    high_mem = 1;
    uint8_t *src;
    size_t len;
    nm_detail_t d;
    CHECK_EQ(t_build_rv32(&src, &len, NULL, 0, 0, NULL, 0, &d), NM_OK);
    nm_loader_config_t cfg = config();
    nm_module_t m;
    void *probe = low_alloc(NULL, 1, 1, 0);
    if ((uintptr_t)probe > 0xFFFFFFFFu) {
        frees = 0;
        CHECK_EQ(nm_load(&cfg, &m, src, len, &d), NM_ERR_RELOC);
        CHECK_STR_CONTAINS(d.msg, "relocation 0 at site 0x0: INSN with a region above 4 GB");
        CHECK_EQ(frees, 2); /* TEXT and RW given back */
    } else {
        printf("    (mmap gave a low address: the above-4-GB refusal is not exercised)\n");
    }
    high_mem = 0;
    free(src);
}

static void xip_load_binds_only_the_got(void) {
    uint8_t *src;
    size_t len;
    nm_detail_t d;
    CHECK_EQ(t_build_rv32(&src, &len, NULL, 0, 0, NULL, 0, &d), NM_OK);
    nm_loader_config_t cfg = config();
    sink_t s = {flash};
    uint32_t size;
    uint32_t rw = (uint32_t)(uintptr_t)ram;
    CHECK_EQ(nm_xip_link(&cfg, src, len, (uintptr_t)flash, rw, sink_write, &s, &size, &d), NM_OK);
    uint8_t *before = malloc(size);
    memcpy(before, flash, size);
    check_rvmod_text(flash + 64, (uint32_t)(uintptr_t)flash + 64, rw);
    nm_module_t m;
    claims = frees = 0;
    CHECK_EQ(nm_load_xip(&cfg, &m, flash, size, &d), NM_OK);
    CHECK_EQ(claims, 1);
    CHECK(m.xip && m.text == flash + 64 && m.rw == ram);
    CHECK_EQ(t_rd32(ram), (uint32_t)(uintptr_t)flash + 64 + 0x38);
    CHECK_EQ(t_rd32(ram + 8), (uint32_t)(uintptr_t)exports[0].addr);
    CHECK_EQ(memcmp(before, flash, size), 0); /* INSN fields are not applied again */
    CHECK_EQ(nm_unload(&m), NM_OK);
    CHECK_EQ(frees, 1);
    free(before);
    free(src);

    /* An unlinked RW_PCREL rv32 image has text relocations: install first. */
    CHECK_EQ(t_build_rv32(&src, &len, NULL, 0, NM_FLAG_RW_PCREL, NULL, 0, &d), NM_OK);
    memcpy(flash + 8192, src, len);
    CHECK_EQ(nm_load_xip(&cfg, &m, flash + 8192, len, &d), NM_ERR_XIP);
    CHECK_STR_CONTAINS(d.msg, "text has a relocation at 0x0");
    free(src);
}

int main(void) {
    flash = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    ram = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (flash == MAP_FAILED || ram == MAP_FAILED) {
        printf("mmap(MAP_32BIT) failed\n1 passed, 1 failed\n");
        return 1;
    }
    exports[0] = (nm_export_t){nm_hash("fw_a"), "fw_a", ram + 0x8000, 0, NULL};
    RUN(fields_match_the_assembler);
    RUN(hi_plus_lo_decode_to_the_address);
    RUN(xip_link_matches_gnu_ld_and_relinks_exactly);
    RUN(ram_load_writes_every_form);
    RUN(xip_load_binds_only_the_got);
    return TEST_DONE();
}
