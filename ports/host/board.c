/*
 * The host board's runtime: loader memory on mmap, module files mapped like
 * flash, loading (from RAM or in place from a flash image), calling and
 * unloading modules. The HAL is hal.c.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"
#include "natmod/hal.h"

struct nm_host_map {
    struct nm_host_map *next;
    uint8_t *ptr;   /* what alloc_cb returned: the start of the mapping */
    size_t map_len; /* mapped bytes (whole pages) */
    size_t size;    /* bytes the loader asked for */
    unsigned kind;  /* enum nm_mem_kind */
    int in_window;  /* XIP RW claimed inside the window: freed back to PROT_NONE */
};

struct nm_host_file {
    struct nm_host_file *next;
    nm_module_t *m;
    void *map; /* the file's read-only mapping, NULL for a caller buffer */
    size_t map_len;
};

/* A slot of the XIP window (vmap decides where; b->xips is in no order):
 *   [slot, slot + text_len)        flash pages of the slice, R+X, MAP_SHARED
 *   [slot + text_len, ... + rw_len) RW, mapped by claim_cb
 *   one guard page, never mapped
 * text_len is 64 + rw_offset: the whole slice plus the gap up to RW. */
struct nm_host_xip {
    struct nm_host_xip *next;
    nm_module_t *m;   /* NULL while loading */
    uint8_t *slot;
    size_t slot_len, text_len;
    size_t map_len;   /* of [slot, slot + text_len), mapped from the file; the rest PROT_NONE */
    uint64_t flash_off; /* where the slice lies in its file */
    int own_flash;      /* installed in the board's flash image (its append allocator) */
    /* Called when a loaded module goes (unload, deinit): the owner of the
     * flash (a store) takes it back. */
    nm_host_release_fn release;
    void *release_ctx;
    const void *release_arg;
};

static void xip_release(nm_host_board_t *b, struct nm_host_xip *x);

/* What the board maps in the window: flash text read+execute, RAM read+write. */
#define TEXT_CAPS (NM_VMAP_CAP_EXEC | NM_VMAP_CAP_READ | NM_VMAP_CAP_32BIT)
#define RW_CAPS (NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE | NM_VMAP_CAP_32BIT | NM_VMAP_CAP_8BIT)

static size_t round_up(size_t v, size_t a, int *overflow) {
    if (v > SIZE_MAX - (a - 1)) {
        *overflow = 1;
        return 0;
    }
    return (v + a - 1) & ~(a - 1);
}

static void stats_add(nm_host_stats_t *s, const struct nm_host_map *mp) {
    s->cur_bytes += mp->size;
    s->cur_mapped += mp->map_len;
    if (mp->kind < 3) {
        s->cur_by_kind[mp->kind] += mp->size;
    }
    if (s->cur_bytes > s->peak_bytes) {
        s->peak_bytes = s->cur_bytes;
    }
    if (s->cur_mapped > s->peak_mapped) {
        s->peak_mapped = s->cur_mapped;
    }
    s->live_allocs++;
    s->n_allocs++;
}

static void stats_sub(nm_host_stats_t *s, const struct nm_host_map *mp) {
    s->cur_bytes -= mp->size;
    s->cur_mapped -= mp->map_len;
    if (mp->kind < 3) {
        s->cur_by_kind[mp->kind] -= mp->size;
    }
    s->live_allocs--;
    s->n_frees++;
}

/* Each allocation is its own mapping, so freeing returns it to the OS and a
 * leak shows up in the counters. Alignment above a page is obtained by
 * mapping extra and trimming both ends. */
static void *board_alloc_cb(void *context, size_t size, size_t align, unsigned kind) {
    nm_host_board_t *b = context;
    b->stats.n_alloc_calls++;
    if (b->opts.fail_alloc_at && b->stats.n_alloc_calls == b->opts.fail_alloc_at) {
        return NULL;
    }
    if (align == 0) {
        align = 1;
    }
    if ((align & (align - 1)) || kind > NM_MEM_IMAGE) {
        return NULL;
    }
    if (b->opts.mem_limit &&
        (size > b->opts.mem_limit || b->stats.cur_bytes > b->opts.mem_limit - size)) {
        return NULL;
    }
    int ovf = 0;
    size_t len = round_up(size ? size : 1, b->page_size, &ovf);
    size_t extra = align > b->page_size ? align - b->page_size : 0;
    if (ovf || len > SIZE_MAX - extra) {
        return NULL;
    }
    struct nm_host_map *mp = malloc(sizeof *mp);
    if (!mp) {
        return NULL;
    }
    int prot = PROT_READ | PROT_WRITE;
    if (b->opts.map_rwx && kind != NM_MEM_RW) {
        prot |= PROT_EXEC;
    }
    uint8_t *raw = mmap(NULL, len + extra, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        free(mp);
        return NULL;
    }
    uint8_t *p = raw;
    if (extra) {
        p = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
        if (p > raw) {
            munmap(raw, (size_t)(p - raw));
        }
        size_t tail = (size_t)((raw + len + extra) - (p + len));
        if (tail) {
            munmap(p + len, tail);
        }
    }
    mp->ptr = p;
    mp->map_len = len;
    mp->size = size;
    mp->kind = kind;
    mp->in_window = 0;
    mp->next = b->maps;
    b->maps = mp;
    stats_add(&b->stats, mp);
    return p;
}

