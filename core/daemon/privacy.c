/* privacy.c — see privacy.h. */
#include "privacy.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Does the raw payload name the customer? The email case-insensitively, the
 * id only as a whole number (191167 must not match inside 5191167123). */
static int mentions(const char *data, size_t len, const char *customer_id, const char *email)
{
    if (email && *email) {
        size_t n = strlen(email);
        for (size_t i = 0; i + n <= len; i++)
            if (strncasecmp(data + i, email, n) == 0)
                return 1;
    }
    if (customer_id && *customer_id) {
        size_t n = strlen(customer_id);
        const char *p = data, *end = data + len;
        while (p + n <= end && (p = memmem(p, (size_t)(end - p), customer_id, n)) != NULL) {
            int before = p > data && isdigit((unsigned char)p[-1]);
            int after = p + n < end && isdigit((unsigned char)p[n]);
            if (!before && !after)
                return 1;
            p++;
        }
    }
    return 0;
}

/* Is this spool file an entry of channel? Reads the "channel:" header line. */
static int of_channel(const char *data, size_t len, const char *channel)
{
    const char *hdr_end = memmem(data, len, "\n\n", 2);
    size_t n = strlen(channel);
    const char *p = data;
    if (!hdr_end)
        return 0;
    while (p < hdr_end) {
        const char *nl = memchr(p, '\n', (size_t)(hdr_end - p) + 1);
        if (!nl)
            break;
        if ((size_t)(nl - p) == 9 + n && strncmp(p, "channel: ", 9) == 0 &&
            strncmp(p + 9, channel, n) == 0)
            return 1;
        p = nl + 1;
    }
    return 0;
}

/* Deletes archive/ and dead/ entries of channel that mention the customer
 * (all of the channel's with all = 1) and clears their documents.source. */
static int erase_raw(struct oh_hub *h, struct oh_store *st, const char *channel,
                     const char *customer_id, const char *email, int all, size_t *erased,
                     struct oh_err *err)
{
    static const char *const queues[] = { "archive", "dead" };
    int rc = 0;

    for (size_t q = 0; q < 2 && rc == 0; q++) {
        char dir[4096];
        DIR *d;
        struct dirent *de;
        snprintf(dir, sizeof(dir), "%s/%s", h->set.spool_dir, queues[q]);
        if (!(d = opendir(dir)))
            continue; /* no such queue (archiving off) */
        while (rc == 0 && (de = readdir(d)) != NULL) {
            char path[4096 + 300], *data = NULL;
            size_t len = 0;
            size_t nl = strlen(de->d_name);
            if (de->d_name[0] == '.' || (nl > 7 && strcmp(de->d_name + nl - 7, ".reason") == 0))
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            if (oh_read_file(path, 0, &data, &len, NULL) < 0)
                continue; /* gone meanwhile */
            if (of_channel(data, len, channel) &&
                (all || mentions(data, len, customer_id, email))) {
                if (unlink(path) < 0 && errno != ENOENT) {
                    rc = oh_err_set(err, -1, "erase %s: %s", path, strerror(errno));
                } else {
                    char reason[4096 + 310];
                    snprintf(reason, sizeof(reason), "%s.reason", path);
                    unlink(reason);
                    (*erased)++;
                    rc = oh_store_document_forget(st, channel, de->d_name, err);
                }
            }
            free(data);
        }
        closedir(d);
        if (rc == 0)
            rc = oh_fsync_dir(dir, err);
    }
    return rc;
}

int oh_privacy_erase(struct oh_hub *h, struct oh_store *st, const char *channel,
                     const char *customer_id, const char *email, int all, const char *actor,
                     struct oh_privacy_result *res, struct oh_err *err)
{
    char detail[512];
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = oh_store_privacy_erase(st, channel, customer_id, email, all, &res->orders, err)) < 0)
        return rc;
    if ((rc = erase_raw(h, st, channel, customer_id, email, all, &res->raw_erased, err)) < 0)
        return rc;
    /* the email itself is not written to the audit log */
    snprintf(detail, sizeof(detail), "channel=%s customer_id=%s by_email=%s orders=%zu raw_erased=%zu",
             channel, all ? "*" : customer_id && *customer_id ? customer_id : "-",
             email && *email ? "yes" : "no", res->orders, res->raw_erased);
    if ((rc = oh_store_audit(st, actor, all ? "shop.redact" : "customer.redact", detail, err)) < 0)
        return rc;
    oh_info("privacy.erased", "%s", detail);
    return 0;
}

