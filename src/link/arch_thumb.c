/*
 * Thumb (ARMv6-M, ARMv7-M, ARMv7E-M) relocations (REL: addends live in the
 * instruction bits). Modules are compiled non-PIC: data addresses come from
 * literal pools (R_ARM_ABS32, relocated at load time) so TEXT and RW can be
 * placed independently. A BL/B.W to an import goes through a veneer that
 * loads the import's address from its GOT slot (the slot's address is a
 * literal), which works on ARMv6-M too (no ldr.w pc), keeping the branch
 * itself inside the module and firmware addresses out of text.
 */
#include <stdio.h>
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

static int thumb_apply(uint32_t t, uint8_t *p, size_t room, uint64_t P, int64_t v, const char **why) {
    (void)room;
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

/* ---- build attributes (.ARM.attributes) ----
 *
 * What the code of an object needs is in its "aeabi" build attributes
 * (ARM IHI 0045, Addenda to the ARM ABI): Tag_CPU_arch, Tag_CPU_arch_profile
 * and the float calling convention Tag_ABI_VFP_args. The section is
 *   'A' { u32 length, vendor NUL, ...: for "aeabi": { tag ULEB, u32 size,
 *   attributes } ... } ...
 * with lengths and sizes counting their own fields. It is untrusted input:
 * every length is checked against what contains it, every ULEB is bounded,
 * every string must end inside its sub-subsection; anything else is a
 * malformed object. Only file-scope attributes (Tag_File) are read: gcc,
 * clang and gas write nothing else. */

enum {
    SHT_ARM_ATTRIBUTES = 0x70000003u,
    TAG_FILE = 1,
    TAG_CPU_RAW_NAME = 4, TAG_CPU_NAME = 5, TAG_CPU_ARCH = 6, TAG_CPU_ARCH_PROFILE = 7,
    TAG_ABI_VFP_ARGS = 28, TAG_COMPATIBILITY = 32, TAG_CONFORMANCE = 67,
};

/* Tag_CPU_arch values, as the ARM ABI addenda and binutils number them: the index is the value. */
static const char *const cpu_arch_names[] = {
    "pre-ARMv4", "ARMv4", "ARMv4T", "ARMv5T", "ARMv5TE", "ARMv5TEJ", "ARMv6", "ARMv6KZ", "ARMv6T2",
    "ARMv6K", "ARMv7", "ARMv6-M", "ARMv6S-M", "ARMv7E-M", "ARMv8-A", "ARMv8-R", "ARMv8-M.base",
    "ARMv8-M.main", "ARMv8.1-A", "ARMv8.2-A", "ARMv8.3-A", "ARMv8.1-M.main", "ARMv9-A",
};

typedef struct arm_attrs {
    int32_t cpu_arch; /* Tag_CPU_arch, -1 if not said */
    int32_t profile;  /* Tag_CPU_arch_profile: 'A', 'R', 'M', 'S', 0; -1 if not said */
    int32_t vfp_args; /* Tag_ABI_VFP_args, -1 if not said */
} arm_attrs_t;

/* ULEB128 at *pos, before end; 0 if it runs past end or exceeds 32 bits. */
static int uleb(const uint8_t *d, size_t end, size_t *pos, uint32_t *out) {
    uint32_t v = 0;
    for (unsigned shift = 0; *pos < end && shift < 35; shift += 7) {
        uint8_t b = d[(*pos)++];
        if (shift == 28 && (b & 0x70)) {
            return 0;
        }
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Past a NUL-terminated string at *pos, before end; 0 if it does not end there. */
static int skip_ntbs(const uint8_t *d, size_t end, size_t *pos) {
    const uint8_t *nul = *pos < end ? memchr(d + *pos, 0, end - *pos) : NULL;
    if (!nul) {
        return 0;
    }
    *pos = (size_t)(nul - d) + 1;
    return 1;
}

static int attr_fail(const nml_obj_t *o, uint32_t si, size_t at, const char *what, nml_err_t *e) {
    return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): malformed build attributes at offset 0x%zx: %s", o->name,
                    si, o->secs[si].name, at, what);
}

/* The file-scope attributes in d[p, end) into a. */
static int parse_file_attrs(const nml_obj_t *o, uint32_t si, const uint8_t *d, size_t p, size_t end,
                            arm_attrs_t *a, nml_err_t *e) {
    while (p < end) {
        size_t at = p;
        uint32_t tag, v = 0;
        if (!uleb(d, end, &p, &tag)) {
            return attr_fail(o, si, at, "tag number runs past its sub-subsection or exceeds 32 bits", e);
        }
        /* Tag_compatibility: a flag then a vendor name; 4, 5, 67 and odd tags
         * above 32: a string; every other tag: a ULEB. */
        int str = tag == TAG_CPU_RAW_NAME || tag == TAG_CPU_NAME || tag == TAG_CONFORMANCE ||
                  tag == TAG_COMPATIBILITY || (tag > 32 && (tag & 1));
        if ((!str || tag == TAG_COMPATIBILITY) && !uleb(d, end, &p, &v)) {
            return attr_fail(o, si, at, "value runs past its sub-subsection or exceeds 32 bits", e);
        }
        if (str && !skip_ntbs(d, end, &p)) {
            return attr_fail(o, si, at, "string value without its NUL", e);
        }
        if (tag == TAG_CPU_ARCH) {
            a->cpu_arch = (int32_t)(v > 0xffff ? 0xffff : v);
        } else if (tag == TAG_CPU_ARCH_PROFILE) {
            a->profile = (int32_t)(v > 0xff ? 0xff : v);
        } else if (tag == TAG_ABI_VFP_ARGS) {
            a->vfp_args = (int32_t)(v > 0xff ? 0xff : v);
        }
    }
    return NM_OK;
}

/* The "aeabi" attributes of every SHT_ARM_ATTRIBUTES section of o. */
static int parse_attrs(const nml_obj_t *o, arm_attrs_t *a, nml_err_t *e) {
    a->cpu_arch = a->profile = a->vfp_args = -1;
    for (uint32_t si = 1; si < o->nsecs; si++) {
        const nml_sec_t *s = &o->secs[si];
        if (s->type != SHT_ARM_ATTRIBUTES || s->size == 0) {
            continue;
        }
        const uint8_t *d = o->data + s->offset; /* inside the file: elf.c checked it */
        size_t n = (size_t)s->size, pos = 1;
        if (d[0] != 'A') {
            return attr_fail(o, si, 0, "format version is not 'A'", e);
        }
        while (pos < n) {
            if (n - pos < 4) {
                return attr_fail(o, si, pos, "subsection length runs past the section", e);
            }
            uint32_t len = nml_rd32(d + pos);
            if (len < 5 || len > n - pos) {
                return attr_fail(o, si, pos, "subsection length smaller than its header or past the section", e);
            }
            size_t end = pos + len, p = pos + 4;
            const uint8_t *vendor = d + p;
            if (!skip_ntbs(d, end, &p)) {
                return attr_fail(o, si, pos + 4, "vendor name without its NUL", e);
            }
            if (strcmp((const char *)vendor, "aeabi") != 0) {
                pos = end; /* another vendor's: not ours to read */
                continue;
            }
            while (p < end) {
                size_t at = p;
                uint32_t tag;
                if (!uleb(d, end, &p, &tag) || end - p < 4) {
                    return attr_fail(o, si, at, "sub-subsection header runs past its subsection", e);
                }
                uint32_t size = nml_rd32(d + p);
                if (size < p + 4 - at || size > end - at) {
                    return attr_fail(o, si, at, "sub-subsection size smaller than its header or past its subsection",
                                     e);
                }
                size_t sub_end = at + size;
                if (tag == TAG_FILE) {
                    int err = parse_file_attrs(o, si, d, p + 4, sub_end, a, e);
                    if (err) {
                        return err;
                    }
                }
                p = sub_end; /* Tag_Section, Tag_Symbol: per-section/symbol, not read */
            }
            pos = end;
        }
    }
    return NM_OK;
}

/* The CPU the arch's compiler flags name, for advice. */
static const char *arch_cpu(unsigned arch) {
    switch (arch) {
    case NM_ARCH_ARMV6M: return "cortex-m0";
    case NM_ARCH_ARMV7M: return "cortex-m3";
    case NM_ARCH_ARMV7EMDP: return "cortex-m7";
    default: return "cortex-m4";
    }
}

static const char *arch_arm_name(unsigned arch) {
    return arch == NM_ARCH_ARMV6M ? "ARMv6-M" : arch == NM_ARCH_ARMV7M ? "ARMv7-M" : "ARMv7E-M";
}

/* Can a CPU of arch run code whose Tag_CPU_arch is t? M-profile cores run
 * Thumb code only: the 16-bit Thumb of ARMv4T..ARMv6K runs on all of them,
 * Thumb-2 (ARMv6T2, ARMv7) from ARMv7-M on, the DSP extension (ARMv7E-M)
 * on ARMv7E-M; nothing of ARMv8 on any of them (ARMv8-M baseline has
 * instructions ARMv7-M lacks too). */
static int cpu_arch_runs(unsigned arch, int32_t t) {
    switch (t) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: /* pre-v4 .. v6K */
    case 11: case 12: /* v6-M, v6S-M */
        return 1;
    case 8: case 10: /* v6T2, v7 */
        return arch >= NM_ARCH_ARMV7M;
    case 13: /* v7E-M */
        return arch >= NM_ARCH_ARMV7EM;
    default:
        return 0;
    }
}

