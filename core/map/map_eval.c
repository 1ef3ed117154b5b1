/*
 * map_eval.c — runs a compiled plan (map_int.h) on a decoded document.
 *
 * Per document: one arena holds the decoded tree, every intermediate value
 * and the output tree; it is freed in one call when the document is done.
 * Values are mostly pointers into the input tree (no copies). Each record's
 * output is built as a document tree and converted to a jansson object for
 * the callback (inbound) or encoded with the `to` format (outbound).
 *
 * Semantics promised here (docs/mapping.md has the full reference):
 *   - a path step that finds several values yields the first in a scalar
 *     place and all of them in a repeated block or before a list filter;
 *   - a rule whose value is empty (missing, null, "") sets nothing;
 *   - a filter that fails, or `required` on an empty value, rejects the
 *     whole record: "DOC-PATH: what (file:line)"; other records go on.
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

struct ev {
    const struct oh_map *m;
    struct oh_arena *a;
    const struct oh_map_ctx *ctx;
    const struct oh_node *doc;    /* document root, for paths in messages */
    const struct oh_node *record; /* $record */
    struct oh_err *err;
};

struct nset {
    const struct oh_node **v;
    size_t n, cap, limit;
    struct oh_arena *a;
};

static int push(struct nset *s, const struct oh_node *n)
{
    if (s->n == s->cap) {
        const struct oh_node **nv;
        s->cap = s->cap ? s->cap * 2 : 8;
        nv = oh_arena_alloc(s->a, s->cap * sizeof(*nv));
        if (s->n)
            memcpy(nv, s->v, s->n * sizeof(*nv));
        s->v = nv;
    }
    s->v[s->n++] = n;
    return s->limit && s->n >= s->limit;
}

static int match(const struct oh_node *n, const struct step *st)
{
    if (n->type != OH_NODE_OBJECT)
        return 0;
    for (size_t i = 0; i < st->nconds; i++) {
        const struct oh_node *v = oh_node_getn(n, st->conds[i].key, st->conds[i].klen);
        if (!v || !v->s || v->len != st->conds[i].vlen ||
            memcmp(v->s, st->conds[i].val, v->len) != 0)
            return 0;
    }
    return 1;
}

static int key_is(const struct oh_node *c, const struct step *st)
{
    return c->key_len == st->klen && memcmp(c->key, st->key, st->klen) == 0;
}

/* Returns 1 when the set is full (stop). */
static int walk(const struct step *st, size_t ns, const struct oh_node *n, struct nset *out)
{
    if (ns == 0)
        return push(out, n);
    switch (st->k) {
    case ST_KEY:
        if (n->type == OH_NODE_ARRAY) {
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (walk(st, ns, c, out))
                    return 1;
            return 0;
        }
        if (n->type != OH_NODE_OBJECT)
            return 0;
        if (ns > 1 && st[1].k == ST_INDEX) {
            const struct oh_node *only = NULL;
            size_t cnt = 0, k = 0;
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (key_is(c, st) && cnt++ == 0)
                    only = c;
            if (cnt == 1 && only->type == OH_NODE_ARRAY) {
                const struct oh_node *c = oh_node_at(only, (size_t)st[1].index);
                return c ? walk(st + 2, ns - 2, c, out) : 0;
            }
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (key_is(c, st) && k++ == (size_t)st[1].index)
                    return walk(st + 2, ns - 2, c, out);
            return 0;
        }
        for (const struct oh_node *c = n->first; c; c = c->next)
            if (key_is(c, st) && walk(st + 1, ns - 1, c, out))
                return 1;
        return 0;
    case ST_EXPAND:
        if (n->type == OH_NODE_ARRAY) {
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (walk(st + 1, ns - 1, c, out))
                    return 1;
            return 0;
        }
        return walk(st + 1, ns - 1, n, out);
    case ST_INDEX:
        if (n->type == OH_NODE_ARRAY) {
            const struct oh_node *c = oh_node_at(n, (size_t)st->index);
            return c ? walk(st + 1, ns - 1, c, out) : 0;
        }
        return st->index == 0 ? walk(st + 1, ns - 1, n, out) : 0;
    case ST_FILTER:
        if (n->type == OH_NODE_ARRAY) {
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (match(c, st) && walk(st + 1, ns - 1, c, out))
                    return 1;
            return 0;
        }
        return match(n, st) ? walk(st + 1, ns - 1, n, out) : 0;
    }
    return 0;
}