/* Unmap a block of the XIP window through vmap (its pages go back to
 * PROT_NONE, the addresses stay reserved). */
static void window_unmap(nm_host_board_t *b, const uint8_t *addr) {
    nm_detail_t d;
    if (nm_vmap_unmap(&b->vm, (uintptr_t)addr, &d) != 0) {
        fprintf(stderr, "natmod-board: %s\n", d.msg);
    }
}

/* RW in the window: unmap it, then give its RAM back (the RAM file's page
 * at the same offset as the window page: the board maps RAM 1:1). */
static void map_release(nm_host_board_t *b, struct nm_host_map *mp) {
    if (mp->in_window) {
        window_unmap(b, mp->ptr);
        nm_vmap_host_discard(&b->vh, (uint64_t)(mp->ptr - b->window), mp->map_len);
    } else {
        munmap(mp->ptr, mp->map_len);
    }
}

static void board_free_cb(void *context, void *ptr, unsigned kind) {
    nm_host_board_t *b = context;
    for (struct nm_host_map **pp = &b->maps; *pp; pp = &(*pp)->next) {
        struct nm_host_map *mp = *pp;
        if (mp->ptr == ptr) {
            if (mp->kind != kind) {
                fprintf(stderr, "natmod-board: free_cb: %p allocated as kind %u, freed as %u\n",
                        ptr, mp->kind, kind);
                b->stats.n_bad_frees++;
            }
            *pp = mp->next;
            map_release(b, mp);
            stats_sub(&b->stats, mp);
            free(mp);
            return;
        }
    }
    if (ptr) {
        fprintf(stderr, "natmod-board: free_cb: %p was not allocated by the board\n", ptr);
        b->stats.n_bad_frees++;
    }
}

static void board_protect(uint8_t *addr, size_t len, int prot) {
    if (len && mprotect(addr, len, prot) != 0) {
        fprintf(stderr, "natmod-board: mprotect(%p, %zu) failed: %s\n", (void *)addr, len,
                strerror(errno));
    }
}

/* After relocation the loader hands over the code range: make it R+X. */
static void board_flush_cb(void *context, void *addr, size_t len) {
    nm_host_board_t *b = context;
    b->stats.n_flushes++;
    if (!len) {
        return;
    }
    uint8_t *a = addr;
    __builtin___clear_cache((char *)a, (char *)a + len); /* a no-op on x86, kept for the habit */
    if (b->opts.map_rwx) {
        return;
    }
    struct nm_host_map *mp = b->maps;
    while (mp && !(a >= mp->ptr && a < mp->ptr + mp->map_len)) {
        mp = mp->next;
    }
    if (!mp || mp->kind == NM_MEM_RW) {
        return; /* not code the board gave out: nothing to protect */
    }
    size_t off = (size_t)(a - mp->ptr);
    if (off >= mp->size) {
        return;
    }
    size_t end = off + (len < mp->size - off ? len : mp->size - off);
    if (mp->kind == NM_MEM_TEXT) {
        board_protect(mp->ptr, mp->map_len, PROT_READ | PROT_EXEC);
        return;
    }
    /* NM_MEM_IMAGE: text is [0, text_size) of the block, RW follows at
     * rw_offset. The loader flushes the whole block, so the text size comes
     * from the header the board read before loading. */
    size_t code_end, rw_start;
    if (b->loading_text_known && mp->ptr == a) {
        code_end = b->loading_text_size < mp->size ? b->loading_text_size : mp->size;
        rw_start = b->loading_rw_offset < mp->size ? b->loading_rw_offset : mp->size;
        rw_start = rw_start < code_end ? code_end : rw_start;
    } else if (off == 0 && end >= mp->size) {
        /* Code and data cannot be told apart: both. */
        board_protect(mp->ptr, mp->map_len, PROT_READ | PROT_WRITE | PROT_EXEC);
        return;
    } else {
        code_end = end;
        rw_start = end;
    }
    size_t ps = b->page_size;
    for (size_t pg = 0; pg < code_end; pg += ps) {
        /* The zero gap between text and RW holds nothing writable. */
        int has_data = pg + ps > rw_start && rw_start < mp->size;
        board_protect(mp->ptr + pg, ps, PROT_READ | PROT_EXEC | (has_data ? PROT_WRITE : 0));
    }
}

