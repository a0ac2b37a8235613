/*
 * The .mpy reader. A file built here with every relocation op form decodes
 * field by field and op by op; then each header field, table entry, section
 * size and relocation is damaged in turn and must be refused with its own
 * error and a detail naming the field and its byte offset; every prefix of
 * every good file is refused as truncated. With a directory argument
 * (tests/corpus/mpy), each corpus file must give the result its EXPECTED
 * line names (the files from MicroPython's test suite were written by
 * mpy_ld.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "natmod/abi.h"
#include "natmod/mpy.h"

/* ---- a byte builder for .mpy images ---- */

typedef struct bld {
    uint8_t b[4096];
    size_t n;
} bld_t;

static void put(bld_t *b, const void *p, size_t n) {
    CHECK(b->n + n <= sizeof b->b); /* a test bug, not a reader bug */
    if (b->n + n <= sizeof b->b) {
        memcpy(b->b + b->n, p, n);
        b->n += n;
    }
}
static void put8(bld_t *b, unsigned v) {
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}
/* Big-endian base-128, as mpy_ld.py writes it (shortest form). */
static void putu(bld_t *b, uint32_t v) {
    uint8_t t[5];
    int n = 0;
    t[n++] = v & 0x7F;
    while (v >>= 7) {
        t[n++] = (uint8_t)(0x80 | (v & 0x7F));
    }
    while (n) {
        put8(b, t[--n]);
    }
}
static void put_header(bld_t *b, unsigned arch) {
    put8(b, 'M');
    put8(b, NM_MPY_VERSION);
    put8(b, NM_MPY_FEATURE(arch));
    put8(b, NM_MPY_SMALL_INT_BITS);
}
static void put_qtext(bld_t *b, const char *s) {
    putu(b, (uint32_t)strlen(s) << 1);
    put(b, s, strlen(s));
    put8(b, 0);
}
static void put_qstatic(bld_t *b, unsigned q) {
    putu(b, q << 1 | 1);
}
/* The smallest tables: one qstr (static "<module>" for the file name), no objects. */
static void put_tables(bld_t *b) {
    putu(b, 1);
    putu(b, 0);
    put_qstatic(b, 7);
}
/* kind/len, then text_size bytes of text. Returns the text's offset. */
static size_t put_code(bld_t *b, unsigned kind, int children, uint32_t text_size) {
    putu(b, text_size << 3 | (children ? 4u : 0u) | kind);
    size_t at = b->n;
    for (uint32_t i = 0; i < text_size; i++) {
        put8(b, 0x90 + (i & 7));
    }
    return at;
}
/* One relocation op as mp_native_relocate reads it. dest 0..2 with has_count
 * carries a count; has_addr sets (base, word). */
static void put_op(bld_t *b, unsigned dest, int has_addr, unsigned base, uint32_t word, int has_count,
                   uint32_t count) {
    unsigned k = dest <= NM_MPY_DEST_BSS ? (dest << 1 | (has_count ? 1u : 0u)) : dest;
    put8(b, k << 1 | (has_addr ? 1u : 0u));
    if (has_addr) {
        putu(b, word << 1 | base);
    }
    if (has_count) {
        putu(b, count);
    }
}

/* A viper module for arch: qstr "t.py", no objects, text_words words of
 * text, scope flags, rodata and bss sizes. The caller appends relocations.
 * Returns the offset where they start. */
static size_t put_viper(bld_t *b, unsigned arch, uint32_t text_words, uint32_t scope, uint32_t ro, uint32_t bss) {
    b->n = 0;
    put_header(b, arch);
    putu(b, 1);
    putu(b, 0);
    put_qtext(b, "t.py");
    put_code(b, NM_MPY_KIND_NATIVE_VIPER, 0, text_words * nm_mpy_word_size(arch));
    putu(b, scope);
    if (scope & NM_MPY_SCOPE_VIPERRODATA) {
        putu(b, ro);
    }
    if (scope & NM_MPY_SCOPE_VIPERBSS) {
        putu(b, bss);
    }
    for (uint32_t i = 0; i < ro; i++) {
        put8(b, 'r');
    }
    return b->n;
}

static int parse(const bld_t *b, nm_mpy_t *m, nm_detail_t *d) {
    memset(d, 0, sizeof *d);
    return nm_mpy_parse(b->b, b->n, m, d);
}

/* The failure an image must give, and words its detail must hold. */
static void expect(const bld_t *b, int want, const char *w1, const char *w2) {
    nm_mpy_t m;
    nm_detail_t d;
    int rc = parse(b, &m, &d);
    CHECK_EQ(rc, want);
    if (rc != want) {
        fprintf(stderr, "  detail: %s\n", d.msg);
    }
    CHECK(strlen(d.msg) > 0 && strlen(d.msg) < sizeof d.msg && !strchr(d.msg, '\n'));
    if (w1) {
        CHECK_STR_CONTAINS(d.msg, w1);
    }
    if (w2) {
        CHECK_STR_CONTAINS(d.msg, w2);
    }
}

/* Walks both iterators of a parsed file and checks what any parse promises:
 * counts match, every run inside its section, pointers inside the buffer. */
