/*
 * The .nmod module format: on-disk constants and the validated view a reader
 * produces. docs/format.md is the normative description; this header carries
 * the numbers. Shared by the host tools and the target runtime.
 *
 * A single-architecture image ("slice"), all integers little-endian:
 *
 *   off  size  field
 *     0     4  magic "NMOD"
 *     4     2  version (NM_FORMAT_VERSION)
 *     6     1  arch (enum nm_arch)
 *     7     1  float_abi (enum nm_float_abi)
 *     8     4  flags (NM_FLAG_*)
 *    12     4  crc32: CRC-32 (IEEE, reflected, as zlib) of bytes [0, 12) then
 *              [16, image_size): the whole slice except this field (nm_image_crc)
 *    16     4  image_size: bytes of this slice, header included
 *    20     4  text_size: text + rodata + veneers, executed/read in place
 *    24     4  data_size: initialised RW image (.data and the GOT)
 *    28     4  bss_size: zeroed RW bytes following data
 *    32     4  rw_offset: link-time distance from text base to RW base (>= text_size)
 *    36     4  got_offset: offset of the GOT inside RW (inside the data image)
 *    40     2  got_count: GOT entries (pointer-sized each)
 *    42     2  n_imports
 *    44     2  n_exports
 *    46     2  init_idx: export index of the init function, NM_NO_INDEX for none
 *    48     2  deinit_idx: export index of the deinit function, NM_NO_INDEX for none
 *    50     1  text_align_log2: required alignment of the text base
 *    51     1  rw_align_log2: required alignment of the RW base
 *    52     4  n_relocs: entries in the relocation stream
 *    56     4  reloc_size: bytes of the relocation stream
 *    60     4  strtab_size: bytes of the string table
 *    64        text (text_size bytes)
 *              data (data_size bytes)
 *              relocation stream (reloc_size bytes)
 *              imports: n_imports x { u32 hash, u32 name }
 *              exports: n_exports x { u32 name, u32 value, u8 region, u8 kind, u16 zero }
 *              string table (strtab_size bytes; NUL-terminated strings; the
 *              module's name is the string at offset 0)
 *              import types (n_imports * NM_IMPORT_TYPE_SIZE bytes) if
 *              NM_FLAG_IMPORT_TYPES: n_imports x { u32 type_hash, u32 proto }
 *                type_hash  nm_hash of the prototype text the import was
 *                           linked against; 0: unknown, never checked
 *                proto      string offset of that text ("int (uint8_t,
 *                           const void *, size_t)"), NM_NO_PROTO if unknown
 *              trailer (NM_TRAILER_SIZE bytes) if NM_FLAG_TRAILER:
 *                u32 version    module version (rollback protection)
 *                u32 sig_flags  NM_SIG_* (bit 0: signed)
 *                u8  key_id[8]  signer: first 8 bytes of SHA-512(public key)
 *                u8  sig[64]    Ed25519 signature (docs/format.md 2.2)
 *              XIP record (NM_XIP_RECORD_SIZE bytes) if NM_FLAG_XIP_LINKED:
 *                u32 text_addr  run-time address of text (image address + 64)
 *                u32 rw_addr    run-time address of the RW region
 *                u32 bind_crc   nm_crc32 over the addresses bound into text
 *                u32 src_crc    crc32 of the slice this image was linked from
 *   image_size equals the sum of all of the above exactly.
 *
 * An XIP-linked image (docs/xip.md) is a slice rewritten by nm_xip_link for
 * one flash address and one RW address: every TEXT and RW relocation and
 * every import reference inside text are already applied; only the
 * relocation entries with an RW site and an import target (the GOT) are
 * left for the loader. The relocation stream itself is kept unchanged, so the
 * image can be verified and moved again.
 *
 * Run-time layout: TEXT region (text_size bytes) and RW region
 * (data_size + bss_size bytes: data image, then bss). If NM_FLAG_RW_PCREL is
 * set, code reaches RW PC-relatively and the RW base must be text base +
 * rw_offset; otherwise the two regions may be placed independently.
 *
 * Relocation stream: n_relocs entries sorted by ascending site, words not
 * overlapping (each site >= the previous site + its word width), each two
 * ULEB128 numbers:
 *   delta  - site minus the previous entry's site (the first is from 0)
 *   code   - (target << 2) | kind
 * A site s < text_size addresses text byte s; a site s >= text_size addresses
 * RW byte (s - text_size), which must lie inside the data image. kind says
 * the width of the word at the site; for PTR32/PTR64 the loader adds the
 * target's run-time address to the little-endian word found there (the
 * link-time value is the offset into the target region plus any addend,
 * Thumb bit included):
 *   target 0 - TEXT base, target 1 - RW base, target 2+i - import i's address.
 * An NM_RELOC_INSN entry (rv32imc only; a 4-byte instruction at an even text
 * site, target TEXT or RW) has more ULEB128 numbers after code: form
 * (enum nm_insn_form), addend, and for forms 4 and 5 hi_site. The loader
 * writes the instruction's immediate field from them, whatever it held
 * (docs/format.md 4.1).
 */
