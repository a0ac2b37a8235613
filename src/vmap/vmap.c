/*
 * The virtual address map manager (include/natmod/vmap.h).
 *
 * Each region keeps its blocks in one list sorted by linear address,
 * reservations included (flag RESERVED). A free stretch ("slot" in ESP-IDF)
 * is the gap between two neighbours, or between a neighbour and the region
 * edge. map walks the list once for first fit and the physical checks, and
 * once more to recompute the largest gap; unmap walks it once to find the
 * block and once for the gap. So every operation is O(blocks in the
 * region), and max_free is exact after each.
 */
#include "natmod/vmap.h"

#include <string.h>

#define F_RESERVED 1u

/* ---- one-line text, freestanding (details and the dump) ---- */

typedef struct line {
    char *buf;
    size_t cap, n;
} line_t;

static void put_s(line_t *l, const char *s) {
    while (s && *s && l->n + 1 < l->cap) {
        l->buf[l->n++] = *s++;
    }
    l->buf[l->n] = 0;
}

static void put_hex(line_t *l, uint64_t v, unsigned min_digits) {
    char tmp[19];
    unsigned n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v && n < 16);
    while (n < min_digits && n < 16) {
        tmp[n++] = '0';
    }
    char out[21] = "0x";
    for (unsigned i = 0; i < n; i++) {
        out[2 + i] = tmp[n - 1 - i];
    }
    out[2 + n] = 0;
    put_s(l, out);
}

static void put_dec(line_t *l, unsigned v) {
    char tmp[11];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 10);
    char out[11];
    for (unsigned i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = 0;
    put_s(l, out);
}

static void put_caps(line_t *l, unsigned caps) {
    char s[7] = "------";
    if (caps & NM_VMAP_CAP_EXEC) s[0] = 'X';
    if (caps & NM_VMAP_CAP_READ) s[1] = 'R';
    if (caps & NM_VMAP_CAP_WRITE) s[2] = 'W';
    if (caps & NM_VMAP_CAP_32BIT) s[3] = '3', s[4] = '2';
    if (caps & NM_VMAP_CAP_8BIT) s[5] = '8';
    put_s(l, s);
}

static const char *target_name(unsigned t) {
    return t == NM_VMAP_TARGET_FLASH0 ? "flash" : t == NM_VMAP_TARGET_PSRAM0 ? "psram" : "?";
}

/* A detail: "what" then " 0x<v>" then "rest". */
static int fail(nm_detail_t *d, int err, const char *what, uint64_t v, const char *rest) {
    if (d) {
        line_t l = {d->msg, sizeof d->msg, 0};
        put_s(&l, "vmap: ");
        put_s(&l, what);
        if (v != UINT64_MAX) {
            put_s(&l, " ");
            put_hex(&l, v, 1);
        }
        put_s(&l, rest);
    }
    return err;
}

/* ---- locking ---- */

static void lock(nm_vmap_t *vm) {
    if (vm->cfg.lock) {
        vm->cfg.lock(vm->cfg.lock_ctx);
    }
}

static int unlock(nm_vmap_t *vm, int ret) {
    if (vm->cfg.unlock) {
        vm->cfg.unlock(vm->cfg.lock_ctx);
    }
    return ret;
}

/* ---- geometry ---- */

static int one_bit(unsigned v) {
    return v && !(v & (v - 1));
}

static uintptr_t bus_base(const nm_vmap_region_t *r, unsigned bus) {
    return bus == NM_VMAP_BUS_INSTR ? r->ibus_base : r->dbus_base;
}

/* The bus a request (or block) with these caps is seen on. */
static unsigned caps_bus(unsigned caps) {
    return (caps & NM_VMAP_CAP_EXEC) ? NM_VMAP_BUS_INSTR : NM_VMAP_BUS_DATA;
}

/* Does vaddr lie in region r's view on bus? *laddr gets its linear address. */
static int in_view(const nm_vmap_region_t *r, unsigned bus, uintptr_t vaddr, uintptr_t *laddr) {
    if (!(r->buses & bus)) {
        return 0;
    }
    uintptr_t base = bus_base(r, bus);
    if (vaddr < base || vaddr - base < r->laddr_start || vaddr - base >= r->laddr_end) {
        return 0;
    }
    *laddr = vaddr - base;
    return 1;
}

/* The region whose view on bus holds vaddr, or -1. Views do not overlap
 * (init checks), so there is at most one. */
static int view_region(const nm_vmap_t *vm, unsigned bus, uintptr_t vaddr, uintptr_t *laddr) {
    for (unsigned i = 0; i < vm->cfg.n_regions; i++) {
        if (in_view(&vm->region[i], bus, vaddr, laddr)) {
            return (int)i;
        }
    }
    return -1;
}

/* The address of laddr in region r on the bus caps imply, or on the
 * region's one bus if it lacks that one (a reservation, or map_virt's
 * INVALID_STATE for a request at the other bus's address). */
