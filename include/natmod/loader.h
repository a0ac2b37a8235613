/*
 * The natmod runtime loader (target side, freestanding C11).
 *
 * Contract: no malloc (memory comes from the callbacks in nm_loader_config),
 * nothing from libc beyond memcpy/memset, no recursion. A module that fails
 * any check is refused before any of its code runs.
 *
 * Phases (one file each in src/loader): verify.c (image + arch checks),
 * resolve.c (every import against the firmware export table), place.c
 * (allocate and copy regions), reloc.c (apply the relocation stream), and
 * loader.c (the public calls below).
 */
#ifndef NATMOD_LOADER_H
#define NATMOD_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "natmod/abi.h"
#include "natmod/error.h"
#include "natmod/format.h"

/* One firmware export. A table of these, sorted by ascending hash with no
 * two equal hashes, is what the firmware export build step generates.
 * The type fields come last so that tables written before them (three
 * initialisers per entry) still compile, with the type unknown. */
typedef struct nm_export {
    uint32_t hash;    /* nm_hash(name) */
    const char *name; /* confirmed on lookup, so a hash match alone never binds */
    const void *addr; /* Thumb functions carry bit 0 */
    /* nm_hash of the normalised prototype text (docs/format.md 2.3), or 0:
     * unknown, never checked. An import linked against a non-zero type
     * hash that differs from this non-zero one is refused (NM_ERR_NOSYM). */
    uint32_t type_hash;
    const char *proto; /* that text, for the refusal's detail; may be NULL */
} nm_export_t;

/* Kinds of memory the loader asks for. */
enum nm_mem_kind {
    NM_MEM_TEXT = 0, /* executable; written by the loader, then flushed */
    NM_MEM_RW = 1,   /* data + bss (+ GOT) */
    NM_MEM_IMAGE = 2, /* RW_PCREL modules in RAM mode: text + RW in one block */
};

/* Caller-owned configuration, zeroed for defaults (littlefs style). */
typedef struct nm_loader_config {
    uint8_t arch;      /* the board's enum nm_arch */
    uint8_t float_abi; /* the board's enum nm_float_abi */
    const nm_export_t *exports; /* sorted by hash */
    size_t n_exports;
    /* Allocate size bytes aligned to align (a power of two) for kind; NULL if none. */
    void *(*alloc_cb)(void *context, size_t size, size_t align, unsigned kind);
    /* Free what alloc_cb returned (same kind). */
    void (*free_cb)(void *context, void *ptr, unsigned kind);
    /* XIP mode: reserve exactly [addr, addr+size) as kind (NM_MEM_RW) and
     * return 0, or non-zero if any of it is taken or not RAM. Released with
     * free_cb(addr, kind). Needed only by nm_load_xip. */
    int (*claim_cb)(void *context, void *addr, size_t size, unsigned kind);
    /* Make [addr, addr+len) coherent for instruction fetch; NULL if not needed. */
    void (*flush_cb)(void *context, void *addr, size_t len);
    void *context;
    /* Signature policy (docs/trust.md): the public keys (NM_PUBKEY_SIZE
     * bytes each) whose signatures the board accepts. None: modules load
     * unsigned, as before. With keys, nm_load and nm_xip_link take only a
     * slice signed by one of them (verified before anything is allocated
     * or written); nm_load_xip takes only an image whose installer verified
     * it (NM_FLAG_SIG_CHECKED) with a key still in the list. */
    const uint8_t (*trusted_keys)[NM_PUBKEY_SIZE];
    size_t n_trusted_keys;
} nm_loader_config_t;

/* A loaded module. The caller allocates it (statically if it likes); it is the
 * loader's whole per-module RAM besides the module's own regions. The image
 * passed to nm_load must stay readable while the module is loaded (export
 * names are read from it, not copied). */
typedef struct nm_module {
    const nm_loader_config_t *cfg;
    const uint8_t *image; /* the validated slice */
    uint8_t *text;        /* run-time TEXT base */
    uint8_t *rw;          /* run-time RW base */
    uint32_t image_size;
    uint16_t n_exports;
    uint16_t deinit_idx;
    uint8_t state;        /* 0 free, 1 loaded */
    uint8_t one_block;    /* text and RW came from one NM_MEM_IMAGE allocation */
    uint8_t xip;          /* text runs in place from the image; only RW was claimed */
} nm_module_t;

/* Verify, resolve, place, relocate, flush, then run init. buf may be a
 * single slice or a universal container (the board's slice is chosen).
 * On failure nothing stays allocated and *m is left unloaded. */
int nm_load(const nm_loader_config_t *cfg, nm_module_t *m, const void *buf, size_t len,
            nm_detail_t *detail);

