/*
 * map_cli.c — `orderhub map FILE.map INPUT [--format F] [--channel NAME]`
 * and `orderhub map test [DIR]`, as library functions for the CLI.
 *
 * map:  inbound mappings print one canonical record per line (compact JSON,
 *       keys in the mapping's rule order, `channel` first) on stdout and
 *       each rejected record's reason on stderr; outbound mappings (`from
 *       KIND`) read canonical records (one JSON object, an array of them or
 *       NDJSON) and print the rendered documents. --format replaces the
 *       decoder named on the `from` line. Exit 0, or 1 if the document or
 *       any record failed, 2 on usage errors.
 * test: finds every DIR/.../tests/NAME.input.EXT (DIR defaults to
 *       "mappings"); its mapping is SOURCE/P.map beside that tests folder,
 *       where P is NAME or the longest prefix of NAME that ends before a '-'
 *       and names an existing mapping (orders-page2 -> orders.map). Inbound:
 *       compared record by record with NAME.expect.ndjson, where a line
 *       {"$error": "message"} stands for a record rejected with that message.
 *       Outbound: the rendered bytes are compared with NAME.expect.* (the one
 *       expect file that is not .ndjson). Runs use channel = SOURCE folder
 *       name, received_at = 2026-01-01T00:00:00Z, source = the input's file
 *       name, so expectations are reproducible. Mismatches print a
 *       field-level diff; exit 1 if any test failed or none was found.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "map/map.h"
#include "util.h"

#define MAP_MAX_INPUT (256u << 20)
#define TEST_RECEIVED_AT 1767225600000LL /* 2026-01-01T00:00:00Z */

struct outcome {
    json_t *recs; /* array: record objects or {"$error": msg} */
};

static int collect_cb(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    struct outcome *o = ud;
    (void)index;
    if (record)
        json_array_append(o->recs, record); /* the array takes its own reference */
    else
        json_array_append_new(o->recs, json_pack("{s:s}", "$error", rec_err->msg));
    return 0;
}

/* Canonical records from text: an object, an array of objects, or NDJSON. */
static json_t *read_records(const char *data, size_t len, struct oh_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_DECODE_ANY, &je), *arr;
    if (j && json_is_array(j))
        return j;
    if (j && json_is_object(j)) {
        arr = json_array();
        json_array_append_new(arr, j);
        return arr;
    }
    json_decref(j);
    arr = json_array();
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (end > pos) {
            json_t *r = json_loadb(data + pos, end - pos, 0, &je);
            if (!r) {
                oh_err_set(err, OH_EINVAL, "line %d: %s", je.line, je.text);
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, r);
        }
        pos = end + 1;
    }
    return arr;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Name of the folder a mapping file is in ("shopify" for .../shopify/order.map). */
static char *parent_name(const char *path)
{
    const char *e = strrchr(path, '/'), *b;
    if (!e)
        return strdup("");
    b = e;
    while (b > path && b[-1] != '/')
        b--;
    return strndup(b, (size_t)(e - b));
}

/* Runs mapping m on the input; fills o->recs (inbound) or *rendered (outbound). */
static int run_one(const struct oh_map *m, const char *fmt, const char *data, size_t len,
                   const struct oh_map_ctx *ctx, struct outcome *o, char **rendered,
                   size_t *rlen, struct oh_err *err)
{
    json_t *recs, *r;
    size_t i;
    FILE *f;
    int rc = 0;

    if (!oh_map_is_kind(oh_map_from(m)) || oh_map_is_kind(oh_map_to(m)))
        return oh_map_run_as(m, fmt, data, len, ctx, collect_cb, o, err);
    if (!(recs = read_records(data, len, err)))
        return OH_EINVAL;
    *rendered = NULL;
    *rlen = 0;
    f = open_memstream(rendered, rlen);
    json_array_foreach(recs, i, r) {
        char *out = NULL;
        size_t ol = 0;
        if ((rc = oh_map_render(m, r, ctx, &out, &ol, err)) < 0) {
            oh_err_prefix(err, "record %zu", i + 1);
            break;
        }
        fwrite(out, 1, ol, f);
        free(out);
    }
    fclose(f);
    json_decref(recs);
    return rc;
}

/* `map`: each record as it comes, the same text json_dumpf would print. */
static int print_cb(void *ud, size_t index, const char *json, size_t len, const struct oh_err *rec_err)
{
    int *status = ud;
    if (!json) {
        fprintf(stderr, "record %zu: %s\n", index + 1, rec_err->msg);
        *status = 1;
        return 0;
    }
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: orderhub map FILE.map INPUT [--format F] [--channel NAME]\n"
                    "       orderhub map test [DIR]\n");
    return 2;
}

