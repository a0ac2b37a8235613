/*
 * Wear levelling of the module store (docs/store.md 7, 7b): a random run
 * (installs, replaces, removes, with and without defragmentation) keeps the
 * erase-count spread of the data blocks within target on the benchmark's
 * two geometries; the store's own counts (WEAR records + log) match the
 * device's after a remount; malformed WEAR records are ignored and counted,
 * never fatal.
 */
#define SF_MAX_ENTRIES 64

#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "store_fixture.h"

static const sf_geom_t g_host = {"host: 4 KB blocks, prog 16, 256 blocks", 4096, 16, 256, 0, 4, 0};
static const sf_geom_t g_cm = {"Cortex-M: 1 KB blocks, prog 4, 256 blocks", 1024, 4, 256, 0, 16, 0};
static const sf_geom_t g_small = {"1K blocks, prog 16", 1024, 16, 40, 0, 2, 0};

enum { NAMES = 24, VARIANTS = 4 };

static sf_store_t *fresh(const sf_geom_t *g) {
    sf_store_t *f = calloc(1, sizeof *f);
    nm_detail_t d;
    CHECK(f && sf_open(f, g) == NM_OK);
    CHECK_EQ(nm_store_format(&f->st, &f->cfg, &d), NM_OK);
    return f;
}

static void done(sf_store_t *f) {
    CHECK_EQ(f->emu.violations, 0);
    sf_close(f);
    free(f);
}

/* max / mean erases over the data blocks of the device (lifetime). */
static double spread(const sf_store_t *f) {
    uint64_t tot = 0;
    uint32_t mx = 0;
    for (uint32_t b = 0; b < f->st.data_blocks; b++) {
        tot += f->emu.erase_counts[b];
        mx = f->emu.erase_counts[b] > mx ? f->emu.erase_counts[b] : mx;
    }
    return tot ? (double)mx * f->st.data_blocks / (double)tot : 0;
}

/* The benchmark's mix (bench_store section 4) for ops operations. */
static double random_run(const sf_geom_t *g, unsigned long ops, int with_defrag, uint64_t seed) {
    uint32_t bs = g->block_size;
    sf_store_t *f = fresh(g);
    uint64_t r = seed;
    static uint8_t *mods[NAMES][VARIANTS];
    static size_t lens[NAMES][VARIANTS];
    char names[NAMES][8];
    for (unsigned k = 0; k < NAMES; k++) {
        snprintf(names[k], sizeof names[k], "w%02u", k);
        for (unsigned v = 0; v < VARIANTS; v++) {
            uint32_t size = 256 + (uint32_t)(sf_rnd(&r) % (6u * bs - 256u));
            CHECK_EQ(sf_module(0, names[k], sf_rnd(&r), size, &mods[k][v], &lens[k][v]), NM_OK);
        }
    }
    for (unsigned long i = 0; i < ops; i++) {
        unsigned k = (unsigned)(sf_rnd(&r) % NAMES), v = (unsigned)(sf_rnd(&r) % VARIANTS);
        unsigned what = (unsigned)(sf_rnd(&r) % 10);
        uint32_t budget = (uint32_t)(sf_rnd(&r) % 17);
        nm_detail_t d;
        nm_store_defrag_result_t res;
        int rc = NM_OK;
        if (what < 6) {
            rc = nm_store_install(&f->st, mods[k][v], lens[k][v], names[k], NULL, &d);
            if (rc == NM_ERR_NOSPC && with_defrag && (rc = nm_store_defrag(&f->st, 0, &res, &d)) == NM_OK) {
                rc = nm_store_install(&f->st, mods[k][v], lens[k][v], names[k], NULL, &d);
            }
            rc = rc == NM_ERR_NOSPC ? NM_OK : rc;
        } else if (what < 9) {
            rc = nm_store_remove(&f->st, names[k], &d);
            rc = rc == NM_ERR_NOENT ? NM_OK : rc;
        } else if (with_defrag) {
            rc = nm_store_defrag(&f->st, budget, &res, &d);
        }
        CHECK_EQ(rc, NM_OK);
    }
    /* A full defragmentation still leaves one free run. */
    nm_store_defrag_result_t res;
    nm_detail_t d;
    CHECK_EQ(nm_store_defrag(&f->st, 0, &res, &d), NM_OK);
    CHECK(res.done);
    nm_store_stats_t st;
    nm_store_stat(&f->st, &st);
    CHECK_EQ(st.largest_free, st.free_blocks);
    /* The counts survive a remount: data blocks exactly (every erase was
     * committed), metadata at most one short per format. */
    uint32_t *before = malloc(g->block_count * sizeof *before);
    CHECK(before != NULL);
    memcpy(before, f->cfg.erase_counts, g->block_count * sizeof *before);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.wear_bad, 0);
    CHECK_EQ(f->st.bad_records, 0);
    for (uint32_t b = 0; b < g->block_count; b++) {
        uint32_t have = f->cfg.erase_counts[b], real = f->emu.erase_counts[b];
        if (b < f->st.data_blocks) {
            CHECK_EQ(have, before[b]);
            CHECK_EQ(have, real);
        } else {
            CHECK(have <= real && real - have <= 1);
        }
    }
    free(before);
    nm_store_stat(&f->st, &st);
    CHECK(st.erase_max > 0 && st.erase_data_max_milli >= 1000);
    double sp = spread(f);
    CHECK(st.erase_data_max_milli / 1000.0 <= sp + 0.01 && st.erase_data_max_milli / 1000.0 >= sp - 0.01);
    for (unsigned k = 0; k < NAMES; k++) {
        for (unsigned v = 0; v < VARIANTS; v++) {
            free(mods[k][v]);
        }
    }
    done(f);
    return sp;
}

