/*
 * bench_asi2c: the asi2c link on the simulated bus (src/asi2c/sim.c), both
 * roles of the real core, deterministic (fixed seeds, virtual time only).
 *
 * For SCL 100 kHz and 400 kHz, each t_poll (back-to-back, 1, 10, 100 ms),
 * each payload size (1, 16, 64, 200) and each traffic pattern (both
 * directions saturated, Initiator->Responder only, Responder->Initiator
 * only) it prints: payload throughput per direction next to the theoretical
 * limit of the same bus, write-to-read latency (mean, max), exchanges/s, the
 * protocol efficiency (payload bytes per bit on the bus, and payload bytes/s
 * as a share of the raw byte rate f/9), the Initiator's blocking-time stats
 * and the failures seen (Initiator nboots + Responder aborts; 0 expected).
 *
 * Saturated: a side writes a new payload of the row's size whenever
 * write() would take it; both readers drain at every step. Latency runs from
 * the write() that was accepted to the read() that returned the payload, in
 * virtual time.
 *
 * Theoretical limit: the bus carries only the transfers of each exchange,
 * with no gaps: the two headers (11 + 18 bits each) and one payload transfer
 * (11 + 9n bits) per active direction.
 *
 * Target (the issue's): back-to-back, 200-byte payloads both ways: payload
 * bytes of both directions together >= 80 % of f/9 bytes/s, at 100 and
 * 400 kHz. Printed as PASS/FAIL lines; the exit status is 0 either way
 * unless the set-up failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asi2c/sim.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The bus model used for every row: see sim.h. */
#define B_LATENCY_NS 5000u /* each side reacts to an edge / transfer end 5 us later */
#define B_JITTER_NS 2000u  /* ... plus 0..2 us */
#define B_SEED 0x5EEDull
#define B_BUF 256u
#define B_QUEUE 64u        /* write timestamps in flight per direction */

enum { MODE_BOTH, MODE_I2R, MODE_R2I, MODE_COUNT };
static const char *const mode_name[MODE_COUNT] = {"both", "I->R", "R->I"};

/* One direction's latency book: write() times waiting for their read(). */
typedef struct dir {
    uint64_t q[B_QUEUE];
    unsigned head, tail;
    uint64_t n, sum_ns, max_ns, bytes;
    int overflow;
} dir_t;

typedef struct board {
    nm_asi2c_t ch;
    uint8_t rxbuf[B_BUF], txbuf[B_BUF], scratch[B_BUF], out[B_BUF];
    int sending;   /* saturate our direction */
    int running;   /* measurement started: traffic flows */
    size_t size;
    dir_t *tx, *rx;
    nm_sim_t *sim;
} board_t;

typedef struct row {
    uint32_t scl_hz, t_poll_us;
    size_t size;
    int mode;
    /* results */
    double rate[2];        /* payload bytes/s: [0] I->R, [1] R->I */
    double limit_rate;     /* per active direction */
    double lat_mean_us, lat_max_us;
    double exch_per_s, bytes_per_bit, pct_raw, limit_pct;
    uint32_t block_max_us;
    double block_mean_us;
    uint32_t fails;
    int lost;              /* latency book overflowed or went out of step */
} row_t;

static void die(const char *what) {
    fprintf(stderr, "bench_asi2c: %s\n", what);
    exit(1);
}

static uint32_t board_app(void *user, nm_sim_t *sim, int side) {
    board_t *b = user;
    (void)side;
    if (!b->running || !nm_asi2c_ready(&b->ch))
        return NM_ASI2C_NO_DEADLINE;
    uint64_t t = nm_sim_now_ns(sim);
    if (b->sending && nm_asi2c_writable(&b->ch)) {
        int n = nm_asi2c_write(&b->ch, b->out, b->size);
        if (n < 0 || (n > 0 && (size_t)n != b->size))
            die("write() took a partial payload");
        if (n > 0) {
            dir_t *d = b->tx;
            if (d->tail - d->head >= B_QUEUE)
                d->overflow = 1;
            else
                d->q[d->tail++ % B_QUEUE] = t;
        }
    }
    /* The slot holds one payload: one full read drains it. */
    for (;;) {
        size_t n = nm_asi2c_read(&b->ch, b->scratch, sizeof b->scratch);
        if (n == 0)
            break;
        dir_t *d = b->rx;
        d->bytes += n;
        if (d->head == d->tail) {
            d->overflow = 1;
            continue;
        }
        uint64_t lat = t - d->q[d->head++ % B_QUEUE];
        d->n++;
        d->sum_ns += lat;
        if (lat > d->max_ns)
            d->max_ns = lat;
    }
    return NM_ASI2C_NO_DEADLINE;
}

