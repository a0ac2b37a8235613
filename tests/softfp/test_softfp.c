/*
 * ports/common/softfp.c against the host's floating point (x86-64 SSE or
 * any IEEE-754 FPU rounding to nearest even), bit for bit: every pair of
 * edge values, then random operands from uniform bits, from nearby
 * exponents (cancellation, rounding ties in additions), from short
 * significands (ties in products) and from the subnormal range. NaN results
 * match any NaN; comparisons are checked against libgcc's conventions;
 * conversions to integers the C standard leaves undefined (NaN, out of
 * range) are checked against softfp.c's documented saturation instead.
 * A fixed seed; prints each function's counts, the first mismatches with
 * their operands in hex, and `N passed, N failed`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The helpers, renamed so they cannot clash with the host's libgcc. */
#define NM_SOFTFP_NAME(n) nm_sf_##n
#include "softfp.c"

#define RANDOM_PAIRS 4000000 /* per binary arithmetic function and generator mix */
#define RANDOM_OTHERS 2000000 /* per comparison / conversion batch */
#define SHOW_MAX 20

enum {
    F_ADDSF, F_SUBSF, F_MULSF, F_DIVSF, F_NEGSF,
    F_ADDDF, F_SUBDF, F_MULDF, F_DIVDF, F_NEGDF,
    F_EXTEND, F_TRUNC,
    F_FIXSFSI, F_FIXUNSSFSI, F_FIXDFSI, F_FIXUNSDFSI,
    F_FIXSFDI, F_FIXUNSSFDI, F_FIXDFDI, F_FIXUNSDFDI,
    F_FLOATSISF, F_FLOATUNSISF, F_FLOATDISF, F_FLOATUNDISF,
    F_FLOATSIDF, F_FLOATUNSIDF, F_FLOATDIDF, F_FLOATUNDIDF,
    F_CMPSF, F_CMPDF,
    F_COUNT
};

static const char *const fn_names[F_COUNT] = {
    "__addsf3", "__subsf3", "__mulsf3", "__divsf3", "__negsf2",
    "__adddf3", "__subdf3", "__muldf3", "__divdf3", "__negdf2",
    "__extendsfdf2", "__truncdfsf2",
    "__fixsfsi", "__fixunssfsi", "__fixdfsi", "__fixunsdfsi",
    "__fixsfdi", "__fixunssfdi", "__fixdfdi", "__fixunsdfdi",
    "__floatsisf", "__floatunsisf", "__floatdisf", "__floatundisf",
    "__floatsidf", "__floatunsidf", "__floatdidf", "__floatundidf",
    "__{eq,ne,lt,le,gt,ge,unord}sf2", "__{eq,ne,lt,le,gt,ge,unord}df2",
};

static unsigned long long passed[F_COUNT], failed[F_COUNT];
static int shown;

static uint64_t rng_state = 0x5eed50f7f00dULL;

