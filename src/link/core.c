/*
 * The linker core. Phases, in order (each a function below):
 *   load_inputs     read files, parse objects, split archives
 *   include_obj     add an object's globals to the symbol table
 *   pull_members    archive members on demand, until nothing new is pulled
 *   gc_sections     keep what the exports reach (explicit worklist)
 *   scan_relocs     classify every relocation: imports, GOT slots, stubs
 *   layout          TEXT | stubs  ...  RW: data | GOT | bss
 *   relocate        patch bytes, emit nm_reloc_t records
 *   exports         the export table, nm_init / nm_deinit
 * Link-time addresses: TEXT starts at 0, RW at rw_offset. Values stored for
 * load-time relocation are offsets within the target region, as format.h says.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link/link_internal.h"

/* ---------------------------------------------------------------- tables */

struct nml_gsym {
    const char *name;
    uint32_t hash;
    nml_obj_t *obj; /* definition, NULL while undefined */
    uint32_t sym;
    uint8_t weakdef, common, demanded, exported, in_fw, undef_reported;
    uint64_t common_size;
    uint32_t common_align;
    uint32_t common_off; /* bss: offset in RW */
    int32_t import_idx, got_idx, stub_idx;
    nml_gsym_t *same; /* an earlier import that reaches the same thing (opt->same_import): this
                       * one uses its import index, GOT entry and stub; NULL: none */
    /* Firmware symbols (c->fw) only: the type the symbol list gives, 0 and
     * NULL if none (docs/format.md 2.3). */
    uint32_t type_hash;
    const char *proto;
};

typedef struct table {
    nml_gsym_t **slot;
    size_t cap, n;
} table_t;

typedef struct archive {
    const char *path;
    nml_ar_t f;      /* where the members are (ar.c) */
    nml_obj_t **obj; /* per member: its object once looked at; NULL before */
    size_t n;
    /* From the archive's symbol index, when it has a usable one: symbol
     * idx[k] (idx[k].len bytes at idx_names + idx[k].name) is defined by
     * member idx[k].member; idx_slot is an open-addressing table of k + 1
     * by idx[k].hash. The index only proposes members: a proposed member is
     * parsed and pulled only if its own symbol table defines a wanted
     * symbol, the test a scan of every member makes (decode_armap,
     * pull_indexed). Without an index every member is parsed at load. */
    uint32_t nidx, slot_mask;
    struct idx_ent {
        uint32_t name, len, hash, member;
    } *idx;
    const char *idx_names;
    uint32_t *idx_slot;
    uint8_t *cand; /* per member: proposed for a wanted symbol, not yet looked at */
    size_t cand_lo, cand_hi; /* every candidate lies in [cand_lo, cand_hi) */
    uint8_t full;  /* every member parsed (no usable index, or the omission check ran) */
} archive_t;

typedef struct mapping {
    void *addr;
    size_t len;
    struct mapping *next;
} mapping_t;

/* An undefined symbol the link cannot take as an import: where it was
 * first needed, and why nothing provides it. All are reported at once. */
typedef struct undef {
    nml_gsym_t *g;
    nml_obj_t *obj;
    nml_sec_t *sec;
    nml_rel_t *rel;
    const char *why;
} undef_t;

typedef struct got_ent {
    nml_obj_t *obj; /* the referencing object and symbol, resolved at write time */
    uint32_t sym;
} got_ent_t;

typedef struct ctx {
    const nml_options_t *opt;
    const nml_arch_t *arch;
    nml_err_t err;
    nml_arena_t a;   /* scratch, freed at the end */
    nml_arena_t *ra; /* the result's arena */
    table_t globals, fw;
    int have_fw;
    nml_obj_t *first, *last; /* included objects */
    archive_t *archives;
    size_t n_archives;
    mapping_t *maps; /* input files mapped read-only, unmapped at the end */
    got_ent_t *got;
    size_t ngot, capgot;
    nml_gsym_t **imports;
    size_t nimports, capimports;
    nml_gsym_t **stubs;
    size_t nstubs, capstubs;
    nm_reloc_t *relocs;
    size_t nrelocs, caprelocs;
    undef_t *undefs;
    size_t nundefs, capundefs;
    uint64_t text_size, rw_offset, data_size, bss_size, got_off, stub_off;
    unsigned text_align, rw_align; /* log2 */
    uint8_t *text, *data;
    nml_gsym_t *entry;   /* opt->entry, defined */
    unsigned entry_jump; /* bytes of jump at TEXT 0 (0: the entry is there) */
    uint8_t bss_relative;
} ctx_t;

static int nomem(ctx_t *c) {
    return nml_fail(&c->err, NM_ERR_NOMEM, "out of memory");
}

/* Grow an arena-backed array to hold need elements. */
static int grow(ctx_t *c, void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) {
        return NM_OK;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *n = nml_alloc_array(&c->a, ncap, elem);
    if (!n) {
        return nomem(c);
    }
    if (*cap) {
        memcpy(n, *arr, *cap * elem);
    }
    *arr = n;
    *cap = ncap;
    return NM_OK;
}

static uint32_t hash_str(const char *s) {
    return nm_hash(s);
}

static nml_gsym_t *table_find(const table_t *t, const char *name) {
    if (!t->cap) {
        return NULL;
    }
    uint32_t h = hash_str(name);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        nml_gsym_t *g = t->slot[i];
        if (!g) {
            return NULL;
        }
        if (g->hash == h && strcmp(g->name, name) == 0) {
            return g;
        }
    }
}

static nml_gsym_t *table_get(ctx_t *c, table_t *t, const char *name) {
    nml_gsym_t *g = table_find(t, name);
    if (g) {
        return g;
    }
    if ((t->n + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        nml_gsym_t **ns = nml_alloc_array(&c->a, ncap, sizeof(*ns));
        if (!ns) {
            return NULL;
        }
        for (size_t i = 0; i < t->cap; i++) {
            nml_gsym_t *o = t->slot[i];
            if (o) {
                size_t j = o->hash & (ncap - 1);
                while (ns[j]) {
                    j = (j + 1) & (ncap - 1);
                }
                ns[j] = o;
            }
        }
        t->slot = ns;
        t->cap = ncap;
    }
    g = nml_alloc(&c->a, sizeof(*g));
    if (!g) {
        return NULL;
    }
    g->name = name;
    g->hash = hash_str(name);
    g->import_idx = g->got_idx = g->stub_idx = -1;
    size_t j = g->hash & (t->cap - 1);
    while (t->slot[j]) {
        j = (j + 1) & (t->cap - 1);
    }
    t->slot[j] = g;
    t->n++;
    return g;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) & ~(a - 1);
}

static unsigned log2u(uint64_t a) {
    unsigned l = 0;
    while ((1ull << l) < a) {
        l++;
    }
    return l;
}

static const char *rname(ctx_t *c, uint32_t type, char *buf, size_t n) {
    const char *s = c->arch->reloc_name(type);
    if (s) {
        return s;
    }
    snprintf(buf, n, "relocation type %u", type);
    return buf;
}

static const char *symname(const nml_obj_t *o, uint32_t i) {
    const nml_sym_t *s = &o->syms[i];
    if (s->type == NML_STT_SECTION && s->shndx < o->nsecs && !s->name[0]) {
        return o->secs[s->shndx].name;
    }
    return s->name;
}

static int read_file(ctx_t *c, const char *path, const uint8_t **data, size_t *size) {
    /* Mapped, not read: libc.a is megabytes and a link touches a few pages. */
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return nml_fail(&c->err, NM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nml_fail(&c->err, NM_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        *data = (const uint8_t *)"";
        *size = 0;
        return NM_OK;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        return nml_fail(&c->err, NM_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    }
    mapping_t *m = nml_alloc(&c->a, sizeof(*m));
    if (!m) {
        munmap(p, len);
        return nomem(c);
    }
    m->addr = p;
    m->len = len;
    m->next = c->maps;
    c->maps = m;
    *data = p;
    *size = len;
    return NM_OK;
}

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* The optional type fields of a symbol list line, after the name and its
 * hash: `0xTYPE PROTOTYPE...` (docs/format.md 2.3), TYPE = nm_hash of the
 * prototype, which runs to the end of the line. */
static int fw_sym_type(ctx_t *c, const char *path, unsigned line, nml_gsym_t *g, char *f) {
    char *e = f;
    unsigned long v = 0;
    int digits = 0;
    if (e[0] == '0' && (e[1] == 'x' || e[1] == 'X')) {
        for (e += 2; digits < 9 && ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'f') ||
                                    (*e >= 'A' && *e <= 'F'));
             e++, digits++) {
            v = v * 16 + (unsigned long)(*e <= '9' ? *e - '0' : (*e | 0x20) - 'a' + 10);
        }
    }
    if (digits == 0 || digits > 8 || (*e && !is_space(*e))) {
        return nml_fail(&c->err, NM_ERR_INVAL,
                        "%s:%u: '%s': third field must be the type hash (0x and 1 to 8 hex digits)", path,
                        line, g->name);
    }
    while (is_space(*e)) {
        e++;
    }
    char *end = e + strlen(e);
    while (end > e && is_space(end[-1])) {
        *--end = 0;
    }
    if (*e && nm_hash(e) != (uint32_t)v) {
        return nml_fail(&c->err, NM_ERR_INVAL, "%s:%u: '%s': type hash 0x%08lx is not nm_hash of `%s` (0x%08x)",
                        path, line, g->name, v, e, (unsigned)nm_hash(e));
    }
    g->type_hash = (uint32_t)v;
    g->proto = *e ? e : NULL;
    return NM_OK;
}

/* Firmware export list: one name per line, '#' comments. After the name
 * come, optionally, its hash (not checked: the loader hashes names itself)
 * and the type fields (fw_sym_type). */
static int load_fw_syms(ctx_t *c, const char *path) {
    const uint8_t *d;
    size_t n;
    int err = read_file(c, path, &d, &n);
    if (err) {
        return err;
    }
    char *text = nml_alloc(&c->a, n + 1);
    if (!text) {
        return nomem(c);
    }
    memcpy(text, d, n);
    char *p = text, *end = text + n;
    unsigned line = 0;
    while (p < end) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) {
            eol = end;
        }
        *eol = 0;
        char *hash = strchr(p, '#');
        if (hash) {
            *hash = 0;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
        }
        char *q = p;
        while (*q && !is_space(*q)) {
            q++;
        }
        char *rest = q + (*q != 0); /* the fields after the name */
        *q = 0;
        if (*p) {
            nml_gsym_t *g = table_get(c, &c->fw, p);
            if (!g) {
                return nomem(c);
            }
            while (is_space(*rest)) {
                rest++;
            }
            while (*rest && !is_space(*rest)) { /* the name's hash */
                rest++;
            }
            while (is_space(*rest)) {
                rest++;
            }
            if (*rest && (err = fw_sym_type(c, path, line, g, rest)) != NM_OK) {
                return err;
            }
        }
        p = eol + 1;
    }
    c->have_fw = 1;
    return NM_OK;
}

static int in_fw(ctx_t *c, const char *name) {
    return c->have_fw && table_find(&c->fw, name) != NULL;
}

static int starts(const char *s, const char *p) {
    return strncmp(s, p, strlen(p)) == 0;
}

