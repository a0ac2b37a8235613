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
} nml_member_t;

/* Split an archive into its object members (symbol index and long-name
 * table skipped). *out is arena-allocated. */
int nml_ar_parse(const char *path, const uint8_t *data, size_t size, nml_arena_t *a,
                 nml_member_t **out, size_t *n, nml_err_t *e);
int nml_is_archive(const uint8_t *data, size_t size);

#endif /* NATMOD_LINK_AR_H */
