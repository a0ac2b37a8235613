/*
 * Page-table models of the ESP32 and ESP32-S3 MMUs (src/vmap/esp32.h).
 *
 * A back-end call gets a region and a linear range. The ESP32 model turns
 * each page into the virtual address the region shows it at and that into
 * a table entry (nm_vmap_esp32_entry), because its entry numbering follows
 * the chip's address windows, not the linear address. The S3 table is
 * indexed by linear page directly. The models never refuse a range vmap
 * hands them; they check anyway and write nothing if a page has no entry.
 */
#include "esp32.h"

#define PAGE_SHIFT 16u
#define PAGE NM_ESP32_MMU_PAGE

/* ---- ESP32 ---- */

/* Linear address spaces of the two buses (vaddr & 0x1ffffff). */
#define ESP32_IBUS_BASE 0x40000000u
#define ESP32_DBUS_BASE 0x3e000000u
#define ESP32_FLASH_SIZE ((uint64_t)16 << 20) /* 256 pages of 8-bit page number */

/* The windows of the flash table: entries base .. base + 63 each. */
#define ESP32_DROM0_LO 0x3f400000u
#define ESP32_DROM0_HI 0x3f800000u
#define ESP32_IRAM0_LO 0x40000000u
#define ESP32_IROM0_HI 0x40c00000u

static const nm_vmap_region_t esp32_regions[] = {
    /* esp_mmu_map's instruction window starts past the part of IRAM0 that
     * is internal RAM (0x40000000..0x400cffff), hence 0xd0000. */
    {"IRAM0", 0x0d0000u, 0x400000u, NM_VMAP_CAP_EXEC | NM_VMAP_CAP_32BIT, NM_VMAP_TARGET_FLASH0,
     NM_VMAP_BUS_INSTR, ESP32_IBUS_BASE, 0},
    {"DROM0", 0x1400000u, 0x1800000u, NM_VMAP_CAP_READ | NM_VMAP_CAP_32BIT | NM_VMAP_CAP_8BIT,
     NM_VMAP_TARGET_FLASH0, NM_VMAP_BUS_DATA, 0, ESP32_DBUS_BASE},
    /* PSRAM: ESP-IDF lists it but refuses every request (NOT_SUPPORTED). */
    {"DRAM1", 0x1800000u, 0x1c00000u,
     NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE | NM_VMAP_CAP_32BIT | NM_VMAP_CAP_8BIT,
     NM_VMAP_TARGET_PSRAM0, NM_VMAP_BUS_DATA, 0, ESP32_DBUS_BASE},
};

int nm_vmap_esp32_entry(uintptr_t vaddr) {
    if (vaddr >= ESP32_DROM0_LO && vaddr < ESP32_DROM0_HI) {
        return (int)((vaddr - ESP32_DROM0_LO) >> PAGE_SHIFT);
    }
    if (vaddr >= ESP32_IRAM0_LO && vaddr < ESP32_IROM0_HI) {
        /* IRAM0, IRAM1, IROM0: 4 MB windows, 64 entries each, after DROM0's */
        uintptr_t window = (vaddr - ESP32_IRAM0_LO) >> 22;
        return (int)(64u * (1u + window) + ((vaddr & 0x3fffffu) >> PAGE_SHIFT));
    }
    return -1;
}

/* The virtual address a region shows laddr at (each ESP32 region has one bus). */
static uintptr_t region_vaddr(const nm_vmap_region_t *r, uintptr_t laddr) {
    return ((r->buses & NM_VMAP_BUS_INSTR) ? r->ibus_base : r->dbus_base) + laddr;
}

/* Write value to the entry of vaddr in both tables; 0 if vaddr has none. */
static int esp32_put(nm_vmap_esp32_t *m, uintptr_t vaddr, uint32_t value) {
    int e = nm_vmap_esp32_entry(vaddr);
    if (e < 0) {
        return 0;
    }
    /* The two CPUs each have a table; ESP-IDF keeps them identical so a
     * mapping means the same on both cores. */
    m->pro[e] = value;
    m->app[e] = value;
    m->n_writes++;
    return 1;
}

/* Every entry the range needs must exist before any is written, so that a
 * failed map leaves the tables as they were. */
static int esp32_range_ok(uintptr_t vaddr, size_t size) {
    for (size_t off = 0; off < size; off += PAGE) {
        if (nm_vmap_esp32_entry(vaddr + off) < 0) {
            return 0;
        }
    }
    return 1;
}

