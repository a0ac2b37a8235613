/*
 * The .nmod writer (host only). It refuses anything the reader would refuse,
 * so a module that leaves the linker always loads structurally; the reader
 * still re-checks everything because files travel.
 *
 * Output is deterministic: same input, same bytes (strings are interned in
 * first-use order: module name, imports, exports).
 */
#include <stdlib.h>
#include <string.h>

#include "format/format_internal.h"
#include "format/writer.h"

static int fail(nm_detail_t *d, int err, const char *msg) {
    nm_detail_set(d, msg);
    return err;
}

/* ---- string interning: open addressing keyed by nm_hash ---- */

enum { STR_IMPORT = 1, STR_EXPORT = 2 };

typedef struct strent {
    const char *s; /* NULL: empty slot */
    uint32_t off;
    uint8_t uses;  /* STR_* bits, to catch duplicate import/export names */
} strent_t;

typedef struct strtab {
    strent_t *slots;
    size_t mask;
    char *buf;
    size_t len, cap;
} strtab_t;

/* Returns the string's offset; *uses gets the slot's use bits (before this call's). */
static uint32_t intern(strtab_t *t, const char *s, uint8_t use, uint8_t *prev_uses) {
    size_t i = nm_hash(s) & t->mask;
    while (t->slots[i].s && strcmp(t->slots[i].s, s) != 0) {
        i = (i + 1) & t->mask;
    }
    strent_t *e = &t->slots[i];
    if (!e->s) {
        size_t n = strlen(s) + 1;
        e->s = s;
        e->off = (uint32_t)t->len;
        memcpy(t->buf + t->len, s, n); /* cap was sized from every string's length */
        t->len += n;
    }
    *prev_uses = e->uses;
    e->uses |= use;
    return e->off;
}

/* ---- relocations ---- */

static int cmp_reloc(const void *a, const void *b) {
    const nm_reloc_t *x = a, *y = b;
    return x->site < y->site ? -1 : x->site > y->site;
}

static size_t put_uleb(uint8_t *p, uint32_t v) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        p[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static void reloc_detail(nm_detail_t *d, const nm_reloc_t *r, const char *what) {
    nm_detail_set(d, "relocation at site ");
    nm_detail_hex(d, r->site);
    nm_detail_cat(d, ": ");
    nm_detail_cat(d, what);
}

/* 1 if rel[0..n) (sorted by site) holds the form-3 INSN entry a form-4/5
 * entry r pairs with: at r's hi_site, with r's target and addend. */
static int has_hi_partner(const nm_reloc_t *rel, uint32_t n, const nm_reloc_t *r) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rel[mid].site < r->hi_site) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && rel[lo].site == r->hi_site && rel[lo].kind == NM_RELOC_INSN &&
           rel[lo].form == NM_INSN_RV_PCREL_HI20 && rel[lo].target == r->target &&
           rel[lo].addend == r->addend;
}

/* INSN entries (docs/format.md 4.1); rel[0..n) is the sorted set r is in. */
static int check_insn(const nm_wmodule_t *m, const nm_reloc_t *r, const nm_reloc_t *rel, uint32_t n,
                      nm_detail_t *d) {
    const char *why = NULL;
    if (m->arch != NM_ARCH_RV32IMC) {
        why = "INSN in a module that is not rv32imc";
    } else if (r->form >= NM_INSN_FORM_COUNT) {
        why = "unknown INSN form";
    } else if (r->target > NM_TARGET_RW) {
        why = "INSN targets an import (only TEXT or RW; imports go through the GOT)";
    } else if ((uint64_t)r->site + 4 > m->text_size) {
        why = "INSN site is not an instruction inside text";
    } else if (r->site & 1u) {
        why = "INSN at an odd site";
    } else if (!nmf_insn_opcode_ok(r->form, m->text[r->site])) {
        why = "INSN form does not match the instruction's opcode";
    } else if (nmf_insn_has_hi(r->form) ? !has_hi_partner(rel, n, r) : r->hi_site != 0) {
        why = nmf_insn_has_hi(r->form)
                  ? "hi_site is not an RV_PCREL_HI20 entry with the same target and addend"
                  : "hi_site set on a form that has none";
    }
    if (why) {
        reloc_detail(d, r, why);
        nm_detail_cat(d, " (form ");
        nm_detail_cat(d, nmf_insn_form_name(r->form));
        nm_detail_cat(d, ")");
        return NM_ERR_RELOC;
    }
    return NM_OK;
}

