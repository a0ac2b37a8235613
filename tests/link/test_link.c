/*
 * Linker tests on real objects compiled at build time (see CMakeLists.txt).
 * x86-64 modules are also loaded in-process (mmap, apply the nm_reloc_t
 * records as the loader would) and called, which checks every relocation
 * the core resolved at link time. Thumb modules are checked by decoding
 * the patched instructions.
 *   test_link <objdir> <fw.syms> <libgcc.a for cortex-m0 or "">
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../test.h"
#include "link/link.h"
#include "lt_util.h"
#include "link/link_internal.h" /* the arch hook, for every multilib member */

static const char *syms, *libgcc;

/* Link the NULL-terminated list of paths. */
static int link_files(unsigned arch, unsigned fabi, const char *symfile, int gc, nml_result_t *res, ...) {
    lt_link_t l;
    va_list ap;
    va_start(ap, res);
    nml_options_t *opt = lt_options_va(&l, arch, fabi, ap);
    va_end(ap);
    opt->syms_path = symfile;
    opt->gc_sections = gc;
    int err = nml_link(opt, res, detail, sizeof detail);
    if (err) {
        printf("    (link: %d %s)\n", err, detail);
    }
    return err;
}

static int find_export(const nm_wmodule_t *m, const char *name) {
    for (unsigned i = 0; i < m->n_exports; i++) {
        if (strcmp(m->exports[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int find_import(const nm_wmodule_t *m, const char *name) {
    for (unsigned i = 0; i < m->n_imports; i++) {
        if (strcmp(m->imports[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* How many lines of d contain word. */
static int count_lines_with(const char *d, const char *word) {
    int n = 0;
    for (const char *p = d; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        n += strstr(line, word) != NULL;
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* What binutils' c++filt prints for each (checked with c++filt 2.40), and
 * names the demangler leaves as they are. */
static void demangle_common_itanium_names_as_cxxfilt(void) {
    static const char *const ok[][2] = {
        {"_ZN2ns3fooEi", "ns::foo(int)"},
        {"_ZNK3Foo3barEv", "Foo::bar() const"},
        {"_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector<int, std::allocator<int> >::push_back(int const&)"},
        {"_Z3fooPKcRKSsi", "foo(char const*, std::basic_string<char, std::char_traits<char>, std::allocator<char> > "
                           "const&, int)"},
        {"_ZN3FooC1Ev", "Foo::Foo()"},
        {"_ZN3FooD2Ev", "Foo::~Foo()"},
        {"_ZN3Foo3barIiEEvT_", "void Foo::bar<int>(int)"},
        {"_Z3maxIiET_S0_S0_", "int max<int>(int, int)"},
        {"_Z1fIiEPT_S1_", "int* f<int>(int*)"},
        {"_ZTV3Foo", "vtable for Foo"},
        {"_ZTI3Foo", "typeinfo for Foo"},
        {"_ZN3Foo3bazEPFviE", "Foo::baz(void (*)(int))"},
        {"_Z1fKPFviE", "f(void (* const)(int))"},
        {"_Z1fM1AKFivE", "f(int (A::*)() const)"},
        {"_Z1fRKA3_i", "f(int const (&) [3])"},
        {"_Z1fILi5EEvv", "void f<5>()"},
        {"_Z1fILj5EEvv", "void f<5u>()"},
        {"_Z1fILb1EEvv", "void f<true>()"},
        {"_Z1fILc65EEvv", "void f<(char)65>()"},
        {"_Z3foov.constprop.0.isra.0", "foo() [clone .constprop.0] [clone .isra.0]"},
        {"_ZN2ns1AplERKS0_", "ns::A::operator+(ns::A const&)"},
        {"_ZN1AltIiEEbi", "bool A::operator< <int>(int)"},
        {"_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE6appendEPKc",
         "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::append(char const*)"},
        {"_ZNSt6vectorIiSaIiEEC2Ev", "std::vector<int, std::allocator<int> >::vector()"},
        {"_ZNSolsEi", "std::basic_ostream<char, std::char_traits<char> >::operator<<(int)"},
        {"_ZGVZ3foovE1x", "guard variable for foo()::x"},
        {"_ZZN1A1fEvE1x", "A::f()::x"},
        {"_ZSt4cout", "std::cout"},
        {"_ZdlPv", "operator delete(void*)"},
        {"_ZnwjPv", "operator new(unsigned int, void*)"},
        {"_ZN1AcviEv", "A::operator int()"},
        {"_ZNKR1A1fEv", "A::f() const &"},
        {"_Z1fO1A", "f(A&&)"},
        {"_Z1fiz", "f(int, ...)"},
        {"_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo()"},
        {"_ZNSt8functionIFviEEC1Ev", "std::function<void (int)>::function()"},
    };
    static const char *const as_is[] = {
        "memcpy", "_Z", "_ZN", "_Z3fo", "_Z4foo", "_Z1fIi", "_ZNSiE", "_Z1fDpT_", "_ZTCSd0_Si",
        "_Z1fIXadL_Z1gvEEEvv", "_Z3foov junk", "_ZZ", "_Z1fS9_",
    };
    char out[512];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int r = nml_demangle(ok[i][0], out, sizeof out);
        CHECK_EQ(r, 1);
        if (strcmp(out, ok[i][1])) {
            CHECK_STR_CONTAINS(out, ok[i][1]); /* fails, showing both */
        }
    }
    for (size_t i = 0; i < sizeof as_is / sizeof as_is[0]; i++) {
        CHECK_EQ(nml_demangle(as_is[i], out, sizeof out), 0);
        CHECK(!strcmp(out, as_is[i]));
    }
    /* too small for the demangled name: the mangled one, cut */
    CHECK_EQ(nml_demangle("_ZN2ns3fooEi", out, 8), 0);
    CHECK(!strcmp(out, "_ZN2ns3"));
    /* deep nesting, long repeats: refused, quickly, without a crash */
    static char deep[20000];
    memcpy(deep, "_Z1f", 4);
    memset(deep + 4, 'P', sizeof deep - 6);
    deep[sizeof deep - 2] = 'i';
    CHECK_EQ(nml_demangle(deep, out, sizeof out), 0);
    for (size_t k = 4; k + 3 < sizeof deep - 2; k += 3) {
        memcpy(deep + k, "N1a", 3);
    }
    CHECK_EQ(nml_demangle(deep, out, sizeof out), 0);
}

/* ------------------------------------------------------------ x86-64 */

#if LT_HAVE_X64
static const char *printed[8];
static int nprinted;
static void hal_print(const char *s) {
    if (nprinted < 8) {
        printed[nprinted++] = s;
    }
}
static int hal_counter = 'Q';
static int hal_op(int x) { return x + 1000; }

typedef struct loaded {
    uint8_t *base;
    size_t len;
    const nm_wmodule_t *m;
} loaded_t;

/* What the loader does, minus the checks: place, relocate. */
static int load(const nm_wmodule_t *m, loaded_t *l) {
    l->m = m;
    l->len = (size_t)m->rw_offset + m->data_size + m->bss_size;
    l->base = mmap(NULL, l->len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (l->base == MAP_FAILED) {
        return -1;
    }
    memcpy(l->base, m->text, m->text_size);
    memcpy(l->base + m->rw_offset, m->data, m->data_size);
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *r = &m->relocs[i];
        uint8_t *p = r->site < m->text_size ? l->base + r->site : l->base + m->rw_offset + (r->site - m->text_size);
        uint64_t add;
        if (r->target == NM_TARGET_TEXT) {
            add = (uintptr_t)l->base;
        } else if (r->target == NM_TARGET_RW) {
            add = (uintptr_t)(l->base + m->rw_offset);
        } else {
            const char *n = m->imports[r->target - NM_TARGET_IMPORT0];
            add = !strcmp(n, "hal_print") ? (uintptr_t)hal_print
                  : !strcmp(n, "hal_counter") ? (uintptr_t)&hal_counter
                  : !strcmp(n, "hal_op") ? (uintptr_t)hal_op : 0;
            if (!add) {
                return -1;
            }
        }
        uint64_t v;
        if (r->kind != NM_RELOC_PTR64) {
            return -1;
        }
        memcpy(&v, p, 8);
        v += add;
        memcpy(p, &v, 8);
    }
    return 0;
}

static void *sym(loaded_t *l, const char *name) {
    int i = find_export(l->m, name);
    if (i < 0) {
        return NULL;
    }
    const nm_wexport_t *e = &l->m->exports[i];
    return l->base + (e->region == NM_REGION_RW ? l->m->rw_offset : 0) + e->value;
}

#define FN(type, p) ((type)(uintptr_t)(p))

static void x64_hello_links_loads_and_runs(void) {
    nml_result_t r, nogc;
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, syms, 1, &r, obj("hello_x64.o"), NULL), NM_OK);
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, syms, 0, &nogc, obj("hello_x64.o"), NULL), NM_OK);
    const nm_wmodule_t *m = &r.mod;
    CHECK(m->flags & NM_FLAG_RW_PCREL);
    /* RW_PCREL: RW starts a page when the slice starts one (64 + rw_offset
     * a multiple of NM_XIP_PAGE), after text and after the whole slice,
     * and no further than the next such page. */
    CHECK_EQ(m->rw_offset % (1u << m->rw_align_log2), 0);
    CHECK_EQ((NM_HEADER_SIZE + m->rw_offset) % NM_XIP_PAGE, 0);
    CHECK(m->rw_offset >= m->text_size);
    uint8_t *slice = NULL;
    size_t slice_len = 0;
    CHECK_EQ(nml_write_nmod(&r, &slice, &slice_len, NULL, 0), NM_OK);
    CHECK(slice_len <= NM_HEADER_SIZE + (size_t)m->rw_offset);
    size_t need = slice_len > NM_HEADER_SIZE + m->text_size ? slice_len : NM_HEADER_SIZE + m->text_size;
    CHECK(NM_HEADER_SIZE + (size_t)m->rw_offset < need + NM_XIP_PAGE);
    free(slice);
    CHECK(m->text_size < nogc.mod.text_size); /* unused_helper dropped */
    CHECK(m->text_align_log2 >= 4);
    CHECK_EQ(m->n_imports, 2);
    CHECK(find_import(m, "hal_print") >= 0 && find_import(m, "hal_counter") >= 0);
    CHECK_EQ(m->got_count, 2);
    CHECK(m->got_offset + 16u <= m->data_size);
    CHECK(m->bss_size >= 64 + 4);
    CHECK(find_export(m, "unused_helper") < 0); /* hidden */
    CHECK(find_export(m, "total") < 0);
    CHECK_EQ(m->init_idx, find_export(m, "nm_init"));
    CHECK_EQ(m->deinit_idx, find_export(m, "nm_deinit"));
    /* pointer tables (ops, names, greeting) live in RW and carry PTR64 records */
    int rw_text = 0, got_imports = 0;
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *x = &m->relocs[i];
        CHECK_EQ(x->kind, NM_RELOC_PTR64);
        CHECK(x->site >= m->text_size && x->site + 8 <= m->text_size + m->data_size);
        rw_text += x->target == NM_TARGET_TEXT;
        if (x->target >= NM_TARGET_IMPORT0) {
            uint32_t off = x->site - m->text_size;
            CHECK(off >= m->got_offset && off < m->got_offset + 8u * m->got_count);
            got_imports++;
        }
    }
    CHECK_EQ(rw_text, 6); /* 2 ops + 3 names + greeting */
    CHECK_EQ(got_imports, 2);

    loaded_t l;
    CHECK_EQ(load(m, &l), 0);
    if (l.base != MAP_FAILED) {
        CHECK_EQ(FN(int (*)(int, int), sym(&l, "apply"))(0, 5), 10);
        CHECK_EQ(FN(int (*)(int, int), sym(&l, "apply"))(1, 5), 15);
        CHECK(!strcmp(FN(const char *(*)(int), sym(&l, "name_of"))(2), "two"));
        CHECK_EQ(FN(int (*)(int), sym(&l, "classify"))(3), 41);
        CHECK_EQ(FN(int (*)(int), sym(&l, "classify"))(9), -1);
        nprinted = 0;
        CHECK_EQ(FN(int (*)(void), sym(&l, "nm_init"))(), 0);
        FN(void (*)(void), sym(&l, "nm_deinit"))();
        CHECK_EQ(nprinted, 2);
        CHECK(nprinted == 2 && !strcmp(printed[0], "hello") && printed[1][0] == 'Q');
        munmap(l.base, l.len);
    }
    /* the .nmod back-end accepts it, and the reader agrees */
    uint8_t *img;
    size_t len;
    CHECK_EQ(nml_write_nmod(&r, &img, &len, detail, sizeof detail), NM_OK);
    if (len) {
        nm_image_t im;
        nm_detail_t d;
        CHECK_EQ(nm_image_parse(img, len, &im, &d), NM_OK);
        CHECK_EQ(im.n_relocs, m->n_relocs);
        CHECK_EQ(im.got_count, m->got_count);
        free(img);
    }
    nml_result_free(&r);
    nml_result_free(&nogc);
}

static void x64_jump_table_and_plt_stub(void) {
    static const char *const variants[] = {"jump_x64.o", "jump_plt_x64.o"};
    for (int v = 0; v < 2; v++) {
        nml_result_t r;
        CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 1, &r, obj(variants[v]), NULL), NM_OK);
        const nm_wmodule_t *m = &r.mod;
        CHECK_EQ(m->n_imports, 1);
        CHECK_EQ(m->got_count, 1);
        if (v == 1) {
            /* PLT32 to an import: a jmp *GOT(%rip) stub at the end of text */
            const uint8_t *s = m->text + m->text_size - 6;
            CHECK(s[0] == 0xff && s[1] == 0x25);
            int32_t rel;
            memcpy(&rel, s + 2, 4);
            CHECK_EQ((int64_t)(m->text_size) + rel, (int64_t)m->rw_offset + m->got_offset);
        }
        loaded_t l;
        CHECK_EQ(load(m, &l), 0);
        if (l.base != MAP_FAILED) {
            int (*d)(int, int) = FN(int (*)(int, int), sym(&l, "dispatch"));
            static const int want[9] = {1008, 1035, -2, 7049, 7 ^ 0x55, 1107, 56, -7, 0};
            for (int i = 0; i < 9; i++) {
                CHECK_EQ(d(i, 7), want[i]);
            }
            CHECK_EQ(FN(int (*)(int), sym(&l, "tail"))(1), 1001);
            munmap(l.base, l.len);
        }
        nml_result_free(&r);
    }
}

static void x64_slice_tail_past_the_page_moves_rw_a_page_on(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 1, &r, obj("tail_x64.o"), NULL), NM_OK);
    const nm_wmodule_t *m = &r.mod;
    uint8_t *slice = NULL;
    size_t len = 0;
    CHECK_EQ(nml_write_nmod(&r, &slice, &len, detail, sizeof detail), NM_OK);
    /* The case the test is for: text alone would leave RW on the first page. */
    CHECK(NM_HEADER_SIZE + m->text_size <= NM_XIP_PAGE);
    CHECK(len > NM_XIP_PAGE);
    CHECK_EQ(NM_HEADER_SIZE + m->rw_offset, 2 * NM_XIP_PAGE);
    CHECK(len <= NM_HEADER_SIZE + (size_t)m->rw_offset);
    free(slice);
    /* Relocated for the moved RW: PC-relative data and the pointer work. */
    loaded_t l;
    CHECK_EQ(load(m, &l), 0);
    if (l.base != MAP_FAILED) {
        int (*get)(int) = FN(int (*)(int), sym(&l, "tail_get"));
        CHECK_EQ(get(1), 11 + 5);
        CHECK_EQ(get(2), 13 + 6);
        munmap(l.base, l.len);
    }
    nml_result_free(&r);
}

static void x64_archives_pulled_on_demand_in_any_order(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, syms, 0, &r, obj("libb_x64.a"), obj("liba_x64.a"),
                        obj("use_lib_x64.o"), NULL), NM_OK);
    CHECK_EQ(r.mod.n_imports, 0);
    CHECK(r.mod.text_size < 4096); /* lib_c (4 KB table) not pulled */
    CHECK_EQ(r.mod.n_exports, 1);  /* archive members export nothing */
    loaded_t l;
    if (!load(&r.mod, &l)) {
        CHECK_EQ(FN(int (*)(int), sym(&l, "use_lib"))(5), 16);
        munmap(l.base, l.len);
    }
    nml_result_free(&r);
}

