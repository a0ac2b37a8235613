/*
 * File-backed block device (bd_file.h): the store's partition as a host
 * file, with the flash rules enforced so that store bugs fail here.
 */
#define _POSIX_C_SOURCE 200809L /* pread, pwrite, fdatasync, O_CLOEXEC under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/bd_file.h"

__attribute__((format(printf, 3, 4)))
static int fail(nm_detail_t *d, int err, const char *fmt, ...) {
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

__attribute__((format(printf, 2, 3)))
static void note(nm_bd_file_t *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->last_error, sizeof f->last_error, fmt, ap);
    va_end(ap);
}

static int pow2(uint32_t v) {
    return v && !(v & (v - 1));
}

/* The whole range or an error: a short read or write (end of file, a
 * full disk) is a device failure, never silently fewer bytes. */
static int read_all(int fd, void *buf, size_t n, off_t at) {
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, at);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                errno = EIO; /* the file ends before the device does */
            }
            return -1;
        }
        p += r;
        at += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t n, off_t at) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = ENOSPC;
            }
            return -1;
        }
        p += w;
        at += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Is (block, off, size) inside the device? Computed without overflow:
 * every value comes from the store, and a bug there must not turn into an
 * access elsewhere in the file. */
static int in_range(const nm_bd_file_t *f, uint32_t block, uint32_t off, uint32_t size) {
    return f->fd >= 0 && block < f->block_count && off <= f->block_size &&
           size <= f->block_size - off;
}

static off_t at(const nm_bd_file_t *f, uint32_t block, uint32_t off) {
    return (off_t)((uint64_t)block * f->block_size + off);
}

static int bd_read(const nm_store_config_t *c, uint32_t block, uint32_t off, void *buf,
                   uint32_t size) {
    nm_bd_file_t *f = c->context;
    if (!in_range(f, block, off, size) || (size && !buf)) {
        note(f, "read of %u bytes at block %u + %u is outside the device", (unsigned)size,
             (unsigned)block, (unsigned)off);
        return NM_ERR_INVAL;
    }
    f->n_reads++;
    if (read_all(f->fd, buf, size, at(f, block, off)) != 0) {
        note(f, "read at block %u + %u: %s", (unsigned)block, (unsigned)off, strerror(errno));
        return NM_ERR_IO;
    }
    return NM_OK;
}

static int bd_prog(const nm_store_config_t *c, uint32_t block, uint32_t off, const void *buf,
                   uint32_t size) {
    nm_bd_file_t *f = c->context;
    if (!in_range(f, block, off, size) || (size && !buf) || off % f->prog_size ||
        size % f->prog_size) {
        note(f, "program of %u bytes at block %u + %u is outside the device or not in %u-byte units",
             (unsigned)size, (unsigned)block, (unsigned)off, (unsigned)f->prog_size);
        return NM_ERR_INVAL;
    }
    if (f->readonly) {
        note(f, "program at block %u: the image is open read-only", (unsigned)block);
        return NM_ERR_IO;
    }
    /* NOR flash can only clear bits; programming a byte twice without an
     * erase in between gives the AND of both, which the store must never
     * rely on. Refuse it before writing anything. */
    uint8_t cur[256];
    for (uint32_t done = 0; done < size;) {
        uint32_t n = size - done < sizeof cur ? size - done : (uint32_t)sizeof cur;
        if (read_all(f->fd, cur, n, at(f, block, off + done)) != 0) {
            note(f, "read before program at block %u + %u: %s", (unsigned)block,
                 (unsigned)(off + done), strerror(errno));
            return NM_ERR_IO;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (cur[i] != 0xFF) {
                note(f, "program of block %u + %u: byte not erased (0x%02x): erase before program",
                     (unsigned)block, (unsigned)(off + done + i), cur[i]);
                return NM_ERR_IO;
            }
        }
        done += n;
    }
    f->n_progs++;
    if (write_all(f->fd, buf, size, at(f, block, off)) != 0) {
        note(f, "program at block %u + %u: %s", (unsigned)block, (unsigned)off, strerror(errno));
        return NM_ERR_IO;
    }
    return NM_OK;
}

static int bd_erase(const nm_store_config_t *c, uint32_t block) {
    nm_bd_file_t *f = c->context;
    if (!in_range(f, block, 0, f->block_size)) {
        note(f, "erase of block %u is outside the device (%u blocks)", (unsigned)block,
             (unsigned)f->block_count);
        return NM_ERR_INVAL;
    }
    if (f->readonly) {
        note(f, "erase of block %u: the image is open read-only", (unsigned)block);
        return NM_ERR_IO;
    }
    f->n_erases++;
    uint8_t ff[512];
    memset(ff, 0xFF, sizeof ff);
    for (uint32_t done = 0; done < f->block_size;) {
        uint32_t n = f->block_size - done < sizeof ff ? f->block_size - done : (uint32_t)sizeof ff;
        if (write_all(f->fd, ff, n, at(f, block, done)) != 0) {
            note(f, "erase of block %u: %s", (unsigned)block, strerror(errno));
            return NM_ERR_IO;
        }
        done += n;
    }
    return NM_OK;
}

/* The store syncs around each commit record: that is its power-loss
 * contract with the device, so the data must be on the disk, not in the
 * page cache, before the commit is programmed. */
