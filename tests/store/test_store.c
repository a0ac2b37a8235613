#define _GNU_SOURCE /* MAP_32BIT: linked Thumb images hold 32-bit RW addresses */
/*
 * The module store's behaviour and its answers to bad input: every
 * operation and error path, and damaged images (corrupted metadata, bit
 * flips in erased areas, an extent whose CRC fails): mount keeps what is
 * intact, reports the damage, never loads a damaged module and never
 * erases a healthy one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../test.h"
#include "store_fixture.h"

static const sf_geom_t g_small = {"1K blocks, prog 16", 1024, 16, 40, 0, 2, 0};

typedef struct mods {
    uint8_t *m[6];
    size_t len[6];
} mods_t;

static void build(mods_t *ms, int linked, uint32_t size) {
    static const char *const names[6] = {"alpha", "beta", "gamma", "delta", "eps", "zeta"};
    for (unsigned i = 0; i < 6; i++) {
        CHECK_EQ(sf_module(linked, names[i], 100 + i, size + 300 * i, &ms->m[i], &ms->len[i]), NM_OK);
    }
}

static void unbuild(mods_t *ms) {
    for (unsigned i = 0; i < 6; i++) {
        free(ms->m[i]);
    }
}

static sf_store_t *fresh(const sf_geom_t *g) {
    sf_store_t *f = calloc(1, sizeof *f);
    nm_detail_t d;
    CHECK(f && sf_open(f, g) == NM_OK);
    CHECK_EQ(nm_store_format(&f->st, &f->cfg, &d), NM_OK);
    return f;
}

static void done(sf_store_t *f) {
    sf_close(f);
    free(f);
}

static void operations_and_errors(void) {
    mods_t ms;
    build(&ms, 0, 700);
    sf_store_t *f = calloc(1, sizeof *f);
    nm_detail_t d;
    CHECK(sf_open(f, &g_small) == NM_OK);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "not formatted");
    CHECK_EQ(nm_store_install(&f->st, ms.m[0], ms.len[0], NULL, NULL, &d), NM_ERR_INVAL); /* not mounted */
    CHECK_EQ(nm_store_format(&f->st, &f->cfg, &d), NM_OK);
    sf_model_t m = {0};
    char why[300];
    const nm_store_entry_t *e;
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(nm_store_install(&f->st, ms.m[i], ms.len[i], NULL, &e, &d), NM_OK);
        sf_model_set(&m, e->name, ms.m[i], ms.len[i]);
        CHECK_EQ(nm_store_offset(&f->st, e) % 1024, 0);
    }
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    nm_store_stats_t st;
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.n_modules, 3);
    CHECK_EQ(st.used_blocks + st.free_blocks, st.data_blocks);
    CHECK_EQ(st.largest_free, st.free_blocks); /* next fit from an empty store: one free run */
    /* listing is in address order */
    uint32_t pos = 0, last = 0, n = 0;
    while ((e = nm_store_next(&f->st, &pos)) != NULL) {
        CHECK(n == 0 || e->start > last);
        last = e->start;
        n++;
    }
    CHECK_EQ(n, 3);
    /* bad names, missing modules, wrong arch, a corrupted module */
    CHECK_EQ(nm_store_install(&f->st, ms.m[3], ms.len[3], "this-name-is-far-too-long-for-it", NULL, &d), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(d.msg, "1 to 23 characters");
    CHECK_EQ(nm_store_install(&f->st, ms.m[3], ms.len[3], "a b", NULL, &d), NM_ERR_INVAL);
    CHECK_EQ(nm_store_remove(&f->st, "nobody", &d), NM_ERR_NOENT);
    CHECK_STR_CONTAINS(d.msg, "'nobody'");
    uint8_t *thumb;
    size_t tlen;
    CHECK_EQ(sf_module(1, "thumb", 1, 500, &thumb, &tlen), NM_OK);
    uint64_t progs = f->emu.n_progs;
    CHECK_EQ(nm_store_install(&f->st, thumb, tlen, NULL, NULL, &d), NM_ERR_ARCH);
    free(thumb);
    uint8_t *bad = malloc(ms.len[3]);
    memcpy(bad, ms.m[3], ms.len[3]);
    bad[ms.len[3] - 3] ^= 1;
    CHECK_EQ(nm_store_install(&f->st, bad, ms.len[3], NULL, NULL, &d), NM_ERR_CRC);
    CHECK_EQ(nm_store_install(&f->st, bad, 40, NULL, NULL, &d), NM_ERR_TRUNCATED);
    free(bad);
    CHECK_EQ(f->emu.n_progs, progs); /* refused before anything was written */
    /* pinning: remove refused, replace allowed, the old extent kept until unpin */
    const nm_store_entry_t *pinned;
    CHECK_EQ(nm_store_pin(&f->st, "alpha", &pinned, &d), NM_OK);
    uint32_t old_start = pinned->start;
    CHECK_EQ(nm_store_remove(&f->st, "alpha", &d), NM_ERR_BUSY);
    CHECK_STR_CONTAINS(d.msg, "unload it first");
    CHECK_EQ(nm_store_install(&f->st, ms.m[4], ms.len[4], "alpha", &e, &d), NM_OK);
    sf_model_set(&m, "alpha", ms.m[4], ms.len[4]);
    CHECK(e->start != old_start);
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.n_zombies, 1);
    CHECK_EQ(st.n_modules, 3);
    CHECK(memcmp(f->emu.mem + old_start * 1024u, ms.m[0], ms.len[0]) == 0); /* still runnable */
    nm_store_defrag_result_t r;
    CHECK_EQ(nm_store_defrag(&f->st, 0, &r, &d), NM_OK);
    CHECK(memcmp(f->emu.mem + old_start * 1024u, ms.m[0], ms.len[0]) == 0); /* defrag kept it */
    nm_store_unpin(&f->st, pinned);
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.n_zombies, 0);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    /* a universal module: only the board's slice is written */
    uint8_t *sl[2];
    size_t sll[2];
    CHECK_EQ(sf_module(1, "uni", 9, 900, &sl[0], &sll[0]), NM_OK);
    CHECK_EQ(sf_module(0, "uni", 9, 900, &sl[1], &sll[1]), NM_OK);
    uint8_t *uni;
    size_t ulen;
    CHECK_EQ(nm_write_universal((const uint8_t *const *)sl, sll, 2, &uni, &ulen, NULL), NM_OK);
    CHECK_EQ(nm_store_install(&f->st, uni, ulen, NULL, &e, &d), NM_OK);
    CHECK_EQ(e->size, sll[1]);
    sf_model_set(&m, "uni", sl[1], sll[1]);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    /* full: a clear NOSPC naming the module and the largest run */
    int rc = NM_OK;
    for (unsigned i = 0; i < 40 && rc == NM_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "fill%u", i);
        rc = nm_store_install(&f->st, ms.m[5], ms.len[5], name, NULL, &d);
        if (rc == NM_OK) {
            sf_model_set(&m, name, ms.m[5], ms.len[5]);
        }
    }
    CHECK_EQ(rc, NM_ERR_NOSPC);
    CHECK_STR_CONTAINS(d.msg, "no free run of");
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    /* everything survives a remount */
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    /* another geometry does not mount it */
    f->cfg.block_count = 39;
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_ERR_CORRUPT);
    f->cfg.block_count = 40;
    free(uni);
    free(sl[0]);
    free(sl[1]);
    done(f);
    unbuild(&ms);
}

