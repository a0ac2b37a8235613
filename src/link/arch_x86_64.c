/*
 * x86-64 relocations (RELA). Modules are -fPIC: code reaches its data and
 * the GOT RIP-relatively, so the core keeps RW at a fixed distance from text
 * (NM_FLAG_RW_PCREL) and only 64-bit absolute pointers and GOT slots need
 * load-time relocation. Calls to imports go through a 6-byte stub
 * `jmp *GOT[i](%rip)` so that a `call rel32` never has to reach the firmware.
 */
#include "link/link_internal.h"

enum {
    R_X86_64_NONE = 0, R_X86_64_64 = 1, R_X86_64_PC32 = 2, R_X86_64_GOT32 = 3,
    R_X86_64_PLT32 = 4, R_X86_64_GOTPCREL = 9, R_X86_64_32 = 10, R_X86_64_32S = 11,
    R_X86_64_16 = 12, R_X86_64_PC16 = 13, R_X86_64_8 = 14, R_X86_64_PC8 = 15,
    R_X86_64_DTPMOD64 = 16, R_X86_64_TPOFF32 = 23, R_X86_64_PC64 = 24,
    R_X86_64_GOTOFF64 = 25, R_X86_64_GOTPC32 = 26, R_X86_64_GOT64 = 27,
    R_X86_64_GOTPCREL64 = 28, R_X86_64_GOTPC64 = 29, R_X86_64_GOTPLT64 = 30,
    R_X86_64_PLTOFF64 = 31, R_X86_64_SIZE32 = 32, R_X86_64_SIZE64 = 33,
    R_X86_64_GOTPC32_TLSDESC = 34, R_X86_64_TLSDESC_CALL = 35, R_X86_64_TLSDESC = 36,
    R_X86_64_IRELATIVE = 37, R_X86_64_GOTPCRELX = 41, R_X86_64_REX_GOTPCRELX = 42,
};

static const char *x64_reloc_name(uint32_t t) {
    static const char *const names[] = {
        "R_X86_64_NONE", "R_X86_64_64", "R_X86_64_PC32", "R_X86_64_GOT32", "R_X86_64_PLT32",
        "R_X86_64_COPY", "R_X86_64_GLOB_DAT", "R_X86_64_JUMP_SLOT", "R_X86_64_RELATIVE",
        "R_X86_64_GOTPCREL", "R_X86_64_32", "R_X86_64_32S", "R_X86_64_16", "R_X86_64_PC16",
        "R_X86_64_8", "R_X86_64_PC8", "R_X86_64_DTPMOD64", "R_X86_64_DTPOFF64",
        "R_X86_64_TPOFF64", "R_X86_64_TLSGD", "R_X86_64_TLSLD", "R_X86_64_DTPOFF32",
        "R_X86_64_GOTTPOFF", "R_X86_64_TPOFF32", "R_X86_64_PC64", "R_X86_64_GOTOFF64",
        "R_X86_64_GOTPC32", "R_X86_64_GOT64", "R_X86_64_GOTPCREL64", "R_X86_64_GOTPC64",
        "R_X86_64_GOTPLT64", "R_X86_64_PLTOFF64", "R_X86_64_SIZE32", "R_X86_64_SIZE64",
        "R_X86_64_GOTPC32_TLSDESC", "R_X86_64_TLSDESC_CALL", "R_X86_64_TLSDESC",
        "R_X86_64_IRELATIVE", "R_X86_64_RELATIVE64", NULL, NULL, "R_X86_64_GOTPCRELX",
        "R_X86_64_REX_GOTPCRELX",
    };
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : NULL;
}

