/*
 * edi_channel.c — the EDI partner channel (`type = edi`): X12 or EDIFACT
 * files exchanged with one trading partner over a file transport.
 *
 *   [channel acme-edi]
 *   type               = edi
 *   standard           = x12              ; x12 | edifact
 *   transport          = dir              ; dir (path, out_path) | sftp (url, out_url, key, ...)
 *   path               = /srv/edi/acme/in ; inbound files from the partner
 *   out_path           = /srv/edi/acme/out; what we send (default PATH/outbox)
 *   sender_qualifier   = ZZ               ; ISA05 / UNB S002 0007 (us)
 *   sender_id          = OURCO            ; ISA06 / UNB S002 0004
 *   receiver_qualifier = 12               ; ISA07 / UNB S003 0007 (the partner)
 *   receiver_id        = 5551234567       ; ISA08 / UNB S003 0010
 *   gs_sender_id       = OURCO            ; GS02 (default sender_id)
 *   gs_receiver_id     = ACME             ; GS03 (default receiver_id)
 *   version            = 00401            ; ISA12 | UNB S001 ("UNOC:3")
 *   gs_version         = 004010           ; GS08 | UNH S009 ("D:96A:UN")
 *   element_separator = *  component_separator = >  repetition_separator = ^
 *   segment_terminator = ~  newline = yes ; outbound separators
 *   ack                = 997              ; inbound acks: 997 | 999 | auto (by GS08) | none;
 *                                         ; EDIFACT: contrl | none
 *   expect_ack         = yes              ; our interchanges expect the partner's ack
 *   ack_window         = 24h              ; ... within this long, else "overdue"
 *   mapping            = mappings/x12/850.map
 *   out_mapping.order.accepted   = mappings/x12/855.map
 *   out_mapping.shipment.created = mappings/x12/856.map
 *   out_mapping.order.invoiced   = mappings/x12/810.map
 *   test               = no               ; ISA15 T / UNB 0035 1
 *
 * plus the file-channel keys (pattern, after, stable, marker, filename,
 * overwrite). Inbound files are spooled as format x12/edifact; core's EDI
 * hook (core/daemon/edi_hooks.c) acknowledges them, detects duplicates and
 * reads incoming 997/999/CONTRL. Outbound, deliver renders the event with
 * out_mapping.EVENT, giving the mapping the envelope to copy (`_envelope =
 * ._edi.envelope`, `ST.02 = ._edi.control`) with control numbers from the
 * store (ch->ops->edi_numbers: a retry sends the same numbers), re-encodes
 * with the partner's separators, and writes the file. Acknowledgements
 * (event `edi.ack`) arrive fully built and are written as they are.
 * EDIFACT mappings also get `_edi.message_type`, the UNH S009 composite
 * (`UNH.02 = ._edi.message_type`).
 * Overdue acknowledgements are looked for after each poll and logged
 * (`edi.ack_overdue`); the count is oh_edi_overdue_total().
 */
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "arena.h"
#include "config.h"
#include "connector.h"
#include "connectors/dir/dir.h"
#include "connectors/dir/filechan.h"
#include "connectors/sftp/sftp.h"
#include "edi.h"
#include "edi_channel.h"
#include "log.h"
#include "map/map.h"
#include "util.h"

struct out_map {
    char *event;
    struct oh_map *map;
};

struct edi_state {
    struct oh_edi_partner p;
    int sftp;
    void *t_in, *t_out;
    struct oh_conf_section out_cfg; /* the section with path/url swapped for outbound */
    struct oh_filechan fc_in, fc_out;
    struct out_map *maps;
    size_t nmaps;
};

static atomic_ullong overdue_total;

unsigned long long oh_edi_overdue_total(void) { return atomic_load(&overdue_total); }

const struct oh_edi_partner *oh_edi_partner_of(const struct oh_channel *ch)
{
    if (!ch || !ch->conn || strcmp(ch->conn->type, "edi") != 0 || !ch->priv)
        return NULL;
    return &((const struct edi_state *)ch->priv)->p;
}

static void close_transport(int sftp, void *t)
{
    if (sftp)
        oh_sftp_transport_close(t);
    else
        oh_dir_transport_close(t);
}