static void node_val(const struct oh_node *n, struct val *v)
{
    memset(v, 0, sizeof(*v));
    v->node = n;
    if (!n || n->type == OH_NODE_NULL)
        v->k = V_NONE;
    else if (n->type == OH_NODE_ARRAY || n->type == OH_NODE_OBJECT)
        v->k = V_NODE;
    else {
        v->k = V_STR;
        v->s = n->s;
        v->len = n->len;
    }
}

static void str_val(struct val *v, const char *s, size_t len)
{
    memset(v, 0, sizeof(*v));
    if (!s) {
        v->k = V_NONE;
        return;
    }
    v->k = V_STR;
    v->s = s;
    v->len = len;
}

/* --- messages ------------------------------------------------------------- */

static int plain_key(const char *k, size_t n)
{
    if (!n || !(isalpha((unsigned char)k[0]) || k[0] == '_' || k[0] == '@'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)k[i]) || k[i] == '_' || k[i] == '-' || k[i] == '@'))
            return 0;
    return 1;
}

static int same(const struct oh_node *c, const struct oh_node *t)
{
    if (c == t)
        return 1;
    if (oh_node_is_scalar(t))
        return t->s && c->s == t->s;
    return t->first && c->first == t->first && c->type == t->type;
}

static int find(const struct oh_node *n, const struct oh_node *t, char *buf, size_t cap, size_t len)
{
    size_t idx = 0;
    for (const struct oh_node *c = n->first; c; c = c->next, idx++) {
        int w;
        if (n->type == OH_NODE_ARRAY) {
            w = snprintf(buf + len, cap - len, "[%zu]", idx);
        } else {
            size_t occ = 0;
            for (const struct oh_node *d = n->first; d != c; d = d->next)
                occ += d->key_len == c->key_len && memcmp(d->key, c->key, c->key_len) == 0;
            if (plain_key(c->key, c->key_len))
                w = snprintf(buf + len, cap - len, ".%.*s", (int)c->key_len, c->key);
            else
                w = snprintf(buf + len, cap - len, ".\"%.*s\"", (int)c->key_len, c->key);
            if (occ && w >= 0 && len + (size_t)w < cap)
                w += snprintf(buf + len + (size_t)w, cap - len - (size_t)w, "[%zu]", occ);
        }
        if (w < 0 || len + (size_t)w >= cap)
            return 0;
        if (same(c, t))
            return 1;
        if (!oh_node_is_scalar(c) && find(c, t, buf, cap, len + (size_t)w))
            return 1;
        buf[len] = '\0';
    }
    return 0;
}

static void doc_path(const struct ev *ev, const struct oh_node *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "$");
    if (!n || !ev->doc || n == ev->doc)
        return;
    if (!find(ev->doc, n, buf, cap, 1)) {
        if (n->key)
            snprintf(buf, cap, "$..%.*s", (int)n->key_len, n->key);
        else
            snprintf(buf, cap, "$");
    }
}

