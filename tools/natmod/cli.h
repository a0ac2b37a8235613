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
int cmd_store(int argc, char **argv);
int cmd_send(int argc, char **argv);

/* Print "natmod: <msg>" to stderr (one line) and return the exit status for err. */
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a message of several lines (the linker's list of undefined
 * symbols): "natmod: <line>" for each. */
int cli_fail_lines(int err, const char *msg);
int cli_exit_code(int err);

/* Read a whole file (malloc'd); NM_ERR_IO with a message on failure. */
int cli_read_file(const char *path, uint8_t **data, size_t *len);
/* Write atomically (temp file + rename); something that exists and is not
 * a regular file (/dev/null, a pipe) is written in place instead. */
int cli_write_file(const char *path, const uint8_t *data, size_t len);

/* Parse an arch name ("x86_64", "x64", "armv7em", ...) and an optional float
 * ABI ("soft", "hard", NULL for the arch's default). armv7em + hard becomes
 * armv7emsp. Returns NM_OK or NM_ERR_INVAL with a message printed. */
int cli_parse_arch(const char *arch, const char *fabi, uint8_t *arch_out, uint8_t *float_out);

/* Is `a` the option `name` (exact)? For "--opt VALUE" parsing: returns the
 * value and advances *i, or prints an error and returns NULL. */
const char *cli_optarg(int argc, char **argv, int *i);

int cli_has_suffix(const char *s, const char *suffix);

/* mkdir -p: make dir and its missing parents. 0, or -1 with errno set
 * (ENOTDIR if dir exists but is not a directory). */
int cli_mkdir_p(const char *dir);

/* The directory holding natmod/module.h for modules' compiles: $NATMOD_INCLUDE,
 * else ../include beside the running natmod (an installed natmod), else
 * the source tree it was built from. */
const char *cli_include_dir(void);

/* Run argv (NULL-terminated; printed first if verbose): 0 if it exits 0,
 * else its exit status (127: exec failed, the program is missing), or -1 if
 * it could not be started. With capture, the first line of its stdout (its
 * stderr still goes to ours). */
int cli_spawn(char *const *argv, int verbose, char *capture, size_t cap_len);

/* ---- store images (cmd_store.c), shared with natmod run --store ---- */

#include "natmod/loader.h"
#include "natmod/store.h"
#include "store/bd_file.h"

#define CLI_STORE_ENTRIES 256 /* modules (and replaced-while-pinned ones) a store may hold */

/* Geometry a store image is opened with (the file's size gives the block
 * count). Zeroed: the defaults, 4096/16/4096. */
typedef struct cli_geometry {
    uint32_t block_size, prog_size, align;
} cli_geometry_t;

/* A store image opened by the CLI: the file as block device, the store
 * mounted on it in copy mode (the slice stored as it is, map_base 0: the
 * host board maps extents itself). Large: allocate it (cli_store_open). */
typedef struct cli_store {
    const char *image;
    nm_bd_file_t bd;
    nm_store_config_t cfg;
    nm_store_t s;
    nm_store_entry_t entries[CLI_STORE_ENTRIES];
    uint8_t buffer[NM_STORE_BUFFER_SIZE(NM_STORE_MAX_PROG)];
} cli_store_t;

/* If argv[*i] is --block-size, --prog-size or --align, parse its value
 * into g and return 1 (*i advanced); 0 if it is none of them; a negative
 * NM_ERR_* (message printed) for a bad value. */
int cli_geometry_opt(int argc, char **argv, int *i, cli_geometry_t *g);

/* Open image (read-only unless writable) and mount the store on it with
 * loader as the board (install and load need it; may be NULL otherwise).
 * On failure prints one line naming the image and returns the exit status
 * (*out NULL). cli_store_close unmounts (nothing to do) and closes. */
int cli_store_open(const char *image, const cli_geometry_t *g, const nm_loader_config_t *loader,
                   int writable, cli_store_t **out);
void cli_store_close(cli_store_t *cs);

/* "natmod: store IMAGE: MSG" for a store error: the detail without the
 * store's own "store: " prefix, plus what the device said on an I/O error. */
int cli_store_fail(const cli_store_t *cs, int err, const nm_detail_t *d);

#endif /* NATMOD_CLI_H */
