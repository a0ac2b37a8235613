/*
 * The host board's HAL (ports/host/hal.c): printf subset, sort with a
 * callback, locked register RMW from two threads, simulated peripherals,
 * the periodic timer.
 */
#define _DEFAULT_SOURCE /* open_memstream, mkdtemp, realpath under -std=c11 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "natmod/hal.h"
#include "test.h"

/* Run hal_printf with the console on a memstream; returns the text. */
static char printed[4096];
static int printed_n;

static void capture_begin(FILE **f, char **buf, size_t *len) {
    *f = open_memstream(buf, len);
    nm_host_set_console(*f);
}

/* The memstream's buffer pointer is only final after fclose. */
static void capture_end(FILE *f, char **buf) {
    nm_host_set_console(NULL);
    fclose(f);
    snprintf(printed, sizeof printed, "%s", *buf);
    free(*buf);
}

#define PRINTS(expect, ...)                                                    \
    do {                                                                       \
        FILE *f_;                                                              \
        char *b_;                                                              \
        size_t l_;                                                             \
        capture_begin(&f_, &b_, &l_);                                          \
        printed_n = hal_printf(__VA_ARGS__);                                   \
        capture_end(f_, &b_);                                                   \
        CHECK(!strcmp(printed, (expect)));                                     \
        if (strcmp(printed, (expect))) {                                       \
            fprintf(stderr, "  got \"%s\", want \"%s\"\n", printed, (expect)); \
        }                                                                      \
        CHECK_EQ(printed_n, strlen(expect));                                   \
    } while (0)

static void hal_printf_formats_the_documented_subset(void) {
    PRINTS("plain", "plain");
    PRINTS("d=-42 i=7 u=4294967295", "d=%d i=%i u=%u", -42, 7, 4294967295u);
    PRINTS("x=ff X=FF", "x=%x X=%X", 255u, 255u);
    PRINTS("c=A s=str", "c=%c s=%s", 'A', "str");
    PRINTS("100%", "100%%");
    PRINTS("[   42][42   ][00042]", "[%5d][%-5d][%05d]", 42, 42, 42);
    PRINTS("[  ab][ab  ]", "[%4s][%-4s]", "ab", "ab");
    PRINTS("l=-1234567890123 ll=18446744073709551615 z=12345", "l=%ld ll=%llu z=%zu",
           -1234567890123L, 18446744073709551615ull, (size_t)12345);
    PRINTS("zd=-5 lx=deadbeefcafe", "zd=%zd lx=%lx", (ptrdiff_t)-5, 0xdeadbeefcafeul);
    PRINTS("f=3.250000 e=1.500000e+03 g=0.25", "f=%f e=%e g=%g", 3.25, 1500.0, 0.25);
    PRINTS("f=3.14 [  2.5]", "f=%.2f [%5.1f]", 3.14159, 2.5);
    PRINTS("(null)", "%s", (char *)NULL);
    PRINTS("[  7][7  ][3.1][2.500000]", "[%*d][%*d][%.*f][%.*f]", 3, 7, -3, 7, 1, 3.14, -1, 2.5);
    PRINTS("08", "%02x", 8u);
    {
        char want[64];
        int x;
        snprintf(want, sizeof want, "p=%p", (void *)&x);
        PRINTS(want, "p=%p", (void *)&x);
    }
    /* Outside the subset: printed as written, no argument consumed, and
     * above all no %n write. */
    int target = 1234;
    PRINTS("n=%n then 5", "n=%n then %d", 5);
    (void)target;
    PRINTS("h=%hd", "h=%hd");
    PRINTS("trailing %", "trailing %");
    /* Long output goes through the big-buffer path. */
    {
        char want[400];
        memset(want, ' ', 299);
        want[299] = 'x';
        want[300] = '\0';
        PRINTS(want, "%300s", "x");
    }
}

static void hal_print_writes_to_the_console(void) {
    FILE *f;
    char *b;
    size_t l;
    capture_begin(&f, &b, &l);
    hal_print("one ");
    hal_print("two\n");
    capture_end(f, &b);
    CHECK(!strcmp(printed, "one two\n"));
}

static unsigned ncmp;

static int cmp_int_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    ncmp++;
    return (x < y) - (x > y);
}

typedef struct {
    char key[6];
    short tag;
} rec_t;

