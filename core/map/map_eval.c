/*
 * map_eval.c — evaluates a compiled plan (map_int.h): paths, expressions,
 * repeated blocks and the output tree. Filters are applied in map_apply.c;
 * documents are decoded and split into records in map_run.c.
 *
 * Values are mostly pointers into the input tree (no copies); everything
 * else comes from the document's arena. Semantics promised here
 * (docs/mapping.md has the full reference):
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

int oh_map_nset_push(struct map_nset *s, const struct oh_node *n)
{
    if (!s->v) {
        s->v = s->inl;
        s->cap = sizeof(s->inl) / sizeof(s->inl[0]);
    }
    if (s->n == s->cap) {
        const struct oh_node **nv;
        s->cap *= 2;
        nv = oh_arena_try_alloc(s->a, s->cap * sizeof(*nv));
        if (!nv)
            abort(); /* the run's arena has no limit */
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
        if (!v || !v->s || !st->conds[i].val || v->len != st->conds[i].vlen ||
            memcmp(v->s, st->conds[i].val, v->len) != 0)
            return 0;
    }
    return 1;
}

static inline int key_is(const struct oh_node *c, const struct step *st)
{
    return c->key_len == st->klen && (st->klen == 0 || c->key[0] == st->key[0]) &&
           memcmp(c->key, st->key, st->klen) == 0;
}

/* Returns 1 when the set is full (stop). */
int oh_map_walk(const struct step *st, size_t ns, const struct oh_node *n, struct map_nset *out)
{
    if (ns == 0)
        return oh_map_nset_push(out, n);
    switch (st->k) {
    case ST_KEY:
        if (n->type == OH_NODE_ARRAY) {
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (oh_map_walk(st, ns, c, out))
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
                return c ? oh_map_walk(st + 2, ns - 2, c, out) : 0;
            }
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (key_is(c, st) && k++ == (size_t)st[1].index)
                    return oh_map_walk(st + 2, ns - 2, c, out);
            return 0;
        }
        for (const struct oh_node *c = n->first; c; c = c->next)
            if (key_is(c, st) && oh_map_walk(st + 1, ns - 1, c, out))
                return 1;
        return 0;
    case ST_EXPAND:
        if (n->type == OH_NODE_ARRAY) {
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (oh_map_walk(st + 1, ns - 1, c, out))
                    return 1;
            return 0;
        }
        return oh_map_walk(st + 1, ns - 1, n, out);
    case ST_INDEX:
        if (n->type == OH_NODE_ARRAY) {
            const struct oh_node *c = oh_node_at(n, (size_t)st->index);
            return c ? oh_map_walk(st + 1, ns - 1, c, out) : 0;
        }
        return st->index == 0 ? oh_map_walk(st + 1, ns - 1, n, out) : 0;
    case ST_FILTER:
        if (n->type == OH_NODE_ARRAY) {
            for (const struct oh_node *c = n->first; c; c = c->next)
                if (match(c, st) && oh_map_walk(st + 1, ns - 1, c, out))
                    return 1;
            return 0;
        }
        return match(n, st) ? oh_map_walk(st + 1, ns - 1, n, out) : 0;
    }
    return 0;
}

void oh_map_node_val(const struct oh_node *n, struct val *v)
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

void oh_map_str_val(struct val *v, const char *s, size_t len)
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

static void doc_path(const struct map_ev *ev, const struct oh_node *n, char *buf, size_t cap)
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


