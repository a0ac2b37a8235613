/*
 * alloca: stack allocations whose size is a call argument (a VLA and
 * __builtin_alloca), made after a call chain deep enough to spill every
 * register window, for the windowed board's Alloca exception handler
 * (ports/xtensa/startup.c).
 *
 * On windowed Xtensa clang moves the stack pointer for them with MOVSP,
 * which raises the Alloca exception (EXCCAUSE 5) when the caller of the
 * function executing it is not in the register file. Each exported
 * function here first recurses `depth` levels (spill), whose window
 * overflows spill every older frame, its own caller included; the return
 * refills only the frames returned to, so the MOVSP that follows finds
 * its caller spilled. The array is then filled and summed through callees
 * that spill again, so the moved frame's save areas are written and read
 * back by the overflow and underflow handlers while the array is live.
 * On call0 Xtensa (and every other board) the same source just runs.
 *
 * clang calls with call8 only, so the caller it finds spilled is always a
 * call8 frame; movsp_call4 and movsp_call12 reach a MOVSP through a call4
 * and a call12 (assembly below), for the handler's other two frame sizes.
 *
 * vla_sum(n, depth) = alloca_sum(n, depth)
 *                   = (sum of i*i for i < n) + depth * (depth + 1) / 2
 * movsp_call4(depth) = movsp_call12(depth) = depth * (depth + 1)
 */
#include "natmod/module.h"

/* One live frame per level: the volatile read after the call keeps the
 * compiler from turning the recursion into a loop. */
static __attribute__((noinline)) int spill(int depth) {
    volatile int here = depth;
    return depth > 0 ? spill(depth - 1) + here : 0;
}

static __attribute__((noinline)) int fill(int *a, int n, int depth) {
    int s = spill(depth);
    for (int i = 0; i < n; i++) {
        a[i] = i * i;
    }
    return s;
}

static __attribute__((noinline)) int sum(const int *a, int n, int depth) {
    int s = spill(depth);
    for (int i = 0; i < n; i++) {
        s += a[i];
    }
    return s;
}

NM_EXPORT int vla_sum(int n, int depth) {
    if (n < 1 || n > 1024) {
        return -1;
    }
    int before = spill(depth);
    int a[n];
    int s = fill(a, n, depth);
    return sum(a, n, depth) + s - before;
}

NM_EXPORT int alloca_sum(int n, int depth) {
    if (n < 1 || n > 1024) {
        return -1;
    }
    int before = spill(depth);
    int *a = __builtin_alloca((unsigned)n * sizeof *a);
    int s = fill(a, n, depth);
    return sum(a, n, depth) + s - before;
}

/* movsp_leaf(depth, fn) = fn(depth) + fn(depth), with 32 bytes taken from
 * the stack by MOVSP between the calls and given back after them. */
typedef int spill_fn(int);
int movsp_leaf(int depth, spill_fn *fn);
int xt_call4(int (*leaf)(int, spill_fn *), int depth, spill_fn *fn);
int xt_call12(int (*leaf)(int, spill_fn *), int depth, spill_fn *fn);

#if defined(__xtensa__) && !(defined(__XTENSA_CALL0_ABI__) && !defined(__clang__))
/* Windowed: xt_call4 / xt_call12 call leaf(depth, fn) with callx4 /
 * callx12. movsp_leaf's frame: depth and fn at sp+0 and sp+4, then the
 * 16-byte extra save area (it calls with callx8) and the 16-byte base save
 * area at the top (48 bytes, as clang lays out a call8 caller's frame). The
 * first call spills every older frame, so both MOVSPs find movsp_leaf's
 * caller spilled: the 32 bytes taken hold the first result across the
 * second call. */
__asm__(".text\n"
        ".p2align 2\n"
        ".global movsp_leaf\n"
        ".hidden movsp_leaf\n"
        ".type movsp_leaf, @function\n"
        "movsp_leaf:\n"
        "  entry a1, 48\n"
        "  s32i a2, a1, 0\n"
        "  s32i a3, a1, 4\n"
        "  mov a10, a2\n"
        "  callx8 a3\n" /* fn(depth): spills the caller */
        "  addi a8, a1, -32\n"
        "  movsp a1, a8\n" /* Alloca exception: the caller is spilled */
        "  s32i a10, a1, 0\n"
        "  l32i a10, a1, 32\n"
        "  l32i a8, a1, 36\n"
        "  callx8 a8\n" /* fn(depth) again, below the moved stack pointer */
        "  l32i a8, a1, 0\n"
        "  add a2, a8, a10\n"
        "  addi a8, a1, 32\n"
        "  movsp a1, a8\n" /* and again */
        "  retw\n"
        ".size movsp_leaf, . - movsp_leaf\n"
        ".p2align 2\n"
        ".global xt_call4\n"
        ".hidden xt_call4\n"
        ".type xt_call4, @function\n"
        "xt_call4:\n"
        "  entry a1, 32\n"
        "  mov a6, a3\n"
        "  mov a7, a4\n"
        "  callx4 a2\n"
        "  mov a2, a6\n"
        "  retw\n"
        ".size xt_call4, . - xt_call4\n"
        ".p2align 2\n"
        ".global xt_call12\n"
        ".hidden xt_call12\n"
        ".type xt_call12, @function\n"
        "xt_call12:\n"
        "  entry a1, 64\n" /* calls with callx12: a 32-byte extra save area */
        "  mov a14, a3\n"
        "  mov a15, a4\n"
        "  callx12 a2\n"
        "  mov a2, a14\n"
        "  retw\n"
        ".size xt_call12, . - xt_call12\n");
#else
/* call0 (and any other ISA): no MOVSP; the same results from C. */
int movsp_leaf(int depth, spill_fn *fn) {
    int first = fn(depth);
    return first + fn(depth);
}

int xt_call4(int (*leaf)(int, spill_fn *), int depth, spill_fn *fn) {
    return leaf(depth, fn);
}

int xt_call12(int (*leaf)(int, spill_fn *), int depth, spill_fn *fn) {
    return leaf(depth, fn);
}
#endif

NM_EXPORT int movsp_call4(int depth) {
    return xt_call4(movsp_leaf, depth, spill);
}

NM_EXPORT int movsp_call12(int depth) {
    return xt_call12(movsp_leaf, depth, spill);
}
