/*
 * x12.c — ASC X12 reader: tokenizer, envelope validation, document tree.
 *
 * One pass over the buffer. Separators come from each ISA (fixed 106
 * characters): element separator at index 3, ISA11 repetition separator
 * (00402 and later), ISA16 component separator, then the segment terminator,
 * which may be several bytes (UTF-8 '…') or a newline. CR and LF that are not
 * the terminator are ignored anywhere, even inside an element, so hard-wrapped
 * files parse. Interchanges, groups and sets are checked as they close:
 * SE01/SE02, GE01/GE02, IEA01/IEA02, ISA element widths, and missing or
 * stray envelope segments; every problem is collected in the report.
 *
 * Speed: segment ends and line breaks are found with memchr (the next line
 * break is remembered, so a file with one segment per line is searched for
 * them once), elements are split a word at a time, envelope segments are
 * told apart by their id as one integer, element rules are looked up in a
 * per-parse cache and loop tables are compiled (edi_common.c). Elements are
 * slices of the input until a tree needs them.
 *
 * Promises: never reads outside [data, data+len); memory grows only with the
 * current set's tree (arena), the longest segment (bounded by
 * max_segment) and the report; when the callback resets the arena between
 * sets, memory stays bounded for any input size (report with keep_sets = 0).
 */
#include "edi_int.h"

#include "arena.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* What is known about one byte value ahead: none in [from, lim) and, when
 * found, d[lim] is one (from only grows; segments come in order). */
struct look {
    size_t lim;
    int found;
};

struct x12p {
    const char *d;
    size_t len, pos;
    const struct oh_edi_parse_opts *o;
    size_t max_err, max_seg;
    struct oh_arena *a;
    oh_edi_set_cb cb;
    void *ud;
    struct oh_edi_report *r;
    struct edi_loc loc;
    int stop; /* callback's negative code */

    char es, cs, rs;
    char term[5];
    size_t tlen;
    int crlf_ign; /* the terminator is not a line break */
    char strip1, strip2; /* line-break bytes that are not the terminator */

    char *buf;
    size_t cap;
    struct look cr, lf; /* where the next '\r' / '\n' is */
    struct edi_slice el[EDI_MAX_ELEMS];
    size_t nel;
    uint32_t tag; /* el[0] as edi_tag_code */
    struct edi_rcache rules;
    const char *loop_shown; /* the trigger last copied into loc.loop_id */

    int in_ichg, in_group, in_set, skip_to_group;
    char *isa_txt, *gs_txt;
    size_t isa_n, gs_n, gs_cap;
    int groups;           /* GS seen in this interchange */
    uint32_t set_segs;    /* segments in the current set */
    char st02[16];

    struct oh_node *set;
    struct edi_tree tree;
    struct oh_edi_set_info si;
    size_t set_nerr0, set_nerrors0, set_nwarn_codes;
};

static struct oh_edi_ichg_info *cur_ic(struct x12p *p)
{
    return &p->r->ichg[p->r->nichg - 1];
}

static struct oh_edi_group_info *cur_g(struct x12p *p)
{
    struct oh_edi_ichg_info *ic = cur_ic(p);
    return &ic->groups[ic->ngroups - 1];
}

#define ERR(p, sev, ref, elem, codes, ...) \
    edi_err_add((p)->r, (p)->max_err, &(p)->loc, sev, ref, elem, 0, codes, __VA_ARGS__)

static struct edi_codes C(int seg, int elem, int set, int group, int ichg)
{
    struct edi_codes c = {seg, elem, set, group, ichg};
    return c;
}

/* Element i of the current segment, or an empty slice. */
static struct edi_slice E(const struct x12p *p, size_t i)
{
    struct edi_slice s = {"", 0};
    if (i < p->nel)
        s = p->el[i];
    return s;
}

static void trimcopy(char *dst, size_t cap, struct edi_slice s)
{
    while (s.n && s.p[s.n - 1] == ' ')
        s.n--;
    edi_copy(dst, cap, s.p, s.n);
}

static size_t split(const char *s, size_t n, char sep, struct edi_slice *el, size_t max)
{
    return edi_split(s, n, sep, el, max);
}

/* Control numbers of type N0 (GS06, ISA13) are numbers: "3438" names the
 * same interchange as "000003438". 1 equal text, 2 equal number, 0 differ. */
static int ctrl_eq(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    if (!edi_is_digits(a, strlen(a)) || !edi_is_digits(b, strlen(b)))
        return 0;
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    return strcmp(a, b) == 0 ? 2 : 0;
}

/* ---- sets ---- */