/* XIP: RW must be exactly at addr (text + rw_offset), so map RAM pages
 * there with nm_vmap_map_at, inside the slot of the module being loaded.
 * Refused (non-zero) if addr is not page-aligned, not in that slot's RW
 * part, or overlaps anything mapped (vmap says NOT_FOUND); counted like an
 * allocation. */
static int board_claim_cb(void *context, void *addr, size_t size, unsigned kind) {
    nm_host_board_t *b = context;
    const struct nm_host_xip *x = b->xip_loading;
    uint8_t *a = addr;
    b->stats.n_alloc_calls++;
    if (b->opts.fail_alloc_at && b->stats.n_alloc_calls == b->opts.fail_alloc_at) {
        return -1;
    }
    int ovf = 0;
    size_t len = round_up(size ? size : 1, b->page_size, &ovf);
    if (!x || kind != NM_MEM_RW || ovf || (uintptr_t)a % b->page_size) {
        return -1;
    }
    uint8_t *rw_lo = x->slot + x->text_len, *rw_hi = x->slot + x->slot_len - b->page_size;
    if (a < rw_lo || a > rw_hi || len > (size_t)(rw_hi - a)) {
        return -1;
    }
    if (b->opts.mem_limit &&
        (size > b->opts.mem_limit || b->stats.cur_bytes > b->opts.mem_limit - size)) {
        return -1;
    }
    struct nm_host_map *mp = malloc(sizeof *mp);
    if (!mp) {
        return -1;
    }
    uintptr_t got;
    if (nm_vmap_map_at(&b->vm, (uintptr_t)a, (uint64_t)(a - b->window), len,
                       NM_VMAP_TARGET_PSRAM0, RW_CAPS, 0, &got, NULL) != 0) {
        free(mp);
        return -1;
    }
    mp->ptr = a;
    mp->map_len = len;
    mp->size = size;
    mp->kind = kind;
    mp->in_window = 1;
    mp->next = b->maps;
    b->maps = mp;
    stats_add(&b->stats, mp);
    return 0;
}

int nm_host_board_init(nm_host_board_t *b, const nm_host_board_opts_t *opts) {
    if (!b) {
        return NM_ERR_INVAL;
    }
    memset(b, 0, sizeof *b);
    if (opts) {
        b->opts = *opts;
    }
    long ps = sysconf(_SC_PAGESIZE);
    b->page_size = ps > 0 ? (size_t)ps : 4096;
    b->cfg.arch = NM_ARCH_X64;
    b->cfg.float_abi = NM_FLOAT_HARD;
    b->cfg.exports = nm_fw_exports;
    b->cfg.n_exports = nm_fw_n_exports;
    b->cfg.alloc_cb = board_alloc_cb;
    b->cfg.free_cb = board_free_cb;
    b->cfg.claim_cb = board_claim_cb;
    b->cfg.flush_cb = board_flush_cb;
    b->cfg.context = b;
    b->flash_fd = -1;
    nm_host_set_console(b->opts.console);
    nm_host_periph_reset();
    nm_host_ticks_reset();
    hal_timer_stop();
    return NM_OK;
}

static void file_release(struct nm_host_file *f) {
    if (f->map) {
        munmap(f->map, f->map_len);
    }
    free(f);
}

void nm_host_board_deinit(nm_host_board_t *b) {
    if (!b) {
        return;
    }
    hal_timer_stop(); /* no module code runs from here on */
    while (b->xips) {
        struct nm_host_xip *x = b->xips;
        if (x->m && x->m->state) {
            nm_unload(x->m);
        }
        xip_release(b, x);
    }
    while (b->files) {
        struct nm_host_file *f = b->files;
        b->files = f->next;
        if (f->m && f->m->state) {
            nm_unload(f->m);
        }
        file_release(f);
    }
    /* Whatever the loader left behind (a loader bug; the counters show it). */
    while (b->maps) {
        struct nm_host_map *mp = b->maps;
        b->maps = mp->next;
        map_release(b, mp);
        stats_sub(&b->stats, mp);
        free(mp);
    }
    if (b->window) {
        nm_vmap_host_fini(&b->vh);
        b->window = NULL;
    }
    if (b->flash_fd >= 0) {
        close(b->flash_fd);
        b->flash_fd = -1;
    }
    b->flash_used = 0;
}

