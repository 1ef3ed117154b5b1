/*
 * transport.c — the SFTP side of struct oh_file_transport (see sftp.h for the
 * settings and promises).
 *
 * Connection life cycle, per transport:
 *
 *   (none) ──connect ok──► up ──call fails on the socket/timeout──► (none)
 *     │  ▲                  │
 *     │  └──backoff over────┤ idle > idle_timeout or keepalive fails: replaced
 *     └──connect fails──► backoff (calls return the last error at once)
 *
 * A call on a reused connection that finds it dead reconnects once and runs
 * again, unless it already handed bytes to a sink (fetch) — then it fails and
 * the engine retries on the next poll.
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
#include "sftp.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define CHUNK (256 * 1024)       /* one read/write call; libssh2 pipelines it */
#define BACKOFF_MAX_MS (5 * 60 * 1000)

struct seen_size {
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
    struct seen_size *seen; /* sizes from the last list(), for fetch */
    size_t nseen;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static void lib_init(void) { init_rc = libssh2_init(0); }

/* ---- small helpers ------------------------------------------------------- */

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static char *join(const char *dir, const char *name)
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
static int parse_url(struct oh_sftp *t, const char *url, struct oh_err *err)
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
        t->host = xstrndup(hs + 1, (size_t)(he - hs - 1));
        he++;
    } else {
        he = hs;
        while (he < slash && *he != ':')
            he++;
        t->host = xstrndup(hs, (size_t)(he - hs));
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
static int parse_pins(struct oh_sftp *t, const char *v, struct oh_err *err)
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
            if (!(t->pins[t->npins] = xstrndup(p, n)))
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

static const char *ssh_errmsg(LIBSSH2_SESSION *ss)
{
    char *m = NULL;
    if (!ss)
        return "no session";
    libssh2_session_last_error(ss, &m, NULL, 0);
    return m && *m ? m : "unknown error";
}

/* ---- connection ---------------------------------------------------------- */

static void drop(struct oh_sftp *t)
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
                            ssh_errmsg(t->ss));
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
            rc = oh_err_set(err, OH_EPERM, "known_hosts check failed: %s", ssh_errmsg(t->ss));
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
    return oh_err_retry(err, OH_EAGAIN, "%s: %s", what, ssh_errmsg(t->ss));
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
                                                : ssh_errmsg(t->ss));
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
        drop(t);
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
            rc = oh_err_set(err, OH_EPERM, "no host key algorithm in common with %s port %d",
                            t->host, t->port);
        else
            rc = oh_err_set(err, OH_EPERM,
                            "host key for %s port %d is not known%s%s%s: server offered %s; "
                            "refusing to connect (check the fingerprint with the partner, then "
                            "add it to known_hosts or host_key)",
                            t->host, t->port, t->known_hosts ? " (not in " : "",
                            t->known_hosts ? t->known_hosts : "", t->known_hosts ? ")" : "",
                            offered);
    }
    return rc;
}

/* Makes sure there is a live connection; *fresh = 1 when it was just made. */
static int ensure(struct oh_sftp *t, int *fresh, struct oh_err *err)
{
    int64_t now = oh_mono_ms();
    int rc, next = 0;
    char hb[128];

    *fresh = 0;
    if (t->ss) {
        if (now - t->last_used > t->idle_ms) {
            drop(t);
        } else if (t->keepalive_s > 0 && libssh2_keepalive_send(t->ss, &next) < 0) {
            t->lost = 1;
            drop(t);
        } else {
            return 0;
        }
    }
    if (t->fails > 0 && now < t->next_try) {
        rc = oh_err_set(err, t->last_err.code, "%s (next connect attempt in %lld ms)",
                        t->last_err.msg, (long long)(t->next_try - now));
        if (err)
            err->retryable = t->last_err.retryable;
        return rc;
    }
    if ((rc = do_connect(t, err)) < 0) {
        t->next_try = now + (t->backoff_ms > 0
                                 ? oh_backoff_ms(t->fails, t->backoff_ms, BACKOFF_MAX_MS)
                                 : 0);
        t->fails++;
        oh_err_prefix(err, "sftp %s: %s@%s:%d", t->chan, t->user, t->host, t->port);
        if (err)
            t->last_err = *err;
        oh_warn("sftp.connect_failed", "channel=%s host=%s port=%d code=%s", t->chan,
                oh_logq(hb, sizeof(hb), t->host), t->port, oh_strcode(rc));
        return rc;
    }
    t->fails = 0;
    t->last_used = now;
    *fresh = 1;
    oh_info("sftp.connected", "channel=%s host=%s port=%d user=%s", t->chan,
            oh_logq(hb, sizeof(hb), t->host), t->port, t->user);
    return 0;
}

