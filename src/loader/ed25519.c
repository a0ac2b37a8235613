/*
 * Ed25519 verification (RFC 8032 5.1.7) with libsodium 1.0.18's acceptance
 * rules, listed in natmod/ed25519.h. Written for a Cortex-M0: field elements
 * are 10 unsigned limbs of alternately 26 and 25 bits (radix 2^25.5), so
 * every product is 32x32->64; [S]B - [k]A is one joint double-and-add with
 * 3-bit sliding windows over {1,3,5,7}B (in flash) and {1,3,5,7}(-A) (built
 * on the stack). Everything is variable time, which is fine for public
 * inputs.
 */
#include <string.h>

#include "natmod/ed25519.h"

/* ---- GF(2^255 - 19) ----
 * Limb i has weight 2^ceil(25.5 i). A "carried" element has every limb
 * within its width, except limbs 1 and 5 which may exceed it by < 2^17;
 * every function returns carried elements except fe_add_lazy, whose limbs
 * stay below 2^27.01 (even) and 2^26.01 (odd). fe_mul and fe_sq accept both. */
typedef uint32_t fe[10];

/* Unroll fe_mul's loops (100 products) when GCC optimises for speed, as in
 * the host differential test; -Os builds keep the loops (168 bytes on a
 * Cortex-M0 instead of about 1.9 KB). */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__) && !defined(__clang__)
#define UNROLL_10 _Pragma("GCC unroll 10")
#else
#define UNROLL_10
#endif

/* A 32 x 32 -> 64 bit product. A core without a widening multiply
 * (ARMv6-M, ARMv8-M baseline: the Cortex-M0/M0+/M23) would call
 * __aeabi_lmul, a full 64 x 64 product, for each of the hundred-odd
 * products of a field multiplication; four 16 x 16 -> 32 MULS inline are
 * about half the instructions. NM_ED25519_MUL16 selects that path on any
 * target (tests/trust runs the differential test with it on the host). */
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__) || defined(NM_ED25519_MUL16)
static inline uint64_t mul_wide(uint32_t a, uint32_t b) {
    uint32_t al = a & 0xFFFFu, ah = a >> 16, bl = b & 0xFFFFu, bh = b >> 16;
    uint32_t lo = al * bl, hi = ah * bh;
    uint32_t m1 = al * bh, m2 = ah * bl;
    uint32_t mid = m1 + m2;
    hi += (uint32_t)(mid < m1) << 16; /* the carry out of the middle sum */
    uint32_t lo2 = lo + (mid << 16);
    hi += (mid >> 16) + (lo2 < lo);
    return (uint64_t)hi << 32 | lo2;
}
#else
static inline uint64_t mul_wide(uint32_t a, uint32_t b) {
    return (uint64_t)a * b;
}
#endif

#define LIMB_BITS(i) (26u - ((unsigned)(i) & 1u))
#define LIMB_MASK(i) ((1u << LIMB_BITS(i)) - 1u)

/* Constants as 32-byte little-endian numbers, loaded with fe_frombytes. */
static const uint8_t c_d[32] = { /* d = -121665/121666 */
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
    0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52};
static const uint8_t c_sqrtm1[32] = { /* 2^((p-1)/4), a square root of -1 */
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b};
/* L = 2^252 + 27742317777372353535851937790883648493, the group order. */
static const uint8_t c_l[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
/* The two y-coordinates of the points of order 8 (they sum to p). */
static const uint8_t c_order8_y[2][32] = {
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
     0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
     0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a}};

/* Reads bits 0..254 of s; bit 255 (the sign of x) is the caller's. Values
 * from p to 2^255 - 1 are accepted and behave as value - p. */
static void fe_frombytes(fe h, const uint8_t s[32]) {
    uint64_t acc = 0;
    unsigned nbits = 0, k = 0;
    for (int i = 0; i < 10; i++) {
        while (nbits < LIMB_BITS(i)) {
            acc |= (uint64_t)s[k++] << nbits;
            nbits += 8;
        }
        h[i] = (uint32_t)acc & LIMB_MASK(i);
        acc >>= LIMB_BITS(i);
        nbits -= LIMB_BITS(i);
    }
}