static void check_consistent(const nm_mpy_t *m, const uint8_t *buf, size_t len) {
    CHECK(m->size <= len);
    CHECK(m->text >= buf && m->text + m->text_size <= buf + m->size);
    nm_mpy_iter_t it;
    nm_mpy_qstr_t q;
    uint32_t n = 0;
    nm_mpy_qstr_begin(m, &it);
    while (nm_mpy_qstr_next(&it, &q)) {
        CHECK_EQ(q.index, n);
        if (q.static_q) {
            CHECK(q.static_q <= NM_MPY_N_STATIC_QSTRS && q.str == nm_mpy_static_qstrs[q.static_q - 1]);
        } else {
            CHECK((const uint8_t *)q.str >= buf && (const uint8_t *)q.str + q.len < m->objs && q.str[q.len] == 0);
        }
        n++;
    }
    CHECK_EQ(n, m->n_qstr);
    unsigned ws = nm_mpy_word_size(m->arch);
    nm_mpy_reloc_t r;
    n = 0;
    nm_mpy_reloc_begin(m, &it);
    while (nm_mpy_reloc_next(&it, &r)) {
        uint32_t size = r.base ? m->rodata_size : m->text_size;
        CHECK(r.n >= 1 && (uint64_t)r.word + r.n <= size / ws);
        CHECK(r.dest <= 2 || (r.dest >= 6 && r.dest < NM_MPY_DEST_FUN0 + NM_MPY_FUN_TABLE_SIZE));
        n++;
    }
    CHECK_EQ(n, m->n_reloc_ops);
    CHECK(!nm_mpy_reloc_next(&it, &r)); /* the end is sticky */
}

/* ---- the every-op image ---- */

typedef struct every_op {
    bld_t b;
    size_t text_at, rodata_at, relocs_at, qstr2_at;
} every_op_t;

/* x86-64 (8-byte words): three qstrs (text, static, text), viper code with
 * 8 words of text, 16 bytes of rodata (2 words), 8 of bss, and relocations
 * in every op form: with and without an address, with a count, into text
 * and rodata, to every kind of destination. */
static void build_every_op(every_op_t *e) {
    bld_t *b = &e->b;
    b->n = 0;
    put_header(b, NM_ARCH_X64);
    putu(b, 3);
    putu(b, 0);
    put_qtext(b, "every_op.py");
    put_qstatic(b, 113);
    e->qstr2_at = b->n;
    put_qtext(b, "x");
    e->text_at = put_code(b, NM_MPY_KIND_NATIVE_VIPER, 0, 64);
    putu(b, NM_MPY_SCOPE_VIPERRELOC | NM_MPY_SCOPE_VIPERRODATA | NM_MPY_SCOPE_VIPERBSS);
    putu(b, 16);
    putu(b, 8);
    e->rodata_at = b->n;
    put(b, "RODATA!!rodata!!", 16);
    e->relocs_at = b->n;
    put_op(b, NM_MPY_DEST_TEXT, 1, 0, 0, 0, 0);      /* text[0] <- text */
    put_op(b, NM_MPY_DEST_RODATA, 0, 0, 0, 0, 0);    /* text[1] <- rodata */
    put_op(b, NM_MPY_DEST_BSS, 0, 0, 0, 1, 2);       /* text[2..3] <- bss */
    put_op(b, NM_MPY_DEST_QSTR_TABLE, 0, 0, 0, 0, 0); /* text[4] */
    put_op(b, NM_MPY_DEST_OBJ_TABLE, 0, 0, 0, 0, 0); /* text[5] */
    put_op(b, NM_MPY_DEST_FUN_TABLE, 0, 0, 0, 0, 0); /* text[6] */
    put_op(b, NM_MPY_DEST_FUN0 + NM_MPY_FUN_MEMSET, 0, 0, 0, 0, 0); /* text[7] */
    put_op(b, NM_MPY_DEST_TEXT, 1, 1, 0, 1, 2);      /* rodata[0..1] <- text */
    put8(b, NM_MPY_RELOC_END);
}

