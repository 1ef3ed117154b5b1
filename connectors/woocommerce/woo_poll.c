/*
 * woo_poll.c — inbound poll: orders modified since the cursor.
 *
 *   GET orders?per_page=100&page=P&orderby=modified&order=asc
 *             &dates_are_gmt=true&modified_after=<A>
 *
 * The contracts reference lists orderby as date/id/include/title/slug;
 * current WooCommerce also accepts `modified` (the orders controller's
 * collection params), and it is the only order in which a cursor on
 * date_modified can advance page by page, so that is what is sent. A store
 * too old to accept it answers 400 rest_invalid_param, which surfaces as a
 * permanent poll error naming the parameter.
 *
 * Page numbers over a live result set are unsafe: when an order on an
 * earlier page is modified it moves to the end and every later order
 * shifts one place forward, so one would be skipped at the next page
 * boundary. So after each full page the query restarts at page 1 with
 * modified_after = (newest date_modified_gmt on the page - 1 s) — a
 * keyset walk (modified_after is exclusive and has one-second precision,
 * hence the second). Only when a whole page shares that one second does P
 * move to the next page of the same query. X-WP-TotalPages says when the
 * query has no more pages.
 *
 * Invariants as for Shopify (shopify_poll.c P1-P4): the cursor (newest
 * date_modified_gmt, UTC) is set only after its page was spooled; the next
 * poll starts at cursor - overlap; the seen-key
 * "order:<id>:<date_modified_gmt>" keeps unchanged orders from being
 * spooled twice.
 *
 * Backfill (`orderhub backfill`) runs the same keyset walk from
 * modified_after = SINCE - 1 s (so SINCE itself is included) with the same
 * per-order code, but never reads or sets the cursor and spools every order
 * of the window whatever its seen-key (as shopify_poll.c B1-B2). The total
 * for progress is the first answer's X-WP-Total.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spool/spool.h"
#include "util.h"
#include "woocommerce.h"

/* Backfill: orders spooled by this walk that a restarted query can return
 * again (those modified after its modified_after), so that each order is
 * spooled once per backfill although seen-keys are not consulted. */
struct recent {
    struct recent_order {
        long long id;
        int64_t ms;
    } *v;
    size_t n, cap;
};

static int recent_has(const struct recent *r, long long id, int64_t ms)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].id == id && r->v[i].ms == ms)
            return 1;
    return 0;
}

static void recent_add(struct recent *r, long long id, int64_t ms)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        if (!(r->v = realloc(r->v, r->cap * sizeof(*r->v))))
            abort();
    }
    r->v[r->n].id = id;
    r->v[r->n].ms = ms;
    r->n++;
}

/* Drops what a query with modified_after = after_ms cannot return. */
static void recent_prune(struct recent *r, int64_t after_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ms > after_ms - 1000)
            r->v[k++] = r->v[i];
    r->n = k;
}

struct page_ctx {
    struct oh_channel *ch;
    struct oh_spool *sp;
    struct oh_err *err;
    const char *source;
    int64_t max_ms;
    int force;   /* backfill: spool even orders whose seen-key is known */
    struct recent *recent; /* backfill: spooled by this walk (force only) */
    size_t count, spooled, skipped, again;
    int rc;
};

static int count_elem(const char *e, size_t l, void *ud)
{
    (void)e;
    (void)l;
    ((struct page_ctx *)ud)->count++;
    return 0;
}

