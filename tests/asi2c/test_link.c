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

typedef struct pair {
    nm_sim_t *sim;
    link_board_t i, r;
} pair_t;

static void reboot_r(void *user, nm_sim_t *sim, int side) {
    pair_t *p = user;
    uint32_t keep = p->r.to_send;
    lb_init(&p->r, sim, side, (uint32_t)p->r.cfg.rxbufsize, (uint32_t)p->r.cfg.txbufsize, 0);
    p->r.to_send = keep;
}

static void pair_new(pair_t *p, const nm_sim_config_t *sc, uint32_t t_poll, int with_reset) {
    memset(p, 0, sizeof *p);
    p->sim = nm_sim_new(sc);
    p->i.cfg.t_poll_us = t_poll;
    p->r.cfg.t_poll_us = t_poll;
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
static void ten_thousand_messages_each_way_with_a_slow_reader(void) {
    nm_sim_config_t sc = {.scl_hz = 400000, .latency_ns = 3000, .jitter_ns = 4000, .seed = 7};
    if (getenv("SIM_TRACE"))
        sc.trace = stderr;
    pair_t p;
    memset(&p, 0, sizeof p);
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
} shape_t;

static void pair_with_messages(pair_t *p, const shape_t *sh) {
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
    while (p.i.ch.stats.block_cnt == cnt)
        nm_sim_run_until(p.sim, nm_sim_next_event(p.sim));
    nm_sim_stats(p.sim, &st);
    sh->n_actions = st.actions[NM_SIM_R] - sh->e0;
    sh->n_xfers = st.transfers - sh->x0;
    CHECK_EQ(sh->n_xfers, 2u + (uint64_t)sh->i_msg + (uint64_t)sh->r_msg);
    CHECK_EQ(sh->n_actions, 3 * sh->n_xfers);
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
        uint64_t t1_start = sh.i_msg ? 4 : 0;                      /* R action starting T1 */
        uint64_t t3_start = sh.r_msg ? (sh.i_msg ? 6u : 3u) + 5 : 0; /* ... starting T3 */
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
            int i_dropped = sh.i_msg && j <= 2;
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

int main(void) {
    RUN(ten_thousand_messages_each_way_with_a_slow_reader);
    RUN(responder_crash_at_every_step_is_detected_reset_and_resynced);
    return TEST_DONE();
}
