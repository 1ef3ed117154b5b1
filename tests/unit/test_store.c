/*
 * test_store.c — the store against a real MariaDB server (no mocks).
 *
 * Needs OH_DB_SOCKET (or OH_DB_HOST + OH_DB_PORT), OH_DB_USER and
 * OH_DB_PASSWORD_FILE in the environment (scripts/mariadb env prints them;
 * scripts/test starts the server). Without them the suite FAILS: a store
 * test that silently skips proves nothing.
 *
 * Each run creates its own database orderhub_test_<pid>_<random>, migrates
 * it and drops it at the end. Checks cite store.h (T1-T6) and the outbox
 * invariants of store_outbox.c (O1-O3).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util.h"

#define TESTDB_NAME "store"
#include "store_testdb.h"

/* ---- helpers ------------------------------------------------------------------------ */

static void raw_exec(MYSQL *m, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (mysql_query(m, sql) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
}

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (!j)
        fail_msg("bad test JSON: %s (line %d)", je.text, je.line);
    return j;
}

static int upsert(struct oh_store *st, const char *channel, json_t *order,
                  struct oh_upsert_result *res, struct oh_err *err)
{
    char *text = json_dumps(order, JSON_COMPACT | JSON_SORT_KEYS);
    char sha[65];
    int rc;

    oh_sha256_hex(text, strlen(text), sha);
    free(text);
    rc = oh_store_upsert_order(st, channel, order, sha, 0, res, err);
    return rc;
}

static void expect_order(struct oh_store *st, const char *channel, const char *ext,
                         const json_t *want)
{
    json_t *got = NULL;
    struct oh_err err = { 0 };
    int rc = oh_store_order_get(st, channel, ext, &got, &err);

    if (rc != 0)
        fail_msg("order_get %s/%s: %s", channel, ext, err.msg);
    if (!json_equal(got, (json_t *)want)) {
        char *a = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
        char *b = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", a, b);
        free(a);
        free(b);
        json_decref(got);
        fail_msg("order %s/%s does not round-trip", channel, ext);
    }
    json_decref(got);
}

static long long order_id_of(const char *channel, const char *ext)
{
    return raw_int("SELECT id FROM orders WHERE channel = '%s' AND external_id = '%s'", channel,
                   ext);
}

static const char ORDER_V1[] =
    "{\"channel\": \"shop-a\", \"external_id\": \"1001\", \"number\": \"#1001\","
    " \"status\": \"pending\", \"placed_at\": \"2026-11-23T09:30:00Z\","
    " \"updated_at\": \"2026-11-23T09:31:00.123Z\", \"currency\": \"EUR\","
    " \"subtotal\": \"39.80\", \"shipping_total\": \"4.90\", \"tax_total\": \"7.56\","
    " \"discount_total\": \"0.00\", \"total\": \"44.70\", \"po_number\": \"PO-77\","
    " \"notes\": \"leave at the door \\u00e9\", \"tags\": [\"vip\", \"gift\"],"
    " \"customer\": {\"external_id\": \"c-9\", \"email\": \"ann@example.com\","
    "   \"name\": \"Ann Example\", \"phone\": \"+49 30 1234\"},"
    " \"bill_to\": {\"name\": \"Ann Example\", \"line1\": \"Hauptstr. 1\", \"city\": \"Berlin\","
    "   \"postal_code\": \"10115\", \"country\": \"DE\"},"
    " \"ship_to\": {\"name\": \"Ann Example\", \"company\": \"ACME GmbH\","
    "   \"line1\": \"Lagerweg 5\", \"line2\": \"Tor 3\", \"city\": \"Hamburg\","
    "   \"region\": \"HH\", \"postal_code\": \"20095\", \"country\": \"DE\","
    "   \"phone\": \"+49 40 1\", \"email\": \"dock@example.com\"},"
    " \"ship_method\": \"standard\", \"ship_by\": \"2026-11-24T17:00:00Z\","
    " \"deliver_by\": \"2026-11-26T00:00:00Z\","
    " \"partner\": {\"sender_id\": \"ACME\", \"receiver_id\": \"HUB\"},"
    " \"lines\": ["
    "  {\"line_no\": 1, \"external_id\": \"l1\", \"sku\": \"SKU-1\", \"gtin\": \"4006381333931\","
    "   \"title\": \"Mug\", \"qty\": \"2\", \"uom\": \"EA\", \"unit_price\": \"9.95\","
    "   \"tax\": \"3.78\", \"discount\": \"0.00\"},"
    "  {\"line_no\": 2, \"sku\": \"SKU-2\", \"title\": \"Tea\", \"qty\": \"1.5\","
    "   \"unit_price\": \"13.2667\"}"
    " ]}";

/* ---- setup -------------------------------------------------------------------------- */

/* ---- migrations ---------------------------------------------------------------------- */

static void test_migrate_twice_is_noop(void **state)
{
    struct oh_err err = { 0 };
    int applied = -1;
    long long before = raw_int("SELECT COUNT(*) FROM schema_migrations");

    (void)state;
    assert_true(before >= 1);
    assert_int_equal(oh_store_migrate(g.st, &applied, &err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM schema_migrations"), before);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM schema_migrations WHERE version = 1"), 1);
}

