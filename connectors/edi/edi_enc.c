/*
 * edi_enc.c — document tree -> X12 / EDIFACT text.
 *
 * Input is the decoders' shape (edi.h): an array of set objects, each with an
 * "_envelope", or one set object. Consecutive sets with the same envelope
 * ordinals share one ISA/GS (UNB/UNG). Inside a set every member whose key
 * is a segment id is written as a segment: its "01".. members are the
 * elements (gaps are written empty), its other object members are the
 * segments nested in its loop, written after it. A member that is a list of
 * objects (what a mapping's `PO1[] = .lines[]` makes) is that segment
 * repeated, once per element. GE01/IEA01 (UNE 0060/UNZ 0036) are always
 * computed and GE02/IEA02 (UNE 0048/UNZ 0020) copied from the headers;
 * SE01/UNT 0074 are computed when counts is set.
 *
 * Hierarchical levels: an X12 HL (EDIFACT CPS) without its id (HL01 / CPS
 * 7164) gets the next number in the set, counting from 1 in the order the
 * segments are written; one without a parent id (HL02 / 7166) that is nested
 * in another HL (CPS) gets that one's id. So a mapping writes the hierarchy
 * as nesting (`HL.HL.HL[] = .packages[]`) and the numbers follow; ids that
 * are given are kept, and numbering continues after the highest one.
 *
 * X12 has no escape: a value holding a separator is an error. EDIFACT values
 * are escaped with the release character; UNA is written when the separators
 * differ from the defaults. UNOC text is written as Latin-1 when every
 * character fits, else as UTF-8 (what the decoder reads back the same way).
 */
#include "edi_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct enc {
    FILE *f;
    const struct oh_edi_seps *s;
    enum oh_edi_syntax syn;
    int counts, latin1, rep_ok;
    uint32_t segs;
    unsigned long hl; /* the last HL / CPS id of the set */
    struct oh_err *err;
    const char *path; /* segment id, for messages */
};

void oh_x12_default_seps(struct oh_edi_seps *s)
{
    memset(s, 0, sizeof(*s));
    s->elem = '*';
    s->comp = '>';
    s->rep = '^';
    s->term[0] = '~';
    s->term_len = 1;
    s->newline = 1;
}

void oh_edifact_default_seps(struct oh_edi_seps *s)
{
    memset(s, 0, sizeof(*s));
    s->elem = '+';
    s->comp = ':';
    s->rel = '?';
    s->dec = '.';
    s->term[0] = '\'';
    s->term_len = 1;
    s->newline = 1;
}

/* Element and component positions: "01".."999". */
static int is_pos_key(const struct oh_node *n)
{
    return n->key && n->key_len <= 3 && edi_is_digits(n->key, n->key_len);
}

static int is_seg_id(const struct oh_node *n)
{
    return n->key && n->key_len >= 2 && n->key_len <= 3 && isupper((unsigned char)n->key[0]) &&
           n->key[0] != '_';
}

static int is_seg_key(const struct oh_node *n)
{
    return n->type == OH_NODE_OBJECT && is_seg_id(n);
}

/* A repeated segment: a list (of objects) under a segment id. */
static int is_seg_list(const struct oh_node *n)
{
    return n->type == OH_NODE_ARRAY && is_seg_id(n);
}

static void end_seg(struct enc *e)
{
    fwrite(e->s->term, 1, e->s->term_len, e->f);
    if (e->s->newline && !(e->s->term_len == 1 && e->s->term[0] == '\n'))
        fputc('\n', e->f);
    e->segs++;
}

static int special(const struct enc *e, unsigned char c)
{
    const struct oh_edi_seps *s = e->s;
    return c == (unsigned char)s->elem || c == (unsigned char)s->comp ||
           (s->rep && c == (unsigned char)s->rep) || c == (unsigned char)s->term[0] ||
           (s->rel && c == (unsigned char)s->rel);
}

static int write_text(struct enc *e, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (special(e, c)) {
            if (e->syn == OH_EDI_X12 || !e->s->rel)
                return oh_err_set(e->err, OH_EINVAL,
                                  "segment %s: value '%.40s' holds the separator '%c', which "
                                  "%s cannot escape",
                                  e->path, t, c, e->syn == OH_EDI_X12 ? "X12" : "EDIFACT without release");
            fputc(e->s->rel, e->f);
        }
        fputc(c, e->f);
    }
    return 0;
}

