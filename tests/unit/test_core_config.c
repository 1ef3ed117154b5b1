/* test_core_config.c — config parsing, typed getters, secrets, errors with FILE:LINE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static struct oh_conf *parse_ok(const char *text)
{
    struct oh_conf *c = NULL;
    struct oh_err err;
    int rc = oh_conf_parse(text, "t.conf", &c, &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    return c;
}

static void parse_fails(const char *text, const char *expect)
{
    struct oh_conf *c = NULL;
    struct oh_err err;
    oh_err_clear(&err);
    assert_int_equal(oh_conf_parse(text, "t.conf", &c, &err), OH_EINVAL);
    assert_null(c);
    if (!strstr(err.msg, expect))
        fail_msg("error '%s' does not contain '%s'", err.msg, expect);
}

static void test_sections_and_lines(void **state)
{
    (void)state;
    struct oh_conf *c = parse_ok("; comment\n[hub]\nworkers = 4\n\n[channel shop-a]\ntype = dir\n"
                                 "path = /x\n[route r1]\non = order.created\nto = shop-a\n");
    struct oh_conf_section *hub = oh_conf_find(c, "hub", NULL);
    struct oh_conf_section *ch = oh_conf_find(c, "channel", "shop-a");
    assert_non_null(hub);
    assert_non_null(ch);
    assert_null(oh_conf_find(c, "channel", "nope"));
    assert_int_equal(hub->line, 2);
    assert_int_equal(ch->line, 5);
    assert_int_equal(oh_conf_line(ch, "path"), 7);
    assert_string_equal(oh_conf_get(ch, "type"), "dir");
    assert_string_equal(oh_conf_get_or(ch, "missing", "dflt"), "dflt");
    oh_conf_free(c);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    parse_fails("[hub]\nworkers = 1\nworkers = 2\n", "t.conf:3: key 'workers' given twice");
    parse_fails("[bogus]\nx = 1\n", "t.conf:1: unknown section [bogus]");
    parse_fails("[channel]\ntype = dir\n", "t.conf:1: [channel] needs a name");
    parse_fails("[hub extra]\n", "[hub] takes no name");
    parse_fails("[hub]\nthis line has no equals sign\n", "t.conf:2:");
    parse_fails("x = 1\n", "before any [section]");
    parse_fails("[channel a]\ntype=dir\n[channel a]\ntype=dir\n", "t.conf:3: [channel a] given twice");
}

static void test_typed_getters(void **state)
{
    (void)state;
    struct oh_conf *c = parse_ok("[hub]\nn = 12\nbad = 12x\nyes = on\nd1 = 250ms\nd2 = 5m\n"
                                 "d3 = 30\nsz = 10M\nszbad = 10Q\nmode = keep\n");
    struct oh_conf_section *s = oh_conf_find(c, "hub", NULL);
    struct oh_err err;
    long n = 0;
    int b = 0, e = 0;
    int64_t d = 0;
    static const char *const modes[] = { "move", "delete", "keep", NULL };

    assert_int_equal(oh_conf_int(s, "n", 0, &n, &err), 0);
    assert_int_equal(n, 12);
    assert_int_equal(oh_conf_int(s, "absent", 7, &n, &err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(oh_conf_int(s, "bad", 0, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "t.conf:3: bad: '12x' is not a whole number"));
    assert_int_equal(oh_conf_bool(s, "yes", 0, &b, &err), 0);
    assert_int_equal(b, 1);
    assert_int_equal(oh_conf_duration_ms(s, "d1", 0, &d, &err), 0);
    assert_int_equal(d, 250);
    assert_int_equal(oh_conf_duration_ms(s, "d2", 0, &d, &err), 0);
    assert_int_equal(d, 300000);
    assert_int_equal(oh_conf_duration_ms(s, "d3", 0, &d, &err), 0);
    assert_int_equal(d, 30000);
    assert_int_equal(oh_conf_size(s, "sz", 0, &d, &err), 0);
    assert_int_equal(d, 10 * 1024 * 1024);
    assert_int_equal(oh_conf_size(s, "szbad", 0, &d, &err), OH_EINVAL);
    assert_int_equal(oh_conf_enum(s, "mode", modes, 0, &e, &err), 0);
    assert_int_equal(e, 2);
    assert_int_equal(oh_conf_duration_ms(s, "n", 0, &d, &err), 0); /* bare number = seconds */
    assert_int_equal(d, 12000);
    oh_conf_free(c);
}

