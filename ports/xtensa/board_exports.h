/*
 * The Xtensa board's exports beyond the shared list (hal_exports.h): the
 * integer helpers of libgcc_div.c and the soft-float helpers of
 * ports/common/softfp.c. Modules compiled for the lx106 (no DIV32) call
 * __udivsi3 and friends for every division, either core's 64-bit multiply
 * and division are calls, and so is all float and double arithmetic (no
 * FPU); Debian's lx106 libgcc lacks most of them and clang-22 has no
 * Xtensa compiler-rt, so the firmware has its own and exports them.
 */
#ifndef NATMOD_XTENSA_BOARD_EXPORTS_H
#define NATMOD_XTENSA_BOARD_EXPORTS_H

#include <stdint.h>

uint32_t __udivsi3(uint32_t n, uint32_t d);
uint32_t __umodsi3(uint32_t n, uint32_t d);
int32_t __divsi3(int32_t n, int32_t d);
int32_t __modsi3(int32_t n, int32_t d);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
uint64_t __muldi3(uint64_t a, uint64_t b);

/* ports/common/softfp.c: IEEE-754 single and double, round to nearest even. */
float __addsf3(float a, float b);
float __subsf3(float a, float b);
float __mulsf3(float a, float b);
float __divsf3(float a, float b);
float __negsf2(float a);
double __adddf3(double a, double b);
double __subdf3(double a, double b);
double __muldf3(double a, double b);
double __divdf3(double a, double b);
double __negdf2(double a);
double __extendsfdf2(float a);
float __truncdfsf2(double a);
int32_t __fixsfsi(float a);
uint32_t __fixunssfsi(float a);
int32_t __fixdfsi(double a);
uint32_t __fixunsdfsi(double a);
int64_t __fixsfdi(float a);
uint64_t __fixunssfdi(float a);
int64_t __fixdfdi(double a);
uint64_t __fixunsdfdi(double a);
float __floatsisf(int32_t i);
float __floatunsisf(uint32_t i);
float __floatdisf(int64_t i);
float __floatundisf(uint64_t i);
double __floatsidf(int32_t i);
double __floatunsidf(uint32_t i);
double __floatdidf(int64_t i);
double __floatundidf(uint64_t i);
int __eqsf2(float a, float b);
int __nesf2(float a, float b);
int __ltsf2(float a, float b);
int __lesf2(float a, float b);
int __gtsf2(float a, float b);
int __gesf2(float a, float b);
int __unordsf2(float a, float b);
int __eqdf2(double a, double b);
int __nedf2(double a, double b);
int __ltdf2(double a, double b);
int __ledf2(double a, double b);
int __gtdf2(double a, double b);
int __gedf2(double a, double b);
int __unorddf2(double a, double b);

NM_FW_EXPORT(__udivsi3);
NM_FW_EXPORT(__umodsi3);
NM_FW_EXPORT(__divsi3);
NM_FW_EXPORT(__modsi3);
NM_FW_EXPORT(__udivdi3);
NM_FW_EXPORT(__umoddi3);
NM_FW_EXPORT(__divdi3);
NM_FW_EXPORT(__moddi3);
NM_FW_EXPORT(__muldi3);

NM_FW_EXPORT(__addsf3);
NM_FW_EXPORT(__subsf3);
NM_FW_EXPORT(__mulsf3);
NM_FW_EXPORT(__divsf3);
NM_FW_EXPORT(__negsf2);
NM_FW_EXPORT(__adddf3);
NM_FW_EXPORT(__subdf3);
NM_FW_EXPORT(__muldf3);
NM_FW_EXPORT(__divdf3);
NM_FW_EXPORT(__negdf2);
NM_FW_EXPORT(__extendsfdf2);
NM_FW_EXPORT(__truncdfsf2);
NM_FW_EXPORT(__fixsfsi);
NM_FW_EXPORT(__fixunssfsi);
NM_FW_EXPORT(__fixdfsi);
NM_FW_EXPORT(__fixunsdfsi);
NM_FW_EXPORT(__fixsfdi);
NM_FW_EXPORT(__fixunssfdi);
NM_FW_EXPORT(__fixdfdi);
NM_FW_EXPORT(__fixunsdfdi);
NM_FW_EXPORT(__floatsisf);
NM_FW_EXPORT(__floatunsisf);
NM_FW_EXPORT(__floatdisf);
NM_FW_EXPORT(__floatundisf);
NM_FW_EXPORT(__floatsidf);
NM_FW_EXPORT(__floatunsidf);
NM_FW_EXPORT(__floatdidf);
NM_FW_EXPORT(__floatundidf);
NM_FW_EXPORT(__eqsf2);
NM_FW_EXPORT(__nesf2);
NM_FW_EXPORT(__ltsf2);
NM_FW_EXPORT(__lesf2);
NM_FW_EXPORT(__gtsf2);
NM_FW_EXPORT(__gesf2);
NM_FW_EXPORT(__unordsf2);
NM_FW_EXPORT(__eqdf2);
NM_FW_EXPORT(__nedf2);
NM_FW_EXPORT(__ltdf2);
NM_FW_EXPORT(__ledf2);
NM_FW_EXPORT(__gtdf2);
NM_FW_EXPORT(__gedf2);
NM_FW_EXPORT(__unorddf2);

#endif /* NATMOD_XTENSA_BOARD_EXPORTS_H */
