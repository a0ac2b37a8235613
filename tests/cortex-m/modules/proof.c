/*
 * proof: reports where its code runs, for the board's XIP proof. xip_where
 * returns the address it executes at (the PC on Thumb, RISC-V and call0
 * Xtensa; clang's windowed Xtensa is excluded: it also defines
 * __XTENSA_CALL0_ABI__),
 * xip_static_fn the address of a static function, xip_call_static calls that
 * function through a pointer the compiler cannot see through.
 */
#include "natmod/module.h"

static int total;

static int add(int x) {
    total += x;
    return total;
}

NM_EXPORT uintptr_t xip_where(void) {
    uintptr_t pc;
#if defined(__thumb__)
    __asm volatile("mov %0, pc" : "=r"(pc));
#elif defined(__riscv)
    __asm volatile("auipc %0, 0" : "=r"(pc));
#elif defined(__XTENSA_CALL0_ABI__) && !defined(__clang__)
    /* call0 to the next aligned word: a0 = the return address, here */
    __asm volatile("call0 1f\n\t.align 4\n1:\tmov %0, a0" : "=r"(pc)::"a0");
#else
    pc = (uintptr_t)&xip_where;
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
