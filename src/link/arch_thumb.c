/*
 * Thumb (ARMv6-M, ARMv7-M, ARMv7E-M) relocations (REL: addends live in the
 * instruction bits). Modules are compiled non-PIC: data addresses come from
 * literal pools (R_ARM_ABS32, relocated at load time) so TEXT and RW can be
 * placed independently. A BL/B.W to an import goes through a veneer that
 * loads the import's address from its GOT slot (the slot's address is a
 * literal), which works on ARMv6-M too (no ldr.w pc), keeping the branch
 * itself inside the module and firmware addresses out of text.
 */
#include <string.h>

#include "link/link_internal.h"

enum {
    R_ARM_NONE = 0, R_ARM_ABS32 = 2, R_ARM_REL32 = 3, R_ARM_THM_CALL = 10,
    R_ARM_THM_PC8 = 11, R_ARM_GOTOFF32 = 24, R_ARM_BASE_PREL = 25, R_ARM_GOT_BREL = 26,
    R_ARM_THM_JUMP24 = 30,
    R_ARM_TARGET1 = 38, R_ARM_V4BX = 40, R_ARM_PREL31 = 42,
    R_ARM_MOVW_ABS_NC = 43, R_ARM_MOVT_ABS = 44, R_ARM_THM_MOVW_ABS_NC = 47,
    R_ARM_THM_MOVT_ABS = 48, R_ARM_THM_MOVW_PREL_NC = 49, R_ARM_THM_MOVT_PREL = 50,
    R_ARM_THM_JUMP19 = 51, R_ARM_THM_ALU_PREL_11_0 = 53, R_ARM_THM_PC12 = 54,
    R_ARM_GOT_PREL = 96, R_ARM_THM_JUMP11 = 102, R_ARM_THM_JUMP8 = 103,
};

static const char *thumb_reloc_name(uint32_t t) {
    switch (t) {
    case R_ARM_NONE: return "R_ARM_NONE";
    case 1: return "R_ARM_PC24";
    case R_ARM_ABS32: return "R_ARM_ABS32";
    case R_ARM_REL32: return "R_ARM_REL32";
    case 4: return "R_ARM_LDR_PC_G0";
    case 5: return "R_ARM_ABS16";
    case 6: return "R_ARM_ABS12";
    case 7: return "R_ARM_THM_ABS5";
    case 8: return "R_ARM_ABS8";
    case 9: return "R_ARM_SBREL32";
    case R_ARM_THM_CALL: return "R_ARM_THM_CALL";
    case R_ARM_THM_PC8: return "R_ARM_THM_PC8";
    case R_ARM_GOTOFF32: return "R_ARM_GOTOFF32";
    case R_ARM_BASE_PREL: return "R_ARM_BASE_PREL";
    case R_ARM_GOT_BREL: return "R_ARM_GOT_BREL";
    case 27: return "R_ARM_PLT32";
    case 28: return "R_ARM_CALL";
    case 29: return "R_ARM_JUMP24";
    case R_ARM_THM_JUMP24: return "R_ARM_THM_JUMP24";
    case R_ARM_TARGET1: return "R_ARM_TARGET1";
    case 41: return "R_ARM_TARGET2";
    case R_ARM_V4BX: return "R_ARM_V4BX";
    case R_ARM_PREL31: return "R_ARM_PREL31";
    case R_ARM_MOVW_ABS_NC: return "R_ARM_MOVW_ABS_NC";
    case R_ARM_MOVT_ABS: return "R_ARM_MOVT_ABS";
    case 45: return "R_ARM_MOVW_PREL_NC";
    case 46: return "R_ARM_MOVT_PREL";
    case R_ARM_THM_MOVW_ABS_NC: return "R_ARM_THM_MOVW_ABS_NC";
    case R_ARM_THM_MOVT_ABS: return "R_ARM_THM_MOVT_ABS";
    case R_ARM_THM_MOVW_PREL_NC: return "R_ARM_THM_MOVW_PREL_NC";
    case R_ARM_THM_MOVT_PREL: return "R_ARM_THM_MOVT_PREL";
    case R_ARM_THM_JUMP19: return "R_ARM_THM_JUMP19";
    case R_ARM_THM_ALU_PREL_11_0: return "R_ARM_THM_ALU_PREL_11_0";
    case R_ARM_THM_PC12: return "R_ARM_THM_PC12";
    case R_ARM_GOT_PREL: return "R_ARM_GOT_PREL";
    case R_ARM_THM_JUMP11: return "R_ARM_THM_JUMP11";
    case R_ARM_THM_JUMP8: return "R_ARM_THM_JUMP8";
    default: return NULL;
    }
}