static void every_field_and_op_decodes(void) {
    every_op_t e;
    build_every_op(&e);
    const uint8_t *buf = e.b.b;
    nm_mpy_t m;
    nm_detail_t d;
    CHECK_EQ(parse(&e.b, &m, &d), NM_OK);
    CHECK_EQ(d.msg[0], 0);
    CHECK(m.buf == buf);
    CHECK_EQ(m.version, 6);
    CHECK_EQ(m.sub_version, 3);
    CHECK_EQ(m.arch, NM_ARCH_X64);
    CHECK_EQ(m.small_int_bits, 31);
    CHECK_EQ(m.has_arch_flags, 0);
    CHECK_EQ(m.arch_flags, 0);
    CHECK_EQ(m.n_qstr, 3);
    CHECK_EQ(m.n_obj, 0);
    CHECK(m.qstrs == buf + 6);
    CHECK(m.objs == buf + e.qstr2_at + 3); /* "x": length, 'x', NUL */
    CHECK_EQ(m.kind, NM_MPY_KIND_NATIVE_VIPER);
    CHECK_EQ(m.has_children, 0);
    CHECK_EQ(m.n_children, 0);
    CHECK(m.text == buf + e.text_at);
    CHECK_EQ(m.text_size, 64);
    CHECK_EQ(m.scope_flags, 0x70);
    CHECK_EQ(m.rodata_size, 16);
    CHECK_EQ(m.bss_size, 8);
    CHECK(m.rodata == buf + e.rodata_at);
    CHECK(m.relocs == buf + e.relocs_at);
    CHECK_EQ(m.relocs_len, e.b.n - e.relocs_at);
    CHECK_EQ(m.n_reloc_ops, 8);
    CHECK_EQ(m.size, e.b.n);

    static const struct {
        uint16_t static_q;
        const char *s;
    } qs[3] = {{0, "every_op.py"}, {113, NULL}, {0, "x"}};
    nm_mpy_iter_t it;
    nm_mpy_qstr_t q;
    nm_mpy_qstr_begin(&m, &it);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(nm_mpy_qstr_next(&it, &q), 1);
        CHECK_EQ(q.index, i);
        CHECK_EQ(q.static_q, qs[i].static_q);
        const char *want = qs[i].s ? qs[i].s : nm_mpy_static_qstrs[112];
        CHECK(q.len == strlen(want) && memcmp(q.str, want, q.len) == 0);
    }
    CHECK(!strcmp(nm_mpy_static_qstrs[112], "main"));
    CHECK((const uint8_t *)q.str == buf + e.qstr2_at + 1); /* a view into the file */
    CHECK_EQ(nm_mpy_qstr_next(&it, &q), 0);
    CHECK_EQ(nm_mpy_qstr_next(&it, &q), 0);

    static const nm_mpy_reloc_t want[8] = {
        {0, NM_MPY_DEST_TEXT, 0, 1},        {0, NM_MPY_DEST_RODATA, 1, 1},
        {0, NM_MPY_DEST_BSS, 2, 2},         {0, NM_MPY_DEST_QSTR_TABLE, 4, 1},
        {0, NM_MPY_DEST_OBJ_TABLE, 5, 1},   {0, NM_MPY_DEST_FUN_TABLE, 6, 1},
        {0, NM_MPY_DEST_FUN0 + 50, 7, 1},   {1, NM_MPY_DEST_TEXT, 0, 2},
    };
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(&m, &it);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(nm_mpy_reloc_next(&it, &r), 1);
        CHECK_EQ(r.base, want[i].base);
        CHECK_EQ(r.dest, want[i].dest);
        CHECK_EQ(r.word, want[i].word);
        CHECK_EQ(r.n, want[i].n);
    }
    CHECK_EQ(nm_mpy_reloc_next(&it, &r), 0);
    CHECK_EQ(nm_mpy_reloc_next(&it, &r), 0);
    check_consistent(&m, buf, e.b.n);

    /* Trailing bytes: MicroPython stops reading; so does the reader. */
    put(&e.b, "junk", 4);
    CHECK_EQ(parse(&e.b, &m, &d), NM_OK);
    CHECK_EQ(m.size, e.b.n - 4);
}

static void thumb_words_are_4_bytes_and_arch_flags_read(void) {
    bld_t b;
    /* armv7emsp: 10 words of text; runs up to the last word, the last fun
     * table entry, and a count reaching exactly the end. */
    size_t at = put_viper(&b, NM_ARCH_ARMV7EMSP, 10, NM_MPY_SCOPE_VIPERRELOC | NM_MPY_SCOPE_VIPERBSS, 0, 12);
    put_op(&b, NM_MPY_DEST_FUN0 + NM_MPY_FUN_TABLE_SIZE - 1, 1, 0, 9, 0, 0);
    put_op(&b, NM_MPY_DEST_BSS, 1, 0, 0, 1, 9);
    put8(&b, NM_MPY_RELOC_END);
    nm_mpy_t m;
    nm_detail_t d;
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK_EQ(m.arch, NM_ARCH_ARMV7EMSP);
    CHECK_EQ(m.n_reloc_ops, 2);
    CHECK_EQ(m.relocs_len, b.n - at);
    nm_mpy_iter_t it;
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(&m, &it);
    CHECK_EQ(nm_mpy_reloc_next(&it, &r), 1);
    CHECK(r.base == 0 && r.word == 9 && r.n == 1 && r.dest == NM_MPY_DEST_FUN0 + 86);
    CHECK_EQ(nm_mpy_reloc_next(&it, &r), 1);
    CHECK(r.base == 0 && r.word == 0 && r.n == 9 && r.dest == NM_MPY_DEST_BSS);
    CHECK_EQ(nm_mpy_reloc_next(&it, &r), 0);
    check_consistent(&m, b.b, b.n);

    /* rv32imc may carry arch flags (a vuint after the header). */
    b.n = 0;
    put8(&b, 'M');
    put8(&b, 6);
    put8(&b, NM_MPY_FEATURE(NM_ARCH_RV32IMC) | NM_MPY_FEATURE_ARCH_FLAGS);
    put8(&b, 31);
    putu(&b, 0x3);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 0, 8);
    putu(&b, 0);
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK_EQ(m.arch, NM_ARCH_RV32IMC);
    CHECK_EQ(m.has_arch_flags, 1);
    CHECK_EQ(m.arch_flags, 3);
    CHECK(m.relocs == NULL && m.n_reloc_ops == 0 && m.size == b.n);
    check_consistent(&m, b.b, b.n);
}

/* Bytecode with every object type (tuples nested), native py, asm, and code
 * with children: described, not walked beyond the child count. */
