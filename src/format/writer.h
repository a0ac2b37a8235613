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

/* The type an import was linked against (docs/format.md 2.3), from the
 * firmware symbol list: type_hash = nm_hash(proto), 0 if unknown; proto the
 * normalised prototype text or NULL. */
typedef struct nm_wimport_type {
    uint32_t type_hash;
    const char *proto;
} nm_wimport_type_t;

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
    /* NULL, or n_imports entries. The slice gets the import type table
     * (and NM_FLAG_IMPORT_TYPES) only if one of them has a type, so a
     * module linked without types is byte for byte what it was before. */
    const nm_wimport_type_t *import_types;
    const nm_wexport_t *exports;
    uint16_t n_exports;
    uint16_t init_idx, deinit_idx; /* export index or NM_NO_INDEX */
} nm_wmodule_t;

/* Serialise one slice. On success *out is malloc'd (caller frees). Rejects a
 * module that the reader would reject (duplicate reloc sites, sites outside
 * text/data, too many entries) with NM_ERR_* and a detail. */
int nm_write_image(const nm_wmodule_t *m, uint8_t **out, size_t *out_len, nm_detail_t *detail);

/* Give a slice a trailer (docs/format.md 2.2), replacing any it has: module
 * version, and, if key_id is non-NULL, the signed flag, that key id and an
 * all-zero signature for nm_slice_put_signature to fill once the message
 * (nm_sig_message) is signed. key_id NULL with version 0 removes the
 * trailer. The CRC is recomputed. Refuses an XIP-linked slice (its bytes
 * are no longer the ones built). *out is malloc'd. */
int nm_slice_set_trailer(const uint8_t *slice, size_t len, uint32_t version, const uint8_t *key_id,
                         uint8_t **out, size_t *out_len, nm_detail_t *detail);

/* Write a signature into a signed slice's trailer (in place) and update
 * its CRC. The slice must parse and be signed. */
int nm_slice_put_signature(uint8_t *slice, size_t len, const uint8_t sig[NM_SIG_SIZE], nm_detail_t *detail);

/* Build a universal container from n complete slices (each already valid).
 * Two slices with the same (arch, float ABI) are refused (NM_ERR_DUP). */
int nm_write_universal(const uint8_t *const *slices, const size_t *lens, unsigned n,
                       uint8_t **out, size_t *out_len, nm_detail_t *detail);

#endif /* NATMOD_FORMAT_WRITER_H */
