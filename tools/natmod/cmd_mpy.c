/* natmod mpy: MicroPython .mpy native modules. `natmod mpy link` takes
 * mpy_ld.py's options, so a dynruntime.mk Makefile can use it as MPY_LD. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cli_mpy.h"
#include "link/link.h"
#include "natmod/abi.h"
#include "natmod/mpy.h"

/* The archs a .mpy can be written for, by MicroPython's names. */
static const struct {
    const char *name;
    uint8_t arch, fabi;
} mpy_archs[] = {
    {"x64", NM_ARCH_X64, NM_FLOAT_HARD},          {"armv6m", NM_ARCH_ARMV6M, NM_FLOAT_SOFT},
    {"armv7m", NM_ARCH_ARMV7M, NM_FLOAT_SOFT},    {"armv7emsp", NM_ARCH_ARMV7EMSP, NM_FLOAT_HARD},
    {"armv7emdp", NM_ARCH_ARMV7EMDP, NM_FLOAT_HARD},
    {"rv32imc", NM_ARCH_RV32IMC, NM_FLOAT_SOFT},    {"rv64imc", NM_ARCH_RV64IMC, NM_FLOAT_SOFT},
    {"xtensa", NM_ARCH_XTENSA, NM_FLOAT_SOFT},      {"xtensawin", NM_ARCH_XTENSAWIN, NM_FLOAT_SOFT},
};

static int parse_mpy_arch(const char *s, uint8_t *arch, uint8_t *fabi) {
    for (size_t i = 0; s && i < sizeof mpy_archs / sizeof mpy_archs[0]; i++) {
        if (!strcmp(s, mpy_archs[i].name)) {
            *arch = mpy_archs[i].arch;
            *fabi = mpy_archs[i].fabi;
            return NM_OK;
        }
    }
    if (!s) {
        return cli_fail(NM_ERR_INVAL,
                        "mpy: --arch is required (x64, armv6m, armv7m, armv7emsp, armv7emdp, rv32imc, rv64imc, xtensa, xtensawin)");
    }
    return cli_fail(NM_ERR_UNSUPPORTED,
                    "mpy: arch '%s' is not supported (x64, armv6m, armv7m, armv7emsp, armv7emdp, rv32imc, rv64imc, "
                    "xtensa, xtensawin; x86 is not)",
                    s);
}

