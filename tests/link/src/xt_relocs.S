/* Xtensa relocations by hand (call0, gas of gcc-xtensa-lx106): every
 * SLOT0_OP form against another section (so the assembler leaves them to
 * the linker), literals against TEXT, RW and an import, a call to an import
 * (through the stub). test_link_xt checks each
 * patched field. Literals go to .literal (or stay in .text with
 * -mtext-section-literals). */
    .section .rodata.xt_tab, "a"
    .align 4
xt_tab:
    .word 0x11111111, 0x22222222

    .data
    .align 4
xt_var:
    .word 0x33333333, 0x44444444

    .section .text.xt_tgt, "ax"
    .align 4
    .global xt_tgt
    .type xt_tgt, @function
xt_tgt:
    movi a2, 42
    ret

    .text
    .begin no-transform
    .literal .Ltab, xt_tab + 4
    .literal .Lvar, xt_var + 4
    .literal .Lfw, fw_op
    .align 4
    .global xt_lits
    .type xt_lits, @function
xt_lits:
    l32r a2, .Ltab
    l32r a3, .Lvar
    l32r a4, .Lfw
    ret
    .align 4
    .global xt_branches
    .type xt_branches, @function
xt_branches:
    call0 xt_tgt
    j xt_tgt
    beqz a2, xt_tgt
    beqi a2, 5, xt_tgt
    beq a2, a3, xt_tgt
    bbci a2, 3, xt_tgt
    call0 fw_op
    ret
    .end no-transform
