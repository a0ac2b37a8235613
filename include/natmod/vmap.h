/*
 * vmap: which virtual address shows which physical page, on targets with an
 * MMU. The semantics of ESP-IDF's esp_mmu_map (regions with capabilities,
 * first-fit placement, the same error codes in the same order) and of
 * ESP-IDF 6.1's esp_mmu_map_virt (nm_vmap_map_virt), plus nm_vmap_map_at:
 * mapping at a virtual address the caller chooses, which is what lets a
 * loader put a module's RAM pages right after its flash pages (MMU
 * adjacency, docs/xip.md). docs/vmap.md lists where they differ from
 * ESP-IDF.
 *
 * Freestanding: no malloc (blocks come from a pool the caller hands in), no
 * recursion, every operation O(blocks in the region it touches). The
 * hardware is behind nm_vmap_backend_t: "point these pages there", "make
 * these pages invalid". Back-ends: an ESP32 and an ESP32-S3 page-table model
 * (src/vmap/esp32.h) and Linux mmap (src/vmap/host.h).
 *
 * Words used here (ESP-IDF's):
 *   linear address  offset into the MMU's own address space; page-table
 *                   entry = laddr / page_size (one space per region set)
 *   virtual address what the CPU uses: a region's bus base + laddr. A region
 *                   can be seen on the instruction bus, the data bus or both
 *   physical address offset into a target (FLASH0: the flash chip, PSRAM0:
 *                   external RAM)
 *   block           one mapping: [laddr, laddr + size) -> [paddr, paddr + size)
 *
 * Thread safety: every call that reads or changes the map takes the lock
 * the caller supplied (cfg.lock/cfg.unlock), and releases it before
 * returning; the back-end runs under it. Without a lock the map is for one
 * thread. ISR safety: nm_vmap_map, nm_vmap_map_at, nm_vmap_map_virt and
 * nm_vmap_unmap change
 * page tables through the back-end and must not be called from an ISR. The
 * queries (nm_vmap_vaddr_to_paddr, nm_vmap_paddr_to_vaddr,
 * nm_vmap_paddr_caps, nm_vmap_largest_free, nm_vmap_find_free,
 * nm_vmap_blocks) allocate nothing and touch no hardware: they are ISR-safe
 * exactly when the supplied lock is (a spinlock that masks interrupts is;
 * a mutex is not).
 */
#ifndef NATMOD_VMAP_H
#define NATMOD_VMAP_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"

/* Capabilities: the same bits as ESP-IDF's mmu_mem_caps_t. */
enum {
    NM_VMAP_CAP_EXEC = 1u << 0,
    NM_VMAP_CAP_READ = 1u << 1,
    NM_VMAP_CAP_WRITE = 1u << 2,
    NM_VMAP_CAP_32BIT = 1u << 3,
    NM_VMAP_CAP_8BIT = 1u << 4,
    NM_VMAP_CAP_ALL_ = 0x1f,
};

/* Physical targets (mmu_target_t). A request names exactly one. */
enum {
    NM_VMAP_TARGET_FLASH0 = 1u << 0,
    NM_VMAP_TARGET_PSRAM0 = 1u << 1,
    NM_VMAP_TARGET_ALL_ = 0x3,
};

/* Buses (mmu_vaddr_t): how a region can be seen. */
enum {
    NM_VMAP_BUS_DATA = 1u << 0,
    NM_VMAP_BUS_INSTR = 1u << 1,
};

/* Map flags (ESP_MMU_MMAP_FLAG_*). */
enum {
    /* Allow a physical range that partly overlaps one already mapped (an
     * alias). A range wholly inside one already mapped is still
     * NM_VMAP_ERR_INVALID_STATE. */
    NM_VMAP_FLAG_PADDR_SHARED = 1u << 0,
};

/* ESP-IDF's error names, as natmod error codes (nm_vmap_esp_err converts). */
#define NM_VMAP_ERR_INVALID_ARG NM_ERR_INVAL
#define NM_VMAP_ERR_NOT_SUPPORTED NM_ERR_UNSUPPORTED
#define NM_VMAP_ERR_NOT_FOUND NM_ERR_NOENT
#define NM_VMAP_ERR_NO_MEM NM_ERR_NOMEM
#define NM_VMAP_ERR_INVALID_STATE NM_ERR_BUSY
#define NM_VMAP_ERR_FAIL NM_ERR_IO /* the back-end could not map (host mmap failed) */

