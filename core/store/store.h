/*
 * store.h — the canonical order store in MariaDB (DESIGN §3.3).
 *
 * Promises:
 *   T1  Prepared statements only; no SQL text is ever built from input.
 *   T2  One struct oh_store is one connection, used by one thread at a time;
 *       each worker opens its own.
 *   T3  oh_store_upsert_order is idempotent: the same canonical order again
 *       changes nothing (UNCHANGED); a newer one (source updated_at later, or
 *       equal with different content) replaces the order row, its lines and
 *       its addresses inside the caller's transaction (UPDATED); an older one
 *       changes nothing (STALE).
 *   T4  Everything between oh_store_begin and oh_store_commit commits
 *       together or not at all; savepoints let one bad document be rolled
 *       back without its neighbours.
 *   T5  A lost connection, deadlock or lock timeout comes back as OH_EAGAIN
 *       with err->retryable = 1; the next call reconnects (the caller backs
 *       off). Any open transaction is then gone: the caller redoes it.
 *   T6  Money is DECIMAL(19,4) and travels as decimal strings, never double.
 *
 * Canonical JSON in and out (DESIGN §4): timestamps are ISO-8601 UTC strings
 * ("2026-11-23T09:30:00Z" or with .fff), money decimal strings, qty decimal
 * strings or integers.
 */
#ifndef OH_STORE_H
#define OH_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "err.h"

struct oh_store_conf {
    const char *host;     /* NULL/"" with socket set: unix socket */
    unsigned port;        /* 0 = default */
    const char *socket;
    const char *user;
    const char *password; /* resolved secret; never logged */
    const char *database;
    unsigned connect_timeout_s; /* 0 = 10 */
};

struct oh_store;

int oh_store_open(const struct oh_store_conf *c, struct oh_store **out, struct oh_err *err);
void oh_store_free(struct oh_store *st); /* NULL is a no-op */
/* Checks the connection, reconnecting when it was lost (T5). */
int oh_store_ping(struct oh_store *st, struct oh_err *err);
/* The server's id of the current connection (for diagnostics and tests),
 * 0 while disconnected. */
unsigned long oh_store_connection_id(struct oh_store *st);

/* Applies pending migrations (core/store/migrations/, embedded in the
 * binary) in order, each recorded in schema_migrations. Twice is a no-op.
 * *applied (may be NULL) = how many ran now. */
int oh_store_migrate(struct oh_store *st, int *applied, struct oh_err *err);

/* Transactions (T4). */
int oh_store_begin(struct oh_store *st, struct oh_err *err);
int oh_store_commit(struct oh_store *st, struct oh_err *err);
void oh_store_rollback(struct oh_store *st);
int oh_store_savepoint(struct oh_store *st, struct oh_err *err);       /* SAVEPOINT doc */
int oh_store_rollback_savepoint(struct oh_store *st, struct oh_err *err);
int oh_store_release_savepoint(struct oh_store *st, struct oh_err *err);

/* Documents: one row per spooled document and what became of it. */
struct oh_store_doc {
    const char *channel;
    const char *spool_id;
    const char *sha256;    /* of the raw payload */
    const char *source;    /* file name, webhook id, API page */
    const char *format;
    int64_t received_at;   /* ms */
};
/* status: "stored", "unchanged", "stale", "dead", "partial". Upserts on
 * (channel, spool_id) so processing an entry again updates its row. */
int oh_store_document_put(struct oh_store *st, const struct oh_store_doc *d, const char *status,
                          const char *error, int64_t *doc_id, struct oh_err *err);

enum oh_upsert {
    OH_UPSERT_INSERTED = 1,
    OH_UPSERT_UPDATED,
    OH_UPSERT_UNCHANGED,
    OH_UPSERT_STALE,
};
struct oh_upsert_result {
    enum oh_upsert what;
    int64_t order_id;
    char old_status[32]; /* "" when inserted */
    char new_status[32];
};
/* order: validated canonical order (channel field ignored; channel wins).
 * content_sha256: hash of the canonical form, computed by the caller. */
int oh_store_upsert_order(struct oh_store *st, const char *channel, const json_t *order,
                          const char *content_sha256, int64_t doc_id,
                          struct oh_upsert_result *res, struct oh_err *err);

/* Full canonical order (with lines and addresses) or OH_ENOTFOUND. *out owned by caller. */
int oh_store_order_get(struct oh_store *st, const char *channel, const char *external_id,
                       json_t **out, struct oh_err *err);
