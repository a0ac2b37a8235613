/*
 * The board API (natmod/hal.h) on Cortex-M: console through semihosting,
 * SysTick for milliseconds and the periodic timer (its callback runs in the
 * SysTick handler), simulated peripherals in RAM, and the locked
 * read-modify-write done with interrupts masked (single core: that is the
 * whole lock).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "natmod/hal.h"
#include "natmod/export.h"

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

/* ---- time: SysTick at 1 kHz ------------------------------------------ */

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static volatile uint32_t ticks_ms;
static void (*volatile timer_cb)(void *);
static void *volatile timer_arg;
static volatile uint32_t timer_period, timer_left;

void board_systick_start(void) {
    SYST_RVR = BOARD_CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

uint32_t board_cycles(void) {
    /* ms and the down-counter sampled until consistent: a tick between the
     * two reads would otherwise be counted twice or not at all. */
    uint32_t ms, cvr;
    do {
        ms = ticks_ms;
        cvr = SYST_CVR;
    } while (ms != ticks_ms);
    return ms * (BOARD_CPU_HZ / 1000u) + (BOARD_CPU_HZ / 1000u - 1u - cvr);
}

void SysTick_Handler(void) {
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

static uint32_t irq_save(void);
static void irq_restore(uint32_t primask);

int hal_timer_start(uint32_t period_ms, void (*cb)(void *arg), void *arg) {
    if (!cb || period_ms < 1 || period_ms > 60000) {
        return -1;
    }
    uint32_t s = irq_save();
    timer_arg = arg;
    timer_period = timer_left = period_ms;
    timer_cb = cb;
    irq_restore(s);
    return 0;
}

/* The board calls this before a module's code goes away: a timer whose
 * callback lies in [lo, hi) is stopped, so it cannot fire into freed code. */
void board_timer_drop(uintptr_t lo, uintptr_t hi) {
    uint32_t s = irq_save();
    uintptr_t cb = (uintptr_t)timer_cb;
    if (cb >= lo && cb < hi) {
        timer_cb = NULL;
    }
    irq_restore(s);
}

/* With interrupts masked the handler is not running (single core, and the
 * callback runs inside the handler), so after this it never runs again. */
void hal_timer_stop(void) {
    uint32_t s = irq_save();
    timer_cb = NULL;
    irq_restore(s);
}

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

static uint32_t irq_save(void) {
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static void irq_restore(uint32_t primask) {
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

void hal_set_bits(volatile uint32_t *reg, uint32_t mask) {
    uint32_t s = irq_save();
    *reg |= mask;
    periph_sync();
    irq_restore(s);
}

void hal_clear_bits(volatile uint32_t *reg, uint32_t mask) {
    uint32_t s = irq_save();
    *reg &= ~mask;
    periph_sync();
    irq_restore(s);
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
void board_periph_dump(void) {
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
