/*
 * shopify_push.c — outbound: tracking back to Shopify, inventory levels.
 *
 * shipment.created (payload: canonical shipment JSON)
 *   order: "order_external_id" or "order": {"external_id"}  (the Shopify order id)
 *   "carrier", "tracking_number", optional "tracking_url",
 *   optional "lines": [{"external_id" (Shopify line item id) | "sku", "qty"}]
 *   1. GET orders/{id}/fulfillment_orders.json
 *   2. without lines: every open fulfillment order is fulfilled whole;
 *      with lines: each line is matched to fulfillment-order line items by
 *      line item id, or by SKU: through the lines of the stored order the
 *      event carries ("order"), else GET orders/{id}.json line_items
 *   3. POST fulfillments.json with tracking_info and notify_customer.
 *   When nothing is left to fulfil (every fulfillment order closed) the
 *   message is done (OK, logged): that is what a retry after a lost 201
 *   looks like, and fulfilling twice is what must never happen.
 *
 * inventory.changed (payload {"sku","location","available"})
 *   POST inventory_levels/set.json {location_id, inventory_item_id, available}
 *   inventory_item_id comes from the channel's inventory_map file (CSV
 *   sku,inventory_item_id): order payloads carry variant ids, not
 *   inventory item ids, so they cannot teach the map. location_id: the
 *   payload's location when it is numeric, else the channel's location_id.
 *
 * Failures are classified by the HTTP client (408/429/5xx/transport RETRY,
 * other 4xx FAIL with Shopify's own message, e.g. a 422's errors object).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shopify.h"

static int json_id(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out > 0 ? 0 : -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        /* "gid://shopify/Order/123" is accepted too. */
        if (strrchr(s, '/'))
            s = strrchr(s, '/') + 1;
        *out = strtoll(s, &end, 10);
        return (end != s && *end == '\0' && *out > 0) ? 0 : -1;
    }
    return -1;
}

static long long json_qty(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return -1;
}

static int fo_open(json_t *fo)
{
    const char *st = json_string_value(json_object_get(fo, "status"));
    return st && (strcmp(st, "open") == 0 || strcmp(st, "in_progress") == 0);
}

/* The id (member idkey) of the first line in lines with that SKU, or 0. */
static long long line_by_sku(json_t *lines, const char *idkey, const char *sku)
{
    json_t *ol;
    size_t k;
    long long id;

    json_array_foreach(lines, k, ol) {
        const char *osku = json_string_value(json_object_get(ol, "sku"));
        if (osku && strcmp(osku, sku) == 0 && json_id(json_object_get(ol, idkey), &id) == 0)
            return id;
    }
    return 0;
}

/* For SKU-only lines: the order's line items, from Shopify. */
static int line_ids_by_sku(struct shopify *s, long long oid, json_t **out, struct oh_err *err)
{
    struct oh_http_response r = {0};
    char rel[128];
    json_t *root = NULL;
    int rc;

    *out = NULL;
    snprintf(rel, sizeof(rel), "orders/%lld.json?fields=id,line_items", oid);
    if ((rc = shopify_call(s, "GET", rel, NULL, &r, err)) < 0)
        goto done;
    root = json_loadb(r.body, r.len, 0, NULL);
    *out = json_object_get(json_object_get(root, "order"), "line_items");
    if (!json_is_array(*out)) {
        *out = NULL;
        rc = oh_err_retry(err, OH_EAGAIN, "GET %s: unexpected answer (no order.line_items)", rel);
        goto done;
    }
    json_incref(*out); /* outlives root; the caller releases it */
done:
    json_decref(root);
    oh_http_response_free(&r);
    return rc;
}

