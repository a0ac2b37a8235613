/*
 * The simulated asi2c bus (host only): an I2C master/slave pair plus the
 * sync, ack and reset wires, stepped by a virtual clock in nanoseconds.
 * Deterministic for a given config and seed: tests, the benchmark, the
 * fuzzer, `natmod send --sim` and the bus host of the two-process link all
 * use it.
 *
 * Side 0 is the Initiator (I2C slave, drives sync and reset), side 1 the
 * Responder (I2C master, drives ack). A side is either a channel in this
 * process (nm_sim_attach: the sim calls nm_asi2c_step for it) or driven from
 * outside through the nm_sim_ext_* calls (another process; sim_link.c).
 *
 * Bus timing: a transfer of n data bytes occupies 1 (start) + 9 (address,
 * R/W, ACK) + 9n (data, ACK) + 1 (stop) bit times at scl_hz. A side sees a
 * wire edge or the end of its transfer latency_ns (+ 0..jitter_ns) later.
 *
 * Reference timing (issue 20): arm_delay_ns makes the Initiator's slave
 * arm take effect late, as the reference raises sync before it arms (a
 * Responder that addresses it at once is NACKed); step_lag_ns delays a
 * side's step() after an event, as on a port that steps from a busy loop,
 * so a short low pulse of the peer's wire (the reference Responder's ack
 * before T2, modelled by that Responder's guard_us of 30-40 us) can begin
 * and end between two steps. Each side's HAL has an edge latch (peer_fell)
 * that records a fall of the peer's wire when it happens, unless no_latch.
 *
 * Faults (nm_sim_fault): the Responder (or either side) crashes or hangs at
 * its n-th action or at a time; a transfer NACKs, is stretched, or has a
 * byte corrupted; a wire glitches. An action is one HAL call that changes
 * the outside world: set_own, set_reset, slave arm, master transfer start.
 */
#ifndef NATMOD_ASI2C_SIM_H
#define NATMOD_ASI2C_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "natmod/asi2c.h"

#define NM_SIM_I 0
#define NM_SIM_R 1
#define NM_SIM_NEVER UINT64_MAX
#define NM_SIM_MAX_FAULTS 16

typedef struct nm_sim nm_sim_t;

typedef struct nm_sim_config {
    uint32_t scl_hz;      /* [100000] */
    uint32_t latency_ns;  /* reaction to an edge / transfer end [2000] */
    uint32_t jitter_ns;   /* extra random reaction delay 0..jitter_ns [0] */
    uint32_t boot_ns;     /* Responder: reset released -> its init runs [50 ms] */
    uint8_t reset_level;  /* active level of the reset wire [0] */
    uint64_t seed;        /* jitter and anything else random [1] */
    uint32_t arm_delay_ns; /* Initiator: a slave arm takes effect this long after the call [0] */
    uint32_t step_lag_ns[2]; /* side's extra delay from an event to its step() [0] */
    uint8_t no_latch;     /* HALs without the edge latch (levels only) [0: with] */
    FILE *trace;          /* every action and transfer, one line each [none] */
} nm_sim_config_t;

enum nm_sim_fault_kind {
    NM_SIM_CRASH = 1,   /* side stops for good: wires frozen, transfers abandoned;
                           a reset pulse reboots it (Responder) */
    NM_SIM_HANG = 2,    /* side stops for arg ns, then carries on */
    NM_SIM_NACK = 3,    /* the transfer is not acknowledged at its address, nor is any
                           transfer that starts within arg ns after it */
    NM_SIM_CORRUPT = 4, /* byte arg of the transfer is XORed with mask */
    NM_SIM_STRETCH = 5, /* the slave stretches the clock: arg ns longer */
    NM_SIM_GLITCH = 6,  /* side's wire reads inverted for arg ns */
};

typedef struct nm_sim_fault {
    uint8_t kind;
    uint8_t side;        /* CRASH/HANG/GLITCH: the side affected and counted */
    uint8_t mask;        /* CORRUPT */
    uint64_t at_action;  /* CRASH/HANG/GLITCH: before the side's n-th action (1-based) */
    uint64_t at_ns;      /* ... or at this time (when at_action and at_xfer are 0) */
    uint64_t at_xfer;    /* NACK/CORRUPT/STRETCH: the n-th transfer on the bus (1-based);
                            CRASH: the master crashes half-way through it */
    uint64_t arg;        /* HANG, GLITCH, STRETCH, NACK: ns; CORRUPT: byte index */
} nm_sim_fault_t;

typedef struct nm_sim_stats {
    uint64_t transfers, nacks;
    uint64_t bits;          /* bit times the bus was driven, all transfers */
    uint64_t data_bytes;    /* bytes moved by transfers, headers included */
    uint64_t busy_ns;
    uint64_t actions[2];
    uint32_t reboots;       /* Responder reboots by the reset wire */
} nm_sim_stats_t;

/* The application of a side, run at the time it asked for and right after
 * each step of its channel. Returns microseconds until it wants to run again
 * or NM_ASI2C_NO_DEADLINE. */
typedef uint32_t (*nm_sim_app_fn)(void *user, nm_sim_t *sim, int side);
/* The reset wire released the Responder: re-initialise its channel and its
 * application state (a reboot loses RAM). */
typedef void (*nm_sim_reboot_fn)(void *user, nm_sim_t *sim, int side);

nm_sim_t *nm_sim_new(const nm_sim_config_t *cfg);
void nm_sim_free(nm_sim_t *sim);

/* A HAL for side (ctx = the sim side). with_reset: the Initiator's HAL gets
 * set_reset. */
nm_asi2c_hal_t nm_sim_hal(nm_sim_t *sim, int side, int with_reset);
void nm_sim_attach(nm_sim_t *sim, int side, nm_asi2c_t *ch);
void nm_sim_set_app(nm_sim_t *sim, int side, nm_sim_app_fn fn, void *user);
void nm_sim_set_reboot(nm_sim_t *sim, int side, nm_sim_reboot_fn fn, void *user);
int nm_sim_add_fault(nm_sim_t *sim, const nm_sim_fault_t *f);

uint64_t nm_sim_now_ns(const nm_sim_t *sim);
/* Process events up to t_ns (the clock ends at t_ns). */
void nm_sim_run_until(nm_sim_t *sim, uint64_t t_ns);
/* Process events until stop(user) returns non-zero (checked after each event)
 * or the clock passes limit_ns. 0, or NM_ERR_TIMEOUT at the limit. */
int nm_sim_run(nm_sim_t *sim, uint64_t limit_ns, int (*stop)(void *user), void *user);
/* Next event time, NM_SIM_NEVER if none. */
uint64_t nm_sim_next_event(const nm_sim_t *sim);
void nm_sim_stats(const nm_sim_t *sim, nm_sim_stats_t *st);
/* 1 if side is crashed or held in reset. */
int nm_sim_side_down(const nm_sim_t *sim, int side);
/* Ask for side's channel to be stepped at now (an external nudge). */
void nm_sim_wake(nm_sim_t *sim, int side);

/* External sides (no channel attached): the owner performs the actions and
 * receives completions through done(). */
typedef void (*nm_sim_done_fn)(void *user, int side, int result);
void nm_sim_ext_set_done(nm_sim_t *sim, int side, nm_sim_done_fn done, void *user);

#endif /* NATMOD_ASI2C_SIM_H */
