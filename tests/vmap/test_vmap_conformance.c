/*
 * vmap conformance: ESP-IDF's esp_mmu_map behaviour (plus natmod's map_at
 * and queries), run against three back-ends: the ESP32 page-table model,
 * the ESP32-S3 page-table model and the host mmap back-end.
 *
 * Every test is written against a fixture (page size, regions, which caps
 * an instruction or a data request uses, reservations) and against a
 * reference the test keeps itself: the list of blocks it expects. After
 * every operation check_state compares, exactly,
 *   - nm_vmap_blocks() with the reference (address, size, paddr, target);
 *   - nm_vmap_largest_free() with the largest gap the reference leaves in
 *     each region, for instruction, data and PSRAM requests;
 *   - on the models, every page-table entry with the value the reference
 *     implies (computed here from ESP-IDF's address map, not with the
 *     model's own helpers): mapped entries hold page numbers, all others
 *     the invalid value; ESP32 PRO == APP; S3 PSRAM bit;
 *   - on the host, the first word of every mapped flash page, read through
 *     the returned address, against the page pattern of the flash file.
 * Each behaviour checked is named by a comment "ESP-IDF:" (esp_mmu_map's
 * own rule) or "natmod:" (an addition of vmap.h).
 */
#define _GNU_SOURCE /* memfd_create */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "natmod/vmap.h"
#include "vmap/esp32.h"

#ifndef VMAP_TEST_HOST
#define VMAP_TEST_HOST 1
#endif

#if VMAP_TEST_HOST
#include <sys/mman.h>
#include <unistd.h>

#include "vmap/host.h"
#endif

#define X NM_VMAP_CAP_EXEC
#define R NM_VMAP_CAP_READ
#define W NM_VMAP_CAP_WRITE
#define C32 NM_VMAP_CAP_32BIT
#define C8 NM_VMAP_CAP_8BIT
#define FLASH NM_VMAP_TARGET_FLASH0
#define PSRAM NM_VMAP_TARGET_PSRAM0
#define IBUS NM_VMAP_BUS_INSTR
#define DBUS NM_VMAP_BUS_DATA
#define SHARED NM_VMAP_FLAG_PADDR_SHARED

#define E_ARG NM_VMAP_ERR_INVALID_ARG
#define E_UNSUP NM_VMAP_ERR_NOT_SUPPORTED
#define E_NOTFOUND NM_VMAP_ERR_NOT_FOUND
#define E_NOMEM NM_VMAP_ERR_NO_MEM
#define E_STATE NM_VMAP_ERR_INVALID_STATE

enum { K_ESP32, K_ESP32S3, K_HOST, K_COUNT };
static const char *const kind_name[K_COUNT] = {"esp32", "esp32s3", "host"};

#define MAX_REF 64
#define POOL 48

typedef struct ref {
    uintptr_t vaddr; /* on the bus its caps imply (reservations: the bus given) */
    size_t size;
    uint64_t paddr;
    unsigned target, caps, region;
    int reserved;
} ref_t;

typedef struct fixture {
    int kind;
    size_t page;
    unsigned exec_caps; /* an instruction request for flash */
    unsigned data_caps; /* a read-only data request for flash */
    unsigned ram_caps;  /* a read-write request (PSRAM where supported) */
    int psram;          /* PSRAM supported */
    int two_buses;      /* instruction and data addresses differ */
    int exec_on_dbus;   /* an EXEC block has a data-bus view too */
    int exec_data_one_region; /* EXEC and data requests share a region */
    uint64_t flash_base;
    uintptr_t exec_first, data_first; /* where the first map of each lands */
    uintptr_t outside;                /* a page in no region */
    nm_vmap_reserve_t res[3];
    unsigned n_res;
    nm_vmap_config_t cfg;
    nm_vmap_block_t pool[POOL];
    nm_vmap_t vm;
    nm_vmap_esp32_t esp32;
    nm_vmap_esp32s3_t s3;
#if VMAP_TEST_HOST
    nm_vmap_host_t host;
    nm_vmap_region_t host_region;
    int flash_fd;
#endif
    ref_t ref[MAX_REF];
    unsigned n_ref;
    unsigned long last_inval;
} fixture_t;

static int g_kind;
static fixture_t g_f;

/* ---- the lock and a back-end shim: vmap.h says every call takes the
 * caller's lock and releases it before returning, and the back-end runs
 * under it ---- */

static int lock_depth, lock_max_depth;
static unsigned long lock_calls, backend_calls;
static const nm_vmap_backend_t *real_backend;

static void test_lock(void *ctx) {
    CHECK(ctx == &g_f);
    lock_depth++;
    lock_calls++;
    if (lock_depth > lock_max_depth) {
        lock_max_depth = lock_depth;
    }
}

static void test_unlock(void *ctx) {
    CHECK(ctx == &g_f);
    lock_depth--;
}

static int shim_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr,
                    size_t size, unsigned target, unsigned caps) {
    CHECK_EQ(lock_depth, 1);
    backend_calls++;
    return real_backend->map(ctx, r, laddr, paddr, size, target, caps);
}

static void shim_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    CHECK_EQ(lock_depth, 1);
    backend_calls++;
    real_backend->unmap(ctx, r, laddr, size);
}

static void shim_invalidate(void *ctx, uintptr_t vaddr, size_t size) {
    CHECK_EQ(lock_depth, 1);
    if (real_backend->invalidate) {
        real_backend->invalidate(ctx, vaddr, size);
    }
}

static const nm_vmap_backend_t shim_backend = {shim_map, shim_unmap, shim_invalidate};

/* ---- geometry, computed by the test from the fixture's regions ---- */

static const nm_vmap_region_t *region(fixture_t *f, unsigned i) {
    return &f->cfg.regions[i];
}

/* Region and linear address of vaddr on either bus; -1 if none. */
static int locate(fixture_t *f, uintptr_t v, uintptr_t *laddr) {
    for (unsigned i = 0; i < f->cfg.n_regions; i++) {
        const nm_vmap_region_t *r = region(f, i);
        if ((r->buses & DBUS) && v >= r->dbus_base + r->laddr_start && v < r->dbus_base + r->laddr_end) {
            *laddr = v - r->dbus_base;
            return (int)i;
        }
        if ((r->buses & IBUS) && v >= r->ibus_base + r->laddr_start && v < r->ibus_base + r->laddr_end) {
            *laddr = v - r->ibus_base;
            return (int)i;
        }
    }
    return -1;
}

static uintptr_t bus_vaddr(const nm_vmap_region_t *r, unsigned caps, uintptr_t laddr) {
    unsigned bus = (caps & X) ? IBUS : DBUS;
    if (!(r->buses & bus)) {
        bus = r->buses & DBUS ? DBUS : IBUS;
    }
    return (bus == IBUS ? r->ibus_base : r->dbus_base) + laddr;
}

/* A region serves a request when its caps and targets cover it and it has
 * the bus the request's caps imply (vmap.h: an EXEC block is seen at its
 * instruction address, any other at its data address). */
static int covers(const nm_vmap_region_t *r, unsigned caps, unsigned target) {
    unsigned bus = (caps & X) ? IBUS : DBUS;
    return (r->caps & caps) == caps && (r->targets & target) == target && (r->buses & bus);
}

static size_t round_page(fixture_t *f, size_t n) {
    return (n + f->page - 1) & ~(f->page - 1);
}

static uint64_t fl(fixture_t *f, unsigned page) {
    return f->flash_base + (uint64_t)page * f->page;
}

/* Reference blocks of region ri sorted by laddr, into out; returns count. */
static unsigned ref_sorted(fixture_t *f, unsigned ri, ref_t *out, uintptr_t *la) {
    unsigned n = 0;
    for (unsigned k = 0; k < f->n_ref; k++) {
        if (f->ref[k].region != ri) {
            continue;
        }
        uintptr_t l = 0;
        locate(f, f->ref[k].vaddr, &l);
        unsigned j = n++;
        while (j > 0 && la[j - 1] > l) {
            out[j] = out[j - 1];
            la[j] = la[j - 1];
            j--;
        }
        out[j] = f->ref[k];
        la[j] = l;
    }
    return n;
}

/* Largest gap of region ri per the reference; *first_fit (if not NULL)
 * gets the lowest laddr with room for size, or UINTPTR_MAX. */
static size_t ref_gap(fixture_t *f, unsigned ri, size_t size, uintptr_t *first_fit) {
    ref_t s[MAX_REF];
    uintptr_t la[MAX_REF];
    unsigned n = ref_sorted(f, ri, s, la);
    const nm_vmap_region_t *r = region(f, ri);
    uintptr_t prev = r->laddr_start;
    size_t best = 0;
    if (first_fit) {
        *first_fit = UINTPTR_MAX;
    }
    for (unsigned k = 0; k <= n; k++) {
        uintptr_t next = k < n ? la[k] : r->laddr_end;
        size_t gap = next - prev;
        if (gap > best) {
            best = gap;
        }
        if (first_fit && *first_fit == UINTPTR_MAX && gap >= size) {
            *first_fit = prev;
        }
        if (k < n) {
            prev = la[k] + s[k].size;
        }
    }
    return best;
}

static size_t ref_largest(fixture_t *f, unsigned caps, unsigned target) {
    size_t best = 0;
    for (unsigned i = 0; i < f->cfg.n_regions; i++) {
        if (covers(region(f, i), caps, target)) {
            size_t g = ref_gap(f, i, 0, NULL);
            best = g > best ? g : best;
        }
    }
    return best;
}

/* Where map should put a request: first covering region with room, lowest
 * address in it. 0 if none. */
static uintptr_t ref_first_fit(fixture_t *f, size_t size, unsigned caps, unsigned target) {
    size = round_page(f, size);
    for (unsigned i = 0; i < f->cfg.n_regions; i++) {
        uintptr_t l;
        if (covers(region(f, i), caps, target) && ref_gap(f, i, size, &l) >= size) {
            return bus_vaddr(region(f, i), caps, l);
        }
    }
    return 0;
}

/* ---- page tables, from ESP-IDF's address map ---- */

static int esp32_index(uintptr_t v) {
    if (v >= 0x3f400000u && v < 0x3f800000u) {
        return (int)((v - 0x3f400000u) >> 16);
    }
    if (v >= 0x40000000u && v < 0x40400000u) {
        return 64 + (int)((v & 0x3fffffu) >> 16);
    }
    if (v >= 0x40400000u && v < 0x40800000u) {
        return 128 + (int)((v & 0x3fffffu) >> 16);
    }
    if (v >= 0x40800000u && v < 0x40c00000u) {
        return 192 + (int)((v & 0x3fffffu) >> 16);
    }
    return -1;
}

