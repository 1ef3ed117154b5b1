/* test_formats_json.c — the JSON decoder/encoder and the format registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "formats/formats.h"
#include "util.h"

static struct oh_arena *A;

static int setup(void **state)
{
    (void)state;
    A = oh_arena_new(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    oh_arena_free(A);
    return 0;
}

static int dec_opts(const char *s, size_t len, const struct oh_format_opts *o, struct oh_node **out,
                    struct oh_err *err)
{
    const struct oh_format *f = oh_format_find("json");
    assert_non_null(f);
    return f->decode(A, s, len, o, out, err);
}

static int dec(const char *s, struct oh_node **out, struct oh_err *err)
{
    return dec_opts(s, strlen(s), NULL, out, err);
}

static void expect_error(const char *s, const char *msg)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    assert_int_equal(dec(s, &n, &err), OH_EINVAL);
    if (!strstr(err.msg, msg))
        fail_msg("%s: got \"%s\", wanted \"%s\"", s, err.msg, msg);
}

static void test_shape_and_order(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec("{\"b\": 1, \"a\": [true, null, \"x\"], \"b\": 2}", &n, &err), 0);
    assert_int_equal(n->type, OH_NODE_OBJECT);
    assert_int_equal(n->count, 3);
    assert_string_equal(n->first->key, "b");
    assert_string_equal(n->first->next->key, "a");
    /* duplicate keys are kept in order; a lookup finds the first */
    assert_string_equal(n->last->key, "b");
    assert_string_equal(n->last->s, "2");
    assert_string_equal(oh_node_get(n, "b")->s, "1");
    assert_int_equal(oh_node_at(oh_node_get(n, "a"), 0)->type, OH_NODE_BOOL);
    assert_int_equal(oh_node_at(oh_node_get(n, "a"), 1)->type, OH_NODE_NULL);
    assert_string_equal(oh_node_at(oh_node_get(n, "a"), 2)->s, "x");
    assert_int_equal(n->first->line, 1);
    assert_int_equal(n->first->col, 7);
}

static void test_numbers_exact(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(
        dec("[19.90, 123456789012345678901234567890, -0.000000000000000000001, 1e400, 0]", &n,
            &err),
        0);
    assert_string_equal(oh_node_at(n, 0)->s, "19.90");
    assert_string_equal(oh_node_at(n, 1)->s, "123456789012345678901234567890");
    assert_string_equal(oh_node_at(n, 2)->s, "-0.000000000000000000001");
    assert_string_equal(oh_node_at(n, 3)->s, "1e400");
    assert_int_equal(oh_node_at(n, 1)->type, OH_NODE_NUMBER);
    expect_error("[01]", "line 1 col 2: invalid literal");
    expect_error("[1.]", "invalid literal");
    expect_error("[tru]", "invalid literal");
    expect_error("[+1]", "line 1 col 2");
}

static void test_strings(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec("[\"caf\\u00e9\", \"\\ud83d\\ude00\", \"a\\\"b\\\\c\\/\\n\\t\", \"\xc3\xa9\"]",
                         &n, &err),
                     0);
    assert_string_equal(oh_node_at(n, 0)->s, "caf\xc3\xa9");
    assert_string_equal(oh_node_at(n, 1)->s, "\xf0\x9f\x98\x80");
    assert_int_equal(oh_node_at(n, 1)->len, 4);
    assert_string_equal(oh_node_at(n, 2)->s, "a\"b\\c/\n\t");
    assert_string_equal(oh_node_at(n, 3)->s, "\xc3\xa9");
    /* an escaped NUL keeps its length */
    assert_int_equal(dec("[\"a\\u0000b\"]", &n, &err), 0);
    assert_int_equal(oh_node_at(n, 0)->len, 3);
}

static void test_string_errors(void **state)
{
    (void)state;
    expect_error("[\"\\ud83d\"]", "line 1 col 3: unpaired high surrogate");
    expect_error("[\"\\ude00\"]", "unpaired low surrogate");
    expect_error("[\"\\ud83d\\u0041\"]", "unpaired high surrogate");
    expect_error("[\"\\x\"]", "line 1 col 2");
    expect_error("{\n  \"k\": \"ab\xff\"\n}", "line 2 col 11: invalid UTF-8");
    expect_error("[\"\xc0\xaf\"]", "invalid UTF-8"); /* overlong */
    expect_error("[\"a\tb\"]", "control character");
    expect_error("{\"a\xfe\": 1}", "invalid UTF-8");
}

static void test_syntax_errors(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec("", &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "empty document"));
    assert_int_equal(dec("  \n ", &n, &err), OH_EINVAL);
    expect_error("[1 2]", "expected ','");
    expect_error("[1,]", "unexpected character");
    expect_error("{\"a\" 1}", "line 1 col 6");
    expect_error("{\"a\":1,}", "unexpected character");
    expect_error("{1: 2}", "");
    expect_error("{\"a\": 1} x", "");
    expect_error("{} {}", "");
    expect_error("[1, 2", "unexpected end of input");
    expect_error("{\"a\": [1, 2}", "");
    assert_int_equal(dec_opts("[1]\0", 4, NULL, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "line 1 col 4: unexpected character"));
    assert_int_equal(dec_opts("[\"a\0b\"]", 6, NULL, &n, &err), OH_EINVAL);
}

static void test_top_level_and_bom(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec("  42 ", &n, &err), 0);
    assert_int_equal(n->type, OH_NODE_NUMBER);
    assert_string_equal(n->s, "42");
    assert_int_equal(dec("\"x\"", &n, &err), 0);
    assert_string_equal(n->s, "x");
    assert_int_equal(dec("\xef\xbb\xbf{\"a\":1}", &n, &err), 0);
    assert_string_equal(oh_node_get(n, "a")->s, "1");
}

