/*
 * vmap against a reference model, op by op: >= 100,000 random map, map_at,
 * map_virt and unmap calls (plus queries) on four layouts (ESP32-like: EXEC-only
 * instruction region, READ data region, PSRAM data region, with and
 * without PSRAM support; ESP32-S3-like: one region on both buses at
 * different bases; host-like: one region, one base, 4 KB pages, a tiny
 * pool). The model is deliberately dumb: one owner per linear page, first
 * fit = the lowest run of free pages, every check in the order vmap.h
 * lists. A recording back-end keeps its own page table, compared with the
 * model after every operation, so this test needs no esp32.c.
 *
 * After every operation it compares: the return code, *out (on success and
 * INVALID_STATE; unchanged otherwise), nm_vmap_blocks, largest_free for
 * several caps/targets, the back-end's calls and page table, pool
 * accounting, and a few random vaddr_to_paddr / paddr_to_vaddr /
 * paddr_caps / find_free queries. Deterministic: fixed seeds, printed; on
 * divergence the op index, the op and both results are printed and the
 * run stops.
 *
 * Where vmap.h leaves a choice open the model takes vmap.c's (documented
 * in its comments): INVALID_STATE's *out is on the caller's bus when the
 * region has it; when several blocks enclose the range, the lowest one.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "natmod/vmap.h"

#define MAXR 3     /* regions per layout */
#define MAXP 512   /* pages per region */
#define MAXLIN 512 /* linear pages in all (the recording page table) */
#define MAXB 400   /* pool blocks */

enum { X = NM_VMAP_CAP_EXEC, R = NM_VMAP_CAP_READ, W = NM_VMAP_CAP_WRITE,
       B32 = NM_VMAP_CAP_32BIT, B8 = NM_VMAP_CAP_8BIT };
enum { FL = NM_VMAP_TARGET_FLASH0, PS = NM_VMAP_TARGET_PSRAM0 };
enum { DB = NM_VMAP_BUS_DATA, IB = NM_VMAP_BUS_INSTR };

typedef struct layout {
    const char *name;
    size_t ps;
    nm_vmap_region_t reg[MAXR];
    unsigned n_reg;
    nm_vmap_reserve_t res[4];
    unsigned n_res;
    unsigned supported;
    uint64_t target_size[2];
    unsigned pool_len;
    uint64_t phys_pages; /* random paddrs come from [0, phys_pages) pages */
    unsigned max_pages;  /* typical request size, pages */
} layout_t;

#define K64 0x10000u
static const layout_t layouts[] = {
    {"esp32 (IRAM0 X, DROM0 R, DRAM1 PSRAM; PSRAM unsupported)", K64,
     {{"IRAM0", 77 * K64, 128 * K64, X | B32, FL, IB, 0x3fc00000u, 0},
      {"DROM0", 0, 64 * K64, R | B8 | B32, FL, DB, 0, 0x3f400000u},
      {"DRAM1", 256 * K64, 320 * K64, R | W | B8 | B32, PS, DB, 0, 0x3e800000u}},
     3,
     {{0x400d0020u, 0x2ffe0u, 0x10020u, FL}, {0x3f400000u, 0x18000u, 0x50000u, FL},
      {0x3f600000u, 0x10000u, 0, 0}},
     3, FL, {64 * K64, 64 * K64}, 3 + 24, 72, 6},
    {"esp32 (same, PSRAM supported, small pool)", K64,
     {{"IRAM0", 77 * K64, 128 * K64, X | B32, FL, IB, 0x3fc00000u, 0},
      {"DROM0", 0, 64 * K64, R | B8 | B32, FL, DB, 0, 0x3f400000u},
      {"DRAM1", 256 * K64, 320 * K64, R | W | B8 | B32, PS, DB, 0, 0x3e800000u}},
     3,
     {{0x400d0020u, 0x2ffe0u, 0x10020u, FL}, {0x3f400000u, 0x18000u, 0x50000u, FL},
      {0x3f600000u, 0x10000u, 0, 0}},
     3, 0, {64 * K64, 64 * K64}, 3 + 10, 72, 8},
    {"esp32s3 (one region, both buses, 512 pages)", K64,
     {{"S3", 0, 512 * K64, X | R | W | B8 | B32, FL | PS, IB | DB, 0x42000000u, 0x3c000000u}},
     1,
     {{0x42000000u, 0x30000u, 0, FL}, {0x3c030000u, 0x1f000u, 0x30000u, FL},
      {0x3c100000u, 0x10000u, 0, 0}},
     3, 0, {256 * K64, 128 * K64}, 3 + 300, 96, 24},
    {"host-like (one region, one base for both buses, 4 KB pages, pool 12)", 0x1000,
     {{"host", 0x1000, 0x81000, X | R | W | B8 | B32, FL | PS, IB | DB, 0x7f0000000000u, 0x7f0000000000u}},
     1,
     {{0x7f0000004800u, 0x800u, 0x4800u, PS}},
     1, 0, {0, 0}, 1 + 12, 64, 20},
};
#define N_LAYOUTS (sizeof layouts / sizeof layouts[0])

/* ---- random ---- */

static uint64_t rng;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n) { return n ? (unsigned)(rnd() % n) : 0; }
static int pct(unsigned p) { return below(100) < p; }

/* ---- the recording back-end ---- */

typedef struct pte {
    int state; /* 0 invalid, 1 mapped by vmap, 2 mapped by "firmware" */
    unsigned target, caps;
    uint64_t paddr;
} pte_t;

typedef struct rec {
    const layout_t *L;
    pte_t pt[MAXLIN];
    int fail_next;
    unsigned n_map, n_unmap, n_inval;
    uintptr_t inval_vaddr;
    size_t inval_size;
    int bad; /* a call the back-end contract forbids */
    char why[160];
} rec_t;

static void rec_bad(rec_t *c, const char *why, uintptr_t laddr) {
    if (!c->bad) {
        c->bad = 1;
        snprintf(c->why, sizeof c->why, "%s (laddr 0x%" PRIxPTR ")", why, laddr);
    }
}