static int rec_fail(struct ev *ev, const struct oh_node *where, const char *suffix, int line,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int rec_fail(struct ev *ev, const struct oh_node *where, const char *suffix, int line,
                    const char *fmt, ...)
{
    char path[512], what[512];
    va_list ap;
    doc_path(ev, where, path, sizeof(path));
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return oh_err_set(ev->err, OH_EINVAL, "%s%s: %s (%s:%d)", path, suffix ? suffix : "", what,
                      ev->m->short_name, line);
}

/* --- evaluation ------------------------------------------------------------ */

static int eval(struct ev *ev, const struct expr *e, const struct oh_node *cur, int multi,
                struct val *out);

static int eval_path(struct ev *ev, const struct path *pa, const struct oh_node *cur, int multi,
                     struct val *out)
{
    struct nset s = {.a = ev->a, .limit = multi ? 0 : 1};
    const struct oh_node *start = cur;

    switch (pa->root) {
    case R_CHANNEL:
        str_val(out, ev->ctx ? ev->ctx->channel : NULL,
                ev->ctx && ev->ctx->channel ? strlen(ev->ctx->channel) : 0);
        return 0;
    case R_DOC:
        if (pa->var[0] == 'r') {
            char buf[32];
            if (!ev->ctx || !ev->ctx->received_at_ms) {
                str_val(out, NULL, 0);
                return 0;
            }
            oh_time_format_utc(ev->ctx->received_at_ms, 0, buf);
            str_val(out, oh_arena_strdup(ev->a, buf), strlen(buf));
        } else {
            const char *src = ev->ctx ? ev->ctx->source : NULL;
            str_val(out, src, src ? strlen(src) : 0);
        }
        return 0;
    case R_ENV: {
        const char *v = getenv(pa->var);
        str_val(out, v, v ? strlen(v) : 0);
        return 0;
    }
    case R_RECORD:
        start = ev->record;
        break;
    case R_ROOT:
        start = ev->doc;
        break;
    case R_CUR:
        break;
    }
    if (start)
        walk(pa->steps, pa->nsteps, start, &s);
    if (!multi) {
        const struct oh_node *n = s.n ? s.v[0] : NULL, *t;
        /* an XML element with attributes reads as its text in a scalar place */
        if (n && n->type == OH_NODE_OBJECT && (t = oh_node_getn(n, "#text", 5)) && oh_node_is_scalar(t))
            n = t;
        node_val(n, out);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    out->k = V_LIST;
    out->items = oh_arena_alloc(ev->a, (s.n ? s.n : 1) * sizeof(*out->items));
    for (size_t i = 0; i < s.n; i++) {
        node_val(s.v[i], &out->items[out->n]);
        if (out->items[out->n].k != V_NONE)
            out->n++;
    }
    return 0;
}

/* The text of a scalar value, or NULL for containers. */
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

static void int_val(struct ev *ev, struct val *v, long long x)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", x);
    const struct oh_node *src = v->node;
    memset(v, 0, sizeof(*v));
    v->k = V_INT;
    v->s = oh_arena_strndup(ev->a, buf, (size_t)n);
    v->len = (size_t)n;
    v->node = src;
}

/* Applies a scalar filter to one value. */
static int scalar_filter(struct ev *ev, const struct filter *f, const struct expr *pipe,
                         const struct oh_node *cur, struct val *v)
{
    const char *s;
    size_t n;
    const struct oh_node *src = v->node;

    if (f->id == F_REQUIRED) {
        if (oh_map_val_empty(v)) {
            if (src && !oh_node_is_scalar(src))
                return rec_fail(ev, src, NULL, f->line, "required value is empty");
            if (src)
                return rec_fail(ev, src, NULL, f->line, "required value is empty");
            return rec_fail(ev, cur, pipe->text && pipe->text[0] == '.' ? pipe->text : NULL,
                            f->line, "required value is missing");
        }
        return 0;
    }
    if (f->id == F_DEFAULT) {
        if (oh_map_val_empty(v))
            return eval(ev, f->args[0], cur, 0, v);
        return 0;
    }
    if (f->id == F_CONCAT) {
        size_t total;
        struct val *parts = oh_arena_alloc(ev->a, (f->nargs + 1) * sizeof(*parts));
        char *o;
        int any = !oh_map_val_empty(v);
        parts[0] = *v;
        for (size_t k = 0; k < f->nargs; k++) {
            int rc = eval(ev, f->args[k], cur, 0, &parts[k + 1]);
            if (rc < 0)
                return rc;
            if (f->args[k]->k == E_PATH && !oh_map_val_empty(&parts[k + 1]))
                any = 1;
        }
        if (!any) {
            str_val(v, NULL, 0);
            v->node = src;
            return 0;
        }
        total = 0;
        for (size_t k = 0; k <= f->nargs; k++) {
            if (!text(&parts[k], &n))
                return rec_fail(ev, parts[k].node, NULL, f->line, "concat: an object is not text");
            total += n;
        }
        o = oh_arena_alloc(ev->a, total + 1);
        total = 0;
        for (size_t k = 0; k <= f->nargs; k++) {
            s = text(&parts[k], &n);
            memcpy(o + total, s, n);
            total += n;
        }
        str_val(v, o, total);
        v->node = src;
        return 0;
    }
    if (f->id == F_LEN) { /* handled as a list filter */
        return 0;
    }
    if (v->k == V_NONE || (v->k == V_STR && v->len == 0))
        return 0; /* empty passes through; `required`/`default` deal with it */
    if (v->k == V_NODE)
        return rec_fail(ev, src, NULL, f->line, "%s: is %s, not a value", f->name,
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
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not an integer", (int)n, s);
        int_val(ev, v, x);
        return 0;
    }
    case F_DECIMAL:
    case F_NUMBER:
    case F_NEG: {
        const char *d;
        if (oh_map_decimal(ev->a, s, n, f->places, f->dec_mark, &d) < 0)
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not a decimal number", (int)n, s);
        if (f->id == F_NEG && strcmp(d, "0") != 0 && strspn(d, "-0.") != strlen(d))
            d = d[0] == '-' ? d + 1 : oh_arena_printf(ev->a, "-%s", d);
        str_val(v, d, strlen(d));
        v->k = f->id == F_NUMBER ? V_NUM : V_STR;
        v->node = src;
        return 0;
    }
    case F_CENTS: {
        long long x;
        unsigned long long ax;
        const char *d;
        if (parse_int(s, n, &x) < 0)
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not a whole number of cents",
                            (int)n, s);
        ax = x < 0 ? (unsigned long long)(-(x + 1)) + 1 : (unsigned long long)x;
        d = oh_arena_printf(ev->a, "%s%llu.%02llu", x < 0 ? "-" : "", ax / 100, ax % 100);
        str_val(v, d, strlen(d));
        v->node = src;
        return 0;
    }
    case F_LOWER:
    case F_UPPER: {
        char *o = oh_arena_strndup(ev->a, s, n);
        for (size_t i = 0; i < n; i++)
            o[i] = (char)(f->id == F_LOWER ? tolower((unsigned char)o[i]) : toupper((unsigned char)o[i]));
        v->s = o;
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
        str_val(v, oh_arena_strndup(ev->a, s + b, e - b), e - b);
        v->node = src;
        return 0;
    }
    case F_LOOKUP: {
        const struct table *t = f->table;
        for (size_t i = 0; i < t->n; i++)
            if (strlen(t->keys[i]) == n && memcmp(t->keys[i], s, n) == 0) {
                str_val(v, t->vals[i], strlen(t->vals[i]));
                v->node = src;
                return 0;
            }
        if (!t->dflt)
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not in table %s", (int)n, s,
                            t->name);
        str_val(v, t->dflt, strlen(t->dflt));
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
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not a %s (expected %s)", (int)n, s,
                            f->id == F_TIME ? "time" : "date", fmt ? fmt : "ISO-8601");
        if (f->id == F_DATE && !fmt) {
            while (isspace((unsigned char)*z))
                z++;
            str_val(v, oh_arena_strndup(ev->a, z, 10), 10);
        } else {
            oh_time_format_utc(ms, frac, buf);
            if (f->id == F_DATE)
                buf[10] = '\0';
            str_val(v, oh_arena_strdup(ev->a, buf), strlen(buf));
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
                str_val(&items[k], oh_arena_strndup(ev->a, b, (size_t)(e - b)), (size_t)(e - b));
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
        str_val(v, oh_arena_strndup(ev->a, s + b, e - b), e - b);
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
        str_val(v, buf, o);
        v->node = src;
        return 0;
    }
    case F_DIV: {
        struct val dv;
        const char *a, *b, *d;
        int rc;
        size_t dl;
        if ((rc = eval(ev, f->args[0], cur, 0, &dv)) < 0)
            return rc;
        if (oh_map_val_empty(&dv) || !text(&dv, &dl))
            return rec_fail(ev, dv.node ? dv.node : cur, NULL, f->line, "div: the divisor is missing");
        if (oh_map_decimal(ev->a, s, n, -1, '.', &a) < 0)
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not a decimal number", (int)n, s);
        if (oh_map_decimal(ev->a, dv.s, dl, -1, '.', &b) < 0)
            return rec_fail(ev, dv.node, NULL, f->line, "\"%.*s\" is not a decimal number", (int)dl,
                            dv.s);
        rc = oh_map_decimal_div(ev->a, a, b, &d);
        if (rc == -2)
            return rec_fail(ev, dv.node ? dv.node : src, NULL, f->line, "division by zero");
        if (rc < 0)
            return rec_fail(ev, src, NULL, f->line, "\"%s\" / \"%s\" is out of range", a, b);
        str_val(v, d, strlen(d));
        v->node = src;
        return 0;
    }
    case F_COUNTRY: {
        char cc[3];
        if (oh_map_country(s, n, cc) < 0)
            return rec_fail(ev, src, NULL, f->line, "\"%.*s\" is not a known country", (int)n, s);
        str_val(v, oh_arena_strdup(ev->a, cc), 2);
        v->node = src;
        return 0;
    }
    default:
        return 0;
    }
}