/* Sections that never reach the module. Their relocations are ignored. */
static int dropped_section(const nml_sec_t *s) {
    if (!(s->flags & NML_SHF_ALLOC) || s->type == NML_SHT_NULL || s->type == NML_SHT_GROUP || s->type == NML_SHT_REL ||
        s->type == NML_SHT_RELA || s->type == NML_SHT_SYMTAB || s->type == NML_SHT_STRTAB) {
        return 1;
    }
    const char *n = s->name;
    return starts(n, ".comment") || starts(n, ".note") || starts(n, ".debug") ||
           starts(n, ".ARM.attributes") || starts(n, ".ARM.exidx") || starts(n, ".ARM.extab") ||
           starts(n, ".eh_frame");
}

/* ---------------------------------------------------------------- include */

static int add_obj_to_list(ctx_t *c, nml_obj_t *o) {
    o->included = 1;
    if (c->last) {
        c->last->next = o;
    } else {
        c->first = o;
    }
    c->last = o;
    return NM_OK;
}

static int include_obj(ctx_t *c, nml_obj_t *o) {
    const nml_arch_t *ar = c->arch;
    if (o->machine != ar->machine) {
        return nml_fail(&c->err, NM_ERR_ARCH, "%s: ELF machine %u (class %u) is not %s",
                        o->name, o->machine, o->elfclass, nm_arch_name(c->opt->arch));
    }
    if (o->elfclass != ar->elfclass) {
        /* the right machine, the wrong width: usually a member of another multilib's archive */
        return nml_fail(&c->err, NM_ERR_ARCH, "%s: ELF%u object, but %s code is ELF%u%s%s", o->name,
                        o->elfclass == 2 ? 64 : 32, nm_arch_name(c->opt->arch), ar->elfclass == 2 ? 64 : 32,
                        ar->class_hint ? ": " : "", ar->class_hint ? ar->class_hint : "");
    }
    if (ar->check_object) {
        int err = ar->check_object(o, c->opt->arch, c->opt->float_abi, &c->err);
        if (err) {
            return err;
        }
    }
    if (ar->prepare_object) {
        int err = ar->prepare_object(o, &c->a, &c->err);
        if (err) {
            return err;
        }
    }
    for (uint32_t i = 1; i < o->nsecs; i++) {
        nml_sec_t *s = &o->secs[i];
        s->drop = (uint8_t)dropped_section(s);
        if (s->drop) {
            continue;
        }
        if (s->type == NML_SHT_INIT_ARRAY || s->type == NML_SHT_FINI_ARRAY ||
            s->type == NML_SHT_PREINIT_ARRAY || starts(s->name, ".init_array") ||
            starts(s->name, ".fini_array") || starts(s->name, ".ctors") || starts(s->name, ".dtors") ||
            starts(s->name, ".preinit_array")) {
            return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "%s: section %u (%s): constructors not supported",
                            o->name, i, s->name);
        }
        if (s->flags & NML_SHF_TLS) {
            return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "%s: section %u (%s): thread-local storage not supported",
                            o->name, i, s->name);
        }
        s->bss = s->type == NML_SHT_NOBITS;
        s->region = (s->bss || (s->flags & NML_SHF_WRITE)) ? NM_REGION_RW : NM_REGION_TEXT;
    }
    for (uint32_t i = 1; i < o->nsyms; i++) {
        nml_sym_t *s = &o->syms[i];
        if (s->bind == NML_STB_LOCAL || !s->name[0]) {
            continue;
        }
        nml_gsym_t *g = table_get(c, &c->globals, s->name);
        if (!g) {
            return nomem(c);
        }
        s->g = g;
        if (s->shndx == NML_SHN_UNDEF) {
            continue;
        }
        if (s->shndx == NML_SHN_COMMON) {
            if (!g->obj || g->common) {
                if (!g->obj) {
                    g->obj = o;
                    g->sym = i;
                    g->common = 1;
                }
                if (s->size > g->common_size) {
                    g->common_size = s->size;
                }
                if (s->value > g->common_align) {
                    g->common_align = (uint32_t)s->value;
                }
            }
            continue;
        }
        if (g->obj && !g->weakdef && !g->common) {
            if (s->bind == NML_STB_WEAK) {
                continue;
            }
            return nml_fail(&c->err, NM_ERR_DUP, "duplicate symbol '%s': defined in %s and in %s",
                            s->name, g->obj->name, o->name);
        }
        if (g->obj && s->bind == NML_STB_WEAK) {
            continue; /* first weak wins; a common stays */
        }
        g->obj = o;
        g->sym = i;
        g->weakdef = s->bind == NML_STB_WEAK;
        g->common = 0;
    }
    return add_obj_to_list(c, o);
}

/* Mark the undefined globals an object needs (non-weak references from
 * sections that can reach the module). */
static void collect_demands(ctx_t *c, nml_obj_t *o) {
    (void)c;
    if (o->scanned) {
        return;
    }
    o->scanned = 1;
    for (uint32_t i = 1; i < o->nsecs; i++) {
        nml_sec_t *s = &o->secs[i];
        if (s->drop) {
            continue;
        }
        for (size_t k = 0; k < s->nrels; k++) {
            nml_sym_t *y = &o->syms[s->rels[k].sym];
            if (y->g && y->shndx == NML_SHN_UNDEF && y->bind != NML_STB_WEAK) {
                y->g->demanded = 1;
            }
        }
    }
}

/* Does the caller's check_import take name as an import? */
static int import_ok(ctx_t *c, const char *name, char *why, size_t n) {
    return c->opt->check_import(c->opt->import_ctx, name, why, n);
}

/* Is g a symbol the link still needs from an archive? */
static int wanted(ctx_t *c, nml_gsym_t *g, const char *name) {
    if (!g || !g->demanded || (g->obj && !g->common) || in_fw(c, name)) {
        return 0;
    }
    return g->obj || !c->opt->check_import || !import_ok(c, name, NULL, 0);
}

/* The hash of a symbol index name of n bytes: its length and its first
 * and last eight bytes. An index has thousands of names and a link looks
 * up dozens, so hashing every byte of every name (nm_hash) would cost more
 * than the lookups save; names alike in both ends only cost a compare. */
static uint32_t idx_hash(const char *s, size_t n) {
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++) {
            a |= (uint64_t)(uint8_t)s[i] << (8 * i);
        }
    }
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ (uint64_t)n) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    return (uint32_t)(h >> 32);
}

/* Mark every member the index names for name as a candidate. */
static void propose(archive_t *ar, const char *name) {
    size_t n = strlen(name);
    uint32_t h = idx_hash(name, n);
    for (uint32_t i = h & ar->slot_mask;; i = (i + 1) & ar->slot_mask) {
        uint32_t k = ar->idx_slot[i];
        if (!k) {
            return;
        }
        const struct idx_ent *x = &ar->idx[k - 1];
        if (x->hash == h && x->len == n && memcmp(ar->idx_names + x->name, name, n) == 0) {
            ar->cand[x->member] = 1;
            ar->cand_lo = x->member < ar->cand_lo ? x->member : ar->cand_lo;
            ar->cand_hi = x->member >= ar->cand_hi ? x->member + 1 : ar->cand_hi;
        }
    }
}

/* Member k's object, parsed (errors into e); *out NULL if the member is not
 * an ELF object (e.g. __.LIBDEP): such members are never pulled. The
 * object, its "archive(member)" name and its symbol table are made once. */
static int member_obj(ctx_t *c, archive_t *ar, size_t k, nml_err_t *e, nml_obj_t **out) {
    nml_obj_t *o = ar->obj[k];
    *out = NULL;
    if (!o) {
        nml_member_t m;
        nml_ar_member(&ar->f, k, &m);
        if (m.size < 4 || memcmp(m.data, "\x7f" "ELF", 4) != 0) {
            return NM_OK;
        }
        o = nml_alloc(&c->a, sizeof(*o));
        if (!o || !(o->name = nml_ar_name(&c->a, ar->path, &m))) {
            return nomem(c);
        }
        o->data = m.data;
        o->size = m.size;
        o->from_archive = 1;
        ar->obj[k] = o;
    }
    if (!o->parsed) {
        int err = nml_elf_parse(o, &c->a, e);
        if (err) {
            return err;
        }
        o->parsed = 1;
    }
    *out = o;
    return NM_OK;
}

/* The first symbol o defines that the link wants, or NULL: whether a
 * member is pulled, with an index or without. */
static const char *wanted_def(ctx_t *c, const nml_obj_t *o) {
    for (uint32_t i = 1; i < o->nsyms; i++) {
        const nml_sym_t *s = &o->syms[i];
        if (s->bind == NML_STB_LOCAL || s->shndx == NML_SHN_UNDEF || s->shndx == NML_SHN_COMMON) {
            continue;
        }
        if (wanted(c, table_find(&c->globals, s->name), s->name)) {
            return s->name;
        }
    }
    return NULL;
}

static int pull(ctx_t *c, nml_obj_t *o, const char *why) {
    if (c->opt->verbose) {
        fprintf(stderr, "natmod link: %s pulled for '%s'\n", o->name, why);
    }
    int err = include_obj(c, o);
    if (err) {
        return err;
    }
    collect_demands(c, o);
    return NM_OK;
}

/* One pass over an archive without an index: every member, in file order. */
static int pull_scan(ctx_t *c, archive_t *ar, int *changed) {
    for (size_t k = 0; k < ar->n; k++) {
        nml_obj_t *o = ar->obj[k];
        if (!o || o->included) {
            continue;
        }
        const char *why = wanted_def(c, o);
        if (why) {
            int err = pull(c, o, why);
            if (err) {
                return err;
            }
            *changed = 1;
        }
    }
    return NM_OK;
}

/* The same pass with the index: only the members it names for a wanted
 * symbol are looked at, in file order, with pull_scan's test. A member
 * the index names wrongly is not pulled; what a pulled member needs is
 * proposed at once, as pull_scan would find it later in this pass. */
static int pull_indexed(ctx_t *c, archive_t *ar, int *changed) {
    const table_t *t = &c->globals;
    for (size_t i = 0; i < t->cap; i++) {
        nml_gsym_t *g = t->slot[i];
        if (g && wanted(c, g, g->name)) {
            propose(ar, g->name);
        }
    }
    /* members proposed from here on behind k wait for the next pass */
    size_t k = ar->cand_lo;
    ar->cand_lo = ar->n;
    for (; k < ar->cand_hi; k++) {
        if (!ar->cand[k]) {
            continue;
        }
        ar->cand[k] = 0;
        nml_obj_t *o;
        int err = member_obj(c, ar, k, &c->err, &o);
        if (err) {
            return err;
        }
        const char *why = o && !o->included ? wanted_def(c, o) : NULL;
        if (!why) {
            continue;
        }
        if ((err = pull(c, o, why))) {
            return err;
        }
        *changed = 1;
        for (uint32_t i = 1; i < o->nsyms; i++) {
            const nml_sym_t *s = &o->syms[i];
            if (s->g && s->shndx == NML_SHN_UNDEF && wanted(c, s->g, s->name)) {
                propose(ar, s->name);
            }
        }
    }
    return NM_OK;
}

