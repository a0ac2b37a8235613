/* natmod info: what a module holds. For a universal module, each slice; for
 * a MicroPython .mpy, its header, qstrs and every relocation op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_sign.h"
#include "natmod/format.h"
#include "natmod/mpy.h"

static void print_reloc_counts(const nm_image_t *img) {
    /* counts[kind][target class]: text, rw, import */
    uint32_t counts[NM_RELOC_KIND_COUNT][3] = {{0}};
    uint32_t in_text = 0, in_rw = 0;
    nm_reloc_iter_t it;
    nm_reloc_t r;
    nm_reloc_iter_init(&it, img);
    while (nm_reloc_next(&it, &r) == 1) {
        unsigned t = r.target >= NM_TARGET_IMPORT0 ? 2 : r.target;
        if (r.kind < NM_RELOC_KIND_COUNT) {
            counts[r.kind][t]++;
        }
        if (r.site < img->text_size) {
            in_text++;
        } else {
            in_rw++;
        }
    }
    static const char *const kind_names[NM_RELOC_KIND_COUNT] = {"ptr32", "ptr64", "insn"};
    printf("  relocations:  %u (%u bytes; %u sites in text, %u in data)\n", (unsigned)img->n_relocs,
           (unsigned)img->reloc_size, (unsigned)in_text, (unsigned)in_rw);
    for (unsigned k = 0; k < NM_RELOC_KIND_COUNT; k++) {
        if (counts[k][0] + counts[k][1] + counts[k][2]) {
            printf("    %-6s +text %u, +rw %u, +import %u\n", kind_names[k], (unsigned)counts[k][0],
                   (unsigned)counts[k][1], (unsigned)counts[k][2]);
        }
    }
}

/* --key PUB: public keys a signed slice is checked against. */
#define INFO_MAX_KEYS 8
static uint8_t info_keys[INFO_MAX_KEYS][NM_PUBKEY_SIZE];
static int info_n_keys;

/* The trailer's lines; NM_ERR_TRUST if keys were given and none verifies. */
static int info_trailer(const char *path, const nm_image_t *img) {
    if (!(img->flags & NM_FLAG_TRAILER)) {
        printf("  version:      0 (no trailer)\n  signature:    none\n");
        return info_n_keys ? cli_fail(NM_ERR_TRUST, "%s: module '%s' is not signed", path, img->strtab) : 0;
    }
    printf("  version:      %u\n", (unsigned)img->version);
    if (!img->is_signed) {
        printf("  signature:    none\n");
        return info_n_keys ? cli_fail(NM_ERR_TRUST, "%s: module '%s' is not signed", path, img->strtab) : 0;
    }
    char hex[2 * NM_KEY_ID_SIZE + 1];
    cli_key_id_hex(img->key_id, hex);
    if (img->flags & NM_FLAG_XIP_LINKED) {
        printf("  signature:    key %s (XIP-linked: %s)\n", hex,
               (img->flags & NM_FLAG_SIG_CHECKED) ? "verified by its installer" : "not verified by its installer");
        return 0;
    }
    if (!info_n_keys) {
        printf("  signature:    key %s (not checked: give --key NAME.pub)\n", hex);
        return 0;
    }
    for (int k = 0; k < info_n_keys; k++) {
        uint8_t id[NM_KEY_ID_SIZE];
        nm_key_id(info_keys[k], id);
        if (memcmp(id, img->key_id, NM_KEY_ID_SIZE) == 0) {
            int ok = cli_verify_with(img, info_keys[k]) == 0;
            printf("  signature:    key %s, %s\n", hex, ok ? "verifies" : "DOES NOT VERIFY");
            return ok ? 0 : cli_fail(NM_ERR_TRUST, "%s: module '%s': bad signature (key %s)", path, img->strtab, hex);
        }
    }
    printf("  signature:    key %s, not one of the keys given\n", hex);
    return cli_fail(NM_ERR_TRUST, "%s: module '%s' is signed by key %s, not by a key given", path, img->strtab, hex);
}

/* One .nmod slice; heading (the file name line) is printed once there is
 * something to show under it (NULL: already printed). */
