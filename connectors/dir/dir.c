/*
 * dir.c — the `dir` connector: a local directory as inbox and/or outbox.
 *
 *   [channel inbox]
 *   type    = dir
 *   path    = /srv/orders/in       ; inbox (inbound) or target (outbound)
 *   pattern = *.json               ; glob, default *
 *   format  = canonical            ; or json|xml|csv|x12|edifact with mapping = FILE
 *   after   = move                 ; move (to archive_dir, default PATH/processed) | delete | keep
 *   poll    = 30s
 *
 * The file logic (stability, dedupe, spool-then-move) is the shared engine in
 * filechan.c; this file is only the local-filesystem transport. Writes are
 * durable: tmp name, fsync, rename (or link for no-overwrite), fsync dir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "connector.h"
#include "dir.h"
#include "filechan.h"
#include "log.h"
#include "util.h"

struct dir_state {
    char *path;
    char *archive;
    struct oh_filechan fc;
};

static int dir_list(void *t, struct oh_file_info **files, size_t *n, struct oh_err *err)
{
    struct dir_state *d = t;
    DIR *dh = opendir(d->path);
    struct dirent *de;
    size_t cap = 0;
    char p[PATH_MAX];

    *files = NULL;
    *n = 0;
    if (!dh)
        return oh_err_retry(err, OH_EAGAIN, "%s: cannot open directory: %s", d->path, strerror(errno));
    while ((de = readdir(dh))) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", d->path, de->d_name);
        if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            if (!(*files = realloc(*files, cap * sizeof(**files))))
                abort();
        }
        (*files)[*n].name = strdup(de->d_name);
        if (!(*files)[*n].name)
            abort();
        (*files)[*n].size = st.st_size;
        (*files)[*n].mtime = st.st_mtime;
        (*n)++;
    }
    closedir(dh);
    /* Oldest name first, so a batch of numbered files arrives in order. */
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && strcmp((*files)[j - 1].name, (*files)[j].name) > 0; j--) {
            struct oh_file_info tmp = (*files)[j];
            (*files)[j] = (*files)[j - 1];
            (*files)[j - 1] = tmp;
        }
    return 0;
}

static int dir_exists(void *t, const char *name, int *exists, struct oh_err *err)
{
    struct dir_state *d = t;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", d->path, name);
    *exists = access(p, F_OK) == 0;
    return 0;
}

static int dir_fetch(void *t, const char *name,
                     int (*sink)(void *ud, const void *buf, size_t len, struct oh_err *err),
                     void *ud, struct oh_err *err)
{
    struct dir_state *d = t;
    char p[PATH_MAX], buf[65536];
    int fd, rc = 0;

    snprintf(p, sizeof(p), "%s/%s", d->path, name);
    fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
#ifdef OH_TEST_HOOKS
    {
        /* root reads mode-000 files anyway; this hook makes it act like
         * everybody else so the unreadable-file path can be tested */
        struct stat st;
        if (fd >= 0 && OH_FAULT("dir.eacces") && fstat(fd, &st) == 0 && (st.st_mode & 0444) == 0) {
            close(fd);
            fd = -1;
            errno = EACCES;
        }
    }
#endif
    if (fd < 0)
        return oh_err_set(err, errno == EACCES || errno == ELOOP ? OH_EPERM : OH_EAGAIN,
                          "%s: cannot open: %s", p, strerror(errno));
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = oh_err_set(err, OH_EPERM, "%s: read failed: %s", p, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if ((rc = sink(ud, buf, (size_t)r, err)) < 0)
            break;
    }
    close(fd);
    return rc;
}

static int dir_archive(void *t, const char *name, struct oh_err *err)
{
    struct dir_state *d = t;
    char src[PATH_MAX], dst[PATH_MAX];
    int rc;

    if ((rc = oh_mkdirs(d->archive, err)) < 0)
        return rc;
    snprintf(src, sizeof(src), "%s/%s", d->path, name);
    snprintf(dst, sizeof(dst), "%s/%s", d->archive, name);
    /* A file of the same name archived earlier is kept: suffix the new one. */
    for (int i = 1; access(dst, F_OK) == 0 && i < 1000; i++)
        snprintf(dst, sizeof(dst), "%s/%s.%d", d->archive, name, i);
    if (rename(src, dst) < 0)
        return oh_err_set(err, OH_ERROR, "%s: cannot move to %s: %s", src, d->archive,
                          strerror(errno));
    if ((rc = oh_fsync_dir(d->archive, err)) < 0)
        return rc;
    return oh_fsync_dir(d->path, err);
}