int oh_store_order_get_by_id(struct oh_store *st, int64_t order_id, json_t **out, struct oh_err *err);
/* Summaries (id, channel, external_id, number, status, currency, total,
 * placed_at, updated_at, lines), newest first. channel NULL = all. */
int oh_store_orders_list(struct oh_store *st, const char *channel, size_t limit, json_t **out,
                         struct oh_err *err);
/* Sets an order's status (DESIGN §4 transitions); the caller writes the event. */
int oh_store_order_set_status(struct oh_store *st, int64_t order_id, const char *status,
                              char old_status[32], struct oh_err *err);

/* Shipments (store_shipment.c, promises S1–S4 there). shipment: checked
 * canonical shipment (oh_canonical_shipment_check); channel: the channel
 * that reported it. The order is found through order_ref and its status
 * moved forward to partially_shipped or shipped. OH_ENOTFOUND: no such
 * order (permanent until the order arrives); OH_EINVAL: ambiguous or bad. */
struct oh_shipment_result {
    enum oh_upsert what; /* INSERTED, UPDATED or UNCHANGED */
    int64_t shipment_id, order_id;
    char order_channel[129];
    char old_status[32], new_status[32]; /* the order's, before and after */
};
int oh_store_upsert_shipment(struct oh_store *st, const char *channel, const json_t *shipment,
                             const char *content_sha256, int64_t doc_id,
                             struct oh_shipment_result *res, struct oh_err *err);

/* Inventory (store_inventory.c, promises I1–I2 there). inv: checked
 * canonical inventory record (oh_canonical_inventory_check). *what:
 * INSERTED or UPDATED when a level changed, UNCHANGED, or STALE when the
 * stored row is newer than the record's updated_at. */
int oh_store_upsert_inventory(struct oh_store *st, const json_t *inv, enum oh_upsert *what,
                              struct oh_err *err);

/* Outbox (transactional: add inside the document's transaction). */
int oh_store_outbox_add(struct oh_store *st, const char *event, const char *target,
                        const char *origin, int64_t order_id, const char *payload,
                        int64_t *id, struct oh_err *err);
/* Leases up to max due rows (pending, or leased with an expired lease) with
 * SELECT ... FOR UPDATE SKIP LOCKED, marks them leased by owner until
 * now + lease_ms, commits. *msgs: oh_outbox_msgs_free. */
int oh_store_outbox_lease(struct oh_store *st, const char *owner, int64_t lease_ms, size_t max,
                          struct oh_outbox_msg **msgs, size_t *n, struct oh_err *err);
int oh_store_outbox_done(struct oh_store *st, int64_t id, struct oh_err *err);
/* Failed delivery: retryable and attempts < max_attempts -> pending again at
 * now + retry_in_ms (*dead = 0); otherwise dead with the error (*dead = 1). */
int oh_store_outbox_fail(struct oh_store *st, int64_t id, int retryable, const char *error,
                         int max_attempts, int64_t retry_in_ms, int *dead, struct oh_err *err);
/* Start-up: rows still leased by owner (this instance before a crash) are
 * pending again at once instead of waiting for their lease to expire. */
int oh_store_outbox_release(struct oh_store *st, const char *owner, size_t *released,
                            struct oh_err *err);
/* Operator: a dead (or pending) row due now, attempts reset. */
int oh_store_outbox_retry(struct oh_store *st, int64_t id, struct oh_err *err);
/* Rows as JSON objects (id, event, target, origin, order_id, state,
 * attempts, next_attempt_at, last_error), oldest first. state NULL = all. */
int oh_store_outbox_list(struct oh_store *st, const char *state, size_t limit, json_t **out,
                         struct oh_err *err);
void oh_outbox_msgs_free(struct oh_outbox_msg *msgs, size_t n);

/* Cursors and "seen" keys, backing struct oh_channel_ops. */
int oh_store_cursor_get(struct oh_store *st, const char *channel, const char *name, char **value,
                        struct oh_err *err);
int oh_store_cursor_set(struct oh_store *st, const char *channel, const char *name,
                        const char *value, struct oh_err *err);
int oh_store_seen(struct oh_store *st, const char *channel, const char *key, int *seen,
                  struct oh_err *err);
