/*
 * woo_webhook.c — POST /webhooks/<channel> from WooCommerce.
 *
 *   1. The creation ping: no X-WC-Webhook-Signature and a form body
 *      "webhook_id=N" -> 200, nothing stored (WooCommerce refuses to
 *      create the webhook unless the ping gets a 2xx).
 *   2. X-WC-Webhook-Signature must equal base64(HMAC-SHA256(secret, raw
 *      body)), compared in constant time before anything is parsed; else 401.
 *   3. Topics order.created, order.updated, order.restored are spooled as
 *      format "json" (the body is the same order JSON as GET /orders/{id});
 *      anything else (order.deleted = {"id":N}, product.*, ...) is 200 and
 *      logged.
 *   4. X-WC-Webhook-Delivery-ID seen before -> 200, nothing stored; an
 *      order whose (id, date_modified_gmt) was already spooled by a poll is
 *      not spooled again. Both keys are asked in one store round trip.
 *   5. 200 only after oh_spool_enqueue returned 0; 503 otherwise.
 * WooCommerce does not redeliver failed webhooks (it disables the hook after
 * repeated failures), which is why the channel also polls.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "spool/spool.h"
#include "util.h"
#include "woocommerce.h"

static int is_ping(const struct oh_http_req *rq)
{
    const char *p = rq->body, *e = rq->body + rq->body_len;
    if (rq->body_len < 12 || strncmp(p, "webhook_id=", 11) != 0)
        return 0;
    for (p += 11; p < e; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}

int woo_webhook(struct oh_channel *ch, const struct oh_http_req *rq, struct oh_spool *sp,
                struct oh_http_resp *resp, struct oh_err *err)
{
    struct woo *w = ch->priv;
    const char *sig = rq->header(rq, "X-WC-Webhook-Signature");
    const char *topic = rq->header(rq, "X-WC-Webhook-Topic");
    const char *did = rq->header(rq, "X-WC-Webhook-Delivery-ID");
    char want[64], dkey[300], okey[160] = "", q1[200], q2[200];
    struct oh_spool_meta m;
    int ok, seen = 0, rc = 0;

    if (!sig && is_ping(rq)) {
        oh_info("woocommerce.webhook.ping", "channel=%s", ch->name);
        oh_http_resp_json(resp, 200, "pong");
        return 0;
    }
    if (!w->secret) {
        oh_http_resp_json(resp, 403, "webhooks are not configured for this channel");
        return oh_err_set(err, OH_EPERM, "woocommerce %s: webhook received but no webhook_secret is set",
                          ch->name);
    }
    oh_hmac_sha256_b64(w->secret, strlen(w->secret), rq->body, rq->body_len, want);
    ok = sig && oh_ct_equal(sig, want);
    explicit_bzero(want, sizeof(want));
    if (!ok) {
        oh_warn("woocommerce.webhook.rejected", "channel=%s remote=%s reason=signature", ch->name,
                rq->remote ? rq->remote : "-");
        oh_http_resp_json(resp, 401, "invalid or missing X-WC-Webhook-Signature");
        return oh_err_set(err, OH_EPERM, "woocommerce %s: webhook signature mismatch", ch->name);
    }
    if (did && strlen(did) > 200)
        did = NULL;
    if (did)
        snprintf(dkey, sizeof(dkey), "webhook:%s", did);
    if (!topic || (strcmp(topic, "order.created") != 0 && strcmp(topic, "order.updated") != 0 &&
                   strcmp(topic, "order.restored") != 0)) {
        oh_info("woocommerce.webhook.ignored", "channel=%s topic=%s", ch->name,
                oh_logq(q1, sizeof(q1), topic ? topic : "-"));
        oh_http_resp_json(resp, 200, "topic not handled");
        return 0;
    }
    if (ch->max_doc_size > 0 && (int64_t)rq->body_len > ch->max_doc_size) {
        oh_http_resp_json(resp, 413, "payload over the channel's max_document_size");
        return oh_err_set(err, OH_ETOOBIG, "woocommerce %s: webhook body over the limit", ch->name);
    }
    {
        /* A check and two fields, without building a tree (json_peek.c). */
        static const char *const keys[] = {"id", "date_modified_gmt"};
        const char *v[2];
        size_t vl[2];
        long long oid;
        char mod[160];

        if (oh_json_peek(rq->body, rq->body_len, keys, 2, v, vl, NULL) < 0 ||
            oh_json_peek_int(v[0], vl[0], &oid) < 0) {
            oh_http_resp_json(resp, 400, "body is not an order object");
            return oh_err_set(err, OH_EINVAL, "woocommerce %s: %s body is not an order", ch->name,
                              topic);
        }
        if (v[1] && oh_json_peek_str(v[1], vl[1], mod, sizeof(mod)) == 0)
            woo_order_key(okey, sizeof(okey), oid, mod);
    }
    /* the delivery and the order version, in one look-up */
    if (did || okey[0]) {
        int seen_d = 0, seen_o = 0;
        if ((rc = oh_channel_seen_pair(ch, did ? dkey : okey, did && okey[0] ? okey : NULL,
                                       did ? &seen_d : &seen_o, did ? &seen_o : &seen, err)) < 0)
            goto unavailable;
        if (seen_d) {
            oh_http_resp_json(resp, 200, "duplicate delivery, already stored");
            return 0;
        }
        if (seen_o) {
            if (did)
                ch->ops->remember(ch, dkey, NULL);
            oh_http_resp_json(resp, 200, "this version of the order is already stored");
            return 0;
        }
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.channel, sizeof(m.channel), "%s", ch->name);
    snprintf(m.format, sizeof(m.format), "json");
    snprintf(m.source, sizeof(m.source), "woocommerce %s webhook %s", topic, did ? did : "(no id)");
    if ((rc = oh_spool_enqueue(sp, &m, rq->body, rq->body_len, NULL, err)) < 0)
        goto unavailable;
    if (did)
        ch->ops->remember(ch, dkey, NULL);
    if (okey[0])
        ch->ops->remember(ch, okey, NULL);
    oh_info("woocommerce.webhook", "channel=%s topic=%s delivery=%s", ch->name,
            oh_logq(q1, sizeof(q1), topic), oh_logq(q2, sizeof(q2), did ? did : "-"));
    oh_http_resp_json(resp, 200, "stored");
    return 0;

unavailable:
    oh_err_prefix(err, "woocommerce %s: webhook", ch->name);
    oh_http_resp_json(resp, 503, "cannot store the delivery right now");
    resp->retry_after_s = 5;
    return rc;
}
