/*
 * Board-level behaviour of the host board (ports/host/board.c) with the real
 * loader: the export table, allocation accounting and the peak counter,
 * unload frees everything, a failed load leaves nothing mapped, W^X, file
 * loading, execute-in-place from the flash image (text in flash and never
 * written, RAM = data + bss, two modules, reload, refusals), module timers
 * stopped with their module, and the natmod-board program (results,
 * scripts, exit codes, --xip).
 *
 *   test_board NATMOD_BOARD
 *
 * Modules are hand-assembled x86-64 and written with nm_write_image, so this
 * test depends on neither the linker nor a cross compiler.
 */
#define _DEFAULT_SOURCE /* open_memstream, mkdtemp, realpath under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "format/writer.h"
#include "natmod/hal.h"
#include "test.h"

static const char *board_exe;
static char tmp[256];

/* ---- hand-built modules ---------------------------------------------- */

/* add3(a, b, c): lea rax,[rdi+rsi]; add rax,rdx; ret
 * nm_init: xor eax,eax; ret        init_fails: mov eax,1; ret
 * call_strlen(s): movabs rax, <import 0>; jmp rax   (PTR64 reloc at 2)     */
static const uint8_t code_plain[] = {
    0x48, 0x8d, 0x04, 0x37, 0x48, 0x01, 0xd0, 0xc3,             /*  0 add3 */
    0x31, 0xc0, 0xc3,                                           /*  8 nm_init */
    0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3,                         /* 11 init_fails */
    0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe0,             /* 17 call_strlen */
};
#define OFF_ADD3 0
#define OFF_INIT_OK 8
#define OFF_INIT_FAIL 11
#define OFF_CALL_STRLEN 17

typedef struct {
    int init_fails;
    const char *import; /* name of import 0 */
    uint32_t data_size, bss_size;
} plain_opts_t;

static uint8_t *build_plain(const plain_opts_t *o, size_t *len) {
    static uint8_t data[4096];
    memset(data, 0x5a, sizeof data);
    nm_wexport_t ex[] = {
        {"add3", OFF_ADD3, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"nm_init", o->init_fails ? OFF_INIT_FAIL : OFF_INIT_OK, NM_REGION_TEXT, NM_EXPORT_FUNC},
        {"call_strlen", OFF_CALL_STRLEN, NM_REGION_TEXT, NM_EXPORT_FUNC},
    };
    nm_reloc_t rel[] = {{.site = OFF_CALL_STRLEN + 2, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0}};
    const char *imports[] = {o->import ? o->import : "strlen"};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.name = "plain";
    m.text = code_plain;
    m.text_size = sizeof code_plain;
    m.data = data;
    m.data_size = o->data_size;
    m.bss_size = o->bss_size;
    m.rw_offset = (sizeof code_plain + 15) & ~15u;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 3;
    m.relocs = rel;
    m.n_relocs = 1;
    m.imports = imports;
    m.n_imports = 1;
    m.exports = ex;
    m.n_exports = 3;
    m.init_idx = 1;
    m.deinit_idx = NM_NO_INDEX;
    uint8_t *out = NULL;
    nm_detail_t d = {{0}};
    int err = nm_write_image(&m, &out, len, &d);
    if (err) {
        fprintf(stderr, "nm_write_image: %s: %s\n", nm_strerror(err), d.msg);
    }
    CHECK_EQ(err, 0);
    return out;
}

/* An RW_PCREL module: counter_inc() does `add dword [rip+X], 1; mov eax,
 * [rip+X]; ret` on an int at RW offset 0, reached PC-relatively. */
static uint8_t *build_pcrel(uint32_t rw_offset, size_t *len) {
    uint8_t code[14] = {0x83, 0x05, 0, 0, 0, 0, 0x01, 0x8b, 0x05, 0, 0, 0, 0, 0xc3};
    int32_t d1 = (int32_t)rw_offset - 7, d2 = (int32_t)rw_offset - 13;
    memcpy(code + 2, &d1, 4);
    memcpy(code + 9, &d2, 4);
    static const uint8_t data[4] = {41, 0, 0, 0};
    nm_wexport_t ex[] = {{"counter_inc", 0, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"counter", 0, NM_REGION_RW, NM_EXPORT_DATA}};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.flags = NM_FLAG_RW_PCREL;
    m.name = "pcrel";
    m.text = code;
    m.text_size = sizeof code;
    m.data = data;
    m.data_size = sizeof data;
    m.bss_size = 60;
    m.rw_offset = rw_offset;
    m.text_align_log2 = 12;
    m.rw_align_log2 = 3;
    m.exports = ex;
    m.n_exports = 2;
    m.init_idx = NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    uint8_t *out = NULL;
    nm_detail_t d = {{0}};
    int err = nm_write_image(&m, &out, len, &d);
    if (err) {
        fprintf(stderr, "nm_write_image: %s: %s\n", nm_strerror(err), d.msg);
    }
    CHECK_EQ(err, 0);
    return out;
}

/* An XIP-shaped RW_PCREL module (what natmod link writes for x86_64): RW
 * starts a page after a page-aligned slice (64 + rw_offset = 4096) and the
 * whole slice lies before it. counter_inc() increments an int at RW 0
 * (initially 41) PC-relatively and returns it; pc_here() returns its own
 * address (lea rax, [rip - 7]), i.e. where its code runs. data_size >= 4. */
