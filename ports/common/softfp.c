/*
 * Soft-float helpers with libgcc's names and conventions, for boards whose
 * toolchain has none (Debian's lx106 libgcc, clang-22 for Xtensa): IEEE-754
 * binary32 and binary64 add, subtract, multiply, divide, negate, the
 * conversions between them and to and from 32/64-bit integers, and the
 * comparisons. Round to nearest even, subnormals kept (no flush to zero),
 * signed zeros and infinities as IEEE-754 says; a NaN result is the
 * default quiet NaN (positive, top fraction bit set) whatever the operands.
 *
 * Conversions to integers truncate toward zero. Where C leaves them
 * undefined they saturate: a value past the type's range gives its maximum
 * or minimum, a negative value gives 0 for an unsigned type, NaN gives 0.
 *
 * Comparisons follow libgcc: __eqXf2 / __neXf2 return 0 when equal, nonzero
 * otherwise (1 when unordered); __ltXf2 / __leXf2 return <0 / <=0 when the
 * relation holds (1 when unordered); __gtXf2 / __geXf2 return >0 / >=0 when
 * it holds (-1 when unordered); __unordXf2 is nonzero when either is NaN.
 *
 * Everything is integer work on the representation, so that the file
 * compiles for a core with no FPU and nothing in it becomes a call to a
 * helper the board may lack (or to itself): no float arithmetic, no 64-bit
 * `/` or `%` (division is shift-and-subtract), 64-bit products from 16-bit
 * pieces (neither Xtensa core has MUL32_HIGH), no builtins.
 *
 * A test build may rename the functions: define NM_SOFTFP_NAME(n) before
 * including this file (tests/softfp does, to compare against the host FPU
 * without clashing with the host's libgcc).
 */
#include <stdint.h>

/* A board that exports these declares them; its prototypes are checked here. */
#ifdef BOARD_EXPORTS
#include "natmod/export.h"
#include BOARD_EXPORTS
#endif

#ifndef NM_SOFTFP_NAME
#define NM_SOFTFP_NAME(n) n
#endif

/* Bits in and out of the float types: a union, as memcpy may be a call. */
typedef union {
    float f;
    uint32_t u;
} sfp_bits32;

typedef union {
    double f;
    uint64_t u;
} sfp_bits64;

/* One format: fraction width, exponent bias, the all-ones exponent field. */
struct sfp_format {
    int mant;
    int32_t bias;
    int32_t emax;
    int signpos;
};

static const struct sfp_format sfp_single = {23, 127, 255, 31};
static const struct sfp_format sfp_double = {52, 1023, 2047, 63};

enum { SFP_ZERO, SFP_FINITE, SFP_INF, SFP_NAN };

/*
 * An unpacked operand. For SFP_FINITE the value is sig / 2^62 * 2^exp with
 * bit 62 of sig set (subnormals are normalized here), so both formats share
 * the arithmetic below: bit 63 is headroom for an addition's carry, and the
 * bits under the format's fraction are guard bits for rounding.
 */
struct sfp_num {
    int cls;
    uint32_t sign;
    int32_t exp;
    uint64_t sig;
};

static uint64_t sfp_normalize(uint64_t sig, int32_t *exp) {
    while (!(sig >> 54)) {
        sig <<= 8;
        *exp -= 8;
    }
    while (!(sig >> 62)) {
        sig <<= 1;
        *exp -= 1;
    }
    return sig;
}

static struct sfp_num sfp_unpack(uint64_t bits, const struct sfp_format *f) {
    struct sfp_num x;
    uint64_t frac = bits & (((uint64_t)1 << f->mant) - 1);
    int32_t e = (int32_t)(bits >> f->mant) & f->emax;
    x.sign = (uint32_t)(bits >> f->signpos) & 1u;
    x.exp = 0;
    x.sig = 0;
    if (e == f->emax) {
        x.cls = frac ? SFP_NAN : SFP_INF;
    } else if (e == 0) {
        x.cls = frac ? SFP_FINITE : SFP_ZERO;
        if (frac) {
            x.exp = 1 - f->bias;
            x.sig = sfp_normalize(frac << (62 - f->mant), &x.exp);
        }
    } else {
        x.cls = SFP_FINITE;
        x.exp = e - f->bias;
        x.sig = (frac | (uint64_t)1 << f->mant) << (62 - f->mant);
    }
    return x;
}

