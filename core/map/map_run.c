/*
 * map_run.c — runs a compiled plan on documents: decode, split into records
 * (`each`, `group-by`), evaluate (map_eval.c), hand each record to the
 * caller as jansson (inbound) or encode it with the `to` format (outbound).
 * One arena per call holds the decoded tree and every intermediate value and
 * is emptied before returning (arenas are kept by the plan between calls,
 * one per concurrent caller, so that a document costs no malloc); records
 * passed to the callback are the callback's to keep (json_incref) or drop.
 * oh_map_run_text hands out the same records as text (map_out.c).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "canonical.h"
#include "map/map_int.h"

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

static int one_record(struct map_ev *ev, const struct oh_node *rec, struct oh_node **out)
{
    struct oh_node *o = oh_node_new(ev->a, ev->m->root_array ? OH_NODE_ARRAY : OH_NODE_OBJECT);
    int rc;
    ev->record = rec;
    if ((rc = oh_map_run_block(ev, &ev->m->top, rec, o)) < 0)
        return rc;
    *out = o;
    return 0;
}

static json_t *record_json(struct map_ev *ev, const struct oh_node *o)
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

/* --- kept arenas ------------------------------------------------------------- */

struct map_scratch {
    struct map_scratch *next;
    struct oh_arena *a;
    struct map_text text;
};

#define SCRATCH_KEEP (4u << 20) /* an arena that grew past this is not kept */

static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;

static struct map_scratch *scratch_get(const struct oh_map *m)
{
    struct oh_map *mm = (struct oh_map *)m; /* the list is the one mutable part, under the lock */
    struct map_scratch *sc;

    pthread_mutex_lock(&scratch_lock);
    if ((sc = mm->scratch))
        mm->scratch = sc->next;
    pthread_mutex_unlock(&scratch_lock);
    if (sc)
        return sc;
    if (!(sc = calloc(1, sizeof(*sc)))) {
        fprintf(stderr, "orderhub: out of memory\n");
        abort();
    }
    sc->a = oh_arena_new(0);
    return sc;
}

static void scratch_drop(struct map_scratch *sc)
{
    oh_arena_free(sc->a);
    free(sc->text.p);
    free(sc);
}

static void scratch_put(const struct oh_map *m, struct map_scratch *sc)
{
    struct oh_map *mm = (struct oh_map *)m;

    if (oh_arena_used(sc->a) > SCRATCH_KEEP || sc->text.cap > SCRATCH_KEEP) {
        scratch_drop(sc);
        return;
    }
    oh_arena_recycle(sc->a);
    pthread_mutex_lock(&scratch_lock);
    sc->next = mm->scratch;
    mm->scratch = sc;
    pthread_mutex_unlock(&scratch_lock);
}

void oh_map_scratch_free(struct oh_map *m)
{
    struct map_scratch *sc = m->scratch, *n;
    for (; sc; sc = n) {
        n = sc->next;
        scratch_drop(sc);
    }
    m->scratch = NULL;
}

/* --- running ------------------------------------------------------------------ */

/* Where records go: jansson values (jcb) or text (tcb). */
struct sink {
    oh_map_record_cb jcb;
    oh_map_text_cb tcb;
    void *ud;
    struct map_text *text;
};

static int emit(struct map_ev *ev, const struct oh_node *rec, size_t idx, struct sink *k)
{
    struct oh_err rerr = {0};
    struct oh_node *o = NULL;
    json_t *j;
    int rc;

    ev->err = &rerr;
    if (one_record(ev, rec, &o) < 0)
        return k->jcb ? k->jcb(k->ud, idx, NULL, &rerr) : k->tcb(k->ud, idx, NULL, 0, &rerr);
    if (k->tcb) {
        if ((rc = oh_map_write_record(ev, o, k->text)) == OH_EAGAIN) {
            char *s;
            if (!(j = record_json(ev, o)) || !(s = json_dumps(j, JSON_COMPACT))) {
                json_decref(j);
                return -1;
            }
            json_decref(j);
            k->text->len = 0;
            free(k->text->p);
            k->text->p = s;
            k->text->len = strlen(s);
            k->text->cap = k->text->len + 1;
        } else if (rc < 0) {
            return rc;
        }
        return k->tcb(k->ud, idx, k->text->p, k->text->len, NULL);
    }
    if (!(j = record_json(ev, o)))
        return -1;
    rc = k->jcb(k->ud, idx, j, NULL);
    json_decref(j);
    return rc;
}

