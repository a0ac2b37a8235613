/*
 * natmod inside MicroPython: the part of the component that needs no
 * MicroPython header (docs/micropython.md). modnatmod.c is the glue.
 *
 * What it does with the native code of an imported .mpy:
 *  - nm_mp_build turns MicroPython's unrelocated text, its relocation
 *    stream (py/persistentcode.c's format, docs/mpy.md) and the sizes of
 *    its RAM parts into an ordinary natmod slice: text; an RW region laid
 *    out as [rodata | bss | qstr table | object table]; PTR relocations to
 *    TEXT, RW or the import mp_fun_table; and one import per firmware
 *    function the module names (the NMFW table, docs/mpy.md).
 *  - nm_mp_place installs that slice into a natmod store (linked for its
 *    extent and a persistent RW slot) unless the store already holds it
 *    (same slice CRC), then loads it in place. The relocated bytes depend
 *    only on the slice, the extent, the RW slot and the firmware's export
 *    addresses, all of which survive a reset: a second import writes no
 *    flash.
 *  - nm_mp_relocate_ram does what MicroPython would have done, for the
 *    fallback (no region, store full, a relocation the slice cannot say).
 *
 * Freestanding C11; RAM is what nm_mp_t holds plus the caller's alloc.
 */
#ifndef NATMOD_MP_H
#define NATMOD_MP_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"
#include "natmod/loader.h"
#include "natmod/store.h"

#ifndef NM_MP_MAX_ENTRIES
#define NM_MP_MAX_ENTRIES 24 /* modules in the store, plus replaced-while-running ones */
#endif
#define NM_MP_MAX_PROG 256u
#define NM_MP_NMFW_MAGIC 0x57464D4Eu /* "NMFW": last word of a text that has a firmware import table */

/* The board's reserved flash: memory-mapped at base (read through the
 * bus), erased and programmed through the callbacks. off is from base. */
typedef struct nm_mp_flash {
    uintptr_t base;
    uint32_t size;       /* bytes; a multiple of block_size */
    uint32_t block_size; /* erase unit, a power of two */
    uint32_t prog_size;  /* program unit, a power of two <= NM_MP_MAX_PROG */
    void *context;
    int (*erase)(void *context, uint32_t off);                          /* 0 or < 0 */
    int (*prog)(void *context, uint32_t off, const void *p, uint32_t n); /* 0 or < 0 */
    void (*flush)(void *context, void *addr, size_t len); /* make code fetchable; NULL */
} nm_mp_flash_t;

/* What MicroPython hands over at MP_PLAT_COMMIT_EXEC for one native raw code. */
typedef struct nm_mp_code {
    const char *name;       /* module name, for the store entry */
    const uint8_t *text;    /* unrelocated machine code */
    uint32_t text_size;
    const uint8_t *relocs;  /* the relocation stream, 0xff-terminated */
    uint32_t relocs_size;
    const uint8_t *rodata;  /* rodata_size bytes (NULL if none) */
    uint32_t rodata_size;
    uint32_t bss_size;
    uint32_t qstr_size;     /* bytes of the module's qstr table */
    uint32_t obj_size;      /* bytes of its object table */
    uint8_t word;           /* sizeof(uintptr_t): 4 or 8 */
    /* mp_fun_table's entries (fun_table_n of them): a relocation to an
     * entry's value (op >= 9) gets that value written into the slice, a
     * firmware constant like the rest of the slice (NULL: refused). */
    const uintptr_t *fun_table;
    uint32_t fun_table_n;
} nm_mp_code_t;

/* Where the RAM parts live: nm_mp_rw_layout, the same for both paths. */
typedef struct nm_mp_layout {
    uint32_t rodata, bss, qstr, obj, size; /* offsets in RW, and its size */
} nm_mp_layout_t;

typedef struct nm_mp_stats {
    uint32_t prog_calls, prog_bytes, erase_calls; /* flash traffic since init */
    uint32_t installs;  /* imports that wrote a new or changed module */
    uint32_t reuses;    /* imports that found the module installed as it is */
    uint32_t fallbacks; /* imports that ran from RAM */
} nm_mp_stats_t;