int oh_map_cli_run(int argc, char **argv)
{
    const char *mapfile = NULL, *input = NULL, *fmt = NULL, *channel = NULL;
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    struct outcome o = {0};
    char *data = NULL, *rendered = NULL, *chan = NULL;
    size_t len = 0, rlen = 0, i;
    struct oh_map_ctx ctx;
    json_t *r;
    int rc = 0, status = 0;

    if (argc >= 2 && strcmp(argv[1], "test") == 0)
        return oh_map_cli_test(argc - 1, argv + 1);
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--format") == 0 && k + 1 < argc)
            fmt = argv[++k];
        else if (strcmp(argv[k], "--channel") == 0 && k + 1 < argc)
            channel = argv[++k];
        else if (argv[k][0] == '-' && argv[k][1] == '-')
            return usage();
        else if (!mapfile)
            mapfile = argv[k];
        else if (!input)
            input = argv[k];
        else
            return usage();
    }
    if (!mapfile || !input)
        return usage();
    if (oh_map_load(mapfile, &m, &err) < 0) {
        fprintf(stderr, "orderhub map: %s\n", err.msg);
        return 1;
    }
    if (oh_read_file(input, MAP_MAX_INPUT, &data, &len, &err) < 0) {
        fprintf(stderr, "orderhub map: %s: %s\n", input, err.msg);
        status = 1;
        goto done;
    }
    chan = parent_name(mapfile);
    ctx.channel = channel ? channel : chan;
    ctx.received_at_ms = oh_now_ms();
    ctx.source = base_name(input);
    o.recs = json_array();
    if (!oh_map_is_kind(oh_map_from(m)) || oh_map_is_kind(oh_map_to(m)))
        rc = oh_map_run_text(m, fmt, data, len, &ctx, print_cb, &status, &err);
    else
        rc = run_one(m, fmt, data, len, &ctx, &o, &rendered, &rlen, &err);
    json_array_foreach(o.recs, i, r) {
        json_t *e = json_object_get(r, "$error");
        if (e) {
            fprintf(stderr, "record %zu: %s\n", i + 1, json_string_value(e));
            status = 1;
        } else {
            json_dumpf(r, stdout, JSON_COMPACT);
            fputc('\n', stdout);
        }
    }
    if (rendered)
        fwrite(rendered, 1, rlen, stdout);
    if (rc < 0) {
        fprintf(stderr, "orderhub map: %s: %s\n", input, err.msg);
        status = 1;
    }
done:
    fflush(stdout);
    json_decref(o.recs);
    free(rendered);
    free(data);
    free(chan);
    oh_map_free(m);
    return status;
}

/* --- map test ---------------------------------------------------------------- */

struct list {
    char **v;
    size_t n, cap;
};

static void list_add(struct list *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            abort();
    }
    l->v[l->n++] = s;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_inputs(const char *dir, int in_tests, struct list *out, int depth)
{
    DIR *d;
    struct dirent *e;
    if (depth > 16 || !(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        char *p;
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
            abort();
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            find_inputs(p, strcmp(e->d_name, "tests") == 0, out, depth + 1);
            free(p);
        } else if (in_tests && strstr(e->d_name, ".input.")) {
            list_add(out, p);
        } else {
            free(p);
        }
    }
    closedir(d);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void show(const json_t *v, char *buf, size_t cap)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, cap, "%s", s ? s : "(absent)");
    free(s);
}

/* Prints field-level differences; returns how many. */
static int diff(const char *test, size_t rec, const char *path, const json_t *exp, const json_t *got)
{
    char a[256], b[256], sub[512];
    int n = 0;
    if (json_is_object(exp) && json_is_object(got)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)exp, k, v) {
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
            n += diff(test, rec, sub, v, json_object_get(got, k));
        }
        json_object_foreach((json_t *)got, k, v) {
            if (json_object_get(exp, k))
                continue;
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
            n += diff(test, rec, sub, NULL, v);
        }
        return n;
    }
    if (json_is_array(exp) && json_is_array(got) && json_array_size(exp) == json_array_size(got)) {
        for (size_t i = 0; i < json_array_size(exp); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            n += diff(test, rec, sub, json_array_get(exp, i), json_array_get(got, i));
        }
        return n;
    }
    if (exp && got && json_equal((json_t *)exp, (json_t *)got))
        return 0;
    show(exp, a, sizeof(a));
    show(got, b, sizeof(b));
    printf("  %s record %zu: %s: expected %s, got %s\n", test, rec, *path ? path : "(record)", a, b);
    return 1;
}