static uintptr_t laddr_vaddr(const nm_vmap_region_t *r, unsigned caps, uintptr_t laddr) {
    unsigned bus = caps_bus(caps);
    if (!(r->buses & bus)) {
        bus = r->buses & NM_VMAP_BUS_DATA ? NM_VMAP_BUS_DATA : NM_VMAP_BUS_INSTR;
    }
    return bus_base(r, bus) + laddr;
}

/* A block's address on the bus its caps imply (the one map returned). */
static uintptr_t block_vaddr(const nm_vmap_t *vm, const nm_vmap_block_t *b) {
    return laddr_vaddr(&vm->region[b->region], b->caps, b->laddr);
}

static int region_covers(const nm_vmap_region_t *r, unsigned caps, unsigned target) {
    return (r->caps & caps) == caps && (r->targets & target) == target;
}

/* Can map place a block with these caps in r? It must cover them and have
 * the bus they imply: a block without EXEC is seen at its data address, so
 * an instruction-only region (ESP32's IRAM0) cannot take a 32BIT-only
 * request, although its caps cover it. ESP-IDF picks that region and then
 * aborts in its HAL. */
static int region_serves(const nm_vmap_region_t *r, unsigned caps, unsigned target) {
    return region_covers(r, caps, target) && (r->buses & caps_bus(caps));
}

/* Largest gap of region ri: the list is sorted, so one pass. */
static void recompute_free(nm_vmap_t *vm, unsigned ri) {
    const nm_vmap_region_t *r = &vm->region[ri];
    uintptr_t prev = r->laddr_start;
    size_t best = 0;
    for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
        if (b->laddr - prev > best) {
            best = b->laddr - prev;
        }
        prev = b->laddr + b->size;
    }
    if (r->laddr_end - prev > best) {
        best = r->laddr_end - prev;
    }
    vm->max_free[ri] = best;
}

/* ---- init ---- */

int nm_vmap_esp_err(int err) {
    switch (err) {
    case NM_OK: return 0;
    case NM_VMAP_ERR_NO_MEM: return 0x101;
    case NM_VMAP_ERR_INVALID_ARG: return 0x102;
    case NM_VMAP_ERR_INVALID_STATE: return 0x103;
    case NM_VMAP_ERR_NOT_FOUND: return 0x105;
    case NM_VMAP_ERR_NOT_SUPPORTED: return 0x106;
    default: return -1;
    }
}

/* Do region a's view on bus abus and region b's view on bbus share an
 * address? (No if either region lacks its bus.) */
static int view_overlap(const nm_vmap_region_t *a, unsigned abus, const nm_vmap_region_t *b,
                        unsigned bbus) {
    if (!(a->buses & abus) || !(b->buses & bbus)) {
        return 0;
    }
    uintptr_t a0 = bus_base(a, abus) + a->laddr_start, a1 = bus_base(a, abus) + a->laddr_end;
    uintptr_t b0 = bus_base(b, bbus) + b->laddr_start, b1 = bus_base(b, bbus) + b->laddr_end;
    return a0 < b1 && b0 < a1;
}

static int views_overlap(const nm_vmap_region_t *a, const nm_vmap_region_t *b) {
    static const unsigned bus[2] = {NM_VMAP_BUS_DATA, NM_VMAP_BUS_INSTR};
    for (unsigned i = 0; i < 2; i++) {
        for (unsigned j = 0; j < 2; j++) {
            if (view_overlap(a, bus[i], b, bus[j])) {
                return 1;
            }
        }
    }
    return 0;
}

static int region_fail(nm_detail_t *d, const nm_vmap_region_t *r, unsigned i, const char *why) {
    if (d) {
        line_t l = {d->msg, sizeof d->msg, 0};
        put_s(&l, "vmap: region ");
        put_dec(&l, i);
        put_s(&l, " (");
        put_s(&l, r->name ? r->name : "unnamed");
        put_s(&l, "): ");
        put_s(&l, why);
    }
    return NM_ERR_INVAL;
}

/* Insert b into region ri's sorted list (no overlap check: callers made sure). */
static void link_block(nm_vmap_t *vm, unsigned ri, nm_vmap_block_t *b) {
    nm_vmap_block_t **pp = &vm->head[ri];
    while (*pp && (*pp)->laddr < b->laddr) {
        pp = &(*pp)->next;
    }
    b->next = *pp;
    *pp = b;
}

enum { ANY_BLOCK, LIVE_BLOCK, RESERVED_BLOCK };

/* Does a block of region ri of this kind overlap [laddr, laddr + size)?
 * (map_at and map_virt ask for reservations and mappings apart, because
 * they check the two at different points.) */