/* The unique encoding of f: 0 <= value < p, little-endian, bit 255 clear. */
static void fe_tobytes(uint8_t s[32], const fe f) {
    uint32_t w[8];
    uint64_t acc = 0;
    unsigned nbits = 0, k = 0;
    /* Sum the limbs at their bit offsets into 8 words (value < 2^256). */
    for (int i = 0; i < 10; i++) {
        acc += (uint64_t)f[i] << nbits;
        nbits += LIMB_BITS(i);
        if (nbits >= 32) {
            w[k++] = (uint32_t)acc;
            acc >>= 32;
            nbits -= 32;
        }
    }
    w[7] = (uint32_t)acc;
    /* Fold bit 255 down (2^255 = 19), then subtract p once if value >= p,
     * detected as value + 19 reaching bit 255. */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t add = pass == 0 ? 19u * (w[7] >> 31) : 19u;
        uint32_t u[8];
        if (pass == 0) {
            w[7] &= 0x7fffffffu;
        }
        acc = add;
        for (int j = 0; j < 8; j++) {
            acc += w[j];
            u[j] = (uint32_t)acc;
            acc >>= 32;
        }
        if (pass == 0) {
            memcpy(w, u, sizeof w);
        } else if (u[7] >> 31) {
            memcpy(w, u, sizeof w);
            w[7] &= 0x7fffffffu;
        }
    }
    for (int j = 0; j < 32; j++) {
        s[j] = (uint8_t)(w[j >> 2] >> (8 * (j & 3)));
    }
}

/* Bring every limb back under its width (plus a little in limbs 1 and 5).
 * Two interleaved chains (0..4, 4..8), then 9 wraps into 0 as 19 (2^255 =
 * 19 mod p) and 0 carries into 1: half the serial latency of one chain. */
#define CARRY_STEP(t, i, T)                                                    \
    do {                                                                       \
        T c_ = (t)[i] >> LIMB_BITS(i);                                         \
        (t)[i] &= LIMB_MASK(i);                                                \
        (t)[(i) + 1] += c_;                                                    \
    } while (0)
/* 19 x, for CARRY_ALL's wrap of the top carry: the 64-bit one through
 * mul_wide, so that no 64 x 64 product (__aeabi_lmul) is needed. */
static inline uint32_t MUL19_uint32_t(uint32_t x) {
    return 19u * x;
}
static inline uint64_t MUL19_uint64_t(uint64_t x) {
    return mul_wide((uint32_t)x, 19u) + ((uint64_t)((uint32_t)(x >> 32) * 19u) << 32);
}

#define CARRY_ALL(t, T)                                                        \
    do {                                                                       \
        CARRY_STEP(t, 0, T);                                                   \
        CARRY_STEP(t, 4, T);                                                   \
        CARRY_STEP(t, 1, T);                                                   \
        CARRY_STEP(t, 5, T);                                                   \
        CARRY_STEP(t, 2, T);                                                   \
        CARRY_STEP(t, 6, T);                                                   \
        CARRY_STEP(t, 3, T);                                                   \
        CARRY_STEP(t, 7, T);                                                   \
        CARRY_STEP(t, 4, T);                                                   \
        CARRY_STEP(t, 8, T);                                                   \
        T c9_ = (t)[9] >> 25;                                                  \
        (t)[9] &= LIMB_MASK(9);                                                \
        (t)[0] += MUL19_##T(c9_);                                              \
        CARRY_STEP(t, 0, T);                                                   \
    } while (0)

static void fe_carry(fe h) { CARRY_ALL(h, uint32_t); }

/* h = f + g, carried. */
static void fe_add(fe h, const fe f, const fe g) {
    for (int i = 0; i < 10; i++) {
        h[i] = f[i] + g[i];
    }
    fe_carry(h);
}