/* ---- SFTP error mapping -------------------------------------------------- */

/* Maps the last libssh2 failure of a call on path. Marks the connection lost
 * when it was not a plain SFTP status. */
static int sftp_fail(struct oh_sftp *t, const char *what, const char *path, struct oh_err *err)
{
    int lrc = libssh2_session_last_errno(t->ss);
    if (lrc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
        unsigned long st = libssh2_sftp_last_error(t->sftp);
        switch (st) {
        case LIBSSH2_FX_NO_SUCH_FILE:
        case LIBSSH2_FX_NO_SUCH_PATH:
            return oh_err_set(err, OH_ENOTFOUND, "sftp %s: %s %s: no such file or directory",
                              t->chan, what, path);
        case LIBSSH2_FX_PERMISSION_DENIED:
        case LIBSSH2_FX_WRITE_PROTECT:
            return oh_err_set(err, OH_EPERM, "sftp %s: %s %s: permission denied", t->chan, what,
                              path);
        case LIBSSH2_FX_FILE_ALREADY_EXISTS:
            return oh_err_set(err, OH_EEXIST, "sftp %s: %s %s: already exists", t->chan, what,
                              path);
        default:
            return oh_err_retry(err, OH_EAGAIN, "sftp %s: %s %s: server says status %lu",
                                t->chan, what, path, st);
        }
    }
    t->lost = 1;
    shutdown(t->sock, SHUT_RDWR); /* later calls on it fail at once */
    if (lrc == LIBSSH2_ERROR_TIMEOUT)
        return oh_err_retry(err, OH_EAGAIN, "sftp %s: %s %s: timed out after %lld ms", t->chan,
                            what, path, (long long)t->timeout_ms);
    return oh_err_retry(err, OH_EAGAIN, "sftp %s: %s %s: connection failed: %s", t->chan, what,
                        path, ssh_errmsg(t->ss));
}

/* Runs body with a live connection; reconnects and runs it once more when a
 * reused connection turned out dead and body made no irreversible progress. */
struct call {
    int (*body)(struct oh_sftp *t, struct call *c, struct oh_err *err);
    const char *name;
    int progress;
    /* arguments and results */
    const char *fname;
    struct oh_file_info *files;
    size_t nfiles;
    int exists;
    int (*sink)(void *ud, const void *buf, size_t len, struct oh_err *err);
    void *ud;
    const void *data;
    size_t len;
    int overwrite;
};