static int range_has(const nm_vmap_t *vm, unsigned ri, uintptr_t laddr, size_t size, int kind) {
    for (const nm_vmap_block_t *b = vm->head[ri]; b && b->laddr < laddr + size; b = b->next) {
        int reserved = (b->flags & F_RESERVED) != 0;
        if (b->laddr + b->size > laddr && (kind == ANY_BLOCK || reserved == (kind == RESERVED_BLOCK))) {
            return 1;
        }
    }
    return 0;
}

int nm_vmap_init(nm_vmap_t *vm, const nm_vmap_config_t *cfg, nm_detail_t *d) {
    if (!vm || !cfg) {
        return fail(d, NM_ERR_INVAL, "no map or no configuration", UINT64_MAX, "");
    }
    memset(vm, 0, sizeof *vm);
    size_t ps = cfg->page_size;
    if (!one_bit((unsigned)(ps & 0xffffffffu)) || ps != (ps & 0xffffffffu)) {
        return fail(d, NM_ERR_INVAL, "page size", ps, " is not a power of two");
    }
    if (cfg->n_regions == 0 || cfg->n_regions > NM_VMAP_MAX_REGIONS || !cfg->regions) {
        return fail(d, NM_ERR_INVAL, "region count", cfg->n_regions, " is not 1..8");
    }
    if (!cfg->backend || !cfg->backend->map || !cfg->backend->unmap) {
        return fail(d, NM_ERR_INVAL, "no back-end (map and unmap are required)", UINT64_MAX, "");
    }
    if (!cfg->lock != !cfg->unlock) {
        return fail(d, NM_ERR_INVAL, "lock and unlock must be given together", UINT64_MAX, "");
    }
    if ((cfg->n_reserved && !cfg->reserved) || (cfg->pool_len && !cfg->pool)) {
        return fail(d, NM_ERR_INVAL, "reservations or pool missing", UINT64_MAX, "");
    }
    vm->cfg = *cfg;
    unsigned all_targets = 0;
    for (unsigned i = 0; i < cfg->n_regions; i++) {
        const nm_vmap_region_t *r = &cfg->regions[i];
        if (r->laddr_start % ps || r->laddr_end % ps || r->laddr_end <= r->laddr_start) {
            return region_fail(d, r, i, "linear range not whole pages or empty");
        }
        if (!r->caps || (r->caps & ~(unsigned)NM_VMAP_CAP_ALL_) || !r->targets ||
            (r->targets & ~(unsigned)NM_VMAP_TARGET_ALL_)) {
            return region_fail(d, r, i, "caps or targets empty or unknown");
        }
        if (!r->buses || (r->buses & ~(unsigned)(NM_VMAP_BUS_DATA | NM_VMAP_BUS_INSTR))) {
            return region_fail(d, r, i, "no bus");
        }
        if (((r->buses & NM_VMAP_BUS_INSTR) && r->ibus_base > UINTPTR_MAX - r->laddr_end) ||
            ((r->buses & NM_VMAP_BUS_DATA) && r->dbus_base > UINTPTR_MAX - r->laddr_end)) {
            return region_fail(d, r, i, "bus base + linear end overflows");
        }
        if (r->ibus_base % ps || r->dbus_base % ps) {
            return region_fail(d, r, i, "bus base not on a page");
        }
        /* Two views of one region are either one address (the host) or apart. */
        if (r->ibus_base != r->dbus_base &&
            view_overlap(r, NM_VMAP_BUS_INSTR, r, NM_VMAP_BUS_DATA)) {
            return region_fail(d, r, i, "its instruction and data views overlap");
        }
        for (unsigned j = 0; j < i; j++) {
            if (views_overlap(r, &cfg->regions[j])) {
                return region_fail(d, r, i, "its addresses overlap an earlier region's");
            }
        }
        vm->region[i] = *r;
        vm->max_free[i] = r->laddr_end - r->laddr_start;
        all_targets |= r->targets;
    }
    if (!vm->cfg.supported_targets) {
        vm->cfg.supported_targets = all_targets;
    }
    for (unsigned i = 0; i < cfg->pool_len; i++) {
        cfg->pool[i].next = vm->free;
        vm->free = &cfg->pool[i];
    }
    for (unsigned k = 0; k < cfg->n_reserved; k++) {
        const nm_vmap_reserve_t *rv = &cfg->reserved[k];
        uintptr_t lo = rv->vaddr & ~(uintptr_t)(ps - 1), laddr = 0;
        unsigned bus = NM_VMAP_BUS_DATA;
        int ri = view_region(vm, bus, lo, &laddr);
        if (ri < 0) {
            bus = NM_VMAP_BUS_INSTR;
            ri = view_region(vm, bus, lo, &laddr);
        }
        const nm_vmap_region_t *r = ri >= 0 ? &vm->region[ri] : NULL;
        uintptr_t off = rv->vaddr - lo;
        if (!r || rv->size == 0 || rv->size > r->laddr_end - laddr ||
            off > r->laddr_end - laddr - rv->size) {
            return fail(d, NM_ERR_INVAL, "reservation at", rv->vaddr,
                        " is empty or not inside one region");
        }
        size_t size = (off + rv->size + ps - 1) & ~(ps - 1);
        if ((rv->target && !one_bit(rv->target)) || (rv->target & ~(unsigned)NM_VMAP_TARGET_ALL_) ||
            (rv->target && rv->paddr % ps != off % ps)) {
            return fail(d, NM_ERR_INVAL, "reservation at", rv->vaddr,
                        ": bad target, or paddr and vaddr differ within the page");
        }
        if (range_has(vm, (unsigned)ri, laddr, size, ANY_BLOCK)) {
            return fail(d, NM_ERR_INVAL, "reservation at", rv->vaddr, " overlaps another");
        }
        nm_vmap_block_t *b = vm->free;
        if (!b) {
            return fail(d, NM_ERR_INVAL, "block pool too small for reservation", k, "");
        }
        vm->free = b->next;
        b->laddr = laddr;
        b->size = size;
        b->paddr = rv->target ? rv->paddr - off % ps : 0;
        b->target = (uint8_t)rv->target;
        b->caps = (uint8_t)(bus == NM_VMAP_BUS_INSTR
                                ? r->caps & (NM_VMAP_CAP_EXEC | NM_VMAP_CAP_READ | NM_VMAP_CAP_32BIT)
                                : r->caps & (NM_VMAP_CAP_READ | NM_VMAP_CAP_32BIT | NM_VMAP_CAP_8BIT));
        if (bus == NM_VMAP_BUS_DATA && (r->caps & NM_VMAP_CAP_EXEC) &&
            !(b->caps & (NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE))) {
            b->caps = (uint8_t)r->caps; /* an EXEC-only region seen on the data bus */
        }
        b->region = (uint8_t)ri;
        b->flags = F_RESERVED;
        link_block(vm, (unsigned)ri, b);
        recompute_free(vm, (unsigned)ri);
    }
    return NM_OK;
}