int oh_privacy_export(struct oh_hub *h, struct oh_store *st, const char *channel,
                      const char *customer_id, const char *email, const char *request_id,
                      const char *actor, struct oh_privacy_result *res, struct oh_err *err)
{
    json_t *orders = NULL, *doc = NULL;
    char *text = NULL, name[256], detail[512], when[40];
    int64_t now = oh_now_ms();
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = oh_store_privacy_orders(st, channel, customer_id, email, 0, &orders, err)) < 0)
        goto done;
    res->orders = json_array_size(orders);
    doc = json_pack("{s:s,s:s?,s:{s:s?,s:s?},s:s,s:O}", "channel", channel, "request_id",
                    request_id, "customer", "external_id", customer_id, "email", email,
                    "exported_at", oh_fmt_time_ms(now, when, sizeof(when)), "orders", orders);
    if (!doc || !(text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        abort();
    snprintf(name, sizeof(name), "data-request-%s-%s-%lld.json", channel,
             request_id && *request_id ? request_id : "cli", (long long)now);
    for (char *p = name; *p; p++)
        if (*p == '/')
            *p = '_';
    if ((rc = oh_mkdirs(h->set.exports_dir, err)) < 0 ||
        (rc = oh_write_file_atomic(h->set.exports_dir, name, text, strlen(text), err)) < 0)
        goto done;
    snprintf(res->export_path, sizeof(res->export_path), "%s/%s", h->set.exports_dir, name);
    snprintf(detail, sizeof(detail), "channel=%s customer_id=%s orders=%zu file=%s", channel,
             customer_id && *customer_id ? customer_id : "-", res->orders, name);
    if ((rc = oh_store_audit(st, actor, "customer.data_request", detail, err)) < 0)
        goto done;
    oh_info("privacy.exported", "%s", detail);
done:
    free(text);
    json_decref(doc);
    json_decref(orders);
    return rc;
}

/* "shopify customers/redact webhook 123" -> "customers/redact" */
static void topic_of(const char *source, char *out, size_t n)
{
    const char *p = strchr(source, ' ');
    size_t k;
    out[0] = '\0';
    if (!p)
        return;
    p++;
    k = strcspn(p, " ");
    snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), p);
}

static const char *id_str(json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

int oh_privacy_store(struct oh_hub *h, struct oh_store *st, const struct oh_spool_entry *e,
                     const char *spool_id, const char *sha256, struct oh_err *err)
{
    const struct oh_spool_meta *m = &e->meta;
    struct oh_store_doc d = { m->channel, spool_id, sha256, m->source, m->format, m->received_at };
    struct oh_privacy_result res;
    json_t *body = NULL, *cust;
    json_error_t je;
    char topic[64], idbuf[32], ridbuf[32], actor[160];
    const char *cid, *email, *rid;
    int rc;

    topic_of(m->source, topic, sizeof(topic));
    if (!(body = json_loadb(e->data, e->len, 0, &je)) || !json_is_object(body)) {
        rc = oh_err_set(err, OH_EINVAL, "privacy request %s: body is not a JSON object", topic);
        goto done;
    }
    cust = json_object_get(body, "customer");
    cid = id_str(json_object_get(cust, "id"), idbuf, sizeof(idbuf));
    email = json_string_value(json_object_get(cust, "email"));
    if (email && !*email)
        email = NULL;
    snprintf(actor, sizeof(actor), "%s webhook", m->channel);
    if ((rc = oh_store_document_put(st, &d, "stored", NULL, NULL, err)) < 0)
        goto done;
    if (strcmp(topic, "shop/redact") == 0) {
        rc = oh_privacy_erase(h, st, m->channel, NULL, NULL, 1, actor, &res, err);
    } else if (strcmp(topic, "customers/redact") == 0 || strcmp(topic, "customers/data_request") == 0) {
        if (!cid && !email) {
            rc = oh_err_set(err, OH_EINVAL, "privacy request %s: no customer id or email", topic);
            goto done;
        }
        if (topic[10] == 'r') {
            rc = oh_privacy_erase(h, st, m->channel, cid, email, 0, actor, &res, err);
        } else {
            rid = id_str(json_object_get(json_object_get(body, "data_request"), "id"), ridbuf,
                         sizeof(ridbuf));
            rc = oh_privacy_export(h, st, m->channel, cid, email, rid, actor, &res, err);
        }
    } else {
        rc = oh_err_set(err, OH_EINVAL, "privacy request: unknown topic '%s'", topic);
    }
done:
    json_decref(body);
    return rc;
}
