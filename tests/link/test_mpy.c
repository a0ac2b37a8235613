/*
 * The .mpy back-end on real objects (tests/link/mpy, compiled at build
 * time with dynruntime.mk's flags for each arch), without MicroPython:
 *   - every .mpy is read back with natmod's reader: header bytes, qstr
 *     table, one native viper raw code, and every relocation inside text;
 *     text and data match the linked module except at relocated words; the
 *     entry (text offset 0) reaches mpy_init;
 *   - x86-64 modules are loaded the way py/persistentcode.c does (copy text
 *     to executable memory, allocate bss, add each destination to each
 *     relocated word) against a fake mp_fun_table and qstr table, and run;
 *   - bad input gives its error and writes nothing.
 *   test_mpy <objdir> <libgcc.a for cortex-m0 or "">
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <setjmp.h>

#include "../test.h"
#include "link/link.h"
#include "lt_util.h"
#include "natmod/mpy.h"

static const char *libgcc;

static const char *const qstrs[] = {"answer", "buf", "type"};

typedef struct linked {
    nml_result_t res;
    uint8_t *mpy;
    size_t len;
} linked_t;

/* Link paths (NULL-terminated) for arch as natmod mpy link does. */
static int link_mpy(unsigned arch, const char *externs, const char *const *q, size_t nq, linked_t *l,
                    const char *const *paths) {
    lt_link_t lk;
    memset(l, 0, sizeof *l);
    unsigned fabi = arch == NM_ARCH_X64 || arch >= NM_ARCH_ARMV7EMSP ? NM_FLOAT_HARD : NM_FLOAT_SOFT;
    nml_options_t *o = lt_options(&lk, arch, fabi, paths);
    nml_abs_syms_t *abs = NULL;
    if (externs) {
        int err = nml_abs_load(externs, NULL, 0, &abs, detail, sizeof detail);
        if (err) {
            return err;
        }
    }
    nml_mpy_imports_t im = {abs, externs, NULL};
    lt_mpy_options(o, &im);
    int err = nml_link(o, &l->res, detail, sizeof detail);
    if (!err) {
        nml_mpy_options_t mo = {"mod.mpy", q, nq, abs, 0};
        err = nml_write_mpy(&l->res, &mo, &l->mpy, &l->len, detail, sizeof detail);
    }
    nml_abs_free(abs);
    return err;
}

static void unlink_mpy(linked_t *l) {
    free(l->mpy);
    nml_result_free(&l->res);
}

/* Where the entry jump at text 0 goes (or 0 when there is none). */
static int64_t jump_target(unsigned arch, const uint8_t *t) {
    if (arch == NM_ARCH_X64) {
        if (t[0] == 0xeb) {
            return 2 + (int8_t)t[1];
        }
        if (t[0] == 0xe9) {
            return 5 + (int32_t)(t[1] | t[2] << 8 | t[3] << 16 | (uint32_t)t[4] << 24);
        }
        return -1;
    }
    uint16_t h1 = (uint16_t)(t[0] | t[1] << 8), h2 = (uint16_t)(t[2] | t[3] << 8);
    unsigned at = 0;
    if (h1 == 0xb510) { /* push {r4, lr}; bl; pop {r4, pc} */
        at = 2;
        h1 = h2;
        h2 = (uint16_t)(t[4] | t[5] << 8);
    }
    if ((h1 & 0xf800) == 0xe000 && !at) { /* B.N */
        int32_t d = (int32_t)((uint32_t)(h1 & 0x7ff) << 21) >> 20;
        return 4 + d;
    }
    if ((h1 & 0xf800) == 0xf000 && (h2 & 0x9000) == (at ? 0xd000 : 0x9000)) { /* B.W / BL */
        uint32_t s = (h1 >> 10) & 1, j1 = (h2 >> 13) & 1, j2 = (h2 >> 11) & 1;
        uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
        uint32_t v = (s << 24) | (i1 << 23) | (i2 << 22) | ((uint32_t)(h1 & 0x3ff) << 12) | ((uint32_t)(h2 & 0x7ff) << 1);
        int32_t d = (int32_t)(v << 7) >> 7;
        return at + 4 + d;
    }
    return -1;
}

/* Read the .mpy back and check it against the linked module. Returns the
 * number of relocated words (or -1 if it does not parse). */
