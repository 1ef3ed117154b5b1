/*
 * edifact.c — UN/EDIFACT reader: UNA service string advice, release
 * character, UNB/UNG/UNH/UNT/UNE/UNZ envelopes, syntax identifiers, tree.
 *
 * Separators come from UNA (component, element, decimal mark, release,
 * repetition/reserved, terminator) or are the defaults  : + . ? '  when UNA is
 * absent. The release character escapes the next byte; a release character
 * with nothing after it at the end of the file is an error. CR/LF that are not
 * the terminator are ignored anywhere (wrapped files). Repetition (syntax
 * version 4) is used only when UNA names a repetition separator other than
 * a space.
 *
 * Character sets: UNOA and UNOB text is checked (bytes outside ASCII are
 * errors, lower case in UNOA a warning); UNOC text is decoded from Latin-1 to
 * UTF-8, except an element that is already valid UTF-8, which is kept (with
 * one warning per interchange: such files exist). Others are taken as UTF-8.
 *
 * Messages without UNG form one implicit group (ordinal 1, no control
 * number). Counts and references are checked as envelopes close: UNT 0074
 * (segments UNH..UNT), UNT 0062 = UNH 0062, UNE 0060, UNE 0048 = UNG 0048,
 * UNZ 0036 (groups, or messages when there are no groups), UNZ 0020 = UNB
 * 0020. Memory: as x12.c.
 */
#include "edi_int.h"

#include "arena.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct efp {
    const char *d;
    size_t len, pos;
    const struct oh_edi_parse_opts *o;
    size_t max_err, max_seg;
    struct oh_arena *a;
    oh_edi_set_cb cb;
    void *ud;
    struct oh_edi_report *r;
    struct edi_loc loc;
    int stop;
    struct edi_rcache rules;

    char es, cs, rel, rep, dec, term;
    int has_una;

    char *buf;
    size_t cap;
    struct edi_slice el[EDI_MAX_ELEMS];
    size_t nel;

    int in_ichg, in_group, group_explicit, in_set, any_ung, any_loose;
    int charset; /* 'A' UNOA, 'B' UNOB, 'C' UNOC, 0 other */
    int utf8_warned, lower_warned;
    char *unb_txt, *ung_txt;
    size_t unb_n, ung_n;
    int groups, msgs; /* in the interchange */
    uint32_t set_segs;

    struct oh_node *set;
    struct edi_tree tree;
    struct oh_edi_set_info si;
    size_t set_nerr0, set_nerrors0, set_nwarn_codes;
};

#define ERR(p, sev, ref, elem, codes, ...) \
    edi_err_add((p)->r, (p)->max_err, &(p)->loc, sev, ref, elem, 0, codes, __VA_ARGS__)

static struct edi_codes C(int seg, int elem, int set, int group, int ichg)
{
    struct edi_codes c = {seg, elem, set, group, ichg};
    return c;
}

static struct oh_edi_ichg_info *cur_ic(struct efp *p)
{
    return &p->r->ichg[p->r->nichg - 1];
}

static struct oh_edi_group_info *cur_g(struct efp *p)
{
    struct oh_edi_ichg_info *ic = cur_ic(p);
    return &ic->groups[ic->ngroups - 1];
}

static int el_is(const struct edi_slice *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->p, lit, n) == 0;
}

static struct edi_slice E(const struct efp *p, size_t i)
{
    struct edi_slice s = {"", 0};
    if (i < p->nel)
        s = p->el[i];
    return s;
}

/* Component c (1-based) of element i, released characters kept escaped. */
static struct edi_slice EC(const struct efp *p, size_t i, size_t c)
{
    struct edi_slice s = E(p, i), out = {"", 0};
    size_t k = 1, start = 0;
    for (size_t j = 0; j <= s.n; j++) {
        if (j < s.n && s.p[j] == p->rel) {
            j++;
            continue;
        }
        if (j == s.n || s.p[j] == p->cs) {
            if (k == c) {
                out.p = s.p + start;
                out.n = j - start;
                return out;
            }
            k++;
            start = j + 1;
        }
    }
    return out;
}

