/*
 * The slice reader. It trusts nothing in the buffer: every size, count and
 * offset is checked against the bytes actually present, in 64-bit arithmetic
 * so no sum can wrap, before anything is read through it. Checks run cheapest
 * first: header structure, then the CRC (which catches random damage), then a
 * full walk of the tables and the relocation stream (which catches crafted
 * input with a correct CRC). Nothing here allocates or recurses.
 */
#include <string.h>

#include "format/format_internal.h"

static int fail(nm_detail_t *d, int err, const char *msg) {
    nm_detail_set(d, msg);
    return err;
}

/* "field 0x12 " style fragments keep the messages below one line each. */
static void cat_hex(nm_detail_t *d, const char *pre, uint32_t v) {
    nm_detail_cat(d, pre);
    nm_detail_hex(d, v);
}
static void cat_dec(nm_detail_t *d, const char *pre, uint32_t v) {
    nm_detail_cat(d, pre);
    nm_detail_dec(d, v);
}
static void set_dec(nm_detail_t *d, const char *pre, uint32_t v) {
    nm_detail_set(d, pre);
    nm_detail_dec(d, v);
}

int nm_image_parse_header(const void *buf, size_t len, nm_image_t *img, nm_detail_t *d) {
    const uint8_t *p = buf;
    if (!img || (!buf && len)) {
        return fail(d, NM_ERR_INVAL, "nm_image_parse: NULL buffer or image");
    }
    memset(img, 0, sizeof *img);
    /* Judge the magic on whatever prefix exists, so a short non-module is
     * reported as "not a module" rather than as truncated. */
    if (!nmf_magic_prefix(p, len, NM_MAGIC)) {
        return fail(d, NM_ERR_MAGIC, "not an NMOD image (magic is not \"NMOD\")");
    }
    if (len < NM_HEADER_SIZE) {
        nm_detail_set(d, "header: ");
        nm_detail_dec(d, (uint32_t)len);
        nm_detail_cat(d, " bytes present, the header needs 64");
        return NM_ERR_TRUNCATED;
    }
    uint16_t version = nmf_rd16(p + NMF_OFF_VERSION);
    if (version != NM_FORMAT_VERSION) {
        nm_detail_set(d, "header: format version ");
        nm_detail_dec(d, version);
        nm_detail_cat(d, ", this reader knows version 1");
        return NM_ERR_VERSION;
    }
    img->base = p;
    img->arch = p[NMF_OFF_ARCH];
    img->float_abi = p[NMF_OFF_FLOAT];
    img->flags = nmf_rd32(p + NMF_OFF_FLAGS);
    img->crc32 = nmf_rd32(p + NMF_OFF_CRC);
    img->image_size = nmf_rd32(p + NMF_OFF_IMAGE_SIZE);
    img->text_size = nmf_rd32(p + NMF_OFF_TEXT_SIZE);
    img->data_size = nmf_rd32(p + NMF_OFF_DATA_SIZE);
    img->bss_size = nmf_rd32(p + NMF_OFF_BSS_SIZE);
    img->rw_offset = nmf_rd32(p + NMF_OFF_RW_OFFSET);
    img->got_offset = nmf_rd32(p + NMF_OFF_GOT_OFFSET);
    img->got_count = nmf_rd16(p + NMF_OFF_GOT_COUNT);
    img->n_imports = nmf_rd16(p + NMF_OFF_N_IMPORTS);
    img->n_exports = nmf_rd16(p + NMF_OFF_N_EXPORTS);
    img->init_idx = nmf_rd16(p + NMF_OFF_INIT_IDX);
    img->deinit_idx = nmf_rd16(p + NMF_OFF_DEINIT_IDX);
    img->text_align_log2 = p[NMF_OFF_TEXT_ALIGN];
    img->rw_align_log2 = p[NMF_OFF_RW_ALIGN];
    img->n_relocs = nmf_rd32(p + NMF_OFF_N_RELOCS);
    img->reloc_size = nmf_rd32(p + NMF_OFF_RELOC_SIZE);
    img->strtab_size = nmf_rd32(p + NMF_OFF_STRTAB_SIZE);

    /* The reader does not decide whether the board can run the arch, but it
     * needs the pointer size to bound the GOT, so the id must be known. */
    unsigned ptr = nm_arch_ptr_size(img->arch);
    if (ptr == 0) {
        set_dec(d, "header: unknown arch id ", img->arch);
        return NM_ERR_ARCH;
    }
    if (img->float_abi > NM_FLOAT_HARD) {
        set_dec(d, "header: unknown float ABI id ", img->float_abi);
        return NM_ERR_FLOAT_ABI;
    }
    if (img->flags & ~(uint32_t)NM_FLAGS_KNOWN) {
        nm_detail_set(d, "header: flags ");
        nm_detail_hex(d, img->flags);
        cat_hex(d, " has unknown bits ", img->flags & ~(uint32_t)NM_FLAGS_KNOWN);
        return NM_ERR_CORRUPT;
    }
    if (img->image_size < NM_HEADER_SIZE) {
        nm_detail_set(d, "header: image_size ");
        nm_detail_hex(d, img->image_size);
        nm_detail_cat(d, " is smaller than the 64-byte header");
        return NM_ERR_CORRUPT;
    }
    if (img->image_size > len) {
        nm_detail_set(d, "header: image_size ");
        nm_detail_hex(d, img->image_size);
        cat_hex(d, " but only ", (uint32_t)(len > 0xFFFFFFFFu ? 0xFFFFFFFFu : len));
        nm_detail_cat(d, " bytes present");
        return NM_ERR_TRUNCATED;
    }
    uint64_t sum = (uint64_t)NM_HEADER_SIZE + img->text_size + img->data_size + img->reloc_size +
                   (uint64_t)img->n_imports * NM_IMPORT_SIZE +
                   (uint64_t)img->n_exports * NM_EXPORT_SIZE + img->strtab_size +
                   ((img->flags & NM_FLAG_IMPORT_TYPES) ? (uint64_t)img->n_imports * NM_IMPORT_TYPE_SIZE : 0) +
                   ((img->flags & NM_FLAG_TRAILER) ? NM_TRAILER_SIZE : 0) +
                   ((img->flags & NM_FLAG_XIP_LINKED) ? NM_XIP_RECORD_SIZE : 0);
    if (sum != img->image_size) {
        nm_detail_set(d, "header: sections add up to ");
        if (sum > 0xFFFFFFFFu) {
            nm_detail_cat(d, "more than 4 GB");
        } else {
            nm_detail_hex(d, (uint32_t)sum);
            nm_detail_cat(d, " bytes");
        }
        cat_hex(d, ", image_size is ", img->image_size);
        return NM_ERR_CORRUPT;
    }
    if (img->text_align_log2 > NM_MAX_ALIGN_LOG2 || img->rw_align_log2 > NM_MAX_ALIGN_LOG2) {
        nm_detail_set(d, img->text_align_log2 > NM_MAX_ALIGN_LOG2 ? "header: text_align_log2 "
                                                                   : "header: rw_align_log2 ");
        nm_detail_dec(d, img->text_align_log2 > NM_MAX_ALIGN_LOG2 ? img->text_align_log2
                                                                  : img->rw_align_log2);
        nm_detail_cat(d, " exceeds 16");
        return NM_ERR_CORRUPT;
    }
    if (img->rw_offset < img->text_size) {
        nm_detail_set(d, "header: rw_offset ");
        nm_detail_hex(d, img->rw_offset);
        cat_hex(d, " lies inside text (text_size ", img->text_size);
        nm_detail_cat(d, ")");
        return NM_ERR_CORRUPT;
    }
    if ((uint64_t)img->rw_offset + img->data_size + img->bss_size > 0xFFFFFFFFu) {
        return fail(d, NM_ERR_CORRUPT, "header: rw_offset + data_size + bss_size overflows 32 bits");
    }
    if ((img->flags & NM_FLAG_RW_PCREL) && (img->rw_offset & ((1u << img->rw_align_log2) - 1u))) {
        nm_detail_set(d, "header: rw_offset ");
        nm_detail_hex(d, img->rw_offset);
        cat_dec(d, " is not a multiple of the RW alignment 2^", img->rw_align_log2);
        return NM_ERR_CORRUPT;
    }
    if ((uint64_t)img->got_offset + (uint64_t)img->got_count * ptr > img->data_size) {
        nm_detail_set(d, "header: GOT (offset ");
        nm_detail_hex(d, img->got_offset);
        cat_dec(d, ", ", img->got_count);
        cat_dec(d, " entries of ", ptr);
        cat_hex(d, " bytes) exceeds data_size ", img->data_size);
        return NM_ERR_CORRUPT;
    }
    if (img->init_idx != NM_NO_INDEX && img->init_idx >= img->n_exports) {
        set_dec(d, "header: init_idx ", img->init_idx);
        cat_dec(d, " but only ", img->n_exports);
        nm_detail_cat(d, " exports");
        return NM_ERR_CORRUPT;
    }
    if (img->deinit_idx != NM_NO_INDEX && img->deinit_idx >= img->n_exports) {
        set_dec(d, "header: deinit_idx ", img->deinit_idx);
        cat_dec(d, " but only ", img->n_exports);
        nm_detail_cat(d, " exports");
        return NM_ERR_CORRUPT;
    }
    /* Each entry is at least two one-byte ULEB128 numbers. */
    if ((uint64_t)img->n_relocs * 2 > img->reloc_size) {
        set_dec(d, "header: n_relocs ", img->n_relocs);
        cat_hex(d, " cannot fit in reloc_size ", img->reloc_size);
        return NM_ERR_CORRUPT;
    }
    img->text = p + NM_HEADER_SIZE;
    img->data = img->text + img->text_size;
    img->relocs = img->data + img->data_size;
    img->imports = img->relocs + img->reloc_size;
    img->exports = img->imports + (size_t)img->n_imports * NM_IMPORT_SIZE;
    img->strtab = (const char *)(img->exports + (size_t)img->n_exports * NM_EXPORT_SIZE);
    /* A final NUL makes every in-range offset a terminated string, so name
     * references need only a range check. */
    if (img->strtab_size < 2 || img->strtab[img->strtab_size - 1] != '\0') {
        return fail(d, NM_ERR_CORRUPT,
                    "string table: empty or not NUL-terminated (the module name is at offset 0)");
    }
    if (img->strtab[0] == '\0') {
        return fail(d, NM_ERR_CORRUPT, "string table: module name (offset 0) is empty");
    }
    /* After the string table: import types, trailer, XIP record, each
     * present only with its flag. */
    const uint8_t *tail = (const uint8_t *)img->strtab + img->strtab_size;
    img->import_types = NULL;
    if (img->flags & NM_FLAG_IMPORT_TYPES) {
        img->import_types = tail;
        tail += (size_t)img->n_imports * NM_IMPORT_TYPE_SIZE;
    }
    img->version = 0;
    img->is_signed = 0;
    img->key_id = NULL;
    img->signature = NULL;
    if (img->flags & NM_FLAG_TRAILER) {
        const uint8_t *t = tail;
        uint32_t sig_flags = nmf_rd32(t + 4);
        img->version = nmf_rd32(t);
        if (sig_flags & ~(uint32_t)NM_SIG_FLAGS_KNOWN) {
            nm_detail_set(d, "trailer: sig_flags ");
            nm_detail_hex(d, sig_flags);
            nm_detail_cat(d, " has unknown bits");
            return NM_ERR_CORRUPT;
        }
        img->is_signed = (sig_flags & NM_SIG_SIGNED) != 0;
        img->key_id = t + 8;
        img->signature = t + 8 + NM_KEY_ID_SIZE;
        if (!img->is_signed) {
            for (unsigned i = 8; i < NM_TRAILER_SIZE; i++) {
                if (t[i] != 0) {
                    return fail(d, NM_ERR_CORRUPT, "trailer: unsigned, but key id or signature bytes are not zero");
                }
            }
        }
    }
    if ((img->flags & NM_FLAG_SIG_CHECKED) &&
        (!(img->flags & NM_FLAG_XIP_LINKED) || !img->is_signed)) {
        return fail(d, NM_ERR_CORRUPT, "header: flag SIG_CHECKED on a slice that is not XIP-linked and signed");
    }
    if (img->flags & NM_FLAG_XIP_LINKED) {
        const uint8_t *x = tail + ((img->flags & NM_FLAG_TRAILER) ? NM_TRAILER_SIZE : 0);
        img->xip_text_addr = nmf_rd32(x);
        img->xip_rw_addr = nmf_rd32(x + 4);
        img->xip_bind_crc = nmf_rd32(x + 8);
        img->xip_src_crc = nmf_rd32(x + 12);
        if (img->xip_text_addr & ((1u << img->text_align_log2) - 1u)) {
            return fail(d, NM_ERR_CORRUPT, "XIP record: text_addr breaks the text alignment");
        }
        if (img->xip_rw_addr & ((1u << img->rw_align_log2) - 1u)) {
            return fail(d, NM_ERR_CORRUPT, "XIP record: rw_addr breaks the RW alignment");
        }
    }
    return NM_OK;
}