/* h = f + g, not carried (limbs below 2^27.1): only for a value that goes
 * straight into fe_mul, fe_sq, fe_add or fe_sub, never to fe_tobytes. */
static void fe_add_lazy(fe h, const fe f, const fe g) {
    for (int i = 0; i < 10; i++) {
        h[i] = f[i] + g[i];
    }
}

/* h = f - g, carried, computed as f + 8p - g so no limb goes negative for
 * any g from fe_add_lazy. */
static void fe_sub(fe h, const fe f, const fe g) {
    for (int i = 0; i < 10; i++) {
        uint32_t eight_p = i == 0 ? 8u * ((1u << 26) - 19u) : 8u * LIMB_MASK(i);
        h[i] = f[i] + eight_p - g[i];
    }
    fe_carry(h);
}

static void fe_neg(fe h, const fe f) {
    fe zero = {0};
    fe_sub(h, zero, f);
}

/* Carry the ten column sums of a product (each below 2^62) into limbs. */
static inline void fe_carry_wide(fe h, uint64_t t[10]) {
    CARRY_ALL(t, uint64_t);
    for (int i = 0; i < 10; i++) {
        h[i] = (uint32_t)t[i];
    }
}

/* Product by columns (one register sum per output limb). Limbs i and j meet
 * at weight i + j, one bit higher when both are odd (25.5 rounds up twice):
 * that happens in even columns k for odd i, so even columns use f with its
 * odd limbs doubled. Weights from 10 on wrap with 2^255 = 19: gx[9 + m] is
 * the g limb at distance m = k - i, 19 g[m + 10] when m < 0. With lazy
 * inputs terms are below 2^58.3 and columns below 2^61.7. */
static void fe_mul(fe h, const fe f, const fe g) {
    uint64_t t[10];
    uint32_t gx[19], f2[10];
    for (int j = 0; j < 10; j++) {
        gx[9 + j] = g[j];
        if (j > 0) {
            gx[j - 1] = 19u * g[j];
        }
        f2[j] = f[j] << (j & 1);
    }
    UNROLL_10
    for (int k = 0; k < 10; k++) {
        const uint32_t *a = (k & 1) ? f : f2;
        const uint32_t *gk = gx + 9 + k;
        uint64_t acc = 0;
        UNROLL_10
        for (int i = 0; i < 10; i++) {
            acc += mul_wide(a[i], gk[-i]);
        }
        t[k] = acc;
    }
    fe_carry_wide(h, t);
}

/* Square, written out: each pair i < j once with factor 2 (d = 2f, q = 4f
 * for odd-odd pairs, which meet one bit higher), each diagonal term once,
 * wrapped terms against f19 = 19f; 55 products. With lazy inputs terms are
 * below 2^59.3 and columns (at most six terms) below 2^62. */
static void fe_sq(fe h, const fe f) {
#define M(a, b) mul_wide((a), (b))
    uint64_t t[10];
    uint32_t d[10], q[10], f19[10];
    for (int i = 0; i < 10; i++) {
        d[i] = f[i] << 1;
        q[i] = f[i] << 2;
        f19[i] = 19u * f[i];
    }
    t[0] = M(f[0], f[0]) + M(q[1], f19[9]) + M(d[2], f19[8]) + M(q[3], f19[7]) + M(d[4], f19[6]) + M(d[5], f19[5]);
    t[1] = M(d[0], f[1]) + M(d[2], f19[9]) + M(d[3], f19[8]) + M(d[4], f19[7]) + M(d[5], f19[6]);
    t[2] = M(d[0], f[2]) + M(d[1], f[1]) + M(q[3], f19[9]) + M(d[4], f19[8]) + M(q[5], f19[7]) + M(f[6], f19[6]);
    t[3] = M(d[0], f[3]) + M(d[1], f[2]) + M(d[4], f19[9]) + M(d[5], f19[8]) + M(d[6], f19[7]);
    t[4] = M(d[0], f[4]) + M(q[1], f[3]) + M(f[2], f[2]) + M(q[5], f19[9]) + M(d[6], f19[8]) + M(d[7], f19[7]);
    t[5] = M(d[0], f[5]) + M(d[1], f[4]) + M(d[2], f[3]) + M(d[6], f19[9]) + M(d[7], f19[8]);
    t[6] = M(d[0], f[6]) + M(q[1], f[5]) + M(d[2], f[4]) + M(d[3], f[3]) + M(q[7], f19[9]) + M(f[8], f19[8]);
    t[7] = M(d[0], f[7]) + M(d[1], f[6]) + M(d[2], f[5]) + M(d[3], f[4]) + M(d[8], f19[9]);
    t[8] = M(d[0], f[8]) + M(q[1], f[7]) + M(d[2], f[6]) + M(q[3], f[5]) + M(f[4], f[4]) + M(d[9], f19[9]);
    t[9] = M(d[0], f[9]) + M(d[1], f[8]) + M(d[2], f[7]) + M(d[3], f[6]) + M(d[4], f[5]);
#undef M
    fe_carry_wide(h, t);
}

