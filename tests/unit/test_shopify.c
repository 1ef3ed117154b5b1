/* test_shopify.c — the Shopify connector against tests/fakes/shopify_fake.py:
 * poll (pages, faults, restart, same-second updates), webhooks (HMAC,
 * duplicates, privacy topics), push (fulfilment once, 5xx retry, 422 fail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include <cmocka.h>

#include "vendor_fake.h"

extern const struct oh_connector oh_connector_shopify;

#define TOKEN "shpat_test_token"
#define SECRET "hush-webhook-secret"

static char *conf_text(const struct vf_fake *f, const char *extra)
{
    char *s = NULL;
    if (asprintf(&s,
                 "[channel shop-a]\n"
                 "type = shopify\n"
                 "shop = acme.myshopify.com\n"
                 "api_version = 2024-10\n"
                 "access_token = env:OH_TEST_SHOPIFY_TOKEN\n"
                 "webhook_secret = env:OH_TEST_SHOPIFY_SECRET\n"
                 "base_url = %s\n"
                 "http_attempts = 8\n"
                 "%s",
                 f ? f->base : "http://127.0.0.1:1", extra ? extra : "") < 0)
        abort();
    return s;
}

static int setup(void **state)
{
    (void)state;
    setenv("OH_TEST_SHOPIFY_TOKEN", TOKEN, 1);
    setenv("OH_TEST_SHOPIFY_SECRET", SECRET, 1);
    oh_http_set_default_sleep(vf_record_sleep, NULL);
    vf_nwaits = 0;
    return 0;
}

/* Distinct order ids among the spooled entries; also checks each payload is
 * a single order object (the shape order.map reads). */
static size_t distinct_orders(struct oh_spool *sp, size_t *entries)
{
    struct vf_list l;
    long long *ids;
    size_t n = 0;

    vf_list(sp, &l);
    ids = calloc(l.n + 1, sizeof(*ids));
    for (size_t i = 0; i < l.n; i++) {
        json_t *o = vf_payload(sp, l.e[i].id, NULL, NULL);
        long long id;
        int dup = 0;
        assert_non_null(o);
        assert_true(json_is_integer(json_object_get(o, "id")));
        assert_null(json_object_get(o, "orders"));
        assert_string_equal(l.e[i].meta.format, "json");
        assert_string_equal(l.e[i].meta.channel, "shop-a");
        id = json_integer_value(json_object_get(o, "id"));
        for (size_t k = 0; k < n; k++)
            if (ids[k] == id)
                dup = 1;
        if (!dup)
            ids[n++] = id;
        json_decref(o);
    }
    if (entries)
        *entries = l.n;
    free(ids);
    free(l.e);
    return n;
}

/* Polls until a poll returns 0 (a retryable failure just means "poll again
 * later", as the scheduler would). */
static void poll_until_done(struct vf_chan *c, struct oh_spool *sp, int max_polls)
{
    struct oh_err err = {0};
    int rc = -1;
    for (int i = 0; i < max_polls && rc != 0; i++) {
        rc = c->ch.conn->poll(&c->ch, sp, &err);
        if (rc < 0 && !err.retryable)
            fail_msg("poll failed permanently: %s", err.msg);
    }
    assert_int_equal(rc, 0);
}

static void test_poll_5000_with_faults(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_spool *sp;
    char dir[64], *ini;
    size_t entries = 0;
    const char *args[] = {"--orders", "5000", NULL};
    json_t *inj;
    (void)state;

    assert_int_equal(vf_start(&f, "shopify_fake.py", args), 0);
    vf_control_ok(&f, "{\"op\":\"faults\",\"rate_429\":0.12,\"rate_500\":0.08,"
                      "\"rate_drop\":0.03,\"rate_truncate\":0.04}");
    sp = vf_spool(dir);
    ini = conf_text(&f, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);
    poll_until_done(&c, sp, 20);
    assert_int_equal(distinct_orders(sp, &entries), 5000);
    assert_int_equal(entries, 5000); /* seen-keys: nothing spooled twice */
    assert_non_null(vf_cursor(&t, "orders.updated_at"));
    /* The faults really happened, and 429's Retry-After: 1.0 was asked for. */
    inj = vf_control(&f, "{\"op\":\"injected\"}");
    assert_true(json_integer_value(json_object_get(inj, "429")) > 0);
    assert_true(json_integer_value(json_object_get(inj, "500")) > 0);
    assert_true(vf_waited(1000));
    json_decref(inj);

    /* A second poll re-reads only the overlap window and spools nothing. */
    poll_until_done(&c, sp, 5);
    distinct_orders(sp, &entries);
    assert_int_equal(entries, 5000);

    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    oh_spool_free(sp);
    vf_rmrf(dir);
    vf_stop(&f);
}

