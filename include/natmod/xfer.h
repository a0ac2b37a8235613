/*
 * xfer: install a module into another board's store over a byte stream
 * (an asi2c channel on a target, a tty on the host). Two non-blocking state
 * machines, a sender and a receiver, no allocation, no stdio, no blocking:
 * the caller polls them; each poll does what it can now and says when it
 * next needs to run.
 *
 * The stream may lose, duplicate or garble spans of bytes (a Responder that
 * crashes loses what was in flight; asi2c has no checksum). Every frame
 * carries a CRC-32 and a reader that meets garbage resynchronises by
 * scanning for the magic, so the protocol only needs "some frames arrive
 * intact". The store changes only at COMMIT, through nm_store_install,
 * which is atomic: the receiving board holds the old module (or none) until
 * then, and the complete new one after.
 *
 * ---- Wire format (version 1) -------------------------------------------
 *
 * Frame, all integers little-endian:
 *
 *   off  size  field
 *     0     2  magic 0x6E 0x58 ("nX")
 *     2     1  type (below)
 *     3     1  flags: 0 (a reader drops a frame whose flags are not 0)
 *     4     4  a      (meaning per type)
 *     8     4  b      (meaning per type; the transfer id where one exists)
 *    12     2  len: payload bytes, 0 .. frame_max - 18
 *    14   len  payload
 *  14+len   4  crc32 (IEEE, as nm_crc32 / zlib) of bytes [0, 14 + len)
 *
 * A frame is 18 + len bytes and never longer than the reader's frame_max
 * (default 200: one frame fits one asi2c payload of the reference's
 * rxbufsize). Reading: skip bytes until the magic; with 14 header bytes,
 * an unknown type, non-zero flags or a len the reader cannot hold drops the
 * first magic byte and the scan goes on; with the whole frame, a CRC
 * mismatch drops the first magic byte likewise; a good frame is consumed
 * whole. A frame that is not understood in the current state is ignored.
 *
 * The transfer id is crc32 over the whole slice being installed (nm_crc32
 * from 0 over all `size` bytes). "crc" below means that id.
 *
 *   type        dir   a              b      payload
 *   1 HELLO     S->R  version (1)    0      -
 *   2 INFO      R->S  max_module     free   u8 version, u8 arch, u8 float_abi,
 *                                           u8 0, u16 frame_max, u16 0
 *   3 OFFER     S->R  size           crc    module name, 1..23 bytes, no NUL
 *   4 RESUME    R->S  offset         crc    -
 *   5 DATA      S->R  offset         crc    slice bytes [offset, offset + len)
 *   6 ACK       R->S  next offset    crc    -
 *   7 COMMIT    S->R  size           crc    -
 *   8 DONE      R->S  status         crc    one line of text (no NUL)
 *
 *   INFO:   max_module is the receiver's RAM buffer (the largest slice it
 *           takes); free is the store's largest free run in bytes; arch and
 *           float_abi are enum nm_arch / nm_float_abi of the board;
 *           frame_max the longest frame the receiver reads.
 *   RESUME: the receiver holds [0, offset) of exactly (name, size, crc):
 *           0 for a new or different module, or after a reboot (RAM lost).
 *   ACK:    cumulative: the receiver holds [0, next offset). A DATA frame
 *           is kept only if its offset is exactly that and it ends within
 *           size; anything else is dropped and re-ACKed.
 *   DONE:   status is 0 or a negative NM_ERR_* as a two's complement u32;
 *           the text says what was installed or what failed.
 *
 * Sender: HELLO until INFO (retried every timeout). Pick the board's slice
 * (a universal module: only that slice is sent) and refuse locally, before
 * any OFFER, if the board cannot run it (NM_ERR_ARCH / NM_ERR_FLOAT_ABI) or
 * it exceeds max_module or free (NM_ERR_NOSPC). OFFER until RESUME; then
 * DATA chunks of up to min(frame_max, peer frame_max) - 18 bytes from the
 * resume offset, at most `window` chunks beyond the last ACK. An ACK that
 * does not advance while chunks are out makes the sender go back to the
 * ACKed offset (once per ACK value). No ACK progress for timeout_ms: OFFER
 * again and go on from the RESUME. All ACKed: COMMIT until DONE (an ACK or
 * RESUME below size answering a COMMIT sends it back to DATA). The sender
 * gives up (NM_ERR_TIMEOUT) after `retries` timeouts in a row without
 * progress.
 *
 * Receiver: answers HELLO with INFO, OFFER with RESUME (starting a new
 * session, RAM only, unless it is the same (name, size, crc)), DATA with ACK,
 * COMMIT with DONE: it checks the whole CRC, calls nm_store_install and
 * remembers the result, so a repeated COMMIT gets the same DONE without a
 * second install. A COMMIT for a session it does not hold complete gets
 * RESUME(0) (no session) or ACK(offset) (incomplete). A receiver answers at
 * most one frame per frame received, and reads no more while its answer
 * waits for the stream.
 */