/* h = f^(2^n) */
static void fe_sqn(fe h, const fe f, int n) {
    memcpy(h, f, sizeof(fe));
    while (n-- > 0) {
        fe_sq(h, h);
    }
}

/* h = z^((2^250 - 1) * 2^n + tail): the two exponents needed here share
 * the 2^250 - 1 part, built by an addition chain of 249 squarings and 10
 * products; the n tail bits then cost n squarings and a product per one. */
static void fe_pow(fe h, const fe z, unsigned tail, int n) {
    fe t, u, v;
    fe_sq(t, z);
    fe_mul(t, t, z); /* 2^2 - 1 */
    fe_sqn(u, t, 2);
    fe_mul(u, u, t); /* 2^4 - 1 */
    fe_sq(u, u);
    fe_mul(u, u, z); /* 2^5 - 1 */
    fe_sqn(t, u, 5);
    fe_mul(u, t, u); /* u = 2^10 - 1 */
    fe_sqn(t, u, 10);
    fe_mul(t, t, u); /* 2^20 - 1 */
    fe_sqn(v, t, 20);
    fe_mul(t, v, t); /* 2^40 - 1 */
    fe_sqn(t, t, 10);
    fe_mul(u, t, u); /* u = 2^50 - 1 */
    fe_sqn(t, u, 50);
    fe_mul(t, t, u); /* 2^100 - 1 */
    fe_sqn(v, t, 100);
    fe_mul(t, v, t); /* 2^200 - 1 */
    fe_sqn(t, t, 50);
    fe_mul(t, t, u); /* 2^250 - 1 */
    while (n-- > 0) {
        fe_sq(t, t);
        if ((tail >> n) & 1u) {
            fe_mul(t, t, z);
        }
    }
    memcpy(h, t, sizeof(fe));
}

static int bytes_eq(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t d = 0;
    while (n-- > 0) {
        d |= a[n] ^ b[n];
    }
    return d == 0;
}

static int fe_iszero(const fe f) {
    static const uint8_t zero[32];
    uint8_t s[32];
    fe_tobytes(s, f);
    return bytes_eq(s, zero, 32);
}

static unsigned fe_isodd(const fe f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1u;
}

/* ---- Points: extended coordinates (RFC 8032 5.1.4), x = X/Z, y = Y/Z,
 * xy = T/Z, on -x^2 + y^2 = 1 + d x^2 y^2. ---- */
typedef struct pt {
    fe x, y, z, t;
} pt;

/* A point ready to be added: (Y+X, Y-X, 2dT, 2Z). */
typedef struct pt_cached {
    fe ypx, ymx, t2d, z2;
} pt_cached;

static void pt_cache(pt_cached *c, const pt *p, const fe d2) {
    fe_add_lazy(c->ypx, p->y, p->x);
    fe_sub(c->ymx, p->y, p->x);
    fe_mul(c->t2d, p->t, d2);
    fe_add_lazy(c->z2, p->z, p->z);
}

