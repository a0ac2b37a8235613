/*
 * RISC-V linking on real objects compiled and assembled at build time (see
 * CMakeLists.txt) by riscv64-unknown-elf-gcc, clang (Debian's 14, always
 * there) and clang-22 (when installed), with and without relaxation, for
 * -mcmodel=medlow, medany and -fpic. Each .nmod is written, read back with
 * the format reader, placed in an RV32 interpreter (rv32emu.c) with TEXT
 * and RW far apart (RW above and below TEXT) and its relocation stream
 * applied as docs/format.md 4.1 says; then its functions run:
 *   - features.c must give what the same source compiled natively (into
 *     this program) gives;
 *   - rv_relocs.S checks each relocation type by hand (PC-relative pairs
 *     with several LOs per HI and a LO before its HI, stores, GOT, label
 *     differences, absent weak symbols, alignment padding);
 *   - errors: ranges, TLS, a data import in medlow code, an archive member
 *     of the other ELF class;
 *   - .mpy for rv32imc and rv64imc (tests/link/mpy, dynruntime.mk's flags):
 *     read back; rv32 ones loaded as py/persistentcode.c does (text block,
 *     bss block, relocation ops against a fake mp_fun_table) and run.
 *   test_link_rv <objdir> <rv_fw.syms> <rv32 libgcc.a> <rv32 libc.a> <rv64 libgcc.a>
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "link/link.h"
#include "natmod/mpy.h"
#include "lt_util.h"
#include "rv32emu.h"

static const char *syms, *libgcc32, *libc32, *libgcc64;

/* Link the NULL-terminated list of paths for rv32imc (.nmod layout). */
static int link_rv(nml_result_t *res, ...) {
    lt_link_t l;
    va_list ap;
    va_start(ap, res);
    nml_options_t *opt = lt_options_va(&l, NM_ARCH_RV32IMC, NM_FLOAT_SOFT, ap);
    va_end(ap);
    opt->syms_path = syms;
    return nml_link(opt, res, detail, sizeof detail);
}

/* ------------------------------------------------ the firmware's side */

int fw_op(int x);
void *fw_copy(void *d, const void *s, unsigned long n);
int fw_op(int x) {
    return x * 3 + 1;
}
void *fw_copy(void *d, const void *s, unsigned long n) {
    return memcpy(d, s, n);
}

/* host calls: the imports a module may have, by name */
static const char *const fw_names[] = {"fw_op", "fw_copy", "fw_var"};
enum { HCALL_BASE = 0xf0000000u, FW_VAR_ADDR = 0x30000000u, EXIT_PC = 0xfffffff0u };
static uint8_t fw_var_mem[4] = {0x39, 0x05, 0, 0}; /* fw_var = 1337 */

/* .mpy runs: what mpy_init stores with mp_fun_table's store_global */
static struct {
    uint32_t q, v;
} stored[8];
static int n_stored;

