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

#endif /* NATMOD_FORMAT_INTERNAL_H */
