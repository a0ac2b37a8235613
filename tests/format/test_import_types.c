/*
 * The import type table (docs/format.md 2.3): written only when an import
 * has a type, read back through nm_image_import, kept in front of a
 * trailer, and every malformed entry refused with its own detail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "format/writer.h"
#include "natmod/format.h"
#include "nmtest_images.h"

static const uint8_t text[16] = {0xc3};
static const uint8_t data[16] = {0};
static const char *const imports[] = {"hal_i2c_write", "hal_scale", "memcpy"};
static const nm_wexport_t exports[] = {{"run", 0, NM_REGION_TEXT, NM_EXPORT_FUNC}};
static const nm_reloc_t relocs[] = {
    {.site = 16, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0 + 0},
};

#define P_I2C "int (uint8_t, const void *, size_t)"
#define P_SCALE "volatile uint32_t"

/* hal_i2c_write: hash and text; hal_scale: text only (hash 0, unchecked);
 * memcpy: unknown. */
static const nm_wimport_type_t types3[] = {{0, P_I2C}, {0, P_SCALE}, {0, NULL}};

static nm_wmodule_t module(const nm_wimport_type_t *types) {
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.name = "typed";
    m.text = text;
    m.text_size = sizeof text;
    m.data = data;
    m.data_size = sizeof data;
    m.rw_offset = 16;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 3;
    m.relocs = relocs;
    m.n_relocs = 1;
    m.imports = imports;
    m.n_imports = 3;
    m.exports = exports;
    m.n_exports = 1;
    m.init_idx = m.deinit_idx = NM_NO_INDEX;
    m.import_types = types;
    return m;
}

static uint8_t *build(const nm_wimport_type_t *types, size_t *len) {
    nm_wmodule_t m = module(types);
    uint8_t *img = NULL;
    nm_detail_t d;
    CHECK_EQ(nm_write_image(&m, &img, len, &d), NM_OK);
    return img;
}

static nm_wimport_type_t typed[3];

static void setup_types(void) {
    memcpy(typed, types3, sizeof typed);
    typed[0].type_hash = nm_hash(P_I2C);
}

static void table_round_trips_after_the_string_table(void) {
    size_t len;
    uint8_t *img = build(typed, &len);
    nm_image_t v;
    nm_detail_t d;
    CHECK_EQ(nm_image_parse(img, len, &v, &d), NM_OK);
    CHECK(v.flags & NM_FLAG_IMPORT_TYPES);
    CHECK(v.import_types == (const uint8_t *)v.strtab + v.strtab_size);
    CHECK_EQ(v.image_size, (uint32_t)(v.import_types - img) + 3 * NM_IMPORT_TYPE_SIZE);
    nm_import_info_t imp;
    CHECK_EQ(nm_image_import(&v, 0, &imp), NM_OK);
    CHECK(!strcmp(imp.name, "hal_i2c_write"));
    CHECK_EQ(imp.type_hash, nm_hash(P_I2C));
    CHECK(imp.proto && !strcmp(imp.proto, P_I2C));
    CHECK_EQ(nm_image_import(&v, 1, &imp), NM_OK);
    CHECK_EQ(imp.type_hash, 0);
    CHECK(imp.proto && !strcmp(imp.proto, P_SCALE));
    CHECK_EQ(nm_image_import(&v, 2, &imp), NM_OK);
    CHECK(imp.type_hash == 0 && imp.proto == NULL);
    CHECK_EQ(t_rd32(v.import_types + 2 * NM_IMPORT_TYPE_SIZE + 4), NM_NO_PROTO);
    /* The prototypes come after every name in the string table. */
    nm_import_info_t first;
    nm_export_info_t ex;
    CHECK_EQ(nm_image_import(&v, 0, &first), NM_OK);
    CHECK_EQ(nm_image_export(&v, 0, &ex), NM_OK);
    CHECK(first.proto > ex.name && ex.name > imp.name);
    free(img);
}

/* No types, or only empty ones: the bytes of a module written before the table existed. */
static void untyped_modules_are_byte_identical(void) {
    static const nm_wimport_type_t none[3] = {{0, NULL}, {0, NULL}, {0, NULL}};
    size_t a_len, b_len;
    uint8_t *a = build(NULL, &a_len), *b = build(none, &b_len);
    CHECK_EQ(a_len, b_len);
    CHECK(a && b && !memcmp(a, b, a_len));
    nm_image_t v;
    CHECK_EQ(nm_image_parse(a, a_len, &v, NULL), NM_OK);
    CHECK(!(v.flags & NM_FLAG_IMPORT_TYPES) && v.import_types == NULL);
    free(a);
    free(b);
}

/* A trailer (docs/format.md 2.2) goes after the table; both stay readable,
 * and the signed message covers the table. */
