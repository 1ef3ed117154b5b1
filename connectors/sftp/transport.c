/*
 * transport.c — the SFTP side of struct oh_file_transport (settings and
 * promises in sftp.h; the connection itself in session.c).
 *
 * Every operation runs through run(): take the transport's lock, make sure
 * there is a live connection, run the body. A call on a reused connection
 * that finds it dead reconnects once and runs again, unless it already handed
 * bytes to a sink (fetch) — then it fails and the engine retries on the next
 * poll.
 */
#include "sftp_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define CHUNK (256 * 1024) /* one read/write call; libssh2 pipelines it */

/* ---- SFTP error mapping -------------------------------------------------- */

/* Maps the last libssh2 failure of a call on path. Marks the connection lost
 * when it was not a plain SFTP status. */
static int sftp_fail(struct oh_sftp *t, const char *what, const char *path, struct oh_err *err)
{
    int lrc = libssh2_session_last_errno(t->ss);
    if (lrc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
        unsigned long st = libssh2_sftp_last_error(t->sftp);
        switch (st) {
        case LIBSSH2_FX_NO_SUCH_FILE:
        case LIBSSH2_FX_NO_SUCH_PATH:
            return oh_err_set(err, OH_ENOTFOUND, "sftp %s: %s %s: no such file or directory",
                              t->chan, what, path);
        case LIBSSH2_FX_PERMISSION_DENIED:
        case LIBSSH2_FX_WRITE_PROTECT:
            return oh_err_set(err, OH_EPERM, "sftp %s: %s %s: permission denied", t->chan, what,
                              path);
        case LIBSSH2_FX_FILE_ALREADY_EXISTS:
            return oh_err_set(err, OH_EEXIST, "sftp %s: %s %s: already exists", t->chan, what,
                              path);
        default:
            return oh_err_retry(err, OH_EAGAIN, "sftp %s: %s %s: server says status %lu",
                                t->chan, what, path, st);
        }
    }
    t->lost = 1;
    shutdown(t->sock, SHUT_RDWR); /* later calls on it fail at once */
    if (lrc == LIBSSH2_ERROR_TIMEOUT)
        return oh_err_retry(err, OH_EAGAIN, "sftp %s: %s %s: timed out after %lld ms", t->chan,
                            what, path, (long long)t->timeout_ms);
    return oh_err_retry(err, OH_EAGAIN, "sftp %s: %s %s: connection failed: %s", t->chan, what,
                        path, oh_sftp_errmsg(t->ss));
}

/* Runs body with a live connection; reconnects and runs it once more when a
 * reused connection turned out dead and body made no irreversible progress. */
struct call {
    int (*body)(struct oh_sftp *t, struct call *c, struct oh_err *err);
    const char *name;
    int progress;
    /* arguments and results */
    const char *fname;
    struct oh_file_info *files;
    size_t nfiles;
    int exists;
    int (*sink)(void *ud, const void *buf, size_t len, struct oh_err *err);
    void *ud;
    const void *data;
    size_t len;
    int overwrite;
};

