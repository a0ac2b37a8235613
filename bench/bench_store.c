/*
 * bench_store: the flash module store on the emulated device (copy mode,
 * x86-64 test modules), for a host-like geometry and a small-block
 * Cortex-M-like one. Prints four tables of deterministic device counts
 * (reads, bytes read, programs, bytes programmed, erases; wall time only as
 * a secondary column):
 *  1. mount cost vs installed modules (target: linear or better);
 *  2. install write amplification (target: bytes programmed <= 1.1 x module
 *     + one metadata record unit), and the amortized cost of metadata
 *     compaction over many replaces;
 *  3. defragmentation of a fragmented store, unbounded and with a budget;
 *  4. erase-count spread after 10,000 random operations (target: max <=
 *     2 x mean per block).
 * A benchmark, not a test: FAIL rows are reported, the exit status is 0
 * unless the store could not be set up or an operation failed outright.
 */
#define _POSIX_C_SOURCE 200809L
#define SF_MAX_ENTRIES 160 /* >= 128: 100 modules plus room */

#include <time.h>

#include "store_fixture.h"

typedef struct bgeom {
    sf_geom_t g;
    const char *tag; /* short label for table rows */
} bgeom_t;

/* meta_blocks: 256 record slots per area in both (100 modules + a log). */
static const bgeom_t geoms[] = {
    {{"host: 4 KB blocks, prog 16, 256 blocks (1 MB), 2 x 4 meta blocks", 4096, 16, 256, 0, 4, 0}, "host-4K"},
    {{"Cortex-M: 1 KB blocks, prog 4, 256 blocks (256 KB), 2 x 16 meta blocks", 1024, 4, 256, 0, 16, 0},
     "cm-1K"},
};
#define N_GEOMS (sizeof geoms / sizeof geoms[0])

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, int rc, const nm_detail_t *d) {
    fprintf(stderr, "bench_store: %s: %s (%s)\n", what, nm_strerror(rc), d ? d->msg : "");
    exit(1);
}

/* ---- device counters split into data and metadata blocks ---- */

static nm_bd_prog_fn emu_prog;
static nm_bd_erase_fn emu_erase;
static uint32_t g_data_blocks;
static uint64_t meta_progs, meta_bytes, meta_erases;

static int count_prog(const nm_store_config_t *c, uint32_t block, uint32_t off, const void *buf, uint32_t size) {
    int rc = emu_prog(c, block, off, buf, size);
    if (rc == NM_OK && block >= g_data_blocks) {
        meta_progs++;
        meta_bytes += size;
    }
    return rc;
}

static int count_erase(const nm_store_config_t *c, uint32_t block) {
    int rc = emu_erase(c, block);
    if (rc == NM_OK && block >= g_data_blocks) {
        meta_erases++;
    }
    return rc;
}

typedef struct snap {
    uint64_t reads, bread, progs, bprog, erases, mprogs, mbytes, merases;
} snap_t;

static snap_t snap(const sf_store_t *f) {
    snap_t s = {f->emu.n_reads, f->emu.bytes_read, f->emu.n_progs, f->emu.bytes_prog, f->emu.n_erases,
                meta_progs, meta_bytes, meta_erases};
    return s;
}

static snap_t since(const sf_store_t *f, snap_t a) {
    snap_t b = snap(f);
    snap_t r = {b.reads - a.reads, b.bread - a.bread, b.progs - a.progs, b.bprog - a.bprog,
                b.erases - a.erases, b.mprogs - a.mprogs, b.mbytes - a.mbytes, b.merases - a.merases};
    return r;
}

