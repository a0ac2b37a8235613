/*
 * Xtensa reset, vectors, the level-1 interrupt and the C library's system
 * layer, on qemu-system-xtensa -M sim (call0 lx106 or windowed de212).
 *
 * The sim machine starts every core at 0x50000000 (sysrom0) whatever the
 * ELF entry says, so a reset stub lives there (section .reset): it loads
 * the stack pointer and _start from literals placed before it (l32r reads
 * backwards) and jumps. _start points VECBASE at this board's vector table
 * (section .vectors, 4 KB aligned, at the start of sysram0), opens
 * interrupts below level 1 with PS.UM set so that level-1 interrupts take
 * the user vector, clears .bss and runs main.
 *
 * Console, files and exit go through QEMU's simcall (-semihosting): a2 the
 * call number, a3..a5 the arguments; a2 returns the result and a3 the
 * errno, so a3 is an output too. picolibc's stdout is a FILE whose put
 * function buffers a line and writes it with one simcall.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"

extern char __bss_start[], __bss_end[], _vector_base[];
extern int main(void);
void _start(void);
void xt_l1_dispatch(uint32_t cause, uint32_t *frame);

enum { SIM_EXIT = 1, SIM_READ = 3, SIM_WRITE = 4, SIM_OPEN = 5, SIM_CLOSE = 6 };

int board_simcall(int nr, int a, int b, int c, int *err) {
    register int a2 __asm__("a2") = nr;
    register int a3 __asm__("a3") = a;
    register int a4 __asm__("a4") = b;
    register int a5 __asm__("a5") = c;
    /* SIMCALL (0x005100) as bytes: clang's assembler lacks the mnemonic */
    __asm volatile(".byte 0x00, 0x51, 0x00" : "+r"(a2), "+r"(a3) : "r"(a4), "r"(a5) : "memory");
    if (err) {
        *err = a3;
    }
    return a2;
}

/* ---- reset stub (sysrom0) and vectors ---------------------------------- */

__asm__(".section .reset, \"ax\"\n"
        ".global _reset\n"
        "_reset:\n"
        "  j 1f\n"
        "  .align 4\n"
        ".Lstack: .4byte __stack_top\n"
        ".Lentry: .4byte _start\n"
        "1:\n"
        "  l32r a1, .Lstack\n"
        "  l32r a0, .Lentry\n"
        "  jx a0\n"
        ".previous\n");

/* The level-1 interrupt and every other exception (PS.UM = 1: user
 * vector) save the interrupted registers in a frame below the stack
 * pointer and call xt_l1_dispatch in C with EXCCAUSE and the frame; a
 * kernel-vector or double exception is a fault straight away. */
