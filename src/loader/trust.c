/*
 * The board's signature policy (docs/trust.md): which slices it takes when
 * it carries trusted public keys. Freestanding; the verifier streams the
 * signed message straight from the slice (RAM or memory-mapped flash), so
 * the only RAM used is the verifier's context on the stack.
 */
#include <string.h>

#include "loader/loader_internal.h"
#include "natmod/ed25519.h"

void nm_key_id(const uint8_t pk[NM_PUBKEY_SIZE], uint8_t id[NM_KEY_ID_SIZE]) {
    nm_sha512_ctx c;
    uint8_t h[NM_SHA512_BYTES];
    nm_sha512_init(&c);
    nm_sha512_update(&c, pk, NM_PUBKEY_SIZE);
    nm_sha512_final(&c, h);
    memcpy(id, h, NM_KEY_ID_SIZE);
}

static void cat_key_id(nm_detail_t *d, const uint8_t *id) {
    static const char hex[] = "0123456789abcdef";
    char s[2 * NM_KEY_ID_SIZE + 1];
    for (unsigned i = 0; i < NM_KEY_ID_SIZE; i++) {
        s[2 * i] = hex[id[i] >> 4];
        s[2 * i + 1] = hex[id[i] & 15];
    }
    s[2 * NM_KEY_ID_SIZE] = '\0';
    nm_detail_cat(d, s);
}

/* "module 'NAME' key KEYID: REASON" (or "module 'NAME': REASON" unsigned) */
static int refuse(nm_detail_t *d, const nm_image_t *img, const char *reason) {
    nm_detail_set(d, "module '");
    nm_detail_cat(d, img->strtab);
    nm_detail_cat(d, "'");
    if (img->is_signed) {
        nm_detail_cat(d, " key ");
        cat_key_id(d, img->key_id);
    }
    nm_detail_cat(d, ": ");
    nm_detail_cat(d, reason);
    return NM_ERR_TRUST;
}

static void feed(void *arg, const void *p, size_t n) {
    nm_ed25519_verify_update((nm_ed25519_ctx *)arg, p, n);
}

int nm_trust_check(const nm_loader_config_t *cfg, const nm_image_t *img, nm_detail_t *d) {
    if (!cfg || cfg->n_trusted_keys == 0) {
        return NM_OK;
    }
    if (!img->is_signed) {
        return refuse(d, img, "not signed, and this board takes only signed modules");
    }
    const uint8_t *pk = NULL;
    for (size_t i = 0; i < cfg->n_trusted_keys && !pk; i++) {
        uint8_t id[NM_KEY_ID_SIZE];
        nm_key_id(cfg->trusted_keys[i], id);
        unsigned diff = 0; /* no memcmp: the loader needs only memcpy and memset */
        for (unsigned k = 0; k < NM_KEY_ID_SIZE; k++) {
            diff |= (unsigned)(id[k] ^ img->key_id[k]);
        }
        if (diff == 0) {
            pk = cfg->trusted_keys[i];
        }
    }
    if (!pk) {
        return refuse(d, img, "signed by a key this board does not trust");
    }
    if (img->flags & NM_FLAG_XIP_LINKED) {
        /* Linked bytes are no longer the signed ones: only the installer
         * that verified the slice before linking it can vouch for it. */
        return (img->flags & NM_FLAG_SIG_CHECKED) ? NM_OK
                                                   : refuse(d, img, "XIP-linked without a verified signature");
    }
    nm_ed25519_ctx c;
    int rc = nm_ed25519_verify_init(&c, img->signature, pk);
    if (rc == NM_ED25519_OK) {
        nm_sig_message(img, feed, &c);
        rc = nm_ed25519_verify_final(&c);
    }
    if (rc != NM_ED25519_OK) {
        return refuse(d, img, rc == NM_ED25519_ERR_MISMATCH ? "bad signature" : nm_ed25519_strerror(rc));
    }
    return NM_OK;
}
