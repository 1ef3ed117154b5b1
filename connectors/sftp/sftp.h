/*
 * sftp.h — the SFTP file transport (libssh2), for the `sftp` channel type and
 * for every other connector that exchanges files over SFTP (EDI partners:
 * `transport = sftp` with the same keys).
 *
 * Settings read from the section (besides the file-channel keys that
 * oh_filechan_configure reads):
 *   url           = sftp://user@host[:port]/path   (path absolute; /~/x is
 *                   x under the login directory). No password in the url.
 *   key           = PATH  private key (ed25519, ECDSA, RSA; OpenSSH or PEM)
 *   key_passphrase= env:NAME | file:PATH
 *   password      = env:NAME | file:PATH   (used when no key, or key refused)
 *   known_hosts   = PATH  OpenSSH known_hosts ([host]:port entries, hashed ok)
 *   host_key      = SHA256:base64 [, SHA256:...]   pinned fingerprints
 *                   At least one of known_hosts / host_key is required; an
 *                   unknown or changed key is refused (OH_EPERM) with the
 *                   offered fingerprint in the message. Nothing turns this off.
 *   archive_dir   = PATH  where archive() moves files; relative to the url
 *                   path; default "processed"; created when missing
 *   tmp_prefix    = PREFIX  upload as PREFIX+name instead of name+".part"
 *   mkdirs        = yes|no  create the url path when missing (default no)
 *   timeout       = 30s  connect timeout and the limit on any one blocking call
 *   keepalive     = 15s  SSH keepalive interval (0 = off)
 *   idle_timeout  = 5m   a connection idle this long is replaced, not reused
 *   reconnect_backoff = 1s  first wait after a failed connect (doubles, max 5m)
 *
 * Promises:
 *   - every network step is bounded by `timeout`, so a dead server costs a
 *     channel at most that long per call and never blocks other channels
 *     (each transport has its own connection and its own lock);
 *   - fetch streams in fixed-size chunks (bounded memory for any file size)
 *     and fails unless it read exactly the size the server listed/reported;
 *   - put never leaves a partial file under the final name (temporary name,
 *     close, rename) and never replaces an existing one unless asked;
 *   - errors: network and timeouts are OH_EAGAIN (retryable); authentication
 *     failure and a refused host key are OH_EPERM (not retryable); a missing
 *     remote file is OH_ENOTFOUND; an existing final name OH_EEXIST.
 *   - secrets (password, passphrase) are held only in this transport, never
 *     logged, and wiped on close.
 * Thread-safe: calls on one transport are serialised by its lock.
 *
 * Test fault hooks: "sftp.upload" / "sftp.download" cut the connection after
 * the first chunk moved.
 */
#ifndef OH_SFTP_H
#define OH_SFTP_H

#include "config.h"
#include "connectors/dir/filechan.h"
#include "err.h"

/* Builds a transport from cfg (no network I/O: connects lazily on the first
 * call). channel_name is used in messages and logs. On success *t is the
 * caller's (free with oh_sftp_transport_close) and *tp is borrowed. */
int oh_sftp_transport_open(const struct oh_conf_section *cfg, const char *channel_name, void **t,
                           const struct oh_file_transport **tp, struct oh_err *err);
/* Closes the connection and wipes the secrets. NULL is a no-op. */
void oh_sftp_transport_close(void *t);

/* The transport vtable (kind "sftp"). */
extern const struct oh_file_transport oh_sftp_transport;

/* Drops the connection now (the next call reconnects); for tests and for
 * SIGHUP. NULL is a no-op. */
void oh_sftp_transport_disconnect(void *t);

#endif
