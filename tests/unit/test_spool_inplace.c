/*
 * test_spool_inplace.c — a sole claimer's claims (oh_spool_sole_claimer):
 * entries are held in incoming/ without a rename, never handed out twice
 * (S3) however the batch of names is refilled, counted as active by the
 * process that holds them, and every outcome (done, recycled or reaped;
 * archive; defer; kill) ends where it does for a claim by rename. After a
 * "crash" (the spool freed with entries held) they are simply in
 * incoming/ (S4). Each test works in a fresh directory under $TMPDIR.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/spool.h"
#define SPOOL_FX_TAG "inplace"
#include "spool_testfx.h"

/* More than the recycling pool keeps (256), so the reaper is used too. */
#define MANY 700

static void put(struct oh_spool *sp, size_t i, char id[OH_SPOOL_ID_MAX])
{
    struct oh_err err = {0};
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "payload %zu", i);

    if (oh_spool_enqueue(sp, NULL, buf, (size_t)n, id, &err) != 0)
        fail_msg("enqueue %zu: %s", i, err.msg);
}

static size_t count(struct oh_spool *sp, enum oh_spool_queue q)
{
    struct oh_err err = {0};
    size_t n = 99999;

    assert_int_equal(oh_spool_count(sp, q, &n, &err), 0);
    return n;
}

/* A claim leaves the file in incoming/, load reads it from there, the
 * process counts it as active, and done takes it away. */
static void test_claim_holds_in_place(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], b[OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];
    struct oh_spool_entry *e = NULL;

    oh_spool_sole_claimer(f->sp);
    put(f->sp, 1, a);
    put(f->sp, 2, b);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_string_equal(id, a);
    assert_true(exists(f, "incoming", a));
    assert_false(exists(f, "active", a));
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 1);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 1);
    assert_int_equal(oh_spool_load(f->sp, a, &e, &err), 0);
    assert_string_equal(e->data, "payload 1");
    oh_spool_entry_free(e);

    /* the next claim is the other entry, and then there is none */
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_string_equal(id, b);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), OH_ENOTFOUND);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 2);

    assert_int_equal(oh_spool_done(f->sp, a, &err), 0);
    assert_false(exists(f, "incoming", a));
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 1);
    /* done twice: the entry is no longer held */
    assert_int_equal(oh_spool_done(f->sp, a, &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_done(f->sp, b, &err), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 0);
    assert_int_equal(files_in(f, "incoming"), 0);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), OH_ENOTFOUND);
}

/* S3: entries arriving while others are held make the claimer read
 * incoming/ again; the held ones (still there) are never handed out a
 * second time, and neither are done ones whose files the reaper has not
 * removed yet. */
static void test_refill_skips_held(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char ids[MANY][OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];
    size_t held = 0, got = 0;

    oh_spool_sole_claimer(f->sp);
    for (size_t i = 0; i < MANY / 2; i++)
        put(f->sp, i, NULL);
    /* claim all, finishing every other one (the pool fills, then the reaper
     * takes the rest), then enqueue more: the refill reads every name */
    while (oh_spool_claim(f->sp, id, &err) == 0) {
        memcpy(ids[got], id, sizeof(id));
        if (got % 2 == 0)
            assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
        else
            held++;
        got++;
    }
    assert_int_equal(got, MANY / 2);
    for (size_t i = MANY / 2; i < MANY; i++)
        put(f->sp, i, NULL);
    while (oh_spool_claim(f->sp, id, &err) == 0) {
        for (size_t k = 0; k < got; k++)
            if (strcmp(ids[k], id) == 0)
                fail_msg("entry %s claimed twice", id);
        memcpy(ids[got++], id, sizeof(id));
        held++;
    }
    assert_int_equal(got, MANY);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), held);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 0);
    for (size_t k = 1; k < got; k++)
        if (k >= MANY / 2 || k % 2 == 1)
            assert_int_equal(oh_spool_done(f->sp, ids[k], &err), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 0);
    oh_spool_free(f->sp); /* waits for the reaper */
    f->sp = NULL;
    assert_int_equal(files_in(f, "incoming"), 0);
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(oh_spool_open(f->root, NULL, &f->sp, &err), 0);
}

