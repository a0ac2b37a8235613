/*
 * MicroPython .mpy files (version 6, sub-version 3: MicroPython v1.23 and
 * later): the numbers the .mpy back-end writes and the reader checks, and a
 * bounded reader for untrusted .mpy bytes (natmod info, tests, fuzzing).
 * docs/mpy.md describes the format; the facts come from MicroPython's
 * docs/reference/mpyfiles.rst, py/persistentcode.c and py/nativeglue.h.
 *
 * Host only (the runtime never reads .mpy files), but the reader uses no
 * malloc and no recursion, like the rest of src/format.
 */
#ifndef NATMOD_MPY_H
#define NATMOD_MPY_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/error.h"

#define NM_MPY_MAGIC 'M'
#define NM_MPY_VERSION 6
#define NM_MPY_SUB_VERSION 3
#define NM_MPY_SMALL_INT_BITS 31      /* what mpy_ld.py writes; loaders accept <= their own */
#define NM_MPY_FEATURE_ARCH_FLAGS 0x40 /* header[2]: an arch-flags vuint follows */

/* header[2] = sub-version | arch << 2 (| NM_MPY_FEATURE_ARCH_FLAGS).
 * Arch codes are natmod's NM_ARCH_* (natmod/abi.h): the same numbers. */
#define NM_MPY_FEATURE(arch) ((uint8_t)(NM_MPY_SUB_VERSION | (arch) << 2))
#define NM_MPY_FEATURE_ARCH(f) (((f) >> 2) & 0x0f)
#define NM_MPY_FEATURE_SUB(f) ((f) & 3)
/* sys.implementation._mpy on a firmware of this arch (no arch flags). */
#define NM_MPY_IMPL_VALUE(arch) (NM_MPY_VERSION | (unsigned)NM_MPY_FEATURE(arch) << 8)

/* Raw-code kinds as stored: kind_len & 3 (MP_CODE_* - MP_CODE_BYTECODE). */
enum nm_mpy_kind {
    NM_MPY_KIND_BYTECODE = 0,
    NM_MPY_KIND_NATIVE_PY = 1,
    NM_MPY_KIND_NATIVE_VIPER = 2,
    NM_MPY_KIND_NATIVE_ASM = 3,
};

/* scope_flags of a native viper raw code */
#define NM_MPY_SCOPE_VIPERRELOC 0x10
#define NM_MPY_SCOPE_VIPERRODATA 0x20
#define NM_MPY_SCOPE_VIPERBSS 0x40

/* Relocation destinations (py/persistentcode.c, mp_native_relocate). A
 * relocation adds the destination's address to one machine word of text
 * (or of separate rodata). */
enum nm_mpy_dest {
    NM_MPY_DEST_TEXT = 0,
    NM_MPY_DEST_RODATA = 1,
    NM_MPY_DEST_BSS = 2,
    NM_MPY_DEST_QSTR_TABLE = 6,
    NM_MPY_DEST_OBJ_TABLE = 7,
    NM_MPY_DEST_FUN_TABLE = 8, /* &mp_fun_table itself */
    NM_MPY_DEST_FUN0 = 9,      /* 9 + i: the value of mp_fun_table entry i */
};
#define NM_MPY_RELOC_END 0xff
#define NM_MPY_DEST_MAX 127 /* an op byte is dest << 1 | has_offset and must not be 0xff */

/* mp_fun_table (py/nativeglue.h, sub-version 3): entry names, 0-based. */
#define NM_MPY_FUN_TABLE_SIZE 87
#define NM_MPY_FUN_MEMSET 50
#define NM_MPY_FUN_MEMMOVE 51
#define NM_MPY_FUN_TYPE_TYPE 73 /* then str, list, dict, fun_builtin_0..3/var, Exception, stream objs */
extern const char *const nm_mpy_fun_table[NM_MPY_FUN_TABLE_SIZE];

/* The static qstrs every MicroPython firmware has, in order: qstr i + 1 is
 * nm_mpy_static_qstrs[i] (qstr 0 is MP_QSTRnull). A qstr table entry for one
 * of them is stored as its number, not its text. */
