/* daemon.c — see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dispatcher.h"
#include "hub.h"
#include "log.h"
#include "processor.h"
#include "timerheap.h"
#include "web.h"
#include "util.h"

struct sched {
    struct oh_hub *hub;
    struct oh_web *web;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* timer heap changed, stop, or new spool work */
    struct oh_timerheap heap;
    int *fails;                  /* consecutive poll failures per channel */
    pthread_t *threads;
    size_t nthreads;
};

static void wait_ms(struct sched *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->stop))
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    pthread_mutex_unlock(&s->mu);
}

/* Opens this thread's store connection, retrying with backoff until stop. */
static struct oh_store *thread_store(struct sched *s, const char *who)
{
    struct oh_store *st = NULL;
    struct oh_err e;
    char q[1100];
    for (int attempt = 0; !atomic_load(&s->stop); attempt++) {
        if (oh_hub_store_open(s->hub, &st, &e) == 0) {
            oh_hub_set_thread_store(st);
            return st;
        }
        oh_warn("store.unavailable", "thread=%s attempt=%d error=%s", who, attempt + 1,
                oh_logq(q, sizeof(q), e.msg));
        wait_ms(s, oh_backoff_ms(attempt, 500, 30000));
    }
    return NULL;
}

static int64_t jitter(int64_t interval)
{
    int64_t j = interval / 10;
    return j > 0 ? interval - j + (int64_t)(rand() % (int)(2 * j + 1 > 2147483647 ? 2147483647 : 2 * j + 1)) : interval;
}

/* Polls one channel under its lease. Returns the poll's result. */
static int poll_channel(struct oh_hub *h, struct oh_store *st, struct oh_hub_channel *hc,
                        struct oh_err *err)
{
    char lease[200];
    int got = 0, rc;
    int64_t ttl = hc->ch.poll_ms * 2 > 60000 ? hc->ch.poll_ms * 2 : 60000;

    snprintf(lease, sizeof(lease), "poll:%s", hc->ch.name);
    if ((rc = oh_store_lease(st, lease, h->set.instance, ttl, &got, err)) < 0)
        return rc;
    if (!got) {
        oh_debug("poll.skipped", "channel=%s reason=\"another instance holds the lease\"",
                 hc->ch.name);
        return 0;
    }
    return hc->ch.conn->poll(&hc->ch, h->spool, err);
}

static void *poll_thread(void *arg)
{
    struct sched *s = arg;
    struct oh_store *st = thread_store(s, "poll");
    char q[1100];

    while (st && !atomic_load(&s->stop)) {
        struct oh_timer t;
        int64_t now = oh_mono_ms();
        const struct oh_timer *top;

        pthread_mutex_lock(&s->mu);
        top = oh_timerheap_peek(&s->heap);
        if (!top || top->due_ms > now) {
            int64_t wait = top ? top->due_ms - now : 1000;
            pthread_mutex_unlock(&s->mu);
            wait_ms(s, wait > 1000 ? 1000 : wait);
            continue;
        }
        oh_timerheap_pop(&s->heap, &t); /* in flight: not in the heap, so not polled twice */
        pthread_mutex_unlock(&s->mu);

        struct oh_hub_channel *hc = &s->hub->chans[t.key];
        struct oh_err e;
        int64_t next;
        oh_err_clear(&e);
        if (poll_channel(s->hub, st, hc, &e) < 0) {
            int f = ++s->fails[t.key];
            next = oh_backoff_ms(f, hc->ch.poll_ms, hc->ch.poll_ms * 10);
            oh_warn("poll.failed", "channel=%s failures=%d retry_in_ms=%lld error=%s", hc->ch.name,
                    f, (long long)next, oh_logq(q, sizeof(q), e.msg));
            if (e.retryable && e.code == OH_EAGAIN && strstr(e.msg, "store")) {
                oh_store_ping(st, NULL);
            }
        } else {
            s->fails[t.key] = 0;
            next = jitter(hc->ch.poll_ms);
        }
        pthread_mutex_lock(&s->mu);
        oh_timerheap_push(&s->heap, oh_mono_ms() + next, t.key);
        pthread_cond_broadcast(&s->cv); /* new spool work may be there */
        pthread_mutex_unlock(&s->mu);
    }
    oh_store_free(st);
    return NULL;
}

/* [hub] worker_nice > 0: workers yield the CPU to the threads that answer
 * webhooks (an acknowledgement waits for nothing but its own spool write,
 * while a backlog in the spool is safe and drains once the CPU is free).
 * Linux applies a nice value per thread. */
static void lower_priority(long nice_by)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int now;

    if (nice_by <= 0)
        return;
    errno = 0;
    now = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && setpriority(PRIO_PROCESS, (id_t)tid, now + (int)nice_by) < 0)
        oh_warn("worker.nice_failed", "error=%s", strerror(errno));
}