/* A done entry's file goes to the recycling pool: the next enqueue writes
 * over it, and the new entry reads back exactly (S5). */
static void test_done_file_recycled(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];
    struct oh_spool_entry *e = NULL;
    struct stat st;
    char path[PATH_MAX];
    ino_t ino;

    oh_spool_sole_claimer(f->sp);
    put(f->sp, 123456789, a);
    fmt(path, sizeof(path), "%s/incoming/%s", f->root, a);
    assert_int_equal(stat(path, &st), 0);
    ino = st.st_ino;
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
    assert_int_equal(files_in(f, "tmp"), 1); /* pooled */
    /* the pool takes a file once a round of incoming/ covers its rename:
     * the enqueue's own round does, so the one after it reuses the file */
    put(f->sp, 7, NULL);
    put(f->sp, 8, a);
    assert_int_equal(files_in(f, "tmp"), 0);
    fmt(path, sizeof(path), "%s/incoming/%s", f->root, a);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_ino, ino); /* the done entry's file, written over */
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_string_equal(id, a);
    assert_int_equal(oh_spool_load(f->sp, a, &e, &err), 0);
    assert_string_equal(e->data, "payload 8");
    assert_int_equal(e->len, strlen("payload 8"));
    oh_spool_entry_free(e);
}

/* defer and kill of a held entry: it moves out of incoming/ as for any
 * claimed entry, with its header rewritten; retry brings it back. */
static void test_defer_and_kill_from_incoming(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], b[OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];
    struct oh_spool_entry *e = NULL;
    enum oh_spool_queue where;

    oh_spool_sole_claimer(f->sp);
    put(f->sp, 1, a);
    put(f->sp, 2, b);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_defer(f->sp, a, "later", &err), 0);
    assert_int_equal(oh_spool_kill(f->sp, b, "bad input", &err), 0);
    assert_false(exists(f, "incoming", a));
    assert_false(exists(f, "incoming", b));
    assert_true(exists(f, "deferred", a));
    assert_true(exists(f, "dead", b));
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 0);
    assert_int_equal(oh_spool_show(f->sp, a, &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_DEFERRED);
    assert_int_equal(e->meta.attempts, 1);
    assert_string_equal(e->meta.error, "later");
    oh_spool_entry_free(e);
    assert_int_equal(oh_spool_show(f->sp, b, &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_DEAD);
    assert_string_equal(e->data, "payload 2");
    oh_spool_entry_free(e);

    /* retry: b is claimable again, held in place like any new entry */
    assert_int_equal(oh_spool_retry(f->sp, b, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_string_equal(id, b);
    assert_true(exists(f, "incoming", b));
    assert_int_equal(oh_spool_done(f->sp, b, &err), 0);
    assert_false(exists(f, "incoming", b));
}

/* 1 when tmp/ holds a recycling-pool file ("f.*"). */
static int pooled_file(const struct fx *f)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *de;
    int found = 0;

    fmt(path, sizeof(path), "%s/tmp", f->root);
    assert_non_null(d = opendir(path));
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "f.", 2) == 0)
            found = 1;
    closedir(d);
    return found;
}

/* A deferred entry that comes due is claimed by a rename into active/ as
 * before; done sends its file to the reaper, not to the recycling pool (a
 * sole claimer's pool waits for rounds of incoming/, not of active/). */
static void test_due_deferred_entry_from_active(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    struct oh_spool_opts o = {.backoff_base_ms = 1, .backoff_max_ms = 1};
    char a[OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];
    int tries = 0;

    oh_spool_free(f->sp);
    assert_int_equal(oh_spool_open(f->root, &o, &f->sp, &err), 0);
    oh_spool_sole_claimer(f->sp);
    put(f->sp, 1, a);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_defer(f->sp, a, "later", &err), 0);
    while (oh_spool_claim(f->sp, id, &err) == OH_ENOTFOUND && ++tries < 200)
        usleep(5000); /* due within a few ms */
    assert_string_equal(id, a);
    assert_true(exists(f, "active", a)); /* claimed by a rename */
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 1);
    assert_int_equal(oh_spool_done(f->sp, a, &err), 0);
    assert_false(exists(f, "active", a));
    assert_false(pooled_file(f));
}

