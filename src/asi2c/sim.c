/*
 * The simulated asi2c bus: see sim.h for the model. One event loop picks
 * the earliest of: a side's step, a side's application, the end of the bus
 * transfer, the end of a glitch or hang, a timed fault, the end of the boot
 * delay after a reset. Everything happens at a virtual time in ns.
 */
#include "asi2c/sim.h"

#include <stdlib.h>
#include <string.h>

struct side {
    nm_sim_t *sim;
    int id;
    nm_asi2c_t *ch;
    nm_sim_app_fn app;
    void *app_user;
    nm_sim_reboot_fn reboot;
    void *reboot_user;
    nm_sim_done_fn done;
    void *done_user;
    uint64_t step_at, app_at, hang_until, boot_at, glitch_until;
    uint64_t actions;
    uint8_t addr; /* slave address (side 0) */
    int crashed, in_reset;
    int fell;  /* edge latch: the peer's wire fell since the last peer_fell() */
    /* slave (side 0): the armed transfer */
    int armed; /* 0, 1 = tx (master reads), 2 = rx (master writes) */
    uint8_t *abuf;
    size_t alen;
    uint64_t armed_at; /* the arm takes effect (arm_delay_ns) */
};

struct xfer {
    int active;
    int write;          /* master writes (slave rx) */
    uint8_t *mbuf;      /* master's buffer */
    size_t mlen;
    int mres, sres;     /* results at the end */
    int slave_done;     /* the slave takes part (was armed, direction right) */
    uint64_t end;
    uint64_t index;     /* 1-based count of transfers */
};

struct nm_sim {
    nm_sim_config_t cfg;
    uint64_t now;
    uint64_t rng;
    int wire[2];        /* 0: sync (driven by side 0), 1: ack (side 1) */
    int reset_wire;
    struct side side[2];
    struct xfer x;
    nm_sim_fault_t faults[NM_SIM_MAX_FAULTS];
    uint8_t fault_used[NM_SIM_MAX_FAULTS];
    int nfaults;
    nm_sim_stats_t st;
    uint64_t nack_until; /* NM_SIM_NACK with arg: transfers NACK until then */
};

static uint64_t rnd(nm_sim_t *s) {
    /* xorshift64*: deterministic jitter from the seed */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1Dull;
}

static void trace(nm_sim_t *s, int side, const char *what, long a, long b) {
    if (s->cfg.trace)
        fprintf(s->cfg.trace, "%12.3f us %s %s %ld %ld\n", (double)s->now / 1000.0, side ? "R" : "I", what, a, b);
}

/* When side `id` reacts to something that happens now. */
static uint64_t react(nm_sim_t *s, int id) {
    uint64_t j = s->cfg.jitter_ns ? rnd(s) % ((uint64_t)s->cfg.jitter_ns + 1) : 0;
    return s->now + s->cfg.latency_ns + j + s->cfg.step_lag_ns[id & 1];
}

static void schedule(struct side *sd, uint64_t t) {
    if (t < sd->step_at)
        sd->step_at = t;
}

static int down(const struct side *sd) { return sd->crashed || sd->in_reset; }

nm_sim_t *nm_sim_new(const nm_sim_config_t *cfg) {
    nm_sim_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (cfg)
        s->cfg = *cfg;
    if (!s->cfg.scl_hz)
        s->cfg.scl_hz = 100000;
    if (!s->cfg.latency_ns)
        s->cfg.latency_ns = 2000;
    if (!s->cfg.boot_ns)
        s->cfg.boot_ns = 50000000;
    s->rng = s->cfg.seed ? s->cfg.seed : 1;
    s->wire[0] = s->wire[1] = 1; /* pull-ups */
    s->reset_wire = !s->cfg.reset_level;
    for (int i = 0; i < 2; i++) {
        struct side *sd = &s->side[i];
        sd->sim = s;
        sd->id = i;
        sd->step_at = sd->app_at = NM_SIM_NEVER;
        sd->boot_at = NM_SIM_NEVER;
        sd->addr = NM_ASI2C_ADDR;
    }
    return s;
}

void nm_sim_free(nm_sim_t *s) { free(s); }

uint64_t nm_sim_now_ns(const nm_sim_t *s) { return s->now; }
void nm_sim_stats(const nm_sim_t *s, nm_sim_stats_t *st) {
    *st = s->st;
    st->actions[0] = s->side[0].actions;
    st->actions[1] = s->side[1].actions;
}
int nm_sim_side_down(const nm_sim_t *s, int side) { return down(&s->side[side & 1]); }
void nm_sim_wake(nm_sim_t *s, int side) { schedule(&s->side[side & 1], s->now); }

