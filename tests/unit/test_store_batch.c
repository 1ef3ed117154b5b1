/*
 * test_store_batch.c — the batch ingest path (store_batch.c, B1-B3) against
 * a real MariaDB server, compared with the one-order-at-a-time path.
 *
 * Needs the same environment as test_store.c (OH_DB_SOCKET or OH_DB_HOST +
 * OH_DB_PORT, OH_DB_USER, OH_DB_PASSWORD_FILE); without it the suite FAILS.
 * Each run creates its own database and drops it at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util.h"

#define TESTDB_NAME "store_batch"
#include "store_testdb.h"

/* ---- helpers ------------------------------------------------------------------------ */

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (!j)
        fail_msg("bad test JSON: %s (line %d)", je.text, je.line);
    return j;
}

static long long order_id_of(const char *channel, const char *ext)
{
    return raw_int("SELECT id FROM orders WHERE channel = '%s' AND external_id = '%s'", channel,
                   ext);
}

static void hash_of(const json_t *order, char sha[65])
{
    char *text = json_dumps(order, JSON_COMPACT | JSON_SORT_KEYS);

    oh_sha256_hex(text, strlen(text), sha);
    free(text);
}

/* Order ext with nlines lines, addresses by mask (1 bill_to, 2 ship_to). */
static json_t *make_order(const char *ext, const char *updated_at, const char *status,
                          int nlines, int addr_mask, const char *total)
{
    json_t *o = json_object(), *lines = json_array();
    char buf[64];

    json_object_set_new(o, "external_id", json_string(ext));
    snprintf(buf, sizeof(buf), "#%s", ext);
    json_object_set_new(o, "number", json_string(buf));
    if (status)
        json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "placed_at", json_string("2026-11-23T09:30:00Z"));
    json_object_set_new(o, "updated_at", json_string(updated_at));
    json_object_set_new(o, "currency", json_string("EUR"));
    json_object_set_new(o, "total", json_string(total));
    json_object_set_new(o, "tags", load("[\"b\", \"a\"]"));
    json_object_set_new(o, "customer", load("{\"email\": \"x@example.com\", \"name\": \"X\"}"));
    if (addr_mask & 1) {
        snprintf(buf, sizeof(buf), "Bill %s", ext);
        json_object_set_new(o, "bill_to", json_pack("{s:s, s:s, s:s}", "name", buf, "city",
                                                    "Berlin", "country", "DE"));
    }
    if (addr_mask & 2) {
        snprintf(buf, sizeof(buf), "Ship %s", ext);
        json_object_set_new(o, "ship_to", json_pack("{s:s, s:s, s:s, s:s}", "name", buf, "line1",
                                                    "Lagerweg 5", "city", "Hamburg", "country",
                                                    "DE"));
    }
    for (int j = 0; j < nlines; j++) {
        char sku[64], qty[16];
        snprintf(sku, sizeof(sku), "%s-SKU-%d", ext, j);
        snprintf(qty, sizeof(qty), "%d.5", j + 1);
        json_array_append_new(lines, json_pack("{s:i, s:s, s:s, s:s}", "line_no", j + 1, "sku",
                                               sku, "qty", qty, "unit_price", "9.95"));
    }
    json_object_set_new(o, "lines", lines);
    return o;
}

static json_t *get_order(const char *channel, const char *ext)
{
    json_t *got = NULL;
    struct oh_err err = { 0 };

    if (oh_store_order_get(g.st, channel, ext, &got, &err) != 0)
        fail_msg("order_get %s/%s: %s", channel, ext, err.msg);
    json_object_del(got, "channel");
    return got;
}

#define NB 80

/* B2: new (over one IN chunk of 64), unchanged, stale and updated orders in
 * one call give the results and rows that one call per order gives. */
