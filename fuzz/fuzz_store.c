/*
 * libFuzzer target for the module store: mount, list and load checks over
 * arbitrary flash contents, then writes on top of them.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_store.c src/format/[*].c src/loader/[*].c \
 *       src/store/store.c src/store/bd_emu.c
 *   ./a.out -max_total_time=60 tests/corpus/store
 *
 * Input: byte 0 picks the geometry (bits 0-1) and options (bit 2: mount
 * with meta_blocks 0, the search path; bit 3: entries[] of 3; bit 4: check
 * before pinning; bits 5-7: the defrag budget). The rest is the device
 * image, metadata areas first (area 0 then area 1, the last 2 * meta_blocks
 * blocks of the partition), then the data blocks from block 0; short input
 * is padded with 0xFF (erased flash), long input truncated. Every input runs
 * twice: as it is, and with every record CRC and image CRC made right (and
 * INSTALL/MOVE records pointed at the image header they name), since random
 * mutations almost never keep a CRC valid. The store gets erase_counts (the
 * fixture's), so WEAR records (type 7, docs/store.md 7b) in a snapshot are
 * parsed into it, and malformed ones counted; the seed g0-wear.bin holds a
 * compacted area with its WEAR records.
 *
 * Each run: mount; list every entry (nm_store_next) and check the listing;
 * nm_store_stat; pin each entry, parse and verify its extent with the
 * loader (nm_image_parse, nmld_verify, nmld_resolve, nm_xip_size; module
 * code is never run: no nm_load, nm_load_xip or nm_store_load); nm_store_check;
 * then, with the first pinnable entry kept pinned: remove of it (must be
 * busy), install of a small valid module, replace of the pinned one,
 * remove, defrag; the pinned extent must not move or change, and a remount
 * must succeed. If the first mount fails, format and write instead.
 * Throughout, the device must never see a program over programmed bytes or
 * an out-of-range access (emu.violations == 0).
 *
 * The store bugs this target found are listed above known_bug(); all are
 * fixed and their inputs are seeds.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/store/store_fixture.h"
#include "loader/loader_internal.h"
#include "natmod/format.h"

#define CHECK(cond)                                                                                           \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            __builtin_trap();                                                                                 \
        }                                                                                                     \
    } while (0)

static const sf_geom_t fz_geoms[4] = {
    /* 40 blocks: the default meta_blocks (16) fits, so option bit 2 reaches mount's search */
    {"512 B blocks, prog 16, 2-block areas", 512, 16, 40, 0, 2, 0},
    {"256 B blocks, prog 4, align 1 KB", 256, 4, 32, 1024, 2, 0},
    {"1 KB blocks, prog 8, linked (Thumb, RW arena)", 1024, 8, 8, 0, 1, 1},
    {"128 B blocks, prog 128 (unit = block)", 128, 128, 32, 0, 8, 0},
};

typedef struct fz_geo {
    sf_store_t *f;
    uint8_t *mod; /* a small valid module for this geometry's board */
    size_t mod_len;
} fz_geo_t;
static fz_geo_t fz[4];

