/*
 * shopify.c — the `shopify` connector: settings, open/close, shared calls.
 *
 *   [channel shop-a]
 *   type            = shopify
 *   shop            = acme.myshopify.com
 *   api_version     = 2024-10
 *   access_token    = env:SHOPIFY_TOKEN        ; shpat_...
 *   webhook_secret  = env:SHOPIFY_WEBHOOK_SECRET
 *   webhook_secret_previous = env:...          ; optional, during a rotation
 *   poll            = 60s
 *   overlap         = 5m        ; re-read window below the cursor
 *   notify_customer = no
 *   location_id     = 905684977 ; for inventory.changed
 *   inventory_map   = /etc/orderhub/shop-a-inventory.csv   ; sku,inventory_item_id
 *   leak_rate       = 2         ; call-limit bucket leak per second (plan)
 *   page_limit      = 250
 *   base_url        = http://127.0.0.1:PORT  ; only to point at a fake
 *   (+ the shared HTTP client keys, see core/http/http.h)
 *
 * open() reads and checks everything but never touches the network
 * (`orderhub check` calls it). Secrets are wiped on close.
 */
#include "shopify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static int sku_cmp(const void *a, const void *b)
{
    return strcmp(((const struct shopify_sku *)a)->sku, ((const struct shopify_sku *)b)->sku);
}

/* inventory_map: CSV lines "sku,inventory_item_id"; '#' comments and a
 * header line starting with "sku" are skipped. */
static int load_inventory_map(struct shopify *s, const char *path, struct oh_err *err)
{
    char *text = NULL, *line, *save = NULL;
    size_t len, cap = 0;
    int rc = 0, lineno = 0;

    if ((rc = oh_read_file(path, 64u << 20, &text, &len, err)) < 0)
        return rc;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *comma, *end, *sku;
        long long id;
        lineno++;
        line[strcspn(line, "\r")] = '\0';
        while (isspace((unsigned char)*line))
            line++;
        if (!*line || *line == '#' || (lineno == 1 && strncmp(line, "sku", 3) == 0))
            continue;
        if (!(comma = strchr(line, ','))) {
            rc = oh_err_set(err, OH_EINVAL, "%s:%d: expected sku,inventory_item_id", path, lineno);
            goto done;
        }
        *comma = '\0';
        sku = line;
        if (*sku == '"' && comma > sku + 1 && comma[-1] == '"') {
            sku++;
            comma[-1] = '\0';
        }
        id = strtoll(comma + 1, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end == comma + 1 || *end || id <= 0) {
            rc = oh_err_set(err, OH_EINVAL, "%s:%d: inventory_item_id must be a positive integer",
                            path, lineno);
            goto done;
        }
        if (s->nskus == cap) {
            cap = cap ? cap * 2 : 64;
            if (!(s->skus = realloc(s->skus, cap * sizeof(*s->skus))))
                abort();
        }
        s->skus[s->nskus].sku = strdup(sku);
        s->skus[s->nskus].item_id = id;
        s->nskus++;
    }
    qsort(s->skus, s->nskus, sizeof(*s->skus), sku_cmp);
done:
    free(text);
    return rc;
}

static void shopify_close(struct oh_channel *ch)
{
    struct shopify *s = ch->priv;
    if (!s)
        return;
    free(s->shop);
    free(s->api_version);
    free(s->base);
    free(s->api);
    wipe_free(s->token_hdr);
    wipe_free(s->secret);
    wipe_free(s->secret_prev);
    for (size_t i = 0; i < s->nskus; i++)
        free(s->skus[i].sku);
    free(s->skus);
    oh_http_client_free(s->http);
    free(s);
    ch->priv = NULL;
}