static int esp32_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr,
                     size_t size, unsigned target, unsigned caps) {
    nm_vmap_esp32_t *m = ctx;
    uintptr_t v = region_vaddr(r, laddr);
    (void)caps; /* the flash table has no permission bits */
    /* Only the flash table is modelled (PSRAM is refused before this). */
    if (target != NM_VMAP_TARGET_FLASH0 || paddr + size > ESP32_FLASH_SIZE ||
        !esp32_range_ok(v, size)) {
        return NM_ERR_INVAL;
    }
    for (size_t off = 0; off < size; off += PAGE) {
        esp32_put(m, v + off, (uint32_t)((paddr + off) >> PAGE_SHIFT));
    }
    return NM_OK;
}

static void esp32_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    nm_vmap_esp32_t *m = ctx;
    uintptr_t v = region_vaddr(r, laddr);
    for (size_t off = 0; off < size; off += PAGE) {
        esp32_put(m, v + off, NM_ESP32_MMU_INVALID);
    }
}

static void esp32_invalidate(void *ctx, uintptr_t vaddr, size_t size) {
    nm_vmap_esp32_t *m = ctx;
    (void)vaddr;
    (void)size;
    m->n_invalidates++; /* the chip syncs the whole flash cache */
}

static const nm_vmap_backend_t esp32_backend = {esp32_map, esp32_unmap, esp32_invalidate};

/* The pages [lo, hi) a reservation covers, rounded outwards. */
static void reserve_span(const nm_vmap_reserve_t *rv, uintptr_t *lo, uintptr_t *hi) {
    *lo = rv->vaddr & ~(uintptr_t)(PAGE - 1);
    *hi = (rv->vaddr + rv->size + (PAGE - 1)) & ~(uintptr_t)(PAGE - 1);
    if (*hi < *lo) { /* wrapped: leave it to nm_vmap_init to refuse */
        *hi = *lo;
    }
}

static void clear_cfg(nm_vmap_config_t *cfg) {
    /* struct assignment rather than memset: no libc needed */
    nm_vmap_config_t zero = {0};
    *cfg = zero;
}

void nm_vmap_esp32_config(nm_vmap_config_t *cfg, nm_vmap_esp32_t *m, nm_vmap_block_t *pool,
                          unsigned pool_len, const nm_vmap_reserve_t *res, unsigned n_res) {
    for (unsigned i = 0; i < NM_ESP32_MMU_ENTRIES; i++) {
        m->pro[i] = NM_ESP32_MMU_INVALID;
        m->app[i] = NM_ESP32_MMU_INVALID;
    }
    m->n_writes = 0;
    m->n_invalidates = 0;
    /* What the bootloader left: the firmware's own text and rodata. */
    for (unsigned k = 0; k < n_res; k++) {
        uintptr_t lo, hi;
        if (res[k].target != NM_VMAP_TARGET_FLASH0) {
            continue; /* unknown contents, or PSRAM (not in this table) */
        }
        reserve_span(&res[k], &lo, &hi);
        uint64_t page = (res[k].paddr >> PAGE_SHIFT);
        for (uintptr_t v = lo; v < hi && esp32_put(m, v, (uint32_t)(page & 0xffu)); v += PAGE) {
            page++;
        }
    }
    m->n_writes = 0; /* count the manager's writes only */
    clear_cfg(cfg);
    cfg->page_size = PAGE;
    cfg->regions = esp32_regions;
    cfg->n_regions = sizeof esp32_regions / sizeof esp32_regions[0];
    cfg->reserved = res;
    cfg->n_reserved = n_res;
    cfg->supported_targets = NM_VMAP_TARGET_FLASH0;
    cfg->target_size[0] = ESP32_FLASH_SIZE;
    cfg->pool = pool;
    cfg->pool_len = pool_len;
    cfg->backend = &esp32_backend;
    cfg->backend_ctx = m;
}

/* ---- ESP32-S3 ---- */

#define S3_IBUS_BASE 0x42000000u
#define S3_DBUS_BASE 0x3c000000u
#define S3_LINEAR_SIZE 0x2000000u /* 512 entries of 64 KB */
#define S3_PHYS_SIZE ((uint64_t)1 << 30) /* 16384 pages: below the invalid bit */

