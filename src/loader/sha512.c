/*
 * SHA-512 (FIPS 180-4), streaming, for Ed25519 verification on the target.
 * Written for size: one compression loop over a 16-word rolling schedule,
 * so the stack holds 16 words instead of 80.
 */
#include <string.h>

#include "natmod/ed25519.h"

/* FIPS 180-4 4.2.3: first 64 bits of the fractional parts of the cube roots
 * of the first 80 primes. */
static const uint64_t k512[80] = {
    0x428a2f98d728ae22u, 0x7137449123ef65cdu, 0xb5c0fbcfec4d3b2fu,
    0xe9b5dba58189dbbcu, 0x3956c25bf348b538u, 0x59f111f1b605d019u,
    0x923f82a4af194f9bu, 0xab1c5ed5da6d8118u, 0xd807aa98a3030242u,
    0x12835b0145706fbeu, 0x243185be4ee4b28cu, 0x550c7dc3d5ffb4e2u,
    0x72be5d74f27b896fu, 0x80deb1fe3b1696b1u, 0x9bdc06a725c71235u,
    0xc19bf174cf692694u, 0xe49b69c19ef14ad2u, 0xefbe4786384f25e3u,
    0x0fc19dc68b8cd5b5u, 0x240ca1cc77ac9c65u, 0x2de92c6f592b0275u,
    0x4a7484aa6ea6e483u, 0x5cb0a9dcbd41fbd4u, 0x76f988da831153b5u,
    0x983e5152ee66dfabu, 0xa831c66d2db43210u, 0xb00327c898fb213fu,
    0xbf597fc7beef0ee4u, 0xc6e00bf33da88fc2u, 0xd5a79147930aa725u,
    0x06ca6351e003826fu, 0x142929670a0e6e70u, 0x27b70a8546d22ffcu,
    0x2e1b21385c26c926u, 0x4d2c6dfc5ac42aedu, 0x53380d139d95b3dfu,
    0x650a73548baf63deu, 0x766a0abb3c77b2a8u, 0x81c2c92e47edaee6u,
    0x92722c851482353bu, 0xa2bfe8a14cf10364u, 0xa81a664bbc423001u,
    0xc24b8b70d0f89791u, 0xc76c51a30654be30u, 0xd192e819d6ef5218u,
    0xd69906245565a910u, 0xf40e35855771202au, 0x106aa07032bbd1b8u,
    0x19a4c116b8d2d0c8u, 0x1e376c085141ab53u, 0x2748774cdf8eeb99u,
    0x34b0bcb5e19b48a8u, 0x391c0cb3c5c95a63u, 0x4ed8aa4ae3418acbu,
    0x5b9cca4f7763e373u, 0x682e6ff3d6b2b8a3u, 0x748f82ee5defb2fcu,
    0x78a5636f43172f60u, 0x84c87814a1f0ab72u, 0x8cc702081a6439ecu,
    0x90befffa23631e28u, 0xa4506cebde82bde9u, 0xbef9a3f7b2c67915u,
    0xc67178f2e372532bu, 0xca273eceea26619cu, 0xd186b8c721c0c207u,
    0xeada7dd6cde0eb1eu, 0xf57d4f7fee6ed178u, 0x06f067aa72176fbau,
    0x0a637dc5a2c898a6u, 0x113f9804bef90daeu, 0x1b710b35131c471bu,
    0x28db77f523047d84u, 0x32caab7b40c72493u, 0x3c9ebe0a15c9bebcu,
    0x431d67c49c100d4cu, 0x4cc5d4becb3e42b6u, 0x597f299cfc657e2au,
    0x5fcb6fab3ad6faecu, 0x6c44198c4a475817u,
};

/* FIPS 180-4 5.3.5: the same for the square roots of the first 8 primes. */
static const uint64_t h512_init[8] = {
    0x6a09e667f3bcc908u, 0xbb67ae8584caa73bu, 0x3c6ef372fe94f82bu,
    0xa54ff53a5f1d36f1u, 0x510e527fade682d1u, 0x9b05688c2b3e6c1fu,
    0x1f83d9abfb41bd6bu, 0x5be0cd19137e2179u,
};

static uint64_t ror64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static uint64_t load_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void store_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void compress(uint64_t h[8], const uint8_t block[128]) {
    uint64_t w[16], v[8];
    memcpy(v, h, sizeof v);
    for (int t = 0; t < 80; t++) {
        uint64_t wt;
        if (t < 16) {
            wt = load_be64(block + 8 * t);
        } else {
            /* w[t] from w[t-2], w[t-7], w[t-15], w[t-16], all still in the ring. */
            uint64_t x = w[(t - 2) & 15], y = w[(t - 15) & 15];
            uint64_t s1 = ror64(x, 19) ^ ror64(x, 61) ^ (x >> 6);
            uint64_t s0 = ror64(y, 1) ^ ror64(y, 8) ^ (y >> 7);
            wt = s1 + w[(t - 7) & 15] + s0 + w[t & 15];
        }
        w[t & 15] = wt;
        /* The working variables a..h are v[(i - t) & 7] for i = 0..7: each
         * round renames instead of moving eight words (a shifting loop is
         * what GCC turns into memmove, which the runtime must not need). */
#define V(i) v[((i) - t) & 7]
        uint64_t e = V(4), a = V(0);
        uint64_t t1 = V(7) + (ror64(e, 14) ^ ror64(e, 18) ^ ror64(e, 41)) +
                      ((e & V(5)) ^ (~e & V(6))) + k512[t] + wt;
        uint64_t t2 = (ror64(a, 28) ^ ror64(a, 34) ^ ror64(a, 39)) +
                      ((a & V(1)) ^ (a & V(2)) ^ (V(1) & V(2)));
        V(3) += t1;      /* d + t1: next round's e */
        V(7) = t1 + t2;  /* next round's a, in h's place */
#undef V
    }
    /* 80 rounds are ten full turns: v[i] is a..h again. */
    for (int i = 0; i < 8; i++) {
        h[i] += v[i];
    }
}

void nm_sha512_init(nm_sha512_ctx *c) {
    memcpy(c->h, h512_init, sizeof c->h);
    c->len = 0;
}

void nm_sha512_update(nm_sha512_ctx *c, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        size_t used = (size_t)(c->len & 127);
        size_t n = 128 - used;
        if (n > len) {
            n = len;
        }
        if (used == 0 && n == 128) {
            /* A whole block straight from the input (flash stays unread twice). */
            compress(c->h, p);
        } else {
            memcpy(c->buf + used, p, n);
            if (used + n == 128) {
                compress(c->h, c->buf);
            }
        }
        c->len += n;
        p += n;
        len -= n;
    }
}

void nm_sha512_final(nm_sha512_ctx *c, uint8_t out[NM_SHA512_BYTES]) {
    size_t used = (size_t)(c->len & 127);
    c->buf[used++] = 0x80;
    if (used > 112) {
        /* No room for the 16-byte length: pad out this block, length goes in the next. */
        memset(c->buf + used, 0, 128 - used);
        compress(c->h, c->buf);
        used = 0;
    }
    memset(c->buf + used, 0, 112 - used);
    /* The 128-bit length in bits; byte counts below 2^64 fill 67 bits of it. */
    store_be64(c->buf + 112, c->len >> 61);
    store_be64(c->buf + 120, c->len << 3);
    compress(c->h, c->buf);
    for (int i = 0; i < 8; i++) {
        store_be64(out + 8 * i, c->h[i]);
    }
}
