/*
 * test_sftp_filechan.c — the `sftp` channel end to end: the file-channel
 * engine over the SFTP transport, into a real spool, against a real sshd.
 *
 * Same environment as test_sftp.c (`eval "$(scripts/sshd env)"`); without it
 * every test FAILS with a message saying so.
 */
#include <errno.h>
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

#include "config.h"
#include "connector.h"
#include "connectors/dir/filechan.h"
#include "connectors/sftp/sftp.h"
#include "spool/spool.h"

extern const struct oh_connector oh_connector_sftp;

static const char *port, *user, *key, *known_hosts, *root;
static char testdir[1024], spooldir[1024];
static int dirno;

static const char *need(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("environment variable %s is not set: start the test server and export its "
                 "settings first:  scripts/sshd start && eval \"$(scripts/sshd env)\"",
                 name);
    return v;
}

static int group_setup(void **state)
{
    port = need("OH_SSHD_PORT");
    user = need("OH_SSHD_USER");
    key = need("OH_SSHD_KEY");
    known_hosts = need("OH_SSHD_KNOWN_HOSTS");
    root = need("OH_SSHD_ROOT");
    return 0;
}

/* "Seen before" keys, in memory (core backs these with the store). With
 * sp set, each remember also checks the order of the steps: the file's
 * entry is already in the spool, and the remote file is not yet moved. */
struct memo {
    char **keys;
    size_t n;
    int fail;            /* remember fails (the store is down) */
    struct oh_spool *sp; /* check the order */
    size_t bad_order;    /* remembers that broke it */
    size_t calls;        /* memo_remember_many calls */
    size_t pairs;        /* memo_seen_pair calls */
};

static int remote_exists(const char *rel);
static size_t entries_from(struct oh_spool *sp, const char *source);

static int memo_seen(struct oh_channel *ch, const char *k, int *seen, struct oh_err *err)
{
    struct memo *m = ch->ops_ud;
    *seen = 0;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], k) == 0)
            *seen = 1;
    return 0;
}

static int memo_remember(struct oh_channel *ch, const char *k, struct oh_err *err)
{
    struct memo *m = ch->ops_ud;
    if (m->fail)
        return oh_err_retry(err, OH_EAGAIN, "store down (test)");
    if (m->sp && strncmp(k, "file:", 5) == 0) {
        char name[512];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(k + 5, ":"), k + 5);
        if (entries_from(m->sp, name) == 0 || !remote_exists(name))
            m->bad_order++;
    }
    m->keys = realloc(m->keys, (m->n + 1) * sizeof(*m->keys));
    m->keys[m->n++] = strdup(k);
    return 0;
}

static int memo_seen_pair(struct oh_channel *ch, const char *a, const char *b, int *seen_a,
                          int *seen_b, struct oh_err *err)
{
    struct memo *m = ch->ops_ud;
    m->pairs++;
    *seen_b = 0;
    return memo_seen(ch, a, seen_a, err) < 0 || (b && memo_seen(ch, b, seen_b, err) < 0) ? -1 : 0;
}

static const struct oh_channel_ops memo_ops = {
    .seen = memo_seen,
    .remember = memo_remember,
    .seen_pair = memo_seen_pair,
};

struct fix {
    struct oh_conf *conf;
    struct oh_channel ch;
    struct memo memo;
    struct oh_spool *sp;
};

