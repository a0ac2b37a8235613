/*
 * Module install over the asi2c link (src/asi2c/xfer.c) on the simulated
 * bus into a store on emulated flash: a plain install, Responder crashes
 * at many points on either side of the transfer (the store holds the old
 * or the new module, never a partial one, and the install completes when
 * the link is back), local refusals that send no module byte, corrupted
 * transfers, a lossy stream, and malformed frames fed to the receiver.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../test.h"
#include "xfer_rig.h"

static const sf_geom_t g_store = {"4K blocks, prog 16", 4096, 16, 64, 0, 2, 0};
static const sf_geom_t g_thumb = {"1K blocks, linked", 1024, 16, 64, 0, 2, 1};

#define MOD_SIZE 6000

static uint8_t *mod_new, *mod_old;
static size_t mod_new_len, mod_old_len;

static sf_store_t *store_new(const sf_geom_t *g) {
    sf_store_t *f = calloc(1, sizeof *f);
    nm_detail_t d;
    CHECK(f && sf_open(f, g) == NM_OK);
    CHECK_EQ(nm_store_format(&f->st, &f->cfg, &d), NM_OK);
    return f;
}

static void store_free(sf_store_t *f) {
    sf_close(f);
    free(f);
}

/* 0: no module "app"; 1: the old one, intact; 2: the new one, intact;
 * -1: anything else (partial, damaged, wrong bytes). */
static int store_holds(sf_store_t *f) {
    const nm_store_entry_t *e = nm_store_find(&f->st, "app");
    if (!e)
        return 0;
    const uint8_t *at = f->emu.mem + nm_store_offset(&f->st, e);
    const nm_store_entry_t *pe;
    nm_detail_t d;
    if (nm_store_pin(&f->st, "app", &pe, &d) != NM_OK)
        return -1;
    nm_store_unpin(&f->st, pe);
    if (e->size == mod_new_len && !memcmp(at, mod_new, mod_new_len))
        return 2;
    if (e->size == mod_old_len && !memcmp(at, mod_old, mod_old_len))
        return 1;
    return -1;
}

/* After a remount from flash alone (what a reboot of the target sees). */
static int store_holds_remounted(sf_store_t *f) {
    nm_detail_t d;
    if (nm_store_mount(&f->st, &f->cfg, &d) != NM_OK)
        return -1;
    return store_holds(f);
}

static void rig_init(xr_rig_t *r, sf_store_t *f, int sender_side) {
    memset(r, 0, sizeof *r);
    r->store = f;
    r->sender_side = sender_side;
    r->scfg.module = mod_new;
    r->scfg.module_len = mod_new_len;
    r->scfg.name = "app";
    r->scfg.timeout_ms = 1000;
    r->scfg.retries = 20;
}

static uint64_t t_plain; /* simulated ns of an undisturbed install */
static uint64_t t_data;  /* ... when the first chunk arrived */
static uint64_t a_plain; /* Responder actions of an undisturbed install */

static void print_run(const char *what, xr_rig_t *r) {
    nm_xfer_send_t *s = xr_snd(r);
    nm_sim_stats_t st;
    nm_sim_stats(r->sim, &st);
    printf("  %s: %u bytes, %llu data bytes in %u chunks, %u retransmits, %u timeouts, %u offers, "
           "%.3f s simulated, %llu bus transfers, %u reboots: %s\n",
           what, (unsigned)s->size, (unsigned long long)(s->stats.data_bytes + r->data_bytes_before),
           (unsigned)(s->stats.chunks + r->chunks_before),
           (unsigned)(s->stats.retransmits + r->retransmits_before), (unsigned)s->stats.timeouts,
           (unsigned)s->stats.offers, (double)nm_sim_now_ns(r->sim) / 1e9, (unsigned long long)st.transfers,
           (unsigned)st.reboots, s->detail.msg);
}

static int first_data(void *u) { return xr_rcv(u)->have > 0; }

