/* RISC-V relocations by hand, for test_link_rv: each function returns a
 * value the test checks after running it in the RV32 interpreter.
 * Assembled with and without relaxation, by gas and by clang. */
    .option nopic

    .section .data.vals,"aw",@progbits
    .p2align 2
    .globl vals
    .type vals, @object
vals:
    .word 100, 200, 300, 400, 500

    .section .rodata.rv,"a",@progbits
    .p2align 2
rodata_val:
    .word 4242
/* a table of label differences (ADD32/SUB32 when relaxing) */
.Ltab:
    .word .Lc0 - .Lbase, .Lc1 - .Lbase, .Lc2 - .Lbase
/* narrower ones: ADD16/SUB16, ADD8/SUB8 (SET8/SUB8) */
    .globl diffs
    .type diffs, @object
diffs:
    .half .Lc2 - .Lc0
    .byte .Lc1 - .Lc0
    .byte 0
/* absolute pointers into text and data (R_RISCV_32) */
    .globl ptrs
    .type ptrs, @object
ptrs:
    .word .Lc1, vals + 8

    .section .text.rv,"ax",@progbits
/* several %pcrel_lo share one %pcrel_hi: vals[0] + vals[0] + vals[1] */
    .globl pairs_shared
    .type pairs_shared, @function
pairs_shared:
.Lhi0:
    auipc a5, %pcrel_hi(vals)
    lw a0, %pcrel_lo(.Lhi0)(a5)
    lw a1, %pcrel_lo(.Lhi0)(a5)
    add a0, a0, a1
    addi a5, a5, %pcrel_lo(.Lhi0)
    lw a1, 4(a5)
    add a0, a0, a1
    ret

/* the %pcrel_lo comes before its %pcrel_hi in the code: vals[2] */
    .globl pairs_lo_first
    .type pairs_lo_first, @function
pairs_lo_first:
    j 2f
1:
    lw a0, %pcrel_lo(.Lhi1)(a5)
    ret
2:
.Lhi1:
    auipc a5, %pcrel_hi(vals + 8)
    j 1b

/* %pcrel_lo in a store (S-type): vals[3] = a0; returns vals[3] + 1 */
    .globl pairs_store
    .type pairs_store, @function
pairs_store:
.Lhi2:
    auipc a5, %pcrel_hi(vals + 12)
    sw a0, %pcrel_lo(.Lhi2)(a5)
    lw a0, %pcrel_lo(.Lhi2)(a5)
    addi a0, a0, 1
    ret

/* absolute %hi/%lo, load and store: vals[4] = a0; returns it + 2 */
    .globl abs_store
    .type abs_store, @function
abs_store:
    lui a5, %hi(vals + 16)
    sw a0, %lo(vals + 16)(a5)
    lui a4, %hi(vals + 16)
    lw a0, %lo(vals + 16)(a4)
    addi a0, a0, 2
    ret

/* absolute %hi/%lo of read-only data in TEXT: rodata_val */
    .globl abs_text
    .type abs_text, @function
abs_text:
    lui a5, %hi(rodata_val)
    addi a5, a5, %lo(rodata_val)
    lw a0, 0(a5)
    ret

/* PC-relative to read-only data (TEXT: resolved at link time) */
    .globl text_ref
    .type text_ref, @function
text_ref:
.Lhi3:
    auipc a5, %pcrel_hi(rodata_val)
    lw a0, %pcrel_lo(.Lhi3)(a5)
    ret

/* through the GOT: an import (fw_op(a0)) and a symbol of the module (vals[1]) */
    .globl got_import
    .type got_import, @function
got_import:
.Lhi4:
    auipc a5, %got_pcrel_hi(fw_op)
    lw a5, %pcrel_lo(.Lhi4)(a5)
    jr a5
    .globl got_local
    .type got_local, @function
got_local:
.Lhi5:
    auipc a5, %got_pcrel_hi(vals)
    lw a5, %pcrel_lo(.Lhi5)(a5)
    lw a0, 4(a5)
    ret

/* a call and a tail call through the import's stub: fw_op(fw_op(a0)) */
    .globl call_import
    .type call_import, @function
call_import:
    addi sp, sp, -16
    sw ra, 12(sp)
    call fw_op
    lw ra, 12(sp)
    addi sp, sp, 16
    tail fw_op

/* branches: 3 * a0 (a0 >= 0), through c.beqz, blt, c.j, jal t0 */
    .globl branches
    .type branches, @function
branches:
    li a1, 0
1:
    beqz a0, 2f
    addi a1, a1, 3
    addi a0, a0, -1
    blt zero, a0, 1b
    j 2f
2:
    mv a0, a1
    jal t0, 3f
3:
    ret

/* a jump table of label differences: 10, 20, 30 for a0 = 0, 1, 2 */
    .globl jt
    .type jt, @function
jt:
    lla a5, .Ltab
    slli a0, a0, 2
    add a5, a5, a0
    lw a0, 0(a5)
    lla a5, .Lbase
    add a5, a5, a0
    jr a5
.Lbase:
.Lc0:
    li a0, 10
    ret
.Lc1:
    li a0, 20
    ret
.Lc2:
    li a0, 30
    ret

/* an absent weak function: its address is 0 (AUIPC becomes LUI) */
    .weak absent_fn
    .globl weak_guard
    .type weak_guard, @function
weak_guard:
.Lhi7:
    auipc a5, %pcrel_hi(absent_fn)
    addi a5, a5, %pcrel_lo(.Lhi7)
    lui a4, %hi(absent_fn)
    addi a4, a4, %lo(absent_fn)
    or a5, a5, a4
    beqz a5, 1f
    jr a5
1:
    li a0, 77
    ret
    .globl weak_call
    .type weak_call, @function
weak_call:
    call absent_fn
    ret

/* alignment padding (R_RISCV_ALIGN when relaxing): returns vals[0] +
 * 0x10000 * (the low 4 bits of the aligned label's address) */
    .section .text.aligned,"ax",@progbits
    .globl aligned_fn
    .type aligned_fn, @function
aligned_fn:
.Lhi8:
    auipc a5, %pcrel_hi(vals)
    addi a0, a0, 1
    .p2align 4
.Laligned:
    auipc a1, 0
    lw a2, %pcrel_lo(.Lhi8)(a5)
    andi a1, a1, 15
    slli a1, a1, 16
    add a0, a2, a1
    .p2align 3
    j 1f
    .p2align 5
1:
    ret
