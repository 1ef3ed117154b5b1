/*
 * store_batch.c — many documents and orders per statement (the ingest fast
 * path).
 *
 * Promises:
 *   B1  oh_store_documents_put(docs, n, status) leaves the same rows as n
 *       calls of oh_store_document_put(docs[i], status, NULL), with one bulk
 *       upsert and one id SELECT per OH_BATCH_IN documents of a channel.
 *   B2  oh_store_upsert_orders(orders, n) leaves the same rows and gives the
 *       same results as n calls of oh_store_upsert_order in order, given
 *       that no two of the n share an external id (the caller splits its
 *       batch at a repeat; a repeat is refused with OH_EINVAL). Orders not
 *       yet stored are found with one SELECT ... FOR UPDATE per OH_BATCH_IN
 *       keys and written with one bulk INSERT each into orders, addresses
 *       and order_lines; their ids are read back by key (auto-increment ids
 *       are not assumed to be consecutive). Orders already stored go through
 *       oh_store_upsert_order one by one (UNCHANGED / STALE / UPDATED).
 *   B3  Any failure fails the whole call and leaves its writes to the
 *       caller's transaction, which the caller rolls back. A duplicate key
 *       on insert (another writer's row appeared after the lock) is a
 *       permanent error here, not a retry: the caller redoes the batch one
 *       order at a time, where oh_store_upsert_order resolves the race.
 *   B4  oh_store_outbox_add_many(rows, n) leaves the same rows, in the same
 *       order, as n calls of oh_store_outbox_add, with one bulk INSERT.
 *   T1  The statement texts are built from constant fragments only; every
 *       value is a bound parameter (bulk: MariaDB array binding, at most
 *       BULK_BYTES of values per execution).
 *
 * Keys compare as the utf8mb4_bin columns do: byte for byte, trailing
 * spaces ignored (PAD SPACE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

/* ---- bulk binding: m rows of ncols, stored column by column -------------------------- */

struct bulk {
    int ncols;
    size_t m;   /* rows */
    size_t row; /* current row */
    int col;    /* next column of the current row */
    const char **sv;
    unsigned long *len;
    long long *iv;
    char *ind;
    unsigned char *isint; /* per column */
    char (*tmp)[OH_TMP_LEN]; /* per row: one converted value */
    MYSQL_BIND *b;
};

static void bulk_free(struct bulk *k)
{
    free(k->sv);
    free(k->len);
    free(k->iv);
    free(k->ind);
    free(k->isint);
    free(k->tmp);
    free(k->b);
    memset(k, 0, sizeof(*k));
}

static int bulk_init(struct bulk *k, int ncols, size_t m, struct oh_err *err)
{
    size_t cells = (size_t)ncols * (m ? m : 1);

    memset(k, 0, sizeof(*k));
    k->ncols = ncols;
    k->m = m;
    k->sv = calloc(cells, sizeof(*k->sv));
    k->len = calloc(cells, sizeof(*k->len));
    k->iv = calloc(cells, sizeof(*k->iv));
    k->ind = calloc(cells, sizeof(*k->ind)); /* 0 = STMT_INDICATOR_NONE */
    k->isint = calloc((size_t)ncols, 1);
    k->tmp = calloc(m ? m : 1, sizeof(*k->tmp));
    k->b = calloc((size_t)ncols, sizeof(*k->b));
    if (!k->sv || !k->len || !k->iv || !k->ind || !k->isint || !k->tmp || !k->b) {
        bulk_free(k);
        return oh_err_set(err, OH_ERROR, "store: out of memory");
    }
    return 0;
}

static size_t bulk_cell(struct bulk *k)
{
    if (k->row >= k->m || k->col >= k->ncols)
        abort(); /* more values than the statement has: a bug */
    return (size_t)k->col * k->m + k->row;
}

static void bulk_strn(struct bulk *k, const char *s, size_t len)
{
    size_t c = bulk_cell(k);

    if (!s) {
        k->ind[c] = STMT_INDICATOR_NULL;
    } else {
        k->sv[c] = s;
        k->len[c] = (unsigned long)len;
    }
    k->col++;
}

static void bulk_str(struct bulk *k, const char *s)
{
    bulk_strn(k, s, s ? strlen(s) : 0);
}

static void bulk_i64(struct bulk *k, int64_t v)
{
    size_t c = bulk_cell(k);

    k->isint[k->col] = 1;
    k->iv[c] = v;
    k->col++;
}

