#define _DEFAULT_SOURCE /* mmap flags under -std=c11 */
/*
 * Loads every file of tests/corpus/nmod through nm_load on an x86_64/hard
 * host board and checks the result against EXPECTED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "host_mem.h"
#include "natmod/loader.h"

static const struct {
    const char *name;
    int code;
} codes[] = {
    {"NM_OK", NM_OK}, {"NM_ERR_TRUNCATED", NM_ERR_TRUNCATED}, {"NM_ERR_MAGIC", NM_ERR_MAGIC},
    {"NM_ERR_VERSION", NM_ERR_VERSION}, {"NM_ERR_ARCH", NM_ERR_ARCH}, {"NM_ERR_FLOAT_ABI", NM_ERR_FLOAT_ABI},
    {"NM_ERR_CRC", NM_ERR_CRC}, {"NM_ERR_CORRUPT", NM_ERR_CORRUPT}, {"NM_ERR_RELOC", NM_ERR_RELOC},
    {"NM_ERR_NOSYM", NM_ERR_NOSYM}, {"NM_ERR_NOMEM", NM_ERR_NOMEM}, {"NM_ERR_INIT", NM_ERR_INIT},
};

static volatile int marker;
static int host_add(int a, int b) {
    return a + b;
}

static int cmp_export(const void *a, const void *b) {
    const nm_export_t *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_corpus DIR\n");
        return 2;
    }
    nm_export_t ex[2] = {
        {nm_hash("host_add"), "host_add", (const void *)(uintptr_t)host_add, nm_hash("int (int, int)"),
         "int (int, int)"},
        {nm_hash("marker"), "marker", (const void *)&marker, 0, NULL},
    };
    qsort(ex, 2, sizeof ex[0], cmp_export);
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/EXPECTED", argv[1]);
    FILE *list = fopen(path, "r");
    CHECK(list != NULL);
    if (!list) {
        return 1;
    }
    int files = 0;
    while (fgets(line, sizeof line, list)) {
        char file[128], want[64];
        if (line[0] == '#' || sscanf(line, "%127s %63s", file, want) != 2) {
            continue;
        }
        int code = 1;
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
            if (strcmp(codes[i].name, want) == 0) {
                code = codes[i].code;
            }
        }
        CHECK(code != 1);
        snprintf(path, sizeof path, "%s/%s", argv[1], file);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (!f) {
            continue;
        }
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* an exact-size copy lets ASan catch any read past the end */
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, buf, len);
        host_mem_t h = {0};
        nm_loader_config_t cfg = {.arch = NM_ARCH_X64, .float_abi = NM_FLOAT_HARD, .exports = ex, .n_exports = 2,
                                  .alloc_cb = hm_alloc, .free_cb = hm_free, .flush_cb = hm_flush, .context = &h};
        nm_module_t m;
        nm_detail_t d = {{0}};
        int rc = nm_load(&cfg, &m, b, len, &d);
        printf("%-36s %-18s %s\n", file, rc == code ? "ok" : "MISMATCH", d.msg);
        CHECK_EQ(rc, code);
        if (rc != NM_OK) {
            CHECK(d.msg[0] != '\0'); /* every refusal says why */
        } else {
            nm_unload(&m);
        }
        CHECK_EQ(h.live, 0);
        free(b);
        files++;
    }
    fclose(list);
    CHECK(files >= 20);
    return TEST_DONE();
}
