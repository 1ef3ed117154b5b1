/*
 * shopify_poll.c — inbound poll: orders changed since the cursor.
 *
 *   GET orders.json?status=any&limit=250&order=updated_at+asc
 *                  &updated_at_min=<cursor - overlap>
 *   then follow Link rel="next" (page_info; no other filters allowed).
 *
 * Invariants (tests cite them):
 *   P1  The cursor (SHOPIFY_CURSOR, the newest updated_at, UTC with ms) is
 *       set only after every order of the page that carried it returned 0
 *       from oh_spool_enqueue (or was already spooled with that same
 *       updated_at). Pages come in updated_at order, so every order older
 *       than the cursor is durable.
 *   P2  The next poll starts at cursor - overlap (updated_at_min is
 *       inclusive), so orders that share the cursor's second, or whose
 *       timestamps arrive slightly out of order, are read again rather than
 *       skipped. Re-reads are absorbed by the seen-key
 *       "order:<id>:<updated_at>" (an unchanged order is not spooled twice)
 *       and, past that, by the store's idempotent upsert.
 *   P3  An order updated during a sync gets a newer updated_at, so it sorts
 *       after the pages already read: the same sync or the next one sees it.
 *   P4  A failure (HTTP, budget, spool) stops the poll with the cursor at
 *       the last complete page; the next poll resumes from there.
 *
 * Backfill (`orderhub backfill`) walks the same pages from updated_at_min =
 * SINCE with the same per-order code, except that it
 *   B1  never reads or sets the cursor (a backfill of an old window cannot
 *       move it backwards, nor forwards past orders a poll has not seen);
 *   B2  spools every order of the window, seen-key or not: a re-sync is for
 *       orders the store may lack although they were read once; unchanged
 *       ones become UNCHANGED in the store's idempotent upsert (no events);
 *   B3  reports progress after each page; the total comes from
 *       orders/count.json when the shop answers it (0 = unknown otherwise).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shopify.h"
#include "spool/spool.h"
#include "util.h"

struct page_ctx {
    struct oh_channel *ch;
    struct shopify *s;
    struct oh_spool *sp;
    struct oh_err *err;
    const char *source;
    int64_t max_ms;   /* newest updated_at handled so far */
    int force;        /* backfill: spool even orders whose seen-key is known */
    size_t spooled, skipped;
    int rc;
};