/* ---- archives whose symbol index ("/" member) lies ---- */

typedef struct {
    const char *sym;
    int member;       /* index into the archive's members */
    uint32_t raw_off; /* if nonzero: this header offset instead of the member's */
} ix_ent_t;

enum { IX_NONE = 1, IX_COUNT_TOO_BIG = 2, IX_NO_NUL = 4 };

static size_t ar_header(uint8_t *p, const char *name, size_t size) {
    char h[64];
    snprintf(h, sizeof h, "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", name, "0", "0", "0", "644", size);
    memcpy(p, h, 60);
    return 60;
}

/* A GNU archive of lib_a (a.o), lib_b (b.o) and lib_c (c.o) with the index
 * ix[n] (flags: IX_*), in out (64 KB). Returns its size. */
static size_t lying_archive(uint8_t *out, const ix_ent_t *ix, size_t n, int flags) {
    static uint8_t objs[3][16384];
    static size_t len[3];
    const char *names[3] = {"a.o/", "b.o/", "c.o/"}, *files[3] = {"lib_a_x64.o", "lib_b_x64.o", "lib_c_x64.o"};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(obj(files[k]), "rb");
        len[k] = f ? fread(objs[k], 1, sizeof objs[k], f) : 0;
        if (f) {
            fclose(f);
        }
        CHECK(len[k] > 0 && len[k] < sizeof objs[k]);
    }
    size_t isz = 4 + 4 * n;
    for (size_t i = 0; i < n; i++) {
        isz += strlen(ix[i].sym) + 1;
    }
    if (flags & IX_NO_NUL) {
        isz--; /* the last name runs to the end of the index */
    }
    size_t pos = 8 + ((flags & IX_NONE) ? 0 : 60 + isz + (isz & 1)), hdr[3];
    for (int k = 0; k < 3; k++) {
        hdr[k] = pos;
        pos += 60 + len[k] + (len[k] & 1);
    }
    uint8_t *p = out;
    memcpy(p, "!<arch>\n", 8);
    p += 8;
    if (!(flags & IX_NONE)) {
        p += ar_header(p, "/", isz);
        uint32_t count = (uint32_t)n + ((flags & IX_COUNT_TOO_BIG) ? 1000 : 0);
        for (int b = 0; b < 4; b++) {
            *p++ = (uint8_t)(count >> (24 - 8 * b));
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t off = ix[i].raw_off ? ix[i].raw_off : (uint32_t)hdr[ix[i].member];
            for (int b = 0; b < 4; b++) {
                *p++ = (uint8_t)(off >> (24 - 8 * b));
            }
        }
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(ix[i].sym) + 1;
            memcpy(p, ix[i].sym, l);
            p += l;
        }
        if (flags & IX_NO_NUL) {
            p--;
        }
        if (isz & 1) {
            *p++ = '\n';
        }
    }
    for (int k = 0; k < 3; k++) {
        p += ar_header(p, names[k], len[k]);
        memcpy(p, objs[k], len[k]);
        p += len[k];
        if (len[k] & 1) {
            *p++ = '\n';
        }
    }
    return (size_t)(p - out);
}

