/*
 * The Cortex-M half of the board: SysTick at 1 kHz from the core clock (its
 * handler drives the shared tick, fw_tick), the cycle count for timing,
 * interrupt masking through PRIMASK, and the commands only this board has
 * (none). The board API itself is ports/common/hal_common.c.
 */
#include <stdint.h>

#include "board.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static volatile uint32_t systick_ms;

void SysTick_Handler(void);

void board_tick_start(void) {
    SYST_RVR = BOARD_CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

uint32_t board_cycles(void) {
    /* ms and the down-counter sampled until consistent: a tick between the
     * two reads would otherwise be counted twice or not at all. */
    uint32_t ms, cvr;
    do {
        ms = systick_ms;
        cvr = SYST_CVR;
    } while (ms != systick_ms);
    return ms * (BOARD_CPU_HZ / 1000u) + (BOARD_CPU_HZ / 1000u - 1u - cvr);
}

void SysTick_Handler(void) {
    systick_ms = systick_ms + 1u;
    fw_tick();
}

void board_spin(uint32_t n) {
    __asm volatile(".syntax unified\n1: subs %0, %0, #1\n\tbne 1b" : "+l"(n)::"cc");
}

uint32_t board_irq_save(void) {
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

void board_irq_restore(uint32_t primask) {
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* M0/M3/M4 have no caches in front of their SRAM or flash: nothing to do
 * (BOARD_FLUSH_ICACHE is not defined, so the loader does not call it). */
void board_sync_code(void *addr, size_t len) {
    (void)addr;
    (void)len;
}

int board_command(char **w, int n, const char **why) {
    (void)w;
    (void)n;
    (void)why;
    return 1;
}
