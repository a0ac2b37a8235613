/*
 * asi2c: an asynchronous, full-duplex, UART-like stream over a half-duplex
 * I2C bus plus two handshake wires, wire-compatible with MicroPython's asi2c
 * (micropython-async v3/as_drivers/i2c). docs/asi2c.md is the normative
 * description of the wire protocol; this header is the API and HAL contract.
 *
 * Roles. The Initiator is the I2C *slave* (address 0x12 by default), drives
 * the "sync" wire and starts every exchange. The Responder is the I2C
 * *master*, drives the "ack" wire and answers. The Initiator may also drive
 * the Responder's reset pin.
 *
 * One exchange moves up to one payload each way:
 *   T0  Initiator -> Responder  2-byte header        (always)
 *   T1  Initiator -> Responder  payload              (if T0's length > 0)
 *   T2  Responder -> Initiator  2-byte header        (always)
 *   T3  Responder -> Initiator  payload              (if T2's length > 0)
 * Header: { len & 0xFF, (len >> 8) & 0x7F | holdoff << 7 }: a 15-bit byte
 * count and "my receive slot is occupied: send me no payload".
 *
 * The core is a pair of non-blocking state machines (one per role) with no
 * allocation, no blocking and no recursion. The port calls nm_asi2c_step()
 * whenever something may have changed (an edge on the peer's wire, a
 * transfer completion, the deadline step() returned last time) and
 * nm_asi2c_xfer_done() when an I2C transfer it started finishes. step() is
 * meant to run in one context at a time (an ISR or an event loop); the
 * stream calls (read, write, readable, writable) may be made from another
 * context concurrently with it: the slots are published with acquire/release
 * stores, never half-written.
 */
#ifndef NATMOD_ASI2C_H
#define NATMOD_ASI2C_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"

/* Wire constants (the reference's defaults). */
#define NM_ASI2C_ADDR 0x12             /* Initiator's I2C slave address */
#define NM_ASI2C_HDR_SIZE 2
#define NM_ASI2C_MAX_LEN 0x7FFFu       /* 15-bit length field */
#define NM_ASI2C_HOLDOFF 0x80u         /* bit 7 of header byte 1 */
#define NM_ASI2C_RXBUF_DEFAULT 200u    /* reference rxbufsize */
#define NM_ASI2C_DELAY_US 20u          /* Responder: sync seen high -> bus transfer */
#define NM_ASI2C_T_POLL_US 100000u     /* Initiator: pause between exchanges */
#define NM_ASI2C_HANDSHAKE_US 1000000u /* Initiator: one wire wait */
#define NM_ASI2C_XFER_US 5000000u      /* Initiator: one I2C transfer */
#define NM_ASI2C_SETTLE_US 1000000u    /* Initiator: after start-up sync */
#define NM_ASI2C_SYNC_POLL_US 100000u  /* start-up sync: re-read the peer wire */
#define NM_ASI2C_RESET_US 200000u      /* reset pulse (asi2c example: active low 200 ms) */
#define NM_ASI2C_R_HANDSHAKE_US 500000u /* Responder: one wire wait (see docs) */
#define NM_ASI2C_GUARD_US 50u          /* own wire low at least this long before raising it
                                          again (Responder: before T2; Initiator: before T0) */
#define NM_ASI2C_NACK_RETRY_US 1000u   /* Responder: retry an address NACK this long (see docs) */

/* HAL transfer result: the slave did not acknowledge its address (nothing
 * moved). A port that cannot tell an address NACK from other bus errors
 * reports NM_ERR_IO, which is never retried. */
#define NM_ASI2C_ERR_NACK NM_ERR_NOENT

/* t_poll_us value for back-to-back exchanges (0 means "default" in a zeroed config). */
#define NM_ASI2C_BACK_TO_BACK UINT32_MAX
/* nack_retry_us value: fail on the first address NACK (the pre-issue-20 behaviour). */
#define NM_ASI2C_NO_RETRY UINT32_MAX
/* step() return value: nothing is due until an event (edge, transfer done). */
#define NM_ASI2C_NO_DEADLINE UINT32_MAX

