/* config.c — see config.h. Parsing is inih's; this file keeps every key with
 * its line so that every message can say FILE:LINE. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct parse_state {
    struct oh_conf *c;
    struct oh_err *err;
    int failed;
    const char *text; /* what is left to read */
    int line;         /* lines handed to inih so far = the current line */
};

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 8;
    p = realloc(p, *cap * elem);
    if (!p)
        abort();
    return p;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* "[channel shop-a]" -> kind "channel", name "shop-a"; "[hub]" -> "hub", "". */
static struct oh_conf_section *section_new(struct oh_conf *c, const char *header, int line)
{
    char buf[256], *kind, *name;
    struct oh_conf_section *s;

    snprintf(buf, sizeof(buf), "%s", header);
    kind = trim(buf);
    name = kind;
    while (*name && !isspace((unsigned char)*name))
        name++;
    if (*name)
        *name++ = '\0';
    name = trim(name);
    c->sec = grow(c->sec, &c->cap, c->n, sizeof(*c->sec));
    s = &c->sec[c->n++];
    memset(s, 0, sizeof(*s));
    s->kind = xstrdup(kind);
    s->name = xstrdup(name);
    s->line = line;
    s->path = c->path;
    return s;
}

/* Debian's inih is built without line numbers in the handler and without a
 * call on new sections, so the reader counts lines and notes section headers
 * itself; inih still does the parsing. */

static char *reader(char *str, int num, void *stream)
{
    struct parse_state *ps = stream;
    const char *nl, *p;
    size_t n;

    if (!*ps->text || ps->failed)
        return NULL;
    nl = strchr(ps->text, '\n');
    n = nl ? (size_t)(nl - ps->text) + 1 : strlen(ps->text);
    ps->line++;
    if (n >= (size_t)num) {
        oh_err_set(ps->err, OH_EINVAL, "%s:%d: line longer than %d characters", ps->c->path,
                   ps->line, num - 1);
        ps->failed = 1;
        return NULL;
    }
    memcpy(str, ps->text, n);
    str[n] = '\0';
    ps->text += n;
    for (p = str; *p == ' ' || *p == '\t'; p++)
        ;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        char hdr[256];
        size_t hl = e ? (size_t)(e - p - 1) : 0;
        if (e && hl < sizeof(hdr)) {
            memcpy(hdr, p + 1, hl);
            hdr[hl] = '\0';
            section_new(ps->c, hdr, ps->line);
        }
    }
    return str;
}

static int on_entry(void *ud, const char *section, const char *key, const char *value)
{
    struct parse_state *ps = ud;
    struct oh_conf *c = ps->c;
    struct oh_conf_section *s = c->n ? &c->sec[c->n - 1] : NULL;
    struct oh_conf_kv *kv;
    int line = ps->line;

    (void)section;
    if (!s) {
        oh_err_set(ps->err, OH_EINVAL, "%s:%d: key '%s' before any [section]", c->path, line, key);
        ps->failed = 1;
        return 0;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kv[i].key, key) == 0) {
            oh_err_set(ps->err, OH_EINVAL, "%s:%d: key '%s' given twice in [%s%s%s] (first at line %d)",
                       c->path, line, key, s->kind, *s->name ? " " : "", s->name, s->kv[i].line);
            ps->failed = 1;
            return 0;
        }
    s->kv = grow(s->kv, &s->cap, s->n, sizeof(*s->kv));
    kv = &s->kv[s->n++];
    kv->key = xstrdup(key);
    kv->value = xstrdup(value);
    kv->line = line;
    kv->used = 0;
    return 1;
}

static int check_sections(struct oh_conf *c, struct oh_err *err)
{
    static const char *const kinds[] = { "hub", "store", "http", "channel", "route", NULL };
    for (size_t i = 0; i < c->n; i++) {
        struct oh_conf_section *s = &c->sec[i];
        int known = 0;
        for (size_t k = 0; kinds[k]; k++)
            known |= strcmp(s->kind, kinds[k]) == 0;
        if (!known)
            return oh_err_set(err, OH_EINVAL,
                              "%s:%d: unknown section [%s] (expected hub, store, http, channel NAME or route NAME)",
                              c->path, s->line, s->kind);
        int named = strcmp(s->kind, "channel") == 0 || strcmp(s->kind, "route") == 0;
        if (named && !*s->name)
            return oh_err_set(err, OH_EINVAL, "%s:%d: [%s] needs a name: [%s NAME]", c->path,
                              s->line, s->kind, s->kind);
        if (!named && *s->name)
            return oh_err_set(err, OH_EINVAL, "%s:%d: [%s] takes no name", c->path, s->line, s->kind);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->sec[j].kind, s->kind) == 0 && strcmp(c->sec[j].name, s->name) == 0)
                return oh_err_set(err, OH_EINVAL, "%s:%d: [%s%s%s] given twice (first at line %d)",
                                  c->path, s->line, s->kind, *s->name ? " " : "", s->name,
                                  c->sec[j].line);
    }
    return 0;
}

