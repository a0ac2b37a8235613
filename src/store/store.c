/*
 * The module store (docs/store.md is the normative layout and protocol).
 *
 * Partition: data blocks [0, data_blocks) hold extents, one per module;
 * the last 2 * meta_blocks blocks are two metadata areas. An area is an
 * array of fixed-size record slots: a HEADER (generation, geometry), a
 * snapshot of every installed module (one INSTALL record each), an END
 * record that makes the area valid, then the log: INSTALL, MOVE and REMOVE
 * records appended one per operation. Mount uses the valid area with the
 * highest generation and replays its snapshot and log.
 *
 * Commit points: an operation writes everything it needs (extent, read
 * back and verified) and then programs one record; only that record makes
 * it visible. When the log is full the live table is written to the other
 * area under generation + 1 and becomes current when its END record lands;
 * the old area stays intact until the compaction after that erases it.
 */
#include <string.h>

#include "loader/loader_internal.h"
#include "natmod/store.h"

/* Record types. */
enum { REC_HEADER = 1, REC_INSTALL = 2, REC_REMOVE = 3, REC_END = 4, REC_MOVE = 5, REC_WEAR = 7 };

/* WEAR record (snapshot only, right after the HEADER): erase counts of
 * WEAR_PER_REC consecutive groups of 2^shift blocks, 24 bits each. */
enum {
    W_SHIFT = 2,  /* u8: log2 of the blocks per group */
    W_COUNT = 3,  /* u8: counts in this record (1..WEAR_PER_REC) */
    W_FIRST = 4,  /* u32: first group */
    W_COUNTS = 8, /* WEAR_PER_REC x u24, then zeros up to R_RCRC */
};
#define WEAR_PER_REC 17u
#define WEAR_MAX 0xFFFFFFu

/* Record layout (64 bytes, the rest of a unit stays 0xFF). */
enum {
    R_TYPE = 0,    /* u8 */
    R_SKIPPED = 1, /* u8: torn slots right before this one, known to the writer */
    R_ARCH = 2,
    R_FLOAT = 3,
    R_SEQ = 4,     /* u32: record sequence (HEADER/END: the area generation) */
    R_NAME = 8,    /* 24 bytes, NUL-padded (HEADER: "NMST", u16 version) */
    R_START = 32,  /* HEADER: block_size;  END: snapshot record count */
    R_NBLOCKS = 36, /* HEADER: block_count */
    R_SIZE = 40,   /* HEADER: prog_size;   END: last sequence number */
    R_CRC = 44,    /* HEADER: align */
    R_SRC = 48,    /* HEADER: meta_blocks */
    R_RWADDR = 52,
    R_RWSIZE = 56,
    R_RCRC = 60,   /* nm_crc32 of bytes [0, 60) */
};
#define MAGIC "NMST"

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static int is_pow2(uint32_t v) {
    return v && !(v & (v - 1));
}
/* Generations and sequence numbers compare modulo 2^32. */
static int newer(uint32_t a, uint32_t b) {
    return (int32_t)(a - b) > 0;
}

/* Buffer layout: [unit0 | current unit | record/scratch], unit bytes each. */
static uint8_t *buf_unit0(const nm_store_t *s) {
    return s->cfg->buffer;
}
static uint8_t *buf_cur(const nm_store_t *s) {
    return s->cfg->buffer + s->unit;
}
static uint8_t *buf_rec(const nm_store_t *s) {
    return s->cfg->buffer + 2 * s->unit;
}

static int fail(nm_detail_t *d, int err, const char *what, const char *name) {
    nm_detail_set(d, "store: ");
    if (name) {
        nm_detail_cat(d, "module '");
        nm_detail_cat(d, name);
        nm_detail_cat(d, "': ");
    }
    nm_detail_cat(d, what);
    return err;
}

/* ---- device access ---- */

static int dev_read(const nm_store_t *s, uint32_t block, uint32_t off, void *b, uint32_t n) {
    return s->cfg->read(s->cfg, block, off, b, n) ? NM_ERR_IO : NM_OK;
}
static int dev_prog(const nm_store_t *s, uint32_t block, uint32_t off, const void *b, uint32_t n) {
    return s->cfg->prog(s->cfg, block, off, b, n) ? NM_ERR_IO : NM_OK;
}
static int dev_erase(const nm_store_t *s, uint32_t block) {
    if (s->cfg->erase(s->cfg, block)) {
        return NM_ERR_IO; /* not counted: a count may miss an erase, never invent one */
    }
    if (s->cfg->erase_counts) {
        s->cfg->erase_counts[block] += s->cfg->erase_counts[block] != UINT32_MAX;
    }
    return NM_OK;
}
static int dev_sync(const nm_store_t *s) {
    return s->cfg->sync && s->cfg->sync(s->cfg) ? NM_ERR_IO : NM_OK;
}

/* ---- records ---- */

static uint32_t area_block(const nm_store_t *s, unsigned area) {
    return s->data_blocks + area * s->meta_blocks;
}

static void slot_pos(const nm_store_t *s, unsigned area, uint32_t slot, uint32_t *block, uint32_t *off) {
    uint32_t byte = slot * s->unit;
    *block = area_block(s, area) + byte / s->cfg->block_size;
    *off = byte % s->cfg->block_size;
}

/* Slot states as read back. */
enum { SLOT_ERASED = 0, SLOT_VALID = 1, SLOT_BAD = 2 };

/* Read slot into buf_rec; classify it. */
static int slot_read(const nm_store_t *s, unsigned area, uint32_t slot, int *state) {
    uint32_t block, off;
    slot_pos(s, area, slot, &block, &off);
    uint8_t *r = buf_rec(s);
    int rc = dev_read(s, block, off, r, s->unit);
    if (rc != NM_OK) {
        return rc;
    }
    int erased = 1;
    for (uint32_t i = 0; i < s->unit; i++) {
        if (r[i] != 0xFF) {
            erased = 0;
            break;
        }
    }
    if (erased) {
        *state = SLOT_ERASED;
    } else {
        int ok = get32(r + R_RCRC) == nm_crc32(0, r, R_RCRC) && r[R_TYPE] >= REC_HEADER &&
                 (r[R_TYPE] <= REC_MOVE || r[R_TYPE] == REC_WEAR);
        for (uint32_t i = NM_STORE_REC_SIZE; ok && i < s->unit; i++) {
            ok = r[i] == 0xFF;
        }
        *state = ok ? SLOT_VALID : SLOT_BAD;
    }
    return NM_OK;
}

static void rec_begin(const nm_store_t *s, unsigned type) {
    uint8_t *r = buf_rec(s);
    memset(r, 0xFF, s->unit);
    memset(r, 0, NM_STORE_REC_SIZE);
    r[R_TYPE] = (uint8_t)type;
}

static void rec_entry(const nm_store_t *s, unsigned type, const nm_store_entry_t *e, uint32_t seq) {
    rec_begin(s, type);
    uint8_t *r = buf_rec(s);
    r[R_ARCH] = e->arch;
    r[R_FLOAT] = e->float_abi;
    put32(r + R_SEQ, seq);
    memcpy(r + R_NAME, e->name, strlen(e->name));
    put32(r + R_START, e->start);
    put32(r + R_NBLOCKS, e->n_blocks);
    put32(r + R_SIZE, e->size);
    put32(r + R_CRC, e->crc);
    put32(r + R_SRC, e->src_crc);
    put32(r + R_RWADDR, e->rw_addr);
    put32(r + R_RWSIZE, e->rw_size);
}

static int slot_write(nm_store_t *s, unsigned area, uint32_t slot) {
    uint8_t *r = buf_rec(s);
    put32(r + R_RCRC, nm_crc32(0, r, R_RCRC));
    uint32_t block, off;
    slot_pos(s, area, slot, &block, &off);
    return dev_prog(s, block, off, r, s->unit);
}

/* ---- the RAM table ---- */

static nm_store_entry_t *find_live(const nm_store_t *s, const char *name) {
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state == NM_STORE_LIVE && !strcmp(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

static nm_store_entry_t *free_slot(const nm_store_t *s, const nm_store_entry_t *except) {
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state == NM_STORE_FREE && e != except) {
            return e;
        }
    }
    return NULL;
}

static uint32_t count_state(const nm_store_t *s, unsigned state) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        n += s->cfg->entries[i].state == state;
    }
    return n;
}

/* Drop an entry from the flash view: a pinned one lingers as a zombie. */
static void retire(nm_store_entry_t *e) {
    e->state = e->pins ? NM_STORE_ZOMBIE : NM_STORE_FREE;
}

/* Apply one INSTALL/MOVE record (in buf_rec) to the table. */
static int apply_install(nm_store_t *s, const uint8_t *r, nm_detail_t *d) {
    char name[NM_STORE_NAME_MAX + 1];
    memcpy(name, r + R_NAME, NM_STORE_NAME_MAX);
    name[NM_STORE_NAME_MAX] = '\0';
    nm_store_entry_t *e = find_live(s, name);
    if (!e && !(e = free_slot(s, NULL))) {
        return fail(d, NM_ERR_NOMEM, "more modules than entries[] holds (raise max_entries)", NULL);
    }
    memset(e, 0, sizeof *e);
    memcpy(e->name, name, sizeof name);
    e->start = get32(r + R_START);
    e->n_blocks = get32(r + R_NBLOCKS);
    e->size = get32(r + R_SIZE);
    e->crc = get32(r + R_CRC);
    e->src_crc = get32(r + R_SRC);
    e->rw_addr = get32(r + R_RWADDR);
    e->rw_size = get32(r + R_RWSIZE);
    e->seq = get32(r + R_SEQ);
    e->arch = r[R_ARCH];
    e->float_abi = r[R_FLOAT];
    e->state = NM_STORE_LIVE;
    return NM_OK;
}

/* ---- geometry ---- */

