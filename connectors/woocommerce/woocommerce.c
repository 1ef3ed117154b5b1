/*
 * woocommerce.c — the `woocommerce` connector: settings, open/close, calls.
 *
 *   [channel woo-main]
 *   type            = woocommerce
 *   url             = https://shop.example.com
 *   consumer_key    = env:WOO_CK          ; ck_...
 *   consumer_secret = env:WOO_CS          ; cs_...
 *   webhook_secret  = env:WOO_WEBHOOK_SECRET
 *   poll            = 60s
 *   overlap         = 5m
 *   per_page        = 100
 *   notify_customer = no                  ; tracking note as a customer note (emails the buyer)
 *   complete_status = completed           ; status set on shipment.created
 *   base_url        = http://127.0.0.1:PORT  ; only to point at a fake
 *   (+ the shared HTTP client keys, see core/http/http.h)
 *
 * Authentication is HTTP Basic with the consumer key and secret, which
 * WooCommerce accepts over HTTPS only; plain http is refused by the client
 * except to loopback (fakes). The OAuth 1.0a and query-string variants are
 * deliberately not implemented. open() does no network I/O.
 */
#include "woocommerce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void woo_close(struct oh_channel *ch)
{
    struct woo *w = ch->priv;
    if (!w)
        return;
    free(w->base);
    free(w->api);
    wipe_free(w->userpwd);
    wipe_free(w->secret);
    free(w->complete_status);
    for (size_t i = 0; i < w->nskus; i++)
        free(w->skus[i].sku);
    free(w->skus);
    pthread_mutex_destroy(&w->mu);
    oh_http_client_free(w->http);
    free(w);
    ch->priv = NULL;
}

static int woo_open(struct oh_channel *ch, struct oh_err *err)
{
    const struct oh_conf_section *c = ch->cfg;
    struct woo *w = NULL;
    struct oh_http_client_opts ho;
    const char *url = oh_conf_get(c, "url"), *base = oh_conf_get(c, "base_url");
    char *ck = NULL, *cs = NULL;
    size_t n;
    int rc = 0;

    if (!(w = calloc(1, sizeof(*w))))
        abort();
    pthread_mutex_init(&w->mu, NULL);
    ch->priv = w;
    if (!url || strncmp(url, "https://", 8) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s]: url = https://STORE is required",
                        c->path, url ? oh_conf_line(c, "url") : c->line, ch->name);
        goto done;
    }
    if (!base)
        base = url;
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    w->base = strndup(base, n);
    if ((rc = oh_http_url_check(w->base, err)) < 0) {
        oh_err_prefix(err, "%s:%d: base_url", c->path, oh_conf_line(c, "base_url"));
        goto done;
    }
    if (asprintf(&w->api, "%s/wp-json/wc/v3", w->base) < 0)
        abort();
    if ((rc = oh_conf_secret(c, "consumer_key", &ck, err)) < 0 ||
        (rc = oh_conf_secret(c, "consumer_secret", &cs, err)) < 0)
        goto done;
    if (!ck || !cs || !*ck || !*cs) {
        rc = oh_err_set(err, OH_EINVAL,
                        "%s:%d: [channel %s]: consumer_key and consumer_secret are required",
                        c->path, c->line, ch->name);
        goto done;
    }
    if (strchr(ck, ':')) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: consumer_key must not contain ':'", c->path,
                        oh_conf_line(c, "consumer_key"));
        goto done;
    }
    if (asprintf(&w->userpwd, "%s:%s", ck, cs) < 0)
        abort();
    if ((rc = oh_conf_secret(c, "webhook_secret", &w->secret, err)) < 0 ||
        (rc = oh_conf_duration_ms(c, "overlap", 5 * 60000, &w->overlap_ms, err)) < 0 ||
        (rc = oh_conf_int(c, "per_page", 100, &w->per_page, err)) < 0 ||
        (rc = oh_conf_bool(c, "notify_customer", 0, &w->notify_customer, err)) < 0)
        goto done;
    if (w->per_page < 1 || w->per_page > 100) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: per_page: WooCommerce allows 1..100", c->path,
                        oh_conf_line(c, "per_page"));
        goto done;
    }
    w->complete_status = strdup(oh_conf_get_or(c, "complete_status", "completed"));
    if ((rc = oh_http_client_opts_from_conf(c, &ho, err)) < 0 ||
        (rc = oh_http_client_new(&ho, &w->http, err)) < 0)
        goto done;
done:
    oh_secret_free(ck);
    oh_secret_free(cs);
    if (rc < 0)
        woo_close(ch);
    return rc;
}

void woo_order_key(char *buf, size_t n, long long id, const char *modified_gmt)
{
    snprintf(buf, n, "order:%lld:%s", id, modified_gmt ? modified_gmt : "");
}

int woo_call(struct woo *w, const char *method, const char *rel, const char *body,
             struct oh_http_response *resp, struct oh_err *err)
{
    char *url = NULL;
    const char *hdrs[3] = {"Accept: application/json", NULL, NULL};
    struct oh_http_request rq = {0};
    int rc;

    if (asprintf(&url, "%s/%s", w->api, rel) < 0)
        abort();
    if (body)
        hdrs[1] = "Content-Type: application/json";
    rq.method = method;
    rq.url = url;
    rq.headers = hdrs;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    rq.userpwd = w->userpwd;
    rc = oh_http_do(w->http, &rq, resp, err);
    free(url);
    return rc;
}

const struct oh_connector oh_connector_woocommerce = {
    .type = "woocommerce",
    .open = woo_open,
    .poll = woo_poll,
    .webhook = woo_webhook,
    .deliver = woo_deliver,
    .close = woo_close,
    .backfill = woo_backfill,
};
