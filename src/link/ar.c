/*
 * ar archive reader: GNU/SysV format ("!<arch>\n", 60-byte headers, "/"
 * symbol index, "//" long-name table, "/123" names) plus BSD "#1/N" names.
 * The "/" symbol index is handed to the core raw, which uses it to parse
 * only the members it pulls (libc.a has a thousand; a module needs a few).
 */
#include <string.h>

#include "link/link_internal.h"

#define AR_MAGIC "!<arch>\n"
#define AR_HDR 60

int nml_is_archive(const uint8_t *data, size_t size) {
    return size >= 8 && memcmp(data, AR_MAGIC, 8) == 0;
}

/* Parse a right-padded decimal field; -1 if not a number. */
static int64_t ar_num(const uint8_t *p, size_t n) {
    int64_t v = 0;
    size_t i = 0;
    while (i < n && p[i] == ' ') {
        i++;
    }
    if (i == n || p[i] < '0' || p[i] > '9') {
        return -1;
    }
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    for (; i < n; i++) {
        if (p[i] != ' ') {
            return -1;
        }
    }
    return v;
}

/* Copy a name of length n into the arena, NUL-terminated, with no NULs inside. */
static const char *dup_name(nml_arena_t *a, const uint8_t *p, size_t n) {
    char *s = nml_alloc(a, n + 1);
    if (s) {
        memcpy(s, p, n);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == 0 || s[i] == '\n') {
                s[i] = '?';
            }
        }
    }
    return s;
}

int nml_ar_parse(const char *path, const uint8_t *data, size_t size, nml_arena_t *a,
                 nml_member_t **out, size_t *count, nml_armap_t *map, nml_err_t *e) {
    map->data = NULL;
    map->size = 0;
    if (size >= 8 && memcmp(data, "!<thin>\n", 8) == 0) {
        return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: thin archives not supported", path);
    }
    if (!nml_is_archive(data, size)) {
        return nml_fail(e, NM_ERR_ARCHIVE, "%s: not an ar archive", path);
    }
    /* upper bound on members: every member takes at least a header */
    size_t cap = (size - 8) / AR_HDR + 1;
    nml_member_t *m = nml_alloc_array(a, cap, sizeof(*m));
    if (!m) {
        return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", path);
    }
    const uint8_t *longnames = NULL;
    size_t longnames_size = 0;
    size_t n = 0;
    size_t pos = 8;
    while (pos < size) {
        if (size - pos < AR_HDR) {
            return nml_fail(e, NM_ERR_ARCHIVE, "%s: truncated member header at offset %zu", path, pos);
        }
        const uint8_t *h = data + pos;
        if (h[58] != '`' || h[59] != '\n') {
            return nml_fail(e, NM_ERR_ARCHIVE, "%s: bad member header magic at offset %zu", path, pos);
        }
        int64_t msize = ar_num(h + 48, 10);
        if (msize < 0) {
            return nml_fail(e, NM_ERR_ARCHIVE, "%s: member at offset %zu: size field '%.10s' is not a number",
                            path, pos, (const char *)h + 48);
        }
        size_t body = pos + AR_HDR;
        if ((uint64_t)msize > size - body) {
            return nml_fail(e, NM_ERR_ARCHIVE, "%s: member at offset %zu: size %lld beyond the end of the archive (%zu bytes)",
                            path, pos, (long long)msize, size);
        }
        const uint8_t *mdata = data + body;
        size_t mlen = (size_t)msize;
        const char *name = NULL;
        int member = 1; /* 0: symbol index, name table, BSD symdef */

        if (h[0] == '/' && h[1] == ' ') {
            member = 0; /* the symbol index: the first one counts */
            if (!map->data) {
                map->data = mdata;
                map->size = mlen;
            }
        } else if (memcmp(h, "/SYM64/ ", 8) == 0) {
            member = 0; /* 64-bit index: not used, members are parsed instead */
        } else if (h[0] == '/' && h[1] == '/' && h[2] == ' ') {
            longnames = mdata;
            longnames_size = mlen;
            member = 0;
        } else if (h[0] == '/' && h[1] >= '0' && h[1] <= '9') {
            int64_t off = ar_num(h + 1, 15);
            if (off < 0 || !longnames || (uint64_t)off >= longnames_size) {
                return nml_fail(e, NM_ERR_ARCHIVE, "%s: member at offset %zu: long name offset '%.15s' outside the name table",
                                path, pos, (const char *)h + 1);
            }
            const uint8_t *s = longnames + off;
            size_t k = 0, lim = longnames_size - (size_t)off;
            while (k < lim && s[k] != '\n' && s[k] != 0 && !(s[k] == '/' && (k + 1 == lim || s[k + 1] == '\n'))) {
                k++;
            }
            name = dup_name(a, s, k);
        } else if (memcmp(h, "#1/", 3) == 0) {
            int64_t nl = ar_num(h + 3, 13);
            if (nl < 0 || (uint64_t)nl > mlen) {
                return nml_fail(e, NM_ERR_ARCHIVE, "%s: member at offset %zu: BSD name length '%.13s' invalid",
                                path, pos, (const char *)h + 3);
            }
            size_t k = (size_t)nl;
            while (k > 0 && mdata[k - 1] == 0) {
                k--;
            }
            name = dup_name(a, mdata, k);
            mdata += nl;
            mlen -= (size_t)nl;
            if (name && strncmp(name, "__.SYMDEF", 9) == 0) {
                member = 0;
            }
        } else {
            size_t k = 16;
            while (k > 0 && h[k - 1] == ' ') {
                k--;
            }
            if (k > 0 && h[k - 1] == '/') {
                k--;
            }
            name = dup_name(a, h, k);
            if (name && strncmp(name, "__.SYMDEF", 9) == 0) {
                member = 0;
            }
        }
        if (member) {
            if (!name) {
                return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", path);
            }
            if (n >= cap) {
                return nml_fail(e, NM_ERR_ARCHIVE, "%s: too many members", path); /* cannot happen */
            }
            m[n].name = name;
            m[n].data = mdata;
            m[n].size = mlen;
            m[n].hdr_off = pos;
            n++;
        }
        /* members start at even offsets; the pad byte may be missing at EOF */
        pos = body + (size_t)msize;
        if ((pos & 1) && pos < size) {
            pos++;
        }
    }
    *out = m;
    *count = n;
    return NM_OK;
}
