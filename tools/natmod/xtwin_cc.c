/* Windowed Xtensa with clang-22: the compile step natmod build and natmod
 * mpy build share (cli_xtwin.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_xtwin.h"

/* The core options of an LX6 such as the ESP32's that QEMU's de212 also
 * has (no MUL32_HIGH, FP, BOOLEANS: soft float), given to the front end
 * (-Xclang -target-feature) and the assembler (cc1as). Not +density:
 * clang 22 emits the literal pool that follows a function without aligning
 * it, and narrow instructions make it odd more often (fix_literal_pools
 * aligns it). */
#define XTWIN_FEATURES(F)                                                                                             \
    F("+windowed") F("+mul32") F("+div32") F("+mul16") F("+nsa") F("+minmax") F("+sext") F("+clamps") F("+loop")      \
        F("+mac16")
#define AS_CC1(f) "-Xclang", "-target-feature", "-Xclang", f,
#define AS_CC1AS(f) "-target-feature", f,

/* The header search path is picolibc's (lx106 package: plain C headers;
 * the windowed ABI changes no declaration). No frame pointer: with one,
 * clang 22 moves the stack for outgoing stack arguments with MOVSP, which
 * raises the Alloca exception when the caller's window is spilled
 * (docs/board-xtensa.md). -ffunction-sections is the caller's: without it
 * clang 22 fails "fixup value must be 4-byte aligned" on calls inside one
 * section. */
const char *const cli_xtwin_cc_flags[] = {"--target=xtensa", XTWIN_FEATURES(AS_CC1) "-fomit-frame-pointer",
                                          "-isystem", "/usr/lib/xtensa-lx106-elf/include", NULL};
static const char *const as_flags[] = {"-cc1as", "-triple", "xtensa", "-filetype", "obj",
                                       XTWIN_FEATURES(AS_CC1AS) NULL};

int cli_is_clang(const char *cc) {
    const char *slash = strrchr(cc, '/');
    return strstr(slash ? slash + 1 : cc, "clang") != NULL;
}

/* Copy the assembly in to out, adding ".p2align 2" before each
 * ".literal_position" line. */
static int fix_literal_pools(const char *who, const char *in, const char *out) {
    FILE *f = fopen(in, "r");
    if (!f) {
        return cli_fail(NM_ERR_IO, "%s: cannot read %s: %s", who, in, strerror(errno));
    }
    FILE *g = fopen(out, "w");
    if (!g) {
        fclose(f);
        return cli_fail(NM_ERR_IO, "%s: cannot write %s: %s", who, out, strerror(errno));
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *t = line + strspn(line, " \t");
        if (!strncmp(t, ".literal_position", 17)) {
            fputs("\t.p2align 2\n", g);
        }
        fputs(line, g);
    }
    int bad = ferror(f);
    fclose(f);
    if (fclose(g) != 0 || bad) {
        return cli_fail(NM_ERR_IO, "%s: cannot write %s", who, out);
    }
    return 0;
}

/* Run argv; one line naming the step if it fails. */
static int run_step(const char *who, char *const *argv, const char *step, const char *src, int verbose) {
    int st = cli_spawn(argv, verbose, NULL, 0);
    if (st == 0) {
        return 0;
    }
    if (st < 0 || st == 127) {
        return cli_fail(NM_ERR_IO, "%s: cannot run %s: install it or pass --cc", who, argv[0]);
    }
    return cli_fail(NM_ERR_IO, "%s: %s %s for xtensawin failed (%s%s exit %d)", who, step, src, argv[0],
                    step[0] == 'a' ? " -cc1as" : "", st);
}

int cli_xtwin_compile(const char *who, char *const *cc_argv, const char *src, const char *asm_path,
                      const char *fixed_path, const char *obj, int verbose) {
    size_t n = 0;
    while (cc_argv[n]) {
        n++;
    }
    size_t n_as = sizeof as_flags / sizeof as_flags[0];
    const char **v = malloc((n + n_as + 8) * sizeof *v);
    if (!v) {
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    /* cc_argv... -S src -o asm_path */
    memcpy(v, cc_argv, n * sizeof *v);
    const char *tail[] = {"-S", src, "-o", asm_path, NULL};
    memcpy(v + n, tail, sizeof tail);
    /* a .s source is assembly already (clang -S would ignore it); a .S one
     * comes out of -S preprocessed */
    int plain_asm = cli_has_suffix(src, ".s");
    int rc = plain_asm ? 0 : run_step(who, (char *const *)v, "compiling", src, verbose);
    if (!rc) {
        rc = fix_literal_pools(who, plain_asm ? src : asm_path, fixed_path);
    }
    if (!rc) {
        /* clang -cc1as -triple xtensa -filetype obj FEATURES fixed_path -o obj;
         * the clang itself, not a wrapper before it ("ccache clang-22") */
        v[0] = cc_argv[0];
        for (size_t i = 0; i < n; i++) {
            if (cli_is_clang(cc_argv[i])) {
                v[0] = cc_argv[i];
                break;
            }
        }
        memcpy(v + 1, as_flags, (n_as - 1) * sizeof *v);
        const char *as_tail[] = {fixed_path, "-o", obj, NULL};
        memcpy(v + n_as, as_tail, sizeof as_tail);
        rc = run_step(who, (char *const *)v, "assembling", src, verbose);
    }
    free(v);
    return rc;
}
