/*
 * store.c — the MariaDB connection under the store: connect and reconnect,
 * the statement cache, parameter binding, result fetching, error mapping,
 * transactions and savepoints.
 *
 * Promises (store.h T1, T2, T4, T5):
 *   - every SQL text is a constant in sq_text[] below (or a multi-row INSERT
 *     built from constant fragments in store_order.c); input is bound;
 *   - a lost connection, a deadlock, a lock wait timeout or a racing insert
 *     of the same key returns OH_EAGAIN with err->retryable = 1. The
 *     connection is marked broken and the next call opens a new one and
 *     prepares statements again. A transaction that was open is gone: until
 *     the caller calls oh_store_rollback or oh_store_begin, every call
 *     returns OH_EAGAIN ("transaction lost") instead of silently running in
 *     autocommit on the new connection;
 *   - every session runs in UTC (time_zone '+00:00'), strict SQL mode,
 *     utf8mb4 and READ COMMITTED. READ COMMITTED because concurrent ingest
 *     workers locking absent orders with SELECT ... FOR UPDATE under
 *     REPEATABLE READ take gap locks and deadlock each other on insert.
 *
 * A failed COMMIT on a lost connection is ambiguous (it may have committed);
 * the caller redoes the work, which the idempotent upsert makes safe.
 */
#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"
#include "util.h"

#define ORDER_DATA_SET                                                                          \
    "number = ?, status = COALESCE(?, status), placed_at = ?, updated_at = ?, currency = ?, "  \
    "subtotal = ?, shipping_total = ?, tax_total = ?, discount_total = ?, total = ?, "         \
    "po_number = ?, notes = ?, tags = ?, customer_external_id = ?, customer_email = ?, "       \
    "customer_name = ?, customer_phone = ?, ship_method = ?, ship_by = ?, deliver_by = ?, "    \
    "partner_sender_id = ?, partner_receiver_id = ?, content_sha256 = ?, doc_id = ?"

/* Column order is what store_order.c's order_to_json reads. */
#define ORDER_COLS                                                                              \
    "id, channel, external_id, number, status, placed_at, updated_at, currency, subtotal, "    \
    "shipping_total, tax_total, discount_total, total, po_number, notes, tags, "               \
    "customer_external_id, customer_email, customer_name, customer_phone, ship_method, "       \
    "ship_by, deliver_by, partner_sender_id, partner_receiver_id, content_sha256, doc_id"

#define OUTBOX_DUE                                                                              \
    "(state = 'pending' AND next_attempt_at <= NOW(3)) OR (state = 'leased' AND lease_until < NOW(3))"

