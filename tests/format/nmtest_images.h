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
        {16, NM_RELOC_PTR32, NM_TARGET_IMPORT0},
        {0, NM_RELOC_PTR32, NM_TARGET_TEXT},
        {4, NM_RELOC_PTR32, NM_TARGET_RW},
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

#endif /* NATMOD_TEST_IMAGES_H */