static long check_mpy(const char *what, unsigned arch, const linked_t *l, const char *const *q, size_t nq,
                      size_t abs_words) {
    nm_mpy_t m;
    nm_detail_t d;
    int err = nm_mpy_parse(l->mpy, l->len, &m, &d);
    CHECK_EQ(err, NM_OK);
    if (err) {
        fprintf(stderr, "%s: %s\n", what, d.msg);
        return -1;
    }
    const nm_wmodule_t *w = &l->res.mod;
    unsigned ws = nm_mpy_word_size(arch);
    CHECK_EQ(l->mpy[0], 'M');
    CHECK_EQ(l->mpy[1], 6);
    CHECK_EQ(l->mpy[2], 3 | arch << 2);
    CHECK_EQ(l->mpy[3], 31);
    CHECK_EQ(m.size, l->len);
    CHECK_EQ(m.n_qstr, 1 + nq);
    CHECK_EQ(m.n_obj, 0);
    CHECK_EQ(m.kind, NM_MPY_KIND_NATIVE_VIPER);
    CHECK_EQ(m.has_children, 0);
    CHECK(m.scope_flags & NM_MPY_SCOPE_VIPERRELOC);
    CHECK_EQ(m.rodata_size, 0);
    nm_mpy_iter_t it;
    nm_mpy_qstr_t qs;
    nm_mpy_qstr_begin(&m, &it);
    size_t i = 0;
    while (nm_mpy_qstr_next(&it, &qs)) {
        const char *want = i == 0 ? "mod.mpy" : q[i - 1];
        unsigned sq = nm_mpy_static_qstr_find(want, strlen(want)); /* "type" is one: by number */
        CHECK_EQ(qs.static_q, sq);
        CHECK(sq || (qs.len == strlen(want) && !memcmp(qs.str, want, qs.len)));
        i++;
    }
    CHECK_EQ(i, 1 + nq);
    /* text = TEXT [| data at rw_offset [| bss]] */
    uint32_t want_text = w->text_size;
    if (w->data_size || (l->res.bss_relative && w->bss_size)) {
        want_text = w->rw_offset + w->data_size + (l->res.bss_relative ? w->bss_size : 0);
    }
    CHECK_EQ(m.text_size, want_text);
    CHECK_EQ(!!(m.scope_flags & NM_MPY_SCOPE_VIPERBSS), !l->res.bss_relative && w->bss_size);
    uint8_t *hit = calloc(m.text_size / ws + 1, 1);
    long words = 0;
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(&m, &it);
    while (nm_mpy_reloc_next(&it, &r)) {
        CHECK_EQ(r.base, 0);
        CHECK(r.n >= 1 && (uint64_t)(r.word + r.n) * ws <= m.text_size); /* inside text */
        CHECK(r.dest != NM_MPY_DEST_RODATA);
        CHECK(r.dest != NM_MPY_DEST_BSS || (m.scope_flags & NM_MPY_SCOPE_VIPERBSS));
        CHECK(r.dest < NM_MPY_DEST_FUN0 + NM_MPY_FUN_TABLE_SIZE);
        for (uint32_t k = 0; k < r.n && (uint64_t)(r.word + k) * ws < m.text_size; k++) {
            CHECK_EQ(hit[r.word + k], 0); /* each word once */
            hit[r.word + k] = 1;
            words++;
        }
    }
    /* TEXT and data are the linked bytes except where a word is relocated
     * or holds an absolute (firmware) address */
    size_t diff = 0;
    uint32_t last = UINT32_MAX;
    for (uint32_t k = 0; k < m.text_size; k++) {
        uint8_t want;
        if (k < w->text_size) {
            want = w->text[k];
        } else if (k >= w->rw_offset && k < w->rw_offset + w->data_size) {
            want = w->data[k - w->rw_offset];
        } else {
            want = 0;
        }
        if (m.text[k] != want && !hit[k / ws] && !(k < l->res.entry_jump) && k / ws != last) {
            diff++;
            last = k / ws;
        }
    }
    free(hit);
    CHECK_EQ(diff, abs_words);
    /* text offset 0 is mpy_init, or jumps there */
    CHECK(w->n_exports == 1 && !strcmp(w->exports[0].name, "mpy_init"));
    uint32_t entry = w->exports[0].value & ~1u;
    if (l->res.entry_jump) {
        CHECK_EQ(jump_target(arch, m.text), entry);
    } else {
        CHECK_EQ(entry, 0);
    }
    return words;
}

/* ---- running x86-64 modules as MicroPython's loader would ---- */

static struct {
    uint16_t q;
    intptr_t v;
} stored[8];
static int n_stored;
static const int fake_type_type = 0x7e;
static int fake_none;

