/*
 * The Linux Responder (hal_linux.c, through the simulated-bus io of
 * sim_link.c) against a bus host in another process with a local Initiator:
 * message integrity both ways, a reset from the Initiator in the middle,
 * the 20 us pre-transfer delay honoured below a millisecond, and bad input
 * (no bus host at the path, malformed client messages).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "../asi2c/link_util.h"
#include "asi2c/hal_linux.h"
#include "asi2c/sim_link.h"

#define N1 1000 /* messages each way before the reset */
#define N2 200  /* ... and after it */
#define MS 1000000ull
#define SEC 1000000000ull

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
}

static char sock_dir[64];

/* The variant with short sync pulses: the Initiator runs back-to-back with a
 * 1 us guard, so sync is low for about 1 us between exchanges; the host
 * forwards each such pulse as an edge and the Responder's io coalesces
 * levels (as a GPIO read does): only the edge latch sees the pulse. */
static int short_pulses;

static const char *sock_path(const char *name) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", sock_dir, name);
    return p;
}

/* Start a board's message streams over (a reboot or a new session); the
 * channel and config stay. */
static void board_restart(link_board_t *b, uint32_t to_send) {
    b->to_send = to_send;
    b->sent = b->received = b->bad = 0;
    b->msg_len = b->msg_off = b->acc_len = 0;
    b->rng = 0x9E3779B97F4A7C15ull + (uint64_t)b->side;
}

static int board_idle(link_board_t *b) {
    return b->sent >= b->to_send && atomic_load(&b->ch.tx_len) == 0;
}

/* ---- the bus host (child process) ---------------------------------------- */

typedef struct host_result {
    uint32_t s1_received, s1_bad, s2_received, s2_bad;
    uint32_t nboots, block_cnt, block_max_us, holdoff_violations;
    uint64_t block_sum_us;
    uint32_t sim_reboots, connects, bad_msgs;
    uint64_t max_lag_ns, s1_ns;
    uint32_t pulses;
    int run_rc;
} host_result_t;

typedef struct host_side {
    link_board_t b;
    nm_sim_t *sim;
    int session;
    uint64_t idle_since, start;
    int finished;
    host_result_t res;
} host_side_t;

/* The Initiator's application: the message streams of link_util.h, then,
 * once session 1 is over and quiet for 100 ms, a reset of the Responder and
 * session 2 from sequence 0 on both sides. */
static uint32_t host_app(void *user, nm_sim_t *sim, int side) {
    host_side_t *hs = user;
    link_board_t *b = &hs->b;
    lb_app(b, sim, side);
    uint32_t want = hs->session == 1 ? N1 : N2;
    if (hs->finished || b->received < want || !board_idle(b)) {
        hs->idle_since = 0;
        return NM_ASI2C_NO_DEADLINE;
    }
    uint64_t now = nm_sim_now_ns(sim);
    if (!hs->idle_since)
        hs->idle_since = now;
    if (now - hs->idle_since < 100 * MS)
        return 10000;
    if (hs->session == 1) {
        hs->res.s1_received = b->received;
        hs->res.s1_bad = b->bad;
        hs->res.s1_ns = now - hs->start;
        nm_asi2c_reboot(&b->ch);
        board_restart(b, N2);
        hs->session = 2;
        hs->idle_since = 0;
    } else {
        hs->res.s2_received = b->received;
        hs->res.s2_bad = b->bad;
        hs->finished = 1;
        /* Start no more exchanges: the host hangs up only once the
         * Initiator is idle (host_stop), never in the middle of a transfer
         * of the Responder's, which that would abort (stats.aborts: it
         * failed once in CI, depending on where the host's catch-up
         * stopped under load). */
        b->ch.cfg.t_poll_us = UINT32_MAX - 1;
    }
    return NM_ASI2C_NO_DEADLINE;
}

static int host_stop(void *user) {
    host_side_t *hs = user;
    return hs->finished && strcmp(nm_asi2c_state_name(&hs->b.ch), "idle") == 0;
}