static void install_over_the_link_lands_in_the_store_with_its_crc(void) {
    sf_store_t *f = store_new(&g_store);
    xr_rig_t *r = calloc(1, sizeof *r);
    rig_init(r, f, NM_SIM_R);
    nm_sim_config_t sc = {.scl_hz = 400000, .seed = 3};
    xr_start(r, &sc);
    CHECK_EQ(r->init_rc, 0);
    CHECK_EQ(nm_sim_run(r->sim, 120 * XR_SEC, first_data, r), 0);
    t_data = nm_sim_now_ns(r->sim);
    CHECK_EQ(nm_sim_run(r->sim, 120 * XR_SEC, xr_sent, r), 0);
    nm_xfer_send_t *s = xr_snd(r);
    CHECK_EQ(s->result, 0);
    CHECK_STR_CONTAINS(s->detail.msg, "installed app");
    CHECK_EQ(s->size, mod_new_len);
    CHECK_EQ(s->stats.retransmits, 0);
    CHECK_EQ(s->stats.data_bytes, mod_new_len);
    CHECK_EQ(xr_rcv(r)->stats.installs, 1);
    print_run("plain install", r);
    t_plain = nm_sim_now_ns(r->sim);
    nm_sim_stats_t st;
    nm_sim_stats(r->sim, &st);
    a_plain = st.actions[NM_SIM_R];
    /* listed, with the image's crc, loadable (pin checks the extent's CRC) */
    CHECK_EQ(store_holds_remounted(f), 2);
    const nm_store_entry_t *e = nm_store_find(&f->st, "app");
    nm_image_t img;
    CHECK(e && nm_image_parse(mod_new, mod_new_len, &img, NULL) == NM_OK);
    CHECK(e && e->crc == img.crc32);
    sf_model_t m = {0};
    sf_model_set(&m, "app", mod_new, mod_new_len);
    char why[300] = "";
    CHECK(sf_check(f, &m, why, sizeof why) == 0);
    if (why[0])
        printf("  %s\n", why);
    xr_end(r);
    free(r);
    store_free(f);
}

/* One install with the old version installed and a fault armed; returns
 * what the store held right after the fault (or -2 if never checked). */
static int run_with_crash(int sender_side, const nm_sim_fault_t *fault, uint64_t check_at, xr_rig_t *r,
                          int *after) {
    sf_store_t *f = store_new(&g_store);
    nm_detail_t d;
    CHECK_EQ(nm_store_install(&f->st, mod_old, mod_old_len, "app", NULL, &d), NM_OK);
    rig_init(r, f, sender_side);
    nm_sim_config_t sc = {.scl_hz = 400000, .seed = 5};
    xr_start(r, &sc);
    nm_sim_add_fault(r->sim, fault);
    int mid = -2;
    if (check_at) {
        nm_sim_run(r->sim, check_at, xr_sent, r);
        mid = store_holds(f);
    }
    CHECK_EQ(nm_sim_run(r->sim, 600 * XR_SEC, xr_sent, r), 0);
    *after = store_holds_remounted(f);
    return mid;
}

static void finish_crash_run(xr_rig_t *r) {
    sf_store_t *f = r->store;
    xr_end(r);
    store_free(f);
}

static void responder_crash_mid_install_resumes_from_the_receivers_offset(void) {
    xr_rig_t *r = calloc(1, sizeof *r);
    nm_sim_fault_t fault = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_ns = t_plain / 2};
    int after = -9;
    fault.at_ns = t_data + (t_plain - t_data) / 2;
    int mid = run_with_crash(NM_SIM_R, &fault, fault.at_ns + XR_MS, r, &after);
    nm_xfer_send_t *s = xr_snd(r);
    CHECK(mid == 1); /* the old module, untouched, while the new one is in RAM */
    CHECK_EQ(after, 2);
    CHECK_EQ(s->result, 0);
    CHECK_EQ(r->sender_boots, 2); /* the start-up reset, then the crash */
    /* the rebooted sender resumed where the receiver was: it sent less than the module */
    CHECK(s->stats.first_resume > 0);
    CHECK(s->stats.data_bytes < mod_new_len);
    CHECK_EQ(s->stats.data_bytes, mod_new_len - s->stats.first_resume);
    CHECK_EQ(xr_rcv(r)->stats.installs, 1);
    printf("  resumed at %u of %u bytes after the Responder rebooted\n", (unsigned)s->stats.first_resume,
           (unsigned)mod_new_len);
    print_run("crash at 50%", r);
    finish_crash_run(r);
    free(r);
}

