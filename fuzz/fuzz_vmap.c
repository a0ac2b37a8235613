/*
 * libFuzzer target for the virtual address map manager (src/vmap/vmap.c).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -Iinclude \
 *       -Isrc fuzz/fuzz_vmap.c src/vmap/vmap.c
 *   ./a.out -max_total_time=60 corpus-dir
 *
 * Input: byte 0 picks the layout (low 2 bits: ESP32-like with three
 * regions and reservations, ESP32-S3-like with one region on two buses,
 * host-like with one base for both buses, or a layout decoded from the
 * following bytes: page size, 1..4 regions, 0..2 reservations, which init
 * may refuse), bits 2-5 the pool length (0..15 blocks beyond the
 * reservations). Then a stream of operations (map, map_at, unmap,
 * queries, dump, map_virt), each an opcode byte and its arguments; a short
 * input reads as zeros.
 *
 * After init and after every operation the map's own state must hold:
 * each region's list sorted, blocks apart, on pages, inside the region;
 * max_free equal to the largest gap; largest_free equal to the largest gap
 * of the regions that cover the caps and target and have the bus the caps
 * imply; pool blocks = free list + listed blocks;
 * n_live = listed blocks that are not reservations; nm_vmap_blocks agrees.
 * The back-end keeps a shadow table and aborts on a map over a mapped page
 * or an unmap of a page it never mapped; a successful map must be
 * findable by vaddr_to_paddr (map_virt with out NULL: by paddr_to_vaddr on
 * the bus its caps imply). Every detail string must be terminated.
 * Any violation aborts (a finding).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natmod/vmap.h"

#define MAXP 1024 /* pages per region in the shadow table */

typedef struct in {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t u8(in_t *in) {
    if (!in->n) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static uint16_t u16(in_t *in) {
    uint16_t v = u8(in);
    return (uint16_t)(v | (uint16_t)u8(in) << 8);
}

static uint64_t u64(in_t *in) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)u8(in) << (8 * i);
    }
    return v;
}

#define REQUIRE(c)                                                             \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_vmap: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* ---- the shadow back-end ---- */

typedef struct shadow {
    nm_vmap_t *vm;
    uint8_t mapped[NM_VMAP_MAX_REGIONS][MAXP];
    size_t ps;
    int fail_next;
} shadow_t;

static unsigned region_index(shadow_t *s, const nm_vmap_region_t *r) {
    REQUIRE(r >= s->vm->region && r < s->vm->region + s->vm->cfg.n_regions);
    return (unsigned)(r - s->vm->region);
}

static int sh_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr, size_t size,
                  unsigned target, unsigned caps) {
    shadow_t *s = ctx;
    unsigned ri = region_index(s, r);
    REQUIRE(laddr % s->ps == 0 && size % s->ps == 0 && size && paddr % s->ps == 0);
    REQUIRE(laddr >= r->laddr_start && laddr <= r->laddr_end && size <= r->laddr_end - laddr);
    REQUIRE((target == NM_VMAP_TARGET_FLASH0 || target == NM_VMAP_TARGET_PSRAM0) && caps);
    if (s->fail_next) {
        s->fail_next = 0;
        return NM_ERR_IO;
    }
    for (size_t o = 0; o < size; o += s->ps) {
        size_t pg = (laddr - r->laddr_start + o) / s->ps;
        REQUIRE(pg < MAXP && !s->mapped[ri][pg]);
        s->mapped[ri][pg] = 1;
    }
    return 0;
}

static void sh_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    shadow_t *s = ctx;
    unsigned ri = region_index(s, r);
    REQUIRE(laddr % s->ps == 0 && size % s->ps == 0 && size);
    REQUIRE(laddr >= r->laddr_start && laddr <= r->laddr_end && size <= r->laddr_end - laddr);
    for (size_t o = 0; o < size; o += s->ps) {
        size_t pg = (laddr - r->laddr_start + o) / s->ps;
        REQUIRE(pg < MAXP && s->mapped[ri][pg]);
        s->mapped[ri][pg] = 0;
    }
}

static void sh_invalidate(void *ctx, uintptr_t vaddr, size_t size) {
    shadow_t *s = ctx;
    REQUIRE(size && size % s->ps == 0 && vaddr % s->ps == 0);
}

static const nm_vmap_backend_t sh_backend = {sh_map, sh_unmap, NULL};
static const nm_vmap_backend_t sh_backend_inval = {sh_map, sh_unmap, sh_invalidate};

