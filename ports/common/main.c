/*
 * The bare-metal boards' firmware (Cortex-M, RISC-V): runs a script of
 * module commands that QEMU placed at SCRIPT_ADDR (NUL-terminated text,
 * -device loader), with module files staged at addresses in
 * [STAGE_LO, STAGE_HI). The board supplies its memory map, time, interrupts
 * and flash driver (fw.h); everything here is the same on every board.
 * Script lines, as on the host board (`#` comments and blank lines ignored):
 *
 *   load NAME ADDR [ram|xip]  load the module staged at ADDR as NAME
 *   load NAME store           run the store's module NAME in place
 *   call NAME FN ARGS...      call export FN with up to 6 integer arguments
 *   unload NAME               run its deinit and free its RAM (unpins it)
 *   periph                    print the simulated peripheral registers
 *   stats                     print module RAM and flash use
 *   proof NAME ADDR           prove XIP on the module staged at ADDR
 *   bench NAME ADDR N         time N loads in each mode (bench/)
 *   verify NAME ADDR N PAINT  time N signature checks of the module staged at
 *                             ADDR (its board slice) and measure their peak
 *                             stack in PAINT bytes painted below this frame
 *   store format              create an empty module store (the partition)
 *   store install NAME ADDR   install the module staged at ADDR as NAME
 *   store rm NAME             remove it (refused while it is loaded)
 *   store ls | store stat     list the modules | the partition's numbers
 *   store defrag [BUDGET]     move modules down, at most BUDGET blocks
 *   store check               read every module back and check its CRC
 *   store save PATH           write the partition to a host file (semihosting)
 *
 * and the board's own commands (board_command), if any.
 *
 * The module store (natmod/store.h, store_bd.c) owns the module flash
 * [FLASH_LO, FLASH_HI): it links each install for its extent and for an RW
 * slot in the module RAM arena (mem.c). It is mounted at boot, silently; an
 * unformatted partition leaves RAM mode working and `store format` creates
 * the store. `load NAME ADDR xip` (and proof, bench) install the staged
 * module into the store under the name `@ADDR` (again only if the staged
 * slice changed) and run it from there. An image staged already XIP-linked
 * for its own address runs where it lies.
 *
 * A call prints `FN(args) = value`; store commands print lines that start
 * with `store: `. A failing command prints one line
 * `error: line N: CMD NAME: reason` and the script goes on; the exit status
 * (through semihosting) is 0, or the positive NM_ERR_* of the first failure.
 */
#define _POSIX_C_SOURCE 200809L /* open, write, close: store save */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"
#include "mem.h"
#include "natmod/loader.h"
#include "natmod/store.h"

#define MAX_SLOTS 8
#define MAX_WORDS 10

extern const nm_export_t nm_fw_exports[];
extern const size_t nm_fw_n_exports;

/* Unload, first stopping a board timer whose callback is in the module; a
 * module from the store is unpinned. */
static nm_store_t store;
static void unload(nm_module_t *m, int from_store) {
    nm_image_t h;
    if (nm_image_parse_header(m->image, m->image_size, &h, NULL) == NM_OK) {
        fw_timer_drop((uintptr_t)m->text, (uintptr_t)m->text + h.text_size);
    }
    if (from_store) {
        nm_store_unload(&store, m);
    } else {
        nm_unload(m);
    }
}

typedef struct slot {
    char name[32];
    nm_module_t m;
    int used;
    int from_store; /* pinned in the store while loaded */
} slot_t;

static slot_t slots[MAX_SLOTS];
static int status; /* first failure */
static unsigned line_no;
/* The boot mount's result, for commands that need a store. */
static int store_err;
static nm_detail_t store_why;

static void *alloc_cb(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx;
    (void)kind;
    return mem_alloc(size, align);
}

static void free_cb(void *ctx, void *p, unsigned kind) {
    (void)ctx;
    (void)kind;
    mem_free(p);
}

static int claim_cb(void *ctx, void *addr, size_t size, unsigned kind) {
    (void)ctx;
    (void)kind;
    return mem_claim(addr, size);
}