static void test_restart_mid_sync(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_spool *sp;
    char dir[64], *ini, *cur1;
    size_t entries = 0, first;
    const char *args[] = {"--orders", "2000", NULL};
    (void)state;

    assert_int_equal(vf_start(&f, "shopify_fake.py", args), 0);
    sp = vf_spool(dir);
    /* A budget of 3 requests per poll stops the first sync after 3 pages. */
    ini = conf_text(&f, "max_requests = 3\n");
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);
    assert_int_equal(c.ch.conn->poll(&c.ch, sp, &err), OH_EAGAIN);
    assert_true(err.retryable);
    first = distinct_orders(sp, NULL);
    assert_int_equal(first, 750);
    assert_non_null(vf_cursor(&t, "orders.updated_at"));
    cur1 = strdup(vf_cursor(&t, "orders.updated_at"));
    vf_chan_close(&c); /* "crash": all channel state is gone, the table stays */
    free(ini);

    ini = conf_text(&f, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);
    poll_until_done(&c, sp, 5);
    assert_int_equal(distinct_orders(sp, &entries), 2000);
    assert_int_equal(entries, 2000);
    assert_true(strcmp(vf_cursor(&t, "orders.updated_at"), cur1) > 0);

    free(cur1);
    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    oh_spool_free(sp);
    vf_rmrf(dir);
    vf_stop(&f);
}

/* Ids (and how often) of spooled orders whose note says they were updated. */
static int spooled_updated(struct oh_spool *sp, long long id)
{
    struct vf_list l;
    int n = 0;
    vf_list(sp, &l);
    for (size_t i = 0; i < l.n; i++) {
        json_t *o = vf_payload(sp, l.e[i].id, NULL, NULL);
        const char *note = json_string_value(json_object_get(o, "note"));
        if (json_integer_value(json_object_get(o, "id")) == id && note &&
            strncmp(note, "updated", 7) == 0)
            n++;
        json_decref(o);
    }
    free(l.e);
    return n;
}

static void test_updates_during_sync_and_same_second(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_spool *sp;
    char dir[64], *ini;
    size_t entries = 0;
    const char *args[] = {"--orders", "1000", NULL};
    (void)state;

    assert_int_equal(vf_start(&f, "shopify_fake.py", args), 0);
    sp = vf_spool(dir);
    ini = conf_text(&f, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);
    /* Before page 3 is served, two orders from page 1 change (P3). */
    vf_control_ok(&f, "{\"op\":\"update_after\",\"n\":3,\"ids\":[5000000003,5000000010],"
                      "\"updated_at\":\"now\"}");
    poll_until_done(&c, sp, 3);
    assert_int_equal(spooled_updated(sp, 5000000003), 1);
    assert_int_equal(spooled_updated(sp, 5000000010), 1);
    distinct_orders(sp, &entries);
    assert_int_equal(entries, 1002);

    /* Now an old order changes within the same second as the cursor (the
     * newest updated_at), and another one a second later (P2). */
    vf_control_ok(&f, "{\"op\":\"update\",\"ids\":[5000000020],\"updated_at\":\"max\"}");
    vf_control_ok(&f, "{\"op\":\"update\",\"ids\":[5000000021],\"updated_at\":\"now\"}");
    poll_until_done(&c, sp, 3);
    assert_int_equal(spooled_updated(sp, 5000000020), 1);
    assert_int_equal(spooled_updated(sp, 5000000021), 1);
    distinct_orders(sp, &entries);
    assert_int_equal(entries, 1004);

    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    oh_spool_free(sp);
    vf_rmrf(dir);
    vf_stop(&f);
}

