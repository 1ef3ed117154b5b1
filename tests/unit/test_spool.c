/*
 * test_spool.c — the durable spool (spool/spool.h). Test names and comments
 * cite the invariants S1–S6 drawn in spool.h. Every test works in a fresh
 * directory under $TMPDIR (or /tmp) and removes it afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/spool.h"
#define SPOOL_FX_TAG "test"
#include "spool_testfx.h"
#include "spool/spool_int.h" /* SP_FREE_SYNC_EVERY */
#include "util.h"

/* snprintf that tests may truncate on purpose (keeps -Wformat-truncation
 * quiet about fixed-size buffers). */

/* Reopens the fixture's spool with other options. */
static void reopen(struct fx *f, const struct oh_spool_opts *o)
{
    struct oh_err err = {0};

    oh_spool_free(f->sp);
    f->sp = NULL;
    assert_int_equal(oh_spool_open(f->root, o, &f->sp, &err), 0);
}

static size_t count(struct oh_spool *sp, enum oh_spool_queue q)
{
    size_t n = 99999;
    struct oh_err err = {0};

    assert_int_equal(oh_spool_count(sp, q, &n, &err), 0);
    return n;
}

static char *slurp(const struct fx *f, const char *sub, const char *name, size_t *len)
{
    char path[PATH_MAX], *buf = NULL;
    struct oh_err err = {0};

    fmt(path, sizeof(path), "%s/%s/%s", f->root, sub, name);
    assert_int_equal(oh_read_file(path, 0, &buf, len, &err), 0);
    return buf;
}

static void meta_init(struct oh_spool_meta *m, const char *channel, const char *source)
{
    memset(m, 0, sizeof(*m));
    fmt(m->channel, sizeof(m->channel), "%s", channel);
    fmt(m->format, sizeof(m->format), "json");
    fmt(m->source, sizeof(m->source), "%s", source);
}

static void enqueue_ok(struct oh_spool *sp, const char *payload, char id[OH_SPOOL_ID_MAX])
{
    struct oh_spool_meta m;
    struct oh_err err = {0};
    int rc;

    meta_init(&m, "shop-a", "test");
    rc = oh_spool_enqueue(sp, &m, payload, strlen(payload), id, &err);
    if (rc != 0)
        fail_msg("enqueue: %s", err.msg);
}

/* Claims, polling until something is due (bounded: 10 s). */
static int claim_wait(struct oh_spool *sp, char id[OH_SPOOL_ID_MAX])
{
    struct oh_err err = {0};
    int64_t until = oh_mono_ms() + 10000;
    int rc;

    while ((rc = oh_spool_claim(sp, id, &err)) == OH_ENOTFOUND && oh_mono_ms() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return rc;
}

/* ---- S5: payload bytes stored exactly ----------------------------------- */

static void test_s5_roundtrip_binary(void **state)
{
    struct fx *f = *state;
    static const char payload[] = "OHSPOOL 1\r\nchannel: evil\n\n\0\0\r\n\xff\xfe{\"a\":1}\r\n\n\0";
    size_t plen = sizeof(payload); /* including every NUL */
    struct oh_spool_meta m;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], cid[OH_SPOOL_ID_MAX];

    meta_init(&m, "shop-a", "orders/1001.json");
    m.received_at = 1763890200123LL;
    assert_int_equal(oh_spool_enqueue(f->sp, &m, payload, plen, id, &err), 0);
    assert_true(strlen(id) > 0);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 1);
    assert_true(exists(f, "incoming", id));
    assert_int_equal(files_in(f, "tmp"), 0);

    assert_int_equal(oh_spool_claim(f->sp, cid, &err), 0);
    assert_string_equal(cid, id);
    assert_false(exists(f, "incoming", id)); /* S2: in exactly one queue */
    assert_true(exists(f, "active", id));

    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_string_equal(e->id, id);
    assert_int_equal(e->len, plen);
    assert_memory_equal(e->data, payload, plen);
    assert_int_equal(e->data[e->len], '\0');
    assert_string_equal(e->meta.channel, "shop-a");
    assert_string_equal(e->meta.format, "json");
    assert_string_equal(e->meta.source, "orders/1001.json");
    assert_int_equal(e->meta.received_at, 1763890200123LL);
    assert_int_equal(e->meta.attempts, 0);
    oh_spool_entry_free(e);

    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
    for (int q = OH_SPOOL_INCOMING; q <= OH_SPOOL_DEAD; q++)
        assert_int_equal(count(f->sp, (enum oh_spool_queue)q), 0);
    assert_int_equal(files_in(f, "archive"), 0);
    assert_int_equal(oh_spool_claim(f->sp, cid, &err), OH_ENOTFOUND);
    /* done twice: the entry is no longer active */
    assert_int_equal(oh_spool_done(f->sp, id, &err), OH_ENOTFOUND);
}

static void test_empty_payload_and_received_at_default(void **state)
{
    struct fx *f = *state;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];
    int64_t before = oh_now_ms();

    assert_int_equal(oh_spool_enqueue(f->sp, NULL, NULL, 0, id, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_int_equal(e->len, 0);
    assert_true(e->meta.received_at >= before);
    assert_true(e->meta.received_at <= oh_now_ms());
    oh_spool_entry_free(e);
}

/* ---- S6: FIFO is name order --------------------------------------------- */

static void test_s6_fifo_order(void **state)
{
    struct fx *f = *state;
    char ids[50][OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX], buf[32];
    struct oh_err err = {0};

    for (int i = 0; i < 50; i++) {
        fmt(buf, sizeof(buf), "doc %d", i);
        enqueue_ok(f->sp, buf, ids[i]);
        if (i > 0)
            assert_true(strcmp(ids[i - 1], ids[i]) < 0); /* S6 */
    }
    for (int i = 0; i < 50; i++) {
        struct oh_spool_entry *e = NULL;
        assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
        assert_string_equal(got, ids[i]);
        assert_int_equal(oh_spool_load(f->sp, got, &e, &err), 0);
        fmt(buf, sizeof(buf), "doc %d", i);
        assert_string_equal(e->data, buf);
        oh_spool_entry_free(e);
        assert_int_equal(oh_spool_done(f->sp, got, &err), 0);
    }
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);
}

