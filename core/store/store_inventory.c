/*
 * store_inventory.c — stock levels reported by a channel (a WMS or ERP
 * feed), one row per (sku, location).
 *
 * Promises (store.h, "Inventory"):
 *   I1  The same levels again change nothing (UNCHANGED); a record older
 *       than the stored one (updated_at) changes nothing (STALE); anything
 *       else writes the row (INSERTED / UPDATED). A field the record does
 *       not carry keeps its stored value.
 *   I2  The row is locked (FOR UPDATE) while it is compared and written,
 *       so two feeds for one SKU serialise.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

/* Binds a decimal field, or NULL (keep the stored value). */
static int p_qty(struct oh_store *st, const json_t *inv, const char *key, struct oh_err *err)
{
    const char *v = json_string_value(json_object_get(inv, key));

    if (v && !oh_st_decimal_ok(v, strlen(v)))
        return oh_err_set(err, OH_EINVAL, "%s: \"%s\" does not fit DECIMAL(19,4)", key, v);
    oh_p_str(st, v);
    return 0;
}

static void p_when(struct oh_store *st, const char *when)
{
    if (when)
        oh_p_str(st, when);
    else
        oh_p_null(st);
}

int oh_store_upsert_inventory(struct oh_store *st, const json_t *inv, enum oh_upsert *what,
                              struct oh_err *err)
{
    const char *sku = json_string_value(json_object_get(inv, "sku"));
    const char *loc = json_string_value(json_object_get(inv, "location"));
    const char *at = json_string_value(json_object_get(inv, "updated_at"));
    char when[OH_TMP_LEN];
    struct oh_rows r = { 0 };
    int rc;

    *what = OH_UPSERT_UNCHANGED;
    if (!sku)
        return oh_err_set(err, OH_EINVAL, "inventory: sku is required");
    if (!loc)
        loc = "";
    if (at && oh_st_iso_to_sql(at, when) < 0)
        return oh_err_set(err, OH_EINVAL, "updated_at: \"%.40s\" is not an ISO-8601 date-time", at);
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    /* what is stored: newer than this record? the same levels? */
    oh_p_reset(st);
    p_when(st, at ? when : NULL);
    if ((rc = p_qty(st, inv, "on_hand", err)) < 0 || (rc = p_qty(st, inv, "reserved", err)) < 0 ||
        (rc = p_qty(st, inv, "available", err)) < 0)
        goto done;
    oh_p_str(st, sku);
    oh_p_str(st, loc);
    if ((rc = oh_st_run_sql(st,
                            "SELECT updated_at > COALESCE(?, CURRENT_TIMESTAMP(3)), "
                            "on_hand = COALESCE(?, on_hand) AND reserved = COALESCE(?, reserved) "
                            "AND available = COALESCE(?, available) "
                            "FROM inventory WHERE sku = ? AND location = ? FOR UPDATE",
                            "lock inventory", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows == 1 && strcmp(oh_cell(&r, 0, 0), "1") == 0) {
        *what = OH_UPSERT_STALE;
        goto done;
    }
    if (r.nrows == 1 && strcmp(oh_cell(&r, 0, 1), "1") == 0)
        goto done; /* UNCHANGED: only a change of level counts */
    oh_p_reset(st);
    if ((rc = p_qty(st, inv, "on_hand", err)) < 0 || (rc = p_qty(st, inv, "reserved", err)) < 0 ||
        (rc = p_qty(st, inv, "available", err)) < 0)
        goto done;
    p_when(st, at ? when : NULL);
    oh_p_str(st, sku);
    oh_p_str(st, loc);
    if (r.nrows == 0) {
        rc = oh_st_run_sql(st,
                           "INSERT INTO inventory (on_hand, reserved, available, updated_at, sku, "
                           "location) VALUES (COALESCE(?, 0), COALESCE(?, 0), COALESCE(?, 0), "
                           "COALESCE(?, CURRENT_TIMESTAMP(3)), ?, ?)",
                           "insert inventory", NULL, NULL, err);
        if (rc == 0)
            *what = OH_UPSERT_INSERTED;
        goto done;
    }
    rc = oh_st_run_sql(st,
                       "UPDATE inventory SET on_hand = COALESCE(?, on_hand), "
                       "reserved = COALESCE(?, reserved), available = COALESCE(?, available), "
                       "updated_at = COALESCE(?, CURRENT_TIMESTAMP(3)) "
                       "WHERE sku = ? AND location = ?",
                       "update inventory", NULL, NULL, err);
    if (rc == 0)
        *what = OH_UPSERT_UPDATED;
done:
    oh_rows_free(&r);
    return rc;
}
