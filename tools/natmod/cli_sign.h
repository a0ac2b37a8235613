/*
 * Module signing for the CLI (sign.c): key files, --sign / --version, and
 * checking a signature on the host (libsodium).
 */
#ifndef NATMOD_CLI_SIGN_H
#define NATMOD_CLI_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/format.h"

typedef struct cli_sign {
    const char *key;  /* --sign NAME.key, or NULL */
    uint32_t version; /* --version N */
    int have_version;
} cli_sign_t;

int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);

/* If argv[*i] is --sign or --version, take its value into s and return 1
 * (*i advanced); 0 if it is neither; -1 after printing an error. */
int cli_sign_opt(int argc, char **argv, int *i, cli_sign_t *s);

/* Does s ask for anything (a key or a version)? */
static inline int cli_sign_wanted(const cli_sign_t *s) {
    return s->key != NULL || s->have_version;
}

/* Give every slice of a module (slice or universal) s's trailer: its
 * version and, with a key, a signature. *out is malloc'd. On failure
 * prints one line naming what (a file name) and returns the exit status. */
int cli_sign_module(const cli_sign_t *s, const char *what, const uint8_t *in, size_t len, uint8_t **out,
                    size_t *out_len);

/* Read a NAME.pub file. 0, or the exit status after printing an error. */
int cli_read_pubkey(const char *path, uint8_t pk[NM_PUBKEY_SIZE]);

/* 0 if img (a signed slice as built) verifies with pk (libsodium), else -1. */
int cli_verify_with(const nm_image_t *img, const uint8_t pk[NM_PUBKEY_SIZE]);

/* --trust K.pub (repeatable): the keys a board takes modules from. */
#define CLI_TRUST_MAX 8
typedef struct cli_trust {
    uint8_t keys[CLI_TRUST_MAX][NM_PUBKEY_SIZE];
    size_t n;
} cli_trust_t;

/* Take every "--trust FILE" pair out of argv (in place, *argc reduced) and
 * read the keys into t. 0, or the exit status after printing an error. */
int cli_trust_take(int *argc, char **argv, cli_trust_t *t);

void cli_key_id_hex(const uint8_t id[NM_KEY_ID_SIZE], char out[2 * NM_KEY_ID_SIZE + 1]);

#endif /* NATMOD_CLI_SIGN_H */