#ifdef BOARD_FLUSH_ICACHE
static void flush_cb(void *ctx, void *addr, size_t len) {
    (void)ctx;
    board_sync_code(addr, len);
}
#endif

#ifdef BOARD_TRUSTED_KEYS
/* The board's signature policy (docs/trust.md): board_trusted_keys[], made
 * by build-fw.sh from the NATMOD_TRUST public key files. */
#include BOARD_TRUSTED_KEYS
#endif

static nm_loader_config_t cfg = {
    .arch = BOARD_ARCH,
    .float_abi = BOARD_FLOAT,
    .exports = nm_fw_exports,
    .alloc_cb = alloc_cb,
    .free_cb = free_cb,
    .claim_cb = claim_cb,
#ifdef BOARD_FLUSH_ICACHE
    .flush_cb = flush_cb,
#endif
#ifdef BOARD_TRUSTED_KEYS
    .trusted_keys = board_trusted_keys,
    .n_trusted_keys = sizeof board_trusted_keys / sizeof board_trusted_keys[0],
#endif
};

static int fail(int err, const char *cmd, const char *name, const char *why) {
    printf("error: line %u: %s%s%s: %s\n", line_no, cmd, name ? " " : "", name ? name : "", why);
    if (!status) {
        status = err < 0 ? -err : err;
    }
    return err;
}

static int fail_d(int err, const char *cmd, const char *name, const nm_detail_t *d) {
    char why[160];
    snprintf(why, sizeof why, "%s%s%s", nm_strerror(err), d->msg[0] ? ": " : "", d->msg);
    return fail(err, cmd, name, why);
}

static slot_t *find_slot(const char *name) {
    for (unsigned i = 0; i < MAX_SLOTS; i++) {
        if (slots[i].used && !strcmp(slots[i].name, name)) {
            return &slots[i];
        }
    }
    return NULL;
}

/* A staged module's address. Module flash is the store's alone: what runs
 * from there goes through `load NAME store`, pinned, so that no store
 * operation moves or erases it meanwhile. */
static int parse_addr(const char *s, uintptr_t *out) {
    char *e;
    unsigned long v = strtoul(s, &e, 0);
    if (!*s || *e || v < STAGE_LO || v >= STAGE_HI) {
        return -1;
    }
    *out = (uintptr_t)v;
    return 0;
}

/* ---- the module store ---- */

/* The mounted store, or NULL after printing why there is none. */
static nm_store_t *need_store(const char *cmd, const char *name) {
    if (store.mounted) {
        return &store;
    }
    char why[sizeof store_why.msg + 64];
    snprintf(why, sizeof why, "no module store (%s%s%s); `store format` creates one",
             nm_strerror(store_err), store_why.msg[0] ? ": " : "", store_why.msg);
    fail(store_err ? store_err : NM_ERR_NOENT, cmd, name, why);
    return NULL;
}

/* Bytes a staged module may span: to the end of the staging area. */
static size_t staged_len(uintptr_t at) {
    return STAGE_HI - at;
}

/* The store's install of the module staged at `staged`, named "@ADDR":
 * reused while the staged slice is the one it was installed from (same
 * CRC), installed again (replacing it) otherwise. */
static const nm_store_entry_t *install_staged(uintptr_t staged, const char *cmd, const char *name,
                                              int *err) {
    nm_store_t *st = need_store(cmd, name);
    if (!st) {
        *err = store_err ? store_err : NM_ERR_NOENT;
        return NULL;
    }
    char key[16];
    snprintf(key, sizeof key, "@0x%08lx", (unsigned long)staged);
    const void *src = (const void *)staged;
    const nm_store_entry_t *e = nm_store_find(st, key);
    nm_slice_info_t sl;
    if (e && !(e->flags & NM_STORE_F_DAMAGED) &&
        nm_select_slice(src, staged_len(staged), BOARD_ARCH, BOARD_FLOAT, &sl, NULL) == NM_OK &&
        sl.crc32 == e->src_crc) {
        return e;
    }
    nm_detail_t d = {{0}};
    *err = nm_store_install(st, src, staged_len(staged), key, &e, &d);
    if (*err) {
        fail_d(*err, cmd, name, &d);
        return NULL;
    }
    return e;
}

