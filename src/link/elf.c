/*
 * ELF32/ELF64 little-endian relocatable object reader. Works on an in-memory
 * buffer and validates every offset, size and index the later phases use, so
 * that core.c and arch_*.c only check what depends on the layout (relocation
 * offsets against the patched field width are checked at apply time).
 */
#include <string.h>

#include "link/link_internal.h"

#define MAX_SECTIONS 0xff00u /* e_shnum beyond SHN_LORESERVE needs extended numbering */

/* a + b <= limit, without overflow */
static int fits(uint64_t off, uint64_t len, uint64_t limit) {
    return off <= limit && len <= limit - off;
}

/* A NUL-terminated string at off inside [base, base+size), or NULL. */
static const char *str_at(const uint8_t *base, uint64_t size, uint64_t off) {
    if (off >= size) {
        return NULL;
    }
    if (!memchr(base + off, 0, (size_t)(size - off))) {
        return NULL;
    }
    return (const char *)base + off;
}

static const char *secname(const nml_obj_t *o, uint32_t i) {
    return (i < o->nsecs && o->secs[i].name) ? o->secs[i].name : "?";
}

static int parse_sections(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    const uint8_t *d = o->data;
    int is64 = o->elfclass == 2;
    uint64_t shoff = is64 ? nml_rd64(d + 0x28) : nml_rd32(d + 0x20);
    uint16_t shentsize = nml_rd16(d + (is64 ? 0x3a : 0x2e));
    uint16_t shnum = nml_rd16(d + (is64 ? 0x3c : 0x30));
    uint16_t shstrndx = nml_rd16(d + (is64 ? 0x3e : 0x32));
    unsigned want = is64 ? 64 : 40;

    if (shnum == 0) {
        return nml_fail(e, NM_ERR_ELF, "%s: no section headers (e_shnum 0%s)", o->name,
                        shoff ? ", extended numbering not supported" : "");
    }
    if (shentsize != want) {
        return nml_fail(e, NM_ERR_ELF, "%s: e_shentsize %u, expected %u", o->name, shentsize, want);
    }
    if (shnum >= MAX_SECTIONS) {
        return nml_fail(e, NM_ERR_ELF, "%s: e_shnum %u too large", o->name, shnum);
    }
    if (!fits(shoff, (uint64_t)shnum * want, o->size)) {
        return nml_fail(e, NM_ERR_ELF, "%s: section headers (e_shoff 0x%llx, %u x %u bytes) outside the file (%zu bytes)",
                        o->name, (unsigned long long)shoff, shnum, want, o->size);
    }
    if (shstrndx == NML_SHN_UNDEF || shstrndx >= shnum) {
        return nml_fail(e, NM_ERR_ELF, "%s: e_shstrndx %u out of range (%u sections)", o->name, shstrndx, shnum);
    }
    o->nsecs = shnum;
    o->secs = nml_alloc_array(a, shnum, sizeof(nml_sec_t));
    if (!o->secs) {
        return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", o->name);
    }
    for (uint32_t i = 0; i < shnum; i++) {
        const uint8_t *h = d + shoff + (uint64_t)i * want;
        nml_sec_t *s = &o->secs[i];
        uint64_t align;
        s->type = nml_rd32(h + 4);
        if (is64) {
            s->flags = nml_rd64(h + 8);
            s->offset = nml_rd64(h + 0x18);
            s->size = nml_rd64(h + 0x20);
            s->link = nml_rd32(h + 0x28);
            s->info = nml_rd32(h + 0x2c);
            align = nml_rd64(h + 0x30);
        } else {
            s->flags = nml_rd32(h + 8);
            s->offset = nml_rd32(h + 0x10);
            s->size = nml_rd32(h + 0x14);
            s->link = nml_rd32(h + 0x18);
            s->info = nml_rd32(h + 0x1c);
            align = nml_rd32(h + 0x20);
        }
        if (align == 0) {
            align = 1;
        }
        if (i == 0) {
            continue; /* the null section: fields ignored */
        }
        if ((align & (align - 1)) != 0 || align > (1u << NM_MAX_ALIGN_LOG2)) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u: alignment %llu not a power of two <= %u",
                            o->name, i, (unsigned long long)align, 1u << NM_MAX_ALIGN_LOG2);
        }
        s->align = (uint32_t)align;
        if (s->type != NML_SHT_NOBITS && s->type != NML_SHT_NULL && !fits(s->offset, s->size, o->size)) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u: offset 0x%llx size 0x%llx outside the file (%zu bytes)",
                            o->name, i, (unsigned long long)s->offset, (unsigned long long)s->size, o->size);
        }
        if (s->type == NML_SHT_NULL) {
            s->offset = 0; /* no contents: nothing may read at its offset or size */
            s->size = 0;
        } else if (s->type == NML_SHT_NOBITS) {
            s->offset = 0;
        }
        if (s->size > 0x7fffffffu) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u: size 0x%llx too large", o->name, i,
                            (unsigned long long)s->size);
        }
    }
    /* names, once shstrtab is known good */
    nml_sec_t *ss = &o->secs[shstrndx];
    if (ss->type != NML_SHT_STRTAB) {
        return nml_fail(e, NM_ERR_ELF, "%s: e_shstrndx %u is not a string table", o->name, shstrndx);
    }
    for (uint32_t i = 1; i < shnum; i++) {
        uint32_t nm = nml_rd32(d + shoff + (uint64_t)i * want);
        o->secs[i].name = str_at(d + ss->offset, ss->size, nm);
        if (!o->secs[i].name) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u: name offset %u outside the section name table",
                            o->name, i, nm);
        }
    }
    o->secs[0].name = "";
    return NM_OK;
}