/* A formatted store on a fresh device, its prog/erase counted per kind. */
static sf_store_t *bopen(const bgeom_t *bg) {
    sf_store_t *f = calloc(1, sizeof *f);
    nm_detail_t d = {{0}};
    int rc;
    if (!f || (rc = sf_open(f, &bg->g)) != NM_OK) {
        die("cannot create the emulated device", NM_ERR_NOMEM, NULL);
    }
    emu_prog = f->cfg.prog;
    emu_erase = f->cfg.erase;
    f->cfg.prog = count_prog;
    f->cfg.erase = count_erase;
    f->cfg.max_entries = SF_MAX_ENTRIES;
    g_data_blocks = bg->g.block_count - 2 * bg->g.meta_blocks;
    if ((rc = nm_store_format(&f->st, &f->cfg, &d)) != NM_OK || f->st.data_blocks != g_data_blocks) {
        die("format", rc, &d);
    }
    return f;
}

static void bclose(sf_store_t *f) {
    if (f->emu.violations) {
        fprintf(stderr, "bench_store: %llu flash rule violations\n", (unsigned long long)f->emu.violations);
        exit(1);
    }
    sf_close(f);
    free(f);
}

/* A copy-mode module of about size bytes (exact length in *len). */
static uint8_t *module(const char *name, uint64_t seed, uint32_t size, size_t *len) {
    uint8_t *m = NULL;
    if (sf_module(0, name, seed, size, &m, len) != NM_OK) {
        die("cannot build a test module", NM_ERR_NOMEM, NULL);
    }
    return m;
}

static void install(sf_store_t *f, const char *name, uint64_t seed, uint32_t size) {
    size_t len;
    uint8_t *m = module(name, seed, size, &len);
    nm_detail_t d = {{0}};
    int rc = nm_store_install(&f->st, m, len, name, NULL, &d);
    free(m);
    if (rc != NM_OK) {
        die("install", rc, &d);
    }
}

static void mount(sf_store_t *f) {
    nm_detail_t d = {{0}};
    int rc = nm_store_mount(&f->st, &f->cfg, &d);
    if (rc != NM_OK) {
        die("mount", rc, &d);
    }
}

/* ---- 1. mount cost ---- */

static void mount_row(sf_store_t *f, const bgeom_t *bg, const char *what, uint32_t n, double base_bytes) {
    snap_t a = snap(f);
    mount(f);
    snap_t c = since(f, a);
    enum { RUNS = 51 };
    double t[RUNS];
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_us();
        mount(f);
        t[i] = now_us() - t0;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    nm_store_stats_t st;
    nm_store_stat(&f->st, &st);
    char per[16] = "-", marg[16] = "-";
    if (n) {
        snprintf(per, sizeof per, "%.0f", (double)c.bread / n);
        snprintf(marg, sizeof marg, "%.0f", ((double)c.bread - base_bytes) / n);
    }
    printf("%-8s %-14s %7u %8u %8llu %10llu %9s %11s %9.1f\n", bg->tag, what, st.n_modules, st.log_used,
           (unsigned long long)c.reads, (unsigned long long)c.bread, per, marg, t[RUNS / 2]);
}

static void bench_mount(void) {
    printf("== 1. mount cost vs installed modules (modules of ~700 B, one block each; a fresh\n"
           "      store after N installs, so the log holds N records; \"compacted\": the same\n"
           "      100 modules after the log was compacted into a snapshot)\n");
    printf("%-8s %-14s %7s %8s %8s %10s %9s %11s %9s\n", "geometry", "state", "modules", "records", "reads",
           "bytes read", "B/module", "B/module", "median");
    printf("%-8s %-14s %7s %8s %8s %10s %9s %11s %9s\n", "", "", "", "slots", "", "", "", "over empty",
           "us");
    static const uint32_t counts[] = {0, 1, 10, 100};
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        const bgeom_t *bg = &geoms[gi];
        double base = 0;
        for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; k++) {
            sf_store_t *f = bopen(bg);
            for (uint32_t i = 0; i < counts[k]; i++) {
                char name[16];
                snprintf(name, sizeof name, "m%03u", (unsigned)i);
                install(f, name, 1000 + i, 700);
            }
            char what[24];
            snprintf(what, sizeof what, "%u installed", (unsigned)counts[k]);
            if (k == 0) {
                snap_t a = snap(f);
                mount(f);
                base = (double)since(f, a).bread;
            }
            mount_row(f, bg, what, counts[k], base);
            if (counts[k] == 100) {
                /* Replace one module until the log is compacted once. */
                uint32_t gen = f->st.generation;
                for (uint64_t v = 0; f->st.generation == gen; v++) {
                    install(f, "m000", 5000 + v, 700);
                }
                mount_row(f, bg, "100 compacted", 100, base);
            }
            bclose(f);
        }
    }
    printf("B/module over empty = (bytes read - bytes read by an empty store's mount) / modules.\n"
           "Reads per mount: both area headers, the snapshot twice (probe, replay), every log\n"
           "record, one 64-byte header per module (check_entries).\n\n");
}

