/*
 * entry.c — the spool entry file and the read-only views of the queues.
 *
 * An entry file is a small text header followed by the payload, byte for
 * byte (S5):
 *
 *   OHSPOOL 1\n
 *   channel: shop-a\n
 *   format: json\n
 *   source: orders/1001.json\n
 *   received_at: 1763890200123\n      ms since the epoch
 *   attempts: 0\n
 *   next_attempt: 0\n                 ms since the epoch (deferred entries)
 *   error: \n                         last error (deferred and dead entries)
 *   \n                                end of header
 *   <payload>
 *
 * Values are percent-escaped so that a header line never holds a newline:
 * `%`, every control byte (CR and LF included) and DEL become %XX (upper-case
 * hex). Readers unescape %XX and take anything else literally; unknown keys
 * are ignored so that later versions can add fields. The payload is never
 * looked at, so it may contain anything (NULs, CRLF, another header).
 *
 * Reading promises: an entry is either parsed whole or rejected with
 * OH_EINVAL and a message naming the file; a missing entry is OH_ENOTFOUND.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_int.h"
#include "util.h"

int sp_valid_id(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= OH_SPOOL_ID_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    /* dead/ID.reason sits beside its entry but is not one. */
    if (n > 7 && strcmp(name + n - 7, ".reason") == 0)
        return 0;
    return 1;
}

/* Appends "key: escaped(value)\n"; returns the new length or -1. */
static int put_field(char *buf, size_t n, size_t at, const char *key, const char *val)
{
    static const char hex[] = "0123456789ABCDEF";
    int w = snprintf(buf + at, n - at, "%s: ", key);

    if (w < 0 || (size_t)w >= n - at)
        return -1;
    at += (size_t)w;
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if (*p == '%' || *p < 0x20 || *p == 0x7f) {
            if (at + 3 >= n)
                return -1;
            buf[at++] = '%';
            buf[at++] = hex[*p >> 4];
            buf[at++] = hex[*p & 15];
        } else {
            if (at + 1 >= n)
                return -1;
            buf[at++] = (char)*p;
        }
    }
    if (at + 1 >= n)
        return -1;
    buf[at++] = '\n';
    buf[at] = '\0';
    return (int)at;
}

