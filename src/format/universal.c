/*
 * The universal container: a slice table in front of complete NMOD slices.
 * The table is small (at most 16 entries), so every query re-validates the
 * whole table; that keeps each call self-contained and the code free of
 * cached state. Quadratic overlap checks are bounded by 16 x 16.
 */
#include <string.h>

#include "format/format_internal.h"

int nm_is_universal(const void *buf, size_t len) {
    return buf && len >= 4 && nmf_magic_prefix(buf, 4, NM_UNIVERSAL_MAGIC);
}

static void slice_prefix(nm_detail_t *d, uint32_t i) {
    nm_detail_set(d, "universal: slice ");
    nm_detail_dec(d, i);
    nm_detail_cat(d, ": ");
}

static void read_entry(const uint8_t *p, uint32_t i, nm_slice_info_t *s) {
    const uint8_t *e = p + NM_UNIVERSAL_HEADER_SIZE + (size_t)i * NM_UNIVERSAL_ENTRY_SIZE;
    s->arch = e[NMF_UE_ARCH];
    s->float_abi = e[NMF_UE_FLOAT];
    s->offset = nmf_rd32(e + NMF_UE_OFFSET);
    s->size = nmf_rd32(e + NMF_UE_SIZE);
    s->crc32 = nmf_rd32(e + NMF_UE_CRC);
}

int nm_universal_count(const void *buf, size_t len, nm_detail_t *d) {
    const uint8_t *p = buf;
    if (!buf && len) {
        nm_detail_set(d, "universal: NULL buffer");
        return NM_ERR_INVAL;
    }
    if (!nmf_magic_prefix(p, len, NM_UNIVERSAL_MAGIC)) {
        nm_detail_set(d, "not a universal container (magic is not \"NMUV\")");
        return NM_ERR_MAGIC;
    }
    if (len < NM_UNIVERSAL_HEADER_SIZE) {
        nm_detail_set(d, "universal: header needs 16 bytes, ");
        nm_detail_dec(d, (uint32_t)len);
        nm_detail_cat(d, " present");
        return NM_ERR_TRUNCATED;
    }
    uint16_t version = nmf_rd16(p + NMF_UOFF_VERSION);
    if (version != NM_FORMAT_VERSION) {
        nm_detail_set(d, "universal: format version ");
        nm_detail_dec(d, version);
        nm_detail_cat(d, ", this reader knows version 1");
        return NM_ERR_VERSION;
    }
    uint32_t n = nmf_rd16(p + NMF_UOFF_N_SLICES);
    if (n == 0 || n > NM_UNIVERSAL_MAX_SLICES) {
        nm_detail_set(d, "universal: n_slices ");
        nm_detail_dec(d, n);
        nm_detail_cat(d, " is not in 1..16");
        return NM_ERR_CORRUPT;
    }
    uint32_t total = nmf_rd32(p + NMF_UOFF_TOTAL_SIZE);
    uint32_t table_end = NM_UNIVERSAL_HEADER_SIZE + n * NM_UNIVERSAL_ENTRY_SIZE;
    if (total > len) {
        nm_detail_set(d, "universal: total_size ");
        nm_detail_hex(d, total);
        nm_detail_cat(d, " but only ");
        nm_detail_hex(d, (uint32_t)(len > 0xFFFFFFFFu ? 0xFFFFFFFFu : len));
        nm_detail_cat(d, " bytes present");
        return NM_ERR_TRUNCATED;
    }
    if (total < table_end) {
        nm_detail_set(d, "universal: total_size ");
        nm_detail_hex(d, total);
        nm_detail_cat(d, " is smaller than the slice table");
        return NM_ERR_CORRUPT;
    }
    uint32_t crc = nm_crc32(0, p + NM_UNIVERSAL_HEADER_SIZE, table_end - NM_UNIVERSAL_HEADER_SIZE);
    if (crc != nmf_rd32(p + NMF_UOFF_CRC)) {
        nm_detail_set(d, "universal: slice table CRC-32 is ");
        nm_detail_hex(d, crc);
        nm_detail_cat(d, ", the header says ");
        nm_detail_hex(d, nmf_rd32(p + NMF_UOFF_CRC));
        return NM_ERR_CRC;
    }
    for (uint32_t i = 0; i < n; i++) {
        nm_slice_info_t s;
        read_entry(p, i, &s);
        const uint8_t *e = p + NM_UNIVERSAL_HEADER_SIZE + (size_t)i * NM_UNIVERSAL_ENTRY_SIZE;
        slice_prefix(d, i);
        if (nmf_rd16(e + NMF_UE_ZERO) != 0) {
            nm_detail_cat(d, "reserved field is not zero");
            return NM_ERR_CORRUPT;
        }
        if (nm_arch_ptr_size(s.arch) == 0 || s.float_abi > NM_FLOAT_HARD) {
            nm_detail_cat(d, "unknown arch id ");
            nm_detail_dec(d, s.arch);
            nm_detail_cat(d, " or float ABI id ");
            nm_detail_dec(d, s.float_abi);
            return NM_ERR_CORRUPT;
        }
        if (s.offset % 16 != 0 || s.offset < table_end) {
            nm_detail_cat(d, "offset ");
            nm_detail_hex(d, s.offset);
            nm_detail_cat(d, s.offset % 16 ? " is not 16-aligned" : " overlaps the slice table");
            return NM_ERR_CORRUPT;
        }
        if (s.size < NM_HEADER_SIZE || (uint64_t)s.offset + s.size > total) {
            nm_detail_cat(d, "[");
            nm_detail_hex(d, s.offset);
            nm_detail_cat(d, ", +");
            nm_detail_hex(d, s.size);
            nm_detail_cat(d, ") is shorter than a header or ends beyond total_size ");
            nm_detail_hex(d, total);
            return NM_ERR_CORRUPT;
        }
        /* The table must agree with the slice it describes, so selection by
         * the table can never pick a slice of another arch. */
        const uint8_t *h = p + s.offset;
        if (!nmf_magic_prefix(h, 4, NM_MAGIC) || h[NMF_OFF_ARCH] != s.arch ||
            h[NMF_OFF_FLOAT] != s.float_abi || nmf_rd32(h + NMF_OFF_CRC) != s.crc32 ||
            nmf_rd32(h + NMF_OFF_IMAGE_SIZE) != s.size) {
            nm_detail_cat(d, "the slice header disagrees with the table (magic, arch, float, crc or size)");
            return NM_ERR_CORRUPT;
        }
        for (uint32_t j = 0; j < i; j++) {
            nm_slice_info_t o;
            read_entry(p, j, &o);
            if (s.offset < o.offset + o.size && o.offset < s.offset + s.size) {
                nm_detail_cat(d, "overlaps slice ");
                nm_detail_dec(d, j);
                return NM_ERR_CORRUPT;
            }
            if (s.arch == o.arch && s.float_abi == o.float_abi) {
                nm_detail_cat(d, "same arch and float ABI as slice ");
                nm_detail_dec(d, j);
                return NM_ERR_CORRUPT;
            }
        }
    }
    nm_detail_set(d, "");
    return (int)n;
}