int oh_store_remember(struct oh_store *st, const char *channel, const char *key, struct oh_err *err);
/* Both keys in one round trip; b may be NULL (then *seen_b = 0). */
int oh_store_seen_pair(struct oh_store *st, const char *channel, const char *a, const char *b,
                       int *seen_a, int *seen_b, struct oh_err *err);
/* The same rows as oh_store_remember for each key, with one bulk statement
 * in one transaction (store_seen.c): all committed on 0, none on failure. */
struct oh_seen_key {
    const char *channel, *key;
};
int oh_store_remember_many(struct oh_store *st, const struct oh_seen_key *keys, size_t n,
                           struct oh_err *err);

/* Counts for metrics in one query (store_stats.c): *out (caller's) is
 * {"outbox": {STATE: N}, "documents": {STATUS: N}, "edi_acks_overdue": N},
 * the last being sent interchanges whose acknowledgement is past due. */
int oh_store_stats(struct oh_store *st, json_t **out, struct oh_err *err);

/* Scale-out (DESIGN §3.6): a named lease held by owner until now + ttl_ms.
 * *got = 1 when owner holds it now (acquired, renewed or expired-and-taken). */
int oh_store_lease(struct oh_store *st, const char *name, const char *owner, int64_t ttl_ms,
                   int *got, struct oh_err *err);

/* Channels seen in the config, for joins and the dashboard. */
int oh_store_channel_ensure(struct oh_store *st, const char *name, const char *type,
                            struct oh_err *err);
int oh_store_audit(struct oh_store *st, const char *actor, const char *action, const char *detail,
                   struct oh_err *err);


/* ---- EDI partners (store_edi.c) ----
 * Control numbers: the next value of (partner, kind) — kind "ISA13", "GS06",
 * "ST02", "UNB0020", "UNH0062" — taken with one atomic
 * INSERT ... ON DUPLICATE KEY UPDATE value = LAST_INSERT_ID(value + 1). The
 * row stays locked until the caller's transaction ends, so instances take
 * turns, a rolled-back transaction gives its number back (nothing skipped)
 * and a committed one never hands it out again. Values wrap to 1 past max. */
int oh_store_edi_next(struct oh_store *st, const char *partner, const char *kind,
                      unsigned long max, unsigned long *value, struct oh_err *err);
/* Records an incoming interchange (partner, sender, control). *first = 1 when
 * it is new, 0 when the same key was recorded before (a duplicate). Inside a
 * transaction a concurrent claim of the same key waits for this one. */
int oh_store_edi_in_claim(struct oh_store *st, const char *partner, const char *sender,
                          const char *control, const char *spool_id, int *first,
                          struct oh_err *err);
/* struct oh_edi_numbers (connector.h): one outgoing interchange. */
/* The numbers recorded for o->outbox_id, or new ones (taken with
 * oh_store_edi_next and recorded) when there are none: a retried delivery
 * sends the same numbers again. Runs inside the caller's transaction. */
int oh_store_edi_out_assign(struct oh_store *st, const char *partner, struct oh_edi_numbers *o,
                            struct oh_err *err);
/* Records numbers the caller took itself (acknowledgements built in the
 * processor's transaction). */
int oh_store_edi_out_record(struct oh_store *st, const char *partner,
                            const struct oh_edi_numbers *o, struct oh_err *err);
/* An acknowledgement came in: marks the interchange we sent whose GS06
 * (X12, by_group = 1) or UNB 0020 (EDIFACT) is ctrl. status "accepted",
 * "partial" or "rejected"; codes: the partner's AK/IK/UCI codes as text.
 * *matched = rows updated (0: we sent no such interchange). */
int oh_store_edi_ack_match(struct oh_store *st, const char *partner, int by_group,
                           unsigned long ctrl, const char *status, const char *codes,
                           int *matched, struct oh_err *err);
/* Interchanges still waiting for their acknowledgement past the due time,
 * not reported before: *out is an array of objects (id, partner, message,
 * icn, gcn, ack_expected, ack_due_at); they are marked reported. */
int oh_store_edi_overdue_take(struct oh_store *st, const char *partner, json_t **out,
                              struct oh_err *err);
/* Sent interchanges that expect an acknowledgement, newest first, as objects
 * (id, partner, message, icn, gcn, scn, ack_expected, ack_due_at, ack_status,
 * ack_codes, ack_at, overdue). partner NULL = all. */
