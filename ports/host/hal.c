/*
 * The host board's HAL: the functions of natmod/hal.h, exported to modules.
 *
 * This file is an export source: nm-gen-exports reads its preprocessed text
 * and turns every NM_FW_EXPORT below into an entry of nm_fw_exports[]. The
 * rest of the board (loading, memory, the CLI) is board.c.
 *
 * Host side, so libc is fine here. The board is firmware: one instance per
 * process, its state is file-scope.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "board.h"
#include "natmod/hal.h"
#include "natmod/export.h"

/* ---- console ---------------------------------------------------------- */

static FILE *hal_console;

void nm_host_set_console(FILE *f) {
    hal_console = f;
}

FILE *nm_host_console(void) {
    return hal_console ? hal_console : stdout;
}

void hal_print(const char *s) {
    fputs(s ? s : "(null)", nm_host_console());
}

/* Emit one conversion: spec is a complete "%...c" string for snprintf. */
static int hal_emit(FILE *out, const char *spec, ...) {
    char small[128];
    va_list ap, ap2;
    va_start(ap, spec);
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, spec, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return 0;
    }
    if ((size_t)n < sizeof small) {
        fwrite(small, 1, (size_t)n, out);
    } else {
        /* Wide fields or long strings: format again into a big enough buffer. */
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, spec, ap2);
            fwrite(big, 1, (size_t)n, out);
            free(big);
        } else {
            n = 0;
        }
    }
    va_end(ap2);
    return n;
}

/* The documented subset, parsed here so that a module cannot reach libc
 * conversions outside it (%n above all): every conversion is checked, its
 * argument fetched with the right type, and only then handed to snprintf.
 * Anything outside the subset is printed literally and consumes no argument. */
int nm_host_vprintf(FILE *out, const char *fmt, va_list ap) {
    int total = 0;
    const char *p = fmt;
    if (!fmt) {
        return 0;
    }
    while (*p) {
        const char *lit = p;
        while (*p && *p != '%') {
            p++;
        }
        if (p > lit) {
            fwrite(lit, 1, (size_t)(p - lit), out);
            total += (int)(p - lit);
        }
        if (!*p) {
            break;
        }
        const char *start = p++; /* at '%' */
        char spec[32];
        size_t k = 0;
        spec[k++] = '%';
        while (*p == '-' || *p == '0') {
            if (k < 4) {
                spec[k++] = *p;
            }
            p++;
        }
        int has_width = 0, width = 0, prec = -1;
        if (*p == '*') {
            width = va_arg(ap, int);
            has_width = 1;
            p++;
        } else if (*p >= '1' && *p <= '9') {
            has_width = 1;
            while (*p >= '0' && *p <= '9') {
                width = width < 100000 ? width * 10 + (*p - '0') : width;
                p++;
            }
        }
        if (*p == '.') {
            p++;
            prec = 0;
            if (*p == '*') {
                prec = va_arg(ap, int);
                prec = prec < 0 ? -1 : prec; /* C: a negative precision is none */
                p++;
            } else {
                while (*p >= '0' && *p <= '9') {
                    prec = prec < 100000 ? prec * 10 + (*p - '0') : prec;
                    p++;
                }
            }
        }
        if (has_width) {
            /* A negative '*' width is '-' plus its magnitude; bounded either way. */
            width = width > 100000 ? 100000 : width < -100000 ? -100000 : width;
            k += (size_t)snprintf(spec + k, sizeof spec - k, "%d", width);
        }
        if (prec >= 0) {
            k += (size_t)snprintf(spec + k, sizeof spec - k, ".%d", prec > 100000 ? 100000 : prec);
        }
        int size = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
        if (p[0] == 'l' && p[1] == 'l') {
            size = 2;
            p += 2;
        } else if (*p == 'l') {
            size = 1;
            p++;
        } else if (*p == 'z') {
            size = 3;
            p++;
        }
        static const char *const len_mod[] = {"", "l", "ll", "z"};
        char conv = *p;
        if (conv) {
            p++;
        }
        int n = -1;
        switch (conv) {
        case 'd':
        case 'i':
            /* %zd takes the signed type of size_t's width: ptrdiff_t here. */
            snprintf(spec + k, sizeof spec - k, "%sd", size == 3 ? "ll" : len_mod[size]);
            n = size == 0   ? hal_emit(out, spec, va_arg(ap, int))
                : size == 1 ? hal_emit(out, spec, va_arg(ap, long))
                : size == 2 ? hal_emit(out, spec, va_arg(ap, long long))
                            : hal_emit(out, spec, (long long)va_arg(ap, ptrdiff_t));
            break;
        case 'u':
        case 'x':
        case 'X':
            snprintf(spec + k, sizeof spec - k, "%s%c", len_mod[size], conv);
            n = size == 0   ? hal_emit(out, spec, va_arg(ap, unsigned))
                : size == 1 ? hal_emit(out, spec, va_arg(ap, unsigned long))
                : size == 2 ? hal_emit(out, spec, va_arg(ap, unsigned long long))
                            : hal_emit(out, spec, va_arg(ap, size_t));
            break;
        case 'c':
            if (size == 0) {
                snprintf(spec + k, sizeof spec - k, "c");
                n = hal_emit(out, spec, va_arg(ap, int));
            }
            break;
        case 's':
            if (size == 0) {
                const char *s = va_arg(ap, const char *);
                snprintf(spec + k, sizeof spec - k, "s");
                n = hal_emit(out, spec, s ? s : "(null)");
            }
            break;
        case 'p':
            if (size == 0) {
                snprintf(spec + k, sizeof spec - k, "p");
                n = hal_emit(out, spec, va_arg(ap, void *));
            }
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (size <= 1) { /* %lf is %f */
                snprintf(spec + k, sizeof spec - k, "%c", conv);
                n = hal_emit(out, spec, va_arg(ap, double));
            }
            break;
        case '%':
            if (p - start == 2) {
                fputc('%', out);
                n = 1;
            }
            break;
        default:
            break;
        }
        if (n < 0) {
            /* Not in the subset: print the directive as written. */
            fwrite(start, 1, (size_t)(p - start), out);
            n = (int)(p - start);
        }
        total += n;
    }
    return total;
}