/* ---- T3: upsert ------------------------------------------------------------------------ */

static void test_insert_roundtrip_unchanged(void **state)
{
    json_t *o = load(ORDER_V1);
    struct oh_upsert_result res;
    struct oh_err err = { 0 };

    (void)state;
    assert_int_equal(upsert(g.st, "shop-a", o, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_INSERTED);
    assert_true(res.order_id > 0);
    assert_string_equal(res.old_status, "");
    assert_string_equal(res.new_status, "pending");
    expect_order(g.st, "shop-a", "1001", o);

    /* T6: exact decimals in the table. */
    assert_int_equal(raw_int("SELECT total = 44.7000 AND subtotal = '39.8000' FROM orders "
                             "WHERE id = %lld", (long long)res.order_id), 1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines WHERE order_id = %lld AND "
                             "unit_price = 13.2667 AND qty = 1.5",
                             (long long)res.order_id), 1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines WHERE order_id = %lld",
                             (long long)res.order_id), 2);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM addresses WHERE order_id = %lld",
                             (long long)res.order_id), 2);

    /* The same canonical order again: nothing changes. */
    int64_t id = res.order_id;
    long long mod_before = raw_int("SELECT UNIX_TIMESTAMP(modified_at) * 1000 FROM orders "
                                   "WHERE id = %lld", (long long)id);
    assert_int_equal(upsert(g.st, "shop-a", o, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_UNCHANGED);
    assert_int_equal(res.order_id, id);
    assert_string_equal(res.old_status, "pending");
    assert_string_equal(res.new_status, "pending");
    assert_int_equal(raw_int("SELECT UNIX_TIMESTAMP(modified_at) * 1000 FROM orders WHERE id = "
                             "%lld", (long long)id), mod_before);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'shop-a'"), 1);

    /* get_by_id finds the same order. */
    json_t *byid = NULL;
    assert_int_equal(oh_store_order_get_by_id(g.st, id, &byid, &err), 0);
    assert_true(json_equal(byid, o));
    json_decref(byid);
    json_decref(o);
}

static void test_normalisation(void **state)
{
    /* Integers for money/qty, an offset time, a bare date, no line_no. */
    json_t *o = load("{\"external_id\": \"n-1\", \"channel\": \"ignored\","
                     " \"placed_at\": \"2026-11-23T11:30:00+02:00\","
                     " \"updated_at\": \"2026-11-23T09:30:00.5Z\", \"ship_by\": \"2026-12-01\","
                     " \"total\": 5, \"subtotal\": \"0.125\", \"tax_total\": \"-1.10\","
                     " \"lines\": [{\"sku\": \"A\", \"qty\": 3}, {\"sku\": \"B\", \"qty\": \"2.50\"}]}");
    json_t *want = load("{\"external_id\": \"n-1\", \"channel\": \"shop-n\","
                        " \"status\": \"pending\", \"placed_at\": \"2026-11-23T09:30:00Z\","
                        " \"updated_at\": \"2026-11-23T09:30:00.500Z\","
                        " \"ship_by\": \"2026-12-01T00:00:00Z\","
                        " \"total\": \"5.00\", \"subtotal\": \"0.125\", \"tax_total\": \"-1.10\","
                        " \"lines\": [{\"line_no\": 1, \"sku\": \"A\", \"qty\": \"3\"},"
                        "  {\"line_no\": 2, \"sku\": \"B\", \"qty\": \"2.5\"}]}");
    struct oh_upsert_result res;
    struct oh_err err = { 0 };

    (void)state;
    assert_int_equal(upsert(g.st, "shop-n", o, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_INSERTED);
    expect_order(g.st, "shop-n", "n-1", want);
    json_decref(o);
    json_decref(want);
}

static void test_update_replaces_children_and_stale(void **state)
{
    json_t *v1 = load(ORDER_V1), *v2 = load(ORDER_V1), *old = load(ORDER_V1);
    struct oh_upsert_result res;
    struct oh_err err = { 0 };
    int64_t id;

    (void)state;
    assert_int_equal(upsert(g.st, "shop-u", v1, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_INSERTED);
    id = res.order_id;

    /* Newer: three lines, only ship_to, another total. */
    json_object_set_new(v2, "updated_at", json_string("2026-11-23T10:00:00Z"));
    json_object_set_new(v2, "total", json_string("99.99"));
    json_object_set_new(v2, "status", json_string("cancelled"));
    json_object_del(v2, "bill_to");
    json_object_set_new(v2, "lines",
                        load("[{\"line_no\": 1, \"sku\": \"X\", \"qty\": \"1\"},"
                             " {\"line_no\": 2, \"sku\": \"Y\", \"qty\": \"2\"},"
                             " {\"line_no\": 3, \"sku\": \"Z\", \"qty\": \"3\"}]"));
    json_object_set_new(v2, "channel", json_string("shop-u"));
    assert_int_equal(upsert(g.st, "shop-u", v2, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_UPDATED);
    assert_int_equal(res.order_id, id);
    assert_string_equal(res.old_status, "pending");
    assert_string_equal(res.new_status, "cancelled");
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines WHERE order_id = %lld",
                             (long long)id), 3);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM addresses WHERE order_id = %lld",
                             (long long)id), 1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM addresses WHERE order_id = %lld AND "
                             "role = 'ship_to'", (long long)id), 1);
    expect_order(g.st, "shop-u", "1001", v2);

    /* Older (different content): STALE, nothing written. */
    json_object_set_new(old, "updated_at", json_string("2026-11-23T09:00:00Z"));
    json_object_set_new(old, "total", json_string("1.00"));
    assert_int_equal(upsert(g.st, "shop-u", old, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_STALE);
    assert_string_equal(res.old_status, "cancelled");
    assert_string_equal(res.new_status, "cancelled");
    expect_order(g.st, "shop-u", "1001", v2);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines WHERE order_id = %lld",
                             (long long)id), 3);

    /* Equal updated_at, different content: UPDATED (T3). */
    json_object_set_new(v2, "notes", json_string("changed at the same instant"));
    assert_int_equal(upsert(g.st, "shop-u", v2, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_UPDATED);
    expect_order(g.st, "shop-u", "1001", v2);

    json_decref(v1);
    json_decref(v2);
    json_decref(old);
}