static void run_host(nm_simlink_host_t *h, int result_fd) {
    static host_side_t hs;
    nm_sim_config_t sc = {.scl_hz = 1000000, .latency_ns = 2000, .jitter_ns = 1000, .seed = 3};
    if (getenv("SIM_TRACE"))
        sc.trace = stderr;
    hs.sim = nm_sim_new(&sc);
    hs.session = 1;
    hs.b.to_send = N1;
    hs.b.max_len = 200;
    hs.b.cfg.t_poll_us = 1000; /* not back-to-back: see the report on T3 end */
    if (short_pulses) {
        hs.b.cfg.t_poll_us = NM_ASI2C_BACK_TO_BACK;
        hs.b.cfg.guard_us = 1;
    }
    lb_init(&hs.b, hs.sim, NM_SIM_I, 200, 200, 1);
    nm_sim_set_app(hs.sim, NM_SIM_I, host_app, &hs);
    h->stop = host_stop;
    h->user = &hs;
    h->limit_ns = 90 * SEC;
    h->log = getenv("SIM_TRACE") ? stderr : NULL;
    hs.res.run_rc = nm_simlink_host_run(h, hs.sim);
    nm_simlink_host_close(h);
    const nm_asi2c_stats_t *s = &hs.b.ch.stats;
    nm_sim_stats_t ss;
    nm_sim_stats(hs.sim, &ss);
    hs.res.nboots = s->nboots;
    hs.res.block_cnt = s->block_cnt;
    hs.res.block_max_us = s->block_max_us;
    hs.res.block_sum_us = s->block_sum_us;
    hs.res.holdoff_violations = s->holdoff_violations;
    hs.res.sim_reboots = ss.reboots;
    hs.res.connects = h->connects;
    hs.res.bad_msgs = h->bad_msgs;
    hs.res.max_lag_ns = h->max_lag_ns;
    hs.res.pulses = h->pulses;
    if (write(result_fd, &hs.res, sizeof hs.res) != (ssize_t)sizeof hs.res)
        _exit(3);
    _exit(0);
}

/* ---- the Responder (this process) ---------------------------------------- */

typedef struct resp_side {
    link_board_t b;
    nm_linux_responder_t r;
    uint32_t s1_received, s1_bad, mid_reboots;
} resp_side_t;

/* lb_event wants the board's sim for its timestamps; this side has none. */
static void resp_event(void *app, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    link_board_t *b = app;
    (void)ch;
    (void)arg;
    b->ev[ev & 7]++;
    if (err)
        b->last_err = err;
}

/* The reset wire rebooted us: RAM is gone, the streams start again. A reboot
 * after session 1 closes it; the one at power-up only restarts nothing. */
static void resp_reboot(void *user, nm_linux_responder_t *r) {
    resp_side_t *rs = user;
    (void)r;
    if (rs->b.received >= N1) {
        rs->s1_received = rs->b.received;
        rs->s1_bad = rs->b.bad;
        rs->mid_reboots++;
        board_restart(&rs->b, N2);
    } else {
        board_restart(&rs->b, rs->b.to_send);
    }
}

