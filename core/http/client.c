/*
 * client.c — the HTTP client every HTTP connector shares (libcurl).
 *
 * One call of oh_http_do = up to max_attempts requests. Between attempts the
 * client waits either what the server asked (Retry-After) or an exponential
 * backoff with jitter (oh_backoff_ms). The outcome is classified once here
 * (see http.h); connectors only look at the return code and err.
 *
 * TLS verification is never disabled: CURLOPT_SSL_VERIFYPEER/HOST are set
 * explicitly on every handle and there is no option that changes them.
 * Redirects are not followed (a vendor redirect is an answer to look at,
 * and following one could carry credentials to another host).
 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "util.h"

struct oh_http_client {
    struct oh_http_client_opts o;
    char *ca_file, *user_agent;
    pthread_mutex_t mu;
    CURL *curl;
    int64_t next_slot_ms; /* monotonic time the next request may start (max_rps) */
    long used;            /* requests in this budget period */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void oh_http_client_opts_default(struct oh_http_client_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 60000;
    o->max_attempts = 5;
    o->backoff_base_ms = 500;
    o->backoff_max_ms = 30000;
    o->max_wait_ms = 60000;
    o->max_response = 64u << 20;
}

static void default_sleep(void *ud, int64_t ms)
{
    (void)ud;
    oh_sleep_ms(ms);
}

static void (*g_sleep_fn)(void *, int64_t);
static void *g_sleep_ud;

void oh_http_set_default_sleep(void (*fn)(void *ud, int64_t ms), void *ud)
{
    g_sleep_fn = fn;
    g_sleep_ud = ud;
}

int oh_http_client_opts_from_conf(const struct oh_conf_section *s, struct oh_http_client_opts *o,
                                  struct oh_err *err)
{
    long attempts = 5;
    int64_t maxresp = 64 << 20;
    const char *rps;
    int rc;

    oh_http_client_opts_default(o);
    if (!s)
        return 0;
    if ((rc = oh_conf_duration_ms(s, "http_timeout", o->timeout_ms, &o->timeout_ms, err)) < 0 ||
        (rc = oh_conf_duration_ms(s, "http_connect_timeout", o->connect_timeout_ms,
                                  &o->connect_timeout_ms, err)) < 0 ||
        (rc = oh_conf_int(s, "http_attempts", attempts, &attempts, err)) < 0 ||
        (rc = oh_conf_int(s, "max_requests", 0, &o->budget, err)) < 0 ||
        (rc = oh_conf_size(s, "max_response", maxresp, &maxresp, err)) < 0)
        return rc;
    if (attempts < 1 || attempts > 100)
        return oh_err_set(err, OH_EINVAL, "%s:%d: http_attempts: must be 1..100", s->path,
                          oh_conf_line(s, "http_attempts"));
    o->max_attempts = (int)attempts;
    o->max_response = (size_t)maxresp;
    if ((rps = oh_conf_get(s, "max_rps")) != NULL) {
        char *end;
        o->max_rps = strtod(rps, &end);
        if (end == rps || *end || o->max_rps < 0)
            return oh_err_set(err, OH_EINVAL, "%s:%d: max_rps: expected a number >= 0", s->path,
                              oh_conf_line(s, "max_rps"));
    }
    o->ca_file = oh_conf_get(s, "ca_file");
    return 0;
}

int oh_http_client_new(const struct oh_http_client_opts *opts, struct oh_http_client **out,
                       struct oh_err *err)
{
    struct oh_http_client *c = NULL;

    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (!(c = calloc(1, sizeof(*c))))
        abort();
    if (opts)
        c->o = *opts;
    else
        oh_http_client_opts_default(&c->o);
    if (c->o.max_attempts < 1)
        c->o.max_attempts = 1;
    if (!c->o.sleep_fn) {
        c->o.sleep_fn = g_sleep_fn ? g_sleep_fn : default_sleep;
        c->o.sleep_ud = g_sleep_fn ? g_sleep_ud : NULL;
    }
    if (!c->o.max_response)
        c->o.max_response = 64u << 20;
    c->ca_file = c->o.ca_file ? strdup(c->o.ca_file) : NULL;
    c->user_agent = strdup(c->o.user_agent ? c->o.user_agent : "orderhub/" OH_VERSION);
    c->o.ca_file = c->ca_file;
    c->o.user_agent = c->user_agent;
    pthread_mutex_init(&c->mu, NULL);
    if (!(c->curl = curl_easy_init())) {
        oh_http_client_free(c);
        return oh_err_set(err, OH_ERROR, "http: cannot create a curl handle");
    }
    *out = c;
    return 0;
}

