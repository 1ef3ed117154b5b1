/*
 * privacy.h — customer data requests and erasure (Shopify's mandatory
 * privacy webhooks, `orderhub erase-customer`).
 *
 * Spool entries with format "privacy" (source "shopify <topic> webhook
 * <id>", body = Shopify's JSON) are handed here by the processor instead
 * of being mapped:
 *   customers/redact        erase that customer's personal data on the
 *                           channel (matched by customer id or email)
 *   shop/redact             erase it for every order of the channel
 *   customers/data_request  write what we hold about the customer as one
 *                           JSON file under [hub] exports
 * Erasure covers the store (see core/store/store_privacy.c for the exact
 * columns) and the raw payloads: spool entries in archive/ and dead/ of
 * that channel that mention the customer's email or id (every one of the
 * channel for shop/redact) are deleted, and their documents.source cleared.
 * Entries still waiting in incoming/, active/ or deferred/ are work in
 * flight and are left alone (processing them stores orders that a second
 * request erases again). The privacy request itself stays as the record of
 * what was asked. Each request is recorded in audit_log (no email there).
 */
#ifndef OH_PRIVACY_H
#define OH_PRIVACY_H

#include "hub.h"

struct oh_privacy_result {
    size_t orders;        /* orders matched (erased or exported) */
    size_t raw_erased;    /* spool files deleted */
    char export_path[1024];
};

/* Inside the processor's open transaction: handles one privacy entry. A
 * topic we do not know, or a body without what the topic needs, is a
 * permanent error (OH_EINVAL). */
int oh_privacy_store(struct oh_hub *h, struct oh_store *st, const struct oh_spool_entry *e,
                     const char *spool_id, const char *sha256, struct oh_err *err);

/* Erases one customer (customer_id and/or email) or, with all = 1, every
 * order of the channel. actor names who asked, for audit_log. The caller
 * owns the transaction. */
int oh_privacy_erase(struct oh_hub *h, struct oh_store *st, const char *channel,
                     const char *customer_id, const char *email, int all, const char *actor,
                     struct oh_privacy_result *res, struct oh_err *err);

/* Writes the export file of one customer. */
int oh_privacy_export(struct oh_hub *h, struct oh_store *st, const char *channel,
                      const char *customer_id, const char *email, const char *request_id,
                      const char *actor, struct oh_privacy_result *res, struct oh_err *err);

#endif
