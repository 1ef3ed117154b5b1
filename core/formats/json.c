/*
 * json.c — JSON decoder (bytes -> document tree) and encoder.
 *
 * The decoder tokenizes with jsmn (strict mode, parent links) and then walks
 * the tokens once to build the tree in the caller's arena. jsmn is lenient
 * about separators, so the walk checks the bytes between tokens itself: a
 * document that passes is RFC 8259 JSON. Promises:
 *   - strings are unescaped to UTF-8 (\uXXXX with surrogate pairs); a bad
 *     escape, a lone surrogate, a raw control character or invalid UTF-8 is
 *     an error naming line:col;
 *   - numbers keep their lexeme ("19.90", 123456789012345678901234567890);
 *   - duplicate object keys are kept, in input order;
 *   - nesting deeper than opts->max_depth (default 256) and input larger
 *     than opts->max_size are errors, not crashes.
 * The token array is malloc'd and freed before returning; everything else is
 * in the arena. The encoder writes the tree with oh_node_write_json.
 *
 * Containers first go through a single-pass fast path (see "fast path"
 * below) that builds the same tree without tokens; anything it does not
 * accept (every error, the arena's limit) is decoded again by the token walk,
 * which words the error. Both give the same tree for the same input.
 */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "arena.h"
#include "formats/formats_int.h"

struct jctx {
    struct oh_arena *a;
    const char *js;
    size_t len;
    jsmntok_t *t;
    int ntok;
    size_t max_depth;
    /* incremental line tracking: positions are visited in increasing order */
    size_t pos;
    uint32_t line, col;
    struct oh_err *err;
};

static int jerr(struct jctx *c, size_t off, const char *what)
{
    unsigned line, col;
    if (off > c->len)
        off = c->len;
    oh_format_linecol(c->js, off, &line, &col);
    return oh_err_set(c->err, OH_EINVAL, "json: line %u col %u: %s", line, col, what);
}

static void advance(struct jctx *c, size_t to)
{
    while (c->pos < to) {
        unsigned char ch = (unsigned char)c->js[c->pos++];
        if (ch == '\n') {
            c->line++;
            c->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c->col++;
        }
    }
}

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Bytes in [from, to) must be whitespace around exactly one `sep`
 * (sep 0: whitespace only). */
static int gap(struct jctx *c, size_t from, size_t to, char sep)
{
    int seen = 0;
    for (size_t i = from; i < to; i++) {
        char ch = c->js[i];
        if (is_ws(ch))
            continue;
        if (sep && ch == sep && !seen) {
            seen = 1;
            continue;
        }
        return jerr(c, i, "unexpected character");
    }
    if (sep && !seen)
        return jerr(c, to, sep == ':' ? "expected ':'" : "expected ','");
    return 0;
}

static size_t tok_begin(const jsmntok_t *t)
{
    return (size_t)t->start - (t->type == JSMN_STRING ? 1 : 0);
}

