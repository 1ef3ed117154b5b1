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
    if ((rc = ch->ops->seen(ch, key, &seen, pc->err)) < 0)
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

int shopify_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err)
{
    struct shopify *s = ch->priv;
    struct oh_http_response resp = {0};
    char *cursor = NULL, *next = NULL, *rel = NULL;
    int64_t cur_ms = 0, min_ms = 0;
    char since[40] = "", curbuf[40], src[200];
    int rc = 0, page = 0;
    size_t total = 0, skipped = 0;

    oh_http_client_reset_budget(s->http);
    if ((rc = ch->ops->cursor_get(ch, SHOPIFY_CURSOR, &cursor, err)) < 0)
        goto done;
    if (cursor && oh_http_parse_time(cursor, &cur_ms) < 0) {
        rc = oh_err_set(err, OH_EINVAL, "shopify %s: stored cursor '%s' is not a timestamp",
                        ch->name, cursor);
        goto done;
    }
    if (cursor) {
        min_ms = cur_ms - s->overlap_ms;
        oh_fmt_time_ms(min_ms - min_ms % 1000, since, sizeof(since));
        /* Shopify takes seconds; drop ".000". */
        memmove(since + 19, since + 23, strlen(since + 23) + 1);
        if (asprintf(&rel, "orders.json?status=any&limit=%ld&order=updated_at+asc&updated_at_min=%s",
                     s->page_limit, since) < 0)
            abort();
    } else if (asprintf(&rel, "orders.json?status=any&limit=%ld&order=updated_at+asc",
                        s->page_limit) < 0) {
        abort();
    }

    for (;;) {
        struct page_ctx pc = {.ch = ch, .s = s, .sp = sp, .err = err, .source = src,
                              .max_ms = cur_ms};
        const char *link;

        page++;
        snprintf(src, sizeof(src), "orders.json page %d updated_at_min=%s", page,
                 since[0] ? since : "(all)");
        rc = shopify_call(s, "GET", next ? next : rel, NULL, &resp, err);
        if (rc < 0) {
            oh_err_prefix(err, "shopify %s: poll page %d", ch->name, page);
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
            /* P1: the whole page is durable. */
            oh_fmt_time_ms(pc.max_ms, curbuf, sizeof(curbuf));
            if ((rc = ch->ops->cursor_set(ch, SHOPIFY_CURSOR, curbuf, err)) < 0)
                goto done;
            cur_ms = pc.max_ms;
        }
        free(next);
        next = NULL;
        link = oh_http_response_header(&resp, "Link");
        if (oh_http_link_next(link, &next) != 0)
            break;
        oh_http_response_free(&resp);
    }
    oh_info("shopify.poll", "channel=%s pages=%d spooled=%zu unchanged=%zu cursor=%s", ch->name,
            page, total, skipped, cur_ms ? oh_fmt_time_ms(cur_ms, curbuf, sizeof(curbuf)) : "-");
done:
    oh_http_response_free(&resp);
    free(cursor);
    free(next);
    free(rel);
    return rc;
}