static void test_batch_matches_one_by_one(void **state)
{
    json_t *orders[NB];
    char hashes[NB][65];
    const char *hp[NB];
    int64_t dids[NB];
    struct oh_upsert_result res[NB], one[NB];
    struct oh_err err = { 0 };
    const char *chans[2] = { "batch-a", "batch-b" };
    char ext[NB][32];

    (void)state;
    /* stored before: E1 (sent again unchanged), E2 (an older copy comes),
     * E3 (a newer copy with another status comes) — in both channels */
    for (int c = 0; c < 2; c++) {
        json_t *e1 = make_order("E1", "2026-11-23T10:00:00Z", "pending", 2, 3, "10.00");
        json_t *e2 = make_order("E2", "2026-11-23T10:00:00Z", "accepted", 2, 3, "20.00");
        json_t *e3 = make_order("E3", "2026-11-23T10:00:00Z", "pending", 4, 3, "30.00");
        json_t *pre[3] = { e1, e2, e3 };
        for (int i = 0; i < 3; i++) {
            struct oh_upsert_result r;
            char sha[65];
            hash_of(pre[i], sha);
            assert_int_equal(oh_store_upsert_order(g.st, chans[c], pre[i], sha, 0, &r, &err), 0);
            assert_int_equal(r.what, OH_UPSERT_INSERTED);
            json_decref(pre[i]);
        }
    }
    for (int i = 0; i < NB; i++) {
        snprintf(ext[i], sizeof(ext[i]), "N%03d", i);
        orders[i] = make_order(ext[i], "2026-11-23T11:00:00Z",
                               i % 7 == 3 ? "accepted" : (i % 5 == 0 ? NULL : "pending"),
                               i % 4 == 0 ? 0 : (i % 9 == 1 ? 20 : 3), i % 4, "12.34");
    }
    json_decref(orders[5]);
    orders[5] = make_order("E1", "2026-11-23T10:00:00Z", "pending", 2, 3, "10.00");
    json_decref(orders[40]);
    orders[40] = make_order("E2", "2026-11-23T09:00:00Z", "pending", 1, 1, "21.00");
    json_decref(orders[70]);
    orders[70] = make_order("E3", "2026-11-23T12:00:00Z", "shipped", 1, 2, "31.00");
    snprintf(ext[5], sizeof(ext[5]), "E1");
    snprintf(ext[40], sizeof(ext[40]), "E2");
    snprintf(ext[70], sizeof(ext[70]), "E3");
    for (int i = 0; i < NB; i++) {
        hash_of(orders[i], hashes[i]);
        hp[i] = hashes[i];
    }

    /* documents for the doc ids (B1) */
    {
        struct oh_store_doc docs[NB];
        char sid[NB][32];
        for (int i = 0; i < NB; i++) {
            snprintf(sid[i], sizeof(sid[i]), "sp-%03d", i);
            struct oh_store_doc d = { "batch-a", sid[i], hashes[i], "file.json", "canonical",
                                      1763890200123LL };
            docs[i] = d;
        }
        assert_int_equal(oh_store_begin(g.st, &err), 0);
        assert_int_equal(oh_store_documents_put(g.st, docs, NB, "stored", dids, &err), 0);
        assert_int_equal(oh_store_commit(g.st, &err), 0);
        for (int i = 0; i < NB; i++)
            assert_int_equal(dids[i], raw_int("SELECT id FROM documents WHERE channel = "
                                              "'batch-a' AND spool_id = '%s'", sid[i]));
    }

    assert_int_equal(oh_store_begin(g.st, &err), 0);
    if (oh_store_upsert_orders(g.st, "batch-a", orders, hp, dids, NB, res, &err) != 0)
        fail_msg("upsert_orders: %s", err.msg);
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    for (int i = 0; i < NB; i++) {
        if (oh_store_upsert_order(g.st, "batch-b", orders[i], hp[i], 0, &one[i], &err) != 0)
            fail_msg("upsert_order: %s", err.msg);
    }

    for (int i = 0; i < NB; i++) {
        json_t *a = get_order("batch-a", ext[i]), *b = get_order("batch-b", ext[i]);

        assert_int_equal(res[i].what, one[i].what);
        assert_string_equal(res[i].old_status, one[i].old_status);
        assert_string_equal(res[i].new_status, one[i].new_status);
        assert_int_equal(res[i].order_id, order_id_of("batch-a", ext[i]));
        if (!json_equal(a, b))
            fail_msg("order %s differs between the batch and the one-by-one path", ext[i]);
        json_decref(a);
        json_decref(b);
    }
    assert_int_equal(res[5].what, OH_UPSERT_UNCHANGED);
    assert_int_equal(res[40].what, OH_UPSERT_STALE);
    assert_int_equal(res[70].what, OH_UPSERT_UPDATED);
    assert_string_equal(res[70].old_status, "pending");
    assert_string_equal(res[70].new_status, "shipped");
    assert_int_equal(res[0].what, OH_UPSERT_INSERTED);
    assert_string_equal(res[0].new_status, "pending"); /* no status given */
    assert_string_equal(res[3].new_status, "accepted");
    /* the new orders point at their documents; the same row counts overall */
    assert_int_equal(raw_int("SELECT doc_id FROM orders WHERE channel = 'batch-a' AND "
                             "external_id = 'N010'"), dids[10]);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'batch-a' AND "
                             "doc_id IS NOT NULL"), NB - 3 + 1); /* E3 updated with its doc */
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'batch-a'"),
                     raw_int("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'batch-b'"));
    assert_int_equal(raw_int("SELECT COUNT(*) FROM addresses l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'batch-a'"),
                     raw_int("SELECT COUNT(*) FROM addresses l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'batch-b'"));
    /* lines on the right order: every line's sku names its order */
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'batch-a' AND l.sku NOT LIKE "
                             "CONCAT(o.external_id, '-SKU-%%')"), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM addresses a JOIN orders o ON o.id = "
                             "a.order_id WHERE o.channel = 'batch-a' AND a.name NOT LIKE "
                             "CONCAT('%%', o.external_id)"), 0);

    /* the same batch again: all UNCHANGED (idempotent) */
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_int_equal(oh_store_upsert_orders(g.st, "batch-a", orders, hp, dids, NB, res, &err), 0);
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    for (int i = 0; i < NB; i++) {
        if (i == 40)
            assert_int_equal(res[i].what, OH_UPSERT_STALE);
        else
            assert_int_equal(res[i].what, OH_UPSERT_UNCHANGED);
    }
    for (int i = 0; i < NB; i++)
        json_decref(orders[i]);
}

