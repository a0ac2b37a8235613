/*
 * The trailer (docs/format.md 2.2): writing, reading and refusing it, the
 * signed message's extent, and the policy's refusals that need no key
 * pair (unsigned, unknown key, a linked image nobody verified). The
 * signature arithmetic itself is tested against libsodium in tests/trust
 * and end to end in tests/cli/trust.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "format/writer.h"
#include "natmod/loader.h"

static uint8_t text[96];
static uint8_t data[8];

static void plain(uint8_t **out, size_t *len) {
    for (size_t i = 0; i < sizeof text; i++) {
        text[i] = (uint8_t)(i * 7 + 1);
    }
    nm_wexport_t ex[] = {{"f", 0, NM_REGION_TEXT, NM_EXPORT_FUNC}};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.flags = NM_FLAG_RW_PCREL;
    m.name = "tr";
    m.text = text;
    m.text_size = sizeof text;
    m.data = data;
    m.data_size = sizeof data;
    m.rw_offset = sizeof text;
    m.exports = ex;
    m.n_exports = 1;
    m.init_idx = NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    nm_detail_t d;
    CHECK_EQ(nm_write_image(&m, out, len, &d), NM_OK);
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void fix_crc(uint8_t *img, size_t len) {
    put32(img + 12, nm_image_crc(img, (uint32_t)len));
}

static int parse(const uint8_t *img, size_t len, nm_image_t *out, nm_detail_t *d) {
    return nm_image_parse(img, len, out, d);
}

static size_t msg_len;
static uint8_t msg_head[32];
static void count(void *arg, const void *p, size_t n) {
    (void)arg;
    if (msg_len < sizeof msg_head) {
        size_t k = n < sizeof msg_head - msg_len ? n : sizeof msg_head - msg_len;
        memcpy(msg_head + msg_len, p, k);
    }
    msg_len += n;
}

static void version_only_trailer_round_trips_and_removal_gives_the_plain_bytes(void) {
    uint8_t *p, *v, *back;
    size_t pl, vl, bl;
    nm_image_t img;
    nm_detail_t d;
    plain(&p, &pl);
    CHECK_EQ(nm_slice_set_trailer(p, pl, 42, NULL, &v, &vl, &d), NM_OK);
    CHECK_EQ(vl, pl + NM_TRAILER_SIZE);
    CHECK_EQ(parse(v, vl, &img, &d), NM_OK);
    CHECK_EQ(img.version, 42);
    CHECK_EQ(img.is_signed, 0);
    CHECK_EQ(img.flags, NM_FLAG_RW_PCREL | NM_FLAG_TRAILER);
    CHECK_EQ(nm_slice_set_trailer(v, vl, 0, NULL, &back, &bl, &d), NM_OK);
    CHECK_EQ(bl, pl);
    CHECK(memcmp(back, p, pl) == 0);
    CHECK_EQ(parse(p, pl, &img, &d), NM_OK);
    CHECK_EQ(img.version, 0);
    CHECK(img.key_id == NULL && img.signature == NULL);
    free(p);
    free(v);
    free(back);
}

static void signed_trailer_message_covers_all_but_signature_with_crc_zeroed(void) {
    uint8_t *p, *s;
    size_t pl, sl;
    nm_image_t img;
    nm_detail_t d;
    const uint8_t id[NM_KEY_ID_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t sig[NM_SIG_SIZE];
    plain(&p, &pl);
    CHECK_EQ(nm_slice_set_trailer(p, pl, 3, id, &s, &sl, &d), NM_OK);
    for (unsigned i = 0; i < sizeof sig; i++) {
        sig[i] = (uint8_t)(0x80 + i);
    }
    CHECK_EQ(nm_slice_put_signature(s, sl, sig, &d), NM_OK);
    CHECK_EQ(parse(s, sl, &img, &d), NM_OK);
    CHECK_EQ(img.is_signed, 1);
    CHECK_EQ(img.version, 3);
    CHECK(memcmp(img.key_id, id, sizeof id) == 0);
    CHECK(memcmp(img.signature, sig, sizeof sig) == 0);
    CHECK_EQ(img.signature - s, (long)(sl - NM_SIG_SIZE));
    msg_len = 0;
    nm_sig_message(&img, count, NULL);
    CHECK_EQ(msg_len, NM_SIG_DOMAIN_SIZE + sl - NM_SIG_SIZE);
    CHECK(memcmp(msg_head, "natmod-signature-v1", NM_SIG_DOMAIN_SIZE) == 0);
    CHECK(memcmp(msg_head + NM_SIG_DOMAIN_SIZE, "NMOD", 4) == 0);
    CHECK(msg_head[NM_SIG_DOMAIN_SIZE + 8] == (NM_FLAG_RW_PCREL | NM_FLAG_TRAILER));
    /* signing a signed slice again replaces its trailer (one trailer, not two) */
    uint8_t *again;
    size_t al;
    CHECK_EQ(nm_slice_set_trailer(s, sl, 4, id, &again, &al, &d), NM_OK);
    CHECK_EQ(al, sl);
    free(again);
    free(p);
    free(s);
}