/* Link use_lib_x64.o with the archive (syms: lib_* are not the firmware's);
 * on success the .nmod bytes in *mod (malloc'd). */
static int link_lying(const uint8_t *ar, size_t ar_len, uint8_t **mod, size_t *mod_len) {
    lt_link_t l;
    const char *paths[] = {"lying.a", obj("use_lib_x64.o"), NULL};
    nml_options_t *opt = lt_options(&l, NM_ARCH_X64, NM_FLOAT_SOFT, paths);
    l.in[0].data = ar;
    l.in[0].size = ar_len;
    opt->syms_path = syms;
    nml_result_t r;
    *mod = NULL;
    int err = nml_link(opt, &r, detail, sizeof detail);
    if (!err) {
        err = nml_write_nmod(&r, mod, mod_len, detail, sizeof detail);
        nml_result_free(&r);
    }
    return err;
}

/* The index only proposes members: whatever it claims, the link pulls
 * what reading every member would (byte-identical module), or, where it
 * leaves out a symbol a member defines, fails naming the archive. */
static void x64_symbol_index_lies_cannot_change_what_is_pulled(void) {
    static uint8_t buf[65536];
    uint8_t *ref = NULL, *m = NULL;
    size_t ref_len = 0, m_len = 0;
    /* the reference: no index, every member read */
    size_t n = lying_archive(buf, NULL, 0, IX_NONE);
    CHECK_EQ(link_lying(buf, n, &ref, &ref_len), NM_OK);
    const ix_ent_t honest[] = {{"lib_a", 0, 0}, {"lib_b", 1, 0}, {"lib_c_table", 2, 0}, {"lib_c", 2, 0}};
    const ix_ent_t reversed[] = {{"lib_c", 2, 0}, {"lib_c_table", 2, 0}, {"lib_b", 1, 0}, {"lib_a", 0, 0}};
    /* lib_a also claimed by c.o, lib_b by a.o: neither defines it */
    const ix_ent_t extra[] = {{"lib_b", 0, 0}, {"lib_a", 2, 0}, {"lib_a", 0, 0}, {"lib_b", 1, 0}};
    const ix_ent_t not_a_header[] = {{"lib_a", 0, 0}, {"lib_b", 1, 9}};
    const ix_ent_t past_the_end[] = {{"lib_a", 0, 0}, {"lib_b", 1, 0x7ffffff0}};
    struct {
        const char *what;
        const ix_ent_t *ix;
        size_t n;
        int flags;
    } same[] = {
        {"honest", honest, 4, 0},
        {"in reverse order", reversed, 4, 0},
        {"names members that do not define the symbol", extra, 4, 0},
        {"offset inside a header (index unused)", not_a_header, 2, 0},
        {"offset past the end (index unused)", past_the_end, 2, 0},
        {"count larger than the index (index unused)", honest, 4, IX_COUNT_TOO_BIG},
        {"last name without its NUL (index unused)", honest, 4, IX_NO_NUL},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        n = lying_archive(buf, same[i].ix, same[i].n, same[i].flags);
        int err = link_lying(buf, n, &m, &m_len);
        if (err || m_len != ref_len || memcmp(m, ref, ref_len)) {
            printf("    index %s: %d %s, %zu bytes (reference %zu)\n", same[i].what, err, detail, m_len, ref_len);
        }
        CHECK_EQ(err, NM_OK);
        CHECK(m && m_len == ref_len && !memcmp(m, ref, ref_len));
        free(m);
        m = NULL;
    }
    /* lib_b left out (claimed by c.o): b.o would not be pulled; detected */
    const ix_ent_t omits_b[] = {{"lib_a", 0, 0}, {"lib_b", 2, 0}, {"lib_c", 2, 0}};
    n = lying_archive(buf, omits_b, 3, 0);
    CHECK_EQ(link_lying(buf, n, &m, &m_len), NM_ERR_ARCHIVE);
    CHECK_STR_CONTAINS(detail, "lying.a: the symbol index does not list 'lib_b', which member lying.a(b.o) at offset");
    CHECK(!strchr(detail, '\n'));
    /* the index lists nothing lib_a needs at all: detected the same way */
    const ix_ent_t omits_all[] = {{"lib_c", 2, 0}};
    n = lying_archive(buf, omits_all, 1, 0);
    CHECK_EQ(link_lying(buf, n, &m, &m_len), NM_ERR_ARCHIVE);
    CHECK_STR_CONTAINS(detail, "does not list 'lib_a', which member lying.a(a.o)");
    n = lying_archive(buf, NULL, 0, 0); /* an empty index */
    CHECK_EQ(link_lying(buf, n, &m, &m_len), NM_ERR_ARCHIVE);
    CHECK_STR_CONTAINS(detail, "does not list 'lib_a', which member lying.a(a.o) at offset 72 defines");
    free(ref);
}