/* Copies an element with release characters removed. */
static void vcopy(const struct efp *p, char *dst, size_t cap, struct edi_slice s)
{
    size_t m = 0;
    for (size_t j = 0; j < s.n && m + 1 < cap; j++) {
        if (s.p[j] == p->rel && j + 1 < s.n)
            j++;
        dst[m++] = s.p[j];
    }
    while (m && dst[m - 1] == ' ')
        m--;
    dst[m] = '\0';
}

static size_t split_rel(const char *s, size_t n, char sep, char rel, struct edi_slice *el,
                        size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == rel) {
            i++;
            continue;
        }
        if (i >= n || s[i] == sep) {
            if (k < max) {
                el[k].p = s + start;
                el[k].n = (i > n ? n : i) - start;
            }
            k++;
            start = i + 1;
        }
    }
    return k;
}

static char *dup_segment(const struct efp *p, size_t *n)
{
    size_t len = (size_t)(p->el[p->nel - 1].p + p->el[p->nel - 1].n - p->el[0].p);
    char *t = malloc(len + 1);
    if (!t)
        abort();
    memcpy(t, p->el[0].p, len);
    t[len] = '\0';
    *n = len;
    return t;
}

/* ---- messages ---- */

static struct oh_node *env_seg(struct efp *p, const char *txt, size_t n, uint32_t pos)
{
    struct edi_slice el[40];
    int flags = 0;
    size_t k = split_rel(txt, n, p->es, p->rel, el, 40);
    return edi_seg_node(p->a, el, k < 40 ? k : 40, p->cs, p->rep, p->rel, 0, pos, &flags);
}

static struct oh_node *envelope_node(struct efp *p)
{
    struct oh_arena *a = p->a;
    struct oh_node *env = oh_node_new(a, OH_NODE_OBJECT);
    char o1[12], o2[12];
    if (!env || oh_node_set_key(a, env, "_envelope", 9) < 0)
        return NULL;
    snprintf(o1, sizeof(o1), "%d", p->loc.ichg);
    snprintf(o2, sizeof(o2), "%d", p->loc.group);
    if (!oh_node_add(a, env, "interchange", OH_NODE_STRING, o1, strlen(o1)) ||
        !oh_node_add(a, env, "group", OH_NODE_STRING, o2, strlen(o2)))
        return NULL;
    struct oh_node *s = env_seg(p, p->unb_txt, p->unb_n, 1);
    if (!s)
        return NULL;
    oh_node_append(env, s);
    if (p->group_explicit && p->ung_txt) {
        if (!(s = env_seg(p, p->ung_txt, p->ung_n, 2)))
            return NULL;
        oh_node_append(env, s);
    }
    return env;
}

static void check_charset(struct efp *p)
{
    if (p->charset != 'A' && p->charset != 'B')
        return;
    for (size_t i = 1; i < p->nel; i++) {
        const struct edi_slice *s = &p->el[i];
        for (size_t j = 0; j < s->n; j++) {
            unsigned char c = (unsigned char)s->p[j];
            char ref[40];
            snprintf(ref, sizeof(ref), "%s %02u", p->loc.seg_id, (unsigned)(i % 1000));
            if (c >= 0x80) {
                ERR(p, OH_EDI_ERROR, ref, (int)i, C(0, 21, 0, 0, 0),
                    "element %02zu has a character outside %s (byte 0x%02X)", i,
                    p->charset == 'A' ? "UNOA" : "UNOB", c);
                return;
            }
            if (p->charset == 'A' && islower(c) && !p->lower_warned) {
                p->lower_warned = 1;
                ERR(p, OH_EDI_WARNING, ref, (int)i, C(0, 0, 0, 0, 0),
                    "element %02zu has lower case letters, which UNOA does not have", i);
            }
        }
    }
}

static void open_msg(struct efp *p, size_t offset);

static void open_implicit_group(struct efp *p)
{
    struct oh_edi_group_info *g = edi_report_add_group(cur_ic(p));
    p->in_group = 1;
    p->group_explicit = 0;
    p->loc.group = g->ordinal;
    p->loc.gcn[0] = '\0';
}

