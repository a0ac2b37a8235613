/*
 * natmod store map: a store image drawn as SVG, block by block.
 *
 * Everything drawn comes from the store's API: nm_store_block_info for
 * each block, nm_store_next for the module list, nm_store_stat for the
 * caption; never from the image's bytes. Names come from an untrusted
 * image, so every string is shown as printable ASCII (any other byte as
 * \xNN) and XML-escaped: the document is well-formed whatever the image
 * holds.
 *
 * Layout: the blocks in address order, row by row, in a grid whose column
 * count grows with the block count (4 blocks: one row of wide cells; 4,096:
 * 64 x 64 cells of 15 px), so that a map reads at a glance from 4 to 4,096
 * blocks. Consecutive blocks of one kind (a module's extent, a free run, a
 * metadata area) form a run: filled row segment by row segment, outlined
 * as one shape, labelled where the label fits, and always titled (the
 * tooltip), so a module is named even when its box is one small cell.
 * Below the grid: the legend and the module list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natmod/abi.h"
#include "natmod/format.h"
#include "store_map.h"

/* ---- output ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

__attribute__((format(printf, 2, 3)))
static void out(sbuf_t *b, const char *fmt, ...) {
    while (!b->oom) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
        } else if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        } else {
            size_t cap = b->cap ? b->cap : 1u << 14;
            while (cap - b->len <= (size_t)n) {
                cap *= 2;
            }
            char *np = realloc(b->p, cap);
            if (!np) {
                b->oom = 1;
            } else {
                b->p = np, b->cap = cap;
            }
        }
    }
}

static int printable(unsigned ch) {
    return ch >= 0x20 && ch < 0x7F;
}

/* Characters s takes when shown: printable ASCII as it is, other bytes as \xNN. */
static size_t shown_len(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        n += printable(*p) ? 1 : 4;
    }
    return n;
}

/* s shown and XML-escaped; at most max characters (0: all), a longer one
 * cut and ended with an ellipsis (counted in max). */
static void out_text(sbuf_t *b, const char *s, size_t max) {
    int cut = max && shown_len(s) > max;
    size_t lim = cut ? max - 1 : (size_t)-1, n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t w = printable(*p) ? 1 : 4;
        if (n + w > lim) {
            break;
        }
        n += w;
        switch (*p) {
        case '<': out(b, "&lt;"); break;
        case '>': out(b, "&gt;"); break;
        case '&': out(b, "&amp;"); break;
        case '"': out(b, "&quot;"); break;
        case '\'': out(b, "&apos;"); break;
        default:
            if (w == 1) {
                out(b, "%c", *p);
            } else {
                out(b, "\\x%02X", *p);
            }
        }
    }
    if (cut) {
        out(b, "&#8230;");
    }
}

/* ---- the grid ---- */

#define MARGIN 16
#define GUTTER 48      /* row labels */
#define GRID_W 960     /* the widest a grid gets */
#define CELL_MAX_W 120
#define CELL_MAX_H 64
#define LIST_COL_W 500 /* a column of the module list */

typedef struct grid {
    unsigned cols, rows, cw, ch, gx, gy;
} grid_t;

typedef struct rect {
    unsigned x, y, w, h;
} rect_t;

static const char *const palette[] = {"#8dd3c7", "#ffffb3", "#bebada", "#80b1d3", "#b3de69",
                                      "#fccde5", "#bc80bd", "#ccebc5", "#e5d8bd"};
#define N_PALETTE (sizeof palette / sizeof palette[0])
#define C_FREE "#e3e8eb"
#define C_META "#607d8b"
#define C_META_OTHER "#b0bec5"
#define C_KEPT "#fdb462"
#define C_UNLISTED "#cfd8dc"
#define C_DAMAGE "#d62728"
#define C_INK "#263238"

/* Columns: all blocks in one row up to 16, then 16, 32 or 64 so that the
 * grid stays about square up to 4,096 blocks, and grows taller beyond. */
