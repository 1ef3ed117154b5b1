/* filechan.c — the file-channel engine (see filechan.h for what it promises).
 *
 * Order of steps for one inbound file, and why:
 *   1. listed, matched, stable (or marker present)   — never a half-written file
 *   2. identity "file:NAME:SIZE:MTIME" not seen        — never twice
 *   3. streamed into a spool writer, size checked      — bounded memory
 *   4. spool commit returned 0 for its entry           — durable (spool S1)
 *   5. identity remembered                             — a crash before this
 *      re-spools the file; the idempotent store absorbs the copy
 *   6. after = move|delete|keep                        — only now is the source touched
 * A failure in 3–4 leaves the source file exactly where it was. Steps 4–6
 * are taken for a group of files at a time (see "grouped pickup" below);
 * the order holds for every file of the group. A crash between 5 and 6 is
 * finished by the next pass: the file is seen, so only step 6 is done.
 */
#include "filechan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "spool/spool.h"
#include "util.h"

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

void oh_file_infos_free(struct oh_file_info *f, size_t n)
{
    if (!f)
        return;
    for (size_t i = 0; i < n; i++)
        free(f[i].name);
    free(f);
}

int oh_filechan_configure(struct oh_filechan *fc, struct oh_channel *ch, struct oh_err *err)
{
    static const char *const afters[] = { "move", "delete", "keep", NULL };
    const struct oh_conf_section *s = ch->cfg;
    int after = OH_AFTER_MOVE, rc;
    long stable = 2;
    const char *marker;

    if ((rc = oh_conf_enum(s, "after", afters, OH_AFTER_MOVE, &after, err)) < 0 ||
        (rc = oh_conf_int(s, "stable", 2, &stable, err)) < 0 ||
        (rc = oh_conf_bool(s, "overwrite", 0, &fc->overwrite, err)) < 0)
        return rc;
    if (stable < 1 || stable > 10)
        return oh_err_set(err, OH_EINVAL, "%s:%d: stable: must be from 1 to 10 looks", s->path,
                          oh_conf_line(s, "stable"));
    fc->after = (enum oh_file_after)after;
    fc->stable_looks = (int)stable;
    fc->pattern = xstrdup(oh_conf_get_or(s, "pattern", "*"));
    marker = oh_conf_get(s, "marker");
    fc->marker = marker && *marker ? xstrdup(marker) : NULL;
    fc->out_name = xstrdup(oh_conf_get_or(s, "filename", FILECHAN_DEFAULT_NAME));
    return 0;
}

void oh_filechan_clear(struct oh_filechan *fc)
{
    free(fc->pattern);
    free(fc->marker);
    free(fc->out_name);
    oh_file_infos_free(fc->last, fc->nlast);
    memset(fc, 0, sizeof(*fc));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Is this name a candidate at all? */
static int eligible(const struct oh_filechan *fc, const char *name)
{
    if (name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".tmp"))
        return 0;
    if (fc->marker && ends_with(name, fc->marker))
        return 0;
    return oh_glob_match(fc->pattern, name);
}

/* Same size and mtime as in the previous listing? */
static int unchanged_since_last(const struct oh_filechan *fc, const struct oh_file_info *f)
{
    for (size_t i = 0; i < fc->nlast; i++)
        if (strcmp(fc->last[i].name, f->name) == 0)
            return fc->last[i].size == f->size && fc->last[i].mtime == f->mtime;
    return 0;
}

/* The bytes go straight into the spool writer. No digest here: the
 * processor takes each document's SHA-256 once (stored with it in
 * `documents`), and hashing on the fetching thread cost a large file about
 * a sixth of its pickup time. */
struct sink_state {
    struct oh_spool_writer *w;
    int64_t got;
};

static int sink(void *ud, const void *buf, size_t len, struct oh_err *err)
{
    struct sink_state *ss = ud;
    ss->got += (int64_t)len;
    return oh_spool_writer_write(ss->w, buf, len, err);
}

/* A notice the processor turns into a dead entry with meta.error as reason:
 * used for files we must not ingest but must not lose sight of either. */