static int check_reloc(const nm_wmodule_t *m, const nm_reloc_t *r, const nm_reloc_t *rel, uint32_t n,
                       nm_detail_t *d) {
    uint32_t width = r->kind == NM_RELOC_PTR64 ? 8 : 4;
    if (r->kind >= NM_RELOC_KIND_COUNT) {
        reloc_detail(d, r, "unknown kind");
        return NM_ERR_RELOC;
    }
    if (r->kind == NM_RELOC_PTR64 && nm_arch_ptr_size(m->arch) != 8) {
        reloc_detail(d, r, "PTR64 in a module for a 4-byte-pointer arch");
        return NM_ERR_RELOC;
    }
    if (r->target >= (uint32_t)NM_TARGET_IMPORT0 + m->n_imports || r->target > 0x3FFFFFFFu) {
        reloc_detail(d, r, "target beyond the imports");
        return NM_ERR_RELOC;
    }
    if (r->kind == NM_RELOC_INSN) {
        return check_insn(m, r, rel, n, d);
    }
    if (r->form || r->addend || r->hi_site) {
        /* The stream has no room for them: refuse rather than drop them. */
        reloc_detail(d, r, "form, addend or hi_site set on a PTR relocation (INSN only)");
        return NM_ERR_RELOC;
    }
    if (r->site < m->text_size) {
        if ((uint64_t)r->site + width > m->text_size) {
            reloc_detail(d, r, "word crosses end of text");
            return NM_ERR_RELOC;
        }
    } else if ((uint64_t)r->site - m->text_size + width > m->data_size) {
        reloc_detail(d, r, "word is not inside the data image (bss or beyond)");
        return NM_ERR_RELOC;
    }
    return NM_OK;
}

/* ---- module checks (mirror the reader's) ---- */

static int check_module(const nm_wmodule_t *m, nm_detail_t *d) {
    unsigned ptr = nm_arch_ptr_size(m->arch);
    if (!m->name || !m->name[0]) {
        return fail(d, NM_ERR_INVAL, "module name is empty");
    }
    if (ptr == 0) {
        nm_detail_set(d, "unknown arch id ");
        nm_detail_dec(d, m->arch);
        return NM_ERR_ARCH;
    }
    if (m->float_abi > NM_FLOAT_HARD) {
        return fail(d, NM_ERR_FLOAT_ABI, "unknown float ABI id");
    }
    if (m->flags & ~(uint32_t)(NM_FLAG_RW_PCREL | NM_FLAG_XIP_LINKED)) {
        return fail(d, NM_ERR_INVAL, "unknown flag bits (a trailer is added by nm_slice_set_trailer)");
    }
    if (m->text_align_log2 > NM_MAX_ALIGN_LOG2 || m->rw_align_log2 > NM_MAX_ALIGN_LOG2) {
        return fail(d, NM_ERR_INVAL, "alignment above 2^16");
    }
    if ((m->text_size && !m->text) || (m->data_size && !m->data) || (m->n_relocs && !m->relocs) ||
        (m->n_imports && !m->imports) || (m->n_exports && !m->exports)) {
        return fail(d, NM_ERR_INVAL, "a non-empty section has a NULL pointer");
    }
    if (m->rw_offset < m->text_size) {
        return fail(d, NM_ERR_INVAL, "rw_offset lies inside text");
    }
    if ((uint64_t)m->rw_offset + m->data_size + m->bss_size > 0xFFFFFFFFu) {
        return fail(d, NM_ERR_INVAL, "rw_offset + data_size + bss_size overflows 32 bits");
    }
    if ((m->flags & NM_FLAG_RW_PCREL) && (m->rw_offset & ((1u << m->rw_align_log2) - 1u))) {
        return fail(d, NM_ERR_INVAL, "RW_PCREL: rw_offset is not a multiple of the RW alignment");
    }
    if ((uint64_t)m->got_offset + (uint64_t)m->got_count * ptr > m->data_size) {
        return fail(d, NM_ERR_INVAL, "GOT does not fit in the data image");
    }
    for (uint32_t i = 0; i < m->n_imports; i++) {
        if (!m->imports[i] || !m->imports[i][0]) {
            nm_detail_set(d, "import ");
            nm_detail_dec(d, i);
            nm_detail_cat(d, " has no name");
            return NM_ERR_INVAL;
        }
        const nm_wimport_type_t *t = m->import_types ? &m->import_types[i] : NULL;
        if (t && t->proto && (!t->proto[0] || (t->type_hash && t->type_hash != nm_hash(t->proto)))) {
            nm_detail_set(d, "import '");
            nm_detail_cat(d, m->imports[i]);
            nm_detail_cat(d, t->proto[0] ? "': type hash is not nm_hash of its prototype"
                                         : "': empty prototype");
            return NM_ERR_INVAL;
        }
    }
    uint64_t rw_size = (uint64_t)m->data_size + m->bss_size;
    for (uint32_t i = 0; i < m->n_exports; i++) {
        const nm_wexport_t *e = &m->exports[i];
        nm_detail_set(d, "export ");
        nm_detail_dec(d, i);
        nm_detail_cat(d, " '");
        nm_detail_cat(d, e->name ? e->name : "");
        nm_detail_cat(d, "': ");
        if (!e->name || !e->name[0]) {
            nm_detail_cat(d, "no name");
            return NM_ERR_INVAL;
        }
        if (e->kind != NM_EXPORT_FUNC && e->kind != NM_EXPORT_DATA) {
            nm_detail_cat(d, "unknown kind");
            return NM_ERR_INVAL;
        }
        if (e->region == NM_REGION_TEXT ? e->value >= m->text_size
            : e->region == NM_REGION_RW ? e->value >= rw_size
                                         : 1) {
            nm_detail_cat(d, "value outside its region (or unknown region)");
            return NM_ERR_INVAL;
        }
    }
    const uint16_t idx[2] = {m->init_idx, m->deinit_idx};
    for (int k = 0; k < 2; k++) {
        if (idx[k] == NM_NO_INDEX) {
            continue;
        }
        if (idx[k] >= m->n_exports || m->exports[idx[k]].kind != NM_EXPORT_FUNC ||
            m->exports[idx[k]].region != NM_REGION_TEXT) {
            return fail(d, NM_ERR_INVAL, k ? "deinit_idx is not a function export in text"
                                           : "init_idx is not a function export in text");
        }
    }
    if (m->n_relocs > 0xFFFFFFFFu / (NMF_ENTRY_ULEBS * NMF_ULEB_MAX)) {
        return fail(d, NM_ERR_INVAL, "too many relocations");
    }
    nm_detail_set(d, "");
    return NM_OK;
}

