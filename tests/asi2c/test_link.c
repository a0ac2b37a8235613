/*
 * The asi2c core on the simulated bus: message integrity under load and
 * hold-off, Responder crashes at every step of an exchange, and bad input
 * from the bus (oversize payloads, corrupted headers, silent peers).
 */
#include <stdlib.h>

#include "../test.h"
#include "link_util.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The reference's timing (issue 20), modelled on the simulated bus; the
 * natmod core under test plays one role against a peer with:
 *  - REF_INITIATOR: the reference Initiator raises sync and only then arms
 *    its slave (40 us later): an address NACK for the natmod Responder;
 *  - REF_RESPONDER: the reference Responder drops ack for only 35 us before
 *    T2 (no guard), and the natmod Initiator's port steps 60 us after an
 *    edge, so the low pulse begins and ends between two of its steps.
 * Both have the reference's 200-byte receive buffer (the boards' rxbufsize). */
enum { NATIVE = 0, REF_INITIATOR = 1, REF_RESPONDER = 2 };
static int model;
static const char *const model_name[] = {"natmod", "reference-timing Initiator", "reference-timing Responder"};

static void model_sim(nm_sim_config_t *sc) {
    if (model == REF_INITIATOR)
        sc->arm_delay_ns = 40000;
    if (model == REF_RESPONDER)
        sc->step_lag_ns[NM_SIM_I] = 60000;
}

/* Before lb_init of the Responder board (lb_init keeps b->cfg). */
static void model_responder(link_board_t *r) {
    if (model == REF_RESPONDER)
        r->cfg.guard_us = 35;
}

typedef struct pair {
    nm_sim_t *sim;
    link_board_t i, r;
    int renumber;
} pair_t;

static void pair_event(void *app, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg);

static void reboot_r(void *user, nm_sim_t *sim, int side) {
    pair_t *p = user;
    uint32_t keep = p->r.to_send;
    lb_init(&p->r, sim, side, (uint32_t)p->r.cfg.rxbufsize, (uint32_t)p->r.cfg.txbufsize, 0);
    p->r.to_send = keep;
}

/* The applications renumber in the Initiator's go callback after a
 * failure: the Responder expects the Initiator's next message (the one in
 * flight may be lost), and a rebooted Responder's sender starts at 0. */
static void pair_event(void *app, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    pair_t *p = app;
    lb_event(&p->i, ch, ev, err, arg);
    if (ev == NM_ASI2C_EV_GO && p->i.ev[NM_ASI2C_EV_FAIL] && p->renumber) {
        p->r.received = p->i.sent;
        if (p->i.cfg.hal.set_reset)
            p->i.received = 0;
    }
}

static void pair_new(pair_t *p, const nm_sim_config_t *sc0, uint32_t t_poll, int with_reset) {
    memset(p, 0, sizeof *p);
    nm_sim_config_t sc = *sc0;
    model_sim(&sc);
    p->sim = nm_sim_new(&sc);
    p->i.cfg.t_poll_us = t_poll;
    p->r.cfg.t_poll_us = t_poll;
    model_responder(&p->r);
    CHECK_EQ(lb_init(&p->i, p->sim, NM_SIM_I, 200, 200, with_reset), 0);
    CHECK_EQ(lb_init(&p->r, p->sim, NM_SIM_R, 200, 200, 0), 0);
    nm_sim_set_reboot(p->sim, NM_SIM_R, reboot_r, p);
}

static int both_done(void *u) {
    pair_t *p = u;
    return p->i.received >= p->r.to_send && p->r.received >= p->i.to_send;
}

static int both_ready(void *u) {
    pair_t *p = u;
    return nm_asi2c_ready(&p->i.ch) && nm_asi2c_ready(&p->r.ch);
}

/* >= 10,000 messages each way, random lengths, concurrently; the
 * Responder's reader is slow (7 bytes every 300 us) so the Initiator is held
 * off most of the time. Every message arrives once, in order, intact. */