void nm_sim_attach(nm_sim_t *s, int side, nm_asi2c_t *ch) {
    s->side[side & 1].ch = ch;
    if (ch && ch->cfg.addr)
        s->side[side & 1].addr = ch->cfg.addr;
    schedule(&s->side[side & 1], s->now);
}
void nm_sim_set_app(nm_sim_t *s, int side, nm_sim_app_fn fn, void *user) {
    struct side *sd = &s->side[side & 1];
    sd->app = fn;
    sd->app_user = user;
    sd->app_at = fn ? s->now : NM_SIM_NEVER;
}
void nm_sim_set_reboot(nm_sim_t *s, int side, nm_sim_reboot_fn fn, void *user) {
    s->side[side & 1].reboot = fn;
    s->side[side & 1].reboot_user = user;
}
void nm_sim_ext_set_done(nm_sim_t *s, int side, nm_sim_done_fn done, void *user) {
    s->side[side & 1].done = done;
    s->side[side & 1].done_user = user;
}

int nm_sim_add_fault(nm_sim_t *s, const nm_sim_fault_t *f) {
    if (s->nfaults >= NM_SIM_MAX_FAULTS || !f->kind || f->kind > NM_SIM_GLITCH)
        return NM_ERR_INVAL;
    s->faults[s->nfaults++] = *f;
    return NM_OK;
}

/* ---- faults ----------------------------------------------------------- */

static void crash(struct side *sd) {
    nm_sim_t *s = sd->sim;
    if (sd->in_reset)
        return; /* held in reset: nothing runs that could crash */
    trace(s, sd->id, "CRASH", (long)sd->actions, 0);
    sd->crashed = 1;
    sd->step_at = sd->app_at = NM_SIM_NEVER;
    if (sd->id == NM_SIM_R && s->x.active) {
        /* The master stops clocking: nobody finishes this transfer. */
        s->x.active = 0;
    }
    if (sd->id == NM_SIM_I)
        sd->armed = 0;
}

static void hang(struct side *sd, uint64_t ns) {
    trace(sd->sim, sd->id, "HANG", (long)ns, 0);
    sd->hang_until = sd->sim->now + ns;
}

static void glitch(struct side *sd, uint64_t ns) {
    nm_sim_t *s = sd->sim;
    trace(s, sd->id, "GLITCH", (long)ns, 0);
    sd->glitch_until = s->now + ns;
    if (s->wire[sd->id])
        s->side[!sd->id].fell = 1; /* the peer's edge interrupt sees the glitch too */
    schedule(&s->side[!sd->id], react(s, !sd->id));
}

/* Faults triggered by side's next action. Returns 1 if the action must not
 * happen (the side crashed before it). */
static int action(struct side *sd, const char *what, long a) {
    nm_sim_t *s = sd->sim;
    if (down(sd))
        return 1;
    sd->actions++;
    for (int i = 0; i < s->nfaults; i++) {
        nm_sim_fault_t *f = &s->faults[i];
        if (s->fault_used[i] || f->side != sd->id || f->at_action != sd->actions)
            continue;
        if (f->kind == NM_SIM_CRASH) {
            s->fault_used[i] = 1;
            crash(sd);
            return 1;
        }
        if (f->kind == NM_SIM_HANG || f->kind == NM_SIM_GLITCH) {
            s->fault_used[i] = 1;
            if (f->kind == NM_SIM_HANG)
                hang(sd, f->arg);
            else
                glitch(sd, f->arg);
        }
    }
    trace(s, sd->id, what, a, (long)sd->actions);
    return 0;
}

static void timed_faults(nm_sim_t *s) {
    for (int i = 0; i < s->nfaults; i++) {
        nm_sim_fault_t *f = &s->faults[i];
        if (s->fault_used[i] || f->at_action || f->at_xfer || f->at_ns > s->now)
            continue;
        struct side *sd = &s->side[f->side & 1];
        s->fault_used[i] = 1;
        if (f->kind == NM_SIM_CRASH)
            crash(sd);
        else if (f->kind == NM_SIM_HANG)
            hang(sd, f->arg);
        else if (f->kind == NM_SIM_GLITCH)
            glitch(sd, f->arg);
    }
}

