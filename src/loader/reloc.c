/*
 * Phase 4: apply the relocation stream. A PTR entry adds a run-time address
 * (TEXT base, RW base or an import) to a little-endian word in place; an
 * INSN entry writes an immediate field of a RISC-V instruction from the
 * entry's own target and addend. Words are read and written byte by byte:
 * sites need not be aligned, and the format is little-endian whatever the
 * host is.
 */
#include "loader/loader_internal.h"

static uint64_t rd_le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void wr_le(uint8_t *p, unsigned n, uint64_t v) {
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void site_detail(nm_detail_t *d, uint32_t index, uint32_t site, const char *what) {
    nm_detail_set(d, "relocation ");
    nm_detail_dec(d, index);
    nm_detail_cat(d, " at site ");
    nm_detail_hex(d, site);
    nm_detail_cat(d, ": ");
    nm_detail_cat(d, what);
}

int nmld_patch(uint8_t *w, unsigned kind, uintptr_t base, uint32_t index, uint32_t site,
               nm_detail_t *d) {
    if (kind == NM_RELOC_PTR32) {
        uint64_t sum = rd_le(w, 4) + (uint64_t)base;
        /* On a 32-bit target the sum wraps like the CPU's own address
         * arithmetic; on a 64-bit host it must fit, or the word would
         * silently point somewhere else. */
        if (UINTPTR_MAX > 0xFFFFFFFFu && sum > 0xFFFFFFFFu) {
            site_detail(d, index, site, "PTR32 result does not fit in 32 bits");
            return NM_ERR_RELOC;
        }
        wr_le(w, 4, sum);
    } else {
        wr_le(w, 8, rd_le(w, 8) + (uint64_t)base);
    }
    return NM_OK;
}

/* The instruction insn with its form's immediate field replaced by the
 * value v (docs/format.md 4.1); every other bit is kept. A U-type field
 * takes the upper 20 bits rounded by 0x800, because the paired 12-bit
 * immediate is sign-extended: hi + lo then gives v back exactly. */
static uint32_t insn_field(uint32_t insn, unsigned form, uint32_t v) {
    switch (form) {
    case NM_INSN_RV_HI20:
    case NM_INSN_RV_PCREL_HI20:
        return (insn & 0x00000FFFu) | ((v + 0x800u) & 0xFFFFF000u);
    case NM_INSN_RV_LO12_I:
    case NM_INSN_RV_PCREL_LO12_I:
        return (insn & 0x000FFFFFu) | (v << 20);
    default: /* S-type: imm[11:5] in bits 31:25, imm[4:0] in bits 11:7 */
        return (insn & 0x01FFF07Fu) | ((v & 0xFE0u) << 20) | ((v & 0x1Fu) << 7);
    }
}

int nmld_insn(uint8_t *w, const nm_reloc_t *r, uintptr_t base, uintptr_t text, uint32_t index,
              nm_detail_t *d) {
    /* rv32 code runs at 32-bit addresses and its arithmetic wraps at 2^32;
     * a 64-bit loader (host tools, tests) must have been given such
     * addresses, or the fields would silently name something else. */
    if ((((uint64_t)base | (uint64_t)text) >> 16 >> 16) != 0) {
        site_detail(d, index, r->site, "INSN with a region above 4 GB");
        return NM_ERR_RELOC;
    }
    uint32_t a = (uint32_t)base + r->addend, v = a;
    if (r->form == NM_INSN_RV_PCREL_HI20) {
        v = a - ((uint32_t)text + r->site);
    } else if (r->form == NM_INSN_RV_PCREL_LO12_I || r->form == NM_INSN_RV_PCREL_LO12_S) {
        v = a - ((uint32_t)text + r->hi_site); /* the AUIPC's address: no need to read it */
    }
    wr_le(w, 4, insn_field((uint32_t)rd_le(w, 4), r->form, v));
    return NM_OK;
}

int nmld_rebase(uint8_t *w, unsigned kind, uintptr_t from, uintptr_t to) {
    unsigned n = kind == NM_RELOC_PTR32 ? 4u : 8u;
    uint64_t v = rd_le(w, n) - (uint64_t)from + (uint64_t)to;
    wr_le(w, n, v); /* wraps at the word's width, like linking at `to` from scratch */
    return NM_OK;
}

int nmld_reloc(const nm_loader_config_t *cfg, const nm_image_t *img, nm_module_t *m, nm_detail_t *d) {
    nm_reloc_iter_t it;
    nm_reloc_t r;
    int rc;
    nm_reloc_iter_init(&it, img);
    while ((rc = nm_reloc_next(&it, &r)) == 1) {
        /* nm_reloc_next guarantees the word lies inside text or the data image. */
        uint8_t *w = r.site < img->text_size ? m->text + r.site : m->rw + (r.site - img->text_size);
        uintptr_t base;
        if (r.target == NM_TARGET_TEXT) {
            base = (uintptr_t)m->text;
        } else if (r.target == NM_TARGET_RW) {
            base = (uintptr_t)m->rw;
        } else {
            const void *a = nmld_import_addr(cfg, img, r.target - NM_TARGET_IMPORT0);
            if (!a) {
                site_detail(d, it.index - 1, r.site, "import not resolved");
                return NM_ERR_NOSYM;
            }
            base = (uintptr_t)a;
        }
        rc = r.kind == NM_RELOC_INSN ? nmld_insn(w, &r, base, (uintptr_t)m->text, it.index - 1, d)
                                     : nmld_patch(w, r.kind, base, it.index - 1, r.site, d);
        if (rc != NM_OK) {
            return rc;
        }
    }
    if (rc < 0) {
        nm_detail_set(d, "relocation stream malformed");
        return rc;
    }
    return NM_OK;
}
