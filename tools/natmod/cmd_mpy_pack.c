/* natmod mpy pack: one module built for several archs, laid out so that
 * mip (on the board, or mpremote mip) installs the right .mpy:
 *
 *   DIR/index.json              {"name", "version", "mpy": {"<_mpy>": "ARCH/package.json"}}
 *   DIR/ARCH/MOD.mpy            one per arch built
 *   DIR/ARCH/package.json       {"urls": [["MOD.mpy", URL]], "version": V}
 *   DIR/mpy-<_mpy>/package.json one per firmware sys.implementation._mpy value
 *   DIR/mpy-<_mpy>/MOD.mpy      (a copy, unless --base-url makes URLs absolute)
 *
 * Why this shape (mip's code, micropython-lib micropython/mip and mpremote):
 *  - mip.install("github:u/r/P") fetches P/package.json (appended when the
 *    path does not end in .json) and downloads each "urls" [dest, url] pair
 *    to lib/dest.
 *  - a url without a scheme (http://, https://, github:, gitlab:, codeberg:)
 *    is relative to the package.json's directory in the mip of MicroPython
 *    v1.25.0 on (micropython-lib#975; mpremote too); older mip fetches it as
 *    it is and fails, so --base-url writes absolute URLs for those.
 *  - the relative url is glued on as text, not resolved: "../x" would reach
 *    the server as a dot-segment, so a package.json only names files beside
 *    it, and the mpy-N directories carry their own copy.
 *  - index installs (mip.install("name")) put only _mpy & 0xff (the bytecode
 *    version, 6) in the URL, not the arch: they cannot pick a native .mpy, so
 *    the per-_mpy directories are what a one-line install uses:
 *    mip.install("github:u/r/DIR/mpy-%d" % sys.implementation._mpy).
 * Everything is written under DIR.tmp-XXXXXX and renamed into place at the
 * end, so a failure leaves DIR as it was.
 */
#define _GNU_SOURCE /* mkdtemp, asprintf, nftw */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_mpy.h"
#include "natmod/abi.h"
#include "natmod/mpy.h"

/* The archs pack builds, in index order. */
static const struct {
    const char *name;
    uint8_t arch;
} pack_archs[] = {
    {"x64", NM_ARCH_X64},         {"armv6m", NM_ARCH_ARMV6M},       {"armv7m", NM_ARCH_ARMV7M},
    {"armv7emsp", NM_ARCH_ARMV7EMSP}, {"armv7emdp", NM_ARCH_ARMV7EMDP},
};
#define N_PACK_ARCHS (sizeof pack_archs / sizeof pack_archs[0])

/* Which module to install on a firmware of each arch, best first.
 * MicroPython's loader takes a Thumb module of any arch from armv6m up to
 * the firmware's own (py/persistentcode.h, MPY_FEATURE_ARCH_TEST), but the
 * float ABI must match too: armv7emsp/dp modules pass floats in VFP
 * registers (hard float), armv6m/armv7m ones in core registers. So:
 *  - armv7em (a Cortex-M4/M7 firmware built without an FPU) is soft float:
 *    armv7m, then armv6m;
 *  - armv7emsp (single-precision FPU): only armv7emsp;
 *  - armv7emdp (double-precision FPU): armv7emdp, then armv7emsp: the same
 *    hard-float calling convention (doubles in d registers either way) and
 *    FPv5 executes every FPv4-SP instruction; such a module computes
 *    MicroPython floats in single precision, as it was built to.
 * x86 and armv6 (ARM-mode) firmware take exactly their own arch. */
static const struct {
    uint8_t firmware;
    uint8_t modules[3]; /* NM_ARCH_NONE-terminated */
} fallbacks[] = {
    {NM_ARCH_X64, {NM_ARCH_X64}},
    {NM_ARCH_ARMV6M, {NM_ARCH_ARMV6M}},
    {NM_ARCH_ARMV7M, {NM_ARCH_ARMV7M, NM_ARCH_ARMV6M}},
    {NM_ARCH_ARMV7EM, {NM_ARCH_ARMV7M, NM_ARCH_ARMV6M}},
    {NM_ARCH_ARMV7EMSP, {NM_ARCH_ARMV7EMSP}},
    {NM_ARCH_ARMV7EMDP, {NM_ARCH_ARMV7EMDP, NM_ARCH_ARMV7EMSP}},
};
#define N_FALLBACKS (sizeof fallbacks / sizeof fallbacks[0])

