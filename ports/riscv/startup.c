/*
 * RISC-V reset and traps, machine mode, one hart (QEMU virt, -bios none).
 * QEMU's ELF loader puts .text and .data where they run (the firmware lives
 * in RAM), so reset only sets the global and stack pointers, clears .bss
 * (and .tbss), points tp at the C library's thread block, installs the trap
 * vector and runs main; exit goes out through semihosting with main's
 * status, which QEMU's own exit status becomes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

extern char __bss_start[], __bss_end[], __tls_base[];
extern int main(void);
void _set_tls(void *tls); /* picolibc: tp = the thread block (errno lives there) */

void _start(void);
void rv_start(void);
void rv_trap(void);

/* gp first with relaxation off (the assembler would otherwise address
 * __global_pointer$ through gp itself), then the stack, then C. */
__attribute__((naked, section(".text.start"))) void _start(void) {
    __asm volatile(".option push\n\t.option norelax\n\t"
                   "la gp, __global_pointer$\n\t"
                   ".option pop\n\t"
                   "la sp, __stack_top\n\t"
                   "j rv_start");
}

void rv_start(void) {
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    _set_tls(__tls_base);
    __asm volatile("csrw mtvec, %0" ::"r"((uintptr_t)rv_trap)); /* direct mode: aligned 4 */
    exit(main());
}

#define MCAUSE_INTERRUPT 0x80000000u
#define IRQ_M_TIMER 7u

/* Every trap lands here (mtvec direct). The timer interrupt drives the
 * tick; anything else is a fault: say where, and end the run with a
 * distinct status instead of hanging QEMU. */
__attribute__((interrupt("machine"), aligned(4))) void rv_trap(void) {
    uint32_t cause, epc, tval;
    __asm volatile("csrr %0, mcause" : "=r"(cause));
    if (cause == (MCAUSE_INTERRUPT | IRQ_M_TIMER)) {
        board_timer_isr();
        return;
    }
    __asm volatile("csrr %0, mepc" : "=r"(epc));
    __asm volatile("csrr %0, mtval" : "=r"(tval));
    printf("fault: mcause 0x%08lx mepc 0x%08lx mtval 0x%08lx\n", (unsigned long)cause,
           (unsigned long)epc, (unsigned long)tval);
    exit(99);
}
