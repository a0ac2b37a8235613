/*
 * asi2c-pty: the asi2c Responder as a pseudo-terminal. Bytes written to the
 * pty travel over the link to the Initiator; payloads from the Initiator
 * come out of the pty. On a board (i2c-dev + GPIO) or on the simulated bus
 * of asi2c-simbus (--sim), through the same HAL and loop (hal_linux.h).
 *
 *   asi2c-pty --i2c /dev/i2c-1 --chip gpiochip0 --sync 17 --ack 27
 *             [--addr 0x12] [--rxbufsize 200] [--txbufsize 200] [--peer-rxbufsize 200]
 *             [--link PATH] [-v]
 *   asi2c-pty --sim SOCKET [...]
 *
 * Prints the pty's path on stdout (one line). Exits 0 on SIGINT/SIGTERM
 * (after removing --link), non-zero with one line on stderr on an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "asi2c/hal_linux.h"
#include "asi2c/sim_link.h"

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig) { stop_sig = sig; }

typedef struct pty_app {
    nm_asi2c_t ch;
    nm_linux_responder_t r;
    int master, slave;
    const char *link;
    int verbose;
    size_t rxbufsize, txbufsize;
    uint8_t *rxbuf, *txbuf;
    uint8_t *out;          /* payload on its way to the pty */
    size_t out_len, out_off;
    uint8_t *in;           /* bytes read from the pty for the link */
    uint64_t to_pty, from_pty;
} pty_app_t;

static int fail(pty_app_t *a, int err, const char *fmt, const char *x, const char *y) {
    fprintf(stderr, "asi2c-pty: ");
    fprintf(stderr, fmt, x, y);
    fputc('\n', stderr);
    if (a && a->link)
        unlink(a->link);
    return -err;
}

static void usage(void) {
    fprintf(stderr,
            "usage: asi2c-pty (--i2c DEV --chip CHIP --sync LINE --ack LINE | --sim SOCKET)\n"
            "                 [--addr A] [--rxbufsize N] [--txbufsize N] [--peer-rxbufsize N]\n"
            "                 [--link PATH] [-v]\n");
}

/* A number in [lo, hi]; 0x.. accepted. */
static int number(const char *opt, const char *s, unsigned long lo, unsigned long hi, unsigned long *v) {
    char *end;
    errno = 0;
    unsigned long n = s ? strtoul(s, &end, 0) : 0;
    if (!s || !*s || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "asi2c-pty: %s needs a number in %lu..%lu, not '%s'\n", opt, lo, hi, s ? s : "");
        return NM_ERR_INVAL;
    }
    *v = n;
    return NM_OK;
}

static void on_event(void *user, nm_asi2c_t *ch, enum nm_asi2c_event ev, int err, uint32_t arg) {
    pty_app_t *a = user;
    if (!a->verbose)
        return;
    switch (ev) {
    case NM_ASI2C_EV_GO:
        fprintf(stderr, "asi2c-pty: link up\n");
        break;
    case NM_ASI2C_EV_ERROR:
        fprintf(stderr, "asi2c-pty: %s: %s\n", nm_strerror(err), ch->detail.msg);
        break;
    default:
        if (a->verbose > 1)
            fprintf(stderr, "asi2c-pty: event %d (%u bytes)\n", (int)ev, (unsigned)arg);
        break;
    }
}

/* The Initiator reset us: what was on its way to the pty died with our RAM. */
static void on_reboot(void *user, nm_linux_responder_t *r) {
    pty_app_t *a = user;
    a->out_len = a->out_off = 0;
    if (a->verbose)
        fprintf(stderr, "asi2c-pty: reset by the initiator (reboot %u)\n", (unsigned)r->reboots);
}

static int open_pty(pty_app_t *a, char *name, size_t size) {
    a->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (a->master < 0)
        return fail(a, NM_ERR_IO, "cannot open a pty (/dev/ptmx): %s%s", strerror(errno), "");
    if (grantpt(a->master) < 0 || unlockpt(a->master) < 0 || ptsname_r(a->master, name, size) != 0)
        return fail(a, NM_ERR_IO, "cannot unlock the pty: %s%s", strerror(errno), "");
    /* Keep the slave open ourselves: the master then never reads EIO when
     * the last user closes it, and the raw settings stay. */
    a->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (a->slave < 0)
        return fail(a, NM_ERR_IO, "cannot open %s: %s", name, strerror(errno));
    struct termios t;
    if (tcgetattr(a->slave, &t) < 0)
        return fail(a, NM_ERR_IO, "cannot read the settings of %s: %s", name, strerror(errno));
    cfmakeraw(&t);
    if (tcsetattr(a->slave, TCSANOW, &t) < 0)
        return fail(a, NM_ERR_IO, "cannot make %s raw: %s", name, strerror(errno));
    fcntl(a->master, F_SETFL, fcntl(a->master, F_GETFL) | O_NONBLOCK);
    return NM_OK;
}

