/*
 * natmod ABI constants shared by the host tools and the target runtime.
 *
 * Everything that must agree between the linker that writes a module and the
 * loader that reads it lives here, once: architecture ids, float ABI ids, the
 * name hash and the rule for which module architecture a board can run.
 * Freestanding: this header needs only <stdint.h> and <stddef.h>.
 */
#ifndef NATMOD_ABI_H
#define NATMOD_ABI_H

#include <stddef.h>
#include <stdint.h>

/* Architecture ids. The numbers are MicroPython's `.mpy` arch codes
 * (py/persistentcode.h), so one table serves both back-ends. */
enum nm_arch {
    NM_ARCH_NONE = 0,
    NM_ARCH_X86 = 1,
    NM_ARCH_X64 = 2,
    NM_ARCH_ARMV6 = 3,
    NM_ARCH_ARMV6M = 4,
    NM_ARCH_ARMV7M = 5,
    NM_ARCH_ARMV7EM = 6,
    NM_ARCH_ARMV7EMSP = 7,
    NM_ARCH_ARMV7EMDP = 8,
    NM_ARCH_XTENSA = 9,
    NM_ARCH_XTENSAWIN = 10,
    NM_ARCH_RV32IMC = 11,
    NM_ARCH_RV64IMC = 12,
    NM_ARCH_COUNT = 13,
};

/* Float calling convention of the module's interface.
 * SOFT: floats in core registers (AAPCS base); HARD: floats in FPU registers
 * (AAPCS-VFP, and x86-64's SSE convention). A module and a board must agree. */
enum nm_float_abi {
    NM_FLOAT_SOFT = 0,
    NM_FLOAT_HARD = 1,
};

/* Name of an arch id ("armv7m"), or "unknown" for an id outside the table. */
static inline const char *nm_arch_name(unsigned arch) {
    static const char *const names[NM_ARCH_COUNT] = {
        "none", "x86", "x86_64", "armv6", "armv6m", "armv7m", "armv7em",
        "armv7emsp", "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc",
    };
    return arch < NM_ARCH_COUNT ? names[arch] : "unknown";
}

static inline const char *nm_float_name(unsigned fabi) {
    return fabi == NM_FLOAT_SOFT ? "soft" : fabi == NM_FLOAT_HARD ? "hard" : "unknown";
}

/* Pointer size in bytes of an arch (0 for an unknown id). */
static inline unsigned nm_arch_ptr_size(unsigned arch) {
    switch (arch) {
    case NM_ARCH_X64:
    case NM_ARCH_RV64IMC:
        return 8;
    case NM_ARCH_NONE:
        return 0;
    default:
        return arch < NM_ARCH_COUNT ? 4 : 0;
    }
}

static inline int nm_arch_is_thumb(unsigned arch) {
    return arch >= NM_ARCH_ARMV6M && arch <= NM_ARCH_ARMV7EMDP;
}

/* Can a board of (board_arch, board_float) run a module of (mod_arch, mod_float)?
 * Same arch runs; on Thumb a board runs any Thumb module arch up to its own
 * (armv6m < armv7m < armv7em < armv7emsp < armv7emdp), as MicroPython does.
 * The float ABI must match exactly: it changes how arguments are passed. */
static inline int nm_arch_can_run(unsigned board_arch, unsigned board_float,
                                  unsigned mod_arch, unsigned mod_float) {
    if (board_float != mod_float) {
        return 0;
    }
    if (board_arch == mod_arch) {
        return board_arch != NM_ARCH_NONE && board_arch < NM_ARCH_COUNT;
    }
    return nm_arch_is_thumb(board_arch) && nm_arch_is_thumb(mod_arch) && mod_arch <= board_arch;
}

/* 32-bit FNV-1a hash of a NUL-terminated name: the import/export key. */
static inline uint32_t nm_hash(const char *name) {
    uint32_t h = 2166136261u;
    while (*name) {
        h ^= (uint8_t)*name++;
        h *= 16777619u;
    }
    return h;
}

/* The same hash over a counted string (no NUL needed). */
static inline uint32_t nm_hash_n(const char *name, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 16777619u;
    }
    return h;
}

#endif /* NATMOD_ABI_H */
