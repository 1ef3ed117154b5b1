/*
 * session.c — one SFTP connection for the transport: url and pin parsing,
 * TCP connect with a timeout, SSH handshake, host key verification,
 * authentication, and the reuse/replace/backoff rules (oh_sftp_ensure).
 *
 * Connection life cycle, per transport:
 *
 *   (none) ──connect ok──► up ──call fails on the socket/timeout──► (none)
 *     │  ▲                  │
 *     │  └──backoff over────┤ idle > idle_timeout or keepalive fails: replaced
 *     └──connect fails──► backoff (calls return the last error at once)
 *
 * Host key check: libssh2 negotiates one host key type per connection, while
 * known_hosts or a pin may name only some of the server's types. So the
 * connection is tried with one key family at a time (ed25519, ECDSA, RSA):
 * a key of a type not listed for the host, or not pinned, moves on to the
 * next family; a listed type with a different key is refused at once
 * (changed key); when no family matches, the refusal lists every offered
 * fingerprint. Each try is a fresh TCP connection, so an unmatched server
 * costs at most three handshakes.
 *
 * XXX getaddrinfo() has no timeout; a hung resolver can hold this channel's
 * poll (not others). Partners are usually given by IP or a cached name.
 */
#include "sftp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
/* XXX process-wide: libssh2 allocates and frees one buffer per SSH packet
 * (about 32 KiB each, thousands a second during a transfer), and glibc's
 * default trim threshold (128 KiB, adjusted on the fly) gave the top of the
 * heap back to the kernel and faulted it in again over and over: 10,000 to
 * 57,000 page faults and up to twice the CPU time for one 500 MiB file,
 * against under 1,000 with the heap top kept. Keeping up to 8 MiB of free
 * heap is a small price for a daemon. (Setting it also stops glibc's
 * dynamic mmap threshold, so large buffers stay mmap'd as by default.) */
#define KEEP_HEAP_TOP (8 * 1024 * 1024)

static void lib_init(void)
{
#ifdef M_TRIM_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, KEEP_HEAP_TOP);
#endif
    init_rc = libssh2_init(0);
}

int oh_sftp_lib_init(void)
{
    pthread_once(&init_once, lib_init);
    return init_rc;
}

/* ---- small helpers ------------------------------------------------------- */

char *oh_sftp_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *oh_sftp_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1), *w = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n) {
                free(o);
                return NULL;
            }
            h = hexval((unsigned char)s[i + 1]);
            l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(o);
                return NULL;
            }
            *w++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    *w = 0;
    return o;
}

/* sftp://user@host[:port]/path */
int oh_sftp_parse_url(struct oh_sftp *t, const char *url, struct oh_err *err)
{
    const char *p, *at, *slash, *hs, *he;
    if (strncmp(url, "sftp://", 7) != 0)
        return oh_err_set(err, OH_EINVAL, "url must start with sftp:// (got \"%.64s\")", url);
    p = url + 7;
    slash = strchr(p, '/');
    if (!slash)
        slash = p + strlen(p);
    at = NULL;
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            at = q;
    if (!at || at == p)
        return oh_err_set(err, OH_EINVAL, "url needs a user: sftp://USER@HOST/PATH");
    if (memchr(p, ':', (size_t)(at - p)))
        return oh_err_set(err, OH_EINVAL,
                          "url must not hold a password; use password = env:NAME or file:PATH");
    if (!(t->user = pct_decode(p, (size_t)(at - p))))
        return oh_err_set(err, OH_EINVAL, "url: bad %%-escape in the user name");
    hs = at + 1;
    if (*hs == '[') {
        he = memchr(hs, ']', (size_t)(slash - hs));
        if (!he)
            return oh_err_set(err, OH_EINVAL, "url: unterminated [ in host");
        t->host = oh_sftp_strndup(hs + 1, (size_t)(he - hs - 1));
        he++;
    } else {
        he = hs;
        while (he < slash && *he != ':')
            he++;
        t->host = oh_sftp_strndup(hs, (size_t)(he - hs));
    }
    if (!t->host || !*t->host)
        return oh_err_set(err, OH_EINVAL, "url needs a host");
    t->port = 22;
    if (he < slash && *he == ':') {
        char *end;
        long v = strtol(he + 1, &end, 10);
        if (end != slash || v < 1 || v > 65535)
            return oh_err_set(err, OH_EINVAL, "url: bad port");
        t->port = (int)v;
    } else if (he != slash) {
        return oh_err_set(err, OH_EINVAL, "url: junk after the host");
    }
    if (!*slash || strcmp(slash, "/") == 0 || strcmp(slash, "/~") == 0 ||
        strcmp(slash, "/~/") == 0)
        t->dir = strdup(slash[0] && slash[1] == 0 ? "/" : ".");
    else if (strncmp(slash, "/~/", 3) == 0)
        t->dir = pct_decode(slash + 3, strlen(slash + 3));
    else
        t->dir = pct_decode(slash, strlen(slash));
    if (!t->dir)
        return oh_err_set(err, OH_EINVAL, "url: bad %%-escape in the path");
    for (size_t n = strlen(t->dir); n > 1 && t->dir[n - 1] == '/'; n--)
        t->dir[n - 1] = 0;
    return 0;
}

