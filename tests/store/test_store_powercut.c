/*
 * Power loss at every program and erase of scripted scenarios, on several
 * geometries, three ways each (the cut operation has no effect / is torn /
 * is torn and unsynced programs are lost), then a long randomised run with
 * random cuts. After every cut: mount, check that the store holds exactly
 * what it held before the interrupted operation or exactly what it holds
 * after it (byte for byte), then finish the scenario and check again.
 *
 *   test_store_powercut                     everything, CI-sized
 *   test_store_powercut --replay G:S:C:V    one cut (the id a failure prints)
 *   test_store_powercut --random N [--seed S]  the random run with N operations
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

static const sf_geom_t geoms[] = {
    {"512B blocks, prog 16, 2-block meta areas", 512, 16, 48, 0, 2, 0},
    {"4K blocks, prog 256 (large units)", 4096, 256, 24, 0, 1, 0},
    {"1K blocks, prog 4, align 2K", 1024, 4, 40, 2048, 1, 0},
    {"1K blocks, prog 8, linked (Thumb, RW arena)", 1024, 8, 40, 0, 1, 1},
    {"64K blocks, prog 1, 1-block meta", 65536, 1, 8, 0, 1, 0},
};
#define N_GEOMS (sizeof geoms / sizeof geoms[0])

enum { OP_FORMAT, OP_INSTALL, OP_REMOVE, OP_REMOVE_BUSY, OP_DEFRAG, OP_PIN, OP_UNPIN };
typedef struct op {
    int kind;
    const char *name;
    unsigned variant; /* INSTALL: content seed */
    unsigned size;    /* INSTALL: about this many bytes, as a fraction of a block (x/4) */
    unsigned budget;  /* DEFRAG: blocks, 0 = all */
} op_t;

#define END_OPS {-1, NULL, 0, 0, 0}
static const op_t scen_fill[] = {
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "a", 1, 3, 0}, {OP_INSTALL, "b", 1, 6, 0},
    {OP_INSTALL, "c", 1, 2, 0}, {OP_INSTALL, "d", 1, 9, 0}, END_OPS};
static const op_t scen_replace[] = {
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "a", 1, 3, 0}, {OP_INSTALL, "b", 1, 5, 0},
    {OP_INSTALL, "a", 2, 6, 0}, {OP_INSTALL, "b", 2, 2, 0}, {OP_INSTALL, "a", 3, 2, 0}, END_OPS};
static const op_t scen_remove_middle[] = {
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "a", 1, 3, 0}, {OP_INSTALL, "b", 1, 5, 0},
    {OP_INSTALL, "c", 1, 3, 0}, {OP_REMOVE, "b", 0, 0, 0}, {OP_INSTALL, "d", 1, 7, 0}, END_OPS};
static const op_t scen_defrag_pinned[] = {
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "a", 1, 5, 0}, {OP_INSTALL, "b", 1, 3, 0},
    {OP_INSTALL, "c", 1, 6, 0}, {OP_INSTALL, "d", 1, 3, 0}, {OP_INSTALL, "e", 1, 5, 0},
    {OP_REMOVE, "a", 0, 0, 0}, {OP_REMOVE, "c", 0, 0, 0}, {OP_PIN, "d", 0, 0, 0},
    {OP_DEFRAG, 0, 0, 0, 0}, {OP_REMOVE_BUSY, "d", 0, 0, 0}, {OP_UNPIN, "d", 0, 0, 0},
    {OP_DEFRAG, 0, 0, 0, 2}, {OP_DEFRAG, 0, 0, 0, 0}, END_OPS};
static const op_t scen_replace_pinned[] = {
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "a", 1, 5, 0}, {OP_INSTALL, "b", 1, 3, 0},
    {OP_PIN, "a", 0, 0, 0}, {OP_INSTALL, "a", 2, 4, 0}, {OP_DEFRAG, 0, 0, 0, 0},
    {OP_UNPIN, "a", 0, 0, 0}, {OP_INSTALL, "c", 1, 6, 0}, {OP_REMOVE, "a", 0, 0, 0}, END_OPS};
