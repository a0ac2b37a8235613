/*
 * The host back-end of vmap (src/vmap/host.h) under the map manager: the
 * bytes of a flash file and of the RAM file are really there behind the
 * addresses map and map_at hand out, aliases share pages, unmapped pages
 * are PROT_NONE and stay reserved, and every back-end refusal is
 * NM_VMAP_ERR_FAIL with the map left exactly as it was.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, mkstemp, pread under -std=c11 */

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "vmap/host.h"

#define POOL 32
#define WINDOW ((size_t)64 << 20)

typedef struct fx {
    nm_vmap_host_t h;
    nm_vmap_t vm;
    nm_vmap_region_t region;
    nm_vmap_block_t pool[POOL];
    size_t ps;
    int ok;
} fx_t;

static fx_t *fx_open(size_t window) {
    fx_t *f = calloc(1, sizeof *f);
    nm_detail_t d = {{0}};
    nm_vmap_config_t cfg;
    CHECK(f != NULL);
    if (!f) {
        return NULL;
    }
    CHECK_EQ(nm_vmap_host_init(&f->h, window, &d), NM_OK);
    nm_vmap_host_config(&cfg, &f->h, &f->region, f->pool, POOL);
    CHECK_EQ(nm_vmap_init(&f->vm, &cfg, &d), NM_OK);
    f->ps = f->h.page_size;
    return f;
}

static void fx_close(fx_t *f) {
    if (f) {
        nm_vmap_host_fini(&f->h);
        free(f);
    }
}

/* The byte at offset j of page i of a test flash file. */
static uint8_t pattern(size_t i, size_t j) {
    return (uint8_t)(0x11 * (i + 1) + j * 7);
}

/* An unlinked temporary file of len bytes holding pattern(); fd is O_RDWR. */
static int temp_file(size_t ps, size_t len) {
    const char *dir = getenv("TMPDIR");
    char path[256];
    snprintf(path, sizeof path, "%s/natmod-vmap-host-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    uint8_t *buf = malloc(len ? len : 1);
    for (size_t k = 0; k < len; k++) {
        buf[k] = pattern(k / ps, k % ps);
    }
    CHECK_EQ(pwrite(fd, buf, len, 0), (long long)len);
    free(buf);
    return fd;
}

/* The same file reopened read-only (through /proc, so no name is needed). */
static int reopen_ro(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(ro >= 0);
    return ro;
}

static int page_matches(const uint8_t *p, size_t ps, size_t file_page) {
    for (size_t j = 0; j < ps; j++) {
        if (p[j] != pattern(file_page, j)) {
            return 0;
        }
    }
    return 1;
}

/* The permissions /proc/self/maps gives the page holding addr ("---p"),
 * or "" if no mapping holds it. */
static void maps_perms(uintptr_t addr, char perms[5]) {
    perms[0] = 0;
    FILE *fp = fopen("/proc/self/maps", "r");
    CHECK(fp != NULL);
    if (!fp) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        unsigned long lo, hi;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && addr >= lo && addr < hi) {
            memcpy(perms, p, 5);
            break;
        }
    }
    fclose(fp);
}

/* Is every byte of [lo, hi) inside some mapping (no hole another mmap
 * could take)? The maps lines are sorted, so one pass. */
static int maps_cover(uintptr_t lo, uintptr_t hi) {
    FILE *fp = fopen("/proc/self/maps", "r");
    if (!fp) {
        return 0;
    }
    char line[512];
    uintptr_t at = lo;
    while (at < hi && fgets(line, sizeof line, fp)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a <= at && b > at) {
            at = b;
        }
    }
    fclose(fp);
    return at >= hi;
}

/* Run touch(p) in a child; return the signal that killed it (0 if none). */
static int child_signal(volatile uint8_t *p, int write) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* the default action, not a sanitizer's handler that exits */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        if (write) {
            *p = 1;
        } else {
            (void)*p;
        }
        _exit(0);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static int in_window(const fx_t *f, uintptr_t v, size_t size) {
    uintptr_t w = (uintptr_t)f->h.window;
    return v >= w && v - w <= f->h.window_size && size <= f->h.window_size - (v - w);
}

/* ---- tests ---- */

