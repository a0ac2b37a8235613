/* natmod run: load a module on the host board (from a file, or in place
 * from a store image), call exports, unload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "cli.h"
#include "cli_sign.h"
#include "natmod/format.h"

#define MAX_FN 128

static void run_help(void) {
    puts("usage: natmod run [--xip] [--map] [--periph] [--stats] MODULE [FN[:ARG,ARG...]]...\n"
         "       natmod run --store IMAGE [--map] [--periph] [--stats] NAME [FN[:ARG,ARG...]]...\n"
         "\n"
         "Load MODULE (a slice or a universal module: the x86_64 slice is used) on the\n"
         "host board, which runs its nm_init; call each FN in turn with up to 6 integer\n"
         "arguments, printing `FN(ARGS) = RESULT` (RESULT as a C int); then unload it\n"
         "(running nm_deinit). The module's own output goes to stdout.\n"
         "\n"
         "  --xip      execute in place: install the slice in the board's flash image and\n"
         "             run its text from there (only data + bss take RAM)\n"
         "  --store IMAGE  run the module installed as NAME in the store image IMAGE\n"
         "             (natmod store) in place: its extent's pages are mapped from the\n"
         "             image read+execute, RW right after them (implies --xip); the\n"
         "             store checks its CRC first. With --block-size/--prog-size/--align\n"
         "             for an image not made with the defaults\n"
         "  --map      print the board's virtual address map once the module is loaded:\n"
         "             the window region, then one line per block (its flash pages\n"
         "             read+execute, its RAM pages right after them) (implies --xip)\n"
         "  --periph   print the simulated peripherals before and after unload\n"
         "  --stats    print the loader's memory use (to stderr)\n"
         "  --trust K.pub  the board takes only modules signed by this key (repeatable;\n"
         "             refused with exit 24 otherwise: docs/trust.md)");
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

struct call {
    char fn[MAX_FN];
    int n;
    long args[NM_HOST_MAX_ARGS];
};

static int is_option(const char *a) {
    return a[0] == '-' && !(a[1] >= '0' && a[1] <= '9');
}

/* 0 if every called function is an export of the module in buf, checked
 * before the module's init runs; a module that does not parse is left to
 * the loader (or the store), which says why. what names it in messages. */
static int check_exports_buf(const char *what, const uint8_t *buf, size_t len,
                             const struct call *calls, int ncalls) {
    nm_slice_info_t si;
    nm_image_t img;
    nm_detail_t d = {{0}};
    int rc = 0;
    if (!nm_select_slice(buf, len, NM_ARCH_X64, NM_FLOAT_HARD, &si, &d) &&
        !nm_image_parse(buf + si.offset, si.size, &img, &d)) {
        for (int c = 0; c < ncalls && !rc; c++) {
            int found = 0;
            for (uint32_t k = 0; k < img.n_exports && !found; k++) {
                nm_export_info_t ex;
                found = !nm_image_export(&img, k, &ex) && !strcmp(ex.name, calls[c].fn);
            }
            if (!found) {
                rc = cli_fail(NM_ERR_NOENT, "%s: module '%s' has no export '%s'", what, img.strtab,
                              calls[c].fn);
            }
        }
    }
    return rc;
}

static int check_exports(const char *path, const struct call *calls, int ncalls) {
    uint8_t *buf;
    size_t len;
    if (!ncalls || cli_read_file(path, &buf, &len) != NM_OK) {
        return 0;
    }
    int rc = check_exports_buf(path, buf, len, calls, ncalls);
    free(buf);
    return rc;
}

/* The same for a module in a store: its extent read from the image. */
static int check_store_exports(const char *what, const cli_store_t *cs, const char *name,
                               const struct call *calls, int ncalls) {
    const nm_store_entry_t *e = nm_store_find(&cs->s, name);
    uint8_t *buf = e && ncalls ? malloc(e->size) : NULL;
    if (!buf) {
        return 0;
    }
    /* Read block by block through the device, which bounds-checks; a
     * read error is left to the load, which reports it. */
    uint32_t bs = cs->cfg.block_size, got = 0;
    int ok = 1;
    while (ok && got < e->size) {
        uint32_t n = e->size - got < bs ? e->size - got : bs;
        ok = cs->cfg.read(&cs->cfg, e->start + got / bs, 0, buf + got, n) == NM_OK;
        got += n;
    }
    int rc = ok ? check_exports_buf(what, buf, e->size, calls, ncalls) : 0;
    free(buf);
    return rc;
}

