/*
 * RISC-V relocations (RELA): rv32imc (ilp32) for .nmod and .mpy, rv64imc
 * (lp64) for .mpy only.
 *
 * An instruction holds at most 20 bits of an address, so what Thumb does
 * with one literal word takes an instruction pair here: LUI + ADDI/load/
 * store (%hi/%lo, -mcmodel=medlow) or AUIPC + ADDI/load/store
 * (%pcrel_hi/%pcrel_lo, -mcmodel=medany, and %got_pcrel_hi with -fpic).
 * The core resolves what lies inside one region (calls, branches, AUIPC
 * into TEXT) and records every field that depends on where a region is
 * placed as an INSN entry (docs/format.md 4.1) that the loader writes. The
 * %pcrel_lo relocation names the AUIPC's label, not the target: the core
 * finds the HI relocation at that label (several LOs may share one HI, and
 * a LO may come before its HI in the code).
 *
 * Calls to imports go through a 12-byte stub in TEXT that loads the
 * import's GOT slot PC-relatively and jumps, so text never holds a firmware
 * address (an XIP-linked module survives a firmware update):
 *     auipc t1, %pcrel_hi(slot); lw t1, %pcrel_lo(slot)(t1); jr t1
 * (ld on rv64). In a .nmod the pair is two INSN entries against RW; in a
 * .mpy, where RW follows TEXT in one block, it is resolved at link time.
 *
 * natmod does not relax, but objects assembled with relaxation (the
 * default) carry R_RISCV_ALIGN over NOP padding of the maximum size, and
 * rely on the linker to delete the excess; prepare_object does that
 * before layout (moving the section's symbols and relocations), and raises
 * the section's alignment to the largest one an ALIGN asks for, so the
 * alignment holds wherever the section is placed. R_RISCV_RELAX is ignored:
 * the sequences it marks stay as they are, which is always correct.
 */
#include <stdlib.h>
#include <string.h>

#include "link/link_internal.h"

enum {
    R_RISCV_NONE = 0, R_RISCV_32 = 1, R_RISCV_64 = 2, R_RISCV_RELATIVE = 3, R_RISCV_COPY = 4,
    R_RISCV_JUMP_SLOT = 5, R_RISCV_TLS_DTPMOD32 = 6, R_RISCV_TLS_DTPMOD64 = 7, R_RISCV_TLS_DTPREL32 = 8,
    R_RISCV_TLS_DTPREL64 = 9, R_RISCV_TLS_TPREL32 = 10, R_RISCV_TLS_TPREL64 = 11, R_RISCV_TLSDESC = 12,
    R_RISCV_BRANCH = 16, R_RISCV_JAL = 17, R_RISCV_CALL = 18, R_RISCV_CALL_PLT = 19, R_RISCV_GOT_HI20 = 20,
    R_RISCV_TLS_GOT_HI20 = 21, R_RISCV_TLS_GD_HI20 = 22, R_RISCV_PCREL_HI20 = 23, R_RISCV_PCREL_LO12_I = 24,
    R_RISCV_PCREL_LO12_S = 25, R_RISCV_HI20 = 26, R_RISCV_LO12_I = 27, R_RISCV_LO12_S = 28,
    R_RISCV_TPREL_HI20 = 29, R_RISCV_TPREL_LO12_I = 30, R_RISCV_TPREL_LO12_S = 31, R_RISCV_TPREL_ADD = 32,
    R_RISCV_ADD8 = 33, R_RISCV_ADD16 = 34, R_RISCV_ADD32 = 35, R_RISCV_ADD64 = 36, R_RISCV_SUB8 = 37,
    R_RISCV_SUB16 = 38, R_RISCV_SUB32 = 39, R_RISCV_SUB64 = 40, R_RISCV_GOT32_PCREL = 41, R_RISCV_ALIGN = 43,
    R_RISCV_RVC_BRANCH = 44, R_RISCV_RVC_JUMP = 45, R_RISCV_RELAX = 51, R_RISCV_SUB6 = 52, R_RISCV_SET6 = 53,
    R_RISCV_SET8 = 54, R_RISCV_SET16 = 55, R_RISCV_SET32 = 56, R_RISCV_32_PCREL = 57, R_RISCV_IRELATIVE = 58,
    R_RISCV_PLT32 = 59, R_RISCV_SET_ULEB128 = 60, R_RISCV_SUB_ULEB128 = 61, R_RISCV_TLSDESC_HI20 = 62,
    R_RISCV_TLSDESC_LOAD_LO12 = 63, R_RISCV_TLSDESC_ADD_LO12 = 64, R_RISCV_TLSDESC_CALL = 65,
};

enum {
    OP_AUIPC = 0x17, OP_LUI = 0x37, OP_JALR = 0x67,
    EF_RISCV_RVC = 0x1, EF_RISCV_FLOAT_ABI = 0x6, EF_RISCV_RVE = 0x8,
    NOP = 0x00000013,  /* addi x0, x0, 0 */
    C_NOP = 0x0001,
    REG_T1 = 6, REG_T6 = 31,
};