static int ship(struct oh_channel *ch, struct shopify *s, json_t *p, struct oh_err *err)
{
    struct oh_http_response r = {0};
    json_t *fos_root = NULL, *fos, *lines, *order_lines = NULL, *body = NULL, *lbfo, *ti;
    json_t *ord = json_object_get(p, "order");
    const char *carrier = json_string_value(json_object_get(p, "carrier"));
    const char *tracking = json_string_value(json_object_get(p, "tracking_number"));
    const char *url = json_string_value(json_object_get(p, "tracking_url"));
    long long oid = 0;
    char rel[128], *text = NULL;
    size_t i, j, nopen = 0;
    json_t *fo;
    int rc = 0;

    if (json_id(json_object_get(p, "order_external_id"), &oid) < 0 &&
        json_id(json_object_get(ord, "external_id"), &oid) < 0)
        return oh_err_set(err, OH_EINVAL,
                          "shopify %s: shipment.created without a numeric order_external_id",
                          ch->name);
    if (!tracking || !*tracking)
        return oh_err_set(err, OH_EINVAL, "shopify %s: shipment for order %lld has no tracking_number",
                          ch->name, oid);

    snprintf(rel, sizeof(rel), "orders/%lld/fulfillment_orders.json", oid);
    if ((rc = shopify_call(s, "GET", rel, NULL, &r, err)) < 0)
        goto done;
    fos_root = json_loadb(r.body, r.len, 0, NULL);
    fos = json_object_get(fos_root, "fulfillment_orders");
    if (!json_is_array(fos)) {
        rc = oh_err_retry(err, OH_EAGAIN, "GET %s: unexpected answer (no fulfillment_orders)", rel);
        goto done;
    }
    lbfo = json_array();
    body = json_pack("{s:{s:o,s:b}}", "fulfillment", "line_items_by_fulfillment_order", lbfo,
                     "notify_customer", s->notify_customer);
    lines = json_object_get(p, "lines");
    if (!json_is_array(lines) || json_array_size(lines) == 0) {
        json_array_foreach(fos, i, fo) {
            if (!fo_open(fo))
                continue;
            json_array_append_new(lbfo, json_pack("{s:O}", "fulfillment_order_id",
                                                  json_object_get(fo, "id")));
            nopen++;
        }
    } else {
        json_t *ln;
        json_array_foreach(lines, i, ln) {
            long long want = json_qty(json_object_get(ln, "qty"));
            long long line_item = 0;
            const char *sku = json_string_value(json_object_get(ln, "sku"));
            if (want <= 0)
                continue;
            if (json_id(json_object_get(ln, "external_id"), &line_item) < 0) {
                if (!sku) {
                    rc = oh_err_set(err, OH_EINVAL, "shopify %s: order %lld: shipment line %zu has neither external_id nor sku",
                                    ch->name, oid, i + 1);
                    goto done;
                }
                /* the stored order in the payload knows its lines' ids;
                 * else ask Shopify for the order's line items */
                line_item = line_by_sku(json_object_get(ord, "lines"), "external_id", sku);
                if (!line_item) {
                    if (!order_lines && (rc = line_ids_by_sku(s, oid, &order_lines, err)) < 0)
                        goto done;
                    line_item = line_by_sku(order_lines, "id", sku);
                }
                if (!line_item) {
                    rc = oh_err_set(err, OH_EINVAL, "shopify %s: order %lld has no line with sku %s",
                                    ch->name, oid, sku);
                    goto done;
                }
            }
            /* Take the quantity from the fulfillment orders holding that line. */
            json_array_foreach(fos, j, fo) {
                json_t *fli, *entry = NULL, *list = NULL;
                size_t k;
                if (!fo_open(fo) || want <= 0)
                    continue;
                json_array_foreach(json_object_get(fo, "line_items"), k, fli) {
                    long long lid = 0, avail = json_qty(json_object_get(fli, "fulfillable_quantity"));
                    long long take;
                    if (json_id(json_object_get(fli, "line_item_id"), &lid) < 0 || lid != line_item ||
                        avail <= 0 || want <= 0)
                        continue;
                    take = avail < want ? avail : want;
                    want -= take;
                    /* One entry per fulfillment order. */
                    if (!entry) {
                        size_t e;
                        json_t *x;
                        json_array_foreach(lbfo, e, x) {
                            if (json_equal(json_object_get(x, "fulfillment_order_id"),
                                           json_object_get(fo, "id")))
                                entry = x;
                        }
                        if (!entry) {
                            entry = json_pack("{s:O,s:[]}", "fulfillment_order_id",
                                              json_object_get(fo, "id"),
                                              "fulfillment_order_line_items");
                            json_array_append_new(lbfo, entry);
                            nopen++;
                        }
                    }
                    list = json_object_get(entry, "fulfillment_order_line_items");
                    json_array_append_new(list, json_pack("{s:O,s:I}", "id", json_object_get(fli, "id"),
                                                          "quantity", (json_int_t)take));
                }
            }
        }
    }
    if (nopen == 0) {
        /* Nothing open: already fulfilled (e.g. our earlier attempt's 201
         * was lost, or the merchant fulfilled by hand). Never fulfil twice. */
        oh_warn("shopify.fulfil.nothing_open", "channel=%s order=%lld tracking=%s", ch->name,
                oid, tracking);
        rc = 0;
        goto done;
    }
    ti = json_pack("{s:s}", "number", tracking);
    if (carrier)
        json_object_set_new(ti, "company", json_string(carrier));
    if (url)
        json_object_set_new(ti, "url", json_string(url));
    json_object_set_new(json_object_get(body, "fulfillment"), "tracking_info", ti);
    text = json_dumps(body, JSON_COMPACT);
    oh_http_response_free(&r);
    if ((rc = shopify_call(s, "POST", "fulfillments.json", text, &r, err)) < 0)
        goto done;
    oh_info("shopify.fulfilled", "channel=%s order=%lld tracking=%s", ch->name, oid, tracking);
done:
    if (rc < 0)
        oh_err_prefix(err, "shopify %s: fulfil order %lld", ch->name, oid);
    free(text);
    json_decref(body);
    json_decref(fos_root);
    json_decref(order_lines);
    oh_http_response_free(&r);
    return rc;
}

