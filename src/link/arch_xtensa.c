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
#include <stdlib.h>
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

/* ---- literal pools ----
 * gcc gives each function its own literals (and with -ffunction-sections,
 * as clang always does, its own .literal section), so an object's literal
 * pools hold the same word many times (mp_fun_table once for every
 * function that calls through it): 4 bytes of text and a load-time
 * relocation each. merge_literals keeps one copy of each word per object
 * and points every L32R of a repeat at it: the copy kept is the first in
 * section order, and TEXT keeps an object's sections in that order
 * (text_in_order), so it precedes the instruction as the repeat did. Each
 * pool's words are laid out relocated ones first, grouped by the section
 * they point into (bss, text, imports), plain constants last, so the relocated words follow
 * on and the .mpy's relocation ops need no address between them (and text
 * words form runs). A pool is left as it is when anything but an L32R (or
 * a section that is not loaded: .xt.lit, .xt.prop) points into it, when a
 * symbol other than its section's is defined in it, or when it holds a
 * relocation other than one R_XTENSA_32/PLT at a word's start. */

/* The order of a pool's words: by what they point at (a .mpy relocates
 * bss words, text words, then each import word), constants last. */
enum { XT_BSS, XT_DATA, XT_UNDEF, XT_OTHER, XT_CONST };

typedef struct xt_word {
    uint32_t sec;   /* section index */
    uint32_t idx;   /* word index in the section */
    uint32_t sym;   /* relocated: symbol index; a constant: UINT32_MAX */
    uint64_t value; /* relocated: addend with the word's in-place part; a constant: its value */
    uint32_t cls;   /* order in the pool: XT_* */
    uint32_t first; /* position (in section order) of the word kept for it: itself if none */
    uint32_t at;    /* new offset in the section of the word kept */
} xt_word_t;

static int cmp_u64(uint64_t x, uint64_t y) {
    return x < y ? -1 : x > y;
}

static int by_pos(const void *pa, const void *pb) {
    const xt_word_t *x = pa, *y = pb;
    return x->sec != y->sec ? cmp_u64(x->sec, y->sec) : cmp_u64(x->idx, y->idx);
}

static int by_key(const void *pa, const void *pb) {
    const xt_word_t *x = pa, *y = pb;
    return x->sym != y->sym ? cmp_u64(x->sym, y->sym) : x->value != y->value ? cmp_u64(x->value, y->value) : by_pos(pa, pb);
}

static int by_layout(const void *pa, const void *pb) {
    const xt_word_t *x = pa, *y = pb;
    return x->sec != y->sec ? cmp_u64(x->sec, y->sec) : x->cls != y->cls ? cmp_u64(x->cls, y->cls) : by_pos(pa, pb);
}

/* A literal pool whose words may move: 0 if not. Pools are .literal,
 * .literal.FN (gcc, clang) and X.literal (clang, after a jump table in
 * .rodata.X). */
static int movable_pool(const nml_obj_t *o, uint32_t si) {
    const nml_sec_t *s = &o->secs[si];
    size_t nl = strlen(s->name);
    if (s->type != NML_SHT_PROGBITS || !(s->flags & NML_SHF_ALLOC) || (s->flags & NML_SHF_WRITE) || !s->size ||
        s->size % 4 ||
        (strcmp(s->name, ".literal") != 0 && strncmp(s->name, ".literal.", 9) != 0 &&
         (nl < 8 || strcmp(s->name + nl - 8, ".literal") != 0))) {
        return 0;
    }
    for (size_t k = 0; k < s->nrels; k++) {
        const nml_rel_t *r = &s->rels[k];
        if (r->offset % 4 || r->offset >= s->size || (r->type != R_XTENSA_32 && r->type != R_XTENSA_PLT) ||
            !r->has_addend) {
            return 0;
        }
    }
    for (uint32_t i = 1; i < o->nsyms; i++) {
        if (o->syms[i].shndx == si && o->syms[i].type != NML_STT_SECTION) {
            return 0;
        }
    }
    for (uint32_t j = 1; j < o->nsecs; j++) {
        const nml_sec_t *t = &o->secs[j];
        if (!(t->flags & NML_SHF_ALLOC)) {
            continue;
        }
        for (size_t k = 0; k < t->nrels; k++) {
            const nml_rel_t *r = &t->rels[k];
            const nml_sym_t *y = &o->syms[r->sym];
            if (y->shndx != si) {
                continue;
            }
            uint64_t off = y->value + (uint64_t)r->addend;
            if (r->type != R_XTENSA_SLOT0_OP || t->type == NML_SHT_NOBITS || r->offset + 3 > t->size ||
                off % 4 || off >= s->size) {
                return 0;
            }
            const uint8_t *b = (t->bytes ? t->bytes : o->data + t->offset) + r->offset;
            if ((b[0] & 0xf) != 0x1) { /* not L32R */
                return 0;
            }
        }
    }
    return 1;
}

