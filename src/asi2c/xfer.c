/*
 * xfer: the module transfer protocol (include/natmod/xfer.h has the wire
 * format). Three parts: the frame layer (resynchronising reader, one
 * outgoing frame at a time), the receiver, the sender.
 */
#include <string.h>

#include "natmod/xfer.h"

#include "natmod/format.h"

/* ---- little-endian helpers -------------------------------------------- */

static void put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
    put16(p, v);
    put16(p + 2, v >> 16);
}
static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return get16(p) | get16(p + 2) << 16; }

/* ---- frame layer ------------------------------------------------------- */

typedef struct frame {
    uint8_t type;
    uint32_t a, b;
    const uint8_t *p;
    uint32_t len;
} frame_t;

size_t nm_xfer_frame(uint8_t *out, size_t cap, uint8_t type, uint32_t a, uint32_t b,
                     const void *payload, size_t len) {
    if (len > 0xFFFFu || cap < NM_XFER_OVERHEAD || len > cap - NM_XFER_OVERHEAD)
        return 0;
    out[0] = NM_XFER_MAGIC0;
    out[1] = NM_XFER_MAGIC1;
    out[2] = type;
    out[3] = 0;
    put32(out + 4, a);
    put32(out + 8, b);
    put16(out + 12, (uint32_t)len);
    if (len)
        memcpy(out + NM_XFER_HDR, payload, len);
    put32(out + NM_XFER_HDR + len, nm_crc32(0, out, NM_XFER_HDR + len));
    return NM_XFER_HDR + len + 4;
}

static void link_init(nm_xfer_link_t *l, const nm_xfer_io_t *io, uint16_t frame_max) {
    memset(l, 0, sizeof *l);
    l->io = *io;
    l->frame_max = frame_max;
}

static uint32_t link_now(const nm_xfer_link_t *l) { return l->io.now_ms(l->io.ctx); }

/* Push the pending frame out. 1 if nothing is left to write. */
static int link_flush(nm_xfer_link_t *l) {
    while (l->tx_pos < l->tx_len) {
        int n = l->io.write(l->io.ctx, l->tx + l->tx_pos, (size_t)(l->tx_len - l->tx_pos));
        if (n < 0)
            l->io_err = n;
        if (n <= 0)
            return 0;
        /* a stream that claims more than it was given is not trusted */
        uint32_t took = (uint32_t)n > (uint32_t)(l->tx_len - l->tx_pos) ? (uint32_t)(l->tx_len - l->tx_pos)
                                                                         : (uint32_t)n;
        l->tx_pos = (uint16_t)(l->tx_pos + took);
        l->bytes_out += took;
    }
    l->tx_len = l->tx_pos = 0;
    return 1;
}

/* Queue a frame (only when the previous one is out) and start writing it. */
static void link_send(nm_xfer_link_t *l, uint8_t type, uint32_t a, uint32_t b, const void *p, size_t len) {
    size_t n = nm_xfer_frame(l->tx, l->frame_max, type, a, b, p, len);
    if (!n || l->tx_len)
        return; /* callers size payloads to fit and wait for an empty slot */
    l->tx_len = (uint16_t)n;
    l->tx_pos = 0;
    l->frames_out++;
    l->out_by_type[type < NM_XFER_TYPE_COUNT ? type : 0]++;
    link_flush(l);
}

static int link_busy(const nm_xfer_link_t *l) { return l->tx_len != 0; }

static void link_drop(nm_xfer_link_t *l, uint32_t n) {
    if (n > l->rx_len)
        n = l->rx_len;
    memmove(l->rx, l->rx + n, l->rx_len - n);
    l->rx_len = (uint16_t)(l->rx_len - n);
}

/* Read more bytes; 1 if any came. */
static int link_fill(nm_xfer_link_t *l) {
    if (l->rx_len >= l->frame_max)
        return 0;
    int n = l->io.read(l->io.ctx, l->rx + l->rx_len, (size_t)(l->frame_max - l->rx_len));
    if (n < 0)
        l->io_err = n;
    if (n <= 0)
        return 0;
    if ((uint32_t)n > (uint32_t)(l->frame_max - l->rx_len))
        n = l->frame_max - l->rx_len;
    l->rx_len = (uint16_t)(l->rx_len + n);
    return 1;
}