static int sku_cmp(const void *k, const void *e)
{
    return strcmp(k, ((const struct shopify_sku *)e)->sku);
}

static int inventory(struct oh_channel *ch, struct shopify *s, json_t *p, struct oh_err *err)
{
    struct oh_http_response r = {0};
    const char *sku = json_string_value(json_object_get(p, "sku"));
    json_t *loc = json_object_get(p, "location"), *av = json_object_get(p, "available"), *body;
    const struct shopify_sku *hit;
    long long location = s->location_id, avail;
    char *text = NULL;
    int rc;

    if (!sku)
        return oh_err_set(err, OH_EINVAL, "shopify %s: inventory.changed without sku", ch->name);
    if (!(hit = bsearch(sku, s->skus, s->nskus, sizeof(*s->skus), sku_cmp)))
        return oh_err_set(err, OH_EINVAL,
                          "shopify %s: sku %s has no inventory_item_id in inventory_map", ch->name,
                          sku);
    if (loc && json_id(loc, &location) < 0)
        location = s->location_id;
    if (location <= 0)
        return oh_err_set(err, OH_EINVAL,
                          "shopify %s: no Shopify location for sku %s (set location_id)", ch->name, sku);
    if (!av || (avail = json_qty(av)) < -1000000000LL)
        return oh_err_set(err, OH_EINVAL, "shopify %s: inventory.changed for %s without available",
                          ch->name, sku);
    body = json_pack("{s:I,s:I,s:I}", "location_id", (json_int_t)location, "inventory_item_id",
                     (json_int_t)hit->item_id, "available", (json_int_t)avail);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    rc = shopify_call(s, "POST", "inventory_levels/set.json", text, &r, err);
    if (rc < 0)
        oh_err_prefix(err, "shopify %s: set inventory of %s", ch->name, sku);
    free(text);
    oh_http_response_free(&r);
    return rc;
}

int shopify_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err)
{
    struct shopify *s = ch->priv;
    json_error_t je;
    json_t *p = json_loadb(m->payload ? m->payload : "", m->payload_len, 0, &je);
    int rc;

    if (!json_is_object(p)) {
        json_decref(p);
        return oh_err_set(err, OH_EINVAL, "shopify %s: %s payload is not a JSON object: %s",
                          ch->name, m->event, je.text);
    }
    oh_http_client_reset_budget(s->http);
    if (strcmp(m->event, "shipment.created") == 0)
        rc = ship(ch, s, p, err);
    else if (strcmp(m->event, "inventory.changed") == 0)
        rc = inventory(ch, s, p, err);
    else
        rc = oh_err_set(err, OH_EINVAL, "shopify %s: event %s is not something Shopify takes",
                        ch->name, m->event);
    json_decref(p);
    return rc;
}
