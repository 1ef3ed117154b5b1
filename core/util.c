/* util.c — see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int oh_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int oh_fsync_dir(const char *dir, struct oh_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return oh_err_set(err, OH_ERROR, "%s: cannot open directory: %s", dir, strerror(errno));
    if (fsync(fd) < 0 || OH_FAULT("fsync_dir")) {
        int e = errno;
        close(fd);
        return oh_err_set(err, OH_ERROR, "%s: fsync of directory failed: %s", dir, strerror(e));
    }
    close(fd);
    return 0;
}

int oh_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                         struct oh_err *err)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    int fd = -1, rc = OH_ERROR;
    static unsigned counter;

    if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%u.tmp", dir, name, (long)getpid(),
                         __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED)) >= sizeof(tmp))
        return oh_err_set(err, OH_EINVAL, "%s/%s: path too long", dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        oh_err_set(err, OH_ERROR, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if (oh_write_all(fd, data, len) < 0) {
        oh_err_set(err, OH_ERROR, "%s: write failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (fsync(fd) < 0) {
        oh_err_set(err, OH_ERROR, "%s: fsync failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (close(fd) < 0) {
        fd = -1;
        oh_err_set(err, OH_ERROR, "%s: close failed: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, dst) < 0) {
        oh_err_set(err, OH_ERROR, "%s: rename to %s failed: %s", tmp, dst, strerror(errno));
        goto done;
    }
    rc = oh_fsync_dir(dir, err);
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int oh_read_file(const char *path, size_t max, char **out, size_t *len, struct oh_err *err)
{
    int fd = -1, rc = OH_ERROR;
    struct stat st;
    char *buf = NULL;
    size_t cap = 0, n = 0;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = oh_err_set(err, errno == ENOENT ? OH_ENOTFOUND : OH_ERROR, "%s: cannot open: %s",
                        path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if (max && (uint64_t)st.st_size > max) {
            rc = oh_err_set(err, OH_ETOOBIG, "%s: %lld bytes, over the limit of %zu bytes", path,
                            (long long)st.st_size, max);
            goto done;
        }
        cap = (size_t)st.st_size + 1;
    }
    if (cap < 4096)
        cap = 4096;
    if (!(buf = malloc(cap)))
        abort();
    for (;;) {
        ssize_t r;
        if (n + 1 >= cap) {
            cap *= 2;
            if (!(buf = realloc(buf, cap)))
                abort();
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            oh_err_set(err, OH_ERROR, "%s: read failed: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (max && n > max) {
            rc = oh_err_set(err, OH_ETOOBIG, "%s: over the limit of %zu bytes", path, max);
            goto done;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

int oh_mkdirs(const char *path, struct oh_err *err)
{
    char p[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(p))
        return oh_err_set(err, OH_EINVAL, "bad directory path '%s'", path);
    memcpy(p, path, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0750) < 0 && errno != EEXIST)
            return oh_err_set(err, OH_ERROR, "%s: cannot create directory: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0750) < 0 && errno != EEXIST)
        return oh_err_set(err, OH_ERROR, "%s: cannot create directory: %s", p, strerror(errno));
    return 0;
}

int64_t oh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t oh_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *oh_fmt_time_ms(int64_t ms, char *buf, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char base[24];

    gmtime_r(&s, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03dZ", base, (int)(ms % 1000));
    return buf;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* fetched once: EVP_sha256() is looked up again on every digest */

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static char *put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

size_t oh_put_datetime(char *out, int y, int mo, int d, int h, int mi, int s, int ms, char sep)
{
    char *o = out;

    if (y < 0 || y > 9999 || mo < 0 || mo > 99 || d < 0 || d > 99 || h < 0 || h > 99 || mi < 0 ||
        mi > 99 || s < 0 || s > 99 || ms > 999) {
        int n = ms >= 0 ? snprintf(out, 24, "%04d-%02d-%02d%c%02d:%02d:%02d.%03d", y, mo, d, sep, h,
                                   mi, s, ms)
                        : snprintf(out, 24, "%04d-%02d-%02d%c%02d:%02d:%02d", y, mo, d, sep, h, mi, s);
        return n < 0 ? 0 : (size_t)n < 24 ? (size_t)n : 23;
    }
    o = put2(o, y / 100);
    o = put2(o, y % 100);
    *o++ = '-';
    o = put2(o, mo);
    *o++ = '-';
    o = put2(o, d);
    *o++ = sep;
    o = put2(o, h);
    *o++ = ':';
    o = put2(o, mi);
    *o++ = ':';
    o = put2(o, s);
    if (ms >= 0) {
        *o++ = '.';
        *o++ = (char)('0' + ms / 100);
        o = put2(o, ms % 100);
    }
    *o = '\0';
    return (size_t)(o - out);
}

void oh_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";

    pthread_once(&sha256_once, sha256_init);
    EVP_Digest(data, len, md, &mdlen, sha256_md ? sha256_md : EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

void oh_hmac_sha256_b64(const void *key, size_t klen, const void *data, size_t len, char out[64])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    HMAC(EVP_sha256(), key, (int)klen, data, len, md, &mdlen);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

int oh_ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    /* Compare over the longer length so timing does not depend on where
     * the first difference is. */
    size_t n = la > lb ? la : lb;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < la ? (unsigned char)a[i] : 0;
        unsigned char y = i < lb ? (unsigned char)b[i] : 0;
        d |= x ^ y;
    }
    return d == 0;
}

void oh_sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int64_t oh_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
    int64_t d = base_ms;
    uint32_t r = 0;

    if (attempt < 0)
        attempt = 0;
    for (int i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)rand();
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

#ifdef OH_TEST_HOOKS
/* hits so far of each counted point ("name:N"), for the whole process */
static struct {
    char name[48];
    long hits;
} g_fault_hits[16];
static pthread_mutex_t g_fault_mu = PTHREAD_MUTEX_INITIALIZER;

static int fault_counted(const char *point, long limit)
{
    int fire = 0;

    pthread_mutex_lock(&g_fault_mu);
    for (size_t i = 0; i < sizeof(g_fault_hits) / sizeof(g_fault_hits[0]); i++) {
        if (g_fault_hits[i].name[0] && strcmp(g_fault_hits[i].name, point) != 0)
            continue;
        if (!g_fault_hits[i].name[0])
            snprintf(g_fault_hits[i].name, sizeof(g_fault_hits[i].name), "%s", point);
        fire = g_fault_hits[i].hits++ < limit;
        break;
    }
    pthread_mutex_unlock(&g_fault_mu);
    return fire;
}

int oh_fault(const char *point)
{
    const char *list = getenv("OH_FAULTS");
    size_t n = strlen(point);

    if (!list)
        return 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= n && strncmp(p, point, n) == 0) {
            if (l == n)
                return 1;
            if (p[n] == ':')
                return fault_counted(point, strtol(p + n + 1, NULL, 10));
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}
#endif

int oh_glob_match(const char *pattern, const char *name)
{
    return fnmatch(pattern, name, FNM_PERIOD) == 0;
}