static void test_webhooks(void **state)
{
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_spool *sp;
    struct vf_req r;
    struct oh_http_resp resp = {0};
    struct vf_list l;
    char dir[64], *ini, sig[64], *raw = NULL;
    size_t rawlen = 0;
    const char *body = "{\"id\":900000000000001,\"created_at\":\"2026-09-04T12:00:00Z\","
                       "\"updated_at\":\"2026-09-04T12:00:00Z\",\"note\":\"caf\xc3\xa9\"}";
    const char *redact = "{\"shop_id\":954889,\"shop_domain\":\"acme.myshopify.com\","
                         "\"customer\":{\"id\":191167,\"email\":\"john@example.com\"},"
                         "\"orders_to_redact\":[299938,280263]}";
    (void)state;

    sp = vf_spool(dir);
    ini = conf_text(NULL, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);

    /* Bad signature: 401, nothing stored. */
    vf_req_init(&r, "shop-a", body);
    vf_req_add(&r, "X-Shopify-Topic", "orders/create");
    vf_req_add(&r, "X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    vf_req_add(&r, "X-Shopify-Hmac-Sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), OH_EPERM);
    assert_int_equal(resp.status, 401);
    vf_list(sp, &l);
    assert_int_equal(l.n, 0);
    free(l.e);

    /* Missing signature: 401 too. */
    vf_req_init(&r, "shop-a", body);
    vf_req_add(&r, "X-Shopify-Topic", "orders/create");
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), OH_EPERM);
    assert_int_equal(resp.status, 401);

    /* Good signature: 200 after the spool holds the exact body. */
    oh_hmac_sha256_b64(SECRET, strlen(SECRET), body, strlen(body), sig);
    vf_req_init(&r, "shop-a", body);
    vf_req_add(&r, "X-Shopify-Topic", "orders/create");
    vf_req_add(&r, "X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    vf_req_add(&r, "X-Shopify-Hmac-Sha256", sig);
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    vf_list(sp, &l);
    assert_int_equal(l.n, 1);
    json_decref(vf_payload(sp, l.e[0].id, &raw, &rawlen));
    assert_int_equal(rawlen, strlen(body));
    assert_memory_equal(raw, body, rawlen);
    assert_string_equal(l.e[0].meta.format, "json");
    assert_non_null(strstr(l.e[0].meta.source, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
    free(raw);
    free(l.e);

    /* Shopify's retry (same webhook id): 200, stored once. */
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    vf_list(sp, &l);
    assert_int_equal(l.n, 1);
    free(l.e);

    /* The body altered by one byte with the old signature: 401. */
    {
        char *tampered = strdup(body);
        tampered[strlen(tampered) - 3] = 'X';
        r.rq.body = tampered;
        assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), OH_EPERM);
        assert_int_equal(resp.status, 401);
        free(tampered);
    }

    /* Privacy topic: spooled as format "privacy" for the daemon. */
    oh_hmac_sha256_b64(SECRET, strlen(SECRET), redact, strlen(redact), sig);
    vf_req_init(&r, "shop-a", redact);
    vf_req_add(&r, "X-Shopify-Topic", "customers/redact");
    vf_req_add(&r, "X-Shopify-Webhook-Id", "redact-1");
    vf_req_add(&r, "X-Shopify-Hmac-Sha256", sig);
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    vf_list(sp, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.e[1].meta.format, "privacy");
    assert_non_null(strstr(l.e[1].meta.source, "customers/redact"));
    free(l.e);

    free(resp.body);
    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    oh_spool_free(sp);
    vf_rmrf(dir);
}

static void test_plain_http_refused(void **state)
{
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    const char *ini = "[channel shop-a]\ntype = shopify\nshop = acme.myshopify.com\n"
                      "access_token = env:OH_TEST_SHOPIFY_TOKEN\n"
                      "base_url = http://acme.example.com\n";
    (void)state;
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), OH_EPERM);
    assert_non_null(strstr(err.msg, "plain http"));
    vf_chan_close(&c);
}

static json_t *pushed_fulfillments(struct vf_fake *f)
{
    json_t *p = vf_control(f, "{\"op\":\"pushed\"}");
    json_t *fl = json_incref(json_object_get(p, "fulfillments")); /* outlives p */
    json_decref(p);
    return fl;
}

