/*
 * Host-side .nmod writer: serialises a linked module into a slice, and slices
 * into a universal container. Host only (uses malloc). The layout it writes is
 * described in include/natmod/format.h and docs/format.md.
 */
#ifndef NATMOD_FORMAT_WRITER_H
#define NATMOD_FORMAT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/format.h"

typedef struct nm_wexport {
    const char *name;
    uint32_t value; /* offset in region; Thumb functions carry bit 0 */
    uint8_t region; /* enum nm_region */
    uint8_t kind;   /* enum nm_export_kind */
} nm_wexport_t;

/* Everything a back-end needs to write one slice. The linker core fills it. */
typedef struct nm_wmodule {
    uint8_t arch, float_abi;
    uint32_t flags;
    const char *name; /* module name, stored at string-table offset 0 */
    const uint8_t *text;
    uint32_t text_size;
    const uint8_t *data; /* initialised RW image incl. the GOT */
    uint32_t data_size;
    uint32_t bss_size;
    uint32_t rw_offset;  /* link-time text->RW distance */
    uint32_t got_offset; /* inside RW */
    uint16_t got_count;
    uint8_t text_align_log2, rw_align_log2;
    const nm_reloc_t *relocs; /* any order; the writer sorts by site */
    uint32_t n_relocs;
    const char *const *imports; /* names; reloc target NM_TARGET_IMPORT0 + i */
    uint16_t n_imports;
    const nm_wexport_t *exports;
    uint16_t n_exports;
    uint16_t init_idx, deinit_idx; /* export index or NM_NO_INDEX */
} nm_wmodule_t;

/* Serialise one slice. On success *out is malloc'd (caller frees). Rejects a
 * module that the reader would reject (duplicate reloc sites, sites outside
 * text/data, too many entries) with NM_ERR_* and a detail. */
int nm_write_image(const nm_wmodule_t *m, uint8_t **out, size_t *out_len, nm_detail_t *detail);

/* Build a universal container from n complete slices (each already valid).
 * Two slices with the same (arch, float ABI) are refused (NM_ERR_DUP). */
int nm_write_universal(const uint8_t *const *slices, const size_t *lens, unsigned n,
                       uint8_t **out, size_t *out_len, nm_detail_t *detail);

#endif /* NATMOD_FORMAT_WRITER_H */