static int both_ready(void *u) {
    board_t *b = u;
    return nm_asi2c_ready(&b[0].ch) && nm_asi2c_ready(&b[1].ch);
}

static void board_init(board_t *b, nm_sim_t *sim, int side, uint32_t t_poll_us) {
    memset(b, 0, sizeof *b);
    b->sim = sim;
    for (unsigned i = 0; i < B_BUF; i++)
        b->out[i] = (uint8_t)(i * 13u + (unsigned)side);
    nm_asi2c_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = side == NM_SIM_I ? NM_ASI2C_INITIATOR : NM_ASI2C_RESPONDER;
    cfg.hal = nm_sim_hal(sim, side, 0);
    cfg.rxbuf = b->rxbuf;
    cfg.rxbufsize = NM_ASI2C_RXBUF_DEFAULT;
    cfg.txbuf = b->txbuf;
    cfg.txbufsize = NM_ASI2C_RXBUF_DEFAULT;
    cfg.t_poll_us = t_poll_us;
    if (nm_asi2c_init(&b->ch, &cfg) != NM_OK)
        die(b->ch.detail.msg);
    nm_sim_attach(sim, side, &b->ch);
    nm_sim_set_app(sim, side, board_app, b);
}

/* Bits of one exchange if the bus carried nothing else. */
static uint64_t exchange_bits(size_t n, int mode) {
    uint64_t bits = 2 * (11 + 9 * NM_ASI2C_HDR_SIZE);
    if (mode != MODE_R2I)
        bits += 11 + 9 * (uint64_t)n;
    if (mode != MODE_I2R)
        bits += 11 + 9 * (uint64_t)n;
    return bits;
}

static void run_row(row_t *r) {
    nm_sim_config_t sc;
    memset(&sc, 0, sizeof sc);
    sc.scl_hz = r->scl_hz;
    sc.latency_ns = B_LATENCY_NS;
    sc.jitter_ns = B_JITTER_NS;
    sc.seed = B_SEED;
    nm_sim_t *sim = nm_sim_new(&sc);
    if (!sim)
        die("out of memory");
    static board_t b[2];
    static dir_t d[2]; /* [0] I->R, [1] R->I */
    memset(d, 0, sizeof d);
    board_init(&b[0], sim, NM_SIM_I, r->t_poll_us);
    board_init(&b[1], sim, NM_SIM_R, r->t_poll_us);
    b[0].tx = b[1].rx = &d[0];
    b[1].tx = b[0].rx = &d[1];
    b[0].size = b[1].size = r->size;
    b[0].sending = r->mode != MODE_R2I;
    b[1].sending = r->mode != MODE_I2R;
    if (nm_sim_run(sim, 60 * SEC, both_ready, b) != NM_OK)
        die("the link did not synchronise");

    /* Long enough for >= ~200 exchanges at any t_poll. */
    uint64_t poll_ns = r->t_poll_us == NM_ASI2C_BACK_TO_BACK ? 0 : (uint64_t)r->t_poll_us * 1000u;
    uint64_t window = 2 * SEC + 200 * poll_ns;
    nm_sim_stats_t s0, s1;
    nm_sim_stats(sim, &s0);
    nm_asi2c_stats_t i0 = b[0].ch.stats;
    uint64_t t0 = nm_sim_now_ns(sim);
    b[0].running = b[1].running = 1;
    nm_sim_set_app(sim, NM_SIM_I, board_app, &b[0]);
    nm_sim_set_app(sim, NM_SIM_R, board_app, &b[1]);
    nm_sim_run_until(sim, t0 + window);
    nm_sim_stats(sim, &s1);
    double secs = (double)(nm_sim_now_ns(sim) - t0) / 1e9;

    const nm_asi2c_stats_t *is = &b[0].ch.stats;
    r->rate[0] = (double)d[0].bytes / secs;
    r->rate[1] = (double)d[1].bytes / secs;
    uint64_t xb = exchange_bits(r->size, r->mode);
    r->limit_rate = (double)r->size * r->scl_hz / (double)xb;
    int active = r->mode == MODE_BOTH ? 2 : 1;
    r->limit_pct = 100.0 * (double)(active * r->size) * 9.0 / (double)xb;
    uint64_t n = d[0].n + d[1].n;
    r->lat_mean_us = n ? (double)(d[0].sum_ns + d[1].sum_ns) / (double)n / 1e3 : 0;
    r->lat_max_us = (double)(d[0].max_ns > d[1].max_ns ? d[0].max_ns : d[1].max_ns) / 1e3;
    uint32_t cnt = is->block_cnt - i0.block_cnt;
    r->exch_per_s = cnt / secs;
    uint64_t bits = s1.bits - s0.bits;
    uint64_t payload = d[0].bytes + d[1].bytes;
    r->bytes_per_bit = bits ? (double)payload / (double)bits : 0;
    r->pct_raw = 100.0 * (double)payload / secs / ((double)r->scl_hz / 9.0);
    r->block_max_us = is->block_max_us;
    r->block_mean_us = cnt ? (double)(is->block_sum_us - i0.block_sum_us) / cnt : 0;
    r->fails = is->nboots + b[1].ch.stats.aborts;
    r->lost = d[0].overflow || d[1].overflow;
    nm_sim_free(sim);
}

