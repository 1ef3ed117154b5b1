/*
 * store_shipment.c — shipments reported by a channel (a 3PL's confirmation,
 * a WMS feed, a carrier): stored against their order, the order's status
 * moved to partially_shipped or shipped.
 *
 * Promises (store.h, "Shipments"):
 *   S1  Idempotent like orders (T3): (channel, external_id) is unique; the
 *       same shipment again is UNCHANGED (content hash), a changed one
 *       replaces its row and lines (UPDATED).
 *   S2  The order is found by order_ref: (channel, external_id) when the
 *       channel is given, else external_id in every channel. None, or more
 *       than one, is a permanent error naming the reference.
 *   S3  The order row is locked first (FOR UPDATE), so two shipments of one
 *       order serialise and the status they compute sees both.
 *   S4  Status: after the shipment the order is "shipped" when every order
 *       line has shipped its quantity (lines matched by line_no, else by
 *       sku; a shipment without lines ships the whole order), otherwise
 *       "partially_shipped"; only forward moves are made (a cancelled or
 *       delivered order keeps its status, and the shipment is still
 *       stored).
 * Shipments are rare next to orders, so their statements are prepared per
 * call (oh_st_run_sql) rather than cached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* Binds a canonical string field (NULL when absent). */
static void p_field(struct oh_store *st, const json_t *obj, const char *key)
{
    oh_p_str(st, json_string_value(json_object_get(obj, key)));
}

static int p_time(struct oh_store *st, const json_t *obj, const char *key, struct oh_err *err)
{
    const char *v = json_string_value(json_object_get(obj, key));
    char *tmp;

    if (!v) {
        oh_p_null(st);
        return 0;
    }
    tmp = oh_p_tmp(st);
    if (oh_st_iso_to_sql(v, tmp) < 0)
        return oh_err_set(err, OH_EINVAL, "%s: \"%.40s\" is not an ISO-8601 date-time", key, v);
    oh_p_str(st, tmp);
    return 0;
}

/* S2, S3: the order the shipment belongs to, locked. */
static int find_order(struct oh_store *st, const json_t *ref, struct oh_shipment_result *res,
                      struct oh_err *err)
{
    const char *ch = json_string_value(json_object_get(ref, "channel"));
    const char *ext = json_string_value(json_object_get(ref, "external_id"));
    struct oh_rows r = { 0 };
    int rc;

    oh_p_reset(st);
    if (ch)
        oh_p_str(st, ch);
    oh_p_str(st, ext);
    rc = oh_st_run_sql(st,
                       ch ? "SELECT id, channel, status FROM orders WHERE channel = ? AND "
                            "external_id = ? FOR UPDATE"
                          : "SELECT id, channel, status FROM orders WHERE external_id = ? "
                            "ORDER BY id LIMIT 3 FOR UPDATE",
                       "find the shipment's order", &r, NULL, err);
    if (rc < 0)
        goto done;
    if (r.nrows == 0) {
        rc = oh_err_set(err, OH_ENOTFOUND, "order_ref: no order \"%s\"%s%s in the store", ext,
                        ch ? " in channel " : "", ch ? ch : "");
        goto done;
    }
    if (r.nrows > 1) {
        rc = oh_err_set(err, OH_EINVAL,
                        "order_ref: order \"%s\" exists in channels %s and %s%s; set "
                        "order_ref.channel",
                        ext, oh_cell(&r, 0, 1), oh_cell(&r, 1, 1), r.nrows > 2 ? " and more" : "");
        goto done;
    }
    res->order_id = oh_st_atoi64(oh_cell(&r, 0, 0));
    snprintf(res->order_channel, sizeof(res->order_channel), "%s", oh_cell(&r, 0, 1));
    snprintf(res->old_status, sizeof(res->old_status), "%s", oh_cell(&r, 0, 2));
    snprintf(res->new_status, sizeof(res->new_status), "%s", oh_cell(&r, 0, 2));
done:
    oh_rows_free(&r);
    return rc;
}