static int info_slice(const char *path, const char *heading, const uint8_t *buf, size_t len, int verbose) {
    nm_image_t img;
    nm_detail_t d = {{0}};
    int err = nm_image_parse(buf, len, &img, &d);
    if (err) {
        /* Say what can still be said about a damaged file. */
        nm_image_t hdr;
        nm_detail_t d2 = {{0}};
        if (err == NM_ERR_CRC && nm_image_parse_header(buf, len, &hdr, &d2) == NM_OK) {
            if (heading) {
                printf("%s:\n", heading);
            }
            printf("  arch:         %s/%s (header only: the CRC does not match)\n",
                   nm_arch_name(hdr.arch), nm_float_name(hdr.float_abi));
        }
        return cli_fail(err, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(err));
    }
    if (heading) {
        printf("%s:\n", heading);
    }
    uint32_t ptr = nm_arch_ptr_size(img.arch);
    printf("  name:         %s\n", img.strtab);
    printf("  arch:         %s, float ABI %s\n", nm_arch_name(img.arch), nm_float_name(img.float_abi));
    printf("  format:       version %u, flags 0x%x%s\n", NM_FORMAT_VERSION, (unsigned)img.flags,
           (img.flags & NM_FLAG_RW_PCREL) ? " (rw-pcrel: data must follow text at rw_offset)" : "");
    printf("  crc32:        0x%08x (ok)\n", (unsigned)img.crc32);
    if (img.flags & NM_FLAG_XIP_LINKED) {
        printf("  xip-linked:   text at 0x%08x, RW at 0x%08x, bound-import crc 0x%08x, "
               "linked from crc 0x%08x\n",
               (unsigned)img.xip_text_addr, (unsigned)img.xip_rw_addr, (unsigned)img.xip_bind_crc,
               (unsigned)img.xip_src_crc);
    }
    int trust = info_trailer(path, &img);
    printf("  image:        %u bytes\n", (unsigned)img.image_size);
    printf("  text:         %u bytes (align %u)\n", (unsigned)img.text_size, 1u << img.text_align_log2);
    printf("  data:         %u bytes (incl. GOT %u x %u at +0x%x) (align %u)\n", (unsigned)img.data_size,
           (unsigned)img.got_count, (unsigned)ptr, (unsigned)img.got_offset, 1u << img.rw_align_log2);
    printf("  bss:          %u bytes\n", (unsigned)img.bss_size);
    printf("  rw_offset:    0x%x\n", (unsigned)img.rw_offset);
    printf("  strings:      %u bytes\n", (unsigned)img.strtab_size);
    print_reloc_counts(&img);
    printf("  imports:      %u\n", (unsigned)img.n_imports);
    for (uint32_t i = 0; i < img.n_imports; i++) {
        nm_import_info_t im;
        if (nm_image_import(&img, i, &im) == NM_OK) {
            if (im.proto) { /* linked against a symbol list with types: the firmware ABI check */
                printf("    [%u] %08x %s  type %s\n", (unsigned)i, (unsigned)im.hash, im.name, im.proto);
            } else if (im.type_hash) {
                printf("    [%u] %08x %s  type %08x\n", (unsigned)i, (unsigned)im.hash, im.name, (unsigned)im.type_hash);
            } else {
                printf("    [%u] %08x %s\n", (unsigned)i, (unsigned)im.hash, im.name);
            }
        }
    }
    printf("  exports:      %u\n", (unsigned)img.n_exports);
    for (uint32_t i = 0; i < img.n_exports; i++) {
        nm_export_info_t ex;
        if (nm_image_export(&img, i, &ex) == NM_OK) {
            printf("    %-4s %-4s +0x%05x %s%s\n", ex.kind == NM_EXPORT_FUNC ? "func" : "data",
                   ex.region == NM_REGION_TEXT ? "text" : "rw", (unsigned)ex.value, ex.name,
                   i == img.init_idx ? " (init)" : i == img.deinit_idx ? " (deinit)" : "");
        }
    }
    if (verbose) {
        nm_reloc_iter_t it;
        nm_reloc_t r;
        nm_reloc_iter_init(&it, &img);
        while (nm_reloc_next(&it, &r) == 1) {
            const char *where = r.site < img.text_size ? "text" : "data";
            uint32_t off = r.site < img.text_size ? r.site : r.site - img.text_size;
            if (r.kind == NM_RELOC_INSN) {
                /* e.g. "reloc text+0x00010 insn rv_pcrel_lo12_i = rw base + 0x8 (hi at text+0x0000c)" */
                static const char *const forms[NM_INSN_FORM_COUNT] = {
                    "rv_hi20", "rv_lo12_i", "rv_lo12_s", "rv_pcrel_hi20", "rv_pcrel_lo12_i", "rv_pcrel_lo12_s"};
                printf("    reloc %s+0x%05x insn %-15s = %s base + 0x%x", where, (unsigned)off,
                       r.form < NM_INSN_FORM_COUNT ? forms[r.form] : "?", r.target == NM_TARGET_TEXT ? "text" : "rw",
                       (unsigned)r.addend);
                if (r.form == NM_INSN_RV_PCREL_LO12_I || r.form == NM_INSN_RV_PCREL_LO12_S) {
                    printf(" (hi at text+0x%05x)", (unsigned)r.hi_site);
                }
                printf("\n");
            } else if (r.target >= NM_TARGET_IMPORT0) {
                nm_import_info_t im = {.name = "?"};
                nm_image_import(&img, r.target - NM_TARGET_IMPORT0, &im);
                printf("    reloc %s+0x%05x %s += %s\n", where, (unsigned)off, r.kind ? "ptr64" : "ptr32", im.name);
            } else {
                printf("    reloc %s+0x%05x %s += %s base\n", where, (unsigned)off, r.kind ? "ptr64" : "ptr32",
                       r.target == NM_TARGET_TEXT ? "text" : "rw");
            }
        }
    }
    return trust;
}

