/*
 * Module flash on QEMU virt: CFI parallel NOR flash with the Intel/Sharp
 * command set (CFI primary command set 0x0001, QEMU's pflash_cfi01). Two
 * banks: pflash0 at 0x20000000 holds the module store (store_bd.c),
 * pflash1 at 0x22000000 is only for `flash selftest`.
 *
 * Each bank is 32 bits wide: two x16 devices side by side. A command goes
 * to both (the command byte in each 16-bit lane), and every status or query
 * read returns one answer per device; the driver checks both. The geometry
 * comes from the CFI query, not from constants: command 0x98 at word 0x55,
 * "QRY" at 0x10, the command set at 0x13, the device size (2^n bytes) at
 * 0x27, the uniform erase region at 0x2C..0x30. On virt each device
 * answers 16 MB in 128 blocks of 128 KB, so the bank erases 256 KB blocks.
 *
 * Erase: clear status (0x50), block erase (0x20) and confirm (0xD0) at the
 * block, poll the status register (WSM ready, bit 7) and check its error
 * bits; program: word program (0x40) then the word, same polling. Every
 * sequence ends with read array (0xFF), errors too, and runs with
 * interrupts masked: while a device is in status mode its bytes are not the
 * array, and a timer interrupt may call into a module running from this
 * flash.
 *
 * NOR rule: a program can only clear bits. QEMU's model overwrites words
 * instead, so the driver enforces the rule itself (a program that needs a
 * 0 -> 1 bit is refused, nothing written) and programs the value a real
 * part would hold (old AND new) so the neighbours of an unaligned write
 * keep their bytes. Every program is read back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <semihost.h>

#include "board.h"

#define LANES(c) ((uint32_t)(c) * 0x00010001u) /* one x16 device per 16-bit lane */
#define BANK_DEVICES 2u

enum {
    CMD_READ_ARRAY = 0xFF,
    CMD_CLEAR_STATUS = 0x50,
    CMD_BLOCK_ERASE = 0x20,
    CMD_CONFIRM = 0xD0,
    CMD_WORD_PROGRAM = 0x40,
    CMD_QUERY = 0x98,
    CFI_QUERY_ADDR = 0x55, /* in device words = bank words */
};

enum {
    SR_READY = 0x80,      /* write state machine ready */
    SR_ERASE_ERR = 0x20,
    SR_PROGRAM_ERR = 0x10,
    SR_VPP_LOW = 0x08,
    SR_LOCKED = 0x02,
};
#define SR_ERRORS LANES(SR_ERASE_ERR | SR_PROGRAM_ERR | SR_VPP_LOW | SR_LOCKED)
#define POLL_MAX 0x1000000u /* status reads before a sequence counts as hung */

typedef struct bank {
    uintptr_t lo, hi;   /* the window the board maps it at */
    uint32_t block;     /* bank erase block (bytes), 0 until probed */
    uint32_t cmdset, wbuf;
    int probe_err;      /* 0, or why the query failed (below) */
    uint8_t probed;
} bank_t;

static bank_t banks[2] = {
    {.lo = FLASH_LO, .hi = FLASH_HI},
    {.lo = FLASH1_LO, .hi = FLASH1_HI},
};

static const char *const probe_why[] = {
    "ok", "no CFI \"QRY\" answer", "the two devices answer differently",
    "not the Intel/Sharp command set (0x0001)", "erase regions are not uniform",
    "the CFI geometry does not fill the bank",
};

/* ---- one command sequence ------------------------------------------------ */

static void cmd(uintptr_t at, uint8_t c) {
    *(volatile uint32_t *)(at & ~(uintptr_t)3) = LANES(c);
}

/* Poll the status register until both devices are ready; then back to read
 * array. 0, or -1 on an error bit or a hang (status cleared first). */
static int finish(uintptr_t at) {
    volatile uint32_t *w = (volatile uint32_t *)(at & ~(uintptr_t)3);
    uint32_t sr = 0;
    for (uint32_t i = 0; i < POLL_MAX; i++) {
        sr = *w;
        if ((sr & LANES(SR_READY)) == LANES(SR_READY)) {
            break;
        }
    }
    int err = (sr & LANES(SR_READY)) != LANES(SR_READY) || (sr & SR_ERRORS);
    if (err) {
        cmd(at, CMD_CLEAR_STATUS);
    }
    cmd(at, CMD_READ_ARRAY);
    return err ? -1 : 0;
}

