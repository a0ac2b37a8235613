/*
 * The natmod module store: a flash partition that holds installed modules,
 * each as one contiguous, aligned extent that can execute in place.
 * docs/store.md is the normative description of the on-flash layout and the
 * commit protocol; this header is the API contract.
 *
 * Freestanding C11: no malloc, no recursion, RAM bounded by what the caller
 * hands over in nm_store_config (entries[], buffer[]). Every flash access
 * goes through the block-device callbacks below.
 *
 * Power-loss safety: every operation (format, install, replace, remove,
 * defragment) has exactly one commit point, the program of one metadata
 * record (or, for a metadata compaction, of one END record). A power cut
 * before it leaves the store as it was; after it, the operation is done.
 * Nothing that was committed is erased or programmed before a later commit
 * has made it unreachable.
 *
 * Pinning: a module that is loaded (running in place) is pinned. Removing a
 * pinned module is refused (NM_ERR_BUSY). Replacing a pinned module is
 * allowed: the new version is committed, the running one keeps its extent
 * and RW slot reserved (in RAM) until it is unpinned. Defragmentation never
 * moves a pinned extent.
 */
#ifndef NATMOD_STORE_H
#define NATMOD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"
#include "natmod/loader.h"

#define NM_STORE_VERSION 1
#define NM_STORE_NAME_MAX 23 /* bytes of a module name, NUL excluded */
#define NM_STORE_REC_SIZE 64 /* a metadata record before rounding up to prog_size */
#define NM_STORE_MAX_PROG 4096u
/* Bytes of config.buffer the store needs for a program size. */
#define NM_STORE_UNIT(prog) ((prog) > NM_STORE_REC_SIZE ? (prog) : NM_STORE_REC_SIZE)
#define NM_STORE_BUFFER_SIZE(prog) (3u * NM_STORE_UNIT(prog))

struct nm_store_config;

/* Block device contract (littlefs style). Each returns 0 or a negative
 * NM_ERR_* (NM_ERR_IO for a device failure, including power loss).
 *  read:  size bytes at (block, off) into buf.
 *  prog:  program size bytes at (block, off); off and size are multiples of
 *         prog_size, and every byte programmed is erased (0xFF) before: the
 *         store never programs a byte twice between erases.
 *  erase: set every byte of block to 0xFF.
 *  sync:  every prog and erase issued before has completed (durable). The
 *         store calls it before and after each commit record; a device that
 *         completes in order may leave it NULL. */
typedef int (*nm_bd_read_fn)(const struct nm_store_config *c, uint32_t block, uint32_t off,
                             void *buf, uint32_t size);
typedef int (*nm_bd_prog_fn)(const struct nm_store_config *c, uint32_t block, uint32_t off,
                             const void *buf, uint32_t size);
typedef int (*nm_bd_erase_fn)(const struct nm_store_config *c, uint32_t block);
typedef int (*nm_bd_sync_fn)(const struct nm_store_config *c);

/* One installed module, as the store keeps it in RAM. */
typedef struct nm_store_entry {
    char name[NM_STORE_NAME_MAX + 1];
    uint32_t start;    /* first block of the extent */
    uint32_t n_blocks; /* blocks of the extent */
    uint32_t size;     /* image bytes (<= n_blocks * block_size) */
    uint32_t crc;      /* the image header's crc32 (covers the whole image) */
    uint32_t src_crc;  /* crc32 of the slice it was installed from */
    uint32_t meta_crc; /* with NM_STORE_F_VERIFIED: nm_image_meta_crc of the image (all but
                          text) when its whole CRC was last checked; loads compare it */
    uint32_t rw_addr;  /* linked installs: the module's RW slot; else 0 */
    uint32_t rw_size;  /* data + bss bytes at rw_addr */
    uint32_t seq;      /* the metadata record that installed it */
    uint8_t arch, float_abi;
    uint8_t state;     /* enum nm_store_entry_state */
    uint8_t flags;     /* NM_STORE_F_* */
    uint16_t pins;     /* loads in progress or running */
} nm_store_entry_t;

enum nm_store_entry_state {
    NM_STORE_FREE = 0,   /* unused slot of entries[] */
    NM_STORE_LIVE = 1,   /* installed: listed and loadable */
    NM_STORE_ZOMBIE = 2, /* replaced while pinned: not listed; extent and RW slot reserved
                            until the last unpin (RAM only: gone after a reboot) */
};

