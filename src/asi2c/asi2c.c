/*
 * The asi2c core: both roles as non-blocking state machines.
 *
 * An exchange is four transfers T0..T3 (see asi2c.h). Each transfer is a
 * short fixed list of micro-steps that depends only on the role and on the
 * direction of the transfer relative to us (docs/asi2c.md, "One transfer"):
 *
 *   Initiator out (T0, T1): arm slave tx, sync=1, transfer done, ack==1, sync=0, ack==0
 *   Initiator in  (T2, T3): ack==1, arm slave rx, sync=1, transfer done, ack==0, sync=0
 *   Responder in  (T0, T1): sync==1, 20 us, master read, done, ack=1, sync==0, ack=0
 *   Responder out (T2, T3): ack=1, sync==1, 20 us, master write, done, ack=0, sync==0
 *
 * Two steps of the protocol are not interlocked. At the end of T0 or T1 the
 * Responder drops ack and then raises it again to ask for T2, and the
 * Initiator must have seen the low level in between (it waits for ack==0,
 * then for ack==1). Likewise the Initiator drops sync at the end of an
 * exchange and raises it for the next T0. The reference relies on Python
 * being slow and t_poll being long; we hold the wire low for guard_us
 * (50 us) in both places, so a peer that notices an edge within that time
 * never misses it.
 *
 * The reference raises sync and then arms the slave, relying on the
 * Responder's 20 us delay; we arm first, which keeps the wire sequence and
 * removes the race. Everything else runs in the reference's order.
 *
 * Two things make us tolerate a reference peer whose timing is looser than
 * ours (issue 20). As Responder we retry an address NACK for nack_retry_us:
 * the reference Initiator arms its slave only after raising sync, and a C
 * Responder's 20 us delay may run out first. As Initiator we take the HAL's
 * edge latch as well as the level when waiting for ack to fall: the
 * reference Responder drops ack for only 30-40 us before T2, less than a
 * slow port may take between two step() calls.
 */
#include <string.h>

#include "natmod/asi2c.h"

#include "natmod/format.h"

enum {
    ST_BOOT = 0,     /* Initiator: own=1, reset pulse */
    ST_RESET_PULSE,  /* Initiator: reset line active */
    ST_SYNC,         /* own=0, wait for peer==0 */
    ST_SETTLE,       /* Initiator: 1 s after sync */
    ST_IDLE,         /* Initiator: t_poll pause; Responder: wait for sync==1 */
    ST_XFER,         /* inside an exchange: xfer/op say where */
    ST_RECOVER,      /* Responder: abandoned an exchange, wait for sync==0 */
};

/* Micro-steps. */
enum {
    OP_ARM,     /* Initiator: arm the slave transfer */
    OP_START,   /* Responder: start the master transfer */
    OP_OWN1,
    OP_OWN0,
    OP_PEER1,
    OP_PEER0,
    OP_DELAY,   /* Responder: NM_ASI2C_DELAY_US since the last wait ended */
    OP_DONE,    /* transfer finished */
    OP_GUARD,   /* Responder: keep ack low guard_us before raising it for T2 */
    OP_END,
};

static const uint8_t ops_i_out[] = {OP_ARM, OP_OWN1, OP_DONE, OP_PEER1, OP_OWN0, OP_PEER0, OP_END};
static const uint8_t ops_i_in[] = {OP_PEER1, OP_ARM, OP_OWN1, OP_DONE, OP_PEER0, OP_OWN0, OP_END};
static const uint8_t ops_r_in[] = {OP_PEER1, OP_DELAY, OP_START, OP_DONE, OP_OWN1, OP_PEER0, OP_OWN0, OP_END};
static const uint8_t ops_r_t2[] = {OP_GUARD, OP_OWN1, OP_PEER1, OP_DELAY, OP_START, OP_DONE, OP_OWN0, OP_PEER0, OP_END};
static const uint8_t ops_r_out[] = {OP_OWN1, OP_PEER1, OP_DELAY, OP_START, OP_DONE, OP_OWN0, OP_PEER0, OP_END};

static int is_init(const nm_asi2c_t *ch) { return ch->cfg.role == NM_ASI2C_INITIATOR; }

/* T0/T1 go Initiator -> Responder. */
static int xfer_is_out(const nm_asi2c_t *ch, unsigned x) { return is_init(ch) == (x < 2); }