int nm_write_image(const nm_wmodule_t *m, uint8_t **out, size_t *out_len, nm_detail_t *d) {
    if (!m || !out || !out_len) {
        return fail(d, NM_ERR_INVAL, "nm_write_image: NULL argument");
    }
    *out = NULL;
    *out_len = 0;
    int rc = check_module(m, d);
    if (rc != NM_OK) {
        return rc;
    }

    nm_reloc_t *rel = NULL;
    uint8_t *stream = NULL, *img = NULL;
    strtab_t st = {0};

    /* Relocations: sort, check, encode. */
    rel = malloc((m->n_relocs ? m->n_relocs : 1) * sizeof *rel);
    stream = malloc((size_t)m->n_relocs * NMF_ENTRY_ULEBS * NMF_ULEB_MAX + 1);
    if (!rel || !stream) {
        rc = fail(d, NM_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (m->n_relocs) {
        memcpy(rel, m->relocs, (size_t)m->n_relocs * sizeof *rel);
    }
    qsort(rel, m->n_relocs, sizeof *rel, cmp_reloc);
    size_t reloc_size = 0;
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        if ((rc = check_reloc(m, &rel[i], rel, m->n_relocs, d)) != NM_OK) {
            goto out;
        }
        if (i && rel[i].site == rel[i - 1].site) {
            reloc_detail(d, &rel[i], "two relocations at the same site");
            rc = NM_ERR_RELOC;
            goto out;
        }
        if (i && rel[i].site - rel[i - 1].site < (rel[i - 1].kind == NM_RELOC_PTR64 ? 8u : 4u)) {
            reloc_detail(d, &rel[i], "its word overlaps the previous relocation's");
            rc = NM_ERR_RELOC;
            goto out;
        }
        reloc_size += put_uleb(stream + reloc_size, rel[i].site - (i ? rel[i - 1].site : 0));
        reloc_size += put_uleb(stream + reloc_size, (rel[i].target << 2) | rel[i].kind);
        if (rel[i].kind == NM_RELOC_INSN) {
            reloc_size += put_uleb(stream + reloc_size, rel[i].form);
            reloc_size += put_uleb(stream + reloc_size, rel[i].addend);
            if (nmf_insn_has_hi(rel[i].form)) {
                reloc_size += put_uleb(stream + reloc_size, rel[i].hi_site);
            }
        }
    }

    /* The import type table, only if some import has a type. */
    int types = 0;
    for (uint32_t i = 0; m->import_types && i < m->n_imports; i++) {
        types |= m->import_types[i].type_hash != 0 || m->import_types[i].proto != NULL;
    }

    /* Strings: module name first, so it lands at offset 0; prototypes last,
     * so a module without types interns exactly as before. */
    size_t nstr = 1 + (size_t)m->n_imports * (types ? 2 : 1) + m->n_exports, slots = 4;
    size_t chars = strlen(m->name) + 1;
    while (slots < 2 * nstr) {
        slots *= 2;
    }
    for (uint32_t i = 0; i < m->n_imports; i++) {
        chars += strlen(m->imports[i]) + 1;
    }
    for (uint32_t i = 0; i < m->n_exports; i++) {
        chars += strlen(m->exports[i].name) + 1;
    }
    for (uint32_t i = 0; types && i < m->n_imports; i++) {
        chars += m->import_types[i].proto ? strlen(m->import_types[i].proto) + 1 : 0;
    }
    st.slots = calloc(slots, sizeof *st.slots);
    st.buf = malloc(chars);
    st.mask = slots - 1;
    st.cap = chars;
    if (!st.slots || !st.buf) {
        rc = fail(d, NM_ERR_NOMEM, "out of memory");
        goto out;
    }
    uint8_t uses;
    intern(&st, m->name, 0, &uses);

    uint64_t total = (uint64_t)NM_HEADER_SIZE + m->text_size + m->data_size + reloc_size +
                     (uint64_t)m->n_imports * NM_IMPORT_SIZE + (uint64_t)m->n_exports * NM_EXPORT_SIZE +
                     chars + (types ? (uint64_t)m->n_imports * NM_IMPORT_TYPE_SIZE : 0);
    if (total > 0xFFFFFFFFu) {
        rc = fail(d, NM_ERR_INVAL, "module larger than 4 GB");
        goto out;
    }
    img = calloc(1, (size_t)total); /* upper bound: strings may shrink by interning */
    if (!img) {
        rc = fail(d, NM_ERR_NOMEM, "out of memory");
        goto out;
    }
    uint8_t *p = img + NM_HEADER_SIZE;
    if (m->text_size) {
        memcpy(p, m->text, m->text_size);
    }
    p += m->text_size;
    if (m->data_size) {
        memcpy(p, m->data, m->data_size);
    }
    p += m->data_size;
    memcpy(p, stream, reloc_size);
    p += reloc_size;
    for (uint32_t i = 0; i < m->n_imports; i++, p += NM_IMPORT_SIZE) {
        uint32_t off = intern(&st, m->imports[i], STR_IMPORT, &uses);
        if (uses & STR_IMPORT) {
            nm_detail_set(d, "import '");
            nm_detail_cat(d, m->imports[i]);
            nm_detail_cat(d, "' is listed twice");
            rc = NM_ERR_DUP;
            goto out;
        }
        nmf_wr32(p, nm_hash(m->imports[i]));
        nmf_wr32(p + 4, off);
    }
    for (uint32_t i = 0; i < m->n_exports; i++, p += NM_EXPORT_SIZE) {
        const nm_wexport_t *e = &m->exports[i];
        uint32_t off = intern(&st, e->name, STR_EXPORT, &uses);
        if (uses & STR_EXPORT) {
            nm_detail_set(d, "export '");
            nm_detail_cat(d, e->name);
            nm_detail_cat(d, "' is defined twice");
            rc = NM_ERR_DUP;
            goto out;
        }
        nmf_wr32(p, off);
        nmf_wr32(p + 4, e->value);
        p[8] = e->region;
        p[9] = e->kind;
        nmf_wr16(p + 10, 0);
    }
    uint32_t *proto_off = NULL;
    if (types) {
        /* Interned after every name, then written after the string table. */
        proto_off = malloc((size_t)m->n_imports * sizeof *proto_off);
        if (!proto_off) {
            rc = fail(d, NM_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (uint32_t i = 0; i < m->n_imports; i++) {
            const char *proto = m->import_types[i].proto;
            proto_off[i] = proto ? intern(&st, proto, 0, &uses) : NM_NO_PROTO;
        }
    }
    memcpy(p, st.buf, st.len);
    p += st.len;
    for (uint32_t i = 0; types && i < m->n_imports; i++, p += NM_IMPORT_TYPE_SIZE) {
        nmf_wr32(p, m->import_types[i].type_hash);
        nmf_wr32(p + 4, proto_off[i]);
    }
    free(proto_off);
    size_t size = (size_t)(p - img);

    uint8_t *h = img;
    memcpy(h, NM_MAGIC, 4);
    nmf_wr16(h + NMF_OFF_VERSION, NM_FORMAT_VERSION);
    h[NMF_OFF_ARCH] = m->arch;
    h[NMF_OFF_FLOAT] = m->float_abi;
    nmf_wr32(h + NMF_OFF_FLAGS, m->flags | (types ? NM_FLAG_IMPORT_TYPES : 0));
    nmf_wr32(h + NMF_OFF_IMAGE_SIZE, (uint32_t)size);
    nmf_wr32(h + NMF_OFF_TEXT_SIZE, m->text_size);
    nmf_wr32(h + NMF_OFF_DATA_SIZE, m->data_size);
    nmf_wr32(h + NMF_OFF_BSS_SIZE, m->bss_size);
    nmf_wr32(h + NMF_OFF_RW_OFFSET, m->rw_offset);
    nmf_wr32(h + NMF_OFF_GOT_OFFSET, m->got_offset);
    nmf_wr16(h + NMF_OFF_GOT_COUNT, m->got_count);
    nmf_wr16(h + NMF_OFF_N_IMPORTS, m->n_imports);
    nmf_wr16(h + NMF_OFF_N_EXPORTS, m->n_exports);
    nmf_wr16(h + NMF_OFF_INIT_IDX, m->init_idx);
    nmf_wr16(h + NMF_OFF_DEINIT_IDX, m->deinit_idx);
    h[NMF_OFF_TEXT_ALIGN] = m->text_align_log2;
    h[NMF_OFF_RW_ALIGN] = m->rw_align_log2;
    nmf_wr32(h + NMF_OFF_N_RELOCS, m->n_relocs);
    nmf_wr32(h + NMF_OFF_RELOC_SIZE, (uint32_t)reloc_size);
    nmf_wr32(h + NMF_OFF_STRTAB_SIZE, (uint32_t)st.len);
    nmf_wr32(h + NMF_OFF_CRC, nm_image_crc(h, (uint32_t)size));

    *out = img;
    *out_len = size;
    img = NULL;
    rc = NM_OK;
    nm_detail_set(d, "");
out:
    free(rel);
    free(stream);
    free(st.slots);
    free(st.buf);
    free(img);
    return rc;
}

int nm_slice_set_trailer(const uint8_t *slice, size_t len, uint32_t version, const uint8_t *key_id,
                         uint8_t **out, size_t *out_len, nm_detail_t *d) {
    nm_image_t img;
    int rc = nm_image_parse(slice, len, &img, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (img.flags & NM_FLAG_XIP_LINKED) {
        return fail(d, NM_ERR_INVAL, "slice is XIP-linked: only a slice as built can carry a new trailer");
    }
    /* the body without any old trailer: the trailer is the last thing in an unlinked slice */
    size_t body = img.image_size - ((img.flags & NM_FLAG_TRAILER) ? NM_TRAILER_SIZE : 0);
    int keep = version != 0 || key_id != NULL;
    size_t size = body + (keep ? NM_TRAILER_SIZE : 0);
    uint8_t *o = calloc(1, size);
    if (!o) {
        return fail(d, NM_ERR_NOMEM, "out of memory");
    }
    memcpy(o, slice, body);
    uint32_t flags = img.flags & ~(uint32_t)NM_FLAG_TRAILER;
    if (keep) {
        uint8_t *t = o + body;
        flags |= NM_FLAG_TRAILER;
        nmf_wr32(t, version);
        nmf_wr32(t + 4, key_id ? NM_SIG_SIGNED : 0);
        if (key_id) {
            memcpy(t + 8, key_id, NM_KEY_ID_SIZE);
        }
    }
    nmf_wr32(o + NMF_OFF_FLAGS, flags);
    nmf_wr32(o + NMF_OFF_IMAGE_SIZE, (uint32_t)size);
    nmf_wr32(o + NMF_OFF_CRC, nm_image_crc(o, (uint32_t)size));
    *out = o;
    *out_len = size;
    nm_detail_set(d, "");
    return NM_OK;
}

int nm_slice_put_signature(uint8_t *slice, size_t len, const uint8_t sig[NM_SIG_SIZE], nm_detail_t *d) {
    nm_image_t img;
    int rc = nm_image_parse(slice, len, &img, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (!img.is_signed || (img.flags & NM_FLAG_XIP_LINKED)) {
        return fail(d, NM_ERR_INVAL, "slice has no signed trailer to fill");
    }
    memcpy(slice + (img.signature - img.base), sig, NM_SIG_SIZE);
    nmf_wr32(slice + NMF_OFF_CRC, nm_image_crc(slice, img.image_size));
    return NM_OK;
}

int nm_write_universal(const uint8_t *const *slices, const size_t *lens, unsigned n, uint8_t **out,
                       size_t *out_len, nm_detail_t *d) {
    if (!out || !out_len || (n && (!slices || !lens))) {
        return fail(d, NM_ERR_INVAL, "nm_write_universal: NULL argument");
    }
    *out = NULL;
    *out_len = 0;
    if (n == 0 || n > NM_UNIVERSAL_MAX_SLICES) {
        return fail(d, NM_ERR_INVAL, "a universal container holds 1..16 slices");
    }
    nm_image_t img[NM_UNIVERSAL_MAX_SLICES];
    uint64_t total = NM_UNIVERSAL_HEADER_SIZE + (uint64_t)n * NM_UNIVERSAL_ENTRY_SIZE;
    uint32_t offs[NM_UNIVERSAL_MAX_SLICES];
    for (unsigned i = 0; i < n; i++) {
        nm_detail_t sub;
        int rc = nm_image_parse(slices[i], lens[i], &img[i], &sub);
        if (rc != NM_OK) {
            nm_detail_set(d, "slice ");
            nm_detail_dec(d, i);
            nm_detail_cat(d, ": ");
            nm_detail_cat(d, sub.msg);
            return rc;
        }
        for (unsigned j = 0; j < i; j++) {
            if (img[j].arch == img[i].arch && img[j].float_abi == img[i].float_abi) {
                nm_detail_set(d, "slices ");
                nm_detail_dec(d, j);
                nm_detail_cat(d, " and ");
                nm_detail_dec(d, i);
                nm_detail_cat(d, " are both ");
                nmf_detail_target(d, img[i].arch, img[i].float_abi);
                return NM_ERR_DUP;
            }
        }
        total = (total + 15) & ~(uint64_t)15;
        offs[i] = (uint32_t)total;
        total += img[i].image_size;
        if (total > 0xFFFFFFFFu) {
            return fail(d, NM_ERR_INVAL, "container larger than 4 GB");
        }
    }
    uint8_t *u = calloc(1, (size_t)total);
    if (!u) {
        return fail(d, NM_ERR_NOMEM, "out of memory");
    }
    memcpy(u, NM_UNIVERSAL_MAGIC, 4);
    nmf_wr16(u + NMF_UOFF_VERSION, NM_FORMAT_VERSION);
    nmf_wr16(u + NMF_UOFF_N_SLICES, (uint16_t)n);
    nmf_wr32(u + NMF_UOFF_TOTAL_SIZE, (uint32_t)total);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = u + NM_UNIVERSAL_HEADER_SIZE + (size_t)i * NM_UNIVERSAL_ENTRY_SIZE;
        e[NMF_UE_ARCH] = img[i].arch;
        e[NMF_UE_FLOAT] = img[i].float_abi;
        nmf_wr32(e + NMF_UE_OFFSET, offs[i]);
        nmf_wr32(e + NMF_UE_SIZE, img[i].image_size);
        nmf_wr32(e + NMF_UE_CRC, img[i].crc32);
        /* Only the slice proper is copied: trailing bytes after image_size are not part of it. */
        memcpy(u + offs[i], slices[i], img[i].image_size);
    }
    nmf_wr32(u + NMF_UOFF_CRC, nm_crc32(0, u + NM_UNIVERSAL_HEADER_SIZE,
                                        (size_t)n * NM_UNIVERSAL_ENTRY_SIZE));
    *out = u;
    *out_len = (size_t)total;
    nm_detail_set(d, "");
    return NM_OK;
}