static void init_rounds_window_and_config_describes_it(void) {
    nm_vmap_host_t h;
    nm_detail_t d = {{0}};
    CHECK_EQ(nm_vmap_host_init(&h, 0, &d), NM_OK);
    CHECK_EQ(h.window_size, (size_t)256 << 20);
    CHECK_EQ(h.page_size, (size_t)sysconf(_SC_PAGESIZE));
    CHECK(h.ram_fd >= 0);
    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        CHECK_EQ(h.file_fd[k], -1);
    }
    char perms[5];
    maps_perms((uintptr_t)h.window, perms);
    CHECK(strcmp(perms, "---p") == 0);
    CHECK(maps_cover((uintptr_t)h.window, (uintptr_t)h.window + h.window_size));
    struct stat st;
    CHECK(fstat(h.ram_fd, &st) == 0 && (size_t)st.st_size == h.window_size);
    CHECK(st.st_blocks == 0); /* sparse: no RAM taken yet */
    nm_vmap_host_fini(&h);
    CHECK(h.window == NULL && h.ram_fd == -1);
    nm_vmap_host_fini(&h); /* twice is harmless */

    CHECK_EQ(nm_vmap_host_init(&h, h.page_size + 1, &d), NM_OK);
    CHECK_EQ(h.window_size, 2 * h.page_size);
    nm_vmap_region_t r;
    nm_vmap_block_t pool[2];
    nm_vmap_config_t cfg;
    memset(&cfg, 0xa5, sizeof cfg);
    nm_vmap_host_config(&cfg, &h, &r, pool, 2);
    CHECK_EQ(cfg.page_size, h.page_size);
    CHECK(cfg.regions == &r && cfg.n_regions == 1);
    CHECK(cfg.pool == pool && cfg.pool_len == 2);
    CHECK(cfg.backend == &nm_vmap_host_backend && cfg.backend_ctx == &h);
    CHECK(cfg.reserved == NULL && cfg.n_reserved == 0 && cfg.lock == NULL && cfg.unlock == NULL);
    CHECK(strcmp(r.name, "host") == 0);
    CHECK_EQ(r.laddr_start, 0);
    CHECK_EQ(r.laddr_end, h.window_size);
    CHECK_EQ(r.caps, NM_VMAP_CAP_ALL_);
    CHECK_EQ(r.targets, NM_VMAP_TARGET_FLASH0 | NM_VMAP_TARGET_PSRAM0);
    CHECK_EQ(r.buses, NM_VMAP_BUS_DATA | NM_VMAP_BUS_INSTR);
    CHECK(r.ibus_base == (uintptr_t)h.window && r.dbus_base == (uintptr_t)h.window);
    nm_vmap_t vm;
    CHECK_EQ(nm_vmap_init(&vm, &cfg, &d), NM_OK);
    nm_vmap_host_fini(&h);
}

static void flash_file_bytes_read_through_map_and_map_at(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd = temp_file(ps, 4 * ps);
    uint64_t base = 1;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fd, &base, &d), NM_OK);
    CHECK_EQ(base, 0);
    close(fd); /* the back-end keeps its own descriptor */

    uintptr_t a = 0, b = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, base + ps, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &a, &d), NM_OK);
    CHECK(in_window(f, a, 2 * ps));
    CHECK(page_matches((const uint8_t *)a, ps, 1));
    CHECK(page_matches((const uint8_t *)a + ps, ps, 2));
    char perms[5];
    maps_perms(a, perms);
    CHECK(strcmp(perms, "r--s") == 0);

    uintptr_t want = (uintptr_t)f->h.window + 10 * ps;
    CHECK_EQ(nm_vmap_map_at(&f->vm, want, base + 3 * ps, 100, NM_VMAP_TARGET_FLASH0,
                            NM_VMAP_CAP_READ | NM_VMAP_CAP_32BIT, 0, &b, &d), NM_OK);
    CHECK(b == want);
    CHECK(page_matches((const uint8_t *)b, ps, 3));
    uint64_t pa = 0;
    unsigned t = 0;
    CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, b + 5, &pa, &t), NM_OK);
    CHECK(pa == base + 3 * ps + 5 && t == NM_VMAP_TARGET_FLASH0);
    CHECK_EQ(f->h.n_maps, 2);
    CHECK_EQ(f->h.n_failed, 0);

    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    CHECK_EQ(nm_vmap_unmap(&f->vm, b, &d), NM_OK);
    CHECK_EQ(f->h.n_unmaps, 2);
    CHECK_EQ(nm_vmap_blocks(&f->vm, NULL, 0), 0);
    fx_close(f);
}

/* A last page that straddles the end of the file maps (the kernel gives
 * zeros past EOF); a page wholly past EOF does not. */
static void flash_file_page_straddling_eof_reads_zeros_past_it(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd = temp_file(ps, ps + ps / 2);
    uint64_t base;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fd, &base, &d), NM_OK);
    uintptr_t a = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, base, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &a, &d), NM_OK);
    const uint8_t *p = (const uint8_t *)a;
    CHECK(page_matches(p, ps, 0));
    CHECK(p[ps + ps / 2 - 1] == pattern(1, ps / 2 - 1));
    CHECK(p[ps + ps / 2] == 0 && p[2 * ps - 1] == 0);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    close(fd);
    fx_close(f);
}

#if defined(__x86_64__)
/* mov eax, 42; ret */
static const uint8_t ret42[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};