static void bulk_null(struct bulk *k)
{
    k->ind[bulk_cell(k)] = STMT_INDICATOR_NULL;
    k->col++;
}

static void bulk_row_end(struct bulk *k)
{
    if (k->col != k->ncols)
        abort(); /* fewer values than the statement has: a bug */
    k->row++;
    k->col = 0;
}

/* Bytes of values per execution: a batch of big orders goes in several
 * executions, well below the server's max_allowed_packet (16 MB by default;
 * a packet over it would cost the connection, and a retry would fail alike). */
#define BULK_BYTES (1024 * 1024)

static size_t bulk_row_bytes(const struct bulk *k, size_t r)
{
    size_t n = 0;

    for (int c = 0; c < k->ncols; c++)
        n += 8 + (k->isint[c] ? 0 : k->len[(size_t)c * k->m + r]);
    return n;
}

static int bulk_exec(struct oh_store *st, MYSQL_STMT *s, struct bulk *k, const char *what,
                     struct oh_err *err)
{
    if (k->row != k->m || mysql_stmt_param_count(s) != (unsigned long)k->ncols)
        return oh_err_set(err, OH_ERROR, "store: %s: %zu of %zu rows, %lu parameters for %d",
                          what, k->row, k->m, mysql_stmt_param_count(s), k->ncols);
    for (size_t r0 = 0, r1; r0 < k->m; r0 = r1) {
        size_t bytes = bulk_row_bytes(k, r0);
        unsigned int asize;

        for (r1 = r0 + 1; r1 < k->m; r1++) {
            size_t b = bulk_row_bytes(k, r1);
            if (bytes + b > BULK_BYTES)
                break;
            bytes += b;
        }
        asize = (unsigned int)(r1 - r0);
        for (int c = 0; c < k->ncols; c++) {
            MYSQL_BIND *x = &k->b[c];
            size_t base = (size_t)c * k->m + r0;

            memset(x, 0, sizeof(*x));
            x->u.indicator = &k->ind[base];
            if (k->isint[c]) {
                x->buffer_type = MYSQL_TYPE_LONGLONG;
                x->buffer = &k->iv[base];
            } else {
                x->buffer_type = MYSQL_TYPE_STRING;
                x->buffer = (void *)&k->sv[base];
                x->length = &k->len[base];
            }
        }
        if (mysql_stmt_attr_set(s, STMT_ATTR_ARRAY_SIZE, &asize) != 0 ||
            mysql_stmt_bind_param(s, k->b) != 0 || mysql_stmt_execute(s) != 0)
            return oh_st_fail(st, mysql_stmt_errno(s), mysql_stmt_error(s), what, err);
    }
    return 0;
}

/* ---- statements ---------------------------------------------------------------------- */

#define DOC_HEAD "INSERT INTO documents (channel, spool_id, sha256, source, format, status, error, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE sha256 = VALUES(sha256), source = VALUES(source), format = VALUES(format), status = VALUES(status), error = VALUES(error), received_at = VALUES(received_at), processed_at = NOW(3)"
#define DOC_COLS 8

#define ORDER_INS                                                                               \
    "INSERT INTO orders (channel, external_id, number, status, placed_at, updated_at, "         \
    "currency, subtotal, shipping_total, tax_total, discount_total, total, po_number, notes, "  \
    "tags, customer_external_id, customer_email, customer_name, customer_phone, ship_method, "  \
    "ship_by, deliver_by, partner_sender_id, partner_receiver_id, content_sha256, doc_id) "     \
    "VALUES (?, ?, ?, COALESCE(?, 'pending'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "   \
    "?, ?, ?, ?, ?, ?, ?)"
#define ORDER_INS_COLS (2 + OH_OF_N + 2)

