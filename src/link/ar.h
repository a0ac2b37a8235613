/*
 * ar archives (GNU and BSD names): split into members (ar.c).
 */
#ifndef NATMOD_LINK_AR_H
#define NATMOD_LINK_AR_H

#include "link/util.h"

/* ---- ar archives (ar.c) ---- */

/* One member, decoded from its header by nml_ar_member. The name is not
 * copied: it points into the archive (the header, the "//" table or a BSD
 * name after the header); nml_ar_name makes a string of it. */
typedef struct nml_member {
    const uint8_t *data; /* the contents (a BSD name before them excluded) */
    size_t size;
    size_t hdr_off;      /* offset of the member's header: what the index names */
    const uint8_t *name; /* raw name bytes, name_max of them at most */
    size_t name_max;
    uint8_t name_kind;   /* NML_AR_NAME_*: where the name ends */
} nml_member_t;

enum {
    NML_AR_NAME_SHORT, /* 16 header bytes: trailing spaces, then one '/', dropped */
    NML_AR_NAME_LONG,  /* "//" table: ends at "\n", a NUL or "/\n" */
    NML_AR_NAME_BSD,   /* "#1/N": N bytes, trailing NULs dropped */
};

/* The GNU/SysV "/" symbol index, raw: big-endian u32 count, count u32
 * member-header offsets, then count NUL-terminated names. Absent: size 0. */
typedef struct nml_armap {
    const uint8_t *data;
    size_t size;
} nml_armap_t;

/* An archive split into members: only their header offsets, in file
 * order (libgcc.a has two thousand members and a link pulls a few). */
typedef struct nml_ar {
    const char *path;
    const uint8_t *data;
    size_t size;
    const uint8_t *longnames; /* the "//" table, NULL if none */
    size_t longnames_size;
    size_t *off; /* header offset of each object member (arena) */
    size_t n;
    nml_armap_t map; /* the first "/" index, raw (unvalidated: the core
                      * decodes it with bounds checks) */
} nml_ar_t;

/* Check every member header of an archive and record where the members
 * are (symbol indexes and the name table are not members). A bad header
 * fails, naming the archive and the offset. NM_OK or an NM_ERR_* in e. */
int nml_ar_parse(nml_ar_t *ar, const char *path, const uint8_t *data, size_t size, nml_arena_t *a, nml_err_t *e);
int nml_is_archive(const uint8_t *data, size_t size);

/* Member k (< ar->n) of a parsed archive: its header, decoded again
 * (nml_ar_parse checked it). */
void nml_ar_member(const nml_ar_t *ar, size_t k, nml_member_t *m);

/* The member's name, NUL-terminated in the arena (a NUL or newline in it
 * becomes '?'); with prefix non-NULL, "prefix(name)" as the linker names
 * archive members. NULL: out of memory. */
char *nml_ar_name(nml_arena_t *a, const char *prefix, const nml_member_t *m);

#endif /* NATMOD_LINK_AR_H */
