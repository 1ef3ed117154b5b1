/* test_woocommerce.c — the WooCommerce connector against
 * tests/fakes/woocommerce_fake.py: pages with faults, restart, orders
 * modified while paging (page shift) and within the cursor's second,
 * webhook signature, ping and duplicates, order completion and stock push. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include <cmocka.h>

#include "vendor_fake.h"

extern const struct oh_connector oh_connector_woocommerce;

#define SECRET "woo-hook-secret"

static char *conf_text(const struct vf_fake *f, const char *extra)
{
    char *s = NULL;
    if (asprintf(&s,
                 "[channel woo-main]\n"
                 "type = woocommerce\n"
                 "url = https://shop.example.com\n"
                 "consumer_key = env:OH_TEST_WOO_CK\n"
                 "consumer_secret = env:OH_TEST_WOO_CS\n"
                 "webhook_secret = env:OH_TEST_WOO_SECRET\n"
                 "base_url = %s\n"
                 "http_attempts = 8\n%s",
                 f ? f->base : "http://127.0.0.1:1", extra ? extra : "") < 0)
        abort();
    return s;
}

static int setup(void **state)
{
    (void)state;
    setenv("OH_TEST_WOO_CK", "ck_test_key", 1);
    setenv("OH_TEST_WOO_CS", "cs_test_secret", 1);
    setenv("OH_TEST_WOO_SECRET", SECRET, 1);
    oh_http_set_default_sleep(vf_record_sleep, NULL);
    vf_nwaits = 0;
    return 0;
}

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
        assert_true(json_is_object(o));
        assert_string_equal(l.e[i].meta.format, "json");
        id = json_integer_value(json_object_get(o, "id"));
        assert_true(id > 0);
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

static int spooled_updated(struct oh_spool *sp, long long id)
{
    struct vf_list l;
    int n = 0;
    vf_list(sp, &l);
    for (size_t i = 0; i < l.n; i++) {
        json_t *o = vf_payload(sp, l.e[i].id, NULL, NULL);
        const char *note = json_string_value(json_object_get(o, "customer_note"));
        if (json_integer_value(json_object_get(o, "id")) == id && note && strncmp(note, "updated", 7) == 0)
            n++;
        json_decref(o);
    }
    free(l.e);
    return n;
}

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

static void test_pages_with_faults(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_spool *sp;
    char dir[64], *ini;
    size_t entries;
    const char *args[] = {"--orders", "3000", NULL};
    json_t *inj;
    (void)state;

    assert_int_equal(vf_start(&f, "woocommerce_fake.py", args), 0);
    vf_control_ok(&f, "{\"op\":\"faults\",\"rate_429\":0.1,\"rate_500\":0.1,\"rate_drop\":0.03,"
                      "\"rate_truncate\":0.05}");
    sp = vf_spool(dir);
    ini = conf_text(&f, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce, ini, &t, &err), 0);
    poll_until_done(&c, sp, 20);
    assert_int_equal(distinct_orders(sp, &entries), 3000);
    assert_int_equal(entries, 3000);
    assert_string_equal(vf_cursor(&t, "orders.modified_gmt"), "2025-01-01T00:16:39.000Z");
    inj = vf_control(&f, "{\"op\":\"injected\"}");
    assert_true(json_integer_value(json_object_get(inj, "500")) > 0);
    json_decref(inj);
    vf_chan_close(&c);
    free(ini);

    /* Restart with a request budget: nothing new, nothing spooled twice. */
    ini = conf_text(&f, "max_requests = 2\n");
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce, ini, &t, &err), 0);
    vf_control_ok(&f, "{\"op\":\"faults\",\"rate_429\":0,\"rate_500\":0,\"rate_drop\":0,\"rate_truncate\":0}");
    poll_until_done(&c, sp, 10);
    distinct_orders(sp, &entries);
    assert_int_equal(entries, 3000);
    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    oh_spool_free(sp);
    vf_rmrf(dir);
    vf_stop(&f);
}