static int parse_symbols(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    int is64 = o->elfclass == 2;
    unsigned want = is64 ? 24 : 16;
    uint32_t symtab = 0;
    for (uint32_t i = 1; i < o->nsecs; i++) {
        uint32_t t = o->secs[i].type;
        if (t == NML_SHT_SYMTAB) {
            if (symtab) {
                return nml_fail(e, NM_ERR_ELF, "%s: more than one symbol table (sections %u and %u)",
                                o->name, symtab, i);
            }
            symtab = i;
        } else if (t == NML_SHT_SYMTAB_SHNDX) {
            return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: section %u (%s): extended section indices not supported",
                            o->name, i, o->secs[i].name);
        }
    }
    o->symtab = symtab;
    if (!symtab) {
        o->nsyms = 0;
        return NM_OK;
    }
    nml_sec_t *st = &o->secs[symtab];
    /* sh_entsize lives at +0x38 (64) / +0x24 (32) of the header; re-read it */
    {
        uint64_t shoff = is64 ? nml_rd64(o->data + 0x28) : nml_rd32(o->data + 0x20);
        const uint8_t *h = o->data + shoff + (uint64_t)symtab * (is64 ? 64 : 40);
        uint64_t entsize = is64 ? nml_rd64(h + 0x38) : nml_rd32(h + 0x24);
        if (entsize != want) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): symbol entry size %llu, expected %u",
                            o->name, symtab, st->name, (unsigned long long)entsize, want);
        }
    }
    if (st->size % want != 0) {
        return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): size %llu not a multiple of %u",
                        o->name, symtab, st->name, (unsigned long long)st->size, want);
    }
    if (st->link == 0 || st->link >= o->nsecs || o->secs[st->link].type != NML_SHT_STRTAB) {
        return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): sh_link %u is not a string table",
                        o->name, symtab, st->name, st->link);
    }
    nml_sec_t *strs = &o->secs[st->link];
    uint64_t n = st->size / want;
    if (n > 0x1000000u) {
        return nml_fail(e, NM_ERR_ELF, "%s: too many symbols (%llu)", o->name, (unsigned long long)n);
    }
    if (st->info > n) {
        return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): first global %u beyond %llu symbols",
                        o->name, symtab, st->name, st->info, (unsigned long long)n);
    }
    o->nsyms = (uint32_t)n;
    o->syms = nml_alloc_array(a, n ? n : 1, sizeof(nml_sym_t));
    if (!o->syms) {
        return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", o->name);
    }
    const uint8_t *base = o->data + st->offset;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = base + (uint64_t)i * want;
        nml_sym_t *s = &o->syms[i];
        uint32_t nm = nml_rd32(p);
        uint8_t info;
        if (is64) {
            info = p[4];
            s->vis = p[5] & 3;
            s->shndx = nml_rd16(p + 6);
            s->value = nml_rd64(p + 8);
            s->size = nml_rd64(p + 16);
        } else {
            s->value = nml_rd32(p + 4);
            s->size = nml_rd32(p + 8);
            info = p[12];
            s->vis = p[13] & 3;
            s->shndx = nml_rd16(p + 14);
        }
        s->bind = info >> 4;
        s->type = info & 15;
        s->got_idx = -1;
        s->name = str_at(o->data + strs->offset, strs->size, nm);
        if (!s->name) {
            return nml_fail(e, NM_ERR_ELF, "%s: symbol %u: name offset %u outside the string table (%llu bytes)",
                            o->name, i, nm, (unsigned long long)strs->size);
        }
        if (i == 0) {
            /* the null symbol: whatever the file says, it means "nothing" */
            memset(s, 0, sizeof(*s));
            s->name = "";
            s->got_idx = -1;
            continue;
        }
        if (s->shndx == NML_SHN_XINDEX) {
            return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: symbol %u '%s': extended section index not supported",
                            o->name, i, s->name);
        }
        if (s->shndx >= NML_SHN_LORESERVE && s->shndx != NML_SHN_ABS && s->shndx != NML_SHN_COMMON) {
            return nml_fail(e, NM_ERR_ELF, "%s: symbol %u '%s': unknown special section index 0x%x",
                            o->name, i, s->name, s->shndx);
        }
        if (s->shndx != NML_SHN_UNDEF && s->shndx < NML_SHN_LORESERVE && s->shndx >= o->nsecs) {
            return nml_fail(e, NM_ERR_ELF, "%s: symbol %u '%s': section index %u out of range (%u sections)",
                            o->name, i, s->name, s->shndx, o->nsecs);
        }
        if (s->bind != NML_STB_LOCAL && s->bind != NML_STB_GLOBAL && s->bind != NML_STB_WEAK) {
            return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: symbol %u '%s': binding %u not supported",
                            o->name, i, s->name, s->bind);
        }
        if (o->machine == NML_EM_ARM && s->type == NML_STT_FUNC && (s->value & 1)) {
            s->thumb = 1;
            s->value &= ~(uint64_t)1;
        }
        /* a defined symbol must point inside (or at the end of) its section */
        if (s->shndx != NML_SHN_UNDEF && s->shndx < NML_SHN_LORESERVE && s->value > o->secs[s->shndx].size) {
            return nml_fail(e, NM_ERR_ELF, "%s: symbol %u '%s': value 0x%llx beyond section %u (%s) size 0x%llx",
                            o->name, i, s->name, (unsigned long long)s->value, s->shndx,
                            secname(o, s->shndx), (unsigned long long)o->secs[s->shndx].size);
        }
        if (s->shndx == NML_SHN_COMMON) {
            /* st_value is the alignment of a COMMON symbol */
            if (s->value == 0 || (s->value & (s->value - 1)) || s->value > (1u << NM_MAX_ALIGN_LOG2) ||
                s->size > 0x7fffffffu) {
                return nml_fail(e, NM_ERR_ELF, "%s: symbol %u '%s': bad COMMON alignment %llu or size %llu",
                                o->name, i, s->name, (unsigned long long)s->value, (unsigned long long)s->size);
            }
        }
    }
    return NM_OK;
}