static size_t tok_end(const jsmntok_t *t)
{
    return (size_t)t->end + (t->type == JSMN_STRING ? 1 : 0);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int hex4(const char *s, size_t left, unsigned *out)
{
    unsigned v = 0;
    if (left < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescapes the string token into the arena; *out NUL-terminated. */
static int unescape(struct jctx *c, const jsmntok_t *t, const char **out, size_t *outlen)
{
    const char *s = c->js + t->start;
    size_t n = (size_t)(t->end - t->start), bad;
    char *o, *p;

    if (!memchr(s, '\\', n)) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20)
                return jerr(c, (size_t)t->start + i, "control character in string");
        if ((bad = oh_utf8_check(s, n)) != 0)
            return jerr(c, (size_t)t->start + bad - 1, "invalid UTF-8 in string");
        if (!(o = oh_arena_strndup(c->a, s, n)))
            return oh_err_set(c->err, OH_ETOOBIG, "json: document too large for memory limit");
        *out = o;
        *outlen = n;
        return 0;
    }
    if (!(o = oh_arena_try_alloc(c->a, n + 1)))
        return oh_err_set(c->err, OH_ETOOBIG, "json: document too large for memory limit");
    p = o;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t at = (size_t)t->start + i;
        if (ch < 0x20)
            return jerr(c, at, "control character in string");
        if (ch != '\\') {
            *p++ = (char)ch;
            i++;
            continue;
        }
        if (i + 1 >= n)
            return jerr(c, at, "invalid escape");
        switch (s[i + 1]) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '/': *p++ = '/'; break;
        case 'b': *p++ = '\b'; break;
        case 'f': *p++ = '\f'; break;
        case 'n': *p++ = '\n'; break;
        case 'r': *p++ = '\r'; break;
        case 't': *p++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(s + i + 2, n - i - 2, &cp) < 0)
                return jerr(c, at, "invalid \\u escape");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return jerr(c, at, "unpaired low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 11 >= n + 0 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
                    hex4(s + i + 8, n - i - 8, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return jerr(c, at, "unpaired high surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            p += put_utf8(p, cp);
            i += 6;
            continue;
        }
        default:
            return jerr(c, at, "invalid escape");
        }
        i += 2;
    }
    *p = '\0';
    if ((bad = oh_utf8_check(o, (size_t)(p - o))) != 0) {
        /* locate the bad byte in the raw text for the message */
        size_t raw = oh_utf8_check(s, n);
        return jerr(c, (size_t)t->start + (raw ? raw - 1 : 0), "invalid UTF-8 in string");
    }
    *out = o;
    *outlen = (size_t)(p - o);
    return 0;
}

/* RFC 8259 number grammar. */
static int valid_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t d;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    return i == n;
}

static int primitive(struct jctx *c, size_t start, size_t end, struct oh_node **out)
{
    const char *s = c->js + start;
    size_t n = end - start;
    enum oh_node_type ty;

    if (n == 4 && memcmp(s, "true", 4) == 0)
        ty = OH_NODE_BOOL;
    else if (n == 5 && memcmp(s, "false", 5) == 0)
        ty = OH_NODE_BOOL;
    else if (n == 4 && memcmp(s, "null", 4) == 0)
        ty = OH_NODE_NULL;
    else if (valid_number(s, n))
        ty = OH_NODE_NUMBER;
    else
        return jerr(c, start, "invalid literal");
    *out = ty == OH_NODE_NULL ? oh_node_new(c->a, ty) : oh_node_new_str(c->a, ty, s, n);
    if (!*out)
        return oh_err_set(c->err, OH_ETOOBIG, "json: document too large for memory limit");
    return 0;
}

