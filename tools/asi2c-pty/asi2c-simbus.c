/*
 * asi2c-simbus: host a simulated asi2c bus on a Unix socket, with an
 * Initiator in this process, for asi2c-pty --sim (or any client of
 * sim_link.h) to be the Responder.
 *
 *   asi2c-simbus SOCKET [--echo | --store IMAGE] [--scl HZ] [--t-poll US] [--latency NS] [-v]
 *
 * --echo: the Initiator's application sends every byte it receives back.
 * --store IMAGE: the Initiator is a target board receiving modules with the
 * xfer protocol (natmod/xfer.h; `natmod send --port` on the pty is the
 * sender) and installing them into IMAGE (made by `natmod store format`,
 * default geometry), opened exclusively for the run and closed (synced) at
 * the end. The board is the host board (x86_64/hard, its exports).
 * Without either, received bytes are counted and dropped. Link statistics are
 * printed on stdout when SIGINT/SIGTERM ends the run. ASI2C_SIM_TRACE=1 in
 * the environment traces every bus action on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "asi2c/sim_link.h"
#include "board.h"
#include "natmod/xfer.h"
#include "store/bd_file.h"

#define BUF 200
#define RING 4096
#define RECV_BUF (1u << 20) /* the target's receive RAM, as natmod send --sim */
#define STORE_ENTRIES 256   /* as the natmod CLI */
#define STORE_BLOCK 4096u   /* natmod store format's default geometry */
#define STORE_PROG 16u
#define STORE_ALIGN 4096u
#define USAGE "usage: asi2c-simbus SOCKET [--echo | --store IMAGE] [--scl HZ] [--t-poll US] [--latency NS] [-v]\n"

static volatile sig_atomic_t stop_sig;
static void on_signal(int sig) { stop_sig = sig; }
static int should_stop(void *user) {
    (void)user;
    return stop_sig != 0;
}

typedef struct bus_app {
    nm_asi2c_t ch;
    uint8_t rxbuf[BUF], txbuf[BUF];
    int echo, verbose;
    uint8_t ring[RING]; /* received, not yet echoed */
    size_t head, len;
    uint64_t received, echoed;
} bus_app_t;

/* --store: the target board's store on the image file and its receiver. */
typedef struct target {
    nm_host_board_t board;
    nm_bd_file_t bd;
    nm_store_config_t cfg;
    nm_store_t s;
    nm_store_entry_t entries[STORE_ENTRIES];
    uint8_t buffer[NM_STORE_BUFFER_SIZE(NM_STORE_MAX_PROG)];
    nm_xfer_asi2c_t aio;
    nm_xfer_recv_t rcv;
    uint8_t rbuf[RECV_BUF];
    uint32_t installs_shown;
} target_t;

static int target_open(target_t *t, const char *image, nm_asi2c_t *ch) {
    nm_detail_t d = {{0}};
    int err = nm_host_board_init(&t->board, NULL);
    if (err) {
        fprintf(stderr, "asi2c-simbus: host board init failed: %s\n", nm_strerror(err));
        return err;
    }
    t->bd.fd = -1;
    err = nm_bd_file_open(&t->bd, image, NM_BD_FILE_OPEN, STORE_BLOCK, STORE_PROG, 0, &t->cfg, &d);
    if (err) {
        fprintf(stderr, "asi2c-simbus: store %s\n", d.msg); /* the message names the file */
        nm_host_board_deinit(&t->board);
        return err;
    }
    t->cfg.align = STORE_ALIGN;
    t->cfg.map_base = 0; /* copy mode, as the natmod CLI */
    t->cfg.rw_size = 0;
    t->cfg.loader = &t->board.cfg;
    t->cfg.entries = t->entries;
    t->cfg.max_entries = STORE_ENTRIES;
    t->cfg.buffer = t->buffer;
    err = nm_store_mount(&t->s, &t->cfg, &d);
    if (!err) {
        nm_xfer_recv_config_t rc;
        memset(&rc, 0, sizeof rc);
        nm_xfer_io_asi2c(&rc.io, &t->aio, ch);
        rc.store = &t->s;
        rc.buf = t->rbuf;
        rc.buf_size = RECV_BUF;
        err = nm_xfer_recv_init(&t->rcv, &rc, &d);
    }
    if (err) {
        fprintf(stderr, "asi2c-simbus: store %s: %s%s%s\n", image, d.msg[0] ? d.msg : nm_strerror(err),
                t->bd.last_error[0] ? ": " : "", t->bd.last_error);
        nm_bd_file_close(&t->bd);
        nm_host_board_deinit(&t->board);
    }
    return err;
}

