/*
 * store_privacy.c — customer data erasure and export (GDPR / Shopify's
 * mandatory privacy webhooks), and pruning of "seen" keys.
 *
 * What oh_store_privacy_erase erases, on the matched orders of one channel:
 *   orders:    customer_email, customer_name, customer_phone, notes
 *   addresses: name, company, line1, line2, phone, email (bill_to, ship_to)
 *   outbox:    the canonical payload of rows already done or dead for those
 *              orders, replaced by {"redacted":true} (pending rows are left
 *              to be delivered: they are work in flight)
 *   documents: source (it may name the customer) of each document that
 *              stored one of those orders
 * and keeps what the business needs: order ids and numbers, status, dates,
 * amounts, lines (SKUs, quantities, prices), city/region/postal code/country,
 * and customer_external_id (the shop's own opaque id, kept so a later
 * request for the same customer still matches). content_sha256 is kept, so
 * a re-read of the same order version is still UNCHANGED and does not bring
 * the data back. Raw payloads live in the spool; daemon/privacy.c erases
 * those and clears their documents.source through oh_store_document_forget.
 *
 * Statements here are rare (one per privacy request, one prune an hour):
 * each is prepared, run and closed on the spot rather than cached. All SQL
 * text is constant; input only travels as bound parameters (T1).
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Runs one constant statement with st->p; closes it again. */
static int run_once(struct oh_store *st, const char *sql, const char *what, struct oh_rows *rows,
                    uint64_t *affected, struct oh_err *err)
{
    MYSQL_STMT *s = NULL;
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if ((rc = oh_st_prepare(st, &s, sql, what, err)) < 0)
        return rc;
    rc = oh_st_exec(st, s, what, rows, affected, err);
    mysql_stmt_close(s);
    return rc;
}

#define MATCH_ORDERS                                                                            \
    "SELECT id FROM orders WHERE channel = ? AND (? = 1 OR customer_external_id = ? OR "       \
    "customer_email = ?)"

static void bind_match(struct oh_store *st, const char *channel, const char *customer_id,
                       const char *email, int all)
{
    oh_p_str(st, channel);
    oh_p_i64(st, all ? 1 : 0);
    oh_p_str(st, customer_id && *customer_id ? customer_id : NULL);
    oh_p_str(st, email && *email ? email : NULL);
}

int oh_store_privacy_orders(struct oh_store *st, const char *channel, const char *customer_id,
                            const char *email, int all, json_t **out, struct oh_err *err)
{
    struct oh_rows r = { 0 };
    json_t *arr = json_array();
    int rc;

    *out = NULL;
    oh_p_reset(st);
    bind_match(st, channel, customer_id, email, all);
    if ((rc = run_once(st, MATCH_ORDERS " ORDER BY id", "find the customer's orders", &r, NULL,
                       err)) < 0)
        goto done;
    for (size_t i = 0; i < r.nrows; i++) {
        json_t *o = NULL;
        if ((rc = oh_store_order_get_by_id(st, oh_st_atoi64(oh_cell(&r, i, 0)), &o, err)) < 0) {
            if (rc == OH_ENOTFOUND)
                continue;
            goto done;
        }
        json_array_append_new(arr, o);
    }
    *out = arr;
    arr = NULL;
    rc = 0;
done:
    oh_rows_free(&r);
    json_decref(arr);
    return rc;
}

int oh_store_privacy_erase(struct oh_store *st, const char *channel, const char *customer_id,
                           const char *email, int all, size_t *orders, struct oh_err *err)
{
    static const char *const steps[][2] = {
        { "UPDATE addresses SET name = NULL, company = NULL, line1 = NULL, line2 = NULL, "
          "phone = NULL, email = NULL WHERE order_id IN (SELECT id FROM (" MATCH_ORDERS ") m)",
          "erase addresses" },
        { "UPDATE outbox SET payload = '{\"redacted\":true}' WHERE state IN ('done','dead') AND "
          "order_id IN (SELECT id FROM (" MATCH_ORDERS ") m)",
          "erase outbox payloads" },
        { "UPDATE documents SET source = NULL WHERE id IN (SELECT doc_id FROM orders WHERE "
          "channel = ? AND (? = 1 OR customer_external_id = ? OR customer_email = ?))",
          "clear document sources" },
        /* last: the match reads customer_email */
        { "UPDATE orders SET customer_email = NULL, customer_name = NULL, customer_phone = NULL, "
          "notes = NULL, modified_at = NOW(3) WHERE channel = ? AND (? = 1 OR "
          "customer_external_id = ? OR customer_email = ?)",
          "erase orders" },
    };
    struct oh_rows r = { 0 };
    int rc;

    *orders = 0;
    if (!all && !(customer_id && *customer_id) && !(email && *email))
        return oh_err_set(err, OH_EINVAL, "erase: a customer id or an email is required");
    oh_p_reset(st);
    bind_match(st, channel, customer_id, email, all);
    if ((rc = run_once(st, "SELECT COUNT(*) FROM (" MATCH_ORDERS ") m", "count the customer's orders",
                       &r, NULL, err)) < 0)
        goto done;
    *orders = r.nrows ? (size_t)oh_st_atoi64(oh_cell(&r, 0, 0)) : 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        oh_p_reset(st);
        bind_match(st, channel, customer_id, email, all);
        if ((rc = run_once(st, steps[i][0], steps[i][1], NULL, NULL, err)) < 0)
            goto done;
    }
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_document_forget(struct oh_store *st, const char *channel, const char *spool_id,
                             struct oh_err *err)
{
    oh_p_reset(st);
    oh_p_str(st, channel);
    oh_p_str(st, spool_id);
    return run_once(st, "UPDATE documents SET source = NULL WHERE channel = ? AND spool_id = ?",
                    "clear a document's source", NULL, NULL, err);
}

int oh_store_seen_prune(struct oh_store *st, int64_t older_than_ms, size_t *deleted,
                        struct oh_err *err)
{
    uint64_t n = 0;
    int rc;

    if (deleted)
        *deleted = 0;
    if (older_than_ms < OH_SEEN_MIN_RETENTION_MS)
        return oh_err_set(err, OH_EINVAL,
                          "seen keys must be kept at least 48h (asked to prune after %lld ms)",
                          (long long)older_than_ms);
    /* In slices, so a large prune never holds many row locks at once.
     * The cut-off is computed by the server from its own clock, the same
     * clock that wrote created_at. */
    do {
        oh_p_reset(st);
        oh_p_i64(st, older_than_ms * 1000);
        if ((rc = run_once(st,
                           "DELETE FROM seen_keys WHERE created_at < NOW(3) - INTERVAL ? MICROSECOND "
                           "LIMIT 5000",
                           "prune seen keys", NULL, &n, err)) < 0)
            return rc;
        if (deleted)
            *deleted += (size_t)n;
    } while (n == 5000);
    return 0;
}