static int run(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    int rc = OH_ERROR;
    pthread_mutex_lock(&t->mu);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = 0;
        if ((rc = ensure(t, &fresh, err)) < 0)
            break;
        c->progress = 0;
        t->lost = 0;
        rc = c->body(t, c, err);
        t->last_used = oh_mono_ms();
        if (rc < 0 && t->lost) {
            drop(t);
            if (!fresh && !c->progress) {
                oh_info("sftp.reconnect", "channel=%s op=%s reason=stale_connection", t->chan,
                        c->name);
                continue;
            }
        }
        break;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* ---- operations ---------------------------------------------------------- */

static void seen_clear(struct oh_sftp *t)
{
    for (size_t i = 0; i < t->nseen; i++)
        free(t->seen[i].name);
    free(t->seen);
    t->seen = NULL;
    t->nseen = 0;
}

/* Same as oh_file_infos_free; kept here so the transport does not need the
 * engine's library (EDI and tests use the transport alone). */
static void infos_free(struct oh_file_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

static int body_list(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    struct oh_file_info *v = NULL;
    size_t n = 0, cap = 0;
    char name[1024];
    int rc = 0;

    if (!(h = libssh2_sftp_opendir(t->sftp, t->dir))) {
        rc = sftp_fail(t, "list", t->dir, err);
        goto done;
    }
    for (;;) {
        LIBSSH2_SFTP_ATTRIBUTES a;
        int r = libssh2_sftp_readdir(h, name, sizeof(name) - 1, &a);
        if (r == 0)
            break;
        if (r < 0) {
            rc = sftp_fail(t, "list", t->dir, err);
            goto done;
        }
        name[r] = 0;
        if (!(a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) || !LIBSSH2_SFTP_S_ISREG(a.permissions))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            struct oh_file_info *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = oh_err_set(err, OH_ERROR, "out of memory");
                goto done;
            }
            v = nv;
            cap = nc;
        }
        v[n].name = strdup(name);
        v[n].size = (a.flags & LIBSSH2_SFTP_ATTR_SIZE) ? (int64_t)a.filesize : -1;
        v[n].mtime = (a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (int64_t)a.mtime : 0;
        if (!v[n].name) {
            rc = oh_err_set(err, OH_ERROR, "out of memory");
            goto done;
        }
        n++;
    }
    /* Remember the listed sizes so fetch can check it read them all. */
    seen_clear(t);
    if (n && (t->seen = calloc(n, sizeof(*t->seen)))) {
        for (size_t i = 0; i < n; i++) {
            t->seen[i].name = strdup(v[i].name);
            t->seen[i].size = v[i].size;
            if (t->seen[i].name)
                t->nseen++;
        }
    }
    c->files = v;
    c->nfiles = n;
    v = NULL;
    n = 0;
done:
    if (h)
        libssh2_sftp_closedir(h);
    infos_free(v, n);
    return rc;
}

static int tp_list(void *tv, struct oh_file_info **files, size_t *n, struct oh_err *err)
{
    struct call c = {.body = body_list, .name = "list"};
    int rc = run(tv, &c, err);
    *files = rc < 0 ? NULL : c.files;
    *n = rc < 0 ? 0 : c.nfiles;
    return rc;
}

static int body_exists(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *p = join(t->dir, c->fname);
    int rc = 0;
    if (!p)
        return oh_err_set(err, OH_ERROR, "out of memory");
    if (libssh2_sftp_stat(t->sftp, p, &a) == 0) {
        c->exists = 1;
    } else if ((rc = sftp_fail(t, "stat", p, err)) == OH_ENOTFOUND) {
        c->exists = 0;
        rc = 0;
    }
    free(p);
    return rc;
}

static int tp_exists(void *tv, const char *name, int *exists, struct oh_err *err)
{
    struct call c = {.body = body_exists, .name = "exists", .fname = name};
    int rc = run(tv, &c, err);
    *exists = rc < 0 ? 0 : c.exists;
    return rc;
}

/* Cuts the connection under libssh2's feet (test fault hooks). */
static void cut(struct oh_sftp *t) { shutdown(t->sock, SHUT_RDWR); }

static int body_fetch(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *p = join(t->dir, c->fname), *buf = NULL;
    int64_t want = -1, got = 0;
    int rc = 0;

    if (!p || !(buf = malloc(CHUNK))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (!(h = libssh2_sftp_open(t->sftp, p, LIBSSH2_FXF_READ, 0))) {
        rc = sftp_fail(t, "open", p, err);
        goto done;
    }
    for (size_t i = 0; i < t->nseen; i++)
        if (strcmp(t->seen[i].name, c->fname) == 0)
            want = t->seen[i].size;
    if (want < 0 && libssh2_sftp_fstat(h, &a) == 0 && (a.flags & LIBSSH2_SFTP_ATTR_SIZE))
        want = (int64_t)a.filesize;
    for (;;) {
        ssize_t r = libssh2_sftp_read(h, buf, CHUNK);
        if (r == 0)
            break;
        if (r < 0) {
            rc = sftp_fail(t, "read", p, err);
            goto done;
        }
        c->progress = 1;
        got += r;
        if ((rc = c->sink(c->ud, buf, (size_t)r, err)) < 0)
            goto done;
        if (OH_FAULT("sftp.download"))
            cut(t);
    }
    if (want >= 0 && got != want) {
        rc = oh_err_retry(err, OH_EAGAIN,
                          "sftp %s: read %s: got %lld bytes but the server listed %lld (file "
                          "changed or transfer cut short)",
                          t->chan, p, (long long)got, (long long)want);
        goto done;
    }
done:
    if (h)
        libssh2_sftp_close(h);
    free(buf);
    free(p);
    return rc;
}

static int tp_fetch(void *tv, const char *name,
                    int (*sink)(void *ud, const void *buf, size_t len, struct oh_err *err),
                    void *ud, struct oh_err *err)
{
    struct call c = {.body = body_fetch, .name = "fetch", .fname = name, .sink = sink, .ud = ud};
    return run(tv, &c, err);
}

/* mkdir -p of an absolute or relative remote path. */
static int mkdirs(struct oh_sftp *t, const char *dir, struct oh_err *err)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *p = strdup(dir);
    int rc = 0;
    if (!p)
        return oh_err_set(err, OH_ERROR, "out of memory");
    if (libssh2_sftp_stat(t->sftp, p, &a) == 0)
        goto done;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (libssh2_sftp_stat(t->sftp, p, &a) != 0) {
                if ((rc = sftp_fail(t, "stat", p, err)) != OH_ENOTFOUND)
                    goto done;
                rc = 0;
                if (libssh2_sftp_mkdir(t->sftp, p, 0750) != 0 &&
                    libssh2_sftp_stat(t->sftp, p, &a) != 0) { /* lost a race: fine */
                    rc = sftp_fail(t, "mkdir", p, err);
                    goto done;
                }
            }
            *s = c;
            if (!c)
                break;
        }
    }
