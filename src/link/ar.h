/*
 * ar archives (GNU and BSD names): split into members (ar.c).
 */
#ifndef NATMOD_LINK_AR_H
#define NATMOD_LINK_AR_H

#include "link/util.h"

/* ---- ar archives (ar.c) ---- */
typedef struct nml_member {
    const char *name; /* member name, NUL-terminated (arena) */
    const uint8_t *data;
    size_t size;
    size_t hdr_off; /* offset of the member's header: what the index names */
} nml_member_t;

/* The GNU/SysV "/" symbol index, raw: big-endian u32 count, count u32
 * member-header offsets, then count NUL-terminated names. Absent: size 0. */
typedef struct nml_armap {
    const uint8_t *data;
    size_t size;
} nml_armap_t;

/* Split an archive into its object members (long-name table resolved).
 * *out is arena-allocated; *map receives the raw symbol index if there is
 * one (unvalidated: the core decodes it with bounds checks). */
int nml_ar_parse(const char *path, const uint8_t *data, size_t size, nml_arena_t *a,
                 nml_member_t **out, size_t *n, nml_armap_t *map, nml_err_t *e);
int nml_is_archive(const uint8_t *data, size_t size);

#endif /* NATMOD_LINK_AR_H */