int oh_conf_parse(const char *text, const char *path, struct oh_conf **out, struct oh_err *err)
{
    struct oh_conf *c = calloc(1, sizeof(*c));
    struct parse_state ps = { c, err, 0, text, 0 };
    int rc;

    if (!c)
        abort();
    c->path = xstrdup(path);
    rc = ini_parse_stream(reader, &ps, on_entry, &ps);
    if (ps.failed || rc != 0) {
        if (!ps.failed)
            oh_err_set(err, OH_EINVAL, "%s:%d: syntax error (expected [section] or key = value)",
                       path, rc);
        oh_conf_free(c);
        return OH_EINVAL;
    }
    if ((rc = check_sections(c, err)) < 0) {
        oh_conf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int oh_conf_load(const char *path, struct oh_conf **out, struct oh_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = oh_read_file(path, 1 << 20, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = oh_conf_parse(text, path, out, err);
    free(text);
    return rc;
}

void oh_conf_free(struct oh_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct oh_conf_section *s = &c->sec[i];
        for (size_t k = 0; k < s->n; k++) {
            free(s->kv[k].key);
            explicit_bzero(s->kv[k].value, strlen(s->kv[k].value));
            free(s->kv[k].value);
        }
        free(s->kv);
        free(s->kind);
        free(s->name);
    }
    free(c->sec);
    free(c->path);
    free(c);
}

struct oh_conf_section *oh_conf_find(const struct oh_conf *c, const char *kind, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->sec[i].kind, kind) == 0 && (!name || strcmp(c->sec[i].name, name) == 0))
            return &c->sec[i];
    return NULL;
}

static struct oh_conf_kv *find_kv(const struct oh_conf_section *s, const char *key)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kv[i].key, key) == 0) {
            s->kv[i].used = 1;
            return &s->kv[i];
        }
    return NULL;
}

const char *oh_conf_get(const struct oh_conf_section *s, const char *key)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    return kv ? kv->value : NULL;
}

const char *oh_conf_get_or(const struct oh_conf_section *s, const char *key, const char *dflt)
{
    const char *v = oh_conf_get(s, key);
    return v && *v ? v : dflt;
}

int oh_conf_line(const struct oh_conf_section *s, const char *key)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    return kv ? kv->line : 0;
}

static int bad(struct oh_err *err, const struct oh_conf_section *s, const struct oh_conf_kv *kv,
               const char *what)
{
    return oh_err_set(err, OH_EINVAL, "%s:%d: %s: '%s' is not %s", s->path ? s->path : "config",
                      kv->line, kv->key, kv->value, what);
}

int oh_conf_int(const struct oh_conf_section *s, const char *key, long dflt, long *out,
                struct oh_err *err)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    char *end;
    long v;

    *out = dflt;
    if (!kv || !*kv->value)
        return 0;
    errno = 0;
    v = strtol(kv->value, &end, 10);
    if (errno || *end || end == kv->value)
        return bad(err, s, kv, "a whole number");
    *out = v;
    return 0;
}

int oh_conf_bool(const struct oh_conf_section *s, const char *key, int dflt, int *out,
                 struct oh_err *err)
{
    static const char *const yes[] = { "yes", "true", "on", "1", NULL };
    static const char *const no[] = { "no", "false", "off", "0", NULL };
    struct oh_conf_kv *kv = find_kv(s, key);

    *out = dflt;
    if (!kv || !*kv->value)
        return 0;
    for (size_t i = 0; yes[i]; i++) {
        if (strcasecmp(kv->value, yes[i]) == 0)
            return (*out = 1, 0);
        if (strcasecmp(kv->value, no[i]) == 0)
            return (*out = 0, 0);
    }
    return bad(err, s, kv, "yes or no");
}

