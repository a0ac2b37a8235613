/*
 * nm-gen-exports, phase 2: the normalised type of each export, read from
 * the file-scope declarations of the preprocessed sources (gen_protos.h).
 *
 * This is not a C parser: it splits the token stream into file-scope
 * declarations (up to `;`, or up to a function body), reads the
 * declaration specifiers with the usual rule that the first identifier
 * before any type specifier is a typedef name and the next one is the
 * declarator, and walks each declarator dropping the declared name and,
 * inside parameter lists, the parameter names. That is enough for the
 * declarations headers hold (glibc's included: attributes, asm labels,
 * __restrict), and a declaration it misreads can only give a text the
 * firmware and its modules agree on anyway, since both come from here.
 */
#include <stdlib.h>
#include <string.h>

#include "gen_protos.h"
#include "natmod/error.h"

#define MARKER_PREFIX "nm_fw_export__"

enum { T_IDENT, T_NUM, T_STR, T_PUNCT };

typedef struct tok {
    const char *s;
    size_t n;
    int kind;
} tok_t;

typedef struct text {
    char buf[GX_PROTO_MAX];
    size_t n;
    int overflow;
} text_t;

typedef struct scan {
    const tok_t *t;
    size_t n;
    int old_style; /* an empty parameter list was seen */
} scan_t;

static int is_ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int is_ident(int c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int tok_is(const tok_t *t, const char *s) {
    return t->n == strlen(s) && !memcmp(t->s, s, t->n);
}

static int in_list(const tok_t *t, const char *const *list) {
    if (t->kind != T_IDENT) {
        return 0;
    }
    for (; *list; list++) {
        if (tok_is(t, *list)) {
            return 1;
        }
    }
    return 0;
}

/* Storage classes and function specifiers: not part of the type. */
static const char *const drop_kw[] = {"extern", "static", "auto", "register", "_Thread_local", "__thread",
                                      "inline", "__inline", "__inline__", "_Noreturn", "__extension__",
                                      NULL};
/* Dropped together with the parenthesised part that follows them. */
static const char *const attr_kw[] = {"__attribute__", "__attribute", "__asm__", "__asm", "asm",
                                      "__declspec", "_Alignas", "alignas", NULL};
static const char *const qual_kw[] = {"const", "volatile", "restrict", "__restrict", "__restrict__",
                                      "_Atomic", "__const", "__const__", "__volatile", "__volatile__",
                                      "_Nonnull", "_Nullable", "_Null_unspecified", NULL};
static const char *const type_kw[] = {"void", "char", "short", "int", "long", "float", "double", "signed",
                                      "unsigned", "_Bool", "bool", "_Complex", "__complex__", "__int128",
                                      "_Float16", "_Float32", "_Float64", "_Float128", "_Float32x",
                                      "_Float64x", "__float128", "__fp16", "__bf16", "__signed__",
                                      "__signed", "_Decimal32", "_Decimal64", "_Decimal128", NULL};
static const char *const tag_kw[] = {"struct", "union", "enum", NULL};
static const char *const typeof_kw[] = {"typeof", "__typeof__", "__typeof", "typeof_unqual", NULL};
static const char *const skip_decl_kw[] = {"typedef", "_Static_assert", "static_assert", NULL};

/* ---- tokens ---- */

static const char *const punct3[] = {"...", "<<=", ">>=", NULL};
static const char *const punct2[] = {"->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
                                     "*=", "/=", "%=", "+=", "-=", "&=", "^=", "|=", "##", NULL};

static size_t punct_len(const char *p, const char *end) {
    for (const char *const *q = punct3; *q; q++) {
        if (end - p >= 3 && !memcmp(p, *q, 3)) {
            return 3;
        }
    }
    for (const char *const *q = punct2; *q; q++) {
        if (end - p >= 2 && !memcmp(p, *q, 2)) {
            return 2;
        }
    }
    return 1;
}

/* Tokens of a preprocessed file: directives and line markers, comments
 * and white space dropped. *out is malloc'd. */
static int tokenize(const char *buf, size_t len, tok_t **out, size_t *count) {
    const char *p = buf, *end = buf + len;
    size_t n = 0, cap = 1024;
    tok_t *v = malloc(cap * sizeof *v);
    int line_start = 1;
    if (!v) {
        return NM_ERR_NOMEM;
    }
    while (p < end) {
        char c = *p;
        if (c == '\n') {
            line_start = 1;
            p++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\\') {
            p++;
            continue;
        }
        if (c == '#' && line_start) {
            while (p < end && *p != '\n') {
                p++;
            }
            continue;
        }
        line_start = 0;
        if (gx_skip_comment(&p, end, NULL)) {
            continue;
        }
        tok_t t = {p, 1, T_PUNCT};
        if (c == '"' || c == '\'') {
            const char *s = p++;
            while (p < end && *p != c && *p != '\n') {
                p += (*p == '\\' && p + 1 < end) ? 2 : 1;
            }
            p += p < end && *p == c;
            t = (tok_t){s, (size_t)(p - s), T_STR};
        } else if ((c >= '0' && c <= '9') || (c == '.' && p + 1 < end && p[1] >= '0' && p[1] <= '9')) {
            const char *s = p++;
            while (p < end && (is_ident(*p) || *p == '.' ||
                               ((*p == '+' || *p == '-') && strchr("eEpP", p[-1])))) {
                p++;
            }
            t = (tok_t){s, (size_t)(p - s), T_NUM};
        } else if (is_ident_start(c)) {
            const char *s = p;
            while (p < end && is_ident(*p)) {
                p++;
            }
            t = (tok_t){s, (size_t)(p - s), T_IDENT};
        } else {
            t.n = punct_len(p, end);
            p += t.n;
        }
        if (n == cap) {
            tok_t *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v);
                return NM_ERR_NOMEM;
            }
            v = nv;
            cap *= 2;
        }
        v[n++] = t;
    }
    *out = v;
    *count = n;
    return NM_OK;
}