static uint32_t recv_app(void *user, nm_sim_t *sim, int side) {
    target_t *t = user;
    (void)sim;
    (void)side;
    uint32_t ms = nm_xfer_recv_poll(&t->rcv);
    if (t->rcv.stats.installs + t->rcv.stats.install_errors != t->installs_shown) {
        t->installs_shown = t->rcv.stats.installs + t->rcv.stats.install_errors;
        fprintf(stderr, "asi2c-simbus: %s\n", t->rcv.done_detail.msg[0] ? t->rcv.done_detail.msg
                                                                        : nm_strerror(t->rcv.done_status));
    }
    return ms == NM_XFER_NO_DEADLINE ? NM_ASI2C_NO_DEADLINE : (ms > 4000000u ? 4000000000u : ms * 1000u);
}

static void on_event(void *user, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    bus_app_t *a = user;
    (void)arg;
    if (!a->verbose)
        return;
    if (ev == NM_ASI2C_EV_GO)
        fprintf(stderr, "asi2c-simbus: link up\n");
    else if (ev == NM_ASI2C_EV_FAIL || ev == NM_ASI2C_EV_ERROR)
        fprintf(stderr, "asi2c-simbus: %s: %s\n", nm_strerror(err), ch->detail.msg);
}

/* Run by the sim after each step of the Initiator. */
static uint32_t echo_app(void *user, nm_sim_t *sim, int side) {
    bus_app_t *a = user;
    (void)sim;
    (void)side;
    uint8_t tmp[BUF];
    for (;;) {
        size_t room = a->echo ? RING - a->len : sizeof tmp;
        size_t want = room < sizeof tmp ? room : sizeof tmp;
        size_t got = want ? nm_asi2c_read(&a->ch, tmp, want) : 0;
        if (!got)
            break;
        a->received += got;
        for (size_t i = 0; a->echo && i < got; i++)
            a->ring[(a->head + a->len++) % RING] = tmp[i];
    }
    while (a->len && nm_asi2c_writable(&a->ch)) {
        size_t n = 0;
        for (; n < a->len && n < BUF; n++)
            tmp[n] = a->ring[(a->head + n) % RING];
        int took = nm_asi2c_write(&a->ch, tmp, n);
        if (took <= 0)
            break;
        a->head = (a->head + (size_t)took) % RING;
        a->len -= (size_t)took;
        a->echoed += (uint64_t)took;
    }
    return NM_ASI2C_NO_DEADLINE;
}

static int number(const char *opt, const char *s, unsigned long lo, unsigned long hi, unsigned long *v) {
    char *end;
    errno = 0;
    unsigned long n = s ? strtoul(s, &end, 0) : 0;
    if (!s || !*s || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "asi2c-simbus: %s needs a number in %lu..%lu, not '%s'\n", opt, lo, hi, s ? s : "");
        return NM_ERR_INVAL;
    }
    *v = n;
    return NM_OK;
}

