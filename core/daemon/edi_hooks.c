/* edi_hooks.c — see edi_hooks.h. */
#include "edi_hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "connectors/edi/edi.h"
#include "connectors/edi/edi_channel.h"
#include "log.h"

struct oh_edi_doc {
    enum oh_edi_syntax syntax;
    struct oh_edi_report *rep;
    struct oh_edi_ack_result **acks;
    size_t nacks;
    size_t nbusiness; /* sets that are not acknowledgements */
};

static int is_ack_id(const char *id)
{
    return strcmp(id, "997") == 0 || strcmp(id, "999") == 0 || strcmp(id, "CONTRL") == 0;
}

int oh_edi_hook_wants(const struct oh_hub_channel *hc)
{
    return hc && oh_edi_partner_of(&hc->ch) != NULL;
}

static int on_set(void *ud, struct oh_node *set, const struct oh_edi_set_info *info,
                  struct oh_arena *a)
{
    struct oh_edi_doc *d = ud;
    struct oh_edi_ack_result *r = NULL;
    struct oh_err e;

    (void)a;
    if (!is_ack_id(info->id)) {
        d->nbusiness++;
        return 0;
    }
    if (info->status == OH_EDI_REJECTED || !set || oh_edi_ack_read(set, &r, &e) < 0) {
        oh_warn("edi.ack_unreadable", "set=%s ctrl=%s", info->id, info->ctrl);
        return 0;
    }
    if (!(d->acks = realloc(d->acks, (d->nacks + 1) * sizeof(*d->acks))))
        abort();
    d->acks[d->nacks++] = r;
    return 0;
}

int oh_edi_hook_prepare(const struct oh_hub_channel *hc, const char *data, size_t len,
                        struct oh_edi_doc **out, int *skip_map, struct oh_err *err)
{
    struct oh_edi_doc *d = calloc(1, sizeof(*d));
    struct oh_edi_parse_opts o = { .keep_sets = 1 };
    struct oh_arena *a = oh_arena_new(0);
    int rc;

    if (!d || !a)
        abort();
    *out = NULL;
    *skip_map = 0;
    d->syntax = oh_edi_partner_of(&hc->ch)->standard;
    rc = d->syntax == OH_EDI_X12 ? oh_x12_parse(data, len, &o, a, on_set, d, &d->rep, err)
                                 : oh_edifact_parse(data, len, &o, a, on_set, d, &d->rep, err);
    oh_arena_free(a);
    if (rc < 0) {
        oh_edi_doc_free(d);
        return rc;
    }
    *skip_map = d->nbusiness == 0;
    *out = d;
    return 0;
}

static const char *ack_status_word(int s)
{
    return s == OH_EDI_REJECTED ? "rejected" : s == OH_EDI_PARTIAL ? "partial" : "accepted";
}

static int record_acks(struct oh_store *st, const char *partner, struct oh_edi_doc *d,
                       struct oh_err *err)
{
    for (size_t i = 0; i < d->nacks; i++) {
        const struct oh_edi_ack_result *r = d->acks[i];
        char codes[256] = "";
        size_t o = 0;
        int matched = 0, rc, by_group = strcmp(r->kind, "CONTRL") != 0;
        const char *ctrl = by_group ? r->group_ctrl : r->ichg_ctrl;

        for (int k = 0; k < r->ncodes && o < sizeof(codes) - 16; k++)
            o += (size_t)snprintf(codes + o, sizeof(codes) - o, "%s%s%d", o ? " " : "",
                                  by_group ? "AK905=" : "UCI0085=", r->codes[k]);
        for (size_t s = 0; s < r->nsets; s++)
            for (int k = 0; k < r->sets[s].ncodes && o < sizeof(codes) - 24; k++)
                o += (size_t)snprintf(codes + o, sizeof(codes) - o, "%s%s:%s=%d", o ? " " : "",
                                      r->sets[s].id, r->sets[s].ctrl, r->sets[s].codes[k]);
        if ((rc = oh_store_edi_ack_match(st, partner, by_group, strtoul(ctrl, NULL, 10),
                                         ack_status_word(r->status), codes, &matched, err)) < 0)
            return rc;
        if (!matched)
            oh_warn("edi.ack_unmatched", "channel=%s kind=%s ctrl=%s", partner, r->kind, ctrl);
        else if (r->status == OH_EDI_REJECTED || r->status == OH_EDI_PARTIAL)
            oh_warn("edi.ack_rejected", "channel=%s kind=%s ctrl=%s status=%s codes=\"%s\"",
                    partner, r->kind, ctrl, ack_status_word(r->status), codes);
        else
            oh_info("edi.ack_received", "channel=%s kind=%s ctrl=%s status=%s", partner, r->kind,
                    ctrl, ack_status_word(r->status));
    }
    return 0;
}

