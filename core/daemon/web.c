/*
 * web.c — see web.h.
 *
 * Webhook path, per request: borrow a store connection (a pool as large as
 * the HTTP thread pool, so steady load never opens connections), run the
 * channel's connector with this file's channel ops (below), hand the keys
 * the connector asked to remember to the remember thread, and answer.
 *
 * Remembering. A connector calls ops->remember only after its body is
 * durable in the spool (or for a duplicate). Here that call only notes the
 * key; when the connector returns, the request's keys join a queue that
 * one thread, with its own store connection, writes with one
 * oh_store_remember_many (one bulk statement, one commit) for everything
 * queued since its last write. The answer does not wait for that write:
 * from the moment a key is queued, this file's seen and seen_pair answer
 * "seen" for it (queued and in-flight keys are looked up before the
 * store), so a redelivery that arrives before the write is recognised just
 * the same. oh_web_stop writes what is queued before it returns. A failed
 * write is logged and its keys dropped: that costs what a failed
 * oh_store_remember cost before, a redelivery may spool the body again,
 * which the idempotent store absorbs. A crash between the answer and the
 * write loses only the keys of deliveries that were answered 200, which
 * the sender does not deliver again; a crash before the answer risks a
 * duplicate, never a lost order.
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

/* Keys waiting for the remember thread (see the file comment). */
#define RQ_MAX 65536 /* queued keys; past this (store down) a key is dropped */

struct rkey {
    char *channel, *key;
};

struct rqueue {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* keys queued, or stop */
    struct rkey *q;     /* queued, owned */
    size_t n, cap;
    struct rkey *w;     /* being written, owned by the thread */
    size_t wn;
    int stop;
    int running;        /* the thread was started */
    pthread_t th;
    unsigned long long dropped;
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
    struct rqueue rq;

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

/* ---- remember thread ------------------------------------------------------ */

static void rkeys_free(struct rkey *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(k[i].channel);
        free(k[i].key);
    }
    free(k);
}

static void *remember_thread(void *arg)
{
    struct oh_web *w = arg;
    struct rqueue *r = &w->rq;
    struct oh_store *st = NULL;
    struct oh_seen_key *sk = NULL;
    size_t skcap = 0;
    char q[1100];

    pthread_mutex_lock(&r->mu);
    for (;;) {
        struct oh_err e;
        int rc;

        while (r->n == 0 && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->n == 0)
            break; /* stopping, nothing left */
        r->w = r->q;
        r->wn = r->n;
        r->q = NULL;
        r->n = r->cap = 0;
        pthread_mutex_unlock(&r->mu);

        if (skcap < r->wn) {
            skcap = r->wn;
            if (!(sk = realloc(sk, skcap * sizeof(*sk))))
                abort();
        }
        for (size_t i = 0; i < r->wn; i++) {
            sk[i].channel = r->w[i].channel;
            sk[i].key = r->w[i].key;
        }
        oh_err_clear(&e);
        rc = st ? 0 : oh_hub_store_open(w->hub, &st, &e);
        if (rc == 0)
            rc = oh_store_remember_many(st, sk, r->wn, &e);
        if (rc < 0) {
            oh_warn("webhook.remember_failed", "keys=%zu error=%s", r->wn,
                    oh_logq(q, sizeof(q), e.msg));
            oh_store_free(st); /* a new connection next time */
            st = NULL;
        }

        pthread_mutex_lock(&r->mu);
        rkeys_free(r->w, r->wn);
        r->w = NULL;
        r->wn = 0;
    }
    pthread_mutex_unlock(&r->mu);
    free(sk);
    oh_store_free(st);
    return NULL;
}

/* Queues copies of the keys for the remember thread. */
static void remember_keys(struct oh_web *w, const char *channel, char *const *keys, size_t n)
{
    struct rqueue *r = &w->rq;

    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        if (r->n >= RQ_MAX) {
            r->dropped++;
            continue;
        }
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            if (!(r->q = realloc(r->q, r->cap * sizeof(*r->q))))
                abort();
        }
        if (!(r->q[r->n].channel = strdup(channel)) || !(r->q[r->n].key = strdup(keys[i])))
            abort();
        r->n++;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* 1 if key of channel is queued or being written. */