static int make_link(pty_app_t *a, const char *target) {
    struct stat st;
    if (lstat(a->link, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            const char *l = a->link;
            a->link = NULL; /* not ours: never remove it */
            return fail(a, NM_ERR_INVAL, "--link %s exists and is not a symlink%s", l, "");
        }
        unlink(a->link);
    }
    if (symlink(target, a->link) < 0) {
        const char *l = a->link;
        a->link = NULL;
        return fail(a, NM_ERR_IO, "cannot create the symlink %s: %s", l, strerror(errno));
    }
    return NM_OK;
}

/* Move bytes between the channel and the pty as far as they go now. */
static void pump_out(pty_app_t *a) {
    if (a->out_off == a->out_len) {
        /* Reading drains our receive slot, which ends our hold-off. */
        a->out_len = nm_asi2c_read(&a->ch, a->out, a->rxbufsize);
        a->out_off = 0;
    }
    while (a->out_off < a->out_len) {
        ssize_t k = write(a->master, a->out + a->out_off, a->out_len - a->out_off);
        if (k <= 0)
            break; /* full: wait for POLLOUT */
        a->out_off += (size_t)k;
        a->to_pty += (uint64_t)k;
    }
}

static void pump_in(pty_app_t *a) {
    if (!nm_asi2c_writable(&a->ch))
        return;
    ssize_t n = read(a->master, a->in, a->txbufsize);
    if (n <= 0)
        return;
    /* writable() and n <= txbufsize: the slot takes all of it. */
    int took = nm_asi2c_write(&a->ch, a->in, (size_t)n);
    if (took > 0)
        a->from_pty += (uint64_t)took;
}

