/*
 * woocommerce.h — the WooCommerce connector's private state, shared by:
 *   woocommerce.c   settings (open/close), the connector struct, calls
 *   woo_poll.c      GET /orders by date_modified_gmt (keyset over modified_after;
 *                   the poll, and the backfill of a window)
 *   woo_webhook.c   X-WC-Webhook-Signature webhooks and the creation ping
 *   woo_push.c      order completed + tracking note, stock via products/batch
 *
 * What is spooled: one entry per order object (format "json"), whether it
 * came from a poll page (the exact bytes of that array element) or from an
 * order.created/order.updated webhook (the body, the same JSON as GET
 * /orders/{id}) — one mapping (mappings/woocommerce/order.map, root = the
 * order object) reads both.
 */
#ifndef OH_WOOCOMMERCE_H
#define OH_WOOCOMMERCE_H

#include <pthread.h>
#include <stdint.h>

#include "connector.h"
#include "core/http/http.h"

struct oh_spool;

struct woo_sku {
    char *sku;
    int64_t product_id;
};

struct woo {
    char *base;        /* https://STORE or base_url */
    char *api;         /* base + /wp-json/wc/v3 */
    char *userpwd;     /* "ck_...:cs_..." (secret, wiped) */
    char *secret;      /* webhook secret (wiped) */
    int64_t overlap_ms;
    long per_page;     /* 1..100 */
    int notify_customer;
    char *complete_status; /* "completed" */
    struct woo_sku *skus;  /* learnt SKU -> product id, guarded by mu */
    size_t nskus;
    pthread_mutex_t mu;
    struct oh_http_client *http;
};

#define WOO_CURSOR "orders.modified_gmt"

int woo_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err);
int woo_backfill(struct oh_channel *ch, struct oh_spool *sp, int64_t since_ms,
                 void (*progress)(void *ud, size_t done, size_t total), void *ud,
                 struct oh_err *err);
int woo_webhook(struct oh_channel *ch, const struct oh_http_req *rq, struct oh_spool *sp,
                struct oh_http_resp *resp, struct oh_err *err);
int woo_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err);

void woo_order_key(char *buf, size_t n, long long id, const char *modified_gmt);
/* method on api + "/" + rel; JSON body optional. */
int woo_call(struct woo *w, const char *method, const char *rel, const char *body,
             struct oh_http_response *resp, struct oh_err *err);

#endif
