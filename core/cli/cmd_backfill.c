/*
 * cmd_backfill.c — `orderhub backfill CHANNEL --since DATE -c FILE`.
 *
 * Re-syncs a window: the channel's connector fetches every order changed at
 * or after DATE (ISO-8601 date, midnight UTC, or date-time) and spools it
 * exactly as its poll does, without reading or moving the poll cursor (see
 * the connector's backfill hook in connector.h). Then the command processes
 * the spool itself, as `run --once` does, so the window is in the store when
 * it exits; events (order.updated, ...) are queued in the outbox for the
 * daemon (or `run --once`) to deliver. Orders already stored unchanged
 * produce no events. A daemon running at the same time is fine: backfill
 * processes only when it can take the spool's lock (the daemon's, see
 * daemon.h); while a daemon holds it, the orders are spooled and the daemon
 * stores them, and the summary says so.
 *
 * Progress goes to stderr: a bar redrawn in place when stderr is a terminal,
 * otherwise a plain line at most once a second and one at the end. On a
 * terminal, info log lines (which would break the bar) are left out unless
 * ORDERHUB_LOG_LEVEL asks for them.
 * Exit: 0 done, 1 the fetch or the processing failed, 2 usage/environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "canonical.h"
#include "cli.h"
#include "daemon/daemon.h"
#include "daemon/hub.h"
#include "daemon/processor.h"
#include "log.h"

struct progress {
    const char *channel;
    int tty;
    int64_t last_ms;  /* plain mode: when the last line was printed */
    size_t done, total;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void show(struct progress *p, int final)
{
    if (p->tty) {
        enum { WIDTH = 30 };
        char bar[WIDTH + 1];
        size_t fill = 0;
        if (p->total)
            fill = (p->done >= p->total ? p->total : p->done) * WIDTH / p->total;
        else if (final)
            fill = WIDTH;
        memset(bar, '#', fill);
        memset(bar + fill, ' ', WIDTH - fill);
        bar[WIDTH] = '\0';
        if (p->total)
            fprintf(stderr, "\r[%s] %zu/%zu orders", bar, p->done, p->total);
        else
            fprintf(stderr, "\r[%s] %zu orders", bar, p->done);
        if (final)
            fputc('\n', stderr);
    } else if (p->total) {
        fprintf(stderr, "backfill %s: %zu/%zu orders\n", p->channel, p->done, p->total);
    } else {
        fprintf(stderr, "backfill %s: %zu orders\n", p->channel, p->done);
    }
    fflush(stderr);
}

static void on_progress(void *ud, size_t done, size_t total)
{
    struct progress *p = ud;
    int64_t now = now_ms();

    p->done = done;
    if (total)
        p->total = total;
    if (p->tty || p->last_ms == 0 || now - p->last_ms >= 1000) {
        p->last_ms = now;
        show(p, 0);
    }
}

int oh_cli_backfill(int argc, char **argv)
{
    const char *config, *since;
    struct oh_hub *h = NULL;
    struct oh_hub_channel *hc;
    struct oh_store *st = NULL;
    struct oh_proc_stats ps = {0};
    struct progress pg = {0};
    struct oh_err err;
    int64_t since_ms;
    int applied = 0, rc = 2, lock_fd = -1;

    oh_err_clear(&err);
    since = oh_cli_opt(&argc, argv, "--since");
    config = oh_cli_config(&argc, argv);
    if (argc != 2 || !since) {
        fprintf(stderr, "usage: orderhub backfill CHANNEL --since DATE -c FILE\n");
        goto done;
    }
    if (oh_time_parse_iso8601(since, &since_ms, NULL) != 0) {
        fprintf(stderr, "orderhub backfill: --since '%s': expected an ISO-8601 date or date-time "
                        "(2025-01-01, 2025-01-01T12:00:00Z)\n", since);
        goto done;
    }
    if (oh_hub_open(config, 0, NULL, NULL, &h, &err) < 0) {
        fprintf(stderr, "orderhub backfill: %s\n", err.msg);
        goto done;
    }
    if (!(hc = oh_hub_channel(h, argv[1]))) {
        fprintf(stderr, "orderhub backfill: %s: no channel '%s'\n", config, argv[1]);
        goto done;
    }
    if (!hc->ch.conn->backfill) {
        fprintf(stderr, "orderhub backfill: channel '%s' (type %s) cannot re-read a window\n",
                argv[1], hc->ch.conn->type);
        goto done;
    }
    if (oh_hub_store_open(h, &st, &err) < 0 || oh_store_migrate(st, &applied, &err) < 0 ||
        oh_store_channel_ensure(st, hc->ch.name, hc->ch.conn->type, &err) < 0) {
        fprintf(stderr, "orderhub backfill: %s\n", err.msg);
        goto done;
    }
    oh_hub_set_thread_store(st);
    rc = 1;
    pg.channel = hc->ch.name;
    pg.tty = isatty(2);
    if (pg.tty && !getenv("ORDERHUB_LOG_LEVEL"))
        oh_log_set_level(OH_LOG_WARN);
    if (hc->ch.conn->backfill(&hc->ch, h->spool, since_ms, on_progress, &pg, &err) < 0) {
        if (pg.tty)
            fputc('\n', stderr);
        fprintf(stderr, "orderhub backfill: %s (%zu orders spooled before the failure; "
                        "they are stored below)\n", err.msg, pg.done);
        goto process;
    }
    show(&pg, 1);
    rc = 0;
process:
    oh_err_clear(&err);
    if (oh_daemon_lock_spool(h->set.spool_dir, &lock_fd, &err) < 0) {
        if (err.code != OH_EAGAIN) {
            fprintf(stderr, "orderhub backfill: %s\n", err.msg);
            rc = 1;
        }
        /* a running orderhub claims from this spool: it stores them */
        printf("%s: %zu orders fetched since %s and spooled; the running orderhub stores "
               "them (%s)\n", hc->ch.name, pg.done, since, err.msg);
        goto done;
    }
    oh_spool_sole_claimer(h->spool);
    for (;;) {
        size_t before = ps.claimed;
        struct oh_err e;
        oh_err_clear(&e);
        if (oh_process_batch(h, st, &ps, &e) < 0) {
            fprintf(stderr, "orderhub backfill: processing the spool: %s\n"
                            "(what is left stays in the spool for the daemon or `orderhub run --once`)\n",
                    e.msg);
            rc = 1;
            break;
        }
        if (ps.claimed == before)
            break;
    }
    printf("%s: %zu orders fetched since %s; %zu stored, %zu unchanged, %zu stale, %zu dead "
           "(see `orderhub spool list dead`), %zu events queued\n",
           hc->ch.name, pg.done, since, ps.stored, ps.unchanged, ps.stale, ps.dead, ps.events);
    if (ps.dead)
        rc = 1;
done:
    oh_hub_set_thread_store(NULL);
    oh_store_free(st);
    oh_hub_free(h);
    if (lock_fd >= 0)
        close(lock_fd); /* after the spool: its reaper is done with it */
    return rc;
}