static bank_t *bank_of(uintptr_t at, size_t len) {
    for (unsigned i = 0; i < 2; i++) {
        bank_t *b = &banks[i];
        if (at >= b->lo && at < b->hi && len <= b->hi - at) {
            return b;
        }
    }
    return NULL;
}

/* One device's answer at CFI address a (both lanes must agree). */
static uint32_t cfi(const bank_t *b, unsigned a, int *differ) {
    uint32_t v = ((volatile uint32_t *)b->lo)[a];
    if ((v & 0xFFFFu) != v >> 16) {
        *differ = 1;
    }
    return v & 0xFFu; /* query data sits in the low byte of each x16 lane */
}

/* The CFI query, once per bank: geometry, or probe_err set. */
static int probe(bank_t *b) {
    if (b->probed) {
        return b->probe_err;
    }
    uint32_t s = board_irq_save();
    int differ = 0;
    cmd(b->lo, CMD_READ_ARRAY);
    cmd(b->lo + 4u * CFI_QUERY_ADDR, CMD_QUERY);
    int qry = cfi(b, 0x10, &differ) == 'Q' && cfi(b, 0x11, &differ) == 'R' &&
              cfi(b, 0x12, &differ) == 'Y';
    b->cmdset = cfi(b, 0x13, &differ) | cfi(b, 0x14, &differ) << 8;
    uint32_t dev_log2 = cfi(b, 0x27, &differ);
    uint32_t wbuf_log2 = cfi(b, 0x2A, &differ);
    b->wbuf = wbuf_log2 < 16 ? BANK_DEVICES << wbuf_log2 : 0;
    uint32_t regions = cfi(b, 0x2C, &differ);
    uint32_t nblocks = (cfi(b, 0x2D, &differ) | cfi(b, 0x2E, &differ) << 8) + 1u;
    uint32_t dev_block = (cfi(b, 0x2F, &differ) | cfi(b, 0x30, &differ) << 8) * 256u;
    cmd(b->lo, CMD_READ_ARRAY);
    board_irq_restore(s);
    if (dev_block == 0) {
        dev_block = 128u; /* the CFI encoding of 128-byte blocks */
    }
    uint64_t dev_size = dev_log2 < 32 ? (uint64_t)1 << dev_log2 : 0;
    b->probe_err = !qry ? 1 : differ ? 2 : b->cmdset != 0x0001 ? 3 : regions != 1 ? 4 : 0;
    if (!b->probe_err && ((uint64_t)nblocks * dev_block != dev_size ||
                          dev_size * BANK_DEVICES != b->hi - b->lo)) {
        b->probe_err = 5;
    }
    b->block = b->probe_err ? 0 : dev_block * BANK_DEVICES;
    b->probed = 1;
    return b->probe_err;
}

/* ---- QEMU: dropping translations of reprogrammed flash -------------------- */

/*
 * QEMU 7.2's pflash model changes its bytes without telling the translator:
 * code that ran from a flash word before it was erased and programmed again
 * keeps running from QEMU's translation cache (fence.i does not reach it;
 * `flash selftest` shows the new code runs). A debugger-style write into
 * the flash is the one guest-side path that drops those translations, and a
 * semihosting read is one: after each program the driver writes the new
 * bytes to a scratch host file and reads them back over themselves. The
 * bytes do not change (the pflash file on the host already has them); only
 * the stale translations go. A real part needs only the fence.i.
 */
static int scratch_fd = -1;
static char scratch_path[64];

static void scratch_remove(void) {
    sys_semihost_close(scratch_fd);
    sys_semihost_remove(scratch_path);
}

static int translations_drop(uintptr_t at, size_t len) {
    if (scratch_fd < 0) {
        if (sys_semihost_tmpnam(scratch_path, 0, (int)sizeof scratch_path) != 0 ||
            (scratch_fd = sys_semihost_open(scratch_path, SH_OPEN_W_PLUS_B)) < 0) {
            scratch_fd = -1;
            return -1;
        }
        atexit(scratch_remove);
    }
    while (len) {
        size_t n = len < 4096u ? len : 4096u;
        if (sys_semihost_seek(scratch_fd, 0) != 0 ||
            sys_semihost_write(scratch_fd, (const void *)at, n) != 0 ||
            sys_semihost_seek(scratch_fd, 0) != 0 ||
            sys_semihost_read(scratch_fd, (void *)at, n) != 0) {
            return -1;
        }
        at += n;
        len -= n;
    }
    return 0;
}

