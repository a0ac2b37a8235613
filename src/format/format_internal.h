/*
 * Private helpers shared by the reader files (read.c, universal.c) and the
 * writer. Not part of the public contract.
 */
#ifndef NATMOD_FORMAT_INTERNAL_H
#define NATMOD_FORMAT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/format.h"

/* Little-endian reads/writes byte by byte: no alignment or host-endian assumptions. */
static inline uint16_t nmf_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t nmf_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void nmf_wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void nmf_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* 1 if the first min(len, 4) bytes of p equal magic; freestanding code may
 * use only memcpy/memset from libc, so no memcmp. */
static inline int nmf_magic_prefix(const uint8_t *p, size_t len, const char *magic) {
    for (size_t i = 0; i < len && i < 4; i++) {
        if (p[i] != (uint8_t)magic[i]) {
            return 0;
        }
    }
    return 1;
}

/* Appends "armv7m/soft" to d. */
static inline void nmf_detail_target(nm_detail_t *d, unsigned arch, unsigned fabi) {
    nm_detail_cat(d, nm_arch_name(arch));
    nm_detail_cat(d, "/");
    nm_detail_cat(d, nm_float_name(fabi));
}

/* Header field offsets (see format.h). */
enum {
    NMF_OFF_MAGIC = 0,
    NMF_OFF_VERSION = 4,
    NMF_OFF_ARCH = 6,
    NMF_OFF_FLOAT = 7,
    NMF_OFF_FLAGS = 8,
    NMF_OFF_CRC = 12,
    NMF_OFF_IMAGE_SIZE = 16,
    NMF_OFF_TEXT_SIZE = 20,
    NMF_OFF_DATA_SIZE = 24,
    NMF_OFF_BSS_SIZE = 28,
    NMF_OFF_RW_OFFSET = 32,
    NMF_OFF_GOT_OFFSET = 36,
    NMF_OFF_GOT_COUNT = 40,
    NMF_OFF_N_IMPORTS = 42,
    NMF_OFF_N_EXPORTS = 44,
    NMF_OFF_INIT_IDX = 46,
    NMF_OFF_DEINIT_IDX = 48,
    NMF_OFF_TEXT_ALIGN = 50,
    NMF_OFF_RW_ALIGN = 51,
    NMF_OFF_N_RELOCS = 52,
    NMF_OFF_RELOC_SIZE = 56,
    NMF_OFF_STRTAB_SIZE = 60,
};

/* Universal container offsets. */
enum {
    NMF_UOFF_VERSION = 4,
    NMF_UOFF_N_SLICES = 6,
    NMF_UOFF_TOTAL_SIZE = 8,
    NMF_UOFF_CRC = 12,
    /* entry fields */
    NMF_UE_ARCH = 0,
    NMF_UE_FLOAT = 1,
    NMF_UE_ZERO = 2,
    NMF_UE_OFFSET = 4,
    NMF_UE_SIZE = 8,
    NMF_UE_CRC = 12,
};

/* Longest ULEB128 the stream may hold: 5 bytes carry 32 bits. */
#define NMF_ULEB_MAX 5

/* Most ULEB128 numbers in one entry: delta, code, then for INSN form,
 * addend and (forms 4, 5) hi_site. */
#define NMF_ENTRY_ULEBS 5

/* 1 if an INSN form pairs with (needs) a hi_site. */
static inline int nmf_insn_has_hi(unsigned form) {
    return form == NM_INSN_RV_PCREL_LO12_I || form == NM_INSN_RV_PCREL_LO12_S;
}

/* 1 if the 32-bit RISC-V instruction whose low byte is op (bits 6:0 are the
 * major opcode; bits 1:0 = 11 say "not compressed") is one the form's field
 * belongs to (docs/format.md 4.1): LUI for HI20, AUIPC for PCREL_HI20,
 * LOAD, LOAD-FP, OP-IMM or JALR for the I forms, STORE or STORE-FP for the
 * S forms. A 16-bit instruction never qualifies, so a 4-byte field write
 * can never reach into the instruction after it. */
static inline int nmf_insn_opcode_ok(unsigned form, uint8_t op) {
    op &= 0x7F;
    switch (form) {
    case NM_INSN_RV_HI20:
        return op == 0x37;
    case NM_INSN_RV_PCREL_HI20:
        return op == 0x17;
    case NM_INSN_RV_LO12_I:
    case NM_INSN_RV_PCREL_LO12_I:
        return op == 0x03 || op == 0x07 || op == 0x13 || op == 0x67;
    case NM_INSN_RV_LO12_S:
    case NM_INSN_RV_PCREL_LO12_S:
        return op == 0x23 || op == 0x27;
    default:
        return 0;
    }
}

/* "RV_HI20"...; "?" for an unknown form. */
static inline const char *nmf_insn_form_name(unsigned form) {
    static const char *const names[NM_INSN_FORM_COUNT] = {
        "RV_HI20", "RV_LO12_I", "RV_LO12_S", "RV_PCREL_HI20", "RV_PCREL_LO12_I", "RV_PCREL_LO12_S",
    };
    return form < NM_INSN_FORM_COUNT ? names[form] : "?";
}

#endif /* NATMOD_FORMAT_INTERNAL_H */
