/*
 * vendor_fake.h — test helpers for the HTTP connectors' unit tests:
 *   - start/stop a Python vendor fake from tests/fakes (it prints its port);
 *   - talk to its /_control endpoint;
 *   - an in-memory struct oh_channel_ops (cursor and seen-key table): a test
 *     double for the store-backed cursor table, shared across channel
 *     restarts like the real table is;
 *   - a recorder for the HTTP client's waits (Retry-After, backoff, pacing);
 *   - a temporary spool and readers for what was spooled.
 * Header-only (static functions) so each test links only its own module.
 */
#ifndef OH_TEST_VENDOR_FAKE_H
#define OH_TEST_VENDOR_FAKE_H

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "connector.h"
#include "core/http/http.h"
#include "spool/spool.h"
#include "util.h"

/* ------------------------------------------------------------ the fake */

struct vf_fake {
    pid_t pid;
    int port;
    char base[64];
};

/* argv: NULL-terminated extra arguments after the script. */
/* The running fake, so a failed assertion's teardown can stop it. */
static pid_t vf_current_pid;

static inline int vf_teardown(void **state)
{
    (void)state;
    if (vf_current_pid > 0) {
        kill(vf_current_pid, SIGTERM);
        waitpid(vf_current_pid, NULL, 0);
        vf_current_pid = 0;
    }
    return 0;
}