static int hcall(rv_cpu_t *c, unsigned idx, void *ctx) {
    (void)ctx;
    if (idx == 2) { /* store_global(qst, obj) */
        if (n_stored < 8) {
            stored[n_stored].q = c->x[10];
            stored[n_stored].v = c->x[11];
            n_stored++;
        }
        return 0;
    }
    if (idx == 3 || idx == 4) { /* memset(s, c, n), memmove(d, s, n) */
        uint8_t *d = rv_ptr(c, c->x[10], c->x[12]), *s = idx == 4 ? rv_ptr(c, c->x[11], c->x[12]) : NULL;
        if (!d || (idx == 4 && !s)) {
            return 1;
        }
        if (idx == 3) {
            memset(d, (int)(c->x[11] & 0xff), c->x[12]);
        } else {
            memmove(d, s, c->x[12]);
        }
        return 0;
    }
    if (idx == 0) {
        c->x[10] = (uint32_t)fw_op((int)c->x[10]);
        return 0;
    }
    if (idx == 1) {
        uint8_t *d = rv_ptr(c, c->x[10], c->x[12]), *s = rv_ptr(c, c->x[11], c->x[12]);
        if (!d || !s) {
            return 1;
        }
        memmove(d, s, c->x[12]);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------ loading (format.md 4.1) */

typedef struct loaded {
    rv_cpu_t cpu;
    uint8_t *text, *rw, *stack, *bytes;
    nm_image_t img;
    uint32_t text_base, rw_base;
} loaded_t;

enum { STACK_TOP = 0x7ff00000u, STACK_SIZE = 64 * 1024 };

static uint32_t import_addr(const nm_image_t *img, uint32_t i) {
    nm_import_info_t im;
    if (nm_image_import(img, i, &im) != NM_OK) {
        return 0;
    }
    for (unsigned k = 0; k < sizeof fw_names / sizeof fw_names[0]; k++) {
        if (!strcmp(im.name, fw_names[k])) {
            return !strcmp(im.name, "fw_var") ? FW_VAR_ADDR : HCALL_BASE + 4 * k;
        }
    }
    return 0;
}

static uint32_t u_field(uint32_t insn, uint32_t v) {
    return (insn & 0xfff) | ((v + 0x800) & 0xfffff000u);
}
static uint32_t i_field(uint32_t insn, uint32_t v) {
    return (insn & 0xfffff) | (v & 0xfff) << 20;
}
static uint32_t s_field(uint32_t insn, uint32_t v) {
    return (insn & 0x01fff07f) | ((v >> 5) & 0x7f) << 25 | (v & 0x1f) << 7;
}

/* Write the .nmod slice (buf) into the interpreter with TEXT at tb and RW
 * at rb, and apply its relocation stream. 0 or -1 with a message. */
static int load(const uint8_t *buf, size_t len, uint32_t tb, uint32_t rb, loaded_t *l) {
    memset(l, 0, sizeof *l);
    nm_detail_t d = {{0}};
    if (nm_image_parse(buf, len, &l->img, &d) != NM_OK) {
        printf("    (parse: %s)\n", d.msg);
        return -1;
    }
    nm_image_t *m = &l->img;
    if (m->arch != NM_ARCH_RV32IMC || (tb & ((1u << m->text_align_log2) - 1)) ||
        (rb & ((1u << m->rw_align_log2) - 1))) {
        printf("    (arch %u or misaligned placement)\n", m->arch);
        return -1;
    }
    l->text_base = tb;
    l->rw_base = rb;
    l->text = calloc(1, m->text_size + 4);
    l->rw = calloc(1, (size_t)m->data_size + m->bss_size + 4);
    l->stack = calloc(1, STACK_SIZE);
    if (!l->text || !l->rw || !l->stack) {
        return -1;
    }
    memcpy(l->text, m->text, m->text_size);
    memcpy(l->rw, m->data, m->data_size);
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, m);
    while (nm_reloc_next(&it, &r) == 1) {
        int in_text = r.site < m->text_size;
        uint8_t *p = in_text ? l->text + r.site : l->rw + (r.site - m->text_size);
        uint32_t P = in_text ? tb + r.site : rb + (r.site - m->text_size);
        uint32_t S = r.target == NM_TARGET_TEXT ? tb : r.target == NM_TARGET_RW ? rb
                                                                                 : import_addr(m, r.target - NM_TARGET_IMPORT0);
        if (r.target >= NM_TARGET_IMPORT0 && !S) {
            printf("    (unknown import %u)\n", (unsigned)(r.target - NM_TARGET_IMPORT0));
            return -1;
        }
        uint32_t w;
        memcpy(&w, p, 4);
        if (r.kind == NM_RELOC_PTR32) {
            w += S;
        } else if (r.kind == NM_RELOC_INSN) {
            uint32_t A = S + r.addend, Phi = tb + r.hi_site;
            switch (r.form) {
            case NM_INSN_RV_HI20: w = u_field(w, A); break;
            case NM_INSN_RV_LO12_I: w = i_field(w, A); break;
            case NM_INSN_RV_LO12_S: w = s_field(w, A); break;
            case NM_INSN_RV_PCREL_HI20: w = u_field(w, A - P); break;
            case NM_INSN_RV_PCREL_LO12_I: w = i_field(w, A - Phi); break;
            default: w = s_field(w, A - Phi); break;
            }
        } else {
            printf("    (relocation kind %u)\n", r.kind);
            return -1;
        }
        memcpy(p, &w, 4);
    }
    rv_cpu_t *c = &l->cpu;
    c->seg[0] = (rv_seg_t){tb, m->text_size, l->text};
    c->seg[1] = (rv_seg_t){rb, m->data_size + m->bss_size, l->rw};
    c->seg[2] = (rv_seg_t){STACK_TOP - STACK_SIZE, STACK_SIZE, l->stack};
    c->seg[3] = (rv_seg_t){FW_VAR_ADDR, 4, fw_var_mem};
    c->nseg = 4;
    c->hcall_base = HCALL_BASE;
    c->n_hcalls = 2;
    c->hcall = hcall;
    c->exit_pc = EXIT_PC;
    return 0;
}

static void unload(loaded_t *l) {
    free(l->text);
    free(l->rw);
    free(l->stack);
    memset(l, 0, sizeof *l);
}

/* Address of an export, or 0. */
static uint32_t sym(loaded_t *l, const char *name) {
    for (uint32_t i = 0; i < l->img.n_exports; i++) {
        nm_export_info_t e;
        if (nm_image_export(&l->img, i, &e) == NM_OK && !strcmp(e.name, name)) {
            return (e.region == NM_REGION_RW ? l->rw_base : l->text_base) + e.value;
        }
    }
    return 0;
}

/* Call export name with args; a0 | a1 << 32. Fails the test on a fault. */
static uint64_t call(loaded_t *l, const char *name, unsigned n, ...) {
    uint32_t a[8] = {0};
    va_list ap;
    va_start(ap, n);
    for (unsigned i = 0; i < n && i < 8; i++) {
        a[i] = va_arg(ap, uint32_t);
    }
    va_end(ap);
    uint32_t fn = sym(l, name);
    if (!fn) {
        printf("    (no export %s)\n", name);
        CHECK(fn != 0);
        return 0;
    }
    if (rv_call(&l->cpu, fn, a, n, STACK_TOP - 16, 50u * 1000 * 1000) != 0) {
        printf("    (%s: %s)\n", name, l->cpu.fault);
        CHECK(!"the module faulted");
        return 0;
    }
    return l->cpu.x[10] | (uint64_t)l->cpu.x[11] << 32;
}

#define call32(...) ((uint32_t)call(__VA_ARGS__))

/* Link paths, write the slice, load it at (tb, rb). */
static int link_load(loaded_t *l, uint32_t tb, uint32_t rb, uint8_t **img, size_t *len, const char *const *paths) {
    nml_result_t r;
    lt_link_t lk;
    nml_options_t *opt = lt_options(&lk, NM_ARCH_RV32IMC, NM_FLOAT_SOFT, paths);
    opt->syms_path = syms;
    int err = nml_link(opt, &r, detail, sizeof detail);
    if (err) {
        printf("    (link %s: %d %s)\n", paths[0], err, detail);
        return -1;
    }
    err = nml_write_nmod(&r, img, len, detail, sizeof detail);
    nml_result_free(&r);
    if (err) {
        printf("    (write %s: %d %s)\n", paths[0], err, detail);
        return -1;
    }
    return load(*img, *len, tb, rb, l);
}

/* ------------------------------------------------ features.c */

/* the same functions, compiled natively into this program */
int feat_op(int i, int a, int b);
int feat_data(int i, int x);
int feat_switch(int k, int x);
uint64_t feat_div64(uint64_t a, uint64_t b);
int64_t feat_sdiv64(int64_t a, int64_t b);
uint64_t feat_double(int n, int d);
uint32_t feat_float(int n, int d);
int feat_ftoi(int n);
int feat_copy(int x);
int feat_name(int i);
int nm_init(void);

#define N_DATA 9
static int want_init, want_data[N_DATA];

/* Every export of features.c against the native results. */
static void check_features(loaded_t *l, const char *what) {
    int before = test_failures;
    CHECK_EQ((int32_t)call(l, "nm_init", 0), want_init);
    for (int i = 0; i < 4; i++) {
        for (int a = -3; a < 40; a += 7) {
            CHECK_EQ((int32_t)call(l, "feat_op", 3, i, a, 11 - a), feat_op(i, a, 11 - a));
        }
    }
    for (int i = 0; i < N_DATA; i++) {
        CHECK_EQ((int32_t)call(l, "feat_data", 2, i, i * 5 - 7), want_data[i]);
    }
    for (int k = -2; k < 14; k++) {
        CHECK_EQ((int32_t)call(l, "feat_switch", 2, k, 37 + k), feat_switch(k, 37 + k));
    }
    static const uint64_t u[][2] = {{1000000000000ull, 7}, {0xfedcba9876543210ull, 0x12345678ull},
                                    {12345, 0x100000000ull}, {~0ull, 3}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        uint64_t a = u[i][0], b = u[i][1];
        CHECK(call(l, "feat_div64", 4, (uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32)) ==
              feat_div64(a, b));
        CHECK(call(l, "feat_sdiv64", 4, (uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32)) ==
              (uint64_t)feat_sdiv64((int64_t)a, (int64_t)b));
    }
    for (int n = -50; n < 60; n += 13) {
        CHECK(call(l, "feat_double", 2, n, 7) == feat_double(n, 7));
        CHECK_EQ((uint32_t)call(l, "feat_float", 2, n, 3), feat_float(n, 3));
        CHECK_EQ((int32_t)call(l, "feat_ftoi", 1, n), feat_ftoi(n));
    }
    CHECK_EQ((int32_t)call(l, "feat_copy", 1, 1000), feat_copy(1000));
    for (int i = 0; i < 4; i++) {
        CHECK_EQ((int32_t)call(l, "feat_name", 1, i), feat_name(i));
    }
    if (test_failures != before) {
        printf("    (in %s)\n", what);
    }
}

/* The placements each module runs at: RW after TEXT, RW 2.5 GiB below it
 * (beyond AUIPC's reach if anything were resolved at link time). */
static const uint32_t places[][2] = {{0x00100000u, 0x00180000u}, {0xa0000000u, 0x00200000u}};

static void features_run_as_compiled_natively(void) {
    static const char *const variants[] = {
        "features_gcc_medlow.o", "features_gcc_medlow_norelax.o", "features_gcc_medany.o",
        "features_gcc_medany_norelax.o", "features_gcc_fpic.o", "features_gcc_O2_align.o",
        "features_clang_medlow.o", "features_clang_medany_norelax.o", "features_clang_fpic.o",
        "features_clang22_medlow.o", "features_clang22_medany.o", "features_clang22_fpic_norelax.o",
        "features_clang22_O2.o",
    };
    want_init = nm_init();
    for (int i = 0; i < N_DATA; i++) {
        want_data[i] = feat_data(i, i * 5 - 7);
    }
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const char *o = obj(variants[v]);
        if (!exists(o)) {
            printf("    (%s not built: its compiler is missing)\n", variants[v]);
            continue;
        }
        for (size_t p = 0; p < sizeof places / sizeof places[0]; p++) {
            loaded_t l;
            uint8_t *img = NULL;
            size_t len = 0;
            const char *const paths[] = {o, libgcc32, libc32, NULL};
            int err = link_load(&l, places[p][0], places[p][1], &img, &len, paths);
            CHECK_EQ(err, 0);
            if (!err) {
                if (p == 0) {
                    printf("    %-36s %6zu bytes (text %u, data %u, bss %u, %u relocations)\n", variants[v], len,
                           (unsigned)l.img.text_size, (unsigned)l.img.data_size, (unsigned)l.img.bss_size,
                           (unsigned)l.img.n_relocs);
                }
                check_features(&l, variants[v]);
                ran++;
            }
            unload(&l);
            free(img);
        }
    }
    CHECK(ran >= 2 * 6); /* the gcc ones at least (clang 14 is there too wherever the fuzzers build) */
}