#ifndef XT_WINDOWED
__asm__(".section .vectors, \"ax\"\n"
        ".global _vector_base\n"
        "_vector_base:\n"
        "  .org 0x30\n" /* kernel exception: PS.UM = 0 */
        "  wsr a0, excsave1\n"
        "  j xt_fault_entry\n"
        "  .org 0x50\n" /* user exception and level-1 interrupt */
        "  wsr a0, excsave1\n"
        "  j xt_l1_entry\n"
        "  .org 0x70\n" /* double exception */
        "  j xt_fault_entry\n"
        "  .org 0x100\n"
        ".previous\n"
        ".text\n"
        ".align 4\n"
        "xt_fault_entry:\n"
        "  movi a0, 0\n"
        "  wsr a0, intenable\n"
        "xt_l1_entry:\n"
        "  addi a1, a1, -80\n"
        "  s32i a2, a1, 8\n"
        "  s32i a3, a1, 12\n"
        "  s32i a4, a1, 16\n"
        "  s32i a5, a1, 20\n"
        "  s32i a6, a1, 24\n"
        "  s32i a7, a1, 28\n"
        "  s32i a8, a1, 32\n"
        "  s32i a9, a1, 36\n"
        "  s32i a10, a1, 40\n"
        "  s32i a11, a1, 44\n"
        "  s32i a12, a1, 48\n"
        "  s32i a13, a1, 52\n"
        "  s32i a14, a1, 56\n"
        "  s32i a15, a1, 60\n"
        "  rsr a2, excsave1\n"
        "  s32i a2, a1, 0\n"
        "  rsr a2, sar\n"
        "  s32i a2, a1, 64\n"
        "  rsr a2, exccause\n"
        "  mov a3, a1\n"
        "  call0 xt_l1_dispatch\n"
        "  l32i a2, a1, 64\n"
        "  wsr a2, sar\n"
        "  l32i a0, a1, 0\n"
        "  l32i a2, a1, 8\n"
        "  l32i a3, a1, 12\n"
        "  l32i a4, a1, 16\n"
        "  l32i a5, a1, 20\n"
        "  l32i a6, a1, 24\n"
        "  l32i a7, a1, 28\n"
        "  l32i a8, a1, 32\n"
        "  l32i a9, a1, 36\n"
        "  l32i a10, a1, 40\n"
        "  l32i a11, a1, 44\n"
        "  l32i a12, a1, 48\n"
        "  l32i a13, a1, 52\n"
        "  l32i a14, a1, 56\n"
        "  l32i a15, a1, 60\n"
        "  addi a1, a1, 80\n"
        "  rfe\n");
#endif

#ifdef XT_WINDOWED
/*
 * The windowed core (de212): vector offsets from its configuration. The
 * six window vectors spill and refill a frame's registers to and from the
 * stack save areas of the windowed ABI (the base save area, 16 bytes
 * below the stack pointer of the frame's callee; for call8/call12 frames
 * also the extra save area below the caller's stack pointer, found
 * through the base save area of the frame's caller).
 *
 * The level-1 interrupt runs C with the interrupted window left as it is:
 * the interrupted function's stack pointer (a1) is kept, its a0, a2..a15,
 * SAR, the loop registers, EPC1 and PS (with CALLINC: an interrupt may
 * land between a call and the callee's entry) go to a static save area
 * (level-1 interrupts do not nest), and the dispatcher is entered by
 * callx4, as if the interrupted function had called it: its frame lies
 * below that stack pointer like any callee's, and window overflows during
 * it spill the older frames where the ABI expects them. It runs with
 * PS.EXCM clear (window exceptions need it) and PS.INTLEVEL 1.
 */
