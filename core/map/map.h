/*
 * map.h — the mapping language (DESIGN §5; reference: docs/mapping.md).
 *
 * A mapping file is compiled once into a plan (struct oh_map) and then run
 * on any number of documents:
 *   inbound   `from FORMAT ... to KIND`: oh_map_run decodes the bytes with
 *             the format's decoder and produces one canonical record (a
 *             jansson object) per `each` element / `group-by` group;
 *   outbound  `from KIND to FORMAT [MESSAGE]`: oh_map_render turns one
 *             canonical record into the bytes of the target format.
 * Load errors (syntax, unknown canonical field, unknown filter or table)
 * name file:line:col. Run-time errors reject one record and name the
 * document path and the mapping line:
 *   $.orders[3].line_items[1].quantity: "x" is not an integer (shopify/order.map:21)
 * A compiled plan is read-only: several threads may run it at once.
 */
#ifndef OH_MAP_H
#define OH_MAP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct oh_map;

/* Compiles the mapping file at path. *out is owned by the caller
 * (oh_map_free). Errors: "path:line:col: message". */
int oh_map_load(const char *path, struct oh_map **out, struct oh_err *err);
/* Compiles mapping text; name_for_errors is used in messages (may be NULL). */
int oh_map_compile(const char *text, size_t len, const char *name_for_errors, struct oh_map **out,
                   struct oh_err *err);
void oh_map_free(struct oh_map *m); /* NULL is a no-op */

const char *oh_map_name(const struct oh_map *m);
const char *oh_map_from(const struct oh_map *m);    /* format name or canonical kind */
const char *oh_map_to(const struct oh_map *m);      /* canonical kind or format name */
const char *oh_map_message(const struct oh_map *m); /* `to x12 856` -> "856"; NULL if none */
/* 1 if name is a canonical kind: order, shipment, inventory, return. */
int oh_map_is_kind(const char *name);

struct oh_map_ctx {
    const char *channel;    /* fills `channel` when the mapping does not; $channel.name */
    int64_t received_at_ms; /* $doc.received_at */
    const char *source;     /* $doc.source: file name, URL, queue id */
};

/* Called once per record: either record (borrowed; cb may json_incref it)
 * with rec_err NULL, or record NULL and rec_err saying why that record was
 * rejected. A non-zero return from cb stops the run and is returned. */
typedef int (*oh_map_record_cb)(void *ud, size_t index, json_t *record,
                                const struct oh_err *rec_err);

/* Decodes data with the `from` format and its options, evaluates the plan
 * on every record and calls cb per record. Returns 0, or an error for the
 * whole document (decode error, limit). */
int oh_map_run(const struct oh_map *m, const char *data, size_t len, const struct oh_map_ctx *ctx,
               oh_map_record_cb cb, void *ud, struct oh_err *err);

/* Same, with the `from` format replaced by `format` (NULL: the mapping's). */
int oh_map_run_as(const struct oh_map *m, const char *format, const char *data, size_t len,
                  const struct oh_map_ctx *ctx, oh_map_record_cb cb, void *ud,
                  struct oh_err *err);

/* Same records as oh_map_run, as text: json is exactly what
 * json_dumps(record, JSON_COMPACT) gives for the record oh_map_run would
 * pass (len bytes, NUL-terminated, borrowed until cb returns), written
 * without building jansson values; or json NULL and rec_err. */
typedef int (*oh_map_text_cb)(void *ud, size_t index, const char *json, size_t len,
                              const struct oh_err *rec_err);
int oh_map_run_text(const struct oh_map *m, const char *format, const char *data, size_t len,
                    const struct oh_map_ctx *ctx, oh_map_text_cb cb, void *ud,
                    struct oh_err *err);

/* Outbound: one canonical record -> the encoded bytes of the `to` format.
 * *out is malloc'd (NUL-terminated, not counted in *out_len); caller frees. */
int oh_map_render(const struct oh_map *m, const json_t *record, const struct oh_map_ctx *ctx,
                  char **out, size_t *out_len, struct oh_err *err);

/* The canonical target names of a kind, e.g. "customer.email", "lines[]",
 * "lines[].sku", "tags[]" (NULL-terminated); NULL for an unknown kind. */
const char *const *oh_map_canonical_fields(const char *kind);

/* `orderhub map FILE.map INPUT [--format F]` and `orderhub map test [DIR]`
 * (see map_cli.c). argv[0] is the subcommand ("map" / "test"); they print to
 * stdout/stderr and return the process exit code. oh_map_cli_run hands
 * `map test ...` on to oh_map_cli_test. */
int oh_map_cli_run(int argc, char **argv);
int oh_map_cli_test(int argc, char **argv);

#endif
