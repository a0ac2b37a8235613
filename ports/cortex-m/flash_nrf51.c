/*
 * Module flash on the nRF51 (micro:bit): the NVMC erases 1 KB pages and
 * programs whole words while CONFIG.WEN is set; a programmed word can only
 * clear bits. Unaligned writes are widened to words padded with 0xFF, which
 * leaves the bytes beside them as they are.
 */
#include <stddef.h>
#include <stdint.h>

#include "board.h"

#define NVMC_READY (*(volatile uint32_t *)0x4001E400u)
#define NVMC_CONFIG (*(volatile uint32_t *)0x4001E504u)
#define NVMC_ERASEPAGE (*(volatile uint32_t *)0x4001E508u)
#define NRF51_PAGE 1024u

uint32_t board_flash_block(void) {
    return NRF51_PAGE;
}

static void wait_ready(void) {
    while (!(NVMC_READY & 1u)) {
    }
}

int board_flash_erase(uintptr_t at, uint32_t size) {
    if (at % NRF51_PAGE) {
        return -1;
    }
    NVMC_CONFIG = 2u; /* EEN */
    for (uint32_t off = 0; off < size; off += NRF51_PAGE) {
        NVMC_ERASEPAGE = (uint32_t)(at + off);
        wait_ready();
    }
    NVMC_CONFIG = 0u;
    wait_ready();
    return 0;
}

int board_flash_program(uintptr_t at, const void *data, size_t len) {
    const uint8_t *src = data;
    NVMC_CONFIG = 1u; /* WEN */
    for (size_t i = 0; i < len;) {
        uintptr_t word = (at + i) & ~(uintptr_t)3;
        uint32_t v = 0xFFFFFFFFu;
        for (unsigned b = (unsigned)((at + i) & 3u); b < 4 && i < len; b++, i++) {
            v &= ~(0xFFu << (8 * b)) | ((uint32_t)src[i] << (8 * b));
        }
        *(volatile uint32_t *)word = v;
        wait_ready();
    }
    NVMC_CONFIG = 0u;
    wait_ready();
    for (size_t i = 0; i < len; i++) {
        if (((const volatile uint8_t *)at)[i] != src[i]) {
            return -1; /* the page was not erased */
        }
    }
    return 0;
}