#define XIP_RW_OFFSET (4096u - NM_HEADER_SIZE)
static uint8_t *build_xip(uint32_t rw_offset, uint32_t data_size, const char *import, size_t *len) {
    uint8_t code[22] = {0x83, 0x05, 0, 0, 0, 0, 0x01, 0x8b, 0x05, 0, 0, 0, 0, 0xc3, /* counter_inc */
                        0x48, 0x8d, 0x05, 0xf9, 0xff, 0xff, 0xff, 0xc3};            /* pc_here */
    int32_t d1 = (int32_t)rw_offset - 7, d2 = (int32_t)rw_offset - 13;
    memcpy(code + 2, &d1, 4);
    memcpy(code + 9, &d2, 4);
    static uint8_t data[8192];
    memset(data, 0, sizeof data);
    data[0] = 41;
    /* import (optional) through a GOT slot at RW 8: never called, only bound */
    nm_reloc_t rel[] = {{.site = (uint32_t)sizeof code + 8, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0}};
    const char *imports[] = {import};
    nm_wexport_t ex[] = {{"counter_inc", 0, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"pc_here", 14, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"counter", 0, NM_REGION_RW, NM_EXPORT_DATA}};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.flags = NM_FLAG_RW_PCREL;
    m.name = "xip";
    m.text = code;
    m.text_size = sizeof code;
    m.data = data;
    m.data_size = data_size;
    m.bss_size = 60;
    m.rw_offset = rw_offset;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 3;
    if (import) {
        m.got_offset = 8;
        m.got_count = 1;
        m.relocs = rel;
        m.n_relocs = 1;
        m.imports = imports;
        m.n_imports = 1;
    }
    m.exports = ex;
    m.n_exports = 3;
    m.init_idx = NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    uint8_t *out = NULL;
    nm_detail_t d = {{0}};
    int err = nm_write_image(&m, &out, len, &d);
    if (err) {
        fprintf(stderr, "nm_write_image: %s: %s\n", nm_strerror(err), d.msg);
    }
    CHECK_EQ(err, 0);
    return out;
}

/* A module with a timer, runnable from RAM and in place (imports through
 * its GOT, so text carries no relocation):
 *   start(period): hal_timer_start(period, tick, &count)
 *   tick(arg):     ++*(int *)arg          (the callback, in module text)
 *   get():         count                  (RW 16, PC-relative)
 *   stop():        hal_timer_stop()
 *   init_fail():   start(1), then return 1 (used as nm_init if asked)
 * RW: GOT[0] hal_timer_start, GOT[1] hal_timer_stop, count. */
#define T_TICK 20
static uint8_t *build_timer(int init_fails, size_t *len) {
    uint8_t code[76] = {
        0x48, 0x8d, 0x35, 0, 0, 0, 0, /*  0 lea rsi, [rip + tick] */
        0x48, 0x8d, 0x15, 0, 0, 0, 0, /*  7 lea rdx, [rip + count] */
        0xff, 0x25, 0, 0, 0, 0,       /* 14 jmp [rip + GOT0] */
        0x83, 0x07, 0x01, 0xc3,       /* 20 tick: add dword [rdi], 1; ret */
        0x8b, 0x05, 0, 0, 0, 0, 0xc3, /* 24 get: mov eax, [rip + count]; ret */
        0xff, 0x25, 0, 0, 0, 0,       /* 31 stop: jmp [rip + GOT1] */
        0x48, 0x83, 0xec, 0x08,       /* 37 init_fail: sub rsp, 8 */
        0xbf, 0x01, 0, 0, 0,          /* 41 mov edi, 1 */
        0x48, 0x8d, 0x35, 0, 0, 0, 0, /* 46 lea rsi, [rip + tick] */
        0x48, 0x8d, 0x15, 0, 0, 0, 0, /* 53 lea rdx, [rip + count] */
        0xff, 0x15, 0, 0, 0, 0,       /* 60 call [rip + GOT0] */
        0x48, 0x83, 0xc4, 0x08,       /* 66 add rsp, 8 */
        0xb8, 0x01, 0, 0, 0, 0xc3,    /* 70 mov eax, 1; ret */
    };
    const int32_t rw = (int32_t)XIP_RW_OFFSET, got0 = rw, got1 = rw + 8, count = rw + 16;
    const struct {
        unsigned at;
        int32_t v;
    } disp[] = {{3, T_TICK - 7},  {10, count - 14}, {16, got0 - 20},     {26, count - 30},
                {33, got1 - 37},  {49, T_TICK - 53}, {56, count - 60}, {62, got0 - 66}};
    for (unsigned i = 0; i < sizeof disp / sizeof disp[0]; i++) {
        memcpy(code + disp[i].at, &disp[i].v, 4);
    }
    static const uint8_t data[24];
    nm_reloc_t rel[] = {{.site = sizeof code + 0, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0},
                        {.site = sizeof code + 8, .kind = NM_RELOC_PTR64, .target = NM_TARGET_IMPORT0 + 1}};
    const char *imports[] = {"hal_timer_start", "hal_timer_stop"};
    nm_wexport_t ex[] = {{"start", 0, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"tick", T_TICK, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"get", 24, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"stop", 31, NM_REGION_TEXT, NM_EXPORT_FUNC},
                         {"nm_init", 37, NM_REGION_TEXT, NM_EXPORT_FUNC}};
    nm_wmodule_t m = {0};
    m.arch = NM_ARCH_X64;
    m.float_abi = NM_FLOAT_HARD;
    m.flags = NM_FLAG_RW_PCREL;
    m.name = "timer";
    m.text = code;
    m.text_size = sizeof code;
    m.data = data;
    m.data_size = sizeof data;
    m.bss_size = 8;
    m.rw_offset = XIP_RW_OFFSET;
    m.got_offset = 0;
    m.got_count = 2;
    m.text_align_log2 = 4;
    m.rw_align_log2 = 3;
    m.relocs = rel;
    m.n_relocs = 2;
    m.imports = imports;
    m.n_imports = 2;
    m.exports = ex;
    m.n_exports = init_fails ? 5 : 4;
    m.init_idx = init_fails ? 4 : NM_NO_INDEX;
    m.deinit_idx = NM_NO_INDEX;
    uint8_t *out = NULL;
    nm_detail_t d = {{0}};
    int err = nm_write_image(&m, &out, len, &d);
    if (err) {
        fprintf(stderr, "nm_write_image: %s: %s\n", nm_strerror(err), d.msg);
    }
    CHECK_EQ(err, 0);
    return out;
}

static void write_tmp(const char *name, const void *buf, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, len, f) == len);
    if (f) {
        fclose(f);
    }
}

/* Permissions ("r-xp") of the mapping holding addr, from /proc/self/maps. */
static void perms_of(const void *addr, char out[5]) {
    strcpy(out, "????");
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi) {
            memcpy(out, p, 5);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
}

/* The /proc/self/maps line of the mapping holding addr ("" if none). */
static void maps_line_of(const void *addr, char *out, size_t n) {
    out[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            snprintf(out, n, "%s", line);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
}

/* 1 if the flash image file holds exactly len bytes of img at off. */
static int flash_holds(const char *path, size_t off, const uint8_t *img, size_t len) {
    int fd = open(path, O_RDONLY);
    uint8_t *buf = malloc(len);
    int same = fd >= 0 && buf && pread(fd, buf, len, (off_t)off) == (ssize_t)len &&
               memcmp(buf, img, len) == 0 && nm_crc32(0, buf, len) == nm_crc32(0, img, len);
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return same;
}

static void ms_sleep(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
        /* SIGALRM interrupts the sleep: sleep the rest */
    }
}