__attribute__((format(printf, 3, 4)))
static int board_fail(nm_detail_t *d, int err, const char *fmt, ...) {
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ---- timers and module lifetime ---- */

/* The timer as it was before a load, to tell whether the module's init
 * started one. */
typedef struct timer_snap {
    int on;
    uintptr_t cb, arg;
} timer_snap_t;

static void timer_snap(timer_snap_t *t) {
    t->on = nm_host_timer_get(&t->cb, &t->arg);
}

/* A load failed after init ran (init returned non-zero): a timer that init
 * started would call into memory that is gone. */
static void timer_undo(const timer_snap_t *before) {
    timer_snap_t now;
    timer_snap(&now);
    if (now.on && (!before->on || now.cb != before->cb || now.arg != before->arg)) {
        hal_timer_stop();
    }
}

static int inside(uintptr_t p, const uint8_t *base, size_t len) {
    return p >= (uintptr_t)base && p - (uintptr_t)base < len;
}

/* Before a module goes: stop the timer if its callback or argument is in
 * the module's text or RW (the callback would run freed code, or write
 * freed data). A timer of another module keeps running. */
static void module_timer_stop(const nm_module_t *m) {
    timer_snap_t t;
    nm_image_t img;
    timer_snap(&t);
    if (!t.on) {
        return;
    }
    if (nm_image_parse_header(m->image, m->image_size, &img, NULL) != NM_OK) {
        hal_timer_stop(); /* cannot tell whose it is: the safe side */
        return;
    }
    size_t rw = (size_t)img.data_size + img.bss_size;
    if (inside(t.cb, m->text, img.text_size) || inside(t.arg, m->text, img.text_size) ||
        inside(t.cb, m->rw, rw) || inside(t.arg, m->rw, rw)) {
        hal_timer_stop();
    }
}

/* ---- RAM mode ---- */

static int board_load(nm_host_board_t *b, const void *buf, size_t len, void *map, size_t map_len,
                      nm_module_t *m, nm_detail_t *d) {
    struct nm_host_file *f = calloc(1, sizeof *f);
    if (!f) {
        return board_fail(d, NM_ERR_NOMEM, "host board: out of memory");
    }
    /* Learn where text ends for flush_cb (see there). A bad header is left
     * for nm_load to refuse with its own message. */
    nm_slice_info_t si;
    nm_image_t hdr;
    b->loading_text_known =
        nm_select_slice(buf, len, b->cfg.arch, b->cfg.float_abi, &si, NULL) == NM_OK &&
        nm_image_parse_header((const uint8_t *)buf + si.offset, si.size, &hdr, NULL) == NM_OK;
    b->loading_text_size = b->loading_text_known ? hdr.text_size : 0;
    b->loading_rw_offset = b->loading_text_known ? hdr.rw_offset : 0;
    timer_snap_t t;
    timer_snap(&t);
    int err = nm_load(&b->cfg, m, buf, len, d);
    b->loading_text_known = 0;
    if (err) {
        timer_undo(&t);
        free(f);
        return err;
    }
    f->m = m;
    f->map = map;
    f->map_len = map_len;
    f->next = b->files;
    b->files = f;
    return NM_OK;
}

int nm_host_load(nm_host_board_t *b, const void *buf, size_t len, nm_module_t *m, nm_detail_t *d) {
    if (!b || !m || (!buf && len)) {
        return NM_ERR_INVAL;
    }
    return board_load(b, buf, len, NULL, 0, m, d);
}

/* Map a module file read-only, like flash: a loader that wrote to the
 * image would fault. *map is NULL for an empty file. */
static int map_file(const char *path, void **map, size_t *len, nm_detail_t *d) {
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : (S_ISREG(st.st_mode) ? errno : EISDIR);
        if (fd >= 0) {
            close(fd);
        }
        return board_fail(d, e == ENOENT ? NM_ERR_NOENT : NM_ERR_IO, "cannot read %s: %s", path,
                          strerror(e));
    }
    size_t n = (size_t)st.st_size;
    if (n) {
        void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return board_fail(d, NM_ERR_IO, "cannot map %s: %s", path, strerror(e));
        }
        *map = p;
    }
    close(fd);
    *len = n;
    return NM_OK;
}

/* ---- XIP mode ---- */

/* The address window, once per board: a vmap region on the host back-end
 * (reserved PROT_NONE); every XIP slot is carved from it. */