/* The next intact frame, or 0 when the bytes so far hold none. The frame
 * points into rx and stays valid until the next call (*consumed is how much
 * to drop first). */
static int link_next(nm_xfer_link_t *l, frame_t *f, uint32_t *consumed) {
    link_drop(l, *consumed);
    *consumed = 0;
    for (;;) {
        /* Resynchronise: skip to the first possible magic. */
        uint32_t i = 0;
        while (i < l->rx_len && !(l->rx[i] == NM_XFER_MAGIC0 && (i + 1 >= l->rx_len || l->rx[i + 1] == NM_XFER_MAGIC1)))
            i++;
        if (i) {
            l->skipped += i;
            link_drop(l, i);
        }
        if (l->rx_len < NM_XFER_HDR) {
            if (!link_fill(l))
                return 0;
            continue;
        }
        uint32_t len = get16(l->rx + 12);
        uint8_t type = l->rx[2];
        if (type == 0 || type >= NM_XFER_TYPE_COUNT || l->rx[3] != 0 ||
            len > (uint32_t)l->frame_max - NM_XFER_OVERHEAD) {
            /* Not a header we would send: a false magic inside garbage. */
            l->bad_frames++;
            l->skipped++;
            link_drop(l, 1);
            continue;
        }
        uint32_t total = NM_XFER_OVERHEAD + len;
        if (l->rx_len < total) {
            if (!link_fill(l))
                return 0;
            continue;
        }
        if (nm_crc32(0, l->rx, NM_XFER_HDR + len) != get32(l->rx + NM_XFER_HDR + len)) {
            /* The real frame, if any, may start inside this one. */
            l->bad_frames++;
            l->skipped++;
            link_drop(l, 1);
            continue;
        }
        f->type = type;
        f->a = get32(l->rx + 4);
        f->b = get32(l->rx + 8);
        f->p = l->rx + NM_XFER_HDR;
        f->len = len;
        l->frames_in++;
        *consumed = total;
        return 1;
    }
}

static uint16_t frame_max_of(uint16_t v) { return v ? v : (uint16_t)NM_XFER_FRAME_DEFAULT; }

static int check_io(const nm_xfer_io_t *io, uint16_t frame_max, nm_detail_t *d, const char *who) {
    if (!io->write || !io->read || !io->now_ms) {
        nm_detail_set(d, who);
        nm_detail_cat(d, ": io.write, io.read and io.now_ms are required");
        return NM_ERR_INVAL;
    }
    if (frame_max < NM_XFER_FRAME_MIN || frame_max > NM_XFER_FRAME_MAX) {
        nm_detail_set(d, who);
        nm_detail_cat(d, ": frame_max ");
        nm_detail_dec(d, frame_max);
        nm_detail_cat(d, " is outside 64..");
        nm_detail_dec(d, NM_XFER_FRAME_MAX);
        return NM_ERR_INVAL;
    }
    return NM_OK;
}

/* ---- receiver ---------------------------------------------------------- */

int nm_xfer_recv_init(nm_xfer_recv_t *r, const nm_xfer_recv_config_t *cfg, nm_detail_t *detail) {
    nm_detail_t dummy;
    nm_detail_t *d = detail ? detail : &dummy;
    memset(r, 0, sizeof *r);
    if (!cfg) {
        nm_detail_set(d, "xfer receiver: no config");
        return NM_ERR_INVAL;
    }
    r->cfg = *cfg;
    r->cfg.frame_max = frame_max_of(cfg->frame_max);
    int rc = check_io(&cfg->io, r->cfg.frame_max, d, "xfer receiver");
    if (rc)
        return rc;
    if (!cfg->store || !cfg->store->cfg || !cfg->store->cfg->loader || !cfg->buf || cfg->buf_size < NM_HEADER_SIZE) {
        nm_detail_set(d, "xfer receiver: store (with a loader config) and buf of at least 64 bytes are required");
        return NM_ERR_INVAL;
    }
    link_init(&r->link, &cfg->io, r->cfg.frame_max);
    return NM_OK;
}

static void recv_done(nm_xfer_recv_t *r, uint32_t crc, int status, const nm_detail_t *d) {
    r->done_valid = 1;
    r->done_crc = crc;
    r->done_status = status;
    r->done_detail = *d;
    r->done_detail.msg[NM_DETAIL_MAX - 1] = 0;
}