static int thumb_classify(uint32_t t, const char **why) {
    switch (t) {
    case R_ARM_NONE:
    case R_ARM_V4BX:
        return NML_R_IGNORE;
    case R_ARM_ABS32:
    case R_ARM_TARGET1:
        return NML_R_ABS;
    case R_ARM_REL32:
    case R_ARM_THM_JUMP19:
    case R_ARM_THM_PC8:
    case R_ARM_THM_PC12:
        return NML_R_PCREL;
    case R_ARM_THM_CALL:
    case R_ARM_THM_JUMP24:
    case R_ARM_THM_JUMP11:
    case R_ARM_THM_JUMP8:
        return NML_R_BRANCH;
    case R_ARM_MOVW_ABS_NC:
    case R_ARM_MOVT_ABS:
    case R_ARM_THM_MOVW_ABS_NC:
    case R_ARM_THM_MOVT_ABS:
        *why = "MOVW/MOVT absolute address not supported (no load-time relocation kind for it): "
               "do not use -mpure-code/-mslow-flash-data";
        return NML_R_UNSUPPORTED;
    /* -fpic code (the .mpy back-end's packed layout only; the core refuses
     * them where TEXT and RW are placed independently) */
    case R_ARM_GOT_BREL:
        return NML_R_GOTREL;
    case R_ARM_GOT_PREL:
        return NML_R_GOT;
    case R_ARM_BASE_PREL:
        return NML_R_GOTPC;
    case R_ARM_GOTOFF32:
        return NML_R_GOTOFF;
    case R_ARM_PREL31:
        *why = "R_ARM_PREL31 outside .ARM.exidx not supported";
        return NML_R_UNSUPPORTED;
    default:
        *why = "relocation type not supported";
        return NML_R_UNSUPPORTED;
    }
}

static unsigned thumb_width(uint32_t t) {
    switch (t) {
    case R_ARM_NONE:
    case R_ARM_V4BX:
        return 0;
    case R_ARM_THM_JUMP11:
    case R_ARM_THM_JUMP8:
    case R_ARM_THM_PC8:
        return 2;
    default:
        return 4;
    }
}

static int64_t sext(uint32_t v, unsigned bits) {
    uint32_t m = 1u << (bits - 1);
    return (int64_t)(int32_t)((v ^ m) - m);
}

/* BL / B.W (T4) displacement: S:I1:I2:imm10:imm11:0, I = NOT(J XOR S) */
static int64_t decode_bl(const uint8_t *p) {
    uint32_t h1 = nml_rd16(p), h2 = nml_rd16(p + 2);
    uint32_t s = (h1 >> 10) & 1, j1 = (h2 >> 13) & 1, j2 = (h2 >> 11) & 1;
    uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
    uint32_t v = (s << 24) | (i1 << 23) | (i2 << 22) | ((h1 & 0x3ff) << 12) | ((h2 & 0x7ff) << 1);
    return sext(v, 25);
}