/* Entries enqueued after the claimer read its batch of names are found too,
 * and in order. */
static void test_s6_claim_sees_later_entries(void **state)
{
    struct fx *f = *state;
    char a[OH_SPOOL_ID_MAX], b[OH_SPOOL_ID_MAX], c[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];
    struct oh_err err = {0};

    enqueue_ok(f->sp, "a", a);
    enqueue_ok(f->sp, "b", b);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_string_equal(got, a);
    enqueue_ok(f->sp, "c", c);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_string_equal(got, b);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_string_equal(got, c);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);
}

/* S3: a name another claimer renamed first is skipped, not reported as an
 * empty queue; and that entry is never handed out twice. */
static void test_s3_claim_skips_lost_race(void **state)
{
    struct fx *f = *state;
    struct oh_spool *other = NULL;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], b[OH_SPOOL_ID_MAX], c[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];

    assert_int_equal(oh_spool_open(f->root, NULL, &other, &err), 0);
    enqueue_ok(f->sp, "a", a);
    enqueue_ok(f->sp, "b", b);
    enqueue_ok(f->sp, "c", c);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0); /* f->sp now holds b, c in memory */
    assert_string_equal(got, a);
    assert_int_equal(oh_spool_claim(other, got, &err), 0); /* the other "process" takes b */
    assert_string_equal(got, b);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0); /* b is gone: c, not an error */
    assert_string_equal(got, c);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_claim(other, got, &err), OH_ENOTFOUND);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 3);
    oh_spool_free(other);
}

/* ---- header format ------------------------------------------------------ */

static void test_header_escaping(void **state)
{
    struct fx *f = *state;
    struct oh_spool_meta m;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], *raw, *end;
    size_t rlen, lines = 0;
    const char *src = "line1\nline2\r\n100% done %0A\x01tab\there";

    meta_init(&m, "shop%a", src);
    assert_int_equal(oh_spool_enqueue(f->sp, &m, "\n\npayload", 9, id, &err), 0);

    raw = slurp(f, "incoming", id, &rlen);
    assert_non_null(end = strstr(raw, "\n\n"));
    for (char *p = raw; p <= end; p++)
        lines += *p == '\n';
    /* OHSPOOL 1 + channel, format, source, received_at, attempts,
     * next_attempt, error: no value added a line. */
    assert_int_equal(lines, 8);
    assert_memory_equal(raw, "OHSPOOL 1\n", 10);
    assert_non_null(strstr(raw, "\nchannel: shop%25a\n"));
    assert_non_null(strstr(raw, "\nsource: line1%0Aline2%0D%0A100%25 done %250A%01tab%09here\n"));
    assert_memory_equal(end + 2, "\n\npayload", 9); /* S5: payload follows verbatim */
    free(raw);

    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_string_equal(e->meta.source, src);
    assert_string_equal(e->meta.channel, "shop%a");
    assert_int_equal(e->len, 9);
    assert_memory_equal(e->data, "\n\npayload", 9);
    oh_spool_entry_free(e);
}

static void write_raw(const struct fx *f, const char *sub, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *fp;

    fmt(path, sizeof(path), "%s/%s/%s", f->root, sub, name);
    assert_non_null(fp = fopen(path, "wb"));
    fputs(text, fp);
    fclose(fp);
}

/* Unknown header keys are ignored; a damaged entry is claimed and reported
 * by load (OH_EINVAL), never silently skipped or crashed on. */
static void test_hand_written_entries(void **state)
{
    struct fx *f = *state;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];

    write_raw(f, "incoming", "0000000000001-000000-1",
              "OHSPOOL 1\nchannel: c%41\nfuture_key: x\nattempts: 2\n\nbody");
    write_raw(f, "incoming", "0000000000002-000000-1", "not an entry at all");
    write_raw(f, "incoming", "0000000000003-000000-1", "OHSPOOL 1\nchannel: x\n");
    write_raw(f, "incoming", "0000000000004-000000-1", "OHSPOOL 1\nattempts: many\n\n");
    write_raw(f, "incoming", ".hidden", "ignored");

    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 4);
    assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
    assert_string_equal(id, "0000000000001-000000-1");
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_string_equal(e->meta.channel, "cA");
    assert_int_equal(e->meta.attempts, 2);
    assert_string_equal(e->data, "body");
    oh_spool_entry_free(e);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(oh_spool_claim(f->sp, id, &err), 0);
        e = (struct oh_spool_entry *)1;
        assert_int_equal(oh_spool_load(f->sp, id, &e, &err), OH_EINVAL);
        assert_null(e);
        assert_non_null(strstr(err.msg, id));
        /* a damaged entry still goes to dead/, as it is */
        if (i == 0)
            assert_int_equal(oh_spool_kill(f->sp, id, "corrupt", &err), 0);
        else
            assert_int_equal(oh_spool_defer(f->sp, id, "corrupt", &err), 1);
        assert_true(exists(f, "dead", id));
    }
    assert_int_equal(oh_spool_claim(f->sp, id, &err), OH_ENOTFOUND);
    assert_int_equal(count(f->sp, OH_SPOOL_DEAD), 3);
    {
        char *raw;
        size_t rlen;
        raw = slurp(f, "dead", "0000000000002-000000-1", &rlen);
        assert_string_equal(raw, "not an entry at all"); /* moved unchanged */
        free(raw);
        raw = slurp(f, "dead", "0000000000002-000000-1.reason", &rlen);
        assert_string_equal(raw, "corrupt\n");
        free(raw);
    }
}

