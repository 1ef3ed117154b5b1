/*
 * store_seen.c — "seen" keys in bulk: many (channel, key) pairs remembered
 * with one statement and one commit (the webhook path's group remember).
 *
 * Promises:
 *   - oh_store_remember_many leaves the same rows as one oh_store_remember
 *     per key (same hashing of keys over 255 bytes, see store_misc.c), in
 *     one transaction (one bulk statement, or a transaction around several
 *     past SEEN_BULK_MAX keys): on return 0 every key is committed, on
 *     failure none of them is (unless the caller's own transaction was
 *     open, which then holds the writes as any other statement's);
 *   - the rows are written in (channel, key) order, so two instances
 *     remembering overlapping keys at once take their row locks in the same
 *     order; a deadlock or lock wait timeout is retried once.
 *   - T1: the statement is the constant SQ_REMEMBER text, executed with
 *     MariaDB array binding; keys only travel as bound parameters.
 *
 * Not done here: the "remember only once the body is durable" order is the
 * caller's (core/daemon/web.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util.h"

#define SEEN_KEY_MAX 255
/* Keys per bulk execution (values of a few hundred bytes each: far below
 * max_allowed_packet). */
#define SEEN_BULK_MAX 512

struct seen_row {
    const char *channel;
    const char *key;     /* the caller's key; unused when hashed[0] */
    size_t klen;
    char hashed[80];     /* "sha256:" + hex of a key over SEEN_KEY_MAX */
};

/* Not a pointer into the row itself: qsort moves rows. */
static const char *rkey(const struct seen_row *r)
{
    return r->hashed[0] ? r->hashed : r->key;
}

static int row_cmp(const void *a, const void *b)
{
    const struct seen_row *x = a, *y = b;
    int c = strcmp(x->channel, y->channel);
    size_t n = x->klen < y->klen ? x->klen : y->klen;

    if (c)
        return c;
    if ((c = memcmp(rkey(x), rkey(y), n)))
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int bulk_put(struct oh_store *st, const struct seen_row *rows, size_t n,
                    struct oh_err *err)
{
    MYSQL_STMT *s = NULL;
    MYSQL_BIND b[2];
    const char **chv = NULL, **kv = NULL;
    unsigned long *chl = NULL, *kl = NULL;
    unsigned int asize = (unsigned int)n, zero = 0;
    int rc;

    if ((rc = oh_st_stmt(st, SQ_REMEMBER, &s, err)) < 0)
        goto done;
    if (!(chv = calloc(n, sizeof(*chv))) || !(kv = calloc(n, sizeof(*kv))) ||
        !(chl = calloc(n, sizeof(*chl))) || !(kl = calloc(n, sizeof(*kl))))
        abort();
    for (size_t i = 0; i < n; i++) {
        chv[i] = rows[i].channel;
        chl[i] = (unsigned long)strlen(rows[i].channel);
        kv[i] = rkey(&rows[i]);
        kl[i] = (unsigned long)rows[i].klen;
    }
    memset(b, 0, sizeof(b));
    b[0].buffer_type = MYSQL_TYPE_STRING;
    b[0].buffer = (void *)chv;
    b[0].length = chl;
    b[1].buffer_type = MYSQL_TYPE_STRING;
    b[1].buffer = (void *)kv;
    b[1].length = kl;
    if (mysql_stmt_attr_set(s, STMT_ATTR_ARRAY_SIZE, &asize) != 0 ||
        mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0)
        rc = oh_st_fail(st, mysql_stmt_errno(s), mysql_stmt_error(s), "remember seen keys", err);
    /* The statement is shared with oh_store_remember: back to one row. */
    mysql_stmt_attr_set(s, STMT_ATTR_ARRAY_SIZE, &zero);
done:
    free(chv);
    free(kv);
    free(chl);
    free(kl);
    return rc;
}

static int put_all(struct oh_store *st, const struct seen_row *rows, size_t n, struct oh_err *err)
{
    /* One bulk execution is one statement: atomic and, in autocommit, one
     * commit by itself (Handler_commit goes up by one). Only a call that
     * needs several executions wraps them in a transaction. */
    int own_tx = !st->in_tx && n > SEEN_BULK_MAX, rc;

    if (own_tx && (rc = oh_store_begin(st, err)) < 0)
        return rc;
    for (size_t i = 0; i < n; i += SEEN_BULK_MAX) {
        size_t m = n - i < SEEN_BULK_MAX ? n - i : SEEN_BULK_MAX;
        if ((rc = bulk_put(st, rows + i, m, err)) < 0) {
            if (own_tx)
                oh_store_rollback(st);
            return rc;
        }
    }
    return own_tx ? oh_store_commit(st, err) : 0;
}

int oh_store_remember_many(struct oh_store *st, const struct oh_seen_key *keys, size_t n,
                           struct oh_err *err)
{
    struct seen_row *rows = NULL;
    int rc = 0;

    if (n == 0)
        return 0;
    if (!(rows = calloc(n, sizeof(*rows))))
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (!keys[i].channel || !keys[i].key) {
            rc = oh_err_set(err, OH_EINVAL, "remember: channel and key are required");
            goto done;
        }
        len = strlen(keys[i].key);
        rows[i].channel = keys[i].channel;
        if (len <= SEEN_KEY_MAX) {
            rows[i].key = keys[i].key;
            rows[i].klen = len;
        } else {
            memcpy(rows[i].hashed, "sha256:", 7);
            oh_sha256_hex(keys[i].key, len, rows[i].hashed + 7);
            rows[i].klen = strlen(rows[i].hashed);
        }
    }
    qsort(rows, n, sizeof(*rows), row_cmp);
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    rc = put_all(st, rows, n, err);
    if (rc == OH_EAGAIN && !st->broken && !st->in_tx) {
        /* A deadlock with another instance's remember: once more. */
        oh_err_clear(err);
        rc = put_all(st, rows, n, err);
    }
done:
    free(rows);
    return rc;
}