static void edi_close(struct oh_channel *ch)
{
    struct edi_state *s = ch->priv;
    if (!s)
        return;
    oh_filechan_clear(&s->fc_in);
    oh_filechan_clear(&s->fc_out);
    close_transport(s->sftp, s->t_in);
    close_transport(s->sftp, s->t_out);
    for (size_t i = 0; i < s->out_cfg.n; i++)
        if (s->out_cfg.kv[i].key == NULL)
            free(s->out_cfg.kv[i].value);
    free(s->out_cfg.kv);
    for (size_t i = 0; i < s->nmaps; i++) {
        free(s->maps[i].event);
        oh_map_free(s->maps[i].map);
    }
    free(s->maps);
    free(s);
    ch->priv = NULL;
}

static int copy_field(char *dst, size_t n, const char *v, const struct oh_conf_section *s,
                      const char *key, struct oh_err *err)
{
    if (strlen(v) >= n)
        return oh_err_set(err, OH_EINVAL, "%s:%d: %s: at most %zu characters", s->path,
                          oh_conf_line(s, key), key, n - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int sep_key(const struct oh_conf_section *s, const char *key, char *out, int *set,
                   struct oh_err *err)
{
    const char *v = oh_conf_get(s, key);
    if (!v)
        return 0;
    if (strlen(v) != 1 || isalnum((unsigned char)*v) || *v == ' ')
        return oh_err_set(err, OH_EINVAL, "%s:%d: %s: one punctuation character", s->path,
                          oh_conf_line(s, key), key);
    *out = *v;
    *set = 1;
    return 0;
}

/* The outbound transport's section: every key as configured, with path
 * (dir) or url (sftp) replaced by out_path / out_url. */
static int build_out_cfg(struct edi_state *st, const struct oh_conf_section *s, struct oh_err *err)
{
    const char *key = st->sftp ? "url" : "path";
    const char *out = oh_conf_get(s, st->sftp ? "out_url" : "out_path");
    const char *in = oh_conf_get(s, key);
    char *value = NULL;

    if (out && *out) {
        if (!(value = strdup(out)))
            abort();
    } else if (st->sftp) {
        if (!in)
            return oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s] needs url = sftp://...",
                              s->path, s->line, s->name);
        if (!(value = strdup(in)))
            abort();
    } else {
        if (!in || !*in)
            return oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s] needs path = DIR", s->path,
                              s->line, s->name);
        if (asprintf(&value, "%s/outbox", in) < 0)
            abort();
    }
    st->out_cfg = *s;
    st->out_cfg.kv = calloc(s->n + 1, sizeof(*s->kv));
    if (!st->out_cfg.kv)
        abort();
    st->out_cfg.n = st->out_cfg.cap = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kv[i].key, key) != 0)
            st->out_cfg.kv[st->out_cfg.n++] = s->kv[i];
    /* key NULL marks the one value this copy owns (freed on close) */
    st->out_cfg.kv[st->out_cfg.n] = (struct oh_conf_kv){ NULL, value, s->line, 1 };
    st->out_cfg.n++;
    st->out_cfg.cap = st->out_cfg.n;
    return 0;
}

/* oh_conf_get finds keys by name; the owned value needs its key back while
 * the transport reads it, so it is named only for that call. */
static int open_out_transport(struct edi_state *st, struct oh_channel *ch, struct oh_err *err)
{
    struct oh_conf_kv *own = &st->out_cfg.kv[st->out_cfg.n - 1];
    const struct oh_file_transport *tp;
    int rc;

    own->key = (char *)(st->sftp ? "url" : "path");
    rc = st->sftp ? oh_sftp_transport_open(&st->out_cfg, ch->name, &st->t_out, &tp, err)
                  : oh_dir_transport_open(&st->out_cfg, ch->name, &st->t_out, &tp, err);
    own->key = NULL;
    if (rc < 0)
        return rc;
    st->fc_out.tp = tp;
    st->fc_out.t = st->t_out;
    return 0;
}

static int load_out_maps(struct edi_state *st, const struct oh_conf_section *s, struct oh_err *err)
{
    char dirbuf[PATH_MAX];
    int rc;

    snprintf(dirbuf, sizeof(dirbuf), "%s", s->path ? s->path : ".");
    for (size_t i = 0; i < s->n; i++) {
        const char *k = s->kv[i].key, *v;
        char *path = NULL;
        if (strncmp(k, "out_mapping.", 12) != 0 || !k[12])
            continue;
        v = oh_conf_get(s, k);
        if (v[0] == '/') {
            if (!(path = strdup(v)))
                abort();
        } else {
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof(tmp), "%s", dirbuf);
            if (asprintf(&path, "%s/%s", dirname(tmp), v) < 0)
                abort();
        }
        if (!(st->maps = realloc(st->maps, (st->nmaps + 1) * sizeof(*st->maps))))
            abort();
        st->maps[st->nmaps].event = strdup(k + 12);
        st->maps[st->nmaps].map = NULL;
        rc = oh_map_load(path, &st->maps[st->nmaps].map, err);
        free(path);
        st->nmaps++;
        if (rc < 0)
            return rc;
        if (oh_map_is_kind(oh_map_to(st->maps[st->nmaps - 1].map)))
            return oh_err_set(err, OH_EINVAL, "%s:%d: %s: an inbound mapping (to %s)", s->path,
                              s->kv[i].line, k, oh_map_to(st->maps[st->nmaps - 1].map));
    }
    return 0;
}