static int bd_sync(const nm_store_config_t *c) {
    nm_bd_file_t *f = c->context;
    if (f->fd < 0) {
        return NM_ERR_INVAL;
    }
    f->n_syncs++;
    if (f->readonly) {
        return NM_OK;
    }
    int r;
    do {
        r = fdatasync(f->fd);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
        note(f, "sync: %s", strerror(errno));
        return NM_ERR_IO;
    }
    return NM_OK;
}

/* An erased chip: 0xFF everywhere. */
static int fill_erased(int fd, uint64_t bytes) {
    uint8_t ff[65536];
    memset(ff, 0xFF, sizeof ff);
    for (uint64_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof ff ? (size_t)(bytes - done) : sizeof ff;
        if (write_all(fd, ff, n, (off_t)done) != 0) {
            return -1;
        }
        done += n;
    }
    return 0;
}

int nm_bd_file_open(nm_bd_file_t *f, const char *path, int mode, uint32_t block_size,
                    uint32_t prog_size, uint32_t block_count, nm_store_config_t *cfg,
                    nm_detail_t *d) {
    if (!f || !path || !cfg || mode < NM_BD_FILE_OPEN || mode > NM_BD_FILE_RDONLY) {
        return fail(d, NM_ERR_INVAL, "block device: bad arguments");
    }
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!pow2(block_size) || !pow2(prog_size) || prog_size > NM_STORE_MAX_PROG ||
        prog_size > block_size) {
        return fail(d, NM_ERR_INVAL,
                    "%s: bad geometry: block %u, prog %u (powers of two, prog <= %u and <= block)",
                    path, (unsigned)block_size, (unsigned)prog_size, (unsigned)NM_STORE_MAX_PROG);
    }
    if (mode == NM_BD_FILE_CREATE && block_count == 0) {
        return fail(d, NM_ERR_INVAL, "%s: a new image needs at least one block", path);
    }
    /* off_t is 64-bit on every host we build for, but keep the device
     * addressable through the 32-bit offsets of the store's API. */
    if ((uint64_t)block_count * block_size > UINT32_MAX) {
        return fail(d, NM_ERR_INVAL, "%s: %u blocks of %u bytes is more than 4 GiB", path,
                    (unsigned)block_count, (unsigned)block_size);
    }
    int flags = O_CLOEXEC;
    if (mode == NM_BD_FILE_CREATE) {
        flags |= O_RDWR | O_CREAT; /* truncated once locked */
    } else {
        flags |= mode == NM_BD_FILE_RDONLY ? O_RDONLY : O_RDWR;
    }
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        int e = errno;
        return fail(d, e == ENOENT ? NM_ERR_NOENT : NM_ERR_IO, "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(d, NM_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(d, NM_ERR_IO, "%s: not a regular file", path);
    }
    /* One writer or any number of readers (POSIX advisory lock, held until
     * close). Pins live in the RAM of the process that runs a module, so a
     * second process must not defragment or erase under a module that
     * another one runs from this file. A filesystem without locks
     * (ENOLCK, EINVAL) is used unlocked. */
    struct flock lk;
    memset(&lk, 0, sizeof lk);
    lk.l_type = mode == NM_BD_FILE_RDONLY ? F_RDLCK : F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &lk) != 0 && (errno == EACCES || errno == EAGAIN)) {
        close(fd);
        return fail(d, NM_ERR_BUSY, "%s: in use by another process (locked)", path);
    }
    if (mode == NM_BD_FILE_CREATE) {
        if (ftruncate(fd, 0) != 0 || fill_erased(fd, (uint64_t)block_count * block_size) != 0) {
            int e = errno;
            close(fd);
            return fail(d, NM_ERR_IO, "%s: cannot fill %llu bytes: %s", path,
                        (unsigned long long)block_count * block_size, strerror(e));
        }
    } else {
        uint64_t size = (uint64_t)st.st_size;
        if (block_count == 0) {
            if (size == 0 || size % block_size) {
                close(fd);
                return fail(d, NM_ERR_INVAL,
                            "%s: %llu bytes is not a whole number of %u-byte blocks", path,
                            (unsigned long long)size, (unsigned)block_size);
            }
            if (size / block_size > UINT32_MAX / block_size) {
                close(fd);
                return fail(d, NM_ERR_INVAL, "%s: %llu bytes is more than 4 GiB", path,
                            (unsigned long long)size);
            }
            block_count = (uint32_t)(size / block_size);
        } else if (size < (uint64_t)block_count * block_size) {
            close(fd);
            return fail(d, NM_ERR_TRUNCATED, "%s: %llu bytes, the device needs %llu", path,
                        (unsigned long long)size, (unsigned long long)block_count * block_size);
        }
    }
    f->fd = fd;
    f->readonly = mode == NM_BD_FILE_RDONLY;
    f->block_size = block_size;
    f->prog_size = prog_size;
    f->block_count = block_count;
    cfg->context = f;
    cfg->read = bd_read;
    cfg->prog = bd_prog;
    cfg->erase = bd_erase;
    cfg->sync = bd_sync;
    cfg->block_size = block_size;
    cfg->prog_size = prog_size;
    cfg->block_count = block_count;
    return NM_OK;
}

int nm_bd_file_close(nm_bd_file_t *f) {
    if (!f || f->fd < 0) {
        return NM_OK;
    }
    int r = close(f->fd);
    f->fd = -1;
    return r == 0 ? NM_OK : NM_ERR_IO;
}
