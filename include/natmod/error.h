/*
 * One error convention for every natmod part: 0 is success, a negative
 * NM_ERR_* is a failure. The CLI exits with the positive value, so each
 * kind of failure has its own exit status.
 */
#ifndef NATMOD_ERROR_H
#define NATMOD_ERROR_H

enum nm_error {
    NM_OK = 0,
    NM_ERR_INVAL = -1,      /* bad argument from the caller (programmer error or bad CLI use) */
    NM_ERR_IO = -2,         /* a file could not be read or written (host) */
    NM_ERR_TRUNCATED = -3,  /* input shorter than its header or a declared size */
    NM_ERR_MAGIC = -4,      /* not a natmod module (wrong magic) */
    NM_ERR_VERSION = -5,    /* format version this reader does not know */
    NM_ERR_ARCH = -6,       /* module arch cannot run on this board */
    NM_ERR_FLOAT_ABI = -7,  /* module float ABI differs from the board's */
    NM_ERR_CRC = -8,        /* CRC-32 mismatch */
    NM_ERR_CORRUPT = -9,    /* a size, count, offset or index is out of range or overflows */
    NM_ERR_RELOC = -10,     /* relocation outside its section, unknown kind, or out of range */
    NM_ERR_NOSYM = -11,     /* an import the firmware does not export / an undefined symbol */
    NM_ERR_NOMEM = -12,     /* the allocation callback refused */
    NM_ERR_INIT = -13,      /* the module's init returned non-zero */
    NM_ERR_NOENT = -14,     /* no such export / slice / file */
    NM_ERR_ELF = -15,       /* malformed ELF object (host linker) */
    NM_ERR_ARCHIVE = -16,   /* malformed ar archive (host linker) */
    NM_ERR_UNSUPPORTED = -17, /* valid input this tool does not handle (arch, section kind) */
    NM_ERR_DUP = -18,       /* duplicate definition / hash collision */
    NM_ERR_BUSY = -19,      /* resource in use */
    NM_ERR_XIP = -20,       /* cannot run in place: not linked for this address, text needs
                               relocation, or the firmware moved a bound import */
    NM_ERR_NOSPC = -21,     /* no room left: store extents, metadata or RW slots */
    NM_ERR_TIMEOUT = -22,   /* a peer did not answer in time (link handshake, transfer) */
    NM_ERR_PROTO = -23,     /* a peer broke the link protocol (length, hold-off, framing) */
    NM_ERR_TRUST = -24,     /* refused by the board's signature policy: unsigned, unknown key,
                               bad signature, or an older version than the one installed */
    NM_ERR_COUNT_ = 25,
};

/* Short name of an error code ("bad CRC"); never NULL. */
static inline const char *nm_strerror(int err) {
    static const char *const s[NM_ERR_COUNT_] = {
        "ok", "invalid argument", "I/O error", "truncated", "bad magic",
        "unsupported format version", "wrong architecture", "wrong float ABI",
        "bad CRC", "corrupt", "bad relocation", "undefined symbol",
        "out of memory", "module init failed", "not found", "malformed ELF",
        "malformed archive", "unsupported", "duplicate", "busy",
        "cannot execute in place", "no space", "timed out", "protocol error", "not trusted",
    };
    return (err <= 0 && err > -NM_ERR_COUNT_) ? s[-err] : "unknown error";
}

/* A human detail for the last error: one line naming the thing that failed.
 * Fixed size so the target runtime can keep it in a static or on the stack. */
#define NM_DETAIL_MAX 120
typedef struct nm_detail {
    char msg[NM_DETAIL_MAX];
} nm_detail_t;

#endif /* NATMOD_ERROR_H */