/* A local "$a" or "$a.<anything>" mapping symbol in an executable section:
 * ARM (A32) instructions there. Its section index, or 0. */
static uint32_t arm_code_section(const nml_obj_t *o) {
    for (uint32_t i = 1; i < o->nsyms; i++) {
        const nml_sym_t *y = &o->syms[i];
        if (y->bind == NML_STB_LOCAL && y->name[0] == '$' && y->name[1] == 'a' &&
            (y->name[2] == 0 || y->name[2] == '.') && y->shndx != NML_SHN_UNDEF && y->shndx < o->nsecs &&
            (o->secs[y->shndx].flags & (NML_SHF_ALLOC | NML_SHF_EXEC)) == (NML_SHF_ALLOC | NML_SHF_EXEC)) {
            return y->shndx;
        }
    }
    return 0;
}

/* Refuse an object that cannot run on arch or passes floats otherwise:
 * malformed build attributes (NM_ERR_ELF), another float ABI
 * (NM_ERR_FLOAT_ABI), code for a newer architecture, another profile or
 * the ARM instruction set (NM_ERR_ARCH). An object whose attributes do not
 * say (hand-written assembly without .cpu) is taken at its word. */
static int thumb_check_object(const nml_obj_t *o, unsigned arch, unsigned float_abi, nml_err_t *e) {
    arm_attrs_t a;
    int err = parse_attrs(o, &a, e);
    if (err) {
        return err;
    }
    /* gcc does not set EF_ARM_ABI_FLOAT_* in relocatable objects, but others may */
    int f = (o->eflags & 0x400)   ? NM_FLOAT_HARD
            : (o->eflags & 0x200) ? NM_FLOAT_SOFT
            : a.vfp_args == 0     ? NM_FLOAT_SOFT
            : a.vfp_args == 1     ? NM_FLOAT_HARD
                                  : -1;
    if (f >= 0 && (unsigned)f != float_abi) {
        return nml_fail(e, NM_ERR_FLOAT_ABI, "%s: float ABI %s, but linking for %s float", o->name,
                        nm_float_name((unsigned)f), nm_float_name(float_abi));
    }
    int32_t t = a.cpu_arch;
    char what[112], num[24] = "", prof[40] = "";
    int known = t >= 0 && t < (int32_t)(sizeof cpu_arch_names / sizeof cpu_arch_names[0]);
    int ar = a.profile == 'A' || a.profile == 'R' || a.profile == 'S';
    if (ar) {
        snprintf(prof, sizeof prof, "%sTag_CPU_arch_profile '%c'", t >= 0 ? ", " : "", (char)a.profile);
    }
    if (t >= 0) {
        snprintf(num, sizeof num, "Tag_CPU_arch %d", (int)t);
    }
    /* e.g. "ARMv7-A (Tag_CPU_arch 10, Tag_CPU_arch_profile 'A')" */
    snprintf(what, sizeof what, "%s%s (%s%s)",
             known ? cpu_arch_names[t] : t >= 0 ? "an architecture this linker does not know" : "the A or R profile",
             t != 10 ? "" : a.profile == 'M' ? "-M" : a.profile == 'A' ? "-A" : a.profile == 'R' ? "-R" : "", num,
             prof);
    if (ar) {
        return nml_fail(e, NM_ERR_ARCH,
                        "%s: code for %s, not the microcontroller profile of %s (%s), which would fault on it; "
                        "build it with -mthumb -mcpu=%s",
                        o->name, what, nm_arch_name(arch), arch_arm_name(arch), arch_cpu(arch));
    }
    if (t >= 0 && !cpu_arch_runs(arch, t)) {
        return nml_fail(e, NM_ERR_ARCH,
                        "%s: code for %s, newer than %s (%s), which would fault on it; build it with -mcpu=%s (and "
                        "use the libraries of that multilib)",
                        o->name, what, nm_arch_name(arch), arch_arm_name(arch), arch_cpu(arch));
    }
    uint32_t si = arm_code_section(o);
    if (si) {
        return nml_fail(e, NM_ERR_ARCH,
                        "%s: section %u (%s) holds ARM (A32) code (mapping symbol $a): %s (%s) runs Thumb code "
                        "only; build it with -mthumb -mcpu=%s (and use the libraries of that multilib)",
                        o->name, si, o->secs[si].name, nm_arch_name(arch), arch_arm_name(arch), arch_cpu(arch));
    }
    return NM_OK;
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
    .check_object = thumb_check_object,
};