static int run(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    int rc = OH_ERROR;
    pthread_mutex_lock(&t->mu);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = 0;
        if ((rc = oh_sftp_ensure(t, &fresh, err)) < 0)
            break;
        c->progress = 0;
        t->lost = 0;
        rc = c->body(t, c, err);
        t->last_used = oh_mono_ms();
        if (rc < 0 && t->lost) {
            oh_sftp_drop(t);
            if (!fresh && !c->progress) {
                oh_info("sftp.reconnect", "channel=%s op=%s reason=stale_connection", t->chan,
                        c->name);
                continue;
            }
        }
        break;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* ---- operations ---------------------------------------------------------- */

static void seen_clear(struct oh_sftp *t)
{
    for (size_t i = 0; i < t->nseen; i++)
        free(t->seen[i].name);
    free(t->seen);
    t->seen = NULL;
    t->nseen = 0;
}

/* Same as oh_file_infos_free; kept here so the transport does not need the
 * engine's library (EDI and tests use the transport alone). */
static void infos_free(struct oh_file_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

static int body_list(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    struct oh_file_info *v = NULL;
    size_t n = 0, cap = 0;
    char name[1024];
    int rc = 0;

    if (!(h = libssh2_sftp_opendir(t->sftp, t->dir))) {
        rc = sftp_fail(t, "list", t->dir, err);
        goto done;
    }
    for (;;) {
        LIBSSH2_SFTP_ATTRIBUTES a;
        int r = libssh2_sftp_readdir(h, name, sizeof(name) - 1, &a);
        if (r == 0)
            break;
        if (r < 0) {
            rc = sftp_fail(t, "list", t->dir, err);
            goto done;
        }
        name[r] = 0;
        if (!(a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) || !LIBSSH2_SFTP_S_ISREG(a.permissions))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            struct oh_file_info *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = oh_err_set(err, OH_ERROR, "out of memory");
                goto done;
            }
            v = nv;
            cap = nc;
        }
        v[n].name = strdup(name);
        v[n].size = (a.flags & LIBSSH2_SFTP_ATTR_SIZE) ? (int64_t)a.filesize : -1;
        v[n].mtime = (a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (int64_t)a.mtime : 0;
        if (!v[n].name) {
            rc = oh_err_set(err, OH_ERROR, "out of memory");
            goto done;
        }
        n++;
    }
    /* Remember the listed sizes so fetch can check it read them all. */
    seen_clear(t);
    if (n && (t->seen = calloc(n, sizeof(*t->seen)))) {
        for (size_t i = 0; i < n; i++) {
            t->seen[i].name = strdup(v[i].name);
            t->seen[i].size = v[i].size;
            if (t->seen[i].name)
                t->nseen++;
        }
    }
    c->files = v;
    c->nfiles = n;
    v = NULL;
    n = 0;
done:
    if (h)
        libssh2_sftp_closedir(h);
    infos_free(v, n);
    return rc;
}

static int tp_list(void *tv, struct oh_file_info **files, size_t *n, struct oh_err *err)
{
    struct call c = {.body = body_list, .name = "list"};
    int rc = run(tv, &c, err);
    *files = rc < 0 ? NULL : c.files;
    *n = rc < 0 ? 0 : c.nfiles;
    return rc;
}

static int body_exists(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *p = oh_sftp_join(t->dir, c->fname);
    int rc = 0;
    if (!p)
        return oh_err_set(err, OH_ERROR, "out of memory");
    if (libssh2_sftp_stat(t->sftp, p, &a) == 0) {
        c->exists = 1;
    } else if ((rc = sftp_fail(t, "stat", p, err)) == OH_ENOTFOUND) {
        c->exists = 0;
        rc = 0;
    }
    free(p);
    return rc;
}

static int tp_exists(void *tv, const char *name, int *exists, struct oh_err *err)
{
    struct call c = {.body = body_exists, .name = "exists", .fname = name};
    int rc = run(tv, &c, err);
    *exists = rc < 0 ? 0 : c.exists;
    return rc;
}

/* Cuts the connection under libssh2's feet (test fault hooks). */
static void cut(struct oh_sftp *t) { shutdown(t->sock, SHUT_RDWR); }

static int body_fetch(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *p = oh_sftp_join(t->dir, c->fname), *buf = NULL;
    int64_t want = -1, got = 0;
    size_t bufsz = CHUNK;
    int rc = 0;

    if (!p) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (!(h = libssh2_sftp_open(t->sftp, p, LIBSSH2_FXF_READ, 0))) {
        rc = sftp_fail(t, "open", p, err);
        goto done;
    }
    for (size_t i = 0; i < t->nseen; i++)
        if (strcmp(t->seen[i].name, c->fname) == 0)
            want = t->seen[i].size;
    if (want < 0 && libssh2_sftp_fstat(h, &a) == 0 && (a.flags & LIBSSH2_SFTP_ATTR_SIZE))
        want = (int64_t)a.filesize;
    /* libssh2 sends one read request per 30,000 bytes of the buffer it is
     * given, all at once: a 256 KiB buffer for a 2 KiB file is nine
     * requests (and nine replies) where one does. Ask for one byte more
     * than the listed size, so a file that grew is still noticed. */
    if (want >= 0 && want < CHUNK)
        bufsz = (size_t)want + 1;
    if (!(buf = malloc(bufsz))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t r = libssh2_sftp_read(h, buf, bufsz);
        if (r == 0)
            break;
        if (r < 0) {
            rc = sftp_fail(t, "read", p, err);
            goto done;
        }
        c->progress = 1;
        got += r;
        if ((rc = c->sink(c->ud, buf, (size_t)r, err)) < 0)
            goto done;
        if (OH_FAULT("sftp.download"))
            cut(t);
    }
    if (want >= 0 && got != want) {
        rc = oh_err_retry(err, OH_EAGAIN,
                          "sftp %s: read %s: got %lld bytes but the server listed %lld (file "
                          "changed or transfer cut short)",
                          t->chan, p, (long long)got, (long long)want);
        goto done;
    }
done:
    if (h)
        libssh2_sftp_close(h);
    free(buf);
    free(p);
    return rc;
}

static int tp_fetch(void *tv, const char *name,
                    int (*sink)(void *ud, const void *buf, size_t len, struct oh_err *err),
                    void *ud, struct oh_err *err)
{
    struct call c = {.body = body_fetch, .name = "fetch", .fname = name, .sink = sink, .ud = ud};
    return run(tv, &c, err);
}

/* mkdir -p of an absolute or relative remote path. */
static int mkdirs(struct oh_sftp *t, const char *dir, struct oh_err *err)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *p = strdup(dir);
    int rc = 0;
    if (!p)
        return oh_err_set(err, OH_ERROR, "out of memory");
    if (libssh2_sftp_stat(t->sftp, p, &a) == 0)
        goto done;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (libssh2_sftp_stat(t->sftp, p, &a) != 0) {
                if ((rc = sftp_fail(t, "stat", p, err)) != OH_ENOTFOUND)
                    goto done;
                rc = 0;
                if (libssh2_sftp_mkdir(t->sftp, p, 0750) != 0 &&
                    libssh2_sftp_stat(t->sftp, p, &a) != 0) { /* lost a race: fine */
                    rc = sftp_fail(t, "mkdir", p, err);
                    goto done;
                }
            }
            *s = c;
            if (!c)
                break;
        }
    }