static void other_kinds_are_described(void) {
    bld_t b = {{0}, 0};
    nm_mpy_t m;
    nm_detail_t d;
    put8(&b, 'M');
    put8(&b, 6);
    put8(&b, 0); /* arch none: any sub-version */
    put8(&b, 63);
    putu(&b, 1);
    putu(&b, 11);
    put_qstatic(&b, 7);
    size_t objs_at = b.n;
    put(&b, "\x00\x01\x02\x03\x04", 5);        /* fun table, None, False, True, Ellipsis */
    put(&b, "\x05\x03" "abc\x00", 6);           /* str */
    put(&b, "\x06\x00\x00", 3);                 /* empty bytes */
    put(&b, "\x07\x02" "42", 4);                /* int: no NUL */
    put(&b, "\x08\x03" "1.5", 5);               /* float */
    put(&b, "\x09\x02" "2j", 4);                /* complex */
    put(&b, "\x0a\x02\x01\x0a\x01\x05\x01x\x00", 9); /* (True, ("x",)) */
    size_t code_at = b.n;
    put(&b, "\x2c\x00\x02\x01\x51\x63", 6);     /* 5 bytes of bytecode, children */
    putu(&b, 2);
    size_t end_of_parse = b.n;
    put(&b, "\x28\x00\x02\x01\x51\x63", 6);     /* the children: not walked */
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK_EQ(m.arch, NM_ARCH_NONE);
    CHECK_EQ(m.small_int_bits, 63);
    CHECK_EQ(m.n_obj, 11);
    CHECK(m.objs == b.b + objs_at);
    CHECK_EQ(m.kind, NM_MPY_KIND_BYTECODE);
    CHECK_EQ(m.has_children, 1);
    CHECK_EQ(m.n_children, 2);
    CHECK(m.text == b.b + code_at + 1);
    CHECK_EQ(m.text_size, 5);
    CHECK_EQ(m.size, end_of_parse);
    CHECK(m.relocs == NULL);
    check_consistent(&m, b.b, b.n);

    /* Native py: prelude offset inside text, flags from its signature. */
    b.n = 0;
    put_header(&b, NM_ARCH_ARMV7M);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_PY, 0, 6);
    b.b[b.n - 2] = 0x81; /* signature: one continuation byte with flag bit 0 */
    b.b[b.n - 1] = 0x40;
    putu(&b, 4);
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK_EQ(m.kind, NM_MPY_KIND_NATIVE_PY);
    CHECK_EQ(m.prelude_offset, 4);
    CHECK_EQ(m.scope_flags, 1);
    CHECK_EQ(m.size, b.n);

    /* Asm with relocations into text. */
    b.n = 0;
    put_header(&b, NM_ARCH_ARMV6M);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_ASM, 0, 16);
    putu(&b, NM_MPY_SCOPE_VIPERRELOC);
    putu(&b, 2);
    putu(&b, 0x155);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 3, 0, 0);
    put8(&b, NM_MPY_RELOC_END);
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK_EQ(m.kind, NM_MPY_KIND_NATIVE_ASM);
    CHECK(m.n_pos_args == 2 && m.type_sig == 0x155 && m.n_reloc_ops == 1 && m.size == b.n);
    check_consistent(&m, b.b, b.n);

    /* Viper with children: the relocations come after them, not decoded. */
    b.n = 0;
    put_header(&b, NM_ARCH_X64);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 1, 8);
    putu(&b, NM_MPY_SCOPE_VIPERRELOC);
    putu(&b, 1);
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK(m.has_children && m.n_children == 1 && m.relocs == NULL && m.size == b.n);
    /* ... unless there are none: a count of 0, then the relocations. */
    b.b[b.n - 1] = 0;
    size_t at = b.n;
    put_op(&b, NM_MPY_DEST_FUN_TABLE, 1, 0, 0, 0, 0);
    put8(&b, NM_MPY_RELOC_END);
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    CHECK(m.has_children && m.n_children == 0 && m.relocs == b.b + at && m.n_reloc_ops == 1 && m.size == b.n);
}

static void header_damage_is_named(void) {
    every_op_t e;
    bld_t b;
    build_every_op(&e);
    b = e.b;
    b.b[0] = 'N';
    expect(&b, NM_ERR_MAGIC, "not a .mpy", "0x4e");
    b = e.b;
    b.b[1] = 5;
    expect(&b, NM_ERR_VERSION, "header at 0x1", "version 5");
    b = e.b;
    b.b[2] = (uint8_t)((b.b[2] & ~3u) | 2);
    expect(&b, NM_ERR_VERSION, "header at 0x2", "sub-version 2");
    b = e.b;
    b.b[2] = (uint8_t)(13 << 2 | 3);
    expect(&b, NM_ERR_UNSUPPORTED, "header at 0x2", "arch code 13");
    b = e.b;
    b.b[2] |= 0x80; /* MicroPython reads this as arch code 34 */
    expect(&b, NM_ERR_UNSUPPORTED, "header at 0x2", "arch code 34");
    b = e.b;
    b.b[3] = 64;
    expect(&b, NM_ERR_CORRUPT, "header at 0x3", "small-int bits 64");
    b = e.b;
    b.b[2] |= NM_MPY_FEATURE_ARCH_FLAGS;
    expect(&b, NM_ERR_UNSUPPORTED, "header at 0x2", "arch flags");
    /* Short files are judged on what is there. */
    b.n = 2;
    memcpy(b.b, "MZ", 2);
    expect(&b, NM_ERR_VERSION, "header at 0x1", NULL);
    b.n = 1;
    memcpy(b.b, "\x7f", 1);
    expect(&b, NM_ERR_MAGIC, NULL, NULL);
    nm_mpy_t m;
    nm_detail_t d;
    CHECK_EQ(nm_mpy_parse(NULL, 0, &m, &d), NM_ERR_TRUNCATED);
    CHECK_EQ(nm_mpy_parse(NULL, 4, &m, &d), NM_ERR_INVAL);
    CHECK_EQ(nm_mpy_parse(e.b.b, e.b.n, NULL, NULL), NM_ERR_INVAL);
    CHECK_EQ(nm_mpy_parse(e.b.b, e.b.n, &m, NULL), NM_OK); /* a NULL detail is allowed */
}