static const uint8_t *ops_of(const nm_asi2c_t *ch, unsigned x) {
    if (is_init(ch))
        return xfer_is_out(ch, x) ? ops_i_out : ops_i_in;
    if (x == 2)
        return ops_r_t2;
    return xfer_is_out(ch, x) ? ops_r_out : ops_r_in;
}

static uint32_t now(const nm_asi2c_t *ch) { return ch->cfg.hal.now_us(ch->cfg.hal.ctx); }
static uint32_t since(const nm_asi2c_t *ch, uint32_t t) { return now(ch) - t; }
static void own(nm_asi2c_t *ch, int level) { ch->cfg.hal.set_own(ch->cfg.hal.ctx, level); }
static int peer(const nm_asi2c_t *ch) { return ch->cfg.hal.get_peer(ch->cfg.hal.ctx) ? 1 : 0; }
/* Consume the HAL's edge latch (0 without one). */
static int peer_fell(const nm_asi2c_t *ch) {
    return ch->cfg.hal.peer_fell ? ch->cfg.hal.peer_fell(ch->cfg.hal.ctx) != 0 : 0;
}

static void emit(nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    if (ch->cfg.event_cb)
        ch->cfg.event_cb(ch->cfg.app, ch, ev, err, arg);
}

/* A non-fatal error: counted by the caller, detailed here, reported. */
static void report(nm_asi2c_t *ch, int err, const char *what, uint32_t a, uint32_t b) {
    nm_detail_set(&ch->detail, is_init(ch) ? "asi2c initiator: " : "asi2c responder: ");
    nm_detail_cat(&ch->detail, what);
    nm_detail_cat(&ch->detail, " (");
    nm_detail_dec(&ch->detail, a);
    nm_detail_cat(&ch->detail, ", limit ");
    nm_detail_dec(&ch->detail, b);
    nm_detail_cat(&ch->detail, ")");
    emit(ch, NM_ASI2C_EV_ERROR, err, a);
}

static void detail_xfer(nm_asi2c_t *ch, const char *head, const char *what) {
    nm_detail_set(&ch->detail, head);
    nm_detail_dec(&ch->detail, ch->xfer);
    nm_detail_cat(&ch->detail, ": ");
    nm_detail_cat(&ch->detail, what);
}

static void enter(nm_asi2c_t *ch, uint8_t state) {
    ch->state = state;
    ch->mark_us = now(ch);
}

static uint32_t remaining(const nm_asi2c_t *ch, uint32_t limit) {
    uint32_t t = since(ch, ch->mark_us);
    return t >= limit ? 0 : limit - t;
}

/* ---- configuration ---------------------------------------------------- */

static int bad(nm_asi2c_t *ch, const char *field) {
    nm_detail_set(&ch->detail, "asi2c config: ");
    nm_detail_cat(&ch->detail, field);
    return NM_ERR_INVAL;
}