static int spool_notice(struct oh_channel *ch, struct oh_spool *sp, const char *name,
                        const char *reason, struct oh_err *err)
{
    struct oh_spool_meta m;
    memset(&m, 0, sizeof(m));
    snprintf(m.channel, sizeof(m.channel), "%s", ch->name);
    snprintf(m.format, sizeof(m.format), "error");
    snprintf(m.source, sizeof(m.source), "%s", name);
    snprintf(m.error, sizeof(m.error), "%s", reason);
    return oh_spool_enqueue(sp, &m, reason, strlen(reason), NULL, err);
}

static int apply_after(struct oh_filechan *fc, struct oh_channel *ch, const char *name,
                       struct oh_err *err)
{
    int rc = 0;
    char marker[1024];

    switch (fc->after) {
    case OH_AFTER_MOVE: rc = fc->tp->archive(fc->t, name, err); break;
    case OH_AFTER_DELETE: rc = fc->tp->remove(fc->t, name, err); break;
    case OH_AFTER_KEEP: return 0;
    }
    if (rc == 0 && fc->marker) {
        struct oh_err e2;
        snprintf(marker, sizeof(marker), "%s%s", name, fc->marker);
        if (fc->tp->remove(fc->t, marker, &e2) < 0)
            oh_warn("file.marker", "channel=%s file=%s error=\"%s\"", ch->name, marker, e2.msg);
    }
    return rc;
}

/* ---- grouped pickup ------------------------------------------------------
 *
 * Files are fetched into spool writers and committed in groups of up to
 * GROUP_FILES files or GROUP_BYTES bytes: one group commit makes them all
 * durable (their fdatasyncs share a journal commit, one fsync of incoming/),
 * then their identities are remembered, then `after` is applied to each.
 * The commit of a group runs on a thread of its own while the next group is
 * fetched over the (one) connection; the group's remembers and remote moves
 * wait for its commit, and the commits run one after the other, in order.
 *
 *   fetch G1 | fetch G2          | fetch G3          | ...
 *            | commit G1 (thread)| commit G2 (thread)|
 *            |                   | remember+after G1 | remember+after G2
 *
 * Per file the steps and their order are those in the header comment (a
 * file is acknowledged only after its own entry is durable and its identity
 * remembered); a file that fails is left where it was, alone, while the
 * rest of its group flows.
 */
#define GROUP_FILES 64
#define GROUP_BYTES (8 * 1024 * 1024)

struct item {
    const struct oh_file_info *f; /* borrowed from the listing */
    char key[1200];
    struct oh_spool_writer *w;    /* until the group commit */
    char id[OH_SPOOL_ID_MAX];
};

struct group {
    struct item it[GROUP_FILES];
    struct oh_spool_writer *ws[GROUP_FILES];
    char ids[GROUP_FILES][OH_SPOOL_ID_MAX];
    int rcs[GROUP_FILES];
    size_t n;
    int64_t bytes;
    pthread_t th;
    int running;   /* th is committing this group */
    int rc;        /* oh_spool_writers_commit's */
    struct oh_err err;
};

static void *group_commit_main(void *arg)
{
    struct group *g = arg;
    for (size_t i = 0; i < g->n; i++)
        g->ws[i] = g->it[i].w;
    oh_err_clear(&g->err);
    g->rc = oh_spool_writers_commit(g->ws, g->n, g->ids, g->rcs, &g->err);
    for (size_t i = 0; i < g->n; i++)
        g->it[i].w = NULL; /* committed or freed by oh_spool_writers_commit */
    return NULL;
}

/* Starts the commit of g on its own thread (or here, when no thread can be
 * had: the outcome is the same, only not overlapped). */
static void group_start(struct group *g)
{
    if (g->n == 0)
        return;
    if (pthread_create(&g->th, NULL, group_commit_main, g) == 0)
        g->running = 1;
    else
        group_commit_main(g);
}

static void group_wait(struct group *g)
{
    if (g->running) {
        pthread_join(g->th, NULL);
        g->running = 0;
    }
}