static inline int vf_start(struct vf_fake *f, const char *script, const char *const *extra)
{
    int pfd[2];
    char path[1024], line[64];
    const char *argv[32];
    int n = 0;
    size_t got = 0;
    int64_t deadline;

    snprintf(path, sizeof(path), "%s/tests/fakes/%s", OH_SOURCE_DIR, script);
    argv[n++] = "python3";
    argv[n++] = path;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--fixtures";
    argv[n++] = OH_FIXTURES;
    for (; extra && *extra && n < 30; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    if (pipe(pfd) < 0)
        return -1;
    f->pid = fork();
    if (f->pid < 0)
        return -1;
    if (f->pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    vf_current_pid = f->pid;
    /* Bounded wait for the port line (building 5,000 orders takes a moment). */
    deadline = oh_mono_ms() + 60000;
    while (got < sizeof(line) - 1 && oh_mono_ms() < deadline) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        ssize_t r;
        if (poll(&p, 1, 200) <= 0)
            continue;
        r = read(pfd[0], line + got, 1);
        if (r <= 0)
            break;
        if (line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(pfd[0]);
    f->port = atoi(line);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
    return f->port > 0 ? 0 : -1;
}

static inline void vf_stop(struct vf_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
        vf_current_pid = 0;
    }
}

/* POSTs a JSON body to /_control; returns the parsed answer (caller decrefs). */
static inline json_t *vf_control(struct vf_fake *f, const char *json)
{
    struct oh_http_client *c = NULL;
    struct oh_http_client_opts o;
    struct oh_http_response r;
    struct oh_http_request rq = {0};
    const char *h[] = {"Content-Type: application/json", NULL};
    char url[128];
    json_t *out = NULL;

    oh_http_client_opts_default(&o);
    o.max_attempts = 1;
    if (oh_http_client_new(&o, &c, NULL) < 0)
        return NULL;
    snprintf(url, sizeof(url), "%s/_control", f->base);
    rq.method = "POST";
    rq.url = url;
    rq.headers = h;
    rq.body = json;
    rq.body_len = strlen(json);
    if (oh_http_do(c, &rq, &r, NULL) == 0)
        out = json_loadb(r.body, r.len, 0, NULL);
    oh_http_response_free(&r);
    oh_http_client_free(c);
    return out;
}

static inline void vf_control_ok(struct vf_fake *f, const char *json)
{
    json_t *j = vf_control(f, json);
    if (!j) {
        fprintf(stderr, "control %s failed\n", json);
        abort();
    }
    json_decref(j);
}

/* ------------------------------------------------- waits the client asked */

static int64_t vf_waits[4096];
static size_t vf_nwaits;

static inline void vf_record_sleep(void *ud, int64_t ms)
{
    struct timespec ts = {0, 0};
    (void)ud;
    if (vf_nwaits < sizeof(vf_waits) / sizeof(vf_waits[0]))
        vf_waits[vf_nwaits++] = ms;
    /* Sleep a sliver of it so that the fake's own clock still moves. */
    ts.tv_nsec = (ms > 20 ? 20 : ms) * 1000000L;
    nanosleep(&ts, NULL);
}

static inline int vf_waited(int64_t ms)
{
    for (size_t i = 0; i < vf_nwaits; i++)
        if (vf_waits[i] == ms)
            return 1;
    return 0;
}

/* ----------------------------------------- in-memory cursor / seen table */

struct vf_table {
    char **ck, **cv;
    size_t nc;
    char **seen;
    size_t nseen, cap; /* open addressing, cap is a power of two */
    int cursor_sets;
};

static inline size_t vf_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static inline int vf_cursor_get(struct oh_channel *ch, const char *name, char **value, struct oh_err *err)
{
    struct vf_table *t = ch->ops_ud;
    (void)err;
    *value = NULL;
    for (size_t i = 0; i < t->nc; i++)
        if (strcmp(t->ck[i], name) == 0)
            *value = strdup(t->cv[i]);
    return 0;
}

static inline int vf_cursor_set(struct oh_channel *ch, const char *name, const char *value, struct oh_err *err)
{
    struct vf_table *t = ch->ops_ud;
    (void)err;
    t->cursor_sets++;
    for (size_t i = 0; i < t->nc; i++)
        if (strcmp(t->ck[i], name) == 0) {
            free(t->cv[i]);
            t->cv[i] = strdup(value);
            return 0;
        }
    t->ck = realloc(t->ck, (t->nc + 1) * sizeof(char *));
    t->cv = realloc(t->cv, (t->nc + 1) * sizeof(char *));
    t->ck[t->nc] = strdup(name);
    t->cv[t->nc] = strdup(value);
    t->nc++;
    return 0;
}

static inline int vf_seen(struct oh_channel *ch, const char *key, int *seen, struct oh_err *err)
{
    struct vf_table *t = ch->ops_ud;
    (void)err;
    *seen = 0;
    if (!t->cap)
        return 0;
    for (size_t i = vf_hash(key) & (t->cap - 1); t->seen[i]; i = (i + 1) & (t->cap - 1))
        if (strcmp(t->seen[i], key) == 0) {
            *seen = 1;
            break;
        }
    return 0;
}

static inline void vf_insert(struct vf_table *t, char *key)
{
    size_t i = vf_hash(key) & (t->cap - 1);
    while (t->seen[i])
        i = (i + 1) & (t->cap - 1);
    t->seen[i] = key;
}

static inline int vf_remember(struct oh_channel *ch, const char *key, struct oh_err *err)
{
    struct vf_table *t = ch->ops_ud;
    int seen;
    vf_seen(ch, key, &seen, err);
    if (seen)
        return 0;
    if ((t->nseen + 1) * 2 > t->cap) {
        char **old = t->seen;
        size_t oc = t->cap;
        t->cap = oc ? oc * 2 : 1024;
        t->seen = calloc(t->cap, sizeof(char *));
        for (size_t i = 0; i < oc; i++)
            if (old[i])
                vf_insert(t, old[i]);
        free(old);
    }
    vf_insert(t, strdup(key));
    t->nseen++;
    return 0;
}

static const struct oh_channel_ops vf_ops = {
    .cursor_get = vf_cursor_get,
    .cursor_set = vf_cursor_set,
    .seen = vf_seen,
    .remember = vf_remember,
};

static inline const char *vf_cursor(struct vf_table *t, const char *name)
{
    for (size_t i = 0; i < t->nc; i++)
        if (strcmp(t->ck[i], name) == 0)
            return t->cv[i];
    return NULL;
}

static inline void vf_table_free(struct vf_table *t)
{
    for (size_t i = 0; i < t->nc; i++) {
        free(t->ck[i]);
        free(t->cv[i]);
    }
    free(t->ck);
    free(t->cv);
    for (size_t i = 0; i < t->cap; i++)
        free(t->seen[i]);
    free(t->seen);
    memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------- channel and spool */

struct vf_chan {
    struct oh_conf *conf;
    struct oh_channel ch;
};

static inline int vf_chan_open(struct vf_chan *c, const struct oh_connector *conn, const char *ini,
                        struct vf_table *t, struct oh_err *err)
{
    int rc;
    memset(c, 0, sizeof(*c));
    if ((rc = oh_conf_parse(ini, "test.conf", &c->conf, err)) < 0)
        return rc;
    c->ch.cfg = oh_conf_find(c->conf, "channel", NULL);
    c->ch.name = c->ch.cfg->name;
    c->ch.conn = conn;
    c->ch.ops = &vf_ops;
    c->ch.ops_ud = t;
    c->ch.max_doc_size = 16 << 20;
    oh_conf_get(c->ch.cfg, "type");
    return conn->open(&c->ch, err);
}

static inline void vf_chan_close(struct vf_chan *c)
{
    if (c->ch.priv)
        c->ch.conn->close(&c->ch);
    oh_conf_free(c->conf);
    memset(c, 0, sizeof(*c));
}

static inline struct oh_spool *vf_spool(char *dir /* >= 64 bytes */)
{
    struct oh_spool *sp = NULL;
    /* tmpfs when there is one: fsync there is cheap, and these tests are
     * about what gets spooled, not about the disk (the spool's own tests
     * cover durability). */
    snprintf(dir, 64, "%s/oh-test-spool-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir) || oh_spool_open(dir, NULL, &sp, NULL) < 0)
        abort();
    return sp;
}

static inline void vf_rmrf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (strstr(dir, "/oh-test-") && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* What the spool holds in incoming/: ids and metas, plus the payloads. */
struct vf_entry {
    char id[OH_SPOOL_ID_MAX];
    struct oh_spool_meta meta;
};
struct vf_list {
    struct vf_entry *e;
    size_t n, cap;
};

static inline int vf_list_cb(const char *id, const struct oh_spool_meta *m, void *ud)
{
    struct vf_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->e = realloc(l->e, l->cap * sizeof(*l->e));
    }
    snprintf(l->e[l->n].id, sizeof(l->e[l->n].id), "%s", id);
    l->e[l->n].meta = *m;
    l->n++;
    return 0;
}

static inline void vf_list(struct oh_spool *sp, struct vf_list *l)
{
    memset(l, 0, sizeof(*l));
    if (oh_spool_list(sp, OH_SPOOL_INCOMING, vf_list_cb, l, NULL) < 0)
        abort();
}

/* Payload of one listed entry, parsed (caller decrefs). */
static inline json_t *vf_payload(struct oh_spool *sp, const char *id, char **raw, size_t *rawlen)
{
    struct oh_spool_entry *e = NULL;
    json_t *j;
    enum oh_spool_queue q;
    if (oh_spool_show(sp, id, &q, &e, NULL) < 0)
        return NULL;
    j = json_loadb(e->data, e->len, 0, NULL);
    if (raw) {
        *raw = malloc(e->len + 1);
        memcpy(*raw, e->data, e->len + 1);
        *rawlen = e->len;
    }
    oh_spool_entry_free(e);
    return j;
}

/* A fake struct oh_http_req for calling webhook hooks directly. */
struct vf_req {
    struct oh_http_req rq;
    const char *names[16], *values[16];
    int n;
};

static inline const char *vf_req_header(const struct oh_http_req *rq, const char *name)
{
    const struct vf_req *r = (const struct vf_req *)rq;
    for (int i = 0; i < r->n; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static inline void vf_req_init(struct vf_req *r, const char *channel, const char *body)
{
    memset(r, 0, sizeof(*r));
    r->rq.method = "POST";
    r->rq.path = "/webhooks/x";
    r->rq.channel = channel;
    r->rq.remote = "127.0.0.1";
    r->rq.body = body;
    r->rq.body_len = strlen(body);
    r->rq.header = vf_req_header;
}

static inline void vf_req_add(struct vf_req *r, const char *name, const char *value)
{
    r->names[r->n] = name;
    r->values[r->n] = value;
    r->n++;
}

#endif