static int merge_literals(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    if (o->nsecs < 2) {
        return NM_OK;
    }
    /* the movable pools: where their words start in w[], their section symbol */
    uint32_t *base = nml_alloc_array(a, o->nsecs + 1, sizeof *base);
    uint32_t *secsym = nml_alloc_array(a, o->nsecs, sizeof *secsym);
    if (!base || !secsym) {
        return nml_fail(e, NM_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (uint32_t si = 1; si < o->nsecs; si++) {
        base[si] = (uint32_t)n;
        if (movable_pool(o, si)) {
            n += (size_t)(o->secs[si].size / 4);
        }
    }
    base[o->nsecs] = (uint32_t)n;
    if (n < 2 || n > UINT32_MAX / 4) {
        return NM_OK;
    }
    for (uint32_t i = 1; i < o->nsyms; i++) {
        const nml_sym_t *y = &o->syms[i];
        if (y->type == NML_STT_SECTION && y->shndx < o->nsecs && !secsym[y->shndx]) {
            secsym[y->shndx] = i;
        }
    }
    xt_word_t *w = nml_alloc_array(a, n, sizeof *w);
    if (!w) {
        return nml_fail(e, NM_ERR_NOMEM, "out of memory");
    }
    for (uint32_t si = 1; si < o->nsecs; si++) {
        const nml_sec_t *s = &o->secs[si];
        const uint8_t *old = s->bytes ? s->bytes : o->data + s->offset;
        for (uint32_t i = 0; i < base[si + 1] - base[si]; i++) {
            w[base[si] + i] = (xt_word_t){.sec = si, .idx = i, .sym = UINT32_MAX, .value = nml_rd32(old + 4 * i),
                                          .cls = XT_CONST};
        }
        for (size_t k = 0; k < s->nrels && base[si + 1] > base[si]; k++) {
            const nml_rel_t *r = &s->rels[k];
            xt_word_t *x = &w[base[si] + r->offset / 4];
            const nml_sym_t *y = &o->syms[r->sym];
            if (x->sym != UINT32_MAX) {
                return NM_OK; /* two relocations on one word: nothing merged (nothing changed yet) */
            }
            x->sym = r->sym;
            x->value = (uint64_t)(r->addend + (int64_t)(int32_t)nml_rd32(old + r->offset));
            x->cls = y->shndx == NML_SHN_UNDEF    ? XT_UNDEF
                     : y->shndx >= o->nsecs       ? XT_OTHER
                     : o->secs[y->shndx].type == NML_SHT_NOBITS ? XT_BSS
                                                  : XT_DATA;
        }
    }
    /* the word kept for each: the first equal one in section order, if its
     * section has a symbol to point at it (else the first in the same section) */
    qsort(w, n, sizeof *w, by_key);
    size_t repeats = 0;
    for (size_t i = 0, g = 0; i < n; i++) {
        if (i == 0 || w[i].sym != w[i - 1].sym || w[i].value != w[i - 1].value) {
            g = i;
        }
        size_t f = g;
        if (w[g].sec != w[i].sec && !secsym[w[g].sec]) {
            for (f = g; w[f].sec != w[i].sec; f++) {
            }
        }
        w[i].first = base[w[f].sec] + w[f].idx;
        repeats += f != i;
    }
    /* each pool's new layout */
    qsort(w, n, sizeof *w, by_layout);
    int moved = repeats > 0;
    for (size_t i = 0, at = 0; i < n; i++) {
        at = i > 0 && w[i].sec != w[i - 1].sec ? 0 : at;
        if (w[i].first == base[w[i].sec] + w[i].idx) {
            w[i].at = (uint32_t)at;
            moved |= at != 4 * (size_t)w[i].idx;
            at += 4;
        }
    }
    if (!moved) {
        return NM_OK;
    }
    qsort(w, n, sizeof *w, by_pos); /* w[base[si] + idx] again */
    /* new contents, and the kept words' relocations with them */
    for (uint32_t si = 1; si < o->nsecs; si++) {
        nml_sec_t *s = &o->secs[si];
        if (base[si + 1] == base[si]) {
            continue;
        }
        const uint8_t *old = s->bytes ? s->bytes : o->data + s->offset;
        uint32_t size = 0;
        for (uint32_t i = base[si]; i < base[si + 1]; i++) {
            size += w[i].first == i ? 4 : 0;
        }
        uint8_t *nb = nml_alloc(a, (size_t)size + 1);
        if (!nb) {
            return nml_fail(e, NM_ERR_NOMEM, "out of memory");
        }
        for (uint32_t i = base[si]; i < base[si + 1]; i++) {
            if (w[i].first == i) {
                memcpy(nb + w[i].at, old + 4 * (size_t)w[i].idx, 4);
            }
        }
        size_t kept = 0;
        for (size_t k = 0; k < s->nrels; k++) {
            nml_rel_t r = s->rels[k];
            const xt_word_t *x = &w[base[si] + r.offset / 4];
            if (x->first == base[si] + x->idx) {
                r.offset = x->at;
                s->rels[kept++] = r;
            }
        }
        s->nrels = kept;
        s->bytes = nb;
        s->size = size;
    }
    /* what points into the pools (L32Rs, .xt.* entries): at the word kept,
     * through its section's symbol when it is in another pool */
    for (uint32_t j = 1; j < o->nsecs; j++) {
        nml_sec_t *t = &o->secs[j];
        for (size_t k = 0; k < t->nrels; k++) {
            nml_rel_t *r = &t->rels[k];
            const nml_sym_t *y = &o->syms[r->sym];
            uint32_t si = y->shndx;
            if (si == NML_SHN_UNDEF || si >= o->nsecs || base[si + 1] == base[si]) {
                continue;
            }
            uint64_t off = y->value + (uint64_t)r->addend;
            if (off % 4 || off / 4 >= base[si + 1] - base[si]) {
                continue; /* only in a section that is not loaded (movable_pool checked the rest) */
            }
            const xt_word_t *kept = &w[w[base[si] + off / 4].first];
            if (kept->sec != si) {
                r->sym = secsym[kept->sec];
                y = &o->syms[r->sym];
            }
            r->addend = (int64_t)kept->at - (int64_t)y->value;
        }
    }
    return NM_OK;
}

/* Every code section 4-aligned: L32R literals and CALLn targets need it,
 * and clang 22 gives the .literal section it makes (for literals of code
 * in .text) alignment 1. Then the literal pools' repeated words merged. */
static int xt_prepare_object(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    for (uint32_t si = 1; si < o->nsecs; si++) {
        nml_sec_t *s = &o->secs[si];
        if ((s->flags & NML_SHF_EXEC) && s->align < 4) {
            s->align = 4;
        }
    }
    return merge_literals(o, a, e);
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