static const char *const sq_text[SQ__N] = {
    [SQ_DOC_PUT] =
        "INSERT INTO documents (channel, spool_id, sha256, source, format, status, error, "
        "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
        "id = LAST_INSERT_ID(id), sha256 = VALUES(sha256), source = VALUES(source), "
        "format = VALUES(format), status = VALUES(status), error = VALUES(error), "
        "received_at = VALUES(received_at), processed_at = NOW(3)",
    [SQ_ORDER_LOCK] =
        "SELECT id, CAST(updated_at AS CHAR), content_sha256, status FROM orders "
        "WHERE channel = ? AND external_id = ? FOR UPDATE",
    [SQ_ORDER_INSERT] =
        "INSERT INTO orders (channel, external_id, number, status, placed_at, updated_at, "
        "currency, subtotal, shipping_total, tax_total, discount_total, total, po_number, notes, "
        "tags, customer_external_id, customer_email, customer_name, customer_phone, ship_method, "
        "ship_by, deliver_by, partner_sender_id, partner_receiver_id, content_sha256, doc_id) "
        "VALUES (?, ?, ?, COALESCE(?, 'pending'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?)",
    [SQ_ORDER_UPDATE] = "UPDATE orders SET " ORDER_DATA_SET ", modified_at = NOW(3) WHERE id = ?",
    [SQ_LINES_DELETE] = "DELETE FROM order_lines WHERE order_id = ?",
    [SQ_ADDR_DELETE] = "DELETE FROM addresses WHERE order_id = ?",
    [SQ_ORDER_GET] = "SELECT " ORDER_COLS " FROM orders WHERE channel = ? AND external_id = ?",
    [SQ_ORDER_GET_ID] = "SELECT " ORDER_COLS " FROM orders WHERE id = ?",
    [SQ_LINES_GET] =
        "SELECT line_no, external_id, sku, gtin, title, qty, uom, unit_price, tax, discount "
        "FROM order_lines WHERE order_id = ? ORDER BY seq",
    [SQ_ADDR_GET] =
        "SELECT role, name, company, line1, line2, city, region, postal_code, country, phone, "
        "email FROM addresses WHERE order_id = ? ORDER BY role",
    [SQ_ORDERS_LIST] =
        "SELECT o.id, o.channel, o.external_id, o.number, o.status, o.currency, o.total, "
        "o.placed_at, o.updated_at, (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id) "
        "FROM orders o ORDER BY o.placed_at DESC, o.id DESC LIMIT ?",
    [SQ_ORDERS_LIST_CH] =
        "SELECT o.id, o.channel, o.external_id, o.number, o.status, o.currency, o.total, "
        "o.placed_at, o.updated_at, (SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id) "
        "FROM orders o WHERE o.channel = ? ORDER BY o.placed_at DESC, o.id DESC LIMIT ?",
    [SQ_ORDER_STATUS_LOCK] = "SELECT status FROM orders WHERE id = ? FOR UPDATE",
    [SQ_ORDER_STATUS_SET] = "UPDATE orders SET status = ?, modified_at = NOW(3) WHERE id = ?",
    [SQ_OUTBOX_ADD] =
        "INSERT INTO outbox (event, target, origin, order_id, payload) VALUES (?, ?, ?, ?, ?)",
    [SQ_OUTBOX_DUE] =
        "SELECT id, event, target, origin, order_id, payload, attempts FROM outbox WHERE " OUTBOX_DUE
        " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
    [SQ_OUTBOX_MARK_LEASED] =
        "UPDATE outbox SET state = 'leased', lease_owner = ?, "
        "lease_until = NOW(3) + INTERVAL ? MICROSECOND WHERE id = ?",
    [SQ_OUTBOX_DONE] =
        "UPDATE outbox SET state = 'done', done_at = NOW(3), lease_owner = NULL, "
        "lease_until = NULL WHERE id = ?",
    [SQ_OUTBOX_ATTEMPTS] = "SELECT attempts FROM outbox WHERE id = ? FOR UPDATE",
    [SQ_OUTBOX_SET_FAILED] =
        "UPDATE outbox SET state = ?, attempts = ?, last_error = ?, "
        "next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND, lease_owner = NULL, "
        "lease_until = NULL WHERE id = ?",
    [SQ_OUTBOX_RETRY] =
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = NOW(3), "
        "lease_owner = NULL, lease_until = NULL WHERE id = ? AND state IN ('dead', 'pending')",
    [SQ_OUTBOX_RELEASE] =
        "UPDATE outbox SET state = 'pending', lease_owner = NULL, lease_until = NULL "
        "WHERE state = 'leased' AND lease_owner = ?",
    [SQ_OUTBOX_LIST] =
        "SELECT id, event, target, origin, order_id, state, attempts, next_attempt_at, "
        "last_error FROM outbox ORDER BY id LIMIT ?",
    [SQ_OUTBOX_LIST_STATE] =
        "SELECT id, event, target, origin, order_id, state, attempts, next_attempt_at, "
        "last_error FROM outbox WHERE state = ? ORDER BY id LIMIT ?",
    [SQ_CURSOR_GET] = "SELECT value FROM cursors WHERE channel = ? AND name = ?",
    [SQ_CURSOR_SET] =
        "INSERT INTO cursors (channel, name, value, updated_at) VALUES (?, ?, ?, NOW(3)) "
        "ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = NOW(3)",
    [SQ_SEEN] = "SELECT 1 FROM seen_keys WHERE channel = ? AND seen_key = ?",
    /* two unique-key lookups: "channel = ? AND seen_key IN (?, ?)" may be
     * planned as a scan of the channel's keys (see in_sql, store_batch.c) */
    [SQ_SEEN_PAIR] = "SELECT seen_key FROM seen_keys WHERE channel = ? AND seen_key = ? "
                     "UNION ALL SELECT seen_key FROM seen_keys WHERE channel = ? AND seen_key = ?",
    [SQ_REMEMBER] =
        "INSERT INTO seen_keys (channel, seen_key) VALUES (?, ?) "
        "ON DUPLICATE KEY UPDATE seen_key = seen_key",
    /* The second assignment sees the first one's result (MariaDB assigns
     * left to right): expires_at moves only when owner now is the caller. */
    [SQ_LEASE_TAKE] =
        "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, NOW(3) + INTERVAL ? MICROSECOND) "
        "ON DUPLICATE KEY UPDATE "
        "owner = IF(expires_at < NOW(3) OR owner = VALUES(owner), VALUES(owner), owner), "
        "expires_at = IF(owner = VALUES(owner), VALUES(expires_at), expires_at)",
    [SQ_LEASE_OWNER] = "SELECT owner FROM leases WHERE name = ? FOR UPDATE",
    [SQ_CHANNEL_ENSURE] =
        "INSERT INTO channels (name, type) VALUES (?, ?) "
        "ON DUPLICATE KEY UPDATE type = VALUES(type), updated_at = NOW(3)",
    [SQ_AUDIT] = "INSERT INTO audit_log (actor, action, detail) VALUES (?, ?, ?)",
    [SQ_MIGRATIONS_APPLIED] = "SELECT version FROM schema_migrations",
    [SQ_MIGRATION_RECORD] = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
};