static void test_enum_error_lists_choices(void **state)
{
    (void)state;
    struct oh_conf *c = parse_ok("[channel x]\nafter = shred\n");
    static const char *const modes[] = { "move", "delete", "keep", NULL };
    struct oh_err err;
    int e = 0;
    assert_int_equal(oh_conf_enum(oh_conf_find(c, "channel", "x"), "after", modes, 0, &e, &err),
                     OH_EINVAL);
    assert_string_equal(err.msg, "t.conf:2: after: 'shred' is not one of move|delete|keep");
    oh_conf_free(c);
}

static void test_secrets(void **state)
{
    (void)state;
    char path[] = "/tmp/oh-secret-XXXXXX";
    int fd = mkstemp(path);
    char text[512];
    struct oh_conf *c;
    struct oh_err err;
    char *v = NULL;

    assert_true(fd >= 0);
    assert_int_equal(oh_write_all(fd, "s3cr3t\n", 7), 0);
    close(fd);
    setenv("OH_TEST_SECRET", "from-env", 1);
    unsetenv("OH_TEST_MISSING");
    snprintf(text, sizeof(text), "[store]\na = env:OH_TEST_SECRET\nb = file:%s\nc = env:OH_TEST_MISSING\n", path);
    c = parse_ok(text);
    struct oh_conf_section *s = oh_conf_find(c, "store", NULL);
    assert_int_equal(oh_conf_secret(s, "a", &v, &err), 0);
    assert_string_equal(v, "from-env");
    oh_secret_free(v);
    assert_int_equal(oh_conf_secret(s, "b", &v, &err), 0);
    assert_string_equal(v, "s3cr3t"); /* trailing newline dropped */
    oh_secret_free(v);
    assert_int_equal(oh_conf_secret(s, "c", &v, &err), OH_EINVAL);
    assert_null(v);
    assert_non_null(strstr(err.msg, "t.conf:4: c"));
    assert_non_null(strstr(err.msg, "OH_TEST_MISSING is not set"));
    /* the raw getter returns the reference, never the secret */
    assert_string_equal(oh_conf_get(s, "a"), "env:OH_TEST_SECRET");
    assert_int_equal(oh_conf_secret(s, "absent", &v, &err), 0);
    assert_null(v);
    unlink(path);
    oh_conf_free(c);
}

static void count_unused(const char *msg, void *ud)
{
    int *n = ud;
    if (strstr(msg, "t.conf:3: unknown key 'tyop' in [channel a]"))
        (*n)++;
}

static void test_unused_keys_reported(void **state)
{
    (void)state;
    struct oh_conf *c = parse_ok("[channel a]\ntype = dir\ntyop = x\n");
    int hits = 0;
    oh_conf_get(oh_conf_find(c, "channel", "a"), "type");
    assert_int_equal(oh_conf_unused(c, count_unused, &hits), 1);
    assert_int_equal(hits, 1);
    oh_conf_free(c);
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    for (int attempt = 0; attempt < 20; attempt++) {
        int64_t cap = 1000;
        for (int i = 0; i < attempt && cap < 60000; i++)
            cap *= 2;
        if (cap > 60000)
            cap = 60000;
        for (int k = 0; k < 50; k++) {
            int64_t d = oh_backoff_ms(attempt, 1000, 60000);
            assert_true(d >= cap / 2);
            assert_true(d <= cap);
        }
    }
}

static void test_ct_equal_and_hmac(void **state)
{
    (void)state;
    char b64[64];
    assert_true(oh_ct_equal("abc", "abc"));
    assert_false(oh_ct_equal("abc", "abd"));
    assert_false(oh_ct_equal("abc", "abcd"));
    assert_false(oh_ct_equal("", "a"));
    /* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
    oh_hmac_sha256_b64("Jefe", 4, "what do ya want for nothing?", 28, b64);
    assert_string_equal(b64, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_and_lines),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_enum_error_lists_choices),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_unused_keys_reported),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_ct_equal_and_hmac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