/* The esp_err_t value of a vmap result (ESP_OK 0, ESP_FAIL -1,
 * ESP_ERR_NO_MEM 0x101, INVALID_ARG 0x102, INVALID_STATE 0x103,
 * NOT_FOUND 0x105, NOT_SUPPORTED 0x106), for an ESP-IDF shim. */
int nm_vmap_esp_err(int err);

#define NM_VMAP_MAX_REGIONS 8

/* A region of linear address space, described by the caller. laddr_start
 * and laddr_end are multiples of the page size. Its pages are seen at
 * ibus_base + laddr on the instruction bus (if buses has NM_VMAP_BUS_INSTR)
 * and at dbus_base + laddr on the data bus (NM_VMAP_BUS_DATA). A block
 * with EXEC is reported at its instruction address, any other at its data
 * address (ESP-IDF's rule), so an EXEC region needs the instruction bus and
 * a READ/WRITE region the data bus. Regions do not overlap in linear space
 * unless they share a page table the back-end keeps apart. */
typedef struct nm_vmap_region {
    const char *name; /* for the dump and for messages: "IRAM0" */
    uintptr_t laddr_start, laddr_end;
    unsigned caps;    /* NM_VMAP_CAP_* the region's pages can have */
    unsigned targets; /* NM_VMAP_TARGET_* it can show */
    unsigned buses;   /* NM_VMAP_BUS_* */
    uintptr_t ibus_base, dbus_base;
} nm_vmap_region_t;

/* A startup reservation: pages the firmware mapped before the map manager
 * ran (its own text and rodata). [vaddr, vaddr + size), rounded outwards
 * to pages, lies on one bus of one region; it is never handed out, never
 * unmapped, and map_at refuses it with INVALID_ARG. If target is non-zero
 * the reservation shows [paddr, ...) of that target and the queries report
 * it; it is never an "already mapped" range for map (as in ESP-IDF). */
typedef struct nm_vmap_reserve {
    uintptr_t vaddr;
    size_t size;
    uint64_t paddr;
    unsigned target; /* 0: unknown */
} nm_vmap_reserve_t;

/* One mapping. The pool the caller hands to nm_vmap_init is an array of
 * these; each live block and each reservation takes one. Private fields. */
typedef struct nm_vmap_block {
    struct nm_vmap_block *next;
    uintptr_t laddr;
    size_t size;
    uint64_t paddr;
    uint8_t region, target, caps, flags;
} nm_vmap_block_t;

/* The hardware: change page-table entries. Both run under the map's lock.
 * map points the pages of [laddr, laddr + size) in region r at target
 * memory from paddr, with the access caps allows (the page table may
 * ignore caps). It returns 0, or a negative error with nothing mapped (the
 * models never fail; the host can). unmap makes those pages invalid again
 * and cannot fail. invalidate (may be NULL) drops cached contents of a
 * virtual range after either. */
typedef struct nm_vmap_backend {
    int (*map)(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr, size_t size,
               unsigned target, unsigned caps);
    void (*unmap)(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size);
    void (*invalidate)(void *ctx, uintptr_t vaddr, size_t size);
} nm_vmap_backend_t;

typedef struct nm_vmap_config {
    size_t page_size; /* a power of two: 0x10000 on ESP32, the OS page on the host */
    const nm_vmap_region_t *regions; /* searched in this order; copied by init */
    unsigned n_regions;              /* 1..NM_VMAP_MAX_REGIONS */
    const nm_vmap_reserve_t *reserved;
    unsigned n_reserved;
    /* Targets this chip can map at all; a request for another is
     * NOT_SUPPORTED (PSRAM0 on ESP32). 0: every target some region names. */
    unsigned supported_targets;
    /* Physical size per target (index 0 FLASH0, 1 PSRAM0); a request
     * reaching past it is INVALID_ARG. 0: no limit. */
    uint64_t target_size[2];
    nm_vmap_block_t *pool;
    unsigned pool_len;
    const nm_vmap_backend_t *backend;
    void *backend_ctx;
    void (*lock)(void *ctx); /* both or neither */
    void (*unlock)(void *ctx);
    void *lock_ctx;
} nm_vmap_config_t;

typedef struct nm_vmap {
    nm_vmap_config_t cfg;
    nm_vmap_region_t region[NM_VMAP_MAX_REGIONS];
    nm_vmap_block_t *head[NM_VMAP_MAX_REGIONS]; /* blocks by laddr, reservations included */
    size_t max_free[NM_VMAP_MAX_REGIONS];       /* largest free stretch, exact */
    nm_vmap_block_t *free;                      /* unused pool blocks */
    unsigned n_live;                            /* blocks, reservations excluded */
} nm_vmap_t;

