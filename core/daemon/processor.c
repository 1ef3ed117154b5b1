/* processor.c — see processor.h (invariants P1–P5). */
#include "processor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "canonical.h"
#include "edi_hooks.h"
#include "formats/formats.h"
#include "log.h"
#include "map/map.h"
#include "privacy.h"
#include "util.h"

struct item {
    char id[OH_SPOOL_ID_MAX];
    struct oh_spool_entry *e;
    struct oh_hub_channel *hc;
    json_t *records;       /* array of validated canonical orders */
    char sha[65];
    struct oh_edi_doc *edi; /* EDI partner channels: see edi_hooks.h */
    int failed;            /* permanent: goes to dead/ */
    int privacy;           /* format "privacy": handled by privacy.c, not mapped */
    enum { KIND_ORDER, KIND_SHIPMENT, KIND_INVENTORY } kind; /* of its records */
    char error[1024];
};

static void item_fail(struct item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void item_fail(struct item *it, const char *fmt, ...)
{
    va_list ap;
    it->failed = 1;
    va_start(ap, fmt);
    vsnprintf(it->error, sizeof(it->error), fmt, ap);
    va_end(ap);
}

struct collect {
    struct item *it;
    const char *mapname;
};

static int on_record(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    struct collect *c = ud;
    if (c->it->failed)
        return 0;
    if (!record) {
        item_fail(c->it, "record %zu: %s", index, rec_err ? rec_err->msg : "rejected by mapping");
        return 0;
    }
    json_array_append(c->it->records, record);
    return 0;
}

/* Canonical JSON input: one order object or an array of them. Parsed through
 * the document tree so money keeps its exact digits. */
static int decode_canonical(struct item *it, struct oh_arena *a, struct oh_err *err)
{
    const struct oh_format *f = oh_format_find("json");
    struct oh_format_opts o = { 0 };
    struct oh_node *root = NULL;
    json_t *j = NULL;
    int rc;

    if ((rc = f->decode(a, it->e->data, it->e->len, &o, &root, err)) < 0)
        goto done;
    if (!(j = oh_node_to_canonical_json(root))) {
        rc = oh_err_set(err, OH_ERROR, "canonical JSON: out of memory building the order");
        goto done;
    }
    if (json_is_object(j)) {
        json_array_append_new(it->records, j);
        j = NULL;
    } else if (json_is_array(j)) {
        json_array_extend(it->records, j);
    } else {
        rc = oh_err_set(err, OH_EINVAL, "canonical input must be an order object or an array of orders");
    }
done:
    json_decref(j);
    oh_arena_recycle(a); /* the tree is gone; its largest block serves the next document */
    return rc;
}

/* Everything that needs no store: decode, map, validate. a: scratch for the
 * decoder, empty on return. */
static void prepare(struct oh_hub *h, struct item *it, struct oh_arena *a)
{
    const struct oh_spool_meta *m = &it->e->meta;
    struct oh_err err;
    size_t i;
    json_t *rec;

    oh_err_clear(&err);
    oh_sha256_hex(it->e->data, it->e->len, it->sha);
    it->records = json_array();
    if (strcmp(m->format, "error") == 0) {
        item_fail(it, "%s", m->error[0] ? m->error : "rejected at the source");
        return;
    }
    if (!(it->hc = oh_hub_channel(h, m->channel))) {
        item_fail(it, "channel '%s' is not in the configuration", m->channel);
        return;
    }
    if (it->hc->ch.max_doc_size > 0 && (int64_t)it->e->len > it->hc->ch.max_doc_size) {
        item_fail(it, "document is %zu bytes, over max_document_size %lld", it->e->len,
                  (long long)it->hc->ch.max_doc_size);
        return;
    }
    if (strcmp(m->format, "privacy") == 0) { /* privacy webhooks: see privacy.h */
        it->privacy = 1;
        return;
    }
    if (oh_edi_hook_wants(it->hc)) {
        int acks_only = 0;
        if (oh_edi_hook_prepare(it->hc, it->e->data, it->e->len, &it->edi, &acks_only, &err) < 0) {
            item_fail(it, "%s", err.msg);
            return;
        }
        if (acks_only)
            return;
    }
    if (it->hc->map) {
        struct oh_map_ctx ctx = { m->channel, m->received_at, m->source };
        struct collect c = { it, oh_map_name(it->hc->map) };
        if (oh_map_run(it->hc->map, it->e->data, it->e->len, &ctx, on_record, &c, &err) < 0) {
            item_fail(it, "%s", err.msg);
            return;
        }
        if (it->failed)
            return;
    } else if (strcmp(m->format, "canonical") == 0) {
        if (decode_canonical(it, a, &err) < 0) {
            item_fail(it, "%s", err.msg);
            return;
        }
    } else {
        item_fail(it, "format '%s' needs a mapping on channel %s", m->format, m->channel);
        return;
    }
    if (it->hc->map) {
        const char *to = oh_map_to(it->hc->map);
        it->kind = strcmp(to, "shipment") == 0    ? KIND_SHIPMENT
                   : strcmp(to, "inventory") == 0 ? KIND_INVENTORY
                                                  : KIND_ORDER;
    } else { /* canonical JSON: a shipment names its order, stock has no external id */
        const json_t *first = json_array_get(it->records, 0);
        it->kind = json_object_get(first, "order_ref")                      ? KIND_SHIPMENT
                   : first && !json_object_get(first, "external_id") &&
                           json_object_get(first, "sku")                    ? KIND_INVENTORY
                                                                            : KIND_ORDER;
    }
    json_array_foreach(it->records, i, rec) {
        const char *what = it->kind == KIND_SHIPMENT ? "shipment" : "inventory record";
        int rc = 0;
        if (it->kind == KIND_SHIPMENT)
            rc = oh_canonical_shipment_check(rec, m->channel, &err);
        else if (it->kind == KIND_INVENTORY)
            rc = oh_canonical_inventory_check(rec, m->channel, &err);
        if (rc < 0) {
            const char *ext = json_string_value(
                json_object_get(rec, it->kind == KIND_SHIPMENT ? "external_id" : "sku"));
            item_fail(it, "%s %zu%s%s%s: %s", what, i, ext ? " (" : "", ext ? ext : "",
                      ext ? ")" : "", err.msg);
            return;
        }
        if (it->kind != KIND_ORDER)
            continue;
        if (oh_canonical_order_check(rec, m->channel, &err) < 0) {
            const char *ext = json_string_value(json_object_get(rec, "external_id"));
            if (json_array_size(it->records) > 1)
                item_fail(it, "order %zu%s%s%s: %s", i, ext ? " (" : "", ext ? ext : "",
                          ext ? ")" : "", err.msg);
            else
                item_fail(it, "%s", err.msg);
            return;
        }
    }
}

/* The outbox rows of a run of plain documents, written with one statement
 * at its end (store_plain) instead of one INSERT per event. It owns the
 * payloads and event names its rows point to. */
struct evq {
    struct oh_outbox_row *rows;
    size_t n, cap;
    char **owned;
    size_t nown, owncap;
};

static char *evq_own(struct evq *q, char *s)
{
    if (!s)
        abort();
    if (q->nown == q->owncap) {
        q->owncap = q->owncap ? 2 * q->owncap : 64;
        if (!(q->owned = realloc(q->owned, q->owncap * sizeof(*q->owned))))
            abort();
    }
    q->owned[q->nown++] = s;
    return s;
}

static void evq_push(struct evq *q, const struct oh_outbox_row *r)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 64;
        if (!(q->rows = realloc(q->rows, q->cap * sizeof(*q->rows))))
            abort();
    }
    q->rows[q->n++] = *r;
}

