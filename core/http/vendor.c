/*
 * vendor.c — small helpers for reading vendor API answers (see http.h):
 * ISO-8601 timestamps with offsets, and a byte-exact splitter for JSON
 * arrays so that a connector can spool each order of a page exactly as
 * the vendor sent it (spool invariant S5 then holds per order).
 *
 * The splitter is a structural scanner, not a parser: it tracks strings
 * (with escapes) and nesting and reports element boundaries. It never
 * allocates. Each element is validated later by whoever parses it.
 */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int oh_http_parse_time(const char *s, int64_t *out_ms)
{
    struct tm tm;
    int Y, M, D, h, m, sec, ms = 0, off = 0;
    const char *p;

    *out_ms = 0;
    if (!s || strlen(s) < 19 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
        s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return OH_EINVAL;
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return OH_EINVAL;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh))
            return OH_EINVAL;
        if (p[3] == ':') {
            if (digits(p + 4, 2, &om))
                return OH_EINVAL;
            off = oh * 60 + om;
            off = *p == '-' ? -off : off;
            p += 6;
        } else {
            if (digits(p + 3, 2, &om))
                return OH_EINVAL;
            off = oh * 60 + om;
            off = *p == '-' ? -off : off;
            p += 5;
        }
    }
    if (*p)
        return OH_EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return OH_EINVAL;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    *out_ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + ms;
    return 0;
}

struct scan {
    const char *p, *e;
};

static void ws(struct scan *s)
{
    while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Skips a string starting at '"'. */
static int skip_string(struct scan *s)
{
    if (s->p >= s->e || *s->p != '"')
        return -1;
    for (s->p++; s->p < s->e; s->p++) {
        if (*s->p == '\\') {
            s->p++;
            continue;
        }
        if (*s->p == '"') {
            s->p++;
            return 0;
        }
    }
    return -1;
}

/* Skips one value of any kind. Depth is bounded to keep the scan cheap and
 * predictable on hostile input. */
static int skip_value(struct scan *s)
{
    int depth = 0;

    ws(s);
    if (s->p >= s->e)
        return -1;
    if (*s->p == '"')
        return skip_string(s);
    if (*s->p != '{' && *s->p != '[') {
        const char *b = s->p;
        while (s->p < s->e && *s->p != ',' && *s->p != ']' && *s->p != '}' && *s->p != ' ' &&
               *s->p != '\n' && *s->p != '\r' && *s->p != '\t')
            s->p++;
        return s->p > b ? 0 : -1;
    }
    for (; s->p < s->e;) {
        char c = *s->p;
        if (c == '"') {
            if (skip_string(s) < 0)
                return -1;
            continue;
        }
        if (c == '{' || c == '[') {
            if (++depth > 512)
                return -1;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                s->p++;
                return 0;
            }
        }
        s->p++;
    }
    return -1;
}

static int each_in_array(struct scan *s, int (*cb)(const char *, size_t, void *), void *ud,
                         struct oh_err *err)
{
    int rc;

    ws(s);
    if (s->p >= s->e || *s->p != '[')
        return oh_err_set(err, OH_EINVAL, "expected a JSON array");
    s->p++;
    ws(s);
    if (s->p < s->e && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *b;
        ws(s);
        b = s->p;
        if (skip_value(s) < 0)
            return oh_err_set(err, OH_EINVAL, "malformed or truncated JSON in an array element");
        if ((rc = cb(b, (size_t)(s->p - b), ud)) != 0)
            return rc;
        ws(s);
        if (s->p < s->e && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->e && *s->p == ']') {
            s->p++;
            return 0;
        }
        return oh_err_set(err, OH_EINVAL, "malformed or truncated JSON array");
    }
}

int oh_json_each_element(const char *buf, size_t len, const char *key,
                         int (*cb)(const char *elem, size_t elen, void *ud), void *ud,
                         struct oh_err *err)
{
    struct scan s = {buf, buf + len};
    size_t klen = key ? strlen(key) : 0;
    int rc;

    if (!key) {
        if ((rc = each_in_array(&s, cb, ud, err)) != 0)
            return rc;
        ws(&s);
        return s.p == s.e ? 0 : oh_err_set(err, OH_EINVAL, "trailing bytes after JSON array");
    }
    ws(&s);
    if (s.p >= s.e || *s.p != '{')
        return oh_err_set(err, OH_EINVAL, "expected a JSON object");
    s.p++;
    for (;;) {
        const char *kb;
        int match;
        ws(&s);
        if (s.p < s.e && *s.p == '}')
            return oh_err_set(err, OH_ENOTFOUND, "no \"%s\" in the JSON object", key);
        kb = s.p;
        if (skip_string(&s) < 0)
            return oh_err_set(err, OH_EINVAL, "malformed or truncated JSON object");
        match = (size_t)(s.p - kb) == klen + 2 && memcmp(kb + 1, key, klen) == 0;
        ws(&s);
        if (s.p >= s.e || *s.p != ':')
            return oh_err_set(err, OH_EINVAL, "malformed or truncated JSON object");
        s.p++;
        if (match)
            return each_in_array(&s, cb, ud, err);
        if (skip_value(&s) < 0)
            return oh_err_set(err, OH_EINVAL, "malformed or truncated JSON object");
        ws(&s);
        if (s.p < s.e && *s.p == ',') {
            s.p++;
            continue;
        }
        return oh_err_set(err, s.p < s.e && *s.p == '}' ? OH_ENOTFOUND : OH_EINVAL,
                          "no \"%s\" array in the JSON object", key);
    }
}