static void crash_at_many_points_leaves_old_or_new_never_partial(void) {
    xr_rig_t *r = calloc(1, sizeof *r);
    unsigned runs = 0, saw_old = 0, saw_new = 0, resumed = 0;
    /* by time: from before the link is up to after the commit */
    for (unsigned k = 0; k <= 24; k++) {
        /* (not inside the start-up reset pulse, 0..250 ms: the sim lets a side
         * held in reset crash, and then the reset never clears it) */
        uint64_t t0 = 300 * XR_MS;
        uint64_t t = k < 4 ? t0 + (t_data - t0) * k / 4 : t_data + (t_plain - t_data) * (k - 4) / 16;
        nm_sim_fault_t fault = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_ns = t};
        int after = -9;
        int mid = run_with_crash(NM_SIM_R, &fault, t + 100 * XR_MS, r, &after);
        CHECK(mid == 1 || mid == 2);
        CHECK_EQ(after, 2);
        CHECK_EQ(xr_snd(r)->result, 0);
        if (after != 2 || xr_snd(r)->result)
            printf("  crash at %.3f s: %s\n", (double)t / 1e9, xr_snd(r)->detail.msg);
        saw_old += mid == 1;
        saw_new += mid == 2;
        resumed += xr_snd(r)->stats.first_resume > 0 && r->sender_boots;
        runs++;
        finish_crash_run(r);
    }
    /* by action: the Responder dies before its n-th HAL action */
    for (unsigned k = 1; k <= 30; k++) {
        uint64_t n = a_plain * k / 30;
        nm_sim_fault_t fault = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_action = n ? n : 1};
        int after = -9;
        run_with_crash(NM_SIM_R, &fault, 0, r, &after);
        CHECK_EQ(after, 2);
        CHECK_EQ(xr_snd(r)->result, 0);
        if (after != 2 || xr_snd(r)->result)
            printf("  crash at action %llu: %s\n", (unsigned long long)fault.at_action, xr_snd(r)->detail.msg);
        resumed += xr_snd(r)->stats.first_resume > 0 && r->sender_boots;
        runs++;
        finish_crash_run(r);
    }
    CHECK(saw_old > 0 && saw_new > 0);
    CHECK(resumed > 10);
    printf("  %u crash points: old module seen %u times and new %u times right after the crash, "
           "never partial; %u resumed mid-module\n", runs, saw_old, saw_new, resumed);
    free(r);
}

static void roles_swapped_receiver_reboot_restarts_from_zero(void) {
    xr_rig_t *r = calloc(1, sizeof *r);
    nm_sim_fault_t fault = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_ns = t_data + (t_plain - t_data) / 2};
    int after = -9;
    int mid = run_with_crash(NM_SIM_I, &fault, fault.at_ns + XR_MS, r, &after);
    nm_xfer_send_t *s = xr_snd(r);
    CHECK_EQ(mid, 1);
    CHECK_EQ(after, 2);
    CHECK_EQ(s->result, 0);
    CHECK_EQ(r->receiver_boots, 2); /* the start-up reset, then the crash */
    CHECK(s->stats.restarts >= 1);
    CHECK(s->stats.data_bytes > mod_new_len); /* the part before the reboot was sent twice */
    print_run("receiver on the Responder, crash at 50%", r);
    finish_crash_run(r);
    /* and at many points */
    unsigned bad = 0;
    for (unsigned k = 1; k <= 12; k++) {
        nm_sim_fault_t fk = {.kind = NM_SIM_CRASH, .side = NM_SIM_R, .at_ns = t_data + (t_plain - t_data) * k / 10};
        mid = run_with_crash(NM_SIM_I, &fk, fk.at_ns + XR_MS, r, &after);
        bad += !(mid == 1 || mid == 2) || after != 2 || xr_snd(r)->result != 0;
        finish_crash_run(r);
    }
    CHECK_EQ(bad, 0);
    free(r);
}

