/*
 * bench_load MODULE.nmod...
 * For each module, on the host board: the time to load (verify, resolve,
 * place, relocate, flush, init) and unload, median over many cycles, and the
 * RAM the loader takes beyond the module's own text + data + bss.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natmod/format.h"
#include "natmod/loader.h"
#include "board.h"

#define CYCLES 301

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    FILE *devnull = fopen("/dev/null", "w");
    printf("%-10s %9s %9s %6s %6s %5s | %6s %5s %6s %8s %8s %6s\n", "module", "load+init", "unload",
           "text", "data", "bss", "asked", "align", "descr", "GOT", "overhead", "target");
    printf("%-10s %9s %9s %6s %6s %5s | %6s %5s %6s %8s %8s %6s\n", "", "median us", "median us",
           "bytes", "bytes", "bytes", "bytes", "pad", "bytes", "n x ptr", "descr+GOT", "");
    int rc = 0;
    for (int a = 1; a < argc; a++) {
        size_t len;
        uint8_t *buf = read_all(argv[a], &len);
        nm_slice_info_t si;
        nm_detail_t d = {{0}};
        nm_image_t img;
        if (!buf || nm_select_slice(buf, len, NM_ARCH_X64, NM_FLOAT_HARD, &si, &d) ||
            nm_image_parse(buf + si.offset, si.size, &img, &d)) {
            fprintf(stderr, "bench_load: %s: cannot use: %s\n", argv[a], d.msg);
            rc = 1;
            free(buf);
            continue;
        }
        nm_host_board_t board;
        nm_host_board_opts_t opts = {.console = devnull};
        nm_host_board_init(&board, &opts);
        static double tl[CYCLES], tu[CYCLES];
        for (int i = 0; i < CYCLES; i++) {
            nm_module_t m;
            double t0 = now_us();
            int err = nm_host_load(&board, buf, len, &m, &d);
            double t1 = now_us();
            if (err) {
                fprintf(stderr, "bench_load: %s: %s\n", argv[a], d.msg);
                rc = 1;
                break;
            }
            nm_host_unload(&board, &m);
            tl[i] = t1 - t0;
            tu[i] = now_us() - t1;
        }
        nm_host_board_deinit(&board);
        qsort(tl, CYCLES, sizeof tl[0], cmp_double);
        qsort(tu, CYCLES, sizeof tu[0], cmp_double);
        size_t ptr = nm_arch_ptr_size(img.arch);
        size_t got = (size_t)img.got_count * ptr;
        size_t own = img.text_size + (img.data_size - got) + img.bss_size;
        size_t asked = board.stats.peak_bytes;
        size_t padding = asked - own - got;
        size_t overhead = sizeof(nm_module_t) + got;
        size_t target = 64 + ptr * (size_t)img.got_count;
        const char *name = strrchr(argv[a], '/');
        name = name ? name + 1 : argv[a];
        char shortname[11], gotcol[16];
        snprintf(shortname, sizeof shortname, "%.*s", (int)strcspn(name, "."), name);
        snprintf(gotcol, sizeof gotcol, "%ux%zu", (unsigned)img.got_count, ptr);
        printf("%-10s %9.1f %9.1f %6u %6zu %5u | %6zu %5zu %6zu %8s %8zu %6zu%s\n", shortname,
               tl[CYCLES / 2], tu[CYCLES / 2], (unsigned)img.text_size, img.data_size - got,
               (unsigned)img.bss_size, asked, padding, sizeof(nm_module_t), gotcol, overhead, target,
               overhead <= target ? "" : "  OVER");
        free(buf);
    }
    printf("\nasked = bytes the loader requested from the board (text + data + GOT + bss +\n"
           "align pad: RW starts at the next rw_align boundary after text); descr =\n"
           "sizeof(nm_module_t), the loader's only per-module RAM; overhead = descr + GOT,\n"
           "the RAM beyond the module's own text + data + bss; target = 64 + one pointer per\n"
           "GOT entry (4 bytes on 32-bit targets, 8 on x86-64).\n");
    fclose(devnull);
    return rc;
}
