/* natmod link: ELF objects and archives -> .nmod */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_link.h"
#include "link/link.h"

int cli_link_write(const nml_options_t *opt, const cli_sign_t *sign, const char *out_path, int quiet) {
    nml_result_t res;
    char detail[8192] = ""; /* room for a line per undefined symbol */
    int err = nml_link(opt, &res, detail, sizeof detail);
    if (err) {
        return cli_fail_lines(err, detail[0] ? detail : nm_strerror(err));
    }
    uint8_t *img = NULL;
    size_t len = 0;
    err = nml_write_nmod(&res, &img, &len, detail, sizeof detail);
    if (!err && sign && cli_sign_wanted(sign)) {
        uint8_t *signed_img;
        size_t signed_len;
        int st = cli_sign_module(sign, out_path, img, len, &signed_img, &signed_len);
        if (st) {
            free(img);
            nml_result_free(&res);
            return st; /* cli_sign_module said why */
        }
        free(img);
        img = signed_img;
        len = signed_len;
    }
    if (!err) {
        err = cli_write_file(out_path, img, len);
        if (!err && !quiet) {
            printf("%s: %s/%s, %zu bytes (text %u, data %u, bss %u, %u imports, %u exports)\n",
                   out_path, nm_arch_name(res.mod.arch), nm_float_name(res.mod.float_abi), len,
                   (unsigned)res.mod.text_size, (unsigned)res.mod.data_size,
                   (unsigned)res.mod.bss_size, (unsigned)res.mod.n_imports,
                   (unsigned)res.mod.n_exports);
        }
    } else {
        cli_fail(err, "%s: %s", out_path, detail[0] ? detail : nm_strerror(err));
    }
    free(img);
    nml_result_free(&res);
    return cli_exit_code(err);
}

static void link_help(void) {
    puts("usage: natmod link --arch ARCH [--float soft|hard] [-o OUT.nmod] [options] INPUTS...\n"
         "\n"
         "Link ELF relocatable objects (.o) and ar archives (.a) into one module.\n"
         "Archive members are pulled in only when they define a needed symbol.\n"
         "\n"
         "  --arch ARCH       x86_64, armv6m, armv7m, armv7em, armv7emsp, armv7emdp, rv32imc,\n"
         "                    xtensa (call0, ESP8266), xtensawin (windowed, ESP32)\n"
         "  --float ABI       soft or hard (armv7em + hard = armv7emsp)\n"
         "  -o FILE           output (default: NAME.nmod)\n"
         "  --name NAME       module name (default: first input's base name)\n"
         "  --syms FILE       firmware symbol list: imports it lacks fail at link time\n"
         "  --export SYM      export SYM even if it is not marked NM_EXPORT\n"
         "  --no-gc           keep sections no export reaches\n"
         CLI_SIGN_HELP
         "  -q                print nothing on success\n"
         "\n"
         "Exports are the default-visibility global functions and objects of the\n"
         "objects given (not archive members); nm_init/nm_deinit run at load/unload.");
}

int cmd_link(int argc, char **argv) {
    const char *arch = NULL, *fabi = NULL, *out = NULL;
    int quiet = 0;
    cli_sign_t sign = {0};
    nml_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.gc_sections = 1;
    nml_input_t *inputs = calloc((size_t)argc, sizeof *inputs);
    const char **exports = calloc((size_t)argc, sizeof *exports);
    size_t n_exports = 0;
    int rc = 0;
    if (!inputs || !exports) {
        rc = cli_fail(NM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int so = cli_sign_opt(argc, argv, &i, &sign);
        if (so < 0) {
            rc = cli_exit_code(NM_ERR_INVAL);
            goto done;
        } else if (so) {
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            link_help();
            goto done;
        } else if (!strcmp(a, "--arch")) {
            if (!(arch = cli_optarg(argc, argv, &i))) { rc = cli_exit_code(NM_ERR_INVAL); goto done; }
        } else if (!strcmp(a, "--float")) {
            if (!(fabi = cli_optarg(argc, argv, &i))) { rc = cli_exit_code(NM_ERR_INVAL); goto done; }
        } else if (!strcmp(a, "-o")) {
            if (!(out = cli_optarg(argc, argv, &i))) { rc = cli_exit_code(NM_ERR_INVAL); goto done; }
        } else if (!strcmp(a, "--name")) {
            if (!(opt.name = cli_optarg(argc, argv, &i))) { rc = cli_exit_code(NM_ERR_INVAL); goto done; }
        } else if (!strcmp(a, "--syms")) {
            if (!(opt.syms_path = cli_optarg(argc, argv, &i))) { rc = cli_exit_code(NM_ERR_INVAL); goto done; }
        } else if (!strcmp(a, "--export")) {
            if (!(exports[n_exports++] = cli_optarg(argc, argv, &i))) { rc = cli_exit_code(NM_ERR_INVAL); goto done; }
        } else if (!strcmp(a, "--no-gc")) {
            opt.gc_sections = 0;
        } else if (!strcmp(a, "-q")) {
            quiet = 1;
        } else if (!strcmp(a, "-v")) {
            opt.verbose = 1;
        } else if (a[0] == '-') {
            rc = cli_fail(NM_ERR_INVAL, "link: unknown option '%s' (see natmod link --help)", a);
            goto done;
        } else {
            inputs[opt.n_inputs++].path = a;
        }
    }
    if ((rc = cli_exit_code(cli_parse_arch(arch, fabi, &opt.arch, &opt.float_abi)))) {
        goto done;
    }
    if (!opt.n_inputs) {
        rc = cli_fail(NM_ERR_INVAL, "link: no input files (see natmod link --help)");
        goto done;
    }
    opt.inputs = inputs;
    opt.extra_exports = exports;
    opt.n_extra_exports = n_exports;
    char defout[4096];
    if (!out) {
        const char *base = opt.name ? opt.name : inputs[0].path;
        const char *slash = strrchr(base, '/');
        base = slash ? slash + 1 : base;
        size_t n = strcspn(base, ".");
        snprintf(defout, sizeof defout, "%.*s.nmod", (int)n, base);
        out = defout;
    }
    rc = cli_link_write(&opt, &sign, out, quiet);
done:
    free(inputs);
    free(exports);
    return rc;
}