static void grid_init(grid_t *g, uint32_t blocks, unsigned top) {
    unsigned cols = blocks <= 16 ? (unsigned)blocks : 16;
    while (blocks > 16 && (uint64_t)cols * cols < blocks && cols < 64) {
        cols *= 2;
    }
    g->cols = cols;
    g->rows = (unsigned)((blocks + cols - 1) / cols);
    g->cw = GRID_W / cols < CELL_MAX_W ? GRID_W / cols : CELL_MAX_W;
    g->ch = g->cw < CELL_MAX_H ? g->cw : CELL_MAX_H;
    g->gx = MARGIN + GUTTER;
    g->gy = top;
}

static rect_t cells(const grid_t *g, unsigned c0, unsigned c1, unsigned r0, unsigned r1) {
    rect_t r = {g->gx + c0 * g->cw, g->gy + r0 * g->ch, (c1 - c0 + 1) * g->cw, (r1 - r0 + 1) * g->ch};
    return r;
}

/* The blocks [a, a+n) as at most three rectangles: the rest of the first
 * row, the full rows, the start of the last row. */
static int segments(const grid_t *g, uint32_t a, uint32_t n, rect_t seg[3]) {
    uint32_t last = a + n - 1;
    unsigned ra = a / g->cols, ca = a % g->cols, rb = last / g->cols, cb = last % g->cols;
    int k = 0;
    if (ra == rb) {
        seg[k++] = cells(g, ca, cb, ra, ra);
        return k;
    }
    unsigned r = ra;
    if (ca) {
        seg[k++] = cells(g, ca, g->cols - 1, ra, ra);
        r++;
    }
    unsigned full_end = cb == g->cols - 1 ? rb : rb - 1;
    if (full_end >= r) {
        seg[k++] = cells(g, 0, g->cols - 1, r, full_end);
    }
    if (cb != g->cols - 1) {
        seg[k++] = cells(g, 0, cb, rb, rb);
    }
    return k;
}

/* The outline of the blocks [a, a+n) as one path: a polygon when the
 * segments touch, separate rectangles when they do not. */
