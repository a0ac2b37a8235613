/*
 * The two-process simulated bus: the bus host (real-time driver of an
 * nm_sim_t with an external Responder) and the client io for hal_linux.
 * Message format: sim_link.h.
 */
#include "asi2c/sim_link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int fill_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (!path || !*path || strlen(path) >= sizeof a->sun_path)
        return NM_ERR_INVAL;
    memcpy(a->sun_path, path, strlen(path) + 1);
    return NM_OK;
}

/* ===== client io ========================================================= */

struct sim_io {
    int fd;
    int sync;       /* last PEER */
    int held;       /* last RESET said down */
    int reboot;     /* a RESET 0 not yet taken by reset() */
    int lost;       /* the host hung up or broke the protocol */
    int have_peer;
    int fell;       /* edge latch: a PEER 0 after a PEER 1, not yet taken */
    int coalesce;   /* drain() reads everything waiting (nm_linux_io_sim_coalesce) */
    /* the transfer being waited for */
    int waiting;
    int wwrite;
    uint8_t *rbuf;
    size_t rlen;
    int result;
    int done;
    uint8_t msg[NM_SIMLINK_MSG_MAX];
};

static int io_send(struct sim_io *s, const uint8_t *m, size_t n) {
    if (s->lost)
        return NM_ERR_IO;
    ssize_t k;
    do
        k = send(s->fd, m, n, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)n) {
        s->lost = 1;
        return NM_ERR_IO;
    }
    return NM_OK;
}

/* One message from the host. */
static void io_handle(struct sim_io *s, const uint8_t *m, size_t n) {
    if (n == 2 && m[0] == NM_SIMLINK_PEER) {
        if (s->sync && !m[1])
            s->fell = 1;
        s->sync = m[1] ? 1 : 0;
        s->have_peer = 1;
    } else if (n == 2 && m[0] == NM_SIMLINK_RESET) {
        if (m[1]) {
            s->held = 1;
        } else {
            s->held = 0;
            s->reboot = 1;
        }
    } else if (n >= NM_SIMLINK_DONE_HDR && m[0] == NM_SIMLINK_DONE) {
        if (!s->waiting)
            return; /* a transfer we gave up on */
        int result = (int32_t)get32(m + 1);
        size_t data = n - NM_SIMLINK_DONE_HDR;
        /* A write carries no data back; a read carries exactly what moved. */
        size_t want = (!s->wwrite && result > 0) ? (size_t)result : 0;
        if (result > (int)s->rlen || data != want) {
            s->result = NM_ERR_PROTO;
        } else {
            s->result = result;
            if (s->rbuf && data)
                memcpy(s->rbuf, m + NM_SIMLINK_DONE_HDR, data);
        }
        s->done = 1;
    }
    /* Anything else from the host is ignored: newer hosts may say more. */
}

/* Receive one message, waiting up to timeout_ns (0: don't wait).
 * 1: handled one, 0: none, NM_ERR_IO: the host is gone. */
static int io_recv(struct sim_io *s, uint64_t timeout_ns) {
    if (s->lost)
        return NM_ERR_IO;
    if (timeout_ns) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
                              .tv_nsec = (long)(timeout_ns % 1000000000u)};
        int n = ppoll(&p, 1, &ts, NULL);
        if (n == 0 || (n < 0 && errno == EINTR))
            return 0;
        if (n < 0) {
            s->lost = 1;
            return NM_ERR_IO;
        }
    }
    ssize_t n = recv(s->fd, s->msg, sizeof s->msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0) {
        s->lost = 1;
        return NM_ERR_IO;
    }
    io_handle(s, s->msg, (size_t)n);
    return 1;
}

/* Take messages from the host until *flag is set, for at most ns. A reset
 * while waiting fails the wait when held_fails (the master vanished). */
static int io_await(struct sim_io *s, const int *flag, uint64_t ns, int held_fails) {
    uint64_t end = mono_ns() + ns;
    while (!*flag) {
        uint64_t now = mono_ns();
        if (now >= end)
            return NM_ERR_TIMEOUT;
        int got = io_recv(s, end - now);
        if (got < 0)
            return got;
        if (held_fails && s->held)
            return NM_ERR_IO;
    }
    return NM_OK;
}