/* With archiving on, done moves the held entry from incoming/ to archive/. */
static void test_done_archives(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    struct oh_spool_opts o = {.archive = 1};
    char a[OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];

    oh_spool_free(f->sp);
    assert_int_equal(oh_spool_open(f->root, &o, &f->sp, &err), 0);
    oh_spool_sole_claimer(f->sp);
    put(f->sp, 1, a);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
    assert_false(exists(f, "incoming", a));
    assert_true(exists(f, "archive", a));
}

/* S4: a process that stops with entries held leaves them in incoming/,
 * where the next process claims them after recovery (nothing to move). */
static void test_crash_leaves_entries_in_incoming(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], id[OH_SPOOL_ID_MAX];
    size_t moved = 99;

    oh_spool_sole_claimer(f->sp);
    put(f->sp, 1, a);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    oh_spool_free(f->sp); /* no outcome: as after a crash */
    assert_int_equal(oh_spool_open(f->root, NULL, &f->sp, &err), 0);
    assert_int_equal(oh_spool_recover(f->sp, &moved, &err), 0);
    assert_int_equal(moved, 0);
    assert_true(exists(f, "incoming", a));
    oh_spool_sole_claimer(f->sp);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_string_equal(id, a);
}

/* S3 with threads: four claimers share one sole-claimer spool and every
 * entry is handed out exactly once. */
struct claimer {
    struct oh_spool *sp;
    char (*got)[OH_SPOOL_ID_MAX];
    size_t n;
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];

    while (oh_spool_claim(c->sp, id, &err) == 0) {
        memcpy(c->got[c->n++], id, sizeof(id));
        if (oh_spool_done(c->sp, id, &err) != 0)
            return (void *)1;
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_threads_claim_each_once(void **state)
{
    struct fx *f = *state;
    struct claimer c[4];
    pthread_t th[4];
    char (*all)[OH_SPOOL_ID_MAX] = calloc(MANY, OH_SPOOL_ID_MAX);
    size_t total = 0;

    assert_non_null(all);
    oh_spool_sole_claimer(f->sp);
    for (size_t i = 0; i < MANY; i++)
        put(f->sp, i, NULL);
    for (int t = 0; t < 4; t++) {
        c[t].sp = f->sp;
        c[t].n = 0;
        assert_non_null(c[t].got = calloc(MANY, OH_SPOOL_ID_MAX));
        assert_int_equal(pthread_create(&th[t], NULL, claim_all, &c[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        void *r;
        assert_int_equal(pthread_join(th[t], &r), 0);
        assert_null(r);
        memcpy(all[total], c[t].got, c[t].n * OH_SPOOL_ID_MAX);
        total += c[t].n;
        free(c[t].got);
    }
    assert_int_equal(total, MANY);
    qsort(all, total, OH_SPOOL_ID_MAX, cmp_id);
    for (size_t i = 1; i < total; i++)
        if (strcmp(all[i - 1], all[i]) == 0)
            fail_msg("entry %s claimed twice", all[i]);
    free(all);
    oh_spool_free(f->sp);
    f->sp = NULL;
    assert_int_equal(files_in(f, "incoming"), 0);
    assert_int_equal(files_in(f, "tmp"), 0);
    struct oh_err err = {0};
    assert_int_equal(oh_spool_open(f->root, NULL, &f->sp, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_holds_in_place, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refill_skips_held, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_done_file_recycled, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_defer_and_kill_from_incoming, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_due_deferred_entry_from_active, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_done_archives, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_crash_leaves_entries_in_incoming, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_threads_claim_each_once, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
