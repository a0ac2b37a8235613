/*
 * Shared by the store tests, benchmark and fuzz target: test modules built
 * with the writer, an emulated device + store config for a geometry, and a
 * model of what the store must hold, checked byte for byte.
 */
#ifndef NATMOD_TEST_STORE_FIXTURE_H
#define NATMOD_TEST_STORE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/writer.h"
#include "natmod/store.h"
#include "store/bd_emu.h"

#ifndef SF_MAX_ENTRIES /* entries[] of an sf_store_t; define it before including to change it */
#define SF_MAX_ENTRIES 64
#endif

typedef struct sf_geom {
    const char *label;
    uint32_t block_size, prog_size, block_count, align, meta_blocks;
    int linked; /* install-time linking (Thumb modules, RW arena) */
} sf_geom_t;

/* A firmware export for linked modules: never called, only bound. */
static const nm_export_t sf_exports[] = {{0, "ext_fn", (const void *)(uintptr_t)0x08001235u, 0, NULL}};

typedef struct sf_store {
    nm_bd_emu_t emu;
    nm_store_config_t cfg;
    nm_store_t st;
    nm_loader_config_t lcfg;
    nm_export_t exports[1];
    nm_store_entry_t entries[SF_MAX_ENTRIES];
    uint8_t buffer[NM_STORE_BUFFER_SIZE(NM_STORE_MAX_PROG)];
    uint32_t rw_arena[1024]; /* a RAM arena below 4 GB is not needed: linked modules are never run here */
} sf_store_t;

static inline uint64_t sf_rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A module of about `size` bytes whose contents depend on seed. Copy mode:
 * x86-64 RW_PCREL, no text relocation. Linked: armv7m soft with TEXT, RW
 * and import relocations in text and a TEXT pointer in data. */
static inline int sf_module(int linked, const char *name, uint64_t seed, uint32_t size, uint8_t **out,
                            size_t *len) {
    uint32_t text_size = size > 256 ? (size - 200) & ~15u : 64;
    uint8_t *text = malloc(text_size);
    uint8_t data[16] = {0};
    if (!text) {
        return NM_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < text_size; i++) {
        text[i] = (uint8_t)sf_rnd(&seed);
    }
    static const char *const imports[] = {"ext_fn"};
    nm_reloc_t rel[4];
    nm_wexport_t ex[] = {{"get", 1, NM_REGION_TEXT, NM_EXPORT_FUNC}};
    nm_wmodule_t m = {0};
    m.name = name;
    m.text = text;
    m.text_size = text_size;
    m.data = data;
    m.data_size = sizeof data;
    m.bss_size = 16;
    m.exports = ex;
    m.n_exports = 1;
    m.init_idx = NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    if (linked) {
        m.arch = NM_ARCH_ARMV7M;
        m.float_abi = NM_FLOAT_SOFT;
        m.rw_offset = text_size;
        m.text_align_log2 = 2;
        m.rw_align_log2 = 3;
        memset(text, 0, 12); /* link-time values: offsets */
        rel[0] = (nm_reloc_t){.site = 0, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT};
        rel[1] = (nm_reloc_t){.site = 4, .kind = NM_RELOC_PTR32, .target = NM_TARGET_RW};
        rel[2] = (nm_reloc_t){.site = 8, .kind = NM_RELOC_PTR32, .target = NM_TARGET_IMPORT0};
        rel[3] = (nm_reloc_t){.site = text_size, .kind = NM_RELOC_PTR32, .target = NM_TARGET_TEXT};
        m.relocs = rel;
        m.n_relocs = 4;
        m.imports = imports;
        m.n_imports = 1;
    } else {
        m.arch = NM_ARCH_X64;
        m.float_abi = NM_FLOAT_HARD;
        m.flags = NM_FLAG_RW_PCREL;
        m.rw_offset = ((64 + text_size + 4095) & ~4095u) - 64;
        m.text_align_log2 = 4;
        m.rw_align_log2 = 3;
        memset(data, 0, 8);
        rel[0] = (nm_reloc_t){.site = text_size, .kind = NM_RELOC_PTR64, .target = NM_TARGET_TEXT};
        m.relocs = rel;
        m.n_relocs = 1;
    }
    int rc = nm_write_image(&m, out, len, NULL);
    free(text);
    return rc;
}

