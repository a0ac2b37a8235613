/*
 * Test helpers shared by tests/format, tests/loader and the corpus generator:
 * little-endian patching, CRC fix-up, and a few reference modules built with
 * the writer. Header-only (static functions) so each test links on its own.
 */
#ifndef NATMOD_TEST_IMAGES_H
#define NATMOD_TEST_IMAGES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/writer.h"
#include "natmod/format.h"

static inline void t_wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void t_wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}
static inline uint32_t t_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t t_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* Recompute a slice's CRC after a deliberate corruption, so the test reaches
 * the check behind the CRC. Uses the (possibly corrupted) image_size only if
 * it fits the buffer. */
static inline void t_fix_crc(uint8_t *img, size_t len) {
    uint32_t size = t_rd32(img + 16);
    if (size < NM_HEADER_SIZE || size > len) {
        size = (uint32_t)len;
    }
    t_wr32(img + 12, nm_image_crc(img, size));
}

static inline void t_fix_universal_crc(uint8_t *u) {
    uint16_t n = t_rd16(u + 6);
    t_wr32(u + 12, nm_crc32(0, u + 16, (size_t)n * 16));
}

/*
 * "stream" module: armv7m/soft, 16 bytes text, 16 data, 16 bss, one import,
 * three relocations whose stream is exactly
 *   00 00   site 0,  PTR32, target TEXT
 *   04 04   site 4,  PTR32, target RW
 *   0c 08   site 16 (data 0), PTR32, import 0
 * so tests can patch single stream bytes. Stream starts at 64 + 16 + 16 = 96.
 */
#define T_STREAM_OFF 96
static inline int t_build_stream_module(uint8_t **out, size_t *len) {
    static const uint8_t text[16] = {0};
    static const uint8_t data[16] = {0};
    static const char *const imports[] = {"hal_print"};
    static const nm_wexport_t exports[] = {
        {"run", 1, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"state", 20, NM_REGION_RW, NM_EXPORT_DATA},
    };
    static const nm_reloc_t relocs[] = {
        {.site = 16, .kind = NM_RELOC_PTR32, .target = NM_TARGET_IMPORT0},
        {.site = 0, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT},
        {.site = 4, .kind = NM_RELOC_PTR32, .target = NM_TARGET_RW},
    };
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_ARMV7M;
    m.float_abi = NM_FLOAT_SOFT;
    m.name = "stream";
    m.text = text;
    m.text_size = 16;
    m.data = data;
    m.data_size = 16;
    m.bss_size = 16;
    m.rw_offset = 16;
    m.got_offset = 0;
    m.got_count = 1;
    m.text_align_log2 = 2;
    m.rw_align_log2 = 2;
    m.relocs = relocs;
    m.n_relocs = 3;
    m.imports = imports;
    m.n_imports = 1;
    m.exports = exports;
    m.n_exports = 2;
    m.init_idx = 0;
    m.deinit_idx = NM_NO_INDEX;
    return nm_write_image(&m, out, len, NULL);
}

/* ULEB128 of v at p; returns the bytes written (1..5). */
static inline size_t t_put_uleb(uint8_t *p, uint32_t v) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* A copy of slice img (len bytes) whose relocation stream is replaced by
 * the n bytes at stream holding n_relocs entries: reloc_size, n_relocs,
 * image_size and the CRC follow. Lets tests hand-craft streams the writer
 * would refuse. malloc'd; *out_len gets its size. */
static inline uint8_t *t_splice_stream(const uint8_t *img, size_t len, const uint8_t *stream, size_t n,
                                       uint32_t n_relocs, size_t *out_len) {
    uint32_t off = NM_HEADER_SIZE + t_rd32(img + 20) + t_rd32(img + 24), old = t_rd32(img + 56);
    size_t total = len - old + n;
    uint8_t *b = malloc(total);
    memcpy(b, img, off);
    memcpy(b + off, stream, n);
    memcpy(b + off + n, img + off + old, len - off - old);
    t_wr32(b + 16, (uint32_t)total);
    t_wr32(b + 52, n_relocs);
    t_wr32(b + 56, (uint32_t)n);
    t_fix_crc(b, total);
    *out_len = total;
    return b;
}

/*
 * "rvmod": an rv32imc module whose text is what GNU as 2.40 makes of this
 * (riscv64-unknown-elf-as -march=rv32imc -mabi=ilp32; var = RW+0x10,
 * big = RW+0x7ec, func = text+0x38):
 *     0 lui a0,%hi(var+4)          22 .Lhi2: auipc a4,%pcrel_hi(var)
 *     4 addi a0,a0,%lo(var+4)      26 addi a4,a4,%pcrel_lo(.Lhi2)
 *     8 sw a1,%lo(var+4)(a0)       2a c.j after
 *     c lui a2,%hi(func)           2c .Llo_before: lw a3,%pcrel_lo(.Lhi3)(a6)
 *    10 addi a2,a2,%lo(func)       30 c.jr ra
 *    14 .Lhi1: auipc a5,%pcrel_hi(big)      32 after: .Lhi3: auipc a6,%pcrel_hi(var+0x900)
 *    18 lw a0,%pcrel_lo(.Lhi1)(a5)          36 c.j .Llo_before
 *    1c sw a1,%pcrel_lo(.Lhi1)(a5)          38 func: c.jr ra
 *    20 c.nop                               3a c.nop
 * and whose relocations are its 12 R_RISCV_{HI20,LO12_*,PCREL_*} as INSN
 * entries (every form; AUIPCs at 2-aligned sites; a %pcrel_lo before its
 * AUIPC), then two PTR32 in data: a pointer to func at data+0 and import
 * 0's GOT slot at data+8. data 16 bytes, bss 0x920 (so every addend lies in
 * RW), no init: loader tests never run its code.
 */