uint32_t xt_isr_save[24];
__asm__(".section .vectors, \"ax\"\n"
        ".global _vector_base\n"
        "_vector_base:\n"
        "  .org 0x00\n" /* window overflow 4 */
        "  s32e a0, a5, -16\n  s32e a1, a5, -12\n  s32e a2, a5, -8\n  s32e a3, a5, -4\n  rfwo\n"
        "  .org 0x40\n" /* window underflow 4 */
        ".Lwuf4:\n  l32e a0, a5, -16\n  l32e a1, a5, -12\n  l32e a2, a5, -8\n  l32e a3, a5, -4\n  rfwu\n"
        "  .org 0x80\n" /* window overflow 8 */
        "  s32e a0, a9, -16\n  l32e a0, a1, -12\n  s32e a1, a9, -12\n  s32e a2, a9, -8\n"
        "  s32e a3, a9, -4\n  s32e a4, a0, -32\n  s32e a5, a0, -28\n  s32e a6, a0, -24\n"
        "  s32e a7, a0, -20\n  rfwo\n"
        "  .org 0xC0\n" /* window underflow 8 */
        ".Lwuf8:\n  l32e a1, a9, -12\n  l32e a0, a9, -16\n  l32e a7, a1, -12\n  l32e a2, a9, -8\n"
        "  l32e a4, a7, -32\n  l32e a3, a9, -4\n  l32e a5, a7, -28\n  l32e a6, a7, -24\n"
        "  l32e a7, a7, -20\n  rfwu\n"
        "  .org 0x100\n" /* window overflow 12 */
        "  s32e a0, a13, -16\n  l32e a0, a1, -12\n  s32e a1, a13, -12\n  s32e a2, a13, -8\n"
        "  s32e a3, a13, -4\n  s32e a4, a0, -48\n  s32e a5, a0, -44\n  s32e a6, a0, -40\n"
        "  s32e a7, a0, -36\n  s32e a8, a0, -32\n  s32e a9, a0, -28\n  s32e a10, a0, -24\n"
        "  s32e a11, a0, -20\n  rfwo\n"
        "  .org 0x140\n" /* window underflow 12 */
        ".Lwuf12:\n  l32e a1, a13, -12\n  l32e a0, a13, -16\n  l32e a11, a1, -12\n  l32e a2, a13, -8\n"
        "  l32e a4, a11, -48\n  l32e a8, a11, -32\n  l32e a3, a13, -4\n  l32e a5, a11, -44\n"
        "  l32e a6, a11, -40\n  l32e a7, a11, -36\n  l32e a9, a11, -28\n  l32e a10, a11, -24\n"
        "  l32e a11, a11, -20\n  rfwu\n"
        "  .org 0x300\n" /* kernel exception */
        "  wsr a0, excsave1\n  j xt_fault_entry\n"
        "  .org 0x340\n" /* user exception and level-1 interrupt */
        "  wsr a0, excsave1\n  rsr a0, exccause\n  beqi a0, 5, 1f\n  j xt_l1_entry\n"
        "1:\n  j .Lalloca\n"
        "  .org 0x3C0\n" /* double exception */
        "  j xt_fault_entry\n"
        "  .org 0x400\n"
        /* Alloca (EXCCAUSE 5): MOVSP found none of the WINDOWSTART bits
         * of the three groups below WINDOWBASE set, so the caller of the
         * function executing it (whose frame starts 1, 2 or 3 groups
         * below, by the call increment in the top bits of that
         * function's a0) has been spilled: its a0..a3 lie in the base
         * save area below the old stack pointer, where nothing moves them
         * once the stack pointer moves. Refill the caller's registers
         * with the underflow handler of its size, as a RETW would; that
         * handler's RFWU marks the caller live, returns to the window in
         * PS.OWB (set here to the faulting function's) and to EPC1: the
         * MOVSP again, which now succeeds, and a later overflow spills
         * the caller below the new stack pointer. The groups below
         * WINDOWBASE are free: frames are spilled oldest first, so none
         * older than the caller is in the register file either. */
        ".Lalloca:\n"
        "  rsr a0, windowbase\n"
        "  rotw -1\n" /* a0..a3: the free group below; a4: WINDOWBASE */
        "  rsr a0, ps\n"
        "  extui a1, a0, 8, 4\n"
        "  slli a1, a1, 8\n"
        "  xor a0, a0, a1\n" /* PS.OWB cleared */
        "  slli a1, a4, 8\n"
        "  or a0, a0, a1\n"
        "  wsr a0, ps\n  rsync\n" /* PS.OWB = the faulting function's window */
        "  rsr a4, excsave1\n" /* the faulting function's a0 back */
        "  extui a0, a4, 30, 2\n" /* its call increment: the caller's size */
        "  bnei a0, 1, 2f\n"
        "  j .Lwuf4\n" /* call4: the caller's window is this one */
        "2:\n  bnei a0, 2, 3f\n"
        "  rotw -1\n  j .Lwuf8\n"
        "3:\n  bnei a0, 3, 4f\n"
        "  rotw -2\n  j .Lwuf12\n"
        "4:\n  rotw 1\n  j xt_fault_entry\n" /* no windowed caller: a fault */
        ".previous\n"
        ".text\n"
        ".align 4\n"
        ".Lsave: .4byte xt_isr_save\n"
        ".Lps_isr: .4byte 0x00040021\n" /* WOE, UM, INTLEVEL 1 */
        ".Ldispatch: .4byte xt_l1_dispatch\n"
        ".Lvecbase: .4byte _vector_base\n"
        ".Lps_run: .4byte 0x00040020\n" /* WOE, UM, INTLEVEL 0 */
        ".Lcstart: .4byte xt_cstart\n"
        "xt_fault_entry:\n"
        "  movi a0, 0\n"
        "  wsr a0, intenable\n"
        "xt_l1_entry:\n"
        "  l32r a0, .Lsave\n"
        "  s32i a1, a0, 4\n  s32i a2, a0, 8\n  s32i a3, a0, 12\n  s32i a4, a0, 16\n"
        "  s32i a5, a0, 20\n  s32i a6, a0, 24\n  s32i a7, a0, 28\n  s32i a8, a0, 32\n"
        "  s32i a9, a0, 36\n  s32i a10, a0, 40\n  s32i a11, a0, 44\n  s32i a12, a0, 48\n"
        "  s32i a13, a0, 52\n  s32i a14, a0, 56\n  s32i a15, a0, 60\n"
        "  rsr a2, excsave1\n  s32i a2, a0, 0\n"
        "  rsr a2, sar\n  s32i a2, a0, 64\n"
        "  rsr a2, lbeg\n  s32i a2, a0, 68\n"
        "  rsr a2, lend\n  s32i a2, a0, 72\n"
        "  rsr a2, lcount\n  s32i a2, a0, 76\n"
        "  rsr a2, ps\n  s32i a2, a0, 80\n"
        "  rsr a2, epc1\n  s32i a2, a0, 84\n"
        "  rsr a6, exccause\n"
        "  mov a7, a0\n"
        "  l32r a2, .Lps_isr\n"
        "  wsr a2, ps\n  rsync\n"
        "  l32r a2, .Ldispatch\n"
        "  callx4 a2\n"
        "  l32r a0, .Lsave\n"
        "  l32i a2, a0, 80\n  wsr a2, ps\n  rsync\n"
        "  l32i a2, a0, 64\n  wsr a2, sar\n"
        "  l32i a2, a0, 68\n  wsr a2, lbeg\n"
        "  l32i a2, a0, 72\n  wsr a2, lend\n"
        "  l32i a2, a0, 76\n  wsr a2, lcount\n"
        "  l32i a2, a0, 84\n  wsr a2, epc1\n"
        "  l32i a1, a0, 4\n  l32i a2, a0, 8\n  l32i a3, a0, 12\n  l32i a4, a0, 16\n"
        "  l32i a5, a0, 20\n  l32i a6, a0, 24\n  l32i a7, a0, 28\n  l32i a8, a0, 32\n"
        "  l32i a9, a0, 36\n  l32i a10, a0, 40\n  l32i a11, a0, 44\n  l32i a12, a0, 48\n"
        "  l32i a13, a0, 52\n  l32i a14, a0, 56\n  l32i a15, a0, 60\n"
        "  l32i a0, a0, 0\n"
        "  rfe\n"
        /* reset: a1 = stack top (the stub); a0 = 0 ends the call chain */
        ".global _start\n"
        "_start:\n"
        "  movi a0, 0\n"
        "  movi a2, 1\n" /* this frame is live: window overflow spills it */
        "  wsr a2, windowstart\n"
        "  wsr a0, windowbase\n"
        "  rsync\n"
        "  l32r a2, .Lvecbase\n  wsr a2, vecbase\n"
        "  l32r a2, .Lps_run\n  wsr a2, ps\n  rsync\n"
        "  l32r a2, .Lcstart\n"
        "  callx4 a2\n"
        "1: j 1b\n");
