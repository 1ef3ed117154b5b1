/*
 * test_http_json_peek.c — oh_json_peek (core/http/json_peek.c) accepts
 * exactly the JSON objects jansson's json_loadb accepts, and reads the same
 * top-level values. Differential: every case is also given to jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http/http.h"
#include "util.h"

static int jansson_ok(const char *b, size_t n)
{
    json_t *j = json_loadb(b, n, 0, NULL);
    int ok = json_is_object(j);
    json_decref(j);
    return ok;
}

static int peek_ok(const char *b, size_t n)
{
    static const char *const keys[] = {"id"};
    const char *v[1];
    size_t vl[1];
    struct oh_err err = {0};
    int rc = oh_json_peek(b, n, keys, 1, v, vl, &err);

    if (rc == 0)
        assert_int_equal(err.msg[0], '\0');
    else
        assert_true(err.msg[0] != '\0');
    return rc == 0;
}

static void same(const char *b, size_t n)
{
    int j = jansson_ok(b, n), p = peek_ok(b, n);
    if (j != p)
        fail_msg("jansson %s, peek %s: [%.*s]", j ? "accepts" : "refuses", p ? "accepts" : "refuses",
                 (int)(n > 200 ? 200 : n), b);
}

static void test_cases(void **state)
{
    static const char *const cases[] = {
        "{}", " {} ", "{\"id\":1}", "{\"id\":-0}", "{\"id\":01}", "{\"id\":1.}", "{\"id\":.5}",
        "{\"id\":1.5e+3}", "{\"id\":1e}", "{\"id\":-}", "{\"id\":+1}", "{\"a\":true,\"b\":false,\"c\":null}",
        "{\"a\":tru}", "{\"a\":nul}", "{\"a\":[1,2,[3,{}]]}", "{\"a\":[1,]}", "{\"a\":1,}", "{,}",
        "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{\"a\":1}x", "{\"a\":1}{}", "[1]", "\"x\"", "1", "",
        "{\"s\":\"\\u00e9\\n\\t\\\"\\\\\\/\"}", "{\"s\":\"\\x\"}", "{\"s\":\"\\u12\"}",
        "{\"s\":\"\\u0000\"}", "{\"s\":\"\\ud83d\\ude00\"}", "{\"s\":\"\\ud83d\"}", "{\"s\":\"\\ude00\"}",
        "{\"s\":\"\\ud83dx\"}", "{\"s\":\"\xc3\xa9\"}", "{\"s\":\"\xc3\"}", "{\"s\":\"\xc0\xaf\"}",
        "{\"s\":\"\xe0\x80\xaf\"}", "{\"s\":\"\xed\xa0\x80\"}", "{\"s\":\"\xf0\x9f\x98\x80\"}",
        "{\"s\":\"\xf4\x90\x80\x80\"}", "{\"s\":\"\xff\"}", "{\"s\":\"tab\there\"}", "{\"s\":\"a",
        "{\"a\":{\"b\":{\"c\":[]}}}", "{\"a\":{\"b\":{\"c\":[}}}", "\t\r\n{\"a\" : 1 }\n",
        "{\"id\":1,\"id\":2}", "{\"\\u0069d\":1}", "{\"n\":1e999}", "{\"n\":-1e400}",
        "{\"n\":1e-999}", "{\"n\":9223372036854775807}", "{\"n\":9223372036854775808}",
        "{\"n\":-9223372036854775809}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same(cases[i], strlen(cases[i]));
    /* a NUL byte inside and outside a string */
    same("{\"s\":\"a\0b\"}", 11);
    same("{\"a\":1}\0", 8);
}

static void test_depth(void **state)
{
    size_t n = 3000;
    char *b = malloc(2 * n + 16);
    size_t len = 0;

    (void)state;
    for (int depth = 2000; depth <= 2100; depth += 100) {
        len = 0;
        b[len++] = '{';
        memcpy(b + len, "\"a\":", 4);
        len += 4;
        for (int i = 1; i < depth; i++)
            b[len++] = '[';
        for (int i = 1; i < depth; i++)
            b[len++] = ']';
        b[len++] = '}';
        same(b, len);
    }
    free(b);
}