/* Reads one ULEB128 of at most 5 bytes whose value fits 32 bits. */
static int read_uleb(const nm_image_t *img, uint32_t *pos, uint32_t *out) {
    uint32_t v = 0;
    for (unsigned i = 0; i < NMF_ULEB_MAX; i++) {
        if (*pos >= img->reloc_size) {
            return NM_ERR_TRUNCATED;
        }
        uint8_t b = img->relocs[(*pos)++];
        if (i == NMF_ULEB_MAX - 1 && b > 0x0F) {
            return NM_ERR_CORRUPT; /* bits above 32, or a sixth byte */
        }
        v |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return NM_OK;
        }
    }
    return NM_ERR_CORRUPT; /* unreachable: the fifth byte either ends or fails */
}

static void reloc_prefix(nm_detail_t *d, uint32_t index, int have_site, uint32_t site) {
    nm_detail_set(d, "relocation ");
    nm_detail_dec(d, index);
    if (have_site) {
        cat_hex(d, " at site ", site);
    }
    nm_detail_cat(d, ": ");
}

/* "INSN form 4 (RV_PCREL_LO12_I) " after the prefix: names what an INSN refusal is about. */
static void insn_prefix(nm_detail_t *d, uint32_t index, uint32_t site, uint32_t form) {
    reloc_prefix(d, index, 1, site);
    cat_dec(d, "INSN form ", form);
    nm_detail_cat(d, " (");
    nm_detail_cat(d, nmf_insn_form_name(form));
    nm_detail_cat(d, ") ");
}