/* B3: one value too long for its column fails the whole call with a
 * permanent error; rolled back, none of the batch is stored. */
static void test_batch_bad_record_fails_whole(void **state)
{
    json_t *orders[3];
    char hashes[3][65];
    const char *hp[3];
    struct oh_upsert_result res[3];
    struct oh_err err = { 0 };
    char longv[400];

    (void)state;
    memset(longv, 'x', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    orders[0] = make_order("B1", "2026-11-23T11:00:00Z", "pending", 2, 3, "1.00");
    orders[1] = make_order("B2", "2026-11-23T11:00:00Z", "pending", 2, 3, "1.00");
    orders[2] = make_order("B3", "2026-11-23T11:00:00Z", "pending", 2, 3, "1.00");
    json_object_set_new(orders[1], "po_number", json_string(longv));
    for (int i = 0; i < 3; i++) {
        hash_of(orders[i], hashes[i]);
        hp[i] = hashes[i];
    }
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_true(oh_store_upsert_orders(g.st, "batch-bad", orders, hp, NULL, 3, res, &err) < 0);
    assert_int_equal(err.retryable, 0);
    oh_store_rollback(g.st);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'batch-bad'"), 0);

    /* a line value too long fails as well */
    json_object_del(orders[1], "po_number");
    json_object_set_new(json_array_get(json_object_get(orders[2], "lines"), 1), "sku",
                        json_string(longv));
    hash_of(orders[1], hashes[1]);
    hash_of(orders[2], hashes[2]);
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_true(oh_store_upsert_orders(g.st, "batch-bad", orders, hp, NULL, 3, res, &err) < 0);
    assert_int_equal(err.retryable, 0);
    oh_store_rollback(g.st);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'batch-bad'"), 0);

    /* without the bad one, the other two go in */
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_int_equal(oh_store_upsert_orders(g.st, "batch-bad", orders, hp, NULL, 2, res, &err), 0);
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'batch-bad'"), 2);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = "
                             "l.order_id WHERE o.channel = 'batch-bad'"), 4);
    for (int i = 0; i < 3; i++)
        json_decref(orders[i]);
}

