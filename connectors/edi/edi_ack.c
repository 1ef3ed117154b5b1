/*
 * edi_ack.c — functional acknowledgements: build the 997/999 for one X12
 * functional group and the CONTRL for one EDIFACT interchange from a parse
 * report, and read incoming ones into struct oh_edi_ack_result.
 *
 * The ack is built as a document tree in the decoders' shape (so it can be
 * stored, mapped or printed like any other document) and then encoded with
 * the ordinary encoder. Sender and receiver are swapped from the interchange
 * received; control numbers, date and time come from the caller. Nothing
 * here remembers anything between calls.
 *
 * 997 (groups below 005010) / 999 (005010 and later):
 *   AK1  group id, GS06 (and GS08 for 005010)
 *   AK2  per set: ST01, ST02 (and ST03 for 999)
 *   AK3/IK3 per segment error: id, position, loop, code
 *   AK4/IK4 per element error: position[:component], , code
 *   AK5/IK5 set status (A, E, R) and codes
 *   AK9  group status (A, E, P, R), sets included, received, accepted, codes
 * CONTRL: UCI (interchange; action 7 acknowledged / 4 rejected + 0085 code),
 * UCF per explicit group, UCM per message, UCS/UCD per segment/element error.
 */
#include "edi_int.h"

#include "arena.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ab {
    struct oh_arena *a;
    uint32_t segs;
    int oom;
};

static struct oh_node *seg(struct ab *b, struct oh_node *parent, const char *id)
{
    struct oh_node *s = oh_node_add(b->a, parent, id, OH_NODE_OBJECT, NULL, 0);
    if (!s)
        b->oom = 1;
    else if (strcmp(id, "ISA") && strcmp(id, "GS") && strcmp(id, "UNB") && strcmp(id, "UNG"))
        s->col = ++b->segs;
    return s;
}

static void el(struct ab *b, struct oh_node *s, unsigned pos, const char *v)
{
    char kb[12];
    if (!s || !v || !*v)
        return;
    const char *k = edi_key2(pos, kb);
    if (!oh_node_add(b->a, s, k, OH_NODE_STRING, v, strlen(v)))
        b->oom = 1;
}

static void elf(struct ab *b, struct oh_node *s, unsigned pos, const char *fmt, unsigned long n)
{
    char v[24];
    snprintf(v, sizeof(v), fmt, n);
    el(b, s, pos, v);
}

/* Composite from up to 4 components (NULL/"" left out). */
static void comp(struct ab *b, struct oh_node *s, unsigned pos, const char *c1, const char *c2,
                 const char *c3, const char *c4)
{
    const char *c[4] = {c1, c2, c3, c4};
    char kb[12];
    if (!s)
        return;
    struct oh_node *o = oh_node_add(b->a, s, edi_key2(pos, kb), OH_NODE_OBJECT, NULL, 0);
    if (!o) {
        b->oom = 1;
        return;
    }
    for (int i = 0; i < 4; i++)
        if (c[i] && *c[i] && !oh_node_add(b->a, o, (const char[]){(char)('1' + i), 0},
                                         OH_NODE_STRING, c[i], strlen(c[i])))
            b->oom = 1;
}

static void stamp(const struct oh_edi_ack_ctl *ctl, char date[9], char tim[5])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (ctl->date && strlen(ctl->date) == 8)
        memcpy(date, ctl->date, 9);
    else
        strftime(date, 9, "%Y%m%d", &tm);
    if (ctl->time && strlen(ctl->time) == 4)
        memcpy(tim, ctl->time, 5);
    else
        strftime(tim, 5, "%H%M", &tm);
}

static const struct oh_edi_ichg_info *find_ichg(const struct oh_edi_report *r, int ichg)
{
    for (size_t i = 0; i < r->nichg; i++)
        if (r->ichg[i].ordinal == ichg)
            return &r->ichg[i];
    return NULL;
}

static int encode_text(const struct oh_node *set, const struct oh_edi_seps *seps,
                       enum oh_edi_syntax syn, char **text, struct oh_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;
    if (!f)
        return oh_err_set(err, OH_ERROR, "out of memory");
    rc = syn == OH_EDI_X12 ? oh_x12_encode(set, seps, 1, f, err)
                           : oh_edifact_encode(set, seps, 1, f, err);
    if (fclose(f) != 0 && rc == 0)
        rc = oh_err_set(err, OH_ERROR, "out of memory");
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    return 0;
}