static void exec_mapping_of_a_flash_file_runs(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd = temp_file(ps, 2 * ps);
    CHECK_EQ(pwrite(fd, ret42, sizeof ret42, (off_t)ps + 16), (long long)sizeof ret42);
    uint64_t base;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fd, &base, &d), NM_OK);
    uintptr_t x = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, base + ps, ps, NM_VMAP_TARGET_FLASH0,
                         NM_VMAP_CAP_EXEC | NM_VMAP_CAP_READ | NM_VMAP_CAP_32BIT, 0, &x, &d), NM_OK);
    char perms[5];
    maps_perms(x, perms);
    CHECK(strcmp(perms, "r-xs") == 0);
    int (*fn)(void) = (int (*)(void))(x + 16);
    CHECK_EQ(fn(), 42);
    CHECK_EQ(nm_vmap_unmap(&f->vm, x, &d), NM_OK);
    close(fd);
    fx_close(f);
}

/* The loader's way on the host: write code through a RAM alias with WRITE,
 * run it through an EXEC alias of the same pages (never W and X at once). */
static void code_written_through_ram_alias_runs_through_exec_alias(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    uintptr_t w = 0, x = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, 0, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE, 0, &w, &d), NM_OK);
    memcpy((uint8_t *)w + 64, ret42, sizeof ret42);
    CHECK_EQ(nm_vmap_unmap(&f->vm, w, &d), NM_OK);
    CHECK_EQ(nm_vmap_map(&f->vm, 0, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_EXEC | NM_VMAP_CAP_READ, 0, &x, &d), NM_OK);
    int (*fn)(void) = (int (*)(void))(x + 64);
    CHECK_EQ(fn(), 42);
    CHECK_EQ(nm_vmap_unmap(&f->vm, x, &d), NM_OK);
    fx_close(f);
}
#endif

static void psram_write_through_one_alias_reads_through_another(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    unsigned rw = NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE | NM_VMAP_CAP_8BIT | NM_VMAP_CAP_32BIT;
    uintptr_t a = 0, b = 0, c = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, 0, 2 * ps, NM_VMAP_TARGET_PSRAM0, rw, 0, &a, &d), NM_OK);
    /* [1, 3) partly overlaps [0, 2): refused without the flag */
    CHECK_EQ(nm_vmap_map(&f->vm, ps, 2 * ps, NM_VMAP_TARGET_PSRAM0, rw, 0, &b, &d), NM_VMAP_ERR_INVALID_ARG);
    CHECK_EQ(nm_vmap_map(&f->vm, ps, 2 * ps, NM_VMAP_TARGET_PSRAM0, rw, NM_VMAP_FLAG_PADDR_SHARED, &b, &d), NM_OK);
    CHECK(a != b);
    uint8_t *pa = (uint8_t *)a, *pb = (uint8_t *)b;
    pa[ps + 7] = 0x5a;
    pa[2 * ps - 1] = 0xa5;
    CHECK(pb[7] == 0x5a);
    CHECK(pb[ps - 1] == 0xa5);
    pb[3] = 0x33; /* and back the other way */
    CHECK(pa[ps + 3] == 0x33);
    pb[ps + 1] = 0x77; /* paddr 2 pages + 1: only B shows it */
    CHECK(pb[ps + 1] == 0x77);
    /* the range wholly inside A: INVALID_STATE, out at A's address of it */
    CHECK_EQ(nm_vmap_map(&f->vm, ps, ps, NM_VMAP_TARGET_PSRAM0, rw, NM_VMAP_FLAG_PADDR_SHARED, &c, &d),
             NM_VMAP_ERR_INVALID_STATE);
    CHECK(c == a + ps);
    uintptr_t v = 0;
    CHECK_EQ(nm_vmap_paddr_to_vaddr(&f->vm, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_BUS_DATA, &v), NM_OK);
    CHECK(v == (a < b ? a + ps : b));
    /* the RAM file really holds the bytes (one physical page, two names) */
    uint8_t byte = 0;
    CHECK_EQ(pread(f->h.ram_fd, &byte, 1, (off_t)ps + 7), 1);
    CHECK(byte == 0x5a);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    CHECK(pb[7] == 0x5a); /* B lives on without A */
    CHECK_EQ(nm_vmap_unmap(&f->vm, b, &d), NM_OK);
    fx_close(f);
}

static void flash_file_mapped_writable_writes_reach_the_file(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd = temp_file(ps, 4 * ps);
    uint64_t base;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fd, &base, &d), NM_OK);
    uintptr_t a = 0, b = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, base, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE, 0, &a, &d), NM_OK);
    char perms[5];
    maps_perms(a, perms);
    CHECK(strcmp(perms, "rw-s") == 0);
    CHECK_EQ(nm_vmap_map(&f->vm, base + ps, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ,
                         NM_VMAP_FLAG_PADDR_SHARED, &b, &d), NM_OK);
    uint8_t *pa = (uint8_t *)a;
    const uint8_t *pb = (const uint8_t *)b;
    CHECK(page_matches(pb, ps, 1) && page_matches(pb + ps, ps, 2));
    pa[ps + 5] = 0xee;
    CHECK(pb[5] == 0xee);
    uint8_t byte = 0;
    CHECK_EQ(pread(fd, &byte, 1, (off_t)ps + 5), 1);
    CHECK(byte == 0xee);
    /* and a write to the file shows through both */
    byte = 0x42;
    CHECK_EQ(pwrite(fd, &byte, 1, (off_t)ps + 9), 1);
    CHECK(pa[ps + 9] == 0x42 && pb[9] == 0x42);
    /* the read-only alias really is read-only */
    CHECK_EQ(child_signal((volatile uint8_t *)b, 1), SIGSEGV);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    CHECK_EQ(nm_vmap_unmap(&f->vm, b, &d), NM_OK);
    close(fd);
    fx_close(f);
}