static int maps_mention(const char *needle) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        found |= strstr(line, needle) != NULL;
    }
    if (f) {
        fclose(f);
    }
    return found;
}

/* ---- tests ------------------------------------------------------------ */

static void export_table_is_sorted_and_every_name_is_found(void) {
    static const char *const want[] = {
        "hal_print", "hal_printf", "hal_ticks_ms", "hal_timer_start", "hal_timer_stop",
        "hal_periph", "hal_clock_reg",
        "hal_set_bits", "hal_clear_bits", "hal_sort", "memcpy", "memmove", "memset",
        "memcmp", "strlen", "strcmp", "strncmp", "strchr",
    };
    CHECK_EQ(nm_fw_n_exports, sizeof want / sizeof want[0]);
    for (size_t i = 1; i < nm_fw_n_exports; i++) {
        CHECK(nm_fw_exports[i - 1].hash < nm_fw_exports[i].hash);
    }
    for (size_t i = 0; i < nm_fw_n_exports; i++) {
        CHECK_EQ(nm_fw_exports[i].hash, nm_hash(nm_fw_exports[i].name));
    }
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const nm_export_t *e = nm_export_find(nm_fw_exports, nm_fw_n_exports, want[i]);
        CHECK(e != NULL);
        if (e) {
            CHECK(!strcmp(e->name, want[i]));
        } else {
            fprintf(stderr, "  missing export %s\n", want[i]);
        }
    }
    /* The addresses are the real functions. */
    const nm_export_t *e = nm_export_find(nm_fw_exports, nm_fw_n_exports, "memcpy");
    CHECK(e && e->addr == (const void *)memcpy);
    e = nm_export_find(nm_fw_exports, nm_fw_n_exports, "hal_set_bits");
    CHECK(e && e->addr == (const void *)hal_set_bits);
    CHECK(nm_export_find(nm_fw_exports, nm_fw_n_exports, "printf") == NULL);
    CHECK(nm_export_find(nm_fw_exports, nm_fw_n_exports, "hal_") == NULL);
}

static void load_accounts_memory_and_unload_frees_everything(void) {
    nm_host_board_t b;
    CHECK_EQ(nm_host_board_init(&b, NULL), 0);
    size_t len;
    plain_opts_t o = {0, NULL, 100, 5000};
    uint8_t *img = build_plain(&o, &len);
    nm_module_t m;
    nm_detail_t d = {{0}};
    int err = nm_host_load(&b, img, len, &m, &d);
    if (err) {
        fprintf(stderr, "  load: %s: %s\n", nm_strerror(err), d.msg);
    }
    CHECK_EQ(err, 0);
    CHECK_EQ(b.stats.live_allocs, 2);
    CHECK_EQ(b.stats.cur_by_kind[NM_MEM_TEXT], sizeof code_plain);
    CHECK_EQ(b.stats.cur_by_kind[NM_MEM_RW], 5100);
    CHECK_EQ(b.stats.cur_bytes, sizeof code_plain + 5100);
    CHECK_EQ(b.stats.peak_bytes, b.stats.cur_bytes);
    CHECK_EQ(b.stats.cur_mapped, 3 * b.page_size); /* 1 text page + 2 RW pages */
    CHECK(b.stats.n_flushes >= 1);

    long args[3] = {1, 20, 300}, r = 0;
    CHECK_EQ(nm_host_call(&m, "add3", 3, args, &r, &d), 0);
    CHECK_EQ(r, 321);
    long s[1] = {(long)(intptr_t) "twelve chars"};
    CHECK_EQ(nm_host_call(&m, "call_strlen", 1, s, &r, &d), 0);
    CHECK_EQ(r, 12);
    CHECK_EQ(nm_host_call(&m, "nope", 0, NULL, &r, &d), NM_ERR_NOENT);
    CHECK_STR_CONTAINS(d.msg, "nope");
    CHECK_EQ(nm_host_call(&m, "add3", 7, args, &r, &d), NM_ERR_INVAL);

    /* W^X: text is r-x once loaded, RW is rw-. */
    char p[5];
    perms_of(m.text, p);
    CHECK(!strcmp(p, "r-xp"));
    perms_of(m.rw, p);
    CHECK(!strcmp(p, "rw-p"));

    size_t peak = b.stats.peak_bytes;
    CHECK_EQ(nm_host_unload(&b, &m), 0);
    CHECK_EQ(b.stats.cur_bytes, 0);
    CHECK_EQ(b.stats.cur_mapped, 0);
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK_EQ(b.stats.n_frees, 2);
    CHECK_EQ(b.stats.peak_bytes, peak);
    CHECK_EQ(b.stats.n_bad_frees, 0);
    CHECK_EQ(nm_host_unload(&b, &m), NM_ERR_INVAL); /* twice: refused */

    /* Two at once: the peak is the sum, not the max. */
    nm_module_t m1, m2;
    CHECK_EQ(nm_host_load(&b, img, len, &m1, &d), 0);
    CHECK_EQ(nm_host_load(&b, img, len, &m2, &d), 0);
    CHECK_EQ(b.stats.peak_bytes, 2 * peak);
    CHECK_EQ(nm_host_unload(&b, &m1), 0);
    CHECK_EQ(nm_host_call(&m2, "add3", 3, args, &r, &d), 0); /* the other still runs */
    CHECK_EQ(r, 321);
    nm_host_board_deinit(&b); /* unloads m2 */
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK_EQ(b.stats.cur_bytes, 0);
    free(img);
}