int nm_asi2c_init(nm_asi2c_t *ch, const nm_asi2c_config_t *cfg) {
    memset(ch, 0, sizeof *ch);
    if (!cfg)
        return bad(ch, "no config");
    ch->cfg = *cfg;
    nm_asi2c_config_t *c = &ch->cfg;
    const nm_asi2c_hal_t *h = &c->hal;
    if (c->role != NM_ASI2C_INITIATOR && c->role != NM_ASI2C_RESPONDER)
        return bad(ch, "role is neither initiator nor responder");
    if (!h->set_own || !h->get_peer || !h->now_us)
        return bad(ch, "hal.set_own, hal.get_peer and hal.now_us are required");
    if (c->role == NM_ASI2C_INITIATOR && (!h->slave_tx || !h->slave_rx || !h->slave_cancel))
        return bad(ch, "an initiator needs hal.slave_tx, slave_rx and slave_cancel");
    if (c->role == NM_ASI2C_RESPONDER && (!h->master_read || !h->master_write))
        return bad(ch, "a responder needs hal.master_read and master_write");
    if (!c->rxbuf || c->rxbufsize == 0 || c->rxbufsize > NM_ASI2C_MAX_LEN)
        return bad(ch, "rxbuf/rxbufsize must be a buffer of 1..32767 bytes");
    if (!c->txbuf || c->txbufsize == 0 || c->txbufsize > NM_ASI2C_MAX_LEN)
        return bad(ch, "txbuf/txbufsize must be a buffer of 1..32767 bytes");
    if (c->peer_rxbufsize == 0)
        c->peer_rxbufsize = NM_ASI2C_RXBUF_DEFAULT;
    if (c->peer_rxbufsize > NM_ASI2C_MAX_LEN)
        return bad(ch, "peer_rxbufsize must be 1..32767 bytes");
    if (c->addr == 0)
        c->addr = NM_ASI2C_ADDR;
    if (c->addr > 0x7F)
        return bad(ch, "addr is not a 7-bit I2C address");
    if (c->t_poll_us == 0)
        c->t_poll_us = NM_ASI2C_T_POLL_US;
    else if (c->t_poll_us == NM_ASI2C_BACK_TO_BACK)
        c->t_poll_us = 0;
    if (c->handshake_us == 0)
        c->handshake_us = is_init(ch) ? NM_ASI2C_HANDSHAKE_US : NM_ASI2C_R_HANDSHAKE_US;
    if (c->xfer_us == 0)
        c->xfer_us = NM_ASI2C_XFER_US;
    if (c->settle_us == 0)
        c->settle_us = NM_ASI2C_SETTLE_US;
    if (c->reset_us == 0)
        c->reset_us = NM_ASI2C_RESET_US;
    if (c->guard_us == 0)
        c->guard_us = NM_ASI2C_GUARD_US;
    if (c->sync_warn_us == 0)
        c->sync_warn_us = 10000000u;
    if (c->nack_retry_us == 0)
        c->nack_retry_us = NM_ASI2C_NACK_RETRY_US;
    else if (c->nack_retry_us == NM_ASI2C_NO_RETRY)
        c->nack_retry_us = 0;
    atomic_init(&ch->xfer_result, 0);
    atomic_init(&ch->xfer_state, 0);
    atomic_init(&ch->tx_len, 0);
    atomic_init(&ch->rx_len, 0);
    atomic_init(&ch->rx_pos, 0);
    /* Both roles start with their wire high (the reference's Channel init). */
    own(ch, 1);
    if (c->hal.set_reset)
        c->hal.set_reset(c->hal.ctx, !c->reset_level);
    enter(ch, is_init(ch) ? ST_BOOT : ST_SYNC);
    /* The start-up sync warning counts from here (the Responder enters
     * ST_SYNC now; the Initiator sets it again after its reset pulse). */
    ch->warn_us = ch->mark_us;
    return NM_OK;
}

/* ---- failure ---------------------------------------------------------- */

/* Initiator: the Responder failed. Count it, drop the pending payload
 * (length and data together: the reference dropped the data but kept the
 * length), tell the application, and start over with a reset pulse. */
static void initiator_fail(nm_asi2c_t *ch, int err, const char *what) {
    ch->cfg.hal.slave_cancel(ch->cfg.hal.ctx);
    atomic_store(&ch->xfer_state, 0);
    unsigned dropped = atomic_exchange_explicit(&ch->tx_len, 0, memory_order_acq_rel);
    if (dropped)
        ch->stats.tx_dropped++;
    ch->stats.nboots++;
    ch->synced = 0;
    detail_xfer(ch, "asi2c initiator: responder failed in T", what);
    emit(ch, NM_ASI2C_EV_FAIL, err, dropped);
    enter(ch, ST_BOOT);
}

/* Responder: give up on this exchange; keep our slots (nothing was
 * delivered or released half-way) and wait for the Initiator to drop sync. */
static void responder_abort(nm_asi2c_t *ch, int err, const char *what) {
    atomic_store(&ch->xfer_state, 0);
    ch->stats.aborts++;
    detail_xfer(ch, "asi2c responder: exchange abandoned in T", what);
    emit(ch, NM_ASI2C_EV_ERROR, err, ch->xfer);
    own(ch, 0);
    enter(ch, ST_RECOVER);
}

static void fail(nm_asi2c_t *ch, int err, const char *what) {
    if (is_init(ch))
        initiator_fail(ch, err, what);
    else
        responder_abort(ch, err, what);
}

/* ---- one exchange ----------------------------------------------------- */

/* Snapshot our header: the payload length (0 unless the slot is full and
 * the peer accepts one) and our hold-off bit. The length is read once, so
 * the header and the payload always agree. */