static void malformed_trailers_are_refused_with_a_named_field(void) {
    uint8_t *p, *v;
    size_t pl, vl;
    nm_image_t img;
    nm_detail_t d;
    plain(&p, &pl);
    CHECK_EQ(nm_slice_set_trailer(p, pl, 1, NULL, &v, &vl, &d), NM_OK);
    uint8_t *t = v + vl - NM_TRAILER_SIZE;
    uint8_t *w = malloc(vl);
    CHECK(w != NULL);

    memcpy(w, v, vl); /* unknown sig_flags bit */
    put32(w + (t - v) + 4, 2);
    fix_crc(w, vl);
    CHECK_EQ(parse(w, vl, &img, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "trailer: sig_flags 0x2");

    memcpy(w, v, vl); /* unsigned but a key id */
    w[(t - v) + 9] = 1;
    fix_crc(w, vl);
    CHECK_EQ(parse(w, vl, &img, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "trailer: unsigned");

    memcpy(w, v, vl); /* TRAILER flag on a slice without one */
    put32(w + 8, NM_FLAG_RW_PCREL | NM_FLAG_TRAILER);
    memcpy(w, p, pl);
    put32(w + 8, NM_FLAG_RW_PCREL | NM_FLAG_TRAILER);
    fix_crc(w, pl);
    CHECK_EQ(parse(w, pl, &img, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "sections add up");

    memcpy(w, v, vl); /* SIG_CHECKED on an unlinked, unsigned slice */
    put32(w + 8, NM_FLAG_RW_PCREL | NM_FLAG_TRAILER | NM_FLAG_SIG_CHECKED);
    fix_crc(w, vl);
    CHECK_EQ(parse(w, vl, &img, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "SIG_CHECKED");

    memcpy(w, v, vl); /* a flipped version byte: the CRC notices */
    w[(t - v)] ^= 1;
    CHECK_EQ(parse(w, vl, &img, &d), NM_ERR_CRC);

    /* the writer refuses the trailer flags from a caller, and signatures on an unsigned slice */
    CHECK_EQ(nm_slice_put_signature(v, vl, w, &d), NM_ERR_INVAL);
    uint8_t *none = NULL;
    size_t nl = 0;
    CHECK_EQ(nm_slice_set_trailer(w, 10, 1, NULL, &none, &nl, &d), NM_ERR_TRUNCATED);
    CHECK(none == NULL);
    free(w);
    free(v);
    free(p);
}

static const uint8_t key_a[1][NM_PUBKEY_SIZE] = {{9, 9, 9}};

static void policy_refuses_without_a_key_pair(void) {
    uint8_t *p, *s, *v;
    size_t pl, sl, vl;
    nm_image_t img;
    nm_detail_t d;
    nm_loader_config_t none = {0}, keys = {0};
    keys.trusted_keys = key_a;
    keys.n_trusted_keys = 1;
    plain(&p, &pl);
    CHECK_EQ(parse(p, pl, &img, &d), NM_OK);
    CHECK_EQ(nm_trust_check(&none, &img, &d), NM_OK); /* no policy: anything */
    CHECK_EQ(nm_trust_check(&keys, &img, &d), NM_ERR_TRUST);
    CHECK_STR_CONTAINS(d.msg, "module 'tr': not signed");
    CHECK_EQ(nm_slice_set_trailer(p, pl, 1, NULL, &v, &vl, &d), NM_OK);
    CHECK_EQ(parse(v, vl, &img, &d), NM_OK);
    CHECK_EQ(nm_trust_check(&keys, &img, &d), NM_ERR_TRUST); /* a version is not a signature */
    const uint8_t id[NM_KEY_ID_SIZE] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
    CHECK_EQ(nm_slice_set_trailer(p, pl, 1, id, &s, &sl, &d), NM_OK);
    CHECK_EQ(parse(s, sl, &img, &d), NM_OK);
    CHECK_EQ(nm_trust_check(&keys, &img, &d), NM_ERR_TRUST);
    CHECK_STR_CONTAINS(d.msg, "module 'tr' key deadbeef00010203: signed by a key this board does not trust");
    /* the trusted key's id, but an all-zero signature */
    uint8_t kid[NM_KEY_ID_SIZE];
    nm_key_id(key_a[0], kid);
    free(s);
    CHECK_EQ(nm_slice_set_trailer(p, pl, 1, kid, &s, &sl, &d), NM_OK);
    CHECK_EQ(parse(s, sl, &img, &d), NM_OK);
    CHECK_EQ(nm_trust_check(&keys, &img, &d), NM_ERR_TRUST);
    CHECK(strstr(d.msg, "signed by a key") == NULL); /* the key is known: the signature is what fails */
    printf("  all-zero signature: %s\n", d.msg);
    nm_module_t m;
    CHECK_EQ(nm_load(&keys, &m, s, sl, &d), NM_ERR_INVAL); /* no allocator: refused as a call, before trust */
    free(p);
    free(s);
    free(v);
}

int main(void) {
    RUN(version_only_trailer_round_trips_and_removal_gives_the_plain_bytes);
    RUN(signed_trailer_message_covers_all_but_signature_with_crc_zeroed);
    RUN(malformed_trailers_are_refused_with_a_named_field);
    RUN(policy_refuses_without_a_key_pair);
    return TEST_DONE();
}