static void test_missing_status_keeps_stored(void **state)
{
    json_t *o = load("{\"external_id\": \"s-1\", \"updated_at\": \"2026-11-23T09:00:00Z\"}");
    struct oh_upsert_result res;
    struct oh_err err = { 0 };
    char old[32];

    (void)state;
    assert_int_equal(upsert(g.st, "shop-s", o, &res, &err), 0);
    assert_string_equal(res.new_status, "pending");
    assert_int_equal(oh_store_order_set_status(g.st, res.order_id, "accepted", old, &err), 0);
    assert_string_equal(old, "pending");
    json_object_set_new(o, "updated_at", json_string("2026-11-23T10:00:00Z"));
    assert_int_equal(upsert(g.st, "shop-s", o, &res, &err), 0);
    assert_int_equal(res.what, OH_UPSERT_UPDATED);
    assert_string_equal(res.old_status, "accepted");
    assert_string_equal(res.new_status, "accepted");
    assert_int_equal(raw_int("SELECT status = 'accepted' FROM orders WHERE id = %lld",
                             (long long)res.order_id), 1);
    json_decref(o);
}

static void test_upsert_rejects_bad_input(void **state)
{
    struct oh_upsert_result res;
    struct oh_err err = { 0 };
    static const char *const bad[] = {
        "{\"external_id\": \"b-1\", \"total\": 19.9}",                  /* a double (T6) */
        "{\"external_id\": \"b-2\", \"total\": \"19.90.1\"}",
        "{\"external_id\": \"b-3\", \"total\": \"1.23456\"}",           /* would lose a digit */
        "{\"external_id\": \"b-4\", \"placed_at\": \"2026-02-30T00:00:00Z\"}",
        "{\"external_id\": \"b-5\", \"placed_at\": \"2026-11-23T09:30:00\"}", /* no zone */
        "{\"number\": \"no external id\"}",
        "{\"external_id\": \"b-7\", \"lines\": [{\"sku\": \"A\"}]}",   /* line without qty */
        "{\"external_id\": \"b-8\", \"tags\": \"vip\"}",
        "{\"external_id\": \"b-9\", \"currency\": \"EURO\"}",          /* too long for CHAR(3) */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *o = load(bad[i]);
        int rc = upsert(g.st, "shop-bad", o, &res, &err);
        if (rc != OH_EINVAL)
            fail_msg("case %zu (%s): rc %d, want OH_EINVAL (%s)", i, bad[i], rc, err.msg);
        assert_int_equal(err.retryable, 0);
        json_decref(o);
    }
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'shop-bad'"), 0);
}

/* ---- T4: transactions and savepoints ------------------------------------------------------ */

static int upsert_ext(struct oh_store *st, const char *channel, const char *ext)
{
    json_t *o = load("{\"lines\": [{\"sku\": \"A\", \"qty\": \"1\"}]}");
    struct oh_upsert_result res;
    struct oh_err err = { 0 };
    int rc;

    json_object_set_new(o, "external_id", json_string(ext));
    rc = upsert(st, channel, o, &res, &err);
    json_decref(o);
    return rc;
}