static int x64_classify(uint32_t t, const char **why) {
    switch (t) {
    case R_X86_64_NONE:
        return NML_R_IGNORE;
    case R_X86_64_64:
        return NML_R_ABS;
    case R_X86_64_PC32:
    case R_X86_64_PC64:
        return NML_R_PCREL;
    case R_X86_64_PLT32:
        return NML_R_BRANCH;
    case R_X86_64_GOTPCREL:
    case R_X86_64_GOTPCRELX:
    case R_X86_64_REX_GOTPCRELX:
    case R_X86_64_GOTPCREL64:
        return NML_R_GOT;
    case R_X86_64_GOTPC32:
    case R_X86_64_GOTPC64:
        return NML_R_GOTPC;
    case R_X86_64_GOTOFF64:
        return NML_R_GOTOFF;
    case R_X86_64_32:
    case R_X86_64_32S:
        *why = "absolute 32-bit relocation: compile with -fPIC";
        return NML_R_UNSUPPORTED;
    case R_X86_64_16:
    case R_X86_64_8:
    case R_X86_64_PC16:
    case R_X86_64_PC8:
        *why = "8/16-bit relocation not supported";
        return NML_R_UNSUPPORTED;
    default:
        if ((t >= R_X86_64_DTPMOD64 && t <= R_X86_64_TPOFF32) ||
            (t >= R_X86_64_GOTPC32_TLSDESC && t <= R_X86_64_TLSDESC)) {
            *why = "thread-local storage not supported";
        } else {
            *why = "relocation type not supported";
        }
        return NML_R_UNSUPPORTED;
    }
}

static unsigned x64_width(uint32_t t) {
    switch (t) {
    case R_X86_64_64:
    case R_X86_64_PC64:
    case R_X86_64_GOTPCREL64:
    case R_X86_64_GOTPC64:
    case R_X86_64_GOTOFF64:
        return 8;
    case R_X86_64_NONE:
        return 0;
    default:
        return 4;
    }
}

static int64_t x64_implicit_addend(uint32_t t, const uint8_t *p) {
    /* x86-64 uses RELA; a REL section would carry the addend in place */
    return x64_width(t) == 8 ? (int64_t)nml_rd64(p) : x64_width(t) == 4 ? (int32_t)nml_rd32(p) : 0;
}

static int x64_apply(uint32_t t, uint8_t *p, size_t room, uint64_t P, int64_t v, const char **why) {
    (void)P;
    (void)room;
    if (x64_width(t) == 8) {
        nml_wr64(p, (uint64_t)v);
        return NM_OK;
    }
    if (v < INT32_MIN || v > INT32_MAX) {
        *why = "out of range for a signed 32-bit field";
        return NM_ERR_RELOC;
    }
    nml_wr32(p, (uint32_t)(int32_t)v);
    return NM_OK;
}

/* jmp *got(%rip): ff 25 <rel32 from the end of the 6-byte instruction> */
static void x64_write_stub(uint8_t *p, uint64_t at, uint64_t got) {
    p[0] = 0xff;
    p[1] = 0x25;
    nml_wr32(p + 2, (uint32_t)(int32_t)(int64_t)(got - (at + 6)));
}

/* jmp rel8 (eb) or jmp rel32 (e9), relative to the end of the instruction */
static unsigned x64_jump_size(unsigned arch, int64_t to) {
    (void)arch;
    return to - 2 >= -128 && to - 2 <= 127 ? 2 : 5;
}

static void x64_write_jump(uint8_t *p, unsigned arch, int64_t to) {
    if (x64_jump_size(arch, to) == 2) {
        p[0] = 0xeb;
        p[1] = (uint8_t)(int8_t)(to - 2);
    } else {
        p[0] = 0xe9;
        nml_wr32(p + 1, (uint32_t)(int32_t)(to - 5));
    }
}

const nml_arch_t nml_arch_x86_64 = {
    .name = "x86_64",
    .machine = NML_EM_X86_64,
    .elfclass = 2,
    .ptr_size = 8,
    .min_align_log2 = 4,
    .thumb = 0,
    .rw_pcrel = 1,
    .stub_size = 6,
    .stub_align = 2,
    .stub_uses_got = 1,
    .stub_lit = -1,
    .reloc_name = x64_reloc_name,
    .classify = x64_classify,
    .width = x64_width,
    .implicit_addend = x64_implicit_addend,
    .apply = x64_apply,
    .write_stub = x64_write_stub,
    .jump_size = x64_jump_size,
    .write_jump = x64_write_jump,
};