/* ---- the checks map, map_at, map_virt and find_free share ---- */

/* Argument checks in ESP-IDF's order; *aligned receives the rounded size.
 * paddr is NULL for find_free; vaddr is map_virt's (NULL for the others:
 * map_at checks its address after these). */
static int check_request(const nm_vmap_t *vm, const uintptr_t *out, const uint64_t *paddr_in,
                         const uintptr_t *vaddr, size_t size, unsigned target, unsigned caps,
                         size_t *aligned, nm_detail_t *d) {
    int with_paddr = paddr_in != NULL;
    uint64_t paddr = with_paddr ? *paddr_in : 0;
    if (!vm || !out) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "null pointer", UINT64_MAX, "");
    }
    size_t ps = vm->cfg.page_size;
    if (!one_bit(target) || (target & ~(unsigned)NM_VMAP_TARGET_ALL_)) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "target", target, " is not one of FLASH0, PSRAM0");
    }
    if (!(target & vm->cfg.supported_targets)) {
        return fail(d, NM_VMAP_ERR_NOT_SUPPORTED, "target", target,
                    target == NM_VMAP_TARGET_PSRAM0 ? " (PSRAM) is not supported on this chip"
                                                    : " is not supported on this chip");
    }
    if (with_paddr && paddr % ps) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "paddr", paddr, " is not on a page");
    }
    if (vaddr && *vaddr % ps) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "vaddr", *vaddr, " is not on a page");
    }
    if ((caps & NM_VMAP_CAP_EXEC) && (caps & (NM_VMAP_CAP_WRITE | NM_VMAP_CAP_8BIT))) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "caps", caps, ": EXEC with WRITE or 8BIT");
    }
    if (!caps || (caps & ~(unsigned)NM_VMAP_CAP_ALL_)) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "caps", caps, " empty or unknown");
    }
    if (size == 0 || size > SIZE_MAX - (ps - 1)) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "size", size, " is 0 or overflows a page");
    }
    *aligned = (size + ps - 1) & ~(ps - 1);
    uint64_t limit = vm->cfg.target_size[target == NM_VMAP_TARGET_PSRAM0];
    if (with_paddr && (paddr > UINT64_MAX - *aligned || (limit && paddr + *aligned > limit))) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "paddr", paddr, " + size runs past the target");
    }
    return NM_OK;
}

/* The first region (in cfg order) that serves (caps, target) and has a
 * free stretch of size bytes, or -1. */
static int region_with_room(const nm_vmap_t *vm, unsigned caps, unsigned target, size_t size) {
    for (unsigned i = 0; i < vm->cfg.n_regions; i++) {
        if (region_serves(&vm->region[i], caps, target) && vm->max_free[i] >= size) {
            return (int)i;
        }
    }
    return -1;
}

/* First fit in region ri: the lowest free laddr with room, or 0 (the
 * region's start can be 0, so *ok says whether there is one). */