static const char *rv_reloc_name(uint32_t t) {
    static const char *const names[] = {
        [R_RISCV_NONE] = "R_RISCV_NONE", [R_RISCV_32] = "R_RISCV_32", [R_RISCV_64] = "R_RISCV_64",
        [R_RISCV_RELATIVE] = "R_RISCV_RELATIVE", [R_RISCV_COPY] = "R_RISCV_COPY",
        [R_RISCV_JUMP_SLOT] = "R_RISCV_JUMP_SLOT", [R_RISCV_TLS_DTPMOD32] = "R_RISCV_TLS_DTPMOD32",
        [R_RISCV_TLS_DTPMOD64] = "R_RISCV_TLS_DTPMOD64", [R_RISCV_TLS_DTPREL32] = "R_RISCV_TLS_DTPREL32",
        [R_RISCV_TLS_DTPREL64] = "R_RISCV_TLS_DTPREL64", [R_RISCV_TLS_TPREL32] = "R_RISCV_TLS_TPREL32",
        [R_RISCV_TLS_TPREL64] = "R_RISCV_TLS_TPREL64", [R_RISCV_TLSDESC] = "R_RISCV_TLSDESC",
        [R_RISCV_BRANCH] = "R_RISCV_BRANCH", [R_RISCV_JAL] = "R_RISCV_JAL", [R_RISCV_CALL] = "R_RISCV_CALL",
        [R_RISCV_CALL_PLT] = "R_RISCV_CALL_PLT", [R_RISCV_GOT_HI20] = "R_RISCV_GOT_HI20",
        [R_RISCV_TLS_GOT_HI20] = "R_RISCV_TLS_GOT_HI20", [R_RISCV_TLS_GD_HI20] = "R_RISCV_TLS_GD_HI20",
        [R_RISCV_PCREL_HI20] = "R_RISCV_PCREL_HI20", [R_RISCV_PCREL_LO12_I] = "R_RISCV_PCREL_LO12_I",
        [R_RISCV_PCREL_LO12_S] = "R_RISCV_PCREL_LO12_S", [R_RISCV_HI20] = "R_RISCV_HI20",
        [R_RISCV_LO12_I] = "R_RISCV_LO12_I", [R_RISCV_LO12_S] = "R_RISCV_LO12_S",
        [R_RISCV_TPREL_HI20] = "R_RISCV_TPREL_HI20", [R_RISCV_TPREL_LO12_I] = "R_RISCV_TPREL_LO12_I",
        [R_RISCV_TPREL_LO12_S] = "R_RISCV_TPREL_LO12_S", [R_RISCV_TPREL_ADD] = "R_RISCV_TPREL_ADD",
        [R_RISCV_ADD8] = "R_RISCV_ADD8", [R_RISCV_ADD16] = "R_RISCV_ADD16", [R_RISCV_ADD32] = "R_RISCV_ADD32",
        [R_RISCV_ADD64] = "R_RISCV_ADD64", [R_RISCV_SUB8] = "R_RISCV_SUB8", [R_RISCV_SUB16] = "R_RISCV_SUB16",
        [R_RISCV_SUB32] = "R_RISCV_SUB32", [R_RISCV_SUB64] = "R_RISCV_SUB64",
        [R_RISCV_GOT32_PCREL] = "R_RISCV_GOT32_PCREL", [R_RISCV_ALIGN] = "R_RISCV_ALIGN",
        [R_RISCV_RVC_BRANCH] = "R_RISCV_RVC_BRANCH", [R_RISCV_RVC_JUMP] = "R_RISCV_RVC_JUMP",
        [R_RISCV_RELAX] = "R_RISCV_RELAX", [R_RISCV_SUB6] = "R_RISCV_SUB6", [R_RISCV_SET6] = "R_RISCV_SET6",
        [R_RISCV_SET8] = "R_RISCV_SET8", [R_RISCV_SET16] = "R_RISCV_SET16", [R_RISCV_SET32] = "R_RISCV_SET32",
        [R_RISCV_32_PCREL] = "R_RISCV_32_PCREL", [R_RISCV_IRELATIVE] = "R_RISCV_IRELATIVE",
        [R_RISCV_PLT32] = "R_RISCV_PLT32", [R_RISCV_SET_ULEB128] = "R_RISCV_SET_ULEB128",
        [R_RISCV_SUB_ULEB128] = "R_RISCV_SUB_ULEB128", [R_RISCV_TLSDESC_HI20] = "R_RISCV_TLSDESC_HI20",
        [R_RISCV_TLSDESC_LOAD_LO12] = "R_RISCV_TLSDESC_LOAD_LO12",
        [R_RISCV_TLSDESC_ADD_LO12] = "R_RISCV_TLSDESC_ADD_LO12", [R_RISCV_TLSDESC_CALL] = "R_RISCV_TLSDESC_CALL",
    };
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : NULL;
}

