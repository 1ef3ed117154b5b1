/*
 * connector.h — what a connector is, and what core offers it (DESIGN §3.1).
 *
 * A connector is one folder under connectors/ whose main file ends in one
 * `const struct oh_connector` with designated initializers (NULL for hooks it
 * lacks), registered by one line in connectors/registry.c.
 *
 * Rules every connector keeps:
 *   - poll/webhook write each raw payload into the spool with
 *     oh_spool_enqueue (or a spool writer) and acknowledge the source
 *     (advance a cursor, answer 200, move a remote file) only after that
 *     returned 0;
 *   - a connector never touches SQL: cursors and "seen before" keys go
 *     through ch->ops, which core backs with the store;
 *   - deliver classifies a failure once: err->retryable = 1 for network,
 *     408, 429 and 5xx (with err->retry_after_ms when the server said),
 *     0 for anything permanent.
 */
#ifndef OH_CONNECTOR_H
#define OH_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct oh_channel;
struct oh_conf_section;
struct oh_spool;
struct oh_http_req;
struct oh_http_resp;

/* One outbound message, leased from the outbox by the dispatcher. */
struct oh_outbox_msg {
    int64_t id;
    char event[64];       /* "order.created", "shipment.created", ... */
    char target[128];     /* channel name it goes to */
    char origin[128];     /* channel the order came from */
    int64_t order_id;     /* store id of the order (0 if none) */
    char *payload;        /* canonical JSON (NUL-terminated) */
    size_t payload_len;
    /* Filled by the dispatcher from the target's outbound mapping (or a copy
     * of payload when it has none): the bytes to send. */
    char *body;
    size_t body_len;
    char content_type[64];
    char filename[256];   /* a stable, unique name for file transports */
    int attempts;         /* deliveries tried before this one */
};

/* Control numbers of one outgoing EDI interchange (one outbox message). */
struct oh_edi_numbers {
    int64_t outbox_id;
    const char *standard;     /* "x12" | "edifact" */
    const char *message;      /* "855", "997", "ORDRSP", "CONTRL" ... */
    const char *ack_expected; /* "997", "999", "CONTRL", or NULL when none is expected */
    int64_t ack_window_ms;    /* the acknowledgement is due this long after sending */
    unsigned long icn, gcn, scn; /* ISA13/UNB 0020, GS06, ST02/UNH 0062 */
};

/* One sent EDI interchange whose acknowledgement is overdue. */
struct oh_edi_overdue {
    const char *message, *ack_expected, *due_at; /* due_at ISO-8601 UTC */
    unsigned long icn, gcn;
};

/* What core offers a connector. */
struct oh_channel_ops {
    /* Cursor value (malloc'd, caller frees) or *value = NULL when unset. */
    int (*cursor_get)(struct oh_channel *ch, const char *name, char **value, struct oh_err *err);
    int (*cursor_set)(struct oh_channel *ch, const char *name, const char *value, struct oh_err *err);
    /* "Seen before" keys (webhook delivery ids, remote file identities). */
    int (*seen)(struct oh_channel *ch, const char *key, int *seen, struct oh_err *err);
    int (*remember)(struct oh_channel *ch, const char *key, struct oh_err *err);
    /* Both keys in one look-up (b may be NULL: *seen_b = 0). Optional: NULL
     * means ask `seen` once per key (oh_channel_seen_pair does either). */
    int (*seen_pair)(struct oh_channel *ch, const char *a, const char *b, int *seen_a,
                     int *seen_b, struct oh_err *err);
    /* n keys in one store round trip: all remembered on 0, none on failure.
     * Optional: NULL means `remember` once per key. */
    int (*remember_many)(struct oh_channel *ch, const char *const *keys, size_t n,
                         struct oh_err *err);
    /* EDI partners: the control numbers recorded for n->outbox_id, or new
     * ones taken from the channel's counters and recorded with the expected
     * acknowledgement, in one transaction (a retry sends the same numbers). */
    int (*edi_numbers)(struct oh_channel *ch, struct oh_edi_numbers *n, struct oh_err *err);
    /* EDI partners: calls cb once for each sent interchange whose
     * acknowledgement became overdue since the last call. */
    int (*edi_overdue)(struct oh_channel *ch, void (*cb)(void *ud, const struct oh_edi_overdue *o),
                       void *ud, struct oh_err *err);
};

struct oh_channel {
    char *name;
    const struct oh_connector *conn;
    const struct oh_conf_section *cfg;
    char *format;          /* "canonical", "json", "xml", "csv", "x12", "edifact" */
    char *mapping;         /* mapping file path, or NULL */
    int64_t poll_ms;       /* poll interval (0 = not polled) */
    int64_t max_doc_size;  /* bytes; larger inputs are refused */
    void *priv;            /* the connector's own state */
    const struct oh_channel_ops *ops;
    void *ops_ud;          /* core's, for ops */
};

struct oh_connector {
    const char *type; /* the `type =` value in [channel NAME] */
    /* Reads ch->cfg (marking every key it knows), checks it, sets ch->priv.
     * Must not do network I/O: `orderhub check` calls it too. */
    int (*open)(struct oh_channel *ch, struct oh_err *err);
    /* Inbound: fetch what is new and spool it. */
    int (*poll)(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err);
    /* Inbound push: verify, spool, then set the response status. */
    int (*webhook)(struct oh_channel *ch, const struct oh_http_req *rq, struct oh_spool *sp,
                   struct oh_http_resp *resp, struct oh_err *err);
    /* Outbound: send one message. */
    int (*deliver)(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err);
    void (*close)(struct oh_channel *ch);
    /* Inbound re-sync (`orderhub backfill`): fetch every order changed at
     * or after since_ms (ms since the epoch, UTC) and spool it as poll does,
     * without reading or moving the poll cursor; progress (may be NULL) is
     * called as orders are handled, with total = 0 when it is not known.
     * NULL for connectors that cannot re-read a window. */
    int (*backfill)(struct oh_channel *ch, struct oh_spool *sp, int64_t since_ms,
                    void (*progress)(void *ud, size_t done, size_t total), void *ud,
                    struct oh_err *err);
};

/* connectors/registry.c */
const struct oh_connector *oh_connector_find(const char *type);
/* NULL-terminated list, for `orderhub help`. */
const struct oh_connector *const *oh_connector_all(void);

/* "Seen before?" for one or two keys, in one store round trip where the
 * core offers seen_pair. b may be NULL. */
static inline int oh_channel_seen_pair(struct oh_channel *ch, const char *a, const char *b,
                                       int *seen_a, int *seen_b, struct oh_err *err)
{
    int rc;

    *seen_a = *seen_b = 0;
    if (ch->ops->seen_pair)
        return ch->ops->seen_pair(ch, a, b, seen_a, seen_b, err);
    if (a && (rc = ch->ops->seen(ch, a, seen_a, err)) < 0)
        return rc;
    return b ? ch->ops->seen(ch, b, seen_b, err) : 0;
}

#endif
