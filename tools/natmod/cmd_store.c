/*
 * natmod store: make and manage a module store image offline (format,
 * install, rm, ls, defrag, stat, check, map). The image is the store's flash
 * partition byte for byte (src/store/bd_file.c), laid out as on a device
 * (docs/store.md), so it can be flashed as it is, or run from on the host
 * board with natmod run --store.
 *
 * The store runs in copy mode for the host board: installs keep the
 * x86_64 slice as it is (RW_PCREL), extents start on 4096-byte pages, and
 * the board maps an extent's pages with RW right after them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "board.h"
#include "cli.h"
#include "cli_sign.h"
#include "natmod/format.h"
#include "store_map.h"

#define DEF_BLOCK 4096u
#define DEF_PROG 16u
#define DEF_ALIGN 4096u
#define DEF_SIZE (1u << 20)

static void store_help(void) {
    puts("usage: natmod store COMMAND IMAGE [ARGS...]\n"
         "\n"
         "A module store image: a flash partition that holds installed modules, each\n"
         "one contiguous extent that runs in place (docs/store.md). Every change is\n"
         "power-loss safe: one metadata record commits it.\n"
         "\n"
         "  format  IMAGE [--size BYTES | --blocks N] [--meta-blocks M]\n"
         "                          create an empty store (default 1M; K and M suffixes)\n"
         "  install IMAGE MODULE.nmod [--name NAME] [--trust K.pub]...\n"
         "                          write the x86_64 slice as NAME (default: the module's\n"
         "                          name); an installed NAME is replaced atomically.\n"
         "                          With --trust, only a module signed by one of those\n"
         "                          keys and not older than the installed one (exit 24)\n"
         "  rm      IMAGE NAME      remove a module\n"
         "  ls      IMAGE           list modules (offset, size, blocks, arch, crc, flags)\n"
         "  defrag  IMAGE [--budget BLOCKS]\n"
         "                          move modules down so free space is one run, copying\n"
         "                          at most BLOCKS blocks (default 0: no limit)\n"
         "  stat    IMAGE           space, metadata log, damage counters\n"
         "  check   IMAGE           verify every module's CRC; exit 8 if one is damaged\n"
         "  map     IMAGE [-o OUT.svg]\n"
         "                          draw the partition block by block as SVG: metadata,\n"
         "                          each module's extent, free runs, damage (CRCs checked);\n"
         "                          to stdout without -o or with -o -\n"
         "\n"
         "Geometry (every command; the image's size gives the block count):\n"
         "  --block-size B  erase block (default 4096)   --prog-size P  program unit (16)\n"
         "  --align A       extent alignment (4096: one host page)\n"
         "\n"
         "Run a module from the image: natmod run --store IMAGE NAME FN[:ARGS]...");
}

/* "4096", "0x1000", "64K", "1M": a positive size that fits in 32 bits. */
static int parse_size(const char *opt, const char *v, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k') {
        mul = 1024, end++;
    } else if (*end == 'M' || *end == 'm') {
        mul = 1024 * 1024, end++;
    } else if (*end == 'G' || *end == 'g') {
        mul = 1024ull * 1024 * 1024, end++;
    }
    if (end == v || *end || errno || v[0] == '-' || n == 0 || n > UINT32_MAX / mul) {
        return cli_fail(NM_ERR_INVAL, "store: %s '%s': expected a size from 1 to 4G (K, M, G suffixes)",
                        opt, v);
    }
    *out = (uint32_t)(n * mul);
    return 0;
}

/* A count (--blocks, --meta-blocks, --budget): a plain integer >= min. */
static int parse_count(const char *opt, const char *v, uint32_t min, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (end == v || *end || errno || v[0] == '-' || n < min || n > UINT32_MAX) {
        return cli_fail(NM_ERR_INVAL, "store: %s '%s': expected a whole number from %u", opt, v,
                        (unsigned)min);
    }
    *out = (uint32_t)n;
    return 0;
}