static const char *const url_schemes[] = {"http://", "https://", "github:", "gitlab:", "codeberg:"};

static int arch_index(const char *name) {
    for (size_t i = 0; i < N_PACK_ARCHS; i++) {
        if (!strcmp(pack_archs[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

static int arch_slot(uint8_t arch) {
    for (size_t i = 0; i < N_PACK_ARCHS; i++) {
        if (pack_archs[i].arch == arch) {
            return (int)i;
        }
    }
    return -1;
}

/* The pack_archs slot of the module to install on fallbacks[f]'s firmware, or -1. */
static int pick(size_t f, const int *want) {
    for (size_t j = 0; j < 3 && fallbacks[f].modules[j] != NM_ARCH_NONE; j++) {
        int s = arch_slot(fallbacks[f].modules[j]);
        if (s >= 0 && want[s]) {
            return s;
        }
    }
    return -1;
}

/* s as a JSON string body (quotes not included) into buf. */
static const char *json_str(const char *s, char *buf, size_t n) {
    size_t o = 0;
    for (; *s && o + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, n - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = 0;
    return buf;
}

/* snprintf into a PATH_MAX buffer. Lengths are checked up front (--out,
 * --build-dir and --base-url shorter than PATH_MAX - 256, names 64), so
 * nothing here is cut short; vsnprintf keeps the compiler from guessing. */
static void pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
}

static int write_text(const char *path, const char *text) {
    return cli_exit_code(cli_write_file(path, (const uint8_t *)text, strlen(text)));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir) {
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Is dir what an earlier pack wrote (index.json, and directories holding
 * only package.json and .mpy files), so replacing it loses nothing else? */
static int is_pack_output(const char *dir) {
    char p[PATH_MAX];
    pathf(p, "%s/index.json", dir);
    if (access(p, F_OK) != 0) {
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        return 0;
    }
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "index.json")) {
            continue;
        }
        pathf(p, "%s/%s", dir, e->d_name);
        DIR *sub = opendir(p);
        if (!sub) {
            ok = 0;
            break;
        }
        struct dirent *f;
        while ((f = readdir(sub))) {
            if (strcmp(f->d_name, ".") && strcmp(f->d_name, "..") && strcmp(f->d_name, "package.json") &&
                !cli_has_suffix(f->d_name, ".mpy")) {
                ok = 0;
            }
        }
        closedir(sub);
    }
    closedir(d);
    return ok;
}

/* Check a .mpy's header: natmod's version, and the arch it claims. */
static int check_mpy(const char *path, uint8_t arch) {
    FILE *f = fopen(path, "rb");
    uint8_t h[4];
    if (!f) {
        return cli_fail(NM_ERR_IO, "mpy pack: %s: %s", path, strerror(errno));
    }
    size_t n = fread(h, 1, 4, f);
    fclose(f);
    if (n < 4 || h[0] != NM_MPY_MAGIC) {
        return cli_fail(NM_ERR_MAGIC, "mpy pack: %s: not a .mpy file", path);
    }
    if (h[1] != NM_MPY_VERSION || NM_MPY_FEATURE_SUB(h[2]) != NM_MPY_SUB_VERSION) {
        return cli_fail(NM_ERR_VERSION, "mpy pack: %s: .mpy version %u.%u, not %u.%u", path, h[1],
                        NM_MPY_FEATURE_SUB(h[2]), NM_MPY_VERSION, NM_MPY_SUB_VERSION);
    }
    if (NM_MPY_FEATURE_ARCH(h[2]) != arch) {
        return cli_fail(NM_ERR_ARCH, "mpy pack: %s: holds %s code, not %s", path,
                        nm_arch_name(NM_MPY_FEATURE_ARCH(h[2])), nm_arch_name(arch));
    }
    return 0;
}

static int copy_file(const char *from, const char *to) {
    uint8_t *data;
    size_t len;
    if (cli_read_file(from, &data, &len) != NM_OK) {
        return cli_exit_code(NM_ERR_IO);
    }
    int rc = cli_exit_code(cli_write_file(to, data, len));
    free(data);
    return rc;
}

/* mkdir -p of path's parent. */
static int make_parent(const char *path) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *last = strrchr(p, '/');
    if (!last || last == p) {
        return 0;
    }
    *last = 0;
    return cli_mkdir_p(p);
}

static int is_identifier(const char *s) {
    if (!*s || (*s >= '0' && *s <= '9')) {
        return 0;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_')) {
            return 0;
        }
    }
    return 1;
}

/* package.json for a directory whose module is reached at url. */
static int write_package_json(const char *path, const char *mod, const char *url, const char *version) {
    char m[128], u[PATH_MAX], v[512], text[PATH_MAX + 1024];
    snprintf(text, sizeof text, "{\n    \"urls\": [[\"%s.mpy\", \"%s\"]]%s%s%s\n}\n", json_str(mod, m, sizeof m),
             json_str(url, u, sizeof u), version ? ",\n    \"version\": \"" : "",
             version ? json_str(version, v, sizeof v) : "", version ? "\"" : "");
    return write_text(path, text);
}

static void pack_help(void) {
    puts("usage: natmod mpy pack --out DIR --name MOD [--version V] [--base-url URL]\n"
         "                       --arch ARCH[,ARCH...] [build options] SOURCES...\n"
         "       natmod mpy pack --out DIR --name MOD --mpy ARCH=FILE.mpy ...\n"
         "\n"
         "Build one module for several archs (natmod mpy build; every option pack does\n"
         "not know goes to it) or take .mpy files already built, and write a layout\n"
         "mip installs from (see docs/mpy.md):\n"
         "  DIR/ARCH/MOD.mpy, DIR/ARCH/package.json   one per arch\n"
         "  DIR/mpy-N/package.json (+ MOD.mpy)         one per sys.implementation._mpy value N\n"
         "  DIR/index.json                             _mpy value -> package.json to install\n"
         "On a board: mip.install(\"github:USER/REPO/DIR/mpy-%d\" % sys.implementation._mpy)\n"
         "\n"
         "  --out DIR          output directory (replaced if an earlier pack wrote it)\n"
         "  --name MOD         module name: the file is MOD.mpy, imported as MOD\n"
         "  --version V        version recorded in package.json and index.json\n"
         "  --arch LIST        archs to build: x64, armv6m, armv7m, armv7emsp, armv7emdp\n"
         "  --mpy ARCH=FILE    use a .mpy already built for ARCH (repeatable)\n"
         "  --base-url URL     where DIR is published (github:USER/REPO/DIR, https://...):\n"
         "                     absolute URLs, which mip before MicroPython v1.25 needs\n"
         "  --no-mpy-dirs      do not write the mpy-N directories\n"
         "  --build-dir DIR    keep each arch's objects in DIR/ARCH");
}

#define FWD_ROOM 12

int cmd_mpy_pack(int argc, char **argv) {
    const char *out = NULL, *name = NULL, *version = NULL, *base_url = NULL, *build_dir = NULL;
    const char *given[N_PACK_ARCHS] = {0}; /* --mpy files */
    int want[N_PACK_ARCHS] = {0};          /* built (--arch) or given */
    int mpy_dirs = 1, rc = 0;
    /* natmod mpy build's argv: FWD_ROOM slots for the per-arch options, then
     * every argument pack does not know, in order */
    char **fwd = calloc((size_t)argc + FWD_ROOM, sizeof *fwd);
    int n_fwd = 0;
    char tmp[PATH_MAX] = "", old[PATH_MAX] = "", base[PATH_MAX] = "";
    char path[PATH_MAX], path2[PATH_MAX];
    if (!fwd) {
        return cli_fail(NM_ERR_NOMEM, "out of memory");
    }
    n_fwd = FWD_ROOM;
#define NEED_ARG(var)                                                                                                 \
    do {                                                                                                              \
        if (!((var) = cli_optarg(argc, argv, &i))) {                                                                  \
            rc = cli_exit_code(NM_ERR_INVAL);                                                                         \
            goto done;                                                                                                \
        }                                                                                                             \
    } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            pack_help();
            goto done;
        } else if (!strcmp(a, "--out")) {
            NEED_ARG(out);
        } else if (!strcmp(a, "--name")) {
            NEED_ARG(name);
        } else if (!strcmp(a, "--version")) {
            NEED_ARG(version);
        } else if (!strcmp(a, "--base-url")) {
            NEED_ARG(base_url);
        } else if (!strcmp(a, "--build-dir")) {
            NEED_ARG(build_dir);
        } else if (!strcmp(a, "--no-mpy-dirs")) {
            mpy_dirs = 0;
        } else if (!strcmp(a, "--arch")) {
            NEED_ARG(v);
            char list[256];
            snprintf(list, sizeof list, "%s", v);
            for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int k = arch_index(t);
                if (k < 0) {
                    rc = cli_fail(NM_ERR_INVAL,
                                  "mpy pack: unknown arch '%s' (x64, armv6m, armv7m, armv7emsp, armv7emdp)", t);
                    goto done;
                }
                if (want[k]) {
                    rc = cli_fail(NM_ERR_INVAL, "mpy pack: arch %s given twice", t);
                    goto done;
                }
                want[k] = 1;
            }
        } else if (!strcmp(a, "--mpy")) {
            NEED_ARG(v);
            const char *eq = strchr(v, '=');
            char an[32];
            int k = -1;
            if (eq && (size_t)(eq - v) < sizeof an) {
                memcpy(an, v, (size_t)(eq - v));
                an[eq - v] = 0;
                k = arch_index(an);
            }
            if (k < 0 || !eq[1]) {
                rc = cli_fail(NM_ERR_INVAL, "mpy pack: --mpy %s: want ARCH=FILE.mpy, ARCH one of x64, armv6m, armv7m, "
                                            "armv7emsp, armv7emdp", v);
                goto done;
            }
            if (want[k]) {
                rc = cli_fail(NM_ERR_INVAL, "mpy pack: arch %s given twice", an);
                goto done;
            }
            want[k] = 1;
            given[k] = eq + 1;
        } else if (!strcmp(a, "-o")) {
            rc = cli_fail(NM_ERR_INVAL, "mpy pack: the output is a directory: use --out DIR");
            goto done;
        } else {
            fwd[n_fwd++] = argv[i]; /* natmod mpy build's, with its values */
        }
    }