int main(int argc, char **argv) {
    static pty_app_t app;
    pty_app_t *a = &app;
    a->master = a->slave = -1;
    nm_linux_hw_config_t hw = {.consumer = "asi2c-pty"};
    const char *sim = NULL;
    unsigned long addr = NM_ASI2C_ADDR, rxsize = NM_ASI2C_RXBUF_DEFAULT, txsize = NM_ASI2C_RXBUF_DEFAULT;
    unsigned long peer_rxsize = NM_ASI2C_RXBUF_DEFAULT;
    int have_sync = 0, have_ack = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
        int takes = 1;
        if (!strcmp(o, "--i2c"))
            hw.i2c_dev = v;
        else if (!strcmp(o, "--chip"))
            hw.chip = v;
        else if (!strcmp(o, "--sim"))
            sim = v;
        else if (!strcmp(o, "--link"))
            a->link = v;
        else if (!strcmp(o, "--sync") || !strcmp(o, "--ack")) {
            if (number(o, v, 0, 1023, &n) < 0)
                return -NM_ERR_INVAL;
            if (o[2] == 's') {
                hw.sync_line = (unsigned)n;
                have_sync = 1;
            } else {
                hw.ack_line = (unsigned)n;
                have_ack = 1;
            }
        } else if (!strcmp(o, "--addr")) {
            if (number(o, v, 0x08, 0x77, &addr) < 0)
                return -NM_ERR_INVAL;
        } else if (!strcmp(o, "--rxbufsize")) {
            if (number(o, v, 1, NM_ASI2C_MAX_LEN, &rxsize) < 0)
                return -NM_ERR_INVAL;
        } else if (!strcmp(o, "--txbufsize")) {
            if (number(o, v, 1, NM_ASI2C_MAX_LEN, &txsize) < 0)
                return -NM_ERR_INVAL;
        } else if (!strcmp(o, "--peer-rxbufsize")) {
            if (number(o, v, 1, NM_ASI2C_MAX_LEN, &peer_rxsize) < 0)
                return -NM_ERR_INVAL;
        } else if (!strcmp(o, "-v")) {
            a->verbose++;
            takes = 0;
        } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "asi2c-pty: unknown option %s\n", o);
            usage();
            return -NM_ERR_INVAL;
        }
        if (takes) {
            if (!v) {
                fprintf(stderr, "asi2c-pty: %s needs a value\n", o);
                return -NM_ERR_INVAL;
            }
            i++;
        }
    }
    int hw_any = hw.i2c_dev || hw.chip || have_sync || have_ack;
    if (sim ? hw_any : !(hw.i2c_dev && hw.chip && have_sync && have_ack)) {
        fprintf(stderr, "asi2c-pty: give either --sim SOCKET or all of --i2c, --chip, --sync and --ack\n");
        usage();
        return -NM_ERR_INVAL;
    }
    a->rxbufsize = rxsize;
    /* One read from the pty is one payload: never more than the peer takes
     * (write() would refuse it and the bytes would be lost). */
    a->txbufsize = txsize < peer_rxsize ? txsize : peer_rxsize;
    a->rxbuf = malloc(rxsize);
    a->txbuf = malloc(txsize);
    a->out = malloc(rxsize);
    a->in = malloc(txsize);
    if (!a->rxbuf || !a->txbuf || !a->out || !a->in) {
        fprintf(stderr, "asi2c-pty: out of memory for %lu + %lu byte buffers\n", rxsize, txsize);
        return -NM_ERR_NOMEM;
    }

    nm_linux_io_t io;
    nm_linux_err_t err = {{0}};
    int rc = sim ? nm_linux_io_open_sim(&io, sim, &err) : nm_linux_io_open_hw(&io, &hw, &err);
    if (rc < 0) {
        fprintf(stderr, "asi2c-pty: %s\n", err.msg);
        return -rc;
    }

    /* SIGINT/SIGTERM only arrive inside the loop's ppoll(): no lost wake-up. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGHUP);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The core's 20 us and 50 us waits: ask for tight timer wake-ups. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    char name[128];
    rc = open_pty(a, name, sizeof name);
    if (rc == NM_OK && a->link)
        rc = make_link(a, name);
    if (rc != NM_OK) {
        io.close(io.ctx);
        return rc;
    }

    nm_asi2c_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.addr = (uint8_t)addr;
    cfg.rxbuf = a->rxbuf;
    cfg.rxbufsize = rxsize;
    cfg.txbuf = a->txbuf;
    cfg.txbufsize = txsize;
    cfg.peer_rxbufsize = peer_rxsize;
    cfg.event_cb = on_event;
    cfg.app = a;
    rc = nm_linux_responder_init(&a->r, &io, &a->ch, &cfg, on_reboot, a);
    if (rc < 0) {
        nm_linux_responder_close(&a->r);
        return fail(a, rc, "%s%s", a->ch.detail.msg, "");
    }
    printf("%s\n", name);
    fflush(stdout);

    int status = 0;
    while (!stop_sig) {
        pump_out(a);
        struct pollfd p = {.fd = a->master, .events = 0};
        if (nm_asi2c_writable(&a->ch))
            p.events |= POLLIN;
        if (a->out_off < a->out_len)
            p.events |= POLLOUT;
        rc = nm_linux_responder_poll(&a->r, &p, 1, -1, &waitmask, &err);
        if (rc < 0) {
            if (sim)
                status = fail(a, rc, "bus host at %s hung up%s", sim, "");
            else
                status = fail(a, rc, "%s (GPIO chip %s)", err.msg, hw.chip);
            break;
        }
        if (p.revents & POLLIN)
            pump_in(a);
    }
    if (a->verbose) {
        const nm_asi2c_stats_t *s = &a->ch.stats;
        fprintf(stderr,
                "asi2c-pty: %u exchanges, to link %u payloads %llu bytes, from link %u payloads %llu bytes, "
                "%u aborts, %u reboots, %u transfers, worst wake-up %u us late\n",
                s->block_cnt, s->tx_payloads, (unsigned long long)s->tx_bytes, s->rx_payloads,
                (unsigned long long)s->rx_bytes, s->aborts, a->r.reboots, a->r.xfers, a->r.max_late_us);
    }
    if (a->link && status == 0)
        unlink(a->link);
    nm_linux_responder_close(&a->r);
    close(a->slave);
    close(a->master);
    return status;
}