static void wrong_arch_is_refused_before_any_offer_or_data(void) {
    sf_store_t *f = store_new(&g_thumb); /* an armv7m/soft board */
    xr_rig_t *r = calloc(1, sizeof *r);
    rig_init(r, f, NM_SIM_R);
    nm_sim_config_t sc = {.scl_hz = 400000};
    xr_start(r, &sc);
    CHECK_EQ(nm_sim_run(r->sim, 60 * XR_SEC, xr_sent, r), 0);
    nm_xfer_send_t *s = xr_snd(r);
    CHECK_EQ(s->result, NM_ERR_ARCH);
    CHECK_STR_CONTAINS(s->detail.msg, "x86_64");
    CHECK_STR_CONTAINS(s->detail.msg, "armv7m");
    CHECK_EQ(s->link.out_by_type[NM_XFER_OFFER], 0);
    CHECK_EQ(s->link.out_by_type[NM_XFER_DATA], 0);
    CHECK_EQ(s->link.out_by_type[NM_XFER_HELLO] >= 1, 1);
    CHECK_EQ(xr_rcv(r)->stats.offers, 0);
    CHECK(nm_store_find(&f->st, "app") == NULL);
    printf("  refused: %s\n", s->detail.msg);
    xr_end(r);
    store_free(f);
    free(r);
}

static void oversize_module_is_refused_locally(void) {
    /* the receiver's RAM buffer is smaller than the module */
    sf_store_t *f = store_new(&g_store);
    xr_rig_t *r = calloc(1, sizeof *r);
    rig_init(r, f, NM_SIM_R);
    r->rbuf_size = 4096;
    nm_sim_config_t sc = {.scl_hz = 400000};
    xr_start(r, &sc);
    CHECK_EQ(nm_sim_run(r->sim, 60 * XR_SEC, xr_sent, r), 0);
    nm_xfer_send_t *s = xr_snd(r);
    CHECK_EQ(s->result, NM_ERR_NOSPC);
    CHECK_STR_CONTAINS(s->detail.msg, "at most 4096");
    CHECK_EQ(s->link.out_by_type[NM_XFER_OFFER] + s->link.out_by_type[NM_XFER_DATA], 0);
    printf("  refused: %s\n", s->detail.msg);
    xr_end(r);
    store_free(f);
    /* the store has no room for it */
    static const sf_geom_t tiny = {"tiny", 1024, 16, 6, 0, 1, 0};
    f = store_new(&tiny);
    rig_init(r, f, NM_SIM_R);
    xr_start(r, &sc);
    CHECK_EQ(nm_sim_run(r->sim, 60 * XR_SEC, xr_sent, r), 0);
    CHECK_EQ(s->result, NM_ERR_NOSPC);
    CHECK_STR_CONTAINS(s->detail.msg, "free in one run");
    CHECK_EQ(s->link.out_by_type[NM_XFER_OFFER] + s->link.out_by_type[NM_XFER_DATA], 0);
    xr_end(r);
    store_free(f);
    free(r);
}

static void corrupted_chunks_are_retransmitted_and_the_install_succeeds(void) {
    sf_store_t *f = store_new(&g_store);
    xr_rig_t *r = calloc(1, sizeof *r);
    rig_init(r, f, NM_SIM_R);
    nm_sim_config_t sc = {.scl_hz = 400000, .seed = 9};
    xr_start(r, &sc);
    /* Flip a byte inside the payload of many transfers in the middle of the
     * install: DATA frames, ACKs and bare headers alike. */
    for (unsigned k = 0; k < 16; k++) {
        nm_sim_fault_t c = {.kind = NM_SIM_CORRUPT, .mask = 0x21, .at_xfer = 60 + 7 * k, .arg = 40 + k};
        CHECK_EQ(nm_sim_add_fault(r->sim, &c), 0);
    }
    CHECK_EQ(nm_sim_run(r->sim, 300 * XR_SEC, xr_sent, r), 0);
    nm_xfer_send_t *s = xr_snd(r);
    CHECK_EQ(s->result, 0);
    CHECK(s->stats.retransmits >= 1);
    CHECK(xr_rcv(r)->link.bad_frames >= 1);
    CHECK_EQ(store_holds_remounted(f), 2);
    printf("  receiver saw %u bad frames, dropped %u chunks\n", (unsigned)xr_rcv(r)->link.bad_frames,
           (unsigned)xr_rcv(r)->stats.data_dropped);
    print_run("16 corrupted transfers", r);
    xr_end(r);
    store_free(f);
    free(r);
}

