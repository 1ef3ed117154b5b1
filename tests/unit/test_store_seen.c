/*
 * test_store_seen.c — oh_store_remember_many (store_seen.c) and
 * oh_store_stats (store_stats.c) against the real MariaDB.
 *
 * Needs OH_DB_SOCKET (or OH_DB_HOST + OH_DB_PORT), OH_DB_USER and
 * OH_DB_PASSWORD_FILE (scripts/mariadb env); fails without them. Works in
 * its own database orderhub_test_seen_<pid>_<random>, dropped at the end.
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

#define TESTDB_NAME "store_seen"
#include "store_testdb.h"

static void raw_exec(const char *sql)
{
    MYSQL *m = raw_connect(g.db);

    assert_non_null(m);
    if (mysql_query(m, sql) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    mysql_close(m);
}

static int seen(const char *channel, const char *key)
{
    struct oh_err err = {0};
    int s = -1;

    assert_int_equal(oh_store_seen(g.st, channel, key, &s, &err), 0);
    return s;
}

static void test_remember_many(void **state)
{
    struct oh_err err = {0};
    char longkey[400], longkey2[400];
    (void)state;

    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    memcpy(longkey2, longkey, sizeof(longkey));
    longkey2[300] = 'x';

    /* one key remembered the old way first */
    assert_int_equal(oh_store_remember(g.st, "shop-a", "webhook:old", &err), 0);
    {
        struct oh_seen_key k[] = {
            {"shop-a", "webhook:1"}, {"shop-b", "webhook:1"}, {"shop-a", "order:9@v1"},
            {"shop-a", "webhook:1"}, /* twice in one batch */
            {"shop-a", "webhook:old"}, /* already there */
            {"shop-a", longkey},
        };
        assert_int_equal(oh_store_remember_many(g.st, k, 6, &err), 0);
    }
    assert_int_equal(seen("shop-a", "webhook:1"), 1);
    assert_int_equal(seen("shop-b", "webhook:1"), 1);
    assert_int_equal(seen("shop-a", "order:9@v1"), 1);
    assert_int_equal(seen("shop-a", "webhook:old"), 1);
    assert_int_equal(seen("shop-a", longkey), 1);
    assert_int_equal(seen("shop-a", longkey2), 0); /* hashed, still exact */
    assert_int_equal(seen("shop-c", "webhook:1"), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM seen_keys"), 5);
    /* stored exactly as oh_store_remember stores a long key */
    assert_int_equal(raw_int("%s", "SELECT COUNT(*) FROM seen_keys WHERE seen_key LIKE 'sha256:%'"), 1);
    assert_int_equal(oh_store_remember(g.st, "shop-a", longkey, &err), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM seen_keys"), 5);

    /* the shared single-row statement works again after a bulk one */
    assert_int_equal(oh_store_remember(g.st, "shop-a", "webhook:after", &err), 0);
    assert_int_equal(seen("shop-a", "webhook:after"), 1);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM seen_keys"), 6);

    /* nothing to do */
    assert_int_equal(oh_store_remember_many(g.st, NULL, 0, &err), 0);
}

static void test_remember_many_all_or_nothing(void **state)
{
    struct oh_err err = {0};
    long long before = raw_int("SELECT COUNT(*) FROM seen_keys");
    (void)state;

    /* a bad key refuses the whole call */
    {
        struct oh_seen_key k[] = {{"shop-a", "webhook:x1"}, {"shop-a", NULL}};
        assert_int_equal(oh_store_remember_many(g.st, k, 2, &err), OH_EINVAL);
        assert_int_equal(seen("shop-a", "webhook:x1"), 0);
    }
    /* a key too long for the column once hashed cannot happen; a channel
     * too long for its column fails the statement: nothing of the batch */
    {
        char ch[300];
        memset(ch, 'c', sizeof(ch) - 1);
        ch[sizeof(ch) - 1] = '\0';
        struct oh_seen_key k[] = {{"shop-a", "webhook:x2"}, {ch, "webhook:x3"}};
        assert_true(oh_store_remember_many(g.st, k, 2, &err) < 0);
        assert_int_equal(seen("shop-a", "webhook:x2"), 0);
    }
    assert_int_equal(raw_int("SELECT COUNT(*) FROM seen_keys"), before);
    /* inside the caller's transaction: its rollback takes the keys back */
    assert_int_equal(oh_store_begin(g.st, &err), 0);
    {
        struct oh_seen_key k[] = {{"shop-a", "webhook:tx"}};
        assert_int_equal(oh_store_remember_many(g.st, k, 1, &err), 0);
    }
    oh_store_rollback(g.st);
    assert_int_equal(seen("shop-a", "webhook:tx"), 0);
}

/* More keys than one bulk execution takes: several executions, one
 * transaction. */
static void test_remember_many_large(void **state)
{
    struct oh_err err = {0};
    enum { N = 1100 };
    struct oh_seen_key *k = calloc(N, sizeof(*k));
    char (*names)[32] = calloc(N, 32);
    long long before = raw_int("SELECT COUNT(*) FROM seen_keys");
    (void)state;

    for (int i = 0; i < N; i++) {
        snprintf(names[i], 32, "webhook:big-%04d", i);
        k[i].channel = "shop-big";
        k[i].key = names[i];
    }
    assert_int_equal(oh_store_remember_many(g.st, k, N, &err), 0);
    assert_int_equal(raw_int("SELECT COUNT(*) FROM seen_keys"), before + N);
    assert_int_equal(seen("shop-big", "webhook:big-0000"), 1);
    assert_int_equal(seen("shop-big", "webhook:big-1099"), 1);
    free(k);
    free(names);
}

static long long stat_of(json_t *s, const char *group, const char *key)
{
    json_t *v = group ? json_object_get(json_object_get(s, group), key) : json_object_get(s, key);
    return v ? (long long)json_integer_value(v) : -1;
}

/* Both keys in one round trip: each answer is its own key's, long keys
 * (stored hashed) included, and only within the channel. */
static void test_seen_pair(void **state)
{
    struct oh_err err = {0};
    char longkey[400];
    int a = -1, b = -1;
    (void)state;

    memset(longkey, 'p', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(oh_store_remember(g.st, "pair", "webhook:1", &err), 0);
    assert_int_equal(oh_store_remember(g.st, "pair", longkey, &err), 0);
    assert_int_equal(oh_store_seen_pair(g.st, "pair", "webhook:1", "order:9", &a, &b, &err), 0);
    assert_int_equal(a, 1);
    assert_int_equal(b, 0);
    assert_int_equal(oh_store_seen_pair(g.st, "pair", "webhook:2", longkey, &a, &b, &err), 0);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(oh_store_seen_pair(g.st, "pair", longkey, "webhook:1", &a, &b, &err), 0);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    assert_int_equal(oh_store_seen_pair(g.st, "pair", "webhook:1", NULL, &a, &b, &err), 0);
    assert_int_equal(a, 1);
    assert_int_equal(b, 0);
    assert_int_equal(oh_store_seen_pair(g.st, "other", "webhook:1", longkey, &a, &b, &err), 0);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
}

static void test_stats(void **state)
{
    struct oh_err err = {0};
    json_t *s = NULL;
    (void)state;

    assert_int_equal(oh_store_stats(g.st, &s, &err), 0);
    assert_int_equal(stat_of(s, NULL, "edi_acks_overdue"), 0);
    assert_int_equal(json_object_size(json_object_get(s, "outbox")), 0);
    json_decref(s);

    raw_exec("INSERT INTO outbox (event, target, payload, state) VALUES "
             "('order.created', 'a', '{}', 'pending'), ('order.created', 'a', '{}', 'pending'), "
             "('order.created', 'a', '{}', 'dead')");
    raw_exec("INSERT INTO documents (channel, spool_id, sha256, source, format, status) VALUES "
             "('c', 's1', 'x', 'f', 'json', 'stored'), ('c', 's2', 'x', 'f', 'json', 'failed'), "
             "('c', 's3', 'x', 'f', 'json', 'stored')");
    raw_exec("INSERT INTO edi_interchanges_out (partner, outbox_id, standard, message, icn, gcn, "
             "scn, ack_expected, ack_due_at, ack_status) VALUES "
             "('p', 1, 'x12', '855', 1, 1, 1, '997', CURRENT_TIMESTAMP(3) - INTERVAL 1 MINUTE, "
             "'pending'), "
             "('p', 2, 'x12', '855', 2, 2, 1, '997', CURRENT_TIMESTAMP(3) + INTERVAL 1 HOUR, "
             "'pending'), "
             "('p', 3, 'x12', '855', 3, 3, 1, '997', CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR, "
             "'accepted')");
    assert_int_equal(oh_store_stats(g.st, &s, &err), 0);
    assert_int_equal(stat_of(s, "outbox", "pending"), 2);
    assert_int_equal(stat_of(s, "outbox", "dead"), 1);
    assert_int_equal(stat_of(s, "outbox", "done"), -1); /* no rows: absent */
    assert_int_equal(stat_of(s, "documents", "stored"), 2);
    assert_int_equal(stat_of(s, "documents", "failed"), 1);
    assert_int_equal(stat_of(s, NULL, "edi_acks_overdue"), 1); /* late, not answered */
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remember_many),
        cmocka_unit_test(test_remember_many_all_or_nothing),
        cmocka_unit_test(test_remember_many_large),
        cmocka_unit_test(test_seen_pair),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