#ifndef NATMOD_XFER_H
#define NATMOD_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/asi2c.h"
#include "natmod/error.h"
#include "natmod/store.h"

#define NM_XFER_VERSION 1
#define NM_XFER_MAGIC0 0x6Eu
#define NM_XFER_MAGIC1 0x58u
#define NM_XFER_HDR 14u      /* bytes before the payload */
#define NM_XFER_OVERHEAD 18u /* header + CRC */
#ifndef NM_XFER_FRAME_MAX    /* the largest frame_max a build supports (buffer size) */
#define NM_XFER_FRAME_MAX 512u
#endif
#define NM_XFER_FRAME_DEFAULT 200u /* fits one asi2c payload of the default rxbufsize */
#define NM_XFER_FRAME_MIN 64u
#if NM_XFER_FRAME_MAX < NM_XFER_FRAME_MIN || NM_XFER_FRAME_MAX > 65535
#error "NM_XFER_FRAME_MAX must be 64..65535"
#endif

enum nm_xfer_type {
    NM_XFER_HELLO = 1,
    NM_XFER_INFO = 2,
    NM_XFER_OFFER = 3,
    NM_XFER_RESUME = 4,
    NM_XFER_DATA = 5,
    NM_XFER_ACK = 6,
    NM_XFER_COMMIT = 7,
    NM_XFER_DONE = 8,
    NM_XFER_TYPE_COUNT = 9,
};

/* Returned by a poll that has no deadline (waits for input only). */
#define NM_XFER_NO_DEADLINE UINT32_MAX

/* The byte stream. write: bytes accepted (0 when it cannot take any now)
 * or a negative NM_ERR_*. read: bytes copied (0: nothing now) or negative.
 * now_ms: monotonic milliseconds, may wrap at 2^32. */
typedef struct nm_xfer_io {
    void *ctx;
    int (*write)(void *ctx, const uint8_t *buf, size_t len);
    int (*read)(void *ctx, uint8_t *buf, size_t len);
    uint32_t (*now_ms)(void *ctx);
} nm_xfer_io_t;

/* Frame reassembly and the frame being written (internal; visible for
 * static allocation). */
typedef struct nm_xfer_link {
    nm_xfer_io_t io;
    uint16_t frame_max;
    uint16_t rx_len;              /* bytes in rx */
    uint16_t tx_len, tx_pos;      /* frame in tx, bytes of it written */
    uint8_t rx[NM_XFER_FRAME_MAX];
    uint8_t tx[NM_XFER_FRAME_MAX];
    /* counters */
    uint32_t frames_in, frames_out;
    uint32_t bad_frames;          /* CRC mismatches and impossible headers */
    uint32_t skipped;             /* bytes skipped while resynchronising */
    uint32_t out_by_type[NM_XFER_TYPE_COUNT];
    uint64_t bytes_out;
    int io_err;                   /* the stream's last negative return */
} nm_xfer_link_t;

/* ---- Receiver -------------------------------------------------------- */

typedef struct nm_xfer_recv_config {
    nm_xfer_io_t io;
    nm_store_t *store;   /* mounted; its config's loader gives arch and float ABI */
    uint8_t *buf;        /* RAM for the received slice */
    uint32_t buf_size;   /* the largest slice accepted */
    uint16_t frame_max;  /* [NM_XFER_FRAME_DEFAULT]; <= NM_XFER_FRAME_MAX */
} nm_xfer_recv_config_t;

typedef struct nm_xfer_recv_stats {
    uint32_t hellos, offers, data_ok, data_dropped, commits, installs, install_errors;
} nm_xfer_recv_stats_t;

typedef struct nm_xfer_recv {
    nm_xfer_recv_config_t cfg;
    nm_xfer_link_t link;
    /* the session: (name, size, crc) and [0, have) in buf */
    char name[NM_STORE_NAME_MAX + 1];
    uint32_t size, crc, have;
    uint8_t active;
    /* the last COMMIT's result, answered again to a repeated COMMIT */
    uint8_t done_valid;
    uint32_t done_crc;
    int done_status;
    nm_detail_t done_detail;
    nm_xfer_recv_stats_t stats;
} nm_xfer_recv_t;