/* Sender and receiver over in-memory streams that lose, duplicate and
 * garble spans of bytes: framing resynchronises, the install completes. */
static void lossy_stream_with_dropped_duplicated_garbled_spans_still_installs(void) {
    sf_store_t *f = store_new(&g_store);
    static xr_fifo_t s2r, r2s, wire;
    static uint8_t rbuf[XR_BUF];
    uint32_t clock = 0;
    xr_mio_t ms = {&r2s, &wire, &clock, 0}, mr = {&s2r, &r2s, &clock, 0};
    nm_xfer_send_config_t sc = {xr_mio(&ms), mod_new, mod_new_len, "app", 0, 0, 200, 0};
    nm_xfer_recv_config_t rc = {xr_mio(&mr), &f->st, rbuf, sizeof rbuf, 0};
    nm_xfer_send_t *s = calloc(1, sizeof *s);
    nm_xfer_recv_t *rv = calloc(1, sizeof *rv);
    nm_detail_t d;
    s2r.len = r2s.len = wire.len = 0;
    CHECK_EQ(nm_xfer_send_init(s, &sc, &d), 0);
    CHECK_EQ(nm_xfer_recv_init(rv, &rc, &d), 0);
    uint64_t rng = 12345;
    unsigned mangled = 0;
    for (unsigned step = 0; step < 200000 && !nm_xfer_send_done(s); step++) {
        nm_xfer_send_poll(s);
        /* the sender's bytes cross a bad wire */
        if (wire.len) {
            uint64_t x = sf_rnd(&rng);
            size_t n = wire.len;
            if (x % 7 == 0 && n > 4) { /* lose a span */
                size_t at = (x >> 8) % n, len = 1 + (x >> 24) % (n - at);
                memmove(wire.buf + at, wire.buf + at + len, n - at - len);
                n -= len;
                mangled++;
            } else if (x % 7 == 1 && n > 4 && n < 4000) { /* duplicate a span */
                size_t at = (x >> 8) % n, len = 1 + (x >> 24) % (n - at);
                memmove(wire.buf + at + len, wire.buf + at, n - at);
                n += len;
                mangled++;
            } else if (x % 7 == 2) { /* garble a span */
                size_t at = (x >> 8) % n, len = 1 + (x >> 24) % 8;
                for (size_t i = at; i < n && i < at + len; i++)
                    wire.buf[i] ^= (uint8_t)(x >> 40) | 1;
                mangled++;
            }
            memcpy(s2r.buf + s2r.len, wire.buf, n);
            s2r.len += n;
            wire.len = 0;
        }
        nm_xfer_recv_poll(rv);
        clock += 5;
    }
    CHECK(nm_xfer_send_done(s));
    CHECK_EQ(s->result, 0);
    CHECK_EQ(store_holds_remounted(f), 2);
    CHECK(rv->link.bad_frames + rv->link.skipped > 0);
    printf("  %u mangled spans: %u chunks, %u retransmits, %u timeouts, receiver skipped %u bytes, "
           "%u bad frames\n", mangled, (unsigned)s->stats.chunks, (unsigned)s->stats.retransmits,
           (unsigned)s->stats.timeouts, (unsigned)rv->link.skipped, (unsigned)rv->link.bad_frames);
    free(s);
    free(rv);
    store_free(f);
}

/* ---- malformed frames fed to the receiver ------------------------------ */