/* A qstr's text, quoted, with anything unprintable escaped and long ones cut. */
static void print_qstr_text(const char *s, uint32_t len) {
    putchar('"');
    for (uint32_t i = 0; i < len && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
    printf("\"%s", len > 60 ? "..." : "");
}

static void print_scope_flags(const nm_mpy_t *m) {
    /* Viper/asm store the loader's flags; bytecode and native py carry the
     * signature's (the low four bits), which MicroPython reads the same way. */
    static const char *const viper[7] = {NULL, NULL, NULL, NULL, "reloc", "rodata", "bss"};
    static const char *const sig[5] = {"generator", "varkeywords", "varargs", "defkwargs", "reloc"};
    int native_store = m->kind == NM_MPY_KIND_NATIVE_VIPER || m->kind == NM_MPY_KIND_NATIVE_ASM;
    const char *sep = " (";
    printf("  scope flags:  0x%x", (unsigned)m->scope_flags);
    for (unsigned bit = 0; bit < 32; bit++) {
        if (!(m->scope_flags & (1u << bit))) {
            continue;
        }
        const char *name = native_store ? (bit < 7 ? viper[bit] : NULL) : (bit < 5 ? sig[bit] : NULL);
        if (name) {
            printf("%s%s", sep, name);
        } else {
            printf("%sbit %u", sep, bit);
        }
        sep = ", ";
    }
    printf("%s\n", m->scope_flags ? ")" : "");
}

/* The words the loader relocates against text that hold text offset off
 * (how code reaches a firmware function's slot): how many, and the first. */
static unsigned words_pointing_at(const nm_mpy_t *m, uint32_t off, uint32_t *first) {
    unsigned ws = nm_mpy_word_size(m->arch), n = 0;
    nm_mpy_iter_t it;
    nm_mpy_reloc_t r;
    nm_mpy_reloc_begin(m, &it);
    while (nm_mpy_reloc_next(&it, &r)) {
        if (r.base || r.dest != NM_MPY_DEST_TEXT) {
            continue;
        }
        for (uint32_t w = 0; w < r.n; w++) {
            const uint8_t *p = m->text + ((uint64_t)r.word + w) * ws;
            uint64_t v = 0;
            for (unsigned b = 0; b < ws; b++) {
                v |= (uint64_t)p[b] << (8 * b);
            }
            if (v == off && !n++) {
                *first = (uint32_t)((r.word + w) * ws);
            }
        }
    }
    return n;
}

/* Firmware functions by name (natmod/mpy_fw.h): the table ending the text. */
static int info_mpy_fw(const char *path, const nm_mpy_t *m) {
    nm_mpy_fw_t fw;
    nm_detail_t d = {{0}};
    int err = nm_mpy_fw_parse(m, &fw, &d);
    if (err) {
        return cli_fail(err, "%s: %s", path, d.msg);
    }
    if (!fw.found) {
        return 0;
    }
    unsigned ws = nm_mpy_word_size(m->arch);
    printf("  firmware functions: %u (table at text+0x%x; filled at import by natmod's MicroPython component)\n",
           (unsigned)fw.n, (unsigned)fw.table_off);
    for (uint32_t i = 0; i < fw.n; i++) {
        nm_mpy_fw_entry_t e;
        nm_mpy_fw_entry(m, &fw, i, &e);
        int zero = 1;
        for (unsigned b = 0; b < ws; b++) {
            zero &= m->text[e.slot_off + b] == 0;
        }
        uint32_t first = 0;
        unsigned refs = words_pointing_at(m, e.slot_off, &first);
        printf("    %s: slot text+0x%x%s", e.name, (unsigned)e.slot_off, zero ? "" : " (not zero)");
        if (refs) {
            printf(", %u relocated word%s point%s at it (text+0x%x)\n", refs, refs == 1 ? "" : "s",
                   refs == 1 ? "s" : "", (unsigned)first);
        } else {
            printf(", nothing points at it\n");
        }
    }
    return 0;
}

static int info_mpy(const char *path, const uint8_t *buf, size_t len) {
    static const char *const kinds[4] = {"bytecode", "native py", "native viper", "native asm"};
    nm_mpy_t m;
    nm_detail_t d = {{0}};
    int err = nm_mpy_parse(buf, len, &m, &d);
    if (err) {
        return cli_fail(err, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(err));
    }
    printf("%s:\n", path);
    unsigned ws = nm_mpy_word_size(m.arch);
    /* the file's size: m.size ends with the top-level code's own parts when
     * children (merged modules) follow, which are counted below */
    if (m.arch == NM_ARCH_NONE) {
        /* MicroPython checks the sub-version only of files with native code. */
        printf("  format:       MicroPython .mpy version %u (sub-version %u, not checked without native code), "
               "%zu bytes\n", (unsigned)m.version, (unsigned)m.sub_version, len);
    } else {
        printf("  format:       MicroPython .mpy version %u.%u (MicroPython 1.23 and later), %zu bytes\n",
               (unsigned)m.version, (unsigned)m.sub_version, len);
    }
    if (m.arch == NM_ARCH_NONE) {
        printf("  arch:         none (bytecode only: loads where sys.implementation._mpy & 0xff is %u)\n",
               NM_MPY_VERSION);
    } else {
        printf("  arch:         %s, %u-byte words (sys.implementation._mpy 0x%04x%s)\n", nm_arch_name(m.arch), ws,
               NM_MPY_IMPL_VALUE(m.arch),
               nm_arch_is_thumb(m.arch) && m.arch < NM_ARCH_ARMV7EMDP ? "; later Thumb arches load it too" : "");
    }
    printf("  small int:    %u bits (a firmware with fewer refuses the file)\n", (unsigned)m.small_int_bits);
    if (m.has_arch_flags) {
        printf("  arch flags:   0x%x%s%s%s\n", (unsigned)m.arch_flags, (m.arch_flags & 1) ? " zba" : "",
               (m.arch_flags & 2) ? " zcmp" : "", (m.arch_flags & ~3u) ? " (and bits MicroPython does not name)" : "");
    }
    printf("  qstrs:        %u\n", (unsigned)m.n_qstr);
    nm_mpy_iter_t it;
    nm_mpy_qstr_t q;
    nm_mpy_qstr_begin(&m, &it);
    while (nm_mpy_qstr_next(&it, &q)) {
        printf("    [%u] ", (unsigned)q.index);
        if (q.static_q) {
            printf("static %u ", (unsigned)q.static_q);
        }
        print_qstr_text(q.str, q.len);
        putchar('\n');
    }
    printf("  objects:      %u\n", (unsigned)m.n_obj);
    printf("  code:         %s, %u bytes of text\n", kinds[m.kind], (unsigned)m.text_size);
    if (m.kind == NM_MPY_KIND_NATIVE_PY) {
        printf("  prelude:      at text+0x%x\n", (unsigned)m.prelude_offset);
    }
    if (m.kind == NM_MPY_KIND_NATIVE_ASM) {
        printf("  asm:          %u positional args, type signature 0x%x\n", (unsigned)m.n_pos_args,
               (unsigned)m.type_sig);
    }
    print_scope_flags(&m);
    if (m.kind == NM_MPY_KIND_NATIVE_VIPER) {
        printf("  rodata:       %u bytes\n", (unsigned)m.rodata_size);
        printf("  bss:          %u bytes\n", (unsigned)m.bss_size);
    }
    if (m.has_children && m.n_children) {
        printf("  children:     %u, not decoded (%zu bytes follow: the children%s)\n", (unsigned)m.n_children,
               len - m.size, m.kind == NM_MPY_KIND_BYTECODE ? "" : ", then this code's relocations");
    } else if (m.has_children) {
        printf("  children:     0 (a count of none)\n");
    }
    if (m.relocs) {
        printf("  relocations:  %u op%s (%u bytes)\n", (unsigned)m.n_reloc_ops, m.n_reloc_ops == 1 ? "" : "s",
               (unsigned)m.relocs_len);
        nm_mpy_reloc_t r;
        char name[64];
        nm_mpy_reloc_begin(&m, &it);
        while (nm_mpy_reloc_next(&it, &r)) {
            printf("    %s[+0x%llx]", r.base ? "rodata" : "text", (unsigned long long)r.word * ws);
            if (r.n > 1) {
                printf(" x%u", (unsigned)r.n);
            }
            printf(" <- %s\n", nm_mpy_dest_name(r.dest, name, sizeof name));
        }
    } else if (m.kind != NM_MPY_KIND_BYTECODE && !(m.has_children && m.n_children)) {
        printf("  relocations:  none\n");
    }
    if (!(m.has_children && m.n_children) && m.size < len) {
        printf("  note:         %zu bytes after the end of the file (MicroPython ignores them)\n", len - m.size);
    }
    return info_mpy_fw(path, &m);
}

/* Could buf be a .nmod (slice or universal)? Its first bytes say. */
static int may_be_nmod(const uint8_t *buf, size_t len) {
    size_t k = len < 4 ? len : 4;
    return !k || !memcmp(buf, NM_MAGIC, k) || !memcmp(buf, NM_UNIVERSAL_MAGIC, k);
}

int cmd_info(int argc, char **argv) {
    int verbose = 0, rc = 0, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: natmod info [-v] [--key K.pub] MODULE.nmod|MODULE.mpy...\n"
                 "\n"
                 "Show each module's arch(s), sizes, imports, exports, relocation counts\n"
                 "by kind and CRC status; for a universal module, every slice. For a\n"
                 "MicroPython .mpy: header, qstr table, code kind and sizes, every\n"
                 "relocation op and the firmware functions it imports by name (the file\n"
                 "is checked as strictly as a .nmod).\n"
                 "  -v            also list every relocation (.nmod)\n"
                 "  --key K.pub   check each signed slice against this public key (repeatable);\n"
                 "                exit status 24 (not trusted) if a slice is unsigned or does not verify");
            return 0;
        }
        if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (!strcmp(argv[i], "--key")) {
            const char *k = cli_optarg(argc, argv, &i);
            if (!k) {
                return cli_exit_code(NM_ERR_INVAL);
            }
            if (info_n_keys == INFO_MAX_KEYS) {
                return cli_fail(NM_ERR_INVAL, "info: at most %d --key options", INFO_MAX_KEYS);
            }
            if ((rc = cli_read_pubkey(k, info_keys[info_n_keys++]))) {
                return rc;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *path = argv[i];
        if (!strcmp(path, "--key")) {
            i++;
            continue;
        }
        if (path[0] == '-') {
            if (strcmp(path, "-v")) {
                return cli_fail(NM_ERR_INVAL, "info: unknown option '%s'", path);
            }
            continue;
        }
        nfiles++;
        uint8_t *buf;
        size_t len;
        int err = cli_read_file(path, &buf, &len);
        if (err) {
            rc = cli_exit_code(err);
            continue;
        }
        /* The "FILE:" heading comes once the file is known to be a module. */
        if (len >= 1 && buf[0] == NM_MPY_MAGIC) { /* "NMOD" and "NMUV" start with 'N' */
            int e2 = info_mpy(path, buf, len);
            rc = rc ? rc : e2;
        } else if (nm_is_universal(buf, len)) {
            nm_detail_t d = {{0}};
            int n = nm_universal_count(buf, len, &d);
            if (n < 0) {
                rc = cli_fail(n, "%s: %s", path, d.msg[0] ? d.msg : nm_strerror(n));
            } else {
                printf("%s:\n", path);
                printf("  universal module, %d slice%s, %zu bytes\n", n, n == 1 ? "" : "s", len);
                for (int s = 0; s < n; s++) {
                    nm_slice_info_t si;
                    err = nm_universal_slice(buf, len, (uint32_t)s, &si, &d);
                    if (err) {
                        rc = cli_fail(err, "%s: slice %d: %s", path, s, d.msg);
                        break;
                    }
                    printf(" slice %d: %s/%s at +0x%x, %u bytes\n", s, nm_arch_name(si.arch),
                           nm_float_name(si.float_abi), (unsigned)si.offset, (unsigned)si.size);
                    int e2 = info_slice(path, NULL, buf + si.offset, si.size, verbose);
                    rc = rc ? rc : e2;
                }
            }
        } else if (!may_be_nmod(buf, len)) {
            rc = cli_fail(NM_ERR_MAGIC, "%s: neither a .nmod (magic %s) nor a .mpy (magic 'M', version %u)", path,
                          NM_MAGIC, NM_MPY_VERSION);
        } else {
            int e2 = info_slice(path, path, buf, len, verbose);
            rc = rc ? rc : e2;
        }
        free(buf);
    }
    if (!nfiles) {
        return cli_fail(NM_ERR_INVAL, "info: no module given (see natmod info --help)");
    }
    return rc;
}