static uint64_t sfp_qnan(const struct sfp_format *f) {
    return ((uint64_t)f->emax << f->mant) | (uint64_t)1 << (f->mant - 1);
}

static uint64_t sfp_inf(uint32_t sign, const struct sfp_format *f) {
    return (uint64_t)sign << f->signpos | (uint64_t)f->emax << f->mant;
}

static uint64_t sfp_zero(uint32_t sign, const struct sfp_format *f) {
    return (uint64_t)sign << f->signpos;
}

/*
 * Rounds sig / 2^62 * 2^exp (bit 62 set; bit 0 a sticky bit standing for
 * anything nonzero below it) to the format, nearest even. The guard bits
 * under the fraction are at least 10 (binary64), so the sticky bit never
 * reaches the rounding position. A result under the normal range is
 * shifted further (subnormal); one whose rounding carries into the hidden
 * bit comes out as the smallest normal by itself, as the fields add.
 */
static uint64_t sfp_round_pack(uint32_t sign, int32_t exp, uint64_t sig, const struct sfp_format *f) {
    int32_t e = exp + f->bias;
    int32_t shift = 62 - f->mant;
    uint64_t q;
    if (e <= 0) {
        shift += 1 - e;
        e = 0;
    }
    if (shift >= 64) {
        q = 0; /* under half the smallest subnormal: rounds to zero */
    } else {
        uint64_t rest = sig & (((uint64_t)1 << shift) - 1), half = (uint64_t)1 << (shift - 1);
        q = sig >> shift;
        if (rest > half || (rest == half && (q & 1u))) {
            q++;
        }
    }
    if (e > 0) {
        if (q >> (f->mant + 1)) { /* rounded up to the next power of two */
            q >>= 1;
            e++;
        }
        if (e >= f->emax) {
            return sfp_inf(sign, f);
        }
        /* q carries the hidden bit: field e-1 plus it is field e */
        return ((uint64_t)sign << f->signpos) + ((uint64_t)(e - 1) << f->mant) + q;
    }
    return ((uint64_t)sign << f->signpos) + q;
}

/* sig >> n with the bits shifted out folded into bit 0. */
static uint64_t sfp_shift_sticky(uint64_t sig, int32_t n) {
    if (n == 0) {
        return sig;
    }
    if (n >= 63) {
        return sig != 0;
    }
    return sig >> n | ((sig << (64 - n)) != 0);
}

static uint64_t sfp_add(uint64_t a, uint64_t b, const struct sfp_format *f) {
    struct sfp_num x = sfp_unpack(a, f), y = sfp_unpack(b, f), t;
    uint64_t s;
    if (x.cls == SFP_NAN || y.cls == SFP_NAN) {
        return sfp_qnan(f);
    }
    if (x.cls == SFP_INF) {
        return y.cls == SFP_INF && x.sign != y.sign ? sfp_qnan(f) : a;
    }
    if (y.cls == SFP_INF) {
        return b;
    }
    if (x.cls == SFP_ZERO) {
        /* -0 + -0 is -0; any other sum of zeros is +0 (round to nearest) */
        return y.cls == SFP_ZERO ? sfp_zero(x.sign & y.sign, f) : b;
    }
    if (y.cls == SFP_ZERO) {
        return a;
    }
    if (x.exp < y.exp || (x.exp == y.exp && x.sig < y.sig)) {
        t = x;
        x = y;
        y = t;
    }
    /*
     * x is the larger magnitude, so the result has its sign. With 9 or more
     * guard bits, a sticky-jammed y loses nothing that matters: a shift of
     * two or more cancels at most one leading bit, and a shift of one or
     * none shifts out no significant bit.
     */
    s = sfp_shift_sticky(y.sig, x.exp - y.exp);
    if (x.sign == y.sign) {
        s += x.sig;
        if (s >> 63) {
            s = s >> 1 | (s & 1u);
            x.exp++;
        }
    } else {
        s = x.sig - s;
        if (s == 0) {
            return sfp_zero(0, f); /* x - x is +0 in round to nearest */
        }
        s = sfp_normalize(s, &x.exp);
    }
    return sfp_round_pack(x.sign, x.exp, s, f);
}