static int rec_region_ok(rec_t *c, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    size_t ps = c->L->ps;
    if (laddr % ps || size % ps || !size || laddr < r->laddr_start || laddr > r->laddr_end ||
        size > r->laddr_end - laddr) {
        rec_bad(c, "back-end asked for a range outside its region or not on pages", laddr);
        return 0;
    }
    return 1;
}

static int rec_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr, size_t size,
                   unsigned target, unsigned caps) {
    rec_t *c = ctx;
    c->n_map++;
    if (c->fail_next) {
        return NM_ERR_IO;
    }
    if (!rec_region_ok(c, r, laddr, size)) {
        return 0;
    }
    for (size_t o = 0; o < size; o += c->L->ps) {
        pte_t *e = &c->pt[(laddr + o) / c->L->ps];
        if (e->state) {
            rec_bad(c, "back-end map over a valid entry", laddr + o);
        }
        e->state = 1;
        e->target = target;
        e->caps = caps;
        e->paddr = paddr + o;
    }
    return 0;
}

static void rec_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    rec_t *c = ctx;
    c->n_unmap++;
    if (!rec_region_ok(c, r, laddr, size)) {
        return;
    }
    for (size_t o = 0; o < size; o += c->L->ps) {
        pte_t *e = &c->pt[(laddr + o) / c->L->ps];
        if (e->state != 1) {
            rec_bad(c, "back-end unmap of an entry vmap did not map", laddr + o);
        }
        e->state = 0;
    }
}

static void rec_inval(void *ctx, uintptr_t vaddr, size_t size) {
    rec_t *c = ctx;
    c->n_inval++;
    c->inval_vaddr = vaddr;
    c->inval_size = size;
}

static const nm_vmap_backend_t rec_backend = {rec_map, rec_unmap, rec_inval};

/* ---- the reference model ---- */

typedef struct rblk {
    int live, reserved;
    unsigned region;
    size_t page, npages; /* page index within the region, count */
    uint64_t paddr;
    unsigned target, caps;
    uintptr_t res_vaddr; /* reservations: the page the firmware gave */
} rblk_t;

typedef struct ref {
    const layout_t *L;
    rblk_t b[MAXB];
    int owner[MAXR][MAXP]; /* index into b, -1 free */
    unsigned pool_free;
    int fail_next;
} ref_t;

static size_t reg_pages(const layout_t *L, unsigned ri) {
    return (L->reg[ri].laddr_end - L->reg[ri].laddr_start) / L->ps;
}

static uintptr_t base_of(const nm_vmap_region_t *r, unsigned bus) {
    return bus == IB ? r->ibus_base : r->dbus_base;
}

/* Does region ri's view on bus contain v? */
static int view_has(const layout_t *L, unsigned ri, unsigned bus, uintptr_t v, uintptr_t *laddr) {
    const nm_vmap_region_t *r = &L->reg[ri];
    if (!(r->buses & bus)) {
        return 0;
    }
    uintptr_t base = base_of(r, bus);
    if (v < base + r->laddr_start || v >= base + r->laddr_end) {
        return 0;
    }
    *laddr = v - base;
    return 1;
}

static unsigned caps_bus(unsigned caps) { return (caps & X) ? IB : DB; }

/* Where a block with these caps is seen: its caps' bus, else the region's. */
static uintptr_t vaddr_on(const layout_t *L, unsigned ri, unsigned caps, size_t page) {
    const nm_vmap_region_t *r = &L->reg[ri];
    unsigned bus = caps_bus(caps);
    if (!(r->buses & bus)) {
        bus = (r->buses & DB) ? DB : IB;
    }
    return base_of(r, bus) + r->laddr_start + page * L->ps;
}

static uintptr_t blk_vaddr(const ref_t *m, const rblk_t *b) {
    return b->reserved ? b->res_vaddr : vaddr_on(m->L, b->region, b->caps, b->page);
}

static int covers(const nm_vmap_region_t *r, unsigned caps, unsigned target) {
    return (r->caps & caps) == caps && (r->targets & target) == target;
}

/* map, find_free and largest_free also want the bus the caps imply. */
static int serves(const nm_vmap_region_t *r, unsigned caps, unsigned target) {
    return covers(r, caps, target) && (r->buses & caps_bus(caps));
}

static size_t max_run(const ref_t *m, unsigned ri) {
    size_t best = 0, run = 0, n = reg_pages(m->L, ri);
    for (size_t p = 0; p < n; p++) {
        run = m->owner[ri][p] < 0 ? run + 1 : 0;
        best = run > best ? run : best;
    }
    return best;
}

/* Lowest page of a free run of n pages, or -1. */
static long first_fit(const ref_t *m, unsigned ri, size_t n) {
    size_t run = 0, total = reg_pages(m->L, ri);
    for (size_t p = 0; p < total; p++) {
        run = m->owner[ri][p] < 0 ? run + 1 : 0;
        if (run == n) {
            return (long)(p + 1 - n);
        }
    }
    return -1;
}

static int new_block(ref_t *m) {
    for (int i = 0; i < MAXB; i++) {
        if (!m->b[i].live) {
            return i;
        }
    }
    return -1;
}

static void ref_init(ref_t *m, const layout_t *L) {
    memset(m, 0, sizeof *m);
    m->L = L;
    for (unsigned ri = 0; ri < MAXR; ri++) {
        for (unsigned p = 0; p < MAXP; p++) {
            m->owner[ri][p] = -1;
        }
    }
    m->pool_free = L->pool_len;
    for (unsigned k = 0; k < L->n_res; k++) {
        const nm_vmap_reserve_t *rv = &L->res[k];
        uintptr_t lo = rv->vaddr & ~(uintptr_t)(L->ps - 1), laddr = 0;
        unsigned ri = 0;
        while (!view_has(L, ri, DB, lo, &laddr) && !view_has(L, ri, IB, lo, &laddr)) {
            ri++;
        }
        rblk_t *b = &m->b[new_block(m)];
        b->live = b->reserved = 1;
        b->region = ri;
        b->page = (laddr - L->reg[ri].laddr_start) / L->ps;
        b->npages = (rv->vaddr - lo + rv->size + L->ps - 1) / L->ps;
        b->target = rv->target;
        b->paddr = rv->target ? rv->paddr - (rv->vaddr - lo) : 0;
        b->res_vaddr = lo;
        for (size_t p = 0; p < b->npages; p++) {
            m->owner[ri][b->page + p] = (int)(b - m->b);
        }
        m->pool_free--;
    }
}

