/*
 * The host board's runtime: loader memory on mmap, module files mapped like
 * flash, loading, calling and unloading modules. The HAL is hal.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"

struct nm_host_map {
    struct nm_host_map *next;
    uint8_t *ptr;   /* what alloc_cb returned: the start of the mapping */
    size_t map_len; /* mapped bytes (whole pages) */
    size_t size;    /* bytes the loader asked for */
    unsigned kind;  /* enum nm_mem_kind */
};

struct nm_host_file {
    struct nm_host_file *next;
    nm_module_t *m;
    void *map; /* the file's read-only mapping, NULL for a caller buffer */
    size_t map_len;
};

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
    mp->next = b->maps;
    b->maps = mp;
    stats_add(&b->stats, mp);
    return p;
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
            munmap(mp->ptr, mp->map_len);
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
    b->cfg.flush_cb = board_flush_cb;
    b->cfg.context = b;
    nm_host_set_console(b->opts.console);
    nm_host_periph_reset();
    nm_host_ticks_reset();
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
        munmap(mp->ptr, mp->map_len);
        stats_sub(&b->stats, mp);
        free(mp);
    }
}

static int board_load(nm_host_board_t *b, const void *buf, size_t len, void *map, size_t map_len,
                      nm_module_t *m, nm_detail_t *d) {
    struct nm_host_file *f = calloc(1, sizeof *f);
    if (!f) {
        if (d) {
            snprintf(d->msg, sizeof d->msg, "host board: out of memory");
        }
        return NM_ERR_NOMEM;
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
    int err = nm_load(&b->cfg, m, buf, len, d);
    b->loading_text_known = 0;
    if (err) {
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

int nm_host_load_file(nm_host_board_t *b, const char *path, nm_module_t *m, nm_detail_t *d) {
    static const uint8_t empty[1];
    if (!b || !path || !m) {
        return NM_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : (S_ISREG(st.st_mode) ? errno : EISDIR);
        if (d) {
            snprintf(d->msg, sizeof d->msg, "cannot read %s: %s", path, strerror(e));
        }
        if (fd >= 0) {
            close(fd);
        }
        return e == ENOENT ? NM_ERR_NOENT : NM_ERR_IO;
    }
    size_t len = (size_t)st.st_size;
    void *map = NULL;
    if (len) {
        /* Read-only, like flash: a loader that wrote to the image would fault. */
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            if (d) {
                snprintf(d->msg, sizeof d->msg, "cannot map %s: %s", path, strerror(errno));
            }
            close(fd);
            return NM_ERR_IO;
        }
    }
    close(fd);
    int err = board_load(b, map ? map : empty, len, map, len, m, d);
    if (err && map) {
        munmap(map, len);
    }
    return err;
}

int nm_host_unload(nm_host_board_t *b, nm_module_t *m) {
    if (!b || !m || !m->state) {
        return NM_ERR_INVAL;
    }
    int err = nm_unload(m);
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