static void set_align(nm_store_t *s, uint32_t align) {
    const nm_store_config_t *c = s->cfg;
    if (align < c->block_size) {
        align = c->block_size;
    }
    s->align_blocks = align / c->block_size;
    /* The first block whose mapped address is a multiple of align. */
    uint32_t mis = (uint32_t)(c->map_base % align);
    s->align_skew = mis ? (align - mis) / c->block_size : 0;
}

static int setup(nm_store_t *s, const nm_store_config_t *c, uint32_t meta_blocks, nm_detail_t *d) {
    memset(s, 0, sizeof *s);
    if (!c || !c->read || !c->prog || !c->erase || !c->entries || !c->max_entries || !c->buffer) {
        return fail(d, NM_ERR_INVAL, "config needs read, prog, erase, entries and buffer", NULL);
    }
    if (!is_pow2(c->block_size) || !is_pow2(c->prog_size) || c->prog_size > NM_STORE_MAX_PROG ||
        c->block_size < NM_STORE_UNIT(c->prog_size) || (c->align && !is_pow2(c->align))) {
        return fail(d, NM_ERR_INVAL,
                    "geometry: block and prog size must be powers of two, block >= max(prog, 64)",
                    NULL);
    }
    if (c->map_base % c->block_size) {
        return fail(d, NM_ERR_INVAL, "map_base is not block-aligned", NULL);
    }
    if (c->rw_size && !c->map_base) {
        return fail(d, NM_ERR_INVAL, "linked installs (rw_size > 0) need a memory-mapped store (map_base)",
                    NULL);
    }
    s->cfg = c;
    s->unit = NM_STORE_UNIT(c->prog_size);
    if (!meta_blocks) {
        /* Default: room for 128 records per area. */
        meta_blocks = (128u * s->unit + c->block_size - 1) / c->block_size;
    }
    if (c->block_count < 2u * meta_blocks + 1u || meta_blocks > 0xFFFFu) {
        return fail(d, NM_ERR_INVAL, "partition too small for two metadata areas and one data block",
                    NULL);
    }
    s->meta_blocks = meta_blocks;
    s->data_blocks = c->block_count - 2u * meta_blocks;
    uint64_t slots = (uint64_t)meta_blocks * c->block_size / s->unit;
    s->area_slots = slots > 0xFFFFFFu ? 0xFFFFFFu : (uint32_t)slots;
    if (s->area_slots < 4) {
        return fail(d, NM_ERR_INVAL, "metadata area holds fewer than 4 records", NULL);
    }
    /* The wear table takes at most a quarter of an area: one count per
     * block, or per group of 2^shift blocks in a big partition with small
     * areas (docs/store.md 7b). */
    for (s->wear_shift = 0;; s->wear_shift++) {
        uint32_t groups = (uint32_t)(((uint64_t)c->block_count + (1u << s->wear_shift) - 1) >> s->wear_shift);
        s->wear_records = (groups + WEAR_PER_REC - 1) / WEAR_PER_REC;
        if (s->wear_records <= s->area_slots / 4 || s->wear_records <= 1) {
            break;
        }
    }
    set_align(s, c->align);
    return NM_OK;
}

/* ---- allocation ---- */

/* 1 if [start, start+n) overlaps the extent of an entry other than skip
 * (live entries, zombies: everything whose blocks are still needed). */
static int blocks_taken(const nm_store_t *s, uint32_t start, uint32_t n, const nm_store_entry_t *skip) {
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        const nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state != NM_STORE_FREE && e != skip && start < e->start + e->n_blocks &&
            e->start < start + n) {
            return 1;
        }
    }
    return 0;
}

static int extent_crc(const nm_store_t *s, uint32_t start, uint32_t size, uint32_t *crc,
                      uint32_t *hdr_crc, uint32_t *hdr_size);

/* In degraded mode (metadata was damaged), a block that starts a whole
 * module image may hold a module whose record was lost: keep it. Whole:
 * the magic, a size that fits in the data blocks from b, and the CRC its
 * header declares. (Not nm_image_parse_header on the 64-byte header: it
 * checks the string table too, so it refuses the header of every real
 * module.) The image is read only when the magic is there. */
static int orphan_at(const nm_store_t *s, uint32_t b) {
    uint8_t h[NM_HEADER_SIZE];
    if (dev_read(s, b, 0, h, sizeof h) != NM_OK || memcmp(h, NM_MAGIC, 4) != 0) {
        return 0;
    }
    uint32_t size = get32(h + 16), crc, hcrc, hsize;
    if (size < NM_HEADER_SIZE || (uint64_t)size > (uint64_t)(s->data_blocks - b) * s->cfg->block_size) {
        return 0;
    }
    return extent_crc(s, b, size, &crc, &hcrc, &hsize) == NM_OK && crc == hcrc;
}

static int holds_orphan(const nm_store_t *s, uint32_t start, uint32_t n) {
    if (!s->degraded) {
        return 0;
    }
    for (uint32_t b = start; b < start + n; b++) {
        if (orphan_at(s, b)) {
            return 1;
        }
    }
    return 0;
}

static int run_ok(const nm_store_t *s, uint32_t p, uint32_t n, const nm_store_entry_t *skip) {
    return p + n <= s->data_blocks && !blocks_taken(s, p, n, skip) && !holds_orphan(s, p, n);
}

static uint32_t first_aligned(const nm_store_t *s, uint32_t from) {
    if (from <= s->align_skew) {
        return s->align_skew;
    }
    uint32_t k = (from - s->align_skew + s->align_blocks - 1) / s->align_blocks;
    return s->align_skew + k * s->align_blocks;
}

/* Lowest aligned p in [lo, hi) where n blocks fit (skip's blocks count as
 * free), or UINT32_MAX. */
static uint32_t fit_lowest(const nm_store_t *s, uint32_t lo, uint32_t hi, uint32_t n,
                           const nm_store_entry_t *skip) {
    for (uint32_t p = first_aligned(s, lo); p < hi && p + n <= s->data_blocks; p += s->align_blocks) {
        if (run_ok(s, p, n, skip)) {
            return p;
        }
    }
    return UINT32_MAX;
}

/* The erase count of the most worn of n blocks from p. */
static uint32_t wear_of(const nm_store_t *s, uint32_t p, uint32_t n) {
    uint32_t w = 0;
    for (uint32_t b = p; b < p + n; b++) {
        w = s->cfg->erase_counts[b] > w ? s->cfg->erase_counts[b] : w;
    }
    return w;
}

/* Next fit from the cursor, wrapping: consecutive installs walk the whole
 * partition, which spreads erases over every block. With erase counts,
 * the first fit in that order whose most worn block is least worn
 * (defragmentation wears the ends: installs then go elsewhere). */
static uint32_t alloc_extent(const nm_store_t *s, uint32_t n) {
    uint32_t p = fit_lowest(s, s->cursor, s->data_blocks, n, NULL);
    p = p != UINT32_MAX ? p : fit_lowest(s, 0, s->data_blocks, n, NULL);
    if (p == UINT32_MAX || !s->cfg->erase_counts) {
        return p;
    }
    uint32_t best = p, best_w = wear_of(s, p, n);
    for (int pass = 0; pass < 2 && best_w; pass++) {
        uint32_t q = first_aligned(s, pass ? 0 : s->cursor), end = pass ? s->cursor : s->data_blocks;
        for (; q < end && q + n <= s->data_blocks && best_w; q += s->align_blocks) {
            uint32_t w = wear_of(s, q, n);
            if (w < best_w && run_ok(s, q, n, NULL)) {
                best = q, best_w = w;
            }
        }
    }
    return best;
}

/* Largest free run that starts aligned, in blocks. */
static uint32_t largest_free(const nm_store_t *s) {
    uint32_t best = 0;
    for (uint32_t p = first_aligned(s, 0); p < s->data_blocks;) {
        uint32_t q = p;
        while (q < s->data_blocks && !blocks_taken(s, q, 1, NULL)) {
            q++;
        }
        best = q - p > best ? q - p : best;
        p = first_aligned(s, q > p ? q : p + 1);
    }
    return best;
}

/* RW slot for a linked install: first fit in the arena, avoiding every
 * entry still holding one (live, zombie). 0 and NM_ERR_NOSPC if none. */
static int alloc_rw(const nm_store_t *s, uint32_t size, uint32_t align, uint32_t *out) {
    const nm_store_config_t *c = s->cfg;
    uint32_t base = (uint32_t)c->rw_base;
    uint32_t a = align < 8 ? 8 : align;
    uint32_t sz = size ? size : 1;
    uint32_t p = (base + a - 1) & ~(a - 1);
    for (uint32_t guard = 0; guard <= c->max_entries; guard++) {
        if ((uint64_t)p + sz > (uint64_t)base + c->rw_size) {
            return NM_ERR_NOSPC;
        }
        const nm_store_entry_t *hit = NULL;
        for (uint32_t i = 0; i < c->max_entries && !hit; i++) {
            const nm_store_entry_t *e = &c->entries[i];
            uint32_t esz = e->rw_size ? e->rw_size : 1;
            if (e->state != NM_STORE_FREE && e->rw_addr && p < e->rw_addr + esz && e->rw_addr < p + sz) {
                hit = e;
            }
        }
        if (!hit) {
            *out = p;
            return NM_OK;
        }
        uint32_t next = hit->rw_addr + (hit->rw_size ? hit->rw_size : 1);
        p = (next + a - 1) & ~(a - 1);
    }
    return NM_ERR_NOSPC;
}

/* ---- staged extent writes: whole program units, the first one last ---- */

static void stage_begin(nm_store_t *s, uint32_t start_block, uint32_t limit) {
    s->st_block = start_block;
    s->st_limit = limit;
    s->st_off = 0; /* byte offset of the unit in buf_cur (0: none yet) */
    s->st_fill = 0;
    s->st_err = NM_OK;
    memset(buf_unit0(s), 0xFF, s->unit);
    memset(buf_cur(s), 0xFF, s->unit);
}

