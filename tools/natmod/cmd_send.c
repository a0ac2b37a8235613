/*
 * natmod send: install a module on another board over the asi2c link with
 * the xfer protocol (include/natmod/xfer.h). The host is the sender.
 *
 *   --sim --store IMAGE: both boards in this process on the simulated bus.
 *     The host side is the Responder (the Linux end) running the sender;
 *     the simulated target is the Initiator, whose store is IMAGE (made by
 *     `natmod store format`), receiving into RAM and installing at COMMIT.
 *     Fault flags crash the Responder to show the resume.
 *   --port DEV: the sender over a tty (the pty of asi2c-pty, which carries
 *     the bytes over a real or simulated bus), raw mode.
 */
#define _DEFAULT_SOURCE /* cfmakeraw */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "asi2c/sim.h"
#include "board.h"
#include "cli.h"
#include "cli_sign.h"
#include "natmod/format.h"
#include "natmod/xfer.h"

#define RECV_BUF (1u << 20) /* the simulated target's receive RAM */

static void send_help(void) {
    puts("usage: natmod send (--sim --store IMAGE | --port DEV) [OPTIONS] MODULE.nmod\n"
         "\n"
         "Install a module on another board's store over the asi2c link: the board\n"
         "says what it is, only its slice is sent (refused here if it cannot run\n"
         "there or does not fit), in CRC-checked chunks that resume after a reset;\n"
         "the board installs it atomically once all of it arrived.\n"
         "\n"
         "  --sim               run both boards here on the simulated bus: this host is\n"
         "                      the Responder, the target the Initiator\n"
         "  --store IMAGE       (--sim) the target's store image (natmod store format)\n"
         "  --port DEV          send over a tty (e.g. the pty of asi2c-pty)\n"
         "  --name NAME         install as NAME (default: the module's name)\n"
         "  --timeout-ms MS     retry after MS without an answer (default 3000)\n"
         "  --frame BYTES       largest frame (64..512, default 200: one asi2c payload)\n"
         "\n"
         "--sim only:\n"
         "  --board-arch A [--board-float F]  the simulated target's arch (default x86_64)\n"
         "  --trust K.pub       the simulated target takes only modules signed by K\n"
         "                      (repeatable; a refusal comes back as exit 24)\n"
         "  --t-poll-us US      Initiator pause between exchanges (default 100000)\n"
         "  --crash-responder-at-ms T   the host side crashes at T ms (simulated) and is\n"
         "                      reset by the target; its sender restarts and resumes\n"
         "  --crash-responder-at-action N   ... before its N-th bus action\n"
         "  --corrupt-xfer N    flip a byte in the N-th bus transfer (repeatable)\n"
         "  --block-size B, --prog-size P, --align A   the store image's geometry");
}

typedef struct send_opts {
    const char *image, *port, *path, *name, *barch, *bfloat;
    int sim;
    uint32_t timeout_ms, frame, t_poll_us;
    uint64_t crash_ms, crash_action;
    uint64_t corrupt[NM_SIM_MAX_FAULTS];
    unsigned n_corrupt;
    cli_geometry_t g;
} send_opts_t;

/* --trust K.pub (--sim): the simulated target's signature policy. */
static cli_trust_t sim_trust;

static int parse_u(const char *opt, const char *v, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (end == v || *end || errno || v[0] == '-' || n > max) {
        return cli_fail(NM_ERR_INVAL, "send: %s '%s': expected a whole number up to %llu", opt, v,
                        (unsigned long long)max);
    }
    *out = n;
    return 0;
}