static void unmapped_pages_are_prot_none_and_stay_reserved(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    uintptr_t a = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, 0, 3 * ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE, 0, &a, &d), NM_OK);
    ((volatile uint8_t *)a)[ps] = 1;
    CHECK_EQ(child_signal((volatile uint8_t *)a + ps, 0), 0); /* mapped: the child reads fine */
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);

    char perms[5];
    for (size_t k = 0; k < 3; k++) {
        maps_perms(a + k * ps, perms);
        CHECK(strcmp(perms, "---p") == 0);
    }
    CHECK(maps_cover((uintptr_t)f->h.window, (uintptr_t)f->h.window + f->h.window_size));
    /* mincore answers ENOMEM for an address nothing maps; a reservation is mapped */
    unsigned char vec[3];
    CHECK_EQ(mincore((void *)a, 3 * ps, vec), 0);
    CHECK_EQ(child_signal((volatile uint8_t *)a + ps, 0), SIGSEGV);
    CHECK_EQ(child_signal((volatile uint8_t *)a, 1), SIGSEGV);

    /* a plain mmap asking for that very address lands elsewhere */
    void *p = mmap((void *)(a + ps), ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p != MAP_FAILED) {
        CHECK(!in_window(f, (uintptr_t)p, 1));
        munmap(p, ps);
    }
    /* and the range is usable again at once */
    uintptr_t b = 0;
    CHECK_EQ(nm_vmap_map_at(&f->vm, a + ps, 5 * ps, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ, 0, &b, &d), NM_OK);
    CHECK(b == a + ps);
    maps_perms(b, perms);
    CHECK(strcmp(perms, "r--s") == 0);
    CHECK_EQ(nm_vmap_unmap(&f->vm, b, &d), NM_OK);
    fx_close(f);
}

typedef struct snap {
    unsigned blocks;
    size_t largest;
    unsigned long maps, failed;
} snap_t;

static snap_t snapshot(fx_t *f) {
    snap_t s;
    s.blocks = nm_vmap_blocks(&f->vm, NULL, 0);
    CHECK_EQ(nm_vmap_largest_free(&f->vm, NM_VMAP_CAP_READ, NM_VMAP_TARGET_FLASH0, &s.largest), NM_OK);
    s.maps = f->h.n_maps;
    s.failed = f->h.n_failed;
    return s;
}

/* One refused back-end call: FAIL, one more n_failed, nothing else moved,
 * and the address (for map_at) still reserved PROT_NONE. */
static void expect_refused(fx_t *f, uintptr_t at, uint64_t paddr, size_t size, unsigned target, unsigned caps) {
    snap_t s0 = snapshot(f);
    nm_detail_t d = {{0}};
    uintptr_t out = 0;
    int err = at ? nm_vmap_map_at(&f->vm, at, paddr, size, target, caps, 0, &out, &d)
                 : nm_vmap_map(&f->vm, paddr, size, target, caps, 0, &out, &d);
    CHECK_EQ(err, NM_VMAP_ERR_FAIL);
    CHECK_STR_CONTAINS(d.msg, "back-end");
    snap_t s1 = snapshot(f);
    CHECK_EQ(s1.blocks, s0.blocks);
    CHECK_EQ(s1.largest, s0.largest);
    CHECK_EQ(s1.maps, s0.maps);
    CHECK_EQ(s1.failed, s0.failed + 1);
    if (at) {
        char perms[5];
        maps_perms(at, perms);
        CHECK(strcmp(perms, "---p") == 0);
        uint64_t pa;
        unsigned t;
        CHECK_EQ(nm_vmap_vaddr_to_paddr(&f->vm, at, &pa, &t), NM_VMAP_ERR_NOT_FOUND);
    }
}