/* ---- 2. write amplification ---- */

static void bench_wamp(void) {
    printf("== 2. install write amplification (one install into a store holding 3 modules;\n"
           "      bound = 1.1 x module bytes + one record unit, NM_STORE_UNIT(prog) bytes)\n");
    printf("%-8s %7s %6s %6s %10s %8s %6s %6s %8s %-4s %6s %9s %6s %8s %7s\n", "geometry", "module", "blocks",
           "progs", "bytes", "of which", "prog/", "bound", "bound", "", "erases", "erased B/", "reads", "bytes",
           "compact");
    printf("%-8s %7s %6s %6s %10s %8s %6s %6s %8s %-4s %6s %9s %6s %8s %7s\n", "", "bytes", "", "", "programmed",
           "meta", "module", "/module", "bytes", "", "blocks", "module B", "", "read", "ions");
    static const uint32_t sizes[] = {1024, 4096, 16384, 65536};
    int fails = 0;
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        const bgeom_t *bg = &geoms[gi];
        uint32_t unit = NM_STORE_UNIT(bg->g.prog_size);
        for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            sf_store_t *f = bopen(bg);
            install(f, "a", 1, 900);
            install(f, "b", 2, 2500);
            install(f, "c", 3, 5000);
            size_t len;
            uint8_t *m = module("big", 77 + k, sizes[k], &len);
            uint32_t gen = f->st.generation;
            nm_detail_t d = {{0}};
            snap_t a = snap(f);
            int rc = nm_store_install(&f->st, m, len, NULL, NULL, &d);
            snap_t c = since(f, a);
            if (rc != NM_OK) {
                die("install", rc, &d);
            }
            double bound = 1.1 * (double)len + unit;
            int ok = (double)c.bprog <= bound;
            fails += !ok;
            uint32_t blocks = (uint32_t)((len + bg->g.block_size - 1) / bg->g.block_size);
            printf("%-8s %7zu %6u %6llu %10llu %8llu %6.3f %6.3f %8.0f %-4s %6llu %9.3f %6llu %8llu %7u\n", bg->tag,
                   len, blocks, (unsigned long long)c.progs, (unsigned long long)c.bprog,
                   (unsigned long long)c.mbytes, (double)c.bprog / (double)len, bound / (double)len, bound,
                   ok ? "PASS" : "FAIL", (unsigned long long)c.erases,
                   (double)c.erases * bg->g.block_size / (double)len, (unsigned long long)c.reads,
                   (unsigned long long)c.bread, f->st.generation - gen);
            free(m);
            bclose(f);
        }
    }
    printf("erased B/module B = erased blocks x block size / module bytes (the extent's tail\n"
           "slack); bytes read = the read-back verification of the extent (+ the log slot probe);\n"
           "progs: one per program unit (staged writes), the metadata record included.\n");
    printf("write-amplification bound: %s\n\n", fails ? "FAIL" : "PASS on every row");

    printf("-- amortized metadata cost: 2000 replaces of one ~1 KB module in a store of 10\n");
    printf("%-8s %6s %8s %11s %10s %12s %12s %11s %10s\n", "geometry", "unit", "installs", "compactions",
           "meta progs", "meta bytes", "meta B per", "compaction", "meta erases");
    printf("%-8s %6s %8s %11s %10s %12s %12s %11s %10s\n", "", "bytes", "", "", "", "programmed", "install",
           "B/install", "per install");
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        const bgeom_t *bg = &geoms[gi];
        uint32_t unit = NM_STORE_UNIT(bg->g.prog_size);
        sf_store_t *f = bopen(bg);
        for (unsigned i = 0; i < 9; i++) {
            char name[8];
            snprintf(name, sizeof name, "k%u", i);
            install(f, name, 10 + i, 1000);
        }
        /* Pre-build the versions so module building stays out of the loop. */
        enum { VERSIONS = 4, INSTALLS = 2000 };
        uint8_t *v[VERSIONS];
        size_t vl[VERSIONS];
        for (unsigned i = 0; i < VERSIONS; i++) {
            v[i] = module("r", 900 + i, 1000, &vl[i]);
        }
        uint32_t gen = f->st.generation;
        snap_t a = snap(f);
        for (unsigned i = 0; i < INSTALLS; i++) {
            nm_detail_t d = {{0}};
            int rc = nm_store_install(&f->st, v[i % VERSIONS], vl[i % VERSIONS], NULL, NULL, &d);
            if (rc != NM_OK) {
                die("replace", rc, &d);
            }
        }
        snap_t c = since(f, a);
        for (unsigned i = 0; i < VERSIONS; i++) {
            free(v[i]);
        }
        double per = (double)c.mbytes / INSTALLS;
        printf("%-8s %6u %8u %11u %10llu %12llu %12.1f %11.1f %10.4f\n", bg->tag, unit, INSTALLS,
               f->st.generation - gen, (unsigned long long)c.mprogs, (unsigned long long)c.mbytes, per,
               per - unit, (double)c.merases / INSTALLS);
        bclose(f);
    }
    printf("compaction B/install = metadata bytes per install beyond its own record (the\n"
           "snapshots written by compactions, amortized); each compaction also erases one area.\n\n");
}

