/*
 * http.h — the HTTP layer: a webhook/health server (libmicrohttpd) and the
 * client every HTTP connector shares (libcurl). DESIGN §3.1, §3.5, §7.
 *
 * Server promises:
 *   - a request body is held in memory only up to max_body; past it (by
 *     Content-Length, or counted while receiving a chunked body) the answer
 *     is 413 and the rest is never buffered;
 *   - handlers see the raw body bytes exactly as received (webhook
 *     signatures are computed over them);
 *   - POST /webhooks/<channel>, GET /healthz and GET /metrics go to the
 *     handlers (/metrics is 404 without a metrics handler); any other path
 *     is 404, a known path with another method 405, both as JSON.
 *
 * Client promises:
 *   - TLS peer and host verification are always on; there is no option to
 *     turn them off. Plain http:// is refused unless the host is loopback
 *     (127.0.0.0/8, ::1, localhost) — that is for local fakes only;
 *   - each call's outcome is classified once (STYLE): 2xx OK -> 0;
 *     408, 429, 5xx and transport errors RETRY -> OH_EAGAIN with
 *     err->retryable = 1 and err->retry_after_ms when the server said;
 *     any other 4xx FAIL -> OH_EINVAL (OH_EPERM for 401/403) with the
 *     vendor's own error message in err;
 *   - retryable failures are retried inside oh_http_do up to max_attempts
 *     with exponential backoff and jitter, honouring Retry-After (seconds,
 *     possibly fractional, or an HTTP date) when it is not longer than
 *     max_wait_ms — a longer wait is handed back to the caller instead;
 *   - response bodies larger than max_response are an error, never an
 *     out-of-memory crash.
 *
 * Ownership: struct oh_http_response fields are the caller's after
 * oh_http_do (free with oh_http_response_free, also after a failure).
 * Thread-safety: one client may be used from several threads; requests on
 * one client are serialised (the rate limiter and budget are per client,
 * i.e. per channel).
 */
#ifndef OH_HTTP_H
#define OH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct oh_conf_section;

/* ---------------------------------------------------------------- server */

struct oh_http_req {
    const char *method;  /* "POST" */
    const char *path;    /* "/webhooks/shop-a" (no query string) */
    const char *channel; /* "shop-a" for /webhooks/<channel>, else NULL */
    const char *remote;  /* peer address, "127.0.0.1" or "::1" */
    const char *body;    /* raw bytes, NUL added (not counted); never NULL */
    size_t body_len;
    /* Case-insensitive request header lookup; NULL when absent. */
    const char *(*header)(const struct oh_http_req *rq, const char *name);
    void *impl; /* the server's, for header() */
};

struct oh_http_resp {
    int status;            /* 0 = the handler did not answer (500) */
    char *body;            /* malloc'd, freed by the server; may be NULL */
    size_t body_len;
    char content_type[64]; /* default application/json */
    long retry_after_s;    /* > 0: a Retry-After header is sent (503) */
};

