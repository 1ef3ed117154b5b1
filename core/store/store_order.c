/*
 * store_order.c — canonical orders in and out of MariaDB (DESIGN §4), and
 * the documents table.
 *
 * Promises:
 *   T3  oh_store_upsert_order locks the order row (SELECT ... FOR UPDATE),
 *       then: no row -> insert order, addresses, lines (INSERTED); same
 *       content_sha256 -> nothing (UNCHANGED); incoming updated_at older
 *       than the stored one -> nothing (STALE); otherwise the row is updated
 *       and its lines and addresses replaced (UPDATED). A missing status
 *       keeps the stored one (it may have moved on inside orderhub: accepted,
 *       released); a missing updated_at on either side never counts as older.
 *   T6  Money and quantities are bound as the decimal text they arrived as
 *       (or the text of a JSON integer); a JSON number with a fraction is
 *       refused with OH_EINVAL because it has already been through a double.
 *
 * Round trip (oh_store_order_get returns what was stored):
 *   - timestamps come back as ISO-8601 UTC, "2026-11-23T09:30:00Z", with
 *     ".fff" only when the milliseconds are not zero; offsets ("+02:00") are
 *     converted to UTC on the way in; a bare date means midnight UTC;
 *   - money comes back as a decimal string with at least two and at most
 *     four fraction digits, trailing zeros past the second trimmed ("19.90"
 *     -> "19.90", "5" -> "5.00", "0.125" -> "0.125"); quantities with no
 *     trailing fraction zeros ("2" -> "2", "1.50" -> "1.5"), always strings;
 *   - line_no is an integer (missing: position in lines[], from 1); lines
 *     keep their order; absent optional fields stay absent; customer{} and
 *     partner{} appear only when one of their fields is set; bill_to{} and
 *     ship_to{} appear whenever they were given;
 *   - the channel argument wins over the order's own channel field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

enum kind { K_STR, K_MONEY, K_QTY, K_TIME, K_TAGS };

struct field {
    const char *obj; /* sub-object of the order, or NULL */
    const char *key;
    enum kind kind;
};

/* In the order of ORDER_COLS (store.c) from column 3 on, and of the
 * placeholders of SQ_ORDER_INSERT / SQ_ORDER_UPDATE. */
static const struct field order_fields[] = {
    { NULL, "number", K_STR },           { NULL, "status", K_STR },
    { NULL, "placed_at", K_TIME },       { NULL, "updated_at", K_TIME },
    { NULL, "currency", K_STR },         { NULL, "subtotal", K_MONEY },
    { NULL, "shipping_total", K_MONEY }, { NULL, "tax_total", K_MONEY },
    { NULL, "discount_total", K_MONEY }, { NULL, "total", K_MONEY },
    { NULL, "po_number", K_STR },        { NULL, "notes", K_STR },
    { NULL, "tags", K_TAGS },            { "customer", "external_id", K_STR },
    { "customer", "email", K_STR },      { "customer", "name", K_STR },
    { "customer", "phone", K_STR },      { NULL, "ship_method", K_STR },
    { NULL, "ship_by", K_TIME },         { NULL, "deliver_by", K_TIME },
    { "partner", "sender_id", K_STR },   { "partner", "receiver_id", K_STR },
};
#define OF_N (sizeof(order_fields) / sizeof(order_fields[0]))
#define OF_STATUS 1
#define OF_UPDATED_AT 3
#define OF_TAGS 12
#define ORDER_COL0 3

/* After line_no, in the order of SQ_LINES_GET from column 1 on. */
static const struct field line_fields[] = {
    { NULL, "external_id", K_STR }, { NULL, "sku", K_STR },        { NULL, "gtin", K_STR },
    { NULL, "title", K_STR },       { NULL, "qty", K_QTY },        { NULL, "uom", K_STR },
    { NULL, "unit_price", K_MONEY }, { NULL, "tax", K_MONEY },     { NULL, "discount", K_MONEY },
};
#define LF_N (sizeof(line_fields) / sizeof(line_fields[0]))
#define LF_QTY 4

