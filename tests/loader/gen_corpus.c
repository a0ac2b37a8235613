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
#include "natmod/loader.h"
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

/* One write of an XIP-linked image into a buffer. */
static int sink(void *ctx, uint32_t off, const void *data, size_t len) {
    memcpy((uint8_t *)ctx + off, data, len);
    return 0;
}

/* RISC-V INSN entries (docs/format.md 4.1): two good rv32imc modules (the
 * host board refuses their arch; they seed fuzz_loader with INSN streams,
 * one XIP-linked so the relink path starts from it) and one file per INSN
 * refusal, each a hand-made stream spliced into rvmod. */
static void build_insn(void) {
    uint8_t *rv, *b;
    size_t rv_len, len;
    if (t_build_rv32(&rv, &rv_len, NULL, 0, 0, NULL, 0, NULL) != NM_OK) {
        fprintf(stderr, "gen_corpus: rv32 writer failed\n");
        exit(2);
    }
    add("rv32_insn_every_form", "NM_ERR_ARCH", rv, rv_len);
    static const nm_export_t fw[] = {{0, "fw_a", (const void *)(uintptr_t)0x08001000u, 0, NULL}};
    nm_export_t ex = fw[0];
    ex.hash = nm_hash(ex.name);
    nm_loader_config_t cfg = {.arch = NM_ARCH_RV32IMC, .exports = &ex, .n_exports = 1};
    uint8_t linked[4096];
    uint32_t linked_len = 0;
    if (rv_len + NM_XIP_RECORD_SIZE > sizeof linked ||
        nm_xip_link(&cfg, rv, rv_len, 0x20010000u, 0x80000100u, sink, linked, &linked_len, NULL) != NM_OK) {
        fprintf(stderr, "gen_corpus: rv32 XIP link failed\n");
        exit(2);
    }
    add("rv32_insn_xip_linked", "NM_ERR_ARCH", linked, linked_len);
    patch("reloc_insn_on_armv7m", "NM_ERR_RELOC", rv, rv_len, 6, 1, NM_ARCH_ARMV7M, 1);
    static const struct {
        const char *name, *expect;
        uint8_t stream[12];
        uint8_t n, n_relocs;
    } streams[] = {
        /* delta, (target << 2) | 2, form, addend [, hi_site] */
        {"reloc_insn_site_in_data", "NM_ERR_RELOC", {0x3c, 0x06, 0x01, 0x00}, 4, 1},
        {"reloc_insn_crosses_text_end", "NM_ERR_RELOC", {0x3a, 0x06, 0x01, 0x00}, 4, 1},
        {"reloc_insn_odd_site", "NM_ERR_RELOC", {0x05, 0x06, 0x01, 0x00}, 4, 1},
        {"reloc_insn_form_6", "NM_ERR_RELOC", {0x04, 0x06, 0x06, 0x00}, 4, 1},
        {"reloc_insn_import_target", "NM_ERR_RELOC", {0x04, 0x0a, 0x01, 0x00}, 4, 1},
        {"reloc_insn_opcode_mismatch", "NM_ERR_RELOC", {0x04, 0x06, 0x00, 0x00}, 4, 1},
        {"reloc_insn_hi_site_not_hi20", "NM_ERR_RELOC", {0x00, 0x06, 0x00, 0x00, 0x18, 0x06, 0x04, 0x00, 0x00},
         9, 2},
        {"reloc_insn_hi_site_addend_differs", "NM_ERR_RELOC",
         {0x2c, 0x06, 0x04, 0x10, 0x32, 0x06, 0x06, 0x03, 0x11}, 9, 2},
        {"reloc_insn_overlaps_previous", "NM_ERR_RELOC", {0x22, 0x06, 0x03, 0x00, 0x02, 0x06, 0x03, 0x00}, 8, 2},
        {"reloc_insn_uleb_past_end", "NM_ERR_CORRUPT", {0x18, 0x06, 0x04, 0x10}, 4, 1},
    };
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
        b = t_splice_stream(rv, rv_len, streams[i].stream, streams[i].n, streams[i].n_relocs, &len);
        add(streams[i].name, streams[i].expect, b, len);
        free(b);
    }
    free(rv);
}

/* The import type table (docs/format.md 2.3). test_corpus's board exports
 * host_add as `int (int, int)`: the pcrel module recording that loads, one
 * recording another prototype is refused; then malformed tables. */
