/*
 * A small RV32IMC interpreter for the linker tests: runs linked rv32imc
 * modules on the host, so that their results can be compared with the same
 * C compiled natively, before (and beside) the QEMU board. User-level
 * integer instructions only (no CSRs, no FPU, no atomics): what C modules
 * compiled with -march=rv32imc -mabi=ilp32 execute. Anything else, a
 * misaligned jump or an access outside the mapped segments stops it with a
 * message naming the PC.
 */
#ifndef NATMOD_TESTS_RV32EMU_H
#define NATMOD_TESTS_RV32EMU_H

#include <stddef.h>
#include <stdint.h>

typedef struct rv_seg {
    uint32_t base, size;
    uint8_t *mem;
} rv_seg_t;

typedef struct rv_cpu rv_cpu_t;
/* A host function the module calls (a firmware import): arguments in
 * x[10..17], result into x[10] (and x[11]). Return 0, or non-zero to stop. */
typedef int (*rv_hcall_fn)(rv_cpu_t *c, unsigned idx, void *ctx);

struct rv_cpu {
    uint32_t x[32];
    uint32_t pc;
    rv_seg_t seg[8];
    unsigned nseg;
    uint32_t hcall_base; /* pc in [hcall_base, hcall_base + 4 * n_hcalls): host call idx */
    unsigned n_hcalls;
    rv_hcall_fn hcall;
    void *ctx;
    uint32_t exit_pc; /* returning here ends rv_call */
    char fault[160];
    uint64_t steps;
};

/* Pointer to len bytes at address a, or NULL if they are not mapped. */
uint8_t *rv_ptr(rv_cpu_t *c, uint32_t a, uint32_t len);

/* Call the function at fn with up to 8 word arguments; sp = stack top.
 * Returns 0 (a0/a1 in c->x[10], c->x[11]) or -1 with c->fault set. */
int rv_call(rv_cpu_t *c, uint32_t fn, const uint32_t *args, unsigned nargs, uint32_t sp, uint64_t max_steps);

#endif
