/*
 * The public loader calls: run the phases in order, flush, then hand control
 * to the module's init. Everything that can refuse a module runs before any
 * module code does.
 */
#include <string.h>

#include "loader/loader_internal.h"

/* The descriptor is the loader's whole per-module RAM: keep it small. */
_Static_assert(sizeof(void *) != 8 || sizeof(nm_module_t) <= 64, "nm_module_t grew past 64 bytes");

/* Turns a module address into a function pointer. Object and function
 * pointers are not interchangeable in ISO C, so go through uintptr_t; on
 * Thumb the export value already carries bit 0. */
static void *region_addr(const nm_module_t *m, const nm_export_info_t *e) {
    return (e->region == NM_REGION_TEXT ? m->text : m->rw) + e->value;
}

static int export_at(const nm_module_t *m, uint32_t idx, nm_image_t *img, nm_export_info_t *e) {
    int rc = nm_image_parse_header(m->image, m->image_size, img, NULL);
    return rc != NM_OK ? rc : nm_image_export(img, idx, e);
}

int nm_load(const nm_loader_config_t *cfg, nm_module_t *m, const void *buf, size_t len,
            nm_detail_t *d) {
    if (!cfg || !m || (!buf && len) || !cfg->alloc_cb || !cfg->free_cb) {
        nm_detail_set(d, "nm_load: NULL config, module, buffer or callback");
        return NM_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    nm_image_t img;
    int rc = nmld_verify(cfg, buf, len, &img, d);
    if (rc == NM_OK) {
        rc = nm_trust_check(cfg, &img, d);
    }
    if (rc == NM_OK) {
        rc = nmld_resolve(cfg, &img, d);
    }
    if (rc == NM_OK) {
        rc = nmld_place(cfg, &img, m, d);
    }
    if (rc != NM_OK) {
        memset(m, 0, sizeof *m);
        return rc;
    }
    rc = nmld_reloc(cfg, &img, m, d);
    if (rc != NM_OK) {
        nmld_release(m);
        memset(m, 0, sizeof *m);
        return rc;
    }
    if (cfg->flush_cb) {
        if (m->one_block) {
            cfg->flush_cb(cfg->context, m->text,
                          (size_t)img.rw_offset + img.data_size + img.bss_size);
        } else {
            cfg->flush_cb(cfg->context, m->text, img.text_size);
        }
    }
    return nmld_start(m, &img, d);
}

int nmld_start(nm_module_t *m, const nm_image_t *img, nm_detail_t *d) {
    m->state = 1;
    if (img->init_idx != NM_NO_INDEX) {
        nm_export_info_t e;
        nm_image_export(img, img->init_idx, &e); /* kind and region checked by the parse */
        nm_init_fn init = (nm_init_fn)(uintptr_t)region_addr(m, &e);
        int r = init();
        if (r != 0) {
            /* init failed: the module never came up, so deinit is not run. */
            nmld_release(m);
            memset(m, 0, sizeof *m);
            nm_detail_set(d, "init of module '");
            nm_detail_cat(d, img->strtab);
            nm_detail_cat(d, "' returned ");
            if (r < 0) {
                nm_detail_cat(d, "-");
                nm_detail_dec(d, 0u - (uint32_t)r);
            } else {
                nm_detail_dec(d, (uint32_t)r);
            }
            return NM_ERR_INIT;
        }
    }
    nm_detail_set(d, "");
    return NM_OK;
}

int nm_module_sym(const nm_module_t *m, const char *name, void **addr, nm_detail_t *d) {
    if (!m || !name || !addr || m->state != 1) {
        nm_detail_set(d, "nm_module_sym: module not loaded or NULL argument");
        return NM_ERR_INVAL;
    }
    *addr = NULL;
    nm_image_t img;
    int rc = nm_image_parse_header(m->image, m->image_size, &img, d);
    if (rc != NM_OK) {
        return rc; /* the caller changed the image under a loaded module */
    }
    for (uint32_t i = 0; i < img.n_exports; i++) {
        nm_export_info_t e;
        if (nm_image_export(&img, i, &e) == NM_OK && nmld_name_eq(e.name, name)) {
            *addr = region_addr(m, &e);
            return NM_OK;
        }
    }
    nm_detail_set(d, "module '");
    nm_detail_cat(d, img.strtab);
    nm_detail_cat(d, "' has no export '");
    nm_detail_cat(d, name);
    nm_detail_cat(d, "'");
    return NM_ERR_NOENT;
}

int nm_unload(nm_module_t *m) {
    if (!m || m->state != 1) {
        return NM_ERR_INVAL;
    }
    int rc = NM_OK;
    if (m->deinit_idx != NM_NO_INDEX) {
        nm_image_t img;
        nm_export_info_t e;
        rc = export_at(m, m->deinit_idx, &img, &e);
        if (rc == NM_OK) {
            nm_deinit_fn deinit = (nm_deinit_fn)(uintptr_t)region_addr(m, &e);
            deinit();
        }
        /* else: the image was changed while loaded; still free the regions. */
    }
    nmld_release(m);
    memset(m, 0, sizeof *m);
    return rc;
}