static int parse_opts(int argc, char **argv, send_opts_t *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_geometry_opt(argc, argv, &i, &o->g);
        if (r < 0) {
            return cli_exit_code(r);
        }
        if (r) {
            continue;
        }
        if (!strcmp(a, "--sim")) {
            o->sim = 1;
            continue;
        }
        const char **sv = !strcmp(a, "--store")          ? &o->image
                          : !strcmp(a, "--port")         ? &o->port
                          : !strcmp(a, "--name")         ? &o->name
                          : !strcmp(a, "--board-arch")   ? &o->barch
                          : !strcmp(a, "--board-float")  ? &o->bfloat
                                                         : NULL;
        uint64_t v = 0, max = UINT32_MAX;
        int num = !strcmp(a, "--timeout-ms") || !strcmp(a, "--frame") || !strcmp(a, "--t-poll-us") ||
                  !strcmp(a, "--crash-responder-at-ms") || !strcmp(a, "--crash-responder-at-action") ||
                  !strcmp(a, "--corrupt-xfer");
        if (sv || num) {
            const char *val = cli_optarg(argc, argv, &i);
            if (!val) {
                return cli_exit_code(NM_ERR_INVAL);
            }
            if (sv) {
                *sv = val;
                continue;
            }
            if (!strcmp(a, "--frame")) {
                max = NM_XFER_FRAME_MAX;
            }
            if (parse_u(a, val, max, &v)) {
                return cli_exit_code(NM_ERR_INVAL);
            }
            if (!strcmp(a, "--timeout-ms")) {
                o->timeout_ms = (uint32_t)v;
            } else if (!strcmp(a, "--frame")) {
                o->frame = (uint32_t)v;
            } else if (!strcmp(a, "--t-poll-us")) {
                o->t_poll_us = v ? (uint32_t)v : NM_ASI2C_BACK_TO_BACK;
            } else if (!strcmp(a, "--crash-responder-at-ms")) {
                o->crash_ms = v ? v : 1;
            } else if (!strcmp(a, "--crash-responder-at-action")) {
                o->crash_action = v ? v : 1;
            } else if (o->n_corrupt < NM_SIM_MAX_FAULTS - 2) {
                o->corrupt[o->n_corrupt++] = v ? v : 1;
            } else {
                return cli_fail(NM_ERR_INVAL, "send: at most %d --corrupt-xfer", NM_SIM_MAX_FAULTS - 2);
            }
        } else if (a[0] == '-' && a[1]) {
            return cli_fail(NM_ERR_INVAL, "send: unknown option '%s' (see natmod send --help)", a);
        } else if (!o->path) {
            o->path = a;
        } else {
            return cli_fail(NM_ERR_INVAL, "send: unexpected argument '%s' (see natmod send --help)", a);
        }
    }
    if (!o->path) {
        return cli_fail(NM_ERR_INVAL, "send: no MODULE.nmod given (see natmod send --help)");
    }
    if (o->sim == !!o->port) {
        return cli_fail(NM_ERR_INVAL, "send %s: give exactly one of --sim and --port", o->path);
    }
    if (o->sim && !o->image) {
        return cli_fail(NM_ERR_INVAL, "send %s: --sim needs --store IMAGE (the target's store)", o->path);
    }
    if (!o->sim && (o->image || o->barch || o->bfloat || o->crash_ms || o->crash_action || o->n_corrupt)) {
        return cli_fail(NM_ERR_INVAL, "send %s: --store, --board-* and fault options need --sim", o->path);
    }
    if (o->frame && o->frame < NM_XFER_FRAME_MIN) {
        return cli_fail(NM_ERR_INVAL, "send: --frame %u is below %u", (unsigned)o->frame, NM_XFER_FRAME_MIN);
    }
    return 0;
}

/* Progress in quarters of the slice, printed once each. */
typedef struct progress {
    uint32_t shown; /* quarters printed */
    int info_shown;
} progress_t;