/* 1 if a loaded module runs from the store (formatting would pull its
 * flash away). */
static int store_in_use(void) {
    for (unsigned i = 0; i < MAX_SLOTS; i++) {
        if (slots[i].used && slots[i].from_store) {
            return 1;
        }
    }
    return 0;
}

static void print_entry(const char *verb, const nm_store_entry_t *e) {
    printf("store: %s%s at 0x%08lx, %lu bytes in %lu blocks, rw 0x%08lx+%lu%s%s\n", verb, e->name,
           (unsigned long)nm_store_addr(&store, e), (unsigned long)e->size,
           (unsigned long)e->n_blocks, (unsigned long)e->rw_addr, (unsigned long)e->rw_size,
           e->pins ? ", loaded" : "", e->flags & NM_STORE_F_DAMAGED ? ", DAMAGED" : "");
}

static void print_stat(void) {
    nm_store_stats_t t;
    nm_store_stat(&store, &t);
    printf("store: %lu blocks of %lu bytes at 0x%08lx: %lu data (%lu used, %lu free, largest run %lu), "
           "%lu metadata\n",
           (unsigned long)t.block_count, (unsigned long)t.block_size, (unsigned long)FLASH_LO,
           (unsigned long)t.data_blocks, (unsigned long)t.used_blocks, (unsigned long)t.free_blocks,
           (unsigned long)t.largest_free, (unsigned long)t.meta_blocks_total);
    printf("store: %lu modules (%lu bytes), %lu loaded, %lu damaged, %lu replaced while loaded; "
           "rw %lu of %lu bytes; log %lu of %lu records, generation %lu\n",
           (unsigned long)t.n_modules, (unsigned long)t.used_bytes, (unsigned long)t.n_pinned,
           (unsigned long)t.n_damaged, (unsigned long)t.n_zombies, (unsigned long)t.rw_used,
           (unsigned long)t.rw_size, (unsigned long)t.log_used, (unsigned long)t.log_slots,
           (unsigned long)t.generation);
}

/* The whole partition, byte for byte, into a host file: a second boot can
 * load it back at FLASH_LO (QEMU -device loader). */