static int setup(void **state)
{
    char cmd[2200];
    snprintf(testdir, sizeof(testdir), "%s/inbox/f%ld-%d", root, (long)getpid(), ++dirno);
    snprintf(spooldir, sizeof(spooldir), "/tmp/oh-sftp-spool-%ld-%d", (long)getpid(), dirno);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", testdir, spooldir);
    if (system(cmd) != 0 || mkdir(testdir, 0777) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[2200];
    unsetenv("OH_FAULTS");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", testdir, spooldir);
    return system(cmd) == 0 ? 0 : -1;
}

static void fix_open(struct fix *f, const char *extra)
{
    char text[8192];
    struct oh_err err = {0};

    memset(f, 0, sizeof(*f));
    snprintf(text, sizeof(text),
             "[channel drop]\ntype = sftp\nurl = sftp://%s@127.0.0.1:%s%s\nkey = %s\n"
             "known_hosts = %s\ntimeout = 5s\nreconnect_backoff = 0\npattern = *.csv\n%s\n",
             user, port, testdir, key, known_hosts, extra);
    assert_int_equal(oh_conf_parse(text, "test.ini", &f->conf, &err), 0);
    f->ch.name = "drop";
    f->ch.conn = &oh_connector_sftp;
    f->ch.cfg = oh_conf_find(f->conf, "channel", "drop");
    f->ch.format = "csv";
    f->ch.ops = &memo_ops;
    f->ch.ops_ud = &f->memo;
    if (oh_connector_sftp.open(&f->ch, &err) != 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(oh_spool_open(spooldir, NULL, &f->sp, &err), 0);
}

static void fix_close(struct fix *f)
{
    oh_connector_sftp.close(&f->ch);
    oh_spool_free(f->sp);
    oh_conf_free(f->conf);
    for (size_t i = 0; i < f->memo.n; i++)
        free(f->memo.keys[i]);
    free(f->memo.keys);
}

static int poll_once(struct fix *f, struct oh_err *err)
{
    oh_err_clear(err);
    return oh_connector_sftp.poll(&f->ch, f->sp, err);
}

static size_t incoming(struct fix *f)
{
    size_t n = 0;
    struct oh_err err;
    assert_int_equal(oh_spool_count(f->sp, OH_SPOOL_INCOMING, &n, &err), 0);
    return n;
}

static void write_remote(const char *name, const char *data, const char *mode)
{
    char p[1200];
    FILE *fp;
    snprintf(p, sizeof(p), "%s/%s", testdir, name);
    assert_non_null(fp = fopen(p, mode));
    fputs(data, fp);
    assert_int_equal(fclose(fp), 0);
}

static int remote_exists(const char *rel)
{
    char p[2048];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", testdir, rel);
    return stat(p, &st) == 0;
}

struct first {
    char id[OH_SPOOL_ID_MAX];
    char source[512];
};

static int first_cb(const char *id, const struct oh_spool_meta *m, void *ud)
{
    struct first *fi = ud;
    snprintf(fi->id, sizeof(fi->id), "%s", id);
    snprintf(fi->source, sizeof(fi->source), "%s", m->source);
    return 1;
}

/* A file that is still growing is not taken until two looks agree; once
 * spooled it is moved to archive_dir, and the spool holds its exact bytes. */
static void test_growing_file_waits_then_archived(void **state)
{
    struct fix f;
    struct oh_err err;
    struct first fi = {0};
    struct oh_spool_entry *e = NULL;
    enum oh_spool_queue where;

    fix_open(&f, "after = move\nstable = 2\n");
    write_remote("orders.csv", "id,sku,qty\n", "w");
    write_remote("ignored.txt", "not matched by pattern", "w");
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 0); /* first look */
    write_remote("orders.csv", "1001,ABC,2\n", "a");
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 0); /* grew since the last look */
    assert_true(remote_exists("orders.csv"));
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 1); /* stable: taken */
    assert_false(remote_exists("orders.csv"));
    assert_true(remote_exists("processed/orders.csv"));
    assert_true(remote_exists("ignored.txt"));

    assert_int_equal(oh_spool_list(f.sp, OH_SPOOL_INCOMING, first_cb, &fi, &err), 0);
    assert_string_equal(fi.source, "orders.csv");
    assert_int_equal(oh_spool_show(f.sp, fi.id, &where, &e, &err), 0);
    assert_string_equal(e->data, "id,sku,qty\n1001,ABC,2\n");
    oh_spool_entry_free(e);
    fix_close(&f);
}

/* The remote file is touched only after the spool commit returned 0. */
static void spool_failure_leaves_remote(const char *fault)
{
    struct fix f;
    struct oh_err err;

    fix_open(&f, "after = move\nstable = 1\n");
    write_remote("po.csv", "id\n7\n", "w");
    setenv("OH_FAULTS", fault, 1);
    assert_true(poll_once(&f, &err) < 0);
    unsetenv("OH_FAULTS");
    assert_int_equal(incoming(&f), 0);
    assert_true(remote_exists("po.csv"));
    assert_false(remote_exists("processed/po.csv"));
    /* the next poll, with a healthy spool, takes it */
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 1);
    assert_false(remote_exists("po.csv"));
    assert_true(remote_exists("processed/po.csv"));
    fix_close(&f);
}