static void open_msg(struct efp *p, size_t offset)
{
    if (!p->in_group) {
        if (p->any_ung)
            ERR(p, OH_EDI_ERROR, "UNH", 0, C(0, 0, 0, 0, 30),
                "message outside a group in an interchange that uses UNG");
        p->any_loose = 1;
        open_implicit_group(p);
    }
    struct oh_edi_group_info *g = cur_g(p);
    p->in_set = 1;
    p->msgs++;
    p->loc.set = g->nsets + 1;
    vcopy(p, p->loc.scn, sizeof(p->loc.scn), E(p, 1));
    p->set_segs = 0;
    memset(&p->si, 0, sizeof(p->si));
    p->si.interchange = p->loc.ichg;
    p->si.group = p->loc.group;
    p->si.set = p->loc.set;
    p->si.offset = offset;
    vcopy(p, p->si.id, sizeof(p->si.id), EC(p, 2, 1));
    memcpy(p->si.ctrl, p->loc.scn, sizeof(p->si.ctrl));
    for (size_t k = 1, m = 0; k <= 5; k++) {
        char c[16];
        vcopy(p, c, sizeof(c), EC(p, 2, k));
        m += (size_t)snprintf(p->si.impl + m, sizeof(p->si.impl) - m, "%s%s", k > 1 ? ":" : "", c);
        if (m >= sizeof(p->si.impl))
            break;
    }
    for (size_t m = strlen(p->si.impl); m && p->si.impl[m - 1] == ':'; m--)
        p->si.impl[m - 1] = '\0';
    p->set_nerr0 = p->r->nerr;
    p->set_nerrors0 = p->r->nerrors;
    p->set_nwarn_codes = 0;
    p->set = NULL;
    if (!p->o->no_tree) {
        p->set = oh_node_new(p->a, OH_NODE_OBJECT);
        struct oh_node *env = p->set ? envelope_node(p) : NULL;
        if (env)
            oh_node_append(p->set, env);
        edi_tree_init(&p->tree, p->a, edi_schema_find(OH_EDI_EDIFACT, p->si.id), p->set);
    }
}

static void close_msg(struct efp *p)
{
    struct oh_edi_group_info *g = cur_g(p);
    struct oh_edi_set_info *si = &p->si;
    si->nsegs = p->set_segs;
    edi_set_finish(p->r, g, si, p->set_nerr0, p->set_nerrors0, p->set_nwarn_codes,
                   p->o->keep_sets);
    p->in_set = 0;
    if (p->cb && !p->stop) {
        int rc = p->cb(p->ud, p->set, si, p->a);
        if (rc < 0)
            p->stop = rc;
    }
    p->set = NULL;
    p->loc.set = 0;
    p->loc.scn[0] = '\0';
    p->loc.loop_id[0] = '\0';
}

static void check_rules(struct efp *p)
{
    size_t nr;
    unsigned maxel;
    const struct edi_elemrule *r = edi_rules_cached(&p->rules, p->el[0].p, p->el[0].n, &nr,
                                                    &maxel);
    for (const struct edi_elemrule *end = r ? r + nr : r; r != end; r++) {
        char v[64];
        struct edi_slice s = EC(p, r->elem, r->comp ? r->comp : 1);
        if (s.n >= sizeof(v))
            s.n = sizeof(v) - 1;
        vcopy(p, v, sizeof(v), s);
        int bad = edi_rule_check(r, v, strlen(v), p->dec);
        if (!bad)
            continue;
        char ref[24];
        snprintf(ref, sizeof(ref), "%s %02u.%u", r->seg, r->elem % 100, (r->comp ? r->comp : 1) % 10);
        edi_err_add(p->r, p->max_err, &p->loc, OH_EDI_ERROR, ref, (int)r->elem,
                    (int)(r->comp ? r->comp : 1), C(0, bad == 1 ? 39 : 37, 0, 0, 0),
                    "%s '%s' is %s", ref, v, bad == 1 ? "too long" : "not a number");
    }
}