static void ten_thousand_messages(void) {
    nm_sim_config_t sc = {.scl_hz = 400000, .latency_ns = 3000, .jitter_ns = 4000, .seed = 7};
    if (getenv("SIM_TRACE"))
        sc.trace = stderr;
    model_sim(&sc);
    pair_t p;
    memset(&p, 0, sizeof p);
    model_responder(&p.r);
    p.i.to_send = p.r.to_send = 10000;
    p.r.read_chunk = 7;
    p.r.read_every_us = 300;
    p.i.max_len = p.r.max_len = 200;
    nm_sim_t *sim = nm_sim_new(&sc);
    p.sim = sim;
    p.i.cfg.t_poll_us = 1000;
    CHECK_EQ(lb_init(&p.i, sim, NM_SIM_I, 200, 200, 1), 0);
    CHECK_EQ(lb_init(&p.r, sim, NM_SIM_R, 200, 200, 0), 0);
    int rc = nm_sim_run(sim, 3600 * SEC, both_done, &p);
    CHECK_EQ(rc, 0);
    CHECK_EQ(p.i.received, 10000);
    CHECK_EQ(p.r.received, 10000);
    CHECK_EQ(p.i.bad, 0);
    CHECK_EQ(p.r.bad, 0);
    CHECK_EQ(p.i.ch.stats.nboots, 0);
    CHECK_EQ(p.i.ch.stats.holdoff_violations + p.r.ch.stats.holdoff_violations, 0);
    /* The slow reader really held the Initiator off: more exchanges than payloads. */
    CHECK(p.i.ch.stats.block_cnt > p.i.ch.stats.tx_payloads);
    CHECK_EQ(p.i.ch.stats.tx_payloads, p.r.ch.stats.rx_payloads);
    CHECK_EQ(p.r.ch.stats.tx_payloads, p.i.ch.stats.rx_payloads);
    CHECK_EQ(p.r.ch.stats.aborts, 0);
    /* The model bit: every transfer was NACKed once and retried, or every
     * short ack pulse before T2 was caught by the latch only. */
    if (model == REF_INITIATOR)
        CHECK(p.r.ch.stats.nack_retries >= p.i.ch.stats.block_cnt * 2);
    else
        CHECK_EQ(p.r.ch.stats.nack_retries, 0);
    if (model == REF_RESPONDER)
        CHECK(p.i.ch.stats.latched_falls >= p.i.ch.stats.block_cnt);
    printf("  %s: nack retries %u, latched falls %u\n", model_name[model], p.r.ch.stats.nack_retries,
           p.i.ch.stats.latched_falls);
    printf("  10k each way: %u exchanges, %u I->R payloads, %u R->I payloads, %.1f s simulated, "
           "block max %u us mean %.0f us\n",
           p.i.ch.stats.block_cnt, p.i.ch.stats.tx_payloads, p.r.ch.stats.tx_payloads,
           (double)nm_sim_now_ns(sim) / 1e9, p.i.ch.stats.block_max_us,
           (double)p.i.ch.stats.block_sum_us / (p.i.ch.stats.block_cnt ? p.i.ch.stats.block_cnt : 1));
    nm_sim_free(sim);
}


static int i_go_twice(void *u) {
    pair_t *p = u;
    return p->i.ev[NM_ASI2C_EV_GO] >= 2;
}

/* Where one exchange's Responder actions are, for a crash sweep. */
typedef struct shape {
    int i_msg, r_msg;   /* which sides have a message in their slot */
    uint64_t e0, x0;    /* Responder actions / bus transfers before the exchange */
    uint64_t n_actions, n_xfers;
    uint64_t retries;   /* NACKed attempts per transfer (model) */
} shape_t;

static void pair_with_messages(pair_t *p, const shape_t *sh) {
    /* model applies in pair_new */
    nm_sim_config_t sc = {.scl_hz = 100000, .latency_ns = 2000, .jitter_ns = 1000, .seed = 11};
    pair_new(p, &sc, 10000, 1);
    p->i.to_send = (uint32_t)sh->i_msg;
    p->r.to_send = (uint32_t)sh->r_msg;
}

/* Run a fault-free exchange to learn where it starts and how long it is. */
static void measure(shape_t *sh) {
    pair_t p;
    pair_with_messages(&p, sh);
    CHECK_EQ(nm_sim_run(p.sim, 10 * SEC, both_ready, &p), 0);
    /* The Initiator's go: the first exchange starts t_poll later. */
    nm_sim_stats_t st;
    nm_sim_stats(p.sim, &st);
    sh->e0 = st.actions[NM_SIM_R];
    sh->x0 = st.transfers;
    uint32_t cnt = p.i.ch.stats.block_cnt;
    uint64_t limit = nm_sim_now_ns(p.sim) + 10 * SEC;
    while (p.i.ch.stats.block_cnt == cnt && nm_sim_now_ns(p.sim) < limit)
        nm_sim_run_until(p.sim, nm_sim_next_event(p.sim));
    CHECK(p.i.ch.stats.block_cnt != cnt);
    nm_sim_stats(p.sim, &st);
    sh->n_actions = st.actions[NM_SIM_R] - sh->e0;
    sh->n_xfers = st.transfers - sh->x0;
    /* Each protocol transfer is 1 + retries bus transfers (the reference
     * Initiator's late arming NACKs the first) and 3 + retries actions. */
    uint64_t ntr = 2u + (uint64_t)sh->i_msg + (uint64_t)sh->r_msg;
    CHECK_EQ(sh->n_xfers % ntr, 0);
    CHECK_EQ(sh->n_actions % ntr, 0);
    sh->retries = sh->n_xfers / ntr - 1;
    CHECK_EQ(sh->n_actions / ntr, 3 + sh->retries);
    CHECK_EQ(sh->retries, model == REF_INITIATOR ? 1u : 0u);
    CHECK_EQ(p.r.received, (uint32_t)sh->i_msg);
    CHECK_EQ(p.i.received, (uint32_t)sh->r_msg);
    pair_t *pp = &p;
    nm_sim_free(pp->sim);
}

