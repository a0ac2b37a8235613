/*
 * The Cortex-M board's memory map. build-fw.sh passes the micro:bit's map;
 * the defaults are the MPS2 boards'. What the shared firmware (ports/common)
 * expects from a board is in fw.h.
 */
#ifndef NATMOD_CORTEX_M_BOARD_H
#define NATMOD_CORTEX_M_BOARD_H

#ifndef STAGE_LO
#define STAGE_LO 0x00200000u    /* staged module files (QEMU -device loader) */
#define STAGE_HI 0x00300000u
#define FLASH_LO 0x00300000u    /* module flash: the store partition */
#define FLASH_HI 0x003F0000u
#define SCRIPT_ADDR 0x003F0000u /* the command script, NUL-terminated */
#define SCRIPT_MAX 0x00010000u
#endif

#include "fw.h"

#endif /* NATMOD_CORTEX_M_BOARD_H */