/* ---- the driver (fw.h) ------------------------------------------------- */

uint32_t board_flash_block(void) {
    return probe(&banks[0]) ? 0 : banks[0].block;
}

int board_flash_erase(uintptr_t at, uint32_t size) {
    bank_t *b = bank_of(at, size);
    if (!b || probe(b) || (at - b->lo) % b->block || size % b->block) {
        return -1;
    }
    for (uint32_t off = 0; off < size; off += b->block) {
        uint32_t s = board_irq_save();
        cmd(at + off, CMD_CLEAR_STATUS);
        cmd(at + off, CMD_BLOCK_ERASE);
        cmd(at + off, CMD_CONFIRM);
        int err = finish(at + off);
        board_irq_restore(s);
        if (err) {
            return -1;
        }
    }
    return 0;
}

/* The word at wa after programming the bytes of [at, at+len) it holds:
 * those bytes from data, the others as they are. *ok = 0 if a programmed
 * byte would need a 1 where the flash has a 0. */
static uint32_t merged(uintptr_t wa, uintptr_t at, const uint8_t *data, size_t len, int *ok) {
    uint32_t old = *(volatile uint32_t *)wa, v = old;
    for (unsigned k = 0; k < 4; k++) {
        uintptr_t a = wa + k;
        if (a >= at && a - at < len) {
            uint32_t nb = data[a - at], ob = old >> (8 * k) & 0xFFu;
            if ((ob & nb) != nb) {
                *ok = 0;
            }
            v = (v & ~(0xFFu << (8 * k))) | nb << (8 * k);
        }
    }
    return v;
}

int board_flash_program(uintptr_t at, const void *data, size_t len) {
    const uint8_t *src = data;
    bank_t *b = bank_of(at, len);
    if (!b || probe(b)) {
        return -1;
    }
    uintptr_t w0 = at & ~(uintptr_t)3, w1 = (at + len + 3u) & ~(uintptr_t)3;
    int ok = 1;
    for (uintptr_t wa = w0; wa < w1 && ok; wa += 4) {
        (void)merged(wa, at, src, len, &ok); /* the whole range first: refuse before writing */
    }
    if (!ok) {
        return -1;
    }
    for (uintptr_t wa = w0; wa < w1; wa += 4) {
        uint32_t v = merged(wa, at, src, len, &ok);
        if (v == *(volatile uint32_t *)wa) {
            continue; /* nothing to clear */
        }
        uint32_t s = board_irq_save();
        cmd(wa, CMD_CLEAR_STATUS);
        cmd(wa, CMD_WORD_PROGRAM);
        *(volatile uint32_t *)wa = v;
        int err = finish(wa);
        board_irq_restore(s);
        if (err || *(volatile uint32_t *)wa != v) {
            return -1;
        }
    }
    board_sync_code((void *)at, len);
    return translations_drop(at, len);
}

/* ---- flash selftest ------------------------------------------------------ */

static int st_fail(const char **why, const char *what) {
    *why = what;
    return NM_ERR_IO;
}

static int blank(uintptr_t at, uint32_t size) {
    for (uint32_t i = 0; i < size; i += 4) {
        if (*(volatile uint32_t *)(at + i) != 0xFFFFFFFFu) {
            return 0;
        }
    }
    return 1;
}

static void print_geometry(const char *name, bank_t *b) {
    if (probe(b)) {
        printf("flash: %s at 0x%08lx: %s\n", name, (unsigned long)b->lo, probe_why[b->probe_err]);
        return;
    }
    printf("flash: %s at 0x%08lx: CFI command set 0x%04lx, %u x16 devices, %lu bytes, %lu blocks "
           "of %lu bytes, write buffer %lu bytes\n",
           name, (unsigned long)b->lo, (unsigned long)b->cmdset, BANK_DEVICES,
           (unsigned long)(b->hi - b->lo), (unsigned long)((b->hi - b->lo) / b->block),
           (unsigned long)b->block, (unsigned long)b->wbuf);
}

/* Program, erase and execute on pflash1 (the store's bank is not touched)
 * and check what a NOR part guarantees. One line per property. */