/* After a crash: the Initiator detected it once, within the limits, and
 * reset and resynchronised the Responder. */
static void run_to_second_go(pair_t *p, const char *what, uint64_t k) {
    int rc = nm_sim_run(p->sim, nm_sim_now_ns(p->sim) + 20 * SEC, i_go_twice, p);
    if (rc != 0)
        fprintf(stderr, "  %s %llu: no second go (state %s)\n", what, (unsigned long long)k,
                nm_asi2c_state_name(&p->i.ch));
    CHECK_EQ(rc, 0);
    CHECK_EQ(p->i.ev[NM_ASI2C_EV_FAIL], 1);
    CHECK_EQ(p->i.ch.stats.nboots, 1);
    /* Detected within the transfer limit (5 s) plus one handshake wait. */
    CHECK(p->i.fail_ns - p->i.go_ns < 5 * SEC + 1 * SEC + 100 * MS);
}

/* ... and the link carries messages again both ways. The applications
 * renumber in their go callbacks: the rebooted Responder starts again at 0
 * and expects the Initiator's next. */
static void check_carries_on(pair_t *p) {
    p->i.received = 0;
    p->r.received = p->i.sent;
    p->i.to_send = p->i.sent + 5;
    p->r.to_send = 5;
    CHECK_EQ(nm_sim_run(p->sim, nm_sim_now_ns(p->sim) + 20 * SEC, both_done, p), 0);
    CHECK_EQ(p->i.bad + p->r.bad, 0);
    CHECK_EQ(p->i.ch.stats.nboots, 1);
}

/* A Responder crash before each of its actions in one exchange, for each
 * combination of payloads, and half-way through each transfer. What is
 * lost is exactly what docs/asi2c.md says:
 *  - the Initiator's payload crossed the bus iff the Responder's T1 read
 *    was started (it then sits in the crashed Responder's RAM, lost with
 *    it); otherwise the Initiator drops it from its slot and reports its
 *    length in EV_FAIL;
 *  - the Responder's payload reached the Initiator iff its T3 write was
 *    started and finished; nothing arrives half or twice. */
static void responder_crash_at_every_step_is_detected_reset_and_resynced(void) {
    int cases = 0;
    for (int shape = 0; shape < 4; shape++) {
        shape_t sh = {.i_msg = shape & 1, .r_msg = (shape >> 1) & 1};
        measure(&sh);
        /* A transfer's Responder actions: T0, T1: [NACKed starts] start,
         * ack=1, ack=0; T2, T3: ack=1, [NACKed starts] start, ack=0. */
        uint64_t apt = 3 + sh.retries, ntr = 2u + (uint64_t)sh.i_msg + (uint64_t)sh.r_msg;
        uint64_t t1_start = sh.i_msg ? apt + sh.retries + 1 : 0;                 /* R action starting T1 */
        uint64_t t3_start = sh.r_msg ? (ntr - 1) * apt + 1 + sh.retries + 1 : 0; /* ... starting T3 */
        for (uint64_t k = 1; k <= sh.n_actions + 1; k++) {
            pair_t p;
            pair_with_messages(&p, &sh);
            nm_sim_fault_t f = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_action = sh.e0 + k};
            nm_sim_add_fault(p.sim, &f);
            run_to_second_go(&p, "crash before responder action", k);
            int i_dropped = sh.i_msg && k <= t1_start;
            int r_delivered = sh.r_msg && k > t3_start;
            CHECK_EQ(p.i.ch.stats.tx_dropped, i_dropped);
            CHECK_EQ(p.i.fail_dropped, i_dropped ? p.i.last_len : 0);
            CHECK_EQ(p.i.ch.stats.tx_payloads, sh.i_msg && !i_dropped);
            CHECK_EQ(p.i.received, r_delivered);
            CHECK_EQ(p.i.ch.stats.rx_payloads, r_delivered);
            CHECK_EQ(p.i.bad, 0);
            check_carries_on(&p);
            cases++;
            nm_sim_free(p.sim);
        }
        for (uint64_t j = 1; j <= sh.n_xfers; j++) {
            pair_t p;
            pair_with_messages(&p, &sh);
            nm_sim_fault_t f = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_xfer = sh.x0 + j};
            nm_sim_add_fault(p.sim, &f);
            run_to_second_go(&p, "crash inside transfer", j);
            /* A transfer cut half-way delivers nothing and releases nothing. */
            int i_dropped = sh.i_msg && j <= 2 * (1 + sh.retries);
            CHECK_EQ(p.i.ch.stats.tx_dropped, i_dropped);
            CHECK_EQ(p.i.ch.stats.tx_payloads, sh.i_msg && !i_dropped);
            CHECK_EQ(p.i.received, 0);
            CHECK_EQ(p.i.ch.stats.rx_payloads, 0);
            check_carries_on(&p);
            cases++;
            nm_sim_free(p.sim);
        }
    }
    printf("  %d crash points\n", cases);
}


