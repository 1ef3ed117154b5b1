/*
 * test_spool_group.c — committing several streaming writers as one group
 * (oh_spool_writers_commit, spool/spool.h): every committed entry holds its
 * exact bytes (S5) and is in incoming/ under an id in commit order (S6); an
 * entry whose step fails is left nowhere (S1) while the rest of the group is
 * committed; a failed directory fsync fails the whole group and leaves
 * nothing behind. Works in a fresh directory under $TMPDIR (or /tmp).
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

#include <cmocka.h>

#include "spool/spool.h"
#define SPOOL_FX_TAG "group"
#include "spool_testfx.h"

#define N 5

/* Entries in ROOT/sub, dot files left out. */
static size_t visible_in(const struct fx *f, const char *sub)
{
    return entries_in(f, sub, 0);
}

/* Opens N writers; writer i gets payload "entry-i:" followed by i * 100 KiB
 * of a pattern (so some go past the writer's buffer, and one is empty
 * apart from its name). */
static void open_group(struct fx *f, struct oh_spool_writer **w)
{
    struct oh_err err = {0};
    char chunk[4096];

    for (size_t k = 0; k < sizeof(chunk); k++)
        chunk[k] = (char)('a' + k % 26);
    for (int i = 0; i < N; i++) {
        struct oh_spool_meta m;
        char head[32];
        memset(&m, 0, sizeof(m));
        snprintf(m.channel, sizeof(m.channel), "drop");
        snprintf(m.format, sizeof(m.format), "csv");
        snprintf(m.source, sizeof(m.source), "f%d.csv", i);
        assert_int_equal(oh_spool_writer_open(f->sp, &m, &w[i], &err), 0);
        snprintf(head, sizeof(head), "entry-%d:", i);
        assert_int_equal(oh_spool_writer_write(w[i], head, strlen(head), &err), 0);
        for (int k = 0; k < i * 25; k++)
            assert_int_equal(oh_spool_writer_write(w[i], chunk, sizeof(chunk), &err), 0);
    }
}

static void check_entry(struct fx *f, const char *id, int i)
{
    struct oh_spool_entry *e = NULL;
    enum oh_spool_queue where;
    struct oh_err err = {0};
    char head[32], src[32];

    assert_int_equal(oh_spool_show(f->sp, id, &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_INCOMING);
    snprintf(head, sizeof(head), "entry-%d:", i);
    snprintf(src, sizeof(src), "f%d.csv", i);
    assert_string_equal(e->meta.source, src);
    assert_int_equal(e->len, strlen(head) + (size_t)i * 25 * 4096);
    assert_memory_equal(e->data, head, strlen(head));
    for (size_t k = strlen(head); k < e->len; k++)
        if (e->data[k] != (char)('a' + (k - strlen(head)) % 4096 % 26))
            fail_msg("entry %d: byte %zu differs", i, k);
    oh_spool_entry_free(e);
}

/* S1, S5, S6: all committed, exact bytes, ids in the group's order. */
static void test_group_commits_all(void **state)
{
    struct fx *f = *state;
    struct oh_spool_writer *w[N];
    char ids[N][OH_SPOOL_ID_MAX];
    int rcs[N];
    struct oh_err err = {0};

    open_group(f, w);
    assert_int_equal(oh_spool_writers_commit(w, N, ids, rcs, &err), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rcs[i], 0);
        check_entry(f, ids[i], i);
        if (i > 0)
            assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    }
    assert_int_equal(visible_in(f, "incoming"), N);
    assert_int_equal(visible_in(f, "tmp"), 0);
}

/* One writer that failed (over max_size) and one whose fsync fails are
 * left nowhere; the others are committed. */
static void test_group_one_fails_rest_committed(void **state)
{
    struct fx *f = *state;
    struct oh_spool_opts o = {.max_size = 500 * 1024};
    struct oh_spool_writer *w[N];
    char ids[N][OH_SPOOL_ID_MAX], big[600 * 1024];
    int rcs[N];
    struct oh_err err = {0};

    oh_spool_free(f->sp);
    assert_int_equal(oh_spool_open(f->root, &o, &f->sp, &err), 0);
    open_group(f, w);
    memset(big, 'x', sizeof(big));
    assert_int_equal(oh_spool_writer_write(w[1], big, sizeof(big), &err), OH_ETOOBIG);
    /* The first fsync of the group is the first good writer's (w[0]). */
    setenv("OH_FAULTS", "spool.fsync:1", 1);
    assert_true(oh_spool_writers_commit(w, N, ids, rcs, &err) < 0);
    unsetenv("OH_FAULTS");
    assert_true(err.msg[0] != '\0');
    assert_true(rcs[0] < 0);
    assert_string_equal(ids[0], "");
    assert_true(rcs[1] < 0);
    assert_string_equal(ids[1], "");
    for (int i = 2; i < N; i++) {
        assert_int_equal(rcs[i], 0);
        check_entry(f, ids[i], i);
    }
    assert_int_equal(visible_in(f, "incoming"), N - 2);
    assert_int_equal(visible_in(f, "tmp"), 0);
}

/* S1: without the directory fsync nothing of the group stays. */
static void test_group_dirfsync_fails_all(void **state)
{
    struct fx *f = *state;
    struct oh_spool_writer *w[N];
    char ids[N][OH_SPOOL_ID_MAX];
    int rcs[N];
    struct oh_err err = {0};

    open_group(f, w);
    setenv("OH_FAULTS", "spool.dirfsync", 1);
    assert_true(oh_spool_writers_commit(w, N, ids, rcs, &err) < 0);
    unsetenv("OH_FAULTS");
    assert_non_null(strstr(err.msg, "not stored"));
    for (int i = 0; i < N; i++) {
        assert_true(rcs[i] < 0);
        assert_string_equal(ids[i], "");
    }
    assert_int_equal(visible_in(f, "incoming"), 0);
    assert_int_equal(visible_in(f, "tmp"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commits_all, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_one_fails_rest_committed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_dirfsync_fails_all, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