/* ---- 3. defragmentation ---- */

/* Fill to ~75% with modules of 1..4 blocks, then remove every other one in
 * address order. Deterministic: the same state every call. */
static sf_store_t *fragmented(const bgeom_t *bg, uint32_t *n_left) {
    sf_store_t *f = bopen(bg);
    uint32_t bs = bg->g.block_size, used = 0, i = 0;
    while (used < f->st.data_blocks * 3 / 4) {
        uint32_t nb = 1 + i % 4;
        char name[16];
        snprintf(name, sizeof name, "f%03u", (unsigned)i);
        install(f, name, 3000 + i, nb * bs - 300);
        used += nb;
        i++;
    }
    uint32_t pos = 0, k = 0;
    const nm_store_entry_t *e;
    char names[SF_MAX_ENTRIES][NM_STORE_NAME_MAX + 1];
    uint32_t nr = 0;
    while ((e = nm_store_next(&f->st, &pos)) != NULL) {
        if (k++ % 2 == 0) {
            memcpy(names[nr++], e->name, sizeof names[0]);
        }
    }
    for (uint32_t j = 0; j < nr; j++) {
        nm_detail_t d = {{0}};
        int rc = nm_store_remove(&f->st, names[j], &d);
        if (rc != NM_OK) {
            die("remove", rc, &d);
        }
    }
    *n_left = i - nr;
    return f;
}