static void build_import_types(const uint8_t *untyped, size_t untyped_len) {
    static const char *const proto_ok = "int (int, int)", *proto_old = "int (int)", *proto_var = "volatile int";
    nm_wimport_type_t types[2] = {{nm_hash(proto_ok), proto_ok}, {nm_hash(proto_var), proto_var}};
    uint8_t *typed, *changed;
    size_t typed_len, changed_len;
    if (x_build_pcrel_types(&typed, &typed_len, NULL, types)) {
        fprintf(stderr, "gen_corpus: typed writer failed\n");
        exit(2);
    }
    types[0] = (nm_wimport_type_t){nm_hash(proto_old), proto_old};
    if (x_build_pcrel_types(&changed, &changed_len, NULL, types)) {
        fprintf(stderr, "gen_corpus: typed writer failed\n");
        exit(2);
    }
    nm_image_t v;
    nm_image_parse(typed, typed_len, &v, NULL);
    const uint32_t tab = (uint32_t)(v.import_types - typed);
    add("import_types_valid", "NM_OK", typed, typed_len);
    add("import_type_changed_in_firmware", "NM_ERR_NOSYM", changed, changed_len);
    patch("import_types_proto_out_of_range", "NM_ERR_CORRUPT", typed, typed_len, tab + 4, 4, v.strtab_size, 1);
    patch("import_types_proto_empty", "NM_ERR_CORRUPT", typed, typed_len, tab + 4, 4, v.strtab_size - 1, 1);
    patch("import_types_hash_mismatch", "NM_ERR_CORRUPT", typed, typed_len, tab + 8, 4, 0xDEADBEEF, 1);
    patch("import_types_flag_without_table", "NM_ERR_CORRUPT", untyped, untyped_len, 8, 4,
          NM_FLAG_RW_PCREL | NM_FLAG_IMPORT_TYPES, 1);
    free(typed);
    free(changed);
}

/* The public key of RFC 8032's TEST 1: the fuzz target (fuzz_loader.c)
 * trusts it, so seeds signed with its key id reach the verifier. */
static const uint8_t rfc_pk[NM_PUBKEY_SIZE] = {
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

/* Slices with a trailer (docs/format.md 2.2): a version alone, a signed one
 * (a signature that does not verify: without a policy it loads), and the
 * trailer's malformations. */
static void build_trailer(const uint8_t *good, size_t good_len) {
    uint8_t *v, *s;
    size_t vl, sl;
    uint8_t id[NM_KEY_ID_SIZE], sig[NM_SIG_SIZE];
    nm_key_id(rfc_pk, id);
    for (unsigned i = 0; i < sizeof sig; i++) {
        sig[i] = (uint8_t)(i * 37 + 5);
    }
    sig[63] = 0x0f; /* S below L: the verifier gets as far as the equation */
    if (nm_slice_set_trailer(good, good_len, 7, NULL, &v, &vl, NULL) ||
        nm_slice_set_trailer(good, good_len, 9, id, &s, &sl, NULL) || nm_slice_put_signature(s, sl, sig, NULL)) {
        fprintf(stderr, "gen_corpus: trailer writer failed\n");
        exit(2);
    }
    const uint32_t t = (uint32_t)vl - NM_TRAILER_SIZE;
    add("trailer_version_only", "NM_OK", v, vl);
    add("trailer_signed_bad_signature", "NM_OK", s, sl);
    patch("trailer_unknown_sig_flags", "NM_ERR_CORRUPT", v, vl, t + 4, 4, 0x80, 1);
    patch("trailer_unsigned_with_key_id", "NM_ERR_CORRUPT", v, vl, t + 8, 1, 0x42, 1);
    patch("trailer_sig_checked_not_linked", "NM_ERR_CORRUPT", s, sl, 8, 4,
          NM_FLAG_RW_PCREL | NM_FLAG_TRAILER | NM_FLAG_SIG_CHECKED, 1);
    patch("trailer_flag_without_trailer", "NM_ERR_CORRUPT", good, good_len, 8, 4,
          NM_FLAG_RW_PCREL | NM_FLAG_TRAILER, 1);
    free(v);
    free(s);
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
    patch("reloc_unknown_kind", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 1, 1, 3, 1);
    patch("reloc_ptr64_on_32bit_arch", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 1, 1, 1, 1);
    patch("reloc_target_beyond_imports", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 5, 1, 0x0C, 1);
    patch("reloc_sites_not_increasing", "NM_ERR_RELOC", stream, stream_len, T_STREAM_OFF + 2, 1, 0, 1);
    patch("reloc_bad_uleb", "NM_ERR_CORRUPT", stream, stream_len, T_STREAM_OFF + 5, 1, 0x80, 1);
    add("wrong_arch_armv7m", "NM_ERR_ARCH", arm, arm_len);
    build_insn();
    add("wrong_float_soft", "NM_ERR_FLOAT_ABI", soft, soft_len);
    add("missing_import", "NM_ERR_NOSYM", missing, missing_len);
    build_import_types(good, good_len);
    build_trailer(good, good_len);
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
