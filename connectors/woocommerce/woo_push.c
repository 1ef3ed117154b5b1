/*
 * woo_push.c — outbound to WooCommerce.
 *
 * shipment.created (canonical shipment: "order_external_id" or
 * "order":{"external_id"}, "carrier", "tracking_number", "tracking_url"):
 *   WooCommerce core has no tracking field, so the tracking goes into an
 *   order note and the order is set to complete_status ("completed").
 *   1. GET orders/{id}/notes; if a note already holds the tracking number
 *      (an earlier attempt got that far) it is not added again;
 *   2. POST orders/{id}/notes {"note", "customer_note": notify_customer};
 *   3. PUT orders/{id} {"status": "completed"} (idempotent).
 *
 * inventory.changed ({"sku","available"}): the product id comes from
 * GET products?sku=SKU (remembered for the channel's lifetime), then
 * POST products/batch {"update":[{"id","stock_quantity","manage_stock":true}]}.
 * WooCommerce reports per-item errors inside a 200 answer; those are FAIL
 * with its message.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "woocommerce.h"

static int json_id(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out > 0 ? 0 : -1;
    }
    if (json_is_string(v)) {
        char *end;
        *out = strtoll(json_string_value(v), &end, 10);
        return (end != json_string_value(v) && !*end && *out > 0) ? 0 : -1;
    }
    return -1;
}

static int ship(struct oh_channel *ch, struct woo *w, json_t *p, struct oh_err *err)
{
    struct oh_http_response r = {0};
    const char *carrier = json_string_value(json_object_get(p, "carrier"));
    const char *tracking = json_string_value(json_object_get(p, "tracking_number"));
    const char *url = json_string_value(json_object_get(p, "tracking_url"));
    long long oid = 0;
    char rel[128], *text = NULL, *note = NULL;
    json_t *notes = NULL, *n, *body = NULL;
    size_t i;
    int rc = 0, have = 0;

    if (json_id(json_object_get(p, "order_external_id"), &oid) < 0 &&
        json_id(json_object_get(json_object_get(p, "order"), "external_id"), &oid) < 0)
        return oh_err_set(err, OH_EINVAL,
                          "woocommerce %s: shipment.created without a numeric order_external_id",
                          ch->name);
    if (!tracking || !*tracking)
        return oh_err_set(err, OH_EINVAL, "woocommerce %s: shipment for order %lld has no tracking_number",
                          ch->name, oid);
    snprintf(rel, sizeof(rel), "orders/%lld/notes", oid);
    if ((rc = woo_call(w, "GET", rel, NULL, &r, err)) < 0)
        goto done;
    notes = json_loadb(r.body, r.len, 0, NULL);
    json_array_foreach(notes, i, n) {
        const char *t = json_string_value(json_object_get(n, "note"));
        if (t && strstr(t, tracking))
            have = 1;
    }
    if (!have) {
        if (asprintf(&note, "Shipped%s%s, tracking number %s%s%s", carrier ? " with " : "",
                     carrier ? carrier : "", tracking, url ? ": " : "", url ? url : "") < 0)
            abort();
        body = json_pack("{s:s,s:b}", "note", note, "customer_note", w->notify_customer);
        text = json_dumps(body, JSON_COMPACT);
        oh_http_response_free(&r);
        if ((rc = woo_call(w, "POST", rel, text, &r, err)) < 0)
            goto done;
        free(text);
        json_decref(body);
    }
    body = json_pack("{s:s}", "status", w->complete_status);
    text = json_dumps(body, JSON_COMPACT);
    snprintf(rel, sizeof(rel), "orders/%lld", oid);
    oh_http_response_free(&r);
    if ((rc = woo_call(w, "PUT", rel, text, &r, err)) < 0)
        goto done;
    oh_info("woocommerce.shipped", "channel=%s order=%lld tracking=%s", ch->name, oid, tracking);
done:
    if (rc < 0)
        oh_err_prefix(err, "woocommerce %s: ship order %lld", ch->name, oid);
    free(text);
    free(note);
    json_decref(body);
    json_decref(notes);
    oh_http_response_free(&r);
    return rc;
}

static int product_id(struct oh_channel *ch, struct woo *w, const char *sku, long long *out,
                      struct oh_err *err)
{
    struct oh_http_response r = {0};
    char *esc = NULL, rel[512];
    json_t *arr = NULL;
    int rc = 0;

    *out = 0;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->nskus; i++)
        if (strcmp(w->skus[i].sku, sku) == 0)
            *out = w->skus[i].product_id;
    pthread_mutex_unlock(&w->mu);
    if (*out)
        return 0;
    esc = oh_http_escape(sku);
    snprintf(rel, sizeof(rel), "products?sku=%s", esc);
    if ((rc = woo_call(w, "GET", rel, NULL, &r, err)) < 0)
        goto done;
    arr = json_loadb(r.body, r.len, 0, NULL);
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_id(json_object_get(json_array_get(arr, 0), "id"), out) < 0) {
        rc = oh_err_set(err, OH_EINVAL, "woocommerce %s: no product with sku %s", ch->name, sku);
        goto done;
    }
    pthread_mutex_lock(&w->mu);
    if (!(w->skus = realloc(w->skus, (w->nskus + 1) * sizeof(*w->skus))))
        abort();
    w->skus[w->nskus].sku = strdup(sku);
    w->skus[w->nskus].product_id = *out;
    w->nskus++;
    pthread_mutex_unlock(&w->mu);
done:
    free(esc);
    json_decref(arr);
    oh_http_response_free(&r);
    return rc;
}

static int stock(struct oh_channel *ch, struct woo *w, json_t *p, struct oh_err *err)
{
    struct oh_http_response r = {0};
    const char *sku = json_string_value(json_object_get(p, "sku"));
    json_t *av = json_object_get(p, "available"), *body = NULL, *ans = NULL, *item, *e;
    long long pid = 0, avail;
    char *text = NULL;
    int rc;

    if (!sku)
        return oh_err_set(err, OH_EINVAL, "woocommerce %s: inventory.changed without sku", ch->name);
    if (json_is_integer(av))
        avail = json_integer_value(av);
    else if (json_is_string(av))
        avail = strtoll(json_string_value(av), NULL, 10);
    else if (json_is_real(av))
        avail = (long long)json_real_value(av);
    else
        return oh_err_set(err, OH_EINVAL, "woocommerce %s: inventory.changed for %s without available",
                          ch->name, sku);
    if ((rc = product_id(ch, w, sku, &pid, err)) < 0)
        return rc;
    body = json_pack("{s:[{s:I,s:I,s:b}]}", "update", "id", (json_int_t)pid, "stock_quantity",
                     (json_int_t)avail, "manage_stock", 1);
    text = json_dumps(body, JSON_COMPACT);
    if ((rc = woo_call(w, "POST", "products/batch", text, &r, err)) < 0)
        goto done;
    ans = json_loadb(r.body, r.len, 0, NULL);
    item = json_array_get(json_object_get(ans, "update"), 0);
    if ((e = json_object_get(item, "error")) != NULL) {
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *code = json_string_value(json_object_get(e, "code"));
        rc = oh_err_set(err, OH_EINVAL, "woocommerce %s: products/batch refused sku %s (product %lld): %s (%s)",
                        ch->name, sku, pid, msg ? msg : "?", code ? code : "?");
        goto done;
    }
done:
    free(text);
    json_decref(body);
    json_decref(ans);
    oh_http_response_free(&r);
    return rc;
}

int woo_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err)
{
    struct woo *w = ch->priv;
    json_error_t je;
    json_t *p = json_loadb(m->payload ? m->payload : "", m->payload_len, 0, &je);
    int rc;

    if (!json_is_object(p)) {
        json_decref(p);
        return oh_err_set(err, OH_EINVAL, "woocommerce %s: %s payload is not a JSON object: %s",
                          ch->name, m->event, je.text);
    }
    oh_http_client_reset_budget(w->http);
    if (strcmp(m->event, "shipment.created") == 0)
        rc = ship(ch, w, p, err);
    else if (strcmp(m->event, "inventory.changed") == 0)
        rc = stock(ch, w, p, err);
    else
        rc = oh_err_set(err, OH_EINVAL, "woocommerce %s: event %s is not something WooCommerce takes",
                        ch->name, m->event);
    json_decref(p);
    return rc;
}