static void test_spool_rename_fails_remote_untouched(void **state)
{
    spool_failure_leaves_remote("spool.rename");
}

static void test_spool_fsync_fails_remote_untouched(void **state)
{
    spool_failure_leaves_remote("spool.fsync");
}

/* after = keep: the file stays, and is spooled once however often we look. */
static void test_keep_processes_once(void **state)
{
    struct fix f;
    struct oh_err err;

    fix_open(&f, "after = keep\nstable = 1\n");
    write_remote("k.csv", "id\n1\n", "w");
    for (int i = 0; i < 4; i++)
        assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 1);
    assert_true(remote_exists("k.csv"));
    assert_false(remote_exists("processed"));
    fix_close(&f);
}

/* A download cut half-way spools nothing and leaves the file. */
static void test_cut_download_spools_nothing(void **state)
{
    struct fix f;
    struct oh_err err;
    char *big = malloc(2 * 1024 * 1024 + 1);

    memset(big, 'q', 2 * 1024 * 1024);
    big[2 * 1024 * 1024] = 0;
    fix_open(&f, "after = delete\nstable = 1\n");
    write_remote("big.csv", big, "w");
    setenv("OH_FAULTS", "sftp.download", 1);
    assert_int_equal(poll_once(&f, &err), OH_EAGAIN);
    unsetenv("OH_FAULTS");
    assert_int_equal(err.retryable, 1);
    assert_int_equal(incoming(&f), 0);
    assert_true(remote_exists("big.csv"));
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 1);
    assert_false(remote_exists("big.csv")); /* after = delete */
    free(big);
    fix_close(&f);
}

/* ---- grouped pickup ------------------------------------------------------ */

struct count_src {
    const char *source;
    size_t n, errors;
};

static int count_src_cb(const char *id, const struct oh_spool_meta *m, void *ud)
{
    struct count_src *c = ud;
    (void)id;
    if (strcmp(m->source, c->source) == 0) {
        c->n++;
        if (strcmp(m->format, "error") == 0)
            c->errors++;
    }
    return 0;
}

/* Entries in incoming/ that came from the file named source. */
static size_t entries_from(struct oh_spool *sp, const char *source)
{
    struct count_src c = {.source = source};
    struct oh_err err;
    assert_int_equal(oh_spool_list(sp, OH_SPOOL_INCOMING, count_src_cb, &c, &err), 0);
    return c.n;
}

static void many_files(int n)
{
    for (int i = 0; i < n; i++) {
        char name[32], body[64];
        snprintf(name, sizeof(name), "f%03d.csv", i);
        snprintf(body, sizeof(body), "id,qty\n%d,%d\n", 1000 + i, i);
        write_remote(name, body, "w");
    }
}

static void fname(char *out, size_t n, const char *dir, int i)
{
    snprintf(out, n, "%sf%03d.csv", dir, i);
}

/* 150 files: three groups (64, 64, 22). Each file is spooled once with its
 * bytes, remembered only once its entry is in the spool and before it is
 * moved, and moved. */
static void test_group_pickup_many(void **state)
{
    struct fix f;
    struct oh_err err;
    char p[64];

    fix_open(&f, "after = move\nstable = 1\n");
    f.memo.sp = f.sp;
    many_files(150);
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 150);
    assert_int_equal(f.memo.n, 150);
    assert_int_equal(f.memo.bad_order, 0);
    assert_int_equal(f.memo.pairs, 75); /* two files per look-up */
    for (int i = 0; i < 150; i++) {
        fname(p, sizeof(p), "", i);
        assert_int_equal(entries_from(f.sp, p), 1);
        assert_false(remote_exists(p));
        fname(p, sizeof(p), "processed/", i);
        assert_true(remote_exists(p));
    }
    /* nothing more to take */
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 150);
    fix_close(&f);
}