/* Finish an addition or doubling from its E, F, G, H; T only if the next
 * operation is an addition (a doubling does not read it). */
static void pt_finish(pt *r, const fe e, const fe f, const fe g, const fe h, int need_t) {
    fe_mul(r->x, e, f);
    fe_mul(r->y, g, h);
    if (need_t) {
        fe_mul(r->t, e, h);
    }
    fe_mul(r->z, f, g);
}

/* r = p + q; complete (any two curve points, including equal ones). */
static void pt_add(pt *r, const pt *p, const pt_cached *q) {
    fe a, b, c, d, e;
    fe_sub(a, p->y, p->x);
    fe_mul(a, a, q->ymx);
    fe_add_lazy(b, p->y, p->x);
    fe_mul(b, b, q->ypx);
    fe_mul(c, p->t, q->t2d);
    fe_mul(d, p->z, q->z2);
    fe_sub(e, b, a);      /* E */
    fe_add_lazy(b, b, a); /* H */
    fe_sub(a, d, c);      /* F */
    fe_add_lazy(d, d, c); /* G */
    pt_finish(r, e, a, d, b, 1);
}

/* r = 2p */
static void pt_double(pt *r, const pt *p, int need_t) {
    fe a, b, c, e, h;
    fe_sq(a, p->x);
    fe_sq(b, p->y);
    fe_sq(c, p->z);
    fe_add_lazy(c, c, c);
    fe_add_lazy(e, p->x, p->y);
    fe_sq(e, e);
    fe_add_lazy(h, a, b); /* H */
    fe_sub(e, h, e); /* E = H - (x+y)^2 */
    fe_sub(a, a, b); /* G */
    fe_add(c, c, a); /* F = 2z^2 + G */
    pt_finish(r, e, c, a, h, need_t);
}

/* Decode pk into -A. Returns 0, or -1 when y has no x on the curve. The
 * caller has already refused y >= p and the small-order points, which
 * include both points with x = 0. */
static int pt_decode_neg(pt *a, const uint8_t s[32]) {
    fe u, v, v3, t;
    fe_frombytes(a->y, s);
    fe_frombytes(t, c_d);
    memset(a->z, 0, sizeof(fe));
    a->z[0] = 1;
    fe_sq(u, a->y);
    fe_mul(v, u, t);
    fe_sub(u, u, a->z); /* u = y^2 - 1 */
    fe_add(v, v, a->z); /* v = d y^2 + 1 */
    /* RFC 8032 5.1.3: x = u v^3 (u v^7)^((p-5)/8), then fix or fail. */
    fe_sq(v3, v);
    fe_mul(v3, v3, v);
    fe_sq(a->x, v3);
    fe_mul(a->x, a->x, v);
    fe_mul(a->x, a->x, u);
    fe_pow(a->x, a->x, 1, 2); /* 2^252 - 3 = (p-5)/8 */
    fe_mul(a->x, a->x, v3);
    fe_mul(a->x, a->x, u);
    fe_sq(t, a->x);
    fe_mul(t, t, v); /* v x^2 */
    fe_sub(v3, t, u);
    if (!fe_iszero(v3)) {
        fe_add(v3, t, u);
        if (!fe_iszero(v3)) {
            return -1;
        }
        fe_frombytes(t, c_sqrtm1);
        fe_mul(a->x, a->x, t);
    }
    /* Choose the root whose parity is the opposite of the sign bit: -A. */
    if (fe_isodd(a->x) == (unsigned)(s[31] >> 7)) {
        fe_neg(a->x, a->x);
    }
    fe_mul(a->t, a->x, a->y);
    return 0;
}

/* ---- Scalars mod L, as 8 little-endian 32-bit words ---- */

static void sc_load(uint32_t w[8], const uint8_t s[32]) {
    for (int j = 0; j < 8; j++) {
        w[j] = (uint32_t)s[4 * j] | (uint32_t)s[4 * j + 1] << 8 | (uint32_t)s[4 * j + 2] << 16 |
               (uint32_t)s[4 * j + 3] << 24;
    }
}

