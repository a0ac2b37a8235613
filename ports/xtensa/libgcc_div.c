/*
 * Integer helpers the compiler calls that Debian's lx106 libgcc does not
 * have (its libgcc.a lacks the lib1funcs part: no 32-bit division, no
 * 64-bit multiply or division), and that the windowed firmware needs too
 * (it links no libgcc): shift-and-subtract division, bounded by the word
 * size, and a 64-bit multiply from 32-bit halves. Nothing here may be
 * compiled into a call to itself, so only shifts, adds and 32-bit
 * multiplies (MUL32 on both cores) are used.
 */
#include <stdint.h>

#include "natmod/export.h"
#include "board_exports.h" /* the prototypes, with the export markers */

/* n / d and n % d for 64-bit operands (division by zero gives all ones). */
static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem) {
    uint64_t q = 0, r = 0;
    if (d == 0) {
        *rem = n;
        return ~(uint64_t)0;
    }
    for (int i = 63; i >= 0; i--) {
        r = r << 1 | (n >> i & 1u);
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1 << i;
        }
    }
    *rem = r;
    return q;
}

static uint32_t udivmod32(uint32_t n, uint32_t d, uint32_t *rem) {
    uint32_t q = 0, r = 0;
    if (d == 0) {
        *rem = n;
        return ~0u;
    }
    for (int i = 31; i >= 0; i--) {
        r = r << 1 | (n >> i & 1u);
        if (r >= d) {
            r -= d;
            q |= 1u << i;
        }
    }
    *rem = r;
    return q;
}

uint32_t __udivsi3(uint32_t n, uint32_t d) {
    uint32_t r;
    return udivmod32(n, d, &r);
}

uint32_t __umodsi3(uint32_t n, uint32_t d) {
    uint32_t r;
    udivmod32(n, d, &r);
    return r;
}

static uint32_t mag32(int32_t v) {
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

int32_t __divsi3(int32_t n, int32_t d) {
    uint32_t r, q = udivmod32(mag32(n), mag32(d), &r);
    return (int32_t)((n < 0) != (d < 0) ? 0u - q : q);
}

int32_t __modsi3(int32_t n, int32_t d) {
    uint32_t r;
    udivmod32(mag32(n), mag32(d), &r);
    return (int32_t)(n < 0 ? 0u - r : r);
}

uint64_t __udivdi3(uint64_t n, uint64_t d) {
    uint64_t r;
    return udivmod64(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d) {
    uint64_t r;
    udivmod64(n, d, &r);
    return r;
}

static uint64_t mag64(int64_t v) {
    return v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
}

int64_t __divdi3(int64_t n, int64_t d) {
    uint64_t r, q = udivmod64(mag64(n), mag64(d), &r);
    return (int64_t)((n < 0) != (d < 0) ? 0u - q : q);
}

int64_t __moddi3(int64_t n, int64_t d) {
    uint64_t r;
    udivmod64(mag64(n), mag64(d), &r);
    return (int64_t)(n < 0 ? 0u - r : r);
}

/* The low 64 bits of a * b: three 32 x 32 products, the high half of the
 * low one from 16-bit pieces (no MUL32_HIGH on either core). */
uint64_t __muldi3(uint64_t a, uint64_t b) {
    uint32_t al = (uint32_t)a, ah = (uint32_t)(a >> 32), bl = (uint32_t)b, bh = (uint32_t)(b >> 32);
    uint32_t a0 = al & 0xFFFFu, a1 = al >> 16, b0 = bl & 0xFFFFu, b1 = bl >> 16;
    uint32_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint32_t mid = (p00 >> 16) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
    uint32_t lo = (mid << 16) | (p00 & 0xFFFFu);
    uint32_t hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16);
    hi += al * bh + ah * bl;
    return (uint64_t)hi << 32 | lo;
}