static void show_progress(progress_t *p, const nm_xfer_send_t *s) {
    if (s->have_info && !p->info_shown && s->size) {
        p->info_shown = 1;
        printf("board: %s/%s, receives up to %u bytes, store has %u bytes free; sending %s: %u bytes, crc 0x%08x\n",
               nm_arch_name(s->peer_arch), nm_float_name(s->peer_float), (unsigned)s->peer_max_module,
               (unsigned)s->peer_free, s->name, (unsigned)s->size, (unsigned)s->crc);
        fflush(stdout);
    }
    if (!s->size) {
        return;
    }
    uint32_t q = (uint32_t)((uint64_t)s->acked * 4 / s->size);
    while (p->shown < q) {
        p->shown++;
        printf("  %3u%%  %u of %u bytes acknowledged\n", p->shown * 25,
               (unsigned)((uint64_t)s->size * p->shown / 4), (unsigned)s->size);
        fflush(stdout);
    }
}

/* ---- --sim ---------------------------------------------------------- */

typedef struct sim_board {
    nm_asi2c_t ch;
    uint8_t rxbuf[256], txbuf[256];
    nm_xfer_asi2c_t aio;
} sim_board_t;

typedef struct sim_run {
    nm_sim_t *sim;
    const send_opts_t *o;
    sim_board_t tgt, host; /* Initiator (receiver), Responder (sender) */
    nm_xfer_recv_t rcv;
    nm_xfer_send_t snd;
    nm_xfer_send_config_t scfg;
    uint8_t *rbuf;
    progress_t prog;
    /* over the sender's earlier lives */
    uint64_t data_bytes;
    uint32_t chunks, retransmits, timeouts, offers, host_boots;
    uint32_t exchanges;
    int init_err;
    nm_detail_t init_detail;
} sim_run_t;

static uint32_t to_us(uint32_t ms) {
    return ms == NM_XFER_NO_DEADLINE ? NM_ASI2C_NO_DEADLINE : (ms > 4000000u ? 4000000000u : ms * 1000u);
}

static uint32_t app_target(void *user, nm_sim_t *sim, int side) {
    sim_run_t *r = user;
    (void)sim;
    (void)side;
    return to_us(nm_xfer_recv_poll(&r->rcv));
}

static uint32_t app_host(void *user, nm_sim_t *sim, int side) {
    sim_run_t *r = user;
    (void)sim;
    (void)side;
    uint32_t ms = nm_xfer_send_poll(&r->snd);
    show_progress(&r->prog, &r->snd);
    return to_us(ms);
}

static int channel_start(sim_run_t *r, sim_board_t *b, int side) {
    nm_asi2c_config_t c;
    memset(&c, 0, sizeof c);
    c.role = side == NM_SIM_I ? NM_ASI2C_INITIATOR : NM_ASI2C_RESPONDER;
    c.hal = nm_sim_hal(r->sim, side, side == NM_SIM_I);
    c.rxbuf = b->rxbuf;
    c.rxbufsize = NM_ASI2C_RXBUF_DEFAULT;
    c.txbuf = b->txbuf;
    c.txbufsize = NM_ASI2C_RXBUF_DEFAULT;
    c.t_poll_us = r->o->t_poll_us;
    int err = nm_asi2c_init(&b->ch, &c);
    if (err) {
        r->init_err = err;
        r->init_detail = b->ch.detail;
    }
    nm_sim_attach(r->sim, side, &b->ch);
    return err;
}

/* The host side: its channel and its sender, fresh (a reboot loses RAM). */
static void host_start(sim_run_t *r) {
    if (channel_start(r, &r->host, NM_SIM_R)) {
        return;
    }
    nm_xfer_send_config_t c = r->scfg;
    nm_xfer_io_asi2c(&c.io, &r->host.aio, &r->host.ch);
    int err = nm_xfer_send_init(&r->snd, &c, &r->init_detail);
    if (err) {
        r->init_err = err;
    }
    nm_sim_set_app(r->sim, NM_SIM_R, app_host, r);
}