static void vuints_and_tables_are_bounded(void) {
    bld_t b;
    b.n = 0;
    put_header(&b, NM_ARCH_X64);
    put(&b, "\x80\x80\x80\x80\x80\x01", 6); /* n_qstr: 6 bytes for the value 1 */
    putu(&b, 0);
    expect(&b, NM_ERR_CORRUPT, "n_qstr at 0x4", "longer than 5 bytes");
    b.n = 4;
    putu(&b, 0);
    putu(&b, 0);
    put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 0, 8);
    putu(&b, 0);
    expect(&b, NM_ERR_CORRUPT, "n_qstr at 0x4", "qstr 0 (the source file name)");
    b.n = 4;
    put(&b, "\x90\x80\x80\x80\x00", 5); /* 2^32 */
    expect(&b, NM_ERR_CORRUPT, "n_qstr at 0x4", "above 32 bits");
    b.n = 4;
    put(&b, "\x8f\xff\xff\xff\x7f", 5); /* 2^32 - 1 fits: the table then runs out */
    putu(&b, 0);
    expect(&b, NM_ERR_TRUNCATED, "qstr 0 at 0xa", NULL);

    /* Static qstr numbers: 1..165. */
    static const struct {
        unsigned q;
        int rc;
    } st[] = {{0, NM_ERR_CORRUPT}, {1, NM_OK}, {165, NM_OK}, {166, NM_ERR_CORRUPT}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        b.n = 0;
        put_header(&b, NM_ARCH_X64);
        putu(&b, 2);
        putu(&b, 0);
        put_qtext(&b, "a.py");
        put_qstatic(&b, st[i].q);
        put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 0, 8);
        putu(&b, 0);
        if (st[i].rc) {
            expect(&b, st[i].rc, "qstr 1 at 0xc", st[i].q ? "static qstr number 166" : "static qstr number 0");
        } else {
            nm_mpy_t m;
            nm_detail_t d;
            CHECK_EQ(parse(&b, &m, &d), NM_OK);
        }
    }
    /* Text qstrs: the NUL after the text, and the length against the file. */
    b.n = 0;
    put_header(&b, NM_ARCH_X64);
    putu(&b, 1);
    putu(&b, 0);
    put_qtext(&b, "a.py");
    put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 0, 8);
    putu(&b, 0);
    bld_t c = b;
    c.b[6 + 1 + 4] = '!';
    expect(&c, NM_ERR_CORRUPT, "qstr 0 at 0x6", "not NUL");
    c = b;
    c.b[6] = 50 << 1;
    char want[80];
    snprintf(want, sizeof want, "qstr 0 at 0x6: length 50 runs past the end (file is %zu bytes)", c.n);
    expect(&c, NM_ERR_TRUNCATED, want, NULL);

    /* Objects: unknown type, str without NUL, length past the end, a tuple
     * promising more objects than the file holds. */
    static const struct {
        const char *bytes;
        size_t len;
        int rc;
        const char *w1, *w2;
    } ob[] = {
        {"\x01\x0b", 2, NM_ERR_CORRUPT, "object 1 at 0x8", "type 11"},
        {"\x01\x05\x01" "a!", 5, NM_ERR_CORRUPT, "object 1 at 0x8", "byte 0x21 after its 1 bytes is not NUL"},
        {"\x01\x06\x7f" "abc", 6, NM_ERR_TRUNCATED, "object 1 at 0x8", "length 127 runs past the end"},
        {"\x01\x07\x85", 3, NM_ERR_TRUNCATED, "object 1 length at 0x9", "runs past the end"},
        {"\x0a\x7f\x01", 3, NM_ERR_TRUNCATED, "object 2 at 0xa", "runs past the end"},
    };
    for (size_t i = 0; i < sizeof ob / sizeof ob[0]; i++) {
        b.n = 0;
        put_header(&b, NM_ARCH_X64);
        putu(&b, 1);
        putu(&b, 2);
        put_qstatic(&b, 7);
        put(&b, ob[i].bytes, ob[i].len);
        expect(&b, ob[i].rc, ob[i].w1, ob[i].w2);
    }
}