static void backend_refusals_fail_and_leave_the_map_unchanged(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd = temp_file(ps, 2 * ps);
    uint64_t base;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fd, &base, &d), NM_OK);
    uintptr_t keep = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, base, ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &keep, &d), NM_OK);
    uintptr_t at = (uintptr_t)f->h.window + 20 * ps;

    /* file too short: page 2 lies wholly past EOF */
    expect_refused(f, 0, base + ps, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ);
    expect_refused(f, at, base + ps, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ);
    expect_refused(f, at, base + 8 * ps, ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ);
    /* no file at that base (slot 1 empty, slot 9 does not exist) */
    expect_refused(f, 0, NM_VMAP_HOST_FILE_SPAN, ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ);
    expect_refused(f, at, 9 * NM_VMAP_HOST_FILE_SPAN, ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ);
    /* the RAM file ends where the window does */
    expect_refused(f, 0, f->h.window_size, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ);
    expect_refused(f, at, f->h.window_size - ps, 2 * ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ);

    /* a read-only descriptor cannot be mapped WRITE (but can be read) */
    int ro_fd = temp_file(ps, 2 * ps), ro = reopen_ro(ro_fd);
    close(ro_fd);
    uint64_t ro_base;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, ro, &ro_base, &d), NM_OK);
    CHECK_EQ(ro_base, NM_VMAP_HOST_FILE_SPAN);
    expect_refused(f, 0, ro_base, ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE);
    expect_refused(f, at, ro_base, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_WRITE);
    uintptr_t r = 0;
    char perms[5];
    CHECK_EQ(nm_vmap_map_at(&f->vm, at, ro_base, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &r, &d), NM_OK);
    CHECK(page_matches((const uint8_t *)r + ps, ps, 1));
    CHECK_EQ(nm_vmap_unmap(&f->vm, r, &d), NM_OK);

    /* mmap itself refusing (a write-only descriptor cannot be mapped at
     * all): the range is put back PROT_NONE */
    char wpath[64];
    snprintf(wpath, sizeof wpath, "/proc/self/fd/%d", fd);
    int wo = open(wpath, O_WRONLY | O_CLOEXEC);
    CHECK(wo >= 0);
    nm_vmap_host_t hw;
    nm_vmap_t vw;
    nm_vmap_region_t rw_region;
    nm_vmap_block_t rw_pool[4];
    nm_vmap_config_t cw;
    CHECK_EQ(nm_vmap_host_init(&hw, 8 * ps, &d), NM_OK);
    nm_vmap_host_config(&cw, &hw, &rw_region, rw_pool, 4);
    CHECK_EQ(nm_vmap_init(&vw, &cw, &d), NM_OK);
    uint64_t wbase;
    CHECK_EQ(nm_vmap_host_add_file(&hw, wo, &wbase, &d), NM_OK);
    uintptr_t wout = 0, wat = (uintptr_t)hw.window + 2 * ps;
    CHECK_EQ(nm_vmap_map_at(&vw, wat, wbase, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &wout, &d),
             NM_VMAP_ERR_FAIL);
    CHECK_EQ(hw.n_failed, 1);
    CHECK_EQ(nm_vmap_blocks(&vw, NULL, 0), 0);
    maps_perms(wat, perms);
    CHECK(strcmp(perms, "---p") == 0);
    maps_perms(wat + ps, perms);
    CHECK(strcmp(perms, "---p") == 0);
    CHECK(maps_cover((uintptr_t)hw.window, (uintptr_t)hw.window + hw.window_size));
    nm_vmap_host_fini(&hw);
    close(wo);

    /* the size is the file's size now: grow it and the same request maps */
    CHECK_EQ(ftruncate(fd, (off_t)(3 * ps)), 0);
    uintptr_t g = 0;
    CHECK_EQ(nm_vmap_map_at(&f->vm, at, base + ps, 2 * ps, NM_VMAP_TARGET_FLASH0, NM_VMAP_CAP_READ, 0, &g, &d), NM_OK);
    CHECK(page_matches((const uint8_t *)g, ps, 1));
    CHECK(((const uint8_t *)g)[ps] == 0);
    CHECK_EQ(nm_vmap_unmap(&f->vm, g, &d), NM_OK);

    /* the back-end called directly: a range outside the window */
    unsigned long failed = f->h.n_failed;
    CHECK(nm_vmap_host_backend.map(&f->h, &f->region, f->h.window_size, 0, ps, NM_VMAP_TARGET_PSRAM0,
                                   NM_VMAP_CAP_READ) < 0);
    CHECK(nm_vmap_host_backend.map(&f->h, &f->region, f->h.window_size - ps, 0, 2 * ps,
                                   NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ) < 0);
    CHECK_EQ(f->h.n_failed, failed + 2);

    CHECK(page_matches((const uint8_t *)keep, ps, 0)); /* untouched throughout */
    CHECK_EQ(nm_vmap_unmap(&f->vm, keep, &d), NM_OK);
    close(fd);
    close(ro);
    fx_close(f);
}

