/*
 * store_outbox.c — the transactional outbox (DESIGN §3.4).
 *
 * Row states:
 *
 *     add            lease                done
 *   -------> pending -------> leased ----------> done
 *              ^  ^             |  \
 *              |  | fail,       |   \ fail, not retryable or attempts used up
 *              |  | retryable   |    v
 *              |  +-------------+   dead
 *              |  lease expired:    |
 *              |  leased again      | retry (operator)
 *              +--------------------+
 *
 * Invariants:
 *   O1  A row is handed to at most one leaser at a time: rows are picked
 *       with SELECT ... FOR UPDATE SKIP LOCKED and marked leased in the same
 *       transaction.
 *   O2  A leased row whose lease_until has passed is due again (its leaser
 *       is presumed dead); delivery is therefore at least once.
 *   O3  attempts counts failed deliveries; with max_attempts = N the Nth
 *       failure makes the row dead.
 *
 * oh_store_outbox_lease runs its own transaction and refuses to run inside
 * the caller's. The other calls run in the caller's transaction if one is
 * open (oh_store_outbox_add is meant to), else in autocommit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int oh_store_outbox_add(struct oh_store *st, const char *event, const char *target,
                        const char *origin, int64_t order_id, const char *payload, int64_t *id,
                        struct oh_err *err)
{
    int rc;
    MYSQL_STMT *s = NULL;

    if (id)
        *id = 0;
    if (!event || !target || !payload)
        return oh_err_set(err, OH_EINVAL, "outbox: event, target and payload are required");
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if ((rc = oh_st_stmt(st, SQ_OUTBOX_ADD, &s, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, event);
    oh_p_str(st, target);
    oh_p_str(st, origin);
    if (order_id > 0)
        oh_p_i64(st, order_id);
    else
        oh_p_null(st);
    oh_p_str(st, payload);
    if ((rc = oh_st_exec(st, s, "add outbox row", NULL, NULL, err)) < 0)
        return rc;
    if (id)
        *id = (int64_t)mysql_stmt_insert_id(s);
    return 0;
}

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void oh_outbox_msgs_free(struct oh_outbox_msg *msgs, size_t n)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].payload);
        free(msgs[i].body);
    }
    free(msgs);
}

int oh_store_outbox_lease(struct oh_store *st, const char *owner, int64_t lease_ms, size_t max,
                          struct oh_outbox_msg **msgs, size_t *n, struct oh_err *err)
{
    int rc = 0;
    struct oh_rows r = { 0 };
    struct oh_outbox_msg *m = NULL;
    size_t got = 0;

    *msgs = NULL;
    *n = 0;
    if (!owner || !*owner || max == 0 || lease_ms < 0) {
        rc = oh_err_set(err, OH_EINVAL, "outbox lease: owner, max > 0 and lease_ms >= 0 needed");
        goto done;
    }
    if (st->in_tx) {
        rc = oh_err_set(err, OH_EINVAL, "outbox lease: runs its own transaction; commit first");
        goto done;
    }
    if ((rc = oh_store_begin(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, (int64_t)max);
    if ((rc = oh_st_run(st, SQ_OUTBOX_DUE, "pick due outbox rows", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows == 0) {
        rc = oh_store_commit(st, err);
        goto done;
    }
    m = calloc(r.nrows, sizeof(*m));
    if (!m) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    for (got = 0; got < r.nrows; got++) {
        struct oh_outbox_msg *x = &m[got];
        const char *payload = oh_cell(&r, got, 5);

        x->id = oh_st_atoi64(oh_cell(&r, got, 0));
        copy_field(x->event, sizeof(x->event), oh_cell(&r, got, 1));
        copy_field(x->target, sizeof(x->target), oh_cell(&r, got, 2));
        copy_field(x->origin, sizeof(x->origin), oh_cell(&r, got, 3));
        x->order_id = oh_st_atoi64(oh_cell(&r, got, 4));
        x->payload = strdup(payload ? payload : "");
        if (!x->payload) {
            rc = oh_err_set(err, OH_ERROR, "store: out of memory");
            goto done;
        }
        x->payload_len = strlen(x->payload);
        x->attempts = (int)oh_st_atoi64(oh_cell(&r, got, 6));

        /* XXX one UPDATE per row: a bucketed "WHERE id IN (?, ...)" would save
         * round trips when the dispatcher leases large batches. */
        oh_p_reset(st);
        oh_p_str(st, owner);
        oh_p_i64(st, lease_ms * 1000);
        oh_p_i64(st, x->id);
        if ((rc = oh_st_run(st, SQ_OUTBOX_MARK_LEASED, "mark outbox row leased", NULL, NULL,
                            err)) < 0) {
            got++;
            goto done;
        }
    }
    if ((rc = oh_store_commit(st, err)) < 0)
        goto done;
    *msgs = m;
    *n = got;
    m = NULL;
