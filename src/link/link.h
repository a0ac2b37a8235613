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
} nml_options_t;

/* A linked module owns every buffer nm_wmodule_t points to. */
typedef struct nml_result {
    nm_wmodule_t mod;
    void *priv; /* owned allocations */
} nml_result_t;

/* Link. Returns NM_OK or NM_ERR_*, with a one-line detail naming the object
 * file, section, offset, relocation type and symbol where they apply. */
int nml_link(const nml_options_t *opt, nml_result_t *res, char *detail, size_t detail_len);
void nml_result_free(nml_result_t *res);

/* The .nmod back-end: write the linked module as one slice. */
int nml_write_nmod(const nml_result_t *res, uint8_t **out, size_t *out_len, char *detail, size_t detail_len);

#endif /* NATMOD_LINK_H */
