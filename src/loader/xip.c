/*
 * Execute in place (docs/xip.md).
 *
 * nm_xip_link is install-time linking: it streams a copy of a slice with
 * every TEXT/RW relocation applied for one flash address and one RW
 * address, and every import referenced from text bound to the firmware.
 * RISC-V INSN entries (LUI/AUIPC pairs) are written the same way, from
 * their target and addend, both at install and when relinking.
 * nm_load_xip then runs that copy where it lies: it claims the RW region,
 * copies the (already relocated) data image, clears bss, fills the GOT and
 * calls init. Text is never written after install. nm_load_xip_verified
 * is the same load for a caller (the store) that has checked the whole CRC:
 * the meta CRC (all but text) replaces it, every other check stays.
 *
 * RW_PCREL images (x86-64) whose text carries no relocations need no
 * install step: an MMU board maps RAM at text + rw_offset and nm_load_xip
 * relocates only the data image.
 */
#include <string.h>

#include "loader/loader_internal.h"

#define XIP_CHUNK 128u /* stack buffer for nm_xip_link; >= any relocation word */

static void put32(uint8_t *p, uint32_t v) {
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Out of line so 32-bit targets do not warn that it is always false. */
static int above32(uint64_t v) {
    return v > 0xFFFFFFFFu;
}

static unsigned word_size(unsigned kind) {
    return kind == NM_RELOC_PTR64 ? 8u : 4u;
}

/* Folds an import's address into the binding CRC (pointer-sized, LE). */
static uint32_t bind_crc(uint32_t crc, const void *addr, unsigned size) {
    uint8_t b[8];
    uint64_t v = (uint64_t)(uintptr_t)addr;
    for (unsigned i = 0; i < size; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return nm_crc32(crc, b, size);
}

static int xip_fail(nm_detail_t *d, int err, const nm_image_t *img, const char *what) {
    nm_detail_set(d, "module '");
    nm_detail_cat(d, img->strtab);
    nm_detail_cat(d, "': ");
    nm_detail_cat(d, what);
    return err;
}

/* 1 (with the detail) if addr breaks the 2^log2 alignment of region what. */
static int misaligned(const nm_image_t *img, const char *what, uintptr_t addr, unsigned log2,
                      nm_detail_t *d) {
    if (!(addr & (((uintptr_t)1 << log2) - 1u))) {
        return 0;
    }
    nm_detail_set(d, "module '");
    nm_detail_cat(d, img->strtab);
    nm_detail_cat(d, "': ");
    nm_detail_cat(d, what);
    nm_detail_cat(d, " at ");
    nm_detail_hex(d, (uint32_t)addr);
    nm_detail_cat(d, " breaks its alignment 2^");
    nm_detail_dec(d, log2);
    return 1;
}

/* An image without install-time linking can run in place only if its text
 * needs no relocation and its RW may follow it (RW_PCREL). */
static int check_pic(const nm_image_t *img, nm_detail_t *d) {
    if (!(img->flags & NM_FLAG_RW_PCREL)) {
        return xip_fail(d, NM_ERR_XIP, img,
                        "text is linked for no address: install it first (nm_xip_link)");
    }
    nm_reloc_iter_t it;
    nm_reloc_t r;
    int rc;
    nm_reloc_iter_init(&it, img);
    while ((rc = nm_reloc_next(&it, &r)) == 1) {
        if (r.site < img->text_size) {
            nm_detail_set(d, "module '");
            nm_detail_cat(d, img->strtab);
            nm_detail_cat(d, "': text has a relocation at ");
            nm_detail_hex(d, r.site);
            nm_detail_cat(d, ", it cannot run in place");
            return NM_ERR_XIP;
        }
    }
    return rc < 0 ? rc : NM_OK;
}

/* Common checks of nm_xip_link and nm_xip_size. */
static int link_prepare(const nm_loader_config_t *cfg, const void *buf, size_t len,
                        nm_image_t *img, int trust, nm_detail_t *d) {
    int rc = nmld_verify(cfg, buf, len, img, d);
    if (rc != NM_OK) {
        return rc;
    }
    /* Before anything is written, an untrusted slice is refused. Relinking
     * (a store moving an installed image) keeps the image's flags, so an
     * image no installer verified still never loads under a policy. */
    if (trust && !(img->flags & NM_FLAG_XIP_LINKED) && (rc = nm_trust_check(cfg, img, d)) != NM_OK) {
        return rc;
    }
    if (!(img->flags & NM_FLAG_XIP_LINKED) && img->image_size > 0xFFFFFFFFu - NM_XIP_RECORD_SIZE) {
        return xip_fail(d, NM_ERR_CORRUPT, img, "image too large to link");
    }
    return nmld_resolve(cfg, img, d);
}

/* Relinking keeps every import bound into text as it is, so the firmware
 * must still have them where they were at install. */
static int relink_bind_check(const nm_loader_config_t *cfg, const nm_image_t *img, nm_detail_t *d) {
    nm_reloc_iter_t it;
    nm_reloc_t r;
    int rc;
    uint32_t bind = 0;
    unsigned ptr = nm_arch_ptr_size(img->arch);
    nm_reloc_iter_init(&it, img);
    while ((rc = nm_reloc_next(&it, &r)) == 1) {
        if (r.site < img->text_size && r.target >= NM_TARGET_IMPORT0) {
            bind = bind_crc(bind, nmld_import_addr(cfg, img, r.target - NM_TARGET_IMPORT0), ptr);
        }
    }
    if (rc < 0) {
        return xip_fail(d, rc, img, "relocation stream malformed");
    }
    if (bind != img->xip_bind_crc) {
        return xip_fail(d, NM_ERR_XIP, img,
                        "the firmware moved an import bound into its text: install it again");
    }
    return NM_OK;
}

int nm_xip_size(const nm_loader_config_t *cfg, const void *buf, size_t len, uint32_t *image_size,
                uint32_t *rw_size, uint32_t *rw_align, nm_detail_t *d) {
    nm_image_t img;
    if (!cfg || (!buf && len)) {
        nm_detail_set(d, "nm_xip_size: NULL config or buffer");
        return NM_ERR_INVAL;
    }
    int rc = link_prepare(cfg, buf, len, &img, 0, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (image_size) {
        *image_size = img.image_size + (img.flags & NM_FLAG_XIP_LINKED ? 0u : NM_XIP_RECORD_SIZE);
    }
    if (rw_size) {
        *rw_size = img.data_size + img.bss_size;
    }
    if (rw_align) {
        *rw_align = 1u << img.rw_align_log2;
    }
    return NM_OK;
}

int nm_xip_link(const nm_loader_config_t *cfg, const void *buf, size_t len, uintptr_t dest,
                uintptr_t rw_addr, nm_write_fn write, void *wctx, uint32_t *out_size,
                nm_detail_t *d) {
    nm_image_t img;
    if (!cfg || (!buf && len) || !write) {
        nm_detail_set(d, "nm_xip_link: NULL config, buffer or write callback");
        return NM_ERR_INVAL;
    }
    int rc = link_prepare(cfg, buf, len, &img, 1, d);
    if (rc != NM_OK) {
        return rc;
    }
    uintptr_t text_addr = dest + NM_HEADER_SIZE;
    unsigned ptr = nm_arch_ptr_size(img.arch);
    /* Relinking an XIP-linked image (a store moving it): TEXT and RW words
     * move by the change of their base, imports stay bound, RW stays at its
     * slot unless it must follow text. */
    int relink = (img.flags & NM_FLAG_XIP_LINKED) != 0;
    uintptr_t old_text = img.xip_text_addr, old_rw = img.xip_rw_addr;
    if (img.flags & NM_FLAG_RW_PCREL) {
        rw_addr = text_addr + img.rw_offset;
    } else if (relink) {
        rw_addr = old_rw;
    }
    if (text_addr < dest || misaligned(&img, "text", text_addr, img.text_align_log2, d) ||
        misaligned(&img, "RW", rw_addr, img.rw_align_log2, d)) {
        return NM_ERR_XIP;
    }
    if (above32(text_addr) || above32(rw_addr)) {
        /* The XIP record holds 32-bit addresses, whatever the pointer size. */
        return xip_fail(d, NM_ERR_XIP, &img, "text or RW address does not fit 32 bits");
    }

    if (relink && (rc = relink_bind_check(cfg, &img, d)) != NM_OK) {
        return rc;
    }
    uint8_t hdr[NM_HEADER_SIZE];
    memcpy(hdr, img.base, NM_HEADER_SIZE);
    uint32_t body = relink ? img.image_size - NM_XIP_RECORD_SIZE : img.image_size;
    uint32_t size = body + NM_XIP_RECORD_SIZE;
    /* A slice whose signature the policy just verified is marked so that
     * XIP loads need not verify it again (nm_load_xip). */
    uint32_t checked = (cfg->n_trusted_keys && img.is_signed) ? NM_FLAG_SIG_CHECKED : 0;
    put32(hdr + 8, img.flags | NM_FLAG_XIP_LINKED | checked);
    put32(hdr + 16, size);
    uint32_t crc = nm_crc32(0, hdr, NM_CRC_START - 4);
    crc = nm_crc32(crc, hdr + NM_CRC_START, NM_HEADER_SIZE - NM_CRC_START);

    /* Text and the data image are one run of sites [0, text + data), each
     * at image offset 64 + site: copy it in chunks, patching each word
     * whose site falls inside. A chunk never splits a word. */
    uint8_t chunk[XIP_CHUNK];
    uint32_t bind = 0, end = img.text_size + img.data_size, pos = 0;
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, &img);
    int have = nm_reloc_next(&it, &r);
    while (pos < end) {
        uint32_t n = end - pos < XIP_CHUNK ? end - pos : XIP_CHUNK;
        if (have == 1 && r.site < pos + n && r.site + word_size(r.kind) > pos + n) {
            n = r.site - pos; /* > 0: a word starting at pos fits a whole chunk */
        }
        memcpy(chunk, img.text + pos, n);
        while (have == 1 && r.site + word_size(r.kind) <= pos + n) {
            uintptr_t base = 0;
            int apply = 1;
            if (r.kind == NM_RELOC_INSN) {
                /* RISC-V: the field is written from the entry alone, so a
                 * relink is a fresh link for the new text and the RW base
                 * chosen above (its slot, or after text if RW_PCREL). */
                rc = nmld_insn(chunk + (r.site - pos), &r,
                               r.target == NM_TARGET_TEXT ? text_addr : rw_addr, text_addr,
                               it.index - 1, d);
                if (rc != NM_OK) {
                    return rc;
                }
                apply = 0;
            } else if (relink) {
                if (r.target <= NM_TARGET_RW) {
                    nmld_rebase(chunk + (r.site - pos), r.kind,
                                r.target == NM_TARGET_TEXT ? old_text : old_rw,
                                r.target == NM_TARGET_TEXT ? text_addr : rw_addr);
                }
                apply = 0; /* imports in text stay bound (checked above), the GOT stays for load */
            } else if (r.target == NM_TARGET_TEXT) {
                base = text_addr;
            } else if (r.target == NM_TARGET_RW) {
                base = rw_addr;
            } else if (r.site < img.text_size) {
                const void *a = nmld_import_addr(cfg, &img, r.target - NM_TARGET_IMPORT0);
                base = (uintptr_t)a;
                bind = bind_crc(bind, a, ptr);
            } else {
                apply = 0; /* a GOT entry, bound by nm_load_xip */
            }
            if (apply) {
                rc = nmld_patch(chunk + (r.site - pos), r.kind, base, it.index - 1, r.site, d);
                if (rc != NM_OK) {
                    return rc;
                }
            }
            have = nm_reloc_next(&it, &r);
        }
        crc = nm_crc32(crc, chunk, n);
        if (write(wctx, NM_HEADER_SIZE + pos, chunk, n) != 0) {
            return xip_fail(d, NM_ERR_IO, &img, "write callback failed");
        }
        pos += n;
    }
    if (have < 0) {
        return xip_fail(d, have, &img, "relocation stream malformed");
    }
    /* Relocations, imports, exports, strings: unchanged. */
    uint32_t tail_off = NM_HEADER_SIZE + end, tail = body - tail_off;
    crc = nm_crc32(crc, img.base + tail_off, tail);
    if (write(wctx, tail_off, img.base + tail_off, tail) != 0) {
        return xip_fail(d, NM_ERR_IO, &img, "write callback failed");
    }
    uint8_t rec[NM_XIP_RECORD_SIZE];
    put32(rec, (uint32_t)text_addr);
    put32(rec + 4, (uint32_t)rw_addr);
    put32(rec + 8, relink ? img.xip_bind_crc : bind);
    put32(rec + 12, relink ? img.xip_src_crc : img.crc32);
    crc = nm_crc32(crc, rec, sizeof rec);
    if (write(wctx, body, rec, sizeof rec) != 0) {
        return xip_fail(d, NM_ERR_IO, &img, "write callback failed");
    }
    put32(hdr + NM_CRC_START - 4, crc);
    if (write(wctx, 0, hdr, sizeof hdr) != 0) {
        return xip_fail(d, NM_ERR_IO, &img, "write callback failed");
    }
    if (out_size) {
        *out_size = size;
    }
    nm_detail_set(d, "");
    return NM_OK;
}

/* meta: NULL for nm_load_xip (the whole CRC), else nm_load_xip_verified's
 * meta CRC. Everything after the verify step is the same for both. */
static int load_xip(const nm_loader_config_t *cfg, nm_module_t *m, const void *image, size_t len,
                    const uint32_t *meta, nm_detail_t *d) {
    if (!cfg || !m || (!image && len) || !cfg->claim_cb || !cfg->free_cb) {
        nm_detail_set(d, "nm_load_xip: NULL config, module, image or claim/free callback");
        return NM_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    nm_image_t img;
    int rc = meta ? nmld_verify_meta(cfg, image, len, *meta, &img, d)
                  : nmld_verify(cfg, image, len, &img, d);
    if (rc == NM_OK) {
        rc = nm_trust_check(cfg, &img, d);
    }
    if (rc != NM_OK) {
        return rc;
    }
    int linked = (img.flags & NM_FLAG_XIP_LINKED) != 0;
    uintptr_t text_addr = (uintptr_t)img.text;
    uintptr_t rw_addr = text_addr + img.rw_offset;
    if (linked) {
        if ((uint64_t)img.xip_text_addr != (uint64_t)text_addr) {
            nm_detail_set(d, "module '");
            nm_detail_cat(d, img.strtab);
            nm_detail_cat(d, "' is linked for text at ");
            nm_detail_hex(d, img.xip_text_addr);
            nm_detail_cat(d, " but its text is at ");
            nm_detail_hex(d, (uint32_t)text_addr);
            return NM_ERR_XIP;
        }
        rw_addr = img.xip_rw_addr;
    } else if ((rc = check_pic(&img, d)) != NM_OK) {
        return rc;
    }
    if ((rc = nmld_resolve(cfg, &img, d)) != NM_OK) {
        return rc;
    }
    size_t rw_size = (size_t)img.data_size + img.bss_size;
    uint8_t *rw = (uint8_t *)rw_addr;
    if (cfg->claim_cb(cfg->context, rw, rw_size ? rw_size : 1, NM_MEM_RW) != 0) {
        nm_detail_set(d, "module '");
        nm_detail_cat(d, img.strtab);
        nm_detail_cat(d, "': RW ");
        nm_detail_hex(d, (uint32_t)rw_addr);
        nm_detail_cat(d, "+");
        nm_detail_dec(d, (uint32_t)rw_size);
        nm_detail_cat(d, " is taken or not RAM");
        return NM_ERR_NOMEM;
    }
    m->cfg = cfg;
    m->image = img.base;
    m->image_size = img.image_size;
    m->n_exports = img.n_exports;
    m->deinit_idx = img.deinit_idx;
    m->xip = 1;
    m->text = (uint8_t *)text_addr;
    m->rw = rw;
    memcpy(rw, img.data, img.data_size);
    memset(rw + img.data_size, 0, img.bss_size);
    /* One walk: linked images need just their GOT (import) entries, and
     * the imports bound into text are checked against the firmware now
     * (before init, so a mismatch still runs no module code). */
    nm_reloc_iter_t it;
    nm_reloc_t r;
    uint32_t bind = 0;
    unsigned ptr = nm_arch_ptr_size(img.arch);
    nm_reloc_iter_init(&it, &img);
    while ((rc = nm_reloc_next(&it, &r)) == 1) {
        if (r.target < NM_TARGET_IMPORT0 ? (linked || r.site < img.text_size)
                                         : r.site < img.text_size) {
            if (r.site < img.text_size && r.target >= NM_TARGET_IMPORT0) {
                bind = bind_crc(bind, nmld_import_addr(cfg, &img, r.target - NM_TARGET_IMPORT0), ptr);
            }
            continue;
        }
        uintptr_t base = r.target == NM_TARGET_TEXT ? text_addr
                         : r.target == NM_TARGET_RW ? rw_addr
                         : (uintptr_t)nmld_import_addr(cfg, &img, r.target - NM_TARGET_IMPORT0);
        rc = nmld_patch(rw + (r.site - img.text_size), r.kind, base, it.index - 1, r.site, d);
        if (rc != NM_OK) {
            break;
        }
    }
    if (rc == NM_OK && linked && bind != img.xip_bind_crc) {
        rc = xip_fail(d, NM_ERR_XIP, &img,
                      "the firmware moved an import bound into its text: install it again");
    }
    if (rc < 0) {
        nmld_release(m);
        memset(m, 0, sizeof *m);
        return rc;
    }
    return nmld_start(m, &img, d);
}

int nm_load_xip(const nm_loader_config_t *cfg, nm_module_t *m, const void *image, size_t len,
                nm_detail_t *d) {
    return load_xip(cfg, m, image, len, NULL, d);
}

int nm_load_xip_verified(const nm_loader_config_t *cfg, nm_module_t *m, const void *image,
                         size_t len, uint32_t meta_crc, nm_detail_t *d) {
    return load_xip(cfg, m, image, len, &meta_crc, d);
}