static int window_setup(nm_host_board_t *b, nm_detail_t *d) {
    if (b->window) {
        return NM_OK;
    }
    int err = nm_vmap_host_init(&b->vh, NM_HOST_WINDOW_SIZE, d);
    if (err) {
        return err;
    }
    nm_vmap_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    nm_vmap_host_config(&cfg, &b->vh, &b->vregion, b->vpool, NM_HOST_VMAP_BLOCKS);
    err = nm_vmap_init(&b->vm, &cfg, d);
    if (err) {
        nm_vmap_host_fini(&b->vh);
        return err;
    }
    b->window = b->vh.window;
    return NM_OK;
}

static void dump_line(void *ctx, const char *line) {
    fprintf(ctx, "%s\n", line);
}

void nm_host_vmap_dump(nm_host_board_t *b, FILE *f) {
    if (!b->window) {
        fprintf(f, "(no XIP window)\n");
        return;
    }
    nm_vmap_dump(&b->vm, dump_line, f);
}

/* The board's own flash image, once per board (nm_host_load_xip only: a
 * module run from a store image is mapped from the store's file). */
static int flash_setup(nm_host_board_t *b, nm_detail_t *d) {
    if (b->flash_fd >= 0) {
        return NM_OK;
    }
    const char *path = b->opts.flash_path;
    const char *name = path ? path : "(anonymous)";
    size_t size = b->opts.flash_size ? b->opts.flash_size : NM_HOST_FLASH_SIZE;
    int fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)
                  : memfd_create("natmod-flash", MFD_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return board_fail(d, NM_ERR_IO, "cannot open flash image %s: %s", name, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return board_fail(d, NM_ERR_IO, "flash image %s is not a regular file", name);
    }
    if ((uint64_t)st.st_size > size) {
        size = (size_t)st.st_size;
    } else if (ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        close(fd);
        return board_fail(d, NM_ERR_IO, "cannot size flash image %s to %zu bytes: %s", name, size,
                          strerror(e));
    }
    b->flash_fd = fd;
    b->flash_size = size;
    b->flash_used = 0;
    return NM_OK;
}

/* Can this board run img in place? The arch first (as the loader judges
 * it), then the shape MMU adjacency needs: RW reached PC-relatively, RW
 * starting on a page when the slice does, the whole slice before RW (the
 * loader reads its tail from flash while RW is mapped), and text needing
 * no more alignment than the 64 bytes after a page-aligned header. */
static int xip_check(const nm_host_board_t *b, const nm_image_t *img, nm_detail_t *d) {
    const char *n = img->strtab;
    if (!nm_arch_can_run(b->cfg.arch, b->cfg.float_abi, img->arch, img->float_abi)) {
        int float_only = nm_arch_can_run(b->cfg.arch, img->float_abi, img->arch, img->float_abi);
        return board_fail(d, float_only ? NM_ERR_FLOAT_ABI : NM_ERR_ARCH,
                          "module '%s' is %s/%s; this board is %s/%s", n, nm_arch_name(img->arch),
                          nm_float_name(img->float_abi), nm_arch_name(b->cfg.arch),
                          nm_float_name(b->cfg.float_abi));
    }
    size_t rw_at = (size_t)NM_HEADER_SIZE + img->rw_offset;
    if (!(img->flags & NM_FLAG_RW_PCREL)) {
        return board_fail(d, NM_ERR_XIP,
                          "module '%s' is not RW_PCREL (text is relocated at load): RAM only", n);
    }
    if (rw_at % b->page_size) {
        return board_fail(d, NM_ERR_XIP,
                          "module '%s': RW at 64 + rw_offset = 0x%zx is not on a page: relink it", n,
                          rw_at);
    }
    if (img->image_size > rw_at) {
        return board_fail(d, NM_ERR_XIP,
                          "module '%s': slice (%u bytes) runs past RW at 64 + rw_offset = %zu: relink it", n,
                          (unsigned)img->image_size, rw_at);
    }
    if (img->text_align_log2 > 6) {
        return board_fail(d, NM_ERR_XIP,
                          "module '%s': text needs %u-byte alignment, in place it gets 64", n,
                          1u << img->text_align_log2);
    }
    return NM_OK;
}

/* The one mapping path of both XIP sources (the board's flash image, a
 * store image): take a free slot of the window and map the flash pages of
 * img, which lies at byte off of fd with avail bytes of flash reserved for
 * it there, read+execute at its start. Flash is never mapped writable.
 * Only the pages that belong to the module are mapped: if 64 + rw_offset
 * reaches past its flash (a store extent ends on its last block), the rest
 * of the text part stays PROT_NONE - the module never reads beyond
 * image_size, and another module's flash is not exposed to it. */