done:
    if (rc < 0 && st->in_tx)
        oh_store_rollback(st);
    else if (rc < 0)
        st->tx_lost = 0; /* our own transaction: nothing for the caller to roll back */
    oh_outbox_msgs_free(m, got);
    oh_rows_free(&r);
    return rc;
}

int oh_store_outbox_done(struct oh_store *st, int64_t id, struct oh_err *err)
{
    int rc;
    uint64_t matched = 0;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_i64(st, id);
    if ((rc = oh_st_run(st, SQ_OUTBOX_DONE, "mark outbox row done", NULL, &matched, err)) < 0)
        return rc;
    if (matched == 0)
        return oh_err_set(err, OH_ENOTFOUND, "outbox: no row %lld", (long long)id);
    return 0;
}

int oh_store_outbox_fail(struct oh_store *st, int64_t id, int retryable, const char *error,
                         int max_attempts, int64_t retry_in_ms, int *dead, struct oh_err *err)
{
    int rc;
    struct oh_rows r = { 0 };
    int attempts, is_dead;
    char msg[4096];

    if (dead)
        *dead = 0;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, id);
    if ((rc = oh_st_run(st, SQ_OUTBOX_ATTEMPTS, "read outbox attempts", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows == 0) {
        rc = oh_err_set(err, OH_ENOTFOUND, "outbox: no row %lld", (long long)id);
        goto done;
    }
    attempts = (int)oh_st_atoi64(oh_cell(&r, 0, 0)) + 1;
    is_dead = !retryable || attempts >= max_attempts;
    /* Bounded: a remote error body may be large. */
    snprintf(msg, sizeof(msg), "%s", error ? error : "");
    oh_p_reset(st);
    oh_p_str(st, is_dead ? "dead" : "pending");
    oh_p_i64(st, attempts);
    oh_p_str(st, msg);
    oh_p_i64(st, is_dead || retry_in_ms < 0 ? 0 : retry_in_ms * 1000);
    oh_p_i64(st, id);
    if ((rc = oh_st_run(st, SQ_OUTBOX_SET_FAILED, "record outbox failure", NULL, NULL, err)) < 0)
        goto done;
    if (dead)
        *dead = is_dead;
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_outbox_retry(struct oh_store *st, int64_t id, struct oh_err *err)
{
    int rc;
    uint64_t matched = 0;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_i64(st, id);
    if ((rc = oh_st_run(st, SQ_OUTBOX_RETRY, "retry outbox row", NULL, &matched, err)) < 0)
        return rc;
    if (matched == 0)
        return oh_err_set(err, OH_ENOTFOUND, "outbox: no dead or pending row %lld",
                          (long long)id);
    return 0;
}

int oh_store_outbox_release(struct oh_store *st, const char *owner, size_t *released,
                            struct oh_err *err)
{
    int rc;
    uint64_t matched = 0;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, owner);
    if ((rc = oh_st_run(st, SQ_OUTBOX_RELEASE, "release outbox leases", NULL, &matched, err)) < 0)
        return rc;
    if (released)
        *released = (size_t)matched;
    return 0;
}

int oh_store_outbox_list(struct oh_store *st, const char *state, size_t limit, json_t **out,
                         struct oh_err *err)
{
    static const char *const keys[] = { "id",       "event",           "target",
                                        "origin",   "order_id",        "state",
                                        "attempts", "next_attempt_at", "last_error" };
    int rc;
    struct oh_rows r = { 0 };
    json_t *arr = NULL;

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    if (state)
        oh_p_str(st, state);
    oh_p_i64(st, (int64_t)(limit ? limit : 100));
    if ((rc = oh_st_run(st, state ? SQ_OUTBOX_LIST_STATE : SQ_OUTBOX_LIST, "list outbox", &r,
                        NULL, err)) < 0)
        goto done;
    arr = json_array();
    if (!arr) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    for (size_t i = 0; i < r.nrows; i++) {
        json_t *o = json_object();

        if (!o || json_array_append_new(arr, o) != 0) {
            rc = oh_err_set(err, OH_ERROR, "store: out of memory");
            goto done;
        }
        for (size_t c = 0; c < 9; c++) {
            const char *v = oh_cell(&r, i, c);
            json_t *jv;

            if (!v)
                jv = json_null();
            else if (c == 0 || c == 4 || c == 6)
                jv = json_integer(oh_st_atoi64(v));
            else
                jv = json_string(v);
            if (!jv || json_object_set_new(o, keys[c], jv) != 0) {
                rc = oh_err_set(err, OH_ERROR, "store: out of memory");
                goto done;
            }
        }
    }
    *out = arr;
    arr = NULL;
done:
    json_decref(arr);
    oh_rows_free(&r);
    return rc;
}
