/* err.c — see err.h. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int oh_err_setv(struct oh_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->retryable = (code == OH_EAGAIN);
    err->retry_after_ms = 0;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int oh_err_set(struct oh_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oh_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int oh_err_retry(struct oh_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oh_err_setv(err, code, fmt, ap);
    va_end(ap);
    if (err)
        err->retryable = 1;
    return code;
}

void oh_err_prefix(struct oh_err *err, const char *fmt, ...)
{
    char pre[512], old[sizeof(err->msg)];
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", pre, old);
}

void oh_err_clear(struct oh_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

const char *oh_strcode(int code)
{
    switch (code) {
    case OH_OK: return "ok";
    case OH_EINVAL: return "invalid";
    case OH_ENOTFOUND: return "not found";
    case OH_EAGAIN: return "try again";
    case OH_ETOOBIG: return "too big";
    case OH_EEXIST: return "exists";
    case OH_EPERM: return "refused";
    default: return "error";
    }
}
