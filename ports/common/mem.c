/*
 * Module RAM on the bare-metal boards: one static pool, placed by the
 * linker script (section .modram: first in RAM on Cortex-M, a region of its
 * own on RISC-V) so its address does not move when the firmware changes.
 * Two parts:
 *
 *   [0, MEM_ARENA)            the store's RW arena: the module store assigns
 *                             each linked install a slot here, and an XIP
 *                             load claims exactly that slot (mem_claim);
 *   [MEM_ARENA, + MEM_POOL)   RAM-mode modules, first fit (mem_alloc).
 *
 * Installed modules have their RW address in their text, so the arena must
 * stay where it is across firmware updates: hence the fixed section.
 * A fixed table of blocks sorted by address: no heap, bounded loops.
 */
#include <string.h>

#include "mem.h"

#ifndef MEM_POOL
#define MEM_POOL (64u * 1024u)
#endif
#ifndef MEM_ARENA
#define MEM_ARENA (16u * 1024u)
#endif
#define MEM_TOTAL (MEM_ARENA + MEM_POOL)
#define MEM_BLOCKS 32u

typedef struct block {
    uint32_t start, end; /* offsets into ram */
} block_t;

static uint8_t ram[MEM_TOTAL] __attribute__((section(".modram"), aligned(8)));
static block_t blocks[MEM_BLOCKS];
static unsigned nblocks;
static uint32_t in_use, peak;

static int insert(uint32_t start, uint32_t end) {
    if (nblocks == MEM_BLOCKS) {
        return -1;
    }
    unsigned i = 0;
    while (i < nblocks && blocks[i].start < start) {
        i++;
    }
    memmove(&blocks[i + 1], &blocks[i], (nblocks - i) * sizeof blocks[0]);
    blocks[i].start = start;
    blocks[i].end = end;
    nblocks++;
    in_use += end - start;
    peak = in_use > peak ? in_use : peak;
    return 0;
}

static uint32_t align_up(uint32_t v, uint32_t a) {
    return (v + a - 1u) & ~(a - 1u);
}

void *mem_alloc(size_t size, size_t align) {
    if (size > MEM_POOL || align > MEM_POOL) {
        return NULL;
    }
    uint32_t base = (uint32_t)(uintptr_t)ram;
    uint32_t cand = MEM_ARENA; /* RAM mode never takes arena bytes */
    for (unsigned i = 0; i <= nblocks; i++) {
        uint32_t limit = i < nblocks ? blocks[i].start : MEM_TOTAL;
        if (limit >= cand) {
            uint32_t at = align_up(base + cand, (uint32_t)align) - base;
            if (at <= limit && size <= limit - at) {
                return insert(at, at + (uint32_t)size) ? NULL : ram + at;
            }
        }
        if (i < nblocks && blocks[i].end > cand) {
            cand = blocks[i].end;
        }
    }
    return NULL;
}

int mem_claim(void *addr, size_t size) {
    uint8_t *p = addr;
    if (p < ram || p > ram + MEM_ARENA || size > (size_t)(ram + MEM_ARENA - p)) {
        return -1; /* only store RW slots are claimed, and they lie in the arena */
    }
    uint32_t start = (uint32_t)(p - ram), end = start + (uint32_t)size;
    for (unsigned i = 0; i < nblocks; i++) {
        if (start < blocks[i].end && blocks[i].start < end) {
            return -1;
        }
    }
    return insert(start, end);
}

void mem_free(void *addr) {
    for (unsigned i = 0; i < nblocks; i++) {
        if (ram + blocks[i].start == (uint8_t *)addr) {
            in_use -= blocks[i].end - blocks[i].start;
            memmove(&blocks[i], &blocks[i + 1], (nblocks - i - 1) * sizeof blocks[0]);
            nblocks--;
            return;
        }
    }
}

uintptr_t mem_arena_base(void) {
    return (uintptr_t)ram;
}

uint32_t mem_arena_size(void) {
    return MEM_ARENA;
}

uint32_t mem_in_use(void) {
    return in_use;
}

uint32_t mem_peak(void) {
    return peak;
}

void mem_peak_reset(void) {
    peak = in_use;
}
