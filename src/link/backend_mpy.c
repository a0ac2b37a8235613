/*
 * The .mpy back-end: a module linked with entry "mpy_init" in the packed
 * layout becomes a MicroPython .mpy (version 6.3) holding one native viper
 * raw code, as py/persistentcode.c loads it:
 *
 *   'M' 6 (3 | arch << 2) 31 | n_qstr | n_obj=0 | qstrs (source name first)
 *   | kind_len = text_len << 3 | 2 | text | scope_flags | [bss size]
 *   | relocation ops ... 0xff
 *
 * The loader copies text into executable RAM, allocates bss, and adds a
 * destination address to each word a relocation names. natmod's text is
 * TEXT, then RW's data (and GOT) at rw_offset, then bss when code reaches bss
 * relatively; otherwise bss is the loader's separate zeroed block. The entry
 * is text offset 0 (the core puts its section first, or a jump there). When
 * the module imports firmware functions by name (nm_fw_slot_NAME), their
 * slots and the table naming them end the text (natmod/mpy.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_internal.h"
#include "link/util.h"
#include "natmod/mpy.h"

/* Undefined symbols the MicroPython loader resolves, by relocation kind. */
static const char *const fun_table_objs[] = {
    "mp_type_type", "mp_type_str", "mp_type_list", "mp_type_dict", "mp_type_fun_builtin_0",
    "mp_type_fun_builtin_1", "mp_type_fun_builtin_2", "mp_type_fun_builtin_3", "mp_type_fun_builtin_var",
    "mp_type_Exception", "mp_stream_read_obj", "mp_stream_readinto_obj", "mp_stream_unbuffered_readline_obj",
    "mp_stream_write_obj",
};

int nml_mpy_dest_of(const char *name) {
    if (!strcmp(name, "mp_fun_table")) {
        return NM_MPY_DEST_FUN_TABLE;
    }
    if (!strcmp(name, "mp_native_qstr_table")) {
        return NM_MPY_DEST_QSTR_TABLE;
    }
    if (!strcmp(name, "mp_native_obj_table")) {
        return NM_MPY_DEST_OBJ_TABLE;
    }
    if (!strcmp(name, "memset")) {
        return NM_MPY_DEST_FUN0 + NM_MPY_FUN_MEMSET;
    }
    if (!strcmp(name, "memmove") || !strcmp(name, "memcpy")) {
        return NM_MPY_DEST_FUN0 + NM_MPY_FUN_MEMMOVE;
    }
    if (!strcmp(name, "mp_plat_print")) {
        return NM_MPY_DEST_FUN0 + NM_MPY_FUN_TYPE_TYPE - 1;
    }
    for (size_t i = 0; i < sizeof fun_table_objs / sizeof fun_table_objs[0]; i++) {
        if (!strcmp(name, fun_table_objs[i])) {
            return NM_MPY_DEST_FUN0 + NM_MPY_FUN_TYPE_TYPE + (int)i;
        }
    }
    return -1;
}

/* ---- output buffer ---- */

typedef struct obuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} obuf_t;