static char *dupz(const char *s)
{
    return (s && *s) ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* ---- connection ---------------------------------------------------------------- */

static void close_conn(struct oh_store *st)
{
    for (int i = 0; i < SQ__N; i++) {
        if (st->sq[i])
            mysql_stmt_close(st->sq[i]);
        st->sq[i] = NULL;
    }
    for (int i = 0; i <= OH_LINES_PER_INSERT; i++) {
        if (st->lines_ins[i])
            mysql_stmt_close(st->lines_ins[i]);
        st->lines_ins[i] = NULL;
    }
    for (int i = 0; i < 3; i++) {
        if (st->addr_ins[i])
            mysql_stmt_close(st->addr_ins[i]);
        st->addr_ins[i] = NULL;
    }
    for (int i = 0; i < OH_BQ__N; i++) {
        if (st->bq[i])
            mysql_stmt_close(st->bq[i]);
        st->bq[i] = NULL;
    }
    if (st->db)
        mysql_close(st->db);
    st->db = NULL;
}

static int is_conn_error(unsigned no)
{
    switch (no) {
    case CR_SERVER_GONE_ERROR:     /* 2006 */
    case CR_SERVER_LOST:           /* 2013 */
    case CR_CONNECTION_ERROR:      /* 2002: socket refused / missing */
    case CR_CONN_HOST_ERROR:       /* 2003: TCP refused */
    case CR_SERVER_LOST_EXTENDED:  /* 2055 */
    case CR_COMMANDS_OUT_OF_SYNC:  /* 2014: our state is unknown: start over */
    case ER_CONNECTION_KILLED:     /* 1927 */
    case ER_SERVER_SHUTDOWN:       /* 1053 */
    case ER_QUERY_INTERRUPTED:     /* 1317 */
    case ER_NEW_ABORTING_CONNECTION: /* 1184 */
    case ER_CON_COUNT_ERROR:       /* 1040: too many connections */
        return 1;
    default:
        return 0;
    }
}

int oh_st_fail(struct oh_store *st, unsigned no, const char *msg, const char *what,
               struct oh_err *err)
{
    if (is_conn_error(no)) {
        st->broken = 1;
        if (st->in_tx)
            st->tx_lost = 1;
        return oh_err_retry(err, OH_EAGAIN, "store: %s: %s (error %u); will reconnect", what,
                            msg, no);
    }
    if (no == ER_LOCK_DEADLOCK || no == ER_LOCK_WAIT_TIMEOUT) {
        /* A deadlock already rolled the transaction back; a lock wait timeout
         * only the statement. Roll back so "the transaction is gone" holds
         * for both (T5). */
        if (st->in_tx) {
            mysql_real_query(st->db, "ROLLBACK", 8);
            st->tx_lost = 1;
        }
        return oh_err_retry(err, OH_EAGAIN, "store: %s: %s (error %u)", what, msg, no);
    }
    switch (no) {
    case ER_DATA_TOO_LONG:
    case ER_TRUNCATED_WRONG_VALUE:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case ER_BAD_NULL_ERROR:
    case ER_WRONG_VALUE_FOR_VAR:
        return oh_err_set(err, OH_EINVAL, "store: %s: %s (error %u)", what, msg, no);
    case ER_DUP_ENTRY:
        return oh_err_set(err, OH_EEXIST, "store: %s: %s (error %u)", what, msg, no);
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
        return oh_err_set(err, OH_EPERM, "store: %s: %s (error %u)", what, msg, no);
    default:
        return oh_err_set(err, OH_ERROR, "store: %s: %s (error %u)", what, msg, no);
    }
}

static int db_fail(struct oh_store *st, const char *what, struct oh_err *err)
{
    return oh_st_fail(st, mysql_errno(st->db), mysql_error(st->db), what, err);
}

static int stmt_fail(struct oh_store *st, MYSQL_STMT *s, const char *what, struct oh_err *err)
{
    return oh_st_fail(st, mysql_stmt_errno(s), mysql_stmt_error(s), what, err);
}

int oh_st_run_sql(struct oh_store *st, const char *sql, const char *what, struct oh_rows *rows,
                  uint64_t *affected, struct oh_err *err)
{
    MYSQL_STMT *s = NULL;
    int rc;

    if ((rc = oh_st_prepare(st, &s, sql, what, err)) < 0)
        goto done;
    rc = oh_st_exec(st, s, what, rows, affected, err);
done:
    if (s)
        mysql_stmt_close(s);
    return rc;
}

int oh_st_insert_sql(struct oh_store *st, const char *sql, const char *what, int64_t *id,
                     struct oh_err *err)
{
    MYSQL_STMT *s = NULL;
    int rc;

    *id = 0;
    if ((rc = oh_st_prepare(st, &s, sql, what, err)) < 0)
        goto done;
    if ((rc = oh_st_exec(st, s, what, NULL, NULL, err)) == 0)
        *id = (int64_t)mysql_stmt_insert_id(s);
done:
    if (s)
        mysql_stmt_close(s);
    return rc;
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/* mysql_init would initialise the library on first use, but not safely
 * when several workers open their connections at once. */
static void lib_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

static int connect_db(struct oh_store *st, struct oh_err *err)
{
    int rc = 0;
    unsigned timeout = st->connect_timeout_s ? st->connect_timeout_s : 10;
    my_bool off = 0;
    const char *host = st->host;

    pthread_once(&lib_once, lib_init);
    st->db = mysql_init(NULL);
    if (!st->db) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    mysql_options(st->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(st->db, MYSQL_OPT_RECONNECT, &off); /* we reconnect ourselves (T5) */
    mysql_options(st->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(st->db, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    mysql_options(st->db, MYSQL_INIT_COMMAND,
                  "SET sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                  "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    mysql_options(st->db, MYSQL_INIT_COMMAND,
                  "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    if (!host && !st->socket)
        host = "localhost";
    /* CLIENT_FOUND_ROWS: an UPDATE reports matched rows, so "not found" is
     * told apart from "nothing to change". */
    if (!mysql_real_connect(st->db, host, st->user, st->password, st->database, st->port,
                            host ? NULL : st->socket, CLIENT_FOUND_ROWS)) {
        unsigned no = mysql_errno(st->db);
        char where[300];

        if (host)
            snprintf(where, sizeof(where), "connect to %s:%u", host, st->port ? st->port : 3306);
        else
            snprintf(where, sizeof(where), "connect to %s", st->socket);
        rc = oh_st_fail(st, no, mysql_error(st->db), where, err);
        mysql_close(st->db);
        st->db = NULL;
        st->broken = 1;
        goto done;
    }
    st->broken = 0;
done:
    return rc;
}

int oh_st_ready(struct oh_store *st, struct oh_err *err)
{
    if (st->tx_lost)
        return oh_err_retry(err, OH_EAGAIN,
                            "store: the open transaction was lost; roll back and begin again");
    if (!st->broken && st->db)
        return 0;
    close_conn(st);
    st->in_tx = 0;
    return connect_db(st, err);
}

int oh_store_open(const struct oh_store_conf *c, struct oh_store **out, struct oh_err *err)
{
    int rc = 0;
    struct oh_store *st = NULL;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (!st) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    st->host = dupz(c->host);
    st->socket = dupz(c->socket);
    st->user = dupz(c->user);
    st->password = c->password ? strdup(c->password) : NULL;
    st->database = dupz(c->database);
    st->port = c->port;
    st->connect_timeout_s = c->connect_timeout_s;
    if ((c->host && *c->host && !st->host) || (c->socket && *c->socket && !st->socket) ||
        (c->user && *c->user && !st->user) || (c->password && !st->password) ||
        (c->database && *c->database && !st->database)) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    if ((rc = connect_db(st, err)) < 0)
        goto done;
    *out = st;
    st = NULL;
done:
    oh_store_free(st);
    return rc;
}

void oh_store_free(struct oh_store *st)
{
    if (!st)
        return;
    close_conn(st);
    free(st->host);
    free(st->socket);
    free(st->user);
    wipe_free(st->password);
    free(st->database);
    free(st);
}

unsigned long oh_store_connection_id(struct oh_store *st)
{
    return (st && st->db && !st->broken) ? mysql_thread_id(st->db) : 0;
}

int oh_store_ping(struct oh_store *st, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if (mysql_ping(st->db) != 0)
        return db_fail(st, "ping", err);
    return 0;
}

int oh_st_query(struct oh_store *st, const char *sql, const char *what, struct oh_err *err)
{
    MYSQL_RES *res;

    if (mysql_real_query(st->db, sql, strlen(sql)) != 0)
        return db_fail(st, what, err);
    /* Statements run this way return no rows; drain defensively. */
    res = mysql_store_result(st->db);
    if (res)
        mysql_free_result(res);
    return 0;
}

/* ---- transactions (T4) ---------------------------------------------------------- */

int oh_store_begin(struct oh_store *st, struct oh_err *err)
{
    int rc;

    if (st->tx_lost || st->in_tx) {
        /* A stale transaction is abandoned, never extended. */
        if (st->db && !st->broken)
            mysql_real_query(st->db, "ROLLBACK", 8);
        st->tx_lost = 0;
        st->in_tx = 0;
    }
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if ((rc = oh_st_query(st, "START TRANSACTION", "begin", err)) < 0)
        return rc;
    st->in_tx = 1;
    return 0;
}

int oh_store_commit(struct oh_store *st, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if (st->in_tx && OH_FAULT("store.deadlock")) {
        /* what InnoDB does to a deadlock victim: roll back, report 1213 */
        rc = oh_st_fail(st, ER_LOCK_DEADLOCK,
                        "Deadlock found when trying to get lock (injected)", "commit", err);
        st->in_tx = 0;
        st->tx_lost = 0;
        return rc;
    }
    rc = oh_st_query(st, "COMMIT", "commit", err);
    st->in_tx = 0;
    if (rc < 0)
        st->tx_lost = 0; /* the caller learns it from rc; nothing left to roll back */
    return rc;
}

void oh_store_rollback(struct oh_store *st)
{
    if (st->db && !st->broken)
        mysql_real_query(st->db, "ROLLBACK", 8);
    st->in_tx = 0;
    st->tx_lost = 0;
}

int oh_store_savepoint(struct oh_store *st, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    return oh_st_query(st, "SAVEPOINT doc", "savepoint", err);
}

int oh_store_rollback_savepoint(struct oh_store *st, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    return oh_st_query(st, "ROLLBACK TO SAVEPOINT doc", "rollback to savepoint", err);
}

int oh_store_release_savepoint(struct oh_store *st, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    return oh_st_query(st, "RELEASE SAVEPOINT doc", "release savepoint", err);
}

/* ---- statements ------------------------------------------------------------------ */

int oh_st_prepare(struct oh_store *st, MYSQL_STMT **slot, const char *sql, const char *what,
                  struct oh_err *err)
{
    MYSQL_STMT *s;

    if (*slot)
        return 0;
    s = mysql_stmt_init(st->db);
    if (!s)
        return db_fail(st, what, err);
    if (mysql_stmt_prepare(s, sql, strlen(sql)) != 0) {
        int rc = stmt_fail(st, s, what, err);
        mysql_stmt_close(s);
        return rc;
    }
    *slot = s;
    return 0;
}

int oh_st_stmt(struct oh_store *st, enum oh_sq id, MYSQL_STMT **out, struct oh_err *err)
{
    int rc = oh_st_prepare(st, &st->sq[id], sq_text[id], "prepare", err);

    *out = st->sq[id];
    return rc;
}

void oh_rows_free(struct oh_rows *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cell[i]);
    free(r->cell);
    memset(r, 0, sizeof(*r));
}

static int is_temporal(enum enum_field_types t)
{
    return t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP || t == MYSQL_TYPE_DATE ||
           t == MYSQL_TYPE_DATETIME2 || t == MYSQL_TYPE_TIMESTAMP2 || t == MYSQL_TYPE_NEWDATE;
}

static char *fmt_time(const MYSQL_TIME *t)
{
    char buf[40];
    unsigned ms = (unsigned)(t->second_part / 1000);

    if (ms)
        snprintf(buf, sizeof(buf), "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", t->year, t->month,
                 t->day, t->hour, t->minute, t->second, ms);
    else
        snprintf(buf, sizeof(buf), "%04u-%02u-%02uT%02u:%02u:%02uZ", t->year, t->month, t->day,
                 t->hour, t->minute, t->second);
    return strdup(buf);
}

#define CELL_BUF 256

/* Reads every row of s's result into rows (cells malloc'd strings). */
static int fetch_all(struct oh_store *st, MYSQL_STMT *s, MYSQL_RES *meta, const char *what,
                     struct oh_rows *rows, struct oh_err *err)
{
    int rc = 0;
    unsigned ncols = mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    MYSQL_BIND *rb = calloc(ncols, sizeof(*rb));
    char *bufs = calloc(ncols, CELL_BUF);
    MYSQL_TIME *tms = calloc(ncols, sizeof(*tms));
    unsigned long *lens = calloc(ncols, sizeof(*lens));
    my_bool *nulls = calloc(ncols, sizeof(*nulls));
    my_bool *errs = calloc(ncols, sizeof(*errs));

    if (!rb || !bufs || !tms || !lens || !nulls || !errs) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    for (unsigned i = 0; i < ncols; i++) {
        if (is_temporal(fields[i].type)) {
            rb[i].buffer_type = MYSQL_TYPE_DATETIME;
            rb[i].buffer = &tms[i];
            rb[i].buffer_length = sizeof(MYSQL_TIME);
        } else {
            rb[i].buffer_type = MYSQL_TYPE_STRING;
            rb[i].buffer = bufs + (size_t)i * CELL_BUF;
            rb[i].buffer_length = CELL_BUF;
        }
        rb[i].length = &lens[i];
        rb[i].is_null = &nulls[i];
        rb[i].error = &errs[i];
    }
    if (mysql_stmt_bind_result(s, rb) != 0) {
        rc = stmt_fail(st, s, what, err);
        goto done;
    }
    rows->ncols = ncols;
    for (;;) {
        int f = mysql_stmt_fetch(s);

        if (f == MYSQL_NO_DATA)
            break;
        if (f == 1) {
            rc = stmt_fail(st, s, what, err);
            goto done;
        }
        if (rows->nrows + 1 > rows->cap) {
            size_t cap = rows->cap ? rows->cap * 2 : 8;
            char **c = realloc(rows->cell, cap * ncols * sizeof(*c));
            if (!c) {
                rc = oh_err_set(err, OH_ERROR, "store: out of memory");
                goto done;
            }
            rows->cell = c;
            rows->cap = cap;
        }
        for (unsigned i = 0; i < ncols; i++) {
            char *v = NULL;

            rows->cell[rows->nrows * ncols + i] = NULL;
            if (nulls[i])
                continue;
            if (is_temporal(fields[i].type)) {
                v = fmt_time(&tms[i]);
            } else if (lens[i] < CELL_BUF) {
                v = malloc(lens[i] + 1);
                if (v) {
                    memcpy(v, bufs + (size_t)i * CELL_BUF, lens[i]);
                    v[lens[i]] = '\0';
                }
            } else {
                MYSQL_BIND big;
                unsigned long blen = 0;

                v = malloc(lens[i] + 1);
                if (v) {
                    memset(&big, 0, sizeof(big));
                    big.buffer_type = MYSQL_TYPE_STRING;
                    big.buffer = v;
                    big.buffer_length = lens[i] + 1;
                    big.length = &blen;
                    if (mysql_stmt_fetch_column(s, &big, i, 0) != 0) {
                        free(v);
                        rows->nrows++; /* so the cells so far are freed */
                        rc = stmt_fail(st, s, what, err);
                        goto done;
                    }
                    v[lens[i]] = '\0';
                }
            }
            if (!v) {
                rows->nrows++;
                rc = oh_err_set(err, OH_ERROR, "store: out of memory");
                goto done;
            }
            rows->cell[rows->nrows * ncols + i] = v;
        }
        rows->nrows++;
    }
done:
    free(rb);
    free(bufs);
    free(tms);
    free(lens);
    free(nulls);
    free(errs);
    return rc;
}

int oh_st_exec(struct oh_store *st, MYSQL_STMT *s, const char *what, struct oh_rows *rows,
               uint64_t *affected, struct oh_err *err)
{
    int rc = 0;
    MYSQL_RES *meta = NULL;
    struct oh_rows local = { 0 };

    if (mysql_stmt_param_count(s) != (unsigned long)st->p.n) {
        rc = oh_err_set(err, OH_ERROR, "store: %s: %lu parameters expected, %d bound", what,
                        mysql_stmt_param_count(s), st->p.n);
        goto done;
    }
    if (st->p.n > 0 && mysql_stmt_bind_param(s, st->p.b) != 0) {
        rc = stmt_fail(st, s, what, err);
        goto done;
    }
    if (mysql_stmt_execute(s) != 0) {
        rc = stmt_fail(st, s, what, err);
        goto done;
    }
    if (affected)
        *affected = mysql_stmt_affected_rows(s);
    meta = mysql_stmt_result_metadata(s);
    if (meta) {
        if ((rc = fetch_all(st, s, meta, what, rows ? rows : &local, err)) < 0)
            goto done;
    }
done:
    if (meta) {
        mysql_free_result(meta);
        mysql_stmt_free_result(s);
    }
    oh_rows_free(&local);
    if (rc < 0 && rows)
        oh_rows_free(rows);
    return rc;
}

int oh_st_run(struct oh_store *st, enum oh_sq id, const char *what, struct oh_rows *rows,
              uint64_t *affected, struct oh_err *err)
{
    MYSQL_STMT *s = NULL;
    int rc;

    if ((rc = oh_st_stmt(st, id, &s, err)) < 0)
        return rc;
    return oh_st_exec(st, s, what, rows, affected, err);
}

/* ---- parameters ------------------------------------------------------------------ */

void oh_p_reset(struct oh_store *st)
{
    st->p.n = 0;
}

static MYSQL_BIND *p_next(struct oh_store *st)
{
    MYSQL_BIND *b;

    if (st->p.n >= OH_MAX_PARAMS)
        abort(); /* a statement text with more placeholders than the table: a bug */
    b = &st->p.b[st->p.n];
    memset(b, 0, sizeof(*b));
    return b;
}

void oh_p_null(struct oh_store *st)
{
    MYSQL_BIND *b = p_next(st);

    b->buffer_type = MYSQL_TYPE_NULL;
    st->p.n++;
}

void oh_p_strn(struct oh_store *st, const char *s, size_t len)
{
    MYSQL_BIND *b;

    if (!s) {
        oh_p_null(st);
        return;
    }
    b = p_next(st);
    st->p.len[st->p.n] = len;
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)s;
    b->buffer_length = len;
    b->length = &st->p.len[st->p.n];
    st->p.n++;
}

void oh_p_str(struct oh_store *st, const char *s)
{
    oh_p_strn(st, s, s ? strlen(s) : 0);
}

void oh_p_i64(struct oh_store *st, int64_t v)
{
    MYSQL_BIND *b = p_next(st);

    st->p.i64[st->p.n] = v;
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = &st->p.i64[st->p.n];
    st->p.n++;
}

char *oh_p_tmp(struct oh_store *st)
{
    /* The slot of the next parameter: the caller binds it right after. */
    if (st->p.n >= OH_MAX_PARAMS)
        abort();
    return st->p.tmp[st->p.n];
}

void oh_p_time_ms(struct oh_store *st, int64_t ms)
{
    char *t = oh_p_tmp(st);
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(t, OH_TMP_LEN, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    oh_p_str(st, t);
}

/* ---- times and numbers ----------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int oh_st_iso_to_sql(const char *iso, char out[OH_TMP_LEN])
{
    int Y, M, D, h = 0, m = 0, s = 0, ms = 0, off = 0;
    const char *p = iso;
    struct tm tm, back;
    time_t t;

    if (strlen(iso) < 10 || digits(p, 4, &Y) || p[4] != '-' || digits(p + 5, 2, &M) ||
        p[7] != '-' || digits(p + 8, 2, &D))
        return -1;
    p += 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &m))
            return -1;
        p += 5;
        if (*p == ':') {
            if (digits(p + 1, 2, &s))
                return -1;
            p += 3;
            if (*p == '.' || *p == ',') {
                int nd = 0;

                p++;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3)
                        ms = ms * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0)
                    return -1;
                for (int i = nd; i < 3; i++)
                    ms *= 10;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            int sign = *p == '-' ? -1 : 1;

            if (digits(p + 1, 2, &oh))
                return -1;
            p += 3;
            if (*p == ':')
                p++;
            if (digits(p, 2, &om))
                return -1;
            p += 2;
            if (oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 60 + om) * 60;
        } else {
            return -1; /* a time without a zone is ambiguous */
        }
    }
    if (*p != '\0')
        return -1;
    if (Y < 1000 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 59)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    t = timegm(&tm);
    if (tm.tm_mday != D || tm.tm_mon != M - 1) /* 31 February normalised away */
        return -1;
    t -= off;
    if (!gmtime_r(&t, &back) || back.tm_year + 1900 < 1000 || back.tm_year + 1900 > 9999)
        return -1;
    oh_put_datetime(out, back.tm_year + 1900, back.tm_mon + 1, back.tm_mday, back.tm_hour,
                    back.tm_min, back.tm_sec, ms, ' ');
    return 0;
}

int oh_st_decimal_ok(const char *s, size_t len)
{
    size_t i = 0, intd = 0, frac = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        intd++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            /* Digits past the fourth must be zeros: DECIMAL(19,4) would drop them. */
            if (frac >= 4 && s[i] != '0')
                return 0;
            i++;
            frac++;
        }
        if (frac == 0)
            return 0;
    }
    return i == len && intd > 0 && intd <= 15;
}

void oh_st_trim_decimal(char *s, int min_frac)
{
    char *dot = strchr(s, '.');
    size_t len;

    if (!dot)
        return;
    len = strlen(s);
    while (len > (size_t)(dot - s) + 1 + (size_t)min_frac && s[len - 1] == '0')
        s[--len] = '\0';
    if (s[len - 1] == '.')
        s[len - 1] = '\0';
}

int64_t oh_st_atoi64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}