static const op_t scen_log_wrap[] = { /* enough records to compact the metadata several times */
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "a", 1, 2, 0}, {OP_INSTALL, "b", 1, 2, 0},
    {OP_INSTALL, "a", 2, 2, 0}, {OP_INSTALL, "b", 2, 2, 0}, {OP_INSTALL, "a", 3, 2, 0},
    {OP_INSTALL, "b", 3, 2, 0}, {OP_REMOVE, "a", 0, 0, 0}, {OP_INSTALL, "c", 1, 2, 0},
    {OP_INSTALL, "a", 4, 2, 0}, {OP_INSTALL, "c", 2, 2, 0}, {OP_REMOVE, "b", 0, 0, 0},
    {OP_INSTALL, "b", 4, 2, 0}, {OP_INSTALL, "c", 3, 2, 0}, {OP_INSTALL, "a", 5, 2, 0},
    {OP_FORMAT, 0, 0, 0, 0}, {OP_INSTALL, "z", 1, 2, 0}, END_OPS};
static const op_t *const scens[] = {scen_fill, scen_replace, scen_remove_middle, scen_defrag_pinned,
                                    scen_replace_pinned, scen_log_wrap};
static const char *const scen_names[] = {"fill", "replace", "remove in the middle",
                                         "defragment with a pinned module", "replace while pinned",
                                         "metadata compaction and reformat"};
#define N_SCENS (sizeof scens / sizeof scens[0])

/* Modules of one scenario run, built once per (geometry, scenario). */
typedef struct pool {
    uint8_t *mod[32];
    size_t len[32];
} pool_t;

static int build_pool(const sf_geom_t *g, const op_t *ops, pool_t *p) {
    memset(p, 0, sizeof *p);
    for (unsigned i = 0; ops[i].kind >= 0; i++) {
        if (ops[i].kind == OP_INSTALL) {
            uint64_t seed = ops[i].name[0] * 1000003ull + ops[i].variant * 7919ull + g->block_size;
            uint32_t size = g->block_size * ops[i].size / 4 + 64;
            if (size > 6000) {
                size = 6000; /* large erase blocks: modules of a few KB */
            }
            if (sf_module(g->linked, ops[i].name, seed, size, &p->mod[i], &p->len[i]) != NM_OK) {
                return -1;
            }
        }
    }
    return 0;
}

static void free_pool(pool_t *p) {
    for (unsigned i = 0; i < 32; i++) {
        free(p->mod[i]);
    }
}

typedef struct pins {
    const char *name[8];
    const nm_store_entry_t *e[8];
    unsigned n;
} pins_t;