/* t[i] opens ( [ or {: the index after its closer (or end). */
static size_t skip_balanced(const scan_t *s, size_t i, size_t end) {
    int depth = 0;
    for (; i < end; i++) {
        const tok_t *t = &s->t[i];
        if (t->kind != T_PUNCT || t->n != 1) {
            continue;
        }
        if (strchr("([{", t->s[0])) {
            depth++;
        } else if (strchr(")]}", t->s[0]) && --depth == 0) {
            return i + 1;
        }
    }
    return end;
}

/* ---- the normalised text ---- */

static void emit(text_t *o, const char *s, size_t n) {
    char last = o->n ? o->buf[o->n - 1] : 0, c = s[0];
    int space = o->n > 0;
    if (c == ')' || c == ']' || c == ',' || last == '(' || last == '[' || last == '*') {
        space = 0;
    }
    if ((c == '(' || c == '[') && (last == ')' || last == ']')) {
        space = 0;
    }
    if (o->n + space + n + 1 > sizeof o->buf) {
        o->overflow = 1;
        return;
    }
    if (space) {
        o->buf[o->n++] = ' ';
    }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
    o->buf[o->n] = '\0';
}

static void emit_tok(text_t *o, const tok_t *t) {
    emit(o, t->s, t->n);
}

/* Tokens [i, j) verbatim (array bounds, typeof operands). */
static void emit_range(text_t *o, const scan_t *s, size_t i, size_t j) {
    for (; i < j; i++) {
        emit_tok(o, &s->t[i]);
    }
}

/* An attribute-like keyword and its parenthesised part: the index after. */
static size_t skip_attr(const scan_t *s, size_t i, size_t end) {
    i++;
    if (i < end && tok_is(&s->t[i], "(")) {
        i = skip_balanced(s, i, end);
    }
    return i;
}

/* Declaration specifiers from i; returns where the declarator starts.
 * *skip is set for a typedef or static assertion. */