/* ------------------------------------------------ rv_relocs.S */

static void relocs_by_hand(const char *name) {
    const char *o = obj(name);
    if (!exists(o)) {
        printf("    (%s not built)\n", name);
        return;
    }
    for (size_t p = 0; p < sizeof places / sizeof places[0]; p++) {
        loaded_t l;
        uint8_t *img = NULL;
        size_t len = 0;
        const char *const paths[] = {o, NULL};
        int before = test_failures;
        if (link_load(&l, places[p][0], places[p][1], &img, &len, paths)) {
            CHECK(!"links");
            free(img);
            continue;
        }
        CHECK_EQ(call32(&l, "pairs_shared", 0), 100 + 100 + 200);
        CHECK_EQ(call32(&l, "pairs_lo_first", 0), 300);
        CHECK_EQ(call32(&l, "pairs_store", 1, 41), 42);
        CHECK_EQ(call32(&l, "abs_store", 1, 50), 52);
        CHECK_EQ(call32(&l, "abs_text", 0), 4242);
        CHECK_EQ(call32(&l, "text_ref", 0), 4242);
        CHECK_EQ(call32(&l, "got_import", 1, 5), fw_op(5));
        CHECK_EQ(call32(&l, "got_local", 0), 200);
        CHECK_EQ(call32(&l, "call_import", 1, 5), fw_op(fw_op(5)));
        CHECK_EQ(call32(&l, "branches", 1, 9), 27);
        for (uint32_t k = 0; k < 3; k++) {
            CHECK_EQ(call32(&l, "jt", 1, k), 10 * (k + 1));
        }
        CHECK_EQ(call32(&l, "weak_guard", 0), 77);
        /* vals[0] + 0: the aligned label is on a 16-byte boundary */
        CHECK_EQ(call32(&l, "aligned_fn", 1, 0), 100);
        /* the data words: label differences and pointers */
        uint32_t diffs = sym(&l, "diffs"), ptrs = sym(&l, "ptrs");
        uint8_t *dp = rv_ptr(&l.cpu, diffs, 4), *pp = rv_ptr(&l.cpu, ptrs, 8);
        CHECK(dp && pp);
        if (dp && pp) {
            CHECK_EQ(dp[0] | dp[1] << 8, 8);  /* .Lc2 - .Lc0: two (li, ret) pairs of 2 + 2 bytes */
            CHECK_EQ(dp[2], 4);
            uint32_t p0, p1;
            memcpy(&p0, pp, 4);
            memcpy(&p1, pp + 4, 4);
            CHECK_EQ(rv_ptr(&l.cpu, p0, 2) ? (rv_ptr(&l.cpu, p0, 2)[0] | rv_ptr(&l.cpu, p0, 2)[1] << 8) : 0,
                     0x4551); /* c.li a0, 20 */
            CHECK_EQ(p1, l.rw_base + 8 + 0); /* vals + 8: vals is RW's first word */
        }
        /* a call to an absent weak function became lui ra, 0; jalr ra, 0(ra) */
        uint32_t wc = sym(&l, "weak_call");
        uint8_t *wp = rv_ptr(&l.cpu, wc, 8);
        CHECK(wp && (wp[0] & 0x7f) == 0x37 && wp[1] == 0 && wp[2] == 0 && wp[3] == 0);
        if (test_failures != before) {
            printf("    (in %s at text 0x%08x, rw 0x%08x)\n", name, (unsigned)places[p][0], (unsigned)places[p][1]);
        }
        unload(&l);
        free(img);
    }
}