int cli_geometry_opt(int argc, char **argv, int *i, cli_geometry_t *g) {
    const char *a = argv[*i];
    uint32_t *dst = !strcmp(a, "--block-size") ? &g->block_size
                    : !strcmp(a, "--prog-size") ? &g->prog_size
                    : !strcmp(a, "--align")     ? &g->align
                                                : NULL;
    if (!dst) {
        return 0;
    }
    const char *v = cli_optarg(argc, argv, i);
    if (!v) {
        return NM_ERR_INVAL;
    }
    uint32_t n;
    if (parse_size(a, v, &n)) {
        return NM_ERR_INVAL;
    }
    if (n & (n - 1)) {
        cli_fail(NM_ERR_INVAL, "store: %s %s is not a power of two", a, v);
        return NM_ERR_INVAL;
    }
    *dst = n;
    return 1;
}

static void geometry_defaults(cli_geometry_t *g) {
    g->block_size = g->block_size ? g->block_size : DEF_BLOCK;
    g->prog_size = g->prog_size ? g->prog_size : DEF_PROG;
    g->align = g->align ? g->align : DEF_ALIGN;
}

/* The store's detail starts with "store: "; the CLI line already says
 * "store IMAGE:", so drop it. */
static const char *detail_text(const nm_detail_t *d, int err) {
    const char *m = d && d->msg[0] ? d->msg : nm_strerror(err);
    return strncmp(m, "store: ", 7) ? m : m + 7;
}

int cli_store_fail(const cli_store_t *cs, int err, const nm_detail_t *d) {
    if (err == NM_ERR_IO && cs->bd.last_error[0]) {
        return cli_fail(err, "store %s: %s (%s)", cs->image, detail_text(d, err), cs->bd.last_error);
    }
    return cli_fail(err, "store %s: %s", cs->image, detail_text(d, err));
}

static void config_init(cli_store_t *cs, const cli_geometry_t *g, const nm_loader_config_t *loader) {
    cs->cfg.align = g->align;
    cs->cfg.map_base = 0;  /* the host board maps extents itself (MMU) */
    cs->cfg.rw_size = 0;   /* copy mode: RW_PCREL slices stored as they are */
    cs->cfg.meta_blocks = 0;
    cs->cfg.loader = loader;
    cs->cfg.entries = cs->entries;
    cs->cfg.max_entries = CLI_STORE_ENTRIES;
    cs->cfg.buffer = cs->buffer;
}