static size_t parse_specs(scan_t *s, size_t i, size_t end, text_t *o, int *skip) {
    int seen_type = 0;
    while (i < end) {
        const tok_t *t = &s->t[i];
        if (t->kind != T_IDENT) {
            break;
        }
        if (in_list(t, skip_decl_kw)) {
            *skip = 1;
            return end;
        }
        if (in_list(t, drop_kw)) {
            i++;
        } else if (in_list(t, attr_kw)) {
            i = skip_attr(s, i, end);
        } else if (in_list(t, qual_kw)) {
            emit_tok(o, t);
            i++;
        } else if (in_list(t, type_kw)) {
            emit_tok(o, t);
            seen_type = 1;
            i++;
        } else if (in_list(t, tag_kw)) {
            emit_tok(o, t);
            i++;
            while (i < end && in_list(&s->t[i], attr_kw)) {
                i = skip_attr(s, i, end);
            }
            if (i < end && s->t[i].kind == T_IDENT) {
                emit_tok(o, &s->t[i++]);
            }
            if (i < end && tok_is(&s->t[i], "{")) {
                emit(o, "{...}", 5);
                i = skip_balanced(s, i, end);
            }
            seen_type = 1;
        } else if (in_list(t, typeof_kw)) {
            emit_tok(o, t);
            i++;
            if (i < end && tok_is(&s->t[i], "(")) {
                size_t j = skip_balanced(s, i, end);
                emit_range(o, s, i, j);
                i = j;
            }
            seen_type = 1;
        } else if (!seen_type) {
            emit_tok(o, t); /* a typedef name */
            seen_type = 1;
            i++;
        } else {
            break; /* the declarator's name */
        }
    }
    return i;
}

static void norm_declarator(scan_t *s, size_t i, size_t end, text_t *o, size_t *name, int in_param);

/* A parameter list's contents [i, end): each parameter's type, names dropped. */
static void norm_params(scan_t *s, size_t i, size_t end, text_t *o) {
    if (i == end) {
        s->old_style = 1;
    }
    int first = 1;
    while (i < end) {
        size_t j = i;
        while (j < end && !tok_is(&s->t[j], ",")) {
            j = tok_is(&s->t[j], "(") || tok_is(&s->t[j], "[") || tok_is(&s->t[j], "{")
                    ? skip_balanced(s, j, end)
                    : j + 1;
        }
        if (!first) {
            emit(o, ",", 1);
        }
        first = 0;
        int skip = 0;
        size_t k = parse_specs(s, i, j, o, &skip);
        size_t name = (size_t)-1;
        norm_declarator(s, k, j, o, &name, 1);
        i = j + 1;
    }
}

/* One declarator [i, end): emitted without the declared name (*name gets
 * its token index if it is still (size_t)-1). A '(' before the name opens
 * a grouping unless (in a parameter) it looks like a parameter list; one
 * after the name (or after a grouping or array suffix) opens a parameter
 * list. An initializer or bit-field width ends the declarator. */
static void norm_declarator(scan_t *s, size_t i, size_t end, text_t *o, size_t *name, int in_param) {
    int suffix = 0;
    while (i < end) {
        const tok_t *t = &s->t[i];
        if (tok_is(t, "=") || tok_is(t, ":")) {
            return;
        }
        if (t->kind == T_IDENT) {
            if (in_list(t, attr_kw)) {
                i = skip_attr(s, i, end);
            } else if (in_list(t, drop_kw)) {
                i++;
            } else if (in_list(t, qual_kw) || in_list(t, type_kw)) {
                emit_tok(o, t);
                i++;
            } else if (*name == (size_t)-1 && !suffix) {
                *name = i++;
                suffix = 1;
            } else {
                emit_tok(o, t);
                i++;
            }
            continue;
        }
        if (tok_is(t, "(")) {
            size_t j = skip_balanced(s, i, end);
            size_t close = j > i + 1 ? j - 1 : i + 1; /* index of ')' */
            const tok_t *next = i + 1 < end ? &s->t[i + 1] : NULL;
            int group = 0;
            if (!suffix && next) {
                group = tok_is(next, "*") || tok_is(next, "^") || tok_is(next, "(") || tok_is(next, "[") ||
                        in_list(next, attr_kw) ||
                        (!in_param && next->kind == T_IDENT && !in_list(next, qual_kw) &&
                         !in_list(next, type_kw) && !in_list(next, tag_kw));
            }
            emit(o, "(", 1);
            if (group) {
                norm_declarator(s, i + 1, close, o, name, in_param);
            } else {
                norm_params(s, i + 1, close < end ? close : end, o);
            }
            emit(o, ")", 1);
            suffix = 1;
            i = j;
            continue;
        }
        if (tok_is(t, "[")) {
            size_t j = skip_balanced(s, i, end);
            emit_range(o, s, i, j);
            suffix = 1;
            i = j;
            continue;
        }
        emit_tok(o, t);
        i++;
    }
}

