/*
 * web.c — see web.h.
 *
 * Webhook path, per request: borrow a store connection (a pool as large as
 * the HTTP thread pool, so steady load never opens connections), run the
 * channel's connector with this file's channel ops (below), then remember
 * the keys the connector asked to remember — in one shared round with the
 * other requests finishing at the same time — and only then send the answer.
 *
 * Group remember. A connector calls ops->remember only after its body is
 * durable in the spool (or for a duplicate). Here that call only notes the
 * key; when the connector returns, the request's keys join a queue of
 * "remember rounds" built like the spool's directory fsync rounds: rounds
 * are numbered, a request needs a round that started after its keys were
 * queued, and whichever request finds no round running writes every queued
 * key with one oh_store_remember_many (one bulk statement, one commit) for
 * all of them. The answer goes out after that round, so what a 200 promised
 * before still holds: body durable first, webhook id in the store before
 * the answer. A failed round only costs what a failed oh_store_remember
 * cost before (logged; a redelivery may spool the body again, which the
 * idempotent store absorbs). A crash between spooling and remembering
 * therefore risks a duplicate, never a lost order.
 *
 * /metrics: Prometheus text format 0.0.4. Spool counts are read on every
 * scrape; the store's counts (one query, oh_store_stats) are cached for
 * METRICS_TTL_MS, and after a failure the store is not asked again for that
 * long either, so a scrape answers quickly with orderhub_store_up 0 and
 * without the store's series when the database is down.
 */
#include "web.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/edi/edi_channel.h"
#include "http/http.h"
#include "log.h"
#include "util.h"

#define POOL_MIN 4
#define POOL_PER_CONN_MAX 64
#define HOOK_KEYS_MAX 8     /* keys one webhook may remember (connectors use 2) */
#define COUNTERS_MAX 512    /* (channel, code) pairs counted */
#define METRICS_TTL_MS 5000

/* Remember rounds (see the file comment). */
struct rround {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct oh_seen_key *q; /* queued keys, borrowed from waiting requests */
    size_t n, cap;
    uint64_t started, completed;
    int running;
    uint64_t last_failed;
    char failmsg[sizeof(((struct oh_err *)0)->msg)];
};

struct counter {
    char channel[128];
    int code;
    unsigned long long n;
};

struct oh_web {
    struct oh_hub *hub;
    struct oh_http_server *srv;
    pthread_mutex_t mu; /* guards the pool, the counters and the stats cache */
    struct oh_store **pool;
    size_t npool, pool_max;
    struct rround rr;

    struct counter *counters;
    size_t ncounters;

    pthread_mutex_t stats_mu; /* held while the counts are refreshed */
    json_t *stats;        /* last oh_store_stats, NULL when it failed */
    int64_t stats_at;     /* monotonic ms of the last attempt (0: none) */
};

/* ---- store pool --------------------------------------------------------- */

static struct oh_store *borrow(struct oh_web *w, struct oh_err *err)
{
    struct oh_store *st = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->npool)
        st = w->pool[--w->npool];
    pthread_mutex_unlock(&w->mu);
    if (!st && oh_hub_store_open(w->hub, &st, err) < 0)
        return NULL;
    return st;
}