struct poll_state {
    struct oh_filechan *fc;
    struct oh_channel *ch;
    struct oh_spool *sp;
    int first_rc;
    struct oh_err *err;
    int stop; /* the connection is gone: stop this pass */
};

/* Records a file's failure (logged; the first one is the pass's result). */
static void file_failed(struct poll_state *ps, const char *name, int rc, const struct oh_err *ferr)
{
    char q[512], qe[1100];

    oh_warn("file.failed", "channel=%s file=%s error=%s", ps->ch->name,
            oh_logq(q, sizeof(q), name), oh_logq(qe, sizeof(qe), ferr->msg));
    if (!ps->first_rc) {
        ps->first_rc = rc;
        if (ps->err)
            *ps->err = *ferr;
    }
    if (ferr->retryable && rc == OH_EAGAIN && ps->fc->tp->kind[0] == 's')
        ps->stop = 1;
}

/* After its commit: log, remember, apply `after` to each file of g, in
 * order. A file whose entry did not become durable is left untouched. */
static void group_finish(struct poll_state *ps, struct group *g)
{
    struct oh_channel *ch = ps->ch;
    char q[512];

    const char *keys[GROUP_FILES];
    size_t nk = 0;
    struct oh_err merr;
    int mrc = 0;

    /* the owner's hook, else the channel's (the daemon's store) */
    int (*many)(struct oh_channel *, const char *const *, size_t, struct oh_err *) =
        ps->fc->remember_many ? ps->fc->remember_many
                              : ch->ops ? ch->ops->remember_many : NULL;

    group_wait(g);
    oh_err_clear(&merr);
    if (many) {
        for (size_t i = 0; i < g->n; i++)
            if (g->rcs[i] == 0)
                keys[nk++] = g->it[i].key;
        if (nk)
            mrc = many(ch, keys, nk, &merr);
    }
    for (size_t i = 0; i < g->n; i++) {
        struct item *it = &g->it[i];
        struct oh_err ferr;
        int rc = g->rcs[i];

        oh_err_clear(&ferr);
        if (rc < 0) {
            /* oh_spool_writers_commit keeps only the first message */
            ferr = g->err;
            goto next;
        }
        snprintf(it->id, sizeof(it->id), "%s", g->ids[i]);
        oh_info("file.spooled", "channel=%s file=%s bytes=%lld spool_id=%s", ch->name,
                oh_logq(q, sizeof(q), it->f->name), (long long)it->f->size, it->id);
        if (many) {
            if ((rc = mrc) < 0) {
                ferr = merr;
                goto next;
            }
        } else if (ch->ops && ch->ops->remember &&
                   (rc = ch->ops->remember(ch, it->key, &ferr)) < 0) {
            goto next;
        }
        if (OH_FAULT("filechan.after"))
            rc = oh_err_retry(&ferr, OH_EAGAIN, "%s: injected fault before the after-step",
                              it->f->name);
        else
            rc = apply_after(ps->fc, ch, it->f->name, &ferr);
    next:
        if (rc < 0)
            file_failed(ps, it->f->name, rc, &ferr);
    }
    g->n = 0;
    g->bytes = 0;
}

/* Streams one file into a new spool writer and adds it to g (not committed
 * yet). On failure nothing is left of it in the spool. */
static int fetch_into(struct oh_filechan *fc, struct oh_channel *ch, struct oh_spool *sp,
                      struct group *g, const struct oh_file_info *f, const char *key,
                      struct oh_err *err)
{
    struct oh_spool_meta m;
    struct sink_state ss = { 0 };
    struct item *it = &g->it[g->n];
    int rc;