static void add_to_msg(struct efp *p)
{
    p->set_segs++;
    p->loc.seg_pos = p->set_segs;
    if (!p->set) {
        check_charset(p);
        check_rules(p);
        return;
    }
    int flags = 0;
    struct oh_node *seg =
        edi_seg_node(p->a, p->el, p->nel, p->cs, p->rep, p->rel, 0, p->set_segs, &flags);
    if (!seg) {
        ERR(p, OH_EDI_ERROR, "", 0, C(0, 0, 18, 0, 0), "document over the memory limit");
        return;
    }
    if ((flags & 1) && p->charset == 'C' && !p->utf8_warned) {
        p->utf8_warned = 1;
        ERR(p, OH_EDI_WARNING, "UNB 0001", 0, C(0, 0, 0, 0, 0),
            "UNB declares UNOC (ISO 8859-1) but this text is UTF-8; kept as UTF-8");
    }
    int rc = edi_tree_add(&p->tree, seg, seg->key, NULL, NULL);
    const char *lp = edi_tree_loop(&p->tree);
    edi_copy(p->loc.loop_id, sizeof(p->loc.loop_id), lp, strlen(lp));
    check_charset(p);
    check_rules(p);
    if (rc) {
        ERR(p, OH_EDI_WARNING, "", 0, C(15, 0, 0, 0, 0), "segment %s is %s; kept in order%s%s",
            seg->key, rc == 2 ? "not expected here" : "not in this message's segment table",
            p->loc.loop_id[0] ? " in group " : " at the message level", p->loc.loop_id);
        p->set_nwarn_codes++;
    }
}

static void missing_unt(struct efp *p, const char *before)
{
    p->loc.seg_pos = 0;
    ERR(p, OH_EDI_ERROR, "UNT", 0, C(0, 0, 13, 0, 0),
        "UNT missing: %s came before the message's trailer", before);
    close_msg(p);
}

static void close_group(struct efp *p)
{
    struct oh_edi_group_info *g = cur_g(p);
    if (g->group_code || (g->nsets && g->nrejected == g->nsets))
        g->status = OH_EDI_REJECTED;
    else if (g->nrejected)
        g->status = OH_EDI_PARTIAL;
    else if (g->nwarned)
        g->status = OH_EDI_ACCEPTED_ERRORS;
    else
        g->status = OH_EDI_ACCEPTED;
    p->in_group = 0;
    p->loc.group = 0;
    p->loc.gcn[0] = '\0';
}

static void group_err(struct efp *p, const char *ref, int code, const char *msg, const char *a1,
                      const char *a2)
{
    struct oh_edi_group_info *g = cur_g(p);
    if (!g->group_code)
        g->group_code = code;
    ERR(p, OH_EDI_ERROR, ref, 0, C(0, 0, 0, code, 0), msg, a1, a2);
}

static void ichg_err(struct efp *p, const char *ref, int code, const char *msg, const char *a1,
                     const char *a2)
{
    if (p->in_ichg) {
        struct oh_edi_ichg_info *ic = cur_ic(p);
        ic->status = OH_EDI_REJECTED;
        if (!ic->ichg_code)
            ic->ichg_code = code;
    }
    ERR(p, OH_EDI_ERROR, ref, 0, C(0, 0, 0, 0, code), msg, a1, a2);
}

static void missing_trailers(struct efp *p, const char *before, int want_unz)
{
    if (p->in_set)
        missing_unt(p, before);
    if (p->in_group && p->group_explicit) {
        cur_g(p)->declared = -1;
        group_err(p, "UNE", 13, "UNE missing: %s came before the group's trailer%s", before, "");
    }
    if (p->in_group)
        close_group(p);
    if (want_unz && p->in_ichg) {
        ichg_err(p, "UNZ", 13, "UNZ missing: %s came before the interchange's trailer%s", before,
                 "");
        p->in_ichg = 0;
        p->loc.ichg = 0;
        p->loc.icn[0] = '\0';
    }
}

/* ---- envelope segments ---- */