static void recv_send_done(nm_xfer_recv_t *r) {
    size_t n = strlen(r->done_detail.msg);
    size_t room = (size_t)r->link.frame_max - NM_XFER_OVERHEAD;
    link_send(&r->link, NM_XFER_DONE, (uint32_t)r->done_status, r->done_crc, r->done_detail.msg,
              n < room ? n : room);
}

/* An answer that is not remembered (refused OFFER). */
static void recv_refuse(nm_xfer_recv_t *r, uint32_t crc, int status, const nm_detail_t *d) {
    size_t n = strlen(d->msg);
    size_t room = (size_t)r->link.frame_max - NM_XFER_OVERHEAD;
    link_send(&r->link, NM_XFER_DONE, (uint32_t)status, crc, d->msg, n < room ? n : room);
}

static void recv_offer(nm_xfer_recv_t *r, const frame_t *f) {
    nm_detail_t d;
    r->stats.offers++;
    r->done_valid = 0; /* a new request: a COMMIT after it installs again */
    int name_ok = f->len >= 1 && f->len <= NM_STORE_NAME_MAX && !memchr(f->p, 0, f->len);
    if (!name_ok || f->a < NM_HEADER_SIZE) {
        nm_detail_set(&d, name_ok ? "xfer: offered size " : "xfer: offered name is not 1..23 bytes");
        if (name_ok) {
            nm_detail_dec(&d, f->a);
            nm_detail_cat(&d, " is smaller than a module header");
        }
        recv_refuse(r, f->b, NM_ERR_INVAL, &d);
        return;
    }
    if (f->a > r->cfg.buf_size) {
        nm_detail_set(&d, "xfer: module of ");
        nm_detail_dec(&d, f->a);
        nm_detail_cat(&d, " bytes exceeds the receive buffer (");
        nm_detail_dec(&d, r->cfg.buf_size);
        nm_detail_cat(&d, ")");
        recv_refuse(r, f->b, NM_ERR_NOSPC, &d);
        return;
    }
    int same = r->active && r->size == f->a && r->crc == f->b && strlen(r->name) == f->len &&
               !memcmp(r->name, f->p, f->len);
    if (!same) {
        r->active = 1;
        r->size = f->a;
        r->crc = f->b;
        r->have = 0;
        memcpy(r->name, f->p, f->len);
        r->name[f->len] = 0;
    }
    link_send(&r->link, NM_XFER_RESUME, r->have, r->crc, NULL, 0);
}

static void recv_data(nm_xfer_recv_t *r, const frame_t *f) {
    if (!r->active || f->b != r->crc)
        return; /* not our session (we rebooted): the sender's timeout re-OFFERs */
    if (f->a == r->have && f->len > 0 && f->len <= r->size - r->have) {
        memcpy(r->cfg.buf + r->have, f->p, f->len);
        r->have += f->len;
        r->stats.data_ok++;
    } else {
        r->stats.data_dropped++;
    }
    link_send(&r->link, NM_XFER_ACK, r->have, r->crc, NULL, 0);
}

static void recv_commit(nm_xfer_recv_t *r, const frame_t *f) {
    r->stats.commits++;
    if (r->done_valid && r->done_crc == f->b) {
        recv_send_done(r);
        return;
    }
    if (!r->active || r->crc != f->b || r->size != f->a) {
        link_send(&r->link, NM_XFER_RESUME, 0, f->b, NULL, 0);
        return;
    }
    if (r->have < r->size) {
        link_send(&r->link, NM_XFER_ACK, r->have, r->crc, NULL, 0);
        return;
    }
    nm_detail_t d = {{0}};
    int rc;
    uint32_t crc = nm_crc32(0, r->cfg.buf, r->size);
    if (crc != r->crc) {
        /* Every chunk passed its frame CRC, so this is a sender bug or a
         * collision; start over rather than install it. */
        nm_detail_set(&d, "xfer: received slice has crc ");
        nm_detail_hex(&d, crc);
        nm_detail_cat(&d, ", offered ");
        nm_detail_hex(&d, r->crc);
        rc = NM_ERR_CRC;
        r->active = 0;
    } else {
        const nm_store_entry_t *e = NULL;
        rc = nm_store_install(r->cfg.store, r->cfg.buf, r->size, r->name, &e, &d);
        if (rc == NM_OK && e) {
            r->stats.installs++;
            nm_detail_set(&d, "installed ");
            nm_detail_cat(&d, e->name);
            nm_detail_cat(&d, ": ");
            nm_detail_dec(&d, e->size);
            nm_detail_cat(&d, " bytes at offset ");
            nm_detail_hex(&d, nm_store_offset(r->cfg.store, e));
            nm_detail_cat(&d, ", crc ");
            nm_detail_hex(&d, e->crc);
        } else {
            r->stats.install_errors++;
            if (!d.msg[0])
                nm_detail_set(&d, "xfer: install failed");
        }
    }
    recv_done(r, f->b, rc, &d);
    recv_send_done(r);
}