static int i_received_n(void *u) {
    pair_t *p = u;
    return p->i.received >= p->r.to_send;
}

/* A payload larger than the receiver's rxbufsize is reported (EV_ERROR,
 * NM_ERR_PROTO, stats.oversize), discarded whole, and the link goes on:
 * the sender's slot is released and later messages arrive intact. */
static void oversize_payload_is_reported_and_discarded_both_ways(void) {
    for (int dir = 0; dir < 2; dir++) {
        nm_sim_config_t sc = {.seed = 3};
        pair_t p;
        memset(&p, 0, sizeof p);
        p.sim = nm_sim_new(&sc);
        p.i.cfg.t_poll_us = 1000;
        link_board_t *big = dir ? &p.r : &p.i, *small = dir ? &p.i : &p.r;
        /* The sender is told the peer takes 600 bytes (it takes 200). */
        big->cfg.peer_rxbufsize = 600;
        CHECK_EQ(lb_init(&p.i, p.sim, NM_SIM_I, dir ? 200 : 600, dir ? 200 : 300, 1), 0);
        CHECK_EQ(lb_init(&p.r, p.sim, NM_SIM_R, dir ? 600 : 200, dir ? 300 : 200, 0), 0);
        CHECK_EQ(nm_sim_run(p.sim, 10 * SEC, both_ready, &p), 0);
        uint8_t blob[300];
        memset(blob, 0xA5, sizeof blob);
        CHECK_EQ(nm_asi2c_write(&big->ch, blob, sizeof blob), 300);
        nm_sim_run_until(p.sim, nm_sim_now_ns(p.sim) + 100 * MS);
        CHECK_EQ(small->ch.stats.oversize, 1);
        CHECK_EQ(small->ev[NM_ASI2C_EV_ERROR], 1);
        CHECK_EQ(small->last_err, NM_ERR_PROTO);
        CHECK_STR_CONTAINS(small->ch.detail.msg, "larger than rxbufsize");
        CHECK_STR_CONTAINS(small->ch.detail.msg, "300");
        CHECK_EQ(nm_asi2c_readable(&small->ch), 0);
        CHECK_EQ(big->ev[NM_ASI2C_EV_TX_DONE], 1);
        CHECK(nm_asi2c_writable(&big->ch));
        CHECK_EQ(p.i.ch.stats.nboots, 0);
        /* Messages of normal size still arrive. */
        big->max_len = 200;
        big->to_send = 20;
        small->to_send = 0;
        CHECK_EQ(nm_sim_run(p.sim, nm_sim_now_ns(p.sim) + 10 * SEC, dir ? i_received_n : both_done, &p), 0);
        CHECK_EQ(small->received, 20);
        CHECK_EQ(small->bad, 0);
        nm_sim_free(p.sim);
    }
}

/* A corrupted length in the Responder's header (T2) makes the Initiator
 * arm a different byte count than the Responder writes; the byte counts
 * differ, the Initiator treats it as a Responder failure (reset, resync)
 * and delivers nothing from that transfer. */
static void corrupted_header_length_is_detected_and_recovered(void) {
    for (int flip = 0; flip < 2; flip++) {
        shape_t sh = {.i_msg = 0, .r_msg = 1};
        measure(&sh);
        pair_t p;
        pair_with_messages(&p, &sh);
        /* Transfer 2 of the exchange is the Responder's header. */
        nm_sim_fault_t f = {.kind = NM_SIM_CORRUPT, .at_xfer = sh.x0 + 2, .arg = 0,
                            .mask = (uint8_t)(flip ? 0x01 : 0x40)};
        nm_sim_add_fault(p.sim, &f);
        run_to_second_go(&p, "corrupt header", (uint64_t)flip);
        CHECK_EQ(p.i.last_err, NM_ERR_PROTO);
        CHECK_EQ(p.i.ch.stats.short_xfers, 1);
        CHECK_EQ(p.i.received, 0);
        CHECK_EQ(p.i.ch.stats.rx_payloads, 0);
        check_carries_on(&p);
        nm_sim_free(p.sim);
    }
}

/* A corrupted hold-off bit: the Responder holds off (its reader is slow)
 * but the Initiator reads "free" and sends. The Responder discards the
 * payload and reports it (holdoff_violations); nothing is overwritten. */
