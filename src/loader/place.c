/*
 * Phase 3: get memory from the firmware and lay the module out in it.
 * RW_PCREL modules reach RW PC-relatively, so RW must sit exactly rw_offset
 * after text: one NM_MEM_IMAGE block. Otherwise TEXT and RW are independent
 * allocations, which lets a firmware keep code and data in different RAMs.
 */
#include <string.h>

#include "loader/loader_internal.h"

/* Allocates at least one byte so a NULL return always means "refused". */
static void *take(const nm_loader_config_t *cfg, size_t size, size_t align, unsigned kind,
                  nm_detail_t *d) {
    void *p = cfg->alloc_cb(cfg->context, size ? size : 1, align, kind);
    if (!p) {
        nm_detail_set(d, kind == NM_MEM_TEXT ? "alloc_cb refused TEXT: " :
                         kind == NM_MEM_RW   ? "alloc_cb refused RW: "
                                             : "alloc_cb refused IMAGE: ");
        nm_detail_dec(d, (uint32_t)size);
        nm_detail_cat(d, " bytes aligned to ");
        nm_detail_dec(d, (uint32_t)align);
        return NULL;
    }
    if ((uintptr_t)p & (align - 1)) {
        /* The firmware broke its contract; refuse rather than run misaligned code. */
        cfg->free_cb(cfg->context, p, kind);
        nm_detail_set(d, "alloc_cb returned a block not aligned to ");
        nm_detail_dec(d, (uint32_t)align);
        return NULL;
    }
    return p;
}

int nmld_place(const nm_loader_config_t *cfg, const nm_image_t *img, nm_module_t *m, nm_detail_t *d) {
    size_t text_align = (size_t)1 << img->text_align_log2;
    size_t rw_align = (size_t)1 << img->rw_align_log2;
    size_t rw_size = (size_t)img->data_size + img->bss_size; /* fits: checked by the parse */
    m->cfg = cfg;
    m->image = img->base;
    m->image_size = img->image_size;
    m->n_exports = img->n_exports;
    m->deinit_idx = img->deinit_idx;
    if (img->flags & NM_FLAG_RW_PCREL) {
        size_t total = (size_t)img->rw_offset + rw_size;
        uint8_t *block = take(cfg, total, text_align > rw_align ? text_align : rw_align,
                              NM_MEM_IMAGE, d);
        if (!block) {
            return NM_ERR_NOMEM;
        }
        m->one_block = 1;
        m->text = block;
        m->rw = block + img->rw_offset;
        /* The gap between text and RW is zeroed so the block is deterministic. */
        memset(block + img->text_size, 0, img->rw_offset - img->text_size);
    } else {
        m->one_block = 0;
        m->text = take(cfg, img->text_size, text_align, NM_MEM_TEXT, d);
        if (!m->text) {
            return NM_ERR_NOMEM;
        }
        m->rw = take(cfg, rw_size, rw_align, NM_MEM_RW, d);
        if (!m->rw) {
            cfg->free_cb(cfg->context, m->text, NM_MEM_TEXT);
            m->text = NULL;
            return NM_ERR_NOMEM;
        }
    }
    memcpy(m->text, img->text, img->text_size);
    memcpy(m->rw, img->data, img->data_size);
    memset(m->rw + img->data_size, 0, img->bss_size);
    return NM_OK;
}

void nmld_release(nm_module_t *m) {
    const nm_loader_config_t *cfg = m->cfg;
    if (m->xip) {
        if (m->rw) {
            cfg->free_cb(cfg->context, m->rw, NM_MEM_RW); /* text stays in flash */
        }
    } else if (m->one_block) {
        if (m->text) {
            cfg->free_cb(cfg->context, m->text, NM_MEM_IMAGE);
        }
    } else {
        if (m->rw) {
            cfg->free_cb(cfg->context, m->rw, NM_MEM_RW);
        }
        if (m->text) {
            cfg->free_cb(cfg->context, m->text, NM_MEM_TEXT);
        }
    }
    m->text = NULL;
    m->rw = NULL;
    m->state = 0;
}
