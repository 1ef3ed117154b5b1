/*
 * map_out.c — writes an evaluated record as compact JSON text without
 * building jansson values.
 *
 * Promise: the text is byte for byte what json_dumps(record, JSON_COMPACT)
 * gives for the jansson record oh_map_run hands out (map_run.c: to_json and
 * record_json), so oh_map_run_text and oh_map_run print the same lines:
 *   - `channel` first when the mapping targets a kind and sets none;
 *   - a number node whose whole text is a 64-bit integer is written as
 *     jansson writes that integer (`-0` -> `0`), any other number as a
 *     string;
 *   - strings escaped as jansson does (\" \\ \b \f \n \r \t, other control
 *     characters as \u00XX with upper-case hex, everything else as is);
 *   - a string or key that is not valid UTF-8 leaves its member or element
 *     out, as jansson refuses it.
 * An object with the same key twice (possible in values copied from the
 * input) is the one case not written here: the caller gets OH_EAGAIN and
 * writes the record through jansson, which keeps the first place and the
 * last value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/map_int.h"

static void grow(struct map_text *t, size_t need)
{
    size_t cap = t->cap ? t->cap : 4096;
    char *p;
    while (cap - t->len < need)
        cap *= 2;
    if (!(p = realloc(t->p, cap))) {
        fprintf(stderr, "orderhub: out of memory (record text of %zu bytes)\n", cap);
        abort();
    }
    t->p = p;
    t->cap = cap;
}

static inline void put(struct map_text *t, const char *s, size_t n)
{
    if (t->cap - t->len < n + 1)
        grow(t, n + 1);
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static inline void putc1(struct map_text *t, char c)
{
    if (t->cap - t->len < 2)
        grow(t, 2);
    t->p[t->len++] = c;
}

/* 1 if jansson takes s as a string (valid UTF-8; NUL bytes are fine). */
static int utf8_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return oh_utf8_check(s + i, n - i) == 0;
    return 1;
}

/* 1: escaped; 2: a byte of a multi-byte character (checked as UTF-8). */
static const unsigned char special[256] = {
    [0x00 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xFF] = 2,
};

/* Writes s as a JSON string; -1 (and something written, for the caller to
 * take back) if s is not UTF-8. */
