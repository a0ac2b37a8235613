/*
 * Host memory for loader tests: mmap'd blocks handed out through the
 * loader's callbacks, with a ledger (to prove nothing leaks), failure
 * injection (refuse the k-th allocation) and two protection modes:
 *   RWX      - every block is read/write/execute;
 *   MPROTECT - TEXT blocks start read/write and flush_cb turns them
 *              read/execute, as a W^X firmware would.
 */
#ifndef NATMOD_TEST_HOST_MEM_H
#define NATMOD_TEST_HOST_MEM_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS under -std=c11 */
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "natmod/loader.h"

enum { HM_RWX = 0, HM_MPROTECT = 1 };

typedef struct hm_block {
    void *map, *ptr;
    size_t maplen;
    unsigned kind;
    int live;
} hm_block_t;

typedef struct host_mem {
    int mode;
    int fail_at; /* 1-based allocation number to refuse; 0: never */
    int calls, live, flushes, bad_frees;
    size_t last_flush_len;
    hm_block_t b[32];
} host_mem_t;

static void *hm_alloc(void *ctx, size_t size, size_t align, unsigned kind) {
    host_mem_t *h = ctx;
    h->calls++;
    if (h->fail_at && h->calls == h->fail_at) {
        return NULL;
    }
    size_t page = 4096, extra = align > page ? align : 0;
    size_t maplen = (size + extra + page - 1) / page * page;
    int prot = PROT_READ | PROT_WRITE;
    if (h->mode == HM_RWX || kind == NM_MEM_IMAGE) {
        prot |= PROT_EXEC;
    }
    void *map = mmap(NULL, maplen, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        return NULL;
    }
    uintptr_t p = ((uintptr_t)map + align - 1) & ~(uintptr_t)(align - 1);
    memset(map, 0xCC, maplen); /* int3 filler: stray execution traps */
    for (int i = 0; i < 32; i++) {
        if (!h->b[i].live) {
            h->b[i] = (hm_block_t){map, (void *)p, maplen, kind, 1};
            h->live++;
            return (void *)p;
        }
    }
    munmap(map, maplen);
    return NULL;
}

static void hm_free(void *ctx, void *ptr, unsigned kind) {
    host_mem_t *h = ctx;
    for (int i = 0; i < 32; i++) {
        if (h->b[i].live && h->b[i].ptr == ptr) {
            if (h->b[i].kind != kind) {
                h->bad_frees++;
            }
            munmap(h->b[i].map, h->b[i].maplen);
            h->b[i].live = 0;
            h->live--;
            return;
        }
    }
    h->bad_frees++;
}

static void hm_flush(void *ctx, void *addr, size_t len) {
    host_mem_t *h = ctx;
    h->flushes++;
    h->last_flush_len = len;
    if (h->mode != HM_MPROTECT) {
        return;
    }
    for (int i = 0; i < 32; i++) {
        if (h->b[i].live && h->b[i].ptr == addr && h->b[i].kind == NM_MEM_TEXT) {
            mprotect(h->b[i].map, h->b[i].maplen, PROT_READ | PROT_EXEC);
        }
    }
}

#endif /* NATMOD_TEST_HOST_MEM_H */