/* B2: the same key twice in one call is refused (trailing spaces ignored,
 * as the column compares); oh_store_same_key says so. */
static void test_batch_repeated_key_refused(void **state)
{
    json_t *orders[2];
    char hashes[2][65];
    const char *hp[2];
    struct oh_upsert_result res[2];
    struct oh_err err = { 0 };

    (void)state;
    assert_true(oh_store_same_key("K1", "K1  "));
    assert_false(oh_store_same_key("K1", "k1"));
    assert_false(oh_store_same_key("K1", " K1"));
    orders[0] = make_order("K1", "2026-11-23T11:00:00Z", "pending", 1, 1, "1.00");
    orders[1] = make_order("K1 ", "2026-11-23T11:00:00Z", "pending", 1, 1, "2.00");
    for (int i = 0; i < 2; i++) {
        hash_of(orders[i], hashes[i]);
        hp[i] = hashes[i];
    }
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    assert_int_equal(oh_store_upsert_orders(g.st, "batch-rep", orders, hp, NULL, 2, res, &err),
                     OH_EINVAL);
    oh_store_rollback(g.st);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'batch-rep'"), 0);
    /* one at a time through the batch call: the second finds the first */
    assert_int_equal(oh_store_upsert_orders(g.st, "batch-rep", orders, hp, NULL, 1, res, &err), 0);
    assert_int_equal(res[0].what, OH_UPSERT_INSERTED);
    assert_int_equal(oh_store_upsert_orders(g.st, "batch-rep", orders + 1, hp + 1, NULL, 1, res,
                                            &err), 0);
    assert_int_equal(res[0].what, OH_UPSERT_UPDATED);
    for (int i = 0; i < 2; i++)
        json_decref(orders[i]);
}

/* B1: documents of two channels, one already recorded: ids and rows as
 * oh_store_document_put gives them. */
static void test_documents_put_batch(void **state)
{
    struct oh_store_doc docs[3] = {
        { "dch-1", "s-1", "aa", "f1", "canonical", 1763890200000LL },
        { "dch-2", "s-1", "bb", "f2", "canonical", 0 },
        { "dch-1", "s-2", "cc", "f3", "csv", 1763890200500LL },
    };
    int64_t ids[3], first = 0;
    struct oh_err err = { 0 };

    (void)state;
    assert_int_equal(oh_store_document_put(g.st, &docs[2], "dead", "boom", &first, &err), 0);
    assert_int_equal(oh_store_documents_put(g.st, docs, 3, "stored", ids, &err), 0);
    assert_int_equal(ids[2], first);
    assert_true(ids[0] > 0 && ids[1] > 0 && ids[0] != ids[1]);
    assert_int_equal(ids[1], raw_int("SELECT id FROM documents WHERE channel = 'dch-2' AND "
                                     "spool_id = 's-1'"));
    assert_int_equal(raw_int("SELECT COUNT(*) FROM documents WHERE channel LIKE 'dch-%%' AND "
                             "status = 'stored' AND error IS NULL"), 3);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM documents WHERE id = %lld AND format = 'csv' "
                             "AND received_at = '2025-11-23 09:30:00.500'", (long long)first), 1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM documents WHERE id = %lld AND received_at IS "
                             "NULL", (long long)ids[1]), 1);
}

/* B2/T1: a batch bigger than one bulk execution (40 orders with 60 KB of
 * notes each) goes in several and lands like one order at a time. */
