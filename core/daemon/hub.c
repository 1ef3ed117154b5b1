/* hub.c — see hub.h. */
#include "hub.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectors/dir/filechan.h"
#include "log.h"
#include "map/map.h"
#include "util.h"

static __thread struct oh_store *tls_store;

void oh_hub_set_thread_store(struct oh_store *st) { tls_store = st; }
struct oh_store *oh_hub_thread_store(void) { return tls_store; }

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

/* --- channel ops backed by the calling thread's store ------------------- */

static int no_store(struct oh_err *err)
{
    return oh_err_retry(err, OH_EAGAIN, "no store connection on this thread");
}

static int op_cursor_get(struct oh_channel *ch, const char *name, char **value, struct oh_err *err)
{
    return tls_store ? oh_store_cursor_get(tls_store, ch->name, name, value, err) : no_store(err);
}

static int op_cursor_set(struct oh_channel *ch, const char *name, const char *value,
                         struct oh_err *err)
{
    return tls_store ? oh_store_cursor_set(tls_store, ch->name, name, value, err) : no_store(err);
}

static int op_seen(struct oh_channel *ch, const char *key, int *seen, struct oh_err *err)
{
    return tls_store ? oh_store_seen(tls_store, ch->name, key, seen, err) : no_store(err);
}

static int op_seen_pair(struct oh_channel *ch, const char *a, const char *b, int *seen_a,
                        int *seen_b, struct oh_err *err)
{
    return tls_store ? oh_store_seen_pair(tls_store, ch->name, a, b, seen_a, seen_b, err)
                     : no_store(err);
}

static int op_remember(struct oh_channel *ch, const char *key, struct oh_err *err)
{
    return tls_store ? oh_store_remember(tls_store, ch->name, key, err) : no_store(err);
}

static int op_remember_many(struct oh_channel *ch, const char *const *keys, size_t n,
                            struct oh_err *err)
{
    struct oh_seen_key *k;
    int rc;

    if (!tls_store)
        return no_store(err);
    if (!(k = calloc(n ? n : 1, sizeof(*k))))
        abort();
    for (size_t i = 0; i < n; i++) {
        k[i].channel = ch->name;
        k[i].key = keys[i];
    }
    rc = oh_store_remember_many(tls_store, k, n, err);
    free(k);
    return rc;
}

static int op_edi_numbers(struct oh_channel *ch, struct oh_edi_numbers *n, struct oh_err *err)
{
    int rc;
    if (!tls_store)
        return no_store(err);
    if ((rc = oh_store_begin(tls_store, err)) < 0)
        return rc;
    if ((rc = oh_store_edi_out_assign(tls_store, ch->name, n, err)) < 0) {
        oh_store_rollback(tls_store);
        return rc;
    }
    return oh_store_commit(tls_store, err);
}

static int op_edi_overdue(struct oh_channel *ch, void (*cb)(void *ud, const struct oh_edi_overdue *o),
                          void *ud, struct oh_err *err)
{
    json_t *rows = NULL, *r;
    size_t i;
    int rc;
    if (!tls_store)
        return no_store(err);
    if ((rc = oh_store_edi_overdue_take(tls_store, ch->name, &rows, err)) < 0)
        return rc;
    json_array_foreach(rows, i, r) {
        struct oh_edi_overdue o = {
            json_string_value(json_object_get(r, "message")),
            json_string_value(json_object_get(r, "ack_expected")),
            json_string_value(json_object_get(r, "ack_due_at")),
            (unsigned long)json_integer_value(json_object_get(r, "icn")),
            (unsigned long)json_integer_value(json_object_get(r, "gcn")),
        };
        cb(ud, &o);
    }
    json_decref(rows);
    return 0;
}

static const struct oh_channel_ops store_ops = {
    .cursor_get = op_cursor_get,
    .cursor_set = op_cursor_set,
    .seen = op_seen,
    .seen_pair = op_seen_pair,
    .remember = op_remember,
    .remember_many = op_remember_many,
    .edi_numbers = op_edi_numbers,
    .edi_overdue = op_edi_overdue,
};

