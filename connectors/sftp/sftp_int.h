/*
 * sftp_int.h — what session.c and transport.c share; not for other modules
 * (they use sftp.h).
 */
#ifndef OH_SFTP_INT_H
#define OH_SFTP_INT_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <pthread.h>
#include <stdint.h>

#include "sftp.h"

#define OH_SFTP_BACKOFF_MAX_MS (5 * 60 * 1000)

struct oh_sftp_seen {
    char *name;
    int64_t size;
};

struct oh_sftp {
    char *chan, *user, *host, *dir, *archive_dir, *tmp_prefix;
    int port, mkdirs;
    char *key, *passphrase, *password; /* passphrase, password: secrets */
    char *known_hosts;
    char **pins;
    size_t npins;
    int64_t timeout_ms, keepalive_s, idle_ms, backoff_ms;

    pthread_mutex_t mu;
    int sock;
    LIBSSH2_SESSION *ss;
    LIBSSH2_SFTP *sftp;
    int64_t last_used;
    int lost;         /* set by a call whose connection broke */
    int fails;        /* consecutive failed connects */
    int64_t next_try; /* mono ms; no connect before */
    struct oh_err last_err;
    struct oh_sftp_seen *seen; /* sizes from the last list(), for fetch */
    size_t nseen;
};

/* libssh2_init, once per process. 0 on success. */
int oh_sftp_lib_init(void);
char *oh_sftp_strndup(const char *s, size_t n);
/* dir + "/" + name, malloc'd (NULL when out of memory). */
char *oh_sftp_join(const char *dir, const char *name);
int oh_sftp_parse_url(struct oh_sftp *t, const char *url, struct oh_err *err);
int oh_sftp_parse_pins(struct oh_sftp *t, const char *v, struct oh_err *err);
/* libssh2's last error text for the session (never NULL). */
const char *oh_sftp_errmsg(LIBSSH2_SESSION *ss);
/* Closes the connection (quickly when t->lost). */
void oh_sftp_drop(struct oh_sftp *t);
/* Makes sure there is a live connection; *fresh = 1 when it was just made.
 * Called with t->mu held. */
int oh_sftp_ensure(struct oh_sftp *t, int *fresh, struct oh_err *err);

#endif