static int is_tls(uint32_t t) {
    return (t >= R_RISCV_TLS_DTPMOD32 && t <= R_RISCV_TLSDESC) || t == R_RISCV_TLS_GOT_HI20 ||
           t == R_RISCV_TLS_GD_HI20 || (t >= R_RISCV_TPREL_HI20 && t <= R_RISCV_TPREL_ADD) ||
           (t >= R_RISCV_TLSDESC_HI20 && t <= R_RISCV_TLSDESC_CALL);
}

static int rv_classify(uint32_t t, const char **why) {
    switch (t) {
    case R_RISCV_NONE:
    case R_RISCV_RELAX: /* a hint that the sequence may be shortened: not relaxing is always correct */
        return NML_R_IGNORE;
    case R_RISCV_32:
    case R_RISCV_64:
        return NML_R_ABS;
    case R_RISCV_BRANCH:
    case R_RISCV_JAL:
    case R_RISCV_CALL:
    case R_RISCV_CALL_PLT:
    case R_RISCV_RVC_BRANCH:
    case R_RISCV_RVC_JUMP:
    case R_RISCV_PLT32:
        return NML_R_BRANCH;
    case R_RISCV_32_PCREL:
        return NML_R_PCREL;
    case R_RISCV_GOT_HI20:
    case R_RISCV_GOT32_PCREL:
        return NML_R_GOT;
    case R_RISCV_PCREL_HI20:
        return NML_R_PCREL_HI;
    case R_RISCV_PCREL_LO12_I:
    case R_RISCV_PCREL_LO12_S:
        return NML_R_PCREL_LO;
    case R_RISCV_HI20:
    case R_RISCV_LO12_I:
    case R_RISCV_LO12_S:
        return NML_R_ABS_INSN;
    case R_RISCV_ADD8: case R_RISCV_ADD16: case R_RISCV_ADD32: case R_RISCV_ADD64:
    case R_RISCV_SUB8: case R_RISCV_SUB16: case R_RISCV_SUB32: case R_RISCV_SUB64:
    case R_RISCV_SUB6: case R_RISCV_SET6: case R_RISCV_SET8: case R_RISCV_SET16: case R_RISCV_SET32:
    case R_RISCV_SET_ULEB128: case R_RISCV_SUB_ULEB128:
        return NML_R_ADDSUB;
    case R_RISCV_ALIGN:
        return NML_R_ALIGN;
    default:
        if (is_tls(t)) {
            *why = "thread-local storage not supported (a module has no thread pointer; picolibc's errno is "
                   "thread-local: take the function from the firmware instead)";
        } else if (t == R_RISCV_RELATIVE || t == R_RISCV_COPY || t == R_RISCV_JUMP_SLOT ||
                   t == R_RISCV_IRELATIVE) {
            *why = "dynamic relocation in a relocatable object";
        } else {
            *why = "relocation type not supported";
        }
        return NML_R_UNSUPPORTED;
    }
}

static unsigned rv_width(uint32_t t) {
    switch (t) {
    case R_RISCV_64: case R_RISCV_ADD64: case R_RISCV_SUB64:
    case R_RISCV_CALL: case R_RISCV_CALL_PLT:
        return 8;
    case R_RISCV_RVC_BRANCH: case R_RISCV_RVC_JUMP: case R_RISCV_ADD16: case R_RISCV_SUB16: case R_RISCV_SET16:
        return 2;
    case R_RISCV_ADD8: case R_RISCV_SUB8: case R_RISCV_SET8: case R_RISCV_SET6: case R_RISCV_SUB6:
    case R_RISCV_SET_ULEB128: case R_RISCV_SUB_ULEB128:
        return 1;
    case R_RISCV_NONE: case R_RISCV_RELAX: case R_RISCV_ALIGN:
        return 0;
    default:
        return 4;
    }
}

static int64_t rv_implicit_addend(uint32_t t, const uint8_t *p) {
    /* RISC-V objects are RELA; a REL section could only mean words */
    switch (t) {
    case R_RISCV_32: case R_RISCV_32_PCREL: case R_RISCV_PLT32:
        return (int32_t)nml_rd32(p);
    case R_RISCV_64:
        return (int64_t)nml_rd64(p);
    default:
        return 0;
    }
}

static int rv_insn_form(uint32_t t) {
    switch (t) {
    case R_RISCV_HI20: return NM_INSN_RV_HI20;
    case R_RISCV_LO12_I: return NM_INSN_RV_LO12_I;
    case R_RISCV_LO12_S: return NM_INSN_RV_LO12_S;
    case R_RISCV_PCREL_HI20: case R_RISCV_GOT_HI20: return NM_INSN_RV_PCREL_HI20;
    case R_RISCV_PCREL_LO12_I: return NM_INSN_RV_PCREL_LO12_I;
    case R_RISCV_PCREL_LO12_S: return NM_INSN_RV_PCREL_LO12_S;
    default: return -1;
    }
}