/* In the order of SQ_ADDR_GET from column 1 on. */
static const char *const addr_keys[] = { "name",   "company",     "line1",   "line2", "city",
                                         "region", "postal_code", "country", "phone", "email" };
#define AF_N (sizeof(addr_keys) / sizeof(addr_keys[0]))
static const char *const addr_roles[2] = { "bill_to", "ship_to" };

_Static_assert(OF_N == OH_OF_N && LF_N == OH_LF_N && AF_N == OH_AF_N,
               "store_int.h field counts");
_Static_assert(OF_STATUS == OH_OF_STATUS, "store_int.h status field");

/* ---- canonical JSON -> values ----------------------------------------------------- */

/* Where a value sits, for messages: written out only when there is one
 * (formatting it for every field cost more than the field itself). */
struct fpath {
    const char *obj; /* "bill_to", "customer", or NULL */
    const char *key;
    long line;       /* >= 0: lines[line].key */
};

static const char *fpath_str(const struct fpath *p, char buf[64])
{
    if (p->line >= 0)
        snprintf(buf, 64, "lines[%ld].%s", p->line, p->key);
    else
        snprintf(buf, 64, "%s%s%s", p->obj ? p->obj : "", p->obj ? "." : "", p->key);
    return buf;
}

static int take(const json_t *v, enum kind k, struct oh_fv *out, char tmp[OH_TMP_LEN],
                const struct fpath *fp, struct oh_err *err)
{
    char path[64];

    out->s = NULL;
    out->len = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v) && k != K_TIME && k != K_TAGS) {
        snprintf(tmp, OH_TMP_LEN, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        out->s = tmp;
        out->len = strlen(tmp);
        if ((k == K_MONEY || k == K_QTY) && !oh_st_decimal_ok(out->s, out->len))
            return oh_err_set(err, OH_EINVAL, "order %s: %s does not fit DECIMAL(19,4)", fpath_str(fp, path),
                              tmp);
        return 0;
    }
    if (!json_is_string(v)) {
        if (json_is_real(v) && (k == K_MONEY || k == K_QTY))
            return oh_err_set(err, OH_EINVAL,
                              "order %s: a JSON number with a fraction; money and quantities "
                              "must be decimal strings",
                              fpath_str(fp, path));
        return oh_err_set(err, OH_EINVAL, "order %s: expected a string", fpath_str(fp, path));
    }
    out->s = json_string_value(v);
    out->len = json_string_length(v);
    switch (k) {
    case K_MONEY:
    case K_QTY:
        if (!oh_st_decimal_ok(out->s, out->len))
            return oh_err_set(err, OH_EINVAL, "order %s: \"%.40s\" is not a decimal that fits "
                              "DECIMAL(19,4)", fpath_str(fp, path), out->s);
        break;
    case K_TIME:
        if (oh_st_iso_to_sql(out->s, tmp) < 0)
            return oh_err_set(err, OH_EINVAL, "order %s: \"%.40s\" is not an ISO-8601 time "
                              "with a zone", fpath_str(fp, path), out->s);
        out->s = tmp;
        out->len = strlen(tmp);
        break;
    default:
        break;
    }
    return 0;
}