static void test_savepoint_keeps_neighbours(void **state)
{
    struct oh_err err = { 0 };

    (void)state;
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_int_equal(oh_store_savepoint(g.st, &err), 0);
    assert_int_equal(upsert_ext(g.st, "shop-t", "A"), 0);
    assert_int_equal(oh_store_release_savepoint(g.st, &err), 0);
    assert_int_equal(oh_store_savepoint(g.st, &err), 0);
    assert_int_equal(upsert_ext(g.st, "shop-t", "B"), 0);
    assert_int_equal(oh_store_rollback_savepoint(g.st, &err), 0);
    assert_int_equal(oh_store_savepoint(g.st, &err), 0);
    assert_int_equal(upsert_ext(g.st, "shop-t", "C"), 0);
    assert_int_equal(oh_store_release_savepoint(g.st, &err), 0);
    /* Nothing is visible to another connection before commit. */
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'shop-t'"), 0);
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    assert_true(order_id_of("shop-t", "A") > 0);
    assert_int_equal(order_id_of("shop-t", "B"), -1);
    assert_true(order_id_of("shop-t", "C") > 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'shop-t'"), 2);

    /* A rolled-back transaction leaves nothing. */
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_int_equal(upsert_ext(g.st, "shop-t", "D"), 0);
    int64_t out = 0;
    assert_int_equal(oh_store_outbox_add(g.st, "order.created", "erp", "shop-t", 0, "{}", &out,
                                         &err), 0);
    oh_store_rollback(g.st);
    assert_int_equal(order_id_of("shop-t", "D"), -1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM outbox WHERE id = %lld", (long long)out), 0);
}

/* ---- documents, channels, audit ---------------------------------------------------------- */

static void test_documents_channels_audit(void **state)
{
    struct oh_err err = { 0 };
    struct oh_store_doc d = { .channel = "shop-d", .spool_id = "sp-1", .sha256 = "ab",
                              .source = "orders/1.json", .format = "json",
                              .received_at = 1795426200123LL };
    int64_t id1 = 0, id2 = 0, id3 = 0;

    (void)state;
    assert_int_equal(oh_store_document_put(g.st, &d, "stored", NULL, &id1, &err), 0);
    assert_true(id1 > 0);
    assert_int_equal(oh_store_document_put(g.st, &d, "dead", "bad total", &id2, &err), 0);
    assert_int_equal(id2, id1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM documents WHERE id = %lld AND status = 'dead' "
                             "AND error = 'bad total' AND received_at = "
                             "'2026-11-23 09:30:00.123'", (long long)id1), 1);
    d.spool_id = "sp-2";
    assert_int_equal(oh_store_document_put(g.st, &d, "stored", NULL, &id3, &err), 0);
    assert_true(id3 != id1);

    assert_int_equal(oh_store_channel_ensure(g.st, "shop-d", "shopify", &err), 0);
    assert_int_equal(oh_store_channel_ensure(g.st, "shop-d", "woocommerce", &err), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM channels WHERE name = 'shop-d' AND "
                             "type = 'woocommerce'"), 1);
    assert_int_equal(oh_store_audit(g.st, "cli", "outbox.retry", "id=7", &err), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM audit_log WHERE actor = 'cli' AND "
                             "action = 'outbox.retry' AND detail = 'id=7'"), 1);
}

/* ---- orders list and status ---------------------------------------------------------------- */

