/*
 * Xtensa relocations (RELA): xtensa = the call0 ABI (ESP8266, lx106),
 * xtensawin = the windowed ABI (ESP32, ESP32-S2/S3). One relocator serves
 * both; they differ in the ABI check (check_object).
 *
 * As on Thumb, absolute addresses live in literal words (L32R loads them:
 * the literal precedes the instruction, within 256 KB), written by
 * R_XTENSA_32 and relocated at load time (PTR32 entries), so TEXT and RW
 * can be placed independently. Every instruction relocation is
 * R_XTENSA_SLOT0_OP, whose field depends on the opcode at the site (L32R,
 * CALLn, J, the branches): all are PC-relative within the module and
 * resolved here. A CALLn to an import goes through a stub that loads the
 * import's address from its GOT slot (the slot's address is a literal),
 * so text holds no firmware address. With -mlongcalls (gcc) and always
 * (clang), calls to far functions are "l32r aN, lit; callxN aN" with the
 * callee's address in the literal: R_XTENSA_32 against the import.
 *
 * natmod does not relax: R_XTENSA_ASM_EXPAND (a call the assembler
 * expanded) and the DIFF/PDIFF/NDIFF kinds (differences the assembler
 * already computed, which only relaxation would change) need nothing.
 */
#include <stdio.h>
#include <string.h>

#include "link/link_internal.h"

enum {
    R_XTENSA_NONE = 0, R_XTENSA_32 = 1, R_XTENSA_PLT = 6, R_XTENSA_ASM_EXPAND = 11, R_XTENSA_ASM_SIMPLIFY = 12,
    R_XTENSA_32_PCREL = 14, R_XTENSA_GNU_VTINHERIT = 15, R_XTENSA_GNU_VTENTRY = 16,
    R_XTENSA_DIFF8 = 17, R_XTENSA_DIFF16 = 18, R_XTENSA_DIFF32 = 19,
    R_XTENSA_SLOT0_OP = 20, R_XTENSA_SLOT14_OP = 34, R_XTENSA_SLOT0_ALT = 35, R_XTENSA_SLOT14_ALT = 49,
    R_XTENSA_PDIFF8 = 57, R_XTENSA_PDIFF16 = 58, R_XTENSA_PDIFF32 = 59,
    R_XTENSA_NDIFF8 = 60, R_XTENSA_NDIFF16 = 61, R_XTENSA_NDIFF32 = 62,
};

static const char *xt_reloc_name(uint32_t t) {
    static const char *const slot_op[] = {
        "R_XTENSA_SLOT0_OP", "R_XTENSA_SLOT1_OP", "R_XTENSA_SLOT2_OP", "R_XTENSA_SLOT3_OP",
        "R_XTENSA_SLOT4_OP", "R_XTENSA_SLOT5_OP", "R_XTENSA_SLOT6_OP", "R_XTENSA_SLOT7_OP",
        "R_XTENSA_SLOT8_OP", "R_XTENSA_SLOT9_OP", "R_XTENSA_SLOT10_OP", "R_XTENSA_SLOT11_OP",
        "R_XTENSA_SLOT12_OP", "R_XTENSA_SLOT13_OP", "R_XTENSA_SLOT14_OP",
    };
    static const char *const slot_alt[] = {
        "R_XTENSA_SLOT0_ALT", "R_XTENSA_SLOT1_ALT", "R_XTENSA_SLOT2_ALT", "R_XTENSA_SLOT3_ALT",
        "R_XTENSA_SLOT4_ALT", "R_XTENSA_SLOT5_ALT", "R_XTENSA_SLOT6_ALT", "R_XTENSA_SLOT7_ALT",
        "R_XTENSA_SLOT8_ALT", "R_XTENSA_SLOT9_ALT", "R_XTENSA_SLOT10_ALT", "R_XTENSA_SLOT11_ALT",
        "R_XTENSA_SLOT12_ALT", "R_XTENSA_SLOT13_ALT", "R_XTENSA_SLOT14_ALT",
    };
    static const char *const low[] = {
        "R_XTENSA_NONE", "R_XTENSA_32", "R_XTENSA_RTLD", "R_XTENSA_GLOB_DAT", "R_XTENSA_JMP_SLOT",
        "R_XTENSA_RELATIVE", "R_XTENSA_PLT", NULL, "R_XTENSA_OP0", "R_XTENSA_OP1", "R_XTENSA_OP2",
        "R_XTENSA_ASM_EXPAND", "R_XTENSA_ASM_SIMPLIFY", NULL, "R_XTENSA_32_PCREL",
        "R_XTENSA_GNU_VTINHERIT", "R_XTENSA_GNU_VTENTRY", "R_XTENSA_DIFF8", "R_XTENSA_DIFF16",
        "R_XTENSA_DIFF32",
    };
    static const char *const high[] = {
        "R_XTENSA_TLSDESC_FN", "R_XTENSA_TLSDESC_ARG", "R_XTENSA_TLS_DTPOFF", "R_XTENSA_TLS_TPOFF",
        "R_XTENSA_TLS_FUNC", "R_XTENSA_TLS_ARG", "R_XTENSA_TLS_CALL", "R_XTENSA_PDIFF8",
        "R_XTENSA_PDIFF16", "R_XTENSA_PDIFF32", "R_XTENSA_NDIFF8", "R_XTENSA_NDIFF16",
        "R_XTENSA_NDIFF32",
    };
    if (t < sizeof low / sizeof low[0]) {
        return low[t];
    }
    if (t >= R_XTENSA_SLOT0_OP && t <= R_XTENSA_SLOT14_OP) {
        return slot_op[t - R_XTENSA_SLOT0_OP];
    }
    if (t >= R_XTENSA_SLOT0_ALT && t <= R_XTENSA_SLOT14_ALT) {
        return slot_alt[t - R_XTENSA_SLOT0_ALT];
    }
    if (t >= 50 && t <= R_XTENSA_NDIFF32) {
        return high[t - 50];
    }
    return NULL;
}

