/*
 * natmod-board: the host board as a program.
 *
 *   natmod-board [OPTIONS] MODULE.nmod FN [ARGS...]
 *   natmod-board [OPTIONS] --script FILE      ("-" reads stdin)
 *
 * Script lines (blank lines and `#` comments ignored):
 *   load NAME PATH [ram|xip]  load PATH as module NAME (up to 16 at once):
 *                         copied to RAM, or installed in the board's flash
 *                         image and run in place (default: ram, or xip
 *                         with --xip)
 *   call NAME FN ARGS...  call export FN of NAME with up to 6 integer args
 *   unload NAME           unload NAME (runs its deinit)
 *   periph                print the simulated peripheral registers
 *   stats                 print the loader's memory counters
 *
 * A call prints `FN(args) = value`. Exit status 0, or the positive value of
 * the NM_ERR_* that failed, after one `error: ...` line on stderr that names
 * the file (and the script line) and the loader's detail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

#define MAX_MODULES 16
#define MAX_LINE 1024
#define MAX_WORDS (3 + NM_HOST_MAX_ARGS + 1)

typedef struct slot {
    char name[64];
    nm_module_t m;
    int used;
} slot_t;

static int opt_long;
static int opt_xip; /* default load mode: execute in place */

static void usage(FILE *f) {
    fprintf(f,
            "usage: natmod-board [OPTIONS] MODULE.nmod FN [ARGS...]\n"
            "       natmod-board [OPTIONS] --script FILE\n"
            "options:\n"
            "  --long        print results as the whole 64-bit return register (default: int)\n"
            "  --rwx         map code read-write-execute (no W^X)\n"
            "  --xip         execute in place: install the module in the flash image and run\n"
            "                its text from there; only data + bss take RAM (the default mode\n"
            "                of `load` in a script)\n"
            "  --flash FILE  the flash image for --xip (created if missing; default: in memory)\n"
            "  --stats       print the loader's memory counters before exiting\n"
            "script commands: load NAME PATH [ram|xip] | call NAME FN ARGS... | unload NAME |\n"
            "                 periph | stats\n");
}

static int fail(int err, const char *where, const char *what, const nm_detail_t *d) {
    fprintf(stderr, "error: %s: %s%s%s\n", where, what,
            d && d->msg[0] ? ": " : "", d && d->msg[0] ? d->msg : "");
    return err < 0 ? -err : err;
}

static int parse_args(int n, char **words, long *out, const char *where) {
    for (int i = 0; i < n; i++) {
        char *e;
        errno = 0;
        long v = strtol(words[i], &e, 0);
        if (errno || !*words[i] || *e) {
            /* Accept a full-range unsigned value too (0xFFFFFFFFFFFFFFFF). */
            errno = 0;
            unsigned long u = strtoul(words[i], &e, 0);
            if (errno || !*words[i] || *e || words[i][0] == '-') {
                char msg[160];
                snprintf(msg, sizeof msg, "argument `%s` is not an integer", words[i]);
                return fail(NM_ERR_INVAL, where, msg, NULL);
            }
            v = (long)u;
        }
        out[i] = v;
    }
    return 0;
}

static void print_result(const char *fn, int argc, char **argv_words, long r) {
    printf("%s(", fn);
    for (int i = 0; i < argc; i++) {
        printf("%s%s", i ? ", " : "", argv_words[i]);
    }
    if (opt_long) {
        printf(") = %ld\n", r);
    } else {
        printf(") = %d\n", (int)r);
    }
    fflush(stdout);
}

static int do_call(nm_module_t *m, const char *where, const char *fn, int argc, char **words) {
    long args[NM_HOST_MAX_ARGS], r = 0;
    nm_detail_t d = {{0}};
    if (argc > NM_HOST_MAX_ARGS) {
        return fail(NM_ERR_INVAL, where, "too many arguments (at most 6)", NULL);
    }
    int rc = parse_args(argc, words, args, where);
    if (rc) {
        return rc;
    }
    fflush(stdout);
    int err = nm_host_call(m, fn, argc, args, &r, &d);
    if (err) {
        char msg[160];
        snprintf(msg, sizeof msg, "call %s: %s", fn, nm_strerror(err));
        return fail(err, where, msg, &d);
    }
    print_result(fn, argc, words, r);
    return 0;
}

static void print_stats(const nm_host_board_t *b) {
    const nm_host_stats_t *s = &b->stats;
    printf("stats: live=%zu peak=%zu bytes (mapped live=%zu peak=%zu) text=%zu rw=%zu image=%zu "
           "allocs=%lu frees=%lu live_allocs=%u flushes=%lu flash=%zu\n",
           s->cur_bytes, s->peak_bytes, s->cur_mapped, s->peak_mapped, s->cur_by_kind[NM_MEM_TEXT],
           s->cur_by_kind[NM_MEM_RW], s->cur_by_kind[NM_MEM_IMAGE], s->n_allocs, s->n_frees,
           s->live_allocs, s->n_flushes, b->flash_used);
}

static int load_into(nm_host_board_t *b, nm_module_t *m, const char *where, const char *path,
                     int xip) {
    nm_detail_t d = {{0}};
    fflush(stdout);
    int err = xip ? nm_host_load_xip_file(b, path, m, &d) : nm_host_load_file(b, path, m, &d);
    if (err) {
        char msg[300];
        /* Name the file once: it is the whole "where" on the command line. */
        if (strcmp(where, path)) {
            snprintf(msg, sizeof msg, "%s: load failed: %s", path, nm_strerror(err));
        } else {
            snprintf(msg, sizeof msg, "load failed: %s", nm_strerror(err));
        }
        return fail(err, where, msg, &d);
    }
    return 0;
}