static void make_header(nm_asi2c_t *ch) {
    unsigned len = atomic_load_explicit(&ch->tx_len, memory_order_acquire);
    ch->out_len = ch->peer_holdoff ? 0 : len;
    int hold = atomic_load_explicit(&ch->rx_len, memory_order_acquire) != 0;
    nm_asi2c_hdr_encode(ch->hdr_out, ch->out_len, hold);
}

/* The peer's header arrived: decide what the payload transfer does. */
static void take_header(nm_asi2c_t *ch) {
    ch->in_len = nm_asi2c_hdr_len(ch->hdr_in);
    ch->peer_holdoff = (uint8_t)nm_asi2c_hdr_holdoff(ch->hdr_in);
    if (ch->in_len == 0)
        return;
    /* The slot can only have emptied since our header said hold-off, so
     * "free now" accepts everything the protocol allows. */
    ch->rx_accept = atomic_load_explicit(&ch->rx_len, memory_order_acquire) == 0;
    if (ch->in_len > ch->cfg.rxbufsize) {
        ch->stats.oversize++;
        ch->rx_accept = 0;
        report(ch, NM_ERR_PROTO, "payload larger than rxbufsize, discarded", ch->in_len,
               (uint32_t)ch->cfg.rxbufsize);
    } else if (!ch->rx_accept) {
        ch->stats.holdoff_violations++;
        report(ch, NM_ERR_PROTO, "payload sent while we held off, discarded", ch->in_len, 0);
    }
}

/* Where transfer x reads or writes, and how long it is. */
static void xfer_buf(nm_asi2c_t *ch, unsigned x, uint8_t **buf, size_t *len) {
    int out = xfer_is_out(ch, x);
    if (x == 0 || x == 2) {
        *buf = out ? ch->hdr_out : ch->hdr_in;
        *len = NM_ASI2C_HDR_SIZE;
    } else if (out) {
        *buf = ch->cfg.txbuf;
        *len = ch->out_len;
    } else {
        *buf = ch->rx_accept ? ch->cfg.rxbuf : NULL;
        *len = ch->in_len;
    }
}

static int start_xfer(nm_asi2c_t *ch, unsigned x) {
    uint8_t *buf;
    size_t len;
    xfer_buf(ch, x, &buf, &len);
    const nm_asi2c_hal_t *h = &ch->cfg.hal;
    atomic_store(&ch->xfer_state, 1);
    int rc;
    if (is_init(ch))
        rc = xfer_is_out(ch, x) ? h->slave_tx(h->ctx, buf, len) : h->slave_rx(h->ctx, buf, len);
    else
        rc = xfer_is_out(ch, x) ? h->master_write(h->ctx, ch->cfg.addr, buf, len)
                                : h->master_read(h->ctx, ch->cfg.addr, buf, len);
    if (rc < 0)
        atomic_store(&ch->xfer_state, 0);
    return rc;
}

/* Transfer x finished with `got` bytes: check it and move the data. */
static int finish_xfer(nm_asi2c_t *ch, unsigned x, int got) {
    uint8_t *buf;
    size_t len;
    xfer_buf(ch, x, &buf, &len);
    if (got < 0) {
        fail(ch, got, "I2C transfer failed");
        return -1;
    }
    if ((size_t)got != len) {
        ch->stats.short_xfers++;
        fail(ch, NM_ERR_PROTO, "transfer moved a different byte count than announced");
        return -1;
    }
    if (x == 0 || x == 2) {
        if (!xfer_is_out(ch, x))
            take_header(ch);
        return 0;
    }
    if (xfer_is_out(ch, x)) {
        /* The payload crossed the bus: release the slot. */
        ch->stats.tx_payloads++;
        ch->stats.tx_bytes += len;
        atomic_store_explicit(&ch->tx_len, 0, memory_order_release);
        emit(ch, NM_ASI2C_EV_TX_DONE, 0, (uint32_t)len);
    } else if (buf) {
        ch->stats.rx_payloads++;
        ch->stats.rx_bytes += len;
        atomic_store_explicit(&ch->rx_pos, 0, memory_order_relaxed);
        atomic_store_explicit(&ch->rx_len, (unsigned)len, memory_order_release);
        emit(ch, NM_ASI2C_EV_RX, 0, (uint32_t)len);
    }
    return 0;
}