static int stage_prog(nm_store_t *s, uint32_t off, const uint8_t *b) {
    uint32_t bs = s->cfg->block_size;
    return dev_prog(s, s->st_block + off / bs, off % bs, b, s->unit);
}

/* nm_write_fn: ascending body writes, then the header at offset 0. */
static int stage_write(void *ctx, uint32_t off, const void *data, size_t len) {
    nm_store_t *s = ctx;
    const uint8_t *p = data;
    if (s->st_err || off > s->st_limit || len > s->st_limit - off) {
        s->st_err = s->st_err ? s->st_err : NM_ERR_CORRUPT;
        return -1;
    }
    while (len) {
        uint32_t u = off - off % s->unit;
        uint32_t in = off - u, n = s->unit - in < len ? s->unit - in : (uint32_t)len;
        if (u == 0) {
            memcpy(buf_unit0(s) + in, p, n);
        } else {
            if (s->st_fill && u != s->st_off) {
                if (u < s->st_off) {
                    s->st_err = NM_ERR_INVAL; /* not ascending: a programming bug */
                    return -1;
                }
                if ((s->st_err = stage_prog(s, s->st_off, buf_cur(s))) != NM_OK) {
                    return -1;
                }
                memset(buf_cur(s), 0xFF, s->unit);
                s->st_fill = 0;
            }
            s->st_off = u;
            s->st_fill = 1;
            memcpy(buf_cur(s) + in, p, n);
        }
        off += n, p += n, len -= n;
    }
    return 0;
}

static int stage_end(nm_store_t *s) {
    if (s->st_err) {
        return s->st_err;
    }
    if (s->st_fill && (s->st_err = stage_prog(s, s->st_off, buf_cur(s))) != NM_OK) {
        return s->st_err;
    }
    return stage_prog(s, 0, buf_unit0(s));
}

/* CRC of the image in an extent as nm_image_crc defines it, read through
 * the device; also returns the header's crc and size fields and, if meta is
 * not NULL, nm_image_meta_crc (header and all after text; the text size is
 * the header's, clamped to the image) from the same reads. */
static int extent_sums(const nm_store_t *s, uint32_t start, uint32_t size, uint32_t *crc,
                       uint32_t *meta, uint32_t *hdr_crc, uint32_t *hdr_size) {
    uint8_t *b = buf_rec(s);
    uint32_t bs = s->cfg->block_size, c = 0, mc = 0, text_end = size;
    for (uint32_t pos = 0; pos < size;) {
        uint32_t n = size - pos < s->unit ? size - pos : s->unit;
        int rc = dev_read(s, start + pos / bs, pos % bs, b, n);
        if (rc != NM_OK) {
            return rc;
        }
        if (pos == 0) {
            if (n < NM_HEADER_SIZE) {
                return NM_ERR_CORRUPT;
            }
            *hdr_crc = get32(b + 12);
            *hdr_size = get32(b + 16);
            uint32_t text = get32(b + 20);
            text_end = text < size - NM_HEADER_SIZE ? NM_HEADER_SIZE + text : size;
            c = nm_crc32(0, b, 12);
            c = nm_crc32(c, b + 16, n - 16);
            mc = meta ? nm_crc32(0, b, NM_HEADER_SIZE) : 0;
        } else {
            c = nm_crc32(c, b, n);
        }
        if (meta && pos + n > text_end) { /* the part of this unit after text */
            uint32_t from = pos > text_end ? pos : text_end;
            mc = nm_crc32(mc, b + (from - pos), pos + n - from);
        }
        pos += n;
    }
    *crc = c;
    if (meta) {
        *meta = mc;
    }
    return NM_OK;
}

static int extent_crc(const nm_store_t *s, uint32_t start, uint32_t size, uint32_t *crc,
                      uint32_t *hdr_crc, uint32_t *hdr_size) {
    return extent_sums(s, start, size, crc, NULL, hdr_crc, hdr_size);
}

/* Read back what was written: the image must be whole and its CRC right.
 * If so, *meta is its meta CRC, for the loads that follow (nm_store_load). */
static int verify_extent(const nm_store_t *s, const nm_store_entry_t *e, uint32_t *meta) {
    uint32_t crc = 0, hcrc = 0, hsize = 0;
    int rc = extent_sums(s, e->start, e->size, &crc, meta, &hcrc, &hsize);
    if (rc != NM_OK) {
        return rc;
    }
    return crc == e->crc && hcrc == e->crc && hsize == e->size ? NM_OK : NM_ERR_CRC;
}

static int erase_run(nm_store_t *s, uint32_t start, uint32_t n) {
    for (uint32_t b = start; b < start + n; b++) {
        int rc = dev_erase(s, b);
        if (rc != NM_OK) {
            return rc;
        }
    }
    return NM_OK;
}

/* ---- metadata areas ---- */

static int write_header(nm_store_t *s, unsigned area, uint32_t generation) {
    rec_begin(s, REC_HEADER);
    uint8_t *r = buf_rec(s);
    put32(r + R_SEQ, generation);
    memcpy(r + R_NAME, MAGIC, 4);
    r[R_NAME + 4] = NM_STORE_VERSION & 0xFF;
    r[R_NAME + 5] = NM_STORE_VERSION >> 8;
    put32(r + R_START, s->cfg->block_size);
    put32(r + R_NBLOCKS, s->cfg->block_count);
    put32(r + R_SIZE, s->cfg->prog_size);
    put32(r + R_CRC, s->cfg->align);
    put32(r + R_SRC, s->meta_blocks);
    return slot_write(s, area, 0);
}

/* ---- wear records (docs/store.md 7b) ---- */

static uint32_t wear_groups(const nm_store_t *s) {
    return (uint32_t)(((uint64_t)s->cfg->block_count + (1u << s->wear_shift) - 1) >> s->wear_shift);
}

/* 1 if r (a valid slot) is a well-formed WEAR record for this geometry. */
static int wear_ok(const nm_store_t *s, const uint8_t *r) {
    uint32_t first = get32(r + W_FIRST), n = r[W_COUNT];
    if (r[R_TYPE] != REC_WEAR || r[R_SKIPPED] || r[W_SHIFT] != s->wear_shift || n == 0 ||
        n > WEAR_PER_REC || first % WEAR_PER_REC || first >= wear_groups(s) || n > wear_groups(s) - first) {
        return 0;
    }
    for (uint32_t i = W_COUNTS + 3 * n; i < R_RCRC; i++) {
        if (r[i]) {
            return 0;
        }
    }
    return 1;
}

/* Mount: set the counts of the groups a snapshot WEAR record covers. */
static void wear_load(nm_store_t *s, const uint8_t *r) {
    if (!wear_ok(s, r)) {
        s->wear_bad++; /* ignored: those counts restart from the log */
        return;
    }
    uint32_t *ec = s->cfg->erase_counts, first = get32(r + W_FIRST);
    for (uint32_t g = 0; ec && g < r[W_COUNT]; g++) {
        const uint8_t *p = r + W_COUNTS + 3 * g;
        uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
        uint64_t lo = (uint64_t)(first + g) << s->wear_shift, hi = lo + (1u << s->wear_shift);
        for (uint64_t b = lo; b < hi && b < s->cfg->block_count; b++) {
            ec[b] = v;
        }
    }
}

/* Mount: a logged INSTALL or MOVE erased its extent's blocks once. */
static void wear_add(nm_store_t *s, uint32_t start, uint32_t n) {
    uint32_t *ec = s->cfg->erase_counts;
    for (uint32_t b = start; ec && b < s->data_blocks && b - start < n; b++) {
        ec[b] += ec[b] != UINT32_MAX;
    }
}

/* The WEAR records of an area being written (slots 1..wear_records): from
 * erase_counts (a group's count is its least erased block's), or without
 * it copied from the other area (zeros where it has none). The erase of
 * [ex, ex + ex_n) is left out: the record about to be appended to this
 * area's log counts it at mount. */
static int write_wear(nm_store_t *s, unsigned area, uint32_t ex, uint32_t ex_n) {
    const uint32_t *ec = s->cfg->erase_counts;
    for (uint32_t i = 0; i < s->wear_records; i++) {
        int st = SLOT_BAD, rc;
        if (!ec && (rc = slot_read(s, area ^ 1u, 1 + i, &st)) != NM_OK) {
            return rc;
        }
        uint8_t *r = buf_rec(s);
        if (ec || st != SLOT_VALID || !wear_ok(s, r) || get32(r + W_FIRST) != i * WEAR_PER_REC) {
            uint32_t first = i * WEAR_PER_REC, n = wear_groups(s) - first;
            n = n < WEAR_PER_REC ? n : WEAR_PER_REC;
            rec_begin(s, REC_WEAR);
            r[W_SHIFT] = s->wear_shift;
            r[W_COUNT] = (uint8_t)n;
            put32(r + W_FIRST, first);
            for (uint32_t g = 0; ec && g < n; g++) {
                uint32_t lo = (first + g) << s->wear_shift, v = UINT32_MAX;
                for (uint32_t b = lo; b < s->cfg->block_count && b - lo < (1u << s->wear_shift); b++) {
                    uint32_t e = ec[b] - (b >= ex && b - ex < ex_n && ec[b]);
                    v = e < v ? e : v;
                }
                v = v > WEAR_MAX ? WEAR_MAX : v;
                r[W_COUNTS + 3 * g] = (uint8_t)v;
                r[W_COUNTS + 3 * g + 1] = (uint8_t)(v >> 8);
                r[W_COUNTS + 3 * g + 2] = (uint8_t)(v >> 16);
            }
        }
        if ((rc = slot_write(s, area, 1 + i)) != NM_OK) {
            return rc;
        }
    }
    return NM_OK;
}

/* Write the live table into the other area under the next generation; it
 * becomes the current area once its END record is durable. */
