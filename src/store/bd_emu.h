/*
 * Emulated flash for tests, benchmarks and fuzzing (host only), in the
 * spirit of littlefs's emubd: NOR rules enforced (a program may only touch
 * erased bytes: anything else is counted as a violation and refused), every
 * access counted, and power loss injected by a countdown over programs and
 * erases. The cut operation is torn the way its variant says; after it the
 * device is "off" (every call fails) until nm_bd_emu_power_on.
 */
#ifndef NATMOD_STORE_BD_EMU_H
#define NATMOD_STORE_BD_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/store.h"

enum nm_bd_emu_tear {
    NM_EMU_TEAR_NONE = 0,  /* the cut operation has no effect at all */
    NM_EMU_TEAR_RANDOM = 1, /* program: some units written, one partly (bits half set);
                               erase: nothing, all, a prefix, or random bits set - from the seed */
};

typedef struct nm_bd_emu_pending {
    uint32_t addr, len;
} nm_bd_emu_pending_t;

typedef struct nm_bd_emu {
    uint8_t *mem;
    size_t size;
    int map32; /* mem is mapped below 4 GB (32-bit modules linked for it) */
    uint32_t block_size, prog_size, block_count;
    /* counters */
    uint64_t n_reads, bytes_read, n_progs, bytes_prog, n_erases, n_syncs;
    uint64_t violations; /* programs over non-erased bytes, misaligned or out-of-range calls */
    uint32_t *erase_counts; /* lifetime, per block */
    /* power */
    long countdown; /* programs + erases left before the cut; < 0: never */
    int tear;       /* enum nm_bd_emu_tear for the cut operation */
    uint64_t seed;  /* drives tearing and dropped writes */
    int reorder;    /* programs since the last sync may be lost at the cut */
    int dead;
    nm_bd_emu_pending_t *pend;
    size_t n_pend, cap_pend;
    long ops; /* programs + erases done (counts a cut one) */
} nm_bd_emu_t;

/* Erased (all 0xFF) device; map32: place it below 4 GB. NM_OK or NM_ERR_NOMEM. */
int nm_bd_emu_init(nm_bd_emu_t *e, uint32_t block_size, uint32_t prog_size, uint32_t block_count,
                   int map32);
void nm_bd_emu_free(nm_bd_emu_t *e);
/* Point cfg's device callbacks and geometry at e (other fields untouched). */
void nm_bd_emu_attach(nm_bd_emu_t *e, nm_store_config_t *cfg);
/* Cut power at the (n+1)-th program or erase from now, torn as tear. */
void nm_bd_emu_cut_after(nm_bd_emu_t *e, long n, int tear, uint64_t seed, int reorder);
/* Power back: the device works again, no cut armed. */
void nm_bd_emu_power_on(nm_bd_emu_t *e);
/* Flip bit `bit` of byte `addr` (fault injection outside the protocol). */
void nm_bd_emu_flip(nm_bd_emu_t *e, size_t addr, unsigned bit);

#endif /* NATMOD_STORE_BD_EMU_H */