/* --- loading -------------------------------------------------------------- */

struct loader {
    void (*report)(const char *msg, void *ud);
    void *ud;
    int check_only;
    int first_rc;
    struct oh_err first;
};

/* In check mode: report and go on; otherwise stop at the first problem. */
static int problem(struct loader *ld, int rc, const struct oh_err *e)
{
    if (ld->report)
        ld->report(e->msg, ld->ud);
    if (!ld->first_rc) {
        ld->first_rc = rc;
        ld->first = *e;
    }
    return ld->check_only ? 0 : rc;
}

/* A [hub] number out of [lo, hi] is a problem; *v falls back to def. */
static int in_range(struct loader *ld, const struct oh_hub *h, const struct oh_conf_section *s,
                    const char *key, long lo, long hi, long def, long *v)
{
    struct oh_err e;

    if (*v >= lo && *v <= hi)
        return 0;
    oh_err_set(&e, OH_EINVAL, "%s:%d: %s: must be from %ld to %ld", h->conf->path,
               oh_conf_line(s, key), key, lo, hi);
    *v = def;
    return problem(ld, OH_EINVAL, &e);
}

static char *resolve_path(const char *config_path, const char *p)
{
    char dirbuf[PATH_MAX], *out;
    if (p[0] == '/')
        return xstrdup(p);
    snprintf(dirbuf, sizeof(dirbuf), "%s", config_path);
    if (asprintf(&out, "%s/%s", dirname(dirbuf), p) < 0)
        abort();
    return out;
}

static int load_settings(struct oh_hub *h, struct loader *ld)
{
    const struct oh_conf_section *s = oh_conf_find(h->conf, "hub", NULL);
    struct oh_hub_settings *set = &h->set;
    struct oh_err e;
    const char *v;
    long attempts = 10, spool_attempts = 10;
    char host[128] = "localhost", abspath[PATH_MAX];
    int rc = 0;

    oh_err_clear(&e);
    v = oh_conf_get_or(s, "spool", "var/spool");
    set->spool_dir = resolve_path(h->conf->path, v);
    /* every key is read even after a bad one, so `check` reports them all */
#define SETTING(call)                                                                  \
    do {                                                                               \
        if ((rc = (call)) < 0 && (rc = problem(ld, rc, &e)) < 0)                       \
            return rc;                                                                 \
    } while (0)
    SETTING(oh_conf_int(s, "workers", 4, &set->workers, &e));
    SETTING(oh_conf_int(s, "batch", 256, &set->batch, &e));
    SETTING(oh_conf_int(s, "worker_nice", 0, &set->worker_nice, &e));
    SETTING(oh_conf_size(s, "max_document_size", 16 << 20, &set->max_document_size, &e));
    SETTING(oh_conf_int(s, "outbox_attempts", 10, &attempts, &e));
    SETTING(oh_conf_int(s, "spool_attempts", 10, &spool_attempts, &e));
    SETTING(oh_conf_duration_ms(s, "retry_base", 30000, &set->retry_base_ms, &e));
    SETTING(oh_conf_duration_ms(s, "retry_max", 3600000, &set->retry_max_ms, &e));
    SETTING(oh_conf_duration_ms(s, "settle", 1000, &set->settle_ms, &e));
    SETTING(oh_conf_duration_ms(s, "outbox_lease", 300000, &set->lease_ms, &e));
    SETTING(oh_conf_bool(s, "archive", 0, &set->archive, &e));
    SETTING(oh_conf_bool(s, "syslog", 0, &set->syslog, &e));
#undef SETTING
    if ((rc = in_range(ld, h, s, "workers", 1, 64, 4, &set->workers)) < 0 ||
        (rc = in_range(ld, h, s, "worker_nice", 0, 19, 0, &set->worker_nice)) < 0)
        return rc;
    if (set->batch < 1 || set->batch > 10000)
        set->batch = 256;
    set->outbox_attempts = (int)attempts;
    set->spool_attempts = (int)spool_attempts;
    /* Privacy exports default to "exports" beside the spool directory;
     * seen keys (webhook ids) are kept at least 48h, the window Shopify
     * retries a delivery in. */
    v = oh_conf_get(s, "exports");
    if (v && *v) {
        set->exports_dir = resolve_path(h->conf->path, v);
    } else if (asprintf(&set->exports_dir, "%s/../exports", set->spool_dir) < 0) {
        abort();
    }
    if ((rc = oh_conf_duration_ms(s, "seen_retention", 7LL * 86400000, &set->seen_retention_ms,
                                  &e)) < 0 && (rc = problem(ld, rc, &e)) < 0)
        return rc;
    if (set->seen_retention_ms < 48LL * 3600000)
        set->seen_retention_ms = 48LL * 3600000;
    gethostname(host, sizeof(host) - 1);
    v = oh_conf_get(s, "instance");
    if (v && *v) {
        set->instance = xstrdup(v);
    } else if (asprintf(&set->instance, "%s:%s", host,
                        realpath(h->conf->path, abspath) ? abspath : h->conf->path) < 0) {
        /* stable across restarts, so a restarted daemon takes back its own
         * poll and outbox leases at once instead of waiting them out */
        abort();
    }
    v = oh_conf_get(s, "log_level");
    if (v) {
        enum oh_log_level lvl;
        if (oh_log_parse_level(v, &lvl) < 0) {
            oh_err_set(&e, OH_EINVAL, "%s:%d: log_level: '%s' is not debug, info, warn or error",
                       h->conf->path, oh_conf_line(s, "log_level"), v);
            if ((rc = problem(ld, OH_EINVAL, &e)) < 0)
                return rc;
        } else {
            oh_log_set_level(lvl);
        }
    }
    return 0;
}

