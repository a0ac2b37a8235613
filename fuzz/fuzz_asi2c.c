/*
 * libFuzzer target for the asi2c core (src/asi2c/asi2c.c), driven through a
 * fake HAL, not the simulated bus: the fuzzer plays the peer, the clock and
 * the I2C controller at once, so it can do what no well-behaved peer does.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_asi2c.c src/asi2c/asi2c.c src/format/detail.c
 *   ./a.out -max_total_time=60 tests/corpus/asi2c
 *
 * Input: two config bytes, then one event per byte (some take operand bytes).
 *   byte 0: bit 0 role (0 Initiator, 1 Responder), bit 1 reset wire,
 *           bits 2-3 rxbufsize {1, 2, 16, 200}, bits 4-5 txbufsize {same},
 *           bit 6 back-to-back (else t_poll 1 ms), bit 7 clock starts
 *           just before the 32-bit microsecond wrap.
 *   byte 1: bit 0 short timeouts (handshake 300 us, xfer 500 us, settle,
 *           reset, sync warning 1 ms), bit 1 guard 1 us, bit 2 reset active
 *           high, bits 3-5 break one config field (init must refuse it with
 *           NM_ERR_INVAL and a detail), bit 6 default t_poll (100 ms),
 *           bit 7 I2C address 0x7F.
 *   events: high nibble = opcode, low nibble = arg (see the switch below).
 *
 * After every event nm_asi2c_step() runs (a bounded loop while it returns
 * 0). Invariants, each an abort():
 *   - every buffer the core hands the HAL is its header buffer (2 bytes),
 *     its txbuf (<= txbufsize) or its rxbuf (<= rxbufsize), or NULL for a
 *     discarded receive; never longer than that buffer; never empty;
 *   - a receive into rxbuf starts only while the slot is free;
 *   - an outgoing payload has exactly the length our header announced, is
 *     not sent while the peer's last header held us off, and carries the
 *     bytes write() accepted;
 *   - readable() <= rxbufsize; read()/readline() return no more than asked
 *     and no more than readable(); the bytes read are the bytes the peer
 *     sent, in order; readline stops at the first '\n';
 *   - write() takes at most txbufsize, nothing while not ready or busy;
 *   - EV_RX never overwrites unread data; event lengths fit the buffers;
 *   - step() never returns 0 more than a few times in a row without an
 *     outside event (the core loops without progress).
 * The buffers are exact-size heap blocks so ASan sees any stray byte.
 */
#include <stdint.h>
#ifdef FUZZ_ASI2C_TRACE
#include <stdio.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "natmod/asi2c.h"

#ifdef FUZZ_ASI2C_TRACE
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_asi2c.c:%d: %s\n", __LINE__, #c);                               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)
#endif

enum { K_NONE, K_STX, K_SRX, K_MREAD, K_MWRITE };

/* The world outside the core. */
typedef struct fake {
    nm_asi2c_t ch;
    int role;
    uint8_t *rxbuf, *txbuf;
    size_t rxsize, txsize;
    uint32_t now;
    int own, peer, reset;
    int mirror;          /* the peer's wire follows ours after each event */
    int fail_next;       /* the next transfer start returns an error */
    int sync_done;       /* start functions complete the transfer at once */
    int fell;            /* edge latch: the peer's wire fell since the core last asked */
    /* the pending transfer */
    int kind;
    uint8_t *buf;
    size_t len;
    /* protocol bookkeeping */
    uint32_t hdr_out_len;     /* length our last outgoing header announced */
    int hdr_out_seen;         /* ... and it was sent since the last payload */
    int peer_held_off;        /* the peer's last header had hold-off set */
    uint8_t wrote[256];       /* what write() accepted last */
    size_t wrote_len;
    int tx_busy;              /* write() accepted, TX_DONE or FAIL not yet seen */
    uint8_t expect[256];      /* payload the peer delivered, not yet all read */
    size_t expect_len, expect_pos;
    uint32_t deadline;        /* what step() returned last */
} fake_t;

/* ---- the fake HAL ----------------------------------------------------- */