static void defrag_with_budget_gathers_free_space(void) {
    mods_t ms;
    build(&ms, 0, 300); /* one block each up to 1 KB... */
    sf_store_t *f = fresh(&g_small);
    nm_detail_t d;
    sf_model_t m = {0};
    char name[16], why[300];
    for (unsigned i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "m%u", i);
        CHECK_EQ(nm_store_install(&f->st, ms.m[i % 2], ms.len[i % 2], name, NULL, &d), NM_OK);
        sf_model_set(&m, name, ms.m[i % 2], ms.len[i % 2]);
    }
    for (unsigned i = 0; i < 12; i += 2) {
        snprintf(name, sizeof name, "m%u", i);
        CHECK_EQ(nm_store_remove(&f->st, name, &d), NM_OK);
        sf_model_del(&m, name);
    }
    nm_store_stats_t before, after;
    nm_store_stat(&f->st, &before);
    CHECK(before.largest_free < before.free_blocks);
    nm_store_defrag_result_t r;
    unsigned calls = 0;
    do {
        CHECK_EQ(nm_store_defrag(&f->st, 1, &r, &d), NM_OK);
        CHECK(r.moved_blocks <= 1);
        calls++;
    } while (!r.done && calls < 100);
    CHECK(r.done);
    CHECK(calls > 2);
    nm_store_stat(&f->st, &after);
    CHECK_EQ(after.largest_free, after.free_blocks);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    done(f);
    unbuild(&ms);
}

