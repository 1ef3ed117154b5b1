/*
 * store_edi.c — EDI partner state: control numbers, interchanges received
 * (duplicate detection) and interchanges sent with the acknowledgement each
 * one expects (see store.h, "EDI partners").
 *
 * Promises:
 *   E1  A control number is taken by one atomic statement on the row
 *       (partner, kind); the row lock lasts until the caller's transaction
 *       ends, so two instances never take the same number and a rollback
 *       gives the number back (no silent gap).
 *   E2  An outgoing interchange's numbers are recorded against its outbox
 *       row (UNIQUE outbox_id): a retried delivery reuses them.
 *   E3  An incoming interchange key is claimed with INSERT IGNORE: exactly
 *       one claim of a key ever reports it as new.
 *
 * The statements here are used rarely (once per interchange), so they are
 * prepared per call and closed again instead of living in the shared
 * statement cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util.h"


int oh_store_edi_next(struct oh_store *st, const char *partner, const char *kind,
                      unsigned long max, unsigned long *value, struct oh_err *err)
{
    struct oh_rows r = { 0 };
    int rc;

    *value = 0;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, partner);
    oh_p_str(st, kind);
    oh_p_i64(st, (int64_t)max);
    /* E1: LAST_INSERT_ID(expr) hands the new value to this connection only */
    if ((rc = oh_st_run_sql(st,
                            "INSERT INTO edi_control_numbers (partner, kind, value) "
                            "VALUES (?, ?, LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE "
                            "value = LAST_INSERT_ID(IF(value >= ?, 1, value + 1)), "
                            "updated_at = CURRENT_TIMESTAMP(3)",
                            "take control number", NULL, NULL, err)) < 0)
        goto done;
    oh_p_reset(st);
    if ((rc = oh_st_run_sql(st, "SELECT LAST_INSERT_ID()", "read control number", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows != 1 || !oh_cell(&r, 0, 0)) {
        rc = oh_err_set(err, OH_ERROR, "control number %s/%s: no value", partner, kind);
        goto done;
    }
    *value = strtoul(oh_cell(&r, 0, 0), NULL, 10);
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_edi_in_claim(struct oh_store *st, const char *partner, const char *sender,
                          const char *control, const char *spool_id, int *first,
                          struct oh_err *err)
{
    uint64_t n = 0;
    int rc;

    *first = 0;
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, partner);
    oh_p_str(st, sender);
    oh_p_str(st, control);
    oh_p_str(st, spool_id);
    if ((rc = oh_st_run_sql(st,
                            "INSERT IGNORE INTO edi_interchanges_in "
                            "(partner, sender, control, spool_id) VALUES (?, ?, ?, ?)",
                            "record interchange", NULL, &n, err)) < 0)
        return rc;
    *first = n > 0;
    return 0;
}

int oh_store_edi_out_record(struct oh_store *st, const char *partner,
                            const struct oh_edi_numbers *o, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, partner);
    oh_p_i64(st, o->outbox_id);
    oh_p_str(st, o->standard);
    oh_p_str(st, o->message);
    oh_p_i64(st, (int64_t)o->icn);
    oh_p_i64(st, (int64_t)o->gcn);
    oh_p_i64(st, (int64_t)o->scn);
    oh_p_str(st, o->ack_expected);
    if (o->ack_expected)
        oh_p_time_ms(st, oh_now_ms() + o->ack_window_ms);
    else
        oh_p_null(st);
    oh_p_str(st, o->ack_expected ? "pending" : "none");
    return oh_st_run_sql(st,
                         "INSERT INTO edi_interchanges_out (partner, outbox_id, standard, "
                         "message, icn, gcn, scn, ack_expected, ack_due_at, ack_status) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         "record sent interchange", NULL, NULL, err);
}

int oh_store_edi_out_assign(struct oh_store *st, const char *partner, struct oh_edi_numbers *o,
                            struct oh_err *err)
{
    struct oh_rows r = { 0 };
    int x12 = strcmp(o->standard, "x12") == 0;
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, o->outbox_id);
    if ((rc = oh_st_run_sql(st,
                            "SELECT icn, gcn, scn FROM edi_interchanges_out WHERE outbox_id = ? "
                            "FOR UPDATE",
                            "read sent interchange", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows == 1) { /* E2 */
        o->icn = strtoul(oh_cell(&r, 0, 0), NULL, 10);
        o->gcn = strtoul(oh_cell(&r, 0, 1), NULL, 10);
        o->scn = strtoul(oh_cell(&r, 0, 2), NULL, 10);
        goto done;
    }
    if ((rc = oh_store_edi_next(st, partner, x12 ? "ISA13" : "UNB0020", 999999999UL, &o->icn,
                                err)) < 0)
        goto done;
    if (x12 && (rc = oh_store_edi_next(st, partner, "GS06", 999999999UL, &o->gcn, err)) < 0)
        goto done;
    if ((rc = oh_store_edi_next(st, partner, x12 ? "ST02" : "UNH0062", 999999999UL, &o->scn,
                                err)) < 0)
        goto done;
    rc = oh_store_edi_out_record(st, partner, o, err);
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_edi_ack_match(struct oh_store *st, const char *partner, int by_group,
                           unsigned long ctrl, const char *status, const char *codes,
                           int *matched, struct oh_err *err)
{
    uint64_t n = 0;
    int rc;

    *matched = 0;
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, status);
    oh_p_str(st, codes && *codes ? codes : NULL);
    oh_p_str(st, partner);
    oh_p_i64(st, (int64_t)ctrl);
    rc = oh_st_run_sql(st,
                  by_group ? "UPDATE edi_interchanges_out SET ack_status = ?, ack_codes = ?, "
                             "ack_at = CURRENT_TIMESTAMP(3) WHERE partner = ? AND gcn = ? "
                             "AND ack_expected IS NOT NULL"
                           : "UPDATE edi_interchanges_out SET ack_status = ?, ack_codes = ?, "
                             "ack_at = CURRENT_TIMESTAMP(3) WHERE partner = ? AND icn = ? "
                             "AND ack_expected IS NOT NULL",
                  "record acknowledgement", NULL, &n, err);
    *matched = (int)n;
    return rc;
}

static const char *const status_cols[] = {
    "id", "partner", "message", "icn", "gcn", "scn", "ack_expected", "ack_due_at",
    "ack_status", "ack_codes", "ack_at", "overdue", NULL,
};

static json_t *rows_to_json(const struct oh_rows *r, const char *const *cols)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->nrows; i++) {
        json_t *o = json_object();
        for (size_t c = 0; cols[c] && c < r->ncols; c++) {
            const char *v = oh_cell(r, i, c);
            json_t *jv;
            if (!v)
                continue;
            if (strcmp(cols[c], "id") == 0 || strcmp(cols[c], "icn") == 0 ||
                strcmp(cols[c], "gcn") == 0 || strcmp(cols[c], "scn") == 0)
                jv = json_integer(oh_st_atoi64(v));
            else if (strcmp(cols[c], "overdue") == 0)
                jv = json_boolean(strcmp(v, "0") != 0);
            else
                jv = json_string(v);
            json_object_set_new(o, cols[c], jv);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

int oh_store_edi_overdue_take(struct oh_store *st, const char *partner, json_t **out,
                              struct oh_err *err)
{
    struct oh_rows r = { 0 };
    int rc;

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, partner);
    if ((rc = oh_st_run_sql(st,
                            "SELECT id, partner, message, icn, gcn, scn, ack_expected, ack_due_at, "
                            "ack_status, ack_codes, ack_at, 1 FROM edi_interchanges_out "
                            "WHERE partner = ? AND ack_status = 'pending' AND overdue_reported = 0 "
                            "AND ack_due_at < CURRENT_TIMESTAMP(3) ORDER BY id LIMIT 1000",
                            "find overdue acknowledgements", &r, NULL, err)) < 0)
        goto done;
    for (size_t i = 0; i < r.nrows; i++) {
        oh_p_reset(st);
        oh_p_i64(st, oh_st_atoi64(oh_cell(&r, i, 0)));
        if ((rc = oh_st_run_sql(st,
                                "UPDATE edi_interchanges_out SET overdue_reported = 1 WHERE id = ?",
                                "mark overdue reported", NULL, NULL, err)) < 0)
            goto done;
    }
    *out = rows_to_json(&r, status_cols);
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_edi_status(struct oh_store *st, const char *partner, size_t limit, json_t **out,
                        struct oh_err *err)
{
    struct oh_rows r = { 0 };
    int rc;

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, partner);
    oh_p_str(st, partner);
    oh_p_i64(st, (int64_t)(limit ? limit : 100));
    if ((rc = oh_st_run_sql(st,
                            "SELECT id, partner, message, icn, gcn, scn, ack_expected, ack_due_at, "
                            "ack_status, ack_codes, ack_at, "
                            "(ack_status = 'pending' AND ack_due_at < CURRENT_TIMESTAMP(3)) "
                            "FROM edi_interchanges_out WHERE ack_expected IS NOT NULL "
                            "AND (? IS NULL OR partner = ?) ORDER BY id DESC LIMIT ?",
                            "list sent interchanges", &r, NULL, err)) < 0)
        goto done;
    *out = rows_to_json(&r, status_cols);
done:
    oh_rows_free(&r);
    return rc;
}