int board_flash_selftest(const char **why) {
    bank_t *b = &banks[1];
    print_geometry("pflash0", &banks[0]);
    print_geometry("pflash1", b);
    if (probe(b)) {
        return st_fail(why, "pflash1 did not answer the CFI query");
    }
    uintptr_t b0 = b->lo, b1 = b->lo + b->block;
    if (board_flash_erase(b0, 2 * b->block) || !blank(b0, 2 * b->block)) {
        return st_fail(why, "erase of blocks 0 and 1 did not leave them all 0xFF");
    }
    printf("flash: erase: blocks 0 and 1 (%lu bytes) read back all 0xFF\n",
           (unsigned long)(2 * b->block));

    uint8_t pat[256];
    for (unsigned i = 0; i < sizeof pat; i++) {
        pat[i] = (uint8_t)(i * 37u + 11u);
    }
    if (board_flash_program(b0, pat, sizeof pat) || memcmp((const void *)b0, pat, sizeof pat)) {
        return st_fail(why, "a programmed pattern did not read back");
    }
    printf("flash: program: %u bytes read back as written\n", (unsigned)sizeof pat);

    uint32_t ones = 0xFFFFFFFFu, before = *(volatile uint32_t *)b0;
    if (board_flash_program(b0, &ones, 4) == 0 || *(volatile uint32_t *)b0 != before) {
        return st_fail(why, "a program needing 0 -> 1 bits was not refused");
    }
    uint32_t w = 0x12345678u, fewer = 0x12305670u;
    if (board_flash_program(b0 + 0x100, &w, 4) || board_flash_program(b0 + 0x100, &fewer, 4) ||
        *(volatile uint32_t *)(b0 + 0x100) != fewer) {
        return st_fail(why, "clearing more bits of a programmed word failed");
    }
    printf("flash: NOR rule: 0x%08lx over 0x%08lx refused, 0x%08lx over 0x%08lx gives 0x%08lx\n",
           (unsigned long)ones, (unsigned long)before, (unsigned long)fewer, (unsigned long)w,
           (unsigned long)*(volatile uint32_t *)(b0 + 0x100));

    uint8_t one = 0x5A;
    if (board_flash_program(b0 + 0x201, &one, 1) || board_flash_program(b0 + 0x202, &one, 1) ||
        *(volatile uint32_t *)(b0 + 0x200) != 0xFF5A5AFFu) {
        return st_fail(why, "single-byte programs disturbed their neighbours");
    }
    printf("flash: unaligned: bytes 0x201 and 0x202 programmed alone, word 0x200 reads 0x%08lx\n",
           (unsigned long)*(volatile uint32_t *)(b0 + 0x200));

    uint32_t mark = 0xA5A5A5A5u;
    if (board_flash_program(b1, &mark, 4) || board_flash_erase(b0, b->block) ||
        !blank(b0, b->block) || *(volatile uint32_t *)b1 != mark) {
        return st_fail(why, "erasing block 0 did not leave block 1 alone");
    }
    printf("flash: erase is per block: block 0 blank again, block 1 keeps 0x%08lx\n",
           (unsigned long)*(volatile uint32_t *)b1);

    if (board_flash_erase(b0 + 4096u, b->block) == 0 || board_flash_program(b->hi - 2u, &mark, 4) == 0) {
        return st_fail(why, "a misaligned erase or a program past the bank was accepted");
    }
    printf("flash: a misaligned erase and a program past the bank are refused\n");

    /* li a0, 1; ret - then the same word rewritten as li a0, 2 */
    static const uint32_t code1[2] = {0x00100513u, 0x00008067u}, code2[2] = {0x00200513u, 0x00008067u};
    int (*fn)(void) = (int (*)(void))b0;
    if (board_flash_program(b0, code1, sizeof code1)) {
        return st_fail(why, "programming code failed");
    }
    int r1 = fn();
    if (board_flash_erase(b0, b->block) || board_flash_program(b0, code2, sizeof code2)) {
        return st_fail(why, "reprogramming code failed");
    }
    int r2 = fn();
    printf("flash: execute in place: code at 0x%08lx returns %d, erased and reprogrammed returns %d\n",
           (unsigned long)b0, r1, r2);
    if (r1 != 1 || r2 != 2) {
        return st_fail(why, "reprogrammed code did not run as written");
    }
    if (board_flash_erase(b0, 2 * b->block)) {
        return st_fail(why, "final erase failed");
    }
    printf("flash: selftest passed\n");
    return 0;
}