#ifndef NATMOD_FORMAT_H
#define NATMOD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/abi.h"
#include "natmod/error.h"

#define NM_MAGIC "NMOD"
#define NM_UNIVERSAL_MAGIC "NMUV"
#define NM_FORMAT_VERSION 1
#define NM_HEADER_SIZE 64
#define NM_CRC_START 16 /* the CRC covers [0, 12) and [16, image_size): all but itself */
#define NM_NO_INDEX 0xFFFFu
#define NM_IMPORT_SIZE 8
#define NM_EXPORT_SIZE 12
#define NM_MAX_ALIGN_LOG2 16 /* 64 KB: an ESP32 MMU page */
#define NM_XIP_RECORD_SIZE 16
#define NM_XIP_PAGE 4096u /* RW_PCREL links make NM_HEADER_SIZE + rw_offset a multiple: RW starts a page (MMU XIP) */

enum nm_flags {
    NM_FLAG_RW_PCREL = 1u << 0,   /* RW must sit at text + rw_offset */
    NM_FLAG_XIP_LINKED = 1u << 1, /* linked for fixed addresses; XIP record at the end */
    NM_FLAG_TRAILER = 1u << 2,    /* version/signature trailer after the string table */
    /* Set only by an installer that verified the slice's signature before
     * linking it (XIP_LINKED and a signed trailer required); honoured only
     * by a store loading its own extent. */
    NM_FLAG_SIG_CHECKED = 1u << 3,
    /* Import type table after the string table (docs/format.md 2.3): the
     * loader refuses an import whose type hash differs from the firmware's. */
    NM_FLAG_IMPORT_TYPES = 1u << 4,
    NM_FLAGS_KNOWN = NM_FLAG_RW_PCREL | NM_FLAG_XIP_LINKED | NM_FLAG_TRAILER | NM_FLAG_SIG_CHECKED |
                     NM_FLAG_IMPORT_TYPES,
};

/* The import type table (docs/format.md 2.3). */
#define NM_IMPORT_TYPE_SIZE 8
#define NM_NO_PROTO 0xFFFFFFFFu /* proto field: no prototype text */

/* The trailer (docs/format.md 2.2). */
#define NM_TRAILER_SIZE 80
#define NM_KEY_ID_SIZE 8
#define NM_SIG_SIZE 64
#define NM_PUBKEY_SIZE 32
#define NM_SIG_DOMAIN "natmod-signature-v1" /* prefix of the signed message, NUL included (20 bytes) */
#define NM_SIG_DOMAIN_SIZE 20
enum nm_sig_flags {
    NM_SIG_SIGNED = 1u << 0,
    NM_SIG_FLAGS_KNOWN = NM_SIG_SIGNED,
};

enum nm_reloc_kind {
    NM_RELOC_PTR32 = 0, /* 32-bit word += target */
    NM_RELOC_PTR64 = 1, /* 64-bit word += target */
    NM_RELOC_INSN = 2,  /* an instruction field is written (docs/format.md 4.1) */
    NM_RELOC_KIND_COUNT = 3,
};

/* Forms of NM_RELOC_INSN (RISC-V, rv32imc): A = target + addend, P = the
 * site's run-time address, P_hi = hi_site's, all mod 2^32. The instruction
 * at the site must be a 32-bit one of the form's kind (LUI for 0, AUIPC for
 * 3, LOAD/LOAD-FP/OP-IMM/JALR for 1 and 4, STORE/STORE-FP for 2 and 5). A
 * form-4/5 entry's hi_site names a form-3 entry with the same target and
 * addend, before or after it in the stream. */
enum nm_insn_form {
    NM_INSN_RV_HI20 = 0,        /* LUI:   imm[31:12] = (A + 0x800) >> 12 */
    NM_INSN_RV_LO12_I = 1,      /* I-type imm = A & 0xfff */
    NM_INSN_RV_LO12_S = 2,      /* S-type imm = A & 0xfff */
    NM_INSN_RV_PCREL_HI20 = 3,  /* AUIPC: imm[31:12] = (A - P + 0x800) >> 12 */
    NM_INSN_RV_PCREL_LO12_I = 4, /* I-type imm = (A - P_hi) & 0xfff */
    NM_INSN_RV_PCREL_LO12_S = 5, /* S-type imm = (A - P_hi) & 0xfff */
    NM_INSN_FORM_COUNT = 6,
};