static int add_code(int *codes, int n, int c)
{
    if (!c || n >= 5)
        return n;
    for (int i = 0; i < n; i++)
        if (codes[i] == c)
            return n;
    codes[n] = c;
    return n + 1;
}

static int ack_status_char(int st)
{
    return st ? st : OH_EDI_ACCEPTED;
}

int oh_x12_ack_build(const struct oh_edi_report *r, int ichg, int group,
                     const struct oh_edi_ack_ctl *ctl, const struct oh_edi_seps *seps,
                     struct oh_arena *a, struct oh_node **tree, char **text, struct oh_err *err)
{
    const struct oh_edi_ichg_info *ic = r ? find_ichg(r, ichg) : NULL;
    const struct oh_edi_group_info *g = NULL;
    struct ab b = {.a = a};
    char date[9], tim[5], s[40];
    struct oh_edi_seps sp;
    int rc;

    *tree = NULL;
    if (text)
        *text = NULL;
    if (!r || r->syntax != OH_EDI_X12 || !ic)
        return oh_err_set(err, OH_ENOTFOUND, "x12 ack: no interchange %d in the report", ichg);
    for (size_t i = 0; i < ic->ngroups; i++)
        if (ic->groups[i].ordinal == group)
            g = &ic->groups[i];
    if (!g)
        return oh_err_set(err, OH_ENOTFOUND, "x12 ack: interchange %s has no group %d", ic->ctrl,
                          group);
    if (g->nsets && g->nsets_kept != (size_t)g->nsets)
        return oh_err_set(err, OH_EINVAL, "x12 ack: the report was made without keep_sets");
    int is999 = ctl->kind == 999 || (ctl->kind == 0 && strncmp(g->version, "005010", 6) >= 0);
    stamp(ctl, date, tim);

    struct oh_node *set = oh_node_new(a, OH_NODE_OBJECT);
    struct oh_node *env = set ? oh_node_add(a, set, "_envelope", OH_NODE_OBJECT, NULL, 0) : NULL;
    if (!env)
        return oh_err_set(err, OH_ETOOBIG, "x12 ack: over the memory limit");
    oh_node_add(a, env, "interchange", OH_NODE_STRING, "1", 1);
    oh_node_add(a, env, "group", OH_NODE_STRING, "1", 1);
    struct oh_node *isa = seg(&b, env, "ISA");
    el(&b, isa, 1, "00");
    el(&b, isa, 2, "          ");
    el(&b, isa, 3, "00");
    el(&b, isa, 4, "          ");
    el(&b, isa, 5, ic->receiver_q);
    snprintf(s, sizeof(s), "%-15s", ic->receiver);
    el(&b, isa, 6, s);
    el(&b, isa, 7, ic->sender_q);
    snprintf(s, sizeof(s), "%-15s", ic->sender);
    el(&b, isa, 8, s);
    el(&b, isa, 9, date + 2);
    el(&b, isa, 10, tim);
    if (strcmp(ic->version, "00402") < 0)
        el(&b, isa, 11, "U");
    el(&b, isa, 12, ic->version[0] ? ic->version : "00401");
    elf(&b, isa, 13, "%09lu", ctl->ichg_ctrl);
    el(&b, isa, 14, "0");
    el(&b, isa, 15, ic->test[0] ? ic->test : "P");
    struct oh_node *gs = seg(&b, env, "GS");
    el(&b, gs, 1, "FA");
    el(&b, gs, 2, g->receiver);
    el(&b, gs, 3, g->sender);
    el(&b, gs, 4, date);
    el(&b, gs, 5, tim);
    elf(&b, gs, 6, "%lu", ctl->group_ctrl);
    el(&b, gs, 7, "X");
    if (is999)
        el(&b, gs, 8, "005010X231");
    else {
        edi_copy(s, 7, g->version, strlen(g->version));
        el(&b, gs, 8, s[0] ? s : "004010");
    }

    struct oh_node *st = seg(&b, set, "ST");
    el(&b, st, 1, is999 ? "999" : "997");
    elf(&b, st, 2, "%04lu", ctl->set_ctrl);
    if (is999)
        el(&b, st, 3, "005010X231");
    struct oh_node *ak1 = seg(&b, set, "AK1");
    el(&b, ak1, 1, g->func);
    el(&b, ak1, 2, g->ctrl);
    if (strncmp(g->version, "005010", 6) >= 0)
        el(&b, ak1, 3, g->version);