/* The rules an INSN entry obeys on its own (docs/format.md 4.1); whether a
 * form-4/5 entry's hi_site names a matching form-3 entry needs the whole
 * stream and is checked by check_insn_pairs. */
static int check_insn(const nm_image_t *img, uint32_t index, uint32_t site, uint32_t target,
                      uint32_t form, uint32_t hi_site, nm_detail_t *d) {
    if (img->arch != NM_ARCH_RV32IMC) {
        insn_prefix(d, index, site, form);
        nm_detail_cat(d, "in a module for ");
        nm_detail_cat(d, nm_arch_name(img->arch));
        nm_detail_cat(d, " (only rv32imc has INSN)");
        return NM_ERR_RELOC;
    }
    if (form >= NM_INSN_FORM_COUNT) {
        reloc_prefix(d, index, 1, site);
        cat_dec(d, "unknown INSN form ", form);
        return NM_ERR_RELOC;
    }
    /* Find the fault first: a valid entry (every entry of a load) formats
     * no detail text. */
    const char *why = NULL, *tail = "";
    uint32_t val = 0;
    int has_val = 1, dec = 0;
    if (target > NM_TARGET_RW) {
        why = "targets import ", val = target - NM_TARGET_IMPORT0, dec = 1;
        tail = " (only TEXT or RW; imports go through the GOT)";
    } else if (site >= img->text_size) {
        why = "is not in text (text_size ", val = img->text_size, tail = ")";
    } else if ((uint64_t)site + 4 > img->text_size) {
        why = "crosses end of text (text_size ", val = img->text_size, tail = ")";
    } else if (site & 1u) {
        why = "at an odd site", has_val = 0;
    } else if (!nmf_insn_opcode_ok(form, img->text[site])) {
        why = "on opcode ", val = img->text[site] & 0x7Fu, tail = ", not an instruction of that form";
    } else if (nmf_insn_has_hi(form) && ((uint64_t)hi_site + 4 > img->text_size || (hi_site & 1u))) {
        why = "hi_site ", val = hi_site, tail = " is not an instruction in text";
    }
    if (!why) {
        return NM_OK;
    }
    insn_prefix(d, index, site, form);
    if (!has_val) {
        nm_detail_cat(d, why);
    } else if (dec) {
        cat_dec(d, why, val);
    } else {
        cat_hex(d, why, val);
    }
    nm_detail_cat(d, tail);
    return NM_ERR_RELOC;
}

