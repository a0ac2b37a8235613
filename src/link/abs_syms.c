/*
 * Absolute symbols a module may call or reference at fixed addresses: the
 * defined global symbols of a firmware ELF (executable or shared, 32 or 64
 * bit, little-endian), or a linker-script symbol file with lines
 * "sym = 0xADDR;" / "PROVIDE(sym = 0xADDR);", comments and blank lines.
 * Both are untrusted: every offset, size, index and name is checked.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_internal.h"
#include "link/util.h"

typedef struct abs_ent {
    const char *name;
    uint64_t addr;
} abs_ent_t;

struct nml_abs_syms {
    abs_ent_t *v;
    size_t n, cap;
    char *names; /* owned copy of the names */
    size_t names_len, names_cap;
};

/* One-line detail into (d, n), as the rest of the linker reports. */
#define fail(d, n, code, ...) nml_fail(&(nml_err_t){(d), (n), 0}, (code), __VA_ARGS__)

/* Names are stored as offsets into t->names while it grows, then fixed up. */
static int add(nml_abs_syms_t *t, const char *name, size_t len, uint64_t addr) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        abs_ent_t *v = realloc(t->v, cap * sizeof(*v));
        if (!v) {
            return NM_ERR_NOMEM;
        }
        t->v = v;
        t->cap = cap;
    }
    if (t->names_len + len + 1 > t->names_cap) {
        size_t cap = t->names_cap ? t->names_cap : 4096;
        while (cap < t->names_len + len + 1) {
            cap *= 2;
        }
        char *p = realloc(t->names, cap);
        if (!p) {
            return NM_ERR_NOMEM;
        }
        t->names = p;
        t->names_cap = cap;
    }
    memcpy(t->names + t->names_len, name, len);
    t->names[t->names_len + len] = 0;
    t->v[t->n].name = (const char *)(uintptr_t)t->names_len;
    t->v[t->n].addr = addr;
    t->n++;
    t->names_len += len + 1;
    return NM_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const abs_ent_t *)a)->name, ((const abs_ent_t *)b)->name);
}

/* Fix names up, sort, and drop repeats (an ELF may list a name twice, as a
 * global and a weak definition; a symbol file that repeats one is refused
 * while it is read). */
static void finish(nml_abs_syms_t *t) {
    for (size_t i = 0; i < t->n; i++) {
        t->v[i].name = t->names + (uintptr_t)t->v[i].name;
    }
    if (t->n > 1) {
        qsort(t->v, t->n, sizeof(*t->v), by_name);
    }
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (w && !strcmp(t->v[w - 1].name, t->v[i].name)) {
            continue;
        }
        t->v[w++] = t->v[i];
    }
    t->n = w;
}

static uint64_t rd(const uint8_t *p, unsigned w) {
    return w == 8 ? nml_rd64(p) : w == 4 ? nml_rd32(p) : w == 2 ? nml_rd16(p) : p[0];
}