static void responder_on_linux_hal_exchanges_1000_messages_each_way_and_survives_a_reset(void) {
    static nm_simlink_host_t host;
    memset(&host, 0, sizeof host);
    const char *path = sock_path("bus.sock");
    CHECK_EQ(nm_simlink_host_open(&host, path), 0);
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        run_host(&host, pfd[1]);
    }
    CHECK(pid > 0);
    close(pfd[1]);
    close(host.listen_fd); /* the child owns the socket (and removes it) */

    static resp_side_t rs;
    memset(&rs, 0, sizeof rs);
    link_board_t *b = &rs.b;
    b->side = NM_SIM_R;
    b->max_len = 200;
    board_restart(b, N1);
    nm_asi2c_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rxbuf = b->rxbuf;
    cfg.rxbufsize = 200;
    cfg.txbuf = b->txbuf;
    cfg.txbufsize = 200;
    cfg.event_cb = resp_event;
    cfg.app = b;
    nm_linux_io_t io;
    nm_linux_err_t err = {{0}};
    int rc = nm_linux_io_open_sim(&io, path, &err);
    CHECK_EQ(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return;
    }
    if (short_pulses)
        nm_linux_io_sim_coalesce(&io, 1);
    CHECK_EQ(nm_linux_responder_init(&rs.r, &io, &b->ch, &cfg, resp_reboot, &rs), 0);
    b->cfg = rs.r.cfg;

    /* Run until the host hangs up (it stops once the Initiator has seen
     * session 2 through) or a generous limit. */
    uint64_t t0 = mono_ns();
    int polls = 0;
    for (;;) {
        rc = nm_linux_responder_poll(&rs.r, NULL, 0, 50 * MS, NULL, &err);
        polls++;
        if (rc < 0)
            break;
        lb_app(b, NULL, NM_SIM_R);
        if (mono_ns() - t0 > 120 * SEC)
            break;
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    CHECK_EQ(rc, NM_ERR_IO); /* the host hung up at the end, as planned */
    CHECK_STR_CONTAINS(err.msg, "hung up");

    host_result_t hr;
    memset(&hr, 0, sizeof hr);
    ssize_t n = read(pfd[0], &hr, sizeof hr);
    close(pfd[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_EQ(n, (ssize_t)sizeof hr);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(hr.run_rc, 0);

    /* Session 1: every message once, in order, intact, both ways. */
    CHECK_EQ(hr.s1_received, N1);
    CHECK_EQ(hr.s1_bad, 0);
    CHECK_EQ(rs.s1_received, N1);
    CHECK_EQ(rs.s1_bad, 0);
    /* The reset: the Responder rebooted once in the middle (and once at
     * power-up), the Initiator did not count a failure. */
    CHECK_EQ(rs.mid_reboots, 1);
    CHECK_EQ(rs.r.reboots, hr.sim_reboots);
    CHECK(hr.sim_reboots >= 2);
    CHECK_EQ(hr.nboots, 0);
    /* Session 2 after the reset. */
    CHECK_EQ(hr.s2_received, N2);
    CHECK_EQ(hr.s2_bad, 0);
    CHECK_EQ(b->received, N2);
    CHECK_EQ(b->bad, 0);
    CHECK_EQ(hr.holdoff_violations + b->ch.stats.holdoff_violations, 0);
    CHECK_EQ(b->ch.stats.aborts, 0);
    CHECK_EQ(hr.connects, 1);
    CHECK_EQ(hr.bad_msgs, 0);
    if (short_pulses) {
        /* The pulses happened and the latch caught them (session 2's count:
         * the reboot cleared the stats). */
        CHECK(hr.pulses > 0);
        CHECK(b->ch.stats.latched_falls > 0);
        printf("  short sync pulses: %u forwarded, %u caught by the latch in session 2\n", hr.pulses,
               b->ch.stats.latched_falls);
    }
    printf("  %u exchanges in %.1f s (session 1: %u messages each way in %.2f s), block mean %.0f us max %u us;\n"
           "  responder: %u transfers, %u edge wake-ups, %d polls, worst deadline wake-up %u us late; "
           "host lag max %.0f us\n",
           hr.block_cnt, secs, N1, (double)hr.s1_ns / 1e9,
           hr.block_cnt ? (double)hr.block_sum_us / hr.block_cnt : 0.0, hr.block_max_us, rs.r.xfers, rs.r.edges,
           polls, rs.r.max_late_us, (double)hr.max_lag_ns / 1e3);
    nm_linux_responder_close(&rs.r);
}

static void responder_on_linux_hal_catches_1_us_sync_pulses_through_the_edge_latch(void) {
    responder_on_linux_hal_exchanges_1000_messages_each_way_and_survives_a_reset();
}

/* ---- the loop's timing, on a fake io --------------------------------------- */

typedef struct fake_io {
    int sync, ack;
    int pipe[2];
    uint64_t xfer_at;
    int xfers;
} fake_io_t;

static int fake_xfer(void *ctx, int write, uint8_t addr, uint8_t *buf, size_t len) {
    fake_io_t *f = ctx;
    (void)addr;
    if (!f->xfer_at)
        f->xfer_at = mono_ns();
    f->xfers++;
    if (!write && buf)
        memset(buf, 0, len); /* an empty header */
    return (int)len;
}
static void fake_set_ack(void *ctx, int level) { ((fake_io_t *)ctx)->ack = level; }
static int fake_get_sync(void *ctx) { return ((fake_io_t *)ctx)->sync; }
static int fake_edge_fd(void *ctx) { return ((fake_io_t *)ctx)->pipe[0]; }
static int fake_drain(void *ctx) {
    (void)ctx;
    return NM_OK;
}
static uint64_t fake_now(void *ctx) {
    (void)ctx;
    return mono_ns();
}

/* The Responder must wait >= 20 us between seeing sync high and starting the
 * transfer, and the loop must not round that up to a millisecond. */
static void responder_waits_20us_before_a_transfer_not_a_millisecond(void) {
    static fake_io_t f;
    memset(&f, 0, sizeof f);
    CHECK_EQ(pipe(f.pipe), 0);
    nm_linux_io_t io = {.ctx = &f, .xfer = fake_xfer, .set_ack = fake_set_ack, .get_sync = fake_get_sync,
                        .edge_fd = fake_edge_fd, .drain = fake_drain, .now_ns = fake_now};
    static uint8_t rx[16], tx[16];
    nm_asi2c_config_t cfg = {.rxbuf = rx, .rxbufsize = sizeof rx, .txbuf = tx, .txbufsize = sizeof tx};
    uint64_t worst = 0, best = UINT64_MAX, sum = 0;
    const int rounds = 20;
    for (int i = 0; i < rounds; i++) {
        static nm_asi2c_t ch;
        nm_linux_responder_t r;
        f.sync = 0;
        f.xfer_at = 0;
        CHECK_EQ(nm_linux_responder_init(&r, &io, &ch, &cfg, NULL, NULL), 0);
        nm_linux_responder_poll(&r, NULL, 0, 0, NULL, NULL); /* start-up sync */
        CHECK(nm_asi2c_ready(&ch));
        CHECK_EQ(f.ack, 0);
        f.sync = 1;
        uint64_t t1 = mono_ns();
        for (int k = 0; k < 10 && !f.xfer_at; k++)
            nm_linux_responder_poll(&r, NULL, 0, 5 * MS, NULL, NULL);
        CHECK(f.xfer_at != 0);
        uint64_t d = f.xfer_at - t1;
        CHECK(d >= NM_ASI2C_DELAY_US * 1000u);
        worst = d > worst ? d : worst;
        best = d < best ? d : best;
        sum += d;
    }
    /* Median-ish: the mean of 20 wake-ups, far below a millisecond unless
     * the machine is badly overloaded. */
    CHECK(sum / rounds < 700000u);
    printf("  sync high -> transfer: best %.1f us, mean %.1f us, worst %.1f us\n", (double)best / 1e3,
           (double)sum / rounds / 1e3, (double)worst / 1e3);
    close(f.pipe[0]);
    close(f.pipe[1]);
}

/* ---- bad input ------------------------------------------------------------- */

static void connecting_to_a_missing_bus_socket_fails_with_one_line_naming_it(void) {
    nm_linux_io_t io;
    nm_linux_err_t err = {{0}};
    const char *path = sock_path("nobody-listens.sock");
    CHECK_EQ(nm_linux_io_open_sim(&io, path, &err), NM_ERR_IO);
    CHECK_STR_CONTAINS(err.msg, path);
    CHECK_STR_CONTAINS(err.msg, "cannot connect");
    CHECK(strchr(err.msg, '\n') == NULL);

    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK_EQ(nm_linux_io_open_sim(&io, longp, &err), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(err.msg, "too long");
}

static int raw_client(const char *path) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path)
        return -1;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A client that sends an XFER whose data does not match its length, or an
 * unknown type, is dropped; the host carries on and serves the next one. */
static void bus_host_drops_a_client_that_sends_malformed_messages(void) {
    static nm_simlink_host_t h;
    memset(&h, 0, sizeof h);
    const char *path = sock_path("bad.sock");
    CHECK_EQ(nm_simlink_host_open(&h, path), 0);
    nm_sim_t *sim = nm_sim_new(NULL);
    h.limit_ns = 150 * MS;

    int c1 = raw_client(path);
    CHECK(c1 >= 0);
    uint8_t bad_xfer[] = {NM_SIMLINK_XFER, 1, 0x12, 10, 0, 1, 2, 3}; /* says 10 bytes, has 3 */
    CHECK_EQ(send(c1, bad_xfer, sizeof bad_xfer, 0), (ssize_t)sizeof bad_xfer);
    CHECK_EQ(nm_simlink_host_run(&h, sim), NM_ERR_TIMEOUT);
    CHECK_EQ(h.bad_msgs, 1);
    uint8_t buf[16];
    CHECK_EQ(recv(c1, buf, sizeof buf, MSG_DONTWAIT), 0); /* hung up on */
    close(c1);

    int c2 = raw_client(path);
    CHECK(c2 >= 0);
    uint8_t q = NM_SIMLINK_QUERY, unknown[] = {'Z', 0};
    CHECK_EQ(send(c2, &q, 1, 0), 1);
    CHECK_EQ(send(c2, unknown, sizeof unknown, 0), (ssize_t)sizeof unknown);
    CHECK_EQ(nm_simlink_host_run(&h, sim), NM_ERR_TIMEOUT);
    /* The query was answered (the sync wire, high: nobody drives it) before
     * the unknown message ended the connection. */
    CHECK_EQ(recv(c2, buf, sizeof buf, MSG_DONTWAIT), 2);
    CHECK_EQ(buf[0], NM_SIMLINK_PEER);
    CHECK_EQ(buf[1], 1);
    CHECK_EQ(recv(c2, buf, sizeof buf, MSG_DONTWAIT), 0);
    CHECK_EQ(h.bad_msgs, 2);
    CHECK_EQ(h.connects, 2);
    close(c2);
    nm_simlink_host_close(&h);
    CHECK(access(path, F_OK) != 0); /* the socket file is gone */
    nm_sim_free(sim);
}

int main(void) {
    snprintf(sock_dir, sizeof sock_dir, "/tmp/asi2c-linux-XXXXXX");
    if (!mkdtemp(sock_dir)) {
        fprintf(stderr, "cannot create a directory for the bus sockets under /tmp: %s\n", strerror(errno));
        return 1;
    }
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    RUN(connecting_to_a_missing_bus_socket_fails_with_one_line_naming_it);
    RUN(bus_host_drops_a_client_that_sends_malformed_messages);
    RUN(responder_waits_20us_before_a_transfer_not_a_millisecond);
    RUN(responder_on_linux_hal_exchanges_1000_messages_each_way_and_survives_a_reset);
    short_pulses = 1;
    RUN(responder_on_linux_hal_catches_1_us_sync_pulses_through_the_edge_latch);
    rmdir(sock_dir);
    return TEST_DONE();
}