enum nm_store_entry_flags {
    NM_STORE_F_VERIFIED = 1u << 0, /* whole CRC checked since mount (install, move, check, first
                                      pin); meta_crc recorded then. RAM only: a mount clears it */
    NM_STORE_F_DAMAGED = 1u << 1,  /* header or contents do not match the record: never loaded */
    NM_STORE_F_LINKED = 1u << 2,   /* installed by install-time linking (NM_FLAG_XIP_LINKED) */
};

/* Caller-owned configuration, zeroed for defaults. Must outlive the store. */
typedef struct nm_store_config {
    void *context; /* for the callbacks */
    nm_bd_read_fn read;
    nm_bd_prog_fn prog;
    nm_bd_erase_fn erase;
    nm_bd_sync_fn sync; /* NULL: in-order device */
    /* Geometry: powers of two, prog_size <= NM_STORE_MAX_PROG and divides block_size. */
    uint32_t block_size;  /* erase unit */
    uint32_t prog_size;   /* program unit */
    uint32_t block_count; /* blocks in the partition */
    /* Extents start at a mapped address that is a multiple of align (power
     * of two; 0: block_size). E.g. 4096 on the host board, 65536 for an
     * ESP32 MMU page, the MPU region granularity on Cortex-M. Format
     * records it; a mount with 0 uses the recorded value. */
    uint32_t align;
    /* Address at which block 0 is memory-mapped (flash read through the
     * bus), or 0 if the board maps extents itself (MMU boards). Linked
     * installs link for map_base + start * block_size; nm_store_load
     * runs images from there. */
    uintptr_t map_base;
    /* Blocks per metadata area (there are two, at the end of the
     * partition); format and mount must agree. 0: enough blocks for 128
     * records per area (mount also finds a store formatted with another
     * count). An area holds at most area_slots - 4 modules. */
    uint32_t meta_blocks;
    /* Board: the slice to install (arch, float ABI) and, for linking,
     * the firmware exports. Required by install and load. */
    const nm_loader_config_t *loader;
    /* RAM for the RW regions of linked modules: [rw_base, rw_base +
     * rw_size). rw_size 0 selects copy mode: slices are stored as they
     * are, for boards whose MMU places RW after text (RW_PCREL modules
     * only). With rw_size > 0 every install is linked for its extent and
     * its slot (nm_xip_link), and defragmentation relinks what it moves. */
    uintptr_t rw_base;
    uint32_t rw_size;
    /* RAM the store may use: entries[max_entries] (one per installed
     * module, plus one per replaced-while-pinned module) and
     * NM_STORE_BUFFER_SIZE(prog_size) bytes of buffer. */
    nm_store_entry_t *entries;
    uint32_t max_entries;
    uint8_t *buffer;
    /* Optional, block_count counters: each block's lifetime erase count as
     * far as the store knows it. Mount loads it from the metadata (the
     * WEAR records of the last compaction plus one erase per block of every
     * INSTALL/MOVE logged since); the store adds every erase it issues, and
     * each compaction (and format) writes it back. It undercounts only the
     * erases of operations that never committed (docs/store.md 7b). With
     * it, defragmentation packs toward the less worn end; without it,
     * compactions carry the previous counts over unchanged. */
    uint32_t *erase_counts;
} nm_store_config_t;