static int list_filter(struct ev *ev, const struct filter *f, struct val *v)
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
            node_val(c, &ex[n]);
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
            str_val(v, NULL, 0);
        return 0;
    case F_LAST:
        if (n)
            *v = items[n - 1];
        else
            str_val(v, NULL, 0);
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
                return rec_fail(ev, items[i].node, NULL, f->line, "join: an object is not text");
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
        str_val(v, o, total);
        return 0;
    }
    default:
        return 0;
    }
}

/* 1 if the expression has a [] or [k=v] step: a list filter after it
 * counts/joins all values, else it reads the one value (a string's
 * characters, an array's elements). */
static int expands(const struct expr *e)
{
    if (e->k == E_ALT)
        return expands(e->a) || expands(e->b);
    if (e->k == E_PIPE)
        return expands(e->a);
    if (e->k != E_PATH)
        return 0;
    for (size_t i = 0; i < e->path.nsteps; i++)
        if (e->path.steps[i].k == ST_EXPAND || e->path.steps[i].k == ST_FILTER)
            return 1;
    return 0;
}

static int eval(struct ev *ev, const struct expr *e, const struct oh_node *cur, int multi,
                struct val *out)
{
    int rc;
    switch (e->k) {
    case E_PATH:
        return eval_path(ev, &e->path, cur, multi, out);
    case E_LIT:
    case E_WORD:
        str_val(out, e->lit, e->litlen);
        return 0;
    case E_ALT:
        if ((rc = eval(ev, e->a, cur, multi, out)) < 0)
            return rc;
        if (oh_map_val_empty(out))
            return eval(ev, e->b, cur, multi, out);
        return 0;
    case E_PIPE: {
        const struct filter_info *fi = oh_map_filter_info(e->filters[0].name,
                                                          strlen(e->filters[0].name));
        if ((rc = eval(ev, e->a, cur, multi || (fi->list_input && expands(e->a)), out)) < 0)
            return rc;
        for (size_t k = 0; k < e->nfilters; k++) {
            const struct filter *f = &e->filters[k];
            fi = oh_map_filter_info(f->name, strlen(f->name));
            if (fi->list_input) {
                if ((rc = list_filter(ev, f, out)) < 0)
                    return rc;
            } else if (out->k == V_LIST && f->id != F_REQUIRED && f->id != F_DEFAULT) {
                /* element-wise; a filter that makes lists (split) is flattened */
                size_t w = 0, cap = out->n;
                struct val *res = oh_arena_alloc(ev->a, (cap ? cap : 1) * sizeof(*res));
                for (size_t i = 0; i < out->n; i++) {
                    struct val it = out->items[i];
                    if ((rc = scalar_filter(ev, f, e, cur, &it)) < 0)
                        return rc;
                    for (size_t k2 = 0; k2 < (it.k == V_LIST ? it.n : 1); k2++) {
                        const struct val *one = it.k == V_LIST ? &it.items[k2] : &it;
                        if (oh_map_val_empty(one))
                            continue;
                        if (w == cap) {
                            struct val *nr = oh_arena_alloc(ev->a, cap * 2 * sizeof(*nr));
                            memcpy(nr, res, w * sizeof(*nr));
                            res = nr;
                            cap *= 2;
                        }
                        res[w++] = *one;
                    }
                }
                out->items = res;
                out->n = w;
            } else {
                if ((rc = scalar_filter(ev, f, e, cur, out)) < 0)
                    return rc;
            }
        }
        return 0;
    }
    }
    return 0;
}

