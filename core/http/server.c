/*
 * server.c — the webhook and health endpoint (libmicrohttpd), see http.h.
 *
 * Request life: MHD calls on_request first with no body (we route and check
 * Content-Length against max_body here, so an oversized upload is refused
 * before a byte of it is buffered), then once per body chunk (appended to a
 * buffer that never grows past max_body), then a last time with no data,
 * when the handler runs and the response is queued.
 *
 * The handler callbacks run on MHD's worker threads (a pool of `threads`,
 * or one thread per connection with threads = 0); they must be
 * thread-safe. A handler that returns without setting a status yields 500.
 * GET /metrics is routed only when a metrics handler is given.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"

struct oh_http_server {
    struct MHD_Daemon *d;
    struct oh_http_server_opts o;
    struct oh_http_handlers h;
    int port;
};

enum route { R_NONE = 0, R_WEBHOOK, R_HEALTH, R_METRICS };

struct conn {
    enum route route;
    char *body;
    size_t len, cap;
    int too_big;
    char channel[128];
};

void oh_http_resp_set(struct oh_http_resp *resp, int status, const char *content_type,
                      const char *body, size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->body = malloc(len + 1);
    if (!resp->body)
        abort();
    memcpy(resp->body, body, len);
    resp->body[len] = '\0';
    resp->body_len = len;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s",
             content_type ? content_type : "application/json");
}

void oh_http_resp_json(struct oh_http_resp *resp, int status, const char *fmt, ...)
{
    char msg[512], esc[1100], body[1200];
    size_t j = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (const char *p = msg; *p && j + 7 < sizeof(esc); p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            esc[j++] = '\\';
            esc[j++] = (char)ch;
        } else if (ch < 0x20) {
            j += (size_t)snprintf(esc + j, sizeof(esc) - j, "\\u%04x", ch);
        } else {
            esc[j++] = (char)ch;
        }
    }
    esc[j] = '\0';
    snprintf(body, sizeof(body), "{\"status\":%d,\"message\":\"%s\"}\n", status, esc);
    oh_http_resp_set(resp, status, "application/json", body, strlen(body));
}

void oh_http_server_opts_default(struct oh_http_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->listen, sizeof(o->listen), "127.0.0.1:8080");
    o->max_body = 1 << 20;
    o->timeout_ms = 30000;
    o->threads = 4;
    o->max_connections = 256;
}

int oh_http_server_opts_from_conf(const struct oh_conf_section *s, struct oh_http_server_opts *o,
                                  struct oh_err *err)
{
    long threads = 4, maxc = 256;
    const char *listen;
    int rc;

    oh_http_server_opts_default(o);
    if (!s)
        return 0;
    if ((listen = oh_conf_get(s, "listen")) != NULL) {
        if (strlen(listen) >= sizeof(o->listen))
            return oh_err_set(err, OH_EINVAL, "%s:%d: listen: too long", s->path,
                              oh_conf_line(s, "listen"));
        snprintf(o->listen, sizeof(o->listen), "%s", listen);
    }
    if ((rc = oh_conf_size(s, "max_body", o->max_body, &o->max_body, err)) < 0 ||
        (rc = oh_conf_duration_ms(s, "timeout", o->timeout_ms, &o->timeout_ms, err)) < 0 ||
        (rc = oh_conf_int(s, "threads", threads, &threads, err)) < 0 ||
        (rc = oh_conf_int(s, "max_connections", maxc, &maxc, err)) < 0)
        return rc;
    if (threads < 0 || threads > 256)
        return oh_err_set(err, OH_EINVAL,
                          "%s:%d: threads: must be 0 (a thread per connection) or 1..256",
                          s->path, oh_conf_line(s, "threads"));
    if (o->max_body < 1)
        return oh_err_set(err, OH_EINVAL, "%s:%d: max_body: must be positive", s->path,
                          oh_conf_line(s, "max_body"));
    o->threads = (int)threads;
    o->max_connections = (int)maxc;
    return 0;
}

/* "127.0.0.1:8080", "[::1]:8080", "8080" (all IPv4 interfaces). */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl, int *v6,
                        struct oh_err *err)
{
    char host[128];
    const char *port;
    char *end;
    long p;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(host))
            return oh_err_set(err, OH_EINVAL, "http: listen '%s': expected [ADDR]:PORT", s);
        memcpy(host, s + 1, (size_t)(e - s - 1));
        host[e - s - 1] = '\0';
        port = e + 2;
        *v6 = 1;
    } else {
        const char *c = strrchr(s, ':');
        if (!c) {
            snprintf(host, sizeof(host), "0.0.0.0");
            port = s;
        } else {
            if ((size_t)(c - s) >= sizeof(host))
                return oh_err_set(err, OH_EINVAL, "http: listen '%s': host too long", s);
            memcpy(host, s, (size_t)(c - s));
            host[c - s] = '\0';
            port = c + 1;
        }
        *v6 = 0;
    }
    errno = 0;
    p = strtol(port, &end, 10);
    if (end == port || *end || p < 0 || p > 65535)
        return oh_err_set(err, OH_EINVAL, "http: listen '%s': bad port", s);
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return oh_err_set(err, OH_EINVAL, "http: listen '%s': bad IPv6 address", s);
        *sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        if (strcmp(host, "localhost") == 0)
            snprintf(host, sizeof(host), "127.0.0.1");
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return oh_err_set(err, OH_EINVAL, "http: listen '%s': bad IPv4 address", s);
        *sl = sizeof(*a);
    }
    return 0;
}

