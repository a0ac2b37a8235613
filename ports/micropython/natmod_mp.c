/*
 * natmod inside MicroPython, the MicroPython-free part: native code of an
 * .mpy as a natmod slice, placed in a store and run in place. See
 * natmod_mp.h for the API and docs/micropython.md for the design.
 *
 * MicroPython's relocation stream (py/persistentcode.c, docs/mpy.md) is a
 * list of ops, each one byte, ending with 0xff:
 *   bit 0 set      a uint follows: the new location, (word << 1) | in_rodata
 *   op >> 1 <= 5   destination (op >> 2): 0 text, 1 rodata, 2 bss; if bit 1
 *                  of op >> 1 is set a uint count follows (else one word)
 *   op >> 1 == 6   qstr table, 7 object table, 8 mp_fun_table itself,
 *   op >> 1 >= 9   the value of mp_fun_table entry (op >> 1) - 9
 * and each word at the location gets the destination's address added, the
 * location moving one word on. uints are MicroPython's: 7 bits per byte,
 * most significant group first, bit 7 set on all bytes but the last.
 */
#include "natmod_mp.h"

#include <string.h>

#include "natmod/abi.h"
#include "natmod/format.h"

enum { D_TEXT = 0, D_RODATA = 1, D_BSS = 2, D_QSTR = 6, D_OBJ = 7, D_FUNTAB = 8, D_ENTRY0 = 9 };

static int fail(nm_detail_t *d, int rc, const char *what, const char *name) {
    nm_detail_set(d, "natmod: ");
    if (name) {
        nm_detail_cat(d, "module '");
        nm_detail_cat(d, name);
        nm_detail_cat(d, "': ");
    }
    nm_detail_cat(d, what);
    return rc;
}