/* Builds the value at token *i (advancing *i past it and its children). */
static int value(struct jctx *c, int *i, size_t depth, struct oh_node **out, size_t *endoff)
{
    const jsmntok_t *t;
    struct oh_node *n = NULL;
    size_t prev;
    int rc;

    if (*i >= c->ntok)
        return jerr(c, c->len, "unexpected end of input");
    t = &c->t[*i];
    advance(c, tok_begin(t));
    if (t->type == JSMN_STRING) {
        const char *s;
        size_t sl;
        if ((rc = unescape(c, t, &s, &sl)) < 0)
            return rc;
        if (!(n = oh_node_new(c->a, OH_NODE_STRING)))
            return oh_err_set(c->err, OH_ETOOBIG, "json: document too large for memory limit");
        n->s = s;
        n->len = (uint32_t)sl;
    } else if (t->type == JSMN_PRIMITIVE) {
        if ((rc = primitive(c, (size_t)t->start, (size_t)t->end, &n)) < 0)
            return rc;
    } else {
        int isobj = t->type == JSMN_OBJECT, size = t->size;
        if (depth >= c->max_depth)
            return jerr(c, (size_t)t->start, "nesting deeper than the limit");
        if (!(n = oh_node_new(c->a, isobj ? OH_NODE_OBJECT : OH_NODE_ARRAY)))
            return oh_err_set(c->err, OH_ETOOBIG, "json: document too large for memory limit");
        n->line = c->line;
        n->col = c->col;
        prev = (size_t)t->start + 1;
        (*i)++;
        for (int k = 0; k < size; k++) {
            struct oh_node *child = NULL;
            const jsmntok_t *kt = NULL;
            if (*i >= c->ntok)
                return jerr(c, c->len, "unexpected end of input");
            if ((rc = gap(c, prev, tok_begin(&c->t[*i]), k ? ',' : 0)) < 0)
                return rc;
            if (isobj) {
                const char *ks;
                size_t kl;
                kt = &c->t[*i];
                if (kt->type != JSMN_STRING)
                    return jerr(c, tok_begin(kt), "object key must be a string");
                advance(c, tok_begin(kt));
                if ((rc = unescape(c, kt, &ks, &kl)) < 0)
                    return rc;
                (*i)++;
                if (*i >= c->ntok)
                    return jerr(c, c->len, "unexpected end of input");
                if ((rc = gap(c, tok_end(kt), tok_begin(&c->t[*i]), ':')) < 0)
                    return rc;
                if ((rc = value(c, i, depth + 1, &child, &prev)) < 0)
                    return rc;
                child->key = ks;
                child->key_len = (uint32_t)kl;
            } else {
                if ((rc = value(c, i, depth + 1, &child, &prev)) < 0)
                    return rc;
            }
            oh_node_append(n, child);
        }
        if (t->end < 1)
            return jerr(c, c->len, "unexpected end of input");
        if ((rc = gap(c, prev, (size_t)t->end - 1, 0)) < 0)
            return rc;
        *endoff = (size_t)t->end;
        *out = n;
        return 0;
    }
    n->line = c->line;
    n->col = c->col;
    *endoff = tok_end(t);
    (*i)++;
    *out = n;
    return 0;
}


/* --- fast path ---------------------------------------------------------------
 * One pass over a copy of the input in the arena. Strings are unescaped in
 * place and end with a NUL where their closing quote was; nodes come from the
 * arena in zeroed chunks. It accepts only RFC 8259 JSON within the depth
 * limit, and gives up (-1) on anything else; the caller then rewinds the
 * arena and decodes with the token walk, which words the error. Line and
 * column of a node are those the token walk gives: columns count characters,
 * and multi-byte characters can only be inside strings (cont counts their
 * continuation bytes since the start of the line). */

#define FAST_PAD 16   /* readable bytes after the copy's terminating NUL */
#define NODE_CHUNK 32

struct fast {
    struct oh_arena *a;
    char *b;          /* the copy, NUL-terminated, FAST_PAD more bytes */
    size_t len, pos;
    size_t line_start, cont;
    uint32_t line;
    size_t max_depth;
    struct oh_node *nodes; /* the current chunk */
    size_t nleft;
};

static inline struct oh_node *fnode(struct fast *f, enum oh_node_type t)
{
    struct oh_node *n;
    if (!f->nleft) {
        if (!(f->nodes = oh_arena_try_alloc(f->a, NODE_CHUNK * sizeof(*n))))
            return NULL;
        memset(f->nodes, 0, NODE_CHUNK * sizeof(*n));
        f->nleft = NODE_CHUNK;
    }
    n = f->nodes++;
    f->nleft--;
    n->type = t;
    n->line = f->line;
    n->col = (uint32_t)(f->pos - f->line_start - f->cont + 1);
    return n;
}

static inline void fws(struct fast *f)
{
    for (;;) {
        char ch = f->b[f->pos];
        if ((unsigned char)ch > ' ')
            return;
        if (ch == ' ' || ch == '\t' || ch == '\r') {
            f->pos++;
        } else if (ch == '\n') {
            f->pos++;
            f->line++;
            f->line_start = f->pos;
            f->cont = 0;
        } else {
            return;
        }
    }
}

/* The rest of a string from p (a backslash, a control character or the
 * end of the input), unescaped in place from w = p on. */
