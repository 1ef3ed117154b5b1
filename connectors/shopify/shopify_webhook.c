/*
 * shopify_webhook.c — POST /webhooks/<channel> from Shopify.
 *
 * Order of checks (each answer is final):
 *   1. X-Shopify-Hmac-Sha256 must equal base64(HMAC-SHA256(secret, raw
 *      body)), compared in constant time, BEFORE the body is parsed or
 *      anything is stored; else 401. During a secret rotation the
 *      previous secret (webhook_secret_previous) is accepted too.
 *   2. Topic:
 *        orders/create|updated|paid|cancelled|fulfilled|
 *        partially_fulfilled|edited        spooled as format "json" (the
 *                                           order object, same shape as
 *                                           one polled order)
 *        customers/data_request, customers/redact, shop/redact
 *                                           spooled as format "privacy",
 *                                           source "shopify <topic> ..."
 *        anything else (orders/delete, ...) 200, logged, not stored
 *   3. X-Shopify-Webhook-Id seen before -> 200, nothing stored (Shopify
 *      retries with the same id; the key is "webhook:<id>"); asked
 *      together with the order version below, in one store round trip.
 *   4. 200 only after oh_spool_enqueue returned 0; 503 (Retry-After) if
 *      the spool failed, so Shopify retries.
 *
 * An order whose (id, updated_at) was already spooled by a poll is not
 * spooled again; the webhook id is remembered either way.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "shopify.h"
#include "spool/spool.h"
#include "util.h"

static const char *const order_topics[] = {
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
    "orders/partially_fulfilled", "orders/edited", NULL,
};
static const char *const privacy_topics[] = {
    "customers/data_request", "customers/redact", "shop/redact", NULL,
};

static int in_list(const char *const *l, const char *s)
{
    for (; s && *l; l++)
        if (strcmp(*l, s) == 0)
            return 1;
    return 0;
}

static int verify(const struct shopify *s, const struct oh_http_req *rq)
{
    const char *got = rq->header(rq, "X-Shopify-Hmac-Sha256");
    char want[64];
    int ok = 0;

    if (!got || !s->secret)
        return 0;
    oh_hmac_sha256_b64(s->secret, strlen(s->secret), rq->body, rq->body_len, want);
    ok = oh_ct_equal(got, want);
    if (s->secret_prev) {
        oh_hmac_sha256_b64(s->secret_prev, strlen(s->secret_prev), rq->body, rq->body_len, want);
        ok |= oh_ct_equal(got, want);
    }
    explicit_bzero(want, sizeof(want));
    return ok;
}

int shopify_webhook(struct oh_channel *ch, const struct oh_http_req *rq, struct oh_spool *sp,
                    struct oh_http_resp *resp, struct oh_err *err)
{
    struct shopify *s = ch->priv;
    const char *topic, *wid;
    char wkey[300], okey[160] = "", q1[200], q2[200];
    struct oh_spool_meta m;
    int seen = 0, rc = 0, privacy;

    if (!s->secret) {
        oh_http_resp_json(resp, 403, "webhooks are not configured for this channel");
        return oh_err_set(err, OH_EPERM, "shopify %s: webhook received but no webhook_secret is set",
                          ch->name);
    }
    if (!verify(s, rq)) {
        oh_warn("shopify.webhook.rejected", "channel=%s remote=%s reason=hmac", ch->name,
                rq->remote ? rq->remote : "-");
        oh_http_resp_json(resp, 401, "invalid or missing X-Shopify-Hmac-Sha256");
        return oh_err_set(err, OH_EPERM, "shopify %s: webhook signature mismatch", ch->name);
    }
    topic = rq->header(rq, "X-Shopify-Topic");
    wid = rq->header(rq, "X-Shopify-Webhook-Id");
    if (wid && strlen(wid) > 200)
        wid = NULL;
    if (wid)
        snprintf(wkey, sizeof(wkey), "webhook:%s", wid);
    privacy = in_list(privacy_topics, topic);
    if (!privacy && !in_list(order_topics, topic)) {
        oh_info("shopify.webhook.ignored", "channel=%s topic=%s", ch->name,
                oh_logq(q1, sizeof(q1), topic ? topic : "-"));
        oh_http_resp_json(resp, 200, "topic not handled");
        return 0;
    }
    if (ch->max_doc_size > 0 && (int64_t)rq->body_len > ch->max_doc_size) {
        oh_http_resp_json(resp, 413, "payload over the channel's max_document_size");
        return oh_err_set(err, OH_ETOOBIG, "shopify %s: webhook body of %zu bytes over the limit",
                          ch->name, rq->body_len);
    }
    if (!privacy) {
        /* Signed, so now it may be read: skip a version we already have.
         * A check and two fields, without building a tree (json_peek.c). */
        static const char *const keys[] = {"id", "updated_at"};
        const char *v[2];
        size_t vl[2];
        long long oid;
        char up[160];

        if (oh_json_peek(rq->body, rq->body_len, keys, 2, v, vl, NULL) < 0 ||
            oh_json_peek_int(v[0], vl[0], &oid) < 0) {
            oh_http_resp_json(resp, 400, "body is not an order object");
            return oh_err_set(err, OH_EINVAL, "shopify %s: %s webhook body is not an order",
                              ch->name, topic);
        }
        if (v[1] && oh_json_peek_str(v[1], vl[1], up, sizeof(up)) == 0) {
            char ids[32];
            snprintf(ids, sizeof(ids), "%lld", oid);
            shopify_order_key(okey, sizeof(okey), ids, up);
        }
    }
    /* the delivery and the order version, in one look-up */
    if (wid || okey[0]) {
        int seen_w = 0, seen_o = 0;
        if ((rc = oh_channel_seen_pair(ch, wid ? wkey : okey, wid && okey[0] ? okey : NULL,
                                       wid ? &seen_w : &seen_o, wid ? &seen_o : &seen, err)) < 0)
            goto unavailable;
        if (seen_w) {
            oh_http_resp_json(resp, 200, "duplicate delivery, already stored");
            return 0;
        }
        if (seen_o) {
            if (wid && (rc = ch->ops->remember(ch, wkey, err)) < 0)
                goto unavailable;
            oh_http_resp_json(resp, 200, "this version of the order is already stored");
            return 0;
        }
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.channel, sizeof(m.channel), "%s", ch->name);
    snprintf(m.format, sizeof(m.format), "%s", privacy ? "privacy" : "json");
    snprintf(m.source, sizeof(m.source), "shopify %s webhook %s", topic, wid ? wid : "(no id)");
    if ((rc = oh_spool_enqueue(sp, &m, rq->body, rq->body_len, NULL, err)) < 0)
        goto unavailable;
    /* Durable: now remember and acknowledge. A failure to remember only
     * risks one duplicate spool on a retry; still answer 200. */
    if (wid && ch->ops->remember(ch, wkey, NULL) < 0)
        oh_warn("shopify.webhook.remember", "channel=%s webhook_id=%s", ch->name,
                oh_logq(q2, sizeof(q2), wid));
    if (okey[0])
        ch->ops->remember(ch, okey, NULL);
    oh_info("shopify.webhook", "channel=%s topic=%s webhook_id=%s", ch->name,
            oh_logq(q1, sizeof(q1), topic), oh_logq(q2, sizeof(q2), wid ? wid : "-"));
    oh_http_resp_json(resp, 200, "stored");
    return 0;

unavailable:
    oh_err_prefix(err, "shopify %s: webhook", ch->name);
    oh_http_resp_json(resp, 503, "cannot store the delivery right now");
    resp->retry_after_s = 5;
    return rc;
}