static void put(obuf_t *b, const void *d, size_t n) {
    if (b->oom) {
        return;
    }
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put8(obuf_t *b, uint8_t v) {
    put(b, &v, 1);
}

/* MicroPython's vuint: big-endian groups of 7 bits, high bit = more follow. */
static void put_uint(obuf_t *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    t[9 - n++] = v & 0x7f;
    for (v >>= 7; v; v >>= 7) {
        t[9 - n++] = 0x80 | (v & 0x7f);
    }
    put(b, t + 10 - n, (size_t)n);
}

static void put_qstr(obuf_t *b, const char *s) {
    size_t len = strlen(s);
    unsigned q = nm_mpy_static_qstr_find(s, len);
    if (q) {
        put_uint(b, (uint64_t)q << 1 | 1);
        return;
    }
    put_uint(b, (uint64_t)len << 1);
    put(b, s, len + 1); /* with its NUL */
}

/* One-line detail into (d, n), as the rest of the linker reports. */
#define fail(d, n, code, ...) nml_fail(&(nml_err_t){(d), (n), 0}, (code), __VA_ARGS__)

#define MAX_TEXT 0x1000000u

/* ---- firmware functions by name (docs/mpy.md) ---- */

static int is_fw_slot(const char *name) {
    return !strncmp(name, NM_MPY_FW_SLOT_PREFIX, sizeof NM_MPY_FW_SLOT_PREFIX - 1);
}

static int is_fw_name(const char *name) {
    return is_fw_slot(name) || !strcmp(name, NM_MPY_FW_TABLE_SYM);
}

/* Where the slots and the table go, appended to the text after everything
 * else (code, data, GOT, inline bss), so that the table ends the text and a
 * firmware finds it from the last 8 bytes. at[k]: the text offset import k
 * resolves to (its slot, or the table), UINT32_MAX for other imports.
 * Slots and entries are in name order: the same module source gives the
 * same table (and NM_FW_CHECK names the same function first) whatever
 * order the code happens to reference them in. */
typedef struct fwtab {
    uint32_t *at;
    uint32_t *order;    /* import index of slot i */
    uint32_t n;         /* slots */
    uint64_t slots;     /* text offset of slot 0 */
    uint64_t table;     /* text offset of the table (its u32 n) */
    uint64_t end;       /* text length with the table */
} fwtab_t;

static int fw_plan(const nm_wmodule_t *m, unsigned ws, uint64_t text_len, fwtab_t *f, char *detail,
                   size_t detail_len) {
    int want = 0;
    uint64_t names = 0;
    memset(f, 0, sizeof *f);
    for (uint32_t k = 0; k < m->n_imports; k++) {
        if (is_fw_slot(m->imports[k])) {
            if (!m->imports[k][sizeof NM_MPY_FW_SLOT_PREFIX - 1]) {
                return fail(detail, detail_len, NM_ERR_NOSYM,
                            "undefined symbol '%s': a firmware function slot needs a name after the prefix",
                            m->imports[k]);
            }
            f->n++;
            names += strlen(m->imports[k]) - (sizeof NM_MPY_FW_SLOT_PREFIX - 1) + 1;
        } else if (!strcmp(m->imports[k], NM_MPY_FW_TABLE_SYM)) {
            want = 1;
        }
    }
    if (!f->n && !want) {
        f->end = text_len;
        return NM_OK;
    }
    f->at = malloc(m->n_imports * sizeof *f->at);
    f->order = malloc((f->n ? f->n : 1) * sizeof *f->order);
    if (!f->at || !f->order) {
        free(f->at);
        free(f->order);
        f->at = NULL;
        return fail(detail, detail_len, NM_ERR_NOMEM, "out of memory");
    }
    f->slots = (text_len + ws - 1) / ws * ws;
    f->table = f->slots + (uint64_t)f->n * ws; /* 4-aligned: ws is 4 or 8 */
    f->end = f->table + 4 + 8ull * f->n + (names + 3) / 4 * 4 + 8;
    uint32_t i = 0;
    for (uint32_t k = 0; k < m->n_imports; k++) {
        f->at[k] = !strcmp(m->imports[k], NM_MPY_FW_TABLE_SYM) ? (uint32_t)f->table : UINT32_MAX;
        if (is_fw_slot(m->imports[k])) {
            /* insertion into name order (imports are few; names are unique) */
            uint32_t j = i++;
            while (j > 0 && strcmp(m->imports[f->order[j - 1]], m->imports[k]) > 0) {
                f->order[j] = f->order[j - 1];
                j--;
            }
            f->order[j] = k;
        }
    }
    for (i = 0; i < f->n; i++) {
        f->at[f->order[i]] = (uint32_t)(f->slots + (uint64_t)i * ws);
    }
    return NM_OK;
}

/* The slots stay zero (the firmware fills them at import); the table:
 *   u32 n | n x {u32 slot_off, u32 name_off} | names\0 | pad to 4 | u32 table_off | u32 magic
 * slot_off from the text start, name_off from the table start. */
static void fw_write(const nm_wmodule_t *m, const fwtab_t *f, uint8_t *text) {
    uint8_t *t = text + f->table;
    uint32_t name_off = 4 + 8 * f->n;
    nml_wr32(t, f->n);
    for (uint32_t e = 0; e < f->n; e++) {
        uint32_t k = f->order[e];
        const char *name = m->imports[k] + sizeof NM_MPY_FW_SLOT_PREFIX - 1;
        size_t len = strlen(name) + 1;
        nml_wr32(t + 4 + 8 * e, f->at[k]);
        nml_wr32(t + 8 + 8 * e, name_off);
        memcpy(t + name_off, name, len);
        name_off += (uint32_t)len;
    }
    nml_wr32(text + f->end - 8, (uint32_t)f->table);
    nml_wr32(text + f->end - 4, NM_MPY_FW_MAGIC);
}

/* One word to relocate: text offset (bytes) and destination. */
typedef struct mreloc {
    uint32_t off;
    uint16_t dest;
} mreloc_t;

static int by_off(const void *a, const void *b) {
    uint32_t x = ((const mreloc_t *)a)->off, y = ((const mreloc_t *)b)->off;
    return x < y ? -1 : x > y;
}

/* Runs of consecutive words with one destination become one op; text,
 * rodata and bss runs carry their count, the others are one op per word
 * (without an address when they follow on). */
static void put_relocs(obuf_t *b, const mreloc_t *r, size_t n, unsigned ws) {
    uint64_t next = UINT64_MAX; /* word the loader's pointer is at */
    for (size_t i = 0; i < n;) {
        uint64_t word = r[i].off / ws;
        uint16_t dest = r[i].dest;
        size_t run = 1;
        if (dest <= NM_MPY_DEST_BSS) {
            while (i + run < n && r[i + run].dest == dest && r[i + run].off / ws == word + run) {
                run++;
            }
        }
        int need_addr = word != next;
        unsigned op = dest <= NM_MPY_DEST_BSS ? (unsigned)(dest << 1 | (run > 1)) : dest;
        put8(b, (uint8_t)(op << 1 | (unsigned)need_addr));
        if (need_addr) {
            put_uint(b, word << 1); /* bit 0 clear: in text */
        }
        if (run > 1) {
            put_uint(b, run);
        }
        next = word + run;
        i += run;
    }
    put8(b, NM_MPY_RELOC_END);
}

int nml_write_mpy(const nml_result_t *res, const nml_mpy_options_t *o, uint8_t **out, size_t *out_len,
                  char *detail, size_t detail_len) {
    const nm_wmodule_t *m = &res->mod;
    unsigned ws = nm_mpy_word_size(m->arch);
    *out = NULL;
    *out_len = 0;
    if (m->arch != NM_ARCH_X64 && !(m->arch >= NM_ARCH_ARMV6M && m->arch <= NM_ARCH_ARMV7EMDP) &&
        m->arch != NM_ARCH_RV32IMC && m->arch != NM_ARCH_RV64IMC && m->arch != NM_ARCH_XTENSA &&
        m->arch != NM_ARCH_XTENSAWIN) {
        return fail(detail, detail_len, NM_ERR_UNSUPPORTED, ".mpy output for %s is not supported",
                    nm_arch_name(m->arch));
    }
    if (m->arch == NM_ARCH_ARMV7EM) {
        return fail(detail, detail_len, NM_ERR_UNSUPPORTED,
                    "armv7em (soft-float Cortex-M4) has no MicroPython native arch of its own: use armv7m");
    }
    if (o->arch_flags && m->arch != NM_ARCH_RV32IMC) {
        return fail(detail, detail_len, NM_ERR_UNSUPPORTED,
                    "arch flags 0x%x: MicroPython reads arch flags for rv32imc only", (unsigned)o->arch_flags);
    }
    if (o->n_qstrs > 0xffff) {
        return fail(detail, detail_len, NM_ERR_UNSUPPORTED,
                    "%zu qstrs: a module's qstr table holds at most 65535 (mp_native_qstr_table is 16-bit)",
                    o->n_qstrs);
    }
    for (size_t i = 0; i < o->n_qstrs; i++) {
        if (strlen(o->qstrs[i]) > 255) {
            return fail(detail, detail_len, NM_ERR_UNSUPPORTED,
                        "qstr '%.20s...' is %zu bytes: MicroPython qstrs are at most 255 bytes", o->qstrs[i],
                        strlen(o->qstrs[i]));
        }
    }
    int inline_bss = res->bss_relative;
    uint64_t rw = m->rw_offset;
    uint64_t text_len = m->text_size;
    if (m->data_size || (inline_bss && m->bss_size)) {
        text_len = rw + m->data_size + (inline_bss ? m->bss_size : 0);
    }
    uint64_t bss_len = 0;
    if (!inline_bss && m->bss_size) {
        bss_len = (uint64_t)m->data_size + m->bss_size - res->bss_lo;
        bss_len = (bss_len + ws - 1) / ws * ws;
    }
    fwtab_t fw;
    int err = fw_plan(m, ws, text_len, &fw, detail, detail_len);
    if (err) {
        return err;
    }
    text_len = fw.end;
    /* The loader copies text into RAM: 16 MiB is beyond any board it runs on
     * (and keeps kind_len = text_len << 3 | kind far inside 32 bits). */
    if (text_len > MAX_TEXT || bss_len > MAX_TEXT) {
        free(fw.at);
        free(fw.order);
        return fail(detail, detail_len, NM_ERR_UNSUPPORTED,
                    "module too large for a .mpy: %llu bytes of text and %llu of bss (at most %u each)",
                    (unsigned long long)text_len, (unsigned long long)bss_len, MAX_TEXT);
    }
    uint8_t *text = calloc(1, text_len ? (size_t)text_len : 1);
    mreloc_t *rl = calloc(m->n_relocs ? m->n_relocs : 1, sizeof(*rl));
    if (!text || !rl) {
        free(text);
        free(rl);
        free(fw.at);
        free(fw.order);
        return fail(detail, detail_len, NM_ERR_NOMEM, "out of memory");
    }
    memcpy(text, m->text, m->text_size);
    if (m->data_size) {
        memcpy(text + rw, m->data, m->data_size);
    }
    size_t nr = 0;
    for (uint32_t i = 0; i < m->n_relocs && !err; i++) {
        const nm_reloc_t *r = &m->relocs[i];
        uint64_t off = r->site < m->text_size ? r->site : rw + (r->site - m->text_size);
        unsigned w = r->kind == NM_RELOC_PTR64 ? 8 : 4;
        if (w != ws || off % ws || off + ws > text_len) {
            err = fail(detail, detail_len, NM_ERR_RELOC,
                       "pointer at %s+0x%llx is not word-aligned: MicroPython relocates whole %u-byte words "
                       "(align the data holding it)",
                       r->site < m->text_size ? "TEXT" : "RW", (unsigned long long)(off - (r->site < m->text_size ? 0 : rw)),
                       ws);
            break;
        }
        uint64_t v = ws == 8 ? nml_rd64(text + off) : nml_rd32(text + off);
        int dest;
        if (r->target == NM_TARGET_TEXT) {
            dest = NM_MPY_DEST_TEXT;
        } else if (r->target == NM_TARGET_RW) {
            if (inline_bss || v < m->data_size || !m->bss_size) {
                dest = NM_MPY_DEST_TEXT;
                v += rw;
            } else {
                dest = NM_MPY_DEST_BSS;
                v -= res->bss_lo;
            }
        } else {
            uint32_t k = r->target - NM_TARGET_IMPORT0;
            const char *name = k < m->n_imports ? m->imports[k] : "?";
            uint64_t addr;
            dest = nml_mpy_dest_of(name);
            if (fw.at && k < m->n_imports && fw.at[k] != UINT32_MAX) {
                dest = NM_MPY_DEST_TEXT; /* a firmware function's slot, or the table */
                v += fw.at[k];
            } else if (dest < 0) {
                if (!nml_abs_find(o->abs, name, &addr)) {
                    err = fail(detail, detail_len, NM_ERR_NOSYM, "undefined symbol '%s'", name);
                    break;
                }
                v += addr;
                if (ws == 4 && v > 0xffffffffu) {
                    err = fail(detail, detail_len, NM_ERR_RELOC, "'%s' at 0x%llx does not fit a 32-bit word", name,
                               (unsigned long long)addr);
                    break;
                }
            }
        }
        if (ws == 8) {
            nml_wr64(text + off, v);
        } else {
            nml_wr32(text + off, (uint32_t)v);
        }
        if (dest >= 0) {
            rl[nr].off = (uint32_t)off;
            rl[nr].dest = (uint16_t)dest;
            nr++;
        }
    }
    if (fw.at && !err) {
        fw_write(m, &fw, text);
    }
    free(fw.at);
    free(fw.order);
    if (err) {
        free(text);
        free(rl);
        return err;
    }
    if (nr > 1) {
        qsort(rl, nr, sizeof(*rl), by_off);
    }

    obuf_t b = {0};
    put8(&b, NM_MPY_MAGIC);
    put8(&b, NM_MPY_VERSION);
    put8(&b, (uint8_t)(NM_MPY_FEATURE(m->arch) | (o->arch_flags ? NM_MPY_FEATURE_ARCH_FLAGS : 0)));
    put8(&b, NM_MPY_SMALL_INT_BITS);
    if (o->arch_flags) {
        put_uint(&b, o->arch_flags); /* py/persistentcode.c: a vuint right after the header */
    }
    put_uint(&b, 1 + o->n_qstrs);
    put_uint(&b, 0); /* no constant objects */
    put_qstr(&b, o->source_name ? o->source_name : m->name);
    for (size_t i = 0; i < o->n_qstrs; i++) {
        put_qstr(&b, o->qstrs[i]);
    }
    put_uint(&b, text_len << 3 | NM_MPY_KIND_NATIVE_VIPER);
    put(&b, text, (size_t)text_len);
    put_uint(&b, NM_MPY_SCOPE_VIPERRELOC | (bss_len ? NM_MPY_SCOPE_VIPERBSS : 0));
    if (bss_len) {
        put_uint(&b, bss_len);
    }
    put_relocs(&b, rl, nr, ws);
    free(text);
    free(rl);
    if (b.oom) {
        free(b.p);
        return fail(detail, detail_len, NM_ERR_NOMEM, "out of memory");
    }
    *out = b.p;
    *out_len = b.n;
    return NM_OK;
}

/* ---- undefined symbols ---- */

static int is_libm(const char *n) {
    static const char *const m[] = {
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "exp", "exp2", "expm1",
        "log", "log2", "log10", "log1p", "pow", "sqrt", "cbrt", "hypot", "floor", "ceil", "round", "trunc",
        "fmod", "modf", "frexp", "ldexp", "fabs", "copysign", "nearbyint", "rint", "lround", "erf", "erfc",
        "tgamma", "lgamma", "fmin", "fmax", "remainder", "scalbn",
    };
    size_t len = strlen(n);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        size_t l = strlen(m[i]);
        if (!strncmp(n, m[i], l) && (len == l || (len == l + 1 && (n[l] == 'f' || n[l] == 'l')))) {
            return 1;
        }
    }
    return 0;
}