static void give_back(struct oh_web *w, struct oh_store *st)
{
    pthread_mutex_lock(&w->mu);
    if (w->npool < w->pool_max) {
        w->pool[w->npool++] = st;
        st = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    oh_store_free(st);
}

/* ---- group remember ------------------------------------------------------- */

/* Queues keys (borrowed until return) and returns once a round that
 * started after they were queued has written them. st does the writing if
 * this thread leads a round. */
static int remember_keys(struct oh_web *w, struct oh_store *st, const char *channel,
                         char *const *keys, size_t n, struct oh_err *err)
{
    struct rround *r = &w->rr;
    uint64_t target;
    int rc = 0;

    pthread_mutex_lock(&r->mu);
    if (r->n + n > r->cap) {
        size_t cap = r->cap ? r->cap : 64;
        while (cap < r->n + n)
            cap *= 2;
        if (!(r->q = realloc(r->q, cap * sizeof(*r->q))))
            abort();
        r->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        r->q[r->n].channel = channel;
        r->q[r->n].key = keys[i];
        r->n++;
    }
    /* A round running now took its keys before ours were queued. */
    target = r->started + 1;
    while (r->completed < target) {
        if (!r->running) {
            uint64_t mine = ++r->started;
            struct oh_seen_key *q = r->q;
            size_t qn = r->n;
            struct oh_err e2;
            int x;

            r->q = NULL;
            r->n = r->cap = 0;
            r->running = 1;
            pthread_mutex_unlock(&r->mu);
            oh_err_clear(&e2);
            x = oh_store_remember_many(st, q, qn, &e2);
            free(q);
            pthread_mutex_lock(&r->mu);
            r->running = 0;
            r->completed = mine;
            if (x < 0) {
                r->last_failed = mine;
                memcpy(r->failmsg, e2.msg, sizeof(r->failmsg));
            }
            pthread_cond_broadcast(&r->cv);
        } else {
            pthread_cond_wait(&r->cv, &r->mu);
        }
    }
    /* XXX: a failure of a later round fails us too; that only adds a
     * warning (the keys may well be stored). */
    if (r->last_failed >= target)
        rc = oh_err_retry(err, OH_EAGAIN, "%s", r->failmsg);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- the channel ops a webhook connector sees ------------------------------ */

struct hook_ctx {
    struct oh_channel *orig; /* the hub's channel (its ops back the rest) */
    struct oh_store *st;
    char *keys[HOOK_KEYS_MAX];
    size_t nkeys;
};

static int hk_cursor_get(struct oh_channel *ch, const char *name, char **value,
                         struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;
    return x->orig->ops->cursor_get(x->orig, name, value, err);
}

static int hk_cursor_set(struct oh_channel *ch, const char *name, const char *value,
                         struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;
    return x->orig->ops->cursor_set(x->orig, name, value, err);
}

static int hk_seen(struct oh_channel *ch, const char *key, int *seen, struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;

    for (size_t i = 0; i < x->nkeys; i++)
        if (strcmp(x->keys[i], key) == 0) {
            *seen = 1;
            return 0;
        }
    return oh_store_seen(x->st, ch->name, key, seen, err);
}

static int hk_remember(struct oh_channel *ch, const char *key, struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;

    if (x->nkeys == HOOK_KEYS_MAX)
        return oh_store_remember(x->st, ch->name, key, err);
    if (!(x->keys[x->nkeys] = strdup(key)))
        abort();
    x->nkeys++;
    return 0;
}

static int hk_edi_numbers(struct oh_channel *ch, struct oh_edi_numbers *n, struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;
    return x->orig->ops->edi_numbers(x->orig, n, err);
}

static int hk_edi_overdue(struct oh_channel *ch,
                          void (*cb)(void *ud, const struct oh_edi_overdue *o), void *ud,
                          struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;
    return x->orig->ops->edi_overdue(x->orig, cb, ud, err);
}

static const struct oh_channel_ops hook_ops = {
    .cursor_get = hk_cursor_get,
    .cursor_set = hk_cursor_set,
    .seen = hk_seen,
    .remember = hk_remember,
    .edi_numbers = hk_edi_numbers,
    .edi_overdue = hk_edi_overdue,
};

/* ---- counters ------------------------------------------------------------ */

static void count_answer(struct oh_web *w, const char *channel, int code)
{
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->ncounters; i++)
        if (w->counters[i].code == code && strcmp(w->counters[i].channel, channel) == 0) {
            w->counters[i].n++;
            pthread_mutex_unlock(&w->mu);
            return;
        }
    if (w->ncounters < COUNTERS_MAX) {
        struct counter *c = &w->counters[w->ncounters++];
        snprintf(c->channel, sizeof(c->channel), "%s", channel);
        c->code = code;
        c->n = 1;
    }
    pthread_mutex_unlock(&w->mu);
}

/* ---- handlers ------------------------------------------------------------ */

static void hook_answer(struct oh_web *w, struct oh_hub_channel *hc, const struct oh_http_req *rq,
                        struct oh_http_resp *resp)
{
    struct oh_store *st;
    struct oh_channel ch;
    struct hook_ctx x;
    struct oh_err err;
    char q[1100];
    int rc;

    oh_err_clear(&err);
    if (!hc || !hc->ch.conn->webhook) {
        oh_http_resp_json(resp, 404, "no webhook channel named %s", rq->channel);
        return;
    }
    if (!(st = borrow(w, &err))) {
        oh_warn("webhook.store_unavailable", "channel=%s error=%s", rq->channel,
                oh_logq(q, sizeof(q), err.msg));
        oh_http_resp_json(resp, 503, "store unavailable, try again");
        resp->retry_after_s = 5;
        return;
    }
    memset(&x, 0, sizeof(x));
    x.orig = &hc->ch;
    x.st = st;
    ch = hc->ch; /* the same channel, seen through hook_ops */
    ch.ops = &hook_ops;
    ch.ops_ud = &x;
    oh_hub_set_thread_store(st);
    rc = hc->ch.conn->webhook(&ch, rq, w->hub->spool, resp, &err);
    if (x.nkeys) {
        struct oh_err e2;
        oh_err_clear(&e2);
        if (remember_keys(w, st, hc->ch.name, x.keys, x.nkeys, &e2) < 0)
            oh_warn("webhook.remember_failed", "channel=%s keys=%zu error=%s", rq->channel,
                    x.nkeys, oh_logq(q, sizeof(q), e2.msg));
        for (size_t i = 0; i < x.nkeys; i++)
            free(x.keys[i]);
    }
    oh_hub_set_thread_store(NULL);
    if (rc < 0) {
        oh_warn("webhook.failed", "channel=%s status=%d error=%s", rq->channel, resp->status,
                oh_logq(q, sizeof(q), err.msg));
        if (err.retryable)
            oh_store_ping(st, NULL);
        if (resp->status == 0) {
            oh_http_resp_json(resp, 503, "could not take the delivery, try again");
            resp->retry_after_s = 5;
        }
    }
    give_back(w, st);
}

static int on_webhook(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    struct oh_web *w = ud;
    struct oh_hub_channel *hc = oh_hub_channel(w->hub, rq->channel);

    hook_answer(w, hc, rq, resp);
    /* Unknown channel names are one series, not one each (a scanner must
     * not grow the table). */
    count_answer(w, hc ? hc->ch.name : "", resp->status ? resp->status : 500);
    return 0;
}

static int on_health(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    struct oh_web *w = ud;
    struct oh_store *st;
    struct oh_err err;
    size_t inc = 0, def = 0, dead = 0;
    int store_ok;
    char body[512];

    (void)rq;
    st = borrow(w, &err);
    store_ok = st && oh_store_ping(st, &err) == 0;
    if (st)
        give_back(w, st);
    oh_spool_count(w->hub->spool, OH_SPOOL_INCOMING, &inc, NULL);
    oh_spool_count(w->hub->spool, OH_SPOOL_DEFERRED, &def, NULL);
    oh_spool_count(w->hub->spool, OH_SPOOL_DEAD, &dead, NULL);
    snprintf(body, sizeof(body),
             "{\"status\":\"%s\",\"store\":\"%s\",\"spool\":{\"incoming\":%zu,\"deferred\":%zu,"
             "\"dead\":%zu}}",
             store_ok ? "ok" : "degraded", store_ok ? "ok" : "unavailable", inc, def, dead);
    oh_http_resp_set(resp, store_ok ? 200 : 503, "application/json", body, strlen(body));
    return 0;
}

/* ---- /metrics -------------------------------------------------------------- */

struct mbuf {
    char *p;
    size_t len, cap;
};

static void mb_add(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_add(struct mbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        if (!(b->p = realloc(b->p, b->cap)))
            abort();
    }
}

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static const char *lv(const char *s, char *out, size_t n)
{
    size_t j = 0;

    for (; *s && j + 3 < n; s++) {
        if (*s == '\\' || *s == '"') {
            out[j++] = '\\';
            out[j++] = *s;
        } else if (*s == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = *s;
        }
    }
    out[j] = '\0';
    return out;
}

/* The store's counts, from the cache or fresh; *out (caller's) NULL when
 * the store is not answering. One scrape refreshes at a time; another one
 * arriving meanwhile waits for it and uses its result. */
static void store_stats(struct oh_web *w, json_t **out)
{
    struct oh_store *st;
    struct oh_err err;
    json_t *s = NULL;

    *out = NULL;
    pthread_mutex_lock(&w->stats_mu);
    pthread_mutex_lock(&w->mu);
    if (w->stats_at != 0 && oh_mono_ms() - w->stats_at < METRICS_TTL_MS) {
        if (w->stats)
            *out = json_incref(w->stats); /* the caller's reference */
        pthread_mutex_unlock(&w->mu);
        pthread_mutex_unlock(&w->stats_mu);
        return;
    }
    pthread_mutex_unlock(&w->mu);
    oh_err_clear(&err);
    if ((st = borrow(w, &err))) {
        if (oh_store_stats(st, &s, &err) < 0)
            s = NULL;
        give_back(w, st);
    }
    if (!s)
        oh_warn("metrics.store_unavailable", "error=%s", err.msg);
    pthread_mutex_lock(&w->mu);
    json_decref(w->stats);
    w->stats = s; /* the cache's reference, NULL after a failure */
    w->stats_at = oh_mono_ms();
    if (s)
        *out = json_incref(s); /* the caller's reference */
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_unlock(&w->stats_mu);
}

static void metric_head(struct mbuf *b, const char *name, const char *type, const char *help)
{
    mb_add(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counts_family(struct mbuf *b, json_t *stats, const char *key, const char *name,
                          const char *label, const char *help, const char *const *always)
{
    json_t *o = json_object_get(stats, key), *v;
    const char *k;
    char esc[256];

    metric_head(b, name, "gauge", help);
    for (const char *const *a = always; a && *a; a++)
        if (!json_object_get(o, *a))
            mb_add(b, "%s{%s=\"%s\"} 0\n", name, label, *a);
    json_object_foreach(o, k, v)
        mb_add(b, "%s{%s=\"%s\"} %lld\n", name, label, lv(k, esc, sizeof(esc)),
               (long long)json_integer_value(v));
}

static int on_metrics(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    static const char *const queues[] = {"incoming", "active", "deferred", "dead"};
    static const enum oh_spool_queue qv[] = {OH_SPOOL_INCOMING, OH_SPOOL_ACTIVE,
                                             OH_SPOOL_DEFERRED, OH_SPOOL_DEAD};
    static const char *const outbox_states[] = {"pending", "leased", "done", "dead", NULL};
    struct oh_web *w = ud;
    struct mbuf b = {0};
    struct counter *cs = NULL;
    size_t ncs;
    json_t *stats = NULL;
    char esc[300];

    (void)rq;
    metric_head(&b, "orderhub_spool_entries", "gauge", "Entries in each spool queue.");
    for (size_t i = 0; i < 4; i++) {
        size_t n = 0;
        if (oh_spool_count(w->hub->spool, qv[i], &n, NULL) == 0)
            mb_add(&b, "orderhub_spool_entries{queue=\"%s\"} %zu\n", queues[i], n);
    }

    pthread_mutex_lock(&w->mu);
    ncs = w->ncounters;
    if (ncs && !(cs = malloc(ncs * sizeof(*cs))))
        abort();
    if (ncs)
        memcpy(cs, w->counters, ncs * sizeof(*cs));
    pthread_mutex_unlock(&w->mu);
    metric_head(&b, "orderhub_webhooks_total", "counter",
                "Webhook requests answered, by channel (empty: no such channel) and status.");
    for (size_t i = 0; i < ncs; i++)
        mb_add(&b, "orderhub_webhooks_total{channel=\"%s\",code=\"%d\"} %llu\n",
               lv(cs[i].channel, esc, sizeof(esc)), cs[i].code, cs[i].n);
    free(cs);

    metric_head(&b, "orderhub_edi_acks_overdue_found_total", "counter",
                "EDI acknowledgements found overdue by this process since it started.");
    mb_add(&b, "orderhub_edi_acks_overdue_found_total %llu\n", oh_edi_overdue_total());

    store_stats(w, &stats);
    metric_head(&b, "orderhub_store_up", "gauge",
                "1 when the store answered the last count query (cached a few seconds).");
    mb_add(&b, "orderhub_store_up %d\n", stats ? 1 : 0);
    if (stats) {
        counts_family(&b, stats, "outbox", "orderhub_outbox_messages", "state",
                      "Outbox messages in each state.", outbox_states);
        counts_family(&b, stats, "documents", "orderhub_documents", "status",
                      "Documents recorded in the store, by status.", NULL);
        metric_head(&b, "orderhub_edi_acks_overdue", "gauge",
                    "Sent EDI interchanges whose acknowledgement is past due now.");
        mb_add(&b, "orderhub_edi_acks_overdue %lld\n",
               (long long)json_integer_value(json_object_get(stats, "edi_acks_overdue")));
    }
    json_decref(stats);
    oh_http_resp_set(resp, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "",
                     b.len);
    free(b.p);
    return 0;
}

/* ---- start / stop ---------------------------------------------------------- */

int oh_web_start(struct oh_hub *h, struct oh_web **out, struct oh_err *err)
{
    const struct oh_conf_section *s = oh_conf_find(h->conf, "http", NULL);
    struct oh_http_server_opts o;
    struct oh_web *w;
    int rc;

    *out = NULL;
    if (!s || !oh_conf_get(s, "listen"))
        return 0;
    if ((rc = oh_http_server_opts_from_conf(s, &o, err)) < 0)
        return rc;
    if (!(w = calloc(1, sizeof(*w))))
        abort();
    w->hub = h;
    /* One connection per HTTP thread, plus one for a scrape; with a thread
     * per connection, as many as POOL_PER_CONN_MAX stay open. */
    w->pool_max = o.threads == 0 ? POOL_PER_CONN_MAX
                  : (size_t)o.threads + 1 > POOL_MIN ? (size_t)o.threads + 1 : POOL_MIN;
    if (!(w->pool = calloc(w->pool_max, sizeof(*w->pool))) ||
        !(w->counters = calloc(COUNTERS_MAX, sizeof(*w->counters))))
        abort();
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->stats_mu, NULL);
    pthread_mutex_init(&w->rr.mu, NULL);
    pthread_cond_init(&w->rr.cv, NULL);
    struct oh_http_handlers hd = {
        .webhook = on_webhook, .health = on_health, .metrics = on_metrics, .ud = w};
    if ((rc = oh_http_server_start(&o, &hd, &w->srv, err)) < 0) {
        w->srv = NULL;
        oh_web_stop(w);
        return rc;
    }
    oh_info("http.listening", "listen=%s port=%d", o.listen, oh_http_server_port(w->srv));
    *out = w;
    return 0;
}

void oh_web_stop(struct oh_web *w)
{
    if (!w)
        return;
    oh_http_server_stop(w->srv);
    for (size_t i = 0; i < w->npool; i++)
        oh_store_free(w->pool[i]);
    free(w->pool);
    free(w->counters);
    free(w->rr.q);
    json_decref(w->stats);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->stats_mu);
    pthread_mutex_destroy(&w->rr.mu);
    pthread_cond_destroy(&w->rr.cv);
    free(w);
}

int oh_web_port(const struct oh_web *w) { return w ? oh_http_server_port(w->srv) : 0; }