static __attribute__((noinline)) int fstring_slow(struct fast *f, size_t start, size_t p, int hi,
                                                  const char **out, uint32_t *outlen)
{
    char *b = f->b;
    size_t w = p;

    while (b[p] != '"') {
        unsigned char ch = (unsigned char)b[p];
        if (ch != '\\') {
            if (ch < 0x20)
                return -1; /* a control character, or the end of the input */
            if (ch >= 0x80) {
                hi = 1;
                f->cont += (ch & 0xC0) == 0x80;
            }
            b[w++] = (char)ch;
            p++;
            continue;
        }
        switch (b[p + 1]) {
        case '"': b[w++] = '"'; break;
        case '\\': b[w++] = '\\'; break;
        case '/': b[w++] = '/'; break;
        case 'b': b[w++] = '\b'; break;
        case 'f': b[w++] = '\f'; break;
        case 'n': b[w++] = '\n'; break;
        case 'r': b[w++] = '\r'; break;
        case 't': b[w++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(b + p + 2, 4, &cp) < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (b[p + 6] != '\\' || b[p + 7] != 'u' || hex4(b + p + 8, 4, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            w += put_utf8(b + w, cp);
            p += 6;
            continue;
        }
        default:
            return -1;
        }
        p += 2;
    }
    b[w] = '\0';
    if (hi && oh_utf8_check(b + start, w - start) != 0)
        return -1;
    *out = b + start;
    *outlen = (uint32_t)(w - start);
    f->pos = p + 1;
    return 0;
}

static inline unsigned count_bits(unsigned x)
{
    unsigned n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* The string whose opening quote is at f->pos; leaves f->pos after it. */
static inline __attribute__((always_inline)) int fstring(struct fast *f, const char **out,
                                                         uint32_t *outlen)
{
    char *b = f->b;
    size_t start = f->pos + 1, p = start;
    int hi = 0;

#ifdef __SSE2__
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1F);
    for (;;) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + p));
        unsigned stop = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                         _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl)));
        unsigned high = (unsigned)_mm_movemask_epi8(x);
        unsigned before = stop ? (stop & (0u - stop)) - 1u : 0xFFFFu;
        if (__builtin_expect((high & before) != 0, 0)) {
            const __m128i cm = _mm_set1_epi8((char)0xC0), cv = _mm_set1_epi8((char)0x80);
            hi = 1;
            f->cont += count_bits((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(x, cm), cv)) &
                                  before);
        }
        if (stop) {
            p += (size_t)__builtin_ctz(stop);
            break;
        }
        p += 16;
    }
#else
    for (;; p++) {
        unsigned char ch = (unsigned char)b[p];
        if (ch == '"' || ch == '\\' || ch < 0x20)
            break;
        if (ch >= 0x80) {
            hi = 1;
            f->cont += (ch & 0xC0) == 0x80;
        }
    }
#endif
    if (__builtin_expect(b[p] != '"', 0))
        return fstring_slow(f, start, p, hi, out, outlen);
    b[p] = '\0';
    if (hi && oh_utf8_check(b + start, p - start) != 0)
        return -1;
    *out = b + start;
    *outlen = (uint32_t)(p - start);
    f->pos = p + 1;
    return 0;
}

