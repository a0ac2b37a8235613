/*
 * timer_pc: the machine timer interrupt calls back into the module. The
 * callback is static and records the PC it runs at, so the board test can
 * check that an interrupt handler executed module code in place, in flash.
 */
#include "natmod/hal.h"
#include "natmod/module.h"

static volatile uint32_t hits;
static volatile uintptr_t cb_pc;

static void on_tick(void *arg) {
    uintptr_t pc;
    (void)arg;
    __asm volatile("auipc %0, 0" : "=r"(pc));
    cb_pc = pc;
    hits = hits + 1u;
}

void nm_deinit(void) {
    hal_timer_stop();
}

/* Runs the 1 ms timer until n callbacks ran; the PC of the last one, or 0
 * after a second without them. */
NM_EXPORT uintptr_t timer_pc(int n) {
    hits = 0;
    cb_pc = 0;
    if (hal_timer_start(1, on_tick, 0) != 0) {
        return 0;
    }
    uint32_t t0 = hal_ticks_ms();
    while (hits < (uint32_t)n && hal_ticks_ms() - t0 < 1000u) {
    }
    hal_timer_stop();
    return hits >= (uint32_t)n ? cb_pc : 0;
}