static int io_xfer(void *ctx, int write, uint8_t addr, uint8_t *buf, size_t len) {
    struct sim_io *s = ctx;
    if (s->lost || s->held)
        return NM_ERR_IO; /* a board in reset drives no bus */
    if (len == 0)
        return 0;
    if (len > NM_ASI2C_MAX_LEN || (write && !buf))
        return NM_ERR_INVAL;
    uint8_t *m = s->msg;
    m[0] = NM_SIMLINK_XFER;
    m[1] = write ? 1 : 0;
    m[2] = addr;
    m[3] = (uint8_t)len;
    m[4] = (uint8_t)(len >> 8);
    size_t n = NM_SIMLINK_XFER_HDR;
    if (write) {
        memcpy(m + n, buf, len);
        n += len;
    }
    s->waiting = 1;
    s->done = 0;
    s->wwrite = write;
    s->rbuf = write ? NULL : buf;
    s->rlen = len;
    int rc = io_send(s, m, n);
    if (rc == NM_OK)
        rc = io_await(s, &s->done, NM_SIMLINK_XFER_TIMEOUT_NS, 1);
    s->waiting = 0;
    return rc == NM_OK ? s->result : rc;
}

static void io_set_ack(void *ctx, int level) {
    struct sim_io *s = ctx;
    uint8_t m[2] = {NM_SIMLINK_OWN, (uint8_t)(level ? 1 : 0)};
    io_send(s, m, 2); /* a lost host shows up at the next drain */
}

static int io_get_sync(void *ctx) {
    struct sim_io *s = ctx;
    return s->sync;
}

static int io_edge_fd(void *ctx) {
    struct sim_io *s = ctx;
    return s->fd;
}

/* Stop at the first change of the sync level: the core must step once per
 * level, or a low pulse that arrived in a burst with the next high would be
 * lost. What is left stays readable and wakes the loop again at once. */
static int io_drain(void *ctx) {
    struct sim_io *s = ctx;
    int before = s->sync;
    for (;;) {
        int rc = io_recv(s, 0);
        if (rc <= 0)
            return rc;
        if ((!s->coalesce && s->sync != before) || s->reboot || s->held)
            return NM_OK;
    }
}

static int io_sync_fell(void *ctx) {
    struct sim_io *s = ctx;
    int f = s->fell;
    s->fell = 0;
    return f;
}

void nm_linux_io_sim_coalesce(nm_linux_io_t *io, int on) {
    struct sim_io *s = io->ctx;
    if (s && io->drain == io_drain)
        s->coalesce = on ? 1 : 0;
}

static uint64_t io_now_ns(void *ctx) {
    (void)ctx;
    return mono_ns();
}

static unsigned io_reset(void *ctx) {
    struct sim_io *s = ctx;
    unsigned f = (s->held ? NM_LINUX_RESET_HELD : 0u) | (s->reboot ? NM_LINUX_RESET_REBOOT : 0u);
    s->reboot = 0;
    return f;
}

static void io_close(void *ctx) {
    struct sim_io *s = ctx;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

int nm_linux_io_open_sim(nm_linux_io_t *io, const char *path, nm_linux_err_t *err) {
    nm_linux_err_t ignored;
    if (!err)
        err = &ignored;
    memset(io, 0, sizeof *io);
    struct sockaddr_un a;
    if (fill_addr(&a, path) < 0) {
        snprintf(err->msg, sizeof err->msg, "bus socket path is empty or too long: %s", path ? path : "");
        return NM_ERR_INVAL;
    }
    struct sim_io *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err->msg, sizeof err->msg, "out of memory for the bus socket %s", path);
        return NM_ERR_NOMEM;
    }
    s->sync = 1; /* the pull-up, until the host says */
    s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        snprintf(err->msg, sizeof err->msg, "cannot connect to bus host at %s: %s", path, strerror(errno));
        io_close(s);
        return NM_ERR_IO;
    }
    uint8_t q = NM_SIMLINK_QUERY;
    int rc = io_send(s, &q, 1);
    if (rc == NM_OK)
        rc = io_await(s, &s->have_peer, 2000000000u, 0);
    if (rc < 0) {
        snprintf(err->msg, sizeof err->msg, "bus host at %s did not answer", path);
        io_close(s);
        return NM_ERR_IO;
    }
    s->reboot = 0; /* we are starting anyway */
    io->ctx = s;
    io->xfer = io_xfer;
    io->set_ack = io_set_ack;
    io->get_sync = io_get_sync;
    io->edge_fd = io_edge_fd;
    io->drain = io_drain;
    io->sync_fell = io_sync_fell;
    io->now_ns = io_now_ns;
    io->reset = io_reset;
    io->close = io_close;
    return NM_OK;
}