/* --- output tree ------------------------------------------------------------ */

static struct oh_node *val_node(struct ev *ev, const struct val *v)
{
    struct oh_node *n;
    switch (v->k) {
    case V_STR:
        n = oh_node_new(ev->a, OH_NODE_STRING);
        n->s = v->s;
        n->len = (uint32_t)v->len;
        return n;
    case V_INT:
    case V_NUM:
        n = oh_node_new(ev->a, OH_NODE_NUMBER);
        n->s = v->s;
        n->len = (uint32_t)v->len;
        return n;
    case V_LIST:
        n = oh_node_new(ev->a, OH_NODE_ARRAY);
        for (size_t i = 0; i < v->n; i++)
            if (!oh_map_val_empty(&v->items[i]))
                oh_node_append(n, val_node(ev, &v->items[i]));
        return n;
    case V_NODE:
        n = oh_node_new(ev->a, v->node->type);
        *n = *v->node;
        n->key = NULL;
        n->key_len = 0;
        n->next = NULL;
        return n;
    case V_NONE:
        break;
    }
    return oh_node_new(ev->a, OH_NODE_NULL);
}

static struct oh_node *member(struct ev *ev, struct oh_node *obj, const struct tstep *t,
                              enum oh_node_type create)
{
    struct oh_node *c;
    for (c = obj->first; c; c = c->next)
        if (c->key_len == t->klen && memcmp(c->key, t->key, t->klen) == 0)
            return c;
    if (create == OH_NODE_NULL)
        return NULL;
    c = oh_node_new(ev->a, create);
    c->key = t->key;
    c->key_len = (uint32_t)t->klen;
    return oh_node_append(obj, c);
}

