/*
 * util.h — small helpers shared by every module: durable file writes, bounded
 * reads, time, hashing, backoff.
 */
#ifndef OH_UTIL_H
#define OH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Writes data to dir/name durably: tmp file in dir, write, fsync, rename,
 * fsync dir. On return 0 the file survives power loss. */
int oh_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                         struct oh_err *err);
int oh_fsync_dir(const char *dir, struct oh_err *err);
/* Reads a whole file (NUL added, not counted). OH_ETOOBIG past max (0 = no limit). */
int oh_read_file(const char *path, size_t max, char **out, size_t *len, struct oh_err *err);
/* mkdir -p with mode 0750. */
int oh_mkdirs(const char *path, struct oh_err *err);
/* Writes all of buf to fd (retries short writes and EINTR). */
int oh_write_all(int fd, const void *buf, size_t len);

int64_t oh_now_ms(void);       /* wall clock, ms since the epoch */
int64_t oh_mono_ms(void);      /* monotonic, ms */
/* ISO-8601 UTC with milliseconds: 2026-11-23T09:30:00.123Z (buf >= 32). */
char *oh_fmt_time_ms(int64_t ms, char *buf, size_t n);

/* "YYYY-MM-DD" sep "HH:MM:SS", then ".mmm" when ms >= 0, and a NUL, into
 * out (room for 24 bytes); the length written. Digits by hand: snprintf
 * cost about 3,000 instructions a call on the ingest path. Years outside
 * 0..9999 go through snprintf (more digits or a sign). */
size_t oh_put_datetime(char *out, int y, int mo, int d, int h, int mi, int s, int ms, char sep);

/* SHA-256 of data as 64 lowercase hex chars + NUL. */
void oh_sha256_hex(const void *data, size_t len, char out[65]);
/* base64(HMAC-SHA256(key, data)) into out (>= 45 bytes). */
void oh_hmac_sha256_b64(const void *key, size_t klen, const void *data, size_t len, char out[64]);
/* Constant-time compare of two strings of any length. 1 if equal. */
int oh_ct_equal(const char *a, const char *b);

/* Exponential backoff with full jitter: base * 2^attempt, capped at max,
 * then a uniform pick in [d/2, d]. attempt counts from 0. */
int64_t oh_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);
/* Sleep ms milliseconds, resuming after signals. */
void oh_sleep_ms(int64_t ms);

/* Test-only fault hooks (STYLE): OH_FAULT("spool.fsync") is true when the
 * environment variable OH_FAULTS names that point ("a,b,c"); "a:N" makes it
 * true for the first N hits in the process only. Compiled to 0 outside test
 * builds. */
#ifdef OH_TEST_HOOKS
int oh_fault(const char *point);
#define OH_FAULT(p) oh_fault(p)
#else
#define OH_FAULT(p) 0
#endif

/* fnmatch-style glob (`*`, `?`, `[...]`) on a file name. 1 on match. */
int oh_glob_match(const char *pattern, const char *name);

#endif