/* ---- instruction fields ---- */

static uint32_t set_u(uint32_t insn, uint64_t v) { /* U-type: the HI part, rounded for the LO's sign */
    return (insn & 0xfff) | ((uint32_t)(v + 0x800) & 0xfffff000u);
}

static uint32_t set_i(uint32_t insn, uint64_t v) {
    return (insn & 0xfffff) | ((uint32_t)v & 0xfff) << 20;
}

static uint32_t set_s(uint32_t insn, uint64_t v) {
    uint32_t u = (uint32_t)v;
    return (insn & 0x01fff07f) | ((u >> 5) & 0x7f) << 25 | (u & 0x1f) << 7;
}

static uint32_t set_b(uint32_t insn, int64_t v) {
    uint32_t u = (uint32_t)v;
    return (insn & 0x01fff07f) | ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | ((u >> 1) & 0xf) << 8 |
           ((u >> 11) & 1) << 7;
}

static uint32_t set_j(uint32_t insn, int64_t v) {
    uint32_t u = (uint32_t)v;
    return (insn & 0xfff) | ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
           ((u >> 12) & 0xff) << 12;
}

static uint16_t set_cb(uint16_t h, int64_t v) { /* c.beqz / c.bnez */
    uint32_t u = (uint32_t)v;
    return (uint16_t)((h & 0xe383) | ((u >> 8) & 1) << 12 | ((u >> 3) & 3) << 10 | ((u >> 6) & 3) << 5 |
                      ((u >> 1) & 3) << 3 | ((u >> 5) & 1) << 2);
}

static uint16_t set_cj(uint16_t h, int64_t v) { /* c.j / c.jal */
    uint32_t u = (uint32_t)v;
    return (uint16_t)((h & 0xe003) | ((u >> 11) & 1) << 12 | ((u >> 4) & 1) << 11 | ((u >> 8) & 3) << 9 |
                      ((u >> 10) & 1) << 8 | ((u >> 6) & 1) << 7 | ((u >> 7) & 1) << 6 | ((u >> 1) & 7) << 3 |
                      ((u >> 5) & 1) << 2);
}

/* An AUIPC/LUI pair reaches v if (v + 0x800) >> 12 fits 20 signed bits. */
static int fits_hi20(int64_t v) {
    return v >= -(int64_t)0x80000000 - 0x800 && v < (int64_t)0x80000000 - 0x800;
}

/* ULEB128 at p, within room bytes (at most 10): its length, 0 if it does not end there. */
static unsigned uleb_len(const uint8_t *p, size_t room) {
    for (unsigned n = 0; n < room && n < 10; n++) {
        if (!(p[n] & 0x80)) {
            return n + 1;
        }
    }
    return 0;
}

static uint64_t uleb_get(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    }
    return v;
}

/* Write v into the n bytes of the ULEB128 at p, keeping its length
 * (truncated to 7n bits, as other linkers do). */
static void uleb_put(uint8_t *p, unsigned n, uint64_t v) {
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)((v & 0x7f) | (i + 1 < n ? 0x80 : 0));
        v = i < 9 ? v >> 7 : 0;
    }
}