static void spread_stays_within_target_on_both_geometries(void) {
    const sf_geom_t *gs[] = {&g_host, &g_cm};
    for (unsigned i = 0; i < 2; i++) {
        double with = random_run(gs[i], 10000, 1, 20260501);
        double without = random_run(gs[i], 10000, 0, 20260501);
        printf("     %s: spread %.2f with defrag (target 1.5), %.2f without (target 1.2)\n", gs[i]->label, with,
               without);
        CHECK(with <= 1.5);
        CHECK(without <= 1.2);
    }
}

/* Replace one module until the log has been compacted into the other area
 * (so the active area's snapshot holds WEAR records written from counts). */
static void compact_once(sf_store_t *f, const uint8_t *m, size_t len) {
    uint32_t gen = f->st.generation;
    nm_detail_t d;
    for (unsigned i = 0; i < 1000 && f->st.generation == gen; i++) {
        CHECK_EQ(nm_store_install(&f->st, m, len, "keep", NULL, &d), NM_OK);
    }
    CHECK(f->st.generation != gen);
}

/* Byte off of record slot `slot` in the active area, in device memory. */
static uint8_t *slot_mem(sf_store_t *f, uint32_t slot) {
    uint32_t unit = NM_STORE_UNIT(f->cfg.prog_size);
    uint64_t at = (uint64_t)(f->st.data_blocks + f->st.area * f->st.meta_blocks) * f->cfg.block_size + slot * unit;
    return f->emu.mem + at;
}

static void reseal(uint8_t *r) {
    uint32_t c = nm_crc32(0, r, 60);
    r[60] = (uint8_t)c, r[61] = (uint8_t)(c >> 8), r[62] = (uint8_t)(c >> 16), r[63] = (uint8_t)(c >> 24);
}

