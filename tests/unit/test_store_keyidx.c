/*
 * test_store_keyidx.c — struct oh_keyidx (store.h): keys equal as the store
 * compares external ids (trailing spaces ignored, nothing else), values
 * kept, repeats reported with the first key's value, growth past the first
 * table, clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"

static long put(struct oh_keyidx *x, const char *s, long v)
{
    return oh_keyidx_put(x, s, strlen(s), v);
}

static long get(const struct oh_keyidx *x, const char *s)
{
    return oh_keyidx_get(x, s, strlen(s));
}

static void test_equal_as_the_store_compares(void **state)
{
    struct oh_keyidx x = { 0 };

    (void)state;
    assert_int_equal(get(&x, "K1"), -1); /* empty */
    assert_int_equal(put(&x, "K1", 7), -1);
    assert_int_equal(get(&x, "K1"), 7);
    assert_int_equal(get(&x, "K1   "), 7); /* trailing spaces: the same key */
    assert_int_equal(get(&x, "k1"), -1);    /* case: another key */
    assert_int_equal(get(&x, " K1"), -1);   /* leading space: another key */
    assert_int_equal(get(&x, "K1\t"), -1);  /* only spaces are ignored */
    assert_int_equal(get(&x, "K"), -1);
    /* a repeat is reported with the first one's value and not added */
    assert_int_equal(put(&x, "K1 ", 9), 7);
    assert_int_equal(x.n, 1);
    /* the empty key is a key like any other */
    assert_int_equal(put(&x, "", 3), -1);
    assert_int_equal(get(&x, "  "), 3);
    /* a key is its bytes up to len, not up to a NUL */
    assert_int_equal(oh_keyidx_put(&x, "AB\0C", 4, 4), -1);
    assert_int_equal(oh_keyidx_get(&x, "AB\0C", 4), 4);
    assert_int_equal(get(&x, "AB"), -1);
    oh_keyidx_free(&x);
}

static void test_many_keys_and_clear(void **state)
{
    enum { N = 5000 };
    static char keys[N][16];
    struct oh_keyidx x = { 0 };

    (void)state;
    for (long i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "#%ld", i);
        assert_int_equal(put(&x, keys[i], i), -1);
    }
    assert_int_equal(x.n, N);
    for (long i = 0; i < N; i++)
        assert_int_equal(get(&x, keys[i]), i);
    assert_int_equal(get(&x, "#5000"), -1);
    assert_int_equal(put(&x, "#4321", 1), 4321);
    oh_keyidx_clear(&x);
    assert_int_equal(x.n, 0);
    assert_int_equal(get(&x, "#1"), -1);
    assert_int_equal(put(&x, "#1", 11), -1);
    assert_int_equal(get(&x, "#1"), 11);
    oh_keyidx_free(&x);
    assert_null(x.slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_as_the_store_compares),
        cmocka_unit_test(test_many_keys_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
