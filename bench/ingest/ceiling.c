/*
 * ceiling.c — the fastest plain client we know how to write for the rows
 * orderhub's ingest stores: the benchmark's orders (order_gen.h) written into
 * orderhub's own schema (orders, addresses, order_lines) with prepared
 * multi-row INSERT ... ON DUPLICATE KEY UPDATE statements, B orders per
 * statement and per transaction:
 *
 *   BEGIN
 *   INSERT INTO orders VALUES (B rows) ON DUPLICATE KEY UPDATE ...
 *   SELECT id FROM orders WHERE channel = ? AND external_id IN (B ids)
 *   INSERT INTO addresses VALUES (2B rows) ON DUPLICATE KEY UPDATE ...
 *   INSERT INTO order_lines VALUES (3B rows) ON DUPLICATE KEY UPDATE ...
 *   COMMIT
 *
 * With -m bulk the three INSERTs are one-row statements executed once for
 * all B (2B, 3B) rows through MariaDB's array binding (STMT_ATTR_ARRAY_SIZE),
 * still one round trip each. The bench script runs both and keeps the faster.
 *
 * (The SELECT maps external ids to order ids; relying on consecutive
 * auto-increment values would be one round trip less but wrong as soon as a
 * row already exists). It stores nothing orderhub does not: no documents row,
 * no outbox. Columns that are always NULL for these orders are left out.
 * content_sha256 is the SHA-256 of the order's JSON text.
 *
 *   ceiling -D DATABASE -n N [-s SEED] [-b BATCH] [-m multirow|bulk]
 *           [-S SOCKET] [-u USER] [-p PASSWORD_FILE]
 *
 * SOCKET, USER and PASSWORD_FILE default to $OH_DB_SOCKET, $OH_DB_USER and
 * $OH_DB_PASSWORD_FILE. Prints "ceiling: N orders in T s = R orders/s (MODE,
 * batch B)" and the seconds of each step; T counts the database work only
 * (generating the orders is not timed).
 */
#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "order_gen.h"
#include "util.h"

#define ORDER_COLS 20
#define ADDR_COLS 12
#define LINE_COLS 12
#define MAX_BATCH 1800 /* 3 * MAX_BATCH * LINE_COLS placeholders must stay under 65535 */

static const char order_head[] =
    "INSERT INTO orders (channel, external_id, number, status, placed_at, updated_at, currency, "
    "subtotal, shipping_total, tax_total, discount_total, total, po_number, notes, "
    "customer_external_id, customer_email, customer_name, customer_phone, ship_method, "
    "content_sha256) VALUES ";
static const char order_tail[] =
    " ON DUPLICATE KEY UPDATE number = VALUES(number), status = VALUES(status), "
    "placed_at = VALUES(placed_at), updated_at = VALUES(updated_at), currency = VALUES(currency), "
    "subtotal = VALUES(subtotal), shipping_total = VALUES(shipping_total), "
    "tax_total = VALUES(tax_total), discount_total = VALUES(discount_total), "
    "total = VALUES(total), po_number = VALUES(po_number), notes = VALUES(notes), "
    "customer_external_id = VALUES(customer_external_id), "
    "customer_email = VALUES(customer_email), customer_name = VALUES(customer_name), "
    "customer_phone = VALUES(customer_phone), ship_method = VALUES(ship_method), "
    "content_sha256 = VALUES(content_sha256), modified_at = CURRENT_TIMESTAMP(3)";
static const char addr_head[] =
    "INSERT INTO addresses (order_id, role, name, company, line1, line2, city, region, "
    "postal_code, country, phone, email) VALUES ";
static const char addr_tail[] =
    " ON DUPLICATE KEY UPDATE name = VALUES(name), company = VALUES(company), "
    "line1 = VALUES(line1), line2 = VALUES(line2), city = VALUES(city), region = VALUES(region), "
    "postal_code = VALUES(postal_code), country = VALUES(country), phone = VALUES(phone), "
    "email = VALUES(email)";