static void malformed_wear_records_are_ignored_and_counted(void) {
    uint8_t *m;
    size_t len;
    CHECK_EQ(sf_module(0, "keep", 7, 700, &m, &len), NM_OK);
    sf_store_t *f = fresh(&g_small);
    nm_detail_t d;
    compact_once(f, m, len);
    CHECK(f->st.wear_records >= 2);
    uint32_t saved[40];
    memcpy(saved, f->cfg.erase_counts, sizeof saved);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(memcmp(saved, f->cfg.erase_counts, sizeof saved), 0);
    uint8_t keep[64];
    uint8_t *r = slot_mem(f, 1);
    CHECK_EQ(r[0], 7); /* REC_WEAR right after the header */
    memcpy(keep, r, 64);
    /* Well-formed CRC, wrong contents: each ignored and counted; the store
     * mounts intact (not degraded: no module record was lost). */
    static const struct {
        unsigned off;
        uint8_t val;
    } bad[] = {{2, 5} /* group shift */, {3, 0} /* no counts */, {3, 18} /* too many */,
               {4, 3} /* first group not a record boundary */, {7, 0x80} /* first group out of range */,
               {1, 1} /* skipped in a snapshot */};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(r, keep, 64);
        r[bad[i].off] = bad[i].val;
        reseal(r);
        CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
        CHECK_EQ(f->st.wear_bad, 1);
        CHECK_EQ(f->st.bad_records, 0);
        CHECK_EQ(f->st.degraded, 0);
        CHECK(nm_store_find(&f->st, "keep") != NULL);
        /* those blocks restart from the log: never more than the device saw */
        for (uint32_t b = 0; b < 17; b++) {
            CHECK(f->cfg.erase_counts[b] <= f->emu.erase_counts[b]);
        }
    }
    /* Nonzero bytes after the counts (the last record holds 40 - 34 = 6). */
    memcpy(r, keep, 64);
    uint8_t *r3 = slot_mem(f, 3), keep3[64];
    CHECK(r3[0] == 7 && r3[3] == 6);
    memcpy(keep3, r3, 64);
    r3[8 + 3 * 6] = 1;
    reseal(r3);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.wear_bad, 1);
    memcpy(r3, keep3, 64);
    /* A broken CRC: a damaged snapshot record (counted as damage). */
    memcpy(r, keep, 64);
    r[9] ^= 1;
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.bad_records, 1);
    CHECK(nm_store_find(&f->st, "keep") != NULL);
    /* The next compaction writes whole records again. */
    memcpy(r, keep, 64);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    compact_once(f, m, len);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.wear_bad, 0);
    for (uint32_t b = 0; b < f->st.data_blocks; b++) {
        CHECK_EQ(f->cfg.erase_counts[b], f->emu.erase_counts[b]);
    }
    /* A WEAR record in the log is damage, never a crash. */
    uint32_t log = f->st.log_next;
    memcpy(slot_mem(f, log), keep, 64);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.bad_records, 1);
    free(m);
    done(f);
}

/* Without erase_counts the store cannot count, but it carries the counts
 * it has over each compaction; a big partition with small areas keeps one
 * count per group of blocks (the least worn one's). */
static void counts_carry_over_without_ram_and_group_in_small_areas(void) {
    uint8_t *m;
    size_t len;
    CHECK_EQ(sf_module(0, "keep", 7, 700, &m, &len), NM_OK);
    sf_store_t *f = fresh(&g_small);
    nm_detail_t d;
    compact_once(f, m, len);
    uint32_t saved[40];
    memcpy(saved, f->cfg.erase_counts, sizeof saved);
    uint32_t *ec = f->cfg.erase_counts;
    f->cfg.erase_counts = NULL;
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    compact_once(f, m, len);
    f->cfg.erase_counts = ec;
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    for (uint32_t b = 0; b < 40; b++) {
        CHECK(ec[b] <= f->emu.erase_counts[b]);
        if (b < f->st.data_blocks) {
            CHECK(ec[b] + 1 >= saved[b]); /* the snapshot's counts (the old log's one install is not carried) */
        }
    }
    done(f);
    /* 2048 blocks of 1 KB, one 1 KB block per area (16 slots): groups. */
    static const sf_geom_t g_big = {"1K blocks, 2048 of them, 1-block areas", 1024, 16, 2048, 0, 1, 0};
    f = fresh(&g_big);
    CHECK(f->st.wear_shift > 0);
    CHECK(f->st.wear_records <= f->st.area_slots / 4);
    compact_once(f, m, len);
    CHECK_EQ(nm_store_mount(&f->st, &f->cfg, &d), NM_OK);
    CHECK_EQ(f->st.wear_bad, 0);
    for (uint32_t b = 0; b < 2048; b++) {
        CHECK(f->cfg.erase_counts[b] <= f->emu.erase_counts[b]);
    }
    free(m);
    done(f);
}

int main(void) {
    RUN(malformed_wear_records_are_ignored_and_counted);
    RUN(counts_carry_over_without_ram_and_group_in_small_areas);
    RUN(spread_stays_within_target_on_both_geometries);
    return TEST_DONE();
}