static void x64_weak_symbols(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 1, &r, obj("weak_x64.o"), NULL), NM_OK);
    CHECK_EQ(r.mod.n_imports, 0); /* weak undefined = 0, not an import */
    loaded_t l;
    if (!load(&r.mod, &l)) {
        CHECK_EQ(FN(int (*)(void), sym(&l, "run_weak"))(), 1);
        munmap(l.base, l.len);
    }
    nml_result_free(&r);
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 1, &r, obj("weak_x64.o"), obj("strong_x64.o"), NULL), NM_OK);
    if (!load(&r.mod, &l)) {
        CHECK_EQ(FN(int (*)(void), sym(&l, "run_weak"))(), 42);
        munmap(l.base, l.len);
    }
    nml_result_free(&r);
}

static void x64_errors_name_the_culprit(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 0, &r, obj("dup1_x64.o"), obj("dup2_x64.o"), NULL),
             NM_ERR_DUP);
    CHECK_STR_CONTAINS(detail, "'shared_fn'");
    CHECK_STR_CONTAINS(detail, "dup1_x64.o");
    CHECK_STR_CONTAINS(detail, "dup2_x64.o");

    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 0, &r, obj("abs32_x64.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "abs32_x64.o: .text.counter_addr+0x");
    CHECK_STR_CONTAINS(detail, "R_X86_64_32");
    CHECK_STR_CONTAINS(detail, "'counter'");
    CHECK_STR_CONTAINS(detail, "compile with -fPIC");

    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 0, &r, obj("ctor_x64.o"), NULL), NM_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(detail, "ctor_x64.o");
    CHECK_STR_CONTAINS(detail, "constructors not supported");

    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, syms, 0, &r, obj("use_lib_x64.o"), NULL), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(detail, "undefined symbol 'lib_a' (referenced from ");
    CHECK_STR_CONTAINS(detail, "use_lib_x64.o .text.use_lib+0x");
    CHECK_STR_CONTAINS(detail, "not in the firmware export list");
    CHECK_STR_CONTAINS(detail, "fw.syms");
    CHECK(!strchr(detail, '\n'));

    /* wrong machine */
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, NULL, 0, &r, obj("hello_x64.o"), NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "hello_x64.o");
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, NULL, 0, &r, obj("no_such_file.o"), NULL), NM_ERR_IO);
}