done:
    free(p);
    return rc;
}

static int body_archive(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *src = join(t->dir, c->fname), *dst = join(t->archive_dir, c->fname), *alt = NULL;
    int rc;

    if (!src || !dst) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if ((rc = mkdirs(t, t->archive_dir, err)) < 0)
        goto done;
    if (libssh2_sftp_rename_ex(t->sftp, src, (unsigned)strlen(src), dst, (unsigned)strlen(dst),
                               LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) == 0)
        goto done;
    if ((rc = sftp_fail(t, "archive", src, err)) == OH_ENOTFOUND || t->lost)
        goto done;
    /* A file of that name was archived before (partners reuse names): keep
     * both, the new one with a time suffix. */
    if (libssh2_sftp_stat(t->sftp, dst, &a) != 0) {
        rc = sftp_fail(t, "stat", dst, err);
        goto done;
    }
    if (!(alt = malloc(strlen(dst) + 32))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    sprintf(alt, "%s.%lld", dst, (long long)oh_now_ms());
    rc = 0;
    if (libssh2_sftp_rename_ex(t->sftp, src, (unsigned)strlen(src), alt, (unsigned)strlen(alt),
                               LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) != 0)
        rc = sftp_fail(t, "archive", src, err);
done:
    free(src);
    free(dst);
    free(alt);
    return rc;
}

static int tp_archive(void *tv, const char *name, struct oh_err *err)
{
    struct call c = {.body = body_archive, .name = "archive", .fname = name};
    return run(tv, &c, err);
}

static int body_remove(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    char *p = join(t->dir, c->fname);
    int rc = 0;
    if (!p)
        return oh_err_set(err, OH_ERROR, "out of memory");
    if (libssh2_sftp_unlink(t->sftp, p) != 0)
        rc = sftp_fail(t, "remove", p, err);
    free(p);
    return rc;
}

static int tp_remove(void *tv, const char *name, struct oh_err *err)
{
    struct call c = {.body = body_remove, .name = "remove", .fname = name};
    return run(tv, &c, err);
}

static int body_put(struct oh_sftp *t, struct call *c, struct oh_err *err)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    LIBSSH2_SFTP_ATTRIBUTES a;
    char *dst = join(t->dir, c->fname), *tmp = NULL, *tname = NULL;
    const char *d = c->data;
    size_t off = 0;
    int rc = 0, written = 0;

    if (!dst || strchr(c->fname, '/') || !c->fname[0]) {
        rc = dst ? oh_err_set(err, OH_EINVAL, "sftp %s: bad file name \"%s\"", t->chan, c->fname)
                 : oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (t->mkdirs && (rc = mkdirs(t, t->dir, err)) < 0)
        goto done;
    if (!c->overwrite) {
        if (libssh2_sftp_stat(t->sftp, dst, &a) == 0) {
            rc = oh_err_set(err, OH_EEXIST, "sftp %s: %s already exists (overwrite = no)",
                            t->chan, dst);
            goto done;
        }
        if ((rc = sftp_fail(t, "stat", dst, err)) != OH_ENOTFOUND)
            goto done;
        oh_err_clear(err);
        rc = 0;
    }
    if (!(tname = malloc(strlen(c->fname) + (t->tmp_prefix ? strlen(t->tmp_prefix) : 0) + 8))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (t->tmp_prefix)
        sprintf(tname, "%s%s", t->tmp_prefix, c->fname);
    else
        sprintf(tname, "%s.part", c->fname);
    if (!(tmp = join(t->dir, tname))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    h = libssh2_sftp_open(t->sftp, tmp, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
                          0640);
    if (!h) {
        rc = sftp_fail(t, "create", tmp, err);
        goto done;
    }
    written = 1;
    while (off < c->len) {
        size_t n = c->len - off < CHUNK ? c->len - off : CHUNK;
        ssize_t w = libssh2_sftp_write(h, d + off, n);
        if (w < 0) {
            rc = sftp_fail(t, "write", tmp, err);
            goto done;
        }
        off += (size_t)w;
        if (OH_FAULT("sftp.upload"))
            cut(t);
    }
    /* The close reply is where a server reports a failed final write. */
    if (libssh2_sftp_close(h) != 0) {
        h = NULL;
        rc = sftp_fail(t, "close", tmp, err);
        goto done;
    }
    h = NULL;
    if (libssh2_sftp_rename_ex(t->sftp, tmp, (unsigned)strlen(tmp), dst, (unsigned)strlen(dst),
                               LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE |
                                   (c->overwrite ? LIBSSH2_SFTP_RENAME_OVERWRITE : 0)) == 0)
        goto done;
    if ((rc = sftp_fail(t, "rename", tmp, err)) < 0 && t->lost)
        goto done;
    /* SFTP v3 rename (OpenSSH) refuses an existing target. */
    if (libssh2_sftp_stat(t->sftp, dst, &a) != 0) {
        rc = sftp_fail(t, "stat", dst, err);
        goto done;
    }
    if (!c->overwrite) {
        rc = oh_err_set(err, OH_EEXIST, "sftp %s: %s appeared while uploading (overwrite = no)",
                        t->chan, dst);
        goto done;
    }
    /* XXX libssh2 1.10 has no posix-rename@openssh.com: replacing is unlink
     * + rename, so for an instant the final name is absent (never partial). */
    if (libssh2_sftp_unlink(t->sftp, dst) != 0 && (rc = sftp_fail(t, "remove", dst, err)) != OH_ENOTFOUND)
        goto done;
    rc = 0;
    if (libssh2_sftp_rename(t->sftp, tmp, dst) != 0)
        rc = sftp_fail(t, "rename", tmp, err);
done:
    if (h)
        libssh2_sftp_close(h);
    if (rc < 0 && written && !t->lost)
        libssh2_sftp_unlink(t->sftp, tmp); /* best effort: leave no .part */
    if (rc == 0)
        c->progress = 1;
    free(dst);
    free(tmp);
    free(tname);
    return rc;
}

static int tp_put(void *tv, const char *name, const void *data, size_t len, int overwrite,
                  struct oh_err *err)
{
    struct call c = {.body = body_put, .name = "put", .fname = name, .data = data, .len = len,
                     .overwrite = overwrite};
    return run(tv, &c, err);
}

const struct oh_file_transport oh_sftp_transport = {
    .kind = "sftp",
    .list = tp_list,
    .exists = tp_exists,
    .fetch = tp_fetch,
    .archive = tp_archive,
    .remove = tp_remove,
    .put = tp_put,
};

/* ---- open / close -------------------------------------------------------- */

void oh_sftp_transport_disconnect(void *tv)
{
    struct oh_sftp *t = tv;
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    drop(t);
    t->fails = 0;
    pthread_mutex_unlock(&t->mu);
}

void oh_sftp_transport_close(void *tv)
{
    struct oh_sftp *t = tv;
    if (!t)
        return;
    drop(t);
    pthread_mutex_destroy(&t->mu);
    seen_clear(t);
    oh_secret_free(t->password);
    oh_secret_free(t->passphrase);
    for (size_t i = 0; i < t->npins; i++)
        free(t->pins[i]);
    free(t->pins);
    free(t->chan);
    free(t->user);
    free(t->host);
    free(t->dir);
    free(t->archive_dir);
    free(t->tmp_prefix);
    free(t->key);
    free(t->known_hosts);
    explicit_bzero(&t->last_err, sizeof(t->last_err));
    free(t);
}

static int dup_opt(const struct oh_conf_section *cfg, const char *key, char **out, struct oh_err *err)
{
    const char *v = oh_conf_get(cfg, key);
    *out = NULL;
    if (!v || !*v)
        return 0;
    if (!(*out = strdup(v)))
        return oh_err_set(err, OH_ERROR, "out of memory");
    return 0;
}

int oh_sftp_transport_open(const struct oh_conf_section *cfg, const char *channel_name, void **out,
                           const struct oh_file_transport **tp, struct oh_err *err)
{
    struct oh_sftp *t = NULL;
    const char *url, *pins, *arch;
    int rc;

    *out = NULL;
    pthread_once(&init_once, lib_init);
    if (init_rc != 0)
        return oh_err_set(err, OH_ERROR, "libssh2 failed to initialise");
    if (!(t = calloc(1, sizeof(*t))))
        return oh_err_set(err, OH_ERROR, "out of memory");
    t->sock = -1;
    pthread_mutex_init(&t->mu, NULL);
    if (!(t->chan = strdup(channel_name ? channel_name : "?"))) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    if (!(url = oh_conf_get(cfg, "url"))) {
        rc = oh_err_set(err, OH_EINVAL, "missing url = sftp://USER@HOST[:PORT]/PATH");
        goto done;
    }
    if ((rc = parse_url(t, url, err)) < 0)
        goto done;
    if ((rc = dup_opt(cfg, "key", &t->key, err)) < 0 ||
        (rc = oh_conf_secret(cfg, "key_passphrase", &t->passphrase, err)) < 0 ||
        (rc = oh_conf_secret(cfg, "password", &t->password, err)) < 0 ||
        (rc = dup_opt(cfg, "known_hosts", &t->known_hosts, err)) < 0 ||
        (rc = dup_opt(cfg, "tmp_prefix", &t->tmp_prefix, err)) < 0 ||
        (rc = oh_conf_bool(cfg, "mkdirs", 0, &t->mkdirs, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "timeout", 30000, &t->timeout_ms, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "keepalive", 15000, &t->keepalive_s, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "idle_timeout", 300000, &t->idle_ms, err)) < 0 ||
        (rc = oh_conf_duration_ms(cfg, "reconnect_backoff", 1000, &t->backoff_ms, err)) < 0)
        goto done;
    t->keepalive_s /= 1000;
    if (t->timeout_ms <= 0)
        t->timeout_ms = 30000;
    if (!t->key && !t->password) {
        rc = oh_err_set(err, OH_EINVAL, "needs key = PATH or password = env:NAME|file:PATH");
        goto done;
    }
    if (t->key && access(t->key, R_OK) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "key %s: %s", t->key, strerror(errno));
        goto done;
    }
    if ((pins = oh_conf_get(cfg, "host_key")) && (rc = parse_pins(t, pins, err)) < 0)
        goto done;
    if (!t->known_hosts && t->npins == 0) {
        rc = oh_err_set(err, OH_EINVAL,
                        "needs known_hosts = PATH or host_key = SHA256:... (host key "
                        "verification cannot be turned off; get the key with ssh-keyscan and "
                        "check its fingerprint with ssh-keygen -lf)");
        goto done;
    }
    if (t->known_hosts && access(t->known_hosts, R_OK) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "known_hosts %s: %s", t->known_hosts, strerror(errno));
        goto done;
    }
    if (t->tmp_prefix && strchr(t->tmp_prefix, '/')) {
        rc = oh_err_set(err, OH_EINVAL, "tmp_prefix must not contain '/'");
        goto done;
    }
    arch = oh_conf_get_or(cfg, "archive_dir", "processed");
    if (arch[0] == '/')
        t->archive_dir = strdup(arch);
    else
        t->archive_dir = join(t->dir, arch);
    if (!t->archive_dir) {
        rc = oh_err_set(err, OH_ERROR, "out of memory");
        goto done;
    }
    for (size_t n = strlen(t->archive_dir); n > 1 && t->archive_dir[n - 1] == '/'; n--)
        t->archive_dir[n - 1] = 0;
    rc = 0;
done:
    if (rc < 0) {
        oh_err_prefix(err, "%s%s[channel %s]", cfg && cfg->path ? cfg->path : "",
                      cfg && cfg->path ? ": " : "", t && t->chan ? t->chan : "?");
        oh_sftp_transport_close(t);
        return rc;
    }
    *out = t;
    if (tp)
        *tp = &oh_sftp_transport;
    return 0;
}