/* map's argument checks (with_paddr 0: find_free's; vaddr: map_virt's). */
static int ref_args(const ref_t *m, int with_paddr, uint64_t paddr, const uintptr_t *vaddr, size_t size,
                    unsigned target, unsigned caps, size_t *aligned) {
    const layout_t *L = m->L;
    unsigned supported = L->supported;
    if (!supported) {
        for (unsigned i = 0; i < L->n_reg; i++) {
            supported |= L->reg[i].targets;
        }
    }
    if (target != FL && target != PS) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    if (!(target & supported)) {
        return NM_VMAP_ERR_NOT_SUPPORTED;
    }
    if (with_paddr && paddr % L->ps) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    if (vaddr && *vaddr % L->ps) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    if ((caps & X) && (caps & (W | B8))) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    if (!caps || (caps & ~0x1fu)) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    if (!size || size > SIZE_MAX - (L->ps - 1)) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    *aligned = (size + L->ps - 1) / L->ps * L->ps;
    uint64_t lim = L->target_size[target == PS];
    if (with_paddr && (paddr > UINT64_MAX - *aligned || (lim && paddr + *aligned > lim))) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    return NM_OK;
}

/* Enclosed -> INVALID_STATE (+ *out), partial overlap -> INVALID_ARG. */
static int ref_phys(const ref_t *m, unsigned ri, uint64_t paddr, size_t aligned, unsigned target,
                    unsigned caps, unsigned flags, uintptr_t *out) {
    int overlap = 0;
    for (size_t p = 0; p < reg_pages(m->L, ri); p++) {
        int i = m->owner[ri][p];
        if (i < 0 || m->b[i].page != p || m->b[i].reserved || m->b[i].target != target) {
            continue;
        }
        const rblk_t *b = &m->b[i];
        uint64_t bend = b->paddr + b->npages * m->L->ps;
        if (paddr >= b->paddr && paddr + aligned <= bend) {
            const nm_vmap_region_t *r = &m->L->reg[ri];
            uintptr_t v = (r->buses & caps_bus(caps))
                              ? base_of(r, caps_bus(caps)) + r->laddr_start + b->page * m->L->ps
                              : blk_vaddr(m, b);
            *out = v + (uintptr_t)(paddr - b->paddr);
            return NM_VMAP_ERR_INVALID_STATE;
        }
        overlap |= paddr < bend && b->paddr < paddr + aligned;
    }
    return overlap && !(flags & NM_VMAP_FLAG_PADDR_SHARED) ? NM_VMAP_ERR_INVALID_ARG : NM_OK;
}

static int ref_commit(ref_t *m, unsigned ri, size_t page, size_t aligned, uint64_t paddr,
                      unsigned target, unsigned caps, uintptr_t *out) {
    if (!m->pool_free) {
        return NM_VMAP_ERR_NO_MEM;
    }
    if (m->fail_next) {
        return NM_VMAP_ERR_FAIL;
    }
    int i = new_block(m);
    rblk_t *b = &m->b[i];
    memset(b, 0, sizeof *b);
    b->live = 1;
    b->region = ri;
    b->page = page;
    b->npages = aligned / m->L->ps;
    b->paddr = paddr;
    b->target = target;
    b->caps = caps;
    for (size_t p = 0; p < b->npages; p++) {
        m->owner[ri][page + p] = i;
    }
    m->pool_free--;
    *out = blk_vaddr(m, b);
    return NM_OK;
}

static int ref_map(ref_t *m, uint64_t paddr, size_t size, unsigned target, unsigned caps, unsigned flags,
                   uintptr_t *out) {
    size_t aligned;
    int err = ref_args(m, 1, paddr, NULL, size, target, caps, &aligned);
    if (err) {
        return err;
    }
    unsigned ri;
    for (ri = 0; ri < m->L->n_reg; ri++) {
        if (serves(&m->L->reg[ri], caps, target) && max_run(m, ri) * m->L->ps >= aligned) {
            break;
        }
    }
    if (ri == m->L->n_reg) {
        return NM_VMAP_ERR_NOT_FOUND;
    }
    err = ref_phys(m, ri, paddr, aligned, target, caps, flags, out);
    if (err) {
        return err;
    }
    return ref_commit(m, ri, (size_t)first_fit(m, ri, aligned / m->L->ps), aligned, paddr, target, caps, out);
}

static int ref_map_at(ref_t *m, uintptr_t vaddr, uint64_t paddr, size_t size, unsigned target,
                      unsigned caps, unsigned flags, uintptr_t *out) {
    const layout_t *L = m->L;
    size_t aligned;
    int err = ref_args(m, 1, paddr, NULL, size, target, caps, &aligned);
    if (err) {
        return err;
    }
    if (vaddr % L->ps) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    unsigned bus = caps_bus(caps), ri;
    uintptr_t laddr = 0;
    for (ri = 0; ri < L->n_reg && !view_has(L, ri, bus, vaddr, &laddr); ri++) {
    }
    if (ri == L->n_reg) {
        for (unsigned j = 0; j < L->n_reg; j++) {
            if (view_has(L, j, bus ^ (IB | DB), vaddr, &laddr)) {
                return NM_VMAP_ERR_INVALID_ARG;
            }
        }
        return NM_VMAP_ERR_NOT_FOUND;
    }
    const nm_vmap_region_t *r = &L->reg[ri];
    if (!covers(r, caps, target) || aligned > r->laddr_end - laddr) {
        return NM_VMAP_ERR_NOT_FOUND;
    }
    size_t page = (laddr - r->laddr_start) / L->ps, n = aligned / L->ps;
    for (size_t p = page; p < page + n; p++) {
        if (m->owner[ri][p] >= 0 && m->b[m->owner[ri][p]].reserved) {
            return NM_VMAP_ERR_INVALID_ARG;
        }
    }
    err = ref_phys(m, ri, paddr, aligned, target, caps, flags, out);
    if (err) {
        return err;
    }
    for (size_t p = page; p < page + n; p++) {
        if (m->owner[ri][p] >= 0) {
            return NM_VMAP_ERR_NOT_FOUND;
        }
    }
    return ref_commit(m, ri, page, aligned, paddr, target, caps, out);
}