static int parse_relocs(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    int is64 = o->elfclass == 2;
    uint64_t shoff = is64 ? nml_rd64(o->data + 0x28) : nml_rd32(o->data + 0x20);
    for (uint32_t i = 1; i < o->nsecs; i++) {
        nml_sec_t *rs = &o->secs[i];
        if (rs->type != NML_SHT_REL && rs->type != NML_SHT_RELA) {
            continue;
        }
        int rela = rs->type == NML_SHT_RELA;
        unsigned want = is64 ? (rela ? 24 : 16) : (rela ? 12 : 8);
        const uint8_t *h = o->data + shoff + (uint64_t)i * (is64 ? 64 : 40);
        uint64_t entsize = is64 ? nml_rd64(h + 0x38) : nml_rd32(h + 0x24);
        if (entsize != want || rs->size % want != 0) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): entry size %llu / size %llu, expected entries of %u",
                            o->name, i, rs->name, (unsigned long long)entsize, (unsigned long long)rs->size, want);
        }
        if (rs->info == 0 || rs->info >= o->nsecs) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): target section %u out of range (%u sections)",
                            o->name, i, rs->name, rs->info, o->nsecs);
        }
        nml_sec_t *t = &o->secs[rs->info];
        if (t->type == NML_SHT_REL || t->type == NML_SHT_RELA || t->type == NML_SHT_SYMTAB ||
            t->type == NML_SHT_NULL) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): relocates section %u (%s), which is not code or data",
                            o->name, i, rs->name, rs->info, t->type == NML_SHT_NULL ? "of type NULL" : t->name);
        }
        size_t n = (size_t)(rs->size / want);
        if (n == 0) {
            continue;
        }
        if (rs->link != o->symtab || o->symtab == 0) {
            return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): sh_link %u is not the symbol table",
                            o->name, i, rs->name, rs->link);
        }
        if (t->rels) {
            /* two relocation sections for one target: rare; keep it simple */
            return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: section %u (%s): second relocation section for %s",
                            o->name, i, rs->name, t->name);
        }
        t->rels = nml_alloc_array(a, n, sizeof(nml_rel_t));
        if (!t->rels) {
            return nml_fail(e, NM_ERR_NOMEM, "%s: out of memory", o->name);
        }
        t->nrels = n;
        t->relsec = i;
        const uint8_t *p = o->data + rs->offset;
        for (size_t k = 0; k < n; k++, p += want) {
            nml_rel_t *r = &t->rels[k];
            uint64_t info;
            if (is64) {
                r->offset = nml_rd64(p);
                info = nml_rd64(p + 8);
                r->sym = (uint32_t)(info >> 32);
                r->type = (uint32_t)info;
                r->addend = rela ? (int64_t)nml_rd64(p + 16) : 0;
            } else {
                r->offset = nml_rd32(p);
                info = nml_rd32(p + 4);
                r->sym = (uint32_t)(info >> 8);
                r->type = (uint32_t)(info & 0xff);
                r->addend = rela ? (int32_t)nml_rd32(p + 8) : 0;
            }
            r->has_addend = rela;
            if (r->sym >= o->nsyms) {
                return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): symbol index %u out of range (%u symbols)",
                                o->name, i, rs->name, r->sym, o->nsyms);
            }
            if (r->offset >= t->size && t->type != NML_SHT_NOBITS) {
                return nml_fail(e, NM_ERR_ELF, "%s: section %u (%s): offset 0x%llx outside %s (0x%llx bytes)",
                                o->name, i, rs->name, (unsigned long long)r->offset, t->name,
                                (unsigned long long)t->size);
            }
        }
    }
    return NM_OK;
}

