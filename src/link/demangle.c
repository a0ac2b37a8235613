/*
 * A small demangler for C++ names in the Itanium C++ ABI mangling (what gcc
 * and clang write on every arch natmod links), so that an undefined-symbol
 * message can say ns::Driver::start(int) instead of _ZN2ns6Driver5startEi.
 * It covers what undefined references usually are, printed as binutils'
 * c++filt prints them: nested and std:: names (St, Sa, Sb, Ss, Si, So, Sd),
 * constructors, destructors, operators, function parameters of builtin,
 * class, pointer, reference, cv-qualified, array, function-pointer and
 * member-pointer types, substitutions (S_, S<n>_), templates with type,
 * integer and bool arguments and their parameters (T_), const/&/&& member
 * functions, local names, vtable/typeinfo/VTT/guard-variable names and
 * gcc's clone suffixes (.constprop.0). Anything else (expressions,
 * decltype, pack expansions, thunks, lambdas, ABI tags on types...) makes it
 * give up, and the caller shows the mangled name: a wrong demangling would
 * be worse than none.
 *
 * The input is untrusted (a symbol name from an object file). Reads stop at
 * its NUL, recursion stops at MAX_DEPTH, every string lives in a fixed pool,
 * and nothing is allocated.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "link/link.h"

enum { POOL = 16384, MAX_DEPTH = 48, MAX_SUBS = 160, MAX_TARGS = 32 };

/* A string in the pool. */
typedef struct str {
    uint16_t off, len;
} str_t;

/* A type as c++filt prints it: pre, then post. A function or array type
 * keeps its parameters or bounds in post, so that a pointer or reference to
 * it goes in between: "void (*)(int)", "int (&) [3]". */
enum { K_PLAIN, K_FUNC, K_ARRAY, K_PAREN };
typedef struct type {
    str_t pre, post;
    uint8_t kind;
} type_t;

/* A substitution candidate; last: its unqualified name, for constructors
 * and destructors of it (std::vector<int>::vector). */
typedef struct sub {
    type_t t;
    str_t last;
} sub_t;

typedef struct dm {
    const char *p; /* next character of the input */
    int fail;
    unsigned depth;
    size_t used;
    sub_t subs[MAX_SUBS];
    unsigned nsubs;
    type_t targs[MAX_TARGS]; /* template arguments of the name being demangled (T_) */
    unsigned ntargs;
    char pool[POOL];
} dm_t;

static const str_t EMPTY = {0, 0};