static uint64_t next_timed_fault(const nm_sim_t *s) {
    uint64_t t = NM_SIM_NEVER;
    for (int i = 0; i < s->nfaults; i++) {
        const nm_sim_fault_t *f = &s->faults[i];
        if (!s->fault_used[i] && !f->at_action && !f->at_xfer && f->at_ns < t)
            t = f->at_ns;
    }
    return t;
}

/* ---- the HAL ---------------------------------------------------------- */

static int wire_seen(const nm_sim_t *s, int w) {
    const struct side *drv = &s->side[w];
    if (drv->in_reset)
        return 1; /* pins float; the pull-up wins */
    int v = s->wire[w];
    if (s->now < drv->glitch_until)
        v = !v;
    return v;
}

static void hal_set_own(void *ctx, int level) {
    struct side *sd = ctx;
    nm_sim_t *s = sd->sim;
    if (action(sd, level ? "own=1" : "own=0", level))
        return;
    if (s->wire[sd->id] != (level ? 1 : 0)) {
        s->wire[sd->id] = level ? 1 : 0;
        if (!level)
            s->side[!sd->id].fell = 1; /* latched at the edge, however late the peer steps */
        schedule(&s->side[!sd->id], react(s, !sd->id));
    }
}

static int hal_get_peer(void *ctx) {
    struct side *sd = ctx;
    return wire_seen(sd->sim, !sd->id);
}

static int hal_peer_fell(void *ctx) {
    struct side *sd = ctx;
    int f = sd->fell;
    sd->fell = 0;
    return f;
}

static uint32_t hal_now_us(void *ctx) {
    struct side *sd = ctx;
    return (uint32_t)(sd->sim->now / 1000u);
}

static void hal_set_reset(void *ctx, int level) {
    struct side *sd = ctx;
    nm_sim_t *s = sd->sim;
    if (action(sd, level ? "reset=1" : "reset=0", level))
        return;
    int active = (level ? 1 : 0) == s->cfg.reset_level;
    struct side *r = &s->side[NM_SIM_R];
    s->reset_wire = level ? 1 : 0;
    if (active && !r->in_reset) {
        r->in_reset = 1;
        r->crashed = 0;
        r->hang_until = 0;
        r->step_at = r->app_at = NM_SIM_NEVER;
        r->boot_at = NM_SIM_NEVER;
        if (s->x.active)
            s->x.active = 0; /* the master vanished mid-transfer */
        schedule(&s->side[NM_SIM_I], react(s, NM_SIM_I)); /* ack floats high */
    } else if (!active && r->in_reset) {
        r->boot_at = s->now + s->cfg.boot_ns;
    }
}

static int slave_arm(struct side *sd, int dir, uint8_t *buf, size_t len) {
    if (action(sd, dir == 1 ? "arm tx" : "arm rx", (long)len))
        return NM_ERR_IO;
    sd->armed = dir;
    sd->abuf = buf;
    sd->alen = len;
    sd->armed_at = sd->sim->now + sd->sim->cfg.arm_delay_ns;
    return NM_OK;
}

static int hal_slave_tx(void *ctx, const uint8_t *buf, size_t len) {
    return slave_arm(ctx, 1, (uint8_t *)buf, len);
}
static int hal_slave_rx(void *ctx, uint8_t *buf, size_t len) { return slave_arm(ctx, 2, buf, len); }
static void hal_slave_cancel(void *ctx) {
    struct side *sd = ctx;
    sd->armed = 0;
    if (sd->sim->x.active && sd->sim->x.slave_done) {
        sd->sim->x.slave_done = 0;
        sd->sim->x.mres = NM_ERR_IO; /* the slave let go mid-transfer */
    }
}

static uint64_t bit_ns(const nm_sim_t *s, uint64_t bits) {
    return bits * 1000000000ull / s->cfg.scl_hz;
}

static void finish_side(nm_sim_t *s, int id, int result);