static void code_sizes_are_checked(void) {
    bld_t b;
    /* Native code in a file without an arch would skip MicroPython's arch check. */
    b.n = 0;
    put_header(&b, NM_ARCH_NONE);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 0, 8);
    putu(&b, 0);
    expect(&b, NM_ERR_CORRUPT, "raw code at 0x7", "no arch");
    /* Text longer than the file. */
    b.n = 0;
    put_header(&b, NM_ARCH_X64);
    put_tables(&b);
    putu(&b, 100 << 3 | NM_MPY_KIND_NATIVE_VIPER);
    put(&b, "abc", 3);
    expect(&b, NM_ERR_TRUNCATED, "raw code at 0x7", "100 bytes");
    /* Scope flags a viper function never has (generator). */
    put_viper(&b, NM_ARCH_X64, 1, 0x11, 0, 0);
    expect(&b, NM_ERR_CORRUPT, "scope flags at 0x", "0x11");
    /* bss + rodata wrapping 32 bits, as MicroPython's allocation size would. */
    put_viper(&b, NM_ARCH_ARMV7M, 1, 0x60, 4, 0xFFFFFFFEu);
    expect(&b, NM_ERR_CORRUPT, "bss size at 0x", "exceed 32 bits");
    /* rodata longer than the file. */
    put_viper(&b, NM_ARCH_ARMV7M, 1, 0x20, 0, 0);
    b.n--;
    putu(&b, 9);
    put(&b, "12345678", 8);
    expect(&b, NM_ERR_TRUNCATED, "rodata size at 0x", "9 bytes");
    /* Native py: the prelude must be inside text. */
    b.n = 0;
    put_header(&b, NM_ARCH_ARMV7M);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_PY, 0, 6);
    putu(&b, 6);
    expect(&b, NM_ERR_CORRUPT, "prelude offset at 0xe", "6");
    b.n--;
    putu(&b, 5); /* the last byte, 0x95, says a continuation byte follows */
    expect(&b, NM_ERR_CORRUPT, "prelude offset at 0xe", "no prelude signature");
    /* Bytecode: MicroPython decodes the signature of even an empty body. */
    b.n = 0;
    put_header(&b, NM_ARCH_NONE);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_BYTECODE, 0, 0);
    expect(&b, NM_ERR_CORRUPT, "raw code at 0x7", "signature");
    /* Children: the count must be there. */
    b.n = 0;
    put_header(&b, NM_ARCH_X64);
    put_tables(&b);
    put_code(&b, NM_MPY_KIND_NATIVE_VIPER, 1, 8);
    putu(&b, 0);
    expect(&b, NM_ERR_TRUNCATED, "child count at 0x", NULL);
}

static void relocation_damage_is_named(void) {
    bld_t b;
    char w[64];
    unsigned reloc_flags = NM_MPY_SCOPE_VIPERRELOC;
    /* An op with no address yet: MicroPython adjusts words at NULL. */
    size_t at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_FUN_TABLE, 0, 0, 0, 0, 0);
    put8(&b, 0xff);
    snprintf(w, sizeof w, "relocation 0 at 0x%zx", at);
    expect(&b, NM_ERR_CORRUPT, w, "no address");

    /* Runs past the end of text: by address, by count, by running on. */
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 4, 0, 0);
    put8(&b, 0xff);
    snprintf(w, sizeof w, "relocation 0 at 0x%zx", at);
    expect(&b, NM_ERR_CORRUPT, w, "text[+0x10] x1 runs past text (16 bytes)");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 2, 1, 3);
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "text[+0x8] x3 runs past text");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 2, 1, 2);
    put_op(&b, NM_MPY_DEST_QSTR_TABLE, 0, 0, 0, 0, 0); /* word 4 of 4 */
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 1 at", "text[+0x10] x1 runs past text");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 0, 1, 0xFFFFFFFFu); /* no 32-bit wrap */
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "x4294967295 runs past text");
    /* x64 words are 8 bytes: 16 bytes of text is 2 words. */
    at = put_viper(&b, NM_ARCH_X64, 2, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 2, 0, 0);
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "text[+0x10] x1 runs past text (16 bytes)");
    /* Rodata words: 6 bytes of rodata hold one whole word. */
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags | NM_MPY_SCOPE_VIPERRODATA, 6, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 1, 1, 0, 0);
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "rodata[+0x4] x1 runs past rodata (6 bytes)");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 1, 0, 0, 0); /* rodata base, no rodata */
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "runs past rodata (0 bytes)");

    /* A zero count. */
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 0, 1, 0);
    put8(&b, 0xff);
    snprintf(w, sizeof w, "relocation 0 at 0x%zx: count 0", at);
    expect(&b, NM_ERR_CORRUPT, w, NULL);

    /* Destinations that do not exist. */
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_BSS, 1, 0, 0, 0, 0);
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "destination bss but the code has none");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags | NM_MPY_SCOPE_VIPERBSS, 0, 4);
    put_op(&b, NM_MPY_DEST_RODATA, 1, 0, 0, 0, 0);
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 at", "destination rodata but the code has none");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 0, 0, 0);
    put_op(&b, NM_MPY_DEST_FUN0 + NM_MPY_FUN_TABLE_SIZE, 0, 0, 0, 0, 0);
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 1 at", "mp_fun_table[87]");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 0, 0, 0);
    put8(&b, 0xfe); /* dest 127, the largest an op byte can say */
    put8(&b, 0xff);
    expect(&b, NM_ERR_CORRUPT, "relocation 1 at", "mp_fun_table[118]");

    /* The stream must end with 0xff (MicroPython reads EOF as 0xff). */
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 0, 0, 0);
    snprintf(w, sizeof w, "relocation 1 at 0x%zx: the stream has no 0xff end", b.n);
    expect(&b, NM_ERR_TRUNCATED, w, NULL);
    /* Address and count vuints cut short, and too long. */
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put8(&b, NM_MPY_DEST_TEXT << 1 | 1);
    put8(&b, 0x80);
    expect(&b, NM_ERR_TRUNCATED, "relocation 0 address at", "runs past the end");
    at = put_viper(&b, NM_ARCH_ARMV7M, 4, reloc_flags, 0, 0);
    put8(&b, (NM_MPY_DEST_TEXT << 1 | 1) << 1 | 1);
    put8(&b, 0);
    put(&b, "\x80\x80\x80\x80\x80\x80\x01", 7);
    expect(&b, NM_ERR_CORRUPT, "relocation 0 count at", "longer than 5 bytes");
    (void)at;
}