static void test_batch_big_values_split(void **state)
{
    enum { NBIG = 40 };
    json_t *orders[NBIG];
    char hashes[NBIG][65], ext[NBIG][16];
    const char *hp[NBIG];
    struct oh_upsert_result res[NBIG], one;
    struct oh_err err = { 0 };
    char *notes = malloc(60001);

    (void)state;
    assert_non_null(notes);
    for (int i = 0; i < NBIG; i++) {
        memset(notes, 'a' + i % 26, 60000);
        notes[60000] = '\0';
        snprintf(ext[i], sizeof(ext[i]), "BIG%02d", i);
        orders[i] = make_order(ext[i], "2026-11-23T11:00:00Z", "pending", 2, 3, "5.00");
        json_object_set_new(orders[i], "notes", json_string(notes));
        hash_of(orders[i], hashes[i]);
        hp[i] = hashes[i];
    }
    free(notes);
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    if (oh_store_upsert_orders(g.st, "big-a", orders, hp, NULL, NBIG, res, &err) != 0)
        fail_msg("upsert_orders: %s", err.msg);
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    for (int i = 0; i < NBIG; i++) {
        json_t *a, *b;
        assert_int_equal(res[i].what, OH_UPSERT_INSERTED);
        assert_int_equal(oh_store_upsert_order(g.st, "big-b", orders[i], hp[i], 0, &one, &err), 0);
        a = get_order("big-a", ext[i]);
        b = get_order("big-b", ext[i]);
        if (!json_equal(a, b))
            fail_msg("order %s differs between the batch and the one-by-one path", ext[i]);
        assert_int_equal(res[i].order_id, order_id_of("big-a", ext[i]));
        json_decref(a);
        json_decref(b);
        json_decref(orders[i]);
    }
    assert_int_equal(raw_int("SELECT COUNT(*) FROM orders WHERE channel = 'big-a' AND "
                             "LENGTH(notes) = 60000"), NBIG);
}

/* B4: oh_store_outbox_add_many leaves the rows, in order, that one
 * oh_store_outbox_add per row leaves; big payloads go in several bulk
 * executions; a row without a payload refuses the whole call. */
static long long outbox_digest(const char *target)
{
    return raw_int("SELECT CRC32(GROUP_CONCAT(MD5(CONCAT_WS('|', event, origin, "
                   "IFNULL(order_id, '-'), payload, state, attempts)) ORDER BY id SEPARATOR ',')) "
                   "FROM outbox WHERE target = '%s'", target);
}

static void test_outbox_add_many(void **state)
{
    enum { N = 12 };
    struct oh_outbox_row rows[N];
    char *big = malloc(200001), ev[N][32], pl[N][64];
    struct oh_err err = { 0 };

    (void)state;
    assert_non_null(big);
    memset(big, 'p', 200000);
    big[200000] = '\0';
    for (int i = 0; i < N; i++) {
        snprintf(ev[i], sizeof(ev[i]), "order.e%d", i % 3);
        snprintf(pl[i], sizeof(pl[i]), "{\"n\":%d}", i);
        rows[i] = (struct oh_outbox_row){ ev[i], "ob-one", i % 2 ? "shop-x" : "shop-y",
                                          i % 4 ? 1000 + i : 0, i % 3 == 2 ? big : pl[i] };
    }
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(oh_store_outbox_add(g.st, rows[i].event, rows[i].target, rows[i].origin,
                                             rows[i].order_id, rows[i].payload, NULL, &err), 0);
    for (int i = 0; i < N; i++)
        rows[i].target = "ob-many";
    assert_int_equal(oh_store_outbox_add_many(g.st, rows, N, &err), 0);
    assert_int_equal(oh_store_commit(g.st, &err), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM outbox WHERE target = 'ob-many'"), N);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM outbox WHERE target = 'ob-many' AND "
                             "order_id IS NULL"), 3);
    assert_int_equal(outbox_digest("ob-many"), outbox_digest("ob-one"));

    rows[5].payload = NULL;
    for (int i = 0; i < N; i++)
        rows[i].target = "ob-bad";
    assert_int_equal(oh_store_outbox_add_many(g.st, rows, N, &err), OH_EINVAL);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM outbox WHERE target = 'ob-bad'"), 0);
    assert_int_equal(oh_store_outbox_add_many(g.st, rows, 0, &err), 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_matches_one_by_one),
        cmocka_unit_test(test_batch_bad_record_fails_whole),
        cmocka_unit_test(test_batch_repeated_key_refused),
        cmocka_unit_test(test_documents_put_batch),
        cmocka_unit_test(test_batch_big_values_split),
        cmocka_unit_test(test_outbox_add_many),
    };

    return cmocka_run_group_tests_name("store_batch", tests, group_setup, group_teardown);
}