static void seg_unb(struct efp *p)
{
    missing_trailers(p, "UNB", 1);
    struct oh_edi_ichg_info *ic = edi_report_add_ichg(p->r);
    p->in_ichg = 1;
    p->groups = p->msgs = 0;
    p->any_ung = p->any_loose = 0;
    p->utf8_warned = p->lower_warned = 0;
    p->loc.ichg = ic->ordinal;
    p->loc.group = p->loc.set = 0;
    p->loc.gcn[0] = p->loc.scn[0] = '\0';
    vcopy(p, ic->ctrl, sizeof(ic->ctrl), E(p, 5));
    memcpy(p->loc.icn, ic->ctrl, sizeof(p->loc.icn));
    vcopy(p, ic->syntax_id, sizeof(ic->syntax_id), EC(p, 1, 1));
    vcopy(p, ic->version, sizeof(ic->version), EC(p, 1, 2));
    vcopy(p, ic->sender, sizeof(ic->sender), EC(p, 2, 1));
    vcopy(p, ic->sender_q, sizeof(ic->sender_q), EC(p, 2, 2));
    vcopy(p, ic->receiver, sizeof(ic->receiver), EC(p, 3, 1));
    vcopy(p, ic->receiver_q, sizeof(ic->receiver_q), EC(p, 3, 2));
    vcopy(p, ic->date, sizeof(ic->date), EC(p, 4, 1));
    vcopy(p, ic->time, sizeof(ic->time), EC(p, 4, 2));
    vcopy(p, ic->test, sizeof(ic->test), E(p, 11));
    ic->seps.elem = p->es;
    ic->seps.comp = p->cs;
    ic->seps.rep = p->rep;
    ic->seps.rel = p->rel;
    ic->seps.dec = p->dec;
    ic->seps.term[0] = p->term;
    ic->seps.term_len = 1;
    p->charset = 0;
    if (strcmp(ic->syntax_id, "UNOA") == 0)
        p->charset = 'A';
    else if (strcmp(ic->syntax_id, "UNOB") == 0)
        p->charset = 'B';
    else if (strcmp(ic->syntax_id, "UNOC") == 0)
        p->charset = 'C';
    if (!ic->ctrl[0])
        ichg_err(p, "UNB 0020", 13, "UNB 0020 (interchange control reference) is missing%s%s",
                 "", "");
    if (!ic->syntax_id[0])
        ichg_err(p, "UNB 0001", 13, "UNB 0001 (syntax identifier) is missing%s%s", "", "");
    for (size_t k = 0; k + 1 < p->r->nichg; k++)
        if (strcmp(p->r->ichg[k].ctrl, ic->ctrl) == 0) {
            ERR(p, OH_EDI_WARNING, "UNB 0020", 5, C(0, 0, 0, 0, 26),
                "UNB 0020 %s repeats interchange %d of this file (duplicate interchange)",
                ic->ctrl, p->r->ichg[k].ordinal);
            break;
        }
    free(p->unb_txt);
    p->unb_txt = dup_segment(p, &p->unb_n);
}

static void seg_ung(struct efp *p)
{
    if (p->in_set)
        missing_unt(p, "UNG");
    if (p->in_group && p->group_explicit) {
        cur_g(p)->declared = -1;
        group_err(p, "UNE", 13, "UNE missing: %s came before the group's trailer%s", "UNG", "");
    }
    if (p->in_group)
        close_group(p);
    if (p->any_loose)
        ichg_err(p, "UNG", 30, "UNG in an interchange that also has messages outside groups%s%s",
                 "", "");
    p->any_ung = 1;
    struct oh_edi_group_info *g = edi_report_add_group(cur_ic(p));
    p->in_group = 1;
    p->group_explicit = 1;
    p->groups++;
    vcopy(p, g->func, sizeof(g->func), E(p, 1));
    vcopy(p, g->sender, sizeof(g->sender), EC(p, 2, 1));
    vcopy(p, g->receiver, sizeof(g->receiver), EC(p, 3, 1));
    vcopy(p, g->ctrl, sizeof(g->ctrl), E(p, 5));
    vcopy(p, g->version, sizeof(g->version), E(p, 7));
    p->loc.group = g->ordinal;
    memcpy(p->loc.gcn, g->ctrl, sizeof(p->loc.gcn));
    free(p->ung_txt);
    p->ung_txt = dup_segment(p, &p->ung_n);
}