/* "SHA256:xxx, SHA256:yyy" (also accepts `ssh-keygen -lf` lines). */
int oh_sftp_parse_pins(struct oh_sftp *t, const char *v, struct oh_err *err)
{
    const char *p = v;
    while (*p) {
        size_t n;
        char **np;
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        n = strcspn(p, " ,\t");
        if (n > 7 && strncmp(p, "SHA256:", 7) == 0) {
            np = realloc(t->pins, (t->npins + 1) * sizeof(*np));
            if (!np)
                return oh_err_set(err, OH_ERROR, "out of memory");
            t->pins = np;
            if (!(t->pins[t->npins] = oh_sftp_strndup(p, n)))
                return oh_err_set(err, OH_ERROR, "out of memory");
            /* OpenSSH prints it unpadded; accept a padded copy too. */
            for (char *e = t->pins[t->npins] + n - 1; *e == '='; e--)
                *e = 0;
            t->npins++;
        } else if (strncmp(p, "MD5:", 4) == 0) {
            return oh_err_set(err, OH_EINVAL,
                              "host_key: MD5 fingerprints are not accepted; use the SHA256: form "
                              "(ssh-keygen -lf)");
        }
        p += n;
    }
    if (t->npins == 0)
        return oh_err_set(err, OH_EINVAL,
                          "host_key: expected SHA256:... (as printed by ssh-keygen -lf)");
    return 0;
}

static void fp_sha256(LIBSSH2_SESSION *ss, char out[64])
{
    const unsigned char *h = (const unsigned char *)libssh2_hostkey_hash(ss, LIBSSH2_HOSTKEY_HASH_SHA256);
    unsigned char b64[48];
    int n;
    if (!h) {
        snprintf(out, 64, "SHA256:?");
        return;
    }
    n = EVP_EncodeBlock(b64, h, 32);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    snprintf(out, 64, "SHA256:%.*s", n, (const char *)b64);
}

const char *oh_sftp_errmsg(LIBSSH2_SESSION *ss)
{
    char *m = NULL;
    if (!ss)
        return "no session";
    libssh2_session_last_error(ss, &m, NULL, 0);
    return m && *m ? m : "unknown error";
}

/* ---- connection ---------------------------------------------------------- */

void oh_sftp_drop(struct oh_sftp *t)
{
    /* A lost connection is shut down first so the goodbyes below fail at
     * once instead of waiting for a silent server. */
    if (t->lost && t->sock >= 0)
        shutdown(t->sock, SHUT_RDWR);
    if (t->sftp) {
        libssh2_sftp_shutdown(t->sftp);
        t->sftp = NULL;
    }
    if (t->ss) {
        if (!t->lost) {
            libssh2_session_set_timeout(t->ss, 2000);
            libssh2_session_disconnect(t->ss, "orderhub closing");
        }
        libssh2_session_free(t->ss);
        t->ss = NULL;
    }
    if (t->sock >= 0)
        close(t->sock);
    t->sock = -1;
    t->lost = 0;
}

