/*
 * The firmware shared by the bare-metal QEMU boards (ports/cortex-m,
 * ports/riscv): the script engine (main.c), module RAM (mem.c), the
 * board-neutral half of the board API (hal_common.c) and the module store's
 * block device (store_bd.c). This header is the contract between that
 * shared half and a board's own files.
 *
 * Each board has a board.h (found first on the include path) that defines
 * its memory map and includes this header:
 *
 *   STAGE_LO, STAGE_HI     staged module files (QEMU -device loader)
 *   FLASH_LO, FLASH_HI     module flash: the store partition, memory-mapped
 *   SCRIPT_ADDR, SCRIPT_MAX  the command script, NUL-terminated text
 *   BOARD_ARCH, BOARD_FLOAT  the board's enum nm_arch / nm_float_abi (-D)
 *   BOARD_FLUSH_ICACHE     defined if code written to RAM or flash must be
 *                          made visible to instruction fetch (board_sync_code)
 */
#ifndef NATMOD_PORTS_FW_H
#define NATMOD_PORTS_FW_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/loader.h"
#include "natmod/store.h"

/* ---- what each board provides ---------------------------------------- */

/* Start the 1 kHz tick; its interrupt handler calls fw_tick(). */
void board_tick_start(void);
/* A free-running count for timing loads (bench); any unit, converted by
 * calibration (board_spin). */
uint32_t board_cycles(void);
/* Execute exactly 2 * n instructions (n > 0): the bench calibration loop. */
void board_spin(uint32_t n);
/* Mask interrupts, returning the previous state; restore it. One core: a
 * masked section is the whole lock. */
uint32_t board_irq_save(void);
void board_irq_restore(uint32_t state);
/* Make len bytes of code just written at addr (RAM or flash) visible to
 * instruction fetch. Used only where BOARD_FLUSH_ICACHE is defined. */
void board_sync_code(void *addr, size_t len);

/* Module flash driver. Erase unit in bytes (a power of two); erase size
 * bytes at at (both multiples of it) to 0xFF; program len bytes at at, NOR
 * rule: bits only go from 1 to 0 until erased. Each returns 0 or -1 (bad
 * alignment, a bit that would have to go 0 -> 1, a device error). Both leave
 * the flash readable (read-array mode) when they return. */
uint32_t board_flash_block(void);
int board_flash_erase(uintptr_t at, uint32_t size);
int board_flash_program(uintptr_t at, const void *data, size_t len);

/* A script command the shared engine does not know (words w[0..n-1]):
 * 1 if it is not the board's either, 0 if it ran, or a negative NM_ERR_*
 * with *why set to a one-line reason. */
int board_command(char **w, int n, const char **why);

/* ---- what the shared half provides ----------------------------------- */

/* hal_common.c: the tick handler's work (milliseconds, the periodic timer's
 * callback); the peripheral dump; stop a timer whose callback lies in
 * [lo, hi) before that code goes away. */
void fw_tick(void);
void fw_periph_dump(void);
void fw_timer_drop(uintptr_t lo, uintptr_t hi);

/* store_bd.c: the store partition [FLASH_LO, FLASH_HI) over the flash
 * driver, linked mode (RW slots in the module RAM arena, mem.c). */
const nm_store_config_t *fw_store_config(const nm_loader_config_t *loader);

#endif /* NATMOD_PORTS_FW_H */
