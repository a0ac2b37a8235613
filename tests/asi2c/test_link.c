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

static __attribute__((unused)) void pair_new(pair_t *p, const nm_sim_config_t *sc, uint32_t t_poll, int with_reset) {
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

static __attribute__((unused)) int both_ready(void *u) {
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

int main(void) {
    RUN(ten_thousand_messages_each_way_with_a_slow_reader);
    return TEST_DONE();
}