    for (size_t i = 0; i < g->nsets_kept; i++) {
        const struct oh_edi_set_info *si = &g->sets[i];
        struct oh_node *ak2 = seg(&b, set, "AK2");
        int codes[5], nc = 0, nseg = 0;
        el(&b, ak2, 1, si->id);
        el(&b, ak2, 2, si->ctrl);
        if (is999)
            el(&b, ak2, 3, si->impl);
        for (size_t k = si->first_err; k < si->first_err + si->nerr && k < r->nerr; k++) {
            const struct oh_edi_error *e = &r->err[k];
            nc = add_code(codes, nc, e->set_code);
            if (!e->seg_code && !e->elem_code)
                continue;
            nseg++;
            struct oh_node *ak3 = seg(&b, ak2, is999 ? "IK3" : "AK3");
            el(&b, ak3, 1, e->seg_id);
            elf(&b, ak3, 2, "%lu", e->seg_pos);
            el(&b, ak3, 3, e->loop_id);
            elf(&b, ak3, 4, "%lu", (unsigned long)(e->seg_code ? e->seg_code : 8));
            if (e->elem_code) {
                struct oh_node *ak4 = seg(&b, ak3, is999 ? "IK4" : "AK4");
                if (e->comp) {
                    char ep[12], cp[12];
                    snprintf(ep, sizeof(ep), "%d", e->elem);
                    snprintf(cp, sizeof(cp), "%d", e->comp);
                    comp(&b, ak4, 1, ep, cp, NULL, NULL);
                } else {
                    elf(&b, ak4, 1, "%lu", (unsigned long)e->elem);
                }
                elf(&b, ak4, 3, "%lu", (unsigned long)e->elem_code);
            }
        }
        if (si->status != OH_EDI_ACCEPTED && nseg)
            nc = add_code(codes, nc, 5);
        struct oh_node *ak5 = seg(&b, ak2, is999 ? "IK5" : "AK5");
        char stc[2] = {(char)ack_status_char(si->status), 0};
        el(&b, ak5, 1, stc);
        for (int c = 0; c < nc; c++)
            elf(&b, ak5, (unsigned)(2 + c), "%lu", (unsigned long)codes[c]);
    }
    struct oh_node *ak9 = seg(&b, set, "AK9");
    char gst[2] = {(char)ack_status_char(g->status), 0};
    el(&b, ak9, 1, gst);
    elf(&b, ak9, 2, "%lu", (unsigned long)(g->declared >= 0 ? g->declared : g->nsets));
    elf(&b, ak9, 3, "%lu", (unsigned long)g->nsets);
    elf(&b, ak9, 4, "%lu", (unsigned long)g->naccepted);
    {
        int codes[5], nc = 0;
        for (size_t k = 0; k < r->nerr; k++)
            if (r->err[k].interchange == ichg && r->err[k].group == group && !r->err[k].set)
                nc = add_code(codes, nc, r->err[k].group_code);
        for (int c = 0; c < nc; c++)
            elf(&b, ak9, (unsigned)(5 + c), "%lu", (unsigned long)codes[c]);
    }
    struct oh_node *se = seg(&b, set, "SE");
    elf(&b, se, 1, "%lu", (unsigned long)b.segs);
    elf(&b, se, 2, "%04lu", ctl->set_ctrl);
    if (b.oom)
        return oh_err_set(err, OH_ETOOBIG, "x12 ack: over the memory limit");

    if (seps)
        sp = *seps;
    else {
        sp = ic->seps;
        if (!sp.term_len)
            oh_x12_default_seps(&sp);
    }
    if (!sp.rep)
        sp.rep = (sp.elem != '^' && sp.comp != '^' && sp.term[0] != '^') ? '^' : '!';
    struct oh_node *root = oh_node_new(a, OH_NODE_ARRAY);
    if (!root)
        return oh_err_set(err, OH_ETOOBIG, "x12 ack: over the memory limit");
    oh_node_append(root, set);
    if (text && (rc = encode_text(root, &sp, OH_EDI_X12, text, err)) < 0)
        return rc;
    *tree = root;
    return 0;
}

