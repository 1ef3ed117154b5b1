/*
 * formats.h — decoders (bytes -> document tree) and encoders (document tree
 * -> bytes), found by format name so the mapping engine serves every format.
 *
 * Built in: "json", "xml", "csv". Other modules register theirs at start-up
 * (connectors/edi registers "x12" and "edifact" from oh_edi_init()).
 *
 * Options come from the mapping file's `from`/`to` line, e.g.
 *   from csv delimiter=";" encoding=latin1
 *   from x12 schema=850
 * and are passed as key/value pairs; a decoder rejects keys it does not know.
 */
#ifndef OH_FORMATS_H
#define OH_FORMATS_H

#include <stddef.h>
#include <stdio.h>

#include "doc.h"
#include "err.h"

struct oh_arena;

#define OH_FORMAT_MAX_OPTS 16

struct oh_format_opts {
    size_t n;
    const char *key[OH_FORMAT_MAX_OPTS];
    const char *val[OH_FORMAT_MAX_OPTS];
    size_t max_depth; /* nesting limit (0 = 256) */
    size_t max_size;  /* input limit in bytes (0 = none) */
};

/* Returns the option's value or NULL. */
const char *oh_format_opt(const struct oh_format_opts *o, const char *key);

/* Decoder: the whole tree goes into arena a; *out is borrowed from it.
 * Errors name the place: "line 3 col 14: ..." / "segment 12 (N1): ...". */
typedef int (*oh_decode_fn)(struct oh_arena *a, const char *data, size_t len,
                            const struct oh_format_opts *o, struct oh_node **out,
                            struct oh_err *err);
/* Encoder: writes the tree to f. */
typedef int (*oh_encode_fn)(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                            struct oh_err *err);
/* Option check at mapping load time: rejects unknown keys and bad values. */
typedef int (*oh_opts_check_fn)(const struct oh_format_opts *o, struct oh_err *err);

struct oh_format {
    const char *name;
    oh_decode_fn decode;       /* NULL if it cannot be read */
    oh_encode_fn encode;       /* NULL if it cannot be written */
    oh_opts_check_fn check;    /* NULL: no options allowed */
};

/* Registers (or replaces) a format. Not thread-safe: call at start-up. */
int oh_format_register(const struct oh_format *f);
const struct oh_format *oh_format_find(const char *name);

#endif
