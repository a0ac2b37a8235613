/* Xtensa L32R errors (call0, gas): xt_after loads a literal that the
 * layout places after it; xt_far one more than 256 KB before it. */
    .section .text.xt_after, "ax"
    .begin no-transform
    .align 4
    .global xt_after
    .hidden xt_after
    .type xt_after, @function
xt_after:
    l32r a2, xt_late_lit
    ret

    .section .text.xt_late, "ax"
    .align 4
xt_late_lit:
    .word 0x12345678

    .section .text.xt_far_lit, "ax"
    .align 4
xt_far_lit:
    .word 0x9abcdef0
    .space 262144

    .section .text.xt_far, "ax"
    .align 4
    .global xt_far
    .hidden xt_far
    .type xt_far, @function
xt_far:
    l32r a2, xt_far_lit
    ret
    .end no-transform