int cli_mpy_parse_arch_flags(const char *s, uint8_t arch, uint32_t *flags) {
    static const struct {
        const char *name;
        uint32_t bit;
    } ext[] = {{"zba", 1}, {"zcmp", 2}}; /* mpy_ld.py's RV32_EXTENSIONS */
    uint32_t v = 0;
    if (s[0] >= '0' && s[0] <= '9') {
        int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) ? 2 : 10;
        char *end;
        errno = 0;
        unsigned long n = strtoul(base == 10 ? s : s + 2, &end, base);
        if (*end || errno || n > 0xffffffffu || (base != 10 && !s[2])) {
            return cli_fail(NM_ERR_INVAL, "mpy: --arch-flags '%s' is not a number", s);
        }
        v = (uint32_t)n;
    } else {
        for (const char *p = s; *p;) {
            size_t len = strcspn(p, ",");
            size_t k = 0;
            while (k < sizeof ext / sizeof ext[0] &&
                   !(strlen(ext[k].name) == len && !strncasecmp(p, ext[k].name, len))) {
                k++;
            }
            if (k == sizeof ext / sizeof ext[0]) {
                return cli_fail(NM_ERR_INVAL, "mpy: --arch-flags: unknown extension '%.*s' (zba, zcmp)", (int)len, p);
            }
            v |= ext[k].bit;
            p += len + (p[len] == ',');
        }
    }
    if (v && arch != NM_ARCH_RV32IMC) {
        return cli_fail(NM_ERR_UNSUPPORTED, "mpy: --arch-flags %s: only rv32imc has arch flags", s);
    }
    *flags = v;
    return 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cli_mpy_link(const cli_mpy_link_t *a) {
    int rc = 0;
    char detail[8192] = ""; /* room for a line per undefined symbol */
    char **cfg_names = NULL;
    size_t n_cfg = 0;
    nml_abs_syms_t *abs = NULL;
    nml_input_t *inputs = calloc(a->n_inputs ? a->n_inputs : 1, sizeof *inputs);
    if (!inputs) {
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    /* a failed link leaves no output behind, not even an older one */
    remove(a->output);
    if (a->qstrs_path && (rc = cli_mpy_read_config(a->qstrs_path, &cfg_names, &n_cfg))) {
        goto done;
    }
    if (a->firmware && a->externs) {
        rc = cli_fail(NM_ERR_INVAL, "mpy link: give --firmware or --externs, not both");
        goto done;
    }
    const char *abs_path = a->firmware ? a->firmware : a->externs;
    if (abs_path) {
        int err = nml_abs_load(abs_path, NULL, 0, &abs, detail, sizeof detail);
        if (err) {
            rc = cli_fail(err, "%s", detail);
            goto done;
        }
    }
    int have_archives = 0;
    for (size_t i = 0; i < a->n_inputs; i++) {
        inputs[i].path = a->inputs[i];
        have_archives |= cli_has_suffix(a->inputs[i], ".a");
    }
    nml_mpy_imports_t im = {abs, abs_path, have_archives ? "yes" : NULL};
    nml_options_t opt;
    memset(&opt, 0, sizeof opt);
    uint8_t fabi = NM_FLOAT_SOFT;
    for (size_t i = 0; i < sizeof mpy_archs / sizeof mpy_archs[0]; i++) {
        if (mpy_archs[i].arch == a->arch) {
            fabi = mpy_archs[i].fabi;
        }
    }
    opt.arch = a->arch;
    opt.float_abi = fabi;
    opt.inputs = inputs;
    opt.n_inputs = a->n_inputs;
    opt.gc_sections = a->gc;
    opt.verbose = a->verbose > 1;
    opt.entry = "mpy_init";
    opt.packed = 1;
    opt.check_import = nml_mpy_check_import;
    opt.import_ctx = &im;
    opt.same_import = nml_mpy_same_import;
    nml_result_t res;
    int err = nml_link(&opt, &res, detail, sizeof detail);
    if (err) {
        rc = cli_fail_lines(err, detail[0] ? detail : nm_strerror(err));
        goto done;
    }
    nml_mpy_options_t mo = {a->source_name ? a->source_name : base_name(a->output),
                            a->qstrs_path ? (const char *const *)cfg_names : a->qstrs,
                            a->qstrs_path ? n_cfg : a->n_qstrs, abs, a->arch_flags};
    uint8_t *img = NULL;
    size_t len = 0;
    err = nml_write_mpy(&res, &mo, &img, &len, detail, sizeof detail);
    if (!err) {
        /* text and bss come from MicroPython's heap (unix: mmap), whose blocks are 4 words */
        unsigned heap_align = 4 * nm_mpy_word_size(a->arch);
        unsigned want = 1u << (res.mod.text_align_log2 > res.mod.rw_align_log2 ? res.mod.text_align_log2
                                                                               : res.mod.rw_align_log2);
        if (want > heap_align) {
            fprintf(stderr,
                    "natmod: warning: %s: a section wants %u-byte alignment; MicroPython's loader places text and "
                    "bss on its heap, which guarantees %u\n",
                    a->output, want, heap_align);
        }
        err = cli_write_file(a->output, img, len);
        if (!err && a->verbose) {
            printf("%s: %s, %zu bytes (text %u + data %u%s, bss %u, %u GOT entries, %u imports%s)\n", a->output,
                   nm_arch_name(a->arch), len, (unsigned)res.mod.text_size, (unsigned)res.mod.data_size,
                   res.bss_relative ? " + bss in text" : "", (unsigned)res.mod.bss_size,
                   (unsigned)res.mod.got_count, (unsigned)res.mod.n_imports,
                   res.entry_jump ? ", entry jump" : "");
        }
        rc = cli_exit_code(err);
    } else {
        rc = cli_fail(err, "%s: %s", a->output, detail[0] ? detail : nm_strerror(err));
    }
    free(img);
    nml_result_free(&res);
done:
    nml_abs_free(abs);
    cli_mpy_free_names(cfg_names, n_cfg);
    free(inputs);
    return rc;
}

static void link_help(void) {
    puts("usage: natmod mpy link --arch ARCH [--qstrs MOD.config.h] [-l LIB.a]... [-o OUT.mpy] OBJS...\n"
         "       natmod mpy link --preprocess -o MOD.config.h SRCS...\n"
         "\n"
         "Link ELF objects into a MicroPython native module (.mpy v6.3). Takes\n"
         "mpy_ld.py's options, so a dynruntime.mk Makefile can set MPY_LD to it.\n"
         "\n"
         "  --arch ARCH         x64, armv6m, armv7m, armv7emsp, armv7emdp, rv32imc, rv64imc, xtensa,\n"
         "                      xtensawin\n"
         "  --qstrs FILE        the config header naming the module's qstrs\n"
         "  -l, --libs LIB.a    archive; members are pulled only when needed\n"
         "  -o, --output FILE   output (default: first object with .mpy)\n"
         "  --source-name NAME  file name recorded in the .mpy (default: output's)\n"
         "  --firmware ELF      resolve other undefined symbols at their firmware addresses\n"
         "  -e, --externs FILE  the same from a symbol file (sym = 0xADDR;)\n"
         "  --no-gc             keep sections mpy_init does not reach\n"
         "  --preprocess        write the config header for the sources instead\n"
         "  -v                  print a summary (-vv: what the linker pulls)\n"
         "  --arch-flags F      rv32imc: extensions the code uses, zba,zcmp or a number (MicroPython\n"
         "                      refuses the module on a CPU without them); 0 for the other archs");
}

static int cmd_mpy_link(int argc, char **argv) {
    cli_mpy_link_t a;
    memset(&a, 0, sizeof a);
    a.gc = 1;
    const char *arch = NULL, *arch_flags = NULL;
    int preprocess = 0, rc = 0;
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) {
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    char eqbuf[64];
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **dst = NULL;
        const char *eq = s[0] == '-' && s[1] == '-' ? strchr(s, '=') : NULL;
        if (eq && (size_t)(eq - s) < sizeof eqbuf) {
            /* --opt=value, as mpy_ld.py's argparse takes (dynruntime.mk passes
             * "--source-name=X.mpy"): the option, with the value as next word */
            memcpy(eqbuf, s, (size_t)(eq - s));
            eqbuf[eq - s] = 0;
            s = eqbuf;
        }
        if (eq && strcmp(s, "--arch") && strcmp(s, "--arch-flags") && strcmp(s, "--qstrs") && strcmp(s, "--output") &&
            strcmp(s, "--source-name") && strcmp(s, "--firmware") && strcmp(s, "--externs") && strcmp(s, "--libs")) {
            rc = cli_fail(NM_ERR_INVAL, "mpy link: option '%s' takes no value (see natmod mpy link --help)", s);
            goto done;
        }
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            link_help();
            goto done;
        } else if (!strcmp(s, "--arch")) {
            dst = &arch;
        } else if (!strcmp(s, "--arch-flags")) {
            dst = &arch_flags;
        } else if (!strcmp(s, "--qstrs")) {
            dst = &a.qstrs_path;
        } else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
            dst = &a.output;
        } else if (!strcmp(s, "--source-name")) {
            dst = &a.source_name;
        } else if (!strcmp(s, "--firmware")) {
            dst = &a.firmware;
        } else if (!strcmp(s, "-e") || !strcmp(s, "--externs")) {
            dst = &a.externs;
        } else if (!strcmp(s, "-l") || !strcmp(s, "--libs")) {
            dst = &files[n++];
        } else if (!strncmp(s, "-l", 2) && s[2]) {
            files[n++] = s + 2; /* -lpath/to/lib.a, as mpy_ld.py's argparse accepts */
        } else if (!strcmp(s, "--preprocess")) {
            preprocess = 1;
        } else if (!strcmp(s, "--no-gc")) {
            a.gc = 0;
        } else if (s[0] == '-' && s[1] == 'v' && strspn(s + 1, "v") == strlen(s + 1)) {
            a.verbose += (int)strlen(s + 1);
        } else if (!strcmp(s, "--verbose")) {
            a.verbose++;
        } else if (s[0] == '-') {
            rc = cli_fail(NM_ERR_INVAL, "mpy link: unknown option '%s' (see natmod mpy link --help)", s);
            goto done;
        } else {
            files[n++] = s;
        }
        if (dst && eq) {
            *dst = eq + 1;
        } else if (dst && !(*dst = cli_optarg(argc, argv, &i))) {
            rc = cli_exit_code(NM_ERR_INVAL);
            goto done;
        }
    }
    if (!n) {
        rc = cli_fail(NM_ERR_INVAL, "mpy link: no input files (see natmod mpy link --help)");
        goto done;
    }
    if (preprocess) {
        char out[4096];
        if (!a.output) {
            if (!cli_has_suffix(files[0], ".c")) {
                rc = cli_fail(NM_ERR_INVAL, "mpy link --preprocess: give -o OUT.config.h");
                goto done;
            }
            snprintf(out, sizeof out, "%.*sconfig.h", (int)strlen(files[0]) - 1, files[0]);
            a.output = out;
        }
        rc = cli_mpy_write_config(a.output, files, n);
        goto done;
    }
    uint8_t fabi;
    if ((rc = cli_exit_code(parse_mpy_arch(arch, &a.arch, &fabi)))) {
        goto done;
    }
    if (arch_flags && (rc = cli_mpy_parse_arch_flags(arch_flags, a.arch, &a.arch_flags))) {
        goto done;
    }
    char defout[4096];
    if (!a.output) {
        const char *dot = strrchr(files[0], '.');
        int keep = dot && dot > strrchr(files[0], '/') ? (int)(dot - files[0]) : (int)strlen(files[0]);
        snprintf(defout, sizeof defout, "%.*s.mpy", keep, files[0]);
        a.output = defout;
    }
    /* an input that is a linker script (glibc's libm.a) stands for the
     * archives it names, as for ld and mpy_ld.py */
    char **scripts[64];
    size_t n_scripts[64], ns = 0, total = 0;
    const char **all = NULL;
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(files[i], "rb");
        char magic[8] = {0};
        size_t got = f ? fread(magic, 1, 8, f) : 0;
        if (f) {
            fclose(f);
        }
        int binary = got >= 4 && (!memcmp(magic, "\x7f" "ELF", 4) || (got == 8 && !memcmp(magic, "!<arch>\n", 8)));
        size_t k = 0;
        char **v = NULL;
        if (f && !binary && ns < 64 && cli_mpy_script_archives(files[i], &v, &k) == 0 && k > 0) {
            scripts[ns] = v;
            n_scripts[ns++] = k;
            total += k;
            files[i] = NULL;
        } else {
            cli_mpy_free_names(v, k);
            total++;
        }
    }
    all = calloc(total + 1, sizeof *all);
    if (!all) {
        rc = cli_fail(NM_ERR_NOMEM, "out of memory");
    } else {
        size_t w = 0, si = 0;
        for (size_t i = 0; i < n; i++) {
            if (files[i]) {
                all[w++] = files[i];
            } else {
                for (size_t k = 0; k < n_scripts[si]; k++) {
                    all[w++] = scripts[si][k];
                }
                si++;
            }
        }
        a.inputs = all;
        a.n_inputs = w;
        rc = cli_mpy_link(&a);
    }
    free(all);
    for (size_t i = 0; i < ns; i++) {
        cli_mpy_free_names(scripts[i], n_scripts[i]);
    }