void oh_http_client_free(struct oh_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    pthread_mutex_destroy(&c->mu);
    free(c->ca_file);
    free(c->user_agent);
    free(c);
}

void oh_http_client_reset_budget(struct oh_http_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->used = 0;
    pthread_mutex_unlock(&c->mu);
}

long oh_http_client_budget_left(const struct oh_http_client *c)
{
    if (c->o.budget <= 0)
        return LONG_MAX;
    return c->used >= c->o.budget ? 0 : c->o.budget - c->used;
}

void oh_http_client_sleep(struct oh_http_client *c, int64_t ms)
{
    if (ms > 0)
        c->o.sleep_fn(c->o.sleep_ud, ms);
}

/* ------------------------------------------------------------- helpers */

static int host_is_loopback(const char *host, size_t n)
{
    char h[256];
    unsigned a, b, cc, d;
    char tail;

    if (n == 0 || n >= sizeof(h))
        return 0;
    memcpy(h, host, n);
    h[n] = '\0';
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 || strcmp(h, "::1") == 0)
        return 1;
    if (sscanf(h, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &tail) == 4 && a == 127 && b < 256 &&
        cc < 256 && d < 256)
        return 1;
    return 0;
}

int oh_http_url_check(const char *url, struct oh_err *err)
{
    const char *h, *e;

    if (!url || !*url)
        return oh_err_set(err, OH_EINVAL, "http: empty URL");
    if (strncasecmp(url, "https://", 8) == 0)
        return 0;
    if (strncasecmp(url, "http://", 7) != 0)
        return oh_err_set(err, OH_EINVAL, "http: %s: only https:// URLs are allowed", url);
    h = url + 7;
    if (strchr(h, '@') && strchr(h, '@') < h + strcspn(h, "/?#"))
        h = strchr(h, '@') + 1;
    if (*h == '[') {
        e = strchr(h, ']');
        if (!e)
            return oh_err_set(err, OH_EINVAL, "http: %s: malformed host", url);
        e++;
    } else {
        e = h + strcspn(h, ":/?#");
    }
    if (!host_is_loopback(h, (size_t)(e - h)))
        return oh_err_set(err, OH_EPERM,
                          "http: %s: plain http is refused for a non-loopback host; use https",
                          url);
    return 0;
}

int oh_http_link_next(const char *link, char **out)
{
    const char *p = link;

    *out = NULL;
    if (!link)
        return OH_ENOTFOUND;
    while ((p = strchr(p, '<')) != NULL) {
        const char *end = strchr(p, '>');
        const char *params, *next;
        if (!end)
            break;
        params = end + 1;
        next = strchr(params, '<');
        /* Look for rel="next" (or rel=next) among this link's parameters. */
        for (const char *q = params; *q && (!next || q < next); q++) {
            if (strncasecmp(q, "rel=", 4) == 0) {
                const char *v = q + 4;
                if (*v == '"')
                    v++;
                if (strncasecmp(v, "next", 4) == 0 &&
                    (v[4] == '"' || v[4] == ';' || v[4] == ',' || v[4] == ' ' || !v[4])) {
                    *out = strndup(p + 1, (size_t)(end - p - 1));
                    return 0;
                }
            }
        }
        p = end + 1;
    }
    return OH_ENOTFOUND;
}

int oh_http_parse_retry_after(const char *v, int64_t now_ms, int64_t *out_ms)
{
    char *end;
    double s;
    struct tm tm;

    *out_ms = 0;
    if (!v)
        return OH_EINVAL;
    while (isspace((unsigned char)*v))
        v++;
    errno = 0;
    s = strtod(v, &end);
    if (end != v && errno == 0) {
        while (isspace((unsigned char)*end))
            end++;
        if (*end == '\0' && s >= 0 && s < 86400.0 * 365) {
            *out_ms = (int64_t)(s * 1000.0 + 0.5);
            return 0;
        }
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end && *end == '\0') {
        int64_t at = (int64_t)timegm(&tm) * 1000;
        *out_ms = at > now_ms ? at - now_ms : 0;
        return 0;
    }
    return OH_EINVAL;
}