/* "%d" of a non-negative ordinal (snprintf costs more than the rest of a
 * small set's envelope); a negative one goes through snprintf. */
static size_t utoa(char buf[12], int v)
{
    char t[12];
    size_t n = 0, k = 0;
    if (v < 0)
        return (size_t)snprintf(buf, 12, "%d", v);
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof(t));
    while (n)
        buf[k++] = t[--n];
    buf[k] = '\0';
    return k;
}

static struct oh_node *envelope_node(struct x12p *p)
{
    struct oh_arena *a = p->a;
    struct edi_slice el[40];
    int flags = 0;
    struct oh_node *env = oh_node_new(a, OH_NODE_OBJECT);
    if (!env || oh_node_set_key(a, env, "_envelope", 9) < 0)
        return NULL;
    char o1[12], o2[12];
    size_t n1 = utoa(o1, p->loc.ichg), n2 = utoa(o2, p->loc.group);
    if (!oh_node_add(a, env, "interchange", OH_NODE_STRING, o1, n1) ||
        !oh_node_add(a, env, "group", OH_NODE_STRING, o2, n2))
        return NULL;
    size_t n = split(p->isa_txt, p->isa_n, p->es, el, 40);
    uint64_t skip = (1u << 16) | (p->rs ? (1u << 11) : 0);
    struct oh_node *isa = edi_seg_node(a, el, n < 40 ? n : 40, 0, 0, 0, skip, 1, &flags);
    if (!isa)
        return NULL;
    oh_node_append(env, isa);
    n = split(p->gs_txt, p->gs_n, p->es, el, 40);
    struct oh_node *gs = edi_seg_node(a, el, n < 40 ? n : 40, p->cs, p->rs, 0, 0, 2, &flags);
    if (!gs)
        return NULL;
    oh_node_append(env, gs);
    return env;
}

static void open_set(struct x12p *p, size_t offset)
{
    struct oh_edi_group_info *g = cur_g(p);
    p->in_set = 1;
    p->loc.set = g->nsets + 1;
    trimcopy(p->loc.scn, sizeof(p->loc.scn), E(p, 2));
    memcpy(p->st02, p->loc.scn, sizeof(p->st02));
    p->set_segs = 0;
    memset(&p->si, 0, sizeof(p->si));
    p->si.interchange = p->loc.ichg;
    p->si.group = p->loc.group;
    p->si.set = p->loc.set;
    p->si.offset = offset;
    trimcopy(p->si.id, sizeof(p->si.id), E(p, 1));
    memcpy(p->si.ctrl, p->loc.scn, sizeof(p->si.ctrl));
    trimcopy(p->si.impl, sizeof(p->si.impl), E(p, 3));
    p->set_nerr0 = p->r->nerr;
    p->set_nerrors0 = p->r->nerrors;
    p->set_nwarn_codes = 0;
    p->set = NULL;
    if (!p->o->no_tree) {
        p->set = oh_node_new(p->a, OH_NODE_OBJECT);
        struct oh_node *env = p->set ? envelope_node(p) : NULL;
        if (env)
            oh_node_append(p->set, env);
        edi_tree_init(&p->tree, p->a, edi_schema_find(OH_EDI_X12, p->si.id), p->set);
    }
}

static void close_set(struct x12p *p)
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
    p->loop_shown = NULL;
}

static void check_rules(struct x12p *p)
{
    size_t nr;
    unsigned maxel;
    const struct edi_elemrule *r = edi_rules_cached(&p->rules, p->el[0].p, p->el[0].n, &nr,
                                                    &maxel);
    for (const struct edi_elemrule *end = r ? r + nr : r; r != end; r++) {
        struct edi_slice v = E(p, r->elem);
        int bad = edi_rule_check(r, v.p, v.n, 0);
        if (!bad)
            continue;
        char ref[16];
        snprintf(ref, sizeof(ref), "%s%02u", r->seg, r->elem % 100);
        ERR(p, OH_EDI_ERROR, ref, (int)r->elem, C(8, bad == 1 ? 5 : 6, 5, 0, 0),
            "%s '%.*s' is %s", ref, (int)(v.n > 40 ? 40 : v.n), v.p,
            bad == 1 ? "too long" : "not a number");
    }
}