static const char *poll_name(uint32_t t_poll_us) {
    static char s[32];
    if (t_poll_us == NM_ASI2C_BACK_TO_BACK)
        return "b2b";
    if (t_poll_us < 1000)
        snprintf(s, sizeof s, "%u us", t_poll_us);
    else
        snprintf(s, sizeof s, "%u ms", t_poll_us / 1000u);
    return s;
}

static void print_header(uint32_t scl_hz) {
    printf("\n== asi2c on the simulated bus: SCL %u kHz, raw byte rate f/9 = %.0f B/s\n", scl_hz / 1000u,
           scl_hz / 9.0);
    printf("   sim: latency %u us + jitter 0..%u us per reaction, seed 0x%llx; Responder delay %u us, "
           "guard %u us (core defaults); rx/txbufsize %u; no reset wire\n",
           B_LATENCY_NS / 1000u, B_JITTER_NS / 1000u, (unsigned long long)B_SEED, NM_ASI2C_DELAY_US,
           NM_ASI2C_GUARD_US, NM_ASI2C_RXBUF_DEFAULT);
    printf("   rates in payload B/s; limit = same bus, transfers only, no gaps (per active direction); "
           "latency = write() accepted -> read() returned;\n"
           "   fails = Initiator nboots + Responder aborts during the row (0 expected)\n\n");
    printf("| t_poll | size | traffic | I->R B/s | R->I B/s | limit B/s | lat mean us | lat max us | "
           "exch/s | B/bit | %% of f/9 | limit %% | block max us | block mean us | fails |\n");
    printf("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

static void print_row(const row_t *r) {
    printf("| %s | %zu | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | %.4f | %.1f | %.1f | %u | %.0f "
           "| %u%s |\n",
           poll_name(r->t_poll_us), r->size, mode_name[r->mode], r->rate[0], r->rate[1], r->limit_rate,
           r->lat_mean_us, r->lat_max_us, r->exch_per_s, r->bytes_per_bit, r->pct_raw, r->limit_pct,
           r->block_max_us, r->block_mean_us, r->fails, r->lost ? " (latency book lost count)" : "");
}

int main(void) {
    static const uint32_t scls[] = {100000, 400000};
    static const uint32_t polls[] = {NM_ASI2C_BACK_TO_BACK, 1000, 10000, 100000};
    static const size_t sizes[] = {1, 16, 64, 200};
    double target[2] = {0, 0};
    uint32_t target_fails[2] = {0, 0};
    for (unsigned si = 0; si < 2; si++) {
        print_header(scls[si]);
        for (unsigned pi = 0; pi < 4; pi++)
            for (unsigned zi = 0; zi < 4; zi++)
                for (int m = 0; m < MODE_COUNT; m++) {
                    row_t r;
                    memset(&r, 0, sizeof r);
                    r.scl_hz = scls[si];
                    r.t_poll_us = polls[pi];
                    r.size = sizes[zi];
                    r.mode = m;
                    run_row(&r);
                    print_row(&r);
                    if (pi == 0 && sizes[zi] == 200 && m == MODE_BOTH) {
                        target[si] = r.pct_raw;
                        target_fails[si] = r.fails;
                    }
                }
    }
    printf("\n");
    for (unsigned si = 0; si < 2; si++)
        printf("target: back-to-back, 200-byte payloads both ways, %u kHz: %.1f %% of f/9 carries payload "
               "(>= 80 %%, %u failures): %s\n",
               scls[si] / 1000u, target[si], target_fails[si],
               target[si] >= 80.0 && target_fails[si] == 0 ? "PASS" : "FAIL");
    printf("bench_asi2c: done\n");
    return 0;
}