int cli_store_open(const char *image, const cli_geometry_t *geom, const nm_loader_config_t *loader,
                   int writable, cli_store_t **out) {
    *out = NULL;
    cli_geometry_t g = geom ? *geom : (cli_geometry_t){0, 0, 0};
    uint32_t align = g.align; /* 0: the alignment the image was formatted with */
    geometry_defaults(&g);
    g.align = align;
    cli_store_t *cs = calloc(1, sizeof *cs);
    if (!cs) {
        return cli_fail(NM_ERR_NOMEM, "store %s: out of memory", image);
    }
    cs->image = image;
    cs->bd.fd = -1;
    nm_detail_t d = {{0}};
    int err = nm_bd_file_open(&cs->bd, image, writable ? NM_BD_FILE_OPEN : NM_BD_FILE_RDONLY,
                              g.block_size, g.prog_size, 0, &cs->cfg, &d);
    if (err) {
        /* The block device's message names the file itself. */
        free(cs);
        return cli_fail(err, "store %s", d.msg);
    }
    config_init(cs, &g, loader);
    /* The store loads each block's erase count from the image (its WEAR
     * records and log) and writes them back at each compaction. */
    cs->cfg.erase_counts = calloc(cs->cfg.block_count ? cs->cfg.block_count : 1, sizeof *cs->cfg.erase_counts);
    if (!cs->cfg.erase_counts) {
        cli_store_close(cs);
        return cli_fail(NM_ERR_NOMEM, "store %s: out of memory", image);
    }
    err = nm_store_mount(&cs->s, &cs->cfg, &d);
    if (err) {
        int rc = cli_store_fail(cs, err, &d);
        cli_store_close(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

void cli_store_close(cli_store_t *cs) {
    if (cs) {
        nm_bd_file_close(&cs->bd);
        free(cs->cfg.erase_counts);
        free(cs);
    }
}

/* ---- commands ---- */

/* Options common to every command: the geometry, and --help. Returns 1 if
 * argv[*i] was one (consumed), 0 if not, or -(exit status) on error. */
static int common_opt(int argc, char **argv, int *i, cli_geometry_t *g) {
    int r = cli_geometry_opt(argc, argv, i, g);
    return r < 0 ? -cli_exit_code(r) : r;
}

static int positional(const char *sub, const char *a, const char **slots[], int n) {
    for (int k = 0; k < n; k++) {
        if (!*slots[k]) {
            *slots[k] = a;
            return 0;
        }
    }
    return cli_fail(NM_ERR_INVAL, "store %s: unexpected argument '%s' (see natmod store --help)", sub, a);
}

static int is_option(const char *a) {
    return a[0] == '-' && a[1];
}

static const char *blocks_word(uint32_t n) {
    return n == 1 ? "block" : "blocks";
}

static int store_format(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL;
    uint32_t size = 0, blocks = 0, meta = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = common_opt(argc, argv, &i, &g);
        if (r < 0) {
            return -r;
        }
        if (r) {
            continue;
        }
        uint32_t *dst = !strcmp(a, "--size") ? &size : !strcmp(a, "--blocks") ? &blocks
                        : !strcmp(a, "--meta-blocks")                     ? &meta
                                                                          : NULL;
        if (dst) {
            const char *v = cli_optarg(argc, argv, &i);
            if (!v || (dst == &size ? parse_size(a, v, dst) : parse_count(a, v, 1, dst))) {
                return cli_exit_code(NM_ERR_INVAL);
            }
        } else if (is_option(a)) {
            return cli_fail(NM_ERR_INVAL, "store format: unknown option '%s'", a);
        } else if ((r = positional("format", a, (const char **[]){&image}, 1))) {
            return r;
        }
    }
    if (!image) {
        return cli_fail(NM_ERR_INVAL, "store format: no IMAGE given (see natmod store --help)");
    }
    if (size && blocks) {
        return cli_fail(NM_ERR_INVAL, "store %s: --size and --blocks both given", image);
    }
    geometry_defaults(&g);
    if (g.prog_size > g.block_size || g.prog_size > NM_STORE_MAX_PROG) {
        return cli_fail(NM_ERR_INVAL, "store %s: --prog-size %u must be at most the block size (%u) and %u",
                        image, (unsigned)g.prog_size, (unsigned)g.block_size, (unsigned)NM_STORE_MAX_PROG);
    }
    if (!blocks) {
        size = size ? size : DEF_SIZE;
        if (size % g.block_size) {
            return cli_fail(NM_ERR_INVAL, "store %s: --size %u is not a whole number of %u-byte blocks",
                            image, (unsigned)size, (unsigned)g.block_size);
        }
        blocks = size / g.block_size;
    }
    if ((uint64_t)blocks * g.block_size > UINT32_MAX) {
        return cli_fail(NM_ERR_INVAL,
                        "store %s: %u blocks of %u bytes is more than 4 GiB (offsets are 32-bit)", image, (unsigned)blocks, (unsigned)g.block_size);
    }
    /* Written beside the image and renamed over it once formatted: a
     * failed format leaves an existing image as it was. */
    size_t plen = strlen(image);
    char *tmp = malloc(plen + 8);
    cli_store_t *cs = calloc(1, sizeof *cs);
    if (!tmp || !cs) {
        free(tmp);
        free(cs);
        return cli_fail(NM_ERR_NOMEM, "store %s: out of memory", image);
    }
    memcpy(tmp, image, plen);
    memcpy(tmp + plen, ".tmp", 5);
    cs->image = image;
    nm_detail_t d = {{0}};
    int err = nm_bd_file_open(&cs->bd, tmp, NM_BD_FILE_CREATE, g.block_size, g.prog_size, blocks,
                              &cs->cfg, &d);
    int rc = 0;
    if (err) {
        free(tmp);
        free(cs);
        return cli_fail(err, "store %s", d.msg);
    }
    config_init(cs, &g, NULL);
    cs->cfg.meta_blocks = meta;
    err = nm_store_format(&cs->s, &cs->cfg, &d);
    if (!err && nm_bd_file_close(&cs->bd) != NM_OK) {
        err = NM_ERR_IO;
        snprintf(d.msg, sizeof d.msg, "closing %s failed", tmp);
    }
    if (!err && rename(tmp, image) != 0) {
        err = NM_ERR_IO;
        snprintf(d.msg, sizeof d.msg, "cannot rename %s to it: %s", tmp, strerror(errno));
    }
    if (err) {
        rc = cli_store_fail(cs, err, &d);
        nm_bd_file_close(&cs->bd);
        remove(tmp);
    } else {
        nm_store_stats_t st;
        nm_store_stat(&cs->s, &st);
        printf("formatted %s: %u blocks of %u bytes (%llu bytes), prog %u, align %u\n", image,
               (unsigned)blocks, (unsigned)g.block_size, (unsigned long long)blocks * g.block_size,
               (unsigned)g.prog_size, (unsigned)g.align);
        printf("  %u data blocks, 2 metadata areas of %u blocks (%u records each)\n",
               (unsigned)st.data_blocks, (unsigned)(st.meta_blocks_total / 2), (unsigned)st.log_slots);
    }
    free(tmp);
    free(cs);
    return rc;
}

/* Parse "IMAGE [ARG...]" plus geometry and the named options: each of
 * opts[k] takes a value stored in vals[k]. Returns 0 or the exit status. */
static int parse_args(const char *sub, int argc, char **argv, cli_geometry_t *g, const char **pos[],
                      int npos, int nreq, const char *const opts[], const char **vals[], int nopts) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = common_opt(argc, argv, &i, g);
        if (r < 0) {
            return -r;
        }
        if (r) {
            continue;
        }
        int k = 0;
        while (k < nopts && strcmp(a, opts[k])) {
            k++;
        }
        if (k < nopts) {
            if (!(*vals[k] = cli_optarg(argc, argv, &i))) {
                return cli_exit_code(NM_ERR_INVAL);
            }
        } else if (is_option(a)) {
            return cli_fail(NM_ERR_INVAL, "store %s: unknown option '%s' (see natmod store --help)", sub, a);
        } else if ((r = positional(sub, a, pos, npos))) {
            return r;
        }
    }
    for (int k = 0; k < nreq; k++) {
        if (!*pos[k]) {
            return cli_fail(NM_ERR_INVAL, "store %s: missing %s (see natmod store --help)", sub,
                            k == 0 ? "IMAGE" : "argument");
        }
    }
    return 0;
}