/* ---- defer, dead, kill, retry ------------------------------------------- */

static void test_defer_backoff(void **state)
{
    struct fx *f = *state;
    struct oh_spool_opts o = {.backoff_base_ms = 400, .backoff_max_ms = 800};
    struct oh_spool_entry *e = NULL;
    enum oh_spool_queue where;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];
    int64_t t0, next;

    reopen(f, &o);
    enqueue_ok(f->sp, "payload", id);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    t0 = oh_now_ms();
    assert_int_equal(oh_spool_defer(f->sp, id, "HTTP 503 from erp", &err), 0);
    assert_true(exists(f, "deferred", id));
    assert_false(exists(f, "active", id)); /* S2 */
    assert_int_equal(files_in(f, "tmp"), 0);

    assert_int_equal(oh_spool_show(f->sp, id, &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_DEFERRED);
    assert_int_equal(e->meta.attempts, 1);
    assert_string_equal(e->meta.error, "HTTP 503 from erp");
    assert_string_equal(e->data, "payload"); /* payload survives the rewrite */
    next = e->meta.next_attempt;
    oh_spool_entry_free(e);
    /* first backoff: base with full jitter in [base/2, base] */
    assert_true(next >= t0 + 200);
    assert_true(next <= oh_now_ms() + 400);

    /* Not claimable before it is due ... */
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);
    /* ... and claimable after. */
    assert_int_equal(claim_wait(f->sp, got), 0);
    assert_true(oh_now_ms() >= next);
    assert_string_equal(got, id);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_int_equal(e->meta.attempts, 1);
    oh_spool_entry_free(e);
    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
}

/* A deferred entry made due by another process (here: another handle, so
 * this handle never heard of the defer) is found by the periodic rescan. */
static void test_defer_seen_across_handles(void **state)
{
    struct fx *f = *state;
    struct oh_spool_opts o = {.backoff_base_ms = 2, .backoff_max_ms = 2};
    struct oh_spool *other = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];

    reopen(f, &o);
    assert_int_equal(oh_spool_open(f->root, &o, &other, &err), 0);
    /* f->sp scans deferred/ now (empty) and will not rescan for a while */
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);
    enqueue_ok(other, "x", id);
    assert_int_equal(oh_spool_claim(other, got, &err), 0);
    assert_int_equal(oh_spool_defer(other, id, "later", &err), 0);
    assert_int_equal(claim_wait(f->sp, got), 0);
    assert_string_equal(got, id);
    oh_spool_free(other);
}

static void test_attempts_exhausted_goes_dead(void **state)
{
    struct fx *f = *state;
    struct oh_spool_opts o = {.backoff_base_ms = 1, .backoff_max_ms = 2, .max_attempts = 2};
    struct oh_spool_entry *e = NULL;
    enum oh_spool_queue where;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX], *reason, rname[OH_SPOOL_ID_MAX + 8];
    size_t rlen;

    reopen(f, &o);
    enqueue_ok(f->sp, "{\"order\":1}", id);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(claim_wait(f->sp, got), 0);
        assert_string_equal(got, id);
        assert_int_equal(oh_spool_defer(f->sp, id, "HTTP 503", &err), 0);
    }
    assert_int_equal(claim_wait(f->sp, got), 0);
    assert_int_equal(oh_spool_defer(f->sp, id, "HTTP 503", &err), 1); /* past max_attempts */

    assert_true(exists(f, "dead", id));
    assert_false(exists(f, "deferred", id));
    assert_false(exists(f, "active", id));
    fmt(rname, sizeof(rname), "%s.reason", id);
    reason = slurp(f, "dead", rname, &rlen);
    assert_string_equal(reason, "giving up after 3 attempts: HTTP 503\n");
    free(reason);
    assert_int_equal(count(f->sp, OH_SPOOL_DEAD), 1); /* the .reason is not an entry */
    assert_int_equal(files_in(f, "tmp"), 0);

    assert_int_equal(oh_spool_show(f->sp, id, &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_DEAD);
    assert_int_equal(e->meta.attempts, 3);
    assert_string_equal(e->meta.error, "giving up after 3 attempts: HTTP 503");
    assert_string_equal(e->data, "{\"order\":1}");
    oh_spool_entry_free(e);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);
}

