/*
 * The host linker core: ELF relocatable objects + ar archives in, one linked
 * module out (nm_wmodule_t), handed to a back-end (.nmod now, .mpy later).
 * Layout, symbol resolution, GOT and relocation logic live in the core, once;
 * per-ISA relocation sits behind struct nml_arch (arch_*.c).
 */
#ifndef NATMOD_LINK_H
#define NATMOD_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "format/writer.h"
#include "natmod/error.h"

/* One input: an ELF relocatable object or an ar archive, from a file or memory. */
typedef struct nml_input {
    const char *path;    /* name used in messages (and read from disk if data == NULL) */
    const uint8_t *data; /* optional in-memory contents (fuzzing, tests) */
    size_t size;
} nml_input_t;

typedef struct nml_options {
    uint8_t arch;      /* enum nm_arch: NM_ARCH_X64 or a Thumb arch */
    uint8_t float_abi; /* enum nm_float_abi */
    const char *name;  /* module name (default: first object's base name) */
    const nml_input_t *inputs;
    size_t n_inputs;
    /* Firmware symbol list: one name per line ("name" or "name 0xHASH"), as
     * written by the firmware export build step. NULL: every undefined symbol
     * becomes an import, resolved (or refused) by the loader at run time. */
    const char *syms_path;
    const char *const *extra_exports; /* force these symbols to be exported */
    size_t n_extra_exports;
    int gc_sections; /* 1: drop sections unreachable from the exports */
    int verbose;
    /* For the .mpy back-end (NULL / 0 for .nmod): */
    const char *entry; /* the only root and export: GC keeps what it reaches; its section is
                        * placed first in TEXT, behind a jump if it does not start there */
    int packed;        /* one block: RW right after TEXT (no XIP page layout), so TEXT may reach
                        * RW relatively on every arch (Thumb -fpic GOT code, static data) */
    /* Decides each undefined, non-weak-absent symbol: 1 = an import (not pulled from
     * archives either), 0 = an error, with why[] saying what is missing and what
     * would provide it (why may be NULL, why_len 0: no message wanted). NULL: the
     * syms_path rule. */
    int (*check_import)(void *ctx, const char *name, char *why, size_t why_len);
    void *import_ctx;
    /* Do imports a and b reach the same thing (for .mpy: one mp_fun_table
     * entry, as memcpy and memmove do, or one firmware address)? Then they
     * are one import, with one GOT entry and one stub/veneer. ctx:
     * import_ctx. NULL: only imports of one name are one. */
    int (*same_import)(void *ctx, const char *a, const char *b);
} nml_options_t;

/* A linked module owns every buffer nm_wmodule_t points to. */
typedef struct nml_result {
    nm_wmodule_t mod;
    uint32_t bss_lo;      /* RW offset where bss starts (data_size rounded down to RW's alignment) */
    uint8_t bss_relative; /* bss is reached PC- or GOT-relatively, not only through pointer records */
    uint8_t entry_jump;   /* bytes of jump to the entry at TEXT offset 0 (0: the entry is there) */
    void *priv; /* owned allocations */
} nml_result_t;

/* Link. Returns NM_OK or NM_ERR_*, with a one-line detail naming the object
 * file, section, offset, relocation type and symbol where they apply. */
int nml_link(const nml_options_t *opt, nml_result_t *res, char *detail, size_t detail_len);
void nml_result_free(nml_result_t *res);

/* The C++ name mangled in sym (Itanium C++ ABI, as gcc and clang write it)
 * demangled into out[n] as binutils' c++filt prints it, for the common cases
 * (demangle.c lists them). Returns 1 if out holds the demangled name; 0 if
 * sym is not a mangled name, uses something not covered, or does not fit:
 * out then holds sym as it is (cut to n - 1 bytes). Bounded on any input. */
int nml_demangle(const char *sym, char *out, size_t n);

/* The .nmod back-end: write the linked module as one slice. */
int nml_write_nmod(const nml_result_t *res, uint8_t **out, size_t *out_len, char *detail, size_t detail_len);

/* ---- the .mpy back-end (backend_mpy.c) ---- */

/* What the MicroPython loader provides for an undefined symbol: its
 * relocation destination (NM_MPY_DEST_QSTR_TABLE, _OBJ_TABLE, _FUN_TABLE or
 * NM_MPY_DEST_FUN0 + i, natmod/mpy.h), or -1. */
int nml_mpy_dest_of(const char *name);

/* Absolute symbols a module may use: from a firmware ELF's symbol table or a
 * linker-script symbol file (sym = 0xADDR;). Read with nml_abs_load. */
typedef struct nml_abs_syms nml_abs_syms_t;
/* Load path (a firmware ELF if it starts with the ELF magic, else a symbol
 * file) into *out. NM_OK or NM_ERR_* with a detail naming file and line or
 * section. data/size: the contents already in memory (fuzzing), or NULL. */
int nml_abs_load(const char *path, const uint8_t *data, size_t size, nml_abs_syms_t **out, char *detail,
                 size_t detail_len);
int nml_abs_find(const nml_abs_syms_t *t, const char *name, uint64_t *addr);
size_t nml_abs_count(const nml_abs_syms_t *t);
void nml_abs_free(nml_abs_syms_t *t);

/* nml_options.check_import for .mpy links: a symbol is an import when the
 * loader provides it (nml_mpy_dest_of) or abs defines it; otherwise why says
 * where it was looked for and what would provide it. ctx: nml_mpy_imports_t. */
typedef struct nml_mpy_imports {
    const nml_abs_syms_t *abs;
    const char *abs_path; /* where abs came from, for messages; NULL: none given */
    const char *archives; /* non-empty if archives were given (for messages) */
} nml_mpy_imports_t;
int nml_mpy_check_import(void *ctx, const char *name, char *why, size_t n);
/* nml_options.same_import for .mpy links: the same loader relocation
 * destination (nml_mpy_dest_of), or, for symbols the loader does not
 * provide, the same address in abs. ctx: nml_mpy_imports_t. */
int nml_mpy_same_import(void *ctx, const char *a, const char *b);

typedef struct nml_mpy_options {
    const char *source_name;   /* qstr table entry 0 */
    const char *const *qstrs;  /* the module's own qstrs: table entries 1..n */
    size_t n_qstrs;
    const nml_abs_syms_t *abs; /* firmware/extern symbols, or NULL */
    uint32_t arch_flags;       /* rv32imc: the extensions the code needs (Zba 1, Zcmp 2), written after
                                * the header when non-zero, as mpy_ld.py --arch-flags does */
} nml_mpy_options_t;

/* Write the linked module (linked with entry "mpy_init", packed) as a .mpy:
 * version 6.3 for res->mod.arch, one native viper raw code. */
int nml_write_mpy(const nml_result_t *res, const nml_mpy_options_t *o, uint8_t **out, size_t *out_len,
                  char *detail, size_t detail_len);

#endif /* NATMOD_LINK_H */
