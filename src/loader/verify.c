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

int nmld_verify(const nm_loader_config_t *cfg, const void *buf, size_t len, nm_image_t *img,
                nm_detail_t *d) {
    nm_slice_info_t slice;
    int rc = nm_select_slice(buf, len, cfg->arch, cfg->float_abi, &slice, d);
    if (rc != NM_OK) {
        return rc;
    }
    rc = nm_image_parse((const uint8_t *)buf + slice.offset, slice.size, img, d);
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