static int run_test(const char *input)
{
    char *dir = strdup(input), *tdir, *srcdir, *name, *ext, *mapfile = NULL, *expfile = NULL;
    char *data = NULL, *expdata = NULL, *rendered = NULL, *chan = NULL;
    size_t len = 0, elen = 0, rlen = 0;
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    struct outcome o = {0};
    struct oh_map_ctx ctx;
    json_t *exp = NULL;
    int failed = 0, rc;
    const char *bn = base_name(input);

    /* .../SOURCE/tests/NAME.input.EXT */
    tdir = dir;
    *strrchr(tdir, '/') = '\0';
    srcdir = strdup(tdir);
    *strrchr(srcdir, '/') = '\0';
    name = strndup(bn, (size_t)(strstr(bn, ".input.") - bn));
    ext = strstr(bn, ".input.") + 7;
    for (size_t l = strlen(name);; l--) {
        if (l == strlen(name) || name[l] == '-') {
            char *cand;
            if (asprintf(&cand, "%s/%.*s.map", srcdir, (int)l, name) < 0)
                abort();
            if (exists(cand)) {
                mapfile = cand;
                break;
            }
            free(cand);
        }
        if (l == 0)
            break;
    }
    if (!mapfile) {
        printf("FAIL %s: no mapping %s/%s.map (nor a shorter prefix)\n", input, srcdir, name);
        failed = 1;
        goto done;
    }
    if (oh_map_load(mapfile, &m, &err) < 0) {
        printf("FAIL %s: %s\n", input, err.msg);
        failed = 1;
        goto done;
    }
    if (oh_read_file(input, MAP_MAX_INPUT, &data, &len, &err) < 0) {
        printf("FAIL %s: %s\n", input, err.msg);
        failed = 1;
        goto done;
    }
    chan = parent_name(mapfile);
    ctx.channel = chan;
    ctx.received_at_ms = TEST_RECEIVED_AT;
    ctx.source = bn;
    o.recs = json_array();
    rc = run_one(m, NULL, data, len, &ctx, &o, &rendered, &rlen, &err);
    if (asprintf(&expfile, "%s/%s.expect.ndjson", tdir, name) < 0)
        abort();
    if (exists(expfile)) {
        struct oh_err je = {0};
        if (rc < 0) {
            printf("FAIL %s: %s\n", input, err.msg);
            failed = 1;
            goto done;
        }
        if (oh_read_file(expfile, MAP_MAX_INPUT, &expdata, &elen, &je) < 0 ||
            !(exp = read_records(expdata, elen, &je))) {
            printf("FAIL %s: %s: %s\n", input, expfile, je.msg);
            failed = 1;
            goto done;
        }
        if (json_array_size(exp) != json_array_size(o.recs)) {
            printf("  %s: expected %zu records, got %zu\n", name, json_array_size(exp),
                   json_array_size(o.recs));
            failed = 1;
        }
        for (size_t i = 0; i < json_array_size(exp) && i < json_array_size(o.recs); i++)
            if (diff(name, i + 1, "", json_array_get(exp, i), json_array_get(o.recs, i)))
                failed = 1;
    } else {
        /* outbound: NAME.expect.<anything but ndjson> */
        DIR *d = opendir(tdir);
        struct dirent *e;
        char *pre = NULL;
        free(expfile);
        expfile = NULL;
        if (asprintf(&pre, "%s.expect.", name) < 0)
            abort();
        while (d && (e = readdir(d)))
            if (strncmp(e->d_name, pre, strlen(pre)) == 0 && !expfile)
                if (asprintf(&expfile, "%s/%s", tdir, e->d_name) < 0)
                    abort();
        if (d)
            closedir(d);
        free(pre);
        if (!expfile) {
            printf("FAIL %s: no %s.expect.ndjson (or .expect.* for outbound)\n", input, name);
            failed = 1;
            goto done;
        }
        if (rc < 0) {
            printf("FAIL %s: %s\n", input, err.msg);
            failed = 1;
            goto done;
        }
        if (oh_read_file(expfile, MAP_MAX_INPUT, &expdata, &elen, &err) < 0) {
            printf("FAIL %s: %s\n", input, err.msg);
            failed = 1;
            goto done;
        }
        if (elen != rlen || memcmp(expdata, rendered ? rendered : "", rlen) != 0) {
            size_t i = 0, line = 1;
            while (i < elen && i < rlen && expdata[i] == rendered[i])
                line += expdata[i++] == '\n';
            printf("  %s: output differs from %s at line %zu\n", name, base_name(expfile), line);
            failed = 1;
        }
    }
    (void)ext;
done:
    printf("%s %s\n", failed ? "FAIL" : "ok  ", input);
    json_decref(exp);
    json_decref(o.recs);
    oh_map_free(m);
    free(dir);
    free(srcdir);
    free(name);
    free(mapfile);
    free(expfile);
    free(data);
    free(expdata);
    free(rendered);
    free(chan);
    return failed;
}

int oh_map_cli_test(int argc, char **argv)
{
    const char *dir = argc >= 2 ? argv[1] : "mappings";
    struct list l = {0};
    int failed = 0;

    if (argc > 2)
        return usage();
    find_inputs(dir, 0, &l, 0);
    if (l.n == 0) {
        fprintf(stderr, "orderhub map test: no tests/NAME.input.* under %s\n", dir);
        return 1;
    }
    qsort(l.v, l.n, sizeof(*l.v), cmpstr);
    for (size_t i = 0; i < l.n; i++) {
        failed += run_test(l.v[i]);
        free(l.v[i]);
    }
    free(l.v);
    printf("%zu mapping test%s, %d failed\n", l.n, l.n == 1 ? "" : "s", failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
