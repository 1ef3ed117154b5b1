/*
 * outcome.c — claiming entries and the outcomes of a claimed entry: done,
 * defer, kill; and the operator's retry. Arrows of the state machine in
 * spool.h, each one rename(2):
 *
 *   oh_spool_claim   incoming/ID -> active/ID, else deferred/ID -> active/ID
 *   oh_spool_done    active/ID   -> tmp/ (recycled or reaped), or archive/ID
 *   oh_spool_defer   active/ID   -> deferred/ID (or dead/ID, returns 1)
 *   oh_spool_kill    active/ID   -> dead/ID (+ dead/ID.reason)
 *   oh_spool_retry   dead/ID or deferred/ID -> incoming/ID
 *
 * Claim order: the oldest name in incoming/ first; only when incoming/ is
 * empty, the oldest deferred/ entry whose next_attempt has come. Names are
 * read with one readdir into a sorted in-memory batch shared by the threads
 * of this process, and the batch is refilled only when used up, so a claim
 * costs one rename however long the queue is. A name another claimer took
 * first fails the rename with ENOENT and we move on to the next (S3).
 * deferred/ is scanned (one header read per entry) only when incoming/ is
 * empty and something may be due: the earliest next_attempt seen, a defer
 * made by this process, or SP_DEFER_RESCAN_MS for defers made by others.
 *
 * A sole claimer (oh_spool_sole_claimer: the process holds the spool's
 * lock, so no other process claims) claims an incoming/ entry in place: no
 * rename, its id goes into the held set (held.c) under claim_mu, and a
 * refill of the batch leaves out the ids in the set. Its outcomes start
 * from incoming/: done renames it into the recycling pool or queues it for
 * the reaper, which removes it there and only then drops the id; defer and
 * kill first rename it into active/ and go on as for any claim. Deferred
 * entries are still claimed by a rename into active/. After a crash the
 * set is gone and the entry is simply in incoming/ (S4 without a rename).
 *
 * Deferral bookkeeping lives in the entry's own header: defer and kill write
 * a new copy of the entry (new header, payload copied in 64 KiB pieces) into
 * tmp/, fsync it, and rename it over active/ID before moving it on. Each
 * step is one rename, so after a crash the entry exists exactly once, with
 * the old header or the new one (S2); tmp/ leftovers are removed by recover.
 *
 * An entry whose header cannot be read goes to dead/ unchanged on kill or
 * defer (defer returns 1 then): waiting will not repair it.
 *
 * attempts counts failures: defer and kill add one. defer sends the entry to
 * dead/ once attempts would exceed opts.max_attempts, so an entry is
 * deferred at most max_attempts times. The next attempt is due
 * oh_backoff_ms(attempts - 1, base, max) after the defer. Retry keeps
 * attempts (and the last error in the header) as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool_int.h"
#include "util.h"

#define COPY_BUF (64 * 1024)

static int check_id(const char *id, struct oh_err *err)
{
    if (!id || !sp_valid_id(id))
        return oh_err_set(err, OH_EINVAL, "spool: '%s' is not a spool entry id", id ? id : "");
    return 0;
}

/* Renames FROM/ID to TO/NAME2 (NAME2 NULL: the same id). ENOENT becomes
 * OH_ENOTFOUND. */
static int move(struct oh_spool *sp, int from, const char *id, int to, const char *name2,
                struct oh_err *err)
{
    char src[PATH_MAX], dst[PATH_MAX];
    int rc;

    if ((rc = sp_path(sp, from, id, src, err)) < 0 ||
        (rc = sp_path(sp, to, name2 ? name2 : id, dst, err)) < 0)
        return rc;
    if (rename(src, dst) < 0)
        return oh_err_set(err, errno == ENOENT ? OH_ENOTFOUND : OH_ERROR,
                          "%s: rename to %s failed: %s", src, dst, strerror(errno));
    return 0;
}

/* ---- claim (S3) --------------------------------------------------------- */

int sp_claimed_dir(struct oh_spool *sp, const char *id)
{
    int d = SP_ACTIVE;

    pthread_mutex_lock(&sp->claim_mu);
    if (sp->in_place && sp_held_state(&sp->held, id) == SP_HELD_CLAIMED)
        d = SP_INCOMING;
    pthread_mutex_unlock(&sp->claim_mu);
    return d;
}