done:
    free(p);
    return rc;
}

static int body_archive(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *src = oh_sftp_join(t->dir, c->fname), *dst = oh_sftp_join(t->archive_dir, c->fname), *alt = NULL;
    int rc;

    if (!src || !dst) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if ((rc = mkdirs(t, t->archive_dir, err)) < 0)
        goto done;
    if (libssh2_sftp_rename_ex(t->sftp, src, (unsigned)strlen(src), dst, (unsigned)strlen(dst),
                               LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) == 0)
        goto done;
    if ((rc = sftp_fail(t, "archive", src, err)) == OH_ENOTFOUND || t->lost)
        goto done;
    /* A file of that name was archived before (partners reuse names): keep
     * both, the new one with a time suffix. */
    if (libssh2_sftp_stat(t->sftp, dst, &a) != 0) {
        rc = sftp_fail(t, "stat", dst, err);
        goto done;
    }
    if (!(alt = malloc(strlen(dst) + 32))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    sprintf(alt, "%s.%lld", dst, (long long)oh_now_ms());
    rc = 0;
    if (libssh2_sftp_rename_ex(t->sftp, src, (unsigned)strlen(src), alt, (unsigned)strlen(alt),
                               LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) != 0)
        rc = sftp_fail(t, "archive", src, err);
done:
    free(src);
    free(dst);
    free(alt);
    return rc;
}

static int tp_archive(void *tv, const char *name, struct oh_err *err)
{
    struct call c = {.body = body_archive, .name = "archive", .fname = name};
    return run(tv, &c, err);
}

static int body_remove(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    char *p = oh_sftp_join(t->dir, c->fname);
    int rc = 0;
    if (!p)
        return oh_err_set(err, OH_ERROR, "out of memory");
    if (libssh2_sftp_unlink(t->sftp, p) != 0)
        rc = sftp_fail(t, "remove", p, err);
    free(p);
    return rc;
}

static int tp_remove(void *tv, const char *name, struct oh_err *err)
{
    struct call c = {.body = body_remove, .name = "remove", .fname = name};
    return run(tv, &c, err);
}

static int body_put(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *dst = oh_sftp_join(t->dir, c->fname), *tmp = NULL, *tname = NULL;
    const char *d = c->data;
    size_t off = 0;
    int rc = 0, written = 0;

    if (!dst || strchr(c->fname, '/') || !c->fname[0]) {
        rc = dst ? oh_err_set(err, OH_EINVAL, "sftp %s: bad file name \"%s\"", t->chan, c->fname)
                 : oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (t->mkdirs && (rc = mkdirs(t, t->dir, err)) < 0)
        goto done;
    if (!c->overwrite) {
        if (libssh2_sftp_stat(t->sftp, dst, &a) == 0) {
            rc = oh_err_set(err, OH_EEXIST, "sftp %s: %s already exists (overwrite = no)",
                            t->chan, dst);
            goto done;
        }
        if ((rc = sftp_fail(t, "stat", dst, err)) != OH_ENOTFOUND)
            goto done;
        oh_err_clear(err);
        rc = 0;
    }
    if (!(tname = malloc(strlen(c->fname) + (t->tmp_prefix ? strlen(t->tmp_prefix) : 0) + 8))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (t->tmp_prefix)
        sprintf(tname, "%s%s", t->tmp_prefix, c->fname);
    else
        sprintf(tname, "%s.part", c->fname);
    if (!(tmp = oh_sftp_join(t->dir, tname))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    h = libssh2_sftp_open(t->sftp, tmp, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
                          0640);
    if (!h) {
        rc = sftp_fail(t, "create", tmp, err);
        goto done;
    }
    written = 1;
    while (off < c->len) {
        size_t n = c->len - off < CHUNK ? c->len - off : CHUNK;
        ssize_t w = libssh2_sftp_write(h, d + off, n);
        if (w < 0) {
            rc = sftp_fail(t, "write", tmp, err);
            goto done;
        }
        off += (size_t)w;
        if (OH_FAULT("sftp.upload"))
            cut(t);
    }
    /* The close reply is where a server reports a failed final write. */
    if (libssh2_sftp_close(h) != 0) {
        h = NULL;
        rc = sftp_fail(t, "close", tmp, err);
        goto done;
    }
    h = NULL;
    if (libssh2_sftp_rename_ex(t->sftp, tmp, (unsigned)strlen(tmp), dst, (unsigned)strlen(dst),
                               LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE |
                                   (c->overwrite ? LIBSSH2_SFTP_RENAME_OVERWRITE : 0)) == 0)
        goto done;
    if ((rc = sftp_fail(t, "rename", tmp, err)) < 0 && t->lost)
        goto done;
    /* SFTP v3 rename (OpenSSH) refuses an existing target. */
    if (libssh2_sftp_stat(t->sftp, dst, &a) != 0) {
        rc = sftp_fail(t, "stat", dst, err);
        goto done;
    }
    if (!c->overwrite) {
        rc = oh_err_set(err, OH_EEXIST, "sftp %s: %s appeared while uploading (overwrite = no)",
                        t->chan, dst);
        goto done;
    }
    /* XXX libssh2 1.10 has no posix-rename@openssh.com: replacing is unlink
     * + rename, so for an instant the final name is absent (never partial). */
    if (libssh2_sftp_unlink(t->sftp, dst) != 0 && (rc = sftp_fail(t, "remove", dst, err)) != OH_ENOTFOUND)
        goto done;
    rc = 0;
    if (libssh2_sftp_rename(t->sftp, tmp, dst) != 0)
        rc = sftp_fail(t, "rename", tmp, err);
done:
    if (h)
        libssh2_sftp_close(h);
    if (rc < 0 && written && !t->lost)
        libssh2_sftp_unlink(t->sftp, tmp); /* best effort: leave no .part */
    if (rc == 0)
        c->progress = 1;
    free(dst);
    free(tmp);
    free(tname);
    return rc;
}

static int tp_put(void *tv, const char *name, const void *data, size_t len, int overwrite,
                  struct oh_err *err)
{
    struct call c = {.body = body_put, .name = "put", .fname = name, .data = data, .len = len,
                     .overwrite = overwrite};
    return run(tv, &c, err);
}

const struct oh_file_transport oh_sftp_transport = {
    .kind = "sftp",
    .list = tp_list,
    .exists = tp_exists,
    .fetch = tp_fetch,
    .archive = tp_archive,
    .remove = tp_remove,
    .put = tp_put,
};

/* ---- open / close -------------------------------------------------------- */

void oh_sftp_transport_disconnect(void *tv)
{
    struct oh_sftp *t = tv;
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    oh_sftp_drop(t);
    t->fails = 0;
    pthread_mutex_unlock(&t->mu);
}

void oh_sftp_transport_close(void *tv)
{
    struct oh_sftp *t = tv;
    if (!t)
        return;
    oh_sftp_drop(t);
    pthread_mutex_destroy(&t->mu);
    seen_clear(t);
    oh_secret_free(t->password);
    oh_secret_free(t->passphrase);
    for (size_t i = 0; i < t->npins; i++)
        free(t->pins[i]);
    free(t->pins);
    free(t->chan);
    free(t->user);
    free(t->host);
    free(t->dir);
    free(t->archive_dir);
    free(t->tmp_prefix);
    free(t->key);
    free(t->known_hosts);
    explicit_bzero(&t->last_err, sizeof(t->last_err));
    free(t);
}

static int dup_opt(const struct oh_conf_section *cfg, const char *key, char **out, struct oh_err *err)
{
    const char *v = oh_conf_get(cfg, key);
    *out = NULL;
    if (!v || !*v)
        return 0;
    if (!(*out = strdup(v)))
        return oh_err_set(err, OH_ERROR, "out of memory");
    return 0;
}

int oh_sftp_transport_open(const struct oh_conf_section *cfg, const char *channel_name, void **out,
                           const struct oh_file_transport **tp, struct oh_err *err)
{
    struct oh_sftp *t = NULL;
    const char *url, *pins, *arch;
    int rc;

    *out = NULL;
    if (oh_sftp_lib_init() != 0)
        return oh_err_set(err, OH_ERROR, "libssh2 failed to initialise");
    if (!(t = calloc(1, sizeof(*t))))
        return oh_err_set(err, OH_ERROR, "out of memory");
    t->sock = -1;
    pthread_mutex_init(&t->mu, NULL);
    if (!(t->chan = strdup(channel_name ? channel_name : "?"))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (!(url = oh_conf_get(cfg, "url"))) {
        rc = oh_err_set(err, OH_EINVAL, "missing url = sftp://USER@HOST[:PORT]/PATH");
        goto done;
    }
    if ((rc = oh_sftp_parse_url(t, url, err)) < 0)
        goto done;
    if ((rc = dup_opt(cfg, "key", &t->key, err)) < 0 ||
        (rc = oh_conf_secret(cfg, "key_passphrase", &t->passphrase, err)) < 0 ||
        (rc = oh_conf_secret(cfg, "password", &t->password, err)) < 0 ||
        (rc = dup_opt(cfg, "known_hosts", &t->known_hosts, err)) < 0 ||
        (rc = dup_opt(cfg, "tmp_prefix", &t->tmp_prefix, err)) < 0 ||
        (rc = oh_conf_bool(cfg, "mkdirs", 0, &t->mkdirs, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "timeout", 30000, &t->timeout_ms, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "keepalive", 15000, &t->keepalive_s, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "idle_timeout", 300000, &t->idle_ms, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "reconnect_backoff", 1000, &t->backoff_ms, err)) < 0)
        goto done;
    t->keepalive_s /= 1000;
    if (t->timeout_ms <= 0)
        t->timeout_ms = 30000;
    if (!t->key && !t->password) {
        rc = oh_err_set(err, OH_EINVAL, "needs key = PATH or password = env:NAME|file:PATH");
        goto done;
    }
    if (t->key && access(t->key, R_OK) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "key %s: %s", t->key, strerror(errno));
        goto done;
    }
    if ((pins = oh_conf_get(cfg, "host_key")) && (rc = oh_sftp_parse_pins(t, pins, err)) < 0)
        goto done;
    if (!t->known_hosts && t->npins == 0) {
        rc = oh_err_set(err, OH_EINVAL,
                        "needs known_hosts = PATH or host_key = SHA256:... (host key "
                        "verification cannot be turned off; get the key with ssh-keyscan and "
                        "check its fingerprint with ssh-keygen -lf)");
        goto done;
    }
    if (t->known_hosts && access(t->known_hosts, R_OK) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "known_hosts %s: %s", t->known_hosts, strerror(errno));
        goto done;
    }
    if (t->tmp_prefix && strchr(t->tmp_prefix, '/')) {
        rc = oh_err_set(err, OH_EINVAL, "tmp_prefix must not contain '/'");
        goto done;
    }
    arch = oh_conf_get_or(cfg, "archive_dir", "processed");
    if (arch[0] == '/')
        t->archive_dir = strdup(arch);
    else
        t->archive_dir = oh_sftp_join(t->dir, arch);
    if (!t->archive_dir) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    for (size_t n = strlen(t->archive_dir); n > 1 && t->archive_dir[n - 1] == '/'; n--)
        t->archive_dir[n - 1] = 0;
    rc = 0;
done:
    if (rc < 0) {
        oh_err_prefix(err, "%s%s[channel %s]", cfg && cfg->path ? cfg->path : "",
                      cfg && cfg->path ? ": " : "", t && t->chan ? t->chan : "?");
        oh_sftp_transport_close(t);
        return rc;
    }
    *out = t;
    if (tp)
        *tp = &oh_sftp_transport;
    return 0;
}