/* Run op i; update model on success. Returns 0, or 1 with why. */
static int run_op(sf_store_t *f, const op_t *op, const pool_t *p, unsigned i, sf_model_t *m, pins_t *pins,
                  char *why, size_t wn) {
    nm_detail_t d = {{0}};
    int rc = NM_OK;
    switch (op->kind) {
    case OP_FORMAT:
        rc = nm_store_format(&f->st, &f->cfg, &d);
        if (rc == NM_OK) {
            m->n = 0;
            pins->n = 0;
        }
        break;
    case OP_INSTALL:
        rc = nm_store_install(&f->st, p->mod[i], p->len[i], op->name, NULL, &d);
        if (rc == NM_OK) {
            sf_model_set(m, op->name, p->mod[i], p->len[i]);
        }
        break;
    case OP_REMOVE:
        rc = nm_store_remove(&f->st, op->name, &d);
        if (rc == NM_OK) {
            sf_model_del(m, op->name);
        }
        break;
    case OP_REMOVE_BUSY:
        rc = nm_store_remove(&f->st, op->name, &d);
        if (rc == NM_ERR_BUSY) {
            return 0;
        }
        if (!f->emu.dead) {
            snprintf(why, wn, "remove of pinned '%s' gave %d, not busy", op->name, rc);
            return 1;
        }
        break;
    case OP_DEFRAG: {
        uint32_t pinned_at[8];
        for (unsigned k = 0; k < pins->n; k++) {
            pinned_at[k] = pins->e[k]->start;
        }
        nm_store_defrag_result_t r;
        rc = nm_store_defrag(&f->st, op->budget, &r, &d);
        for (unsigned k = 0; rc == NM_OK && k < pins->n; k++) {
            if (pins->e[k]->start != pinned_at[k]) {
                snprintf(why, wn, "defrag moved pinned '%s'", pins->name[k]);
                return 1;
            }
        }
        break;
    }
    case OP_PIN:
        rc = nm_store_pin(&f->st, op->name, &pins->e[pins->n], &d);
        if (rc == NM_OK) {
            pins->name[pins->n++] = op->name;
        }
        break;
    case OP_UNPIN:
        for (unsigned k = 0; k < pins->n; k++) {
            if (!strcmp(pins->name[k], op->name)) {
                nm_store_unpin(&f->st, pins->e[k]);
                pins->e[k] = pins->e[--pins->n];
                pins->name[k] = pins->name[pins->n];
                break;
            }
        }
        break;
    }
    if (rc != NM_OK && !f->emu.dead) {
        snprintf(why, wn, "op %u failed with %d: %s", i, rc, d.msg);
        return 1;
    }
    return 0;
}

static void trace(sf_store_t *f, const char *what, unsigned i) {
    if (!getenv("SF_TRACE")) {
        return;
    }
    printf("  %s op %u:", what, i);
    uint32_t pos = 0;
    const nm_store_entry_t *e;
    while ((e = nm_store_next(&f->st, &pos)) != NULL) {
        nm_image_t img;
        int ok = nm_image_parse(f->emu.mem + nm_store_offset(&f->st, e), e->size, &img, NULL) == NM_OK;
        printf(" %s@%u+%u(pins %u, linked for %#x)", e->name, e->start, e->n_blocks, e->pins,
               ok ? (unsigned)(img.xip_text_addr - (uint32_t)(uintptr_t)f->emu.mem - 64) : 0xdeadu);
    }
    printf("\n");
}

static int same_model(sf_store_t *f, const sf_model_t *m) {
    char w[200];
    return sf_check(f, m, w, sizeof w) == 0;
}

/* One run: cut < 0 runs clean. *ops_out receives the device operations of
 * a clean run. Returns 0 ok, 1 failure (why), 2 cut beyond the end. */