static int edi_open(struct oh_channel *ch, struct oh_err *err)
{
    static const char *const standards[] = { "x12", "edifact", NULL };
    static const char *const transports[] = { "dir", "sftp", NULL };
    const struct oh_conf_section *s = ch->cfg;
    struct edi_state *st = calloc(1, sizeof(*st));
    struct oh_edi_partner *p;
    const struct oh_file_transport *tp;
    int standard = 0, transport = 0, test = 0, newline = 1, rc;
    const char *v;

    if (!st)
        abort();
    p = &st->p;
    ch->priv = st;
    if ((rc = oh_conf_enum(s, "standard", standards, -1, &standard, err)) < 0)
        goto done;
    if (standard < 0) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s] needs standard = x12|edifact",
                        s->path, s->line, ch->name);
        goto done;
    }
    p->standard = standard == 0 ? OH_EDI_X12 : OH_EDI_EDIFACT;
    if ((rc = oh_conf_enum(s, "transport", transports, 0, &transport, err)) < 0)
        goto done;
    st->sftp = transport == 1;

    /* parties */
    if ((rc = copy_field(p->sender_q, sizeof(p->sender_q),
                         oh_conf_get_or(s, "sender_qualifier", standard == 0 ? "ZZ" : ""), s,
                         "sender_qualifier", err)) < 0 ||
        (rc = copy_field(p->receiver_q, sizeof(p->receiver_q),
                         oh_conf_get_or(s, "receiver_qualifier", standard == 0 ? "ZZ" : ""), s,
                         "receiver_qualifier", err)) < 0)
        goto done;
    if (!(v = oh_conf_get(s, "sender_id")) || !*v || !oh_conf_get(s, "receiver_id") ||
        !*oh_conf_get(s, "receiver_id")) {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: [channel %s] needs sender_id and receiver_id",
                        s->path, s->line, ch->name);
        goto done;
    }
    if ((rc = copy_field(p->sender_id, standard == 0 ? 16 : sizeof(p->sender_id), v, s,
                         "sender_id", err)) < 0 ||
        (rc = copy_field(p->receiver_id, standard == 0 ? 16 : sizeof(p->receiver_id),
                         oh_conf_get(s, "receiver_id"), s, "receiver_id", err)) < 0 ||
        (rc = copy_field(p->gs_sender, sizeof(p->gs_sender),
                         oh_conf_get_or(s, "gs_sender_id", p->sender_id), s, "gs_sender_id",
                         err)) < 0 ||
        (rc = copy_field(p->gs_receiver, sizeof(p->gs_receiver),
                         oh_conf_get_or(s, "gs_receiver_id", p->receiver_id), s,
                         "gs_receiver_id", err)) < 0 ||
        (rc = copy_field(p->version, sizeof(p->version),
                         oh_conf_get_or(s, "version", standard == 0 ? "00401" : "UNOC:3"), s,
                         "version", err)) < 0 ||
        (rc = copy_field(p->gs_version, sizeof(p->gs_version),
                         oh_conf_get_or(s, "gs_version", standard == 0 ? "004010" : "D:96A:UN"),
                         s, "gs_version", err)) < 0)
        goto done;
    if ((rc = oh_conf_bool(s, "test", 0, &test, err)) < 0)
        goto done;
    snprintf(p->test, sizeof(p->test), "%s", standard == 0 ? (test ? "T" : "P") : (test ? "1" : ""));

    /* separators */
    if (standard == 0)
        oh_x12_default_seps(&p->seps);
    else
        oh_edifact_default_seps(&p->seps);
    if ((rc = sep_key(s, "element_separator", &p->seps.elem, &p->seps_set, err)) < 0 ||
        (rc = sep_key(s, "component_separator", &p->seps.comp, &p->seps_set, err)) < 0 ||
        (rc = sep_key(s, "repetition_separator", &p->seps.rep, &p->seps_set, err)) < 0 ||
        (rc = oh_conf_bool(s, "newline", 1, &newline, err)) < 0)
        goto done;
    if ((v = oh_conf_get(s, "segment_terminator"))) {
        if (!*v || strlen(v) > 4) {
            rc = oh_err_set(err, OH_EINVAL, "%s:%d: segment_terminator: 1 to 4 bytes", s->path,
                            oh_conf_line(s, "segment_terminator"));
            goto done;
        }
        memcpy(p->seps.term, v, strlen(v));
        p->seps.term_len = strlen(v);
        p->seps_set = 1;
    }
    if (!newline) {
        p->seps.newline = 0;
        p->seps_set = 1;
    }

    /* acknowledgements */
    v = oh_conf_get_or(s, "ack", standard == 0 ? "auto" : "contrl");
    if (strcmp(v, "none") == 0)
        p->ack_kind = 0;
    else if (standard == 0 && strcmp(v, "997") == 0)
        p->ack_kind = 997;
    else if (standard == 0 && strcmp(v, "999") == 0)
        p->ack_kind = 999;
    else if (standard == 0 && strcmp(v, "auto") == 0)
        p->ack_kind = -1;
    else if (standard == 1 && strcasecmp(v, "contrl") == 0)
        p->ack_kind = 1;
    else {
        rc = oh_err_set(err, OH_EINVAL, "%s:%d: ack: '%s' is not %s", s->path,
                        oh_conf_line(s, "ack"), v,
                        standard == 0 ? "997, 999, auto or none" : "contrl or none");
        goto done;
    }
    if ((rc = oh_conf_bool(s, "expect_ack", 1, &p->expect_ack, err)) < 0 ||
        (rc = oh_conf_duration_ms(s, "ack_window", 24 * 3600 * 1000LL, &p->ack_window_ms, err)) < 0)
        goto done;

    /* transports: inbound from path/url, outbound to out_path/out_url */
    if ((rc = build_out_cfg(st, s, err)) < 0)
        goto done;
    rc = st->sftp ? oh_sftp_transport_open(s, ch->name, &st->t_in, &tp, err)
                  : oh_dir_transport_open(s, ch->name, &st->t_in, &tp, err);
    if (rc < 0)
        goto done;
    st->fc_in.tp = tp;
    st->fc_in.t = st->t_in;
    if ((rc = oh_filechan_configure(&st->fc_in, ch, err)) < 0 ||
        (rc = open_out_transport(st, ch, err)) < 0)
        goto done;
    if (!(st->fc_out.out_name = strdup(st->fc_in.out_name)))
        abort();
    st->fc_out.overwrite = st->fc_in.overwrite;
    if ((rc = load_out_maps(st, s, err)) < 0)
        goto done;
    /* without an inbound mapping the spool still says what the bytes are */
    if (!ch->mapping && strcmp(ch->format, "canonical") == 0) {
        free(ch->format);
        if (!(ch->format = strdup(standard == 0 ? "x12" : "edifact")))
            abort();
    }
    rc = 0;