static inline void nm_asi2c_hdr_encode(uint8_t h[2], uint32_t len, int holdoff) {
    h[0] = (uint8_t)(len & 0xFFu);
    h[1] = (uint8_t)(((len >> 8) & 0x7Fu) | (holdoff ? NM_ASI2C_HOLDOFF : 0u));
}
static inline uint32_t nm_asi2c_hdr_len(const uint8_t h[2]) {
    return (uint32_t)h[0] | ((uint32_t)(h[1] & 0x7Fu) << 8);
}
static inline int nm_asi2c_hdr_holdoff(const uint8_t h[2]) {
    return (h[1] & NM_ASI2C_HOLDOFF) != 0;
}

enum nm_asi2c_role { NM_ASI2C_INITIATOR = 0, NM_ASI2C_RESPONDER = 1 };

/*
 * The HAL: what a port provides. Levels are 0/1. Transfers are started by
 * the core and finish with nm_asi2c_xfer_done(ch, result), where result is
 * the number of bytes the bus moved or a negative NM_ERR_* (NM_ASI2C_ERR_NACK:
 * the address was not acknowledged; NM_ERR_IO: any other NACK or bus error). A port whose bus is blocking (Linux i2c-dev) may call
 * nm_asi2c_xfer_done() before the start function returns. A start function
 * that returns a negative error has started nothing.
 */
typedef struct nm_asi2c_hal {
    void *ctx;
    /* Drive our own wire: Initiator sync, Responder ack. */
    void (*set_own)(void *ctx, int level);
    /* Read the peer's wire: Initiator reads ack, Responder reads sync. */
    int (*get_peer)(void *ctx);
    /* Monotonic microseconds; may wrap at 2^32. */
    uint32_t (*now_us)(void *ctx);
    /* Optional edge latch: 1 if the peer's wire has fallen since the last
     * call, and forget it. The port records the falling edge where it
     * happens (a GPIO interrupt, the GPIO driver's event queue), so a low
     * pulse shorter than the time between two step() calls is not lost
     * (the reference Responder drops ack for only 30-40 us before T2).
     * NULL: the core sees levels only. */
    int (*peer_fell)(void *ctx);

    /* Initiator (I2C slave). Arm one transfer at our address: the master
     * reads len bytes of buf (slave_tx) or writes up to len bytes into buf
     * (slave_rx; buf NULL: receive and discard). Completion reports the
     * bytes the master actually moved. slave_cancel disarms (idempotent). */
    int (*slave_tx)(void *ctx, const uint8_t *buf, size_t len);
    int (*slave_rx)(void *ctx, uint8_t *buf, size_t len);
    void (*slave_cancel)(void *ctx);

    /* Responder (I2C master). A plain read or write of len bytes at addr,
     * no register byte (start, addr+R/W, data, stop). buf NULL on a read:
     * clock the bytes and discard them. */
    int (*master_read)(void *ctx, uint8_t addr, uint8_t *buf, size_t len);
    int (*master_write)(void *ctx, uint8_t addr, const uint8_t *buf, size_t len);

    /* Initiator, optional: drive the Responder's reset pin. NULL: no reset
     * wire; a failed Responder is reported and the link resynchronises. */
    void (*set_reset)(void *ctx, int level);
} nm_asi2c_hal_t;

/* What the core tells the application (config.event_cb). */
enum nm_asi2c_event {
    NM_ASI2C_EV_GO = 1,      /* synchronised: the link carries data (Initiator: cr_go) */
    NM_ASI2C_EV_FAIL = 2,    /* Initiator: the Responder failed (err says how); the
                                pending transmit slot was dropped (arg = its length) */
    NM_ASI2C_EV_RX = 3,      /* a payload arrived (arg = its length) */
    NM_ASI2C_EV_TX_DONE = 4, /* our payload crossed the bus; the slot is free (arg = length) */
    NM_ASI2C_EV_ERROR = 5,   /* a non-fatal error (err; detail in ch->detail): oversize
                                payload, hold-off ignored, short transfer, no sync answer */
};