/* Check the configuration (page size, regions on pages and apart,
 * reservations inside a region and not overlapping, pool large enough for
 * them) and set up an empty map with the reservations in place. The
 * back-end is not called for reservations: the firmware mapped them.
 * NM_ERR_INVAL with a detail naming the region or reservation. */
int nm_vmap_init(nm_vmap_t *vm, const nm_vmap_config_t *cfg, nm_detail_t *d);

/* Map [paddr, paddr + size) of target with caps; *out receives the
 * virtual address. The first region (in cfg order) whose caps and targets
 * cover the request, that has the bus the caps imply (instruction for
 * EXEC, data otherwise: an instruction-only region never takes a request
 * without EXEC) and has a free stretch of the rounded size takes it, at
 * the lowest such address. Checks, in this order (ESP-IDF's, with
 * natmod's additions marked +):
 *   INVALID_ARG    out NULL; + target 0, not one bit, or unknown
 *   NOT_SUPPORTED  target not in supported_targets
 *   INVALID_ARG    paddr not on a page; EXEC with WRITE or 8BIT;
 *                  + caps 0 or unknown bits; + size 0; + size or
 *                  paddr + size overflowing or past target_size
 *   NOT_FOUND      no matching region with room
 *   INVALID_STATE  a block of that region and target already maps the
 *                  whole range (the lowest such block, whatever its caps):
 *                  *out = its address + the offset, on the bus the
 *                  request's caps imply where the region has that bus
 *                  (ESP-IDF gives the block's own bus; they differ only
 *                  on a two-bus region like the ESP32-S3's)
 *   INVALID_ARG    the range partly overlaps a mapped one (unless
 *                  NM_VMAP_FLAG_PADDR_SHARED)
 *   NO_MEM         the pool is empty
 *   FAIL           the back-end refused (nothing changed)
 * size is rounded up to the page. */
int nm_vmap_map(nm_vmap_t *vm, uint64_t paddr, size_t size, unsigned target, unsigned caps,
                unsigned flags, uintptr_t *out, nm_detail_t *d);

/* The same at a virtual address the caller chooses (on a page, on the bus
 * its caps imply: instruction for EXEC, data otherwise). After map's
 * argument checks:
 *   INVALID_ARG    vaddr not on a page, or on the other bus of a region
 *                  (a data address for EXEC, an instruction one otherwise)
 *   NOT_FOUND      vaddr outside every region, in a region whose caps or
 *                  targets do not cover the request, or running past its end
 *   INVALID_ARG    any page of it reserved
 *   INVALID_STATE  the physical range is already mapped whole, as in map
 *                  (this wins over the address being taken)
 *   INVALID_ARG    partial physical overlap, as in map
 *   NOT_FOUND      any page of it already mapped
 *   NO_MEM, FAIL   as in map
 * On success *out = vaddr. */
int nm_vmap_map_at(nm_vmap_t *vm, uintptr_t vaddr, uint64_t paddr, size_t size, unsigned target,
                   unsigned caps, unsigned flags, uintptr_t *out, nm_detail_t *d);

/* ESP-IDF 6.1's esp_mmu_map_virt, same arguments in the same order, so
 * code written for it ports by renaming. out may be NULL. vaddr 0 means
 * "choose": exactly nm_vmap_map (an address 0 inside a region cannot be
 * asked for here; use map_at). Otherwise the map goes at vaddr, checked in
 * ESP-IDF's order (natmod's additions marked +):
 *   INVALID_ARG    + vm NULL; + target 0, not one bit, or unknown
 *   NOT_SUPPORTED  target not in supported_targets
 *   INVALID_ARG    paddr not on a page; vaddr not on a page; EXEC with
 *                  WRITE or 8BIT; + caps 0 or unknown; + size 0, overflow
 *                  or past target_size
 *   NOT_FOUND      no region (in order) whose caps and targets cover the
 *                  request, with a free stretch of the rounded size, holds
 *                  [vaddr, vaddr + size) on either of its buses; or a page
 *                  of it is mapped (reservations do not count here)
 *   INVALID_STATE  the physical range is already mapped whole, as in map
 *                  (*out, if out is not NULL, = that block's address)
 *   INVALID_ARG    partial physical overlap, as in map
 *   NO_MEM         the pool is empty
 *   INVALID_ARG    vaddr on the other bus (a data address for EXEC, an
 *                  instruction one otherwise)
 *   INVALID_ARG    a page of it reserved
 *   FAIL           the back-end refused (nothing changed)
 * On success *out (if out is not NULL) = vaddr. */