static int write_row(struct oh_store *st, const char *channel, const json_t *sh, const char *hash,
                     int64_t doc_id, struct oh_shipment_result *res, struct oh_err *err)
{
    const json_t *label = json_object_get(sh, "label");
    const json_t *pk = json_object_get(sh, "packages");
    char *packages = pk ? json_dumps(pk, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int rc;

    oh_p_reset(st);
    oh_p_i64(st, res->order_id);
    p_field(st, sh, "carrier");
    p_field(st, sh, "service");
    p_field(st, sh, "tracking_number");
    p_field(st, label, "format");
    p_field(st, label, "path");
    if ((rc = p_time(st, sh, "shipped_at", err)) < 0)
        goto done;
    oh_p_str(st, packages);
    oh_p_str(st, hash);
    if (doc_id > 0)
        oh_p_i64(st, doc_id);
    else
        oh_p_null(st);
    if (res->shipment_id) {
        oh_p_i64(st, res->shipment_id);
        if ((rc = oh_st_run_sql(st,
                                "UPDATE shipments SET order_id = ?, carrier = ?, service = ?, "
                                "tracking_number = ?, label_format = ?, label_path = ?, "
                                "shipped_at = ?, packages = ?, content_sha256 = ?, doc_id = ?, "
                                "updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?",
                                "update shipment", NULL, NULL, err)) < 0)
            goto done;
        oh_p_reset(st);
        oh_p_i64(st, res->shipment_id);
        rc = oh_st_run_sql(st, "DELETE FROM shipment_lines WHERE shipment_id = ?",
                           "replace shipment lines", NULL, NULL, err);
        goto done;
    }
    oh_p_str(st, channel);
    p_field(st, sh, "external_id");
    rc = oh_st_insert_sql(st,
                          "INSERT INTO shipments (order_id, carrier, service, tracking_number, "
                          "label_format, label_path, shipped_at, packages, content_sha256, "
                          "doc_id, channel, external_id) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          "insert shipment", &res->shipment_id, err);
done:
    free(packages);
    return rc;
}

static int write_lines(struct oh_store *st, const json_t *sh, int64_t shipment_id,
                       struct oh_err *err)
{
    const json_t *lines = json_object_get(sh, "lines"), *l;
    size_t i;
    int rc;

    json_array_foreach(lines, i, l) {
        const json_t *no = json_object_get(l, "line_no");
        const char *qty = json_string_value(json_object_get(l, "qty"));
        if (!oh_st_decimal_ok(qty, strlen(qty)))
            return oh_err_set(err, OH_EINVAL, "lines[%zu].qty: \"%s\" does not fit DECIMAL(19,4)",
                              i, qty);
        oh_p_reset(st);
        oh_p_i64(st, shipment_id);
        oh_p_i64(st, (int64_t)i + 1);
        if (no)
            oh_p_i64(st, (int64_t)json_integer_value(no));
        else
            oh_p_null(st);
        p_field(st, l, "sku");
        oh_p_str(st, qty);
        if ((rc = oh_st_run_sql(st,
                                "INSERT INTO shipment_lines (shipment_id, seq, line_no, sku, qty) "
                                "VALUES (?, ?, ?, ?, ?)",
                                "insert shipment line", NULL, NULL, err)) < 0) {
            oh_err_prefix(err, "lines[%zu]", i);
            return rc;
        }
    }
    return 0;
}

/* S4: "shipped" when nothing of the order is left to ship. */
static int shipped_status(struct oh_store *st, int64_t order_id, int whole, const char **status,
                          struct oh_err *err)
{
    struct oh_rows r = { 0 };
    int rc;

    *status = "shipped";
    if (whole)
        return 0;
    oh_p_reset(st);
    oh_p_i64(st, order_id);
    oh_p_i64(st, order_id);
    rc = oh_st_run_sql(st,
                       "SELECT COUNT(*) FROM order_lines ol WHERE ol.order_id = ? AND ol.qty > "
                       "(SELECT COALESCE(SUM(sl.qty), 0) FROM shipment_lines sl "
                       " JOIN shipments s ON s.id = sl.shipment_id "
                       " WHERE s.order_id = ? AND (sl.line_no = ol.line_no OR "
                       "  (sl.line_no IS NULL AND sl.sku = ol.sku)))",
                       "count lines left to ship", &r, NULL, err);
    if (rc == 0 && r.nrows == 1 && oh_st_atoi64(oh_cell(&r, 0, 0)) > 0)
        *status = "partially_shipped";
    oh_rows_free(&r);
    return rc;
}

int oh_store_upsert_shipment(struct oh_store *st, const char *channel, const json_t *shipment,
                             const char *content_sha256, int64_t doc_id,
                             struct oh_shipment_result *res, struct oh_err *err)
{
    const char *ext = json_string_value(json_object_get(shipment, "external_id"));
    const json_t *lines = json_object_get(shipment, "lines");
    const char *status;
    struct oh_rows r = { 0 };
    char old[32];
    int rc;

    memset(res, 0, sizeof(*res));
    if (!ext || !channel || !content_sha256)
        return oh_err_set(err, OH_EINVAL, "shipment: channel, external_id and hash are required");
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if ((rc = find_order(st, json_object_get(shipment, "order_ref"), res, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, channel);
    oh_p_str(st, ext);
    if ((rc = oh_st_run_sql(st,
                            "SELECT id, content_sha256 FROM shipments WHERE channel = ? AND "
                            "external_id = ? FOR UPDATE",
                            "lock shipment", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows == 1) {
        res->shipment_id = oh_st_atoi64(oh_cell(&r, 0, 0));
        if (oh_cell(&r, 0, 1) && strcmp(oh_cell(&r, 0, 1), content_sha256) == 0) {
            res->what = OH_UPSERT_UNCHANGED;
            goto done;
        }
        res->what = OH_UPSERT_UPDATED;
    } else {
        res->what = OH_UPSERT_INSERTED;
    }
    if ((rc = write_row(st, channel, shipment, content_sha256, doc_id, res, err)) < 0 ||
        (rc = write_lines(st, shipment, res->shipment_id, err)) < 0)
        goto done;
    if ((rc = shipped_status(st, res->order_id, json_array_size(lines) == 0, &status, err)) < 0)
        goto done;
    /* S4: forward only; a refused move keeps the order's status */
    rc = oh_store_order_set_status(st, res->order_id, status, old, err);
    if (rc == OH_EINVAL) {
        oh_err_clear(err);
        rc = 0;
    } else if (rc == 0) {
        snprintf(res->new_status, sizeof(res->new_status), "%s", status);
    }
done:
    oh_rows_free(&r);
    return rc;
}