/* Is the 256-bit little-endian s below L? */
static int sc_below_l(const uint8_t s[32]) {
    for (int i = 31; i >= 0; i--) {
        if (s[i] != c_l[i]) {
            return s[i] < c_l[i];
        }
    }
    return 0; /* s == L */
}

/* r = h mod L for the 512-bit little-endian h: one bit at a time, shifting
 * in from the top and subtracting L whenever r reaches it (r < 2^253, so
 * 2r + 1 always fits in 256 bits). Slow-ish (512 steps) but tiny. */
static void sc_reduce512(uint32_t r[8], const uint8_t h[64]) {
    uint32_t l[8];
    sc_load(l, c_l);
    memset(r, 0, 8 * sizeof(uint32_t));
    for (int i = 511; i >= 0; i--) {
        uint32_t in = (h[i >> 3] >> (i & 7)) & 1u;
        for (int j = 0; j < 8; j++) {
            uint32_t out = r[j] >> 31;
            r[j] = (r[j] << 1) | in;
            in = out;
        }
        int ge = 1; /* r >= L, unless a word from the top says otherwise */
        for (int j = 7; j >= 0; j--) {
            if (r[j] != l[j]) {
                ge = r[j] > l[j];
                break;
            }
        }
        if (ge) {
            uint64_t borrow = 0;
            for (int j = 0; j < 8; j++) {
                uint64_t d = (uint64_t)r[j] - l[j] - borrow;
                r[j] = (uint32_t)d;
                borrow = (d >> 32) & 1u;
            }
        }
    }
}

/* ---- [s]B + [k](-A) ---- */

/* tab[m] = (2m + 1) p for m = 0..3. */
static void pt_odd_multiples(pt_cached tab[4], const pt *p, const fe d2) {
    pt cur;
    pt_cached twice;
    pt_double(&cur, p, 1);
    pt_cache(&twice, &cur, d2);
    cur = *p;
    pt_cache(&tab[0], &cur, d2);
    for (int m = 1; m < 4; m++) {
        pt_add(&cur, &cur, &twice);
        pt_cache(&tab[m], &cur, d2);
    }
}

/* Left-to-right sliding window of up to 3 bits over one scalar, recoded on
 * the fly so no digit array is needed: at bit i, a set bit opens a window
 * down to its lowest set bit j >= i - 2, whose odd value v is added once
 * the doublings reach j. */
typedef struct window {
    int next;     /* highest bit not yet looked at */
    int add_at;   /* bit at which the pending addition happens, or -1 */
    unsigned val; /* its odd multiple: 1, 3, 5 or 7 */
} window;

static unsigned sc_bit(const uint32_t s[8], int i) { return (s[i >> 5] >> (i & 31)) & 1u; }

static void window_step(window *w, const uint32_t s[8], int i) {
    if (w->next != i) {
        return;
    }
    if (!sc_bit(s, i)) {
        w->next = i - 1;
        return;
    }
    int j = i >= 2 ? i - 2 : 0;
    while (!sc_bit(s, j)) {
        j++;
    }
    unsigned v = 0;
    for (int b = i; b >= j; b--) {
        v = (v << 1) | sc_bit(s, b);
    }
    w->add_at = j;
    w->val = v;
    w->next = j - 1;
}

/* B, 3B, 5B, 7B in the cached form (y + x, y - x, 2dxy, 2z with z = 1),
 * as carried limbs; B is the RFC 8032 base point (y = 4/5, x even). A table
 * in flash instead of 640 bytes of stack. */