static int reloc_next_detail(nm_reloc_iter_t *it, nm_reloc_t *out, nm_detail_t *d) {
    const nm_image_t *img = it->img;
    if (it->index >= img->n_relocs) {
        return 0;
    }
    uint32_t delta = 0, code = 0, form = 0, addend = 0, hi_site = 0;
    uint32_t pos = it->pos;
    int rc = read_uleb(img, &pos, &delta);
    if (rc == NM_OK) {
        rc = read_uleb(img, &pos, &code);
    }
    /* INSN entries carry form, addend and (forms 4, 5) hi_site after the
     * code; an unknown form has no hi_site and is refused below. */
    if (rc == NM_OK && (code & 3u) == NM_RELOC_INSN) {
        rc = read_uleb(img, &pos, &form);
        if (rc == NM_OK) {
            rc = read_uleb(img, &pos, &addend);
        }
        if (rc == NM_OK && nmf_insn_has_hi(form)) {
            rc = read_uleb(img, &pos, &hi_site);
        }
    }
    if (rc != NM_OK) {
        reloc_prefix(d, it->index, 0, 0);
        nm_detail_cat(d, rc == NM_ERR_TRUNCATED ? "ULEB128 runs past the end of the stream"
                                                : "ULEB128 longer than 5 bytes or above 32 bits");
        cat_hex(d, " (reloc_size ", img->reloc_size);
        nm_detail_cat(d, ")");
        return NM_ERR_CORRUPT;
    }
    uint64_t site64 = (uint64_t)(it->index ? it->site : 0) + delta;
    if (site64 > 0xFFFFFFFFu) {
        reloc_prefix(d, it->index, 0, 0);
        nm_detail_cat(d, "site overflows 32 bits");
        return NM_ERR_RELOC;
    }
    uint32_t site = (uint32_t)site64;
    if (it->index && delta == 0) {
        reloc_prefix(d, it->index, 1, site);
        nm_detail_cat(d, "site repeats the previous entry's (sites must increase)");
        return NM_ERR_RELOC;
    }
    if (it->index && delta < it->width) {
        /* Overlapping words would make relocation order-dependent (and a
         * relinked image differ from a fresh link): no linker emits them. */
        reloc_prefix(d, it->index, 1, site);
        nm_detail_cat(d, "word overlaps the previous entry's");
        return NM_ERR_RELOC;
    }
    uint32_t kind = code & 3u, target = code >> 2;
    if (kind >= NM_RELOC_KIND_COUNT) {
        reloc_prefix(d, it->index, 1, site);
        cat_dec(d, "unknown kind ", kind);
        return NM_ERR_RELOC;
    }
    uint32_t width = kind == NM_RELOC_PTR64 ? 8 : 4;
    if (kind == NM_RELOC_PTR64 && nm_arch_ptr_size(img->arch) != 8) {
        reloc_prefix(d, it->index, 1, site);
        nm_detail_cat(d, "PTR64 in a module for ");
        nm_detail_cat(d, nm_arch_name(img->arch));
        nm_detail_cat(d, ", which has 4-byte pointers");
        return NM_ERR_RELOC;
    }
    if (target >= (uint32_t)NM_TARGET_IMPORT0 + img->n_imports) {
        reloc_prefix(d, it->index, 1, site);
        cat_dec(d, "target ", target);
        cat_dec(d, " beyond the module's ", img->n_imports);
        nm_detail_cat(d, " imports");
        return NM_ERR_RELOC;
    }
    if (kind == NM_RELOC_INSN) {
        if ((rc = check_insn(img, it->index, site, target, form, hi_site, d)) != NM_OK) {
            return rc;
        }
    } else if (site < img->text_size) {
        if ((uint64_t)site + width > img->text_size) {
            reloc_prefix(d, it->index, 1, site);
            cat_hex(d, "word crosses end of text (text_size ", img->text_size);
            nm_detail_cat(d, ")");
            return NM_ERR_RELOC;
        }
    } else {
        uint32_t rw = site - img->text_size;
        if ((uint64_t)rw + width > img->data_size) {
            reloc_prefix(d, it->index, 1, site);
            if (rw < img->data_size) {
                cat_hex(d, "word crosses end of data (data_size ", img->data_size);
                nm_detail_cat(d, ")");
            } else if ((uint64_t)rw < (uint64_t)img->data_size + img->bss_size) {
                cat_hex(d, "site is in bss (RW offset ", rw);
                cat_hex(d, ", data_size ", img->data_size);
                nm_detail_cat(d, "); bss is not in the image");
            } else {
                cat_hex(d, "site is beyond text and data (RW offset ", rw);
                cat_hex(d, ", data_size ", img->data_size);
                nm_detail_cat(d, ")");
            }
            return NM_ERR_RELOC;
        }
    }
    it->pos = pos;
    it->site = site;
    it->width = (uint8_t)width;
    it->index++;
    out->site = site;
    out->kind = (uint8_t)kind;
    out->target = target;
    out->form = (uint8_t)form;
    out->addend = addend;
    out->hi_site = hi_site;
    return 1;
}

