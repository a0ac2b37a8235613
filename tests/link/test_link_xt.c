/*
 * Xtensa linking on real objects compiled at build time (see
 * CMakeLists.txt): gcc-xtensa-lx106 (call0) with literals in .literal
 * sections and with -mtext-section-literals, and clang-22 (windowed, when
 * installed). No Xtensa CPU runs here, so the patched fields are decoded:
 *   - xt_relocs.S: each SLOT0_OP form (L32R, CALL0, J, BEQZ, BEQI, BEQ,
 *     BBCI) must reach its target, each literal must hold (after the
 *     module's PTR32 entries are applied as a loader would, TEXT and RW at
 *     chosen addresses) the address it names; the call to an import goes
 *     through the stub, whose literal holds the GOT slot's address;
 *   - features.c: every L32R in TEXT (found through the objects' own
 *     relocations: each exported function's first literal load) lands on
 *     an aligned literal before it; the module links for both ABIs;
 *   - errors: L32R literal after its instruction or out of range, mixed
 *     ABIs (both ABIs named), another ELF machine;
 *   - .mpy (tests/link/mpy/mpy_a.c, dynruntime.mk's flags): the file
 *     parses, starts with a J to mpy_init, and the relocation ops land on
 *     4-aligned words that an L32R loads (gcc: every word of the code part;
 *     clang also relocates a .rodata pointer table). MicroPython itself
 *     cannot run here.
 *   test_link_xt <objdir>
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "link/link.h"
#include "lt_util.h"
#include "natmod/mpy.h"

/* Link the NULL-terminated paths for arch; export ex if non-NULL. */
static int link_xt(nml_result_t *res, unsigned arch, const char *ex, ...) {
    lt_link_t l;
    va_list ap;
    va_start(ap, ex);
    nml_options_t *opt = lt_options_va(&l, arch, NM_FLOAT_SOFT, ap);
    va_end(ap);
    const char *exs[1] = {ex};
    opt->extra_exports = exs;
    opt->n_extra_exports = ex ? 1 : 0;
    memset(res, 0, sizeof *res);
    return nml_link(opt, res, detail, sizeof detail);
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t rd24(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static int32_t sext(uint32_t v, unsigned bits) {
    uint32_t m = 1u << (bits - 1);
    return (int32_t)((v ^ m) - m);
}

enum { TB = 0x40100000u, RB = 0x3ffe8000u, IMPORT_BASE = 0x40001000u };

/* A loaded copy: TEXT at TB, RW at RB, PTR32 entries applied. */
typedef struct loaded {
    uint8_t *text, *data;
    const nm_wmodule_t *m;
} loaded_t;

static void load(const nml_result_t *res, loaded_t *l) {
    const nm_wmodule_t *m = &res->mod;
    l->m = m;
    l->text = calloc(1, m->text_size + 4);
    l->data = calloc(1, m->data_size + 4);
    memcpy(l->text, m->text, m->text_size);
    memcpy(l->data, m->data, m->data_size);
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *r = &m->relocs[i];
        CHECK_EQ(r->kind, NM_RELOC_PTR32);
        CHECK_EQ(r->site & 3, 0);
        uint8_t *p = r->site < m->text_size ? l->text + r->site : l->data + (r->site - m->rw_offset);
        uint32_t base = r->target == NM_TARGET_TEXT  ? TB
                        : r->target == NM_TARGET_RW ? RB
                                                    : IMPORT_BASE + 16 * (r->target - NM_TARGET_IMPORT0);
        uint32_t w = rd32(p) + base;
        p[0] = (uint8_t)w;
        p[1] = (uint8_t)(w >> 8);
        p[2] = (uint8_t)(w >> 16);
        p[3] = (uint8_t)(w >> 24);
    }
}

static void unload(loaded_t *l) {
    free(l->text);
    free(l->data);
}

static uint32_t export_of(const nm_wmodule_t *m, const char *name) {
    for (uint16_t i = 0; i < m->n_exports; i++) {
        if (!strcmp(m->exports[i].name, name)) {
            return m->exports[i].value;
        }
    }
    fprintf(stderr, "no export %s\n", name);
    CHECK(0);
    return 0;
}

/* The word an L32R at TEXT offset at loads (its TEXT offset in *lit). */
static uint32_t l32r_word(const loaded_t *l, uint32_t at, uint32_t *lit) {
    uint32_t w = rd24(l->text + at);
    CHECK_EQ(w & 0xf, 1);
    uint32_t a = ((at + 3) & ~3u) + (uint32_t)(((int32_t)((w >> 8) | 0xffff0000u)) * 4);
    CHECK(a < at);
    *lit = a;
    return rd32(l->text + a);
}

/* The word at a loaded address in TEXT or RW. */
static uint32_t word_at(const loaded_t *l, uint32_t addr) {
    if (addr >= TB && addr + 4 <= TB + l->m->text_size) {
        return rd32(l->text + (addr - TB));
    }
    if (addr >= RB && addr + 4 <= RB + l->m->data_size) {
        return rd32(l->data + (addr - RB));
    }
    fprintf(stderr, "address 0x%08x in neither region\n", (unsigned)addr);
    CHECK(0);
    return 0;
}

static void relocs_by_hand(const char *name) {
    nml_result_t res;
    int rc = link_xt(&res, NM_ARCH_XTENSA, "xt_tgt", obj(name), (const char *)NULL);
    if (rc) {
        fprintf(stderr, "%s: %s\n", name, detail);
    }
    CHECK_EQ(rc, NM_OK);
    if (rc) {
        return;
    }
    loaded_t l;
    load(&res, &l);
    const nm_wmodule_t *m = &res.mod;
    CHECK_EQ(m->n_imports, 1);
    CHECK(m->n_imports == 1 && !strcmp(m->imports[0], "fw_op"));
    uint32_t tgt = export_of(m, "xt_tgt"), lits = export_of(m, "xt_lits"), br = export_of(m, "xt_branches");
    uint32_t lit;
    /* literals: xt_tab + 4 (TEXT), xt_var + 4 (RW), fw_op (import 0) */
    CHECK_EQ(word_at(&l, l32r_word(&l, lits, &lit)), 0x22222222u);
    CHECK_EQ(word_at(&l, l32r_word(&l, lits + 3, &lit)), 0x44444444u);
    CHECK_EQ(l32r_word(&l, lits + 6, &lit), IMPORT_BASE);
    /* call0 xt_tgt: (P & ~3) + 4 + off18 * 4 */
    uint32_t w = rd24(l.text + br);
    CHECK_EQ(w & 0x3f, 0x05);
    CHECK_EQ((br & ~3u) + 4 + (uint32_t)(sext(w >> 6, 18) * 4), tgt);
    /* j: P + 4 + off18 */
    w = rd24(l.text + br + 3);
    CHECK_EQ(w & 0x3f, 0x06);
    CHECK_EQ(br + 3 + 4 + (uint32_t)sext(w >> 6, 18), tgt);
    /* beqz: imm12; beqi, beq, bbci: imm8 */
    w = rd24(l.text + br + 6);
    CHECK_EQ(br + 6 + 4 + (uint32_t)sext(w >> 12, 12), tgt);
    for (uint32_t k = 9; k <= 15; k += 3) {
        w = rd24(l.text + br + k);
        CHECK_EQ(br + k + 4 + (uint32_t)sext(w >> 16, 8), tgt);
    }
    /* call0 fw_op: to the stub, whose L32R loads the GOT slot's address */
    w = rd24(l.text + br + 18);
    CHECK_EQ(w & 0x3f, 0x05);
    uint32_t stub = ((br + 18) & ~3u) + 4 + (uint32_t)(sext(w >> 6, 18) * 4);
    CHECK(stub > tgt && stub + 20 <= m->text_size);
    CHECK_EQ(rd24(l.text + stub), 0x000106);     /* j +8 */
    CHECK_EQ(rd24(l.text + stub + 11), 0x002992); /* l32i a9, a9, 0 */
    CHECK_EQ(rd24(l.text + stub + 14), 0x0009a0); /* jx a9 */
    uint32_t slot = l32r_word(&l, stub + 8, &lit);
    CHECK_EQ(lit, stub + 4);
    CHECK_EQ(word_at(&l, slot), IMPORT_BASE); /* the GOT slot holds fw_op */
    unload(&l);
    nml_result_free(&res);
}

static void relocations_by_hand_both_literal_placements(void) {
    relocs_by_hand("xt_relocs.o");
    relocs_by_hand("xt_relocs_tsl.o");
}

static int l32r_loads(const uint8_t *t, uint32_t n, uint32_t off);

/* features.c: links; each exported function's L32Rs (first 64 bytes,
 * decoded from the start: 3-byte instructions and 2-byte narrow ones) load
 * aligned literals before them that hold a TEXT, RW or import address.
 * With literals in .literal sections (merged), no two words an L32R loads
 * hold the same relocated address: gcc and clang repeat mp_fun_table-like
 * words in every function's pool (docs/mpy.md, Xtensa). */
static void features_link(const char *name, unsigned arch, int merged) {
    if (!exists(obj(name))) {
        printf("skipped %s: not built\n", name);
        return;
    }
    nml_result_t res;
    int rc = link_xt(&res, arch, NULL, obj(name), (const char *)NULL);
    if (rc) {
        fprintf(stderr, "%s: %s\n", name, detail);
    }
    CHECK_EQ(rc, NM_OK);
    if (rc) {
        return;
    }
    const nm_wmodule_t *m = &res.mod;
    CHECK_EQ(m->arch, arch);
    int have_fw_op = 0, have_fw_copy = 0;
    for (uint16_t i = 0; i < m->n_imports; i++) {
        have_fw_op |= !strcmp(m->imports[i], "fw_op");
        have_fw_copy |= !strcmp(m->imports[i], "fw_copy");
    }
    CHECK(have_fw_op && have_fw_copy);
    CHECK(m->n_exports >= 10);
    loaded_t l;
    load(&res, &l);
    /* every PTR32 site's word now points into TEXT, RW or the imports */
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *r = &m->relocs[i];
        const uint8_t *p = r->site < m->text_size ? l.text + r->site : l.data + (r->site - m->rw_offset);
        uint32_t v = rd32(p);
        CHECK((v >= TB && v <= TB + m->text_size) || (v >= RB && v <= RB + m->data_size + m->bss_size) ||
              (v >= IMPORT_BASE && v < IMPORT_BASE + 16u * m->n_imports));
    }
    int lits = 0, repeats = 0;
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        uint32_t a = m->relocs[i].site;
        if (a >= m->text_size || !l32r_loads(m->text, m->text_size, a)) {
            continue;
        }
        lits++;
        for (uint32_t k = i + 1; k < m->n_relocs; k++) {
            uint32_t b = m->relocs[k].site;
            repeats += b < m->text_size && rd32(l.text + b) == rd32(l.text + a) && l32r_loads(m->text, m->text_size, b);
        }
    }
    CHECK(lits >= 10);
    if (merged && repeats) {
        fprintf(stderr, "%s: %d relocated literal words repeated\n", name, repeats);
    }
    CHECK(merged ? repeats == 0 : 1);
    unload(&l);
    nml_result_free(&res);
}