static int collect(const json_t *order, struct oh_order_vals *ov, struct oh_line_vals **lvp,
                   size_t *nlines, struct oh_addr_vals av[2], struct oh_err *err)
{
    int rc = 0;
    const json_t *lines, *tags;
    struct oh_line_vals *lv = NULL;
    size_t n = 0;

    *lvp = NULL;
    *nlines = 0;
    if (!json_is_object(order)) {
        rc = oh_err_set(err, OH_EINVAL, "order: not a JSON object");
        goto done;
    }
    if ((rc = take(json_object_get(order, "external_id"), K_STR, &ov->ext, ov->ext_tmp,
                   &(struct fpath){ NULL, "external_id", -1 }, err)) < 0)
        goto done;
    if (!ov->ext.s || ov->ext.len == 0) {
        rc = oh_err_set(err, OH_EINVAL, "order: external_id is missing");
        goto done;
    }
    for (size_t i = 0; i < OF_N; i++) {
        const struct field *f = &order_fields[i];
        const json_t *parent = f->obj ? json_object_get(order, f->obj) : order;
        struct fpath path = { f->obj, f->key, -1 };

        if (parent && !json_is_object(parent) && !json_is_null(parent)) {
            rc = oh_err_set(err, OH_EINVAL, "order %s: %s is not an object", ov->ext.s, f->obj);
            goto done;
        }
        if (f->kind == K_TAGS)
            continue;
        if ((rc = take(json_is_object(parent) ? json_object_get(parent, f->key) : NULL, f->kind,
                       &ov->f[i], ov->tmp[i], &path, err)) < 0)
            goto done;
    }
    tags = json_object_get(order, "tags");
    if (tags && !json_is_null(tags)) {
        if (!json_is_array(tags)) {
            rc = oh_err_set(err, OH_EINVAL, "order tags: expected an array");
            goto done;
        }
        ov->tags = json_dumps(tags, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!ov->tags) {
            rc = oh_err_set(err, OH_ERROR, "store: out of memory");
            goto done;
        }
        ov->f[OF_TAGS].s = ov->tags;
        ov->f[OF_TAGS].len = strlen(ov->tags);
    }
    for (int r = 0; r < 2; r++) {
        const json_t *a = json_object_get(order, addr_roles[r]);

        av[r].present = 0;
        if (!a || json_is_null(a))
            continue;
        if (!json_is_object(a)) {
            rc = oh_err_set(err, OH_EINVAL, "order %s: expected an object", addr_roles[r]);
            goto done;
        }
        av[r].present = 1;
        for (size_t i = 0; i < AF_N; i++) {
            struct fpath path = { addr_roles[r], addr_keys[i], -1 };

            if ((rc = take(json_object_get(a, addr_keys[i]), K_STR, &av[r].f[i], av[r].tmp[i],
                           &path, err)) < 0)
                goto done;
        }
    }
    lines = json_object_get(order, "lines");
    if (lines && !json_is_null(lines)) {
        if (!json_is_array(lines)) {
            rc = oh_err_set(err, OH_EINVAL, "order lines: expected an array");
            goto done;
        }
        n = json_array_size(lines);
    }
    if (n) {
        lv = calloc(n, sizeof(*lv));
        if (!lv) {
            rc = oh_err_set(err, OH_ERROR, "store: out of memory");
            goto done;
        }
    }
    for (size_t j = 0; j < n; j++) {
        const json_t *l = json_array_get(lines, j);
        const json_t *no;

        if (!json_is_object(l)) {
            rc = oh_err_set(err, OH_EINVAL, "order lines[%zu]: expected an object", j);
            goto done;
        }
        no = json_object_get(l, "line_no");
        if (!no || json_is_null(no)) {
            lv[j].line_no = (int64_t)j + 1;
        } else if (json_is_integer(no)) {
            lv[j].line_no = json_integer_value(no);
        } else if (json_is_string(no) && json_string_length(no) > 0 &&
                   json_string_length(no) < 10 &&
                   strspn(json_string_value(no), "0123456789") == json_string_length(no)) {
            lv[j].line_no = strtoll(json_string_value(no), NULL, 10);
        } else {
            rc = oh_err_set(err, OH_EINVAL, "order lines[%zu].line_no: expected an integer", j);
            goto done;
        }
        if (lv[j].line_no < 0 || lv[j].line_no > 2147483647) {
            rc = oh_err_set(err, OH_EINVAL, "order lines[%zu].line_no: out of range", j);
            goto done;
        }
        for (size_t i = 0; i < LF_N; i++) {
            struct fpath path = { NULL, line_fields[i].key, (long)j };

            if ((rc = take(json_object_get(l, line_fields[i].key), line_fields[i].kind,
                           &lv[j].f[i], lv[j].tmp[i], &path, err)) < 0)
                goto done;
        }
        if (!lv[j].f[LF_QTY].s) {
            rc = oh_err_set(err, OH_EINVAL, "order lines[%zu].qty is missing", j);
            goto done;
        }
    }
    *lvp = lv;
    *nlines = n;
    lv = NULL;
done:
    free(lv);
    return rc;
}