static void add_to_set(struct x12p *p)
{
    p->set_segs++;
    p->loc.seg_pos = p->set_segs;
    if (!p->set) {
        check_rules(p);
        return;
    }
    int flags = 0;
    struct oh_node *seg =
        edi_seg_node(p->a, p->el, p->nel, p->cs, p->rs, 0, 0, p->set_segs, &flags);
    if (!seg) {
        ERR(p, OH_EDI_ERROR, "", 0, C(0, 0, 5, 0, 0), "document over the memory limit");
        return;
    }
    char hl[16] = "", parent[16] = "";
    int is_hl = p->tag == EDI_TAG2('H', 'L');
    if (is_hl) {
        trimcopy(hl, sizeof(hl), E(p, 1));
        trimcopy(parent, sizeof(parent), E(p, 2));
    }
    int rc = edi_tree_add(&p->tree, seg, seg->key, hl, parent);
    const char *lp = edi_tree_loop(&p->tree);
    if (lp != p->loop_shown) {
        edi_copy(p->loc.loop_id, sizeof(p->loc.loop_id), lp, strlen(lp));
        p->loop_shown = lp;
    }
    check_rules(p);
    if (rc == 2 && is_hl) {
        ERR(p, OH_EDI_WARNING, "HL02", 2, C(2, 0, 5, 0, 0),
            "HL02 names parent %s, which is not an open HL level; nested at the top", parent);
        p->set_nwarn_codes++;
    } else if (rc) {
        ERR(p, OH_EDI_WARNING, "", 0, C(rc, 0, 5, 0, 0),
            "segment %s is %s; kept in order%s%s", seg->key,
            rc == 2 ? "not expected here" : "not in this set's loop table",
            p->loc.loop_id[0] ? " in loop " : " at the set level", p->loc.loop_id);
        p->set_nwarn_codes++;
    }
}

static void end_set(struct x12p *p)
{
    /* SE is the current segment. */
    add_to_set(p);
    struct edi_slice se1 = E(p, 1), se2 = E(p, 2);
    char v[24];
    trimcopy(v, sizeof(v), se1);
    if (!edi_is_digits(se1.p, se1.n))
        ERR(p, OH_EDI_ERROR, "SE01", 1, C(0, 0, 4, 0, 0),
            "SE01 '%s' is not a segment count; counted %u", v, p->set_segs);
    else if (strtoul(v, NULL, 10) != p->set_segs)
        ERR(p, OH_EDI_ERROR, "SE01", 1, C(0, 0, 4, 0, 0), "SE01 says %s segments, counted %u",
            v, p->set_segs);
    trimcopy(v, sizeof(v), se2);
    if (strcmp(v, p->st02) != 0)
        ERR(p, OH_EDI_ERROR, "SE02", 2, C(0, 0, 3, 0, 0), "SE02 '%s' does not match ST02 '%s'",
            v, p->st02);
    p->loc.seg_pos = 0;
    close_set(p);
}

static void missing_se(struct x12p *p, const char *before)
{
    p->loc.seg_pos = 0;
    ERR(p, OH_EDI_ERROR, "SE", 0, C(0, 0, 2, 0, 0), "SE missing: %s came before the set's trailer",
        before);
    close_set(p);
}

/* ---- groups and interchanges ---- */

static void close_group(struct x12p *p, int trailer_ok)
{
    struct oh_edi_group_info *g = cur_g(p);
    if (g->group_code)
        g->status = OH_EDI_REJECTED;
    else if (g->nsets && g->nrejected == g->nsets)
        g->status = OH_EDI_REJECTED;
    else if (g->nrejected)
        g->status = OH_EDI_PARTIAL;
    else if (g->nwarned)
        g->status = OH_EDI_ACCEPTED_ERRORS;
    else
        g->status = OH_EDI_ACCEPTED;
    (void)trailer_ok;
    p->in_group = 0;
    p->loc.group = 0;
    p->loc.gcn[0] = '\0';
}

static void group_err(struct x12p *p, const char *ref, int code, const char *fmt, const char *a1,
                      const char *a2)
{
    struct oh_edi_group_info *g = cur_g(p);
    if (!g->group_code)
        g->group_code = code;
    ERR(p, OH_EDI_ERROR, ref, 0, C(0, 0, 0, code, 0), fmt, a1, a2);
}

static void ichg_err(struct x12p *p, const char *ref, int code, const char *fmt, const char *a1,
                     const char *a2)
{
    if (p->in_ichg) {
        struct oh_edi_ichg_info *ic = cur_ic(p);
        ic->status = OH_EDI_REJECTED;
        if (!ic->ichg_code)
            ic->ichg_code = code;
    }
    ERR(p, OH_EDI_ERROR, ref, 0, C(0, 0, 0, 0, code), fmt, a1, a2);
}

static void close_ichg(struct x12p *p)
{
    p->in_ichg = 0;
    p->loc.ichg = 0;
    p->loc.icn[0] = '\0';
}