/* The object that holds the last step of t, creating objects on the way. */
static struct oh_node *holder(struct ev *ev, struct oh_node *obj, const struct tstep *t, size_t nt)
{
    for (size_t i = 0; i + 1 < nt; i++) {
        struct oh_node *c = member(ev, obj, &t[i], OH_NODE_OBJECT);
        if (c->type != OH_NODE_OBJECT) { /* a scalar was set there before: replace it */
            c->type = OH_NODE_OBJECT;
            c->s = NULL;
            c->len = 0;
        }
        obj = c;
    }
    return obj;
}

static void set_target(struct ev *ev, struct oh_node *obj, const struct rule *r, const struct val *v)
{
    struct oh_node *h = holder(ev, obj, r->t, r->nt), *nv = val_node(ev, v), *old;
    const struct tstep *t = &r->t[r->nt - 1];
    if ((old = member(ev, h, t, OH_NODE_NULL))) {
        struct oh_node *next = old->next;
        *old = *nv;
        old->key = t->key;
        old->key_len = (uint32_t)t->klen;
        old->next = next;
        return;
    }
    nv->key = t->key;
    nv->key_len = (uint32_t)t->klen;
    oh_node_append(h, nv);
}

static int run_block(struct ev *ev, const struct block *b, const struct oh_node *cur,
                     struct oh_node *out);

static int run_repeated(struct ev *ev, const struct rule *r, const struct oh_node *cur,
                        struct oh_node *out)
{
    struct val v;
    struct oh_node *arr;
    const struct val *items;
    size_t n;
    int rc;