#endif

#define EXCCAUSE_LEVEL1_INTERRUPT 4u
#define INT_TIMER0 (1u << 6) /* CCOMPARE0, level 1, on lx106 and de212 */

/* A level-1 interrupt drives the tick; anything else is a fault: say
 * where, and end the run with a distinct status instead of hanging. */
void xt_l1_dispatch(uint32_t cause, uint32_t *frame) {
    (void)frame;
    if (cause == EXCCAUSE_LEVEL1_INTERRUPT) {
        uint32_t pending, enabled;
        __asm volatile("rsr %0, interrupt" : "=r"(pending));
        __asm volatile("rsr %0, intenable" : "=r"(enabled));
        if (pending & enabled & INT_TIMER0) {
            board_timer_isr();
            return;
        }
    }
    uint32_t epc, vaddr;
    __asm volatile("rsr %0, epc1" : "=r"(epc));
    __asm volatile("rsr %0, excvaddr" : "=r"(vaddr));
    printf("fault: exccause %lu epc1 0x%08lx excvaddr 0x%08lx\n", (unsigned long)cause,
           (unsigned long)epc, (unsigned long)vaddr);
    exit(99);
}

#define PS_UM 0x20u

#ifndef XT_WINDOWED
void _start(void) {
    __asm volatile("wsr %0, vecbase" ::"r"(_vector_base));
    __asm volatile("wsr %0, ps\n\trsync" ::"r"(PS_UM)); /* EXCM off, level 0 */
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    exit(main());
}
#endif