static uintptr_t first_fit(const nm_vmap_t *vm, unsigned ri, size_t size, int *ok) {
    const nm_vmap_region_t *r = &vm->region[ri];
    uintptr_t prev = r->laddr_start;
    *ok = 1;
    for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
        if (b->laddr - prev >= size) {
            return prev;
        }
        prev = b->laddr + b->size;
    }
    if (r->laddr_end - prev >= size) {
        return prev;
    }
    *ok = 0;
    return 0;
}

/* The physical checks against region ri: enclosed -> INVALID_STATE with
 * *out at the existing mapping (on the caller's bus where the region has
 * it), partial overlap -> INVALID_ARG unless shared. ESP-IDF stops at the
 * first block that either encloses or overlaps; here a block that encloses
 * wins wherever it lies in the list. */
static int check_paddr(const nm_vmap_t *vm, unsigned ri, uint64_t paddr, size_t size,
                       unsigned target, unsigned caps, unsigned flags, uintptr_t *out,
                       nm_detail_t *d) {
    const nm_vmap_block_t *enclosing = NULL, *overlapping = NULL;
    uint64_t end = paddr + size;
    for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
        if ((b->flags & F_RESERVED) || b->target != target) {
            continue;
        }
        uint64_t bend = b->paddr + b->size;
        if (paddr >= b->paddr && end <= bend) {
            enclosing = b;
            break;
        }
        if (!overlapping && paddr < bend && b->paddr < end) {
            overlapping = b;
        }
    }
    if (enclosing) {
        *out = laddr_vaddr(&vm->region[ri], caps, enclosing->laddr) +
               (uintptr_t)(paddr - enclosing->paddr);
        return fail(d, NM_VMAP_ERR_INVALID_STATE, "paddr", paddr, " is mapped already (out = its address)");
    }
    if (overlapping && !(flags & NM_VMAP_FLAG_PADDR_SHARED)) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "paddr", paddr,
                    " partly overlaps a mapped range (PADDR_SHARED not given)");
    }
    return NM_OK;
}

static int pool_empty(const nm_vmap_t *vm, nm_detail_t *d) {
    return fail(d, NM_VMAP_ERR_NO_MEM, "block pool exhausted", vm->cfg.pool_len, " blocks");
}

/* Take a pool block, map it through the back-end, link it. */
static int commit(nm_vmap_t *vm, unsigned ri, uintptr_t laddr, size_t size, uint64_t paddr,
                  unsigned target, unsigned caps, uintptr_t *out, nm_detail_t *d) {
    nm_vmap_block_t *b = vm->free;
    if (!b) {
        return pool_empty(vm, d);
    }
    const nm_vmap_region_t *r = &vm->region[ri];
    int err = vm->cfg.backend->map(vm->cfg.backend_ctx, r, laddr, paddr, size, target, caps);
    if (err) {
        return fail(d, NM_VMAP_ERR_FAIL, "back-end could not map vaddr", laddr_vaddr(r, caps, laddr),
                    " (no such physical memory, or the OS refused)");
    }
    vm->free = b->next;
    b->laddr = laddr;
    b->size = size;
    b->paddr = paddr;
    b->target = (uint8_t)target;
    b->caps = (uint8_t)caps;
    b->region = (uint8_t)ri;
    b->flags = 0;
    link_block(vm, ri, b);
    recompute_free(vm, ri);
    vm->n_live++;
    *out = block_vaddr(vm, b);
    if (vm->cfg.backend->invalidate) {
        vm->cfg.backend->invalidate(vm->cfg.backend_ctx, *out, size);
    }
    return NM_OK;
}

/* ---- map, map_at, map_virt, unmap ---- */

/* map after the argument checks, under the lock: first fit in the first
 * region that serves the request. */
static int map_first_fit(nm_vmap_t *vm, uint64_t paddr, size_t aligned, unsigned target,
                         unsigned caps, unsigned flags, uintptr_t *out, nm_detail_t *d) {
    int ri = region_with_room(vm, caps, target, aligned);
    if (ri < 0) {
        return fail(d, NM_VMAP_ERR_NOT_FOUND, "no region with caps", caps,
                    " and this target has a free stretch that large");
    }
    int err = check_paddr(vm, (unsigned)ri, paddr, aligned, target, caps, flags, out, d);
    if (err) {
        return err;
    }
    int ok;
    uintptr_t laddr = first_fit(vm, (unsigned)ri, aligned, &ok);
    /* max_free said there is room, so ok holds */
    return ok ? commit(vm, (unsigned)ri, laddr, aligned, paddr, target, caps, out, d)
              : fail(d, NM_VMAP_ERR_NOT_FOUND, "no free stretch", aligned, "");
}

int nm_vmap_map(nm_vmap_t *vm, uint64_t paddr, size_t size, unsigned target, unsigned caps,
                unsigned flags, uintptr_t *out, nm_detail_t *d) {
    size_t aligned;
    int err = check_request(vm, out, &paddr, NULL, size, target, caps, &aligned, d);
    if (err) {
        return err;
    }
    lock(vm);
    return unlock(vm, map_first_fit(vm, paddr, aligned, target, caps, flags, out, d));
}