    if ((rc = eval(ev, r->e, cur, 1, &v)) < 0)
        return rc;
    if (v.k != V_LIST) {
        struct val *one = oh_arena_alloc(ev->a, sizeof(*one));
        *one = v;
        v.k = V_LIST;
        v.items = one;
        v.n = oh_map_val_empty(one) ? 0 : 1;
    }
    items = v.items;
    n = v.n;
    if (n == 1 && items[0].k == V_NODE && items[0].node->type == OH_NODE_ARRAY) {
        /* `lines[] = .line_items` without []: take the list's elements */
        const struct oh_node *a = items[0].node;
        struct val *ex = oh_arena_alloc(ev->a, (a->count ? a->count : 1) * sizeof(*ex));
        n = 0;
        for (const struct oh_node *c = a->first; c; c = c->next)
            node_val(c, &ex[n++]);
        items = ex;
    }
    if (r->t[0].key == NULL) {
        arr = out; /* the root array */
    } else {
        struct oh_node *h = holder(ev, out, r->t, r->nt);
        arr = member(ev, h, &r->t[r->nt - 1], OH_NODE_ARRAY);
        if (arr->type != OH_NODE_ARRAY) {
            arr->type = OH_NODE_ARRAY;
            arr->s = NULL;
            arr->len = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct oh_node *ctxn = items[i].node;
        struct oh_node *el;
        if (r->blk->n == 0) {
            if (!oh_map_val_empty(&items[i]))
                oh_node_append(arr, val_node(ev, &items[i]));
            continue;
        }
        if (items[i].k != V_NODE && (!ctxn || items[i].k != V_STR || ctxn->s != items[i].s)) {
            struct oh_node *tmp = oh_node_new(ev->a, OH_NODE_STRING);
            tmp->s = items[i].s ? items[i].s : "";
            tmp->len = (uint32_t)items[i].len;
            ctxn = tmp;
        }
        el = oh_node_append(arr, oh_node_new(ev->a, OH_NODE_OBJECT));
        if ((rc = run_block(ev, r->blk, ctxn, el)) < 0)
            return rc;
    }
    return 0;
}

static int run_block(struct ev *ev, const struct block *b, const struct oh_node *cur,
                     struct oh_node *out)
{
    int rc;
    for (size_t i = 0; i < b->n; i++) {
        const struct rule *r = &b->rules[i];
        struct val v;
        if (r->blk) {
            if ((rc = run_repeated(ev, r, cur, out)) < 0)
                return rc;
            continue;
        }
        if ((rc = eval(ev, r->e, cur, 0, &v)) < 0)
            return rc;
        if (oh_map_val_empty(&v))
            continue;
        set_target(ev, out, r, &v);
    }
    return 0;
}

/* --- conversions ---------------------------------------------------------------- */

static json_t *to_json(const struct oh_node *n)
{
    json_t *j;
    switch (n->type) {
    case OH_NODE_NULL:
        return json_null();
    case OH_NODE_BOOL:
        return json_boolean(n->s[0] == 't');
    case OH_NODE_NUMBER: {
        long long x;
        char *end;
        errno = 0;
        x = strtoll(n->s, &end, 10);
        if (*end == '\0' && errno == 0 && end != n->s)
            return json_integer((json_int_t)x);
        return json_stringn(n->s, n->len);
    }
    case OH_NODE_STRING:
        return json_stringn(n->s, n->len);
    case OH_NODE_ARRAY:
        j = json_array();
        for (const struct oh_node *c = n->first; c; c = c->next)
            json_array_append_new(j, to_json(c));
        return j;
    case OH_NODE_OBJECT:
        j = json_object();
        for (const struct oh_node *c = n->first; c; c = c->next)
            json_object_setn_new(j, c->key, c->key_len, to_json(c));
        return j;
    }
    return json_null();
}

static struct oh_node *from_json(struct oh_arena *a, const json_t *j)
{
    struct oh_node *n;
    char buf[64];
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        n = oh_node_new(a, OH_NODE_OBJECT);
        json_object_foreach((json_t *)j, k, v) {
            struct oh_node *c = from_json(a, v);
            oh_node_set_key(a, c, k, strlen(k));
            oh_node_append(n, c);
        }
        return n;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        n = oh_node_new(a, OH_NODE_ARRAY);
        json_array_foreach(j, i, v)
            oh_node_append(n, from_json(a, v));
        return n;
    }
    case JSON_STRING:
        return oh_node_new_str(a, OH_NODE_STRING, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return oh_node_new_str(a, OH_NODE_NUMBER, buf, strlen(buf));
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
        return oh_node_new_str(a, OH_NODE_NUMBER, buf, strlen(buf));
    case JSON_TRUE:
        return oh_node_new_str(a, OH_NODE_BOOL, "true", 4);
    case JSON_FALSE:
        return oh_node_new_str(a, OH_NODE_BOOL, "false", 5);
    case JSON_NULL:
        break;
    }
    return oh_node_new(a, OH_NODE_NULL);
}

/* --- records ------------------------------------------------------------------ */

static int one_record(struct ev *ev, const struct oh_node *rec, struct oh_node **out)
{
    struct oh_node *o = oh_node_new(ev->a, ev->m->root_array ? OH_NODE_ARRAY : OH_NODE_OBJECT);
    int rc;
    ev->record = rec;
    if ((rc = run_block(ev, &ev->m->top, rec, o)) < 0)
        return rc;
    *out = o;
    return 0;
}

static json_t *record_json(struct ev *ev, const struct oh_node *o)
{
    json_t *j = to_json(o);
    if (ev->m->to_is_kind && json_is_object(j) && !json_object_get(j, "channel") && ev->ctx &&
        ev->ctx->channel) {
        /* channel first, for readable output */
        json_t *k = json_object();
        const char *key;
        json_t *v;
        json_object_set_new(k, "channel", json_string(ev->ctx->channel));
        json_object_foreach(j, key, v)
            json_object_set(k, key, v); /* k takes its own reference */
        json_decref(j);
        j = k;
    }
    return j;
}

/* Shallow copy of n (shares children) so that it can be linked elsewhere. */
static struct oh_node *copy(struct oh_arena *a, const struct oh_node *n)
{
    struct oh_node *c = oh_node_new(a, n->type);
    *c = *n;
    c->next = NULL;
    return c;
}

static int emit(struct ev *ev, const struct oh_node *rec, size_t idx, oh_map_record_cb cb, void *ud)
{
    struct oh_err rerr = {0};
    struct oh_node *o = NULL;
    json_t *j;
    int rc;

    ev->err = &rerr;
    if (one_record(ev, rec, &o) < 0)
        return cb(ud, idx, NULL, &rerr);
    if (!(j = record_json(ev, o)))
        return -1;
    rc = cb(ud, idx, j, NULL);
    json_decref(j);
    return rc;
}

