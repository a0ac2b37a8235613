/*
 * bench_vmap: the virtual address map manager (src/vmap/vmap.c).
 *
 * Table 1: map + unmap cost vs live blocks. N one-page blocks are mapped,
 * then, over and over, a random one is unmapped and mapped again (same
 * physical page, first fit puts it back in the hole). One "pair" is one
 * unmap + one map; ns/op is half a pair. vmap walks the region's block
 * list a fixed number of times per operation, so the cost should grow no
 * faster than the number of blocks in the region: the last column compares
 * ns/op at the largest N with N = 100 against the linear prediction.
 * Models: ESP32-S3 (512 entries: N = 10, 100, 500), a synthetic 4096-entry
 * table with the same semantics (N = 1000 needs more than 512 entries),
 * and ESP32 (IRAM0 51 + DROM0 64 entries: N = 10, 100, split between the
 * two regions, so 50 blocks per region at N = 100).
 *
 * Table 2: the host back-end (Linux mmap): map_at of N pages, touching
 * each 4 KB page once, unmap (and, for PSRAM0, discard), per 4 KB page;
 * PSRAM0 (memfd, write first touch) and a flash file (read first touch).
 *
 * A benchmark, not a test: exit status 0 unless an operation fails.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "natmod/vmap.h"
#include "vmap/esp32.h"
#include "vmap/host.h"

#define POOL 1100

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int rc, const nm_detail_t *d) {
    fprintf(stderr, "bench_vmap: %s: %d %s (%s)\n", what, rc, nm_strerror(rc), d ? d->msg : "");
    exit(1);
}

static uint64_t rng = 0x853c49e6748fea9bu;
static unsigned below(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* ---- a 4096-entry table: the S3's semantics, a larger table ---- */

#define BIG_ENTRIES 4096u
#define BIG_PAGE 0x10000u

typedef struct big {
    uint32_t table[BIG_ENTRIES];
} big_t;

static int big_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr, size_t size,
                   unsigned target, unsigned caps) {
    big_t *m = ctx;
    (void)r, (void)caps;
    for (size_t o = 0; o < size; o += BIG_PAGE) {
        m->table[(laddr + o) / BIG_PAGE] =
            (uint32_t)((paddr + o) / BIG_PAGE) | (target == NM_VMAP_TARGET_PSRAM0 ? 0x80000000u : 0);
    }
    return 0;
}

static void big_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    big_t *m = ctx;
    (void)r;
    for (size_t o = 0; o < size; o += BIG_PAGE) {
        m->table[(laddr + o) / BIG_PAGE] = 0x40000000u;
    }
}

static const nm_vmap_backend_t big_backend = {big_map, big_unmap, NULL};
static const nm_vmap_region_t big_region = {
    "BIG", 0, (uintptr_t)BIG_ENTRIES * BIG_PAGE, NM_VMAP_CAP_ALL_, NM_VMAP_TARGET_ALL_,
    NM_VMAP_BUS_DATA | NM_VMAP_BUS_INSTR, 0x80000000u, 0x40000000u};

/* ---- table 1 ---- */

enum { M_S3, M_BIG, M_ESP32 };

typedef struct slot {
    uintptr_t vaddr;
    uint64_t paddr;
    unsigned caps;
} slot_t;

static nm_vmap_block_t pool[POOL];
static slot_t slots[POOL];
static nm_vmap_esp32s3_t s3;
static nm_vmap_esp32_t esp32;
static big_t big;

/* ns per op (half a map + unmap pair) with n live blocks. */
static double churn(int model, unsigned n, unsigned *regions) {
    nm_vmap_t vm;
    nm_vmap_config_t cfg;
    nm_detail_t d = {{0}};
    if (model == M_S3) {
        nm_vmap_esp32s3_config(&cfg, &s3, pool, POOL, NULL, 0);
    } else if (model == M_ESP32) {
        nm_vmap_esp32_config(&cfg, &esp32, pool, POOL, NULL, 0);
    } else {
        memset(&cfg, 0, sizeof cfg);
        cfg.page_size = BIG_PAGE;
        cfg.regions = &big_region;
        cfg.n_regions = 1;
        cfg.pool = pool;
        cfg.pool_len = POOL;
        cfg.backend = &big_backend;
        cfg.backend_ctx = &big;
    }
    int rc = nm_vmap_init(&vm, &cfg, &d);
    if (rc) {
        die("init", rc, &d);
    }
    *regions = model == M_ESP32 ? 2 : 1;
    size_t ps = cfg.page_size;
    for (unsigned i = 0; i < n; i++) {
        /* ESP32: alternate IRAM0 (EXEC) and DROM0 (READ) */
        slots[i].caps = model == M_ESP32 && i % 2 ? NM_VMAP_CAP_EXEC : NM_VMAP_CAP_READ;
        slots[i].paddr = (uint64_t)i * ps;
        rc = nm_vmap_map(&vm, slots[i].paddr, ps, NM_VMAP_TARGET_FLASH0, slots[i].caps, 0, &slots[i].vaddr, &d);
        if (rc) {
            die("fill", rc, &d);
        }
    }
    unsigned long pairs = 0;
    double t0 = now_ns(), t1 = t0;
    while (t1 - t0 < 150e6) {
        for (unsigned k = 0; k < 1000; k++) {
            slot_t *s = &slots[below(n)];
            rc = nm_vmap_unmap(&vm, s->vaddr, &d);
            if (rc) {
                die("unmap", rc, &d);
            }
            rc = nm_vmap_map(&vm, s->paddr, ps, NM_VMAP_TARGET_FLASH0, s->caps, 0, &s->vaddr, &d);
            if (rc) {
                die("map", rc, &d);
            }
        }
        pairs += 1000;
        t1 = now_ns();
    }
    return (t1 - t0) / (2.0 * (double)pairs);
}