static int tcp_connect(struct oh_sftp *t, struct oh_err *err)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char port[8];
    int rc, fd = -1, last = 0;

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    snprintf(port, sizeof(port), "%d", t->port);
    if ((rc = getaddrinfo(t->host, port, &hints, &res)) != 0)
        return oh_err_retry(err, OH_EAGAIN, "cannot resolve %s: %s", t->host, gai_strerror(rc));
    for (ai = res; ai; ai = ai->ai_next) {
        struct pollfd pfd;
        int soerr = 0, one = 1;
        socklen_t sl = sizeof(soerr);
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last = errno;
            close(fd);
            fd = -1;
            continue;
        }
        pfd.fd = fd;
        pfd.events = POLLOUT;
        do {
            rc = poll(&pfd, 1, (int)t->timeout_ms);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            last = ETIMEDOUT;
        } else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            last = errno;
        } else if (soerr) {
            last = soerr;
        } else {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return oh_err_retry(err, OH_EAGAIN, "cannot connect to %s port %d: %s", t->host, t->port,
                            last == ETIMEDOUT ? "timed out" : strerror(last));
    t->sock = fd;
    return 0;
}

static const char *const families[] = {
    "ssh-ed25519",
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521",
    "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
};
#define NFAMILIES 3

/* The family's algorithms this libssh2 knows, comma-joined into buf. */
static int family_algs(LIBSSH2_SESSION *ss, int fam, char *buf, size_t n)
{
    const char **algs = NULL;
    int na = libssh2_session_supported_algs(ss, LIBSSH2_METHOD_HOSTKEY, &algs);
    const char *p = families[fam];
    buf[0] = 0;
    while (na > 0 && *p) {
        size_t l = strcspn(p, ",");
        for (int i = 0; i < na; i++)
            if (strlen(algs[i]) == l && strncmp(algs[i], p, l) == 0) {
                if (buf[0])
                    strncat(buf, ",", n - strlen(buf) - 1);
                strncat(buf, algs[i], n - strlen(buf) - 1);
            }
        p += l;
        if (*p == ',')
            p++;
    }
    if (algs)
        libssh2_free(ss, algs);
    return buf[0] ? 0 : -1;
}

static int knownhost_keytype(int hktype)
{
    switch (hktype) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

static const char *hostkey_name(int hktype)
{
    switch (hktype) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521";
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519";
    default: return "unknown";
    }
}

enum { HK_OK = 0, HK_NEXT = 1 };

/* HK_OK, HK_NEXT (this key type is neither listed nor pinned), or OH_EPERM
 * (changed key) / OH_ERROR. offered collects "type fp" for the message. */
static int check_hostkey(struct oh_sftp *t, char *offered, size_t on, struct oh_err *err)
{
    size_t klen = 0;
    int type = 0, rc = HK_NEXT;
    const char *key = libssh2_session_hostkey(t->ss, &klen, &type);
    char fp[64];
    LIBSSH2_KNOWNHOSTS *kh = NULL;

    if (!key)
        return oh_err_set(err, OH_EPERM, "server sent no host key");
    fp_sha256(t->ss, fp);
    snprintf(offered + strlen(offered), on - strlen(offered), "%s%s %s", offered[0] ? ", " : "",
             hostkey_name(type), fp);
    for (size_t i = 0; i < t->npins; i++)
        if (strcmp(t->pins[i], fp) == 0)
            return HK_OK;
    if (t->known_hosts) {
        struct libssh2_knownhost *ent = NULL;
        int r;
        if (!(kh = libssh2_knownhost_init(t->ss)))
            return oh_err_set(err, OH_ERROR, "out of memory");
        if (libssh2_knownhost_readfile(kh, t->known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
            rc = oh_err_set(err, OH_EPERM, "cannot read known_hosts %s: %s", t->known_hosts,
                            oh_sftp_errmsg(t->ss));
            goto done;
        }
        r = libssh2_knownhost_checkp(kh, t->host, t->port, key, klen,
                                     LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                         knownhost_keytype(type),
                                     &ent);
        if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
            rc = HK_OK;
        } else if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
            rc = oh_err_set(err, OH_EPERM,
                            "host key for %s port %d has CHANGED (known_hosts %s lists a "
                            "different %s key): server offered %s %s; refusing to connect "
                            "(possible man-in-the-middle; if the partner really changed it, "
                            "verify the new fingerprint with them and update known_hosts)",
                            t->host, t->port, t->known_hosts, hostkey_name(type),
                            hostkey_name(type), fp);
        } else if (r == LIBSSH2_KNOWNHOST_CHECK_FAILURE) {
            rc = oh_err_set(err, OH_EPERM, "known_hosts check failed: %s", oh_sftp_errmsg(t->ss));
        }
    }