static void features_link_for_both_abis(void) {
    features_link("features_xt.o", NM_ARCH_XTENSA, 1);
    features_link("features_xt_tsl.o", NM_ARCH_XTENSA, 0); /* literals in .text: left where they are */
    features_link("features_xtw.o", NM_ARCH_XTENSAWIN, 1);
}

static void expect_error(int rc, int code, const char *const *parts) {
    CHECK_EQ(rc, code);
    for (; *parts; parts++) {
        CHECK_STR_CONTAINS(detail, *parts);
    }
}

static void errors_name_section_offset_relocation_and_symbol(void) {
    nml_result_t res;
    int rc = link_xt(&res, NM_ARCH_XTENSA, "xt_after", obj("xt_range.o"), (const char *)NULL);
    static const char *const after[] = {"xt_range.o", ".text.xt_after+0x0", "R_XTENSA_SLOT0_OP", ".text.xt_late",
                                        "after the instruction", NULL};
    expect_error(rc, NM_ERR_RELOC, after);
    nml_result_free(&res);
    rc = link_xt(&res, NM_ARCH_XTENSA, "xt_far", obj("xt_range.o"), (const char *)NULL);
    static const char *const far[] = {".text.xt_far+0x0", "R_XTENSA_SLOT0_OP", ".text.xt_far_lit", "256 KB", NULL};
    expect_error(rc, NM_ERR_RELOC, far);
    nml_result_free(&res);
    /* call0 object for the windowed ABI: both named */
    rc = link_xt(&res, NM_ARCH_XTENSAWIN, NULL, obj("xt_relocs.o"), (const char *)NULL);
    static const char *const mix1[] = {"xt_relocs.o", "call0 ABI", "windowed ABI", NULL};
    expect_error(rc, NM_ERR_ARCH, mix1);
    nml_result_free(&res);
    if (exists(obj("features_xtw.o"))) {
        rc = link_xt(&res, NM_ARCH_XTENSA, NULL, obj("features_xtw.o"), (const char *)NULL);
        static const char *const mix2[] = {"features_xtw.o", "windowed ABI", "ENTRY", "call0 ABI", NULL};
        expect_error(rc, NM_ERR_ARCH, mix2);
        nml_result_free(&res);
    }
    /* another machine */
    rc = link_xt(&res, NM_ARCH_RV32IMC, NULL, obj("xt_relocs.o"), (const char *)NULL);
    static const char *const mach[] = {"ELF machine 94", "rv32imc", NULL};
    expect_error(rc, NM_ERR_ARCH, mach);
    nml_result_free(&res);
    if (exists(obj("hello_x64.o"))) {
        rc = link_xt(&res, NM_ARCH_XTENSA, NULL, obj("hello_x64.o"), (const char *)NULL);
        static const char *const x64[] = {"ELF machine 62 (class 2)", "xtensa", NULL};
        expect_error(rc, NM_ERR_ARCH, x64);
        nml_result_free(&res);
    }
}

