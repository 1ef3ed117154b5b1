/*
 * map_apply.c — applies the filters of a pipe (`.x | int | default(0)`) to
 * run-time values (see map_int.h; the filter table and the pure helpers are
 * in map_filters.c). Results live in the document's arena. A filter that
 * fails rejects the record through oh_map_fail, naming the document path of
 * the value and the mapping line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "canonical.h"
#include "map/map_int.h"

static const char *text(const struct val *v, size_t *len)
{
    if (v->k == V_STR || v->k == V_INT || v->k == V_NUM) {
        *len = v->len;
        return v->s;
    }
    *len = 0;
    return v->k == V_NONE ? "" : NULL;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static size_t utf8_off(const char *s, size_t n, size_t chars)
{
    size_t i = 0;
    while (i < n && chars) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars--;
    }
    return i;
}

/* --- case mapping ----------------------------------------------------------
 * Simple (one code point to one code point) lower and upper case for ASCII,
 * Latin-1, Latin Extended-A, the Latin Extended-B pairs U+0200-U+0233
 * (Romanian Ș/Ț and others), Greek and Cyrillic, as towlower/towupper give
 * them in a UTF-8 locale. Other characters, and bytes that are not UTF-8,
 * are copied unchanged. No mapping makes a character longer in UTF-8. */

/* Pairs where the upper case is even and the lower case odd (or the
 * other way round when odd_upper). */
static const struct {
    uint32_t first, last;
    int odd_upper;
} case_pairs[] = {
    {0x0100, 0x012F, 0}, {0x0132, 0x0137, 0}, {0x0139, 0x0148, 1}, {0x014A, 0x0177, 0},
    {0x0179, 0x017E, 1}, {0x0200, 0x021F, 0}, {0x0222, 0x0233, 0}, {0x03D8, 0x03EF, 0},
    {0x0460, 0x0481, 0}, {0x048A, 0x04BF, 0}, {0x04C1, 0x04CE, 1}, {0x04D0, 0x052F, 0},
};

/* Single pairs: upper, lower. */
static const uint32_t case_single[][2] = {
    {0x0178, 0x00FF}, {0x0386, 0x03AC}, {0x038C, 0x03CC}, {0x038E, 0x03CD}, {0x038F, 0x03CE},
    {0x04C0, 0x04CF},
};

static uint32_t case_map(uint32_t c, int upper)
{
    if (c < 0x80) {
        if (upper)
            return c >= 'a' && c <= 'z' ? c - 32 : c;
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    }
    /* blocks of 32 (Latin-1, Greek, Cyrillic) and 16 (Greek accented, Cyrillic Ѐ-Џ) */
    if (upper) {
        if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) ||
            (c >= 0x430 && c <= 0x44F))
            return c - 32;
        if (c >= 0x3AD && c <= 0x3AF)
            return c - 37;
        if (c >= 0x450 && c <= 0x45F)
            return c - 80;
        if (c == 0x3C2)
            return 0x3A3; /* final sigma */
        if (c == 0x131)
            return 'I'; /* dotless i */
        if (c == 0x17F)
            return 'S'; /* long s */
        if (c == 0xB5)
            return 0x39C; /* micro sign */
    } else {
        if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
            (c >= 0x410 && c <= 0x42F))
            return c + 32;
        if (c >= 0x388 && c <= 0x38A)
            return c + 37;
        if (c >= 0x400 && c <= 0x40F)
            return c + 80;
        if (c == 0x130)
            return 'i'; /* dotted I */
    }
    for (size_t i = 0; i < sizeof(case_pairs) / sizeof(case_pairs[0]); i++)
        if (c >= case_pairs[i].first && c <= case_pairs[i].last) {
            int is_upper = (int)(c & 1) == case_pairs[i].odd_upper;
            if (upper && !is_upper)
                return c - 1;
            if (!upper && is_upper)
                return c + 1;
            return c;
        }
    for (size_t i = 0; i < sizeof(case_single) / sizeof(case_single[0]); i++)
        if (c == case_single[i][upper ? 1 : 0])
            return case_single[i][upper ? 0 : 1];
    return c;
}