static void seg_une(struct efp *p)
{
    if (p->in_set)
        missing_unt(p, "UNE");
    if (!p->in_group || !p->group_explicit) {
        ichg_err(p, "UNE", 33, "UNE without a UNG%s%s", "", "");
        return;
    }
    struct oh_edi_group_info *g = cur_g(p);
    char v[24], n[16];
    vcopy(p, v, sizeof(v), E(p, 1));
    snprintf(n, sizeof(n), "%d", g->nsets);
    g->declared = edi_is_digits(v, strlen(v)) ? atoi(v) : -1;
    if (g->declared != g->nsets)
        group_err(p, "UNE 0060", 29, "UNE 0060 says %s messages, counted %s", v, n);
    vcopy(p, v, sizeof(v), E(p, 2));
    if (strcmp(v, g->ctrl) != 0)
        group_err(p, "UNE 0048", 28, "UNE 0048 '%s' does not match UNG 0048 '%s'", v, g->ctrl);
    close_group(p);
}

static void seg_unz(struct efp *p)
{
    if (p->in_set)
        missing_unt(p, "UNZ");
    if (p->in_group && p->group_explicit) {
        cur_g(p)->declared = -1;
        group_err(p, "UNE", 13, "UNE missing: %s came before the group's trailer%s", "UNZ", "");
    }
    if (p->in_group)
        close_group(p);
    char v[24], n[16];
    int want = p->any_ung ? p->groups : p->msgs;
    vcopy(p, v, sizeof(v), E(p, 1));
    snprintf(n, sizeof(n), "%d", want);
    if (!edi_is_digits(v, strlen(v)) || atoi(v) != want)
        ichg_err(p, "UNZ 0036", 29, "UNZ 0036 says %s, counted %s", v, n);
    vcopy(p, v, sizeof(v), E(p, 2));
    if (strcmp(v, cur_ic(p)->ctrl) != 0)
        ichg_err(p, "UNZ 0020", 28, "UNZ 0020 '%s' does not match UNB 0020 '%s'", v,
                 cur_ic(p)->ctrl);
    p->in_ichg = 0;
    p->loc.ichg = 0;
    p->loc.icn[0] = '\0';
}

static void seg_unt(struct efp *p)
{
    add_to_msg(p);
    char v[24], n[16];
    vcopy(p, v, sizeof(v), E(p, 1));
    snprintf(n, sizeof(n), "%u", p->set_segs);
    if (!edi_is_digits(v, strlen(v)) || strtoul(v, NULL, 10) != p->set_segs)
        ERR(p, OH_EDI_ERROR, "UNT 0074", 1, C(0, 0, 29, 0, 0), "UNT 0074 says %s segments, counted %s",
            v, n);
    vcopy(p, v, sizeof(v), E(p, 2));
    if (strcmp(v, p->si.ctrl) != 0)
        ERR(p, OH_EDI_ERROR, "UNT 0062", 2, C(0, 0, 28, 0, 0),
            "UNT 0062 '%s' does not match UNH 0062 '%s'", v, p->si.ctrl);
    p->loc.seg_pos = 0;
    close_msg(p);
}

static void dispatch(struct efp *p, size_t off)
{
    const struct edi_slice *id = &p->el[0];
    edi_copy(p->loc.seg_id, sizeof(p->loc.seg_id), id->p, id->n);
    if (el_is(id, "UNB")) {
        p->loc.seg_pos = 0;
        seg_unb(p);
        return;
    }
    if (!p->in_ichg) {
        p->loc.seg_pos = 0;
        ERR(p, OH_EDI_ERROR, "UNB", 0, C(0, 0, 0, 0, 33), "segment %s outside an interchange",
            p->loc.seg_id);
        return;
    }
    if (el_is(id, "UNG")) {
        p->loc.seg_pos = 0;
        seg_ung(p);
    } else if (el_is(id, "UNE")) {
        p->loc.seg_pos = 0;
        seg_une(p);
    } else if (el_is(id, "UNZ")) {
        p->loc.seg_pos = 0;
        seg_unz(p);
    } else if (el_is(id, "UNH")) {
        if (p->in_set)
            missing_unt(p, "UNH");
        open_msg(p, off);
        add_to_msg(p);
        if (!p->si.ctrl[0])
            ERR(p, OH_EDI_ERROR, "UNH 0062", 1, C(0, 13, 13, 0, 0),
                "UNH 0062 (message reference) is missing");
        if (!p->si.id[0])
            ERR(p, OH_EDI_ERROR, "UNH 0065", 2, C(0, 13, 13, 0, 0),
                "UNH 0065 (message type) is missing");
    } else if (el_is(id, "UNT")) {
        if (!p->in_set) {
            p->loc.seg_pos = 0;
            ichg_err(p, "UNT", 33, "UNT without a UNH%s%s", "", "");
            return;
        }
        seg_unt(p);
    } else if (p->in_set) {
        if (!edi_valid_tag(id->p, id->n)) {
            /* counted, reported, left out of the tree */
            p->set_segs++;
            p->loc.seg_pos = p->set_segs;
            ERR(p, OH_EDI_ERROR, "", 0, C(14, 0, 0, 0, 0), "'%.*s' is not a segment tag",
                (int)(id->n > 8 ? 8 : id->n), id->p);
            return;
        }
        add_to_msg(p);
    } else {
        p->loc.seg_pos = 0;
        ichg_err(p, "", 33, "segment %s outside a message%s", p->loc.seg_id, "");
    }
}