static int rv_apply(uint32_t t, uint8_t *p, size_t room, uint64_t P, int64_t v, const char **why) {
    (void)P;
    uint32_t insn = rv_width(t) >= 4 ? nml_rd32(p) : 0;
    uint16_t h = rv_width(t) >= 2 ? nml_rd16(p) : 0;
    switch (t) {
    case R_RISCV_BRANCH:
        if (v & 1) {
            goto odd;
        }
        if (v < -4096 || v > 4094) {
            *why = "target out of range for a conditional branch (+-4 KiB)";
            return NM_ERR_RELOC;
        }
        nml_wr32(p, set_b(insn, v));
        return NM_OK;
    case R_RISCV_JAL:
        if (v & 1) {
            goto odd;
        }
        if (v < -(1 << 20) || v > (1 << 20) - 2) {
            *why = "target out of range for JAL (+-1 MiB)";
            return NM_ERR_RELOC;
        }
        nml_wr32(p, set_j(insn, v));
        return NM_OK;
    case R_RISCV_CALL:
    case R_RISCV_CALL_PLT:
        if (v & 1) {
            goto odd;
        }
        if (!fits_hi20(v)) {
            *why = "target out of range for AUIPC+JALR (+-2 GiB)";
            return NM_ERR_RELOC;
        }
        nml_wr32(p, set_u(insn, (uint64_t)v));
        nml_wr32(p + 4, set_i(nml_rd32(p + 4), (uint64_t)v));
        return NM_OK;
    case R_RISCV_RVC_BRANCH:
        if (v & 1) {
            goto odd;
        }
        if (v < -256 || v > 254) {
            *why = "target out of range for a compressed branch (+-256 bytes)";
            return NM_ERR_RELOC;
        }
        nml_wr16(p, set_cb(h, v));
        return NM_OK;
    case R_RISCV_RVC_JUMP:
        if (v & 1) {
            goto odd;
        }
        if (v < -2048 || v > 2046) {
            *why = "target out of range for a compressed jump (+-2 KiB)";
            return NM_ERR_RELOC;
        }
        nml_wr16(p, set_cj(h, v));
        return NM_OK;
    case R_RISCV_PCREL_HI20:
    case R_RISCV_GOT_HI20:
    case R_RISCV_HI20:
        if (!fits_hi20(v) && !(t == R_RISCV_HI20 && (uint64_t)v <= 0xffffffffu)) {
            *why = "value out of range for a 20-bit upper immediate (+-2 GiB)";
            return NM_ERR_RELOC;
        }
        nml_wr32(p, set_u(insn, (uint64_t)v));
        return NM_OK;
    case R_RISCV_PCREL_LO12_I:
    case R_RISCV_LO12_I:
        nml_wr32(p, set_i(insn, (uint64_t)v));
        return NM_OK;
    case R_RISCV_PCREL_LO12_S:
    case R_RISCV_LO12_S:
        nml_wr32(p, set_s(insn, (uint64_t)v));
        return NM_OK;
    case R_RISCV_32_PCREL:
    case R_RISCV_PLT32:
    case R_RISCV_GOT32_PCREL:
        if (v < INT32_MIN || v > INT32_MAX) {
            *why = "out of range for a signed 32-bit field";
            return NM_ERR_RELOC;
        }
        nml_wr32(p, (uint32_t)(int32_t)v);
        return NM_OK;
    case R_RISCV_ADD8: p[0] = (uint8_t)(p[0] + (uint64_t)v); return NM_OK;
    case R_RISCV_SUB8: p[0] = (uint8_t)(p[0] - (uint64_t)v); return NM_OK;
    case R_RISCV_SET8: p[0] = (uint8_t)v; return NM_OK;
    case R_RISCV_SET6: p[0] = (uint8_t)((p[0] & 0xc0) | ((uint64_t)v & 0x3f)); return NM_OK;
    case R_RISCV_SUB6: p[0] = (uint8_t)((p[0] & 0xc0) | ((p[0] - (uint64_t)v) & 0x3f)); return NM_OK;
    case R_RISCV_ADD16: nml_wr16(p, (uint16_t)(h + (uint64_t)v)); return NM_OK;
    case R_RISCV_SUB16: nml_wr16(p, (uint16_t)(h - (uint64_t)v)); return NM_OK;
    case R_RISCV_SET16: nml_wr16(p, (uint16_t)v); return NM_OK;
    case R_RISCV_ADD32: nml_wr32(p, (uint32_t)(insn + (uint64_t)v)); return NM_OK;
    case R_RISCV_SUB32: nml_wr32(p, (uint32_t)(insn - (uint64_t)v)); return NM_OK;
    case R_RISCV_SET32: nml_wr32(p, (uint32_t)v); return NM_OK;
    case R_RISCV_ADD64: nml_wr64(p, nml_rd64(p) + (uint64_t)v); return NM_OK;
    case R_RISCV_SUB64: nml_wr64(p, nml_rd64(p) - (uint64_t)v); return NM_OK;
    case R_RISCV_SET_ULEB128:
    case R_RISCV_SUB_ULEB128: {
        unsigned n = uleb_len(p, room);
        if (!n) {
            *why = "ULEB128 field runs past its section or is longer than 10 bytes";
            return NM_ERR_RELOC;
        }
        uleb_put(p, n, t == R_RISCV_SET_ULEB128 ? (uint64_t)v : uleb_get(p, n) - (uint64_t)v);
        return NM_OK;
    }
    default:
        *why = "relocation type not supported";
        return NM_ERR_RELOC;
    }
odd:
    *why = "odd target address (instructions are 2-byte aligned)";
    return NM_ERR_RELOC;
}

/* AUIPC rd -> LUI rd with the upper part of value (and, for a call pair,
 * JALR with its lower part): for targets outside the module whose address
 * is known at link time, which PC-relative code could not reach from an
 * address only known at load time. */