/* a * b, 32 x 32 -> 64 bits, from 16-bit pieces (no MUL32_HIGH). */
static uint64_t sfp_mul32(uint32_t a, uint32_t b) {
    uint32_t a0 = a & 0xFFFFu, a1 = a >> 16, b0 = b & 0xFFFFu, b1 = b >> 16;
    uint32_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint32_t mid = (p00 >> 16) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
    uint32_t lo = (mid << 16) | (p00 & 0xFFFFu);
    uint32_t hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16);
    return (uint64_t)hi << 32 | lo;
}

/* a * b, 64 x 64 -> 128 bits as hi:lo, from four 32 x 32 products. */
static void sfp_mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
    uint32_t al = (uint32_t)a, ah = (uint32_t)(a >> 32), bl = (uint32_t)b, bh = (uint32_t)(b >> 32);
    uint64_t ll = sfp_mul32(al, bl), lh = sfp_mul32(al, bh), hl = sfp_mul32(ah, bl), hh = sfp_mul32(ah, bh);
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    *lo = mid << 32 | (uint32_t)ll;
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

static uint64_t sfp_mul(uint64_t a, uint64_t b, const struct sfp_format *f) {
    struct sfp_num x = sfp_unpack(a, f), y = sfp_unpack(b, f);
    uint32_t sign = x.sign ^ y.sign;
    uint64_t hi, lo, s;
    int32_t exp = x.exp + y.exp;
    if (x.cls == SFP_NAN || y.cls == SFP_NAN) {
        return sfp_qnan(f);
    }
    if (x.cls == SFP_INF || y.cls == SFP_INF) {
        return x.cls == SFP_ZERO || y.cls == SFP_ZERO ? sfp_qnan(f) : sfp_inf(sign, f);
    }
    if (x.cls == SFP_ZERO || y.cls == SFP_ZERO) {
        return sfp_zero(sign, f);
    }
    /* the product is in [2^124, 2^126): keep bits 125..62, the rest sticky */
    sfp_mul64(x.sig, y.sig, &hi, &lo);
    s = hi << 2 | lo >> 62 | ((lo & (((uint64_t)1 << 62) - 1)) != 0);
    if (s >> 63) {
        s = s >> 1 | (s & 1u);
        exp++;
    }
    return sfp_round_pack(sign, exp, s, f);
}

static uint64_t sfp_div(uint64_t a, uint64_t b, const struct sfp_format *f) {
    struct sfp_num x = sfp_unpack(a, f), y = sfp_unpack(b, f);
    uint32_t sign = x.sign ^ y.sign;
    uint64_t r, q = 0;
    int32_t exp = x.exp - y.exp;
    if (x.cls == SFP_NAN || y.cls == SFP_NAN) {
        return sfp_qnan(f);
    }
    if (x.cls == SFP_INF) {
        return y.cls == SFP_INF ? sfp_qnan(f) : sfp_inf(sign, f);
    }
    if (y.cls == SFP_INF) {
        return sfp_zero(sign, f);
    }
    if (y.cls == SFP_ZERO) {
        return x.cls == SFP_ZERO ? sfp_qnan(f) : sfp_inf(sign, f);
    }
    if (x.cls == SFP_ZERO) {
        return sfp_zero(sign, f);
    }
    /*
     * 63 quotient bits by shift and subtract, the first one set: a dividend
     * under the divisor is doubled first. r stays under 2 * y.sig < 2^64.
     */
    r = x.sig;
    if (r < y.sig) {
        r <<= 1;
        exp--;
    }
    for (int i = 62; i >= 0; i--) {
        if (r >= y.sig) {
            r -= y.sig;
            q |= (uint64_t)1 << i;
        }
        r <<= 1;
    }
    return sfp_round_pack(sign, exp, q | (r != 0), f);
}