static int remember_pending(struct oh_web *w, const char *channel, const char *key)
{
    struct rqueue *r = &w->rq;
    int found = 0;

    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && !found; i++)
        found = strcmp(r->q[i].key, key) == 0 && strcmp(r->q[i].channel, channel) == 0;
    for (size_t i = 0; i < r->wn && !found; i++)
        found = strcmp(r->w[i].key, key) == 0 && strcmp(r->w[i].channel, channel) == 0;
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* ---- the channel ops a webhook connector sees ------------------------------ */

struct hook_ctx {
    struct oh_web *w;
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

/* 1 if key is known without asking the store: noted by this request, or
 * queued for the remember thread. */
static int noted(struct hook_ctx *x, const char *channel, const char *key)
{
    for (size_t i = 0; i < x->nkeys; i++)
        if (strcmp(x->keys[i], key) == 0)
            return 1;
    return remember_pending(x->w, channel, key);
}

static int hk_seen(struct oh_channel *ch, const char *key, int *seen, struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;

    if (noted(x, ch->name, key)) {
        *seen = 1;
        return 0;
    }
    return oh_store_seen(x->st, ch->name, key, seen, err);
}

/* Both keys in one store round trip (the connectors ask for the delivery
 * and the order version together); a key already known here needs none. */
static int hk_seen_pair(struct oh_channel *ch, const char *a, const char *b, int *seen_a,
                        int *seen_b, struct oh_err *err)
{
    struct hook_ctx *x = ch->ops_ud;

    *seen_a = a && noted(x, ch->name, a);
    *seen_b = b && noted(x, ch->name, b);
    if (a && b && !*seen_a && !*seen_b)
        return oh_store_seen_pair(x->st, ch->name, a, b, seen_a, seen_b, err);
    if (a && !*seen_a)
        return hk_seen(ch, a, seen_a, err);
    return b && !*seen_b ? hk_seen(ch, b, seen_b, err) : 0;
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
    .seen_pair = hk_seen_pair,
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
    x.w = w;
    x.orig = &hc->ch;
    x.st = st;
    ch = hc->ch; /* the same channel, seen through hook_ops */
    ch.ops = &hook_ops;
    ch.ops_ud = &x;
    oh_hub_set_thread_store(st);
    rc = hc->ch.conn->webhook(&ch, rq, w->hub->spool, resp, &err);
    if (x.nkeys) {
        remember_keys(w, hc->ch.name, x.keys, x.nkeys);
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
    pthread_mutex_init(&w->rq.mu, NULL);
    pthread_cond_init(&w->rq.cv, NULL);
    if (pthread_create(&w->rq.th, NULL, remember_thread, w) != 0)
        abort();
    w->rq.running = 1;
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
    if (w->rq.running) {
        /* no request runs any more: write what is queued, then stop */
        pthread_mutex_lock(&w->rq.mu);
        w->rq.stop = 1;
        pthread_cond_signal(&w->rq.cv);
        pthread_mutex_unlock(&w->rq.mu);
        pthread_join(w->rq.th, NULL);
        if (w->rq.dropped)
            oh_warn("webhook.remember_dropped", "keys=%llu", w->rq.dropped);
    }
    for (size_t i = 0; i < w->npool; i++)
        oh_store_free(w->pool[i]);
    free(w->pool);
    free(w->counters);
    rkeys_free(w->rq.q, w->rq.n);
    json_decref(w->stats);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->stats_mu);
    pthread_mutex_destroy(&w->rq.mu);
    pthread_cond_destroy(&w->rq.cv);
    free(w);
}

int oh_web_port(const struct oh_web *w) { return w ? oh_http_server_port(w->srv) : 0; }