static int on_order(const char *elem, size_t len, void *ud)
{
    struct page_ctx *pc = ud;
    struct oh_channel *ch = pc->ch;
    json_t *o = NULL, *jid, *jmod;
    json_error_t je;
    char key[160];
    const char *mod;
    int64_t ms;
    long long id;
    int seen = 0, rc = 0;
    struct oh_spool_meta m;

    if (!(o = json_loadb(elem, len, 0, &je)) || !json_is_object(o)) {
        rc = oh_err_retry(pc->err, OH_EAGAIN, "woocommerce %s: malformed order in page: %s",
                          ch->name, o ? "not an object" : je.text);
        goto done;
    }
    jid = json_object_get(o, "id");
    jmod = json_object_get(o, "date_modified_gmt");
    if (!json_is_integer(jid) || !json_is_string(jmod) ||
        oh_http_parse_time(mod = json_string_value(jmod), &ms) < 0) {
        rc = oh_err_set(pc->err, OH_EINVAL,
                        "woocommerce %s: order without an integer id or a valid date_modified_gmt",
                        ch->name);
        goto done;
    }
    id = json_integer_value(jid);
    woo_order_key(key, sizeof(key), id, mod);
    if (!pc->force && (rc = ch->ops->seen(ch, key, &seen, pc->err)) < 0)
        goto done;
    if (pc->recent && recent_has(pc->recent, id, ms)) {
        pc->again++;  /* read again at a keyset restart: spooled already */
    } else if (!seen) {
        if (ch->max_doc_size > 0 && (int64_t)len > ch->max_doc_size) {
            rc = oh_err_set(pc->err, OH_ETOOBIG, "woocommerce %s: order %lld is %zu bytes, over the limit",
                            ch->name, id, len);
            goto done;
        }
        memset(&m, 0, sizeof(m));
        snprintf(m.channel, sizeof(m.channel), "%s", ch->name);
        snprintf(m.format, sizeof(m.format), "json");
        snprintf(m.source, sizeof(m.source), "woocommerce order %lld modified_gmt=%s via %s", id,
                 mod, pc->source);
        if ((rc = oh_spool_enqueue(pc->sp, &m, elem, len, NULL, pc->err)) < 0)
            goto done;
        if ((rc = ch->ops->remember(ch, key, pc->err)) < 0)
            goto done;
        if (pc->recent)
            recent_add(pc->recent, id, ms);
        pc->spooled++;
    } else {
        pc->skipped++;
    }
    if (ms > pc->max_ms)
        pc->max_ms = ms;
done:
    json_decref(o);
    pc->rc = rc;
    return rc < 0 ? 1 : 0;
}

/* "2025-01-01T00:00:10" (seconds, GMT) */
static void fmt_gmt(int64_t ms, char *buf, size_t n)
{
    oh_fmt_time_ms(ms - ((ms % 1000) + 1000) % 1000, buf, n);
    buf[19] = '\0';
}

struct walk {
    const char *what;    /* "poll" | "backfill" */
    int has_after;       /* else: everything */
    int64_t after_ms;    /* modified_after (exclusive, seconds are used) */
    int64_t cur_ms;      /* poll: the stored cursor (0 = unset); backfill: SINCE */
    int move_cursor;     /* poll: the cursor follows each spooled page */
    int force;           /* backfill: ignore seen-keys */
    void (*progress)(void *ud, size_t done, size_t total);
    void *ud;
};

/* The keyset walk over GET orders from w->after_ms, spooling each order. */
static int walk_orders(struct oh_channel *ch, struct oh_spool *sp, struct walk *w,
                       struct oh_err *err)
{
    struct woo *w_ = ch->priv;
    struct oh_http_response resp = {0};
    char rel[512], after[32] = "", curbuf[40], src[256];
    int64_t cur_ms = w->cur_ms, after_ms = w->after_ms;
    int has_after = w->has_after, rc = 0, requests = 0;
    long page = 1;
    size_t total = 0, skipped = 0, window = 0;
    struct recent recent = {0};

