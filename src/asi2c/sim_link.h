/*
 * The simulated asi2c bus across two processes.
 *
 * A bus host owns an nm_sim_t: side 0 (the Initiator) is a channel in the
 * host process, side 1 (the Responder) is external: a client process that
 * runs the Linux HAL (hal_linux.h) over nm_linux_io_open_sim(). The host runs
 * the simulation in real time: virtual ns follow CLOCK_MONOTONIC, and the
 * host sleeps until the next simulated event or a message from the client.
 * One client at a time; a client that leaves lets its ack wire float high,
 * and a new one may connect.
 *
 * Wire format: a Unix SOCK_SEQPACKET socket, one message per packet, byte 0
 * is the type, integers little-endian.
 *
 *   client -> host
 *     'O' level                   OWN: drive the ack wire (level 0/1)
 *     'X' flags addr len16 data   XFER: start one master transfer of len
 *                                 (1..32767) bytes at addr; flags bit 0 =
 *                                 write, and then exactly len data bytes
 *                                 follow; a read carries no data
 *     'Q'                         QUERY: send RESET 1 (if the Responder is
 *                                 down) and PEER now
 *   host -> client
 *     'P' level                   PEER: the sync wire as the Responder sees it;
 *                                 sent when it changes and after QUERY; a
 *                                 low pulse that ended before the host looked
 *                                 is sent as 'P' 0, 'P' 1 (an edge event)
 *     'D' result32 data           DONE: the transfer finished; result is the
 *                                 bytes moved or a negative NM_ERR_* (NM_ERR_IO
 *                                 = NACK); a read with result > 0 carries
 *                                 result data bytes
 *     'R' down                    RESET: 1 = the Responder is held down (reset
 *                                 wire active, or a simulated crash): its
 *                                 actions are ignored and a running transfer
 *                                 will not finish; 0 = released: the client
 *                                 reboots (re-inits its channel and state)
 *
 * A malformed message ends the connection (host) or the transfer (client).
 */
#ifndef NATMOD_ASI2C_SIM_LINK_H
#define NATMOD_ASI2C_SIM_LINK_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "asi2c/hal_linux.h"
#include "asi2c/sim.h"

#define NM_SIMLINK_OWN 'O'
#define NM_SIMLINK_XFER 'X'
#define NM_SIMLINK_QUERY 'Q'
#define NM_SIMLINK_PEER 'P'
#define NM_SIMLINK_DONE 'D'
#define NM_SIMLINK_RESET 'R'
#define NM_SIMLINK_XFER_HDR 5 /* 'X' flags addr len16 */
#define NM_SIMLINK_DONE_HDR 5 /* 'D' result32 */
#define NM_SIMLINK_MSG_MAX (NM_SIMLINK_XFER_HDR + NM_ASI2C_MAX_LEN)

/* Client: how long a transfer may take before it is reported as
 * NM_ERR_TIMEOUT (32767 bytes at 100 kHz take 3 s). */
#define NM_SIMLINK_XFER_TIMEOUT_NS 10000000000ull

/* The client io: connect to the bus host at path and read the sync wire's
 * level. NM_ERR_IO with err naming the socket if nothing listens there or
 * the host does not answer. */
int nm_linux_io_open_sim(nm_linux_io_t *io, const char *path, nm_linux_err_t *err);
/* on: drain() reads every waiting message, as a GPIO level read sees only
 * the present level; a short low pulse of sync is then seen through the
 * edge latch (io.sync_fell) only, as with the hardware io. Off (the
 * default): drain() stops at each change of the level. */
void nm_linux_io_sim_coalesce(nm_linux_io_t *io, int on);

/* The bus host. Zero it, fill in the configuration, then open, run, close. */
typedef struct nm_simlink_host {
    /* configuration */
    int (*stop)(void *user);  /* checked at least every 100 ms: non-zero ends run() */
    void *user;
    const sigset_t *sigmask;  /* signal mask while sleeping (NULL: unchanged) */
    FILE *log;                /* connections and protocol errors [none] */
    uint64_t limit_ns;        /* run() ends with NM_ERR_TIMEOUT after this long [0: never] */
    uint32_t min_gap_ns;      /* virtual time between two client actions; keep it above the
                                 sim's latency_ns + jitter_ns [10000] (see run()) */
    /* statistics */
    uint32_t connects, msgs_in, msgs_out, xfers, resets_sent;
    uint32_t pulses;          /* low pulses of sync over before the host looked, forwarded
                                 as PEER 0, PEER 1 */
    uint32_t bad_msgs;        /* malformed messages (each dropped its client) */
    uint64_t max_lag_ns;      /* worst "the sim ran late" seen, real vs virtual */
    nm_linux_err_t err;
    /* state */
    int listen_fd, client_fd;
    char path[108];
    nm_sim_t *sim;
    nm_asi2c_hal_t rhal;      /* the Responder side's HAL: the client's actions */
    int last_peer, last_down;
    int xfer_write;
    uint64_t offset_ns;       /* CLOCK_MONOTONIC minus virtual time */
    uint64_t next_action_ns;  /* virtual time the next client action may happen */
    uint8_t xbuf[NM_ASI2C_MAX_LEN]; /* the client's transfer buffer in the sim */
    uint8_t msg[NM_SIMLINK_MSG_MAX];  /* from the client */
    uint8_t out[NM_SIMLINK_DONE_HDR + NM_ASI2C_MAX_LEN]; /* DONE to the client */
} nm_simlink_host_t;

/* Bind and listen at path (an existing socket file there is replaced).
 * NM_ERR_IO with h->err naming the path. */
int nm_simlink_host_open(nm_simlink_host_t *h, const char *path);
/* Run sim in real time and serve the client as its side 1 (Responder). The
 * caller has attached side 0 (channel, application) and keeps it; run()
 * claims side 1's done, app and reboot hooks.
 * A host that wakes late reads several client messages at once; applied at
 * one instant, "ack low, 50 us guard, ack high" would hide the low level
 * from the Initiator. So client actions are applied at least min_gap_ns
 * apart in virtual time (which may then run a few us ahead of real time).
 * Returns 0 when stop() said so,
 * NM_ERR_TIMEOUT at limit_ns, NM_ERR_IO if the listening socket fails. */
int nm_simlink_host_run(nm_simlink_host_t *h, nm_sim_t *sim);
/* Close the sockets and remove the socket file. */
void nm_simlink_host_close(nm_simlink_host_t *h);

#endif /* NATMOD_ASI2C_SIM_LINK_H */