static int load_store(struct oh_hub *h, struct loader *ld)
{
    const struct oh_conf_section *s = oh_conf_find(h->conf, "store", NULL);
    struct oh_store_conf *c = &h->store_conf;
    struct oh_err e;
    long port = 0;
    int rc;

    oh_err_clear(&e);
    if (!s) {
        oh_err_set(&e, OH_EINVAL, "%s: no [store] section (host/socket, user, password, database)",
                   h->conf->path);
        return problem(ld, OH_EINVAL, &e);
    }
    c->host = oh_conf_get(s, "host");
    c->socket = oh_conf_get(s, "socket");
    c->user = oh_conf_get_or(s, "user", "orderhub");
    c->database = oh_conf_get_or(s, "database", "orderhub");
    if ((rc = oh_conf_int(s, "port", 0, &port, &e)) < 0 && (rc = problem(ld, rc, &e)) < 0)
        return rc;
    if ((rc = oh_conf_secret(s, "password", &h->store_password, &e)) < 0)
        return problem(ld, rc, &e);
    c->port = (unsigned)port;
    c->password = h->store_password;
    if (c->socket && c->socket[0] != '/') {
        /* relative sockets are relative to the config file, like every path */
        char *abs = resolve_path(h->conf->path, c->socket);
        struct oh_conf_kv *kv = NULL;
        for (size_t i = 0; i < s->n; i++)
            if (strcmp(s->kv[i].key, "socket") == 0)
                kv = &s->kv[i];
        free(kv->value);
        kv->value = abs;
        c->socket = abs;
    }
    return 0;
}