static void check_tables(fixture_t *f) {
    if (f->kind == K_ESP32) {
        uint32_t exp[NM_ESP32_MMU_ENTRIES];
        for (unsigned i = 0; i < NM_ESP32_MMU_ENTRIES; i++) {
            exp[i] = NM_ESP32_MMU_INVALID;
        }
        for (unsigned k = 0; k < f->n_ref; k++) {
            const ref_t *b = &f->ref[k];
            for (size_t o = 0; b->target && o < b->size; o += f->page) {
                int e = esp32_index(b->vaddr + o);
                CHECK(e >= 0);
                if (e >= 0) {
                    exp[e] = (uint32_t)((b->paddr + o) >> 16);
                }
            }
        }
        int bad = 0;
        for (unsigned i = 0; i < NM_ESP32_MMU_ENTRIES; i++) {
            if (f->esp32.pro[i] != exp[i] || f->esp32.app[i] != exp[i]) {
                if (bad++ < 4) {
                    fprintf(stderr, "  esp32 entry %u: pro 0x%x app 0x%x, expected 0x%x\n", i,
                            (unsigned)f->esp32.pro[i], (unsigned)f->esp32.app[i], (unsigned)exp[i]);
                }
            }
        }
        CHECK_EQ(bad, 0);
    } else if (f->kind == K_ESP32S3) {
        uint32_t exp[NM_ESP32S3_MMU_ENTRIES];
        for (unsigned i = 0; i < NM_ESP32S3_MMU_ENTRIES; i++) {
            exp[i] = NM_ESP32S3_MMU_INVALID;
        }
        for (unsigned k = 0; k < f->n_ref; k++) {
            const ref_t *b = &f->ref[k];
            for (size_t o = 0; b->target && o < b->size; o += f->page) {
                uint32_t e = (uint32_t)(((b->vaddr + o) & 0x1ffffffu) >> 16);
                exp[e] = (uint32_t)((b->paddr + o) >> 16) | (b->target == PSRAM ? 0x8000u : 0);
            }
        }
        int bad = 0;
        for (unsigned i = 0; i < NM_ESP32S3_MMU_ENTRIES; i++) {
            if (f->s3.table[i] != exp[i] && bad++ < 4) {
                fprintf(stderr, "  s3 entry %u: 0x%x, expected 0x%x\n", i,
                        (unsigned)f->s3.table[i], (unsigned)exp[i]);
            }
        }
        CHECK_EQ(bad, 0);
    }
#if VMAP_TEST_HOST
    else {
        /* The host's "table" is the process's mappings: every mapped flash
         * page shows the file page it should (the file holds its page
         * number in each page's first word). Reservations are not mapped
         * by the back-end, so they are PROT_NONE and not read. */
        for (unsigned k = 0; k < f->n_ref; k++) {
            const ref_t *b = &f->ref[k];
            if (b->reserved || b->target != FLASH) {
                continue;
            }
            for (size_t o = 0; o < b->size; o += f->page) {
                uint32_t want = (uint32_t)((b->paddr + o - f->flash_base) / f->page);
                CHECK_EQ(*(volatile const uint32_t *)(b->vaddr + o), want);
            }
        }
    }
#endif
}

/* ---- the state check run after every operation ---- */

static void check_state(fixture_t *f) {
    /* every call released the lock it took, and none nested */
    CHECK_EQ(lock_depth, 0);
    CHECK(lock_max_depth <= 1);
    /* blocks == reference */
    nm_vmap_info_t info[MAX_REF];
    unsigned n = nm_vmap_blocks(&f->vm, info, MAX_REF);
    CHECK_EQ(n, f->n_ref);
    unsigned k = 0;
    for (unsigned ri = 0; ri < f->cfg.n_regions; ri++) {
        ref_t s[MAX_REF];
        uintptr_t la[MAX_REF];
        unsigned m = ref_sorted(f, ri, s, la);
        for (unsigned j = 0; j < m && k < n; j++, k++) {
            CHECK_EQ(info[k].vaddr, s[j].vaddr);
            CHECK_EQ(info[k].size, s[j].size);
            CHECK_EQ(info[k].region, ri);
            CHECK_EQ(info[k].target, s[j].target);
            CHECK_EQ(info[k].reserved, s[j].reserved);
            if (s[j].target) {
                CHECK_EQ(info[k].paddr, s[j].paddr);
            }
            if (!s[j].reserved) {
                CHECK_EQ(info[k].caps, s[j].caps);
            }
        }
    }
    /* natmod: largest free exact after every operation */
    static const unsigned probes[][2] = {
        {X | C32, FLASH}, {R | C32 | C8, FLASH}, {R, FLASH}, {R | W | C32 | C8, PSRAM}, {R | W, FLASH},
    };
    for (unsigned p = 0; p < sizeof probes / sizeof probes[0]; p++) {
        size_t got = 0;
        CHECK_EQ(nm_vmap_largest_free(&f->vm, probes[p][0], probes[p][1], &got), 0);
        CHECK_EQ(got, ref_largest(f, probes[p][0], probes[p][1]));
    }
    check_tables(f);
}

static unsigned long invalidates(fixture_t *f) {
    return f->kind == K_ESP32 ? f->esp32.n_invalidates : f->kind == K_ESP32S3 ? f->s3.n_invalidates : 0;
}

/* After a successful map/unmap the models synced the cache once; after a
 * failure they did nothing. */
static void check_sync(fixture_t *f, int ok) {
    if (f->kind != K_HOST) {
        CHECK_EQ(invalidates(f), f->last_inval + (ok ? 1 : 0));
    }
    f->last_inval = invalidates(f);
}

static void ref_add(fixture_t *f, uintptr_t v, size_t size, uint64_t paddr, unsigned target,
                    unsigned caps) {
    uintptr_t l;
    int ri = locate(f, v, &l);
    CHECK(ri >= 0 && f->n_ref < MAX_REF);
    if (ri < 0 || f->n_ref >= MAX_REF) {
        return;
    }
    ref_t *b = &f->ref[f->n_ref++];
    b->vaddr = v;
    b->size = round_page(f, size);
    b->paddr = paddr;
    b->target = target;
    b->caps = caps;
    b->region = (unsigned)ri;
    b->reserved = 0;
}

static int do_map(fixture_t *f, uint64_t paddr, size_t size, unsigned target, unsigned caps,
                  unsigned flags, uintptr_t *out) {
    nm_detail_t d;
    uintptr_t before = out ? *out : 0;
    int err = nm_vmap_map(&f->vm, paddr, size, target, caps, flags, out, &d);
    if (err == 0) {
        ref_add(f, *out, size, paddr, target, caps);
    } else if (err != E_STATE && out) {
        CHECK_EQ(*out, before); /* a failure other than INVALID_STATE leaves *out alone */
    }
    check_sync(f, err == 0);
    check_state(f);
    return err;
}

static int do_map_at(fixture_t *f, uintptr_t v, uint64_t paddr, size_t size, unsigned target,
                     unsigned caps, unsigned flags, uintptr_t *out) {
    nm_detail_t d;
    int err = nm_vmap_map_at(&f->vm, v, paddr, size, target, caps, flags, out, &d);
    if (err == 0) {
        CHECK_EQ(*out, v); /* natmod: map_at succeeds at exactly vaddr */
        ref_add(f, *out, size, paddr, target, caps);
    }
    check_sync(f, err == 0);
    check_state(f);
    return err;
}

/* The detail of the last do_map_virt. */
static nm_detail_t g_detail;

/* nm_vmap_map_virt; out may be NULL. A success lands at vaddr, or, for
 * vaddr 0, where map's first fit puts it. */
static int do_map_virt(fixture_t *f, uintptr_t v, uint64_t paddr, size_t size, unsigned target,
                       unsigned caps, unsigned flags, uintptr_t *out) {
    uintptr_t want = v ? v : ref_first_fit(f, size, caps, target);
    uintptr_t before = out ? *out : 0;
    memset(&g_detail, 0, sizeof g_detail);
    int err = nm_vmap_map_virt(&f->vm, v, paddr, size, target, caps, flags, out, &g_detail);
    if (err == 0) {
        if (out) {
            CHECK_EQ(*out, want);
        }
        ref_add(f, want, size, paddr, target, caps);
    } else if (err != E_STATE && out) {
        CHECK_EQ(*out, before);
    }
    check_sync(f, err == 0);
    check_state(f);
    return err;
}

static int do_unmap(fixture_t *f, uintptr_t v) {
    nm_detail_t d;
    int err = nm_vmap_unmap(&f->vm, v, &d);
    if (err == 0) {
        uintptr_t l = 0, lk = 0;
        int ri = locate(f, v, &l);
        unsigned k;
        for (k = 0; k < f->n_ref; k++) {
            if (!f->ref[k].reserved && locate(f, f->ref[k].vaddr, &lk) == ri && lk == l) {
                break;
            }
        }
        CHECK(k < f->n_ref);
        if (k < f->n_ref) {
            f->ref[k] = f->ref[--f->n_ref];
        }
    }
    check_sync(f, err == 0);
    check_state(f);
    return err;
}

/* ---- fixtures ---- */

static void add_reserve(fixture_t *f, uintptr_t v, size_t size, uint64_t paddr, unsigned target) {
    nm_vmap_reserve_t *rv = &f->res[f->n_res++];
    rv->vaddr = v;
    rv->size = size;
    rv->paddr = paddr;
    rv->target = target;
}

/* The reservations into the reference, as init rounds them. */
static void ref_reservations(fixture_t *f) {
    for (unsigned k = 0; k < f->n_res; k++) {
        const nm_vmap_reserve_t *rv = &f->res[k];
        uintptr_t lo = rv->vaddr & ~(uintptr_t)(f->page - 1), l;
        ref_t *b = &f->ref[f->n_ref++];
        b->vaddr = lo;
        b->size = round_page(f, rv->vaddr - lo + rv->size);
        b->paddr = rv->target ? rv->paddr - (rv->vaddr - lo) : 0;
        b->target = rv->target;
        b->caps = 0;
        b->region = (unsigned)locate(f, lo, &l);
        b->reserved = 1;
    }
}