static void failed_load_leaves_nothing_mapped(void) {
    size_t len;
    nm_module_t m;
    nm_detail_t d = {{0}};

    /* init returns non-zero: refused after placing, everything given back. */
    nm_host_board_t b;
    nm_host_board_init(&b, NULL);
    plain_opts_t o = {1, NULL, 16, 64};
    uint8_t *img = build_plain(&o, &len);
    CHECK_EQ(nm_host_load(&b, img, len, &m, &d), NM_ERR_INIT);
    CHECK_EQ(b.stats.n_allocs, 2);
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK_EQ(b.stats.cur_mapped, 0);
    CHECK_EQ(b.stats.n_bad_frees, 0);
    CHECK(b.files == NULL);
    nm_host_board_deinit(&b);
    free(img);

    /* A missing import is refused before anything is allocated. */
    nm_host_board_init(&b, NULL);
    o = (plain_opts_t){0, "hal_i2s_start", 16, 64};
    img = build_plain(&o, &len);
    CHECK_EQ(nm_host_load(&b, img, len, &m, &d), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "hal_i2s_start");
    CHECK_EQ(b.stats.n_alloc_calls, 0);
    nm_host_board_deinit(&b);
    free(img);

    /* The second allocation (RW) refused: the first (TEXT) is given back. */
    nm_host_board_opts_t opts = {0};
    opts.fail_alloc_at = 2;
    nm_host_board_init(&b, &opts);
    o = (plain_opts_t){0, NULL, 16, 64};
    img = build_plain(&o, &len);
    CHECK_EQ(nm_host_load(&b, img, len, &m, &d), NM_ERR_NOMEM);
    CHECK_EQ(b.stats.n_allocs, 1);
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK_EQ(b.stats.cur_mapped, 0);
    nm_host_board_deinit(&b);

    /* A memory limit below what the module needs. */
    opts = (nm_host_board_opts_t){0};
    opts.mem_limit = sizeof code_plain + 40;
    nm_host_board_init(&b, &opts);
    CHECK_EQ(nm_host_load(&b, img, len, &m, &d), NM_ERR_NOMEM);
    CHECK_EQ(b.stats.live_allocs, 0);
    nm_host_board_deinit(&b);

    /* A corrupt image (CRC) allocates nothing. */
    nm_host_board_init(&b, NULL);
    img[NM_HEADER_SIZE] ^= 0xff;
    CHECK_EQ(nm_host_load(&b, img, len, &m, &d), NM_ERR_CRC);
    CHECK_EQ(b.stats.n_alloc_calls, 0);
    nm_host_board_deinit(&b);
    free(img);
}

static void rw_pcrel_image_gets_exec_text_and_writable_data(void) {
    /* rw_offset one page on: text page r-x, data page rw-. rw_offset 64:
     * code and data share the page, which must be both. */
    static const uint32_t offsets[] = {4096, 64};
    for (unsigned k = 0; k < 2; k++) {
        nm_host_board_t b;
        nm_host_board_init(&b, NULL);
        size_t len;
        uint8_t *img = build_pcrel(offsets[k], &len);
        nm_module_t m;
        nm_detail_t d = {{0}};
        int err = nm_host_load(&b, img, len, &m, &d);
        if (err) {
            fprintf(stderr, "  load: %s: %s\n", nm_strerror(err), d.msg);
        }
        CHECK_EQ(err, 0);
        CHECK_EQ(b.stats.live_allocs, 1);
        CHECK_EQ(b.stats.cur_by_kind[NM_MEM_IMAGE], offsets[k] + 64);
        CHECK_EQ((uintptr_t)m.text % 4096, 0);
        long r = 0;
        CHECK_EQ(nm_host_call(&m, "counter_inc", 0, NULL, &r, &d), 0);
        CHECK_EQ((int)r, 42);
        CHECK_EQ(nm_host_call(&m, "counter_inc", 0, NULL, &r, &d), 0);
        CHECK_EQ((int)r, 43);
        char p[5];
        perms_of(m.text, p);
        if (strcmp(p, k == 0 ? "r-xp" : "rwxp")) {
            fprintf(stderr, "  rw_offset %u: text %s\n", (unsigned)offsets[k], p);
        }
        CHECK(!strcmp(p, k == 0 ? "r-xp" : "rwxp"));
        perms_of(m.rw, p);
        CHECK(!strcmp(p, k == 0 ? "rw-p" : "rwxp"));
        CHECK_EQ(nm_host_unload(&b, &m), 0);
        CHECK_EQ(b.stats.live_allocs, 0);
        nm_host_board_deinit(&b);
        free(img);
    }
}

static void load_file_maps_read_only_and_unmaps_on_unload(void) {
    size_t len;
    plain_opts_t o = {0, NULL, 16, 64};
    uint8_t *img = build_plain(&o, &len);
    write_tmp("plain.nmod", img, len);
    char path[512];
    snprintf(path, sizeof path, "%s/plain.nmod", tmp);

    nm_host_board_t b;
    nm_host_board_init(&b, NULL);
    nm_module_t m;
    nm_detail_t d = {{0}};
    CHECK_EQ(nm_host_load_file(&b, path, &m, &d), 0);
    CHECK(maps_mention(path));
    char p[5];
    perms_of(m.image, p);
    CHECK(!strcmp(p, "r--p")); /* the "flash" is read-only */
    long args[3] = {2, 3, 4}, r;
    CHECK_EQ(nm_host_call(&m, "add3", 3, args, &r, &d), 0);
    CHECK_EQ(r, 9);
    CHECK_EQ(nm_host_unload(&b, &m), 0);
    CHECK(!maps_mention(path));

    /* Failures: the message names the file; a bad module leaves no mapping. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.nmod", tmp);
    CHECK_EQ(nm_host_load_file(&b, missing, &m, &d), NM_ERR_NOENT);
    CHECK_STR_CONTAINS(d.msg, "missing.nmod");
    CHECK_EQ(nm_host_load_file(&b, tmp, &m, &d), NM_ERR_IO); /* a directory */
    img[NM_HEADER_SIZE] ^= 1; /* a text byte: only the CRC can tell */
    write_tmp("bad.nmod", img, len);
    snprintf(path, sizeof path, "%s/bad.nmod", tmp);
    CHECK_EQ(nm_host_load_file(&b, path, &m, &d), NM_ERR_CRC);
    CHECK(!maps_mention(path));
    write_tmp("empty.nmod", "", 0);
    snprintf(path, sizeof path, "%s/empty.nmod", tmp);
    CHECK(nm_host_load_file(&b, path, &m, &d) < 0);
    CHECK_EQ(b.stats.live_allocs, 0);
    nm_host_board_deinit(&b);
    free(img);
}