enum nm_reloc_target {
    NM_TARGET_TEXT = 0,
    NM_TARGET_RW = 1,
    NM_TARGET_IMPORT0 = 2, /* import i is target NM_TARGET_IMPORT0 + i */
};

enum nm_region {
    NM_REGION_TEXT = 0,
    NM_REGION_RW = 1,
};

enum nm_export_kind {
    NM_EXPORT_FUNC = 1,
    NM_EXPORT_DATA = 2,
};

/*
 * Universal container: several slices, one per (arch, float ABI).
 *
 *   off  size  field
 *     0     4  magic "NMUV"
 *     4     2  version (NM_FORMAT_VERSION)
 *     6     2  n_slices (1..NM_UNIVERSAL_MAX_SLICES)
 *     8     4  total_size: bytes of the whole container
 *    12     4  crc32 of the slice table (bytes [16, 16 + 16 * n_slices))
 *    16        slice table: n_slices x { u8 arch, u8 float_abi, u16 zero,
 *                                        u32 offset, u32 size, u32 slice_crc }
 *              slices, each a complete NMOD image, each at a 16-aligned offset;
 *              slice_crc repeats the slice header's crc32.
 */
#define NM_UNIVERSAL_HEADER_SIZE 16
#define NM_UNIVERSAL_ENTRY_SIZE 16
#define NM_UNIVERSAL_MAX_SLICES 16

/* A validated view of one slice. Pointers point into the caller's buffer,
 * which must stay valid (and unchanged) while the view is used. */
typedef struct nm_image {
    const uint8_t *base; /* start of the slice (the header) */
    uint32_t image_size;
    uint8_t arch, float_abi;
    uint32_t flags;
    uint32_t crc32;
    uint32_t text_size, data_size, bss_size;
    uint32_t rw_offset, got_offset;
    uint16_t got_count, n_imports, n_exports;
    uint16_t init_idx, deinit_idx;
    uint8_t text_align_log2, rw_align_log2;
    uint32_t n_relocs;
    const uint8_t *text;
    const uint8_t *data;
    const uint8_t *relocs;
    uint32_t reloc_size;
    const uint8_t *imports; /* n_imports * NM_IMPORT_SIZE bytes */
    const uint8_t *exports; /* n_exports * NM_EXPORT_SIZE bytes */
    const char *strtab;
    uint32_t strtab_size;
    /* n_imports * NM_IMPORT_TYPE_SIZE bytes if NM_FLAG_IMPORT_TYPES, else NULL */
    const uint8_t *import_types;
    /* trailer: version 0, signed 0 and NULL pointers unless NM_FLAG_TRAILER */
    uint32_t version;
    uint8_t is_signed;
    const uint8_t *key_id;    /* NM_KEY_ID_SIZE bytes, inside the buffer */
    const uint8_t *signature; /* NM_SIG_SIZE bytes, inside the buffer */
    /* XIP record, zero unless flags has NM_FLAG_XIP_LINKED */
    uint32_t xip_text_addr, xip_rw_addr, xip_bind_crc, xip_src_crc;
} nm_image_t;

typedef struct nm_import_info {
    uint32_t hash;
    const char *name; /* NUL-terminated, inside strtab */
    /* From the import type table: 0 and NULL when the slice has none or
     * the linker did not know this import's type. */
    uint32_t type_hash; /* nm_hash of the prototype text; 0: unchecked */
    const char *proto;  /* NUL-terminated, inside strtab, or NULL */
} nm_import_info_t;

typedef struct nm_export_info {
    const char *name;
    uint32_t value; /* offset into region (Thumb functions carry bit 0) */
    uint8_t region; /* enum nm_region */
    uint8_t kind;   /* enum nm_export_kind */
} nm_export_info_t;

typedef struct nm_reloc {
    uint32_t site;   /* see the stream description above */
    uint8_t kind;    /* enum nm_reloc_kind */
    uint32_t target; /* enum nm_reloc_target, or NM_TARGET_IMPORT0 + i */
    /* NM_RELOC_INSN only: zero otherwise (nm_reloc_next gives zeros; the
     * writer refuses a PTR entry with any of them set) */
    uint8_t form;     /* enum nm_insn_form */
    uint32_t addend;  /* offset into the target region */
    uint32_t hi_site; /* forms 4, 5: the paired RV_PCREL_HI20's site */
} nm_reloc_t;

/* Cursor for walking the relocation stream. */
typedef struct nm_reloc_iter {
    const nm_image_t *img;
    uint32_t pos;   /* byte position in the stream */
    uint32_t index; /* entries read so far */
    uint32_t site;  /* site of the last entry */
    uint8_t width;  /* bytes of the last entry's word: the next site is at least site + width */
} nm_reloc_iter_t;

/* CRC-32 (IEEE 802.3, reflected, init and final xor 0xFFFFFFFF), chainable:
 * pass 0 to start, then the previous result. */