static int xip_map(nm_host_board_t *b, const nm_image_t *img, int fd, uint64_t off, size_t avail,
                   struct nm_host_xip **out, nm_detail_t *d) {
    size_t ps = b->page_size;
    const char *n = img->strtab;
    size_t text_len = (size_t)NM_HEADER_SIZE + img->rw_offset; /* a whole number of pages */
    size_t rw = (size_t)img->data_size + img->bss_size;
    int ovf = 0, map_ovf = 0;
    size_t slot_len = text_len + round_up(rw ? rw : 1, ps, &ovf) + ps; /* + a guard page */
    size_t map_len = round_up(avail, ps, &map_ovf);
    if (map_ovf || map_len > text_len) {
        map_len = text_len;
    }
    if (off % ps) {
        return board_fail(d, NM_ERR_XIP,
                          "module '%s': its flash at offset 0x%llx is not on a %zu-byte page", n,
                          (unsigned long long)off, ps);
    }
    if (map_len < img->image_size) {
        return board_fail(d, NM_ERR_CORRUPT,
                          "module '%s': slice (%u bytes) is longer than its flash (%zu bytes)", n,
                          (unsigned)img->image_size, avail);
    }
    /* Pages past the end of the file would fault (SIGBUS) when touched. */
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < off || (uint64_t)st.st_size - off < map_len) {
        return board_fail(d, NM_ERR_TRUNCATED,
                          "module '%s': flash file ends before offset 0x%llx + %zu bytes", n,
                          (unsigned long long)off, map_len);
    }
    uint64_t base;
    int err = nm_vmap_host_add_file(&b->vh, fd, &base, d);
    if (err) {
        return err;
    }
    /* The whole slot must be free (text, RW, guard); the text is mapped
     * now, RW by claim_cb during the load. */
    uintptr_t v;
    if (ovf || nm_vmap_find_free(&b->vm, slot_len, NM_VMAP_TARGET_FLASH0, TEXT_CAPS, &v) != 0) {
        return board_fail(d, NM_ERR_NOMEM, "module '%s': no room for %zu bytes in the XIP window",
                          n, slot_len);
    }
    struct nm_host_xip *x = calloc(1, sizeof *x);
    if (!x) {
        return board_fail(d, NM_ERR_NOMEM, "host board: out of memory");
    }
    uintptr_t got;
    nm_detail_t vd;
    err = nm_vmap_map_at(&b->vm, v, base + off, map_len, NM_VMAP_TARGET_FLASH0, TEXT_CAPS, 0, &got,
                         &vd);
    if (err) {
        free(x);
        if (err == NM_VMAP_ERR_INVALID_STATE) {
            return board_fail(d, NM_ERR_BUSY,
                              "module '%s': its flash pages are mapped already at %p (is it running?)",
                              n, (void *)got);
        }
        return board_fail(d, NM_ERR_IO, "module '%s': cannot map flash read+execute: %s", n,
                          vd.msg);
    }
    uint8_t *slot = (uint8_t *)v;
    x->slot = slot;
    x->slot_len = slot_len;
    x->text_len = text_len;
    x->map_len = map_len;
    x->flash_off = off;
    x->next = b->xips;
    b->xips = x;
    *out = x;
    return NM_OK;
}

static int flash_write(const nm_host_board_t *b, size_t off, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = pwrite(b->flash_fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        off += (size_t)w;
        n -= (size_t)w;
    }
    return 0;
}

/* Install into the board's own flash image: write the slice at the next
 * free page (an append allocator; the module store is the real thing),
 * then map it. Text is never written after this. */
static int xip_install(nm_host_board_t *b, const nm_image_t *img, struct nm_host_xip **out,
                       nm_detail_t *d) {
    size_t text_len = (size_t)NM_HEADER_SIZE + img->rw_offset;
    if (text_len > b->flash_size - b->flash_used) {
        return board_fail(d, NM_ERR_NOMEM, "module '%s': flash full (%zu of %zu bytes used, needs %zu)",
                          img->strtab, b->flash_used, b->flash_size, text_len);
    }
    size_t off = b->flash_used;
    if (flash_write(b, off, img->base, img->image_size) != 0) {
        return board_fail(d, NM_ERR_IO, "module '%s': cannot write the flash image: %s", img->strtab,
                          strerror(errno));
    }
    int err = xip_map(b, img, b->flash_fd, off, text_len, out, d);
    if (err) {
        return err;
    }
    (*out)->own_flash = 1;
    b->flash_used = off + text_len;
    return NM_OK;
}

/* Unmap a module's flash pages (back to PROT_NONE) and forget its slot.
 * Its RW went back through free_cb. Board flash is reused only when this
 * was the last slice installed; a module that had loaded hands its flash
 * back to its owner (the store unpins it). */