static void host_reboot(void *user, nm_sim_t *sim, int side) {
    sim_run_t *r = user;
    (void)sim;
    (void)side;
    r->data_bytes += r->snd.stats.data_bytes;
    r->chunks += r->snd.stats.chunks;
    r->retransmits += r->snd.stats.retransmits;
    r->timeouts += r->snd.stats.timeouts;
    r->offers += r->snd.stats.offers;
    r->exchanges += r->host.ch.stats.block_cnt;
    if (r->host_boots++ && r->snd.state != NM_XFER_S_DONE) {
        printf("  host side reset by the target (at %.3f s, %u bytes acknowledged): restarting the sender\n",
               (double)nm_sim_now_ns(r->sim) / 1e9, (unsigned)r->snd.acked);
        r->prog.shown = 0;
        r->prog.info_shown = 1;
    }
    host_start(r);
}

static int sent(void *user) {
    sim_run_t *r = user;
    return r->init_err || nm_xfer_send_done(&r->snd);
}

static int run_sim(const send_opts_t *o, const uint8_t *mod, size_t len) {
    nm_host_board_t *board = calloc(1, sizeof *board);
    sim_run_t *r = calloc(1, sizeof *r);
    uint8_t *rbuf = malloc(RECV_BUF);
    if (!board || !r || !rbuf) {
        free(board), free(r), free(rbuf);
        return cli_fail(NM_ERR_NOMEM, "send: out of memory");
    }
    int err = nm_host_board_init(board, NULL);
    if (err) {
        free(board), free(r), free(rbuf);
        return cli_fail(err, "send: host board init failed: %s", nm_strerror(err));
    }
    /* The simulated target: the host board's firmware, or another arch
     * (to try a refusal). */
    nm_loader_config_t lc = board->cfg;
    lc.trusted_keys = (const uint8_t(*)[NM_PUBKEY_SIZE])sim_trust.keys;
    lc.n_trusted_keys = sim_trust.n;
    int rc = 0;
    if (o->barch && cli_parse_arch(o->barch, o->bfloat, &lc.arch, &lc.float_abi) != NM_OK) {
        rc = cli_exit_code(NM_ERR_INVAL);
    } else if (!o->barch && o->bfloat) {
        rc = cli_fail(NM_ERR_INVAL, "send: --board-float needs --board-arch");
    }
    cli_store_t *cs = NULL;
    if (!rc) {
        rc = cli_store_open(o->image, &o->g, &lc, 1, &cs);
    }
    if (rc) {
        nm_host_board_deinit(board);
        free(board), free(r), free(rbuf);
        return rc;
    }
    nm_sim_config_t sc = {.scl_hz = 400000};
    r->sim = nm_sim_new(&sc);
    r->o = o;
    r->rbuf = rbuf;
    r->scfg.module = mod;
    r->scfg.module_len = len;
    r->scfg.name = o->name;
    r->scfg.timeout_ms = o->timeout_ms;
    r->scfg.frame_max = (uint16_t)o->frame;
    r->scfg.retries = 20;
    if (o->crash_ms || o->crash_action) {
        nm_sim_fault_t f = {.kind = NM_SIM_CRASH, .side = NM_SIM_R};
        f.at_ns = o->crash_ms * 1000000ull;
        f.at_action = o->crash_action;
        nm_sim_add_fault(r->sim, &f);
    }
    for (unsigned k = 0; k < o->n_corrupt; k++) {
        nm_sim_fault_t f = {.kind = NM_SIM_CORRUPT, .mask = 0x10, .at_xfer = o->corrupt[k], .arg = 5};
        nm_sim_add_fault(r->sim, &f);
    }
    /* The target: Initiator, receiving into RAM, installing into the image. */
    if (!channel_start(r, &r->tgt, NM_SIM_I)) {
        nm_xfer_io_t io;
        nm_xfer_io_asi2c(&io, &r->tgt.aio, &r->tgt.ch);
        nm_xfer_recv_config_t rcfg = {io, &cs->s, rbuf, RECV_BUF, (uint16_t)o->frame};
        err = nm_xfer_recv_init(&r->rcv, &rcfg, &r->init_detail);
        if (err) {
            r->init_err = err;
        }
        nm_sim_set_app(r->sim, NM_SIM_I, app_target, r);
    }
    host_start(r);
    nm_sim_set_reboot(r->sim, NM_SIM_R, host_reboot, r);
    if (!r->init_err) {
        err = nm_sim_run(r->sim, 3600ull * 1000000000ull, sent, r);
    }
    nm_xfer_send_t *s = &r->snd;
    nm_sim_stats_t st;
    nm_sim_stats(r->sim, &st);
    if (r->init_err) {
        rc = cli_fail(r->init_err, "send %s: %s", o->path, r->init_detail.msg);
    } else if (err || !nm_xfer_send_done(s)) {
        rc = cli_fail(NM_ERR_TIMEOUT, "send %s: no result after an hour of simulated time", o->path);
    } else if (s->result) {
        /* The sender's detail names the module and the board ("module app is x86_64/hard; the board
         * is armv7m/soft") or is the board's own one line. */
        const char *m = s->detail.msg[0] ? s->detail.msg : nm_strerror(s->result);
        rc = cli_fail(s->result, "send %s: %s", o->path, m);
    } else {
        show_progress(&r->prog, s);
        printf("%s\n", s->detail.msg);
        printf("sent %llu bytes in %u chunks (%u retransmitted, %u timeouts, %u offers, resumed at %u), "
               "%.3f s simulated; link: %u exchanges, %llu bus transfers, %llu bytes on the bus, %u %s\n",
               (unsigned long long)(r->data_bytes + s->stats.data_bytes), (unsigned)(r->chunks + s->stats.chunks),
               (unsigned)(r->retransmits + s->stats.retransmits), (unsigned)(r->timeouts + s->stats.timeouts),
               (unsigned)(r->offers + s->stats.offers), (unsigned)s->stats.first_resume,
               (double)nm_sim_now_ns(r->sim) / 1e9, (unsigned)(r->exchanges + r->host.ch.stats.block_cnt),
               (unsigned long long)st.transfers, (unsigned long long)st.data_bytes,
               (unsigned)(r->host_boots ? r->host_boots - 1 : 0),
               r->host_boots == 2 ? "host reset" : "host resets");
    }
    nm_sim_free(r->sim);
    cli_store_close(cs);
    nm_host_board_deinit(board);
    free(board), free(r), free(rbuf);
    return rc;
}

