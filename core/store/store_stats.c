/*
 * store_stats.c — counts for the daemon's /metrics: outbox messages by
 * state, documents by status and EDI acknowledgements overdue now, in one
 * statement (one round trip).
 *
 * Promises:
 *   - oh_store_stats runs one constant SELECT (no parameters, T1) whose
 *     parts are index scans: outbox by ix_outbox_due (state, ...),
 *     documents by ix_documents_status (status, ...), edi_interchanges_out
 *     by ix_edi_out_due (ack_status, ack_due_at). Counting documents is
 *     still proportional to the table's size, which is why callers cache the
 *     result (web.c keeps it a few seconds);
 *   - *out is the caller's: {"outbox": {STATE: N, ...}, "documents":
 *     {STATUS: N, ...}, "edi_acks_overdue": N}; states with no rows are
 *     absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

static const char stats_sql[] =
    "SELECT 'outbox', state, COUNT(*) FROM outbox GROUP BY state "
    "UNION ALL SELECT 'documents', status, COUNT(*) FROM documents GROUP BY status "
    "UNION ALL SELECT 'edi', 'overdue', COUNT(*) FROM edi_interchanges_out "
    "WHERE ack_status = 'pending' AND ack_due_at < CURRENT_TIMESTAMP(3)";

int oh_store_stats(struct oh_store *st, json_t **out, struct oh_err *err)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    json_t *o = NULL, *outbox = NULL, *docs = NULL;
    int rc;

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    if (mysql_real_query(st->db, stats_sql, sizeof(stats_sql) - 1) != 0 ||
        !(res = mysql_store_result(st->db))) {
        rc = oh_st_fail(st, mysql_errno(st->db), mysql_error(st->db), "read counts", err);
        goto done;
    }
    o = json_object();
    outbox = json_object();
    docs = json_object();
    json_object_set_new(o, "edi_acks_overdue", json_integer(0));
    while ((row = mysql_fetch_row(res))) {
        json_int_t n;
        if (!row[0] || !row[1] || !row[2])
            continue;
        n = (json_int_t)oh_st_atoi64(row[2]);
        if (strcmp(row[0], "outbox") == 0)
            json_object_set_new(outbox, row[1], json_integer(n));
        else if (strcmp(row[0], "documents") == 0)
            json_object_set_new(docs, row[1], json_integer(n));
        else if (strcmp(row[0], "edi") == 0)
            json_object_set_new(o, "edi_acks_overdue", json_integer(n));
    }
    json_object_set_new(o, "outbox", outbox);
    json_object_set_new(o, "documents", docs);
    outbox = docs = NULL;
    *out = o;
    o = NULL;
    rc = 0;
done:
    if (res)
        mysql_free_result(res);
    json_decref(outbox);
    json_decref(docs);
    json_decref(o);
    return rc;
}