/* ===== bus host ========================================================== */

static void host_log(nm_simlink_host_t *h, const char *what, long a) {
    if (h->log)
        fprintf(h->log, "asi2c bus host: %s (%ld) at %.3f ms\n", what, a,
                h->sim ? (double)nm_sim_now_ns(h->sim) / 1e6 : 0.0);
}

static void host_drop_client(nm_simlink_host_t *h, const char *why) {
    if (h->client_fd < 0)
        return;
    host_log(h, why, h->client_fd);
    close(h->client_fd);
    h->client_fd = -1;
    /* Nobody drives the ack wire: the pull-up wins. */
    if (h->sim)
        h->rhal.set_own(h->rhal.ctx, 1);
}

static void host_send(nm_simlink_host_t *h, const uint8_t *m, size_t n) {
    if (h->client_fd < 0)
        return;
    ssize_t k;
    do
        k = send(h->client_fd, m, n, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)n) {
        host_drop_client(h, "client gone (send failed)");
        return;
    }
    h->msgs_out++;
}

static void host_send2(nm_simlink_host_t *h, uint8_t type, int v) {
    uint8_t m[2] = {type, (uint8_t)(v ? 1 : 0)};
    host_send(h, m, 2);
}

static void host_send_peer(nm_simlink_host_t *h) {
    h->last_peer = h->rhal.get_peer(h->rhal.ctx);
    host_send2(h, NM_SIMLINK_PEER, h->last_peer);
}

/* The sim finished the client's transfer (at its virtual end time). */
static void host_done_cb(void *user, int side, int result) {
    nm_simlink_host_t *h = user;
    (void)side;
    uint8_t *m = h->out;
    m[0] = NM_SIMLINK_DONE;
    put32(m + 1, (uint32_t)result);
    size_t n = NM_SIMLINK_DONE_HDR;
    if (!h->xfer_write && result > 0) {
        memcpy(m + n, h->xbuf, (size_t)result);
        n += (size_t)result;
    }
    host_send(h, m, n);
}

/* Run by the sim after anything that concerns the Responder (a wire edge
 * reaching it, its transfer ending, its boot): forward the sync level. */
static uint32_t host_r_app(void *user, nm_sim_t *sim, int side) {
    nm_simlink_host_t *h = user;
    (void)sim;
    (void)side;
    /* A low pulse of sync that is over before we look: forward the edge
     * (PEER 0 then PEER 1), as a GPIO edge event would report it. */
    int fell = h->rhal.peer_fell && h->rhal.peer_fell(h->rhal.ctx);
    if (fell && h->last_peer == 1 && h->rhal.get_peer(h->rhal.ctx) == 1) {
        host_send2(h, NM_SIMLINK_PEER, 0);
        h->last_peer = 0;
        h->pulses++;
    }
    if (h->rhal.get_peer(h->rhal.ctx) != h->last_peer)
        host_send_peer(h);
    return NM_ASI2C_NO_DEADLINE;
}

static void host_r_boot(void *user, nm_sim_t *sim, int side) {
    nm_simlink_host_t *h = user;
    (void)sim;
    (void)side;
    h->last_down = 0;
    h->resets_sent++;
    host_log(h, "responder released from reset", 0);
    host_send2(h, NM_SIMLINK_RESET, 0);
}

/* The sim has no hook for "the Responder went down", so look after every
 * run of the sim. A reset pulse lasts far longer than one run. */
static void host_check_down(nm_simlink_host_t *h) {
    int d = nm_sim_side_down(h->sim, NM_SIM_R);
    if (d == h->last_down)
        return;
    h->last_down = d;
    if (d) {
        h->resets_sent++;
        host_log(h, "responder held down", 0);
    }
    host_send2(h, NM_SIMLINK_RESET, d);
}