static int dir_remove(void *t, const char *name, struct oh_err *err)
{
    struct dir_state *d = t;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", d->path, name);
    if (unlink(p) < 0 && errno != ENOENT)
        return oh_err_set(err, OH_ERROR, "%s: cannot delete: %s", p, strerror(errno));
    return oh_fsync_dir(d->path, err);
}

static int same_content(const char *path, const void *data, size_t len)
{
    char *buf = NULL;
    size_t n = 0;
    int same;
    if (oh_read_file(path, len + 1, &buf, &n, NULL) < 0)
        return 0;
    same = n == len && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

static int dir_put(void *t, const char *name, const void *data, size_t len, int overwrite,
                   struct oh_err *err)
{
    struct dir_state *d = t;
    char tmp[PATH_MAX], dst[PATH_MAX];
    int fd = -1, rc = OH_ERROR;

    if ((rc = oh_mkdirs(d->path, err)) < 0)
        return rc;
    snprintf(dst, sizeof(dst), "%s/%s", d->path, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.part", d->path, name, (long)getpid());
    rc = OH_ERROR;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        oh_err_retry(err, OH_EAGAIN, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if (oh_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        oh_err_retry(err, OH_EAGAIN, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    close(fd);
    fd = -1;
    if (overwrite) {
        if (rename(tmp, dst) < 0) {
            oh_err_retry(err, OH_EAGAIN, "%s: rename failed: %s", dst, strerror(errno));
            goto done;
        }
    } else if (link(tmp, dst) < 0) {
        /* The same message delivered again after a crash finds its own file:
         * identical bytes are success, anything else is refused. */
        if (errno == EEXIST && same_content(dst, data, len))
            rc = 0;
        else if (errno == EEXIST)
            oh_err_set(err, OH_EEXIST, "%s exists with other content", dst);
        else
            oh_err_retry(err, OH_EAGAIN, "%s: cannot create: %s", dst, strerror(errno));
        unlink(tmp);
        goto done;
    } else {
        unlink(tmp);
    }
    rc = oh_fsync_dir(d->path, err);
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static const struct oh_file_transport dir_transport = {
    .kind = "dir",
    .list = dir_list,
    .exists = dir_exists,
    .fetch = dir_fetch,
    .archive = dir_archive,
    .remove = dir_remove,
    .put = dir_put,
};

void oh_dir_transport_close(void *t)
{
    struct dir_state *d = t;
    if (!d)
        return;
    oh_filechan_clear(&d->fc);
    free(d->path);
    free(d->archive);
    free(d);
}

int oh_dir_transport_open(const struct oh_conf_section *s, const char *channel, void **t,
                          const struct oh_file_transport **tp, struct oh_err *err)
{
    const char *path = oh_conf_get(s, "path");
    const char *archive = oh_conf_get(s, "archive_dir");
    struct dir_state *d;

    *t = NULL;
    if (!path || !*path)
        return oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s] needs path = DIR", s->path, s->line,
                          channel);
    if (!(d = calloc(1, sizeof(*d))))
        abort();
    d->path = strdup(path);
    if (archive && *archive) {
        if (archive[0] == '/')
            d->archive = strdup(archive);
        else if (asprintf(&d->archive, "%s/%s", path, archive) < 0)
            abort();
    } else if (asprintf(&d->archive, "%s/processed", path) < 0) {
        abort();
    }
    if (!d->path || !d->archive)
        abort();
    *t = d;
    *tp = &dir_transport;
    return 0;
}

static void dir_close(struct oh_channel *ch)
{
    oh_dir_transport_close(ch->priv);
    ch->priv = NULL;
}

static int dir_open(struct oh_channel *ch, struct oh_err *err)
{
    struct dir_state *d;
    const struct oh_file_transport *tp;
    void *t;
    int rc;

    if ((rc = oh_dir_transport_open(ch->cfg, ch->name, &t, &tp, err)) < 0)
        return rc;
    d = t;
    d->fc.tp = tp;
    d->fc.t = d;
    ch->priv = d;
    if ((rc = oh_filechan_configure(&d->fc, ch, err)) < 0) {
        dir_close(ch);
        return rc;
    }
    return 0;
}

static int dir_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err)
{
    struct dir_state *d = ch->priv;
    return oh_filechan_poll(&d->fc, ch, sp, err);
}

static int dir_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err)
{
    struct dir_state *d = ch->priv;
    return oh_filechan_deliver(&d->fc, ch, m, err);
}

const struct oh_connector oh_connector_dir = {
    .type = "dir",
    .open = dir_open,
    .poll = dir_poll,
    .webhook = NULL,
    .deliver = dir_deliver,
    .close = dir_close,
};