/* An integer magnitude (and sign) to the format. */
static uint64_t sfp_from_int(uint32_t sign, uint64_t mag, const struct sfp_format *f) {
    int32_t exp = 62;
    if (mag == 0) {
        return 0;
    }
    if (mag >> 63) {
        mag = mag >> 1 | (mag & 1u);
        exp = 63;
    } else {
        mag = sfp_normalize(mag, &exp);
    }
    return sfp_round_pack(sign, exp, mag, f);
}

/* The magnitude truncated toward zero; *big set if it is 2^64 or more. */
static uint64_t sfp_trunc_mag(const struct sfp_num *x, int *big) {
    *big = 0;
    if (x->cls == SFP_ZERO || (x->cls == SFP_FINITE && x->exp < 0)) {
        return 0;
    }
    if (x->cls != SFP_FINITE || x->exp > 63) {
        *big = 1;
        return ~(uint64_t)0;
    }
    return x->exp == 63 ? x->sig << 1 : x->sig >> (62 - x->exp);
}

/* To a signed integer of at most maxpos, saturating; NaN gives 0. */
static int64_t sfp_to_signed(uint64_t bits, uint64_t maxpos, const struct sfp_format *f) {
    struct sfp_num x = sfp_unpack(bits, f);
    int big;
    uint64_t mag = sfp_trunc_mag(&x, &big);
    if (x.cls == SFP_NAN) {
        return 0;
    }
    if (x.sign) {
        mag = big || mag > maxpos ? maxpos + 1 : mag;
        return mag == 0 ? 0 : -(int64_t)(mag - 1) - 1; /* -2^63 without overflow */
    }
    return (int64_t)(big || mag > maxpos ? maxpos : mag);
}

/* To an unsigned integer of at most maxval, saturating; negatives and NaN give 0. */
static uint64_t sfp_to_unsigned(uint64_t bits, uint64_t maxval, const struct sfp_format *f) {
    struct sfp_num x = sfp_unpack(bits, f);
    int big;
    uint64_t mag = sfp_trunc_mag(&x, &big);
    if (x.cls == SFP_NAN || x.sign) {
        return 0;
    }
    return big || mag > maxval ? maxval : mag;
}

/* -1, 0 or 1 as a is less, equal or greater than b; 2 if unordered. */
static int sfp_cmp(uint64_t a, uint64_t b, const struct sfp_format *f) {
    uint64_t magmask = ((uint64_t)1 << f->signpos) - 1, inf = sfp_inf(0, f);
    uint64_t ma = a & magmask, mb = b & magmask;
    int64_t ka, kb;
    if (ma > inf || mb > inf) {
        return 2;
    }
    if ((ma | mb) == 0) {
        return 0; /* +0 == -0 */
    }
    /* sign and magnitude to an ordered signed key (magnitudes < 2^63) */
    ka = a >> f->signpos ? -(int64_t)ma : (int64_t)ma;
    kb = b >> f->signpos ? -(int64_t)mb : (int64_t)mb;
    return ka < kb ? -1 : ka > kb;
}

/* ---- binary32 ---- */

static uint32_t sf_in(float v) {
    sfp_bits32 b;
    b.f = v;
    return b.u;
}

static float sf_out(uint64_t v) {
    sfp_bits32 b;
    b.u = (uint32_t)v;
    return b.f;
}

float NM_SOFTFP_NAME(__addsf3)(float a, float b) {
    return sf_out(sfp_add(sf_in(a), sf_in(b), &sfp_single));
}