/* Byte offset of the log record that installed name (scan of the metadata). */
static long find_record(sf_store_t *f, const char *name) {
    nm_store_t *s = &f->st;
    size_t area = ((size_t)s->data_blocks + s->area * s->meta_blocks) * f->cfg.block_size;
    long found = -1;
    for (uint32_t slot = 0; slot < s->area_slots; slot++) {
        const uint8_t *r = f->emu.mem + area + (size_t)slot * s->unit;
        if ((r[0] == 2 || r[0] == 5) && !strcmp((const char *)r + 8, name)) {
            found = (long)(area + (size_t)slot * s->unit);
        }
    }
    return found;
}

static void damaged_metadata_keeps_the_rest_and_the_orphan(void) {
    mods_t ms;
    build(&ms, 0, 700);
    sf_store_t *f = fresh(&g_small);
    nm_detail_t d;
    sf_model_t m = {0};
    char why[300];
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(nm_store_install(&f->st, ms.m[i], ms.len[i], NULL, NULL, &d), NM_OK);
    }
    const nm_store_entry_t *beta = nm_store_find(&f->st, "beta");
    uint32_t beta_off = nm_store_offset(&f->st, beta), beta_size = beta->size;
    long rec = find_record(f, "beta");
    CHECK(rec >= 0);
    nm_bd_emu_flip(&f->emu, (size_t)rec + 40, 3); /* the record's size field */
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.bad_records, 1);
    CHECK(f->st.degraded);
    nm_store_stats_t st;
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.bad_records, 1);
    sf_model_set(&m, "alpha", ms.m[0], ms.len[0]);
    sf_model_set(&m, "gamma", ms.m[2], ms.len[2]);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    CHECK(nm_store_find(&f->st, "beta") == NULL);
    /* Fill the store: beta's blocks, no longer described, are not reused. */
    int rc = NM_OK;
    for (unsigned i = 0; i < 40 && rc == NM_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%u", i);
        rc = nm_store_install(&f->st, ms.m[3], ms.len[3], name, NULL, &d);
    }
    CHECK_EQ(rc, NM_ERR_NOSPC);
    CHECK(memcmp(f->emu.mem + beta_off, ms.m[1], beta_size) == 0);
    CHECK_EQ(f->emu.violations, 0);
    done(f);
    unbuild(&ms);
}

static void bit_flips_in_erased_areas_are_harmless(void) {
    mods_t ms;
    build(&ms, 0, 700);
    sf_store_t *f = fresh(&g_small);
    nm_detail_t d;
    sf_model_t m = {0};
    char why[300];
    const nm_store_entry_t *e;
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ(nm_store_install(&f->st, ms.m[i], ms.len[i], NULL, &e, &d), NM_OK);
        sf_model_set(&m, e->name, ms.m[i], ms.len[i]);
    }
    /* Flip bits in the erased log right after the last record and further
     * on, and in free data blocks. */
    nm_store_t *s = &f->st;
    size_t area = ((size_t)s->data_blocks + s->area * s->meta_blocks) * f->cfg.block_size;
    nm_bd_emu_flip(&f->emu, area + (size_t)s->log_next * s->unit + 5, 2);
    nm_bd_emu_flip(&f->emu, area + (size_t)(s->log_next + 3) * s->unit + 63, 7);
    for (uint32_t b = 20; b < s->data_blocks; b += 3) {
        nm_bd_emu_flip(&f->emu, (size_t)b * f->cfg.block_size + 17 * b, b);
    }
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    /* The slot right after the log is stepped over; the one further on,
     * behind erased slots, is reported (the next commit compacts past it). */
    CHECK_EQ(f->st.bad_records, 1);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    /* Installs go on: flipped slots are skipped, flipped blocks erased first. */
    int rc = NM_OK;
    for (unsigned i = 0; i < 30 && rc == NM_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%u", i);
        rc = nm_store_install(&f->st, ms.m[2 + i % 3], ms.len[2 + i % 3], name, NULL, &d);
        if (rc == NM_OK) {
            sf_model_set(&m, name, ms.m[2 + i % 3], ms.len[2 + i % 3]);
        }
    }
    CHECK_EQ(rc, NM_ERR_NOSPC);
    CHECK(m.n > 8);
    CHECK_EQ(f->emu.violations, 0);
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.bad_records, 0); /* the skipped slots were declared by the next record */
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    done(f);
    unbuild(&ms);
}