static void missing_trailers(struct x12p *p, const char *before, int want_iea)
{
    if (p->in_set)
        missing_se(p, before);
    if (p->in_group) {
        struct oh_edi_group_info *g = cur_g(p);
        g->declared = -1;
        group_err(p, "GE", 3, "GE missing: %s came before the group's trailer%s", before, "");
        close_group(p, 0);
    }
    if (want_iea && p->in_ichg) {
        ichg_err(p, "IEA", 23, "IEA missing: %s came before the interchange's trailer%s", before,
                 "");
        close_ichg(p);
    }
}

static void seg_gs(struct x12p *p)
{
    missing_trailers(p, "GS", 0);
    struct oh_edi_ichg_info *ic = cur_ic(p);
    struct edi_slice gs06 = E(p, 6);
    char ctrl[16];
    int dup = 0;
    trimcopy(ctrl, sizeof(ctrl), gs06);
    for (size_t i = 0; i < ic->ngroups; i++)
        if (strcmp(ic->groups[i].ctrl, ctrl) == 0)
            dup = 1;
    struct oh_edi_group_info *g = edi_report_add_group(ic);
    trimcopy(g->func, sizeof(g->func), E(p, 1));
    trimcopy(g->sender, sizeof(g->sender), E(p, 2));
    trimcopy(g->receiver, sizeof(g->receiver), E(p, 3));
    memcpy(g->ctrl, ctrl, sizeof(g->ctrl));
    trimcopy(g->version, sizeof(g->version), E(p, 8));
    p->in_group = 1;
    p->groups++;
    p->loc.group = g->ordinal;
    memcpy(p->loc.gcn, ctrl, sizeof(p->loc.gcn));
    if (dup)
        group_err(p, "GS06", 19, "GS06 %s is used by an earlier group of this interchange%s",
                  ctrl, "");
    if (!edi_is_digits(gs06.p, gs06.n) || gs06.n > 9)
        group_err(p, "GS06", 6, "GS06 '%s' is not a 1-9 digit control number%s", ctrl, "");
    /* the GS text is kept to be copied into each set's _envelope */
    size_t n = (size_t)(p->el[p->nel - 1].p + p->el[p->nel - 1].n - p->el[0].p);
    if (n + 1 > p->gs_cap) {
        free(p->gs_txt);
        p->gs_cap = n + 1;
        if (!(p->gs_txt = malloc(p->gs_cap)))
            abort();
    }
    memcpy(p->gs_txt, p->el[0].p, n);
    p->gs_n = n;
}

static void seg_ge(struct x12p *p)
{
    if (p->in_set)
        missing_se(p, "GE");
    if (!p->in_group) {
        ichg_err(p, "GE", 24, "GE without a GS%s%s", "", "");
        return;
    }
    struct oh_edi_group_info *g = cur_g(p);
    char v[24], n[16];
    trimcopy(v, sizeof(v), E(p, 1));
    snprintf(n, sizeof(n), "%d", g->nsets);
    g->declared = edi_is_digits(v, strlen(v)) ? atoi(v) : -1;
    if (g->declared != g->nsets)
        group_err(p, "GE01", 5, "GE01 says %s sets, counted %s", v, n);
    trimcopy(v, sizeof(v), E(p, 2));
    int eq = ctrl_eq(v, g->ctrl);
    if (!eq)
        group_err(p, "GE02", 4, "GE02 '%s' does not match GS06 '%s'", v, g->ctrl);
    else if (eq == 2)
        ERR(p, OH_EDI_WARNING, "GE02", 2, C(0, 0, 0, 0, 0),
            "GE02 '%s' is GS06 '%s' written differently", v, g->ctrl);
    close_group(p, 1);
}

static void seg_iea(struct x12p *p)
{
    missing_trailers(p, "IEA", 0);
    char v[24], n[16];
    trimcopy(v, sizeof(v), E(p, 1));
    snprintf(n, sizeof(n), "%d", p->groups);
    if (!edi_is_digits(v, strlen(v)) || atoi(v) != p->groups)
        ichg_err(p, "IEA01", 21, "IEA01 says %s groups, counted %s", v, n);
    trimcopy(v, sizeof(v), E(p, 2));
    int eq = ctrl_eq(v, cur_ic(p)->ctrl);
    if (!eq)
        ichg_err(p, "IEA02", 1, "IEA02 '%s' does not match ISA13 '%s'", v, cur_ic(p)->ctrl);
    else if (eq == 2)
        ERR(p, OH_EDI_WARNING, "IEA02", 2, C(0, 0, 0, 0, 0),
            "IEA02 '%s' is ISA13 '%s' without its leading zeros (IEA02 is 9 digits)", v,
            cur_ic(p)->ctrl);
    close_ichg(p);
}

