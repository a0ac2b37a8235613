/* natmod info: what a module holds. For a universal module, each slice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "natmod/format.h"

static void print_reloc_counts(const nm_image_t *img) {
    /* counts[kind][target class]: text, rw, import */
    uint32_t counts[NM_RELOC_KIND_COUNT][3] = {{0}};
    uint32_t in_text = 0, in_rw = 0;
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, img);
    while (nm_reloc_next(&it, &r) == 1) {
        unsigned t = r.target >= NM_TARGET_IMPORT0 ? 2 : r.target;
        counts[r.kind][t]++;
        if (r.site < img->text_size) {
            in_text++;
        } else {
            in_rw++;
        }
    }
    static const char *const kind_names[NM_RELOC_KIND_COUNT] = {"ptr32", "ptr64"};
    printf("  relocations:  %u (%u bytes; %u sites in text, %u in data)\n", (unsigned)img->n_relocs,
           (unsigned)img->reloc_size, (unsigned)in_text, (unsigned)in_rw);
    for (unsigned k = 0; k < NM_RELOC_KIND_COUNT; k++) {
        if (counts[k][0] + counts[k][1] + counts[k][2]) {
            printf("    %-6s +text %u, +rw %u, +import %u\n", kind_names[k], (unsigned)counts[k][0],
                   (unsigned)counts[k][1], (unsigned)counts[k][2]);
        }
    }
}

static int info_slice(const char *path, const uint8_t *buf, size_t len, int verbose) {
    nm_image_t img;
    nm_detail_t d = {{0}};
    int err = nm_image_parse(buf, len, &img, &d);
    if (err) {
        /* Say what can still be said about a damaged file. */
        nm_image_t hdr;
        nm_detail_t d2 = {{0}};
        if (err == NM_ERR_CRC && nm_image_parse_header(buf, len, &hdr, &d2) == NM_OK) {
            printf("  arch:         %s/%s (header only: the CRC does not match)\n",
                   nm_arch_name(hdr.arch), nm_float_name(hdr.float_abi));
        }
        return cli_fail(err, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(err));
    }
    uint32_t ptr = nm_arch_ptr_size(img.arch);
    printf("  name:         %s\n", img.strtab);
    printf("  arch:         %s, float ABI %s\n", nm_arch_name(img.arch), nm_float_name(img.float_abi));
    printf("  format:       version %u, flags 0x%x%s\n", NM_FORMAT_VERSION, (unsigned)img.flags,
           (img.flags & NM_FLAG_RW_PCREL) ? " (rw-pcrel: data must follow text at rw_offset)" : "");
    printf("  crc32:        0x%08x (ok)\n", (unsigned)img.crc32);
    if (img.flags & NM_FLAG_XIP_LINKED) {
        printf("  xip-linked:   text at 0x%08x, RW at 0x%08x, bound-import crc 0x%08x, "
               "linked from crc 0x%08x\n",
               (unsigned)img.xip_text_addr, (unsigned)img.xip_rw_addr, (unsigned)img.xip_bind_crc,
               (unsigned)img.xip_src_crc);
    }
    printf("  image:        %u bytes\n", (unsigned)img.image_size);
    printf("  text:         %u bytes (align %u)\n", (unsigned)img.text_size, 1u << img.text_align_log2);
    printf("  data:         %u bytes (incl. GOT %u x %u at +0x%x) (align %u)\n", (unsigned)img.data_size,
           (unsigned)img.got_count, (unsigned)ptr, (unsigned)img.got_offset, 1u << img.rw_align_log2);
    printf("  bss:          %u bytes\n", (unsigned)img.bss_size);
    printf("  rw_offset:    0x%x\n", (unsigned)img.rw_offset);
    printf("  strings:      %u bytes\n", (unsigned)img.strtab_size);
    print_reloc_counts(&img);
    printf("  imports:      %u\n", (unsigned)img.n_imports);
    for (uint32_t i = 0; i < img.n_imports; i++) {
        nm_import_info_t im;
        if (nm_image_import(&img, i, &im) == NM_OK) {
            printf("    [%u] %08x %s\n", (unsigned)i, (unsigned)im.hash, im.name);
        }
    }
    printf("  exports:      %u\n", (unsigned)img.n_exports);
    for (uint32_t i = 0; i < img.n_exports; i++) {
        nm_export_info_t ex;
        if (nm_image_export(&img, i, &ex) == NM_OK) {
            printf("    %-4s %-4s +0x%05x %s%s\n", ex.kind == NM_EXPORT_FUNC ? "func" : "data",
                   ex.region == NM_REGION_TEXT ? "text" : "rw", (unsigned)ex.value, ex.name,
                   i == img.init_idx ? " (init)" : i == img.deinit_idx ? " (deinit)" : "");
        }
    }
    if (verbose) {
        nm_reloc_iter_t it;
        nm_reloc_t r;
        nm_reloc_iter_init(&it, &img);
        while (nm_reloc_next(&it, &r) == 1) {
            const char *where = r.site < img.text_size ? "text" : "data";
            uint32_t off = r.site < img.text_size ? r.site : r.site - img.text_size;
            if (r.target >= NM_TARGET_IMPORT0) {
                nm_import_info_t im = {0, "?"};
                nm_image_import(&img, r.target - NM_TARGET_IMPORT0, &im);
                printf("    reloc %s+0x%05x %s += %s\n", where, (unsigned)off, r.kind ? "ptr64" : "ptr32", im.name);
            } else {
                printf("    reloc %s+0x%05x %s += %s base\n", where, (unsigned)off, r.kind ? "ptr64" : "ptr32",
                       r.target == NM_TARGET_TEXT ? "text" : "rw");
            }
        }
    }
    return 0;
}

