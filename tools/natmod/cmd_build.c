/* natmod build: compile C sources for an arch with the right flags, using the
 * installed (cross) compiler, then link them with libgcc (and, on Thumb,
 * newlib's libm/libc; on RISC-V, picolibc's) pulled in member by member as
 * needed. */
#define _GNU_SOURCE /* mkdtemp */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_link.h"
#include "cli_xtwin.h"
#include "natmod/abi.h"

#define MAX_ARGS 256

/* Compiler and flags per arch. The flags make code the linker can place
 * anywhere: PIC on x86-64 (data reached RIP-relative, imports through the
 * GOT), plain Thumb elsewhere (absolute words relocated at load), one
 * section per function so unused code is dropped. */
static const char *const common_flags[] = {
    "-ffreestanding", "-fno-common", "-fvisibility=hidden", "-ffunction-sections",
    "-fdata-sections", "-fno-asynchronous-unwind-tables", "-fno-stack-protector", NULL};
static const char *const x64_flags[] = {"-O2", "-fPIC", "-fno-plt", "-fcf-protection=none", NULL};
static const char *const thumb_flags[] = {"-Os", "-mthumb", "-fno-exceptions", "-fno-unwind-tables", NULL};
/* RISC-V: -mcmodel=medlow, absolute %hi/%lo data addresses, which become
 * INSN records (medany and -fpic objects link too). */
static const char *const rv_flags[] = {"-Os", "-mcmodel=medlow", "-fno-exceptions", "-fno-unwind-tables", NULL};
/* Xtensa: -mlongcalls makes calls that reach the firmware (l32r + callx0
 * through a literal the loader relocates); literals in .literal sections. */
static const char *const xt_flags[] = {"-Os", "-fno-exceptions", "-fno-unwind-tables", NULL};

enum { LIBS_NONE, LIBS_NEWLIB, LIBS_PICOLIBC };

struct arch_tool {
    uint8_t arch, fabi;
    const char *cc;     /* default compiler */
    const char *cc_env; /* environment variable naming another one */
    const char *const cpu_flags[4];
    const char *const *opt_flags;
    int libs; /* LIBS_*: the C library whose libm.a and libc.a are offered */
};