static const char *arch_text(const nm_store_entry_t *e, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", nm_arch_name(e->arch), nm_float_name(e->float_abi));
    return buf;
}

static int store_install(int argc, char **argv, nm_host_board_t *b) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL, *path = NULL, *name = NULL;
    static const char *const opts[] = {"--name"};
    static cli_trust_t trust; /* --trust: the board's signature policy */
    int rc = cli_trust_take(&argc, argv, &trust);
    if (!rc) {
        rc = parse_args("install", argc, argv, &g, (const char **[]){&image, &path}, 2, 2, opts,
                        (const char **[]){&name}, 1);
    }
    if (rc) {
        return rc;
    }
    b->cfg.trusted_keys = (const uint8_t(*)[NM_PUBKEY_SIZE])trust.keys;
    b->cfg.n_trusted_keys = trust.n;
    uint8_t *buf;
    size_t len;
    int err = cli_read_file(path, &buf, &len);
    if (err) {
        return cli_exit_code(err);
    }
    cli_store_t *cs;
    if ((rc = cli_store_open(image, &g, &b->cfg, 1, &cs))) {
        free(buf);
        return rc;
    }
    /* Whether this replaces a module: the name it will be installed as. */
    nm_slice_info_t si;
    nm_image_t hdr;
    const char *as = name;
    int universal = nm_is_universal(buf, len);
    if (!as && nm_select_slice(buf, len, b->cfg.arch, b->cfg.float_abi, &si, NULL) == NM_OK &&
        nm_image_parse(buf + si.offset, si.size, &hdr, NULL) == NM_OK) {
        as = hdr.strtab;
    }
    const nm_store_entry_t *old = as ? nm_store_find(&cs->s, as) : NULL;
    uint32_t old_off = old ? nm_store_offset(&cs->s, old) : 0;
    const nm_store_entry_t *e = NULL;
    nm_detail_t d = {{0}};
    err = nm_store_install(&cs->s, buf, len, name, &e, &d);
    if (err) {
        /* Name both: the module file (a bad module) and the image (no room). */
        rc = cli_fail(err, "store %s: install %s: %s%s%s%s", image, path, detail_text(&d, err),
                      cs->bd.last_error[0] ? " (" : "", cs->bd.last_error,
                      cs->bd.last_error[0] ? ")" : "");
    } else {
        char arch[32];
        printf("installed %s: offset 0x%08x, %u bytes, %u %s (%s%s)\n", e->name,
               (unsigned)nm_store_offset(&cs->s, e), (unsigned)e->size, (unsigned)e->n_blocks,
               blocks_word(e->n_blocks), arch_text(e, arch, sizeof arch),
               universal ? " slice of a universal module" : "");
        if (old) {
            printf("  replaces the %s at 0x%08x (its blocks are free now)\n", e->name, (unsigned)old_off);
        }
    }
    cli_store_close(cs);
    free(buf);
    return rc;
}