static int setup_pool(int kind, unsigned pool_len) {
    fixture_t *f = &g_f;
    memset(f, 0, sizeof *f);
    f->kind = kind;
    nm_detail_t d = {{0}};
    if (kind == K_ESP32) {
        f->page = 0x10000;
        f->exec_caps = X | C32;
        f->data_caps = R | C32 | C8;
        f->ram_caps = R | W | C32 | C8;
        f->two_buses = 1;
        f->exec_first = 0x400f0000;  /* IRAM0 0x400d0000, after the firmware's text */
        f->data_first = 0x3f410000;  /* DROM0 0x3f400000, after its rodata */
        f->outside = 0x3ff00000;
        /* The bootloader mapped the app: text from flash 0x10000 at
         * 0x400d0000 (2 pages), rodata from 0x30000 at 0x3f400000, and the
         * last page of DROM0 holds something whose source is unknown. */
        add_reserve(f, 0x400d0020, 0x1ffe0, 0x10020, FLASH);
        add_reserve(f, 0x3f400000, 0x8000, 0x30000, FLASH);
        add_reserve(f, 0x3f7f0000, 0x10000, 0, 0);
        nm_vmap_esp32_config(&f->cfg, &f->esp32, f->pool, pool_len, f->res, f->n_res);
    } else if (kind == K_ESP32S3) {
        f->page = 0x10000;
        f->exec_caps = X | C32;
        f->data_caps = R | C32 | C8;
        f->ram_caps = R | W | C32 | C8;
        f->psram = 1;
        f->two_buses = 1;
        f->exec_on_dbus = 1;
        f->exec_data_one_region = 1;
        f->exec_first = 0x42030000; /* laddr 0, 1: text; 2: rodata */
        f->data_first = 0x3c030000;
        f->outside = 0x3ff00000;
        add_reserve(f, 0x42000020, 0x1ffe0, 0x10020, FLASH);
        add_reserve(f, 0x3c020000, 0x8000, 0x30000, FLASH);
        add_reserve(f, 0x3dff0000, 0x10000, 0, 0);
        nm_vmap_esp32s3_config(&f->cfg, &f->s3, f->pool, pool_len, f->res, f->n_res);
    } else {
#if VMAP_TEST_HOST
        size_t ps = (size_t)sysconf(_SC_PAGESIZE);
        if (nm_vmap_host_init(&f->host, 64 * ps, &d) != 0) {
            fprintf(stderr, "host init: %s\n", d.msg);
            return -1;
        }
        f->page = ps;
        f->flash_fd = memfd_create("vmap-flash", 0);
        CHECK(f->flash_fd >= 0 && ftruncate(f->flash_fd, (off_t)(256 * ps)) == 0);
        for (uint32_t p = 0; p < 256; p++) {
            CHECK(pwrite(f->flash_fd, &p, sizeof p, (off_t)(p * ps)) == (ssize_t)sizeof p);
        }
        CHECK_EQ(nm_vmap_host_add_file(&f->host, f->flash_fd, &f->flash_base, &d), 0);
        f->exec_caps = X | C32;
        f->data_caps = R | C32 | C8;
        f->ram_caps = R | W | C32 | C8;
        f->psram = 1;
        f->exec_on_dbus = 1;
        f->exec_data_one_region = 1;
        uintptr_t w = (uintptr_t)f->host.window;
        f->exec_first = w + 3 * ps;
        f->data_first = w + 3 * ps;
        f->outside = 0x10000;
        add_reserve(f, w + 0x20, 2 * ps - 0x20, f->flash_base + 0x20, FLASH);
        add_reserve(f, w + 2 * ps, ps / 2, f->flash_base + 2 * ps, FLASH);
        add_reserve(f, w + 63 * ps, ps, 0, 0);
        nm_vmap_host_config(&f->cfg, &f->host, &f->host_region, f->pool, pool_len);
        f->cfg.reserved = f->res;
        f->cfg.n_reserved = f->n_res;
#else
        return -1;
#endif
    }
    ref_reservations(f);
    real_backend = f->cfg.backend;
    f->cfg.backend = &shim_backend;
    f->cfg.lock = test_lock;
    f->cfg.unlock = test_unlock;
    f->cfg.lock_ctx = f;
    lock_depth = lock_max_depth = 0;
    lock_calls = backend_calls = 0;
    int err = nm_vmap_init(&f->vm, &f->cfg, &d);
    /* natmod: the firmware mapped the reservations; init does not */
    CHECK_EQ(backend_calls, 0);
    if (err) {
        fprintf(stderr, "vmap init (%s): %s\n", kind_name[kind], d.msg);
    }
    CHECK_EQ(err, 0);
    /* ESP-IDF: the bootloader's entries are in the table before any map */
    check_state(f);
    f->last_inval = invalidates(f);
    return err;
}

static fixture_t *setup(void) {
    return setup_pool(g_kind, POOL) == 0 ? &g_f : NULL;
}

static void teardown(fixture_t *f) {
#if VMAP_TEST_HOST
    if (f->kind == K_HOST) {
        nm_vmap_host_fini(&f->host);
        close(f->flash_fd);
    }
#else
    (void)f;
#endif
}

/* The largest block a fresh EXEC region can take (after the reservations). */
static size_t exec_room(fixture_t *f) {
    return ref_largest(f, f->exec_caps, FLASH);
}

/* ================= the behaviours ================= */

static void errors_come_in_esp_idf_order(void) {
    fixture_t *f = setup();
    if (!f) return;
    uintptr_t v = 0x1234;
    size_t ps = f->page;
    nm_detail_t d;
    /* ESP-IDF: out NULL -> INVALID_ARG before anything else */
    CHECK_EQ(nm_vmap_map(&f->vm, fl(f, 8) + 1, 0, 0, 0, 0, NULL, &d), E_ARG);
    CHECK_EQ(nm_vmap_map_at(&f->vm, 1, fl(f, 8) + 1, 0, 0, 0, 0, NULL, &d), E_ARG);
    /* natmod: target 0, two bits or an unknown bit -> INVALID_ARG */
    CHECK_EQ(do_map(f, fl(f, 8), ps, 0, f->data_caps, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH | PSRAM, f->data_caps, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8), ps, 4, f->data_caps, 0, &v), E_ARG);
    if (!f->psram) {
        /* ESP-IDF: PSRAM on ESP32 -> NOT_SUPPORTED, before the paddr
         * alignment and caps checks */
        CHECK_EQ(do_map(f, 8 * ps, ps, PSRAM, f->ram_caps, 0, &v), E_UNSUP);
        CHECK_EQ(do_map(f, 8 * ps + 1, ps, PSRAM, f->ram_caps, 0, &v), E_UNSUP);
        CHECK_EQ(do_map(f, 8 * ps + 1, 0, PSRAM, X | W, 0, &v), E_UNSUP);
        CHECK_EQ(do_map_at(f, f->data_first + 1, 8 * ps + 1, ps, PSRAM, f->ram_caps, 0, &v), E_UNSUP);
    } else {
        /* the same unaligned PSRAM request where PSRAM exists: alignment */
        CHECK_EQ(do_map(f, 8 * ps + 1, ps, PSRAM, f->ram_caps, 0, &v), E_ARG);
    }
    /* ESP-IDF: paddr not on a page -> INVALID_ARG */
    CHECK_EQ(do_map(f, fl(f, 8) + 1, ps, FLASH, f->data_caps, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8) + ps / 2, ps, FLASH, f->exec_caps, 0, &v), E_ARG);
    /* ESP-IDF: EXEC with WRITE, EXEC with 8BIT -> INVALID_ARG */
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, X | W, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, X | C8, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, X | R | W | C32 | C8, 0, &v), E_ARG);
    /* natmod: caps 0 or an unknown bit, size 0 -> INVALID_ARG */
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, 0, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, f->data_caps | 0x20, 0, &v), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 8), 0, FLASH, f->data_caps, 0, &v), E_ARG);
    CHECK_EQ(do_map_at(f, f->data_first, fl(f, 8), 0, FLASH, f->data_caps, 0, &v), E_ARG);
    /* natmod: a range running past the target's size -> INVALID_ARG */
    if (f->cfg.target_size[0]) {
        uint64_t end = f->cfg.target_size[0];
        CHECK_EQ(do_map(f, end - ps, 2 * ps, FLASH, f->data_caps, 0, &v), E_ARG);
        CHECK_EQ(do_map(f, end, ps, FLASH, f->data_caps, 0, &v), E_ARG);
    }
    CHECK_EQ(do_map(f, fl(f, 8), SIZE_MAX, FLASH, f->data_caps, 0, &v), E_ARG);
    /* ESP-IDF: no region with room -> NOT_FOUND */
    CHECK_EQ(do_map(f, fl(f, 8), exec_room(f) + ps, FLASH, f->exec_caps, 0, &v), E_NOTFOUND);
    if (f->kind == K_ESP32) {
        /* ESP-IDF on ESP32: no region takes EXEC|READ or writable flash */
        CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, X | R | C32, 0, &v), E_NOTFOUND);
        CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, R | W, 0, &v), E_NOTFOUND);
    }
    CHECK_EQ(v, 0x1234);
    teardown(f);
}

/* ESP-IDF: NOT_FOUND (no room) is checked before the physical range:
 * a range already mapped whole is NOT_FOUND, not INVALID_STATE, when the
 * region is full. */
static void full_region_is_not_found_before_already_mapped(void) {
    fixture_t *f = setup();
    if (!f) return;
    uintptr_t v = 0, big = 0;
    size_t room = exec_room(f);
    CHECK_EQ(do_map(f, fl(f, 8), room, FLASH, f->exec_caps, 0, &big), 0);
    CHECK_EQ(big, f->exec_first);
    CHECK_EQ(do_map(f, fl(f, 8), f->page, FLASH, f->exec_caps, 0, &v), E_NOTFOUND);
    CHECK_EQ(do_map(f, fl(f, 9), f->page, FLASH, f->exec_caps, 0, &v), E_NOTFOUND);
    /* natmod: find_free agrees */
    CHECK_EQ(nm_vmap_find_free(&f->vm, f->page, FLASH, f->exec_caps, &v), E_NOTFOUND);
    CHECK_EQ(do_unmap(f, big), 0);
    /* and with room again, the same request is INVALID_STATE */
    CHECK_EQ(do_map(f, fl(f, 8), 2 * f->page, FLASH, f->exec_caps, 0, &big), 0);
    CHECK_EQ(do_map(f, fl(f, 8), f->page, FLASH, f->exec_caps, 0, &v), E_STATE);
    CHECK_EQ(v, big);
    teardown(f);
}

/* ESP-IDF: an empty block pool is NO_MEM, checked after the physical
 * range (INVALID_STATE / INVALID_ARG) and after the room (NOT_FOUND). */