static int compact(nm_store_t *s, nm_detail_t *d) {
    unsigned other = s->area ^ 1u;
    uint32_t live = count_state(s, NM_STORE_LIVE);
    if (live + s->wear_records + 3 > s->area_slots) {
        return fail(d, NM_ERR_NOSPC, "metadata area full: more modules than it holds (format with more meta blocks)",
                    NULL);
    }
    int rc = erase_run(s, area_block(s, other), s->meta_blocks);
    uint32_t gen = s->generation + 1, slot = 1 + s->wear_records;
    /* commit() holds the record to append in buf_cur: an INSTALL or MOVE
     * there erased its extent, which the new log will count. */
    const uint8_t *pend = buf_cur(s);
    int counted = pend[R_TYPE] == REC_INSTALL || pend[R_TYPE] == REC_MOVE;
    if (rc == NM_OK && (rc = write_header(s, other, gen)) == NM_OK) {
        rc = write_wear(s, other, counted ? get32(pend + R_START) : 0, counted ? get32(pend + R_NBLOCKS) : 0);
    }
    for (uint32_t i = 0; rc == NM_OK && i < s->cfg->max_entries; i++) {
        const nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state == NM_STORE_LIVE) {
            rec_entry(s, REC_INSTALL, e, e->seq);
            rc = slot_write(s, other, slot++);
        }
    }
    if (rc == NM_OK && (rc = dev_sync(s)) == NM_OK) {
        rec_begin(s, REC_END);
        put32(buf_rec(s) + R_SEQ, gen);
        put32(buf_rec(s) + R_START, slot - 1);
        put32(buf_rec(s) + R_SIZE, s->seq);
        rc = slot_write(s, other, slot);
    }
    if (rc == NM_OK) {
        rc = dev_sync(s);
    }
    if (rc != NM_OK) {
        return fail(d, rc, "metadata compaction failed (device error); the store is unchanged", NULL);
    }
    s->area = (uint8_t)other;
    s->generation = gen;
    s->log_next = slot + 1;
    s->skipped = 0;
    return NM_OK;
}

/* Append the record in buf_rec (built by the caller, sequence set here):
 * the commit point of every operation. A slot that is not erased (a torn
 * append, or a bit flipped in the erased log) is never programmed: it is
 * skipped, and the record declares how many it skipped. */
static int commit(nm_store_t *s, nm_detail_t *d) {
    memcpy(buf_cur(s), buf_rec(s), s->unit); /* compact and slot_read reuse buf_rec */
    int rc = NM_OK;
    for (uint32_t guard = 0; guard <= s->area_slots; guard++) {
        if (s->log_next >= s->area_slots && (rc = compact(s, d)) != NM_OK) {
            return rc;
        }
        int st;
        if ((rc = slot_read(s, s->area, s->log_next, &st)) != NM_OK) {
            return fail(d, rc, "cannot read the metadata log", NULL);
        }
        if (st == SLOT_ERASED) {
            break;
        }
        s->log_next++, s->skipped++;
    }
    memcpy(buf_rec(s), buf_cur(s), s->unit);
    uint8_t *r = buf_rec(s);
    r[R_SKIPPED] = (uint8_t)(s->skipped > 255 ? 255 : s->skipped);
    put32(r + R_SEQ, s->seq + 1);
    rc = dev_sync(s); /* what the record describes is durable first */
    if (rc == NM_OK) {
        rc = slot_write(s, s->area, s->log_next);
        if (rc != NM_OK) {
            /* Torn, or untouched (an erased slot here would end the log
             * for mount): the next commit compacts into the other area. */
            s->log_next = s->area_slots;
        } else {
            rc = dev_sync(s);
            s->log_next++;
            s->skipped = 0;
        }
    }
    if (rc != NM_OK) {
        return fail(d, rc, "metadata write failed (device error or power loss)", NULL);
    }
    s->seq++;
    return NM_OK;
}

/* ---- mount ---- */

typedef struct area_info {
    int header_ok; /* a header with this geometry */
    int usable;    /* header + END: a complete snapshot */
    uint32_t generation, end_slot, last_seq;
    uint32_t align; /* as formatted */
} area_info_t;

static int header_matches(const nm_store_t *s, const uint8_t *r) {
    const nm_store_config_t *c = s->cfg;
    return r[R_TYPE] == REC_HEADER && !memcmp(r + R_NAME, MAGIC, 4) &&
           (r[R_NAME + 4] | r[R_NAME + 5] << 8) == NM_STORE_VERSION && get32(r + R_START) == c->block_size &&
           get32(r + R_NBLOCKS) == c->block_count && get32(r + R_SIZE) == c->prog_size &&
           get32(r + R_SRC) == s->meta_blocks;
}

/* Header and END of an area. The snapshot must be contiguous valid
 * records ending in END; a damaged snapshot record is counted and skipped
 * (bounded by the area size), so one flipped bit costs one module's
 * record, not the area. */
static int probe_area(nm_store_t *s, unsigned area, area_info_t *ai) {
    memset(ai, 0, sizeof *ai);
    int st, rc = slot_read(s, area, 0, &st);
    if (rc != NM_OK) {
        return rc;
    }
    if (st != SLOT_VALID || !header_matches(s, buf_rec(s))) {
        return NM_OK;
    }
    ai->header_ok = 1;
    ai->generation = get32(buf_rec(s) + R_SEQ);
    ai->align = get32(buf_rec(s) + R_CRC);
    for (uint32_t slot = 1; slot < s->area_slots; slot++) {
        if ((rc = slot_read(s, area, slot, &st)) != NM_OK) {
            return rc;
        }
        if (st == SLOT_ERASED) {
            return NM_OK; /* compaction cut short: no END */
        }
        const uint8_t *r = buf_rec(s);
        if (st == SLOT_VALID && r[R_TYPE] == REC_END && get32(r + R_SEQ) == ai->generation &&
            get32(r + R_START) == slot - 1) {
            ai->usable = 1;
            ai->end_slot = slot;
            ai->last_seq = get32(r + R_SIZE);
            return NM_OK;
        }
    }
    return NM_OK;
}

/* Check each entry against the partition and the others, and its extent's
 * header against its record: cheap (one header read per module). */
static int check_entries(nm_store_t *s) {
    const nm_store_config_t *c = s->cfg;
    for (uint32_t i = 0; i < c->max_entries; i++) {
        nm_store_entry_t *e = &c->entries[i];
        if (e->state != NM_STORE_LIVE) {
            continue;
        }
        int bad = !e->name[0] || e->n_blocks == 0 || e->start >= s->data_blocks ||
                  e->n_blocks > s->data_blocks - e->start ||
                  (e->start - s->align_skew) % s->align_blocks != 0 || e->start < s->align_skew ||
                  e->size < NM_HEADER_SIZE || (uint64_t)e->size > (uint64_t)e->n_blocks * c->block_size ||
                  (uint64_t)e->size <= (uint64_t)(e->n_blocks - 1) * c->block_size;
        for (uint32_t j = 0; !bad && j < c->max_entries; j++) {
            const nm_store_entry_t *o = &c->entries[j];
            /* Overlap can only come from damaged metadata: the older record lost. */
            bad = o != e && o->state == NM_STORE_LIVE && e->start < o->start + o->n_blocks &&
                  o->start < e->start + e->n_blocks && newer(o->seq, e->seq);
        }
        if (!bad) {
            uint8_t h[NM_HEADER_SIZE];
            int rc = dev_read(s, e->start, 0, h, sizeof h);
            if (rc != NM_OK) {
                return rc;
            }
            bad = memcmp(h, NM_MAGIC, 4) != 0 || get32(h + 12) != e->crc || get32(h + 16) != e->size;
            if ((get32(h + 8) & NM_FLAG_XIP_LINKED) && c->rw_size) {
                e->flags |= NM_STORE_F_LINKED; /* a move must relink it (copy mode only copies) */
            }
        }
        if (bad) {
            e->flags |= NM_STORE_F_DAMAGED;
            if (e->start >= s->data_blocks || e->n_blocks > s->data_blocks - e->start) {
                e->n_blocks = 0; /* outside the partition: it holds no block */
            }
        }
    }
    return NM_OK;
}