static void xip_runs_text_from_flash_and_takes_ram_only_for_rw(void) {
    char flash[512];
    snprintf(flash, sizeof flash, "%s/flash.img", tmp);
    nm_host_board_opts_t opts = {0};
    opts.flash_path = flash;
    nm_host_board_t b;
    CHECK_EQ(nm_host_board_init(&b, &opts), 0);
    size_t len;
    uint8_t *img = build_xip(XIP_RW_OFFSET, 4, NULL, &len);
    nm_module_t m;
    nm_detail_t d = {{0}};
    int err = nm_host_load_xip(&b, img, len, &m, &d);
    if (err) {
        fprintf(stderr, "  load_xip: %s: %s\n", nm_strerror(err), d.msg);
    }
    CHECK_EQ(err, 0);
    CHECK(m.xip);

    /* RAM: data + bss only (4 + 60), one page; nothing for text. */
    CHECK_EQ(b.stats.cur_by_kind[NM_MEM_RW], 64);
    CHECK_EQ(b.stats.cur_by_kind[NM_MEM_TEXT], 0);
    CHECK_EQ(b.stats.cur_by_kind[NM_MEM_IMAGE], 0);
    CHECK_EQ(b.stats.cur_bytes, 64);
    CHECK_EQ(b.stats.peak_bytes, 64);
    CHECK_EQ(b.stats.cur_mapped, b.page_size);
    CHECK_EQ(b.stats.n_flushes, 0); /* nothing was written to text */

    /* Text runs from the flash file's shared, read+execute mapping. */
    char line[1024];
    void *fn = NULL;
    CHECK_EQ(nm_module_sym(&m, "pc_here", &fn, &d), 0);
    maps_line_of(fn, line, sizeof line);
    CHECK_STR_CONTAINS(line, " r-xs ");
    CHECK_STR_CONTAINS(line, "flash.img");
    long pc = 0;
    CHECK_EQ(nm_host_call(&m, "pc_here", 0, NULL, &pc, &d), 0);
    CHECK_EQ(pc, (long)(intptr_t)fn); /* the PC inside the module is in flash */
    CHECK(m.image == m.text - NM_HEADER_SIZE);
    /* RW right after text, read-write, on a page: vmap's PSRAM0, the host
     * back-end's RAM file, mapped shared like any physical page. */
    CHECK(m.rw == m.text + XIP_RW_OFFSET);
    CHECK_EQ((uintptr_t)m.rw % b.page_size, 0);
    char p[5];
    perms_of(m.rw, p);
    CHECK(!strcmp(p, "rw-s"));
    maps_line_of(m.rw, line, sizeof line);
    CHECK_STR_CONTAINS(line, "natmod-ram");
    /* Both are vmap blocks: text FLASH0 from the flash file, RW PSRAM0 at
     * the window offset, and vaddr_to_paddr says so. */
    uint64_t pa = 0;
    unsigned tg = 0;
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&b.vm, (uintptr_t)m.text, &pa, &tg), 0);
    CHECK_EQ(tg, NM_VMAP_TARGET_FLASH0);
    CHECK_EQ(pa % NM_VMAP_HOST_FILE_SPAN, NM_HEADER_SIZE); /* installed at offset 0 */
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&b.vm, (uintptr_t)m.rw, &pa, &tg), 0);
    CHECK_EQ(tg, NM_VMAP_TARGET_PSRAM0);
    CHECK_EQ(pa, (uint64_t)(m.rw - b.window));
    CHECK_EQ(nm_vmap_blocks(&b.vm, NULL, 0), 2);
    long r = 0;
    CHECK_EQ(nm_host_call(&m, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 42);
    CHECK_EQ(nm_host_call(&m, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 43);
    CHECK(flash_holds(flash, 0, img, len)); /* installed at offset 0, unchanged by running */

    /* Unload: RW and text pages go back to PROT_NONE; flash untouched. */
    uint8_t *text = m.text, *rw = m.rw;
    CHECK_EQ(nm_host_unload(&b, &m), 0);
    CHECK_EQ(b.stats.cur_bytes, 0);
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK_EQ(b.stats.n_bad_frees, 0);
    perms_of(text, p);
    CHECK(!strcmp(p, "---p"));
    perms_of(rw, p);
    CHECK(!strcmp(p, "---p"));
    CHECK(flash_holds(flash, 0, img, len));

    /* Reload: data starts over. Two at once: separate slots and counters. */
    nm_module_t m1, m2;
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m1, &d), 0);
    CHECK_EQ(nm_host_call(&m1, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 42);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m2, &d), 0);
    CHECK(m2.text != m1.text && m2.rw != m1.rw);
    CHECK_EQ(b.flash_used, 2 * 4096);
    CHECK(flash_holds(flash, 4096, img, len));
    CHECK_EQ(b.stats.cur_bytes, 128);
    CHECK_EQ(nm_host_call(&m2, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 42);
    CHECK_EQ(nm_host_call(&m1, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 43);
    /* A RAM module alongside. */
    nm_module_t m3;
    CHECK_EQ(nm_host_load(&b, img, len, &m3, &d), 0);
    CHECK(!m3.xip);
    CHECK_EQ(nm_host_call(&m3, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 42);
    CHECK_EQ(nm_host_unload(&b, &m3), 0);
    CHECK_EQ(nm_host_unload(&b, &m1), 0);
    CHECK_EQ(nm_host_call(&m2, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 43);

    /* claim_cb's rules, called directly as the loader would, for m2's slot:
     * only the free, page-aligned RW part of the slot being loaded. */
    int (*claim)(void *, void *, size_t, unsigned) = b.cfg.claim_cb;
    CHECK(claim(b.cfg.context, m2.rw, 64, NM_MEM_RW) != 0); /* no XIP load under way */
    b.xip_loading = b.xips;
    CHECK(claim(b.cfg.context, m2.rw, 64, NM_MEM_RW) != 0);               /* already mapped */
    CHECK(claim(b.cfg.context, m2.rw + 1, 64, NM_MEM_RW) != 0);           /* not on a page */
    CHECK(claim(b.cfg.context, m2.text, 64, NM_MEM_RW) != 0);             /* over flash */
    CHECK(claim(b.cfg.context, &line[0], 64, NM_MEM_RW) != 0);            /* outside the window */
    CHECK(claim(b.cfg.context, m2.rw + b.page_size, 64, NM_MEM_RW) != 0); /* the guard page */
    b.xip_loading = NULL;
    CHECK_EQ(b.stats.live_allocs, 1);

    nm_host_board_deinit(&b); /* unloads m2 */
    CHECK_EQ(b.stats.cur_bytes, 0);
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK(b.window == NULL);
    free(img);
}

/* Running in place from someone else's flash (nm_host_load_xip_fd, what a
 * store load does): the pages are mapped through vmap from that file. A
 * second load of the same extent while the first runs would map the same
 * physical pages again: vmap says INVALID_STATE, the board NM_ERR_BUSY
 * naming where they are, and nothing of the second load stays. */
static void xip_from_fd_maps_that_file_and_refuses_a_second_mapping(void) {
    size_t len;
    uint8_t *img = build_xip(XIP_RW_OFFSET, 4, NULL, &len);
    static uint8_t page[4096]; /* a whole page of flash: the board maps no page past the file */
    CHECK(len <= sizeof page);
    memcpy(page, img, len);
    write_tmp("extent.img", page, sizeof page);
    char path[512];
    snprintf(path, sizeof path, "%s/extent.img", tmp);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    nm_host_board_t b;
    CHECK_EQ(nm_host_board_init(&b, NULL), 0);
    nm_module_t m1, m2;
    nm_detail_t d = {{0}};
    CHECK_EQ(nm_host_load_xip_fd(&b, fd, 0, (uint32_t)len, 4096, NULL, NULL, NULL, &m1, &d), 0);
    char line[1024];
    maps_line_of(m1.text, line, sizeof line);
    CHECK_STR_CONTAINS(line, "extent.img");
    long r = 0;
    CHECK_EQ(nm_host_call(&m1, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 42);
    CHECK_EQ(nm_host_load_xip_fd(&b, fd, 0, (uint32_t)len, 4096, NULL, NULL, NULL, &m2, &d),
             NM_ERR_BUSY);
    CHECK_STR_CONTAINS(d.msg, "mapped already");
    CHECK_EQ(nm_vmap_blocks(&b.vm, NULL, 0), 2); /* m1's text and RW only */
    CHECK_EQ(b.stats.live_allocs, 1);
    /* The same file through another descriptor is the same flash. */
    int fd2 = open(path, O_RDONLY);
    CHECK_EQ(nm_host_load_xip_fd(&b, fd2, 0, (uint32_t)len, 4096, NULL, NULL, NULL, &m2, &d),
             NM_ERR_BUSY);
    uint8_t *text1 = m1.text;
    CHECK_EQ(nm_host_unload(&b, &m1), 0);
    CHECK_EQ(nm_vmap_blocks(&b.vm, NULL, 0), 0);
    /* Once it is unloaded the extent maps again, at the address it had. */
    CHECK_EQ(nm_host_load_xip_fd(&b, fd2, 0, (uint32_t)len, 4096, NULL, NULL, NULL, &m2, &d), 0);
    CHECK(m2.text == text1);
    CHECK_EQ(nm_host_call(&m2, "counter_inc", 0, NULL, &r, &d), 0);
    CHECK_EQ((int)r, 42); /* fresh RAM: the discarded page reads zero again */
    close(fd);
    close(fd2);
    nm_host_board_deinit(&b);
    free(img);
}

static void xip_refuses_what_cannot_run_in_place(void) {
    nm_host_board_t b;
    nm_module_t m;
    nm_detail_t d = {{0}};
    size_t len;
    CHECK_EQ(nm_host_board_init(&b, NULL), 0);

    /* Not RW_PCREL: text is relocated at load. */
    plain_opts_t o = {0, NULL, 16, 64};
    uint8_t *img = build_plain(&o, &len);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_XIP);
    CHECK_STR_CONTAINS(d.msg, "not RW_PCREL");
    free(img);
    /* RW not on a page when the slice starts one. */
    img = build_pcrel(4096, &len);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_XIP);
    CHECK_STR_CONTAINS(d.msg, "not on a page");
    free(img);
    /* The slice's tail (a 5000-byte data image) runs past RW. */
    img = build_xip(XIP_RW_OFFSET, 5000, NULL, &len);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_XIP);
    CHECK_STR_CONTAINS(d.msg, "runs past RW");
    free(img);
    CHECK_EQ(b.stats.n_alloc_calls, 0);
    CHECK_EQ(b.flash_used, 0);

    /* Damaged: refused before it is installed. */
    img = build_xip(XIP_RW_OFFSET, 4, NULL, &len);
    img[NM_HEADER_SIZE + 3] ^= 0x40;
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_CRC);
    CHECK_EQ(nm_host_load_xip(&b, img, 40, &m, &d), NM_ERR_TRUNCATED);
    CHECK_EQ(b.flash_used, 0);
    free(img);

    /* A missing import: refused by the loader before RW is claimed; the
     * flash pages are unmapped and the flash space reused. */
    img = build_xip(XIP_RW_OFFSET, 16, "hal_i2s_start", &len);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(d.msg, "hal_i2s_start");
    CHECK_EQ(b.stats.n_alloc_calls, 0);
    CHECK_EQ(b.flash_used, 0);
    CHECK(b.xips == NULL);
    CHECK(!m.state);
    free(img);
    /* With an import the board has, it runs. */
    img = build_xip(XIP_RW_OFFSET, 16, "strlen", &len);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), 0);
    CHECK_EQ(nm_host_unload(&b, &m), 0);
    nm_host_board_deinit(&b);

    /* RW refused (fault injection, memory limit): NOMEM, nothing left. */
    nm_host_board_opts_t opts = {0};
    opts.fail_alloc_at = 1;
    nm_host_board_init(&b, &opts);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_NOMEM);
    CHECK_EQ(b.stats.live_allocs, 0);
    CHECK(b.xips == NULL);
    CHECK_EQ(b.flash_used, 0);
    nm_host_board_deinit(&b);
    opts = (nm_host_board_opts_t){0};
    opts.mem_limit = 40; /* RW is 16 + 60 */
    nm_host_board_init(&b, &opts);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_NOMEM);
    CHECK_EQ(b.stats.live_allocs, 0);
    nm_host_board_deinit(&b);
    /* Flash too small for the slice's pages. */
    opts = (nm_host_board_opts_t){0};
    opts.flash_size = 4096;
    nm_host_board_init(&b, &opts);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), 0);
    nm_module_t m2;
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m2, &d), NM_ERR_NOMEM);
    CHECK_STR_CONTAINS(d.msg, "flash full");
    nm_host_board_deinit(&b);
    free(img);

    /* A flash image that cannot be opened: one line naming it. */
    opts = (nm_host_board_opts_t){0};
    opts.flash_path = "/nonexistent-dir/flash.img";
    nm_host_board_init(&b, &opts);
    img = build_xip(XIP_RW_OFFSET, 4, NULL, &len);
    CHECK_EQ(nm_host_load_xip(&b, img, len, &m, &d), NM_ERR_IO);
    CHECK_STR_CONTAINS(d.msg, "/nonexistent-dir/flash.img");
    nm_host_board_deinit(&b);
    free(img);
}