int hal_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = nm_host_vprintf(nm_host_console(), fmt, ap);
    va_end(ap);
    return n;
}

/* ---- time ------------------------------------------------------------- */

static struct timespec hal_t0;
static int hal_t0_set;

void nm_host_ticks_reset(void) {
    clock_gettime(CLOCK_MONOTONIC, &hal_t0);
    hal_t0_set = 1;
}

uint32_t hal_ticks_ms(void) {
    if (!hal_t0_set) {
        nm_host_ticks_reset();
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t ms = (int64_t)(t.tv_sec - hal_t0.tv_sec) * 1000 + (t.tv_nsec - hal_t0.tv_nsec) / 1000000;
    return (uint32_t)ms;
}

/* ---- periodic timer: setitimer(ITIMER_REAL), callback from SIGALRM ---- */

/* The SIGALRM handler plays the tick interrupt: it may run on any thread,
 * between any two instructions of the program. timer_busy counts handlers
 * inside the callback so that hal_timer_stop can wait for them to leave;
 * with sequentially consistent atomics a handler either sees the callback
 * cleared or is counted before stop looks (Dekker), never neither.
 * The callback and its argument change only while the timer is stopped. */
typedef void (*hal_timer_fn)(void *arg);
static _Atomic(hal_timer_fn) timer_cb;
static _Atomic(void *) timer_arg;
static atomic_int timer_busy;
static _Thread_local int timer_in_cb; /* this thread is inside the callback */

static void hal_timer_signal(int sig) {
    (void)sig;
    int saved = errno;
    atomic_fetch_add(&timer_busy, 1);
    hal_timer_fn cb = atomic_load(&timer_cb);
    if (cb) {
        timer_in_cb = 1;
        cb(atomic_load(&timer_arg));
        timer_in_cb = 0;
    }
    atomic_fetch_sub(&timer_busy, 1);
    errno = saved;
}

static void hal_alarm_mask(int how, sigset_t *old) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(how, &s, old);
}