typedef struct feed {
    sf_store_t *f;
    xr_fifo_t in, out;
    uint32_t clock;
    xr_mio_t m;
    nm_xfer_recv_t rv;
    uint8_t rbuf[8192];
} feed_t;

static void feed_bytes(feed_t *x, const uint8_t *p, size_t n) {
    memcpy(x->in.buf + x->in.len, p, n);
    x->in.len += n;
    nm_xfer_recv_poll(&x->rv);
}

static void feed_frame(feed_t *x, uint8_t type, uint32_t a, uint32_t b, const void *p, size_t n) {
    uint8_t fr[512];
    size_t len = nm_xfer_frame(fr, sizeof fr, type, a, b, p, n);
    feed_bytes(x, fr, len);
}

/* The next answer in out: 1 and its fields, or 0. */
static int answer(feed_t *x, uint8_t *type, uint32_t *a, uint32_t *b) {
    if (x->out.len < NM_XFER_OVERHEAD)
        return 0;
    uint8_t *p = x->out.buf;
    uint32_t len = p[12] | (uint32_t)p[13] << 8;
    uint32_t total = NM_XFER_OVERHEAD + len;
    if (p[0] != NM_XFER_MAGIC0 || p[1] != NM_XFER_MAGIC1 || x->out.len < total)
        return 0;
    uint32_t crc = p[14 + len] | (uint32_t)p[15 + len] << 8 | (uint32_t)p[16 + len] << 16 | (uint32_t)p[17 + len] << 24;
    if (crc != nm_crc32(0, p, 14 + len))
        return 0;
    *type = p[2];
    memcpy(a, p + 4, 4);
    memcpy(b, p + 8, 4);
    memmove(p, p + total, x->out.len - total);
    x->out.len -= total;
    return 1;
}

