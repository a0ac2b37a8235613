/*
 * The .mpy reader (natmod/mpy.h). MicroPython's own loader
 * (py/persistentcode.c) trusts the file: it reads past the end as 0xff bytes,
 * lets size_t sums wrap and writes relocations wherever the stream points.
 * This reader trusts nothing: every vuint is bounded to 5 bytes and 32 bits,
 * every length is checked against the bytes present, every relocation run
 * against the section it adjusts, before anything is read through it. It
 * walks the file once, front to back, with no malloc and no recursion (nested
 * tuples are skipped with a counter).
 *
 * Host only, so the details are formatted with snprintf.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "natmod/abi.h"
#include "natmod/mpy.h"

#define NO_INDEX 0xFFFFFFFFu
#define VUINT_MAX_BYTES 5 /* 35 bits of payload: enough for any 32-bit value */

/* The object types of the constant table (py/persistentcode.h). */
enum {
    OBJ_FUN_TABLE = 0,
    OBJ_ELLIPSIS = 4, /* 0..4: no payload */
    OBJ_STR = 5,
    OBJ_BYTES = 6,    /* str and bytes: length, text, NUL */
    OBJ_COMPLEX = 9,  /* int, float, complex: length, text (no NUL) */
    OBJ_TUPLE = 10,   /* length, then that many objects */
};

