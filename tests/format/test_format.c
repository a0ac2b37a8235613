#define _POSIX_C_SOURCE 200809L /* clock_gettime */
/*
 * The .nmod reader and writer: round trips, and every field and section
 * corrupted in turn. Corruptions behind the CRC re-compute it, so each case
 * reaches the check it is aimed at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../test.h"
#include "format/writer.h"
#include "natmod/format.h"
#include "nmtest_images.h"

/* ---- a richer x86-64 module used by several tests ---- */

static uint8_t big_text[70000];
static uint8_t rich_data[40];

static const char *const rich_imports[] = {"hal_print", "memcpy"};
static const nm_wexport_t rich_exports[] = {
    {"run", 4, NM_REGION_TEXT, NM_EXPORT_FUNC},
    {"counter", 44, NM_REGION_RW, NM_EXPORT_DATA}, /* in bss */
    {"hal_print", 0, NM_REGION_TEXT, NM_EXPORT_FUNC}, /* shares its string with the import */
    {"stop", 8, NM_REGION_TEXT, NM_EXPORT_FUNC},
};
/* Deliberately unsorted; one site needs a 3-byte ULEB delta. */
static const nm_reloc_t rich_relocs[] = {
    {.site = 70000 + 16, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0 + 1},
    {.site = 8, .kind = NM_RELOC_PTR64, .target = NM_TARGET_RW},
    {.site = 69000, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT},
    {.site = 70000 + 8, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0},
    {.site = 70000 + 0, .kind = NM_RELOC_PTR64, .target = NM_TARGET_TEXT},
};

static nm_wmodule_t rich_module(void) {
    nm_wmodule_t m = {0};
    for (size_t i = 0; i < sizeof big_text; i++) {
        big_text[i] = (uint8_t)(i * 7);
    }
    for (size_t i = 0; i < sizeof rich_data; i++) {
        rich_data[i] = (uint8_t)(0xA0 + i);
    }
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.flags = NM_FLAG_RW_PCREL;
    m.name = "rich";
    m.text = big_text;
    m.text_size = sizeof big_text;
    m.data = rich_data;
    m.data_size = sizeof rich_data;
    m.bss_size = 24;
    m.rw_offset = 70016;
    m.got_offset = 8;
    m.got_count = 2;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 3;
    m.relocs = rich_relocs;
    m.n_relocs = 5;
    m.imports = rich_imports;
    m.n_imports = 2;
    m.exports = rich_exports;
    m.n_exports = 4;
    m.init_idx = 0;
    m.deinit_idx = 3;
    return m;
}

static void crc32_matches_zlib(void) {
    CHECK_EQ(nm_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_EQ(nm_crc32(0, "", 0), 0);
    /* chainable */
    CHECK_EQ(nm_crc32(nm_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void detail_helpers_are_bounded(void) {
    nm_detail_t d;
    nm_detail_set(&d, "x=");
    nm_detail_hex(&d, 0x1f4);
    nm_detail_cat(&d, " n=");
    nm_detail_dec(&d, 4294967295u);
    CHECK(strcmp(d.msg, "x=0x1f4 n=4294967295") == 0);
    nm_detail_set(&d, "");
    nm_detail_hex(&d, 0);
    CHECK(strcmp(d.msg, "0x0") == 0);
    for (int i = 0; i < 50; i++) {
        nm_detail_cat(&d, "abcdefgh");
    }
    CHECK_EQ(strlen(d.msg), NM_DETAIL_MAX - 1);
    nm_detail_set(NULL, "ignored"); /* NULL detail is allowed */
    memset(d.msg, 'z', sizeof d.msg); /* unterminated: cat must still stay inside */
    nm_detail_cat(&d, "q");
    CHECK_EQ(d.msg[NM_DETAIL_MAX - 1], '\0');
}

static void round_trip_keeps_every_field(void) {
    nm_wmodule_t m = rich_module();
    uint8_t *img;
    size_t len;
    nm_detail_t d;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_OK);
    nm_image_t v;
    CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
    CHECK_EQ(v.image_size, len);
    CHECK_EQ(v.arch, NM_ARCH_X64);
    CHECK_EQ(v.float_abi, NM_FLOAT_HARD);
    CHECK_EQ(v.flags, NM_FLAG_RW_PCREL);
    CHECK_EQ(v.text_size, 70000);
    CHECK_EQ(v.data_size, 40);
    CHECK_EQ(v.bss_size, 24);
    CHECK_EQ(v.rw_offset, 70016);
    CHECK_EQ(v.got_offset, 8);
    CHECK_EQ(v.got_count, 2);
    CHECK_EQ(v.n_imports, 2);
    CHECK_EQ(v.n_exports, 4);
    CHECK_EQ(v.init_idx, 0);
    CHECK_EQ(v.deinit_idx, 3);
    CHECK_EQ(v.text_align_log2, 4);
    CHECK_EQ(v.rw_align_log2, 3);
    CHECK_EQ(v.n_relocs, 5);
    CHECK(memcmp(v.text, big_text, sizeof big_text) == 0);
    CHECK(memcmp(v.data, rich_data, sizeof rich_data) == 0);
    CHECK(strcmp(v.strtab, "rich") == 0);
    /* interning: "rich", "hal_print", "memcpy", "run", "counter", "stop" once each */
    CHECK_EQ(v.strtab_size, 5 + 10 + 7 + 4 + 8 + 5);

    nm_import_info_t imp;
    CHECK_EQ(nm_image_import(&v, 0, &imp), NM_OK);
    CHECK(strcmp(imp.name, "hal_print") == 0);
    CHECK_EQ(imp.hash, nm_hash("hal_print"));
    const char *imp0 = imp.name;
    CHECK_EQ(nm_image_import(&v, 1, &imp), NM_OK);
    CHECK(strcmp(imp.name, "memcpy") == 0);
    CHECK_EQ(nm_image_import(&v, 2, &imp), NM_ERR_CORRUPT);

    nm_export_info_t ex;
    for (uint32_t i = 0; i < 4; i++) {
        CHECK_EQ(nm_image_export(&v, i, &ex), NM_OK);
        CHECK(strcmp(ex.name, rich_exports[i].name) == 0);
        CHECK_EQ(ex.value, rich_exports[i].value);
        CHECK_EQ(ex.region, rich_exports[i].region);
        CHECK_EQ(ex.kind, rich_exports[i].kind);
    }
    CHECK_EQ(nm_image_export(&v, 2, &ex), NM_OK);
    CHECK(ex.name == imp0); /* the same bytes, stored once */
    CHECK_EQ(nm_image_export(&v, 4, &ex), NM_ERR_CORRUPT);

    static const uint32_t sites[] = {8, 69000, 70000, 70008, 70016};
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, &v);
    uint32_t n = 0;
    int rc;
    while ((rc = nm_reloc_next(&it, &r)) == 1) {
        CHECK(n < 5);
        if (n < 5) {
            CHECK_EQ(r.site, sites[n]);
        }
        n++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 5);
    nm_reloc_iter_init(&it, &v);
    nm_reloc_next(&it, &r);
    CHECK_EQ(r.kind, NM_RELOC_PTR64);
    CHECK_EQ(r.target, NM_TARGET_RW);

    /* header-only parse agrees, and trailing bytes after image_size are ignored */
    nm_image_t h;
    CHECK_EQ(nm_image_parse_header(img, len, &h, &d), NM_OK);
    CHECK_EQ(h.n_relocs, 5);
    uint8_t *padded = calloc(1, len + 100);
    memcpy(padded, img, len);
    CHECK_EQ(nm_image_parse(padded, len + 100, &v, &d), NM_OK);
    free(padded);

    /* deterministic output */
    uint8_t *img2;
    size_t len2;
    CHECK_EQ(nm_write_image(&m, &img2, &len2, &d), NM_OK);
    CHECK(len2 == len && memcmp(img, img2, len) == 0);
    free(img2);
    free(img);
}

static void writer_rejects_what_the_reader_would(void) {
    nm_wmodule_t m = rich_module();
    uint8_t *img = NULL;
    size_t len;
    nm_detail_t d;
    nm_reloc_t rel[2] = {{.site = 8, .kind = NM_RELOC_PTR64, .target = NM_TARGET_RW},
                         {.site = 8, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT}};
    m.relocs = rel;
    m.n_relocs = 2;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "same site");
    CHECK(img == NULL);
    rel[1].site = 12; /* inside the PTR64 word at 8 */
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "overlaps the previous");

    rel[1].site = 70000 + 40; /* first bss byte */
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    rel[1].site = 69998; /* crosses end of text */
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    rel[1].site = 16;
    rel[1].kind = 2;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    rel[1].kind = NM_RELOC_PTR32;
    rel[1].target = NM_TARGET_IMPORT0 + 2;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);

    m = rich_module();
    const char *dup_imports[] = {"a", "a"};
    m.imports = dup_imports;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_DUP);

    m = rich_module();
    nm_wexport_t ex[2] = {{"f", 0, NM_REGION_TEXT, NM_EXPORT_FUNC}, {"f", 4, NM_REGION_TEXT, NM_EXPORT_FUNC}};
    m.exports = ex;
    m.n_exports = 2;
    m.init_idx = m.deinit_idx = NM_NO_INDEX;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_DUP);
    ex[1].name = "g";
    ex[1].kind = NM_EXPORT_DATA;
    m.init_idx = 1;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_INVAL);

    m = rich_module();
    m.name = "";
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_INVAL);
    m = rich_module();
    m.arch = NM_ARCH_ARMV7M; /* 4-byte pointers: PTR64 refused, GOT now fits */
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    m = rich_module();
    m.rw_offset = 70004; /* RW_PCREL needs rw_offset aligned to 2^3 */
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_INVAL);
    CHECK(img == NULL);
}

