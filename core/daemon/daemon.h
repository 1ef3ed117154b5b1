/*
 * daemon.h — `orderhub run`: the scheduler and its threads.
 *
 *   main thread      signals: SIGTERM/SIGINT drain and exit, SIGHUP reload
 *   poll threads     timer heap of channels; one poll per channel in flight;
 *                    interval with ±10% jitter; a failing channel backs off
 *                    alone (exponential, up to 10× its interval); a store
 *                    lease per channel so one instance polls it at a time
 *   worker threads   [hub] workers of them: spool -> store (processor.h)
 *   dispatcher       outbox -> channels (dispatcher.h)
 * Each thread has its own store connection and reconnects with backoff;
 * while the store is down the spool holds everything.
 *
 * --once: recover the spool, poll every inbound channel (twice, `settle`
 * apart, so file inboxes can see which files are stable), process the whole
 * spool, deliver every due outbox row, exit 0. Failures that are retried
 * later stay queued; an unusable environment exits non-zero.
 */
#ifndef OH_DAEMON_H
#define OH_DAEMON_H

#include "err.h"

int oh_daemon_run(const char *config_path, int once);

/* One claiming process per spool: an exclusive flock on SPOOL/lock, held
 * while *fd stays open (the caller closes it). OH_EAGAIN, with the other
 * process's pid in the message when it wrote one, when another process
 * holds it. The holder is the spool's only claimer and tells its spool so
 * (oh_spool_sole_claimer). */
int oh_daemon_lock_spool(const char *dir, int *fd, struct oh_err *err);

#endif