/* Length of transfer x (T1/T3 may be empty and are then skipped). */
static uint32_t xfer_len(const nm_asi2c_t *ch, unsigned x) {
    if (x == 0 || x == 2)
        return NM_ASI2C_HDR_SIZE;
    return xfer_is_out(ch, x) ? ch->out_len : ch->in_len;
}

static void begin_xfer(nm_asi2c_t *ch, unsigned x) {
    ch->xfer = (uint8_t)x;
    ch->op = 0;
    ch->retrying = 0;
    ch->mark_us = now(ch);
}

static void end_exchange(nm_asi2c_t *ch) {
    uint32_t t = since(ch, ch->xstart_us);
    ch->stats.block_cnt++;
    ch->stats.block_sum_us += t;
    if (t > ch->stats.block_max_us)
        ch->stats.block_max_us = t;
    enter(ch, ST_IDLE);
}

/* Advance to the transfer after x (skipping empty payloads) or end. */
static void next_xfer(nm_asi2c_t *ch, unsigned x) {
    for (x = x + 1; x < 4; x++) {
        if (x == 2 && xfer_is_out(ch, x))
            make_header(ch); /* Responder: our header goes now */
        if (xfer_len(ch, x) > 0) {
            begin_xfer(ch, x);
            return;
        }
    }
    end_exchange(ch);
}

/* Run the micro-steps of the current transfer. Returns the deadline when
 * it has to wait, or 0 when the transfer (or the exchange) moved on. */