static int store_rm(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL, *name = NULL;
    int rc = parse_args("rm", argc, argv, &g, (const char **[]){&image, &name}, 2, 2, NULL, NULL, 0);
    cli_store_t *cs;
    if (rc || (rc = cli_store_open(image, &g, NULL, 1, &cs))) {
        return rc;
    }
    const nm_store_entry_t *e = nm_store_find(&cs->s, name);
    uint32_t off = e ? nm_store_offset(&cs->s, e) : 0, n = e ? e->n_blocks : 0;
    nm_detail_t d = {{0}};
    int err = nm_store_remove(&cs->s, name, &d);
    if (err) {
        rc = cli_store_fail(cs, err, &d);
    } else {
        printf("removed %s: %u %s free at 0x%08x\n", name, (unsigned)n, blocks_word(n), (unsigned)off);
    }
    cli_store_close(cs);
    return rc;
}

static void flags_text(const nm_store_entry_t *e, char *buf, size_t n) {
    snprintf(buf, n, "%s%s%s%s", (e->flags & NM_STORE_F_DAMAGED) ? "damaged," : "",
             (e->flags & NM_STORE_F_VERIFIED) ? "verified," : "",
             (e->flags & NM_STORE_F_LINKED) ? "linked," : "", e->pins ? "pinned," : "");
    size_t l = strlen(buf);
    if (l) {
        buf[l - 1] = 0;
    } else {
        snprintf(buf, n, "-");
    }
}

static void print_table(const cli_store_t *cs) {
    uint32_t pos = 0;
    const nm_store_entry_t *e;
    int any = 0;
    while ((e = nm_store_next(&cs->s, &pos)) != NULL) {
        if (!any++) {
            printf("%-*s %10s %8s %6s %-14s %-10s %s\n", NM_STORE_NAME_MAX, "name", "offset", "size",
                   "blocks", "arch", "crc", "flags");
        }
        char arch[32], flags[48];
        flags_text(e, flags, sizeof flags);
        printf("%-*s 0x%08x %8u %6u %-14s 0x%08x %s\n", NM_STORE_NAME_MAX, e->name,
               (unsigned)nm_store_offset(&cs->s, e), (unsigned)e->size, (unsigned)e->n_blocks,
               arch_text(e, arch, sizeof arch), (unsigned)e->crc, flags);
    }
    nm_store_stats_t st;
    nm_store_stat(&cs->s, &st);
    if (!any) {
        printf("(no modules)\n");
    }
    printf("%u %s, %u bytes; %u of %u data blocks used, largest free run %u %s\n",
           (unsigned)st.n_modules, st.n_modules == 1 ? "module" : "modules", (unsigned)st.used_bytes,
           (unsigned)st.used_blocks, (unsigned)st.data_blocks, (unsigned)st.largest_free,
           blocks_word(st.largest_free));
    if (st.n_damaged || st.bad_records) {
        printf("damage: %u %s, %u metadata %s (natmod store check)\n", (unsigned)st.n_damaged,
               st.n_damaged == 1 ? "module" : "modules", (unsigned)st.bad_records,
               st.bad_records == 1 ? "record" : "records");
    }
}