static void h_set_own(void *ctx, int level) {
    fake_t *f = ctx;
    REQUIRE(level == 0 || level == 1);
    f->own = level;
}
static int h_get_peer(void *ctx) { return ((fake_t *)ctx)->peer; }
static int h_peer_fell(void *ctx) {
    fake_t *f = ctx;
    int v = f->fell;
    f->fell = 0;
    return v;
}
static uint32_t h_now(void *ctx) { return ((fake_t *)ctx)->now; }
static void h_set_reset(void *ctx, int level) { ((fake_t *)ctx)->reset = level; }

/* Where a buffer the core handed us lies, and how much room it has. */
static size_t room_of(fake_t *f, const uint8_t *buf, int out) {
    const nm_asi2c_t *ch = &f->ch;
    if (buf == (out ? ch->hdr_out : ch->hdr_in))
        return NM_ASI2C_HDR_SIZE;
    if (out && buf == f->txbuf)
        return f->txsize;
    if (!out && buf == f->rxbuf)
        return f->rxsize;
    abort(); /* a pointer outside the channel's own buffers */
}

static int start(fake_t *f, int kind, const uint8_t *buf, size_t len) {
    int out = kind == K_STX || kind == K_MWRITE;
    REQUIRE(len > 0);
    if (buf) {
        REQUIRE(len <= room_of(f, buf, out));
    } else {
        REQUIRE(!out);                       /* only a receive may discard */
        REQUIRE(len <= NM_ASI2C_MAX_LEN);
    }
    if (out && buf == f->ch.hdr_out) {
        f->hdr_out_len = nm_asi2c_hdr_len(buf);
        f->hdr_out_seen = 1;
        REQUIRE(f->hdr_out_len <= f->txsize);
        /* A peer that held us off gets an empty header. */
        if (f->peer_held_off)
            REQUIRE(f->hdr_out_len == 0);
        /* Announced bytes are the bytes write() accepted. */
        if (f->hdr_out_len)
            REQUIRE(f->tx_busy && f->hdr_out_len == f->wrote_len);
    } else if (out) {
        REQUIRE(f->hdr_out_seen && len == f->hdr_out_len);
        REQUIRE(!f->peer_held_off);
        REQUIRE(f->tx_busy && len == f->wrote_len && memcmp(buf, f->wrote, len) == 0);
        f->hdr_out_seen = 0;
    } else if (buf == f->rxbuf) {
        /* The slot is free: nothing unread gets overwritten. */
        REQUIRE(nm_asi2c_readable(&f->ch) == 0);
        REQUIRE(f->expect_pos == f->expect_len);
    }
    if (f->fail_next) {
        f->fail_next = 0;
        return NM_ERR_IO;
    }
    f->kind = kind;
    f->buf = (uint8_t *)buf;
    f->len = len;
    if (f->sync_done) {
        /* A blocking port: the transfer is over before start returns. */
        f->kind = K_NONE;
        if (!out && buf)
            memset(f->buf, 0, len); /* the peer sent zeros: an empty header, no hold-off */
        if (buf == f->ch.hdr_in)
            f->peer_held_off = 0;
        nm_asi2c_xfer_done(&f->ch, (int)len);
    }
    return NM_OK;
}

static int h_slave_tx(void *ctx, const uint8_t *buf, size_t len) { return start(ctx, K_STX, buf, len); }
static int h_slave_rx(void *ctx, uint8_t *buf, size_t len) { return start(ctx, K_SRX, buf, len); }
static void h_slave_cancel(void *ctx) { ((fake_t *)ctx)->kind = K_NONE; }
static int h_master_read(void *ctx, uint8_t addr, uint8_t *buf, size_t len) {
    REQUIRE(addr <= 0x7F);
    return start(ctx, K_MREAD, buf, len);
}
static int h_master_write(void *ctx, uint8_t addr, const uint8_t *buf, size_t len) {
    REQUIRE(addr <= 0x7F);
    return start(ctx, K_MWRITE, buf, len);
}

/* ---- events from the core --------------------------------------------- */