static int bad(dm_t *d) {
    d->fail = 1;
    return 0;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_lower(char c) {
    return c >= 'a' && c <= 'z';
}

/* The concatenation c0 a c1 b c2 (C strings may be NULL, pool strings empty). */
static str_t cat(dm_t *d, const char *c0, str_t a, const char *c1, str_t b, const char *c2) {
    const char *lit[3] = {c0, c1, c2};
    str_t part[2] = {a, b};
    size_t start = d->used;
    for (int i = 0; i < 3; i++) {
        size_t n = lit[i] ? strlen(lit[i]) : 0;
        if (d->used + n > POOL) {
            bad(d);
            return EMPTY;
        }
        if (n) {
            memcpy(d->pool + d->used, lit[i], n);
            d->used += n;
        }
        if (i < 2) {
            /* part lies wholly before start: it was finished before this string began */
            if (d->used + part[i].len > POOL) {
                bad(d);
                return EMPTY;
            }
            memcpy(d->pool + d->used, d->pool + part[i].off, part[i].len);
            d->used += part[i].len;
        }
    }
    str_t r = {(uint16_t)start, (uint16_t)(d->used - start)};
    return r;
}

static str_t lit(dm_t *d, const char *c) {
    return cat(d, c, EMPTY, NULL, EMPTY, NULL);
}

/* n characters of the input as a pool string. */
static str_t take(dm_t *d, const char *s, size_t n) {
    if (d->used + n > POOL) {
        bad(d);
        return EMPTY;
    }
    memcpy(d->pool + d->used, s, n);
    str_t r = {(uint16_t)d->used, (uint16_t)n};
    d->used += n;
    return r;
}

static char last_char(const dm_t *d, str_t s) {
    return s.len ? d->pool[s.off + s.len - 1] : 0;
}

static type_t plain(str_t s) {
    type_t t = {s, EMPTY, K_PLAIN};
    return t;
}

/* A type on its own (a parameter, a template argument). */
static str_t type_str(dm_t *d, type_t t) {
    if (t.kind == K_FUNC || t.kind == K_ARRAY) {
        return cat(d, NULL, t.pre, " ", t.post, NULL);
    }
    return t.post.len ? cat(d, NULL, t.pre, NULL, t.post, NULL) : t.pre;
}

static void add_sub(dm_t *d, type_t t, str_t last) {
    if (d->nsubs == MAX_SUBS) {
        bad(d);
        return;
    }
    d->subs[d->nsubs].t = t;
    d->subs[d->nsubs].last = last;
    d->nsubs++;
}

/* A decimal number of at most 6 digits (source-name lengths, array bounds). */
static int number(dm_t *d, unsigned *v) {
    unsigned n = 0, k = 0;
    while (is_digit(*d->p) && k < 7) {
        n = n * 10 + (unsigned)(*d->p++ - '0');
        k++;
    }
    if (k == 0 || k == 7) {
        return bad(d);
    }
    *v = n;
    return 1;
}

/* <seq-id> _ : "_" is 0, base-36 digits n are n + 1. */
static int seq_id(dm_t *d, unsigned *v) {
    unsigned n = 0;
    if (*d->p == '_') {
        d->p++;
        *v = 0;
        return 1;
    }
    for (unsigned k = 0; *d->p != '_'; k++) {
        char c = *d->p++;
        unsigned dig = is_digit(c) ? (unsigned)(c - '0') : (c >= 'A' && c <= 'Z') ? (unsigned)(c - 'A' + 10) : 99;
        if (dig == 99 || k == 4) {
            return bad(d);
        }
        n = n * 36 + dig;
    }
    d->p++;
    *v = n + 1;
    return 1;
}

static int type(dm_t *d, type_t *t);
static int encoding(dm_t *d, str_t *out, int with_return);

/* <source-name> ::= <length> <identifier> */
static int source_name(dm_t *d, str_t *out) {
    unsigned n;
    if (!number(d, &n) || n == 0) {
        return bad(d);
    }
    for (unsigned i = 0; i < n; i++) {
        if (!d->p[i]) {
            return bad(d);
        }
    }
    /* gcc names anonymous namespaces _GLOBAL__N_1 */
    if (n >= 10 && !strncmp(d->p, "_GLOBAL_", 8) && (d->p[8] == '.' || d->p[8] == '_' || d->p[8] == '$') &&
        d->p[9] == 'N') {
        *out = lit(d, "(anonymous namespace)");
    } else {
        *out = take(d, d->p, n);
    }
    d->p += n;
    return !d->fail;
}

static const struct {
    char code[3];
    const char *name;
} operators[] = {
    {"nw", " new"}, {"na", " new[]"}, {"dl", " delete"}, {"da", " delete[]"}, {"ps", "+"}, {"ng", "-"},
    {"ad", "&"},    {"de", "*"},      {"co", "~"},       {"pl", "+"},         {"mi", "-"}, {"ml", "*"},
    {"dv", "/"},    {"rm", "%"},      {"an", "&"},       {"or", "|"},         {"eo", "^"}, {"aS", "="},
    {"pL", "+="},   {"mI", "-="},     {"mL", "*="},      {"dV", "/="},        {"rM", "%="}, {"aN", "&="},
    {"oR", "|="},   {"eO", "^="},     {"ls", "<<"},      {"rs", ">>"},        {"lS", "<<="}, {"rS", ">>="},
    {"eq", "=="},   {"ne", "!="},     {"lt", "<"},       {"gt", ">"},         {"le", "<="}, {"ge", ">="},
    {"ss", "<=>"},  {"nt", "!"},      {"aa", "&&"},      {"oo", "||"},        {"pp", "++"}, {"mm", "--"},
    {"cm", ","},    {"pm", "->*"},    {"pt", "->"},      {"cl", "()"},        {"ix", "[]"}, {"qu", "?"},
};

/* Name flags the encoding needs. */
enum { N_TEMPLATE = 1, N_CDTOR = 2, N_CONV = 4 };

/* <unqualified-name>: a source name, an operator, a constructor or
 * destructor of `last`. *name is what is printed, *uq the unqualified name
 * a constructor of this entity would repeat. */
static int unqualified(dm_t *d, str_t last, str_t *name, str_t *uq, unsigned *flags) {
    const char *p = d->p;
    if (p[0] == 'L' && is_digit(p[1])) { /* internal linkage (gcc writes it for static entities) */
        d->p++;
        p++;
    }
    if (is_digit(*p)) {
        if (!source_name(d, name)) {
            return 0;
        }
        *uq = *name;
    } else if (p[0] == 'C' && (p[1] >= '1' && p[1] <= '5')) {
        if (!last.len) {
            return bad(d);
        }
        d->p += 2;
        *name = *uq = last;
        *flags |= N_CDTOR;
    } else if (p[0] == 'D' && (p[1] == '0' || p[1] == '1' || p[1] == '2' || p[1] == '4' || p[1] == '5')) {
        if (!last.len) {
            return bad(d);
        }
        d->p += 2;
        *name = cat(d, "~", last, NULL, EMPTY, NULL);
        *uq = last;
        *flags |= N_CDTOR;
    } else if (p[0] == 'c' && p[1] == 'v') {
        type_t t;
        d->p += 2;
        if (!type(d, &t) || t.kind != K_PLAIN) {
            return bad(d);
        }
        *name = cat(d, "operator ", t.pre, NULL, EMPTY, NULL);
        *uq = last; /* a constructor repeats the last source name */
        *flags |= N_CONV;
    } else if (is_lower(p[0]) && p[1]) {
        size_t i = 0;
        while (i < sizeof operators / sizeof operators[0] && strncmp(operators[i].code, p, 2) != 0) {
            i++;
        }
        if (i == sizeof operators / sizeof operators[0]) {
            return bad(d);
        }
        d->p += 2;
        *name = cat(d, "operator", EMPTY, operators[i].name, EMPTY, NULL);
        *uq = last;
    } else {
        return bad(d);
    }
    /* <abi-tag>s: B <source-name>, printed [abi:NAME] */
    while (*d->p == 'B' && !d->fail) {
        str_t tag;
        d->p++;
        if (!source_name(d, &tag)) {
            return 0;
        }
        *name = cat(d, NULL, *name, "[abi:", tag, "]");
    }
    return !d->fail;
}

/* <template-arg> after the 'L' of a literal: L <type> <value> E */
static int literal(dm_t *d, str_t *out) {
    static const struct {
        char code;
        const char *suffix;
    } ints[] = {{'i', ""}, {'j', "u"}, {'l', "l"}, {'m', "ul"}, {'x', "ll"}, {'y', "ull"}};
    if (*d->p == '_') {
        return bad(d); /* an external name (L_Z...E): not covered */
    }
    char code = *d->p;
    const char *neg = "";
    type_t t;
    if (!type(d, &t) || t.kind != K_PLAIN) {
        return bad(d);
    }
    if (*d->p == 'n') {
        neg = "-";
        d->p++;
    }
    const char *digits = d->p;
    while (is_digit(*d->p)) {
        d->p++;
    }
    size_t n = (size_t)(d->p - digits);
    if (n == 0 || n > 40 || *d->p != 'E') {
        return bad(d);
    }
    d->p++;
    if (code == 'b' && n == 1 && !neg[0] && (digits[0] == '0' || digits[0] == '1')) {
        *out = lit(d, digits[0] == '0' ? "false" : "true");
        return !d->fail;
    }
    str_t num = take(d, digits, n);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (ints[i].code == code) {
            *out = cat(d, neg, num, ints[i].suffix, EMPTY, NULL);
            return !d->fail;
        }
    }
    /* other integer types: (short)3, (char)65 */
    *out = cat(d, "(", t.pre, ")", EMPTY, NULL);
    *out = cat(d, NULL, *out, neg, num, NULL);
    return !d->fail;
}