static void truncation_at_every_length_fails(void) {
    uint8_t *img;
    size_t len;
    CHECK_EQ(t_build_stream_module(&img, &len), NM_OK);
    nm_image_t v;
    nm_detail_t d;
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        /* a fresh allocation of exactly n bytes lets ASan see any over-read */
        uint8_t *b = malloc(n ? n : 1);
        memcpy(b, img, n);
        int rc = nm_image_parse(b, n, &v, &d);
        if (rc != NM_ERR_TRUNCATED) {
            bad++;
            fprintf(stderr, "length %zu: %d (%s)\n", n, rc, d.msg);
        }
        CHECK_EQ(nm_image_parse_header(b, n, &v, &d), NM_ERR_TRUNCATED);
        free(b);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
    free(img);
}

static void flipping_any_bit_is_caught(void) {
    uint8_t *img;
    size_t len;
    CHECK_EQ(t_build_stream_module(&img, &len), NM_OK);
    nm_image_t v;
    nm_detail_t d;
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            img[i] ^= (uint8_t)(1u << bit);
            int rc = nm_image_parse(img, len, &v, &d);
            if (rc == NM_OK) {
                accepted++;
                fprintf(stderr, "flip byte %zu bit %d accepted\n", i, bit);
            }
            img[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK_EQ(accepted, 0);
    free(img);
}

typedef struct corruption {
    const char *what;
    uint32_t off;
    uint8_t width; /* 1, 2 or 4 */
    uint32_t value;
    int fix_crc;
    int expect;
    const char *detail; /* substring, or NULL */
} corruption_t;

static void every_header_field_is_checked(void) {
    uint8_t *img;
    size_t len;
    CHECK_EQ(t_build_stream_module(&img, &len), NM_OK);
    nm_image_t v;
    nm_detail_t d;
    CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
    const uint32_t strtab_off = (uint32_t)(v.strtab - (const char *)img);
    const uint32_t imp_off = (uint32_t)(v.imports - img), exp_off = (uint32_t)(v.exports - img);
    const corruption_t cases[] = {
        {"wrong magic", 0, 1, 'X', 0, NM_ERR_MAGIC, "magic"},
        {"version 2", 4, 2, 2, 1, NM_ERR_VERSION, "version 2"},
        {"arch 0", 6, 1, 0, 1, NM_ERR_ARCH, "unknown arch id 0"},
        {"arch 13", 6, 1, 13, 1, NM_ERR_ARCH, "unknown arch id 13"},
        {"float 2", 7, 1, 2, 1, NM_ERR_FLOAT_ABI, "float ABI"},
        {"unknown flag", 8, 4, 0x80, 1, NM_ERR_CORRUPT, "unknown bits 0x80"},
        {"bad crc", 12, 4, 0x12345678, 0, NM_ERR_CRC, "CRC"},
        {"image_size huge", 16, 4, 0xFFFFFFFF, 0, NM_ERR_TRUNCATED, "image_size"},
        {"image_size tiny", 16, 4, 63, 0, NM_ERR_CORRUPT, "smaller than the 64-byte header"},
        {"image_size - 1", 16, 4, (uint32_t)len - 1, 0, NM_ERR_CORRUPT, "sections add up"},
        {"text_size huge", 20, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "sections add up"},
        {"data_size huge", 24, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "sections add up"},
        {"bss_size huge", 28, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "overflows"},
        {"rw_offset in text", 32, 4, 8, 1, NM_ERR_CORRUPT, "rw_offset 0x8 lies inside text"},
        {"got_offset huge", 36, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "GOT"},
        {"got_count huge", 40, 2, 0xFFFF, 1, NM_ERR_CORRUPT, "GOT"},
        {"n_imports huge", 42, 2, 0xFFFF, 1, NM_ERR_CORRUPT, "sections add up"},
        {"n_exports huge", 44, 2, 0xFFFF, 1, NM_ERR_CORRUPT, "sections add up"},
        {"init_idx out of range", 46, 2, 2, 1, NM_ERR_CORRUPT, "init_idx 2"},
        {"init_idx is data", 46, 2, 1, 1, NM_ERR_CORRUPT, "not a function in text"},
        {"deinit_idx out of range", 48, 2, 7, 1, NM_ERR_CORRUPT, "deinit_idx 7"},
        {"text align 17", 50, 1, 17, 1, NM_ERR_CORRUPT, "text_align_log2 17"},
        {"rw align 200", 51, 1, 200, 1, NM_ERR_CORRUPT, "rw_align_log2 200"},
        {"n_relocs huge", 52, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "n_relocs"},
        {"n_relocs + 1", 52, 4, 4, 1, NM_ERR_CORRUPT, "n_relocs 4 cannot fit"},
        {"n_relocs - 1", 52, 4, 2, 1, NM_ERR_CORRUPT, "entries end at byte"},
        {"reloc_size huge", 56, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "sections add up"},
        {"strtab_size 0", 60, 4, 0, 1, NM_ERR_CORRUPT, "sections add up"},
        /* tables (CRC re-computed) */
        {"import name outside strtab", imp_off + 4, 4, v.strtab_size, 1, NM_ERR_CORRUPT, "outside the string table"},
        {"import hash wrong", imp_off, 4, 0x1234, 1, NM_ERR_CORRUPT, "does not match"},
        {"export name huge", exp_off, 4, 0xFFFFFFFF, 1, NM_ERR_CORRUPT, "export 0: name offset 0xffffffff"},
        {"export value outside text", exp_off + 4, 4, 16, 1, NM_ERR_CORRUPT, "outside text"},
        {"export RW value outside", exp_off + 12 + 4, 4, 32, 1, NM_ERR_CORRUPT, "outside RW"},
        {"export region 2", exp_off + 8, 1, 2, 1, NM_ERR_CORRUPT, "unknown region 2"},
        {"export kind 0", exp_off + 9, 1, 0, 1, NM_ERR_CORRUPT, "unknown kind 0"},
        {"export reserved", exp_off + 10, 2, 1, 1, NM_ERR_CORRUPT, "reserved"},
        {"init is data", exp_off + 9, 1, NM_EXPORT_DATA, 1, NM_ERR_CORRUPT, "not a function in text"},
        {"strtab unterminated", (uint32_t)len - 1, 1, 'x', 1, NM_ERR_CORRUPT, "NUL-terminated"},
        {"module name empty", strtab_off, 1, 0, 1, NM_ERR_CORRUPT, "module name"},
        /* relocation stream: 00 00 | 04 04 | 0c 08 */
        {"reloc kind 2 (INSN) on armv7m", T_STREAM_OFF + 1, 1, 0x02, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x0: INSN form 4 (RV_PCREL_LO12_I) in a module for armv7m"},
        {"reloc kind 3", T_STREAM_OFF + 1, 1, 0x03, 1, NM_ERR_RELOC, "relocation 0 at site 0x0: unknown kind 3"},
        {"reloc PTR64 on armv7m", T_STREAM_OFF + 1, 1, 0x01, 1, NM_ERR_RELOC, "PTR64"},
        {"reloc target beyond imports", T_STREAM_OFF + 5, 1, 3 << 2, 1, NM_ERR_RELOC, "target 3 beyond"},
        {"reloc site repeats", T_STREAM_OFF + 2, 1, 0, 1, NM_ERR_RELOC, "relocation 1 at site 0x0: site repeats"},
        {"reloc words overlap", T_STREAM_OFF + 2, 1, 2, 1, NM_ERR_RELOC, "relocation 1 at site 0x2: word overlaps the previous"},
        {"reloc word crosses text", T_STREAM_OFF + 2, 1, 13, 1, NM_ERR_RELOC,
         "relocation 1 at site 0xd: word crosses end of text (text_size 0x10)"},
        {"reloc word crosses data", T_STREAM_OFF + 4, 1, 26, 1, NM_ERR_RELOC, "crosses end of data"},
        {"reloc site in bss", T_STREAM_OFF + 4, 1, 28, 1, NM_ERR_RELOC, "relocation 2 at site 0x20: site is in bss"},
        {"reloc site beyond", T_STREAM_OFF + 4, 1, 0x7F, 1, NM_ERR_RELOC, "beyond text and data"},
        {"reloc ULEB runs off", T_STREAM_OFF + 5, 1, 0x80, 1, NM_ERR_CORRUPT, "runs past"},
    };
    uint8_t *b = malloc(len);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const corruption_t *k = &cases[c];
        memcpy(b, img, len);
        if (k->width == 1) {
            b[k->off] = (uint8_t)k->value;
        } else if (k->width == 2) {
            t_wr16(b + k->off, (uint16_t)k->value);
        } else {
            t_wr32(b + k->off, k->value);
        }
        if (k->fix_crc) {
            t_fix_crc(b, len);
        }
        d.msg[0] = 0;
        int rc = nm_image_parse(b, len, &v, &d);
        if (rc != k->expect || (k->detail && !strstr(d.msg, k->detail))) {
            test_failures++;
            fprintf(stderr, "case '%s': got %d (%s), detail \"%s\"; want %d, \"%s\"\n", k->what, rc,
                    nm_strerror(rc), d.msg, k->expect, k->detail ? k->detail : "");
        }
        test_checks++;
    }
    /* a ULEB of six bytes */
    memcpy(b, img, len);
    memcpy(b + T_STREAM_OFF, "\x80\x80\x80\x80\x80\x80", 6);
    t_fix_crc(b, len);
    CHECK_EQ(nm_image_parse(b, len, &v, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "longer than 5 bytes");
    /* ULEB with a fifth byte above 0x0F: 80 80 80 80 10 */
    memcpy(b, img, len);
    memcpy(b + T_STREAM_OFF, "\x80\x80\x80\x80\x10", 5);
    t_fix_crc(b, len);
    CHECK_EQ(nm_image_parse(b, len, &v, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "above 32 bits");
    free(b);
    free(img);
}

/* ---- universal ---- */

static int build_x64_slice(uint8_t **out, size_t *len, uint32_t value) {
    static uint8_t text[8];
    text[0] = 0xB8; /* mov eax, imm32; ret */
    memcpy(text + 1, &value, 4);
    text[5] = 0xC3;
    static const nm_wexport_t ex[] = {{"get", 0, NM_REGION_TEXT, NM_EXPORT_FUNC}};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.name = "uni";
    m.text = text;
    m.text_size = 8;
    m.rw_offset = 8;
    m.exports = ex;
    m.n_exports = 1;
    m.init_idx = m.deinit_idx = NM_NO_INDEX;
    return nm_write_image(&m, out, len, NULL);
}

static int build_universal(uint8_t **u, size_t *ulen) {
    uint8_t *s[3];
    size_t l[3];
    build_x64_slice(&s[0], &l[0], 1);
    t_build_stream_module(&s[1], &l[1]); /* armv7m/soft */
    t_build_stream_module(&s[2], &l[2]);
    s[2][6] = NM_ARCH_ARMV6M;
    t_fix_crc(s[2], l[2]);
    int rc = nm_write_universal((const uint8_t *const *)s, l, 3, u, ulen, NULL);
    for (int i = 0; i < 3; i++) {
        free(s[i]);
    }
    return rc;
}

static void universal_selects_the_right_slice(void) {
    uint8_t *u;
    size_t ulen;
    nm_detail_t d;
    CHECK_EQ(build_universal(&u, &ulen), NM_OK);
    CHECK(nm_is_universal(u, ulen));
    CHECK_EQ(nm_universal_count(u, ulen, &d), 3);
    nm_slice_info_t s;
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(nm_universal_slice(u, ulen, i, &s, &d), NM_OK);
        CHECK_EQ(s.offset % 16, 0);
        nm_image_t v;
        CHECK_EQ(nm_image_parse(u + s.offset, s.size, &v, &d), NM_OK);
        CHECK_EQ(v.arch, s.arch);
        CHECK_EQ(v.crc32, s.crc32);
    }
    CHECK_EQ(nm_universal_slice(u, ulen, 3, &s, &d), NM_ERR_NOENT);

    CHECK_EQ(nm_select_slice(u, ulen, NM_ARCH_X64, NM_FLOAT_HARD, &s, &d), NM_OK);
    CHECK_EQ(s.arch, NM_ARCH_X64);
    CHECK_EQ(nm_select_slice(u, ulen, NM_ARCH_ARMV7M, NM_FLOAT_SOFT, &s, &d), NM_OK);
    CHECK_EQ(s.arch, NM_ARCH_ARMV7M);
    /* armv7emdp runs armv7m and armv6m: the highest wins */
    CHECK_EQ(nm_select_slice(u, ulen, NM_ARCH_ARMV7EMDP, NM_FLOAT_SOFT, &s, &d), NM_OK);
    CHECK_EQ(s.arch, NM_ARCH_ARMV7M);
    CHECK_EQ(nm_select_slice(u, ulen, NM_ARCH_ARMV6M, NM_FLOAT_SOFT, &s, &d), NM_OK);
    CHECK_EQ(s.arch, NM_ARCH_ARMV6M);
    CHECK_EQ(nm_select_slice(u, ulen, NM_ARCH_X64, NM_FLOAT_SOFT, &s, &d), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(d.msg, "no slice for x86_64/soft (has x86_64/hard, armv7m/soft, armv6m/soft)");
    CHECK_EQ(nm_select_slice(u, ulen, NM_ARCH_RV32IMC, NM_FLOAT_SOFT, &s, &d), NM_ERR_ARCH);

    /* a plain slice is its own only slice */
    uint8_t *p;
    size_t plen;
    build_x64_slice(&p, &plen, 7);
    CHECK_EQ(nm_select_slice(p, plen, NM_ARCH_ARMV7M, NM_FLOAT_SOFT, &s, &d), NM_OK);
    CHECK_EQ(s.offset, 0);
    CHECK_EQ(s.size, plen);
    CHECK_EQ(s.arch, NM_ARCH_X64);
    CHECK_EQ(nm_select_slice("ELF\x7f", 4, NM_ARCH_X64, NM_FLOAT_HARD, &s, &d), NM_ERR_MAGIC);

    /* duplicate (arch, float) refused by the writer */
    const uint8_t *two[2] = {p, p};
    size_t lens[2] = {plen, plen};
    uint8_t *bad;
    size_t badlen;
    CHECK_EQ(nm_write_universal(two, lens, 2, &bad, &badlen, &d), NM_ERR_DUP);
    CHECK_STR_CONTAINS(d.msg, "both x86_64/hard");
    CHECK_EQ(nm_write_universal(two, lens, 0, &bad, &badlen, &d), NM_ERR_INVAL);
    free(p);
    free(u);
}

static void universal_corruptions_are_refused(void) {
    uint8_t *u;
    size_t ulen;
    nm_detail_t d;
    nm_slice_info_t s;
    CHECK_EQ(build_universal(&u, &ulen), NM_OK);
    uint8_t *b = malloc(ulen);

#define UCASE(mutate, fix, expect, text)                                                         \
    do {                                                                                       \
        memcpy(b, u, ulen);                                                                    \
        mutate;                                                                                \
        if (fix) {                                                                             \
            t_fix_universal_crc(b);                                                            \
        }                                                                                      \
        CHECK_EQ(nm_select_slice(b, ulen, NM_ARCH_X64, NM_FLOAT_HARD, &s, &d), expect);        \
        CHECK_STR_CONTAINS(d.msg, text);                                                       \
    } while (0)

    UCASE(b[4] = 2, 0, NM_ERR_VERSION, "version 2");
    UCASE(t_wr16(b + 6, 0), 0, NM_ERR_CORRUPT, "n_slices 0");
    UCASE(t_wr16(b + 6, 17), 0, NM_ERR_CORRUPT, "n_slices 17");
    UCASE(t_wr32(b + 8, 0xFFFFFFFF), 0, NM_ERR_TRUNCATED, "total_size");
    UCASE(t_wr32(b + 8, 20), 0, NM_ERR_CORRUPT, "smaller than the slice table");
    UCASE(b[16 + 4] ^= 0x10, 0, NM_ERR_CRC, "slice table CRC");
    UCASE(memcpy(b + 32, b + 16, 16), 1, NM_ERR_CORRUPT, "slice 1: overlaps slice 0");
    UCASE(t_wr32(b + 32 + 4, t_rd32(b + 32 + 4) + 1), 1, NM_ERR_CORRUPT, "not 16-aligned");
    UCASE(t_wr32(b + 32 + 4, 16), 1, NM_ERR_CORRUPT, "overlaps the slice table");
    UCASE(t_wr32(b + 32 + 8, 0xFFFFFFF0), 1, NM_ERR_CORRUPT, "ends beyond");
    UCASE(b[32] = NM_ARCH_ARMV7EM, 1, NM_ERR_CORRUPT, "disagrees");
    UCASE(b[32 + 2] = 1, 1, NM_ERR_CORRUPT, "reserved");
    UCASE(b[32] = 99, 1, NM_ERR_CORRUPT, "unknown arch id 99");
#undef UCASE

    /* truncation at every length and every bit flipped: never crash, never a wrong slice */
    int bad = 0;
    for (size_t n = 0; n < ulen; n++) {
        uint8_t *t = malloc(n ? n : 1);
        memcpy(t, u, n);
        int rc = nm_select_slice(t, n, NM_ARCH_X64, NM_FLOAT_HARD, &s, &d);
        nm_image_t v;
        /* "NM" could still start a plain slice: select passes it on, parse refuses it */
        if (rc == NM_OK && nm_image_parse(t + s.offset, s.size, &v, &d) == NM_OK) {
            bad++;
        }
        free(t);
    }
    CHECK_EQ(bad, 0);
    for (size_t i = 0; i < ulen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, u, ulen);
            b[i] ^= (uint8_t)(1u << bit);
            int rc = nm_select_slice(b, ulen, NM_ARCH_X64, NM_FLOAT_HARD, &s, &d);
            if (rc == NM_OK) {
                nm_image_t v;
                rc = nm_image_parse(b + s.offset, s.size, &v, &d);
                if (rc == NM_OK && v.arch != NM_ARCH_X64) {
                    bad++;
                    fprintf(stderr, "flip %zu/%d: got arch %u\n", i, bit, v.arch);
                }
                if (rc == NM_OK && memcmp(b, u, ulen) != 0 && i >= s.offset && i < s.offset + s.size) {
                    bad++; /* a flipped bit inside the chosen slice must be caught */
                }
            }
        }
    }
    CHECK_EQ(bad, 0);
    free(b);
    free(u);
}

/* ---- RISC-V INSN entries (docs/format.md 4.1) ---- */

static void insn_entries_round_trip_every_form(void) {
    uint8_t *img;
    size_t len;
    nm_detail_t d;
    CHECK_EQ(t_build_rv32(&img, &len, NULL, 0, 0, NULL, 0, &d), NM_OK);
    nm_image_t v;
    CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
    CHECK_EQ(v.n_relocs, T_RV_NRELOCS);
    /* The stream as the spec spells it: delta, (target << 2) | 2, form,
     * addend, and hi_site for forms 4 and 5 (0x7ec is ec 0f). */
    static const uint8_t head[] = {
        0x00, 0x06, 0x00, 0x14,       /* 0x00 HI20 RW+0x14 */
        0x04, 0x06, 0x01, 0x14,       /* 0x04 LO12_I */
        0x04, 0x06, 0x02, 0x14,       /* 0x08 LO12_S */
        0x04, 0x02, 0x00, 0x38,       /* 0x0c HI20 TEXT+0x38 */
        0x04, 0x02, 0x01, 0x38,       /* 0x10 LO12_I */
        0x04, 0x06, 0x03, 0xec, 0x0f, /* 0x14 PCREL_HI20 RW+0x7ec */
        0x04, 0x06, 0x04, 0xec, 0x0f, 0x14, /* 0x18 PCREL_LO12_I, hi 0x14 */
        0x04, 0x06, 0x05, 0xec, 0x0f, 0x14, /* 0x1c PCREL_LO12_S, hi 0x14 */
    };
    CHECK(v.reloc_size > sizeof head && memcmp(v.relocs, head, sizeof head) == 0);
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, &v);
    uint32_t n = 0;
    while (nm_reloc_next(&it, &r) == 1 && n < T_RV_NRELOCS) {
        const nm_reloc_t *w = &t_rv_relocs[n++];
        CHECK_EQ(r.site, w->site);
        CHECK_EQ(r.kind, w->kind);
        CHECK_EQ(r.target, w->target);
        CHECK_EQ(r.form, w->form);
        CHECK_EQ(r.addend, w->addend);
        CHECK_EQ(r.hi_site, w->hi_site);
    }
    CHECK_EQ(n, T_RV_NRELOCS);
    free(img);

    /* Every form with the extreme addends (negative ones are 5-byte ULEBs),
     * given to the writer out of order. */
    nm_reloc_t rel[T_RV_NRELOCS];
    static const uint32_t addends[] = {0, 1, 0x7FF, 0x800, 0xFFFFFFFFu, 0x80000000u, 0xFFFFF800u};
    for (size_t a = 0; a < sizeof addends / sizeof addends[0]; a++) {
        for (uint32_t i = 0; i < T_RV_NRELOCS; i++) {
            rel[T_RV_NRELOCS - 1 - i] = t_rv_relocs[i];
            if (t_rv_relocs[i].kind == NM_RELOC_INSN) {
                rel[T_RV_NRELOCS - 1 - i].addend = addends[a];
            }
        }
        CHECK_EQ(t_build_rv32(&img, &len, NULL, 0, NM_FLAG_RW_PCREL, rel, T_RV_NRELOCS, &d), NM_OK);
        CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
        nm_reloc_iter_init(&it, &v);
        n = 0;
        while (nm_reloc_next(&it, &r) == 1 && n < T_RV_NRELOCS) {
            const nm_reloc_t *w = &t_rv_relocs[n++];
            CHECK(r.site == w->site && r.form == w->form && r.hi_site == w->hi_site);
            CHECK_EQ(r.addend, w->kind == NM_RELOC_INSN ? addends[a] : 0);
        }
        CHECK_EQ(n, T_RV_NRELOCS);
        free(img);
    }
}

