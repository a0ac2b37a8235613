/*
 * The board API every natmod board exports to modules (host board now,
 * Cortex-M boards next). A module imports these by name; the loader binds
 * them through the firmware export table. Each call's contract is one line.
 */
#ifndef NATMOD_HAL_H
#define NATMOD_HAL_H

#include <stddef.h>
#include <stdint.h>

/* Write a NUL-terminated string to the board's console (no newline added). */
void hal_print(const char *s);
/* printf subset to the console: %d %i %u %x %X %c %s %p %% with l/ll/z sizes,
 * width, '0' and '-' flags, and %f/%e/%g. Returns characters written. */
int hal_printf(const char *fmt, ...);
/* Milliseconds since the board started (wraps at 2^32). */
uint32_t hal_ticks_ms(void);
/* One periodic timer per board: from now on call cb(arg) every period_ms
 * (1..60000) from the tick interrupt (SysTick on Cortex-M, a SIGALRM handler
 * on the host), replacing any timer running. cb runs in interrupt context:
 * keep it short and touch only volatile data. Returns 0, or -1 for a bad
 * period or a NULL cb. */
int hal_timer_start(uint32_t period_ms, void (*cb)(void *arg), void *arg);
/* Stop the timer; when it returns, cb is not running and will not run again. */
void hal_timer_stop(void);

/* Simulated peripheral: a register block per peripheral, clocked by one bit
 * each in the shared clock-enable register. */
typedef struct hal_periph_regs {
    volatile uint32_t CTRL;   /* bit 0 EN */
    volatile uint32_t STATUS; /* bit 0 READY: reads 1 while the clock runs and EN is set */
    volatile uint32_t DATA;
    volatile uint32_t BAUD;
} hal_periph_regs_t;
#define HAL_NPERIPH 4
#define HAL_CTRL_EN (1u << 0)
#define HAL_STATUS_READY (1u << 0)
/* Register block of peripheral n (< HAL_NPERIPH), or NULL. */
hal_periph_regs_t *hal_periph(unsigned n);
/* The shared clock-enable register: bit n clocks peripheral n. Shared with
 * other cores/modules: change it only through hal_set_bits/hal_clear_bits. */
volatile uint32_t *hal_clock_reg(void);
/* *reg |= mask, atomically with respect to every other caller (spinlock). */
void hal_set_bits(volatile uint32_t *reg, uint32_t mask);
/* *reg &= ~mask, atomically with respect to every other caller (spinlock). */
void hal_clear_bits(volatile uint32_t *reg, uint32_t mask);

/* qsort-like: sorts n elements of size bytes with cmp (a module callback). */
void hal_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* The libc subset modules may import (C semantics):
 * memcpy memmove memset memcmp strlen strcmp strncmp strchr. Declared by
 * <string.h>; the board exports them. */

#endif /* NATMOD_HAL_H */