static void empty_pool_is_no_mem_after_physical_checks(void) {
    fixture_t *f = &g_f;
    /* every fixture has 3 reservations; they take 3 pool blocks */
    if (setup_pool(g_kind, 3 + 3) != 0) return;
    uintptr_t v[3], w = 0x77;
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(do_map(f, fl(f, 10 + 2 * i), f->page, FLASH, f->data_caps, 0, &v[i]), 0);
    }
    CHECK_EQ(do_map(f, fl(f, 10), f->page, FLASH, f->data_caps, 0, &w), E_STATE);
    CHECK_EQ(w, v[0]);
    w = 0x77;
    CHECK_EQ(do_map(f, fl(f, 10), 2 * f->page, FLASH, f->data_caps, 0, &w), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 40), ref_largest(f, f->data_caps, FLASH) + f->page, FLASH, f->data_caps, 0, &w),
             E_NOTFOUND);
    CHECK_EQ(do_map(f, fl(f, 40), f->page, FLASH, f->data_caps, 0, &w), E_NOMEM);
    CHECK_EQ(do_map(f, fl(f, 40), f->page, FLASH, f->data_caps, SHARED, &w), E_NOMEM);
    CHECK_EQ(do_map_at(f, f->data_first + 8 * f->page, fl(f, 40), f->page, FLASH, f->data_caps, 0, &w),
             E_NOMEM);
    CHECK_EQ(w, 0x77);
    /* a freed block is usable again */
    CHECK_EQ(do_unmap(f, v[1]), 0);
    CHECK_EQ(do_map(f, fl(f, 40), f->page, FLASH, f->data_caps, 0, &w), 0);
    CHECK_EQ(w, v[1]);
    teardown(f);
}

/* ESP-IDF: size rounded up to the page; first fit at the lowest address;
 * the exact freed range is reused after unmap. */
static void size_rounds_up_and_first_fit_reuses_freed_range(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t a, b, c, e, g, h;
    CHECK_EQ(do_map(f, fl(f, 8), 1, FLASH, f->data_caps, 0, &a), 0);
    CHECK_EQ(a, f->data_first);
    CHECK_EQ(do_map(f, fl(f, 9), ps + 1, FLASH, f->data_caps, 0, &b), 0); /* 2 pages */
    CHECK_EQ(b, a + ps);
    CHECK_EQ(do_map(f, fl(f, 12), ps, FLASH, f->data_caps, 0, &c), 0);
    CHECK_EQ(c, b + 2 * ps);
    CHECK_EQ(do_unmap(f, b), 0);
    /* the 2-page hole: a 3-page request skips it, a 1-page one takes its start */
    CHECK_EQ(nm_vmap_find_free(&f->vm, 3 * ps, FLASH, f->data_caps, &e), 0);
    CHECK_EQ(e, c + ps);
    CHECK_EQ(do_map(f, fl(f, 20), 3 * ps, FLASH, f->data_caps, 0, &e), 0);
    CHECK_EQ(e, c + ps);
    CHECK_EQ(do_map(f, fl(f, 30), ps, FLASH, f->data_caps, 0, &g), 0);
    CHECK_EQ(g, b);
    CHECK_EQ(do_map(f, fl(f, 31), ps, FLASH, f->data_caps, 0, &h), 0);
    CHECK_EQ(h, b + ps);
    /* the exact range of a freed block comes back */
    CHECK_EQ(do_unmap(f, a), 0);
    CHECK_EQ(do_map(f, fl(f, 32), ps, FLASH, f->data_caps, 0, &a), 0);
    CHECK_EQ(a, f->data_first);
    CHECK_EQ(do_unmap(f, e), 0);
    CHECK_EQ(do_unmap(f, g), 0);
    CHECK_EQ(do_unmap(f, h), 0);
    /* the hole b..c is 2 pages: 4 pages go after c */
    CHECK_EQ(do_map(f, fl(f, 40), 4 * ps, FLASH, f->data_caps, 0, &e), 0);
    CHECK_EQ(e, c + ps);
    /* freeing c merges its page with the 2-page hole before it: 3 pages
     * now fit right after a */
    CHECK_EQ(do_unmap(f, c), 0);
    CHECK_EQ(do_map(f, fl(f, 60), 3 * ps, FLASH, f->data_caps, 0, &h), 0);
    CHECK_EQ(h, a + ps);
    /* every placement so far matched the reference's first fit */
    uintptr_t want = ref_first_fit(f, 5 * ps, f->exec_caps, FLASH);
    CHECK_EQ(do_map(f, fl(f, 50), 5 * ps, FLASH, f->exec_caps, 0, &g), 0);
    CHECK_EQ(g, want);
    teardown(f);
}

/* ESP-IDF: the first region (in order) whose caps and targets cover the
 * request takes it: on ESP32 EXEC goes to IRAM0 (0x400d0000 up), READ to
 * DROM0 (0x3f400000 up); an EXEC block is reported at its instruction
 * address, any other at its data address. */
static void first_covering_region_takes_the_request(void) {
    fixture_t *f = setup();
    if (!f) return;
    uintptr_t x, r, y;
    CHECK_EQ(do_map(f, fl(f, 8), f->page, FLASH, f->exec_caps, 0, &x), 0);
    CHECK_EQ(x, f->exec_first);
    uintptr_t want = ref_first_fit(f, f->page, f->data_caps, FLASH);
    CHECK_EQ(do_map(f, fl(f, 9), f->page, FLASH, f->data_caps, 0, &r), 0);
    CHECK_EQ(r, want);
    /* the models wrote one entry per page (per table), nothing else */
    if (f->kind == K_ESP32) {
        CHECK_EQ(f->esp32.n_writes, 2);
    } else if (f->kind == K_ESP32S3) {
        CHECK_EQ(f->s3.n_writes, 2);
    }
    if (f->kind == K_ESP32) {
        CHECK(x >= 0x400d0000u && x < 0x40400000u);
        CHECK_EQ(r, 0x3f410000u);
        CHECK_EQ(f->esp32.pro[esp32_index(x)], 8);
        CHECK_EQ(esp32_index(x), 64 + 15);
    } else if (f->kind == K_ESP32S3) {
        CHECK_EQ(x, 0x42030000u);
        CHECK_EQ(r, 0x3c040000u); /* one linear space: after the EXEC block */
    }
    if (f->psram) {
        want = ref_first_fit(f, f->page, f->ram_caps, PSRAM);
        CHECK_EQ(do_map(f, 8 * f->page, f->page, PSRAM, f->ram_caps, 0, &y), 0);
        CHECK_EQ(y, want);
        CHECK_EQ(y, r + f->page);
    }
    teardown(f);
}

/* ESP-IDF: a range wholly inside a mapped one -> INVALID_STATE with *out
 * its address (natmod: + the offset); partial overlap -> INVALID_ARG
 * unless PADDR_SHARED, then an alias; enclosed stays INVALID_STATE with
 * PADDR_SHARED. Reservations are never "already mapped". */
static void physical_overlap_rules(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t v, o = 0, al;
    CHECK_EQ(do_map(f, fl(f, 8), 3 * ps, FLASH, f->data_caps, 0, &v), 0);
    CHECK_EQ(do_map(f, fl(f, 8), 3 * ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, v);
    CHECK_EQ(do_map(f, fl(f, 9), ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, v + ps);
    CHECK_EQ(do_map(f, fl(f, 9), 2 * ps - 5, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, v + ps);
    o = 0x55;
    CHECK_EQ(do_map(f, fl(f, 10), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 7), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_EQ(do_map(f, fl(f, 7), 5 * ps, FLASH, f->data_caps, 0, &o), E_ARG); /* a superset */
    CHECK_EQ(o, 0x55);
    CHECK_EQ(do_map(f, fl(f, 10), 2 * ps, FLASH, f->data_caps, SHARED, &al), 0);
    CHECK(al != v + 2 * ps);
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, f->data_caps, SHARED, &o), E_STATE);
    CHECK_EQ(o, v);
    /* paddr 10 is now mapped twice: the lowest address answers */
    uintptr_t q;
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 10), FLASH, DBUS, &q), 0);
    CHECK_EQ(q, v + 2 * ps < al ? v + 2 * ps : al);
    CHECK_EQ(do_map(f, fl(f, 11), ps, FLASH, f->data_caps, SHARED, &o), E_STATE);
    CHECK(o == v + 2 * ps || o == al + ps);
    /* the firmware's own pages (a reservation) can be mapped again */
    uintptr_t rr;
    CHECK_EQ(do_map(f, f->res[0].paddr & ~(uint64_t)(ps - 1), ps, FLASH, f->data_caps, 0, &rr), 0);
    if (f->psram) {
        /* natmod: the physical checks are per target */
        uintptr_t p;
        CHECK_EQ(do_map(f, fl(f, 8) - f->flash_base, ps, PSRAM, f->ram_caps, 0, &p), 0);
    }
    /* ESP-IDF: the physical check looks at the region the request lands in */
    uintptr_t xv;
    int err = do_map(f, fl(f, 8), ps, FLASH, f->exec_caps, 0, &xv);
    if (f->exec_data_one_region) {
        CHECK_EQ(err, E_STATE);
        /* *out is on the request's bus */
        CHECK_EQ(xv, f->two_buses ? v - 0x3c000000u + 0x42000000u : v);
    } else {
        CHECK_EQ(err, 0); /* ESP32: IRAM0 and DROM0 can both show a flash page */
        /* ESP-IDF: paddr_caps answers with the last region's block (DROM0);
         * paddr_caps_answers_from_the_last_region says more */
        unsigned caps;
        CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 8), FLASH, &caps), 0);
        CHECK_EQ(caps, f->data_caps);
    }
    teardown(f);
}

/* natmod: a block that encloses the range wins even when another block
 * that only partly overlaps it comes first (ESP-IDF stops at the first
 * block that encloses or overlaps; vmap.h lists INVALID_STATE first). */