static int is_libgcc(const char *n) {
    return !strncmp(n, "__aeabi_", 8) || !strncmp(n, "__riscv_", 8) ||
           (!strncmp(n, "__", 2) && (strstr(n, "di3") || strstr(n, "si3") ||
                                                                   strstr(n, "sf") || strstr(n, "df") ||
                                                                   strstr(n, "ti3") || strstr(n, "gnu_")));
}

int nml_mpy_same_import(void *ctx, const char *a, const char *b) {
    const nml_mpy_imports_t *im = ctx;
    int da = nml_mpy_dest_of(a), db = nml_mpy_dest_of(b);
    uint64_t xa, xb;
    if (is_fw_name(a) || is_fw_name(b)) {
        return !strcmp(a, b); /* one slot per name, whatever else shares an address */
    }
    if (da >= 0 || db >= 0) {
        return da == db; /* nml_write_mpy takes the loader's first */
    }
    return nml_abs_find(im->abs, a, &xa) && nml_abs_find(im->abs, b, &xb) && xa == xb;
}

int nml_mpy_check_import(void *ctx, const char *name, char *why, size_t n) {
    const nml_mpy_imports_t *im = ctx;
    uint64_t addr;
    if (is_fw_name(name) || nml_mpy_dest_of(name) >= 0 || nml_abs_find(im->abs, name, &addr)) {
        return 1;
    }
    if (!why || !n) {
        return 0; /* asked while pulling archive members: no message needed */
    }
    char fw[200];
    if (im->abs_path) {
        snprintf(fw, sizeof fw, "not defined by %s", im->abs_path);
    } else {
        snprintf(fw, sizeof fw, "no --firmware given");
    }
    const char *hint;
    if (!strncmp(name, "mp_", 3) || !strncmp(name, "m_", 2) || !strncmp(name, "nlr_", 4) ||
        !strncmp(name, "qstr_", 5)) {
        hint = "MicroPython's functions are reached through mp_fun_table: use the py/dynruntime.h wrapper, or pass "
               "--firmware firmware.elf to call the firmware's own copy";
    } else if (is_libm(name)) {
        hint = "it is in libm: add -l \"$(CC CFLAGS -print-file-name=libm.a)\" (natmod mpy build does)";
    } else if (is_libgcc(name)) {
        hint = "it is a compiler helper: add -l \"$(CC CFLAGS -print-libgcc-file-name)\" (natmod mpy build does)";
    } else {
        hint = "define it, link an archive that does (-l lib.a), or pass --firmware firmware.elf";
    }
    snprintf(why, n, "not in mp_fun_table, %s, %s; %s",
             im->archives && *im->archives ? "not in the archives given" : "no archives given", fw, hint);
    return 0;
}