static int put_string(struct map_text *t, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    int hi = 0;

    if (t->cap - t->len < n + 3)
        grow(t, n + 3);
    t->p[t->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c;
        /* 8 bytes at a time while none needs a look */
        while (i + 8 <= n) {
            const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
            uint64_t w, x;
            memcpy(&w, s + i, 8);
            x = ((w - ones * 0x20) & ~w) | (((w ^ (ones * '"')) - ones) & ~(w ^ (ones * '"'))) |
                (((w ^ (ones * '\\')) - ones) & ~(w ^ (ones * '\\'))) | w;
            if (x & highs)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        c = (unsigned char)s[i];
        char esc[6];
        size_t el = 2;
        if (!special[c])
            continue;
        if (special[c] == 2) {
            hi = 1;
            continue;
        }
        put(t, s + run, i - run);
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        put(t, esc, el);
    }
    if (hi && oh_utf8_check(s, n) != 0)
        return -1;
    put(t, s + run, n - run);
    putc1(t, '"');
    return 0;
}

/* A number node as jansson has it: 1 and the integer's text, or 0 (a string). */
static int int_text(const struct oh_node *n, char tmp[32], const char **out, size_t *len)
{
    const char *s = n->s, *end;
    size_t i = s[0] == '-', d;
    long long x;

    if (s[n->len] == '\0' && i < n->len && s[i] >= '1' && s[i] <= '9' && n->len - i <= 18) {
        for (d = i; d < n->len && s[d] >= '0' && s[d] <= '9'; d++)
            ;
        if (d == n->len) {
            *out = s;
            *len = n->len;
            return 1;
        }
    }
    errno = 0;
    x = strtoll(s, (char **)&end, 10);
    if (*end != '\0' || errno != 0 || end == s)
        return 0;
    *len = (size_t)snprintf(tmp, 32, "%lld", x);
    *out = tmp;
    return 1;
}

/* 0 when jansson would refuse the value (a string that is not UTF-8). */
static int value_ok(const struct oh_node *n)
{
    char tmp[32];
    const char *s;
    size_t l;
    if (n->type == OH_NODE_STRING)
        return utf8_ok(n->s, n->len);
    if (n->type == OH_NODE_NUMBER && !int_text(n, tmp, &s, &l))
        return utf8_ok(n->s, n->len);
    return 1;
}

static int member_ok(const struct oh_node *c)
{
    return c->key && utf8_ok(c->key, c->key_len) && value_ok(c);
}

/* Writes n; -1 when jansson would refuse it (a string that is not UTF-8),
 * OH_EAGAIN for an object with a key twice. */
static int write_node(struct map_text *t, const struct oh_node *n)
{
    char tmp[32];
    const char *s;
    size_t l, mark;
    int first = 1, rc;

    switch (n->type) {
    case OH_NODE_NULL:
        put(t, "null", 4);
        return 0;
    case OH_NODE_BOOL:
        if (n->s[0] == 't')
            put(t, "true", 4);
        else
            put(t, "false", 5);
        return 0;
    case OH_NODE_NUMBER:
        if (!int_text(n, tmp, &s, &l))
            return put_string(t, n->s, n->len);
        put(t, s, l);
        return 0;
    case OH_NODE_STRING:
        return put_string(t, n->s, n->len);
    case OH_NODE_ARRAY:
        putc1(t, '[');
        for (const struct oh_node *c = n->first; c; c = c->next) {
            mark = t->len;
            if (!first)
                putc1(t, ',');
            if ((rc = write_node(t, c)) == OH_EAGAIN)
                return rc;
            if (rc < 0)
                t->len = mark; /* left out, as jansson does */
            else
                first = 0;
        }
        putc1(t, ']');
        return 0;
    case OH_NODE_OBJECT:
        putc1(t, '{');
        for (const struct oh_node *c = n->first; c; c = c->next) {
            mark = t->len;
            if (!c->key)
                continue;
            if (!first)
                putc1(t, ',');
            if (put_string(t, c->key, c->key_len) < 0) {
                t->len = mark;
                continue;
            }
            putc1(t, ':');
            if ((rc = write_node(t, c)) == OH_EAGAIN)
                return rc;
            if (rc < 0) {
                t->len = mark;
                continue;
            }
            first = 0;
            for (const struct oh_node *d = n->first; d != c; d = d->next)
                if (d->key_len == c->key_len && d->key && memcmp(d->key, c->key, c->key_len) == 0 &&
                    member_ok(d))
                    return OH_EAGAIN;
        }
        putc1(t, '}');
        return 0;
    }
    return 0;
}

int oh_map_write_record(const struct map_ev *ev, const struct oh_node *o, struct map_text *t)
{
    const char *ch = ev->ctx ? ev->ctx->channel : NULL;
    int rc;

    t->len = 0;
    if (t->cap < 2)
        grow(t, 2);
    if (ev->m->to_is_kind && o->type == OH_NODE_OBJECT && ch && utf8_ok(ch, strlen(ch))) {
        int has = 0;
        for (const struct oh_node *c = o->first; c && !has; c = c->next)
            has = c->key_len == 7 && c->key && memcmp(c->key, "channel", 7) == 0 && member_ok(c);
        if (!has) {
            size_t mark;
            put(t, "{\"channel\":", 11);
            put_string(t, ch, strlen(ch));
            mark = t->len;
            if ((rc = write_node(t, o)) < 0)
                return rc;
            /* the record's own members follow: "{...}" -> ",..." */
            if (t->len - mark == 2) {
                t->len = mark;
                putc1(t, '}');
            } else {
                t->p[mark] = ',';
            }
            t->p[t->len] = '\0';
            return 0;
        }
    }
    if ((rc = write_node(t, o)) < 0)
        return rc;
    t->p[t->len] = '\0';
    return 0;
}
