/*
 * processor.h — spool -> decode -> map -> validate -> store (+ outbox).
 *
 * One call to oh_process_batch claims up to `batch` spool entries and stores
 * them in ONE store transaction. The fast path stores runs of plain
 * documents with batched statements (oh_store_documents_put,
 * oh_store_upsert_orders); if any document fails permanently, the
 * transaction is rolled back and the batch redone carefully, each document
 * inside its own savepoint:
 *   - a document that fails to decode, map or validate goes to dead/ with a
 *     message naming the place; nothing of it is stored (P1);
 *   - a document whose store write fails permanently is rolled back to its
 *     savepoint alone and goes to dead/; its neighbours commit (P2);
 *   - a retryable store failure (lost connection, deadlock) rolls the whole
 *     transaction back and puts every entry of the batch back for a later
 *     attempt (deferred with backoff) — nothing lost (P3);
 *   - spool entries are removed only after the commit returned 0 (P4), so a
 *     crash in between replays them, and the idempotent upsert turns the
 *     replay into UNCHANGED with no new outbox events (P5: exactly once).
 * Events: order.created on insert, order.updated on update, and
 * order.<status> whenever the status differs from what was stored (or is
 * not "pending" on insert). Routes decide which channels get each event.
 */
#ifndef OH_PROCESSOR_H
#define OH_PROCESSOR_H

#include <stddef.h>

#include "hub.h"

struct oh_proc_stats {
    size_t claimed, stored, unchanged, stale, dead, deferred, events;
};

/* st: this thread's store connection. *stats accumulates. Returns 0 (check
 * stats->claimed to see whether there was work), or a retryable error when
 * the store is unavailable (the batch was put back). */
int oh_process_batch(struct oh_hub *h, struct oh_store *st, struct oh_proc_stats *stats,
                     struct oh_err *err);

#endif