static int master_start(struct side *sd, int write, uint8_t addr, uint8_t *buf, size_t len) {
    nm_sim_t *s = sd->sim;
    if (action(sd, write ? "write" : "read", (long)len))
        return NM_ERR_IO;
    if (s->x.active)
        return NM_ERR_BUSY;
    struct side *sl = &s->side[NM_SIM_I];
    struct xfer *x = &s->x;
    memset(x, 0, sizeof *x);
    x->active = 1;
    x->write = write;
    x->mbuf = buf;
    x->mlen = len;
    x->index = ++s->st.transfers;
    int nack = addr != sl->addr || sl->armed != (write ? 2 : 1) || down(sl) || s->now < sl->armed_at ||
               s->now < s->nack_until;
    uint64_t extra = 0;
    for (int i = 0; i < s->nfaults; i++) {
        nm_sim_fault_t *f = &s->faults[i];
        if (s->fault_used[i] || f->at_xfer != x->index)
            continue;
        if (f->kind == NM_SIM_NACK) {
            s->fault_used[i] = 1;
            nack = 1;
            s->nack_until = s->now + f->arg;
        } else if (f->kind == NM_SIM_STRETCH) {
            s->fault_used[i] = 1;
            extra += f->arg;
        }
    }
    int crash_mid = 0;
    for (int i = 0; i < s->nfaults; i++)
        if (!s->fault_used[i] && s->faults[i].kind == NM_SIM_CRASH && s->faults[i].at_xfer == x->index)
            crash_mid = i + 1;
    uint64_t bits;
    if (nack) {
        s->st.nacks++;
        bits = 11; /* start, address, NACK, stop */
        x->mres = NM_ASI2C_ERR_NACK;
        x->slave_done = 0;
    } else {
        size_t moved = len;
        x->slave_done = 1;
        if (write && len > sl->alen) {
            /* The slave NACKs the first byte it has no room for; it saw
             * one byte more than it was armed for (an overrun). */
            moved = sl->alen + 1;
            x->mres = NM_ERR_IO;
            x->sres = (int)sl->alen + 1;
        } else {
            x->mres = (int)len;
            x->sres = (int)len;
        }
        bits = 11 + 9 * (uint64_t)moved;
        s->st.data_bytes += moved;
    }
    s->st.bits += bits;
    uint64_t dur = bit_ns(s, bits) + extra;
    s->st.busy_ns += dur;
    x->end = s->now + dur;
    if (crash_mid) {
        /* Turn "crash in transfer n" into a timed crash half-way through it. */
        nm_sim_fault_t *f = &s->faults[crash_mid - 1];
        f->at_xfer = 0;
        f->at_action = 0;
        f->side = NM_SIM_R;
        f->at_ns = s->now + dur / 2;
    }
    trace(s, NM_SIM_R, nack ? "xfer NACK" : "xfer", (long)len, (long)x->index);
    return NM_OK;
}

static int hal_master_read(void *ctx, uint8_t addr, uint8_t *buf, size_t len) {
    return master_start(ctx, 0, addr, buf, len);
}
static int hal_master_write(void *ctx, uint8_t addr, const uint8_t *buf, size_t len) {
    return master_start(ctx, 1, addr, (uint8_t *)buf, len);
}

/* The transfer ends: move the bytes, apply corruption, tell both sides. */
static void xfer_end(nm_sim_t *s) {
    struct xfer *x = &s->x;
    struct side *sl = &s->side[NM_SIM_I];
    x->active = 0;
    if (x->slave_done && sl->armed) {
        size_t n = x->mlen;
        if (x->write && n > sl->alen)
            n = sl->alen;
        for (size_t i = 0; i < n; i++) {
            uint8_t b;
            if (x->write)
                b = x->mbuf ? x->mbuf[i] : 0;
            else
                b = i < sl->alen && sl->abuf ? sl->abuf[i] : 0xFF; /* slave underrun: 0xFF */
            for (int k = 0; k < s->nfaults; k++) {
                nm_sim_fault_t *f = &s->faults[k];
                if (!s->fault_used[k] && f->kind == NM_SIM_CORRUPT && f->at_xfer == x->index && f->arg == i)
                    b ^= f->mask;
            }
            if (x->write) {
                if (sl->abuf)
                    sl->abuf[i] = b;
            } else if (x->mbuf) {
                x->mbuf[i] = b;
            }
        }
        for (int k = 0; k < s->nfaults; k++)
            if (s->faults[k].kind == NM_SIM_CORRUPT && s->faults[k].at_xfer == x->index)
                s->fault_used[k] = 1;
        sl->armed = 0;
        finish_side(s, NM_SIM_I, x->sres);
    }
    finish_side(s, NM_SIM_R, x->mres);
}

static void finish_side(nm_sim_t *s, int id, int result) {
    struct side *sd = &s->side[id];
    if (down(sd))
        return;
    trace(s, id, "done", result, 0);
    if (sd->ch)
        nm_asi2c_xfer_done(sd->ch, result);
    else if (sd->done)
        sd->done(sd->done_user, id, result);
    schedule(sd, react(s, id));
}