static int load_channel(struct oh_hub *h, const struct oh_conf_section *s, struct loader *ld)
{
    struct oh_hub_channel *hc = &h->chans[h->nchans];
    struct oh_channel *ch = &hc->ch;
    const char *type = oh_conf_get(s, "type"), *v;
    struct oh_err e;
    int rc;

    oh_err_clear(&e);
    memset(hc, 0, sizeof(*hc));
    ch->name = xstrdup(s->name);
    ch->cfg = s;
    ch->ops = &store_ops;
    ch->ops_ud = h;
    h->nchans++;
    if (!type || !*type) {
        oh_err_set(&e, OH_EINVAL, "%s:%d: [channel %s] needs type = ...", s->path, s->line, s->name);
        return problem(ld, OH_EINVAL, &e);
    }
    if (!(ch->conn = oh_connector_find(type))) {
        oh_err_set(&e, OH_EINVAL, "%s:%d: [channel %s] type: unknown connector '%s'", s->path,
                   oh_conf_line(s, "type"), s->name, type);
        return problem(ld, OH_EINVAL, &e);
    }
    ch->format = xstrdup(oh_conf_get_or(s, "format", "canonical"));
    if ((rc = oh_conf_duration_ms(s, "poll", 30000, &ch->poll_ms, &e)) < 0 &&
        (rc = problem(ld, rc, &e)) < 0)
        return rc;
    if ((rc = oh_conf_size(s, "max_document_size", h->set.max_document_size, &ch->max_doc_size,
                           &e)) < 0 &&
        (rc = problem(ld, rc, &e)) < 0)
        return rc;
    if ((v = oh_conf_get(s, "mapping")) && *v) {
        ch->mapping = resolve_path(h->conf->path, v);
        if ((rc = oh_map_load(ch->mapping, &hc->map, &e)) < 0)
            return problem(ld, rc, &e);
        /* the mapping's own `from` line says how to read the input */
        free(ch->format);
        ch->format = xstrdup(oh_map_from(hc->map));
    } else if (strcmp(ch->format, "canonical") != 0 && ch->conn->poll) {
        oh_err_set(&e, OH_EINVAL, "%s:%d: [channel %s] format = %s needs mapping = FILE", s->path,
                   oh_conf_line(s, "format"), s->name, ch->format);
        if ((rc = problem(ld, OH_EINVAL, &e)) < 0)
            return rc;
    }
    if ((v = oh_conf_get(s, "out_mapping")) && *v) {
        char *path = resolve_path(h->conf->path, v);
        rc = oh_map_load(path, &hc->out_map, &e);
        free(path);
        if (rc < 0 && (rc = problem(ld, rc, &e)) < 0)
            return rc;
    }
    if ((rc = ch->conn->open(ch, &e)) < 0)
        return problem(ld, rc, &e);
    {
        int in = 1;
        if ((rc = oh_conf_bool(s, "inbound", ch->conn->poll != NULL, &in, &e)) < 0)
            return problem(ld, rc, &e);
        hc->inbound = in && ch->conn->poll && ch->poll_ms > 0;
    }
    return 0;
}

/* A file channel that polls the directory it is also sent to would take
 * back in what it writes there: 1 (and e set) when its pattern matches the
 * name the route's first event would get (`*` in it read as `x`). */
static int reads_own_output(const struct oh_hub_channel *hc, const char *event, struct oh_err *e)
{
    const struct oh_conf_section *cs = hc->ch.cfg;
    const char *type = hc->ch.conn->type, *pattern;
    struct oh_outbox_msg m;
    char name[256];

    if (!hc->inbound || (strcmp(type, "dir") != 0 && strcmp(type, "sftp") != 0))
        return 0;
    memset(&m, 0, sizeof(m));
    m.id = 1;
    snprintf(m.event, sizeof(m.event), "%s", event);
    for (char *p = m.event; *p; p++)
        if (*p == '*')
            *p = 'x';
    snprintf(m.origin, sizeof(m.origin), "%s", hc->ch.name);
    snprintf(m.content_type, sizeof(m.content_type), "application/json");
    oh_filechan_name(oh_conf_get_or(cs, "filename", FILECHAN_DEFAULT_NAME), &m, name,
                     sizeof(name));
    pattern = oh_conf_get_or(cs, "pattern", "*");
    if (!oh_glob_match(pattern, name))
        return 0;
    oh_err_set(e, OH_EINVAL,
               "channel '%s' also reads the directory it is sent to, and its pattern '%s' matches "
               "the files sent there (like %s): it would take them in as new documents; set "
               "inbound = no, or a pattern or filename that do not overlap",
               hc->ch.name, pattern, name);
    return 1;
}

