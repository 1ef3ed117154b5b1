/*
 * test_spool_direct.c — large payloads announced with
 * oh_spool_writer_expect are written around the page cache
 * (writer_direct.c) and come back byte for byte (S5): in pieces of odd
 * sizes, with a tail shorter than a chunk, over a longer recycled file,
 * in a group commit, on a filesystem without O_DIRECT (tmpfs), and a
 * failed direct write fails the commit and leaves nothing behind. Each
 * test works in a fresh directory under $TMPDIR (or /tmp).
 */
#include <fcntl.h>
#include <limits.h>
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
#define SPOOL_FX_TAG "direct"
#include "spool_testfx.h"

#define MIB (1024 * 1024)

static unsigned char byte_at(uint64_t i, unsigned seed)
{
    uint64_t x = (i + seed) * 0x9E3779B97F4A7C15ULL;
    return (unsigned char)(x >> 56);
}

/* Streams size bytes (pattern seed) through a writer in pieces of `piece`
 * bytes, announcing the size first; returns the committed id. */
static int stream(struct oh_spool *sp, size_t size, size_t piece, unsigned seed,
                  char id[OH_SPOOL_ID_MAX], struct oh_err *err)
{
    struct oh_spool_meta m = {0};
    struct oh_spool_writer *w = NULL;
    unsigned char *buf = malloc(piece);
    int rc;

    assert_non_null(buf);
    snprintf(m.channel, sizeof(m.channel), "big");
    snprintf(m.format, sizeof(m.format), "csv");
    snprintf(m.source, sizeof(m.source), "big-%u.dat", seed);
    assert_int_equal(oh_spool_writer_open(sp, &m, &w, err), 0);
    oh_spool_writer_expect(w, (int64_t)size);
    for (size_t at = 0; at < size;) {
        size_t n = size - at < piece ? size - at : piece;
        for (size_t k = 0; k < n; k++)
            buf[k] = byte_at(at + k, seed);
        if ((rc = oh_spool_writer_write(w, buf, n, err)) < 0) {
            oh_spool_writer_abort(w);
            free(buf);
            return rc;
        }
        at += n;
    }
    free(buf);
    return oh_spool_writer_commit(w, id, err);
}

/* Claims the next entry and checks it is id with the pattern's bytes. */
static void expect_entry(struct oh_spool *sp, const char *id, size_t size, unsigned seed)
{
    struct oh_err err = {0};
    char got[OH_SPOOL_ID_MAX];
    struct oh_spool_entry *e = NULL;

    assert_int_equal(oh_spool_claim(sp, got, &err), 0);
    assert_string_equal(got, id);
    assert_int_equal(oh_spool_load(sp, got, &e, &err), 0);
    assert_string_equal(e->meta.channel, "big");
    assert_int_equal(e->len, size);
    for (size_t i = 0; i < size; i++)
        if ((unsigned char)e->data[i] != byte_at(i, seed))
            fail_msg("byte %zu of %zu differs", i, size);
    oh_spool_entry_free(e);
}

static void test_large_payload_round_trip(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];
    size_t size = 21 * MIB + 12345; /* five chunks and a tail */

    assert_int_equal(stream(f->sp, size, 100003, 1, id, &err), 0);
    assert_true(exists(f, "incoming", id));
    assert_int_equal(files_in(f, "tmp"), 0);
    expect_entry(f->sp, id, size, 1);
}

/* A file of exactly whole chunks (no tail to write buffered) is stored
 * exactly too. */
static void test_whole_chunks_and_tail_only(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], b[OH_SPOOL_ID_MAX];
    struct stat st;
    char path[PATH_MAX];

    /* the header is part of the file: pick a payload that ends the file on
     * a chunk boundary by measuring the header first */
    assert_int_equal(stream(f->sp, 16 * MIB, 1 << 20, 2, a, &err), 0);
    fmt(path, sizeof(path), "%s/incoming/%s", f->root, a);
    assert_int_equal(stat(path, &st), 0);
    size_t hdr = (size_t)st.st_size - 16 * MIB;
    assert_int_equal(stream(f->sp, 20 * MIB - hdr, 65536, 3, b, &err), 0);
    fmt(path, sizeof(path), "%s/incoming/%s", f->root, b);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 20 * MIB);
    expect_entry(f->sp, a, 16 * MIB, 2);
    expect_entry(f->sp, b, 20 * MIB - hdr, 3);
}

/* A done entry's file is recycled by the next writer; a shorter direct
 * payload written over a longer old one is cut to its own length. */