static slot_t *find_slot(slot_t *slots, const char *name) {
    for (int i = 0; i < MAX_MODULES; i++) {
        if (slots[i].used && !strcmp(slots[i].name, name)) {
            return &slots[i];
        }
    }
    return NULL;
}

static int run_script(nm_host_board_t *b, const char *path) {
    static slot_t slots[MAX_MODULES];
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        return fail(NM_ERR_IO, path, strerror(errno), NULL);
    }
    char line[MAX_LINE];
    unsigned lineno = 0;
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char where[600];
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = fail(NM_ERR_INVAL, where, "line too long", NULL);
            break;
        }
        char *words[MAX_WORDS + 1];
        int n = 0;
        for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
            if (tok[0] == '#') {
                break;
            }
            if (n == MAX_WORDS + 1) {
                n++;
                break;
            }
            words[n++] = tok;
        }
        if (n == 0) {
            continue;
        }
        if (n > MAX_WORDS) {
            rc = fail(NM_ERR_INVAL, where, "too many words (a call takes at most 6 arguments)", NULL);
            break;
        }
        const char *cmd = words[0];
        if (!strcmp(cmd, "load") && (n == 3 || n == 4)) {
            int xip = n == 4 ? !strcmp(words[3], "xip") : opt_xip;
            if (n == 4 && !xip && strcmp(words[3], "ram")) {
                char msg[200];
                snprintf(msg, sizeof msg, "bad load mode `%.64s` (ram or xip)", words[3]);
                rc = fail(NM_ERR_INVAL, where, msg, NULL);
                break;
            }
            if (find_slot(slots, words[1])) {
                rc = fail(NM_ERR_BUSY, where, "a module of that name is loaded", NULL);
                break;
            }
            slot_t *s = NULL;
            for (int i = 0; i < MAX_MODULES && !s; i++) {
                s = slots[i].used ? NULL : &slots[i];
            }
            if (!s || strlen(words[1]) >= sizeof s->name) {
                rc = fail(NM_ERR_INVAL, where, s ? "name too long" : "too many modules (16)", NULL);
                break;
            }
            rc = load_into(b, &s->m, where, words[2], xip);
            if (!rc) {
                snprintf(s->name, sizeof s->name, "%s", words[1]);
                s->used = 1;
            }
        } else if (!strcmp(cmd, "call") && n >= 3) {
            slot_t *s = find_slot(slots, words[1]);
            rc = s ? do_call(&s->m, where, words[2], n - 3, words + 3)
                   : fail(NM_ERR_NOENT, where, "no module loaded under that name", NULL);
        } else if (!strcmp(cmd, "unload") && n == 2) {
            slot_t *s = find_slot(slots, words[1]);
            if (!s) {
                rc = fail(NM_ERR_NOENT, where, "no module loaded under that name", NULL);
                break;
            }
            fflush(stdout);
            int err = nm_host_unload(b, &s->m);
            s->used = 0;
            if (err) {
                rc = fail(err, where, "unload failed", NULL);
            }
        } else if (!strcmp(cmd, "periph") && n == 1) {
            fflush(stdout);
            nm_host_periph_dump(stdout);
        } else if (!strcmp(cmd, "stats") && n == 1) {
            print_stats(b);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "bad command `%.64s` (load NAME PATH [ram|xip] | "
                                      "call NAME FN ARGS... | unload NAME | periph | stats)", cmd);
            rc = fail(NM_ERR_INVAL, where, msg, NULL);
        }
    }
    if (!rc && ferror(f)) {
        rc = fail(NM_ERR_IO, path, "read error", NULL);
    }
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

int main(int argc, char **argv) {
    nm_host_board_opts_t opts = {0};
    const char *script = NULL;
    int stats = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--long")) {
            opt_long = 1;
        } else if (!strcmp(argv[i], "--rwx")) {
            opts.map_rwx = 1;
        } else if (!strcmp(argv[i], "--xip")) {
            opt_xip = 1;
        } else if (!strcmp(argv[i], "--flash") && i + 1 < argc) {
            opts.flash_path = argv[++i];
        } else if (!strcmp(argv[i], "--stats")) {
            stats = 1;
        } else if (!strcmp(argv[i], "--script") && i + 1 < argc) {
            script = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return -NM_ERR_INVAL;
        }
    }
    if (script ? i != argc : argc - i < 2) {
        usage(stderr);
        return -NM_ERR_INVAL;
    }

    nm_host_board_t board;
    nm_host_board_init(&board, &opts);
    int rc;
    if (script) {
        rc = run_script(&board, script);
    } else {
        nm_module_t m;
        rc = load_into(&board, &m, argv[i], argv[i], opt_xip);
        if (!rc) {
            rc = do_call(&m, argv[i], argv[i + 1], argc - i - 2, argv + i + 2);
            fflush(stdout);
            nm_host_unload(&board, &m);
        }
    }
    fflush(stdout);
    nm_host_board_deinit(&board); /* unloads what a script left loaded */
    fflush(stdout);
    if (stats) {
        print_stats(&board);
    }
    if (!rc && board.stats.n_bad_frees) {
        rc = fail(NM_ERR_INVAL, "natmod-board", "the loader freed memory it was not given", NULL);
    }
    return rc;
}