static void x64_every_undefined_symbol_reported_once_demangled(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_X64, NM_FLOAT_SOFT, syms, 1, &r, obj("undef_x64.o"), obj("undef2_x64.o"), NULL),
             NM_ERR_NOSYM);
    /* one line per symbol, each naming the object that needs it */
    CHECK_EQ(count_lines_with(detail, "undefined symbol '"), 4);
    CHECK_EQ(count_lines_with(detail, "not in the firmware export list"), 4);
    CHECK_EQ(count_lines_with(detail, "undefined symbol 'missing_c' (referenced from "), 1);
    CHECK_EQ(count_lines_with(detail, "undefined symbol 'ns::foo(int)' [_ZN2ns3fooEi] (referenced from "), 1);
    CHECK_EQ(count_lines_with(detail, "undefined symbol 'std::vector<int, std::allocator<int> >::size() const' "
                                      "[_ZNKSt6vectorIiSaIiEE4sizeEv] (referenced from "), 1);
    CHECK_EQ(count_lines_with(detail, "undefined symbol 'other_missing' (referenced from "), 1);
    CHECK_EQ(count_lines_with(detail, "undef_x64.o .text.use_undef+0x"), 3);
    CHECK_EQ(count_lines_with(detail, "undef2_x64.o .text.use_undef2+0x"), 1);
    CHECK_EQ(count_lines_with(detail, "ns::foo"), 1); /* needed by both objects, reported once */
    CHECK(detail[strlen(detail) - 1] != '\n');
    /* a buffer too small for every line ends with how many were left out */
    nml_input_t in[2] = {{obj("undef_x64.o"), NULL, 0}, {obj("undef2_x64.o"), NULL, 0}};
    nml_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.arch = NM_ARCH_X64;
    opt.inputs = in;
    opt.n_inputs = 2;
    opt.syms_path = syms;
    char small[300];
    CHECK_EQ(nml_link(&opt, &r, small, sizeof small), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(small, "undefined symbol 'missing_c'");
    CHECK_STR_CONTAINS(small, "\n... and 3 more undefined symbols");
    CHECK(strlen(small) < sizeof small - 1);
}
#endif