#define T_RV_TEXT_SIZE 60
static const uint8_t t_rv_text[T_RV_TEXT_SIZE] = {
    0x37, 0x05, 0x00, 0x00, 0x13, 0x05, 0x45, 0x00, 0x23, 0x22, 0xb5, 0x00, 0x37, 0x06, 0x00,
    0x00, 0x13, 0x06, 0x06, 0x00, 0x97, 0x07, 0x00, 0x00, 0x03, 0xa5, 0x07, 0x00, 0x23, 0xa0,
    0xb7, 0x00, 0x01, 0x00, 0x17, 0x07, 0x00, 0x00, 0x13, 0x07, 0x07, 0x00, 0x21, 0xa0, 0x83,
    0x26, 0x08, 0x00, 0x82, 0x80, 0x17, 0x08, 0x00, 0x00, 0xdd, 0xbf, 0x82, 0x80, 0x01, 0x00,
};
#define T_RV_INSN(s, f, t, a, h)                                                                   \
    {.site = (s), .kind = NM_RELOC_INSN, .target = (t), .form = (f), .addend = (a), .hi_site = (h)}
#define T_RV_NRELOCS 14
static const nm_reloc_t t_rv_relocs[T_RV_NRELOCS] = {
    T_RV_INSN(0x00, NM_INSN_RV_HI20, NM_TARGET_RW, 0x14, 0),
    T_RV_INSN(0x04, NM_INSN_RV_LO12_I, NM_TARGET_RW, 0x14, 0),
    T_RV_INSN(0x08, NM_INSN_RV_LO12_S, NM_TARGET_RW, 0x14, 0),
    T_RV_INSN(0x0c, NM_INSN_RV_HI20, NM_TARGET_TEXT, 0x38, 0),
    T_RV_INSN(0x10, NM_INSN_RV_LO12_I, NM_TARGET_TEXT, 0x38, 0),
    T_RV_INSN(0x14, NM_INSN_RV_PCREL_HI20, NM_TARGET_RW, 0x7ec, 0),
    T_RV_INSN(0x18, NM_INSN_RV_PCREL_LO12_I, NM_TARGET_RW, 0x7ec, 0x14),
    T_RV_INSN(0x1c, NM_INSN_RV_PCREL_LO12_S, NM_TARGET_RW, 0x7ec, 0x14),
    T_RV_INSN(0x22, NM_INSN_RV_PCREL_HI20, NM_TARGET_RW, 0x10, 0),
    T_RV_INSN(0x26, NM_INSN_RV_PCREL_LO12_I, NM_TARGET_RW, 0x10, 0x22),
    T_RV_INSN(0x2c, NM_INSN_RV_PCREL_LO12_I, NM_TARGET_RW, 0x910, 0x32),
    T_RV_INSN(0x32, NM_INSN_RV_PCREL_HI20, NM_TARGET_RW, 0x910, 0),
    {.site = T_RV_TEXT_SIZE + 0, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT},
    {.site = T_RV_TEXT_SIZE + 8, .kind = NM_RELOC_PTR32, .target = NM_TARGET_IMPORT0},
};

/* rvmod with the given text (NULL: t_rv_text), flags and relocations
 * (NULL: t_rv_relocs). Imports "fw_a"; exports "run" (text 0). */
static inline int t_build_rv32(uint8_t **out, size_t *len, const uint8_t *text, uint32_t text_size,
                               uint32_t flags, const nm_reloc_t *relocs, uint32_t n_relocs, nm_detail_t *d) {
    static const uint8_t data[16] = {0x38};
    static const char *const imports[] = {"fw_a"};
    static const nm_wexport_t exports[] = {{"run", 0, NM_REGION_TEXT, NM_EXPORT_FUNC}};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_RV32IMC;
    m.float_abi = NM_FLOAT_SOFT;
    m.flags = flags;
    m.name = "rvmod";
    m.text = text ? text : t_rv_text;
    m.text_size = text ? text_size : T_RV_TEXT_SIZE;
    m.data = data;
    m.data_size = sizeof data;
    m.bss_size = 0x920;
    m.rw_offset = (m.text_size + 7u) & ~7u;
    m.got_offset = 8;
    m.got_count = 1;
    m.text_align_log2 = 2;
    m.rw_align_log2 = 3;
    m.relocs = relocs ? relocs : t_rv_relocs;
    m.n_relocs = relocs ? n_relocs : T_RV_NRELOCS;
    m.imports = imports;
    m.n_imports = 1;
    m.exports = exports;
    m.n_exports = 1;
    m.init_idx = NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    return nm_write_image(&m, out, len, d);
}

#endif /* NATMOD_TEST_IMAGES_H */