int oh_map_run_as(const struct oh_map *m, const char *format, const char *data, size_t len,
                  const struct oh_map_ctx *ctx, oh_map_record_cb cb, void *ud, struct oh_err *err)
{
    struct oh_arena *a = oh_arena_new(0);
    struct ev ev = {.m = m, .a = a, .ctx = ctx};
    const char *fname = format ? format : m->from_is_kind ? "json" : m->from;
    const struct oh_format *f = oh_format_find(fname);
    const struct oh_format_opts *opts = (!format || strcmp(format, m->from) == 0) ? &m->from_opts : NULL;
    struct oh_node *root = NULL;
    struct nset recs = {.a = a};
    int rc = 0;

    if (!f || !f->decode) {
        rc = oh_err_set(err, OH_EINVAL, "%s: cannot read format %s", m->short_name, fname);
        goto done;
    }
    if ((rc = f->decode(a, data, len, opts, &root, err)) < 0)
        goto done;
    ev.doc = root;
    if (m->each) {
        walk(m->each->steps, m->each->nsteps, root, &recs);
    } else if (m->group_by && root->type == OH_NODE_ARRAY) {
        for (const struct oh_node *c = root->first; c; c = c->next)
            push(&recs, c);
    } else {
        push(&recs, root);
    }
    if (!m->group_by) {
        for (size_t i = 0; i < recs.n; i++)
            if ((rc = emit(&ev, recs.v[i], i, cb, ud)) != 0)
                goto done;
        goto done;
    }
    for (size_t i = 0, idx = 0; i < recs.n; idx++) {
        struct val k0, k1;
        struct oh_node *rec, *rows;
        size_t j = i + 1;
        eval_path(&ev, m->group_by, recs.v[i], 0, &k0);
        for (; j < recs.n; j++) {
            eval_path(&ev, m->group_by, recs.v[j], 0, &k1);
            if (k0.k != k1.k || k0.len != k1.len || (k0.len && memcmp(k0.s, k1.s, k0.len) != 0))
                break;
        }
        rec = oh_node_new(a, OH_NODE_OBJECT);
        rows = oh_node_add(a, rec, "rows", OH_NODE_ARRAY, NULL, 0);
        for (size_t r = i; r < j; r++)
            oh_node_append(rows, copy(a, recs.v[r]));
        if (recs.v[i]->type == OH_NODE_OBJECT)
            for (const struct oh_node *c = recs.v[i]->first; c; c = c->next)
                oh_node_append(rec, copy(a, c));
        rec->line = recs.v[i]->line;
        if ((rc = emit(&ev, rec, idx, cb, ud)) != 0)
            goto done;
        i = j;
    }
done:
    oh_arena_free(a);
    return rc;
}

int oh_map_run(const struct oh_map *m, const char *data, size_t len, const struct oh_map_ctx *ctx,
               oh_map_record_cb cb, void *ud, struct oh_err *err)
{
    return oh_map_run_as(m, NULL, data, len, ctx, cb, ud, err);
}

int oh_map_render(const struct oh_map *m, const json_t *record, const struct oh_map_ctx *ctx,
                  char **out, size_t *out_len, struct oh_err *err)
{
    struct oh_arena *a = oh_arena_new(0);
    struct ev ev = {.m = m, .a = a, .ctx = ctx, .err = err};
    struct oh_node *in, *o = NULL;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = NULL;
    int rc = 0;

    *out = NULL;
    *out_len = 0;
    if (!record) {
        rc = oh_err_set(err, OH_EINVAL, "%s: no record to render", m->short_name);
        goto done;
    }
    in = from_json(a, record);
    ev.doc = in;
    if ((rc = one_record(&ev, in, &o)) < 0)
        goto done;
    if (!(f = open_memstream(&buf, &blen))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (m->to_is_kind) {
        json_t *j = record_json(&ev, o);
        rc = json_dumpf(j, f, JSON_COMPACT) < 0 ? oh_err_set(err, OH_ERROR, "write failed") : 0;
        json_decref(j);
    } else {
        const struct oh_format *fmt = oh_format_find(m->to);
        rc = fmt->encode(o, &m->to_opts, f, err);
        if (rc < 0)
            oh_err_prefix(err, "%s", m->short_name);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = oh_err_set(err, OH_ERROR, "out of memory");
    f = NULL;
    if (rc < 0)
        goto done;
    *out = buf;
    *out_len = blen;
    buf = NULL;
done:
    free(buf);
    oh_arena_free(a);
    return rc;
}