static const nm_vmap_region_t esp32s3_regions[] = {
    {"EXTMEM", 0, S3_LINEAR_SIZE, NM_VMAP_CAP_ALL_, NM_VMAP_TARGET_FLASH0 | NM_VMAP_TARGET_PSRAM0,
     NM_VMAP_BUS_INSTR | NM_VMAP_BUS_DATA, S3_IBUS_BASE, S3_DBUS_BASE},
};

int nm_vmap_esp32s3_entry(uintptr_t vaddr) {
    if ((vaddr >= S3_IBUS_BASE && vaddr - S3_IBUS_BASE < S3_LINEAR_SIZE) ||
        (vaddr >= S3_DBUS_BASE && vaddr - S3_DBUS_BASE < S3_LINEAR_SIZE)) {
        return (int)((vaddr & (S3_LINEAR_SIZE - 1)) >> PAGE_SHIFT);
    }
    return -1;
}

static uint32_t s3_value(uint64_t paddr, unsigned target) {
    uint32_t v = (uint32_t)(paddr >> PAGE_SHIFT);
    return target == NM_VMAP_TARGET_PSRAM0 ? v | NM_ESP32S3_MMU_PSRAM : v;
}

/* Entry of a linear address: the S3 table is indexed by linear page, which
 * is the same for both buses. */
static int s3_put(nm_vmap_esp32s3_t *m, uintptr_t laddr, uint32_t value) {
    if (laddr >= S3_LINEAR_SIZE) {
        return 0;
    }
    m->table[laddr >> PAGE_SHIFT] = value;
    m->n_writes++;
    return 1;
}

static int s3_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr,
                  size_t size, unsigned target, unsigned caps) {
    nm_vmap_esp32s3_t *m = ctx;
    (void)r;
    (void)caps; /* caps are a property of the bus the CPU uses, not of the entry */
    if (laddr >= S3_LINEAR_SIZE || size > S3_LINEAR_SIZE - laddr || paddr + size > S3_PHYS_SIZE) {
        return NM_ERR_INVAL;
    }
    for (size_t off = 0; off < size; off += PAGE) {
        s3_put(m, laddr + off, s3_value(paddr + off, target));
    }
    return NM_OK;
}

static void s3_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    nm_vmap_esp32s3_t *m = ctx;
    (void)r;
    for (size_t off = 0; off < size; off += PAGE) {
        s3_put(m, laddr + off, NM_ESP32S3_MMU_INVALID);
    }
}

static void s3_invalidate(void *ctx, uintptr_t vaddr, size_t size) {
    nm_vmap_esp32s3_t *m = ctx;
    (void)vaddr;
    (void)size;
    m->n_invalidates++;
}

static const nm_vmap_backend_t esp32s3_backend = {s3_map, s3_unmap, s3_invalidate};

void nm_vmap_esp32s3_config(nm_vmap_config_t *cfg, nm_vmap_esp32s3_t *m, nm_vmap_block_t *pool,
                            unsigned pool_len, const nm_vmap_reserve_t *res, unsigned n_res) {
    for (unsigned i = 0; i < NM_ESP32S3_MMU_ENTRIES; i++) {
        m->table[i] = NM_ESP32S3_MMU_INVALID;
    }
    for (unsigned k = 0; k < n_res; k++) {
        uintptr_t lo, hi;
        unsigned t = res[k].target;
        if (t != NM_VMAP_TARGET_FLASH0 && t != NM_VMAP_TARGET_PSRAM0) {
            continue;
        }
        reserve_span(&res[k], &lo, &hi);
        uint64_t paddr = res[k].paddr & ~(uint64_t)(PAGE - 1);
        for (uintptr_t v = lo; v < hi; v += PAGE, paddr += PAGE) {
            int e = nm_vmap_esp32s3_entry(v);
            if (e < 0) {
                break;
            }
            m->table[e] = s3_value(paddr, t);
        }
    }
    m->n_writes = 0;
    m->n_invalidates = 0;
    clear_cfg(cfg);
    cfg->page_size = PAGE;
    cfg->regions = esp32s3_regions;
    cfg->n_regions = 1;
    cfg->reserved = res;
    cfg->n_reserved = n_res;
    cfg->supported_targets = NM_VMAP_TARGET_FLASH0 | NM_VMAP_TARGET_PSRAM0;
    cfg->target_size[0] = S3_PHYS_SIZE;
    cfg->target_size[1] = S3_PHYS_SIZE;
    cfg->pool = pool;
    cfg->pool_len = pool_len;
    cfg->backend = &esp32s3_backend;
    cfg->backend_ctx = m;
}