done:
    free(files);
    return rc;
}

static void mpy_help(FILE *f) {
    fprintf(f, "usage: natmod mpy COMMAND [ARGS...]   (natmod mpy COMMAND --help for details)\n\n"
               "MicroPython native modules (.mpy v6.3):\n"
               "  build   compile C sources and link them into MOD.mpy (what dynruntime.mk does)\n"
               "  link    link objects and archives into a .mpy (mpy_ld.py's options)\n"
               "  qstrs   write the config header (MP_QSTR_ names) for C sources\n"
               "  pack    build for several archs and lay the result out for mip\n"
               "(natmod info FILE.mpy decodes a .mpy)\n");
}

int cmd_mpy(int argc, char **argv) {
    if (argc < 2) {
        mpy_help(stderr);
        return cli_exit_code(NM_ERR_INVAL);
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        mpy_help(stdout);
        return 0;
    }
    if (!strcmp(c, "link") || !strcmp(c, "ld")) {
        return cmd_mpy_link(argc - 1, argv + 1);
    }
    if (!strcmp(c, "build")) {
        return cmd_mpy_build(argc - 1, argv + 1);
    }
    if (!strcmp(c, "pack")) {
        return cmd_mpy_pack(argc - 1, argv + 1);
    }
    if (!strcmp(c, "qstrs")) {
        return cmd_mpy_qstrs(argc - 1, argv + 1);
    }
    return cli_fail(NM_ERR_INVAL, "mpy: unknown command '%s' (try natmod mpy --help)", c);
}