static void test_over_a_longer_recycled_file(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char a[OH_SPOOL_ID_MAX], b[OH_SPOOL_ID_MAX], got[OH_SPOOL_ID_MAX];

    struct stat st;
    char path[PATH_MAX];
    ino_t big_ino;

    oh_spool_sole_claimer(f->sp); /* done from incoming/: the enqueue's round covers it */
    assert_int_equal(stream(f->sp, 30 * MIB, 1 << 20, 4, a, &err), 0);
    fmt(path, sizeof(path), "%s/incoming/%s", f->root, a);
    assert_int_equal(stat(path, &st), 0);
    big_ino = st.st_ino;
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_done(f->sp, got, &err), 0);
    assert_int_equal(files_in(f, "tmp"), 1); /* in the recycling pool */
    /* a small enqueue runs the fsync round that lets the pool's file be
     * written over; the large writer after it takes that file */
    assert_int_equal(oh_spool_enqueue(f->sp, NULL, "x", 1, NULL, &err), 0);
    assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
    assert_int_equal(oh_spool_done(f->sp, got, &err), 0);
    assert_int_equal(stream(f->sp, 17 * MIB + 1, 77777, 5, b, &err), 0);
    assert_int_equal(files_in(f, "tmp"), 1); /* it took the older, longer file */
    fmt(path, sizeof(path), "%s/incoming/%s", f->root, b);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_ino, big_ino);
    expect_entry(f->sp, b, 17 * MIB + 1, 5);
}

/* A group commit with a large writer among small ones. */
static void test_group_with_a_large_writer(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    struct oh_spool_writer *ws[3];
    char ids[3][OH_SPOOL_ID_MAX];
    int rcs[3];
    unsigned char *big = malloc(18 * MIB);
    struct oh_spool_entry *e = NULL;

    assert_non_null(big);
    for (size_t i = 0; i < 18 * MIB; i++)
        big[i] = byte_at(i, 6);
    for (int i = 0; i < 3; i++)
        assert_int_equal(oh_spool_writer_open(f->sp, NULL, &ws[i], &err), 0);
    oh_spool_writer_expect(ws[1], 18 * MIB);
    assert_int_equal(oh_spool_writer_write(ws[0], "first", 5, &err), 0);
    assert_int_equal(oh_spool_writer_write(ws[1], big, 18 * MIB, &err), 0);
    assert_int_equal(oh_spool_writer_write(ws[2], "third", 5, &err), 0);
    assert_int_equal(oh_spool_writers_commit(ws, 3, ids, rcs, &err), 0);
    for (int i = 0; i < 3; i++) {
        char got[OH_SPOOL_ID_MAX];
        assert_int_equal(rcs[i], 0);
        assert_int_equal(oh_spool_claim(f->sp, got, &err), 0);
        assert_string_equal(got, ids[i]);
        assert_int_equal(oh_spool_load(f->sp, got, &e, &err), 0);
        if (i == 1) {
            assert_int_equal(e->len, 18 * MIB);
            assert_memory_equal(e->data, big, 18 * MIB);
        } else {
            assert_int_equal(e->len, 5);
        }
        oh_spool_entry_free(e);
    }
    free(big);
}

/* A direct write that fails (fault point spool.direct) fails the writer:
 * no entry, no file left in tmp/. */
static void test_failed_direct_write_leaves_nothing(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX] = "";

    char probe[PATH_MAX];
    fmt(probe, sizeof(probe), "%s/probe", f->root);
    int pfd = open(probe, O_WRONLY | O_CREAT | O_DIRECT, 0600);
    if (pfd < 0)
        skip(); /* this filesystem has no O_DIRECT: the writer stays buffered */
    close(pfd);
    unlink(probe);
    setenv("OH_FAULTS", "spool.direct", 1);
    int rc = stream(f->sp, 20 * MIB, 1 << 20, 7, id, &err);
    unsetenv("OH_FAULTS");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err.msg, "direct write"));
    assert_int_equal(files_in(f, "incoming"), 0);
    assert_int_equal(files_in(f, "tmp"), 0);
    /* the spool goes on working */
    assert_int_equal(stream(f->sp, 20 * MIB, 1 << 20, 8, id, &err), 0);
    expect_entry(f->sp, id, 20 * MIB, 8);
}

/* A filesystem that opens with O_DIRECT but refuses the writes (fault
 * point spool.direct.refused: as EINVAL) gets the payload through the
 * buffered descriptor: the entry is stored all the same. */
static void test_refused_direct_writes_fall_back(void **state)
{
    struct fx *f = *state;
    struct oh_err err = {0};
    char id[OH_SPOOL_ID_MAX];

    setenv("OH_FAULTS", "spool.direct.refused", 1);
    int rc = stream(f->sp, 19 * MIB + 77, 100003, 10, id, &err);
    unsetenv("OH_FAULTS");
    assert_int_equal(rc, 0);
    expect_entry(f->sp, id, 19 * MIB + 77, 10);
}

/* On tmpfs (O_DIRECT only since Linux 6.6; before, the writer stays
 * buffered) the entry is the same. */
static void test_on_tmpfs(void **state)
{
    struct oh_spool *sp = NULL;
    struct oh_err err = {0};
    char root[] = "/dev/shm/oh-spool-direct-XXXXXX", id[OH_SPOOL_ID_MAX], cmd[PATH_MAX + 16];

    (void)state;
    if (!mkdtemp(root))
        skip(); /* no /dev/shm here */
    assert_int_equal(oh_spool_open(root, NULL, &sp, &err), 0);
    assert_int_equal(stream(sp, 17 * MIB + 3, 100003, 9, id, &err), 0);
    expect_entry(sp, id, 17 * MIB + 3, 9);
    oh_spool_free(sp);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_large_payload_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_whole_chunks_and_tail_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_over_a_longer_recycled_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_with_a_large_writer, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failed_direct_write_leaves_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_direct_writes_fall_back, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(test_on_tmpfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
