/*
 * canonical_hash.c — oh_canonical_hash (canonical.h): the SHA-256, as hex,
 * of the order's JSON text with sorted keys, compact, ASCII only.
 *
 * Promises:
 *   - The text hashed is byte for byte what jansson's json_dumps(order,
 *     JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII) writes (keys ordered
 *     bytewise, shorter first on a common prefix; '"', '\\' and control
 *     characters escaped, \b \f \n \r \t by name and the rest as \u00XX;
 *     anything past U+007F as \uXXXX, upper-case hex, surrogate pairs past
 *     the BMP; '/' not escaped). Hashes stored by earlier versions stay
 *     valid, so a replay is still recognised as UNCHANGED. Reals, and
 *     values nested deeper than MAX_DEPTH, are written by json_dumps itself.
 *   - The text is fed to the digest through a small stack buffer as it is
 *     produced: no copy of the whole document, no allocation for objects of
 *     up to SORT_STACK keys, and the digest is looked up once per process.
 *   - Returns -1 (out left empty) where json_dumps would fail: a string
 *     that is not valid UTF-8.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"

#define OUT_BUF 4096
#define SORT_STACK 64
#define MAX_DEPTH 64

struct out {
    EVP_MD_CTX *ctx;
    size_t n;
    int failed;
    unsigned char buf[OUT_BUF];
};

static void flush(struct out *o)
{
    if (o->n && EVP_DigestUpdate(o->ctx, o->buf, o->n) != 1)
        o->failed = 1;
    o->n = 0;
}

static void put(struct out *o, const void *p, size_t len)
{
    const unsigned char *s = p;

    while (len > 0) {
        size_t room = OUT_BUF - o->n, k = len < room ? len : room;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        len -= k;
        if (o->n == OUT_BUF)
            flush(o);
    }
}

static void putc1(struct out *o, char c)
{
    if (o->n == OUT_BUF)
        flush(o);
    o->buf[o->n++] = (unsigned char)c;
}

/* Decodes one UTF-8 sequence as jansson does (no overlongs, no surrogates,
 * nothing past U+10FFFF). Returns its length, 0 when invalid. */
static size_t utf8_one(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0], v;
    size_t n;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static void put_u(struct out *o, unsigned v)
{
    static const char hex[] = "0123456789ABCDEF";
    char seq[6] = { '\\', 'u', hex[(v >> 12) & 15], hex[(v >> 8) & 15], hex[(v >> 4) & 15],
                    hex[v & 15] };
    put(o, seq, 6);
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Non-zero when one of the 8 bytes of w needs more than copying: a control
 * character, '"', '\\' or a byte past 0x7F. */
static uint64_t needs_escape(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

    /* (x - ONES * n) & ~x & HIGHS: some byte of x is below n (n <= 0x80) */
    return (((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | w) & HIGHS;
}

static int put_string(struct out *o, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len, *run = s;

    putc1(o, '"');
    while (s < end) {
        unsigned cp;
        size_t k;
        uint64_t w;
        if (end - s >= 8 && (memcpy(&w, s, 8), !needs_escape(w))) {
            s += 8;
            continue;
        }
        if (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\') {
            s++;
            continue;
        }
        put(o, run, (size_t)(s - run));
        if (!(k = utf8_one(s, (size_t)(end - s), &cp)))
            return -1;
        switch (cp) {
        case '"': put(o, "\\\"", 2); break;
        case '\\': put(o, "\\\\", 2); break;
        case '\b': put(o, "\\b", 2); break;
        case '\f': put(o, "\\f", 2); break;
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        default:
            if (cp < 0x10000) {
                put_u(o, cp);
            } else {
                cp -= 0x10000;
                put_u(o, 0xD800 | ((cp & 0xFFC00) >> 10));
                put_u(o, 0xDC00 | (cp & 0x3FF));
            }
        }
        s += k;
        run = s;
    }
    put(o, run, (size_t)(s - run));
    putc1(o, '"');
    return 0;
}

/* What json_dumps writes for v (reals, and subtrees past MAX_DEPTH). */
static int put_dumped(struct out *o, const json_t *v)
{
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);

    if (!s)
        return -1;
    put(o, s, strlen(s));
    free(s);
    return 0;
}

struct key {
    const char *s;
    size_t len;
    const json_t *v;
};

static int key_cmp(const struct key *a, const struct key *b)
{
    size_t m = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->s, b->s, m);

    if (r)
        return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int key_qcmp(const void *a, const void *b)
{
    return key_cmp(a, b);
}

static int put_value(struct out *o, const json_t *v, int depth);

static int put_object(struct out *o, const json_t *v, int depth)
{
    struct key stack[SORT_STACK], *keys = stack;
    size_t n = json_object_size(v), i = 0;
    const char *k;
    size_t klen;
    json_t *x;
    int rc = 0;

    if (n > SORT_STACK && !(keys = malloc(n * sizeof(*keys))))
        return -1;
    json_object_keylen_foreach((json_t *)v, k, klen, x) {
        if (i < n)
            keys[i++] = (struct key){ k, klen, x }; /* no lookup again after sorting */
    }
    n = i;
    if (n > SORT_STACK) {
        qsort(keys, n, sizeof(*keys), key_qcmp);
    } else {
        for (size_t a = 1; a < n; a++) { /* insertion sort: a handful of keys */
            struct key t = keys[a];
            size_t b = a;
            for (; b > 0 && key_cmp(&keys[b - 1], &t) > 0; b--)
                keys[b] = keys[b - 1];
            keys[b] = t;
        }
    }
    putc1(o, '{');
    for (i = 0; i < n && rc == 0; i++) {
        if (i)
            putc1(o, ',');
        if ((rc = put_string(o, keys[i].s, keys[i].len)) < 0)
            break;
        putc1(o, ':');
        rc = put_value(o, keys[i].v, depth + 1);
    }
    putc1(o, '}');
    if (keys != stack)
        free(keys);
    return rc;
}

static int put_value(struct out *o, const json_t *v, int depth)
{
    char num[32];
    int len;

    if (depth > MAX_DEPTH)
        return put_dumped(o, v);
    switch (json_typeof(v)) {
    case JSON_OBJECT: return put_object(o, v, depth);
    case JSON_ARRAY:
        putc1(o, '[');
        for (size_t i = 0, n = json_array_size(v); i < n; i++) {
            if (i)
                putc1(o, ',');
            if (put_value(o, json_array_get(v, i), depth + 1) < 0)
                return -1;
        }
        putc1(o, ']');
        return 0;
    case JSON_STRING: return put_string(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        len = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(o, num, (size_t)len);
        return 0;
    case JSON_TRUE: put(o, "true", 4); return 0;
    case JSON_FALSE: put(o, "false", 5); return 0;
    case JSON_NULL: put(o, "null", 4); return 0;
    case JSON_REAL:
    default: return put_dumped(o, v);
    }
}

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256; /* fetched once; lives as long as the process */

static void md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int oh_canonical_hash(const json_t *order, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    struct out ob, *o = &ob;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;

    out[0] = '\0';
    pthread_once(&md_once, md_init);
    if (!order || !md_sha256)
        return -1;
    o->n = 0;
    o->failed = 0;
    if (!(o->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(o->ctx, md_sha256, NULL) != 1)
        goto done;
    if (put_value(o, order, 0) < 0)
        goto done;
    flush(o);
    if (o->failed || EVP_DigestFinal_ex(o->ctx, md, &mdlen) != 1 || mdlen != 32)
        goto done;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    rc = 0;
done:
    EVP_MD_CTX_free(o->ctx);
    return rc;
}
