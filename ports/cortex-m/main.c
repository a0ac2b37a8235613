/*
 * Cortex-M board, RAM mode: load the module image that QEMU placed at
 * MODULE_ADDR (-device loader), run the call list placed at CALLS_ADDR
 * ("fn:arg,arg fn ... [--periph]", NUL-terminated), printing the same lines
 * as `natmod run`, then unload. Exit status: 0, or the positive NM_ERR_*.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natmod/loader.h"

#define MODULE_ADDR 0x00300000u
#define MODULE_MAX 0x000F0000u
#define CALLS_ADDR 0x003F0000u

extern const nm_export_t nm_fw_exports[];
extern const size_t nm_fw_n_exports;
void board_periph_dump(void);

/* A bump allocator over a static pool; free releases everything above the
 * block freed (the loader frees in reverse order of allocation). */
static uint8_t pool[64 * 1024] __attribute__((aligned(8)));
static size_t pool_top, pool_peak;

static void *alloc_cb(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx;
    (void)kind;
    size_t at = (pool_top + align - 1) & ~(align - 1);
    if (at > sizeof pool || size > sizeof pool - at) {
        return NULL;
    }
    pool_top = at + size;
    pool_peak = pool_top > pool_peak ? pool_top : pool_peak;
    return pool + at;
}

static void free_cb(void *ctx, void *p, unsigned kind) {
    (void)ctx;
    (void)kind;
    if ((uint8_t *)p >= pool && (uint8_t *)p < pool + sizeof pool && (size_t)((uint8_t *)p - pool) < pool_top) {
        pool_top = (size_t)((uint8_t *)p - pool);
    }
}

typedef long (*fn6_t)(long, long, long, long, long, long);

int main(void) {
    nm_loader_config_t cfg = {
        .arch = BOARD_ARCH,
        .float_abi = BOARD_FLOAT,
        .exports = nm_fw_exports,
        .n_exports = nm_fw_n_exports,
        .alloc_cb = alloc_cb,
        .free_cb = free_cb,
    };
    static char calls[512];
    memcpy(calls, (const void *)CALLS_ADDR, sizeof calls - 1);
    nm_module_t m;
    nm_detail_t d = {{0}};
    int err = nm_load(&cfg, &m, (const void *)MODULE_ADDR, MODULE_MAX, &d);
    if (err) {
        printf("error: %s\n", d.msg);
        return -err;
    }
    int periph = 0;
    for (char *tok = strtok(calls, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (!strcmp(tok, "--periph")) {
            periph = 1;
            continue;
        }
        long a[6] = {0};
        int n = 0;
        char *colon = strchr(tok, ':');
        if (colon) {
            *colon = 0;
            for (char *p = colon + 1; *p && n < 6;) {
                a[n++] = strtol(p, &p, 0);
                p += *p == ',';
            }
        }
        void *f;
        if ((err = nm_module_sym(&m, tok, &f, &d)) != 0) {
            printf("error: %s\n", d.msg);
            nm_unload(&m);
            return -err;
        }
        int r = (int)((fn6_t)(uintptr_t)f)(a[0], a[1], a[2], a[3], a[4], a[5]);
        printf("%s(", tok);
        for (int k = 0; k < n; k++) {
            printf("%s%ld", k ? ", " : "", a[k]);
        }
        printf(") = %d\n", r);
    }
    if (periph) {
        board_periph_dump();
    }
    nm_unload(&m);
    if (periph) {
        board_periph_dump();
    }
    return 0;
}