static void test_kill_and_retry(void **state)
{
    struct fx *f = *state;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX], *reason, rname[OH_SPOOL_ID_MAX + 8];
    size_t rlen;

    /* default backoff (30 s): the deferred entry is not due during the test */
    enqueue_ok(f->sp, "doc", id);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_defer(f->sp, id, "timeout", &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), OH_ENOTFOUND);

    /* retry: deferred -> incoming, claimable now */
    assert_int_equal(oh_spool_retry(f->sp, id, &err), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_DEFERRED), 0);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_string_equal(got, id);

    assert_int_equal(oh_spool_kill(f->sp, id, "unknown SKU ABC-1\nline 2", &err), 0);
    assert_true(exists(f, "dead", id));
    fmt(rname, sizeof(rname), "%s.reason", id);
    reason = slurp(f, "dead", rname, &rlen);
    assert_string_equal(reason, "unknown SKU ABC-1\nline 2\n");
    free(reason);

    /* retry: dead -> incoming, .reason removed, attempts kept */
    assert_int_equal(oh_spool_retry(f->sp, id, &err), 0);
    assert_false(exists(f, "dead", id));
    assert_false(exists(f, "dead", rname));
    assert_true(exists(f, "incoming", id));
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_int_equal(e->meta.attempts, 2);
    assert_string_equal(e->meta.error, "unknown SKU ABC-1\nline 2");
    assert_string_equal(e->data, "doc");
    oh_spool_entry_free(e);

    /* wrong states and bad ids */
    assert_int_equal(oh_spool_retry(f->sp, id, &err), OH_ENOTFOUND); /* it is active */
    assert_int_equal(oh_spool_retry(f->sp, "0000000000000-000000-0", &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_retry(f->sp, "../active/x", &err), OH_EINVAL);
    assert_int_equal(oh_spool_done(f->sp, "..", &err), OH_EINVAL);
    assert_int_equal(oh_spool_kill(f->sp, "0000000000000-000000-0", "x", &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_defer(f->sp, "0000000000000-000000-0", "x", &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_load(f->sp, "0000000000000-000000-0", &e, &err), OH_ENOTFOUND);
    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
}

/* ---- S4: recovery ------------------------------------------------------- */

static void test_s4_recover_after_crash(void **state)
{
    struct fx *f = *state;
    struct oh_spool *sp2 = NULL;
    struct oh_err err = {0};
    char ids[3][OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];
    size_t moved = 99;

    for (int i = 0; i < 3; i++)
        enqueue_ok(f->sp, i == 0 ? "zero" : i == 1 ? "one" : "two", ids[i]);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    /* the "crash": two entries left in active/, junk in tmp/ */
    write_raw(f, "tmp", ids[0], "OHSPOOL 1\nchannel: half-writ");
    write_raw(f, "tmp", "w.0000000000001-000000-1", "partial");
    write_raw(f, "tmp", ".probe.x", "");
    oh_spool_free(f->sp);
    f->sp = NULL;

    assert_int_equal(oh_spool_open(f->root, NULL, &sp2, &err), 0);
    assert_int_equal(oh_spool_recover(sp2, &moved, &err), 0);
    assert_int_equal(moved, 2);
    assert_int_equal(count(sp2, OH_SPOOL_ACTIVE), 0);
    assert_int_equal(count(sp2, OH_SPOOL_INCOMING), 3);
    assert_int_equal(files_in(f, "tmp"), 0);
    /* nothing else lost, order kept */
    for (int i = 0; i < 3; i++) {
        struct oh_spool_entry *e = NULL;
        assert_int_equal(oh_spool_claim(sp2, got, &err), 0);
        assert_string_equal(got, ids[i]);
        assert_int_equal(oh_spool_load(sp2, got, &e, &err), 0);
        assert_string_equal(e->data, i == 0 ? "zero" : i == 1 ? "one" : "two");
        oh_spool_entry_free(e);
    }
    /* recover on a clean spool is a no-op */
    assert_int_equal(oh_spool_recover(sp2, NULL, &err), 0);
    assert_int_equal(count(sp2, OH_SPOOL_INCOMING), 3);
    f->sp = sp2;
}

/* ---- S1: failing steps are errors and leave nothing behind -------------- */

static void test_s1_faults_leave_nothing(void **state)
{
    struct fx *f = *state;
    static const char *points[] = {"spool.fsync", "spool.rename", "spool.dirfsync"};
    struct oh_spool_writer *w = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];

    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        setenv("OH_FAULTS", points[i], 1);
        memset(&err, 0, sizeof(err));
        strcpy(id, "stale");
        assert_true(oh_spool_enqueue(f->sp, NULL, "abc", 3, id, &err) < 0);
        assert_string_equal(id, "");
        assert_true(err.msg[0] != '\0');
        assert_int_equal(files_in(f, "incoming"), 0);
        assert_int_equal(files_in(f, "tmp"), 0);

        assert_int_equal(oh_spool_writer_open(f->sp, NULL, &w, &err), 0);
        assert_int_equal(oh_spool_writer_write(w, "abc", 3, &err), 0);
        assert_true(oh_spool_writer_commit(w, id, &err) < 0);
        assert_int_equal(files_in(f, "incoming"), 0);
        assert_int_equal(files_in(f, "tmp"), 0);
        unsetenv("OH_FAULTS");
    }
    /* and with the faults gone, enqueue works again */
    enqueue_ok(f->sp, "abc", id);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 1);
}

/* A failing fsync during defer leaves the entry active and whole (S2). */
static void test_defer_fault_keeps_entry(void **state)
{
    struct fx *f = *state;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];

    enqueue_ok(f->sp, "keep me", id);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    setenv("OH_FAULTS", "spool.fsync", 1);
    assert_true(oh_spool_defer(f->sp, id, "x", &err) < 0);
    assert_true(oh_spool_kill(f->sp, id, "x", &err) < 0);
    unsetenv("OH_FAULTS");
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_int_equal(e->meta.attempts, 0);
    assert_string_equal(e->data, "keep me");
    oh_spool_entry_free(e);
}

/* ---- limits and archive ------------------------------------------------- */