static void enclosing_block_wins_over_an_earlier_partial_overlap(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t a, b, o = 0;
    CHECK_EQ(do_map(f, fl(f, 9), 2 * ps, FLASH, f->data_caps, 0, &a), 0);          /* 9, 10 */
    CHECK_EQ(do_map(f, fl(f, 10), 4 * ps, FLASH, f->data_caps, SHARED, &b), 0);    /* 10..13 */
    CHECK(a < b);
    CHECK_EQ(do_map(f, fl(f, 10), 2 * ps, FLASH, f->data_caps, 0, &o), E_STATE);   /* 10, 11 */
    CHECK_EQ(o, b);
    CHECK_EQ(do_map(f, fl(f, 12), ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, b + 2 * ps);
    CHECK_EQ(do_map(f, fl(f, 10), ps, FLASH, f->data_caps, 0, &o), E_STATE);       /* both enclose: the first */
    CHECK_EQ(o, a + ps);
    teardown(f);
}

/* natmod: map_at. */
static void map_at_rules(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t o, v, at = f->data_first + 4 * ps;
    /* free address: success at exactly vaddr (checked in do_map_at) */
    CHECK_EQ(do_map_at(f, at, fl(f, 20), 2 * ps, FLASH, f->data_caps, 0, &v), 0);
    CHECK_EQ(do_map_at(f, f->exec_first + 6 * ps, fl(f, 40), ps, FLASH, f->exec_caps, 0, &o), 0);
    /* first fit then works around it */
    uintptr_t want = ref_first_fit(f, 5 * ps, f->data_caps, FLASH);
    CHECK_EQ(do_map(f, fl(f, 30), 5 * ps, FLASH, f->data_caps, 0, &o), 0);
    CHECK_EQ(o, want);
    /* taken address, and one straddling the block: NOT_FOUND */
    CHECK_EQ(do_map_at(f, at, fl(f, 50), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_at(f, at + ps, fl(f, 50), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_at(f, at - ps, fl(f, 50), 2 * ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    /* running past the region's end: NOT_FOUND, even where the pages it
     * would take include a reservation (the data regions' last page is
     * reserved in every fixture) */
    uintptr_t l;
    const nm_vmap_region_t *dr = region(f, (unsigned)locate(f, at, &l));
    uintptr_t dend = dr->dbus_base + dr->laddr_end;
    CHECK_EQ(do_map_at(f, dend - 2 * ps, fl(f, 50), 3 * ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_at(f, dend - 2 * ps, fl(f, 50), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_EQ(do_map_at(f, dend - ps, fl(f, 50), ps, FLASH, f->data_caps, 0, &o), E_ARG);
    if (f->kind == K_ESP32) {
        /* IRAM0 ends at 0x40400000 with no reservation */
        CHECK_EQ(do_map_at(f, 0x40400000u - ps, fl(f, 50), 2 * ps, FLASH, f->exec_caps, 0, &o),
                 E_NOTFOUND);
        CHECK_EQ(do_map_at(f, 0x40400000u - ps, fl(f, 50), ps, FLASH, f->exec_caps, 0, &o), 0);
        CHECK_EQ(do_unmap(f, o), 0);
    }
    /* reserved address, or reaching into one: INVALID_ARG */
    uintptr_t rv = f->res[0].vaddr & ~(uintptr_t)(ps - 1);
    CHECK_EQ(do_map_at(f, rv, fl(f, 50), ps, FLASH, f->exec_caps, 0, &o), E_ARG);
    CHECK_EQ(do_map_at(f, rv + ps, fl(f, 50), ps, FLASH, f->exec_caps, 0, &o), E_ARG);
    uintptr_t rd = f->res[1].vaddr & ~(uintptr_t)(ps - 1);
    CHECK_EQ(do_map_at(f, rd, fl(f, 50), ps, FLASH, f->data_caps, 0, &o), E_ARG);
    if (f->exec_on_dbus && f->two_buses) {
        /* S3: a reservation made on the instruction bus is reserved on the data bus too */
        CHECK_EQ(do_map_at(f, rv - 0x42000000u + 0x3c000000u, fl(f, 50), ps, FLASH, f->data_caps, 0, &o),
                 E_ARG);
    }
    /* unaligned vaddr: INVALID_ARG */
    CHECK_EQ(do_map_at(f, at + 6 * ps + 8, fl(f, 50), ps, FLASH, f->data_caps, 0, &o), E_ARG);
    /* outside every region: NOT_FOUND */
    CHECK_EQ(do_map_at(f, f->outside, fl(f, 50), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    /* the physical range enclosed wins over the address being taken */
    o = 0;
    CHECK_EQ(do_map_at(f, at, fl(f, 21), ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, v + ps);
    /* partial physical overlap: INVALID_ARG; with PADDR_SHARED an alias */
    uintptr_t free_at = ref_first_fit(f, 4 * ps, f->data_caps, FLASH);
    CHECK_EQ(do_map_at(f, free_at, fl(f, 21), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_EQ(do_map_at(f, free_at, fl(f, 21), 2 * ps, FLASH, f->data_caps, SHARED, &o), 0);
    if (f->two_buses) {
        /* the wrong bus: EXEC at a data address, READ at an instruction
         * address -> INVALID_ARG (models only; the host has one address) */
        uintptr_t dfree = ref_first_fit(f, ps, f->data_caps, FLASH);
        uintptr_t ifree = ref_first_fit(f, ps, f->exec_caps, FLASH);
        CHECK_EQ(do_map_at(f, dfree, fl(f, 60), ps, FLASH, f->exec_caps, 0, &o), E_ARG);
        CHECK_EQ(do_map_at(f, ifree, fl(f, 60), ps, FLASH, f->data_caps, 0, &o), E_ARG);
        CHECK_EQ(do_map_at(f, ifree, fl(f, 60), ps, FLASH, f->exec_caps, 0, &o), 0);
    }
    if (f->kind == K_ESP32) {
        /* a region whose targets do not cover the request: NOT_FOUND
         * (DRAM1 shows PSRAM only) */
        CHECK_EQ(do_map_at(f, 0x3f800000u, fl(f, 70), ps, FLASH, R | C32, 0, &o), E_NOTFOUND);
    }
    teardown(f);
}

/* ESP-IDF: unmap takes the block's start; anything else is NOT_FOUND
 * (interior pointer, second unmap, a reservation); 0 is INVALID_ARG. */
static void unmap_rules(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t v;
    CHECK_EQ(do_map(f, fl(f, 8), 3 * ps, FLASH, f->exec_caps, 0, &v), 0);
    CHECK_EQ(do_unmap(f, 0), E_ARG);
    CHECK_EQ(do_unmap(f, v + ps), E_NOTFOUND);
    CHECK_EQ(do_unmap(f, v + 1), E_NOTFOUND);
    CHECK_EQ(do_unmap(f, f->res[0].vaddr & ~(uintptr_t)(ps - 1)), E_NOTFOUND);
    CHECK_EQ(do_unmap(f, f->res[2].vaddr), E_NOTFOUND);
    CHECK_EQ(do_unmap(f, f->outside), E_NOTFOUND);
    CHECK_EQ(do_unmap(f, v), 0);
    CHECK_EQ(do_unmap(f, v), E_NOTFOUND);
    if (f->exec_on_dbus && f->two_buses) {
        /* natmod: either bus's address of a block unmaps it */
        CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, f->exec_caps, 0, &v), 0);
        CHECK_EQ(do_unmap(f, v - 0x42000000u + 0x3c000000u), 0);
        CHECK_EQ(do_unmap(f, v), E_NOTFOUND);
    }
    teardown(f);
}

/* ESP-IDF: vaddr_to_paddr / paddr_to_vaddr on both buses, paddr_caps. */
static void address_queries(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t x, r, q;
    uint64_t p;
    unsigned t, caps;
    CHECK_EQ(do_map(f, fl(f, 8), 2 * ps, FLASH, f->exec_caps, 0, &x), 0);
    CHECK_EQ(do_map(f, fl(f, 20), 2 * ps, FLASH, f->data_caps, 0, &r), 0);
    /* vaddr -> paddr, with the offset inside the page */
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, x + ps + 0x24, &p, &t), 0);
    CHECK_EQ(p, fl(f, 9) + 0x24);
    CHECK_EQ(t, FLASH);
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, r + 3, &p, &t), 0);
    CHECK_EQ(p, fl(f, 20) + 3);
    /* outside every region: INVALID_ARG; in a region, unmapped: NOT_FOUND */
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, f->outside, &p, &t), E_ARG);
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, r + 2 * ps, &p, &t), E_NOTFOUND);
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, r, NULL, &t), E_ARG);
    /* a reservation with a target answers; one without does not */
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, f->res[0].vaddr, &p, &t), 0);
    CHECK_EQ(p, f->res[0].paddr);
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, f->res[2].vaddr, &p, &t), E_NOTFOUND);
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, f->res[0].paddr, FLASH, IBUS, &q), 0);
    CHECK_EQ(q, f->res[0].vaddr);
    /* largest_free's own argument checks */
    size_t lf;
    CHECK_EQ(nm_vmap_largest_free(&f->vm, X | W, FLASH, &lf), E_ARG);
    CHECK_EQ(nm_vmap_largest_free(&f->vm, X | C8, FLASH, &lf), E_ARG);
    CHECK_EQ(nm_vmap_largest_free(&f->vm, f->data_caps, FLASH, NULL), E_ARG);
    /* blocks: the total, however few are copied */
    nm_vmap_info_t one[1];
    CHECK_EQ(nm_vmap_blocks(&f->vm, one, 1), f->n_ref);
    CHECK_EQ(nm_vmap_blocks(&f->vm, NULL, 0), f->n_ref);
    /* paddr -> vaddr on each bus */
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 9) + 4, FLASH, IBUS, &q), 0);
    CHECK_EQ(q, x + ps + 4);
    int e = nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 9) + 4, FLASH, DBUS, &q);
    if (f->exec_on_dbus) {
        /* S3: an EXEC block is seen on the data bus too (host: same address) */
        CHECK_EQ(e, 0);
        CHECK_EQ(q, f->two_buses ? x + ps + 4 - 0x42000000u + 0x3c000000u : x + ps + 4);
        CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, q, &p, &t), 0);
        CHECK_EQ(p, fl(f, 9) + 4);
    } else {
        /* ESP32: IRAM0 has no data-bus view */
        CHECK_EQ(e, E_NOTFOUND);
        CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, x - 0x40000000u + 0x3e000000u, &p, &t), E_ARG);
    }
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 21), FLASH, DBUS, &q), 0);
    CHECK_EQ(q, r + ps);
    e = nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 21), FLASH, IBUS, &q);
    if (f->kind == K_ESP32) {
        CHECK_EQ(e, E_NOTFOUND); /* DROM0 has no instruction view */
    } else {
        CHECK_EQ(e, 0);
        CHECK_EQ(q, f->two_buses ? r + ps - 0x3c000000u + 0x42000000u : r + ps);
    }
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 30), FLASH, DBUS, &q), E_NOTFOUND);
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 8), FLASH, 3, &q), E_ARG);
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 8), 0, DBUS, &q), E_ARG);
    /* paddr_caps: the caps of the block; per target (natmod) */
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 9) + 7, FLASH, &caps), 0);
    CHECK_EQ(caps, f->exec_caps);
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 20), FLASH, &caps), 0);
    CHECK_EQ(caps, f->data_caps);
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 30), FLASH, &caps), E_NOTFOUND);
    if (f->psram) {
        CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 20), PSRAM, &caps), E_NOTFOUND);
        uintptr_t pv;
        CHECK_EQ(do_map(f, 4 * ps, 2 * ps, PSRAM, f->ram_caps, 0, &pv), 0);
        CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, pv + ps, &p, &t), 0);
        CHECK_EQ(p, 5 * ps);
        CHECK_EQ(t, PSRAM);
        CHECK_EQ(nm_vmap_paddr_caps(&f->vm, 5 * ps, PSRAM, &caps), 0);
        CHECK_EQ(caps, f->ram_caps);
    }
    /* after unmap the queries forget the block */
    CHECK_EQ(do_unmap(f, x), 0);
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, x, &p, &t), E_NOTFOUND);
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 8), FLASH, IBUS, &q), E_NOTFOUND);
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 8), FLASH, &caps), E_NOTFOUND);
    teardown(f);
}