/* Device and config for g; erased device, store not formatted. */
static inline int sf_open(sf_store_t *f, const sf_geom_t *g) {
    memset(f, 0, sizeof *f);
    int rc = nm_bd_emu_init(&f->emu, g->block_size, g->prog_size, g->block_count, g->linked);
    if (rc != NM_OK) {
        return rc;
    }
    nm_bd_emu_attach(&f->emu, &f->cfg);
    /* The store's own counts (persisted in its WEAR records), next to the
     * device's true lifetime counts (f->emu.erase_counts). */
    f->cfg.erase_counts = calloc(g->block_count, sizeof *f->cfg.erase_counts);
    if (!f->cfg.erase_counts) {
        nm_bd_emu_free(&f->emu);
        return NM_ERR_NOMEM;
    }
    f->cfg.align = g->align;
    f->cfg.meta_blocks = g->meta_blocks;
    f->cfg.entries = f->entries;
    f->cfg.max_entries = SF_MAX_ENTRIES;
    f->cfg.buffer = f->buffer;
    f->exports[0] = sf_exports[0];
    f->exports[0].hash = nm_hash("ext_fn");
    f->lcfg.exports = f->exports;
    f->lcfg.n_exports = 1;
    if (g->linked) {
        f->lcfg.arch = NM_ARCH_ARMV7M;
        f->lcfg.float_abi = NM_FLOAT_SOFT;
        f->cfg.map_base = (uintptr_t)f->emu.mem;
        f->cfg.rw_base = 0x20000000u;
        f->cfg.rw_size = 0x4000u;
    } else {
        f->lcfg.arch = NM_ARCH_X64;
        f->lcfg.float_abi = NM_FLOAT_HARD;
    }
    f->cfg.loader = &f->lcfg;
    return NM_OK;
}

static inline void sf_close(sf_store_t *f) {
    free(f->cfg.erase_counts);
    f->cfg.erase_counts = NULL;
    nm_bd_emu_free(&f->emu);
}

/* The model: what must be installed, by name. */
#define SF_MODEL_MAX 48
typedef struct sf_item {
    char name[NM_STORE_NAME_MAX + 1];
    uint8_t *src; /* the slice installed (owned by the caller's module pool) */
    size_t len;
} sf_item_t;

typedef struct sf_model {
    sf_item_t items[SF_MODEL_MAX];
    unsigned n;
} sf_model_t;

static inline void sf_model_set(sf_model_t *m, const char *name, uint8_t *src, size_t len) {
    for (unsigned i = 0; i < m->n; i++) {
        if (!strcmp(m->items[i].name, name)) {
            m->items[i].src = src;
            m->items[i].len = len;
            return;
        }
    }
    if (m->n < SF_MODEL_MAX) {
        snprintf(m->items[m->n].name, sizeof m->items[m->n].name, "%s", name);
        m->items[m->n].src = src;
        m->items[m->n].len = len;
        m->n++;
    }
}

static inline void sf_model_del(sf_model_t *m, const char *name) {
    for (unsigned i = 0; i < m->n; i++) {
        if (!strcmp(m->items[i].name, name)) {
            m->items[i] = m->items[--m->n];
            return;
        }
    }
}

/* 0 if the store holds exactly the model (every module byte for byte in
 * copy mode; linked: a valid image linked for its extent from that
 * slice), else a message in why. */
static inline int sf_check(sf_store_t *f, const sf_model_t *m, char *why, size_t wn) {
    nm_store_t *s = &f->st;
    uint32_t pos = 0, live = 0;
    while (nm_store_next(s, &pos)) {
        live++;
    }
    if (live != m->n) {
        snprintf(why, wn, "store lists %u modules, expected %u", live, m->n);
        return 1;
    }
    for (unsigned i = 0; i < m->n; i++) {
        const sf_item_t *it = &m->items[i];
        const nm_store_entry_t *e = nm_store_find(s, it->name);
        if (!e) {
            snprintf(why, wn, "module '%s' missing", it->name);
            return 1;
        }
        if (e->flags & NM_STORE_F_DAMAGED) {
            snprintf(why, wn, "module '%s' marked damaged", it->name);
            return 1;
        }
        const uint8_t *at = f->emu.mem + nm_store_offset(s, e);
        if (!f->cfg.rw_size) {
            if (e->size != it->len || memcmp(at, it->src, it->len) != 0) {
                snprintf(why, wn, "module '%s' differs from what was installed", it->name);
                return 1;
            }
        } else {
            nm_image_t img, src;
            if (nm_image_parse(at, e->size, &img, NULL) != NM_OK ||
                nm_image_parse(it->src, it->len, &src, NULL) != NM_OK || !(img.flags & NM_FLAG_XIP_LINKED) ||
                img.xip_text_addr != (uint32_t)(nm_store_addr(s, e) + NM_HEADER_SIZE) ||
                img.xip_src_crc != src.crc32 || img.xip_rw_addr != e->rw_addr ||
                memcmp(img.text + 12, src.text + 12, src.text_size - 12) != 0) {
                snprintf(why, wn, "module '%s' is not its slice linked for its extent (text at %#x, want %#x; src crc %#x/%#x; rw %#x/%#x)",
                         it->name, img.xip_text_addr, (unsigned)(nm_store_addr(s, e) + NM_HEADER_SIZE), img.xip_src_crc,
                         src.crc32, img.xip_rw_addr, e->rw_addr);
                return 1;
            }
        }
        const nm_store_entry_t *pe;
        nm_detail_t d;
        if (nm_store_pin(s, it->name, &pe, &d) != NM_OK) {
            snprintf(why, wn, "module '%s' cannot be pinned: %s", it->name, d.msg);
            return 1;
        }
        nm_store_unpin(s, pe);
    }
    if (f->emu.violations) {
        snprintf(why, wn, "%llu flash rule violations (program over programmed bytes)",
                 (unsigned long long)f->emu.violations);
        return 1;
    }
    return 0;
}

#endif /* NATMOD_TEST_STORE_FIXTURE_H */