static int on_order(const char *elem, size_t len, void *ud)
{
    struct page_ctx *pc = ud;
    struct oh_channel *ch = pc->ch;
    json_t *o = NULL, *jid, *jup;
    json_error_t je;
    char id[32], key[160];
    const char *up;
    int64_t ms;
    int seen = 0, rc = 0;
    struct oh_spool_meta m;

    /* Only the two fields we need: id and updated_at. */
    if (!(o = json_loadb(elem, len, JSON_DECODE_ANY, &je)) || !json_is_object(o)) {
        rc = oh_err_retry(pc->err, OH_EAGAIN, "shopify %s: malformed order in page: %s", ch->name,
                          o ? "not an object" : je.text);
        goto done;
    }
    jid = json_object_get(o, "id");
    jup = json_object_get(o, "updated_at");
    if (!json_is_integer(jid) || !json_is_string(jup) ||
        oh_http_parse_time(up = json_string_value(jup), &ms) < 0) {
        rc = oh_err_set(pc->err, OH_EINVAL, "shopify %s: order without an integer id or a valid updated_at",
                        ch->name);
        goto done;
    }
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(jid));
    shopify_order_key(key, sizeof(key), id, up);
    if (!pc->force && (rc = ch->ops->seen(ch, key, &seen, pc->err)) < 0)
        goto done;
    if (!seen) {
        memset(&m, 0, sizeof(m));
        snprintf(m.channel, sizeof(m.channel), "%s", ch->name);
        snprintf(m.format, sizeof(m.format), "json");
        snprintf(m.source, sizeof(m.source), "shopify order %s updated_at=%s via %s", id, up,
                 pc->source);
        if (ch->max_doc_size > 0 && (int64_t)len > ch->max_doc_size) {
            rc = oh_err_set(pc->err, OH_ETOOBIG, "shopify %s: order %s is %zu bytes, over the limit",
                            ch->name, id, len);
            goto done;
        }
        if ((rc = oh_spool_enqueue(pc->sp, &m, elem, len, NULL, pc->err)) < 0)
            goto done;
        /* Durable now; remembering is an optimisation (a crash here only
         * means the order is spooled again, absorbed by the store). */
        if ((rc = ch->ops->remember(ch, key, pc->err)) < 0)
            goto done;
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

static int count_elem(const char *elem, size_t len, void *ud)
{
    (void)elem;
    (void)len;
    (void)ud;
    return 0;
}


struct walk {
    const char *what;    /* "poll" | "backfill" */
    int64_t start_ms;    /* updated_at_min (seconds are used), or -1: everything */
    int64_t cur_ms;      /* poll: the stored cursor (0 = unset) */
    int move_cursor;     /* poll: P1 */
    int force;           /* backfill: B2 */
    void (*progress)(void *ud, size_t done, size_t total);
    void *ud;
    size_t total;        /* for progress (0 = unknown) */
};

/* "2025-01-01T00:00:10Z": Shopify takes seconds. */
static void fmt_since(int64_t ms, char *buf, size_t n)
{
    oh_fmt_time_ms(ms - ((ms % 1000) + 1000) % 1000, buf, n);
    if (strlen(buf) > 23 && buf[19] == '.')
        memmove(buf + 19, buf + 23, strlen(buf + 23) + 1);
}

/* GET orders.json from w->start_ms through every Link rel="next" page,
 * spooling each order (P1-P4, B1-B3). */
static int walk_orders(struct oh_channel *ch, struct oh_spool *sp, struct walk *w,
                       struct oh_err *err)
{
    struct shopify *s = ch->priv;
    struct oh_http_response resp = {0};
    char *next = NULL, *rel = NULL;
    int64_t cur_ms = w->cur_ms;
    char since[40] = "", curbuf[40], src[200];
    int rc = 0, page = 0;
    size_t total = 0, skipped = 0;

    if (w->start_ms >= 0) {
        fmt_since(w->start_ms, since, sizeof(since));
        if (asprintf(&rel, "orders.json?status=any&limit=%ld&order=updated_at+asc&updated_at_min=%s",
                     s->page_limit, since) < 0)
            abort();
    } else if (asprintf(&rel, "orders.json?status=any&limit=%ld&order=updated_at+asc",
                        s->page_limit) < 0) {
        abort();
    }

    for (;;) {
        struct page_ctx pc = {.ch = ch, .s = s, .sp = sp, .err = err, .source = src,
                              .max_ms = cur_ms, .force = w->force};
        const char *link;

        page++;
        snprintf(src, sizeof(src), "orders.json %s page %d updated_at_min=%s", w->what, page,
                 since[0] ? since : "(all)");
        rc = shopify_call(s, "GET", next ? next : rel, NULL, &resp, err);
        if (rc < 0) {
            oh_err_prefix(err, "shopify %s: %s page %d", ch->name, w->what, page);
            goto done;
        }
        /* First the page's structure as a whole: a 200 whose body is cut
         * short is a broken transfer (retry), and nothing of it is spooled. */
        if ((rc = oh_json_each_element(resp.body, resp.len, "orders", count_elem, NULL, err)) < 0) {
            rc = OH_EAGAIN;
            if (err) {
                err->code = rc;
                err->retryable = 1;
            }
            oh_err_prefix(err, "shopify %s: page %d", ch->name, page);
            goto done;
        }
        rc = oh_json_each_element(resp.body, resp.len, "orders", on_order, &pc, err);
        if (rc > 0)
            rc = pc.rc;
        if (rc < 0) {
            oh_err_prefix(err, "shopify %s: page %d", ch->name, page);
            goto done;
        }
        total += pc.spooled;
        skipped += pc.skipped;
        if (pc.max_ms > cur_ms) {
            if (w->move_cursor) {
                /* P1: the whole page is durable. */
                oh_fmt_time_ms(pc.max_ms, curbuf, sizeof(curbuf));
                if ((rc = ch->ops->cursor_set(ch, SHOPIFY_CURSOR, curbuf, err)) < 0)
                    goto done;
            }
            cur_ms = pc.max_ms;
        }
        if (w->progress)
            w->progress(w->ud, total + skipped, w->total);
        free(next);
        next = NULL;
        link = oh_http_response_header(&resp, "Link");
        if (oh_http_link_next(link, &next) != 0)
            break;
        oh_http_response_free(&resp);
    }
    oh_info(w->move_cursor ? "shopify.poll" : "shopify.backfill",
            "channel=%s pages=%d spooled=%zu unchanged=%zu %s=%s", ch->name, page, total, skipped,
            w->move_cursor ? "cursor" : "newest",
            cur_ms ? oh_fmt_time_ms(cur_ms, curbuf, sizeof(curbuf)) : "-");
done:
    oh_http_response_free(&resp);
    free(next);
    free(rel);
    return rc;
}

int shopify_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err)
{
    struct shopify *s = ch->priv;
    struct walk w = {.what = "poll", .start_ms = -1, .move_cursor = 1};
    char *cursor = NULL;
    int rc;

    oh_http_client_reset_budget(s->http);
    if ((rc = ch->ops->cursor_get(ch, SHOPIFY_CURSOR, &cursor, err)) < 0)
        goto done;
    if (cursor && oh_http_parse_time(cursor, &w.cur_ms) < 0) {
        rc = oh_err_set(err, OH_EINVAL, "shopify %s: stored cursor '%s' is not a timestamp",
                        ch->name, cursor);
        goto done;
    }
    if (cursor)
        w.start_ms = w.cur_ms - s->overlap_ms; /* P2 */
    rc = walk_orders(ch, sp, &w, err);
done:
    free(cursor);
    return rc;
}