/* ESP-IDF 6.1's order: region (caps, target, room, holds the range on a
 * bus), taken (reservations aside), physical, pool, bus, reservation. */
static int ref_map_virt(ref_t *m, uintptr_t vaddr, uint64_t paddr, size_t size, unsigned target,
                        unsigned caps, unsigned flags, uintptr_t *out) {
    const layout_t *L = m->L;
    size_t aligned;
    int err = ref_args(m, 1, paddr, &vaddr, size, target, caps, &aligned);
    if (err) {
        return err;
    }
    if (vaddr == 0) {
        return ref_map(m, paddr, size, target, caps, flags, out);
    }
    unsigned ri;
    uintptr_t laddr = 0;
    for (ri = 0; ri < L->n_reg; ri++) {
        const nm_vmap_region_t *r = &L->reg[ri];
        if (!covers(r, caps, target) || max_run(m, ri) * L->ps < aligned) {
            continue;
        }
        if ((view_has(L, ri, DB, vaddr, &laddr) || view_has(L, ri, IB, vaddr, &laddr)) &&
            aligned <= r->laddr_end - laddr) {
            break;
        }
    }
    if (ri == L->n_reg) {
        return NM_VMAP_ERR_NOT_FOUND;
    }
    size_t page = (laddr - L->reg[ri].laddr_start) / L->ps, n = aligned / L->ps;
    for (size_t p = page; p < page + n; p++) {
        if (m->owner[ri][p] >= 0 && !m->b[m->owner[ri][p]].reserved) {
            return NM_VMAP_ERR_NOT_FOUND;
        }
    }
    err = ref_phys(m, ri, paddr, aligned, target, caps, flags, out);
    if (err) {
        return err;
    }
    if (!m->pool_free) {
        return NM_VMAP_ERR_NO_MEM;
    }
    uintptr_t same;
    if (!view_has(L, ri, caps_bus(caps), vaddr, &same)) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    for (size_t p = page; p < page + n; p++) {
        if (m->owner[ri][p] >= 0) {
            return NM_VMAP_ERR_INVALID_ARG; /* a reservation: live blocks were refused above */
        }
    }
    return ref_commit(m, ri, page, aligned, paddr, target, caps, out);
}

static int ref_unmap(ref_t *m, uintptr_t vaddr, int *which) {
    static const unsigned buses[2] = {DB, IB};
    *which = -1;
    if (!vaddr) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    for (unsigned k = 0; k < 2; k++) {
        for (unsigned ri = 0; ri < m->L->n_reg; ri++) {
            uintptr_t laddr;
            if (!view_has(m->L, ri, buses[k], vaddr, &laddr) || laddr % m->L->ps) {
                continue;
            }
            size_t page = (laddr - m->L->reg[ri].laddr_start) / m->L->ps;
            int i = m->owner[ri][page];
            if (i >= 0 && !m->b[i].reserved && m->b[i].page == page) {
                for (size_t p = 0; p < m->b[i].npages; p++) {
                    m->owner[ri][page + p] = -1;
                }
                m->b[i].live = 0;
                m->pool_free++;
                *which = i;
                return NM_OK;
            }
        }
    }
    return NM_VMAP_ERR_NOT_FOUND;
}

static int ref_v2p(const ref_t *m, uintptr_t vaddr, uint64_t *paddr, unsigned *target) {
    uintptr_t laddr;
    unsigned ri = 0;
    int found = 0;
    for (unsigned k = 0; k < 2 && !found; k++) {
        for (ri = 0; ri < m->L->n_reg; ri++) {
            if (view_has(m->L, ri, k ? IB : DB, vaddr, &laddr)) {
                found = 1;
                break;
            }
        }
    }
    if (!found) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    uintptr_t off = laddr - m->L->reg[ri].laddr_start;
    int i = m->owner[ri][off / m->L->ps];
    if (i < 0 || !m->b[i].target) {
        return NM_VMAP_ERR_NOT_FOUND;
    }
    *paddr = m->b[i].paddr + (off - m->b[i].page * m->L->ps);
    *target = m->b[i].target;
    return NM_OK;
}

static int ref_p2v(const ref_t *m, uint64_t paddr, unsigned target, unsigned bus, uintptr_t *vaddr) {
    if ((target != FL && target != PS) || (bus != DB && bus != IB)) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    int found = 0;
    for (int i = 0; i < MAXB; i++) {
        const rblk_t *b = &m->b[i];
        const nm_vmap_region_t *r = &m->L->reg[b->region];
        if (!b->live || b->target != target || !(r->buses & bus) || paddr < b->paddr ||
            paddr - b->paddr >= b->npages * m->L->ps) {
            continue;
        }
        uintptr_t v = base_of(r, bus) + r->laddr_start + b->page * m->L->ps + (uintptr_t)(paddr - b->paddr);
        if (!found || v < *vaddr) {
            *vaddr = v;
            found = 1;
        }
    }
    return found ? NM_OK : NM_VMAP_ERR_NOT_FOUND;
}

/* ESP-IDF's order: the last region with a block showing paddr, the lowest
 * such block in it. */
static int ref_paddr_caps(const ref_t *m, uint64_t paddr, unsigned target, unsigned *caps) {
    int found = 0;
    for (unsigned ri = 0; ri < m->L->n_reg; ri++) {
        for (size_t p = 0; p < reg_pages(m->L, ri); p++) {
            int i = m->owner[ri][p];
            if (i < 0 || m->b[i].page != p) {
                continue;
            }
            const rblk_t *b = &m->b[i];
            if (b->target == target && paddr >= b->paddr && paddr - b->paddr < b->npages * m->L->ps) {
                /* reservations' caps are vmap's choice: report a marker */
                *caps = b->reserved ? ~0u : b->caps;
                found = 1;
                break;
            }
        }
    }
    return found ? NM_OK : NM_VMAP_ERR_NOT_FOUND;
}