static void setup_once(void) {
    static int done;
    if (done) {
        return;
    }
    for (unsigned g = 0; g < 4; g++) {
        fz[g].f = calloc(1, sizeof *fz[g].f);
        if (!fz[g].f || sf_open(fz[g].f, &fz_geoms[g]) != NM_OK ||
            sf_module(fz_geoms[g].linked, "fzmod", 42 + g, 300, &fz[g].mod, &fz[g].mod_len) != NM_OK) {
            abort();
        }
    }
    done = 1;
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* The device as a fresh, powered, counted-from-zero emulated flash holding
 * the input. */
static void load_device(sf_store_t *f, const sf_geom_t *g, const uint8_t *in, size_t n) {
    nm_bd_emu_t *e = &f->emu;
    size_t meta = (size_t)2 * g->meta_blocks * g->block_size, data = e->size - meta;
    memset(e->mem, 0xFF, e->size);
    size_t a = n < meta ? n : meta;
    memcpy(e->mem + data, in, a);
    if (n > meta) {
        memcpy(e->mem, in + meta, n - meta < data ? n - meta : data);
    }
    e->n_reads = e->bytes_read = e->n_progs = e->bytes_prog = e->n_erases = e->n_syncs = 0;
    e->violations = 0;
    memset(e->erase_counts, 0, e->block_count * sizeof *e->erase_counts);
    nm_bd_emu_power_on(e);
    e->ops = 0;
}

/* Make every CRC on the device right (see the top comment). */
static void fix_crcs(sf_store_t *f, const sf_geom_t *g) {
    uint8_t *mem = f->emu.mem;
    uint32_t bs = g->block_size, db = g->block_count - 2 * g->meta_blocks;
    uint32_t unit = NM_STORE_UNIT(g->prog_size);
    for (uint32_t b = 0; b < db; b++) {
        uint8_t *p = mem + (size_t)b * bs;
        uint32_t isz = rd32(p + 16);
        if (!memcmp(p, NM_MAGIC, 4) && isz >= NM_HEADER_SIZE && isz <= (db - b) * bs) {
            wr32(p + 12, nm_image_crc(p, isz));
        }
    }
    size_t slots = (size_t)2 * g->meta_blocks * bs / unit;
    for (size_t i = 0; i < slots; i++) {
        uint8_t *r = mem + (size_t)db * bs + i * unit;
        int erased = 1;
        for (uint32_t k = 0; k < NM_STORE_REC_SIZE && erased; k++) {
            erased = r[k] == 0xFF;
        }
        if (erased) {
            continue;
        }
        uint32_t start = rd32(r + 32);
        if ((r[0] == 2 || r[0] == 5) && start < db && !memcmp(mem + (size_t)start * bs, NM_MAGIC, 4)) {
            const uint8_t *h = mem + (size_t)start * bs;
            wr32(r + 40, rd32(h + 16)); /* size */
            wr32(r + 44, rd32(h + 12)); /* crc */
        }
        wr32(r + 60, nm_crc32(0, r, 60));
    }
}

/* Loader checks on a pinned extent: parse and verify only. */
static void inspect(sf_store_t *f, const nm_store_entry_t *e) {
    const uint8_t *at = f->emu.mem + nm_store_offset(&f->st, e);
    nm_image_t img;
    nm_detail_t d;
    CHECK(rd32(at + 12) == e->crc && rd32(at + 16) == e->size); /* what pin verified */
    if (nm_image_parse(at, e->size, &img, &d) == NM_OK) {
        CHECK(img.image_size == e->size);
    }
    if (nmld_verify(&f->lcfg, at, e->size, &img, &d) == NM_OK) {
        (void)nmld_resolve(&f->lcfg, &img, &d);
    }
    uint32_t size = 0, rw = 0, rw_align = 0;
    (void)nm_xip_size(&f->lcfg, at, e->size, &size, &rw, &rw_align, &d);
    CHECK(strnlen(d.msg, sizeof d.msg) < sizeof d.msg);
}

/* Store bugs this target found, all fixed (their inputs are in the seed
 * corpus as tests/corpus/store/bug*.bin):
 *  1. an entry at block 0xFFFFFFFF made nm_store_next wrap and list (and
 *     defrag loop) forever;
 *  2. two live entries with one start (damaged metadata) were listed once;
 *  3. a valid record behind an erased slot came back after the next append;
 *  4. a copy-mode store relinked an extent whose header says XIP-linked, from
 *     an address near 0 (SEGV).
 * The workarounds stay compiled out; -DFZ_STORE_LENIENT brings them back. */
#ifdef FZ_STORE_LENIENT
#define FZ_STRICT 0
#else
#define FZ_STRICT 1
#endif

static int known_bug(const sf_store_t *f) {
    for (uint32_t i = 0; !FZ_STRICT && i < f->cfg.max_entries; i++) {
        const nm_store_entry_t *e = &f->entries[i];
        if (e->state != NM_STORE_FREE && e->start == UINT32_MAX) {
            return 1; /* bug 1 */
        }
    }
    return 0;
}

/* Bug 4: a LINKED entry in a store without a mapped RW arena. */
static int linked_in_copy_mode(const sf_store_t *f) {
    for (uint32_t i = 0; !FZ_STRICT && !f->cfg.map_base && i < f->cfg.max_entries; i++) {
        const nm_store_entry_t *e = &f->entries[i];
        if (e->state != NM_STORE_FREE && (e->flags & NM_STORE_F_LINKED)) {
            return 1;
        }
    }
    return 0;
}

/* Bug 3: a valid record after the first erased slot of an area (as mount
 * classifies slots: erased = the whole unit 0xFF). */
static int records_beyond_gap(const sf_store_t *f, const sf_geom_t *g) {
    uint32_t unit = NM_STORE_UNIT(g->prog_size), db = g->block_count - 2 * g->meta_blocks;
    size_t slots = (size_t)g->meta_blocks * g->block_size / unit;
    for (unsigned a = 0; a < 2 && !FZ_STRICT; a++) {
        const uint8_t *area = f->emu.mem + ((size_t)db + (size_t)a * g->meta_blocks) * g->block_size;
        int gap = 0;
        for (size_t i = 1; i < slots; i++) {
            const uint8_t *r = area + i * unit;
            int erased = 1, pad = 1;
            for (uint32_t k = 0; k < unit; k++) {
                erased &= r[k] == 0xFF;
                pad &= k < NM_STORE_REC_SIZE || r[k] == 0xFF;
            }
            if (erased) {
                gap = 1;
            } else if (gap && pad && r[0] >= 1 && r[0] <= 5 && rd32(r + 60) == nm_crc32(0, r, 60)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Live entries with a start no other live entry of a lower index has. */
static uint32_t distinct_starts(const sf_store_t *f) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->cfg.max_entries; i++) {
        const nm_store_entry_t *e = &f->entries[i];
        int dup = 0;
        for (uint32_t j = 0; j < i && !dup && e->state == NM_STORE_LIVE; j++) {
            dup = f->entries[j].state == NM_STORE_LIVE && f->entries[j].start == e->start;
        }
        n += e->state == NM_STORE_LIVE && !dup;
    }
    return n;
}

/* The listing: ascending, bounded, consistent with find and stat. */
static uint32_t walk(sf_store_t *f) {
    nm_store_t *s = &f->st;
    uint32_t pos = 0, n = 0, last = 0;
    const nm_store_entry_t *e;
    while ((e = nm_store_next(s, &pos)) != NULL) {
        CHECK(++n <= f->cfg.max_entries);
        CHECK(n == 1 || e->start >= last);
        last = e->start;
        CHECK(e->state == NM_STORE_LIVE);
        CHECK(strnlen(e->name, sizeof e->name) < sizeof e->name);
        CHECK(nm_store_find(s, e->name) != NULL);
        if (!(e->flags & NM_STORE_F_DAMAGED)) {
            CHECK(e->n_blocks > 0 && e->start < s->data_blocks && e->n_blocks <= s->data_blocks - e->start);
            CHECK(e->size >= NM_HEADER_SIZE && e->size <= (uint64_t)e->n_blocks * f->cfg.block_size);
        }
    }
    nm_store_stats_t st;
    nm_store_stat(s, &st);
    CHECK(st.n_modules == n || (!FZ_STRICT && n == distinct_starts(f)));
    CHECK(st.log_used <= st.log_slots);
    CHECK(f->emu.violations == 0);
    return n;
}

/* nm_store_block_info over every block (natmod store map's walk): what it
 * says must agree with the store's own accounting. */
static void block_map(sf_store_t *f) {
    nm_store_t *s = &f->st;
    nm_detail_t d;
    uint32_t meta = 0;
    for (uint32_t b = 0; b < f->cfg.block_count; b++) {
        nm_store_block_info_t bi;
        int err = nm_store_block_info(s, b, &bi, &d);
        CHECK(err == NM_OK || err == NM_ERR_IO);
        CHECK(bi.kind <= NM_STORE_BLOCK_META);
        if (err == NM_OK && bi.kind == NM_STORE_BLOCK_MODULE) {
            CHECK(bi.entry != NULL);
            CHECK(bi.entry->flags & NM_STORE_F_DAMAGED || bi.index < bi.entry->n_blocks);
        }
        if (bi.kind == NM_STORE_BLOCK_META) {
            CHECK(bi.area <= 1);
            meta++;
        }
    }
    CHECK(nm_store_block_info(s, f->cfg.block_count, &(nm_store_block_info_t){0}, &d) == NM_ERR_INVAL);
    CHECK(meta + s->data_blocks == f->cfg.block_count);
    CHECK(f->emu.violations == 0);
}

static void run(unsigned gi, unsigned opts, const uint8_t *in, size_t n, int fixed) {
    fz_geo_t *z = &fz[gi];
    sf_store_t *f = z->f;
    const sf_geom_t *g = &fz_geoms[gi];
    nm_store_t *s = &f->st;
    nm_detail_t d;
    load_device(f, g, in, n);
    if (fixed) {
        fix_crcs(f, g);
    }
    int gap_records = records_beyond_gap(f, g);
    memset(f->entries, 0, sizeof f->entries);
    f->cfg.meta_blocks = (opts & 4) ? 0 : g->meta_blocks;
    f->cfg.max_entries = (opts & 8) ? 3 : SF_MAX_ENTRIES;
    int mounted = nm_store_mount(s, &f->cfg, &d) == NM_OK;
    CHECK(strnlen(d.msg, sizeof d.msg) < sizeof d.msg);
    CHECK(f->emu.violations == 0);
    if (mounted && known_bug(f)) {
        return;
    }
    if (!mounted) {
        f->cfg.meta_blocks = g->meta_blocks;
        if (nm_store_format(s, &f->cfg, &d) != NM_OK) {
            CHECK(f->emu.violations == 0);
            return;
        }
        CHECK(walk(f) == 0);
    }
    uint32_t listed = walk(f);
    if (opts & 16) {
        CHECK(nm_store_check(s, &d) >= 0);
    }
    block_map(f);
    /* Pin each entry (listing order), inspect, unpin; keep the first one
     * that pins for the writes below. */
    char names[SF_MAX_ENTRIES][NM_STORE_NAME_MAX + 1];
    uint32_t pos = 0, k = 0;
    const nm_store_entry_t *e;
    while ((e = nm_store_next(s, &pos)) != NULL && k < SF_MAX_ENTRIES) {
        memcpy(names[k++], e->name, sizeof names[0]);
    }
    CHECK(k == listed);
    const nm_store_entry_t *held = NULL;
    for (uint32_t i = 0; i < k; i++) {
        const nm_store_entry_t *pe;
        if (nm_store_pin(s, names[i], &pe, &d) != NM_OK) {
            continue;
        }
        CHECK(pe && !strcmp(pe->name, names[i]) && pe->pins > 0);
        inspect(f, pe);
        if (!held) {
            held = pe;
        } else {
            nm_store_unpin(s, pe);
        }
    }
    CHECK(nm_store_check(s, &d) >= 0);
    CHECK(f->emu.violations == 0);

    /* Writes, with held (if any) pinned: it must not move or change. */
    static uint8_t held_copy[1u << 16];
    uint32_t held_start = 0, held_size = 0;
    char held_name[NM_STORE_NAME_MAX + 1] = "";
    if (held) {
        held_start = held->start;
        held_size = held->size < sizeof held_copy ? held->size : (uint32_t)sizeof held_copy;
        memcpy(held_copy, f->emu.mem + nm_store_offset(s, held), held_size);
        memcpy(held_name, held->name, sizeof held_name);
        CHECK(nm_store_remove(s, held_name, &d) == NM_ERR_BUSY);
    }
    const nm_store_entry_t *ne = NULL;
    if (nm_store_install(s, z->mod, z->mod_len, NULL, &ne, &d) == NM_OK) {
        CHECK(ne && nm_store_find(s, "fzmod") == ne);
    }
    if (held) {
        (void)nm_store_install(s, z->mod, z->mod_len, held_name, NULL, &d); /* replace while pinned */
    }
    if (k > 1) {
        (void)nm_store_remove(s, names[k - 1], &d);
    }
    nm_store_defrag_result_t r;
    uint32_t budget = (opts >> 5) & 7;
    if (!linked_in_copy_mode(f)) {
        (void)nm_store_defrag(s, budget ? budget * 2 : 0, &r, &d);
    }
    (void)nm_store_remove(s, "fzmod", &d);
    (void)nm_store_install(s, z->mod, z->mod_len, "fzmod2", NULL, &d);
    CHECK(f->emu.violations == 0);
    walk(f);
    if (held) {
        CHECK(held->start == held_start && held->pins > 0);
        CHECK(!memcmp(held_copy, f->emu.mem + (size_t)held_start * g->block_size, held_size));
        nm_store_unpin(s, held);
    }
    /* What the writes left must mount. */
    memset(f->entries, 0, sizeof f->entries);
    if (nm_store_mount(s, &f->cfg, &d) != NM_OK) {
        CHECK(gap_records && f->emu.violations == 0); /* bug 3 */
        return;
    }
    if (known_bug(f)) {
        return;
    }
    walk(f);
    CHECK(nm_store_check(s, &d) >= 0);
    CHECK(f->emu.violations == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    if (size < 1) {
        return 0;
    }
    unsigned opts = data[0], gi = opts & 3;
    run(gi, opts, data + 1, size - 1, 0);
    run(gi, opts, data + 1, size - 1, 1);
    return 0;
}