static void recv_hello(nm_xfer_recv_t *r) {
    const nm_loader_config_t *lc = r->cfg.store->cfg->loader;
    nm_store_stats_t st;
    nm_store_stat(r->cfg.store, &st);
    uint64_t free_bytes = r->cfg.store->mounted ? (uint64_t)st.largest_free * st.block_size : 0;
    uint8_t p[8] = {NM_XFER_VERSION, (uint8_t)lc->arch, (uint8_t)lc->float_abi, 0, 0, 0, 0, 0};
    put16(p + 4, r->link.frame_max);
    r->stats.hellos++;
    link_send(&r->link, NM_XFER_INFO, r->cfg.buf_size, free_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)free_bytes,
              p, sizeof p);
}

uint32_t nm_xfer_recv_poll(nm_xfer_recv_t *r) {
    frame_t f;
    uint32_t consumed = 0;
    /* One answer per request, and no reading while an answer waits: the
     * sender is held back by the stream, not by lost answers. */
    while (link_flush(&r->link) && link_next(&r->link, &f, &consumed)) {
        switch (f.type) {
        case NM_XFER_HELLO:
            recv_hello(r);
            break;
        case NM_XFER_OFFER:
            recv_offer(r, &f);
            break;
        case NM_XFER_DATA:
            recv_data(r, &f);
            break;
        case NM_XFER_COMMIT:
            recv_commit(r, &f);
            break;
        default:
            break; /* answers from another receiver, or our own echo */
        }
    }
    link_drop(&r->link, consumed);
    return link_busy(&r->link) ? 10u : NM_XFER_NO_DEADLINE;
}

/* ---- sender ------------------------------------------------------------ */

int nm_xfer_send_init(nm_xfer_send_t *s, const nm_xfer_send_config_t *cfg, nm_detail_t *detail) {
    nm_detail_t dummy;
    nm_detail_t *d = detail ? detail : &dummy;
    memset(s, 0, sizeof *s);
    if (!cfg) {
        nm_detail_set(d, "xfer sender: no config");
        return NM_ERR_INVAL;
    }
    s->cfg = *cfg;
    s->cfg.frame_max = frame_max_of(cfg->frame_max);
    s->cfg.window = cfg->window ? cfg->window : 4;
    s->cfg.timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 3000;
    s->cfg.retries = cfg->retries ? cfg->retries : 10;
    int rc = check_io(&cfg->io, s->cfg.frame_max, d, "xfer sender");
    if (rc)
        return rc;
    if (!cfg->module || cfg->module_len < NM_HEADER_SIZE || cfg->module_len > UINT32_MAX) {
        nm_detail_set(d, "xfer sender: no module, or shorter than a module header");
        return NM_ERR_INVAL;
    }
    if (cfg->name) {
        size_t n = strlen(cfg->name);
        if (n == 0 || n > NM_STORE_NAME_MAX) {
            nm_detail_set(d, "xfer sender: name must be 1..23 bytes");
            return NM_ERR_INVAL;
        }
    }
    link_init(&s->link, &cfg->io, s->cfg.frame_max);
    s->state = NM_XFER_S_HELLO;
    s->pending = NM_XFER_HELLO;
    s->mark_ms = link_now(&s->link);
    return NM_OK;
}

static void send_fail(nm_xfer_send_t *s, int err) {
    s->state = NM_XFER_S_DONE;
    s->result = err;
    s->pending = 0;
}