static int ref_largest(const ref_t *m, unsigned caps, unsigned target, size_t *out) {
    if ((caps & X) && (caps & (W | B8))) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    size_t best = 0;
    for (unsigned ri = 0; ri < m->L->n_reg; ri++) {
        if (serves(&m->L->reg[ri], caps, target) && max_run(m, ri) * m->L->ps > best) {
            best = max_run(m, ri) * m->L->ps;
        }
    }
    *out = best;
    return NM_OK;
}

static int ref_find_free(const ref_t *m, size_t size, unsigned target, unsigned caps, uintptr_t *out) {
    size_t aligned;
    int err = ref_args(m, 0, 0, NULL, size, target, caps, &aligned);
    if (err) {
        return err;
    }
    for (unsigned ri = 0; ri < m->L->n_reg; ri++) {
        long p = serves(&m->L->reg[ri], caps, target) ? first_fit(m, ri, aligned / m->L->ps) : -1;
        if (p >= 0) {
            *out = vaddr_on(m->L, ri, caps, (size_t)p);
            return NM_OK;
        }
    }
    return NM_VMAP_ERR_NOT_FOUND;
}

/* ---- one run ---- */

typedef struct run {
    const layout_t *L;
    nm_vmap_t vm;
    nm_vmap_block_t pool[MAXB];
    rec_t rec;
    ref_t ref;
    unsigned long op;
    uint64_t seed;
    char what[200]; /* the current op, for the divergence report */
    int diverged;
} run_t;

static void emit_err(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "    %s\n", line);
}