/* Lower- or upper-cases s into o (at least n bytes); returns the length. */
static size_t change_case(const char *s, size_t n, char *o, int upper)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;

    for (size_t i = 0; i < n;) {
        uint32_t c = u[i], m;
        size_t len = 1;
        if (c < 0x80) {
            o[w++] = (char)case_map(c, upper);
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80 && c >= 0xC2) {
            c = ((c & 0x1F) << 6) | (u[i + 1] & 0x3F);
            len = 2;
        }
        m = len == 2 ? case_map(c, upper) : c;
        if (len == 2 && m < 0x80) {
            o[w++] = (char)m;
        } else if (len == 2) {
            o[w++] = (char)(0xC0 | (m >> 6));
            o[w++] = (char)(0x80 | (m & 0x3F));
        } else {
            o[w++] = (char)u[i]; /* other characters and stray bytes as they are */
        }
        i += len;
    }
    return w;
}

static int parse_int(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i >= n || !isdigit((unsigned char)s[i]))
        return -1;
    for (; i < n && isdigit((unsigned char)s[i]); i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > (unsigned long long)INT64_MAX)
            return -1;
    }
    if (i < n && s[i] == '.') /* 2.00 is 2 */
        for (i++; i < n && s[i] == '0'; i++)
            ;
    if (i != n)
        return -1;
    *out = neg ? -(long long)v : (long long)v;
    return 0;
}

/* Decimal text of x into buf (no NUL); returns its length. */
static size_t fmt_ll(char buf[24], long long x)
{
    char tmp[24];
    size_t n = 0, k = 0;
    unsigned long long u = x < 0 ? 0ull - (unsigned long long)x : (unsigned long long)x;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (x < 0)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    return k;
}

