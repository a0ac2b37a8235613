/*
 * Module flash on the sim machine. QEMU's sim board has no flash device,
 * so the board reserves two windows of sysram0 and this driver is the only
 * code that changes them, with the rules of a NOR part (an ESP32's or
 * ESP8266's SPI flash): the erase unit is a 4 KB sector and erasing sets
 * it to 0xFF; a program can only clear bits, so a program that needs a
 * 0 -> 1 bit is refused with nothing written; every program is read back.
 *
 *   bank 0 [FLASH_LO, FLASH_HI)    the module store's partition, 256 sectors
 *   bank 1 [FLASH1_LO, FLASH1_HI)  `flash selftest` only
 *
 * Each operation runs with interrupts masked, as on a real part, where
 * the flash cannot be read (or executed from) while it is being written
 * and a tick may call into a module that runs from it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"

#define SECTOR 4096u

static int in_bank(uintptr_t at, size_t len) {
    if (at >= FLASH_LO && at < FLASH_HI) {
        return len <= FLASH_HI - at;
    }
    if (at >= FLASH1_LO && at < FLASH1_HI) {
        return len <= FLASH1_HI - at;
    }
    return 0;
}

uint32_t board_flash_block(void) {
    return SECTOR;
}

int board_flash_erase(uintptr_t at, uint32_t size) {
    if (at % SECTOR || size % SECTOR || !in_bank(at, size)) {
        return -1;
    }
    uint32_t s = board_irq_save();
    memset((void *)at, 0xFF, size);
    board_irq_restore(s);
    return 0;
}

int board_flash_program(uintptr_t at, const void *data, size_t len) {
    const uint8_t *src = data;
    volatile uint8_t *dst = (volatile uint8_t *)at;
    if (!in_bank(at, len)) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((dst[i] & src[i]) != src[i]) {
            return -1; /* a bit would have to go 0 -> 1 */
        }
    }
    uint32_t s = board_irq_save();
    for (size_t i = 0; i < len; i++) {
        dst[i] = dst[i] & src[i];
    }
    board_irq_restore(s);
    return memcmp((const void *)at, data, len) ? -1 : 0;
}

/* ---- `flash selftest`: bank 1 ------------------------------------------ */

static int check(int ok, const char *what, const char **why) {
    if (!ok) {
        *why = what;
        return -1;
    }
    printf("flash: %s: ok\n", what);
    return 0;
}

static int all_ff(uintptr_t at, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) {
        if (((volatile uint8_t *)at)[i] != 0xFF) {
            return 0;
        }
    }
    return 1;
}

/* One line per NOR property, on bank 1 (the store's bank is not touched). */
int board_flash_selftest(const char **why) {
    uintptr_t s0 = FLASH1_LO, s1 = FLASH1_LO + SECTOR;
    uint32_t w = 0x12345678u, fewer = 0x12305670u, ones = 0xFFFFFFFFu, mark = 0xA5A5A5A5u;
    uint8_t one = 0x5A;
    printf("flash: bank 0 at 0x%08lx, %lu sectors; bank 1 at 0x%08lx, %lu sectors of %lu bytes\n",
           (unsigned long)FLASH_LO, (unsigned long)((FLASH_HI - FLASH_LO) / SECTOR),
           (unsigned long)FLASH1_LO, (unsigned long)((FLASH1_HI - FLASH1_LO) / SECTOR),
           (unsigned long)SECTOR);
    if (check(board_flash_erase(s0, 2 * SECTOR) == 0 && all_ff(s0, 2 * SECTOR),
              "erase of two sectors reads back 0xFF", why) ||
        check(board_flash_program(s0, &w, 4) == 0 && board_flash_program(s0, &fewer, 4) == 0 &&
                  *(volatile uint32_t *)s0 == fewer,
              "programming more zeros over a programmed word", why) ||
        check(board_flash_program(s0, &ones, 4) != 0 && *(volatile uint32_t *)s0 == fewer,
              "a program needing 0 -> 1 bits is refused, nothing written", why) ||
        check(board_flash_program(s0 + 0x101, &one, 1) == 0 && board_flash_program(s0 + 0x102, &one, 1) == 0 &&
                  *(volatile uint32_t *)(s0 + 0x100) == 0xFF5A5AFFu,
              "single bytes leave their neighbours alone", why) ||
        check(board_flash_program(s1, &mark, 4) == 0 && board_flash_erase(s0, SECTOR) == 0 &&
                  all_ff(s0, SECTOR) && *(volatile uint32_t *)s1 == mark,
              "erase is per sector", why) ||
        check(board_flash_erase(s0 + 512u, SECTOR) != 0 && board_flash_program(FLASH1_HI - 2u, &mark, 4) != 0 &&
                  board_flash_program(STAGE_LO, &mark, 4) != 0,
              "a misaligned erase, a program past the bank or outside flash are refused", why) ||
        check(board_flash_erase(s0, 2 * SECTOR) == 0, "final erase", why)) {
        return NM_ERR_IO;
    }
    printf("flash: selftest passed\n");
    return 0;
}