void hal_timer_stop(void) {
    /* Nothing armed: leave the process's interval timer alone (the
     * program around the board may use alarm() itself). */
    if (!atomic_load(&timer_cb) && atomic_load(&timer_busy) <= timer_in_cb) {
        return;
    }
    sigset_t old;
    hal_alarm_mask(SIG_BLOCK, &old); /* not this thread, at least */
    static const struct itimerval off;
    setitimer(ITIMER_REAL, &off, NULL);
    atomic_store(&timer_cb, NULL);
    /* A handler on another thread may be inside the callback: wait for it.
     * Called from the callback itself, do not wait for ourselves. */
    while (atomic_load(&timer_busy) > timer_in_cb) {
        sched_yield();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int hal_timer_start(uint32_t period_ms, void (*cb)(void *arg), void *arg) {
    if (!cb || period_ms < 1 || period_ms > 60000) {
        return -1;
    }
    /* Installed once and never removed: a SIGALRM still pending after a
     * stop must find this handler (which ignores it), not the default
     * action, which kills the process. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hal_timer_signal;
    sa.sa_flags = SA_RESTART; /* the board's own read()/write() carry on */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0) {
        return -1;
    }
    hal_timer_stop(); /* the previous callback never runs again */
    sigset_t old;
    hal_alarm_mask(SIG_BLOCK, &old);
    atomic_store(&timer_arg, arg);
    atomic_store(&timer_cb, cb);
    struct itimerval it;
    it.it_interval.tv_sec = (time_t)(period_ms / 1000u);
    it.it_interval.tv_usec = (suseconds_t)(period_ms % 1000u) * 1000;
    it.it_value = it.it_interval;
    int rc = setitimer(ITIMER_REAL, &it, NULL);
    if (rc != 0) {
        atomic_store(&timer_cb, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc != 0 ? -1 : 0;
}

int nm_host_timer_get(uintptr_t *cb, uintptr_t *arg) {
    hal_timer_fn f = atomic_load(&timer_cb);
    if (cb) {
        *cb = (uintptr_t)f;
    }
    if (arg) {
        *arg = f ? (uintptr_t)atomic_load(&timer_arg) : 0;
    }
    return f != NULL;
}

/* ---- simulated peripherals ------------------------------------------- */

static hal_periph_regs_t hal_periphs[HAL_NPERIPH];
static volatile uint32_t hal_clock;
/* One lock for every shared register: the board's answer to two cores doing
 * read-modify-write on the same clock register (the ESP32 DPORT problem).
 * Modules never do an unlocked RMW on a shared register. */
static atomic_flag hal_reg_lock = ATOMIC_FLAG_INIT;

static void hal_lock(void) {
    unsigned spins = 0;
    while (atomic_flag_test_and_set_explicit(&hal_reg_lock, memory_order_acquire)) {
        /* On a host the holder may be descheduled; give it the CPU. */
        if (++spins % 64 == 0) {
            sched_yield();
        }
    }
}

static void hal_unlock(void) {
    atomic_flag_clear_explicit(&hal_reg_lock, memory_order_release);
}

/* STATUS.READY follows "clock bit set && CTRL.EN". Real hardware does this by
 * itself; the simulation recomputes it at every HAL entry point that touches
 * registers, under the lock. Called with the lock held. */
static void hal_sync_locked(void) {
    uint32_t clk = hal_clock;
    for (unsigned n = 0; n < HAL_NPERIPH; n++) {
        int ready = ((clk >> n) & 1u) && (hal_periphs[n].CTRL & HAL_CTRL_EN);
        uint32_t st = hal_periphs[n].STATUS;
        uint32_t want = ready ? (st | HAL_STATUS_READY) : (st & ~HAL_STATUS_READY);
        if (want != st) {
            hal_periphs[n].STATUS = want;
        }
    }
}

void nm_host_periph_sync(void) {
    hal_lock();
    hal_sync_locked();
    hal_unlock();
}

void nm_host_periph_reset(void) {
    hal_lock();
    hal_clock = 0;
    for (unsigned n = 0; n < HAL_NPERIPH; n++) {
        hal_periphs[n].CTRL = 0;
        hal_periphs[n].STATUS = 0;
        hal_periphs[n].DATA = 0;
        hal_periphs[n].BAUD = 0;
    }
    hal_unlock();
}

hal_periph_regs_t *hal_periph(unsigned n) {
    if (n >= HAL_NPERIPH) {
        return NULL;
    }
    nm_host_periph_sync();
    return &hal_periphs[n];
}

volatile uint32_t *hal_clock_reg(void) {
    nm_host_periph_sync();
    return &hal_clock;
}

void hal_set_bits(volatile uint32_t *reg, uint32_t mask) {
    hal_lock();
    *reg |= mask;
    hal_sync_locked();
    hal_unlock();
}

void hal_clear_bits(volatile uint32_t *reg, uint32_t mask) {
    hal_lock();
    *reg &= ~mask;
    hal_sync_locked();
    hal_unlock();
}

void nm_host_periph_dump(FILE *f) {
    nm_host_periph_sync();
    uint32_t clk = hal_clock;
    fprintf(f, "clock 0x%08x\n", (unsigned)clk);
    for (unsigned n = 0; n < HAL_NPERIPH; n++) {
        const hal_periph_regs_t *r = &hal_periphs[n];
        if (!((clk >> n) & 1u) && !r->CTRL) {
            continue; /* neither clocked nor configured: nothing to show */
        }
        fprintf(f, "periph%u clk=%u CTRL=0x%08x STATUS=0x%08x DATA=0x%08x BAUD=%u\n", n,
                (unsigned)((clk >> n) & 1u), (unsigned)r->CTRL, (unsigned)r->STATUS,
                (unsigned)r->DATA, (unsigned)r->BAUD);
    }
}

/* ---- sort ------------------------------------------------------------- */

static void hal_swap(unsigned char *a, unsigned char *b, size_t size) {
    while (size--) {
        unsigned char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Heap sort: O(n log n) worst case, no recursion, no allocation; the
 * comparator is the module's callback (a pointer into module text). */
void hal_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    unsigned char *b = base;
    if (!base || !cmp || n < 2 || size == 0 || n > SIZE_MAX / size) {
        return;
    }
    /* Sift element i down within heap [0, end). */
    for (size_t start = n / 2; start-- > 0;) {
        size_t i = start;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= n) {
                break;
            }
            if (c + 1 < n && cmp(b + c * size, b + (c + 1) * size) < 0) {
                c++;
            }
            if (cmp(b + i * size, b + c * size) >= 0) {
                break;
            }
            hal_swap(b + i * size, b + c * size, size);
            i = c;
        }
    }
    for (size_t end = n - 1; end > 0; end--) {
        hal_swap(b, b + end * size, size);
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= end) {
                break;
            }
            if (c + 1 < end && cmp(b + c * size, b + (c + 1) * size) < 0) {
                c++;
            }
            if (cmp(b + i * size, b + c * size) >= 0) {
                break;
            }
            hal_swap(b + i * size, b + c * size, size);
            i = c;
        }
    }
}

/* ---- the export list (the same on every board) ---- */
#include "hal_exports.h"
