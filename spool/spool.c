/*
 * spool.c — opening the spool, queue ids, group commit, enqueue (plain and
 * streaming) and crash recovery. The state machine and invariants S1–S6 are
 * drawn in spool.h; the entry file format is described in entry.c; claiming
 * and the outcomes of a claimed entry live in outcome.c.
 *
 * Promises:
 *   - oh_spool_enqueue / oh_spool_writer_commit returning 0 means the entry
 *     survives power loss (S1): the file was written in tmp/ (O_EXCL),
 *     fsync'd, renamed into incoming/, and incoming/ was fsync'd. Any failing
 *     step is an error and leaves nothing in incoming/ (best effort once the
 *     rename is done: a worker may already have claimed the entry, which is
 *     at-least-once delivery, never loss).
 *   - Ids (S6) are "%013lld-%06u-%d": ms since the epoch, a per-process
 *     counter that restarts every millisecond, the pid. Within a process they
 *     strictly increase even if the wall clock steps back; across processes
 *     the pid keeps them unique.
 *   - Group commit: the directory fsync after a rename is shared. Each
 *     directory has numbered "fsync rounds"; a caller whose rename is done
 *     waits for a round that started after it, and whoever finds no round
 *     running performs fsync(dir) for everyone waiting. A caller never
 *     returns 0 before a round that began after its rename succeeded.
 *   - Recycling: oh_spool_done renames a finished entry to tmp/f.<id> (up
 *     to SP_FREE_MAX of them) and the next enqueue or writer writes over
 *     that file from its start (then cuts the old tail) instead of creating
 *     one, once the rename out of active/ is durable (a shared fsync round
 *     of active/, see sp_free_put), so steady traffic reuses inodes and blocks instead of allocating
 *     and freeing them per entry. Data is made durable with fdatasync (the
 *     bytes and the length), the name with the directory fsync.
 *
 * Not done here: the spool does not lock ROOT against a second daemon; two
 * processes may share it (claims are renames, S3) but oh_spool_recover must
 * only run when no other process is working on the spool (start-up).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "spool_int.h"
#include "util.h"

static const char *const dir_names[SP_NDIRS] = {
    [SP_INCOMING] = "incoming", [SP_ACTIVE] = "active", [SP_DEFERRED] = "deferred",
    [SP_DEAD] = "dead",         [SP_TMP] = "tmp",       [SP_ARCHIVE] = "archive",
};

#define WRITER_BUF (64 * 1024)
/* A streaming writer starts the writeback of what it wrote every this many
 * bytes (sync_file_range, not waiting), so that the fdatasync at commit
 * finds most of a large payload already on its way to the disk instead of
 * all of it dirty in the page cache. */
#ifndef WRITER_KICK /* may be set at build time, for measuring */
#define WRITER_KICK (8 * 1024 * 1024)
#endif

struct oh_spool_writer {
    struct oh_spool *sp;
    int fd;
    char tmp[PATH_MAX];
    uint64_t len;  /* payload bytes accepted so far */
    uint64_t off;      /* bytes of the file written (header included) */
    uint64_t kicked;   /* writeback started up to here */
    char *buf;     /* buffered payload not yet written */
    size_t blen;
    int failed;    /* a write failed: commit will refuse */
    struct sp_direct *direct; /* a large payload: written around the page cache */
};

/* oh_spool_writer_expect switches payloads of at least this size to direct
 * writes (writer_direct.c). */
#define WRITER_DIRECT_MIN (16 * 1024 * 1024)

/* ---- ids ---------------------------------------------------------------- */

static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_last_ms;
static unsigned id_counter;

void sp_new_id(char id[OH_SPOOL_ID_MAX])
{
    int64_t ms = oh_now_ms();
    unsigned c;

    pthread_mutex_lock(&id_mu);
    if (ms <= id_last_ms) {
        /* Same millisecond, or the clock stepped back: stay on the last
         * millisecond and count; a full counter borrows the next one. */
        ms = id_last_ms;
        if (++id_counter >= 1000000) {
            ms++;
            id_counter = 0;
        }
    } else {
        id_counter = 0;
    }
    id_last_ms = ms;
    c = id_counter;
    pthread_mutex_unlock(&id_mu);
    snprintf(id, OH_SPOOL_ID_MAX, "%013lld-%06u-%d", (long long)ms, c, (int)getpid());
}

/* ---- paths and files ---------------------------------------------------- */