int oh_edifact_contrl_build(const struct oh_edi_report *r, int ichg,
                            const struct oh_edi_ack_ctl *ctl, const struct oh_edi_seps *seps,
                            struct oh_arena *a, struct oh_node **tree, char **text,
                            struct oh_err *err)
{
    const struct oh_edi_ichg_info *ic = r ? find_ichg(r, ichg) : NULL;
    struct ab b = {.a = a};
    char date[9], tim[5];
    struct oh_edi_seps sp;
    int rc;

    *tree = NULL;
    if (text)
        *text = NULL;
    if (!r || r->syntax != OH_EDI_EDIFACT || !ic)
        return oh_err_set(err, OH_ENOTFOUND, "contrl: no interchange %d in the report", ichg);
    stamp(ctl, date, tim);
    struct oh_node *set = oh_node_new(a, OH_NODE_OBJECT);
    struct oh_node *env = set ? oh_node_add(a, set, "_envelope", OH_NODE_OBJECT, NULL, 0) : NULL;
    if (!env)
        return oh_err_set(err, OH_ETOOBIG, "contrl: over the memory limit");
    oh_node_add(a, env, "interchange", OH_NODE_STRING, "1", 1);
    oh_node_add(a, env, "group", OH_NODE_STRING, "1", 1);
    struct oh_node *unb = seg(&b, env, "UNB");
    comp(&b, unb, 1, ic->syntax_id[0] ? ic->syntax_id : "UNOA", ic->version[0] ? ic->version : "3",
         NULL, NULL);
    comp(&b, unb, 2, ic->receiver, ic->receiver_q, NULL, NULL);
    comp(&b, unb, 3, ic->sender, ic->sender_q, NULL, NULL);
    comp(&b, unb, 4, date + 2, tim, NULL, NULL);
    elf(&b, unb, 5, "%lu", ctl->ichg_ctrl);

    struct oh_node *unh = seg(&b, set, "UNH");
    elf(&b, unh, 1, "%lu", ctl->set_ctrl);
    comp(&b, unh, 2, "CONTRL", "D", "3", "UN");
    struct oh_node *uci = seg(&b, set, "UCI");
    el(&b, uci, 1, ic->ctrl);
    comp(&b, uci, 2, ic->sender, ic->sender_q, NULL, NULL);
    comp(&b, uci, 3, ic->receiver, ic->receiver_q, NULL, NULL);
    int any_rej = 0;
    for (size_t g = 0; g < ic->ngroups; g++)
        if (ic->groups[g].status != OH_EDI_ACCEPTED &&
            ic->groups[g].status != OH_EDI_ACCEPTED_ERRORS)
            any_rej = 1;
    el(&b, uci, 4, ic->status == OH_EDI_REJECTED ? "4" : "7");
    if (ic->ichg_code)
        elf(&b, uci, 5, "%lu", (unsigned long)ic->ichg_code);
    (void)any_rej;

