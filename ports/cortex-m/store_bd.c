/*
 * The module store's block device on the Cortex-M board: the module flash
 * region [FLASH_LO, FLASH_HI) through the board's flash driver (erase and
 * program: flash_mps2.c, flash_nrf51.c); reads are copies from the
 * memory-mapped flash. The partition is mapped at FLASH_LO, so the store
 * links each install for the address it will run from.
 *
 *   MPS2 (an385, an386): 0x00300000-0x003EFFFF, 240 blocks of 4 KB
 *   micro:bit (nRF51):   0x00030000-0x0003EFFF, 60 blocks of 1 KB (NVMC pages)
 *
 * Program unit 4 bytes (one NVMC word), extents aligned to a block. RW
 * slots of linked installs come from the module RAM arena (mem.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "mem.h"

#ifndef STORE_BLOCK
#define STORE_BLOCK 4096u
#endif
#ifndef STORE_META
#define STORE_META 0u /* the store's default */
#endif
#ifndef STORE_ENTRIES
#define STORE_ENTRIES 32u
#endif
#define STORE_PROG 4u
#define STORE_BLOCKS ((FLASH_HI - FLASH_LO) / STORE_BLOCK)

/* Byte address of (block, off) for size bytes, or 0 if any of it lies
 * outside the partition. */
static uintptr_t addr_of(uint32_t block, uint32_t off, uint32_t size) {
    uint64_t at = (uint64_t)block * STORE_BLOCK + off;
    if (block >= STORE_BLOCKS || at > FLASH_HI - FLASH_LO || size > FLASH_HI - FLASH_LO - at) {
        return 0;
    }
    return FLASH_LO + (uintptr_t)at;
}

static int bd_read(const nm_store_config_t *c, uint32_t block, uint32_t off, void *buf, uint32_t size) {
    (void)c;
    uintptr_t at = addr_of(block, off, size);
    if (!at) {
        return NM_ERR_INVAL;
    }
    memcpy(buf, (const void *)at, size);
    return NM_OK;
}

static int bd_prog(const nm_store_config_t *c, uint32_t block, uint32_t off, const void *buf, uint32_t size) {
    (void)c;
    uintptr_t at = addr_of(block, off, size);
    if (!at || off % STORE_PROG || size % STORE_PROG) {
        return NM_ERR_INVAL;
    }
    /* The drivers check the result (NOR rule on MPS2, read-back on the nRF51). */
    return board_flash_program(at, buf, size) ? NM_ERR_IO : NM_OK;
}

static int bd_erase(const nm_store_config_t *c, uint32_t block) {
    (void)c;
    uintptr_t at = addr_of(block, 0, STORE_BLOCK);
    if (!at) {
        return NM_ERR_INVAL;
    }
    return board_flash_erase(at, STORE_BLOCK) ? NM_ERR_IO : NM_OK;
}

static nm_store_entry_t entries[STORE_ENTRIES];
static uint8_t buffer[NM_STORE_BUFFER_SIZE(STORE_PROG)] __attribute__((aligned(4)));
static nm_store_config_t config = {
    .read = bd_read,
    .prog = bd_prog,
    .erase = bd_erase,
    .sync = NULL, /* both drivers complete each erase and program before returning */
    .block_size = STORE_BLOCK,
    .prog_size = STORE_PROG,
    .block_count = STORE_BLOCKS,
    .align = STORE_BLOCK,
    .map_base = FLASH_LO,
    .meta_blocks = STORE_META,
    .entries = entries,
    .max_entries = STORE_ENTRIES,
    .buffer = buffer,
};

/* The partition's configuration, linked mode: RW slots in the arena. */
const nm_store_config_t *board_store_config(const nm_loader_config_t *loader) {
    config.loader = loader;
    config.rw_base = mem_arena_base();
    config.rw_size = mem_arena_size();
    return &config;
}