int oh_parse_duration_ms(const char *s, int64_t *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        v *= 1000;
    else if (strcmp(end, "ms") == 0)
        ;
    else if (strcmp(end, "m") == 0)
        v *= 60000;
    else if (strcmp(end, "h") == 0)
        v *= 3600000;
    else if (strcmp(end, "d") == 0)
        v *= 86400000;
    else
        return -1;
    if (v > 9.0e15)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int oh_parse_size(const char *s, int64_t *out)
{
    char *end;
    long long v;
    int64_t mul = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    if (*end && (end[1] == '\0' || (end[1] == 'B' && end[2] == '\0') ||
                 (end[1] == 'i' && end[2] == 'B' && end[3] == '\0'))) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1024; break;
        case 'M': mul = 1024 * 1024; break;
        case 'G': mul = 1024LL * 1024 * 1024; break;
        case 'B': mul = 1; break;
        default: return -1;
        }
    } else if (*end) {
        return -1;
    }
    if (v > INT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

int oh_conf_duration_ms(const struct oh_conf_section *s, const char *key, int64_t dflt,
                        int64_t *out, struct oh_err *err)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    *out = dflt;
    if (!kv || !*kv->value)
        return 0;
    if (oh_parse_duration_ms(kv->value, out) < 0)
        return bad(err, s, kv, "a duration (like 250ms, 30s, 5m, 2h, 1d)");
    return 0;
}

int oh_conf_size(const struct oh_conf_section *s, const char *key, int64_t dflt, int64_t *out,
                 struct oh_err *err)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    *out = dflt;
    if (!kv || !*kv->value)
        return 0;
    if (oh_parse_size(kv->value, out) < 0)
        return bad(err, s, kv, "a size (like 512, 64K, 10M, 1G)");
    return 0;
}

int oh_conf_enum(const struct oh_conf_section *s, const char *key, const char *const *choices,
                 int dflt, int *out, struct oh_err *err)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    char list[256] = "";
    size_t o = 0;

    *out = dflt;
    if (!kv || !*kv->value)
        return 0;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(kv->value, choices[i]) == 0)
            return (*out = i, 0);
        int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? "|" : "", choices[i]);
        if (w > 0 && (size_t)w < sizeof(list) - o)
            o += (size_t)w;
    }
    return oh_err_set(err, OH_EINVAL, "%s:%d: %s: '%s' is not one of %s",
                      s->path ? s->path : "config", kv->line, kv->key, kv->value, list);
}

int oh_secret_resolve(const char *ref, char **out, struct oh_err *err)
{
    *out = NULL;
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (!v)
            return oh_err_set(err, OH_EINVAL, "environment variable %s is not set", ref + 4);
        *out = xstrdup(v);
        return 0;
    }
    if (strncmp(ref, "file:", 5) == 0) {
        char *buf = NULL;
        size_t len = 0;
        int rc = oh_read_file(ref + 5, 64 * 1024, &buf, &len, err);
        if (rc < 0)
            return rc;
        if (len && buf[len - 1] == '\n')
            buf[--len] = '\0';
        if (len && buf[len - 1] == '\r')
            buf[--len] = '\0';
        *out = buf;
        return 0;
    }
    *out = xstrdup(ref);
    return 0;
}

int oh_conf_secret(const struct oh_conf_section *s, const char *key, char **out, struct oh_err *err)
{
    struct oh_conf_kv *kv = find_kv(s, key);
    int rc;

    *out = NULL;
    if (!kv || !*kv->value)
        return 0;
    if ((rc = oh_secret_resolve(kv->value, out, err)) < 0)
        oh_err_prefix(err, "%s:%d: %s", s->path ? s->path : "config", kv->line, key);
    return rc;
}

void oh_secret_free(char *secret)
{
    if (!secret)
        return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

size_t oh_conf_unused(const struct oh_conf *c, void (*cb)(const char *msg, void *ud), void *ud)
{
    size_t n = 0;
    char msg[512];

    for (size_t i = 0; i < c->n; i++) {
        const struct oh_conf_section *s = &c->sec[i];
        for (size_t k = 0; k < s->n; k++) {
            if (s->kv[k].used)
                continue;
            snprintf(msg, sizeof(msg), "%s:%d: unknown key '%s' in [%s%s%s]", c->path,
                     s->kv[k].line, s->kv[k].key, s->kind, *s->name ? " " : "", s->name);
            cb(msg, ud);
            n++;
        }
    }
    return n;
}