static int64_t thumb_implicit_addend(uint32_t t, const uint8_t *p) {
    uint32_t h1 = nml_rd16(p);
    switch (t) {
    case R_ARM_ABS32:
    case R_ARM_TARGET1:
    case R_ARM_REL32:
    case R_ARM_GOT_BREL:
    case R_ARM_GOT_PREL:
    case R_ARM_BASE_PREL:
    case R_ARM_GOTOFF32:
        return (int32_t)nml_rd32(p);
    case R_ARM_THM_CALL:
    case R_ARM_THM_JUMP24:
        return decode_bl(p);
    case R_ARM_THM_JUMP19: {
        uint32_t h2 = nml_rd16(p + 2);
        uint32_t v = (((h1 >> 10) & 1) << 20) | (((h2 >> 11) & 1) << 19) | (((h2 >> 13) & 1) << 18) |
                     ((h1 & 0x3f) << 12) | ((h2 & 0x7ff) << 1);
        return sext(v, 21);
    }
    case R_ARM_THM_JUMP11:
        return sext((h1 & 0x7ff) << 1, 12);
    case R_ARM_THM_JUMP8:
        return sext((h1 & 0xff) << 1, 9);
    case R_ARM_THM_PC8:
        /* the PC bias (-4) is folded into the 8-bit field modulo 1024, as binutils does */
        return (int64_t)((((h1 & 0xff) << 2) + 4) & 0x3ff) - 4;
    case R_ARM_THM_PC12: {
        uint32_t imm = nml_rd16(p + 2) & 0xfff;
        return (h1 & 0x80) ? (int64_t)imm : -(int64_t)imm;
    }
    default:
        return 0;
    }
}

static int thumb_apply(uint32_t t, uint8_t *p, uint64_t P, int64_t v, const char **why) {
    uint32_t h1 = nml_rd16(p);
    uint32_t h2 = thumb_width(t) == 4 ? nml_rd16(p + 2) : 0;
    switch (t) {
    case R_ARM_ABS32:
    case R_ARM_TARGET1:
        nml_wr32(p, (uint32_t)v);
        return NM_OK;
    case R_ARM_REL32:
    case R_ARM_GOT_BREL:
    case R_ARM_GOT_PREL:
    case R_ARM_BASE_PREL:
    case R_ARM_GOTOFF32:
        if (v < INT32_MIN || v > INT32_MAX) {
            break;
        }
        nml_wr32(p, (uint32_t)v);
        return NM_OK;
    case R_ARM_THM_CALL:
    case R_ARM_THM_JUMP24: {
        if (v < -(1 << 24) || v >= (1 << 24)) {
            break;
        }
        uint32_t u = (uint32_t)v;
        uint32_t s = (u >> 24) & 1, i1 = (u >> 23) & 1, i2 = (u >> 22) & 1;
        uint32_t j1 = (~(i1 ^ s)) & 1, j2 = (~(i2 ^ s)) & 1;
        h1 = 0xf000 | (s << 10) | ((u >> 12) & 0x3ff);
        h2 = (h2 & 0xd000) | (j1 << 13) | (j2 << 11) | ((u >> 1) & 0x7ff);
        if (t == R_ARM_THM_CALL) {
            h2 |= 0x1000; /* BLX to a Thumb target becomes BL (M-profile is Thumb only) */
        }
        nml_wr16(p, (uint16_t)h1);
        nml_wr16(p + 2, (uint16_t)h2);
        return NM_OK;
    }
    case R_ARM_THM_JUMP19: {
        if (v < -(1 << 20) || v >= (1 << 20)) {
            break;
        }
        uint32_t u = (uint32_t)v;
        h1 = (h1 & 0xfbc0) | (((u >> 20) & 1) << 10) | ((u >> 12) & 0x3f);
        h2 = (h2 & 0xd000) | (((u >> 18) & 1) << 13) | (((u >> 19) & 1) << 11) | ((u >> 1) & 0x7ff);
        nml_wr16(p, (uint16_t)h1);
        nml_wr16(p + 2, (uint16_t)h2);
        return NM_OK;
    }
    case R_ARM_THM_JUMP11:
        if (v < -2048 || v > 2047) {
            break;
        }
        nml_wr16(p, (uint16_t)((h1 & 0xf800) | (((uint32_t)v >> 1) & 0x7ff)));
        return NM_OK;
    case R_ARM_THM_JUMP8:
        if (v < -256 || v > 255) {
            break;
        }
        nml_wr16(p, (uint16_t)((h1 & 0xff00) | (((uint32_t)v >> 1) & 0xff)));
        return NM_OK;
    case R_ARM_THM_PC8:
        v += (int64_t)(P & 3); /* relative to Align(PC, 4) */
        if (v < 0 || v > 1020 || (v & 3)) {
            break;
        }
        nml_wr16(p, (uint16_t)((h1 & 0xff00) | (uint32_t)(v >> 2)));
        return NM_OK;
    case R_ARM_THM_PC12:
        v += (int64_t)(P & 3);
        if (v < -4095 || v > 4095) {
            break;
        }
        h1 = v >= 0 ? (h1 | 0x80) : (h1 & ~0x80u);
        h2 = (h2 & 0xf000) | (uint32_t)(v >= 0 ? v : -v);
        nml_wr16(p, (uint16_t)h1);
        nml_wr16(p + 2, (uint16_t)h2);
        return NM_OK;
    default:
        *why = "relocation type not supported";
        return NM_ERR_RELOC;
    }
    *why = "target out of range";
    return NM_ERR_RELOC;
}