/* orders/count.json for the window, or 0 when the shop does not answer it. */
static size_t count_window(struct shopify *s, int64_t since_ms)
{
    struct oh_http_response resp = {0};
    struct oh_err e;
    char since[40], rel[160];
    json_t *j = NULL;
    size_t n = 0;

    fmt_since(since_ms, since, sizeof(since));
    snprintf(rel, sizeof(rel), "orders/count.json?status=any&updated_at_min=%s", since);
    oh_err_clear(&e);
    if (shopify_call(s, "GET", rel, NULL, &resp, &e) == 0 &&
        (j = json_loadb(resp.body, resp.len, 0, NULL)) != NULL &&
        json_is_integer(json_object_get(j, "count")) &&
        json_integer_value(json_object_get(j, "count")) > 0)
        n = (size_t)json_integer_value(json_object_get(j, "count"));
    else
        oh_debug("shopify.backfill", "shop=%s count=unknown", s->shop);
    json_decref(j);
    oh_http_response_free(&resp);
    return n;
}

int shopify_backfill(struct oh_channel *ch, struct oh_spool *sp, int64_t since_ms,
                     void (*progress)(void *ud, size_t done, size_t total), void *ud,
                     struct oh_err *err)
{
    struct shopify *s = ch->priv;
    struct walk w = {.what = "backfill", .start_ms = since_ms, .force = 1, .progress = progress,
                     .ud = ud};

    oh_http_client_reset_budget(s->http);
    w.total = count_window(s, since_ms);
    if (progress)
        progress(ud, 0, w.total);
    return walk_orders(ch, sp, &w, err);
}
