/* test_http_server.c — the webhook/health server: routing, raw body and
 * headers reach the handler, 404/405, 413 by Content-Length and while a
 * chunked body is received, 503 with Retry-After, IPv6 loopback, /metrics
 * (routed only with a metrics handler; its content type reaches the client). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "vendor_fake.h"

struct seen {
    char channel[64], sig[128], body[256];
    size_t len;
    int calls;
};

static int on_webhook(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    struct seen *s = ud;
    const char *sig = rq->header(rq, "x-test-signature");
    s->calls++;
    snprintf(s->channel, sizeof(s->channel), "%s", rq->channel);
    snprintf(s->sig, sizeof(s->sig), "%s", sig ? sig : "");
    s->len = rq->body_len;
    snprintf(s->body, sizeof(s->body), "%.*s", (int)rq->body_len, rq->body);
    if (strcmp(rq->channel, "nope") == 0) {
        oh_http_resp_json(resp, 404, "no channel %s", rq->channel);
    } else if (strcmp(rq->channel, "full") == 0) {
        oh_http_resp_json(resp, 503, "spool unavailable");
        resp->retry_after_s = 7;
    } else {
        oh_http_resp_json(resp, 200, "stored");
    }
    return 0;
}

static int on_health(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    (void)ud;
    (void)rq;
    oh_http_resp_set(resp, 200, "application/json", "{\"store\":\"ok\",\"spool\":{\"incoming\":0}}", 36);
    return 0;
}

struct got {
    char body[512];
    size_t len;
    char retry_after[32];
};

static size_t w_body(char *p, size_t s, size_t n, void *ud)
{
    struct got *g = ud;
    size_t k = s * n;
    if (g->len + k < sizeof(g->body)) {
        memcpy(g->body + g->len, p, k);
        g->len += k;
        g->body[g->len] = '\0';
    }
    return k;
}

static size_t w_hdr(char *p, size_t s, size_t n, void *ud)
{
    struct got *g = ud;
    if (strncasecmp(p, "Retry-After:", 12) == 0)
        snprintf(g->retry_after, sizeof(g->retry_after), "%.*s", (int)strcspn(p + 13, "\r\n"), p + 13);
    return s * n;
}

struct upload {
    size_t left;
};

static size_t r_body(char *p, size_t s, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = s * n < u->left ? s * n : u->left;
    memset(p, 'x', k);
    u->left -= k;
    return k;
}

/* Returns the HTTP status (0 on transport error, e.g. a closed connection). */
static long req(const char *url, const char *method, const char *body, long chunked_len,
                struct got *g)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct upload u = {(size_t)chunked_len};
    long st = 0;
    memset(g, 0, sizeof(*g));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, w_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, w_hdr);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    hl = curl_slist_append(hl, "X-Test-Signature: abc=");
    if (chunked_len > 0) {
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
        curl_easy_setopt(h, CURLOPT_READFUNCTION, r_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &u);
    } else if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return st;
}