/* ---- --port --------------------------------------------------------- */

typedef struct tty {
    int fd;
} tty_t;

static int tty_write(void *ctx, const uint8_t *buf, size_t len) {
    tty_t *t = ctx;
    ssize_t n = write(t->fd, buf, len);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : NM_ERR_IO;
    }
    return (int)n;
}

static int tty_read(void *ctx, uint8_t *buf, size_t len) {
    tty_t *t = ctx;
    ssize_t n = read(t->fd, buf, len);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : NM_ERR_IO;
    }
    return (int)n;
}

static uint32_t tty_now_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static int run_port(const send_opts_t *o, const uint8_t *mod, size_t len) {
    tty_t t;
    t.fd = open(o->port, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (t.fd < 0) {
        return cli_fail(NM_ERR_IO, "send: port %s: %s", o->port, strerror(errno));
    }
    if (isatty(t.fd)) {
        struct termios tio;
        if (tcgetattr(t.fd, &tio) != 0) {
            int e = errno;
            close(t.fd);
            return cli_fail(NM_ERR_IO, "send: port %s: %s", o->port, strerror(e));
        }
        cfmakeraw(&tio);
        tio.c_cc[VMIN] = 0;
        tio.c_cc[VTIME] = 0;
        if (tcsetattr(t.fd, TCSANOW, &tio) != 0) {
            int e = errno;
            close(t.fd);
            return cli_fail(NM_ERR_IO, "send: port %s: raw mode: %s", o->port, strerror(e));
        }
        tcflush(t.fd, TCIFLUSH); /* stale bytes from before us */
    }
    nm_xfer_send_config_t c;
    memset(&c, 0, sizeof c);
    c.io = (nm_xfer_io_t){&t, tty_write, tty_read, tty_now_ms};
    c.module = mod;
    c.module_len = len;
    c.name = o->name;
    c.timeout_ms = o->timeout_ms;
    c.frame_max = (uint16_t)o->frame;
    nm_xfer_send_t *s = calloc(1, sizeof *s);
    nm_detail_t d = {{0}};
    int err = s ? nm_xfer_send_init(s, &c, &d) : NM_ERR_NOMEM;
    if (err) {
        close(t.fd);
        free(s);
        return cli_fail(err, "send %s: %s", o->path, s ? d.msg : "out of memory");
    }
    progress_t prog = {0, 0};
    uint32_t t0 = tty_now_ms(NULL);
    while (!nm_xfer_send_done(s)) {
        uint32_t ms = nm_xfer_send_poll(s);
        show_progress(&prog, s);
        if (nm_xfer_send_done(s)) {
            break;
        }
        struct pollfd pfd = {t.fd, POLLIN | (s->link.tx_len ? POLLOUT : 0), 0};
        int wait = ms > 100 ? 100 : (int)ms;
        if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
            s->result = NM_ERR_IO;
            snprintf(s->detail.msg, sizeof s->detail.msg, "poll on %s: %s", o->port, strerror(errno));
            break;
        }
        if (pfd.revents & (POLLERR | POLLNVAL)) {
            s->result = NM_ERR_IO;
            snprintf(s->detail.msg, sizeof s->detail.msg, "port %s failed (closed by the other end?)", o->port);
            break;
        }
    }
    int rc = 0;
    if (s->result) {
        rc = cli_fail(s->result, "send %s: %s", o->path, s->detail.msg[0] ? s->detail.msg : nm_strerror(s->result));
    } else {
        printf("%s\n", s->detail.msg);
        printf("sent %llu bytes in %u chunks (%u retransmitted, %u timeouts, %u offers, resumed at %u) in %.3f s "
               "over %s\n",
               (unsigned long long)s->stats.data_bytes, (unsigned)s->stats.chunks, (unsigned)s->stats.retransmits,
               (unsigned)s->stats.timeouts, (unsigned)s->stats.offers, (unsigned)s->stats.first_resume,
               (double)(uint32_t)(tty_now_ms(NULL) - t0) / 1000.0, o->port);
    }
    close(t.fd);
    free(s);
    return rc;
}

