/* test_http_client.c — the shared HTTP client: URL policy, header parsers,
 * outcome classification, retries and Retry-After against the Shopify fake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include <cmocka.h>

#include "vendor_fake.h"

static void test_url_policy(void **state)
{
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(oh_http_url_check("https://acme.myshopify.com/admin", &err), 0);
    assert_int_equal(oh_http_url_check("http://127.0.0.1:8080/x", &err), 0);
    assert_int_equal(oh_http_url_check("http://127.3.4.5/x", &err), 0);
    assert_int_equal(oh_http_url_check("http://localhost:1/x", &err), 0);
    assert_int_equal(oh_http_url_check("http://[::1]:99/x", &err), 0);
    assert_int_equal(oh_http_url_check("http://example.com/x", &err), OH_EPERM);
    assert_non_null(strstr(err.msg, "plain http"));
    assert_int_equal(oh_http_url_check("http://127.0.0.1.evil.com/x", &err), OH_EPERM);
    assert_int_equal(oh_http_url_check("http://localhost.evil.com/", &err), OH_EPERM);
    assert_int_equal(oh_http_url_check("http://user@example.com/", &err), OH_EPERM);
    assert_int_equal(oh_http_url_check("http://[::2]/", &err), OH_EPERM);
    assert_int_equal(oh_http_url_check("ftp://127.0.0.1/", &err), OH_EINVAL);
}

static void test_parsers(void **state)
{
    char *next = NULL, msg[256];
    int64_t ms = 0;
    (void)state;

    assert_int_equal(oh_http_link_next("<https://a/o.json?page_info=p>; rel=\"previous\", "
                                       "<https://a/o.json?page_info=n&limit=250>; rel=\"next\"",
                                       &next), 0);
    assert_string_equal(next, "https://a/o.json?page_info=n&limit=250");
    free(next);
    assert_int_equal(oh_http_link_next("<https://a/x>; rel=\"previous\"", &next), OH_ENOTFOUND);
    assert_int_equal(oh_http_link_next("<https://w/x?page=2>; rel=next", &next), 0);
    assert_string_equal(next, "https://w/x?page=2");
    free(next);

    assert_int_equal(oh_http_parse_retry_after("2", 0, &ms), 0);
    assert_int_equal(ms, 2000);
    assert_int_equal(oh_http_parse_retry_after("2.5", 0, &ms), 0);
    assert_int_equal(ms, 2500);
    assert_int_equal(oh_http_parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT",
                                               1445412480000LL, &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(oh_http_parse_retry_after("soon", 0, &ms), OH_EINVAL);

    {
        const char *b = "{\"errors\":{\"email\":[\"has already been taken\"]}}";
        oh_http_vendor_message(b, strlen(b), msg, sizeof(msg));
    }
    assert_string_equal(msg, "email: has already been taken");
    oh_http_vendor_message("{\"errors\":\"Not Found\"}", 22, msg, sizeof(msg));
    assert_string_equal(msg, "Not Found");
    {
        const char *b = "{\"code\":\"woocommerce_rest_shop_order_invalid_id\",\"message\":\"Invalid ID.\","
                        "\"data\":{\"status\":404}}";
        oh_http_vendor_message(b, strlen(b), msg, sizeof(msg));
    }
    assert_string_equal(msg, "Invalid ID. (woocommerce_rest_shop_order_invalid_id)");
    oh_http_vendor_message("<html>oops</html>", 17, msg, sizeof(msg));
    assert_string_equal(msg, "<html>oops</html>");

    assert_int_equal(oh_http_parse_time("2008-01-10T11:00:00-05:00", &ms), 0);
    assert_int_equal(ms, 1199980800000LL);
    assert_int_equal(oh_http_parse_time("2008-01-10T16:00:00Z", &ms), 0);
    assert_int_equal(ms, 1199980800000LL);
    assert_int_equal(oh_http_parse_time("2008-01-10T16:00:00", &ms), 0); /* _gmt fields */
    assert_int_equal(ms, 1199980800000LL);
    assert_int_equal(oh_http_parse_time("2008-01-10T16:00:00.250Z", &ms), 0);
    assert_int_equal(ms, 1199980800250LL);
    assert_int_equal(oh_http_parse_time("2008-01-10", &ms), OH_EINVAL);
}

struct elems {
    char got[8][64];
    int n;
};

static int collect(const char *e, size_t len, void *ud)
{
    struct elems *x = ud;
    snprintf(x->got[x->n++], 64, "%.*s", (int)len, e);
    return 0;
}

static void test_json_elements(void **state)
{
    struct elems x = {0};
    struct oh_err err = {0};
    const char *page = "{\"meta\":{\"a\":[1,\"]\"]},\"orders\":[ {\"id\":1,\"s\":\"x\\\"}\"} ,"
                       "{\"id\":2,\"l\":[{}]}\n]}";
    (void)state;
    assert_int_equal(oh_json_each_element(page, strlen(page), "orders", collect, &x, &err), 0);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.got[0], "{\"id\":1,\"s\":\"x\\\"}\"}");
    assert_string_equal(x.got[1], "{\"id\":2,\"l\":[{}]}");
    x.n = 0;
    assert_int_equal(oh_json_each_element("[{\"a\":1},2]", 11, NULL, collect, &x, &err), 0);
    assert_int_equal(x.n, 2);
    x.n = 0;
    /* Truncated: an error, never a silently shorter page. */
    assert_int_equal(oh_json_each_element(page, strlen(page) / 2, "orders", collect, &x, &err),
                     OH_EINVAL);
    assert_int_equal(oh_json_each_element("{\"x\":[]}", 8, "orders", collect, &x, &err), OH_ENOTFOUND);
}

static struct vf_fake fake;