int oh_st_collect(const json_t *order, struct oh_order_vals *ov, struct oh_line_vals **lv,
                  size_t *nlines, struct oh_addr_vals av[2], struct oh_err *err)
{
    return collect(order, ov, lv, nlines, av, err);
}

/* ---- writes ------------------------------------------------------------------------ */

static void bind_fv(struct oh_store *st, const struct oh_fv *v)
{
    oh_p_strn(st, v->s, v->len);
}

static void bind_order_data(struct oh_store *st, const struct oh_order_vals *ov,
                            const char *content_sha256, int64_t doc_id)
{
    for (size_t i = 0; i < OF_N; i++)
        bind_fv(st, &ov->f[i]);
    oh_p_str(st, content_sha256);
    if (doc_id > 0)
        oh_p_i64(st, doc_id);
    else
        oh_p_null(st);
}

/* "INSERT ... VALUES (?,..),(?,..)" for k rows of ncols, from constant parts. */
static int multirow_sql(char *buf, size_t n, const char *head, int ncols, int k)
{
    size_t off = (size_t)snprintf(buf, n, "%s", head);

    for (int r = 0; r < k; r++) {
        off += (size_t)snprintf(buf + off, n - off, "%s(", r ? ", " : "");
        for (int c = 0; c < ncols; c++)
            off += (size_t)snprintf(buf + off, n - off, "%s?", c ? ", " : "");
        off += (size_t)snprintf(buf + off, n - off, ")");
        if (off >= n)
            return -1;
    }
    return 0;
}

static int insert_lines(struct oh_store *st, int64_t order_id, const struct oh_line_vals *lv,
                        size_t n, struct oh_err *err)
{
    static const char head[] =
        "INSERT INTO order_lines (order_id, seq, line_no, external_id, sku, gtin, title, qty, "
        "uom, unit_price, tax, discount) VALUES ";
    char sql[sizeof(head) + OH_LINES_PER_INSERT * (OH_LINE_COLS * 3 + 4)];
    int rc = 0;

    for (size_t off = 0; off < n; off += OH_LINES_PER_INSERT) {
        int k = (int)(n - off < OH_LINES_PER_INSERT ? n - off : OH_LINES_PER_INSERT);

        if (!st->lines_ins[k]) {
            if (multirow_sql(sql, sizeof(sql), head, OH_LINE_COLS, k) < 0)
                abort(); /* the buffer is sized for OH_LINES_PER_INSERT rows */
            if ((rc = oh_st_prepare(st, &st->lines_ins[k], sql, "prepare order lines", err)) < 0)
                goto done;
        }
        oh_p_reset(st);
        for (int r = 0; r < k; r++) {
            const struct oh_line_vals *l = &lv[off + (size_t)r];

            oh_p_i64(st, order_id);
            oh_p_i64(st, (int64_t)(off + (size_t)r));
            oh_p_i64(st, l->line_no);
            for (size_t i = 0; i < LF_N; i++)
                bind_fv(st, &l->f[i]);
        }
        if ((rc = oh_st_exec(st, st->lines_ins[k], "insert order lines", NULL, NULL, err)) < 0)
            goto done;
    }
done:
    return rc;
}

static int insert_addresses(struct oh_store *st, int64_t order_id, const struct oh_addr_vals av[2],
                            struct oh_err *err)
{
    static const char head[] =
        "INSERT INTO addresses (order_id, role, name, company, line1, line2, city, region, "
        "postal_code, country, phone, email) VALUES ";
    char sql[sizeof(head) + 2 * (OH_ADDR_COLS * 3 + 4)];
    int k = av[0].present + av[1].present;
    int rc = 0;