/* A lock that only counts: every call must leave it released. */
static int lock_depth;
static void lk(void *ctx) {
    (void)ctx;
    REQUIRE(lock_depth++ == 0);
}
static void ulk(void *ctx) {
    (void)ctx;
    REQUIRE(--lock_depth == 0);
}

/* ---- layouts ---- */

enum { X = NM_VMAP_CAP_EXEC, R = NM_VMAP_CAP_READ, W = NM_VMAP_CAP_WRITE,
       B32 = NM_VMAP_CAP_32BIT, B8 = NM_VMAP_CAP_8BIT };
enum { FL = NM_VMAP_TARGET_FLASH0, PS = NM_VMAP_TARGET_PSRAM0 };
enum { DB = NM_VMAP_BUS_DATA, IB = NM_VMAP_BUS_INSTR };
#define K64 0x10000u

static const nm_vmap_region_t esp32_regions[] = {
    {"IRAM0", 77 * K64, 128 * K64, X | B32, FL, IB, 0x3fc00000u, 0},
    {"DROM0", 0, 64 * K64, R | B8 | B32, FL, DB, 0, 0x3f400000u},
    {"DRAM1", 256 * K64, 320 * K64, R | W | B8 | B32, PS, DB, 0, 0x3e800000u},
};
static const nm_vmap_reserve_t esp32_res[] = {
    {0x400d0020u, 0x2ffe0u, 0x10020u, FL}, {0x3f400000u, 0x18000u, 0x50000u, FL}, {0x3f600000u, 0x10000u, 0, 0}};
static const nm_vmap_region_t s3_region = {"S3", 0, 512 * K64, NM_VMAP_CAP_ALL_, FL | PS, IB | DB,
                                           0x42000000u, 0x3c000000u};
static const nm_vmap_reserve_t s3_res[] = {{0x42000000u, 0x30000u, 0, FL}, {0x3c100000u, 0x10000u, 0, 0}};
static const nm_vmap_region_t host_region = {"host", 0x1000, 0x101000, NM_VMAP_CAP_ALL_, FL | PS, IB | DB,
                                             0x10000000u, 0x10000000u};

/* A layout from the input: it may be nonsense; init decides. */
static void decode_layout(in_t *in, nm_vmap_config_t *cfg, nm_vmap_region_t *reg, nm_vmap_reserve_t *res) {
    cfg->page_size = (size_t)1 << (10 + u8(in) % 8);
    if (u8(in) == 0xff) {
        cfg->page_size = 3; /* not a power of two */
    }
    size_t ps = cfg->page_size;
    cfg->n_regions = 1 + u8(in) % 4;
    for (unsigned i = 0; i < cfg->n_regions; i++) {
        nm_vmap_region_t *r = &reg[i];
        r->name = i % 2 ? NULL : "fuzz";
        r->laddr_start = (uintptr_t)u8(in) * ps;
        r->laddr_end = r->laddr_start + (uintptr_t)(u8(in) % 255 + (i == 0)) * ps;
        r->caps = u8(in) & 0x3f;
        r->targets = u8(in) & 7;
        r->buses = u8(in) & 3;
        uint16_t ib = u16(in), db = u16(in);
        r->ibus_base = (ib & 0x8000) ? (uintptr_t)u64(in) : (uintptr_t)ib << 20;
        r->dbus_base = (db & 0x8000) ? (uintptr_t)u64(in) : (uintptr_t)db << 20;
    }
    cfg->n_reserved = u8(in) % 3;
    for (unsigned k = 0; k < cfg->n_reserved; k++) {
        const nm_vmap_region_t *r = &reg[u8(in) % cfg->n_regions];
        uintptr_t base = (u8(in) & 1) ? r->ibus_base : r->dbus_base;
        res[k].vaddr = base + r->laddr_start + (uintptr_t)u8(in) * ps + u8(in);
        res[k].size = (size_t)u16(in);
        res[k].target = u8(in) & 7;
        res[k].paddr = (uint64_t)u8(in) * ps + (res[k].vaddr & (ps - 1));
    }
    cfg->supported_targets = u8(in) & 3;
    cfg->target_size[0] = (uint64_t)u8(in) * ps * 4;
    cfg->target_size[1] = (uint64_t)u8(in) * ps * 4;
}

/* ---- invariants ---- */

