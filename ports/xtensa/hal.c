/*
 * The Xtensa half of the board (the board API itself is
 * ports/common/hal_common.c): the 1 kHz tick from timer 0 (CCOMPARE0,
 * interrupt 6 at level 1 on both cores; QEMU's sim cores count CCOUNT at
 * 40 MHz; each interrupt moves CCOMPARE0 one millisecond on, which also
 * acknowledges it, and runs the shared tick, fw_tick, so a timer callback
 * into a module runs in the level-1 interrupt), CCOUNT for timing,
 * interrupt masking through PS.INTLEVEL (rsil), isync, and the board's own
 * script command (`flash selftest`).
 */
#include <stdint.h>
#include <string.h>

#include "board.h"

#define CCOUNT_PER_MS 40000u /* QEMU's sim cores: clock_freq_khz 40000 */
#define INT_TIMER0 (1u << 6)

static uint32_t next_tick;

static uint32_t ccount(void) {
    uint32_t c;
    __asm volatile("rsr %0, ccount" : "=r"(c));
    return c;
}

/*
 * CCOMPARE0 fires when CCOUNT passes through it, not while CCOUNT is past
 * it: a compare value already behind the counter would next fire after
 * the 32-bit wrap (107 s at 40 MHz). Without -icount QEMU's CCOUNT follows
 * host time, so a descheduled host thread can let the counter overtake
 * next_tick between the read and the write. Hence: write, read the counter
 * again, and while the compare value is not ahead of it, move it to one
 * period after now (those milliseconds are lost from the count).
 */
static void ccompare_arm(void) {
    for (;;) {
        __asm volatile("wsr %0, ccompare0\n\tisync" ::"r"(next_tick));
        uint32_t now = ccount();
        if ((int32_t)(next_tick - now) > 0) {
            return;
        }
        next_tick = now + CCOUNT_PER_MS;
    }
}

void board_tick_start(void) {
    next_tick = ccount() + CCOUNT_PER_MS;
    ccompare_arm();
    __asm volatile("wsr %0, intenable\n\trsync" ::"r"(INT_TIMER0));
}

/* From the level-1 interrupt (startup.c). Writing CCOMPARE0 clears the
 * interrupt. */
void board_timer_isr(void) {
    next_tick += CCOUNT_PER_MS;
    ccompare_arm();
    fw_tick();
}

/* CCOUNT: under QEMU -icount it follows instructions, otherwise host time;
 * the bench calibrates either way. */
uint32_t board_cycles(void) {
    return ccount();
}

void board_spin(uint32_t n) {
    __asm volatile("1: addi %0, %0, -1\n\tbnez %0, 1b" : "+r"(n));
}

/* PS.INTLEVEL to 1 masks the level-1 tick (the only interrupt enabled). */
uint32_t board_irq_save(void) {
    uint32_t ps;
    __asm volatile("rsil %0, 1" : "=r"(ps)::"memory");
    return ps;
}

void board_irq_restore(uint32_t state) {
    __asm volatile("wsr %0, ps\n\trsync" ::"r"(state) : "memory");
}

/* Code written to RAM or flash: isync makes this core fetch what is there
 * now (on an ESP32 the flash cache would also need invalidating). */
void board_sync_code(void *addr, size_t len) {
    (void)addr;
    (void)len;
    __asm volatile("isync" ::: "memory");
}

int board_command(char **w, int n, const char **why) {
    if (n == 2 && !strcmp(w[0], "flash") && !strcmp(w[1], "selftest")) {
        return board_flash_selftest(why);
    }
    return 1;
}