static const pt_cached c_base_odd[4] = {
    /* 1B */
    {{0x18c3b85, 0x124f1bd, 0x1c325f7, 0x037dc60, 0x33e4cb7, 0x03d42c2, 0x1a44c32, 0x14ca4e1, 0x3a33d4b, 0x01f3e74},
     {0x340913e, 0x00e4175, 0x3d673a2, 0x02e8a05, 0x3f4e67c, 0x08f8a09, 0x0c21a34, 0x04cf4b8, 0x1298f81, 0x113f4be},
     {0x37aaa68, 0x0448161, 0x093d579, 0x11e6556, 0x09b67a0, 0x143598c, 0x1bee5ee, 0x0b50b43, 0x289f0c6, 0x1bc45ed},
     {0x0000002, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000}},
    /* 3B */
    {{0x0ee9730, 0x16c2a13, 0x17155e4, 0x1874432, 0x0096a10, 0x1016732, 0x1a8014f, 0x11e9823, 0x1b9a80f, 0x1e85938},
     {0x0fcd265, 0x047fa29, 0x34faacc, 0x1ef2e0d, 0x0ef4d4f, 0x14bd6bd, 0x0f98d10, 0x14c5026, 0x07555bd, 0x0aae456},
     {0x1d0d889, 0x1a4cfc3, 0x34c4295, 0x110e1ae, 0x162508c, 0x0f2db4c, 0x072a2c6, 0x098da2e, 0x2f12b9b, 0x168a09a},
     {0x0000002, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000}},
    /* 5B */
    {{0x0a5bb33, 0x0af1102, 0x1a05442, 0x01e3af7, 0x2354123, 0x0bfec44, 0x1f5862d, 0x0dd7ba3, 0x3146e20, 0x0a51733},
     {0x047d6ba, 0x060b0e9, 0x136eff2, 0x08a5939, 0x3540053, 0x064a087, 0x2788e5c, 0x0be7c67, 0x33eb1b5, 0x05529f9},
     {0x12a8285, 0x0f6fc60, 0x23f9797, 0x03e85ee, 0x09c3820, 0x1bda72d, 0x1b3858d, 0x0d35683, 0x296b3bb, 0x10eaaf9},
     {0x0000002, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000}},
    /* 7B */
    {{0x04ea3bf, 0x0973425, 0x01a4d63, 0x1d59cee, 0x1d1c0d4, 0x0542e49, 0x1294114, 0x04fce36, 0x29283c9, 0x1186fa9},
     {0x23221b1, 0x1cb26aa, 0x074f74d, 0x099ddd1, 0x1b28085, 0x0192c3a, 0x13b27c9, 0x0fc13bd, 0x1d2e531, 0x075bb75},
     {0x1b8b3a2, 0x0db7200, 0x0935e30, 0x03829f5, 0x2cc0d7d, 0x077adf3, 0x220dd2c, 0x014ea53, 0x1c6a0f9, 0x1ea7eec},
     {0x0000002, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000, 0x0000000}},
};

/* r = [s]B + [k]na for s, k < 2^253 (the caller's scalars are below L);
 * r may be na. */
static void double_scalarmult(pt *r, const uint32_t s[8], const uint32_t k[8], const pt *na) {
    pt_cached tab_a[4];
    window ws = {252, -1, 0}, wk = {252, -1, 0};
    fe d2;
    fe_frombytes(d2, c_d);
    fe_add(d2, d2, d2);
    pt_odd_multiples(tab_a, na, d2); /* first: r may be na */

    memset(r, 0, sizeof *r); /* the neutral point (0, 1) */
    r->y[0] = 1;
    r->z[0] = 1;
    for (int i = 252; i >= 0; i--) {
        window_step(&ws, s, i);
        window_step(&wk, k, i);
        pt_double(r, r, ws.add_at == i || wk.add_at == i);
        if (ws.add_at == i) {
            pt_add(r, r, &c_base_odd[ws.val >> 1]);
        }
        if (wk.add_at == i) {
            pt_add(r, r, &tab_a[wk.val >> 1]);
        }
    }
}

/* ---- The acceptance rules of natmod/ed25519.h ---- */

/* Is s, with bit 255 ignored, one of the y-coordinates of the 8 points of
 * small order: 0, 1, p-1, the order-8 pair, or p and p+1 (0 and 1 again,
 * written unreduced)? */