/* ESP-IDF's rule, as vmap.h states it: a block without EXEC is seen at its
 * data-bus address. A request that an instruction-only region covers too
 * (32BIT alone: ESP32's IRAM0 is EXEC|32BIT) goes to the first region with
 * a data bus, DROM0; ESP-IDF picks IRAM0 and aborts in its HAL. map,
 * find_free, largest_free and map_at agree: map_at refuses the instruction
 * address for these caps, so map must not hand it out. Issue 15 item 8. */
static void exec_less_request_lands_on_the_data_bus(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t v, w = 0, o;
    CHECK_EQ(nm_vmap_find_free(&f->vm, ps, FLASH, C32, &w), 0);
    CHECK_EQ(w, f->data_first);
    CHECK_EQ(do_map(f, fl(f, 8), ps, FLASH, C32, 0, &v), 0);
    CHECK_EQ(v, f->data_first);
    if (f->kind == K_ESP32) {
        CHECK(v >= 0x3f400000u && v < 0x3f800000u); /* DROM0, not 0x400d0000 up */
    }
    uintptr_t q;
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 8), FLASH, DBUS, &q), 0);
    CHECK_EQ(q, v);
    /* map_at takes the data address next to it with the same caps ... */
    CHECK_EQ(do_map_at(f, v + ps, fl(f, 9), ps, FLASH, C32, 0, &o), 0);
    if (f->two_buses) {
        /* ... and refuses an instruction address */
        CHECK_EQ(do_map_at(f, f->exec_first + 4 * ps, fl(f, 10), ps, FLASH, C32, 0, &o), E_ARG);
    }
    /* with the data-bus regions full, nothing is left for these caps,
     * whatever room an instruction-only region has */
    size_t rest = ref_largest(f, f->data_caps, FLASH);
    CHECK_EQ(do_map(f, fl(f, 16), rest, FLASH, f->data_caps, 0, &o), 0);
    size_t lf = 1;
    CHECK_EQ(nm_vmap_largest_free(&f->vm, C32, FLASH, &lf), 0);
    CHECK_EQ(lf, 0);
    CHECK_EQ(nm_vmap_find_free(&f->vm, ps, FLASH, C32, &w), E_NOTFOUND);
    o = 0x77;
    CHECK_EQ(do_map(f, fl(f, 100), ps, FLASH, C32, 0, &o), E_NOTFOUND);
    CHECK_EQ(o, 0x77);
    if (f->kind == K_ESP32) {
        /* IRAM0 still has room for what it can show: EXEC */
        CHECK(exec_room(f) > 0);
        CHECK_EQ(do_map(f, fl(f, 100), ps, FLASH, f->exec_caps, 0, &o), 0);
        CHECK_EQ(o, f->exec_first);
    }
    teardown(f);
}

/* ESP-IDF: esp_mmu_paddr_find_caps walks the regions in order and the
 * last region with a block showing the address answers; within a region
 * the lowest block does. On ESP32 a flash page mapped for code (IRAM0)
 * and for data (DROM0) answers with DROM0's caps. Issue 15 item 8. */
static void paddr_caps_answers_from_the_last_region(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t x, r, a;
    unsigned caps = 0;
    CHECK_EQ(do_map(f, fl(f, 8), 2 * ps, FLASH, f->exec_caps, 0, &x), 0);
    int err = do_map(f, fl(f, 8), 2 * ps, FLASH, f->data_caps, 0, &r);
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 9) + 3, FLASH, &caps), 0);
    if (f->exec_data_one_region) {
        CHECK_EQ(err, E_STATE); /* one region: the code block is the only one */
        CHECK_EQ(caps, f->exec_caps);
    } else {
        CHECK_EQ(err, 0);
        CHECK_EQ(caps, f->data_caps); /* DROM0 comes after IRAM0 */
        /* and with the DROM0 block gone, IRAM0's answers */
        CHECK_EQ(do_unmap(f, r), 0);
        CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 9), FLASH, &caps), 0);
        CHECK_EQ(caps, f->exec_caps);
    }
    /* within one region: the lowest block */
    CHECK_EQ(do_map(f, fl(f, 20), 2 * ps, FLASH, f->data_caps, 0, &r), 0);
    CHECK_EQ(do_map(f, fl(f, 21), 2 * ps, FLASH, R, SHARED, &a), 0);
    CHECK(r < a);
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 21), FLASH, &caps), 0);
    CHECK_EQ(caps, f->data_caps);
    CHECK_EQ(nm_vmap_paddr_caps(&f->vm, fl(f, 22), FLASH, &caps), 0);
    CHECK_EQ(caps, R);
    teardown(f);
}

/* natmod, kept on purpose (docs/vmap.md lists them): where ESP-IDF
 * asserts, or answers from the first matching page-table entry, the
 * queries answer from the blocks. These pin behaviour vmap already had. */
static void queries_answer_where_esp_idf_asserts(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t x, r, q = 0x55;
    uint64_t p;
    unsigned t;
    /* a physical address past what the MMU can show: NOT_FOUND (ESP-IDF
     * asserts in mmu_hal_paddr_to_vaddr) */
    uint64_t past = f->cfg.target_size[0] ? f->cfg.target_size[0] : (uint64_t)1 << 62;
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, past, FLASH, DBUS, &q), E_NOTFOUND);
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, UINT64_MAX, FLASH, IBUS, &q), E_NOTFOUND);
    CHECK_EQ(q, 0x55);
    if (f->kind != K_ESP32) {
        teardown(f);
        return;
    }
    /* ESP32's PSRAM window (DRAM1, 0x3f800000): NOT_FOUND (ESP-IDF
     * asserts in its HAL) */
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, 0x3f800000u, &p, &t), E_NOTFOUND);
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, 0x3fbffffcu, &p, &t), E_NOTFOUND);
    /* a page IRAM0 and DROM0 both show: each bus answers with its own
     * address (ESP-IDF finds DROM0's entry first, as the table puts
     * DROM0 before IRAM0, and says NOT_FOUND for the instruction bus) */
    CHECK_EQ(do_map(f, fl(f, 8), 2 * ps, FLASH, f->exec_caps, 0, &x), 0);
    CHECK_EQ(do_map(f, fl(f, 8), 2 * ps, FLASH, f->data_caps, 0, &r), 0);
    CHECK(esp32_index(r) < esp32_index(x));
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 9) + 4, FLASH, IBUS, &q), 0);
    CHECK_EQ(q, x + ps + 4);
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, fl(f, 9) + 4, FLASH, DBUS, &q), 0);
    CHECK_EQ(q, r + ps + 4);
    teardown(f);
}

/* ESP-IDF 6.1: esp_mmu_map_virt with vaddr 0 chooses the address, as
 * esp_mmu_map does, and takes a NULL out. Issue 15 item 8. */
static void map_virt_with_vaddr_0_maps_like_map(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t v, w = 0x66;
    CHECK_EQ(do_map_virt(f, 0, fl(f, 8), ps, FLASH, f->data_caps, 0, NULL), 0);
    CHECK_EQ(f->ref[f->n_ref - 1].vaddr, f->data_first);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 9), 2 * ps - 1, FLASH, f->data_caps, 0, &v), 0);
    CHECK_EQ(v, f->data_first + ps);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 12), 3 * ps, FLASH, f->exec_caps, 0, &v), 0);
    /* the same answers as map: enclosed -> INVALID_STATE with the address
     * (+ offset), with or without out; partial overlap -> INVALID_ARG */
    CHECK_EQ(do_map_virt(f, 0, fl(f, 10), ps, FLASH, f->data_caps, 0, &w), E_STATE);
    CHECK_EQ(w, f->data_first + 2 * ps);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 10), ps, FLASH, f->data_caps, 0, NULL), E_STATE);
    w = 0x66;
    CHECK_EQ(do_map_virt(f, 0, fl(f, 7), 2 * ps, FLASH, f->data_caps, 0, &w), E_ARG);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 7), 2 * ps, FLASH, f->data_caps, SHARED, &w), 0);
    /* no EXEC: the data bus, as map (exec_less_request_lands_on_the_data_bus) */
    uintptr_t want = ref_first_fit(f, ps, f->data_caps, FLASH);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 30), ps, FLASH, C32, 0, &w), 0);
    CHECK_EQ(w, want);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 31), exec_room(f) + ps, FLASH, f->exec_caps, 0, &w), E_NOTFOUND);
    /* argument checks as map's */
    CHECK_EQ(do_map_virt(f, 0, fl(f, 40), 0, FLASH, f->data_caps, 0, &w), E_ARG);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 40), ps, 0, f->data_caps, 0, &w), E_ARG);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 40), ps, PSRAM, f->ram_caps, 0, &w), f->psram ? 0 : E_UNSUP);
    CHECK_EQ(nm_vmap_map_virt(NULL, 0, fl(f, 40), ps, FLASH, f->data_caps, 0, &w, NULL), E_ARG);
    teardown(f);
}

/* The other bus's free address and the caps that land there: on ESP32
 * 32BIT alone (IRAM0 covers it but has no data bus), elsewhere a data
 * request at an instruction address. */
static unsigned wrong_bus_caps(fixture_t *f) {
    return f->kind == K_ESP32 ? C32 : f->data_caps;
}