done:
    if (kh)
        libssh2_knownhost_free(kh);
    return rc;
}

static int classify_ssh(struct oh_sftp *t, int lrc, const char *what, struct oh_err *err)
{
    if (lrc == LIBSSH2_ERROR_TIMEOUT)
        return oh_err_retry(err, OH_EAGAIN, "%s: timed out after %lld ms", what,
                            (long long)t->timeout_ms);
    return oh_err_retry(err, OH_EAGAIN, "%s: %s", what, oh_sftp_errmsg(t->ss));
}

static int authenticate(struct oh_sftp *t, struct oh_err *err)
{
    unsigned ulen = (unsigned)strlen(t->user);
    int lrc = 0;
    const char *how = "";

    if (t->key) {
        lrc = libssh2_userauth_publickey_fromfile_ex(t->ss, t->user, ulen, NULL, t->key,
                                                     t->passphrase ? t->passphrase : "");
        if (lrc == 0)
            return 0;
        how = "key";
        if (lrc != LIBSSH2_ERROR_AUTHENTICATION_FAILED && lrc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED &&
            lrc != LIBSSH2_ERROR_FILE && lrc != LIBSSH2_ERROR_METHOD_NOT_SUPPORTED &&
            lrc != LIBSSH2_ERROR_PUBLICKEY_PROTOCOL)
            return classify_ssh(t, lrc, "authentication", err);
    }
    if (t->password) {
        lrc = libssh2_userauth_password_ex(t->ss, t->user, ulen, t->password,
                                           (unsigned)strlen(t->password), NULL);
        if (lrc == 0)
            return 0;
        how = t->key ? "key and password" : "password";
        if (lrc != LIBSSH2_ERROR_AUTHENTICATION_FAILED && lrc != LIBSSH2_ERROR_PASSWORD_EXPIRED &&
            lrc != LIBSSH2_ERROR_METHOD_NOT_SUPPORTED)
            return classify_ssh(t, lrc, "authentication", err);
    }
    return oh_err_set(err, OH_EPERM, "authentication as %s refused (%s): %s", t->user, how,
                      lrc == LIBSSH2_ERROR_FILE ? "cannot use the private key file (unreadable, "
                                                  "unsupported format or wrong passphrase)"
                                                : oh_sftp_errmsg(t->ss));
}

/* One connection attempt with host key family fam. HK_NEXT: try the next. */
static int connect_family(struct oh_sftp *t, int fam, char *offered, size_t on, struct oh_err *err)
{
    char algs[256];
    int rc, lrc;

    if ((rc = tcp_connect(t, err)) < 0)
        goto done;
    if (!(t->ss = libssh2_session_init())) {
        rc = oh_err_set(err, OH_ERROR, "cannot create an SSH session");
        goto done;
    }
    libssh2_session_set_blocking(t->ss, 1);
    libssh2_session_set_timeout(t->ss, (long)t->timeout_ms);
    if (family_algs(t->ss, fam, algs, sizeof(algs)) < 0) {
        rc = HK_NEXT;
        goto done;
    }
    if (libssh2_session_method_pref(t->ss, LIBSSH2_METHOD_HOSTKEY, algs) < 0) {
        rc = HK_NEXT;
        goto done;
    }
    if ((lrc = libssh2_session_handshake(t->ss, t->sock)) < 0) {
        /* The server has no key of this family: not an error yet. */
        if (lrc == LIBSSH2_ERROR_KEX_FAILURE || lrc == LIBSSH2_ERROR_METHOD_NONE)
            rc = HK_NEXT;
        else
            rc = classify_ssh(t, lrc, "SSH handshake", err);
        goto done;
    }
    if ((rc = check_hostkey(t, offered, on, err)) != HK_OK)
        goto done;
    if ((rc = authenticate(t, err)) < 0)
        goto done;
    if (!(t->sftp = libssh2_sftp_init(t->ss))) {
        rc = classify_ssh(t, libssh2_session_last_errno(t->ss), "SFTP subsystem", err);
        goto done;
    }
    if (t->keepalive_s > 0)
        libssh2_keepalive_config(t->ss, 1, (unsigned)t->keepalive_s);
    rc = 0;
done:
    if (rc != 0) {
        t->lost = 1; /* nothing to say goodbye to */
        oh_sftp_drop(t);
    }
    return rc;
}

