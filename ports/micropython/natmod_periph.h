/*
 * Firmware functions the component offers native modules by name
 * (NM_FW_IMPORT in include/natmod/mpy_fw.h). A module declares the same
 * prototypes; docs/micropython.md.
 */
#ifndef NATMOD_PERIPH_H
#define NATMOD_PERIPH_H

#include <stdint.h>

/* *reg = (*reg & ~clear) | set under the board's peripheral lock, which
 * excludes interrupts and, on a dual-core ESP32, the other core (the lock
 * ESP-IDF's own periph_module_enable takes). Returns the value written. */
uint32_t natmod_periph_rmw(volatile uint32_t *reg, uint32_t clear, uint32_t set);

/* A simulated peripheral: four 32-bit registers in RAM, for the example. */
volatile uint32_t *natmod_sim_periph(void);

#endif /* NATMOD_PERIPH_H */
