/*
 * Module flash on QEMU's MPS2 boards: the code SSRAM stands in for flash, so
 * erasing is filling with 0xFF and programming is a copy. Programming keeps
 * the NOR rule anyway (a bit can only go from 1 to 0 until erased), so code
 * that works here does not depend on overwriting flash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "board.h"

/* The erase unit this board gives its module flash: 4 KB, a common NOR
 * sector size (the SSRAM itself has none). */
uint32_t board_flash_block(void) {
    return 4096u;
}

int board_flash_erase(uintptr_t at, uint32_t size) {
    memset((void *)at, 0xFF, size);
    return 0;
}

int board_flash_program(uintptr_t at, const void *data, size_t len) {
    volatile uint8_t *dst = (volatile uint8_t *)at;
    const uint8_t *src = data;
    for (size_t i = 0; i < len; i++) {
        if ((dst[i] & src[i]) != src[i]) {
            return -1; /* would need a 0 -> 1 transition: not erased */
        }
        dst[i] = src[i];
    }
    return 0;
}