int cmd_run(int argc, char **argv) {
    int periph = 0, stats = 0, xip = 0, show_map = 0, ncalls = 0;
    const char *path = NULL, *image = NULL;
    cli_geometry_t geom = {0, 0, 0};
    int geom_given = 0;
    struct call *calls = calloc((size_t)argc, sizeof *calls);
    if (!calls) {
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    /* Parse and check everything before loading anything. */
    static cli_trust_t trust; /* --trust: the board's signature policy */
    int trc = cli_trust_take(&argc, argv, &trust);
    if (trc) {
        free(calls);
        return trc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_help();
        } else if (!strcmp(a, "--periph")) {
            periph = 1;
            continue;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
            continue;
        } else if (!strcmp(a, "--xip")) {
            xip = 1;
            continue;
        } else if (!strcmp(a, "--map")) {
            show_map = xip = 1;
            continue;
        } else if (!strcmp(a, "--store")) {
            if ((image = cli_optarg(argc, argv, &i))) {
                continue;
            }
            rc = cli_exit_code(NM_ERR_INVAL);
        } else if ((rc = cli_geometry_opt(argc, argv, &i, &geom)) != 0) {
            if (rc > 0) {
                geom_given = 1;
                continue;
            }
            rc = cli_exit_code(rc);
        } else if (is_option(a)) {
            rc = cli_fail(NM_ERR_INVAL, "run: unknown option '%s' (see natmod run --help)", a);
        } else if (!path) {
            path = a;
            continue;
        } else {
            struct call *c = &calls[ncalls++];
            if (!(rc = parse_call(a, c->fn, &c->n, c->args))) {
                continue;
            }
        }
        free(calls);
        return rc;
    }
    int rc = 0;
    if (!path) {
        rc = cli_fail(NM_ERR_INVAL, "run: no %s given (see natmod run --help)",
                      image ? "module NAME" : "module");
    } else if (geom_given && !image) {
        rc = cli_fail(NM_ERR_INVAL, "run: --block-size, --prog-size and --align need --store");
    }
    /* A store module always runs in place: its text is in the image. */
    xip |= image != NULL;
    /* The store is mounted before the board exists and goes after it: a
     * module from it stays pinned until the board unloads it. */
    cli_store_t *cs = NULL;
    char what[512];
    if (!rc && image) {
        snprintf(what, sizeof what, "store %s", image);
        if (!(rc = cli_store_open(image, &geom, NULL, 0, &cs))) {
            rc = nm_store_find(&cs->s, path)
                     ? check_store_exports(what, cs, path, calls, ncalls)
                     : cli_fail(NM_ERR_NOENT, "store %s: module '%s' is not installed", image, path);
        }
    } else if (!rc) {
        snprintf(what, sizeof what, "%s", path);
        rc = check_exports(path, calls, ncalls);
    }
    if (rc) {
        cli_store_close(cs);
        free(calls);
        return rc;
    }
    nm_host_board_t board;
    nm_host_board_opts_t opts = {0};
    int err = nm_host_board_init(&board, &opts);
    if (err) {
        cli_store_close(cs);
        free(calls);
        return cli_fail(err, "run: host board init failed: %s", nm_strerror(err));
    }
    board.cfg.trusted_keys = (const uint8_t(*)[NM_PUBKEY_SIZE])trust.keys;
    board.cfg.n_trusted_keys = trust.n;
    nm_module_t mod;
    nm_detail_t d = {{0}};
    if (cs) {
        err = nm_host_load_store(&board, &cs->s, cs->bd.fd, path, &mod, &d);
    } else {
        err = xip ? nm_host_load_xip_file(&board, path, &mod, &d) : nm_host_load_file(&board, path, &mod, &d);
    }
    if (err) {
        nm_host_board_deinit(&board);
        rc = cs ? cli_store_fail(cs, err, &d)
                : cli_fail(err, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(err));
        cli_store_close(cs);
        free(calls);
        return rc;
    }
    if (show_map) {
        printf("vmap of the host board (module text at %p, RW at %p):\n", (void *)mod.text,
               (void *)mod.rw);
        nm_host_vmap_dump(&board, stdout);
    }
    fflush(stdout);
    for (int i = 0; i < ncalls && !rc; i++) {
        const struct call *c = &calls[i];
        long result = 0;
        err = nm_host_call(&mod, c->fn, c->n, c->args, &result, &d);
        if (err) {
            rc = cli_fail(err, "%s: %s", what, d.msg[0] ? d.msg : nm_strerror(err));
            break;
        }
        printf("%s(", c->fn);
        for (int k = 0; k < c->n; k++) {
            printf("%s%ld", k ? ", " : "", c->args[k]);
        }
        printf(") = %d\n", (int)result);
        fflush(stdout);
    }
    if (periph) {
        nm_host_periph_dump(stdout);
    }
    if (stats) {
        fprintf(stderr, "loader: peak %zu bytes (%zu mapped), %lu allocations%s\n",
                board.stats.peak_bytes, board.stats.peak_mapped, board.stats.n_allocs,
                xip ? ", text in flash" : "");
    }
    err = nm_host_unload(&board, &mod);
    if (err && !rc) {
        rc = cli_fail(err, "%s: unload: %s", what, nm_strerror(err));
    }
    if (periph) {
        nm_host_periph_dump(stdout);
    }
    nm_host_board_deinit(&board);
    cli_store_close(cs);
    free(calls);
    return rc;
}