/* Sets resp to status with a small JSON body {"status":N,"message":"..."}. */
void oh_http_resp_json(struct oh_http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets resp to status with a copy of body. */
void oh_http_resp_set(struct oh_http_resp *resp, int status, const char *content_type,
                      const char *body, size_t len);

struct oh_http_handlers {
    /* POST /webhooks/<channel>: rq->channel is set. Return 0 after filling
     * resp (an unknown channel is the handler's 404). */
    int (*webhook)(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp);
    /* GET /healthz: fill resp with the store/spool state JSON. */
    int (*health)(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp);
    /* GET /metrics: fill resp (Prometheus text); NULL = 404. */
    int (*metrics)(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp);
    void *ud;
};

struct oh_http_server_opts {
    char listen[128];     /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080"; port 0 = any */
    int64_t max_body;     /* bytes; default 1 MiB */
    int64_t timeout_ms;   /* idle connection timeout; default 30 s */
    int threads;          /* worker thread pool; default 4; 0 = a thread per connection */
    int max_connections;  /* default 256 */
};

/* Defaults, then [http] keys: listen, max_body, timeout, threads,
 * max_connections. s may be NULL (defaults only). */
int oh_http_server_opts_from_conf(const struct oh_conf_section *s, struct oh_http_server_opts *o,
                                  struct oh_err *err);
void oh_http_server_opts_default(struct oh_http_server_opts *o);

struct oh_http_server;
/* Binds and starts serving; *out is the caller's (oh_http_server_stop). */
int oh_http_server_start(const struct oh_http_server_opts *o, const struct oh_http_handlers *h,
                         struct oh_http_server **out, struct oh_err *err);
/* The bound port (useful with port 0). */
int oh_http_server_port(const struct oh_http_server *s);
/* Stops accepting, waits for in-flight handlers, frees. NULL is a no-op. */
void oh_http_server_stop(struct oh_http_server *s);

/* ---------------------------------------------------------------- client */

struct oh_http_client_opts {
    int64_t connect_timeout_ms; /* default 10 s */
    int64_t timeout_ms;         /* whole request; default 60 s */
    int max_attempts;           /* tries per oh_http_do, >= 1; default 5 */
    int64_t backoff_base_ms;    /* default 500 ms */
    int64_t backoff_max_ms;     /* default 30 s */
    int64_t max_wait_ms;        /* longest Retry-After waited inside oh_http_do; default 60 s */
    double max_rps;             /* requests per second (0 = no limit) */
    long budget;                /* requests per budget period (0 = no limit), see reset_budget */
    size_t max_response;        /* bytes; default 64 MiB */
    const char *ca_file;        /* extra CA bundle (tests); verification stays on */
    const char *user_agent;     /* default "orderhub/VERSION" */
    /* Every wait the client decides on goes through here (default: nanosleep).
     * Tests record the requested waits instead of measuring wall-clock time. */
    void (*sleep_fn)(void *ud, int64_t ms);
    void *sleep_ud;
};

struct oh_http_header {
    char *name, *value;
};

struct oh_http_request {
    const char *method;              /* "GET", "POST", "PUT" */
    const char *url;
    const char *const *headers;      /* NULL-terminated "Name: value" list, or NULL */
    const char *body;                /* NULL for none */
    size_t body_len;
    const char *userpwd;             /* "user:password" for Basic auth, or NULL */
};

struct oh_http_response {
    long status;                     /* last HTTP status (0 = no response) */
    char *body;                      /* NUL added, not counted */
    size_t len;
    struct oh_http_header *hdr;      /* last response's headers */
    size_t nhdr;
    int attempts;                    /* requests sent for this call */
    int64_t waited_ms;               /* total waits requested between attempts */
};

struct oh_http_client;
/* opts may be NULL (defaults). */
int oh_http_client_new(const struct oh_http_client_opts *opts, struct oh_http_client **out,
                       struct oh_err *err);
void oh_http_client_free(struct oh_http_client *c); /* NULL is a no-op */
void oh_http_client_opts_default(struct oh_http_client_opts *o);

/* Starts a new budget period (e.g. at the start of each poll). */
void oh_http_client_reset_budget(struct oh_http_client *c);
/* Requests left in this period (LONG_MAX without a budget). */
long oh_http_client_budget_left(const struct oh_http_client *c);
/* Waits through the client's sleep function (for connector-side pacing). */
void oh_http_client_sleep(struct oh_http_client *c, int64_t ms);

/* Sends rq, retrying as described above. resp is always filled as far as
 * the exchange went; free it with oh_http_response_free whatever the return. */
int oh_http_do(struct oh_http_client *c, const struct oh_http_request *rq,
               struct oh_http_response *resp, struct oh_err *err);
void oh_http_response_free(struct oh_http_response *resp);
/* First response header of that name (case-insensitive), or NULL. */
const char *oh_http_response_header(const struct oh_http_response *resp, const char *name);

/* 0 when url may be used: https://, or http:// to a loopback host. */
int oh_http_url_check(const char *url, struct oh_err *err);
/* The rel="next" URL of an RFC 8288 Link header, malloc'd; OH_ENOTFOUND if none. */
int oh_http_link_next(const char *link, char **out);
/* Retry-After: "2", "2.5" or an HTTP date (relative to now_ms). 0 on success. */
int oh_http_parse_retry_after(const char *v, int64_t now_ms, int64_t *out_ms);
/* The vendor's error message from an error body: {"errors":"x"},
 * {"errors":{"field":["msg"]}}, {"errors":[{"message":..}]}, {"message":..},
 * {"error":{"message":..}}, {"error":"x","error_description":..}; else a
 * printable prefix of the body. */
void oh_http_vendor_message(const char *body, size_t len, char *out, size_t n);
/* Percent-encodes s for a URL query value into a malloc'd string. */
char *oh_http_escape(const char *s);

/* Client settings shared by every HTTP channel (keys of [channel NAME]):
 *   http_timeout = 60s, http_connect_timeout = 10s, http_attempts = 5,
 *   max_rps = 0 (requests per second, 0 = unlimited),
 *   max_requests = 0 (per poll, 0 = unlimited), max_response = 64M,
 *   ca_file = PATH (an extra CA bundle; verification is always on).
 * s may be NULL. o is filled with defaults first. Strings in o point into s. */
int oh_http_client_opts_from_conf(const struct oh_conf_section *s, struct oh_http_client_opts *o,
                                  struct oh_err *err);
/* Process-wide sleep function for clients whose opts.sleep_fn is NULL
 * (tests and benchmarks record waits with it). NULL restores nanosleep. */
void oh_http_set_default_sleep(void (*fn)(void *ud, int64_t ms), void *ud);

/* ------------------------------------------------- vendor JSON helpers */

/* ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" to ms since the
 * epoch; no zone means UTC (WooCommerce *_gmt fields). 0 or OH_EINVAL. */
int oh_http_parse_time(const char *s, int64_t *out_ms);

/* Calls cb with the exact bytes of each element of a JSON array: the array
 * under top-level key `key` of an object, or the top-level array itself
 * when key is NULL. The scan checks structure only (strings, nesting);
 * parse each element to validate it. cb returns non-zero to stop (that
 * value is returned). OH_EINVAL with err set when the text is not a JSON
 * object/array of that shape (e.g. a truncated body), OH_ENOTFOUND when
 * the key is absent. */
int oh_json_each_element(const char *buf, size_t len, const char *key,
                         int (*cb)(const char *elem, size_t elen, void *ud), void *ud,
                         struct oh_err *err);

/* Checks that buf is one well-formed JSON object — what json_loadb(buf,
 * len, 0) accepts, see json_peek.c — and finds top-level values without
 * building a tree: vals[i]/lens[i] receive the raw bytes of the value of
 * keys[i] (the last one when repeated; keys compared as written, so a key
 * spelled with escapes does not match), or NULL/0 when absent. Allocates
 * nothing. 0, or OH_EINVAL with err set. */
int oh_json_peek(const char *buf, size_t len, const char *const *keys, size_t nkeys,
                 const char **vals, size_t *lens, struct oh_err *err);
/* A value from oh_json_peek that is a JSON integer (no fraction or
 * exponent) fitting a long long: 0, else OH_EINVAL. */
int oh_json_peek_int(const char *v, size_t len, long long *out);
/* A value from oh_json_peek that is a JSON string without NUL characters,
 * unescaped into out (n bytes with the NUL): 0, OH_EINVAL (not a string),
 * OH_ETOOBIG (does not fit). */
int oh_json_peek_str(const char *v, size_t len, char *out, size_t n);

#endif