static void add_file_dedups_by_inode_and_runs_out_after_eight(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd0 = temp_file(ps, ps), again = reopen_ro(fd0);
    uint64_t b0 = 1, b1 = 2;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fd0, &b0, &d), NM_OK);
    CHECK_EQ(nm_vmap_host_add_file(&f->h, again, &b1, &d), NM_OK);
    CHECK(b0 == 0 && b1 == 0);
    CHECK(f->h.file_fd[0] != fd0 && f->h.file_fd[0] != again && f->h.file_fd[1] == -1);
    CHECK(fcntl(f->h.file_fd[0], F_GETFD) & FD_CLOEXEC);
    close(again);

    int fds[NM_VMAP_HOST_MAX_FILES];
    fds[0] = fd0;
    for (unsigned k = 1; k < NM_VMAP_HOST_MAX_FILES; k++) {
        uint64_t b = 0;
        fds[k] = temp_file(ps, ps);
        CHECK_EQ(nm_vmap_host_add_file(&f->h, fds[k], &b, &d), NM_OK);
        CHECK_EQ(b, (uint64_t)k * NM_VMAP_HOST_FILE_SPAN);
    }
    int extra = temp_file(ps, ps);
    uint64_t b = 7;
    CHECK_EQ(nm_vmap_host_add_file(&f->h, extra, &b, &d), NM_ERR_NOSPC);
    CHECK_STR_CONTAINS(d.msg, "8");
    CHECK_EQ(b, 7);
    /* a file already known is still found when the table is full */
    CHECK_EQ(nm_vmap_host_add_file(&f->h, fds[5], &b, &d), NM_OK);
    CHECK_EQ(b, 5 * NM_VMAP_HOST_FILE_SPAN);

    /* each base maps its own file */
    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        uint8_t tag = (uint8_t)(0xc0 + k);
        CHECK_EQ(pwrite(fds[k], &tag, 1, 0), 1);
    }
    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        uintptr_t v = 0;
        CHECK_EQ(nm_vmap_map(&f->vm, (uint64_t)k * NM_VMAP_HOST_FILE_SPAN, ps, NM_VMAP_TARGET_FLASH0,
                             NM_VMAP_CAP_READ, 0, &v, &d), NM_OK);
        CHECK_EQ(*(const uint8_t *)v, 0xc0 + k);
        CHECK_EQ(nm_vmap_unmap(&f->vm, v, &d), NM_OK);
    }

    /* not a regular file, not a descriptor */
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    nm_vmap_host_t h2;
    CHECK_EQ(nm_vmap_host_init(&h2, ps, &d), NM_OK);
    CHECK_EQ(nm_vmap_host_add_file(&h2, pfd[0], &b, &d), NM_ERR_IO);
    CHECK_STR_CONTAINS(d.msg, "regular");
    CHECK_EQ(nm_vmap_host_add_file(&h2, -1, &b, &d), NM_ERR_IO);
    CHECK_STR_CONTAINS(d.msg, "fstat");
    CHECK_EQ(h2.file_fd[0], -1);
    nm_vmap_host_fini(&h2);
    close(pfd[0]);
    close(pfd[1]);

    for (unsigned k = 0; k < NM_VMAP_HOST_MAX_FILES; k++) {
        close(fds[k]);
    }
    close(extra);
    fx_close(f);
}

static void discard_makes_ram_read_zeros_on_the_next_mapping(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    unsigned rw = NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE;
    uintptr_t a = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, 4 * ps, 2 * ps, NM_VMAP_TARGET_PSRAM0, rw, 0, &a, &d), NM_OK);
    memset((void *)a, 0xab, 2 * ps);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    /* RAM keeps its contents across mappings */
    CHECK_EQ(nm_vmap_map(&f->vm, 4 * ps, 2 * ps, NM_VMAP_TARGET_PSRAM0, rw, 0, &a, &d), NM_OK);
    CHECK(((const uint8_t *)a)[0] == 0xab && ((const uint8_t *)a)[2 * ps - 1] == 0xab);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    struct stat st;
    CHECK(fstat(f->h.ram_fd, &st) == 0 && st.st_blocks > 0);

    CHECK_EQ(nm_vmap_host_discard(&f->h, 4 * ps, ps), NM_OK); /* first page only */
    CHECK_EQ(nm_vmap_map(&f->vm, 4 * ps, 2 * ps, NM_VMAP_TARGET_PSRAM0, rw, 0, &a, &d), NM_OK);
    const uint8_t *p = (const uint8_t *)a;
    int zeros = 1;
    for (size_t j = 0; j < ps; j++) {
        zeros &= p[j] == 0;
    }
    CHECK(zeros);
    CHECK(p[ps] == 0xab && p[2 * ps - 1] == 0xab);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);
    CHECK(fstat(f->h.ram_fd, &st) == 0 && (size_t)st.st_size == f->h.window_size);

    /* reading a hole through a shared mapping allocates it again (shmem),
     * so the RAM is all given back only by a discard after the last use */
    CHECK_EQ(nm_vmap_host_discard(&f->h, 4 * ps, ps), NM_OK);
    CHECK_EQ(nm_vmap_host_discard(&f->h, 5 * ps, 1), NM_OK); /* rounds up to the page */
    CHECK(fstat(f->h.ram_fd, &st) == 0 && st.st_blocks == 0);
    CHECK_EQ(nm_vmap_map(&f->vm, 5 * ps, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ, 0, &a, &d), NM_OK);
    CHECK(((const uint8_t *)a)[0] == 0 && ((const uint8_t *)a)[ps - 1] == 0);
    CHECK_EQ(nm_vmap_unmap(&f->vm, a, &d), NM_OK);

    CHECK_EQ(nm_vmap_host_discard(&f->h, 0, 0), NM_OK);
    CHECK_EQ(nm_vmap_host_discard(&f->h, 1, ps), NM_ERR_INVAL);
    CHECK_EQ(nm_vmap_host_discard(&f->h, f->h.window_size - ps, 2 * ps), NM_ERR_INVAL);
    CHECK_EQ(nm_vmap_host_discard(&f->h, f->h.window_size + ps, 0), NM_ERR_INVAL);
    fx_close(f);
}

