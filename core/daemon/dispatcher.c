/* dispatcher.c — see dispatcher.h. */
#include "dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map/map.h"
#include "util.h"

/* Fills m->body from the target's outbound mapping, or the payload itself. */
static int render(struct oh_hub_channel *hc, struct oh_outbox_msg *m, struct oh_err *err)
{
    json_t *rec;
    json_error_t je;
    struct oh_map_ctx ctx = { m->origin, oh_now_ms(), m->event };
    const char *to;
    int rc;

    if (!hc->out_map) {
        snprintf(m->content_type, sizeof(m->content_type), "application/json");
        return 0;
    }
    if (!(rec = json_loads(m->payload, JSON_DECODE_ANY, &je)))
        return oh_err_set(err, OH_EINVAL, "outbox %lld: payload is not JSON: %s", (long long)m->id,
                          je.text);
    rc = oh_map_render(hc->out_map, rec, &ctx, &m->body, &m->body_len, err);
    json_decref(rec);
    if (rc < 0)
        return rc;
    to = oh_map_to(hc->out_map);
    snprintf(m->content_type, sizeof(m->content_type), "%s",
             strcmp(to, "csv") == 0 ? "text/csv"
             : strcmp(to, "xml") == 0 ? "application/xml"
             : (strcmp(to, "x12") == 0 || strcmp(to, "edifact") == 0) ? "application/edi"
             : "application/json");
    return 0;
}

int oh_dispatch_batch(struct oh_hub *h, struct oh_store *st, size_t max,
                      struct oh_dispatch_stats *stats, struct oh_err *err)
{
    struct oh_outbox_msg *msgs = NULL;
    size_t n = 0;
    int rc;
    char q[1100];

    if ((rc = oh_store_outbox_lease(st, h->set.instance, h->set.lease_ms, max, &msgs, &n, err)) < 0)
        return rc;
    stats->leased += n;
    for (size_t i = 0; i < n; i++) {
        struct oh_outbox_msg *m = &msgs[i];
        struct oh_hub_channel *hc = oh_hub_channel(h, m->target);
        struct oh_err e;
        int dead = 0;

        oh_err_clear(&e);
        snprintf(m->filename, sizeof(m->filename), "%s-%lld", m->event, (long long)m->id);
        if (!hc)
            rc = oh_err_set(&e, OH_EINVAL, "no channel named '%s' in the configuration", m->target);
        else if (!hc->ch.conn->deliver)
            rc = oh_err_set(&e, OH_EINVAL, "channel '%s' (%s) cannot send", m->target,
                            hc->ch.conn->type);
        else if ((rc = render(hc, m, &e)) == 0)
            rc = hc->ch.conn->deliver(&hc->ch, m, &e);
        free(m->body);
        m->body = NULL;
        if (rc == 0) {
            if ((rc = oh_store_outbox_done(st, m->id, err)) < 0)
                goto done;
            stats->delivered++;
            oh_info("outbox.delivered", "id=%lld event=%s target=%s", (long long)m->id, m->event,
                    m->target);
            continue;
        }
        {
            int64_t wait = e.retry_after_ms > 0
                               ? e.retry_after_ms
                               : oh_backoff_ms(m->attempts, h->set.retry_base_ms, h->set.retry_max_ms);
            if ((rc = oh_store_outbox_fail(st, m->id, e.retryable, e.msg, h->set.outbox_attempts,
                                           wait, &dead, err)) < 0)
                goto done;
            if (dead)
                stats->dead++;
            else
                stats->retried++;
            oh_log(dead ? OH_LOG_ERROR : OH_LOG_WARN, dead ? "outbox.dead" : "outbox.retry",
                   "id=%lld event=%s target=%s attempt=%d retry_in_ms=%lld error=%s",
                   (long long)m->id, m->event, m->target, m->attempts + 1,
                   dead ? 0LL : (long long)wait, oh_logq(q, sizeof(q), e.msg));
        }
    }
    rc = 0;
done:
    oh_outbox_msgs_free(msgs, n);
    return rc;
}