int cmd_info(int argc, char **argv) {
    int verbose = 0, rc = 0, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: natmod info [-v] MODULE.nmod...\n"
                 "\n"
                 "Show each module's arch(s), sizes, imports, exports, relocation counts\n"
                 "by kind and CRC status; for a universal module, every slice.\n"
                 "  -v   also list every relocation");
            return 0;
        }
        if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *path = argv[i];
        if (path[0] == '-') {
            if (strcmp(path, "-v")) {
                return cli_fail(NM_ERR_INVAL, "info: unknown option '%s'", path);
            }
            continue;
        }
        nfiles++;
        uint8_t *buf;
        size_t len;
        int err = cli_read_file(path, &buf, &len);
        if (err) {
            rc = cli_exit_code(err);
            continue;
        }
        printf("%s:\n", path);
        if (nm_is_universal(buf, len)) {
            nm_detail_t d = {{0}};
            int n = nm_universal_count(buf, len, &d);
            if (n < 0) {
                rc = cli_fail(n, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(n));
            } else {
                printf("  universal module, %d slice%s, %zu bytes\n", n, n == 1 ? "" : "s", len);
                for (int s = 0; s < n; s++) {
                    nm_slice_info_t si;
                    err = nm_universal_slice(buf, len, (uint32_t)s, &si, &d);
                    if (err) {
                        rc = cli_fail(err, "%s: slice %d: %s", path, s, d.msg);
                        break;
                    }
                    printf(" slice %d: %s/%s at +0x%x, %u bytes\n", s, nm_arch_name(si.arch),
                           nm_float_name(si.float_abi), (unsigned)si.offset, (unsigned)si.size);
                    int e2 = info_slice(path, buf + si.offset, si.size, verbose);
                    rc = rc ? rc : e2;
                }
            }
        } else {
            int e2 = info_slice(path, buf, len, verbose);
            rc = rc ? rc : e2;
        }
        free(buf);
    }
    if (!nfiles) {
        return cli_fail(NM_ERR_INVAL, "info: no module given (see natmod info --help)");
    }
    return rc;
}
