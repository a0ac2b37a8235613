/*
 * libFuzzer target for the .mpy reader (natmod info reads untrusted .mpy).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_mpy.c src/format/[*].c   (glob)
 *   ./a.out -max_total_time=60 tests/corpus/mpy
 *
 * Every input is parsed. A refusal must come with a one-line detail. An
 * accepted file must keep every promise the parse makes: both iterators run
 * to the end without failing, their counts match n_qstr and n_reloc_ops,
 * every pointer lies inside the bytes parsed, and every relocation run lies
 * inside text or rodata. The runs are then applied the way MicroPython's
 * mp_native_relocate applies them, to exact-size copies of text and rodata,
 * so ASan sees any word the loader would write out of bounds. The
 * firmware-function table ending the text is read from that copy too. The
 * parse of exactly the bytes it consumed must give the same file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natmod/abi.h"
#include "natmod/mpy.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static int inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t size) {
    return p >= buf && n <= size && (size_t)(p - buf) <= size - n;
}

static void walk(const nm_mpy_t *m, const uint8_t *data, size_t size) {
    REQUIRE(m->buf == data && m->size <= size);
    REQUIRE(inside(m->qstrs, 0, data, m->size) && m->objs >= m->qstrs && inside(m->objs, 0, data, m->size));
    REQUIRE(m->text >= m->objs && inside(m->text, m->text_size, data, m->size));
    REQUIRE(m->kind <= NM_MPY_KIND_NATIVE_ASM && m->arch < NM_ARCH_COUNT && m->small_int_bits <= 63);
    REQUIRE(m->kind == NM_MPY_KIND_BYTECODE || m->arch != 0);
    REQUIRE(m->rodata ? inside(m->rodata, m->rodata_size, data, m->size) : m->rodata_size == 0);

    nm_mpy_iter_t it;
    nm_mpy_qstr_t q;
    uint32_t n = 0;
    nm_mpy_qstr_begin(m, &it);
    while (nm_mpy_qstr_next(&it, &q)) {
        REQUIRE(q.index == n++);
        if (q.static_q) {
            REQUIRE(q.static_q <= NM_MPY_N_STATIC_QSTRS && q.str == nm_mpy_static_qstrs[q.static_q - 1]);
        } else {
            /* the text and the NUL after it, inside the qstr table */
            REQUIRE(inside((const uint8_t *)q.str, (size_t)q.len + 1, m->qstrs, (size_t)(m->objs - m->qstrs)));
            REQUIRE(q.str[q.len] == '\0');
        }
    }
    REQUIRE(n == m->n_qstr);

    /* What the loader would do: add a value to every word of every run. */
    unsigned ws = nm_mpy_word_size(m->arch);
    uint8_t *text = malloc(m->text_size ? m->text_size : 1);
    uint8_t *rodata = malloc(m->rodata_size ? m->rodata_size : 1);
    REQUIRE(text && rodata);
    memcpy(text, m->text, m->text_size);
    if (m->rodata_size) {
        memcpy(rodata, m->rodata, m->rodata_size);
    }
    /* The firmware-function table, read from the exact-size copy of text
     * (before the runs change it): every slot and name inside it. */
    nm_mpy_t mc = *m;
    mc.text = text;
    nm_mpy_fw_t fw;
    nm_detail_t fd;
    int frc = nm_mpy_fw_parse(&mc, &fw, &fd);
    REQUIRE(frc == NM_OK || frc == NM_ERR_CORRUPT);
    if (frc == NM_OK) {
        REQUIRE(fw.found || fw.n == 0);
        for (uint32_t i = 0; i < fw.n; i++) {
            nm_mpy_fw_entry_t e;
            nm_mpy_fw_entry(&mc, &fw, i, &e);
            REQUIRE(e.slot_off % ws == 0 && e.slot_off + ws <= fw.table_off);
            REQUIRE(inside((const uint8_t *)e.name, strlen(e.name) + 1, text, m->text_size));
        }
    } else {
        REQUIRE(fd.msg[0] != '\0' && strchr(fd.msg, '\n') == NULL);
    }
    nm_mpy_reloc_t r;
    char name[64];
    n = 0;
    nm_mpy_reloc_begin(m, &it);
    while (nm_mpy_reloc_next(&it, &r)) {
        REQUIRE(m->relocs && r.n >= 1 && r.base <= 1);
        REQUIRE(r.dest <= NM_MPY_DEST_BSS ||
                (r.dest >= NM_MPY_DEST_QSTR_TABLE && r.dest < NM_MPY_DEST_FUN0 + NM_MPY_FUN_TABLE_SIZE));
        REQUIRE(r.dest != NM_MPY_DEST_RODATA || m->rodata_size);
        REQUIRE(r.dest != NM_MPY_DEST_BSS || m->bss_size);
        uint8_t *sec = r.base ? rodata : text;
        uint32_t sec_size = r.base ? m->rodata_size : m->text_size;
        REQUIRE((uint64_t)r.word + r.n <= sec_size / ws);
        for (uint32_t w = 0; w < r.n; w++) {
            sec[((size_t)r.word + w) * ws] += (uint8_t)(r.dest + 1);
            sec[((size_t)r.word + w) * ws + ws - 1] ^= 1;
        }
        REQUIRE(nm_mpy_dest_name(r.dest, name, sizeof name) == name && strlen(name) < sizeof name);
        n++;
    }
    REQUIRE(n == m->n_reloc_ops);
    REQUIRE(!nm_mpy_reloc_next(&it, &r));
    if (m->relocs) {
        REQUIRE(inside(m->relocs, m->relocs_len, data, m->size) && m->relocs_len >= 1);
        REQUIRE(m->relocs[m->relocs_len - 1] == NM_MPY_RELOC_END);
        REQUIRE(m->relocs + m->relocs_len == data + m->size); /* the stream ends the file */
    } else {
        REQUIRE(m->n_reloc_ops == 0 && m->relocs_len == 0);
    }
    free(text);
    free(rodata);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nm_mpy_t m;
    nm_detail_t d;
    memset(&d, 0x5a, sizeof d); /* unterminated garbage: the parse must leave a string */
    int rc = nm_mpy_parse(data, size, &m, &d);
    REQUIRE(memchr(d.msg, '\0', sizeof d.msg) != NULL);
    if (rc != NM_OK) {
        REQUIRE(rc == NM_ERR_MAGIC || rc == NM_ERR_VERSION || rc == NM_ERR_TRUNCATED ||
                rc == NM_ERR_CORRUPT || rc == NM_ERR_UNSUPPORTED);
        REQUIRE(d.msg[0] != '\0' && strchr(d.msg, '\n') == NULL);
        return 0;
    }
    REQUIRE(d.msg[0] == '\0');
    walk(&m, data, size);
    /* The bytes consumed alone are the same file: nothing after them counts. */
    nm_mpy_t m2;
    uint8_t *exact = malloc(m.size ? m.size : 1);
    REQUIRE(exact);
    memcpy(exact, data, m.size);
    REQUIRE(nm_mpy_parse(exact, m.size, &m2, NULL) == NM_OK && m2.size == m.size &&
            m2.n_reloc_ops == m.n_reloc_ops && m2.text_size == m.text_size && m2.n_qstr == m.n_qstr);
    walk(&m2, exact, m.size);
    /* One byte fewer is always a truncated file. */
    REQUIRE(nm_mpy_parse(exact, m.size - 1, &m2, NULL) == NM_ERR_TRUNCATED);
    free(exact);
    return 0;
}