static int cmp_rec(const void *a, const void *b) {
    return strcmp(((const rec_t *)a)->key, ((const rec_t *)b)->key);
}

static void hal_sort_sorts_through_the_callback(void) {
    int v[8] = {5, 3, 9, 1, 7, 2, 8, 4};
    ncmp = 0;
    hal_sort(v, 8, sizeof v[0], cmp_int_desc);
    static const int want[8] = {9, 8, 7, 5, 4, 3, 2, 1};
    CHECK(!memcmp(v, want, sizeof v));
    CHECK(ncmp > 0);

    /* Odd-sized elements, many of them, against qsort as the reference. */
    enum { N = 1000 };
    static rec_t r[N], ref[N];
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        snprintf(r[i].key, sizeof r[i].key, "%05u", (unsigned)(s >> 16) % 100000u);
        r[i].tag = (short)i;
    }
    memcpy(ref, r, sizeof r);
    hal_sort(r, N, sizeof r[0], cmp_rec);
    qsort(ref, N, sizeof ref[0], cmp_rec);
    int same_keys = 1;
    for (int i = 0; i < N; i++) {
        same_keys &= !strcmp(r[i].key, ref[i].key);
    }
    CHECK(same_keys);

    /* Degenerate calls do nothing. */
    int one = 7;
    hal_sort(&one, 1, sizeof one, cmp_int_desc);
    hal_sort(NULL, 0, 4, cmp_int_desc);
    hal_sort(v, 8, 0, cmp_int_desc);
    hal_sort(v, SIZE_MAX, 2, cmp_int_desc); /* n * size overflows: refused */
    CHECK_EQ(one, 7);
    CHECK(!memcmp(v, want, sizeof v));
}

/* Two threads toggle different bits of the shared clock register 1e5 times
 * each through the locked RMW; neither ever loses the other's bits. */
#define ITERS 100000

typedef struct {
    uint32_t bit;
    uint32_t stable; /* a bit this thread sets once and expects to stay */
    int lost;
} rmw_arg_t;

static void *rmw_thread(void *p) {
    rmw_arg_t *a = p;
    volatile uint32_t *clk = hal_clock_reg();
    for (int i = 0; i < ITERS; i++) {
        hal_set_bits(clk, a->bit);
        hal_clear_bits(clk, a->bit);
        if (!(*clk & a->stable)) {
            a->lost++;
        }
    }
    hal_set_bits(clk, a->bit); /* end with the bit set */
    return NULL;
}