int main(int argc, char **argv) {
    static bus_app_t app;
    static nm_simlink_host_t host;
    bus_app_t *a = &app;
    const char *path = NULL, *image = NULL;
    unsigned long scl = 400000, t_poll = 0, latency = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = NM_OK;
        if (!strcmp(o, "--echo"))
            a->echo = 1;
        else if (!strcmp(o, "--store") && v)
            image = v, i++;
        else if (!strcmp(o, "-v"))
            a->verbose = 1;
        else if (!strcmp(o, "--scl"))
            rc = number(o, v, 1000, 10000000, &scl), i++;
        else if (!strcmp(o, "--t-poll"))
            rc = number(o, v, 1, 10000000, &t_poll), i++;
        else if (!strcmp(o, "--latency"))
            rc = number(o, v, 1, 40000, &latency), i++; /* stays inside the 50 us guard */
        else if (o[0] != '-' && !path)
            path = o;
        else {
            fprintf(stderr, "asi2c-simbus: unknown argument %s; " USAGE, o);
            return -NM_ERR_INVAL;
        }
        if (rc < 0)
            return -rc;
    }
    if (!path || (image && a->echo)) {
        fprintf(stderr, "asi2c-simbus: %s; " USAGE, path ? "--echo and --store exclude each other" : "no SOCKET");
        return -NM_ERR_INVAL;
    }

    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    nm_sim_config_t sc = {.scl_hz = (uint32_t)scl, .latency_ns = (uint32_t)latency, .seed = 1};
    if (getenv("ASI2C_SIM_TRACE"))
        sc.trace = stderr; /* every wire change and transfer, for debugging */
    nm_sim_t *sim = nm_sim_new(&sc);
    if (!sim) {
        fprintf(stderr, "asi2c-simbus: out of memory for the simulated bus\n");
        return -NM_ERR_NOMEM;
    }
    nm_asi2c_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = NM_ASI2C_INITIATOR;
    cfg.hal = nm_sim_hal(sim, NM_SIM_I, 1);
    cfg.rxbuf = a->rxbuf;
    cfg.rxbufsize = BUF;
    cfg.txbuf = a->txbuf;
    cfg.txbufsize = BUF;
    cfg.t_poll_us = (uint32_t)t_poll;
    cfg.event_cb = on_event;
    cfg.app = a;
    int rc = nm_asi2c_init(&a->ch, &cfg);
    if (rc < 0) {
        fprintf(stderr, "asi2c-simbus: %s\n", a->ch.detail.msg);
        return -rc;
    }
    nm_sim_attach(sim, NM_SIM_I, &a->ch);
    target_t *tgt = NULL;
    if (image) {
        tgt = calloc(1, sizeof *tgt);
        rc = tgt ? target_open(tgt, image, &a->ch) : NM_ERR_NOMEM;
        if (rc < 0) {
            if (!tgt)
                fprintf(stderr, "asi2c-simbus: out of memory for the store\n");
            free(tgt);
            nm_sim_free(sim);
            return -rc;
        }
        nm_sim_set_app(sim, NM_SIM_I, recv_app, tgt);
    } else {
        nm_sim_set_app(sim, NM_SIM_I, echo_app, a);
    }

    host.stop = should_stop;
    host.sigmask = &waitmask;
    host.log = a->verbose ? stderr : NULL;
    host.min_gap_ns = (uint32_t)(latency > 2000 ? latency : 2000) + 8000u;
    rc = nm_simlink_host_open(&host, path);
    if (rc < 0) {
        fprintf(stderr, "asi2c-simbus: %s\n", host.err.msg);
        nm_sim_free(sim);
        if (tgt) {
            nm_bd_file_close(&tgt->bd);
            nm_host_board_deinit(&tgt->board);
            free(tgt);
        }
        return -rc;
    }
    rc = nm_simlink_host_run(&host, sim);
    nm_simlink_host_close(&host);
    if (rc < 0)
        fprintf(stderr, "asi2c-simbus: %s\n", host.err.msg);

    const nm_asi2c_stats_t *s = &a->ch.stats;
    nm_sim_stats_t ss;
    nm_sim_stats(sim, &ss);
    printf("asi2c-simbus: %u exchanges (mean %.0f us, max %u us), I->R %u payloads %llu bytes, "
           "R->I %u payloads %llu bytes, %u responder failures, %llu bytes received, %llu echoed\n",
           s->block_cnt, s->block_cnt ? (double)s->block_sum_us / s->block_cnt : 0.0, s->block_max_us,
           s->tx_payloads, (unsigned long long)s->tx_bytes, s->rx_payloads, (unsigned long long)s->rx_bytes,
           s->nboots, (unsigned long long)a->received, (unsigned long long)a->echoed);
    printf("asi2c-simbus: bus %llu transfers, %llu nacks, %u responder reboots; client %u connects, "
           "%u messages in, %u out, %u bad; sim lag max %.1f us\n",
           (unsigned long long)ss.transfers, (unsigned long long)ss.nacks, ss.reboots, host.connects,
           host.msgs_in, host.msgs_out, host.bad_msgs, (double)host.max_lag_ns / 1000.0);
    if (tgt) {
        const nm_xfer_recv_stats_t *x = &tgt->rcv.stats;
        printf("asi2c-simbus: store %s: %u hellos, %u offers, %u chunks kept, %u dropped, %u commits, "
               "%u installs, %u failed; %u bad frames\n",
               image, x->hellos, x->offers, x->data_ok, x->data_dropped, x->commits, x->installs,
               x->install_errors, tgt->rcv.link.bad_frames);
        /* every install synced the device already; closing makes it durable for the next opener */
        if (nm_bd_file_close(&tgt->bd) < 0 && rc >= 0) {
            fprintf(stderr, "asi2c-simbus: store %s: close failed: %s\n", image, tgt->bd.last_error);
            rc = NM_ERR_IO;
        }
        nm_host_board_deinit(&tgt->board);
        free(tgt);
    }
    fflush(stdout);
    nm_sim_free(sim);
    return rc < 0 ? -rc : 0;
}