#undef NEED_ARG
    if (!out || !name) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: --out DIR and --name MOD are required (see natmod mpy pack --help)");
        goto done;
    }
    if (!is_identifier(name) || strlen(name) > 64) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: module name '%s' is not a Python identifier (of at most 64 characters)",
                      name);
        goto done;
    }
    if (version && (strpbrk(version, "\"\\\n\r\t") || strlen(version) > 64)) {
        rc = cli_fail(NM_ERR_INVAL,
                      "mpy pack: --version '%s': at most 64 characters, no quotes, backslashes or control characters",
                      version);
        goto done;
    }
    if (build_dir && strlen(build_dir) > PATH_MAX - 256) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: --build-dir path too long");
        goto done;
    }
    if (base_url) {
        int ok = 0;
        for (size_t k = 0; k < sizeof url_schemes / sizeof url_schemes[0]; k++) {
            ok |= !strncmp(base_url, url_schemes[k], strlen(url_schemes[k]));
        }
        size_t l = strlen(base_url);
        while (l && base_url[l - 1] == '/') {
            l--;
        }
        if (!ok || l > PATH_MAX - 256 || strpbrk(base_url, "\"\\ \n\r\t")) {
            rc = cli_fail(NM_ERR_INVAL, "mpy pack: --base-url %s: must start with http://, https://, github:, gitlab: "
                                        "or codeberg: (what mip fetches from)", base_url);
            goto done;
        }
        memcpy(base, base_url, l);
        base[l] = 0;
    }
    int any = 0, build_any = 0;
    for (size_t k = 0; k < N_PACK_ARCHS; k++) {
        any |= want[k];
        build_any |= want[k] && !given[k];
    }
    if (!any) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: no archs: give --arch LIST or --mpy ARCH=FILE");
        goto done;
    }
    if (!build_any && n_fwd > FWD_ROOM) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: '%s': nothing to build (every arch came with --mpy)", fwd[FWD_ROOM]);
        goto done;
    }
    for (size_t k = 0; k < N_PACK_ARCHS; k++) {
        if (given[k] && (rc = check_mpy(given[k], pack_archs[k].arch))) {
            goto done;
        }
    }
    size_t ol = strlen(out);
    while (ol > 1 && out[ol - 1] == '/') {
        ol--;
    }
    struct stat st;
    char outd[PATH_MAX];
    if (ol > PATH_MAX - 256) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: --out path too long");
        goto done;
    }
    memcpy(outd, out, ol);
    outd[ol] = 0;
    if (stat(outd, &st) == 0 && !(S_ISDIR(st.st_mode) && is_pack_output(outd))) {
        rc = cli_fail(NM_ERR_INVAL, "mpy pack: %s exists and is not an earlier pack's output (index.json and arch "
                                    "directories only): not replacing it", outd);
        goto done;
    }
    if (make_parent(outd) != 0) {
        rc = cli_fail(NM_ERR_IO, "mpy pack: cannot make the directory above %s: %s", outd, strerror(errno));
        goto done;
    }
    pathf(tmp, "%s.tmp-XXXXXX", outd);
    if (!mkdtemp(tmp)) {
        tmp[0] = 0;
        rc = cli_fail(NM_ERR_IO, "mpy pack: cannot make a directory beside %s: %s", outd, strerror(errno));
        goto done;
    }

    /* Each arch's module and package.json. */
    for (size_t k = 0; k < N_PACK_ARCHS; k++) {
        if (!want[k]) {
            continue;
        }
        const char *an = pack_archs[k].name;
        pathf(path, "%s/%s", tmp, an);
        if (mkdir(path, 0777) != 0) {
            rc = cli_fail(NM_ERR_IO, "mpy pack: %s: %s", path, strerror(errno));
            goto done;
        }
        pathf(path, "%s/%s/%s.mpy", tmp, an, name);
        if (given[k]) {
            if ((rc = copy_file(given[k], path))) {
                goto done;
            }
        } else {
            /* natmod mpy build --arch A --name MOD -o TMP/A/MOD.mpy [--build-dir B/A] ... */
            char bd[PATH_MAX];
            int f = 0;
            char *pre[10];
            pre[f++] = "build";
            pre[f++] = "--arch";
            pre[f++] = (char *)an;
            pre[f++] = "--name";
            pre[f++] = (char *)name;
            pre[f++] = "-o";
            pre[f++] = path;
            if (build_dir) {
                pathf(bd, "%s/%s", build_dir, an);
                pre[f++] = "--build-dir";
                pre[f++] = bd;
            }
            char **av = fwd + FWD_ROOM - f;
            memcpy(av, pre, (size_t)f * sizeof *av);
            if ((rc = cmd_mpy_build(n_fwd - (FWD_ROOM - f), av))) {
                goto done;
            }
            if ((rc = check_mpy(path, pack_archs[k].arch))) {
                goto done;
            }
        }
        char url[PATH_MAX];
        pathf(path2, "%s/%s/package.json", tmp, an);
        if (base[0]) {
            pathf(url, "%s/%s/%s.mpy", base, an, name);
        } else {
            pathf(url, "%s.mpy", name);
        }
        if ((rc = write_package_json(path2, name, url, version))) {
            goto done;
        }
    }

    /* The index and the per-_mpy directories. */
    char text[4096], js[512];
    size_t tl = 0;
    tl += (size_t)snprintf(text + tl, sizeof text - tl, "{\n    \"name\": \"%s\",\n", name);
    if (version) {
        tl += (size_t)snprintf(text + tl, sizeof text - tl, "    \"version\": \"%s\",\n",
                               json_str(version, js, sizeof js));
    }
    tl += (size_t)snprintf(text + tl, sizeof text - tl, "    \"mpy\": {");
    int first = 1;
    for (size_t f = 0; f < N_FALLBACKS; f++) {
        int k = pick(f, want);
        if (k < 0) {
            continue;
        }
        unsigned value = NM_MPY_IMPL_VALUE(fallbacks[f].firmware);
        const char *an = pack_archs[k].name;
        tl += (size_t)snprintf(text + tl, sizeof text - tl, "%s\n        \"%u\": \"%s/package.json\"", first ? "" : ",",
                               value, an);
        first = 0;
        if (!mpy_dirs) {
            continue;
        }
        pathf(path, "%s/mpy-%u", tmp, value);
        if (mkdir(path, 0777) != 0) {
            rc = cli_fail(NM_ERR_IO, "mpy pack: %s: %s", path, strerror(errno));
            goto done;
        }
        char url[PATH_MAX];
        if (base[0]) {
            pathf(url, "%s/%s/%s.mpy", base, an, name);
        } else {
            /* mip appends a relative url to this directory as text: a copy here */
            pathf(url, "%s.mpy", name);
            pathf(path, "%s/%s/%s.mpy", tmp, an, name);
            pathf(path2, "%s/mpy-%u/%s.mpy", tmp, value, name);
            if ((rc = copy_file(path, path2))) {
                goto done;
            }
        }
        pathf(path2, "%s/mpy-%u/package.json", tmp, value);
        if ((rc = write_package_json(path2, name, url, version))) {
            goto done;
        }
    }
    tl += (size_t)snprintf(text + tl, sizeof text - tl, "\n    }\n}\n");
    pathf(path, "%s/index.json", tmp);
    if ((rc = write_text(path, text))) {
        goto done;
    }

    /* Into place: an earlier output is moved aside (rename onto an empty
     * directory replaces it), the new one renamed in, the old one removed. */
    if (stat(outd, &st) == 0) {
        pathf(old, "%s.old-XXXXXX", outd);
        if (!mkdtemp(old)) {
            old[0] = 0;
            rc = cli_fail(NM_ERR_IO, "mpy pack: cannot make a directory beside %s: %s", outd, strerror(errno));
            goto done;
        }
        if (rename(outd, old) != 0) {
            rc = cli_fail(NM_ERR_IO, "mpy pack: cannot move the earlier %s aside: %s", outd, strerror(errno));
            rmdir(old);
            old[0] = 0;
            goto done;
        }
    }
    if (rename(tmp, outd) != 0) {
        rc = cli_fail(NM_ERR_IO, "mpy pack: cannot rename %s to %s: %s", tmp, outd, strerror(errno));
        if (old[0] && rename(old, outd) != 0) {
            fprintf(stderr, "natmod: mpy pack: the earlier output is left in %s\n", old);
        }
        old[0] = 0; /* restored, or left for the user: never removed on failure */
        goto done;
    }
    tmp[0] = 0;
    for (size_t f = 0; f < N_FALLBACKS; f++) {
        int k = pick(f, want);
        if (k >= 0) {
            printf("%s: sys.implementation._mpy %u (%s firmware): %s/%s.mpy\n", outd,
                   NM_MPY_IMPL_VALUE(fallbacks[f].firmware), nm_arch_name(fallbacks[f].firmware),
                   pack_archs[k].name, name);
        }
    }
done:
    if (tmp[0]) {
        rm_tree(tmp);
    }
    if (old[0]) {
        rm_tree(old); /* only reached on success */
    }
    free(fwd);
    return rc;
}