static int pcrel_to_abs(uint32_t t, uint8_t *p, uint64_t value, int is64, const char **why) {
    if (!(value <= 0x7fffffffu || value >= 0xffffffff80000000u || (!is64 && value <= 0xffffffffu))) {
        *why = "absolute address out of range for LUI (+-2 GiB)";
        return NM_ERR_RELOC;
    }
    uint32_t insn = nml_rd32(p);
    if (t != R_RISCV_PCREL_HI20 && t != R_RISCV_CALL && t != R_RISCV_CALL_PLT) {
        *why = "no PC-relative sequence to rewrite for an absolute target";
        return NM_ERR_RELOC;
    }
    if ((insn & 0x7f) != OP_AUIPC) {
        *why = "the instruction is not an AUIPC";
        return NM_ERR_RELOC;
    }
    nml_wr32(p, set_u((insn & 0xf80) | OP_LUI, value));
    if (t != R_RISCV_PCREL_HI20) {
        nml_wr32(p + 4, set_i(nml_rd32(p + 4), value));
    }
    return NM_OK;
}

static int rv32_pcrel_to_abs(uint32_t t, uint8_t *p, uint64_t value, const char **why) {
    return pcrel_to_abs(t, p, value, 0, why);
}

static int rv64_pcrel_to_abs(uint32_t t, uint8_t *p, uint64_t value, const char **why) {
    return pcrel_to_abs(t, p, value, 1, why);
}

/* The import stub (12 bytes, 4-aligned): t1 = GOT slot, jump. The AUIPC/load
 * pair is written for the link-time distance; a .nmod also records it as
 * INSN entries (stub_insn_hi/lo). t1 is a temporary every call may clobber. */
static void write_stub(uint8_t *p, uint64_t at, uint64_t got, unsigned funct3) {
    int64_t v = (int64_t)(got - at);
    nml_wr32(p, set_u(REG_T1 << 7 | OP_AUIPC, (uint64_t)v));
    nml_wr32(p + 4, set_i(REG_T1 << 15 | funct3 << 12 | REG_T1 << 7 | 0x03, (uint64_t)v)); /* lw/ld t1, lo(t1) */
    nml_wr32(p + 8, REG_T1 << 15 | OP_JALR);                                                 /* jalr x0, 0(t1) */
}

static void rv32_write_stub(uint8_t *p, uint64_t at, uint64_t got) {
    write_stub(p, at, got, 2);
}

static void rv64_write_stub(uint8_t *p, uint64_t at, uint64_t got) {
    write_stub(p, at, got, 3);
}

/* The .mpy entry jump: c.j if it reaches, else auipc t6 + jalr x0 (t6 is a
 * temporary; the entry's arguments stay in a0-a2). */
static unsigned rv_jump_size(unsigned arch, int64_t to) {
    (void)arch;
    return to >= -2048 && to <= 2046 ? 2 : 8;
}

static void rv_write_jump(uint8_t *p, unsigned arch, int64_t to) {
    if (rv_jump_size(arch, to) == 2) {
        nml_wr16(p, set_cj(0xa001, to));
    } else {
        nml_wr32(p, set_u(REG_T6 << 7 | OP_AUIPC, (uint64_t)to));
        nml_wr32(p + 4, set_i(REG_T6 << 15 | OP_JALR, (uint64_t)to));
    }
}

/* ---- objects ---- */

static const char *float_abi_name(uint32_t f) {
    return f == 0 ? "soft (ilp32/lp64)" : f == 2 ? "single (ilp32f/lp64f)" : f == 4 ? "double (ilp32d/lp64d)"
                                                                            : "quad (lp64q)";
}

/* The float ABI is in e_flags (gcc, clang and gas always set it); the
 * modules and the boards natmod knows pass floats in integer registers. */
static int rv_check_object(const nml_obj_t *o, unsigned arch, unsigned float_abi, nml_err_t *e) {
    (void)float_abi;
    uint32_t f = o->eflags & EF_RISCV_FLOAT_ABI;
    if (f) {
        return nml_fail(e, NM_ERR_FLOAT_ABI,
                        "%s: float ABI %s, but %s passes floats in integer registers: build it with -mabi=%s", o->name,
                        float_abi_name(f), nm_arch_name(arch), arch == NM_ARCH_RV64IMC ? "lp64" : "ilp32");
    }
    if (o->eflags & EF_RISCV_RVE) {
        return nml_fail(e, NM_ERR_ARCH, "%s: code for RV32E (16 registers, ilp32e), not %s: build it with -mabi=%s",
                        o->name, nm_arch_name(arch), arch == NM_ARCH_RV64IMC ? "lp64" : "ilp32");
    }
    return NM_OK;
}

/* ---- alignment padding (R_RISCV_ALIGN) ---- */

typedef struct cut {
    uint64_t at, n; /* old offsets [at, at + n) are deleted */
} cut_t;