static uint32_t run_xfer(nm_asi2c_t *ch, int *progressed) {
    const uint8_t *ops = ops_of(ch, ch->xfer);
    uint32_t limit = ch->cfg.handshake_us;
    for (;;) {
        uint8_t op = ops[ch->op];
        switch (op) {
        case OP_ARM:
        case OP_START: {
            if (!ch->retrying)
                ch->try_us = now(ch);
            int rc = start_xfer(ch, ch->xfer);
            if (rc < 0) {
                fail(ch, rc, "could not start the I2C transfer");
                *progressed = 1;
                return 0;
            }
            break;
        }
        case OP_OWN1:
        case OP_OWN0:
            own(ch, op == OP_OWN1);
            break;
        case OP_PEER1:
        case OP_PEER0: {
            /* The latch answers "did the wire fall after we saw it high":
             * forget older falls before looking for the rise (clear, then
             * read, so a fall after the read is kept), and take a latched
             * fall as the low level we wait for. */
            int fell = peer_fell(ch);
            int level = peer(ch);
            if (op == OP_PEER0 && fell && level) {
                ch->stats.latched_falls++;
                level = 0;
            }
            if (level != (op == OP_PEER1)) {
                /* The Responder's first wait of an exchange is its idle
                 * state and has no limit; that one is handled in ST_IDLE. */
                uint32_t left = remaining(ch, limit);
                if (left == 0) {
                    fail(ch, NM_ERR_TIMEOUT, op == OP_PEER1 ? "peer wire did not rise in time"
                                                              : "peer wire did not fall in time");
                    *progressed = 1;
                    return 0;
                }
                return left;
            }
            break;
        }
        case OP_GUARD:
        case OP_DELAY: {
            uint32_t left = remaining(ch, op == OP_GUARD ? ch->cfg.guard_us : NM_ASI2C_DELAY_US);
            if (left)
                return left;
            break;
        }
        case OP_DONE: {
            unsigned st = atomic_load_explicit(&ch->xfer_state, memory_order_acquire);
            if (st != 2) {
                uint32_t left = remaining(ch, ch->cfg.xfer_us);
                if (left == 0) {
                    fail(ch, NM_ERR_TIMEOUT, "I2C transfer did not finish in time");
                    *progressed = 1;
                    return 0;
                }
                return left;
            }
            atomic_store(&ch->xfer_state, 0);
            int res = atomic_load(&ch->xfer_result);
            if (res == NM_ASI2C_ERR_NACK && !is_init(ch) && since(ch, ch->try_us) < ch->cfg.nack_retry_us &&
                peer(ch)) {
                /* Sync is (still) high, so the Initiator means to take
                 * part: a slave that is still arming NACKs. Go back to the
                 * 20 us delay and address it again. */
                ch->retrying = 1;
                ch->stats.nack_retries++;
                while (ch->op > 0 && ops[ch->op] != OP_DELAY)
                    ch->op--;
                ch->mark_us = now(ch);
                *progressed = 1;
                continue;
            }
            if (finish_xfer(ch, ch->xfer, res) < 0) {
                *progressed = 1;
                return 0;
            }
            break;
        }
        case OP_END:
        default:
            next_xfer(ch, ch->xfer);
            *progressed = 1;
            return 0;
        }
        /* One micro-step done: the next wait is measured from here. */
        ch->op++;
        ch->mark_us = now(ch);
        *progressed = 1;
    }
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

uint32_t nm_asi2c_step(nm_asi2c_t *ch) {
    for (int guard = 0; guard < 64; guard++) {
        int progressed = 0;
        uint32_t wait = 0;
        switch (ch->state) {
        case ST_BOOT:
            ch->synced = 0;
            ch->peer_holdoff = 0;
            ch->reboot_req = 0;
            own(ch, 1);
            if (ch->cfg.hal.set_reset) {
                ch->cfg.hal.set_reset(ch->cfg.hal.ctx, ch->cfg.reset_level);
                enter(ch, ST_RESET_PULSE);
            } else {
                own(ch, 0);
                enter(ch, ST_SYNC);
                ch->warn_us = ch->mark_us;
            }
            progressed = 1;
            break;
        case ST_RESET_PULSE:
            wait = remaining(ch, ch->cfg.reset_us);
            if (wait == 0) {
                ch->cfg.hal.set_reset(ch->cfg.hal.ctx, !ch->cfg.reset_level);
                own(ch, 0);
                enter(ch, ST_SYNC);
                ch->warn_us = ch->mark_us;
                progressed = 1;
            }
            break;
        case ST_SYNC:
            /* Responder: first visit drops our wire (the Initiator drops
             * it in ST_BOOT / ST_RESET_PULSE). Idempotent. */
            if (!is_init(ch))
                own(ch, 0);
            if (peer(ch) == 0) {
                if (is_init(ch)) {
                    enter(ch, ST_SETTLE);
                } else {
                    ch->synced = 1;
                    enter(ch, ST_IDLE);
                    emit(ch, NM_ASI2C_EV_GO, 0, 0);
                }
                progressed = 1;
            } else {
                if (since(ch, ch->warn_us) >= ch->cfg.sync_warn_us) {
                    ch->warn_us = now(ch);
                    report(ch, NM_ERR_TIMEOUT, "peer did not answer the start-up sync (us)",
                           since(ch, ch->mark_us), ch->cfg.sync_warn_us);
                }
                wait = min_u32(NM_ASI2C_SYNC_POLL_US, ch->cfg.sync_warn_us - since(ch, ch->warn_us));
            }
            break;
        case ST_SETTLE:
            wait = remaining(ch, ch->cfg.settle_us);
            if (wait == 0) {
                ch->synced = 1;
                enter(ch, ST_IDLE);
                emit(ch, NM_ASI2C_EV_GO, 0, 0);
                progressed = 1;
            }
            break;
        case ST_IDLE:
            if (is_init(ch)) {
                if (ch->reboot_req) {
                    ch->synced = 0;
                    enter(ch, ST_BOOT);
                    progressed = 1;
                    break;
                }
                /* sync stays low at least guard_us: the Responder must see
                 * the end of the last transfer before T0 raises it again
                 * (the other non-interlocked step; matters with t_poll 0). */
                wait = remaining(ch, ch->cfg.t_poll_us > ch->cfg.guard_us ? ch->cfg.t_poll_us
                                                                           : ch->cfg.guard_us);
                if (wait)
                    break;
                make_header(ch);
            } else {
                if (peer(ch) == 0) {
                    wait = NM_ASI2C_NO_DEADLINE;
                    break;
                }
            }
            ch->xstart_us = now(ch);
            ch->state = ST_XFER;
            begin_xfer(ch, 0);
            progressed = 1;
            break;
        case ST_XFER:
            wait = run_xfer(ch, &progressed);
            break;
        case ST_RECOVER:
            /* A latched fall counts: the exchange's last wait for sync high
             * cleared older falls, so sync fell since, and the Initiator
             * ended the exchange. */
            if (peer_fell(ch) | (peer(ch) == 0)) {
                enter(ch, ST_IDLE);
                progressed = 1;
            } else {
                wait = NM_ASI2C_NO_DEADLINE;
            }
            break;
        default:
            ch->state = is_init(ch) ? ST_BOOT : ST_SYNC;
            progressed = 1;
            break;
        }
        if (!progressed)
            return wait == 0 ? 1 : wait;
    }
    return 0; /* more to do: call again at once */
}

void nm_asi2c_xfer_done(nm_asi2c_t *ch, int result) {
    if (atomic_load_explicit(&ch->xfer_state, memory_order_acquire) != 1)
        return; /* a late completion of a transfer we already gave up on */
    atomic_store_explicit(&ch->xfer_result, result, memory_order_relaxed);
    atomic_store_explicit(&ch->xfer_state, 2, memory_order_release);
}

void nm_asi2c_reboot(nm_asi2c_t *ch) {
    if (is_init(ch))
        ch->reboot_req = 1;
}

/* ---- stream ----------------------------------------------------------- */

int nm_asi2c_write(nm_asi2c_t *ch, const void *buf, size_t len) {
    if (!buf && len)
        return NM_ERR_INVAL;
    size_t n = len < ch->cfg.txbufsize ? len : ch->cfg.txbufsize;
    if (n > ch->cfg.peer_rxbufsize) {
        /* The reference's receiver raises on an oversize payload and its
         * task dies for good: never send one. */
        nm_detail_set(&ch->detail, "asi2c write: payload of ");
        nm_detail_dec(&ch->detail, (uint32_t)n);
        nm_detail_cat(&ch->detail, " bytes is larger than the peer's rxbufsize ");
        nm_detail_dec(&ch->detail, (uint32_t)ch->cfg.peer_rxbufsize);
        return NM_ERR_INVAL;
    }
    if (!ch->synced || len == 0 || atomic_load_explicit(&ch->tx_len, memory_order_acquire) != 0)
        return 0;
    if (len > ch->cfg.txbufsize)
        len = ch->cfg.txbufsize;
    memcpy(ch->cfg.txbuf, buf, len);
    /* Publish: data first, then the length, in one store. */
    atomic_store_explicit(&ch->tx_len, (unsigned)len, memory_order_release);
    return (int)len;
}

int nm_asi2c_writable(const nm_asi2c_t *ch) {
    return ch->synced && atomic_load_explicit(&ch->tx_len, memory_order_acquire) == 0;
}

size_t nm_asi2c_readable(const nm_asi2c_t *ch) {
    unsigned end = atomic_load_explicit(&ch->rx_len, memory_order_acquire);
    unsigned pos = atomic_load_explicit(&ch->rx_pos, memory_order_relaxed);
    return end > pos ? end - pos : 0;
}

static size_t take(nm_asi2c_t *ch, void *buf, size_t n, int line) {
    unsigned end = atomic_load_explicit(&ch->rx_len, memory_order_acquire);
    unsigned pos = atomic_load_explicit(&ch->rx_pos, memory_order_relaxed);
    if (end <= pos || n == 0)
        return 0;
    size_t k = end - pos;
    if (k > n)
        k = n;
    if (line) {
        const uint8_t *nl = memchr(ch->cfg.rxbuf + pos, '\n', k);
        if (nl)
            k = (size_t)(nl - (ch->cfg.rxbuf + pos)) + 1;
    }
    memcpy(buf, ch->cfg.rxbuf + pos, k);
    if (pos + k == end) {
        /* Drained: free the slot (clears our hold-off). */
        atomic_store_explicit(&ch->rx_pos, 0, memory_order_relaxed);
        atomic_store_explicit(&ch->rx_len, 0, memory_order_release);
    } else {
        atomic_store_explicit(&ch->rx_pos, pos + (unsigned)k, memory_order_relaxed);
    }
    return k;
}

size_t nm_asi2c_read(nm_asi2c_t *ch, void *buf, size_t n) { return take(ch, buf, n, 0); }
size_t nm_asi2c_readline(nm_asi2c_t *ch, void *buf, size_t n) { return take(ch, buf, n, 1); }
int nm_asi2c_ready(const nm_asi2c_t *ch) { return ch->synced; }

const char *nm_asi2c_state_name(const nm_asi2c_t *ch) {
    static const char *const st[] = {"boot", "reset pulse", "start-up sync", "settle", "idle", "exchange",
                                     "recover"};
    if (ch->state == ST_XFER) {
        static const char *const t[] = {"T0", "T1", "T2", "T3"};
        return t[ch->xfer & 3];
    }
    return ch->state < sizeof st / sizeof st[0] ? st[ch->state] : "?";
}