/* The defined global/weak symbols of an ELF file's .symtab (or .dynsym). */
static int load_elf(const char *path, const uint8_t *d, size_t n, nml_abs_syms_t *t, char *det, size_t dl) {
    if (n < 52 || d[4] < 1 || d[4] > 2 || d[5] != 1) {
        return fail(det, dl, NM_ERR_ELF, "%s: not a little-endian ELF32/ELF64 file", path);
    }
    int is64 = d[4] == 2;
    unsigned a = is64 ? 8 : 4; /* address width */
    if (is64 && n < 64) {
        return fail(det, dl, NM_ERR_ELF, "%s: ELF header truncated", path);
    }
    uint64_t shoff = rd(d + (is64 ? 40 : 32), a);
    unsigned shentsize = (unsigned)rd(d + (is64 ? 58 : 46), 2);
    unsigned shnum = (unsigned)rd(d + (is64 ? 60 : 48), 2);
    unsigned want = is64 ? 64 : 40;
    if (shnum == 0 || shentsize < want || shoff > n || (uint64_t)shnum * shentsize > n - shoff) {
        return fail(det, dl, NM_ERR_ELF, "%s: section header table outside the file (offset 0x%llx, %u x %u bytes)",
                    path, (unsigned long long)shoff, shnum, shentsize);
    }
    int found = 0;
    for (unsigned pass = 0; pass < 2 && !found; pass++) {
        uint32_t want_type = pass == 0 ? 2 /* SHT_SYMTAB */ : 11 /* SHT_DYNSYM */;
        for (unsigned i = 0; i < shnum; i++) {
            const uint8_t *sh = d + shoff + (uint64_t)i * shentsize;
            if (nml_rd32(sh + 4) != want_type) {
                continue;
            }
            found = 1;
            uint64_t off = rd(sh + (is64 ? 24 : 16), a), size = rd(sh + (is64 ? 32 : 20), a);
            uint32_t link = nml_rd32(sh + (is64 ? 40 : 24));
            uint64_t entsize = rd(sh + (is64 ? 56 : 36), a);
            unsigned esz = is64 ? 24 : 16;
            if (off > n || size > n - off || entsize < esz || link >= shnum) {
                return fail(det, dl, NM_ERR_ELF, "%s: symbol table (section %u) outside the file or malformed", path, i);
            }
            const uint8_t *ssh = d + shoff + (uint64_t)link * shentsize;
            uint64_t soff = rd(ssh + (is64 ? 24 : 16), a), ssize = rd(ssh + (is64 ? 32 : 20), a);
            if (nml_rd32(ssh + 4) != 3 /* SHT_STRTAB */ || soff > n || ssize > n - soff) {
                return fail(det, dl, NM_ERR_ELF, "%s: string table (section %u) of symbol table %u is malformed", path,
                            link, i);
            }
            const char *str = (const char *)d + soff;
            for (uint64_t k = 1; k < size / entsize; k++) {
                const uint8_t *s = d + off + k * entsize;
                uint32_t name = nml_rd32(s);
                uint8_t info = is64 ? s[4] : s[12];
                uint16_t shndx = (uint16_t)nml_rd16(s + (is64 ? 6 : 14));
                uint64_t value = rd(s + (is64 ? 8 : 4), a);
                unsigned bind = info >> 4, type = info & 15;
                if ((bind != 1 && bind != 2) || shndx == 0 || type > 2 || name == 0) {
                    continue; /* local, undefined, or a section/file/TLS symbol */
                }
                if (name >= ssize) {
                    return fail(det, dl, NM_ERR_ELF, "%s: symbol %llu's name offset 0x%x is outside its string table",
                                path, (unsigned long long)k, name);
                }
                const char *nm = str + name;
                size_t len = strnlen(nm, (size_t)(ssize - name));
                if (len == (size_t)(ssize - name)) {
                    return fail(det, dl, NM_ERR_ELF, "%s: symbol %llu's name is not terminated", path,
                                (unsigned long long)k);
                }
                if (add(t, nm, len, value)) {
                    return fail(det, dl, NM_ERR_NOMEM, "out of memory");
                }
            }
        }
    }
    if (!found) {
        return fail(det, dl, NM_ERR_ELF, "%s: no symbol table (was the firmware stripped?)", path);
    }
    return NM_OK;
}

static int ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '$';
}

static int ident(int c) {
    return ident_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r')) {
        p++;
    }
    return p;
}

/* "sym = 0xADDR;" or "PROVIDE(sym = 0xADDR);" per line; C comments (which
 * may span lines), // comments and blank lines are skipped. */