static int xt_classify(uint32_t t, const char **why) {
    switch (t) {
    case R_XTENSA_NONE:
    case R_XTENSA_ASM_EXPAND:
    case R_XTENSA_ASM_SIMPLIFY:
    case R_XTENSA_GNU_VTINHERIT:
    case R_XTENSA_GNU_VTENTRY:
    case R_XTENSA_DIFF8:
    case R_XTENSA_DIFF16:
    case R_XTENSA_DIFF32:
    case R_XTENSA_PDIFF8:
    case R_XTENSA_PDIFF16:
    case R_XTENSA_PDIFF32:
    case R_XTENSA_NDIFF8:
    case R_XTENSA_NDIFF16:
    case R_XTENSA_NDIFF32:
        return NML_R_IGNORE;
    case R_XTENSA_32:
    case R_XTENSA_PLT: /* -fpic (dynruntime.mk): a literal holding a function's address, as mpy_ld.py reads it */
        return NML_R_ABS;
    case R_XTENSA_32_PCREL:
        return NML_R_PCREL;
    case R_XTENSA_SLOT0_OP:
        return NML_R_BRANCH;
    default:
        if (t > R_XTENSA_SLOT0_OP && t <= R_XTENSA_SLOT14_OP) {
            *why = "FLIX (VLIW bundle) slot relocation not supported: build without FLIX bundles";
        } else if (t >= R_XTENSA_SLOT0_ALT && t <= R_XTENSA_SLOT14_ALT) {
            *why = "alternate-opcode relocation (CONST16 addresses) not supported: build with L32R literals "
                   "(no -mconst16)";
        } else {
            *why = "relocation type not supported";
        }
        return NML_R_UNSUPPORTED;
    }
}

static unsigned xt_width(uint32_t t) {
    switch (t) {
    case R_XTENSA_32:
    case R_XTENSA_PLT:
    case R_XTENSA_32_PCREL:
        return 4;
    case R_XTENSA_SLOT0_OP:
        return 2; /* a narrow branch; apply checks room for the 3-byte forms */
    default:
        return 0;
    }
}

/* RELA, but R_XTENSA_32 is partial-inplace (BFD): the word's contents add
 * to r_addend (gas writes "sym + 4" as 4 in the word, clang as r_addend 4
 * over a zero word). The instruction fields are replaced. */
static int64_t xt_implicit_addend(uint32_t t, const uint8_t *p) {
    return t == R_XTENSA_32 || t == R_XTENSA_PLT ? (int64_t)(int32_t)nml_rd32(p) : 0;
}

