/*
 * The host back-end of vmap (src/vmap/host.h): a PROT_NONE window of
 * address space stands for the MMU's linear space, and mmap(MAP_FIXED)
 * over part of it stands for writing page-table entries.
 *
 * The window is never given back while the map lives: an unmap puts a fresh
 * PROT_NONE anonymous mapping over the range instead of munmap, because a
 * hole in the window could be taken by any other mmap in the process (a
 * thread's stack, malloc's arena) and a later MAP_FIXED would then silently
 * destroy it.
 */
#define _GNU_SOURCE /* memfd_create, fallocate, MFD_CLOEXEC, FALLOC_FL_* */

#include "vmap/host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOST_DEFAULT_WINDOW ((size_t)256 << 20)

/* "vmap host: <what>: <strerror(e)>" */
static int detail(nm_detail_t *d, int err, const char *what, int e) {
    if (d) {
        snprintf(d->msg, sizeof d->msg, "vmap host: %s: %s", what, strerror(e));
    }
    return err;
}

int nm_vmap_host_init(nm_vmap_host_t *h, size_t window_size, nm_detail_t *d) {
    memset(h, 0, sizeof *h);
    h->ram_fd = -1;
    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        h->file_fd[k] = -1;
    }
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0 || (ps & (ps - 1))) {
        return detail(d, NM_ERR_IO, "sysconf(_SC_PAGESIZE)", EINVAL);
    }
    h->page_size = (size_t)ps;
    if (window_size == 0) {
        window_size = HOST_DEFAULT_WINDOW;
    }
    if (window_size > SIZE_MAX - (h->page_size - 1)) {
        return detail(d, NM_ERR_NOMEM, "window size", EOVERFLOW);
    }
    window_size = (window_size + h->page_size - 1) & ~(h->page_size - 1);
    /* NORESERVE: a reservation of address space only, no commit charge. */
    void *w = mmap(NULL, window_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w == MAP_FAILED) {
        return detail(d, NM_ERR_NOMEM, "cannot reserve the window", errno);
    }
    h->window = w;
    h->window_size = window_size;
    h->ram_fd = memfd_create("natmod-ram", MFD_CLOEXEC);
    if (h->ram_fd < 0) {
        int e = errno;
        nm_vmap_host_fini(h);
        return detail(d, NM_ERR_IO, "memfd_create", e);
    }
    /* Sparse: ftruncate allocates nothing, a page takes RAM on first touch. */
    if (ftruncate(h->ram_fd, (off_t)window_size) != 0) {
        int e = errno;
        nm_vmap_host_fini(h);
        return detail(d, NM_ERR_IO, "ftruncate of the RAM file", e);
    }
    return NM_OK;
}

void nm_vmap_host_fini(nm_vmap_host_t *h) {
    if (h->window) {
        munmap(h->window, h->window_size);
        h->window = NULL;
    }
    if (h->ram_fd >= 0) {
        close(h->ram_fd);
        h->ram_fd = -1;
    }
    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        if (h->file_fd[k] >= 0) {
            close(h->file_fd[k]);
            h->file_fd[k] = -1;
        }
    }
}

void nm_vmap_host_region(const nm_vmap_host_t *h, nm_vmap_region_t *r) {
    memset(r, 0, sizeof *r);
    r->name = "host";
    r->laddr_start = 0;
    r->laddr_end = h->window_size;
    r->caps = NM_VMAP_CAP_ALL_;
    r->targets = NM_VMAP_TARGET_FLASH0 | NM_VMAP_TARGET_PSRAM0;
    r->buses = NM_VMAP_BUS_DATA | NM_VMAP_BUS_INSTR;
    /* One address on both buses: the host has one address space. */
    r->ibus_base = r->dbus_base = (uintptr_t)h->window;
}

/* Put the reservation back over [p, p + size). Fails only if the kernel
 * is out of memory for the VMA; then the range stays whatever it was. */