static void evq_free(struct evq *q)
{
    for (size_t i = 0; i < q->nown; i++)
        free(q->owned[i]);
    free(q->owned);
    free(q->rows);
    memset(q, 0, sizeof(*q));
}

struct emit {
    struct oh_store *st;
    const char *event, *origin;
    int64_t order_id;
    const json_t *order;
    char *payload; /* serialised once, on the first route that takes it */
    int rc;
    size_t n;
    struct oh_err *err;
    struct evq *q;       /* NULL: insert each row now */
    const char *qevent;  /* the queue's copy of event */
};

static void emit_one(const char *target, void *ud)
{
    struct emit *e = ud;
    if (e->rc < 0)
        return;
    if (!e->payload && !(e->payload = json_dumps(e->order, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        abort();
    if (e->q) {
        struct oh_outbox_row r = { NULL, target, e->origin, e->order_id, e->payload };
        if (!e->qevent)
            e->qevent = evq_own(e->q, strdup(e->event));
        r.event = e->qevent;
        evq_push(e->q, &r);
        e->n++;
        return;
    }
    e->rc = oh_store_outbox_add(e->st, e->event, target, e->origin, e->order_id, e->payload, NULL,
                                e->err);
    if (e->rc == 0)
        e->n++;
}

static int emit_q(struct oh_hub *h, struct oh_store *st, struct evq *q, const char *event,
                  const char *origin, int64_t order_id, const json_t *order, size_t *count,
                  struct oh_err *err)
{
    struct emit e = { st, event, origin, order_id, order, NULL, 0, 0, err, q, NULL };
    oh_hub_route(h, event, origin, emit_one, &e);
    if (q && e.payload)
        evq_own(q, e.payload); /* the queued rows point to it */
    else
        free(e.payload);
    *count += e.n;
    return e.rc;
}

static int emit(struct oh_hub *h, struct oh_store *st, const char *event, const char *origin,
                int64_t order_id, const json_t *order, size_t *count, struct oh_err *err)
{
    return emit_q(h, st, NULL, event, origin, order_id, order, count, err);
}

struct tally {
    size_t stored, unchanged, stale, events;
};

/* Events and counts for one upsert result of document it. eq: queue the
 * outbox rows there (NULL: insert them now). */
static int on_result(struct oh_hub *h, struct oh_store *st, struct evq *eq, struct item *it,
                     const json_t *rec, const struct oh_upsert_result *r, struct tally *t,
                     struct oh_err *err)
{
    const struct oh_spool_meta *m = &it->e->meta;
    const char *ext = json_string_value(json_object_get(rec, "external_id"));
    char ev[64], q[256];
    int rc;

    switch (r->what) {
    case OH_UPSERT_INSERTED:
        t->stored++;
        if ((rc = emit_q(h, st, eq, "order.created", m->channel, r->order_id, rec, &t->events,
                         err)) < 0)
            return rc;
        if (strcmp(r->new_status, "pending") != 0) {
            snprintf(ev, sizeof(ev), "order.%s", r->new_status);
            if ((rc = emit_q(h, st, eq, ev, m->channel, r->order_id, rec, &t->events, err)) < 0)
                return rc;
        }
        break;
    case OH_UPSERT_UPDATED:
        t->stored++;
        if ((rc = emit_q(h, st, eq, "order.updated", m->channel, r->order_id, rec, &t->events,
                         err)) < 0)
            return rc;
        if (strcmp(r->old_status, r->new_status) != 0) {
            snprintf(ev, sizeof(ev), "order.%s", r->new_status);
            if ((rc = emit_q(h, st, eq, ev, m->channel, r->order_id, rec, &t->events, err)) < 0)
                return rc;
        }
        break;
    case OH_UPSERT_UNCHANGED: t->unchanged++; break;
    case OH_UPSERT_STALE:
        t->stale++;
        oh_info("order.stale", "channel=%s external_id=%s spool_id=%s", m->channel,
                oh_logq(q, sizeof(q), ext), it->id);
        break;
    }
    return 0;
}

/* After the orders of document it: what became of it, and the counts. */
static int finish_doc(struct oh_store *st, struct item *it, int64_t doc_id, const struct tally *t,
                      struct oh_proc_stats *stats, struct oh_err *err)
{
    const struct oh_spool_meta *m = &it->e->meta;
    struct oh_store_doc d = { m->channel, it->id, it->sha, m->source, m->format, m->received_at };
    int rc;

    if (t->stored == 0 && (t->unchanged || t->stale)) {
        /* record what became of the document: nothing new in it */
        if ((rc = oh_store_document_put(st, &d, t->stale && !t->unchanged ? "stale" : "unchanged",
                                        NULL, &doc_id, err)) < 0)
            return rc;
    }
    stats->stored += t->stored;
    stats->unchanged += t->unchanged;
    stats->stale += t->stale;
    stats->events += t->events;
    return 0;
}

/* The shipments of document it. Events go out with the order's channel as
 * their origin, so `to = @origin` sends tracking back where the order came
 * from: shipment.created / shipment.updated carry the shipment with the
 * whole stored order under "order"; a status change adds order.STATUS. */
static int store_shipments(struct oh_hub *h, struct oh_store *st, struct item *it, int64_t doc_id,
                           struct oh_proc_stats *stats, struct oh_err *err)
{
    const struct oh_spool_meta *m = &it->e->meta;
    struct tally t = { 0 };
    size_t i;
    json_t *rec;
    int rc;

    json_array_foreach(it->records, i, rec) {
        struct oh_shipment_result r;
        const char *ext = json_string_value(json_object_get(rec, "external_id"));
        json_t *order = NULL, *payload = NULL;
        char hash[65], ev[64];

        oh_canonical_hash(rec, hash);
        if ((rc = oh_store_upsert_shipment(st, m->channel, rec, hash, doc_id, &r, err)) < 0) {
            oh_err_prefix(err, "shipment %s", ext);
            return rc;
        }
        if (r.what == OH_UPSERT_UNCHANGED) {
            t.unchanged++;
            continue;
        }
        t.stored++;
        if ((rc = oh_store_order_get_by_id(st, r.order_id, &order, err)) < 0)
            return rc;
        payload = json_deep_copy(rec);
        json_object_set(json_object_get(payload, "order_ref"), "channel",
                        json_object_get(order, "channel"));
        json_object_set(payload, "order", order);
        rc = emit(h, st, r.what == OH_UPSERT_INSERTED ? "shipment.created" : "shipment.updated",
                  r.order_channel, r.order_id, payload, &t.events, err);
        if (rc == 0 && strcmp(r.old_status, r.new_status) != 0) {
            snprintf(ev, sizeof(ev), "order.%s", r.new_status);
            rc = emit(h, st, ev, r.order_channel, r.order_id, order, &t.events, err);
        }
        oh_info(r.what == OH_UPSERT_INSERTED ? "shipment.stored" : "shipment.updated",
                "channel=%s external_id=%s order_channel=%s order_id=%lld order_status=%s",
                m->channel, ext, r.order_channel, (long long)r.order_id, r.new_status);
        json_decref(payload);
        json_decref(order);
        if (rc < 0)
            return rc;
    }
    return finish_doc(st, it, doc_id, &t, stats, err);
}

/* The stock levels of document it: a changed level sends inventory.changed
 * (the record, with available) from the reporting channel. */
static int store_inventory(struct oh_hub *h, struct oh_store *st, struct item *it, int64_t doc_id,
                           struct oh_proc_stats *stats, struct oh_err *err)
{
    const struct oh_spool_meta *m = &it->e->meta;
    struct tally t = { 0 };
    size_t i;
    json_t *rec;
    int rc;

    json_array_foreach(it->records, i, rec) {
        enum oh_upsert what;
        const char *sku = json_string_value(json_object_get(rec, "sku"));
        if ((rc = oh_store_upsert_inventory(st, rec, &what, err)) < 0) {
            oh_err_prefix(err, "inventory %s", sku);
            return rc;
        }
        if (what == OH_UPSERT_UNCHANGED) {
            t.unchanged++;
        } else if (what == OH_UPSERT_STALE) {
            t.stale++;
        } else {
            t.stored++;
            if ((rc = emit(h, st, "inventory.changed", m->channel, 0, rec, &t.events, err)) < 0)
                return rc;
        }
    }
    return finish_doc(st, it, doc_id, &t, stats, err);
}

/* Stores one prepared document inside the open transaction. */
static int store_item(struct oh_hub *h, struct oh_store *st, struct item *it,
                      struct oh_proc_stats *stats, struct oh_err *err)
{
    const struct oh_spool_meta *m = &it->e->meta;
    struct oh_store_doc d = { m->channel, it->id, it->sha, m->source, m->format, m->received_at };
    int64_t doc_id = 0;
    size_t i;
    struct tally t = { 0 };
    json_t *rec;
    int rc;

    if (it->privacy)
        return oh_privacy_store(h, st, it->e, it->id, it->sha, err);
    if (it->edi) {
        int duplicate = 0;
        if ((rc = oh_edi_hook_store(st, it->hc, it->edi, it->id, &duplicate, err)) < 0)
            return rc;
        if (duplicate) /* reported by the hook; the first copy was stored */
            return oh_store_document_put(st, &d, "duplicate", "interchange seen before", &doc_id,
                                         err);
    }
    if ((rc = oh_store_document_put(st, &d, "stored", NULL, &doc_id, err)) < 0)
        return rc;
    if (it->kind == KIND_SHIPMENT)
        return store_shipments(h, st, it, doc_id, stats, err);
    if (it->kind == KIND_INVENTORY)
        return store_inventory(h, st, it, doc_id, stats, err);
    json_array_foreach(it->records, i, rec) {
        struct oh_upsert_result r;
        char hash[65];
        const char *ext = json_string_value(json_object_get(rec, "external_id"));

        oh_canonical_hash(rec, hash);
        if ((rc = oh_store_upsert_order(st, m->channel, rec, hash, doc_id, &r, err)) < 0) {
            oh_err_prefix(err, "order %s", ext);
            return rc;
        }
        if ((rc = on_result(h, st, NULL, it, rec, &r, &t, err)) < 0)
            return rc;
    }
    return finish_doc(st, it, doc_id, &t, stats, err);
}

/* Fast path for the plain documents items[from, to) (no EDI, no privacy, not
 * failed): one documents upsert for all, then their orders a run at a time
 * through oh_store_upsert_orders (a run: one channel, no external id twice),
 * then events and counts in document order, as store_item gives them. */
#define RUN_MAX 512
/* passes over one batch before a retryable failure gives it back to the spool */
#define BATCH_TRIES 4
static int store_plain(struct oh_hub *h, struct oh_store *st, struct item *items, size_t from,
                       size_t to, struct oh_proc_stats *stats, struct oh_err *err)
{
    size_t nd = to - from, nr = 0, r = 0, start;
    struct oh_store_doc *docs = calloc(nd, sizeof(*docs));
    int64_t *ids = calloc(nd, sizeof(*ids));
    json_t **recs = NULL;
    char (*hash)[65] = NULL;
    const char **hp = NULL;
    int64_t *dids = NULL;
    size_t *owner = NULL;
    struct oh_upsert_result *res = NULL;
    struct evq evq = { 0 };
    struct oh_keyidx run_keys = { 0 };
    int rc = 0;

    if (!docs || !ids)
        abort();
    for (size_t d = 0; d < nd; d++) {
        struct item *it = &items[from + d];
        const struct oh_spool_meta *m = &it->e->meta;
        struct oh_store_doc x = { m->channel, it->id, it->sha, m->source, m->format, m->received_at };
        docs[d] = x;
        nr += json_array_size(it->records);
    }
    if ((rc = oh_store_documents_put(st, docs, nd, "stored", ids, err)) < 0)
        goto done;
    recs = calloc(nr + 1, sizeof(*recs));
    hash = calloc(nr + 1, sizeof(*hash));
    hp = calloc(nr + 1, sizeof(*hp));
    dids = calloc(nr + 1, sizeof(*dids));
    owner = calloc(nr + 1, sizeof(*owner));
    res = calloc(nr + 1, sizeof(*res));
    if (!recs || !hash || !hp || !dids || !owner || !res)
        abort();
    for (size_t d = 0; d < nd; d++) {
        size_t i;
        json_t *rec;
        json_array_foreach(items[from + d].records, i, rec) {
            recs[r] = rec;
            oh_canonical_hash(rec, hash[r]);
            hp[r] = hash[r];
            dids[r] = ids[d];
            owner[r] = d;
            r++;
        }
    }
    for (start = 0; start < nr;) {
        const char *ch = items[from + owner[start]].e->meta.channel;
        const json_t *x0 = json_object_get(recs[start], "external_id");
        size_t end = start + 1;
        oh_keyidx_clear(&run_keys);
        if (json_is_string(x0))
            oh_keyidx_put(&run_keys, json_string_value(x0), json_string_length(x0), 0);
        while (end < nr && end - start < RUN_MAX &&
               strcmp(items[from + owner[end]].e->meta.channel, ch) == 0) {
            const json_t *x = json_object_get(recs[end], "external_id");
            if (json_is_string(x) &&
                oh_keyidx_put(&run_keys, json_string_value(x), json_string_length(x), 0) >= 0)
                break; /* a repeat: it sees this run's rows in the next one */
            end++;
        }
        if ((rc = oh_store_upsert_orders(st, ch, recs + start, hp + start, dids + start,
                                         end - start, res + start, err)) < 0)
            goto done;
        start = end;
    }
    for (size_t d = 0, q = 0; d < nd; d++) {
        struct item *it = &items[from + d];
        struct tally t = { 0 };
        for (; q < nr && owner[q] == d; q++)
            if ((rc = on_result(h, st, &evq, it, recs[q], &res[q], &t, err)) < 0)
                goto done;
        if ((rc = finish_doc(st, it, ids[d], &t, stats, err)) < 0)
            goto done;
    }
    /* the run's events: one statement, same rows and order as one by one */
    if ((rc = oh_store_outbox_add_many(st, evq.rows, evq.n, err)) < 0)
        goto done;
done:
    evq_free(&evq);
    oh_keyidx_free(&run_keys);
    free(docs);
    free(ids);
    free(recs);
    free(hash);
    free(hp);
    free(dids);
    free(owner);
    free(res);
    return rc;
}


static int put_dead_row(struct oh_store *st, struct item *it, struct oh_err *err)
{
    const struct oh_spool_meta *m = &it->e->meta;
    struct oh_store_doc d = { m->channel, it->id, it->sha, m->source, m->format, m->received_at };
    return oh_store_document_put(st, &d, "dead", it->error, NULL, err);
}

static void release_all(struct oh_hub *h, struct item *items, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        struct oh_err e;
        if (oh_spool_defer(h->spool, items[i].id, why, &e) < 0)
            oh_error("spool.defer_failed", "spool_id=%s error=\"%s\"", items[i].id, e.msg);
    }
}

/* One transaction over the prepared batch. careful = a savepoint per
 * document. Returns 0 committed; 1 a document failed permanently on the
 * fast path (nothing committed, the caller redoes the batch carefully);
 * negative: retryable, nothing committed. */
static int store_batch(struct oh_hub *h, struct oh_store *st, struct item *items, size_t n,
                       int careful, struct oh_proc_stats *stats, struct oh_err *err)
{
    int rc;
    size_t plain = 0; /* fast path: start of the pending run of plain documents */

    if ((rc = oh_store_begin(st, err)) < 0)
        return rc;
    for (size_t i = 0; i <= n; i++) {
        struct item *it = &items[i < n ? i : 0];
        struct oh_err e;
        oh_err_clear(&e);
        if (!careful && i < n && !it->failed && !it->privacy && !it->edi &&
            it->kind == KIND_ORDER)
            continue; /* plain: stored together with its neighbours */
        if (!careful && plain < i) {
            rc = store_plain(h, st, items, plain, i, stats, &e);
            if (rc < 0 && e.retryable) {
                *err = e;
                return rc;
            }
            if (rc < 0) {
                *err = e;
                return 1;
            }
        }
        plain = i + 1;
        if (i == n)
            break;
        if (it->failed) {
            if ((rc = put_dead_row(st, it, err)) < 0)
                return rc;
            continue;
        }
        if (careful && (rc = oh_store_savepoint(st, err)) < 0)
            return rc;
        rc = store_item(h, st, it, stats, &e);
        if (rc < 0 && e.retryable) {
            *err = e;
            return rc;
        }
        if (rc < 0 && !careful) {
            *err = e;
            return 1;
        }
        if (rc < 0) {
            /* P2: this document alone */
            if ((rc = oh_store_rollback_savepoint(st, err)) < 0)
                return rc;
            item_fail(it, "store: %s", e.msg);
            if ((rc = put_dead_row(st, it, err)) < 0)
                return rc;
        } else if (careful && (rc = oh_store_release_savepoint(st, err)) < 0) {
            return rc;
        }
    }
    return oh_store_commit(st, err);
}

/* A batch's item array and scratch arena, kept for the next batch: a batch
 * of 256 items is about 300 KiB, and glibc consolidates every thread's
 * freed small chunks whenever a chunk that big is freed (malloc_consolidate
 * was 8 % of a worker's time). A few are kept, for the workers that run at
 * once; the rest are freed. */
struct batch_buf {
    struct batch_buf *next;
    struct item *items;
    size_t cap;
    struct oh_arena *scratch;
};

#define BATCH_BUFS_KEPT 16
static pthread_mutex_t bufs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct batch_buf *bufs_free;
static size_t bufs_nfree;

static struct batch_buf *buf_take(size_t cap)
{
    struct batch_buf *b;

    pthread_mutex_lock(&bufs_mu);
    if ((b = bufs_free)) {
        bufs_free = b->next;
        bufs_nfree--;
    }
    pthread_mutex_unlock(&bufs_mu);
    if (!b) {
        if (!(b = calloc(1, sizeof(*b))) || !(b->scratch = oh_arena_new(0)))
            abort();
    }
    if (b->cap < cap) {
        free(b->items);
        if (!(b->items = malloc(cap * sizeof(*b->items))))
            abort();
        b->cap = cap;
    }
    memset(b->items, 0, cap * sizeof(*b->items));
    return b;
}

static void buf_give(struct batch_buf *b)
{
    oh_arena_reset(b->scratch);
    pthread_mutex_lock(&bufs_mu);
    if (bufs_nfree < BATCH_BUFS_KEPT) {
        b->next = bufs_free;
        bufs_free = b;
        bufs_nfree++;
        b = NULL;
    }
    pthread_mutex_unlock(&bufs_mu);
    if (b) {
        free(b->items);
        oh_arena_free(b->scratch);
        free(b);
    }
}

int oh_process_batch(struct oh_hub *h, struct oh_store *st, struct oh_proc_stats *stats,
                     struct oh_err *err)
{
    size_t cap = (size_t)h->set.batch, n = 0;
    struct batch_buf *buf = buf_take(cap);
    struct item *items = buf->items;
    struct oh_arena *scratch = buf->scratch; /* recycled per document */
    int rc = 0;
    char q[1100];

    /* claim and prepare (no store work yet) */
    while (n < cap) {
        struct item *it = &items[n];
        struct oh_err e;
        rc = oh_spool_claim(h->spool, it->id, &e);
        if (rc == OH_ENOTFOUND) {
            rc = 0;
            break;
        }
        if (rc < 0) {
            oh_error("spool.claim_failed", "error=%s", oh_logq(q, sizeof(q), e.msg));
            rc = 0;
            break;
        }
        if (oh_spool_load(h->spool, it->id, &it->e, &e) < 0) {
            oh_error("spool.load_failed", "spool_id=%s error=%s", it->id, oh_logq(q, sizeof(q), e.msg));
            oh_spool_kill(h->spool, it->id, e.msg, NULL);
            continue;
        }
        n++;
        prepare(h, it, scratch);
    }
    stats->claimed += n;
    if (n == 0)
        goto done;

    /* Fast path: the whole batch without savepoints (two round trips per
     * document fewer). If a document fails permanently, the transaction is
     * rolled back and the batch redone with a savepoint per document, so the
     * bad one is isolated and its neighbours commit (P2). */
    for (int careful = 0, tries = 0; careful < 2; careful++) {
        struct oh_proc_stats run = { 0 };
        rc = store_batch(h, st, items, n, careful, &run, err);
        if (rc == 1 && !careful) {
            /* one of them is bad (it goes to dead/ below) or the fast path
             * met something it leaves to the careful one */
            oh_store_rollback(st);
            oh_info("store.batch_careful", "documents=%zu error=%s", n,
                    oh_logq(q, sizeof(q), err->msg));
            oh_err_clear(err);
            continue;
        }
        if (rc < 0 && err->retryable && ++tries < BATCH_TRIES) {
            /* A deadlock or lock wait timeout between workers is routine
             * under concurrency; a lost connection reconnects on the next
             * call. Either way nothing was committed: redo the same pass
             * after a short, jittered pause before giving the batch back. */
            oh_store_rollback(st);
            oh_info("store.batch_retry", "documents=%zu try=%d error=%s", n, tries + 1,
                    oh_logq(q, sizeof(q), err->msg));
            oh_sleep_ms(oh_backoff_ms(tries - 1, 20, 500));
            careful--;
            continue;
        }
        if (rc < 0)
            goto retry_all;
        stats->stored += run.stored;
        stats->unchanged += run.unchanged;
        stats->stale += run.stale;
        stats->events += run.events;
        break;
    }
    /* P4: only now does the spool let go */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        struct oh_err e;
        if (it->failed) {
            stats->dead++;
            char qe[1100];
            oh_warn("document.dead", "channel=%s spool_id=%s source=%s error=%s",
                    it->e->meta.channel, it->id, oh_logq(q, sizeof(q), it->e->meta.source),
                    oh_logq(qe, sizeof(qe), it->error));
            if (oh_spool_kill(h->spool, it->id, it->error, &e) < 0)
                oh_error("spool.kill_failed", "spool_id=%s error=\"%s\"", it->id, e.msg);
        } else if (oh_spool_done(h->spool, it->id, &e) < 0) {
            oh_error("spool.done_failed", "spool_id=%s error=\"%s\"", it->id, e.msg);
        }
    }
    rc = 0;
    goto done;

retry_all:
    /* P3: the store is unavailable or the transaction failed as a whole */
    oh_store_rollback(st);
    oh_warn("store.batch_failed", "documents=%zu error=%s", n, oh_logq(q, sizeof(q), err->msg));
    release_all(h, items, n, err->msg);
    stats->deferred += n;
    if (!err->retryable)
        err->retryable = 1;
    rc = OH_EAGAIN;
done:
    for (size_t i = 0; i < n; i++) {
        oh_spool_entry_free(items[i].e);
        json_decref(items[i].records);
        oh_edi_doc_free(items[i].edi);
    }
    buf_give(buf);
    return rc;
}
