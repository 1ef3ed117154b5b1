/*
 * dispatcher.h — outbox -> target channel (DESIGN §3.4).
 *
 * Leases due outbox rows (SKIP LOCKED, so several workers and several
 * instances never send the same row at once), renders each through the
 * target channel's outbound mapping (`out_mapping`; without one the
 * canonical JSON is sent as is), calls the connector's deliver, and records
 * the outcome once: OK -> done; RETRY -> pending again after exponential
 * backoff with jitter (or the server's Retry-After); FAIL, or RETRY past
 * `outbox_attempts` -> dead, visible in `orderhub outbox list` and
 * retryable with `orderhub outbox retry ID`.
 *
 * A crash after a delivery but before its row is marked done sends the
 * message again when the lease expires (at-least-once); file targets name
 * the file after the outbox id, so the repeat finds its own identical file
 * and counts as delivered.
 */
#ifndef OH_DISPATCHER_H
#define OH_DISPATCHER_H

#include <stddef.h>

#include "hub.h"

struct oh_dispatch_stats {
    size_t leased, delivered, retried, dead;
};

int oh_dispatch_batch(struct oh_hub *h, struct oh_store *st, size_t max,
                      struct oh_dispatch_stats *stats, struct oh_err *err);

#endif
