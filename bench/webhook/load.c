/*
 * load.c — a closed-loop HTTP/1.1 load client for the webhook benchmark.
 *
 *   load -p PORT -f REQUESTS -c CONNECTIONS [-d MAX_SECONDS]
 *
 * REQUESTS holds complete pre-built requests (request line, headers, body),
 * each preceded by a line with its length in bytes (gen_requests.py writes
 * it). C threads each keep one keep-alive connection to 127.0.0.1:PORT and
 * send the next unsent request as soon as the previous answer arrived, until
 * every request was sent once or MAX_SECONDS passed. Each request's time is
 * measured from the first byte written to the last byte of the answer read.
 *
 * Prints one line: requests, non-200 answers, seconds, requests/s, p50, p90,
 * p99 and max in ms. Exit 0 when every answer was 200, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct req {
    const char *p;
    size_t len;
};

static struct req *reqs;
static size_t nreqs;
static atomic_size_t next_req;
static atomic_size_t non200, failed;
static double *lat_ms;      /* per request index */
static int port;
static double deadline;     /* monotonic seconds */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_lo(void)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -1;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one answer; *status, *close_after. 0 on success. */
static int read_answer(int fd, int *status, int *close_after)
{
    char buf[8192];
    size_t have = 0, hdr_end = 0;
    long clen = 0;

    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        char *e = strstr(buf, "\r\n\r\n");
        if (e) {
            hdr_end = (size_t)(e - buf) + 4;
            break;
        }
        if (have >= sizeof(buf) - 1)
            return -1;
    }
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
        return -1;
    *close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl)
        clen = strtol(cl + 17, NULL, 10);
    size_t body = have - hdr_end;
    while ((long)body < clen) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        body += (size_t)r;
    }
    return 0;
}

static void *worker(void *arg)
{
    int fd = -1;
    (void)arg;

    for (;;) {
        size_t i = atomic_fetch_add(&next_req, 1);
        int status = 0, close_after = 0, tries = 0;
        if (i >= nreqs || now_s() > deadline)
            break;
        for (;;) {
            if (fd < 0 && (fd = connect_lo()) < 0) {
                atomic_fetch_add(&failed, 1);
                lat_ms[i] = -1;
                break;
            }
            double t0 = now_s();
            if (write_all(fd, reqs[i].p, reqs[i].len) == 0 &&
                read_answer(fd, &status, &close_after) == 0) {
                lat_ms[i] = (now_s() - t0) * 1000.0;
                if (status != 200)
                    atomic_fetch_add(&non200, 1);
                if (close_after) {
                    close(fd);
                    fd = -1;
                }
                break;
            }
            /* The server closed an idle keep-alive connection: one retry on
             * a fresh one (the request had not been answered). */
            close(fd);
            fd = -1;
            if (++tries == 2) {
                atomic_fetch_add(&failed, 1);
                lat_ms[i] = -1;
                break;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int conns = 16, opt;
    double max_s = 120;
    FILE *f;
    struct stat st;
    char *data;

    while ((opt = getopt(argc, argv, "p:f:c:d:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'f': file = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 'd': max_s = atof(optarg); break;
        default: fprintf(stderr, "usage: load -p PORT -f REQUESTS [-c CONNS] [-d SECONDS]\n"); return 2;
        }
    }
    if (!file || port <= 0 || conns <= 0 || conns > 1024) {
        fprintf(stderr, "usage: load -p PORT -f REQUESTS [-c CONNS] [-d SECONDS]\n");
        return 2;
    }
    if (!(f = fopen(file, "rb")) || fstat(fileno(f), &st) < 0) {
        perror(file);
        return 2;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fprintf(stderr, "%s: read failed\n", file);
        return 2;
    }
    fclose(f);
    for (size_t off = 0, cap = 0; off < (size_t)st.st_size;) {
        char *nl = memchr(data + off, '\n', (size_t)st.st_size - off);
        size_t len;
        if (!nl)
            break;
        len = strtoul(data + off, NULL, 10);
        off = (size_t)(nl - data) + 1;
        if (off + len > (size_t)st.st_size) {
            fprintf(stderr, "%s: truncated request %zu\n", file, nreqs);
            return 2;
        }
        if (nreqs == cap) {
            cap = cap ? cap * 2 : 1024;
            if (!(reqs = realloc(reqs, cap * sizeof(*reqs))))
                abort();
        }
        reqs[nreqs].p = data + off;
        reqs[nreqs].len = len;
        nreqs++;
        off += len;
    }
    if (!(lat_ms = calloc(nreqs ? nreqs : 1, sizeof(double))))
        abort();

    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    double t0 = now_s();
    deadline = t0 + max_s;
    for (int i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    double el = now_s() - t0;

    size_t sent = atomic_load(&next_req), n = 0;
    if (sent > nreqs)
        sent = nreqs;
    double *ok = malloc((sent ? sent : 1) * sizeof(double));
    for (size_t i = 0; i < sent; i++)
        if (lat_ms[i] > 0)
            ok[n++] = lat_ms[i];
    qsort(ok, n, sizeof(double), cmp_d);
#define PCT(q) (n ? ok[(size_t)((double)(n - 1) * (q))] : 0.0)
    printf("requests=%zu non200=%zu failed=%zu seconds=%.3f rps=%.0f p50_ms=%.2f p90_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f connections=%d\n",
           n, atomic_load(&non200), atomic_load(&failed), el, (double)n / el, PCT(0.50), PCT(0.90),
           PCT(0.99), n ? ok[n - 1] : 0.0, conns);
    return atomic_load(&non200) || atomic_load(&failed) ? 1 : 0;
}