static void detail_target(nm_detail_t *d, unsigned arch, unsigned fabi) {
    nm_detail_cat(d, nm_arch_name(arch));
    nm_detail_cat(d, "/");
    nm_detail_cat(d, nm_float_name(fabi));
}

/* The board answered HELLO: choose the slice and judge it before any of
 * it goes out. */
static void send_info(nm_xfer_send_t *s, const frame_t *f) {
    nm_detail_t *d = &s->detail;
    if (f->len < 8 || f->p[0] != NM_XFER_VERSION) {
        nm_detail_set(d, "xfer: the board speaks protocol version ");
        nm_detail_dec(d, f->len ? f->p[0] : 0);
        nm_detail_cat(d, ", this sender 1");
        send_fail(s, NM_ERR_VERSION);
        return;
    }
    s->have_info = 1;
    s->peer_max_module = f->a;
    s->peer_free = f->b;
    s->peer_arch = f->p[1];
    s->peer_float = f->p[2];
    s->peer_frame_max = (uint16_t)get16(f->p + 4);
    if (s->peer_frame_max < NM_XFER_FRAME_MIN) {
        nm_detail_set(d, "xfer: the board's frame_max ");
        nm_detail_dec(d, s->peer_frame_max);
        nm_detail_cat(d, " is below 64");
        send_fail(s, NM_ERR_PROTO);
        return;
    }
    nm_slice_info_t si;
    nm_detail_t sd = {{0}};
    int rc = nm_select_slice(s->cfg.module, s->cfg.module_len, s->peer_arch, s->peer_float, &si, &sd);
    nm_image_t img;
    if (rc == NM_OK)
        rc = nm_image_parse(s->cfg.module + si.offset, si.size, &img, &sd);
    if (rc != NM_OK) {
        nm_detail_set(d, "module");
        if (s->cfg.name) {
            nm_detail_cat(d, " ");
            nm_detail_cat(d, s->cfg.name);
        }
        nm_detail_cat(d, ": ");
        nm_detail_cat(d, sd.msg); /* NM_ERR_ARCH: "no slice for <board> (has <slices>)" */
        send_fail(s, rc);
        return;
    }
    const char *name = s->cfg.name ? s->cfg.name : img.strtab;
    size_t nlen = 0, nmax = s->cfg.name ? NM_STORE_NAME_MAX + 1 : img.strtab_size;
    while (nlen < nmax && name[nlen])
        nlen++;
    if (nlen == 0 || nlen > NM_STORE_NAME_MAX) {
        nm_detail_set(d, "module: its name is not 1..23 bytes; give one (--name)");
        send_fail(s, NM_ERR_INVAL);
        return;
    }
    memcpy(s->name, name, nlen);
    s->name[nlen] = 0;
    if (!nm_arch_can_run(s->peer_arch, s->peer_float, img.arch, img.float_abi)) {
        nm_detail_set(d, "module ");
        nm_detail_cat(d, s->name);
        nm_detail_cat(d, " is ");
        detail_target(d, img.arch, img.float_abi);
        nm_detail_cat(d, "; the board is ");
        detail_target(d, s->peer_arch, s->peer_float);
        send_fail(s, img.arch == s->peer_arch ? NM_ERR_FLOAT_ABI : NM_ERR_ARCH);
        return;
    }
    s->slice = s->cfg.module + si.offset;
    s->size = si.size;
    if (s->size > s->peer_max_module || s->size > s->peer_free) {
        int buf = s->size > s->peer_max_module;
        nm_detail_set(d, "module ");
        nm_detail_cat(d, s->name);
        nm_detail_cat(d, " (");
        detail_target(d, img.arch, img.float_abi);
        nm_detail_cat(d, ") is ");
        nm_detail_dec(d, s->size);
        nm_detail_cat(d, buf ? " bytes; the board receives at most " : " bytes; the board's store has ");
        nm_detail_dec(d, buf ? s->peer_max_module : s->peer_free);
        nm_detail_cat(d, buf ? "" : " free in one run");
        send_fail(s, NM_ERR_NOSPC);
        return;
    }
    s->crc = nm_crc32(0, s->slice, s->size);
    uint16_t fm = s->cfg.frame_max < s->peer_frame_max ? s->cfg.frame_max : s->peer_frame_max;
    s->chunk = (uint16_t)(fm - NM_XFER_OVERHEAD);
    s->state = NM_XFER_S_OFFER;
    s->pending = NM_XFER_OFFER;
    s->tries = 0;
}

