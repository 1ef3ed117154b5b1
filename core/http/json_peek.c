/*
 * json_peek.c — check a JSON object and read a few top-level values
 * without building a tree (see http.h, oh_json_peek).
 *
 * Webhook handlers need two fields of a signed order (its id and version)
 * and a yes/no on "is this a JSON object". A full parse (jansson) of a
 * 6 KiB order allocated a few hundred nodes and was a quarter of a
 * webhook's CPU time; this is one pass over the bytes with no allocation.
 *
 * What it accepts is what json_loadb(buf, len, 0) accepts for an object:
 * RFC 8259 structure, strings with valid escapes (surrogates paired,
 * \u0000 refused as jansson refuses it) and well-formed UTF-8 (no
 * overlongs, no surrogates, nothing past U+10FFFF), no control characters
 * in strings, numbers in the RFC grammar (integers within a long long,
 * reals within a double), true/false/null, nothing but whitespace after
 * the object, nesting at most OH_JSON_PEEK_DEPTH deep (jansson's limit).
 */
#include "http.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OH_JSON_PEEK_DEPTH 2048 /* as jansson's parser */

struct pk {
    const unsigned char *p, *e;
};

static void ws(struct pk *s)
{
    while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, const unsigned char *e, unsigned *out)
{
    unsigned v = 0;

    if (e - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at s->p (a byte >= 0x80). */
static int utf8(struct pk *s)
{
    const unsigned char *p = s->p;
    unsigned c = *p, cp;
    int n;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07;
    } else {
        return -1;
    }
    if (s->e - p <= n)
        return -1;
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    s->p += n + 1;
    return 0;
}

/* A string at s->p ('"'); *esc = 1 when it holds escapes. */
static int string(struct pk *s, int *esc)
{
    if (s->p >= s->e || *s->p != '"')
        return -1;
    s->p++;
    while (s->p < s->e) {
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c >= 0x80) {
            if (utf8(s) < 0)
                return -1;
            continue;
        }
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (esc)
            *esc = 1;
        if (s->e - s->p < 2)
            return -1;
        c = s->p[1];
        if (c == 'u') {
            unsigned u, lo;
            if (hex4(s->p + 2, s->e, &u) < 0 || u == 0)
                return -1;
            s->p += 6;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return -1;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (s->e - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    hex4(s->p + 2, s->e, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                s->p += 6;
            }
            continue;
        }
        if (!strchr("\"\\/bfnrt", (int)c) || c == '\0')
            return -1;
        s->p += 2;
    }
    return -1;
}

static int digits(struct pk *s)
{
    const unsigned char *b = s->p;
    while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b ? 0 : -1;
}

/* Like jansson: an integer must fit a long long, a real must not
 * overflow a double. */
static int number_range(const unsigned char *b, size_t n, int real)
{
    char tmp[128], *buf = tmp, *end;
    int rc = 0;

    if (n >= sizeof(tmp) && !(buf = malloc(n + 1)))
        abort();
    memcpy(buf, b, n);
    buf[n] = '\0';
    errno = 0;
    if (real) {
        double d = strtod(buf, &end);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
            rc = -1;
    } else {
        (void)strtoll(buf, &end, 10);
        if (errno == ERANGE)
            rc = -1;
    }
    if (buf != tmp)
        free(buf);
    return rc;
}

static int number(struct pk *s)
{
    const unsigned char *b = s->p;
    int real = 0;

    if (s->p < s->e && *s->p == '-')
        s->p++;
    if (s->p < s->e && *s->p == '0')
        s->p++;
    else if (digits(s) < 0)
        return -1;
    if (s->p < s->e && *s->p == '.') {
        s->p++;
        real = 1;
        if (digits(s) < 0)
            return -1;
    }
    if (s->p < s->e && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        real = 1;
        if (s->p < s->e && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (digits(s) < 0)
            return -1;
    }
    return number_range(b, (size_t)(s->p - b), real);
}

static int literal(struct pk *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->e - s->p) < n || memcmp(s->p, w, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

struct want {
    const char *const *keys;
    size_t n;
    const char **vals;
    size_t *lens;
};

static int value(struct pk *s, int depth, const struct want *w);

/* An object at s->p; w (top level only) collects values. */
static int object(struct pk *s, int depth, const struct want *w)
{
    if (depth > OH_JSON_PEEK_DEPTH)
        return -1;
    s->p++; /* '{' */
    ws(s);
    if (s->p < s->e && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *kb, *ke, *vb;
        int esc = 0;
        ws(s);
        kb = s->p;
        if (string(s, &esc) < 0)
            return -1;
        ke = s->p; /* after the closing quote */
        ws(s);
        if (s->p >= s->e || *s->p != ':')
            return -1;
        s->p++;
        ws(s);
        vb = s->p;
        if (value(s, depth + 1, NULL) < 0)
            return -1;
        /* A key written with escapes never matches (ours have none). */
        for (size_t i = 0; w && !esc && i < w->n; i++) {
            size_t wl = strlen(w->keys[i]);
            if ((size_t)(ke - kb) == wl + 2 && memcmp(kb + 1, w->keys[i], wl) == 0) {
                w->vals[i] = (const char *)vb; /* the last of repeated keys wins */
                w->lens[i] = (size_t)(s->p - vb);
            }
        }
        ws(s);
        if (s->p < s->e && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->e && *s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

static int array(struct pk *s, int depth)
{
    if (depth > OH_JSON_PEEK_DEPTH)
        return -1;
    s->p++; /* '[' */
    ws(s);
    if (s->p < s->e && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        ws(s);
        if (value(s, depth + 1, NULL) < 0)
            return -1;
        ws(s);
        if (s->p < s->e && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->e && *s->p == ']') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

static int value(struct pk *s, int depth, const struct want *w)
{
    ws(s);
    if (s->p >= s->e)
        return -1;
    switch (*s->p) {
    case '{':
        return object(s, depth, w);
    case '[':
        return array(s, depth);
    case '"':
        return string(s, NULL);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

int oh_json_peek(const char *buf, size_t len, const char *const *keys, size_t nkeys,
                 const char **vals, size_t *lens, struct oh_err *err)
{
    struct pk s = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    struct want w = {keys, nkeys, vals, lens};

    for (size_t i = 0; i < nkeys; i++) {
        vals[i] = NULL;
        lens[i] = 0;
    }
    ws(&s);
    if (s.p >= s.e || *s.p != '{')
        return oh_err_set(err, OH_EINVAL, "not a JSON object");
    if (object(&s, 1, &w) < 0) {
        for (size_t i = 0; i < nkeys; i++) {
            vals[i] = NULL;
            lens[i] = 0;
        }
        return oh_err_set(err, OH_EINVAL, "malformed JSON at byte %zu",
                          (size_t)(s.p - (const unsigned char *)buf));
    }
    ws(&s);
    if (s.p != s.e) {
        for (size_t i = 0; i < nkeys; i++) {
            vals[i] = NULL;
            lens[i] = 0;
        }
        return oh_err_set(err, OH_EINVAL, "bytes after the JSON object at byte %zu",
                          (size_t)(s.p - (const unsigned char *)buf));
    }
    return 0;
}

int oh_json_peek_int(const char *v, size_t len, long long *out)
{
    char tmp[32];
    char *end;
    size_t i = 0;

    *out = 0;
    if (!v || len == 0 || len >= sizeof(tmp))
        return OH_EINVAL;
    if (v[0] == '-')
        i = 1;
    if (i == len)
        return OH_EINVAL;
    for (; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return OH_EINVAL; /* a fraction or exponent makes it a real */
    memcpy(tmp, v, len);
    tmp[len] = '\0';
    errno = 0;
    *out = strtoll(tmp, &end, 10);
    if (errno == ERANGE || *end)
        return OH_EINVAL;
    return 0;
}

int oh_json_peek_str(const char *v, size_t len, char *out, size_t n)
{
    json_t *j = NULL;
    const char *s;
    size_t sl;
    int rc = 0;

    if (n)
        out[0] = '\0';
    if (!v || len < 2 || v[0] != '"' || v[len - 1] != '"')
        return OH_EINVAL;
    if (!memchr(v, '\\', len)) {
        s = v + 1;
        sl = len - 2;
    } else {
        /* Escapes are rare in these fields: let jansson decode them. */
        if (!(j = json_loadb(v, len, JSON_DECODE_ANY, NULL)) || !json_is_string(j)) {
            rc = OH_EINVAL;
            goto done;
        }
        s = json_string_value(j);
        sl = json_string_length(j);
        if (memchr(s, '\0', sl)) {
            rc = OH_EINVAL;
            goto done;
        }
    }
    if (sl + 1 > n) {
        rc = OH_ETOOBIG;
        goto done;
    }
    memcpy(out, s, sl);
    out[sl] = '\0';
done:
    json_decref(j);
    return rc;
}