static inline int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* true, false, null or a number at f->pos, then a delimiter. */
static int fprim(struct fast *f, struct oh_node **out)
{
    const char *b = f->b;
    size_t s = f->pos, p = s;
    enum oh_node_type t = OH_NODE_NUMBER;
    struct oh_node *n;
    char ch = b[p], *lex;

    if (ch == 't' && memcmp(b + p, "true", 4) == 0) {
        t = OH_NODE_BOOL;
        p += 4;
    } else if (ch == 'f' && memcmp(b + p, "false", 5) == 0) {
        t = OH_NODE_BOOL;
        p += 5;
    } else if (ch == 'n' && memcmp(b + p, "null", 4) == 0) {
        t = OH_NODE_NULL;
        p += 4;
    } else {
        if (b[p] == '-')
            p++;
        if (b[p] == '0')
            p++;
        else if (b[p] >= '1' && b[p] <= '9')
            while (is_digit(b[++p]))
                ;
        else
            return -1;
        if (b[p] == '.') {
            if (!is_digit(b[++p]))
                return -1;
            while (is_digit(b[++p]))
                ;
        }
        if (b[p] == 'e' || b[p] == 'E') {
            p++;
            if (b[p] == '+' || b[p] == '-')
                p++;
            if (!is_digit(b[p]))
                return -1;
            while (is_digit(b[++p]))
                ;
        }
    }
    ch = b[p];
    if (!(ch == ',' || ch == ']' || ch == '}' || is_ws(ch)))
        return -1;
    if (!(n = fnode(f, t)))
        return -1;
    if (t != OH_NODE_NULL) {
        if (!(lex = oh_arena_try_alloc(f->a, p - s + 1)))
            return -1;
        memcpy(lex, b + s, p - s);
        lex[p - s] = '\0';
        n->s = lex;
        n->len = (uint32_t)(p - s);
    }
    f->pos = p;
    *out = n;
    return 0;
}

static int fvalue(struct fast *f, size_t depth, struct oh_node **out);

/* A child value: scalars here, containers through fvalue. */
static inline int fchild(struct fast *f, size_t depth, struct oh_node **out)
{
    char ch = f->b[f->pos];
    struct oh_node *n;

    if (ch == '"') {
        if (!(n = fnode(f, OH_NODE_STRING)) || fstring(f, &n->s, &n->len) < 0)
            return -1;
        *out = n;
        return 0;
    }
    if (ch != '{' && ch != '[')
        return fprim(f, out);
    return fvalue(f, depth, out);
}

static int fvalue(struct fast *f, size_t depth, struct oh_node **out)
{
    char ch = f->b[f->pos];
    struct oh_node *n, *child;

    if (ch != '{' && ch != '[')
        return fchild(f, depth, out);
    if (depth >= f->max_depth ||
        !(n = fnode(f, ch == '{' ? OH_NODE_OBJECT : OH_NODE_ARRAY)))
        return -1;
    f->pos++;
    fws(f);
    if (ch == '[' && f->b[f->pos] != ']') {
        for (;;) {
            if (fchild(f, depth + 1, &child) < 0)
                return -1;
            oh_node_append(n, child);
            fws(f);
            if (f->b[f->pos] == ']')
                break;
            if (f->b[f->pos] != ',')
                return -1;
            f->pos++;
            fws(f);
        }
    } else if (ch == '{' && f->b[f->pos] != '}') {
        for (;;) {
            const char *key;
            uint32_t kl;
            if (f->b[f->pos] != '"' || fstring(f, &key, &kl) < 0)
                return -1;
            fws(f);
            if (f->b[f->pos] != ':')
                return -1;
            f->pos++;
            fws(f);
            if (fchild(f, depth + 1, &child) < 0)
                return -1;
            child->key = key;
            child->key_len = kl;
            oh_node_append(n, child);
            fws(f);
            if (f->b[f->pos] == '}')
                break;
            if (f->b[f->pos] != ',')
                return -1;
            f->pos++;
            fws(f);
        }
    }
    f->pos++; /* the closing bracket */
    *out = n;
    return 0;
}

/* 0 and the tree, or -1: decode with the token walk instead. */
static int fast_decode(struct oh_arena *a, const char *data, size_t len, size_t max_depth,
                       struct oh_node **out)
{
    struct fast f = {.a = a, .len = len, .line = 1, .max_depth = max_depth};

    if (!(f.b = oh_arena_try_alloc(a, len + 1 + FAST_PAD)))
        return -1;
    memcpy(f.b, data, len);
    memset(f.b + len, 0, 1 + FAST_PAD);
    fws(&f);
    if (fvalue(&f, 0, out) < 0)
        return -1;
    fws(&f);
    return f.pos == len ? 0 : -1;
}