static void check_detail(const nm_detail_t *d) {
    REQUIRE(memchr(d->msg, 0, sizeof d->msg) != NULL);
}

static size_t gap_of(const nm_vmap_t *vm, unsigned ri) {
    const nm_vmap_region_t *r = &vm->region[ri];
    uintptr_t prev = r->laddr_start;
    size_t best = 0;
    for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
        best = b->laddr - prev > best ? b->laddr - prev : best;
        prev = b->laddr + b->size;
    }
    return r->laddr_end - prev > best ? r->laddr_end - prev : best;
}

static void check_map(nm_vmap_t *vm, const shadow_t *s, unsigned pool_len) {
    size_t ps = vm->cfg.page_size;
    unsigned listed = 0, live = 0;
    for (unsigned ri = 0; ri < vm->cfg.n_regions; ri++) {
        const nm_vmap_region_t *r = &vm->region[ri];
        uintptr_t prev = r->laddr_start;
        size_t mapped_pages = 0;
        for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
            REQUIRE(listed++ < pool_len);
            REQUIRE(b->region == ri && b->size && b->laddr % ps == 0 && b->size % ps == 0);
            REQUIRE(b->laddr >= prev); /* sorted and apart */
            REQUIRE(b->laddr < r->laddr_end && b->size <= r->laddr_end - b->laddr);
            prev = b->laddr + b->size;
            if (!(b->flags & 1)) {
                live++;
                REQUIRE(b->paddr % ps == 0);
                REQUIRE(b->target == FL || b->target == PS);
                REQUIRE(b->caps && !(b->caps & ~0x1fu) && !((b->caps & X) && (b->caps & (W | B8))));
                REQUIRE((r->caps & b->caps) == b->caps && (r->targets & b->target));
                for (size_t o = 0; o < b->size; o += ps) {
                    size_t pg = (b->laddr - r->laddr_start + o) / ps;
                    REQUIRE(pg >= MAXP || s->mapped[ri][pg]);
                }
                mapped_pages += b->size / ps;
            }
        }
        size_t shadow_pages = 0;
        for (size_t pg = 0; pg < MAXP; pg++) {
            shadow_pages += s->mapped[ri][pg];
        }
        REQUIRE(shadow_pages == mapped_pages);
        REQUIRE(vm->max_free[ri] == gap_of(vm, ri));
    }
    unsigned nfree = 0;
    for (const nm_vmap_block_t *b = vm->free; b; b = b->next) {
        REQUIRE(nfree++ < pool_len);
    }
    REQUIRE(nfree + listed == pool_len);
    REQUIRE(vm->n_live == live);
    REQUIRE(nm_vmap_blocks(vm, NULL, 0) == listed);
    static const unsigned qcaps[] = {0, X, R, R | W, X | B32, R | B8, NM_VMAP_CAP_ALL_ & ~(unsigned)X};
    for (unsigned c = 0; c < sizeof qcaps / sizeof qcaps[0]; c++) {
        for (unsigned t = FL; t <= PS; t++) {
            size_t got = 1, want = 0;
            REQUIRE(nm_vmap_largest_free(vm, qcaps[c], t, &got) == NM_OK);
            /* the regions map could use: caps and target covered, and the
             * bus the caps imply */
            unsigned bus = (qcaps[c] & X) ? IB : DB;
            for (unsigned ri = 0; ri < vm->cfg.n_regions; ri++) {
                const nm_vmap_region_t *r = &vm->region[ri];
                if ((r->caps & qcaps[c]) == qcaps[c] && (r->targets & t) == t && (r->buses & bus) &&
                    gap_of(vm, ri) > want) {
                    want = gap_of(vm, ri);
                }
            }
            REQUIRE(got == want);
        }
    }
}

static int known_rc(int rc) {
    return rc == NM_OK || rc == NM_VMAP_ERR_INVALID_ARG || rc == NM_VMAP_ERR_NOT_SUPPORTED ||
           rc == NM_VMAP_ERR_NOT_FOUND || rc == NM_VMAP_ERR_INVALID_STATE || rc == NM_VMAP_ERR_NO_MEM ||
           rc == NM_VMAP_ERR_FAIL;
}

static void emit_nothing(void *ctx, const char *line) {
    REQUIRE(strlen(line) < 160);
    (void)ctx;
}