static void on_event(void *app, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    fake_t *f = app;
    REQUIRE(ch == &f->ch);
    switch (ev) {
    case NM_ASI2C_EV_GO:
        REQUIRE(err == 0);
        f->peer_held_off = 0;
        break;
    case NM_ASI2C_EV_FAIL:
        REQUIRE(f->role == NM_ASI2C_INITIATOR && err < 0);
        REQUIRE(arg <= f->txsize && (arg == 0 || (f->tx_busy && arg == f->wrote_len)));
        f->tx_busy = 0;
        f->peer_held_off = 0;
        f->hdr_out_seen = 0;
        break;
    case NM_ASI2C_EV_RX:
        REQUIRE(err == 0 && arg > 0 && arg <= f->rxsize);
        /* The previous payload was read to the end before this one landed. */
        REQUIRE(f->expect_pos == f->expect_len);
        memcpy(f->expect, f->rxbuf, arg);
        f->expect_len = arg;
        f->expect_pos = 0;
        break;
    case NM_ASI2C_EV_TX_DONE:
        REQUIRE(err == 0 && f->tx_busy && arg == f->wrote_len);
        f->tx_busy = 0;
        break;
    case NM_ASI2C_EV_ERROR:
        REQUIRE(err < 0 && ch->detail.msg[0] != '\0');
        break;
    default:
        abort();
    }
}

/* ---- driving ---------------------------------------------------------- */

static void check_stream(fake_t *f) {
    size_t r = nm_asi2c_readable(&f->ch);
    REQUIRE(r <= f->rxsize);
    REQUIRE(r == f->expect_len - f->expect_pos);
    REQUIRE(nm_asi2c_writable(&f->ch) == (nm_asi2c_ready(&f->ch) && !f->tx_busy));
    REQUIRE(nm_asi2c_state_name(&f->ch) != NULL);
}

static void step(fake_t *f) {
    int zeros = 0;
    for (;;) {
        uint32_t d = nm_asi2c_step(&f->ch);
        if (d != 0) {
            f->deadline = d;
            break;
        }
        /* 0 means "call again at once": each call made 64 steps of progress;
         * nothing outside changes in between, so this must end soon. */
        REQUIRE(++zeros < 8);
    }
    if (f->mirror) {
        if (f->peer && !f->own)
            f->fell = 1;
        f->peer = f->own;
    }
    check_stream(f);
#ifdef FUZZ_ASI2C_TRACE /* -DFUZZ_ASI2C_TRACE: follow a seed through the states */
    fprintf(stderr, "t=%u %-14s own=%d peer=%d xfer=%d len=%zu next=%u\n", f->now,
            nm_asi2c_state_name(&f->ch), f->own, f->peer, f->kind, f->len, f->deadline);
#endif
}

/* Report a completion. If the core takes it (it still waits for its
 * transfer), the transfer is over: the fake stops writing into its buffer,
 * and a whole incoming header's hold-off bit binds our next header. */
static void done(fake_t *f, int result) {
    if (atomic_load(&f->ch.xfer_state) == 1) {
        if (f->kind != K_NONE && f->buf == f->ch.hdr_in && result == (int)f->len)
            f->peer_held_off = nm_asi2c_hdr_holdoff(f->ch.hdr_in);
        /* An address NACK moved nothing: the Responder may send the same
         * payload again (its NACK retry), still under the same header. */
        if (f->kind == K_MWRITE && f->buf == f->txbuf && result == NM_ASI2C_ERR_NACK)
            f->hdr_out_seen = 1;
        f->kind = K_NONE;
    }
    nm_asi2c_xfer_done(&f->ch, result);
}

/* The bus finished the armed transfer (the core may have given up on it). */
static void complete(fake_t *f, int result) {
    if (f->kind != K_NONE) {
        done(f, result);
        f->kind = K_NONE;
    }
}

static void do_read(fake_t *f, size_t n, int line) {
    uint8_t out[256];
    size_t before = nm_asi2c_readable(&f->ch);
    size_t got = line ? nm_asi2c_readline(&f->ch, out, n) : nm_asi2c_read(&f->ch, out, n);
    REQUIRE(got <= n && got <= before);
    if (n > 0 && before > 0)
        REQUIRE(got > 0);
    REQUIRE(got <= f->expect_len - f->expect_pos);
    REQUIRE(memcmp(out, f->expect + f->expect_pos, got) == 0);
    if (line && got) {
        const uint8_t *nl = memchr(out, '\n', got);
        REQUIRE(!nl || nl == out + got - 1);
        if (!nl)
            REQUIRE(got == n || got == before);
    } else if (!line) {
        REQUIRE(got == (n < before ? n : before));
    }
    f->expect_pos += got;
}

