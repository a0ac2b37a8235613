/*
 * Windowed Xtensa (ESP32, arch xtensawin) compiled with clang-22: the one
 * recipe natmod build and natmod mpy build share (xtwin_cc.c). Debian has
 * no windowed gcc; clang 22's Xtensa back-end needs three things the other
 * archs do not: the core's options spelled as target features, the
 * picolibc headers of the lx106 package (plain C headers), and a detour
 * through assembly so each literal pool can be aligned before it is
 * assembled.
 */
#ifndef NATMOD_CLI_XTWIN_H
#define NATMOD_CLI_XTWIN_H

/* Compiler flags for clang: --target=xtensa, the LX6 core options as
 * -Xclang -target-feature -Xclang +X, -fomit-frame-pointer, and
 * -isystem for picolibc's headers. NULL-terminated. */
extern const char *const cli_xtwin_cc_flags[];

/* Is cc a clang (by its file name)? Only clang takes the recipe. */
int cli_is_clang(const char *cc);

/* Compile src to the object obj with clang for windowed Xtensa: run
 * cc_argv (the compiler and every flag, cli_xtwin_cc_flags among them;
 * NULL-terminated) with "-S src -o asm_path" (not for a .s source: it is
 * the assembly, asm_path is not written), copy that assembly to
 * fixed_path with ".p2align 2" before each ".literal_position", and
 * assemble it with "CLANG -cc1as" (the first clang word of cc_argv) and
 * the same target features.
 * The two assembly files are left for the caller to keep or remove.
 * who ("build", "mpy build") starts the one-line message a failure prints;
 * returns 0 or the exit status (NM_ERR_IO: a compiler failed or is missing). */
int cli_xtwin_compile(const char *who, char *const *cc_argv, const char *src, const char *asm_path,
                      const char *fixed_path, const char *obj, int verbose);

#endif /* NATMOD_CLI_XTWIN_H */