/* ---- ISA ---- */

static const int isa_width[17] = {0, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1};
static const int isa_ta1[17] = {0, 10, 11, 12, 13, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 27};

static int is_crlf(char c)
{
    return c == '\r' || c == '\n';
}

static size_t utf8_len(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* Reads the ISA at p->pos; on success sets separators and opens the
 * interchange. Returns -1 when the rest of the file cannot be read. */
static int parse_isa(struct x12p *p)
{
    char isa[160];
    size_t n = 0, i = p->pos;
    int seps = 0;

    missing_trailers(p, "ISA", 1);
    /* ISA..ISA16 without CR/LF: count element separators, then one char */
    while (i < p->len && n < sizeof(isa) - 2) {
        char c = p->d[i++];
        if (is_crlf(c))
            continue;
        isa[n++] = c;
        if (n == 4 && (isalnum((unsigned char)c) || c == ' ')) {
            ERR(p, OH_EDI_ERROR, "ISA", 0, C(0, 0, 0, 0, 26),
                "ISA element separator '%c' is a data character; cannot read the interchange", c);
            return -1;
        }
        if (n > 4 && c == isa[3] && ++seps == 16)
            break;
        if (n == 4)
            seps = 1;
    }
    /* ISA16 */
    while (i < p->len && is_crlf(p->d[i]))
        i++;
    if (seps == 16 && i < p->len)
        isa[n++] = p->d[i++];
    if (seps < 16 && n >= sizeof(isa) - 2) {
        p->loc.ichg = (int)p->r->nichg + 1;
        p->loc.icn[0] = '\0';
        ERR(p, OH_EDI_ERROR, "ISA", 0, C(0, 0, 0, 0, 22),
            "ISA has no 16 elements within %zu characters; cannot read the interchange", n);
        return -1;
    }
    if (seps < 16 || n < 4 || i >= p->len) {
        p->loc.ichg = (int)p->r->nichg + 1;
        p->loc.icn[0] = '\0';
        ERR(p, OH_EDI_ERROR, "ISA", 0, C(0, 0, 0, 0, 23),
            "ISA truncated: %zu of its 106 characters before the end of the file", n);
        return -1;
    }
    isa[n] = '\0';
    struct edi_slice el[20];
    size_t nel = split(isa, n, isa[3], el, 20);

    /* terminator */
    size_t tpos = i;
    char t[5] = {0};
    size_t tl;
    if (is_crlf(p->d[i])) {
        size_t j = i;
        while (j < p->len && is_crlf(p->d[j]))
            j++;
        if (j < p->len && !isalnum((unsigned char)p->d[j])) {
            tpos = j; /* wrapped: the terminator follows the line break */
            t[0] = p->d[j];
            tl = 1;
        } else if (p->d[i] == '\r' && i + 1 < p->len && p->d[i + 1] == '\n') {
            t[0] = '\n';
            tl = 1;
            tpos = i + 1;
        } else {
            t[0] = p->d[i];
            tl = 1;
        }
    } else {
        tl = utf8_len((unsigned char)p->d[i]);
        if (i + tl > p->len)
            tl = 1;
        memcpy(t, p->d + i, tl);
    }
    if (tl == 1 && (t[0] == isa[3] || isalnum((unsigned char)t[0]))) {
        ERR(p, OH_EDI_ERROR, "ISA", 0, C(0, 0, 0, 0, 4),
            "segment terminator '%c' after ISA16 is not usable", t[0]);
        return -1;
    }

    struct oh_edi_ichg_info *ic = edi_report_add_ichg(p->r);
    p->in_ichg = 1;
    p->groups = 0;
    p->loc.ichg = ic->ordinal;
    p->loc.group = p->loc.set = 0;
    p->loc.gcn[0] = p->loc.scn[0] = '\0';
    p->loc.seg_pos = 0;
    edi_copy(p->loc.seg_id, sizeof(p->loc.seg_id), "ISA", 3);
    trimcopy(ic->ctrl, sizeof(ic->ctrl), el[13]);
    memcpy(p->loc.icn, ic->ctrl, sizeof(p->loc.icn));
    trimcopy(ic->sender_q, sizeof(ic->sender_q), el[5]);
    trimcopy(ic->sender, sizeof(ic->sender), el[6]);
    trimcopy(ic->receiver_q, sizeof(ic->receiver_q), el[7]);
    trimcopy(ic->receiver, sizeof(ic->receiver), el[8]);
    trimcopy(ic->date, sizeof(ic->date), el[9]);
    trimcopy(ic->time, sizeof(ic->time), el[10]);
    trimcopy(ic->version, sizeof(ic->version), el[12]);
    trimcopy(ic->test, sizeof(ic->test), el[15]);

    for (int k = 1; k <= 16 && (size_t)k < nel; k++) {
        if (el[k].n != (size_t)isa_width[k]) {
            char ref[16];
            snprintf(ref, sizeof(ref), "ISA%02d", k);
            ichg_err(p, ref, isa_ta1[k], "%s is %s characters wide, must be fixed width", ref,
                     k == 16 ? "not 1" : (el[k].n < (size_t)isa_width[k] ? "too few" : "too many"));
        }
    }
    if (!edi_is_digits(el[13].p, el[13].n))
        ichg_err(p, "ISA13", 18, "ISA13 '%s' is not a 9-digit control number%s", ic->ctrl, "");
    for (size_t k = 0; k + 1 < p->r->nichg; k++)
        if (strcmp(p->r->ichg[k].ctrl, ic->ctrl) == 0) {
            ERR(p, OH_EDI_WARNING, "ISA13", 13, C(0, 0, 0, 0, 25),
                "ISA13 %s repeats interchange %d of this file (duplicate interchange)", ic->ctrl,
                p->r->ichg[k].ordinal);
            break;
        }

    p->es = isa[3];
    p->cs = el[16].n ? el[16].p[0] : 0;
    p->rs = 0;
    if (strcmp(ic->version, "00402") >= 0 && el[11].n == 1) {
        char r = el[11].p[0];
        if (r == 'U')
            ; /* the pre-00402 standards identifier, left in place: no repetition */
        else if (isalnum((unsigned char)r) || strchr(" .-/,&()'#", r))
            ERR(p, OH_EDI_WARNING, "ISA11", 11, C(0, 0, 0, 0, 0),
                "ISA11 repetition separator '%c' is a character ordinary data uses; repeated "
                "elements are not split on it",
                r);
        else if (r != p->es && r != p->cs)
            p->rs = r;
    }
    memcpy(p->term, t, sizeof(p->term));
    p->tlen = tl;
    p->crlf_ign = !(tl == 1 && is_crlf(t[0]));
    p->strip1 = (tl == 1 && t[0] == '\r') ? 0 : '\r';
    p->strip2 = (tl == 1 && t[0] == '\n') ? 0 : '\n';
    ic->seps.elem = p->es;
    ic->seps.comp = p->cs;
    ic->seps.rep = p->rs;
    memcpy(ic->seps.term, t, sizeof(ic->seps.term));
    ic->seps.term_len = tl;
    ic->seps.newline = p->crlf_ign && tpos + tl < p->len && is_crlf(p->d[tpos + tl]);

    free(p->isa_txt);
    if (!(p->isa_txt = malloc(n + 1)))
        abort();
    memcpy(p->isa_txt, isa, n + 1);
    p->isa_n = n;
    p->pos = tpos + tl;
    return 0;
}

/* ---- segments ---- */

static const char *find_term(struct x12p *p, const char *s, const char *end)
{
    if (p->tlen == 1)
        return memchr(s, p->term[0], (size_t)(end - s));
    return memmem(s, (size_t)(end - s), p->term, p->tlen);
}

/* Whether c occurs in d[start, end). The search looks up to 64 KiB ahead and
 * remembers what it saw, so each byte is searched for c about once (and no
 * page far ahead of the parser is touched). */
static int has_byte(const struct x12p *p, struct look *k, char c, size_t start, size_t end)
{
    if (start <= k->lim && (end <= k->lim || k->found))
        return k->found && k->lim < end;
    size_t from = start > k->lim ? start : k->lim;
    size_t to = from + (64u << 10);
    if (to < end)
        to = end;
    if (to > p->len)
        to = p->len;
    const char *q = memchr(p->d + from, c, to - from);
    k->lim = q ? (size_t)(q - p->d) : to;
    k->found = q != NULL;
    return k->found && k->lim < end;
}

static void dispatch(struct x12p *p, size_t seg_off)
{
    const struct edi_slice *id = &p->el[0];
    edi_copy(p->loc.seg_id, sizeof(p->loc.seg_id), id->p, id->n);
    p->tag = edi_tag_code(id->p, id->n);

    if (p->tag == EDI_TAG2('G', 'S')) {
        p->loc.seg_pos = 0;
        seg_gs(p);
        p->skip_to_group = 0;
        return;
    }
    if (p->tag == EDI_TAG2('G', 'E')) {
        p->loc.seg_pos = 0;
        seg_ge(p);
        p->skip_to_group = 0;
        return;
    }
    if (p->tag == EDI_TAG3('I', 'E', 'A')) {
        p->loc.seg_pos = 0;
        seg_iea(p);
        p->skip_to_group = 0;
        return;
    }
    if (p->tag == EDI_TAG2('S', 'T')) {
        if (p->in_set)
            missing_se(p, "ST");
        if (!p->in_group) {
            if (!p->skip_to_group)
                ichg_err(p, "ST", 24, "ST outside a functional group (no GS)%s%s", "", "");
            p->skip_to_group = 1;
            return;
        }
        open_set(p, seg_off);
        struct edi_slice st1 = E(p, 1), st2 = E(p, 2);
        add_to_set(p);
        if (st1.n != 3 || !edi_is_digits(st1.p, st1.n))
            ERR(p, OH_EDI_ERROR, "ST01", 1, C(0, 7, 6, 0, 0), "ST01 '%s' is not a transaction set id",
                p->si.id);
        if (st2.n < 4 || st2.n > 9)
            ERR(p, OH_EDI_ERROR, "ST02", 2, C(0, st2.n ? 4 : 1, 7, 0, 0),
                "ST02 '%s' must be 4 to 9 characters", p->st02);
        return;
    }
    if (p->tag == EDI_TAG2('S', 'E')) {
        if (!p->in_set) {
            p->loc.seg_pos = 0;
            if (!p->skip_to_group)
                ichg_err(p, "SE", 24, "SE without an ST%s%s", "", "");
            return;
        }
        end_set(p);
        return;
    }
    if (p->in_set) {
        if (!edi_valid_tag(id->p, id->n)) {
            /* counted, reported, left out of the tree */
            p->set_segs++;
            p->loc.seg_pos = p->set_segs;
            ERR(p, OH_EDI_ERROR, "", 0, C(1, 0, 5, 0, 0), "'%.*s' is not a segment id",
                (int)(id->n > 8 ? 8 : id->n), id->p);
            return;
        }
        add_to_set(p);
        return;
    }
    if (p->skip_to_group)
        return;
    p->loc.seg_pos = 0;
    ichg_err(p, "", 24, "segment %s outside a transaction set", p->loc.seg_id, "");
}

static int is_envelope(uint32_t tag)
{
    return tag == EDI_TAG2('G', 'S') || tag == EDI_TAG2('G', 'E') ||
           tag == EDI_TAG3('I', 'E', 'A') || tag == EDI_TAG2('S', 'T') ||
           tag == EDI_TAG2('S', 'E');
}

/* Validation only (no tree), inside a set: a segment other than the
 * envelope's is read for its id and the elements its rules check, nothing
 * else. Its element count needs no check: under EDI_MAX_ELEMS bytes it
 * cannot have more elements. 0 when the segment needs the full split. */
static int lazy_split(struct x12p *p, const char *s, size_t n)
{
    size_t tl = 0;
    while (tl < n && tl < 4 && s[tl] != p->es)
        tl++;
    if (tl == 4) {
        const char *q = memchr(s + 4, p->es, n - 4);
        tl = q ? (size_t)(q - s) : n;
    }
    uint32_t tag = edi_tag_code(s, tl);
    if (is_envelope(tag))
        return 0;
    size_t nr;
    unsigned maxel;
    (void)edi_rules_cached(&p->rules, s, tl, &nr, &maxel);
    size_t want = nr ? (maxel + 1 < EDI_MAX_ELEMS ? maxel + 1 : EDI_MAX_ELEMS) : 1;
    if (want == 1) {
        p->el[0].p = s;
        p->el[0].n = tl;
        p->nel = 1;
    } else {
        p->nel = edi_split_upto(s, n, p->es, p->el, want);
    }
    return 1;
}

static int run(struct x12p *p)
{
    while (p->pos < p->len && !p->stop) {
        const char *d = p->d;
        /* between segments: line breaks, blanks, stray terminators */
        int stray = p->in_ichg && p->tlen == 1 ? (unsigned char)p->term[0] : -1;
        while (p->pos < p->len &&
               (is_crlf(d[p->pos]) || d[p->pos] == ' ' || d[p->pos] == '\t' ||
                (unsigned char)d[p->pos] == stray))
            p->pos++;
        if (p->pos >= p->len)
            break;
        if (d[p->pos] == 'I' && p->len - p->pos >= 4 && d[p->pos + 1] == 'S' &&
            d[p->pos + 2] == 'A' && !isalnum((unsigned char)d[p->pos + 3])) {
            if (parse_isa(p) < 0)
                return 0;
            continue;
        }
        if (!p->in_ichg) {
            p->loc.seg_pos = 0;
            p->loc.seg_id[0] = '\0';
            ERR(p, OH_EDI_ERROR, "ISA", 0, C(0, 0, 0, 0, 24),
                "data outside an interchange at byte %zu (expected ISA)", p->pos);
            const char *next = memmem(d + p->pos + 1, p->len - p->pos - 1, "ISA", 3);
            p->pos = next ? (size_t)(next - d) : p->len;
            continue;
        }
        size_t start = p->pos;
        const char *e = find_term(p, d + start, d + p->len);
        size_t end = e ? (size_t)(e - d) : p->len;
        p->pos = e ? end + p->tlen : p->len;
        const char *s = d + start;
        size_t n = end - start;
        if (n > p->max_seg) {
            ERR(p, OH_EDI_ERROR, "", 0, C(0, 0, 5, 0, 24), "segment of %zu bytes is over the %zu-byte limit",
                n, p->max_seg);
            continue;
        }
        if ((p->strip1 && has_byte(p, &p->cr, '\r', start, end)) ||
            (p->strip2 && has_byte(p, &p->lf, '\n', start, end))) {
            if (n > p->cap) {
                free(p->buf);
                p->cap = n < 4096 ? 4096 : n;
                if (!(p->buf = malloc(p->cap)))
                    abort();
            }
            size_t m = 0;
            for (size_t k = 0; k < n; k++)
                if (s[k] != p->strip1 && s[k] != p->strip2)
                    p->buf[m++] = s[k];
            s = p->buf;
            n = m;
        }
        if (!n)
            continue;
        if (p->o->no_tree && p->in_set && n < EDI_MAX_ELEMS && lazy_split(p, s, n)) {
            dispatch(p, start);
            continue;
        }
        p->nel = split(s, n, p->es, p->el, EDI_MAX_ELEMS);
        if (p->nel > EDI_MAX_ELEMS) {
            ERR(p, OH_EDI_ERROR, "", 0, C(0, 3, 5, 0, 0), "segment with %zu elements is over the limit of %d",
                p->nel, EDI_MAX_ELEMS);
            p->nel = EDI_MAX_ELEMS;
        }
        dispatch(p, start);
    }
    if (!p->stop) {
        p->loc.seg_id[0] = '\0';
        missing_trailers(p, "the end of the file", 1);
    }
    return p->stop;
}

int oh_x12_parse(const char *data, size_t len, const struct oh_edi_parse_opts *o,
                 struct oh_arena *a, oh_edi_set_cb cb, void *ud, struct oh_edi_report **out,
                 struct oh_err *err)
{
    static const struct oh_edi_parse_opts defaults;
    struct x12p p;
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
    p.loc.syntax = OH_EDI_X12;
    edi_rcache_init(&p.rules, OH_EDI_X12);
    if (!a && !p.o->no_tree)
        return oh_err_set(err, OH_EINVAL, "x12: an arena is needed to build trees");
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    while (p.pos < len && isspace((unsigned char)data[p.pos]))
        p.pos++;
    if (len - p.pos < 4 || memcmp(data + p.pos, "ISA", 3) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "x12: input does not start with an ISA segment");
        goto done;
    }
    p.r = edi_report_new(OH_EDI_X12);
    rc = run(&p);
    if (rc < 0)
        oh_err_set(err, rc, "x12: stopped by the set handler");
done:
    free(p.buf);
    free(p.isa_txt);
    free(p.gs_txt);
    if (out && p.r)
        *out = p.r;
    else
        oh_edi_report_free(p.r);
    return rc;
}

/* ---- whole-document decoding ---- */

static int keep_cb(void *ud, struct oh_node *set, const struct oh_edi_set_info *info,
                   struct oh_arena *a)
{
    struct oh_node *root = ud;
    (void)info;
    (void)a;
    if (set)
        oh_node_append(root, set);
    return 0;
}

int oh_x12_decode_tree(struct oh_arena *a, const char *data, size_t len, struct oh_node **root,
                       struct oh_edi_report **rep, struct oh_err *err)
{
    struct oh_edi_parse_opts o = {.keep_sets = 1};
    struct oh_node *r = oh_node_new(a, OH_NODE_ARRAY);
    int rc;
    *root = NULL;
    if (!r)
        return oh_err_set(err, OH_ETOOBIG, "x12: over the memory limit");
    if ((rc = oh_x12_parse(data, len, &o, a, keep_cb, r, rep, err)) < 0)
        return rc;
    *root = r;
    return 0;
}