/* Polls the module's get() until it reaches want or 2 s pass. */
static long timer_count_reaches(const nm_module_t *m, long want) {
    long r = 0;
    nm_detail_t d;
    for (int waited = 0; waited < 2000; waited++) {
        if (nm_host_call(m, "get", 0, NULL, &r, &d) != 0 || r >= want) {
            break;
        }
        ms_sleep(1);
    }
    return r;
}

static void module_timer_calls_back_and_stops_with_its_module(void) {
    for (int xip = 0; xip < 2; xip++) {
        nm_host_board_t b;
        nm_host_board_init(&b, NULL);
        size_t len;
        uint8_t *img = build_timer(0, &len);
        nm_module_t m, other;
        nm_detail_t d = {{0}};
        int err = xip ? nm_host_load_xip(&b, img, len, &m, &d) : nm_host_load(&b, img, len, &m, &d);
        if (err) {
            fprintf(stderr, "  load (%s): %s: %s\n", xip ? "xip" : "ram", nm_strerror(err), d.msg);
        }
        CHECK_EQ(err, 0);
        CHECK_EQ(xip ? nm_host_load_xip(&b, img, len, &other, &d) : nm_host_load(&b, img, len, &other, &d),
                 0);
        long one = 1, r = -1;
        CHECK_EQ(nm_host_call(&m, "start", 1, &one, &r, &d), 0);
        CHECK_EQ((int)r, 0);
        uintptr_t cb = 0, arg = 0;
        CHECK_EQ(nm_host_timer_get(&cb, &arg), 1);
        CHECK(cb == (uintptr_t)(m.text + T_TICK)); /* the firmware calls into module text */
        CHECK(arg == (uintptr_t)(m.rw + 16));
        CHECK(timer_count_reaches(&m, 5) >= 5);
        /* Unloading another module leaves this module's timer running. */
        CHECK_EQ(nm_host_unload(&b, &other), 0);
        CHECK_EQ(nm_host_timer_get(NULL, NULL), 1);
        /* Its own stop(). */
        CHECK_EQ(nm_host_call(&m, "stop", 0, NULL, &r, &d), 0);
        CHECK_EQ(nm_host_call(&m, "get", 0, NULL, &r, &d), 0);
        long frozen = r;
        ms_sleep(20);
        CHECK_EQ(nm_host_call(&m, "get", 0, NULL, &r, &d), 0);
        CHECK_EQ(r, frozen);
        /* Unloaded with the timer running: the board stops it first (else
         * the next tick would jump into unmapped pages and crash). */
        CHECK_EQ(nm_host_call(&m, "start", 1, &one, &r, &d), 0);
        CHECK(timer_count_reaches(&m, frozen + 3) >= frozen + 3);
        CHECK_EQ(nm_host_unload(&b, &m), 0);
        CHECK_EQ(nm_host_timer_get(NULL, NULL), 0);
        ms_sleep(20);
        free(img);

        /* An init that starts the timer and then fails: stopped too. */
        img = build_timer(1, &len);
        err = xip ? nm_host_load_xip(&b, img, len, &m, &d) : nm_host_load(&b, img, len, &m, &d);
        CHECK_EQ(err, NM_ERR_INIT);
        CHECK_EQ(nm_host_timer_get(NULL, NULL), 0);
        CHECK_EQ(b.stats.live_allocs, 0);
        ms_sleep(20);
        nm_host_board_deinit(&b);
        free(img);
    }
}