static const char line_head[] =
    "INSERT INTO order_lines (order_id, seq, line_no, external_id, sku, gtin, title, qty, uom, "
    "unit_price, tax, discount) VALUES ";
static const char line_tail[] =
    " ON DUPLICATE KEY UPDATE line_no = VALUES(line_no), external_id = VALUES(external_id), "
    "sku = VALUES(sku), gtin = VALUES(gtin), title = VALUES(title), qty = VALUES(qty), "
    "uom = VALUES(uom), unit_price = VALUES(unit_price), tax = VALUES(tax), "
    "discount = VALUES(discount)";

/* The prepared statements for one batch size. */
struct stmts {
    int k;
    MYSQL_STMT *orders, *ids, *addrs, *lines;
};

/* One generated order and the text the statements bind. */
struct row {
    struct bench_order o;
    char placed[32], updated[32], sha[65];
    long long id;
    long long seq[BENCH_LINES], line_no[BENCH_LINES];
};

static int bulk;       /* -m bulk */
static double phase[5]; /* seconds in each step: orders, ids, addresses, lines, commit */

/* The values of one statement, row after row, cell by cell; bound either
 * one placeholder per cell (multi-row statement) or one column array per
 * column (bulk: a one-row statement executed for m rows at once). */
struct binder {
    size_t n, cap;
    const char **sv;   /* text, or NULL for SQL NULL */
    long long *iv;
    char *isint;
    /* bulk: the same cells column by column */
    const char **csv;
    long long *civ;
    char *cind;
    MYSQL_BIND *b;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_db(MYSQL *db, const char *what)
{
    fprintf(stderr, "ceiling: %s: %s\n", what, mysql_error(db));
    exit(1);
}

static void die_stmt(MYSQL_STMT *s, const char *what)
{
    fprintf(stderr, "ceiling: %s: %s\n", what, mysql_stmt_error(s));
    exit(1);
}

/* head + k rows of "(?, ..., ?)" + tail, malloc'd. */
static char *multirow(const char *head, int ncols, int k, const char *tail)
{
    size_t cap = strlen(head) + strlen(tail) + (size_t)k * ((size_t)ncols * 3 + 4) + 1, at;
    char *s = malloc(cap);

    if (!s)
        abort();
    at = (size_t)snprintf(s, cap, "%s", head);
    for (int r = 0; r < k; r++) {
        s[at++] = r ? ',' : '(';
        if (r)
            s[at++] = '(';
        for (int c = 0; c < ncols; c++) {
            if (c)
                s[at++] = ',';
            s[at++] = '?';
        }
        s[at++] = ')';
    }
    snprintf(s + at, cap - at, "%s", tail);
    return s;
}

static MYSQL_STMT *prepare(MYSQL *db, char *sql)
{
    MYSQL_STMT *s = mysql_stmt_init(db);

    if (!s)
        die_db(db, "mysql_stmt_init");
    if (mysql_stmt_prepare(s, sql, strlen(sql)) != 0)
        die_stmt(s, "prepare");
    free(sql);
    return s;
}

static void stmts_prepare(MYSQL *db, int k, struct stmts *st)
{
    static const char ids_head[] =
        "SELECT id FROM orders WHERE channel = ? AND external_id IN (";
    size_t cap = sizeof(ids_head) + (size_t)k * 2 + 32, at;
    char *ids = malloc(cap);

    if (!ids)
        abort();
    at = (size_t)snprintf(ids, cap, "%s", ids_head);
    for (int r = 0; r < k; r++) {
        if (r)
            ids[at++] = ',';
        ids[at++] = '?';
    }
    snprintf(ids + at, cap - at, ") ORDER BY external_id");
    st->k = k;
    st->orders = prepare(db, multirow(order_head, ORDER_COLS, bulk ? 1 : k, order_tail));
    st->ids = prepare(db, ids);
    st->addrs = prepare(db, multirow(addr_head, ADDR_COLS, bulk ? 1 : 2 * k, addr_tail));
    st->lines = prepare(db, multirow(line_head, LINE_COLS, bulk ? 1 : BENCH_LINES * k, line_tail));
}

static void stmts_close(struct stmts *st)
{
    if (st->orders) {
        mysql_stmt_close(st->orders);
        mysql_stmt_close(st->ids);
        mysql_stmt_close(st->addrs);
        mysql_stmt_close(st->lines);
    }
    memset(st, 0, sizeof(*st));
}

static void *grow(void *p, size_t n, size_t size)
{
    void *q = realloc(p, n * size);

    if (!q)
        abort();
    return q;
}

static void b_reset(struct binder *b, size_t need)
{
    if (need > b->cap) {
        b->sv = grow(b->sv, need, sizeof(*b->sv));
        b->iv = grow(b->iv, need, sizeof(*b->iv));
        b->isint = grow(b->isint, need, sizeof(*b->isint));
        b->csv = grow(b->csv, need, sizeof(*b->csv));
        b->civ = grow(b->civ, need, sizeof(*b->civ));
        b->cind = grow(b->cind, need, sizeof(*b->cind));
        b->b = grow(b->b, need, sizeof(*b->b));
        b->cap = need;
    }
    b->n = 0;
}

static void b_str(struct binder *b, const char *s)
{
    b->sv[b->n] = s && *s ? s : NULL; /* empty: an absent optional field */
    b->isint[b->n++] = 0;
}

static void b_i64(struct binder *b, const long long *v)
{
    b->iv[b->n] = *v;
    b->isint[b->n++] = 1;
}

/* Binds the cells as rows of ncols and executes. */
static void run(MYSQL_STMT *s, struct binder *b, int ncols, const char *what)
{
    size_t m = b->n / (size_t)ncols;
    unsigned int asize = (unsigned int)m;

    if (!bulk || ncols == (int)b->n) {
        memset(b->b, 0, b->n * sizeof(*b->b));
        for (size_t i = 0; i < b->n; i++) {
            MYSQL_BIND *x = &b->b[i];
            if (b->isint[i]) {
                x->buffer_type = MYSQL_TYPE_LONGLONG;
                x->buffer = &b->iv[i];
            } else if (!b->sv[i]) {
                x->buffer_type = MYSQL_TYPE_NULL;
            } else {
                x->buffer_type = MYSQL_TYPE_STRING;
                x->buffer = (void *)b->sv[i];
                x->buffer_length = (unsigned long)strlen(b->sv[i]);
            }
        }
    } else {
        memset(b->b, 0, (size_t)ncols * sizeof(*b->b));
        for (int c = 0; c < ncols; c++) {
            MYSQL_BIND *x = &b->b[c];
            size_t base = (size_t)c * m;
            for (size_t r = 0; r < m; r++) {
                size_t cell = r * (size_t)ncols + (size_t)c;
                b->csv[base + r] = b->sv[cell];
                b->civ[base + r] = b->iv[cell];
                b->cind[base + r] = b->isint[cell]  ? STMT_INDICATOR_NONE
                                    : b->sv[cell] ? STMT_INDICATOR_NTS
                                                  : STMT_INDICATOR_NULL;
            }
            x->u.indicator = &b->cind[base];
            if (b->isint[c]) {
                x->buffer_type = MYSQL_TYPE_LONGLONG;
                x->buffer = &b->civ[base];
            } else {
                x->buffer_type = MYSQL_TYPE_STRING;
                x->buffer = (void *)&b->csv[base];
            }
        }
        if (mysql_stmt_attr_set(s, STMT_ATTR_ARRAY_SIZE, &asize) != 0)
            die_stmt(s, what);
    }
    if (mysql_stmt_bind_param(s, b->b) != 0)
        die_stmt(s, what);
    if (mysql_stmt_execute(s) != 0)
        die_stmt(s, what);
}

static void write_batch(MYSQL *db, struct stmts *st, struct row *rows, struct binder *b)
{
    double t = now_s(), t2;
    static const char *const roles[2] = { "bill_to", "ship_to" };
    int k = st->k;
    MYSQL_BIND out;
    long long id = 0;
    int got = 0;

    /* orders */
    b_reset(b, (size_t)k * ORDER_COLS);
    for (int r = 0; r < k; r++) {
        const struct bench_order *o = &rows[r].o;
        b_str(b, BENCH_CHANNEL);
        b_str(b, o->external_id);
        b_str(b, o->number);
        b_str(b, o->status);
        b_str(b, rows[r].placed);
        b_str(b, rows[r].updated);
        b_str(b, o->currency);
        b_str(b, o->subtotal);
        b_str(b, o->shipping_total);
        b_str(b, o->tax_total);
        b_str(b, o->discount_total);
        b_str(b, o->total);
        b_str(b, o->po_number);
        b_str(b, o->notes);
        b_str(b, o->cust_ext);
        b_str(b, o->cust_email);
        b_str(b, o->cust_name);
        b_str(b, o->cust_phone);
        b_str(b, o->ship_method);
        b_str(b, rows[r].sha);
    }
    run(st->orders, b, ORDER_COLS, "insert orders");
    phase[0] += (t2 = now_s()) - t;
    t = t2;

    /* their ids, in external_id order = generation order */
    b_reset(b, (size_t)k + 1);
    b_str(b, BENCH_CHANNEL);
    for (int r = 0; r < k; r++)
        b_str(b, rows[r].o.external_id);
    run(st->ids, b, k + 1, "select order ids");
    memset(&out, 0, sizeof(out));
    out.buffer_type = MYSQL_TYPE_LONGLONG;
    out.buffer = &id;
    if (mysql_stmt_bind_result(st->ids, &out) != 0)
        die_stmt(st->ids, "bind ids");
    while (mysql_stmt_fetch(st->ids) == 0) {
        if (got < k)
            rows[got].id = id;
        got++;
    }
    mysql_stmt_free_result(st->ids);
    if (got != k) {
        fprintf(stderr, "ceiling: expected %d order ids, got %d\n", k, got);
        exit(1);
    }
    phase[1] += (t2 = now_s()) - t;
    t = t2;

    /* addresses */
    b_reset(b, (size_t)k * 2 * ADDR_COLS);
    for (int r = 0; r < k; r++) {
        for (int a = 0; a < 2; a++) {
            const struct bench_addr *ad = a ? &rows[r].o.ship_to : &rows[r].o.bill_to;
            b_i64(b, &rows[r].id);
            b_str(b, roles[a]);
            b_str(b, ad->name);
            b_str(b, ad->company);
            b_str(b, ad->line1);
            b_str(b, ad->line2);
            b_str(b, ad->city);
            b_str(b, ad->region);
            b_str(b, ad->postal_code);
            b_str(b, ad->country);
            b_str(b, ad->phone);
            b_str(b, ad->email);
        }
    }
    run(st->addrs, b, ADDR_COLS, "insert addresses");
    phase[2] += (t2 = now_s()) - t;
    t = t2;

    /* lines */
    b_reset(b, (size_t)k * BENCH_LINES * LINE_COLS);
    for (int r = 0; r < k; r++) {
        for (int l = 0; l < BENCH_LINES; l++) {
            const struct bench_line *ln = &rows[r].o.lines[l];
            b_i64(b, &rows[r].id);
            b_i64(b, &rows[r].seq[l]);
            b_i64(b, &rows[r].line_no[l]);
            b_str(b, ln->external_id);
            b_str(b, ln->sku);
            b_str(b, ln->gtin);
            b_str(b, ln->title);
            b_str(b, ln->qty);
            b_str(b, ln->uom);
            b_str(b, ln->unit_price);
            b_str(b, ln->tax);
            b_str(b, ln->discount);
        }
    }
    run(st->lines, b, LINE_COLS, "insert order lines");
    phase[3] += (t2 = now_s()) - t;
    t = t2;

    if (mysql_commit(db) != 0)
        die_db(db, "commit");
    phase[4] += now_s() - t;
}

static void usage(void)
{
    fprintf(stderr, "usage: ceiling -D DATABASE -n N [-s SEED] [-b BATCH] [-S SOCKET] [-u USER] "
                    "[-p PASSWORD_FILE] [-m multirow|bulk]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dbname = NULL, *sock = getenv("OH_DB_SOCKET"), *user = getenv("OH_DB_USER");
    const char *pwfile = getenv("OH_DB_PASSWORD_FILE");
    long long n = -1, seed = 1, batch = 500;
    char pw[256] = "", json[8192];
    struct stmts full = { 0 }, tail = { 0 };
    struct binder b = { 0 };
    struct row *rows;
    double db_s = 0, gen_s = 0;
    MYSQL *db;
    FILE *f;
    int c;

    while ((c = getopt(argc, argv, "D:n:s:b:S:u:p:m:")) != -1) {
        switch (c) {
        case 'D': dbname = optarg; break;
        case 'n': n = atoll(optarg); break;
        case 's': seed = atoll(optarg); break;
        case 'b': batch = atoll(optarg); break;
        case 'S': sock = optarg; break;
        case 'u': user = optarg; break;
        case 'p': pwfile = optarg; break;
        case 'm':
            if (strcmp(optarg, "bulk") == 0)
                bulk = 1;
            else if (strcmp(optarg, "multirow") != 0)
                usage();
            break;
        default: usage();
        }
    }
    if (!dbname || n < 0 || seed < 0 || batch < 1 || batch > MAX_BATCH || !sock || !user)
        usage();
    if (pwfile) {
        if (!(f = fopen(pwfile, "r"))) {
            perror(pwfile);
            return 1;
        }
        if (!fgets(pw, sizeof(pw), f))
            pw[0] = '\0';
        fclose(f);
        pw[strcspn(pw, "\r\n")] = '\0';
    }

    if (!(db = mysql_init(NULL)))
        abort();
    if (!mysql_real_connect(db, NULL, user, pw, dbname, 0, sock, 0))
        die_db(db, "connect");
    memset(pw, 0, sizeof(pw));
    if (mysql_set_character_set(db, "utf8mb4") != 0 ||
        mysql_query(db, "SET time_zone = '+00:00'") != 0 || mysql_autocommit(db, 0) != 0)
        die_db(db, "session setup");
    if (!(rows = calloc((size_t)batch, sizeof(*rows))))
        abort();
    stmts_prepare(db, (int)batch, &full);

    for (long long at = 0; at < n; at += batch) {
        int k = (int)(n - at < batch ? n - at : batch);
        struct stmts *st = &full;
        double t0 = now_s(), t1;

        for (int r = 0; r < k; r++) {
            struct row *w = &rows[r];
            size_t len;

            bench_order_make((uint64_t)seed, (uint64_t)(at + r), &w->o);
            bench_time_sql(w->o.placed_at, w->placed);
            bench_time_sql(w->o.updated_at, w->updated);
            if (!(len = bench_order_json(&w->o, json, sizeof(json))))
                abort();
            oh_sha256_hex(json, len, w->sha);
            for (int l = 0; l < BENCH_LINES; l++) {
                w->seq[l] = l;
                w->line_no[l] = w->o.lines[l].line_no;
            }
        }
        if (k != batch) {
            stmts_prepare(db, k, &tail);
            st = &tail;
        }
        t1 = now_s();
        write_batch(db, st, rows, &b);
        db_s += now_s() - t1;
        gen_s += t1 - t0;
        stmts_close(&tail);
    }
    printf("ceiling: %lld orders in %.3f s = %.0f orders/s (%s, batch %lld; generating them "
           "took %.3f s more)\n",
           n, db_s, db_s > 0 ? (double)n / db_s : 0.0, bulk ? "bulk" : "multirow", batch, gen_s);
    printf("ceiling: steps (s): orders %.3f, ids %.3f, addresses %.3f, lines %.3f, commit %.3f\n",
           phase[0], phase[1], phase[2], phase[3], phase[4]);
    stmts_close(&full);
    free(rows);
    free(b.b);
    free(b.sv);
    free(b.iv);
    free(b.isint);
    free(b.csv);
    free(b.civ);
    free(b.cind);
    mysql_close(db);
    return 0;
}