static inline void two(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* oh_time_format_utc's text for years 0-9999 without gmtime/snprintf
 * (civil_from_days); other years go through it. */
static void time_utc(int64_t ms, int frac, char out[32])
{
    int64_t t = ms >= 0 ? ms / 1000 : (ms - 999) / 1000, days, sod, z, era, doe, yoe, y, doy, mp;
    int rem = (int)(ms - t * 1000), d, m;
    char *o = out;

    days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    sod = t - days * 86400;
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = (int)(doy - (153 * mp + 2) / 5 + 1);
    m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    if (y < 0 || y > 9999) {
        oh_time_format_utc(ms, frac, out);
        return;
    }
    two(o, (int)(y / 100));
    two(o + 2, (int)(y % 100));
    o[4] = '-';
    two(o + 5, m);
    o[7] = '-';
    two(o + 8, d);
    o[10] = 'T';
    two(o + 11, (int)(sod / 3600));
    o[13] = ':';
    two(o + 14, (int)(sod / 60 % 60));
    o[16] = ':';
    two(o + 17, (int)(sod % 60));
    o += 19;
    if (frac) {
        *o++ = '.';
        *o++ = (char)('0' + rem / 100);
        two(o, rem % 100);
        o += 2;
    }
    *o++ = 'Z';
    *o = '\0';
}

static void int_val(struct map_ev *ev, struct val *v, long long x)
{
    char buf[32];
    int n = (int)fmt_ll(buf, x);
    const struct oh_node *src = v->node;
    memset(v, 0, sizeof(*v));
    v->k = V_INT;
    v->s = oh_arena_strndup(ev->a, buf, (size_t)n);
    v->len = (size_t)n;
    v->node = src;
}

/* Applies a scalar filter to one value. */
int oh_map_scalar_filter(struct map_ev *ev, const struct filter *f, const struct expr *pipe,
                         const struct oh_node *cur, struct val *v)
{
    const char *s;
    size_t n;
    const struct oh_node *src = v->node;

    if (f->id == F_REQUIRED) {
        if (oh_map_val_empty(v)) {
            if (src && !oh_node_is_scalar(src))
                return oh_map_fail(ev, src, NULL, f->line, "required value is empty");
            if (src)
                return oh_map_fail(ev, src, NULL, f->line, "required value is empty");
            return oh_map_fail(ev, cur, pipe->text && pipe->text[0] == '.' ? pipe->text : NULL,
                            f->line, "required value is missing");
        }
        return 0;
    }
    if (f->id == F_DEFAULT) {
        if (oh_map_val_empty(v))
            return oh_map_eval(ev, f->args[0], cur, 0, v);
        return 0;
    }
    if (f->id == F_CONCAT) {
        size_t total;
        struct val *parts = oh_arena_alloc(ev->a, (f->nargs + 1) * sizeof(*parts));
        char *o;
        int any = !oh_map_val_empty(v);
        parts[0] = *v;
        for (size_t k = 0; k < f->nargs; k++) {
            int rc = oh_map_eval(ev, f->args[k], cur, 0, &parts[k + 1]);
            if (rc < 0)
                return rc;
            if (f->args[k]->k == E_PATH && !oh_map_val_empty(&parts[k + 1]))
                any = 1;
        }
        if (!any) {
            oh_map_str_val(v, NULL, 0);
            v->node = src;
            return 0;
        }
        total = 0;
        for (size_t k = 0; k <= f->nargs; k++) {
            if (!text(&parts[k], &n))
                return oh_map_fail(ev, parts[k].node, NULL, f->line, "concat: an object is not text");
            total += n;
        }
        o = oh_arena_alloc(ev->a, total + 1);
        total = 0;
        for (size_t k = 0; k <= f->nargs; k++) {
            s = text(&parts[k], &n);
            memcpy(o + total, s, n);
            total += n;
        }
        oh_map_str_val(v, o, total);
        v->node = src;
        return 0;
    }
    if (f->id == F_WHEN) {
        struct val cond;
        int rc = oh_map_eval(ev, f->args[0], cur, 0, &cond);
        if (rc < 0)
            return rc;
        if (oh_map_val_empty(&cond)) {
            oh_map_str_val(v, NULL, 0);
            v->node = src;
        }
        return 0;
    }
    if (f->id == F_LEN) { /* handled as a list filter */
        return 0;
    }
    if (v->k == V_NONE || (v->k == V_STR && v->len == 0))
        return 0; /* empty passes through; `required`/`default` deal with it */
    if (v->k == V_NODE)
        return oh_map_fail(ev, src, NULL, f->line, "%s: is %s, not a value", f->name,
                        src->type == OH_NODE_ARRAY ? "a list" : "an object");
    s = v->s;
    n = v->len;
    switch (f->id) {
    case F_STR:
        v->k = V_STR;
        return 0;
    case F_INT: {
        long long x;
        if (parse_int(s, n, &x) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not an integer", (int)n, s);
        int_val(ev, v, x);
        return 0;
    }
    case F_DECIMAL:
    case F_NUMBER:
    case F_NEG: {
        const char *d;
        if (oh_map_decimal(ev->a, s, n, f->places, f->dec_mark, &d) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not a decimal number", (int)n, s);
        if (f->id == F_NEG && strcmp(d, "0") != 0 && strspn(d, "-0.") != strlen(d))
            d = d[0] == '-' ? d + 1 : oh_arena_printf(ev->a, "-%s", d);
        oh_map_str_val(v, d, strlen(d));
        v->k = f->id == F_NUMBER ? V_NUM : V_STR;
        v->node = src;
        return 0;
    }
    case F_CENTS: {
        long long x;
        unsigned long long ax;
        const char *d;
        if (parse_int(s, n, &x) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not a whole number of cents",
                            (int)n, s);
        ax = x < 0 ? (unsigned long long)(-(x + 1)) + 1 : (unsigned long long)x;
        d = oh_arena_printf(ev->a, "%s%llu.%02llu", x < 0 ? "-" : "", ax / 100, ax % 100);
        oh_map_str_val(v, d, strlen(d));
        v->node = src;
        return 0;
    }
    case F_LOWER:
    case F_UPPER: {
        char *o = oh_arena_try_alloc(ev->a, n + 1);
        if (!o)
            abort(); /* the run's arena has no limit */
        n = change_case(s, n, o, f->id == F_UPPER);
        o[n] = '\0';
        v->s = o;
        v->len = n;
        if (v->k != V_STR)
            v->k = V_STR;
        return 0;
    }
    case F_TRIM: {
        size_t b = 0, e = n;
        while (b < e && isspace((unsigned char)s[b]))
            b++;
        while (e > b && isspace((unsigned char)s[e - 1]))
            e--;
        oh_map_str_val(v, oh_arena_strndup(ev->a, s + b, e - b), e - b);
        v->node = src;
        return 0;
    }
    case F_LOOKUP: {
        const struct table *t = f->table;
        for (size_t i = 0; i < t->n; i++)
            if (strlen(t->keys[i]) == n && memcmp(t->keys[i], s, n) == 0) {
                oh_map_str_val(v, t->vals[i], strlen(t->vals[i]));
                v->node = src;
                return 0;
            }
        if (!t->dflt)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not in table %s", (int)n, s,
                            t->name);
        oh_map_str_val(v, t->dflt, strlen(t->dflt));
        v->node = src;
        return 0;
    }
    case F_TIME:
    case F_DATE: {
        const char *fmt = f->nargs ? f->args[0]->lit : NULL;
        const char *z = oh_arena_strndup(ev->a, s, n);
        int64_t ms;
        int frac;
        char buf[32];
        if (oh_map_time(z, fmt, &ms, &frac) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not a %s (expected %s)", (int)n, s,
                            f->id == F_TIME ? "time" : "date", fmt ? fmt : "ISO-8601");
        if (f->id == F_DATE && !fmt) {
            while (isspace((unsigned char)*z))
                z++;
            oh_map_str_val(v, oh_arena_strndup(ev->a, z, 10), 10);
        } else {
            time_utc(ms, frac, buf);
            if (f->id == F_DATE)
                buf[10] = '\0';
            oh_map_str_val(v, oh_arena_strdup(ev->a, buf), strlen(buf));
        }
        v->node = src;
        return 0;
    }
    case F_SPLIT: {
        const char *sep = f->args[0]->lit;
        size_t sl = f->args[0]->litlen, cnt = 1, k = 0;
        struct val *items;
        const char *p = s, *end = s + n;
        if (sl)
            for (const char *q = s; (q = memmem(q, (size_t)(end - q), sep, sl)); q += sl)
                cnt++;
        items = oh_arena_alloc(ev->a, cnt * sizeof(*items));
        while (p <= end) {
            const char *q = sl ? memmem(p, (size_t)(end - p), sep, sl) : NULL;
            const char *e = q ? q : end, *b = p;
            while (b < e && isspace((unsigned char)*b))
                b++;
            while (e > b && isspace((unsigned char)e[-1]))
                e--;
            if (e > b) {
                oh_map_str_val(&items[k], oh_arena_strndup(ev->a, b, (size_t)(e - b)), (size_t)(e - b));
                items[k++].node = src;
            }
            if (!q)
                break;
            p = q + sl;
        }
        memset(v, 0, sizeof(*v));
        v->k = V_LIST;
        v->items = items;
        v->n = k;
        v->node = src;
        return 0;
    }
    case F_SUBSTR: {
        long st = atol(f->args[0]->lit), cnt = f->nargs > 1 ? atol(f->args[1]->lit) : -1;
        size_t chars = utf8_chars(s, n), b, e;
        if (st < 0)
            st = (long)chars + st < 0 ? 0 : (long)chars + st;
        b = utf8_off(s, n, (size_t)st);
        e = cnt < 0 ? n : b + utf8_off(s + b, n - b, (size_t)cnt);
        oh_map_str_val(v, oh_arena_strndup(ev->a, s + b, e - b), e - b);
        v->node = src;
        return 0;
    }
    case F_REPLACE: {
        const char *from = f->args[0]->lit, *to = f->args[1]->lit;
        size_t fl = f->args[0]->litlen, tl = f->args[1]->litlen, cnt = 0, o = 0;
        char *buf;
        if (!fl)
            return 0;
        for (const char *q = s; (q = memmem(q, (size_t)(s + n - q), from, fl)); q += fl)
            cnt++;
        buf = oh_arena_alloc(ev->a, n + cnt * tl + 1);
        for (const char *p = s;;) {
            const char *q = memmem(p, (size_t)(s + n - p), from, fl);
            size_t seg = q ? (size_t)(q - p) : (size_t)(s + n - p);
            memcpy(buf + o, p, seg);
            o += seg;
            if (!q)
                break;
            memcpy(buf + o, to, tl);
            o += tl;
            p = q + fl;
        }
        oh_map_str_val(v, buf, o);
        v->node = src;
        return 0;
    }
    case F_DIV: {
        struct val dv;
        const char *a, *b, *d;
        int rc;
        size_t dl;
        if ((rc = oh_map_eval(ev, f->args[0], cur, 0, &dv)) < 0)
            return rc;
        if (oh_map_val_empty(&dv) || !text(&dv, &dl))
            return oh_map_fail(ev, dv.node ? dv.node : cur, NULL, f->line, "div: the divisor is missing");
        if (oh_map_decimal(ev->a, s, n, -1, '.', &a) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not a decimal number", (int)n, s);
        if (oh_map_decimal(ev->a, dv.s, dl, -1, '.', &b) < 0)
            return oh_map_fail(ev, dv.node, NULL, f->line, "\"%.*s\" is not a decimal number", (int)dl,
                            dv.s);
        rc = oh_map_decimal_div(ev->a, a, b, &d);
        if (rc == -2)
            return oh_map_fail(ev, dv.node ? dv.node : src, NULL, f->line, "division by zero");
        if (rc < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%s\" / \"%s\" is out of range", a, b);
        oh_map_str_val(v, d, strlen(d));
        v->node = src;
        return 0;
    }
    case F_ADD: {
        const char *sum;
        if (oh_map_decimal(ev->a, s, n, -1, '.', &sum) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not a decimal number", (int)n, s);
        for (size_t k = 0; k < f->nargs; k++) {
            struct val av;
            const char *t, *d;
            size_t tl;
            int rc;
            if ((rc = oh_map_eval(ev, f->args[k], cur, 0, &av)) < 0)
                return rc;
            if (oh_map_val_empty(&av))
                continue; /* nothing to add */
            if (!(t = text(&av, &tl)))
                return oh_map_fail(ev, av.node, NULL, f->line, "add: an object is not a number");
            if (oh_map_decimal(ev->a, t, tl, -1, '.', &d) < 0)
                return oh_map_fail(ev, av.node ? av.node : cur, NULL, f->line,
                                   "\"%.*s\" is not a decimal number", (int)tl, t);
            if (oh_map_decimal_add(ev->a, sum, d, &sum) < 0)
                return oh_map_fail(ev, src, NULL, f->line, "\"%s\" + \"%s\" is out of range", sum, d);
        }
        oh_map_str_val(v, sum, strlen(sum));
        if (!strchr(sum, '.'))
            v->k = V_INT; /* a whole number stays a number, like len */
        v->node = src;
        return 0;
    }
    case F_COUNTRY: {
        char cc[3];
        if (oh_map_country(s, n, cc) < 0)
            return oh_map_fail(ev, src, NULL, f->line, "\"%.*s\" is not a known country", (int)n, s);
        oh_map_str_val(v, oh_arena_strdup(ev->a, cc), 2);
        v->node = src;
        return 0;
    }
    default:
        return 0;
    }
}

int oh_map_list_filter(struct map_ev *ev, const struct filter *f, struct val *v)
{
    struct val one[1];
    const struct val *items = one;
    size_t n = 0;

    if (v->k == V_LIST && v->n == 1 && v->items[0].k == V_NODE &&
        v->items[0].node->type == OH_NODE_ARRAY) {
        /* `.list | len` without []: the list's elements */
        const struct oh_node *arr = v->items[0].node;
        struct val *ex = oh_arena_alloc(ev->a, (arr->count ? arr->count : 1) * sizeof(*ex));
        for (const struct oh_node *c = arr->first; c; c = c->next) {
            oh_map_node_val(c, &ex[n]);
            if (ex[n].k != V_NONE)
                n++;
        }
        items = ex;
    } else if (v->k == V_LIST) {
        items = v->items;
        n = v->n;
    } else if (f->id == F_LEN && v->k == V_NODE) {
        int_val(ev, v, (long long)v->node->count);
        return 0;
    } else if (f->id == F_LEN && v->k != V_NONE) {
        int_val(ev, v, (long long)utf8_chars(v->s, v->len));
        return 0;
    } else if (!oh_map_val_empty(v)) {
        one[0] = *v;
        n = 1;
    }
    switch (f->id) {
    case F_FIRST:
        if (n)
            *v = items[0];
        else
            oh_map_str_val(v, NULL, 0);
        return 0;
    case F_LAST:
        if (n)
            *v = items[n - 1];
        else
            oh_map_str_val(v, NULL, 0);
        return 0;
    case F_LEN:
        int_val(ev, v, (long long)n);
        return 0;
    case F_JOIN: {
        const char *sep = f->nargs ? f->args[0]->lit : ",";
        size_t sl = strlen(sep), total = 0, len;
        char *o;
        for (size_t i = 0; i < n; i++) {
            if (!text(&items[i], &len))
                return oh_map_fail(ev, items[i].node, NULL, f->line, "join: an object is not text");
            total += len + sl;
        }
        o = oh_arena_alloc(ev->a, total + 1);
        total = 0;
        for (size_t i = 0; i < n; i++) {
            const char *s = text(&items[i], &len);
            if (!len)
                continue;
            if (total) {
                memcpy(o + total, sep, sl);
                total += sl;
            }
            memcpy(o + total, s, len);
            total += len;
        }
        oh_map_str_val(v, o, total);
        return 0;
    }
    default:
        return 0;
    }
}

/* 1 if the expression has a [] or [k=v] step: a list filter after it
 * counts/joins all values, else it reads the one value (a string's
 * characters, an array's elements). */