/* ------------------------------------------------------------ Thumb */

#if LT_HAVE_ARM
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static const uint8_t veneer[12] = {0x01, 0xb4, 0x02, 0x48, 0x00, 0x68, 0x84, 0x46, 0x01, 0xbc, 0x60, 0x47};

/* Target of a BL (want_bl) or B.W at text offset at, or -1 if it is not one. */
static long branch_target(const uint8_t *t, uint32_t at, int want_bl) {
    uint32_t h1 = rd16(t + at), h2 = rd16(t + at + 2);
    if ((h1 & 0xf800) != 0xf000 || (h2 & 0xd000) != (want_bl ? 0xd000u : 0x9000u)) {
        return -1;
    }
    uint32_t s = (h1 >> 10) & 1, j1 = (h2 >> 13) & 1, j2 = (h2 >> 11) & 1;
    uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
    int32_t off = (int32_t)((s << 24) | (i1 << 23) | (i2 << 22) | ((h1 & 0x3ff) << 12) | ((h2 & 0x7ff) << 1));
    off = (off << 7) >> 7;
    return (long)at + 4 + off;
}

/* 1 if the module has an import-target record at GOT slot RW offset off. */
static int got_slot_is_import(const nm_wmodule_t *m, uint32_t off) {
    if (off < m->got_offset || off + 4 > m->got_offset + 4u * m->got_count || (off - m->got_offset) % 4) {
        return 0;
    }
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        if (m->relocs[i].site == m->text_size + off) {
            return m->relocs[i].target >= NM_TARGET_IMPORT0;
        }
    }
    return 0;
}

/* Every veneer literal (an RW-target record 12 bytes after veneer code):
 * check that it names a GOT slot bound to an import, and that some branch
 * (BL or B.W) reaches the veneer. Returns the veneers found. */
static int check_veneers(const nm_wmodule_t *m, int want_bl) {
    int found = 0;
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *x = &m->relocs[i];
        CHECK_EQ(x->kind, NM_RELOC_PTR32);
        if (x->target != NM_TARGET_RW || x->site < 12 || x->site >= m->text_size) {
            continue;
        }
        uint32_t v = x->site - 12;
        if (memcmp(m->text + v, veneer, 12) != 0) {
            continue; /* a literal-pool use of data */
        }
        found++;
        CHECK_EQ(v % 4, 0);
        CHECK(got_slot_is_import(m, rd32(m->text + x->site)));
        int reached = 0;
        for (uint32_t at = 0; at + 4 <= v; at += 2) {
            reached += branch_target(m->text, at, want_bl) == (long)v;
        }
        CHECK(reached > 0);
    }
    return found;
}

static void thumb_m0_veneers_bl_and_pointer_tables(void) {
    nml_result_t r;
    if (!libgcc[0]) {
        return;
    }
    CHECK_EQ(link_files(NM_ARCH_ARMV6M, NM_FLOAT_SOFT, syms, 1, &r, obj("hello_m0.o"), libgcc, NULL), NM_OK);
    const nm_wmodule_t *m = &r.mod;
    CHECK_EQ(m->flags, 0);
    CHECK_EQ(m->n_imports, 2); /* __aeabi_idivmod came from libgcc */
    CHECK(find_import(m, "__aeabi_idivmod") < 0);
    CHECK(m->text_align_log2 >= 2 && m->rw_align_log2 >= 2);
    /* Thumb: RW right after text, at RW's alignment (no page rule). */
    uint32_t rw_al = 1u << m->rw_align_log2;
    CHECK_EQ(m->rw_offset, (m->text_size + rw_al - 1) / rw_al * rw_al);
    CHECK_EQ(m->got_count, 1); /* hal_print's slot, read by its veneer */
    CHECK_EQ(check_veneers(m, 1), 1); /* hal_print: one veneer, shared */
    int e = find_export(m, "apply");
    CHECK(e >= 0 && (m->exports[e].value & 1) && m->exports[e].kind == NM_EXPORT_FUNC);
    /* ops[] is const: in text, PTR32 records to TEXT with the Thumb bit */
    int odd_text = 0, rw_sites = 0;
    for (uint32_t i = 0; i < m->n_relocs; i++) {
        const nm_reloc_t *x = &m->relocs[i];
        if (x->site < m->text_size && x->target == NM_TARGET_TEXT && (rd32(m->text + x->site) & 1)) {
            odd_text++;
        }
        if (x->site >= m->text_size) {
            rw_sites++;
            CHECK(x->site + 4 <= m->text_size + m->data_size);
            /* greeting -> "hello" in rodata, and the GOT slot of hal_print */
            CHECK(x->target == NM_TARGET_TEXT || x->site - m->text_size >= m->got_offset);
        }
    }
    CHECK(odd_text >= 2);
    CHECK_EQ(rw_sites, 2);
    uint8_t *img;
    size_t len;
    CHECK_EQ(nml_write_nmod(&r, &img, &len, detail, sizeof detail), NM_OK);
    if (len) {
        nm_image_t im;
        nm_detail_t d;
        CHECK_EQ(nm_image_parse(img, len, &im, &d), NM_OK);
        free(img);
    }
    nml_result_free(&r);
}

