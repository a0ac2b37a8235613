/*
 * A file-backed block device for the module store (host only: POSIX I/O).
 *
 * The file is the partition, byte for byte: block b is at offset
 * b * block_size. It behaves like NOR flash so that a store bug shows up
 * here rather than on a device: a program may only turn 0xFF bytes into
 * something else (erase before program), and every access is bounds-checked
 * against the geometry (NM_ERR_INVAL, never a read or write outside it).
 *
 * The descriptor stays open and is exposed (fd): the host board maps a
 * store extent from it to run a module in place. While open, the file
 * holds a POSIX advisory lock: shared when read-only, exclusive otherwise,
 * so no other process changes an image that modules are running from.
 */
#ifndef NATMOD_STORE_BD_FILE_H
#define NATMOD_STORE_BD_FILE_H

#include <stdint.h>

#include "natmod/error.h"
#include "natmod/store.h"

enum nm_bd_file_mode {
    NM_BD_FILE_OPEN = 0,   /* an existing image, read-write */
    NM_BD_FILE_CREATE = 1, /* create (or truncate) and fill with 0xFF: an erased chip */
    NM_BD_FILE_RDONLY = 2, /* an existing image, read-only: prog and erase fail (NM_ERR_IO) */
};

typedef struct nm_bd_file {
    int fd; /* -1 when closed */
    int readonly;
    uint32_t block_size, prog_size, block_count;
    /* Counters since open (what the store asked of the device). */
    uint32_t n_reads, n_progs, n_erases, n_syncs;
    /* The last device failure, one line (errno text, or the flash rule that
     * was broken); empty if none. The store's own detail names the
     * operation; this says what the OS or the device said. */
    char last_error[96];
} nm_bd_file_t;

/* Open path as the partition and fill cfg's context, read, prog, erase,
 * sync and geometry (the rest of cfg is the caller's). Geometry: block_size
 * and prog_size powers of two, prog_size <= NM_STORE_MAX_PROG and <=
 * block_size. block_count 0 with OPEN/RDONLY: the file size / block_size
 * (a size that is not a whole number of blocks is NM_ERR_INVAL); else the
 * file must hold at least that many blocks. CREATE makes the file exactly
 * block_count blocks of 0xFF. Returns NM_OK or NM_ERR_* with *d naming the
 * file (NM_ERR_BUSY: another process holds a conflicting lock); on failure
 * nothing stays open. */
int nm_bd_file_open(nm_bd_file_t *f, const char *path, int mode, uint32_t block_size,
                    uint32_t prog_size, uint32_t block_count, nm_store_config_t *cfg,
                    nm_detail_t *d);

/* Close the file (idempotent). Returns NM_ERR_IO if the close failed. */
int nm_bd_file_close(nm_bd_file_t *f);

#endif /* NATMOD_STORE_BD_FILE_H */