static int mount_at(nm_store_t *s, nm_detail_t *d) {
    area_info_t ai[2];
    int rc;
    for (unsigned a = 0; a < 2; a++) {
        if ((rc = probe_area(s, a, &ai[a])) != NM_OK) {
            return fail(d, rc, "cannot read the metadata areas", NULL);
        }
    }
    int pick = -1;
    for (unsigned a = 0; a < 2; a++) {
        if (ai[a].usable && (pick < 0 || newer(ai[a].generation, ai[pick].generation))) {
            pick = (int)a;
        }
    }
    if (pick < 0) {
        return ai[0].header_ok || ai[1].header_ok
                   ? fail(d, NM_ERR_CORRUPT, "no intact metadata area (damaged store)", NULL)
                   : fail(d, NM_ERR_CORRUPT, "no store here (not formatted, or another geometry)", NULL);
    }
    const nm_store_config_t *c = s->cfg;
    memset(c->entries, 0, c->max_entries * sizeof *c->entries);
    if (c->erase_counts) {
        memset(c->erase_counts, 0, c->block_count * sizeof *c->erase_counts);
    }
    s->area = (uint8_t)pick;
    s->generation = ai[pick].generation;
    s->seq = ai[pick].last_seq;
    if (!c->align && is_pow2(ai[pick].align) && ai[pick].align <= (1u << 30)) {
        set_align(s, ai[pick].align); /* the alignment the store was formatted with */
    }
    /* Replay: the snapshot, then the log. An invalid slot followed by a
     * record that declares it skipped is a torn write the writer knew of;
     * any other invalid slot before the end of the log is damage. */
    uint32_t pending = 0, last = 0, cursor_seq = 0;
    int have_cursor = 0, junk = 0;
    for (uint32_t slot = 1; slot < s->area_slots; slot++) {
        int st;
        if ((rc = slot_read(s, s->area, slot, &st)) != NM_OK) {
            return fail(d, rc, "cannot read the metadata log", NULL);
        }
        if (slot == ai[pick].end_slot) {
            s->bad_records += pending; /* damaged snapshot records */
            pending = 0;
            last = slot;
            continue;
        }
        if (st == SLOT_ERASED) {
            if (slot > ai[pick].end_slot) {
                /* The log ends here. Anything written after an erased slot
                 * was never committed by this protocol (damage): count it,
                 * and make the next commit compact so no record ever lands
                 * behind it. */
                for (uint32_t t = slot + 1; t < s->area_slots; t++) {
                    int st2;
                    if ((rc = slot_read(s, s->area, t, &st2)) != NM_OK) {
                        return fail(d, rc, "cannot read the metadata log", NULL);
                    }
                    if (st2 != SLOT_ERASED) {
                        s->bad_records++;
                        junk = 1;
                    }
                }
                break;
            }
            pending++;
            continue;
        }
        if (st == SLOT_BAD) {
            pending++;
            continue;
        }
        const uint8_t *r = buf_rec(s);
        uint32_t type = r[R_TYPE], seq = get32(r + R_SEQ);
        if (slot > ai[pick].end_slot) {
            s->bad_records += pending > r[R_SKIPPED] ? pending - r[R_SKIPPED] : 0;
        } else {
            s->bad_records += pending; /* damaged snapshot records (none is ever skipped) */
        }
        pending = 0;
        last = slot;
        if (type == REC_WEAR) {
            if (slot < ai[pick].end_slot) {
                wear_load(s, r);
            } else {
                s->bad_records++; /* only a snapshot holds WEAR records */
            }
            continue;
        }
        if (newer(seq, s->seq)) {
            s->seq = seq;
        }
        if (type == REC_INSTALL || type == REC_MOVE) {
            if ((rc = apply_install(s, r, d)) != NM_OK) {
                return rc;
            }
            if (slot > ai[pick].end_slot) {
                wear_add(s, get32(r + R_START), get32(r + R_NBLOCKS));
            }
            if (type == REC_INSTALL && slot > ai[pick].end_slot && (!have_cursor || newer(seq, cursor_seq))) {
                have_cursor = 1;
                cursor_seq = seq;
                s->cursor = get32(r + R_START) + get32(r + R_NBLOCKS);
            }
        } else if (type == REC_REMOVE && slot > ai[pick].end_slot) {
            char name[NM_STORE_NAME_MAX + 1];
            memcpy(name, r + R_NAME, NM_STORE_NAME_MAX);
            name[NM_STORE_NAME_MAX] = '\0';
            nm_store_entry_t *e = find_live(s, name);
            if (e) {
                e->state = NM_STORE_FREE;
            }
        } else {
            s->bad_records++; /* a HEADER/END where none belongs */
        }
    }
    /* Slots after the last record that are not erased: torn appends. The
     * next record goes after them and declares them. */
    s->log_next = last + 1 + pending;
    s->skipped = pending;
    if (s->log_next > s->area_slots || junk) {
        s->log_next = s->area_slots;
    }
    if (!have_cursor) {
        /* No install since the snapshot: continue after the newest entry. */
        for (uint32_t i = 0; i < c->max_entries; i++) {
            const nm_store_entry_t *e = &c->entries[i];
            if (e->state == NM_STORE_LIVE && (!have_cursor || newer(e->seq, cursor_seq))) {
                have_cursor = 1;
                cursor_seq = e->seq;
                s->cursor = e->start + e->n_blocks;
            }
        }
    }
    if (s->cursor >= s->data_blocks) {
        s->cursor = 0;
    }
    s->degraded = s->bad_records > 0;
    if ((rc = check_entries(s)) != NM_OK) {
        return fail(d, rc, "cannot read module headers", NULL);
    }
    s->mounted = 1;
    nm_detail_set(d, "");
    return NM_OK;
}

int nm_store_mount(nm_store_t *s, const nm_store_config_t *cfg, nm_detail_t *d) {
    if (!s) {
        return fail(d, NM_ERR_INVAL, "NULL store", NULL);
    }
    int rc = setup(s, cfg, cfg ? cfg->meta_blocks : 0, d);
    if (rc == NM_OK) {
        rc = mount_at(s, d);
    }
    if (!cfg || cfg->meta_blocks || (rc != NM_ERR_CORRUPT && rc != NM_ERR_INVAL) || !cfg->block_count) {
        return rc;
    }
    /* Formatted with another meta_blocks: find its header (rare path). */
    for (uint32_t mb = 1; 2 * mb < cfg->block_count; mb++) {
        nm_store_t t;
        if (setup(&t, cfg, mb, NULL) != NM_OK) {
            continue;
        }
        for (unsigned a = 0; a < 2; a++) {
            int st;
            if (slot_read(&t, a, 0, &st) == NM_OK && st == SLOT_VALID && header_matches(&t, buf_rec(&t))) {
                *s = t;
                return mount_at(s, d);
            }
        }
    }
    return rc;
}

int nm_store_format(nm_store_t *s, const nm_store_config_t *cfg, nm_detail_t *d) {
    if (!s) {
        return fail(d, NM_ERR_INVAL, "NULL store", NULL);
    }
    if (s->mounted && s->cfg == cfg && cfg) {
        for (uint32_t i = 0; i < cfg->max_entries; i++) {
            if (cfg->entries[i].state != NM_STORE_FREE && cfg->entries[i].pins) {
                return fail(d, NM_ERR_BUSY, "is loaded (pinned): unload it before formatting",
                            cfg->entries[i].name);
            }
        }
    }
    int rc = setup(s, cfg, cfg ? cfg->meta_blocks : 0, d);
    if (rc != NM_OK) {
        return rc;
    }
    /* Atomic over an existing store of this layout: the new, empty area gets
     * a higher generation and is written where the current one is not. */
    area_info_t ai[2];
    unsigned target = 0;
    uint32_t gen = 1;
    for (unsigned a = 0; a < 2; a++) {
        if ((rc = probe_area(s, a, &ai[a])) != NM_OK) {
            return fail(d, rc, "cannot read the metadata areas", NULL);
        }
        if (ai[a].header_ok && newer(ai[a].generation + 1, gen)) {
            gen = ai[a].generation + 1;
        }
    }
    if (ai[0].usable && (!ai[1].usable || newer(ai[0].generation, ai[1].generation))) {
        target = 1;
    }
    if ((rc = erase_run(s, area_block(s, target), s->meta_blocks)) == NM_OK &&
        (rc = write_header(s, target, gen)) == NM_OK && (rc = write_wear(s, target, 0, 0)) == NM_OK &&
        (rc = dev_sync(s)) == NM_OK) {
        rec_begin(s, REC_END);
        put32(buf_rec(s) + R_SEQ, gen);
        put32(buf_rec(s) + R_START, s->wear_records);
        put32(buf_rec(s) + R_SIZE, 0);
        if ((rc = slot_write(s, target, 1 + s->wear_records)) == NM_OK) {
            rc = dev_sync(s);
        }
    }
    if (rc != NM_OK) {
        return fail(d, rc, "format failed (device error)", NULL);
    }
    /* The old area can no longer win; erase it so nothing of the old store
     * can come back if the new area is ever damaged. */
    if ((rc = erase_run(s, area_block(s, target ^ 1u), s->meta_blocks)) != NM_OK) {
        return fail(d, rc, "format: cannot erase the old metadata area", NULL);
    }
    return mount_at(s, d);
}

/* ---- operations ---- */

static int check_name(const char *name, nm_detail_t *d) {
    size_t n = 0;
    while (n <= NM_STORE_NAME_MAX && name[n]) {
        unsigned char ch = (unsigned char)name[n];
        if (ch <= ' ' || ch >= 0x7F || ch == '/') {
            return fail(d, NM_ERR_INVAL, "name has a space, slash or non-printable character", NULL);
        }
        n++;
    }
    if (n == 0 || n > NM_STORE_NAME_MAX) {
        nm_detail_set(d, "store: module name must be 1 to ");
        nm_detail_dec(d, NM_STORE_NAME_MAX);
        nm_detail_cat(d, " characters");
        return NM_ERR_INVAL;
    }
    return NM_OK;
}

static int need_mounted(const nm_store_t *s, nm_detail_t *d) {
    return s && s->mounted ? NM_OK : fail(d, NM_ERR_INVAL, "not mounted", NULL);
}

/* n bytes at offset off of e's extent (which may cross blocks). */
static int extent_read(const nm_store_t *s, const nm_store_entry_t *e, uint32_t off, uint8_t *b, uint32_t n) {
    uint32_t bs = s->cfg->block_size;
    while (n) {
        uint32_t in = bs - off % bs, k = n < in ? n : in;
        int rc = dev_read(s, e->start + off / bs, off % bs, b, k);
        if (rc != NM_OK) {
            return rc;
        }
        off += k;
        b += k;
        n -= k;
    }
    return NM_OK;
}

/* The module name (its first bytes: NM_STORE_NAME_MAX + 1 are enough to
 * compare with a store-length name) and the version an installed image
 * carries (0 without a trailer). */