static void damaged_extent_is_reported_never_loaded_never_erased(void) {
    mods_t ms;
    build(&ms, 0, 1500);
    sf_store_t *f = fresh(&g_small);
    nm_detail_t d;
    const nm_store_entry_t *e;
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(nm_store_install(&f->st, ms.m[i], ms.len[i], NULL, &e, &d), NM_OK);
    }
    e = nm_store_find(&f->st, "beta");
    size_t off = nm_store_offset(&f->st, e);
    uint32_t size = e->size;
    nm_bd_emu_flip(&f->emu, off + size - 20, 0); /* inside the body: the header still matches */
    uint8_t *copy = malloc(size);
    memcpy(copy, f->emu.mem + off, size);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    nm_store_stats_t st;
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.n_damaged, 0); /* mount reads headers only */
    const nm_store_entry_t *p;
    CHECK_EQ(nm_store_pin(&f->st, "beta", &p, &d), NM_ERR_CRC);
    CHECK_STR_CONTAINS(d.msg, "'beta'");
    CHECK_STR_CONTAINS(d.msg, "damaged");
    CHECK_EQ(nm_store_pin(&f->st, "alpha", &p, &d), NM_OK);
    nm_store_unpin(&f->st, p);
    CHECK_EQ(nm_store_check(&f->st, &d), 1);
    /* Its extent stays out of reach of installs and defrag. */
    int rc = NM_OK;
    for (unsigned i = 0; i < 30 && rc == NM_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%u", i);
        rc = nm_store_install(&f->st, ms.m[3], ms.len[3], name, NULL, &d);
    }
    nm_store_defrag_result_t r;
    CHECK_EQ(nm_store_defrag(&f->st, 0, &r, &d), NM_OK);
    CHECK(memcmp(f->emu.mem + off, copy, size) == 0);
    /* A header that does not match its record is caught at mount. */
    nm_bd_emu_flip(&f->emu, nm_store_offset(&f->st, nm_store_find(&f->st, "gamma")) + 13, 4);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.n_damaged, 1);
    CHECK_EQ(nm_store_pin(&f->st, "gamma", &p, &d), NM_ERR_CRC);
    /* The damaged one can be removed (then its blocks are free again). */
    CHECK_EQ(nm_store_remove(&f->st, "beta", &d), NM_OK);
    CHECK_EQ(nm_store_install(&f->st, ms.m[1], ms.len[1], NULL, NULL, &d), NM_OK);
    CHECK_EQ(f->emu.violations, 0);
    free(copy);
    done(f);
    unbuild(&ms);
}

/* RAM for linked modules' RW, below 4 GB (their words are 32-bit). */
static int t_claim(void *ctx, void *addr, size_t size, unsigned kind) {
    (void)ctx, (void)addr, (void)size, (void)kind;
    return 0;
}
static void t_free(void *ctx, void *p, unsigned kind) {
    (void)ctx, (void)p, (void)kind;
}

static int load_unload(sf_store_t *f, const char *name, nm_detail_t *d) {
    nm_module_t m;
    int rc = nm_store_load(&f->st, name, &m, d);
    if (rc == NM_OK) {
        CHECK_EQ(nm_store_unload(&f->st, &m), NM_OK);
    }
    CHECK_EQ(nm_store_find(&f->st, name)->pins, 0);
    return rc;
}

/* nm_store_load checks the whole CRC once per mount (install, move, check
 * or the first pin) and then only what is not text (nm_load_xip_verified):
 * a flipped text bit is found by nm_store_check and by the first load after
 * a mount; a flipped header, XIP record, table or data byte, or a firmware
 * that moved an import bound into text, is refused by every load. */