/* An index that leaves out a symbol a member defines would make the link
 * miss a member that a scan pulls, and report the symbol undefined. So
 * before undefined symbols are reported, every member of the indexed
 * archives is parsed after all, and a member that defines one of them is
 * an error naming the archive. Failing links only pay for it. (Links that
 * take every undefined symbol as an import, .nmod without a firmware list,
 * and a common symbol a member would define, cannot tell: not checked.) */
static int check_index_omissions(ctx_t *c) {
    for (size_t ai = 0; ai < c->n_archives; ai++) {
        archive_t *ar = &c->archives[ai];
        if (ar->full) {
            continue;
        }
        ar->full = 1;
        for (size_t k = 0; k < ar->n; k++) {
            nml_obj_t *o;
            nml_err_t e = {NULL, 0, 0};
            if (member_obj(c, ar, k, &e, &o) == NM_ERR_NOMEM) {
                return nomem(c);
            }
            for (uint32_t i = 1; o && !o->included && i < o->nsyms; i++) {
                const nml_sym_t *s = &o->syms[i];
                if (s->bind == NML_STB_LOCAL || s->shndx == NML_SHN_UNDEF || s->shndx == NML_SHN_COMMON) {
                    continue;
                }
                nml_gsym_t *g = table_find(&c->globals, s->name);
                if (g && g->undef_reported) {
                    return nml_fail(&c->err, NM_ERR_ARCHIVE,
                                    "%s: the symbol index does not list '%s', which member %s at offset %zu "
                                    "defines (rebuild the index: ranlib)",
                                    ar->path, s->name, o->name, ar->f.off[k]);
                }
            }
        }
    }
    return NM_OK;
}

static int pull_members(ctx_t *c) {
    int changed = 1;
    while (changed) {
        changed = 0;
        for (nml_obj_t *o = c->first; o; o = o->next) {
            collect_demands(c, o);
        }
        for (size_t ai = 0; ai < c->n_archives; ai++) {
            archive_t *ar = &c->archives[ai];
            int err = ar->idx ? pull_indexed(c, ar, &changed) : pull_scan(c, ar, &changed);
            if (err) {
                return err;
            }
        }
    }
    return NM_OK;
}

/* ---------------------------------------------------------------- resolve */

enum { T_SEC, T_COMMON, T_ABS, T_IMPORT, T_WEAK0, T_UNDEF };

typedef struct tgt {
    int kind;
    nml_obj_t *obj; /* T_SEC */
    uint32_t sec;
    uint64_t off;
    uint8_t thumb;
    nml_gsym_t *g; /* globals */
} tgt_t;

/* What symbol i of object o refers to (before imports are decided). */
static void resolve(nml_obj_t *o, uint32_t i, tgt_t *t) {
    nml_sym_t *s = &o->syms[i];
    memset(t, 0, sizeof(*t));
    t->g = s->g;
    if (s->g && s->g->obj) {
        nml_gsym_t *g = s->g;
        if (g->common) {
            t->kind = T_COMMON;
            return;
        }
        o = g->obj;
        s = &o->syms[g->sym];
    } else if (s->g) {
        t->kind = s->bind == NML_STB_WEAK ? T_WEAK0 : T_UNDEF;
        return;
    }
    if (s->shndx == NML_SHN_UNDEF) {
        t->kind = T_ABS; /* the null symbol, or a nameless undefined local: 0 */
        t->off = 0;
    } else if (s->shndx == NML_SHN_ABS) {
        t->kind = T_ABS;
        t->off = s->value;
    } else if (s->shndx == NML_SHN_COMMON) {
        t->kind = T_ABS; /* a local COMMON cannot happen; treat as 0 */
    } else {
        t->kind = T_SEC;
        t->obj = o;
        t->sec = s->shndx;
        t->off = s->value;
        t->thumb = s->thumb;
    }
}

/* ---------------------------------------------------------------- gc */

typedef struct secref {
    nml_obj_t *obj;
    uint32_t sec;
} secref_t;

typedef struct worklist {
    secref_t *v;
    size_t n, cap;
} worklist_t;

static int mark(ctx_t *c, worklist_t *w, nml_obj_t *o, uint32_t sec) {
    if (sec == 0 || sec >= o->nsecs) {
        return NM_OK;
    }
    nml_sec_t *s = &o->secs[sec];
    if (s->keep || s->drop) {
        return NM_OK;
    }
    s->keep = 1;
    if (grow(c, (void **)&w->v, &w->cap, w->n + 1, sizeof(secref_t))) {
        return c->err.code;
    }
    w->v[w->n].obj = o;
    w->v[w->n].sec = sec;
    w->n++;
    return NM_OK;
}

static int mark_sym(ctx_t *c, worklist_t *w, nml_obj_t *o, uint32_t i) {
    tgt_t t;
    resolve(o, i, &t);
    return t.kind == T_SEC ? mark(c, w, t.obj, t.sec) : NM_OK;
}

static int is_export_candidate(const nml_obj_t *o, const nml_sym_t *s) {
    return !o->from_archive && s->bind == NML_STB_GLOBAL && s->shndx != NML_SHN_UNDEF &&
           s->shndx != NML_SHN_ABS && s->vis == NML_STV_DEFAULT &&
           (s->type == NML_STT_FUNC || s->type == NML_STT_OBJECT);
}

static int gc_sections(ctx_t *c) {
    if (!c->opt->gc_sections) {
        for (nml_obj_t *o = c->first; o; o = o->next) {
            for (uint32_t i = 1; i < o->nsecs; i++) {
                o->secs[i].keep = !o->secs[i].drop;
            }
        }
        return NM_OK;
    }
    worklist_t w = {0};
    if (c->entry) {
        if (mark_sym(c, &w, c->entry->obj, c->entry->sym)) {
            return c->err.code;
        }
    }
    for (nml_obj_t *o = c->first; o && !c->entry; o = o->next) {
        for (uint32_t i = 1; i < o->nsyms; i++) {
            nml_sym_t *s = &o->syms[i];
            if (is_export_candidate(o, s) && mark_sym(c, &w, o, i)) {
                return c->err.code;
            }
        }
    }
    static const char *const special[] = {"nm_init", "nm_deinit"};
    for (size_t i = 0; i < 2 + c->opt->n_extra_exports; i++) {
        const char *n = i < 2 ? special[i] : c->opt->extra_exports[i - 2];
        nml_gsym_t *g = table_find(&c->globals, n);
        if (g && g->obj && !g->common && mark_sym(c, &w, g->obj, g->sym)) {
            return c->err.code;
        }
    }
    while (w.n > 0) {
        secref_t r = w.v[--w.n];
        nml_sec_t *s = &r.obj->secs[r.sec];
        for (size_t k = 0; k < s->nrels; k++) {
            if (mark_sym(c, &w, r.obj, s->rels[k].sym)) {
                return c->err.code;
            }
        }
    }
    return NM_OK;
}

/* ---------------------------------------------------------------- scan */

static int rel_fail(ctx_t *c, int code, nml_obj_t *o, nml_sec_t *s, nml_rel_t *r, const char *why) {
    char b[32];
    return nml_fail(&c->err, code, "%s: %s+0x%llx: %s against '%s': %s", o->name, s->name,
                    (unsigned long long)r->offset, rname(c, r->type, b, sizeof b), symname(o, r->sym), why);
}

/* Is type the HI part (AUIPC) of a PC-relative pair, recorded as form 3? */
static int is_hi_insn(ctx_t *c, uint32_t type) {
    return c->arch->insn_form && c->arch->insn_form(type) == NM_INSN_RV_PCREL_HI20;
}

/* The import whose GOT entry and stub g uses: g, or the one it is the same as. */
static nml_gsym_t *import_of(nml_gsym_t *g) {
    return g && g->same ? g->same : g;
}

static int add_import(ctx_t *c, nml_gsym_t *g) {
    if (g->import_idx >= 0) {
        return NM_OK;
    }
    for (size_t i = 0; c->opt->same_import && i < c->nimports; i++) {
        if (c->opt->same_import(c->opt->import_ctx, c->imports[i]->name, g->name)) {
            g->same = c->imports[i];
            g->import_idx = (int32_t)i;
            return NM_OK;
        }
    }
    if (c->nimports >= 0xffff) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "too many imports (more than 65535)");
    }
    if (grow(c, (void **)&c->imports, &c->capimports, c->nimports + 1, sizeof(*c->imports))) {
        return c->err.code;
    }
    g->import_idx = (int32_t)c->nimports;
    c->imports[c->nimports++] = g;
    return NM_OK;
}

static int add_got(ctx_t *c, nml_obj_t *o, uint32_t i) {
    nml_sym_t *s = &o->syms[i];
    int32_t *slot = s->g ? &import_of(s->g)->got_idx : &s->got_idx;
    if (*slot >= 0) {
        return NM_OK;
    }
    if (c->ngot >= 0xffff) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "too many GOT entries (more than 65535)");
    }
    if (grow(c, (void **)&c->got, &c->capgot, c->ngot + 1, sizeof(*c->got))) {
        return c->err.code;
    }
    *slot = (int32_t)c->ngot;
    c->got[c->ngot].obj = o;
    c->got[c->ngot].sym = i;
    c->ngot++;
    return NM_OK;
}

/* Note an undefined symbol nothing provides (once per symbol, at its first
 * reference); report_undefined lists them all when the scan is done. */
static int note_undefined(ctx_t *c, nml_obj_t *o, nml_sec_t *s, nml_rel_t *r, nml_gsym_t *g, const char *why) {
    if (g->undef_reported) {
        return NM_OK;
    }
    if (grow(c, (void **)&c->undefs, &c->capundefs, c->nundefs + 1, sizeof(*c->undefs))) {
        return c->err.code;
    }
    undef_t *u = &c->undefs[c->nundefs++];
    u->g = g;
    u->obj = o;
    u->sec = s;
    u->rel = r;
    u->why = why ? nml_strdup(&c->a, why) : NULL;
    if (why && !u->why) {
        return nomem(c);
    }
    g->undef_reported = 1;
    return NM_OK;
}

/* Decide what an undefined global becomes: an import, 0 (weak), or
 * undefined (noted, left T_UNDEF). */
static int undefined(ctx_t *c, nml_obj_t *o, nml_sec_t *s, nml_rel_t *r, tgt_t *t) {
    nml_gsym_t *g = t->g;
    if (c->opt->check_import) {
        char why[256];
        why[0] = 0;
        if (import_ok(c, g->name, why, sizeof why)) {
            t->kind = T_IMPORT;
            return add_import(c, g);
        }
        if (t->kind == T_WEAK0) {
            return NM_OK;
        }
        return note_undefined(c, o, s, r, g, why[0] ? why : "nothing provides it");
    }
    if (c->have_fw) {
        if (in_fw(c, g->name)) {
            t->kind = T_IMPORT;
            return add_import(c, g);
        }
        if (t->kind == T_WEAK0) {
            return NM_OK;
        }
        return note_undefined(c, o, s, r, g, NULL);
    }
    if (t->kind == T_WEAK0) {
        return NM_OK;
    }
    t->kind = T_IMPORT;
    return add_import(c, g);
}

#define UNDEF_FMT "undefined symbol %s (referenced from %s %s+0x%llx, %s): %s%s"

/* Every undefined symbol, one line each, C++ names demangled (the mangled
 * name beside them, as nm shows it). The lines go into the detail buffer as
 * long as they fit, leaving room for a last line that counts the rest. */