    for (;;) {
        struct page_ctx pc = {.ch = ch, .sp = sp, .err = err, .source = src, .max_ms = cur_ms,
                              .force = w->force, .recent = w->force ? &recent : NULL};
        const char *tp;
        long total_pages;

        if (has_after) {
            fmt_gmt(after_ms, after, sizeof(after));
            recent_prune(&recent, after_ms);
        }
        snprintf(rel, sizeof(rel),
                 "orders?per_page=%ld&page=%ld&orderby=modified&order=asc&dates_are_gmt=true%s%s",
                 w_->per_page, page, has_after ? "&modified_after=" : "", has_after ? after : "");
        snprintf(src, sizeof(src), "orders %s page %ld modified_after=%s", w->what, page,
                 has_after ? after : "(all)");
        requests++;
        if ((rc = woo_call(w_, "GET", rel, NULL, &resp, err)) < 0) {
            oh_err_prefix(err, "woocommerce %s: %s", ch->name, w->what);
            goto done;
        }
        if ((rc = oh_json_each_element(resp.body, resp.len, NULL, count_elem, &pc, err)) < 0) {
            /* A 200 that does not parse as a whole is a broken transfer. */
            rc = OH_EAGAIN;
            if (err) {
                err->code = rc;
                err->retryable = 1;
            }
            oh_err_prefix(err, "woocommerce %s: %s", ch->name, src);
            goto done;
        }
        if (requests == 1 && (tp = oh_http_response_header(&resp, "X-WP-Total")) != NULL)
            window = (size_t)strtoull(tp, NULL, 10);
        rc = oh_json_each_element(resp.body, resp.len, NULL, on_order, &pc, err);
        if (rc > 0)
            rc = pc.rc;
        if (rc < 0) {
            oh_err_prefix(err, "woocommerce %s: %s", ch->name, src);
            goto done;
        }
        total += pc.spooled;
        skipped += pc.skipped;
        if (pc.max_ms > cur_ms) {
            if (w->move_cursor) {
                oh_fmt_time_ms(pc.max_ms, curbuf, sizeof(curbuf));
                if ((rc = ch->ops->cursor_set(ch, WOO_CURSOR, curbuf, err)) < 0)
                    goto done;
            }
            cur_ms = pc.max_ms;
        }
        if (w->progress)
            w->progress(w->ud, total + skipped, window);
        tp = oh_http_response_header(&resp, "X-WP-TotalPages");
        total_pages = tp ? strtol(tp, NULL, 10) : 0;
        if ((long)pc.count < w_->per_page || page >= total_pages)
            break;
        if (pc.max_ms - 1000 > after_ms || !has_after) {
            after_ms = pc.max_ms - 1000;
            has_after = 1;
            page = 1;
        } else {
            page++; /* a whole page within one second */
        }
        oh_http_response_free(&resp);
    }
    oh_info(w->move_cursor ? "woocommerce.poll" : "woocommerce.backfill",
            "channel=%s requests=%d spooled=%zu unchanged=%zu %s=%s", ch->name, requests, total,
            skipped, w->move_cursor ? "cursor" : "newest",
            cur_ms ? oh_fmt_time_ms(cur_ms, curbuf, sizeof(curbuf)) : "-");
done:
    oh_http_response_free(&resp);
    free(recent.v);
    return rc;
}

int woo_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err)
{
    struct woo *w_ = ch->priv;
    struct walk w = {.what = "poll", .move_cursor = 1};
    char *cursor = NULL;
    int rc;

    oh_http_client_reset_budget(w_->http);
    if ((rc = ch->ops->cursor_get(ch, WOO_CURSOR, &cursor, err)) < 0)
        goto done;
    if (cursor) {
        if (oh_http_parse_time(cursor, &w.cur_ms) < 0) {
            rc = oh_err_set(err, OH_EINVAL, "woocommerce %s: stored cursor '%s' is not a timestamp",
                            ch->name, cursor);
            goto done;
        }
        w.after_ms = w.cur_ms - w_->overlap_ms;
        w.has_after = 1;
    }
    rc = walk_orders(ch, sp, &w, err);
done:
    free(cursor);
    return rc;
}

int woo_backfill(struct oh_channel *ch, struct oh_spool *sp, int64_t since_ms,
                 void (*progress)(void *ud, size_t done, size_t total), void *ud,
                 struct oh_err *err)
{
    struct woo *w_ = ch->priv;
    struct walk w = {.what = "backfill", .has_after = 1, .after_ms = since_ms - 1000,
                     .cur_ms = since_ms, .force = 1, .progress = progress, .ud = ud};

    oh_http_client_reset_budget(w_->http);
    if (progress)
        progress(ud, 0, 0);
    return walk_orders(ch, sp, &w, err);
}
