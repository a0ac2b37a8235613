/*
 * libFuzzer target for the host linker: the input bytes become one or two
 * in-memory inputs (ELF object and/or ar archive) linked for x86-64,
 * ARMv7-M/ARMv6-M, RISC-V or Xtensa. A successful link is written as .nmod and read back, which must
 * succeed: the linker may refuse an input, never produce a bad module.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_elf.c src/link/(all .c) src/format/(all .c) -o fuzz_elf
 *   ./fuzz_elf -max_total_time=60 tests/corpus/elf
 *
 * First byte (control): bit 0 arch (x86-64 / Thumb), bit 1 gc_sections,
 * bit 2 split the rest in two inputs at the position the second byte picks,
 * bit 3 wrap the second part in an ar archive (with bit 7, after a "/"
 * symbol index: the part's first byte is the index's length, the index's
 * bytes follow, raw), bit 4 link for .mpy
 * (entry mpy_init, packed) and read the .mpy back, bit 5 Thumb is armv6m
 * (else armv7m: the build-attribute checks refuse differently), bit 6
 * RISC-V instead (rv32imc, or rv64imc with bit 5: .mpy only), or with
 * bits 6 and 0 Xtensa (xtensa, or xtensawin with bit 5). Seeds from
 * the corpus have no control byte, so a plain ELF first byte (0x7f) also
 * selects plain mode, linked both ways, for the arch its e_machine and
 * class name (x86-64 for anything else). The input is also read as a firmware
 * ELF / symbol file (nml_abs_load), which must refuse or succeed, never
 * misbehave, and as a symbol name to demangle (nml_demangle), which must
 * end, in bounds, with a NUL-terminated result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"
#include "natmod/mpy.h"

/* A 60-byte ar member header for name and size at p. */
static void ar_header(uint8_t *p, const char *name, size_t size) {
    memset(p, ' ', 60);
    memcpy(p, name, strlen(name));
    p[40] = '6';
    p[41] = '4';
    p[42] = '4';
    char num[16];
    int k = 0;
    size_t v = size;
    do {
        num[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k < 10);
    for (int i = 0; i < k; i++) {
        p[48 + i] = (uint8_t)num[k - 1 - i];
    }
    p[58] = '`';
    p[59] = '\n';
}

/* An archive of one member d[n], after a "/" symbol index of the raw bytes
 * ix[nix] if ix is not NULL (the member's header is then at 68 + nix +
 * (nix & 1)): the fuzzer writes the index, lies and all. */
static uint8_t *wrap_ar(const uint8_t *d, size_t n, const uint8_t *ix, size_t nix, size_t *out_len) {
    size_t at = 8 + (ix ? 60 + nix + (nix & 1) : 0);
    size_t len = at + 60 + n + (n & 1);
    uint8_t *a = malloc(len);
    if (!a) {
        return NULL;
    }
    memcpy(a, "!<arch>\n", 8);
    if (ix) {
        ar_header(a + 8, "/", nix);
        memcpy(a + 68, ix, nix);
        if (nix & 1) {
            a[68 + nix] = '\n';
        }
    }
    ar_header(a + at, "m.o/", n);
    memcpy(a + at + 60, d, n);
    if (n & 1) {
        a[at + 60 + n] = '\n';
    }
    *out_len = len;
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    uint8_t ctl = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    nml_options_t opt;
    memset(&opt, 0, sizeof opt);
    if (ctl == 0x7f || ctl == '!') { /* a corpus seed as-is */
        ctl = 0;
        body = data;
        n = size;
    }
    opt.arch = !(ctl & 1) ? NM_ARCH_X64 : (ctl & 0x20) ? NM_ARCH_ARMV6M : NM_ARCH_ARMV7M;
    if (ctl & 0x40) {
        opt.arch = (ctl & 1) ? ((ctl & 0x20) ? NM_ARCH_XTENSAWIN : NM_ARCH_XTENSA)
                             : ((ctl & 0x20) ? NM_ARCH_RV64IMC : NM_ARCH_RV32IMC);
    }
    if (body == data && n >= 20 && body[0] == 0x7f) {
        unsigned machine = body[18] | (unsigned)body[19] << 8;
        opt.arch = machine == 243 ? (body[4] == 2 ? NM_ARCH_RV64IMC : NM_ARCH_RV32IMC)
                   : machine == 40 ? NM_ARCH_ARMV7M
                   : machine == 94 ? NM_ARCH_XTENSA
                                   : NM_ARCH_X64;
    }
    opt.gc_sections = (ctl >> 1) & 1;
    nml_input_t in[2];
    memset(in, 0, sizeof in);
    uint8_t *ar = NULL;
    size_t nin = 1;
    in[0].path = "fuzz.o";
    in[0].data = body;
    in[0].size = n;
    if ((ctl & 4) && n > 1) {
        size_t cut = 1 + (size_t)body[0] * (n - 1) / 256;
        in[0].data = body + 1;
        in[0].size = cut - 1;
        in[1].path = "fuzz2.o";
        in[1].data = body + cut;
        in[1].size = n - cut;
        nin = 2;
    }
    if (ctl & 8) {
        nml_input_t *w = &in[nin - 1];
        size_t alen;
        const uint8_t *ix = NULL;
        size_t nix = 0;
        if ((ctl & 0x80) && w->size > 0) { /* first byte: index length; then the index */
            nix = w->data[0] < w->size - 1 ? w->data[0] : w->size - 1;
            ix = w->data + 1;
            w->data += 1 + nix;
            w->size -= 1 + nix;
        }
        ar = wrap_ar(w->data, w->size, ix, nix, &alen);
        if (!ar) {
            return 0;
        }
        w->path = "fuzz.a";
        w->data = ar;
        w->size = alen;
    }
    opt.inputs = in;
    opt.n_inputs = nin;
    nml_result_t res;
    char detail[256];
    nml_abs_syms_t *abs = NULL;
    {
        char *name = malloc(n + 3);
        char dm[256];
        if (name) {
            memcpy(name, "_Z", 2);
            memcpy(name + 2, body, n);
            name[n + 2] = 0; /* stops at the first NUL of body, as a symbol name would */
            (void)nml_demangle(name + 2, dm, sizeof dm);
            (void)nml_demangle(name, dm, sizeof dm);
            if (!memchr(dm, 0, sizeof dm)) {
                abort();
            }
            free(name);
        }
    }
    if (nml_abs_load("fuzz.ld", body, n, &abs, detail, sizeof detail) == NM_OK) {
        uint64_t addr;
        (void)nml_abs_find(abs, "mpy_init", &addr);
        nml_abs_free(abs);
    }
    if ((ctl & 0x10) || body == data) {
        nml_options_t mo = opt;
        nml_mpy_imports_t im = {NULL, NULL, NULL};
        mo.entry = "mpy_init";
        mo.packed = 1;
        mo.check_import = nml_mpy_check_import;
        mo.import_ctx = &im;
        mo.same_import = nml_mpy_same_import;
        if (nml_link(&mo, &res, detail, sizeof detail) == NM_OK) {
            static const char *const q[] = {"a", "b"};
            nml_mpy_options_t wo = {"fuzz.mpy", q, 2, NULL, 0};
            uint8_t *img;
            size_t len;
            if (nml_write_mpy(&res, &wo, &img, &len, detail, sizeof detail) == NM_OK) {
                nm_mpy_t m;
                nm_detail_t d;
                if (nm_mpy_parse(img, len, &m, &d) != NM_OK || m.size != len) {
                    abort(); /* the .mpy back-end wrote a file its reader refuses */
                }
                free(img);
            }
            nml_result_free(&res);
        }
        if (body != data) {
            free(ar);
            return 0;
        }
    }
    if (nml_link(&opt, &res, detail, sizeof detail) == NM_OK) {
        uint8_t *img;
        size_t len;
        if (nml_write_nmod(&res, &img, &len, detail, sizeof detail) == NM_OK) {
            nm_image_t im;
            nm_detail_t d;
            if (nm_image_parse(img, len, &im, &d) != NM_OK) {
                abort(); /* the linker produced a module its own reader refuses */
            }
            free(img);
        }
        nml_result_free(&res);
    }
    free(ar);
    return 0;
}