static void test_routes(void **state)
{
    struct oh_http_server_opts o;
    struct oh_http_server *srv = NULL;
    struct seen s = {0};
    struct oh_http_handlers h = {.webhook = on_webhook, .health = on_health, .ud = &s};
    struct oh_err err = {0};
    struct got g;
    char url[128], *big;
    const char *body = "{\"id\":1,\"note\":\"caf\xc3\xa9\"}";
    int port;
    (void)state;

    oh_http_server_opts_default(&o);
    snprintf(o.listen, sizeof(o.listen), "127.0.0.1:0");
    o.max_body = 1000;
    assert_int_equal(oh_http_server_start(&o, &h, &srv, &err), 0);
    port = oh_http_server_port(srv);
    assert_true(port > 0);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/shop-a", port);
    assert_int_equal(req(url, NULL, body, 0, &g), 200);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.channel, "shop-a");
    assert_string_equal(s.sig, "abc=");
    assert_int_equal(s.len, strlen(body));
    assert_string_equal(s.body, body);
    assert_non_null(strstr(g.body, "stored"));

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/nope", port);
    assert_int_equal(req(url, NULL, "{}", 0, &g), 404);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/full", port);
    assert_int_equal(req(url, NULL, "{}", 0, &g), 503);
    assert_string_equal(g.retry_after, "7");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/shop-a", port);
    assert_int_equal(req(url, "GET", NULL, 0, &g), 405);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/elsewhere", port);
    assert_int_equal(req(url, NULL, "{}", 0, &g), 404);
    assert_non_null(strstr(g.body, "\"status\":404"));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/../etc", port);
    assert_int_equal(req(url, NULL, "{}", 0, &g), 404);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    assert_int_equal(req(url, NULL, NULL, 0, &g), 200);
    assert_non_null(strstr(g.body, "\"spool\""));

    /* 413 by Content-Length: the handler never runs. */
    s.calls = 0;
    big = malloc(2001);
    memset(big, 'a', 2000);
    big[2000] = '\0';
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/shop-a", port);
    assert_int_equal(req(url, NULL, big, 0, &g), 413);
    assert_int_equal(s.calls, 0);
    /* Exactly max_body is fine. */
    big[1000] = '\0';
    assert_int_equal(req(url, NULL, big, 0, &g), 200);
    assert_int_equal(s.calls, 1);
    free(big);
    /* 413 while receiving a chunked body with no length announced (the
     * connection may be closed instead once the answer is out). */
    s.calls = 0;
    {
        long st = req(url, NULL, NULL, 200000, &g);
        assert_true(st == 413 || st == 0);
        assert_int_equal(s.calls, 0);
    }
    /* The server still answers afterwards. */
    assert_int_equal(req(url, NULL, "{}", 0, &g), 200);
    oh_http_server_stop(srv);
}

static int on_metrics(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    int *calls = ud;
    static const char text[] = "# TYPE orderhub_test gauge\norderhub_test 1\n";
    (void)rq;
    (*calls)++;
    oh_http_resp_set(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                     sizeof(text) - 1);
    return 0;
}