static void test_orders_list_and_status(void **state)
{
    struct oh_err err = { 0 };
    struct oh_upsert_result res;
    json_t *list = NULL, *a = load("{\"external_id\": \"L-old\", \"total\": \"1.5\","
                                   " \"placed_at\": \"2026-01-01T00:00:00Z\","
                                   " \"lines\": [{\"sku\": \"A\", \"qty\": \"1\"}]}");
    json_t *b = load("{\"external_id\": \"L-new\", \"placed_at\": \"2026-06-01T00:00:00Z\"}");
    char old[32];
    int64_t id;

    (void)state;
    assert_int_equal(upsert(g.st, "shop-l", a, &res, &err), 0);
    id = res.order_id;
    assert_int_equal(upsert(g.st, "shop-l", b, &res, &err), 0);
    assert_int_equal(oh_store_orders_list(g.st, "shop-l", 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0),
                                                          "external_id")), "L-new");
    json_t *first = json_array_get(list, 1);
    assert_int_equal(json_integer_value(json_object_get(first, "id")), id);
    assert_string_equal(json_string_value(json_object_get(first, "total")), "1.50");
    assert_int_equal(json_integer_value(json_object_get(first, "lines")), 1);
    assert_string_equal(json_string_value(json_object_get(first, "placed_at")),
                        "2026-01-01T00:00:00Z");
    json_decref(list);
    assert_int_equal(oh_store_orders_list(g.st, "shop-l", 1, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(oh_store_orders_list(g.st, NULL, 1000, &list, &err), 0);
    assert_true(json_array_size(list) >= 2);
    json_decref(list);

    assert_int_equal(oh_store_order_set_status(g.st, id, "released", old, &err), 0);
    assert_string_equal(old, "pending");
    assert_int_equal(oh_store_order_set_status(g.st, id, "accepted", old, &err), OH_EINVAL);
    assert_string_equal(old, "released");
    assert_int_equal(oh_store_order_set_status(g.st, id, "on_hold", old, &err), 0);
    assert_int_equal(oh_store_order_set_status(g.st, id, "released", old, &err), 0);
    assert_int_equal(oh_store_order_set_status(g.st, id, "shipped", old, &err), 0);
    /* invoicing is a side step after acceptance: back to the main line after */
    assert_int_equal(oh_store_order_set_status(g.st, id, "invoiced", old, &err), 0);
    assert_int_equal(oh_store_order_set_status(g.st, id, "pending", old, &err), OH_EINVAL);
    assert_int_equal(oh_store_order_set_status(g.st, id, "on_hold", old, &err), OH_EINVAL);
    assert_int_equal(oh_store_order_set_status(g.st, id, "delivered", old, &err), 0);
    assert_string_equal(old, "invoiced");
    assert_int_equal(oh_store_order_set_status(g.st, id, "cancelled", old, &err), OH_EINVAL);
    assert_int_equal(oh_store_order_set_status(g.st, id, "returned", old, &err), 0);
    assert_int_equal(oh_store_order_set_status(g.st, id, "bogus", old, &err), OH_EINVAL);
    assert_int_equal(oh_store_order_set_status(g.st, 987654321, "accepted", old, &err),
                     OH_ENOTFOUND);
    assert_int_equal(raw_int("SELECT status = 'returned' FROM orders WHERE id = %lld",
                             (long long)id), 1);

    json_t *none = NULL;
    assert_int_equal(oh_store_order_get(g.st, "shop-l", "nope", &none, &err), OH_ENOTFOUND);
    assert_null(none);
    assert_int_equal(oh_store_order_get_by_id(g.st, 987654321, &none, &err), OH_ENOTFOUND);
    json_decref(a);
    json_decref(b);
}

/* ---- outbox --------------------------------------------------------------------------- */

static void clear_outbox(void)
{
    MYSQL *m = raw_connect(g.db);
    assert_non_null(m);
    raw_exec(m, "DELETE FROM outbox");
    mysql_close(m);
}

static int64_t add_row(struct oh_store *st, const char *payload)
{
    struct oh_err err = { 0 };
    int64_t id = 0;

    if (oh_store_outbox_add(st, "order.created", "erp-main", "shop-a", 42, payload, &id, &err) != 0)
        fail_msg("outbox_add: %s", err.msg);
    return id;
}

static void test_outbox_lifecycle(void **state)
{
    struct oh_err err = { 0 };
    struct oh_outbox_msg *m = NULL;
    size_t n = 0;
    int dead = -1;
    int64_t a, b, c;

    (void)state;
    clear_outbox();
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    a = add_row(g.st, "{\"n\": 1}");
    b = add_row(g.st, "{\"n\": 2}");
    c = add_row(g.st, "{\"n\": 3}");
    assert_int_equal(oh_store_commit(g.st, &err), 0);

    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 2, &m, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(m[0].id, a);
    assert_int_equal(m[1].id, b);
    assert_string_equal(m[0].payload, "{\"n\": 1}");
    assert_int_equal(m[0].payload_len, strlen("{\"n\": 1}"));
    assert_string_equal(m[0].event, "order.created");
    assert_string_equal(m[0].target, "erp-main");
    assert_string_equal(m[0].origin, "shop-a");
    assert_int_equal(m[0].order_id, 42);
    assert_int_equal(m[0].attempts, 0);
    assert_null(m[0].body);
    oh_outbox_msgs_free(m, n);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM outbox WHERE state = 'leased' AND "
                             "lease_owner = 'w1' AND lease_until > NOW(3)"), 2);

    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].id, c);
    oh_outbox_msgs_free(m, n);
    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(m);

    /* done */
    assert_int_equal(oh_store_outbox_done(g.st, a, &err), 0);
    assert_int_equal(raw_int("SELECT state = 'done' AND done_at IS NOT NULL FROM outbox "
                             "WHERE id = %lld", (long long)a), 1);

    /* retryable failure: pending again, later (O3: attempts counts failures) */
    assert_int_equal(oh_store_outbox_fail(g.st, b, 1, "HTTP 503", 3, 60000, &dead, &err), 0);
    assert_int_equal(dead, 0);
    assert_int_equal(raw_int("SELECT state = 'pending' AND attempts = 1 AND last_error = "
                             "'HTTP 503' AND next_attempt_at > NOW(3) + INTERVAL 50 SECOND "
                             "FROM outbox WHERE id = %lld", (long long)b), 1);
    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 0); /* not due yet */

    /* due again at once, leased, fails past max attempts -> dead */
    assert_int_equal(oh_store_outbox_fail(g.st, b, 1, "HTTP 503", 3, 0, &dead, &err), 0);
    assert_int_equal(dead, 0);
    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].id, b);
    assert_int_equal(m[0].attempts, 2);
    oh_outbox_msgs_free(m, n);
    assert_int_equal(oh_store_outbox_fail(g.st, b, 1, "HTTP 503", 3, 0, &dead, &err), 0);
    assert_int_equal(dead, 1);
    assert_int_equal(raw_int("SELECT state = 'dead' AND attempts = 3 FROM outbox WHERE id = "
                             "%lld", (long long)b), 1);

    /* permanent failure: dead at once */
    assert_int_equal(oh_store_outbox_fail(g.st, c, 0, "HTTP 400 bad address", 10, 0, &dead,
                                          &err), 0);
    assert_int_equal(dead, 1);

    /* list */
    json_t *list = NULL;
    assert_int_equal(oh_store_outbox_list(g.st, "dead", 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    json_t *r0 = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(r0, "id")), b);
    assert_string_equal(json_string_value(json_object_get(r0, "state")), "dead");
    assert_int_equal(json_integer_value(json_object_get(r0, "attempts")), 3);
    assert_int_equal(json_integer_value(json_object_get(r0, "order_id")), 42);
    assert_string_equal(json_string_value(json_object_get(r0, "last_error")), "HTTP 503");
    assert_non_null(json_string_value(json_object_get(r0, "next_attempt_at")));
    json_decref(list);
    assert_int_equal(oh_store_outbox_list(g.st, NULL, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);

    /* operator retry: pending, attempts reset, leased again */
    assert_int_equal(oh_store_outbox_retry(g.st, c, &err), 0);
    assert_int_equal(oh_store_outbox_retry(g.st, a, &err), OH_ENOTFOUND); /* done stays done */
    assert_int_equal(oh_store_outbox_lease(g.st, "w2", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].id, c);
    assert_int_equal(m[0].attempts, 0);
    oh_outbox_msgs_free(m, n);
    assert_int_equal(oh_store_outbox_done(g.st, 987654321, &err), OH_ENOTFOUND);
    assert_int_equal(oh_store_outbox_fail(g.st, 987654321, 1, "x", 3, 0, &dead, &err),
                     OH_ENOTFOUND);
}

