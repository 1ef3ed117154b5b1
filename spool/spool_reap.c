/*
 * spool_reap.c — removing the files of done entries off the caller's path.
 *
 * Removing a file that holds data costs 0.2–1 ms of waiting here (the
 * filesystem discards the freed blocks), against about 10 µs for a rename,
 * and the waits of several removals overlap. So oh_spool_done, when the
 * recycling pool is full, renames active/ID to tmp/d.ID and queues that name;
 * SP_REAP_THREADS threads (started on first use) unlink the queued names.
 *
 * Promises:
 *   - An entry handed to the reaper has left active/ when sp_reap_put
 *     returns 0: it is a tmp/ file, never an entry (S2), so it cannot be
 *     claimed, listed or recovered again. A crash before the reaper got to
 *     it leaves a tmp/ file that oh_spool_recover removes (S4). (A crash
 *     before the rename is durable brings the entry back through recovery;
 *     the idempotent store absorbs the replay, as for any done: see
 *     oh_spool_done.)
 *   - sp_reap_free (from oh_spool_free) returns only once every queued name
 *     is removed, so a process that frees its spool (the daemon after a
 *     SIGTERM drain, `run --once`) leaves no done file behind.
 *   - The queue is bounded (SP_REAP_MAX names): when it is full, sp_reap_put
 *     says OH_EAGAIN and the caller removes the file itself, which slows the
 *     workers down to what the disk sustains.
 *
 * A sole claimer's done entries (held in place, oh_spool_sole_claimer) are
 * removed straight from incoming/ without a rename: the held set keeps them
 * from being claimed again until the reaper has removed the file and
 * dropped the id from the set. A crash before that leaves the entry in
 * incoming/, and its replay is absorbed by the idempotent store, as for
 * any done whose removal was not yet durable.
 *
 * A name whose file is already gone (recover emptied tmp/ meanwhile) is
 * skipped. Reaper threads block every signal; they hold no store connection
 * and take no other spool lock than the reaper's own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool_int.h"

void sp_reap_init(struct oh_spool *sp)
{
    struct sp_reap *r = &sp->reap;

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->idle, NULL);
}

static void *reaper(void *arg)
{
    struct oh_spool *sp = arg;
    struct sp_reap *r = &sp->reap;
    struct sp_reap_slot slot;
    char path[PATH_MAX];

    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->n == 0 && !r->stop)
            pthread_cond_wait(&r->work, &r->mu);
        if (r->n == 0) /* stopping, and nothing left */
            break;
        slot = r->q[r->head];
        r->head = (r->head + 1) % SP_REAP_MAX;
        r->n--;
        r->busy++;
        pthread_mutex_unlock(&r->mu);
        if (sp_path(sp, slot.d, slot.name, path, NULL) == 0 && unlink(path) < 0 &&
            errno != ENOENT)
            oh_warn("spool.reap_failed", "path=%s error=\"%s\"", path, strerror(errno));
        if (slot.d == SP_INCOMING) { /* gone (or never to be claimed again) */
            pthread_mutex_lock(&sp->claim_mu);
            sp_held_del(&sp->held, slot.name);
            pthread_mutex_unlock(&sp->claim_mu);
        }
        pthread_mutex_lock(&r->mu);
        r->busy--;
        if (r->n == 0 && r->busy == 0)
            pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Called with r->mu held: allocates the queue and starts the threads the
 * first time. 0 when the reaper can take names. */
static int start(struct oh_spool *sp)
{
    struct sp_reap *r = &sp->reap;
    sigset_t all, old;

    if (r->nth > 0)
        return 0;
    if (r->stop || r->failed)
        return -1;
    if (!r->q && !(r->q = calloc(SP_REAP_MAX, sizeof(*r->q))))
        abort();
    /* Signals stay with the threads that wait for them (the daemon's main
     * thread uses sigwait). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < SP_REAP_THREADS; i++)
        if (pthread_create(&r->th[r->nth], NULL, reaper, sp) == 0)
            r->nth++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r->nth == 0) {
        r->failed = 1; /* remove synchronously from now on */
        return -1;
    }
    return 0;
}

/* Queues D/NAME. Called with r->mu held; 0 when queued. */
static int push(struct oh_spool *sp, int d, const char *name)
{
    struct sp_reap *r = &sp->reap;
    struct sp_reap_slot *s;

    if (start(sp) < 0 || r->n >= SP_REAP_MAX)
        return -1;
    s = &r->q[(r->head + r->n) % SP_REAP_MAX];
    s->d = d;
    snprintf(s->name, SP_FREE_NAME, "%s", name);
    r->n++;
    pthread_cond_signal(&r->work);
    return 0;
}

/* Queues D/NAME, taking the reaper's lock; OH_EAGAIN when it cannot. */
static int queue(struct oh_spool *sp, int d, const char *name)
{
    struct sp_reap *r = &sp->reap;
    int rc;

    if (strlen(name) >= SP_FREE_NAME)
        return OH_EAGAIN;
    pthread_mutex_lock(&r->mu);
    rc = push(sp, d, name) == 0 ? 0 : OH_EAGAIN;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int sp_reap_tmp(struct oh_spool *sp, const char *name)
{
    return queue(sp, SP_TMP, name);
}

int sp_reap_held(struct oh_spool *sp, const char *id)
{
    return queue(sp, SP_INCOMING, id);
}

int sp_reap_put(struct oh_spool *sp, const char *id, struct oh_err *err)
{
    struct sp_reap *r = &sp->reap;
    char dst[PATH_MAX], name[SP_FREE_NAME];
    int room, rc;

    pthread_mutex_lock(&r->mu);
    room = start(sp) == 0 && r->n < SP_REAP_MAX;
    pthread_mutex_unlock(&r->mu);
    if (!room)
        return OH_EAGAIN;
    /* "d." + the entry's id: unique, since an id is never done twice
     * (done takes it out of active/ for good). */
    snprintf(name, sizeof(name), "d.%s", id);
    if ((rc = sp_move_to_tmp(sp, SP_ACTIVE, id, name, dst, err)) < 0)
        return rc;
    pthread_mutex_lock(&r->mu);
    rc = push(sp, SP_TMP, name);
    pthread_mutex_unlock(&r->mu);
    if (rc < 0)
        unlink(dst); /* the queue filled up meanwhile: remove it here */
    return 0;
}

void sp_reap_wait(struct oh_spool *sp)
{
    struct sp_reap *r = &sp->reap;

    pthread_mutex_lock(&r->mu);
    while (r->n > 0 || r->busy > 0)
        pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void sp_reap_free(struct oh_spool *sp)
{
    struct sp_reap *r = &sp->reap;

    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->mu);
    /* The threads leave only once the queue is empty. */
    for (int i = 0; i < r->nth; i++)
        pthread_join(r->th[i], NULL);
    r->nth = 0;
    free(r->q);
    r->q = NULL;
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
}
