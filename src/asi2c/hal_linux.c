/*
 * The asi2c Responder on Linux: the HAL over an io, the ppoll() loop, and
 * the hardware io (i2c-dev + libgpiod v1). See hal_linux.h.
 */
#include "asi2c/hal_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <linux/i2c-dev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLER_FDS 14

/* ---- the HAL ----------------------------------------------------------- */

static void hal_set_own(void *ctx, int level) {
    nm_linux_responder_t *r = ctx;
    r->io.set_ack(r->io.ctx, level);
}

static int hal_get_peer(void *ctx) {
    nm_linux_responder_t *r = ctx;
    return r->io.get_sync(r->io.ctx);
}

static int hal_peer_fell(void *ctx) {
    nm_linux_responder_t *r = ctx;
    return r->io.sync_fell(r->io.ctx);
}

static uint32_t hal_now_us(void *ctx) {
    nm_linux_responder_t *r = ctx;
    return (uint32_t)(r->io.now_ns(r->io.ctx) / 1000u);
}

/* The transfer is over when io.xfer returns, so completion is reported
 * before the start function returns. A NACK is a finished transfer with an
 * error (the core then says "I2C transfer failed"), not a failure to start. */
static int hal_xfer(nm_linux_responder_t *r, int write, uint8_t addr, uint8_t *buf, size_t len) {
    int rc = r->io.xfer(r->io.ctx, write, addr, buf, len);
    r->xfers++;
    nm_asi2c_xfer_done(r->ch, rc);
    return NM_OK;
}

static int hal_master_read(void *ctx, uint8_t addr, uint8_t *buf, size_t len) {
    return hal_xfer(ctx, 0, addr, buf, len);
}

static int hal_master_write(void *ctx, uint8_t addr, const uint8_t *buf, size_t len) {
    /* The io's signature is shared with reads; a write never stores into buf. */
    return hal_xfer(ctx, 1, addr, (uint8_t *)buf, len);
}

nm_asi2c_hal_t nm_linux_hal(nm_linux_responder_t *r) {
    nm_asi2c_hal_t h;
    memset(&h, 0, sizeof h);
    h.ctx = r;
    h.set_own = hal_set_own;
    h.get_peer = hal_get_peer;
    h.now_us = hal_now_us;
    if (r->io.sync_fell)
        h.peer_fell = hal_peer_fell;
    h.master_read = hal_master_read;
    h.master_write = hal_master_write;
    return h;
}

/* ---- the loop ---------------------------------------------------------- */

int nm_linux_responder_init(nm_linux_responder_t *r, const nm_linux_io_t *io, nm_asi2c_t *ch,
                            const nm_asi2c_config_t *cfg, nm_linux_reboot_fn reboot_cb, void *user) {
    memset(r, 0, sizeof *r);
    r->io = *io;
    r->ch = ch;
    r->cfg = *cfg;
    r->cfg.role = NM_ASI2C_RESPONDER;
    r->cfg.hal = nm_linux_hal(r);
    r->reboot_cb = reboot_cb;
    r->reboot_user = user;
    int rc = nm_asi2c_init(ch, &r->cfg);
    r->stepped_ns = io->now_ns(io->ctx);
    if (io->reset)
        r->held = (io->reset(io->ctx) & NM_LINUX_RESET_HELD) != 0;
    return rc;
}

void nm_linux_responder_close(nm_linux_responder_t *r) {
    if (r->io.close)
        r->io.close(r->io.ctx);
    memset(&r->io, 0, sizeof r->io);
}

/* Apply what the reset wire did since we last looked. A release re-runs our
 * init, as a microcontroller's boot would, and then the application's. */
static void check_reset(nm_linux_responder_t *r) {
    if (!r->io.reset)
        return;
    unsigned f = r->io.reset(r->io.ctx);
    if (f & NM_LINUX_RESET_REBOOT) {
        r->reboots++;
        nm_asi2c_init(r->ch, &r->cfg);
        r->wait_us = 0;
        r->stepped_ns = r->io.now_ns(r->io.ctx);
        if (r->reboot_cb)
            r->reboot_cb(r->reboot_user, r);
    }
    r->held = (f & NM_LINUX_RESET_HELD) != 0;
}

/* Step until the core waits for something. A transfer inside step() may
 * have seen a reset, so look again after each step. */
static void run(nm_linux_responder_t *r) {
    for (int i = 0; i < 16; i++) {
        if (r->held)
            return;
        r->wait_us = nm_asi2c_step(r->ch);
        r->stepped_ns = r->io.now_ns(r->io.ctx);
        check_reset(r);
        if (r->wait_us != 0)
            return;
    }
}

static void set_err(nm_linux_err_t *err, const char *fmt, const char *a, const char *b) {
    if (err)
        snprintf(err->msg, sizeof err->msg, fmt, a, b);
}