/* The ')' at index close ends an attribute's or asm label's parentheses. */
static int closes_attr(const scan_t *s, size_t start, size_t close) {
    int depth = 0;
    for (size_t k = close + 1; k-- > start;) {
        if (tok_is(&s->t[k], ")")) {
            depth++;
        } else if (tok_is(&s->t[k], "(") && --depth == 0) {
            return k > start && in_list(&s->t[k - 1], attr_kw);
        }
    }
    return 0;
}

static int handle_decl(scan_t *s, size_t start, size_t end, const gx_proto_sink_t *sink) {
    for (size_t k = start; k < end; k++) {
        const tok_t *t = &s->t[k];
        if (t->kind == T_IDENT && t->n > strlen(MARKER_PREFIX) &&
            !memcmp(t->s, MARKER_PREFIX, strlen(MARKER_PREFIX))) {
            return NM_OK; /* an NM_FW_EXPORT marker, not the symbol's declaration */
        }
    }
    text_t *spec = malloc(2 * sizeof *spec);
    if (!spec) {
        return NM_ERR_NOMEM;
    }
    text_t *o = spec + 1;
    spec->n = 0;
    spec->overflow = 0;
    spec->buf[0] = '\0';
    int skip = 0;
    size_t i = parse_specs(s, start, end, spec, &skip);
    while (!skip && i < end) {
        size_t j = i;
        while (j < end && !tok_is(&s->t[j], ",")) {
            j = tok_is(&s->t[j], "(") || tok_is(&s->t[j], "[") || tok_is(&s->t[j], "{")
                    ? skip_balanced(s, j, end)
                    : j + 1;
        }
        size_t name = (size_t)-1;
        *o = *spec;
        s->old_style = 0;
        norm_declarator(s, i, j, o, &name, 0);
        if (name != (size_t)-1 && !o->overflow && o->n > 0) {
            const tok_t *nt = &s->t[name];
            if (sink->lookup(sink->ctx, nt->s, nt->n)) {
                sink->found(sink->ctx, nt->s, nt->n, o->buf, s->old_style);
            }
        }
        i = j + 1;
    }
    free(spec);
    return NM_OK;
}

int gx_protos_scan(const char *buf, size_t len, const gx_proto_sink_t *sink) {
    tok_t *toks;
    size_t n;
    int err = tokenize(buf, len, &toks, &n);
    if (err) {
        return err;
    }
    scan_t s = {toks, n, 0};
    size_t i = 0;
    while (i < n && !err) {
        size_t start = i;
        int body = 0;
        while (i < n && !tok_is(&toks[i], ";")) {
            if (tok_is(&toks[i], "(") || tok_is(&toks[i], "[")) {
                i = skip_balanced(&s, i, n);
            } else if (tok_is(&toks[i], "{")) {
                /* After a declarator's ')' a brace opens a function body;
                 * otherwise (struct, initializer) it belongs to the
                 * declaration. */
                if (i > start && tok_is(&toks[i - 1], ")") && !closes_attr(&s, start, i - 1)) {
                    body = 1;
                    break;
                }
                i = skip_balanced(&s, i, n);
            } else {
                i++;
            }
        }
        err = handle_decl(&s, start, i, sink);
        i = body ? skip_balanced(&s, i, n) : i + 1;
    }
    free(toks);
    return err;
}