static uint64_t host_vnow(const nm_simlink_host_t *h) {
    uint64_t t = mono_ns();
    return t > h->offset_ns ? t - h->offset_ns : 0;
}

/* Bring the simulation up to the present. */
static void host_catch_up(nm_simlink_host_t *h) {
    uint64_t v = host_vnow(h);
    uint64_t next = nm_sim_next_event(h->sim);
    if (next != NM_SIM_NEVER && next < v && v - next > h->max_lag_ns)
        h->max_lag_ns = v - next;
    nm_sim_run_until(h->sim, v);
    host_check_down(h);
}

static int host_bad(nm_simlink_host_t *h, const char *what) {
    h->bad_msgs++;
    host_drop_client(h, what);
    return NM_ERR_PROTO;
}

static int host_handle(nm_simlink_host_t *h, const uint8_t *m, size_t n) {
    h->msgs_in++;
    switch (m[0]) {
    case NM_SIMLINK_OWN:
        if (n != 2 || m[1] > 1)
            return host_bad(h, "malformed OWN, client dropped");
        h->rhal.set_own(h->rhal.ctx, m[1]);
        return NM_OK;
    case NM_SIMLINK_QUERY:
        if (n != 1)
            return host_bad(h, "malformed QUERY, client dropped");
        if (h->last_down)
            host_send2(h, NM_SIMLINK_RESET, 1);
        host_send_peer(h);
        return NM_OK;
    case NM_SIMLINK_XFER: {
        if (n < NM_SIMLINK_XFER_HDR)
            return host_bad(h, "short XFER, client dropped");
        int write = m[1] & 1;
        size_t len = (size_t)m[3] | (size_t)m[4] << 8;
        if (m[1] > 1 || m[2] > 0x7F || len == 0 || len > NM_ASI2C_MAX_LEN ||
            n != NM_SIMLINK_XFER_HDR + (write ? len : 0))
            return host_bad(h, "malformed XFER, client dropped");
        h->xfers++;
        h->xfer_write = write;
        int rc;
        if (write) {
            memcpy(h->xbuf, m + NM_SIMLINK_XFER_HDR, len);
            rc = h->rhal.master_write(h->rhal.ctx, m[2], h->xbuf, len);
        } else {
            rc = h->rhal.master_read(h->rhal.ctx, m[2], h->xbuf, len);
        }
        if (rc < 0)
            host_done_cb(h, NM_SIM_R, rc); /* nothing started (down, busy): say so now */
        return NM_OK;
    }
    default:
        return host_bad(h, "unknown message type, client dropped");
    }
}

int nm_simlink_host_open(nm_simlink_host_t *h, const char *path) {
    h->listen_fd = h->client_fd = -1;
    struct sockaddr_un a;
    if (fill_addr(&a, path) < 0) {
        snprintf(h->err.msg, sizeof h->err.msg, "bus socket path is empty or too long: %s", path ? path : "");
        return NM_ERR_INVAL;
    }
    /* Replace a stale socket file, never anything else. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    /* Bind and listen under a temporary name, then rename: the socket file
     * appears only once it accepts, so a client that waits for the file
     * never meets a bound socket that is not listening yet (refused). */
    struct sockaddr_un t;
    char tmp[sizeof t.sun_path + 16];
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    if (fill_addr(&t, tmp) < 0) {
        t = a; /* no room for a suffix: bind the name itself */
        snprintf(tmp, sizeof tmp, "%s", path);
    }
    h->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int bound = h->listen_fd >= 0 && bind(h->listen_fd, (struct sockaddr *)&t, sizeof t) == 0;
    if (!bound || listen(h->listen_fd, 4) < 0 || (strcmp(tmp, path) != 0 && rename(tmp, path) < 0)) {
        snprintf(h->err.msg, sizeof h->err.msg, "cannot listen on bus socket %s: %s", path, strerror(errno));
        if (bound) {
            unlink(tmp); /* ours: the socket file bind made */
        }
        if (h->listen_fd >= 0) {
            close(h->listen_fd);
        }
        h->listen_fd = -1;
        return NM_ERR_IO;
    }
    memcpy(h->path, path, strlen(path) + 1);
    return NM_OK;
}