/* <template-args> ::= I <template-arg>+ E, printed "<a, b>"; if keep, they
 * become what T_ refers to. */
static int template_args(dm_t *d, str_t *out, int keep) {
    type_t args[MAX_TARGS];
    unsigned n = 0;
    str_t acc = EMPTY;
    int first = 1;
    d->p++; /* 'I' */
    if (++d->depth > MAX_DEPTH) {
        return bad(d);
    }
    for (int pack = 0; *d->p != 'E' || pack;) {
        str_t s;
        type_t t = plain(EMPTY);
        if (*d->p == 'J' && !pack) { /* an argument pack: its arguments in line */
            d->p++;
            pack = 1;
            continue;
        }
        if (*d->p == 'E' && pack) {
            d->p++;
            pack = 0;
            continue;
        }
        if (*d->p == 'L') {
            d->p++;
            if (!literal(d, &s)) {
                return 0;
            }
            t = plain(s);
        } else if (*d->p == 'X' || !*d->p) {
            return bad(d); /* expressions: not covered */
        } else {
            if (!type(d, &t)) {
                return 0;
            }
            s = type_str(d, t);
        }
        if (n == MAX_TARGS) {
            return bad(d);
        }
        args[n++] = t;
        acc = first ? s : cat(d, NULL, acc, ", ", s, NULL);
        first = 0;
        if (d->fail) {
            return 0;
        }
    }
    d->p++; /* 'E' */
    d->depth--;
    *out = cat(d, "<", acc, last_char(d, acc) == '>' ? " >" : ">", EMPTY, NULL);
    if (keep) {
        memcpy(d->targs, args, n * sizeof args[0]);
        d->ntargs = n;
    }
    return !d->fail;
}