/* splitmix64: a fixed, portable sequence */
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bitsd(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static int nan32(uint32_t u) {
    return (u & 0x7FFFFFFFu) > 0x7F800000u;
}

static int nan64(uint64_t u) {
    return (u & 0x7FFFFFFFFFFFFFFFULL) > 0x7FF0000000000000ULL;
}

/* One result: ok, or counted and (the first few) shown with operands. */
static void result(int fn, int ok, const char *what, uint64_t a, uint64_t b, uint64_t got, uint64_t want) {
    if (ok) {
        passed[fn]++;
        return;
    }
    failed[fn]++;
    if (shown++ < SHOW_MAX) {
        printf("MISMATCH %s%s%s a=0x%" PRIx64 " b=0x%" PRIx64 " got=0x%" PRIx64 " want=0x%" PRIx64 "\n",
               fn_names[fn], what[0] ? " " : "", what, a, b, got, want);
    }
}

static void res32(int fn, uint64_t a, uint64_t b, uint32_t got, uint32_t want) {
    result(fn, got == want || (nan32(got) && nan32(want)), "", a, b, got, want);
}

static void res64(int fn, uint64_t a, uint64_t b, uint64_t got, uint64_t want) {
    result(fn, got == want || (nan64(got) && nan64(want)), "", a, b, got, want);
}

/* ---- binary32 ---- */

static void sf_pair(uint32_t a, uint32_t b) {
    float x = bitsf(a), y = bitsf(b);
    res32(F_ADDSF, a, b, fbits(nm_sf___addsf3(x, y)), fbits(x + y));
    res32(F_SUBSF, a, b, fbits(nm_sf___subsf3(x, y)), fbits(x - y));
    res32(F_MULSF, a, b, fbits(nm_sf___mulsf3(x, y)), fbits(x * y));
    res32(F_DIVSF, a, b, fbits(nm_sf___divsf3(x, y)), fbits(x / y));
}

/* The libgcc conventions of all seven comparisons for one pair. */
static void cmp_check(int fn, uint64_t a, uint64_t b, int unord, int lt, int eq, const int r[7]) {
    int gt = !unord && !lt && !eq;
    result(fn, (r[0] == 0) == (!unord && eq), "eq", a, b, (uint64_t)(int64_t)r[0], 0);
    result(fn, (r[1] != 0) == (unord || !eq), "ne", a, b, (uint64_t)(int64_t)r[1], 0);
    result(fn, (r[2] < 0) == lt, "lt", a, b, (uint64_t)(int64_t)r[2], 0);
    result(fn, (r[3] <= 0) == (lt || eq), "le", a, b, (uint64_t)(int64_t)r[3], 0);
    result(fn, (r[4] > 0) == gt, "gt", a, b, (uint64_t)(int64_t)r[4], 0);
    result(fn, (r[5] >= 0) == (gt || eq), "ge", a, b, (uint64_t)(int64_t)r[5], 0);
    result(fn, (r[6] != 0) == unord, "unord", a, b, (uint64_t)(int64_t)r[6], 0);
}

static void sf_cmp(uint32_t a, uint32_t b) {
    float x = bitsf(a), y = bitsf(b);
    int r[7] = {nm_sf___eqsf2(x, y), nm_sf___nesf2(x, y), nm_sf___ltsf2(x, y), nm_sf___lesf2(x, y),
                nm_sf___gtsf2(x, y), nm_sf___gesf2(x, y), nm_sf___unordsf2(x, y)};
    cmp_check(F_CMPSF, a, b, nan32(a) || nan32(b), x < y, x == y, r);
}

static void df_cmp(uint64_t a, uint64_t b) {
    double x = bitsd(a), y = bitsd(b);
    int r[7] = {nm_sf___eqdf2(x, y), nm_sf___nedf2(x, y), nm_sf___ltdf2(x, y), nm_sf___ledf2(x, y),
                nm_sf___gtdf2(x, y), nm_sf___gedf2(x, y), nm_sf___unorddf2(x, y)};
    cmp_check(F_CMPDF, a, b, nan64(a) || nan64(b), x < y, x == y, r);
}

/*
 * Float to integer: where C defines the conversion (the truncated value
 * fits) the host's cast is the reference, elsewhere softfp.c's saturation
 * (NaN 0, too big the type's maximum, too negative its minimum, 0 for
 * unsigned types).
 */
static void fix_checks(double v, int isnan_, uint64_t a, int64_t si, uint32_t usi, int64_t sdi, uint64_t udi,
                       int fsi, int fusi, int fdi, int fudi) {
    int32_t wsi;
    uint32_t wusi;
    int64_t wdi;
    uint64_t wudi;
    if (isnan_) {
        wsi = 0, wusi = 0, wdi = 0, wudi = 0;
    } else {
        wsi = v > -2147483649.0 && v < 2147483648.0 ? (int32_t)v : v < 0 ? INT32_MIN : INT32_MAX;
        wusi = v > -1.0 && v < 4294967296.0 ? (uint32_t)v : v < 0 ? 0 : UINT32_MAX;
        wdi = v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : v < 0 ? INT64_MIN : INT64_MAX;
        wudi = v > -1.0 && v < 18446744073709551616.0 ? (uint64_t)v : v < 0 ? 0 : UINT64_MAX;
    }
    result(fsi, si == wsi, "", a, 0, (uint64_t)si, (uint64_t)(int64_t)wsi);
    result(fusi, usi == wusi, "", a, 0, usi, wusi);
    result(fdi, sdi == wdi, "", a, 0, (uint64_t)sdi, (uint64_t)wdi);
    result(fudi, udi == wudi, "", a, 0, udi, wudi);
}

static void sf_unary(uint32_t a) {
    float x = bitsf(a);
    res32(F_NEGSF, a, 0, fbits(nm_sf___negsf2(x)), fbits(-x));
    res64(F_EXTEND, a, 0, dbits(nm_sf___extendsfdf2(x)), dbits((double)x));
    fix_checks(x, nan32(a), a, nm_sf___fixsfsi(x), nm_sf___fixunssfsi(x), nm_sf___fixsfdi(x), nm_sf___fixunssfdi(x),
               F_FIXSFSI, F_FIXUNSSFSI, F_FIXSFDI, F_FIXUNSSFDI);
}

/* ---- binary64 ---- */

static void df_pair(uint64_t a, uint64_t b) {
    double x = bitsd(a), y = bitsd(b);
    res64(F_ADDDF, a, b, dbits(nm_sf___adddf3(x, y)), dbits(x + y));
    res64(F_SUBDF, a, b, dbits(nm_sf___subdf3(x, y)), dbits(x - y));
    res64(F_MULDF, a, b, dbits(nm_sf___muldf3(x, y)), dbits(x * y));
    res64(F_DIVDF, a, b, dbits(nm_sf___divdf3(x, y)), dbits(x / y));
}

static void df_unary(uint64_t a) {
    double x = bitsd(a);
    res64(F_NEGDF, a, 0, dbits(nm_sf___negdf2(x)), dbits(-x));
    res32(F_TRUNC, a, 0, fbits(nm_sf___truncdfsf2(x)), fbits((float)x));
    fix_checks(x, nan64(a), a, nm_sf___fixdfsi(x), nm_sf___fixunsdfsi(x), nm_sf___fixdfdi(x), nm_sf___fixunsdfdi(x),
               F_FIXDFSI, F_FIXUNSDFSI, F_FIXDFDI, F_FIXUNSDFDI);
}

/* ---- integers to floats ---- */

static void int_conv(uint64_t v) {
    int32_t s32 = (int32_t)(uint32_t)v;
    uint32_t u32 = (uint32_t)v;
    int64_t s64 = (int64_t)v;
    res32(F_FLOATSISF, v, 0, fbits(nm_sf___floatsisf(s32)), fbits((float)s32));
    res32(F_FLOATUNSISF, v, 0, fbits(nm_sf___floatunsisf(u32)), fbits((float)u32));
    res32(F_FLOATDISF, v, 0, fbits(nm_sf___floatdisf(s64)), fbits((float)s64));
    res32(F_FLOATUNDISF, v, 0, fbits(nm_sf___floatundisf(v)), fbits((float)v));
    res64(F_FLOATSIDF, v, 0, dbits(nm_sf___floatsidf(s32)), dbits((double)s32));
    res64(F_FLOATUNSIDF, v, 0, dbits(nm_sf___floatunsidf(u32)), dbits((double)u32));
    res64(F_FLOATDIDF, v, 0, dbits(nm_sf___floatdidf(s64)), dbits((double)s64));
    res64(F_FLOATUNDIDF, v, 0, dbits(nm_sf___floatundidf(v)), dbits((double)v));
}

/* ---- operands ---- */

/* Edge values of binary32, both signs added by the caller. */
static const uint32_t sf_edges[] = {
    0x00000000, 0x00000001, 0x00000002, 0x00000003, 0x007FFFFF, 0x007FFFFE, 0x00400000, 0x00800000, 0x00800001,
    0x00FFFFFF, 0x01000000, 0x3F800000, 0x3F800001, 0x3F7FFFFF, 0x3FC00000, 0x40000000, 0x40400000, 0x3F000000,
    0x33800000, 0x34000000, 0x4B800000, 0x4B800001, 0x4B7FFFFF, 0x4EFFFFFF, 0x4F000000, 0x4F000001, 0x4F7FFFFF,
    0x4F800000, 0x4F800001, 0x5EFFFFFF, 0x5F000000, 0x5F000001, 0x5F7FFFFF, 0x5F800000, 0x5F800001, 0x7F7FFFFF,
    0x7F7FFFFE, 0x7F000000, 0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x7FA00000, 0x3EAAAAAB, 0x1F800000,
    0x5F7FFFFF,
};

static const uint64_t df_edges[] = {
    0x0000000000000000, 0x0000000000000001, 0x0000000000000002, 0x000FFFFFFFFFFFFF, 0x000FFFFFFFFFFFFE,
    0x0008000000000000, 0x0010000000000000, 0x0010000000000001, 0x001FFFFFFFFFFFFF, 0x3FF0000000000000,
    0x3FF0000000000001, 0x3FEFFFFFFFFFFFFF, 0x3FF8000000000000, 0x4000000000000000, 0x3FE0000000000000,
    0x3CA0000000000000, 0x3CB0000000000000, 0x4340000000000000, 0x4340000000000001, 0x433FFFFFFFFFFFFF,
    0x41DFFFFFFFC00000, 0x41DFFFFFFFE00000, 0x41DFFFFFFFFFFFFF, 0x41E0000000000000, 0x41E0000000000001,
    0x41E0000000100000, 0x41EFFFFFFFE00000, 0x41EFFFFFFFFFFFFF, 0x41F0000000000000, 0x41F0000000000001,
    0x43DFFFFFFFFFFFFF, 0x43E0000000000000, 0x43E0000000000001, 0x43EFFFFFFFFFFFFF, 0x43F0000000000000,
    0x43F0000000000001, 0x7FEFFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFE, 0x7FE0000000000000, 0x7FF0000000000000,
    0x7FF8000000000000, 0x7FF0000000000001, 0x7FFFFFFFFFFFFFFF, 0x3FD5555555555555, 0x47EFFFFFE0000000,
    0x47EFFFFFF0000000, 0x47EFFFFFEFFFFFFF, 0x36A0000000000000, 0x3690000000000000, 0x3690000000000001,
    0x380FFFFFC0000000, 0x380FFFFFE0000000, 0x3810000000000000, 0x37FFFFFFFFFFFFFF, 0x3E70000000000000,
};

#define N_SF_EDGES (sizeof sf_edges / sizeof sf_edges[0])
#define N_DF_EDGES (sizeof df_edges / sizeof df_edges[0])

static uint32_t sf_edge(size_t i) {
    return sf_edges[i / 2] | (i & 1u ? 0x80000000u : 0);
}

static uint64_t df_edge(size_t i) {
    return df_edges[i / 2] | (i & 1u ? 0x8000000000000000ULL : 0);
}

/*
 * A random operand of a format (mant fraction bits, exponent field width
 * ebits) of kind k: 0 uniform bits, 1 exponent near `near` (the other
 * operand's), 2 a short significand, 3 subnormal or nearly, 4 a moderate
 * exponent around 1.
 */
static uint64_t rnd_operand(int k, int mant, int ebits, uint64_t near) {
    uint64_t r = rnd(), emask = ((uint64_t)1 << ebits) - 1, fmask = ((uint64_t)1 << mant) - 1;
    uint64_t sign = (rnd() & 1u) << (mant + ebits), frac = r & fmask, e;
    int64_t ne = (int64_t)((near >> mant) & emask);
    switch (k) {
    case 0: return r & ((((uint64_t)1 << (mant + ebits)) << 1) - 1);
    case 1:
        ne += (int64_t)(rnd() % (uint64_t)(mant + 6)) - (mant + 6) / 2;
        e = ne < 0 ? 0 : ne >= (int64_t)emask ? emask - 1 : (uint64_t)ne;
        if (rnd() & 1u) { /* often a short significand too: exact-ish sums, ties */
            frac &= ~(fmask >> (rnd() % (uint64_t)mant));
        }
        return sign | e << mant | frac;
    case 2:
        frac &= ~(fmask >> (rnd() % (uint64_t)(mant + 1)));
        e = (emask >> 1) - 40 + rnd() % 80;
        return sign | e << mant | frac;
    case 3: return sign | (rnd() % 3) << mant | frac;
    default: return sign | ((emask >> 1) - 8 + rnd() % 16) << mant | frac;
    }
}

/* An integer with a random bit length (and random low bits). */
static uint64_t rnd_int(void) {
    uint64_t v = rnd();
    unsigned len = (unsigned)(rnd() % 65);
    v = len == 64 ? v : v & (((uint64_t)1 << len) - 1);
    if (rnd() & 1u) { /* short tails: conversions that tie */
        v &= ~(((uint64_t)1 << (rnd() % 40)) - 1);
        v |= (uint64_t)1 << (rnd() % 64);
    }
    return v;
}

int main(void) {
    unsigned long long np = 0, nf = 0;
    /* every pair and every value of the edge lists */
    for (size_t i = 0; i < 2 * N_SF_EDGES; i++) {
        sf_unary(sf_edge(i));
        for (size_t j = 0; j < 2 * N_SF_EDGES; j++) {
            sf_pair(sf_edge(i), sf_edge(j));
            sf_cmp(sf_edge(i), sf_edge(j));
        }
    }
    for (size_t i = 0; i < 2 * N_DF_EDGES; i++) {
        df_unary(df_edge(i));
        for (size_t j = 0; j < 2 * N_DF_EDGES; j++) {
            df_pair(df_edge(i), df_edge(j));
            df_cmp(df_edge(i), df_edge(j));
        }
    }
    static const uint64_t int_edges[] = {
        0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0x100000000, 0x1000001, 0x1000003, 0x20000001,
        0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0x8000000000000001, 0xFFFFFFFFFFFFFFFF, 0x7FFFFF8000000000,
        0x7FFFFFC000000000, 0x7FFFFFFFFFFFFC00, 0x7FFFFFFFFFFFFE00, 0xFFFFFF7FFFFFFFFF, 0xFFFFFFFFFFFFF800,
        0x0020000000000001, 0x0020000000000003, 0x00FFFFFFFFFFFFFF,
    };
    for (size_t i = 0; i < sizeof int_edges / sizeof int_edges[0]; i++) {
        int_conv(int_edges[i]);
        int_conv(0u - int_edges[i]);
    }
    /* random: each kind of first operand with each kind of second */
    for (long n = 0; n < RANDOM_PAIRS; n++) {
        int ka = (int)(n % 5), kb = (int)(n / 5 % 5);
        uint32_t a = (uint32_t)rnd_operand(ka, 23, 8, 0);
        uint32_t b = (uint32_t)rnd_operand(kb, 23, 8, a);
        uint64_t c = rnd_operand(ka, 52, 11, 0);
        uint64_t d = rnd_operand(kb, 52, 11, c);
        sf_pair(a, b);
        df_pair(c, d);
        if (n < RANDOM_OTHERS) {
            sf_cmp(a, rnd() & 7u ? b : a);
            df_cmp(c, rnd() & 7u ? d : c);
            sf_unary(a);
            df_unary(c);
            int_conv(rnd_int());
        }
    }
    /* doubles that land near binary32's ranges, for __truncdfsf2 */
    for (long n = 0; n < RANDOM_OTHERS; n++) {
        uint64_t e = 1023 - 160 + rnd() % 300, frac = rnd() & 0xFFFFFFFFFFFFFULL;
        if (rnd() & 1u) {
            frac = (frac & ~0x3FFFFFFFULL) | ((rnd() & 1u) << 28); /* exact ties */
        }
        df_unary((rnd() & 1u) << 63 | e << 52 | frac);
    }
    for (int f = 0; f < F_COUNT; f++) {
        printf("%-32s %10llu passed %6llu failed\n", fn_names[f], passed[f], failed[f]);
        np += passed[f];
        nf += failed[f];
    }
    printf("%llu passed, %llu failed\n", np, nf);
    return nf ? 1 : 0;
}