#define ADDR_INS                                                                                \
    "INSERT INTO addresses (order_id, role, name, company, line1, line2, city, region, "        \
    "postal_code, country, phone, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define LINES_INS                                                                               \
    "INSERT INTO order_lines (order_id, seq, line_no, external_id, sku, gtin, title, qty, "     \
    "uom, unit_price, tax, discount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

/* the statement of SQ_OUTBOX_ADD (store.c), bulk-bound */
#define OUTBOX_INS                                                                              \
    "INSERT INTO outbox (event, target, origin, order_id, payload) VALUES (?, ?, ?, ?, ?)"

_Static_assert(OH_BATCH_IN + 1 <= OH_MAX_PARAMS, "IN list fits the parameter table");

/* "WITH k(x) AS (VALUES (?), ..., (?)) SELECT cols FROM k STRAIGHT_JOIN table
 * ON channel = ? AND key = k.x tail": OH_BATCH_IN keys, then the channel.
 * A join that looks each key up in the unique (channel, key) index
 * (eq_ref), whatever the statistics say. "channel = ? AND key IN (...)"
 * let MariaDB 10.11 choose a ref access on the channel prefix and test the
 * IN list against every row of the channel, so each batch read all of a
 * channel's orders and ingest slowed down with the size of the table; a
 * row-constructor IN is a range but costs the range optimizer about 2 ms
 * for 64 pairs. */
static void in_sql(char *buf, size_t n, const char *cols_from, const char *on, const char *tail)
{
    size_t off = (size_t)snprintf(buf, n, "WITH k(x) AS (VALUES ");

    for (int i = 0; i < OH_BATCH_IN && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s(CAST(? AS CHAR(255) CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)", i ? ", " : "");
    if (off < n)
        off += (size_t)snprintf(buf + off, n - off, ") SELECT %s ON %s%s", cols_from, on, tail);
    if (off >= n)
        abort(); /* the buffers below are sized for OH_BATCH_IN */
}

static int bq(struct oh_store *st, enum oh_bq id, MYSQL_STMT **out, struct oh_err *err)
{
    char sql[640 + OH_BATCH_IN * 80];
    const char *text = NULL;
    int rc;

    *out = NULL;
    if (!st->bq[id]) {
        switch (id) {
        case OH_BQ_DOC_PUT: text = DOC_HEAD; break;
        case OH_BQ_DOC_IDS:
            in_sql(sql, sizeof(sql), "d.id, d.spool_id FROM k STRAIGHT_JOIN documents d",
                   "d.channel = ? AND d.spool_id = k.x", "");
            text = sql;
            break;
        case OH_BQ_ORDER_LOCK:
            in_sql(sql, sizeof(sql),
                   "o.id, CAST(o.updated_at AS CHAR), o.content_sha256, o.status, o.external_id "
                   "FROM k STRAIGHT_JOIN orders o",
                   "o.channel = ? AND o.external_id = k.x", " FOR UPDATE");
            text = sql;
            break;
        case OH_BQ_ORDER_INSERT: text = ORDER_INS; break;
        case OH_BQ_ADDR_INSERT: text = ADDR_INS; break;
        case OH_BQ_LINES_INSERT: text = LINES_INS; break;
        case OH_BQ_OUTBOX_ADD: text = OUTBOX_INS; break;
        default: abort();
        }
        if ((rc = oh_st_prepare(st, &st->bq[id], text, "prepare batch statement", err)) < 0)
            return rc;
    }
    *out = st->bq[id];
    return 0;
}

/* ---- keys ------------------------------------------------------------------------------ */

static size_t key_len(const char *s, size_t len)
{
    while (len > 0 && s[len - 1] == ' ')
        len--;
    return len;
}

static int same_key(const char *a, size_t alen, const char *b, size_t blen)
{
    alen = key_len(a, alen);
    blen = key_len(b, blen);
    return alen == blen && memcmp(a, b, alen) == 0;
}

int oh_store_same_key(const char *a, const char *b)
{
    return a && b && same_key(a, strlen(a), b, strlen(b));
}

/* ---- documents ------------------------------------------------------------------------- */

int oh_store_documents_put(struct oh_store *st, const struct oh_store_doc *docs, size_t n,
                           const char *status, int64_t *ids, struct oh_err *err)
{
    int rc = 0;
    struct bulk k = { 0 };
    MYSQL_STMT *s = NULL, *sel = NULL;
    struct oh_rows r = { 0 };
    size_t *pick = NULL;
    struct oh_keyidx kx = { 0 };

    for (size_t i = 0; i < n; i++) {
        ids[i] = 0;
        if (!docs[i].channel || !docs[i].spool_id || !status)
            return oh_err_set(err, OH_EINVAL,
                              "document: channel, spool id and status are required");
    }
    if (n == 0)
        return 0;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    if ((rc = bq(st, OH_BQ_DOC_PUT, &s, err)) < 0 || (rc = bq(st, OH_BQ_DOC_IDS, &sel, err)) < 0)
        goto done;
    if ((rc = bulk_init(&k, DOC_COLS, n, err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const struct oh_store_doc *d = &docs[i];

        bulk_str(&k, d->channel);
        bulk_str(&k, d->spool_id);
        bulk_str(&k, d->sha256);
        bulk_str(&k, d->source);
        bulk_str(&k, d->format);
        bulk_str(&k, status);
        bulk_null(&k);
        if (d->received_at > 0) {
            time_t sec = (time_t)(d->received_at / 1000);
            struct tm tm;

            gmtime_r(&sec, &tm);
            snprintf(k.tmp[i], OH_TMP_LEN, "%04d-%02d-%02d %02d:%02d:%02d.%03d",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(d->received_at % 1000));
            bulk_str(&k, k.tmp[i]);
        } else {
            bulk_null(&k);
        }
        bulk_row_end(&k);
    }
    if ((rc = bulk_exec(st, s, &k, "record documents", err)) < 0)
        goto done;

    /* ids: OH_BATCH_IN documents of one channel per SELECT */
    pick = calloc(OH_BATCH_IN, sizeof(*pick));
    if (!pick) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t np = 0;
        const char *ch = docs[i].channel;

        if (ids[i] > 0)
            continue;
        for (size_t j = i; j < n && np < OH_BATCH_IN; j++) {
            if (ids[j] == 0 && strcmp(docs[j].channel, ch) == 0) {
                ids[j] = -1; /* asked for */
                pick[np++] = j;
            }
        }
        oh_p_reset(st);
        for (size_t q = 0; q < OH_BATCH_IN; q++)
            oh_p_str(st, docs[pick[q < np ? q : np - 1]].spool_id);
        oh_p_str(st, ch);
        if ((rc = oh_st_exec(st, sel, "read document ids", &r, NULL, err)) < 0)
            goto done;
        oh_keyidx_clear(&kx);
        for (size_t q = 0; q < np; q++)
            oh_keyidx_put(&kx, docs[pick[q]].spool_id, strlen(docs[pick[q]].spool_id), (long)q);
        for (size_t row = 0; row < r.nrows; row++) {
            const char *got = oh_cell(&r, row, 1);
            long q = got ? oh_keyidx_get(&kx, got, strlen(got)) : -1;
            if (q >= 0 && ids[pick[q]] <= 0)
                ids[pick[q]] = oh_st_atoi64(oh_cell(&r, row, 0));
        }
        for (size_t q = 0; q < np; q++) {
            const char *sid = docs[pick[q]].spool_id;

            if (ids[pick[q]] <= 0) {
                rc = oh_err_set(err, OH_ERROR, "store: document %s of channel %s not found "
                                "after its upsert", sid, ch);
                goto done;
            }
        }
        oh_rows_free(&r);
    }
done:
    oh_rows_free(&r);
    bulk_free(&k);
    free(pick);
    oh_keyidx_free(&kx);
    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            ids[i] = 0;
    return rc;
}

/* ---- orders ---------------------------------------------------------------------------- */

struct one {
    struct oh_order_vals *ov;
    struct oh_line_vals *lv;
    size_t nlines;
    struct oh_addr_vals av[2];
    int exists; /* found by the lock: goes through oh_store_upsert_order */
    int64_t id;
};

static const char *const roles[2] = { "bill_to", "ship_to" };

/* Runs the lock SELECT over the orders idx[0..ni) and matches the rows.
 * mark_exists: set exists for each row found; otherwise every order must be
 * found and gets its id. */
static int lock_select(struct oh_store *st, const char *channel, struct one *o, const size_t *idx,
                       size_t ni, int mark_exists, struct oh_err *err)
{
    int rc = 0;
    MYSQL_STMT *s = NULL;
    struct oh_rows r = { 0 };
    struct oh_keyidx kx = { 0 };

    if ((rc = bq(st, OH_BQ_ORDER_LOCK, &s, err)) < 0)
        goto done;
    for (size_t off = 0; off < ni; off += OH_BATCH_IN) {
        size_t k = ni - off < OH_BATCH_IN ? ni - off : OH_BATCH_IN;

        oh_p_reset(st);
        for (size_t q = 0; q < OH_BATCH_IN; q++) {
            const struct oh_fv *e = &o[idx[off + (q < k ? q : k - 1)]].ov->ext;
            oh_p_strn(st, e->s, e->len);
        }
        oh_p_str(st, channel);
        if ((rc = oh_st_exec(st, s, "lock orders", &r, NULL, err)) < 0)
            goto done;
        oh_keyidx_clear(&kx);
        for (size_t q = 0; q < k; q++) {
            const struct oh_fv *e = &o[idx[off + q]].ov->ext;
            oh_keyidx_put(&kx, e->s, e->len, (long)q);
        }
        for (size_t row = 0; row < r.nrows; row++) {
            const char *got = oh_cell(&r, row, 4);
            long q = got ? oh_keyidx_get(&kx, got, strlen(got)) : -1;

            if (q < 0) {
                rc = oh_err_set(err, OH_ERROR, "store: lock orders: row %s matches no order",
                                got ? got : "?");
                goto done;
            }
            if (mark_exists)
                o[idx[off + q]].exists = 1;
            o[idx[off + q]].id = oh_st_atoi64(oh_cell(&r, row, 0));
        }
        oh_rows_free(&r);
        if (!mark_exists) {
            for (size_t q = 0; q < k; q++) {
                if (o[idx[off + q]].id <= 0) {
                    rc = oh_err_set(err, OH_ERROR, "store: order %s not found after its insert",
                                    o[idx[off + q]].ov->ext.s);
                    goto done;
                }
            }
        }
    }
done:
    oh_rows_free(&r);
    oh_keyidx_free(&kx);
    return rc;
}

static int insert_new(struct oh_store *st, const char *channel, struct one *o, const size_t *idx,
                      size_t ni, const char *const *hashes, const int64_t *doc_ids,
                      struct oh_err *err)
{
    int rc = 0;
    struct bulk k = { 0 };
    MYSQL_STMT *s = NULL;
    size_t naddr = 0, nlines = 0;

    /* orders */
    if ((rc = bq(st, OH_BQ_ORDER_INSERT, &s, err)) < 0 ||
        (rc = bulk_init(&k, ORDER_INS_COLS, ni, err)) < 0)
        goto done;
    for (size_t q = 0; q < ni; q++) {
        const struct one *x = &o[idx[q]];

        bulk_str(&k, channel);
        bulk_strn(&k, x->ov->ext.s, x->ov->ext.len);
        for (size_t f = 0; f < OH_OF_N; f++)
            bulk_strn(&k, x->ov->f[f].s, x->ov->f[f].len);
        bulk_str(&k, hashes[idx[q]]);
        if (doc_ids && doc_ids[idx[q]] > 0)
            bulk_i64(&k, doc_ids[idx[q]]);
        else
            bulk_null(&k);
        bulk_row_end(&k);
        naddr += (size_t)(x->av[0].present + x->av[1].present);
        nlines += x->nlines;
    }
    if ((rc = bulk_exec(st, s, &k, "insert orders", err)) < 0) {
        /* B3: a row that appeared since the lock; the per-order path sorts it out */
        if (rc == OH_EEXIST)
            err->retryable = 0;
        goto done;
    }
    bulk_free(&k);

    /* their ids, by key */
    if ((rc = lock_select(st, channel, o, idx, ni, 0, err)) < 0)
        goto done;

    /* addresses */
    if ((rc = bq(st, OH_BQ_ADDR_INSERT, &s, err)) < 0 ||
        (rc = bulk_init(&k, 2 + OH_AF_N, naddr, err)) < 0)
        goto done;
    for (size_t q = 0; q < ni; q++) {
        const struct one *x = &o[idx[q]];

        for (int role = 0; role < 2; role++) {
            if (!x->av[role].present)
                continue;
            bulk_i64(&k, x->id);
            bulk_str(&k, roles[role]);
            for (size_t f = 0; f < OH_AF_N; f++)
                bulk_strn(&k, x->av[role].f[f].s, x->av[role].f[f].len);
            bulk_row_end(&k);
        }
    }
    if ((rc = bulk_exec(st, s, &k, "insert addresses", err)) < 0)
        goto done;
    bulk_free(&k);

    /* lines */
    if ((rc = bq(st, OH_BQ_LINES_INSERT, &s, err)) < 0 ||
        (rc = bulk_init(&k, 3 + OH_LF_N, nlines, err)) < 0)
        goto done;
    for (size_t q = 0; q < ni; q++) {
        const struct one *x = &o[idx[q]];

        for (size_t j = 0; j < x->nlines; j++) {
            bulk_i64(&k, x->id);
            bulk_i64(&k, (int64_t)j);
            bulk_i64(&k, x->lv[j].line_no);
            for (size_t f = 0; f < OH_LF_N; f++)
                bulk_strn(&k, x->lv[j].f[f].s, x->lv[j].f[f].len);
            bulk_row_end(&k);
        }
    }
    rc = bulk_exec(st, s, &k, "insert order lines", err);
done:
    bulk_free(&k);
    return rc;
}

int oh_store_upsert_orders(struct oh_store *st, const char *channel, json_t *const *orders,
                           const char *const *hashes, const int64_t *doc_ids, size_t n,
                           struct oh_upsert_result *res, struct oh_err *err)
{
    int rc = 0;
    struct one *o = NULL;
    size_t *idx = NULL, ni = 0;
    struct oh_err scratch;
    struct oh_keyidx seen = { 0 };

    if (!err)
        err = &scratch;
    if (n == 0)
        return 0;
    memset(res, 0, n * sizeof(*res));
    if (!channel || !*channel) {
        rc = oh_err_set(err, OH_EINVAL, "upsert orders: channel is required");
        goto done;
    }
    o = calloc(n, sizeof(*o));
    idx = calloc(n, sizeof(*idx));
    if (!o || !idx) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!hashes[i] || !*hashes[i]) {
            rc = oh_err_set(err, OH_EINVAL, "upsert order: channel and content hash are required");
            goto done;
        }
        if (!(o[i].ov = calloc(1, sizeof(*o[i].ov)))) {
            rc = oh_err_set(err, OH_ERROR, "store: out of memory");
            goto done;
        }
        if ((rc = oh_st_collect(orders[i], o[i].ov, &o[i].lv, &o[i].nlines, o[i].av, err)) < 0)
            goto done;
        if (oh_keyidx_put(&seen, o[i].ov->ext.s, o[i].ov->ext.len, (long)i) >= 0) {
            rc = oh_err_set(err, OH_EINVAL, "upsert orders: order %s twice in one call",
                            o[i].ov->ext.s);
            goto done;
        }
        idx[i] = i;
    }
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    if ((rc = lock_select(st, channel, o, idx, n, 1, err)) < 0)
        goto done;

    for (size_t i = 0; i < n; i++)
        if (!o[i].exists)
            idx[ni++] = i;
    if (ni > 0 && (rc = insert_new(st, channel, o, idx, ni, hashes, doc_ids, err)) < 0)
        goto done;
    for (size_t q = 0; q < ni; q++) {
        struct one *x = &o[idx[q]];
        struct oh_upsert_result *r = &res[idx[q]];
        const char *status = x->ov->f[OH_OF_STATUS].s;

        r->what = OH_UPSERT_INSERTED;
        r->order_id = x->id;
        snprintf(r->new_status, sizeof(r->new_status), "%s", status ? status : "pending");
    }
    /* already stored: the per-order path, in order */
    for (size_t i = 0; i < n; i++) {
        if (!o[i].exists || o[i].id <= 0)
            continue;
        if ((rc = oh_store_upsert_order(st, channel, orders[i], hashes[i],
                                        doc_ids ? doc_ids[i] : 0, &res[i], err)) < 0)
            goto done;
    }
done:
    if (rc < 0 && err != &scratch)
        oh_err_prefix(err, "channel %s", channel ? channel : "?");
    if (o) {
        for (size_t i = 0; i < n; i++) {
            if (o[i].ov)
                free(o[i].ov->tags);
            free(o[i].ov);
            free(o[i].lv);
        }
    }
    free(o);
    free(idx);
    oh_keyidx_free(&seen);
    return rc;
}

/* ---- outbox ---------------------------------------------------------------------------- */

int oh_store_outbox_add_many(struct oh_store *st, const struct oh_outbox_row *rows, size_t n,
                             struct oh_err *err)
{
    struct bulk k = { 0 };
    MYSQL_STMT *s = NULL;
    int rc;

    for (size_t i = 0; i < n; i++)
        if (!rows[i].event || !rows[i].target || !rows[i].payload)
            return oh_err_set(err, OH_EINVAL, "outbox: event, target and payload are required");
    if (n == 0)
        return 0;
    if ((rc = oh_st_ready(st, err)) < 0 || (rc = bq(st, OH_BQ_OUTBOX_ADD, &s, err)) < 0 ||
        (rc = bulk_init(&k, 5, n, err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        bulk_str(&k, rows[i].event);
        bulk_str(&k, rows[i].target);
        bulk_str(&k, rows[i].origin);
        if (rows[i].order_id > 0)
            bulk_i64(&k, rows[i].order_id);
        else
            bulk_null(&k);
        bulk_str(&k, rows[i].payload);
        bulk_row_end(&k);
    }
    rc = bulk_exec(st, s, &k, "add outbox rows", err);
done:
    bulk_free(&k);
    return rc;
}