static void test_restart_and_moving_orders(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_spool *sp;
    char dir[64], *ini;
    size_t entries;
    const char *args[] = {"--orders", "1000", NULL};
    (void)state;

    assert_int_equal(vf_start(&f, "woocommerce_fake.py", args), 0);
    sp = vf_spool(dir);
    ini = conf_text(&f, "max_requests = 3\n");
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce, ini, &t, &err), 0);
    /* While paging, orders from the first page are modified: with plain
     * page numbers everything after them would shift and one order per
     * moved order would be skipped at the next page boundary. */
    vf_control_ok(&f, "{\"op\":\"update_after\",\"n\":2,\"ids\":[10001,10002,10005],\"updated_at\":\"now\"}");
    assert_int_equal(c.ch.conn->poll(&c.ch, sp, &err), OH_EAGAIN);
    assert_true(err.retryable);
    assert_non_null(vf_cursor(&t, "orders.modified_gmt"));
    vf_chan_close(&c); /* restart: new channel state, same cursor table */
    free(ini);
    ini = conf_text(&f, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce, ini, &t, &err), 0);
    poll_until_done(&c, sp, 5);
    assert_int_equal(distinct_orders(sp, &entries), 1000);
    assert_int_equal(entries, 1003);
    assert_int_equal(spooled_updated(sp, 10001), 1);
    assert_int_equal(spooled_updated(sp, 10005), 1);

    /* Same second as the cursor, and a second later. */
    vf_control_ok(&f, "{\"op\":\"update\",\"ids\":[10020],\"updated_at\":\"max\"}");
    vf_control_ok(&f, "{\"op\":\"update\",\"ids\":[10021],\"updated_at\":\"now\"}");
    poll_until_done(&c, sp, 3);
    assert_int_equal(spooled_updated(sp, 10020), 1);
    assert_int_equal(spooled_updated(sp, 10021), 1);
    distinct_orders(sp, &entries);
    assert_int_equal(entries, 1005);

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
    char dir[64], *ini, sig[64], *body = NULL, *raw = NULL;
    size_t len, rawlen;
    (void)state;

    assert_int_equal(oh_read_file(OH_FIXTURES "/woocommerce/order-single-v3-rest-docs.json", 0, &body,
                                  &len, &err), 0);
    sp = vf_spool(dir);
    ini = conf_text(NULL, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce, ini, &t, &err), 0);

    /* The creation ping: 200, nothing stored. */
    vf_req_init(&r, "woo-main", "webhook_id=17");
    vf_req_add(&r, "Content-Type", "application/x-www-form-urlencoded");
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    vf_list(sp, &l);
    assert_int_equal(l.n, 0);
    free(l.e);

    /* Bad and missing signatures: 401, nothing stored. */
    vf_req_init(&r, "woo-main", body);
    vf_req_add(&r, "X-WC-Webhook-Topic", "order.updated");
    vf_req_add(&r, "X-WC-Webhook-Signature", "bm90IHRoZSBzaWduYXR1cmU=");
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), OH_EPERM);
    assert_int_equal(resp.status, 401);
    vf_req_init(&r, "woo-main", body);
    vf_req_add(&r, "X-WC-Webhook-Topic", "order.updated");
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), OH_EPERM);
    assert_int_equal(resp.status, 401);
    vf_list(sp, &l);
    assert_int_equal(l.n, 0);
    free(l.e);

    /* Signed: stored byte for byte, once per delivery id. */
    oh_hmac_sha256_b64(SECRET, strlen(SECRET), body, len, sig);
    vf_req_init(&r, "woo-main", body);
    vf_req_add(&r, "X-WC-Webhook-Topic", "order.updated");
    vf_req_add(&r, "X-WC-Webhook-Delivery-ID", "0b6ac0d9a6e2f7c2b0b3");
    vf_req_add(&r, "X-WC-Webhook-Signature", sig);
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    vf_list(sp, &l);
    assert_int_equal(l.n, 1);
    json_decref(vf_payload(sp, l.e[0].id, &raw, &rawlen));
    assert_int_equal(rawlen, len);
    assert_memory_equal(raw, body, len);
    free(raw);
    free(l.e);

    /* order.deleted ({"id":N}) is acknowledged but not stored. */
    {
        const char *del = "{\"id\":727}";
        oh_hmac_sha256_b64(SECRET, strlen(SECRET), del, strlen(del), sig);
        vf_req_init(&r, "woo-main", del);
        vf_req_add(&r, "X-WC-Webhook-Topic", "order.deleted");
        vf_req_add(&r, "X-WC-Webhook-Signature", sig);
        assert_int_equal(c.ch.conn->webhook(&c.ch, &r.rq, sp, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        vf_list(sp, &l);
        assert_int_equal(l.n, 1);
        free(l.e);
    }

    free(resp.body);
    free(body);
    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    oh_spool_free(sp);
    vf_rmrf(dir);
}

static void test_push(void **state)
{
    struct vf_fake f;
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    struct oh_outbox_msg m = {0};
    char *ini;
    json_t *p, *o;
    const char *args[] = {"--orders", "10", NULL};
    const char *ship = "{\"order_external_id\":\"10003\",\"carrier\":\"UPS\","
                       "\"tracking_number\":\"1Z999AA10123456784\"}";
    const char *inv = "{\"sku\":\"SKU-12\",\"location\":\"main\",\"available\":\"7\"}";
    (void)state;

    assert_int_equal(vf_start(&f, "woocommerce_fake.py", args), 0);
    ini = conf_text(&f, NULL);
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce, ini, &t, &err), 0);
    snprintf(m.event, sizeof(m.event), "shipment.created");
    m.payload = (char *)ship;
    m.payload_len = strlen(ship);

    /* 5xx on the status update: retryable; the note made it already. */
    vf_control_ok(&f, "{\"op\":\"faults\",\"next\":[null,null,\"503\",\"503\",\"503\",\"503\","
                      "\"503\",\"503\",\"503\",\"503\"]}");
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EAGAIN);
    assert_true(err.retryable);
    /* The retry completes the order without a second note. */
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
    p = vf_control(&f, "{\"op\":\"pushed\"}");
    assert_int_equal(json_array_size(json_object_get(p, "notes")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(p, "notes"), 0), "note")),
                           "1Z999AA10123456784"));
    assert_int_equal(json_array_size(json_object_get(p, "order_updates")), 1);
    json_decref(p);
    o = vf_control(&f, "{\"op\":\"order\",\"id\":10003}");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "completed");
    json_decref(o);

    /* Unknown order: permanent, with WooCommerce's message. */
    ship = "{\"order_external_id\":\"99\",\"carrier\":\"UPS\",\"tracking_number\":\"1Z1\"}";
    m.payload = (char *)ship;
    m.payload_len = strlen(ship);
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EINVAL);
    assert_false(err.retryable);
    assert_non_null(strstr(err.msg, "Invalid order ID."));

    /* Stock through products/batch. */
    snprintf(m.event, sizeof(m.event), "inventory.changed");
    m.payload = (char *)inv;
    m.payload_len = strlen(inv);
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), 0);
    p = vf_control(&f, "{\"op\":\"pushed\"}");
    o = json_array_get(json_object_get(json_array_get(json_object_get(p, "product_batches"), 0), "update"), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 112);
    assert_int_equal(json_integer_value(json_object_get(o, "stock_quantity")), 7);
    json_decref(p);
    inv = "{\"sku\":\"NOPE\",\"available\":1}";
    m.payload = (char *)inv;
    m.payload_len = strlen(inv);
    assert_int_equal(c.ch.conn->deliver(&c.ch, &m, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "NOPE"));

    vf_chan_close(&c);
    vf_table_free(&t);
    free(ini);
    vf_stop(&f);
}

static void test_config_errors(void **state)
{
    struct vf_table t = {0};
    struct vf_chan c;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce,
                                  "[channel w]\ntype = woocommerce\nurl = http://shop.example.com\n"
                                  "consumer_key = env:OH_TEST_WOO_CK\nconsumer_secret = env:OH_TEST_WOO_CS\n",
                                  &t, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "https"));
    vf_chan_close(&c);
    assert_int_equal(vf_chan_open(&c, &oh_connector_woocommerce,
                                  "[channel w]\ntype = woocommerce\nurl = https://shop.example.com\n"
                                  "base_url = http://10.0.0.1\n"
                                  "consumer_key = env:OH_TEST_WOO_CK\nconsumer_secret = env:OH_TEST_WOO_CS\n",
                                  &t, &err), OH_EPERM);
    vf_chan_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_errors, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_webhooks, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_push, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_moving_orders, setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_pages_with_faults, setup, vf_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
