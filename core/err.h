/*
 * err.h — return codes and the error message that travels with them.
 *
 * Every function that can fail returns int: 0 on success, one of the named
 * negative codes below for an expected failure, -1 (OH_ERROR) for anything
 * else. The human-readable reason goes into a caller-provided struct oh_err:
 * what failed and where (file:line of a mapping, path in a document, segment
 * position in an EDI file), and whether trying again later may succeed.
 * Messages are written for an operator at 3 a.m.; they never contain secrets.
 */
#ifndef OH_ERR_H
#define OH_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum {
    OH_OK = 0,
    OH_ERROR = -1,     /* anything else */
    OH_EINVAL = -2,    /* bad input: malformed document, invalid config value */
    OH_ENOTFOUND = -3, /* no such thing (also: queue empty) */
    OH_EAGAIN = -4,    /* transient: try again later (network, lock, 429, 5xx) */
    OH_ETOOBIG = -5,   /* input over a configured limit */
    OH_EEXIST = -6,    /* already there (duplicate) */
    OH_EPERM = -7,     /* refused: auth, host key, signature */
};

/* Delivery outcome, classified once in core (STYLE: OK / RETRY / FAIL). */
enum oh_outcome { OH_OUT_OK = 0, OH_OUT_RETRY = 1, OH_OUT_FAIL = 2 };

struct oh_err {
    int code;            /* the OH_E* code that went with the message */
    int retryable;       /* 1: the same operation may succeed later */
    long retry_after_ms; /* > 0 when the other side said how long to wait */
    char msg[1024];
};

/* Sets err (NULL is allowed: the message is dropped) and returns code. */
int oh_err_set(struct oh_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int oh_err_setv(struct oh_err *err, int code, const char *fmt, va_list ap);
/* Like oh_err_set but marks the failure retryable. */
int oh_err_retry(struct oh_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (for adding context). */
void oh_err_prefix(struct oh_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void oh_err_clear(struct oh_err *err);
const char *oh_strcode(int code);

#endif