done:
    if (rc < 0)
        edi_close(ch);
    return rc;
}

struct overdue_ctx {
    const char *channel;
    size_t n;
};

static void on_overdue(void *ud, const struct oh_edi_overdue *o)
{
    struct overdue_ctx *c = ud;
    c->n++;
    atomic_fetch_add(&overdue_total, 1);
    oh_warn("edi.ack_overdue", "channel=%s message=%s icn=%lu gcn=%lu expected=%s due=%s",
            c->channel, o->message ? o->message : "", o->icn, o->gcn,
            o->ack_expected ? o->ack_expected : "", o->due_at ? o->due_at : "");
}

static int edi_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err)
{
    struct edi_state *st = ch->priv;
    struct overdue_ctx c = { ch->name, 0 };
    int rc = oh_filechan_poll(&st->fc_in, ch, sp, err);
    struct oh_err e;

    if (ch->ops && ch->ops->edi_overdue && ch->ops->edi_overdue(ch, on_overdue, &c, &e) < 0)
        oh_warn("edi.overdue_check_failed", "channel=%s error=\"%s\"", ch->name, e.msg);
    return rc;
}

static const char *x12_func_id(const char *message)
{
    static const struct { const char *msg, *func; } t[] = {
        { "850", "PO" }, { "855", "PR" }, { "856", "SH" }, { "810", "IN" }, { "846", "IB" },
        { "940", "OW" }, { "945", "SW" }, { "997", "FA" }, { "999", "FA" }, { NULL, NULL },
    };
    for (size_t i = 0; message && t[i].msg; i++)
        if (strcmp(t[i].msg, message) == 0)
            return t[i].func;
    return "ZZ";
}