/* The 24-bit instruction word at p (little-endian). */
static uint32_t rd24(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static void wr24(uint8_t *p, uint32_t w) {
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
}

/* R_XTENSA_SLOT0_OP: the field is the PC-relative operand of the
 * instruction at p; target = P + v. */
static int slot0_apply(uint8_t *p, size_t room, uint64_t P, int64_t v, const char **why) {
    unsigned op0 = p[0] & 0xf;
    int64_t target_off; /* target - P */
    if (op0 == 0xc && (p[0] & 0x80)) { /* BEQZ.N / BNEZ.N: imm6 = target - P - 4, 0..63 */
        int64_t d = v - 4;
        if (d < 0 || d > 63) {
            *why = "narrow branch target out of range (0..63 bytes forward)";
            return NM_ERR_RELOC;
        }
        uint32_t u = (uint32_t)d;
        p[0] = (uint8_t)((p[0] & 0xcf) | ((u >> 4) << 4));
        p[1] = (uint8_t)((p[1] & 0x0f) | ((u & 0xf) << 4));
        return NM_OK;
    }
    if (room < 3) {
        *why = "instruction runs past the end of its section";
        return NM_ERR_RELOC;
    }
    uint32_t w = rd24(p);
    target_off = v;
    switch (op0) {
    case 0x1: { /* L32R: ((P + 3) & ~3) + (0xfffc0000 | imm16 << 2), the literal before the insn */
        int64_t d = (int64_t)(P + (uint64_t)v) - (int64_t)((P + 3) & ~(uint64_t)3);
        if ((P + (uint64_t)v) & 3) {
            *why = "L32R literal not 4-byte aligned";
            return NM_ERR_RELOC;
        }
        if (d >= 0 || d < -262144) {
            *why = d >= 0 ? "L32R literal placed after the instruction (a literal must precede its L32R: keep "
                            "each object's literal sections before its code)"
                          : "L32R literal out of range (more than 256 KB before the instruction)";
            return NM_ERR_RELOC;
        }
        wr24(p, (w & 0xff) | (((uint32_t)(d >> 2) & 0xffff) << 8));
        return NM_OK;
    }
    case 0x5: { /* CALLn: (P & ~3) + 4 + (offset18 << 2) */
        int64_t d = (int64_t)(P + (uint64_t)v) - (int64_t)((P & ~(uint64_t)3) + 4);
        if (d & 3) {
            *why = "call target not 4-byte aligned";
            return NM_ERR_RELOC;
        }
        d >>= 2;
        if (d < -(1 << 17) || d >= (1 << 17)) {
            *why = "call target out of range (512 KB): use -mlongcalls";
            return NM_ERR_RELOC;
        }
        wr24(p, (w & 0x3f) | (((uint32_t)d & 0x3ffff) << 6));
        return NM_OK;
    }
    case 0x6: {
        unsigned n = (w >> 4) & 3, m = (w >> 6) & 3;
        int64_t d = target_off - 4;
        if (n == 0) { /* J: offset18 */
            if (d < -(1 << 17) || d >= (1 << 17)) {
                *why = "jump target out of range (128 KB)";
                return NM_ERR_RELOC;
            }
            wr24(p, (w & 0x3f) | (((uint32_t)d & 0x3ffff) << 6));
            return NM_OK;
        }
        if (n == 1) { /* BEQZ/BNEZ/BLTZ/BGEZ: imm12 */
            if (d < -2048 || d > 2047) {
                *why = "branch target out of range (2 KB)";
                return NM_ERR_RELOC;
            }
            wr24(p, (w & 0xfff) | (((uint32_t)d & 0xfff) << 12));
            return NM_OK;
        }
        if (n == 3 && m == 0) {
            *why = "relocation on ENTRY";
            return NM_ERR_RELOC;
        }
        if (n == 3 && m == 1 && ((w >> 12) & 0xf) >= 8) { /* LOOP, LOOPNEZ, LOOPGTZ: imm8 unsigned */
            if (d < 0 || d > 255) {
                *why = "loop end out of range (0..255 bytes forward)";
                return NM_ERR_RELOC;
            }
            wr24(p, (w & 0xffff) | ((uint32_t)d << 16));
            return NM_OK;
        }
        /* BEQI/BNEI/BLTI/BGEI, BF/BT, BLTUI/BGEUI: imm8 signed */
        if (d < -128 || d > 127) {
            *why = "branch target out of range (128 bytes)";
            return NM_ERR_RELOC;
        }
        wr24(p, (w & 0xffff) | (((uint32_t)d & 0xff) << 16));
        return NM_OK;
    }
    case 0x7: { /* BEQ/BNE/BLT/BGE/BALL/BANY/BBC/BBS...: imm8 signed */
        int64_t d = target_off - 4;
        if (d < -128 || d > 127) {
            *why = "branch target out of range (128 bytes)";
            return NM_ERR_RELOC;
        }
        wr24(p, (w & 0xffff) | (((uint32_t)d & 0xff) << 16));
        return NM_OK;
    }
    default:
        *why = "R_XTENSA_SLOT0_OP on an instruction without a PC-relative operand";
        return NM_ERR_RELOC;
    }
}

static int xt_apply(uint32_t t, uint8_t *p, size_t room, uint64_t P, int64_t v, const char **why) {
    switch (t) {
    case R_XTENSA_32:
    case R_XTENSA_PLT:
        nml_wr32(p, (uint32_t)v);
        return NM_OK;
    case R_XTENSA_32_PCREL:
        if (v < INT32_MIN || v > INT32_MAX) {
            *why = "target out of range";
            return NM_ERR_RELOC;
        }
        nml_wr32(p, (uint32_t)v);
        return NM_OK;
    case R_XTENSA_SLOT0_OP:
        return slot0_apply(p, room, P, v, why);
    default:
        *why = "relocation type not supported";
        return NM_ERR_RELOC;
    }
}

/* The stub a CALLn to an import reaches (4-aligned, as call targets must
 * be): jump over the literal that holds the GOT slot's address, load the
 * import's address from the slot into a9 and jump there. a9 is free on both
 * ABIs: call0 passes arguments in a2..a7 and a9 is caller-saved; on the
 * windowed ABI the callee's ENTRY overwrites the caller's a9 (its a1),
 * and a8 holds the return address. JX keeps PS.CALLINC for that ENTRY. */
static void xt_write_stub(uint8_t *p, uint64_t at, uint64_t got) {
    (void)at;
    (void)got;
    memset(p, 0, 20);
    wr24(p, 0x000106);      /* j +8 (offset 4: target = P + 4 + 4) */
    nml_wr32(p + 4, 0);     /* the core writes the slot's RW offset and its relocation */
    wr24(p + 8, 0xffff91);  /* l32r a9, [p + 4] */
    wr24(p + 11, 0x002992); /* l32i a9, a9, 0 */
    wr24(p + 14, 0x0009a0); /* jx a9 */
}

/* The .mpy entry jump: J (3 bytes, 128 KB); 0 if it does not reach. */
static unsigned xt_jump_size(unsigned arch, int64_t to) {
    (void)arch;
    return to - 4 >= -(1 << 17) && to - 4 < (1 << 17) ? 3 : 0;
}

static void xt_write_jump(uint8_t *p, unsigned arch, int64_t to) {
    (void)arch;
    wr24(p, 0x6 | (((uint32_t)(to - 4) & 0x3ffff) << 6));
}

/* ---- the ABI of an object ----
 * gcc/gas write ".xtensa.info" (a NOTE: "Xtensa_Info" with
 * "USE_ABSOLUTE_LITERALS=0\nABI=n\n", n = 0 windowed, 1 call0). clang
 * writes none; then the code says it: a windowed function begins with
 * ENTRY (op0 6, n 3, m 0: first byte 0x36), which call0 code never runs. */
enum { ABI_UNKNOWN = -1, ABI_WINDOWED = 0, ABI_CALL0 = 1 };

static int info_abi(const nml_obj_t *o) {
    for (uint32_t si = 1; si < o->nsecs; si++) {
        const nml_sec_t *s = &o->secs[si];
        /* NULL and NOBITS sections have no contents elf.c vouches for */
        if (strcmp(s->name, ".xtensa.info") != 0 || s->type == NML_SHT_NOBITS || s->type == NML_SHT_NULL ||
            s->size < 5) {
            continue;
        }
        const char *d = (const char *)o->data + s->offset;
        size_t n = (size_t)s->size;
        for (size_t i = 0; i + 5 < n; i++) {
            if (memcmp(d + i, "ABI=", 4) == 0 && (i == 0 || d[i - 1] == '\n' || d[i - 1] == 0)) {
                return d[i + 4] == '0' ? ABI_WINDOWED : d[i + 4] == '1' ? ABI_CALL0 : ABI_UNKNOWN;
            }
        }
    }
    return ABI_UNKNOWN;
}

/* The first function symbol whose code begins (windowed = 1) or does not
 * begin (windowed = 0) with ENTRY; -1 if none. Only globals are checked
 * for the second: a static function may be a call0-style helper. */
static long entry_func(const nml_obj_t *o, int windowed) {
    for (uint32_t i = 1; i < o->nsyms; i++) {
        const nml_sym_t *y = &o->syms[i];
        if (y->type != NML_STT_FUNC || y->shndx == NML_SHN_UNDEF || y->shndx >= o->nsecs) {
            continue;
        }
        const nml_sec_t *s = &o->secs[y->shndx];
        if (!(s->flags & NML_SHF_EXEC) || s->type == NML_SHT_NOBITS || s->type == NML_SHT_NULL ||
            y->value + 3 > s->size) {
            continue;
        }
        const uint8_t *b = (s->bytes ? s->bytes : o->data + s->offset) + y->value;
        int is_entry = b[0] == 0x36;
        if (windowed ? is_entry : (!is_entry && y->bind != NML_STB_LOCAL && y->size > 0)) {
            return (long)i;
        }
    }
    return -1;
}

static int xt_check_object(const nml_obj_t *o, unsigned arch, unsigned float_abi, nml_err_t *e) {
    static const char *const abi_name[2] = {"windowed ABI (xtensawin: ESP32, ESP32-S2/S3)",
                                            "call0 ABI (xtensa: ESP8266, lx106)"};
    int want = arch == NM_ARCH_XTENSAWIN ? ABI_WINDOWED : ABI_CALL0;
    if (float_abi != NM_FLOAT_SOFT) {
        return nml_fail(e, NM_ERR_FLOAT_ABI, "%s: Xtensa modules pass floats in core registers: the float ABI is soft",
                        o->name);
    }
    int have = info_abi(o);
    const char *how = ".xtensa.info says so";
    long fi = -1;
    if (have == ABI_UNKNOWN) {
        fi = entry_func(o, want == ABI_CALL0);
        if (fi >= 0) {
            have = want == ABI_CALL0 ? ABI_WINDOWED : ABI_CALL0;
            how = want == ABI_CALL0 ? "begins with ENTRY" : "does not begin with ENTRY";
        }
    }
    if (have != ABI_UNKNOWN && have != want) {
        if (fi >= 0) {
            return nml_fail(e, NM_ERR_ARCH, "%s: code for the %s (function %s %s), but linking for the %s", o->name,
                            abi_name[have], o->syms[fi].name, how, abi_name[want]);
        }
        return nml_fail(e, NM_ERR_ARCH, "%s: code for the %s (%s), but linking for the %s", o->name, abi_name[have],
                        how, abi_name[want]);
    }
    return NM_OK;
}

/* Every code section 4-aligned: L32R literals and CALLn targets need it,
 * and clang 22 gives the .literal section it makes (for literals of code
 * in .text) alignment 1. */
static int xt_prepare_object(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    (void)a;
    (void)e;
    for (uint32_t si = 1; si < o->nsecs; si++) {
        nml_sec_t *s = &o->secs[si];
        if ((s->flags & NML_SHF_EXEC) && s->align < 4) {
            s->align = 4;
        }
    }
    return NM_OK;
}

#define XT_ARCH(nm)                                                                                   \
    {                                                                                                 \
        .name = nm, .machine = NML_EM_XTENSA, .elfclass = 1, .ptr_size = 4, .min_align_log2 = 2,      \
        .stub_size = 20, .stub_align = 4, .stub_uses_got = 1, .stub_lit = 4, .text_in_order = 1,      \
        .rela_inplace = 1, .reloc_name = xt_reloc_name, .classify = xt_classify, .width = xt_width,   \
        .implicit_addend = xt_implicit_addend, .apply = xt_apply, .write_stub = xt_write_stub,        \
        .jump_size = xt_jump_size, .write_jump = xt_write_jump, .check_object = xt_check_object,      \
        .prepare_object = xt_prepare_object, .stub_insn_hi = -1, .stub_insn_lo = -1,                  \
    }

const nml_arch_t nml_arch_xtensa = XT_ARCH("xtensa");
const nml_arch_t nml_arch_xtensawin = XT_ARCH("xtensawin");