static void xip_release(nm_host_board_t *b, struct nm_host_xip *x) {
    for (struct nm_host_xip **pp = &b->xips; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    window_unmap(b, x->slot);
    if (x->own_flash && x->flash_off + x->text_len == b->flash_used) {
        b->flash_used = (size_t)x->flash_off;
    }
    if (x->m && x->release) {
        x->release(x->release_ctx, x->release_arg);
    }
    free(x);
}

/* From here the loader sees only flash: it verifies the mapped copy,
 * claims RW at text + rw_offset (board_claim_cb), fills it, runs init. On
 * failure the slot goes (and the flash space of an install). */
static int xip_run(nm_host_board_t *b, struct nm_host_xip *x, uint32_t image_size, nm_module_t *m,
                   nm_detail_t *d) {
    timer_snap_t t;
    timer_snap(&t);
    b->xip_loading = x;
    int err = nm_load_xip(&b->cfg, m, x->slot, image_size, d);
    b->xip_loading = NULL;
    if (err) {
        timer_undo(&t);
        xip_release(b, x);
        return err;
    }
    x->m = m;
    return NM_OK;
}

int nm_host_load_xip(nm_host_board_t *b, const void *buf, size_t len, nm_module_t *m,
                     nm_detail_t *d) {
    if (!b || !m || (!buf && len)) {
        return NM_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    /* Only a valid slice is installed: check it where it is first. */
    nm_slice_info_t si;
    nm_image_t img;
    int err = nm_select_slice(buf, len, b->cfg.arch, b->cfg.float_abi, &si, d);
    if (!err) {
        err = nm_image_parse((const uint8_t *)buf + si.offset, si.size, &img, d);
    }
    if (!err) {
        err = xip_check(b, &img, d);
    }
    if (!err) {
        err = window_setup(b, d);
    }
    if (!err) {
        err = flash_setup(b, d);
    }
    struct nm_host_xip *x = NULL;
    if (!err) {
        err = xip_install(b, &img, &x, d);
    }
    return err ? err : xip_run(b, x, img.image_size, m, d);
}

int nm_host_load_xip_fd(nm_host_board_t *b, int fd, uint64_t off, uint32_t size, size_t avail,
                        nm_host_release_fn release, void *ctx, const void *arg, nm_module_t *m,
                        nm_detail_t *d) {
    if (!b || !m || fd < 0 || size > avail) {
        return board_fail(d, NM_ERR_INVAL, "host board: bad flash extent (%u bytes in %zu)",
                          (unsigned)size, avail);
    }
    memset(m, 0, sizeof *m);
    /* The header fields that size the slot (rw_offset, data, bss) come
     * from a checked parse of a copy; the loader checks the mapped bytes
     * again, CRC included, and claim_cb confines RW to this slot whatever
     * they say by then. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        return board_fail(d, NM_ERR_NOMEM, "host board: out of memory");
    }
    int err = NM_OK;
    for (uint32_t got = 0; got < size && !err;) {
        ssize_t r = pread(fd, copy + got, size - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            err = board_fail(d, r ? NM_ERR_IO : NM_ERR_TRUNCATED,
                             "cannot read the module at flash offset 0x%llx: %s",
                             (unsigned long long)off, r ? strerror(errno) : "end of file");
        }
        got += r > 0 ? (uint32_t)r : 0;
    }
    nm_image_t img;
    if (!err) {
        err = nm_image_parse(copy, size, &img, d);
    }
    if (!err) {
        err = xip_check(b, &img, d);
    }
    char name[NM_DETAIL_MAX / 2] = "";
    if (!err) {
        snprintf(name, sizeof name, "%s", img.strtab);
        img.strtab = name; /* xip_map's messages; the copy goes now */
    }
    uint32_t image_size = err ? 0 : img.image_size;
    free(copy);
    img.base = NULL; /* the sizes and the name are all that is used from here */
    if (!err) {
        err = window_setup(b, d);
    }
    struct nm_host_xip *x = NULL;
    if (!err) {
        err = xip_map(b, &img, fd, off, avail, &x, d);
    }
    if (err) {
        return err;
    }
    x->release = release;
    x->release_ctx = ctx;
    x->release_arg = arg;
    return xip_run(b, x, image_size, m, d);
}

/* Map path and load it. RAM mode keeps the mapping while the module is
 * loaded (export names are read from it); XIP mode copies the slice into
 * flash, so the mapping goes at once. */
static int load_path(nm_host_board_t *b, const char *path, nm_module_t *m, nm_detail_t *d, int xip) {
    static const uint8_t empty[1];
    if (!b || !path || !m) {
        return NM_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    void *map;
    size_t len;
    int err = map_file(path, &map, &len, d);
    if (err) {
        return err;
    }
    const void *buf = map ? map : empty;
    err = xip ? nm_host_load_xip(b, buf, len, m, d) : board_load(b, buf, len, map, len, m, d);
    if (map && (xip || err)) {
        munmap(map, len);
    }
    return err;
}

int nm_host_load_file(nm_host_board_t *b, const char *path, nm_module_t *m, nm_detail_t *d) {
    return load_path(b, path, m, d, 0);
}

int nm_host_load_xip_file(nm_host_board_t *b, const char *path, nm_module_t *m, nm_detail_t *d) {
    return load_path(b, path, m, d, 1);
}

int nm_host_unload(nm_host_board_t *b, nm_module_t *m) {
    if (!b || !m || !m->state) {
        return NM_ERR_INVAL;
    }
    module_timer_stop(m);
    int err = nm_unload(m);
    for (struct nm_host_xip *x = b->xips; x; x = x->next) {
        if (x->m == m) {
            xip_release(b, x);
            return err;
        }
    }
    for (struct nm_host_file **pp = &b->files; *pp; pp = &(*pp)->next) {
        if ((*pp)->m == m) {
            struct nm_host_file *f = *pp;
            *pp = f->next;
            file_release(f);
            break;
        }
    }
    return err;
}

typedef intptr_t (*nm_host_fn0)(void);
typedef intptr_t (*nm_host_fn1)(intptr_t);
typedef intptr_t (*nm_host_fn2)(intptr_t, intptr_t);
typedef intptr_t (*nm_host_fn3)(intptr_t, intptr_t, intptr_t);
typedef intptr_t (*nm_host_fn4)(intptr_t, intptr_t, intptr_t, intptr_t);
typedef intptr_t (*nm_host_fn5)(intptr_t, intptr_t, intptr_t, intptr_t, intptr_t);
typedef intptr_t (*nm_host_fn6)(intptr_t, intptr_t, intptr_t, intptr_t, intptr_t, intptr_t);

int nm_host_call(const nm_module_t *m, const char *fn_name, int argc, const long args[],
                 long *result, nm_detail_t *d) {
    if (!m || !fn_name || argc < 0 || argc > NM_HOST_MAX_ARGS || (argc && !args)) {
        if (d) {
            snprintf(d->msg, sizeof d->msg, "call %s: %d arguments (the host board passes 0..%d)",
                     fn_name ? fn_name : "?", argc, NM_HOST_MAX_ARGS);
        }
        return NM_ERR_INVAL;
    }
    void *addr = NULL;
    int err = nm_module_sym(m, fn_name, &addr, d);
    if (err) {
        return err;
    }
    intptr_t a[NM_HOST_MAX_ARGS] = {0};
    for (int i = 0; i < argc; i++) {
        a[i] = (intptr_t)args[i];
    }
    /* Object pointer to function pointer: what every loader does; POSIX
     * guarantees it (dlsym). Called through the exact arity. */
    intptr_t r;
    switch (argc) {
    case 0: r = ((nm_host_fn0)addr)(); break;
    case 1: r = ((nm_host_fn1)addr)(a[0]); break;
    case 2: r = ((nm_host_fn2)addr)(a[0], a[1]); break;
    case 3: r = ((nm_host_fn3)addr)(a[0], a[1], a[2]); break;
    case 4: r = ((nm_host_fn4)addr)(a[0], a[1], a[2], a[3]); break;
    case 5: r = ((nm_host_fn5)addr)(a[0], a[1], a[2], a[3], a[4]); break;
    default: r = ((nm_host_fn6)addr)(a[0], a[1], a[2], a[3], a[4], a[5]); break;
    }
    if (result) {
        *result = (long)r;
    }
    return NM_OK;
}

/* ---- running from a module store (docs/store.md) ---- */

static void store_unpin_cb(void *ctx, const void *arg) {
    nm_store_unpin((nm_store_t *)ctx, (const nm_store_entry_t *)arg);
}

int nm_host_load_store(nm_host_board_t *b, nm_store_t *s, int fd, const char *name, nm_module_t *m,
                       nm_detail_t *d) {
    if (!b || !s || !s->cfg || !name || !m) {
        return NM_ERR_INVAL;
    }
    const nm_store_entry_t *e = NULL;
    int err = nm_store_pin(s, name, &e, d);
    if (err) {
        return err;
    }
    err = nm_host_load_xip_fd(b, fd, nm_store_offset(s, e), e->size,
                              (size_t)e->n_blocks * s->cfg->block_size, store_unpin_cb, s,
                              e, m, d);
    if (err) {
        nm_store_unpin(s, e);
    }
    return err;
}
