/* test_core_canonical.c — canonical order validation and normalisation (DESIGN §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "canonical.h"
#include "util.h"

static const char *GOOD =
    "{\"external_id\": 1001, \"number\": \"#1001\", \"placed_at\": \"2026-11-20T10:02:31+01:00\","
    " \"updated_at\": \"2026-11-20T09:02:31.5Z\", \"currency\": \"eur\", \"total\": \"64.70\","
    " \"ship_to\": {\"name\": \"A\", \"country\": \"de\"},"
    " \"lines\": [{\"sku\": \"MUG\", \"qty\": 2, \"unit_price\": \"19.90\"},"
    "             {\"sku\": \"TEA\", \"qty\": \"1.5\", \"line_no\": \"7\"}]}";

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

static void expect_error(const char *text, const char *msg)
{
    json_t *o = load(text);
    struct oh_err err;
    oh_err_clear(&err);
    assert_int_equal(oh_canonical_order_check(o, "shop", &err), OH_EINVAL);
    if (!strstr(err.msg, msg))
        fail_msg("error '%s' does not contain '%s'", err.msg, msg);
    json_decref(o);
}

static void test_normalises_a_good_order(void **state)
{
    (void)state;
    json_t *o = load(GOOD);
    struct oh_err err;
    if (oh_canonical_order_check(o, "shop", &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(json_string_value(json_object_get(o, "channel")), "shop");
    assert_string_equal(json_string_value(json_object_get(o, "external_id")), "1001");
    assert_string_equal(json_string_value(json_object_get(o, "placed_at")), "2026-11-20T09:02:31Z");
    assert_string_equal(json_string_value(json_object_get(o, "updated_at")), "2026-11-20T09:02:31.500Z");
    assert_string_equal(json_string_value(json_object_get(o, "currency")), "EUR");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "ship_to"), "country")), "DE");
    json_t *l0 = json_array_get(json_object_get(o, "lines"), 0);
    json_t *l1 = json_array_get(json_object_get(o, "lines"), 1);
    assert_string_equal(json_string_value(json_object_get(l0, "qty")), "2");
    assert_int_equal(json_integer_value(json_object_get(l0, "line_no")), 1);
    assert_int_equal(json_integer_value(json_object_get(l1, "line_no")), 7);
    assert_string_equal(json_string_value(json_object_get(l0, "unit_price")), "19.90");
    json_decref(o);
}

static void test_hash_is_stable_and_content_sensitive(void **state)
{
    (void)state;
    json_t *a = load(GOOD), *b = load(GOOD);
    char ha[65], hb[65];
    struct oh_err err;
    assert_int_equal(oh_canonical_order_check(a, "shop", &err), 0);
    assert_int_equal(oh_canonical_order_check(b, "shop", &err), 0);
    oh_canonical_hash(a, ha);
    oh_canonical_hash(b, hb);
    assert_string_equal(ha, hb);
    json_object_set_new(b, "total", json_string("64.71"));
    oh_canonical_hash(b, hb);
    assert_string_not_equal(ha, hb);
    json_decref(a);
    json_decref(b);
}

static void test_rejections_name_the_field(void **state)
{
    (void)state;
    expect_error("{\"lines\":[{\"sku\":\"A\",\"qty\":\"1\"}]}", "external_id: required but missing");
    expect_error("{\"external_id\":\"\",\"lines\":[{\"sku\":\"A\",\"qty\":\"1\"}]}", "external_id: required but empty");
    expect_error("{\"external_id\":\"1\"}", "lines: an order needs at least one line");
    expect_error("{\"external_id\":\"1\",\"lines\":[]}", "lines: an order needs at least one line");
    expect_error("{\"external_id\":\"1\",\"lines\":[{\"qty\":\"1\"}]}", "lines[0].sku: required but missing");
    expect_error("{\"external_id\":\"1\",\"lines\":[{\"sku\":\"A\"}]}", "lines[0].qty: required but missing");
    expect_error("{\"external_id\":\"1\",\"lines\":[{\"sku\":\"A\",\"qty\":\"1\"},{\"sku\":\"B\",\"qty\":\"-1\"}]}",
                 "lines[1].qty: \"-1\" must be greater than 0");
    expect_error("{\"external_id\":\"1\",\"lines\":[{\"sku\":\"A\",\"qty\":\"0.000\"}]}", "must be greater than 0");
    expect_error("{\"external_id\":\"1\",\"currency\":\"EURO\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}", "currency: \"EURO\" is not an ISO 4217 code");
    expect_error("{\"external_id\":\"1\",\"currency\":\"XXY\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "currency: \"XXY\" is not an ISO 4217 code");
    expect_error("{\"external_id\":\"1\",\"bill_to\":{\"country\":\"Germany\"},\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "bill_to.country: \"Germany\" is not an ISO 3166 alpha-2 code");
    expect_error("{\"external_id\":\"1\",\"total\":\"1e3\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "total: \"1e3\" is not a decimal");
    expect_error("{\"external_id\":\"1\",\"total\":12.5,\"lines\":[{\"sku\":\"A\",\"qty\":1}]}", "binary floating-point");
    expect_error("{\"external_id\":\"1\",\"total\":\"1.23456\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}", "at most 4 decimals");
    expect_error("{\"external_id\":\"1\",\"placed_at\":\"yesterday\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "placed_at: \"yesterday\" is not an ISO-8601 date-time");
    expect_error("{\"external_id\":\"1\",\"placed_at\":\"2026-02-30T00:00:00Z\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "placed_at");
    expect_error("{\"external_id\":\"1\",\"status\":\"paid\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "status: \"paid\" is not an order state");
    expect_error("{\"external_id\":\"1\",\"colour\":\"red\",\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "colour: not a field of the canonical order");
    expect_error("{\"external_id\":\"1\",\"ship_to\":{\"contry\":\"DE\"},\"lines\":[{\"sku\":\"A\",\"qty\":1}]}",
                 "ship_to.contry: not a field");
    expect_error("{\"external_id\":\"1\",\"lines\":[{\"sku\":\"A\",\"qty\":1,\"line_no\":\"x\"}]}", "lines[0].line_no");
    expect_error("[1,2]", "must be a JSON object");
}

static void expect_shipment_error(const char *text, const char *msg)
{
    json_t *o = load(text);
    struct oh_err err;
    oh_err_clear(&err);
    assert_int_equal(oh_canonical_shipment_check(o, "wms", &err), OH_EINVAL);
    if (!strstr(err.msg, msg))
        fail_msg("error '%s' does not contain '%s'", err.msg, msg);
    json_decref(o);
}

static void test_shipments(void **state)
{
    json_t *s = load("{\"external_id\": 77, \"order_ref\": {\"external_id\": 1001},"
                     " \"shipped_at\": \"2026-11-23T10:15:00+01:00\", \"carrier\": \"ups\","
                     " \"packages\": [{\"weight\": 1}], \"label\": {\"format\": \"zpl\"},"
                     " \"lines\": [{\"line_no\": \"2\", \"qty\": 3}, {\"sku\": \"A\", \"qty\": \"0.5\"}]}");
    struct oh_err err;
    json_t *l;

    (void)state;
    oh_err_clear(&err);
    assert_int_equal(oh_canonical_shipment_check(s, "wms", &err), 0);
    assert_string_equal(json_string_value(json_object_get(s, "channel")), "wms");
    assert_string_equal(json_string_value(json_object_get(s, "external_id")), "77");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "order_ref"), "external_id")), "1001");
    assert_string_equal(json_string_value(json_object_get(s, "shipped_at")), "2026-11-23T09:15:00Z");
    l = json_array_get(json_object_get(s, "lines"), 0);
    assert_int_equal(json_integer_value(json_object_get(l, "line_no")), 2);
    assert_string_equal(json_string_value(json_object_get(l, "qty")), "3");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(s, "packages"), 0), "weight")), "1");
    json_decref(s);

    expect_shipment_error("{\"order_ref\":{\"external_id\":\"1\"}}", "external_id: required but missing");
    expect_shipment_error("{\"external_id\":\"S\"}", "order_ref.external_id: required but missing");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"number\":\"#1\"}}",
                          "order_ref.external_id: required but missing");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"external_id\":\"1\"},\"tracking\":\"x\"}",
                          "tracking: not a field of the canonical shipment");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"external_id\":\"1\"},"
                          "\"lines\":[{\"sku\":\"A\",\"qty\":\"0\"}]}",
                          "lines[0].qty: \"0\" must be greater than 0");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"external_id\":\"1\"},"
                          "\"lines\":[{\"qty\":\"1\"}]}",
                          "lines[0]: names no order line");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"external_id\":\"1\"},"
                          "\"label\":{\"format\":\"gif\"}}",
                          "label.format: \"gif\" is not pdf, zpl or png");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"external_id\":\"1\"},"
                          "\"shipped_at\":\"yesterday\"}",
                          "shipped_at: \"yesterday\" is not an ISO-8601 date-time");
    expect_shipment_error("{\"external_id\":\"S\",\"order_ref\":{\"external_id\":\"1\"},"
                          "\"packages\":[{\"weight\":1.5}]}",
                          "packages[0].weight: a binary floating-point number");
}

static void test_inventory(void **state)
{
    static const struct {
        const char *in, *available;
    } ok[] = {
        { "{\"sku\":\"A\",\"on_hand\":\"12\",\"reserved\":\"2.5\"}", "9.5" },
        { "{\"sku\":\"A\",\"on_hand\":5}", "5" },
        { "{\"sku\":\"A\",\"on_hand\":\"1\",\"reserved\":\"3\"}", "-2" },
        { "{\"sku\":\"A\",\"on_hand\":\"0.0001\",\"reserved\":\"0.0001\"}", "0" },
        { "{\"sku\":\"A\",\"on_hand\":\"9\",\"available\":\"4\"}", "4" },
        { "{\"sku\":\"A\",\"available\":\"-1\"}", "-1" },
    };
    struct oh_err err;
    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *o = load(ok[i].in);
        oh_err_clear(&err);
        if (oh_canonical_inventory_check(o, "wms", &err) < 0)
            fail_msg("%s: %s", ok[i].in, err.msg);
        assert_string_equal(json_string_value(json_object_get(o, "available")), ok[i].available);
        assert_string_equal(json_string_value(json_object_get(o, "channel")), "wms");
        json_decref(o);
    }
    static const char *const bad[][2] = {
        { "{\"on_hand\":\"1\"}", "sku: required but missing" },
        { "{\"sku\":\"A\"}", "on_hand or available: one of them is required" },
        { "{\"sku\":\"A\",\"on_hand\":1.5}", "on_hand: a binary floating-point number" },
        { "{\"sku\":\"A\",\"on_hand\":\"1\",\"bin\":\"B7\"}",
          "bin: not a field of the canonical inventory record" },
        { "{\"sku\":\"A\",\"on_hand\":\"1\",\"updated_at\":\"soon\"}",
          "updated_at: \"soon\" is not an ISO-8601 date-time" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *o = load(bad[i][0]);
        oh_err_clear(&err);
        assert_int_equal(oh_canonical_inventory_check(o, "wms", &err), OH_EINVAL);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("error '%s' does not contain '%s'", err.msg, bad[i][1]);
        json_decref(o);
    }
}

static void test_decimal_and_time_helpers(void **state)
{
    (void)state;
    int64_t ms;
    int frac;
    char out[32];
    assert_true(oh_decimal_valid("0", 4));
    assert_true(oh_decimal_valid("-12.3400", 4));
    assert_false(oh_decimal_valid("12.", 4));
    assert_false(oh_decimal_valid(".5", 4));
    assert_false(oh_decimal_valid("1,5", 4));
    assert_false(oh_decimal_valid("1234567890123456", 4)); /* 16 integer digits: over DECIMAL(19,4) */
    assert_int_equal(oh_time_parse_iso8601("1970-01-01T00:00:00Z", &ms, &frac), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(oh_time_parse_iso8601("2026-11-23T01:30:00+05:30", &ms, &frac), 0);
    oh_time_format_utc(ms, frac, out);
    assert_string_equal(out, "2026-11-22T20:00:00Z");
    assert_int_equal(oh_time_parse_iso8601("2024-02-29", &ms, &frac), 0);
    oh_time_format_utc(ms, 0, out);
    assert_string_equal(out, "2024-02-29T00:00:00Z");
    assert_int_equal(oh_time_parse_iso8601("2026-11-23T10:00:00.123456-02:00", &ms, &frac), 0);
    assert_true(frac);
    oh_time_format_utc(ms, frac, out);
    assert_string_equal(out, "2026-11-23T12:00:00.123Z");
    oh_time_format_utc(-1, 1, out); /* before the epoch: the millisecond before it */
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    /* the digits are written by hand: padding, milliseconds, separators */
    char dt[24];
    assert_int_equal(oh_put_datetime(dt, 999, 1, 2, 3, 4, 5, 7, ' '), 23);
    assert_string_equal(dt, "0999-01-02 03:04:05.007");
    assert_int_equal(oh_put_datetime(dt, 2026, 12, 31, 23, 59, 58, -1, 'T'), 19);
    assert_string_equal(dt, "2026-12-31T23:59:58");
    assert_int_equal(oh_put_datetime(dt, 10000, 1, 1, 0, 0, 0, -1, ' '), 20); /* snprintf */
    assert_string_equal(dt, "10000-01-01 00:00:00");
    assert_int_equal(oh_time_parse_iso8601("2026-13-01T00:00:00Z", &ms, &frac), -1);
    assert_int_equal(oh_time_parse_iso8601("2026-11-23T10:00:00Zjunk", &ms, &frac), -1);
    assert_true(oh_iso4217_valid("EUR"));
    assert_true(oh_iso4217_valid("ZWL"));
    assert_false(oh_iso4217_valid("EU"));
    assert_true(oh_iso3166_valid("AD"));
    assert_true(oh_iso3166_valid("ZW"));
    assert_false(oh_iso3166_valid("UK"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalises_a_good_order),
        cmocka_unit_test(test_hash_is_stable_and_content_sensitive),
        cmocka_unit_test(test_rejections_name_the_field),
        cmocka_unit_test(test_decimal_and_time_helpers),
        cmocka_unit_test(test_shipments),
        cmocka_unit_test(test_inventory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