/* After 'S': a standard abbreviation or a substitution. *is_std: it was
 * St, a prefix ("std::") the caller completes. */
static int substitution(dm_t *d, sub_t *out, int *is_std) {
    static const struct {
        char code;
        const char *full, *last;
    } std_subs[] = {
        {'a', "std::allocator", "allocator"},
        {'b', "std::basic_string", "basic_string"},
        {'s', "std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "basic_string"},
        {'i', "std::basic_istream<char, std::char_traits<char> >", "basic_istream"},
        {'o', "std::basic_ostream<char, std::char_traits<char> >", "basic_ostream"},
        {'d', "std::basic_iostream<char, std::char_traits<char> >", "basic_iostream"},
    };
    char c = *d->p;
    *is_std = 0;
    if (c == 't') {
        d->p++;
        *is_std = 1;
        return 1;
    }
    for (size_t i = 0; i < sizeof std_subs / sizeof std_subs[0]; i++) {
        if (std_subs[i].code == c) {
            d->p++;
            out->t = plain(lit(d, std_subs[i].full));
            out->last = lit(d, std_subs[i].last);
            return !d->fail;
        }
    }
    unsigned k;
    if (!seq_id(d, &k)) {
        return 0;
    }
    if (k >= d->nsubs) {
        return bad(d);
    }
    *out = d->subs[k];
    return 1;
}

/* <CV-qualifiers> ::= [r] [V] [K]: as the C++ text " const volatile restrict". */
static str_t cv_qualifiers(dm_t *d) {
    int r = 0, v = 0, k = 0;
    for (;; d->p++) {
        if (*d->p == 'r') {
            r = 1;
        } else if (*d->p == 'V') {
            v = 1;
        } else if (*d->p == 'K') {
            k = 1;
        } else {
            break;
        }
    }
    return cat(d, k ? " const" : "", EMPTY, v ? " volatile" : "", EMPTY, r ? " restrict" : "");
}

/* <nested-name> ::= N [<CV-qualifiers>] [<ref-qualifier>] <prefix> <unqualified-name> E.
 * Each prefix becomes a substitution candidate; the whole name does too
 * when it names a type (is_type). *cv receives the member function's
 * qualifiers (" const", " &"). */
static int nested_name(dm_t *d, str_t *out, str_t *uq_out, unsigned *flags, str_t *cv, int is_type, int keep) {
    str_t acc = EMPTY, last = EMPTY;
    const char *q = "";
    int names = 0;
    d->p++; /* 'N' */
    *cv = EMPTY;
    {
        str_t q = cv_qualifiers(d);
        const char *ref = *d->p == 'R' ? " &" : *d->p == 'O' ? " &&" : "";
        if (*ref) {
            d->p++;
        }
        *cv = cat(d, NULL, q, ref, EMPTY, NULL);
    }
    for (int n = 0; *d->p != 'E'; n++) {
        int candidate = 1; /* a substitution or template parameter is one already */
        if (d->fail || !*d->p) {
            return bad(d);
        }
        if (*d->p == 'S' && n == 0) {
            sub_t s;
            int is_std;
            d->p++;
            if (!substitution(d, &s, &is_std)) {
                return 0;
            }
            if (is_std) {
                q = "std::";
                n = -1; /* the next name is still the first component */
                continue;
            }
            acc = type_str(d, s.t);
            last = s.last;
            candidate = 0;
        } else if (*d->p == 'I') {
            str_t args;
            if (!acc.len || !template_args(d, &args, keep)) {
                return bad(d);
            }
            /* operator< <int>: a space keeps the brackets apart */
            acc = cat(d, NULL, acc, last_char(d, acc) == '<' ? " " : "", args, NULL);
            *flags |= N_TEMPLATE;
        } else if (*d->p == 'T' && n == 0) {
            type_t t;
            if (!type(d, &t)) {
                return 0;
            }
            acc = type_str(d, t);
            last = EMPTY;
            candidate = 0;
        } else {
            str_t name, uq;
            *flags &= ~(unsigned)N_TEMPLATE;
            if (!unqualified(d, last, &name, &uq, flags)) {
                return 0;
            }
            acc = acc.len ? cat(d, NULL, acc, "::", name, NULL) : cat(d, q, name, NULL, EMPTY, NULL);
            last = uq;
            q = "";
            names++;
        }
        if (candidate && (*d->p != 'E' || is_type)) {
            add_sub(d, plain(acc), last);
        }
    }
    d->p++; /* 'E' */
    if (!acc.len || !names) {
        return bad(d); /* a nested name ends in a name, not a substitution */
    }
    *out = acc;
    *uq_out = last;
    return !d->fail;
}

/* <local-name> ::= Z <encoding> E <entity name> [<discriminator>] */
static int local_name(dm_t *d, str_t *out, unsigned *flags) {
    str_t fn, name, uq, cv;
    d->p++; /* 'Z' */
    if (!encoding(d, &fn, 0) || *d->p != 'E') { /* c++filt leaves out its return type */
        return bad(d);
    }
    d->p++;
    if (*d->p == 's') {
        d->p++;
        name = lit(d, "string literal");
    } else if (*d->p == 'N') {
        if (!nested_name(d, &name, &uq, flags, &cv, 0, 1) || cv.len) {
            return bad(d);
        }
    } else if (!unqualified(d, EMPTY, &name, &uq, flags)) {
        return 0;
    }
    if (*d->p == '_') { /* discriminator: _<digit> or __<number>_ */
        d->p++;
        if (is_digit(*d->p)) {
            d->p++;
        } else if (*d->p == '_') {
            unsigned v;
            d->p++;
            if (!number(d, &v) || *d->p != '_') {
                return bad(d);
            }
            d->p++;
        } else {
            return bad(d);
        }
    }
    *out = cat(d, NULL, fn, "::", name, NULL);
    return !d->fail;
}

/* <name> of an encoding (keep: its template arguments are what T_ means)
 * or of a class type (is_type). *cv: a member function's qualifiers. */
static int name(dm_t *d, str_t *out, unsigned *flags, str_t *cv, int is_type, int keep) {
    str_t uq;
    *cv = EMPTY;
    if (*d->p == 'N') {
        return nested_name(d, out, &uq, flags, cv, is_type, keep);
    }
    if (*d->p == 'Z') {
        return local_name(d, out, flags);
    }
    const char *q = "";
    if (*d->p == 'S') {
        sub_t s;
        int is_std;
        d->p++;
        if (!substitution(d, &s, &is_std)) {
            return 0;
        }
        if (!is_std) {
            /* a substitution as a name: a template's, its arguments follow */
            str_t args;
            if (*d->p != 'I' || !template_args(d, &args, keep)) {
                return bad(d);
            }
            *out = cat(d, NULL, type_str(d, s.t), NULL, args, NULL);
            *flags |= N_TEMPLATE;
            if (is_type) {
                add_sub(d, plain(*out), s.last);
            }
            return !d->fail;
        }
        q = "std::";
    }
    str_t n;
    if (!unqualified(d, EMPTY, &n, &uq, flags)) {
        return 0;
    }
    n = cat(d, q, n, NULL, EMPTY, NULL);
    if (*d->p == 'I') {
        str_t args;
        add_sub(d, plain(n), uq); /* the template's name */
        if (!template_args(d, &args, keep)) {
            return 0;
        }
        n = cat(d, NULL, n, last_char(d, n) == '<' ? " " : "", args, NULL);
        *flags |= N_TEMPLATE;
    }
    if (is_type) {
        add_sub(d, plain(n), uq);
    }
    *out = n;
    return !d->fail;
}

/* A pointer, reference or rvalue reference (op) to t. A reference to a
 * reference collapses, as in C++ (T& && is T&, T&& && is T&&), which is how
 * c++filt prints them. */
static type_t pointer_to(dm_t *d, type_t t, const char *op) {
    type_t r = t;
    if (op[0] == '&' && t.kind == K_PLAIN && last_char(d, t.pre) == '&') {
        int rvalue = t.pre.len >= 2 && d->pool[t.pre.off + t.pre.len - 2] == '&';
        if (rvalue && !op[1]) {
            r.pre.len--; /* T&& & is T& */
        }
        return r;
    }
    if (t.kind == K_FUNC) {
        r.pre = cat(d, NULL, t.pre, " (", EMPTY, op);
        r.post = cat(d, ")", t.post, NULL, EMPTY, NULL);
        r.kind = K_PAREN;
    } else if (t.kind == K_ARRAY) {
        r.pre = cat(d, NULL, t.pre, " (", EMPTY, op);
        r.post = cat(d, ") ", t.post, NULL, EMPTY, NULL);
        r.kind = K_PAREN;
    } else {
        r.pre = cat(d, NULL, t.pre, op, EMPTY, NULL);
    }
    return r;
}

/* Function parameters up to end (a type that is not one): "int, char" or
 * "" for a lone void. */
static int params(dm_t *d, str_t *out) {
    str_t acc = EMPTY;
    int n = 0;
    while (*d->p && *d->p != 'E' && *d->p != '.') {
        type_t t;
        if (d->p[0] == 'v' && n == 0 && (d->p[1] == 'E' || d->p[1] == '.' || !d->p[1])) {
            d->p++; /* f(void) is f() */
            n = -1;
            break;
        }
        if (*d->p == 'R' || *d->p == 'O') {
            /* a member function type's ref-qualifier before its E: not covered */
            if (d->p[1] == 'E') {
                return bad(d);
            }
        }
        if (!type(d, &t)) {
            return 0;
        }
        str_t s = type_str(d, t);
        acc = n ? cat(d, NULL, acc, ", ", s, NULL) : s;
        n++;
    }
    if (n == 0) {
        return bad(d); /* at least one type: v when there are no parameters */
    }
    *out = acc;
    return !d->fail;
}

static const char *builtin(char c) {
    switch (c) {
    case 'v': return "void";
    case 'w': return "wchar_t";
    case 'b': return "bool";
    case 'c': return "char";
    case 'a': return "signed char";
    case 'h': return "unsigned char";
    case 's': return "short";
    case 't': return "unsigned short";
    case 'i': return "int";
    case 'j': return "unsigned int";
    case 'l': return "long";
    case 'm': return "unsigned long";
    case 'x': return "long long";
    case 'y': return "unsigned long long";
    case 'n': return "__int128";
    case 'o': return "unsigned __int128";
    case 'f': return "float";
    case 'd': return "double";
    case 'e': return "long double";
    case 'g': return "__float128";
    case 'z': return "...";
    default: return NULL;
    }
}

static const char *builtin_d(char c) {
    switch (c) {
    case 'd': return "decimal64";
    case 'e': return "decimal128";
    case 'f': return "decimal32";
    case 'h': return "half";
    case 'i': return "char32_t";
    case 's': return "char16_t";
    case 'u': return "char8_t";
    case 'a': return "auto";
    case 'c': return "decltype(auto)";
    case 'n': return "decltype(nullptr)";
    default: return NULL;
    }
}

/* <function-type> ::= F [Y] <return type> <parameter types> E */
static int function_type(dm_t *d, type_t *t) {
    type_t ret;
    str_t ps;
    d->p++; /* 'F' */
    if (*d->p == 'Y') {
        d->p++; /* extern "C" */
    }
    if (!type(d, &ret) || ret.kind != K_PLAIN || !params(d, &ps) || *d->p != 'E') {
        return bad(d);
    }
    d->p++;
    t->pre = ret.pre;
    t->post = cat(d, "(", ps, ")", EMPTY, NULL);
    t->kind = K_FUNC;
    return !d->fail;
}

/* <type>; every type that is not a builtin becomes a substitution candidate. */
static int type(dm_t *d, type_t *t) {
    const char *b;
    char c = *d->p;
    unsigned flags = 0;
    if (++d->depth > MAX_DEPTH) {
        return bad(d);
    }
    if ((b = builtin(c)) != NULL) {
        d->p++;
        *t = plain(lit(d, b));
    } else if (c == 'D' && (b = builtin_d(d->p[1])) != NULL) {
        d->p += 2;
        *t = plain(lit(d, b));
    } else if (c == 'P' || c == 'R' || c == 'O') {
        type_t in;
        d->p++;
        if (!type(d, &in)) {
            return 0;
        }
        *t = pointer_to(d, in, c == 'P' ? "*" : c == 'R' ? "&" : "&&");
        add_sub(d, *t, EMPTY);
    } else if (c == 'r' || c == 'V' || c == 'K') {
        str_t q = cv_qualifiers(d);
        type_t in;
        /* a qualified function type is a member function's: the
         * unqualified one is not a substitution candidate (as g++ mangles) */
        if (*d->p == 'F' ? !function_type(d, &in) : !type(d, &in)) {
            return 0;
        }
        *t = in;
        if (in.kind == K_FUNC) {
            t->post = cat(d, NULL, in.post, NULL, q, NULL); /* a member function type: int () const */
        } else {
            t->pre = cat(d, NULL, in.pre, NULL, q, NULL); /* of an array: of its elements */
        }
        add_sub(d, *t, EMPTY);
    } else if (c == 'F') {
        if (!function_type(d, t)) {
            return 0;
        }
        add_sub(d, *t, EMPTY);
    } else if (c == 'A') {
        unsigned n = 0;
        int sized = 0;
        type_t el;
        d->p++;
        if (is_digit(*d->p)) {
            if (!number(d, &n)) {
                return 0;
            }
            sized = 1;
        }
        if (*d->p != '_') {
            return bad(d);
        }
        d->p++;
        if (!type(d, &el) || el.kind != K_PLAIN) {
            return bad(d);
        }
        char num[16];
        size_t k = sizeof num;
        num[--k] = 0;
        do {
            num[--k] = (char)('0' + n % 10);
            n /= 10;
        } while (n && k);
        t->pre = el.pre;
        t->post = cat(d, "[", EMPTY, sized ? num + k : "", EMPTY, "]");
        t->kind = K_ARRAY;
        add_sub(d, *t, EMPTY);
    } else if (c == 'M') {
        type_t cls, mem;
        d->p++;
        if (!type(d, &cls) || cls.kind != K_PLAIN || !type(d, &mem)) {
            return bad(d);
        }
        str_t cp = cat(d, NULL, cls.pre, "::*", EMPTY, NULL);
        if (mem.kind == K_FUNC) {
            t->pre = cat(d, NULL, mem.pre, " (", cp, NULL);
            t->post = cat(d, ")", mem.post, NULL, EMPTY, NULL);
            t->kind = K_PAREN;
        } else if (mem.kind == K_PLAIN) {
            *t = plain(cat(d, NULL, mem.pre, " ", cp, NULL));
        } else {
            return bad(d);
        }
        add_sub(d, *t, EMPTY);
    } else if (c == 'T') {
        unsigned k;
        d->p++;
        if (!seq_id(d, &k) || k >= d->ntargs) {
            return bad(d);
        }
        *t = d->targs[k];
        add_sub(d, *t, EMPTY);
        if (*d->p == 'I') { /* a template template parameter with its arguments */
            str_t args;
            if (!template_args(d, &args, 0)) {
                return 0;
            }
            *t = plain(cat(d, NULL, type_str(d, *t), NULL, args, NULL));
            add_sub(d, *t, EMPTY);
        }
    } else if (c == 'S' && d->p[1] != 't') {
        sub_t s;
        int is_std;
        d->p++;
        if (!substitution(d, &s, &is_std)) {
            return 0;
        }
        *t = s.t;
        if (*d->p == 'I') {
            str_t args;
            if (!template_args(d, &args, 0)) {
                return 0;
            }
            *t = plain(cat(d, NULL, type_str(d, s.t), NULL, args, NULL));
            add_sub(d, *t, s.last);
        }
    } else if (c == 'N' || c == 'S' || is_digit(c)) {
        str_t n, cv;
        if (!name(d, &n, &flags, &cv, 1, 0) || cv.len) {
            return bad(d);
        }
        *t = plain(n);
    } else {
        return bad(d); /* decltype, pack expansions, vendor types, ... */
    }
    d->depth--;
    return !d->fail;
}

/* <encoding> ::= <name> [<bare-function-type>] | <special-name>; a
 * template function's return type is printed if with_return. */
static int encoding(dm_t *d, str_t *out, int with_return) {
    static const struct {
        char code[3];
        const char *what;
    } specials[] = {
        {"TV", "vtable for "}, {"TI", "typeinfo for "}, {"TS", "typeinfo name for "}, {"TT", "VTT for "},
    };
    if (++d->depth > MAX_DEPTH) {
        return bad(d);
    }
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        if (!strncmp(d->p, specials[i].code, 2)) {
            type_t t;
            d->p += 2;
            if (!type(d, &t)) {
                return 0;
            }
            *out = cat(d, specials[i].what, type_str(d, t), NULL, EMPTY, NULL);
            d->depth--;
            return !d->fail;
        }
    }
    if (d->p[0] == 'G' && d->p[1] == 'V') {
        str_t n, cv;
        unsigned flags = 0;
        d->p += 2;
        if (!name(d, &n, &flags, &cv, 0, 1) || cv.len) {
            return bad(d);
        }
        *out = cat(d, "guard variable for ", n, NULL, EMPTY, NULL);
        d->depth--;
        return !d->fail;
    }
    if (d->p[0] == 'T' || d->p[0] == 'G') {
        return bad(d); /* thunks, other special names: not covered */
    }
    str_t n, cv;
    unsigned flags = 0;
    if (!name(d, &n, &flags, &cv, 0, 1)) {
        return 0;
    }
    if (!*d->p || *d->p == 'E' || *d->p == '.') {
        if (cv.len || (flags & N_CDTOR)) {
            return bad(d); /* qualifiers or a constructor need a function type */
        }
        *out = n; /* data */
        d->depth--;
        return !d->fail;
    }
    str_t ret = EMPTY, ps;
    if ((flags & N_TEMPLATE) && !(flags & (N_CDTOR | N_CONV))) {
        type_t r;
        if (!type(d, &r) || r.kind != K_PLAIN) {
            return bad(d);
        }
        ret = with_return ? cat(d, NULL, r.pre, " ", EMPTY, NULL) : EMPTY;
    }
    if (!params(d, &ps)) {
        return 0;
    }
    *out = cat(d, NULL, ret, NULL, n, "(");
    *out = cat(d, NULL, *out, NULL, ps, ")");
    *out = cat(d, NULL, *out, NULL, cv, NULL);
    d->depth--;
    return !d->fail;
}