static void thumb_m3_tail_call_b_w_goes_through_veneer(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, syms, 1, &r, obj("jump_m3.o"), NULL), NM_OK);
    CHECK_EQ(r.mod.n_imports, 1);
    CHECK_EQ(check_veneers(&r.mod, 0), 1); /* reached by B.W */
    CHECK_EQ(check_veneers(&r.mod, 1), 1); /* and by BL */
    nml_result_free(&r);
}

static void thumb_float_abi_must_match(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_ARMV7EMSP, NM_FLOAT_SOFT, syms, 1, &r, obj("hello_m4f.o"), NULL), NM_ERR_FLOAT_ABI);
    CHECK_STR_CONTAINS(detail, "hello_m4f.o");
    CHECK_STR_CONTAINS(detail, "hard");
    CHECK_EQ(link_files(NM_ARCH_ARMV7EMSP, NM_FLOAT_HARD, NULL, 1, &r, obj("hello_m4f.o"), NULL), NM_OK);
    nml_result_free(&r);
}

static void thumb_libgcc_members_pulled_only_as_needed(void) {
    nml_result_t r;
    if (!libgcc[0]) {
        return;
    }
    CHECK_EQ(link_files(NM_ARCH_ARMV6M, NM_FLOAT_SOFT, syms, 1, &r, libgcc, obj("div64_m0.o"), NULL), NM_OK);
    CHECK_EQ(r.mod.n_imports, 0);
    CHECK_EQ(r.mod.n_exports, 2);
    CHECK(r.mod.text_size > 200 && r.mod.text_size < 2048);
    nml_result_free(&r);
    /* not in the firmware list and no libgcc: a clear error */
    CHECK_EQ(link_files(NM_ARCH_ARMV6M, NM_FLOAT_SOFT, syms, 1, &r, obj("div64_m0.o"), NULL), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(detail, "__aeabi_");
    CHECK_STR_CONTAINS(detail, "R_ARM_THM_CALL");
    /* listed by the firmware: imported in preference to libgcc */
    char path[600];
    snprintf(path, sizeof path, "%s/fw_div.syms", objdir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("# firmware\n__aeabi_uldivmod\n__aeabi_ldivmod 0x1\n", f);
        fclose(f);
    }
    CHECK_EQ(link_files(NM_ARCH_ARMV6M, NM_FLOAT_SOFT, path, 1, &r, obj("div64_m0.o"), libgcc, NULL), NM_OK);
    CHECK_EQ(r.mod.n_imports, 2);
    CHECK(r.mod.text_size < 200);
    nml_result_free(&r);
}

static void thumb_object_for_a_newer_cpu_is_refused(void) {
    nml_result_t r;
    /* Thumb-2 (cortex-m3: Tag_CPU_arch v7, profile M) would fault on a Cortex-M0 */
    CHECK_EQ(link_files(NM_ARCH_ARMV6M, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_m3.o"), NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "hello_m3.o");
    CHECK_STR_CONTAINS(detail, "ARMv7-M");
    CHECK_STR_CONTAINS(detail, "armv6m");
    CHECK(!strchr(detail, '\n'));
    /* v7E-M (cortex-m4, DSP instructions): not on armv7m, fine on armv7em */
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_m4.o"), NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "hello_m4.o");
    CHECK_STR_CONTAINS(detail, "ARMv7E-M");
    CHECK_STR_CONTAINS(detail, "armv7m");
    CHECK_EQ(link_files(NM_ARCH_ARMV7EM, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_m4.o"), NULL), NM_OK);
    nml_result_free(&r);
    /* v8-M mainline (cortex-m33): newer than every arch natmod links */
    CHECK_EQ(link_files(NM_ARCH_ARMV7EM, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_m33.o"), NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "hello_m33.o");
    CHECK_STR_CONTAINS(detail, "ARMv8-M.main");
    CHECK_STR_CONTAINS(detail, "armv7em");
    /* ARMv7 of the A profile (cortex-a7 -mthumb): the architecture number
     * alone would pass for armv7m; the profile does not */
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_a7.o"), NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "hello_a7.o");
    CHECK_STR_CONTAINS(detail, "ARMv7-A");
    CHECK_STR_CONTAINS(detail, "armv7m");
    /* ARM-state code (arm7tdmi, ARMv4T: older, but not Thumb): no Cortex-M runs it */
    CHECK_EQ(link_files(NM_ARCH_ARMV6M, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_arm.o"), NULL), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "hello_arm.o");
    CHECK_STR_CONTAINS(detail, "ARM (A32) code");
    /* older M-profile code runs on the newer archs */
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_m0.o"), NULL), NM_OK);
    nml_result_free(&r);
    CHECK_EQ(link_files(NM_ARCH_ARMV7EM, NM_FLOAT_SOFT, NULL, 1, &r, obj("hello_m3.o"), NULL), NM_OK);
    nml_result_free(&r);
}

/* The libraries natmod build and natmod mpy build offer on Thumb are built
 * per multilib: every member of each (libgcc, libm, libc of the CPU the
 * arch's flags name; objdir/multilibs.txt) must pass the arch's object
 * check for that arch, whatever member a link happens to pull. */
static void thumb_every_multilib_member_passes_the_cpu_check(void) {
    char path[600], line[700];
    snprintf(path, sizeof path, "%s/multilibs.txt", objdir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int libs = 0;
    long members = 0;
    while (f && fgets(line, sizeof line, f)) {
        char an[32], fl[16], lib[600];
        if (sscanf(line, "%31s %15s %599s", an, fl, lib) != 3) {
            continue;
        }
        unsigned arch = 0;
        for (unsigned k = 0; k < NM_ARCH_COUNT; k++) {
            arch = strcmp(nm_arch_name(k), an) ? arch : k;
        }
        unsigned fabi = strcmp(fl, "hard") ? NM_FLOAT_SOFT : NM_FLOAT_HARD;
        FILE *lf = fopen(lib, "rb");
        CHECK(lf != NULL && nm_arch_is_thumb(arch));
        if (!lf) {
            continue;
        }
        fseek(lf, 0, SEEK_END);
        long len = ftell(lf);
        fseek(lf, 0, SEEK_SET);
        uint8_t *d = malloc(len > 0 ? (size_t)len : 1);
        CHECK(d && fread(d, 1, (size_t)len, lf) == (size_t)len);
        fclose(lf);
        nml_arena_t arena = {0};
        nml_err_t e = {detail, sizeof detail, 0};
        nml_ar_t ar;
        CHECK_EQ(nml_ar_parse(&ar, lib, d, (size_t)len, &arena, &e), NM_OK);
        for (size_t k = 0; k < ar.n; k++) {
            nml_member_t m;
            nml_ar_member(&ar, k, &m);
            if (m.size < 4 || memcmp(m.data, "\x7f" "ELF", 4)) {
                continue;
            }
            nml_obj_t o;
            memset(&o, 0, sizeof o);
            o.name = nml_ar_name(&arena, NULL, &m);
            o.data = m.data;
            o.size = m.size;
            e.code = 0;
            int err = nml_elf_parse(&o, &arena, &e);
            if (!err) {
                err = nml_arch_thumb.check_object(&o, arch, fabi, &e);
            }
            if (err) {
                printf("    %s(%s) for %s/%s: %s\n", lib, o.name, an, fl, detail);
            }
            CHECK_EQ(err, NM_OK);
            members++;
        }
        nml_arena_free(&arena);
        free(d);
        libs++;
    }
    if (f) {
        fclose(f);
    }
    printf("    %d libraries, %ld members\n", libs, members);
    CHECK(libs >= 5);
}

static void thumb_undefined_symbols_all_reported(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, syms, 1, &r, obj("undef_m3.o"), NULL), NM_ERR_NOSYM);
    CHECK_EQ(count_lines_with(detail, "undefined symbol '"), 3);
    CHECK_EQ(count_lines_with(detail, "R_ARM_THM_CALL"), 3);
    CHECK_STR_CONTAINS(detail, "'ns::foo(int)' [_ZN2ns3fooEi] (referenced from ");
}

static void thumb_unsupported_and_weak(void) {
    nml_result_t r;
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, NULL, 0, &r, obj("movw_m3.o"), NULL), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "movw_m3.o: .text.counter_addr+0x0: R_ARM_THM_MOVW_ABS_NC against 'counter'");
    CHECK_EQ(link_files(NM_ARCH_ARMV7M, NM_FLOAT_SOFT, NULL, 1, &r, obj("weak_m3.o"), NULL), NM_OK);
    CHECK_EQ(r.mod.n_imports, 0);
    nml_result_free(&r);
}
#endif

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_link objdir fw.syms [libgcc]\n");
        return 2;
    }
    objdir = argv[1];
    syms = argv[2];
    libgcc = argc > 3 ? argv[3] : "";
    RUN(demangle_common_itanium_names_as_cxxfilt);
#if LT_HAVE_X64
    RUN(x64_hello_links_loads_and_runs);
    RUN(x64_jump_table_and_plt_stub);
    RUN(x64_slice_tail_past_the_page_moves_rw_a_page_on);
    RUN(x64_archives_pulled_on_demand_in_any_order);
    RUN(x64_symbol_index_lies_cannot_change_what_is_pulled);
    RUN(x64_weak_symbols);
    RUN(x64_errors_name_the_culprit);
    RUN(x64_every_undefined_symbol_reported_once_demangled);
#endif
#if LT_HAVE_ARM
    RUN(thumb_m0_veneers_bl_and_pointer_tables);
    RUN(thumb_m3_tail_call_b_w_goes_through_veneer);
    RUN(thumb_float_abi_must_match);
    RUN(thumb_libgcc_members_pulled_only_as_needed);
    RUN(thumb_unsupported_and_weak);
    RUN(thumb_object_for_a_newer_cpu_is_refused);
    RUN(thumb_every_multilib_member_passes_the_cpu_check);
    RUN(thumb_undefined_symbols_all_reported);
#endif
    return TEST_DONE();
}