static void ignored_holdoff_is_reported_and_nothing_is_overwritten(void) {
    nm_sim_config_t sc = {.seed = 5};
    if (getenv("HOLD_TRACE"))
        sc.trace = stderr;
    pair_t p;
    pair_new(&p, &sc, 1000, 0);
    nm_sim_set_app(p.sim, NM_SIM_R, NULL, NULL); /* the Responder's app never reads */
    CHECK_EQ(nm_sim_run(p.sim, 10 * SEC, both_ready, &p), 0);
    uint8_t a[10] = "first", b[10] = "second";
    CHECK_EQ(nm_asi2c_write(&p.i.ch, a, 10), 10);
    nm_sim_run_until(p.sim, nm_sim_now_ns(p.sim) + 50 * MS);
    CHECK_EQ(nm_asi2c_readable(&p.r.ch), 10);
    CHECK_EQ(nm_asi2c_write(&p.i.ch, b, 10), 10);
    /* The next exchange's Responder header has the hold-off bit set: clear
     * it on the wire. The exchange after that carries the payload. */
    nm_sim_stats_t st;
    nm_sim_stats(p.sim, &st);
    nm_sim_fault_t f = {.kind = NM_SIM_CORRUPT, .at_xfer = st.transfers + 2, .arg = 1, .mask = 0x80};
    nm_sim_add_fault(p.sim, &f);
    nm_sim_run_until(p.sim, nm_sim_now_ns(p.sim) + 50 * MS);
    CHECK_EQ(p.r.ch.stats.holdoff_violations, 1);
    CHECK_EQ(p.r.last_err, NM_ERR_PROTO);
    uint8_t got[20];
    CHECK_EQ(nm_asi2c_read(&p.r.ch, got, sizeof got), 10);
    CHECK(memcmp(got, "first", 6) == 0);
    CHECK_EQ(p.i.ch.stats.nboots, 0);
    nm_sim_free(p.sim);
}

/* A peer that never answers the start-up sync: each side reports it every
 * sync_warn_us, never claims to be ready, and never spins (the sim's event
 * count stays small). */
static void silent_peer_at_startup_is_reported_without_hanging(void) {
    for (int role = 0; role < 2; role++) {
        nm_sim_config_t sc = {.seed = 9};
        nm_sim_t *sim = nm_sim_new(&sc);
        link_board_t b;
        memset(&b, 0, sizeof b);
        b.cfg.sync_warn_us = 5000000;
        CHECK_EQ(lb_init(&b, sim, role ? NM_SIM_R : NM_SIM_I, 200, 200, 1), 0);
        /* The other side is never attached: its wire stays high (pull-up). */
        nm_sim_run_until(sim, 21 * SEC);
        CHECK_EQ(b.ev[NM_ASI2C_EV_ERROR], 4);
        CHECK_EQ(b.last_err, NM_ERR_TIMEOUT);
        CHECK_STR_CONTAINS(b.ch.detail.msg, "did not answer the start-up sync");
        CHECK(!nm_asi2c_ready(&b.ch));
        CHECK_EQ(nm_asi2c_write(&b.ch, "x", 1), 0);
        nm_sim_stats_t st;
        nm_sim_stats(sim, &st);
        CHECK(st.actions[role] < 300); /* polled every 100 ms, no busy loop */
        nm_sim_free(sim);
    }
}

/* Bus faults: a NACKed transfer, a clock stretch within and beyond the
 * 5 s transfer limit, a Responder that hangs for 2 s with no reset wire,
 * and a glitch on each handshake wire. Each is either absorbed or ends in
 * failures and a resync; the link carries on with nothing delivered twice,
 * out of order or corrupt. */
