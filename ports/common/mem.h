/* Module RAM of the bare-metal boards (mem.c): RAM-mode blocks and the
 * store's RW arena. */
#ifndef NATMOD_PORTS_MEM_H
#define NATMOD_PORTS_MEM_H

#include <stddef.h>
#include <stdint.h>

/* First-fit block of size bytes aligned to align (a power of two) outside
 * the arena, or NULL. */
void *mem_alloc(size_t size, size_t align);
/* Take exactly [addr, addr+size) inside the arena: 0, or -1 if outside it
 * or taken. */
int mem_claim(void *addr, size_t size);
/* Give back the block starting at addr (from mem_alloc or mem_claim). */
void mem_free(void *addr);
/* The RW arena the module store assigns slots from. */
uintptr_t mem_arena_base(void);
uint32_t mem_arena_size(void);
/* Bytes in blocks now (both parts), and the most since mem_peak_reset. */
uint32_t mem_in_use(void);
uint32_t mem_peak(void);
void mem_peak_reset(void);

#endif /* NATMOD_PORTS_MEM_H */
