/*
 * Private to src/link. Which file owns which phase:
 *   elf.c          parse + validate one ELF32/ELF64 relocatable object
 *   ar.c           parse + validate an ar archive into members
 *   core.c         inputs, symbol resolution, archive pulling, GC, GOT,
 *                  stubs, layout, relocation, nm_wmodule_t
 *   arch_*.c       per-ISA relocation: classify, apply, stub bytes
 *   backend_nmod.c nml_result_t -> .nmod slice
 * Nothing here trusts the input: elf.c validates every index and bound that
 * the later phases use, so they only check what depends on the layout.
 */
#ifndef NATMOD_LINK_INTERNAL_H
#define NATMOD_LINK_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "link/link.h"

#include "link/elf.h"
#include "link/ar.h"

/* ---- per-ISA relocation (arch_*.c) ---- */

/* What a relocation type needs from the core. */
enum nml_rkind {
    NML_R_IGNORE = 0,  /* R_*_NONE, V4BX: nothing to do */
    NML_R_PCREL,       /* S + A - P within the image */
    NML_R_BRANCH,      /* like PCREL, but an import goes through a stub/veneer */
    NML_R_ABS,         /* absolute pointer of ptr width: reloc record */
    NML_R_GOT,         /* GOT entry address + A - P */
    NML_R_GOTPC,       /* GOT base + A - P */
    NML_R_GOTOFF,      /* S + A - GOT base */
    NML_R_GOTREL,      /* GOT entry address + A - GOT base (ARM GOT_BREL) */
    NML_R_UNSUPPORTED, /* refuse, with arch-provided reason */
    /* instruction-field relocations (arches with insn_form, RISC-V): */
    NML_R_ABS_INSN,    /* S + A in an instruction field (HI20, LO12): an INSN record */
    NML_R_PCREL_HI,    /* S + A - P, upper part (AUIPC): resolved in TEXT, an INSN record into RW */
    NML_R_PCREL_LO,    /* lower part of the PCREL_HI/GOT HI at the symbol's address (its label) */
    NML_R_ADDSUB,      /* link-time address arithmetic on a field (ADD/SUB/SET): pairs, one region */
    NML_R_ALIGN,       /* alignment padding (prepare_object deletes the excess) */
};

typedef struct nml_arch {
    const char *name;
    uint16_t machine;
    uint8_t elfclass;
    uint8_t ptr_size;
    uint8_t min_align_log2;
    uint8_t thumb;       /* function symbols carry bit 0 */
    uint8_t rw_pcrel;    /* code reaches RW PC-relatively: NM_FLAG_RW_PCREL */
    uint8_t stub_size, stub_align;
    uint8_t stub_uses_got; /* x86-64: stub jumps through the import's GOT slot */
    int8_t stub_lit;     /* offset of the literal holding the GOT slot address, or -1 */
    /* Xtensa: an L32R loads a literal that must precede it, and compilers
     * put literals in any section of the object (clang: in another
     * function's .text or in a .rodata after a jump table): TEXT keeps the
     * objects' code and read-only sections in input order, the entry
     * included (reached through the entry jump). */
    uint8_t text_in_order;
    /* Xtensa: RELA, but some types keep (part of) the addend in the field
     * too (R_XTENSA_32: gas writes "sym + 4" as +4 in the word, as BFD's
     * partial_inplace howto reads it): implicit_addend is added to
     * r_addend. */
    uint8_t rela_inplace;
    const char *(*reloc_name)(uint32_t type); /* NULL if unknown */
    /* classification; *why receives a reason for NML_R_UNSUPPORTED */
    int (*classify)(uint32_t type, const char **why);
    /* width of the patched field in bytes (for bounds checks) */
    unsigned (*width)(uint32_t type);
    /* REL: read the implicit addend from the bytes at p */
    int64_t (*implicit_addend)(uint32_t type, const uint8_t *p);
    /* Patch the field at p (link-time address P) with v, the value the
     * kind computes (S + A - P, S + A, ...; Thumb bit included); room bytes
     * of the section lie from p on (>= width). Range checks here. Returns 0
     * or NM_ERR_RELOC with *why set. */
    int (*apply)(uint32_t type, uint8_t *p, size_t room, uint64_t P, int64_t v, const char **why);
    /* Write a stub at p (link-time address at), jumping to the import whose
     * GOT slot is at got (if stub_uses_got). */
    void (*write_stub)(uint8_t *p, uint64_t at, uint64_t got);
    /* A jump at TEXT offset 0 to the entry `to` bytes further (for the
     * .mpy back-end, whose loader calls TEXT's first byte): its size for
     * that distance on that arch, and its bytes. */
    unsigned (*jump_size)(unsigned arch, int64_t to);
    void (*write_jump)(uint8_t *p, unsigned arch, int64_t to);
    /* Refuse an object this arch cannot run as linked for (arch,
     * float_abi): another float ABI, code for a newer CPU or another
     * instruction set. NM_OK or the NM_ERR_* recorded in e, naming the
     * object. NULL: every object of the right ELF machine runs. */
    int (*check_object)(const nml_obj_t *o, unsigned arch, unsigned float_abi, nml_err_t *e);
    /* What to add to the message that refuses an object of this machine
     * but another ELF class (which multilib to use); NULL: nothing. */
    const char *class_hint;

    /* ---- instruction-field relocations (RISC-V); NULL/0 elsewhere ---- */
    /* The enum nm_insn_form an NML_R_ABS_INSN, NML_R_PCREL_HI,
     * NML_R_PCREL_LO or HI-part NML_R_GOT type records, or -1. */
    int (*insn_form)(uint32_t type);
    /* Rewrite the PC-relative HI part (or call pair) at p so that it yields
     * the absolute address value instead (AUIPC becomes LUI): for targets
     * whose address is known and not in the module (absolute symbols, an
     * absent weak symbol = 0). Its LO partners then get value's low part. */
    int (*pcrel_to_abs)(uint32_t type, uint8_t *p, uint64_t value, const char **why);
    /* Edit an included object before layout: delete the alignment padding
     * that linker relaxation would have deleted (R_RISCV_ALIGN). May give
     * sections new contents (nml_sec.bytes) and move symbols and
     * relocations. NM_OK or an error recorded in e. */
    int (*prepare_object)(nml_obj_t *o, nml_arena_t *a, nml_err_t *e);
    /* The stub's PC-relative load of the GOT slot: offsets of its HI
     * (AUIPC) and LO (load) instructions, which become INSN records against
     * RW when TEXT and RW are placed independently; -1: none. */
    int8_t stub_insn_hi, stub_insn_lo;
} nml_arch_t;

extern const nml_arch_t nml_arch_x86_64;
extern const nml_arch_t nml_arch_thumb;
extern const nml_arch_t nml_arch_rv32;
extern const nml_arch_t nml_arch_rv64;
extern const nml_arch_t nml_arch_xtensa;
extern const nml_arch_t nml_arch_xtensawin;

#endif /* NATMOD_LINK_INTERNAL_H */
