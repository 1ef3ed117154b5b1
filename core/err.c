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
    char old[sizeof(err->msg)];
    va_list ap;
    int n;

    if (!err)
        return;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(err->msg) - 3)
        return;
    memcpy(err->msg + n, ": ", 2);
    n += 2;
    memcpy(err->msg + n, old, sizeof(err->msg) - (size_t)n - 1);
    err->msg[sizeof(err->msg) - 1] = '\0';
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