/* ARMv6-M compatible veneer, 4-aligned: loads the import's address from its
 * GOT slot, whose RW address is the literal at +12. Text thus holds no
 * firmware address, so an XIP-linked module survives a firmware update that
 * moves the functions it calls (docs/xip.md). */
static void thumb_write_stub(uint8_t *p, uint64_t at, uint64_t got) {
    static const uint16_t code[6] = {
        0xb401, /* push {r0} */
        0x4802, /* ldr r0, [pc, #8]  -> literal at +12 */
        0x6800, /* ldr r0, [r0]      the GOT slot */
        0x4684, /* mov ip, r0 */
        0xbc01, /* pop {r0} */
        0x4760, /* bx ip */
    };
    (void)at;
    (void)got;
    for (int i = 0; i < 6; i++) {
        nml_wr16(p + 2 * i, code[i]);
    }
    nml_wr32(p + 12, 0); /* the core writes the slot's RW offset and its relocation */
}

/* The entry jump: B.N (T2) if it reaches; else B.W (T4) on ARMv7-M and up;
 * on ARMv6-M, which has no B.W, push {r4, lr}; bl; pop {r4, pc} (keeps r0-r3
 * for the call and r0 for the return, and the stack 8-aligned). */
static unsigned thumb_jump_size(unsigned arch, int64_t to) {
    if (to - 4 >= -2048 && to - 4 <= 2046) {
        return 2;
    }
    return arch == NM_ARCH_ARMV6M ? 8 : 4;
}

static void encode_bl(uint8_t *p, int64_t v, int link) {
    uint32_t u = (uint32_t)v;
    uint32_t s = (u >> 24) & 1, i1 = (u >> 23) & 1, i2 = (u >> 22) & 1;
    uint32_t j1 = (~(i1 ^ s)) & 1, j2 = (~(i2 ^ s)) & 1;
    nml_wr16(p, (uint16_t)(0xf000 | (s << 10) | ((u >> 12) & 0x3ff)));
    nml_wr16(p + 2, (uint16_t)((link ? 0xd000 : 0x9000) | (j1 << 13) | (j2 << 11) | ((u >> 1) & 0x7ff)));
}

static void thumb_write_jump(uint8_t *p, unsigned arch, int64_t to) {
    switch (thumb_jump_size(arch, to)) {
    case 2:
        nml_wr16(p, (uint16_t)(0xe000 | (((uint32_t)(to - 4) >> 1) & 0x7ff)));
        break;
    case 4:
        encode_bl(p, to - 4, 0);
        break;
    default:
        nml_wr16(p, 0xb510); /* push {r4, lr} */
        encode_bl(p + 2, to - 6, 1);
        nml_wr16(p + 6, 0xbd10); /* pop {r4, pc} */
        break;
    }
}

