/*
 * natmod: build, link, pack, inspect and run native modules; module store images.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_mpy.h"
#include "cli_sign.h"
#include "natmod/format.h"
#include "natmod/mpy.h"
#include "natmod/store.h"
#include "natmod/version.h"
#include "natmod/xfer.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"build", cmd_build, "compile C sources for an arch and link them into a .nmod"},
    {"link", cmd_link, "link ELF objects and archives into a .nmod"},
    {"pack", cmd_pack, "combine single-arch modules into one universal module"},
    {"info", cmd_info, "show what a module holds (each slice of a universal one)"},
    {"keygen", cmd_keygen, "make an Ed25519 key pair for signing modules"},
    {"sign", cmd_sign, "sign every slice of a module (and set its version)"},
    {"run", cmd_run, "load a module on the host board and call an export"},
    {"store", cmd_store, "make and manage a module store image (format, install, ls, ...)"},
    {"send", cmd_send, "install a module on another board over the asi2c link"},
    {"mpy", cmd_mpy, "MicroPython .mpy native modules: build, link, qstrs, pack"},
};

/* What this natmod reads and writes: enough for a bug report, and for a
 * script to check that a .mpy it writes suits a given MicroPython. */
static void version(void) {
    printf("natmod %s\n", NM_VERSION_STRING);
    printf("module format: .nmod version %u\n", NM_FORMAT_VERSION);
    printf("MicroPython: writes .mpy version %u.%u\n", NM_MPY_VERSION, NM_MPY_SUB_VERSION);
    printf("module store: version %u; install over the link: version %u\n", NM_STORE_VERSION, NM_XFER_VERSION);
}

static void usage(FILE *f) {
    fprintf(f, "usage: natmod COMMAND [ARGS...]   (natmod COMMAND --help for details)\n"
               "       natmod --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %-6s  %s\n", commands[i].name, commands[i].summary);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return cli_exit_code(NM_ERR_INVAL);
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        version();
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    return cli_fail(NM_ERR_INVAL, "unknown command '%s' (try natmod --help)", argv[1]);
}
