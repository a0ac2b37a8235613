/*
 * libFuzzer target: natmod's Ed25519 verifier against libsodium's.
 * Input: pk (32) || sig (64) || message. Checks, aborting on any mismatch:
 *   1. nm_ed25519_verify accepts exactly when crypto_sign_verify_detached does;
 *   2. the streaming API, fed in chunks whose sizes come from the input,
 *      returns the same code as the one-shot call;
 *   3. the same with a real signature: the 32 pk bytes are used as a seed,
 *      the message is signed by libsodium, and the input's sig bytes are
 *      XORed onto that signature as a mask (all-zero mask: a valid
 *      signature), so mutations explore the neighbourhood of valid ones.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "natmod/ed25519.h"

static void dump(const char *what, const uint8_t *pk, const uint8_t *sig, size_t len, int sodium,
                 int oneshot, int streamed) {
    fprintf(stderr, "fuzz_ed25519: %s: libsodium %d, natmod %d (%s), streamed %d\npk  ", what, sodium,
            oneshot, nm_ed25519_strerror(oneshot), streamed);
    for (int i = 0; i < 32; i++) {
        fprintf(stderr, "%02x", pk[i]);
    }
    fprintf(stderr, "\nsig ");
    for (int i = 0; i < 64; i++) {
        fprintf(stderr, "%02x", sig[i]);
    }
    fprintf(stderr, "\nmsg %zu bytes\n", len);
}

/* Chunk sizes 0..63 from a little generator seeded by the input. */
static int streamed(const uint8_t *sig, const uint8_t *pk, const uint8_t *msg, size_t len, uint32_t seed) {
    nm_ed25519_ctx c;
    size_t done = 0;
    nm_ed25519_verify_init(&c, sig, pk);
    while (done < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) & 63;
        if (n > len - done) {
            n = len - done;
        }
        nm_ed25519_verify_update(&c, msg + done, n);
        done += n;
    }
    return nm_ed25519_verify_final(&c);
}

static void check(const char *what, const uint8_t *sig, const uint8_t *pk, const uint8_t *msg, size_t len,
                  uint32_t seed) {
    int want = crypto_sign_verify_detached(sig, msg, len, pk);
    int got = nm_ed25519_verify(sig, msg, len, pk);
    int chunked = streamed(sig, pk, msg, len, seed);
    if ((want == 0) != (got == 0) || chunked != got || got > 0) {
        dump(what, pk, sig, len, want, got, chunked);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (sodium_init() < 0) {
            abort();
        }
        ready = 1;
    }
    if (size < 96) {
        return 0;
    }
    const uint8_t *pk = data, *sig = data + 32, *msg = data + 96;
    size_t len = size - 96;
    uint32_t seed = (uint32_t)size ^ ((uint32_t)sig[0] << 8) ^ ((uint32_t)pk[31] << 16);
    check("raw input", sig, pk, msg, len, seed);

    uint8_t real_pk[32], sk[64], real_sig[64];
    crypto_sign_seed_keypair(real_pk, sk, pk);
    crypto_sign_detached(real_sig, NULL, msg, len, sk);
    for (int i = 0; i < 64; i++) {
        real_sig[i] ^= sig[i];
    }
    check("masked real signature", real_sig, real_pk, msg, len, seed ^ 0x9e3779b9u);
    return 0;
}