    if (k == 0)
        goto done;
    if (!st->addr_ins[k]) {
        if (multirow_sql(sql, sizeof(sql), head, OH_ADDR_COLS, k) < 0)
            abort();
        if ((rc = oh_st_prepare(st, &st->addr_ins[k], sql, "prepare addresses", err)) < 0)
            goto done;
    }
    oh_p_reset(st);
    for (int r = 0; r < 2; r++) {
        if (!av[r].present)
            continue;
        oh_p_i64(st, order_id);
        oh_p_str(st, addr_roles[r]);
        for (size_t i = 0; i < AF_N; i++)
            bind_fv(st, &av[r].f[i]);
    }
    rc = oh_st_exec(st, st->addr_ins[k], "insert addresses", NULL, NULL, err);
done:
    return rc;
}

static void set_status(char dst[32], const char *s)
{
    snprintf(dst, 32, "%s", s ? s : "");
}

/* A duplicate key on insert means another worker inserted the same order
 * between our lock and our insert: a retry finds its row (T5 semantics). */
static int raced(struct oh_store *st, int rc, struct oh_err *err)
{
    if (rc != OH_EEXIST)
        return rc;
    if (st->in_tx) {
        mysql_real_query(st->db, "ROLLBACK", 8);
        st->tx_lost = 1;
    }
    err->retryable = 1;
    err->code = OH_EAGAIN;
    return OH_EAGAIN;
}

int oh_store_upsert_order(struct oh_store *st, const char *channel, const json_t *order,
                          const char *content_sha256, int64_t doc_id,
                          struct oh_upsert_result *res, struct oh_err *err)
{
    int rc = 0;
    struct oh_order_vals *ov = NULL;
    struct oh_line_vals *lv = NULL;
    size_t nlines = 0;
    struct oh_addr_vals av[2];
    struct oh_rows cur = { 0 };
    MYSQL_STMT *s = NULL;
    struct oh_err scratch;

    if (!err)
        err = &scratch;
    memset(res, 0, sizeof(*res));
    if (!channel || !*channel || !content_sha256 || !*content_sha256) {
        rc = oh_err_set(err, OH_EINVAL, "upsert order: channel and content hash are required");
        goto done;
    }
    ov = calloc(1, sizeof(*ov));
    if (!ov) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    if ((rc = collect(order, ov, &lv, &nlines, av, err)) < 0)
        goto done;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;

    oh_p_reset(st);
    oh_p_str(st, channel);
    bind_fv(st, &ov->ext);
    if ((rc = oh_st_run(st, SQ_ORDER_LOCK, "lock order", &cur, NULL, err)) < 0)
        goto done;

    if (cur.nrows == 0) {
        oh_p_reset(st);
        oh_p_str(st, channel);
        bind_fv(st, &ov->ext);
        bind_order_data(st, ov, content_sha256, doc_id);
        if ((rc = oh_st_stmt(st, SQ_ORDER_INSERT, &s, err)) < 0)
            goto done;
        if ((rc = oh_st_exec(st, s, "insert order", NULL, NULL, err)) < 0) {
            rc = raced(st, rc, err);
            goto done;
        }
        res->order_id = (int64_t)mysql_stmt_insert_id(s);
        if ((rc = insert_addresses(st, res->order_id, av, err)) < 0)
            goto done;
        if ((rc = insert_lines(st, res->order_id, lv, nlines, err)) < 0)
            goto done;
        res->what = OH_UPSERT_INSERTED;
        set_status(res->new_status, ov->f[OF_STATUS].s ? ov->f[OF_STATUS].s : "pending");
        goto done;
    }

