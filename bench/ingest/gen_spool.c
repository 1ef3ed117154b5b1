/*
 * gen_spool.c — writes N benchmark orders (order_gen.h) into a spool, one
 * canonical JSON order per entry, through oh_spool_enqueue: every entry is
 * exactly what a connector would have spooled (meta channel "bench", format
 * "canonical", source "bench/<external_id>.json").
 *
 *   gen_spool -d SPOOL_DIR -n N [-s SEED] [-j THREADS]
 *
 * Several threads enqueue at once so that the spool's group commit shares
 * directory fsyncs between them (each entry is still fsync'd before its
 * rename: S1 holds for every entry). Prints how long it took.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "order_gen.h"
#include "spool/spool.h"

struct job {
    struct oh_spool *sp;
    uint64_t seed, n;
    atomic_uint_fast64_t next;
    atomic_int failed;
    pthread_mutex_t mu;
    char error[1024];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *ud)
{
    struct job *j = ud;
    struct bench_order o;
    struct oh_spool_meta m;
    struct oh_err err;
    char buf[8192];

    for (;;) {
        uint64_t i = atomic_fetch_add(&j->next, 1);
        size_t len;

        if (i >= j->n || atomic_load(&j->failed))
            break;
        bench_order_make(j->seed, i, &o);
        if (!(len = bench_order_json(&o, buf, sizeof(buf)))) {
            atomic_store(&j->failed, 1);
            snprintf(j->error, sizeof(j->error), "order %" PRIu64 ": JSON over %zu bytes", i,
                     sizeof(buf));
            break;
        }
        memset(&m, 0, sizeof(m));
        snprintf(m.channel, sizeof(m.channel), "%s", BENCH_CHANNEL);
        snprintf(m.format, sizeof(m.format), "canonical");
        snprintf(m.source, sizeof(m.source), "bench/%s.json", o.external_id);
        oh_err_clear(&err);
        if (oh_spool_enqueue(j->sp, &m, buf, len, NULL, &err) < 0) {
            pthread_mutex_lock(&j->mu);
            if (!atomic_exchange(&j->failed, 1))
                snprintf(j->error, sizeof(j->error), "enqueue order %" PRIu64 ": %.900s", i, err.msg);
            pthread_mutex_unlock(&j->mu);
            break;
        }
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: gen_spool -d SPOOL_DIR -n N [-s SEED] [-j THREADS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long long n = -1, seed = 1, threads = 8;
    struct job j;
    struct oh_err err;
    pthread_t *tids = NULL;
    double t0;
    int c, rc = 1;

    while ((c = getopt(argc, argv, "d:n:s:j:")) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'n': n = atoll(optarg); break;
        case 's': seed = atoll(optarg); break;
        case 'j': threads = atoll(optarg); break;
        default: usage();
        }
    }
    if (!dir || n < 0 || seed < 0 || threads < 1 || threads > 256)
        usage();

    memset(&j, 0, sizeof(j));
    j.seed = (uint64_t)seed;
    j.n = (uint64_t)n;
    pthread_mutex_init(&j.mu, NULL);
    oh_err_clear(&err);
    if (oh_spool_open(dir, NULL, &j.sp, &err) < 0) {
        fprintf(stderr, "gen_spool: %s\n", err.msg);
        goto done;
    }
    if (!(tids = calloc((size_t)threads, sizeof(*tids))))
        abort();
    t0 = now_s();
    for (long long t = 0; t < threads; t++)
        if ((errno = pthread_create(&tids[t], NULL, worker, &j)) != 0) {
            perror("gen_spool: pthread_create");
            abort();
        }
    for (long long t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    if (atomic_load(&j.failed)) {
        fprintf(stderr, "gen_spool: %s\n", j.error);
        goto done;
    }
    {
        double dt = now_s() - t0;
        fprintf(stderr, "gen_spool: %lld entries in %.2f s (%.0f entries/s, %lld threads)\n", n,
                dt, dt > 0 ? (double)n / dt : 0.0, threads);
    }
    rc = 0;
done:
    free(tids);
    oh_spool_free(j.sp);
    pthread_mutex_destroy(&j.mu);
    return rc;
}