static int wrong_bus(nm_detail_t *d, uintptr_t vaddr, unsigned bus) {
    return fail(d, NM_VMAP_ERR_INVALID_ARG, "vaddr", vaddr,
                bus == NM_VMAP_BUS_INSTR ? " is a data-bus address (EXEC wants instruction)"
                                         : " is an instruction-bus address (no EXEC wants data)");
}

static int reserved_vaddr(nm_detail_t *d, uintptr_t vaddr) {
    return fail(d, NM_VMAP_ERR_INVALID_ARG, "vaddr", vaddr, " reaches into a startup reservation");
}

int nm_vmap_map_at(nm_vmap_t *vm, uintptr_t vaddr, uint64_t paddr, size_t size, unsigned target,
                   unsigned caps, unsigned flags, uintptr_t *out, nm_detail_t *d) {
    size_t aligned;
    int err = check_request(vm, out, &paddr, NULL, size, target, caps, &aligned, d);
    if (err) {
        return err;
    }
    if (vaddr % vm->cfg.page_size) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "vaddr", vaddr, " is not on a page");
    }
    lock(vm);
    unsigned bus = caps_bus(caps);
    uintptr_t laddr;
    int ri = view_region(vm, bus, vaddr, &laddr);
    if (ri < 0) {
        if (view_region(vm, bus ^ (NM_VMAP_BUS_DATA | NM_VMAP_BUS_INSTR), vaddr, &laddr) >= 0) {
            return unlock(vm, wrong_bus(d, vaddr, bus));
        }
        return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr, " is in no region"));
    }
    const nm_vmap_region_t *r = &vm->region[ri];
    if (!region_covers(r, caps, target)) {
        return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr,
                               " is in a region that lacks these caps or this target"));
    }
    if (aligned > r->laddr_end - laddr) {
        return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr, " + size runs past its region"));
    }
    if (range_has(vm, (unsigned)ri, laddr, aligned, RESERVED_BLOCK)) {
        return unlock(vm, reserved_vaddr(d, vaddr));
    }
    err = check_paddr(vm, (unsigned)ri, paddr, aligned, target, caps, flags, out, d);
    if (err) {
        return unlock(vm, err);
    }
    if (range_has(vm, (unsigned)ri, laddr, aligned, LIVE_BLOCK)) {
        return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr,
                               " + size overlaps a mapped block"));
    }
    return unlock(vm, commit(vm, (unsigned)ri, laddr, aligned, paddr, target, caps, out, d));
}

/* map_virt's region (ESP-IDF's search): the first region, in order, that
 * covers (caps, target), has a free stretch of size bytes, and holds
 * [vaddr, vaddr + size) on one of its buses. Which bus is checked later,
 * after the physical range, as ESP-IDF does. -1 if none. */
static int region_holding(const nm_vmap_t *vm, uintptr_t vaddr, size_t size, unsigned caps,
                          unsigned target, uintptr_t *laddr) {
    for (unsigned i = 0; i < vm->cfg.n_regions; i++) {
        const nm_vmap_region_t *r = &vm->region[i];
        if (!region_covers(r, caps, target) || vm->max_free[i] < size) {
            continue;
        }
        if ((in_view(r, NM_VMAP_BUS_DATA, vaddr, laddr) || in_view(r, NM_VMAP_BUS_INSTR, vaddr, laddr)) &&
            size <= r->laddr_end - *laddr) {
            return (int)i;
        }
    }
    return -1;
}

int nm_vmap_map_virt(nm_vmap_t *vm, uintptr_t vaddr, uint64_t paddr, size_t size, unsigned target,
                     unsigned caps, unsigned flags, uintptr_t *out, nm_detail_t *d) {
    uintptr_t unused;
    uintptr_t *o = out ? out : &unused; /* ESP-IDF lets out be NULL here */
    size_t aligned;
    int err = check_request(vm, o, &paddr, &vaddr, size, target, caps, &aligned, d);
    if (err) {
        return err;
    }
    lock(vm);
    if (vaddr == 0) {
        return unlock(vm, map_first_fit(vm, paddr, aligned, target, caps, flags, o, d));
    }
    uintptr_t laddr;
    int ri = region_holding(vm, vaddr, aligned, caps, target, &laddr);
    if (ri < 0) {
        return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr,
                               " + size is in no region with these caps, this target and that much room"));
    }
    /* ESP-IDF's order from here: taken, physical, pool, bus, reservation.
     * A reservation is not "taken": ESP-IDF keeps it out of its block list. */
    if (range_has(vm, (unsigned)ri, laddr, aligned, LIVE_BLOCK)) {
        return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr,
                               " + size overlaps a mapped block"));
    }
    err = check_paddr(vm, (unsigned)ri, paddr, aligned, target, caps, flags, o, d);
    if (err) {
        return unlock(vm, err);
    }
    if (!vm->free) {
        return unlock(vm, pool_empty(vm, d));
    }
    uintptr_t same;
    if (!in_view(&vm->region[ri], caps_bus(caps), vaddr, &same)) {
        return unlock(vm, wrong_bus(d, vaddr, caps_bus(caps)));
    }
    if (range_has(vm, (unsigned)ri, laddr, aligned, RESERVED_BLOCK)) {
        return unlock(vm, reserved_vaddr(d, vaddr));
    }
    return unlock(vm, commit(vm, (unsigned)ri, laddr, aligned, paddr, target, caps, o, d));
}