static int installed_id(const nm_store_t *s, const nm_store_entry_t *e, char name[NM_STORE_NAME_MAX + 2],
                        uint32_t *version) {
    uint8_t h[NM_HEADER_SIZE];
    *version = 0;
    int rc = extent_read(s, e, 0, h, sizeof h);
    if (rc != NM_OK) {
        return rc;
    }
    uint32_t flags = get32(h + 8), size = get32(h + 16);
    /* the string table starts after text, data, relocations, imports, exports */
    uint64_t strtab = (uint64_t)NM_HEADER_SIZE + get32(h + 20) + get32(h + 24) + get32(h + 56) +
                      (uint64_t)(h[42] | h[43] << 8) * NM_IMPORT_SIZE + (uint64_t)(h[44] | h[45] << 8) * NM_EXPORT_SIZE;
    uint32_t strtab_size = get32(h + 60), n = NM_STORE_NAME_MAX + 1;
    if (strtab + strtab_size > size || size > e->size) {
        return NM_ERR_CORRUPT;
    }
    n = strtab_size < n ? strtab_size : n;
    if ((rc = extent_read(s, e, (uint32_t)strtab, (uint8_t *)name, n)) != NM_OK) {
        return rc;
    }
    name[n] = '\0';
    if (!(flags & NM_FLAG_TRAILER)) {
        return NM_OK;
    }
    uint32_t back = NM_TRAILER_SIZE + ((flags & NM_FLAG_XIP_LINKED) ? NM_XIP_RECORD_SIZE : 0);
    if (size < NM_HEADER_SIZE + back) {
        return NM_ERR_CORRUPT;
    }
    uint8_t v[4];
    if ((rc = extent_read(s, e, size - back, v, 4)) != NM_OK) {
        return rc;
    }
    *version = get32(v);
    return NM_OK;
}

/* installed_id's name (at most NM_STORE_NAME_MAX + 1 bytes) against a
 * module's whole name: equal if the name fits and matches exactly. */
static int same_module(const char *mod, const char *name) {
    unsigned i = 0;
    while (i <= NM_STORE_NAME_MAX && mod[i] && mod[i] == name[i]) {
        i++;
    }
    return i <= NM_STORE_NAME_MAX ? mod[i] == name[i] : 0;
}

/* Rollback protection under a signature policy: no module may go in with
 * a lower version than an installed one of the same module name, or than
 * the entry it replaces. */
static int rollback_check(const nm_store_t *s, const nm_image_t *img, const char *name, nm_detail_t *d) {
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        const nm_store_entry_t *e = &s->cfg->entries[i];
        char mod[NM_STORE_NAME_MAX + 2];
        uint32_t have;
        if (e->state != NM_STORE_LIVE || installed_id(s, e, mod, &have) != NM_OK) {
            continue; /* unreadable: `check` reports it; it cannot outrank anything */
        }
        if (strcmp(e->name, name) != 0 && !same_module(mod, img->strtab)) {
            continue;
        }
        if (img->version < have) {
            nm_detail_set(d, "module '");
            nm_detail_cat(d, img->strtab);
            nm_detail_cat(d, "' version ");
            nm_detail_dec(d, img->version);
            nm_detail_cat(d, " is older than installed '");
            nm_detail_cat(d, e->name);
            nm_detail_cat(d, "' version ");
            nm_detail_dec(d, have);
            nm_detail_cat(d, " (rollback refused)");
            return NM_ERR_TRUST;
        }
    }
    return NM_OK;
}

int nm_store_install(nm_store_t *s, const void *buf, size_t len, const char *name,
                     const nm_store_entry_t **out, nm_detail_t *d) {
    int rc = need_mounted(s, d);
    if (rc != NM_OK) {
        return rc;
    }
    const nm_store_config_t *c = s->cfg;
    if (!c->loader) {
        return fail(d, NM_ERR_INVAL, "install needs the board's loader config", NULL);
    }
    nm_image_t img;
    /* The board's slice, CRC, arch and float ABI checked; imports resolved
     * now so a module that could never load is not installed. */
    if ((rc = nmld_verify(c->loader, buf, len, &img, d)) != NM_OK ||
        (rc = nmld_resolve(c->loader, &img, d)) != NM_OK) {
        return rc;
    }
    if (img.flags & NM_FLAG_XIP_LINKED) {
        return fail(d, NM_ERR_XIP, "already XIP-linked: install its source slice", img.strtab);
    }
    /* The signature policy, before anything is written: the slice as built
     * is verified here (nm_xip_link would too, but copy mode does not link). */
    if ((rc = nm_trust_check(c->loader, &img, d)) != NM_OK) {
        return rc;
    }
    if (!name) {
        name = img.strtab;
    }
    if (c->loader->n_trusted_keys && (rc = rollback_check(s, &img, name, d)) != NM_OK) {
        return rc;
    }
    if ((rc = check_name(name, d)) != NM_OK) {
        return rc;
    }
    uint32_t size = img.image_size, rw_size = 0, rw_align = 1, rw_addr = 0;
    if (c->rw_size) {
        if ((rc = nm_xip_size(c->loader, img.base, img.image_size, &size, &rw_size, &rw_align, d)) != NM_OK) {
            return rc;
        }
        if (alloc_rw(s, rw_size, rw_align, &rw_addr) != NM_OK) {
            return fail(d, NM_ERR_NOSPC, "no room in the RW arena for its data + bss", name);
        }
    } else if (!(img.flags & NM_FLAG_RW_PCREL)) {
        return fail(d, NM_ERR_XIP, "needs install-time linking, but this store has no RW arena", name);
    }
    nm_store_entry_t *old = find_live(s, name);
    nm_store_entry_t *e = free_slot(s, NULL);
    if (!e) {
        return fail(d, NM_ERR_NOSPC, "entries[] is full (raise max_entries)", name);
    }
    if (!old && count_state(s, NM_STORE_LIVE) + s->wear_records + 4 > s->area_slots) {
        return fail(d, NM_ERR_NOSPC, "metadata area full (format with more meta blocks)", name);
    }
    uint32_t n = (uint32_t)(((uint64_t)size + c->block_size - 1) / c->block_size);
    uint32_t start = alloc_extent(s, n);
    if (start == UINT32_MAX) {
        nm_detail_set(d, "store: module '");
        nm_detail_cat(d, name);
        nm_detail_cat(d, "': no free run of ");
        nm_detail_dec(d, n);
        nm_detail_cat(d, " blocks (largest ");
        nm_detail_dec(d, largest_free(s));
        nm_detail_cat(d, "; remove or defragment)");
        return NM_ERR_NOSPC;
    }
    if ((rc = erase_run(s, start, n)) != NM_OK) {
        return fail(d, rc, "erase failed", name);
    }
    stage_begin(s, start, n * c->block_size);
    if (c->rw_size) {
        uintptr_t at = c->map_base + (uintptr_t)start * c->block_size;
        rc = nm_xip_link(c->loader, img.base, img.image_size, at, rw_addr, stage_write, s, NULL, d);
        if (rc != NM_OK) {
            return s->st_err ? fail(d, s->st_err, "writing the extent failed", name) : rc;
        }
    } else if (stage_write(s, NM_HEADER_SIZE, img.base + NM_HEADER_SIZE, img.image_size - NM_HEADER_SIZE) ||
               stage_write(s, 0, img.base, NM_HEADER_SIZE)) {
        return fail(d, s->st_err, "writing the extent failed", name);
    }
    if ((rc = stage_end(s)) != NM_OK || (rc = dev_sync(s)) != NM_OK) {
        return fail(d, rc, "writing the extent failed", name);
    }
    nm_store_entry_t ne;
    memset(&ne, 0, sizeof ne);
    memcpy(ne.name, name, strlen(name));
    ne.start = start;
    ne.n_blocks = n;
    ne.size = size;
    ne.src_crc = img.crc32;
    ne.rw_addr = rw_addr;
    ne.rw_size = rw_size;
    ne.arch = img.arch;
    ne.float_abi = img.float_abi;
    ne.flags = (uint8_t)(NM_STORE_F_VERIFIED | (c->rw_size ? NM_STORE_F_LINKED : 0));
    {
        uint32_t crc, hcrc, hsize;
        if ((rc = extent_sums(s, start, size, &crc, &ne.meta_crc, &hcrc, &hsize)) != NM_OK) {
            return fail(d, rc, "reading the extent back failed", name);
        }
        if (crc != hcrc || hsize != size) {
            return fail(d, NM_ERR_IO, "extent reads back wrong (flash program failed)", name);
        }
        ne.crc = crc;
    }
    rec_entry(s, REC_INSTALL, &ne, 0);
    if ((rc = commit(s, d)) != NM_OK) {
        return rc;
    }
    ne.seq = s->seq;
    ne.state = NM_STORE_LIVE;
    if (old) {
        retire(old);
    }
    *e = ne;
    s->cursor = start + n < s->data_blocks ? start + n : 0;
    if (out) {
        *out = e;
    }
    nm_detail_set(d, "");
    return NM_OK;
}

int nm_store_remove(nm_store_t *s, const char *name, nm_detail_t *d) {
    int rc = need_mounted(s, d);
    if (rc != NM_OK) {
        return rc;
    }
    nm_store_entry_t *e = name ? find_live(s, name) : NULL;
    if (!e) {
        return fail(d, NM_ERR_NOENT, "not installed", name ? name : "(null)");
    }
    if (e->pins) {
        return fail(d, NM_ERR_BUSY, "is loaded (pinned): unload it first", name);
    }
    rec_entry(s, REC_REMOVE, e, 0);
    if ((rc = commit(s, d)) != NM_OK) {
        return rc;
    }
    e->state = NM_STORE_FREE;
    nm_detail_set(d, "");
    return NM_OK;
}

const nm_store_entry_t *nm_store_find(const nm_store_t *s, const char *name) {
    return s && s->mounted && name ? find_live(s, name) : NULL;
}

const nm_store_entry_t *nm_store_next(const nm_store_t *s, uint32_t *pos) {
    if (!s || !s->mounted || !pos || *pos > s->cfg->max_entries) {
        return NULL;
    }
    /* Order: (start block, slot index); *pos is the slot index + 1 of the
     * entry returned last (0 before the first), so entries that share a
     * start (damaged metadata) are all listed and nothing wraps. */
    const nm_store_entry_t *ents = s->cfg->entries, *last = *pos ? &ents[*pos - 1] : NULL, *best = NULL;
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        const nm_store_entry_t *e = &ents[i];
        if (e->state != NM_STORE_LIVE) {
            continue;
        }
        if (last && (e->start < last->start || (e->start == last->start && e <= last))) {
            continue;
        }
        if (!best || e->start < best->start) {
            best = e;
        }
    }
    if (best) {
        *pos = (uint32_t)(best - ents) + 1;
    }
    return best;
}

