/* Module RAM of the Cortex-M board (mem.c). */
#ifndef NATMOD_CORTEX_M_MEM_H
#define NATMOD_CORTEX_M_MEM_H

#include <stddef.h>
#include <stdint.h>

/* First-fit block of size bytes aligned to align (a power of two), or NULL. */
void *mem_alloc(size_t size, size_t align);
/* Take exactly [addr, addr+size): 0, or -1 if outside the pool or taken. */
int mem_claim(void *addr, size_t size);
/* Give back the block starting at addr (from mem_alloc or mem_claim). */
void mem_free(void *addr);
/* Assign an XIP RW address (install time), top-down; 0 if the pool is spent. */
uintptr_t mem_xip_slot(size_t size, size_t align);
/* Bytes in blocks now, and the most since the last mem_peak_reset. */
uint32_t mem_in_use(void);
uint32_t mem_peak(void);
void mem_peak_reset(void);

#endif /* NATMOD_CORTEX_M_MEM_H */