static int fail(nm_detail_t *d, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(nm_detail_t *d, int err, const char *fmt, ...) {
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Reads a big-endian base-128 number. MicroPython shifts into a size_t with
 * no limit; a longer or larger number here is damage, not a bigger value. */
static int vuint(const uint8_t **pp, const uint8_t *end, uint32_t *out) {
    const uint8_t *p = *pp;
    uint32_t v = 0;
    for (unsigned i = 0;; i++) {
        if (i == VUINT_MAX_BYTES || v > (0xFFFFFFFFu >> 7)) {
            return NM_ERR_CORRUPT;
        }
        if (p >= end) {
            return NM_ERR_TRUNCATED;
        }
        uint8_t b = *p++;
        v = v << 7 | (b & 0x7Fu);
        if (!(b & 0x80)) {
            break;
        }
    }
    *pp = p;
    *out = v;
    return NM_OK;
}

/* A vuint field, its error naming it as what, idx (unless NO_INDEX) and part:
 * "relocation 3 count at 0x1c: ...". During the parse end is the end of the
 * file, so the message can give its size. */
static int vuint_field(const nm_mpy_t *m, const uint8_t **pp, const uint8_t *end, uint32_t *out,
                       nm_detail_t *d, const char *what, uint32_t idx, const char *part) {
    const uint8_t *at = *pp;
    int rc = vuint(pp, end, out);
    if (rc == NM_OK) {
        return NM_OK;
    }
    char name[40];
    if (idx == NO_INDEX) {
        snprintf(name, sizeof name, "%s%s", what, part);
    } else {
        snprintf(name, sizeof name, "%s %u%s", what, (unsigned)idx, part);
    }
    if (rc == NM_ERR_TRUNCATED) {
        return fail(d, rc, "%s at 0x%zx: runs past the end (file is %zu bytes)", name,
                    (size_t)(at - m->buf), (size_t)(end - m->buf));
    }
    return fail(d, rc, "%s at 0x%zx: number longer than 5 bytes or above 32 bits", name,
                (size_t)(at - m->buf));
}

/* The scope flags of a bytecode prelude signature (py/bc.h,
 * MP_BC_PRELUDE_SIG_DECODE): continuation byte n carries flag bit n in bit 6.
 * -1 if the signature runs past end, which MicroPython would read past. */
static int prelude_flags(const uint8_t *p, const uint8_t *end, uint32_t *flags) {
    uint32_t f = 0;
    if (p >= end) {
        return -1;
    }
    uint8_t z = *p++;
    for (unsigned n = 0; z & 0x80; n++) {
        if (p >= end) {
            return -1;
        }
        z = *p++;
        if (n < 32) {
            f |= (uint32_t)((z >> 6) & 1u) << n;
        }
    }
    *flags = f;
    return 0;
}

/* One qstr table entry, checked; the parse and nm_mpy_qstr_next share it. */
static int qstr_next_detail(nm_mpy_iter_t *it, nm_mpy_qstr_t *q, nm_detail_t *d) {
    const nm_mpy_t *m = it->m;
    if (!it->p || it->i >= m->n_qstr) {
        return 0;
    }
    const uint8_t *at = it->p, *p = it->p;
    uint32_t l;
    int rc = vuint_field(m, &p, it->end, &l, d, "qstr", it->i, "");
    if (rc != NM_OK) {
        return rc;
    }
    size_t off = (size_t)(at - m->buf);
    q->index = it->i;
    if (l & 1) {
        uint32_t sq = l >> 1;
        if (sq == 0 || sq > NM_MPY_N_STATIC_QSTRS) {
            return fail(d, NM_ERR_CORRUPT, "qstr %u at 0x%zx: static qstr number %u (MicroPython's are 1..%u)",
                        (unsigned)it->i, off, (unsigned)sq, NM_MPY_N_STATIC_QSTRS);
        }
        q->static_q = (uint16_t)sq;
        q->str = nm_mpy_static_qstrs[sq - 1];
        q->len = (uint32_t)strlen(q->str);
    } else {
        uint32_t n = l >> 1;
        if ((size_t)(it->end - p) <= n) { /* the text and its NUL */
            return fail(d, NM_ERR_TRUNCATED, "qstr %u at 0x%zx: length %u runs past the end (file is %zu bytes)",
                        (unsigned)it->i, off, (unsigned)n, (size_t)(it->end - m->buf));
        }
        if (p[n] != 0) {
            return fail(d, NM_ERR_CORRUPT, "qstr %u at 0x%zx: byte 0x%02x after its %u characters is not NUL",
                        (unsigned)it->i, off, p[n], (unsigned)n);
        }
        q->static_q = 0;
        q->str = (const char *)p;
        q->len = n;
        p += n + 1;
    }
    it->p = p;
    it->i++;
    return 1;
}

/* One relocation op, checked against the sections it touches; the parse and
 * nm_mpy_reloc_next share it. The stream is mp_native_relocate's: an op byte
 * (0xff ends), an optional word address, an optional count. */
static int reloc_next_detail(nm_mpy_iter_t *it, nm_mpy_reloc_t *r, nm_detail_t *d) {
    const nm_mpy_t *m = it->m;
    const uint8_t *at = it->p, *p = it->p;
    if (!p) {
        return 0;
    }
    size_t off = (size_t)(at - m->buf);
    unsigned idx = (unsigned)it->i;
    if (p >= it->end) {
        return fail(d, NM_ERR_TRUNCATED, "relocation %u at 0x%zx: the stream has no 0xff end (file is %zu bytes)",
                    idx, off, (size_t)(it->end - m->buf));
    }
    uint8_t op = *p++;
    if (op == NM_MPY_RELOC_END) {
        return 0; /* it->p stays on the 0xff: the end is sticky */
    }
    uint8_t base = it->base;
    uint32_t word = it->word, n = 1;
    if (op & 1) {
        uint32_t addr;
        int rc = vuint_field(m, &p, it->end, &addr, d, "relocation", idx, " address");
        if (rc != NM_OK) {
            return rc;
        }
        base = (uint8_t)(addr & 1);
        word = addr >> 1;
    } else if (!it->have) {
        /* MicroPython would adjust words from a NULL pointer. */
        return fail(d, NM_ERR_CORRUPT, "relocation %u at 0x%zx: op 0x%02x has no address and none came before",
                    idx, off, op);
    }
    unsigned dest = op >> 1;
    if (dest <= 5) {
        if (dest & 1) {
            int rc = vuint_field(m, &p, it->end, &n, d, "relocation", idx, " count");
            if (rc != NM_OK) {
                return rc;
            }
            if (n == 0) {
                return fail(d, NM_ERR_CORRUPT, "relocation %u at 0x%zx: count 0 (a run adjusts at least one word)",
                            idx, off);
            }
        }
        dest >>= 1;
    }
    if ((dest == NM_MPY_DEST_RODATA && m->rodata_size == 0) || (dest == NM_MPY_DEST_BSS && m->bss_size == 0)) {
        return fail(d, NM_ERR_CORRUPT, "relocation %u at 0x%zx: destination %s but the code has none", idx, off,
                    dest == NM_MPY_DEST_RODATA ? "rodata" : "bss");
    }
    if (dest >= NM_MPY_DEST_FUN0 && dest - NM_MPY_DEST_FUN0 >= NM_MPY_FUN_TABLE_SIZE) {
        return fail(d, NM_ERR_CORRUPT, "relocation %u at 0x%zx: destination mp_fun_table[%u], the table has %u entries",
                    idx, off, dest - NM_MPY_DEST_FUN0, NM_MPY_FUN_TABLE_SIZE);
    }
    unsigned ws = nm_mpy_word_size(m->arch);
    uint32_t size = base ? m->rodata_size : m->text_size;
    if ((uint64_t)word + n > size / ws) {
        return fail(d, NM_ERR_CORRUPT, "relocation %u at 0x%zx: %s[+0x%llx] x%u runs past %s (%u bytes)", idx, off,
                    base ? "rodata" : "text", (unsigned long long)word * ws, (unsigned)n,
                    base ? "rodata" : "text", (unsigned)size);
    }
    r->base = base;
    r->dest = (uint16_t)dest;
    r->word = word;
    r->n = n;
    it->p = p;
    it->base = base;
    it->have = 1;
    it->word = word + n; /* within size / ws: cannot wrap */
    it->i++;
    return 1;
}

/* Skips n_obj constant objects. A tuple adds its items to the count still to
 * skip, so nesting needs no recursion; every object takes at least a byte,
 * so the loop ends with the file. */
static int skip_objects(const nm_mpy_t *m, const uint8_t **pp, const uint8_t *end, nm_detail_t *d) {
    const uint8_t *p = *pp;
    uint64_t pending = m->n_obj;
    for (uint32_t i = 0; pending; i++, pending--) {
        size_t off = (size_t)(p - m->buf);
        if (p >= end) {
            return fail(d, NM_ERR_TRUNCATED, "object %u at 0x%zx: runs past the end (file is %zu bytes)",
                        (unsigned)i, off, (size_t)(end - m->buf));
        }
        uint8_t type = *p++;
        if (type <= OBJ_ELLIPSIS) {
            continue;
        }
        if (type > OBJ_TUPLE) {
            return fail(d, NM_ERR_CORRUPT, "object %u at 0x%zx: type %u is not one MicroPython defines (0..%u)",
                        (unsigned)i, off, type, OBJ_TUPLE);
        }
        uint32_t n;
        int rc = vuint_field(m, &p, end, &n, d, "object", i, " length");
        if (rc != NM_OK) {
            return rc;
        }
        if (type == OBJ_TUPLE) {
            pending += n;
            continue;
        }
        int nul = type == OBJ_STR || type == OBJ_BYTES;
        if ((uint64_t)n + (unsigned)nul > (size_t)(end - p)) {
            return fail(d, NM_ERR_TRUNCATED, "object %u at 0x%zx: length %u runs past the end (file is %zu bytes)",
                        (unsigned)i, off, (unsigned)n, (size_t)(end - m->buf));
        }
        if (nul && p[n] != 0) {
            return fail(d, NM_ERR_CORRUPT, "object %u at 0x%zx: byte 0x%02x after its %u bytes is not NUL",
                        (unsigned)i, off, p[n], (unsigned)n);
        }
        p += n + (unsigned)nul;
    }
    *pp = p;
    return NM_OK;
}

static const char *const kind_names[4] = {"bytecode", "native py", "native viper", "native asm"};

static int parse_header(const uint8_t *buf, size_t len, nm_mpy_t *m, nm_detail_t *d) {
    /* Judge each header byte on whatever prefix exists, so a short file of
     * another kind is reported as that, not as truncated. */
    if (len >= 1 && buf[0] != NM_MPY_MAGIC) {
        return fail(d, NM_ERR_MAGIC, "not a .mpy file (first byte 0x%02x, not 'M')", buf[0]);
    }
    if (len >= 2 && buf[1] != NM_MPY_VERSION) {
        return fail(d, NM_ERR_VERSION, "header at 0x1: .mpy version %u, this reader knows version %u", buf[1],
                    NM_MPY_VERSION);
    }
    if (len >= 3) {
        uint8_t f = buf[2];
        /* MicroPython decodes the arch with mask 0x2f: bit 7 makes an
         * arch code >= 32, which no firmware has. */
        unsigned arch = (f >> 2) & 0x2Fu;
        if (arch >= NM_ARCH_COUNT) {
            return fail(d, NM_ERR_UNSUPPORTED, "header at 0x2: feature byte 0x%02x has arch code %u, not one MicroPython defines",
                        f, arch);
        }
        /* Bytecode-only files (arch 0) are loaded whatever their sub-version. */
        if (arch != NM_ARCH_NONE && NM_MPY_FEATURE_SUB(f) != NM_MPY_SUB_VERSION) {
            return fail(d, NM_ERR_VERSION, "header at 0x2: sub-version %u (feature byte 0x%02x), this reader knows %u.%u",
                        NM_MPY_FEATURE_SUB(f), f, NM_MPY_VERSION, NM_MPY_SUB_VERSION);
        }
        if ((f & NM_MPY_FEATURE_ARCH_FLAGS) && arch != NM_ARCH_RV32IMC) {
            return fail(d, NM_ERR_UNSUPPORTED, "header at 0x2: arch flags (feature byte 0x%02x) for %s; only rv32imc has any",
                        f, nm_arch_name(arch));
        }
        m->sub_version = (uint8_t)NM_MPY_FEATURE_SUB(f);
        m->arch = (uint8_t)arch;
        m->has_arch_flags = (f & NM_MPY_FEATURE_ARCH_FLAGS) != 0;
    }
    if (len >= 4 && buf[3] > 63) {
        return fail(d, NM_ERR_CORRUPT, "header at 0x3: small-int bits %u (at most 63)", buf[3]);
    }
    if (len < 4) {
        return fail(d, NM_ERR_TRUNCATED, "header: %zu bytes present, the header needs 4", len);
    }
    m->version = buf[1];
    m->small_int_bits = buf[3];
    return NM_OK;
}

/* The top-level raw code (persistentcode.c, load_raw_code), up to its
 * children or its relocation stream. */
static int parse_code(nm_mpy_t *m, const uint8_t **pp, const uint8_t *end, nm_detail_t *d) {
    const uint8_t *p = *pp;
    size_t at = (size_t)(p - m->buf);
    uint32_t kind_len;
    int rc = vuint_field(m, &p, end, &kind_len, d, "raw code", NO_INDEX, "");
    if (rc != NM_OK) {
        return rc;
    }
    m->kind = (uint8_t)(kind_len & 3);
    m->has_children = (kind_len & 4) != 0;
    m->text_size = kind_len >> 3;
    if (m->kind != NM_MPY_KIND_BYTECODE && m->arch == NM_ARCH_NONE) {
        /* A firmware with native code would load it without an arch check. */
        return fail(d, NM_ERR_CORRUPT, "raw code at 0x%zx: %s code in a file with no arch", at, kind_names[m->kind]);
    }
    if (m->text_size > (size_t)(end - p)) {
        return fail(d, NM_ERR_TRUNCATED, "raw code at 0x%zx: %u bytes of %s run past the end (file is %zu bytes)", at,
                    (unsigned)m->text_size, kind_names[m->kind], (size_t)(end - m->buf));
    }
    m->text = p;
    p += m->text_size;
    const uint8_t *text_end = p;

    if (m->kind == NM_MPY_KIND_BYTECODE) {
        /* MicroPython decodes the signature before anything checks the size. */
        if (prelude_flags(m->text, text_end, &m->scope_flags) != 0) {
            return fail(d, NM_ERR_CORRUPT, "raw code at 0x%zx: bytecode prelude signature runs past its %u bytes", at,
                        (unsigned)m->text_size);
        }
    } else if (m->kind == NM_MPY_KIND_NATIVE_PY) {
        size_t po = (size_t)(p - m->buf);
        if ((rc = vuint_field(m, &p, end, &m->prelude_offset, d, "prelude offset", NO_INDEX, "")) != NM_OK) {
            return rc;
        }
        if (m->prelude_offset >= m->text_size ||
            prelude_flags(m->text + m->prelude_offset, text_end, &m->scope_flags) != 0) {
            return fail(d, NM_ERR_CORRUPT, "prelude offset at 0x%zx: %u leaves no prelude signature in text (%u bytes)",
                        po, (unsigned)m->prelude_offset, (unsigned)m->text_size);
        }
    } else {
        size_t so = (size_t)(p - m->buf);
        if ((rc = vuint_field(m, &p, end, &m->scope_flags, d, "scope flags", NO_INDEX, "")) != NM_OK) {
            return rc;
        }
        /* mpy-cross writes 0 here and mpy_ld.py only the viper bits; a
         * signature bit (generator, varargs) would misdescribe machine code. */
        uint32_t known = m->kind == NM_MPY_KIND_NATIVE_VIPER ? NM_MPY_SCOPE_VIPERRELOC | NM_MPY_SCOPE_VIPERRODATA |
                                                                    NM_MPY_SCOPE_VIPERBSS
                                                              : NM_MPY_SCOPE_VIPERRELOC;
        if (m->scope_flags & ~known) {
            return fail(d, NM_ERR_CORRUPT, "scope flags at 0x%zx: 0x%x has bits %s code never carries (0x%x)", so,
                        (unsigned)m->scope_flags, kind_names[m->kind], (unsigned)(m->scope_flags & ~known));
        }
        if (m->kind == NM_MPY_KIND_NATIVE_ASM &&
            ((rc = vuint_field(m, &p, end, &m->n_pos_args, d, "asm n_pos_args", NO_INDEX, "")) != NM_OK ||
             (rc = vuint_field(m, &p, end, &m->type_sig, d, "asm type_sig", NO_INDEX, "")) != NM_OK)) {
            return rc;
        }
    }

    if (m->kind == NM_MPY_KIND_NATIVE_VIPER) {
        size_t ro = (size_t)(p - m->buf);
        if ((m->scope_flags & NM_MPY_SCOPE_VIPERRODATA) &&
            (rc = vuint_field(m, &p, end, &m->rodata_size, d, "rodata size", NO_INDEX, "")) != NM_OK) {
            return rc;
        }
        size_t bo = (size_t)(p - m->buf);
        if ((m->scope_flags & NM_MPY_SCOPE_VIPERBSS) &&
            (rc = vuint_field(m, &p, end, &m->bss_size, d, "bss size", NO_INDEX, "")) != NM_OK) {
            return rc;
        }
        /* MicroPython allocates word-aligned bss + rodata as one size_t sum,
         * which wraps on a 32-bit board and then takes the rodata read. */
        unsigned ws = nm_mpy_word_size(m->arch);
        uint64_t bss_aligned = ((uint64_t)m->bss_size + ws - 1) / ws * ws;
        if (bss_aligned + m->rodata_size > 0xFFFFFFFFu) {
            return fail(d, NM_ERR_CORRUPT, "bss size at 0x%zx: %u bytes plus rodata %u exceed 32 bits", bo,
                        (unsigned)m->bss_size, (unsigned)m->rodata_size);
        }
        if (m->rodata_size > (size_t)(end - p)) {
            return fail(d, NM_ERR_TRUNCATED, "rodata size at 0x%zx: %u bytes run past the end (file is %zu bytes)", ro,
                        (unsigned)m->rodata_size, (size_t)(end - m->buf));
        }
        m->rodata = m->rodata_size ? p : NULL;
        p += m->rodata_size;
    }

    if (m->has_children) {
        if ((rc = vuint_field(m, &p, end, &m->n_children, d, "child count", NO_INDEX, "")) != NM_OK) {
            return rc;
        }
        if (m->n_children) {
            /* The children, then this code's relocations, follow: not walked. */
            *pp = p;
            return NM_OK;
        }
    }
    if (m->kind != NM_MPY_KIND_BYTECODE && (m->scope_flags & NM_MPY_SCOPE_VIPERRELOC)) {
        nm_mpy_iter_t it = {m, p, end, 0, 0, 0, 0};
        nm_mpy_reloc_t r;
        m->relocs = p;
        while ((rc = reloc_next_detail(&it, &r, d)) == 1) {
        }
        if (rc < 0) {
            return rc;
        }
        p = it.p + 1; /* past the 0xff */
        m->relocs_len = (uint32_t)(p - m->relocs);
        m->n_reloc_ops = it.i;
    }
    *pp = p;
    return NM_OK;
}

int nm_mpy_parse(const uint8_t *buf, size_t len, nm_mpy_t *m, nm_detail_t *d) {
    if (!m || (!buf && len)) {
        return fail(d, NM_ERR_INVAL, "nm_mpy_parse: NULL buffer or result");
    }
    memset(m, 0, sizeof *m);
    if (len == 0) {
        return fail(d, NM_ERR_TRUNCATED, "header: empty file, the header needs 4 bytes");
    }
    m->buf = buf;
    int rc = parse_header(buf, len, m, d);
    if (rc != NM_OK) {
        return rc;
    }
    const uint8_t *p = buf + 4, *end = buf + len;
    if (m->has_arch_flags && (rc = vuint_field(m, &p, end, &m->arch_flags, d, "arch flags", NO_INDEX, "")) != NM_OK) {
        return rc;
    }
    size_t nq_at = (size_t)(p - buf);
    if ((rc = vuint_field(m, &p, end, &m->n_qstr, d, "n_qstr", NO_INDEX, "")) != NM_OK) {
        return rc;
    }
    if (m->n_qstr == 0) {
        /* Every writer puts the source file name there, and MicroPython's VM
         * reads it (for tracebacks) without looking at the count. */
        return fail(d, NM_ERR_CORRUPT, "n_qstr at 0x%zx: 0, but qstr 0 (the source file name) is always there", nq_at);
    }
    if ((rc = vuint_field(m, &p, end, &m->n_obj, d, "n_obj", NO_INDEX, "")) != NM_OK) {
        return rc;
    }
    /* Each entry takes at least a byte, so the walk ends with the file. */
    m->qstrs = p;
    nm_mpy_iter_t it = {m, p, end, 0, 0, 0, 0};
    nm_mpy_qstr_t q;
    while ((rc = qstr_next_detail(&it, &q, d)) == 1) {
    }
    if (rc < 0) {
        return rc;
    }
    p = it.p;
    m->objs = p;
    if ((rc = skip_objects(m, &p, end, d)) != NM_OK || (rc = parse_code(m, &p, end, d)) != NM_OK) {
        return rc;
    }
    m->size = (size_t)(p - buf);
    if (d) {
        d->msg[0] = '\0';
    }
    return NM_OK;
}

void nm_mpy_qstr_begin(const nm_mpy_t *m, nm_mpy_iter_t *it) {
    memset(it, 0, sizeof *it);
    it->m = m;
    it->p = m->qstrs;
    it->end = m->objs; /* the table ends where the objects begin */
}

int nm_mpy_qstr_next(nm_mpy_iter_t *it, nm_mpy_qstr_t *q) {
    return qstr_next_detail(it, q, NULL) == 1;
}

void nm_mpy_reloc_begin(const nm_mpy_t *m, nm_mpy_iter_t *it) {
    memset(it, 0, sizeof *it);
    it->m = m;
    it->p = m->relocs;
    it->end = m->relocs ? m->relocs + m->relocs_len : NULL;
}

int nm_mpy_reloc_next(nm_mpy_iter_t *it, nm_mpy_reloc_t *r) {
    return reloc_next_detail(it, r, NULL) == 1;
}

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int nm_mpy_fw_parse(const nm_mpy_t *m, nm_mpy_fw_t *fw, nm_detail_t *d) {
    memset(fw, 0, sizeof *fw);
    uint32_t size = m->text_size;
    if (!m->text || size < 8 || rd32(m->text + size - 4) != NM_MPY_FW_MAGIC) {
        return NM_OK;
    }
    fw->found = 1;
    uint32_t ws = nm_mpy_word_size(m->arch);
    uint32_t t = rd32(m->text + size - 8);
    /* everything from the table start to the trailer: n, entries, names */
    if (t % 4 || t > size - 8 || size - 8 - t < 4) {
        return fail(d, NM_ERR_CORRUPT, "firmware function table: offset 0x%x outside text (0x%x bytes)", t, size);
    }
    uint32_t room = size - 8 - t, n = rd32(m->text + t);
    if (n > (room - 4) / 8) {
        return fail(d, NM_ERR_CORRUPT, "firmware function table at text+0x%x: %u entries do not fit in %u bytes", t,
                    n, room);
    }
    const uint8_t *tab = m->text + t;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = rd32(tab + 4 + 8 * i), name = rd32(tab + 8 + 8 * i);
        if (slot % ws || slot > t || t - slot < ws) {
            return fail(d, NM_ERR_CORRUPT,
                        "firmware function table: entry %u: slot at text+0x%x is not %u-byte aligned and before "
                        "the table",
                        i, slot, ws);
        }
        if (name < 4 + 8 * n || name >= room || !memchr(tab + name, 0, room - name)) {
            return fail(d, NM_ERR_CORRUPT,
                        "firmware function table: entry %u: name at table+0x%x is not a NUL-terminated string in "
                        "the table",
                        i, name);
        }
    }
    fw->table_off = t;
    fw->n = n;
    fw->entries = tab + 4;
    return NM_OK;
}

void nm_mpy_fw_entry(const nm_mpy_t *m, const nm_mpy_fw_t *fw, uint32_t i, nm_mpy_fw_entry_t *e) {
    e->slot_off = rd32(fw->entries + 8 * i);
    e->name = (const char *)m->text + fw->table_off + rd32(fw->entries + 8 * i + 4);
}

const char *nm_mpy_dest_name(unsigned dest, char *buf, size_t n) {
    static const char *const fixed[NM_MPY_DEST_FUN0] = {
        "text", "rodata", "bss", NULL, NULL, NULL, "qstr_table", "obj_table", "mp_fun_table",
    };
    if (!buf || n == 0) {
        return "?";
    }
    if (dest < NM_MPY_DEST_FUN0 && fixed[dest]) {
        snprintf(buf, n, "%s", fixed[dest]);
    } else if (dest < NM_MPY_DEST_FUN0) {
        snprintf(buf, n, "destination %u (undefined)", dest);
    } else if (dest - NM_MPY_DEST_FUN0 < NM_MPY_FUN_TABLE_SIZE) {
        snprintf(buf, n, "mp_fun_table[%u] %s", dest - NM_MPY_DEST_FUN0, nm_mpy_fun_table[dest - NM_MPY_DEST_FUN0]);
    } else {
        snprintf(buf, n, "mp_fun_table[%u] (beyond its %u entries)", dest - NM_MPY_DEST_FUN0, NM_MPY_FUN_TABLE_SIZE);
    }
    return buf;
}