void nm_reloc_iter_init(nm_reloc_iter_t *it, const nm_image_t *img) {
    it->img = img;
    it->pos = 0;
    it->index = 0;
    it->site = 0;
    it->width = 0;
}

int nm_reloc_next(nm_reloc_iter_t *it, nm_reloc_t *out) {
    return reloc_next_detail(it, out, NULL);
}

/* Checks a string-table reference; the table ends in NUL (checked in the
 * header parse), so an in-range offset is a terminated string. */
static int str_ok(const nm_image_t *img, uint32_t off) {
    return off < img->strtab_size;
}

int nm_image_import(const nm_image_t *img, uint32_t i, nm_import_info_t *out) {
    if (!img || !out || i >= img->n_imports) {
        return NM_ERR_CORRUPT;
    }
    const uint8_t *e = img->imports + (size_t)i * NM_IMPORT_SIZE;
    uint32_t name = nmf_rd32(e + 4);
    if (!str_ok(img, name)) {
        return NM_ERR_CORRUPT;
    }
    out->hash = nmf_rd32(e);
    out->name = img->strtab + name;
    out->type_hash = 0;
    out->proto = NULL;
    if (img->import_types) {
        const uint8_t *t = img->import_types + (size_t)i * NM_IMPORT_TYPE_SIZE;
        uint32_t proto = nmf_rd32(t + 4);
        if (proto != NM_NO_PROTO && !str_ok(img, proto)) {
            return NM_ERR_CORRUPT;
        }
        out->type_hash = nmf_rd32(t);
        out->proto = proto == NM_NO_PROTO ? NULL : img->strtab + proto;
    }
    return NM_OK;
}