/* The `_edi` member given to an outbound mapping. */
static json_t *envelope_json(const struct oh_edi_partner *p, const char *message,
                             const struct oh_edi_numbers *n)
{
    char d6[8], d8[12], hm[8], icn[16], gcn[16], scn[16];
    time_t now = time(NULL);
    struct tm tm;
    json_t *env;

    gmtime_r(&now, &tm);
    strftime(d6, sizeof(d6), "%y%m%d", &tm);
    strftime(d8, sizeof(d8), "%Y%m%d", &tm);
    strftime(hm, sizeof(hm), "%H%M", &tm);
    if (p->standard == OH_EDI_X12) {
        json_t *isa = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "01", "00",
                                "02", "          ", "03", "00", "04", "          ", "05",
                                p->sender_q, "06", p->sender_id, "07", p->receiver_q, "08",
                                p->receiver_id, "09", d6, "10", hm);
        snprintf(icn, sizeof(icn), "%09lu", n->icn);
        snprintf(gcn, sizeof(gcn), "%lu", n->gcn);
        snprintf(scn, sizeof(scn), "%04lu", n->scn);
        if (strcmp(p->version, "00402") < 0)
            json_object_set_new(isa, "11", json_string("U"));
        json_object_set_new(isa, "12", json_string(p->version));
        json_object_set_new(isa, "13", json_string(icn));
        json_object_set_new(isa, "14", json_string("0"));
        json_object_set_new(isa, "15", json_string(p->test));
        env = json_pack("{s:o, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "ISA", isa, "GS",
                        "01", x12_func_id(message), "02", p->gs_sender, "03", p->gs_receiver,
                        "04", d8, "05", hm, "06", gcn, "07", "X", "08", p->gs_version);
    } else {
        char syn[16], *colon;
        json_t *unb;
        snprintf(syn, sizeof(syn), "%s", p->version);
        colon = strchr(syn, ':');
        if (colon)
            *colon++ = '\0';
        snprintf(icn, sizeof(icn), "%lu", n->icn);
        snprintf(scn, sizeof(scn), "%lu", n->scn);
        unb = json_pack("{s:{s:s, s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:s}", "01", "1", syn,
                        "2", colon ? colon : "3", "02", "1", p->sender_id, "03", "1",
                        p->receiver_id, "04", "1", d6, "2", hm, "05", icn);
        if (*p->sender_q)
            json_object_set_new(json_object_get(unb, "02"), "2", json_string(p->sender_q));
        if (*p->receiver_q)
            json_object_set_new(json_object_get(unb, "03"), "2", json_string(p->receiver_q));
        if (*p->test)
            json_object_set_new(unb, "11", json_string(p->test));
        env = json_pack("{s:o}", "UNB", unb);
    }
    env = json_pack("{s:o, s:s, s:s, s:s, s:s}", "envelope", env, "control", scn, "interchange",
                    icn, "version", p->gs_version, "message", message ? message : "");
    if (p->standard == OH_EDI_EDIFACT) {
        /* UNH S009 as a composite: message type, then the gs_version parts
         * ("D:96A:UN" -> D, 96A, UN), so a mapping writes UNH.02 whole */
        json_t *s009 = json_pack("{s:s}", "1", message ? message : "");
        char ver[sizeof(p->gs_version)], key[16], *part, *save = NULL;
        int k = 2;
        snprintf(ver, sizeof(ver), "%s", p->gs_version);
        for (part = strtok_r(ver, ":", &save); part && k <= 9; part = strtok_r(NULL, ":", &save)) {
            snprintf(key, sizeof(key), "%d", k++);
            json_object_set_new(s009, key, json_string(part));
        }
        json_object_set_new(env, "message_type", s009);
    }
    return env;
}