static int run(const struct oh_map *m, const char *format, const char *data, size_t len,
               const struct oh_map_ctx *ctx, struct sink *k, struct oh_err *err)
{
    struct map_scratch *sc = scratch_get(m);
    struct oh_arena *a = sc->a;
    struct map_ev ev = {.m = m, .a = a, .ctx = ctx};
    const char *fname = format ? format : m->from_is_kind ? "json" : m->from;
    const struct oh_format *f = oh_format_find(fname);
    const struct oh_format_opts *opts = (!format || strcmp(format, m->from) == 0) ? &m->from_opts : NULL;
    struct oh_node *root = NULL;
    struct map_nset recs = {.a = a};
    int rc = 0;

    k->text = &sc->text;
    if (!f || !f->decode) {
        rc = oh_err_set(err, OH_EINVAL, "%s: cannot read format %s", m->short_name, fname);
        goto done;
    }
    if ((rc = f->decode(a, data, len, opts, &root, err)) < 0)
        goto done;
    ev.doc = root;
    if (!m->each && !m->group_by && strcmp(fname, "csv") == 0 && root->type == OH_NODE_ARRAY &&
        root->first && root->first->next) {
        /* One record from the whole file would read the first row and drop
         * the others without a word. */
        size_t rows = 0;
        for (const struct oh_node *c = root->first; c; c = c->next)
            rows++;
        rc = oh_err_set(err, OH_EINVAL,
                        "%s: the CSV has %zu rows but the mapping has neither each nor "
                        "group-by, so it would make one record from the first row and drop "
                        "the rest (each .[] makes a record per row, group-by one per group)",
                        m->short_name, rows);
        goto done;
    }
    if (m->each) {
        oh_map_walk(m->each->steps, m->each->nsteps, root, &recs);
    } else if (m->group_by && root->type == OH_NODE_ARRAY) {
        for (const struct oh_node *c = root->first; c; c = c->next)
            oh_map_nset_push(&recs, c);
    } else {
        oh_map_nset_push(&recs, root);
    }
    if (!m->group_by) {
        for (size_t i = 0; i < recs.n; i++)
            if ((rc = emit(&ev, recs.v[i], i, k)) != 0)
                goto done;
        goto done;
    }
    for (size_t i = 0, idx = 0; i < recs.n; idx++) {
        struct val k0, k1;
        struct oh_node *rec, *rows;
        size_t j = i + 1;
        oh_map_eval_path(&ev, m->group_by, recs.v[i], 0, &k0);
        for (; j < recs.n; j++) {
            oh_map_eval_path(&ev, m->group_by, recs.v[j], 0, &k1);
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
        if ((rc = emit(&ev, rec, idx, k)) != 0)
            goto done;
        i = j;
    }
done:
    scratch_put(m, sc);
    return rc;
}

int oh_map_run_as(const struct oh_map *m, const char *format, const char *data, size_t len,
                  const struct oh_map_ctx *ctx, oh_map_record_cb cb, void *ud, struct oh_err *err)
{
    struct sink k = {.jcb = cb, .ud = ud};
    return run(m, format, data, len, ctx, &k, err);
}

int oh_map_run_text(const struct oh_map *m, const char *format, const char *data, size_t len,
                    const struct oh_map_ctx *ctx, oh_map_text_cb cb, void *ud, struct oh_err *err)
{
    struct sink k = {.tcb = cb, .ud = ud};
    return run(m, format, data, len, ctx, &k, err);
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
    struct map_ev ev = {.m = m, .a = a, .ctx = ctx, .err = err};
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