static int load_route(struct oh_hub *h, const struct oh_conf_section *s, struct loader *ld)
{
    struct oh_route *r = &h->routes[h->nroutes++];
    const char *on = oh_conf_get(s, "on"), *to = oh_conf_get(s, "to");
    struct oh_err e;
    char *copy, *tok, *save = NULL;

    memset(r, 0, sizeof(*r));
    r->name = xstrdup(s->name);
    r->line = s->line;
    if (!on || !*on || !to || !*to) {
        oh_err_set(&e, OH_EINVAL, "%s:%d: [route %s] needs on = EVENT and to = CHANNEL|@origin",
                   s->path, s->line, s->name);
        return problem(ld, OH_EINVAL, &e);
    }
    r->to = xstrdup(to);
    copy = xstrdup(on);
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!(r->on = realloc(r->on, (r->non + 1) * sizeof(*r->on))))
            abort();
        r->on[r->non++] = xstrdup(tok);
    }
    free(copy);
    if (strcmp(to, "@origin") != 0 && !oh_hub_channel(h, to)) {
        oh_err_set(&e, OH_EINVAL, "%s:%d: [route %s] to: no channel named '%s'", s->path,
                   oh_conf_line(s, "to"), s->name, to);
        return problem(ld, OH_EINVAL, &e);
    }
    if (strcmp(to, "@origin") != 0 && !oh_hub_channel(h, to)->ch.conn->deliver) {
        oh_err_set(&e, OH_EINVAL, "%s:%d: [route %s] to: channel '%s' (%s) cannot send", s->path,
                   oh_conf_line(s, "to"), s->name, to, oh_hub_channel(h, to)->ch.conn->type);
        return problem(ld, OH_EINVAL, &e);
    }
    if (strcmp(to, "@origin") != 0 && reads_own_output(oh_hub_channel(h, to), r->on[0], &e)) {
        oh_err_prefix(&e, "%s:%d: [route %s] to", s->path, oh_conf_line(s, "to"), s->name);
        return problem(ld, OH_EINVAL, &e);
    }
    return 0;
}

