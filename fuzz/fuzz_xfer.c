/*
 * libFuzzer target for the xfer receiver (src/asi2c/xfer.c): arbitrary
 * bytes from the stream, a store on emulated flash behind it.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_xfer.c src/format/[*].c src/loader/[*].c src/store/store.c \
 *       src/store/bd_emu.c src/asi2c/asi2c.c src/asi2c/xfer.c
 *   ./a.out -max_total_time=60
 *
 * Input: byte 0 picks the mode. Bit 0 clear: the rest is the raw stream,
 * fed in pieces of 1 + (byte 0 >> 2) bytes with a poll after each. Bit 0
 * set: the rest is a list of records { u8 op, u8 len, len bytes } each
 * turned into a frame with a correct CRC (random bytes almost never make
 * one): op bits 0-3 the type; bit 7 "about the test module": OFFER, DATA
 * and COMMIT carry its size, crc and bytes (DATA at the offset in the
 * record's first two bytes, or the receiver's if bit 4), so installs
 * happen; otherwise a and b are the record's first 8 bytes and the rest is
 * the payload. Bit 6 flips a byte of the frame, bit 5 cuts its last bytes.
 * The clock advances 7 ms per record.
 *
 * Checks: no crash or sanitizer report; every answer the receiver writes
 * is a well-formed frame; the device never sees a program over programmed
 * bytes; every module the store lists is intact (pins), the test module
 * byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/store/store_fixture.h"
#include "natmod/xfer.h"

#define CHECK(cond)                                                                                           \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            __builtin_trap();                                                                                 \
        }                                                                                                     \
    } while (0)

static const sf_geom_t fz_geom = {"1K blocks, prog 16", 1024, 16, 24, 0, 1, 0};
static sf_store_t *fz_store;
static uint8_t *fz_mod;
static size_t fz_mod_len;
static uint32_t fz_crc;
static uint8_t fz_rbuf[4096];

typedef struct fz_io {
    const uint8_t *in;
    size_t in_len, in_pos;
    uint8_t out[1 << 16];
    size_t out_len;
    uint32_t clock;
} fz_io_t;
static fz_io_t fz_io;
static nm_xfer_recv_t rv;

static int fz_write(void *ctx, const uint8_t *p, size_t n) {
    fz_io_t *io = ctx;
    if (n > sizeof io->out - io->out_len)
        io->out_len = 0; /* the answers were checked; start over */
    memcpy(io->out + io->out_len, p, n);
    io->out_len += n;
    return (int)n;
}

static int fz_read(void *ctx, uint8_t *p, size_t n) {
    fz_io_t *io = ctx;
    size_t left = io->in_len - io->in_pos;
    if (n > left)
        n = left;
    memcpy(p, io->in + io->in_pos, n);
    io->in_pos += n;
    return (int)n;
}

static uint32_t fz_now(void *ctx) { return ((fz_io_t *)ctx)->clock; }

/* Every answer is a whole, valid frame. */
static void check_answers(void) {
    size_t pos = 0;
    while (pos < fz_io.out_len) {
        const uint8_t *p = fz_io.out + pos;
        CHECK(fz_io.out_len - pos >= NM_XFER_OVERHEAD);
        CHECK(p[0] == NM_XFER_MAGIC0 && p[1] == NM_XFER_MAGIC1 && p[3] == 0);
        CHECK(p[2] == NM_XFER_INFO || p[2] == NM_XFER_RESUME || p[2] == NM_XFER_ACK || p[2] == NM_XFER_DONE);
        uint32_t len = p[12] | (uint32_t)p[13] << 8;
        CHECK(NM_XFER_OVERHEAD + len <= NM_XFER_FRAME_DEFAULT && pos + NM_XFER_OVERHEAD + len <= fz_io.out_len);
        uint32_t crc = p[14 + len] | (uint32_t)p[15 + len] << 8 | (uint32_t)p[16 + len] << 16 |
                       (uint32_t)p[17 + len] << 24;
        CHECK(crc == nm_crc32(0, p, 14 + len));
        pos += NM_XFER_OVERHEAD + len;
    }
    fz_io.out_len = 0;
}