static void *worker_thread(void *arg)
{
    struct sched *s = arg;
    struct oh_store *st = thread_store(s, "worker");
    int fails = 0;

    lower_priority(s->hub->set.worker_nice);

    while (st && !atomic_load(&s->stop)) {
        struct oh_proc_stats ps = { 0 };
        struct oh_err e;
        if (oh_process_batch(s->hub, st, &ps, &e) < 0) {
            wait_ms(s, oh_backoff_ms(fails++, 200, 10000));
            oh_store_ping(st, NULL);
            continue;
        }
        fails = 0;
        if (ps.claimed == 0)
            wait_ms(s, 250);
    }
    oh_store_free(st);
    return NULL;
}

static void *dispatch_thread(void *arg)
{
    struct sched *s = arg;
    struct oh_store *st = thread_store(s, "dispatcher");
    int fails = 0;
    int64_t next_prune = 0;
    char q[1100];

    while (st && !atomic_load(&s->stop)) {
        struct oh_dispatch_stats ds = { 0 };
        struct oh_err e;
        if (oh_mono_ms() >= next_prune) {
            /* seen keys (webhook ids) older than [hub] seen_retention, at
             * start and then hourly; the store refuses anything under 48h */
            size_t pruned = 0;
            next_prune = oh_mono_ms() + 3600000;
            if (oh_store_seen_prune(st, s->hub->set.seen_retention_ms, &pruned, &e) < 0)
                oh_warn("seen.prune_failed", "error=%s", oh_logq(q, sizeof(q), e.msg));
            else if (pruned)
                oh_info("seen.pruned", "keys=%zu", pruned);
        }
        if (oh_dispatch_batch(s->hub, st, 64, &ds, &e) < 0) {
            oh_warn("dispatch.failed", "error=%s", oh_logq(q, sizeof(q), e.msg));
            wait_ms(s, oh_backoff_ms(fails++, 200, 10000));
            oh_store_ping(st, NULL);
            continue;
        }
        fails = 0;
        if (ds.leased == 0)
            wait_ms(s, 500);
    }
    oh_store_free(st);
    return NULL;
}

static int start_threads(struct sched *s)
{
    struct oh_hub *h = s->hub;
    size_t npoll = 0, k = 0;

    atomic_store(&s->stop, 0);
    for (size_t i = 0; i < h->nchans; i++)
        if (h->chans[i].inbound) {
            /* first poll soon, spread over one second */
            oh_timerheap_push(&s->heap, oh_mono_ms() + (int64_t)(rand() % 1000), i);
            npoll++;
        }
    s->fails = calloc(h->nchans + 1, sizeof(int));
    npoll = npoll > 4 ? 4 : npoll;
    s->nthreads = npoll + (size_t)h->set.workers + 1;
    s->threads = calloc(s->nthreads, sizeof(pthread_t));
    if (!s->fails || !s->threads)
        abort();
    for (size_t i = 0; i < npoll; i++)
        pthread_create(&s->threads[k++], NULL, poll_thread, s);
    for (long i = 0; i < h->set.workers; i++)
        pthread_create(&s->threads[k++], NULL, worker_thread, s);
    pthread_create(&s->threads[k++], NULL, dispatch_thread, s);
    return 0;
}

/* Drain: every thread finishes the unit it is in, then exits. */
static void stop_threads(struct sched *s)
{
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, 1);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    free(s->threads);
    free(s->fails);
    s->threads = NULL;
    s->fails = NULL;
    s->nthreads = 0;
    oh_timerheap_clear(&s->heap);
}

/* One running orderhub per spool: `run` (daemon or --once) holds an
 * exclusive flock on SPOOL/lock for its lifetime, and `backfill` while it
 * processes. A second one would recover the first one's claimed entries
 * (S4), or take the ones it holds in place, and process them twice. The
 * lock goes with the process, so a crash never leaves it stale. */
int oh_daemon_lock_spool(const char *dir, int *fd, struct oh_err *err)
{
    char path[4096], pid[32], other[32] = "";
    int f;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/lock", dir);
    if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return oh_err_set(err, OH_ERROR, "spool %s: cannot open its lock file: %s", dir,
                          strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if ((n = pread(f, other, sizeof(other) - 1, 0)) > 0)
            other[strcspn(other, "\n")] = '\0';
        close(f);
        if (e == EWOULDBLOCK)
            return oh_err_set(err, OH_EAGAIN,
                              "spool %s is in use by another orderhub process%s%s%s; give each "
                              "instance its own [hub] spool",
                              dir, other[0] ? " (pid " : "", other, other[0] ? ")" : "");
        return oh_err_set(err, OH_ERROR, "spool %s: cannot lock: %s", dir, strerror(e));
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(f, 0) < 0 || pwrite(f, pid, (size_t)n, 0) != n) {
        /* the pid is only a hint in the message above; the flock is the lock */
    }
    *fd = f;
    return 0;
}

