/*
 * shopify.h — the Shopify connector's private state, shared by its files:
 *   shopify.c          settings (open/close) and the connector struct
 *   shopify_poll.c     GET orders.json by updated_at with Link pagination
 *                      (the poll, and the backfill of a window)
 *   shopify_webhook.c  HMAC-verified webhooks (orders topics, privacy topics)
 *   shopify_push.c     fulfillments (tracking) and inventory levels
 *
 * What is spooled (format "json", payload = vendor bytes, unchanged):
 *   - one entry per order object, whether it came from a poll page (the
 *     exact bytes of that element of "orders":[...]) or from an orders topics
 *     webhook (the body) — so one mapping (mappings/shopify/order.map,
 *     root = the order object) reads both;
 *   - privacy webhooks with format "privacy" (see shopify_webhook.c).
 */
#ifndef OH_SHOPIFY_H
#define OH_SHOPIFY_H

#include <stdint.h>

#include "connector.h"
#include "core/http/http.h"

struct oh_spool;

struct shopify_sku {
    char *sku;
    int64_t item_id;
};

struct shopify {
    char *shop;          /* NAME.myshopify.com */
    char *api_version;   /* 2024-10 */
    char *base;          /* https://NAME.myshopify.com or base_url */
    char *api;           /* base + /admin/api/VERSION */
    char *token_hdr;     /* "X-Shopify-Access-Token: ..." (secret, wiped) */
    char *secret;        /* webhook secret (wiped) */
    char *secret_prev;   /* the previous secret during a rotation, or NULL */
    int notify_customer;
    int64_t location_id; /* 0 = none configured */
    int64_t overlap_ms;
    long page_limit;     /* 1..250 */
    double leak_rate;    /* bucket leak per second (2 Standard, 4 Advanced, 20 Plus) */
    struct shopify_sku *skus; /* sorted by sku */
    size_t nskus;
    struct oh_http_client *http;
};

#define SHOPIFY_CURSOR "orders.updated_at"

int shopify_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err);
int shopify_backfill(struct oh_channel *ch, struct oh_spool *sp, int64_t since_ms,
                     void (*progress)(void *ud, size_t done, size_t total), void *ud,
                     struct oh_err *err);
int shopify_webhook(struct oh_channel *ch, const struct oh_http_req *rq, struct oh_spool *sp,
                    struct oh_http_resp *resp, struct oh_err *err);
int shopify_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err);

/* Seen-key helpers shared by poll and webhook: "order:<id>:<updated_at>". */
void shopify_order_key(char *buf, size_t n, const char *id, const char *updated_at);
/* Waits when the call-limit header says the bucket is nearly full. */
void shopify_pace(struct shopify *s, const struct oh_http_response *resp);
/* GET/POST relative to s->api ("orders.json?..."); JSON headers added. */
int shopify_call(struct shopify *s, const char *method, const char *rel_or_url, const char *body,
                 struct oh_http_response *resp, struct oh_err *err);

#endif
