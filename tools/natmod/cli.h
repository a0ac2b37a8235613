/*
 * natmod CLI internals: one file per command, shared helpers in util.c.
 * Every command returns 0 or the positive value of the NM_ERR_* that failed,
 * so each kind of failure has its own exit status.
 */
#ifndef NATMOD_CLI_H
#define NATMOD_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"

int cmd_build(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Print "natmod: <msg>" to stderr (one line) and return the exit status for err. */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_exit_code(int err);

/* Read a whole file (malloc'd); NM_ERR_IO with a message on failure. */
int cli_read_file(const char *path, uint8_t **data, size_t *len);
/* Write atomically (temp file + rename). */
int cli_write_file(const char *path, const uint8_t *data, size_t len);

/* Parse an arch name ("x86_64", "x64", "armv7em", ...) and an optional float
 * ABI ("soft", "hard", NULL for the arch's default). armv7em + hard becomes
 * armv7emsp. Returns NM_OK or NM_ERR_INVAL with a message printed. */
int cli_parse_arch(const char *arch, const char *fabi, uint8_t *arch_out, uint8_t *float_out);

/* Is `a` the option `name` (exact)? For "--opt VALUE" parsing: returns the
 * value and advances *i, or prints an error and returns NULL. */
const char *cli_optarg(int argc, char **argv, int *i);

int cli_has_suffix(const char *s, const char *suffix);

#endif /* NATMOD_CLI_H */
