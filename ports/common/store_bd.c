/*
 * The module store's block device on the bare-metal boards: the module
 * flash region [FLASH_LO, FLASH_HI) through the board's flash driver
 * (board_flash_erase, board_flash_program); reads are copies from the
 * memory-mapped flash. The partition is mapped at FLASH_LO, so the store
 * links each install for the address it will run from.
 *
 * The block is the driver's erase unit (board_flash_block), known only at
 * run time on boards that ask the flash (the RISC-V board reads it from the
 * CFI query):
 *
 *   MPS2 (an385, an386): 0x00300000-0x003EFFFF, 240 blocks of 4 KB
 *   micro:bit (nRF51):   0x00030000-0x0003EFFF, 60 blocks of 1 KB (NVMC pages)
 *   RISC-V virt:         0x20000000-0x21FFFFFF, 128 blocks of 256 KB (CFI)
 *
 * Program unit 4 bytes (one NVMC word, one CFI bank word), extents aligned
 * to a block. RW slots of linked installs come from the module RAM arena
 * (mem.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "mem.h"

#ifndef STORE_META
#define STORE_META 0u /* the store's default */
#endif
#ifndef STORE_ENTRIES
#define STORE_ENTRIES 32u
#endif
#define STORE_PROG 4u
#define FLASH_SIZE ((uint32_t)(FLASH_HI - FLASH_LO))

/* Byte address of (block, off) for size bytes, or 0 if any of it lies
 * outside the partition. */
static uintptr_t addr_of(const nm_store_config_t *c, uint32_t block, uint32_t off, uint32_t size) {
    uint64_t at = (uint64_t)block * c->block_size + off;
    if (block >= c->block_count || at > FLASH_SIZE || size > FLASH_SIZE - at) {
        return 0;
    }
    return FLASH_LO + (uintptr_t)at;
}

static int bd_read(const nm_store_config_t *c, uint32_t block, uint32_t off, void *buf, uint32_t size) {
    uintptr_t at = addr_of(c, block, off, size);
    if (!at) {
        return NM_ERR_INVAL;
    }
    memcpy(buf, (const void *)at, size);
    return NM_OK;
}

static int bd_prog(const nm_store_config_t *c, uint32_t block, uint32_t off, const void *buf, uint32_t size) {
    uintptr_t at = addr_of(c, block, off, size);
    if (!at || off % STORE_PROG || size % STORE_PROG) {
        return NM_ERR_INVAL;
    }
    /* The drivers check the result (NOR rule, status register, read-back). */
    return board_flash_program(at, buf, size) ? NM_ERR_IO : NM_OK;
}

static int bd_erase(const nm_store_config_t *c, uint32_t block) {
    uintptr_t at = addr_of(c, block, 0, c->block_size);
    if (!at) {
        return NM_ERR_INVAL;
    }
    return board_flash_erase(at, c->block_size) ? NM_ERR_IO : NM_OK;
}

static nm_store_entry_t entries[STORE_ENTRIES];
static uint8_t buffer[NM_STORE_BUFFER_SIZE(STORE_PROG)] __attribute__((aligned(4)));
static nm_store_config_t config = {
    .read = bd_read,
    .prog = bd_prog,
    .erase = bd_erase,
    .sync = NULL, /* the drivers complete each erase and program before returning */
    .prog_size = STORE_PROG,
    .map_base = FLASH_LO,
    .meta_blocks = STORE_META,
    .entries = entries,
    .max_entries = STORE_ENTRIES,
    .buffer = buffer,
};

/* The partition's configuration, linked mode: RW slots in the arena. */
const nm_store_config_t *fw_store_config(const nm_loader_config_t *loader) {
    config.block_size = board_flash_block();
    config.block_count = config.block_size ? FLASH_SIZE / config.block_size : 0;
    config.align = config.block_size;
    config.loader = loader;
    config.rw_base = mem_arena_base();
    config.rw_size = mem_arena_size();
    return &config;
}