static void out_outline(sbuf_t *b, const grid_t *g, uint32_t a, uint32_t n, const char *stroke, double width,
                        const char *dash) {
    rect_t seg[3];
    int k = segments(g, a, n, seg);
    uint32_t last = a + n - 1;
    unsigned ra = a / g->cols, ca = a % g->cols, rb = last / g->cols, cb = last % g->cols;
    out(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s d=\"", stroke, width,
        dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    if (k == 1 || (rb == ra + 1 && cb < ca)) {
        for (int i = 0; i < k; i++) {
            out(b, "M%u %uh%uv%uh-%uZ", seg[i].x, seg[i].y, seg[i].w, seg[i].h, seg[i].w);
        }
    } else {
        unsigned x = g->gx, y = g->gy, w = g->cw, h = g->ch;
        out(b, "M%u %uH%uV%uH%uV%uH%uV%uH%uZ", x + ca * w, y + ra * h, x + g->cols * w, y + rb * h,
            x + (cb + 1) * w, y + (rb + 1) * h, x, y + (ra + 1) * h, x + ca * w);
    }
    out(b, "\"/>\n");
}

/* Up to three lines centred in r, in a font (8 to 13 px) that fits the
 * longest if it can. The first line is cut with an ellipsis if it is still
 * too long (at least four characters shown, else no label); a later line
 * that does not fit is left out. The title carries everything. */
static void out_label(sbuf_t *b, rect_t r, const char *const lines[], int n, const char *ink) {
    if (r.w < 12 || r.h < 10) {
        return;
    }
    double fs = r.h * 0.3 < 8 ? 8 : r.h * 0.3 > 13 ? 13 : r.h * 0.3;
    size_t longest = 0;
    for (int i = 0; i < n && i < 3; i++) {
        size_t len = shown_len(lines[i]);
        longest = len > longest ? len : longest;
    }
    if (longest && longest * 0.6 * fs > r.w - 6.0) {
        fs = (r.w - 6.0) / (0.6 * (double)longest);
        fs = fs < 8 ? 8 : fs;
    }
    size_t maxc = (size_t)((r.w - 6.0) / (0.6 * fs) + 1e-6);
    double lh = 1.2 * fs;
    int nfit = (int)((r.h - 2.0) / lh);
    const char *use[3];
    size_t lim[3];
    int k = 0;
    for (int i = 0; i < n && i < 3 && k < nfit; i++) {
        size_t len = shown_len(lines[i]);
        if (len <= maxc) {
            use[k] = lines[i], lim[k++] = 0;
        } else if (i == 0 && maxc >= 4) {
            use[k] = lines[i], lim[k++] = maxc;
        } else if (i == 0) {
            return;
        }
    }
    double top = r.y + r.h / 2.0 - k * lh / 2.0;
    for (int i = 0; i < k; i++) {
        out(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"middle\" fill=\"%s\"%s>",
            r.x + r.w / 2.0, top + i * lh + 0.95 * fs, fs, ink, i == 0 ? " font-weight=\"bold\"" : "");
        out_text(b, use[i], lim[i]);
        out(b, "</text>\n");
    }
}

/* ---- runs: consecutive blocks of one kind ---- */

typedef struct blk {
    nm_store_block_info_t i;
    int unreadable; /* the block could not be read (its info is partial) */
} blk_t;

typedef struct run {
    uint32_t start, n;
    uint8_t kind, area, active;
    int damaged;
    const nm_store_entry_t *e;
    int color; /* module: palette index, -1 if not listed */
    uint32_t valid, bad, unreadable;
} run_t;

static int meta_damaged(const blk_t *k) {
    return k->unreadable || k->i.slots_bad;
}

static int same_run(const run_t *r, const blk_t *k) {
    if (r->kind != k->i.kind) {
        return 0;
    }
    switch (r->kind) {
    case NM_STORE_BLOCK_MODULE:
        return r->e == k->i.entry;
    case NM_STORE_BLOCK_META:
        return r->area == k->i.area && r->damaged == meta_damaged(k);
    default:
        return 1;
    }
}

static const char *plural(uint32_t n, const char *one, const char *many) {
    return n == 1 ? one : many;
}

static void out_run_title(sbuf_t *b, const cli_store_t *cs, const run_t *r) {
    uint32_t bs = cs->cfg.block_size, last = r->start + r->n - 1;
    char range[48];
    if (r->n == 1) {
        snprintf(range, sizeof range, "block %u", (unsigned)r->start);
    } else {
        snprintf(range, sizeof range, "blocks %u-%u (%u blocks)", (unsigned)r->start, (unsigned)last,
                 (unsigned)r->n);
    }
    out(b, "<title>");
    switch (r->kind) {
    case NM_STORE_BLOCK_MODULE: {
        const nm_store_entry_t *e = r->e;
        out_text(b, e->name, 0);
        out(b, "\nmodule, %s at offset 0x%08x", range, (unsigned)(r->start * bs));
        if (r->start != e->start || r->n != e->n_blocks) {
            out(b, " (of its extent at blocks %u-%u)", (unsigned)e->start, (unsigned)(e->start + e->n_blocks - 1));
        }
        out(b, "\n%u bytes, %s/%s, crc 0x%08x\n%s", (unsigned)e->size, nm_arch_name(e->arch),
            nm_float_name(e->float_abi), (unsigned)e->crc,
            (e->flags & NM_STORE_F_DAMAGED) ? "DAMAGED: its header or CRC does not match its record (never loaded)"
            : (e->flags & NM_STORE_F_VERIFIED) ? "intact (CRC checked)"
                                               : "not checked");
        break;
    }
    case NM_STORE_BLOCK_FREE:
        out(b, "free: %s, %llu bytes", range, (unsigned long long)r->n * bs);
        break;
    case NM_STORE_BLOCK_KEPT:
        out(b, "kept: %s %s an intact module header that no record names (the metadata was damaged);"
               " install and defrag do not reuse %s",
            range, plural(r->n, "holds", "hold"), plural(r->n, "it", "them"));
        break;
    default:
        out(b, "metadata area %u (%s), %s: %u valid %s", (unsigned)r->area,
            r->active ? "active" : "the other area", range, (unsigned)r->valid, plural(r->valid, "record", "records"));
        if (r->bad) {
            out(b, "\nDAMAGED: %u bad %s (damaged, or an append torn by a power cut)", (unsigned)r->bad,
                plural(r->bad, "slot", "slots"));
        }
        if (r->unreadable) {
            out(b, "\nDAMAGED: %u %s could not be read", (unsigned)r->unreadable,
                plural(r->unreadable, "block", "blocks"));
        }
    }
    out(b, "</title>\n");
}

static const char *run_fill(const run_t *r) {
    switch (r->kind) {
    case NM_STORE_BLOCK_MODULE:
        return r->color < 0 ? C_UNLISTED : palette[(unsigned)r->color % N_PALETTE];
    case NM_STORE_BLOCK_FREE:
        return C_FREE;
    case NM_STORE_BLOCK_KEPT:
        return C_KEPT;
    default:
        return r->active ? C_META : C_META_OTHER;
    }
}

static const char *const kind_class[] = {"free", "kept", "module", "meta"};

/* Pass 1: the run's fill, block boundaries and hatching, with its title,
 * in a group whose class and data- attributes say what it is. */
static void out_run_fill(sbuf_t *b, const cli_store_t *cs, const grid_t *g, const run_t *r) {
    out(b, "<g class=\"%s%s\" data-blocks=\"%u-%u\"", kind_class[r->kind], r->damaged ? " damaged" : "",
        (unsigned)r->start, (unsigned)(r->start + r->n - 1));
    if (r->kind == NM_STORE_BLOCK_MODULE) {
        out(b, " data-name=\"");
        out_text(b, r->e->name, 0);
        out(b, "\"");
    } else if (r->kind == NM_STORE_BLOCK_META) {
        out(b, " data-area=\"%u\"", (unsigned)r->area);
    }
    out(b, ">");
    out_run_title(b, cs, r);
    rect_t seg[3];
    int k = segments(g, r->start, r->n, seg);
    for (int i = 0; i < k; i++) {
        out(b, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"%s\"/>", seg[i].x, seg[i].y, seg[i].w,
            seg[i].h, run_fill(r));
        out(b, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"url(#cells)\"/>", seg[i].x, seg[i].y,
            seg[i].w, seg[i].h);
        if (r->damaged) {
            out(b, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"url(#hatch)\"/>", seg[i].x,
                seg[i].y, seg[i].w, seg[i].h);
        }
    }
    out(b, "</g>\n");
}

/* Pass 2: outlines and labels, on top of every fill. */
static void out_run_marks(sbuf_t *b, const grid_t *g, const run_t *r) {
    rect_t seg[3];
    int k = segments(g, r->start, r->n, seg), best = 0;
    for (int i = 1; i < k; i++) {
        if (seg[i].w > seg[best].w || (seg[i].w == seg[best].w && seg[i].h > seg[best].h)) {
            best = i;
        }
    }
    char l1[48], l2[48];
    const char *lines[3] = {l1, l2, ""};
    int n = 2;
    const char *ink = C_INK;
    switch (r->kind) {
    case NM_STORE_BLOCK_MODULE:
        out_outline(b, g, r->start, r->n, r->damaged ? C_DAMAGE : C_INK, r->damaged ? 2.5 : 1.5, NULL);
        lines[0] = r->e->name;
        snprintf(l1, sizeof l1, "%s", r->damaged ? "DAMAGED" : nm_arch_name(r->e->arch));
        snprintf(l2, sizeof l2, "%u B", (unsigned)r->e->size);
        lines[1] = l1, lines[2] = l2, n = 3;
        break;
    case NM_STORE_BLOCK_FREE:
        snprintf(l1, sizeof l1, "free");
        snprintf(l2, sizeof l2, "%u %s", (unsigned)r->n, plural(r->n, "block", "blocks"));
        break;
    case NM_STORE_BLOCK_KEPT:
        out_outline(b, g, r->start, r->n, "#e65100", 1.5, "4 2");
        snprintf(l1, sizeof l1, "kept");
        n = 1;
        break;
    default:
        if (r->damaged) {
            out_outline(b, g, r->start, r->n, C_DAMAGE, 2.5, NULL);
            snprintf(l1, sizeof l1, "meta %u", (unsigned)r->area);
            snprintf(l2, sizeof l2, "%u bad", (unsigned)(r->bad + r->unreadable));
        } else {
            snprintf(l1, sizeof l1, "meta %u", (unsigned)r->area);
            snprintf(l2, sizeof l2, "%s", r->active ? "active" : "other");
            ink = r->active ? "#ffffff" : C_INK;
        }
    }
    out_label(b, seg[best], lines, n, ink);
}

/* ---- legend and module list ---- */

static unsigned out_legend(sbuf_t *b, unsigned width, unsigned y, const cli_store_t *cs, const grid_t *g) {
    static const struct {
        const char *fill, *stroke, *text;
        int hatch;
    } items[] = {
        {"#8dd3c7", C_INK, "module extent: name, arch, bytes", 0},
        {C_FREE, NULL, "free", 0},
        {C_META, C_INK, "metadata, active area", 0},
        {C_META_OTHER, C_INK, "metadata, other area", 0},
        {"#ffffff", C_DAMAGE, "damaged: module CRC or header, metadata records", 1},
        {C_KEPT, "#e65100", "kept: a module image no record names", 0},
    };
    unsigned x = MARGIN;
    out(b, "<g class=\"legend\" font-size=\"12\">\n");
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        unsigned w = 22 + (unsigned)strlen(items[i].text) * 7 + 18;
        if (x + w > width - MARGIN && x > MARGIN) {
            x = MARGIN, y += 20;
        }
        out(b, "<rect x=\"%u\" y=\"%u\" width=\"14\" height=\"14\" fill=\"%s\"", x, y, items[i].fill);
        if (items[i].stroke) {
            out(b, " stroke=\"%s\" stroke-width=\"1.5\"", items[i].stroke);
        }
        out(b, "/>");
        if (items[i].hatch) {
            out(b, "<rect x=\"%u\" y=\"%u\" width=\"14\" height=\"14\" fill=\"url(#hatch)\"/>", x, y);
        }
        out(b, "<text x=\"%u\" y=\"%u\">%s</text>\n", x + 20, y + 11, items[i].text);
        x += w;
    }
    y += 20;
    out(b, "<text x=\"%u\" y=\"%u\">Erase counts: not shown (natmod store stat prints the most worn block "
           "and the spread, docs/store.md section 7b).</text>\n",
        MARGIN, y + 11);
    y += 18;
    out(b, "<text x=\"%u\" y=\"%u\">One cell per block of %u bytes, %u per row; each row is labelled with its "
           "first block. Hover for details.</text>\n",
        MARGIN, y + 11, (unsigned)cs->cfg.block_size, g->cols);
    out(b, "</g>\n");
    return y + 18;
}