static void bus_faults_end_in_recovery(void) {
    shape_t sh = {.i_msg = 1, .r_msg = 1};
    measure(&sh);
    enum { ABSORBED, ONE_FAILURE, FAILURES, EITHER };
    struct {
        nm_sim_fault_t f;
        int with_reset, expect;
    } cases[] = {
        /* One NACK is retried (nack_retry_us); NACKs for 2 ms are a failure. */
        {{.kind = NM_SIM_NACK, .at_xfer = 2}, 1, ABSORBED},
        {{.kind = NM_SIM_NACK, .at_xfer = 2, .arg = 2000000}, 1, ONE_FAILURE},
        {{.kind = NM_SIM_STRETCH, .at_xfer = 2, .arg = 2000000}, 1, ABSORBED},
        {{.kind = NM_SIM_STRETCH, .at_xfer = 2, .arg = 6000000000ull}, 1, ONE_FAILURE},
        /* No reset wire: the hung Responder resumes mid-exchange after the
         * Initiator resynchronised, which can cost a second failure. */
        {{.kind = NM_SIM_HANG, .side = NM_SIM_R, .at_action = 5, .arg = 2000000000u}, 0, FAILURES},
        /* A hang shorter than the Initiator's limits is only a delay. */
        {{.kind = NM_SIM_HANG, .side = NM_SIM_R, .at_action = 5, .arg = 300000000u}, 0, ABSORBED},
        {{.kind = NM_SIM_GLITCH, .side = NM_SIM_R, .at_action = 5, .arg = 30000}, 1, ONE_FAILURE},
        /* A sync glitch while idle: the Responder's read is NACKed, it
         * recovers by itself and the Initiator never notices. */
        {{.kind = NM_SIM_GLITCH, .side = NM_SIM_I, .at_ns = 1005 * MS, .arg = 30000}, 1, EITHER},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int failures_before = test_failures;
        nm_sim_config_t sc = {.scl_hz = 100000, .latency_ns = 2000, .jitter_ns = 1000, .seed = 11};
        if (getenv("SIM_TRACE") && (size_t)atoi(getenv("SIM_TRACE")) == c)
            sc.trace = stderr;
        pair_t p;
        pair_new(&p, &sc, 10000, cases[c].with_reset);
        p.renumber = 1;
        p.i.ch.cfg.event_cb = pair_event;
        p.i.ch.cfg.app = &p;
        p.i.to_send = 1;
        p.r.to_send = 1;
        nm_sim_fault_t f = cases[c].f;
        if (f.at_xfer)
            f.at_xfer += sh.x0;
        if (f.at_action)
            f.at_action += sh.e0;
        nm_sim_add_fault(p.sim, &f);
        nm_sim_run_until(p.sim, 15 * SEC);
        uint32_t nb = p.i.ch.stats.nboots;
        switch (cases[c].expect) {
        case ABSORBED: CHECK_EQ(nb, 0); break;
        case ONE_FAILURE: CHECK_EQ(nb, 1); break;
        case FAILURES: CHECK(nb >= 1); break;
        default: break;
        }
        /* Five more messages each way. */
        p.i.to_send = p.i.sent + 5;
        p.r.to_send = p.r.sent + 5;
        CHECK_EQ(nm_sim_run(p.sim, nm_sim_now_ns(p.sim) + 20 * SEC, both_done, &p), 0);
        CHECK_EQ(p.i.bad + p.r.bad, 0);
        CHECK_EQ(p.i.ch.stats.nboots, nb);
        if (cases[c].f.kind == NM_SIM_NACK && cases[c].expect == ABSORBED) {
            CHECK_EQ(p.r.ch.stats.nack_retries, 1);
            CHECK_EQ(p.r.ch.stats.aborts, 0);
        }
        if (test_failures != failures_before)
            fprintf(stderr, "  bus fault case %zu: nboots %u\n", c, nb);
        nm_sim_free(p.sim);
    }
}

/* Back-to-back exchanges (t_poll 0): the Initiator still keeps sync low
 * for the guard time, so the Responder sees every exchange end; no
 * failure, no abort (this stalled before the guard existed). */
static void back_to_back_exchanges_do_not_stall(void) {
    for (uint32_t latency = 1000; latency <= 20000; latency *= 4) {
        nm_sim_config_t sc = {.scl_hz = 400000, .latency_ns = latency, .jitter_ns = latency / 2, .seed = 21};
        pair_t p;
        memset(&p, 0, sizeof p);
        p.sim = nm_sim_new(&sc);
        p.i.to_send = p.r.to_send = 1000;
        p.i.cfg.t_poll_us = NM_ASI2C_BACK_TO_BACK;
        CHECK_EQ(lb_init(&p.i, p.sim, NM_SIM_I, 200, 200, 1), 0);
        CHECK_EQ(lb_init(&p.r, p.sim, NM_SIM_R, 200, 200, 0), 0);
        CHECK_EQ(nm_sim_run(p.sim, 60 * SEC, both_done, &p), 0);
        CHECK_EQ(p.i.bad + p.r.bad, 0);
        CHECK_EQ(p.i.ch.stats.nboots, 0);
        CHECK_EQ(p.r.ch.stats.aborts, 0);
        nm_sim_free(p.sim);
    }
}