static void test_limits(void **state)
{
    struct oh_format_opts o = {0};
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    char deep[1200];
    (void)state;
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    deep[600] = '\0';
    assert_int_equal(dec(deep, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "nesting deeper than the limit"));
    o.max_depth = 3;
    assert_int_equal(dec_opts("[[[1]]]", 7, &o, &n, &err), 0);
    assert_int_equal(dec_opts("[[[[1]]]]", 9, &o, &n, &err), OH_EINVAL);
    memset(&o, 0, sizeof(o));
    o.max_size = 5;
    assert_int_equal(dec_opts("[1,2,3]", 7, &o, &n, &err), OH_ETOOBIG);
    assert_non_null(strstr(err.msg, "over the limit"));
}

static void test_arena_limit(void **state)
{
    struct oh_arena *small = oh_arena_new(16384);
    const struct oh_format *f = oh_format_find("json");
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    char *big = malloc(200000);
    size_t k = 0;
    (void)state;
    big[k++] = '[';
    while (k < 199000) {
        memcpy(big + k, "\"abcdefgh\",", 11);
        k += 11;
    }
    big[k - 1] = ']';
    assert_int_equal(f->decode(small, big, k, NULL, &n, &err), OH_ETOOBIG);
    free(big);
    oh_arena_free(small);
}

static void test_encode_roundtrip(void **state)
{
    const struct oh_format *f = oh_format_find("json");
    const char *in = "{\"a\":[1,\"x\\ny\",true,null],\"b\":{\"c\":19.90}}";
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *out;
    (void)state;
    assert_int_equal(dec(in, &n, &err), 0);
    out = open_memstream(&buf, &len);
    assert_int_equal(f->encode(n, NULL, out, &err), 0);
    fclose(out);
    assert_string_equal(buf, "{\"a\":[1,\"x\\ny\",true,null],\"b\":{\"c\":19.90}}\n");
    free(buf);
}

static int never(struct oh_arena *a, const char *d, size_t l, const struct oh_format_opts *o,
                 struct oh_node **out, struct oh_err *err)
{
    (void)a, (void)d, (void)l, (void)o, (void)out;
    return oh_err_set(err, OH_EINVAL, "never");
}

static void test_registry(void **state)
{
    struct oh_format f = {.name = "test-fmt", .decode = never};
    struct oh_format_opts o = {.n = 2, .key = {"a", "b"}, .val = {"1", "2"}};
    (void)state;
    assert_non_null(oh_format_find("json"));
    assert_non_null(oh_format_find("xml"));
    assert_non_null(oh_format_find("csv"));
    assert_null(oh_format_find("nope"));
    assert_null(oh_format_find(NULL));
    assert_int_equal(oh_format_register(&f), 0);
    assert_ptr_equal(oh_format_find("test-fmt")->decode, never);
    assert_int_equal(oh_format_register(&(struct oh_format){.name = ""}), OH_EINVAL);
    assert_string_equal(oh_format_opt(&o, "b"), "2");
    assert_null(oh_format_opt(&o, "c"));
    assert_null(oh_format_opt(NULL, "c"));
    /* options are checked: json knows only pretty */
    o.n = 1;
    o.key[0] = "pretty";
    o.val[0] = "yes";
    assert_int_equal(oh_format_find("json")->check(&o, NULL), 0);
    o.key[0] = "indent";
    assert_int_equal(oh_format_find("json")->check(&o, NULL), OH_EINVAL);
}

static void test_fixtures(void **state)
{
    static const char *files[] = {
        "shopify/order-single-shopify_python_api.json",
        "shopify/orders-list-shopify_python_api.json",
        "shopify/webhook-orders-create-minimal-utf8-commerce-event-ledger.json",
        "woocommerce/order-aed-currency-symbol-woocommerce-ios.json",
        "woocommerce/orders-list-v3-rest-docs.json",
        "ebay/getOrders-page1.json",
        "amazon/getOrders-sandbox-TEST_CASE_200-spapi-ordersV0.json",
        "carriers/easypost-shipments-list.json",
        "carriers/fedex-track-response-karrio.json",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024], *data = NULL;
        size_t len = 0;
        struct oh_node *n = NULL;
        struct oh_err err = {0};
        snprintf(path, sizeof(path), "%s/%s", OH_FIXTURES, files[i]);
        assert_int_equal(oh_read_file(path, 0, &data, &len, &err), 0);
        if (dec_opts(data, len, NULL, &n, &err) != 0)
            fail_msg("%s: %s", files[i], err.msg);
        assert_true(n->type == OH_NODE_OBJECT || n->type == OH_NODE_ARRAY);
        free(data);
    }
}

static void test_fixture_values(void **state)
{
    char path[1024], *data = NULL;
    size_t len = 0;
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    const struct oh_node *o;
    (void)state;
    snprintf(path, sizeof(path), "%s/woocommerce/order-aed-currency-symbol-woocommerce-ios.json",
             OH_FIXTURES);
    assert_int_equal(oh_read_file(path, 0, &data, &len, &err), 0);
    assert_int_equal(dec_opts(data, len, NULL, &n, &err), 0);
    o = oh_node_get(n, "data");
    assert_string_equal(oh_node_get(o, "currency_symbol")->s, "\xd8\xaf.\xd8\xa5");
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shape_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_level_and_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixture_values, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
