/*
 * Detail-string helpers for freestanding code: the target has no snprintf, so
 * messages are assembled piecewise. Every call is bounded by NM_DETAIL_MAX and
 * leaves the string NUL-terminated; a NULL detail is accepted and ignored so
 * callers never need to test for it.
 */
#include "natmod/format.h"

void nm_detail_set(nm_detail_t *d, const char *s) {
    if (!d) {
        return;
    }
    d->msg[0] = '\0';
    nm_detail_cat(d, s);
}

void nm_detail_cat(nm_detail_t *d, const char *s) {
    if (!d || !s) {
        return;
    }
    size_t n = 0;
    /* Find the current end without trusting that msg was terminated. */
    while (n < NM_DETAIL_MAX - 1 && d->msg[n] != '\0') {
        n++;
    }
    while (n < NM_DETAIL_MAX - 1 && *s != '\0') {
        d->msg[n++] = *s++;
    }
    d->msg[n] = '\0';
}

void nm_detail_hex(nm_detail_t *d, uint32_t v) {
    char buf[11];
    char *p = buf + sizeof buf;
    *--p = '\0';
    do {
        *--p = "0123456789abcdef"[v & 0xF];
        v >>= 4;
    } while (v != 0);
    *--p = 'x';
    *--p = '0';
    nm_detail_cat(d, p);
}

void nm_detail_dec(nm_detail_t *d, uint32_t v) {
    char buf[11];
    char *p = buf + sizeof buf;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    nm_detail_cat(d, p);
}