uint32_t nm_crc32(uint32_t crc, const void *data, size_t len);

/* The CRC a slice header must carry: nm_crc32 over bytes [0, 12) chained with
 * [16, image_size). image must hold image_size (>= NM_HEADER_SIZE) bytes. */
uint32_t nm_image_crc(const void *image, uint32_t image_size);

/* Validate a slice: magic, version, every size/offset/count against len, the
 * CRC, string references, import/export tables and the whole relocation
 * stream (each site and width inside text or the data image, each target in
 * range). Arch is not judged here (see nm_arch_can_run). On success fills *img.
 * On failure returns NM_ERR_* and, if detail is non-NULL, a one-line reason. */
int nm_image_parse(const void *buf, size_t len, nm_image_t *img, nm_detail_t *detail);

/* The meta CRC of an image: nm_crc32 over its header, bytes [0, 64) (the
 * crc32 field included), chained with every byte after its text,
 * [64 + text_size, image_size): data image, relocation stream, tables,
 * strings, trailer, XIP record. That is everything but the text. A module
 * store records it when it has checked the whole image's CRC, so a later
 * load can check everything a load reads except the text for a fraction of
 * the cost (nm_image_parse_meta). img has passed nm_image_parse_header. */
uint32_t nm_image_meta_crc(const nm_image_t *img);

/* nm_image_parse for an image whose whole CRC its caller checked before
 * (a store, when it installed or checked it) and recorded meta_crc then:
 * the same checks, except that instead of the CRC over the whole image it
 * compares nm_image_meta_crc with meta_crc (NM_ERR_CRC if they differ). So
 * every byte but the text is checked for change; the text is trusted to be
 * what the caller checked. The structure walk (tables, relocation stream)
 * runs in full, whatever the bytes. */
int nm_image_parse_meta(const void *buf, size_t len, uint32_t meta_crc, nm_image_t *img,
                        nm_detail_t *detail);

/* The message a slice's signature covers, fed in order to sink: the
 * NM_SIG_DOMAIN prefix, then the slice from offset 0 to the signature with
 * the crc32 field read as zero. Only for a signed slice that is not
 * XIP-linked (after linking the bytes are no longer those signed). */
void nm_sig_message(const nm_image_t *img, void (*sink)(void *arg, const void *p, size_t n), void *arg);

/* Header-only check (no CRC, no stream walk), for listing damaged files. */
int nm_image_parse_header(const void *buf, size_t len, nm_image_t *img, nm_detail_t *detail);

/* Accessors on a parsed image; i must be < the count (checked: returns NM_ERR_CORRUPT). */
int nm_image_import(const nm_image_t *img, uint32_t i, nm_import_info_t *out);
int nm_image_export(const nm_image_t *img, uint32_t i, nm_export_info_t *out);

/* Relocation stream walk. nm_reloc_next returns 1 with *out filled, 0 at the
 * end, or a negative NM_ERR_* on a malformed stream (nm_image_parse has
 * already rejected those, so after a good parse it never fails). */
void nm_reloc_iter_init(nm_reloc_iter_t *it, const nm_image_t *img);
int nm_reloc_next(nm_reloc_iter_t *it, nm_reloc_t *out);

/* Universal container. */
typedef struct nm_slice_info {
    uint8_t arch, float_abi;
    uint32_t offset, size, crc32;
} nm_slice_info_t;

/* 1 if buf starts with the universal magic, else 0. */
int nm_is_universal(const void *buf, size_t len);

/* Validate the container header and slice table (bounds, alignment, overlap,
 * table CRC). Returns the slice count (> 0) or NM_ERR_*. */
int nm_universal_count(const void *buf, size_t len, nm_detail_t *detail);
int nm_universal_slice(const void *buf, size_t len, uint32_t i, nm_slice_info_t *out, nm_detail_t *detail);

/* Pick the slice a board runs: an exact (arch, float) match first, else the
 * highest arch nm_arch_can_run accepts. Returns NM_OK and *out, NM_ERR_ARCH
 * with a detail listing what the container has, or another NM_ERR_*.
 * For a plain NMOD buffer, returns the whole buffer as the one slice. */
int nm_select_slice(const void *buf, size_t len, unsigned board_arch, unsigned board_float,
                    nm_slice_info_t *out, nm_detail_t *detail);

/* Small helpers for freestanding detail strings (no snprintf on the target). */
void nm_detail_set(nm_detail_t *d, const char *s);
void nm_detail_cat(nm_detail_t *d, const char *s);
void nm_detail_hex(nm_detail_t *d, uint32_t v); /* appends 0x... */
void nm_detail_dec(nm_detail_t *d, uint32_t v);

#endif /* NATMOD_FORMAT_H */
