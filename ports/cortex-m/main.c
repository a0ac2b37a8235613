/*
 * Cortex-M board firmware: runs a script of module commands that QEMU placed
 * at SCRIPT_ADDR (NUL-terminated text, -device loader), with module files
 * staged at addresses in [STAGE_LO, STAGE_HI). Script lines, as on the host
 * board (`#` comments and blank lines ignored):
 *
 *   load NAME ADDR [ram|xip]  load the module staged at ADDR as NAME
 *   call NAME FN ARGS...      call export FN with up to 6 integer arguments
 *   unload NAME               run its deinit and free its RAM
 *   periph                    print the simulated peripheral registers
 *   stats                     print module RAM and flash use
 *   proof NAME ADDR           prove XIP on the module staged at ADDR
 *   bench NAME ADDR N         time N loads in each mode (bench/)
 *
 * ram copies text into RAM. xip first installs the module: it is linked for
 * a 4 KB-aligned extent of the board's module flash [FLASH_LO, FLASH_HI) and
 * an RW address (nm_xip_link), once per staged address; then it runs in
 * place from there (nm_load_xip). An image staged already XIP-linked for
 * its own address runs where it lies.
 *
 * A call prints `FN(args) = value`. A failing command prints one line
 * `error: line N: CMD NAME: reason` and the script goes on; the exit status
 * (through semihosting) is 0, or the positive NM_ERR_* of the first failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "natmod/loader.h"

/* The memory map; build-fw.sh passes another one for the micro:bit. */
#ifndef STAGE_LO
#define STAGE_LO 0x00200000u
#define STAGE_HI 0x00300000u
#define FLASH_LO 0x00300000u
#define FLASH_HI 0x003F0000u
#define SCRIPT_ADDR 0x003F0000u
#define SCRIPT_MAX 0x00010000u
#endif
#define FLASH_ALIGN 4096u
#define MAX_SLOTS 8
#define MAX_INSTALLS 16
#define MAX_WORDS 10

extern const nm_export_t nm_fw_exports[];
extern const size_t nm_fw_n_exports;
void board_periph_dump(void);
void board_systick_start(void);
uint32_t board_cycles(void);
void board_timer_drop(uintptr_t lo, uintptr_t hi);
int board_flash_erase(uintptr_t at, uint32_t size);
int board_flash_program(uintptr_t at, const void *data, size_t len);

/* Unload, first stopping a board timer whose callback is in the module. */
static void unload(nm_module_t *m) {
    nm_image_t h;
    if (nm_image_parse_header(m->image, m->image_size, &h, NULL) == NM_OK) {
        board_timer_drop((uintptr_t)m->text, (uintptr_t)m->text + h.text_size);
    }
    nm_unload(m);
}

typedef struct slot {
    char name[32];
    nm_module_t m;
    int used;
} slot_t;

/* One module linked into flash: the staged source it came from. */
typedef struct install {
    uintptr_t staged, at;
    uint32_t size;
} install_t;

static slot_t slots[MAX_SLOTS];
static install_t installs[MAX_INSTALLS];
static unsigned n_installs;
static uintptr_t flash_next = FLASH_LO;
static int status; /* first failure */
static unsigned line_no;

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