static int store_ls(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL;
    int rc = parse_args("ls", argc, argv, &g, (const char **[]){&image}, 1, 1, NULL, NULL, 0);
    cli_store_t *cs;
    if (rc || (rc = cli_store_open(image, &g, NULL, 0, &cs))) {
        return rc;
    }
    print_table(cs);
    cli_store_close(cs);
    return 0;
}

static int store_defrag(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL, *budget_s = NULL;
    static const char *const opts[] = {"--budget"};
    int rc = parse_args("defrag", argc, argv, &g, (const char **[]){&image}, 1, 1, opts,
                        (const char **[]){&budget_s}, 1);
    uint32_t budget = 0;
    if (rc || (budget_s && parse_count("--budget", budget_s, 0, &budget))) {
        return rc ? rc : cli_exit_code(NM_ERR_INVAL);
    }
    cli_store_t *cs;
    if ((rc = cli_store_open(image, &g, NULL, 1, &cs))) {
        return rc;
    }
    /* Where each module was, to name what moved: entries stay in their
     * slots when they move. */
    static uint32_t before[CLI_STORE_ENTRIES];
    for (uint32_t i = 0; i < CLI_STORE_ENTRIES; i++) {
        before[i] = cs->entries[i].start;
    }
    nm_store_stats_t st0, st1;
    nm_store_stat(&cs->s, &st0);
    nm_store_defrag_result_t r;
    nm_detail_t d = {{0}};
    int err = nm_store_defrag(&cs->s, budget, &r, &d);
    for (uint32_t i = 0; i < CLI_STORE_ENTRIES; i++) {
        const nm_store_entry_t *e = &cs->entries[i];
        if (e->state == NM_STORE_LIVE && e->start != before[i]) {
            printf("moved %s: 0x%08x -> 0x%08x (%u %s)\n", e->name,
                   (unsigned)(before[i] * cs->cfg.block_size), (unsigned)nm_store_offset(&cs->s, e),
                   (unsigned)e->n_blocks, blocks_word(e->n_blocks));
        }
    }
    nm_store_stat(&cs->s, &st1);
    printf("defrag: %u %s, %u %s (%u bytes) moved; largest free run %u -> %u %s%s\n",
           (unsigned)r.moves, r.moves == 1 ? "move" : "moves", (unsigned)r.moved_blocks,
           blocks_word(r.moved_blocks), (unsigned)r.moved_bytes, (unsigned)st0.largest_free,
           (unsigned)st1.largest_free, blocks_word(st1.largest_free),
           err ? "" : r.done ? "; done" : "; budget spent: run again");
    if (err) {
        rc = cli_store_fail(cs, err, &d);
    }
    cli_store_close(cs);
    return rc;
}