static void held_del(struct oh_spool *sp, const char *id)
{
    pthread_mutex_lock(&sp->claim_mu);
    sp_held_del(&sp->held, id);
    pthread_mutex_unlock(&sp->claim_mu);
}

/* Drops the names this process holds in place (claimed or being removed)
 * from a fresh incoming/ batch. Called with claim_mu. */
static void drop_held(struct oh_spool *sp, char **names, size_t *n)
{
    size_t kept = 0;

    for (size_t i = 0; i < *n; i++) {
        if (sp_held_state(&sp->held, names[i]) != SP_HELD_NONE)
            free(names[i]);
        else
            names[kept++] = names[i];
    }
    *n = kept;
}

static void batch_reset(struct sp_batch *b, char **names, size_t n)
{
    sp_names_free(b->names, b->n);
    b->names = names;
    b->n = n;
    b->next = 0;
}

/* Fills sp->due with the deferred entries due now. Called with claim_mu. */
static int scan_deferred(struct oh_spool *sp, struct oh_err *err)
{
    char **names = NULL;
    size_t n = 0, kept = 0;
    int64_t now = oh_now_ms(), next = now + SP_DEFER_RESCAN_MS;
    int rc;

    if ((rc = sp_names(sp, SP_DEFERRED, &names, &n, err)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct oh_spool_meta m;
        int r = sp_entry_read(sp, SP_DEFERRED, names[i], &m, NULL, NULL, NULL);
        if (r == OH_ENOTFOUND || (r == 0 && m.next_attempt > now)) {
            if (r == 0 && m.next_attempt < next)
                next = m.next_attempt;
            free(names[i]);
            continue;
        }
        /* Due, or unreadable: a worker's load will report the damage and
         * kill it, which beats leaving it unseen in deferred/. */
        names[kept++] = names[i];
    }
    batch_reset(&sp->due, names, kept);
    sp->defer_next_scan = next;
    return 0;
}

int oh_spool_claim(struct oh_spool *sp, char id[OH_SPOOL_ID_MAX], struct oh_err *err)
{
    int rc, incoming_empty = 0, scanned = 0;

    id[0] = '\0';
    pthread_mutex_lock(&sp->claim_mu);
    for (;;) {
        struct sp_batch *b;
        int from;
        char *name;

        if (sp->incoming.next < sp->incoming.n) {
            b = &sp->incoming;
            from = SP_INCOMING;
        } else if (!incoming_empty) {
            char **names;
            size_t n;
            if ((rc = sp_names(sp, SP_INCOMING, &names, &n, err)) < 0)
                break;
            if (sp->in_place)
                drop_held(sp, names, &n);
            batch_reset(&sp->incoming, names, n);
            incoming_empty = n == 0;
            continue;
        } else if (sp->due.next < sp->due.n) {
            b = &sp->due;
            from = SP_DEFERRED;
        } else if (!scanned && oh_now_ms() >= sp->defer_next_scan) {
            scanned = 1;
            if ((rc = scan_deferred(sp, err)) < 0)
                break;
            continue;
        } else {
            rc = oh_err_set(err, OH_ENOTFOUND, "spool %s: nothing due", sp->root);
            break;
        }
        name = b->names[b->next];
        b->names[b->next++] = NULL;
        if (sp->in_place && from == SP_INCOMING) {
            /* The refill left out what we hold, and only claims take names
             * from the batch: the name is free to hold. */
            sp_held_put(&sp->held, name, SP_HELD_CLAIMED);
            snprintf(id, OH_SPOOL_ID_MAX, "%s", name);
            free(name);
            rc = 0;
            break;
        }
        pthread_mutex_unlock(&sp->claim_mu);
        rc = move(sp, from, name, SP_ACTIVE, NULL, err);
        if (rc == 0)
            snprintf(id, OH_SPOOL_ID_MAX, "%s", name);
        free(name);
        pthread_mutex_lock(&sp->claim_mu);
        if (rc != OH_ENOTFOUND)
            break;
        /* Another claimer (thread or process) was first: next name. */
    }
    pthread_mutex_unlock(&sp->claim_mu);
    if (rc == 0)
        oh_err_clear(err);
    return rc;
}

/* ---- done --------------------------------------------------------------- */

/* done for an entry held in place: it leaves incoming/ (or, queued for the
 * reaper, can no longer be claimed) when this returns. */
static int done_held(struct oh_spool *sp, const char *id, struct oh_err *err)
{
    char path[PATH_MAX];
    int rc;

    if (sp->opts.archive) {
        if ((rc = move(sp, SP_INCOMING, id, SP_ARCHIVE, NULL, err)) == 0)
            rc = sp_dirsync(sp, SP_ARCHIVE, err);
    } else if ((rc = sp_free_put(sp, SP_INCOMING, id, err)) == OH_EAGAIN) {
        pthread_mutex_lock(&sp->claim_mu);
        sp_held_put(&sp->held, id, SP_HELD_REAPING);
        pthread_mutex_unlock(&sp->claim_mu);
        if (sp_reap_held(sp, id) == 0)
            return 0; /* the reaper drops the id once the file is gone */
        rc = 0;
        if (sp_path(sp, SP_INCOMING, id, path, NULL) == 0 && unlink(path) < 0)
            rc = oh_err_set(err, errno == ENOENT ? OH_ENOTFOUND : OH_ERROR,
                            "%s: cannot remove: %s", path, strerror(errno));
    }
    if (rc == 0 || rc == OH_ENOTFOUND)
        held_del(sp, id);
    return rc;
}

int oh_spool_done(struct oh_spool *sp, const char *id, struct oh_err *err)
{
    char path[PATH_MAX];
    int rc;

    if ((rc = check_id(id, err)) < 0)
        return rc;
    if (sp_claimed_dir(sp, id) == SP_INCOMING) {
        if ((rc = done_held(sp, id, err)) < 0)
            goto done;
    } else if (sp->opts.archive) {
        if ((rc = move(sp, SP_ACTIVE, id, SP_ARCHIVE, NULL, err)) < 0)
            goto done;
        if ((rc = sp_dirsync(sp, SP_ARCHIVE, err)) < 0)
            goto done;
    } else {
        /* Kept as a file for the next enqueue to write over, when the pool
         * has room; else renamed into tmp/ for the reaper to remove
         * (spool_reap.c), and removed here only when the reaper is full.
         * Either way it has left active/ when done returns. A sole
         * claimer's pool is fed from incoming/, whose fsync rounds come
         * with every enqueue; a file from active/ (a deferred entry) could
         * wait at the pool's head for a round of active/ that may not come
         * soon, so it goes to the reaper. */
        if (!sp->in_place && (rc = sp_free_put(sp, SP_ACTIVE, id, err)) != OH_EAGAIN)
            goto done;
        if ((rc = sp_reap_put(sp, id, err)) != OH_EAGAIN)
            goto done;
        if ((rc = sp_path(sp, SP_ACTIVE, id, path, err)) < 0)
            goto done;
        if (unlink(path) < 0) {
            rc = oh_err_set(err, errno == ENOENT ? OH_ENOTFOUND : OH_ERROR,
                            "%s: cannot remove: %s", path, strerror(errno));
            goto done;
        }
    }
    /* No fsync of active/ here, on purpose: a removal lost in a crash only
     * brings the entry back through recovery, and its replay is absorbed by
     * the idempotent store (processor P5: UNCHANGED, no new events). The
     * fsync cost more than the whole store write per document. */
    rc = 0;
done:
    if (rc == OH_ENOTFOUND)
        oh_err_prefix(err, "spool: entry %s is not active", id);
    return rc;
}

/* ---- rewriting an active entry's header --------------------------------- */

/* Replaces active/ID by a copy with header m (see the file comment). */
static int rewrite_active(struct oh_spool *sp, const char *id, const struct oh_spool_meta *m,
                          struct oh_err *err)
{
    char src[PATH_MAX], tmp[PATH_MAX], name[OH_SPOOL_ID_MAX + 2], tid[OH_SPOOL_ID_MAX];
    char *hdr = NULL, *buf = NULL;
    struct oh_spool_meta old;
    size_t off = 0;
    int in = -1, out = -1, rc, hlen;

    tmp[0] = '\0';
    if ((rc = sp_path(sp, SP_ACTIVE, id, src, err)) < 0)
        goto done;
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = oh_err_set(err, errno == ENOENT ? OH_ENOTFOUND : OH_ERROR, "%s: cannot open: %s",
                        src, strerror(errno));
        goto done;
    }
    if ((rc = sp_hdr_read(in, src, &old, &off, err)) < 0)
        goto done;
    if (!(hdr = malloc(SP_HDR_MAX)) || !(buf = malloc(COPY_BUF)))
        abort();
    if ((hlen = sp_hdr_format(m, hdr, SP_HDR_MAX)) < 0) {
        rc = oh_err_set(err, OH_EINVAL, "spool: entry header too long");
        goto done;
    }
    sp_new_id(tid);
    snprintf(name, sizeof(name), "r.%s", tid);
    if ((rc = sp_tmp_create(sp, name, tmp, &out, err)) < 0) {
        tmp[0] = '\0';
        goto done;
    }
    rc = OH_ERROR;
    if (oh_write_all(out, hdr, (size_t)hlen) < 0) {
        oh_err_set(err, OH_ERROR, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t r = pread(in, buf, COPY_BUF, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            oh_err_set(err, OH_ERROR, "%s: read failed: %s", src, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        if (oh_write_all(out, buf, (size_t)r) < 0) {
            oh_err_set(err, OH_ERROR, "%s: write failed: %s", tmp, strerror(errno));
            goto done;
        }
        off += (size_t)r;
    }
    rc = sp_sync_close(out, tmp, err);
    out = -1;
    if (rc < 0)
        goto done;
    if (rename(tmp, src) < 0) {
        rc = oh_err_set(err, OH_ERROR, "%s: rename to %s failed: %s", tmp, src, strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
    rc = 0;
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (tmp[0])
        unlink(tmp);
    free(hdr);
    free(buf);
    return rc;
}

/* Writes dead/ID.reason (via tmp/, fsync'd; the caller syncs dead/). */
static int write_reason(struct oh_spool *sp, const char *id, const char *reason,
                        struct oh_err *err)
{
    char tmp[PATH_MAX], name[OH_SPOOL_ID_MAX + 2], tid[OH_SPOOL_ID_MAX], rname[OH_SPOOL_ID_MAX + 8];
    int fd, rc;

    sp_new_id(tid);
    snprintf(name, sizeof(name), "x.%s", tid);
    if ((rc = sp_tmp_create(sp, name, tmp, &fd, err)) < 0)
        return rc;
    if (oh_write_all(fd, reason, strlen(reason)) < 0 || oh_write_all(fd, "\n", 1) < 0) {
        rc = oh_err_set(err, OH_ERROR, "%s: write failed: %s", tmp, strerror(errno));
        close(fd);
        goto done;
    }
    if ((rc = sp_sync_close(fd, tmp, err)) < 0)
        goto done;
    snprintf(rname, sizeof(rname), "%s.reason", id);
    rc = move(sp, SP_TMP, name, SP_DEAD, rname, err);
done:
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* active/ID with header m -> dead/ID, reason beside it. m NULL: the header
 * is unreadable, so the file moves as it is (the reason says why). */
static int to_dead(struct oh_spool *sp, const char *id, struct oh_spool_meta *m,
                   const char *reason, struct oh_err *err)
{
    int rc;

    if (m) {
        snprintf(m->error, sizeof(m->error), "%s", reason);
        if ((rc = rewrite_active(sp, id, m, err)) < 0)
            return rc;
    }
    /* Reason first: a crash before the entry moves leaves only an orphan
     * .reason (never listed), not a dead entry without one. */
    if ((rc = write_reason(sp, id, reason, err)) < 0 ||
        (rc = move(sp, SP_ACTIVE, id, SP_DEAD, NULL, err)) < 0 ||
        (rc = sp_dirsync(sp, SP_DEAD, err)) < 0 || (rc = sp_dirsync(sp, SP_ACTIVE, err)) < 0)
        return rc;
    return 0;
}

/* ---- defer / kill / retry ----------------------------------------------- */

/* An entry held in place moves into active/ first (one rename), so that
 * defer and kill go on as for any claimed entry. */
static int lift_held(struct oh_spool *sp, const char *id, struct oh_err *err)
{
    int rc;

    if (sp_claimed_dir(sp, id) != SP_INCOMING)
        return 0;
    rc = move(sp, SP_INCOMING, id, SP_ACTIVE, NULL, err);
    if (rc == 0 || rc == OH_ENOTFOUND)
        held_del(sp, id);
    return rc;
}

static int read_active_meta(struct oh_spool *sp, const char *id, struct oh_spool_meta *m,
                            struct oh_err *err)
{
    int rc = check_id(id, err);

    if (rc == 0)
        rc = lift_held(sp, id, err);
    if (rc == 0 && (rc = sp_entry_read(sp, SP_ACTIVE, id, m, NULL, NULL, err)) == OH_ENOTFOUND)
        oh_err_prefix(err, "spool: entry %s is not active", id);
    return rc;
}

int oh_spool_defer(struct oh_spool *sp, const char *id, const char *reason, struct oh_err *err)
{
    struct oh_spool_meta m;
    int rc;

    if (!reason)
        reason = "";
    if ((rc = read_active_meta(sp, id, &m, err)) == OH_EINVAL && sp_valid_id(id)) {
        /* A damaged entry will not get better by waiting. */
        char why[sizeof(m.error)];
        snprintf(why, sizeof(why), "%s (entry damaged: %.700s)", reason, err ? err->msg : "");
        if ((rc = to_dead(sp, id, NULL, why, err)) < 0)
            return rc;
        return 1;
    }
    if (rc < 0)
        return rc;
    m.attempts++;
    if (m.attempts > sp->opts.max_attempts) {
        char why[sizeof(m.error)];
        snprintf(why, sizeof(why), "giving up after %d attempts: %s", m.attempts, reason);
        if ((rc = to_dead(sp, id, &m, why, err)) < 0)
            return rc;
        return 1;
    }
    snprintf(m.error, sizeof(m.error), "%s", reason);
    m.next_attempt =
        oh_now_ms() + oh_backoff_ms(m.attempts - 1, sp->opts.backoff_base_ms, sp->opts.backoff_max_ms);
    if ((rc = rewrite_active(sp, id, &m, err)) < 0 ||
        (rc = move(sp, SP_ACTIVE, id, SP_DEFERRED, NULL, err)) < 0 ||
        (rc = sp_dirsync(sp, SP_DEFERRED, err)) < 0 || (rc = sp_dirsync(sp, SP_ACTIVE, err)) < 0)
        return rc;
    pthread_mutex_lock(&sp->claim_mu);
    if (m.next_attempt < sp->defer_next_scan)
        sp->defer_next_scan = m.next_attempt;
    pthread_mutex_unlock(&sp->claim_mu);
    return 0;
}

int oh_spool_kill(struct oh_spool *sp, const char *id, const char *reason, struct oh_err *err)
{
    struct oh_spool_meta m;
    int rc;

    if (!reason)
        reason = "";
    if ((rc = read_active_meta(sp, id, &m, err)) == OH_EINVAL && sp_valid_id(id))
        return to_dead(sp, id, NULL, reason, err); /* damaged: moved as it is */
    if (rc < 0)
        return rc;
    m.attempts++;
    return to_dead(sp, id, &m, reason, err);
}

int oh_spool_retry(struct oh_spool *sp, const char *id, struct oh_err *err)
{
    char rpath[PATH_MAX], rname[OH_SPOOL_ID_MAX + 8];
    int rc, from = SP_DEAD;

    if ((rc = check_id(id, err)) < 0)
        return rc;
    rc = move(sp, SP_DEAD, id, SP_INCOMING, NULL, err);
    if (rc == OH_ENOTFOUND) {
        from = SP_DEFERRED;
        rc = move(sp, SP_DEFERRED, id, SP_INCOMING, NULL, err);
    }
    if (rc == OH_ENOTFOUND)
        return oh_err_set(err, OH_ENOTFOUND, "spool: no dead or deferred entry %s", id);
    if (rc < 0)
        return rc;
    if (from == SP_DEAD) {
        snprintf(rname, sizeof(rname), "%s.reason", id);
        if (sp_path(sp, SP_DEAD, rname, rpath, NULL) == 0)
            unlink(rpath); /* an absent .reason is fine */
    }
    if ((rc = sp_dirsync(sp, SP_INCOMING, err)) < 0 || (rc = sp_dirsync(sp, from, err)) < 0)
        return rc;
    return 0;
}