static int run_scenario(unsigned gi, unsigned si, long cut, int var, long *ops_out, char *why, size_t wn) {
    const sf_geom_t *g = &geoms[gi];
    const op_t *ops = scens[si];
    pool_t p;
    sf_store_t *f = calloc(1, sizeof *f);
    if (!f || build_pool(g, ops, &p) != 0 || sf_open(f, g) != NM_OK) {
        snprintf(why, wn, "setup failed");
        free(f);
        return 1;
    }
    sf_model_t m = {0};
    pins_t pins = {0};
    int res = 0;
    if (cut >= 0) {
        nm_bd_emu_cut_after(&f->emu, cut, var == 0 ? NM_EMU_TEAR_NONE : NM_EMU_TEAR_RANDOM,
                            (uint64_t)cut * 2654435761u + (uint64_t)var, var == 2);
    }
    unsigned i = 0;
    int had_store = 0;
    sf_model_t before = m;
    for (; ops[i].kind >= 0; i++) {
        before = m;
        if (run_op(f, &ops[i], &p, i, &m, &pins, why, wn)) {
            res = 1;
            goto out;
        }
        trace(f, f->emu.dead ? "cut in" : "after", i);
        if (f->emu.dead) {
            break;
        }
        had_store |= ops[i].kind == OP_FORMAT;
    }
    if (ops[i].kind < 0) {
        if (cut >= 0) {
            res = 2;
            goto out;
        }
        *ops_out = f->emu.ops;
    } else {
        /* Power comes back: mount, and the interrupted op is all or nothing. */
        sf_model_t after = before;
        const op_t *op = &ops[i];
        if (op->kind == OP_INSTALL) {
            sf_model_set(&after, op->name, p.mod[i], p.len[i]);
        } else if (op->kind == OP_REMOVE) {
            sf_model_del(&after, op->name);
        } else if (op->kind == OP_FORMAT) {
            after.n = 0;
        }
        nm_bd_emu_power_on(&f->emu);
        nm_detail_t d = {{0}};
        int rc = nm_store_mount(&f->st, &f->cfg, &d);
        if (rc != NM_OK) {
            if (!had_store && op->kind == OP_FORMAT) {
                /* No store existed before this format: "not done" is no store. */
                if (nm_store_format(&f->st, &f->cfg, &d) != NM_OK) {
                    snprintf(why, wn, "format after a cut first format: %s", d.msg);
                    res = 1;
                    goto out;
                }
                m = after;
            } else {
                snprintf(why, wn, "mount after the cut in op %u failed: %s", i, d.msg);
                res = 1;
                goto out;
            }
        } else if (same_model(f, &before)) {
            m = before;
            i--; /* not done: the firmware does it again */
        } else if (same_model(f, &after)) {
            m = after;
        } else {
            char w1[200], w2[200];
            sf_check(f, &before, w1, sizeof w1);
            sf_check(f, &after, w2, sizeof w2);
            snprintf(why, wn, "after the cut in op %u the store is neither before (%s) nor after (%s)", i, w1, w2);
            res = 1;
            goto out;
        }
        if (f->st.bad_records) {
            snprintf(why, wn, "a power cut left %u damaged metadata records", f->st.bad_records);
            res = 1;
            goto out;
        }
        /* Pins are RAM: the firmware loads its modules again after boot. */
        unsigned held = pins.n;
        pins.n = 0;
        for (unsigned k = 0; k < held; k++) {
            if (nm_store_pin(&f->st, pins.name[k], &pins.e[pins.n], &d) == NM_OK) {
                pins.name[pins.n++] = pins.name[k];
            }
        }
        trace(f, "mounted after cut in", i);
        for (i++; ops[i].kind >= 0; i++) {
            if (run_op(f, &ops[i], &p, i, &m, &pins, why, wn)) {
                res = 1;
                goto out;
            }
            trace(f, "after", i);
        }
    }
    if (sf_check(f, &m, why, wn)) {
        res = 1;
        goto out;
    }
    /* And once more from a cold mount. */
    for (unsigned k = 0; k < pins.n; k++) {
        nm_store_unpin(&f->st, pins.e[k]);
    }
    nm_detail_t d2;
    if (nm_store_mount(&f->st, &f->cfg, &d2) != NM_OK || sf_check(f, &m, why, wn)) {
        if (!why[0]) {
            snprintf(why, wn, "final remount: %s", d2.msg);
        }
        res = 1;
        goto out;
    }
    /* The erase counts the store keeps (WEAR records + log) never exceed
     * the device's, and a data block misses at most the one erase of the
     * operation the cut interrupted (docs/store.md 7b). */
    for (uint32_t b = 0; b < g->block_count; b++) {
        uint32_t have = f->cfg.erase_counts[b], real = f->emu.erase_counts[b];
        if (have > real || (b < f->st.data_blocks && real - have > 1)) {
            snprintf(why, wn, "block %u: the store counts %u erases, the device saw %u", (unsigned)b,
                     (unsigned)have, (unsigned)real);
            res = 1;
            goto out;
        }
    }
out:
    sf_close(f);
    free(f);
    free_pool(&p);
    return res;
}