/* UTF-8 text, as Latin-1 when every character fits (UNOC). */
static int write_scalar(struct enc *e, const struct oh_node *v)
{
    const char *t = v && v->s ? v->s : "";
    size_t n = v && v->s ? v->len : 0;
    if (e->latin1) {
        int fits = 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)t[i];
            if (c >= 0x80 && !((c == 0xC2 || c == 0xC3) && i + 1 < n)) {
                fits = 0;
                break;
            }
            if (c >= 0x80)
                i++;
        }
        if (fits && oh_utf8_check(t, n) == 0) {
            char buf[512];
            char *o = n <= sizeof(buf) ? buf : malloc(n);
            size_t m = 0;
            int rc;
            if (!o)
                abort();
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)t[i];
                if (c >= 0x80) {
                    o[m++] = (char)(((c & 0x03) << 6) | ((unsigned char)t[i + 1] & 0x3F));
                    i++;
                } else {
                    o[m++] = (char)c;
                }
            }
            rc = write_text(e, o, m);
            if (o != buf)
                free(o);
            return rc;
        }
    }
    return write_text(e, t, n);
}

static int write_composite(struct enc *e, const struct oh_node *v)
{
    if (v->type != OH_NODE_OBJECT)
        return write_scalar(e, v);
    unsigned last = 1;
    for (const struct oh_node *c = v->first; c; c = c->next) {
        if (!is_pos_key(c))
            return oh_err_set(e->err, OH_EINVAL, "segment %s: component key '%s' is not a position",
                              e->path, c->key ? c->key : "");
        unsigned k = (unsigned)atoi(c->key);
        if (k < last)
            return oh_err_set(e->err, OH_EINVAL, "segment %s: components out of order", e->path);
        for (; last < k; last++)
            fputc(e->s->comp, e->f);
        if (!oh_node_is_scalar(c))
            return oh_err_set(e->err, OH_EINVAL, "segment %s: a component must be text",
                              e->path);
        int rc = write_scalar(e, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int write_value(struct enc *e, const struct oh_node *v)
{
    if (v->type != OH_NODE_ARRAY)
        return write_composite(e, v);
    if (!e->s->rep || !e->rep_ok)
        return oh_err_set(e->err, OH_EINVAL,
                          "segment %s: a repeated element needs a repetition separator", e->path);
    for (const struct oh_node *c = v->first; c; c = c->next) {
        if (c != v->first)
            fputc(e->s->rep, e->f);
        int rc = write_composite(e, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The hierarchical segment of the syntax: X12 HL, EDIFACT CPS. */
static int is_level(const struct enc *e, const char *id)
{
    return strcmp(id, e->syn == OH_EDI_X12 ? "HL" : "CPS") == 0;
}

static int write_seg(struct enc *e, const char *id, const struct oh_node *seg, const char *parent);

/* The segments among seg's members (objects and lists of objects), except
 * skip. */
static int write_members(struct enc *e, const struct oh_node *seg, const struct oh_node *skip,
                         const char *parent)
{
    int rc;
    for (const struct oh_node *c = seg->first; c; c = c->next) {
        char id[8];
        if (c == skip || is_pos_key(c) || !(is_seg_key(c) || is_seg_list(c)))
            continue;
        edi_copy(id, sizeof(id), c->key, c->key_len);
        if (c->type == OH_NODE_OBJECT) {
            if ((rc = write_seg(e, id, c, parent)) < 0)
                return rc;
            continue;
        }
        for (const struct oh_node *el = c->first; el; el = el->next) {
            if (el->type != OH_NODE_OBJECT)
                return oh_err_set(e->err, OH_EINVAL, "segment %s: a repeated segment must be an object",
                                  id);
            if ((rc = write_seg(e, id, el, parent)) < 0)
                return rc;
        }
    }
    return 0;
}

/* One segment and the segments of its loop. Elements come from "01"..;
 * fill[1] and fill[2] are written at positions 1 and 2 when those are
 * absent (computed HL/CPS ids). parent: the enclosing HL/CPS id. */
static int write_seg(struct enc *e, const char *id, const struct oh_node *seg, const char *parent)
{
    int rc;
    char own[24] = "", *fill[3] = {NULL, NULL, NULL};
    const char *next_parent = parent;
    unsigned last = 0;

    if (is_level(e, id)) {
        const struct oh_node *v1 = oh_node_get(seg, "01"), *v2 = oh_node_get(seg, "02");
        if (v1 && oh_node_is_scalar(v1) && v1->s && v1->len) {
            unsigned long given = strtoul(oh_node_str(v1), NULL, 10);
            edi_copy(own, sizeof(own), v1->s, v1->len);
            if (given > e->hl)
                e->hl = given;
        } else {
            snprintf(own, sizeof(own), "%lu", ++e->hl);
            fill[1] = own;
        }
        if (!v2 && parent && *parent)
            fill[2] = (char *)parent;
        next_parent = own;
    }
    e->path = id;
    fputs(id, e->f);
    for (const struct oh_node *c = seg->first;; c = c->next) {
        unsigned k;
        while (c && !is_pos_key(c))
            c = c->next;
        k = c ? (unsigned)atoi(c->key) : 1000;
        for (unsigned p = last + 1; p <= 2 && p < k; p++)
            if (fill[p]) {
                for (; last < p; last++)
                    fputc(e->s->elem, e->f);
                if ((rc = write_text(e, fill[p], strlen(fill[p]))) < 0)
                    return rc;
            }
        if (!c)
            break;
        if (k <= last)
            return oh_err_set(e->err, OH_EINVAL, "segment %s: elements out of order", id);
        for (; last < k; last++)
            fputc(e->s->elem, e->f);
        if ((rc = write_value(e, c)) < 0)
            return rc;
    }
    end_seg(e);
    rc = write_members(e, seg, NULL, next_parent);
    e->path = id;
    return rc;
}

/* Writes the set's segments; the trailer (SE/UNT) last, counted if asked. */
static int write_set(struct enc *e, const struct oh_node *set)
{
    const char *head = e->syn == OH_EDI_X12 ? "ST" : "UNH";
    const char *tail = e->syn == OH_EDI_X12 ? "SE" : "UNT";
    const char *refkey = e->syn == OH_EDI_X12 ? "02" : "01";
    const struct oh_node *h = oh_node_get(set, head), *t = oh_node_get(set, tail);
    int rc;
    if (!h)
        return oh_err_set(e->err, OH_EINVAL, "set without %s", head);
    if (!t && !e->counts)
        return oh_err_set(e->err, OH_EINVAL, "set without %s (and counts off)", tail);
    e->segs = 0;
    e->hl = 0;
    if ((rc = write_members(e, set, t, NULL)) < 0)
        return rc;
    if (!e->counts)
        return write_seg(e, tail, t, NULL);
    e->path = tail;
    fprintf(e->f, "%s%c%u%c", tail, e->s->elem, e->segs + 1, e->s->elem);
    if ((rc = write_scalar(e, oh_node_get(h, refkey))) < 0)
        return rc;
    end_seg(e);
    return 0;
}

static const struct oh_node *env_get(const struct oh_node *set, const char *k)
{
    return oh_node_get(oh_node_get(set, "_envelope"), k);
}

static const int isa_width[17] = {0, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1};

static int write_isa(struct enc *e, const struct oh_node *isa)
{
    char ver[8];
    const struct oh_node *v12 = oh_node_get(isa, "12");
    edi_copy(ver, sizeof(ver), oh_node_str(v12), strlen(oh_node_str(v12)));
    fputs("ISA", e->f);
    e->rep_ok = 0;
    for (int k = 1; k <= 16; k++) {
        char key[16], val[32];
        snprintf(key, sizeof(key), "%02d", k);
        const struct oh_node *v = oh_node_get(isa, key);
        const char *s = oh_node_str(v);
        size_t n = strlen(s);
        if (k == 11 && !v) {
            if (strcmp(ver, "00402") >= 0) {
                if (!e->s->rep)
                    return oh_err_set(e->err, OH_EINVAL,
                                      "ISA11: version %s needs a repetition separator", ver);
                val[0] = e->s->rep;
                val[1] = '\0';
                e->rep_ok = 1;
            } else {
                strcpy(val, "U");
            }
        } else if (k == 16) {
            val[0] = e->s->comp;
            val[1] = '\0';
        } else {
            if (n > (size_t)isa_width[k])
                return oh_err_set(e->err, OH_EINVAL, "ISA%02d '%s' is wider than %d characters",
                                  k, s, isa_width[k]);
            if (k == 13)
                snprintf(val, sizeof(val), "%0*d%s", (int)(isa_width[k] - n), 0, s);
            else
                snprintf(val, sizeof(val), "%-*s", isa_width[k], s);
            if (k == 13 && n == (size_t)isa_width[k])
                snprintf(val, sizeof(val), "%s", s);
        }
        fputc(e->s->elem, e->f);
        fputs(val, e->f);
    }
    end_seg(e);
    return 0;
}

static int same_group(const struct oh_node *a, const struct oh_node *b, int level)
{
    const char *k[2] = {"interchange", "group"};
    for (int i = 0; i <= level; i++)
        if (strcmp(oh_node_str(env_get(a, k[i])), oh_node_str(env_get(b, k[i]))) != 0)
            return 0;
    return 1;
}

static int check_seps(const struct oh_edi_seps *s, struct oh_err *err)
{
    char all[5] = {s->elem, s->comp, s->rep, s->rel, s->term[0]};
    for (int i = 0; i < 5; i++) {
        if (!all[i])
            continue;
        if (isalnum((unsigned char)all[i]) || all[i] == ' ')
            return oh_err_set(err, OH_EINVAL, "separator '%c' is a data character", all[i]);
        for (int j = i + 1; j < 5; j++)
            if (all[i] == all[j])
                return oh_err_set(err, OH_EINVAL, "separator '%c' is used twice", all[i]);
    }
    if (!s->elem || !s->comp || !s->term_len)
        return oh_err_set(err, OH_EINVAL, "element, component and segment separators are needed");
    return 0;
}

static int encode(const struct oh_node *root, const struct oh_edi_seps *seps, int counts,
                  FILE *f, enum oh_edi_syntax syn, struct oh_err *err)
{
    struct oh_edi_seps def;
    struct enc e = {.f = f, .syn = syn, .counts = counts, .err = err, .rep_ok = 1};
    const struct oh_node *first, *prev = NULL;
    int rc = 0, nsets = 0, ngroups = 0, any_ung = 0, nmsgs = 0;
    const struct oh_node *ghead = NULL, *ihead = NULL;

    if (!seps) {
        if (syn == OH_EDI_X12)
            oh_x12_default_seps(&def);
        else
            oh_edifact_default_seps(&def);
        seps = &def;
    }
    e.s = seps;
    if ((rc = check_seps(seps, err)) < 0)
        return rc;
    if (!root || (root->type != OH_NODE_ARRAY && root->type != OH_NODE_OBJECT))
        return oh_err_set(err, OH_EINVAL, "nothing to encode: want a set or an array of sets");
    first = root->type == OH_NODE_ARRAY ? root->first : root;
    if (!first)
        return oh_err_set(err, OH_EINVAL, "nothing to encode: no sets");

    if (syn == OH_EDI_EDIFACT &&
        (seps->comp != ':' || seps->elem != '+' || (seps->dec && seps->dec != '.') ||
         seps->rel != '?' || seps->rep || seps->term[0] != '\'')) {
        fprintf(f, "UNA%c%c%c%c%c%c", seps->comp, seps->elem, seps->dec ? seps->dec : '.',
                seps->rel ? seps->rel : ' ', seps->rep ? seps->rep : ' ', seps->term[0]);
        if (seps->newline)
            fputc('\n', f);
    }
    for (const struct oh_node *set = first; set; set = root->type == OH_NODE_ARRAY ? set->next : NULL) {
        if (set->type != OH_NODE_OBJECT)
            return oh_err_set(err, OH_EINVAL, "set %d is not an object", nsets + 1);
        int new_ichg = !prev || !same_group(prev, set, 0);
        int new_group = new_ichg || !same_group(prev, set, 1);
        if (prev && new_group) {
            /* close the group */
            if (syn == OH_EDI_X12) {
                fprintf(f, "GE%c%d%c", seps->elem, nsets, seps->elem);
                e.path = "GE";
                if ((rc = write_scalar(&e, oh_node_get(ghead, "06"))) < 0)
                    return rc;
                end_seg(&e);
            } else if (ghead) {
                fprintf(f, "UNE%c%d%c", seps->elem, nsets, seps->elem);
                e.path = "UNE";
                if ((rc = write_scalar(&e, oh_node_get(ghead, "05"))) < 0)
                    return rc;
                end_seg(&e);
            }
        }
        if (prev && new_ichg) {
            fprintf(f, "%s%c%d%c", syn == OH_EDI_X12 ? "IEA" : "UNZ", seps->elem,
                    syn == OH_EDI_X12 || any_ung ? ngroups : nmsgs, seps->elem);
            e.path = "IEA";
            if ((rc = write_scalar(&e, oh_node_get(ihead, syn == OH_EDI_X12 ? "13" : "05"))) < 0)
                return rc;
            end_seg(&e);
        }
        if (new_ichg) {
            ihead = env_get(set, syn == OH_EDI_X12 ? "ISA" : "UNB");
            if (!ihead)
                return oh_err_set(err, OH_EINVAL, "set %d: _envelope has no %s", nsets + 1,
                                  syn == OH_EDI_X12 ? "ISA" : "UNB");
            ngroups = nmsgs = any_ung = 0;
            e.latin1 = 0;
            if (syn == OH_EDI_X12) {
                if ((rc = write_isa(&e, ihead)) < 0)
                    return rc;
            } else {
                const struct oh_node *sx = oh_node_get(ihead, "01");
                const char *sid =
                    oh_node_str(sx && sx->type == OH_NODE_OBJECT ? oh_node_get(sx, "1") : sx);
                if ((rc = write_seg(&e, "UNB", ihead, NULL)) < 0)
                    return rc;
                e.latin1 = strcmp(sid, "UNOC") == 0;
            }
        }
        if (new_group) {
            nsets = 0;
            ghead = env_get(set, syn == OH_EDI_X12 ? "GS" : "UNG");
            if (syn == OH_EDI_X12 && !ghead)
                return oh_err_set(err, OH_EINVAL, "set %d: _envelope has no GS", nsets + 1);
            if (ghead) {
                ngroups++;
                any_ung = 1;
                if ((rc = write_seg(&e, syn == OH_EDI_X12 ? "GS" : "UNG", ghead, NULL)) < 0)
                    return rc;
            }
        }
        if ((rc = write_set(&e, set)) < 0)
            return rc;
        nsets++;
        nmsgs++;
        prev = set;
    }
    if (syn == OH_EDI_X12) {
        fprintf(f, "GE%c%d%c", seps->elem, nsets, seps->elem);
        e.path = "GE";
        if ((rc = write_scalar(&e, oh_node_get(ghead, "06"))) < 0)
            return rc;
        end_seg(&e);
    } else if (ghead) {
        fprintf(f, "UNE%c%d%c", seps->elem, nsets, seps->elem);
        e.path = "UNE";
        if ((rc = write_scalar(&e, oh_node_get(ghead, "05"))) < 0)
            return rc;
        end_seg(&e);
    }
    fprintf(f, "%s%c%d%c", syn == OH_EDI_X12 ? "IEA" : "UNZ", seps->elem,
            syn == OH_EDI_X12 || any_ung ? ngroups : nmsgs, seps->elem);
    e.path = syn == OH_EDI_X12 ? "IEA" : "UNZ";
    if ((rc = write_scalar(&e, oh_node_get(ihead, syn == OH_EDI_X12 ? "13" : "05"))) < 0)
        return rc;
    end_seg(&e);
    if (ferror(f))
        return oh_err_set(err, OH_ERROR, "write error");
    return 0;
}

int oh_x12_encode(const struct oh_node *root, const struct oh_edi_seps *seps, int counts,
                  FILE *f, struct oh_err *err)
{
    return encode(root, seps, counts, f, OH_EDI_X12, err);
}

int oh_edifact_encode(const struct oh_node *root, const struct oh_edi_seps *seps, int counts,
                      FILE *f, struct oh_err *err)
{
    return encode(root, seps, counts, f, OH_EDI_EDIFACT, err);
}