static int report_undefined(ctx_t *c) {
    enum { MORE_ROOM = 48 }; /* "... and 4294967295 more undefined symbols" */
    for (size_t i = 0; i < c->nundefs; i++) {
        const undef_t *u = &c->undefs[i];
        char dm[512], name[1100], b[32];
        if (nml_demangle(u->g->name, dm, sizeof dm)) {
            snprintf(name, sizeof name, "'%s' [%s]", dm, u->g->name);
        } else {
            snprintf(name, sizeof name, "'%s'", u->g->name);
        }
        const char *why = u->why ? u->why : "not in the firmware export list ";
        const char *list = u->why ? "" : c->opt->syms_path;
        if (i == 0) {
            nml_fail(&c->err, NM_ERR_NOSYM, UNDEF_FMT, name, u->obj->name, u->sec->name,
                     (unsigned long long)u->rel->offset, rname(c, u->rel->type, b, sizeof b), why, list);
        } else if (!nml_fail_more(&c->err, i + 1 < c->nundefs ? MORE_ROOM : 0, UNDEF_FMT, name, u->obj->name,
                                  u->sec->name, (unsigned long long)u->rel->offset,
                                  rname(c, u->rel->type, b, sizeof b), why, list)) {
            nml_fail_more(&c->err, 0, "... and %zu more undefined symbol%s", c->nundefs - i,
                          c->nundefs - i == 1 ? "" : "s");
            break;
        }
    }
    return NM_ERR_NOSYM;
}

static int scan_relocs(ctx_t *c) {
    const nml_arch_t *ar = c->arch;
    for (nml_obj_t *o = c->first; o; o = o->next) {
        for (uint32_t si = 1; si < o->nsecs; si++) {
            nml_sec_t *s = &o->secs[si];
            if (!s->keep) {
                continue;
            }
            if (s->nrels && s->bss) {
                return nml_fail(&c->err, NM_ERR_RELOC, "%s: section %u (%s): relocations in a section without contents",
                                o->name, si, s->name);
            }
            for (size_t k = 0; k < s->nrels; k++) {
                nml_rel_t *r = &s->rels[k];
                const char *why = NULL;
                int kind = ar->classify(r->type, &why);
                if (kind == NML_R_UNSUPPORTED) {
                    return rel_fail(c, NM_ERR_RELOC, o, s, r, why ? why : "not supported");
                }
                if (kind == NML_R_IGNORE || kind == NML_R_ALIGN) {
                    continue;
                }
                unsigned w = ar->width(r->type);
                if (r->offset > s->size || w > s->size - r->offset) {
                    return rel_fail(c, NM_ERR_RELOC, o, s, r, "field outside the section");
                }
                int got_kind = kind == NML_R_GOT || kind == NML_R_GOTPC || kind == NML_R_GOTOFF || kind == NML_R_GOTREL;
                int got_insn = kind == NML_R_GOT && is_hi_insn(c, r->type); /* AUIPC: an INSN record into RW */
                if (got_kind && !got_insn && !ar->rw_pcrel && !c->opt->packed) {
                    return rel_fail(c, NM_ERR_RELOC, o, s, r,
                                    ar->insn_form ? "GOT-relative word between TEXT and RW, which are placed "
                                                    "independently"
                                                  : "GOT-relative relocation: compile without -fPIC on Thumb (TEXT "
                                                    "and RW are placed independently)");
                }
                if (kind == NML_R_PCREL_LO) {
                    continue; /* names the label of its HI part, which is checked where it is */
                }
                if (kind == NML_R_GOTPC) {
                    continue; /* the GOT's own address: no target symbol (_GLOBAL_OFFSET_TABLE_) */
                }
                tgt_t t;
                resolve(o, r->sym, &t);
                if (t.kind == T_UNDEF || t.kind == T_WEAK0) {
                    int err = undefined(c, o, s, r, &t);
                    if (err) {
                        return err;
                    }
                    if (t.kind == T_UNDEF) {
                        continue; /* reported once the scan is done */
                    }
                    t.g = import_of(t.g);
                }
                if (t.kind == T_SEC && !t.obj->secs[t.sec].keep) {
                    return rel_fail(c, NM_ERR_RELOC, o, s, r, "target is in a discarded section");
                }
                int err = NM_OK;
                switch (kind) {
                case NML_R_PCREL:
                case NML_R_GOTOFF:
                    if (t.kind == T_IMPORT) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r,
                                        "out of range: PC-relative reference to an import (use the GOT: -fPIC -fno-plt)");
                    }
                    break;
                case NML_R_BRANCH:
                    if (t.kind == T_IMPORT && t.g->stub_idx < 0) {
                        if (c->nstubs >= 0xffff) {
                            return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "too many stubs");
                        }
                        if (grow(c, (void **)&c->stubs, &c->capstubs, c->nstubs + 1, sizeof(*c->stubs))) {
                            return c->err.code;
                        }
                        t.g->stub_idx = (int32_t)c->nstubs;
                        c->stubs[c->nstubs++] = t.g;
                        if (ar->stub_uses_got) {
                            err = add_got(c, o, r->sym);
                        }
                    }
                    break;
                case NML_R_GOT:
                case NML_R_GOTREL:
                    err = add_got(c, o, r->sym);
                    break;
                case NML_R_ABS_INSN:
                case NML_R_PCREL_HI:
                    if (t.kind == T_IMPORT) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r,
                                        "the address of an import in an instruction: text never holds a firmware "
                                        "address; compile with -fpic so that it is read from a GOT slot (calls "
                                        "are fine: they go through a stub)");
                    }
                    break;
                case NML_R_ADDSUB:
                    if (t.kind == T_IMPORT) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "label difference involving an import");
                    }
                    break;
                default:
                    break;
                }
                if (err) {
                    return err;
                }
            }
        }
    }
    if (c->nundefs) {
        int err = check_index_omissions(c);
        return err ? err : report_undefined(c);
    }
    return NM_OK;
}

/* ---------------------------------------------------------------- layout */

#define SIZE_LIMIT 0x7fffffffull

static int place(ctx_t *c, nml_sec_t *s, uint64_t *cur, unsigned *align) {
    *cur = align_up(*cur, s->align);
    s->out_off = (uint32_t)*cur;
    *cur += s->size;
    unsigned l = log2u(s->align);
    if (l > *align) {
        *align = l;
    }
    if (*cur > SIZE_LIMIT) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "module too large");
    }
    return NM_OK;
}

/* For RW_PCREL arches: the smallest rw_offset >= lo on RW's alignment with
 * NM_HEADER_SIZE + rw_offset a multiple of NM_XIP_PAGE. A slice installed
 * at a page-aligned flash address then has its RW base on a page boundary
 * (the ELF rule: vaddr = file offset mod page), where an MMU board maps RAM
 * next to the flash pages that hold text. Those offsets are odd multiples
 * of 64, so an RW alignment above 64 has none: 0 (the module is laid out
 * as on Thumb and runs from RAM only). */
static uint64_t page_congruent(uint64_t lo, unsigned rw_align_log2) {
    uint64_t r = align_up(lo + NM_HEADER_SIZE, NM_XIP_PAGE) - NM_HEADER_SIZE;
    return (r & ((1ull << rw_align_log2) - 1)) ? 0 : r;
}

/* The section holding the entry and the entry's offset in it. */
static nml_sec_t *entry_section(ctx_t *c, uint64_t *off) {
    nml_obj_t *o = c->entry->obj;
    nml_sym_t *y = &o->syms[c->entry->sym];
    *off = y->value;
    return &o->secs[y->shndx];
}

static int layout(ctx_t *c) {
    const nml_arch_t *ar = c->arch;
    uint64_t cur = 0;
    c->text_align = c->rw_align = ar->min_align_log2;
    /* TEXT: the entry's section first (behind a jump if the entry is not
     * its first byte), code, then read-only data, then stubs */
    nml_sec_t *esec = NULL;
    if (c->entry) {
        uint64_t eoff;
        esec = entry_section(c, &eoff);
        /* the jump's size depends on the distance, which depends on the
         * size: size it for the longest jump plus alignment (sizes only grow
         * with distance, so the final distance needs no more) */
        if (ar->text_in_order) {
            /* the entry stays among its object's sections, behind the jump */
            c->entry_jump = ar->jump_size(c->opt->arch, 0);
            cur = c->entry_jump;
            esec = NULL;
        } else {
            c->entry_jump = eoff ? ar->jump_size(c->opt->arch, (int64_t)(eoff + 8 + esec->align)) : 0;
            cur = c->entry_jump;
            if (place(c, esec, &cur, &c->text_align)) {
                return c->err.code;
            }
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (nml_obj_t *o = c->first; o; o = o->next) {
            for (uint32_t i = 1; i < o->nsecs; i++) {
                nml_sec_t *s = &o->secs[i];
                if (!s->keep || s == esec || s->region != NM_REGION_TEXT ||
                    (ar->text_in_order ? pass != 0 : ((s->flags & NML_SHF_EXEC) != 0) != (pass == 0))) {
                    continue;
                }
                if (place(c, s, &cur, &c->text_align)) {
                    return c->err.code;
                }
            }
        }
    }
    if (c->nstubs) {
        cur = align_up(cur, ar->stub_align);
        c->stub_off = cur;
        cur += (uint64_t)c->nstubs * ar->stub_size;
    }
    c->text_size = cur;
    if (c->entry && ar->text_in_order) {
        uint64_t eoff;
        nml_sec_t *es = entry_section(c, &eoff);
        if (ar->jump_size(c->opt->arch, (int64_t)(es->out_off + eoff)) != c->entry_jump) {
            return nml_fail(&c->err, NM_ERR_RELOC, "%s: the entry %s at TEXT +0x%llx is out of the entry jump's reach",
                            c->entry->obj->name, c->entry->obj->syms[c->entry->sym].name,
                            (unsigned long long)(es->out_off + eoff));
        }
    }
    /* RW: data, GOT, then bss */
    cur = 0;
    for (nml_obj_t *o = c->first; o; o = o->next) {
        for (uint32_t i = 1; i < o->nsecs; i++) {
            nml_sec_t *s = &o->secs[i];
            if (s->keep && s->region == NM_REGION_RW && !s->bss && place(c, s, &cur, &c->rw_align)) {
                return c->err.code;
            }
        }
    }
    cur = align_up(cur, ar->ptr_size);
    c->got_off = cur;
    cur += (uint64_t)c->ngot * ar->ptr_size;
    if (c->ngot && log2u(ar->ptr_size) > c->rw_align) {
        c->rw_align = log2u(ar->ptr_size);
    }
    c->data_size = cur;
    for (nml_obj_t *o = c->first; o; o = o->next) {
        for (uint32_t i = 1; i < o->nsecs; i++) {
            nml_sec_t *s = &o->secs[i];
            if (s->keep && s->region == NM_REGION_RW && s->bss && place(c, s, &cur, &c->rw_align)) {
                return c->err.code;
            }
        }
    }
    for (size_t i = 0; i < c->globals.cap; i++) {
        nml_gsym_t *g = c->globals.slot[i];
        if (g && g->obj && g->common) {
            uint32_t al = g->common_align ? g->common_align : 1;
            cur = align_up(cur, al);
            g->common_off = (uint32_t)cur;
            cur += g->common_size;
            if (log2u(al) > c->rw_align) {
                c->rw_align = log2u(al);
            }
            if (cur > SIZE_LIMIT) {
                return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "module too large");
            }
        }
    }
    c->bss_size = cur - c->data_size;
    /* RW follows TEXT at the next rw_align boundary; RW_PCREL modules put
     * it on the next page instead (page_congruent), so that an MMU board can
     * run their text in place with RAM pages right after it. That costs up
     * to a page of zeroed gap per module in RAM mode. link_all may move RW
     * further once the image size is known. */
    c->rw_offset = align_up(c->text_size, 1ull << c->rw_align);
    if (ar->rw_pcrel && !c->opt->packed) {
        uint64_t r = page_congruent(c->text_size, c->rw_align);
        c->rw_offset = r ? r : c->rw_offset;
    }
    if (c->rw_offset + cur > SIZE_LIMIT) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "module too large");
    }
    return NM_OK;
}

