/*
 * Phase 1: is this a module, is it intact, and can this board run it?
 * Structure and CRC come first so a damaged file is reported as damaged,
 * not as "wrong arch" on the strength of a flipped arch byte.
 */
#include "loader/loader_internal.h"

static void cat_target(nm_detail_t *d, unsigned arch, unsigned fabi) {
    nm_detail_cat(d, nm_arch_name(arch));
    nm_detail_cat(d, "/");
    nm_detail_cat(d, nm_float_name(fabi));
}

/* meta: NULL to check the whole CRC, else the meta CRC the caller recorded
 * when it checked the whole CRC (nm_image_parse_meta). */
static int verify(const nm_loader_config_t *cfg, const void *buf, size_t len, const uint32_t *meta,
                  nm_image_t *img, nm_detail_t *d) {
    nm_slice_info_t slice;
    int rc = nm_select_slice(buf, len, cfg->arch, cfg->float_abi, &slice, d);
    if (rc != NM_OK) {
        return rc;
    }
    const uint8_t *p = (const uint8_t *)buf + slice.offset;
    rc = meta ? nm_image_parse_meta(p, slice.size, *meta, img, d) : nm_image_parse(p, slice.size, img, d);
    if (rc != NM_OK) {
        return rc;
    }
    if (!nm_arch_can_run(cfg->arch, cfg->float_abi, img->arch, img->float_abi)) {
        /* Same verdict with the board's float ABI means only the float ABI differs. */
        int float_only = nm_arch_can_run(cfg->arch, img->float_abi, img->arch, img->float_abi);
        nm_detail_set(d, "module '");
        nm_detail_cat(d, img->strtab);
        nm_detail_cat(d, "' is ");
        cat_target(d, img->arch, img->float_abi);
        nm_detail_cat(d, "; this board is ");
        cat_target(d, cfg->arch, cfg->float_abi);
        return float_only ? NM_ERR_FLOAT_ABI : NM_ERR_ARCH;
    }
    return NM_OK;
}

int nmld_verify(const nm_loader_config_t *cfg, const void *buf, size_t len, nm_image_t *img,
                nm_detail_t *d) {
    return verify(cfg, buf, len, NULL, img, d);
}

int nmld_verify_meta(const nm_loader_config_t *cfg, const void *buf, size_t len, uint32_t meta_crc,
                     nm_image_t *img, nm_detail_t *d) {
    return verify(cfg, buf, len, &meta_crc, img, d);
}