/* ---- random operations: the map and the process's pages stay in step ---- */

#define RW_PAGES 64
#define RF_PAGES 24

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n) {
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

/* What a page's first 8 bytes hold: its target and physical address. */
static uint64_t page_tag(unsigned target, uint64_t paddr) {
    return ((uint64_t)target << 56) ^ paddr ^ 0x5a5a000000000000ull;
}

/* The protection of every window page per /proc/self/maps. */
static void window_perms(const fx_t *f, char (*perms)[5]) {
    uintptr_t w = (uintptr_t)f->h.window;
    for (size_t k = 0; k < RW_PAGES; k++) {
        perms[k][0] = 0;
    }
    FILE *fp = fopen("/proc/self/maps", "r");
    if (!fp) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        unsigned long lo, hi;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) != 3 || hi <= w || lo >= w + RW_PAGES * f->ps) {
            continue;
        }
        for (size_t k = 0; k < RW_PAGES; k++) {
            uintptr_t a = w + k * f->ps;
            if (a >= lo && a < hi) {
                memcpy(perms[k], p, 5);
            }
        }
    }
    fclose(fp);
}

static int check_in_step(fx_t *f) {
    nm_vmap_info_t info[POOL];
    unsigned n = nm_vmap_blocks(&f->vm, info, POOL);
    int bad = 0;
    char perms[RW_PAGES][5];
    const char *want[RW_PAGES];
    uint64_t tag[RW_PAGES];
    window_perms(f, perms);
    for (size_t k = 0; k < RW_PAGES; k++) {
        want[k] = "---p";
    }
    bad |= n > POOL || n != f->h.n_maps - f->h.n_unmaps;
    for (unsigned i = 0; i < n && i < POOL; i++) {
        size_t first = (info[i].vaddr - (uintptr_t)f->h.window) / f->ps;
        for (size_t j = 0; j < info[i].size / f->ps; j++) {
            want[first + j] = (info[i].caps & NM_VMAP_CAP_EXEC)    ? "r-xs"
                              : (info[i].caps & NM_VMAP_CAP_WRITE) ? "rw-s"
                                                                   : "r--s";
            tag[first + j] = page_tag(info[i].target, info[i].paddr + j * f->ps);
        }
    }
    for (size_t k = 0; k < RW_PAGES; k++) {
        if (strcmp(perms[k], want[k]) != 0) {
            fprintf(stderr, "page %zu: maps says %s, vmap %s\n", k, perms[k], want[k]);
            bad = 1;
        } else if (want[k][0] == 'r') {
            uint64_t got;
            memcpy(&got, f->h.window + k * f->ps, sizeof got);
            if (got != tag[k]) {
                fprintf(stderr, "page %zu shows the wrong physical page\n", k);
                bad = 1;
            }
        }
    }
    return !bad;
}

static void random_operations_keep_map_and_pages_in_step(void) {
    fx_t *f = fx_open((size_t)RW_PAGES * (size_t)sysconf(_SC_PAGESIZE));
    nm_vmap_host_t *hp = &f->h;
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    int fd = temp_file(ps, RF_PAGES * ps);
    uint64_t base;
    CHECK_EQ(nm_vmap_host_add_file(hp, fd, &base, &d), NM_OK);
    for (uint64_t k = 0; k < RW_PAGES; k++) {
        uint64_t t = page_tag(NM_VMAP_TARGET_PSRAM0, k * ps);
        CHECK_EQ(pwrite(hp->ram_fd, &t, sizeof t, (off_t)(k * ps)), (long long)sizeof t);
    }
    for (uint64_t k = 0; k < RF_PAGES; k++) {
        uint64_t t = page_tag(NM_VMAP_TARGET_FLASH0, base + k * ps);
        CHECK_EQ(pwrite(fd, &t, sizeof t, (off_t)(k * ps)), (long long)sizeof t);
    }
    static const unsigned caps[3] = {NM_VMAP_CAP_READ, NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE,
                                     NM_VMAP_CAP_EXEC | NM_VMAP_CAP_READ};
    int in_step = 1;
    unsigned ok_ops = 0, failed_ops = 0;
    for (unsigned op = 0; op < 3000 && in_step; op++) {
        unsigned before = nm_vmap_blocks(&f->vm, NULL, 0);
        unsigned long failed = hp->n_failed;
        unsigned r = rnd(10);
        int err;
        if (r < 6) {
            unsigned target = rnd(2) ? NM_VMAP_TARGET_FLASH0 : NM_VMAP_TARGET_PSRAM0;
            /* flash runs a little past the file's end so some maps are refused */
            uint64_t pa = (uint64_t)rnd(target == NM_VMAP_TARGET_FLASH0 ? RF_PAGES + 2 : RW_PAGES) * ps;
            size_t size = (1 + rnd(4)) * ps - rnd(2);
            unsigned c = caps[rnd(3)], fl = rnd(2) ? NM_VMAP_FLAG_PADDR_SHARED : 0;
            uintptr_t out = 0;
            if (r < 3) {
                err = nm_vmap_map(&f->vm, base * (target == NM_VMAP_TARGET_FLASH0) + pa, size, target, c, fl, &out, &d);
            } else {
                uintptr_t at = (uintptr_t)hp->window + rnd(RW_PAGES) * ps;
                err = nm_vmap_map_at(&f->vm, at, base * (target == NM_VMAP_TARGET_FLASH0) + pa, size, target, c, fl, &out, &d);
                CHECK(err != NM_OK || out == at);
            }
            if (err == NM_VMAP_ERR_FAIL) {
                failed_ops++;
                CHECK_EQ(hp->n_failed, failed + 1);
            }
            CHECK_EQ(nm_vmap_blocks(&f->vm, NULL, 0), before + (err == NM_OK));
        } else {
            nm_vmap_info_t info[POOL];
            unsigned n = nm_vmap_blocks(&f->vm, info, POOL);
            uintptr_t v = n && rnd(4) ? info[rnd(n)].vaddr : (uintptr_t)hp->window + rnd(RW_PAGES) * ps;
            err = nm_vmap_unmap(&f->vm, v, &d);
            CHECK_EQ(nm_vmap_blocks(&f->vm, NULL, 0), before - (err == NM_OK));
        }
        ok_ops += err == NM_OK;
        in_step = check_in_step(f);
        if (!in_step) {
            fprintf(stderr, "out of step after operation %u (seed 12345)\n", op);
        }
    }
    CHECK(in_step);
    CHECK(ok_ops > 500 && failed_ops > 10); /* the mix really exercised both */
    close(fd);
    fx_close(f);
}