int cmd_send(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            send_help();
            return 0;
        }
    }
    send_opts_t o;
    memset(&o, 0, sizeof o);
    int rc = cli_trust_take(&argc, argv, &sim_trust);
    if (!rc) {
        rc = parse_opts(argc, argv, &o);
    }
    if (!rc && sim_trust.n && !o.sim) {
        rc = cli_fail(NM_ERR_INVAL, "send: --trust (the simulated target's keys) needs --sim");
    }
    if (rc) {
        return rc;
    }
    uint8_t *mod;
    size_t len;
    int err = cli_read_file(o.path, &mod, &len);
    if (err) {
        return cli_exit_code(err);
    }
    /* Refuse what is not a module before touching a store or a port. */
    nm_detail_t d = {{0}};
    if (nm_is_universal(mod, len)) {
        err = nm_universal_count(mod, len, &d);
        err = err > 0 ? 0 : err;
    } else {
        nm_image_t img;
        err = nm_image_parse(mod, len, &img, &d);
    }
    if (err) {
        free(mod);
        return cli_fail(err, "send %s: %s", o.path, d.msg[0] ? d.msg : nm_strerror(err));
    }
    rc = o.sim ? run_sim(&o, mod, len) : run_port(&o, mod, len);
    free(mod);
    return rc;
}