/* Finds the terminator from s, skipping released ones. */
static const char *find_term(const struct efp *p, const char *s, const char *end)
{
    while (s < end) {
        const char *t = memchr(s, p->term, (size_t)(end - s));
        if (!t)
            return NULL;
        size_t nrel = 0;
        for (const char *q = t; q > s && q[-1] == p->rel; q--)
            nrel++;
        if (!p->rel || nrel % 2 == 0)
            return t;
        s = t + 1;
    }
    return NULL;
}

static int is_crlf(char c)
{
    return c == '\r' || c == '\n';
}

static int run(struct efp *p)
{
    const char *d = p->d;
    while (p->pos < p->len && !p->stop) {
        while (p->pos < p->len &&
               (is_crlf(d[p->pos]) || d[p->pos] == ' ' || d[p->pos] == '\t'))
            p->pos++;
        if (p->pos >= p->len)
            break;
        size_t start = p->pos;
        const char *e = find_term(p, d + start, d + p->len);
        size_t end = e ? (size_t)(e - d) : p->len;
        p->pos = e ? end + 1 : p->len;
        const char *s = d + start;
        size_t n = end - start;
        if (p->term != '\n' && p->term != '\r' && (memchr(s, '\n', n) || memchr(s, '\r', n))) {
            if (n > p->cap) {
                free(p->buf);
                p->cap = n < 4096 ? 4096 : n;
                if (!(p->buf = malloc(p->cap)))
                    abort();
            }
            size_t m = 0;
            for (size_t k = 0; k < n; k++)
                if (!is_crlf(s[k]))
                    p->buf[m++] = s[k];
            s = p->buf;
            n = m;
        }
        if (!n)
            continue;
        if (!e) {
            size_t nrel = 0;
            while (nrel < n && s[n - 1 - nrel] == p->rel)
                nrel++;
            p->loc.seg_pos = p->in_set ? p->set_segs + 1 : 0;
            edi_copy(p->loc.seg_id, sizeof(p->loc.seg_id), s, n < 3 ? n : 3);
            if (p->rel && (nrel % 2 == 1 || memchr(d + start, p->term, p->len - start)))
                ERR(p, OH_EDI_ERROR, "UNA", 0, C(0, 0, 0, 0, 22),
                    "release character '%c' at the end of the file escapes the last terminator "
                    "or nothing",
                    p->rel);
            else
                ERR(p, OH_EDI_ERROR, "", 0, C(0, 0, 0, 0, 13),
                    "the last segment has no terminator '%c'", p->term);
            if (nrel % 2 == 1)
                n--; /* a dangling release escapes nothing */
        }
        if (n > p->max_seg) {
            ERR(p, OH_EDI_ERROR, "", 0, C(0, 0, 0, 0, 18), "segment of %zu bytes is over the limit",
                n);
            continue;
        }
        p->nel = split_rel(s, n, p->es, p->rel, p->el, EDI_MAX_ELEMS);
        if (p->nel > EDI_MAX_ELEMS) {
            ERR(p, OH_EDI_ERROR, "", 0, C(16, 0, 0, 0, 0), "segment with %zu elements is over the limit",
                p->nel);
            p->nel = EDI_MAX_ELEMS;
        }
        dispatch(p, start);
    }
    if (!p->stop) {
        p->loc.seg_id[0] = '\0';
        p->loc.seg_pos = 0;
        missing_trailers(p, "the end of the file", 1);
    }
    return p->stop;
}

