/*
 * Two boards on the simulated asi2c bus, one running the xfer sender, the
 * other the receiver with a store on emulated flash; and an in-memory
 * stream pair for feeding the machines directly. Shared by the tests and
 * the fuzz target.
 */
#ifndef NATMOD_TEST_XFER_RIG_H
#define NATMOD_TEST_XFER_RIG_H

#include <stdlib.h>
#include <string.h>

#include "../store/store_fixture.h"
#include "asi2c/sim.h"
#include "natmod/xfer.h"

#define XR_MS 1000000ull
#define XR_SEC 1000000000ull
#define XR_BUF (64 * 1024)

typedef struct xr_board {
    nm_asi2c_t ch;
    nm_asi2c_config_t cfg;
    uint8_t rxbuf[256], txbuf[256];
    nm_xfer_asi2c_t aio;
    nm_xfer_io_t io;
    int sender;
    nm_xfer_send_t snd;
    nm_xfer_recv_t rcv;
} xr_board_t;

typedef struct xr_rig {
    nm_sim_t *sim;
    xr_board_t b[2]; /* by sim side */
    int sender_side;
    sf_store_t *store; /* the receiver's flash */
    uint8_t rbuf[XR_BUF];
    uint32_t rbuf_size;
    nm_xfer_send_config_t scfg; /* io is filled per board */
    uint32_t t_poll_us;
    /* across sender reboots */
    uint32_t sender_boots, receiver_boots;
    uint64_t data_bytes_before; /* sent by earlier sender incarnations */
    uint32_t chunks_before, retransmits_before;
    int init_rc;
} xr_rig_t;

static inline uint32_t xr_us(uint32_t ms) {
    return ms == NM_XFER_NO_DEADLINE ? NM_ASI2C_NO_DEADLINE : ms * 1000u;
}

static inline uint32_t xr_app(void *user, nm_sim_t *sim, int side) {
    xr_board_t *b = user;
    (void)sim;
    (void)side;
    return xr_us(b->sender ? nm_xfer_send_poll(&b->snd) : nm_xfer_recv_poll(&b->rcv));
}

/* (Re)start a board: channel and protocol machine; a reboot loses RAM, the
 * flash (store) stays and is mounted again. */
static inline void xr_board_start(xr_rig_t *r, int side) {
    xr_board_t *b = &r->b[side];
    b->sender = side == r->sender_side;
    memset(&b->cfg, 0, sizeof b->cfg);
    b->cfg.role = side == NM_SIM_I ? NM_ASI2C_INITIATOR : NM_ASI2C_RESPONDER;
    b->cfg.hal = nm_sim_hal(r->sim, side, side == NM_SIM_I);
    b->cfg.rxbuf = b->rxbuf;
    b->cfg.rxbufsize = 200;
    b->cfg.txbuf = b->txbuf;
    b->cfg.txbufsize = 200;
    b->cfg.t_poll_us = r->t_poll_us;
    if (nm_asi2c_init(&b->ch, &b->cfg) != NM_OK)
        r->init_rc = NM_ERR_INVAL;
    nm_sim_attach(r->sim, side, &b->ch);
    nm_xfer_io_asi2c(&b->io, &b->aio, &b->ch);
    nm_detail_t d;
    if (b->sender) {
        nm_xfer_send_config_t c = r->scfg;
        c.io = b->io;
        int rc = nm_xfer_send_init(&b->snd, &c, &d);
        if (rc)
            r->init_rc = rc;
    } else {
        nm_store_mount(&r->store->st, &r->store->cfg, &d);
        nm_xfer_recv_config_t c = {b->io, &r->store->st, r->rbuf, r->rbuf_size, 0};
        memset(r->rbuf, 0, sizeof r->rbuf); /* RAM is gone */
        int rc = nm_xfer_recv_init(&b->rcv, &c, &d);
        if (rc)
            r->init_rc = rc;
    }
    nm_sim_set_app(r->sim, side, xr_app, b);
}

static inline void xr_reboot(void *user, nm_sim_t *sim, int side) {
    xr_rig_t *r = user;
    (void)sim;
    xr_board_t *b = &r->b[side];
    if (b->sender) {
        r->sender_boots++;
        r->data_bytes_before += b->snd.stats.data_bytes;
        r->chunks_before += b->snd.stats.chunks;
        r->retransmits_before += b->snd.stats.retransmits;
    } else {
        r->receiver_boots++;
    }
    xr_board_start(r, side);
}

/* A rig; the caller has filled store, scfg (module, name, ...), sender_side. */
static inline void xr_start(xr_rig_t *r, const nm_sim_config_t *sc) {
    r->sim = nm_sim_new(sc);
    if (!r->rbuf_size)
        r->rbuf_size = XR_BUF;
    if (!r->t_poll_us)
        r->t_poll_us = 2000;
    xr_board_start(r, NM_SIM_I);
    xr_board_start(r, NM_SIM_R);
    nm_sim_set_reboot(r->sim, NM_SIM_R, xr_reboot, r);
}

static inline int xr_sent(void *u) {
    xr_rig_t *r = u;
    return nm_xfer_send_done(&r->b[r->sender_side].snd);
}

static inline nm_xfer_send_t *xr_snd(xr_rig_t *r) { return &r->b[r->sender_side].snd; }
static inline nm_xfer_recv_t *xr_rcv(xr_rig_t *r) { return &r->b[!r->sender_side].rcv; }

static inline void xr_end(xr_rig_t *r) {
    nm_sim_free(r->sim);
    r->sim = NULL;
}

/* ---- an in-memory stream: two FIFOs and a clock ----------------------- */

typedef struct xr_fifo {
    uint8_t buf[1 << 16];
    size_t len;
} xr_fifo_t;

typedef struct xr_mio {
    xr_fifo_t *in, *out;
    uint32_t *clock_ms;
    size_t write_max; /* bytes one write takes (0: all) */
} xr_mio_t;

static inline int xr_mio_write(void *ctx, const uint8_t *p, size_t n) {
    xr_mio_t *m = ctx;
    if (m->write_max && n > m->write_max)
        n = m->write_max;
    if (n > sizeof m->out->buf - m->out->len)
        n = sizeof m->out->buf - m->out->len;
    memcpy(m->out->buf + m->out->len, p, n);
    m->out->len += n;
    return (int)n;
}

static inline int xr_mio_read(void *ctx, uint8_t *p, size_t n) {
    xr_mio_t *m = ctx;
    if (n > m->in->len)
        n = m->in->len;
    memcpy(p, m->in->buf, n);
    memmove(m->in->buf, m->in->buf + n, m->in->len - n);
    m->in->len -= n;
    return (int)n;
}

static inline uint32_t xr_mio_now(void *ctx) {
    xr_mio_t *m = ctx;
    return *m->clock_ms;
}

static inline nm_xfer_io_t xr_mio(xr_mio_t *m) {
    nm_xfer_io_t io = {m, xr_mio_write, xr_mio_read, xr_mio_now};
    return io;
}

#endif /* NATMOD_TEST_XFER_RIG_H */
