/*
 * ticker: the firmware's tick interrupt calls back into the module. The
 * callback is a static function handed to the firmware as a pointer; it runs
 * in interrupt context (SysTick on Cortex-M, SIGALRM on the host) and only
 * touches volatile module data.
 */
#include "natmod/hal.h"
#include "natmod/module.h"

#define TICKER_ARG 0x5a

static volatile uint32_t ticks;
static volatile uintptr_t seen_arg;

static void on_tick(void *arg) {
    ticks = ticks + 1u;
    seen_arg = (uintptr_t)arg;
}

void nm_deinit(void) {
    hal_timer_stop(); /* never leave the firmware a pointer into unloaded code */
}

NM_EXPORT int ticker_start(int period_ms) {
    ticks = 0;
    return hal_timer_start((uint32_t)period_ms, on_tick, (void *)(uintptr_t)TICKER_ARG);
}

/* Waits until n callbacks have run; n, or -1 after a generous timeout. */
NM_EXPORT int ticker_wait(int n) {
    uint32_t t0 = hal_ticks_ms();
    while (ticks < (uint32_t)n) {
        if (hal_ticks_ms() - t0 > 1000u + 100u * (uint32_t)n) {
            return -1;
        }
    }
    return n;
}

/* Stops the timer; 1 if no callback runs in the next 5 ms and every
 * callback saw the argument it was registered with. */
NM_EXPORT int ticker_stop(void) {
    hal_timer_stop();
    uint32_t t = ticks, t0 = hal_ticks_ms();
    while (hal_ticks_ms() - t0 < 5u) {
    }
    return ticks == t && seen_arg == TICKER_ARG;
}