float NM_SOFTFP_NAME(__subsf3)(float a, float b) {
    return sf_out(sfp_add(sf_in(a), sf_in(b) ^ 0x80000000u, &sfp_single));
}

float NM_SOFTFP_NAME(__mulsf3)(float a, float b) {
    return sf_out(sfp_mul(sf_in(a), sf_in(b), &sfp_single));
}

float NM_SOFTFP_NAME(__divsf3)(float a, float b) {
    return sf_out(sfp_div(sf_in(a), sf_in(b), &sfp_single));
}

float NM_SOFTFP_NAME(__negsf2)(float a) {
    return sf_out(sf_in(a) ^ 0x80000000u);
}

int32_t NM_SOFTFP_NAME(__fixsfsi)(float a) {
    return (int32_t)sfp_to_signed(sf_in(a), INT32_MAX, &sfp_single);
}

uint32_t NM_SOFTFP_NAME(__fixunssfsi)(float a) {
    return (uint32_t)sfp_to_unsigned(sf_in(a), UINT32_MAX, &sfp_single);
}

int64_t NM_SOFTFP_NAME(__fixsfdi)(float a) {
    return sfp_to_signed(sf_in(a), INT64_MAX, &sfp_single);
}

uint64_t NM_SOFTFP_NAME(__fixunssfdi)(float a) {
    return sfp_to_unsigned(sf_in(a), UINT64_MAX, &sfp_single);
}

float NM_SOFTFP_NAME(__floatsisf)(int32_t i) {
    return sf_out(sfp_from_int(i < 0, i < 0 ? 0u - (uint32_t)i : (uint32_t)i, &sfp_single));
}

float NM_SOFTFP_NAME(__floatunsisf)(uint32_t i) {
    return sf_out(sfp_from_int(0, i, &sfp_single));
}

float NM_SOFTFP_NAME(__floatdisf)(int64_t i) {
    return sf_out(sfp_from_int(i < 0, i < 0 ? 0u - (uint64_t)i : (uint64_t)i, &sfp_single));
}

float NM_SOFTFP_NAME(__floatundisf)(uint64_t i) {
    return sf_out(sfp_from_int(0, i, &sfp_single));
}

/* sfp_cmp's -1/0/1, and `unordered` when either is a NaN (libgcc: eq, ne,
 * lt, le give 1 then, gt and ge -1). */
static int sf_compare(float a, float b, int unordered) {
    int r = sfp_cmp(sf_in(a), sf_in(b), &sfp_single);
    return r == 2 ? unordered : r;
}

int NM_SOFTFP_NAME(__eqsf2)(float a, float b) {
    return sf_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__nesf2)(float a, float b) {
    return sf_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__ltsf2)(float a, float b) {
    return sf_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__lesf2)(float a, float b) {
    return sf_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__gtsf2)(float a, float b) {
    return sf_compare(a, b, -1);
}

int NM_SOFTFP_NAME(__gesf2)(float a, float b) {
    return sf_compare(a, b, -1);
}

int NM_SOFTFP_NAME(__unordsf2)(float a, float b) {
    return sfp_cmp(sf_in(a), sf_in(b), &sfp_single) == 2;
}

/* ---- binary64 ---- */

static uint64_t df_in(double v) {
    sfp_bits64 b;
    b.f = v;
    return b.u;
}

static double df_out(uint64_t v) {
    sfp_bits64 b;
    b.u = v;
    return b.f;
}

double NM_SOFTFP_NAME(__adddf3)(double a, double b) {
    return df_out(sfp_add(df_in(a), df_in(b), &sfp_double));
}

double NM_SOFTFP_NAME(__subdf3)(double a, double b) {
    return df_out(sfp_add(df_in(a), df_in(b) ^ (uint64_t)1 << 63, &sfp_double));
}

double NM_SOFTFP_NAME(__muldf3)(double a, double b) {
    return df_out(sfp_mul(df_in(a), df_in(b), &sfp_double));
}

