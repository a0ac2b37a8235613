/* Shared CLI helpers: messages, files, arch names. */
#define _POSIX_C_SOURCE 200809L /* PATH_MAX, mkdir */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "natmod/abi.h"

int cli_exit_code(int err) {
    return err < 0 ? -err : (err ? err : 0);
}

int cli_fail(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("natmod: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return cli_exit_code(err);
}

int cli_fail_lines(int err, const char *msg) {
    do {
        size_t n = strcspn(msg, "\n");
        fprintf(stderr, "natmod: %.*s\n", (int)n, msg);
        msg += n + (msg[n] == '\n');
    } while (*msg);
    return cli_exit_code(err);
}

int cli_read_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "natmod: %s: %s\n", path, strerror(errno));
        return NM_ERR_IO;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        uint8_t *nb = cap > ((size_t)1 << 30) ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "natmod: %s: read failed (or larger than 1 GiB)\n", path);
        return NM_ERR_IO;
    }
    *data = buf;
    *len = n;
    return NM_OK;
}

/* Writes into path directly: for what must not be replaced. */
static int write_in_place(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) {
        ok = 0;
    }
    if (!ok) {
        fprintf(stderr, "natmod: %s: write failed: %s\n", path, strerror(errno));
        return NM_ERR_IO;
    }
    return NM_OK;
}

int cli_write_file(const char *path, const uint8_t *data, size_t len) {
    /* Something that exists and is not a regular file (/dev/null, a pipe,
     * a tty) is written in place: renaming over it would replace it, and
     * as root that replaces /dev/null with a file. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        return write_in_place(path, data, len);
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp) {
        return NM_ERR_IO;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) {
        ok = 0;
    }
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "natmod: %s: write failed: %s\n", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return NM_ERR_IO;
    }
    free(tmp);
    return NM_OK;
}

int cli_parse_arch(const char *arch, const char *fabi, uint8_t *arch_out, uint8_t *float_out) {
    unsigned a = NM_ARCH_NONE;
    if (!arch) {
        fprintf(stderr, "natmod: --arch is required (x86_64, armv6m, armv7m, armv7em, armv7emsp, armv7emdp, rv32imc, xtensa, xtensawin)\n");
        return NM_ERR_INVAL;
    }
    if (!strcmp(arch, "x64") || !strcmp(arch, "host")) {
        a = NM_ARCH_X64;
    }
    for (unsigned i = 1; i < NM_ARCH_COUNT && a == NM_ARCH_NONE; i++) {
        if (!strcmp(arch, nm_arch_name(i))) {
            a = i;
        }
    }
    if (a == NM_ARCH_NONE) {
        fprintf(stderr, "natmod: unknown arch '%s' (x86_64, armv6m, armv7m, armv7em, armv7emsp, armv7emdp, rv32imc, xtensa, xtensawin)\n", arch);
        return NM_ERR_INVAL;
    }
    if (a == NM_ARCH_RV64IMC) {
        fprintf(stderr, "natmod: rv64imc modules are .mpy only (natmod mpy link/build --arch rv64imc): .nmod "
                        "instruction relocations are defined for rv32imc\n");
        return NM_ERR_UNSUPPORTED;
    }
    unsigned f;
    if (!fabi) {
        f = (a == NM_ARCH_X64 || a == NM_ARCH_X86 || a == NM_ARCH_ARMV7EMSP || a == NM_ARCH_ARMV7EMDP)
                ? NM_FLOAT_HARD
                : NM_FLOAT_SOFT;
    } else if (!strcmp(fabi, "soft")) {
        f = NM_FLOAT_SOFT;
    } else if (!strcmp(fabi, "hard")) {
        f = NM_FLOAT_HARD;
    } else {
        fprintf(stderr, "natmod: unknown float ABI '%s' (soft or hard)\n", fabi);
        return NM_ERR_INVAL;
    }
    /* The FPU arches imply hard float, and hard float on armv7em means an FPU. */
    if (a == NM_ARCH_ARMV7EM && f == NM_FLOAT_HARD) {
        a = NM_ARCH_ARMV7EMSP;
    }
    if ((a == NM_ARCH_ARMV7EMSP || a == NM_ARCH_ARMV7EMDP) && f == NM_FLOAT_SOFT) {
        fprintf(stderr, "natmod: %s has an FPU and uses the hard float ABI; use armv7em for soft float\n", nm_arch_name(a));
        return NM_ERR_INVAL;
    }
    if ((a == NM_ARCH_ARMV6M || a == NM_ARCH_ARMV7M) && f == NM_FLOAT_HARD) {
        fprintf(stderr, "natmod: %s has no FPU: the float ABI must be soft\n", nm_arch_name(a));
        return NM_ERR_INVAL;
    }
    if (a == NM_ARCH_RV32IMC && f != NM_FLOAT_SOFT) {
        fprintf(stderr, "natmod: rv32imc has no FPU: the float ABI is soft (ilp32)\n");
        return NM_ERR_INVAL;
    }
    if ((a == NM_ARCH_XTENSA || a == NM_ARCH_XTENSAWIN) && f != NM_FLOAT_SOFT) {
        fprintf(stderr, "natmod: %s passes floats in core registers: the float ABI is soft\n", nm_arch_name(a));
        return NM_ERR_INVAL;
    }
    if (a == NM_ARCH_X64 && f != NM_FLOAT_HARD) {
        fprintf(stderr, "natmod: x86_64 passes floats in SSE registers: the float ABI is hard\n");
        return NM_ERR_INVAL;
    }
    *arch_out = (uint8_t)a;
    *float_out = (uint8_t)f;
    return NM_OK;
}

const char *cli_optarg(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "natmod: option %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_mkdir_p(const char *dir) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                return -1;
            }
            *s = '/';
        }
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        return -1;
    }
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

#ifndef NATMOD_INCLUDE_DIR
#define NATMOD_INCLUDE_DIR "include"
#endif

const char *cli_include_dir(void) {
    const char *env = getenv("NATMOD_INCLUDE");
    if (env && *env) {
        return env;
    }
    static char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0) {
        dir[n] = 0;
        char *slash = strrchr(dir, '/');
        if (slash && (size_t)(slash - dir) + sizeof "/../include/natmod/module.h" <= sizeof dir) {
            strcpy(slash, "/../include/natmod/module.h");
            if (access(dir, R_OK) == 0) {
                slash[sizeof "/../include" - 1] = 0;
                return dir;
            }
        }
    }
    return NATMOD_INCLUDE_DIR;
}

int cli_has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int cli_spawn(char *const *argv, int verbose, char *capture, size_t cap_len) {
    if (verbose) {
        for (size_t i = 0; argv[i]; i++) {
            fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
        }
        fputc('\n', stderr);
    }
    fflush(stdout);
    fflush(stderr);
    int pfd[2] = {-1, -1};
    if (capture && pipe(pfd) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (capture) {
            close(pfd[0]);
            close(pfd[1]);
        }
        return -1;
    }
    if (pid == 0) {
        if (capture) {
            dup2(pfd[1], 1);
            close(pfd[0]);
            close(pfd[1]);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (capture) {
        close(pfd[1]);
        size_t n = 0;
        ssize_t r;
        while (n + 1 < cap_len && (r = read(pfd[0], capture + n, cap_len - 1 - n)) > 0) {
            n += (size_t)r;
        }
        capture[n] = 0;
        capture[strcspn(capture, "\r\n")] = 0;
        char sink[256];
        while (read(pfd[0], sink, sizeof sink) > 0) {
        }
        close(pfd[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