#define NM_MPY_N_STATIC_QSTRS 165
extern const char *const nm_mpy_static_qstrs[NM_MPY_N_STATIC_QSTRS];
/* The qstr number (1..165) of a static qstr, or 0. */
unsigned nm_mpy_static_qstr_find(const char *s, size_t len);
/* The C identifier after "MP_QSTR_" for static qstr number q (1..165):
 * "utf-8" -> "utf_hyphen_8", "\n" -> "_0x0a_". Writes into buf (>= 32). */
const char *nm_mpy_static_qstr_cname(unsigned q, char *buf, size_t n);

/* Firmware functions by name (docs/mpy.md, natmod/mpy_fw.h). An undefined
 * symbol NM_MPY_FW_SLOT_PREFIX + name becomes a zeroed, pointer-sized slot
 * in text that a firmware with natmod's MicroPython component fills with
 * name's address at import; the text then ends with a table:
 *   u32 n | n x {u32 slot_off, u32 name_off} | names, NUL-terminated, zero
 *   pad to 4 | u32 table_off | u32 NM_MPY_FW_MAGIC
 * (little-endian; slot_off and table_off from the text start, name_off from
 * the table start: the u32 n, which NM_MPY_FW_TABLE_SYM names). */
#define NM_MPY_FW_SLOT_PREFIX "nm_fw_slot_"
#define NM_MPY_FW_TABLE_SYM "__nmfw_table"
#define NM_MPY_FW_MAGIC 0x57464D4Eu /* "NMFW" in memory order */

/* Machine word of an arch in a .mpy (relocations adjust whole words). */
static inline unsigned nm_mpy_word_size(unsigned arch) {
    return (arch == 2 /* x64 */ || arch == 12 /* rv64imc */) ? 8 : 4;
}

/* ---- reader ---- */

/* A parsed .mpy: views into the caller's buffer, checked against its size.
 * The header, the qstr table and the object table are decoded completely
 * (objects are skipped, tuples included, not kept). Of the top-level raw code
 * the reader decodes its kind, text, scope flags, native py prelude offset,
 * asm signature, viper rodata/bss and, when the code has no children, its
 * relocation stream (what natmod and mpy_ld.py write: one viper raw code, no
 * children). Children are counted, not walked: a file with children ends,
 * for this reader, after the child count (size), and its relocations (which
 * follow the children) are not decoded. (A child count of 0 is no children.) */
typedef struct nm_mpy {
    const uint8_t *buf; /* the buffer parsed (everything below points into it) */
    uint8_t version, sub_version, arch, small_int_bits;
    uint8_t has_arch_flags;
    uint32_t arch_flags;
    uint32_t n_qstr, n_obj;
    const uint8_t *qstrs; /* first qstr entry; walk with nm_mpy_qstr_next */
    const uint8_t *objs;  /* first object entry (n_obj of them, skipped, not decoded) */
    uint8_t kind;         /* enum nm_mpy_kind of the top-level raw code */
    uint8_t has_children;
    uint32_t n_children; /* when has_children: the count that follows the code */
    const uint8_t *text; /* fun_data: machine code (or bytecode) */
    uint32_t text_size;
    /* viper/asm: as stored; native py and bytecode: the flags of the prelude
     * signature (MicroPython relocates native py code too when it has
     * NM_MPY_SCOPE_VIPERRELOC, which only a crafted prelude can say). */
    uint32_t scope_flags;
    uint32_t prelude_offset;      /* native py: prelude position in text */
    uint32_t n_pos_args, type_sig; /* native asm */
    uint32_t rodata_size, bss_size;
    const uint8_t *rodata; /* rodata_size bytes, NULL if none */
    const uint8_t *relocs; /* first reloc op (NM_MPY_SCOPE_VIPERRELOC), up to the 0xff; else NULL */
    uint32_t relocs_len;   /* bytes including the 0xff */
    uint32_t n_reloc_ops;  /* ops in the stream (runs, not words) */
    size_t size;           /* bytes consumed: a well-formed file ends here (MicroPython
                              ignores anything after it) */
} nm_mpy_t;