    memset(&m, 0, sizeof(m));
    snprintf(m.channel, sizeof(m.channel), "%s", ch->name);
    snprintf(m.format, sizeof(m.format), "%s", ch->format ? ch->format : "canonical");
    snprintf(m.source, sizeof(m.source), "%s", f->name);
    if ((rc = oh_spool_writer_open(sp, &m, &ss.w, err)) < 0)
        goto done;
    oh_spool_writer_expect(ss.w, f->size);
    if ((rc = fc->tp->fetch(fc->t, f->name, sink, &ss, err)) < 0)
        goto done;
    if (ss.got != f->size) {
        rc = oh_err_retry(err, OH_EAGAIN, "%s: read %lld bytes but the listing said %lld; will look again",
                          f->name, (long long)ss.got, (long long)f->size);
        goto done;
    }
    it->f = f;
    snprintf(it->key, sizeof(it->key), "%s", key);
    it->w = ss.w;
    it->id[0] = '\0';
    ss.w = NULL;
    g->n++;
    g->bytes += f->size;
    rc = 0;
done:
    oh_spool_writer_abort(ss.w);
    return rc;
}

static void file_key(const struct oh_file_info *f, char *key, size_t n)
{
    snprintf(key, n, "file:%s:%lld:%lld", f->name, (long long)f->size, (long long)f->mtime);
}

/* The next file after i that the loop below will look up (no marker to
 * ask the server about), or n. */
static size_t next_candidate(const struct oh_filechan *fc, const struct oh_file_info *files,
                             size_t n, size_t i)
{
    if (fc->marker)
        return n;
    for (size_t j = i + 1; j < n; j++)
        if (eligible(fc, files[j].name) &&
            (fc->stable_looks <= 1 || unchanged_since_last(fc, &files[j])))
            return j;
    return n;
}

int oh_filechan_poll(struct oh_filechan *fc, struct oh_channel *ch, struct oh_spool *sp,
                     struct oh_err *err)
{
    struct oh_file_info *files = NULL;
    struct group *gs = NULL, *cur, *prev;
    struct poll_state ps = {.fc = fc, .ch = ch, .sp = sp, .err = err};
    size_t n = 0, ahead = (size_t)-1; /* a file whose "seen" is already known */
    int rc, ahead_seen = 0;
    char key[1200], key2[1200], q[512];

