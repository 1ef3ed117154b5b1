/* web.c — see web.h. */
#include "web.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "log.h"

#define POOL_MAX 16

struct oh_web {
    struct oh_hub *hub;
    struct oh_http_server *srv;
    pthread_mutex_t mu;
    struct oh_store *pool[POOL_MAX];
    size_t npool;
};

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
    if (w->npool < POOL_MAX) {
        w->pool[w->npool++] = st;
        st = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    oh_store_free(st);
}

static int on_webhook(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    struct oh_web *w = ud;
    struct oh_hub_channel *hc = oh_hub_channel(w->hub, rq->channel);
    struct oh_store *st;
    struct oh_err err;
    char q[1100];
    int rc;

    oh_err_clear(&err);
    if (!hc || !hc->ch.conn->webhook) {
        oh_http_resp_json(resp, 404, "no webhook channel named %s", rq->channel);
        return 0;
    }
    if (!(st = borrow(w, &err))) {
        oh_warn("webhook.store_unavailable", "channel=%s error=%s", rq->channel,
                oh_logq(q, sizeof(q), err.msg));
        oh_http_resp_json(resp, 503, "store unavailable, try again");
        resp->retry_after_s = 5;
        return 0;
    }
    oh_hub_set_thread_store(st);
    rc = hc->ch.conn->webhook(&hc->ch, rq, w->hub->spool, resp, &err);
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
    pthread_mutex_init(&w->mu, NULL);
    struct oh_http_handlers hd = { .webhook = on_webhook, .health = on_health, .ud = w };
    if ((rc = oh_http_server_start(&o, &hd, &w->srv, err)) < 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
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
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int oh_web_port(const struct oh_web *w) { return w ? oh_http_server_port(w->srv) : 0; }