/* Every good file, cut at every length, is refused as truncated: never
 * accepted, never read past (each prefix is its own exact-size allocation,
 * so a sanitizer build sees any overread). */
static void check_every_prefix(const uint8_t *buf, size_t len, const char *name) {
    int bad = 0;
    for (size_t k = 0; k < len; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        nm_mpy_t m;
        nm_detail_t d = {{0}};
        int rc = nm_mpy_parse(k ? cut : NULL, k, &m, &d);
        if (rc != NM_ERR_TRUNCATED || !d.msg[0]) {
            if (!bad++) {
                fprintf(stderr, "%s cut at %zu: rc %d (%s)\n", name, k, rc, d.msg);
            }
        }
        free(cut);
    }
    CHECK_EQ(bad, 0);
}

static void every_prefix_is_truncated(void) {
    every_op_t e;
    build_every_op(&e);
    check_every_prefix(e.b.b, e.b.n, "every_op");
    /* Multi-byte vuints everywhere: text, bss, address and count. */
    bld_t b;
    put_viper(&b, NM_ARCH_RV32IMC, 300, 0x70, 5, 300);
    put_op(&b, NM_MPY_DEST_BSS, 1, 1, 0, 0, 0);
    put_op(&b, NM_MPY_DEST_TEXT, 1, 0, 200, 1, 100);
    put8(&b, 0xff);
    nm_mpy_t m;
    nm_detail_t d;
    CHECK_EQ(parse(&b, &m, &d), NM_OK);
    check_every_prefix(b.b, b.n, "rv32imc");
}

/* Flipping any bit of a good file is refused or still gives a file whose
 * iterators keep every promise. */
static void every_bit_flip_is_refused_or_consistent(void) {
    every_op_t e;
    build_every_op(&e);
    unsigned ok = 0;
    for (size_t i = 0; i < e.b.n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bld_t b = e.b;
            b.b[i] ^= (uint8_t)(1u << bit);
            nm_mpy_t m;
            nm_detail_t d;
            int rc = parse(&b, &m, &d);
            if (rc == NM_OK) {
                check_consistent(&m, b.b, b.n);
                ok++;
            } else {
                CHECK(d.msg[0] != 0);
            }
        }
    }
    CHECK(ok > 0); /* the text and rodata bytes are free to change */
}

static void dest_names(void) {
    char buf[64];
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_TEXT, buf, sizeof buf), "text"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_RODATA, buf, sizeof buf), "rodata"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_BSS, buf, sizeof buf), "bss"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_QSTR_TABLE, buf, sizeof buf), "qstr_table"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_OBJ_TABLE, buf, sizeof buf), "obj_table"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_FUN_TABLE, buf, sizeof buf), "mp_fun_table"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_FUN0, buf, sizeof buf), "mp_fun_table[0] const_none"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_FUN0 + 50, buf, sizeof buf), "mp_fun_table[50] memset_"));
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_FUN0 + 86, buf, sizeof buf), "mp_fun_table[86] stream_write_obj"));
    CHECK_STR_CONTAINS(nm_mpy_dest_name(NM_MPY_DEST_FUN0 + 87, buf, sizeof buf), "beyond");
    CHECK_STR_CONTAINS(nm_mpy_dest_name(3, buf, sizeof buf), "undefined");
    CHECK(!strcmp(nm_mpy_dest_name(NM_MPY_DEST_FUN0 + 50, buf, 5), "mp_f"));
}

/* ---- the corpus ---- */

static const char *corpus_dir;

static int code_of(const char *name) {
    static const struct {
        const char *name;
        int code;
    } codes[] = {{"NM_OK", NM_OK},           {"NM_ERR_TRUNCATED", NM_ERR_TRUNCATED},
                 {"NM_ERR_MAGIC", NM_ERR_MAGIC}, {"NM_ERR_VERSION", NM_ERR_VERSION},
                 {"NM_ERR_CORRUPT", NM_ERR_CORRUPT}, {"NM_ERR_UNSUPPORTED", NM_ERR_UNSUPPORTED}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (!strcmp(name, codes[i].name)) {
            return codes[i].code;
        }
    }
    return 1; /* never a parse result */
}

static void corpus_files_give_their_expected_result(void) {
    if (!corpus_dir) {
        printf("     (no corpus directory given: skipped)\n");
        return;
    }
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/EXPECTED", corpus_dir);
    FILE *list = fopen(path, "r");
    CHECK(list != NULL);
    if (!list) {
        return;
    }
    unsigned files = 0;
    while (fgets(line, sizeof line, list)) {
        char file[128], want[40];
        if (line[0] == '#' || sscanf(line, "%127s %39s", file, want) != 2) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", corpus_dir, file);
        static uint8_t buf[1 << 16];
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (!f) {
            continue;
        }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        nm_mpy_t m;
        nm_detail_t d = {{0}};
        int rc = nm_mpy_parse(buf, n, &m, &d);
        if (rc != code_of(want)) {
            fprintf(stderr, "%s: got %d (%s), expected %s\n", file, rc, d.msg, want);
        }
        CHECK_EQ(rc, code_of(want));
        if (rc == NM_OK) {
            check_consistent(&m, buf, n);
            check_every_prefix(buf, m.size, file);
        }
        files++;
    }
    fclose(list);
    CHECK(files >= 20);
}