static void hal_set_clear_bits_never_lose_updates_across_threads(void) {
    nm_host_periph_reset();
    volatile uint32_t *clk = hal_clock_reg();
    hal_set_bits(clk, 1u << 8 | 1u << 9); /* stable bits both threads check */
    rmw_arg_t a = {1u << 0, 1u << 8, 0}, b = {1u << 1, 1u << 9, 0};
    pthread_t ta, tb;
    CHECK_EQ(pthread_create(&ta, NULL, rmw_thread, &a), 0);
    CHECK_EQ(pthread_create(&tb, NULL, rmw_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ(*clk, (1u << 0) | (1u << 1) | (1u << 8) | (1u << 9));
    CHECK_EQ(a.lost, 0);
    CHECK_EQ(b.lost, 0);
    nm_host_periph_reset();
}

static void periph_status_ready_follows_clock_and_enable(void) {
    nm_host_periph_reset();
    CHECK(hal_periph(HAL_NPERIPH) == NULL);
    hal_periph_regs_t *p = hal_periph(2);
    CHECK(p != NULL);
    CHECK_EQ(p->STATUS & HAL_STATUS_READY, 0);
    hal_set_bits(&p->CTRL, HAL_CTRL_EN); /* enabled, not clocked */
    CHECK_EQ(p->STATUS & HAL_STATUS_READY, 0);
    hal_set_bits(hal_clock_reg(), 1u << 2);
    CHECK_EQ(p->STATUS & HAL_STATUS_READY, HAL_STATUS_READY);
    CHECK_EQ(hal_periph(1)->STATUS & HAL_STATUS_READY, 0); /* others untouched */
    /* A direct CTRL write is seen at the next HAL call or sync. */
    p->CTRL = 0;
    nm_host_periph_sync();
    CHECK_EQ(p->STATUS & HAL_STATUS_READY, 0);
    p->CTRL = HAL_CTRL_EN;
    p->BAUD = 9600;
    p->DATA = 0x5a;
    (void)hal_periph(2);
    CHECK_EQ(p->STATUS & HAL_STATUS_READY, HAL_STATUS_READY);

    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    nm_host_periph_dump(f);
    fclose(f);
    CHECK_STR_CONTAINS(buf, "clock 0x00000004\n");
    CHECK_STR_CONTAINS(buf, "periph2 clk=1 CTRL=0x00000001 STATUS=0x00000001 DATA=0x0000005a BAUD=9600\n");
    CHECK(!strstr(buf, "periph0"));
    free(buf);
    hal_clear_bits(hal_clock_reg(), 1u << 2);
    CHECK_EQ(p->STATUS & HAL_STATUS_READY, 0);
    nm_host_periph_reset();
}

static void hal_ticks_ms_counts_from_board_start(void) {
    nm_host_ticks_reset();
    uint32_t t0 = hal_ticks_ms();
    CHECK(t0 < 50);
    struct timespec d = {0, 30 * 1000000L};
    nanosleep(&d, NULL);
    uint32_t t1 = hal_ticks_ms();
    CHECK(t1 >= t0 + 29 && t1 < t0 + 2000);
}

/* ---- timer ---- */

static void ms_sleep(long ms) {
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0) {
        /* SIGALRM interrupts the sleep: sleep the rest */
    }
}

/* Polls until *n reaches want or limit_ms passes; returns the ms waited. */
static long wait_count(volatile int *n, int want, long limit_ms) {
    long waited = 0;
    while (*n < want && waited < limit_ms) {
        ms_sleep(1);
        waited++;
    }
    return waited;
}

static void count_cb(void *arg) {
    ++*(volatile int *)arg;
}

static volatile int self_stop_n;
static void self_stopping_cb(void *arg) {
    (void)arg;
    if (++self_stop_n == 3) {
        hal_timer_stop(); /* from inside the callback: must not wait for itself */
    }
}

static void hal_timer_calls_back_until_stopped(void) {
    static volatile int a, b;
    CHECK_EQ(hal_timer_start(0, count_cb, (void *)&a), -1);
    CHECK_EQ(hal_timer_start(60001, count_cb, (void *)&a), -1);
    CHECK_EQ(hal_timer_start(10, NULL, (void *)&a), -1);
    CHECK_EQ(nm_host_timer_get(NULL, NULL), 0);

    CHECK_EQ(hal_timer_start(1, count_cb, (void *)&a), 0);
    uintptr_t cb = 0, arg = 0;
    CHECK_EQ(nm_host_timer_get(&cb, &arg), 1);
    CHECK(cb == (uintptr_t)count_cb && arg == (uintptr_t)&a);
    CHECK(wait_count(&a, 5, 2000) < 2000); /* 5 ticks of 1 ms within 2 s */
    hal_timer_stop();
    int frozen = a;
    ms_sleep(30);
    CHECK_EQ(a, frozen); /* never again after stop returned */
    CHECK_EQ(nm_host_timer_get(&cb, &arg), 0);
    hal_timer_stop(); /* twice: harmless */

    /* A new start replaces the running timer: the old callback stops. */
    CHECK_EQ(hal_timer_start(1, count_cb, (void *)&a), 0);
    CHECK_EQ(hal_timer_start(2, count_cb, (void *)&b), 0);
    frozen = a;
    CHECK(wait_count(&b, 3, 2000) < 2000);
    CHECK_EQ(a, frozen);
    hal_timer_stop();

    /* Stopped from inside its own callback. */
    CHECK_EQ(hal_timer_start(1, self_stopping_cb, NULL), 0);
    wait_count(&self_stop_n, 3, 2000);
    ms_sleep(20);
    CHECK_EQ(self_stop_n, 3);
    CHECK_EQ(nm_host_timer_get(NULL, NULL), 0);
}

int main(void) {
    RUN(hal_printf_formats_the_documented_subset);
    RUN(hal_print_writes_to_the_console);
    RUN(hal_sort_sorts_through_the_callback);
    RUN(hal_set_clear_bits_never_lose_updates_across_threads);
    RUN(periph_status_ready_follows_clock_and_enable);
    RUN(hal_ticks_ms_counts_from_board_start);
    RUN(hal_timer_calls_back_until_stopped);
    return TEST_DONE();
}