static void bench_defrag(void) {
    printf("== 3. defragmentation: a store filled to 75%% with modules of 1-4 blocks (cycling),\n"
           "      every other one (address order) removed\n");
    printf("%-8s %-6s %7s %6s %6s %8s %6s %5s %7s %7s %6s %9s %6s %9s %6s %7s\n", "geometry", "budget", "modules",
           "free", "calls", "moved", "moved", "moves", "largest", "largest", "reads", "bytes", "progs", "bytes",
           "erases", "time");
    printf("%-8s %-6s %7s %6s %6s %8s %6s %5s %7s %7s %6s %9s %6s %9s %6s %7s\n", "", "blocks", "left", "blocks",
           "", "bytes", "blocks", "", "free", "free", "", "read", "", "programmed", "", "us");
    static const uint32_t budgets[] = {0, 32, 8, 4, 2};
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        const bgeom_t *bg = &geoms[gi];
        for (unsigned b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            uint32_t left;
            sf_store_t *f = fragmented(bg, &left);
            nm_store_stats_t st0, st1;
            nm_store_stat(&f->st, &st0);
            nm_store_defrag_result_t tot = {0}, r;
            uint32_t calls = 0;
            int stuck = 0;
            snap_t a = snap(f);
            double t0 = now_us();
            do {
                nm_detail_t d = {{0}};
                int rc = nm_store_defrag(&f->st, budgets[b], &r, &d);
                if (rc != NM_OK) {
                    die("defrag", rc, &d);
                }
                calls++;
                tot.moved_bytes += r.moved_bytes;
                tot.moved_blocks += r.moved_blocks;
                tot.moves += r.moves;
                if (!r.done && r.moves == 0) {
                    stuck = 1; /* the budget is smaller than the next move */
                    break;
                }
            } while (!r.done && calls < 100000);
            double t = now_us() - t0;
            snap_t c = since(f, a);
            nm_store_stat(&f->st, &st1);
            char bud[16];
            snprintf(bud, sizeof bud, "%s", budgets[b] ? "" : "none");
            if (budgets[b]) {
                snprintf(bud, sizeof bud, "%u", (unsigned)budgets[b]);
            }
            printf("%-8s %-6s %7u %6u %6u %8u %6u %5u %7u %7u %6llu %9llu %6llu %9llu %6llu %7.0f%s\n", bg->tag, bud,
                   left, st0.free_blocks, calls, tot.moved_bytes, tot.moved_blocks, tot.moves, st0.largest_free,
                   st1.largest_free, (unsigned long long)c.reads, (unsigned long long)c.bread,
                   (unsigned long long)c.progs, (unsigned long long)c.bprog, (unsigned long long)c.erases, t,
                   stuck ? "  STUCK" : "");
            bclose(f);
        }
    }
    printf("old policy (always toward block 0; 4c7d0cc), the same stores, budgets none..4: host-4K 443248 B,\n"
           "112 blocks, 38 moves; cm-1K 92216 B, 104 blocks, 35 moves (budget 2: STUCK, 0 moved). Target: moved\n"
           "bytes <= 1.2 x those.\n");
    printf("calls = nm_store_defrag calls until done (a budget-limited call moves whole extents\n"
           "up to the budget; an extent whose target overlaps itself moves twice: park, return).\n"
           "STUCK: a call moved nothing and did not report done (the next move needs more blocks\n"
           "than the budget), so calling again can never finish; the counts are up to there.\n\n");
}

/* ---- 4. erase-count spread ---- */

typedef struct spread {
    uint32_t max, min, max_block;
    double mean;
} spread_t;

static spread_t spread_of(const uint32_t *cnt, uint32_t from, uint32_t to) {
    spread_t s = {0, UINT32_MAX, from, 0};
    uint64_t tot = 0;
    for (uint32_t b = from; b < to; b++) {
        tot += cnt[b];
        if (cnt[b] > s.max) {
            s.max = cnt[b];
            s.max_block = b;
        }
        s.min = cnt[b] < s.min ? cnt[b] : s.min;
    }
    s.mean = to > from ? (double)tot / (to - from) : 0;
    return s;
}

enum { W_OPS = 10000, W_NAMES = 24, W_VARIANTS = 4 };
#define W_OLD_HOST_BYTES 28952518u /* see w_old */
#define W_OLD_CM_BYTES 6820969u
static const uint64_t w_seed = 20260501;

/* What one random run measured, for the before/after table. */
typedef struct wear_result {
    double spread;           /* data blocks: max / mean */
    uint32_t max, max_block; /* the most worn data block */
    uint64_t moved_bytes, moved_blocks, moves; /* by every nm_store_defrag call of the run */
} wear_result_t;

