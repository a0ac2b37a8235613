/*
 * The asi2c Responder on Linux: a HAL for the core over a small "io"
 * interface, and the event loop that drives it.
 *
 * The io interface is what differs between real hardware and the simulated
 * bus: nm_linux_io_open_hw() talks to /dev/i2c-N (i2c-dev) and two GPIO lines
 * (libgpiod v1); nm_linux_io_open_sim() (sim_link.h) talks to a bus host over
 * a Unix socket. Everything above the io (the HAL, the loop, asi2c-pty) is
 * the same code in both cases, so the tests run exactly what runs on a board.
 *
 * The bus is blocking (i2c-dev): the HAL's master_read/master_write perform
 * the whole transfer and call nm_asi2c_xfer_done() before they return, which
 * the HAL contract allows. The loop sleeps in ppoll() with a nanosecond
 * timeout, so the core's 20 us "sync seen -> transfer" delay and its 50 us
 * guard are honoured rather than rounded to a millisecond.
 *
 * Linux only (POSIX, malloc, stdio); never part of a target build.
 */
#ifndef NATMOD_ASI2C_HAL_LINUX_H
#define NATMOD_ASI2C_HAL_LINUX_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "natmod/asi2c.h"

/* nm_linux_io_t.reset() flags (simulated bus only). */
#define NM_LINUX_RESET_HELD 1u   /* the reset wire holds us (or we crashed): do nothing */
#define NM_LINUX_RESET_REBOOT 2u /* reset was released since the last call: reboot */

/*
 * The io interface: the wires and the bus as the Responder sees them. Every
 * function gets ctx. Errors are negative NM_ERR_*.
 */
typedef struct nm_linux_io {
    void *ctx;
    /* One blocking I2C transfer at a 7-bit addr: write len bytes of buf, or
     * read len bytes into buf (buf NULL: clock them and discard). Plain
     * read/write, no register byte. Returns the bytes moved,
     * NM_ASI2C_ERR_NACK when the address was not acknowledged, NM_ERR_IO on
     * another bus error, NM_ERR_TIMEOUT if the bus never finished. */
    int (*xfer)(void *ctx, int write, uint8_t addr, uint8_t *buf, size_t len);
    /* Drive the ack wire. */
    void (*set_ack)(void *ctx, int level);
    /* Level of the sync wire now (0/1). */
    int (*get_sync)(void *ctx);
    /* A pollable fd that becomes readable when the sync wire changes. */
    int (*edge_fd)(void *ctx);
    /* Consume whatever made edge_fd readable; never blocks. It may stop
     * after one change of the level (the core must see every level; the fd
     * then stays readable). NM_ERR_IO when the wire source is gone (GPIO
     * error, bus host hung up). */
    int (*drain)(void *ctx);
    /* Optional edge latch: 1 if the sync wire has fallen since the last
     * call (from the edge events, whether drain() or this call read them),
     * and forget it; never blocks. The core's hal.peer_fell. NULL: levels
     * only, and a low pulse of sync between two steps can be missed. */
    int (*sync_fell)(void *ctx);
    /* Monotonic clock in ns. */
    uint64_t (*now_ns)(void *ctx);
    /* Optional (NULL on hardware): NM_LINUX_RESET_* flags; REBOOT is
     * consumed by the call. */
    unsigned (*reset)(void *ctx);
    /* Release everything (ctx included). */
    void (*close)(void *ctx);
} nm_linux_io_t;

/* Real hardware: where the bus and the two wires are. */
typedef struct nm_linux_hw_config {
    const char *i2c_dev;  /* "/dev/i2c-1" */
    const char *chip;     /* "gpiochip0", "/dev/gpiochip0" or "0" */
    unsigned sync_line;   /* offset of the Initiator's sync wire on chip (input, both edges) */
    unsigned ack_line;    /* offset of our ack wire on chip (output) */
    const char *consumer; /* GPIO consumer label [asi2c] */
} nm_linux_hw_config_t;

/* One-line error text for the open functions and the loop. */
typedef struct nm_linux_err {
    char msg[256];
} nm_linux_err_t;

/* Open the hardware back-end. Error: NM_ERR_IO (or NM_ERR_INVAL) with err
 * naming the device, chip or line that failed. Largest transfer: 8192 bytes
 * (the i2c-dev limit). */
int nm_linux_io_open_hw(nm_linux_io_t *io, const nm_linux_hw_config_t *cfg, nm_linux_err_t *err);

/* The Responder: an io, the channel the caller owns, and the loop state. */
typedef struct nm_linux_responder nm_linux_responder_t;
/* The bus reset us: the channel has been re-initialised; reset the
 * application's state too (a reboot loses RAM). */
typedef void (*nm_linux_reboot_fn)(void *user, nm_linux_responder_t *r);

struct nm_linux_responder {
    nm_linux_io_t io;
    nm_asi2c_t *ch;
    nm_asi2c_config_t cfg;  /* as given, role and hal filled in: re-used on reboot */
    nm_linux_reboot_fn reboot_cb;
    void *reboot_user;
    uint32_t wait_us;       /* what nm_asi2c_step() returned last */
    uint64_t stepped_ns;    /* when */
    int held;               /* reset wire held: the channel is not stepped */
    uint32_t reboots;
    uint32_t edges;         /* wake-ups by edge_fd */
    uint32_t xfers;         /* bus transfers through the HAL */
    uint32_t max_late_us;   /* worst lateness of a deadline wake-up */
};

/* A HAL whose ctx is r (valid as long as r). */
nm_asi2c_hal_t nm_linux_hal(nm_linux_responder_t *r);

/* Take over io (r closes it) and start the channel ch as a Responder with
 * cfg (role and hal are filled in here). reboot_cb may be NULL. Returns
 * nm_asi2c_init()'s result; ch->detail says why. */
int nm_linux_responder_init(nm_linux_responder_t *r, const nm_linux_io_t *io, nm_asi2c_t *ch,
                            const nm_asi2c_config_t *cfg, nm_linux_reboot_fn reboot_cb, void *user);

/*
 * One turn of the loop: step the channel, sleep in ppoll() until its
 * deadline, a sync edge, one of the caller's fds, or max_wait_ns (negative:
 * no limit), then handle edges and resets and step again.
 * fds: the caller's fds (at most 14); their revents are filled in.
 * sigmask: the signal mask during the sleep (NULL: unchanged) so a
 * SIGTERM blocked elsewhere ends the sleep without a race.
 * Returns the number of caller fds with revents, 0 on a timeout or a
 * signal, NM_ERR_IO when the io is gone (err says which).
 */
int nm_linux_responder_poll(nm_linux_responder_t *r, struct pollfd *fds, unsigned nfds,
                            int64_t max_wait_ns, const sigset_t *sigmask, nm_linux_err_t *err);

/* Close the io. The channel is left as it is. */
void nm_linux_responder_close(nm_linux_responder_t *r);

#endif /* NATMOD_ASI2C_HAL_LINUX_H */
