/* test_daemon_timerheap.c — the scheduler's timer heap pops in due order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "daemon/timerheap.h"

static void test_pops_in_due_order(void **state)
{
    (void)state;
    struct oh_timerheap h = { 0 };
    struct oh_timer t;
    int64_t last = -1;
    srand(7);
    for (size_t i = 0; i < 1000; i++)
        oh_timerheap_push(&h, rand() % 5000, i);
    assert_int_equal(h.n, 1000);
    for (size_t i = 0; i < 1000; i++) {
        assert_non_null(oh_timerheap_peek(&h));
        assert_int_equal(oh_timerheap_pop(&h, &t), 0);
        assert_true(t.due_ms >= last);
        last = t.due_ms;
    }
    assert_null(oh_timerheap_peek(&h));
    assert_int_equal(oh_timerheap_pop(&h, &t), -1);
    oh_timerheap_clear(&h);
}

static void test_keys_survive(void **state)
{
    (void)state;
    struct oh_timerheap h = { 0 };
    struct oh_timer t;
    oh_timerheap_push(&h, 30, 3);
    oh_timerheap_push(&h, 10, 1);
    oh_timerheap_push(&h, 20, 2);
    oh_timerheap_pop(&h, &t);
    assert_int_equal(t.key, 1);
    oh_timerheap_push(&h, 5, 9); /* a channel rescheduled sooner */
    oh_timerheap_pop(&h, &t);
    assert_int_equal(t.key, 9);
    oh_timerheap_pop(&h, &t);
    assert_int_equal(t.key, 2);
    oh_timerheap_pop(&h, &t);
    assert_int_equal(t.key, 3);
    oh_timerheap_clear(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_due_order),
        cmocka_unit_test(test_keys_survive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