static void copy_printable(const char *s, size_t len, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    out[j] = '\0';
}

static void append(char *out, size_t n, const char *s)
{
    size_t l = strlen(out);
    if (l + 1 < n)
        snprintf(out + l, n - l, "%s", s);
}

/* Flattens a JSON error value into "a; field: b, c". */
static void flatten(json_t *v, const char *key, char *out, size_t n)
{
    if (json_is_string(v)) {
        if (*out)
            append(out, n, "; ");
        if (key) {
            append(out, n, key);
            append(out, n, ": ");
        }
        append(out, n, json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) flatten(x, key, out, n);
    } else if (json_is_object(v)) {
        json_t *m = json_object_get(v, "message");
        const char *k;
        json_t *x;
        if (json_is_string(m)) {
            flatten(m, key, out, n);
            return;
        }
        json_object_foreach(v, k, x) flatten(x, k, out, n);
    }
}

void oh_http_vendor_message(const char *body, size_t len, char *out, size_t n)
{
    json_t *root = NULL, *v;

    out[0] = '\0';
    if (!body || !len)
        return;
    root = json_loadb(body, len, 0, NULL);
    if (json_is_object(root)) {
        if ((v = json_object_get(root, "errors")) != NULL)
            flatten(v, NULL, out, n);
        else if (json_is_string(v = json_object_get(root, "message")))
            flatten(v, NULL, out, n);
        else if ((v = json_object_get(root, "error")) != NULL) {
            flatten(v, NULL, out, n);
            if (json_is_string(json_object_get(root, "error_description")))
                flatten(json_object_get(root, "error_description"), NULL, out, n);
        }
        if (json_is_string(v = json_object_get(root, "code")) && *out) {
            char tmp[1024];
            snprintf(tmp, sizeof(tmp), "%s (%s)", out, json_string_value(v));
            snprintf(out, n, "%s", tmp);
        }
    }
    json_decref(root);
    if (!out[0])
        copy_printable(body, len > 200 ? 200 : len, out, n);
}

char *oh_http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = malloc(3 * n + 1), *p = o;
    if (!o)
        abort();
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return o;
}

/* ------------------------------------------------------------- response */

void oh_http_response_free(struct oh_http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    for (size_t i = 0; i < resp->nhdr; i++) {
        free(resp->hdr[i].name);
        free(resp->hdr[i].value);
    }
    free(resp->hdr);
    resp->body = NULL;
    resp->hdr = NULL;
    resp->len = resp->nhdr = 0;
}

const char *oh_http_response_header(const struct oh_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nhdr; i++)
        if (strcasecmp(resp->hdr[i].name, name) == 0)
            return resp->hdr[i].value;
    return NULL;
}

struct xfer {
    struct oh_http_response *resp;
    size_t cap, max;
    int too_big;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    struct oh_http_response *r = x->resp;
    size_t n = size * nmemb;

    if (r->len + n > x->max) {
        x->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (r->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 16384;
        while (cap < r->len + n + 1)
            cap *= 2;
        if (!(r->body = realloc(r->body, cap)))
            abort();
        x->cap = cap;
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    struct oh_http_response *r = x->resp;
    size_t n = size * nitems, k;
    char *colon;
    const char *v, *e;

    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after 100-continue or a retry): drop old headers. */
        for (size_t i = 0; i < r->nhdr; i++) {
            free(r->hdr[i].name);
            free(r->hdr[i].value);
        }
        r->nhdr = 0;
        return n;
    }
    colon = memchr(buf, ':', n);
    if (!colon || r->nhdr >= 256)
        return n;
    k = (size_t)(colon - buf);
    v = colon + 1;
    e = buf + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    if (!(r->hdr = realloc(r->hdr, (r->nhdr + 1) * sizeof(*r->hdr))))
        abort();
    r->hdr[r->nhdr].name = strndup(buf, k);
    r->hdr[r->nhdr].value = strndup(v, (size_t)(e - v));
    r->nhdr++;
    return n;
}

static void reset_response(struct oh_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
    resp->status = 0;
}

/* One request. Returns 0 when an HTTP response arrived (any status), or
 * OH_EAGAIN (transport error), OH_ETOOBIG with err set. */