static void send_resume(nm_xfer_send_t *s, uint32_t off) {
    if (!s->resumed) {
        s->resumed = 1;
        s->stats.first_resume = off;
    } else if (off < s->acked) {
        s->stats.restarts++;
    }
    s->acked = s->next = off;
    s->rewound_at = 0;
    s->tries = 0;
    s->mark_ms = link_now(&s->link);
    if (off == s->size) {
        s->state = NM_XFER_S_COMMIT;
        s->pending = NM_XFER_COMMIT;
    } else {
        s->state = NM_XFER_S_DATA;
        s->pending = 0;
    }
}

static void send_ack(nm_xfer_send_t *s, uint32_t a) {
    if (s->state == NM_XFER_S_COMMIT) {
        if (a < s->size)
            send_resume(s, a); /* the board is missing the tail */
        return;
    }
    if (a > s->acked) {
        s->acked = a;
        if (s->next < a)
            s->next = a;
        s->rewound_at = 0;
        s->tries = 0;
        s->mark_ms = link_now(&s->link);
        if (a == s->size) {
            s->state = NM_XFER_S_COMMIT;
            s->pending = NM_XFER_COMMIT;
        }
    } else if (a == s->acked && s->next > a && s->rewound_at != a + 1) {
        /* The board dropped a chunk (bad CRC, out of order): go back once
         * for this ACK value; later duplicates are the rest of the window. */
        s->next = a;
        s->rewound_at = a + 1;
    }
}

static void send_frame_in(nm_xfer_send_t *s, const frame_t *f) {
    switch (f->type) {
    case NM_XFER_INFO:
        if (s->state == NM_XFER_S_HELLO)
            send_info(s, f);
        return;
    case NM_XFER_RESUME:
        if (f->b != s->crc || f->a > s->size)
            return;
        if (s->state == NM_XFER_S_OFFER || (s->state == NM_XFER_S_COMMIT && f->a < s->size))
            send_resume(s, f->a);
        return;
    case NM_XFER_ACK:
        if (f->b == s->crc && f->a <= s->size && (s->state == NM_XFER_S_DATA || s->state == NM_XFER_S_COMMIT))
            send_ack(s, f->a);
        return;
    case NM_XFER_DONE: {
        int status = (int)(int32_t)f->a;
        if (f->b != s->crc || s->state < NM_XFER_S_OFFER || (status == 0 && s->state != NM_XFER_S_COMMIT))
            return;
        nm_detail_t *d = &s->detail;
        d->msg[0] = 0;
        uint32_t n = f->len < NM_DETAIL_MAX - 1 ? f->len : NM_DETAIL_MAX - 1;
        for (uint32_t i = 0; i < n; i++)
            d->msg[i] = (f->p[i] >= 0x20 && f->p[i] < 0x7F) ? (char)f->p[i] : '?';
        d->msg[n] = 0;
        if (status > 0 || status <= -NM_ERR_COUNT_)
            status = NM_ERR_PROTO;
        send_fail(s, status);
        return;
    }
    default:
        return;
    }
}

static void send_request(nm_xfer_send_t *s) {
    switch (s->pending) {
    case NM_XFER_HELLO:
        link_send(&s->link, NM_XFER_HELLO, NM_XFER_VERSION, 0, NULL, 0);
        break;
    case NM_XFER_OFFER:
        s->stats.offers++;
        link_send(&s->link, NM_XFER_OFFER, s->size, s->crc, s->name, strlen(s->name));
        break;
    case NM_XFER_COMMIT:
        link_send(&s->link, NM_XFER_COMMIT, s->size, s->crc, NULL, 0);
        break;
    default:
        break;
    }
    s->pending = 0;
    s->mark_ms = link_now(&s->link);
}

static void send_chunks(nm_xfer_send_t *s) {
    uint64_t limit = (uint64_t)s->acked + (uint64_t)s->cfg.window * s->chunk;
    while (!link_busy(&s->link) && s->next < s->size && s->next < limit) {
        uint32_t n = s->size - s->next < s->chunk ? s->size - s->next : s->chunk;
        if (s->next < s->high)
            s->stats.retransmits++;
        s->stats.chunks++;
        s->stats.data_bytes += n;
        link_send(&s->link, NM_XFER_DATA, s->next, s->crc, s->slice + s->next, n);
        s->next += n;
        if (s->next > s->high)
            s->high = s->next;
    }
}