/* One random run; with_defrag 0: the defrag operations are skipped (a
 * diagnostic variant: which erases does defragmentation add?). */
static int wear_run(const bgeom_t *bg, int with_defrag, wear_result_t *wr) {
    uint32_t bs = bg->g.block_size;
    sf_store_t *f = bopen(bg);
    uint64_t r = w_seed;
    static uint8_t *mods[W_NAMES][W_VARIANTS];
    static size_t lens[W_NAMES][W_VARIANTS];
    char names[W_NAMES][8];
    for (unsigned k = 0; k < W_NAMES; k++) {
        snprintf(names[k], sizeof names[k], "w%02u", k);
        for (unsigned v = 0; v < W_VARIANTS; v++) {
            uint32_t size = 256 + (uint32_t)(sf_rnd(&r) % (6u * bs - 256u));
            mods[k][v] = module(names[k], sf_rnd(&r), size, &lens[k][v]);
        }
    }
    unsigned long n_inst = 0, n_rem = 0, n_defrag = 0, n_retry = 0, n_nospc = 0, n_noent = 0;
    uint64_t er_inst = 0, er_defrag = 0, er_meta = 0; /* data erases by installs / defrag moves */
    memset(wr, 0, sizeof *wr);
    for (unsigned long i = 0; i < W_OPS; i++) {
        unsigned k = (unsigned)(sf_rnd(&r) % W_NAMES), v = (unsigned)(sf_rnd(&r) % W_VARIANTS);
        unsigned what = (unsigned)(sf_rnd(&r) % 10);
        uint32_t budget = (uint32_t)(sf_rnd(&r) % 17); /* defrag: 0 = no limit */
        nm_detail_t d = {{0}};
        int rc = NM_OK;
        snap_t a = snap(f);
        if (what < 6) {
            rc = nm_store_install(&f->st, mods[k][v], lens[k][v], names[k], NULL, &d);
            n_inst++;
            if (rc == NM_ERR_NOSPC && with_defrag) {
                nm_store_defrag_result_t res;
                n_retry++;
                snap_t b = snap(f);
                rc = nm_store_defrag(&f->st, 0, &res, &d);
                wr->moved_bytes += res.moved_bytes, wr->moved_blocks += res.moved_blocks, wr->moves += res.moves;
                snap_t c = since(f, b);
                er_defrag += c.erases - c.merases;
                a.erases += c.erases - c.merases; /* not the install's */
                if (rc == NM_OK) {
                    rc = nm_store_install(&f->st, mods[k][v], lens[k][v], names[k], NULL, &d);
                }
            }
            if (rc == NM_ERR_NOSPC) {
                n_nospc++;
                rc = NM_OK;
            }
            snap_t c = since(f, a);
            er_inst += c.erases - c.merases;
            er_meta += c.merases;
        } else if (what < 9) {
            rc = nm_store_remove(&f->st, names[k], &d);
            if (rc == NM_ERR_NOENT) {
                n_noent++;
                rc = NM_OK;
            }
            n_rem++;
            er_meta += since(f, a).merases;
        } else if (with_defrag) {
            nm_store_defrag_result_t res;
            rc = nm_store_defrag(&f->st, budget, &res, &d);
            wr->moved_bytes += res.moved_bytes, wr->moved_blocks += res.moved_blocks, wr->moves += res.moves;
            n_defrag++;
            snap_t c = since(f, a);
            er_defrag += c.erases - c.merases;
            er_meta += c.merases;
        }
        if (rc != NM_OK) {
            die("random operation", rc, &d);
        }
    }
    /* Sanity: every extent's CRC is right, and a remount sees the same. */
    nm_detail_t d = {{0}};
    nm_store_stats_t st;
    nm_store_stat(&f->st, &st);
    uint32_t live = st.n_modules;
    int dmg = nm_store_check(&f->st, &d);
    mount(f);
    nm_store_stat(&f->st, &st);
    if (dmg != 0 || st.n_modules != live || st.bad_records) {
        die("after the random run the store is not intact", dmg < 0 ? dmg : NM_ERR_CORRUPT, &d);
    }
    const uint32_t *ec = f->emu.erase_counts;
    uint32_t nb = bg->g.block_count, db = f->st.data_blocks;
    struct {
        const char *what;
        uint32_t from, to;
    } parts[] = {{"all", 0, nb}, {"data", 0, db}, {"metadata", db, nb}};
    int fails = 0;
    for (unsigned p = 0; p < 3; p++) {
        spread_t s = spread_of(ec, parts[p].from, parts[p].to);
        double ratio = s.mean > 0 ? s.max / s.mean : 0;
        if (p == 1) {
            wr->spread = ratio, wr->max = s.max, wr->max_block = s.max_block;
        }
        int ok = s.max <= 2 * s.mean;
        fails += !ok && with_defrag;
        printf("%-8s %-9s %-10s %6u %6u %6u %8.1f %8.2f %-4s  %u (%s)\n", bg->tag, with_defrag ? "full" : "no defrag",
               parts[p].what, parts[p].to - parts[p].from, s.min, s.max, s.mean, ratio, ok ? "PASS" : "FAIL",
               s.max_block, s.max_block >= db ? "metadata" : "data");
    }
    /* Where the erases went: data blocks in eighths (address order), then per area. */
    printf("%-8s %-9s data erases per block, by eighth of the data blocks (mean):", "", "");
    for (uint32_t e8 = 0; e8 < 8; e8++) {
        spread_t s = spread_of(ec, db * e8 / 8, db * (e8 + 1) / 8);
        printf(" %.0f", s.mean);
    }
    spread_t a0 = spread_of(ec, db, db + f->st.meta_blocks), a1 = spread_of(ec, db + f->st.meta_blocks, nb);
    printf("; meta area 0 %.0f, area 1 %.0f\n", a0.mean, a1.mean);
    printf("%-8s %-9s hottest blocks (erases):", "", "");
    uint32_t shown[6] = {0};
    for (unsigned h = 0; h < 6; h++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t b = 0; b < nb; b++) {
            int seen = 0;
            for (unsigned j = 0; j < h; j++) {
                seen |= shown[j] == b;
            }
            if (!seen && (best == UINT32_MAX || ec[b] > ec[best])) {
                best = b;
            }
        }
        shown[h] = best;
        printf(" %u%s (%u)", best, best >= db ? " meta" : "", ec[best]);
    }
    printf("\n");
    printf("%-8s %-9s erases: %llu by installs, %llu by defrag moves, %llu metadata\n", "", "",
           (unsigned long long)er_inst, (unsigned long long)er_defrag, (unsigned long long)er_meta);
    printf("%-8s %-9s ops: %lu installs (%lu defrag+retry, %lu no room), %lu removes (%lu absent), %lu defrags;\n"
           "%-8s %-9s end: %u modules in %u/%u blocks, generation %u (compactions + 1)\n",
           "", "", n_inst, n_retry, n_nospc, n_rem, n_noent, n_defrag, "", "", st.n_modules, st.used_blocks,
           st.data_blocks, st.generation);
    for (unsigned k = 0; k < W_NAMES; k++) {
        for (unsigned v = 0; v < W_VARIANTS; v++) {
            free(mods[k][v]);
        }
    }
    bclose(f);
    return fails;
}

