/* natmod pack: several single-arch modules (or universal ones, flattened)
 * into one universal module. Each slice is validated before it is packed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_link.h"
#include "format/writer.h"
#include "natmod/format.h"

#define PACK_MAX NM_UNIVERSAL_MAX_SLICES

int cmd_pack(int argc, char **argv) {
    const char *out = NULL;
    uint8_t *bufs[64];
    size_t nbufs = 0;
    const uint8_t *slices[PACK_MAX];
    size_t lens[PACK_MAX];
    unsigned n = 0;
    int rc = 0;
    cli_sign_t sign = {0};
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            puts("usage: natmod pack -o OUT.nmod [--sign NAME.key] [--version N] MODULE.nmod...\n"
                 "\n"
                 "Combine single-arch modules into one universal module that holds one\n"
                 "slice per (arch, float ABI); a board's loader or installer uses only its\n"
                 "own slice. Universal inputs are flattened. Duplicate arches are refused.\n"
                 "With --sign or --version, every slice gets that trailer.\n\n" CLI_SIGN_HELP);
            return 0;
        }
        int so = cli_sign_opt(argc, argv, &i, &sign);
        if (so < 0) {
            return cli_exit_code(NM_ERR_INVAL);
        } else if (so) {
            continue;
        }
        if (!strcmp(a, "-o")) {
            if (!(out = cli_optarg(argc, argv, &i))) {
                return cli_exit_code(NM_ERR_INVAL);
            }
            continue;
        }
        if (a[0] == '-') {
            rc = cli_fail(NM_ERR_INVAL, "pack: unknown option '%s'", a);
            break;
        }
        if (nbufs == sizeof bufs / sizeof bufs[0]) {
            rc = cli_fail(NM_ERR_INVAL, "pack: too many inputs");
            break;
        }
        uint8_t *buf;
        size_t len;
        int err = cli_read_file(a, &buf, &len);
        if (err) {
            rc = cli_exit_code(err);
            break;
        }
        bufs[nbufs++] = buf;
        nm_detail_t d = {{0}};
        int count = 1;
        if (nm_is_universal(buf, len) && (count = nm_universal_count(buf, len, &d)) < 0) {
            rc = cli_fail(count, "%s: %s", a, d.msg);
            break;
        }
        for (int s = 0; s < count && !rc; s++) {
            nm_slice_info_t si = {0, 0, 0, (uint32_t)len, 0};
            if (nm_is_universal(buf, len) && (err = nm_universal_slice(buf, len, (uint32_t)s, &si, &d))) {
                rc = cli_fail(err, "%s: slice %d: %s", a, s, d.msg);
                break;
            }
            nm_image_t img;
            if ((err = nm_image_parse(buf + si.offset, si.size, &img, &d))) {
                rc = cli_fail(err, "%s: %s", a, d.msg[0] ? d.msg : nm_strerror(err));
                break;
            }
            if (n == PACK_MAX) {
                rc = cli_fail(NM_ERR_INVAL, "pack: more than %d slices", PACK_MAX);
                break;
            }
            slices[n] = buf + si.offset;
            lens[n++] = si.size;
        }
    }
    if (!rc && !out) {
        rc = cli_fail(NM_ERR_INVAL, "pack: -o OUT is required");
    }
    if (!rc && !n) {
        rc = cli_fail(NM_ERR_INVAL, "pack: no modules given");
    }
    if (!rc) {
        uint8_t *img = NULL;
        size_t len = 0;
        nm_detail_t d = {{0}};
        int err = nm_write_universal(slices, lens, n, &img, &len, &d);
        if (!err && cli_sign_wanted(&sign)) {
            uint8_t *signed_img;
            size_t signed_len;
            if ((rc = cli_sign_module(&sign, out, img, len, &signed_img, &signed_len)) == 0) {
                free(img);
                img = signed_img;
                len = signed_len;
            }
        }
        if (rc) {
            /* cli_sign_module said why */
        } else if (err) {
            rc = cli_fail(err, "pack: %s", d.msg[0] ? d.msg : nm_strerror(err));
        } else if ((err = cli_write_file(out, img, len))) {
            rc = cli_exit_code(err);
        } else {
            printf("%s: universal module, %u slices, %zu bytes\n", out, n, len);
        }
        free(img);
    }
    for (size_t k = 0; k < nbufs; k++) {
        free(bufs[k]);
    }
    return rc;
}
