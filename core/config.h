/*
 * config.h — the INI configuration (inih), DESIGN §6.
 *
 *   [hub]            spool, workers, log_level, max_document_size, ...
 *   [store]          host port socket user password database
 *   [http]           listen, ...
 *   [channel NAME]   type = dir|sftp|edi|shopify|..., then the connector's keys
 *   [route NAME]     on = EVENT  to = CHANNEL|@origin
 *
 * Values written `env:NAME` or `file:PATH` are secrets: oh_conf_secret()
 * resolves them; plain oh_conf_get() returns the reference text, never the
 * secret, so the secret cannot leak into a log by accident.
 * Every key remembers its line, so errors read `FILE:LINE: message`.
 * Keys that no module asked for are reported by oh_conf_unused() (a typo in a
 * key is an error, not silently ignored).
 */
#ifndef OH_CONFIG_H
#define OH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct oh_conf_kv {
    char *key, *value;
    int line;
    int used; /* set when a module read it */
};

struct oh_conf_section {
    char *kind;  /* "hub", "store", "http", "channel", "route" */
    char *name;  /* "" for hub/store/http, else the NAME */
    int line;
    struct oh_conf_kv *kv;
    size_t n, cap;
    const char *path; /* the config file, for messages */
};

struct oh_conf {
    char *path;
    struct oh_conf_section *sec;
    size_t n, cap;
};

/* Parses FILE; syntax errors come back as "FILE:LINE: message" in err. */
int oh_conf_load(const char *path, struct oh_conf **out, struct oh_err *err);
/* Parses text (for tests); path is only used in messages. */
int oh_conf_parse(const char *text, const char *path, struct oh_conf **out, struct oh_err *err);
void oh_conf_free(struct oh_conf *c);

/* Finds a section: kind "channel", name "shop-a". name NULL = first of kind. */
struct oh_conf_section *oh_conf_find(const struct oh_conf *c, const char *kind, const char *name);

/* Raw value (marks the key used); NULL if absent. */
const char *oh_conf_get(const struct oh_conf_section *s, const char *key);
const char *oh_conf_get_or(const struct oh_conf_section *s, const char *key, const char *dflt);
int oh_conf_line(const struct oh_conf_section *s, const char *key); /* 0 if absent */

/* Typed getters: 0 and *out set (dflt when absent), or OH_EINVAL with
 * "FILE:LINE: key: message" in err. */
int oh_conf_int(const struct oh_conf_section *s, const char *key, long dflt, long *out, struct oh_err *err);
int oh_conf_bool(const struct oh_conf_section *s, const char *key, int dflt, int *out, struct oh_err *err);
/* "250ms", "30s", "5m", "2h", "1d"; a bare number is seconds. */
int oh_conf_duration_ms(const struct oh_conf_section *s, const char *key, int64_t dflt, int64_t *out, struct oh_err *err);
/* "512", "64K", "10M", "1G" bytes. */
int oh_conf_size(const struct oh_conf_section *s, const char *key, int64_t dflt, int64_t *out, struct oh_err *err);
/* One of choices (NULL-terminated); returns its index in *out. */
int oh_conf_enum(const struct oh_conf_section *s, const char *key, const char *const *choices,
                 int dflt, int *out, struct oh_err *err);

/* Resolves a secret: "env:NAME" (environment), "file:PATH" (file contents,
 * one trailing newline dropped) or, discouraged, a literal. *out is malloc'd;
 * free it with oh_secret_free (wipes it). Absent key: *out = NULL, returns 0. */
int oh_conf_secret(const struct oh_conf_section *s, const char *key, char **out, struct oh_err *err);
int oh_secret_resolve(const char *ref, char **out, struct oh_err *err);
void oh_secret_free(char *secret);

/* Parsers shared with the CLI. */
int oh_parse_duration_ms(const char *s, int64_t *out);
int oh_parse_size(const char *s, int64_t *out);

/* Reports every key no module read as "FILE:LINE: unknown key 'k' in [kind name]".
 * Returns the number of such keys; messages go to cb. */
size_t oh_conf_unused(const struct oh_conf *c, void (*cb)(const char *msg, void *ud), void *ud);

#endif