int sp_path(const struct oh_spool *sp, int d, const char *name, char out[PATH_MAX],
            struct oh_err *err)
{
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", sp->dir[d], name) >= PATH_MAX)
        return oh_err_set(err, OH_EINVAL, "%s/%s: path too long", sp->dir[d], name);
    return 0;
}

int sp_tmp_create(struct oh_spool *sp, const char *name, char path[PATH_MAX], int *fd,
                  struct oh_err *err)
{
    int rc;

    *fd = -1;
    if ((rc = sp_path(sp, SP_TMP, name, path, err)) < 0)
        return rc;
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (*fd < 0)
        return oh_err_retry(err, OH_ERROR, "%s: cannot create: %s", path, strerror(errno));
    return 0;
}

/* ---- recycled files ----------------------------------------------------- */

int sp_move_to_tmp(struct oh_spool *sp, int d, const char *id, const char *name,
                   char dst[PATH_MAX], struct oh_err *err)
{
    char src[PATH_MAX];

    if (sp_path(sp, d, id, src, NULL) < 0 || sp_path(sp, SP_TMP, name, dst, NULL) < 0)
        return OH_EAGAIN;
    if (rename(src, dst) < 0) {
        if (errno == ENOENT)
            return oh_err_set(err, OH_ENOTFOUND, "%s: cannot remove: %s", src, strerror(errno));
        return OH_EAGAIN;
    }
    return 0;
}

/* active/ (incoming/ for an entry held in place) is not fsync'd by
 * oh_spool_done for each entry, so the rename out of it may not be durable
 * yet when the file is put in the pool. A file is written over only once an
 * fsync round of that directory that began after its rename has completed:
 * otherwise, after a power loss without a filesystem journal, the entry's
 * old name could come back naming a file that holds a later entry, or half
 * of one. Those rounds are run here, by the worker calling
 * done, once every SP_FREE_SYNC_EVERY puts; sp_tmp_take never waits for
 * one, it takes the oldest pooled file only when a round covers it and
 * creates a new file otherwise. */
int sp_free_put(struct oh_spool *sp, int d, const char *id, struct oh_err *err)
{
    char name[SP_FREE_NAME], fid[OH_SPOOL_ID_MAX], dst[PATH_MAX];
    uint64_t mark;
    int full, sync = 0, rc;

    pthread_mutex_lock(&sp->free_mu);
    full = sp->nfree >= SP_FREE_MAX;
    pthread_mutex_unlock(&sp->free_mu);
    if (full)
        return OH_EAGAIN;
    sp_new_id(fid);
    snprintf(name, sizeof(name), "f.%s", fid);
    if ((rc = sp_move_to_tmp(sp, d, id, name, dst, err)) < 0)
        return rc;
    pthread_mutex_lock(&sp->gc[d].mu);
    mark = sp->gc[d].started; /* rounds after this one cover the rename */
    pthread_mutex_unlock(&sp->gc[d].mu);
    pthread_mutex_lock(&sp->free_mu);
    if (sp->nfree < SP_FREE_MAX) {
        size_t at = (sp->free_head + sp->nfree++) % SP_FREE_MAX;
        sp->free_mark[at] = mark;
        sp->free_dir[at] = (unsigned char)d;
        memcpy(sp->free_names[at], name, sizeof(name));
        name[0] = '\0';
        if (++sp->free_unsynced >= SP_FREE_SYNC_EVERY) {
            sp->free_unsynced = 0;
            sync = 1;
        }
    }
    pthread_mutex_unlock(&sp->free_mu);
    if (name[0])
        unlink(dst); /* the pool filled up meanwhile */
    if (sync) {
        struct oh_err e2 = {0};
        /* A failure leaves the files uncovered: they are not reused. */
        (void)sp_dirsync(sp, d, &e2);
    }
    return 0;
}

/* 1 when a round of directory d that began after round `mark` completed
 * and none of those rounds failed. */
