/*
 * The .nmod back-end: the core already produced every byte and record, so
 * this only hands the module to the format writer. The .mpy back-end will
 * consume the same nml_result_t.
 */
#include <stdio.h>

#include "link/link_internal.h"

int nml_write_nmod(const nml_result_t *res, uint8_t **out, size_t *out_len, char *detail, size_t detail_len) {
    nm_detail_t d;
    d.msg[0] = 0;
    if (!res || !res->priv || !out || !out_len) {
        if (detail && detail_len) {
            snprintf(detail, detail_len, "nml_write_nmod: no linked module");
        }
        return NM_ERR_INVAL;
    }
    int err = nm_write_image(&res->mod, out, out_len, &d);
    if (err && detail && detail_len) {
        snprintf(detail, detail_len, "%s", d.msg[0] ? d.msg : nm_strerror(err));
    }
    return err;
}