static void relocations_by_hand_gcc_relaxed_and_not(void) {
    relocs_by_hand("rv_relocs_gcc.o");
    relocs_by_hand("rv_relocs_gcc_norelax.o");
}

static void relocations_by_hand_clang(void) {
    relocs_by_hand("rv_relocs_clang.o");
    relocs_by_hand("rv_relocs_clang22.o");
}

/* The padding the assembler left for relaxation is cut to what the
 * alignment needs: the section keeps the largest alignment asked for. */
static void align_padding_is_cut_and_alignment_kept(void) {
    nml_result_t r;
    CHECK_EQ(link_rv(&r, obj("rv_relocs_gcc.o"), NULL), NM_OK);
    if (r.priv) {
        CHECK(r.mod.text_align_log2 >= 5); /* .p2align 5 in .text.aligned */
        nml_result_t nr;
        CHECK_EQ(link_rv(&nr, obj("rv_relocs_gcc_norelax.o"), NULL), NM_OK);
        /* with relaxation gas leaves the most padding any placement could
         * need, and natmod cuts it to what the alignment needs: never more
         * text than gas's exact padding without relaxation */
        if (nr.priv) {
            CHECK(r.mod.text_size <= nr.mod.text_size);
            nml_result_free(&nr);
        }
        nml_result_free(&r);
    }
}