static void table_models(void) {
    static const struct {
        int model;
        const char *name;
        unsigned n[3];
    } rows[] = {
        {M_S3, "ESP32-S3 model (512)", {10, 100, 500}},
        {M_BIG, "synthetic 4096-entry", {10, 100, 1000}},
        {M_ESP32, "ESP32 model (51+64)", {10, 100, 0}},
    };
    printf("== vmap map + unmap vs live blocks (one-page blocks, random unmap then map; op = one map or unmap)\n");
    printf("%-22s %6s %8s %10s %12s %-22s %s\n", "model", "blocks", "/region", "ns/op", "ops/s",
           "complexity", "growth vs 100 blocks");
    for (unsigned r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double at100 = 0;
        for (unsigned k = 0; k < 3 && rows[r].n[k]; k++) {
            unsigned n = rows[r].n[k], regions;
            double ns = churn(rows[r].model, n, &regions);
            char growth[64] = "-";
            if (n == 100) {
                at100 = ns;
            } else if (n > 100 && at100 > 0) {
                double ratio = ns / at100, linear = n / 100.0;
                snprintf(growth, sizeof growth, "%.1fx (linear %.0fx): %s", ratio, linear,
                         ratio <= 1.5 * linear ? "consistent" : "WORSE THAN LINEAR");
            }
            printf("%-22s %6u %8u %10.1f %12.0f %-22s %s\n", rows[r].name, n, n / regions, ns, 1e9 / ns,
                   "O(blocks in region)", growth);
        }
    }
}

/* ---- table 2: the host back-end ---- */

static void table_host(void) {
    nm_vmap_host_t h;
    nm_vmap_region_t region;
    nm_vmap_config_t cfg;
    nm_vmap_t vm;
    nm_detail_t d = {{0}};
    int rc = nm_vmap_host_init(&h, (size_t)8 << 20, &d);
    if (rc) {
        printf("== host back-end: skipped (%s)\n", d.msg);
        return;
    }
    nm_vmap_host_config(&cfg, &h, &region, pool, 16);
    if ((rc = nm_vmap_init(&vm, &cfg, &d)) != 0) {
        die("host init", rc, &d);
    }
    size_t ps = h.page_size;
    /* the flash file: 256 pages, in the page cache after writing */
    char path[] = "/tmp/bench_vmap_XXXXXX";
    int fd = mkstemp(path);
    uint64_t base = 0;
    if (fd < 0) {
        die("mkstemp", NM_ERR_IO, NULL);
    }
    unlink(path);
    static unsigned char buf[4096];
    memset(buf, 0xa5, sizeof buf);
    for (size_t o = 0; o < 256 * ps; o += sizeof buf) {
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
            die("write flash file", NM_ERR_IO, NULL);
        }
    }
    if ((rc = nm_vmap_host_add_file(&h, fd, &base, &d)) != 0) {
        die("add_file", rc, &d);
    }
    close(fd);
    printf("\n== vmap host back-end: map_at N pages + touch each once + unmap (PSRAM0: + discard); page %zu bytes\n",
           ps);
    printf("%-28s %6s %8s %12s %14s\n", "target", "N", "cycles", "us/cycle", "ns per 4 KB");
    static const unsigned ns_[] = {1, 16, 256};
    volatile unsigned sink = 0;
    for (unsigned target = 0; target < 2; target++) {
        for (unsigned k = 0; k < 3; k++) {
            unsigned n = ns_[k], reps = 20000 / n;
            size_t size = n * ps;
            uintptr_t want = (uintptr_t)h.window + ps, v = 0;
            double t0 = now_ns();
            for (unsigned i = 0; i < reps; i++) {
                if (target == 0) {
                    rc = nm_vmap_map_at(&vm, want, 0, size, NM_VMAP_TARGET_PSRAM0,
                                        NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE, 0, &v, &d);
                } else {
                    rc = nm_vmap_map_at(&vm, want, base, size, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &v, &d);
                }
                if (rc) {
                    die("host map_at", rc, &d);
                }
                for (size_t o = 0; o < size; o += ps) {
                    if (target == 0) {
                        ((volatile unsigned char *)v)[o] = (unsigned char)i;
                    } else {
                        sink += ((volatile unsigned char *)v)[o];
                    }
                }
                if ((rc = nm_vmap_unmap(&vm, v, &d)) != 0) {
                    die("host unmap", rc, &d);
                }
                if (target == 0 && (rc = nm_vmap_host_discard(&h, 0, size)) != 0) {
                    die("host discard", rc, NULL);
                }
            }
            double us = (now_ns() - t0) / 1e3 / reps;
            printf("%-28s %6u %8u %12.2f %14.0f\n",
                   target == 0 ? "PSRAM0 memfd (write touch)" : "FLASH0 file (read touch)", n, reps, us,
                   us * 1e3 / n / ((double)ps / 4096));
        }
    }
    (void)sink;
    nm_vmap_host_fini(&h);
}

int main(void) {
    double t0 = now_ns();
    table_models();
    table_host();
    printf("(bench_vmap took %.1f s)\n", (now_ns() - t0) / 1e9);
    return 0;
}
