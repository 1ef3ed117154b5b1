/*
 * canonical.h — the canonical order model (DESIGN §4): validation,
 * normalisation and the content hash used for idempotent upserts.
 *
 * oh_canonical_order_check() takes a json_t order (from a mapping or from
 * canonical JSON input) and, on success, leaves it normalised:
 *   - channel set to the configured channel's name;
 *   - external_id a non-empty string (integers become strings);
 *   - money (subtotal, shipping_total, tax_total, discount_total, total,
 *     lines[].unit_price/tax/discount) and lines[].qty decimal strings with
 *     no exponent and at most 4 decimals ("19.9" stays "19.9": the store
 *     keeps DECIMAL(19,4));
 *   - placed_at/updated_at/ship_by/deliver_by ISO-8601 UTC ("...Z");
 *   - currency ISO 4217 upper case; countries ISO 3166 alpha-2 upper case;
 *   - status one of the model's states (default "pending");
 *   - lines[].line_no 1, 2, ... where absent.
 * On failure it returns OH_EINVAL with the field named:
 *   "lines[2].qty: \"-1\" must be greater than 0".
 * Unknown top-level fields are refused, so a typo in a mapping or a feed
 * does not vanish silently.
 */
#ifndef OH_CANONICAL_H
#define OH_CANONICAL_H

#include <jansson.h>
#include <stdint.h>

#include "doc.h"
#include "err.h"

int oh_canonical_order_check(json_t *order, const char *channel, struct oh_err *err);

/* A canonical shipment (DESIGN §4), checked and normalised like an order:
 * external_id and order_ref.external_id required (order_ref.channel
 * optional: without it the order is looked up by external id in every
 * channel), shipped_at ISO-8601 UTC, packages[].weight and lines[].qty
 * exact decimals (qty > 0), lines[].line_no a positive integer; each line
 * names its order line by line_no or sku. No lines = the whole order. */
int oh_canonical_shipment_check(json_t *shipment, const char *channel, struct oh_err *err);
/* A canonical inventory record: sku required, location optional,
 * on_hand/reserved/available exact decimals (one of on_hand and available
 * required; available = on_hand - reserved when absent), updated_at
 * ISO-8601 UTC. */
int oh_canonical_inventory_check(json_t *inv, const char *channel, struct oh_err *err);
/* SHA-256 of the normalised order (sorted keys, compact) as hex. */
int oh_canonical_hash(const json_t *order, char out[65]);

/* The order states of DESIGN §4; 1 if s is one. */
int oh_order_status_valid(const char *s);

int oh_iso4217_valid(const char *code);
int oh_iso3166_valid(const char *code);

/* Exact decimal: optional '-', digits, optional '.' and digits; no exponent.
 * 1 if valid with at most max_frac decimals and 15 integer digits. */
int oh_decimal_valid(const char *s, int max_frac);

/* ISO-8601 date-time (offset or Z, optional fraction; a bare date is
 * midnight UTC) -> ms since the epoch. 0 on success. */
int oh_time_parse_iso8601(const char *s, int64_t *ms, int *has_frac);
/* Days since 1970-01-01 of a proleptic Gregorian date (shared by every
 * time parser). */
int64_t oh_days_from_civil(int64_t y, int m, int d);
/* ms -> "YYYY-MM-DDTHH:MM:SSZ" or with ".fff" when frac. */
void oh_time_format_utc(int64_t ms, int frac, char out[32]);

/* Document tree -> jansson, numbers kept exact as strings where they are
 * money (every number becomes a string except integers used as counts).
 * Used for canonical JSON input. The tree must come from the JSON decoder,
 * which has checked that every string and key is valid UTF-8 (jansson does
 * not check again). NULL on failure (out of memory). */
json_t *oh_node_to_canonical_json(const struct oh_node *n);

#endif
