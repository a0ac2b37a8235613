/*
 * linkdump: link inputs and print the module the core produced. A debugging
 * aid for the linker (and a reference for how to call nml_link).
 *   linkdump [-a arch] [-f soft|hard] [-s fw.syms] [-g] [-e export] [-o out.nmod] inputs...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

static int arch_by_name(const char *s) {
    for (unsigned i = 1; i < NM_ARCH_COUNT; i++) {
        if (strcmp(nm_arch_name(i), s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int main(int argc, char **argv) {
    nml_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.arch = NM_ARCH_X64;
    static nml_input_t in[64];
    static const char *ex[16];
    size_t nin = 0, nex = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-a") && i + 1 < argc) {
            int a = arch_by_name(argv[++i]);
            if (a < 0) {
                fprintf(stderr, "unknown arch %s\n", argv[i]);
                return 2;
            }
            opt.arch = (uint8_t)a;
        } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
            opt.float_abi = !strcmp(argv[++i], "hard") ? NM_FLOAT_HARD : NM_FLOAT_SOFT;
        } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            opt.syms_path = argv[++i];
        } else if (!strcmp(argv[i], "-e") && i + 1 < argc && nex < 16) {
            ex[nex++] = argv[++i];
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "-g")) {
            opt.gc_sections = 1;
        } else if (!strcmp(argv[i], "-v")) {
            opt.verbose = 1;
        } else if (nin < 64) {
            in[nin++].path = argv[i];
        }
    }
    opt.inputs = in;
    opt.n_inputs = nin;
    opt.extra_exports = ex;
    opt.n_extra_exports = nex;
    nml_result_t res;
    char detail[256];
    int err = nml_link(&opt, &res, detail, sizeof detail);
    if (err) {
        fprintf(stderr, "error %d (%s): %s\n", err, nm_strerror(err), detail);
        return -err;
    }
    const nm_wmodule_t *m = &res.mod;
    printf("name %s arch %s flags 0x%x\n", m->name, nm_arch_name(m->arch), m->flags);
    printf("text %u align %u | data %u bss %u rw_offset %u align %u | got %u x at %u\n", m->text_size,
           m->text_align_log2, m->data_size, m->bss_size, m->rw_offset, m->rw_align_log2, m->got_count, m->got_offset);
    for (unsigned i = 0; i < m->n_imports; i++) {
        printf("import %u %s\n", i, m->imports[i]);
    }
    for (unsigned i = 0; i < m->n_exports; i++) {
        printf("export %u %s %s+0x%x %s%s\n", i, m->exports[i].name, m->exports[i].region ? "RW" : "TEXT",
               m->exports[i].value, m->exports[i].kind == NM_EXPORT_FUNC ? "func" : "data",
               i == m->init_idx ? " (init)" : i == m->deinit_idx ? " (deinit)" : "");
    }
    for (unsigned i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *r = &m->relocs[i];
        printf("reloc site %u (%s+0x%x) %s -> %s%d\n", r->site, r->site < m->text_size ? "text" : "data",
               r->site < m->text_size ? r->site : r->site - m->text_size, r->kind ? "PTR64" : "PTR32",
               r->target == 0 ? "TEXT" : r->target == 1 ? "RW" : "import ", r->target >= 2 ? (int)r->target - 2 : -1);
    }
    if (out) {
        uint8_t *buf;
        size_t len;
        err = nml_write_nmod(&res, &buf, &len, detail, sizeof detail);
        if (err) {
            fprintf(stderr, "write error %d: %s\n", err, detail);
            nml_result_free(&res);
            return -err;
        }
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
            perror(out);
            return 2;
        }
        free(buf);
        printf("wrote %s (%zu bytes)\n", out, len);
    }
    FILE *t = getenv("LINKDUMP_TEXT") ? fopen(getenv("LINKDUMP_TEXT"), "wb") : NULL;
    if (t) {
        fwrite(m->text, 1, m->text_size, t);
        fclose(t);
    }
    nml_result_free(&res);
    return 0;
}