static int start_fake(void **state)
{
    const char *args[] = {"--orders", "3", NULL};
    (void)state;
    oh_http_set_default_sleep(vf_record_sleep, NULL);
    return vf_start(&fake, "shopify_fake.py", args);
}

static int stop_fake(void **state)
{
    (void)state;
    vf_stop(&fake);
    return 0;
}

static int get(struct oh_http_client *c, const char *token, struct oh_http_response *r,
               struct oh_err *err)
{
    char url[256], hdr[128];
    const char *h[] = {hdr, NULL};
    struct oh_http_request rq = {.method = "GET", .url = url, .headers = h};
    snprintf(url, sizeof(url), "%s/admin/api/2024-10/orders.json?status=any", fake.base);
    snprintf(hdr, sizeof(hdr), "X-Shopify-Access-Token: %s", token);
    return oh_http_do(c, &rq, r, err);
}

static void test_classification_and_retries(void **state)
{
    struct oh_http_client *c = NULL;
    struct oh_http_client_opts o;
    struct oh_http_response r;
    struct oh_err err = {0};
    (void)state;

    oh_http_client_opts_default(&o);
    o.max_attempts = 4;
    assert_int_equal(oh_http_client_new(&o, &c, &err), 0);

    /* OK, with response headers captured. */
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(oh_http_response_header(&r, "x-shopify-shop-api-call-limit"));
    assert_int_equal(r.attempts, 1);
    oh_http_response_free(&r);

    /* 401: FAIL at once, with the vendor's message. */
    assert_int_equal(get(c, "wrong", &r, &err), OH_EPERM);
    assert_false(err.retryable);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(err.msg, "Invalid API key or access token"));
    oh_http_response_free(&r);

    /* 500, 503, then OK: retried with backoff. */
    vf_nwaits = 0;
    vf_control_ok(&fake, "{\"op\":\"faults\",\"next\":[\"500\",\"503\"]}");
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(vf_nwaits, 2);
    /* full jitter in [base/2, base] then [base, 2*base] */
    assert_true(vf_waits[0] >= 250 && vf_waits[0] <= 500);
    assert_true(vf_waits[1] >= 500 && vf_waits[1] <= 1000);
    oh_http_response_free(&r);

    /* A dropped connection is a transport error: retried (by us, or by
     * curl itself when the dropped connection was a reused one). */
    vf_control_ok(&fake, "{\"op\":\"faults\",\"next\":[\"drop\",\"drop\"]}");
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    assert_true(r.attempts >= 2);
    oh_http_response_free(&r);

    /* 429 with Retry-After: 1.0 -> exactly that wait was requested. */
    vf_nwaits = 0;
    vf_control_ok(&fake, "{\"op\":\"faults\",\"next\":[\"429\"]}");
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(vf_nwaits, 1);
    assert_int_equal(vf_waits[0], 1000);
    oh_http_response_free(&r);

    /* Retries exhausted: RETRY with the server's Retry-After handed back. */
    vf_control_ok(&fake, "{\"op\":\"faults\",\"next\":[\"503\",\"503\",\"503\",\"429\"]}");
    assert_int_equal(get(c, "shpat_test_token", &r, &err), OH_EAGAIN);
    assert_true(err.retryable);
    assert_int_equal(err.retry_after_ms, 1000);
    assert_int_equal(r.attempts, 4);
    oh_http_response_free(&r);
    oh_http_client_free(c);

    /* Response size limit. */
    o.max_response = 1000;
    assert_int_equal(oh_http_client_new(&o, &c, &err), 0);
    assert_int_equal(get(c, "shpat_test_token", &r, &err), OH_ETOOBIG);
    oh_http_response_free(&r);
    oh_http_client_free(c);

    /* Request budget per period. */
    oh_http_client_opts_default(&o);
    o.budget = 2;
    assert_int_equal(oh_http_client_new(&o, &c, &err), 0);
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    oh_http_response_free(&r);
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    oh_http_response_free(&r);
    assert_int_equal(oh_http_client_budget_left(c), 0);
    assert_int_equal(get(c, "shpat_test_token", &r, &err), OH_EAGAIN);
    assert_non_null(strstr(err.msg, "budget"));
    oh_http_response_free(&r);
    oh_http_client_reset_budget(c);
    assert_int_equal(get(c, "shpat_test_token", &r, &err), 0);
    oh_http_response_free(&r);
    oh_http_client_free(c);
}

static void test_transport_error_is_retry(void **state)
{
    struct oh_http_client *c = NULL;
    struct oh_http_client_opts o;
    struct oh_http_response r;
    struct oh_http_request rq = {.method = "GET", .url = "http://127.0.0.1:1/nothing"};
    struct oh_err err = {0};
    (void)state;
    oh_http_client_opts_default(&o);
    o.max_attempts = 2;
    assert_int_equal(oh_http_client_new(&o, &c, &err), 0);
    assert_int_equal(oh_http_do(c, &rq, &r, &err), OH_EAGAIN);
    assert_true(err.retryable);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.attempts, 2);
    oh_http_response_free(&r);
    /* Plain http to a non-loopback host never leaves the process. */
    rq.url = "http://example.com/";
    assert_int_equal(oh_http_do(c, &rq, &r, &err), OH_EPERM);
    assert_int_equal(r.attempts, 0);
    oh_http_response_free(&r);
    oh_http_client_free(c);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_url_policy),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_json_elements),
        cmocka_unit_test(test_transport_error_is_retry),
    };
    const struct CMUnitTest net[] = {
        cmocka_unit_test(test_classification_and_retries),
    };
    int rc = cmocka_run_group_tests(pure, NULL, NULL);
    return rc + cmocka_run_group_tests(net, start_fake, stop_fake);
}