int nm_image_export(const nm_image_t *img, uint32_t i, nm_export_info_t *out) {
    if (!img || !out || i >= img->n_exports) {
        return NM_ERR_CORRUPT;
    }
    const uint8_t *e = img->exports + (size_t)i * NM_EXPORT_SIZE;
    uint32_t name = nmf_rd32(e);
    if (!str_ok(img, name)) {
        return NM_ERR_CORRUPT;
    }
    out->name = img->strtab + name;
    out->value = nmf_rd32(e + 4);
    out->region = e[8];
    out->kind = e[9];
    return NM_OK;
}

/* Import i's entry in the type table (docs/format.md 2.3): a prototype
 * reference in range and non-empty, and a non-zero type hash that is the
 * text's nm_hash when both are given. A zero hash (unchecked) may still
 * carry the text, for tools to show. */
static int check_import_type(const nm_image_t *img, uint32_t i, const char *name, nm_detail_t *d) {
    const uint8_t *t = img->import_types + (size_t)i * NM_IMPORT_TYPE_SIZE;
    uint32_t type_hash = nmf_rd32(t), proto = nmf_rd32(t + 4);
    if (proto == NM_NO_PROTO) {
        return NM_OK;
    }
    int in_range = str_ok(img, proto);
    const char *s = in_range ? img->strtab + proto : "";
    if (in_range && *s && (type_hash == 0 || nm_hash(s) == type_hash)) {
        return NM_OK;
    }
    set_dec(d, "import ", i);
    nm_detail_cat(d, " '");
    nm_detail_cat(d, name);
    nm_detail_cat(d, "': ");
    if (!in_range) {
        cat_hex(d, "prototype offset ", proto);
        cat_hex(d, " outside the string table (size ", img->strtab_size);
        nm_detail_cat(d, ")");
    } else if (!*s) {
        nm_detail_cat(d, "empty prototype");
    } else {
        cat_hex(d, "type hash ", type_hash);
        cat_hex(d, " does not match its prototype's ", nm_hash(s));
    }
    return NM_ERR_CORRUPT;
}

static int check_imports(const nm_image_t *img, nm_detail_t *d) {
    int rc;
    for (uint32_t i = 0; i < img->n_imports; i++) {
        const uint8_t *e = img->imports + (size_t)i * NM_IMPORT_SIZE;
        uint32_t hash = nmf_rd32(e), name = nmf_rd32(e + 4);
        if (!str_ok(img, name)) {
            set_dec(d, "import ", i);
            cat_hex(d, ": name offset ", name);
            cat_hex(d, " outside the string table (size ", img->strtab_size);
            nm_detail_cat(d, ")");
            return NM_ERR_CORRUPT;
        }
        const char *s = img->strtab + name;
        if (*s == '\0') {
            set_dec(d, "import ", i);
            nm_detail_cat(d, ": empty name");
            return NM_ERR_CORRUPT;
        }
        if (nm_hash(s) != hash) {
            set_dec(d, "import ", i);
            nm_detail_cat(d, " '");
            nm_detail_cat(d, s);
            cat_hex(d, "': hash ", hash);
            cat_hex(d, " does not match the name's ", nm_hash(s));
            return NM_ERR_CORRUPT;
        }
        if (img->import_types && (rc = check_import_type(img, i, s, d)) != NM_OK) {
            return rc;
        }
    }
    return NM_OK;
}