static int store_save(const char *cmd, const char *path) {
    /* open/write rather than stdio: fopen takes its FILE from the heap, and
     * the micro:bit's 16 KB of RAM leave no room for newlib's first sbrk. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return fail(NM_ERR_IO, cmd, path, "cannot create the host file (semihosting)");
    }
    ssize_t n = write(fd, (const void *)FLASH_LO, FLASH_HI - FLASH_LO);
    if (close(fd) != 0 || n != (ssize_t)(FLASH_HI - FLASH_LO)) {
        return fail(NM_ERR_IO, cmd, path, "writing the host file failed");
    }
    printf("store: saved %lu bytes to %s\n", (unsigned long)n, path);
    return 0;
}

/* `store SUB ...`: w[0] is "store". */
static void store_cmd(char **w, int n) {
    char cmd[20];
    snprintf(cmd, sizeof cmd, "store %s", w[1]);
    const char *sub = w[1];
    nm_detail_t d = {{0}};
    const nm_store_entry_t *e;
    nm_store_t *st;
    int err;
    if (!strcmp(sub, "format") && n == 2) {
        if (store_in_use()) {
            fail(NM_ERR_BUSY, cmd, NULL, "modules from the store are loaded: unload them first");
        } else if ((err = nm_store_format(&store, fw_store_config(&cfg), &d)) != 0) {
            store_err = err;
            store_why = d;
            fail_d(err, cmd, NULL, &d);
        } else {
            nm_store_stats_t t;
            nm_store_stat(&store, &t);
            printf("store: formatted %lu blocks of %lu bytes at 0x%08lx (%lu for metadata)\n",
                   (unsigned long)t.block_count, (unsigned long)t.block_size,
                   (unsigned long)FLASH_LO, (unsigned long)t.meta_blocks_total);
        }
    } else if (!strcmp(sub, "save") && n == 3) {
        store_save(cmd, w[2]);
    } else if (!strcmp(sub, "install") && n == 4) {
        uintptr_t at;
        if (parse_addr(w[3], &at)) {
            fail(NM_ERR_INVAL, cmd, w[2], "address outside the staging area");
        } else if ((st = need_store(cmd, w[2])) != NULL) {
            err = nm_store_install(st, (const void *)at, staged_len(at), w[2], &e, &d);
            if (err) {
                fail_d(err, cmd, w[2], &d);
            } else {
                print_entry("installed ", e);
            }
        }
    } else if (!strcmp(sub, "rm") && n == 3) {
        if ((st = need_store(cmd, w[2])) != NULL) {
            if ((err = nm_store_remove(st, w[2], &d)) != 0) {
                fail_d(err, cmd, w[2], &d);
            } else {
                printf("store: removed %s\n", w[2]);
            }
        }
    } else if (!strcmp(sub, "ls") && n == 2) {
        if ((st = need_store(cmd, NULL)) != NULL) {
            uint32_t pos = 0;
            unsigned k = 0;
            while ((e = nm_store_next(st, &pos)) != NULL) {
                print_entry("", e);
                k++;
            }
            if (!k) {
                printf("store: empty\n");
            }
        }
    } else if (!strcmp(sub, "defrag") && (n == 2 || n == 3)) {
        char *end = NULL;
        unsigned long budget = n == 3 ? strtoul(w[2], &end, 0) : 0;
        nm_store_defrag_result_t r;
        if (n == 3 && (!*w[2] || *end || budget > UINT32_MAX)) {
            fail(NM_ERR_INVAL, cmd, NULL, "BUDGET must be a number of blocks");
        } else if ((st = need_store(cmd, NULL)) != NULL) {
            if ((err = nm_store_defrag(st, (uint32_t)budget, &r, &d)) != 0) {
                fail_d(err, cmd, NULL, &d);
            } else {
                printf("store: defrag moved %lu modules (%lu blocks, %lu bytes), %s\n",
                       (unsigned long)r.moves, (unsigned long)r.moved_blocks,
                       (unsigned long)r.moved_bytes, r.done ? "done" : "budget spent");
            }
        }
    } else if (!strcmp(sub, "check") && n == 2) {
        if ((st = need_store(cmd, NULL)) != NULL) {
            if ((err = nm_store_check(st, &d)) < 0) {
                fail_d(err, cmd, NULL, &d);
            } else if (err > 0) {
                fail_d(NM_ERR_CRC, cmd, NULL, &d); /* names the first damaged module */
            } else {
                printf("store: check: every module intact\n");
            }
        }
    } else if (!strcmp(sub, "stat") && n == 2) {
        if (need_store(cmd, NULL)) {
            print_stat();
        }
    } else {
        fail(NM_ERR_INVAL, cmd, NULL, "unknown store command or wrong number of words");
    }
}

static uint32_t load_ticks; /* board_cycles of the last nm_load / nm_load_xip call */

/* Load in the given mode; prints the error itself. *from_store: the module
 * runs from the store (unload with nm_store_unload). */
static int load_mode(nm_module_t *m, const char *name, uintptr_t addr, int xip, int *from_store) {
    nm_detail_t d = {{0}};
    int err;
    uint32_t c0;
    *from_store = 0;
    if (!xip) {
        c0 = board_cycles();
        err = nm_load(&cfg, m, (const void *)addr, staged_len(addr), &d);
        load_ticks = board_cycles() - c0;
        return err ? fail_d(err, "load", name, &d) : 0;
    }
    nm_image_t h;
    if (nm_image_parse_header((const void *)addr, staged_len(addr), &h, NULL) == NM_OK &&
        (h.flags & NM_FLAG_XIP_LINKED)) {
        c0 = board_cycles();
        err = nm_load_xip(&cfg, m, (const void *)addr, staged_len(addr), &d);
        load_ticks = board_cycles() - c0;
        return err ? fail_d(err, "load", name, &d) : 0;
    }
    const nm_store_entry_t *e = install_staged(addr, "load", name, &err);
    if (!e) {
        return err;
    }
    c0 = board_cycles();
    err = nm_store_load(&store, e->name, m, &d);
    load_ticks = board_cycles() - c0;
    *from_store = err == 0;
    return err ? fail_d(err, "load", name, &d) : 0;
}

/* `load NAME store`: the store's module NAME, in place. */
static int load_store(nm_module_t *m, const char *name, int *from_store) {
    nm_detail_t d = {{0}};
    nm_store_t *st = need_store("load", name);
    *from_store = 0;
    if (!st) {
        return store_err ? store_err : NM_ERR_NOENT;
    }
    int err = nm_store_load(st, name, m, &d);
    *from_store = err == 0;
    return err ? fail_d(err, "load", name, &d) : 0;
}

typedef long (*fn6_t)(long, long, long, long, long, long);

static int call(slot_t *s, const char *fn, int argc, char **argv, long *result) {
    long a[6] = {0};
    for (int i = 0; i < argc; i++) {
        char *e;
        a[i] = strtol(argv[i], &e, 0);
        if (!*argv[i] || *e) {
            char why[80];
            snprintf(why, sizeof why, "argument `%s` is not an integer", argv[i]);
            return fail(NM_ERR_INVAL, "call", s->name, why);
        }
    }
    void *f;
    nm_detail_t d = {{0}};
    int err = nm_module_sym(&s->m, fn, &f, &d);
    if (err) {
        return fail_d(err, "call", s->name, &d);
    }
    *result = ((fn6_t)(uintptr_t)f)(a[0], a[1], a[2], a[3], a[4], a[5]);
    return 0;
}

/* ---- XIP proof: the PC is in flash, text is not written, RAM < text ---- */

static int proof(const char *name, uintptr_t staged) {
    int err;
    const nm_store_entry_t *e = install_staged(staged, "proof", name, &err);
    if (!e) {
        return err;
    }
    nm_image_t h;
    nm_image_parse_header((const void *)nm_store_addr(&store, e), e->size, &h, NULL);
    uintptr_t t0 = (uintptr_t)h.text, t1 = t0 + h.text_size;
    uint32_t crc_before = nm_crc32(0, h.text, h.text_size);
    uint32_t base = mem_in_use();
    mem_peak_reset();
    slot_t s = {.used = 1};
    strncpy(s.name, name, sizeof s.name - 1);
    if ((err = load_mode(&s.m, name, staged, 1, &s.from_store)) != 0) {
        return err;
    }
    uint32_t high = mem_peak() - base;
    long pc = 0, sfn = 0, via = 0;
    char five[] = "5", *argv5[1] = {five};
    err = call(&s, "xip_where", 0, NULL, &pc);
    err = err ? err : call(&s, "xip_static_fn", 0, NULL, &sfn);
    err = err ? err : call(&s, "xip_call_static", 1, argv5, &via);
    unload(&s.m, s.from_store);
    if (err) {
        return err;
    }
    uint32_t crc_after = nm_crc32(0, h.text, h.text_size);
    int pc_ok = (uintptr_t)pc >= t0 && (uintptr_t)pc < t1 && (uintptr_t)pc >= FLASH_LO;
    int fn_ok = (uintptr_t)sfn >= t0 && (uintptr_t)sfn < t1 && via == 5;
    printf("proof: pc 0x%08lx in text [0x%08lx, 0x%08lx) of flash [0x%08x, 0x%08x): %s\n",
           (unsigned long)pc, (unsigned long)t0, (unsigned long)t1, FLASH_LO, FLASH_HI,
           pc_ok ? "yes" : "NO");
    printf("proof: static function at 0x%08lx in text, called through its pointer: %s\n",
           (unsigned long)sfn, fn_ok ? "yes" : "NO");
    printf("proof: text crc 0x%08lx before load, 0x%08lx after: %s\n", (unsigned long)crc_before,
           (unsigned long)crc_after, crc_before == crc_after ? "unchanged" : "CHANGED");
    printf("proof: RAM high-water %lu bytes < text %lu bytes: %s\n", (unsigned long)high,
           (unsigned long)h.text_size, high < h.text_size ? "yes" : "NO");
    if (!pc_ok || !fn_ok || crc_before != crc_after || high >= h.text_size) {
        return fail(NM_ERR_XIP, "proof", name, "XIP not proven");
    }
    return 0;
}

/* ---- bench: board_cycles of N loader calls (init included) per mode ---- */

/* 2 x 50000 instructions, for turning board_cycles into instructions when
 * QEMU runs with -icount (bench/cortex-m-load.sh, bench/riscv-load.sh). */
static void calibrate(void) {
    uint32_t c0 = board_cycles();
    board_spin(50000);
    printf("calib insns 100000 ticks %lu\n", (unsigned long)(board_cycles() - c0));
}

/* What catches a flipped bit after a reboot: mount again (nothing is
 * verified then), time that mount and the first load (its pin checks the
 * whole CRC once, then the load checks all but text), then nm_store_check
 * over the whole store (every installed byte), twice (the first computes
 * the meta CRC of the modules not yet verified, the second only the CRC).
 * Appended to the `bench .. xip` line: first_ticks F mount_ticks M
 * check_ticks C check_bytes B again_ticks A.
 * Measured before that line is printed: the module's init prints too. */
static void bench_after_mount(const char *key, char *out, size_t size) {
    out[0] = 0;
    if (store_in_use()) {
        return; /* a remount would forget their pins */
    }
    nm_detail_t d = {{0}};
    nm_module_t m;
    uint32_t c0 = board_cycles();
    int err = nm_store_mount(&store, fw_store_config(&cfg), &d);
    uint32_t c_mount = board_cycles() - c0;
    c0 = board_cycles();
    err = err ? err : nm_store_load(&store, key, &m, &d);
    uint32_t c_first = board_cycles() - c0;
    if (err) {
        return;
    }
    unload(&m, 1);
    nm_store_stats_t t;
    nm_store_stat(&store, &t);
    c0 = board_cycles();
    err = nm_store_check(&store, &d);
    uint32_t c_check = board_cycles() - c0;
    c0 = board_cycles();
    err = err ? err : nm_store_check(&store, &d); /* again: every module verified now */
    uint32_t c_again = board_cycles() - c0;
    if (err == 0) {
        snprintf(out, size, " first_ticks %lu mount_ticks %lu check_ticks %lu check_bytes %lu again_ticks %lu",
                 (unsigned long)c_first, (unsigned long)c_mount, (unsigned long)c_check,
                 (unsigned long)t.used_bytes, (unsigned long)c_again);
    }
}

static int bench(const char *name, uintptr_t staged, unsigned n) {
    int err;
    static int calibrated;
    if (!calibrated++) {
        calibrate();
    }
    uint32_t c0 = board_cycles();
    const nm_store_entry_t *e = install_staged(staged, "bench", name, &err);
    uint32_t c_install = board_cycles() - c0;
    if (!e) {
        return err;
    }
    for (int xip = 0; xip < 2; xip++) {
        nm_module_t m;
        int from_store;
        uint32_t total = 0, base = mem_in_use(), high = 0;
        for (unsigned i = 0; i < n; i++) {
            mem_peak_reset();
            if ((err = load_mode(&m, name, staged, xip, &from_store)) != 0) {
                break;
            }
            total += load_ticks;
            high = mem_peak() - base;
            unload(&m, from_store);
        }
        if (err) {
            printf("bench %s %s failed\n", name, xip ? "xip" : "ram");
            continue; /* RAM mode may not fit where XIP does */
        }
        nm_image_t h;
        nm_image_parse_header((const void *)nm_store_addr(&store, e), e->size, &h, NULL);
        char after[128] = "";
        if (xip) {
            char key[NM_STORE_NAME_MAX + 1];
            memcpy(key, e->name, sizeof key);
            bench_after_mount(key, after, sizeof after); /* remounts: e is stale after it */
        }
        printf("bench %s %s loads %u ticks %lu ram %lu desc %u install_ticks %lu text %lu data %lu "
               "bss %lu got %u%s\n",
               name, xip ? "xip" : "ram", n, (unsigned long)total, (unsigned long)high,
               (unsigned)sizeof(nm_module_t), (unsigned long)(xip ? c_install : 0),
               (unsigned long)h.text_size, (unsigned long)h.data_size, (unsigned long)h.bss_size,
               (unsigned)h.got_count, after);
    }
    return 0;
}

/* ---- verify: the cost of the signature policy's check (bench/trust-verify.sh) ---- */

/* Fill [sp - paint, sp - 64) with a pattern from a frame of its own, so
 * that what the next call (at the same depth) uses of it can be found. */
static __attribute__((noinline)) void paint_stack(uint32_t paint) {
    volatile uint32_t here;
    volatile uint32_t *top = (volatile uint32_t *)(((uintptr_t)&here - 64u) & ~(uintptr_t)3);
    for (volatile uint32_t *p = top - paint / 4; p < top; p++) {
        *p = 0x5AFEC0DEu; /* volatile: memory outside any object, kept */
    }
}

static __attribute__((noinline)) uint32_t painted_used(uint32_t paint) {
    volatile uint32_t here;
    volatile uint32_t *top = (volatile uint32_t *)(((uintptr_t)&here - 64u) & ~(uintptr_t)3);
    volatile uint32_t *p = top - paint / 4;
    while (p < top && *p == 0x5AFEC0DEu) {
        p++;
    }
    return (uint32_t)((uintptr_t)top - (uintptr_t)p);
}

static __attribute__((noinline)) int check_once(const nm_image_t *img, nm_detail_t *d) {
    return nm_trust_check(&cfg, img, d);
}

static void verify_bench(const char *name, uintptr_t staged, unsigned n, uint32_t paint) {
    static int calibrated;
    if (!calibrated++) {
        calibrate();
    }
    nm_slice_info_t sl;
    nm_image_t img;
    nm_detail_t d = {{0}};
    const uint8_t *src = (const uint8_t *)staged;
    int err = nm_select_slice(src, staged_len(staged), BOARD_ARCH, BOARD_FLOAT, &sl, &d);
    if (!err) {
        err = nm_image_parse(src + sl.offset, sl.size, &img, &d);
    }
    if (err) {
        fail_d(err, "verify", name, &d);
        return;
    }
    paint_stack(paint);
    err = check_once(&img, &d);
    uint32_t stack = painted_used(paint);
    uint32_t c0 = board_cycles();
    for (unsigned i = 1; i < n && !err; i++) {
        err = check_once(&img, &d);
    }
    uint32_t ticks = board_cycles() - c0;
    if (err) {
        fail_d(err, "verify", name, &d);
        return;
    }
    printf("verify %s checks %u ticks %lu bytes %lu stack %lu of %lu keys %u\n", name, n - 1,
           (unsigned long)ticks, (unsigned long)img.image_size, (unsigned long)stack, (unsigned long)paint,
           (unsigned)cfg.n_trusted_keys);
}

/* ---- the script ---- */

static void run_line(char *line) {
    char *w[MAX_WORDS];
    int n = 0;
    for (char *tok = strtok(line, " \t\r"); tok && n < MAX_WORDS; tok = strtok(NULL, " \t\r")) {
        w[n++] = tok;
    }
    if (n == 0 || w[0][0] == '#') {
        return;
    }
    const char *cmd = w[0];
    uintptr_t addr;
    slot_t *s = n > 1 ? find_slot(w[1]) : NULL;
    if (!strcmp(cmd, "load") && (n == 3 || n == 4)) {
        int xip = n == 4 && !strcmp(w[3], "xip");
        int from = n == 3 && !strcmp(w[2], "store");
        if (n == 4 && !xip && strcmp(w[3], "ram")) {
            fail(NM_ERR_INVAL, cmd, w[1], "mode must be ram or xip");
        } else if (!from && parse_addr(w[2], &addr)) {
            fail(NM_ERR_INVAL, cmd, w[1], "address outside the staging area");
        } else if (s) {
            fail(NM_ERR_BUSY, cmd, w[1], "a module of that name is loaded");
        } else {
            for (unsigned i = 0; i < MAX_SLOTS && !s; i++) {
                s = slots[i].used ? NULL : &slots[i];
            }
            if (!s) {
                fail(NM_ERR_NOMEM, cmd, w[1], "too many modules loaded");
            } else if (from ? load_store(&s->m, w[1], &s->from_store) == 0
                            : load_mode(&s->m, w[1], addr, xip, &s->from_store) == 0) {
                s->used = 1;
                strncpy(s->name, w[1], sizeof s->name - 1);
                s->name[sizeof s->name - 1] = 0;
            }
        }
    } else if (!strcmp(cmd, "call") && n >= 3 && n <= 9) {
        long r;
        if (!s) {
            fail(NM_ERR_NOENT, cmd, w[1], "no module of that name is loaded");
        } else if (call(s, w[2], n - 3, w + 3, &r) == 0) {
            printf("%s(", w[2]);
            for (int i = 3; i < n; i++) {
                printf("%s%s", i > 3 ? ", " : "", w[i]);
            }
            printf(") = %d\n", (int)r);
        }
    } else if (!strcmp(cmd, "unload") && n == 2) {
        if (!s) {
            fail(NM_ERR_NOENT, cmd, w[1], "no module of that name is loaded");
        } else {
            unload(&s->m, s->from_store);
            s->used = 0;
        }
    } else if (!strcmp(cmd, "periph") && n == 1) {
        fw_periph_dump();
    } else if (!strcmp(cmd, "stats") && n == 1) {
        nm_store_stats_t t;
        nm_store_stat(&store, &t);
        printf("stats: module RAM in use %lu bytes, module flash used %lu bytes\n",
               (unsigned long)mem_in_use(), (unsigned long)(store.mounted ? t.used_bytes : 0));
    } else if (!strcmp(cmd, "proof") && n == 3) {
        if (parse_addr(w[2], &addr)) {
            fail(NM_ERR_INVAL, cmd, w[1], "bad address");
        } else {
            proof(w[1], addr);
        }
    } else if (!strcmp(cmd, "bench") && n == 4) {
        if (parse_addr(w[2], &addr)) {
            fail(NM_ERR_INVAL, cmd, w[1], "bad address");
        } else {
            bench(w[1], addr, (unsigned)strtoul(w[3], NULL, 0));
        }
    } else if (!strcmp(cmd, "verify") && n == 5) {
        if (parse_addr(w[2], &addr)) {
            fail(NM_ERR_INVAL, cmd, w[1], "bad address");
        } else {
            verify_bench(w[1], addr, (unsigned)strtoul(w[3], NULL, 0), (uint32_t)strtoul(w[4], NULL, 0) & ~3u);
        }
    } else if (!strcmp(cmd, "store") && n >= 2) {
        store_cmd(w, n);
    } else {
        const char *why = "unknown command or wrong number of words";
        int err = board_command(w, n, &why);
        if (err) {
            fail(err > 0 ? NM_ERR_INVAL : err, cmd, NULL, why);
        }
    }
}

int main(void) {
    static char script[SCRIPT_MAX];
    memcpy(script, (const void *)SCRIPT_ADDR, sizeof script - 1);
    cfg.n_exports = nm_fw_n_exports;
    /* Silent: an unformatted partition is normal on a first boot. */
    store_err = nm_store_mount(&store, fw_store_config(&cfg), &store_why);
    board_tick_start();
    char *next;
    for (char *line = script; line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = 0;
        }
        line_no++;
        run_line(line);
    }
    for (unsigned i = 0; i < MAX_SLOTS; i++) {
        if (slots[i].used) {
            unload(&slots[i].m, slots[i].from_store); /* deinit runs before the board stops */
        }
    }
    return status;
}