static nm_loader_config_t cfg = {
    .arch = BOARD_ARCH,
    .float_abi = BOARD_FLOAT,
    .exports = nm_fw_exports,
    .alloc_cb = alloc_cb,
    .free_cb = free_cb,
    .claim_cb = claim_cb,
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

static int parse_addr(const char *s, uintptr_t *out) {
    char *e;
    unsigned long v = strtoul(s, &e, 0);
    if (!*s || *e || v < STAGE_LO || v >= FLASH_HI) {
        return -1;
    }
    *out = (uintptr_t)v;
    return 0;
}

/* An extent of module flash being written, through the board's driver
 * (flash.c), bounded by the extent. */
typedef struct extent {
    uintptr_t at;
    uint32_t size;
} extent_t;

static int flash_write(void *ctx, uint32_t off, const void *data, size_t len) {
    const extent_t *x = ctx;
    if (off > x->size || len > x->size - off) {
        return -1;
    }
    return board_flash_program(x->at + off, data, len);
}

/* Link the module staged at `staged` into the next free flash extent. */
static const install_t *install(uintptr_t staged, const char *name, nm_detail_t *d, int *err) {
    for (unsigned i = 0; i < n_installs; i++) {
        if (installs[i].staged == staged) {
            return &installs[i];
        }
    }
    const void *src = (const void *)staged;
    size_t len = STAGE_HI > staged ? STAGE_HI - staged : FLASH_HI - staged;
    uint32_t size, rw_size, rw_align;
    *err = nm_xip_size(&cfg, src, len, &size, &rw_size, &rw_align, d);
    if (*err) {
        fail_d(*err, "load", name, d);
        return NULL;
    }
    extent_t x = {(flash_next + FLASH_ALIGN - 1u) & ~(uintptr_t)(FLASH_ALIGN - 1u), size};
    if (n_installs == MAX_INSTALLS || x.at > FLASH_HI || size > FLASH_HI - x.at) {
        *err = fail(NM_ERR_NOMEM, "load", name, "out of memory: module flash is full");
        return NULL;
    }
    if (board_flash_erase(x.at, size) != 0) {
        *err = fail(NM_ERR_IO, "load", name, "flash erase failed");
        return NULL;
    }
    uintptr_t rw = mem_xip_slot(rw_size ? rw_size : 1, rw_align);
    if (!rw) {
        *err = fail(NM_ERR_NOMEM, "load", name, "out of memory: no RAM left for an XIP slot");
        return NULL;
    }
    *err = nm_xip_link(&cfg, src, len, x.at, rw, flash_write, &x, NULL, d);
    if (*err) {
        fail_d(*err, "load", name, d);
        return NULL;
    }
    flash_next = x.at + size;
    install_t *in = &installs[n_installs++];
    in->staged = staged;
    in->at = x.at;
    in->size = size;
    return in;
}

static uint32_t load_ticks; /* SysTick counts of the last nm_load / nm_load_xip call */

/* Load in the given mode; prints the error itself. */
static int load_mode(nm_module_t *m, const char *name, uintptr_t addr, int xip) {
    nm_detail_t d = {{0}};
    int err;
    uint32_t c0;
    if (!xip) {
        c0 = board_cycles();
        err = nm_load(&cfg, m, (const void *)addr, FLASH_HI - addr, &d);
        load_ticks = board_cycles() - c0;
    } else {
        nm_image_t h;
        const void *img = (const void *)addr;
        size_t len = FLASH_HI - addr;
        if (nm_image_parse_header(img, len, &h, NULL) != NM_OK || !(h.flags & NM_FLAG_XIP_LINKED)) {
            const install_t *in = install(addr, name, &d, &err);
            if (!in) {
                return err;
            }
            img = (const void *)in->at;
            len = in->size;
        }
        c0 = board_cycles();
        err = nm_load_xip(&cfg, m, img, len, &d);
        load_ticks = board_cycles() - c0;
    }
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
    nm_detail_t d = {{0}};
    int err;
    const install_t *in = install(staged, name, &d, &err);
    if (!in) {
        return err;
    }
    nm_image_t h;
    nm_image_parse_header((const void *)in->at, in->size, &h, NULL);
    uintptr_t t0 = (uintptr_t)h.text, t1 = t0 + h.text_size;
    uint32_t crc_before = nm_crc32(0, h.text, h.text_size);
    uint32_t base = mem_in_use();
    mem_peak_reset();
    slot_t s = {.used = 1};
    strncpy(s.name, name, sizeof s.name - 1);
    if ((err = load_mode(&s.m, name, staged, 1)) != 0) {
        return err;
    }
    uint32_t high = mem_peak() - base;
    long pc = 0, sfn = 0, via = 0;
    char five[] = "5", *argv5[1] = {five};
    err = call(&s, "xip_where", 0, NULL, &pc);
    err = err ? err : call(&s, "xip_static_fn", 0, NULL, &sfn);
    err = err ? err : call(&s, "xip_call_static", 1, argv5, &via);
    unload(&s.m);
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

/* ---- bench: SysTick counts of N loader calls (init included) per mode ---- */

/* 2 x 50000 instructions, for turning SysTick counts into instructions
 * when QEMU runs with -icount (bench/cortex-m-load.sh). */
static void calibrate(void) {
    uint32_t c0 = board_cycles();
    uint32_t n = 50000;
    __asm volatile(".syntax unified\n1: subs %0, %0, #1\n\tbne 1b" : "+l"(n)::"cc");
    printf("calib insns 100000 ticks %lu\n", (unsigned long)(board_cycles() - c0));
}

static int bench(const char *name, uintptr_t staged, unsigned n) {
    nm_detail_t d = {{0}};
    int err;
    static int calibrated;
    if (!calibrated++) {
        calibrate();
    }
    uint32_t c0 = board_cycles();
    const install_t *in = install(staged, name, &d, &err);
    uint32_t c_install = board_cycles() - c0;
    if (!in) {
        return err;
    }
    for (int xip = 0; xip < 2; xip++) {
        nm_module_t m;
        uint32_t total = 0, base = mem_in_use(), high = 0;
        for (unsigned i = 0; i < n; i++) {
            mem_peak_reset();
            if ((err = load_mode(&m, name, staged, xip)) != 0) {
                break;
            }
            total += load_ticks;
            high = mem_peak() - base;
            unload(&m);
        }
        if (err) {
            printf("bench %s %s failed\n", name, xip ? "xip" : "ram");
            continue; /* RAM mode may not fit where XIP does */
        }
        nm_image_t h;
        nm_image_parse_header((const void *)in->at, in->size, &h, NULL);
        printf("bench %s %s loads %u ticks %lu ram %lu desc %u install_ticks %lu text %lu data %lu "
               "bss %lu got %u\n",
               name, xip ? "xip" : "ram", n, (unsigned long)total, (unsigned long)high,
               (unsigned)sizeof(nm_module_t), (unsigned long)(xip ? c_install : 0),
               (unsigned long)h.text_size, (unsigned long)h.data_size, (unsigned long)h.bss_size,
               (unsigned)h.got_count);
    }
    return 0;
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
        if (n == 4 && !xip && strcmp(w[3], "ram")) {
            fail(NM_ERR_INVAL, cmd, w[1], "mode must be ram or xip");
        } else if (parse_addr(w[2], &addr)) {
            fail(NM_ERR_INVAL, cmd, w[1], "address outside the staging area and module flash");
        } else if (s) {
            fail(NM_ERR_BUSY, cmd, w[1], "a module of that name is loaded");
        } else {
            for (unsigned i = 0; i < MAX_SLOTS && !s; i++) {
                s = slots[i].used ? NULL : &slots[i];
            }
            if (!s) {
                fail(NM_ERR_NOMEM, cmd, w[1], "too many modules loaded");
            } else if (load_mode(&s->m, w[1], addr, xip) == 0) {
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
            unload(&s->m);
            s->used = 0;
        }
    } else if (!strcmp(cmd, "periph") && n == 1) {
        board_periph_dump();
    } else if (!strcmp(cmd, "stats") && n == 1) {
        printf("stats: module RAM in use %lu bytes, module flash used %lu bytes\n",
               (unsigned long)mem_in_use(), (unsigned long)(flash_next - FLASH_LO));
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
    } else {
        fail(NM_ERR_INVAL, cmd, NULL, "unknown command or wrong number of words");
    }
}

int main(void) {
    static char script[SCRIPT_MAX];
    memcpy(script, (const void *)SCRIPT_ADDR, sizeof script - 1);
    cfg.n_exports = nm_fw_n_exports;
    board_systick_start();
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
            unload(&slots[i].m); /* a module's deinit runs before the board stops */
        }
    }
    return status;
}