static long req_ctype(const char *url, const char *method, struct got *g, char *ctype, size_t n)
{
    CURL *h = curl_easy_init();
    char *ct = NULL;
    long st = 0;

    memset(g, 0, sizeof(*g));
    ctype[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, w_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    if (method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
            snprintf(ctype, n, "%s", ct);
    }
    curl_easy_cleanup(h);
    return st;
}

static void test_metrics_route(void **state)
{
    struct oh_http_server_opts o;
    struct oh_http_server *srv = NULL;
    int calls = 0;
    struct oh_http_handlers h = {.metrics = on_metrics, .ud = &calls};
    struct oh_http_handlers none = {.ud = &calls};
    struct oh_err err = {0};
    struct got g;
    char url[128], ct[128];
    (void)state;

    oh_http_server_opts_default(&o);
    snprintf(o.listen, sizeof(o.listen), "127.0.0.1:0");
    assert_int_equal(oh_http_server_start(&o, &h, &srv, &err), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", oh_http_server_port(srv));
    assert_int_equal(req_ctype(url, NULL, &g, ct, sizeof(ct)), 200);
    assert_int_equal(calls, 1);
    assert_string_equal(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(g.body, "# TYPE orderhub_test gauge\norderhub_test 1\n");
    assert_int_equal(req_ctype(url, "POST", &g, ct, sizeof(ct)), 405);
    assert_int_equal(calls, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics/x", oh_http_server_port(srv));
    assert_int_equal(req_ctype(url, NULL, &g, ct, sizeof(ct)), 404);
    oh_http_server_stop(srv);

    /* Without a metrics handler the path does not exist. */
    srv = NULL;
    assert_int_equal(oh_http_server_start(&o, &none, &srv, &err), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", oh_http_server_port(srv));
    assert_int_equal(req_ctype(url, NULL, &g, ct, sizeof(ct)), 404);
    assert_int_equal(calls, 1);
    oh_http_server_stop(srv);
}

/* threads = 0: a thread per connection, so a handler that blocks does not
 * hold up a request on another connection. The slow handler waits (at most
 * 10 s) until the fast request was answered; with a single shared thread
 * that could never happen. */
struct hol {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int slow_started, fast_done, slow_saw_fast;
};

static int on_hol(void *ud, const struct oh_http_req *rq, struct oh_http_resp *resp)
{
    struct hol *h = ud;

    pthread_mutex_lock(&h->mu);
    if (strcmp(rq->channel, "slow") == 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        h->slow_started = 1;
        pthread_cond_broadcast(&h->cv);
        while (!h->fast_done && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
            ;
        h->slow_saw_fast = h->fast_done;
    } else {
        h->fast_done = 1;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    oh_http_resp_json(resp, 200, "ok");
    return 0;
}

struct slow_arg {
    char url[128];
    long status;
};

static void *slow_req(void *arg)
{
    struct slow_arg *a = arg;
    struct got g;
    a->status = req(a->url, NULL, "{}", 0, &g);
    return NULL;
}

static void test_thread_per_connection(void **state)
{
    struct oh_http_server_opts o;
    struct oh_http_server *srv = NULL;
    struct hol h = {.slow_started = 0};
    struct oh_http_handlers hd = {.webhook = on_hol, .ud = &h};
    struct oh_err err = {0};
    struct oh_conf *conf = NULL;
    struct slow_arg a;
    struct got g;
    char url[128];
    pthread_t t;
    (void)state;

    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    assert_int_equal(oh_conf_parse("[http]\nlisten = 127.0.0.1:0\nthreads = 0\n", "t.conf", &conf,
                                   &err), 0);
    assert_int_equal(oh_http_server_opts_from_conf(oh_conf_find(conf, "http", NULL), &o, &err), 0);
    assert_int_equal(o.threads, 0);
    oh_conf_free(conf);
    assert_int_equal(oh_http_server_start(&o, &hd, &srv, &err), 0);
    snprintf(a.url, sizeof(a.url), "http://127.0.0.1:%d/webhooks/slow", oh_http_server_port(srv));
    assert_int_equal(pthread_create(&t, NULL, slow_req, &a), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.slow_started)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/fast", oh_http_server_port(srv));
    assert_int_equal(req(url, NULL, "{}", 0, &g), 200);
    pthread_join(t, NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(h.slow_saw_fast, 1);
    oh_http_server_stop(srv);

    /* negative thread counts are refused */
    assert_int_equal(oh_conf_parse("[http]\nlisten = 127.0.0.1:0\nthreads = -1\n", "t.conf", &conf,
                                   &err), 0);
    assert_int_equal(oh_http_server_opts_from_conf(oh_conf_find(conf, "http", NULL), &o, &err),
                     OH_EINVAL);
    oh_conf_free(conf);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
}

static void test_ipv6_and_conf(void **state)
{
    struct oh_http_server_opts o;
    struct oh_http_server *srv = NULL;
    struct seen s = {0};
    struct oh_http_handlers h = {.webhook = on_webhook, .ud = &s};
    struct oh_err err = {0};
    struct oh_conf *conf = NULL;
    struct got g;
    char url[128];
    (void)state;

    assert_int_equal(oh_conf_parse("[http]\nlisten = [::1]:0\nmax_body = 1M\nthreads = 2\ntimeout = 5s\n",
                                   "t.conf", &conf, &err), 0);
    assert_int_equal(oh_http_server_opts_from_conf(oh_conf_find(conf, "http", NULL), &o, &err), 0);
    assert_int_equal(o.max_body, 1 << 20);
    assert_int_equal(o.threads, 2);
    assert_int_equal(o.timeout_ms, 5000);
    oh_conf_free(conf);
    if (oh_http_server_start(&o, &h, &srv, &err) < 0) {
        skip(); /* no IPv6 on this host */
    }
    snprintf(url, sizeof(url), "http://[::1]:%d/webhooks/v6", oh_http_server_port(srv));
    assert_int_equal(req(url, NULL, "{}", 0, &g), 200);
    assert_string_equal(s.channel, "v6");
    oh_http_server_stop(srv);

    assert_int_equal(oh_conf_parse("[http]\nlisten = 127.0.0.1:notaport\n", "t.conf", &conf, &err), 0);
    assert_int_equal(oh_http_server_opts_from_conf(oh_conf_find(conf, "http", NULL), &o, &err), 0);
    assert_int_equal(oh_http_server_start(&o, &h, &srv, &err), OH_EINVAL);
    oh_conf_free(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_ipv6_and_conf),
        cmocka_unit_test(test_metrics_route),
        cmocka_unit_test(test_thread_per_connection),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