static void test_max_size(void **state)
{
    struct fx *f = *state;
    struct oh_spool_opts o = {.max_size = 10};
    struct oh_spool_writer *w = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];

    reopen(f, &o);
    assert_int_equal(oh_spool_enqueue(f->sp, NULL, "0123456789", 10, id, &err), 0);
    assert_int_equal(oh_spool_enqueue(f->sp, NULL, "0123456789A", 11, id, &err), OH_ETOOBIG);

    assert_int_equal(oh_spool_writer_open(f->sp, NULL, &w, &err), 0);
    assert_int_equal(oh_spool_writer_write(w, "012345", 6, &err), 0);
    assert_int_equal(oh_spool_writer_write(w, "6789A", 5, &err), OH_ETOOBIG);
    assert_true(oh_spool_writer_commit(w, id, &err) < 0);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 1);
    assert_int_equal(files_in(f, "tmp"), 0);
}

static void test_archive(void **state)
{
    struct fx *f = *state;
    struct oh_spool_opts o = {.archive = 1};
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX], *raw;
    size_t rlen;

    reopen(f, &o);
    enqueue_ok(f->sp, "archived payload", id);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);
    assert_false(exists(f, "active", id));
    raw = slurp(f, "archive", id, &rlen);
    assert_true(rlen > 16);
    assert_memory_equal(raw + rlen - 16, "archived payload", 16);
    free(raw);
}

/* ---- recycled files (spool.c, sp_free_put) ------------------------------ */

/* Hard-links the oldest tmp/ file (smallest name) to `to`, so the test can
 * see whether the spool writes over it; returns how many files tmp/ has. */
static size_t link_oldest_tmp(const struct fx *f, const char *to)
{
    char dir[PATH_MAX], from[PATH_MAX], best[256] = "";
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    fmt(dir, sizeof(dir), "%s/tmp", f->root);
    assert_non_null(d = opendir(dir));
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            if (!best[0] || strcmp(de->d_name, best) < 0)
                fmt(best, sizeof(best), "%s", de->d_name);
            n++;
        }
    closedir(d);
    assert_true(n > 0);
    fmt(from, sizeof(from), "%s/%s", dir, best);
    unlink(to);
    assert_int_equal(link(from, to), 0);
    return n;
}

static int file_ends_with(const char *path, const char *tail, size_t *len)
{
    char *buf = NULL;
    size_t tl = strlen(tail);
    struct oh_err err = {0};
    int r;

    assert_int_equal(oh_read_file(path, 0, &buf, len, &err), 0);
    r = *len >= tl && memcmp(buf + *len - tl, tail, tl) == 0;
    free(buf);
    return r;
}

/* n entries enqueued, claimed and done: n files kept in tmp/. */
static void fill_pool(struct fx *f, int n, const char *payload)
{
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];

    for (int i = 0; i < n; i++) {
        enqueue_ok(f->sp, payload, id);
        assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
        assert_int_equal(oh_spool_done(f->sp, got, &err), 0);
        assert_false(exists(f, "active", got));
    }
}

/* A done entry's file is kept in tmp/ and, once a round of active/ fsyncs
 * covers its rename (done runs one every SP_FREE_SYNC_EVERY files), written
 * over by a later enqueue: the new entry holds exactly its own bytes (S5),
 * the kept file is never an entry (S2), free and recover leave none. */
static void test_done_file_recycled(void **state)
{
    struct fx *f = *state;
    static const char big[] = "a long first payload that the second one must not leave a trace of";
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX], keep[PATH_MAX];
    size_t len;

    fmt(keep, sizeof(keep), "%s/kept", f->root);
    fill_pool(f, SP_FREE_SYNC_EVERY, big);
    assert_int_equal(files_in(f, "tmp"), SP_FREE_SYNC_EVERY);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 0);
    link_oldest_tmp(f, keep);

    enqueue_ok(f->sp, "short", id);
    assert_int_equal(files_in(f, "tmp"), SP_FREE_SYNC_EVERY - 1);
    assert_true(file_ends_with(keep, "short", &len)); /* the same file */
    assert_true(len < 64 + sizeof(big));             /* the old tail cut */
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_string_equal(got, id);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_int_equal(e->len, 5);
    assert_memory_equal(e->data, "short", 5);
    oh_spool_entry_free(e);
    assert_int_equal(oh_spool_done(f->sp, id, &err), 0);

    /* recover empties tmp/ and forgets the pool; enqueue still works */
    assert_int_equal(oh_spool_recover(f->sp, NULL, &err), 0);
    assert_int_equal(files_in(f, "tmp"), 0);
    enqueue_ok(f->sp, "third", id);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 1);

    /* free removes what it kept */
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_done(f->sp, got, &err), 0);
    assert_int_equal(files_in(f, "tmp"), 1);
    oh_spool_free(f->sp);
    f->sp = NULL;
    assert_int_equal(files_in(f, "tmp"), 0);
    reopen(f, NULL);
    unlink(keep);
}

/* A kept file is written over only after a round of active/ fsyncs that
 * began after its rename out of active/: before that (or when the fault
 * point says the round failed) an enqueue makes a new file instead. */
static void test_recycle_needs_active_fsync(void **state)
{
    struct fx *f = *state;
    char id[OH_SPOOL_ID_MAX], keep[PATH_MAX];
    size_t len;

    fmt(keep, sizeof(keep), "%s/kept", f->root);
    fill_pool(f, 1, "first");
    link_oldest_tmp(f, keep);
    enqueue_ok(f->sp, "second", id); /* no round since the rename */
    assert_true(file_ends_with(keep, "first", &len));
    assert_int_equal(files_in(f, "tmp"), 1);

    fill_pool(f, SP_FREE_SYNC_EVERY - 1, "more"); /* the last done runs a round */
    setenv("OH_FAULTS", "spool.recycle.dirfsync", 1);
    enqueue_ok(f->sp, "third", id);
    unsetenv("OH_FAULTS");
    assert_true(file_ends_with(keep, "first", &len));
    assert_int_equal(files_in(f, "tmp"), SP_FREE_SYNC_EVERY);

    enqueue_ok(f->sp, "fourth", id);
    assert_true(file_ends_with(keep, "fourth", &len)); /* the oldest, reused */
    assert_int_equal(files_in(f, "tmp"), SP_FREE_SYNC_EVERY - 1);
    unlink(keep);
}