/* The TEXT offsets L32R instructions load from: every 3-byte window whose
 * op0 is 1 (a superset: a false match only adds offsets). */
static int l32r_loads(const uint8_t *t, uint32_t n, uint32_t off) {
    for (uint32_t at = 0; at + 3 <= n; at++) {
        uint32_t w = rd24(t + at);
        if ((w & 0xf) == 1 &&
            ((at + 3) & ~3u) + (uint32_t)(((int32_t)((w >> 8) | 0xffff0000u)) * 4) == off) {
            return 1;
        }
    }
    return 0;
}

static void mpy_decodes_and_relocs_land_on_literals(const char *name, unsigned arch) {
    if (!exists(obj(name))) {
        printf("skipped %s: not built\n", name);
        return;
    }
    static const char *const qstrs[] = {"answer", "buf"};
    nml_input_t in = {obj(name), NULL, 0};
    nml_mpy_imports_t im = {NULL, NULL, NULL};
    nml_options_t o;
    memset(&o, 0, sizeof o);
    o.arch = (uint8_t)arch;
    o.float_abi = NM_FLOAT_SOFT;
    o.inputs = &in;
    o.n_inputs = 1;
    o.gc_sections = 1;
    lt_mpy_options(&o, &im);
    nml_result_t res;
    memset(&res, 0, sizeof res);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = nml_link(&o, &res, detail, sizeof detail);
    if (!rc) {
        nml_mpy_options_t mo = {"mod.mpy", qstrs, 2, NULL, 0};
        rc = nml_write_mpy(&res, &mo, &buf, &len, detail, sizeof detail);
    }
    if (rc) {
        fprintf(stderr, "%s: %s\n", name, detail);
    }
    CHECK_EQ(rc, NM_OK);
    nm_mpy_t m;
    nm_detail_t d;
    if (rc || nm_mpy_parse(buf, len, &m, &d) != NM_OK) {
        CHECK(0);
        nml_result_free(&res);
        free(buf);
        return;
    }
    CHECK_EQ(m.arch, arch);
    CHECK_EQ(m.n_qstr, 3);
    /* the entry jump: J at 0 to mpy_init */
    uint32_t j = rd24(m.text);
    CHECK_EQ(j & 0x3f, 0x06);
    CHECK_EQ(res.entry_jump, 3);
    uint32_t code_end = res.mod.rw_offset; /* text and rodata; data (and bss) follow */
    nm_mpy_iter_t it;
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(&m, &it);
    int n = 0, n_lit = 0;
    while (nm_mpy_reloc_next(&it, &r)) {
        CHECK_EQ(r.base, 0);
        for (uint32_t k = 0; k < r.n; k++) {
            uint32_t off = (r.word + k) * 4;
            n++;
            /* gcc: every relocated word of the code part is a literal;
             * clang also relocates its .rodata pointer table (ops[]) */
            int lit = off < code_end && l32r_loads(m.text, code_end, off);
            n_lit += lit;
            if (off < code_end && !lit && arch == NM_ARCH_XTENSA) {
                fprintf(stderr, "%s: relocated text word +0x%x is no L32R's literal\n", name, (unsigned)off);
                CHECK(0);
            }
        }
    }
    CHECK(n > 0 && n_lit >= 5);
    free(buf);
    nml_result_free(&res);
}

static void mpy_for_both_abis(void) {
    mpy_decodes_and_relocs_land_on_literals("mpy_a_xt.o", NM_ARCH_XTENSA);
    mpy_decodes_and_relocs_land_on_literals("mpy_a_xtw.o", NM_ARCH_XTENSAWIN);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_link_xt <objdir>\n");
        return 2;
    }
    objdir = argv[1];
    relocations_by_hand_both_literal_placements();
    features_link_for_both_abis();
    errors_name_section_offset_relocation_and_symbol();
    mpy_for_both_abis();
    printf("%d checks, %d failures\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}