/* NM_ERR_INVAL (detail says which field) on a bad config. */
int nm_xfer_recv_init(nm_xfer_recv_t *r, const nm_xfer_recv_config_t *cfg, nm_detail_t *detail);
/* Read, answer, install. Returns ms until it wants to run again, or
 * NM_XFER_NO_DEADLINE (it waits for input; poll it when bytes arrive). */
uint32_t nm_xfer_recv_poll(nm_xfer_recv_t *r);

/* ---- Sender ---------------------------------------------------------- */

typedef struct nm_xfer_send_config {
    nm_xfer_io_t io;
    const uint8_t *module; /* a slice or a universal module (kept valid while sending) */
    size_t module_len;
    const char *name;      /* install as (NULL: the module's own name) */
    uint16_t frame_max;    /* [NM_XFER_FRAME_DEFAULT] */
    uint8_t window;        /* DATA chunks beyond the last ACK [4] */
    uint32_t timeout_ms;   /* no answer / no progress this long: retry [3000] */
    uint32_t retries;      /* timeouts in a row before giving up [10] */
} nm_xfer_send_config_t;

enum nm_xfer_send_state {
    NM_XFER_S_HELLO = 0, /* waiting for INFO */
    NM_XFER_S_OFFER,     /* waiting for RESUME */
    NM_XFER_S_DATA,      /* sending chunks, collecting ACKs */
    NM_XFER_S_COMMIT,    /* waiting for DONE */
    NM_XFER_S_DONE,      /* finished: result says how */
};

typedef struct nm_xfer_send_stats {
    uint32_t chunks;          /* DATA frames written, retransmissions included */
    uint32_t retransmits;     /* DATA frames for bytes written before */
    uint64_t data_bytes;      /* slice bytes written in DATA frames */
    uint32_t timeouts, offers, restarts; /* restarts: RESUME below what was ACKed */
    uint32_t first_resume;    /* the RESUME offset of the first OFFER */
} nm_xfer_send_stats_t;

typedef struct nm_xfer_send {
    nm_xfer_send_config_t cfg;
    nm_xfer_link_t link;
    uint8_t state;            /* enum nm_xfer_send_state */
    int result;               /* NM_XFER_S_DONE: 0 or NM_ERR_* */
    nm_detail_t detail;       /* the result in one line (DONE text on success) */
    /* what the receiver said */
    uint8_t peer_arch, peer_float, have_info;
    uint16_t peer_frame_max;
    uint32_t peer_max_module, peer_free;
    /* the slice */
    const uint8_t *slice;
    uint32_t size, crc;
    char name[NM_STORE_NAME_MAX + 1];
    uint16_t chunk;           /* payload bytes per DATA frame */
    uint32_t acked, next, high; /* ACKed, next to send, highest offset ever sent */
    uint32_t rewound_at;      /* the ACK value we went back for (+1; 0: none) */
    uint32_t mark_ms;         /* start of the current wait */
    uint32_t tries;           /* timeouts in a row */
    uint8_t pending;          /* a request (type) to write when the stream takes it */
    uint8_t resumed;          /* got a RESUME since the first OFFER */
    nm_xfer_send_stats_t stats;
} nm_xfer_send_t;

int nm_xfer_send_init(nm_xfer_send_t *s, const nm_xfer_send_config_t *cfg, nm_detail_t *detail);
/* Returns ms until it wants to run again (NM_XFER_NO_DEADLINE once done). */
uint32_t nm_xfer_send_poll(nm_xfer_send_t *s);
/* 1 once finished; s->result and s->detail say how. */
static inline int nm_xfer_send_done(const nm_xfer_send_t *s) { return s->state == NM_XFER_S_DONE; }

/* ---- An asi2c channel as the stream ---------------------------------- */

/* Keeps a millisecond clock from the channel's now_us (which wraps at
 * 2^32 us) so the protocol's timeouts survive the wrap. */
typedef struct nm_xfer_asi2c {
    nm_asi2c_t *ch;
    uint32_t last_us, ms, frac_us;
    uint8_t started;
} nm_xfer_asi2c_t;

/* Fill io to read and write ch (a channel that is stepped elsewhere). */
void nm_xfer_io_asi2c(nm_xfer_io_t *io, nm_xfer_asi2c_t *a, nm_asi2c_t *ch);

/* Frame building and parsing, shared by both machines and usable by
 * tests and other tools: encode one frame into out (returns its length,
 * 0 if it does not fit cap). */
size_t nm_xfer_frame(uint8_t *out, size_t cap, uint8_t type, uint32_t a, uint32_t b,
                     const void *payload, size_t len);

#endif /* NATMOD_XFER_H */