static void setup_once(void) {
    if (fz_store)
        return;
    fz_store = calloc(1, sizeof *fz_store);
    if (!fz_store || sf_open(fz_store, &fz_geom) != NM_OK ||
        sf_module(0, "fz", 7, 1500, &fz_mod, &fz_mod_len) != NM_OK)
        abort();
    fz_crc = nm_crc32(0, fz_mod, fz_mod_len);
}

static uint32_t rd32(const uint8_t *p) {
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    if (size < 1)
        return 0;
    nm_detail_t d;
    /* a fresh, erased store every run */
    memset(fz_store->emu.mem, 0xFF, fz_store->emu.size);
    fz_store->emu.violations = 0;
    CHECK(nm_store_format(&fz_store->st, &fz_store->cfg, &d) == NM_OK);
    memset(&fz_io, 0, sizeof fz_io);
    nm_xfer_recv_config_t rc = {{&fz_io, fz_write, fz_read, fz_now}, &fz_store->st, fz_rbuf, sizeof fz_rbuf, 0};
    CHECK(nm_xfer_recv_init(&rv, &rc, &d) == NM_OK);
    uint8_t mode = data[0];
    data++, size--;
    if (!(mode & 1)) {
        size_t piece = 1 + (mode >> 2);
        for (size_t off = 0; off < size; off += piece) {
            fz_io.in = data;
            fz_io.in_len = off + piece < size ? off + piece : size;
            nm_xfer_recv_poll(&rv);
            check_answers();
            fz_io.clock += 3;
        }
    } else {
        static uint8_t fr[NM_XFER_FRAME_MAX], rec[600];
        size_t pos = 0;
        while (pos + 2 <= size) {
            uint8_t op = data[pos], len = data[pos + 1];
            const uint8_t *p = data + pos + 2;
            size_t n = size - pos - 2 < len ? size - pos - 2 : len;
            pos += 2 + n;
            uint8_t type = op & 15;
            uint32_t a = n >= 4 ? rd32(p) : 0, b = n >= 8 ? rd32(p + 4) : 0;
            const uint8_t *pl = n >= 8 ? p + 8 : p;
            size_t pn = n >= 8 ? n - 8 : n;
            if (op & 0x80) {
                b = fz_crc;
                if (type == NM_XFER_OFFER || type == NM_XFER_COMMIT) {
                    a = (uint32_t)fz_mod_len;
                    pl = (const uint8_t *)"fz";
                    pn = type == NM_XFER_OFFER ? 2 : 0;
                } else if (type == NM_XFER_DATA) {
                    a = (op & 0x10) ? rv.have : (n >= 2 ? (uint32_t)(p[0] | p[1] << 8) : 0);
                    a = a > fz_mod_len ? (uint32_t)fz_mod_len : a;
                    pn = n > fz_mod_len - a ? fz_mod_len - a : n;
                    pl = fz_mod + a;
                }
            }
            memcpy(rec, pl, pn);
            size_t fl = nm_xfer_frame(fr, sizeof fr, type, a, b, rec, pn);
            if (!fl)
                continue;
            if ((op & 0x40) && n)
                fr[p[0] % fl] ^= (uint8_t)(1u << (p[n - 1] & 7));
            if ((op & 0x20) && fl > 1)
                fl -= 1 + (n ? p[0] % fl : 0) % fl;
            fz_io.in = fr;
            fz_io.in_len = fl;
            fz_io.in_pos = 0;
            nm_xfer_recv_poll(&rv);
            check_answers();
            fz_io.clock += 7;
        }
    }
    CHECK(fz_store->emu.violations == 0);
    uint32_t it = 0;
    const nm_store_entry_t *e;
    while ((e = nm_store_next(&fz_store->st, &it)) != NULL) {
        const nm_store_entry_t *pe;
        CHECK(nm_store_pin(&fz_store->st, e->name, &pe, &d) == NM_OK); /* installed means intact */
        nm_store_unpin(&fz_store->st, pe);
        if (!strcmp(e->name, "fz") && e->size == fz_mod_len)
            CHECK(!memcmp(fz_store->emu.mem + nm_store_offset(&fz_store->st, e), fz_mod, fz_mod_len));
    }
    return 0;
}
