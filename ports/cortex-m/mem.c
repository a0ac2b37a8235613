/*
 * Module RAM on the Cortex-M board: one static pool handed out as blocks.
 * RAM mode takes first-fit blocks from the bottom (mem_alloc); XIP mode
 * claims the exact RW address a module was linked for (mem_claim), and
 * those addresses are assigned at install time from the top of the pool
 * (mem_xip_slot), so RAM-mode blocks and XIP slots meet only when the pool
 * is full. A fixed table of blocks sorted by address: no heap, bounded loops.
 */
#include <string.h>

#include "mem.h"

#ifndef MEM_POOL
#define MEM_POOL (64u * 1024u)
#endif
#define MEM_BLOCKS 32u

typedef struct block {
    uint32_t start, end; /* offsets into pool */
} block_t;

static uint8_t pool[MEM_POOL] __attribute__((aligned(8)));
static block_t blocks[MEM_BLOCKS];
static unsigned nblocks;
static uint32_t in_use, peak, xip_top = MEM_POOL;

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
    uint32_t base = (uint32_t)(uintptr_t)pool;
    uint32_t cand = 0;
    for (unsigned i = 0; i <= nblocks; i++) {
        uint32_t limit = i < nblocks ? blocks[i].start : MEM_POOL;
        uint32_t at = align_up(base + cand, (uint32_t)align) - base;
        if (at <= limit && size <= limit - at) {
            return insert(at, at + (uint32_t)size) ? NULL : pool + at;
        }
        if (i < nblocks) {
            cand = blocks[i].end;
        }
    }
    return NULL;
}

int mem_claim(void *addr, size_t size) {
    uint8_t *p = addr;
    if (p < pool || p > pool + MEM_POOL || size > (size_t)(pool + MEM_POOL - p)) {
        return -1;
    }
    uint32_t start = (uint32_t)(p - pool), end = start + (uint32_t)size;
    for (unsigned i = 0; i < nblocks; i++) {
        if (start < blocks[i].end && blocks[i].start < end) {
            return -1;
        }
    }
    return insert(start, end);
}

void mem_free(void *addr) {
    for (unsigned i = 0; i < nblocks; i++) {
        if (pool + blocks[i].start == (uint8_t *)addr) {
            in_use -= blocks[i].end - blocks[i].start;
            memmove(&blocks[i], &blocks[i + 1], (nblocks - i - 1) * sizeof blocks[0]);
            nblocks--;
            return;
        }
    }
}

uintptr_t mem_xip_slot(size_t size, size_t align) {
    uint32_t base = (uint32_t)(uintptr_t)pool;
    if (size > xip_top || align > MEM_POOL) {
        return 0;
    }
    uint32_t at = ((base + xip_top - (uint32_t)size) & ~((uint32_t)align - 1u)) - base;
    if (at > xip_top) {
        return 0; /* wrapped below the pool */
    }
    xip_top = at;
    return (uintptr_t)(pool + at);
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