/* ---------------------------------------------------------------- relocate */

static int add_reloc(ctx_t *c, uint64_t site, uint32_t target) {
    if (grow(c, (void **)&c->relocs, &c->caprelocs, c->nrelocs + 1, sizeof(*c->relocs))) {
        return c->err.code;
    }
    nm_reloc_t *r = &c->relocs[c->nrelocs++];
    memset(r, 0, sizeof(*r));
    r->site = (uint32_t)site;
    r->kind = c->arch->ptr_size == 8 ? NM_RELOC_PTR64 : NM_RELOC_PTR32;
    r->target = target;
    return NM_OK;
}

/* An instruction field the loader writes (docs/format.md 4.1): form, the
 * target region and the offset into it, and for a PC-relative LO its HI's
 * site. Sites are text offsets. */
static int add_insn(ctx_t *c, uint64_t site, int form, uint32_t target, uint64_t addend, uint64_t hi_site) {
    if (grow(c, (void **)&c->relocs, &c->caprelocs, c->nrelocs + 1, sizeof(*c->relocs))) {
        return c->err.code;
    }
    nm_reloc_t *r = &c->relocs[c->nrelocs++];
    memset(r, 0, sizeof(*r));
    r->site = (uint32_t)site;
    r->kind = NM_RELOC_INSN;
    r->target = target;
    r->form = (uint8_t)form;
    r->addend = (uint32_t)addend;
    r->hi_site = (uint32_t)hi_site;
    return NM_OK;
}

/* Region and offset-in-region of a placed target; 0 if not placed. */
static int region_of(ctx_t *c, const tgt_t *t, uint8_t *region, uint64_t *off) {
    if (t->kind == T_SEC) {
        nml_sec_t *s = &t->obj->secs[t->sec];
        *region = s->region;
        *off = s->out_off + t->off;
        return 1;
    }
    if (t->kind == T_COMMON) {
        *region = NM_REGION_RW;
        *off = t->g->common_off;
        return 1;
    }
    (void)c;
    return 0;
}

/* Link-time address of a target (T_IMPORT: its stub, or 0). */
static uint64_t addr_of(ctx_t *c, const tgt_t *t) {
    uint8_t region;
    uint64_t off = 0;
    if (region_of(c, t, &region, &off)) {
        return (region == NM_REGION_RW ? c->rw_offset : 0) + off;
    }
    if (t->kind == T_ABS) {
        return t->off;
    }
    return 0;
}

/* Write a pointer-sized absolute value at p (site) pointing at t + addend. */
static int write_pointer(ctx_t *c, uint8_t *p, uint64_t site, const tgt_t *t, int64_t addend) {
    uint8_t region;
    uint64_t off = 0;
    uint64_t v;
    int err = NM_OK;
    if (region_of(c, t, &region, &off)) {
        v = (off + (uint64_t)addend) | t->thumb;
        err = add_reloc(c, site, region == NM_REGION_RW ? NM_TARGET_RW : NM_TARGET_TEXT);
    } else if (t->kind == T_IMPORT) {
        v = (uint64_t)addend;
        err = add_reloc(c, site, NM_TARGET_IMPORT0 + (uint32_t)t->g->import_idx);
    } else {
        v = addr_of(c, t) + (uint64_t)addend;
    }
    if (c->arch->ptr_size == 8) {
        nml_wr64(p, v);
    } else {
        nml_wr32(p, (uint32_t)v);
    }
    return err;
}

static int final_target(ctx_t *c, nml_obj_t *o, uint32_t sym, tgt_t *t) {
    resolve(o, sym, t);
    if (t->kind == T_UNDEF || t->kind == T_WEAK0) {
        if (t->g->import_idx >= 0) {
            t->kind = T_IMPORT;
            t->g = import_of(t->g);
        } else if (t->kind == T_UNDEF) {
            return nml_fail(&c->err, NM_ERR_NOSYM, "undefined symbol '%s'", t->g->name); /* not reached */
        }
    }
    return NM_OK;
}

/* A link-time-resolved relative reference: if it reaches bss, bss must
 * stay where the layout put it (the .mpy back-end then cannot move it). */
static void note_relative(ctx_t *c, const tgt_t *t) {
    uint8_t region = 0;
    uint64_t off = 0;
    if (region_of(c, t, &region, &off) && region == NM_REGION_RW && off >= c->data_size) {
        c->bss_relative = 1;
    }
}


/* ---- PC-relative pairs (RISC-V AUIPC + ADDI/load/store) ---- */

static int rel_before(const nml_rel_t *rels, uint32_t a, uint32_t b) {
    return rels[a].offset < rels[b].offset;
}

/* Heap sort's sift-down of idx[root] within idx[0..n). */
static void sift_hi(const nml_rel_t *rels, uint32_t *idx, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) {
            return;
        }
        if (child + 1 < n && rel_before(rels, idx[child], idx[child + 1])) {
            child++;
        }
        if (!rel_before(rels, idx[root], idx[child])) {
            return;
        }
        uint32_t t = idx[root];
        idx[root] = idx[child];
        idx[child] = t;
        root = child;
    }
}

/* Sort idx[0..n) by the offset of the relocation they index: a heap sort,
 * bounded whatever order the (untrusted) relocations come in. */
static void sort_hi(const nml_rel_t *rels, uint32_t *idx, size_t n) {
    for (size_t start = n / 2; start-- > 0;) {
        sift_hi(rels, idx, start, n);
    }
    for (size_t end = n; end-- > 1;) {
        uint32_t t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_hi(rels, idx, 0, end);
    }
}

/* The HI relocation (PCREL_HI20 or GOT_HI20) a PC-relative LO pairs with:
 * the one at the LO's symbol (the AUIPC's label) + addend, in the label's
 * section. Several LOs may share one HI; a LO may come first in the code. */
static int find_hi(ctx_t *c, nml_obj_t *o, nml_sec_t *s, nml_rel_t *r, nml_sec_t **hs, nml_rel_t **hr) {
    const nml_sym_t *y = &o->syms[r->sym];
    if (y->shndx == NML_SHN_UNDEF || y->shndx >= o->nsecs) {
        return rel_fail(c, NM_ERR_RELOC, o, s, r,
                        "names no label in a section (it must name the AUIPC of its %pcrel_hi)");
    }
    nml_sec_t *t = &o->secs[y->shndx];
    uint64_t at = y->value + (uint64_t)r->addend;
    if (!t->hi_built) {
        size_t n = 0;
        for (size_t k = 0; k < t->nrels; k++) {
            const char *why = NULL;
            int kind = c->arch->classify(t->rels[k].type, &why);
            n += kind == NML_R_PCREL_HI || (kind == NML_R_GOT && is_hi_insn(c, t->rels[k].type));
        }
        t->hi_idx = nml_alloc_array(&c->a, n ? n : 1, sizeof(*t->hi_idx));
        if (!t->hi_idx) {
            return nomem(c);
        }
        n = 0;
        for (size_t k = 0; k < t->nrels; k++) {
            const char *why = NULL;
            int kind = c->arch->classify(t->rels[k].type, &why);
            if (kind == NML_R_PCREL_HI || (kind == NML_R_GOT && is_hi_insn(c, t->rels[k].type))) {
                t->hi_idx[n++] = (uint32_t)k;
            }
        }
        sort_hi(t->rels, t->hi_idx, n);
        t->nhi = (uint32_t)n;
        t->hi_built = 1;
    }
    size_t lo = 0, hi = t->nhi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->rels[t->hi_idx[mid]].offset < at) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == t->nhi || t->rels[t->hi_idx[lo]].offset != at) {
        char b[160];
        snprintf(b, sizeof b, "no R_RISCV_PCREL_HI20 or R_RISCV_GOT_HI20 at the label it names (%s+0x%llx)", t->name,
                 (unsigned long long)at);
        return rel_fail(c, NM_ERR_RELOC, o, s, r, b);
    }
    if (!t->keep || t->region != NM_REGION_TEXT) {
        return rel_fail(c, NM_ERR_RELOC, o, s, r, "its %pcrel_hi is not in a kept code section");
    }
    *hs = t;
    *hr = &t->rels[t->hi_idx[lo]];
    return NM_OK;
}

/* What a HI relocation (and each LO paired with it) resolves to. */
typedef struct hival {
    enum { HI_RESOLVED, HI_ABSOLUTE, HI_INSN } mode;
    int64_t v;        /* RESOLVED, INSN: the link-time S + A - P of the AUIPC */
    uint64_t abs;     /* ABSOLUTE: the address (the AUIPC becomes a LUI) */
    uint32_t target;  /* INSN: NM_TARGET_TEXT/RW and the offset into it */
    uint64_t addend;
    uint64_t site;    /* the AUIPC's text offset */
} hival_t;

static int final_target(ctx_t *c, nml_obj_t *o, uint32_t sym, tgt_t *t);
static void note_relative(ctx_t *c, const tgt_t *t);

static int hi_eval(ctx_t *c, nml_obj_t *o, nml_sec_t *s, nml_rel_t *r, hival_t *h) {
    const nml_arch_t *ar = c->arch;
    const char *why = NULL;
    int kind = ar->classify(r->type, &why);
    uint64_t P = s->out_off + r->offset;
    int64_t A = r->addend;
    memset(h, 0, sizeof(*h));
    h->site = P;
    if (s->region != NM_REGION_TEXT) {
        return rel_fail(c, NM_ERR_RELOC, o, s, r, "instruction relocation in a writable section");
    }
    if (kind == NML_R_GOT) {
        nml_sym_t *y = &o->syms[r->sym];
        int32_t gi = y->g ? import_of(y->g)->got_idx : y->got_idx;
        uint64_t entry = c->rw_offset + c->got_off + (uint64_t)gi * ar->ptr_size + (uint64_t)A;
        h->v = (int64_t)(entry - P);
        if (!c->opt->packed) {
            h->mode = HI_INSN;
            h->target = NM_TARGET_RW;
            h->addend = entry - c->rw_offset;
        }
        return NM_OK;
    }
    tgt_t t;
    if (final_target(c, o, r->sym, &t)) {
        return c->err.code;
    }
    uint8_t region;
    uint64_t off = 0;
    if (t.kind == T_IMPORT) {
        return rel_fail(c, NM_ERR_RELOC, o, s, r, "PC-relative reference to an import: compile with -fpic");
    }
    if (!region_of(c, &t, &region, &off)) {
        h->mode = HI_ABSOLUTE; /* an absolute symbol, or an absent weak one (0) */
        h->abs = addr_of(c, &t) + (uint64_t)A;
        return NM_OK;
    }
    note_relative(c, &t);
    h->v = (int64_t)((region == NM_REGION_RW ? c->rw_offset : 0) + off + (uint64_t)A - P);
    if (region == NM_REGION_RW && !c->opt->packed) {
        h->mode = HI_INSN;
        h->target = NM_TARGET_RW;
        h->addend = off + (uint64_t)A;
    }
    return NM_OK;
}