struct req_impl {
    struct MHD_Connection *mc;
};

static const char *req_header(const struct oh_http_req *rq, const char *name)
{
    const struct req_impl *ri = rq->impl;
    /* MHD compares header names case-insensitively. */
    return MHD_lookup_connection_value(ri->mc, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_resp(struct MHD_Connection *mc, struct oh_http_resp *r)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    char ra[32];

    if (r->status == 0)
        oh_http_resp_json(r, 500, "handler gave no answer");
    mr = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"",
                                         MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, "Content-Type",
                            r->content_type[0] ? r->content_type : "application/json");
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    if (r->retry_after_s > 0) {
        snprintf(ra, sizeof(ra), "%ld", r->retry_after_s);
        MHD_add_response_header(mr, "Retry-After", ra);
    }
    ret = MHD_queue_response(mc, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result send_simple(struct MHD_Connection *mc, int status, const char *msg)
{
    struct oh_http_resp r = {0};
    enum MHD_Result ret;
    oh_http_resp_json(&r, status, "%s", msg);
    ret = send_resp(mc, &r);
    free(r.body);
    return ret;
}

static void peer_addr(struct MHD_Connection *mc, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    buf[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, buf,
                  (socklen_t)n);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, buf,
                  (socklen_t)n);
}

static int valid_channel(const char *s)
{
    if (!*s || strlen(s) >= 128)
        return 0;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct oh_http_server *s = cls;
    struct conn *c = *con_cls;
    struct oh_http_req rq;
    struct req_impl ri = {.mc = mc};
    struct oh_http_resp resp = {0};
    char remote[64];
    enum MHD_Result ret;

    (void)version;
    if (!c) {
        const char *cl;
        if (!(c = calloc(1, sizeof(*c))))
            return MHD_NO;
        *con_cls = c;
        if (strncmp(url, "/webhooks/", 10) == 0 && valid_channel(url + 10)) {
            c->route = R_WEBHOOK;
            snprintf(c->channel, sizeof(c->channel), "%s", url + 10);
            if (strcmp(method, "POST") != 0)
                return send_simple(mc, 405, "webhooks take POST");
        } else if (strcmp(url, "/healthz") == 0) {
            c->route = R_HEALTH;
            if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return send_simple(mc, 405, "healthz takes GET");
        } else if (strcmp(url, "/metrics") == 0 && s->h.metrics) {
            c->route = R_METRICS;
            if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return send_simple(mc, 405, "metrics takes GET");
        } else {
            return send_simple(mc, 404, "no such endpoint");
        }
        cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > s->o.max_body) {
            c->too_big = 1;
            return send_simple(mc, 413, "request body over the limit");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (c->too_big)
            return MHD_YES;
        if (c->len + n > (size_t)s->o.max_body) {
            /* Chunked upload that passed the limit: stop buffering and
             * answer 413; MHD closes the connection afterwards. */
            c->too_big = 1;
            free(c->body);
            c->body = NULL;
            c->len = c->cap = 0;
            return send_simple(mc, 413, "request body over the limit");
        }
        if (c->len + n + 1 > c->cap) {
            size_t cap = c->cap ? c->cap : 4096;
            while (cap < c->len + n + 1)
                cap *= 2;
            if ((int64_t)cap > s->o.max_body + 1)
                cap = (size_t)s->o.max_body + 1;
            if (!(c->body = realloc(c->body, cap)))
                abort();
            c->cap = cap;
        }
        memcpy(c->body + c->len, upload_data, n);
        c->len += n;
        return MHD_YES;
    }
    if (c->too_big)
        return send_simple(mc, 413, "request body over the limit");

    /* The whole request is here. */
    peer_addr(mc, remote, sizeof(remote));
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.path = url;
    rq.channel = c->route == R_WEBHOOK ? c->channel : NULL;
    rq.remote = remote;
    rq.body = c->body ? c->body : "";
    rq.body_len = c->len;
    rq.header = req_header;
    rq.impl = &ri;
    snprintf(resp.content_type, sizeof(resp.content_type), "application/json");
    if (c->route == R_WEBHOOK) {
        if (s->h.webhook)
            s->h.webhook(s->h.ud, &rq, &resp);
        else
            oh_http_resp_json(&resp, 404, "webhooks are not enabled");
    } else if (c->route == R_METRICS) {
        s->h.metrics(s->h.ud, &rq, &resp);
    } else {
        if (s->h.health)
            s->h.health(s->h.ud, &rq, &resp);
        else
            oh_http_resp_json(&resp, 200, "ok");
    }
    ret = send_resp(mc, &resp);
    free(resp.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *c = *con_cls;
    (void)cls;
    (void)mc;
    (void)toe;
    if (c) {
        free(c->body);
        free(c);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], q[600];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    oh_warn("http.server", "msg=%s", oh_logq(q, sizeof(q), msg));
}

int oh_http_server_start(const struct oh_http_server_opts *o, const struct oh_http_handlers *h,
                         struct oh_http_server **out, struct oh_err *err)
{
    struct oh_http_server *s = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int v6 = 0, rc;
    /* threads > 0: a pool, each thread serving its share of the
     * connections with epoll; a handler that blocks (spool fsync, store)
     * holds up the other connections of its thread. threads = 0: a thread
     * per connection (poll), so one slow request never delays another. */
    unsigned flags = o->threads > 0 ? MHD_USE_INTERNAL_POLLING_THREAD |
                                          MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG
                                    : MHD_USE_INTERNAL_POLLING_THREAD |
                                          MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                                          MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *di;

    *out = NULL;
    if ((rc = parse_listen(o->listen, &ss, &sl, &v6, err)) < 0)
        return rc;
    if (!(s = calloc(1, sizeof(*s))))
        abort();
    s->o = *o;
    if (s->o.max_body <= 0)
        s->o.max_body = 1 << 20;
    if (s->o.threads < 0)
        s->o.threads = 1;
    if (h)
        s->h = *h;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port),
        NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)((s->o.timeout_ms + 999) / 1000), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(s->o.max_connections > 0 ? s->o.max_connections : 256),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d) {
        rc = oh_err_set(err, OH_ERROR, "http: cannot listen on %s: %s", o->listen,
                        errno ? strerror(errno) : "libmicrohttpd refused");
        free(s);
        return rc;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return 0;
}

int oh_http_server_port(const struct oh_http_server *s) { return s->port; }

void oh_http_server_stop(struct oh_http_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s);
}