    for (size_t gi = 0; gi < ic->ngroups; gi++) {
        const struct oh_edi_group_info *g = &ic->groups[gi];
        struct oh_node *parent = set;
        if (g->nsets && g->nsets_kept != (size_t)g->nsets)
            return oh_err_set(err, OH_EINVAL, "contrl: the report was made without keep_sets");
        if (g->func[0]) {
            struct oh_node *ucf = seg(&b, set, "UCF");
            el(&b, ucf, 1, g->ctrl);
            comp(&b, ucf, 2, g->sender, NULL, NULL, NULL);
            comp(&b, ucf, 3, g->receiver, NULL, NULL, NULL);
            el(&b, ucf, 4, g->status == OH_EDI_REJECTED ? "4" : "7");
            if (g->group_code)
                elf(&b, ucf, 5, "%lu", (unsigned long)g->group_code);
            parent = ucf;
        }
        for (size_t i = 0; i < g->nsets_kept; i++) {
            const struct oh_edi_set_info *si = &g->sets[i];
            char parts[4][16] = {{0}};
            const char *p = si->impl;
            for (int k = 0; k < 4 && p; k++) {
                const char *c = strchr(p, ':');
                size_t n = c ? (size_t)(c - p) : strlen(p);
                edi_copy(parts[k], sizeof(parts[k]), p, n);
                p = c ? c + 1 : NULL;
            }
            struct oh_node *ucm = seg(&b, parent, "UCM");
            el(&b, ucm, 1, si->ctrl);
            comp(&b, ucm, 2, parts[0], parts[1], parts[2], parts[3]);
            el(&b, ucm, 3, si->status == OH_EDI_REJECTED ? "4" : "7");
            if (si->status == OH_EDI_REJECTED)
                elf(&b, ucm, 4, "%lu", (unsigned long)(si->set_code ? si->set_code : 18));
            for (size_t k = si->first_err; k < si->first_err + si->nerr && k < r->nerr; k++) {
                const struct oh_edi_error *e = &r->err[k];
                if (!e->seg_code && !e->elem_code)
                    continue;
                struct oh_node *ucs = seg(&b, ucm, "UCS");
                elf(&b, ucs, 1, "%lu", (unsigned long)e->seg_pos);
                if (e->seg_code)
                    elf(&b, ucs, 2, "%lu", (unsigned long)e->seg_code);
                if (e->elem_code) {
                    struct oh_node *ucd = seg(&b, ucs, "UCD");
                    char ep[12], cp[12];
                    snprintf(ep, sizeof(ep), "%d", e->elem);
                    snprintf(cp, sizeof(cp), "%d", e->comp);
                    elf(&b, ucd, 1, "%lu", (unsigned long)e->elem_code);
                    comp(&b, ucd, 2, ep, e->comp ? cp : NULL, NULL, NULL);
                }
            }
        }
    }
    struct oh_node *unt = seg(&b, set, "UNT");
    elf(&b, unt, 1, "%lu", (unsigned long)b.segs);
    elf(&b, unt, 2, "%lu", ctl->set_ctrl);
    if (b.oom)
        return oh_err_set(err, OH_ETOOBIG, "contrl: over the memory limit");
    if (seps)
        sp = *seps;
    else {
        sp = ic->seps;
        if (!sp.term_len)
            oh_edifact_default_seps(&sp);
        sp.newline = 1;
    }
    struct oh_node *root = oh_node_new(a, OH_NODE_ARRAY);
    if (!root)
        return oh_err_set(err, OH_ETOOBIG, "contrl: over the memory limit");
    oh_node_append(root, set);
    if (text && (rc = encode_text(root, &sp, OH_EDI_EDIFACT, text, err)) < 0)
        return rc;
    *tree = root;
    return 0;
}

/* ---- reading acknowledgements ---- */

static const char *sv(const struct oh_node *seg, const char *k)
{
    const struct oh_node *v = oh_node_get(seg, k);
    if (v && v->type == OH_NODE_OBJECT)
        v = oh_node_get(v, "1");
    return oh_node_str(v);
}

static int count_children(const struct oh_node *n, const char *id)
{
    int c = 0;
    for (const struct oh_node *m = n ? n->first : NULL; m; m = m->next)
        if (m->type == OH_NODE_OBJECT && m->key && strcmp(m->key, id) == 0)
            c++;
    return c;
}

static struct oh_edi_ack_set *add_set(struct oh_edi_ack_result *res)
{
    struct oh_edi_ack_set *s = realloc(res->sets, (res->nsets + 1) * sizeof(*s));
    if (!s)
        abort();
    res->sets = s;
    s = &res->sets[res->nsets++];
    memset(s, 0, sizeof(*s));
    return s;
}

static int contrl_action(const char *a)
{
    return strcmp(a, "4") == 0 ? OH_EDI_REJECTED : OH_EDI_ACCEPTED;
}

static void read_ucm(struct oh_edi_ack_result *res, const struct oh_node *ucm)
{
    struct oh_edi_ack_set *s = add_set(res);
    const struct oh_node *id = oh_node_get(ucm, "02");
    edi_copy(s->ctrl, sizeof(s->ctrl), sv(ucm, "01"), strlen(sv(ucm, "01")));
    const char *t = id && id->type == OH_NODE_OBJECT ? oh_node_str(oh_node_get(id, "1"))
                                                      : oh_node_str(id);
    edi_copy(s->id, sizeof(s->id), t, strlen(t));
    s->status = contrl_action(sv(ucm, "03"));
    if (*sv(ucm, "04"))
        s->codes[s->ncodes++] = atoi(sv(ucm, "04"));
    s->nsegerr = count_children(ucm, "UCS");
}

