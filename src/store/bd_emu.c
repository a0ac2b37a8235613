/* Emulated flash with power-cut injection (bd_emu.h). */
#define _GNU_SOURCE
#include "store/bd_emu.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t rnd(uint64_t *s) {
    /* splitmix64: a different stream for every seed, stable across hosts */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int nm_bd_emu_init(nm_bd_emu_t *e, uint32_t block_size, uint32_t prog_size, uint32_t block_count,
                   int map32) {
    memset(e, 0, sizeof *e);
    e->size = (size_t)block_size * block_count;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (map32 ? MAP_32BIT : 0);
    void *m = mmap(NULL, e->size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (m == MAP_FAILED) {
        return NM_ERR_NOMEM;
    }
    e->mem = m;
    e->map32 = map32;
    memset(e->mem, 0xFF, e->size);
    e->block_size = block_size;
    e->prog_size = prog_size;
    e->block_count = block_count;
    e->erase_counts = calloc(block_count, sizeof *e->erase_counts);
    e->countdown = -1;
    if (!e->erase_counts) {
        nm_bd_emu_free(e);
        return NM_ERR_NOMEM;
    }
    return NM_OK;
}

void nm_bd_emu_free(nm_bd_emu_t *e) {
    if (e->mem) {
        munmap(e->mem, e->size);
    }
    free(e->erase_counts);
    free(e->pend);
    memset(e, 0, sizeof *e);
}

static nm_bd_emu_t *dev(const nm_store_config_t *c) {
    return c->context;
}

static int in_range(nm_bd_emu_t *e, uint32_t block, uint32_t off, uint32_t size) {
    if (block >= e->block_count || off > e->block_size || size > e->block_size - off) {
        e->violations++;
        return 0;
    }
    return 1;
}

static int emu_read(const nm_store_config_t *c, uint32_t block, uint32_t off, void *buf, uint32_t size) {
    nm_bd_emu_t *e = dev(c);
    if (e->dead || !in_range(e, block, off, size)) {
        return NM_ERR_IO;
    }
    e->n_reads++;
    e->bytes_read += size;
    memcpy(buf, e->mem + (size_t)block * e->block_size + off, size);
    return NM_OK;
}

/* Power goes: drop some unsynced programs (reorder), then stay off. */
static void power_cut(nm_bd_emu_t *e) {
    if (e->reorder) {
        for (size_t i = 0; i < e->n_pend; i++) {
            if (rnd(&e->seed) & 1) {
                memset(e->mem + e->pend[i].addr, 0xFF, e->pend[i].len);
            }
        }
    }
    e->n_pend = 0;
    e->dead = 1;
}

/* 1 if this program/erase is the one the power cut hits. */
static int cut_now(nm_bd_emu_t *e) {
    e->ops++;
    if (e->countdown < 0) {
        return 0;
    }
    return e->countdown-- == 0;
}

static int emu_prog(const nm_store_config_t *c, uint32_t block, uint32_t off, const void *buf, uint32_t size) {
    nm_bd_emu_t *e = dev(c);
    if (e->dead || !in_range(e, block, off, size)) {
        return NM_ERR_IO;
    }
    if (off % e->prog_size || size % e->prog_size) {
        e->violations++;
        return NM_ERR_IO;
    }
    uint8_t *dst = e->mem + (size_t)block * e->block_size + off;
    for (uint32_t i = 0; i < size; i++) {
        if (dst[i] != 0xFF) {
            e->violations++; /* programmed twice without an erase */
            return NM_ERR_IO;
        }
    }
    const uint8_t *src = buf;
    if (cut_now(e)) {
        if (e->tear == NM_EMU_TEAR_RANDOM) {
            uint32_t units = size / e->prog_size;
            uint32_t full = (uint32_t)(rnd(&e->seed) % (units + 1));
            memcpy(dst, src, (size_t)full * e->prog_size);
            if (full < units) {
                /* the unit being written: a prefix done, one byte half done */
                uint32_t at = full * e->prog_size, part = (uint32_t)(rnd(&e->seed) % e->prog_size);
                memcpy(dst + at, src + at, part);
                dst[at + part] = (uint8_t)(src[at + part] | (uint8_t)rnd(&e->seed));
            }
            if (e->reorder && e->n_pend < e->cap_pend) {
                e->pend[e->n_pend++] = (nm_bd_emu_pending_t){(uint32_t)(dst - e->mem), size};
            }
        }
        power_cut(e);
        return NM_ERR_IO;
    }
    memcpy(dst, src, size);
    e->n_progs++;
    e->bytes_prog += size;
    if (e->reorder) {
        if (e->n_pend == e->cap_pend) {
            size_t cap = e->cap_pend ? 2 * e->cap_pend : 64;
            nm_bd_emu_pending_t *p = realloc(e->pend, cap * sizeof *p);
            if (!p) {
                return NM_ERR_IO;
            }
            e->pend = p;
            e->cap_pend = cap;
        }
        e->pend[e->n_pend++] = (nm_bd_emu_pending_t){(uint32_t)(dst - e->mem), size};
    }
    return NM_OK;
}

static int emu_erase(const nm_store_config_t *c, uint32_t block) {
    nm_bd_emu_t *e = dev(c);
    if (e->dead || !in_range(e, block, 0, e->block_size)) {
        return NM_ERR_IO;
    }
    uint8_t *dst = e->mem + (size_t)block * e->block_size;
    e->erase_counts[block]++;
    if (cut_now(e)) {
        if (e->tear == NM_EMU_TEAR_RANDOM) {
            switch (rnd(&e->seed) % 4) {
            case 0:
                break; /* not started */
            case 1:
                memset(dst, 0xFF, e->block_size); /* done, but power went before it reported */
                break;
            case 2:
                memset(dst, 0xFF, (size_t)(rnd(&e->seed) % e->block_size));
                break;
            default:
                for (uint32_t i = 0; i < e->block_size; i++) {
                    dst[i] |= (uint8_t)rnd(&e->seed); /* bits drifting towards 1 */
                }
            }
        }
        power_cut(e);
        return NM_ERR_IO;
    }
    memset(dst, 0xFF, e->block_size);
    e->n_erases++;
    return NM_OK;
}

static int emu_sync(const nm_store_config_t *c) {
    nm_bd_emu_t *e = dev(c);
    if (e->dead) {
        return NM_ERR_IO;
    }
    e->n_syncs++;
    e->n_pend = 0;
    return NM_OK;
}

void nm_bd_emu_attach(nm_bd_emu_t *e, nm_store_config_t *cfg) {
    cfg->context = e;
    cfg->read = emu_read;
    cfg->prog = emu_prog;
    cfg->erase = emu_erase;
    cfg->sync = emu_sync;
    cfg->block_size = e->block_size;
    cfg->prog_size = e->prog_size;
    cfg->block_count = e->block_count;
}

void nm_bd_emu_cut_after(nm_bd_emu_t *e, long n, int tear, uint64_t seed, int reorder) {
    e->countdown = n;
    e->tear = tear;
    e->seed = seed;
    e->reorder = reorder;
    e->n_pend = 0;
}

void nm_bd_emu_power_on(nm_bd_emu_t *e) {
    e->dead = 0;
    e->countdown = -1;
    e->n_pend = 0;
}

void nm_bd_emu_flip(nm_bd_emu_t *e, size_t addr, unsigned bit) {
    if (addr < e->size) {
        e->mem[addr] ^= (uint8_t)(1u << (bit & 7));
    }
}