static int shopify_open(struct oh_channel *ch, struct oh_err *err)
{
    const struct oh_conf_section *c = ch->cfg;
    struct shopify *s = NULL;
    struct oh_http_client_opts ho;
    const char *shop, *ver, *base, *invmap;
    char *token = NULL;
    long loc = 0;
    int rc = 0;
    char buf[1024];

    if (!(s = calloc(1, sizeof(*s))))
        abort();
    ch->priv = s;
    shop = oh_conf_get(c, "shop");
    ver = oh_conf_get_or(c, "api_version", "2024-10");
    base = oh_conf_get(c, "base_url");
    if (!shop || !*shop) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s]: shop = NAME.myshopify.com is required",
                        c->path, c->line, ch->name);
        goto done;
    }
    for (const char *p = shop; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.')) {
            rc = oh_err_set(err, OH_EINVAL, "%s:%d: shop: '%s' is not a host name", c->path,
                            oh_conf_line(c, "shop"), shop);
            goto done;
        }
    if (!(strlen(ver) == 7 && isdigit((unsigned char)ver[0]) && ver[4] == '-') &&
        strcmp(ver, "unstable") != 0) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: api_version: expected YYYY-MM, e.g. 2024-10",
                        c->path, oh_conf_line(c, "api_version"));
        goto done;
    }
    s->shop = strdup(shop);
    s->api_version = strdup(ver);
    if (base) {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            n--;
        s->base = strndup(base, n);
        if ((rc = oh_http_url_check(s->base, err)) < 0) {
            oh_err_prefix(err, "%s:%d: base_url", c->path, oh_conf_line(c, "base_url"));
            goto done;
        }
    } else {
        snprintf(buf, sizeof(buf), "https://%s", shop);
        s->base = strdup(buf);
    }
    snprintf(buf, sizeof(buf), "%s/admin/api/%s", s->base, ver);
    s->api = strdup(buf);

    if ((rc = oh_conf_secret(c, "access_token", &token, err)) < 0)
        goto done;
    if (!token || !*token) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s]: access_token is required (env:NAME or file:PATH)",
                        c->path, c->line, ch->name);
        goto done;
    }
    if (asprintf(&s->token_hdr, "X-Shopify-Access-Token: %s", token) < 0)
        abort();
    if ((rc = oh_conf_secret(c, "webhook_secret", &s->secret, err)) < 0 ||
        (rc = oh_conf_secret(c, "webhook_secret_previous", &s->secret_prev, err)) < 0)
        goto done;
    if ((rc = oh_conf_bool(c, "notify_customer", 0, &s->notify_customer, err)) < 0 ||
        (rc = oh_conf_duration_ms(c, "overlap", 5 * 60000, &s->overlap_ms, err)) < 0 ||
        (rc = oh_conf_int(c, "location_id", 0, &loc, err)) < 0 ||
        (rc = oh_conf_int(c, "page_limit", 250, &s->page_limit, err)) < 0)
        goto done;
    s->location_id = loc;
    if (s->page_limit < 1 || s->page_limit > 250) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: page_limit: Shopify allows 1..250", c->path,
                        oh_conf_line(c, "page_limit"));
        goto done;
    }
    s->leak_rate = 2.0;
    if (oh_conf_get(c, "leak_rate")) {
        char *end;
        s->leak_rate = strtod(oh_conf_get(c, "leak_rate"), &end);
        if (*end || s->leak_rate <= 0) {
            rc = oh_err_set(err, OH_EINVAL, "%s:%d: leak_rate: expected a positive number",
                            c->path, oh_conf_line(c, "leak_rate"));
            goto done;
        }
    }
    if ((invmap = oh_conf_get(c, "inventory_map")) != NULL &&
        (rc = load_inventory_map(s, invmap, err)) < 0)
        goto done;
    if ((rc = oh_http_client_opts_from_conf(c, &ho, err)) < 0 ||
        (rc = oh_http_client_new(&ho, &s->http, err)) < 0)
        goto done;
done:
    oh_secret_free(token);
    if (rc < 0)
        shopify_close(ch);
    return rc;
}

void shopify_order_key(char *buf, size_t n, const char *id, const char *updated_at)
{
    snprintf(buf, n, "order:%s:%s", id, updated_at ? updated_at : "");
}

void shopify_pace(struct shopify *s, const struct oh_http_response *resp)
{
    const char *v = oh_http_response_header(resp, "X-Shopify-Shop-Api-Call-Limit");
    long used, size;

    if (!v || sscanf(v, "%ld/%ld", &used, &size) != 2 || size <= 0)
        return;
    /* Above 80 % of the bucket, wait until it has drained to half: other
     * apps and our own deliveries share the same bucket. */
    if (used * 5 >= size * 4) {
        int64_t ms = (int64_t)((double)(used - size / 2) / s->leak_rate * 1000.0);
        oh_debug("shopify.throttle", "shop=%s call_limit=%s wait_ms=%lld", s->shop, v,
                 (long long)ms);
        oh_http_client_sleep(s->http, ms);
    }
}

int shopify_call(struct shopify *s, const char *method, const char *rel_or_url, const char *body,
                 struct oh_http_response *resp, struct oh_err *err)
{
    char *url = NULL;
    const char *hdrs[4] = {s->token_hdr, "Accept: application/json", NULL, NULL};
    struct oh_http_request rq = {0};
    int rc;

    if (strncmp(rel_or_url, "http://", 7) == 0 || strncmp(rel_or_url, "https://", 8) == 0) {
        /* A URL from a Link header: only ever send the token to our shop. */
        size_t bl = strlen(s->base);
        if (strncmp(rel_or_url, s->base, bl) != 0 || (rel_or_url[bl] != '/' && rel_or_url[bl]))
            return oh_err_set(err, OH_EPERM, "shopify %s: refusing to follow a link to another host: %s",
                              s->shop, rel_or_url);
        url = strdup(rel_or_url);
    } else if (asprintf(&url, "%s/%s", s->api, rel_or_url) < 0) {
        abort();
    }
    if (body)
        hdrs[2] = "Content-Type: application/json";
    rq.method = method;
    rq.url = url;
    rq.headers = hdrs;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    rc = oh_http_do(s->http, &rq, resp, err);
    if (rc == 0 || resp->status)
        shopify_pace(s, resp);
    free(url);
    return rc;
}

const struct oh_connector oh_connector_shopify = {
    .type = "shopify",
    .open = shopify_open,
    .poll = shopify_poll,
    .webhook = shopify_webhook,
    .deliver = shopify_deliver,
    .close = shopify_close,
    .backfill = shopify_backfill,
};