/* The old policy (defragmentation always packs toward block 0; installs
 * next fit), measured with this benchmark on the store of commit 4c7d0cc:
 * per geometry, full mix then no defrag. */
static const struct {
    double spread;
    uint32_t max, max_block;
    uint64_t moved_bytes, moved_blocks;
} w_old[N_GEOMS][2] = {
    {{2.99, 362, 7, W_OLD_HOST_BYTES, 8294}, {1.04, 91, 26, 0, 0}},
    {{2.75, 341, 7, W_OLD_CM_BYTES, 7867}, {1.03, 92, 0, 0, 0}},
};

static void bench_wear(void) {
    printf("== 4. erase-count spread after %d random operations (seed %llu; %d names x %d\n"
           "      versions of 256 B .. 6 blocks; 60%% install/replace, 30%% remove, 10%% defrag\n"
           "      with a random budget of 0-16 blocks; an install that finds no room defragments\n"
           "      and retries). Per row: max <= 2 x mean. \"no defrag\": the same run with the\n"
           "      defrag operations skipped. Targets (data blocks, max/mean): <= 1.5 with the\n"
           "      defrag mix, <= 1.2 without; defrag bytes moved <= 1.2 x the old policy's\n",
           W_OPS, (unsigned long long)w_seed, W_NAMES, W_VARIANTS);
    printf("%-8s %-9s %-10s %6s %6s %6s %8s %8s %-4s  %s\n", "geometry", "mix", "blocks", "count", "min", "max",
           "mean", "max/mean", "", "hottest block");
    int fails = 0;
    wear_result_t res[N_GEOMS][2];
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        fails += wear_run(&geoms[gi], 1, &res[gi][0]);
        wear_run(&geoms[gi], 0, &res[gi][1]);
    }
    printf("counts are the emulated device's lifetime erases per block (format included).\n");
    printf("erase spread (full mix, per row): %s\n\n", fails ? "FAIL" : "PASS");

    printf("-- before/after: old policy (always pack toward block 0, next-fit installs; measured\n"
           "   on 4c7d0cc) vs now (pack toward the less worn end, least-worn parking and installs)\n");
    printf("%-8s %-9s %7s %7s %6s %15s %15s %11s %11s %6s %-4s\n", "geometry", "mix", "spread", "spread",
           "target", "most worn", "most worn", "defrag B", "defrag B", "bytes", "");
    printf("%-8s %-9s %7s %7s %6s %15s %15s %11s %11s %6s %-4s\n", "", "", "old", "now", "", "old (block)",
           "now (block)", "moved old", "moved now", "now/old", "");
    int tfails = 0;
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        for (unsigned k = 0; k < 2; k++) {
            const wear_result_t *w = &res[gi][k];
            double target = k ? 1.2 : 1.5;
            double ratio = w_old[gi][k].moved_bytes ? (double)w->moved_bytes / (double)w_old[gi][k].moved_bytes : 0;
            int ok = w->spread <= target && ratio <= 1.2;
            tfails += !ok;
            char o[24], n[24];
            snprintf(o, sizeof o, "%u (%u)", (unsigned)w_old[gi][k].max, (unsigned)w_old[gi][k].max_block);
            snprintf(n, sizeof n, "%u (%u)", (unsigned)w->max, (unsigned)w->max_block);
            printf("%-8s %-9s %7.2f %7.2f %6.1f %15s %15s %11llu %11llu %6.2f %-4s\n", geoms[gi].tag,
                   k ? "no defrag" : "full", w_old[gi][k].spread, w->spread, target, o, n,
                   (unsigned long long)w_old[gi][k].moved_bytes, (unsigned long long)w->moved_bytes, ratio,
                   ok ? "PASS" : "FAIL");
        }
    }
    printf("defrag blocks moved in the full mix: host-4K %llu (old %llu), cm-1K %llu (old %llu)\n",
           (unsigned long long)res[0][0].moved_blocks, (unsigned long long)w_old[0][0].moved_blocks,
           (unsigned long long)res[1][0].moved_blocks, (unsigned long long)w_old[1][0].moved_blocks);
    printf("wear targets: %s\n", tfails ? "FAIL" : "PASS");
}

int main(void) {
    printf("natmod store on the emulated flash, copy mode (x86-64 test modules)\n");
    for (unsigned gi = 0; gi < N_GEOMS; gi++) {
        printf("  %-8s %s\n", geoms[gi].tag, geoms[gi].g.label);
    }
    printf("\n");
    bench_mount();
    bench_wamp();
    bench_defrag();
    bench_wear();
    return 0;
}