static int diverge(run_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int diverge(run_t *t, const char *fmt, ...) {
    if (t->diverged) {
        return 0;
    }
    t->diverged = 1;
    fprintf(stderr, "DIVERGENCE layout \"%s\" seed 0x%" PRIx64 " op %lu: %s\n  ", t->L->name, t->seed,
            t->op, t->what);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  map after the op:\n");
    nm_vmap_dump(&t->vm, emit_err, NULL);
    return 0;
}

static int same_rc(run_t *t, const char *what, int got, int want) {
    return got == want ? 1 : diverge(t, "%s: vmap returned %d (%s), model %d (%s)", what, got,
                                     nm_strerror(got), want, nm_strerror(want));
}

/* Everything observable, compared after each operation. */
static int compare_state(run_t *t) {
    const layout_t *L = t->L;
    ref_t *m = &t->ref;
    /* blocks, region by region, by address */
    static nm_vmap_info_t info[MAXB + 1];
    unsigned n = nm_vmap_blocks(&t->vm, info, MAXB + 1), k = 0;
    for (unsigned ri = 0; ri < L->n_reg; ri++) {
        for (size_t p = 0; p < reg_pages(L, ri); p++) {
            int i = m->owner[ri][p];
            if (i < 0 || m->b[i].page != p) {
                continue;
            }
            const rblk_t *b = &m->b[i];
            if (k >= n) {
                return diverge(t, "nm_vmap_blocks lists %u blocks, the model has more", n);
            }
            const nm_vmap_info_t *o = &info[k++];
            int caps_ok = b->reserved ? (o->caps & ~L->reg[ri].caps) == 0 : o->caps == b->caps;
            if (o->vaddr != blk_vaddr(m, b) || o->size != b->npages * L->ps || o->paddr != b->paddr ||
                o->target != b->target || !caps_ok || o->region != ri || !o->reserved != !b->reserved) {
                return diverge(t,
                               "block %u: vmap {vaddr 0x%" PRIxPTR " size 0x%zx paddr 0x%" PRIx64
                               " target %u caps 0x%x region %u reserved %d}, model {0x%" PRIxPTR
                               " 0x%zx 0x%" PRIx64 " %u 0x%x %u %d}",
                               k - 1, o->vaddr, o->size, o->paddr, o->target, o->caps, o->region,
                               o->reserved, blk_vaddr(m, b), b->npages * L->ps, b->paddr, b->target,
                               b->caps, ri, b->reserved);
            }
        }
    }
    if (k != n) {
        return diverge(t, "nm_vmap_blocks lists %u blocks, the model %u", n, k);
    }
    /* pool accounting */
    unsigned nfree = 0;
    for (const nm_vmap_block_t *b = t->vm.free; b && nfree <= MAXB; b = b->next) {
        nfree++;
    }
    if (nfree != m->pool_free || t->vm.n_live + L->n_res + nfree != L->pool_len) {
        return diverge(t, "pool: %u free, %u live; model %u free", nfree, t->vm.n_live, m->pool_free);
    }
    /* largest free for several (caps, target) */
    static const unsigned qcaps[] = {X, X | B32, R, R | B8, R | W, R | W | B8 | B32, X | R, 0, X | W, B8};
    for (unsigned c = 0; c < sizeof qcaps / sizeof qcaps[0]; c++) {
        for (unsigned tg = FL; tg <= PS; tg++) {
            size_t got = 7, want = 7;
            int rg = nm_vmap_largest_free(&t->vm, qcaps[c], tg, &got);
            int rw = ref_largest(m, qcaps[c], tg, &want);
            if (rg != rw || got != want) {
                return diverge(t, "largest_free(caps 0x%x, target %u): vmap %d 0x%zx, model %d 0x%zx",
                               qcaps[c], tg, rg, got, rw, want);
            }
        }
    }
    /* the recorded page table */
    for (unsigned ri = 0; ri < L->n_reg; ri++) {
        for (size_t p = 0; p < reg_pages(L, ri); p++) {
            const pte_t *e = &t->rec.pt[L->reg[ri].laddr_start / L->ps + p];
            int i = m->owner[ri][p];
            const rblk_t *b = i >= 0 ? &m->b[i] : NULL;
            int want = !b ? 0 : b->reserved ? 2 : 1;
            if (e->state != want ||
                (want == 1 && (e->target != b->target || e->caps != b->caps ||
                               e->paddr != b->paddr + (p - b->page) * L->ps))) {
                return diverge(t, "page table: region %u page %zu state %d (target %u paddr 0x%" PRIx64
                               "), model %d", ri, p, e->state, e->target, e->paddr, want);
            }
        }
    }
    if (t->rec.bad) {
        return diverge(t, "back-end: %s", t->rec.why);
    }
    return 1;
}

static unsigned pick_target(const layout_t *L) {
    if (pct(4)) {
        static const unsigned odd[] = {0, 3, 4, 8, 0x80000000u};
        return odd[below(5)];
    }
    unsigned t = 0;
    for (unsigned i = 0; i < L->n_reg; i++) {
        t |= L->reg[i].targets;
    }
    if (t == (FL | PS)) {
        return pct(50) ? FL : PS;
    }
    return pct(85) ? t : (t ^ (FL | PS));
}

static unsigned pick_caps(void) {
    /* B32 alone: an instruction-only region covers it, but it wants the data bus */
    static const unsigned common[] = {X, X | B32, X | R, X | R | B32, R, R | B8, R | B32, R | B8 | B32,
                                      R | W, R | W | B8 | B32, W, B8 | B32, B32};
    if (pct(4)) {
        return below(64); /* EXEC+WRITE, 0, unknown bits */
    }
    return common[below(sizeof common / sizeof common[0])];
}

static size_t pick_size(const layout_t *L) {
    unsigned r = below(100);
    size_t ps = L->ps;
    if (r < 3) return 0;
    if (r < 5) return SIZE_MAX - below(3) * ps;
    if (r < 7) return (reg_pages(L, below(L->n_reg)) + below(2)) * ps;
    size_t n = 1 + below(r < 80 ? L->max_pages / 3 + 1 : L->max_pages);
    return n * ps - (pct(30) ? 1 + below((unsigned)ps - 1) : 0);
}

/* A live (non-reserved) model block, or NULL. */
static const rblk_t *pick_live(const ref_t *m, unsigned target) {
    int cand[MAXB], n = 0;
    for (int i = 0; i < MAXB; i++) {
        if (m->b[i].live && (!target || m->b[i].target == target)) {
            cand[n++] = i;
        }
    }
    return n ? &m->b[cand[below((unsigned)n)]] : NULL;
}

static uint64_t pick_paddr(const ref_t *m, unsigned target, size_t size) {
    const layout_t *L = m->L;
    unsigned r = below(100);
    const rblk_t *b;
    if (r < 35 && (b = pick_live(m, target)) != NULL) {
        /* inside or around a live block: enclosed / overlapping ranges */
        int64_t off = (int64_t)below((unsigned)b->npages + 2) - 1;
        uint64_t p = b->paddr + (uint64_t)off * L->ps;
        return p > b->paddr + b->npages * L->ps ? b->paddr : p;
    }
    if (r < 40) return (uint64_t)below((unsigned)(L->phys_pages * L->ps)); /* mostly off page */
    if (r < 43) return UINT64_MAX - (uint64_t)below(3) * L->ps - (pct(50) ? L->ps - 1 : 0);
    uint64_t lim = L->target_size[target == PS];
    if (r < 48 && lim) {
        return (lim - (size + L->ps - 1) / L->ps * L->ps) + (uint64_t)below(3) * L->ps;
    }
    return (uint64_t)below((unsigned)L->phys_pages) * L->ps;
}

static uintptr_t pick_vaddr(const ref_t *m, unsigned caps) {
    const layout_t *L = m->L;
    unsigned r = below(100);
    const rblk_t *b;
    if (r < 15 && (b = pick_live(m, 0)) != NULL) {
        /* at / inside / just after a block, on either bus */
        const nm_vmap_region_t *rg = &L->reg[b->region];
        unsigned bus = (rg->buses == (IB | DB)) ? (pct(50) ? IB : DB) : rg->buses;
        return base_of(rg, bus) + rg->laddr_start + (b->page + below((unsigned)b->npages + 1)) * L->ps;
    }
    if (r < 18) return (uintptr_t)rnd() & ~(uintptr_t)(L->ps - 1);
    if (r < 22) return (uintptr_t)below(1u << 30) + 0x3c000000u;
    unsigned ri = below(L->n_reg);
    const nm_vmap_region_t *rg = &L->reg[ri];
    unsigned bus = caps_bus(caps);
    if (!(rg->buses & bus) || pct(8)) {
        bus = (rg->buses & DB) ? ((rg->buses & IB) && pct(50) ? IB : DB) : IB;
    }
    long page = (long)below((unsigned)reg_pages(L, ri) + 4) - 2;
    uintptr_t v = base_of(rg, bus) + rg->laddr_start + (uintptr_t)(page * (long)L->ps);
    return v + (pct(4) ? L->ps / 2 : 0);
}

static uintptr_t pick_unmap(const ref_t *m) {
    const layout_t *L = m->L;
    unsigned r = below(100);
    const rblk_t *b = pick_live(m, 0);
    if (b && r < 75) {
        const nm_vmap_region_t *rg = &L->reg[b->region];
        unsigned bus = (rg->buses == (IB | DB)) ? (pct(50) ? IB : DB) : rg->buses;
        if (b->reserved && pct(50)) {
            return b->res_vaddr;
        }
        size_t page = b->page + (r > 65 ? below((unsigned)b->npages) : 0);
        return base_of(rg, bus) + rg->laddr_start + page * L->ps + (r == 74 ? 1 : 0);
    }
    if (r < 80) return 0;
    if (r < 85) return (uintptr_t)rnd();
    unsigned ri = below(L->n_reg);
    const nm_vmap_region_t *rg = &L->reg[ri];
    unsigned bus = (rg->buses & DB) ? DB : IB;
    return base_of(rg, bus) + rg->laddr_start + below((unsigned)reg_pages(L, ri)) * L->ps;
}

/* Random queries: v2p, p2v, paddr_caps, find_free. */
static int compare_queries(run_t *t) {
    ref_t *m = &t->ref;
    for (unsigned q = 0; q < 3; q++) {
        uintptr_t v = pick_vaddr(m, pick_caps()) + (pct(30) ? below((unsigned)t->L->ps) : 0);
        uint64_t pg = 1, pw = 1;
        unsigned tg = 9, tw = 9;
        int rg = nm_vmap_vaddr_to_paddr(&t->vm, v, &pg, &tg), rw = ref_v2p(m, v, &pw, &tw);
        if (rg != rw || (rg == NM_OK && (pg != pw || tg != tw))) {
            return diverge(t, "vaddr_to_paddr(0x%" PRIxPTR "): vmap %d 0x%" PRIx64 " %u, model %d 0x%" PRIx64 " %u",
                           v, rg, pg, tg, rw, pw, tw);
        }
        unsigned target = pick_target(t->L), bus = pct(5) ? 3 : pct(50) ? IB : DB;
        uint64_t p = pick_paddr(m, target, t->L->ps) + (pct(20) ? 5 : 0);
        uintptr_t vg = 1, vw = 1;
        rg = nm_vmap_paddr_to_vaddr(&t->vm, p, target, bus, &vg);
        rw = ref_p2v(m, p, target, bus, &vw);
        if (rg != rw || (rg == NM_OK && vg != vw)) {
            return diverge(t, "paddr_to_vaddr(0x%" PRIx64 ", target %u, bus %u): vmap %d 0x%" PRIxPTR
                           ", model %d 0x%" PRIxPTR, p, target, bus, rg, vg, rw, vw);
        }
        if (target == FL || target == PS) {
            unsigned cg = 0, cw = 0;
            rg = nm_vmap_paddr_caps(&t->vm, p, target, &cg);
            rw = ref_paddr_caps(m, p, target, &cw);
            if (rg != rw || (rg == NM_OK && cw != ~0u && cg != cw)) {
                return diverge(t, "paddr_caps(0x%" PRIx64 ", %u): vmap %d 0x%x, model %d 0x%x", p, target, rg,
                               cg, rw, cw);
            }
        }
        unsigned caps = pick_caps();
        size_t size = pick_size(t->L);
        rg = nm_vmap_find_free(&t->vm, size, target, caps, &vg);
        rw = ref_find_free(m, size, target, caps, &vw);
        if (rg != rw || (rg == NM_OK && vg != vw)) {
            return diverge(t, "find_free(size 0x%zx, target %u, caps 0x%x): vmap %d 0x%" PRIxPTR
                           ", model %d 0x%" PRIxPTR, size, target, caps, rg, vg, rw, vw);
        }
    }
    return 1;
}

static unsigned long tally[4][NM_ERR_COUNT_]; /* map, map_at, unmap, map_virt x -rc */

/* One random operation; 1 if vmap and the model agree. */
static int step(run_t *t, int map_heavy) {
    ref_t *m = &t->ref;
    const layout_t *L = t->L;
    unsigned r = below(100);
    unsigned map_pct = map_heavy ? 30 : 20, at_pct = map_heavy ? 25 : 15, virt_pct = map_heavy ? 20 : 10;
    const uintptr_t SENT = (uintptr_t)0x5a5a5a5au;
    uintptr_t og = SENT, ow = SENT;
    unsigned n_map0 = t->rec.n_map, n_unmap0 = t->rec.n_unmap, n_inval0 = t->rec.n_inval;
    int rg, rw, which = -1;
    size_t aligned = 0;
    int is_map = r < map_pct + at_pct + virt_pct;
    t->rec.fail_next = m->fail_next = is_map && pct(2);
    if (is_map) {
        unsigned target = pick_target(L), caps = pick_caps(), flags = pct(30) ? NM_VMAP_FLAG_PADDR_SHARED : 0;
        if (pct(1)) flags |= 2; /* an unknown flag: ignored */
        size_t size = pick_size(L);
        uint64_t paddr = pick_paddr(m, target, size);
        aligned = size && size <= SIZE_MAX - (L->ps - 1) ? (size + L->ps - 1) / L->ps * L->ps : 0;
        int null_out = pct(1), kind;
        uintptr_t model_out = SENT; /* map_virt with out NULL: where the model put it */
        if (r < map_pct) {
            kind = 0;
            snprintf(t->what, sizeof t->what, "map(paddr 0x%" PRIx64 ", size 0x%zx, target %u, caps 0x%x, flags %u%s)",
                     paddr, size, target, caps, flags, null_out ? ", out NULL" : "");
            rg = nm_vmap_map(&t->vm, paddr, size, target, caps, flags, null_out ? NULL : &og, NULL);
            rw = null_out ? NM_VMAP_ERR_INVALID_ARG : ref_map(m, paddr, size, target, caps, flags, &ow);
        } else if (r < map_pct + at_pct) {
            kind = 1;
            uintptr_t vaddr = pick_vaddr(m, caps);
            snprintf(t->what, sizeof t->what,
                     "map_at(vaddr 0x%" PRIxPTR ", paddr 0x%" PRIx64 ", size 0x%zx, target %u, caps 0x%x, flags %u%s)",
                     vaddr, paddr, size, target, caps, flags, null_out ? ", out NULL" : "");
            rg = nm_vmap_map_at(&t->vm, vaddr, paddr, size, target, caps, flags, null_out ? NULL : &og, NULL);
            rw = null_out ? NM_VMAP_ERR_INVALID_ARG
                          : ref_map_at(m, vaddr, paddr, size, target, caps, flags, &ow);
        } else {
            /* ESP-IDF lets out be NULL here: the call goes ahead */
            kind = 3;
            null_out = pct(5);
            uintptr_t vaddr = pct(25) ? 0 : pick_vaddr(m, caps);
            snprintf(t->what, sizeof t->what,
                     "map_virt(vaddr 0x%" PRIxPTR ", paddr 0x%" PRIx64 ", size 0x%zx, target %u, caps 0x%x, flags %u%s)",
                     vaddr, paddr, size, target, caps, flags, null_out ? ", out NULL" : "");
            rg = nm_vmap_map_virt(&t->vm, vaddr, paddr, size, target, caps, flags, null_out ? NULL : &og, NULL);
            rw = ref_map_virt(m, vaddr, paddr, size, target, caps, flags, null_out ? &model_out : &ow);
        }
        if (!same_rc(t, "return code", rg, rw)) {
            return 0;
        }
        tally[kind][-rg]++;
        if (og != ow) {
            return diverge(t, "*out: vmap 0x%" PRIxPTR ", model 0x%" PRIxPTR " (rc %d)", og, ow, rg);
        }
        unsigned want_map = rg == NM_OK || rg == NM_VMAP_ERR_FAIL, want_inval = rg == NM_OK;
        if (t->rec.n_map - n_map0 != want_map || t->rec.n_inval - n_inval0 != want_inval ||
            t->rec.n_unmap != n_unmap0) {
            return diverge(t, "back-end calls: map %u unmap %u invalidate %u (rc %d)", t->rec.n_map - n_map0,
                           t->rec.n_unmap - n_unmap0, t->rec.n_inval - n_inval0, rg);
        }
        uintptr_t placed = kind == 3 && null_out ? model_out : og;
        if (rg == NM_OK && (t->rec.inval_vaddr != placed || t->rec.inval_size != aligned)) {
            return diverge(t, "invalidate(0x%" PRIxPTR ", 0x%zx) after map", t->rec.inval_vaddr, t->rec.inval_size);
        }
    } else {
        uintptr_t vaddr = pick_unmap(m);
        snprintf(t->what, sizeof t->what, "unmap(0x%" PRIxPTR ")", vaddr);
        rg = nm_vmap_unmap(&t->vm, vaddr, NULL);
        rw = ref_unmap(m, vaddr, &which);
        if (!same_rc(t, "return code", rg, rw)) {
            return 0;
        }
        tally[2][-rg]++;
        unsigned want = rg == NM_OK;
        if (t->rec.n_unmap - n_unmap0 != want || t->rec.n_inval - n_inval0 != want || t->rec.n_map != n_map0) {
            return diverge(t, "back-end calls: map %u unmap %u invalidate %u (rc %d)", t->rec.n_map - n_map0,
                           t->rec.n_unmap - n_unmap0, t->rec.n_inval - n_inval0, rg);
        }
        if (which >= 0) {
            const rblk_t *b = &m->b[which];
            const nm_vmap_region_t *rg2 = &L->reg[b->region];
            uintptr_t off = rg2->laddr_start + b->page * L->ps;
            int on_a_bus = ((rg2->buses & IB) && t->rec.inval_vaddr == rg2->ibus_base + off) ||
                           ((rg2->buses & DB) && t->rec.inval_vaddr == rg2->dbus_base + off);
            if (!on_a_bus || t->rec.inval_size != b->npages * L->ps) {
                return diverge(t, "invalidate(0x%" PRIxPTR ", 0x%zx) after unmap", t->rec.inval_vaddr,
                               t->rec.inval_size);
            }
        }
    }
    t->rec.fail_next = m->fail_next = 0;
    return compare_state(t) && compare_queries(t);
}

static unsigned long total_ops;

static int run_layout(run_t *t, const layout_t *L, uint64_t seed, unsigned long n_ops) {
    memset(t, 0, sizeof *t);
    t->L = L;
    t->seed = seed;
    rng = seed;
    t->rec.L = L;
    ref_init(&t->ref, L);
    /* the firmware's own entries, as the bootloader left them */
    for (unsigned i = 0; i < MAXB; i++) {
        const rblk_t *b = &t->ref.b[i];
        for (size_t p = 0; b->live && p < b->npages; p++) {
            pte_t *e = &t->rec.pt[L->reg[b->region].laddr_start / L->ps + b->page + p];
            e->state = 2;
            e->target = b->target;
            e->paddr = b->paddr + p * L->ps;
        }
    }
    nm_vmap_config_t cfg = {0};
    cfg.page_size = L->ps;
    cfg.regions = L->reg;
    cfg.n_regions = L->n_reg;
    cfg.reserved = L->res;
    cfg.n_reserved = L->n_res;
    cfg.supported_targets = L->supported;
    cfg.target_size[0] = L->target_size[0];
    cfg.target_size[1] = L->target_size[1];
    cfg.pool = t->pool;
    cfg.pool_len = L->pool_len;
    cfg.backend = &rec_backend;
    cfg.backend_ctx = &t->rec;
    nm_detail_t d = {{0}};
    int rc = nm_vmap_init(&t->vm, &cfg, &d);
    if (rc) {
        fprintf(stderr, "init of \"%s\": %d %s\n", L->name, rc, d.msg);
        return 0;
    }
    snprintf(t->what, sizeof t->what, "init");
    if (!compare_state(t)) {
        return 0;
    }
    unsigned long ok = 0;
    for (t->op = 0; t->op < n_ops; t->op++) {
        if (!step(t, (t->op / 400) % 2 == 0)) {
            break;
        }
        ok++;
    }
    total_ops += ok;
    printf("  %-72s seed 0x%016" PRIx64 ": %lu/%lu ops match\n", L->name, seed, ok, n_ops);
    return ok == n_ops;
}

static void print_tally(void) {
    static const char *const op[4] = {"map", "map_at", "unmap", "map_virt"};
    static const int codes[] = {NM_OK, NM_VMAP_ERR_INVALID_ARG, NM_VMAP_ERR_NOT_SUPPORTED, NM_VMAP_ERR_NOT_FOUND,
                                NM_VMAP_ERR_INVALID_STATE, NM_VMAP_ERR_NO_MEM, NM_VMAP_ERR_FAIL};
    for (unsigned o = 0; o < 4; o++) {
        printf("  %-8s", op[o]);
        for (unsigned c = 0; c < sizeof codes / sizeof codes[0]; c++) {
            printf(" %s %lu,", nm_strerror(codes[c]), tally[o][-codes[c]]);
        }
        printf("\n");
    }
}

static void random_ops_match_reference(void) {
    static run_t t;
    static const uint64_t seeds[] = {0x6e6d766d61700001u, 0x6e6d766d61700002u};
    unsigned long per = 13000;
    for (unsigned s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        for (unsigned i = 0; i < N_LAYOUTS; i++) {
            CHECK(run_layout(&t, &layouts[i], seeds[s] ^ ((uint64_t)i << 32), per));
        }
    }
    printf("  %lu random operations compared (each followed by a full state comparison)\n", total_ops);
    print_tally();
    CHECK(total_ops >= 100000);
}

int main(void) {
    RUN(random_ops_match_reference);
    return TEST_DONE();
}