static void send_timeout(nm_xfer_send_t *s) {
    s->stats.timeouts++;
    if (++s->tries > s->cfg.retries) {
        static const char *const what[] = {"HELLO", "OFFER", "ACK", "COMMIT"};
        nm_detail_set(&s->detail, "xfer: no answer from the board (waiting for the reply to ");
        nm_detail_cat(&s->detail, what[s->state < 4 ? s->state : 0]);
        nm_detail_cat(&s->detail, " at offset ");
        nm_detail_dec(&s->detail, s->acked);
        nm_detail_cat(&s->detail, ") after ");
        nm_detail_dec(&s->detail, s->tries - 1);
        nm_detail_cat(&s->detail, " retries");
        send_fail(s, s->link.io_err ? s->link.io_err : NM_ERR_TIMEOUT);
        return;
    }
    switch (s->state) {
    case NM_XFER_S_HELLO:
        s->pending = NM_XFER_HELLO;
        break;
    case NM_XFER_S_DATA:
        s->state = NM_XFER_S_OFFER; /* ask where the board is */
        /* fall through */
    case NM_XFER_S_OFFER:
        s->pending = NM_XFER_OFFER;
        break;
    default:
        s->pending = NM_XFER_COMMIT;
        break;
    }
    s->mark_ms = link_now(&s->link);
}

uint32_t nm_xfer_send_poll(nm_xfer_send_t *s) {
    if (s->state == NM_XFER_S_DONE)
        return NM_XFER_NO_DEADLINE;
    frame_t f;
    uint32_t consumed = 0;
    link_flush(&s->link);
    while (s->state != NM_XFER_S_DONE && link_next(&s->link, &f, &consumed))
        send_frame_in(s, &f);
    link_drop(&s->link, consumed);
    if (s->state == NM_XFER_S_DONE)
        return NM_XFER_NO_DEADLINE;
    if (link_flush(&s->link) && s->pending)
        send_request(s);
    if (s->state == NM_XFER_S_DATA)
        send_chunks(s);
    uint32_t waited = link_now(&s->link) - s->mark_ms;
    if (waited >= s->cfg.timeout_ms) {
        send_timeout(s);
        if (s->state == NM_XFER_S_DONE)
            return NM_XFER_NO_DEADLINE;
        if (link_flush(&s->link) && s->pending)
            send_request(s);
        waited = 0;
    }
    uint32_t left = s->cfg.timeout_ms - waited;
    /* Something waits for the stream: come back soon. */
    int blocked = link_busy(&s->link) || s->pending ||
                  (s->state == NM_XFER_S_DATA && s->next < s->size &&
                   s->next < (uint64_t)s->acked + (uint64_t)s->cfg.window * s->chunk);
    return blocked && left > 10 ? 10 : (left ? left : 1);
}

/* ---- asi2c as the stream ------------------------------------------------ */

static int a_write(void *ctx, const uint8_t *buf, size_t len) {
    nm_xfer_asi2c_t *a = ctx;
    return nm_asi2c_write(a->ch, buf, len);
}

static int a_read(void *ctx, uint8_t *buf, size_t len) {
    nm_xfer_asi2c_t *a = ctx;
    return (int)nm_asi2c_read(a->ch, buf, len);
}

static uint32_t a_now_ms(void *ctx) {
    nm_xfer_asi2c_t *a = ctx;
    uint32_t us = a->ch->cfg.hal.now_us(a->ch->cfg.hal.ctx);
    if (!a->started) {
        a->started = 1;
        a->last_us = us;
    }
    /* Differences of the wrapping us clock accumulate into ms. */
    a->frac_us += us - a->last_us;
    a->last_us = us;
    a->ms += a->frac_us / 1000u;
    a->frac_us %= 1000u;
    return a->ms;
}

void nm_xfer_io_asi2c(nm_xfer_io_t *io, nm_xfer_asi2c_t *a, nm_asi2c_t *ch) {
    memset(a, 0, sizeof *a);
    a->ch = ch;
    io->ctx = a;
    io->write = a_write;
    io->read = a_read;
    io->now_ms = a_now_ms;
}
