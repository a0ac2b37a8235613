/*
 * Private interface between the loader's phases. One file per phase, run in
 * this order by nm_load (loader.c), each refusing before the next begins:
 *
 *   verify.c   nmld_verify   pick the slice, nm_image_parse it, judge arch/float
 *                            (nmld_verify_meta: the meta CRC instead of the whole CRC)
 *   resolve.c  nmld_resolve  find every import in the firmware table - before
 *                            anything is allocated, so a missing symbol costs nothing
 *   place.c    nmld_place    allocate TEXT/RW (or one IMAGE block), copy, zero bss
 *              nmld_release  give the regions back
 *   reloc.c    nmld_reloc    walk the relocation stream and patch words
 *                            (nmld_patch: PTR words; nmld_insn: RISC-V fields)
 *   loader.c   nm_load, nm_module_sym, nm_unload: flush, init, deinit
 *   xip.c      nm_xip_link (install-time linking) and nm_load_xip, which
 *              reuse verify and resolve, claim RW only, and patch the GOT
 *
 * The fuzz target drives these phases directly so it can load modules
 * without ever calling their code.
 */
#ifndef NATMOD_LOADER_INTERNAL_H
#define NATMOD_LOADER_INTERNAL_H

#include "natmod/format.h"
#include "natmod/loader.h"

/* Longest name compared; names in a validated image are NUL-terminated
 * inside its string table, this bound only guards the firmware side. */
#define NMLD_NAME_MAX 4096u

/* 1 if a and b are the same NUL-terminated name. */
static inline int nmld_name_eq(const char *a, const char *b) {
    for (unsigned i = 0; i < NMLD_NAME_MAX; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
        if (a[i] == '\0') {
            return 1;
        }
    }
    return 0;
}

int nmld_verify(const nm_loader_config_t *cfg, const void *buf, size_t len, nm_image_t *img,
                nm_detail_t *detail);
/* nmld_verify with the meta CRC (nm_image_parse_meta) in place of the whole
 * CRC: for images whose whole CRC a store checked and recorded meta_crc. */
int nmld_verify_meta(const nm_loader_config_t *cfg, const void *buf, size_t len, uint32_t meta_crc,
                     nm_image_t *img, nm_detail_t *detail);
int nmld_resolve(const nm_loader_config_t *cfg, const nm_image_t *img, nm_detail_t *detail);
/* Address of import i (resolve has succeeded), or NULL. */
const void *nmld_import_addr(const nm_loader_config_t *cfg, const nm_image_t *img, uint32_t i);
int nmld_place(const nm_loader_config_t *cfg, const nm_image_t *img, nm_module_t *m,
               nm_detail_t *detail);
void nmld_release(nm_module_t *m);
int nmld_reloc(const nm_loader_config_t *cfg, const nm_image_t *img, nm_module_t *m,
               nm_detail_t *detail);
/* Add base to the kind-sized little-endian word at w; NM_ERR_RELOC (with
 * detail naming relocation index at site) if a PTR32 sum leaves 32 bits on
 * a 64-bit host. */
int nmld_patch(uint8_t *w, unsigned kind, uintptr_t base, uint32_t index, uint32_t site,
               nm_detail_t *detail);
/* Write the immediate field of the RISC-V instruction at w for INSN entry r
 * (docs/format.md 4.1): A = base + addend, P = text + site, P_hi = text +
 * hi_site, all mod 2^32. The field is written, not added to, so applying r
 * again for other addresses (relinking) gives what a fresh link would.
 * NM_ERR_RELOC if a 64-bit loader passes addresses above 4 GB. */
int nmld_insn(uint8_t *w, const nm_reloc_t *r, uintptr_t base, uintptr_t text, uint32_t index,
              nm_detail_t *detail);
/* Move a PTR word linked against base `from` to base `to` (relinking an
 * XIP-linked image for a new address). */
int nmld_rebase(uint8_t *w, unsigned kind, uintptr_t from, uintptr_t to);
/* Mark loaded and run init (xip.c and loader.c share it). */
int nmld_start(nm_module_t *m, const nm_image_t *img, nm_detail_t *detail);

#endif /* NATMOD_LOADER_INTERNAL_H */