static void malformed_frames_are_rejected_without_crash(void) {
    feed_t *x = calloc(1, sizeof *x);
    x->f = store_new(&g_store);
    x->m = (xr_mio_t){&x->in, &x->out, &x->clock, 0};
    nm_xfer_recv_config_t rc = {xr_mio(&x->m), &x->f->st, x->rbuf, sizeof x->rbuf, 0};
    nm_detail_t d;
    CHECK_EQ(nm_xfer_recv_init(&x->rv, &rc, &d), 0);
    uint8_t t;
    uint32_t a, b;
    uint32_t crc = nm_crc32(0, mod_new, mod_new_len);
    uint8_t fr[512];

    /* garbage, a lone magic, a truncated frame: no answer */
    feed_bytes(x, (const uint8_t *)"\x00\xFFnXnnX garbage", 15);
    size_t n = nm_xfer_frame(fr, sizeof fr, NM_XFER_HELLO, 1, 0, NULL, 0);
    feed_bytes(x, fr, n - 3);
    CHECK_EQ(x->out.len, 0);
    x->in.len = 0;
    x->rv.link.rx_len = 0;
    /* bad CRC */
    n = nm_xfer_frame(fr, sizeof fr, NM_XFER_HELLO, 1, 0, NULL, 0);
    fr[n - 1] ^= 1;
    feed_bytes(x, fr, n);
    CHECK_EQ(x->out.len, 0);
    /* a huge length, unknown type, non-zero flags */
    n = nm_xfer_frame(fr, sizeof fr, NM_XFER_HELLO, 1, 0, NULL, 0);
    fr[12] = 0xFF, fr[13] = 0xFF;
    feed_bytes(x, fr, n);
    n = nm_xfer_frame(fr, sizeof fr, 0x77, 1, 0, NULL, 0);
    feed_bytes(x, fr, n);
    n = nm_xfer_frame(fr, sizeof fr, NM_XFER_HELLO, 1, 0, NULL, 0);
    fr[3] = 1;
    feed_bytes(x, fr, n);
    CHECK_EQ(x->out.len, 0);
    CHECK(x->rv.link.bad_frames >= 3);
    /* a frame longer than the receiver's frame_max */
    static uint8_t big[400];
    feed_frame(x, NM_XFER_DATA, 0, crc, big, sizeof big - NM_XFER_OVERHEAD);
    CHECK_EQ(x->out.len, 0);
    /* ... and after all that a good HELLO is still understood */
    x->rv.link.rx_len = 0;
    feed_frame(x, NM_XFER_HELLO, 1, 0, NULL, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_INFO && a == sizeof x->rbuf);
    /* DATA and COMMIT without a session */
    feed_frame(x, NM_XFER_DATA, 0, crc, mod_new, 100);
    CHECK_EQ(x->out.len, 0);
    feed_frame(x, NM_XFER_COMMIT, (uint32_t)mod_new_len, crc, NULL, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_RESUME && a == 0);
    /* bad OFFERs: name too long, empty, with a NUL, size 0, size beyond the buffer */
    feed_frame(x, NM_XFER_OFFER, (uint32_t)mod_new_len, crc, "a-name-that-is-much-too-long", 28);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_INVAL);
    feed_frame(x, NM_XFER_OFFER, (uint32_t)mod_new_len, crc, NULL, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_INVAL);
    feed_frame(x, NM_XFER_OFFER, (uint32_t)mod_new_len, crc, "ap\0p", 4);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_INVAL);
    feed_frame(x, NM_XFER_OFFER, 0, crc, "app", 3);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_INVAL);
    feed_frame(x, NM_XFER_OFFER, 0xFFFFFFF0u, crc, "app", 3);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_NOSPC);
    CHECK_EQ(x->rv.active, 0);
    /* a good OFFER, then DATA at wrong offsets, past the end, empty, another crc */
    feed_frame(x, NM_XFER_OFFER, (uint32_t)mod_new_len, crc, "app", 3);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_RESUME && a == 0 && b == crc);
    feed_frame(x, NM_XFER_DATA, 100, crc, mod_new + 100, 100);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_ACK && a == 0);
    feed_frame(x, NM_XFER_DATA, 0, crc, mod_new, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_ACK && a == 0);
    feed_frame(x, NM_XFER_DATA, 0, crc ^ 1, mod_new, 100);
    CHECK_EQ(x->out.len, 0);
    feed_frame(x, NM_XFER_DATA, 0xFFFFFF00u, crc, mod_new, 100);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_ACK && a == 0);
    CHECK_EQ(x->rv.stats.data_dropped, 3);
    /* the whole module in order, except a chunk whose bytes differ from
     * the offer (frame CRC right, slice CRC wrong) */
    uint32_t off = 0;
    while (off < mod_new_len) {
        uint32_t c = mod_new_len - off < 150 ? (uint32_t)(mod_new_len - off) : 150;
        uint8_t chunk[150];
        memcpy(chunk, mod_new + off, c);
        if (off == 1500)
            chunk[3] ^= 0x80;
        feed_frame(x, NM_XFER_DATA, off, crc, chunk, c);
        CHECK(answer(x, &t, &a, &b) && t == NM_XFER_ACK && a == off + c);
        off += c;
    }
    /* a DATA frame that would run past the size */
    feed_frame(x, NM_XFER_DATA, off - 10, crc, mod_new, 20);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_ACK && a == off);
    feed_frame(x, NM_XFER_COMMIT, (uint32_t)mod_new_len, crc, NULL, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_CRC);
    CHECK(nm_store_find(&x->f->st, "app") == NULL);
    /* a repeated COMMIT gets the same answer, no second attempt */
    feed_frame(x, NM_XFER_COMMIT, (uint32_t)mod_new_len, crc, NULL, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_CRC);
    CHECK_EQ(x->rv.stats.installs + x->rv.stats.install_errors, 0);
    /* a slice that is not a module: right CRCs, the store refuses it */
    uint8_t junk[300];
    memset(junk, 0x5A, sizeof junk);
    uint32_t jcrc = nm_crc32(0, junk, sizeof junk);
    feed_frame(x, NM_XFER_OFFER, sizeof junk, jcrc, "junk", 4);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_RESUME && a == 0);
    feed_frame(x, NM_XFER_DATA, 0, jcrc, junk, 150);
    feed_frame(x, NM_XFER_DATA, 150, jcrc, junk + 150, 150);
    CHECK(answer(x, &t, &a, &b) && answer(x, &t, &a, &b) && t == NM_XFER_ACK && a == sizeof junk);
    feed_frame(x, NM_XFER_COMMIT, sizeof junk, jcrc, NULL, 0);
    CHECK(answer(x, &t, &a, &b) && t == NM_XFER_DONE && (int32_t)a == NM_ERR_MAGIC);
    CHECK_EQ(x->rv.stats.install_errors, 1);
    uint32_t pos = 0;
    CHECK(nm_store_next(&x->f->st, &pos) == NULL);
    CHECK_EQ(x->f->emu.violations, 0);
    store_free(x->f);
    free(x);
}

