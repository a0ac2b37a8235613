/*
 * Ed25519 signature verification and SHA-512 for the target runtime
 * (freestanding C11, verify only; docs/trust.md).
 *
 * Contract: no malloc, nothing from libc beyond memcpy/memset, no recursion,
 * bounded stack (on a Cortex-M0 at -Os: 2.0 KB for nm_ed25519_verify_final,
 * 2.4 KB for the one-shot nm_ed25519_verify, 0.9 KB for verify_init, 0.3 KB
 * for SHA-512; docs/trust.md), 32x32->64 bit arithmetic only. Verification
 * is variable time: it handles only public data (keys, signatures, modules).
 *
 * What is accepted is exactly what libsodium 1.0.18's
 * crypto_sign_verify_detached (default build) accepts, which is RFC 8032
 * Ed25519 with these rules, checked in this order:
 *   1. S = sig[32..63] (little-endian) must be < L = 2^252 + 2774...8493
 *      (NM_ED25519_ERR_S).
 *   2. R = sig[0..31], with bit 255 ignored, must not be the encoding of the
 *      y-coordinate of a point of small order: y in {0, 1, p-1, p, p+1} or
 *      either y of the order-8 points (NM_ED25519_ERR_R).
 *   3. The public key's y (bit 255 ignored) must be < p = 2^255 - 19
 *      (NM_ED25519_ERR_KEY_NONCANONICAL), must not be a small-order y as in
 *      rule 2 (NM_ED25519_ERR_KEY_SMALL_ORDER), and must decompress to a
 *      point on the curve (NM_ED25519_ERR_KEY_INVALID).
 *   4. With k = SHA-512(R || A || M) mod L, the canonical encoding of
 *      [S]B - [k]A must equal sig[0..31] byte for byte (NM_ED25519_ERR_MISMATCH).
 *      A non-canonical R therefore never verifies. The check is not
 *      cofactored: a key with a torsion component verifies only signatures
 *      made with the same (non-cofactored) equation.
 */
#ifndef NATMOD_ED25519_H
#define NATMOD_ED25519_H

#include <stddef.h>
#include <stdint.h>

/* ---- SHA-512 (FIPS 180-4) ---- */

#define NM_SHA512_BYTES 64

/* Streaming state; callers may allocate it anywhere (200 bytes). */
typedef struct nm_sha512_ctx {
    uint64_t h[8];     /* chaining value */
    uint64_t len;      /* bytes hashed so far (messages up to 2^64 - 1 bytes) */
    uint8_t buf[128];  /* partial block, len % 128 bytes of it in use */
} nm_sha512_ctx;

/* Start a hash. */
void nm_sha512_init(nm_sha512_ctx *c);
/* Hash len more bytes of data (data may be NULL when len is 0). */
void nm_sha512_update(nm_sha512_ctx *c, const void *data, size_t len);
/* Write the 64-byte digest to out; c must be initialised again before reuse. */
void nm_sha512_final(nm_sha512_ctx *c, uint8_t out[NM_SHA512_BYTES]);

/* ---- Ed25519 verification (RFC 8032 section 5.1.7, rules above) ---- */

#define NM_ED25519_SIG_BYTES 64
#define NM_ED25519_KEY_BYTES 32

/* Results: 0 is a valid signature, every failure is negative and names the
 * first rule (see the top of this file) that the input broke. They are kept
 * apart from the NM_ERR_* codes of natmod/error.h. */
enum nm_ed25519_result {
    NM_ED25519_OK = 0,
    NM_ED25519_ERR_S = -101,                /* S >= L (non-canonical scalar) */
    NM_ED25519_ERR_R = -102,                /* R encodes a small-order point */
    NM_ED25519_ERR_KEY_NONCANONICAL = -103, /* public key y >= p */
    NM_ED25519_ERR_KEY_SMALL_ORDER = -104,  /* public key is a small-order point */
    NM_ED25519_ERR_KEY_INVALID = -105,      /* public key y has no point on the curve */
    NM_ED25519_ERR_MISMATCH = -106,         /* equation does not hold (includes
                                               non-canonical R and any altered
                                               message, key or signature) */
};

/* Short name of a result ("S not canonical"); never NULL. Only the callers
 * of this function pay for its strings. */
static inline const char *nm_ed25519_strerror(int rc) {
    static const char *const s[] = {
        "signature valid", "S not canonical (S >= L)", "R has small order",
        "public key not canonical (y >= p)", "public key has small order",
        "public key not on the curve", "signature does not match",
    };
    if (rc == 0) {
        return s[0];
    }
    return (rc <= NM_ED25519_ERR_S && rc >= NM_ED25519_ERR_MISMATCH) ? s[-rc - 100]
                                                                     : "unknown result";
}

/* Streaming verification state (432 bytes). Callers may allocate it
 * anywhere; its fields are private. */
typedef struct nm_ed25519_ctx {
    nm_sha512_ctx sha;      /* SHA-512(R || A || M) in progress */
    uint32_t neg_a[4][10];  /* -A, decompressed by verify_init */
    uint8_t sig[64];        /* R || S */
    int status;             /* result of verify_init's checks */
} nm_ed25519_ctx;

/* Check sig and pk (rules 1-3) and start hashing R || A. Returns 0, or the
 * failing rule's NM_ED25519_ERR_*; in that case verify_final returns the
 * same code, so a caller may skip checking it here. sig and pk are copied. */
int nm_ed25519_verify_init(nm_ed25519_ctx *c, const uint8_t sig[NM_ED25519_SIG_BYTES],
                           const uint8_t pk[NM_ED25519_KEY_BYTES]);
/* Feed len more bytes of the message (any chunking gives the same result). */
void nm_ed25519_verify_update(nm_ed25519_ctx *c, const void *msg, size_t len);
/* 0 if the signature is valid for the message fed so far, else negative
 * NM_ED25519_ERR_*. c must be initialised again before reuse. */
int nm_ed25519_verify_final(nm_ed25519_ctx *c);

/* One-shot: init + update(msg, len) + final. */
int nm_ed25519_verify(const uint8_t sig[NM_ED25519_SIG_BYTES], const void *msg, size_t len,
                      const uint8_t pk[NM_ED25519_KEY_BYTES]);

#endif /* NATMOD_ED25519_H */