static uint32_t up(uint32_t v, uint32_t a) {
    return (v + a - 1) & ~(a - 1);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* word += v, little-endian, 4 or 8 bytes */
static void add_word(uint8_t *p, unsigned word, uint64_t v) {
    uint64_t w = 0;
    for (unsigned i = 0; i < word; i++) {
        w |= (uint64_t)p[i] << (8 * i);
    }
    w += v;
    for (unsigned i = 0; i < word; i++) {
        p[i] = (uint8_t)(w >> (8 * i));
    }
}

/* ---- the firmware import table at the end of a text (docs/mpy.md) ---- */

int nm_mp_imports(const uint8_t *text, uint32_t size, uint32_t *n) {
    *n = 0;
    if (!text || size < 12 || get32(text + size - 4) != NM_MP_NMFW_MAGIC) {
        return 0;
    }
    uint32_t end = size - 8, at = get32(text + size - 8);
    if (at > end || end - at < 4 || (at & 3)) {
        return NM_ERR_CORRUPT;
    }
    uint32_t count = get32(text + at);
    if (count > (end - at - 4) / 8) {
        return NM_ERR_CORRUPT;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t slot;
        const char *name;
        *n = count;
        if (nm_mp_import_at(text, size, i, &slot, &name) != NM_OK) {
            *n = 0;
            return NM_ERR_CORRUPT;
        }
    }
    *n = count;
    return 1;
}

int nm_mp_import_at(const uint8_t *text, uint32_t size, uint32_t i, uint32_t *slot, const char **name) {
    uint32_t end = size - 8, at = get32(text + size - 8);
    const uint8_t *e = text + at + 4 + 8 * i;
    uint32_t s = get32(e), no = get32(e + 4);
    /* the slot lies before the table, pointer-aligned */
    if (s & 3 || s > at || at - s < 4) {
        return NM_ERR_CORRUPT;
    }
    if (no >= end - at) {
        return NM_ERR_CORRUPT;
    }
    const char *nm = (const char *)text + at + no;
    size_t room = end - at - no, len = 0;
    while (len < room && nm[len]) {
        len++;
    }
    if (len == 0 || len == room) {
        return NM_ERR_CORRUPT;
    }
    *slot = s;
    *name = nm;
    return NM_OK;
}

/* ---- the relocation stream ---- */

typedef struct mpr {
    const uint8_t *p, *end;
    int bad;
} mpr_t;

static uint32_t mpr_uint(mpr_t *it) {
    uint32_t v = 0;
    uint8_t b;
    do {
        if (it->p >= it->end || v > (UINT32_MAX >> 7)) {
            it->bad = 1;
            return 0;
        }
        b = *it->p++;
        v = v << 7 | (b & 0x7fu);
    } while (b & 0x80);
    return v;
}

/* Calls fn for every adjusted word: where (0 text, 1 rodata), its byte
 * offset, and its destination (D_*). Checks every word lies inside. */
typedef int (*mpr_fn)(void *arg, unsigned where, uint32_t off, unsigned dest);

static int mpr_walk(const nm_mp_code_t *c, mpr_fn fn, void *arg, nm_detail_t *d) {
    mpr_t it = {c->relocs, c->relocs + c->relocs_size, 0};
    unsigned where = 0, w = c->word;
    uint32_t off = 0;
    int have = 0;
    for (;;) {
        if (it.p >= it.end) {
            return fail(d, NM_ERR_CORRUPT, "relocation stream has no end (0xff)", c->name);
        }
        unsigned op = *it.p++;
        if (op == 0xff) {
            return NM_OK;
        }
        if (op & 1) {
            uint32_t a = mpr_uint(&it);
            if ((a >> 1) > UINT32_MAX / w) {
                it.bad = 1;
            }
            where = a & 1;
            off = (a >> 1) * w;
            have = 1;
        }
        op >>= 1;
        uint32_t n = 1;
        unsigned dest = op;
        if (op <= 5) {
            if (op & 1) {
                n = mpr_uint(&it);
            }
            dest = op >> 1;
        }
        if (it.bad) {
            return fail(d, NM_ERR_CORRUPT, "relocation stream: a number runs past its end", c->name);
        }
        if (!have) {
            return fail(d, NM_ERR_CORRUPT, "relocation stream adjusts a word before naming one", c->name);
        }
        uint32_t lim = where ? c->rodata_size : c->text_size;
        for (; n; n--, off += w) {
            if (off > lim || lim - off < w) {
                nm_detail_set(d, "natmod: module '");
                nm_detail_cat(d, c->name);
                nm_detail_cat(d, where ? "': relocation outside rodata at offset " :
                                         "': relocation outside text at offset ");
                nm_detail_hex(d, off);
                return NM_ERR_CORRUPT;
            }
            int rc = fn(arg, where, off, dest);
            if (rc != NM_OK) {
                return rc;
            }
        }
    }
}

void nm_mp_rw_layout(const nm_mp_code_t *c, nm_mp_layout_t *o) {
    uint32_t w = c->word;
    o->rodata = 0;
    o->bss = up(c->rodata_size, w);
    o->qstr = o->bss + up(c->bss_size, w);
    o->obj = o->qstr + up(c->qstr_size, w);
    o->size = o->obj + up(c->obj_size, w);
}

/* ---- building the slice ---- */

typedef struct build {
    const nm_mp_code_t *c;
    nm_mp_layout_t lay;
    uint8_t *text, *data; /* the slice's copies */
    uint64_t *rel;        /* (site << 32) | code */
    uint32_t n_rel, cap_rel;
    uint32_t fun_import;  /* import index of mp_fun_table, or UINT32_MAX */
    nm_detail_t *d;
} build_t;

static int count_fn(void *arg, unsigned where, uint32_t off, unsigned dest) {
    (void)where;
    (void)off;
    (void)dest;
    ((build_t *)arg)->n_rel++;
    return NM_OK;
}

static int funtab_fn(void *arg, unsigned where, uint32_t off, unsigned dest) {
    build_t *b = arg;
    (void)where;
    (void)off;
    if (dest == D_FUNTAB) {
        b->fun_import = 0;
    }
    return NM_OK;
}

static int add_rel(build_t *b, uint32_t site, unsigned target) {
    if (b->n_rel >= b->cap_rel) {
        return fail(b->d, NM_ERR_CORRUPT, "more relocations than counted", b->c->name);
    }
    unsigned kind = b->c->word == 8 ? NM_RELOC_PTR64 : NM_RELOC_PTR32;
    b->rel[b->n_rel++] = (uint64_t)site << 32 | (uint32_t)(target << 2 | kind);
    return NM_OK;
}

/* The value of mp_fun_table entry dest - D_ENTRY0 (op >= 9): a firmware
 * constant, so a slice carries it written in (and its CRC covers it). */
static int entry_value(const nm_mp_code_t *c, unsigned dest, uintptr_t *v, nm_detail_t *d) {
    if (dest < D_ENTRY0) {
        return fail(d, NM_ERR_CORRUPT, "relocation stream: unknown destination", c->name);
    }
    if (!c->fun_table) {
        return fail(d, NM_ERR_UNSUPPORTED, "relocation to an mp_fun_table entry's value", c->name);
    }
    if (dest - D_ENTRY0 >= c->fun_table_n) {
        return fail(d, NM_ERR_CORRUPT, "relocation to an mp_fun_table entry past its end", c->name);
    }
    *v = c->fun_table[dest - D_ENTRY0];
    return NM_OK;
}

static int conv_fn(void *arg, unsigned where, uint32_t off, unsigned dest) {
    build_t *b = arg;
    const nm_mp_code_t *c = b->c;
    uint8_t *p = (where ? b->data : b->text) + off;
    uint32_t site = where ? c->text_size + off : off;
    const uint32_t rw_at[D_FUNTAB] = {[D_RODATA] = b->lay.rodata, [D_BSS] = b->lay.bss,
                                      [D_QSTR] = b->lay.qstr, [D_OBJ] = b->lay.obj};
    if (dest == D_TEXT) {
        return add_rel(b, site, NM_TARGET_TEXT);
    }
    if (dest == D_FUNTAB) {
        return add_rel(b, site, NM_TARGET_IMPORT0 + b->fun_import);
    }
    if (dest == D_RODATA || dest == D_BSS || dest == D_QSTR || dest == D_OBJ) {
        add_word(p, c->word, rw_at[dest]);
        return add_rel(b, site, NM_TARGET_RW);
    }
    uintptr_t v;
    int rc = entry_value(c, dest, &v, b->d);
    if (rc == NM_OK) {
        add_word(p, c->word, v);
    }
    return rc;
}

static uint8_t *put_uleb(uint8_t *p, uint32_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

size_t nm_mp_slice_bound(const nm_mp_code_t *c) {
    uint32_t n_fw = 0;
    if (!c || !c->name || (c->word != 4 && c->word != 8) || nm_mp_imports(c->text, c->text_size, &n_fw) < 0) {
        return 0;
    }
    size_t names = strlen(c->name) + 1 + sizeof "mp_fun_table";
    for (uint32_t i = 0; i < n_fw; i++) {
        uint32_t slot;
        const char *nm;
        nm_mp_import_at(c->text, c->text_size, i, &slot, &nm);
        names += strlen(nm) + 1;
    }
    /* relocated words: counted (a malformed stream counts what it has; the
     * build then says what is wrong with it) */
    build_t b;
    memset(&b, 0, sizeof b);
    b.c = c;
    mpr_walk(c, count_fn, &b, NULL);
    size_t words = (size_t)c->text_size / c->word + (size_t)c->rodata_size / c->word;
    words = (b.n_rel < words ? b.n_rel : words) + n_fw + 1;
    return NM_HEADER_SIZE + (size_t)c->text_size + up(c->rodata_size, c->word) + words * 10 +
           (size_t)(n_fw + 1) * NM_IMPORT_SIZE + names + 16 + words * sizeof(uint64_t) + 8;
}

int nm_mp_build(const nm_mp_code_t *c, uint8_t arch, uint8_t float_abi, uint8_t *out, size_t cap,
                size_t *len, nm_detail_t *d) {
    size_t bound = nm_mp_slice_bound(c);
    if (!bound || !out || cap < bound || !len) {
        return fail(d, NM_ERR_INVAL, "nm_mp_build: bad code description or buffer too small",
                    c && c->name ? c->name : NULL);
    }
    uint32_t n_fw = 0;
    nm_mp_imports(c->text, c->text_size, &n_fw);
    build_t b;
    memset(&b, 0, sizeof b);
    b.c = c;
    b.d = d;
    b.fun_import = UINT32_MAX;
    nm_mp_rw_layout(c, &b.lay);
    int rc = mpr_walk(c, count_fn, &b, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (b.n_rel > c->text_size / c->word + c->rodata_size / c->word) {
        /* a slice relocates each word once at most; this many cannot be */
        return fail(d, NM_ERR_CORRUPT, "relocation stream adjusts some word twice", c->name);
    }
    mpr_walk(c, funtab_fn, &b, d);
    uint32_t n_imports = n_fw + (b.fun_import == 0);
    if (n_imports > 0xFFFFu) {
        return fail(d, NM_ERR_CORRUPT, "too many firmware imports", c->name);
    }

    /* Layout: header, text, data (rodata), stream, imports, strtab. The
     * relocation array is scratch at the end of out. */
    uint32_t data_size = up(c->rodata_size, c->word);
    uint8_t *text = out + NM_HEADER_SIZE, *data = text + c->text_size;
    memset(out, 0, NM_HEADER_SIZE);
    memcpy(text, c->text, c->text_size);
    if (c->rodata_size) {
        memcpy(data, c->rodata, c->rodata_size);
    }
    memset(data + c->rodata_size, 0, data_size - c->rodata_size);
    b.text = text;
    b.data = data;
    b.cap_rel = b.n_rel + n_fw;
    b.n_rel = 0;
    uintptr_t scratch = ((uintptr_t)(out + bound) - (size_t)b.cap_rel * sizeof(uint64_t)) & ~(uintptr_t)7;
    b.rel = (uint64_t *)scratch;
    if ((rc = mpr_walk(c, conv_fn, &b, d)) != NM_OK) {
        return rc;
    }
    uint32_t fw0 = b.fun_import == 0 ? 1 : 0;
    for (uint32_t i = 0; i < n_fw; i++) {
        uint32_t slot;
        const char *nm;
        nm_mp_import_at(c->text, c->text_size, i, &slot, &nm);
        if (slot % c->word) {
            return fail(d, NM_ERR_CORRUPT, "firmware import slot not pointer-aligned", c->name);
        }
        if ((rc = add_rel(&b, slot, NM_TARGET_IMPORT0 + fw0 + i)) != NM_OK) {
            return rc;
        }
    }
    /* sort by site (insertion sort: MicroPython's streams come sorted) */
    for (uint32_t i = 1; i < b.n_rel; i++) {
        uint64_t v = b.rel[i];
        uint32_t j = i;
        while (j && b.rel[j - 1] > v) {
            b.rel[j] = b.rel[j - 1];
            j--;
        }
        b.rel[j] = v;
    }
    uint8_t *p = data + data_size;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < b.n_rel; i++) {
        uint32_t site = (uint32_t)(b.rel[i] >> 32);
        if (i && site < prev + c->word) {
            nm_detail_set(d, "natmod: module '");
            nm_detail_cat(d, c->name);
            nm_detail_cat(d, "': two relocations overlap at offset ");
            nm_detail_hex(d, site);
            return NM_ERR_CORRUPT;
        }
        p = put_uleb(p, site - prev);
        p = put_uleb(p, (uint32_t)b.rel[i]);
        prev = site;
    }
    uint32_t reloc_size = (uint32_t)(p - (data + data_size));
    /* imports, then the string table: name, mp_fun_table, firmware names */
    uint8_t *imp = p, *str = imp + n_imports * NM_IMPORT_SIZE;
    uint32_t so = 0;
    size_t nl = strlen(c->name) + 1;
    memcpy(str, c->name, nl);
    so = (uint32_t)nl;
    uint32_t k = 0;
    if (b.fun_import == 0) {
        put32(imp, nm_hash("mp_fun_table"));
        put32(imp + 4, so);
        memcpy(str + so, "mp_fun_table", sizeof "mp_fun_table");
        so += (uint32_t)sizeof "mp_fun_table";
        k++;
    }
    for (uint32_t i = 0; i < n_fw; i++, k++) {
        uint32_t slot;
        const char *nm;
        nm_mp_import_at(c->text, c->text_size, i, &slot, &nm);
        size_t l = strlen(nm) + 1;
        put32(imp + 8 * k, nm_hash(nm));
        put32(imp + 8 * k + 4, so);
        memcpy(str + so, nm, l);
        so += (uint32_t)l;
    }
    uint32_t total = (uint32_t)(str + so - out);
    if ((uintptr_t)(out + total) > scratch) {
        return fail(d, NM_ERR_INVAL, "nm_mp_build: output overran its bound", c->name);
    }
    memcpy(out, NM_MAGIC, 4);
    put16(out + 4, NM_FORMAT_VERSION);
    out[6] = arch;
    out[7] = float_abi;
    put32(out + 8, 0);
    put32(out + 16, total);
    put32(out + 20, c->text_size);
    put32(out + 24, data_size);
    put32(out + 28, b.lay.size - data_size);
    put32(out + 32, up(c->text_size, 16));
    put32(out + 36, 0);
    put16(out + 40, 0);
    put16(out + 42, n_imports);
    put16(out + 44, 0);
    put16(out + 46, NM_NO_INDEX);
    put16(out + 48, NM_NO_INDEX);
    out[50] = 4; /* 16-byte text: as MicroPython's allocator gives */
    out[51] = c->word == 8 ? 3 : 2;
    put32(out + 52, b.n_rel);
    put32(out + 56, reloc_size);
    put32(out + 60, so);
    put32(out + 12, nm_image_crc(out, total));
    *len = total;
    return NM_OK;
}

/* ---- the firmware's functions by name ---- */

/* The ImportError text MicroPython shows: names the function and the module. */
static int missing_fw(nm_detail_t *d, const char *fn, const char *module) {
    nm_detail_set(d, "firmware function '");
    nm_detail_cat(d, fn);
    nm_detail_cat(d, "' not found (needed by '");
    nm_detail_cat(d, module);
    nm_detail_cat(d, "')");
    return NM_ERR_NOSYM;
}

int nm_mp_check_imports(const nm_mp_t *mp, const nm_mp_code_t *c, nm_detail_t *d) {
    uint32_t n = 0;
    if (nm_mp_imports(c->text, c->text_size, &n) < 0) {
        return fail(d, NM_ERR_CORRUPT, "its firmware import table (NMFW) is malformed", c->name);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot;
        const char *nm;
        nm_mp_import_at(c->text, c->text_size, i, &slot, &nm);
        if (!mp || !nm_export_find(mp->lcfg.exports, mp->lcfg.n_exports, nm)) {
            return missing_fw(d, nm, c->name);
        }
    }
    return NM_OK;
}

/* ---- the RAM fallback ---- */

typedef struct ram {
    const nm_mp_code_t *c;
    uint8_t *text, *rodata;
    const nm_mp_bases_t *b;
    nm_detail_t *d;
} ram_t;

static int ram_fn(void *arg, unsigned where, uint32_t off, unsigned dest) {
    ram_t *r = arg;
    uintptr_t v;
    switch (dest) {
    case D_TEXT: v = r->b->text; break;
    case D_RODATA: v = r->b->rodata; break;
    case D_BSS: v = r->b->bss; break;
    case D_QSTR: v = r->b->qstr; break;
    case D_OBJ: v = r->b->obj; break;
    case D_FUNTAB: v = r->b->fun_table; break;
    default: {
        int rc = entry_value(r->c, dest, &v, r->d);
        if (rc != NM_OK) {
            return rc;
        }
        break;
    }
    }
    add_word((where ? r->rodata : r->text) + off, r->c->word, v);
    return NM_OK;
}

int nm_mp_relocate_ram(const nm_mp_code_t *c, uint8_t *text, uint8_t *rodata, const nm_mp_bases_t *b,
                       const nm_export_t *exports, size_t n_exports, nm_detail_t *d) {
    ram_t r = {c, text, rodata, b, d};
    int rc = mpr_walk(c, ram_fn, &r, d);
    if (rc != NM_OK) {
        return rc;
    }
    uint32_t n = 0;
    if (nm_mp_imports(text, c->text_size, &n) < 0) {
        return NM_OK; /* ends like a table but is none: nothing to fill */
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot;
        const char *nm;
        nm_mp_import_at(text, c->text_size, i, &slot, &nm);
        const nm_export_t *e = exports ? nm_export_find(exports, n_exports, nm) : NULL;
        if (!e || slot % c->word) {
            return missing_fw(d, nm, c->name);
        }
        add_word(text + slot, c->word, (uintptr_t)e->addr);
    }
    return NM_OK;
}

/* ---- the store ---- */

static int bd_read(const nm_store_config_t *c, uint32_t block, uint32_t off, void *buf, uint32_t size) {
    const nm_mp_t *mp = c->context;
    memcpy(buf, (const void *)(mp->flash.base + (uintptr_t)block * c->block_size + off), size);
    return NM_OK;
}

static int bd_prog(const nm_store_config_t *c, uint32_t block, uint32_t off, const void *buf,
                   uint32_t size) {
    nm_mp_t *mp = c->context;
    mp->st.prog_calls++;
    mp->st.prog_bytes += size;
    return mp->flash.prog(mp->flash.context, block * c->block_size + off, buf, size) ? NM_ERR_IO : NM_OK;
}

static int bd_erase(const nm_store_config_t *c, uint32_t block) {
    nm_mp_t *mp = c->context;
    mp->st.erase_calls++;
    return mp->flash.erase(mp->flash.context, block * c->block_size) ? NM_ERR_IO : NM_OK;
}

static void *no_alloc(void *ctx, size_t size, size_t align, unsigned kind) {
    (void)ctx;
    (void)size;
    (void)align;
    (void)kind;
    return NULL; /* the store path only claims fixed RW slots */
}

static int rw_claim(void *ctx, void *addr, size_t size, unsigned kind) {
    nm_mp_t *mp = ctx;
    uintptr_t a = (uintptr_t)addr, lo = mp->scfg.rw_base, hi = lo + mp->scfg.rw_size;
    if (kind != NM_MEM_RW || a < lo || a > hi || hi - a < size) {
        return -1;
    }
    int free_i = -1;
    for (int i = 0; i < NM_MP_MAX_ENTRIES; i++) {
        if (!mp->claims[i].size) {
            free_i = free_i < 0 ? i : free_i;
        } else if (a < mp->claims[i].addr + mp->claims[i].size && mp->claims[i].addr < a + size) {
            return -1;
        }
    }
    if (free_i < 0) {
        return -1;
    }
    mp->claims[free_i].addr = a;
    mp->claims[free_i].size = (uint32_t)size;
    return 0;
}

static void rw_free(void *ctx, void *ptr, unsigned kind) {
    nm_mp_t *mp = ctx;
    (void)kind;
    for (int i = 0; i < NM_MP_MAX_ENTRIES; i++) {
        if (mp->claims[i].size && mp->claims[i].addr == (uintptr_t)ptr) {
            mp->claims[i].size = 0;
        }
    }
}

static void flush(void *ctx, void *addr, size_t len) {
    nm_mp_t *mp = ctx;
    if (mp->flash.flush) {
        mp->flash.flush(mp->flash.context, addr, len);
    }
}

int nm_mp_init(nm_mp_t *mp, const nm_mp_flash_t *flash, void *rw_base, uint32_t rw_size, uint8_t arch,
               uint8_t float_abi, const nm_export_t *exports, size_t n_exports, nm_detail_t *d) {
    void *(*al)(size_t) = mp->alloc;
    void (*fr)(void *, size_t) = mp->free;
    memset(mp, 0, sizeof *mp);
    mp->alloc = al;
    mp->free = fr;
    mp->lcfg.arch = arch;
    mp->lcfg.float_abi = float_abi;
    mp->lcfg.exports = exports;
    mp->lcfg.n_exports = n_exports;
    mp->lcfg.alloc_cb = no_alloc;
    mp->lcfg.free_cb = rw_free;
    mp->lcfg.claim_cb = rw_claim;
    mp->lcfg.flush_cb = flush;
    mp->lcfg.context = mp;
    if (!flash || !flash->size) {
        return fail(d, NM_ERR_NOENT, "this board reserves no flash for native code", NULL);
    }
    if (!flash->erase || !flash->prog || !flash->block_size || !flash->prog_size ||
        flash->prog_size > NM_MP_MAX_PROG || flash->size % flash->block_size || !rw_size) {
        return fail(d, NM_ERR_INVAL, "flash config: erase/prog, geometry or RW arena missing", NULL);
    }
    mp->flash = *flash;
    nm_store_config_t *s = &mp->scfg;
    s->context = mp;
    s->read = bd_read;
    s->prog = bd_prog;
    s->erase = bd_erase;
    s->block_size = flash->block_size;
    s->prog_size = flash->prog_size;
    s->block_count = flash->size / flash->block_size;
    s->map_base = flash->base;
    s->loader = &mp->lcfg;
    s->rw_base = (uintptr_t)rw_base;
    s->rw_size = rw_size;
    s->entries = mp->entries;
    s->max_entries = NM_MP_MAX_ENTRIES;
    s->buffer = mp->buffer;
    int rc = nm_store_mount(&mp->store, s, d);
    if (rc == NM_ERR_IO || rc == NM_ERR_INVAL) {
        return rc;
    }
    if (rc != NM_OK) {
        /* No store on this flash (blank, or never formatted): nothing of
         * natmod's to lose. A damaged store still mounts (degraded). */
        rc = nm_store_format(&mp->store, s, d);
    }
    mp->ready = rc == NM_OK;
    return rc;
}

int nm_mp_format(nm_mp_t *mp, nm_detail_t *d) {
    if (!mp->scfg.block_count) {
        return fail(d, NM_ERR_NOENT, "this board reserves no flash for native code", NULL);
    }
    int rc = nm_store_format(&mp->store, &mp->scfg, d);
    mp->ready = rc == NM_OK;
    return rc;
}

int nm_mp_place(nm_mp_t *mp, const nm_mp_code_t *c, void **text, uint8_t **rw, nm_detail_t *d) {
    if (!mp->ready) {
        return fail(d, NM_ERR_NOENT, "no store mounted", c->name);
    }
    int rc = nm_mp_check_imports(mp, c, d);
    if (rc != NM_OK) {
        return rc;
    }
    size_t cap = nm_mp_slice_bound(c), len = 0;
    if (!cap) {
        return fail(d, NM_ERR_CORRUPT, "malformed native code description", c->name);
    }
    if (!mp->alloc) {
        return fail(d, NM_ERR_NOMEM, "no scratch allocator", c->name);
    }
    uint8_t *slice = mp->alloc(cap);
    if (!slice) {
        return fail(d, NM_ERR_NOMEM, "no RAM to build the slice", c->name);
    }
    char name[NM_STORE_NAME_MAX + 1];
    size_t nl = strlen(c->name);
    /* a dotted name keeps its tail: pkg.sub.mod -> the last 23 bytes */
    memcpy(name, c->name + (nl > NM_STORE_NAME_MAX ? nl - NM_STORE_NAME_MAX : 0),
           nl > NM_STORE_NAME_MAX ? NM_STORE_NAME_MAX : nl);
    name[nl > NM_STORE_NAME_MAX ? NM_STORE_NAME_MAX : nl] = 0;
    rc = nm_mp_build(c, mp->lcfg.arch, mp->lcfg.float_abi, slice, cap, &len, d);
    if (rc == NM_OK) {
        const nm_store_entry_t *e = nm_store_find(&mp->store, name);
        uint32_t crc = get32(slice + 12);
        nm_module_t m;
        memset(&m, 0, sizeof m);
        if (e && e->pins) {
            rc = fail(d, NM_ERR_BUSY, "already running from the store (imported again)", c->name);
        } else if (e && e->src_crc == crc && !(e->flags & NM_STORE_F_DAMAGED) &&
                   nm_store_load(&mp->store, name, &m, NULL) == NM_OK) {
            mp->st.reuses++;
        } else if ((rc = nm_store_install(&mp->store, slice, len, name, NULL, d)) == NM_OK &&
                   (rc = nm_store_load(&mp->store, name, &m, d)) == NM_OK) {
            mp->st.installs++;
        }
        if (rc == NM_OK) {
            *text = m.text;
            *rw = m.rw;
        }
    }
    mp->free(slice, cap);
    return rc;
}
