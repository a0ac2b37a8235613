/*
 * The host back-end of vmap: Linux mmap over a reserved address window.
 *
 * nm_vmap_host_init reserves window_size bytes of address space PROT_NONE
 * (nothing else in the process can be placed there) and describes it as one
 * vmap region (all caps, FLASH0 and PSRAM0, one address on both buses).
 * Mapping a block is mmap(MAP_SHARED | MAP_FIXED) of its physical pages
 * over part of the window; unmapping maps PROT_NONE back over it (never
 * munmap, so no other thread's mmap can take the hole).
 *
 * Physical memory:
 *   FLASH0  the flash files added with nm_vmap_host_add_file, file k at
 *           physical base k * NM_VMAP_HOST_FILE_SPAN (the same file twice,
 *           by device and inode, gets the same base);
 *   PSRAM0  one memory file (memfd) of window_size bytes, sparse: a page
 *           takes RAM when first touched; nm_vmap_host_discard gives pages
 *           back (they read as zero afterwards).
 * Protection follows the caps: EXEC -> R+X, WRITE -> R+W, else R.
 */
#ifndef NATMOD_VMAP_HOST_H
#define NATMOD_VMAP_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/vmap.h"

#define NM_VMAP_HOST_MAX_FILES 8
#define NM_VMAP_HOST_FILE_SPAN ((uint64_t)1 << 40)

typedef struct nm_vmap_host {
    uint8_t *window;
    size_t window_size, page_size;
    int ram_fd;                              /* PSRAM0 */
    int file_fd[NM_VMAP_HOST_MAX_FILES];     /* FLASH0 files, -1 unused */
    uint64_t file_dev[NM_VMAP_HOST_MAX_FILES], file_ino[NM_VMAP_HOST_MAX_FILES];
    unsigned long n_maps, n_unmaps, n_failed; /* back-end calls */
} nm_vmap_host_t;

/* Reserve the window (window_size rounded up to pages; 0: 256 MB) and
 * create the RAM file. NM_ERR_NOMEM / NM_ERR_IO with a detail. */
int nm_vmap_host_init(nm_vmap_host_t *h, size_t window_size, nm_detail_t *d);

/* Release the window (munmap: only when nothing mapped in it is used any
 * more) and close the files. */
void nm_vmap_host_fini(nm_vmap_host_t *h);

/* The one region describing the window (name "host"). */
void nm_vmap_host_region(const nm_vmap_host_t *h, nm_vmap_region_t *r);

/* The back-end (ctx = the nm_vmap_host_t). */
extern const nm_vmap_backend_t nm_vmap_host_backend;

/* Fill cfg: page size, the one region, the back-end and ctx, the pool.
 * Reservations and lock are left 0. */
void nm_vmap_host_config(nm_vmap_config_t *cfg, nm_vmap_host_t *h, nm_vmap_region_t *region,
                         nm_vmap_block_t *pool, unsigned pool_len);

/* Make fd a flash file (the descriptor is duplicated; the caller may close
 * its own). *base receives its physical base for FLASH0. The same file
 * again (same device and inode) returns the base it already has.
 * NM_ERR_NOSPC if NM_VMAP_HOST_MAX_FILES files are in use, NM_ERR_IO. */
int nm_vmap_host_add_file(nm_vmap_host_t *h, int fd, uint64_t *base, nm_detail_t *d);

/* Give back the RAM of PSRAM0 [paddr, paddr + len) (whole pages): the next
 * mapping of it reads zeros. Do it only when nothing maps it. */
int nm_vmap_host_discard(nm_vmap_host_t *h, uint64_t paddr, size_t len);

#endif /* NATMOD_VMAP_HOST_H */