typedef struct nm_mpy_qstr {
    uint32_t index;    /* position in the table */
    uint16_t static_q; /* static qstr number (1..165), or 0 when the file holds the text */
    const char *str;   /* the text (for a static qstr, nm_mpy_static_qstrs' entry); not
                          NUL-terminated in general (the file stores a NUL after it) */
    uint32_t len;
} nm_mpy_qstr_t;

/* One relocation op: n consecutive words from (base, word) get dest added. */
typedef struct nm_mpy_reloc {
    uint8_t base;  /* 0: text, 1: rodata */
    uint16_t dest; /* enum nm_mpy_dest, or NM_MPY_DEST_FUN0 + i */
    uint32_t word; /* word index in base (byte offset: word * nm_mpy_word_size) */
    uint32_t n;    /* words, >= 1 */
} nm_mpy_reloc_t;

typedef struct nm_mpy_iter {
    const nm_mpy_t *m;
    const uint8_t *p, *end;
    uint32_t i;     /* entries returned so far */
    uint8_t base;   /* reloc iteration: where the previous op left off */
    uint8_t have;
    uint32_t word;
} nm_mpy_iter_t;

/* Parse and validate buf. NM_OK, or NM_ERR_MAGIC (not 'M'), NM_ERR_VERSION
 * (not 6.3), NM_ERR_TRUNCATED, NM_ERR_CORRUPT (a size, count, index or
 * relocation out of range) or NM_ERR_UNSUPPORTED (an arch code or arch flags
 * this reader does not know), with a one-line detail naming the field and its
 * byte offset. NM_ERR_INVAL for a NULL m (or NULL buf with len > 0).
 * Every qstr and relocation is checked here, so the iterators below cannot
 * fail on a parsed file. The checks are stricter than MicroPython's loader,
 * which trusts the file: a relocation without an address, outside text or
 * rodata, into absent rodata/bss or past mp_fun_table, a zero count or a
 * missing 0xff end are all refused here and crash (or corrupt) the loader. */
int nm_mpy_parse(const uint8_t *buf, size_t len, nm_mpy_t *m, nm_detail_t *d);

/* Iterate the qstr table of a parsed file: returns 1 and fills q, or 0 at the end. */
void nm_mpy_qstr_begin(const nm_mpy_t *m, nm_mpy_iter_t *it);
int nm_mpy_qstr_next(nm_mpy_iter_t *it, nm_mpy_qstr_t *q);

/* Iterate the relocation ops of a parsed file (none unless relocs is set):
 * returns 1 and fills r, or 0 at the end. */
void nm_mpy_reloc_begin(const nm_mpy_t *m, nm_mpy_iter_t *it);
int nm_mpy_reloc_next(nm_mpy_iter_t *it, nm_mpy_reloc_t *r);

/* The firmware-function table at the end of a parsed file's text (see
 * NM_MPY_FW_MAGIC): found = 0 when the text does not end with the magic. */
typedef struct nm_mpy_fw {
    uint8_t found;
    uint32_t table_off; /* text offset of the u32 n */
    uint32_t n;
    const uint8_t *entries; /* n x {slot_off, name_off} */
} nm_mpy_fw_t;
typedef struct nm_mpy_fw_entry {
    uint32_t slot_off;  /* text offset of the slot (word-aligned, inside text, before the table) */
    const char *name;   /* NUL-terminated inside the table */
} nm_mpy_fw_entry_t;

/* Find and check the table: NM_OK (found or not), or NM_ERR_CORRUPT with a
 * detail when the magic is there but an offset, a slot or a name is out of
 * place. Entry i is then read with nm_mpy_fw_entry, which cannot fail. */
int nm_mpy_fw_parse(const nm_mpy_t *m, nm_mpy_fw_t *fw, nm_detail_t *d);
void nm_mpy_fw_entry(const nm_mpy_t *m, const nm_mpy_fw_t *fw, uint32_t i, nm_mpy_fw_entry_t *e);

/* Writes a destination's name into buf and returns buf: "text", "rodata",
 * "bss", "qstr_table", "obj_table", "mp_fun_table", "mp_fun_table[50] memset_". */
const char *nm_mpy_dest_name(unsigned dest, char *buf, size_t n);

#endif /* NATMOD_MPY_H */