double NM_SOFTFP_NAME(__divdf3)(double a, double b) {
    return df_out(sfp_div(df_in(a), df_in(b), &sfp_double));
}

double NM_SOFTFP_NAME(__negdf2)(double a) {
    return df_out(df_in(a) ^ (uint64_t)1 << 63);
}

int32_t NM_SOFTFP_NAME(__fixdfsi)(double a) {
    return (int32_t)sfp_to_signed(df_in(a), INT32_MAX, &sfp_double);
}

uint32_t NM_SOFTFP_NAME(__fixunsdfsi)(double a) {
    return (uint32_t)sfp_to_unsigned(df_in(a), UINT32_MAX, &sfp_double);
}

int64_t NM_SOFTFP_NAME(__fixdfdi)(double a) {
    return sfp_to_signed(df_in(a), INT64_MAX, &sfp_double);
}

uint64_t NM_SOFTFP_NAME(__fixunsdfdi)(double a) {
    return sfp_to_unsigned(df_in(a), UINT64_MAX, &sfp_double);
}

double NM_SOFTFP_NAME(__floatsidf)(int32_t i) {
    return df_out(sfp_from_int(i < 0, i < 0 ? 0u - (uint32_t)i : (uint32_t)i, &sfp_double));
}

double NM_SOFTFP_NAME(__floatunsidf)(uint32_t i) {
    return df_out(sfp_from_int(0, i, &sfp_double));
}

double NM_SOFTFP_NAME(__floatdidf)(int64_t i) {
    return df_out(sfp_from_int(i < 0, i < 0 ? 0u - (uint64_t)i : (uint64_t)i, &sfp_double));
}

double NM_SOFTFP_NAME(__floatundidf)(uint64_t i) {
    return df_out(sfp_from_int(0, i, &sfp_double));
}

/* sfp_cmp's -1/0/1, and `unordered` when either is a NaN (libgcc: eq, ne,
 * lt, le give 1 then, gt and ge -1). */
static int df_compare(double a, double b, int unordered) {
    int r = sfp_cmp(df_in(a), df_in(b), &sfp_double);
    return r == 2 ? unordered : r;
}

int NM_SOFTFP_NAME(__eqdf2)(double a, double b) {
    return df_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__nedf2)(double a, double b) {
    return df_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__ltdf2)(double a, double b) {
    return df_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__ledf2)(double a, double b) {
    return df_compare(a, b, 1);
}

int NM_SOFTFP_NAME(__gtdf2)(double a, double b) {
    return df_compare(a, b, -1);
}

int NM_SOFTFP_NAME(__gedf2)(double a, double b) {
    return df_compare(a, b, -1);
}

int NM_SOFTFP_NAME(__unorddf2)(double a, double b) {
    return sfp_cmp(df_in(a), df_in(b), &sfp_double) == 2;
}

/* ---- between the formats ---- */

/* Widening is exact; only NaN changes (to the default quiet NaN). */
double NM_SOFTFP_NAME(__extendsfdf2)(float a) {
    struct sfp_num x = sfp_unpack(sf_in(a), &sfp_single);
    switch (x.cls) {
    case SFP_NAN: return df_out(sfp_qnan(&sfp_double));
    case SFP_INF: return df_out(sfp_inf(x.sign, &sfp_double));
    case SFP_ZERO: return df_out(sfp_zero(x.sign, &sfp_double));
    default: return df_out(sfp_round_pack(x.sign, x.exp, x.sig, &sfp_double));
    }
}

float NM_SOFTFP_NAME(__truncdfsf2)(double a) {
    struct sfp_num x = sfp_unpack(df_in(a), &sfp_double);
    switch (x.cls) {
    case SFP_NAN: return sf_out(sfp_qnan(&sfp_single));
    case SFP_INF: return sf_out(sfp_inf(x.sign, &sfp_single));
    case SFP_ZERO: return sf_out(sfp_zero(x.sign, &sfp_single));
    default: return sf_out(sfp_round_pack(x.sign, x.exp, x.sig, &sfp_single));
    }
}
