/*
 * natmod keygen / sign, and the --sign / --version options of build, link
 * and pack: Ed25519 keys and module signatures with libsodium (docs/trust.md).
 *
 * Key files are one text line each:
 *   NAME.pub  "natmod-ed25519-public <64 hex digits>"    the 32-byte key
 *   NAME.key  "natmod-ed25519-secret <128 hex digits>"   libsodium's 64-byte
 *             secret key (seed, then the public key), mode 0600
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "cli_sign.h"
#include "format/writer.h"
#include "natmod/format.h"
#include "natmod/loader.h"

#define PUB_TAG "natmod-ed25519-public "
#define SEC_TAG "natmod-ed25519-secret "

static int sodium_ready(void) {
    if (sodium_init() < 0) {
        return cli_fail(NM_ERR_IO, "libsodium failed to initialise");
    }
    return 0;
}

void cli_key_id_hex(const uint8_t id[NM_KEY_ID_SIZE], char out[2 * NM_KEY_ID_SIZE + 1]) {
    for (unsigned i = 0; i < NM_KEY_ID_SIZE; i++) {
        snprintf(out + 2 * i, 3, "%02x", id[i]);
    }
}

static int hexval(uint8_t c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Read a key file of the given tag holding n bytes. */
static int read_key(const char *path, const char *tag, uint8_t *key, size_t n) {
    uint8_t *text;
    size_t len;
    int err = cli_read_file(path, &text, &len);
    if (err) {
        return err;
    }
    size_t tl = strlen(tag);
    int ok = len >= tl + 2 * n && memcmp(text, tag, tl) == 0;
    for (size_t i = 0; ok && i < n; i++) {
        int hi = hexval(text[tl + 2 * i]), lo = hexval(text[tl + 2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    ok = ok && (len == tl + 2 * n || text[tl + 2 * n] == '\n');
    sodium_memzero(text, len);
    free(text);
    if (!ok) {
        return cli_fail(NM_ERR_INVAL, "%s: not a natmod %s key file (want a line '%s<%zu hex digits>')", path,
                        !strcmp(tag, PUB_TAG) ? "public" : "secret", tag, 2 * n);
    }
    return 0;
}

int cli_read_pubkey(const char *path, uint8_t pk[NM_PUBKEY_SIZE]) {
    return read_key(path, PUB_TAG, pk, NM_PUBKEY_SIZE);
}

/* Write "TAG hex\n" to a new file (refused if it exists). */
static int write_key(const char *path, const char *tag, const uint8_t *key, size_t n, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        return cli_fail(errno == EEXIST ? NM_ERR_DUP : NM_ERR_IO, "%s: %s", path,
                        errno == EEXIST ? "exists; keygen never overwrites a key" : strerror(errno));
    }
    char line[256];
    size_t tl = strlen(tag);
    memcpy(line, tag, tl);
    for (size_t i = 0; i < n; i++) {
        snprintf(line + tl + 2 * i, 3, "%02x", key[i]);
    }
    line[tl + 2 * n] = '\n';
    size_t len = tl + 2 * n + 1;
    int ok = fchmod(fd, mode) == 0 && write(fd, line, len) == (ssize_t)len && fsync(fd) == 0;
    sodium_memzero(line, sizeof line);
    if (close(fd) != 0 || !ok) {
        unlink(path);
        return cli_fail(NM_ERR_IO, "%s: write failed", path);
    }
    return 0;
}

int cmd_keygen(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        puts("usage: natmod keygen NAME\n"
             "\n"
             "Make an Ed25519 key pair for signing modules: NAME.key (secret, mode\n"
             "0600) and NAME.pub (public: give it to boards that should trust NAME).\n"
             "Refused if either file exists. Prints the key id, the first 8 bytes of\n"
             "SHA-512 of the public key, which `natmod info` and boards name.");
        return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : cli_exit_code(NM_ERR_INVAL);
    }
    int rc = sodium_ready();
    if (rc) {
        return rc;
    }
    size_t nl = strlen(argv[1]);
    char *kpath = malloc(nl + 5), *ppath = malloc(nl + 5);
    if (!kpath || !ppath) {
        free(kpath);
        free(ppath);
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    snprintf(kpath, nl + 5, "%s.key", argv[1]);
    snprintf(ppath, nl + 5, "%s.pub", argv[1]);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    if (access(ppath, F_OK) == 0) {
        rc = cli_fail(NM_ERR_DUP, "%s: exists; keygen never overwrites a key", ppath);
    } else if (!(rc = write_key(kpath, SEC_TAG, sk, sizeof sk, 0600)) &&
               (rc = write_key(ppath, PUB_TAG, pk, sizeof pk, 0644))) {
        unlink(kpath); /* half a pair is no use */
    }
    sodium_memzero(sk, sizeof sk);
    if (!rc) {
        uint8_t id[NM_KEY_ID_SIZE];
        char hex[2 * NM_KEY_ID_SIZE + 1];
        nm_key_id(pk, id);
        cli_key_id_hex(id, hex);
        printf("%s, %s: key id %s\n", kpath, ppath, hex);
    }
    free(kpath);
    free(ppath);
    return rc;
}

int cli_sign_opt(int argc, char **argv, int *i, cli_sign_t *s) {
    const char *a = argv[*i];
    if (!strcmp(a, "--sign")) {
        return (s->key = cli_optarg(argc, argv, i)) ? 1 : -1;
    }
    if (!strcmp(a, "--version")) {
        const char *v = cli_optarg(argc, argv, i);
        char *end;
        if (!v) {
            return -1;
        }
        errno = 0;
        unsigned long long n = strtoull(v, &end, 0);
        if (*v == '-' || *end || end == v || errno || n > 0xFFFFFFFFull) {
            cli_fail(NM_ERR_INVAL, "--version '%s': want a number 0..4294967295", v);
            return -1;
        }
        s->version = (uint32_t)n;
        s->have_version = 1;
        return 1;
    }
    return 0;
}

struct msg {
    uint8_t *p;
    size_t n, cap;
};

static void collect(void *arg, const void *p, size_t n) {
    struct msg *m = arg;
    if (m->p && m->n + n <= m->cap) {
        memcpy(m->p + m->n, p, n);
    }
    m->n += n;
}

/* The signed message of img (a signed slice as built), malloc'd, in one
 * pass: its length is the domain prefix plus the slice up to the signature.
 * NULL if out of memory. */
static uint8_t *sig_message(const nm_image_t *img, size_t *len) {
    struct msg m = {NULL, 0, NM_SIG_DOMAIN_SIZE + (size_t)(img->signature - img->base)};
    if (!(m.p = malloc(m.cap))) {
        return NULL;
    }
    nm_sig_message(img, collect, &m);
    if (m.n != m.cap) { /* nm_sig_message and this length disagree: never sign a cut message */
        free(m.p);
        return NULL;
    }
    *len = m.n;
    return m.p;
}

/* One slice: new trailer, then the signature over nm_sig_message. */
static int sign_slice(const cli_sign_t *s, const uint8_t *sk, const uint8_t *key_id, const uint8_t *in,
                      size_t len, uint8_t **out, size_t *out_len, char *why, size_t why_len) {
    nm_image_t img;
    nm_detail_t d;
    int err = nm_image_parse(in, len, &img, &d);
    if (!err && (img.flags & NM_FLAG_XIP_LINKED)) {
        snprintf(why, why_len, "slice is XIP-linked (an installed copy): sign the module as built");
        return NM_ERR_INVAL;
    }
    uint32_t version = s->have_version ? s->version : img.version;
    if (!err) {
        err = nm_slice_set_trailer(in, len, version, sk ? key_id : NULL, out, out_len, &d);
    }
    if (err) {
        snprintf(why, why_len, "%s", d.msg);
        return err;
    }
    if (!sk) {
        return NM_OK;
    }
    if ((err = nm_image_parse(*out, *out_len, &img, &d)) != NM_OK) {
        snprintf(why, why_len, "%s", d.msg);
        return err;
    }
    size_t msg_len;
    uint8_t *msg = sig_message(&img, &msg_len);
    if (!msg) {
        snprintf(why, why_len, "out of memory");
        return NM_ERR_NOMEM;
    }
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, msg, msg_len, sk);
    free(msg);
    if ((err = nm_slice_put_signature(*out, *out_len, sig, &d)) != NM_OK) {
        snprintf(why, why_len, "%s", d.msg);
    }
    return err;
}

int cli_sign_module(const cli_sign_t *s, const char *what, const uint8_t *in, size_t len, uint8_t **out,
                    size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    uint8_t sk[crypto_sign_SECRETKEYBYTES], key_id[NM_KEY_ID_SIZE];
    int rc;
    if (s->key) {
        if ((rc = sodium_ready()) || (rc = read_key(s->key, SEC_TAG, sk, sizeof sk))) {
            return rc;
        }
        nm_key_id(sk + crypto_sign_SEEDBYTES, key_id); /* the public half */
    }
    const uint8_t *key = s->key ? sk : NULL;
    char why[NM_DETAIL_MAX + 64] = "";
    int err;
    if (!nm_is_universal(in, len)) {
        err = sign_slice(s, key, key_id, in, len, out, out_len, why, sizeof why);
    } else {
        nm_detail_t d;
        int n = nm_universal_count(in, len, &d);
        uint8_t *slices[NM_UNIVERSAL_MAX_SLICES] = {0};
        size_t lens[NM_UNIVERSAL_MAX_SLICES];
        err = n < 0 ? n : NM_OK;
        if (n < 0) {
            snprintf(why, sizeof why, "%s", d.msg);
        }
        for (int i = 0; !err && i < n; i++) {
            nm_slice_info_t si;
            if ((err = nm_universal_slice(in, len, (uint32_t)i, &si, &d)) != NM_OK) {
                snprintf(why, sizeof why, "%s", d.msg);
            } else if ((err = sign_slice(s, key, key_id, in + si.offset, si.size, &slices[i], &lens[i], why,
                                         sizeof why)) != NM_OK) {
                char sub[sizeof why];
                snprintf(sub, sizeof sub, "slice %d (%s/%s): %s", i, nm_arch_name(si.arch),
                         nm_float_name(si.float_abi), why);
                memcpy(why, sub, sizeof why);
            }
        }
        if (!err && (err = nm_write_universal((const uint8_t *const *)slices, lens, (unsigned)n, out, out_len,
                                              &d)) != NM_OK) {
            snprintf(why, sizeof why, "%s", d.msg);
        }
        for (int i = 0; i < NM_UNIVERSAL_MAX_SLICES; i++) {
            free(slices[i]);
        }
    }
    sodium_memzero(sk, sizeof sk);
    if (err) {
        free(*out);
        *out = NULL;
        return cli_fail(err, "%s: %s", what, why);
    }
    return 0;
}

int cmd_sign(int argc, char **argv) {
    cli_sign_t s = {0};
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: natmod sign --key NAME.key [--version N] [-o OUT] MODULE.nmod\n"
                 "\n"
                 "Sign every slice of a module (in place unless -o) with an Ed25519 key\n"
                 "from `natmod keygen`. The signature covers the slice as built, its\n"
                 "name, arch, float ABI and the module version (--version; default: the\n"
                 "version the module has, else 0). Boards with trusted keys refuse a\n"
                 "module signed by another key, and one older than the installed one.");
            return 0;
        }
        if (!strcmp(argv[i], "--key")) {
            argv[i] = "--sign"; /* the same option as build's */
        }
        if ((r = cli_sign_opt(argc, argv, &i, &s)) < 0) {
            return cli_exit_code(NM_ERR_INVAL);
        } else if (r) {
            continue;
        }
        if (!strcmp(argv[i], "-o")) {
            if (!(out = cli_optarg(argc, argv, &i))) {
                return cli_exit_code(NM_ERR_INVAL);
            }
        } else if (argv[i][0] == '-' || in) {
            return cli_fail(NM_ERR_INVAL, "sign: unexpected '%s' (see natmod sign --help)", argv[i]);
        } else {
            in = argv[i];
        }
    }
    if (!s.key || !in) {
        return cli_fail(NM_ERR_INVAL, "sign: need --key NAME.key and a module (see natmod sign --help)");
    }
    uint8_t *buf, *signed_buf;
    size_t len, slen;
    int rc = cli_exit_code(cli_read_file(in, &buf, &len));
    if (rc) {
        return rc;
    }
    if (!(rc = cli_sign_module(&s, in, buf, len, &signed_buf, &slen))) {
        rc = cli_exit_code(cli_write_file(out ? out : in, signed_buf, slen));
        free(signed_buf);
    }
    free(buf);
    return rc;
}

int cli_verify_with(const nm_image_t *img, const uint8_t pk[NM_PUBKEY_SIZE]) {
    if (!img->is_signed || (img->flags & NM_FLAG_XIP_LINKED)) {
        return -1;
    }
    size_t msg_len;
    uint8_t *msg;
    if (sodium_ready() || !(msg = sig_message(img, &msg_len))) {
        return -1;
    }
    int rc = crypto_sign_verify_detached(img->signature, msg, msg_len, pk);
    free(msg);
    return rc == 0 ? 0 : -1;
}

int cli_trust_take(int *argc, char **argv, cli_trust_t *t) {
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--trust") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            return cli_fail(NM_ERR_INVAL, "--trust needs a public key file (NAME.pub)");
        }
        if (t->n == CLI_TRUST_MAX) {
            return cli_fail(NM_ERR_INVAL, "at most %d --trust keys", CLI_TRUST_MAX);
        }
        int rc = cli_read_pubkey(argv[++i], t->keys[t->n]);
        if (rc) {
            return rc;
        }
        t->n++;
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}