uint32_t nm_store_offset(const nm_store_t *s, const nm_store_entry_t *e) {
    return e->start * s->cfg->block_size;
}

uintptr_t nm_store_addr(const nm_store_t *s, const nm_store_entry_t *e) {
    return s->cfg->map_base + (uintptr_t)e->start * s->cfg->block_size;
}

int nm_store_pin(nm_store_t *s, const char *name, const nm_store_entry_t **out, nm_detail_t *d) {
    int rc = need_mounted(s, d);
    if (rc != NM_OK) {
        return rc;
    }
    nm_store_entry_t *e = name ? find_live(s, name) : NULL;
    if (!e) {
        return fail(d, NM_ERR_NOENT, "not installed", name ? name : "(null)");
    }
    if (!(e->flags & (NM_STORE_F_VERIFIED | NM_STORE_F_DAMAGED))) {
        rc = verify_extent(s, e, &e->meta_crc);
        if (rc == NM_ERR_CRC) {
            e->flags |= NM_STORE_F_DAMAGED;
        } else if (rc != NM_OK) {
            return fail(d, rc, "cannot read its extent", name);
        } else {
            e->flags |= NM_STORE_F_VERIFIED;
        }
    }
    if (e->flags & NM_STORE_F_DAMAGED) {
        return fail(d, NM_ERR_CRC, "damaged in the store (CRC or header mismatch): install it again", name);
    }
    if (e->pins == 0xFFFFu) {
        return fail(d, NM_ERR_BUSY, "pinned too many times", name);
    }
    e->pins++;
    if (out) {
        *out = e;
    }
    return NM_OK;
}

void nm_store_unpin(nm_store_t *s, const nm_store_entry_t *ce) {
    if (!s || !ce || ce < s->cfg->entries || ce >= s->cfg->entries + s->cfg->max_entries) {
        return;
    }
    nm_store_entry_t *e = &s->cfg->entries[ce - s->cfg->entries];
    if (e->pins && --e->pins == 0 && e->state == NM_STORE_ZOMBIE) {
        e->state = NM_STORE_FREE;
    }
}

int nm_store_load(nm_store_t *s, const char *name, nm_module_t *m, nm_detail_t *d) {
    const nm_store_entry_t *e;
    int rc = nm_store_pin(s, name, &e, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (!s->cfg->map_base || !s->cfg->loader) {
        nm_store_unpin(s, e);
        return fail(d, NM_ERR_INVAL, "nm_store_load needs map_base and a loader config", name);
    }
    /* The pin left it verified in this mount (whole CRC, meta CRC recorded):
     * the load checks all but the text again, not the whole CRC. */
    rc = nm_load_xip_verified(s->cfg->loader, m, (const void *)nm_store_addr(s, e), e->size,
                              e->meta_crc, d);
    if (rc == NM_ERR_CRC) {
        /* Changed since it was verified: the next pin checks the whole
         * image again (and marks it damaged). */
        s->cfg->entries[e - s->cfg->entries].flags &= (uint8_t)~NM_STORE_F_VERIFIED;
    }
    if (rc != NM_OK) {
        nm_store_unpin(s, e);
    }
    return rc;
}

int nm_store_unload(nm_store_t *s, nm_module_t *m) {
    if (!s || !m) {
        return NM_ERR_INVAL;
    }
    uintptr_t at = (uintptr_t)m->image;
    const nm_store_entry_t *hit = NULL;
    for (uint32_t i = 0; i < s->cfg->max_entries && !hit; i++) {
        const nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state != NM_STORE_FREE && e->pins && at == nm_store_addr(s, e)) {
            hit = e;
        }
    }
    int rc = nm_unload(m);
    nm_store_unpin(s, hit);
    return rc;
}

/* Copy (copy mode) or relink (linked mode) e to dest, verify, commit. */
static int move_extent(nm_store_t *s, nm_store_entry_t *e, uint32_t dest, nm_detail_t *d) {
    const nm_store_config_t *c = s->cfg;
    int rc = erase_run(s, dest, e->n_blocks);
    if (rc != NM_OK) {
        return fail(d, rc, "defrag: erase failed", e->name);
    }
    stage_begin(s, dest, e->n_blocks * c->block_size);
    if (e->flags & NM_STORE_F_LINKED) {
        uintptr_t from = nm_store_addr(s, e), to = c->map_base + (uintptr_t)dest * c->block_size;
        rc = nm_xip_link(c->loader, (const void *)from, e->size, to, e->rw_addr, stage_write, s, NULL, d);
        if (rc != NM_OK) {
            return s->st_err ? fail(d, s->st_err, "defrag: writing failed", e->name) : rc;
        }
    } else {
        /* Body first, header unit last, through the same staging. */
        uint8_t *b = buf_rec(s);
        uint32_t bs = c->block_size;
        for (uint32_t pos = NM_HEADER_SIZE; pos < e->size;) {
            uint32_t n = e->size - pos < s->unit ? e->size - pos : s->unit;
            n = n < bs - pos % bs ? n : bs - pos % bs;
            if ((rc = dev_read(s, e->start + pos / bs, pos % bs, b, n)) != NM_OK || stage_write(s, pos, b, n)) {
                return fail(d, rc ? rc : s->st_err, "defrag: copy failed", e->name);
            }
            pos += n;
        }
        if ((rc = dev_read(s, e->start, 0, b, NM_HEADER_SIZE)) != NM_OK || stage_write(s, 0, b, NM_HEADER_SIZE)) {
            return fail(d, rc ? rc : s->st_err, "defrag: copy failed", e->name);
        }
    }
    if ((rc = stage_end(s)) != NM_OK || (rc = dev_sync(s)) != NM_OK) {
        return fail(d, rc, "defrag: writing failed", e->name);
    }
    uint32_t crc, meta, hcrc, hsize;
    if ((rc = extent_sums(s, dest, e->size, &crc, &meta, &hcrc, &hsize)) != NM_OK) {
        return fail(d, rc, "defrag: read-back failed", e->name);
    }
    if (crc != hcrc || hsize != e->size || (!(e->flags & NM_STORE_F_LINKED) && crc != e->crc)) {
        return fail(d, NM_ERR_IO, "defrag: the copy reads back wrong; the module stays where it was", e->name);
    }
    nm_store_entry_t ne = *e;
    ne.start = dest;
    ne.crc = crc;
    rec_entry(s, REC_MOVE, &ne, 0);
    if ((rc = commit(s, d)) != NM_OK) {
        return rc;
    }
    e->start = dest;
    e->crc = crc;
    e->meta_crc = meta;
    e->seq = s->seq;
    e->flags |= NM_STORE_F_VERIFIED;
    return NM_OK;
}

/* Highest aligned p >= lo where n blocks fit (skip's blocks count as
 * free), or UINT32_MAX. */
static uint32_t fit_top(const nm_store_t *s, uint32_t lo, uint32_t n, const nm_store_entry_t *skip) {
    if (n > s->data_blocks) {
        return UINT32_MAX;
    }
    uint32_t first = first_aligned(s, 0), top = s->data_blocks - n;
    if (top < first) {
        return UINT32_MAX;
    }
    for (uint32_t p = first + (top - first) / s->align_blocks * s->align_blocks;; p -= s->align_blocks) {
        if (p < lo) {
            return UINT32_MAX;
        }
        if (run_ok(s, p, n, skip)) {
            return p;
        }
        if (p < first + s->align_blocks) {
            return UINT32_MAX;
        }
    }
}

/* The next movable extent in packing order after prev (NULL: the first):
 * ascending (start, slot) packing down, descending packing up. */
static nm_store_entry_t *defrag_next(const nm_store_t *s, const nm_store_entry_t *prev, int up) {
    nm_store_entry_t *best = NULL, *ents = s->cfg->entries;
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        nm_store_entry_t *e = &ents[i];
        if (e->state != NM_STORE_LIVE || e->pins || (e->flags & NM_STORE_F_DAMAGED)) {
            continue; /* pinned extents never move; damaged ones stay for inspection */
        }
        /* key (start, slot): before prev's (up) or after it (down) */
        int after = !prev || e->start > prev->start || (e->start == prev->start && e > prev);
        int before = !prev || e->start < prev->start || (e->start == prev->start && e < prev);
        if (up ? !before : !after) {
            continue;
        }
        if (!best || (up ? (e->start > best->start || (e->start == best->start && e > best))
                         : (e->start < best->start || (e->start == best->start && e < best)))) {
            best = e;
        }
    }
    return best;
}

/* Where to park e when its target overlaps it: a free run on the other
 * side of it (above packing down, below packing up), the least worn one
 * with erase counts, else the furthest. UINT32_MAX if none. */
static uint32_t park_at(const nm_store_t *s, const nm_store_entry_t *e, int up) {
    uint32_t n = e->n_blocks, best = UINT32_MAX, best_w = UINT32_MAX;
    for (uint32_t p = first_aligned(s, 0); p + n <= s->data_blocks; p += s->align_blocks) {
        if ((up ? p + n > e->start : p < e->start + e->n_blocks) || !run_ok(s, p, n, NULL)) {
            continue;
        }
        uint32_t w = s->cfg->erase_counts ? wear_of(s, p, n) : 0;
        if (best == UINT32_MAX || w < best_w || (w == best_w && !up)) {
            best = p, best_w = w; /* ties: the lowest packing up, the highest packing down */
        }
    }
    return best;
}

/* Wear-aware packing direction (docs/store.md 7): toward the end whose
 * blocks (as many as are in use) have fewer erases, unless that moves more
 * than 1/8 more bytes than the other way. Without erase counts: down (the
 * original policy). The bytes are an estimate: an extent moves if a free
 * block lies on its far side. */