/* A label difference (ADD/SUB/SET at one offset) is only constant if both
 * labels lie in one region (or in the one block of a packed link). */
static int check_addsub(ctx_t *c, nml_obj_t *o, nml_sec_t *s, size_t k, const tgt_t *t) {
    nml_rel_t *r = &s->rels[k];
    int partners = 0;
    for (int d = -1; d <= 1; d += 2) {
        if ((d < 0 && k == 0) || (d > 0 && k + 1 >= s->nrels)) {
            continue;
        }
        nml_rel_t *q = &s->rels[k + (size_t)(ptrdiff_t)d];
        const char *why = NULL;
        if (q->offset != r->offset || c->arch->classify(q->type, &why) != NML_R_ADDSUB) {
            continue;
        }
        partners++;
        tgt_t u;
        if (final_target(c, o, q->sym, &u)) {
            return c->err.code;
        }
        uint8_t ra = 0xff, rb = 0xff;
        uint64_t off = 0;
        if (u.kind == T_IMPORT) {
            return rel_fail(c, NM_ERR_RELOC, o, s, q, "label difference involving an import");
        }
        region_of(c, t, &ra, &off);
        region_of(c, &u, &rb, &off);
        if (ra != rb && !c->opt->packed) {
            return rel_fail(c, NM_ERR_RELOC, o, s, r,
                            "difference of labels in TEXT and RW, which are placed independently");
        }
    }
    if (!partners) {
        return rel_fail(c, NM_ERR_RELOC, o, s, r,
                        "a label difference without its other half (no ADD/SUB/SET at the same offset)");
    }
    return NM_OK;
}

static int relocate(ctx_t *c) {
    const nml_arch_t *ar = c->arch;
    uint64_t gotbase = c->rw_offset + c->got_off;
    c->text = nml_alloc(c->ra, c->text_size ? c->text_size : 1);
    c->data = nml_alloc(c->ra, c->data_size ? c->data_size : 1);
    if (!c->text || !c->data) {
        return nomem(c);
    }
    if (c->entry_jump) {
        uint64_t eoff;
        nml_sec_t *esec = entry_section(c, &eoff);
        ar->write_jump(c->text, c->opt->arch, (int64_t)(esec->out_off + eoff));
    }
    for (nml_obj_t *o = c->first; o; o = o->next) {
        for (uint32_t i = 1; i < o->nsecs; i++) {
            nml_sec_t *s = &o->secs[i];
            if (s->keep && !s->bss) {
                uint8_t *dst = (s->region == NM_REGION_TEXT ? c->text : c->data) + s->out_off;
                memcpy(dst, s->bytes ? s->bytes : o->data + s->offset, s->size);
            }
        }
    }
    for (nml_obj_t *o = c->first; o; o = o->next) {
        for (uint32_t si = 1; si < o->nsecs; si++) {
            nml_sec_t *s = &o->secs[si];
            if (!s->keep || s->bss) {
                continue;
            }
            int in_text = s->region == NM_REGION_TEXT;
            uint8_t *base = (in_text ? c->text : c->data) + s->out_off;
            uint64_t sbase = (in_text ? 0 : c->rw_offset) + s->out_off;
            uint64_t sitebase = (in_text ? 0 : c->text_size) + s->out_off;
            for (size_t k = 0; k < s->nrels; k++) {
                nml_rel_t *r = &s->rels[k];
                const char *why = NULL;
                int kind = ar->classify(r->type, &why);
                if (kind == NML_R_IGNORE || kind == NML_R_ALIGN) {
                    continue;
                }
                uint8_t *p = base + r->offset;
                uint64_t P = sbase + r->offset;
                size_t room = (size_t)(s->size - r->offset);
                uint64_t site = sitebase + r->offset;
                int64_t A = !r->has_addend     ? ar->implicit_addend(r->type, p)
                            : ar->rela_inplace ? r->addend + ar->implicit_addend(r->type, p)
                                               : r->addend;
                if (kind == NML_R_GOTPC) {
                    why = NULL;
                    if (ar->apply(r->type, p, room, P, (int64_t)(gotbase + (uint64_t)A - P), &why)) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, why ? why : "out of range");
                    }
                    continue;
                }
                tgt_t t;
                if (final_target(c, o, r->sym, &t)) {
                    return c->err.code;
                }
                int64_t v = 0;
                int err = NM_OK;
                uint64_t S = addr_of(c, &t);
                switch (kind) {
                case NML_R_ABS:
                    if (ar->width(r->type) != ar->ptr_size) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "absolute field narrower than a pointer");
                    }
                    if ((err = write_pointer(c, p, sitebase + r->offset, &t, A))) {
                        return err;
                    }
                    continue;
                case NML_R_BRANCH:
                    if (t.kind == T_IMPORT) {
                        S = c->stub_off + (uint64_t)t.g->stub_idx * ar->stub_size;
                        v = (int64_t)(S + (uint64_t)A - P);
                    } else if ((t.kind == T_WEAK0 || t.kind == T_ABS) && ar->pcrel_to_abs) {
                        /* a call to an absent weak function (0) or an absolute address: AUIPC -> LUI */
                        why = NULL;
                        if (ar->pcrel_to_abs(r->type, p, addr_of(c, &t) + (uint64_t)A, &why)) {
                            return rel_fail(c, NM_ERR_RELOC, o, s, r,
                                            t.kind == T_WEAK0 ? "branch to an undefined weak symbol: only a call "
                                                                "(AUIPC+JALR) can reach address 0"
                                                              : "branch to an absolute address: only a call "
                                                                "(AUIPC+JALR) can reach it");
                        }
                        continue;
                    } else if (t.kind == T_WEAK0) {
                        v = 0; /* branch to an absent weak function: fall through to the next instruction */
                        if (ar->width(r->type) != 4) {
                            return rel_fail(c, NM_ERR_RELOC, o, s, r, "short branch to an undefined weak symbol");
                        }
                        if (ar->thumb) {
                            v = 0; /* BL +0 lands after the 4-byte BL */
                        }
                    } else if (t.kind == T_ABS) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "branch to an absolute address");
                    } else {
                        uint8_t reg = 0;
                        uint64_t off = 0;
                        if (!ar->rw_pcrel && !c->opt->packed && region_of(c, &t, &reg, &off) && reg != s->region) {
                            return rel_fail(c, NM_ERR_RELOC, o, s, r, "branch between TEXT and RW");
                        }
                        note_relative(c, &t);
                        v = (int64_t)(((S + (uint64_t)A) | t.thumb) - P);
                    }
                    break;
                case NML_R_PCREL:
                    if (t.kind == T_ABS || t.kind == T_WEAK0) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "PC-relative reference to an absolute address");
                    }
                    note_relative(c, &t);
                    if (!ar->rw_pcrel && !c->opt->packed) {
                        uint8_t reg = 0;
                        uint64_t off = 0;
                        region_of(c, &t, &reg, &off);
                        if (reg != s->region) {
                            return rel_fail(c, NM_ERR_RELOC, o, s, r,
                                            "PC-relative reference between TEXT and RW (regions are placed independently)");
                        }
                    }
                    v = (int64_t)(((S + (uint64_t)A) | t.thumb) - P);
                    break;
                case NML_R_PCREL_HI:
                case NML_R_PCREL_LO:
                case NML_R_GOT:
                    if (kind != NML_R_GOT || is_hi_insn(c, r->type)) {
                        nml_sec_t *hs = s;
                        nml_rel_t *hr = r;
                        hival_t h;
                        if (kind == NML_R_PCREL_LO && find_hi(c, o, s, r, &hs, &hr)) {
                            return c->err.code;
                        }
                        if (hi_eval(c, o, hs, hr, &h)) {
                            return c->err.code;
                        }
                        if (h.mode == HI_ABSOLUTE) {
                            if (kind != NML_R_PCREL_LO) {
                                why = NULL;
                                if (ar->pcrel_to_abs(r->type, p, h.abs, &why)) {
                                    return rel_fail(c, NM_ERR_RELOC, o, s, r, why ? why : "out of range");
                                }
                                continue;
                            }
                            v = (int64_t)h.abs; /* the LO's low part of the absolute address */
                            break;
                        }
                        if (h.mode == HI_INSN) {
                            if (!in_text) {
                                return rel_fail(c, NM_ERR_RELOC, o, s, r, "instruction relocation in a writable section");
                            }
                            if (add_insn(c, site, ar->insn_form(r->type), h.target, h.addend,
                                         kind == NML_R_PCREL_LO ? h.site : 0)) {
                                return c->err.code;
                            }
                        }
                        v = h.v;
                        break;
                    }
                    /* fall through - a GOT word (x86-64, Thumb -fpic, RISC-V GOT32_PCREL) */
                case NML_R_GOTREL: {
                    nml_sym_t *y = &o->syms[r->sym];
                    int32_t gi = y->g ? import_of(y->g)->got_idx : y->got_idx;
                    uint64_t entry = gotbase + (uint64_t)gi * ar->ptr_size + (uint64_t)A;
                    v = (int64_t)(kind == NML_R_GOT ? entry - P : entry - gotbase);
                    break;
                }
                case NML_R_ABS_INSN: {
                    uint8_t reg;
                    uint64_t off = 0;
                    if (t.kind == T_IMPORT) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "the address of an import in an instruction");
                    }
                    if (!region_of(c, &t, &reg, &off)) {
                        v = (int64_t)(S + (uint64_t)A); /* absolute: known now */
                        break;
                    }
                    if (c->opt->packed) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r,
                                        "absolute address in an instruction (%hi/%lo, -mcmodel=medlow): a .mpy is "
                                        "relocated by whole words only; compile with -fpic");
                    }
                    if (!in_text) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "instruction relocation in a writable section");
                    }
                    if (add_insn(c, site, ar->insn_form(r->type), reg == NM_REGION_RW ? NM_TARGET_RW : NM_TARGET_TEXT,
                                 off + (uint64_t)A, 0)) {
                        return c->err.code;
                    }
                    v = (int64_t)(S + (uint64_t)A);
                    break;
                }
                case NML_R_ADDSUB:
                    if (check_addsub(c, o, s, k, &t)) {
                        return c->err.code;
                    }
                    v = (int64_t)(S + (uint64_t)A);
                    break;
                case NML_R_GOTOFF:
                    if (t.kind == T_ABS || t.kind == T_WEAK0) {
                        return rel_fail(c, NM_ERR_RELOC, o, s, r, "GOT-relative reference to an absolute address");
                    }
                    note_relative(c, &t);
                    v = (int64_t)(S + (uint64_t)A - gotbase);
                    break;
                default:
                    return rel_fail(c, NM_ERR_RELOC, o, s, r, why ? why : "not supported");
                }
                if (err) {
                    return err;
                }
                why = NULL;
                if (ar->apply(r->type, p, room, P, v, &why)) {
                    return rel_fail(c, NM_ERR_RELOC, o, s, r, why ? why : "out of range");
                }
            }
        }
    }
    /* GOT entries */
    for (size_t i = 0; i < c->ngot; i++) {
        tgt_t t;
        if (final_target(c, c->got[i].obj, c->got[i].sym, &t)) {
            return c->err.code;
        }
        uint64_t off = c->got_off + i * ar->ptr_size;
        if (write_pointer(c, c->data + off, c->text_size + off, &t, 0)) {
            return c->err.code;
        }
    }
    /* stubs / veneers */
    for (size_t i = 0; i < c->nstubs; i++) {
        nml_gsym_t *g = c->stubs[i];
        uint64_t at = c->stub_off + i * ar->stub_size;
        uint64_t got = g->got_idx >= 0 ? gotbase + (uint64_t)g->got_idx * ar->ptr_size : 0;
        ar->write_stub(c->text + at, at, got);
        if (ar->stub_lit >= 0) {
            /* The veneer's literal holds the GOT slot's address: its RW offset + RW base. */
            nml_wr32(c->text + at + ar->stub_lit, (uint32_t)(got - c->rw_offset));
            if (add_reloc(c, at + (uint64_t)ar->stub_lit, NM_TARGET_RW)) {
                return c->err.code;
            }
        }
        if (ar->insn_form && !c->opt->packed) {
            /* its PC-relative load of the GOT slot: TEXT and RW move apart at load time */
            uint64_t slot = got - c->rw_offset, hi = at + (uint64_t)ar->stub_insn_hi;
            if (add_insn(c, hi, NM_INSN_RV_PCREL_HI20, NM_TARGET_RW, slot, 0) ||
                add_insn(c, at + (uint64_t)ar->stub_insn_lo, NM_INSN_RV_PCREL_LO12_I, NM_TARGET_RW, slot, hi)) {
                return c->err.code;
            }
        }
    }
    return NM_OK;
}

