/*
 * The RISC-V board's memory map: QEMU `virt`, one rv32imc hart in machine
 * mode, firmware in RAM, module flash = the machine's first CFI parallel
 * flash bank (pflash0). What the shared firmware (ports/common) expects from
 * a board is in fw.h; docs/board-riscv.md draws the map.
 */
#ifndef NATMOD_RISCV_BOARD_H
#define NATMOD_RISCV_BOARD_H

#define STAGE_LO 0x80400000u    /* staged module files (QEMU -device loader), 4 MB */
#define STAGE_HI 0x80800000u
#define SCRIPT_ADDR 0x80800000u /* the command script, NUL-terminated */
#define SCRIPT_MAX 0x00010000u
#define FLASH_LO 0x20000000u    /* module flash: pflash0, 32 MB, the store partition */
#define FLASH_HI 0x22000000u
#define FLASH1_LO 0x22000000u   /* pflash1: the flash self-test's bank, not the store's */
#define FLASH1_HI 0x24000000u

/* Module text written to RAM (RAM mode) and to flash must be made visible
 * to instruction fetch: fence.i (board_sync_code). */
#define BOARD_FLUSH_ICACHE 1

#include "fw.h"

/* hal.c: the machine timer interrupt (from the trap vector, startup.c). */
void board_timer_isr(void);
/* flash_cfi.c: `flash selftest`, the driver's NOR semantics on pflash1. */
int board_flash_selftest(const char **why);

#endif /* NATMOD_RISCV_BOARD_H */
