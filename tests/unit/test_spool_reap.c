/*
 * test_spool_reap.c — done entries past the recycling pool (spool_reap.c):
 * each leaves active/ when oh_spool_done returns and is never an entry again
 * (S2, S3), the background removal is finished by oh_spool_free, and what a
 * crash leaves in tmp/ is removed by recovery (S4). Each test works in a
 * fresh directory under $TMPDIR (or /tmp).
 */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/spool.h"
#define SPOOL_FX_TAG "reap"
#include "spool_testfx.h"

/* More than the recycling pool keeps (256), so most go to the reaper. */
#define MANY 1200

static size_t entries(struct oh_spool *sp)
{
    size_t total = 0;

    for (int q = OH_SPOOL_INCOMING; q <= OH_SPOOL_DEAD; q++) {
        size_t n = 99999;
        struct oh_err err = {0};
        assert_int_equal(oh_spool_count(sp, (enum oh_spool_queue)q, &n, &err), 0);
        total += n;
    }
    return total;
}

static void enqueue_many(struct oh_spool *sp, size_t n)
{
    struct oh_err err = {0};
    char buf[1600];

    /* a realistic size: files with data blocks are what is slow to remove */
    memset(buf, 'x', sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf, 32, "entry %zu;", i);
        buf[k] = 'x';
        if (oh_spool_enqueue(sp, NULL, buf, sizeof(buf), NULL, &err) != 0)
            fail_msg("enqueue %zu: %s", i, err.msg);
    }
}

/* S2/S3: a done entry has left active/ at once, is never claimed again, and
 * done on it a second time says it is not active; free leaves tmp/ empty. */
static void test_done_past_pool_leaves_at_once(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], first[OH_SPOOL_ID_MAX] = "", last[OH_SPOOL_ID_MAX] = "";
    size_t n = 0;

    enqueue_many(f->sp, MANY);
    while (oh_spool_claim(f->sp, id, &err) == 0) {
        assert_true(exists(f, "active", id));
        assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
        assert_false(exists(f, "active", id));
        if (!first[0])
            memcpy(first, id, sizeof(id));
        memcpy(last, id, sizeof(id));
        n++;
    }
    assert_int_equal(n, MANY);
    assert_int_equal(entries(f->sp), 0);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), OH_ENOTFOUND);
    /* done again, for one that was pooled and one that went to the reaper */
    assert_int_equal(oh_spool_done(f->sp, first, &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_done(f->sp, last, &err), OH_ENOTFOUND);
    assert_true(files_in(f, "tmp") <= MANY);

    oh_spool_free(f->sp);
    f->sp = NULL;
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(files_in(f, "active"), 0);
    assert_int_equal(oh_spool_open(f->root, NULL, &f->sp, &err), 0);
    assert_int_equal(entries(f->sp), 0);
}

/* S4: a process that dies with removals still queued leaves only tmp/
 * files; recovery removes them and brings back exactly the entries that
 * were still active, nothing that was done. */
static void test_crash_with_removals_queued(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];
    size_t moved = 0;
    int status = 0;
    pid_t pid;

    enqueue_many(f->sp, MANY);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child takes every entry, finishes all but the last 5, and
         * dies without freeing its spool (no drain of the reaper). */
        struct oh_spool *sp = NULL;
        size_t n = 0;
        if (oh_spool_open(f->root, NULL, &sp, &err) != 0)
            _exit(2);
        while (oh_spool_claim(sp, id, &err) == 0)
            if (++n <= MANY - 5 && oh_spool_done(sp, id, &err) != 0)
                _exit(3);
        _exit(n == MANY ? 0 : 4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(files_in(f, "active"), 5);

    oh_spool_free(f->sp);
    assert_int_equal(oh_spool_open(f->root, NULL, &f->sp, &err), 0);
    assert_int_equal(oh_spool_recover(f->sp, &moved, &err), 0);
    assert_int_equal(moved, 5);
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(entries(f->sp), 5);
}

/* Two spools on one root in one process (a reload opens the new hub's
 * before the old one is freed): both finish their own removals. */
static void test_two_handles(void **state)
{
    struct fx *f = *state;
    struct oh_spool *sp2 = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];
    size_t a = 0, b = 0;

    enqueue_many(f->sp, MANY);
    assert_int_equal(oh_spool_open(f->root, NULL, &sp2, &err), 0);
    for (;;) {
        int r1 = oh_spool_claim(f->sp, id, &err);
        if (r1 == 0) {
            assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
            a++;
        }
        int r2 = oh_spool_claim(sp2, id, &err);
        if (r2 == 0) {
            assert_int_equal(oh_spool_done(sp2, id, &err), 0);
            b++;
        }
        if (r1 == OH_ENOTFOUND && r2 == OH_ENOTFOUND)
            break;
    }
    assert_int_equal(a + b, MANY);
    oh_spool_free(sp2);
    oh_spool_free(f->sp);
    f->sp = NULL;
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(oh_spool_open(f->root, NULL, &f->sp, &err), 0);
    assert_int_equal(entries(f->sp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_done_past_pool_leaves_at_once, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_crash_with_removals_queued, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