static void trailer_follows_the_table(void) {
    size_t len, tlen;
    uint8_t *img = build(typed, &len), *t = NULL;
    static const uint8_t key_id[NM_KEY_ID_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};
    nm_detail_t d;
    CHECK_EQ(nm_slice_set_trailer(img, len, 7, key_id, &t, &tlen, &d), NM_OK);
    nm_image_t v;
    CHECK_EQ(nm_image_parse(t, tlen, &v, &d), NM_OK);
    CHECK_EQ(v.version, 7);
    CHECK(v.is_signed);
    CHECK(v.import_types && v.key_id == v.import_types + 3 * NM_IMPORT_TYPE_SIZE + 8);
    CHECK(v.signature > v.import_types);
    nm_import_info_t imp;
    CHECK_EQ(nm_image_import(&v, 0, &imp), NM_OK);
    CHECK(imp.proto && !strcmp(imp.proto, P_I2C));
    /* Removing the trailer gives the typed slice back. */
    uint8_t *u = NULL;
    size_t ulen;
    CHECK_EQ(nm_slice_set_trailer(t, tlen, 0, NULL, &u, &ulen, &d), NM_OK);
    CHECK(ulen == len && !memcmp(u, img, len));
    free(u);
    free(t);
    free(img);
}

static void writer_refuses_a_hash_that_is_not_the_texts(void) {
    nm_wimport_type_t bad[3];
    memcpy(bad, typed, sizeof bad);
    bad[0].type_hash ^= 1;
    nm_wmodule_t m = module(bad);
    uint8_t *img = NULL;
    size_t len;
    nm_detail_t d;
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(d.msg, "hal_i2c_write");
    bad[0] = (nm_wimport_type_t){0, ""};
    m = module(bad);
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(d.msg, "empty prototype");
    bad[0] = (nm_wimport_type_t){0x1234, NULL}; /* a hash without text is fine */
    m = module(bad);
    CHECK_EQ(nm_write_image(&m, &img, &len, &d), NM_OK);
    free(img);
}

/* Each malformed table entry: patched (CRC fixed), refused with its detail. */
static void malformed_tables_are_refused(void) {
    size_t len;
    uint8_t *good = build(typed, &len);
    nm_image_t v;
    CHECK_EQ(nm_image_parse(good, len, &v, NULL), NM_OK);
    const uint32_t tab = (uint32_t)(v.import_types - good), ss = v.strtab_size;
    enum { REPLACE, CLEAR_FLAG, SET_FLAG_ON_UNTYPED };
    struct {
        const char *what;
        int how;
        uint32_t off, value;
        int want;
        const char *detail;
    } cases[] = {
        {"proto offset past the string table", REPLACE, tab + 4, ss, NM_ERR_CORRUPT,
         "import 0 'hal_i2c_write': prototype offset"},
        {"proto offset far out", REPLACE, tab + 8 + 4, 0x7FFFFFF0u, NM_ERR_CORRUPT,
         "import 1 'hal_scale': prototype offset 0x7ffffff0 outside the string table"},
        {"proto names the final NUL (empty)", REPLACE, tab + 4, ss - 1, NM_ERR_CORRUPT,
         "import 0 'hal_i2c_write': empty prototype"},
        {"type hash not the text's", REPLACE, tab, 0xDEADBEEFu, NM_ERR_CORRUPT,
         "import 0 'hal_i2c_write': type hash 0xdeadbeef does not match its prototype's"},
        {"text only, then a wrong hash on it", REPLACE, tab + 8, 1, NM_ERR_CORRUPT,
         "import 1 'hal_scale': type hash 0x1"},
        {"proto of another import's name (a valid string)", REPLACE, tab + 4, 0, NM_ERR_CORRUPT,
         "does not match its prototype's"},
        {"flag cleared, table left", CLEAR_FLAG, 0, 0, NM_ERR_CORRUPT, "header: sections add up to"},
        {"flag set, no table", SET_FLAG_ON_UNTYPED, 0, 0, NM_ERR_CORRUPT, "header: sections add up to"},
        {"hash with no text: unchecked, fine", REPLACE, tab + 2 * 8, 0x12345678u, NM_OK, ""},
        {"hash 0 with text: fine", REPLACE, tab, 0, NM_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *b;
        size_t blen = len;
        if (cases[i].how == SET_FLAG_ON_UNTYPED) {
            b = build(NULL, &blen);
            t_wr32(b + 8, t_rd32(b + 8) | NM_FLAG_IMPORT_TYPES);
        } else {
            b = malloc(len);
            memcpy(b, good, len);
            if (cases[i].how == CLEAR_FLAG) {
                t_wr32(b + 8, t_rd32(b + 8) & ~(uint32_t)NM_FLAG_IMPORT_TYPES);
            } else {
                t_wr32(b + cases[i].off, cases[i].value);
            }
        }
        t_fix_crc(b, blen);
        nm_detail_t d = {{0}};
        int rc = nm_image_parse(b, blen, &v, &d);
        if (rc != cases[i].want || !strstr(d.msg, cases[i].detail)) {
            fprintf(stderr, "  case '%s': rc %d, detail '%s'\n", cases[i].what, rc, d.msg);
        }
        CHECK_EQ(rc, cases[i].want);
        CHECK_STR_CONTAINS(d.msg, cases[i].detail);
        free(b);
    }
    /* Every truncation of a typed slice fails, none reads past the buffer. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *b = malloc(n ? n : 1);
        memcpy(b, good, n);
        CHECK(nm_image_parse(b, n, &v, NULL) != NM_OK);
        free(b);
    }
    free(good);
}

int main(void) {
    setup_types();
    RUN(table_round_trips_after_the_string_table);
    RUN(untyped_modules_are_byte_identical);
    RUN(trailer_follows_the_table);
    RUN(writer_refuses_a_hash_that_is_not_the_texts);
    RUN(malformed_tables_are_refused);
    return TEST_DONE();
}