int nm_vmap_map_virt(nm_vmap_t *vm, uintptr_t vaddr, uint64_t paddr, size_t size, unsigned target,
                     unsigned caps, unsigned flags, uintptr_t *out, nm_detail_t *d);

/* Unmap the block that starts at vaddr (either bus's address of it).
 * INVALID_ARG for 0; NOT_FOUND for an address that is not the start of a
 * block: an interior pointer, a reservation, a second unmap. The range is
 * free for the next map at once. */
int nm_vmap_unmap(nm_vmap_t *vm, uintptr_t vaddr, nm_detail_t *d);

/* Which physical page a virtual address shows. INVALID_ARG if vaddr lies
 * in no region's bus view (or an out is NULL), NOT_FOUND if unmapped,
 * also in a region no block can use (ESP32's PSRAM window, where ESP-IDF
 * asserts). */
int nm_vmap_vaddr_to_paddr(nm_vmap_t *vm, uintptr_t vaddr, uint64_t *paddr, unsigned *target);

/* The lowest virtual address on bus (one NM_VMAP_BUS_*) that shows
 * paddr of target, from the blocks: NOT_FOUND if none, also for a paddr
 * no block could show; INVALID_ARG for a bad bus/target. (ESP-IDF scans
 * the page table and converts the first matching entry, so on ESP32 it
 * says NOT_FOUND for the instruction bus when DROM0 shows the page too,
 * and asserts for a paddr past the MMU's range.) */
int nm_vmap_paddr_to_vaddr(nm_vmap_t *vm, uint64_t paddr, unsigned target, unsigned bus,
                           uintptr_t *vaddr);

/* The caps of a block mapping paddr of target: of the last region (cfg
 * order) that has one, its lowest such block, as ESP-IDF answers (on
 * ESP32 a page shown by IRAM0 and DROM0 answers with DROM0's block).
 * NOT_FOUND if none; INVALID_ARG for a bad target. A
 * reservation's caps: the region's caps within EXEC|READ|32BIT on the
 * instruction bus, within READ|32BIT|8BIT on the data bus. (ESP-IDF's esp_mmu_paddr_find_caps takes
 * no target, so a PSRAM address could answer for flash; this one does.) */
int nm_vmap_paddr_caps(nm_vmap_t *vm, uint64_t paddr, unsigned target, unsigned *caps);

/* The largest free stretch, in bytes, of any region map could use for
 * (caps, target): caps and targets covered, and the bus caps imply (caps 0
 * imply data); exact after every operation. INVALID_ARG for EXEC with
 * WRITE or 8BIT, or out NULL. (ESP-IDF also counts regions without that
 * bus, whose space its map cannot use.) */
int nm_vmap_largest_free(nm_vmap_t *vm, unsigned caps, unsigned target, size_t *out);

/* Where nm_vmap_map would put size bytes (first fit), without mapping:
 * for a caller that wants a stretch larger than its first map_at (a module
 * slot: text, then RAM after it). NOT_FOUND if no room; the same argument
 * checks as map. The answer can be stale by the time map_at runs if other
 * threads map too: map_at then says NOT_FOUND and the caller looks again. */
int nm_vmap_find_free(nm_vmap_t *vm, size_t size, unsigned target, unsigned caps, uintptr_t *out);

/* One block as the queries and the dump see it. */
typedef struct nm_vmap_info {
    uintptr_t vaddr; /* on the bus its caps imply */
    size_t size;
    uint64_t paddr;
    unsigned target, caps;
    unsigned region;
    int reserved;
} nm_vmap_info_t;

/* Copy up to max blocks (reservations included), region by region, lowest
 * address first; returns how many there are in all. */
unsigned nm_vmap_blocks(nm_vmap_t *vm, nm_vmap_info_t *out, unsigned max);

/* Print the regions and their blocks, one line per call of emit (no
 * newline in line). Lines look like
 *   region 0 IRAM0 laddr 0x000d0000-0x00400000 caps X--32- targets F- largest free 0x2f0000
 *     0x400d0000-0x400f0000 -> flash 0x00010000 caps X--32- reserved
 */
void nm_vmap_dump(nm_vmap_t *vm, void (*emit)(void *ctx, const char *line), void *ctx);

#endif /* NATMOD_VMAP_H */
