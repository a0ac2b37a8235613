/*
 * The C library of the windowed firmware. Debian ships picolibc for the
 * lx106 only, built for the call0 ABI, and a windowed function cannot call
 * call0 code (its return address carries the window increment in its top
 * bits), so the de212 firmware brings the little it uses: memory and
 * string functions, strtoul, and a printf family with the conversions the
 * firmware and the board API print (d i u x X c s p %, flags - 0, width,
 * precision for s, length h l ll z). Output goes to the console line
 * buffer (startup.c). picolibc's headers still declare all of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"

void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--) {
        *dp++ = *sp++;
    }
    return d;
}

void *memmove(void *d, const void *s, size_t n) {
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp) {
        while (n--) {
            *dp++ = *sp++;
        }
    } else {
        while (n--) {
            dp[n] = sp[n];
        }
    }
    return d;
}

void *memset(void *d, int c, size_t n) {
    unsigned char *dp = d;
    while (n--) {
        *dp++ = (unsigned char)c;
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] - y[i];
        }
    }
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) {
            return (unsigned char)*a - (unsigned char)*b;
        }
    }
    return 0;
}

char *strchr(const char *s, int c) {
    for (;; s++) {
        if (*s == (char)c) {
            return (char *)s;
        }
        if (!*s) {
            return NULL;
        }
    }
}

/* Base 0 (0x, 0 prefixes), 8, 10 or 16; no overflow clamping beyond 32 bits
 * (the firmware checks its ranges itself). */
unsigned long strtoul(const char *s, char **end, int base) {
    const char *p = s;
    unsigned long v = 0;
    int any = 0;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    for (;; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0'
                : *p >= 'a' && *p <= 'z' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'Z' ? *p - 'A' + 10 : 99;
        if (d >= base) {
            break;
        }
        v = v * (unsigned long)base + (unsigned long)d;
        any = 1;
    }
    if (end) {
        *end = (char *)(any ? p : s);
    }
    return v;
}

long strtol(const char *s, char **end, int base) {
    const char *p = s;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    int neg = *p == '-';
    if (*p == '-' || *p == '+') {
        p++;
    }
    char *e;
    unsigned long v = strtoul(p, &e, base);
    if (end) {
        *end = e == p ? (char *)s : e;
    }
    return neg ? (long)(0ul - v) : (long)v;
}

char *strncpy(char *restrict d, const char *restrict s, size_t n) {
    size_t i = 0;
    for (; i < n && s[i]; i++) {
        d[i] = s[i];
    }
    for (; i < n; i++) {
        d[i] = 0;
    }
    return d;
}

/* Tokens separated by any of sep; one caller at a time (the script). */
char *strtok(char *restrict s, const char *restrict sep) {
    static char *next;
    if (!s) {
        s = next;
    }
    if (!s) {
        return NULL;
    }
    while (*s && strchr(sep, *s)) {
        s++;
    }
    if (!*s) {
        next = NULL;
        return NULL;
    }
    char *tok = s;
    while (*s && !strchr(sep, *s)) {
        s++;
    }
    next = *s ? s + 1 : NULL;
    *s = 0;
    return tok;
}

/* ---- printf ---------------------------------------------------------- */

typedef struct sink {
    char *buf; /* NULL: the console */
    size_t cap, n;
} sink_t;

static void put(sink_t *k, char c) {
    if (!k->buf) {
        xt_console_putc(c);
    } else if (k->n + 1 < k->cap) {
        k->buf[k->n] = c;
    }
    k->n++;
}

static void pad(sink_t *k, char c, int count) {
    while (count-- > 0) {
        put(k, c);
    }
}

/*
 * The arguments are read from the va_list by hand. clang-22's Xtensa
 * va_start leaves the register pointer of the va_list ({stack, registers,
 * index}, the GCC layout) at the first unnamed argument's slot instead of
 * a2's, and its va_arg misreads arguments that spill to the stack, so fmt
 * moves the pointer back by the named bytes and follows the ABI itself:
 * index below 24 bytes: the saved a2..a7; from there on: the caller's
 * outgoing arguments at stack + index, the index jumping to 32. All
 * va_lists that reach fmt start unconsumed in this firmware's own variadic
 * functions (printf, snprintf, hal_printf, ...).
 */
typedef struct xt_va {
    char *stk;
    char *reg;
    int ndx;
} xt_va_t;