static const struct arch_tool arch_tools[] = {
    {NM_ARCH_X64, NM_FLOAT_HARD, "gcc", "NATMOD_CC_X64", {NULL}, x64_flags, LIBS_NONE},
    {NM_ARCH_ARMV6M, NM_FLOAT_SOFT, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mcpu=cortex-m0", "-mfloat-abi=soft", NULL}, thumb_flags, LIBS_NEWLIB},
    {NM_ARCH_ARMV7M, NM_FLOAT_SOFT, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mcpu=cortex-m3", "-mfloat-abi=soft", NULL}, thumb_flags, LIBS_NEWLIB},
    {NM_ARCH_ARMV7EM, NM_FLOAT_SOFT, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mcpu=cortex-m4", "-mfloat-abi=soft", NULL}, thumb_flags, LIBS_NEWLIB},
    {NM_ARCH_ARMV7EMSP, NM_FLOAT_HARD, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", NULL}, thumb_flags, LIBS_NEWLIB},
    {NM_ARCH_ARMV7EMDP, NM_FLOAT_HARD, "arm-none-eabi-gcc", "NATMOD_CC_ARM", {"-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16", NULL}, thumb_flags, LIBS_NEWLIB},
    {NM_ARCH_RV32IMC, NM_FLOAT_SOFT, "riscv64-unknown-elf-gcc", "NATMOD_CC_RV32", {"-march=rv32imc", "-mabi=ilp32", NULL}, rv_flags, LIBS_PICOLIBC},
    /* call0 (ESP8266): Debian's gcc-xtensa-lx106; -print-file-name finds picolibc-xtensa-lx106-elf's libc.a */
    {NM_ARCH_XTENSA, NM_FLOAT_SOFT, "xtensa-lx106-elf-gcc", "NATMOD_CC_XTENSA", {"-mlongcalls", NULL}, xt_flags, LIBS_NEWLIB},
    /* windowed (ESP32): clang with cli_xtwin_cc_flags (cli_xtwin.h); no C library or libgcc for it in Debian */
    {NM_ARCH_XTENSAWIN, NM_FLOAT_SOFT, "clang-22", "NATMOD_CC_XTENSAWIN", {NULL}, xt_flags, LIBS_NONE},
};

/* RISC-V: Debian's gcc-riscv64-unknown-elf is multilib and comes with
 * picolibc (picolibc-riscv64-unknown-elf) as its only C library. gcc finds
 * picolibc's headers through --specs=picolibc.specs; clang is given them
 * with -isystem. Libraries are always asked of gcc (clang's own answer is
 * its compiler-rt, which Debian does not ship for riscv32), and picolibc's
 * libc.a is found in its multilib directory, since gcc 12 does not search
 * the specs' directories for -print-file-name. */
#define RV_GCC "riscv64-unknown-elf-gcc"
#define RV_PICOLIBC "/usr/lib/picolibc/riscv64-unknown-elf"

struct argv_buf {
    const char *v[MAX_ARGS + 1];
    int n;
};

static int push(struct argv_buf *a, const char *s) {
    if (a->n >= MAX_ARGS) {
        return cli_fail(NM_ERR_INVAL, "build: too many compiler arguments");
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    return 0;
}

static int push_list(struct argv_buf *a, const char *const *list) {
    for (; *list; list++) {
        if (push(a, *list)) {
            return 1;
        }
    }
    return 0;
}

/* Run argv; if capture is non-NULL, store the first line of its stdout. */
static int run(const struct argv_buf *a, int verbose, char *capture, size_t cap_len) {
    int st = cli_spawn((char *const *)a->v, verbose, capture, cap_len);
    if (st < 0) {
        return cli_fail(NM_ERR_IO, "build: cannot start %s: %s", a->v[0], strerror(errno));
    }
    if (st == 127) {
        return cli_fail(NM_ERR_IO, "build: %s not found: install it (see README) or pass --cc", a->v[0]);
    }
    if (st != 0) {
        return cli_fail(NM_ERR_IO, "build: %s failed", a->v[0]);
    }
    return 0;
}

/* Ask the compiler where a library for these flags lives; NULL if none. */
static char *find_lib(const struct argv_buf *base, const char *query, int verbose) {
    struct argv_buf a = *base;
    char out[4096];
    if (push(&a, query) || run(&a, verbose, out, sizeof out)) {
        return NULL;
    }
    /* gcc echoes the bare name back when it does not find the file. */
    if (out[0] != '/' || access(out, R_OK) != 0) {
        return NULL;
    }
    return strdup(out);
}

static void build_help(void) {
    puts("usage: natmod build --arch ARCH [--float soft|hard] [-o OUT.nmod] [options] SOURCES...\n"
         "\n"
         "Compile C sources with the arch's compiler and flags, then link them\n"
         "(with libgcc, and newlib's libm/libc on Thumb or picolibc's on RISC-V,\n"
         "members pulled on demand).\n"
         ".o and .a arguments are passed to the linker as they are.\n"
         "\n"
         "  --arch ARCH       x86_64 (host board), armv6m, armv7m, armv7em, armv7emsp, armv7emdp,\n"
         "                    rv32imc, xtensa (call0: xtensa-lx106-elf-gcc), xtensawin (windowed: clang-22)\n"
         "  --float ABI       soft or hard (armv7em + hard = armv7emsp)\n"
         "  -o FILE           output (default: NAME.nmod)\n"
         "  --name NAME       module name (default: first source's base name)\n"
         "  --syms FILE       firmware symbol list: imports it lacks fail at link time\n"
         "  --export SYM      export SYM even if it is not marked NM_EXPORT\n"
         "  -I DIR, -D DEF    passed to the compiler\n"
         "  -O LEVEL          optimisation (default -O2 on x86_64, -Os on Thumb, RISC-V and Xtensa)\n"
         "  --cc COMPILER     compiler to run (default gcc / arm-none-eabi-gcc / riscv64-unknown-elf-gcc;\n"
         "                    env NATMOD_CC_X64, NATMOD_CC_ARM, NATMOD_CC_RV32, NATMOD_CC_XTENSA,\n"
         "                    NATMOD_CC_XTENSAWIN); a clang gets --target\n"
         "                    on RISC-V, and gcc still finds libgcc and picolibc\n"
         "  --cflag FLAG      one more compiler flag (repeatable)\n"
         "  --no-libc         do not offer libm.a/libc.a to the linker\n"
         "  --keep DIR        keep the object files in DIR (made, with its parents, if missing)\n"
         "  --no-gc           keep sections no export reaches\n"
         CLI_SIGN_HELP
         "  -v                print the commands; -q print nothing on success");
}

int cmd_build(int argc, char **argv) {
    const char *arch = NULL, *fabi = NULL, *out = NULL, *cc = NULL, *keep = NULL, *olevel = NULL;
    int quiet = 0, verbose = 0, no_libc = 0, rc = 0, so;
    cli_sign_t sign = {0};
    nml_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.gc_sections = 1;
    const char **srcs = calloc((size_t)argc + 1, sizeof *srcs);
    const char **user = calloc((size_t)argc * 2 + 1, sizeof *user); /* -I/-D/--cflag */
    const char **exports = calloc((size_t)argc + 1, sizeof *exports);
    nml_input_t *inputs = calloc((size_t)argc + 4, sizeof *inputs);
    char **owned = calloc(3 * (size_t)argc + 4, sizeof *owned);
    size_t n_srcs = 0, n_user = 0, n_exports = 0, n_owned = 0;
    char tmpdir[4096] = "";
    if (!srcs || !user || !exports || !inputs || !owned) {
        rc = cli_fail(NM_ERR_NOMEM, "out of memory");
        goto done;
    }
#define NEED_ARG(var)                                                          \
    do {                                                                       \
        if (!((var) = cli_optarg(argc, argv, &i))) {                           \
            rc = cli_exit_code(NM_ERR_INVAL);                                  \
            goto done;                                                         \
        }                                                                      \
    } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if ((so = cli_sign_opt(argc, argv, &i, &sign)) < 0) {
            rc = cli_exit_code(NM_ERR_INVAL);
            goto done;
        } else if (so) {
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            build_help();
            goto done;
        } else if (!strcmp(a, "--arch")) {
            NEED_ARG(arch);
        } else if (!strcmp(a, "--float")) {
            NEED_ARG(fabi);
        } else if (!strcmp(a, "-o")) {
            NEED_ARG(out);
        } else if (!strcmp(a, "--name")) {
            NEED_ARG(opt.name);
        } else if (!strcmp(a, "--syms")) {
            NEED_ARG(opt.syms_path);
        } else if (!strcmp(a, "--export")) {
            NEED_ARG(v);
            exports[n_exports++] = v;
        } else if (!strcmp(a, "--cc")) {
            NEED_ARG(cc);
        } else if (!strcmp(a, "--keep")) {
            NEED_ARG(keep);
        } else if (!strcmp(a, "--cflag")) {
            NEED_ARG(v);
            user[n_user++] = v;
        } else if ((!strncmp(a, "-I", 2) || !strncmp(a, "-D", 2)) && a[2]) {
            user[n_user++] = a;
        } else if (!strcmp(a, "-I") || !strcmp(a, "-D")) {
            NEED_ARG(v);
            user[n_user++] = a;
            user[n_user++] = v;
        } else if (!strncmp(a, "-O", 2)) {
            olevel = a;
        } else if (!strcmp(a, "--no-libc")) {
            no_libc = 1;
        } else if (!strcmp(a, "--no-gc")) {
            opt.gc_sections = 0;
        } else if (!strcmp(a, "-q")) {
            quiet = 1;
        } else if (!strcmp(a, "-v")) {
            verbose = 1;
        } else if (a[0] == '-') {
            rc = cli_fail(NM_ERR_INVAL, "build: unknown option '%s' (see natmod build --help)", a);
            goto done;
        } else {
            srcs[n_srcs++] = a;
        }
    }
#undef NEED_ARG
    if ((rc = cli_exit_code(cli_parse_arch(arch, fabi, &opt.arch, &opt.float_abi)))) {
        goto done;
    }
    const struct arch_tool *tool = NULL;
    for (size_t k = 0; k < sizeof arch_tools / sizeof arch_tools[0]; k++) {
        if (arch_tools[k].arch == opt.arch && arch_tools[k].fabi == opt.float_abi) {
            tool = &arch_tools[k];
        }
    }
    if (!tool) {
        rc = cli_fail(NM_ERR_UNSUPPORTED, "build: no toolchain for %s/%s yet", nm_arch_name(opt.arch),
                      nm_float_name(opt.float_abi));
        goto done;
    }
    if (!n_srcs) {
        rc = cli_fail(NM_ERR_INVAL, "build: no sources (see natmod build --help)");
        goto done;
    }
    if (!cc) {
        cc = getenv(tool->cc_env);
        cc = cc && *cc ? cc : tool->cc;
    }
    const char *incdir = cli_include_dir();
    static char incflag[4200];
    snprintf(incflag, sizeof incflag, "-I%s", incdir);
    int rv = tool->libs == LIBS_PICOLIBC, clang = cli_is_clang(cc);
    const char *picolibc = getenv("NATMOD_PICOLIBC_RV");
    picolibc = picolibc && *picolibc ? picolibc : RV_PICOLIBC;
    static char rv_inc[4200];
    snprintf(rv_inc, sizeof rv_inc, "%s/include", picolibc);

    /* Base argv: compiler + arch flags; library queries use it too, so
     * gcc picks the multilib that matches the arch and float ABI. */
    struct argv_buf base = {.n = 0};
    if (push(&base, cc) || (rv && clang && push(&base, "--target=riscv32-unknown-elf")) ||
        push_list(&base, tool->cpu_flags) || push_list(&base, tool->opt_flags) ||
        (rv && !clang && push(&base, "--specs=picolibc.specs")) ||
        (rv && clang && (push(&base, "-isystem") || push(&base, rv_inc)))) {
        rc = cli_exit_code(NM_ERR_INVAL);
        goto done;
    }
    /* windowed Xtensa with clang: compiled through assembly (cli_xtwin_compile) */
    int xtwin = opt.arch == NM_ARCH_XTENSAWIN && clang;
    if (xtwin && push_list(&base, cli_xtwin_cc_flags)) {
        rc = cli_exit_code(NM_ERR_INVAL);
        goto done;
    }
    /* the library queries: the compiler itself, or gcc for clang on RISC-V */
    struct argv_buf libq = {.n = 0};
    if (rv && clang) {
        if (push(&libq, RV_GCC) || push_list(&libq, tool->cpu_flags)) {
            rc = cli_exit_code(NM_ERR_INVAL);
            goto done;
        }
    } else {
        libq = base;
    }
    if (keep) {
        if (snprintf(tmpdir, sizeof tmpdir, "%s", keep) >= (int)sizeof tmpdir) {
            rc = cli_fail(NM_ERR_INVAL, "build: --keep %s: path too long", keep);
            goto done;
        }
        if (cli_mkdir_p(tmpdir) != 0) {
            rc = cli_fail(NM_ERR_IO, "build: --keep %s: cannot make the directory: %s", keep, strerror(errno));
            goto done;
        }
    } else {
        strcpy(tmpdir, "/tmp/natmod-build-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = 0;
            rc = cli_fail(NM_ERR_IO, "build: cannot make a temporary directory: %s", strerror(errno));
            goto done;
        }
    }
    for (size_t k = 0; k < n_srcs; k++) {
        const char *s = srcs[k];
        if (cli_has_suffix(s, ".o") || cli_has_suffix(s, ".a")) {
            inputs[opt.n_inputs++].path = s;
            continue;
        }
        const char *slash = strrchr(s, '/');
        const char *bn = slash ? slash + 1 : s;
        size_t len = strlen(tmpdir) + strlen(bn) + 16;
        char *obj = malloc(len);
        if (!obj) {
            rc = cli_fail(NM_ERR_NOMEM, "out of memory");
            goto done;
        }
        snprintf(obj, len, "%s/%zu_%s.o", tmpdir, k, bn);
        owned[n_owned++] = obj;
        struct argv_buf a = base;
        char *asm_in = NULL, *asm_out = NULL;
        if (xtwin) {
            asm_in = malloc(len + 4);
            asm_out = malloc(len + 4);
            if (!asm_in || !asm_out) {
                free(asm_in);
                free(asm_out);
                rc = cli_fail(NM_ERR_NOMEM, "out of memory");
                goto done;
            }
            snprintf(asm_in, len + 4, "%s/%zu_%s.s", tmpdir, k, bn);
            snprintf(asm_out, len + 4, "%s/%zu_%s.x.s", tmpdir, k, bn);
            owned[n_owned++] = asm_in;
            owned[n_owned++] = asm_out;
        }
        if (push_list(&a, common_flags) || (olevel && push(&a, olevel)) || push(&a, incflag) ||
            push(&a, "-Wall")) {
            rc = cli_exit_code(NM_ERR_INVAL);
            goto done;
        }
        for (size_t u = 0; u < n_user; u++) {
            if (push(&a, user[u])) {
                rc = cli_exit_code(NM_ERR_INVAL);
                goto done;
            }
        }
        if (xtwin) {
            if ((rc = cli_xtwin_compile("build", (char *const *)a.v, s, asm_in, asm_out, obj, verbose))) {
                goto done;
            }
        } else if (push(&a, "-c") || push(&a, s) || push(&a, "-o") || push(&a, obj)) {
            rc = cli_exit_code(NM_ERR_INVAL);
            goto done;
        } else if ((rc = run(&a, verbose, NULL, 0))) {
            goto done;
        }
        inputs[opt.n_inputs++].path = obj;
    }
    /* Libraries last; members are pulled only for symbols still undefined. */
    const char *queries[3] = {"-print-libgcc-file-name", "-print-file-name=libm.a", "-print-file-name=libc.a"};
    size_t n_queries = (tool->libs != LIBS_NONE && !no_libc) ? 3 : xtwin ? 0 : 1;
    char multidir[512] = "";
    if (rv && n_queries > 1) {
        struct argv_buf a = libq;
        if (push(&a, "-print-multi-directory") || run(&a, verbose, multidir, sizeof multidir)) {
            rc = cli_exit_code(NM_ERR_IO);
            goto done;
        }
    }
    for (size_t q = 0; q < n_queries; q++) {
        char *lib = NULL;
        if (rv && q > 0) {
            /* picolibc: <prefix>/lib/<multilib dir>/lib{m,c}.a (libm.a is empty: libc.a holds libm) */
            size_t len = strlen(picolibc) + strlen(multidir) + 16;
            lib = malloc(len);
            if (!lib) {
                rc = cli_fail(NM_ERR_NOMEM, "out of memory");
                goto done;
            }
            snprintf(lib, len, "%s/lib/%s/lib%c.a", picolibc, multidir, q == 1 ? 'm' : 'c');
            if (access(lib, R_OK) != 0) {
                if (q == 2) {
                    fprintf(stderr, "natmod: build: warning: no picolibc for %s (%s): install "
                                    "picolibc-riscv64-unknown-elf, or set NATMOD_PICOLIBC_RV\n", multidir, lib);
                }
                free(lib);
                lib = NULL;
            }
        } else {
            lib = find_lib(&libq, queries[q], verbose);
        }
        if (lib) {
            owned[n_owned++] = lib;
            inputs[opt.n_inputs++].path = lib;
        } else if (q == 0) {
            fprintf(stderr, "natmod: build: warning: %s found no libgcc.a; helpers like __aeabi_uldivmod will be undefined\n", cc);
        }
    }
    if (!opt.name) {
        /* module name = first source's base name without extension */
        const char *slash = strrchr(srcs[0], '/');
        const char *bn = slash ? slash + 1 : srcs[0];
        size_t n = strcspn(bn, ".");
        char *name = strndup(bn, n);
        if (!name) {
            rc = cli_fail(NM_ERR_NOMEM, "out of memory");
            goto done;
        }
        owned[n_owned++] = name;
        opt.name = name;
    }
    char defout[4096];
    if (!out) {
        snprintf(defout, sizeof defout, "%s.nmod", opt.name);
        out = defout;
    }
    opt.inputs = inputs;
    opt.extra_exports = exports;
    opt.n_extra_exports = n_exports;
    opt.verbose = verbose;
    rc = cli_link_write(&opt, &sign, out, quiet);
done:
    if (!keep && tmpdir[0]) {
        for (size_t k = 0; k < n_owned; k++) {
            if (owned[k] && !strncmp(owned[k], tmpdir, strlen(tmpdir))) {
                unlink(owned[k]);
            }
        }
        rmdir(tmpdir);
    }
    for (size_t k = 0; owned && k < n_owned; k++) {
        free(owned[k]);
    }
    free(owned);
    free(srcs);
    free(user);
    free(exports);
    free(inputs);
    return rc;
}
