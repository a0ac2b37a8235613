/*
 * Phase 2: bind every import by name against the firmware export table.
 * All imports are checked before anything is allocated, so a module with a
 * missing symbol is refused without side effects (and before any of its
 * code could run). An import whose slice records the prototype it was
 * linked against (docs/format.md 2.3) must also match the firmware's: a
 * firmware update that changed the prototype under the same name would
 * otherwise have the module call it wrongly.
 */
#include <string.h>

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

static size_t bounded_len(const char *s) {
    size_t n = 0;
    while (s[n] && n < NM_DETAIL_MAX) {
        n++;
    }
    return n;
}

/* Appends s, or its first n - 3 bytes and "..." if it is longer than n. */
static void cat_cut(nm_detail_t *d, const char *s, size_t n) {
    char buf[NM_DETAIL_MAX];
    if (bounded_len(s) <= n) {
        nm_detail_cat(d, s);
        return;
    }
    size_t k = n > 3 ? n - 3 : 0;
    k = k < sizeof buf ? k : sizeof buf - 1;
    memcpy(buf, s, k);
    buf[k] = '\0';
    nm_detail_cat(d, buf);
    nm_detail_cat(d, "...");
}

static const char *hex_of(char out[11], uint32_t v) {
    out[0] = '0';
    out[1] = 'x';
    for (int j = 0; j < 8; j++) {
        out[2 + j] = "0123456789abcdef"[(v >> (28 - 4 * j)) & 0xFu];
    }
    out[10] = '\0';
    return out;
}

/* One line naming the symbol and both prototypes, e.g. "hal_i2c_write:
 * the module expects int (int), the firmware has int (int, int)". When
 * that does not fit NM_DETAIL_MAX, shorter words ("module wants",
 * "firmware has"); when that does not fit either, both texts start a
 * little before where they first differ ("...size_t)" against "...size_t,
 * int)"), and what is still too long is cut at the end with "...", each
 * text keeping at least half of the room. A missing text shows its hash. */
static void type_detail(nm_detail_t *d, const nm_import_info_t *imp, const nm_export_t *e) {
    enum { NAME_SHOWN = 40, CONTEXT = 12 };
    static const char *const words[2][2] = {{": the module expects ", ", the firmware has "},
                                            {": module wants ", ", firmware has "}};
    char hm[11], hf[11];
    const char *mod = imp->proto ? imp->proto : hex_of(hm, imp->type_hash);
    const char *fw = e->proto ? e->proto : hex_of(hf, e->type_hash);
    const size_t max = NM_DETAIL_MAX - 1;
    size_t name = bounded_len(imp->name), lm = bounded_len(mod), lf = bounded_len(fw);
    name = name < NAME_SHOWN ? name : NAME_SHOWN;
    int w = name + bounded_len(words[0][0]) + lm + bounded_len(words[0][1]) + lf <= max ? 0 : 1;
    size_t room = max - name - bounded_len(words[w][0]) - bounded_len(words[w][1]);
    size_t skip = 0;
    if (lm + lf > room) {
        while (mod[skip] && mod[skip] == fw[skip]) {
            skip++;
        }
        skip = skip > CONTEXT + 3 ? skip - CONTEXT : 0;
        if (skip) {
            lm = 3 + bounded_len(mod + skip);
            lf = 3 + bounded_len(fw + skip);
        }
    }
    size_t nf = lf <= room / 2 ? lf : lm <= room / 2 ? room - lm : room / 2;
    nf = nf < lf ? nf : lf;
    nm_detail_set(d, "");
    cat_cut(d, imp->name, name);
    nm_detail_cat(d, words[w][0]);
    if (skip) {
        nm_detail_cat(d, "...");
    }
    cat_cut(d, mod + skip, room - nf - (skip ? 3 : 0));
    nm_detail_cat(d, words[w][1]);
    if (skip) {
        nm_detail_cat(d, "...");
    }
    cat_cut(d, fw + skip, nf - (skip ? 3 : 0));
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
        const nm_export_t *e = nm_export_find(cfg->exports, cfg->n_exports, imp.name);
        if (!e) {
            nm_detail_set(d, "undefined import '");
            nm_detail_cat(d, imp.name);
            nm_detail_cat(d, "' (hash ");
            nm_detail_hex(d, imp.hash);
            nm_detail_cat(d, "): the firmware does not export it");
            return NM_ERR_NOSYM;
        }
        /* Same name, another prototype: the module would call it wrongly.
         * Either side may not know the type (0): then the name decides. */
        if (imp.type_hash && e->type_hash && imp.type_hash != e->type_hash) {
            if (d) {
                type_detail(d, &imp, e);
            }
            return NM_ERR_NOSYM;
        }
    }
    return NM_OK;
}