nm_asi2c_hal_t nm_sim_hal(nm_sim_t *s, int side, int with_reset) {
    nm_asi2c_hal_t h;
    memset(&h, 0, sizeof h);
    h.ctx = &s->side[side & 1];
    h.set_own = hal_set_own;
    h.get_peer = hal_get_peer;
    h.now_us = hal_now_us;
    if (!s->cfg.no_latch)
        h.peer_fell = hal_peer_fell;
    if ((side & 1) == NM_SIM_I) {
        h.slave_tx = hal_slave_tx;
        h.slave_rx = hal_slave_rx;
        h.slave_cancel = hal_slave_cancel;
        if (with_reset)
            h.set_reset = hal_set_reset;
    } else {
        h.master_read = hal_master_read;
        h.master_write = hal_master_write;
    }
    return h;
}

/* ---- the event loop --------------------------------------------------- */

static uint64_t side_next(const struct side *sd) {
    if (down(sd))
        return sd->in_reset ? sd->boot_at : NM_SIM_NEVER;
    uint64_t t = sd->step_at < sd->app_at ? sd->step_at : sd->app_at;
    if (t != NM_SIM_NEVER && t < sd->hang_until)
        t = sd->hang_until;
    if (sd->glitch_until > sd->sim->now && sd->glitch_until < t)
        t = sd->glitch_until; /* the glitch ends: the peer must look again */
    return t;
}

uint64_t nm_sim_next_event(const nm_sim_t *s) {
    uint64_t t = NM_SIM_NEVER;
    for (int i = 0; i < 2; i++) {
        uint64_t u = side_next(&s->side[i]);
        if (u < t)
            t = u;
    }
    if (s->x.active && s->x.end < t)
        t = s->x.end;
    uint64_t f = next_timed_fault(s);
    return f < t ? f : t;
}

static uint64_t after_us(const nm_sim_t *s, uint32_t us) {
    if (us == NM_ASI2C_NO_DEADLINE)
        return NM_SIM_NEVER;
    return s->now + (uint64_t)(us ? us : 1) * 1000u;
}

static void run_side(nm_sim_t *s, struct side *sd) {
    if (sd->in_reset) {
        if (sd->boot_at <= s->now) {
            sd->in_reset = 0;
            sd->boot_at = NM_SIM_NEVER;
            s->st.reboots++;
            trace(s, sd->id, "boot", 0, 0);
            if (sd->reboot)
                sd->reboot(sd->reboot_user, s, sd->id);
            sd->step_at = s->now;
            if (sd->app)
                sd->app_at = s->now;
            schedule(&s->side[!sd->id], react(s, !sd->id));
        }
        return;
    }
    if (sd->glitch_until && sd->glitch_until <= s->now) {
        sd->glitch_until = 0;
        if (!s->wire[sd->id])
            s->side[!sd->id].fell = 1; /* the glitch ends: seen 1 -> 0 */
        schedule(&s->side[!sd->id], s->now);
    }
    if (sd->crashed || s->now < sd->hang_until)
        return;
    int stepped = 0;
    if (sd->step_at <= s->now) {
        sd->step_at = NM_SIM_NEVER;
        if (sd->ch) {
            uint32_t us = nm_asi2c_step(sd->ch);
            uint64_t t = after_us(s, us);
            if (!down(sd))
                schedule(sd, t);
        }
        stepped = 1;
    }
    if (sd->app && !down(sd) && (stepped || sd->app_at <= s->now)) {
        uint32_t us = sd->app(sd->app_user, s, sd->id);
        sd->app_at = down(sd) ? NM_SIM_NEVER : after_us(s, us);
    }
}

static void one_event(nm_sim_t *s, uint64_t t) {
    s->now = t;
    timed_faults(s);
    if (s->x.active && s->x.end <= s->now)
        xfer_end(s);
    for (int i = 0; i < 2; i++)
        if (side_next(&s->side[i]) <= s->now)
            run_side(s, &s->side[i]);
}

void nm_sim_run_until(nm_sim_t *s, uint64_t t_end) {
    for (;;) {
        uint64_t t = nm_sim_next_event(s);
        if (t > t_end)
            break;
        one_event(s, t < s->now ? s->now : t);
    }
    if (t_end > s->now)
        s->now = t_end;
}

int nm_sim_run(nm_sim_t *s, uint64_t limit_ns, int (*stop)(void *), void *user) {
    for (;;) {
        if (stop && stop(user))
            return NM_OK;
        uint64_t t = nm_sim_next_event(s);
        if (t > limit_ns) {
            if (limit_ns > s->now)
                s->now = limit_ns;
            return NM_ERR_TIMEOUT;
        }
        one_event(s, t < s->now ? s->now : t);
    }
}