/* ---------------------------------------------------------------- exports */

typedef struct expbuf {
    nm_wexport_t *v;
    size_t n, cap;
} expbuf_t;

static int add_export(ctx_t *c, expbuf_t *e, nml_gsym_t *g) {
    if (g->exported) {
        return NM_OK;
    }
    nml_obj_t *o = g->obj;
    tgt_t t;
    resolve(o, g->sym, &t);
    uint8_t region;
    uint64_t off = 0;
    if (!region_of(c, &t, &region, &off)) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "%s: export '%s' is not in a module section", o->name, g->name);
    }
    if (t.kind == T_SEC && !t.obj->secs[t.sec].keep) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "%s: export '%s' is in discarded section %s", o->name, g->name,
                        t.obj->secs[t.sec].name);
    }
    if (e->n >= 0xffff) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "too many exports");
    }
    if (grow(c, (void **)&e->v, &e->cap, e->n + 1, sizeof(*e->v))) {
        return c->err.code;
    }
    nml_sym_t *s = &o->syms[g->sym];
    int func = s->type == NML_STT_FUNC ||
               (s->type != NML_STT_OBJECT && t.kind == T_SEC && (t.obj->secs[t.sec].flags & NML_SHF_EXEC));
    nm_wexport_t *x = &e->v[e->n++];
    x->name = nml_strdup(c->ra, g->name);
    if (!x->name) {
        return nomem(c);
    }
    x->value = (uint32_t)(off | t.thumb);
    x->region = region;
    x->kind = func ? NM_EXPORT_FUNC : NM_EXPORT_DATA;
    g->exported = 1;
    return NM_OK;
}

/* A module with no export and no nm_init can never be reached: nothing of it
 * would ever run. That is almost always C compiled with -fvisibility=hidden
 * (natmod build does) whose public functions lack NM_EXPORT, so refuse it and
 * name the global functions that were dropped. */
static int no_exports(ctx_t *c) {
    char names[200];
    size_t len = 0, shown = 0, more = 0;
    names[0] = 0;
    for (nml_obj_t *o = c->first; o; o = o->next) {
        for (uint32_t i = 1; i < o->nsyms && !o->from_archive; i++) {
            const nml_sym_t *s = &o->syms[i];
            if (s->bind != NML_STB_GLOBAL || s->type != NML_STT_FUNC || s->shndx == NML_SHN_UNDEF ||
                s->shndx == NML_SHN_ABS) {
                continue;
            }
            int n = snprintf(names + len, sizeof names - len, "%s'%s'", shown ? ", " : "", s->name);
            if (shown < 6 && n > 0 && (size_t)n < sizeof names - len) {
                len += (size_t)n;
                shown++;
            } else {
                names[len] = 0;
                more++;
            }
        }
    }
    const char *mod = c->opt->name && c->opt->name[0] ? c->opt->name : c->first ? c->first->name : "";
    if (!shown) {
        return nml_fail(&c->err, NM_ERR_NOSYM,
                        "module '%s' exports nothing and has no nm_init, and its objects define no global function: "
                        "nothing of it could ever run",
                        mod);
    }
    char tail[48] = "";
    if (more) {
        snprintf(tail, sizeof tail, " and %zu more", more);
    }
    return nml_fail(&c->err, NM_ERR_NOSYM,
                    "module '%s' exports nothing and has no nm_init: global function%s %s%s %s not marked "
                    "NM_EXPORT (mark them NM_EXPORT, or pass --export NAME)",
                    mod, shown + more > 1 ? "s" : "", names, tail, shown + more > 1 ? "are" : "is");
}

static int exports(ctx_t *c, nml_result_t *res) {
    expbuf_t e = {0};
    if (c->entry && add_export(c, &e, c->entry)) {
        return c->err.code;
    }
    for (nml_obj_t *o = c->first; o && !c->entry; o = o->next) {
        for (uint32_t i = 1; i < o->nsyms; i++) {
            nml_sym_t *s = &o->syms[i];
            if (is_export_candidate(o, s) && s->g && s->g->obj == o && s->g->sym == i && add_export(c, &e, s->g)) {
                return c->err.code;
            }
        }
    }
    static const char *const special[] = {"nm_init", "nm_deinit"};
    for (size_t i = 0; i < 2 + c->opt->n_extra_exports && !c->entry; i++) {
        const char *n = i < 2 ? special[i] : c->opt->extra_exports[i - 2];
        nml_gsym_t *g = table_find(&c->globals, n);
        if (!g || !g->obj) {
            if (i < 2) {
                continue;
            }
            return nml_fail(&c->err, NM_ERR_NOSYM, "export '%s' is not defined by any object", n);
        }
        if (add_export(c, &e, g)) {
            return c->err.code;
        }
    }
    if (!e.n && !c->entry) {
        return no_exports(c);
    }
    res->mod.init_idx = res->mod.deinit_idx = NM_NO_INDEX;
    for (size_t i = 0; i < e.n; i++) {
        if (strcmp(e.v[i].name, "nm_init") == 0) {
            res->mod.init_idx = (uint16_t)i;
        } else if (strcmp(e.v[i].name, "nm_deinit") == 0) {
            res->mod.deinit_idx = (uint16_t)i;
        }
    }
    nm_wexport_t *out = nml_alloc_array(c->ra, e.n ? e.n : 1, sizeof(*out));
    if (!out) {
        return nomem(c);
    }
    if (e.n) {
        memcpy(out, e.v, e.n * sizeof(*out));
    }
    res->mod.exports = out;
    res->mod.n_exports = (uint16_t)e.n;
    return NM_OK;
}

/* ---------------------------------------------------------------- inputs */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode the archive's symbol index into ar->idx and its hash table. An
 * index that is absent or does not fit the archive (bad count, names
 * running off the end, an offset that is not a member header) is not used:
 * every member is parsed instead, which is slower but relies on nothing
 * the index claims. */