static void test_outbox_expired_lease_released(void **state)
{
    struct oh_err err = { 0 };
    struct oh_outbox_msg *m = NULL;
    size_t n = 0;
    int64_t a;
    int64_t deadline;

    (void)state;
    clear_outbox();
    a = add_row(g.st, "{}");
    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 200, 10, &m, &n, &err), 0);
    assert_int_equal(n, 1);
    oh_outbox_msgs_free(m, n);
    /* O2: another worker gets it only once the lease ran out. */
    assert_int_equal(oh_store_outbox_lease(g.st, "w2", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 0);
    deadline = oh_mono_ms() + 10000;
    do {
        usleep(50 * 1000);
        assert_int_equal(oh_store_outbox_lease(g.st, "w2", 60000, 10, &m, &n, &err), 0);
    } while (n == 0 && oh_mono_ms() < deadline);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].id, a);
    oh_outbox_msgs_free(m, n);
    assert_int_equal(raw_int("SELECT lease_owner = 'w2' FROM outbox WHERE id = %lld",
                             (long long)a), 1);
}

static void test_outbox_skip_locked(void **state)
{
    struct oh_err err = { 0 };
    struct oh_outbox_msg *m = NULL;
    size_t n = 0;
    int64_t ids[5];
    MYSQL *locker;

    (void)state;
    clear_outbox();
    for (int i = 0; i < 5; i++)
        ids[i] = add_row(g.st, "{}");
    /* Another session holds row 0 and row 3 locked. */
    locker = raw_connect(g.db);
    assert_non_null(locker);
    /* READ COMMITTED and point lookups: exactly these two rows are locked
     * (a REPEATABLE READ scan would keep every row it looked at). */
    raw_exec(locker, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    raw_exec(locker, "START TRANSACTION");
    raw_exec(locker, "SELECT id FROM outbox WHERE id = %lld FOR UPDATE", (long long)ids[0]);
    raw_exec(locker, "SELECT id FROM outbox WHERE id = %lld FOR UPDATE", (long long)ids[3]);
    int64_t t0 = oh_mono_ms();
    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 10, &m, &n, &err), 0);
    /* O1: skipped, not waited for (the lock wait timeout is many seconds). */
    assert_true(oh_mono_ms() - t0 < 5000);
    assert_int_equal(n, 3);
    assert_int_equal(m[0].id, ids[1]);
    assert_int_equal(m[1].id, ids[2]);
    assert_int_equal(m[2].id, ids[4]);
    oh_outbox_msgs_free(m, n);
    raw_exec(locker, "ROLLBACK");
    mysql_close(locker);
    assert_int_equal(oh_store_outbox_lease(g.st, "w1", 60000, 10, &m, &n, &err), 0);
    assert_int_equal(n, 2);
    oh_outbox_msgs_free(m, n);
}

#define CONC_ROWS 300
#define CONC_WORKERS 4

struct worker {
    char owner[16];
    int64_t ids[CONC_ROWS];
    size_t n;
    int rc;
    char msg[1024];
};