/* ---- list / show / count ------------------------------------------------ */

struct listed {
    char ids[8][OH_SPOOL_ID_MAX];
    char sources[8][64];
    int n, stop_after;
};

static int list_cb(const char *id, const struct oh_spool_meta *m, void *ud)
{
    struct listed *l = ud;

    if (l->n < 8) {
        fmt(l->ids[l->n], sizeof(l->ids[0]), "%s", id);
        fmt(l->sources[l->n], sizeof(l->sources[0]), "%s", m->source);
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static void test_list_show_count(void **state)
{
    struct fx *f = *state;
    struct oh_spool_meta m;
    struct oh_spool_entry *e = NULL;
    struct listed l;
    enum oh_spool_queue where;
    struct oh_err err = {0};
    char ids[4][OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX], src[16];

    for (int i = 0; i < 4; i++) {
        fmt(src, sizeof(src), "src-%d", i);
        meta_init(&m, "c", src);
        assert_int_equal(oh_spool_enqueue(f->sp, &m, "p", 1, ids[i], &err), 0);
    }
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0); /* ids[0] active */
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0); /* ids[1] -> dead */
    assert_int_equal(oh_spool_kill(f->sp, got, "bad", &err), 0);

    memset(&l, 0, sizeof(l));
    assert_int_equal(oh_spool_list(f->sp, OH_SPOOL_INCOMING, list_cb, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ids[0], ids[2]);
    assert_string_equal(l.ids[1], ids[3]);
    assert_string_equal(l.sources[1], "src-3");
    memset(&l, 0, sizeof(l));
    l.stop_after = 1;
    assert_int_equal(oh_spool_list(f->sp, OH_SPOOL_INCOMING, list_cb, &l, &err), 0);
    assert_int_equal(l.n, 1);
    memset(&l, 0, sizeof(l));
    assert_int_equal(oh_spool_list(f->sp, OH_SPOOL_DEAD, list_cb, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ids[0], ids[1]);

    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 2);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 1);
    assert_int_equal(count(f->sp, OH_SPOOL_DEFERRED), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_DEAD), 1);

    assert_int_equal(oh_spool_show(f->sp, ids[0], &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_ACTIVE);
    assert_string_equal(e->meta.source, "src-0");
    oh_spool_entry_free(e);
    assert_int_equal(oh_spool_show(f->sp, ids[3], &where, &e, &err), 0);
    assert_int_equal(where, OH_SPOOL_INCOMING);
    oh_spool_entry_free(e);
    assert_int_equal(oh_spool_show(f->sp, "0000000000000-000000-0", &where, &e, &err),
                     OH_ENOTFOUND);
    assert_null(e);
    assert_int_equal(oh_spool_show(f->sp, "a/b", &where, &e, &err), OH_EINVAL);

    assert_string_equal(oh_spool_queue_name(OH_SPOOL_INCOMING), "incoming");
    assert_string_equal(oh_spool_queue_name(OH_SPOOL_ACTIVE), "active");
    assert_string_equal(oh_spool_queue_name(OH_SPOOL_DEFERRED), "deferred");
    assert_string_equal(oh_spool_queue_name(OH_SPOOL_DEAD), "dead");
    assert_string_equal(oh_spool_root(f->sp), f->root);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct oh_spool *sp = NULL;
    struct oh_spool_opts o = {.max_attempts = -1};
    struct oh_err err = {0};
    char path[PATH_MAX];

    assert_int_equal(oh_spool_open("", NULL, &sp, &err), OH_EINVAL);
    assert_int_equal(oh_spool_open(f->root, &o, &sp, &err), OH_EINVAL);
    /* a file where the spool directory should be */
    fmt(path, sizeof(path), "%s/afile", f->root);
    write_raw(f, ".", "afile", "x");
    assert_true(oh_spool_open(path, NULL, &sp, &err) < 0);
    assert_null(sp);
    assert_true(err.msg[0] != '\0');
    oh_spool_free(NULL);
}

/* ---- streaming writer ---------------------------------------------------- */

static unsigned char pattern(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + i * 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 29;
    return (unsigned char)(x * 0x94D049BB133111EBULL >> 56);
}

static void test_writer_5mb(void **state)
{
    struct fx *f = *state;
    const size_t total = 5 * 1024 * 1024 + 7;
    struct oh_spool_meta m;
    struct oh_spool_writer *w = NULL;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];
    unsigned char *data = malloc(total);
    size_t off = 0, step = 1;

    assert_non_null(data);
    for (size_t i = 0; i < total; i++)
        data[i] = pattern(7, i);
    meta_init(&m, "sftp-in", "big.edi");
    assert_int_equal(oh_spool_writer_open(f->sp, &m, &w, &err), 0);
    while (off < total) {
        size_t n = step < total - off ? step : total - off;
        assert_int_equal(oh_spool_writer_write(w, data + off, n, &err), 0);
        off += n;
        step = step * 3 % 4093 + 1; /* small chunks of varying size */
        /* nothing visible while writing */
        if (off % 64 == 0)
            assert_int_equal(files_in(f, "incoming"), 0);
    }
    assert_int_equal(oh_spool_writer_write(w, data, 0, &err), 0); /* empty write is fine */
    assert_int_equal(files_in(f, "incoming"), 0);
    assert_int_equal(oh_spool_writer_commit(w, id, &err), 0);
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 1);

    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_string_equal(got, id);
    assert_int_equal(oh_spool_load(f->sp, id, &e, &err), 0);
    assert_int_equal(e->len, total);
    assert_memory_equal(e->data, data, total); /* S5 */
    assert_string_equal(e->meta.source, "big.edi");
    oh_spool_entry_free(e);

    /* a single write bigger than the internal buffer */
    assert_int_equal(oh_spool_writer_open(f->sp, NULL, &w, &err), 0);
    assert_int_equal(oh_spool_writer_write(w, "head", 4, &err), 0);
    assert_int_equal(oh_spool_writer_write(w, data, 200000, &err), 0);
    assert_int_equal(oh_spool_writer_commit(w, id, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_load(f->sp, got, &e, &err), 0);
    assert_int_equal(e->len, 200004);
    assert_memory_equal(e->data, "head", 4);
    assert_memory_equal(e->data + 4, data, 200000);
    oh_spool_entry_free(e);
    free(data);
}