static void reserve_again(void *p, size_t size) {
    (void)mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* The descriptor and file offset backing [paddr, paddr + size) of target,
 * or a negative error when no file holds the whole range. The size check is
 * against the file's size now, rounded up to the page: a page that straddles
 * EOF reads zeros past it, but a page wholly past EOF raises SIGBUS on
 * touch, so such a mapping is refused instead of handed out. */
static int backing(const nm_vmap_host_t *h, uint64_t paddr, size_t size, unsigned target,
                   int *fd, off_t *off) {
    if (target == NM_VMAP_TARGET_PSRAM0) {
        if (paddr > h->window_size || size > h->window_size - paddr) {
            return NM_ERR_INVAL;
        }
        *fd = h->ram_fd;
        *off = (off_t)paddr;
        return NM_OK;
    }
    if (target != NM_VMAP_TARGET_FLASH0) {
        return NM_ERR_INVAL;
    }
    uint64_t k = paddr / NM_VMAP_HOST_FILE_SPAN, o = paddr % NM_VMAP_HOST_FILE_SPAN;
    if (k >= NM_VMAP_HOST_MAX_FILES || h->file_fd[k] < 0) {
        return NM_ERR_NOENT;
    }
    struct stat st;
    if (fstat(h->file_fd[k], &st) != 0) {
        return NM_ERR_IO;
    }
    uint64_t len = ((uint64_t)st.st_size + h->page_size - 1) & ~(uint64_t)(h->page_size - 1);
    if (o > len || size > len - o) {
        return NM_ERR_INVAL;
    }
    *fd = h->file_fd[k];
    *off = (off_t)o;
    return NM_OK;
}

static int host_map(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, uint64_t paddr,
                    size_t size, unsigned target, unsigned caps) {
    nm_vmap_host_t *h = ctx;
    (void)r;
    int fd = -1;
    off_t off = 0;
    int err = NM_ERR_INVAL;
    if (laddr <= h->window_size && size <= h->window_size - laddr && size) {
        err = backing(h, paddr, size, target, &fd, &off);
    }
    int prot = (caps & NM_VMAP_CAP_EXEC)    ? PROT_READ | PROT_EXEC
               : (caps & NM_VMAP_CAP_WRITE) ? PROT_READ | PROT_WRITE
                                            : PROT_READ;
    if (!err && (caps & NM_VMAP_CAP_WRITE)) {
        /* A shared writable mapping of a read-only descriptor is EACCES;
         * say so before mmap so the reservation is never touched. */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
            err = NM_ERR_IO;
        }
    }
    if (err) {
        h->n_failed++;
        return err;
    }
    uint8_t *v = h->window + laddr;
    if (mmap(v, size, prot, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED) {
        /* Most refusals come before the kernel drops the old mapping, but
         * not all (ENOMEM while splitting); make the range reserved again
         * either way, since the map manager believes it is free. */
        reserve_again(v, size);
        h->n_failed++;
        return NM_ERR_IO;
    }
    h->n_maps++;
    return NM_OK;
}

static void host_unmap(void *ctx, const nm_vmap_region_t *r, uintptr_t laddr, size_t size) {
    nm_vmap_host_t *h = ctx;
    (void)r;
    if (laddr > h->window_size || size > h->window_size - laddr) {
        return; /* not ours: never touch addresses outside the window */
    }
    reserve_again(h->window + laddr, size);
    h->n_unmaps++;
}

/* Nothing to drop: mmap of a file gives every alias the same page-cache
 * page, and the kernel keeps instruction caches coherent for pages it maps
 * executable (x86 needs nothing at all). Flushing here would also be
 * wrong after an unmap: the range is PROT_NONE and a cache-maintenance
 * instruction on it faults on some architectures. */
static void host_invalidate(void *ctx, uintptr_t vaddr, size_t size) {
    (void)ctx;
    (void)vaddr;
    (void)size;
}

const nm_vmap_backend_t nm_vmap_host_backend = {host_map, host_unmap, host_invalidate};

void nm_vmap_host_config(nm_vmap_config_t *cfg, nm_vmap_host_t *h, nm_vmap_region_t *region,
                         nm_vmap_block_t *pool, unsigned pool_len) {
    memset(cfg, 0, sizeof *cfg);
    nm_vmap_host_region(h, region);
    cfg->page_size = h->page_size;
    cfg->regions = region;
    cfg->n_regions = 1;
    cfg->pool = pool;
    cfg->pool_len = pool_len;
    cfg->backend = &nm_vmap_host_backend;
    cfg->backend_ctx = h;
}

int nm_vmap_host_add_file(nm_vmap_host_t *h, int fd, uint64_t *base, nm_detail_t *d) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return detail(d, NM_ERR_IO, "fstat of the flash file", errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return detail(d, NM_ERR_IO, "flash file is not a regular file", EINVAL);
    }
    int k_free = -1;
    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        if (h->file_fd[k] < 0) {
            if (k_free < 0) {
                k_free = (int)k;
            }
        } else if (h->file_dev[k] == (uint64_t)st.st_dev && h->file_ino[k] == (uint64_t)st.st_ino) {
            *base = (uint64_t)k * NM_VMAP_HOST_FILE_SPAN;
            return NM_OK;
        }
    }
    if (k_free < 0) {
        if (d) {
            snprintf(d->msg, sizeof d->msg, "vmap host: all %d flash file slots are in use",
                     NM_VMAP_HOST_MAX_FILES);
        }
        return NM_ERR_NOSPC;
    }
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
        return detail(d, NM_ERR_IO, "dup of the flash file", errno);
    }
    h->file_fd[k_free] = own;
    h->file_dev[k_free] = (uint64_t)st.st_dev;
    h->file_ino[k_free] = (uint64_t)st.st_ino;
    *base = (uint64_t)k_free * NM_VMAP_HOST_FILE_SPAN;
    return NM_OK;
}

int nm_vmap_host_discard(nm_vmap_host_t *h, uint64_t paddr, size_t len) {
    if (paddr % h->page_size || paddr > h->window_size || len > h->window_size - paddr) {
        return NM_ERR_INVAL;
    }
    len = (len + h->page_size - 1) & ~(h->page_size - 1);
    if (len == 0) {
        return NM_OK;
    }
    /* KEEP_SIZE: the file stays window_size long, the hole reads zeros. */
    if (fallocate(h->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)paddr, (off_t)len) != 0) {
        return NM_ERR_IO;
    }
    return NM_OK;
}