int nm_linux_responder_poll(nm_linux_responder_t *r, struct pollfd *fds, unsigned nfds,
                            int64_t max_wait_ns, const sigset_t *sigmask, nm_linux_err_t *err) {
    if (nfds > MAX_CALLER_FDS || (nfds && !fds)) {
        set_err(err, "asi2c responder: %s%s", "too many fds for the loop", "");
        return NM_ERR_INVAL;
    }
    check_reset(r);
    run(r);

    /* The deadline is relative to the step that returned it. */
    int64_t wait = -1;
    uint64_t due = 0;
    if (!r->held && r->wait_us != NM_ASI2C_NO_DEADLINE) {
        due = r->stepped_ns + (uint64_t)r->wait_us * 1000u;
        uint64_t now = r->io.now_ns(r->io.ctx);
        wait = due > now ? (int64_t)(due - now) : 0;
    }
    if (max_wait_ns >= 0 && (wait < 0 || wait > max_wait_ns))
        wait = max_wait_ns;

    struct pollfd p[MAX_CALLER_FDS + 1];
    p[0].fd = r->io.edge_fd(r->io.ctx);
    p[0].events = POLLIN;
    p[0].revents = 0;
    for (unsigned i = 0; i < nfds; i++) {
        p[i + 1] = fds[i];
        p[i + 1].revents = 0;
    }
    struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
    int n = ppoll(p, nfds + 1, wait < 0 ? NULL : &ts, sigmask);
    if (n < 0) {
        for (unsigned i = 0; i < nfds; i++)
            fds[i].revents = 0;
        if (errno == EINTR)
            return 0;
        set_err(err, "asi2c responder: ppoll: %s%s", strerror(errno), "");
        return NM_ERR_IO;
    }
    if (p[0].revents) {
        r->edges++;
        int rc = r->io.drain(r->io.ctx);
        if (rc < 0) {
            set_err(err, "asi2c responder: %s%s", "lost the sync wire (bus host hung up or GPIO read failed)",
                    "");
            return rc;
        }
    } else if (due) {
        uint64_t now = r->io.now_ns(r->io.ctx);
        if (now > due && (now - due) / 1000u > r->max_late_us)
            r->max_late_us = (uint32_t)((now - due) / 1000u);
    }
    check_reset(r);
    run(r);
    int ready = 0;
    for (unsigned i = 0; i < nfds; i++) {
        fds[i].revents = p[i + 1].revents;
        ready += fds[i].revents != 0;
    }
    return ready;
}

/* ---- hardware io: i2c-dev + libgpiod v1 -------------------------------- */

/* i2c-dev refuses single read()/write() calls above this. */
#define HW_MAX_XFER 8192

struct hw_io {
    int i2c_fd;
    int cur_addr;
    struct gpiod_chip *chip;
    struct gpiod_line *sync, *ack;
    int fell;  /* a falling edge of sync was read and not yet taken */
    int lost;  /* the event queue failed */
    uint8_t scratch[HW_MAX_XFER]; /* reads with buf NULL land here */
};

static int hw_xfer(void *ctx, int is_write, uint8_t addr, uint8_t *buf, size_t len) {
    struct hw_io *h = ctx;
    if (len > HW_MAX_XFER)
        return NM_ERR_IO;
    if (h->cur_addr != addr) {
        if (ioctl(h->i2c_fd, I2C_SLAVE, (unsigned long)addr) < 0)
            return NM_ERR_IO;
        h->cur_addr = addr;
    }
    /* One read()/write() is one start..stop on the bus: never continue a
     * short count with a second call, that would be a second transfer. */
    ssize_t n;
    do {
        if (is_write)
            n = len ? write(h->i2c_fd, buf, len) : 0;
        else
            n = len ? read(h->i2c_fd, buf ? buf : h->scratch, len) : 0;
    } while (n < 0 && errno == EINTR);
    /* An address NACK is ENXIO, or EREMOTEIO on adapters that do not tell
     * it from a data NACK (bcm2835, designware). A read is never NACKed by
     * the slave after its address, so EREMOTEIO there is the address; on a
     * write it may be a data NACK, whose retry the core bounds by time. */
    if (n < 0)
        return errno == ENXIO || errno == EREMOTEIO ? NM_ASI2C_ERR_NACK : NM_ERR_IO;
    return (int)n;
}

static void hw_set_ack(void *ctx, int level) {
    struct hw_io *h = ctx;
    gpiod_line_set_value(h->ack, level ? 1 : 0);
}

static int hw_get_sync(void *ctx) {
    struct hw_io *h = ctx;
    int v = gpiod_line_get_value(h->sync);
    /* An unreadable line reads as the pull-up: the core then times out. */
    return v < 0 ? 1 : v;
}

static int hw_edge_fd(void *ctx) {
    struct hw_io *h = ctx;
    return gpiod_line_event_get_fd(h->sync);
}

/* Read the waiting edge events without blocking. They wake us, and a
 * falling edge sets the latch: the core reads the level itself, and a low
 * pulse that is over by then is seen only here. */