/* Re-encodes text with the partner's separators. */
static int reencode(const struct oh_edi_partner *p, char **text, size_t *len, struct oh_err *err)
{
    struct oh_arena *a = oh_arena_new(0);
    struct oh_node *root = NULL;
    struct oh_edi_report *rep = NULL;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = NULL;
    int rc;

    rc = p->standard == OH_EDI_X12 ? oh_x12_decode_tree(a, *text, *len, &root, &rep, err)
                                   : oh_edifact_decode_tree(a, *text, *len, &root, &rep, err);
    if (rc < 0)
        goto done;
    if (!(f = open_memstream(&buf, &blen)))
        abort();
    rc = p->standard == OH_EDI_X12 ? oh_x12_encode(root, &p->seps, 1, f, err)
                                   : oh_edifact_encode(root, &p->seps, 1, f, err);
    fclose(f);
    f = NULL;
    if (rc < 0)
        goto done;
    free(*text);
    *text = buf;
    *len = blen;
    buf = NULL;
done:
    free(buf);
    oh_edi_report_free(rep);
    oh_arena_free(a);
    return rc;
}

static int deliver_text(struct edi_state *st, struct oh_channel *ch, const struct oh_outbox_msg *m,
                        char *text, size_t len, struct oh_err *err)
{
    struct oh_outbox_msg copy = *m;
    copy.body = text;
    copy.body_len = len;
    snprintf(copy.content_type, sizeof(copy.content_type), "application/edi");
    return oh_filechan_deliver(&st->fc_out, ch, &copy, err);
}

static int edi_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err)
{
    struct edi_state *st = ch->priv;
    const struct oh_edi_partner *p = &st->p;
    const struct oh_map *map = NULL;
    json_t *rec = NULL;
    json_error_t je;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (strcmp(m->event, "edi.ack") == 0) {
        /* built and numbered in the transaction that stored the interchange */
        const char *t;
        if (!(rec = json_loads(m->payload, 0, &je)) ||
            !(t = json_string_value(json_object_get(rec, "text")))) {
            rc = oh_err_set(err, OH_EINVAL, "%s: outbox %lld: acknowledgement payload unreadable",
                            ch->name, (long long)m->id);
            goto done;
        }
        rc = deliver_text(st, ch, m, (char *)t, strlen(t), err);
        goto done;
    }
    for (size_t i = 0; i < st->nmaps; i++)
        if (strcmp(st->maps[i].event, m->event) == 0)
            map = st->maps[i].map;
    if (!map) {
        if (m->body) /* the channel's own out_mapping made the bytes */
            rc = oh_filechan_deliver(&st->fc_out, ch, m, err);
        else
            rc = oh_err_set(err, OH_EINVAL, "%s: no out_mapping.%s for event %s", ch->name,
                            m->event, m->event);
        goto done;
    }
    {
        const char *message = oh_map_message(map);
        struct oh_edi_numbers n = {
            .outbox_id = m->id,
            .standard = p->standard == OH_EDI_X12 ? "x12" : "edifact",
            .message = message ? message : m->event,
            .ack_expected = !p->expect_ack ? NULL
                            : p->standard == OH_EDI_EDIFACT ? "CONTRL"
                            : strcmp(p->gs_version, "005010") >= 0 ? "999" : "997",
            .ack_window_ms = p->ack_window_ms,
        };
        struct oh_map_ctx ctx = { m->origin, oh_now_ms(), m->event };

        if (!ch->ops || !ch->ops->edi_numbers) {
            rc = oh_err_set(err, OH_EINVAL, "%s: no control numbers available", ch->name);
            goto done;
        }
        if ((rc = ch->ops->edi_numbers(ch, &n, err)) < 0)
            goto done;
        if (!(rec = json_loads(m->payload, 0, &je))) {
            rc = oh_err_set(err, OH_EINVAL, "%s: outbox %lld: payload is not JSON: %s", ch->name,
                            (long long)m->id, je.text);
            goto done;
        }
        json_object_set_new(rec, "_edi", envelope_json(p, n.message, &n));
        if ((rc = oh_map_render(map, rec, &ctx, &text, &len, err)) < 0)
            goto done;
        if (p->seps_set && (rc = reencode(p, &text, &len, err)) < 0)
            goto done;
        rc = deliver_text(st, ch, m, text, len, err);
        if (rc == 0)
            oh_info("edi.sent", "channel=%s event=%s message=%s icn=%lu gcn=%lu scn=%lu",
                    ch->name, m->event, n.message, n.icn, n.gcn, n.scn);
    }
done:
    free(text);
    json_decref(rec);
    return rc;
}

const struct oh_connector oh_connector_edi = {
    .type = "edi",
    .open = edi_open,
    .poll = edi_poll,
    .webhook = NULL,
    .deliver = edi_deliver,
    .close = edi_close,
};
