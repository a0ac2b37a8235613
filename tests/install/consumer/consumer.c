/*
 * consumer MODULE.nmod: a program built outside natmod's tree against an
 * installed natmod (find_package or pkg-config). It loads a module with the
 * installed runtime (libnatmod_runtime.a), its memory from mmap, its imports
 * from the export table the installed nm-gen-exports made, and calls it.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "natmod/loader.h"
#include "natmod/version.h"

extern const nm_export_t nm_fw_exports[];
extern const size_t nm_fw_n_exports;

#define MAX_BLOCKS 8
static struct {
    void *p;
    size_t len;
} blocks[MAX_BLOCKS];

static void *alloc_cb(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx;
    int prot = PROT_READ | PROT_WRITE | (kind != NM_MEM_RW ? PROT_EXEC : 0);
    if (align > 4096 || size == 0) {
        return NULL;
    }
    for (int i = 0; i < MAX_BLOCKS; i++) {
        if (!blocks[i].p) {
            void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                return NULL;
            }
            blocks[i].p = p;
            blocks[i].len = size;
            return p;
        }
    }
    return NULL;
}

static void free_cb(void *ctx, void *ptr, unsigned kind) {
    (void)ctx;
    (void)kind;
    for (int i = 0; i < MAX_BLOCKS; i++) {
        if (blocks[i].p == ptr) {
            munmap(ptr, blocks[i].len);
            blocks[i].p = NULL;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer MODULE.nmod\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    static unsigned char buf[1 << 16];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f || len == 0) {
        fprintf(stderr, "consumer: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    nm_loader_config_t cfg = {
        .arch = NM_ARCH_X64,
        .float_abi = NM_FLOAT_HARD,
        .exports = nm_fw_exports,
        .n_exports = nm_fw_n_exports,
        .alloc_cb = alloc_cb,
        .free_cb = free_cb,
    };
    nm_module_t m;
    nm_detail_t d;
    int err = nm_load(&cfg, &m, buf, len, &d);
    if (err) {
        fprintf(stderr, "consumer: %s: %s\n", argv[1], d.msg);
        return 1;
    }
    void *p1, *p2;
    if (nm_module_sym(&m, "twice", &p1, &d) || nm_module_sym(&m, "add_via_firmware", &p2, &d)) {
        fprintf(stderr, "consumer: %s: %s\n", argv[1], d.msg);
        return 1;
    }
    int (*twice)(int) = (int (*)(int))p1;
    int (*add)(int, int) = (int (*)(int, int))p2;
    printf("natmod runtime %s: twice(21) = %d, add_via_firmware(3, 4) = %d\n", NM_VERSION_STRING, twice(21),
           add(3, 4));
    nm_unload(&m);
    return 0;
}