/* A crash after the group's identities were remembered but before the
 * remote moves: the next pass (a new channel, as after a restart) spools
 * nothing again and only moves the files. */
static void test_crash_before_move_finished_next_pass(void **state)
{
    struct fix f;
    struct oh_err err;
    char p[64];

    fix_open(&f, "after = move\nstable = 1\n");
    many_files(70);
    setenv("OH_FAULTS", "filechan.after", 1);
    assert_true(poll_once(&f, &err) < 0);
    unsetenv("OH_FAULTS");
    assert_int_equal(incoming(&f), 70);
    assert_int_equal(f.memo.n, 70);
    for (int i = 0; i < 70; i++) {
        fname(p, sizeof(p), "", i);
        assert_true(remote_exists(p));
    }
    oh_connector_sftp.close(&f.ch);
    if (oh_connector_sftp.open(&f.ch, &err) != 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 70); /* not spooled twice */
    assert_int_equal(f.memo.n, 70);
    for (int i = 0; i < 70; i++) {
        fname(p, sizeof(p), "", i);
        assert_false(remote_exists(p));
        fname(p, sizeof(p), "processed/", i);
        assert_true(remote_exists(p));
    }
    fix_close(&f);
}

/* The store fails after the group's commit (as a crash between commit and
 * remember would leave it): no file is moved, so nothing is lost; the next
 * pass spools each file again (the idempotent store absorbs the copy) and
 * then moves it. */
static void test_remember_fails_nothing_moved_refetched(void **state)
{
    struct fix f;
    struct oh_err err;
    char p[64];

    fix_open(&f, "after = move\nstable = 1\n");
    many_files(70);
    f.memo.fail = 1;
    assert_int_equal(poll_once(&f, &err), OH_EAGAIN);
    assert_int_equal(incoming(&f), 70);
    assert_int_equal(f.memo.n, 0);
    for (int i = 0; i < 70; i++) {
        fname(p, sizeof(p), "", i);
        assert_true(remote_exists(p));
    }
    f.memo.fail = 0;
    assert_int_equal(poll_once(&f, &err), 0);
    assert_int_equal(incoming(&f), 140);
    assert_int_equal(f.memo.n, 70);
    for (int i = 0; i < 70; i++) {
        fname(p, sizeof(p), "", i);
        assert_int_equal(entries_from(f.sp, p), 2);
        assert_false(remote_exists(p));
    }
    fix_close(&f);
}

/* Two bad files in the middle of a group: one over max_document_size goes
 * to the dead queue (as a notice) and stays; one the spool refuses (over
 * its size limit) fails alone and stays; the other 38 flow. */
static void test_bad_files_mid_group(void **state)
{
    struct fix f;
    struct oh_err err;
    struct oh_spool_opts o = {.max_size = 150};
    struct count_src c = {.source = "f010.csv"};
    char p[64], body[256];

    fix_open(&f, "after = move\nstable = 1\n");
    oh_spool_free(f.sp);
    assert_int_equal(oh_spool_open(spooldir, &o, &f.sp, &err), 0);
    f.memo.sp = f.sp;
    f.ch.max_doc_size = 180;
    many_files(40);
    memset(body, 'x', sizeof(body));
    body[200] = 0;
    write_remote("f010.csv", body, "w"); /* 200 bytes: over max_document_size */
    body[160] = 0;
    write_remote("f020.csv", body, "w"); /* 160 bytes: over the spool's limit */
    assert_int_equal(poll_once(&f, &err), OH_ETOOBIG);
    assert_int_equal(incoming(&f), 38 + 1);
    assert_int_equal(oh_spool_list(f.sp, OH_SPOOL_INCOMING, count_src_cb, &c, &err), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.errors, 1); /* the notice, which the processor sends to dead/ */
    assert_int_equal(entries_from(f.sp, "f020.csv"), 0);
    assert_true(remote_exists("f010.csv"));
    assert_true(remote_exists("f020.csv"));
    assert_int_equal(f.memo.n, 38 + 1); /* f010's notice is remembered, f020 is not */
    assert_int_equal(f.memo.bad_order, 0);
    for (int i = 0; i < 40; i++) {
        if (i == 10 || i == 20)
            continue;
        fname(p, sizeof(p), "", i);
        assert_int_equal(entries_from(f.sp, p), 1);
        assert_false(remote_exists(p));
    }
    fix_close(&f);
}