static unsigned long exhaustive(int only_g, int only_s) {
    unsigned long runs = 0, fails = 0;
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        if (only_g >= 0 && (unsigned)only_g != gi) {
            continue;
        }
        for (unsigned si = 0; si < N_SCENS; si++) {
            if (only_s >= 0 && (unsigned)only_s != si) {
                continue;
            }
            char why[600] = "";
            long n = 0;
            if (run_scenario(gi, si, -1, 0, &n, why, sizeof why) != 0) {
                printf("FAIL replay=%u:%u:-1:0 (%s, %s, no cut): %s\n", gi, si, geoms[gi].label, scen_names[si], why);
                fails++;
                continue;
            }
            unsigned long here = 0, here_fail = 0;
            for (long c = 0; c < n; c++) {
                for (int v = 0; v < 3; v++) {
                    why[0] = '\0';
                    int r = run_scenario(gi, si, c, v, &n, why, sizeof why);
                    here++;
                    if (r == 1) {
                        here_fail++;
                        if (here_fail <= 5) {
                            printf("FAIL replay=%u:%u:%ld:%d (%s, %s): %s\n", gi, si, c, v, geoms[gi].label,
                                   scen_names[si], why);
                        }
                    }
                }
            }
            printf("%-46s %-34s %5ld cut points x 3: %lu runs, %lu failed\n", geoms[gi].label, scen_names[si], n,
                   here, here_fail);
            runs += here;
            fails += here_fail;
        }
    }
    printf("exhaustive: %lu runs, %lu failed\n", runs, fails);
    return fails;
}

/* Random operations with random power cuts; the model follows every
 * operation that completed and, after a cut, whichever side it landed. */