static int check_exports(const nm_image_t *img, nm_detail_t *d) {
    uint64_t rw_size = (uint64_t)img->data_size + img->bss_size;
    for (uint32_t i = 0; i < img->n_exports; i++) {
        const uint8_t *e = img->exports + (size_t)i * NM_EXPORT_SIZE;
        uint32_t name = nmf_rd32(e), value = nmf_rd32(e + 4);
        uint8_t region = e[8], kind = e[9];
        if (!str_ok(img, name)) {
            set_dec(d, "export ", i);
            cat_hex(d, ": name offset ", name);
            cat_hex(d, " outside the string table (size ", img->strtab_size);
            nm_detail_cat(d, ")");
            return NM_ERR_CORRUPT;
        }
        const char *s = img->strtab + name;
        set_dec(d, "export ", i);
        nm_detail_cat(d, " '");
        nm_detail_cat(d, s);
        nm_detail_cat(d, "': ");
        if (*s == '\0') {
            nm_detail_cat(d, "empty name");
            return NM_ERR_CORRUPT;
        }
        if (nmf_rd16(e + 10) != 0) {
            nm_detail_cat(d, "reserved field is not zero");
            return NM_ERR_CORRUPT;
        }
        if (kind != NM_EXPORT_FUNC && kind != NM_EXPORT_DATA) {
            cat_dec(d, "unknown kind ", kind);
            return NM_ERR_CORRUPT;
        }
        if (region == NM_REGION_TEXT) {
            if (value >= img->text_size) {
                cat_hex(d, "value ", value);
                cat_hex(d, " outside text (text_size ", img->text_size);
                nm_detail_cat(d, ")");
                return NM_ERR_CORRUPT;
            }
        } else if (region == NM_REGION_RW) {
            if (value >= rw_size) {
                cat_hex(d, "value ", value);
                cat_hex(d, " outside RW (data_size + bss_size ", (uint32_t)rw_size);
                nm_detail_cat(d, ")");
                return NM_ERR_CORRUPT;
            }
        } else {
            cat_dec(d, "unknown region ", region);
            return NM_ERR_CORRUPT;
        }
    }
    const uint16_t idx[2] = {img->init_idx, img->deinit_idx};
    for (int k = 0; k < 2; k++) {
        if (idx[k] == NM_NO_INDEX) {
            continue;
        }
        const uint8_t *e = img->exports + (size_t)idx[k] * NM_EXPORT_SIZE;
        if (e[8] != NM_REGION_TEXT || e[9] != NM_EXPORT_FUNC) {
            set_dec(d, k ? "header: deinit_idx " : "header: init_idx ", idx[k]);
            nm_detail_cat(d, " ('");
            nm_detail_cat(d, img->strtab + nmf_rd32(e));
            nm_detail_cat(d, "') is not a function in text");
            return NM_ERR_CORRUPT;
        }
    }
    nm_detail_set(d, "");
    return NM_OK;
}

/*
 * Every form-4/5 INSN entry's hi_site must be the site of a form-3 entry
 * with the same target and addend. The partner may come before or after it
 * (block reordering puts an AUIPC after a use of it), and the stream can
 * only be read forwards, with no memory to sort into. So a search cursor
 * walks forwards to each hi_site, starting from the closest known iterator
 * state at or before it: where the cursor stopped last time, one of
 * PAIR_MARKS states saved at evenly spaced entries, or one of two states
 * the main walk left at multiples of PAIR_NEAR entries. Each search reads at
 * most n_relocs / PAIR_MARKS + 1 entries, so the worst case is O(n^2 / 8)
 * entry reads; partners in site order cost O(n) in all (the cursor only
 * moves forwards), and a partner less than PAIR_NEAR entries behind its use
 * costs at most 2 * PAIR_NEAR reads. Runs only if the walk saw a form-4/5
 * entry, on a stream it accepted. 10 saved iterators: 200 bytes of stack
 * on a 32-bit target.
 */
#define PAIR_MARKS 8
#define PAIR_NEAR 32u

/* Out of line, so that parsing a module without pairs (every non-RISC-V
 * one) does not carry this frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int check_insn_pairs(const nm_image_t *img, nm_detail_t *d) {
    /* marks[0..PAIR_MARKS): global; the last two: near the main walk. A
     * state before entry i can start a search for site x if i is 0 or
     * entry i - 1 (its site field) lies below x. */
    nm_reloc_iter_t marks[PAIR_MARKS + 2], it, s;
    uint32_t step = img->n_relocs / PAIR_MARKS + 1, n_marks = 0;
    nm_reloc_t r, h = {0};
    nm_reloc_iter_init(&it, img);
    while (n_marks < PAIR_MARKS && it.index < img->n_relocs) {
        if (it.index == n_marks * step) {
            marks[n_marks++] = it;
        }
        if (nm_reloc_next(&it, &r) != 1) {
            return NM_ERR_CORRUPT; /* unreachable: the walk accepted the stream */
        }
    }
    nm_reloc_iter_init(&it, img);
    marks[PAIR_MARKS] = marks[PAIR_MARKS + 1] = s = it;
    int have = 0; /* h is the entry s read last */
    int rc;
    for (;;) {
        if (it.index % PAIR_NEAR == 0) {
            marks[PAIR_MARKS + (it.index / PAIR_NEAR) % 2] = it;
        }
        if ((rc = nm_reloc_next(&it, &r)) != 1) {
            break;
        }
        if (r.kind != NM_RELOC_INSN || !nmf_insn_has_hi(r.form)) {
            continue;
        }
        const nm_reloc_iter_t *best = &marks[0];
        for (uint32_t k = 1; k < PAIR_MARKS + 2; k++) {
            if ((k < n_marks || k >= PAIR_MARKS) && marks[k].index > best->index &&
                marks[k].site < r.hi_site) {
                best = &marks[k];
            }
        }
        if (!have || h.site > r.hi_site || s.index < best->index) {
            s = *best;
            have = 0;
        }
        while ((!have || h.site < r.hi_site) && (rc = nm_reloc_next(&s, &h)) == 1) {
            have = 1;
        }
        if (rc < 0) {
            return rc;
        }
        const char *why = NULL;
        if (!have || h.site != r.hi_site || h.kind != NM_RELOC_INSN || h.form != NM_INSN_RV_PCREL_HI20) {
            why = " is not an RV_PCREL_HI20 entry";
        } else if (h.target != r.target || h.addend != r.addend) {
            why = " has another target or addend";
        }
        if (why) {
            insn_prefix(d, it.index - 1, r.site, r.form);
            cat_hex(d, "hi_site ", r.hi_site);
            nm_detail_cat(d, why);
            return NM_ERR_RELOC;
        }
    }
    return rc;
}