int nm_vmap_unmap(nm_vmap_t *vm, uintptr_t vaddr, nm_detail_t *d) {
    if (!vm || !vaddr) {
        return fail(d, NM_VMAP_ERR_INVALID_ARG, "null pointer", UINT64_MAX, "");
    }
    lock(vm);
    static const unsigned buses[2] = {NM_VMAP_BUS_DATA, NM_VMAP_BUS_INSTR};
    int in_some = 0;
    for (unsigned k = 0; k < 2; k++) {
        uintptr_t laddr;
        int ri = view_region(vm, buses[k], vaddr, &laddr);
        if (ri < 0) {
            continue;
        }
        in_some = 1;
        for (nm_vmap_block_t **pp = &vm->head[ri]; *pp && (*pp)->laddr <= laddr; pp = &(*pp)->next) {
            nm_vmap_block_t *b = *pp;
            if (b->laddr != laddr || (b->flags & F_RESERVED)) {
                continue;
            }
            uintptr_t v = block_vaddr(vm, b);
            vm->cfg.backend->unmap(vm->cfg.backend_ctx, &vm->region[ri], b->laddr, b->size);
            if (vm->cfg.backend->invalidate) {
                vm->cfg.backend->invalidate(vm->cfg.backend_ctx, v, b->size);
            }
            *pp = b->next;
            b->next = vm->free;
            vm->free = b;
            vm->n_live--;
            recompute_free(vm, (unsigned)ri);
            return unlock(vm, NM_OK);
        }
    }
    return unlock(vm, fail(d, NM_VMAP_ERR_NOT_FOUND, "vaddr", vaddr,
                           in_some ? " is not the start of a mapped block" : " is in no region"));
}

/* ---- queries ---- */

int nm_vmap_vaddr_to_paddr(nm_vmap_t *vm, uintptr_t vaddr, uint64_t *paddr, unsigned *target) {
    if (!vm || !paddr || !target) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    lock(vm);
    uintptr_t laddr;
    int ri = view_region(vm, NM_VMAP_BUS_DATA, vaddr, &laddr);
    if (ri < 0) {
        ri = view_region(vm, NM_VMAP_BUS_INSTR, vaddr, &laddr);
    }
    if (ri < 0) {
        return unlock(vm, NM_VMAP_ERR_INVALID_ARG);
    }
    for (const nm_vmap_block_t *b = vm->head[ri]; b && b->laddr <= laddr; b = b->next) {
        if (laddr < b->laddr + b->size && b->target) {
            *paddr = b->paddr + (laddr - b->laddr);
            *target = b->target;
            return unlock(vm, NM_OK);
        }
    }
    return unlock(vm, NM_VMAP_ERR_NOT_FOUND);
}

int nm_vmap_paddr_to_vaddr(nm_vmap_t *vm, uint64_t paddr, unsigned target, unsigned bus,
                           uintptr_t *vaddr) {
    if (!vm || !vaddr || !one_bit(target) || (target & ~(unsigned)NM_VMAP_TARGET_ALL_) ||
        (bus != NM_VMAP_BUS_DATA && bus != NM_VMAP_BUS_INSTR)) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    lock(vm);
    int found = 0;
    uintptr_t best = 0;
    for (unsigned ri = 0; ri < vm->cfg.n_regions; ri++) {
        const nm_vmap_region_t *r = &vm->region[ri];
        if (!(r->buses & bus)) {
            continue;
        }
        for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
            if (b->target == target && paddr >= b->paddr && paddr - b->paddr < b->size) {
                uintptr_t v = bus_base(r, bus) + b->laddr + (uintptr_t)(paddr - b->paddr);
                if (!found || v < best) {
                    best = v;
                    found = 1;
                }
                break; /* later blocks of this region are at higher addresses */
            }
        }
    }
    if (!found) {
        return unlock(vm, NM_VMAP_ERR_NOT_FOUND);
    }
    *vaddr = best;
    return unlock(vm, NM_OK);
}