/* ------------------------------------------------ data imports */

static void data_import_needs_the_got(void) {
    nml_result_t r;
    CHECK_EQ(link_rv(&r, obj("fwvar_medlow.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "fwvar_medlow.o: .text.get_fw_var+0x0: R_RISCV_HI20 against 'fw_var'");
    CHECK_STR_CONTAINS(detail, "compile with -fpic");
    CHECK_EQ(link_rv(&r, obj("fwvar_medany.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "R_RISCV_PCREL_HI20 against 'fw_var'");
    /* with -fpic: a GOT slot, reached by an AUIPC/LW pair of INSN entries */
    for (size_t p = 0; p < sizeof places / sizeof places[0]; p++) {
        loaded_t l;
        uint8_t *img = NULL;
        size_t len = 0;
        const char *const paths[] = {obj("fwvar_fpic.o"), NULL};
        if (link_load(&l, places[p][0], places[p][1], &img, &len, paths) == 0) {
            CHECK_EQ(call32(&l, "get_fw_var", 0), 1337);
            CHECK_EQ(l.img.got_count, 1);
        } else {
            CHECK(!"fwvar_fpic.o links");
        }
        unload(&l);
        free(img);
    }
}

/* ------------------------------------------------ errors */

static void errors_name_section_offset_relocation_and_symbol(void) {
    nml_result_t r;
    CHECK_EQ(link_rv(&r, obj("rv_range.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "rv_range.o: .text.near+0x0: R_RISCV_BRANCH against 'far_label'");
    CHECK_STR_CONTAINS(detail, "out of range for a conditional branch");
    CHECK_EQ(link_rv(&r, obj("rv_range_rvc.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "R_RISCV_RVC_BRANCH against 'far_label'");
    CHECK_STR_CONTAINS(detail, "+-256 bytes");
    CHECK_EQ(link_rv(&r, obj("rv_range_cj.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "R_RISCV_RVC_JUMP against 'far_label'");
    CHECK_EQ(link_rv(&r, obj("rv_tls.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "R_RISCV_TPREL_HI20 against 'counter'");
    CHECK_STR_CONTAINS(detail, "thread-local storage not supported");
    /* an archive member of the other ELF class: rv64's libgcc for rv32 code */
    CHECK_EQ(link_rv(&r, obj("features_gcc_medlow.o"), libgcc64, libc32, NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "ELF64 object, but rv32imc code is ELF32");
    CHECK_STR_CONTAINS(detail, "libgcc.a(");
    /* rv64imc is .mpy only */
    nml_options_t opt;
    nml_input_t in = {obj("rv_relocs_gcc.o"), NULL, 0};
    memset(&opt, 0, sizeof opt);
    opt.arch = NM_ARCH_RV64IMC;
    opt.inputs = &in;
    opt.n_inputs = 1;
    CHECK_EQ(nml_link(&opt, &r, detail, sizeof detail), NM_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(detail, "rv64imc is linked for .mpy only");
    /* an rv32 object for rv64 is the wrong class too */
    opt.packed = 1;
    CHECK_EQ(nml_link(&opt, &r, detail, sizeof detail), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "ELF32 object, but rv64imc code is ELF64");
}

/* ------------------------------------------------ .mpy */

static const char *const mpy_qstrs[] = {"answer", "buf", "type"};

typedef struct mpy_linked {
    nml_result_t res;
    uint8_t *mpy;
    size_t len;
} mpy_linked_t;

/* Link one object for .mpy as natmod mpy link does (no archives). */
static int link_mpy(unsigned arch, const char *path, size_t nq, uint32_t arch_flags, mpy_linked_t *l) {
    nml_input_t in = {path, NULL, 0};
    nml_mpy_imports_t im = {NULL, NULL, NULL};
    nml_options_t o;
    memset(l, 0, sizeof *l);
    memset(&o, 0, sizeof o);
    o.arch = (uint8_t)arch;
    o.float_abi = NM_FLOAT_SOFT;
    o.inputs = &in;
    o.n_inputs = 1;
    o.gc_sections = 1;
    lt_mpy_options(&o, &im);
    detail[0] = 0;
    int err = nml_link(&o, &l->res, detail, sizeof detail);
    if (!err) {
        nml_mpy_options_t mo = {"mod.mpy", mpy_qstrs, nq, NULL, arch_flags};
        err = nml_write_mpy(&l->res, &mo, &l->mpy, &l->len, detail, sizeof detail);
    }
    return err;
}

static void unlink_mpy(mpy_linked_t *l) {
    free(l->mpy);
    nml_result_free(&l->res);
}

/* Where the entry jump at text 0 (c.j, or auipc t6 + jalr) goes. */
static int64_t rv_jump_target(const uint8_t *t) {
    uint32_t h = (uint32_t)(t[0] | t[1] << 8);
    if ((h & 0xe003) == 0xa001) {
        uint32_t off = ((h >> 1) & 0x800) | ((h >> 7) & 0x10) | ((h >> 1) & 0x300) | ((h << 2) & 0x400) |
                       ((h >> 1) & 0x40) | ((h << 1) & 0x80) | ((h >> 2) & 0xe) | ((h << 3) & 0x20);
        return (int32_t)(off << 20) >> 20;
    }
    uint32_t a, j;
    memcpy(&a, t, 4);
    memcpy(&j, t + 4, 4);
    if ((a & 0xfff) != (31u << 7 | 0x17) || (j & 0xfffff) != (31u << 15 | 0x67)) {
        return -1;
    }
    return (int64_t)(int32_t)(a & 0xfffff000u) + ((int32_t)j >> 20);
}

enum {
    MPY_TEXT = 0x40000000u, MPY_BSS = 0x50000000u, MPY_QT = 0x60000000u, MPY_FT = 0x61000000u,
    MPY_OBJS = 0x62000000u, QBASE = 1000,
};

/* py/persistentcode.c's steps: text and bss blocks, relocation ops, then
 * mpy_init(NULL, n_args, 0, NULL) must return mp_const_none. */
static int run_mpy(const mpy_linked_t *l, uint32_t n_args, uint8_t **text_out, uint32_t *text_len) {
    nm_mpy_t m;
    nm_detail_t d;
    if (nm_mpy_parse(l->mpy, l->len, &m, &d)) {
        printf("    (mpy parse: %s)\n", d.msg);
        return -1;
    }
    static uint8_t ft[NM_MPY_FUN_TABLE_SIZE * 4], qt[16], objs[32], stack[STACK_SIZE], bss[256];
    uint8_t *text = calloc(1, m.text_size + 4);
    if (!text || m.bss_size > sizeof bss) {
        free(text);
        return -1;
    }
    memcpy(text, m.text, m.text_size);
    memset(bss, 0, sizeof bss);
    for (uint32_t i = 0; i < NM_MPY_FUN_TABLE_SIZE; i++) {
        uint32_t v = 0xdead0000u + i;
        v = i == 0 ? MPY_OBJS : i == 13 ? HCALL_BASE + 8 : i == NM_MPY_FUN_MEMSET ? HCALL_BASE + 12
            : i == NM_MPY_FUN_MEMMOVE ? HCALL_BASE + 16 : i == NM_MPY_FUN_TYPE_TYPE ? MPY_OBJS + 16 : v;
        memcpy(ft + 4 * i, &v, 4);
    }
    for (int i = 0; i < 8; i++) {
        qt[2 * i] = (uint8_t)((QBASE + i) & 0xff);
        qt[2 * i + 1] = (uint8_t)((QBASE + i) >> 8);
    }
    nm_mpy_iter_t it;
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(&m, &it);
    while (nm_mpy_reloc_next(&it, &r)) {
        uint32_t dest = 0;
        switch (r.dest) {
        case NM_MPY_DEST_TEXT: dest = MPY_TEXT; break;
        case NM_MPY_DEST_BSS: dest = MPY_BSS; break;
        case NM_MPY_DEST_QSTR_TABLE: dest = MPY_QT; break;
        case NM_MPY_DEST_FUN_TABLE: dest = MPY_FT; break;
        default:
            if (r.dest >= NM_MPY_DEST_FUN0) {
                memcpy(&dest, ft + 4 * (r.dest - NM_MPY_DEST_FUN0), 4);
            }
            break;
        }
        for (uint32_t k = 0; k < r.n; k++) {
            uint32_t w;
            memcpy(&w, text + 4 * (r.word + k), 4);
            w += dest;
            memcpy(text + 4 * (r.word + k), &w, 4);
        }
    }
    rv_cpu_t c;
    memset(&c, 0, sizeof c);
    c.seg[0] = (rv_seg_t){MPY_TEXT, m.text_size, text};
    c.seg[1] = (rv_seg_t){MPY_BSS, (uint32_t)sizeof bss, bss};
    c.seg[2] = (rv_seg_t){MPY_QT, (uint32_t)sizeof qt, qt};
    c.seg[3] = (rv_seg_t){MPY_FT, (uint32_t)sizeof ft, ft};
    c.seg[4] = (rv_seg_t){MPY_OBJS, (uint32_t)sizeof objs, objs};
    c.seg[5] = (rv_seg_t){STACK_TOP - STACK_SIZE, STACK_SIZE, stack};
    c.nseg = 6;
    c.hcall_base = HCALL_BASE;
    c.n_hcalls = 5;
    c.hcall = hcall;
    c.exit_pc = EXIT_PC;
    n_stored = 0;
    uint32_t args[4] = {0, n_args, 0, 0};
    int rc = rv_call(&c, MPY_TEXT, args, 4, STACK_TOP - 16, 1000000);
    if (rc) {
        printf("    (mpy_init: %s)\n", c.fault);
    }
    *text_out = text;
    *text_len = m.text_size;
    return rc ? -1 : c.x[10] == MPY_OBJS ? 0 : -2;
}

static uint32_t stored_value(uint32_t q) {
    for (int i = 0; i < n_stored; i++) {
        if (stored[i].q == q) {
            return stored[i].v;
        }
    }
    return 0xffffffffu;
}

/* The header, and the entry at text 0 (or a jump there). */
static void check_mpy_header(const mpy_linked_t *l, unsigned arch, uint32_t arch_flags) {
    nm_mpy_t m;
    nm_detail_t d;
    CHECK_EQ(nm_mpy_parse(l->mpy, l->len, &m, &d), NM_OK);
    CHECK_EQ(l->mpy[0], 'M');
    CHECK_EQ(l->mpy[1], 6);
    CHECK_EQ(l->mpy[2], (3 | arch << 2) | (arch_flags ? 0x40 : 0));
    CHECK_EQ(l->mpy[3], 31);
    CHECK_EQ(m.arch, arch);
    CHECK_EQ(m.has_arch_flags, arch_flags != 0);
    CHECK_EQ(m.arch_flags, arch_flags);
    const nm_wmodule_t *w = &l->res.mod;
    uint32_t entry = w->exports[0].value;
    if (l->res.entry_jump) {
        CHECK_EQ(rv_jump_target(m.text), entry);
    } else {
        CHECK_EQ(entry, 0);
    }
}

static void mpy_rv32_loads_and_runs(void) {
    static const char *const a_objs[] = {"mpy_a_rv32.o", "mpy_a_rv32_relax.o", "mpy_a_rv32_clang.o"};
    for (size_t k = 0; k < sizeof a_objs / sizeof a_objs[0]; k++) {
        const char *o = obj(a_objs[k]);
        if (!exists(o)) {
            continue;
        }
        mpy_linked_t l;
        CHECK_EQ(link_mpy(NM_ARCH_RV32IMC, o, 3, 0, &l), NM_OK);
        if (!l.mpy) {
            printf("    (%s: %s)\n", a_objs[k], detail);
            continue;
        }
        check_mpy_header(&l, NM_ARCH_RV32IMC, 0);
        if (k == 0) {
            CHECK(l.res.entry_jump > 0); /* gcc: mpy_init is not first in .text */
        }
        uint8_t *text = NULL;
        uint32_t tl = 0;
        CHECK_EQ(run_mpy(&l, 0, &text, &tl), 0);
        CHECK_EQ(stored_value(QBASE + 1), (40 + 2 + 1) * 2); /* answer: data, static bss, function pointers */
        CHECK_EQ(stored_value(QBASE + 3), MPY_OBJS + 16);    /* type: mp_type_type through mp_fun_table */
        uint32_t b = stored_value(QBASE + 2);
        CHECK(b >= MPY_TEXT && b + 32 <= MPY_TEXT + tl); /* buf: reached PC-relatively, so in text */
        if (b >= MPY_TEXT && b + 32 <= MPY_TEXT + tl) {
            CHECK(!memcmp(text + (b - MPY_TEXT), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32)); /* memset */
        }
        CHECK_EQ(stored_value(23), 0); /* static qstr __name__ by number */
        free(text);
        unlink_mpy(&l);
    }
    mpy_linked_t l;
    CHECK_EQ(link_mpy(NM_ARCH_RV32IMC, obj("mpy_b_rv32.o"), 2, 0, &l), NM_OK);
    if (l.mpy) {
        uint8_t *text = NULL;
        uint32_t tl = 0;
        CHECK_EQ(run_mpy(&l, 1, &text, &tl), 0);
        uint32_t g3 = stored_value(QBASE + 2), g5 = stored_value(QBASE + 1);
        /* gvals: reached through the GOT, so in the loader's bss block */
        CHECK(g3 >= MPY_BSS && g3 < MPY_BSS + 64);
        CHECK_EQ(g5 - g3, 8);
        free(text);
        unlink_mpy(&l);
    }
    /* arch flags: 0x40 in the header and a vuint after it */
    CHECK_EQ(link_mpy(NM_ARCH_RV32IMC, obj("mpy_a_rv32.o"), 3, 3, &l), NM_OK);
    if (l.mpy) {
        check_mpy_header(&l, NM_ARCH_RV32IMC, 3);
        CHECK_EQ(l.mpy[4], 3);
        unlink_mpy(&l);
    }
    /* medlow %hi/%lo cannot be relocated by MicroPython's loader (here the
     * first one met is mp_fun_table's, an import) */
    CHECK_EQ(link_mpy(NM_ARCH_RV32IMC, obj("mpy_a_rv32_medlow.o"), 3, 0, &l), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "R_RISCV_HI20");
    CHECK_STR_CONTAINS(detail, "compile with -fpic");
}

static void mpy_rv64_links_and_reads_back(void) {
    mpy_linked_t l;
    CHECK_EQ(link_mpy(NM_ARCH_RV64IMC, obj("mpy_a_rv64.o"), 3, 0, &l), NM_OK);
    if (l.mpy) {
        check_mpy_header(&l, NM_ARCH_RV64IMC, 0);
        nm_mpy_t m;
        nm_detail_t d;
        if (nm_mpy_parse(l.mpy, l.len, &m, &d) == NM_OK) {
            nm_mpy_iter_t it;
            nm_mpy_reloc_t r;
            int n = 0;
            nm_mpy_reloc_begin(&m, &it);
            while (nm_mpy_reloc_next(&it, &r)) {
                CHECK((uint64_t)(r.word + r.n) * 8 <= m.text_size);
                n += (int)r.n;
            }
            CHECK(n >= 4); /* function pointers, mp_fun_table, qstr table, mp_type_type */
        }
        unlink_mpy(&l);
    } else {
        printf("    (%s)\n", detail);
    }
    /* MicroPython reads arch flags for rv32imc only */
    CHECK_EQ(link_mpy(NM_ARCH_RV64IMC, obj("mpy_a_rv64.o"), 3, 1, &l), NM_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(detail, "rv32imc only");
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: test_link_rv objdir rv_fw.syms rv32-libgcc.a rv32-libc.a rv64-libgcc.a\n");
        return 2;
    }
    objdir = argv[1];
    syms = argv[2];
    libgcc32 = argv[3];
    libc32 = argv[4];
    libgcc64 = argv[5];
    RUN(features_run_as_compiled_natively);
    RUN(relocations_by_hand_gcc_relaxed_and_not);
    RUN(relocations_by_hand_clang);
    RUN(align_padding_is_cut_and_alignment_kept);
    RUN(data_import_needs_the_got);
    RUN(errors_name_section_offset_relocation_and_symbol);
    RUN(mpy_rv32_loads_and_runs);
    RUN(mpy_rv64_links_and_reads_back);
    return TEST_DONE();
}
