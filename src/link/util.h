/*
 * Small helpers shared by every src/link file: one-line errors, an arena,
 * little-endian access (util.c).
 */
#ifndef NATMOD_LINK_UTIL_H
#define NATMOD_LINK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"
#include "natmod/format.h"

/* ---- error reporting: the first error wins, one line ---- */
typedef struct nml_err {
    char *buf;
    size_t len;
    int code;
} nml_err_t;

#if defined(__GNUC__)
#define NML_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NML_PRINTF(a, b)
#endif

/* Record an error (if none yet) and return code. */
int nml_fail(nml_err_t *e, int code, const char *fmt, ...) NML_PRINTF(3, 4);
/* Add one more line to the error recorded (a list: one line per undefined
 * symbol), after a newline. It goes in whole, with reserve bytes still free
 * after it, or not at all. Returns 1 if it went in. */
int nml_fail_more(nml_err_t *e, size_t reserve, const char *fmt, ...) NML_PRINTF(3, 4);

/* ---- allocation: everything hangs off an arena, freed at once ---- */
typedef struct nml_arena {
    struct nml_block *head;
} nml_arena_t;

void *nml_alloc(nml_arena_t *a, size_t size); /* zeroed; NULL on overflow/OOM */
void *nml_alloc_array(nml_arena_t *a, size_t n, size_t elem);
char *nml_strdup(nml_arena_t *a, const char *s);
void nml_arena_free(nml_arena_t *a);

/* little-endian access on unaligned bytes */
static inline uint16_t nml_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t nml_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t nml_rd64(const uint8_t *p) { return nml_rd32(p) | ((uint64_t)nml_rd32(p + 4) << 32); }
static inline void nml_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void nml_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void nml_wr64(uint8_t *p, uint64_t v) { nml_wr32(p, (uint32_t)v); nml_wr32(p + 4, (uint32_t)(v >> 32)); }

#endif /* NATMOD_LINK_UTIL_H */
