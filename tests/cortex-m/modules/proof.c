/*
 * proof: reports where its code runs, for the board's XIP proof. xip_where
 * returns the address it executes at, read from the PC: auipc on RISC-V,
 * mov from pc on Thumb, a call0 to the next word on call0 Xtensa (gcc), the
 * return address of a callee on windowed Xtensa (clang-22, which defines
 * neither __XTENSA_CALL0_ABI__ nor __XTENSA_WINDOWED_ABI__, and gcc for
 * windowed cores);
 * xip_static_fn the address of a static function, xip_call_static calls that
 * function through a pointer the compiler cannot see through.
 */
#include "natmod/module.h"

static int total;

static int add(int x) {
    total += x;
    return total;
}

#if defined(__xtensa__) && !(defined(__XTENSA_CALL0_ABI__) && !defined(__clang__))
/* Windowed Xtensa: a call4/8/12 puts the return address in the callee's
 * a0 with its top two bits replaced by the window increment, and RETW
 * returns to the low 30 bits under the top two bits of its own PC, the
 * 1 GB region that caller and callee share (Xtensa ISA, windowed calls).
 * So the PC after the call in xip_where is a0's low 30 bits under the
 * region bits of this function's address. Not inlined: a0 must be this
 * callee's. */
static __attribute__((noinline)) uintptr_t return_pc(void) {
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    uintptr_t region = (uintptr_t)&return_pc & 0xc0000000u;
    return region | (ra & 0x3fffffffu);
}
#endif

NM_EXPORT uintptr_t xip_where(void) {
    uintptr_t pc;
#if defined(__thumb__)
    __asm volatile("mov %0, pc" : "=r"(pc));
#elif defined(__riscv)
    __asm volatile("auipc %0, 0" : "=r"(pc));
#elif defined(__XTENSA_CALL0_ABI__) && !defined(__clang__)
    /* call0 to the next aligned word: a0 = the return address, here */
    __asm volatile("call0 1f\n\t.align 4\n1:\tmov %0, a0" : "=r"(pc)::"a0");
#elif defined(__xtensa__)
    pc = return_pc(); /* the address after this call, in this function */
#else
    pc = (uintptr_t)&xip_where; /* a board of no known ISA: the address */
#endif
    return pc;
}

NM_EXPORT uintptr_t xip_static_fn(void) {
    int (*volatile f)(int) = add;
    return (uintptr_t)f & ~(uintptr_t)1;
}

NM_EXPORT int xip_call_static(int x) {
    int (*volatile f)(int) = add;
    total = 0;
    return f(x);
}