static unsigned out_module_list(sbuf_t *b, unsigned width, unsigned y, const cli_store_t *cs,
                                const nm_store_entry_t *const *mods, const unsigned *colors, unsigned n) {
    unsigned ncol = (width - 2 * MARGIN) / LIST_COL_W, lh = 16;
    ncol = ncol < 1 ? 1 : n <= 12 ? 1 : ncol;
    unsigned per = n ? (n + ncol - 1) / ncol : 1;
    out(b, "<text x=\"%u\" y=\"%u\" font-size=\"13\" font-weight=\"bold\">%u %s, in address order</text>\n",
        MARGIN, y + 13, n, plural(n, "module", "modules"));
    y += 22;
    out(b, "<g class=\"modules\" font-size=\"11\" font-family=\"ui-monospace,Menlo,Consolas,monospace\">\n");
    for (unsigned i = 0; i < n; i++) {
        const nm_store_entry_t *e = mods[i];
        unsigned x = MARGIN + (i / per) * LIST_COL_W, ty = y + (i % per) * lh;
        int dmg = (e->flags & NM_STORE_F_DAMAGED) != 0;
        out(b, "<g class=\"module-row%s\" data-name=\"", dmg ? " damaged" : "");
        out_text(b, e->name, 0);
        out(b, "\"><title>");
        out_text(b, e->name, 0);
        out(b, "</title><rect x=\"%u\" y=\"%u\" width=\"12\" height=\"12\" fill=\"%s\" stroke=\"%s\"/>", x, ty,
            palette[colors[i] % N_PALETTE], dmg ? C_DAMAGE : C_INK);
        if (dmg) {
            out(b, "<rect x=\"%u\" y=\"%u\" width=\"12\" height=\"12\" fill=\"url(#hatch)\"/>", x, ty);
        }
        out(b, "<text x=\"%u\" y=\"%u\" xml:space=\"preserve\">", x + 18, ty + 10);
        out_text(b, e->name, NM_STORE_NAME_MAX);
        size_t pad = shown_len(e->name);
        for (pad = pad < NM_STORE_NAME_MAX ? NM_STORE_NAME_MAX - pad : 0; pad; pad--) {
            out(b, " ");
        }
        char where[40];
        if (e->n_blocks) {
            snprintf(where, sizeof where, "0x%08x %4u blk", (unsigned)nm_store_offset(&cs->s, e),
                     (unsigned)e->n_blocks);
        } else {
            snprintf(where, sizeof where, "outside the partition");
        }
        out(b, " %-21s %7u B %-11s%s</text></g>\n", where, (unsigned)e->size, nm_arch_name(e->arch),
            dmg ? " DAMAGED" : "");
    }
    out(b, "</g>\n");
    return y + per * lh;
}