int oh_hub_open(const char *config_path, int flags, void (*report)(const char *msg, void *ud),
                void *ud, struct oh_hub **out, struct oh_err *err)
{
    struct oh_hub *h = calloc(1, sizeof(*h));
    struct loader ld = { report, ud, (flags & OH_HUB_CHECK_ONLY) != 0, 0, { 0 } };
    size_t nch = 0, nrt = 0;
    int rc;

    if (!h)
        abort();
    *out = NULL;
    if ((rc = oh_conf_load(config_path, &h->conf, err)) < 0) {
        if (report)
            report(err->msg, ud);
        free(h);
        return rc;
    }
    for (size_t i = 0; i < h->conf->n; i++) {
        nch += strcmp(h->conf->sec[i].kind, "channel") == 0;
        nrt += strcmp(h->conf->sec[i].kind, "route") == 0;
    }
    h->chans = calloc(nch + 1, sizeof(*h->chans));
    h->routes = calloc(nrt + 1, sizeof(*h->routes));
    if (!h->chans || !h->routes)
        abort();
    if ((rc = load_settings(h, &ld)) < 0 || (rc = load_store(h, &ld)) < 0)
        goto done;
    for (size_t i = 0; i < h->conf->n; i++)
        if (strcmp(h->conf->sec[i].kind, "channel") == 0 &&
            (rc = load_channel(h, &h->conf->sec[i], &ld)) < 0)
            goto done;
    for (size_t i = 0; i < h->conf->n; i++)
        if (strcmp(h->conf->sec[i].kind, "route") == 0 &&
            (rc = load_route(h, &h->conf->sec[i], &ld)) < 0)
            goto done;
    {
        /* Keys a module asked for are marked; the rest are typos. [http]
         * belongs to the HTTP server, which reads it later. */
        struct oh_conf_section *http = oh_conf_find(h->conf, "http", NULL);
        for (size_t i = 0; http && i < http->n; i++)
            http->kv[i].used = 1;
        for (size_t i = 0; i < h->conf->n; i++) {
            struct oh_conf_section *s = &h->conf->sec[i];
            for (size_t k = 0; k < s->n; k++) {
                if (s->kv[k].used)
                    continue;
                struct oh_err e;
                oh_err_set(&e, OH_EINVAL, "%s:%d: unknown key '%s' in [%s%s%s]", h->conf->path,
                           s->kv[k].line, s->kv[k].key, s->kind, *s->name ? " " : "", s->name);
                if ((rc = problem(&ld, OH_EINVAL, &e)) < 0)
                    goto done;
            }
        }
    }
    if (!(flags & OH_HUB_NO_SPOOL)) {
        struct oh_spool_opts so = {
            .archive = h->set.archive,
            .backoff_base_ms = h->set.retry_base_ms,
            .backoff_max_ms = h->set.retry_max_ms,
            .max_attempts = h->set.spool_attempts,
            .max_size = 0,
        };
        if ((rc = oh_spool_open(h->set.spool_dir, &so, &h->spool, err)) < 0) {
            if (report)
                report(err->msg, ud);
            goto done;
        }
    }
    rc = ld.first_rc;
    if (rc < 0 && err)
        *err = ld.first;
done:
    if (rc < 0 && !ld.check_only && ld.first_rc && err)
        *err = ld.first;
    if (rc < 0) {
        oh_hub_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void oh_hub_free(struct oh_hub *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nchans; i++) {
        struct oh_channel *ch = &h->chans[i].ch;
        if (ch->conn && ch->conn->close && ch->priv)
            ch->conn->close(ch);
        oh_map_free(h->chans[i].map);
        oh_map_free(h->chans[i].out_map);
        free(ch->name);
        free(ch->format);
        free(ch->mapping);
    }
    for (size_t i = 0; i < h->nroutes; i++) {
        for (size_t k = 0; k < h->routes[i].non; k++)
            free(h->routes[i].on[k]);
        free(h->routes[i].on);
        free(h->routes[i].name);
        free(h->routes[i].to);
    }
    free(h->chans);
    free(h->routes);
    oh_spool_free(h->spool);
    oh_secret_free(h->store_password);
    free(h->set.spool_dir);
    free(h->set.exports_dir);
    free(h->set.instance);
    oh_conf_free(h->conf);
    free(h);
}

struct oh_hub_channel *oh_hub_channel(const struct oh_hub *h, const char *name)
{
    for (size_t i = 0; i < h->nchans; i++)
        if (strcmp(h->chans[i].ch.name, name) == 0)
            return &h->chans[i];
    return NULL;
}

static int event_matches(const char *pattern, const char *event)
{
    size_t n = strlen(pattern);
    if (strcmp(pattern, "*") == 0 || strcmp(pattern, event) == 0)
        return 1;
    /* "order.*" matches every order event */
    return n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.' &&
           strncmp(pattern, event, n - 1) == 0;
}

void oh_hub_route(const struct oh_hub *h, const char *event, const char *origin,
                  void (*cb)(const char *target, void *ud), void *ud)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct oh_route *r = &h->routes[i];
        for (size_t k = 0; k < r->non; k++) {
            if (!event_matches(r->on[k], event))
                continue;
            const char *to = strcmp(r->to, "@origin") == 0 ? origin : r->to;
            const struct oh_hub_channel *hc = oh_hub_channel(h, to);
            /* @origin to a channel that cannot send is skipped, not an error */
            if (hc && hc->ch.conn->deliver)
                cb(to, ud);
            break;
        }
    }
}

int oh_hub_store_open(const struct oh_hub *h, struct oh_store **out, struct oh_err *err)
{
    return oh_store_open(&h->store_conf, out, err);
}
