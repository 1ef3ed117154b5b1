/*
 * writer_direct.c — a streaming writer's large payload written around the
 * page cache (O_DIRECT), by a thread of its own.
 *
 * A payload the caller announces as large (oh_spool_writer_expect) goes
 * into two aligned chunk buffers in turn; each full chunk is written with
 * O_DIRECT at its offset by the writer's thread while the caller fills the
 * other one. Nothing is copied into the page cache and nothing is left for
 * the kernel's writeback, which on a two-core machine competed with the
 * fetch itself: the copy alone was a third of a 500 MiB SFTP pickup's time
 * when the page cache grew into memory the VM had never touched.
 *
 * Promises:
 *   - The bytes land at the file offsets they were given in, in order; the
 *     tail (less than a chunk) is handed back at finish for the caller to
 *     write through its ordinary descriptor, so the file needs no padding.
 *   - A failed write is reported by the next put or by finish (never lost);
 *     the writer is then failed and its entry never published.
 *   - Durability is still the commit's fdatasync: O_DIRECT bypasses the
 *     page cache, not the disk's own cache, and the extents it allocates
 *     become durable with the file's metadata.
 * A filesystem without O_DIRECT (tmpfs before Linux 6.6) makes
 * sp_direct_open return NULL and the writer stays buffered; one that opens
 * with O_DIRECT but refuses the writes (EINVAL: alignment it wants bigger
 * than ours) gets the rest of the payload through the buffered descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool_int.h"
#include "util.h"

#define CHUNK (4u * 1024 * 1024) /* a multiple of every block size O_DIRECT asks for */
#define ALIGN 4096

struct sp_direct {
    int fd;                 /* O_DIRECT, write only */
    int bfd;                /* the writer's buffered descriptor (not ours) */
    int buffered;           /* O_DIRECT writes were refused: bfd from then on */
    char *buf[2];
    int cur;                /* the buffer being filled */
    size_t fill;            /* bytes in buf[cur] */
    uint64_t off;           /* file offset of buf[cur]'s first byte */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy[2];            /* buf[i] is queued or being written */
    uint64_t at[2];         /* its file offset */
    int next;               /* the buffer the thread writes next */
    int stop;
    int failed;
    char msg[256];
};

static void *direct_main(void *arg)
{
    struct sp_direct *d = arg;

    pthread_mutex_lock(&d->mu);
    for (;;) {
        int i = d->next;
        while (!d->busy[i] && !d->stop)
            pthread_cond_wait(&d->cv, &d->mu);
        if (!d->busy[i])
            break; /* stopping, nothing queued */
        pthread_mutex_unlock(&d->mu);
        int fault = OH_FAULT("spool.direct");
        size_t done = 0;
        int e = 0;
        if (!d->buffered && OH_FAULT("spool.direct.refused"))
            d->buffered = 1; /* as when the filesystem says EINVAL */
        while (!fault && done < CHUNK) {
            ssize_t w = pwrite(d->buffered ? d->bfd : d->fd, d->buf[i] + done, CHUNK - done,
                               (off_t)(d->at[i] + done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EINVAL && !d->buffered) {
                d->buffered = 1; /* the same bytes again, through the page cache */
                continue;
            }
            if (w <= 0) {
                e = w < 0 ? errno : ENOSPC;
                break;
            }
            done += (size_t)w;
        }
        pthread_mutex_lock(&d->mu);
        if ((fault || e) && !d->failed) {
            d->failed = 1;
            snprintf(d->msg, sizeof(d->msg), "direct write at offset %llu failed: %s",
                     (unsigned long long)d->at[i], fault ? "injected fault" : strerror(e));
        }
        d->busy[i] = 0;
        d->next = i ^ 1;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

struct sp_direct *sp_direct_open(const char *path, int bfd)
{
    struct sp_direct *d = calloc(1, sizeof(*d));
    sigset_t all, old;
    int rc;

    if (!d)
        abort();
    d->bfd = bfd;
    d->fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (d->fd < 0) {
        free(d);
        return NULL; /* EINVAL: no O_DIRECT here; anything else shows on the buffered path */
    }
    if (posix_memalign((void **)&d->buf[0], ALIGN, CHUNK) != 0 ||
        posix_memalign((void **)&d->buf[1], ALIGN, CHUNK) != 0)
        abort();
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    sigfillset(&all); /* signals stay with the threads that wait for them */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&d->th, NULL, direct_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        d->stop = 1; /* no thread to stop */
        sp_direct_free(d);
        return NULL;
    }
    return d;
}

int sp_direct_put(struct sp_direct *d, const void *data, size_t len, struct oh_err *err)
{
    const char *p = data;

    while (len > 0) {
        size_t n = CHUNK - d->fill < len ? CHUNK - d->fill : len;
        memcpy(d->buf[d->cur] + d->fill, p, n);
        d->fill += n;
        p += n;
        len -= n;
        if (d->fill < CHUNK)
            break;
        pthread_mutex_lock(&d->mu);
        d->busy[d->cur] = 1;
        d->at[d->cur] = d->off;
        pthread_cond_broadcast(&d->cv);
        d->cur ^= 1;
        d->off += CHUNK;
        d->fill = 0;
        while (d->busy[d->cur] && !d->failed)
            pthread_cond_wait(&d->cv, &d->mu);
        pthread_mutex_unlock(&d->mu);
        if (d->failed)
            break;
    }
    if (d->failed)
        return oh_err_retry(err, OH_ERROR, "%s", d->msg);
    return 0;
}

/* Waits for the queued chunks and stops the thread. */
static void stop(struct sp_direct *d)
{
    pthread_mutex_lock(&d->mu);
    while ((d->busy[0] || d->busy[1]) && !d->failed)
        pthread_cond_wait(&d->cv, &d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
}

int sp_direct_finish(struct sp_direct *d, uint64_t *direct_bytes, const char **tail,
                     size_t *tail_len, struct oh_err *err)
{
    stop(d);
    *direct_bytes = d->off;
    *tail = d->buf[d->cur];
    *tail_len = d->fill;
    if (d->failed)
        return oh_err_retry(err, OH_ERROR, "%s", d->msg);
    return 0;
}

void sp_direct_free(struct sp_direct *d)
{
    if (!d)
        return;
    if (!d->stop)
        stop(d);
    close(d->fd);
    free(d->buf[0]);
    free(d->buf[1]);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}