int oh_map_fail(struct map_ev *ev, const struct oh_node *where, const char *suffix, int line,
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


/* The steps of pa with every condition value that is a path read from cur
 * (a value that is missing or not text matches nothing). */
static const struct step *resolve(struct map_ev *ev, const struct path *pa, const struct oh_node *cur)
{
    struct step *st = oh_arena_alloc(ev->a, pa->nsteps * sizeof(*st));
    memcpy(st, pa->steps, pa->nsteps * sizeof(*st));
    for (size_t i = 0; i < pa->nsteps; i++) {
        struct cond *c;
        if (st[i].k != ST_FILTER)
            continue;
        c = oh_arena_alloc(ev->a, st[i].nconds * sizeof(*c));
        memcpy(c, st[i].conds, st[i].nconds * sizeof(*c));
        for (size_t k = 0; k < st[i].nconds; k++) {
            struct val v;
            if (!c[k].vpath)
                continue;
            oh_map_eval_path(ev, c[k].vpath, cur, 0, &v);
            c[k].val = (v.k == V_STR || v.k == V_INT || v.k == V_NUM) ? v.s : NULL;
            c[k].vlen = c[k].val ? v.len : 0;
        }
        st[i].conds = c;
    }
    return st;
}

int oh_map_eval_path(struct map_ev *ev, const struct path *pa, const struct oh_node *cur, int multi,
                     struct val *out)
{
    struct map_nset s = {.a = ev->a, .limit = multi ? 0 : 1};
    const struct oh_node *start = cur;

    switch (pa->root) {
    case R_CHANNEL:
        oh_map_str_val(out, ev->ctx ? ev->ctx->channel : NULL,
                ev->ctx && ev->ctx->channel ? strlen(ev->ctx->channel) : 0);
        return 0;
    case R_DOC:
        if (pa->var[0] == 'r') {
            char buf[32];
            if (!ev->ctx || !ev->ctx->received_at_ms) {
                oh_map_str_val(out, NULL, 0);
                return 0;
            }
            oh_time_format_utc(ev->ctx->received_at_ms, 0, buf);
            oh_map_str_val(out, oh_arena_strdup(ev->a, buf), strlen(buf));
        } else {
            const char *src = ev->ctx ? ev->ctx->source : NULL;
            oh_map_str_val(out, src, src ? strlen(src) : 0);
        }
        return 0;
    case R_ENV: {
        const char *v = getenv(pa->var);
        oh_map_str_val(out, v, v ? strlen(v) : 0);
        return 0;
    }
    case R_INDEX: {
        const char *t = oh_arena_printf(ev->a, "%zu", ev->index);
        oh_map_str_val(out, t, strlen(t));
        out->k = V_INT;
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
        oh_map_walk(pa->dynamic ? resolve(ev, pa, cur) : pa->steps, pa->nsteps, start, &s);
    if (!multi) {
        const struct oh_node *n = s.n ? s.v[0] : NULL, *t;
        /* an XML element with attributes reads as its text in a scalar place */
        if (n && n->type == OH_NODE_OBJECT && (t = oh_node_getn(n, "#text", 5)) && oh_node_is_scalar(t))
            n = t;
        oh_map_node_val(n, out);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    out->k = V_LIST;
    out->items = oh_arena_alloc(ev->a, (s.n ? s.n : 1) * sizeof(*out->items));
    for (size_t i = 0; i < s.n; i++) {
        oh_map_node_val(s.v[i], &out->items[out->n]);
        if (out->items[out->n].k != V_NONE)
            out->n++;
    }
    return 0;
}

/* The text of a scalar value, or NULL for containers. */
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

int oh_map_eval(struct map_ev *ev, const struct expr *e, const struct oh_node *cur, int multi,
                struct val *out)
{
    int rc;
    switch (e->k) {
    case E_PATH:
        return oh_map_eval_path(ev, &e->path, cur, multi, out);
    case E_LIT:
    case E_WORD:
        oh_map_str_val(out, e->lit, e->litlen);
        return 0;
    case E_ALT:
        if ((rc = oh_map_eval(ev, e->a, cur, multi, out)) < 0)
            return rc;
        if (oh_map_val_empty(out))
            return oh_map_eval(ev, e->b, cur, multi, out);
        return 0;
    case E_PIPE: {
        int lists = oh_map_filter_lists(e->filters[0].id);
        if ((rc = oh_map_eval(ev, e->a, cur, multi || (lists && expands(e->a)), out)) < 0)
            return rc;
        for (size_t k = 0; k < e->nfilters; k++) {
            const struct filter *f = &e->filters[k];
            if (oh_map_filter_lists(f->id)) {
                if ((rc = oh_map_list_filter(ev, f, out)) < 0)
                    return rc;
            } else if (out->k == V_LIST && f->id != F_REQUIRED && f->id != F_DEFAULT) {
                /* element-wise; a filter that makes lists (split) is flattened */
                size_t w = 0, cap = out->n;
                struct val *res = oh_arena_alloc(ev->a, (cap ? cap : 1) * sizeof(*res));
                for (size_t i = 0; i < out->n; i++) {
                    struct val it = out->items[i];
                    if ((rc = oh_map_scalar_filter(ev, f, e, cur, &it)) < 0)
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
                if ((rc = oh_map_scalar_filter(ev, f, e, cur, out)) < 0)
                    return rc;
            }
        }
        return 0;
    }
    }
    return 0;
}

/* --- output tree ------------------------------------------------------------ */

static struct oh_node *copy_tree(struct oh_arena *a, const struct oh_node *src)
{
    struct oh_node *n = oh_node_new(a, src->type);
    *n = *src;
    n->next = NULL;
    if (src->type == OH_NODE_ARRAY || src->type == OH_NODE_OBJECT) {
        n->first = n->last = NULL;
        n->count = 0;
        for (const struct oh_node *c = src->first; c; c = c->next)
            oh_node_append(n, copy_tree(a, c));
    }
    return n;
}

static struct oh_node *val_node(struct map_ev *ev, const struct val *v)
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
        /* a copy of its own: later rules may add members to it (`a = .`
         * then `a.b = ...`), which must not touch the input tree */
        n = copy_tree(ev->a, v->node);
        n->key = NULL;
        n->key_len = 0;
        return n;
    case V_NONE:
        break;
    }
    return oh_node_new(ev->a, OH_NODE_NULL);
}

static struct oh_node *member(struct map_ev *ev, struct oh_node *obj, const struct tstep *t,
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
static struct oh_node *holder(struct map_ev *ev, struct oh_node *obj, const struct tstep *t, size_t nt)
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

static void set_target(struct map_ev *ev, struct oh_node *obj, const struct rule *r, const struct val *v)
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


static int run_repeated(struct map_ev *ev, const struct rule *r, const struct oh_node *cur,
                        struct oh_node *out)
{
    struct val v;
    struct oh_node *arr;
    const struct val *items;
    size_t n;
    int rc;

    if ((rc = oh_map_eval(ev, r->e, cur, 1, &v)) < 0)
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
            oh_map_node_val(c, &ex[n++]);
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
        size_t outer = ev->index;
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
        ev->index = i;
        rc = oh_map_run_block(ev, r->blk, ctxn, el);
        ev->index = outer;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int oh_map_run_block(struct map_ev *ev, const struct block *b, const struct oh_node *cur,
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
        if ((rc = oh_map_eval(ev, r->e, cur, 0, &v)) < 0)
            return rc;
        if (oh_map_val_empty(&v))
            continue;
        set_target(ev, out, r, &v);
    }
    return 0;
}