typedef struct nm_mp {
    nm_mp_flash_t flash;
    nm_store_config_t scfg;
    nm_loader_config_t lcfg;
    nm_store_t store;
    nm_store_entry_t entries[NM_MP_MAX_ENTRIES];
    uint8_t buffer[NM_STORE_BUFFER_SIZE(NM_MP_MAX_PROG)];
    struct {
        uintptr_t addr;
        uint32_t size;
    } claims[NM_MP_MAX_ENTRIES]; /* RW slots in use this boot */
    nm_mp_stats_t st;
    void *(*alloc)(size_t size); /* scratch for nm_mp_place; NULL if none */
    void (*free)(void *p, size_t size);
    int ready; /* store mounted */
} nm_mp_t;

/* Mount the store on flash (formatting it only if no store is found
 * there), with RW slots in [rw_base, rw_base + rw_size). exports: the
 * firmware's table (sorted by hash, as nm-gen-exports writes it). */
int nm_mp_init(nm_mp_t *mp, const nm_mp_flash_t *flash, void *rw_base, uint32_t rw_size,
               uint8_t arch, uint8_t float_abi, const nm_export_t *exports, size_t n_exports,
               nm_detail_t *d);

/* Erase the store and mount it empty (refused while a module runs from it). */
int nm_mp_format(nm_mp_t *mp, nm_detail_t *d);

void nm_mp_rw_layout(const nm_mp_code_t *c, nm_mp_layout_t *out);

/* Bytes nm_mp_build needs for c (an upper bound), or 0 if c is malformed. */
size_t nm_mp_slice_bound(const nm_mp_code_t *c);

/* Write c as a slice into out (cap bytes, from nm_mp_slice_bound); *len its
 * size. NM_ERR_CORRUPT for a malformed stream or table (or an mp_fun_table
 * entry past fun_table_n), NM_ERR_UNSUPPORTED for a relocation to an entry's
 * value without c->fun_table. */
int nm_mp_build(const nm_mp_code_t *c, uint8_t arch, uint8_t float_abi, uint8_t *out, size_t cap,
                size_t *len, nm_detail_t *d);

/* Each firmware function c's text names: NM_OK if the export table has
 * all of them, else NM_ERR_NOSYM with the first missing name in d. */
int nm_mp_check_imports(const nm_mp_t *mp, const nm_mp_code_t *c, nm_detail_t *d);

/* Install (if the store does not hold this slice already) and load in
 * place. On NM_OK *text and *rw are the run-time addresses. Any error
 * means the caller should run the code from RAM (nm_mp_relocate_ram),
 * except NM_ERR_NOSYM, which must fail the import. */
int nm_mp_place(nm_mp_t *mp, const nm_mp_code_t *c, void **text, uint8_t **rw, nm_detail_t *d);

/* The fallback: relocate text (in RAM, at its own address) and rodata the
 * way MicroPython's loader does, against the given run-time bases, and
 * fill the firmware import slots from the export table (exports may be
 * NULL: then every slot stays 0 and NM_ERR_NOSYM names the first). */
typedef struct nm_mp_bases {
    uintptr_t text, rodata, bss, qstr, obj, fun_table;
} nm_mp_bases_t;
int nm_mp_relocate_ram(const nm_mp_code_t *c, uint8_t *text, uint8_t *rodata,
                       const nm_mp_bases_t *b, const nm_export_t *exports, size_t n_exports,
                       nm_detail_t *d);

/* The firmware import table of a text (docs/mpy.md): 0 if there is none,
 * 1 with *n set, or NM_ERR_CORRUPT. nm_mp_import_at gives entry i. */
int nm_mp_imports(const uint8_t *text, uint32_t size, uint32_t *n);
int nm_mp_import_at(const uint8_t *text, uint32_t size, uint32_t i, uint32_t *slot, const char **name);

#endif /* NATMOD_MP_H */