static void *lease_worker(void *arg)
{
    struct worker *w = arg;
    struct oh_store_conf c = {
        .host = g.host, .port = g.port, .socket = g.socket,
        .user = g.user, .password = g.password, .database = g.db,
    };
    struct oh_store *st = NULL;
    struct oh_err err = { 0 };
    int empty = 0;

    if ((w->rc = oh_store_open(&c, &st, &err)) != 0)
        goto done;
    while (empty < 3) {
        struct oh_outbox_msg *m = NULL;
        size_t n = 0;

        w->rc = oh_store_outbox_lease(st, w->owner, 600000, 7, &m, &n, &err);
        if (w->rc == OH_EAGAIN)
            continue; /* a deadlock between leasers is allowed; the rows are not lost */
        if (w->rc != 0)
            goto done;
        empty = n == 0 ? empty + 1 : 0;
        for (size_t i = 0; i < n && w->n < CONC_ROWS; i++)
            w->ids[w->n++] = m[i].id;
        oh_outbox_msgs_free(m, n);
    }
done:
    snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
    oh_store_free(st);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_outbox_concurrent_leasers(void **state)
{
    struct oh_err err = { 0 };
    static struct worker w[CONC_WORKERS];
    pthread_t th[CONC_WORKERS];
    static int64_t all[CONC_ROWS * CONC_WORKERS];
    size_t total = 0;

    (void)state;
    clear_outbox();
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    for (int i = 0; i < CONC_ROWS; i++)
        add_row(g.st, "{}");
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    for (int i = 0; i < CONC_WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        snprintf(w[i].owner, sizeof(w[i].owner), "w%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, lease_worker, &w[i]), 0);
    }
    for (int i = 0; i < CONC_WORKERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < CONC_WORKERS; i++) {
        if (w[i].rc != 0)
            fail_msg("worker %d: rc %d: %s", i, w[i].rc, w[i].msg);
        memcpy(all + total, w[i].ids, w[i].n * sizeof(int64_t));
        total += w[i].n;
    }
    /* O1: every row handed out exactly once. */
    assert_int_equal(total, CONC_ROWS);
    qsort(all, total, sizeof(all[0]), cmp_i64);
    for (size_t i = 1; i < total; i++)
        if (all[i] == all[i - 1])
            fail_msg("outbox row %lld leased twice", (long long)all[i]);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM outbox WHERE state = 'leased'"), CONC_ROWS);
}

/* ---- cursors, seen keys, named leases ----------------------------------------------------- */

static void test_cursors_and_seen(void **state)
{
    struct oh_err err = { 0 };
    char *v = (char *)1;
    int seen = -1;
    char longkey[1200], longkey2[1200];

    (void)state;
    assert_int_equal(oh_store_cursor_get(g.st, "shop-c", "orders", &v, &err), 0);
    assert_null(v);
    assert_int_equal(oh_store_cursor_set(g.st, "shop-c", "orders", "2026-11-23T09:30:00Z", &err), 0);
    assert_int_equal(oh_store_cursor_set(g.st, "shop-c", "orders", "page=abc&x=1", &err), 0);
    assert_int_equal(oh_store_cursor_get(g.st, "shop-c", "orders", &v, &err), 0);
    assert_string_equal(v, "page=abc&x=1");
    free(v);
    assert_int_equal(oh_store_cursor_get(g.st, "shop-other", "orders", &v, &err), 0);
    assert_null(v);
    /* Values longer than a fetch buffer come back whole. */
    memset(longkey, 'q', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(oh_store_cursor_set(g.st, "shop-c", "long", longkey, &err), 0);
    assert_int_equal(oh_store_cursor_get(g.st, "shop-c", "long", &v, &err), 0);
    assert_string_equal(v, longkey);
    free(v);

    assert_int_equal(oh_store_seen(g.st, "shop-c", "hook-1", &seen, &err), 0);
    assert_int_equal(seen, 0);
    assert_int_equal(oh_store_remember(g.st, "shop-c", "hook-1", &err), 0);
    assert_int_equal(oh_store_remember(g.st, "shop-c", "hook-1", &err), 0); /* idempotent */
    assert_int_equal(oh_store_seen(g.st, "shop-c", "hook-1", &seen, &err), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(oh_store_seen(g.st, "shop-c", "HOOK-1", &seen, &err), 0);
    assert_int_equal(seen, 0); /* exact, case-sensitive */
    assert_int_equal(oh_store_seen(g.st, "shop-x", "hook-1", &seen, &err), 0);
    assert_int_equal(seen, 0); /* per channel */

    /* Keys over 255 bytes: stored hashed, still exact. */
    memcpy(longkey2, longkey, sizeof(longkey));
    longkey2[1000] = 'r';
    assert_int_equal(oh_store_remember(g.st, "shop-c", longkey, &err), 0);
    assert_int_equal(oh_store_seen(g.st, "shop-c", longkey, &seen, &err), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(oh_store_seen(g.st, "shop-c", longkey2, &seen, &err), 0);
    assert_int_equal(seen, 0);
}

static void test_named_lease(void **state)
{
    struct oh_err err = { 0 };
    struct oh_store *other = open_store();
    int got = -1;
    int64_t deadline;

    (void)state;
    assert_int_equal(oh_store_lease(g.st, "poll:shop-a", "host-a", 60000, &got, &err), 0);
    assert_int_equal(got, 1);
    assert_int_equal(oh_store_lease(other, "poll:shop-a", "host-b", 60000, &got, &err), 0);
    assert_int_equal(got, 0);
    assert_int_equal(oh_store_lease(g.st, "poll:shop-a", "host-a", 300, &got, &err), 0);
    assert_int_equal(got, 1); /* renewed, now short */
    assert_int_equal(oh_store_lease(other, "poll:shop-a", "host-b", 60000, &got, &err), 0);
    assert_int_equal(got, 0);
    deadline = oh_mono_ms() + 10000;
    do {
        usleep(50 * 1000);
        assert_int_equal(oh_store_lease(other, "poll:shop-a", "host-b", 60000, &got, &err), 0);
    } while (!got && oh_mono_ms() < deadline);
    assert_int_equal(got, 1); /* expired and taken */
    assert_int_equal(oh_store_lease(g.st, "poll:shop-a", "host-a", 60000, &got, &err), 0);
    assert_int_equal(got, 0);
    /* Another name is independent. */
    assert_int_equal(oh_store_lease(g.st, "poll:shop-b", "host-a", 60000, &got, &err), 0);
    assert_int_equal(got, 1);
    oh_store_free(other);
}

/* ---- T5: lost connection ----------------------------------------------------------------- */

static void kill_conn(unsigned long id)
{
    MYSQL *m = raw_connect(NULL);

    assert_non_null(m);
    assert_true(id > 0);
    raw_exec(m, "KILL %lu", id);
    mysql_close(m);
}

static void test_lost_connection_reconnects(void **state)
{
    struct oh_store *st = open_store();
    struct oh_err err = { 0 };
    char *v = NULL;
    unsigned long id1;
    int rc;

    (void)state;
    /* Prepare statements first so the reconnect must prepare them again. */
    assert_int_equal(oh_store_cursor_set(st, "shop-k", "c", "1", &err), 0);
    id1 = oh_store_connection_id(st);
    kill_conn(id1);
    rc = oh_store_cursor_get(st, "shop-k", "c", &v, &err);
    assert_int_equal(rc, OH_EAGAIN);
    assert_int_equal(err.retryable, 1);
    assert_null(v);
    /* The next call reconnects and works. */
    oh_err_clear(&err);
    assert_int_equal(oh_store_cursor_get(st, "shop-k", "c", &v, &err), 0);
    assert_string_equal(v, "1");
    free(v);
    assert_true(oh_store_connection_id(st) != id1);

    /* Inside a transaction: the transaction is gone and stays gone (T5). */
    assert_int_equal(oh_store_begin(st, &err), 0);
    assert_int_equal(upsert_ext(st, "shop-k", "K1"), 0);
    kill_conn(oh_store_connection_id(st));
    assert_int_equal(upsert_ext(st, "shop-k", "K2"), OH_EAGAIN);
    assert_int_equal(oh_store_commit(st, &err), OH_EAGAIN); /* never a silent empty commit */
    assert_int_equal(err.retryable, 1);
    oh_store_rollback(st);
    assert_int_equal(order_id_of("shop-k", "K1"), -1);
    assert_int_equal(oh_store_begin(st, &err), 0);
    assert_int_equal(upsert_ext(st, "shop-k", "K1"), 0);
    assert_int_equal(upsert_ext(st, "shop-k", "K2"), 0);
    assert_int_equal(oh_store_commit(st, &err), 0);
    assert_true(order_id_of("shop-k", "K1") > 0);
    assert_true(order_id_of("shop-k", "K2") > 0);

    /* ping after a kill reconnects too. */
    kill_conn(oh_store_connection_id(st));
    rc = oh_store_ping(st, &err);
    if (rc != 0)
        assert_int_equal(rc, OH_EAGAIN);
    assert_int_equal(oh_store_ping(st, &err), 0);
    oh_store_free(st);
}

static void test_connect_refused_is_retryable(void **state)
{
    struct oh_store_conf c = { .host = "127.0.0.1", .port = 1, .user = g.user,
                               .password = g.password, .database = g.db,
                               .connect_timeout_s = 2 };
    struct oh_store *st = (struct oh_store *)1;
    struct oh_err err = { 0 };

    (void)state;
    assert_int_equal(oh_store_open(&c, &st, &err), OH_EAGAIN);
    assert_int_equal(err.retryable, 1);
    assert_null(st);
    assert_null(strstr(err.msg, g.password));

    /* A wrong password is not retryable and the message holds no secret. */
    struct oh_store_conf bad = { .host = g.host, .port = g.port, .socket = g.socket,
                                 .user = g.user, .password = "not-the-password-xyz",
                                 .database = g.db };
    assert_int_equal(oh_store_open(&bad, &st, &err), OH_EPERM);
    assert_int_equal(err.retryable, 0);
    assert_null(strstr(err.msg, "not-the-password-xyz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice_is_noop),
        cmocka_unit_test(test_insert_roundtrip_unchanged),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_update_replaces_children_and_stale),
        cmocka_unit_test(test_missing_status_keeps_stored),
        cmocka_unit_test(test_upsert_rejects_bad_input),
        cmocka_unit_test(test_savepoint_keeps_neighbours),
        cmocka_unit_test(test_documents_channels_audit),
        cmocka_unit_test(test_orders_list_and_status),
        cmocka_unit_test(test_outbox_lifecycle),
        cmocka_unit_test(test_outbox_expired_lease_released),
        cmocka_unit_test(test_outbox_skip_locked),
        cmocka_unit_test(test_outbox_concurrent_leasers),
        cmocka_unit_test(test_cursors_and_seen),
        cmocka_unit_test(test_named_lease),
        cmocka_unit_test(test_lost_connection_reconnects),
        cmocka_unit_test(test_connect_refused_is_retryable),
    };

    return cmocka_run_group_tests_name("store", tests, group_setup, group_teardown);
}