    if ((rc = fc->tp->list(fc->t, &files, &n, err)) < 0)
        return rc;
    if (!(gs = calloc(2, sizeof(*gs))))
        abort();
    cur = &gs[0];
    prev = &gs[1];
    for (size_t i = 0; i < n && !ps.stop; i++) {
        const struct oh_file_info *f = &files[i];
        struct oh_err ferr;
        int seen = 0;

        oh_err_clear(&ferr);
        rc = 0;
        if (!eligible(fc, f->name))
            continue;
        if (fc->marker) {
            char mk[1024];
            int exists = 0;
            snprintf(mk, sizeof(mk), "%s%s", f->name, fc->marker);
            if ((rc = fc->tp->exists(fc->t, mk, &exists, &ferr)) < 0 || !exists)
                goto next;
        } else if (fc->stable_looks > 1 && !unchanged_since_last(fc, f)) {
            oh_debug("file.unstable", "channel=%s file=%s size=%lld", ch->name,
                     oh_logq(q, sizeof(q), f->name), (long long)f->size);
            continue;
        }
        file_key(f, key, sizeof(key));
        if (ahead == i) {
            seen = ahead_seen;
        } else if (ch->ops && ch->ops->seen_pair) {
            /* Two files per store round trip: this one and the next
             * candidate, whose answer is kept for when the loop gets there. */
            size_t j = next_candidate(fc, files, n, i);
            int seen_j = 0;
            if (j < n)
                file_key(&files[j], key2, sizeof(key2));
            if ((rc = ch->ops->seen_pair(ch, key, j < n ? key2 : NULL, &seen, &seen_j, &ferr)) < 0)
                goto next;
            ahead = j;
            ahead_seen = seen_j;
        } else if (ch->ops && ch->ops->seen && (rc = ch->ops->seen(ch, key, &seen, &ferr)) < 0) {
            goto next;
        }
        if (seen) {
            /* Spooled before; only the after-step may be missing (a crash
             * between commit and move). Finish it. */
            rc = apply_after(fc, ch, f->name, &ferr);
            goto next;
        }
        if (ch->max_doc_size > 0 && f->size > ch->max_doc_size) {
            char reason[768];
            snprintf(reason, sizeof(reason),
                     "%s is %lld bytes, over max_document_size %lld; left in place, not ingested",
                     f->name, (long long)f->size, (long long)ch->max_doc_size);
            oh_error("file.too_big", "channel=%s file=%s size=%lld limit=%lld", ch->name,
                     oh_logq(q, sizeof(q), f->name), (long long)f->size,
                     (long long)ch->max_doc_size);
            if ((rc = spool_notice(ch, sp, f->name, reason, &ferr)) == 0 && ch->ops && ch->ops->remember)
                rc = ch->ops->remember(ch, key, &ferr);
            goto next;
        }
        rc = fetch_into(fc, ch, sp, cur, f, key, &ferr);
        if (rc == OH_EPERM) {
            /* Unreadable: report once through the dead queue, leave it in place. */
            char reason[1200], qr[1300];
            snprintf(reason, sizeof(reason), "%s: cannot be read: %s; left in place", f->name,
                     ferr.msg);
            oh_error("file.unreadable", "channel=%s file=%s error=%s", ch->name,
                     oh_logq(q, sizeof(q), f->name), oh_logq(qr, sizeof(qr), reason));
            if ((rc = spool_notice(ch, sp, f->name, reason, &ferr)) == 0 && ch->ops && ch->ops->remember)
                rc = ch->ops->remember(ch, key, &ferr);
        }
    next:
        if (rc < 0)
            file_failed(&ps, f->name, rc, &ferr);
        if (cur->n == GROUP_FILES || cur->bytes >= GROUP_BYTES) {
            struct group *t;
            /* Commits in order: the previous group's is done (it had this
             * group's whole fetch to run) before this one starts. */
            group_wait(prev);
            group_start(cur);
            group_finish(&ps, prev);
            t = prev;
            prev = cur;
            cur = t;
        }
    }
    group_wait(prev);
    group_start(cur);
    group_finish(&ps, prev);
    group_finish(&ps, cur);
    free(gs);
    oh_file_infos_free(fc->last, fc->nlast);
    fc->last = files;
    fc->nlast = n;
    return ps.first_rc;
}

void oh_filechan_name(const char *tmpl, const struct oh_outbox_msg *m, char *out, size_t n)
{
    size_t o = 0;
    const char *ext = strstr(m->content_type, "xml") ? "xml"
                      : strstr(m->content_type, "csv") ? "csv"
                      : strstr(m->content_type, "edi") ? "edi"
                      : "json";
    char idbuf[32];

    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)m->id);
    for (const char *p = tmpl; *p && o + 1 < n;) {
        const char *val = NULL;
        size_t skip = 0;
        if (strncmp(p, "{event}", 7) == 0)
            val = m->event, skip = 7;
        else if (strncmp(p, "{id}", 4) == 0)
            val = idbuf, skip = 4;
        else if (strncmp(p, "{origin}", 8) == 0)
            val = m->origin, skip = 8;
        else if (strncmp(p, "{ext}", 5) == 0)
            val = ext, skip = 5;
        if (val) {
            for (const char *v = val; *v && o + 1 < n; v++)
                out[o++] = (*v == '/' ? '_' : *v);
            p += skip;
        } else {
            out[o++] = *p++ == '/' ? '_' : p[-1];
        }
    }
    out[o] = '\0';
}

int oh_filechan_deliver(struct oh_filechan *fc, struct oh_channel *ch,
                        const struct oh_outbox_msg *m, struct oh_err *err)
{
    char name[512];
    const char *body = m->body ? m->body : m->payload;
    size_t len = m->body ? m->body_len : m->payload_len;
    int rc;

    oh_filechan_name(fc->out_name, m, name, sizeof(name));
    rc = fc->tp->put(fc->t, name, body, len, fc->overwrite, err);
    if (rc == OH_EEXIST)
        oh_err_prefix(err, "%s: not overwritten (set overwrite = yes to allow)", ch->name);
    return rc;
}