struct nm_asi2c;
typedef void (*nm_asi2c_event_fn)(void *app, struct nm_asi2c *ch, enum nm_asi2c_event ev,
                                  int err, uint32_t arg);

/* Caller-owned configuration; zero fields take the defaults in brackets. */
typedef struct nm_asi2c_config {
    enum nm_asi2c_role role;
    nm_asi2c_hal_t hal;
    uint8_t addr;              /* [0x12] */
    uint8_t reset_level;       /* active level of the reset pulse [0: active low] */
    uint8_t *rxbuf;            /* receive slot storage (required) */
    size_t rxbufsize;          /* its size: the largest payload we accept (<= 0x7FFF) */
    uint8_t *txbuf;            /* transmit slot storage (required) */
    size_t txbufsize;          /* the largest payload one write() takes (<= 0x7FFF);
                                  keep it <= peer_rxbufsize */
    size_t peer_rxbufsize;     /* the peer's rxbufsize (<= 0x7FFF) [200, the reference's]:
                                  write() refuses a larger payload (NM_ERR_INVAL) */
    uint32_t t_poll_us;        /* Initiator: pause after each exchange [100 ms];
                                  NM_ASI2C_BACK_TO_BACK: only guard_us */
    uint32_t handshake_us;     /* wire wait limit [Initiator 1 s, Responder 500 ms] */
    uint32_t xfer_us;          /* Initiator: I2C transfer limit [5 s] */
    uint32_t settle_us;        /* Initiator: wait after start-up sync [1 s] */
    uint32_t reset_us;         /* Initiator: reset pulse length [200 ms] */
    uint32_t guard_us;         /* least low time of our wire before raising it again where
                                  the protocol is not interlocked [50 us]; also the
                                  shortest pause between exchanges */
    uint32_t sync_warn_us;     /* start-up sync unanswered this long: EV_ERROR
                                  NM_ERR_TIMEOUT, then again each period [10 s] */
    uint32_t nack_retry_us;    /* Responder: an address NACK of a transfer the Initiator
                                  announced (sync high) is retried, 20 us apart, for this
                                  long from the first attempt before the exchange is
                                  abandoned [1 ms]; NM_ASI2C_NO_RETRY: never retry */
    nm_asi2c_event_fn event_cb; /* optional */
    void *app;                  /* passed to event_cb */
} nm_asi2c_config_t;

/* Statistics (the reference's plus what the C core also counts). */
typedef struct nm_asi2c_stats {
    uint32_t nboots;        /* Initiator: Responder failures (each one resets/resyncs) */
    uint32_t block_max_us;  /* longest exchange (Initiator: the reference's blocking time;
                               Responder: sync seen high to the end) */
    uint64_t block_sum_us;  /* total exchange time */
    uint32_t block_cnt;     /* exchanges completed */
    uint32_t tx_payloads, rx_payloads;
    uint64_t tx_bytes, rx_bytes;
    uint32_t oversize;      /* payloads larger than rxbufsize, discarded */
    uint32_t holdoff_violations; /* payloads sent while we held off, discarded */
    uint32_t short_xfers;   /* transfers that moved fewer bytes than announced */
    uint32_t aborts;        /* Responder: exchanges abandoned (timeout or bus error) */
    uint32_t tx_dropped;    /* Initiator: payloads dropped from the slot by a failure */
    uint32_t nack_retries;  /* Responder: transfers retried after an address NACK */
    uint32_t latched_falls; /* low pulses of the peer's wire seen only by the edge latch */
} nm_asi2c_stats_t;

/* A channel. Visible so it can be allocated statically; touch only through
 * the functions below. */