/* The mounted store. Allocate it anywhere; fields are read-only to callers. */
typedef struct nm_store {
    const nm_store_config_t *cfg;
    uint32_t data_blocks;  /* extents live in blocks [0, data_blocks) */
    uint32_t meta_blocks;  /* per area; area a is at data_blocks + a * meta_blocks */
    uint32_t unit;         /* NM_STORE_UNIT(prog_size): record and staging size */
    uint32_t area_slots;   /* records per area */
    uint32_t align_blocks; /* extent alignment, in blocks (>= 1) */
    uint32_t align_skew;   /* first block whose mapped address is aligned */
    uint32_t generation;   /* of the active area */
    uint32_t seq;          /* last record sequence number used */
    uint32_t log_next;     /* next record slot of the active area */
    uint32_t skipped;      /* unusable slots right before log_next (torn records) */
    uint32_t cursor;       /* next-fit allocation starts here (wear levelling) */
    uint32_t bad_records;  /* damaged metadata records seen at mount */
    /* Wear (docs/store.md 7b): each area's snapshot carries wear_records
     * WEAR records, one erase count per group of 2^wear_shift blocks. */
    uint32_t wear_records;
    uint32_t wear_bad;     /* WEAR records at mount that were malformed: ignored (counts from 0) */
    uint8_t wear_shift;
    uint8_t defrag_up;     /* the defragmentation in progress packs toward the top (RAM) */
    uint8_t defrag_busy;   /* a defragmentation is in progress (budgeted calls) */
    uint8_t area;          /* active area, 0 or 1 */
    uint8_t mounted;
    uint8_t degraded;      /* metadata was damaged: blocks holding a valid image
                              that no record describes are never reused */
    /* install staging (see store.c) */
    uint32_t st_block, st_limit, st_fill, st_off;
    int st_err;
} nm_store_t;

typedef struct nm_store_stats {
    uint32_t block_size, block_count;
    uint32_t data_blocks, meta_blocks_total;
    uint32_t used_blocks, free_blocks;
    uint32_t largest_free;   /* blocks in the largest aligned free run */
    uint32_t n_modules;      /* live entries (= extents) */
    uint32_t n_pinned;       /* pinned extents, replaced-while-running ones included */
    uint32_t n_damaged, n_zombies;
    uint32_t used_bytes;     /* sum of live image sizes */
    uint32_t generation, seq;
    uint32_t log_used, log_slots; /* records in the active area, capacity */
    uint32_t bad_records;
    uint32_t rw_used, rw_size;
    uint32_t erase_max, erase_total; /* over erase_counts (0 if none) */
    uint32_t erase_max_block;        /* the (first) block with erase_max erases */
    uint32_t erase_data_max_milli;   /* data blocks: max / mean erase count x 1000 (0 if none) */
    uint32_t wear_records, wear_bad; /* WEAR records per area; malformed ones ignored at mount */
} nm_store_stats_t;

typedef struct nm_store_defrag_result {
    uint32_t moved_blocks; /* blocks copied this call */
    uint32_t moved_bytes;  /* image bytes copied this call */
    uint32_t moves;        /* extents moved this call */
    int done;              /* 1: nothing left that can move lower */
} nm_store_defrag_result_t;

/* Write an empty store and mount it: atomic over a store of the same
 * layout (a power cut leaves the old store or the new one). Data blocks
 * are not erased (install erases what it uses). NM_ERR_BUSY if s is this
 * config's mounted store and a module is pinned. */
int nm_store_format(nm_store_t *s, const nm_store_config_t *cfg, nm_detail_t *detail);

/* Read the newest intact metadata, rebuild the module table (linear in the
 * number of records), check each extent's header against its record.
 * Damage is reported (stats, NM_STORE_F_DAMAGED), not fatal: mount fails
 * only if no metadata area is intact (NM_ERR_CORRUPT), the geometry
 * differs (NM_ERR_INVAL), or entries[] is too small (NM_ERR_NOMEM). */
int nm_store_mount(nm_store_t *s, const nm_store_config_t *cfg, nm_detail_t *detail);

/* Install buf (a slice or a universal container: only the board's slice
 * is written) under name (NULL: the module's own name). Verifies CRC and
 * arch, allocates an aligned extent (next fit), writes it, reads it back,
 * then commits. An existing module of that name is replaced atomically. */
int nm_store_install(nm_store_t *s, const void *buf, size_t len, const char *name,
                     const nm_store_entry_t **out, nm_detail_t *detail);

/* Remove name. NM_ERR_NOENT if absent, NM_ERR_BUSY if pinned. */
int nm_store_remove(nm_store_t *s, const char *name, nm_detail_t *detail);

/* The live entry called name, or NULL. */
const nm_store_entry_t *nm_store_find(const nm_store_t *s, const char *name);

/* Live entries in ascending address order: pass *pos = 0 first; returns
 * NULL after the last. */
const nm_store_entry_t *nm_store_next(const nm_store_t *s, uint32_t *pos);

/* Offset of an entry's extent in the partition, and its mapped address. */
uint32_t nm_store_offset(const nm_store_t *s, const nm_store_entry_t *e);
uintptr_t nm_store_addr(const nm_store_t *s, const nm_store_entry_t *e);