int nm_vmap_paddr_caps(nm_vmap_t *vm, uint64_t paddr, unsigned target, unsigned *caps) {
    if (!vm || !caps || !one_bit(target) || (target & ~(unsigned)NM_VMAP_TARGET_ALL_)) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    lock(vm);
    /* ESP-IDF's esp_mmu_paddr_find_caps stops at a region's first match
     * but goes on to the next region, so the last region answers. */
    int found = 0;
    unsigned answer = 0;
    for (unsigned ri = 0; ri < vm->cfg.n_regions; ri++) {
        for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
            if (b->target == target && paddr >= b->paddr && paddr - b->paddr < b->size) {
                answer = b->caps;
                found = 1;
                break;
            }
        }
    }
    if (!found) {
        return unlock(vm, NM_VMAP_ERR_NOT_FOUND);
    }
    *caps = answer;
    return unlock(vm, NM_OK);
}

int nm_vmap_largest_free(nm_vmap_t *vm, unsigned caps, unsigned target, size_t *out) {
    if (!vm || !out ||
        ((caps & NM_VMAP_CAP_EXEC) && (caps & (NM_VMAP_CAP_WRITE | NM_VMAP_CAP_8BIT)))) {
        return NM_VMAP_ERR_INVALID_ARG;
    }
    lock(vm);
    size_t best = 0;
    for (unsigned i = 0; i < vm->cfg.n_regions; i++) {
        if (region_serves(&vm->region[i], caps, target) && vm->max_free[i] > best) {
            best = vm->max_free[i];
        }
    }
    *out = best;
    return unlock(vm, NM_OK);
}

int nm_vmap_find_free(nm_vmap_t *vm, size_t size, unsigned target, unsigned caps, uintptr_t *out) {
    size_t aligned;
    int err = check_request(vm, out, NULL, NULL, size, target, caps, &aligned, NULL);
    if (err) {
        return err;
    }
    lock(vm);
    int ri = region_with_room(vm, caps, target, aligned), ok = 0;
    uintptr_t laddr = ri < 0 ? 0 : first_fit(vm, (unsigned)ri, aligned, &ok);
    if (!ok) {
        return unlock(vm, NM_VMAP_ERR_NOT_FOUND);
    }
    *out = laddr_vaddr(&vm->region[ri], caps, laddr);
    return unlock(vm, NM_OK);
}

static void info_of(const nm_vmap_t *vm, const nm_vmap_block_t *b, nm_vmap_info_t *o) {
    o->vaddr = block_vaddr(vm, b);
    o->size = b->size;
    o->paddr = b->paddr;
    o->target = b->target;
    o->caps = b->caps;
    o->region = b->region;
    o->reserved = (b->flags & F_RESERVED) != 0;
}

unsigned nm_vmap_blocks(nm_vmap_t *vm, nm_vmap_info_t *out, unsigned max) {
    if (!vm) {
        return 0;
    }
    lock(vm);
    unsigned n = 0;
    for (unsigned ri = 0; ri < vm->cfg.n_regions; ri++) {
        for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next, n++) {
            if (out && n < max) {
                info_of(vm, b, &out[n]);
            }
        }
    }
    unlock(vm, 0);
    return n;
}

void nm_vmap_dump(nm_vmap_t *vm, void (*emit)(void *ctx, const char *line), void *ctx) {
    if (!vm || !emit) {
        return;
    }
    char buf[160];
    lock(vm);
    for (unsigned ri = 0; ri < vm->cfg.n_regions; ri++) {
        const nm_vmap_region_t *r = &vm->region[ri];
        line_t l = {buf, sizeof buf, 0};
        put_s(&l, "region ");
        put_dec(&l, ri);
        put_s(&l, " ");
        put_s(&l, r->name ? r->name : "unnamed");
        put_s(&l, " laddr ");
        put_hex(&l, r->laddr_start, 8);
        put_s(&l, "-");
        put_hex(&l, r->laddr_end, 8);
        put_s(&l, " caps ");
        put_caps(&l, r->caps);
        put_s(&l, (r->targets & NM_VMAP_TARGET_FLASH0) ? " targets F" : " targets -");
        put_s(&l, (r->targets & NM_VMAP_TARGET_PSRAM0) ? "P" : "-");
        put_s(&l, " largest free ");
        put_hex(&l, vm->max_free[ri], 1);
        emit(ctx, buf);
        for (const nm_vmap_block_t *b = vm->head[ri]; b; b = b->next) {
            uintptr_t v = block_vaddr(vm, b);
            l.n = 0;
            put_s(&l, "  ");
            put_hex(&l, v, 8);
            put_s(&l, "-");
            put_hex(&l, v + b->size, 8);
            put_s(&l, " -> ");
            if (b->target) {
                put_s(&l, target_name(b->target));
                put_s(&l, " ");
                put_hex(&l, b->paddr, 8);
            } else {
                put_s(&l, "(firmware)");
            }
            put_s(&l, " caps ");
            put_caps(&l, b->caps);
            if (b->flags & F_RESERVED) {
                put_s(&l, " reserved");
            }
            emit(ctx, buf);
        }
    }
    unlock(vm, 0);
}