int nml_elf_parse(nml_obj_t *o, nml_arena_t *a, nml_err_t *e) {
    const uint8_t *d = o->data;
    if (o->size < 16 || memcmp(d, "\x7f" "ELF", 4) != 0) {
        return nml_fail(e, NM_ERR_ELF, "%s: not an ELF file", o->name);
    }
    o->elfclass = d[4];
    if (o->elfclass != 1 && o->elfclass != 2) {
        return nml_fail(e, NM_ERR_ELF, "%s: bad ELF class %u", o->name, d[4]);
    }
    if (d[5] != 1) {
        return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: big-endian ELF not supported", o->name);
    }
    if (d[6] != 1) {
        return nml_fail(e, NM_ERR_ELF, "%s: bad ELF version %u", o->name, d[6]);
    }
    size_t ehsize = o->elfclass == 2 ? 64 : 52;
    if (o->size < ehsize) {
        return nml_fail(e, NM_ERR_ELF, "%s: truncated ELF header (%zu bytes)", o->name, o->size);
    }
    uint16_t type = nml_rd16(d + 16);
    o->machine = nml_rd16(d + 18);
    o->eflags = nml_rd32(d + (o->elfclass == 2 ? 0x30 : 0x24));
    if (type != 1) {
        return nml_fail(e, NM_ERR_UNSUPPORTED, "%s: ELF type %u is not a relocatable object (ET_REL)", o->name, type);
    }
    int err = parse_sections(o, a, e);
    if (!err) {
        err = parse_symbols(o, a, e);
    }
    if (!err) {
        err = parse_relocs(o, a, e);
    }
    return err;
}
