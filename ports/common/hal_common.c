/*
 * The board API (natmod/hal.h) on the bare-metal QEMU boards, the part that
 * touches no hardware: console through the C library (semihosting on both
 * boards), the millisecond count and the periodic timer driven by the
 * board's 1 kHz tick (fw_tick, called from its interrupt), simulated
 * peripherals in RAM, and the locked read-modify-write, done with
 * interrupts masked (board_irq_save: one core, so that is the whole lock).
 * The export list is the same on every board (hal_exports.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fw.h"
#include "natmod/export.h"
#include "natmod/hal.h"

static hal_periph_regs_t periph[HAL_NPERIPH];
static volatile uint32_t clock_reg;

void hal_print(const char *s) {
    fputs(s, stdout);
}

int hal_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

/* ---- time: the board's 1 kHz tick ------------------------------------- */

static volatile uint32_t ticks_ms;
static void (*volatile timer_cb)(void *);
static void *volatile timer_arg;
static volatile uint32_t timer_period, timer_left;

/* In the tick interrupt: the callback runs there, in interrupt context. */
void fw_tick(void) {
    ticks_ms = ticks_ms + 1u;
    void (*cb)(void *) = timer_cb;
    if (cb && --timer_left == 0) {
        timer_left = timer_period;
        cb(timer_arg);
    }
}

uint32_t hal_ticks_ms(void) {
    return ticks_ms;
}

int hal_timer_start(uint32_t period_ms, void (*cb)(void *arg), void *arg) {
    if (!cb || period_ms < 1 || period_ms > 60000) {
        return -1;
    }
    uint32_t s = board_irq_save();
    timer_arg = arg;
    timer_period = timer_left = period_ms;
    timer_cb = cb;
    board_irq_restore(s);
    return 0;
}

/* Called before a module's code goes away: a timer whose callback lies in
 * [lo, hi) is stopped, so it cannot fire into freed code. */
void fw_timer_drop(uintptr_t lo, uintptr_t hi) {
    uint32_t s = board_irq_save();
    uintptr_t cb = (uintptr_t)timer_cb;
    if (cb >= lo && cb < hi) {
        timer_cb = NULL;
    }
    board_irq_restore(s);
}

/* With interrupts masked the handler is not running (single core, and the
 * callback runs inside the handler), so after this it never runs again. */
void hal_timer_stop(void) {
    uint32_t s = board_irq_save();
    timer_cb = NULL;
    board_irq_restore(s);
}

/* ---- simulated peripherals -------------------------------------------- */

/* STATUS.READY = clocked and enabled. */
static void periph_sync(void) {
    for (unsigned i = 0; i < HAL_NPERIPH; i++) {
        if ((clock_reg >> i & 1u) && (periph[i].CTRL & HAL_CTRL_EN)) {
            periph[i].STATUS |= HAL_STATUS_READY;
        } else {
            periph[i].STATUS &= ~HAL_STATUS_READY;
        }
    }
}

hal_periph_regs_t *hal_periph(unsigned n) {
    return n < HAL_NPERIPH ? &periph[n] : NULL;
}

volatile uint32_t *hal_clock_reg(void) {
    return &clock_reg;
}

void hal_set_bits(volatile uint32_t *reg, uint32_t mask) {
    uint32_t s = board_irq_save();
    *reg |= mask;
    periph_sync();
    board_irq_restore(s);
}

void hal_clear_bits(volatile uint32_t *reg, uint32_t mask) {
    uint32_t s = board_irq_save();
    *reg &= ~mask;
    periph_sync();
    board_irq_restore(s);
}

/* Insertion sort: small, stable, calls back into the module's comparator. */
void hal_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    unsigned char *b = base, tmp[64];
    if (size > sizeof tmp) {
        return;
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && cmp(b + (j - 1) * size, b + j * size) > 0; j--) {
            memcpy(tmp, b + j * size, size);
            memcpy(b + j * size, b + (j - 1) * size, size);
            memcpy(b + (j - 1) * size, tmp, size);
        }
    }
}

/* Same lines as the host board's dump, so expected outputs are shared. */
void fw_periph_dump(void) {
    periph_sync();
    printf("clock 0x%08lx\n", (unsigned long)clock_reg);
    for (unsigned i = 0; i < HAL_NPERIPH; i++) {
        if ((clock_reg >> i & 1u) || periph[i].CTRL) {
            printf("periph%u clk=%lu CTRL=0x%08lx STATUS=0x%08lx DATA=0x%08lx BAUD=%lu\n", i,
                   (unsigned long)(clock_reg >> i & 1u), (unsigned long)periph[i].CTRL,
                   (unsigned long)periph[i].STATUS, (unsigned long)periph[i].DATA,
                   (unsigned long)periph[i].BAUD);
        }
    }
}

/* ---- the export list (the same on every board) ---- */
#include "hal_exports.h"

/* A board's own additions (-DBOARD_EXPORTS="file.h"): compiler helpers
 * its modules call that its C library lacks (the Xtensa board's
 * divisions). Modules that need none load on every board as before. */
#ifdef BOARD_EXPORTS
#include BOARD_EXPORTS
#endif