/* ESP-IDF 6.1: esp_mmu_map_virt at a given address checks, after the
 * argument checks (vaddr alignment between paddr alignment and caps):
 * the range taken (NOT_FOUND), the physical range (INVALID_STATE /
 * INVALID_ARG), the pool (NO_MEM), the bus, the reservation (both
 * INVALID_ARG). nm_vmap_map_at keeps its own order: bus, reservation,
 * physical, taken. Issue 15 item 8. */
static void map_virt_checks_in_esp_idf_order(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t o = 0, a, b, e;
    uintptr_t rd = f->res[1].vaddr & ~(uintptr_t)(ps - 1); /* the data reservation */
    CHECK_EQ(rd + ps, f->data_first);
    /* success at vaddr, with and without out */
    uintptr_t at = f->data_first + 4 * ps;
    CHECK_EQ(do_map_virt(f, at, fl(f, 20), 2 * ps, FLASH, f->data_caps, 0, &a), 0); /* 20, 21 */
    CHECK_EQ(a, at);
    CHECK_EQ(do_map_virt(f, f->data_first, fl(f, 30), ps, FLASH, f->data_caps, 0, NULL), 0);
    b = f->data_first;
    /* argument order: paddr, then vaddr, then caps alignment */
    CHECK_EQ(do_map_virt(f, at + 8, fl(f, 60) + 1, ps, FLASH, X | W, 0, &o), E_ARG);
    CHECK_STR_CONTAINS(g_detail.msg, "paddr");
    CHECK_EQ(do_map_virt(f, at + 8, fl(f, 60), ps, FLASH, X | W, 0, &o), E_ARG);
    CHECK_STR_CONTAINS(g_detail.msg, "vaddr");
    CHECK_EQ(nm_vmap_map_at(&f->vm, at + 8, fl(f, 60), ps, FLASH, X | W, 0, &o, &g_detail), E_ARG);
    CHECK_STR_CONTAINS(g_detail.msg, "EXEC with WRITE");
    if (!f->psram) {
        CHECK_EQ(do_map_virt(f, at + 8, fl(f, 60) + 1, ps, PSRAM, f->ram_caps, 0, &o), E_UNSUP);
    }
    /* taken wins over the physical range (map_at: the other way round) */
    CHECK_EQ(do_map_virt(f, at, fl(f, 20), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_virt(f, at + ps, fl(f, 21), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(o, 0);
    CHECK_EQ(do_map_at(f, at, fl(f, 20), ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, a);
    /* the physical range wins over the reservation (map_at: reservation
     * first); INVALID_STATE's *out is the existing block's, whatever vaddr */
    o = 0;
    CHECK_EQ(do_map_virt(f, rd, fl(f, 21), ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, a + ps);
    CHECK_EQ(do_map_virt(f, rd, fl(f, 21), ps, FLASH, f->data_caps, 0, NULL), E_STATE);
    CHECK_EQ(do_map_at(f, rd, fl(f, 21), ps, FLASH, f->data_caps, 0, &o), E_ARG);
    /* taken wins over the reservation: [rd, b] holds both */
    CHECK_EQ(do_map_virt(f, rd, fl(f, 60), 2 * ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_at(f, rd, fl(f, 60), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    /* with b gone, a partial physical overlap wins over the reservation */
    CHECK_EQ(do_unmap(f, b), 0);
    CHECK_EQ(do_map_virt(f, rd, fl(f, 19), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_STR_CONTAINS(g_detail.msg, "partly overlaps");
    /* the reservation alone: INVALID_ARG */
    CHECK_EQ(do_map_virt(f, rd, fl(f, 60), ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_STR_CONTAINS(g_detail.msg, "reservation");
    /* the region: past its end or outside every region -> NOT_FOUND; up to
     * its end, over the reserved last page -> INVALID_ARG */
    uintptr_t l;
    const nm_vmap_region_t *dr = region(f, (unsigned)locate(f, at, &l));
    uintptr_t dend = dr->dbus_base + dr->laddr_end;
    CHECK_EQ(do_map_virt(f, dend - 2 * ps, fl(f, 60), 3 * ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_virt(f, dend - 2 * ps, fl(f, 60), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_STR_CONTAINS(g_detail.msg, "reservation");
    CHECK_EQ(do_map_virt(f, f->outside, fl(f, 60), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    /* partial physical overlap; with PADDR_SHARED an alias at vaddr */
    uintptr_t fr = ref_first_fit(f, 2 * ps, f->data_caps, FLASH);
    CHECK_EQ(do_map_virt(f, fr, fl(f, 21), 2 * ps, FLASH, f->data_caps, 0, &o), E_ARG);
    CHECK_EQ(do_map_virt(f, fr, fl(f, 21), 2 * ps, FLASH, f->data_caps, SHARED, &o), 0);
    CHECK_EQ(do_unmap(f, fr), 0);
    if (f->two_buses) {
        unsigned wc = wrong_bus_caps(f);
        /* a code block E, then requests at instruction addresses with caps
         * that want the data bus */
        CHECK_EQ(do_map(f, fl(f, 40), ps, FLASH, f->exec_caps, 0, &e), 0);
        uintptr_t ifree = ref_first_fit(f, ps, f->exec_caps, FLASH);
        /* taken wins over the bus (map_at: bus first) */
        CHECK_EQ(do_map_virt(f, e, fl(f, 60), ps, FLASH, wc, 0, &o), E_NOTFOUND);
        CHECK_EQ(do_map_at(f, e, fl(f, 60), ps, FLASH, wc, 0, &o), E_ARG);
        /* the physical range wins over the bus; *out on the caller's bus
         * where the region has it (S3), else the block's (ESP32 IRAM0) */
        o = 0;
        CHECK_EQ(do_map_virt(f, ifree, fl(f, 40), ps, FLASH, wc, 0, &o), E_STATE);
        CHECK_EQ(o, f->kind == K_ESP32 ? e : e - 0x42000000u + 0x3c000000u);
        CHECK_EQ(do_map_at(f, ifree, fl(f, 40), ps, FLASH, wc, 0, &o), E_ARG);
        /* the bus alone */
        CHECK_EQ(do_map_virt(f, ifree, fl(f, 60), ps, FLASH, wc, 0, &o), E_ARG);
        CHECK_STR_CONTAINS(g_detail.msg, "instruction-bus address");
        /* the bus wins over the reservation (the firmware's text) */
        uintptr_t rt = f->res[0].vaddr & ~(uintptr_t)(ps - 1);
        CHECK_EQ(do_map_virt(f, rt, fl(f, 60), ps, FLASH, wc, 0, &o), E_ARG);
        CHECK_STR_CONTAINS(g_detail.msg, "instruction-bus address");
        /* EXEC at a free data address: S3's region holds it (then the
         * bus refuses it); ESP32's IRAM0 does not (NOT_FOUND) */
        uintptr_t dfree = ref_first_fit(f, ps, f->data_caps, FLASH);
        CHECK_EQ(do_map_virt(f, dfree, fl(f, 60), ps, FLASH, f->exec_caps, 0, &o),
                 f->kind == K_ESP32 ? E_NOTFOUND : E_ARG);
        CHECK_EQ(do_map_at(f, dfree, fl(f, 60), ps, FLASH, f->exec_caps, 0, &o), E_ARG);
        /* and on the right bus it maps */
        CHECK_EQ(do_map_virt(f, ifree, fl(f, 60), ps, FLASH, f->exec_caps, 0, &o), 0);
    }
    if (f->kind == K_ESP32) {
        /* a region whose targets do not cover the request: NOT_FOUND */
        CHECK_EQ(do_map_virt(f, 0x3f800000u, fl(f, 70), ps, FLASH, R | C32, 0, &o), E_NOTFOUND);
    }
    teardown(f);
}

/* ESP-IDF 6.1 allocates the new block after the physical checks and
 * before the bus and reservation checks, so an empty pool is NO_MEM there,
 * but a taken range is still NOT_FOUND and an enclosed one INVALID_STATE. */
static void map_virt_no_mem_comes_before_bus_and_reservation(void) {
    fixture_t *f = &g_f;
    if (setup_pool(g_kind, 3 + 1) != 0) return;
    size_t ps = f->page;
    uintptr_t b, o = 0x77;
    uintptr_t rd = f->res[1].vaddr & ~(uintptr_t)(ps - 1);
    CHECK_EQ(do_map_virt(f, 0, fl(f, 8), ps, FLASH, f->data_caps, 0, &b), 0); /* the one block */
    CHECK_EQ(do_map_virt(f, 0, fl(f, 20), ps, FLASH, f->data_caps, 0, &o), E_NOMEM);
    CHECK_EQ(do_map_virt(f, rd, fl(f, 20), ps, FLASH, f->data_caps, 0, &o), E_NOMEM);
    CHECK_EQ(do_map_at(f, rd, fl(f, 20), ps, FLASH, f->data_caps, 0, &o), E_ARG);
    if (f->two_buses) {
        uintptr_t ifree = ref_first_fit(f, ps, f->exec_caps, FLASH);
        CHECK_EQ(do_map_virt(f, ifree, fl(f, 20), ps, FLASH, wrong_bus_caps(f), 0, &o), E_NOMEM);
        CHECK_EQ(do_map_at(f, ifree, fl(f, 20), ps, FLASH, wrong_bus_caps(f), 0, &o), E_ARG);
    }
    CHECK_EQ(o, 0x77);
    CHECK_EQ(do_map_virt(f, b, fl(f, 20), ps, FLASH, f->data_caps, 0, &o), E_NOTFOUND);
    CHECK_EQ(do_map_virt(f, b + ps, fl(f, 8), ps, FLASH, f->data_caps, 0, &o), E_STATE);
    CHECK_EQ(o, b);
    teardown(f);
}

/* natmod: the largest free stretch stays exact through a long sequence
 * (check_state compares it after every step). */
static void largest_free_exact_through_churn(void) {
    fixture_t *f = setup();
    if (!f) return;
    size_t ps = f->page;
    uintptr_t v[12];
    unsigned slot[12], n = 0, used = 0; /* used: bit per physical slot */
    uint32_t seed = 12345;
    for (unsigned step = 0; step < 200; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 16) & 0x7fff;
        if (n < 12 && (r & 1)) {
            /* distinct physical ranges: 12 slots of 8 pages */
            unsigned s = 0;
            while (used & (1u << s)) {
                s++;
            }
            unsigned pages = 1 + (r >> 1) % 5;
            unsigned caps = (r & 8) ? f->exec_caps : f->data_caps;
            uintptr_t want = ref_first_fit(f, pages * ps, caps, FLASH);
            int err = do_map(f, fl(f, 64 + 8 * s), pages * ps, FLASH, caps, 0, &v[n]);
            if (want) {
                CHECK_EQ(err, 0);
                CHECK_EQ(v[n], want);
                if (err == 0) {
                    slot[n++] = s;
                    used |= 1u << s;
                }
            } else {
                CHECK_EQ(err, E_NOTFOUND);
            }
        } else if (n) {
            unsigned k = r % n;
            CHECK_EQ(do_unmap(f, v[k]), 0);
            used &= ~(1u << slot[k]);
            v[k] = v[n - 1];
            slot[k] = slot[n - 1];
            n--;
        }
    }
    teardown(f);
}

/* natmod: the dump prints one line per region and one per block. */
static char dump_buf[8192];
static unsigned dump_lines;
static void dump_emit(void *ctx, const char *line) {
    (void)ctx;
    strncat(dump_buf, line, sizeof dump_buf - strlen(dump_buf) - 2);
    strcat(dump_buf, "\n");
    dump_lines++;
}

static void dump_lists_regions_and_blocks(void) {
    fixture_t *f = setup();
    if (!f) return;
    uintptr_t x;
    CHECK_EQ(do_map(f, fl(f, 8), 2 * f->page, FLASH, f->exec_caps, 0, &x), 0);
    dump_buf[0] = 0;
    dump_lines = 0;
    nm_vmap_dump(&f->vm, dump_emit, NULL);
    CHECK_EQ(dump_lines, f->cfg.n_regions + f->n_ref);
    char want[128];
    for (unsigned i = 0; i < f->cfg.n_regions; i++) {
        snprintf(want, sizeof want, " %s laddr 0x%08lx-0x%08lx caps ", region(f, i)->name,
                 (unsigned long)region(f, i)->laddr_start, (unsigned long)region(f, i)->laddr_end);
        CHECK_STR_CONTAINS(dump_buf, want);
    }
    /* vmap.h's example: the region index in decimal, "region 0 IRAM0" */
    snprintf(want, sizeof want, "region 0 %s laddr", region(f, 0)->name);
    CHECK_STR_CONTAINS(dump_buf, want);
    snprintf(want, sizeof want, "  0x%08lx-0x%08lx -> flash 0x%08llx caps X--32-\n", (unsigned long)x,
             (unsigned long)(x + 2 * f->page), (unsigned long long)fl(f, 8));
    CHECK_STR_CONTAINS(dump_buf, want);
    CHECK_STR_CONTAINS(dump_buf, "(firmware)");
    CHECK_STR_CONTAINS(dump_buf, " reserved\n");
    if (f->kind == K_ESP32) {
        CHECK_STR_CONTAINS(dump_buf, " IRAM0 laddr 0x000d0000-0x00400000 caps X--32- targets F- largest free 0x2f0000\n");
        CHECK_STR_CONTAINS(dump_buf, " DROM0 laddr 0x01400000-0x01800000 caps -R-328 targets F- largest free 0x3e0000\n");
        CHECK_STR_CONTAINS(dump_buf, " DRAM1 laddr 0x01800000-0x01c00000 caps -RW328 targets -P largest free 0x400000\n");
        CHECK_STR_CONTAINS(dump_buf, "  0x3f7f0000-0x3f800000 -> (firmware) caps -R-328 reserved\n");
        CHECK_STR_CONTAINS(dump_buf, "  0x400d0000-0x400f0000 -> flash 0x00010000 caps X--32- reserved");
    }
    if (f->kind == K_ESP32S3) {
        CHECK_STR_CONTAINS(dump_buf, "laddr 0x00000000-0x02000000 caps XRW328 targets FP");
    }
    teardown(f);
}

/* natmod: find_free makes map's argument checks and answers where map
 * would put the request, without mapping. */
static void find_free_checks_like_map(void) {
    fixture_t *f = setup();
    if (!f) return;
    uintptr_t v = 0, m;
    unsigned long calls = backend_calls;
    CHECK_EQ(nm_vmap_find_free(&f->vm, f->page, FLASH, f->data_caps, NULL), E_ARG);
    CHECK_EQ(nm_vmap_find_free(&f->vm, 0, FLASH, f->data_caps, &v), E_ARG);
    CHECK_EQ(nm_vmap_find_free(&f->vm, f->page, 0, f->data_caps, &v), E_ARG);
    CHECK_EQ(nm_vmap_find_free(&f->vm, f->page, FLASH, X | W, &v), E_ARG);
    CHECK_EQ(nm_vmap_find_free(&f->vm, f->page, PSRAM, f->ram_caps, &v), f->psram ? 0 : E_UNSUP);
    CHECK_EQ(nm_vmap_find_free(&f->vm, 3 * f->page - 1, FLASH, f->exec_caps, &v), 0);
    CHECK_EQ(v, f->exec_first);
    CHECK_EQ(backend_calls, calls);
    check_state(f);
    CHECK_EQ(do_map(f, fl(f, 8), 3 * f->page - 1, FLASH, f->exec_caps, 0, &m), 0);
    CHECK_EQ(m, v);
    CHECK_EQ(nm_vmap_find_free(&f->vm, f->page, FLASH, f->data_caps, &v), 0);
    CHECK_EQ(v, ref_first_fit(f, f->page, f->data_caps, FLASH));
    teardown(f);
}

/* natmod: a back-end that refuses (host: no flash file holds the range)
 * gives FAIL and changes nothing; the block goes back to the pool. */
static void backend_refusal_is_fail_and_changes_nothing(void) {
#if VMAP_TEST_HOST
    if (g_kind != K_HOST) {
        return; /* the models never refuse */
    }
    fixture_t *f = &g_f;
    if (setup_pool(g_kind, 3 + 1) != 0) return;
    uintptr_t v = 0x99, w;
    CHECK_EQ(do_map(f, fl(f, 300), f->page, FLASH, f->data_caps, 0, &v), NM_VMAP_ERR_FAIL);
    CHECK_EQ(do_map(f, f->flash_base + NM_VMAP_HOST_FILE_SPAN, f->page, FLASH, f->data_caps, 0, &v),
             NM_VMAP_ERR_FAIL);
    CHECK_EQ(do_map_at(f, f->data_first, fl(f, 300), f->page, FLASH, f->data_caps, 0, &v),
             NM_VMAP_ERR_FAIL);
    CHECK_EQ(v, 0x99);
    CHECK_EQ(do_map(f, fl(f, 8), f->page, FLASH, f->data_caps, 0, &w), 0); /* the one pool block */
    CHECK_EQ(w, f->data_first);
    teardown(f);
#endif
}

/* The models' own address helpers and esp_err values. */
static void model_entry_helpers_and_esp_err(void) {
    if (g_kind == K_ESP32) {
        CHECK_EQ(nm_vmap_esp32_entry(0x3f400000u), 0);
        CHECK_EQ(nm_vmap_esp32_entry(0x3f7fffffu), 63);
        CHECK_EQ(nm_vmap_esp32_entry(0x400d0000u), 77);
        CHECK_EQ(nm_vmap_esp32_entry(0x403fffffu), 127);
        CHECK_EQ(nm_vmap_esp32_entry(0x40400000u), 128);
        CHECK_EQ(nm_vmap_esp32_entry(0x40800000u), 192);
        CHECK_EQ(nm_vmap_esp32_entry(0x40bfffffu), 255);
        CHECK_EQ(nm_vmap_esp32_entry(0x40c00000u), -1);
        CHECK_EQ(nm_vmap_esp32_entry(0x3f3fffffu), -1);
        CHECK_EQ(nm_vmap_esp32_entry(0x3f800000u), -1);
    } else if (g_kind == K_ESP32S3) {
        CHECK_EQ(nm_vmap_esp32s3_entry(0x42000000u), 0);
        CHECK_EQ(nm_vmap_esp32s3_entry(0x3c000000u), 0);
        CHECK_EQ(nm_vmap_esp32s3_entry(0x43ffffffu), 511);
        CHECK_EQ(nm_vmap_esp32s3_entry(0x3dffffffu), 511);
        CHECK_EQ(nm_vmap_esp32s3_entry(0x44000000u), -1);
        CHECK_EQ(nm_vmap_esp32s3_entry(0x3e000000u), -1);
        CHECK_EQ(nm_vmap_esp32s3_entry(0x3bff0000u), -1);
    }
    CHECK_EQ(nm_vmap_esp_err(0), 0);
    CHECK_EQ(nm_vmap_esp_err(E_NOMEM), 0x101);
    CHECK_EQ(nm_vmap_esp_err(E_ARG), 0x102);
    CHECK_EQ(nm_vmap_esp_err(E_STATE), 0x103);
    CHECK_EQ(nm_vmap_esp_err(E_NOTFOUND), 0x105);
    CHECK_EQ(nm_vmap_esp_err(E_UNSUP), 0x106);
    CHECK_EQ(nm_vmap_esp_err(NM_VMAP_ERR_FAIL), -1);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (g_kind = 0; g_kind < K_COUNT; g_kind++) {
#if !VMAP_TEST_HOST
        if (g_kind == K_HOST) {
            printf("-- host fixture not built (VMAP_TEST_HOST=0)\n");
            continue;
        }
#endif
        printf("-- fixture %s\n", kind_name[g_kind]);
        RUN(errors_come_in_esp_idf_order);
        RUN(full_region_is_not_found_before_already_mapped);
        RUN(empty_pool_is_no_mem_after_physical_checks);
        RUN(size_rounds_up_and_first_fit_reuses_freed_range);
        RUN(first_covering_region_takes_the_request);
        RUN(physical_overlap_rules);
        RUN(enclosing_block_wins_over_an_earlier_partial_overlap);
        RUN(map_at_rules);
        RUN(unmap_rules);
        RUN(address_queries);
        RUN(exec_less_request_lands_on_the_data_bus);
        RUN(paddr_caps_answers_from_the_last_region);
        RUN(queries_answer_where_esp_idf_asserts);
        RUN(map_virt_with_vaddr_0_maps_like_map);
        RUN(map_virt_checks_in_esp_idf_order);
        RUN(map_virt_no_mem_comes_before_bus_and_reservation);
        RUN(largest_free_exact_through_churn);
        RUN(dump_lists_regions_and_blocks);
        RUN(find_free_checks_like_map);
        RUN(backend_refusal_is_fail_and_changes_nothing);
        RUN(model_entry_helpers_and_esp_err);
    }
    return TEST_DONE();
}
