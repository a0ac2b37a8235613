/*
 * natmod mpy: MicroPython .mpy native modules.
 *   cmd_mpy.c        dispatch; `natmod mpy link` (mpy_ld.py-compatible options)
 *   cmd_mpy_build.c  `natmod mpy build` (what dynruntime.mk does), `natmod mpy qstrs`
 *                    (the config header, as mpy_ld.py --preprocess writes it)
 *   cmd_mpy_pack.c   `natmod mpy pack` (one module for several archs, laid out for mip)
 */
#ifndef NATMOD_CLI_MPY_H
#define NATMOD_CLI_MPY_H

#include <stddef.h>
#include <stdint.h>

int cmd_mpy(int argc, char **argv);
int cmd_mpy_build(int argc, char **argv); /* argv[0] = "build" */
int cmd_mpy_pack(int argc, char **argv);  /* argv[0] = "pack" */
int cmd_mpy_qstrs(int argc, char **argv); /* argv[0] = "qstrs" */

/* One link to a .mpy. */
typedef struct cli_mpy_link {
    uint8_t arch;            /* NM_ARCH_X64, NM_ARCH_ARMV6M/7M/7EMSP/7EMDP, NM_ARCH_RV32IMC/RV64IMC */
    const char *output;      /* .mpy path; written atomically, nothing left behind on error */
    const char *source_name; /* qstr 0 (the module's file name); NULL: output's base name */
    /* The module's own qstrs, in table order (qstr table entry 1 is names[0]).
     * Either a config header to read (the MP_QSTR_x (mp_native_qstr_table[i])
     * lines written by `natmod mpy qstrs` / mpy_ld.py --preprocess), or names. */
    const char *qstrs_path;
    const char *const *qstrs;
    size_t n_qstrs;
    const char *const *inputs; /* ELF objects and ar archives, in order */
    size_t n_inputs;
    const char *firmware; /* firmware ELF: absolute addresses of named symbols, or NULL */
    const char *externs;  /* linker-script symbol file (sym = 0xADDR;), or NULL */
    int gc;               /* drop sections unreachable from mpy_init */
    uint32_t arch_flags;  /* rv32imc extension flags (Zba 1, Zcmp 2), 0: none (no arch-flags field) */
    int verbose;
} cli_mpy_link_t;

/* Link and write the .mpy. Prints one line on failure (naming the file,
 * section, symbol or arch) and returns the exit status; 0 on success. */
int cli_mpy_link(const cli_mpy_link_t *a);

/* The config header for these sources: scan them for MP_QSTR_name, write
 * "#define MP_QSTR_x (N)" for every static qstr and
 * "#define MP_QSTR_x (mp_native_qstr_table[i])" (i from 1, names sorted)
 * for the rest, as mpy_ld.py --preprocess does. Returns the exit status. */
int cli_mpy_write_config(const char *out, const char *const *srcs, size_t n);

/* Read the module qstr names back from such a header, in table order.
 * *names (and each name) malloc'd; cli_mpy_free_names frees them. */
int cli_mpy_read_config(const char *path, char ***names, size_t *n);
void cli_mpy_free_names(char **names, size_t n);

/* The ar archives a GNU ld script names in GROUP/INPUT (glibc's libm.a on
 * x86-64 is one); *out NULL-terminated and malloc'd (free with
 * cli_mpy_free_names). Returns the exit status (0 with n == 0: none). */
int cli_mpy_script_archives(const char *path, char ***out, size_t *n);

/* --arch-flags as mpy_ld.py takes it: a number (decimal, 0x.., 0b..) or a
 * comma-separated list of RV32 extension names (zba, zcmp). Only rv32imc
 * has arch flags. Returns the exit status; 0 with *flags set. */
int cli_mpy_parse_arch_flags(const char *s, uint8_t arch, uint32_t *flags);

#endif /* NATMOD_CLI_MPY_H */
