/*
 * log.h — one key=value line per event, on stderr or syslog.
 *
 *   ts=2026-11-23T09:30:00.123Z level=info event=order.stored channel=shop-a external_id=1001
 *
 * Values that may hold spaces or quotes go through oh_logq(), which quotes and
 * escapes them. Callers never pass secrets or whole payloads (PII) here.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef OH_LOG_H
#define OH_LOG_H

#include <stddef.h>

enum oh_log_level { OH_LOG_DEBUG = 0, OH_LOG_INFO, OH_LOG_WARN, OH_LOG_ERROR };

void oh_log_init(enum oh_log_level min, int use_syslog);
void oh_log_set_level(enum oh_log_level min);
int oh_log_parse_level(const char *s, enum oh_log_level *out);
void oh_log(enum oh_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quotes s for a key=value line ("a b" -> "\"a b\"", control chars escaped)
 * into buf and returns buf. Plain tokens are copied unquoted. */
const char *oh_logq(char *buf, size_t n, const char *s);

#define oh_debug(ev, ...) oh_log(OH_LOG_DEBUG, ev, __VA_ARGS__)
#define oh_info(ev, ...) oh_log(OH_LOG_INFO, ev, __VA_ARGS__)
#define oh_warn(ev, ...) oh_log(OH_LOG_WARN, ev, __VA_ARGS__)
#define oh_error(ev, ...) oh_log(OH_LOG_ERROR, ev, __VA_ARGS__)

#endif