/* A virtual address from the input: near a region's view, or raw. */
static uintptr_t pick_vaddr(in_t *in, const nm_vmap_t *vm) {
    uint8_t how = u8(in);
    if (how >= 0xf0) {
        return (uintptr_t)u64(in);
    }
    const nm_vmap_region_t *r = &vm->region[how % vm->cfg.n_regions];
    uintptr_t base = (how & 0x10) ? r->ibus_base : r->dbus_base;
    uintptr_t v = base + r->laddr_start + (uintptr_t)(int16_t)u16(in) * vm->cfg.page_size;
    return (how & 0x20) ? v + u8(in) : v;
}

static uintptr_t live_vaddr(in_t *in, nm_vmap_t *vm) {
    nm_vmap_info_t info[64];
    unsigned n = nm_vmap_blocks(vm, info, 64);
    uint8_t k = u8(in);
    if (n == 0 || k == 0xff) {
        return pick_vaddr(in, vm);
    }
    n = n < 64 ? n : 64;
    const nm_vmap_info_t *b = &info[k % n];
    const nm_vmap_region_t *r = &vm->region[b->region];
    /* the block's address on the other bus, sometimes */
    if ((k & 0x40) && (r->buses & IB) && (r->buses & DB)) {
        return b->vaddr - ((b->caps & X) ? r->ibus_base : r->dbus_base) + ((b->caps & X) ? r->dbus_base : r->ibus_base);
    }
    return b->vaddr + ((k & 0x80) ? vm->cfg.page_size : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    in_t in = {data, size};
    static nm_vmap_t vm;
    static shadow_t sh;
    static nm_vmap_block_t pool[64];
    nm_vmap_region_t reg[4];
    nm_vmap_reserve_t res[2];
    nm_vmap_config_t cfg;
    nm_detail_t d;
    memset(&cfg, 0, sizeof cfg);
    memset(reg, 0, sizeof reg);
    memset(res, 0, sizeof res);
    memset(&sh, 0, sizeof sh);
    uint8_t head = u8(&in);
    switch (head & 3) {
    case 0:
        cfg.page_size = K64;
        cfg.regions = esp32_regions;
        cfg.n_regions = 3;
        cfg.reserved = esp32_res;
        cfg.n_reserved = 3;
        cfg.supported_targets = (head & 0x40) ? 0 : FL;
        cfg.target_size[0] = cfg.target_size[1] = 64 * K64;
        break;
    case 1:
        cfg.page_size = K64;
        cfg.regions = &s3_region;
        cfg.n_regions = 1;
        cfg.reserved = s3_res;
        cfg.n_reserved = 2;
        break;
    case 2:
        cfg.page_size = 0x1000;
        cfg.regions = &host_region;
        cfg.n_regions = 1;
        break;
    default:
        decode_layout(&in, &cfg, reg, res);
        cfg.regions = reg;
        cfg.reserved = res;
        break;
    }
    cfg.pool = pool;
    /* bit 6 with a decoded layout: a pool that may not even hold the reservations */
    cfg.pool_len = ((head & 0x43) == 0x43 ? 0 : cfg.n_reserved) + ((head >> 2) & 15);
    cfg.backend = (head & 0x80) ? &sh_backend_inval : &sh_backend;
    if (head & 0x20) {
        cfg.lock = lk;
        cfg.unlock = ulk;
    }
    cfg.backend_ctx = &sh;
    sh.vm = &vm;
    sh.ps = cfg.page_size;
    memset(&d, 0x55, sizeof d);
    int rc = nm_vmap_init(&vm, &cfg, &d);
    if (rc) {
        REQUIRE(rc == NM_ERR_INVAL && nm_vmap_esp_err(rc) == 0x102);
        check_detail(&d);
        return 0;
    }
    for (unsigned ri = 0; ri < vm.cfg.n_regions; ri++) {
        /* a region larger than the shadow table cannot be checked page by page */
        if ((vm.region[ri].laddr_end - vm.region[ri].laddr_start) / cfg.page_size > MAXP) {
            return 0;
        }
    }
    check_map(&vm, &sh, cfg.pool_len);
    size_t ps = cfg.page_size;
    for (unsigned ops = 0; in.n && ops < 256; ops++) {
        uint8_t op = u8(&in);
        unsigned target = u8(&in) & 7;
        target = target < 4 ? (target & 1 ? FL : PS) : target - 4; /* mostly valid */
        unsigned caps = u8(&in) & 0x3f;
        unsigned flags = u8(&in) & 3;
        uint8_t pb = u8(&in);
        uint64_t paddr = (uint64_t)pb * ps + ((op & 0x80) ? u8(&in) : 0);
        if (pb == 0xff) {
            paddr = u64(&in);
        }
        uint8_t sb = u8(&in);
        size_t sz = (size_t)(sb & 0x3f) * ps - ((sb & 0x40) ? ps / 2 : 0);
        if (sb == 0xff) {
            sz = (size_t)u64(&in);
        }
        sh.fail_next = (op & 0x78) == 0x78;
        uintptr_t out = 0, v = 0;
        unsigned live0 = vm.n_live;
        memset(&d, 0x55, sizeof d);
        switch (op % 6) {
        case 0:
        case 1:
        case 5: {
            int null_out = 0;
            if (op % 6 == 0) {
                rc = nm_vmap_map(&vm, paddr, sz, target, caps, flags, &out, &d);
            } else if (op % 6 == 1) {
                v = pick_vaddr(&in, &vm);
                rc = nm_vmap_map_at(&vm, v, paddr, sz, target, caps, flags, &out, &d);
                REQUIRE(rc != NM_OK || out == v);
            } else {
                /* map_virt: vaddr 0 (choose) or an address; out NULL or not */
                uint8_t how = u8(&in);
                v = (how & 1) ? 0 : pick_vaddr(&in, &vm);
                null_out = (how & 2) != 0;
                rc = nm_vmap_map_virt(&vm, v, paddr, sz, target, caps, flags, null_out ? NULL : &out, &d);
                REQUIRE(rc != NM_OK || null_out || v == 0 || out == v);
            }
            REQUIRE(known_rc(rc));
            REQUIRE(vm.n_live == live0 + (rc == NM_OK));
            if (rc == NM_OK) {
                uint64_t p = 0;
                unsigned t = 0;
                if (null_out) {
                    REQUIRE(nm_vmap_paddr_to_vaddr(&vm, paddr, target, (caps & X) ? IB : DB, &out) == NM_OK);
                }
                REQUIRE(nm_vmap_vaddr_to_paddr(&vm, out, &p, &t) == NM_OK && p == paddr && t == target);
            } else {
                check_detail(&d);
            }
            break;
        }
        case 2:
            v = live_vaddr(&in, &vm);
            rc = nm_vmap_unmap(&vm, v, &d);
            REQUIRE(rc == NM_OK || rc == NM_VMAP_ERR_NOT_FOUND || rc == NM_VMAP_ERR_INVALID_ARG);
            REQUIRE(vm.n_live == live0 - (rc == NM_OK));
            if (rc) {
                check_detail(&d);
            }
            break;
        case 3: {
            uint64_t p;
            unsigned t, c;
            v = pick_vaddr(&in, &vm);
            rc = nm_vmap_vaddr_to_paddr(&vm, v, &p, &t);
            REQUIRE(rc == NM_OK || rc == NM_VMAP_ERR_NOT_FOUND || rc == NM_VMAP_ERR_INVALID_ARG);
            if (rc == NM_OK) {
                uintptr_t back = 0;
                /* the page shows p: p's lowest address on some bus is at most v */
                int r1 = nm_vmap_paddr_to_vaddr(&vm, p, t, DB, &back);
                int r2 = nm_vmap_paddr_to_vaddr(&vm, p, t, IB, &back);
                REQUIRE(r1 == NM_OK || r2 == NM_OK);
                REQUIRE(nm_vmap_paddr_caps(&vm, p, t, &c) == NM_OK);
            }
            rc = nm_vmap_paddr_to_vaddr(&vm, paddr, target, flags, &v);
            REQUIRE(rc == NM_OK || rc == NM_VMAP_ERR_NOT_FOUND || rc == NM_VMAP_ERR_INVALID_ARG);
            if (rc == NM_OK) {
                REQUIRE(nm_vmap_vaddr_to_paddr(&vm, v, &p, &t) == NM_OK && p == paddr && t == target);
            }
            rc = nm_vmap_find_free(&vm, sz, target, caps, &v);
            REQUIRE(known_rc(rc));
            break;
        }
        default:
            nm_vmap_dump(&vm, emit_nothing, NULL);
            break;
        }
        sh.fail_next = 0;
        REQUIRE(lock_depth == 0);
        REQUIRE(nm_vmap_esp_err(rc) != -1 || rc == NM_VMAP_ERR_FAIL);
        check_map(&vm, &sh, cfg.pool_len);
    }
    return 0;
}