/*
 * Execute in place (docs/xip.md). image is a slice in memory-mapped flash
 * that stays there, unchanged, while the module is loaded: its text runs
 * from where it lies and only the RW region (data, bss, GOT) is claimed
 * through claim_cb and filled. Two kinds of image qualify:
 *  - XIP-linked (NM_FLAG_XIP_LINKED, written by nm_xip_link) for exactly
 *    this address: RW goes to the recorded rw_addr, and only GOT entries
 *    are bound now. Refused if the firmware moved an import bound in text.
 *  - RW_PCREL images whose text has no relocations (x86-64): RW goes right
 *    after text, at text + rw_offset (an MMU board maps RAM there).
 * Costs no text copy and no text relocation: load is data copy + bss clear
 * + GOT fill, then init.
 */
int nm_load_xip(const nm_loader_config_t *cfg, nm_module_t *m, const void *image, size_t len,
                nm_detail_t *detail);

/*
 * nm_load_xip for an image whose whole CRC its caller checked before and,
 * at that moment, recorded meta_crc = nm_image_meta_crc (format.h) - the
 * module store does, at install, at nm_store_check and at the first load
 * after a mount (nm_store_load). Every check of nm_load_xip runs (header,
 * tables, relocation stream, arch, signature policy, the address it was
 * linked for, every import resolved, the imports bound into text against
 * xip_bind_crc) except the CRC over the whole image: instead, everything
 * but the text (header, data image, relocations, tables, strings,
 * trailer, XIP record) must still have meta_crc (else NM_ERR_CRC). The
 * text, the bulk of a module, is trusted to be what the caller checked:
 * catching a flipped bit there is the caller's job (docs/xip.md).
 */
int nm_load_xip_verified(const nm_loader_config_t *cfg, nm_module_t *m, const void *image,
                         size_t len, uint32_t meta_crc, nm_detail_t *detail);

/* Receives the output of nm_xip_link: len bytes for offset off of the new
 * image. Called in ascending order for the body, then once for the 64-byte
 * header last (so a power cut leaves no valid header over a partial body).
 * Returns 0, or non-zero to abort. */
typedef int (*nm_write_fn)(void *context, uint32_t off, const void *data, size_t len);

/*
 * Install-time linking: write an XIP-linked copy of the board's slice of buf
 * (a slice or universal container) that will be read from address dest and
 * keep its RW region at rw_addr (rw_addr is ignored for RW_PCREL images,
 * whose RW must follow text). Imports referenced from text are bound now
 * against cfg->exports; those in the GOT stay for load time. Streams through
 * write() with a small stack buffer: no allocation. *out_size (if non-NULL)
 * receives the image size, which nm_xip_size gives before writing.
 * buf may itself be XIP-linked (a store moving an installed module): it is
 * relinked for dest, TEXT and RW words moved by the change of their base
 * (RISC-V instruction fields, NM_RELOC_INSN, written afresh from the stream),
 * RW kept at its recorded slot (rw_addr ignored) unless it follows text,
 * imports left bound - refused if the firmware has moved one since.
 */
int nm_xip_link(const nm_loader_config_t *cfg, const void *buf, size_t len, uintptr_t dest,
                uintptr_t rw_addr, nm_write_fn write, void *wctx, uint32_t *out_size,
                nm_detail_t *detail);

/* Bytes nm_xip_link will write for buf and the RW bytes the module will
 * claim (data + bss), after the same checks. */
int nm_xip_size(const nm_loader_config_t *cfg, const void *buf, size_t len, uint32_t *image_size,
                uint32_t *rw_size, uint32_t *rw_align, nm_detail_t *detail);

/* Address of the export called name (functions callable as-is). */
/* The signature policy alone (what nm_load and nm_xip_link apply): NM_OK
 * if cfg has no trusted keys, or img (parsed) is a slice as built, signed
 * by a trusted key, whose signature verifies; or, if it is an XIP-linked
 * image, one its installer verified (NM_FLAG_SIG_CHECKED) with a trusted
 * key. Else NM_ERR_TRUST with a detail naming the module, the key id and
 * the reason. */
int nm_trust_check(const nm_loader_config_t *cfg, const nm_image_t *img, nm_detail_t *detail);

/* The key id of a public key: the first 8 bytes of its SHA-512. */
void nm_key_id(const uint8_t pk[NM_PUBKEY_SIZE], uint8_t id[NM_KEY_ID_SIZE]);

int nm_module_sym(const nm_module_t *m, const char *name, void **addr, nm_detail_t *detail);

/* Run deinit (if any), free the regions, mark *m unloaded. */
int nm_unload(nm_module_t *m);

/* Binary search of the firmware export table by hash, confirming the name. */
const nm_export_t *nm_export_find(const nm_export_t *table, size_t n, const char *name);

/* Module entry points' C types. init returns 0 on success. */
typedef int (*nm_init_fn)(void);
typedef void (*nm_deinit_fn)(void);

#endif /* NATMOD_LOADER_H */
