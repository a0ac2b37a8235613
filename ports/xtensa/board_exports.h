/*
 * The Xtensa board's exports beyond the shared list (hal_exports.h): the
 * integer helpers of libgcc_div.c. Modules compiled for the lx106 (no
 * DIV32) call __udivsi3 and friends for every division, and either core's
 * 64-bit multiply and division are calls; Debian's lx106 libgcc lacks
 * them, so the firmware has its own and exports them.
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

NM_FW_EXPORT(__udivsi3);
NM_FW_EXPORT(__umodsi3);
NM_FW_EXPORT(__divsi3);
NM_FW_EXPORT(__modsi3);
NM_FW_EXPORT(__udivdi3);
NM_FW_EXPORT(__umoddi3);
NM_FW_EXPORT(__divdi3);
NM_FW_EXPORT(__moddi3);
NM_FW_EXPORT(__muldi3);

#endif /* NATMOD_XTENSA_BOARD_EXPORTS_H */
