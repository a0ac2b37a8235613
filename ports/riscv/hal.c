/*
 * The RISC-V half of the board (the board API itself is
 * ports/common/hal_common.c): the 1 kHz tick from the CLINT's machine timer
 * (mtime counts at 10 MHz on virt; each interrupt moves mtimecmp one
 * millisecond on and runs the shared tick, fw_tick, so a timer callback
 * into a module runs in the machine timer interrupt), the cycle counter
 * for timing, interrupt masking through mstatus.MIE, fence.i, and the
 * board's own script command (`flash selftest`).
 */
#include <stdint.h>
#include <string.h>

#include "board.h"

#define CLINT_MTIMECMP_LO (*(volatile uint32_t *)0x02004000u) /* hart 0 */
#define CLINT_MTIMECMP_HI (*(volatile uint32_t *)0x02004004u)
#define CLINT_MTIME_LO (*(volatile uint32_t *)0x0200BFF8u)
#define CLINT_MTIME_HI (*(volatile uint32_t *)0x0200BFFCu)
#define MTIME_HZ 10000000u /* virt's timebase-frequency */
#define MTIME_PER_MS (MTIME_HZ / 1000u)
#define MSTATUS_MIE 0x8u
#define MIE_MTIE 0x80u

static uint64_t next_tick;

/* The 64-bit mtime read as two halves: retried if the low half wrapped
 * between the reads. */
static uint64_t mtime(void) {
    uint32_t hi, lo;
    do {
        hi = CLINT_MTIME_HI;
        lo = CLINT_MTIME_LO;
    } while (hi != CLINT_MTIME_HI);
    return (uint64_t)hi << 32 | lo;
}

/* mtimecmp written so that no intermediate value lies in the past: high
 * half to the maximum first, then low, then high. */
static void mtimecmp_set(uint64_t t) {
    CLINT_MTIMECMP_HI = 0xFFFFFFFFu;
    CLINT_MTIMECMP_LO = (uint32_t)t;
    CLINT_MTIMECMP_HI = (uint32_t)(t >> 32);
}

void board_tick_start(void) {
    next_tick = mtime() + MTIME_PER_MS;
    mtimecmp_set(next_tick);
    __asm volatile("csrs mie, %0" ::"r"(MIE_MTIE));
    __asm volatile("csrs mstatus, %0" ::"r"(MSTATUS_MIE));
}

/* From the trap vector (startup.c). A late interrupt leaves mtimecmp in
 * the past, so missed milliseconds are counted one interrupt each. */
void board_timer_isr(void) {
    next_tick += MTIME_PER_MS;
    mtimecmp_set(next_tick);
    fw_tick();
}

/* mcycle: under QEMU -icount it counts instructions, otherwise host time;
 * the bench calibrates either way. */
uint32_t board_cycles(void) {
    uint32_t c;
    __asm volatile("csrr %0, mcycle" : "=r"(c));
    return c;
}

void board_spin(uint32_t n) {
    __asm volatile("1: addi %0, %0, -1\n\tbnez %0, 1b" : "+r"(n));
}

uint32_t board_irq_save(void) {
    uint32_t s;
    __asm volatile("csrrci %0, mstatus, %1" : "=r"(s) : "i"(MSTATUS_MIE) : "memory");
    return s & MSTATUS_MIE;
}

void board_irq_restore(uint32_t state) {
    if (state & MSTATUS_MIE) {
        __asm volatile("csrsi mstatus, %0" ::"i"(MSTATUS_MIE) : "memory");
    }
}

/* One hart: fence.i orders this hart's instruction fetch after its stores
 * (RAM-mode text, and flash just programmed: flash_cfi.c). */
void board_sync_code(void *addr, size_t len) {
    (void)addr;
    (void)len;
    __asm volatile("fence.i" ::: "memory");
}

int board_command(char **w, int n, const char **why) {
    if (n == 2 && !strcmp(w[0], "flash") && !strcmp(w[1], "selftest")) {
        return board_flash_selftest(why);
    }
    return 1;
}