/* ---- the firmware-function table ending a text (natmod/mpy_fw.h) ---- */

static void w32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* text: 16 bytes of code, slots at 16 and 20, the table at 24:
 * n=2 | {16, 20} {20, 23} | "ab\0cd\0" + 2 pad | 24 | NMFW  (60 bytes) */
static uint32_t fw_text(uint8_t *t) {
    memset(t, 0, 64);
    memset(t, 0x90, 16);
    w32(t + 24, 2);
    w32(t + 28, 16);
    w32(t + 32, 20);
    w32(t + 36, 20);
    w32(t + 40, 23);
    memcpy(t + 44, "ab\0cd\0\0\0", 8);
    w32(t + 52, 24);
    w32(t + 56, NM_MPY_FW_MAGIC);
    return 60;
}

static int fw_parse(const uint8_t *t, uint32_t size, unsigned arch, nm_mpy_fw_t *fw, nm_detail_t *d) {
    nm_mpy_t m;
    memset(&m, 0, sizeof m);
    m.text = t;
    m.text_size = size;
    m.arch = (uint8_t)arch;
    return nm_mpy_fw_parse(&m, fw, d);
}

static void firmware_function_table_is_checked(void) {
    uint8_t t[64];
    nm_mpy_fw_t fw;
    nm_detail_t d = {{0}};
    uint32_t n = fw_text(t);
    CHECK_EQ(fw_parse(t, n, NM_ARCH_ARMV7M, &fw, &d), NM_OK);
    CHECK(fw.found);
    CHECK_EQ(fw.n, 2);
    CHECK_EQ(fw.table_off, 24);
    nm_mpy_t m;
    memset(&m, 0, sizeof m);
    m.text = t;
    m.text_size = n;
    nm_mpy_fw_entry_t e;
    nm_mpy_fw_entry(&m, &fw, 0, &e);
    CHECK_EQ(e.slot_off, 16);
    CHECK(!strcmp(e.name, "ab"));
    nm_mpy_fw_entry(&m, &fw, 1, &e);
    CHECK_EQ(e.slot_off, 20);
    CHECK(!strcmp(e.name, "cd"));
    CHECK(!memcmp(t + n - 4, "NMFW", 4)); /* the magic's bytes in memory order */
    /* no magic: no table, and no error (every .mpy without imports) */
    CHECK_EQ(fw_parse(t, n - 4, NM_ARCH_ARMV7M, &fw, &d), NM_OK);
    CHECK(!fw.found);
    CHECK_EQ(fw_parse(t, 4, NM_ARCH_ARMV7M, &fw, &d), NM_OK);
    CHECK(!fw.found);
    /* an empty table: n = 0, table_off, magic */
    uint8_t z[12];
    w32(z, 0);
    w32(z + 4, 0);
    w32(z + 8, NM_MPY_FW_MAGIC);
    CHECK_EQ(fw_parse(z, 12, NM_ARCH_X64, &fw, &d), NM_OK);
    CHECK(fw.found && fw.n == 0);
    /* damage, each refused with a detail saying what */
    static const struct {
        uint32_t at, v;
        const char *says;
    } bad[] = {
        {52, 26, "offset 0x1a outside text"}, /* table_off not 4-aligned */
        {52, 56, "offset 0x38 outside text"}, /* table_off in the trailer */
        {24, 4, "4 entries do not fit"},
        {28, 18, "slot at text+0x12"},        /* not word-aligned */
        {28, 24, "slot at text+0x18"},        /* the table itself */
        {32, 8, "name at table+0x8"},         /* inside the entries */
        {40, 28, "name at table+0x1c"},       /* past the names */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fw_text(t);
        w32(t + bad[i].at, bad[i].v);
        d.msg[0] = 0;
        CHECK_EQ(fw_parse(t, n, NM_ARCH_ARMV7M, &fw, &d), NM_ERR_CORRUPT);
        CHECK_STR_CONTAINS(d.msg, bad[i].says);
    }
    /* a last name without its NUL before the trailer */
    fw_text(t);
    memcpy(t + 44, "ab\0cdefg", 8);
    CHECK_EQ(fw_parse(t, n, NM_ARCH_ARMV7M, &fw, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "name at table+0x17");
    /* 8-byte slots on x64: 20 is not one */
    fw_text(t);
    CHECK_EQ(fw_parse(t, n, NM_ARCH_X64, &fw, &d), NM_ERR_CORRUPT);
    CHECK_STR_CONTAINS(d.msg, "slot at text+0x14 is not 8-byte aligned");
}

int main(int argc, char **argv) {
    corpus_dir = argc > 1 ? argv[1] : NULL;
    RUN(every_field_and_op_decodes);
    RUN(thumb_words_are_4_bytes_and_arch_flags_read);
    RUN(other_kinds_are_described);
    RUN(header_damage_is_named);
    RUN(vuints_and_tables_are_bounded);
    RUN(code_sizes_are_checked);
    RUN(relocation_damage_is_named);
    RUN(every_prefix_is_truncated);
    RUN(every_bit_flip_is_refused_or_consistent);
    RUN(dest_names);
    RUN(firmware_function_table_is_checked);
    RUN(corpus_files_give_their_expected_result);
    return TEST_DONE();
}