static void test_writer_abort_leaves_nothing(void **state)
{
    struct fx *f = *state;
    struct oh_spool_writer *w = NULL;
    struct oh_err err = {0};
    char chunk[1000];

    memset(chunk, 'x', sizeof(chunk));
    assert_int_equal(oh_spool_writer_open(f->sp, NULL, &w, &err), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(oh_spool_writer_write(w, chunk, sizeof(chunk), &err), 0);
    assert_int_equal(files_in(f, "tmp"), 1);
    oh_spool_writer_abort(w);
    oh_spool_writer_abort(NULL);
    assert_int_equal(files_in(f, "tmp"), 0);
    assert_int_equal(files_in(f, "incoming"), 0);
}

/* ---- concurrency: S3 and S6 ---------------------------------------------- */

#define CLAIM_N 2000
#define CLAIMERS 4

struct claimer {
    struct oh_spool *sp;
    char (*ids)[OH_SPOOL_ID_MAX];
    size_t n;
    int failed;
    char msg[256];
};

static void *claim_thread(void *arg)
{
    struct claimer *c = arg;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];
    int rc;

    while ((rc = oh_spool_claim(c->sp, id, &err)) == 0) {
        if (oh_spool_done(c->sp, id, &err) != 0) {
            /* S3: the claimer holds the entry, so done must succeed */
            c->failed = 1;
            fmt(c->msg, sizeof(c->msg), "done %s: %s", id, err.msg);
            return NULL;
        }
        memcpy(c->ids[c->n++], id, OH_SPOOL_ID_MAX);
    }
    if (rc != OH_ENOTFOUND) {
        c->failed = 1;
        fmt(c->msg, sizeof(c->msg), "claim: %s", err.msg);
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

struct enqueuer {
    struct oh_spool *sp;
    char (*ids)[OH_SPOOL_ID_MAX];
    size_t n, want;
    int failed;
    char msg[256];
};

static void *enqueue_thread(void *arg)
{
    struct enqueuer *q = arg;
    struct oh_err err = {0};
    char buf[64];

    for (size_t i = 0; i < q->want; i++) {
        int n = snprintf(buf, sizeof(buf), "%p:%zu", (void *)q, i);
        if (oh_spool_enqueue(q->sp, NULL, buf, (size_t)n, q->ids[q->n], &err) != 0) {
            q->failed = 1;
            fmt(q->msg, sizeof(q->msg), "enqueue: %s", err.msg);
            return NULL;
        }
        q->n++;
    }
    return NULL;
}

/* Enqueues want entries with `threads` threads; returns all ids, sorted. */
static char (*enqueue_parallel(struct oh_spool *sp, int threads, size_t want))[OH_SPOOL_ID_MAX]
{
    char(*all)[OH_SPOOL_ID_MAX] = calloc((size_t)threads * want, OH_SPOOL_ID_MAX);
    struct enqueuer q[8];
    pthread_t th[8];

    assert_non_null(all);
    assert_true(threads <= 8);
    for (int t = 0; t < threads; t++) {
        q[t] = (struct enqueuer){.sp = sp, .ids = all + (size_t)t * want, .want = want};
        assert_int_equal(pthread_create(&th[t], NULL, enqueue_thread, &q[t]), 0);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (q[t].failed)
            fail_msg("thread %d: %s", t, q[t].msg);
        assert_int_equal(q[t].n, want);
    }
    qsort(all, (size_t)threads * want, OH_SPOOL_ID_MAX, cmp_id);
    return all;
}

static void test_s6_concurrent_enqueue_distinct(void **state)
{
    struct fx *f = *state;
    char(*all)[OH_SPOOL_ID_MAX] = enqueue_parallel(f->sp, 4, 1000);

    for (size_t i = 1; i < 4000; i++)
        assert_true(strcmp(all[i - 1], all[i]) < 0); /* S6: unique */
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 4000);
    assert_int_equal(files_in(f, "tmp"), 0);
    /* every id returned is an entry on disk */
    for (size_t i = 0; i < 4000; i += 97)
        assert_true(exists(f, "incoming", all[i]));
    free(all);
}

static void test_s3_concurrent_claim_exactly_once(void **state)
{
    struct fx *f = *state;
    struct oh_spool *sp2 = NULL;
    struct oh_err err = {0};
    struct claimer c[CLAIMERS];
    pthread_t th[CLAIMERS];
    char(*all)[OH_SPOOL_ID_MAX] = enqueue_parallel(f->sp, 4, CLAIM_N / 4);
    char(*got)[OH_SPOOL_ID_MAX] = calloc(CLAIM_N * CLAIMERS, OH_SPOOL_ID_MAX);
    size_t total = 0;

    assert_non_null(got);
    /* Two handles stand for two processes: their claims race on rename
     * (S3); two threads per handle also share a batch. */
    assert_int_equal(oh_spool_open(f->root, NULL, &sp2, &err), 0);
    for (int t = 0; t < CLAIMERS; t++) {
        c[t] = (struct claimer){.sp = t % 2 ? sp2 : f->sp, .ids = got + (size_t)t * CLAIM_N};
        assert_int_equal(pthread_create(&th[t], NULL, claim_thread, &c[t]), 0);
    }
    for (int t = 0; t < CLAIMERS; t++) {
        pthread_join(th[t], NULL);
        if (c[t].failed)
            fail_msg("claimer %d: %s", t, c[t].msg);
    }
    /* gather, sort, compare with what was enqueued: each exactly once */
    for (int t = 0; t < CLAIMERS; t++) {
        memmove(got + total, c[t].ids, c[t].n * OH_SPOOL_ID_MAX);
        total += c[t].n;
    }
    assert_int_equal(total, CLAIM_N);
    qsort(got, total, OH_SPOOL_ID_MAX, cmp_id);
    for (size_t i = 0; i < CLAIM_N; i++)
        assert_string_equal(got[i], all[i]);
    assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), 0);
    assert_int_equal(count(f->sp, OH_SPOOL_ACTIVE), 0);
    oh_spool_free(sp2);
    free(all);
    free(got);
}