/* Start-up: migrate the store and recover the spool; any failure here is an
 * unusable environment and stops the daemon before work starts. */
static int prepare(struct oh_hub *h, int at_start, struct oh_err *err)
{
    struct oh_store *st = NULL;
    size_t moved = 0;
    int applied = 0, rc;

    if ((rc = oh_hub_store_open(h, &st, err)) < 0)
        return rc;
    size_t released = 0;
    rc = oh_store_migrate(st, &applied, err);
    /* not on reload: the running dispatcher may hold those leases right now */
    if (rc == 0 && at_start)
        rc = oh_store_outbox_release(st, h->set.instance, &released, err);
    if (rc == 0 && released)
        oh_info("outbox.released", "rows=%zu owner=%s", released, h->set.instance);
    if (rc == 0)
        for (size_t i = 0; i < h->nchans && rc == 0; i++)
            rc = oh_store_channel_ensure(st, h->chans[i].ch.name, h->chans[i].ch.conn->type, err);
    oh_store_free(st);
    if (rc < 0)
        return rc;
    if (applied)
        oh_info("store.migrated", "applied=%d", applied);
    /* not on reload: the running workers hold claimed entries right now
     * (they are drained before the new hub starts) */
    if (at_start && (rc = oh_spool_recover(h->spool, &moved, err)) < 0)
        return rc;
    if (moved)
        oh_info("spool.recovered", "entries=%zu", moved);
    return 0;
}

struct drain {
    struct oh_hub *h;
    pthread_mutex_t mu;
    struct oh_proc_stats total;
    int rc;
    struct oh_err err;
};