static int by_offset(const void *a, const void *b) {
    uint64_t x = (*(const nml_rel_t *const *)a)->offset, y = (*(const nml_rel_t *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Offset old in the section after the cuts (sorted, disjoint); an offset
 * inside a cut moves to where the cut was. */
static uint64_t moved(const cut_t *c, size_t n, uint64_t old) {
    uint64_t d = 0;
    for (size_t i = 0; i < n && c[i].at < old; i++) {
        d += old < c[i].at + c[i].n ? old - c[i].at : c[i].n;
    }
    return old - d;
}

static int in_cut(const cut_t *c, size_t n, uint64_t off) {
    for (size_t i = 0; i < n; i++) {
        if (off >= c[i].at && off < c[i].at + c[i].n) {
            return 1;
        }
    }
    return 0;
}

/* Section si of o with its ALIGN padding cut to what the alignment needs
 * once the section starts on a multiple of its (raised) alignment. */
static int cut_padding(nml_obj_t *o, uint32_t si, nml_arena_t *a, nml_err_t *e) {
    nml_sec_t *s = &o->secs[si];
    size_t na = 0;
    for (size_t k = 0; k < s->nrels; k++) {
        na += s->rels[k].type == R_RISCV_ALIGN;
    }
    if (!na) {
        return NM_OK;
    }
    const char *sec = s->name;
    if (s->type == NML_SHT_NULL) {
        return NM_OK; /* not part of the object: elf.c vouches for no offset or size of it */
    }
    if (s->type == NML_SHT_NOBITS) {
        return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): R_RISCV_ALIGN in a section without contents", o->name,
                        si, sec);
    }
    nml_rel_t **al = nml_alloc_array(a, na, sizeof(*al));
    cut_t *cut = nml_alloc_array(a, na, sizeof(*cut));
    if (!al || !cut) {
        return nml_fail(e, NM_ERR_NOMEM, "out of memory");
    }
    na = 0;
    uint64_t maxal = s->align;
    for (size_t k = 0; k < s->nrels; k++) {
        nml_rel_t *r = &s->rels[k];
        if (r->type != R_RISCV_ALIGN) {
            continue;
        }
        if (r->addend < 0 || (uint64_t)r->addend > s->size - r->offset || r->addend >= (1 << NM_MAX_ALIGN_LOG2)) {
            return nml_fail(e, NM_ERR_RELOC,
                            "%s: %s+0x%llx: R_RISCV_ALIGN: %lld bytes of padding do not fit the section (0x%llx bytes) "
                            "or ask for more than %u-byte alignment",
                            o->name, sec, (unsigned long long)r->offset, (long long)r->addend,
                            (unsigned long long)s->size, 1u << NM_MAX_ALIGN_LOG2);
        }
        if ((s->flags & NML_SHF_EXEC) && (r->addend & 1)) {
            return nml_fail(e, NM_ERR_RELOC,
                            "%s: %s+0x%llx: R_RISCV_ALIGN: %lld bytes of padding in code, where instructions are "
                            "2 or 4 bytes",
                            o->name, sec, (unsigned long long)r->offset, (long long)r->addend);
        }
        uint64_t al_n = 1;
        while (al_n <= (uint64_t)r->addend) { /* padding is the alignment less the smallest instruction */
            al_n <<= 1;
        }
        maxal = al_n > maxal ? al_n : maxal;
        al[na++] = r;
    }
    qsort(al, na, sizeof(*al), by_offset);
    /* where each padding starts after the cuts before it, and what it keeps */
    size_t ncut = 0;
    uint64_t gone = 0, prev_end = 0;
    for (size_t i = 0; i < na; i++) {
        nml_rel_t *r = al[i];
        uint64_t n = (uint64_t)r->addend, al_n = 1;
        while (al_n <= n) {
            al_n <<= 1;
        }
        if (r->offset < prev_end) {
            return nml_fail(e, NM_ERR_RELOC, "%s: %s+0x%llx: R_RISCV_ALIGN inside the padding of the one before",
                            o->name, sec, (unsigned long long)r->offset);
        }
        uint64_t at = r->offset - gone;
        uint64_t keep = (al_n - (at & (al_n - 1))) & (al_n - 1);
        if (keep > n) {
            return nml_fail(e, NM_ERR_RELOC,
                            "%s: %s+0x%llx: R_RISCV_ALIGN: %llu bytes needed to align to %llu, only %llu of padding",
                            o->name, sec, (unsigned long long)r->offset, (unsigned long long)keep,
                            (unsigned long long)al_n, (unsigned long long)n);
        }
        if (n > keep) {
            cut[ncut].at = r->offset + keep;
            cut[ncut].n = n - keep;
            ncut++;
        }
        gone += n - keep;
        prev_end = r->offset + n;
    }
    s->align = (uint32_t)maxal;
    if (!gone) {
        return NM_OK;
    }
    for (size_t k = 0; k < s->nrels; k++) {
        nml_rel_t *r = &s->rels[k];
        if (r->type != R_RISCV_ALIGN && r->type != R_RISCV_NONE && in_cut(cut, ncut, r->offset)) {
            return nml_fail(e, NM_ERR_RELOC, "%s: %s+0x%llx: %s inside R_RISCV_ALIGN padding", o->name, sec,
                            (unsigned long long)r->offset,
                            rv_reloc_name(r->type) ? rv_reloc_name(r->type) : "relocation");
        }
    }
    /* the new contents: the kept padding rewritten as NOPs (4-byte ones,
     * then a c.nop), since the cut may split one */
    const uint8_t *old = s->bytes ? s->bytes : o->data + s->offset;
    uint8_t *nb = nml_alloc(a, (size_t)(s->size - gone) + 1);
    if (!nb) {
        return nml_fail(e, NM_ERR_NOMEM, "out of memory");
    }
    uint64_t w = 0, from = 0;
    for (size_t i = 0; i < ncut; i++) {
        memcpy(nb + w, old + from, (size_t)(cut[i].at - from));
        w += cut[i].at - from;
        from = cut[i].at + cut[i].n;
    }
    memcpy(nb + w, old + from, (size_t)(s->size - from));
    int code = (s->flags & NML_SHF_EXEC) != 0;
    for (size_t i = 0; i < na; i++) {
        uint64_t at = moved(cut, ncut, al[i]->offset), end = moved(cut, ncut, al[i]->offset + (uint64_t)al[i]->addend);
        for (uint64_t q = at; q < end;) {
            if (!code) {
                nb[q++] = 0;
            } else if (end - q >= 4) {
                nml_wr32(nb + q, NOP);
                q += 4;
            } else {
                nml_wr16(nb + q, C_NOP);
                q += 2; /* padding in code is even: instructions are 2-byte aligned */
            }
        }
    }
    /* move what points into the section: its relocations, its symbols, and
     * relocations against its section symbol (the offset is the addend) */
    for (size_t k = 0; k < s->nrels; k++) {
        s->rels[k].offset = moved(cut, ncut, s->rels[k].offset);
    }
    for (uint32_t i = 1; i < o->nsyms; i++) {
        nml_sym_t *y = &o->syms[i];
        if (y->shndx == si) {
            uint64_t end = moved(cut, ncut, y->value + y->size);
            y->value = moved(cut, ncut, y->value);
            y->size = end - y->value;
        }
    }
    for (uint32_t j = 1; j < o->nsecs; j++) {
        nml_sec_t *t = &o->secs[j];
        for (size_t k = 0; k < t->nrels; k++) {
            nml_rel_t *r = &t->rels[k];
            const nml_sym_t *y = &o->syms[r->sym];
            if (y->type == NML_STT_SECTION && y->shndx == si && r->has_addend && r->addend >= 0 &&
                (uint64_t)r->addend <= s->size) {
                r->addend = (int64_t)moved(cut, ncut, (uint64_t)r->addend);
            }
        }
    }
    s->bytes = nb;
    s->size -= gone;
    return NM_OK;
}

static int rv_prepare_object(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    /* instructions are 2-byte aligned with the C extension, 4 without:
     * gas gives a section made with .section an alignment of 1 */
    uint32_t ialign = (o->eflags & EF_RISCV_RVC) ? 2 : 4;
    for (uint32_t si = 1; si < o->nsecs; si++) {
        nml_sec_t *s = &o->secs[si];
        if ((s->flags & NML_SHF_EXEC) && s->align < ialign) {
            s->align = ialign;
        }
    }
    for (uint32_t si = 1; si < o->nsecs; si++) {
        int err = cut_padding(o, si, a, e);
        if (err) {
            return err;
        }
    }
    return NM_OK;
}

#define RV_COMMON                                                                                        \
    .machine = NML_EM_RISCV, .min_align_log2 = 2, .thumb = 0, .rw_pcrel = 0, .stub_size = 12,            \
    .stub_align = 4, .stub_uses_got = 1, .stub_lit = -1, .reloc_name = rv_reloc_name,                    \
    .classify = rv_classify, .width = rv_width, .implicit_addend = rv_implicit_addend, .apply = rv_apply, \
    .jump_size = rv_jump_size, .write_jump = rv_write_jump, .check_object = rv_check_object,              \
    .insn_form = rv_insn_form, .prepare_object = rv_prepare_object, .stub_insn_hi = 0, .stub_insn_lo = 4

const nml_arch_t nml_arch_rv32 = {
    .name = "rv32",
    .elfclass = 1,
    .ptr_size = 4,
    .write_stub = rv32_write_stub,
    .pcrel_to_abs = rv32_pcrel_to_abs,
    .class_hint = "riscv64-unknown-elf-gcc names the rv64 multilib's libraries for some -march strings "
                  "(rv32imac_zicsr...): use -march=rv32imc -mabi=ilp32, or the rv32 multilib directory",
    RV_COMMON,
};

const nml_arch_t nml_arch_rv64 = {
    .name = "rv64",
    .elfclass = 2,
    .ptr_size = 8,
    .write_stub = rv64_write_stub,
    .pcrel_to_abs = rv64_pcrel_to_abs,
    .class_hint = "use the rv64 multilib (-march=rv64imc -mabi=lp64)",
    RV_COMMON,
};