/* ---- natmod-board ----------------------------------------------------- */

static int run_board(const char *args, char **out, char **err) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >out.txt 2>err.txt", tmp, board_exe, args);
    int st = system(cmd);
    char path[512];
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", tmp, k ? "err.txt" : "out.txt");
        FILE *f = fopen(path, "r");
        char *buf = calloc(1, 65536);
        if (f) {
            size_t n = fread(buf, 1, 65535, f);
            buf[n] = '\0';
            fclose(f);
        }
        *(k ? err : out) = buf;
    }
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static void natmod_board_prints_results_and_exits_with_the_error(void) {
    size_t len;
    plain_opts_t o = {0, NULL, 16, 64};
    uint8_t *img = build_plain(&o, &len);
    write_tmp("plain.nmod", img, len);
    size_t plen;
    uint8_t *pimg = build_pcrel(4096, &plen);
    write_tmp("pcrel.nmod", pimg, plen);
    char *out, *err;

    CHECK_EQ(run_board("plain.nmod add3 1 2 -3", &out, &err), 0);
    CHECK(!strcmp(out, "add3(1, 2, -3) = 0\n"));
    free(out), free(err);

    CHECK_EQ(run_board("missing.nmod add3", &out, &err), -NM_ERR_NOENT);
    CHECK_STR_CONTAINS(err, "error: missing.nmod: ");
    CHECK(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
    free(out), free(err);

    img[NM_HEADER_SIZE] ^= 1; /* a text byte: only the CRC can tell */
    write_tmp("bad.nmod", img, len);
    CHECK_EQ(run_board("bad.nmod add3", &out, &err), -NM_ERR_CRC);
    CHECK_STR_CONTAINS(err, "error: bad.nmod: load failed: bad CRC");
    free(out), free(err);

    CHECK_EQ(run_board("plain.nmod nothere", &out, &err), -NM_ERR_NOENT);
    CHECK_STR_CONTAINS(err, "nothere");
    free(out), free(err);
    CHECK_EQ(run_board("plain.nmod add3 x", &out, &err), -NM_ERR_INVAL);
    free(out), free(err);

    /* Script: two modules at once, unload and reload (data back to its
     * initial value), peripheral dump. */
    const char *script = "# two modules\n"
                         "load a plain.nmod\n"
                         "load p pcrel.nmod\n"
                         "call a add3 0x10 1 1\n"
                         "call p counter_inc\n"
                         "call p counter_inc\n"
                         "unload p\n"
                         "call a add3 1 1 1\n"
                         "load p pcrel.nmod\n"
                         "call p counter_inc\n"
                         "periph\n"
                         "unload a\n";
    write_tmp("s1.txt", script, strlen(script));
    CHECK_EQ(run_board("--script s1.txt", &out, &err), 0);
    CHECK(!strcmp(out, "add3(0x10, 1, 1) = 18\n"
                       "counter_inc() = 42\n"
                       "counter_inc() = 43\n"
                       "add3(1, 1, 1) = 3\n"
                       "counter_inc() = 42\n"
                       "clock 0x00000000\n"));
    CHECK(!strcmp(err, ""));
    free(out), free(err);

    /* A failing script line stops the run and names file:line. */
    const char *bad = "load a plain.nmod\ncall b add3\n";
    write_tmp("s2.txt", bad, strlen(bad));
    CHECK_EQ(run_board("--script s2.txt", &out, &err), -NM_ERR_NOENT);
    CHECK_STR_CONTAINS(err, "error: s2.txt:2: ");
    free(out), free(err);
    const char *bad2 = "load a bad.nmod\n";
    write_tmp("s3.txt", bad2, strlen(bad2));
    CHECK_EQ(run_board("--script s3.txt", &out, &err), -NM_ERR_CRC);
    CHECK_STR_CONTAINS(err, "error: s3.txt:1: bad.nmod: load failed: bad CRC");
    free(out), free(err);
    const char *bad3 = "frobnicate\n";
    write_tmp("s4.txt", bad3, strlen(bad3));
    CHECK_EQ(run_board("--script s4.txt", &out, &err), -NM_ERR_INVAL);
    free(out), free(err);
    free(img);
    free(pimg);
}

static void natmod_board_runs_modules_in_place(void) {
    size_t len, plen;
    uint8_t *img = build_xip(XIP_RW_OFFSET, 4, NULL, &len);
    write_tmp("xip.nmod", img, len);
    plain_opts_t o = {0, NULL, 16, 64};
    uint8_t *pimg = build_plain(&o, &plen);
    write_tmp("plain.nmod", pimg, plen);
    char *out, *err;

    CHECK_EQ(run_board("--xip --flash fl.img xip.nmod counter_inc", &out, &err), 0);
    CHECK(!strcmp(out, "counter_inc() = 42\n"));
    CHECK(!strcmp(err, ""));
    free(out), free(err);
    char flash[512];
    snprintf(flash, sizeof flash, "%s/fl.img", tmp);
    CHECK(flash_holds(flash, 0, img, len));

    /* Script: two in place, one from RAM, unload/reload; the default mode
     * is ram, --xip makes it xip. */
    const char *script = "load a xip.nmod xip\n"
                         "load b xip.nmod xip\n"
                         "load c xip.nmod\n"
                         "call a counter_inc\n"
                         "call a counter_inc\n"
                         "call b counter_inc\n"
                         "call c counter_inc\n"
                         "stats\n"
                         "unload a\n"
                         "call b counter_inc\n"
                         "load a xip.nmod xip\n"
                         "call a counter_inc\n";
    write_tmp("x1.txt", script, strlen(script));
    CHECK_EQ(run_board("--script x1.txt", &out, &err), 0);
    CHECK_STR_CONTAINS(out, "counter_inc() = 42\ncounter_inc() = 43\ncounter_inc() = 42\n"
                            "counter_inc() = 42\nstats: live=4224 ");
    CHECK_STR_CONTAINS(out, " rw=128 image=4096 ");
    CHECK_STR_CONTAINS(out, "counter_inc() = 43\ncounter_inc() = 42\n");
    CHECK(!strcmp(err, ""));
    free(out), free(err);

    /* Refusals: one line naming file:line and the reason, the status. */
    const char *bad = "load p plain.nmod xip\n";
    write_tmp("x2.txt", bad, strlen(bad));
    CHECK_EQ(run_board("--script x2.txt", &out, &err), -NM_ERR_XIP);
    CHECK_STR_CONTAINS(err, "error: x2.txt:1: plain.nmod: load failed: cannot execute in place");
    CHECK(strchr(err, '\n') == err + strlen(err) - 1);
    free(out), free(err);
    CHECK_EQ(run_board("--xip plain.nmod add3 1 2 3", &out, &err), -NM_ERR_XIP);
    CHECK_STR_CONTAINS(err, "error: plain.nmod: load failed: cannot execute in place");
    free(out), free(err);
    const char *bad2 = "load p xip.nmod flash\n";
    write_tmp("x3.txt", bad2, strlen(bad2));
    CHECK_EQ(run_board("--script x3.txt", &out, &err), -NM_ERR_INVAL);
    CHECK_STR_CONTAINS(err, "bad load mode");
    free(out), free(err);
    CHECK_EQ(run_board("--xip --flash /nonexistent-dir/f.img xip.nmod counter_inc", &out, &err),
             -NM_ERR_IO);
    CHECK_STR_CONTAINS(err, "/nonexistent-dir/f.img");
    free(out), free(err);
    free(img);
    free(pimg);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s NATMOD_BOARD\n", argv[0]);
        return 2;
    }
    static char exe[4096];
    if (!realpath(argv[1], exe)) {
        perror(argv[1]);
        return 2;
    }
    board_exe = exe;
    snprintf(tmp, sizeof tmp, "/tmp/nm_board.XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(export_table_is_sorted_and_every_name_is_found);
    RUN(load_accounts_memory_and_unload_frees_everything);
    RUN(failed_load_leaves_nothing_mapped);
    RUN(rw_pcrel_image_gets_exec_text_and_writable_data);
    RUN(load_file_maps_read_only_and_unmaps_on_unload);
    RUN(xip_runs_text_from_flash_and_takes_ram_only_for_rw);
    RUN(xip_from_fd_maps_that_file_and_refuses_a_second_mapping);
    RUN(xip_refuses_what_cannot_run_in_place);
    RUN(module_timer_calls_back_and_stops_with_its_module);
    RUN(natmod_board_prints_results_and_exits_with_the_error);
    RUN(natmod_board_runs_modules_in_place);
    int rc = TEST_DONE();
    if (!rc) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmp);
        }
    } else {
        fprintf(stderr, "files kept in %s\n", tmp);
    }
    return rc;
}