int oh_edi_ack_read(const struct oh_node *set, struct oh_edi_ack_result **out,
                    struct oh_err *err)
{
    struct oh_edi_ack_result *res = NULL;
    const struct oh_node *st = oh_node_get(set, "ST"), *unh = oh_node_get(set, "UNH");
    *out = NULL;
    if (!set || set->type != OH_NODE_OBJECT)
        return oh_err_set(err, OH_EINVAL, "ack: not a set object");
    res = calloc(1, sizeof(*res));
    if (!res)
        abort();
    res->included = res->received = res->accepted = -1;
    if (st && (strcmp(sv(st, "01"), "997") == 0 || strcmp(sv(st, "01"), "999") == 0)) {
        int is999 = strcmp(sv(st, "01"), "999") == 0;
        const struct oh_node *ak1 = oh_node_get(set, "AK1"), *ak9 = oh_node_get(set, "AK9");
        strcpy(res->kind, is999 ? "999" : "997");
        edi_copy(res->func, sizeof(res->func), sv(ak1, "01"), strlen(sv(ak1, "01")));
        edi_copy(res->group_ctrl, sizeof(res->group_ctrl), sv(ak1, "02"), strlen(sv(ak1, "02")));
        for (const struct oh_node *m = set->first; m; m = m->next) {
            if (!m->key || strcmp(m->key, "AK2") != 0)
                continue;
            struct oh_edi_ack_set *s = add_set(res);
            edi_copy(s->id, sizeof(s->id), sv(m, "01"), strlen(sv(m, "01")));
            edi_copy(s->ctrl, sizeof(s->ctrl), sv(m, "02"), strlen(sv(m, "02")));
            const struct oh_node *ak5 = oh_node_get(m, is999 ? "IK5" : "AK5");
            s->status = *sv(ak5, "01") ? *sv(ak5, "01") : '?';
            for (int k = 2; k <= 6; k++) {
                char kb[12];
                const char *c = sv(ak5, edi_key2((unsigned)k, kb));
                if (*c)
                    s->codes[s->ncodes++] = atoi(c);
            }
            s->nsegerr = count_children(m, is999 ? "IK3" : "AK3");
        }
        if (!ak9) {
            oh_edi_ack_result_free(res);
            return oh_err_set(err, OH_EINVAL, "ack: %s without AK9", is999 ? "999" : "997");
        }
        res->status = *sv(ak9, "01") ? *sv(ak9, "01") : '?';
        res->included = *sv(ak9, "02") ? atoi(sv(ak9, "02")) : -1;
        res->received = *sv(ak9, "03") ? atoi(sv(ak9, "03")) : -1;
        res->accepted = *sv(ak9, "04") ? atoi(sv(ak9, "04")) : -1;
        for (int k = 5; k <= 9; k++) {
            char kb[12];
            const char *c = sv(ak9, edi_key2((unsigned)k, kb));
            if (*c)
                res->codes[res->ncodes++] = atoi(c);
        }
    } else if (unh && strcmp(sv(unh, "02"), "CONTRL") == 0) {
        const struct oh_node *uci = oh_node_get(set, "UCI");
        strcpy(res->kind, "CONTRL");
        if (!uci) {
            oh_edi_ack_result_free(res);
            return oh_err_set(err, OH_EINVAL, "ack: CONTRL without UCI");
        }
        edi_copy(res->ichg_ctrl, sizeof(res->ichg_ctrl), sv(uci, "01"), strlen(sv(uci, "01")));
        res->status = contrl_action(sv(uci, "04"));
        if (*sv(uci, "05"))
            res->codes[res->ncodes++] = atoi(sv(uci, "05"));
        int rejected = 0;
        for (const struct oh_node *m = set->first; m; m = m->next) {
            if (m->key && strcmp(m->key, "UCM") == 0)
                read_ucm(res, m);
            else if (m->key && strcmp(m->key, "UCF") == 0)
                for (const struct oh_node *u = m->first; u; u = u->next)
                    if (u->key && strcmp(u->key, "UCM") == 0)
                        read_ucm(res, u);
        }
        for (size_t i = 0; i < res->nsets; i++)
            rejected += res->sets[i].status == OH_EDI_REJECTED;
        if (res->status == OH_EDI_ACCEPTED && rejected)
            res->status = rejected == (int)res->nsets ? OH_EDI_REJECTED : OH_EDI_PARTIAL;
    } else {
        oh_edi_ack_result_free(res);
        return oh_err_set(err, OH_EINVAL, "ack: not a 997, 999 or CONTRL");
    }
    *out = res;
    return 0;
}

void oh_edi_ack_result_free(struct oh_edi_ack_result *r)
{
    if (!r)
        return;
    free(r->sets);
    free(r);
}