static int dir_covered(struct oh_spool *sp, int d, uint64_t mark)
{
    struct sp_gc *g = &sp->gc[d];
    int ok;

    pthread_mutex_lock(&g->mu);
    ok = g->completed > mark && g->last_failed <= mark;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

int sp_tmp_take(struct oh_spool *sp, const char *prefix, char path[PATH_MAX], int *fd,
                struct oh_err *err)
{
    char name[SP_FREE_NAME + 8], id[OH_SPOOL_ID_MAX];

    *fd = -1;
    for (;;) {
        int got = 0;
        pthread_mutex_lock(&sp->free_mu);
        /* The oldest file, if a round of the directory it left covers it
         * (later ones are covered by the same rounds or later ones). */
        if (sp->nfree > 0 && !OH_FAULT("spool.recycle.dirfsync") &&
            dir_covered(sp, sp->free_dir[sp->free_head], sp->free_mark[sp->free_head])) {
            memcpy(name, sp->free_names[sp->free_head], SP_FREE_NAME);
            sp->free_head = (sp->free_head + 1) % SP_FREE_MAX;
            sp->nfree--;
            got = 1;
        }
        pthread_mutex_unlock(&sp->free_mu);
        if (!got)
            break;
        if (sp_path(sp, SP_TMP, name, path, NULL) < 0)
            continue;
        /* Written over in place, not truncated: its blocks stay allocated
         * (no allocation, no discard), and sp_sync_close cuts any tail of
         * the old entry, so the file is exactly the new one (S5). */
        if ((*fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
            return 0;
        unlink(path); /* whatever happened to it, it is not ours now */
    }
    sp_new_id(id);
    snprintf(name, sizeof(name), "%s%s", prefix, id);
    return sp_tmp_create(sp, name, path, fd, err);
}

/* Removes the pooled files (recover empties tmp/ anyway; free must not
 * leave them behind for a process that never recovers). */
static void free_pool_clear(struct oh_spool *sp, int remove_files)
{
    char path[PATH_MAX];

    pthread_mutex_lock(&sp->free_mu);
    for (size_t k = 0; remove_files && k < sp->nfree; k++) {
        size_t i = (sp->free_head + k) % SP_FREE_MAX;
        if (sp_reap_tmp(sp, sp->free_names[i]) < 0 &&
            sp_path(sp, SP_TMP, sp->free_names[i], path, NULL) == 0)
            unlink(path);
    }
    sp->nfree = 0;
    sp->free_head = 0;
    sp->free_unsynced = 0;
    pthread_mutex_unlock(&sp->free_mu);
}

/* ---- group commit ------------------------------------------------------- */

int sp_dirsync(struct oh_spool *sp, int d, struct oh_err *err)
{
    struct sp_gc *g = &sp->gc[d];
    uint64_t target;
    int rc = 0;

    pthread_mutex_lock(&g->mu);
    /* A round that is running now may have started before our change. */
    target = g->started + 1;
    while (g->completed < target) {
        if (!g->running) {
            uint64_t mine = ++g->started;
            struct oh_err e2 = {0};
            int r;
            g->running = 1;
            pthread_mutex_unlock(&g->mu);
            r = oh_fsync_dir(sp->dir[d], &e2);
            if (r == 0 && OH_FAULT("spool.dirfsync"))
                r = oh_err_set(&e2, OH_ERROR, "%s: fsync of directory failed: injected fault",
                               sp->dir[d]);
            pthread_mutex_lock(&g->mu);
            g->running = 0;
            g->completed = mine;
            if (r < 0) {
                g->last_failed = mine;
                memcpy(g->failmsg, e2.msg, sizeof(g->failmsg));
            }
            pthread_cond_broadcast(&g->cv);
        } else {
            pthread_cond_wait(&g->cv, &g->mu);
        }
    }
    /* XXX: a failure in a round later than ours also fails us. That is
     * conservative (the caller retries, the store dedups) and after a failed
     * fsync Linux gives no guarantee about earlier writes anyway. */
    if (g->last_failed >= target)
        rc = oh_err_retry(err, OH_ERROR, "%s", g->failmsg);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* ---- open / free -------------------------------------------------------- */

static int check_writable(struct oh_spool *sp, struct oh_err *err)
{
    char name[OH_SPOOL_ID_MAX + 8], path[PATH_MAX], id[OH_SPOOL_ID_MAX];
    struct oh_err e2 = {0};
    int fd;

    sp_new_id(id);
    snprintf(name, sizeof(name), ".probe.%s", id);
    if (sp_tmp_create(sp, name, path, &fd, &e2) < 0)
        return oh_err_set(err, OH_ERROR, "spool %s is not writable: %s", sp->root, e2.msg);
    close(fd);
    unlink(path);
    return 0;
}

int oh_spool_open(const char *root, const struct oh_spool_opts *opts, struct oh_spool **out,
                  struct oh_err *err)
{
    struct oh_spool *sp = NULL;
    int rc = OH_ERROR;

    *out = NULL;
    if (!root || !*root)
        return oh_err_set(err, OH_EINVAL, "spool: no directory given");
    if (opts && (opts->backoff_base_ms < 0 || opts->backoff_max_ms < 0 ||
                 opts->max_attempts < 0 || opts->max_size < 0))
        return oh_err_set(err, OH_EINVAL, "spool %s: negative backoff, attempts or size limit",
                          root);
    if (!(sp = calloc(1, sizeof(*sp))) || !(sp->root = strdup(root)))
        abort();
    if (opts)
        sp->opts = *opts;
    if (sp->opts.backoff_base_ms == 0)
        sp->opts.backoff_base_ms = 30 * 1000;
    if (sp->opts.backoff_max_ms == 0)
        sp->opts.backoff_max_ms = 3600 * 1000;
    if (sp->opts.backoff_max_ms < sp->opts.backoff_base_ms)
        sp->opts.backoff_max_ms = sp->opts.backoff_base_ms;
    if (sp->opts.max_attempts == 0)
        sp->opts.max_attempts = 10;
    for (int d = 0; d < SP_NDIRS; d++) {
        pthread_mutex_init(&sp->gc[d].mu, NULL);
        pthread_cond_init(&sp->gc[d].cv, NULL);
    }
    pthread_mutex_init(&sp->claim_mu, NULL);
    pthread_mutex_init(&sp->free_mu, NULL);
    sp_reap_init(sp);
    if (!(sp->free_names = calloc(SP_FREE_MAX, sizeof(*sp->free_names))) ||
        !(sp->free_mark = calloc(SP_FREE_MAX, sizeof(*sp->free_mark))) ||
        !(sp->free_dir = calloc(SP_FREE_MAX, sizeof(*sp->free_dir))))
        abort();
    for (int d = 0; d < SP_NDIRS; d++) {
        if ((size_t)snprintf(sp->dir[d], sizeof(sp->dir[d]), "%s/%s", root, dir_names[d]) >=
            sizeof(sp->dir[d])) {
            rc = oh_err_set(err, OH_EINVAL, "spool %s: path too long", root);
            goto done;
        }
        if ((rc = oh_mkdirs(sp->dir[d], err)) < 0) {
            oh_err_prefix(err, "spool %s", root);
            goto done;
        }
    }
    if ((rc = check_writable(sp, err)) < 0)
        goto done;
    *out = sp;
    sp = NULL;
    rc = 0;
done:
    oh_spool_free(sp);
    return rc;
}

static void batch_clear(struct sp_batch *b)
{
    sp_names_free(b->names, b->n);
    memset(b, 0, sizeof(*b));
}

void oh_spool_free(struct oh_spool *sp)
{
    if (!sp)
        return;
    free_pool_clear(sp, 1);
    sp_reap_free(sp); /* after the pool: it removes the pooled files too */
    batch_clear(&sp->incoming);
    batch_clear(&sp->due);
    for (int d = 0; d < SP_NDIRS; d++) {
        pthread_mutex_destroy(&sp->gc[d].mu);
        pthread_cond_destroy(&sp->gc[d].cv);
    }
    pthread_mutex_destroy(&sp->claim_mu);
    pthread_mutex_destroy(&sp->free_mu);
    free(sp->free_names);
    free(sp->free_mark);
    free(sp->free_dir);
    sp_held_free(&sp->held);
    free(sp->root);
    free(sp);
}

void oh_spool_sole_claimer(struct oh_spool *sp)
{
    pthread_mutex_lock(&sp->claim_mu);
    sp->in_place = 1;
    pthread_mutex_unlock(&sp->claim_mu);
}

const char *oh_spool_root(const struct oh_spool *sp)
{
    return sp->root;
}

/* ---- enqueue ------------------------------------------------------------ */

/* Makes tmp/TMPNAME (already written and closed) the durable entry
 * incoming/ID (S1). On failure tmp/TMPNAME is removed and incoming/ID is not
 * left behind. */
static int publish(struct oh_spool *sp, const char *tmppath, char id[OH_SPOOL_ID_MAX],
                   struct oh_err *err)
{
    char dst[PATH_MAX];
    int rc;

    sp_new_id(id);
    if ((rc = sp_path(sp, SP_INCOMING, id, dst, err)) < 0) {
        unlink(tmppath);
        return rc;
    }
    if (OH_FAULT("spool.rename")) {
        unlink(tmppath);
        return oh_err_retry(err, OH_ERROR, "%s: rename to %s failed: injected fault", tmppath, dst);
    }
    if (rename(tmppath, dst) < 0) {
        rc = oh_err_retry(err, OH_ERROR, "%s: rename to %s failed: %s", tmppath, dst,
                          strerror(errno));
        unlink(tmppath);
        return rc;
    }
    if ((rc = sp_dirsync(sp, SP_INCOMING, err)) < 0) {
        /* Not durable: take it back unless a worker already has it (a
         * claim renames it away, or, in place, holds it under claim_mu). */
        pthread_mutex_lock(&sp->claim_mu);
        if (sp_held_state(&sp->held, id) == SP_HELD_NONE)
            unlink(dst);
        pthread_mutex_unlock(&sp->claim_mu);
        oh_err_prefix(err, "spool: entry %s not stored", id);
        return rc;
    }
    return 0;
}

int sp_sync_close(int fd, const char *path, struct oh_err *err)
{
    int fault = OH_FAULT("spool.fsync");
    struct stat st;
    off_t end = lseek(fd, 0, SEEK_CUR);

    /* A recycled file was written over from its start: cut what is left
     * of the old entry past the new end. */
    if (end < 0 || fstat(fd, &st) < 0 || (st.st_size > end && ftruncate(fd, end) < 0)) {
        int e = errno;
        close(fd);
        return oh_err_retry(err, OH_ERROR, "%s: cannot set its length: %s", path, strerror(e));
    }
    /* fdatasync: the data and what is needed to read it back (length,
     * block map); the name is made durable by the directory fsync. */
    if (fault || fdatasync(fd) < 0) {
        int e = fault ? EIO : errno;
        close(fd);
        return oh_err_retry(err, OH_ERROR, "%s: fsync failed: %s", path, strerror(e));
    }
    if (close(fd) < 0)
        return oh_err_retry(err, OH_ERROR, "%s: close failed: %s", path, strerror(errno));
    return 0;
}

static void meta_prepare(const struct oh_spool_meta *m, struct oh_spool_meta *c)
{
    if (m)
        *c = *m;
    else
        memset(c, 0, sizeof(*c));
    if (c->received_at == 0)
        c->received_at = oh_now_ms();
}

/* Header and payload with one writev in the common case. */
static int write2(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    ssize_t w;

    do
        w = writev(fd, iov, blen ? 2 : 1);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return -1;
    if ((size_t)w == alen + blen)
        return 0;
    /* short write: finish piece by piece */
    if ((size_t)w < alen)
        return oh_write_all(fd, (const char *)a + w, alen - (size_t)w) < 0 ||
                       oh_write_all(fd, b, blen) < 0
                   ? -1
                   : 0;
    return oh_write_all(fd, (const char *)b + ((size_t)w - alen), blen - ((size_t)w - alen));
}

int oh_spool_enqueue(struct oh_spool *sp, const struct oh_spool_meta *m, const void *data,
                     size_t len, char id[OH_SPOOL_ID_MAX], struct oh_err *err)
{
    struct oh_spool_meta c;
    char hdr[SP_HDR_MAX], path[PATH_MAX], newid[OH_SPOOL_ID_MAX];
    int fd = -1, rc, hlen;

    if (id)
        id[0] = '\0';
    if (!data && len)
        return oh_err_set(err, OH_EINVAL, "spool: enqueue of %zu bytes without data", len);
    if (sp->opts.max_size > 0 && (uint64_t)len > (uint64_t)sp->opts.max_size)
        return oh_err_set(err, OH_ETOOBIG, "spool: payload of %zu bytes is over the limit of %lld",
                          len, (long long)sp->opts.max_size);
    meta_prepare(m, &c);
    if ((hlen = sp_hdr_format(&c, hdr, sizeof(hdr))) < 0)
        return oh_err_set(err, OH_EINVAL, "spool: entry header too long");
    path[0] = '\0';
    if ((rc = sp_tmp_take(sp, "", path, &fd, err)) < 0) {
        path[0] = '\0';
        goto done;
    }
    if (write2(fd, hdr, (size_t)hlen, data, len) < 0) {
        rc = oh_err_retry(err, OH_ERROR, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    rc = sp_sync_close(fd, path, err);
    fd = -1;
    if (rc < 0)
        goto done;
    rc = publish(sp, path, newid, err);
    path[0] = '\0'; /* publish() removed or renamed it */
done:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && path[0])
        unlink(path);
    if (rc == 0 && id)
        snprintf(id, OH_SPOOL_ID_MAX, "%s", newid);
    return rc;
}

/* ---- streaming writer --------------------------------------------------- */

/* Starts writeback of the written bytes past w->kicked once WRITER_KICK of
 * them piled up (or all of them when `all`). Only a hint: errors show at the
 * fdatasync. */
static void writer_kick(struct oh_spool_writer *w, int all)
{
    if (w->off > w->kicked && (all || w->off - w->kicked >= WRITER_KICK)) {
        (void)sync_file_range(w->fd, (off_t)w->kicked, (off_t)(w->off - w->kicked),
                              SYNC_FILE_RANGE_WRITE);
        w->kicked = w->off;
    }
}

/* The writer's file in tmp/ is made when the first bytes go out (the buffer
 * filled up, or commit): a small entry's file is then created by whoever
 * commits it, which for a group commit is a thread of its own, not the one
 * fetching the payloads. */
static int writer_file(struct oh_spool_writer *w, struct oh_err *err)
{
    int rc;
    if (w->fd >= 0)
        return 0;
    if ((rc = sp_tmp_take(w->sp, "w.", w->tmp, &w->fd, err)) < 0) {
        w->tmp[0] = '\0';
        w->failed = 1;
    }
    return rc;
}

static int writer_put(struct oh_spool_writer *w, const void *data, size_t len, struct oh_err *err)
{
    if (writer_file(w, err) < 0)
        return OH_ERROR;
    if (len && oh_write_all(w->fd, data, len) < 0) {
        w->failed = 1;
        return oh_err_retry(err, OH_ERROR, "%s: write failed: %s", w->tmp, strerror(errno));
    }
    w->off += len;
    writer_kick(w, 0);
    return 0;
}

/* The direct part done: the tail goes through the ordinary descriptor
 * after it, and that descriptor's offset is left at the end of the file
 * (sp_sync_close cuts a recycled file there). */
static int direct_finish(struct oh_spool_writer *w, struct oh_err *err)
{
    const char *tail;
    size_t tlen, done = 0;
    uint64_t at;
    int rc = sp_direct_finish(w->direct, &at, &tail, &tlen, err);

    while (rc == 0 && done < tlen) {
        ssize_t r = pwrite(w->fd, tail + done, tlen - done, (off_t)(at + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = oh_err_retry(err, OH_ERROR, "%s: write failed: %s", w->tmp,
                              r < 0 ? strerror(errno) : "nothing written");
        else
            done += (size_t)r;
    }
    if (rc == 0 && lseek(w->fd, (off_t)(at + tlen), SEEK_SET) < 0)
        rc = oh_err_retry(err, OH_ERROR, "%s: seek failed: %s", w->tmp, strerror(errno));
    sp_direct_free(w->direct);
    w->direct = NULL;
    if (rc < 0) {
        w->failed = 1;
        return rc;
    }
    w->off = at + tlen;
    w->kicked = at; /* the direct part has no dirty pages */
    return 0;
}

static int writer_flush(struct oh_spool_writer *w, struct oh_err *err)
{
    if (w->direct && direct_finish(w, err) < 0)
        return OH_ERROR;
    /* at commit even an empty buffer needs its file */
    if (writer_put(w, w->buf, w->blen, err) < 0)
        return OH_ERROR;
    w->blen = 0;
    return 0;
}

int oh_spool_writer_open(struct oh_spool *sp, const struct oh_spool_meta *m,
                         struct oh_spool_writer **out, struct oh_err *err)
{
    struct oh_spool_writer *w = NULL;
    struct oh_spool_meta c;
    char hdr[SP_HDR_MAX];
    int hlen;

    *out = NULL;
    meta_prepare(m, &c);
    if ((hlen = sp_hdr_format(&c, hdr, sizeof(hdr))) < 0)
        return oh_err_set(err, OH_EINVAL, "spool: entry header too long");
    if (!(w = calloc(1, sizeof(*w))) || !(w->buf = malloc(WRITER_BUF)))
        abort();
    w->sp = sp;
    /* No file yet: writer_file makes it when the first bytes go out. The
     * entry's id is taken at commit, so that FIFO order is the order in
     * which entries became durable, not the order writers were opened. The
     * header is buffered with the payload: a small entry is one write. */
    w->fd = -1;
    memcpy(w->buf, hdr, (size_t)hlen);
    w->blen = (size_t)hlen;
    *out = w;
    return 0;
}

int oh_spool_writer_write(struct oh_spool_writer *w, const void *data, size_t len,
                          struct oh_err *err)
{
    int64_t max = w->sp->opts.max_size;

    if (w->failed)
        return oh_err_set(err, OH_ERROR, "%s: an earlier write failed", w->tmp);
    if (max > 0 && w->len + len > (uint64_t)max) {
        w->failed = 1;
        return oh_err_set(err, OH_ETOOBIG, "spool: payload over the limit of %lld bytes",
                          (long long)max);
    }
    if (!data && len)
        return oh_err_set(err, OH_EINVAL, "spool: write of %zu bytes without data", len);
    w->len += len;
    if (w->direct) {
        if (sp_direct_put(w->direct, data, len, err) < 0) {
            w->failed = 1;
            return OH_ERROR;
        }
        return 0;
    }
    if (w->blen + len > WRITER_BUF && writer_flush(w, err) < 0)
        return OH_ERROR;
    if (len >= WRITER_BUF)
        return writer_put(w, data, len, err);
    memcpy(w->buf + w->blen, data, len);
    w->blen += len;
    return 0;
}

void oh_spool_writer_expect(struct oh_spool_writer *w, int64_t size)
{
    struct oh_err e2 = {0};

    if (size < WRITER_DIRECT_MIN || w->direct || w->failed || w->fd >= 0 || w->len > 0)
        return;
    /* The file now, on the caller's thread (a large payload's fetch takes
     * far longer), then the header as its first bytes. */
    if (writer_file(w, &e2) < 0) {
        w->failed = 0; /* the first write tries again and reports it */
        return;
    }
    if (!(w->direct = sp_direct_open(w->tmp, w->fd)))
        return;
    /* the header is far less than a chunk: this only copies it */
    (void)sp_direct_put(w->direct, w->buf, w->blen, &e2);
    w->blen = 0;
}

int oh_spool_writer_commit(struct oh_spool_writer *w, char id[OH_SPOOL_ID_MAX], struct oh_err *err)
{
    char newid[OH_SPOOL_ID_MAX];
    int rc;

    if (id)
        id[0] = '\0';
    if (w->failed) {
        rc = oh_err_set(err, OH_ERROR, "%s: not committed: an earlier write failed", w->tmp);
        goto done;
    }
    if ((rc = writer_flush(w, err)) < 0)
        goto done;
    rc = sp_sync_close(w->fd, w->tmp, err);
    w->fd = -1;
    if (rc < 0)
        goto done;
    rc = publish(w->sp, w->tmp, newid, err);
    w->tmp[0] = '\0'; /* publish() removed or renamed it */
    if (rc == 0 && id)
        snprintf(id, OH_SPOOL_ID_MAX, "%s", newid);
done:
    oh_spool_writer_abort(w);
    return rc;
}

/* The group's result is its first failure, with that failure's message. */
static void first_failure(int *rc, int one, const struct oh_err *e, struct oh_err *err)
{
    if (one < 0 && *rc == 0) {
        *rc = one;
        if (err)
            *err = *e;
    }
}

int oh_spool_writers_commit(struct oh_spool_writer **ws, size_t n, char (*ids)[OH_SPOOL_ID_MAX],
                            int *rcs, struct oh_err *err)
{
    char dst[PATH_MAX];
    struct oh_err e2;
    size_t done_n = 0;
    int rc = 0;

    /* 1. every writer's bytes into its file, and their writeback started
     *    together: the fdatasyncs below then mostly wait, and ext4 makes
     *    the whole group's metadata durable with the first one's journal
     *    commit. */
    for (size_t i = 0; i < n; i++) {
        struct oh_spool_writer *w = ws[i];
        ids[i][0] = '\0';
        oh_err_clear(&e2);
        rcs[i] = 0;
        if (w->failed)
            rcs[i] = oh_err_set(&e2, OH_ERROR, "%s: not committed: an earlier write failed",
                                w->tmp);
        else if ((rcs[i] = writer_flush(w, &e2)) == 0)
            writer_kick(w, 1);
        first_failure(&rc, rcs[i], &e2, err);
    }
    /* 2. data durable (S1: before the rename) */
    for (size_t i = 0; i < n; i++) {
        struct oh_spool_writer *w = ws[i];
        if (rcs[i] < 0)
            continue;
        oh_err_clear(&e2);
        rcs[i] = sp_sync_close(w->fd, w->tmp, &e2);
        w->fd = -1;
        first_failure(&rc, rcs[i], &e2, err);
    }
    /* 3. each into incoming/ under an id taken now (S6: durability order) */
    for (size_t i = 0; i < n; i++) {
        struct oh_spool_writer *w = ws[i];
        if (rcs[i] < 0)
            continue;
        oh_err_clear(&e2);
        sp_new_id(ids[i]);
        if ((rcs[i] = sp_path(w->sp, SP_INCOMING, ids[i], dst, &e2)) == 0) {
            if (OH_FAULT("spool.rename"))
                rcs[i] = oh_err_retry(&e2, OH_ERROR, "%s: rename to %s failed: injected fault",
                                      w->tmp, dst);
            else if (rename(w->tmp, dst) < 0)
                rcs[i] = oh_err_retry(&e2, OH_ERROR, "%s: rename to %s failed: %s", w->tmp, dst,
                                      strerror(errno));
        }
        if (rcs[i] < 0) {
            ids[i][0] = '\0';
            first_failure(&rc, rcs[i], &e2, err);
            continue; /* abort below removes tmp */
        }
        w->tmp[0] = '\0'; /* renamed: no longer ours to remove */
        done_n++;
    }
    /* 4. one fsync round of incoming/ for the whole group */
    oh_err_clear(&e2);
    if (done_n && n && sp_dirsync(ws[0]->sp, SP_INCOMING, &e2) < 0) {
        /* Not durable: take them back unless a worker already has one. */
        for (size_t i = 0; i < n; i++) {
            struct oh_spool *sp = ws[i]->sp;
            if (rcs[i] < 0)
                continue;
            pthread_mutex_lock(&sp->claim_mu);
            if (sp_held_state(&sp->held, ids[i]) == SP_HELD_NONE &&
                sp_path(sp, SP_INCOMING, ids[i], dst, NULL) == 0)
                unlink(dst);
            pthread_mutex_unlock(&sp->claim_mu);
            rcs[i] = OH_ERROR;
            ids[i][0] = '\0';
        }
        oh_err_prefix(&e2, "spool: a group of %zu entries not stored", done_n);
        if (rc == 0 && err)
            *err = e2;
        rc = OH_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        oh_spool_writer_abort(ws[i]);
    return rc;
}

void oh_spool_writer_abort(struct oh_spool_writer *w)
{
    if (!w)
        return;
    sp_direct_free(w->direct);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0])
        unlink(w->tmp);
    free(w->buf);
    free(w);
}

/* ---- recovery (S4) ------------------------------------------------------ */

static int empty_tmp(struct oh_spool *sp, struct oh_err *err)
{
    DIR *dh;
    struct dirent *de;
    char path[PATH_MAX];
    int rc = 0;

    if (!(dh = opendir(sp->dir[SP_TMP])))
        return oh_err_set(err, OH_ERROR, "%s: cannot open directory: %s", sp->dir[SP_TMP],
                          strerror(errno));
    while ((de = readdir(dh))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (sp_path(sp, SP_TMP, de->d_name, path, NULL) < 0)
            continue;
        if (unlink(path) < 0 && errno != ENOENT) {
            rc = oh_err_set(err, OH_ERROR, "%s: cannot remove: %s", path, strerror(errno));
            break;
        }
    }
    closedir(dh);
    return rc;
}

int oh_spool_recover(struct oh_spool *sp, size_t *moved, struct oh_err *err)
{
    char **names = NULL, src[PATH_MAX], dst[PATH_MAX];
    size_t n = 0, cnt = 0;
    int rc;

    if (moved)
        *moved = 0;
    free_pool_clear(sp, 0); /* empty_tmp removes the files */
    if ((rc = sp_names(sp, SP_ACTIVE, &names, &n, err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if ((rc = sp_path(sp, SP_ACTIVE, names[i], src, err)) < 0 ||
            (rc = sp_path(sp, SP_INCOMING, names[i], dst, err)) < 0)
            goto done;
        if (rename(src, dst) < 0) {
            if (errno == ENOENT)
                continue;
            rc = oh_err_set(err, OH_ERROR, "%s: rename to %s failed: %s", src, dst,
                            strerror(errno));
            goto done;
        }
        cnt++;
    }
    if ((rc = empty_tmp(sp, err)) < 0)
        goto done;
    /* incoming/ first: a recovered entry must not vanish from both. */
    if ((rc = sp_dirsync(sp, SP_INCOMING, err)) < 0 || (rc = sp_dirsync(sp, SP_ACTIVE, err)) < 0 ||
        (rc = sp_dirsync(sp, SP_TMP, err)) < 0)
        goto done;
    /* Names read before the crash may be stale; start afresh. */
    pthread_mutex_lock(&sp->claim_mu);
    batch_clear(&sp->incoming);
    batch_clear(&sp->due);
    sp->defer_next_scan = 0;
    pthread_mutex_unlock(&sp->claim_mu);
done:
    if (moved)
        *moved = cnt;
    sp_names_free(names, n);
    return rc;
}