static void do_write(fake_t *f, size_t len, int null_buf, uint32_t salt) {
    uint8_t data[256];
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)((i * 7u + salt) % 11u == 0 ? '\n' : i + salt);
    int ready = nm_asi2c_ready(&f->ch), busy = f->tx_busy;
    int n = nm_asi2c_write(&f->ch, null_buf ? NULL : data, len);
    if (null_buf && len) {
        REQUIRE(n == NM_ERR_INVAL);
        return;
    }
    REQUIRE(n >= 0 && (size_t)n <= len && (size_t)n <= f->txsize);
    if (!ready || busy || len == 0) {
        REQUIRE(n == 0);
        return;
    }
    REQUIRE((size_t)n == (len < f->txsize ? len : f->txsize));
    memcpy(f->wrote, data, (size_t)n);
    f->wrote_len = (size_t)n;
    f->tx_busy = 1;
}

static const size_t sizes[4] = {1, 2, 16, 200};
static const int errors[4] = {NM_ERR_IO, NM_ERR_TIMEOUT, NM_ASI2C_ERR_NACK, NM_ERR_PROTO};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    static fake_t fk;
    fake_t *f = &fk;
    memset(f, 0, sizeof *f);
    uint8_t c0 = data[0], c1 = data[1];
    f->role = c0 & 1 ? NM_ASI2C_RESPONDER : NM_ASI2C_INITIATOR;
    f->rxsize = sizes[(c0 >> 2) & 3];
    f->txsize = sizes[(c0 >> 4) & 3];
    f->rxbuf = malloc(f->rxsize);
    f->txbuf = malloc(f->txsize);
    REQUIRE(f->rxbuf && f->txbuf);
    f->now = c0 & 0x80 ? 0xFFFFF000u : 1000u;
    f->peer = 1; /* pull-up */

    nm_asi2c_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = f->role;
    cfg.hal.ctx = f;
    cfg.hal.set_own = h_set_own;
    cfg.hal.get_peer = h_get_peer;
    cfg.hal.now_us = h_now;
    cfg.hal.peer_fell = h_peer_fell;
    if (f->role == NM_ASI2C_INITIATOR) {
        cfg.hal.slave_tx = h_slave_tx;
        cfg.hal.slave_rx = h_slave_rx;
        cfg.hal.slave_cancel = h_slave_cancel;
        if (c0 & 2)
            cfg.hal.set_reset = h_set_reset;
    } else {
        cfg.hal.master_read = h_master_read;
        cfg.hal.master_write = h_master_write;
    }
    cfg.rxbuf = f->rxbuf;
    cfg.rxbufsize = f->rxsize;
    cfg.txbuf = f->txbuf;
    cfg.txbufsize = f->txsize;
    cfg.t_poll_us = c0 & 0x40 ? NM_ASI2C_BACK_TO_BACK : 1000;
    if (c1 & 1) {
        cfg.handshake_us = 300;
        cfg.xfer_us = 500;
        cfg.settle_us = 1000;
        cfg.reset_us = 1000;
        cfg.sync_warn_us = 1000;
    }
    if (c1 & 2)
        cfg.guard_us = 1;
    cfg.reset_level = c1 & 4 ? 1 : 0;
    if (c1 & 0x40)
        cfg.t_poll_us = 0;
    if (c1 & 0x80)
        cfg.addr = 0x7F;
    cfg.event_cb = on_event;
    cfg.app = f;
    unsigned broken = (c1 >> 3) & 7u;
    switch (broken) {
    case 1:
        cfg.rxbuf = NULL;
        break;
    case 2:
        cfg.rxbufsize = 0;
        break;
    case 3:
        cfg.txbufsize = NM_ASI2C_MAX_LEN + 1;
        break;
    case 4:
        cfg.addr = 0x80;
        break;
    case 5:
        cfg.role = (enum nm_asi2c_role)7;
        break;
    case 6:
        cfg.hal.now_us = NULL;
        break;
    case 7:
        if (f->role == NM_ASI2C_INITIATOR)
            cfg.hal.slave_cancel = NULL;
        else
            cfg.hal.master_write = NULL;
        break;
    }
    int rc = nm_asi2c_init(&f->ch, &cfg);
    if (broken) {
        REQUIRE(rc == NM_ERR_INVAL && f->ch.detail.msg[0] != '\0');
        free(f->rxbuf);
        free(f->txbuf);
        return 0;
    }
    REQUIRE(rc == NM_OK);
    REQUIRE(f->own == 1);
    step(f);

    uint32_t salt = 0;
    size_t i = 2;
    while (i < size) {
        uint8_t b = data[i++];
        unsigned arg = b & 15u;
#ifdef FUZZ_ASI2C_TRACE
        fprintf(stderr, "event %02x%s\n", b, b >> 4 == 0x9 || b >> 4 == 0xA ? " (+ operands)" : "");
#endif
        switch (b >> 4) {
        case 0x0: /* peer wire level */
            if (f->peer && !(arg & 1))
                f->fell = 1;
            f->peer = arg & 1;
            break;
        case 0x1: /* toggle the peer wire; arg bit 0: mirror mode on/off too */
            if (f->peer)
                f->fell = 1;
            f->peer = !f->peer;
            if (arg & 1)
                f->mirror = !f->mirror;
            break;
        case 0x2: /* a short wait */
            f->now += arg + 1u;
            break;
        case 0x3: /* a longer wait: 16 us .. 524 ms */
            f->now += 16u << arg;
            break;
        case 0x4: /* run to the deadline step() asked for (+ arg us) */
            f->now += (f->deadline == NM_ASI2C_NO_DEADLINE ? 1000u : f->deadline) + arg;
            break;
        case 0x5: /* the transfer moved every byte */
            complete(f, (int)f->len);
            break;
        case 0x6: /* ... fewer bytes */
            if (f->len)
                complete(f, (int)(f->len - 1 - arg % f->len));
            break;
        case 0x7: /* ... more bytes than armed */
            complete(f, (int)(f->len + 1 + arg));
            break;
        case 0x8: /* ... failed */
            complete(f, errors[arg & 3]);
            break;
        case 0x9: { /* the peer sends bytes into the armed receive buffer:
                     * arg 0: as many as armed, else arg bytes, from the input */
            if (f->kind != K_SRX && f->kind != K_MREAD)
                break;
            size_t n = arg ? arg : f->len;
            if (n > f->len)
                n = f->len;
            if (n > size - i)
                n = size - i;
            if (f->buf)
                memcpy(f->buf, data + i, n);
            i += n;
            break;
        }
        case 0xA: { /* write(): length from the next byte; arg bits 0+1: NULL buffer */
            size_t len = i < size ? data[i++] : arg;
            do_write(f, len, (arg & 1) && (arg & 2), salt++);
            break;
        }
        case 0xB: /* read() */
            do_read(f, arg == 15 ? 255 : arg, 0);
            break;
        case 0xC: /* readline() */
            do_read(f, arg == 15 ? 255 : arg, 1);
            break;
        case 0xD: /* reboot (Initiator only has an effect); a rebooted
                   * Initiator forgets the peer's hold-off, so stop checking */
            nm_asi2c_reboot(&f->ch);
            f->peer_held_off = 0;
            break;
        case 0xE: /* HAL behaviour: bit 0 next start fails, bit 1 toggles
                   * completion inside the start call, bit 2 cancels the
                   * fake's record of the transfer (the bus lost it), bit 3
                   * a low pulse of the peer's wire that only the edge latch
                   * saw */
            if (arg & 8)
                f->fell = 1;
            if (arg & 1)
                f->fail_next = 1;
            if (arg & 2)
                f->sync_done = !f->sync_done;
            if (arg & 4)
                f->kind = K_NONE;
            break;
        case 0xF: /* a completion nobody asked for (late or spurious) */
            done(f, (int)arg - 8);
            break;
        }
        step(f);
    }
    free(f->rxbuf);
    free(f->txbuf);
    return 0;
}