static void test_fulfilment_push(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_outbox_msg m = {0};
    char *ini;
    json_t *fl, *x;
    const char *args[] = {"--orders", "20", NULL};
    const char *ship1 = "{\"order_external_id\":\"5000000001\",\"carrier\":\"UPS\","
                        "\"tracking_number\":\"1Z999AA10123456784\"}";
    const char *ship2 = "{\"order\":{\"external_id\":\"5000000002\"},\"carrier\":\"USPS\","
                        "\"tracking_number\":\"9400111899223100000000\"}";
    const char *ship3 = "{\"order_external_id\":\"5000000004\",\"carrier\":\"DHL\","
                        "\"tracking_number\":\"JD014600006281230701\"}";
    (void)state;

    assert_int_equal(vf_start(&f, "shopify_fake.py", args), 0);
    ini = conf_text(&f, "notify_customer = yes\n");
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);
    snprintf(m.event, sizeof(m.event), "shipment.created");

    m.payload = (char *)ship1;
    m.payload_len = strlen(ship1);
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
    /* Delivered again (e.g. the 201 was lost): nothing is fulfilled twice. */
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
    fl = pushed_fulfillments(&f);
    assert_int_equal(json_array_size(fl), 1);
    x = json_array_get(fl, 0);
    assert_int_equal(json_integer_value(json_object_get(x, "order_id")), 5000000001LL);
    assert_string_equal(json_string_value(json_object_get(x, "tracking_number")), "1Z999AA10123456784");
    assert_string_equal(json_string_value(json_object_get(x, "tracking_company")), "UPS");
    assert_true(json_is_true(json_object_get(x, "notify_customer")));
    json_decref(fl);

    /* 5xx on every try: retryable, nothing created. */
    vf_control_ok(&f, "{\"op\":\"faults\",\"next\":[\"503\",\"503\",\"503\",\"503\",\"503\","
                      "\"503\",\"503\",\"503\",\"503\",\"503\"]}");
    m.payload = (char *)ship2;
    m.payload_len = strlen(ship2);
    memset(&err, 0, sizeof(err));
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EAGAIN);
    assert_true(err.retryable);
    fl = pushed_fulfillments(&f);
    assert_int_equal(json_array_size(fl), 1);
    json_decref(fl);
    /* The dispatcher retries later: it goes through once. */
    vf_control_ok(&f, "{\"op\":\"faults\",\"next\":[]}");
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
    fl = pushed_fulfillments(&f);
    assert_int_equal(json_array_size(fl), 2);
    json_decref(fl);

    /* 422: permanent, with Shopify's own message. */
    vf_control_ok(&f, "{\"op\":\"faults\",\"next\":[\"422\"]}");
    m.payload = (char *)ship3;
    m.payload_len = strlen(ship3);
    memset(&err, 0, sizeof(err));
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EINVAL);
    assert_false(err.retryable);
    assert_non_null(strstr(err.msg, "not fulfillable"));
    assert_non_null(strstr(err.msg, "422"));

    /* A line that is not on the order: permanent, no request to create. */
    {
        const char *bad = "{\"order_external_id\":\"5000000005\",\"carrier\":\"UPS\","
                          "\"tracking_number\":\"1Z1\",\"lines\":[{\"sku\":\"NOPE\",\"qty\":1}]}";
        m.payload = (char *)bad;
        m.payload_len = strlen(bad);
        assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EINVAL);
        assert_non_null(strstr(err.msg, "NOPE"));
    }
    /* Partial shipment by SKU: only that line, with its quantity. */
    {
        const char *part = "{\"order_external_id\":\"5000000005\",\"carrier\":\"UPS\","
                           "\"tracking_number\":\"1Z2\",\"lines\":[{\"sku\":\"SKU-6\",\"qty\":1}]}";
        json_t *req, *items;
        m.payload = (char *)part;
        m.payload_len = strlen(part);
        assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
        fl = pushed_fulfillments(&f);
        assert_int_equal(json_array_size(fl), 3);
        req = json_object_get(json_object_get(json_array_get(fl, 2), "request"), "fulfillment");
        items = json_object_get(json_array_get(json_object_get(req, "line_items_by_fulfillment_order"), 0),
                                "fulfillment_order_line_items");
        assert_int_equal(json_array_size(items), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "quantity")), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "id")),
                         50000000051LL * 10 + 1);
        json_decref(fl);
    }

    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    vf_stop(&f);
}

static void test_inventory_push(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_outbox_msg m = {0};
    char *ini, map[] = "/tmp/oh-test-invmap-XXXXXX", extra[256];
    const char *args[] = {"--orders", "1", NULL};
    const char *inv = "{\"sku\":\"SKU-7\",\"location\":\"main\",\"available\":42}";
    json_t *p, *sets;
    int fd;
    (void)state;

    fd = mkstemp(map);
    assert_true(fd >= 0);
    assert_int_equal(oh_write_all(fd, "sku,inventory_item_id\nSKU-7,808950810\n", 38), 0);
    close(fd);
    assert_int_equal(vf_start(&f, "shopify_fake.py", args), 0);
    snprintf(extra, sizeof(extra), "inventory_map = %s\nlocation_id = 905684977\n", map);
    ini = conf_text(&f, extra);
    assert_int_equal(vf_chan_open(&c, &oh_connector_shopify, ini, &t, &err), 0);
    snprintf(m.event, sizeof(m.event), "inventory.changed");
    m.payload = (char *)inv;
    m.payload_len = strlen(inv);
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
    p = vf_control(&f, "{\"op\":\"pushed\"}");
    sets = json_object_get(p, "inventory_sets");
    assert_int_equal(json_array_size(sets), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sets, 0), "inventory_item_id")), 808950810);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sets, 0), "location_id")), 905684977);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sets, 0), "available")), 42);
    json_decref(p);

    /* An unmapped SKU is a permanent failure naming it. */
    inv = "{\"sku\":\"UNKNOWN-1\",\"available\":1}";
    m.payload = (char *)inv;
    m.payload_len = strlen(inv);
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EINVAL);
    assert_false(err.retryable);
    assert_non_null(strstr(err.msg, "UNKNOWN-1"));

    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    unlink(map);
    vf_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_http_refused, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_webhooks, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_fulfilment_push, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_inventory_push, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_restart_mid_sync, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_updates_during_sync_and_same_second, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_poll_5000_with_faults, setup, vf_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