/* ---- the document ---- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int cli_store_map(const cli_store_t *cs, const char *label, char **svg, size_t *len, cli_map_summary_t *sum) {
    const nm_store_t *s = &cs->s;
    uint32_t nb = cs->cfg.block_count;
    memset(sum, 0, sizeof *sum);
    *svg = NULL, *len = 0;
    if (nb == 0 || nb > CLI_MAP_MAX_BLOCKS) {
        return cli_fail(NM_ERR_UNSUPPORTED, "store %s: %u blocks: a map draws 1 to %u", cs->image, (unsigned)nb,
                        (unsigned)CLI_MAP_MAX_BLOCKS);
    }
    blk_t *blk = calloc(nb, sizeof *blk);
    run_t *runs = calloc(nb, sizeof *runs);
    const nm_store_entry_t *mods[CLI_STORE_ENTRIES];
    sbuf_t body = {0}, doc = {0};
    if (!blk || !runs) {
        free(blk), free(runs);
        return cli_fail(NM_ERR_NOMEM, "store %s: out of memory", cs->image);
    }
    unsigned nmods = 0;
    uint32_t pos = 0;
    const nm_store_entry_t *e;
    while (nmods < CLI_STORE_ENTRIES && (e = nm_store_next(s, &pos)) != NULL) {
        mods[nmods++] = e;
    }
    /* A module's colour follows from its name, so it keeps it in the maps
     * before and after a defrag; one that would match the module before
     * it in address order takes the next colour. */
    unsigned colors[CLI_STORE_ENTRIES];
    for (unsigned i = 0; i < nmods; i++) {
        colors[i] = (unsigned)(nm_crc32(0, mods[i]->name, strlen(mods[i]->name)) % N_PALETTE);
        if (i && colors[i] == colors[i - 1]) {
            colors[i] = (colors[i] + 1) % N_PALETTE;
        }
    }
    for (uint32_t b = 0; b < nb; b++) {
        nm_detail_t d = {{0}};
        int rc = nm_store_block_info(s, b, &blk[b].i, &d);
        if (rc == NM_ERR_IO) {
            blk[b].unreadable = 1;
        } else if (rc != NM_OK) {
            free(blk), free(runs);
            return cli_store_fail(cs, rc, &d);
        }
    }
    /* Runs. */
    uint32_t nr = 0;
    for (uint32_t b = 0; b < nb; b++) {
        const blk_t *k = &blk[b];
        run_t *r = nr ? &runs[nr - 1] : NULL;
        if (!r || !same_run(r, k)) {
            r = &runs[nr++];
            memset(r, 0, sizeof *r);
            r->start = b;
            r->kind = k->i.kind;
            r->area = k->i.area;
            r->active = k->i.active;
            r->e = k->i.entry;
            r->color = -1;
            if (r->kind == NM_STORE_BLOCK_MODULE) {
                for (unsigned i = 0; i < nmods; i++) {
                    r->color = mods[i] == r->e ? (int)colors[i] : r->color;
                }
                r->damaged = (r->e->flags & NM_STORE_F_DAMAGED) != 0;
            } else if (r->kind == NM_STORE_BLOCK_META) {
                r->damaged = meta_damaged(k);
            }
        }
        r->n++;
        r->valid += k->i.slots_valid;
        r->bad += k->i.slots_bad;
        r->unreadable += (uint32_t)k->unreadable;
        sum->damaged_meta_blocks += r->kind == NM_STORE_BLOCK_META && meta_damaged(k);
        sum->kept_blocks += r->kind == NM_STORE_BLOCK_KEPT;
    }
    nm_store_stats_t st;
    nm_store_stat(s, &st);

    /* Caption, grid, legend, list; the size is known at the end. */
    unsigned top = MARGIN + 4 * 18 + 8;
    grid_t g;
    grid_init(&g, nb, top);
    unsigned grid_right = g.gx + g.cols * g.cw + MARGIN;
    unsigned width = grid_right > 780 ? grid_right : 780;
    if (nmods > 12 && width < 2 * LIST_COL_W + 2 * MARGIN) {
        width = 2 * LIST_COL_W + 2 * MARGIN;
    }
    unsigned gap = g.cw >= 40 ? 2 : 1;
    out(&body, "<defs>\n<pattern id=\"cells\" x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" "
               "patternUnits=\"userSpaceOnUse\"><path d=\"M%.1f 0V%uM0 %.1fH%u\" stroke=\"#ffffff\" "
               "stroke-width=\"%u\" fill=\"none\"/></pattern>\n",
        g.gx, g.gy, g.cw, g.ch, g.cw - gap / 2.0, g.ch, g.ch - gap / 2.0, g.cw, gap);
    out(&body, "<pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
               "patternTransform=\"rotate(45)\"><path d=\"M0 0V6\" stroke=\"%s\" stroke-width=\"2\" "
               "stroke-opacity=\"0.75\"/>"
               "</pattern>\n</defs>\n",
        C_DAMAGE);
    out(&body, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    out(&body, "<g class=\"caption\" font-size=\"12\">\n<text x=\"%u\" y=\"%u\" font-size=\"15\" "
               "font-weight=\"bold\">",
        MARGIN, MARGIN + 12);
    out_text(&body, base_name(label), 0);
    out(&body, ": natmod module store</text>\n");
    out(&body, "<text x=\"%u\" y=\"%u\">%llu bytes: %u blocks of %u bytes (prog %u, align %u); %u data blocks, "
               "2 metadata areas of %u</text>\n",
        MARGIN, MARGIN + 12 + 20, (unsigned long long)nb * cs->cfg.block_size, (unsigned)nb,
        (unsigned)cs->cfg.block_size, (unsigned)cs->cfg.prog_size, (unsigned)(s->align_blocks * cs->cfg.block_size),
        (unsigned)st.data_blocks, (unsigned)(st.meta_blocks_total / 2));
    out(&body, "<text x=\"%u\" y=\"%u\">used: %u %s (%u bytes) in %u %s; free: %u %s, largest free run %u</text>\n",
        MARGIN, MARGIN + 12 + 38, (unsigned)st.n_modules, plural(st.n_modules, "module", "modules"),
        (unsigned)st.used_bytes, (unsigned)st.used_blocks, plural(st.used_blocks, "block", "blocks"),
        (unsigned)st.free_blocks, plural(st.free_blocks, "block", "blocks"), (unsigned)st.largest_free);
    out(&body, "<text x=\"%u\" y=\"%u\">damage: %u %s, %u metadata %s; metadata generation %u, log %u of %u "
               "records</text>\n</g>\n",
        MARGIN, MARGIN + 12 + 56, (unsigned)st.n_damaged, plural(st.n_damaged, "module", "modules"),
        (unsigned)st.bad_records, plural(st.bad_records, "record", "records"), (unsigned)st.generation,
        (unsigned)st.log_used, (unsigned)st.log_slots);

    out(&body, "<g class=\"grid\" data-cols=\"%u\" data-rows=\"%u\" data-cell=\"%ux%u\">\n", g.cols, g.rows,
        g.cw, g.ch);
    unsigned step = g.ch >= 20 || g.rows <= 16 ? 1 : 4;
    double rfs = g.ch * 0.7 < 11 ? g.ch * 0.7 : 11;
    for (unsigned r = 0; r < g.rows; r += step) {
        out(&body, "<text x=\"%u\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"end\" fill=\"#546e7a\">%u</text>\n",
            g.gx - 6, g.gy + r * g.ch + g.ch / 2.0 + rfs * 0.35, rfs, r * g.cols);
    }
    for (uint32_t i = 0; i < nr; i++) {
        out_run_fill(&body, cs, &g, &runs[i]);
        sum->free_runs += runs[i].kind == NM_STORE_BLOCK_FREE;
    }
    out(&body, "<g pointer-events=\"none\" font-family=\"ui-monospace,Menlo,Consolas,monospace\">\n");
    /* A metadata area is outlined whole, under the marks of its damaged runs. */
    for (unsigned a = 0; a < 2; a++) {
        out_outline(&body, &g, st.data_blocks + a * (st.meta_blocks_total / 2), st.meta_blocks_total / 2, C_INK,
                    1.5, NULL);
    }
    for (uint32_t i = 0; i < nr; i++) {
        out_run_marks(&body, &g, &runs[i]);
    }
    out(&body, "</g>\n</g>\n");
    unsigned y = g.gy + g.rows * g.ch + 24;
    y = out_legend(&body, width, y, cs, &g);
    y = out_module_list(&body, width, y + 10, cs, mods, colors, nmods);
    unsigned height = y + MARGIN;

    out(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out(&doc, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
              "font-family=\"Helvetica,Arial,sans-serif\" fill=\"%s\">\n",
        width, height, width, height, C_INK);
    out(&doc, "%.*s</svg>\n", (int)body.len, body.p ? body.p : "");
    free(body.p), free(blk), free(runs);
    if (doc.oom || body.oom) {
        free(doc.p);
        return cli_fail(NM_ERR_NOMEM, "store %s: out of memory drawing the map", cs->image);
    }
    sum->blocks = nb, sum->cols = g.cols, sum->rows = g.rows;
    sum->modules = st.n_modules, sum->damaged_modules = st.n_damaged;
    *svg = doc.p, *len = doc.len;
    return 0;
}