static int store_stat(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL;
    int rc = parse_args("stat", argc, argv, &g, (const char **[]){&image}, 1, 1, NULL, NULL, 0);
    cli_store_t *cs;
    if (rc || (rc = cli_store_open(image, &g, NULL, 0, &cs))) {
        return rc;
    }
    nm_store_stats_t st;
    nm_store_stat(&cs->s, &st);
    uint64_t bs = st.block_size;
    printf("image:         %s\n", image);
    printf("geometry:      %u blocks of %u bytes (%llu bytes), prog %u, align %u\n",
           (unsigned)st.block_count, (unsigned)st.block_size, (unsigned long long)(st.block_count * bs),
           (unsigned)cs->cfg.prog_size, (unsigned)(cs->s.align_blocks * st.block_size));
    printf("data blocks:   %u (%llu bytes)\n", (unsigned)st.data_blocks,
           (unsigned long long)(st.data_blocks * bs));
    printf("meta blocks:   %u (2 areas of %u)\n", (unsigned)st.meta_blocks_total,
           (unsigned)(st.meta_blocks_total / 2));
    printf("used blocks:   %u (%u bytes of modules)\n", (unsigned)st.used_blocks, (unsigned)st.used_bytes);
    printf("free blocks:   %u\n", (unsigned)st.free_blocks);
    printf("largest free:  %u %s (aligned run)\n", (unsigned)st.largest_free, blocks_word(st.largest_free));
    printf("modules:       %u (pinned %u, damaged %u, replaced-while-pinned %u)\n", (unsigned)st.n_modules,
           (unsigned)st.n_pinned, (unsigned)st.n_damaged, (unsigned)st.n_zombies);
    printf("generation:    %u\n", (unsigned)st.generation);
    printf("sequence:      %u\n", (unsigned)st.seq);
    printf("log:           %u of %u records used in the active area\n", (unsigned)st.log_used,
           (unsigned)st.log_slots);
    printf("bad records:   %u\n", (unsigned)st.bad_records);
    printf("rw arena:      %u of %u bytes used%s\n", (unsigned)st.rw_used, (unsigned)st.rw_size,
           st.rw_size ? "" : " (copy mode: RW goes after text, no arena)");
    printf("erases:        max %u, total %u (as the store's wear records and log count them)\n",
           (unsigned)st.erase_max, (unsigned)st.erase_total);
    printf("most worn:     block %u (%u erase%s)\n", (unsigned)st.erase_max_block, (unsigned)st.erase_max,
           st.erase_max == 1 ? "" : "s");
    printf("wear spread:   %u.%02u (data blocks: most worn / mean erases)\n",
           (unsigned)(st.erase_data_max_milli / 1000), (unsigned)(st.erase_data_max_milli % 1000 / 10));
    printf("wear records:  %u per area (%u malformed, ignored)\n", (unsigned)st.wear_records, (unsigned)st.wear_bad);
    cli_store_close(cs);
    return 0;
}

/* Open image read-only and check every extent's CRC (nm_store_check): *n
 * damaged ones. 0, or the exit status with the line printed (closed). */
static int open_checked(const char *image, const cli_geometry_t *g, cli_store_t **cs, int *n) {
    int rc = cli_store_open(image, g, NULL, 0, cs);
    if (rc) {
        return rc;
    }
    nm_detail_t d = {{0}};
    *n = nm_store_check(&(*cs)->s, &d);
    if (*n < 0) {
        rc = cli_store_fail(*cs, *n, &d);
        cli_store_close(*cs);
    }
    return rc;
}

static int store_check(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL;
    int rc = parse_args("check", argc, argv, &g, (const char **[]){&image}, 1, 1, NULL, NULL, 0);
    cli_store_t *cs;
    int n = 0;
    if (rc || (rc = open_checked(image, &g, &cs, &n))) {
        return rc;
    }
    uint32_t pos = 0, total = 0;
    const nm_store_entry_t *e;
    char names[NM_DETAIL_MAX] = "";
    while ((e = nm_store_next(&cs->s, &pos)) != NULL) {
        int bad = (e->flags & NM_STORE_F_DAMAGED) != 0;
        total++;
        printf("%-7s %-*s 0x%08x %8u bytes crc 0x%08x\n", bad ? "DAMAGED" : "ok", NM_STORE_NAME_MAX,
               e->name, (unsigned)nm_store_offset(&cs->s, e), (unsigned)e->size, (unsigned)e->crc);
        if (bad && strlen(names) + strlen(e->name) + 3 < sizeof names / 2) {
            strcat(strcat(names, names[0] ? ", " : ""), e->name);
        }
    }
    nm_store_stats_t st;
    nm_store_stat(&cs->s, &st);
    if (n > 0) {
        rc = cli_fail(NM_ERR_CRC, "store %s: %d of %u %s damaged: %s%s", image, n, (unsigned)total,
                      total == 1 ? "module" : "modules", names,
                      st.bad_records ? " (and damaged metadata records)" : "");
    } else if (st.bad_records) {
        rc = cli_fail(NM_ERR_CORRUPT, "store %s: %u damaged metadata %s (modules they described are lost)",
                      image, (unsigned)st.bad_records, st.bad_records == 1 ? "record" : "records");
    } else {
        printf("%u %s ok\n", (unsigned)total, total == 1 ? "module" : "modules");
    }
    cli_store_close(cs);
    return rc;
}