static int do_connect(struct oh_sftp *t, struct oh_err *err)
{
    char offered[512] = "";
    int rc = HK_NEXT;
    for (int fam = 0; fam < NFAMILIES && rc == HK_NEXT; fam++)
        rc = connect_family(t, fam, offered, sizeof(offered), err);
    if (rc == HK_NEXT) {
        if (!offered[0])
            rc = oh_err_set(err, OH_EPERM,
                            "SSH handshake with %s port %d failed for every host key type "
                            "(ed25519, ECDSA, RSA): no algorithms in common",
                            t->host, t->port);
        else
            rc = oh_err_set(err, OH_EPERM,
                            "host key for %s port %d is not known (%s%s%s%s): server offered "
                            "%s; refusing to connect (check the fingerprint with the partner, "
                            "then add it to known_hosts or host_key)",
                            t->host, t->port, t->known_hosts ? "not in " : "",
                            t->known_hosts ? t->known_hosts : "",
                            t->known_hosts && t->npins ? " and " : "",
                            t->npins ? "not the pinned host_key" : "", offered);
    }
    return rc;
}

/* Makes sure there is a live connection; *fresh = 1 when it was just made. */
int oh_sftp_ensure(struct oh_sftp *t, int *fresh, struct oh_err *err)
{
    int64_t now = oh_mono_ms();
    int rc, next = 0;
    char hb[128], ub[128], eb[1200];
    struct oh_err local;

    if (!err)
        err = &local; /* the message is kept for the backoff window */
    *fresh = 0;
    if (t->ss) {
        if (now - t->last_used > t->idle_ms) {
            oh_sftp_drop(t);
        } else if (t->keepalive_s > 0 && libssh2_keepalive_send(t->ss, &next) < 0) {
            t->lost = 1;
            oh_sftp_drop(t);
        } else {
            return 0;
        }
    }
    if (t->fails > 0 && now < t->next_try) {
        rc = oh_err_set(err, t->last_err.code, "%s (next connect attempt in %lld ms)",
                        t->last_err.msg, (long long)(t->next_try - now));
        err->retryable = t->last_err.retryable;
        return rc;
    }
    if ((rc = do_connect(t, err)) < 0) {
        t->next_try = now + (t->backoff_ms > 0
                                 ? oh_backoff_ms(t->fails, t->backoff_ms, OH_SFTP_BACKOFF_MAX_MS)
                                 : 0);
        t->fails++;
        oh_err_prefix(err, "sftp %s: %s@%s:%d", t->chan, t->user, t->host, t->port);
        t->last_err = *err;
        oh_warn("sftp.connect_failed", "channel=%s host=%s port=%d code=%s retry_in_ms=%lld error=%s",
                t->chan, oh_logq(hb, sizeof(hb), t->host), t->port, oh_strcode(rc),
                (long long)(t->next_try - now), oh_logq(eb, sizeof(eb), err->msg));
        return rc;
    }
    t->fails = 0;
    t->last_used = now;
    *fresh = 1;
    oh_info("sftp.connected", "channel=%s host=%s port=%d user=%s", t->chan,
            oh_logq(hb, sizeof(hb), t->host), t->port, oh_logq(ub, sizeof(ub), t->user));
    return 0;
}