static void sender_rejects_bad_config_and_ignores_stray_frames(void) {
    static xr_fifo_t in, out;
    uint32_t clock = 0;
    xr_mio_t m = {&in, &out, &clock, 0};
    nm_xfer_send_config_t c = {xr_mio(&m), mod_new, mod_new_len, "x", 0, 0, 0, 0};
    nm_xfer_send_t *s = calloc(1, sizeof *s);
    nm_detail_t d;
    c.frame_max = 20;
    CHECK_EQ(nm_xfer_send_init(s, &c, &d), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(d.msg, "frame_max");
    c.frame_max = 0;
    c.name = "a-name-that-is-much-too-long";
    CHECK_EQ(nm_xfer_send_init(s, &c, &d), NM_ERR_INVAL);
    c.name = NULL;
    c.module_len = 10;
    CHECK_EQ(nm_xfer_send_init(s, &c, &d), NM_ERR_INVAL);
    c.module_len = mod_new_len;
    c.timeout_ms = 100;
    c.retries = 3;
    in.len = out.len = 0;
    CHECK_EQ(nm_xfer_send_init(s, &c, &d), 0);
    /* stray answers before INFO, an INFO of another version: ignored / refused */
    uint8_t fr[64];
    size_t n = nm_xfer_frame(fr, sizeof fr, NM_XFER_ACK, 100, 0, NULL, 0);
    memcpy(in.buf, fr, n);
    in.len = n;
    nm_xfer_send_poll(s);
    CHECK(!nm_xfer_send_done(s));
    CHECK_EQ(s->link.out_by_type[NM_XFER_HELLO], 1);
    /* nobody answers: retries, then a timeout naming what it waited for */
    for (unsigned i = 0; i < 100 && !nm_xfer_send_done(s); i++) {
        clock += 50;
        nm_xfer_send_poll(s);
    }
    CHECK_EQ(s->result, NM_ERR_TIMEOUT);
    CHECK_STR_CONTAINS(s->detail.msg, "HELLO");
    CHECK_EQ(s->link.out_by_type[NM_XFER_HELLO], 4);
    free(s);
}

int main(void) {
    CHECK_EQ(sf_module(0, "app", 2, MOD_SIZE, &mod_new, &mod_new_len), NM_OK);
    CHECK_EQ(sf_module(0, "app", 1, MOD_SIZE / 2, &mod_old, &mod_old_len), NM_OK);
    RUN(install_over_the_link_lands_in_the_store_with_its_crc);
    RUN(responder_crash_mid_install_resumes_from_the_receivers_offset);
    RUN(crash_at_many_points_leaves_old_or_new_never_partial);
    RUN(roles_swapped_receiver_reboot_restarts_from_zero);
    RUN(wrong_arch_is_refused_before_any_offer_or_data);
    RUN(oversize_module_is_refused_locally);
    RUN(corrupted_chunks_are_retransmitted_and_the_install_succeeds);
    RUN(lossy_stream_with_dropped_duplicated_garbled_spans_still_installs);
    RUN(malformed_frames_are_rejected_without_crash);
    RUN(sender_rejects_bad_config_and_ignores_stray_frames);
    free(mod_new);
    free(mod_old);
    return TEST_DONE();
}
