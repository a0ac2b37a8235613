/* Branches to a label too far away for their field (-DKIND selects one).
 * Written with .reloc: gas would turn a far beq into bne + j itself. */
    .section .text.near,"ax",@progbits
    .globl near_fn
    .type near_fn, @function
near_fn:
#if KIND == 0
    .reloc ., R_RISCV_BRANCH, far_label
    .word 0x00b50063 /* beq a0, a1, . */
#elif KIND == 1
    .reloc ., R_RISCV_RVC_BRANCH, far_label
    .half 0xc101     /* c.beqz a0, . */
#else
    .reloc ., R_RISCV_RVC_JUMP, far_label
    .half 0xa001     /* c.j . */
#endif
    ret
    .section .text.far,"ax",@progbits
    .skip 5000
    .globl far_label
far_label:
    ret