static void insn_writer_refuses_what_the_reader_would(void) {
    nm_reloc_t rel[T_RV_NRELOCS];
    uint8_t *img = NULL;
    size_t len;
    nm_detail_t d;
    static const struct {
        uint32_t entry; /* index in t_rv_relocs */
        int field;      /* 0 site, 1 target, 2 form, 3 addend, 4 hi_site */
        uint32_t value;
        const char *why;
    } cases[] = {
        {0, 0, 0x02, "does not match the instruction's opcode"}, /* the middle of the LUI */
        {1, 2, 6, "unknown INSN form"},
        {1, 1, NM_TARGET_IMPORT0, "targets an import"},
        {0, 2, NM_INSN_RV_LO12_I, "does not match the instruction's opcode"}, /* LUI with an I form */
        {2, 2, NM_INSN_RV_LO12_I, "does not match the instruction's opcode"}, /* SW with an I form */
        {5, 2, NM_INSN_RV_HI20, "does not match the instruction's opcode"},   /* AUIPC as LUI */
        {6, 4, 0x22, "hi_site is not an RV_PCREL_HI20 entry"},              /* another AUIPC: addend differs */
        {6, 4, 0x18, "hi_site is not an RV_PCREL_HI20 entry"},              /* itself */
        {6, 4, 0x04, "hi_site is not an RV_PCREL_HI20 entry"},              /* a form-1 entry */
        {6, 4, 0x2e, "hi_site is not an RV_PCREL_HI20 entry"},              /* no entry there */
        {6, 3, 0x7f0, "hi_site is not an RV_PCREL_HI20 entry"},             /* partner's addend differs */
        {6, 1, NM_TARGET_TEXT, "hi_site is not an RV_PCREL_HI20 entry"},    /* partner's target differs */
        {0, 4, 0x14, "hi_site set on a form that has none"},
        {12, 3, 4, "form, addend or hi_site set on a PTR relocation"},
        {13, 2, 1, "form, addend or hi_site set on a PTR relocation"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(rel, t_rv_relocs, sizeof rel);
        nm_reloc_t *r = &rel[cases[c].entry];
        uint32_t v = cases[c].value;
        if (cases[c].field == 0) {
            r->site = v;
        } else if (cases[c].field == 1) {
            r->target = v;
        } else if (cases[c].field == 2) {
            r->form = (uint8_t)v;
        } else if (cases[c].field == 3) {
            r->addend = v;
        } else {
            r->hi_site = v;
        }
        int rc = t_build_rv32(&img, &len, NULL, 0, 0, rel, T_RV_NRELOCS, &d);
        if (rc != NM_ERR_RELOC || !strstr(d.msg, cases[c].why)) {
            test_failures++;
            fprintf(stderr, "writer case %zu: got %d \"%s\", want RELOC \"%s\"\n", c, rc, d.msg, cases[c].why);
        }
        test_checks++;
        CHECK(img == NULL);
    }
    /* an odd site, a site in RW, one crossing the end of text */
    memcpy(rel, t_rv_relocs, sizeof rel);
    rel[0].site = 0x21; /* between the c.nop and the AUIPC */
    CHECK_EQ(t_build_rv32(&img, &len, NULL, 0, 0, rel, T_RV_NRELOCS, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "odd site");
    rel[0].site = T_RV_TEXT_SIZE + 4;
    CHECK_EQ(t_build_rv32(&img, &len, NULL, 0, 0, rel, T_RV_NRELOCS, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "not an instruction inside text");
    rel[0].site = T_RV_TEXT_SIZE - 2;
    CHECK_EQ(t_build_rv32(&img, &len, NULL, 0, 0, rel, T_RV_NRELOCS, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "not an instruction inside text");
    /* INSN only in rv32imc modules */
    nm_wmodule_t m = rich_module();
    nm_reloc_t one = {.site = 0, .kind = NM_RELOC_INSN, .target = NM_TARGET_RW, .form = NM_INSN_RV_HI20};
    m.relocs = &one;
    m.n_relocs = 1;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "not rv32imc");
    CHECK(img == NULL);
}

/* A stream for the splice tests: entries given as {site, code, form,
 * addend, hi_site}; form and addend are written for kind 2 only, hi_site
 * for forms 4 and 5 only. */
typedef struct raw_entry {
    uint32_t site, code, form, addend, hi_site;
} raw_entry_t;

static size_t raw_stream(uint8_t *out, const raw_entry_t *e, uint32_t n) {
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        len += t_put_uleb(out + len, e[i].site - (i ? e[i - 1].site : 0));
        len += t_put_uleb(out + len, e[i].code);
        if ((e[i].code & 3) == NM_RELOC_INSN) {
            len += t_put_uleb(out + len, e[i].form);
            len += t_put_uleb(out + len, e[i].addend);
            if (e[i].form == 4 || e[i].form == 5) {
                len += t_put_uleb(out + len, e[i].hi_site);
            }
        }
    }
    return len;
}

#define INSN_CODE(target) (((target) << 2) | NM_RELOC_INSN)
#define RW INSN_CODE(NM_TARGET_RW)
#define TX INSN_CODE(NM_TARGET_TEXT)
#define PTR32_TEXT ((NM_TARGET_TEXT << 2) | NM_RELOC_PTR32)

static void insn_reader_refuses_every_bad_entry(void) {
    uint8_t *base;
    size_t base_len;
    nm_detail_t d;
    nm_image_t v;
    CHECK_EQ(t_build_rv32(&base, &base_len, NULL, 0, 0, NULL, 0, &d), NM_OK);
    static struct {
        const char *what;
        raw_entry_t e[3];
        uint32_t n;
        int expect;
        const char *detail;
    } cases[] = {
        {"valid: lo after its hi", {{0x14, RW, 3, 0x7ec, 0}, {0x18, RW, 4, 0x7ec, 0x14}}, 2, NM_OK, NULL},
        {"valid: lo before its hi", {{0x2c, RW, 4, 0x910, 0x32}, {0x32, RW, 3, 0x910, 0}}, 2, NM_OK, NULL},
        {"valid: two lo, one hi", {{0x14, RW, 3, 5, 0}, {0x18, RW, 4, 5, 0x14}, {0x1c, RW, 5, 5, 0x14}}, 3, NM_OK, NULL},
        {"site in the data image", {{T_RV_TEXT_SIZE, RW, 1, 0, 0}}, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x3c: INSN form 1 (RV_LO12_I) is not in text"},
        {"site in bss", {{T_RV_TEXT_SIZE + 0x20, RW, 1, 0, 0}}, 1, NM_ERR_RELOC, "is not in text"},
        {"crosses end of text", {{T_RV_TEXT_SIZE - 2, RW, 1, 0, 0}}, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x3a: INSN form 1 (RV_LO12_I) crosses end of text (text_size 0x3c)"},
        {"odd site", {{0x5, RW, 1, 0, 0}}, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x5: INSN form 1 (RV_LO12_I) at an odd site"},
        {"form 6", {{0x4, RW, 6, 0, 0}}, 1, NM_ERR_RELOC, "relocation 0 at site 0x4: unknown INSN form 6"},
        {"form 127", {{0x4, RW, 127, 0, 0}}, 1, NM_ERR_RELOC, "unknown INSN form 127"},
        {"import target", {{0x4, INSN_CODE(NM_TARGET_IMPORT0), 1, 0, 0}}, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x4: INSN form 1 (RV_LO12_I) targets import 0"},
        {"target beyond imports", {{0x4, INSN_CODE(NM_TARGET_IMPORT0 + 1), 1, 0, 0}}, 1, NM_ERR_RELOC,
         "target 3 beyond the module's 1 imports"},
        {"LUI form on ADDI", {{0x4, RW, 0, 0, 0}}, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x4: INSN form 0 (RV_HI20) on opcode 0x13, not an instruction of that form"},
        {"I form on SW", {{0x8, RW, 1, 0, 0}}, 1, NM_ERR_RELOC, "(RV_LO12_I) on opcode 0x23"},
        {"S form on LW", {{0x18, RW, 5, 0, 0x14}}, 1, NM_ERR_RELOC, "(RV_PCREL_LO12_S) on opcode 0x3"},
        {"AUIPC form on LUI", {{0x0, RW, 3, 0, 0}}, 1, NM_ERR_RELOC, "(RV_PCREL_HI20) on opcode 0x37"},
        {"on a compressed instruction", {{0x20, RW, 1, 0, 0}}, 1, NM_ERR_RELOC, "on opcode 0x1"},
        {"hi_site beyond text", {{0x18, RW, 4, 0, T_RV_TEXT_SIZE}}, 1, NM_ERR_RELOC,
         "relocation 0 at site 0x18: INSN form 4 (RV_PCREL_LO12_I) hi_site 0x3c is not an instruction in text"},
        {"hi_site huge", {{0x18, RW, 4, 0, 0xFFFFFFFEu}}, 1, NM_ERR_RELOC, "is not an instruction in text"},
        {"hi_site odd", {{0x18, RW, 4, 0, 0x15}}, 1, NM_ERR_RELOC, "is not an instruction in text"},
        {"hi_site names no entry", {{0x14, RW, 3, 0, 0}, {0x18, RW, 4, 0, 0x22}}, 2, NM_ERR_RELOC,
         "relocation 1 at site 0x18: INSN form 4 (RV_PCREL_LO12_I) hi_site 0x22 is not an RV_PCREL_HI20 entry"},
        {"hi_site names a HI20", {{0x0, RW, 0, 0, 0}, {0x18, RW, 4, 0, 0x0}}, 2, NM_ERR_RELOC,
         "hi_site 0x0 is not an RV_PCREL_HI20 entry"},
        {"hi_site names an AUIPC with no entry", {{0x18, RW, 4, 0, 0x14}}, 1, NM_ERR_RELOC,
         "hi_site 0x14 is not an RV_PCREL_HI20 entry"},
        {"hi_site names itself", {{0x18, RW, 4, 0, 0x18}}, 1, NM_ERR_RELOC, "hi_site 0x18 is not"},
        {"hi_site names another lo", {{0x14, RW, 3, 7, 0}, {0x18, RW, 4, 7, 0x1c}, {0x1c, RW, 5, 7, 0x14}}, 3,
         NM_ERR_RELOC, "relocation 1 at site 0x18: INSN form 4 (RV_PCREL_LO12_I) hi_site 0x1c is not"},
        {"later hi with another addend", {{0x2c, RW, 4, 0x910, 0x32}, {0x32, RW, 3, 0x911, 0}}, 2, NM_ERR_RELOC,
         "relocation 0 at site 0x2c: INSN form 4 (RV_PCREL_LO12_I) hi_site 0x32 has another target or addend"},
        {"earlier hi with another target", {{0x14, RW, 3, 8, 0}, {0x1c, TX, 5, 8, 0x14}}, 2, NM_ERR_RELOC,
         "relocation 1 at site 0x1c: INSN form 5 (RV_PCREL_LO12_S) hi_site 0x14 has another target"},
        {"word overlaps an INSN", {{0x20, RW, 0, 0, 0}, {0x22, RW, 3, 0, 0}}, 2, NM_ERR_RELOC, "on opcode 0x1"},
        {"overlap after an INSN", {{0x22, RW, 3, 0, 0}, {0x24, RW, 3, 0, 0}}, 2, NM_ERR_RELOC,
         "relocation 1 at site 0x24: word overlaps the previous entry's"},
        {"PTR32 overlapping an INSN", {{0x0, RW, 0, 0, 0}, {0x2, PTR32_TEXT, 0, 0, 0}}, 2, NM_ERR_RELOC,
         "relocation 1 at site 0x2: word overlaps"},
    };
    uint8_t stream[64];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = raw_stream(stream, cases[c].e, cases[c].n), len;
        uint8_t *b = t_splice_stream(base, base_len, stream, n, cases[c].n, &len);
        d.msg[0] = 0;
        int rc = nm_image_parse(b, len, &v, &d);
        if (rc != cases[c].expect || (cases[c].detail && !strstr(d.msg, cases[c].detail))) {
            test_failures++;
            fprintf(stderr, "case '%s': got %d \"%s\"; want %d \"%s\"\n", cases[c].what, rc, d.msg,
                    cases[c].expect, cases[c].detail ? cases[c].detail : "");
        }
        test_checks++;
        free(b);
    }

    /* INSN in a module of another arch (the rvmod bytes relabelled) */
    uint8_t *b = malloc(base_len);
    memcpy(b, base, base_len);
    b[6] = NM_ARCH_ARMV7M;
    t_fix_crc(b, base_len);
    CHECK_EQ(nm_image_parse(b, base_len, &v, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "relocation 0 at site 0x0: INSN form 0 (RV_HI20) in a module for armv7m");
    b[6] = NM_ARCH_RV64IMC;
    t_fix_crc(b, base_len);
    CHECK_EQ(nm_image_parse(b, base_len, &v, &d), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(d.msg, "in a module for rv64imc");
    free(b);

    /* the extra ULEB128s of an entry are checked like the first two */
    static const uint8_t past_end[] = {0x14, 0x06, 0x04, 0x10};       /* hi_site missing */
    static const uint8_t form_past_end[] = {0x14, 0x06};              /* form missing */
    static const uint8_t long_addend[] = {0x14, 0x06, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10}; /* > 32 bits */
    static const struct {
        const uint8_t *s;
        size_t n;
        const char *detail;
    } ulebs[] = {
        {past_end, sizeof past_end, "relocation 0: ULEB128 runs past the end of the stream"},
        {form_past_end, sizeof form_past_end, "runs past the end"},
        {long_addend, sizeof long_addend, "ULEB128 longer than 5 bytes or above 32 bits"},
    };
    for (size_t c = 0; c < sizeof ulebs / sizeof ulebs[0]; c++) {
        size_t len;
        uint8_t *x = t_splice_stream(base, base_len, ulebs[c].s, ulebs[c].n, 1, &len);
        CHECK_EQ(nm_image_parse(x, len, &v, &d), NM_ERR_CORRUPT);
        CHECK_STR_CONTAINS(d.msg, ulebs[c].detail);
        free(x);
    }
    /* a valid INSN stream followed by a stray byte: not fully consumed */
    {
        static const uint8_t extra[] = {0x04, 0x06, 0x01, 0x14, 0x00};
        size_t len;
        uint8_t *x = t_splice_stream(base, base_len, extra, sizeof extra, 1, &len);
        CHECK_EQ(nm_image_parse(x, len, &v, &d), NM_ERR_CORRUPT);
        CHECK_STR_CONTAINS(d.msg, "entries end at byte 0x4");
        free(x);
    }
    free(base);
}

/* The hi_site search (forward cursor + marks) against a brute-force one,
 * on random streams of 1..200 entries: random AUIPC/ADDI text, random
 * targets and addends, hi_sites pointing anywhere (before, after, at no
 * entry, at the wrong form). */
static void insn_pair_check_agrees_with_brute_force(void) {
    enum { WORDS = 256 };
    static uint8_t text[WORDS * 4];
    static raw_entry_t e[WORDS];
    static uint8_t stream[WORDS * 16];
    uint32_t seed = 12345;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xFFFFFF)
    int mismatches = 0, accepted = 0;
    for (int trial = 0; trial < 4000; trial++) {
        /* even words AUIPC, odd words ADDI; a few of each swapped */
        for (uint32_t w = 0; w < WORDS; w++) {
            uint32_t insn = (w & 1) ? 0x00078793u : 0x00000797u;
            if (RND() % 16 == 0) {
                insn = (w & 1) ? 0x00000797u : 0x00078793u;
            }
            t_wr32(text + 4 * w, insn);
        }
        uint32_t want_n = 1 + RND() % (trial < 2000 ? 40 : 200), n = 0;
        for (uint32_t w = 0; w < WORDS && n < want_n; w++) {
            if (RND() % (WORDS / want_n + 1) != 0 && WORDS - w > want_n - n) {
                continue;
            }
            raw_entry_t *x = &e[n++];
            x->site = 4 * w;
            x->code = INSN_CODE(RND() % 2);
            x->addend = RND() % 3;
            x->form = (text[4 * w] == 0x97) ? 3 : 4;
            x->hi_site = 0;
        }
        /* every lo gets a partner among all the AUIPC entries, before or after it */
        uint32_t n_hi = 0;
        for (uint32_t i = 0; i < n; i++) {
            n_hi += e[i].form == 3;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (e[i].form != 4) {
                continue;
            }
            e[i].hi_site = 4 * (RND() % WORDS);
            if (n_hi) {
                uint32_t pick = RND() % n_hi;
                for (uint32_t k = 0; k < n; k++) {
                    if (e[k].form == 3 && pick-- == 0) {
                        e[i].hi_site = e[k].site;
                        e[i].code = e[k].code;
                        e[i].addend = e[k].addend;
                        break;
                    }
                }
            }
        }
        /* odd trials: break one lo in one of five ways */
        if (trial & 1) {
            for (uint32_t tries = 0; tries < n; tries++) {
                raw_entry_t *x = &e[RND() % n];
                if (x->form != 4) {
                    continue;
                }
                switch (RND() % 5) {
                case 0: x->hi_site = 4 * (RND() % WORDS); break;
                case 1: x->addend ^= 1; break;
                case 2: x->code ^= 4; break; /* the other target */
                case 3: x->hi_site = x->site; break;
                default: x->hi_site = e[RND() % n].site; break;
                }
                break;
            }
        }
        int want_ok = 1;
        uint32_t bad_index = 0;
        for (uint32_t i = 0; i < n && want_ok; i++) {
            if (e[i].form != 4) {
                continue;
            }
            int found = 0;
            for (uint32_t k = 0; k < n; k++) {
                found |= e[k].site == e[i].hi_site && e[k].form == 3 && e[k].code == e[i].code &&
                         e[k].addend == e[i].addend;
            }
            if (!found) {
                want_ok = 0;
                bad_index = i;
            }
        }
        uint8_t *base, *img;
        size_t base_len, len;
        nm_detail_t d;
        static const nm_reloc_t none[1];
        if (t_build_rv32(&base, &base_len, text, sizeof text, 0, none, 0, &d) != NM_OK) {
            CHECK(0);
            break;
        }
        size_t sn = raw_stream(stream, e, n);
        img = t_splice_stream(base, base_len, stream, sn, n, &len);
        nm_image_t v;
        int rc = nm_image_parse(img, len, &v, &d);
        char want_msg[64];
        snprintf(want_msg, sizeof want_msg, "relocation %u at site ", bad_index);
        if (want_ok ? rc != NM_OK : (rc != NM_ERR_RELOC || !strstr(d.msg, want_msg))) {
            if (mismatches++ < 5) {
                fprintf(stderr, "trial %d (%u entries): got %d \"%s\", want %s %s\n", trial, n, rc, d.msg,
                        want_ok ? "OK" : "RELOC", want_ok ? "" : want_msg);
            }
        }
        accepted += rc == NM_OK;
        free(img);
        free(base);
    }
#undef RND
    CHECK_EQ(mismatches, 0);
    CHECK(accepted > 400 && accepted < 3600); /* both outcomes well exercised */
    printf("    pair check: %d of 4000 random streams valid\n", accepted);
}

/* Large streams in the layouts the search is built for: each %pcrel_lo
 * next to its AUIPC (one forward cursor: linear), a second use reaching
 * back past another AUIPC (a near mark: a few entries), and every AUIPC far
 * from its uses in reverse order (each search starts at a mark: at most
 * n/8 entries). All must be accepted, and a break in the last pair found. */
static void insn_pair_check_on_large_streams(void) {
    enum { PAIRS = 8000 };
    uint8_t *text = malloc(PAIRS * 8);
    raw_entry_t *e = malloc(sizeof *e * PAIRS * 2);
    uint8_t *stream = malloc((size_t)PAIRS * 2 * 16);
    static const nm_reloc_t none[1];
    static const char *const names[] = {"each AUIPC before its use", "each AUIPC right after its use",
                                        "a use back past another AUIPC", "every AUIPC far from its use, reversed"};
    for (int layout = 0; layout < 4; layout++) {
        /* 0: AUIPC x, ADDI x, ...; 1: ADDI x, AUIPC x, ...;
         * 2: AUIPC x, ADDI x, AUIPC y, ADDI y, ADDI x (a use back past y), ...;
         * 3: all ADDIs, then all AUIPCs in reverse order */
        for (uint32_t i = 0; i < PAIRS; i++) {
            uint32_t hi = layout == 3 ? PAIRS + i : 2 * i + (layout == 1);
            uint32_t lo = layout == 3 ? PAIRS - 1 - i : 2 * i + (layout != 1);
            t_wr32(text + 4 * hi, 0x00000797u);
            t_wr32(text + 4 * lo, 0x00078793u);
            e[hi] = (raw_entry_t){4 * hi, INSN_CODE(NM_TARGET_RW), 3, i, 0};
            e[lo] = (raw_entry_t){4 * lo, INSN_CODE(NM_TARGET_RW), 4, i, 4 * hi};
        }
        _Static_assert(2 * PAIRS % 5 == 0, "layout 2 is whole groups of five");
        for (uint32_t w = 0; layout == 2 && w < 2 * PAIRS; w++) {
            uint32_t g = w / 5 * 5, k = w - g; /* k: 0 hi x, 1 lo x, 2 hi y, 3 lo y, 4 lo x */
            int is_hi = k == 0 || k == 2;
            uint32_t hi = k == 3 ? g + 2 : g;
            t_wr32(text + 4 * w, is_hi ? 0x00000797u : 0x00078793u);
            e[w] = (raw_entry_t){4 * w, INSN_CODE(NM_TARGET_RW), is_hi ? 3u : 4u, is_hi ? w : hi,
                                 is_hi ? 0 : 4 * hi};
        }
        uint8_t *base, *img;
        size_t base_len, len;
        nm_detail_t d;
        nm_image_t v;
        CHECK_EQ(t_build_rv32(&base, &base_len, text, PAIRS * 8, 0, none, 0, &d), NM_OK);
        size_t n = raw_stream(stream, e, 2 * PAIRS);
        img = t_splice_stream(base, base_len, stream, n, 2 * PAIRS, &len);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("    %u entries, %s: parsed in %.1f ms\n", 2 * PAIRS, names[layout],
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        free(img);
        /* the last lo in stream order pairs with a wrong addend */
        uint32_t last = layout == 3 ? PAIRS - 1 : 2 * PAIRS - 1 - (layout == 1);
        e[last].addend ^= 0x100;
        n = raw_stream(stream, e, 2 * PAIRS);
        img = t_splice_stream(base, base_len, stream, n, 2 * PAIRS, &len);
        CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_ERR_RELOC);
        char want[48];
        snprintf(want, sizeof want, "relocation %u at site 0x%x", last, 4 * last);
        CHECK_STR_CONTAINS(d.msg, want);
        free(img);
        free(base);
    }
    free(text);
    free(e);
    free(stream);
}

int main(void) {
    RUN(crc32_matches_zlib);
    RUN(detail_helpers_are_bounded);
    RUN(round_trip_keeps_every_field);
    RUN(writer_rejects_what_the_reader_would);
    RUN(truncation_at_every_length_fails);
    RUN(flipping_any_bit_is_caught);
    RUN(every_header_field_is_checked);
    RUN(universal_selects_the_right_slice);
    RUN(universal_corruptions_are_refused);
    RUN(insn_entries_round_trip_every_form);
    RUN(insn_writer_refuses_what_the_reader_would);
    RUN(insn_reader_refuses_every_bad_entry);
    RUN(insn_pair_check_agrees_with_brute_force);
    RUN(insn_pair_check_on_large_streams);
    return TEST_DONE();
}
