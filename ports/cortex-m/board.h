/*
 * The Cortex-M board's memory map and the functions its files share.
 * build-fw.sh passes the micro:bit's map; the defaults are the MPS2 boards'.
 */
#ifndef NATMOD_CORTEX_M_BOARD_H
#define NATMOD_CORTEX_M_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/loader.h"
#include "natmod/store.h"

#ifndef STAGE_LO
#define STAGE_LO 0x00200000u    /* staged module files (QEMU -device loader) */
#define STAGE_HI 0x00300000u
#define FLASH_LO 0x00300000u    /* module flash: the store partition */
#define FLASH_HI 0x003F0000u
#define SCRIPT_ADDR 0x003F0000u /* the command script, NUL-terminated */
#define SCRIPT_MAX 0x00010000u
#endif

/* hal.c */
void board_periph_dump(void);
void board_systick_start(void);
uint32_t board_cycles(void);
void board_timer_drop(uintptr_t lo, uintptr_t hi);

/* flash_mps2.c / flash_nrf51.c: 0, or -1 (misaligned, or not erased). */
int board_flash_erase(uintptr_t at, uint32_t size);
int board_flash_program(uintptr_t at, const void *data, size_t len);

/* store_bd.c: the store partition [FLASH_LO, FLASH_HI) over the flash driver. */
const nm_store_config_t *board_store_config(const nm_loader_config_t *loader);

#endif /* NATMOD_CORTEX_M_BOARD_H */
