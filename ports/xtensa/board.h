/*
 * The Xtensa board's memory map: qemu-system-xtensa -M sim, one core,
 * either the call0 lx106 (ESP8266) or the windowed de212 (LX6, the ESP32's
 * integer ISA). Both cores have sysram0 (0x60000000, 128 MB), and the board
 * lives there on both: the firmware, module RAM, the staging area, the
 * script and the module flash. The sim machine has no flash device, so
 * module flash is a RAM window that only the flash driver (flash_nor.c)
 * changes, with NOR rules. What the shared firmware (ports/common) expects
 * from a board is in fw.h; docs/board-xtensa.md draws the map.
 */
#ifndef NATMOD_XTENSA_BOARD_H
#define NATMOD_XTENSA_BOARD_H

#define STAGE_LO 0x60400000u    /* staged module files (QEMU -device loader), 4 MB */
#define STAGE_HI 0x60800000u
#define SCRIPT_ADDR 0x60800000u /* the command script, NUL-terminated */
#define SCRIPT_MAX 0x00010000u
#define FLASH_LO 0x61000000u    /* module flash: the store partition, 1 MB of 4 KB sectors */
#define FLASH_HI 0x61100000u
#define FLASH1_LO 0x61100000u   /* the flash self-test's bank, not the store's */
#define FLASH1_HI 0x61110000u

#include "fw.h"

/* hal.c: the CCOMPARE0 timer interrupt (from the level-1 vector). */
void board_timer_isr(void);
/* flash_nor.c: `flash selftest`, the driver's NOR semantics on bank 1. */
int board_flash_selftest(const char **why);
/* startup.c: QEMU's simcall (semihosting): call number, three arguments;
 * returns a2, errno in *err. */
int board_simcall(int nr, int a, int b, int c, int *err);
/* startup.c: the console, a line buffer written out by simcall. */
void xt_console_putc(char c);
void xt_console_flush(void);

#endif /* NATMOD_XTENSA_BOARD_H */
