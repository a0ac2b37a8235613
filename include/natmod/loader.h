/*
 * The natmod runtime loader (target side, freestanding C11).
 *
 * Contract: no malloc (memory comes from the callbacks in nm_loader_config),
 * nothing from libc beyond memcpy/memset, no recursion. A module that fails
 * any check is refused before any of its code runs.
 *
 * Phases (one file each in src/loader): verify.c (image + arch checks),
 * resolve.c (every import against the firmware export table), place.c
 * (allocate and copy regions), reloc.c (apply the relocation stream), and
 * loader.c (the public calls below).
 */
#ifndef NATMOD_LOADER_H
#define NATMOD_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/abi.h"
#include "natmod/error.h"
#include "natmod/format.h"

/* One firmware export. A table of these, sorted by ascending hash with no
 * two equal hashes, is what the firmware export build step generates. */
typedef struct nm_export {
    uint32_t hash;    /* nm_hash(name) */
    const char *name; /* confirmed on lookup, so a hash match alone never binds */
    const void *addr; /* Thumb functions carry bit 0 */
} nm_export_t;

/* Kinds of memory the loader asks for. */
enum nm_mem_kind {
    NM_MEM_TEXT = 0, /* executable; written by the loader, then flushed */
    NM_MEM_RW = 1,   /* data + bss (+ GOT) */
    NM_MEM_IMAGE = 2, /* RW_PCREL modules in RAM mode: text + RW in one block */
};

/* Caller-owned configuration, zeroed for defaults (littlefs style). */
typedef struct nm_loader_config {
    uint8_t arch;      /* the board's enum nm_arch */
    uint8_t float_abi; /* the board's enum nm_float_abi */
    const nm_export_t *exports; /* sorted by hash */
    size_t n_exports;
    /* Allocate size bytes aligned to align (a power of two) for kind; NULL if none. */
    void *(*alloc_cb)(void *context, size_t size, size_t align, unsigned kind);
    /* Free what alloc_cb returned (same kind). */
    void (*free_cb)(void *context, void *ptr, unsigned kind);
    /* Make [addr, addr+len) coherent for instruction fetch; NULL if not needed. */
    void (*flush_cb)(void *context, void *addr, size_t len);
    void *context;
} nm_loader_config_t;

/* A loaded module. The caller allocates it (statically if it likes); it is the
 * loader's whole per-module RAM besides the module's own regions. The image
 * passed to nm_load must stay readable while the module is loaded (export
 * names are read from it, not copied). */
typedef struct nm_module {
    const nm_loader_config_t *cfg;
    const uint8_t *image; /* the validated slice */
    uint8_t *text;        /* run-time TEXT base */
    uint8_t *rw;          /* run-time RW base */
    uint32_t image_size;
    uint16_t n_exports;
    uint16_t deinit_idx;
    uint8_t state;        /* 0 free, 1 loaded */
    uint8_t one_block;    /* text and RW came from one NM_MEM_IMAGE allocation */
} nm_module_t;

/* Verify, resolve, place, relocate, flush, then run init. buf may be a
 * single slice or a universal container (the board's slice is chosen).
 * On failure nothing stays allocated and *m is left unloaded. */
int nm_load(const nm_loader_config_t *cfg, nm_module_t *m, const void *buf, size_t len,
            nm_detail_t *detail);

/* Address of the export called name (functions callable as-is). */
int nm_module_sym(const nm_module_t *m, const char *name, void **addr, nm_detail_t *detail);

/* Run deinit (if any), free the regions, mark *m unloaded. */
int nm_unload(nm_module_t *m);

/* Binary search of the firmware export table by hash, confirming the name. */
const nm_export_t *nm_export_find(const nm_export_t *table, size_t n, const char *name);

/* Module entry points' C types. init returns 0 on success. */
typedef int (*nm_init_fn)(void);
typedef void (*nm_deinit_fn)(void);

#endif /* NATMOD_LOADER_H */
