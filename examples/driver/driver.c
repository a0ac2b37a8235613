/* driver: a peripheral driver as a module. It turns the peripheral's clock
 * on through the firmware's locked read-modify-write (the clock register is
 * shared with other cores and modules, so it never writes it directly),
 * programs the registers, and turns the clock off again on deinit. */
#include "natmod/hal.h"
#include "natmod/module.h"

#define DRIVER_PERIPH 2u

static hal_periph_regs_t *regs;
static unsigned nwritten;

int nm_init(void) {
    regs = hal_periph(DRIVER_PERIPH);
    if (!regs) {
        return -1;
    }
    hal_set_bits(hal_clock_reg(), 1u << DRIVER_PERIPH);
    regs->BAUD = 115200;
    regs->CTRL = HAL_CTRL_EN;
    hal_printf("driver: clock on (clk=0x%x), baud=%u\n", (unsigned)*hal_clock_reg(),
               (unsigned)regs->BAUD);
    return 0;
}

void nm_deinit(void) {
    regs->CTRL = 0;
    hal_clear_bits(hal_clock_reg(), 1u << DRIVER_PERIPH);
    hal_printf("driver: clock off (clk=0x%x) after %u writes\n", (unsigned)*hal_clock_reg(),
               nwritten);
}

/* Writes v to DATA if the peripheral is clocked and enabled; returns the
 * value read back, or -1. */
NM_EXPORT int driver_write(int v) {
    if (!(*hal_clock_reg() & (1u << DRIVER_PERIPH)) || !(regs->CTRL & HAL_CTRL_EN)) {
        return -1;
    }
    regs->DATA = (uint32_t)v;
    nwritten++;
    return (int)regs->DATA;
}
