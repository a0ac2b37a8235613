/*
 * vmap shared by four threads through the caller's lock (a pthread mutex
 * as cfg.lock/cfg.unlock): each thread maps, maps at addresses it found
 * with find_free (losing races on purpose), unmaps and queries, thousands
 * of times, on one ESP32-S3-like region. Each thread owns distinct
 * physical pages, so a block that showed another thread's paddr, or a
 * back-end call outside the lock, is a bug. At the end every thread has
 * unmapped everything: the map is empty, largest_free is the whole region
 * and every page-table entry is invalid.
 *
 * Built twice: plainly, and with -fsanitize=thread (vmap.c compiled into
 * that executable). With -DVMAP_THREADS_NO_LOCK the lock is left out, for
 * showing by hand that ThreadSanitizer reports the race (not a ctest).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../test.h"
#include "natmod/vmap.h"

#define N_THREADS 4
#define N_OPS 20000
#define MAX_OWN 64 /* 4 x 64 x 2.5 pages > 512: the region fills */
#define PS 0x10000u
#define PAGES 512u

enum { X = NM_VMAP_CAP_EXEC, R = NM_VMAP_CAP_READ, W = NM_VMAP_CAP_WRITE };

static const nm_vmap_region_t region = {
    "S3", 0, PAGES * PS, NM_VMAP_CAP_ALL_, NM_VMAP_TARGET_ALL_, NM_VMAP_BUS_DATA | NM_VMAP_BUS_INSTR,
    0x42000000u, 0x3c000000u};

/* ---- lock and a back-end that checks it runs under the lock ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int held; /* written only with mu held */

static void lock_cb(void *ctx) {
    pthread_mutex_lock(ctx);
    held++;
}

static void unlock_cb(void *ctx) {
    held--;
    pthread_mutex_unlock(ctx);
}

typedef struct table {
    uint64_t paddr[PAGES]; /* UINT64_MAX: invalid */
    unsigned target[PAGES];
    unsigned long n_bad;
} table_t;

static table_t table;

static int tb_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr, size_t size,
                  unsigned target, unsigned caps) {
    table_t *t = ctx;
    (void)r, (void)caps;
#ifndef VMAP_THREADS_NO_LOCK
    t->n_bad += held != 1;
#endif
    for (size_t o = 0; o < size; o += PS) {
        size_t e = (laddr + o) / PS;
        t->n_bad += t->paddr[e] != UINT64_MAX;
        t->paddr[e] = paddr + o;
        t->target[e] = target;
    }
    return 0;
}

static void tb_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    table_t *t = ctx;
    (void)r;
#ifndef VMAP_THREADS_NO_LOCK
    t->n_bad += held != 1;
#endif
    for (size_t o = 0; o < size; o += PS) {
        size_t e = (laddr + o) / PS;
        t->n_bad += t->paddr[e] == UINT64_MAX;
        t->paddr[e] = UINT64_MAX;
    }
}

static const nm_vmap_backend_t tb_backend = {tb_map, tb_unmap, NULL};

/* ---- the threads ---- */

static nm_vmap_t vm;
static nm_vmap_block_t pool[600];

typedef struct own {
    uintptr_t vaddr; /* as map returned it */
    uint64_t paddr;
    size_t size;
    unsigned target, caps;
} own_t;

typedef struct worker {
    pthread_t th;
    unsigned id;
    uint64_t rng;
    own_t own[MAX_OWN];
    unsigned n_own;
    uint64_t next_page; /* this thread's next physical page */
    unsigned long n_ok[4], n_fail, n_lost_race, n_full;
    char why[200];
} worker_t;