int nml_demangle(const char *sym, char *out, size_t n) {
    dm_t d;
    if (!out || !n) {
        return 0;
    }
    out[0] = 0;
    if (!sym) {
        return 0;
    }
    size_t len = strlen(sym);
    memset(&d, 0, offsetof(dm_t, pool));
    d.p = sym;
    str_t r = EMPTY;
    int ok = sym[0] == '_' && sym[1] == 'Z' && len < POOL / 4;
    if (ok) {
        d.p += 2;
        ok = encoding(&d, &r, 1);
    }
    /* gcc's clone suffixes: .constprop.0, .isra.0, .part.0, .cold, .123 */
    while (ok && !d.fail && d.p[0] == '.' && (is_lower(d.p[1]) || d.p[1] == '_' || is_digit(d.p[1]))) {
        const char *s = d.p++;
        while (is_lower(*d.p) || *d.p == '_') {
            d.p++;
        }
        while (is_digit(*d.p)) {
            d.p++;
        }
        while (d.p[0] == '.' && is_digit(d.p[1])) {
            d.p++;
            while (is_digit(*d.p)) {
                d.p++;
            }
        }
        str_t clone = take(&d, s, (size_t)(d.p - s));
        r = cat(&d, NULL, r, " [clone ", clone, "]");
    }
    ok = ok && !d.fail && !*d.p && r.len < n;
    if (ok) {
        memcpy(out, d.pool + r.off, r.len);
        out[r.len] = 0;
        return 1;
    }
    snprintf(out, n, "%s", sym);
    return 0;
}