static int defrag_pick_up(const nm_store_t *s) {
    const nm_store_config_t *c = s->cfg;
    uint32_t lo = UINT32_MAX, hi = UINT32_MAX, used = 0;
    for (uint32_t b = 0; b < s->data_blocks; b++) {
        if (!blocks_taken(s, b, 1, NULL)) {
            lo = lo == UINT32_MAX ? b : lo;
            hi = b;
        }
    }
    if (lo == UINT32_MAX) {
        return 0;
    }
    uint64_t cost_down = 0, cost_up = 0, wear_down = 0, wear_up = 0;
    for (uint32_t i = 0; i < c->max_entries; i++) {
        const nm_store_entry_t *e = &c->entries[i];
        if (e->state == NM_STORE_FREE) {
            continue;
        }
        used += e->n_blocks;
        if (e->state == NM_STORE_LIVE && !e->pins && !(e->flags & NM_STORE_F_DAMAGED)) {
            cost_down += lo < e->start ? e->size : 0;
            cost_up += hi >= e->start + e->n_blocks ? e->size : 0;
        }
    }
    if (!c->erase_counts) {
        return 0;
    }
    used = used < s->data_blocks ? used : s->data_blocks;
    for (uint32_t b = 0; b < used; b++) {
        wear_down += c->erase_counts[b];
        wear_up += c->erase_counts[s->data_blocks - 1 - b];
    }
    return wear_up < wear_down && cost_up * 8 <= cost_down * 9;
}

int nm_store_defrag(nm_store_t *s, uint32_t budget, nm_store_defrag_result_t *r, nm_detail_t *d) {
    nm_store_defrag_result_t local;
    if (!r) {
        r = &local;
    }
    memset(r, 0, sizeof *r);
    int rc = need_mounted(s, d);
    if (rc != NM_OK) {
        return rc;
    }
    const nm_store_config_t *c = s->cfg;
    /* The direction is chosen once per defragmentation and kept over the
     * budgeted calls that finish it, so they converge. */
    if (!s->defrag_busy) {
        s->defrag_up = (uint8_t)defrag_pick_up(s);
        s->defrag_busy = 1;
    }
    int up = s->defrag_up;
    /* Each round moves the first extent (in packing order: lowest first
     * packing down, highest first packing up) that can go further that
     * way; every move puts an extent strictly further (or parks it to make
     * that possible), so the rounds are bounded; the guard is belt and
     * braces. */
    for (uint32_t round = 0; round < 4u * c->max_entries + 4u; round++) {
        int moved = 0, blocked = 0;
        nm_store_entry_t *e = NULL;
        while (!moved && (e = defrag_next(s, e, up)) != NULL) {
            uint32_t n = e->n_blocks;
            uint32_t t = up ? fit_top(s, e->start + 1, n, e) : fit_lowest(s, 0, e->start, n, e);
            if (t == UINT32_MAX || (up ? t <= e->start : t >= e->start)) {
                continue;
            }
            /* A copy never overlaps its source (the source stays valid until
             * the commit), so a target that overlaps the extent itself needs
             * two moves: park it in a free run on the other side, then bring
             * it back. */
            uint32_t direct = up ? fit_top(s, e->start + 1, n, NULL) : fit_lowest(s, 0, e->start, n, NULL);
            uint32_t park = UINT32_MAX, hops = 1;
            if (direct == UINT32_MAX) {
                park = park_at(s, e, up);
                if (park == UINT32_MAX) {
                    continue; /* no room to park: it stays (the pins and sizes allow no better) */
                }
                hops = 2;
            }
            if (budget && r->moved_blocks + hops * n > budget) {
                blocked = 1;
                break;
            }
            for (uint32_t h = 0; h < hops; h++) {
                uint32_t to = direct;
                if (hops == 2) {
                    to = h == 0 ? park : up ? fit_top(s, e->start + 1, n, NULL) : fit_lowest(s, 0, e->start, n, NULL);
                    if (to == UINT32_MAX) {
                        break;
                    }
                }
                if ((rc = move_extent(s, e, to, d)) != NM_OK) {
                    return rc;
                }
                r->moves++;
                r->moved_blocks += n;
                r->moved_bytes += e->size;
            }
            moved = 1;
        }
        if (blocked) {
            nm_detail_set(d, "");
            return NM_OK; /* budget spent: call again */
        }
        if (!moved) {
            r->done = 1;
            s->defrag_busy = 0;
            break;
        }
    }
    nm_detail_set(d, "");
    return NM_OK;
}

int nm_store_check(nm_store_t *s, nm_detail_t *d) {
    int rc = need_mounted(s, d);
    if (rc != NM_OK) {
        return rc;
    }
    int damaged = 0;
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state != NM_STORE_LIVE) {
            continue;
        }
        /* A verified entry keeps its meta CRC: the whole CRC matching again
         * means no byte changed, so a periodic check costs one CRC pass. */
        rc = (e->flags & NM_STORE_F_DAMAGED)
                 ? NM_ERR_CRC
                 : verify_extent(s, e, (e->flags & NM_STORE_F_VERIFIED) ? NULL : &e->meta_crc);
        if (rc == NM_ERR_CRC) {
            e->flags = (uint8_t)((e->flags | NM_STORE_F_DAMAGED) & ~NM_STORE_F_VERIFIED);
            if (!damaged++) {
                fail(d, NM_ERR_CRC, "damaged (CRC or header mismatch)", e->name);
            }
        } else if (rc != NM_OK) {
            return fail(d, rc, "cannot read its extent", e->name);
        } else {
            e->flags |= NM_STORE_F_VERIFIED;
        }
    }
    if (!damaged) {
        nm_detail_set(d, "");
    }
    return damaged;
}

void nm_store_stat(const nm_store_t *s, nm_store_stats_t *st) {
    memset(st, 0, sizeof *st);
    if (!s || !s->cfg) {
        return;
    }
    const nm_store_config_t *c = s->cfg;
    st->block_size = c->block_size;
    st->block_count = c->block_count;
    st->data_blocks = s->data_blocks;
    st->meta_blocks_total = 2 * s->meta_blocks;
    for (uint32_t i = 0; i < c->max_entries; i++) {
        const nm_store_entry_t *e = &c->entries[i];
        if (e->state == NM_STORE_FREE) {
            continue;
        }
        st->used_blocks += e->n_blocks;
        st->rw_used += e->rw_size;
        st->n_pinned += e->pins != 0; /* a replaced module still running counts too */
        if (e->state == NM_STORE_ZOMBIE) {
            st->n_zombies++;
            continue;
        }
        st->n_modules++;
        st->used_bytes += e->size;
        st->n_damaged += (e->flags & NM_STORE_F_DAMAGED) != 0;
    }
    /* Damaged entries may overlap (that is how some are found): clamp. */
    st->free_blocks = st->used_blocks < s->data_blocks ? s->data_blocks - st->used_blocks : 0;
    st->largest_free = s->mounted ? largest_free(s) : 0;
    st->generation = s->generation;
    st->seq = s->seq;
    st->log_used = s->log_next;
    st->log_slots = s->area_slots;
    st->bad_records = s->bad_records;
    st->rw_size = c->rw_size;
    st->wear_records = s->wear_records;
    st->wear_bad = s->wear_bad;
    if (c->erase_counts) {
        uint64_t data_total = 0;
        uint32_t data_max = 0;
        for (uint32_t b = 0; b < c->block_count; b++) {
            uint32_t v = c->erase_counts[b];
            st->erase_total += v;
            if (v > st->erase_max) {
                st->erase_max = v;
                st->erase_max_block = b;
            }
            if (b < s->data_blocks) {
                data_total += v;
                data_max = v > data_max ? v : data_max;
            }
        }
        if (data_total) {
            st->erase_data_max_milli = (uint32_t)((uint64_t)data_max * 1000u * s->data_blocks / data_total);
        }
    }
}

int nm_store_block_info(const nm_store_t *s, uint32_t block, nm_store_block_info_t *out, nm_detail_t *d) {
    int rc = need_mounted(s, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (!out || block >= s->cfg->block_count) {
        return fail(d, NM_ERR_INVAL, "block_info: block out of range", NULL);
    }
    memset(out, 0, sizeof *out);
    if (block >= s->data_blocks) {
        uint32_t rel = block - s->data_blocks;
        out->kind = NM_STORE_BLOCK_META;
        out->area = (uint8_t)(rel / s->meta_blocks);
        out->active = out->area == s->area;
        out->index = rel % s->meta_blocks;
        /* The slots of this block (a unit divides a block: both are powers of two). */
        uint64_t first = (uint64_t)out->index * (s->cfg->block_size / s->unit);
        uint64_t end = first + s->cfg->block_size / s->unit;
        end = end < s->area_slots ? end : s->area_slots;
        for (uint64_t slot = first; slot < end; slot++) {
            int st;
            if ((rc = slot_read(s, out->area, (uint32_t)slot, &st)) != NM_OK) {
                return fail(d, rc, "block_info: cannot read a metadata slot", NULL);
            }
            out->slots_valid += st == SLOT_VALID;
            out->slots_bad += st == SLOT_BAD;
            out->slots_erased += st == SLOT_ERASED;
        }
        return NM_OK;
    }
    /* Live and zombie entries both hold blocks; where damaged entries
     * overlap, the newest record wins, as at mount (check_entries). */
    const nm_store_entry_t *hit = NULL;
    for (uint32_t i = 0; i < s->cfg->max_entries; i++) {
        const nm_store_entry_t *e = &s->cfg->entries[i];
        if (e->state != NM_STORE_FREE && block >= e->start && block - e->start < e->n_blocks &&
            (!hit || newer(e->seq, hit->seq))) {
            hit = e;
        }
    }
    if (hit) {
        out->kind = NM_STORE_BLOCK_MODULE;
        out->entry = hit;
        out->index = block - hit->start;
    } else if (s->degraded && orphan_at(s, block)) {
        out->kind = NM_STORE_BLOCK_KEPT; /* what holds_orphan keeps from allocation */
    }
    return NM_OK;
}