static int hw_read_events(struct hw_io *h) {
    struct pollfd p = {.fd = gpiod_line_event_get_fd(h->sync), .events = POLLIN};
    for (int i = 0; i < 64 && poll(&p, 1, 0) > 0; i++) {
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
            return NM_ERR_IO;
        struct gpiod_line_event ev;
        if (gpiod_line_event_read(h->sync, &ev) < 0)
            return NM_ERR_IO;
        if (ev.event_type == GPIOD_LINE_EVENT_FALLING_EDGE)
            h->fell = 1;
    }
    return NM_OK;
}

static int hw_drain(void *ctx) {
    struct hw_io *h = ctx;
    int rc = h->lost ? NM_ERR_IO : hw_read_events(h);
    if (rc < 0)
        h->lost = 1;
    return rc;
}

/* Called from step(): take the events that came since the last drain too. */
static int hw_sync_fell(void *ctx) {
    struct hw_io *h = ctx;
    if (!h->lost && hw_read_events(h) < 0)
        h->lost = 1; /* the next drain reports it */
    int f = h->fell;
    h->fell = 0;
    return f;
}

static uint64_t mono_ns(void *ctx) {
    (void)ctx;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void hw_close(void *ctx) {
    struct hw_io *h = ctx;
    if (!h)
        return;
    if (h->sync)
        gpiod_line_release(h->sync);
    if (h->ack)
        gpiod_line_release(h->ack);
    if (h->chip)
        gpiod_chip_close(h->chip);
    if (h->i2c_fd >= 0)
        close(h->i2c_fd);
    free(h);
}

static struct gpiod_chip *open_chip(const char *name) {
    if (strchr(name, '/'))
        return gpiod_chip_open(name);
    char *end;
    unsigned long num = strtoul(name, &end, 10);
    if (*name && !*end)
        return gpiod_chip_open_by_number((unsigned)num);
    return gpiod_chip_open_by_name(name);
}

static int hw_fail(struct hw_io *h, nm_linux_err_t *err, const char *what, const char *name, unsigned line) {
    int e = errno;
    if (err) {
        if (line != ~0u)
            snprintf(err->msg, sizeof err->msg, "%s %s line %u: %s", what, name, line, strerror(e));
        else
            snprintf(err->msg, sizeof err->msg, "%s %s: %s", what, name, strerror(e));
    }
    hw_close(h);
    return NM_ERR_IO;
}

int nm_linux_io_open_hw(nm_linux_io_t *io, const nm_linux_hw_config_t *cfg, nm_linux_err_t *err) {
    memset(io, 0, sizeof *io);
    if (!cfg || !cfg->i2c_dev || !cfg->chip) {
        set_err(err, "asi2c hw: %s%s", "an I2C device and a GPIO chip are required", "");
        return NM_ERR_INVAL;
    }
    if (cfg->sync_line == cfg->ack_line) {
        set_err(err, "asi2c hw: sync and ack are the same line on %s%s", cfg->chip, "");
        return NM_ERR_INVAL;
    }
    struct hw_io *h = calloc(1, sizeof *h);
    if (!h) {
        set_err(err, "asi2c hw: %s%s", "out of memory", "");
        return NM_ERR_NOMEM;
    }
    h->cur_addr = -1;
    h->i2c_fd = open(cfg->i2c_dev, O_RDWR | O_CLOEXEC);
    if (h->i2c_fd < 0)
        return hw_fail(h, err, "cannot open", cfg->i2c_dev, ~0u);
    unsigned long funcs = 0;
    if (ioctl(h->i2c_fd, I2C_FUNCS, &funcs) < 0)
        return hw_fail(h, err, "not an i2c-dev device:", cfg->i2c_dev, ~0u);
    const char *label = cfg->consumer ? cfg->consumer : "asi2c";
    h->chip = open_chip(cfg->chip);
    if (!h->chip)
        return hw_fail(h, err, "cannot open GPIO chip", cfg->chip, ~0u);
    h->sync = gpiod_chip_get_line(h->chip, cfg->sync_line);
    if (!h->sync)
        return hw_fail(h, err, "no sync line on", cfg->chip, cfg->sync_line);
    if (gpiod_line_request_both_edges_events(h->sync, label) < 0) {
        h->sync = NULL;
        return hw_fail(h, err, "cannot request sync (both edges) on", cfg->chip, cfg->sync_line);
    }
    h->ack = gpiod_chip_get_line(h->chip, cfg->ack_line);
    if (!h->ack)
        return hw_fail(h, err, "no ack line on", cfg->chip, cfg->ack_line);
    /* The core starts with its wire high; so does the pin. */
    if (gpiod_line_request_output(h->ack, label, 1) < 0) {
        h->ack = NULL;
        return hw_fail(h, err, "cannot request ack (output) on", cfg->chip, cfg->ack_line);
    }
    io->ctx = h;
    io->xfer = hw_xfer;
    io->set_ack = hw_set_ack;
    io->get_sync = hw_get_sync;
    io->edge_fd = hw_edge_fd;
    io->drain = hw_drain;
    io->sync_fell = hw_sync_fell;
    io->now_ns = mono_ns;
    io->reset = NULL;
    io->close = hw_close;
    return NM_OK;
}