int nm_universal_slice(const void *buf, size_t len, uint32_t i, nm_slice_info_t *out, nm_detail_t *d) {
    int n = nm_universal_count(buf, len, d);
    if (n < 0) {
        return n;
    }
    if (!out || i >= (uint32_t)n) {
        nm_detail_set(d, "universal: no slice ");
        nm_detail_dec(d, i);
        return NM_ERR_NOENT;
    }
    read_entry(buf, i, out);
    return NM_OK;
}

int nm_select_slice(const void *buf, size_t len, unsigned board_arch, unsigned board_float,
                    nm_slice_info_t *out, nm_detail_t *d) {
    const uint8_t *p = buf;
    if (!out || (!buf && len)) {
        nm_detail_set(d, "nm_select_slice: NULL argument");
        return NM_ERR_INVAL;
    }
    memset(out, 0, sizeof *out);
    if (!nm_is_universal(buf, len)) {
        if (!nmf_magic_prefix(p, len, NM_MAGIC)) {
            nm_detail_set(d, "not a natmod module (magic is neither \"NMOD\" nor \"NMUV\")");
            return NM_ERR_MAGIC;
        }
        /* A plain slice is its own only slice; nm_image_parse judges it. */
        out->arch = len > NMF_OFF_ARCH ? p[NMF_OFF_ARCH] : 0;
        out->float_abi = len > NMF_OFF_FLOAT ? p[NMF_OFF_FLOAT] : 0;
        out->crc32 = len >= NMF_OFF_CRC + 4 ? nmf_rd32(p + NMF_OFF_CRC) : 0;
        out->offset = 0;
        out->size = (uint32_t)(len > 0xFFFFFFFFu ? 0xFFFFFFFFu : len);
        return NM_OK;
    }
    int n = nm_universal_count(buf, len, d);
    if (n < 0) {
        return n;
    }
    int best = -1;
    nm_slice_info_t s, b = {0};
    for (int i = 0; i < n; i++) {
        read_entry(p, (uint32_t)i, &s);
        if (s.arch == board_arch && s.float_abi == board_float &&
            nm_arch_can_run(board_arch, board_float, s.arch, s.float_abi)) {
            *out = s;
            return NM_OK;
        }
        if (nm_arch_can_run(board_arch, board_float, s.arch, s.float_abi) &&
            (best < 0 || s.arch > b.arch)) {
            best = i;
            b = s;
        }
    }
    if (best >= 0) {
        *out = b;
        return NM_OK;
    }
    nm_detail_set(d, "no slice for ");
    nmf_detail_target(d, board_arch, board_float);
    nm_detail_cat(d, " (has ");
    for (int i = 0; i < n; i++) {
        read_entry(p, (uint32_t)i, &s);
        if (i) {
            nm_detail_cat(d, ", ");
        }
        nmf_detail_target(d, s.arch, s.float_abi);
    }
    nm_detail_cat(d, ")");
    return NM_ERR_ARCH;
}