static void fake_store_global(uint16_t q, void *o) {
    if (n_stored < 8) {
        stored[n_stored].q = q;
        stored[n_stored].v = (intptr_t)o;
        n_stored++;
    }
}

static int fw_led(int n) {
    return n * 100 + 1;
}

static intptr_t stored_value(uint16_t q) {
    for (int i = 0; i < n_stored; i++) {
        if (stored[i].q == q) {
            return stored[i].v;
        }
    }
    return -1;
}

#define QBASE 1000 /* qstr table entry i holds QBASE + i */

/* What natmod/mpy_fw.h raises ImportError with: mp_load_global(ImportError),
 * mp_obj_new_str(msg), ImportError(msg), nlr_raise. The raise longjmps back
 * into run_x64, which returns -3 with the message in raised_msg. */
static jmp_buf raised_at;
static char raised_msg[128];
static const int fake_import_error = 0x1e;
static char new_str[100];

static void *fake_load_global(uintptr_t q) {
    return q == 38 ? (void *)&fake_import_error : NULL; /* static qstr 38: ImportError */
}

static void *fake_obj_new_str(const char *s, size_t n) {
    n = n < sizeof new_str - 1 ? n : sizeof new_str - 1;
    memcpy(new_str, s, n);
    new_str[n] = 0;
    return new_str;
}

static void *fake_call(void *f, size_t n, size_t kw, void *const *a) {
    if (f == &fake_import_error && n == 1 && kw == 0 && a[0] == new_str) {
        snprintf(raised_msg, sizeof raised_msg, "ImportError: %s", new_str);
    } else {
        snprintf(raised_msg, sizeof raised_msg, "unexpected call");
    }
    return raised_msg;
}

static void fake_raise(void *o) {
    (void)o;
    longjmp(raised_at, 1);
}

/* Firmware functions run_x64 writes into the slots, as natmod's MicroPython
 * component would at import (by name, from the table ending the text). */
static struct {
    const char *name;
    void *addr;
} fw_fill[4];
static int n_fw_fill;

/* Load (persistentcode.c's steps) and call mpy_init(NULL, n_args, 0, NULL).
 * *text and *bss receive the blocks (caller unmaps/frees). */
