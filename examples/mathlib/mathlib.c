/* mathlib: 64-bit division and floating point. On armv6m/armv7m these pull
 * __aeabi_uldivmod, __aeabi_fmul, __aeabi_ddiv ... from libgcc.a; on
 * armv7em hard float the single-precision work is done by the FPU. */
#include <stdint.h>

#include "natmod/hal.h"
#include "natmod/module.h"

/* (hi:lo) / d, 64-bit unsigned; returns the low 32 bits of the quotient. */
NM_EXPORT int mathlib_div64(int hi, int lo, int d) {
    uint64_t n = ((uint64_t)(uint32_t)hi << 32) | (uint32_t)lo;
    uint64_t q = n / (uint32_t)d;
    uint64_t r = n % (uint32_t)d;
    hal_printf("mathlib: %u:%u / %d = %u rem %u\n", (unsigned)hi, (unsigned)lo, d,
               (unsigned)q, (unsigned)r);
    return (int)(uint32_t)q;
}

/* Signed 64-bit division too (__aeabi_ldivmod). */
NM_EXPORT int mathlib_sdiv64(int a, int b) {
    int64_t n = (int64_t)a * 1000003;
    return (int)(n / b);
}

/* Integer square root of x * 1000 by Newton's method in single precision. */
NM_EXPORT int mathlib_fsqrt(int x) {
    float v = (float)x, g = v > 1.0f ? v / 2.0f : 1.0f;
    for (int i = 0; i < 20; i++) {
        g = 0.5f * (g + v / g);
    }
    return (int)(g * 1000.0f);
}

/* A double-precision polynomial, rounded to an int: 2.5x^2 - 0.75x + 3. */
NM_EXPORT int mathlib_dpoly(int x) {
    double d = (double)x;
    double y = 2.5 * d * d - 0.75 * d + 3.0;
    return (int)(y + (y >= 0 ? 0.5 : -0.5));
}