#ifdef XT_WINDOWED
void xt_cstart(void);
/* Entered by call4 from _start (below), with window overflow on. */
void xt_cstart(void) {
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    exit(main());
}
#endif

/* ---- picolibc's system layer over simcall ------------------------------ */

static char line[128];
static unsigned line_len;

void xt_console_flush(void) {
    if (line_len) {
        board_simcall(SIM_WRITE, 1, (int)(uintptr_t)line, (int)line_len, NULL);
        line_len = 0;
    }
}

void xt_console_putc(char c) {
    line[line_len++] = c;
    if (c == '\n' || line_len == sizeof line) {
        xt_console_flush();
    }
}

#ifndef XT_WINDOWED
/* picolibc's stdout: a FILE over the console line buffer. */
static int console_flush(FILE *f) {
    (void)f;
    xt_console_flush();
    return 0;
}

static int console_put(char c, FILE *f) {
    (void)f;
    xt_console_putc(c);
    return (unsigned char)c;
}

static FILE console = FDEV_SETUP_STREAM(console_put, NULL, console_flush, _FDEV_SETUP_WRITE);
FILE *const stdout = &console;
FILE *const stderr = &console;
FILE *const stdin = NULL;
#endif

static int sim_result(int r, int err) {
    if (r < 0) {
        errno = err;
        return -1;
    }
    return r;
}

/* picolibc's open flags to the host's (Linux), which QEMU passes on. */
int open(const char *path, int flags, ...) {
    int host = flags & O_ACCMODE;
    host |= (flags & O_CREAT) ? 0100 : 0;
    host |= (flags & O_TRUNC) ? 01000 : 0;
    host |= (flags & O_APPEND) ? 02000 : 0;
    int err;
    int r = board_simcall(SIM_OPEN, (int)(uintptr_t)path, host, 0644, &err);
    return sim_result(r, err);
}

ssize_t write(int fd, const void *buf, size_t len) {
    if (fd == 1 || fd == 2) {
        xt_console_flush();
    }
    int err;
    int r = board_simcall(SIM_WRITE, fd, (int)(uintptr_t)buf, (int)len, &err);
    return sim_result(r, err);
}

ssize_t read(int fd, void *buf, size_t len) {
    int err;
    int r = board_simcall(SIM_READ, fd, (int)(uintptr_t)buf, (int)len, &err);
    return sim_result(r, err);
}

int close(int fd) {
    int err;
    int r = board_simcall(SIM_CLOSE, fd, 0, 0, &err);
    return sim_result(r, err);
}

void _exit(int status) {
    xt_console_flush();
    for (;;) {
        board_simcall(SIM_EXIT, status, 0, 0, NULL);
    }
}