static char *fixture(const char *rel, size_t *len)
{
    char path[4096], *buf = NULL;
    struct oh_err err = {0};

    snprintf(path, sizeof(path), "%s/%s", OH_FIXTURES, rel);
    assert_int_equal(oh_read_file(path, 0, &buf, len, &err), 0);
    return buf;
}

/* Every prefix and many one-byte changes of a real order: same verdicts. */
static void test_fixture_mutations(void **state)
{
    static const char *const files[] = {
        "shopify/order-single-shopify_python_api.json",
        "woocommerce/order-single-v3-rest-docs.json",
    };
    static const char subst[] = "{}[]\",:0123456789eE.-+ tfnu\\\x80\xc3\xff\x01";
    uint32_t seed = 12345;

    (void)state;
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *buf = fixture(files[f], &len), *m = malloc(len);
        const char *top = strchr(buf, '{');

        /* Shopify's fixture wraps the order in {"order": ...}: both shapes
         * are objects, which is all peek judges. */
        same(buf, len);
        assert_non_null(top);
        for (size_t cut = 0; cut < len; cut += 7)
            same(buf, cut);
        for (int i = 0; i < 3000; i++) {
            size_t at;
            seed = seed * 1103515245u + 12345u;
            at = (seed >> 8) % len;
            memcpy(m, buf, len);
            seed = seed * 1103515245u + 12345u;
            m[at] = subst[(seed >> 8) % (sizeof(subst) - 1)];
            same(m, len);
        }
        free(m);
        free(buf);
    }
}

static void test_values(void **state)
{
    static const char *const keys[] = {"id", "updated_at", "missing", "nested"};
    const char body[] = "{\"nested\":{\"id\":7},\"id\":820982911946154508,"
                        "\"updated_at\":\"2026-11-23T09:30:00-05:00\",\"x\":[{\"id\":9}]}";
    const char *v[4];
    size_t vl[4];
    long long id;
    char s[64];
    struct oh_err err = {0};

    (void)state;
    assert_int_equal(oh_json_peek(body, strlen(body), keys, 4, v, vl, &err), 0);
    assert_int_equal(oh_json_peek_int(v[0], vl[0], &id), 0);
    assert_true(id == 820982911946154508LL); /* the top-level id, not a nested one */
    assert_int_equal(oh_json_peek_str(v[1], vl[1], s, sizeof(s)), 0);
    assert_string_equal(s, "2026-11-23T09:30:00-05:00");
    assert_null(v[2]);
    assert_int_equal(vl[3], 8);
    assert_memory_equal(v[3], "{\"id\":7}", 8);

    /* integers: what json_is_integer accepts */
    assert_int_equal(oh_json_peek_int("12", 2, &id), 0);
    assert_int_equal(oh_json_peek_int("-3", 2, &id), 0);
    assert_true(id == -3);
    assert_int_equal(oh_json_peek_int("1.0", 3, &id), OH_EINVAL);
    assert_int_equal(oh_json_peek_int("1e3", 3, &id), OH_EINVAL);
    assert_int_equal(oh_json_peek_int("\"1\"", 3, &id), OH_EINVAL);
    assert_int_equal(oh_json_peek_int("99999999999999999999", 20, &id), OH_EINVAL);
    assert_int_equal(oh_json_peek_int(NULL, 0, &id), OH_EINVAL);

    /* strings: escapes decoded, NUL refused, too long reported */
    {
        const char *esc = "\"a\\u00e9\\\"b\"";
        assert_int_equal(oh_json_peek_str(esc, strlen(esc), s, sizeof(s)), 0);
    }
    assert_string_equal(s, "a\xc3\xa9\"b");
    assert_int_equal(oh_json_peek_str("\"abcdef\"", 8, s, 4), OH_ETOOBIG);
    assert_int_equal(oh_json_peek_str("12", 2, s, sizeof(s)), OH_EINVAL);

    /* a malformed body leaves no values behind */
    assert_int_equal(oh_json_peek("{\"id\":1,", 8, keys, 1, v, vl, &err), OH_EINVAL);
    assert_null(v[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_fixture_mutations),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