static const char *arg_at(xt_va_t *v, int size) {
    v->ndx = (v->ndx + size - 1) & -size;
    if (v->ndx + size <= 24) {
        v->ndx += size;
        return v->reg + v->ndx - size;
    }
    if (v->ndx < 32) {
        v->ndx = 32;
    }
    v->ndx += size;
    return v->stk + v->ndx - size;
}

static uint32_t arg32(xt_va_t *v) {
    uint32_t w;
    memcpy(&w, arg_at(v, 4), 4);
    return w;
}

static uint64_t arg64(xt_va_t *v) {
    uint64_t w;
    memcpy(&w, arg_at(v, 8), 8);
    return w;
}

static int fmt(sink_t *k, const char *f, va_list ap_in) {
    va_list ap;
    va_copy(ap, ap_in);
    xt_va_t *v = (xt_va_t *)(void *)&ap;
    if (v->ndx <= 24) {
        v->reg -= v->ndx;
    }
    for (; *f; f++) {
        if (*f != '%') {
            put(k, *f);
            continue;
        }
        int left = 0, zero = 0, width = 0, prec = -1, lng = 0;
        for (f++; *f == '-' || *f == '0'; f++) {
            left |= *f == '-';
            zero |= *f == '0';
        }
        for (; *f >= '0' && *f <= '9'; f++) {
            width = width * 10 + (*f - '0');
        }
        if (*f == '.') {
            for (prec = 0, f++; *f >= '0' && *f <= '9'; f++) {
                prec = prec * 10 + (*f - '0');
            }
        }
        for (; *f == 'l' || *f == 'h' || *f == 'z'; f++) {
            lng += *f == 'l';
        }
        char tmp[24];
        const char *s = tmp;
        int len = 0, neg = 0;
        unsigned long long u = 0;
        unsigned base = 10;
        switch (*f) {
        case 'd':
        case 'i': {
            long long x = lng >= 2 ? (long long)arg64(v) : (long long)(int32_t)arg32(v);
            neg = x < 0;
            u = neg ? 0ull - (unsigned long long)x : (unsigned long long)x;
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'p':
            u = lng >= 2 ? arg64(v) : arg32(v);
            base = *f == 'u' ? 10 : 16;
            break;
        case 'c':
            tmp[0] = (char)arg32(v);
            len = 1;
            break;
        case 's':
            s = (const char *)(uintptr_t)arg32(v);
            s = s ? s : "(null)";
            while (s[len] && (prec < 0 || len < prec)) {
                len++;
            }
            break;
        case '%':
            tmp[0] = '%';
            len = 1;
            break;
        default:
            va_end(ap);
            return -1;
        }
        if (*f == 'd' || *f == 'i' || *f == 'u' || *f == 'x' || *f == 'X' || *f == 'p') {
            const char *digits = *f == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            char rev[24];
            int r = 0;
            do {
                rev[r++] = digits[u % base];
                u /= base;
            } while (u);
            if (neg) {
                tmp[len++] = '-';
            }
            while (r) {
                tmp[len++] = rev[--r];
            }
        }
        if (left) {
            for (int i = 0; i < len; i++) {
                put(k, s[i]);
            }
            pad(k, ' ', width - len);
        } else if (zero && s == tmp && neg) {
            put(k, '-');
            pad(k, '0', width - len);
            for (int i = 1; i < len; i++) {
                put(k, s[i]);
            }
        } else {
            pad(k, zero ? '0' : ' ', width - len);
            for (int i = 0; i < len; i++) {
                put(k, s[i]);
            }
        }
    }
    va_end(ap);
    return (int)k->n;
}

int vsnprintf(char *restrict buf, size_t cap, const char *restrict f, va_list ap) {
    static char none;
    sink_t k = {cap ? buf : &none, cap ? cap : 1, 0};
    int n = fmt(&k, f, ap);
    k.buf[k.n < k.cap ? k.n : k.cap - 1] = 0;
    return n;
}

int snprintf(char *restrict buf, size_t cap, const char *restrict f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, cap, f, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *restrict f, va_list ap) {
    sink_t k = {NULL, 0, 0};
    return fmt(&k, f, ap);
}

int printf(const char *restrict f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vprintf(f, ap);
    va_end(ap);
    return n;
}

int fputs(const char *s, FILE *stream) {
    (void)stream;
    while (*s) {
        xt_console_putc(*s++);
    }
    return 0;
}

void exit(int status) {
    _exit(status);
}

/* picolibc's errno, a plain global in this firmware */
int errno;
FILE *const stdout = NULL;