    res->order_id = oh_st_atoi64(oh_cell(&cur, 0, 0));
    set_status(res->old_status, oh_cell(&cur, 0, 3));
    if (oh_cell(&cur, 0, 2) && strcmp(oh_cell(&cur, 0, 2), content_sha256) == 0) {
        res->what = OH_UPSERT_UNCHANGED;
        set_status(res->new_status, res->old_status);
        goto done;
    }
    /* Both in "YYYY-MM-DD HH:MM:SS.fff": text order is time order. */
    if (ov->f[OF_UPDATED_AT].s && oh_cell(&cur, 0, 1) &&
        strcmp(ov->f[OF_UPDATED_AT].s, oh_cell(&cur, 0, 1)) < 0) {
        res->what = OH_UPSERT_STALE;
        set_status(res->new_status, res->old_status);
        goto done;
    }
    oh_p_reset(st);
    bind_order_data(st, ov, content_sha256, doc_id);
    oh_p_i64(st, res->order_id);
    if ((rc = oh_st_run(st, SQ_ORDER_UPDATE, "update order", NULL, NULL, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, res->order_id);
    if ((rc = oh_st_run(st, SQ_LINES_DELETE, "delete order lines", NULL, NULL, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, res->order_id);
    if ((rc = oh_st_run(st, SQ_ADDR_DELETE, "delete addresses", NULL, NULL, err)) < 0)
        goto done;
    if ((rc = insert_addresses(st, res->order_id, av, err)) < 0)
        goto done;
    if ((rc = insert_lines(st, res->order_id, lv, nlines, err)) < 0)
        goto done;
    res->what = OH_UPSERT_UPDATED;
    set_status(res->new_status, ov->f[OF_STATUS].s ? ov->f[OF_STATUS].s : res->old_status);
done:
    if (rc < 0 && err != &scratch)
        oh_err_prefix(err, "channel %s", channel ? channel : "?");
    oh_rows_free(&cur);
    if (ov)
        free(ov->tags);
    free(ov);
    free(lv);
    return rc;
}

/* ---- reads -------------------------------------------------------------------------- */

static json_t *money_json(const char *v, int min_frac)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%s", v);
    oh_st_trim_decimal(buf, min_frac);
    return json_string(buf);
}

static json_t *value_json(const char *v, enum kind k)
{
    switch (k) {
    case K_MONEY:
        return money_json(v, 2);
    case K_QTY:
        return money_json(v, 0);
    case K_TAGS: {
        json_t *t = json_loads(v, JSON_DECODE_ANY, NULL);
        return t ? t : json_array();
    }
    default:
        return json_string(v);
    }
}

static int put(json_t *obj, const char *key, json_t *v, struct oh_err *err)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        return oh_err_set(err, OH_ERROR, "store: out of memory");
    return 0;
}

/* Builds the canonical order from one ORDER_COLS row, then reads its
 * addresses and lines. */
static int order_to_json(struct oh_store *st, const struct oh_rows *o, json_t **out,
                         struct oh_err *err)
{
    int rc = 0;
    json_t *j = json_object(), *lines = json_array();
    struct oh_rows ad = { 0 }, ln = { 0 };
    int64_t id = oh_st_atoi64(oh_cell(o, 0, 0));

    if (!j || !lines) {
        rc = oh_err_set(err, OH_ERROR, "store: out of memory");
        goto done;
    }
    if ((rc = put(j, "channel", json_string(oh_cell(o, 0, 1)), err)) < 0 ||
        (rc = put(j, "external_id", json_string(oh_cell(o, 0, 2)), err)) < 0)
        goto done;
    for (size_t i = 0; i < OF_N; i++) {
        const struct field *f = &order_fields[i];
        const char *v = oh_cell(o, 0, ORDER_COL0 + i);
        json_t *parent = j;

        if (!v)
            continue;
        if (f->obj) {
            parent = json_object_get(j, f->obj);
            if (!parent) {
                if ((rc = put(j, f->obj, json_object(), err)) < 0)
                    goto done;
                parent = json_object_get(j, f->obj);
            }
        }
        if ((rc = put(parent, f->key, value_json(v, f->kind), err)) < 0)
            goto done;
    }

    oh_p_reset(st);
    oh_p_i64(st, id);
    if ((rc = oh_st_run(st, SQ_ADDR_GET, "read addresses", &ad, NULL, err)) < 0)
        goto done;
    for (size_t r = 0; r < ad.nrows; r++) {
        json_t *a = json_object();

        if ((rc = put(j, oh_cell(&ad, r, 0), a, err)) < 0)
            goto done;
        for (size_t i = 0; i < AF_N; i++) {
            const char *v = oh_cell(&ad, r, 1 + i);
            if (v && (rc = put(a, addr_keys[i], json_string(v), err)) < 0)
                goto done;
        }
    }

    oh_p_reset(st);
    oh_p_i64(st, id);
    if ((rc = oh_st_run(st, SQ_LINES_GET, "read order lines", &ln, NULL, err)) < 0)
        goto done;
    for (size_t r = 0; r < ln.nrows; r++) {
        json_t *l = json_object();

        if (!l || json_array_append_new(lines, l) != 0) {
            rc = oh_err_set(err, OH_ERROR, "store: out of memory");
            goto done;
        }
        if ((rc = put(l, "line_no", json_integer(oh_st_atoi64(oh_cell(&ln, r, 0))), err)) < 0)
            goto done;
        for (size_t i = 0; i < LF_N; i++) {
            const char *v = oh_cell(&ln, r, 1 + i);
            if (v && (rc = put(l, line_fields[i].key, value_json(v, line_fields[i].kind), err)) < 0)
                goto done;
        }
    }
    rc = put(j, "lines", lines, err);
    lines = NULL;
    if (rc < 0)
        goto done;
    *out = j;
    j = NULL;
done:
    json_decref(j);
    json_decref(lines);
    oh_rows_free(&ad);
    oh_rows_free(&ln);
    return rc;
}

int oh_store_order_get(struct oh_store *st, const char *channel, const char *external_id,
                       json_t **out, struct oh_err *err)
{
    int rc;
    struct oh_rows o = { 0 };

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, channel);
    oh_p_str(st, external_id);
    if ((rc = oh_st_run(st, SQ_ORDER_GET, "read order", &o, NULL, err)) < 0)
        goto done;
    if (o.nrows == 0) {
        rc = oh_err_set(err, OH_ENOTFOUND, "no order %s in channel %s", external_id, channel);
        goto done;
    }
    rc = order_to_json(st, &o, out, err);
done:
    oh_rows_free(&o);
    return rc;
}

int oh_store_order_get_by_id(struct oh_store *st, int64_t order_id, json_t **out,
                             struct oh_err *err)
{
    int rc;
    struct oh_rows o = { 0 };

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, order_id);
    if ((rc = oh_st_run(st, SQ_ORDER_GET_ID, "read order", &o, NULL, err)) < 0)
        goto done;
    if (o.nrows == 0) {
        rc = oh_err_set(err, OH_ENOTFOUND, "no order with id %lld", (long long)order_id);
        goto done;
    }
    rc = order_to_json(st, &o, out, err);
done:
    oh_rows_free(&o);
    return rc;
}