static int run_x64(const linked_t *l, size_t n_args, uint8_t **text_out, uint8_t **bss_out) {
    nm_mpy_t m;
    nm_detail_t d;
    if (nm_mpy_parse(l->mpy, l->len, &m, &d)) {
        return -1;
    }
    uint8_t *text = mmap(NULL, m.text_size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (text == MAP_FAILED) {
        return -1;
    }
    memcpy(text, m.text, m.text_size);
    uint8_t *bss = calloc(1, m.bss_size + 16);
    static void *ft[NM_MPY_FUN_TABLE_SIZE];
    for (int i = 0; i < NM_MPY_FUN_TABLE_SIZE; i++) {
        ft[i] = (void *)(uintptr_t)(0xdead0000u + i);
    }
    ft[0] = &fake_none;
    ft[13] = (void *)fake_store_global;
    ft[NM_MPY_FUN_MEMSET] = (void *)memset;
    ft[NM_MPY_FUN_MEMMOVE] = (void *)memmove;
    ft[NM_MPY_FUN_TYPE_TYPE] = (void *)&fake_type_type;
    ft[7] = (void *)fake_load_global;
    ft[27] = (void *)fake_call;
    ft[34] = (void *)fake_raise;
    ft[57] = (void *)fake_obj_new_str;
    static uint16_t qt[8];
    for (int i = 0; i < 8; i++) {
        qt[i] = (uint16_t)(QBASE + i);
    }
    nm_mpy_iter_t it;
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(&m, &it);
    while (nm_mpy_reloc_next(&it, &r)) {
        uintptr_t dest;
        switch (r.dest) {
        case NM_MPY_DEST_TEXT: dest = (uintptr_t)text; break;
        case NM_MPY_DEST_BSS: dest = (uintptr_t)bss; break;
        case NM_MPY_DEST_QSTR_TABLE: dest = (uintptr_t)qt; break;
        case NM_MPY_DEST_FUN_TABLE: dest = (uintptr_t)ft; break;
        default: dest = r.dest >= NM_MPY_DEST_FUN0 ? (uintptr_t)ft[r.dest - NM_MPY_DEST_FUN0] : 0; break;
        }
        uintptr_t *p = (uintptr_t *)(void *)(text + (size_t)r.word * 8);
        for (uint32_t k = 0; k < r.n; k++) {
            p[k] += dest;
        }
    }
    nm_mpy_fw_t fw;
    if (n_fw_fill && nm_mpy_fw_parse(&m, &fw, &d) == NM_OK) {
        for (uint32_t i = 0; i < fw.n; i++) {
            nm_mpy_fw_entry_t e;
            nm_mpy_fw_entry(&m, &fw, i, &e);
            for (int k = 0; k < n_fw_fill; k++) {
                if (!strcmp(e.name, fw_fill[k].name)) {
                    memcpy(text + e.slot_off, &fw_fill[k].addr, sizeof(void *));
                }
            }
        }
    }
    typedef void *(*init_t)(void *, size_t, size_t, void **);
    n_stored = 0;
    *text_out = text;
    *bss_out = bss;
    raised_msg[0] = 0;
    if (setjmp(raised_at)) {
        return -3;
    }
    void *ret = ((init_t)(uintptr_t)text)(NULL, n_args, 0, NULL);
    *text_out = text;
    *bss_out = bss;
    return ret == &fake_none ? 0 : -2;
}

static void test_x64_runs(void) {
    linked_t l;
    const char *a[] = {obj("mpy_a_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 3, &l, a), NM_OK);
    CHECK(l.res.bss_relative); /* static counter and buf: RIP-relative */
    CHECK(l.res.entry_jump > 0);
    CHECK(check_mpy("mpy_a x64", NM_ARCH_X64, &l, qstrs, 3, 0) > 0);
    uint8_t *text = NULL, *bss = NULL;
    CHECK_EQ(run_x64(&l, 0, &text, &bss), 0);
    nm_mpy_t m;
    nm_detail_t d;
    nm_mpy_parse(l.mpy, l.len, &m, &d);
    CHECK_EQ(stored_value(QBASE + 1), (40 + 2 + 1) * 2); /* answer: data, static bss, both function pointers */
    CHECK_EQ(stored_value(QBASE + 3), (intptr_t)&fake_type_type);
    intptr_t b = stored_value(QBASE + 2);
    CHECK(b >= (intptr_t)text && b + 32 <= (intptr_t)text + (intptr_t)m.text_size); /* buf: in text */
    CHECK(b > 0 && !memcmp((void *)b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32)); /* memset through mp_fun_table */
    CHECK_EQ(stored_value(23), 0); /* static qstr __name__ by number */
    munmap(text, m.text_size);
    free(bss);
    unlink_mpy(&l);

    const char *b2[] = {obj("mpy_b_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 2, &l, b2), NM_OK);
    CHECK(!l.res.bss_relative);
    CHECK(check_mpy("mpy_b x64", NM_ARCH_X64, &l, qstrs, 2, 0) > 0);
    CHECK_EQ(run_x64(&l, 1, &text, &bss), 0);
    nm_mpy_parse(l.mpy, l.len, &m, &d);
    CHECK(m.bss_size >= 32);
    intptr_t g3 = stored_value(QBASE + 2), g5 = stored_value(QBASE + 1);
    CHECK(g3 >= (intptr_t)bss && g3 < (intptr_t)bss + (intptr_t)m.bss_size); /* gvals: in the bss block */
    CHECK_EQ(g5 - g3, 2 * (intptr_t)sizeof(int));
    CHECK_EQ(*(int *)g3, 8);
    CHECK_EQ(*(int *)g5, 9);
    munmap(text, m.text_size);
    free(bss);
    unlink_mpy(&l);

    /* a firmware function at its absolute address: here, one in this process */
    char ext[256];
    snprintf(ext, sizeof ext, "%s/fw_x64.ld", objdir);
    FILE *f = fopen(ext, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "/* test firmware */\nfw_led = 0x%llx;\n", (unsigned long long)(uintptr_t)fw_led);
        fclose(f);
    }
    const char *c[] = {obj("mpy_fw_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, ext, qstrs, 2, &l, c), NM_OK);
    long words = check_mpy("mpy_fw x64", NM_ARCH_X64, &l, qstrs, 2, 1);
    CHECK_EQ(words, (long)l.res.mod.n_relocs - 1); /* fw_led's GOT word is not relocated */
    CHECK_EQ(run_x64(&l, 0, &text, &bss), 0);
    nm_mpy_parse(l.mpy, l.len, &m, &d);
    CHECK_EQ(stored_value(QBASE + 1), 301);
    CHECK_EQ(stored_value(QBASE + 2), (intptr_t)(1000000000000ull / 1000003u));
    munmap(text, m.text_size);
    free(bss);
    unlink_mpy(&l);
}

static int fw_scale(int x, int by) {
    return x * by;
}

static unsigned fw_flags(void) {
    return 0x100;
}

/* The table ending the text of a module linked from mpy_nmfw.c: fw_scale and
 * fw_flags, each a zeroed word-aligned slot in text that one relocated text
 * word (the GOT entry or literal the code loads) points at; the trailer. */
static void check_fw_table(const char *what, unsigned arch, const linked_t *l) {
    nm_mpy_t m;
    nm_detail_t d;
    nm_mpy_fw_t fw;
    unsigned ws = nm_mpy_word_size(arch);
    CHECK_EQ(nm_mpy_parse(l->mpy, l->len, &m, &d), NM_OK);
    CHECK_EQ(nm_mpy_fw_parse(&m, &fw, &d), NM_OK);
    CHECK(fw.found);
    CHECK_EQ(fw.n, 2);
    CHECK(m.text_size >= 8 && !memcmp(m.text + m.text_size - 4, "NMFW", 4));
    CHECK_EQ(fw.table_off % 4, 0);
    CHECK_EQ(m.text[m.text_size - 8] | m.text[m.text_size - 7] << 8, fw.table_off);
    int seen = 0;
    for (uint32_t i = 0; i < fw.n && i < 2; i++) {
        nm_mpy_fw_entry_t e;
        nm_mpy_fw_entry(&m, &fw, i, &e);
        seen |= !strcmp(e.name, "fw_scale") ? 1 : !strcmp(e.name, "fw_flags") ? 2 : 4;
        CHECK_EQ(e.slot_off % ws, 0);
        CHECK(e.slot_off + ws <= fw.table_off);
        CHECK(e.slot_off >= l->res.mod.text_size); /* after the code */
        uint8_t zero[8] = {0};
        CHECK(!memcmp(m.text + e.slot_off, zero, ws));
        /* no relocation touches the slot; exactly one text word points at it */
        int refs = 0;
        nm_mpy_iter_t it;
        nm_mpy_reloc_t r;
        nm_mpy_reloc_begin(&m, &it);
        while (nm_mpy_reloc_next(&it, &r)) {
            for (uint32_t k = 0; k < r.n; k++) {
                uint64_t at = ((uint64_t)r.word + k) * ws, v = 0;
                CHECK(r.base != 0 || at != e.slot_off);
                for (unsigned b = 0; b < ws; b++) {
                    v |= (uint64_t)m.text[at + b] << (8 * b);
                }
                refs += r.base == 0 && r.dest == NM_MPY_DEST_TEXT && v == e.slot_off;
            }
        }
        CHECK_EQ(refs, 1);
    }
    CHECK_EQ(seen, 3);
    if (fw.n == 2) {
        nm_mpy_fw_entry_t e0;
        nm_mpy_fw_entry(&m, &fw, 0, &e0);
        CHECK(!strcmp(e0.name, "fw_flags")); /* entries in name order */
    }
    if (fw.n != 2 || seen != 3) {
        fprintf(stderr, "%s: firmware function table wrong\n", what);
    }
}

#if LT_HAVE_X64
/* Run as a firmware with and without the functions: stock firmware fills
 * nothing, so NM_FW_CHECK raises ImportError naming the first one; with
 * only fw_flags NM_FW raises at the call naming fw_scale; with both the
 * calls reach them. */
static void test_x64_fw_by_name(void) {
    linked_t l;
    const char *a[] = {obj("mpy_nmfw_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 2, &l, a), NM_OK);
    check_fw_table("mpy_nmfw x64", NM_ARCH_X64, &l);
    nm_mpy_t m;
    nm_detail_t d;
    nm_mpy_fw_t fw;
    nm_mpy_fw_entry_t first;
    nm_mpy_parse(l.mpy, l.len, &m, &d);
    nm_mpy_fw_parse(&m, &fw, &d);
    nm_mpy_fw_entry(&m, &fw, 0, &first);
    char want[128];
    snprintf(want, sizeof want, "ImportError: firmware function '%s' not found", first.name);
    uint8_t *text = NULL, *bss = NULL;
    n_fw_fill = 0;
    CHECK_EQ(run_x64(&l, 0, &text, &bss), -3);
    CHECK_STR_CONTAINS(raised_msg, want);
    CHECK_EQ(strlen(raised_msg), strlen(want));
    munmap(text, m.text_size);
    free(bss);

    fw_fill[0].name = "fw_flags";
    fw_fill[0].addr = (void *)fw_flags;
    n_fw_fill = 1;
    CHECK_EQ(run_x64(&l, 1, &text, &bss), -3); /* no NM_FW_CHECK: NM_FW raises */
    CHECK_STR_CONTAINS(raised_msg, "ImportError: firmware function 'fw_scale' not found");
    CHECK_EQ(strlen(raised_msg), strlen("ImportError: firmware function 'fw_scale' not found"));
    munmap(text, m.text_size);
    free(bss);

    fw_fill[1].name = "fw_scale";
    fw_fill[1].addr = (void *)fw_scale;
    n_fw_fill = 2;
    CHECK_EQ(run_x64(&l, 0, &text, &bss), 0);
    CHECK_EQ(stored_value(QBASE + 1), 14 * 3 + 0x100);
    munmap(text, m.text_size);
    free(bss);
    n_fw_fill = 0;
    unlink_mpy(&l);
}
#endif

static void test_thumb(void) {
    static const struct {
        unsigned arch;
        const char *suffix;
    } archs[] = {
        {NM_ARCH_ARMV6M, "m0"}, {NM_ARCH_ARMV7M, "m3"}, {NM_ARCH_ARMV7EMSP, "m4f"}, {NM_ARCH_ARMV7EMDP, "m7d"},
    };
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        char n[64];
        linked_t l;
        snprintf(n, sizeof n, "mpy_a_%s.o", archs[i].suffix);
        const char *a[] = {obj(n), NULL};
        CHECK_EQ(link_mpy(archs[i].arch, NULL, qstrs, 3, &l, a), NM_OK);
        if (detail[0]) {
            fprintf(stderr, "%s: %s\n", n, detail);
        }
        CHECK(l.res.bss_relative); /* -fpic: static data through GOTOFF */
        CHECK(l.res.entry_jump > 0);
        CHECK(check_mpy(n, archs[i].arch, &l, qstrs, 3, 0) > 0);
        unlink_mpy(&l);

        snprintf(n, sizeof n, "mpy_b_%s.o", archs[i].suffix);
        const char *b[] = {obj(n), NULL};
        CHECK_EQ(link_mpy(archs[i].arch, NULL, qstrs, 2, &l, b), NM_OK);
        CHECK(!l.res.bss_relative);
        CHECK(check_mpy(n, archs[i].arch, &l, qstrs, 2, 0) > 0);
        unlink_mpy(&l);
    }
    /* Thumb-2 code (cortex-m3) refused for armv6m, where it would fault */
    {
        linked_t l;
        const char *m3[] = {obj("mpy_a_m3.o"), NULL};
        CHECK_EQ(link_mpy(NM_ARCH_ARMV6M, NULL, qstrs, 3, &l, m3), NM_ERR_ARCH);
        CHECK_STR_CONTAINS(detail, "mpy_a_m3.o");
        CHECK_STR_CONTAINS(detail, "armv6m");
        CHECK_STR_CONTAINS(detail, "ARMv7-M");
        nml_result_free(&l.res);
        const char *m0[] = {obj("mpy_a_m0.o"), NULL};
        CHECK_EQ(link_mpy(NM_ARCH_ARMV7M, NULL, qstrs, 3, &l, m0), NM_OK); /* older: fine */
        unlink_mpy(&l);
    }
    /* ARMv6-M: a 64-bit division pulls __aeabi_uldivmod from libgcc; the
     * firmware function's address lands in its GOT word with bit 0 set */
    if (libgcc && *libgcc) {
        char ext[256];
        snprintf(ext, sizeof ext, "%s/fw_m0.ld", objdir);
        FILE *f = fopen(ext, "w");
        if (f) {
            /* spaced as ESP8266's eagle.rom.addr.v6.ld writes it */
            fputs("PROVIDE ( fw_led = 0x08001235 ); // thumb\n", f);
            fclose(f);
        }
        linked_t l;
        const char *c[] = {obj("mpy_fw_m0.o"), libgcc, NULL};
        CHECK_EQ(link_mpy(NM_ARCH_ARMV6M, ext, qstrs, 2, &l, c), NM_OK);
        long words = check_mpy("mpy_fw m0", NM_ARCH_ARMV6M, &l, qstrs, 2, 1);
        CHECK_EQ(words, (long)l.res.mod.n_relocs - 1);
        int found = 0;
        nm_mpy_t m;
        nm_detail_t d;
        if (l.mpy && !nm_mpy_parse(l.mpy, l.len, &m, &d)) {
            for (uint32_t k = 0; k + 4 <= m.text_size; k += 4) {
                found += m.text[k] == 0x35 && m.text[k + 1] == 0x12 && m.text[k + 2] == 0x00 && m.text[k + 3] == 0x08;
            }
        }
        CHECK_EQ(found, 1);
        unlink_mpy(&l);
    }
}

/* Thumb veneers (ARMv6-M, 16 bytes) in text: their first 12 bytes. */
#if LT_HAVE_ARM
static void test_thumb_fw_by_name(void) {
    linked_t l;
    const char *a[] = {obj("mpy_nmfw_m3.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_ARMV7M, NULL, qstrs, 2, &l, a), NM_OK);
    check_fw_table("mpy_nmfw armv7m", NM_ARCH_ARMV7M, &l);
    unlink_mpy(&l);
}
#endif

static int count_veneers(const nm_wmodule_t *w) {
    static const uint8_t v[12] = {0x01, 0xb4, 0x02, 0x48, 0x00, 0x68, 0x84, 0x46, 0x01, 0xbc, 0x60, 0x47};
    int n = 0;
    for (uint32_t k = 0; k + 16 <= w->text_size; k += 2) {
        n += !memcmp(w->text + k, v, sizeof v);
    }
    return n;
}

/* memcpy and memmove are both mp_fun_table[51]: one import, one GOT word,
 * one stub/veneer for the two (as mpy_ld.py), and both calls still work. */
static void test_same_target_imports_share_got_and_stub(void) {
#if LT_HAVE_X64
    linked_t l;
    const char *a[] = {obj("mpy_mem_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 3, &l, a), NM_OK);
    /* imports: memcpy/memmove (one), mp_fun_table, mp_native_qstr_table; one GOT word each */
    CHECK_EQ(l.res.mod.n_imports, 3);
    CHECK_EQ(l.res.mod.got_count, 3);
    CHECK(check_mpy("mpy_mem x64", NM_ARCH_X64, &l, qstrs, 3, 0) > 0);
    uint8_t *text = NULL, *bss = NULL;
    CHECK_EQ(run_x64(&l, 0, &text, &bss), 0);
    intptr_t b = stored_value(QBASE + 2);
    CHECK(b != -1 && !memcmp((const char *)b, "aabcdefgh", 9));
    nm_mpy_t m;
    nm_detail_t d;
    if (!nm_mpy_parse(l.mpy, l.len, &m, &d)) {
        munmap(text, m.text_size);
    }
    free(bss);
    unlink_mpy(&l);
#endif
#if LT_HAVE_ARM
    static const struct {
        unsigned arch;
        const char *o;
    } t[] = {{NM_ARCH_ARMV6M, "mpy_mem_m0.o"}, {NM_ARCH_ARMV7M, "mpy_mem_m3.o"}};
    for (size_t i = 0; i < 2; i++) {
        linked_t lt;
        const char *p[] = {obj(t[i].o), NULL};
        CHECK_EQ(link_mpy(t[i].arch, NULL, qstrs, 3, &lt, p), NM_OK);
        CHECK_EQ(lt.res.mod.n_imports, 3);
        CHECK_EQ(lt.res.mod.got_count, 3);
        CHECK_EQ(count_veneers(&lt.res.mod), 1);
        CHECK(check_mpy(t[i].o, t[i].arch, &lt, qstrs, 3, 0) > 0);
        unlink_mpy(&lt);
    }
#endif
    /* two firmware names at one address: one import, one GOT word holding it */
    char ext[256];
    snprintf(ext, sizeof ext, "%s/fw_alias.ld", objdir);
    FILE *f = fopen(ext, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("fw_led = 0x08001235;\nfw_led_alias = 0x08001235;\nfw_other = 0x08001301;\n", f);
        fclose(f);
    }
    static const struct {
        unsigned arch;
        const char *o;
        int veneers;
    } al[] = {{NM_ARCH_X64, "mpy_alias_x64.o", 0}, {NM_ARCH_ARMV6M, "mpy_alias_m0.o", 1}};
    for (size_t i = 0; i < 2; i++) {
        linked_t la;
        const char *p[] = {obj(al[i].o), NULL};
        if ((al[i].arch == NM_ARCH_X64 && !LT_HAVE_X64) || (al[i].arch != NM_ARCH_X64 && !LT_HAVE_ARM)) {
            continue;
        }
        CHECK_EQ(link_mpy(al[i].arch, ext, qstrs, 3, &la, p), NM_OK);
        CHECK_EQ(la.res.mod.n_imports, 3); /* fw_led (and its alias), mp_fun_table, mp_native_qstr_table */
        CHECK_EQ(la.res.mod.got_count, 3);
        if (al[i].veneers) {
            CHECK_EQ(count_veneers(&la.res.mod), 1);
        }
        CHECK(check_mpy(al[i].o, al[i].arch, &la, qstrs, 3, 1) > 0); /* one word holds the address */
        unlink_mpy(&la);
    }
}

static void test_bad_input(void) {
    linked_t l;
    /* not ELF */
    char junk[256];
    snprintf(junk, sizeof junk, "%s/junk.o", objdir);
    FILE *f = fopen(junk, "w");
    if (f) {
        fputs("this is not an object file\n", f);
        fclose(f);
    }
    const char *j[] = {junk, NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 1, &l, j), NM_ERR_ELF);
    CHECK_STR_CONTAINS(detail, "junk.o");
    /* an x86-64 object for a Thumb arch */
    const char *w[] = {obj("mpy_a_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_ARMV7M, NULL, qstrs, 1, &l, w), NM_ERR_ARCH);
    CHECK_STR_CONTAINS(detail, "mpy_a_x64.o");
    /* no mpy_init */
    const char *h[] = {obj("hello_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 1, &l, h), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(detail, "mpy_init");
    /* an undefined symbol says where it was looked for and what would help */
    const char *u[] = {obj("mpy_fw_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 1, &l, u), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(detail, "undefined symbol 'fw_led'");
    CHECK_STR_CONTAINS(detail, "mpy_fw_x64.o");
    CHECK_STR_CONTAINS(detail, "not in mp_fun_table");
    CHECK_STR_CONTAINS(detail, "--firmware");
    /* every undefined symbol, one line each, C++ names demangled */
    const char *un[] = {obj("mpy_undef_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 1, &l, un), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(detail, "undefined symbol 'missing_c' (referenced from ");
    CHECK_STR_CONTAINS(detail, "\nundefined symbol 'ns::foo(int)' [_ZN2ns3fooEi] (referenced from ");
    CHECK(strchr(detail, '\n') == strrchr(detail, '\n')); /* two lines */
    /* a symbol file without it */
    char ext[256];
    snprintf(ext, sizeof ext, "%s/other.ld", objdir);
    f = fopen(ext, "w");
    if (f) {
        fputs("other = 0x1000;\n", f);
        fclose(f);
    }
    CHECK_EQ(link_mpy(NM_ARCH_X64, ext, qstrs, 1, &l, u), NM_ERR_NOSYM);
    CHECK_STR_CONTAINS(detail, "not defined by");
    /* a malformed symbol file names its line */
    f = fopen(ext, "w");
    if (f) {
        fputs("ok = 0x10;\nfw_led 0x20;\n", f);
        fclose(f);
    }
    CHECK_EQ(link_mpy(NM_ARCH_X64, ext, qstrs, 1, &l, u), NM_ERR_INVAL);
    CHECK_STR_CONTAINS(detail, "other.ld:2");
    /* non-PIC code */
    const char *np[] = {obj("mpy_a_nopic_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, qstrs, 3, &l, np), NM_ERR_RELOC);
    CHECK_STR_CONTAINS(detail, "-fPIC");
    /* a qstr MicroPython cannot hold */
    char longq[300];
    memset(longq, 'q', sizeof longq - 1);
    longq[sizeof longq - 1] = 0;
    const char *lq[] = {"answer", "buf", longq};
    const char *a[] = {obj("mpy_a_x64.o"), NULL};
    CHECK_EQ(link_mpy(NM_ARCH_X64, NULL, lq, 3, &l, a), NM_ERR_UNSUPPORTED);
    CHECK_STR_CONTAINS(detail, "255");
    CHECK(l.mpy == NULL);
    nml_result_free(&l.res);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_mpy OBJDIR LIBGCC_M0\n");
        return 2;
    }
    objdir = argv[1];
    libgcc = argv[2];
#if LT_HAVE_X64
    RUN(test_x64_runs);
    RUN(test_x64_fw_by_name);
    RUN(test_bad_input);
#endif
#if LT_HAVE_ARM
    RUN(test_thumb);
    RUN(test_thumb_fw_by_name);
#endif
    RUN(test_same_target_imports_share_got_and_stub);
    return TEST_DONE();
}