/* The host enforces caps with page protection, so an address handed back
 * for a range "already mapped" has the caps of the block that maps it, not
 * the caps asked for. Today (ESP-IDF's rule) a request for EXEC or WRITE of
 * a range mapped READ is INVALID_STATE with *out at the read-only pages,
 * even with PADDR_SHARED, so no executable or writable alias of it can be
 * had while the read-only block lives. Built with
 * -DNATMOD_VMAP_PROPOSED_CAPS_ALIAS this checks the proposed behaviour
 * (an enclosing block counts only when its caps cover the request) and
 * fails against the current vmap.c. */
static void enclosing_block_with_other_caps(void) {
    fx_t *f = fx_open(WINDOW);
    size_t ps = f->ps;
    nm_detail_t d = {{0}};
    uintptr_t r = 0, w = 0;
    CHECK_EQ(nm_vmap_map(&f->vm, 0, 2 * ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ, 0, &r, &d), NM_OK);
    int err = nm_vmap_map(&f->vm, 0, ps, NM_VMAP_TARGET_PSRAM0, NM_VMAP_CAP_READ | NM_VMAP_CAP_WRITE,
                          NM_VMAP_FLAG_PADDR_SHARED, &w, &d);
#ifdef NATMOD_VMAP_PROPOSED_CAPS_ALIAS
    CHECK_EQ(err, NM_OK);
    CHECK(w != r);
    if (err == NM_OK) {
        *(volatile uint8_t *)w = 9;
        CHECK(*(const uint8_t *)r == 9);
        CHECK_EQ(nm_vmap_unmap(&f->vm, w, &d), NM_OK);
    }
#else
    CHECK_EQ(err, NM_VMAP_ERR_INVALID_STATE);
    CHECK(w == r);
    char perms[5];
    maps_perms(w, perms);
    CHECK(strcmp(perms, "r--s") == 0); /* not writable, though WRITE was asked */
    CHECK_EQ(child_signal((volatile uint8_t *)w, 1), SIGSEGV);
#endif
    CHECK_EQ(nm_vmap_unmap(&f->vm, r, &d), NM_OK);
    fx_close(f);
}

int main(void) {
    RUN(init_rounds_window_and_config_describes_it);
    RUN(flash_file_bytes_read_through_map_and_map_at);
    RUN(flash_file_page_straddling_eof_reads_zeros_past_it);
#if defined(__x86_64__)
    RUN(exec_mapping_of_a_flash_file_runs);
    RUN(code_written_through_ram_alias_runs_through_exec_alias);
#endif
    RUN(psram_write_through_one_alias_reads_through_another);
    RUN(flash_file_mapped_writable_writes_reach_the_file);
    RUN(unmapped_pages_are_prot_none_and_stay_reserved);
    RUN(backend_refusals_fail_and_leave_the_map_unchanged);
    RUN(add_file_dedups_by_inode_and_runs_out_after_eight);
    RUN(discard_makes_ram_read_zeros_on_the_next_mapping);
    RUN(random_operations_keep_map_and_pages_in_step);
    RUN(enclosing_block_with_other_caps);
    return TEST_DONE();
}