int sp_hdr_format(const struct oh_spool_meta *m, char *buf, size_t n)
{
    char num[3][32];
    int at;

    /* The fixed-size fields of oh_spool_meta may arrive unterminated from a
     * careless caller; the struct copy below makes them safe to read. */
    struct oh_spool_meta c = *m;
    c.channel[sizeof(c.channel) - 1] = '\0';
    c.format[sizeof(c.format) - 1] = '\0';
    c.source[sizeof(c.source) - 1] = '\0';
    c.error[sizeof(c.error) - 1] = '\0';
    snprintf(num[0], sizeof(num[0]), "%" PRId64, c.received_at);
    snprintf(num[1], sizeof(num[1]), "%d", c.attempts);
    snprintf(num[2], sizeof(num[2]), "%" PRId64, c.next_attempt);

    at = snprintf(buf, n, "OHSPOOL 1\n");
    if (at < 0 || (size_t)at >= n)
        return -1;
    if ((at = put_field(buf, n, (size_t)at, "channel", c.channel)) < 0 ||
        (at = put_field(buf, n, (size_t)at, "format", c.format)) < 0 ||
        (at = put_field(buf, n, (size_t)at, "source", c.source)) < 0 ||
        (at = put_field(buf, n, (size_t)at, "received_at", num[0])) < 0 ||
        (at = put_field(buf, n, (size_t)at, "attempts", num[1])) < 0 ||
        (at = put_field(buf, n, (size_t)at, "next_attempt", num[2])) < 0 ||
        (at = put_field(buf, n, (size_t)at, "error", c.error)) < 0)
        return -1;
    if ((size_t)at + 1 >= n)
        return -1;
    buf[at++] = '\n';
    buf[at] = '\0';
    return at;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes [v, e) into out (truncating to n-1 bytes). */
static void unescape(const char *v, const char *e, char *out, size_t n)
{
    size_t o = 0;

    while (v < e && o + 1 < n) {
        int h, l;
        if (*v == '%' && e - v >= 3 && (h = hexval(v[1])) >= 0 && (l = hexval(v[2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            v += 3;
        } else {
            out[o++] = *v++;
        }
    }
    out[o] = '\0';
}

static int parse_i64(const char *v, const char *e, int64_t *out)
{
    char tmp[32], *end;
    long long x;

    if (e - v <= 0 || (size_t)(e - v) >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, (size_t)(e - v));
    tmp[e - v] = '\0';
    errno = 0;
    x = strtoll(tmp, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

/* Parses the header at the start of buf[0..n) (at most SP_HDR_MAX bytes
 * are looked at; header lines are cut in place). */
static int hdr_parse(char *buf, size_t n, const char *path, struct oh_spool_meta *m,
                     size_t *payload_off, struct oh_err *err)
{
    char *p, *end;
    int rc = OH_ERROR;

    if (n < 10 || memcmp(buf, "OHSPOOL 1\n", 10) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "%s: not a spool entry (no 'OHSPOOL 1' first line)", path);
        goto done;
    }
    end = buf + n;
    p = buf + 10;
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *colon, *v;
        int64_t x;
        if (!nl) {
            rc = oh_err_set(err, OH_EINVAL, "%s: entry header is truncated or over %d bytes",
                            path, SP_HDR_MAX);
            goto done;
        }
        if (nl == p) { /* the blank line */
            *payload_off = (size_t)(nl + 1 - buf);
            break;
        }
        colon = memchr(p, ':', (size_t)(nl - p));
        if (!colon || colon[1] != ' ') {
            rc = oh_err_set(err, OH_EINVAL, "%s: malformed header line at byte %zu", path,
                            (size_t)(p - buf));
            goto done;
        }
        v = colon + 2;
        *colon = '\0';
        if (strcmp(p, "channel") == 0) {
            unescape(v, nl, m->channel, sizeof(m->channel));
        } else if (strcmp(p, "format") == 0) {
            unescape(v, nl, m->format, sizeof(m->format));
        } else if (strcmp(p, "source") == 0) {
            unescape(v, nl, m->source, sizeof(m->source));
        } else if (strcmp(p, "error") == 0) {
            unescape(v, nl, m->error, sizeof(m->error));
        } else if (strcmp(p, "received_at") == 0 || strcmp(p, "next_attempt") == 0 ||
                   strcmp(p, "attempts") == 0) {
            if (parse_i64(v, nl, &x) < 0 ||
                (p[0] == 'a' && (x < 0 || x > 1000000000))) {
                rc = oh_err_set(err, OH_EINVAL, "%s: header field %s: not a number", path, p);
                goto done;
            }
            if (p[0] == 'r')
                m->received_at = x;
            else if (p[0] == 'n')
                m->next_attempt = x;
            else
                m->attempts = (int)x;
        } /* else: a field from a later version; ignored */
        p = nl + 1;
    }
    rc = 0;
done:
    return rc;
}

int sp_hdr_read(int fd, const char *path, struct oh_spool_meta *m, size_t *payload_off,
                struct oh_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    int rc = OH_ERROR;

    memset(m, 0, sizeof(*m));
    if (!(buf = malloc(SP_HDR_MAX + 1)))
        abort();
    /* Read until the blank line is in the buffer (or the file ends). */
    for (;;) {
        ssize_t r = pread(fd, buf + n, SP_HDR_MAX - n, (off_t)n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            oh_err_set(err, OH_ERROR, "%s: read failed: %s", path, strerror(errno));
            goto done;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (r == 0 || n == SP_HDR_MAX || memmem(buf, n, "\n\n", 2))
            break;
    }
    rc = hdr_parse(buf, n, path, m, payload_off, err);
done:
    free(buf);
    return rc;
}

/* Entries up to this size are read with one pread into one buffer, header
 * and payload together (the payload is then moved to the front); larger
 * ones header first, then the payload. */
#define WHOLE_READ_MAX (256 * 1024)

/* Reads all of fd (size bytes) into a new buffer with a NUL after it; 0, or
 * OH_EINVAL when the file is shorter than size. */
static int read_whole(int fd, const char *path, size_t size, char **out, struct oh_err *err)
{
    char *buf = malloc(size + 1);
    size_t got = 0;

    *out = NULL;
    if (!buf)
        abort();
    while (got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            if (r == 0) /* entries are immutable once visible: damage */
                return oh_err_set(err, OH_EINVAL, "%s: shorter than the file size", path);
            return oh_err_set(err, OH_ERROR, "%s: read failed: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    buf[size] = '\0';
    *out = buf;
    return 0;
}

int sp_entry_read(struct oh_spool *sp, int d, const char *id, struct oh_spool_meta *m,
                  char **out_data, size_t *out_len, struct oh_err *err)
{
    char path[PATH_MAX], *data = NULL;
    int fd = -1, rc;
    size_t off = 0, len = 0, got = 0;
    struct stat st;

    if (out_data)
        *out_data = NULL;
    if (out_len)
        *out_len = 0;
    if (!sp_valid_id(id))
        return oh_err_set(err, OH_EINVAL, "spool: '%s' is not a spool entry id", id);
    if ((rc = sp_path(sp, d, id, path, err)) < 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = oh_err_set(err, errno == ENOENT ? OH_ENOTFOUND : OH_ERROR, "%s: cannot open: %s",
                        path, strerror(errno));
        goto done;
    }
    if (out_data && fstat(fd, &st) == 0 && st.st_size >= 0 &&
        (uint64_t)st.st_size <= WHOLE_READ_MAX) {
        /* the common case: one read for header and payload */
        memset(m, 0, sizeof(*m));
        if ((rc = read_whole(fd, path, (size_t)st.st_size, &data, err)) < 0 ||
            (rc = hdr_parse(data, (size_t)st.st_size < SP_HDR_MAX ? (size_t)st.st_size : SP_HDR_MAX,
                            path, m, &off, err)) < 0)
            goto done;
        len = (size_t)st.st_size - off;
        memmove(data, data + off, len + 1); /* with the NUL */
        *out_data = data;
        *out_len = len;
        data = NULL;
        rc = 0;
        goto done;
    }
    if ((rc = sp_hdr_read(fd, path, m, &off, err)) < 0 || !out_data)
        goto done;
    rc = OH_ERROR;
    if (fstat(fd, &st) < 0) {
        oh_err_set(err, OH_ERROR, "%s: fstat failed: %s", path, strerror(errno));
        goto done;
    }
    if ((uint64_t)st.st_size < off) {
        rc = oh_err_set(err, OH_EINVAL, "%s: shorter than its header", path);
        goto done;
    }
    len = (size_t)st.st_size - off;
    if (!(data = malloc(len + 1)))
        abort();
    while (got < len) {
        ssize_t r = pread(fd, data + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            oh_err_set(err, OH_ERROR, "%s: read failed: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0) {
            /* Entries are immutable once visible; a shrinking file is damage. */
            rc = oh_err_set(err, OH_EINVAL, "%s: payload shorter than the file size", path);
            goto done;
        }
        got += (size_t)r;
    }
    data[len] = '\0';
    *out_data = data;
    *out_len = len;
    data = NULL;
    rc = 0;
done:
    free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sp_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int sp_names(struct oh_spool *sp, int d, char ***out, size_t *n, struct oh_err *err)
{
    DIR *dh = NULL;
    struct dirent *de;
    char **names = NULL;
    size_t cnt = 0, cap = 0;
    int rc = OH_ERROR;

    *out = NULL;
    *n = 0;
    if (!(dh = opendir(sp->dir[d]))) {
        oh_err_set(err, OH_ERROR, "%s: cannot open directory: %s", sp->dir[d], strerror(errno));
        goto done;
    }
    for (;;) {
        errno = 0;
        if (!(de = readdir(dh))) {
            if (errno) {
                oh_err_set(err, OH_ERROR, "%s: readdir failed: %s", sp->dir[d], strerror(errno));
                goto done;
            }
            break;
        }
        if (!sp_valid_id(de->d_name))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            if (!(names = realloc(names, cap * sizeof(*names))))
                abort();
        }
        if (!(names[cnt] = strdup(de->d_name)))
            abort();
        cnt++;
    }
    if (cnt > 1)
        qsort(names, cnt, sizeof(*names), cmp_names);
    *out = names;
    *n = cnt;
    names = NULL;
    cnt = 0;
    rc = 0;
done:
    sp_names_free(names, cnt);
    if (dh)
        closedir(dh);
    return rc;
}

static int entry_new(struct oh_spool *sp, int d, const char *id, struct oh_spool_entry **out,
                     struct oh_err *err)
{
    struct oh_spool_entry *e = calloc(1, sizeof(*e));
    int rc;

    if (!e)
        abort();
    if ((rc = sp_entry_read(sp, d, id, &e->meta, &e->data, &e->len, err)) < 0) {
        free(e);
        return rc;
    }
    snprintf(e->id, sizeof(e->id), "%s", id);
    *out = e;
    return 0;
}

int oh_spool_load(struct oh_spool *sp, const char *id, struct oh_spool_entry **out,
                  struct oh_err *err)
{
    *out = NULL;
    return entry_new(sp, sp_claimed_dir(sp, id), id, out, err);
}

void oh_spool_entry_free(struct oh_spool_entry *e)
{
    if (!e)
        return;
    free(e->data);
    free(e);
}

int oh_spool_show(struct oh_spool *sp, const char *id, enum oh_spool_queue *where,
                  struct oh_spool_entry **out, struct oh_err *err)
{
    static const int order[] = {SP_INCOMING, SP_ACTIVE, SP_DEFERRED, SP_DEAD};
    int rc = OH_ENOTFOUND;

    *out = NULL;
    if (!sp_valid_id(id))
        return oh_err_set(err, OH_EINVAL, "spool: '%s' is not a spool entry id", id);
    /* An entry may move between queues while we look (a worker claims it);
     * a second pass finds it where it went. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            rc = entry_new(sp, order[i], id, out, err);
            if (rc == 0) {
                if (where)
                    *where = (enum oh_spool_queue)order[i];
                oh_err_clear(err);
                return 0;
            }
            if (rc != OH_ENOTFOUND)
                return rc;
        }
    }
    return oh_err_set(err, OH_ENOTFOUND, "spool: no entry %s in %s", id, sp->root);
}

int oh_spool_list(struct oh_spool *sp, enum oh_spool_queue q, oh_spool_list_cb cb, void *ud,
                  struct oh_err *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc;

    if ((int)q < 0 || q > OH_SPOOL_DEAD)
        return oh_err_set(err, OH_EINVAL, "spool: no queue number %d", (int)q);
    if ((rc = sp_names(sp, (int)q, &names, &n, err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        struct oh_spool_meta m;
        struct oh_err e2 = {0};
        int r = sp_entry_read(sp, (int)q, names[i], &m, NULL, NULL, &e2);
        if (r == OH_ENOTFOUND)
            continue; /* moved on since readdir */
        if (r < 0) {
            /* Show a damaged entry rather than hide it. */
            memset(&m, 0, sizeof(m));
            snprintf(m.error, sizeof(m.error), "unreadable entry: %.990s", e2.msg);
        }
        if (cb(names[i], &m, ud) != 0)
            break;
    }
    rc = 0;
done:
    sp_names_free(names, n);
    return rc;
}

int oh_spool_count(struct oh_spool *sp, enum oh_spool_queue q, size_t *n, struct oh_err *err)
{
    DIR *dh;
    struct dirent *de;
    size_t cnt = 0;
    int rc = OH_ERROR;

    *n = 0;
    if ((int)q < 0 || q > OH_SPOOL_DEAD)
        return oh_err_set(err, OH_EINVAL, "spool: no queue number %d", (int)q);
    if (!(dh = opendir(sp->dir[q])))
        return oh_err_set(err, OH_ERROR, "%s: cannot open directory: %s", sp->dir[q],
                          strerror(errno));
    for (;;) {
        errno = 0;
        if (!(de = readdir(dh))) {
            if (errno) {
                oh_err_set(err, OH_ERROR, "%s: readdir failed: %s", sp->dir[q], strerror(errno));
                goto done;
            }
            break;
        }
        if (sp_valid_id(de->d_name))
            cnt++;
    }
    if (q == OH_SPOOL_INCOMING || q == OH_SPOOL_ACTIVE) {
        /* What this process holds in place is active, not waiting (the
         * files being removed are neither): another process sees those
         * entries in incoming/. */
        size_t claimed, reaping;
        pthread_mutex_lock(&sp->claim_mu);
        claimed = sp->held.n_claimed;
        reaping = sp->held.n_reaping;
        pthread_mutex_unlock(&sp->claim_mu);
        if (q == OH_SPOOL_ACTIVE)
            cnt += claimed;
        else
            cnt = cnt > claimed + reaping ? cnt - claimed - reaping : 0;
    }
    *n = cnt;
    rc = 0;
done:
    closedir(dh);
    return rc;
}

const char *oh_spool_queue_name(enum oh_spool_queue q)
{
    switch (q) {
    case OH_SPOOL_INCOMING:
        return "incoming";
    case OH_SPOOL_ACTIVE:
        return "active";
    case OH_SPOOL_DEFERRED:
        return "deferred";
    case OH_SPOOL_DEAD:
        return "dead";
    }
    return "unknown";
}