int oh_store_orders_list(struct oh_store *st, const char *channel, size_t limit, json_t **out,
                         struct oh_err *err)
{
    static const char *const keys[] = { "id",       "channel",  "external_id", "number", "status",
                                         "currency", "total",    "placed_at",   "updated_at",
                                         "lines" };
    int rc;
    struct oh_rows r = { 0 };
    json_t *arr = NULL;

    *out = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    if (channel)
        oh_p_str(st, channel);
    oh_p_i64(st, (int64_t)(limit ? limit : 100));
    if ((rc = oh_st_run(st, channel ? SQ_ORDERS_LIST_CH : SQ_ORDERS_LIST, "list orders", &r, NULL,
                        err)) < 0)
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
        for (size_t c = 0; c < 10; c++) {
            const char *v = oh_cell(&r, i, c);
            json_t *jv;

            if (c == 0 || c == 9)
                jv = json_integer(oh_st_atoi64(v));
            else if (!v)
                jv = json_null();
            else if (c == 6)
                jv = money_json(v, 2);
            else
                jv = json_string(v);
            if ((rc = put(o, keys[c], jv, err)) < 0)
                goto done;
        }
    }
    *out = arr;
    arr = NULL;
done:
    json_decref(arr);
    oh_rows_free(&r);
    return rc;
}

/* ---- status (DESIGN §4) -------------------------------------------------------------
 *
 *   pending -> accepted -> released -> partially_shipped -> shipped -> delivered
 *      any of the first four <-> on_hold   (on_hold returns to pending/accepted/released)
 *      pending..partially_shipped, on_hold -> cancelled
 *      partially_shipped, shipped, delivered -> returned
 *      accepted..delivered -> invoiced -> released..delivered, returned
 *      (invoicing is a side step: the goods may ship before or after it)
 *
 * Forward steps along the main line may skip (a shipment can arrive for an
 * accepted order); nothing goes backwards; cancelled and returned are final.
 * Setting the status an order already has is allowed and changes nothing.
 */