static int decode_armap(ctx_t *c, archive_t *ar) {
    const nml_armap_t *map = &ar->f.map;
    const size_t *m = ar->f.off;
    size_t nm = ar->n;
    if (map->size < 4) {
        return NM_OK;
    }
    uint32_t count = be32(map->data);
    if (count > (map->size - 4) / 4 || count > UINT32_MAX / 4) {
        return NM_OK;
    }
    uint32_t cap = 16;
    while (cap < 2 * count) {
        cap *= 2;
    }
    struct idx_ent *idx = nml_alloc_array(&c->a, count ? count : 1, sizeof(*idx));
    uint32_t *slot = nml_alloc_array(&c->a, cap, sizeof(*slot));
    if (!idx || !slot) {
        return nomem(c);
    }
    const uint8_t *base = map->data + 4 + (size_t)count * 4, *names = base;
    size_t left = map->size - 4 - (size_t)count * 4;
    if (left > UINT32_MAX) {
        return NM_OK; /* names are kept as 32-bit offsets */
    }
    size_t cur = 0; /* the member of the previous entry: ar writes them in file order */
    for (uint32_t k = 0; k < count; k++) {
        const uint8_t *nul = memchr(names, 0, left);
        if (!nul) {
            return NM_OK;
        }
        size_t len = (size_t)(nul - names);
        idx[k].name = (uint32_t)(names - base);
        idx[k].len = (uint32_t)len;
        idx[k].hash = idx_hash((const char *)names, len);
        left -= len + 1;
        names = nul + 1;
        uint32_t off = be32(map->data + 4 + (size_t)k * 4);
        if (cur >= nm || m[cur] != off) {
            if (cur + 1 < nm && m[cur + 1] == off) {
                cur++;
            } else { /* members are in file order: binary search by header offset */
                size_t lo = 0, hi = nm;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (m[mid] < off) {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                if (lo == nm || m[lo] != off) {
                    return NM_OK;
                }
                cur = lo;
            }
        }
        idx[k].member = (uint32_t)cur;
        uint32_t i = idx[k].hash & (cap - 1);
        while (slot[i]) {
            i = (i + 1) & (cap - 1);
        }
        slot[i] = k + 1;
    }
    ar->idx = idx;
    ar->idx_names = (const char *)base;
    ar->idx_slot = slot;
    ar->slot_mask = cap - 1;
    ar->nidx = count;
    return NM_OK;
}

static int load_inputs(ctx_t *c) {
    const nml_options_t *opt = c->opt;
    c->archives = nml_alloc_array(&c->a, opt->n_inputs ? opt->n_inputs : 1, sizeof(archive_t));
    if (!c->archives) {
        return nomem(c);
    }
    for (size_t i = 0; i < opt->n_inputs; i++) {
        const nml_input_t *in = &opt->inputs[i];
        const char *path = in->path ? in->path : "<memory>";
        const uint8_t *d = in->data;
        size_t n = in->size;
        if (!d) {
            if (!in->path) {
                return nml_fail(&c->err, NM_ERR_INVAL, "input %zu has neither a path nor data", i);
            }
            int err = read_file(c, path, &d, &n);
            if (err) {
                return err;
            }
        }
        if (nml_is_archive(d, n) || (n >= 8 && memcmp(d, "!<thin>\n", 8) == 0)) {
            archive_t *ar = &c->archives[c->n_archives++];
            ar->path = path;
            int err = nml_ar_parse(&ar->f, path, d, n, &c->a, &c->err);
            if (err) {
                return err;
            }
            ar->n = ar->f.n;
            /* objects are made when a member is first looked at: libgcc.a
             * has two thousand members, a link pulls a few */
            ar->obj = nml_alloc_array(&c->a, ar->n ? ar->n : 1, sizeof(*ar->obj));
            ar->cand = nml_alloc(&c->a, ar->n ? ar->n : 1);
            if (!ar->obj || !ar->cand) {
                return nomem(c);
            }
            if ((err = decode_armap(c, ar))) {
                return err;
            }
            ar->full = !ar->idx;
            ar->cand_lo = ar->n;
            for (size_t k = 0; k < ar->n && !ar->idx; k++) {
                nml_obj_t *o;
                if ((err = member_obj(c, ar, k, &c->err, &o))) {
                    return err;
                }
            }
        } else {
            nml_obj_t *o = nml_alloc(&c->a, sizeof(*o));
            if (!o) {
                return nomem(c);
            }
            o->name = path;
            o->data = d;
            o->size = n;
            if (n < 4 || memcmp(d, "\x7f" "ELF", 4) != 0) {
                return nml_fail(&c->err, NM_ERR_ELF, "%s: not an ELF object or ar archive", path);
            }
            int err = nml_elf_parse(o, &c->a, &c->err);
            o->parsed = !err;
            if (!err) {
                err = include_obj(c, o);
            }
            if (err) {
                return err;
            }
        }
    }
    if (!c->first) {
        return nml_fail(&c->err, NM_ERR_INVAL, "%s: no object files given, only archives (archives alone link nothing)",
                        opt->n_inputs && opt->inputs[0].path ? opt->inputs[0].path : "<input>");
    }
    return NM_OK;
}

static const char *default_name(ctx_t *c) {
    const char *p = c->first->name;
    const char *slash = strrchr(p, '/');
    if (slash) {
        p = slash + 1;
    }
    char *n = nml_strdup(c->ra, p);
    if (n) {
        char *dot = strrchr(n, '.');
        if (dot && dot != n) {
            *dot = 0;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- entry */

struct nml_priv {
    nml_arena_t arena;
};

static const nml_arch_t *pick_arch(unsigned arch) {
    if (arch == NM_ARCH_X64) {
        return &nml_arch_x86_64;
    }
    if (nm_arch_is_thumb(arch)) {
        return &nml_arch_thumb;
    }
    if (arch == NM_ARCH_RV32IMC) {
        return &nml_arch_rv32;
    }
    if (arch == NM_ARCH_RV64IMC) {
        return &nml_arch_rv64;
    }
    if (arch == NM_ARCH_XTENSA) {
        return &nml_arch_xtensa;
    }
    if (arch == NM_ARCH_XTENSAWIN) {
        return &nml_arch_xtensawin;
    }
    return NULL;
}

/* The linked module as the back-ends see it. */
static int fill_module(ctx_t *c, nml_result_t *res) {
    const nml_options_t *opt = c->opt;
    nm_wmodule_t *m = &res->mod;
    m->arch = opt->arch;
    m->float_abi = opt->float_abi;
    m->flags = c->arch->rw_pcrel ? NM_FLAG_RW_PCREL : 0;
    m->name = opt->name ? nml_strdup(c->ra, opt->name) : default_name(c);
    m->text = c->text;
    m->text_size = (uint32_t)c->text_size;
    m->data = c->data;
    m->data_size = (uint32_t)c->data_size;
    m->bss_size = (uint32_t)c->bss_size;
    m->rw_offset = (uint32_t)c->rw_offset;
    m->got_offset = (uint32_t)c->got_off;
    m->got_count = (uint16_t)c->ngot;
    m->text_align_log2 = (uint8_t)c->text_align;
    m->rw_align_log2 = (uint8_t)c->rw_align;
    nm_reloc_t *rl = nml_alloc_array(c->ra, c->nrelocs ? c->nrelocs : 1, sizeof(*rl));
    const char **imp = nml_alloc_array(c->ra, c->nimports ? c->nimports : 1, sizeof(*imp));
    if (!rl || !imp || !m->name) {
        return nomem(c);
    }
    if (c->nrelocs) {
        memcpy(rl, c->relocs, c->nrelocs * sizeof(*rl));
    }
    for (size_t i = 0; i < c->nimports; i++) {
        if (!(imp[i] = nml_strdup(c->ra, c->imports[i]->name))) {
            return nomem(c);
        }
    }
    m->relocs = rl;
    m->n_relocs = (uint32_t)c->nrelocs;
    m->imports = imp;
    m->n_imports = (uint16_t)c->nimports;
    /* The types the symbol list gives, if any: the writer adds the import
     * type table only when one import has one. */
    m->import_types = NULL;
    if (c->have_fw && c->nimports) {
        nm_wimport_type_t *ty = nml_alloc_array(c->ra, c->nimports, sizeof(*ty));
        if (!ty) {
            return nomem(c);
        }
        for (size_t i = 0; i < c->nimports; i++) {
            const nml_gsym_t *f = table_find(&c->fw, c->imports[i]->name);
            ty[i].type_hash = f ? f->type_hash : 0;
            ty[i].proto = f && f->proto ? nml_strdup(c->ra, f->proto) : NULL;
            if (f && f->proto && !ty[i].proto) {
                return nomem(c);
            }
        }
        m->import_types = ty;
    }
    return NM_OK;
}

/* Executing in place, the whole slice stays mapped at its flash address and
 * the loader reads its tail (data image, relocations, tables, strings) from
 * there, so that tail must end before the RW base: 64 + rw_offset >=
 * image_size. The image size does not depend on rw_offset (relocation
 * sites count RW from text_size), so write the slice once to learn it and,
 * if RW must move, relocate again. A slice the writer refuses is left for
 * the back-end to report. */
static int fit_slice_below_rw(ctx_t *c, nml_result_t *res) {
    uint8_t *img = NULL;
    size_t len = 0;
    nm_detail_t d;
    if (nm_write_image(&res->mod, &img, &len, &d) != NM_OK) {
        return NM_OK;
    }
    free(img);
    uint64_t lo = len - NM_HEADER_SIZE > c->text_size ? len - NM_HEADER_SIZE : c->text_size;
    uint64_t r = page_congruent(lo, c->rw_align);
    if (!r || r <= c->rw_offset) {
        return NM_OK;
    }
    if (r + c->data_size + c->bss_size > SIZE_LIMIT) {
        return nml_fail(&c->err, NM_ERR_UNSUPPORTED, "module too large");
    }
    c->rw_offset = r;
    c->nrelocs = 0;
    int err = relocate(c);
    return err ? err : fill_module(c, res);
}

/* The entry point must be a function defined by one of the objects (or a
 * member pulled for it) in an executable section. */
static int find_entry(ctx_t *c) {
    const char *name = c->opt->entry;
    nml_gsym_t *g = table_get(c, &c->globals, name);
    if (!g) {
        return nomem(c);
    }
    g->demanded = 1;
    int err = pull_members(c);
    if (err) {
        return err;
    }
    if (!g->obj) {
        return nml_fail(&c->err, NM_ERR_NOSYM, "no object defines the entry point '%s' (the module's init function)",
                        name);
    }
    nml_sym_t *y = &g->obj->syms[g->sym];
    if (g->common || y->shndx == NML_SHN_UNDEF || y->shndx >= g->obj->nsecs ||
        !(g->obj->secs[y->shndx].flags & NML_SHF_EXEC) || g->obj->secs[y->shndx].drop) {
        return nml_fail(&c->err, NM_ERR_NOSYM, "%s: entry point '%s' is not a function in an executable section",
                        g->obj->name, name);
    }
    c->entry = g;
    return NM_OK;
}

static int link_all(ctx_t *c, nml_result_t *res) {
    const nml_options_t *opt = c->opt;
    int err;
    if (opt->syms_path && (err = load_fw_syms(c, opt->syms_path))) {
        return err;
    }
    if ((err = load_inputs(c))) {
        return err;
    }
    for (size_t i = 0; i < opt->n_extra_exports; i++) {
        nml_gsym_t *g = table_get(c, &c->globals, opt->extra_exports[i]);
        if (!g) {
            return nomem(c);
        }
        g->demanded = 1;
    }
    if (opt->entry && (err = find_entry(c))) {
        return err;
    }
    if ((err = pull_members(c)) || (err = gc_sections(c)) || (err = scan_relocs(c)) || (err = layout(c)) ||
        (err = relocate(c)) || (err = exports(c, res)) || (err = fill_module(c, res))) {
        return err;
    }
    if (c->arch->rw_pcrel && !opt->packed && (err = fit_slice_below_rw(c, res))) {
        return err;
    }
    res->bss_lo = (uint32_t)(c->data_size & ~((1ull << c->rw_align) - 1));
    res->bss_relative = c->bss_relative;
    res->entry_jump = (uint8_t)c->entry_jump;
    if (opt->verbose) {
        const nm_wmodule_t *m = &res->mod;
        fprintf(stderr, "natmod link: text %u, data %u (GOT %u entries at %u), bss %u, rw_offset %u, %u relocs, %u imports, %u exports\n",
                m->text_size, m->data_size, m->got_count, m->got_offset, m->bss_size, m->rw_offset, m->n_relocs,
                m->n_imports, m->n_exports);
    }
    return NM_OK;
}

int nml_link(const nml_options_t *opt, nml_result_t *res, char *detail, size_t detail_len) {
    ctx_t c;
    memset(&c, 0, sizeof c);
    if (detail && detail_len) {
        detail[0] = 0;
    }
    c.err.buf = detail;
    c.err.len = detail_len;
    if (!opt || !res) {
        return nml_fail(&c.err, NM_ERR_INVAL, "nml_link: NULL argument");
    }
    memset(res, 0, sizeof(*res));
    c.opt = opt;
    c.arch = pick_arch(opt->arch);
    if (!c.arch) {
        return nml_fail(&c.err, NM_ERR_UNSUPPORTED, "linking for %s is not supported", nm_arch_name(opt->arch));
    }
    if (opt->arch == NM_ARCH_RV64IMC && !opt->packed) {
        return nml_fail(&c.err, NM_ERR_UNSUPPORTED,
                        "rv64imc is linked for .mpy only (natmod mpy link/build): .nmod instruction relocations "
                        "(INSN) are defined for rv32imc");
    }
    if (opt->n_inputs && !opt->inputs) {
        return nml_fail(&c.err, NM_ERR_INVAL, "nml_link: inputs is NULL");
    }
    struct nml_priv *priv = calloc(1, sizeof(*priv));
    if (!priv) {
        return nml_fail(&c.err, NM_ERR_NOMEM, "out of memory");
    }
    c.ra = &priv->arena;
    int err = link_all(&c, res);
    for (mapping_t *m = c.maps; m; m = m->next) {
        munmap(m->addr, m->len);
    }
    nml_arena_free(&c.a);
    if (err) {
        nml_arena_free(&priv->arena);
        free(priv);
        memset(res, 0, sizeof(*res));
        return err;
    }
    res->priv = priv;
    return NM_OK;
}

void nml_result_free(nml_result_t *res) {
    if (res && res->priv) {
        struct nml_priv *p = res->priv;
        nml_arena_free(&p->arena);
        free(p);
        memset(res, 0, sizeof(*res));
    }
}