static int send_once(struct oh_http_client *c, const struct oh_http_request *rq,
                     struct oh_http_response *resp, struct oh_err *err)
{
    CURL *h = c->curl;
    struct curl_slist *hl = NULL;
    struct xfer x = {.resp = resp, .max = c->o.max_response};
    CURLcode cc;
    int rc = 0;

    reset_response(resp);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->o.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->o.ca_file);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->o.user_agent);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (c->o.max_response)
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->o.max_response);
    if (rq->userpwd) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, rq->userpwd);
    }
    for (const char *const *p = rq->headers; p && *p; p++)
        hl = curl_slist_append(hl, *p);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    if (rq->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (rq->method && strcmp(rq->method, "GET") != 0 &&
        !(rq->body && strcmp(rq->method, "POST") == 0))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);

    cc = curl_easy_perform(h);
    if (x.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = oh_err_set(err, OH_ETOOBIG, "%s: response larger than %zu bytes", rq->url,
                        c->o.max_response);
    } else if (cc != CURLE_OK) {
        /* Transport: connect, TLS, timeout, reset, truncated body. A TLS
         * verification failure is retried too: it may be a transient
         * interception, and it is never bypassed. */
        rc = oh_err_retry(err, OH_EAGAIN, "%s: %s", rq->url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    curl_slist_free_all(hl);
    return rc;
}

static int is_retry_status(long st) { return st == 408 || st == 429 || st >= 500; }

static void pace(struct oh_http_client *c)
{
    int64_t now, wait = 0;
    if (c->o.max_rps <= 0)
        return;
    now = oh_mono_ms();
    if (c->next_slot_ms > now)
        wait = c->next_slot_ms - now;
    c->next_slot_ms = (wait ? c->next_slot_ms : now) + (int64_t)(1000.0 / c->o.max_rps);
    if (wait > 0)
        c->o.sleep_fn(c->o.sleep_ud, wait);
}

int oh_http_do(struct oh_http_client *c, const struct oh_http_request *rq,
               struct oh_http_response *resp, struct oh_err *err)
{
    int rc = 0;

    memset(resp, 0, sizeof(*resp));
    if ((rc = oh_http_url_check(rq->url, err)) < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    for (int attempt = 0;; attempt++) {
        int64_t wait = 0, ra = 0;
        const char *rah;
        char vmsg[512];

        if (c->o.budget > 0 && c->used >= c->o.budget) {
            rc = oh_err_retry(err, OH_EAGAIN, "%s: request budget of %ld exhausted for now",
                              rq->url, c->o.budget);
            break;
        }
        c->used++;
        pace(c);
        resp->attempts++;
        rc = send_once(c, rq, resp, err);
        if (rc == OH_ETOOBIG)
            break;
        if (rc == 0 && resp->status >= 200 && resp->status < 300)
            break;
        if (rc == 0 && !is_retry_status(resp->status)) {
            oh_http_vendor_message(resp->body, resp->len, vmsg, sizeof(vmsg));
            rc = oh_err_set(err, (resp->status == 401 || resp->status == 403) ? OH_EPERM : OH_EINVAL,
                            "%s %s: HTTP %ld: %s", rq->method ? rq->method : "GET", rq->url,
                            resp->status, vmsg);
            break;
        }
        if (rc == 0) {
            oh_http_vendor_message(resp->body, resp->len, vmsg, sizeof(vmsg));
            rc = oh_err_retry(err, OH_EAGAIN, "%s %s: HTTP %ld: %s",
                              rq->method ? rq->method : "GET", rq->url, resp->status, vmsg);
            if ((rah = oh_http_response_header(resp, "Retry-After")) != NULL &&
                oh_http_parse_retry_after(rah, oh_now_ms(), &ra) == 0) {
                if (err)
                    err->retry_after_ms = ra > 0 ? ra : 1;
            }
        }
        if (attempt + 1 >= c->o.max_attempts)
            break;
        if (ra > c->o.max_wait_ms)
            break; /* the caller reschedules; we do not hold a thread that long */
        wait = ra > 0 ? ra : oh_backoff_ms(attempt, c->o.backoff_base_ms, c->o.backoff_max_ms);
        resp->waited_ms += wait;
        c->o.sleep_fn(c->o.sleep_ud, wait);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