static const char *const main_line[] = { "pending", "accepted", "released", "partially_shipped",
                                         "shipped", "delivered" };
#define MAIN_N 6

static int main_pos(const char *s)
{
    for (int i = 0; i < MAIN_N; i++)
        if (strcmp(s, main_line[i]) == 0)
            return i;
    return -1;
}

static int known_status(const char *s)
{
    return main_pos(s) >= 0 || strcmp(s, "on_hold") == 0 || strcmp(s, "cancelled") == 0 ||
           strcmp(s, "returned") == 0 || strcmp(s, "invoiced") == 0;
}

static int transition_ok(const char *from, const char *to)
{
    int f = main_pos(from), t = main_pos(to);

    if (strcmp(from, to) == 0)
        return 1;
    if (f >= 0 && t >= 0)
        return t > f;
    if (strcmp(to, "invoiced") == 0)
        return f >= 1;
    if (strcmp(from, "invoiced") == 0)
        return t >= 2 || strcmp(to, "returned") == 0;
    if (strcmp(to, "on_hold") == 0)
        return f >= 0 && f <= 3;
    if (strcmp(from, "on_hold") == 0)
        return (t >= 0 && t <= 2) || strcmp(to, "cancelled") == 0;
    if (strcmp(to, "cancelled") == 0)
        return f >= 0 && f <= 3;
    if (strcmp(to, "returned") == 0)
        return f >= 3;
    return 0;
}

int oh_store_order_set_status(struct oh_store *st, int64_t order_id, const char *status,
                              char old_status[32], struct oh_err *err)
{
    int rc;
    struct oh_rows r = { 0 };
    const char *cur;

    if (old_status)
        old_status[0] = '\0';
    if (!status || !known_status(status)) {
        rc = oh_err_set(err, OH_EINVAL, "order %lld: unknown status \"%s\"", (long long)order_id,
                        status ? status : "");
        goto done;
    }
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_i64(st, order_id);
    if ((rc = oh_st_run(st, SQ_ORDER_STATUS_LOCK, "lock order status", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows == 0) {
        rc = oh_err_set(err, OH_ENOTFOUND, "no order with id %lld", (long long)order_id);
        goto done;
    }
    cur = oh_cell(&r, 0, 0);
    if (old_status)
        set_status(old_status, cur);
    if (!transition_ok(cur, status)) {
        rc = oh_err_set(err, OH_EINVAL, "order %lld: status %s -> %s is not allowed",
                        (long long)order_id, cur, status);
        goto done;
    }
    if (strcmp(cur, status) == 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, status);
    oh_p_i64(st, order_id);
    rc = oh_st_run(st, SQ_ORDER_STATUS_SET, "set order status", NULL, NULL, err);
done:
    oh_rows_free(&r);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------- */

int oh_store_document_put(struct oh_store *st, const struct oh_store_doc *d, const char *status,
                          const char *error, int64_t *doc_id, struct oh_err *err)
{
    int rc;
    MYSQL_STMT *s = NULL;

    if (doc_id)
        *doc_id = 0;
    if (!d || !d->channel || !d->spool_id || !status)
        return oh_err_set(err, OH_EINVAL, "document: channel, spool id and status are required");
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    if ((rc = oh_st_stmt(st, SQ_DOC_PUT, &s, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, d->channel);
    oh_p_str(st, d->spool_id);
    oh_p_str(st, d->sha256);
    oh_p_str(st, d->source);
    oh_p_str(st, d->format);
    oh_p_str(st, status);
    oh_p_str(st, error);
    if (d->received_at > 0)
        oh_p_time_ms(st, d->received_at);
    else
        oh_p_null(st);
    if ((rc = oh_st_exec(st, s, "record document", NULL, NULL, err)) < 0)
        return rc;
    if (doc_id)
        *doc_id = (int64_t)mysql_stmt_insert_id(s);
    return 0;
}