static uint64_t rnd(worker_t *w) {
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static int bad(worker_t *w, const char *what, int rc, uintptr_t v) {
    if (!w->n_fail++) {
        snprintf(w->why, sizeof w->why, "thread %u: %s (rc %d, vaddr 0x%" PRIxPTR ")", w->id, what, rc, v);
    }
    return 0;
}

/* The thread's physical range: its own 1 TB, never shared. */
static uint64_t fresh_paddr(worker_t *w, size_t size) {
    uint64_t p = ((uint64_t)(w->id + 1) << 40) + w->next_page * PS;
    w->next_page += size / PS;
    return p;
}

static void add_own(worker_t *w, uintptr_t v, uint64_t p, size_t size, unsigned target, unsigned caps) {
    w->own[w->n_own++] = (own_t){v, p, size, target, caps};
}

/* Does a random block of ours still show our pages? */
static int check_own(worker_t *w) {
    if (!w->n_own) {
        return 1;
    }
    const own_t *o = &w->own[rnd(w) % w->n_own];
    uintptr_t off = (uintptr_t)(rnd(w) % o->size);
    uint64_t p = 0;
    unsigned t = 0;
    int rc = nm_vmap_vaddr_to_paddr(&vm, o->vaddr + off, &p, &t);
    if (rc || p != o->paddr + off || t != o->target) {
        return bad(w, "vaddr_to_paddr of an own block shows other pages", rc, o->vaddr + off);
    }
    uintptr_t v = 0;
    rc = nm_vmap_paddr_to_vaddr(&vm, o->paddr + off, o->target, NM_VMAP_BUS_DATA, &v);
    if (rc || v != region.dbus_base + (o->vaddr - ((o->caps & X) ? region.ibus_base : region.dbus_base)) + off) {
        return bad(w, "paddr_to_vaddr of own pages answers another address", rc, v);
    }
    unsigned caps = 0;
    rc = nm_vmap_paddr_caps(&vm, o->paddr, o->target, &caps);
    if (rc || caps != o->caps) {
        return bad(w, "paddr_caps of own pages", rc, o->vaddr);
    }
    return 1;
}

static pthread_barrier_t start;

static void *work(void *arg) {
    worker_t *w = arg;
    static const unsigned capsets[] = {X | R, R, R | W, X};
    pthread_barrier_wait(&start); /* all at once, to contend */
    for (unsigned i = 0; i < N_OPS && !w->n_fail; i++) {
        if (i % 64 == 0) {
            sched_yield();
        }
        unsigned r = (unsigned)(rnd(w) % 100);
        size_t size = (1 + rnd(w) % 4) * PS - (rnd(w) % 2 ? 0 : 100);
        size_t aligned = (size + PS - 1) / PS * PS;
        unsigned target = rnd(w) % 2 ? NM_VMAP_TARGET_FLASH0 : NM_VMAP_TARGET_PSRAM0;
        unsigned caps = capsets[rnd(w) % 4];
        if (r < 35 && w->n_own < MAX_OWN) {
            uintptr_t v = 0;
            uint64_t p = fresh_paddr(w, aligned);
            int rc = nm_vmap_map(&vm, p, size, target, caps, 0, &v, NULL);
            if (rc == NM_OK) {
                add_own(w, v, p, aligned, target, caps);
                w->n_ok[0]++;
            } else if (rc == NM_VMAP_ERR_NOT_FOUND) {
                w->n_full++;
            } else {
                bad(w, "map", rc, v);
            }
        } else if (r < 60 && w->n_own < MAX_OWN) {
            uintptr_t where = 0, v = 0;
            if (nm_vmap_find_free(&vm, size, target, caps, &where) != NM_OK) {
                w->n_full++;
                continue;
            }
            /* another thread may take it first: that is NOT_FOUND */
            uint64_t p = fresh_paddr(w, aligned);
            int rc = nm_vmap_map_at(&vm, where, p, size, target, caps, 0, &v, NULL);
            if (rc == NM_OK && v == where) {
                add_own(w, v, p, aligned, target, caps);
                w->n_ok[1]++;
            } else if (rc == NM_VMAP_ERR_NOT_FOUND) {
                w->n_lost_race++;
            } else {
                bad(w, "map_at at a find_free address", rc, where);
            }
        } else if (r < 90 && w->n_own) {
            unsigned k = (unsigned)(rnd(w) % w->n_own);
            int rc = nm_vmap_unmap(&vm, w->own[k].vaddr, NULL);
            if (rc != NM_OK) {
                bad(w, "unmap of an own block", rc, w->own[k].vaddr);
            }
            w->own[k] = w->own[--w->n_own];
            w->n_ok[2]++;
        } else {
            size_t lf = 0;
            nm_vmap_info_t info[8];
            if (nm_vmap_largest_free(&vm, R, NM_VMAP_TARGET_FLASH0, &lf) != NM_OK || lf > PAGES * PS ||
                nm_vmap_blocks(&vm, info, 8) > sizeof pool / sizeof pool[0]) {
                bad(w, "queries", -1, 0);
            }
            w->n_ok[3]++;
        }
        check_own(w);
    }
    while (w->n_own) {
        int rc = nm_vmap_unmap(&vm, w->own[--w->n_own].vaddr, NULL);
        if (rc != NM_OK) {
            bad(w, "final unmap", rc, w->own[w->n_own].vaddr);
        }
    }
    return NULL;
}

static void threads_keep_their_blocks(void) {
    for (unsigned e = 0; e < PAGES; e++) {
        table.paddr[e] = UINT64_MAX;
    }
    nm_vmap_config_t cfg = {0};
    cfg.page_size = PS;
    cfg.regions = &region;
    cfg.n_regions = 1;
    cfg.pool = pool;
    cfg.pool_len = sizeof pool / sizeof pool[0];
    cfg.backend = &tb_backend;
    cfg.backend_ctx = &table;
#ifndef VMAP_THREADS_NO_LOCK
    cfg.lock = lock_cb;
    cfg.unlock = unlock_cb;
    cfg.lock_ctx = &mu;
#else
    (void)lock_cb, (void)unlock_cb, (void)&mu;
#endif
    CHECK_EQ(nm_vmap_init(&vm, &cfg, NULL), NM_OK);
    static worker_t w[N_THREADS];
    CHECK_EQ(pthread_barrier_init(&start, NULL, N_THREADS), 0);
    for (unsigned i = 0; i < N_THREADS; i++) {
        w[i].id = i;
        w[i].rng = 0x9e3779b97f4a7c15u * (i + 1);
        CHECK_EQ(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
    }
    unsigned long ops = 0, lost = 0, full = 0;
    for (unsigned i = 0; i < N_THREADS; i++) {
        CHECK_EQ(pthread_join(w[i].th, NULL), 0);
        if (w[i].n_fail) {
            fprintf(stderr, "%s (%lu failures)\n", w[i].why, w[i].n_fail);
        }
        CHECK_EQ(w[i].n_fail, 0);
        ops += w[i].n_ok[0] + w[i].n_ok[1] + w[i].n_ok[2] + w[i].n_ok[3];
        lost += w[i].n_lost_race;
        full += w[i].n_full;
    }
    pthread_barrier_destroy(&start);
    printf("  %u threads: %lu successful ops (%lu map_at races lost, %lu region-full answers)\n", N_THREADS,
           ops, lost, full);
    CHECK_EQ(nm_vmap_blocks(&vm, NULL, 0), 0);
    CHECK_EQ(vm.n_live, 0);
    size_t lf = 0;
    CHECK_EQ(nm_vmap_largest_free(&vm, R, NM_VMAP_TARGET_FLASH0, &lf), NM_OK);
    CHECK_EQ(lf, PAGES * PS);
    CHECK_EQ(nm_vmap_largest_free(&vm, X, NM_VMAP_TARGET_PSRAM0, &lf), NM_OK);
    CHECK_EQ(lf, PAGES * PS);
    unsigned valid = 0;
    for (unsigned e = 0; e < PAGES; e++) {
        valid += table.paddr[e] != UINT64_MAX;
    }
    CHECK_EQ(valid, 0);
    CHECK_EQ(table.n_bad, 0);
}

int main(void) {
    RUN(threads_keep_their_blocks);
    return TEST_DONE();
}
