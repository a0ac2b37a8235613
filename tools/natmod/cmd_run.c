/* natmod run: load a module on the host board, call exports, unload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "cli.h"
#include "natmod/format.h"

#define MAX_FN 128

static void run_help(void) {
    puts("usage: natmod run [--periph] [--stats] MODULE [FN[:ARG,ARG...]]...\n"
         "\n"
         "Load MODULE (a slice or a universal module: the x86_64 slice is used) on the\n"
         "host board, which runs its nm_init; call each FN in turn with up to 6 integer\n"
         "arguments, printing `FN(ARGS) = RESULT` (RESULT as a C int); then unload it\n"
         "(running nm_deinit). The module's own output goes to stdout.\n"
         "\n"
         "  --periph   print the simulated peripherals before and after unload\n"
         "  --stats    print the loader's memory use (to stderr)");
}

/* Split "fn:1,-2,0x10" into name and integer args. */
static int parse_call(const char *spec, char *fn, int *argc, long args[]) {
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= MAX_FN) {
        return cli_fail(NM_ERR_INVAL, "run: bad call '%s' (FN or FN:ARG,ARG...)", spec);
    }
    memcpy(fn, spec, n);
    fn[n] = 0;
    *argc = 0;
    if (!colon) {
        return 0;
    }
    const char *p = colon + 1;
    while (*p) {
        if (*argc == NM_HOST_MAX_ARGS) {
            return cli_fail(NM_ERR_INVAL, "run: '%s': at most %d arguments", spec, NM_HOST_MAX_ARGS);
        }
        char *end;
        errno = 0;
        long v = strtol(p, &end, 0);
        if (end == p || errno || (*end && *end != ',')) {
            return cli_fail(NM_ERR_INVAL, "run: '%s': argument %d is not an integer", spec, *argc + 1);
        }
        args[(*argc)++] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    int periph = 0, stats = 0, first_call = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_help();
            return 0;
        } else if (!strcmp(a, "--periph")) {
            periph = 1;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
            return cli_fail(NM_ERR_INVAL, "run: unknown option '%s' (see natmod run --help)", a);
        } else if (!path) {
            path = a;
        } else if (!first_call) {
            first_call = i;
        }
    }
    if (!path) {
        return cli_fail(NM_ERR_INVAL, "run: no module given (see natmod run --help)");
    }
    /* Check every call spec before loading anything. */
    for (int i = first_call; first_call && i < argc; i++) {
        char fn[MAX_FN];
        int n;
        long args[NM_HOST_MAX_ARGS];
        if (argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            continue;
        }
        int rc = parse_call(argv[i], fn, &n, args);
        if (rc) {
            return rc;
        }
    }
    /* Every called function must be an export, checked before the module's
     * init runs. A file that does not parse is left to the loader, which
     * says why. */
    uint8_t *buf;
    size_t len;
    if (first_call && cli_read_file(path, &buf, &len) == NM_OK) {
        nm_slice_info_t si;
        nm_image_t img;
        nm_detail_t pd = {{0}};
        int missing = 0;
        if (!nm_select_slice(buf, len, NM_ARCH_X64, NM_FLOAT_HARD, &si, &pd) &&
            !nm_image_parse(buf + si.offset, si.size, &img, &pd)) {
            for (int i = first_call; i < argc && !missing; i++) {
                char fn[MAX_FN];
                int n;
                long args[NM_HOST_MAX_ARGS];
                if ((argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9')) ||
                    parse_call(argv[i], fn, &n, args)) {
                    continue;
                }
                int found = 0;
                for (uint32_t k = 0; k < img.n_exports && !found; k++) {
                    nm_export_info_t ex;
                    found = !nm_image_export(&img, k, &ex) && !strcmp(ex.name, fn);
                }
                if (!found) {
                    missing = cli_fail(NM_ERR_NOENT, "%s: module '%s' has no export '%s'", path,
                                       img.strtab, fn);
                }
            }
        }
        free(buf);
        if (missing) {
            return missing;
        }
    }
    nm_host_board_t board;
    nm_host_board_opts_t opts = {0};
    int err = nm_host_board_init(&board, &opts);
    if (err) {
        return cli_fail(err, "run: host board init failed: %s", nm_strerror(err));
    }
    nm_module_t mod;
    nm_detail_t d = {{0}};
    err = nm_host_load_file(&board, path, &mod, &d);
    if (err) {
        nm_host_board_deinit(&board);
        return cli_fail(err, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(err));
    }
    fflush(stdout);
    int rc = 0;
    for (int i = first_call; first_call && i < argc && !rc; i++) {
        char fn[MAX_FN];
        int n;
        long args[NM_HOST_MAX_ARGS], result = 0;
        if (argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            continue;
        }
        parse_call(argv[i], fn, &n, args);
        err = nm_host_call(&mod, fn, n, args, &result, &d);
        if (err) {
            rc = cli_fail(err, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(err));
            break;
        }
        printf("%s(", fn);
        for (int k = 0; k < n; k++) {
            printf("%s%ld", k ? ", " : "", args[k]);
        }
        printf(") = %d\n", (int)result);
        fflush(stdout);
    }
    if (periph) {
        nm_host_periph_dump(stdout);
    }
    if (stats) {
        fprintf(stderr, "loader: peak %zu bytes (%zu mapped), %lu allocations\n",
                board.stats.peak_bytes, board.stats.peak_mapped, board.stats.n_allocs);
    }
    err = nm_host_unload(&board, &mod);
    if (err && !rc) {
        rc = cli_fail(err, "%s: unload: %s", path, nm_strerror(err));
    }
    if (periph) {
        nm_host_periph_dump(stdout);
    }
    nm_host_board_deinit(&board);
    return rc;
}