/* Bad configurations are refused with a detail naming the field. */
static void bad_config_is_refused_naming_the_field(void) {
    nm_sim_t *sim = nm_sim_new(NULL);
    uint8_t buf[16];
    nm_asi2c_t ch;
    nm_asi2c_config_t c;
    memset(&c, 0, sizeof c);
    c.hal = nm_sim_hal(sim, NM_SIM_I, 0);
    c.rxbuf = c.txbuf = buf;
    c.rxbufsize = c.txbufsize = sizeof buf;
    CHECK_EQ(nm_asi2c_init(&ch, &c), 0);
    c.rxbufsize = 0x8000;
    CHECK_EQ(nm_asi2c_init(&ch, &c), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(ch.detail.msg, "rxbufsize");
    c.rxbufsize = 16;
    c.addr = 0x80;
    CHECK_EQ(nm_asi2c_init(&ch, &c), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(ch.detail.msg, "addr");
    c.addr = 0;
    c.role = NM_ASI2C_RESPONDER; /* an Initiator's HAL: no master ops */
    CHECK_EQ(nm_asi2c_init(&ch, &c), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(ch.detail.msg, "master_read");
    CHECK_EQ(nm_asi2c_init(&ch, NULL), NM_ERR_INVAL);
    nm_sim_free(sim);
}

/* Each new test of issue 20 against the reference's timing, in both roles. */
static void ten_thousand_messages_each_way_with_a_slow_reader(void) {
    model = NATIVE;
    ten_thousand_messages();
}
static void ten_thousand_messages_each_way_against_a_late_arming_reference_initiator(void) {
    model = REF_INITIATOR;
    ten_thousand_messages();
    model = NATIVE;
}
static void ten_thousand_messages_each_way_against_short_ack_pulses_of_a_reference_responder(void) {
    model = REF_RESPONDER;
    ten_thousand_messages();
    model = NATIVE;
}
static void responder_crash_at_every_step_against_a_late_arming_reference_initiator(void) {
    model = REF_INITIATOR;
    responder_crash_at_every_step_is_detected_reset_and_resynced();
    model = NATIVE;
}
static void responder_crash_at_every_step_with_short_ack_pulses_before_t2(void) {
    model = REF_RESPONDER;
    responder_crash_at_every_step_is_detected_reset_and_resynced();
    model = NATIVE;
}

/* The model bites: with the retry turned off (NM_ASI2C_NO_RETRY) the late
 * arming aborts every exchange and the Initiator fails; without the edge
 * latch (levels only) the Initiator misses the short ack pulse and fails.
 * This is how the core behaved before issue 20. */
static int i_failed(void *u) {
    pair_t *p = u;
    return p->i.ch.stats.nboots > 0;
}
static void without_retry_or_latch_the_reference_timing_breaks_the_link(void) {
    for (int m = REF_INITIATOR; m <= REF_RESPONDER; m++) {
        model = m;
        nm_sim_config_t sc = {.scl_hz = 400000, .latency_ns = 3000, .jitter_ns = 4000, .seed = 7};
        sc.no_latch = m == REF_RESPONDER;
        pair_t q;
        memset(&q, 0, sizeof q);
        q.r.cfg.nack_retry_us = m == REF_INITIATOR ? NM_ASI2C_NO_RETRY : 0;
        model_sim(&sc);
        q.sim = nm_sim_new(&sc);
        q.i.cfg.t_poll_us = 1000;
        model_responder(&q.r);
        q.i.to_send = q.r.to_send = 10;
        CHECK_EQ(lb_init(&q.i, q.sim, NM_SIM_I, 200, 200, 1), 0);
        CHECK_EQ(lb_init(&q.r, q.sim, NM_SIM_R, 200, 200, 0), 0);
        CHECK_EQ(nm_sim_run(q.sim, 10 * SEC, i_failed, &q), 0);
        if (m == REF_INITIATOR) {
            CHECK(q.r.ch.stats.aborts >= 1);
            CHECK_EQ(q.r.ch.stats.nack_retries, 0);
        } else {
            CHECK_EQ(q.i.ch.stats.latched_falls, 0);
            CHECK_EQ(q.i.last_err, NM_ERR_TIMEOUT);
        }
        nm_sim_free(q.sim);
    }
    model = NATIVE;
}

/* The peer's rxbufsize (default 200, the reference's): a write of a larger
 * payload is refused with NM_ERR_INVAL and a detail, nothing is sent, and
 * the slot stays free; a payload of exactly that size goes. */
static void write_larger_than_the_peers_rxbufsize_is_refused(void) {
    for (int side = 0; side < 2; side++) {
        nm_sim_config_t sc = {.seed = 4};
        pair_t p;
        memset(&p, 0, sizeof p);
        p.sim = nm_sim_new(&sc);
        p.i.cfg.t_poll_us = 1000;
        CHECK_EQ(lb_init(&p.i, p.sim, NM_SIM_I, 300, 300, 1), 0);
        CHECK_EQ(lb_init(&p.r, p.sim, NM_SIM_R, 300, 300, 0), 0);
        CHECK_EQ(p.i.ch.cfg.peer_rxbufsize, NM_ASI2C_RXBUF_DEFAULT);
        CHECK_EQ(nm_sim_run(p.sim, 10 * SEC, both_ready, &p), 0);
        link_board_t *w = side ? &p.r : &p.i, *o = side ? &p.i : &p.r;
        uint8_t blob[300];
        memset(blob, 0x5A, sizeof blob);
        CHECK_EQ(nm_asi2c_write(&w->ch, blob, 201), NM_ERR_INVAL);
        CHECK_STR_CONTAINS(w->ch.detail.msg, "201");
        CHECK_STR_CONTAINS(w->ch.detail.msg, "rxbufsize 200");
        CHECK_EQ(nm_asi2c_write(&w->ch, blob, 300), NM_ERR_INVAL);
        CHECK(nm_asi2c_writable(&w->ch));
        CHECK_EQ(nm_asi2c_write(&w->ch, blob, 200), 200);
        nm_sim_run_until(p.sim, nm_sim_now_ns(p.sim) + 100 * MS);
        CHECK_EQ(o->ch.stats.rx_payloads, 1);
        CHECK_EQ(o->ch.stats.rx_bytes, 200);
        CHECK_EQ(o->ch.stats.oversize, 0);
        CHECK_EQ(p.i.ch.stats.nboots, 0);
        nm_sim_free(p.sim);
    }
    /* Out of range in the config. */
    nm_sim_t *sim = nm_sim_new(NULL);
    uint8_t buf[16];
    nm_asi2c_t ch;
    nm_asi2c_config_t c;
    memset(&c, 0, sizeof c);
    c.hal = nm_sim_hal(sim, NM_SIM_I, 0);
    c.rxbuf = c.txbuf = buf;
    c.rxbufsize = c.txbufsize = sizeof buf;
    c.peer_rxbufsize = 0x8000;
    CHECK_EQ(nm_asi2c_init(&ch, &c), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(ch.detail.msg, "peer_rxbufsize");
    nm_sim_free(sim);
}

/* A Responder that starts long after the clock's zero (as on Linux, where
 * now_us is the monotonic clock) and looks at sync once before the
 * Initiator answers reports no start-up sync error: the warning period
 * starts at init. */
static void responder_start_up_reports_no_spurious_sync_warning(void) {
    nm_sim_config_t sc = {.seed = 12};
    pair_t p;
    memset(&p, 0, sizeof p);
    p.sim = nm_sim_new(&sc);
    nm_sim_run_until(p.sim, 25 * SEC); /* the clock is well past sync_warn_us */
    CHECK_EQ(lb_init(&p.r, p.sim, NM_SIM_R, 200, 200, 0), 0);
    nm_sim_run_until(p.sim, nm_sim_now_ns(p.sim) + 1 * MS); /* sync still high: nobody drives it */
    CHECK(!nm_asi2c_ready(&p.r.ch));
    p.i.cfg.t_poll_us = 1000;
    CHECK_EQ(lb_init(&p.i, p.sim, NM_SIM_I, 200, 200, 0), 0);
    CHECK_EQ(nm_sim_run(p.sim, 40 * SEC, both_ready, &p), 0);
    nm_sim_run_until(p.sim, nm_sim_now_ns(p.sim) + 100 * MS);
    CHECK_EQ(p.r.ev[NM_ASI2C_EV_ERROR], 0);
    CHECK_EQ(p.i.ev[NM_ASI2C_EV_ERROR], 0);
    if (p.r.ev[NM_ASI2C_EV_ERROR])
        fprintf(stderr, "  spurious: %s\n", p.r.ch.detail.msg);
    nm_sim_free(p.sim);
}

/* ONLY=substring runs the tests whose names contain it. */
#define RUN_SOME(t)                                                            \
    do {                                                                       \
        const char *only_ = getenv("ONLY");                                    \
        if (!only_ || strstr(#t, only_))                                       \
            RUN(t);                                                                 \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN_SOME(ten_thousand_messages_each_way_with_a_slow_reader);
    RUN_SOME(ten_thousand_messages_each_way_against_a_late_arming_reference_initiator);
    RUN_SOME(ten_thousand_messages_each_way_against_short_ack_pulses_of_a_reference_responder);
    RUN_SOME(responder_crash_at_every_step_is_detected_reset_and_resynced);
    RUN_SOME(responder_crash_at_every_step_against_a_late_arming_reference_initiator);
    RUN_SOME(responder_crash_at_every_step_with_short_ack_pulses_before_t2);
    RUN_SOME(without_retry_or_latch_the_reference_timing_breaks_the_link);
    RUN_SOME(write_larger_than_the_peers_rxbufsize_is_refused);
    RUN_SOME(responder_start_up_reports_no_spurious_sync_warning);
    RUN_SOME(oversize_payload_is_reported_and_discarded_both_ways);
    RUN_SOME(corrupted_header_length_is_detected_and_recovered);
    RUN_SOME(ignored_holdoff_is_reported_and_nothing_is_overwritten);
    RUN_SOME(silent_peer_at_startup_is_reported_without_hanging);
    RUN_SOME(bus_faults_end_in_recovery);
    RUN_SOME(back_to_back_exchanges_do_not_stall);
    RUN_SOME(bad_config_is_refused_naming_the_field);
    return TEST_DONE();
}