static void *drain_thread(void *arg)
{
    struct drain *d = arg;
    struct oh_store *st = NULL;
    struct oh_proc_stats ps = { 0 };
    struct oh_err e;
    int rc;

    oh_err_clear(&e);
    if ((rc = oh_hub_store_open(d->h, &st, &e)) == 0) {
        oh_hub_set_thread_store(st);
        for (;;) {
            size_t before = ps.claimed;
            if ((rc = oh_process_batch(d->h, st, &ps, &e)) < 0 || ps.claimed == before)
                break;
        }
        oh_hub_set_thread_store(NULL);
    }
    oh_store_free(st);
    pthread_mutex_lock(&d->mu);
    d->total.claimed += ps.claimed;
    d->total.stored += ps.stored;
    d->total.unchanged += ps.unchanged;
    d->total.stale += ps.stale;
    d->total.dead += ps.dead;
    d->total.deferred += ps.deferred;
    d->total.events += ps.events;
    if (rc < 0 && d->rc == 0) {
        d->rc = rc;
        d->err = e;
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* --once: [hub] workers threads empty the spool, each with its own store
 * connection, exactly as the daemon's workers would. */
static int drain_spool(struct oh_hub *h, struct oh_proc_stats *ps, struct oh_err *err)
{
    struct drain d;
    pthread_t th[64];
    long n = h->set.workers;

    memset(&d, 0, sizeof(d));
    d.h = h;
    pthread_mutex_init(&d.mu, NULL);
    for (long i = 0; i < n; i++)
        pthread_create(&th[i], NULL, drain_thread, &d);
    for (long i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&d.mu);
    *ps = d.total;
    if (d.rc < 0 && err)
        *err = d.err;
    return d.rc;
}

static int run_once(struct oh_hub *h, struct oh_err *err)
{
    struct oh_store *st = NULL;
    struct oh_proc_stats ps = { 0 };
    struct oh_dispatch_stats ds = { 0 };
    int rc;
    char q[1100];

    if ((rc = oh_hub_store_open(h, &st, err)) < 0)
        return rc;
    oh_hub_set_thread_store(st);
    for (int look = 0; look < 2; look++) {
        for (size_t i = 0; i < h->nchans; i++) {
            struct oh_err e;
            if (!h->chans[i].inbound)
                continue;
            oh_err_clear(&e);
            if (poll_channel(h, st, &h->chans[i], &e) < 0)
                oh_warn("poll.failed", "channel=%s error=%s", h->chans[i].ch.name,
                        oh_logq(q, sizeof(q), e.msg));
        }
        if (look == 0)
            oh_sleep_ms(h->set.settle_ms);
    }
    if ((rc = drain_spool(h, &ps, err)) < 0)
        goto done;
    for (int tries = 0;;) {
        size_t before = ds.leased;
        if ((rc = oh_dispatch_batch(h, st, 64, &ds, err)) < 0) {
            /* a lease or status write lost to a deadlock or a reconnect:
             * leased rows come back when their lease ends, so retry */
            if (err->retryable && ++tries < 4) {
                oh_sleep_ms(oh_backoff_ms(tries - 1, 50, 1000));
                continue;
            }
            goto done;
        }
        tries = 0;
        if (ds.leased == before)
            break;
    }
    oh_info("once.done",
            "documents=%zu orders_stored=%zu unchanged=%zu stale=%zu dead=%zu events=%zu "
            "delivered=%zu retry_later=%zu outbox_dead=%zu",
            ps.claimed, ps.stored, ps.unchanged, ps.stale, ps.dead, ps.events, ds.delivered,
            ds.retried, ds.dead);
done:
    oh_hub_set_thread_store(NULL);
    oh_store_free(st);
    return rc;
}

int oh_daemon_run(const char *config_path, int once)
{
    struct sched s;
    int lock_fd = -1;
    struct oh_err err;
    sigset_t set;
    int rc;
    char q[1100];

    memset(&s, 0, sizeof(s));
    oh_err_clear(&err);
    srand((unsigned)(oh_now_ms() ^ (int64_t)getpid()));
    rc = oh_hub_open(config_path, 0, NULL, NULL, &s.hub, &err);
    if (rc == 0 && s.hub->set.syslog) {
        /* from here on, before any work is logged */
        enum oh_log_level lvl = OH_LOG_INFO;
        const char *v = oh_conf_get(oh_conf_find(s.hub->conf, "hub", NULL), "log_level");
        if (v)
            oh_log_parse_level(v, &lvl);
        oh_log_init(lvl, 1);
    }
    if (rc < 0 || (rc = oh_daemon_lock_spool(s.hub->set.spool_dir, &lock_fd, &err)) < 0 ||
        (rc = prepare(s.hub, 1, &err)) < 0) {
        oh_error("daemon.start_failed", "error=%s", oh_logq(q, sizeof(q), err.msg));
        fprintf(stderr, "orderhub: %s\n", err.msg);
        oh_hub_free(s.hub);
        if (lock_fd >= 0)
            close(lock_fd);
        return 1;
    }
    /* the lock makes this process the spool's only claimer */
    oh_spool_sole_claimer(s.hub->spool);
    if (once) {
        rc = run_once(s.hub, &err);
        if (rc < 0)
            fprintf(stderr, "orderhub: %s\n", err.msg);
        oh_hub_free(s.hub);
        close(lock_fd);
        return rc < 0 ? 1 : 0;
    }

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    start_threads(&s);
    if (oh_web_start(s.hub, &s.web, &err) < 0) {
        oh_error("daemon.start_failed", "error=%s", oh_logq(q, sizeof(q), err.msg));
        fprintf(stderr, "orderhub: %s\n", err.msg);
        stop_threads(&s);
        oh_hub_free(s.hub);
        return 1;
    }
    oh_info("daemon.started", "config=%s channels=%zu routes=%zu workers=%ld instance=%s",
            oh_logq(q, sizeof(q), config_path), s.hub->nchans, s.hub->nroutes,
            s.hub->set.workers, s.hub->set.instance);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            struct oh_hub *nh = NULL;
            oh_info("daemon.reload", "config=%s", oh_logq(q, sizeof(q), config_path));
            int nlock = -1;
            if (oh_hub_open(config_path, 0, NULL, NULL, &nh, &err) < 0 ||
                (strcmp(nh->set.spool_dir, s.hub->set.spool_dir) != 0 &&
                 oh_daemon_lock_spool(nh->set.spool_dir, &nlock, &err) < 0) ||
                prepare(nh, 0, &err) < 0) {
                oh_error("daemon.reload_failed", "error=%s kept=previous",
                         oh_logq(q, sizeof(q), err.msg));
                oh_hub_free(nh);
                if (nlock >= 0)
                    close(nlock);
                continue;
            }
            if (nlock >= 0) { /* a new spool: recover it now that it is ours */
                size_t moved = 0;
                if (oh_spool_recover(nh->spool, &moved, &err) < 0)
                    oh_error("spool.recover_failed", "error=%s", oh_logq(q, sizeof(q), err.msg));
                close(lock_fd);
                lock_fd = nlock;
            }
            oh_web_stop(s.web);
            s.web = NULL;
            stop_threads(&s);
            oh_hub_free(s.hub);
            s.hub = nh;
            oh_spool_sole_claimer(s.hub->spool); /* its lock is ours too */
            start_threads(&s);
            if (oh_web_start(s.hub, &s.web, &err) < 0)
                oh_error("http.start_failed", "error=%s", oh_logq(q, sizeof(q), err.msg));
            continue;
        }
        oh_info("daemon.stopping", "signal=%d", sig);
        break;
    }
    oh_web_stop(s.web); /* no new deliveries first, then drain */
    stop_threads(&s);
    oh_hub_free(s.hub);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    close(lock_fd);
    oh_info("daemon.stopped", "%s", "");
    return 0;
}