/* Queues one acknowledgement (already numbered) and records its numbers. */
static int queue_ack(struct oh_store *st, const char *partner, const char *message,
                     const char *standard, const char *text, unsigned long icn, unsigned long gcn,
                     unsigned long scn, struct oh_err *err)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "standard", standard, "message", message, "text", text);
    char *payload = json_dumps(j, JSON_COMPACT);
    struct oh_edi_numbers n = { 0, standard, message, NULL, 0, icn, gcn, scn };
    int rc;

    json_decref(j);
    if (!payload)
        abort();
    rc = oh_store_outbox_add(st, "edi.ack", partner, partner, 0, payload, &n.outbox_id, err);
    free(payload);
    if (rc == 0)
        rc = oh_store_edi_out_record(st, partner, &n, err);
    if (rc == 0)
        oh_info("edi.ack_queued", "channel=%s message=%s icn=%lu", partner, message, icn);
    return rc;
}

static int build_acks(struct oh_store *st, const struct oh_hub_channel *hc, struct oh_edi_doc *d,
                      const struct oh_edi_ichg_info *ic, struct oh_err *err)
{
    const struct oh_edi_partner *p = oh_edi_partner_of(&hc->ch);
    const char *partner = hc->ch.name;
    const struct oh_edi_seps *seps = p->seps_set ? &p->seps : NULL;
    struct oh_arena *a = oh_arena_new(0);
    int rc = 0;

    if (!a)
        abort();
    if (d->syntax == OH_EDI_X12) {
        for (size_t g = 0; g < ic->ngroups; g++) {
            const struct oh_edi_group_info *gi = &ic->groups[g];
            struct oh_edi_ack_ctl ctl = { 0 };
            struct oh_node *tree = NULL;
            char *text = NULL;
            if (strcmp(gi->func, "FA") == 0) /* acknowledgements are not acknowledged */
                continue;
            ctl.kind = p->ack_kind < 0 ? 0 : p->ack_kind;
            if ((rc = oh_store_edi_next(st, partner, "ISA13", 999999999UL, &ctl.ichg_ctrl, err)) < 0 ||
                (rc = oh_store_edi_next(st, partner, "GS06", 999999999UL, &ctl.group_ctrl, err)) < 0 ||
                (rc = oh_store_edi_next(st, partner, "ST02", 999999999UL, &ctl.set_ctrl, err)) < 0)
                break;
            if ((rc = oh_x12_ack_build(d->rep, ic->ordinal, gi->ordinal, &ctl, seps, a, &tree,
                                       &text, err)) < 0)
                break;
            rc = queue_ack(st, partner,
                           ctl.kind == 999 || (ctl.kind == 0 && strcmp(gi->version, "005010") >= 0)
                               ? "999" : "997",
                           "x12", text, ctl.ichg_ctrl, ctl.group_ctrl, ctl.set_ctrl, err);
            free(text);
            if (rc < 0)
                break;
        }
    } else {
        struct oh_edi_ack_ctl ctl = { 0 };
        struct oh_node *tree = NULL;
        char *text = NULL;
        if ((rc = oh_store_edi_next(st, partner, "UNB0020", 99999999999999UL, &ctl.ichg_ctrl, err)) < 0 ||
            (rc = oh_store_edi_next(st, partner, "UNH0062", 99999999999999UL, &ctl.set_ctrl, err)) < 0 ||
            (rc = oh_edifact_contrl_build(d->rep, ic->ordinal, &ctl, seps, a, &tree, &text, err)) < 0)
            goto done;
        rc = queue_ack(st, partner, "CONTRL", "edifact", text, ctl.ichg_ctrl, 0, ctl.set_ctrl, err);
        free(text);
    }
done:
    oh_arena_free(a);
    return rc;
}

int oh_edi_hook_store(struct oh_store *st, const struct oh_hub_channel *hc, struct oh_edi_doc *d,
                      const char *spool_id, int *duplicate, struct oh_err *err)
{
    const struct oh_edi_partner *p = oh_edi_partner_of(&hc->ch);
    const char *partner = hc->ch.name;
    int rc;

    *duplicate = 0;
    for (size_t i = 0; i < d->rep->nichg; i++) {
        const struct oh_edi_ichg_info *ic = &d->rep->ichg[i];
        char sender[64];
        int first = 0;
        snprintf(sender, sizeof(sender), "%s:%s", ic->sender_q, ic->sender);
        if ((rc = oh_store_edi_in_claim(st, partner, sender, ic->ctrl, spool_id, &first, err)) < 0)
            return rc;
        if (!first) {
            *duplicate = 1;
            oh_warn("edi.duplicate", "channel=%s sender=%s icn=%s spool_id=%s", partner, sender,
                    ic->ctrl, spool_id);
        }
    }
    if (*duplicate)
        return 0;
    if ((rc = record_acks(st, partner, d, err)) < 0)
        return rc;
    if (p->ack_kind == 0 || d->nbusiness == 0)
        return 0;
    for (size_t i = 0; i < d->rep->nichg; i++)
        if ((rc = build_acks(st, hc, d, &d->rep->ichg[i], err)) < 0)
            return rc;
    return 0;
}

void oh_edi_doc_free(struct oh_edi_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nacks; i++)
        oh_edi_ack_result_free(d->acks[i]);
    free(d->acks);
    oh_edi_report_free(d->rep);
    free(d);
}