/* Pin name for running in place: checks the whole extent's CRC (once per
 * mount: unless NM_STORE_F_VERIFIED), refuses a damaged one (NM_ERR_CRC),
 * counts the pin. */
int nm_store_pin(nm_store_t *s, const char *name, const nm_store_entry_t **out,
                 nm_detail_t *detail);
void nm_store_unpin(nm_store_t *s, const nm_store_entry_t *e);

/* Pin name and load it in place from map_base (needs map_base). Unpinned by
 * nm_store_unload, or at once if the load fails. The pin has checked the
 * whole CRC in this mount, so the load is nm_load_xip_verified with the
 * entry's meta_crc: it checks the header, the XIP record, the tables, the
 * data image and the imports bound into text, but not the CRC of the text
 * again (docs/store.md 6a). A flipped bit in text is caught by the first
 * pin after a mount and by nm_store_check. */
int nm_store_load(nm_store_t *s, const char *name, nm_module_t *m, nm_detail_t *detail);
int nm_store_unload(nm_store_t *s, nm_module_t *m);

/* Move unpinned extents toward one end so the free space gathers into one
 * run: down (toward block 0) or, with erase_counts, toward whichever end
 * is less worn unless that moves more than 9/8 the bytes (docs/store.md 7);
 * the direction holds until a call reports done. budget: at most this many
 * blocks copied (0: no limit); an extent is moved whole or not at all, each
 * move its own commit. */
int nm_store_defrag(nm_store_t *s, uint32_t budget, nm_store_defrag_result_t *r,
                    nm_detail_t *detail);

/* Re-read every live extent and check its CRC; marks damaged ones (and
 * clears NM_STORE_F_VERIFIED on them), verified the others. Returns the
 * number damaged (>= 0) or NM_ERR_*. A board that wants flash bit rot
 * found at boot calls it after nm_store_mount (cost: one CRC pass over
 * every installed byte). */
int nm_store_check(nm_store_t *s, nm_detail_t *detail);

void nm_store_stat(const nm_store_t *s, nm_store_stats_t *st);

/* ---- inspection: what each block of the partition holds ---- */

enum nm_store_block_kind {
    NM_STORE_BLOCK_FREE = 0,   /* data block that no extent holds */
    NM_STORE_BLOCK_KEPT = 1,   /* data block that no extent holds, but the store is degraded and
                                  the block starts a whole module image (magic, size, CRC):
                                  perhaps a module whose record was lost, so install and defrag
                                  do not reuse it */
    NM_STORE_BLOCK_MODULE = 2, /* in the extent of .entry */
    NM_STORE_BLOCK_META = 3,   /* in metadata area .area */
};

typedef struct nm_store_block_info {
    uint8_t kind;   /* enum nm_store_block_kind */
    uint8_t area;   /* META: 0 or 1 */
    uint8_t active; /* META: 1 if this is the area the store mounted from */
    /* MODULE: the entry whose extent holds the block (live, or replaced
     * while pinned); if damaged entries overlap, the newest record's. */
    const nm_store_entry_t *entry;
    uint32_t index; /* MODULE: block within the extent; META: block within the area */
    /* META: the record slots of this block by state: valid records; bad
     * (neither erased nor valid: damage, or an append torn by a power
     * cut); erased. */
    uint32_t slots_valid, slots_bad, slots_erased;
} nm_store_block_info_t;

/* Describe block (< block_count) of a mounted store, for a map or a report.
 * Changes nothing, on flash or in the table. Reads the block's record slots
 * (META) or, in a degraded store, a module image that starts there (to tell
 * KEPT from FREE), through config.buffer: so not during another call on
 * this store. Flags such as NM_STORE_F_DAMAGED are the entry's as
 * they are: call nm_store_check first to have every extent's CRC checked.
 * Erase counts are not part of it (see erase_counts and nm_store_stat).
 * Returns NM_OK; NM_ERR_INVAL if not mounted or block is out of range;
 * NM_ERR_IO if a read failed (kind, area and index are set; the slot
 * counts cover the slots read before the failure). */
int nm_store_block_info(const nm_store_t *s, uint32_t block, nm_store_block_info_t *out,
                        nm_detail_t *detail);

#endif /* NATMOD_STORE_H */