void nm_simlink_host_close(nm_simlink_host_t *h) {
    if (h->client_fd >= 0)
        close(h->client_fd);
    if (h->listen_fd >= 0) {
        close(h->listen_fd);
        unlink(h->path);
    }
    h->client_fd = h->listen_fd = -1;
}

static void host_accept(nm_simlink_host_t *h) {
    int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (h->client_fd >= 0) {
        /* The bus has one Responder. */
        host_log(h, "second client refused", fd);
        close(fd);
        return;
    }
    h->client_fd = fd;
    h->connects++;
    h->last_peer = -1;
    host_log(h, "client connected", fd);
}

/* Read every message that is waiting. */
static void host_read_client(nm_simlink_host_t *h) {
    while (h->client_fd >= 0) {
        ssize_t n = recv(h->client_fd, h->msg, sizeof h->msg, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            host_drop_client(h, "client disconnected");
            return;
        }
        if ((size_t)n > sizeof h->msg) {
            host_bad(h, "oversize message, client dropped");
            return;
        }
        /* The message happens now: let the simulation reach now first,
         * and let the Initiator see our previous action before this one. */
        host_catch_up(h);
        if (h->msg[0] == NM_SIMLINK_OWN || h->msg[0] == NM_SIMLINK_XFER) {
            if (nm_sim_now_ns(h->sim) < h->next_action_ns)
                nm_sim_run_until(h->sim, h->next_action_ns);
            h->next_action_ns = nm_sim_now_ns(h->sim) + h->min_gap_ns;
        }
        host_handle(h, h->msg, (size_t)n);
        host_check_down(h);
    }
}

int nm_simlink_host_run(nm_simlink_host_t *h, nm_sim_t *sim) {
    if (h->listen_fd < 0) {
        snprintf(h->err.msg, sizeof h->err.msg, "bus host: not listening (call nm_simlink_host_open)");
        return NM_ERR_INVAL;
    }
    h->sim = sim;
    h->rhal = nm_sim_hal(sim, NM_SIM_R, 0);
    h->last_peer = -1;
    h->last_down = nm_sim_side_down(sim, NM_SIM_R);
    if (h->min_gap_ns == 0)
        h->min_gap_ns = 10000;
    h->next_action_ns = 0;
    nm_sim_ext_set_done(sim, NM_SIM_R, host_done_cb, h);
    nm_sim_set_app(sim, NM_SIM_R, host_r_app, h);
    nm_sim_set_reboot(sim, NM_SIM_R, host_r_boot, h);
    uint64_t start = mono_ns();
    h->offset_ns = start - nm_sim_now_ns(sim);
    for (;;) {
        host_catch_up(h);
        if (h->stop && h->stop(h->user))
            return NM_OK;
        uint64_t now = mono_ns();
        if (h->limit_ns && now - start >= h->limit_ns) {
            snprintf(h->err.msg, sizeof h->err.msg, "bus host %s: time limit reached", h->path);
            return NM_ERR_TIMEOUT;
        }
        uint64_t v = host_vnow(h);
        uint64_t next = nm_sim_next_event(sim);
        uint64_t wait = 100000000u; /* look at stop() at least this often */
        if (next != NM_SIM_NEVER && next - (next > v ? v : next) < wait)
            wait = next > v ? next - v : 0;
        struct pollfd p[2] = {{.fd = h->listen_fd, .events = POLLIN}, {.fd = h->client_fd, .events = POLLIN}};
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u)};
        int n = ppoll(p, h->client_fd >= 0 ? 2 : 1, &ts, h->sigmask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(h->err.msg, sizeof h->err.msg, "bus host %s: ppoll: %s", h->path, strerror(errno));
            return NM_ERR_IO;
        }
        if (n == 0)
            continue;
        if (p[0].revents & (POLLERR | POLLNVAL)) {
            snprintf(h->err.msg, sizeof h->err.msg, "bus host %s: listening socket failed", h->path);
            return NM_ERR_IO;
        }
        if (h->client_fd >= 0 && p[1].revents)
            host_read_client(h);
        if (p[0].revents & POLLIN)
            host_accept(h);
    }
}