int oh_store_edi_status(struct oh_store *st, const char *partner, size_t limit, json_t **out,
                        struct oh_err *err);

/* ---- privacy and retention (store_privacy.c; what is erased is listed there) ---- */

/* The channel's orders of one customer (matched by customer external id or
 * email), or every order of the channel with all = 1, as full canonical
 * orders. *out owned by the caller. */
int oh_store_privacy_orders(struct oh_store *st, const char *channel, const char *customer_id,
                            const char *email, int all, json_t **out, struct oh_err *err);
/* Erases the personal data of those orders; *orders = how many matched. */
int oh_store_privacy_erase(struct oh_store *st, const char *channel, const char *customer_id,
                           const char *email, int all, size_t *orders, struct oh_err *err);
/* Clears documents.source of one spooled document whose raw bytes were erased. */
int oh_store_document_forget(struct oh_store *st, const char *channel, const char *spool_id,
                             struct oh_err *err);
/* Deletes seen keys older than older_than_ms. Webhook ids must outlive the
 * vendors' retry window: anything below OH_SEEN_MIN_RETENTION_MS (48h) is
 * refused with OH_EINVAL. *deleted (may be NULL) = rows removed. */
#define OH_SEEN_MIN_RETENTION_MS (48LL * 3600 * 1000)
int oh_store_seen_prune(struct oh_store *st, int64_t older_than_ms, size_t *deleted,
                        struct oh_err *err);

/* ---- batches (store_batch.c): the ingest fast path ---- */

/* The same rows as n calls of oh_store_document_put(&docs[i], status, NULL
 * error), in one bulk upsert; ids[i] = the row of docs[i]. */
int oh_store_documents_put(struct oh_store *st, const struct oh_store_doc *docs, size_t n,
                           const char *status, int64_t *ids, struct oh_err *err);
/* n orders of one channel: the same rows, and res[i] the same, as n calls of
 * oh_store_upsert_order(orders[i], hashes[i], doc_ids[i]) in order (doc_ids
 * may be NULL: none). No two orders may share an external id (compare with
 * oh_store_same_key; split the batch at a repeat): OH_EINVAL. New orders
 * are locked, inserted and read back a statement per table per batch;
 * stored ones go through oh_store_upsert_order. Any failure fails the whole
 * call, inside the caller's transaction (roll it back); a duplicate key on
 * insert (a row another writer added) is permanent here: redo the orders one
 * at a time, where oh_store_upsert_order turns that race into a retry. */
int oh_store_upsert_orders(struct oh_store *st, const char *channel, json_t *const *orders,
                           const char *const *hashes, const int64_t *doc_ids, size_t n,
                           struct oh_upsert_result *res, struct oh_err *err);
/* One outbox row for oh_store_outbox_add_many (strings borrowed). */
struct oh_outbox_row {
    const char *event, *target, *origin;
    int64_t order_id; /* <= 0: none */
    const char *payload;
};
/* The same rows as n calls of oh_store_outbox_add, in that order, with one
 * bulk-bound INSERT (in the caller's transaction if one is open). All or
 * nothing: on failure the caller rolls its transaction back. */
int oh_store_outbox_add_many(struct oh_store *st, const struct oh_outbox_row *rows, size_t n,
                             struct oh_err *err);
/* 1 when two external ids are the same key for the store (byte for byte,
 * trailing spaces ignored, as the utf8mb4_bin columns compare). */
int oh_store_same_key(const char *a, const char *b);

/* An index of keys compared as oh_store_same_key compares them, each with a
 * value: for finding repeats and matching result rows in a batch without
 * comparing every pair. Keys are borrowed (they must outlive their use
 * here). Zero-initialised is empty and ready. */
struct oh_keyidx {
    struct oh_keyidx_slot {
        const char *s; /* NULL: free */
        size_t len;    /* trailing spaces left out */
        long v;
    } *slot;
    size_t cap, n;
};
/* Adds s[0..len) with value v: -1 when it was not there, else (nothing
 * added) the value of the equal key already there. */
long oh_keyidx_put(struct oh_keyidx *x, const char *s, size_t len, long v);
/* The value of the key equal to s[0..len), or -1. */
long oh_keyidx_get(const struct oh_keyidx *x, const char *s, size_t len);
void oh_keyidx_clear(struct oh_keyidx *x); /* empty, keeps its room */
void oh_keyidx_free(struct oh_keyidx *x);

#endif