static int load_script(const char *path, const uint8_t *d, size_t n, nml_abs_syms_t *t, char *det, size_t dl) {
    const char *p = (const char *)d, *end = p + n;
    unsigned line = 1;
    int in_comment = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) {
            eol = end;
        }
        /* strip comments into a bounded copy of the line */
        char buf[512];
        size_t bl = 0;
        for (const char *q = p; q < eol; q++) {
            if (in_comment) {
                if (q + 1 < eol && q[0] == '*' && q[1] == '/') {
                    in_comment = 0;
                    q++;
                }
                continue;
            }
            if (q + 1 < eol && q[0] == '/' && q[1] == '*') {
                in_comment = 1;
                q++;
                continue;
            }
            if (q + 1 < eol && q[0] == '/' && q[1] == '/') {
                break;
            }
            if (bl + 1 >= sizeof buf) {
                return fail(det, dl, NM_ERR_INVAL, "%s:%u: line too long", path, line);
            }
            buf[bl++] = *q;
        }
        buf[bl] = 0;
        const char *s = skip_ws(buf, buf + bl), *e = buf + bl;
        if (s < e) {
            int provide = 0;
            /* PROVIDE(...) or, as ESP8266's eagle.rom.addr.v6.ld writes it,
             * PROVIDE ( ... ) */
            const char *o = (size_t)(e - s) > 7 && !memcmp(s, "PROVIDE", 7) ? skip_ws(s + 7, e) : s;
            if (o > s + 6 && o < e && *o == '(') {
                provide = 1;
                s = skip_ws(o + 1, e);
            }
            const char *name = s;
            if (s >= e || !ident_start((unsigned char)*s)) {
                return fail(det, dl, NM_ERR_INVAL, "%s:%u: expected 'symbol = 0xADDR;'", path, line);
            }
            while (s < e && ident((unsigned char)*s)) {
                s++;
            }
            size_t nlen = (size_t)(s - name);
            s = skip_ws(s, e);
            if (s >= e || *s != '=') {
                return fail(det, dl, NM_ERR_INVAL, "%s:%u: expected '=' after '%.*s'", path, line, (int)nlen, name);
            }
            s = skip_ws(s + 1, e);
            char *num_end;
            errno = 0;
            unsigned long long v = strtoull(s, &num_end, 0);
            if (num_end == s || errno || *s == '-') {
                return fail(det, dl, NM_ERR_INVAL, "%s:%u: '%.*s' has no address (a number like 0x40001234)", path, line,
                            (int)nlen, name);
            }
            s = skip_ws(num_end, e);
            if (provide) {
                if (s >= e || *s != ')') {
                    return fail(det, dl, NM_ERR_INVAL, "%s:%u: missing ')' after PROVIDE(", path, line);
                }
                s = skip_ws(s + 1, e);
            }
            if (s >= e || *s != ';' || skip_ws(s + 1, e) != e) {
                return fail(det, dl, NM_ERR_INVAL, "%s:%u: expected ';' after the address of '%.*s'", path, line,
                            (int)nlen, name);
            }
            for (size_t i = 0; i < t->n; i++) {
                const char *o = t->names + (uintptr_t)t->v[i].name;
                if (strlen(o) == nlen && !memcmp(o, name, nlen)) {
                    return fail(det, dl, NM_ERR_DUP, "%s:%u: '%.*s' is defined twice", path, line, (int)nlen, name);
                }
            }
            if (add(t, name, nlen, v)) {
                return fail(det, dl, NM_ERR_NOMEM, "out of memory");
            }
        }
        p = eol + 1;
        line++;
    }
    if (in_comment) {
        return fail(det, dl, NM_ERR_INVAL, "%s: comment not closed at the end of the file", path);
    }
    return NM_OK;
}

int nml_abs_load(const char *path, const uint8_t *data, size_t size, nml_abs_syms_t **out, char *detail,
                 size_t detail_len) {
    *out = NULL;
    uint8_t *own = NULL;
    if (!data) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            return fail(detail, detail_len, NM_ERR_IO, "%s: %s", path, strerror(errno));
        }
        size_t cap = 1 << 16, len = 0;
        own = malloc(cap);
        while (own) {
            size_t r = fread(own + len, 1, cap - len, f);
            len += r;
            if (len < cap) {
                break;
            }
            uint8_t *p = realloc(own, cap * 2);
            if (!p) {
                free(own);
                own = NULL;
                break;
            }
            own = p;
            cap *= 2;
        }
        int bad = ferror(f);
        fclose(f);
        if (!own) {
            return fail(detail, detail_len, NM_ERR_NOMEM, "%s: out of memory", path);
        }
        if (bad) {
            free(own);
            return fail(detail, detail_len, NM_ERR_IO, "%s: read error", path);
        }
        data = own;
        size = len;
    }
    nml_abs_syms_t *t = calloc(1, sizeof(*t));
    if (!t) {
        free(own);
        return fail(detail, detail_len, NM_ERR_NOMEM, "out of memory");
    }
    int err = size >= 4 && !memcmp(data, "\x7f" "ELF", 4) ? load_elf(path, data, size, t, detail, detail_len)
                                                          : load_script(path, data, size, t, detail, detail_len);
    free(own);
    if (err) {
        nml_abs_free(t);
        return err;
    }
    finish(t);
    *out = t;
    return NM_OK;
}

int nml_abs_find(const nml_abs_syms_t *t, const char *name, uint64_t *addr) {
    if (!t) {
        return 0;
    }
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, t->v[mid].name);
        if (c == 0) {
            *addr = t->v[mid].addr;
            return 1;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return 0;
}

size_t nml_abs_count(const nml_abs_syms_t *t) {
    return t ? t->n : 0;
}

void nml_abs_free(nml_abs_syms_t *t) {
    if (t) {
        free(t->v);
        free(t->names);
        free(t);
    }
}