static void fast_load_trusts_only_verified_text_and_check_or_mount_catch_it(void) {
    static const sf_geom_t g_linked = {"1K blocks, prog 16, linked", 1024, 16, 40, 0, 2, 1};
    uint8_t *src, *pad;
    size_t len, pad_len;
    CHECK_EQ(sf_module(1, "alpha", 7, 1500, &src, &len), NM_OK);
    CHECK_EQ(sf_module(1, "pad", 8, 900, &pad, &pad_len), NM_OK);
    sf_store_t *f = fresh(&g_linked);
    uint8_t *arena = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    CHECK(arena != MAP_FAILED);
    f->cfg.rw_base = (uintptr_t)arena;
    f->cfg.rw_size = 16384;
    f->lcfg.claim_cb = t_claim;
    f->lcfg.free_cb = t_free;
    nm_detail_t d;
    const nm_store_entry_t *e;
    CHECK_EQ(nm_store_install(&f->st, pad, pad_len, NULL, NULL, &d), NM_OK);
    CHECK_EQ(nm_store_install(&f->st, src, len, NULL, &e, &d), NM_OK);
    CHECK(e->flags & NM_STORE_F_VERIFIED);
    CHECK_EQ(load_unload(f, "alpha", &d), NM_OK);
    /* A move records the new meta CRC (the XIP record changed). */
    nm_store_defrag_result_t r;
    CHECK_EQ(nm_store_remove(&f->st, "pad", &d), NM_OK);
    CHECK_EQ(nm_store_defrag(&f->st, 0, &r, &d), NM_OK);
    CHECK(r.moves >= 1 && r.done);
    CHECK_EQ(load_unload(f, "alpha", &d), NM_OK);
    e = nm_store_find(&f->st, "alpha");
    size_t off = nm_store_offset(&f->st, e);
    nm_image_t img;
    CHECK_EQ(nm_image_parse(f->emu.mem + off, e->size, &img, &d), NM_OK);
    CHECK_EQ(e->meta_crc, nm_image_meta_crc(&img)); /* streamed in 64-byte units = over the image */
    /* Text bit rot after the install: this mount's loads trust the text. */
    size_t text_bit = off + 64 + 700;
    nm_bd_emu_flip(&f->emu, text_bit, 5);
    CHECK_EQ(load_unload(f, "alpha", &d), NM_OK);
    /* nm_store_check finds it, and loads are refused from then on. */
    CHECK_EQ(nm_store_check(&f->st, &d), 1);
    CHECK_STR_CONTAINS(d.msg, "'alpha'");
    CHECK(nm_store_find(&f->st, "alpha")->flags & NM_STORE_F_DAMAGED);
    CHECK_EQ(load_unload(f, "alpha", &d), NM_ERR_CRC);
    /* A fresh mount: the header matches its record, so nothing is verified
     * yet; the first load's pin checks the whole CRC and refuses it. */
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK(!(nm_store_find(&f->st, "alpha")->flags & (NM_STORE_F_VERIFIED | NM_STORE_F_DAMAGED)));
    CHECK_EQ(load_unload(f, "alpha", &d), NM_ERR_CRC);
    CHECK_STR_CONTAINS(d.msg, "damaged");
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(nm_store_check(&f->st, &d), 1);
    nm_bd_emu_flip(&f->emu, text_bit, 5); /* repaired */
    /* Bytes outside text, flipped after the mount's first load verified
     * the image: every load refuses them (header fields no structure check
     * sees, data, relocations, exports, strings, the XIP record). */
    const uint8_t *b = f->emu.mem + off;
    size_t at[] = {8, 28, 46, 64 + img.text_size + 5, (size_t)(img.relocs - b),
                   (size_t)(img.exports - b) + 5, (size_t)((const uint8_t *)img.strtab - b) + 2,
                   e->size - 15, e->size - 11, e->size - 8, e->size - 1};
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
        CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
        CHECK_EQ(load_unload(f, "alpha", &d), NM_OK);
        nm_bd_emu_flip(&f->emu, off + at[i], 1);
        int rc = load_unload(f, "alpha", &d);
        if (rc == NM_OK) {
            printf("  a flip at image byte %zu was not refused\n", at[i]);
        }
        CHECK(rc < 0);
        if (at[i] == 28 || at[i] >= e->size - 16) { /* only the meta CRC can see these */
            CHECK_EQ(rc, NM_ERR_CRC);
            CHECK_STR_CONTAINS(d.msg, "meta CRC");
        }
        /* And again (after a meta CRC mismatch the pin checks the whole
         * image again and marks it damaged). */
        CHECK_EQ(load_unload(f, "alpha", &d), rc);
        nm_bd_emu_flip(&f->emu, off + at[i], 1);
    }
    /* The firmware moved the import bound into text: refused, not damaged. */
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(load_unload(f, "alpha", &d), NM_OK);
    f->exports[0].addr = (const void *)(uintptr_t)0x08002001u;
    CHECK_EQ(load_unload(f, "alpha", &d), NM_ERR_XIP);
    CHECK_STR_CONTAINS(d.msg, "install it again");
    f->exports[0] = sf_exports[0];
    f->exports[0].hash = nm_hash("ext_fn");
    CHECK_EQ(load_unload(f, "alpha", &d), NM_OK);
    CHECK_EQ(f->emu.violations, 0);
    munmap(arena, 16384);
    free(src);
    free(pad);
    done(f);
}

int main(void) {
    RUN(operations_and_errors);
    RUN(defrag_with_budget_gathers_free_space);
    RUN(damaged_metadata_keeps_the_rest_and_the_orphan);
    RUN(bit_flips_in_erased_areas_are_harmless);
    RUN(damaged_extent_is_reported_never_loaded_never_erased);
    RUN(fast_load_trusts_only_verified_text_and_check_or_mount_catch_it);
    return TEST_DONE();
}