static unsigned long random_run(unsigned long nops, uint64_t seed, unsigned gi) {
    const sf_geom_t *g = &geoms[gi];
    sf_store_t *f = calloc(1, sizeof *f);
    static uint8_t *mods[8][4];
    static size_t lens[8][4];
    static const char *const names[8] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"};
    uint64_t r = seed;
    for (unsigned k = 0; k < 8; k++) {
        for (unsigned v = 0; v < 4; v++) {
            uint32_t size = 100 + (uint32_t)(sf_rnd(&r) % (g->block_size * 2u < 5000 ? g->block_size * 2u : 5000));
            if (sf_module(g->linked, names[k], sf_rnd(&r), size, &mods[k][v], &lens[k][v]) != NM_OK) {
                return 1;
            }
        }
    }
    nm_detail_t d;
    sf_model_t m = {0};
    unsigned long fails = 0, cuts = 0;
    if (!f || sf_open(f, g) != NM_OK || nm_store_format(&f->st, &f->cfg, &d) != NM_OK) {
        return 1;
    }
    for (unsigned long i = 0; i < nops && fails < 5; i++) {
        unsigned k = (unsigned)(sf_rnd(&r) % 8), v = (unsigned)(sf_rnd(&r) % 4), what = (unsigned)(sf_rnd(&r) % 10);
        int armed = sf_rnd(&r) % 4 == 0;
        if (armed) {
            nm_bd_emu_cut_after(&f->emu, (long)(sf_rnd(&r) % 40), NM_EMU_TEAR_RANDOM, sf_rnd(&r), (int)(sf_rnd(&r) & 1));
        }
        sf_model_t before = m, after = m;
        int rc;
        if (what < 6) {
            rc = nm_store_install(&f->st, mods[k][v], lens[k][v], names[k], NULL, &d);
            sf_model_set(&after, names[k], mods[k][v], lens[k][v]);
            if (rc == NM_ERR_NOSPC) {
                after = before;
                rc = NM_OK;
            }
        } else if (what < 9) {
            rc = nm_store_remove(&f->st, names[k], &d);
            sf_model_del(&after, names[k]);
            if (rc == NM_ERR_NOENT) {
                rc = NM_OK;
            }
        } else {
            nm_store_defrag_result_t res;
            rc = nm_store_defrag(&f->st, (uint32_t)(sf_rnd(&r) % 8), &res, &d);
        }
        if (f->emu.dead) {
            cuts++;
            nm_bd_emu_power_on(&f->emu);
            if (nm_store_mount(&f->st, &f->cfg, &d) != NM_OK) {
                printf("FAIL random seed=%llu op=%lu: mount after cut: %s\n", (unsigned long long)seed, i, d.msg);
                fails++;
                break;
            }
            m = same_model(f, &before) ? before : after;
            /* The wear records survive: no block is overcounted, and a data
             * block misses at most one erase per interrupted operation. */
            for (uint32_t b = 0; b < g->block_count; b++) {
                uint32_t have = f->cfg.erase_counts[b], real = f->emu.erase_counts[b];
                if (have > real || (b < f->st.data_blocks && real - have > cuts)) {
                    printf("FAIL random seed=%llu op=%lu: block %u counted %u erases, device %u (%lu cuts)\n",
                           (unsigned long long)seed, i, (unsigned)b, (unsigned)have, (unsigned)real, cuts);
                    fails++;
                    break;
                }
            }
        } else if (rc != NM_OK) {
            printf("FAIL random seed=%llu op=%lu: %s\n", (unsigned long long)seed, i, d.msg);
            fails++;
            continue;
        } else {
            m = after;
        }
        nm_bd_emu_power_on(&f->emu);
        char why[300];
        if (sf_check(f, &m, why, sizeof why)) {
            printf("FAIL random seed=%llu op=%lu (%s): %s\n", (unsigned long long)seed, i, geoms[gi].label, why);
            fails++;
        }
    }
    uint32_t mx = 0;
    uint64_t tot = 0;
    for (uint32_t b = 0; b < g->block_count; b++) {
        mx = f->emu.erase_counts[b] > mx ? f->emu.erase_counts[b] : mx;
        tot += f->emu.erase_counts[b];
    }
    printf("random (%s): %lu operations, %lu power cuts, %lu failed; erases max %u, mean %.1f\n", geoms[gi].label,
           nops, cuts, fails, mx, (double)tot / g->block_count);
    sf_close(f);
    free(f);
    for (unsigned k = 0; k < 8; k++) {
        for (unsigned v = 0; v < 4; v++) {
            free(mods[k][v]);
        }
    }
    return fails;
}

int main(int argc, char **argv) {
    unsigned long nrandom = 3000;
    uint64_t seed = 20261121;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--replay") && a + 1 < argc) {
            unsigned gi, si;
            long c;
            int v;
            if (sscanf(argv[++a], "%u:%u:%ld:%d", &gi, &si, &c, &v) != 4 || gi >= N_GEOMS || si >= N_SCENS) {
                fprintf(stderr, "test_store_powercut: bad replay id '%s' (G:S:C:V)\n", argv[a]);
                return 2;
            }
            char why[600] = "";
            long n = 0;
            int r = run_scenario(gi, si, c, v, &n, why, sizeof why);
            printf("replay %u:%u:%ld:%d: %s %s\n", gi, si, c, v, r == 1 ? "FAIL" : r == 2 ? "cut past the end" : "ok",
                   why);
            printf("%d passed, %d failed\n", r != 1, r == 1);
            return r == 1;
        } else if (!strcmp(argv[a], "--random") && a + 1 < argc) {
            nrandom = strtoul(argv[++a], NULL, 0);
        } else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
            seed = strtoull(argv[++a], NULL, 0);
        } else {
            fprintf(stderr, "usage: test_store_powercut [--replay G:S:C:V] [--random N] [--seed S]\n");
            return 2;
        }
    }
    unsigned long fails = exhaustive(-1, -1);
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        fails += random_run(nrandom, seed + gi, gi);
    }
    printf("%lu passed, %lu failed\n", fails ? 0ul : 1ul, fails);
    return fails != 0;
}
