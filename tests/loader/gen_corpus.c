/*
 * Generates tests/corpus/nmod: one malformed (or deliberately refused)
 * module per file, named for its defect, plus EXPECTED ("file NM_ERR_NAME").
 *   gen_corpus DIR          write the corpus into DIR
 *   gen_corpus --check DIR  fail if DIR differs from what would be written
 * The output is deterministic, so the committed corpus can be checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../format/nmtest_images.h"
#include "x64_modules.h"

typedef struct entry {
    char name[64];
    const char *expect;
    uint8_t *buf;
    size_t len;
} entry_t;

static entry_t entries[64];
static int n_entries;

static void add(const char *name, const char *expect, const uint8_t *buf, size_t len) {
    entry_t *e = &entries[n_entries++];
    snprintf(e->name, sizeof e->name, "%s.nmod", name);
    e->expect = expect;
    e->buf = malloc(len ? len : 1);
    memcpy(e->buf, buf, len);
    e->len = len;
}

/* Copy base, apply a patch of width 1/2/4 at off, optionally fix the CRC. */
static void patch(const char *name, const char *expect, const uint8_t *base, size_t len, uint32_t off,
                  int width, uint32_t value, int fix) {
    uint8_t *b = malloc(len);
    memcpy(b, base, len);
    if (width == 1) {
        b[off] = (uint8_t)value;
    } else if (width == 2) {
        t_wr16(b + off, (uint16_t)value);
    } else {
        t_wr32(b + off, value);
    }
    if (fix) {
        t_fix_crc(b, len);
    }
    add(name, expect, b, len);
    free(b);
}

static void build(void) {
    uint8_t *good, *stream, *soft, *arm, *init1, *missing;
    size_t good_len, stream_len, soft_len, arm_len, init1_len, missing_len;
    static const char *const missing_imports[] = {"host_add", "hal_nonexistent"};
    if (x_build_pcrel(&good, &good_len, NULL) || t_build_stream_module(&stream, &stream_len) ||
        x_build_const(&soft, &soft_len, "softie", NM_FLOAT_SOFT, 1, 0, 0) ||
        x_build_const(&init1, &init1_len, "grumpy", NM_FLOAT_HARD, 1, 1, 1) ||
        x_build_pcrel(&missing, &missing_len, missing_imports)) {
        fprintf(stderr, "gen_corpus: writer failed\n");
        exit(2);
    }
    arm = stream;
    arm_len = stream_len;
    nm_image_t v;
    nm_image_parse(good, good_len, &v, NULL);
    const uint32_t imp_off = (uint32_t)(v.imports - good), exp_off = (uint32_t)(v.exports - good);

    add("valid_pcrel", "NM_OK", good, good_len);
    patch("bad_magic", "NM_ERR_MAGIC", good, good_len, 0, 1, 'X', 0);
    add("truncated_header", "NM_ERR_TRUNCATED", good, 40);
    add("truncated_body", "NM_ERR_TRUNCATED", good, good_len - 10);
    patch("version_2", "NM_ERR_VERSION", good, good_len, 4, 2, 2, 1);
    patch("bad_crc", "NM_ERR_CRC", good, good_len, NM_HEADER_SIZE + 3, 1, 0x90, 0);
    patch("unknown_arch_id", "NM_ERR_ARCH", good, good_len, 6, 1, 200, 1);
    patch("unknown_flags", "NM_ERR_CORRUPT", good, good_len, 8, 4, 0x100, 1);
    patch("image_size_overflow", "NM_ERR_TRUNCATED", good, good_len, 16, 4, 0xFFFFFFFF, 1);
    patch("text_size_overflow", "NM_ERR_CORRUPT", good, good_len, 20, 4, 0xFFFFFFF0, 1);
    patch("bss_size_overflow", "NM_ERR_CORRUPT", good, good_len, 28, 4, 0xFFFFFFFF, 1);
    patch("rw_offset_inside_text", "NM_ERR_CORRUPT", good, good_len, 32, 4, 8, 1);
    patch("got_beyond_data", "NM_ERR_CORRUPT", good, good_len, 40, 2, 100, 1);
    patch("init_idx_out_of_range", "NM_ERR_CORRUPT", good, good_len, 46, 2, 8, 1);
    patch("align_too_large", "NM_ERR_CORRUPT", good, good_len, 50, 1, 31, 1);
    patch("reloc_count_mismatch", "NM_ERR_CORRUPT", good, good_len, 52, 4, 2, 1);
    patch("strtab_unterminated", "NM_ERR_CORRUPT", good, good_len, (uint32_t)good_len - 1, 1, 'x', 1);
    patch("import_name_out_of_range", "NM_ERR_CORRUPT", good, good_len, imp_off + 4, 4, 0x7FFFFFFF, 1);
    patch("import_hash_mismatch", "NM_ERR_CORRUPT", good, good_len, imp_off, 4, 0xDEADBEEF, 1);
    patch("export_value_out_of_range", "NM_ERR_CORRUPT", good, good_len, exp_off + 4, 4, 80, 1);
    patch("init_is_data_export", "NM_ERR_CORRUPT", good, good_len, 46, 2, 6, 1);
    /* stream module: 00 00 | 04 04 | 0c 08 at T_STREAM_OFF */
    patch("reloc_site_in_bss", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 4, 1, 28, 1);
    patch("reloc_crosses_text_end", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 2, 1, 13, 1);
    patch("reloc_unknown_kind", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 1, 1, 2, 1);
    patch("reloc_ptr64_on_32bit_arch", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 1, 1, 1, 1);
    patch("reloc_target_beyond_imports", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 5, 1, 0x0C, 1);
    patch("reloc_sites_not_increasing", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 2, 1, 0, 1);
    patch("reloc_bad_uleb", "NM_ERR_CORRUPT", stream, stream_len, T_STREAM_OFF + 5, 1, 0x80, 1);
    add("wrong_arch_armv7m", "NM_ERR_ARCH", arm, arm_len);
    add("wrong_float_soft", "NM_ERR_FLOAT_ABI", soft, soft_len);
    add("missing_import", "NM_ERR_NOSYM", missing, missing_len);
    add("init_returns_1", "NM_ERR_INIT", init1, init1_len);

    /* universal containers */
    const uint8_t *sl[2] = {arm, soft};
    size_t ll[2] = {arm_len, soft_len};
    uint8_t *u;
    size_t ulen;
    nm_write_universal(sl, ll, 2, &u, &ulen, NULL);
    add("universal_no_x86_64_hard", "NM_ERR_ARCH", u, ulen);
    uint8_t *b = malloc(ulen);
    memcpy(b, u, ulen);
    b[16 + 8] ^= 1;
    add("universal_bad_table_crc", "NM_ERR_CRC", b, ulen);
    memcpy(b, u, ulen);
    memcpy(b + 32, b + 16, 16);
    t_fix_universal_crc(b);
    add("universal_overlapping_slices", "NM_ERR_CORRUPT", b, ulen);
    memcpy(b, u, ulen);
    t_wr16(b + 6, 0);
    add("universal_zero_slices", "NM_ERR_CORRUPT", b, ulen);
    free(b);
    free(u);
    const uint8_t *sl2[2] = {arm, good};
    size_t ll2[2] = {arm_len, good_len};
    nm_write_universal(sl2, ll2, 2, &u, &ulen, NULL);
    add("universal_valid", "NM_OK", u, ulen);
    free(u);
    free(good);
    free(stream);
    free(soft);
    free(init1);
    free(missing);
}

