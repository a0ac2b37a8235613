/*
 * Test boards for the simulated link: a channel, its buffers and an
 * application that sends numbered, self-describing messages and checks
 * what it receives (each message once, in order, intact).
 *
 * Message: u16 total length, u32 sequence number, then bytes that are a
 * function of (direction, sequence, index). Lengths 6..max.
 */
#ifndef NATMOD_TEST_LINK_UTIL_H
#define NATMOD_TEST_LINK_UTIL_H

#include <stdint.h>
#include <string.h>

#include "asi2c/sim.h"

#define LB_MAX 1024

typedef struct link_board {
    nm_asi2c_t ch;
    nm_asi2c_config_t cfg;
    uint8_t rxbuf[LB_MAX], txbuf[LB_MAX];
    int side;
    /* sender */
    uint32_t to_send;     /* messages to send */
    uint32_t sent;        /* messages accepted by write() */
    uint32_t max_len;     /* message lengths 6..max_len */
    uint64_t rng;
    uint8_t msg[LB_MAX];
    uint32_t msg_len, msg_off; /* message being written (write may take part) */
    uint32_t last_len;    /* length of the last message fully written */
    /* receiver */
    uint32_t read_chunk;  /* bytes per read call (0: all) */
    uint32_t read_every_us; /* slow reader: read once per period (0: at every step) */
    uint8_t acc[LB_MAX];
    uint32_t acc_len;
    uint32_t received;    /* messages received intact and in order */
    uint32_t bad;         /* messages out of order, duplicated or corrupt */
    uint32_t last_bad_seq;
    /* events */
    uint32_t ev[8];
    uint32_t fail_dropped; /* sum of EV_FAIL args */
    int last_err;
    nm_sim_t *sim;
    uint64_t fail_ns, go_ns; /* simulated time of the last EV_FAIL / the first EV_GO */
} link_board_t;

static inline uint8_t lb_byte(int dir, uint32_t seq, uint32_t i) {
    return (uint8_t)(seq * 31u + i * 7u + (uint32_t)dir * 101u + (i >> 3));
}

static inline uint64_t lb_rand(link_board_t *b) {
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return b->rng;
}

static inline void lb_make(link_board_t *b, uint32_t seq) {
    uint32_t len = 6 + (uint32_t)(lb_rand(b) % (b->max_len - 5));
    b->msg[0] = (uint8_t)len;
    b->msg[1] = (uint8_t)(len >> 8);
    memcpy(b->msg + 2, &seq, 4);
    for (uint32_t i = 6; i < len; i++)
        b->msg[i] = lb_byte(b->side, seq, i);
    b->msg_len = len;
    b->msg_off = 0;
}

/* Check the accumulated stream for whole messages. */
static inline void lb_check(link_board_t *b) {
    while (b->acc_len >= 2) {
        uint32_t len = b->acc[0] | (uint32_t)b->acc[1] << 8;
        if (len < 6 || len > LB_MAX) {
            b->bad++;
            b->acc_len = 0;
            return;
        }
        if (b->acc_len < len)
            return;
        uint32_t seq;
        memcpy(&seq, b->acc + 2, 4);
        int ok = seq == b->received;
        for (uint32_t i = 6; ok && i < len; i++)
            ok = b->acc[i] == lb_byte(!b->side, seq, i);
        if (ok) {
            b->received++;
        } else {
            b->bad++;
            b->last_bad_seq = seq;
        }
        memmove(b->acc, b->acc + len, b->acc_len - len);
        b->acc_len -= len;
    }
}

static inline void lb_event(void *app, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    link_board_t *b = app;
    (void)ch;
    b->ev[ev & 7]++;
    if (ev == NM_ASI2C_EV_FAIL) {
        b->fail_dropped += arg;
        b->fail_ns = b->sim ? nm_sim_now_ns(b->sim) : 0;
    }
    if (ev == NM_ASI2C_EV_GO && b->ev[NM_ASI2C_EV_GO] == 1 && b->sim)
        b->go_ns = nm_sim_now_ns(b->sim);
    if (err)
        b->last_err = err;
}

static inline void lb_read(link_board_t *b) {
    size_t room = LB_MAX - b->acc_len;
    size_t want = b->read_chunk ? b->read_chunk : room;
    if (want > room)
        want = room;
    size_t got = nm_asi2c_read(&b->ch, b->acc + b->acc_len, want);
    b->acc_len += (uint32_t)got;
    if (got)
        lb_check(b);
}

static inline uint32_t lb_app(void *user, nm_sim_t *sim, int side) {
    link_board_t *b = user;
    (void)sim;
    (void)side;
    if (!nm_asi2c_ready(&b->ch))
        return NM_ASI2C_NO_DEADLINE;
    while (b->sent < b->to_send) {
        if (b->msg_len == 0)
            lb_make(b, b->sent);
        int n = nm_asi2c_write(&b->ch, b->msg + b->msg_off, b->msg_len - b->msg_off);
        if (n <= 0)
            break;
        b->msg_off += (uint32_t)n;
        if (b->msg_off == b->msg_len) {
            b->last_len = b->msg_len;
            b->sent++;
            b->msg_len = 0;
        }
    }
    lb_read(b);
    return b->read_every_us ? b->read_every_us : NM_ASI2C_NO_DEADLINE;
}

/* A board on side `side` of sim with rx/tx slot sizes. */
static inline int lb_init(link_board_t *b, nm_sim_t *sim, int side, uint32_t rxsize, uint32_t txsize,
                          int with_reset) {
    uint32_t keep_send = b->to_send, keep_max = b->max_len, keep_chunk = b->read_chunk,
             keep_every = b->read_every_us;
    uint64_t keep_rng = b->rng;
    nm_asi2c_config_t cfg = b->cfg;
    memset(b, 0, sizeof *b);
    b->to_send = keep_send;
    b->max_len = keep_max ? keep_max : 200;
    b->read_chunk = keep_chunk;
    b->read_every_us = keep_every;
    b->rng = keep_rng ? keep_rng : 0x9E3779B97F4A7C15ull + (uint64_t)side;
    b->side = side;
    b->sim = sim;
    cfg.role = side == NM_SIM_I ? NM_ASI2C_INITIATOR : NM_ASI2C_RESPONDER;
    cfg.hal = nm_sim_hal(sim, side, with_reset);
    cfg.rxbuf = b->rxbuf;
    cfg.rxbufsize = rxsize;
    cfg.txbuf = b->txbuf;
    cfg.txbufsize = txsize;
    cfg.event_cb = lb_event;
    cfg.app = b;
    b->cfg = cfg;
    int rc = nm_asi2c_init(&b->ch, &cfg);
    nm_sim_attach(sim, side, &b->ch);
    nm_sim_set_app(sim, side, lb_app, b);
    return rc;
}

#endif