int oh_edifact_parse(const char *data, size_t len, const struct oh_edi_parse_opts *o,
                     struct oh_arena *a, oh_edi_set_cb cb, void *ud,
                     struct oh_edi_report **out, struct oh_err *err)
{
    static const struct oh_edi_parse_opts defaults;
    struct efp p;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    if (out)
        *out = NULL;
    p.o = o ? o : &defaults;
    p.max_err = p.o->max_errors ? p.o->max_errors : 10000;
    p.max_seg = p.o->max_segment ? p.o->max_segment : (1u << 20);
    p.a = a;
    p.cb = cb;
    p.ud = ud;
    p.d = data;
    p.len = len;
    p.loc.syntax = OH_EDI_EDIFACT;
    edi_rcache_init(&p.rules, OH_EDI_EDIFACT);
    p.cs = ':';
    p.es = '+';
    p.dec = '.';
    p.rel = '?';
    p.term = '\'';
    if (!a && !p.o->no_tree)
        return oh_err_set(err, OH_EINVAL, "edifact: an arena is needed to build trees");
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    while (p.pos < len && isspace((unsigned char)data[p.pos]))
        p.pos++;
    if (len - p.pos >= 9 && memcmp(data + p.pos, "UNA", 3) == 0) {
        const char *u = data + p.pos + 3;
        p.cs = u[0];
        p.es = u[1];
        p.dec = u[2];
        p.rel = u[3] == ' ' ? 0 : u[3];
        p.rep = u[4] == ' ' ? 0 : u[4];
        p.term = u[5];
        p.has_una = 1;
        p.pos += 9;
        if (p.cs == p.es || p.cs == p.term || p.es == p.term || isalnum((unsigned char)p.cs) ||
            isalnum((unsigned char)p.es) || isalnum((unsigned char)p.term) ||
            (p.rel && (p.rel == p.es || p.rel == p.cs || p.rel == p.term))) {
            rc = oh_err_set(err, OH_EINVAL, "edifact: UNA separators '%.6s' are not usable", u);
            goto done;
        }
        while (p.pos < len && isspace((unsigned char)data[p.pos]))
            p.pos++;
    }
    if (len - p.pos < 4 || memcmp(data + p.pos, "UNB", 3) != 0 || data[p.pos + 3] != p.es) {
        rc = oh_err_set(err, OH_EINVAL, "edifact: no UNB interchange header at the start");
        goto done;
    }
    p.r = edi_report_new(OH_EDI_EDIFACT);
    rc = run(&p);
    if (rc < 0)
        oh_err_set(err, rc, "edifact: stopped by the message handler");
    /* syntax version 4 repetition needs UNA; a v4 interchange keeps its
     * data whole otherwise (see the file comment) */
done:
    free(p.buf);
    free(p.unb_txt);
    free(p.ung_txt);
    if (out && p.r)
        *out = p.r;
    else
        oh_edi_report_free(p.r);
    return rc;
}

static int keep_cb(void *ud, struct oh_node *set, const struct oh_edi_set_info *info,
                   struct oh_arena *a)
{
    (void)info;
    (void)a;
    if (set)
        oh_node_append(ud, set);
    return 0;
}

int oh_edifact_decode_tree(struct oh_arena *a, const char *data, size_t len,
                           struct oh_node **root, struct oh_edi_report **rep, struct oh_err *err)
{
    struct oh_edi_parse_opts o = {.keep_sets = 1};
    struct oh_node *r = oh_node_new(a, OH_NODE_ARRAY);
    int rc;
    *root = NULL;
    if (!r)
        return oh_err_set(err, OH_ETOOBIG, "edifact: over the memory limit");
    if ((rc = oh_edifact_parse(data, len, &o, a, keep_cb, r, rep, err)) < 0)
        return rc;
    *root = r;
    return 0;
}
