/*
 * Phase 2: bind every import by name against the firmware export table.
 * All imports are checked before anything is allocated, so a module with a
 * missing symbol is refused without side effects (and before any of its
 * code could run).
 */
#include "loader/loader_internal.h"

const nm_export_t *nm_export_find(const nm_export_t *table, size_t n, const char *name) {
    if (!table || !name) {
        return NULL;
    }
    uint32_t h = nm_hash(name);
    /* Lower bound of h: the table is sorted by hash. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    /* The firmware build refuses hash collisions, but a hash match alone
     * never binds: confirm the name (and tolerate equal hashes anyway). */
    for (size_t i = lo; i < n && table[i].hash == h; i++) {
        if (table[i].name && nmld_name_eq(table[i].name, name)) {
            return &table[i];
        }
    }
    return NULL;
}

const void *nmld_import_addr(const nm_loader_config_t *cfg, const nm_image_t *img, uint32_t i) {
    nm_import_info_t imp;
    if (nm_image_import(img, i, &imp) != NM_OK) {
        return NULL;
    }
    const nm_export_t *e = nm_export_find(cfg->exports, cfg->n_exports, imp.name);
    return e ? e->addr : NULL;
}

int nmld_resolve(const nm_loader_config_t *cfg, const nm_image_t *img, nm_detail_t *d) {
    for (uint32_t i = 0; i < img->n_imports; i++) {
        nm_import_info_t imp;
        if (nm_image_import(img, i, &imp) != NM_OK) {
            nm_detail_set(d, "import ");
            nm_detail_dec(d, i);
            nm_detail_cat(d, ": bad entry");
            return NM_ERR_CORRUPT;
        }
        if (!nm_export_find(cfg->exports, cfg->n_exports, imp.name)) {
            nm_detail_set(d, "undefined import '");
            nm_detail_cat(d, imp.name);
            nm_detail_cat(d, "' (hash ");
            nm_detail_hex(d, imp.hash);
            nm_detail_cat(d, "): the firmware does not export it");
            return NM_ERR_NOSYM;
        }
    }
    return NM_OK;
}