static int memo_remember_many(struct oh_channel *ch, const char *const *keys, size_t n,
                              struct oh_err *err)
{
    struct memo *m = ch->ops_ud;
    m->calls++;
    if (m->fail)
        return oh_err_retry(err, OH_EAGAIN, "store down (test)");
    for (size_t i = 0; i < n; i++)
        memo_remember(ch, keys[i], err);
    return 0;
}

/* The engine with a batched remember (fc.remember_many): one call per
 * group, after the group's entries are in the spool and before any of its
 * files is moved; when it fails, no file of the group is moved. */
static void test_group_remember_many(void **state)
{
    struct fix f;
    struct oh_filechan fc = {0};
    const struct oh_file_transport *tp = NULL;
    void *t = NULL;
    struct oh_err err = {0};
    char p[64];

    fix_open(&f, "after = move\nstable = 1\n");
    assert_int_equal(oh_sftp_transport_open(f.ch.cfg, "drop", &t, &tp, &err), 0);
    assert_int_equal(oh_filechan_configure(&fc, &f.ch, &err), 0);
    fc.tp = tp;
    fc.t = t;
    fc.remember_many = memo_remember_many;
    f.memo.sp = f.sp;
    many_files(100); /* groups of 64 and 36 */
    f.memo.fail = 1;
    assert_int_equal(oh_filechan_poll(&fc, &f.ch, f.sp, &err), OH_EAGAIN);
    assert_int_equal(f.memo.calls, 2);
    assert_int_equal(f.memo.n, 0);
    assert_int_equal(incoming(&f), 100);
    for (int i = 0; i < 100; i++) {
        fname(p, sizeof(p), "", i);
        assert_true(remote_exists(p));
    }
    f.memo.fail = 0;
    f.memo.calls = 0;
    assert_int_equal(oh_filechan_poll(&fc, &f.ch, f.sp, &err), 0);
    assert_int_equal(f.memo.calls, 2);
    assert_int_equal(f.memo.n, 100);
    assert_int_equal(f.memo.bad_order, 0);
    assert_int_equal(incoming(&f), 200); /* each file once more: nothing lost */
    for (int i = 0; i < 100; i++) {
        fname(p, sizeof(p), "processed/", i);
        assert_true(remote_exists(p));
    }
    oh_filechan_clear(&fc);
    oh_sftp_transport_close(t);
    fix_close(&f);
}

/* Outbound through the channel: named from the template, never overwritten. */
static void test_deliver(void **state)
{
    struct fix f;
    struct oh_err err;
    struct oh_outbox_msg m;
    char p[1200], buf[64] = {0};
    FILE *fp;

    fix_open(&f, "filename = ack-{id}.{ext}\n");
    memset(&m, 0, sizeof(m));
    m.id = 42;
    snprintf(m.event, sizeof(m.event), "order.accepted");
    snprintf(m.content_type, sizeof(m.content_type), "application/json");
    m.payload = "{\"ok\":true}";
    m.payload_len = strlen(m.payload);
    assert_int_equal(oh_connector_sftp.deliver(&f.ch, &m, &err), 0);
    snprintf(p, sizeof(p), "%s/ack-42.json", testdir);
    assert_non_null(fp = fopen(p, "r"));
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "{\"ok\":true}");
    assert_false(remote_exists("ack-42.json.part"));
    m.payload = "{\"ok\":false}";
    m.payload_len = strlen(m.payload);
    assert_int_equal(oh_connector_sftp.deliver(&f.ch, &m, &err), OH_EEXIST);
    assert_int_equal(err.retryable, 0);
    fix_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_growing_file_waits_then_archived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_rename_fails_remote_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_fsync_fails_remote_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_processes_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_download_spools_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_pickup_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_before_move_finished_next_pass, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remember_fails_nothing_moved_refetched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_mid_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_remember_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
