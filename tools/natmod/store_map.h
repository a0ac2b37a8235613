/*
 * natmod store map: a store image drawn as SVG, block by block
 * (store_map.c; the command itself is in cmd_store.c).
 */
#ifndef NATMOD_STORE_MAP_H
#define NATMOD_STORE_MAP_H

#include <stddef.h>

#include "cli.h"

/* The most blocks a map draws (4,096 fill a 64 x 64 grid; more make it
 * taller): a bound on the work and memory an image's size can ask for. */
#define CLI_MAP_MAX_BLOCKS 65536u

/* Counts from the last map, for the command's summary line. */
typedef struct cli_map_summary {
    unsigned blocks, cols, rows, modules, damaged_modules, damaged_meta_blocks, kept_blocks, free_runs;
} cli_map_summary_t;

/* Draw the mounted store cs (call nm_store_check first so damaged extents
 * are known) as an SVG document: *svg (malloc'd, NUL-terminated) of *len
 * bytes. label names the image in the caption. Reads the image only
 * through the store's API. Returns 0, or the exit status with one line
 * printed naming the image. */
int cli_store_map(const cli_store_t *cs, const char *label, char **svg, size_t *len,
                  cli_map_summary_t *sum);

#endif /* NATMOD_STORE_MAP_H */
