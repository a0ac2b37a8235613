/*
 * ELF32/ELF64 little-endian relocatable objects: the parsed, validated view
 * (elf.c). Everything the later phases index has been bounds-checked.
 */
#ifndef NATMOD_LINK_ELF_H
#define NATMOD_LINK_ELF_H

#include "link/util.h"

/* ---- ELF constants we use ---- */
enum {
    NML_EM_ARM = 40,
    NML_EM_X86_64 = 62,
    NML_EM_XTENSA = 94,
    NML_EM_RISCV = 243,
    NML_SHT_NULL = 0, NML_SHT_PROGBITS = 1, NML_SHT_SYMTAB = 2, NML_SHT_STRTAB = 3,
    NML_SHT_RELA = 4, NML_SHT_NOBITS = 8, NML_SHT_REL = 9, NML_SHT_DYNSYM = 11,
    NML_SHT_INIT_ARRAY = 14, NML_SHT_FINI_ARRAY = 15, NML_SHT_PREINIT_ARRAY = 16,
    NML_SHT_GROUP = 17, NML_SHT_SYMTAB_SHNDX = 18,
    NML_SHF_WRITE = 1, NML_SHF_ALLOC = 2, NML_SHF_EXEC = 4, NML_SHF_TLS = 0x400,
    NML_SHN_UNDEF = 0, NML_SHN_LORESERVE = 0xff00, NML_SHN_ABS = 0xfff1,
    NML_SHN_COMMON = 0xfff2, NML_SHN_XINDEX = 0xffff,
    NML_STB_LOCAL = 0, NML_STB_GLOBAL = 1, NML_STB_WEAK = 2,
    NML_STT_NOTYPE = 0, NML_STT_OBJECT = 1, NML_STT_FUNC = 2, NML_STT_SECTION = 3,
    NML_STT_FILE = 4, NML_STT_COMMON = 5, NML_STT_TLS = 6,
    NML_STV_DEFAULT = 0,
};

/* ---- a parsed object (elf.c) ---- */
typedef struct nml_rel {
    uint64_t offset; /* within the target section */
    uint32_t type;
    uint32_t sym;    /* < obj->nsyms (validated) */
    int64_t addend;  /* RELA addend; for REL filled by the arch from the bytes */
    int has_addend;  /* 1: RELA */
} nml_rel_t;

typedef struct nml_sec {
    const char *name;
    uint32_t type;
    uint64_t flags;
    uint64_t offset, size; /* offset+size inside the file unless NOBITS */
    uint32_t align;        /* power of two, >= 1, <= 1 << NM_MAX_ALIGN_LOG2 */
    uint32_t link, info;
    /* relocations that patch this section (REL/RELA sections pointing here) */
    nml_rel_t *rels;
    size_t nrels;
    uint32_t relsec; /* index of the (first) relocation section, for messages; 0 none */
    const uint8_t *bytes; /* contents edited by the arch (prepare_object); NULL: data + offset */
    uint32_t *hi_idx;     /* RISC-V: indices of the PC-relative HI relocations, by offset */
    uint32_t nhi;
    uint8_t hi_built;
    /* link state (core.c) */
    uint8_t drop;  /* never placed: non-alloc, debug, exidx... */
    uint8_t keep;  /* placed in the output (after GC) */
    uint8_t region; /* enum nm_region */
    uint8_t bss;    /* placed in bss */
    uint32_t out_off; /* offset in its region */
} nml_sec_t;

typedef struct nml_gsym nml_gsym_t;

typedef struct nml_sym {
    const char *name;
    uint64_t value;
    uint64_t size;
    uint32_t shndx; /* SHN_UNDEF, SHN_ABS, SHN_COMMON or < nsecs */
    uint8_t bind, type, vis;
    uint8_t thumb;   /* ARM STT_FUNC with bit 0 (value has it cleared) */
    nml_gsym_t *g;   /* global/weak symbols: the shared entry */
    int32_t got_idx; /* local symbols: GOT slot or -1 */
} nml_sym_t;

typedef struct nml_obj {
    const char *name; /* "hello.o" or "libgcc.a(_udivdi3.o)" */
    const uint8_t *data;
    size_t size;
    uint8_t elfclass; /* 1: ELF32, 2: ELF64 */
    uint16_t machine;
    uint32_t eflags;
    nml_sec_t *secs;
    uint32_t nsecs;
    nml_sym_t *syms;
    uint32_t nsyms;
    uint32_t symtab; /* section index, 0 if none */
    /* link state */
    uint8_t from_archive;
    uint8_t included;
    uint8_t scanned; /* demands collected */
    uint8_t parsed;  /* nml_elf_parse done (archive members are parsed when pulled) */
    struct nml_obj *next; /* included objects, in inclusion order */
} nml_obj_t;

/* Parse and validate an ELF relocatable object. The REL implicit addends are
 * read later by the arch (they depend on the relocation type). */
int nml_elf_parse(nml_obj_t *obj, nml_arena_t *a, nml_err_t *e);

#endif /* NATMOD_LINK_ELF_H */
