/*
 * Helpers shared by the linker phases: first-error-wins messages and an
 * arena so that every early return frees everything at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/util.h"

int nml_fail(nml_err_t *e, int code, const char *fmt, ...) {
    if (e && e->code == 0) {
        e->code = code;
        if (e->buf && e->len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(e->buf, e->len, fmt, ap);
            va_end(ap);
            /* one line: a name from the input may carry a newline */
            for (char *p = e->buf; *p; p++) {
                if (*p == '\n' || *p == '\r') {
                    *p = ' ';
                }
            }
        }
    }
    return code;
}

int nml_fail_more(nml_err_t *e, size_t reserve, const char *fmt, ...) {
    if (!e || !e->code || !e->buf || !e->len) {
        return 0;
    }
    size_t used = strlen(e->buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    /* used + '\n' + n + NUL + reserve must fit */
    if (n < 0 || used + 2 + (size_t)n + reserve > e->len) {
        return 0;
    }
    char *line = e->buf + used + 1;
    va_start(ap, fmt);
    vsnprintf(line, e->len - used - 1, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    e->buf[used] = '\n';
    return 1;
}

struct nml_block {
    struct nml_block *next;
    max_align_t data[];
};

void *nml_alloc(nml_arena_t *a, size_t size) {
    if (size > ((size_t)1 << 40) - sizeof(struct nml_block)) {
        return NULL;
    }
    struct nml_block *b = calloc(1, sizeof(*b) + size);
    if (!b) {
        return NULL;
    }
    b->next = a->head;
    a->head = b;
    return b->data;
}

void *nml_alloc_array(nml_arena_t *a, size_t n, size_t elem) {
    if (elem && n > SIZE_MAX / elem) {
        return NULL;
    }
    return nml_alloc(a, n * elem);
}

char *nml_strdup(nml_arena_t *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = nml_alloc(a, n);
    if (p) {
        memcpy(p, s, n);
    }
    return p;
}

void nml_arena_free(nml_arena_t *a) {
    struct nml_block *b = a->head;
    while (b) {
        struct nml_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}