static int store_map(int argc, char **argv) {
    cli_geometry_t g = {0, 0, 0};
    const char *image = NULL, *out = NULL;
    static const char *const opts[] = {"-o", "--output"};
    int rc = parse_args("map", argc, argv, &g, (const char **[]){&image}, 1, 1, opts,
                        (const char **[]){&out, &out}, 2);
    cli_store_t *cs;
    int n = 0;
    /* Every extent's CRC checked first (in RAM only: the image is open
     * read-only), so the map shows damage that mount cannot see. */
    if (rc || (rc = open_checked(image, &g, &cs, &n))) {
        return rc;
    }
    char *svg = NULL;
    size_t len = 0;
    cli_map_summary_t sum;
    rc = cli_store_map(cs, image, &svg, &len, &sum);
    if (rc) {
        /* cli_store_map printed the line */
    } else if (!out || !strcmp(out, "-")) {
        if (fwrite(svg, 1, len, stdout) != len || fflush(stdout) != 0) {
            rc = cli_fail(NM_ERR_IO, "store %s: map: writing to stdout failed: %s", image, strerror(errno));
        }
    } else if (cli_write_file(out, (const uint8_t *)svg, len) != NM_OK) {
        rc = cli_exit_code(NM_ERR_IO); /* cli_write_file named the file */
    } else {
        printf("map of %s written to %s: %u %s (%u per row), %u %s (%u damaged), %u free %s",
               image, out, sum.blocks, blocks_word(sum.blocks), sum.cols, sum.modules,
               sum.modules == 1 ? "module" : "modules", sum.damaged_modules, sum.free_runs,
               sum.free_runs == 1 ? "run" : "runs");
        if (sum.damaged_meta_blocks || sum.kept_blocks) {
            printf(", %u damaged metadata %s, %u kept %s", sum.damaged_meta_blocks,
                   blocks_word(sum.damaged_meta_blocks), sum.kept_blocks, blocks_word(sum.kept_blocks));
        }
        printf("\n");
    }
    free(svg);
    cli_store_close(cs);
    return rc;
}

int cmd_store(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        store_help();
        return argc < 2 ? cli_exit_code(NM_ERR_INVAL) : 0;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            store_help();
            return 0;
        }
    }
    const char *sub = argv[1];
    argc--, argv++;
    if (!strcmp(sub, "format")) {
        return store_format(argc, argv);
    }
    if (!strcmp(sub, "rm")) {
        return store_rm(argc, argv);
    }
    if (!strcmp(sub, "ls")) {
        return store_ls(argc, argv);
    }
    if (!strcmp(sub, "defrag")) {
        return store_defrag(argc, argv);
    }
    if (!strcmp(sub, "stat")) {
        return store_stat(argc, argv);
    }
    if (!strcmp(sub, "check")) {
        return store_check(argc, argv);
    }
    if (!strcmp(sub, "map")) {
        return store_map(argc, argv);
    }
    if (!strcmp(sub, "install")) {
        /* The board is the firmware the store installs for: its arch,
         * float ABI and exports (imports are checked at install). */
        nm_host_board_t b;
        int err = nm_host_board_init(&b, NULL);
        if (err) {
            return cli_fail(err, "store: host board init failed: %s", nm_strerror(err));
        }
        int rc = store_install(argc, argv, &b);
        nm_host_board_deinit(&b);
        return rc;
    }
    return cli_fail(NM_ERR_INVAL,
                    "store: unknown command '%s' (format, install, rm, ls, defrag, stat, check, map)", sub);
}