uint32_t nm_image_meta_crc(const nm_image_t *img) {
    uint32_t crc = nm_crc32(0, img->base, NM_HEADER_SIZE);
    uint32_t after = NM_HEADER_SIZE + img->text_size; /* <= image_size: the header parse checked */
    return nm_crc32(crc, img->base + after, img->image_size - after);
}

/* What nm_image_parse checks after the header and the CRC. */
static int parse_tables(nm_image_t *img, nm_detail_t *d);

int nm_image_parse(const void *buf, size_t len, nm_image_t *img, nm_detail_t *d) {
    int rc = nm_image_parse_header(buf, len, img, d);
    if (rc != NM_OK) {
        return rc;
    }
    uint32_t crc = nm_image_crc(img->base, img->image_size);
    if (crc != img->crc32) {
        nm_detail_set(d, "CRC-32 of the slice is ");
        nm_detail_hex(d, crc);
        cat_hex(d, ", the header says ", img->crc32);
        return NM_ERR_CRC;
    }
    return parse_tables(img, d);
}

int nm_image_parse_meta(const void *buf, size_t len, uint32_t meta_crc, nm_image_t *img,
                        nm_detail_t *d) {
    int rc = nm_image_parse_header(buf, len, img, d);
    if (rc != NM_OK) {
        return rc;
    }
    uint32_t crc = nm_image_meta_crc(img);
    if (crc != meta_crc) {
        nm_detail_set(d, "meta CRC-32 (all but text) of the slice is ");
        nm_detail_hex(d, crc);
        cat_hex(d, ", it was ", meta_crc);
        nm_detail_cat(d, " when its whole CRC was checked");
        return NM_ERR_CRC;
    }
    return parse_tables(img, d);
}

static int parse_tables(nm_image_t *img, nm_detail_t *d) {
    int rc;
    if ((rc = check_imports(img, d)) != NM_OK || (rc = check_exports(img, d)) != NM_OK) {
        return rc;
    }
    nm_reloc_iter_t it;
    nm_reloc_t r;
    int pairs = 0;
    nm_reloc_iter_init(&it, img);
    while ((rc = reloc_next_detail(&it, &r, d)) == 1) {
        pairs |= r.kind == NM_RELOC_INSN && nmf_insn_has_hi(r.form);
    }
    if (rc < 0) {
        return rc;
    }
    if (it.pos != img->reloc_size) {
        set_dec(d, "relocation stream: ", img->n_relocs);
        cat_hex(d, " entries end at byte ", it.pos);
        cat_hex(d, ", reloc_size is ", img->reloc_size);
        return NM_ERR_CORRUPT;
    }
    if (pairs && (rc = check_insn_pairs(img, d)) != NM_OK) {
        return rc;
    }
    nm_detail_set(d, "");
    return NM_OK;
}

void nm_sig_message(const nm_image_t *img, void (*sink)(void *arg, const void *p, size_t n), void *arg) {
    static const uint8_t zero[4];
    const uint8_t *end = img->signature; /* the message stops where the signature starts */
    sink(arg, NM_SIG_DOMAIN, NM_SIG_DOMAIN_SIZE);
    sink(arg, img->base, NMF_OFF_CRC);
    sink(arg, zero, sizeof zero);
    sink(arg, img->base + NMF_OFF_CRC + 4, (size_t)(end - (img->base + NMF_OFF_CRC + 4)));
}