static int decode(struct oh_arena *a, const char *data, size_t len, const struct oh_format_opts *o,
                  struct oh_node **out, struct oh_err *err)
{
    struct jctx c = {.a = a, .js = data, .len = len, .line = 1, .col = 1, .err = err};
    jsmn_parser p;
    struct oh_arena_mark mark;
    size_t cap, off = 0, end = 0;
    int r, i = 0, rc = 0;

    c.max_depth = o && o->max_depth ? o->max_depth : OH_FORMAT_DEFAULT_DEPTH;
    if (o && o->max_size && len > o->max_size)
        return oh_err_set(err, OH_ETOOBIG, "json: document of %zu bytes is over the limit of %zu",
                          len, o->max_size);
    if (len > INT32_MAX)
        return oh_err_set(err, OH_ETOOBIG, "json: document of %zu bytes is too large", len);
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3; /* a UTF-8 BOM is tolerated */
        len -= 3;
        c.js = data;
        c.len = len;
    }
    /* a NUL byte ends jsmn's scan: it is then reported as an unexpected character */
    while (off < len && is_ws(data[off]))
        off++;
    if (off == len)
        return oh_err_set(err, OH_EINVAL, "json: empty document");
    c.pos = 0;

    if (data[off] != '{' && data[off] != '[' && data[off] != '"') {
        /* a bare top-level scalar: jsmn's strict mode wants a delimiter */
        end = off;
        while (end < len && !is_ws(data[end]))
            end++;
        if ((rc = gap(&c, end, len, 0)) < 0)
            return rc;
        advance(&c, off);
        if ((rc = primitive(&c, off, end, out)) < 0)
            return rc;
        (*out)->line = c.line;
        (*out)->col = c.col;
        return 0;
    }

    oh_arena_mark(a, &mark);
    if (fast_decode(a, data, len, c.max_depth, out) == 0)
        return 0;
    oh_arena_rewind(a, &mark);

    cap = len / 6 + 16;
    jsmn_init(&p);
    for (;;) {
        jsmntok_t *nt = realloc(c.t, cap * sizeof(*c.t));
        if (!nt) {
            rc = oh_err_set(err, OH_ERROR, "json: out of memory");
            goto done;
        }
        c.t = nt;
        r = jsmn_parse(&p, data, len, c.t, (unsigned)cap);
        if (r != JSMN_ERROR_NOMEM)
            break;
        cap *= 2;
    }
    if (r == JSMN_ERROR_PART) {
        rc = jerr(&c, len, "unexpected end of input");
        goto done;
    }
    if (r < 0) {
        rc = jerr(&c, p.pos, "syntax error");
        goto done;
    }
    c.ntok = r;
    if ((rc = value(&c, &i, 0, out, &end)) < 0)
        goto done;
    if (i != c.ntok) {
        rc = jerr(&c, tok_begin(&c.t[i]), "more than one value in document");
        goto done;
    }
    if ((rc = gap(&c, end, len, 0)) < 0)
        goto done;
done:
    free(c.t);
    return rc;
}

static int encode(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                  struct oh_err *err)
{
    const char *pretty = oh_format_opt(o, "pretty");
    if (oh_node_write_json(root, f, pretty && strcmp(pretty, "yes") == 0) < 0 || fputc('\n', f) == EOF)
        return oh_err_set(err, OH_ERROR, "json: write failed");
    return 0;
}

static int check(const struct oh_format_opts *o, struct oh_err *err)
{
    static const char *const keys[] = {"pretty", NULL};
    const char *v = oh_format_opt(o, "pretty");
    if (v && strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
        return oh_err_set(err, OH_EINVAL, "json: pretty must be yes or no, not \"%s\"", v);
    return oh_format_check_keys(o, keys, "json", err);
}

const struct oh_format oh_format_json = {
    .name = "json",
    .decode = decode,
    .encode = encode,
    .check = check,
};