static int write_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        if (f) {
            fclose(f);
        }
        return 1;
    }
    return fclose(f) != 0;
}

static int same_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return 0;
    }
    uint8_t *got = malloc(len + 1);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    int same = n == len && memcmp(got, buf, len) == 0;
    free(got);
    return same;
}

int main(int argc, char **argv) {
    int check = argc == 3 && strcmp(argv[1], "--check") == 0;
    if (argc != 2 && !check) {
        fprintf(stderr, "usage: gen_corpus [--check] DIR\n");
        return 2;
    }
    const char *dir = argv[argc - 1];
    build();
    char path[8192];
    char expected[8192];
    size_t el = 0;
    el += (size_t)snprintf(expected + el, sizeof expected - el,
                           "# file expected_error (nm_load on an x86_64/hard host board)\n");
    int bad = 0;
    for (int i = 0; i < n_entries; i++) {
        entry_t *e = &entries[i];
        snprintf(path, sizeof path, "%s/%s", dir, e->name);
        el += (size_t)snprintf(expected + el, sizeof expected - el, "%s %s\n", e->name, e->expect);
        if (check ? !same_file(path, e->buf, e->len) : write_file(path, e->buf, e->len) != 0) {
            fprintf(stderr, "gen_corpus: %s %s\n", path, check ? "differs (re-run gen_corpus)" : "failed");
            bad = 1;
        }
        free(e->buf);
    }
    snprintf(path, sizeof path, "%s/EXPECTED", dir);
    if (check ? !same_file(path, expected, el) : write_file(path, expected, el) != 0) {
        fprintf(stderr, "gen_corpus: %s %s\n", path, check ? "differs" : "failed");
        bad = 1;
    }
    if (!check) {
        printf("gen_corpus: wrote %d files to %s\n", n_entries, dir);
    }
    return bad;
}
