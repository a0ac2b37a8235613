/*
 * libFuzzer target for the MicroPython component's core (ports/micropython/
 * natmod_mp.c): what MP_PLAT_COMMIT_EXEC hands over comes from an .mpy file,
 * untrusted. The input is split into a small header (sizes, word), text,
 * rodata and the relocation stream; nm_mp_build and nm_mp_relocate_ram run
 * on exact-size copies so ASan sees any write out of bounds. A refusal must
 * come with a one-line detail; an accepted build must be a slice natmod's
 * own reader accepts, and the RAM relocation must accept what the build
 * accepted (the build refuses op >= 9 only).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natmod/abi.h"
#include "natmod/format.h"
#include "natmod_mp.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static uintptr_t fun_table[128];
static nm_export_t exports[1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8) {
        return 0;
    }
    unsigned word = data[0] & 1 ? 8 : 4;
    uint32_t text_size = (uint32_t)(data[1] | data[2] << 8) % 2048;
    uint32_t rodata_size = data[3] % 128, bss = data[4], qs = data[5], os = data[6];
    unsigned table = data[7];
    data += 8;
    size -= 8;
    if (text_size + rodata_size > size) {
        return 0;
    }
    uint8_t *text = malloc(text_size ? text_size : 1), *ro = malloc(rodata_size ? rodata_size : 1);
    memcpy(text, data, text_size);
    memcpy(ro, data + text_size, rodata_size);
    size_t rlen = size - text_size - rodata_size;
    uint8_t *rel = malloc(rlen ? rlen : 1);
    memcpy(rel, data + text_size + rodata_size, rlen);
    exports[0] = (nm_export_t){nm_hash("fw"), "fw", fun_table, 0, NULL};
    nm_mp_code_t c = {"fz", text, text_size, rel, (uint32_t)rlen, ro, rodata_size, bss, qs, os, (uint8_t)word,
                      table & 1 ? fun_table : NULL, table >> 1};
    nm_detail_t d;
    d.msg[0] = 0;
    size_t cap = nm_mp_slice_bound(&c), len = 0;
    int built = -1;
    if (cap) {
        uint8_t *s = malloc(cap);
        built = nm_mp_build(&c, word == 8 ? NM_ARCH_X64 : NM_ARCH_ARMV7M, 0, s, cap, &len, &d);
        if (built == NM_OK) {
            nm_image_t img;
            REQUIRE(len <= cap);
            nm_detail_t d2;
            int rc = nm_image_parse(s, len, &img, &d2);
            /* overlapping words from a repeated location are refused by the parse, never accepted wrongly */
            REQUIRE(rc == NM_OK || rc == NM_ERR_RELOC || rc == NM_ERR_CORRUPT);
        } else {
            REQUIRE(d.msg[0] != 0);
        }
        free(s);
    }
    uint8_t *t2 = malloc(text_size ? text_size : 1), *r2 = malloc(rodata_size ? rodata_size : 1);
    memcpy(t2, text, text_size);
    memcpy(r2, ro, rodata_size);
    c.text = t2;
    nm_mp_bases_t b = {(uintptr_t)t2, 0x1000, 0x2000, 0x3000, 0x4000, (uintptr_t)fun_table};
    d.msg[0] = 0;
    int rc = nm_mp_relocate_ram(&c, t2, r2, &b, exports, 1, &d);
    if (rc != NM_OK) {
        REQUIRE(d.msg[0] != 0);
    }
    if (built == NM_OK) {
        REQUIRE(rc == NM_OK || rc == NM_ERR_NOSYM);
    }
    free(t2);
    free(r2);
    free(text);
    free(ro);
    free(rel);
    return 0;
}