/* ---- S1 under SIGKILL ---------------------------------------------------- */

static size_t fork_payload_len(unsigned seed)
{
    return (size_t)(seed * 7919u % 50000u) + 1;
}

static void child_enqueue_forever(const char *root)
{
    struct oh_spool *sp = NULL;
    struct oh_err err = {0};
    unsigned char *buf = malloc(50001);
    char id[OH_SPOOL_ID_MAX];

    if (!buf || oh_spool_open(root, NULL, &sp, &err) != 0)
        _exit(2);
    for (unsigned seed = 1;; seed++) {
        struct oh_spool_meta m;
        size_t len = fork_payload_len(seed);
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(seed, i);
        memset(&m, 0, sizeof(m));
        fmt(m.source, sizeof(m.source), "seed=%u", seed);
        if (oh_spool_enqueue(sp, &m, buf, len, id, &err) != 0)
            _exit(3);
    }
}

struct check_ctx {
    struct oh_spool *sp;
    size_t n, bad;
    char msg[512];
};

static int check_cb(const char *id, const struct oh_spool_meta *m, void *ud)
{
    struct check_ctx *c = ud;
    struct oh_spool_entry *e = NULL;
    struct oh_err err = {0};
    unsigned seed = 0;
    size_t len;

    c->n++;
    if (sscanf(m->source, "seed=%u", &seed) != 1 ||
        oh_spool_show(c->sp, id, NULL, &e, &err) != 0) {
        c->bad++;
        fmt(c->msg, sizeof(c->msg), "%s: unreadable: %s %s", id, m->error, err.msg);
        return 0;
    }
    len = fork_payload_len(seed);
    if (e->len != len) {
        c->bad++;
        fmt(c->msg, sizeof(c->msg), "%s: %zu bytes, want %zu", id, e->len, len);
    } else {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)e->data[i] != pattern(seed, i)) {
                c->bad++;
                fmt(c->msg, sizeof(c->msg), "%s: byte %zu differs", id, i);
                break;
            }
    }
    oh_spool_entry_free(e);
    return 0;
}

static void test_s1_sigkill_leaves_no_partial_entry(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    size_t before = 0;

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int round = 0; round < 6; round++) {
        struct check_ctx c = {.sp = f->sp};
        int64_t until = oh_mono_ms() + 20000;
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
            child_enqueue_forever(f->root); /* never returns */
        /* let it get going, then kill it at a random moment */
        while (count(f->sp, OH_SPOOL_INCOMING) < before + 5 && oh_mono_ms() < until) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        {
            struct timespec ts = {0, (long)(rand() % 20000) * 1000};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* killed, not exited on an error of its own */
        assert_true(WIFSIGNALED(status));

        /* every visible entry is complete and loads cleanly */
        assert_int_equal(oh_spool_list(f->sp, OH_SPOOL_INCOMING, check_cb, &c, &err), 0);
        if (c.bad)
            fail_msg("%zu of %zu entries damaged, e.g. %s", c.bad, c.n, c.msg);
        assert_true(c.n >= before + 5);
        before = c.n;
        /* what the kill left in tmp/ is cleaned up by recover (S4) */
        assert_int_equal(oh_spool_recover(f->sp, NULL, &err), 0);
        assert_int_equal(files_in(f, "tmp"), 0);
        assert_int_equal(count(f->sp, OH_SPOOL_INCOMING), before);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_s5_roundtrip_binary, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_payload_and_received_at_default, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_s6_fifo_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s6_claim_sees_later_entries, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s3_claim_skips_lost_race, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_header_escaping, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hand_written_entries, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_defer_backoff, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_defer_seen_across_handles, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_attempts_exhausted_goes_dead, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill_and_retry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s4_recover_after_crash, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s1_faults_leave_nothing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_defer_fault_keeps_entry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_max_size, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_archive, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_done_file_recycled, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recycle_needs_active_fsync, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_show_count, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_writer_5mb, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_writer_abort_leaves_nothing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s6_concurrent_enqueue_distinct, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s3_concurrent_claim_exactly_once, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_s1_sigkill_leaves_no_partial_entry, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