/* ULEB128 at *pos within [0, end); 0 on overflow or truncation. */
static int uleb(const uint8_t *d, size_t end, size_t *pos, uint32_t *out) {
    uint32_t v = 0;
    for (unsigned shift = 0; *pos < end && shift < 35; shift += 7) {
        uint8_t b = d[(*pos)++];
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* gcc does not set EF_ARM_ABI_FLOAT_* in relocatable objects; the float
 * calling convention is Tag_ABI_VFP_args (28) in the "aeabi" build
 * attributes. Anything malformed here just means "does not say". */
static int thumb_float_abi(const nml_obj_t *o) {
    if (o->eflags & 0x400) {
        return NM_FLOAT_HARD;
    }
    if (o->eflags & 0x200) {
        return NM_FLOAT_SOFT;
    }
    for (uint32_t i = 1; i < o->nsecs; i++) {
        const nml_sec_t *s = &o->secs[i];
        if (s->type != 0x70000003u /* SHT_ARM_ATTRIBUTES */ || s->size < 1) {
            continue;
        }
        const uint8_t *d = o->data + s->offset;
        size_t n = (size_t)s->size, pos = 1;
        if (d[0] != 'A') {
            return -1;
        }
        while (n - pos >= 4) {
            uint32_t len = nml_rd32(d + pos);
            if (len < 4 || len > n - pos) {
                return -1;
            }
            size_t end = pos + len, p = pos + 4;
            const uint8_t *vendor = d + p;
            while (p < end && d[p]) {
                p++;
            }
            p++;
            if (p > end || memcmp(vendor, "aeabi", 6) != 0) {
                pos = end;
                continue;
            }
            while (end - p >= 5) {
                uint8_t tag = d[p];
                uint32_t sublen = nml_rd32(d + p + 1);
                if (sublen < 5 || sublen > end - p) {
                    return -1;
                }
                size_t subend = p + sublen, q = p + 5;
                if (tag == 1) { /* Tag_File */
                    while (q < subend) {
                        uint32_t t, v;
                        if (!uleb(d, subend, &q, &t)) {
                            return -1;
                        }
                        if (t == 32 && !uleb(d, subend, &q, &v)) { /* Tag_compatibility: ULEB then string */
                            return -1;
                        }
                        if (t == 4 || t == 5 || t == 67 || t == 32 || (t > 32 && (t & 1))) {
                            while (q < subend && d[q]) {
                                q++;
                            }
                            q++;
                            continue;
                        }
                        if (!uleb(d, subend, &q, &v)) {
                            return -1;
                        }
                        if (t == 28) { /* Tag_ABI_VFP_args */
                            return v == 0 ? NM_FLOAT_SOFT : v == 1 ? NM_FLOAT_HARD : -1;
                        }
                    }
                }
                p = subend;
            }
            pos = end;
        }
    }
    return -1;
}

const nml_arch_t nml_arch_thumb = {
    .name = "thumb",
    .machine = NML_EM_ARM,
    .elfclass = 1,
    .ptr_size = 4,
    .min_align_log2 = 2,
    .thumb = 1,
    .rw_pcrel = 0,
    .stub_size = 16,
    .stub_align = 4,
    .stub_uses_got = 1,
    .stub_lit = 12,
    .reloc_name = thumb_reloc_name,
    .classify = thumb_classify,
    .width = thumb_width,
    .implicit_addend = thumb_implicit_addend,
    .apply = thumb_apply,
    .write_stub = thumb_write_stub,
    .jump_size = thumb_jump_size,
    .write_jump = thumb_write_jump,
    .float_abi = thumb_float_abi,
};