static int is_small_order(const uint8_t s[32]) {
    uint8_t y[32];
    memcpy(y, s, 32);
    y[31] &= 0x7f;
    uint8_t zero_above = 0, ones_above = 0xff;
    for (int i = 1; i < 31; i++) {
        zero_above |= y[i];
        ones_above &= y[i];
    }
    if ((zero_above | y[31]) == 0 && y[0] <= 1) {
        return 1; /* 0 or 1 */
    }
    if (ones_above == 0xff && y[31] == 0x7f && y[0] >= 0xec && y[0] <= 0xee) {
        return 1; /* p - 1, p, p + 1 */
    }
    return bytes_eq(y, c_order8_y[0], 32) || bytes_eq(y, c_order8_y[1], 32);
}

/* Is s, with bit 255 ignored, below p = 2^255 - 19? */
static int fe_bytes_canonical(const uint8_t s[32]) {
    uint8_t ones = (uint8_t)(s[31] | 0x80);
    for (int i = 1; i < 31; i++) {
        ones &= s[i];
    }
    return !(ones == 0xff && s[0] >= 0xed);
}

int nm_ed25519_verify_init(nm_ed25519_ctx *c, const uint8_t sig[NM_ED25519_SIG_BYTES],
                           const uint8_t pk[NM_ED25519_KEY_BYTES]) {
    pt a;
    int rc = NM_ED25519_OK;
    _Static_assert(sizeof(pt) == sizeof(c->neg_a), "neg_a holds one pt");
    memcpy(c->sig, sig, 64);
    if (!sc_below_l(sig + 32)) {
        rc = NM_ED25519_ERR_S;
    } else if (is_small_order(sig)) {
        rc = NM_ED25519_ERR_R;
    } else if (!fe_bytes_canonical(pk)) {
        rc = NM_ED25519_ERR_KEY_NONCANONICAL;
    } else if (is_small_order(pk)) {
        rc = NM_ED25519_ERR_KEY_SMALL_ORDER;
    } else if (pt_decode_neg(&a, pk) != 0) {
        rc = NM_ED25519_ERR_KEY_INVALID;
    } else {
        memcpy(c->neg_a, &a, sizeof a);
    }
    c->status = rc;
    nm_sha512_init(&c->sha);
    nm_sha512_update(&c->sha, sig, 32);
    nm_sha512_update(&c->sha, pk, 32);
    return rc;
}

void nm_ed25519_verify_update(nm_ed25519_ctx *c, const void *msg, size_t len) {
    nm_sha512_update(&c->sha, msg, len);
}

int nm_ed25519_verify_final(nm_ed25519_ctx *c) {
    uint8_t buf[64];
    uint32_t k[8], s[8];
    pt p;
    if (c->status != NM_ED25519_OK) {
        return c->status;
    }
    nm_sha512_final(&c->sha, buf);
    sc_reduce512(k, buf);
    sc_load(s, c->sig + 32);
    memcpy(&p, c->neg_a, sizeof p);
    double_scalarmult(&p, s, k, &p);

    /* Encode (x, y) = (X/Z, Y/Z) and compare with R byte for byte. */
    fe_pow(p.t, p.z, 11, 5); /* 1/Z = Z^(p-2), p - 2 = (2^250 - 1) 2^5 + 11 */
    fe_mul(p.x, p.x, p.t);
    fe_mul(p.y, p.y, p.t);
    fe_tobytes(buf, p.y);
    buf[31] |= (uint8_t)(fe_isodd(p.x) << 7);
    return bytes_eq(buf, c->sig, 32) ? NM_ED25519_OK : NM_ED25519_ERR_MISMATCH;
}

int nm_ed25519_verify(const uint8_t sig[NM_ED25519_SIG_BYTES], const void *msg, size_t len,
                      const uint8_t pk[NM_ED25519_KEY_BYTES]) {
    nm_ed25519_ctx c;
    int rc = nm_ed25519_verify_init(&c, sig, pk);
    if (rc != NM_ED25519_OK) {
        return rc;
    }
    nm_ed25519_verify_update(&c, msg, len);
    return nm_ed25519_verify_final(&c);
}