typedef struct nm_asi2c {
    nm_asi2c_config_t cfg;
    uint8_t state;          /* enum in asi2c.c */
    uint8_t xfer;           /* current transfer T0..T3 */
    uint8_t op;             /* micro-step within the transfer */
    uint8_t synced;
    uint8_t peer_holdoff;   /* peer's last header said: do not send it a payload */
    uint8_t rx_accept;      /* T1/T3 into rxbuf (1) or discarded (0) */
    uint8_t reboot_req;
    uint8_t hdr_out[2], hdr_in[2];
    uint32_t mark_us;       /* start of the current wait */
    uint32_t xstart_us;     /* start of the current exchange */
    uint32_t warn_us;       /* start-up sync: last warning */
    uint32_t in_len;        /* payload length the peer announced */
    uint32_t out_len;       /* payload length we announced (snapshot of tx_len) */
    uint32_t try_us;        /* Responder: first attempt of the current transfer */
    uint8_t retrying;       /* Responder: the current transfer was NACKed and is retried */
    atomic_int xfer_result; /* written by xfer_done (maybe from an ISR) */
    atomic_uint xfer_state; /* 0 idle, 1 running, 2 done */
    atomic_uint tx_len;     /* bytes in the transmit slot; 0: free */
    atomic_uint rx_len;     /* end of unread data in rxbuf; 0: slot free */
    atomic_uint rx_pos;     /* reader's position in [0, rx_len) */
    nm_asi2c_stats_t stats;
    nm_detail_t detail;     /* last error, one line */
} nm_asi2c_t;

/* Check the config and start: drive our wire high (both roles begin there).
 * NM_ERR_INVAL with a detail naming the field on a bad config. */
int nm_asi2c_init(nm_asi2c_t *ch, const nm_asi2c_config_t *cfg);

/* Run the state machine as far as it can go now. Returns the microseconds
 * until it next needs to run if no event comes first, or NM_ASI2C_NO_DEADLINE.
 * Never blocks. */
uint32_t nm_asi2c_step(nm_asi2c_t *ch);

/* The transfer the core started finished: bytes moved, or negative NM_ERR_*.
 * Safe from an ISR; call nm_asi2c_step() after it. */
void nm_asi2c_xfer_done(nm_asi2c_t *ch, int result);

/* Initiator: reset and resynchronise the Responder at the next step (the
 * reference's reboot()); not counted in nboots. */
void nm_asi2c_reboot(nm_asi2c_t *ch);

/* Stream API ----------------------------------------------------------- */

/* Put up to txbufsize bytes of buf into the transmit slot. Returns the bytes
 * taken, 0 while the slot is busy or the link is not synchronised, or
 * NM_ERR_INVAL: buf NULL, or the payload (len, at most txbufsize) is larger
 * than peer_rxbufsize; nothing is sent and ch->detail says so. The slot frees when the payload has crossed the bus
 * (EV_TX_DONE); it is sent once the peer's hold-off bit is clear. */
int nm_asi2c_write(nm_asi2c_t *ch, const void *buf, size_t len);
/* 1 if write() would take bytes now. */
int nm_asi2c_writable(const nm_asi2c_t *ch);
/* Unread bytes of the last payload (0: none). */
size_t nm_asi2c_readable(const nm_asi2c_t *ch);
/* Copy up to n unread bytes; the receive slot frees (hold-off clears) once
 * all of the payload has been read. Returns the bytes copied. */
size_t nm_asi2c_read(nm_asi2c_t *ch, void *buf, size_t n);
/* Like read, but stops after a '\n' (included). */
size_t nm_asi2c_readline(nm_asi2c_t *ch, void *buf, size_t n);
/* 1 once synchronised (and until a failure). */
int nm_asi2c_ready(const nm_asi2c_t *ch);
/* A short name of the current state, for logs ("idle", "T1 wait ack=1", ...). */
const char *nm_asi2c_state_name(const nm_asi2c_t *ch);

#endif /* NATMOD_ASI2C_H */
