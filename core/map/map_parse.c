/*
 * map_parse.c — compiles mapping text into a plan (see map.h, map_int.h and
 * docs/mapping.md for the language).
 *
 * The parser is line-oriented and hand-written (recursive descent over the
 * characters of one line), so every error can name file:line:col. All plan
 * memory comes from the plan's arena; oh_map_free releases it in one call.
 * Checks done here, once: directives and their arguments, format options
 * (through the format's own check), canonical target names when `to` is a
 * kind, filter names and argument counts, table names (resolved at the end
 * so a table may follow its first use), and repeated-block declarations.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "map/map_int.h"
#include "util.h"

struct ps {
    struct oh_map *m;
    struct oh_arena *a;
    const char *s; /* current line (not NUL-terminated) */
    size_t n, i;
    int line;
    struct oh_err *err;
    int failed;
};

static int perr(struct ps *p, size_t col0, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct ps *p, size_t col0, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->failed = 1;
    return oh_err_set(p->err, OH_EINVAL, "%s:%d:%zu: %s", p->m->file, p->line, col0 + 1, msg);
}

static int at_end(struct ps *p)
{
    return p->i >= p->n;
}

/* Skips blanks; a '#' at the start or after a blank starts a comment. */
static void ws(struct ps *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\r') {
            p->i++;
        } else if (c == '#' && (p->i == 0 || p->s[p->i - 1] == ' ' || p->s[p->i - 1] == '\t')) {
            p->i = p->n;
        } else {
            break;
        }
    }
}

static int peek(struct ps *p)
{
    return p->i < p->n ? (unsigned char)p->s[p->i] : 0;
}

static int is_ident(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '@' || c == '#' || c >= 0x80;
}

static const char *dup(struct ps *p, const char *s, size_t n)
{
    return oh_arena_strndup(p->a, s, n);
}

static void *grow(struct oh_arena *a, void *old, size_t n, size_t *cap, size_t sz)
{
    void *nw;
    if (n < *cap)
        return old;
    *cap = *cap ? *cap * 2 : 8;
    nw = oh_arena_alloc(a, *cap * sz);
    if (old && n)
        memcpy(nw, old, n * sz);
    return nw;
}

/* Bare identifier at p->i; returns its length (0 if none). */
static size_t ident(struct ps *p, const char **out)
{
    size_t st = p->i;
    while (p->i < p->n && is_ident((unsigned char)p->s[p->i]))
        p->i++;
    *out = p->s + st;
    return p->i - st;
}

/* "..." with \" \\ \n \t escapes -> arena string. */
static int qstring(struct ps *p, const char **out, size_t *outlen)
{
    size_t st = p->i;
    char *buf, *o;
    p->i++;
    buf = oh_arena_alloc(p->a, p->n - p->i + 1);
    o = buf;
    while (p->i < p->n && p->s[p->i] != '"') {
        char c = p->s[p->i++];
        if (c == '\\' && p->i < p->n) {
            char e = p->s[p->i++];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
        *o++ = c;
    }
    if (p->i >= p->n)
        return perr(p, st, "unterminated string");
    p->i++;
    *o = '\0';
    *out = buf;
    if (outlen)
        *outlen = (size_t)(o - buf);
    return 0;
}

/* A key in a path or condition: identifier or quoted string. */
static int key(struct ps *p, const char **k, size_t *kl)
{
    if (peek(p) == '"')
        return qstring(p, k, kl);
    *kl = ident(p, k);
    if (!*kl)
        return perr(p, p->i, "expected a name");
    *k = dup(p, *k, *kl);
    return 0;
}

static int add_step(struct ps *p, struct path *pa, size_t *cap, struct step st)
{
    pa->steps = grow(p->a, pa->steps, pa->nsteps, cap, sizeof(*pa->steps));
    pa->steps[pa->nsteps++] = st;
    return 0;
}

static int path(struct ps *p, struct path *pa);

/* [] | [N] | [k=v, ...]; v may be a path read from the current value */
static int bracket(struct ps *p, struct path *pa, size_t *cap)
{
    struct step st = {0};
    size_t open = p->i;
    p->i++;
    ws(p);
    if (peek(p) == ']') {
        p->i++;
        st.k = ST_EXPAND;
        return add_step(p, pa, cap, st);
    }
    if (isdigit(peek(p))) {
        size_t save = p->i;
        long v = 0;
        while (isdigit(peek(p)) && v < 100000000)
            v = v * 10 + (p->s[p->i++] - '0');
        ws(p);
        if (peek(p) == ']') {
            p->i++;
            st.k = ST_INDEX;
            st.index = v;
            return add_step(p, pa, cap, st);
        }
        p->i = save; /* a condition whose key is numeric, like 01=ST */
    }
    st.k = ST_FILTER;
    for (size_t ccap = 0;;) {
        struct cond c = {0};
        int rc;
        ws(p);
        if ((rc = key(p, &c.key, &c.klen)) < 0)
            return rc;
        ws(p);
        if (peek(p) != '=')
            return perr(p, p->i, "expected '=' in path condition");
        p->i++;
        ws(p);
        if (peek(p) == '"') {
            if ((rc = qstring(p, &c.val, &c.vlen)) < 0)
                return rc;
        } else if (peek(p) == '.' || peek(p) == '$') {
            c.vpath = oh_arena_alloc(p->a, sizeof(*c.vpath));
            if ((rc = path(p, c.vpath)) < 0)
                return rc;
            pa->dynamic = 1;
        } else {
            size_t st0 = p->i;
            while (p->i < p->n && p->s[p->i] != ',' && p->s[p->i] != ']' && p->s[p->i] != ' ')
                p->i++;
            if (p->i == st0)
                return perr(p, st0, "expected a value in path condition");
            c.vlen = p->i - st0;
            c.val = dup(p, p->s + st0, c.vlen);
        }
        st.conds = grow(p->a, st.conds, st.nconds, &ccap, sizeof(*st.conds));
        st.conds[st.nconds++] = c;
        ws(p);
        if (peek(p) == ',') {
            p->i++;
            continue;
        }
        if (peek(p) == ']') {
            p->i++;
            break;
        }
        return perr(p, at_end(p) ? open : p->i, "expected ',' or ']' in path condition");
    }
    return add_step(p, pa, cap, st);
}

static int path(struct ps *p, struct path *pa)
{
    size_t cap = 0, st0 = p->i;
    int rc;

    memset(pa, 0, sizeof(*pa));
    if (peek(p) == '$') {
        const char *w;
        size_t wl;
        p->i++;
        wl = ident(p, &w);
        if (wl == 6 && memcmp(w, "record", 6) == 0)
            pa->root = R_RECORD;
        else if (wl == 4 && memcmp(w, "root", 4) == 0)
            pa->root = R_ROOT;
        else if (wl == 5 && memcmp(w, "index", 5) == 0) {
            pa->root = R_INDEX;
            if (peek(p) == '.' || peek(p) == '[')
                return perr(p, p->i, "$index is a number: nothing may follow it");
            return 0;
        }
        else if ((wl == 7 && memcmp(w, "channel", 7) == 0) || (wl == 3 && memcmp(w, "doc", 3) == 0) ||
                 (wl == 3 && memcmp(w, "env", 3) == 0)) {
            const char *v;
            size_t vl;
            pa->root = w[0] == 'c' ? R_CHANNEL : w[0] == 'd' ? R_DOC : R_ENV;
            if (peek(p) != '.')
                return perr(p, p->i, "expected '.' after $%.*s", (int)wl, w);
            p->i++;
            vl = ident(p, &v);
            if (!vl)
                return perr(p, p->i, "expected a name after $%.*s.", (int)wl, w);
            if (pa->root == R_CHANNEL && !(vl == 4 && memcmp(v, "name", 4) == 0))
                return perr(p, p->i - vl, "unknown variable $channel.%.*s (there is $channel.name)",
                            (int)vl, v);
            if (pa->root == R_DOC && !(vl == 11 && memcmp(v, "received_at", 11) == 0) &&
                !(vl == 6 && memcmp(v, "source", 6) == 0))
                return perr(p, p->i - vl,
                            "unknown variable $doc.%.*s (there are $doc.received_at, $doc.source)",
                            (int)vl, v);
            pa->var = dup(p, v, vl);
            return 0;
        } else {
            return perr(p, st0, "unknown variable $%.*s", (int)wl, w);
        }
        if (peek(p) != '.' && peek(p) != '[' )
            return 0;
        if (peek(p) == '.')
            p->i++;
    } else {
        p->i++; /* the leading '.' */
    }
    /* first segment: optional key right after the dot */
    if (peek(p) == '"' || is_ident(peek(p))) {
        struct step s = {.k = ST_KEY};
        if ((rc = key(p, &s.key, &s.klen)) < 0)
            return rc;
        add_step(p, pa, &cap, s);
    }
    for (;;) {
        if (peek(p) == '[') {
            if ((rc = bracket(p, pa, &cap)) < 0)
                return rc;
        } else if (peek(p) == '.' && p->i + 1 < p->n &&
                   (p->s[p->i + 1] == '"' || is_ident((unsigned char)p->s[p->i + 1]))) {
            struct step s = {.k = ST_KEY};
            p->i++;
            if ((rc = key(p, &s.key, &s.klen)) < 0)
                return rc;
            add_step(p, pa, &cap, s);
        } else {
            break;
        }
    }
    return 0;
}

static struct expr *new_expr(struct ps *p, enum expr_kind k, size_t col0)
{
    struct expr *e = oh_arena_alloc(p->a, sizeof(*e));
    e->k = k;
    e->line = p->line;
    e->col = (int)col0 + 1;
    return e;
}

static int expr(struct ps *p, struct expr **out);

static int primary(struct ps *p, struct expr **out, int allow_word)
{
    size_t st = p->i;
    struct expr *e;
    int c = peek(p), rc;

    ws(p);
    st = p->i;
    c = peek(p);
    if (c == '.' || c == '$') {
        e = new_expr(p, E_PATH, st);
        if ((rc = path(p, &e->path)) < 0)
            return rc;
    } else if (c == '"') {
        e = new_expr(p, E_LIT, st);
        if ((rc = qstring(p, &e->lit, &e->litlen)) < 0)
            return rc;
    } else if (isdigit(c) || (c == '-' && p->i + 1 < p->n && isdigit((unsigned char)p->s[p->i + 1]))) {
        e = new_expr(p, E_LIT, st);
        p->i++;
        while (isdigit(peek(p)) || peek(p) == '.')
            p->i++;
        e->lit = dup(p, p->s + st, p->i - st);
        e->litlen = p->i - st;
        e->lit_is_num = 1;
    } else if (c == '(') {
        p->i++;
        if ((rc = expr(p, &e)) < 0)
            return rc;
        ws(p);
        if (peek(p) != ')')
            return perr(p, p->i, "expected ')'");
        p->i++;
    } else if (allow_word && (isalpha(c) || c == '_' || c == '*')) {
        const char *w;
        size_t wl;
        e = new_expr(p, E_WORD, st);
        if (c == '*') {
            p->i++;
            w = "*";
            wl = 1;
        } else {
            wl = ident(p, &w);
        }
        e->lit = dup(p, w, wl);
        e->litlen = wl;
    } else {
        return perr(p, st, at_end(p) ? "expected a value (a path like .id, a \"string\" or a number)"
                                     : "unexpected '%c': expected a path like .id, a \"string\" or a number",
                    c);
    }
    if (!e->text)
        e->text = dup(p, p->s + st, p->i - st);
    *out = e;
    return 0;
}

static int filter(struct ps *p, struct filter *f)
{
    const struct filter_info *fi;
    const char *w;
    size_t wl, st, acap = 0;
    int rc;

    ws(p);
    st = p->i;
    wl = ident(p, &w);
    if (!wl)
        return perr(p, st, "expected a filter name after '|'");
    if (!(fi = oh_map_filter_info(w, wl)))
        return perr(p, st, "unknown filter %.*s", (int)wl, w);
    memset(f, 0, sizeof(*f));
    f->id = fi->id;
    f->name = fi->name;
    f->line = p->line;
    f->col = (int)st + 1;
    f->places = -1;
    f->dec_mark = '.';
    ws(p);
    if (peek(p) == '(') {
        p->i++;
        ws(p);
        if (peek(p) == ')') {
            p->i++;
        } else {
            for (;;) {
                struct expr *a;
                ws(p);
                /* a path argument may be a whole expression: add(.a | len) */
                if ((rc = strchr(".$(", peek(p)) && peek(p) ? expr(p, &a) : primary(p, &a, 1)) < 0)
                    return rc;
                f->args = grow(p->a, f->args, f->nargs, &acap, sizeof(*f->args));
                f->args[f->nargs++] = a;
                ws(p);
                if (peek(p) == ',') {
                    p->i++;
                    continue;
                }
                if (peek(p) == ')') {
                    p->i++;
                    break;
                }
                return perr(p, p->i, "expected ',' or ')' in the arguments of %s", fi->name);
            }
        }
    }
    if ((int)f->nargs < fi->min_args || (fi->max_args >= 0 && (int)f->nargs > fi->max_args)) {
        if (fi->min_args == fi->max_args)
            return perr(p, st, "%s takes %d argument%s", fi->name, fi->min_args,
                        fi->min_args == 1 ? "" : "s");
        if (fi->max_args < 0)
            return perr(p, st, "%s takes at least %d argument%s", fi->name, fi->min_args,
                        fi->min_args == 1 ? "" : "s");
        return perr(p, st, "%s takes %d to %d arguments", fi->name, fi->min_args, fi->max_args);
    }
    /* per-filter argument checks */
    for (size_t k = 0; k < f->nargs; k++) {
        struct expr *a = f->args[k];
        int col = a->col - 1;
        switch (f->id) {
        case F_LOOKUP:
            if (a->k != E_WORD && a->k != E_LIT)
                return perr(p, (size_t)col, "lookup needs a table name");
            break;
        case F_DECIMAL:
            if (a->k == E_LIT && a->lit_is_num) {
                f->places = atoi(a->lit);
                if (f->places < 0 || f->places > 18)
                    return perr(p, (size_t)col, "decimal places must be 0 to 18");
            } else if (a->k == E_LIT && a->litlen == 1 && (a->lit[0] == ',' || a->lit[0] == '.')) {
                f->dec_mark = a->lit[0];
            } else {
                return perr(p, (size_t)col,
                            "decimal takes a number of places and/or the decimal mark \",\" or \".\"");
            }
            break;
        case F_TIME:
        case F_DATE:
        case F_SPLIT:
        case F_JOIN:
        case F_REPLACE:
            if (a->k != E_LIT || a->lit_is_num)
                return perr(p, (size_t)col, "%s needs a \"string\" argument", fi->name);
            break;
        case F_SUBSTR:
            if (a->k != E_LIT || !a->lit_is_num || strchr(a->lit, '.'))
                return perr(p, (size_t)col, "substr needs whole-number arguments");
            break;
        case F_DEFAULT:
        case F_DIV:
        case F_ADD:
        case F_WHEN:
        case F_CONCAT:
            if (a->k == E_WORD)
                return perr(p, (size_t)col, "%s needs a \"string\", a number or a path, not %s",
                            fi->name, a->lit);
            break;
        default:
            break;
        }
    }
    return 0;
}

static int alt(struct ps *p, struct expr **out)
{
    struct expr *e;
    int rc;
    if ((rc = primary(p, &e, 0)) < 0)
        return rc;
    for (;;) {
        size_t st;
        ws(p);
        st = p->i;
        if (p->i + 1 < p->n && p->s[p->i] == '?' && p->s[p->i + 1] == '?') {
            struct expr *x = new_expr(p, E_ALT, st), *b;
            p->i += 2;
            if ((rc = primary(p, &b, 0)) < 0)
                return rc;
            x->a = e;
            x->b = b;
            x->text = e->text;
            e = x;
        } else {
            break;
        }
    }
    *out = e;
    return 0;
}

static int expr(struct ps *p, struct expr **out)
{
    struct expr *e, *pipe = NULL;
    size_t fcap = 0;
    int rc;

    if ((rc = alt(p, &e)) < 0)
        return rc;
    for (;;) {
        ws(p);
        if (peek(p) != '|')
            break;
        p->i++;
        if (!pipe) {
            pipe = new_expr(p, E_PIPE, (size_t)e->col - 1);
            pipe->a = e;
            pipe->text = e->text;
        }
        pipe->filters = grow(p->a, pipe->filters, pipe->nfilters, &fcap, sizeof(*pipe->filters));
        if ((rc = filter(p, &pipe->filters[pipe->nfilters])) < 0)
            return rc;
        pipe->nfilters++;
    }
    *out = pipe ? pipe : e;
    return 0;
}

/* --- directives ----------------------------------------------------- */

static int word_is(const char *w, size_t wl, const char *s)
{
    return wl == strlen(s) && memcmp(w, s, wl) == 0;
}

/* k=v options and (for `to`) one bare message word. */
static int options(struct ps *p, struct oh_format_opts *o, const char **message)
{
    for (;;) {
        const char *k, *v;
        size_t kl, vl, st;
        int rc;
        ws(p);
        if (at_end(p))
            return 0;
        st = p->i;
        kl = ident(p, &k);
        if (!kl)
            return perr(p, st, "expected an option like key=value");
        if (peek(p) != '=') {
            if (message && !*message) {
                *message = dup(p, k, kl);
                continue;
            }
            return perr(p, st, "expected '=' after option %.*s", (int)kl, k);
        }
        p->i++;
        if (peek(p) == '"') {
            if ((rc = qstring(p, &v, &vl)) < 0)
                return rc;
        } else {
            size_t vs = p->i;
            while (p->i < p->n && p->s[p->i] != ' ' && p->s[p->i] != '\t')
                p->i++;
            v = dup(p, p->s + vs, p->i - vs);
        }
        if (o->n == OH_FORMAT_MAX_OPTS)
            return perr(p, st, "too many options");
        o->key[o->n] = dup(p, k, kl);
        o->val[o->n] = v;
        o->n++;
    }
}

static int check_opts(struct ps *p, size_t col, const char *fmt, const struct oh_format_opts *o)
{
    const struct oh_format *f = oh_format_find(fmt);
    struct oh_err e = {0};
    if (!o->n)
        return 0;
    if (!f->check)
        return perr(p, col, "format %s takes no options", fmt);
    if (f->check(o, &e) < 0)
        return perr(p, col, "%s", e.msg);
    return 0;
}

static int directive(struct ps *p, const char *w, size_t wl, size_t st, struct path **each_out)
{
    struct oh_map *m = p->m;
    const char *n;
    size_t nl, ns;
    int rc;

    ws(p);
    ns = p->i;
    if (word_is(w, wl, "each") || word_is(w, wl, "group-by")) {
        struct path *pa = oh_arena_alloc(p->a, sizeof(*pa));
        if (peek(p) != '.' && peek(p) != '$')
            return perr(p, ns, "%.*s needs a path like .orders[]", (int)wl, w);
        if ((rc = path(p, pa)) < 0)
            return rc;
        if (pa->root != R_CUR && pa->root != R_ROOT && pa->root != R_RECORD)
            return perr(p, ns, "%.*s needs a document path", (int)wl, w);
        if (*each_out)
            return perr(p, st, "%.*s given twice", (int)wl, w);
        *each_out = pa;
    } else {
        nl = ident(p, &n);
        if (!nl)
            return perr(p, ns, "%.*s needs a name", (int)wl, w);
        if (word_is(w, wl, "map")) {
            if (m->name)
                return perr(p, st, "map given twice");
            m->name = dup(p, n, nl);
        } else if (word_is(w, wl, "from") || word_is(w, wl, "to")) {
            int is_from = w[0] == 'f';
            const char *name = dup(p, n, nl);
            const struct oh_format *f = oh_format_find(name);
            struct oh_format_opts *o = is_from ? &m->from_opts : &m->to_opts;
            if (is_from ? m->from != NULL : m->to != NULL)
                return perr(p, st, "%s given twice", is_from ? "from" : "to");
            if (oh_map_is_kind(name)) {
                if (is_from)
                    m->from_is_kind = 1;
                else
                    m->to_is_kind = 1;
            } else if (!f) {
                return perr(p, ns, "unknown format or kind %s (formats: json, xml, csv, ...; "
                                   "kinds: order, shipment, inventory, return)", name);
            } else if (is_from ? !f->decode : !f->encode) {
                return perr(p, ns, "format %s cannot be %s", name, is_from ? "read" : "written");
            }
            if ((rc = options(p, o, is_from ? NULL : &m->message)) < 0)
                return rc;
            if (!oh_map_is_kind(name) && (rc = check_opts(p, ns, name, o)) < 0)
                return rc;
            if (oh_map_is_kind(name) && o->n)
                return perr(p, ns, "a canonical kind takes no options");
            if (is_from)
                m->from = name;
            else
                m->to = name;
            return 0;
        }
    }
    ws(p);
    if (!at_end(p))
        return perr(p, p->i, "unexpected text after %.*s", (int)wl, w);
    return 0;
}

/* --- rules ------------------------------------------------------------ */

static int target(struct ps *p, struct rule *r)
{
    size_t cap = 0, st = p->i;
    int rc;
    for (;;) {
        struct tstep t = {0};
        if (peek(p) == '[' && r->nt == 0 && p->i + 1 < p->n && p->s[p->i + 1] == ']') {
            t.key = NULL;
        } else {
            if ((rc = key(p, &t.key, &t.klen)) < 0)
                return rc;
        }
        if (peek(p) == '[') {
            if (p->i + 1 >= p->n || p->s[p->i + 1] != ']')
                return perr(p, p->i, "only [] may follow a target name");
            p->i += 2;
            t.arr = 1;
        } else if (!t.key) {
            return perr(p, p->i, "expected []");
        }
        r->t = grow(p->a, r->t, r->nt, &cap, sizeof(*r->t));
        r->t[r->nt++] = t;
        if (peek(p) == '.') {
            p->i++;
            continue;
        }
        break;
    }
    r->target_text = dup(p, p->s + st, p->i - st);
    return 0;
}

/* "lines[].sku" from the full target (no leading block stripping). */
static int canonical_ok(const struct oh_map *m, const char *text)
{
    const char *const *f = oh_map_canonical_fields(m->to);
    char alt[256];
    for (; f && *f; f++)
        if (strcmp(*f, text) == 0)
            return 1;
    /* a list of strings may be written without its []: tags = ... */
    snprintf(alt, sizeof(alt), "%s[]", text);
    for (f = oh_map_canonical_fields(m->to); f && *f; f++)
        if (strcmp(*f, alt) == 0 && strcmp(alt, "tags[]") == 0)
            return 1;
    return 0;
}

static int same_steps(const struct tstep *a, size_t na, const struct tstep *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (a[i].arr != b[i].arr || (!a[i].key) != (!b[i].key))
            return 0;
        if (a[i].key && (a[i].klen != b[i].klen || memcmp(a[i].key, b[i].key, a[i].klen) != 0))
            return 0;
    }
    return 1;
}

static int rule(struct ps *p, size_t st)
{
    struct oh_map *m = p->m;
    struct rule r = {.line = p->line, .col = (int)st + 1};
    struct block *b = &m->top;
    size_t from = 0;
    int rc;

    if ((rc = target(p, &r)) < 0)
        return rc;
    ws(p);
    if (peek(p) != '=')
        return perr(p, p->i, at_end(p) ? "expected '=' after the target %s"
                                       : "expected '=' after the target %s",
                    r.target_text);
    p->i++;
    if ((rc = expr(p, &r.e)) < 0)
        return rc;
    ws(p);
    if (!at_end(p))
        return perr(p, p->i, "unexpected '%c' after the expression", peek(p));
    if (m->to_is_kind && !canonical_ok(m, r.target_text))
        return perr(p, st, "%s is not a field of the canonical %s", r.target_text, m->to);
    if (!m->to)
        return perr(p, st, "rules must follow the `to` line");
    if (r.t[0].key == NULL) {
        if (m->top.n && !m->root_array)
            return perr(p, st, "[] rules cannot be mixed with named targets");
        m->root_array = 1;
    } else if (m->root_array) {
        return perr(p, st, "named targets cannot be mixed with [] rules");
    }
    /* descend through declared blocks: lines[].sku lives in lines[] */
    for (size_t j = 0; j + 1 < r.nt; j++) {
        struct block *nb = NULL;
        if (!r.t[j].arr)
            continue;
        for (size_t k = 0; k < b->n; k++)
            if (b->rules[k].blk && same_steps(b->rules[k].t, b->rules[k].nt, r.t + from, j + 1 - from))
                nb = b->rules[k].blk;
        if (!nb) {
            /* the prefix up to this step's [] in the written target */
            const char *q = r.target_text;
            size_t arrs = 0;
            for (size_t k = from; k <= j; k++)
                arrs += r.t[k].arr;
            for (size_t k = 0; k < from; k++)
                arrs += r.t[k].arr;
            for (; *q; q++)
                if (q[0] == '[' && q[1] == ']' && --arrs == 0)
                    break;
            return perr(p, st, "%s: its repeated block is not declared; add a rule like "
                               "`%.*s = .items[]` before this line",
                        r.target_text, (int)(q - r.target_text + 2), r.target_text);
        }
        b = nb;
        from = j + 1;
    }
    r.t += from;
    r.nt -= from;
    /* A block declared again appends its elements to the same list; the
     * field rules that follow belong to the latest declaration. */
    if (r.t[r.nt - 1].arr)
        r.blk = oh_arena_alloc(p->a, sizeof(*r.blk));
    b->rules = grow(p->a, b->rules, b->n, &b->cap, sizeof(*b->rules));
    b->rules[b->n++] = r;
    return 0;
}

/* --- tables ------------------------------------------------------------ */

static int table_line(struct ps *p, struct table *t, size_t *cap)
{
    const char *k, *v;
    size_t kl, vl, st = p->i;
    int rc;
    if (peek(p) == '"') {
        if ((rc = qstring(p, &k, &kl)) < 0)
            return rc;
    } else {
        size_t e;
        const char *arrow = NULL;
        for (size_t i = p->i; i + 1 < p->n; i++)
            if (p->s[i] == '=' && p->s[i + 1] == '>') {
                arrow = p->s + i;
                break;
            }
        if (!arrow)
            return perr(p, st, "expected KEY => VALUE (or `end`)");
        e = (size_t)(arrow - p->s);
        while (e > p->i && (p->s[e - 1] == ' ' || p->s[e - 1] == '\t'))
            e--;
        k = dup(p, p->s + p->i, e - p->i);
        kl = e - p->i;
        p->i = (size_t)(arrow - p->s);
    }
    ws(p);
    if (!(p->i + 1 < p->n && p->s[p->i] == '=' && p->s[p->i + 1] == '>'))
        return perr(p, p->i, "expected => after the key");
    p->i += 2;
    ws(p);
    if (peek(p) == '"') {
        if ((rc = qstring(p, &v, &vl)) < 0)
            return rc;
        ws(p);
        if (!at_end(p))
            return perr(p, p->i, "unexpected text after the value");
    } else {
        size_t vs = p->i, e;
        ws(p);
        while (p->i < p->n) { /* up to a comment */
            p->i++;
            ws(p);
        }
        e = p->n;
        /* trim trailing blanks and a trailing comment */
        for (size_t i = vs; i < p->n; i++)
            if (p->s[i] == '#' && i > vs && (p->s[i - 1] == ' ' || p->s[i - 1] == '\t')) {
                e = i;
                break;
            }
        while (e > vs && (p->s[e - 1] == ' ' || p->s[e - 1] == '\t' || p->s[e - 1] == '\r'))
            e--;
        if (e == vs)
            return perr(p, vs, "expected a value after =>");
        v = dup(p, p->s + vs, e - vs);
        vl = e - vs;
    }
    (void)vl;
    if (kl == 1 && k[0] == '*') {
        if (t->dflt)
            return perr(p, st, "table %s has two * rows", t->name);
        t->dflt = v;
        return 0;
    }
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i], k) == 0)
            return perr(p, st, "table %s: key \"%s\" given twice", t->name, k);
    if (t->n == *cap) {
        size_t c2 = *cap;
        t->keys = grow(p->a, t->keys, t->n, cap, sizeof(*t->keys));
        t->vals = grow(p->a, t->vals, t->n, &c2, sizeof(*t->vals));
    }
    t->keys[t->n] = k;
    t->vals[t->n] = v;
    t->n++;
    return 0;
}

static int resolve_expr(struct ps *p, struct expr *e);

static int resolve_filters(struct ps *p, struct expr *e)
{
    for (size_t k = 0; k < e->nfilters; k++) {
        struct filter *f = &e->filters[k];
        int rc;
        for (size_t j = 0; j < f->nargs; j++)
            if ((rc = resolve_expr(p, f->args[j])) < 0)
                return rc;
        if (f->id == F_LOOKUP) {
            const char *tn = f->args[0]->lit;
            for (size_t t = 0; t < p->m->ntables; t++)
                if (strcmp(p->m->tables[t].name, tn) == 0)
                    f->table = &p->m->tables[t];
            if (!f->table) {
                p->line = f->line;
                return perr(p, (size_t)f->args[0]->col - 1, "unknown table %s", tn);
            }
        }
    }
    return 0;
}

static int resolve_expr(struct ps *p, struct expr *e)
{
    int rc;
    if (!e)
        return 0;
    if ((rc = resolve_expr(p, e->a)) < 0 || (rc = resolve_expr(p, e->b)) < 0)
        return rc;
    return e->k == E_PIPE ? resolve_filters(p, e) : 0;
}

static int resolve_block(struct ps *p, struct block *b)
{
    int rc;
    for (size_t i = 0; i < b->n; i++) {
        if ((rc = resolve_expr(p, b->rules[i].e)) < 0)
            return rc;
        if (b->rules[i].blk && (rc = resolve_block(p, b->rules[i].blk)) < 0)
            return rc;
    }
    return 0;
}

static const char *short_name(struct oh_arena *a, const char *file)
{
    const char *last = strrchr(file, '/'), *prev = NULL;
    if (!last)
        return file;
    for (const char *q = file; q < last; q++)
        if (*q == '/')
            prev = q;
    return oh_arena_strdup(a, prev ? prev + 1 : file);
}

int oh_map_compile(const char *text, size_t len, const char *name_for_errors, struct oh_map **out,
                   struct oh_err *err)
{
    struct oh_map *m = NULL;
    struct oh_arena *a = oh_arena_new(0);
    struct ps p = {.a = a, .err = err};
    struct table *tbl = NULL;
    size_t tcap = 0, pos = 0;
    int rc = 0, table_line_no = 0;

    m = oh_arena_alloc(a, sizeof(*m));
    m->arena = a;
    m->file = oh_arena_strdup(a, name_for_errors ? name_for_errors : "<mapping>");
    m->short_name = short_name(a, m->file);
    p.m = m;
    *out = NULL;
    if (memchr(text, '\0', len)) {
        p.line = 1;
        rc = perr(&p, 0, "NUL byte in mapping");
        goto done;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, st;
        const char *w;
        size_t wl;

        p.s = text + pos;
        p.n = end - pos;
        p.i = 0;
        p.line++;
        pos = nl ? end + 1 : len;
        ws(&p);
        if (at_end(&p))
            continue;
        st = p.i;
        if (tbl) {
            size_t save = p.i;
            wl = ident(&p, &w);
            ws(&p);
            if (word_is(w, wl, "end") && at_end(&p)) {
                tbl = NULL;
                continue;
            }
            p.i = save;
            if ((rc = table_line(&p, tbl, &tcap)) < 0)
                goto done;
            continue;
        }
        wl = ident(&p, &w);
        {
            size_t after = p.i;
            int is_dir;
            ws(&p);
            is_dir = wl && peek(&p) != '=' && after < p.n && p.s[after] != '.' && p.s[after] != '[' &&
                     (word_is(w, wl, "map") || word_is(w, wl, "from") || word_is(w, wl, "to") ||
                      word_is(w, wl, "each") || word_is(w, wl, "group-by") ||
                      word_is(w, wl, "table"));
            if (!is_dir && wl && word_is(w, wl, "end") && at_end(&p)) {
                rc = perr(&p, st, "end without table");
                goto done;
            }
            if (is_dir && word_is(w, wl, "table")) {
                const char *tn;
                size_t tnl = ident(&p, &tn);
                if (!tnl) {
                    rc = perr(&p, p.i, "table needs a name");
                    goto done;
                }
                for (size_t t = 0; t < m->ntables; t++)
                    if (word_is(tn, tnl, m->tables[t].name)) {
                        rc = perr(&p, st, "table %.*s defined twice", (int)tnl, tn);
                        goto done;
                    }
                ws(&p);
                if (!at_end(&p)) {
                    rc = perr(&p, p.i, "unexpected text after the table name");
                    goto done;
                }
                m->tables = grow(a, m->tables, m->ntables, &m->tcap, sizeof(*m->tables));
                tbl = &m->tables[m->ntables++];
                memset(tbl, 0, sizeof(*tbl));
                tbl->name = dup(&p, tn, tnl);
                tbl->line = p.line;
                table_line_no = p.line;
                tcap = 0;
                continue;
            }
            if (is_dir) {
                int g = word_is(w, wl, "group-by");
                if ((rc = directive(&p, w, wl, st, g ? &m->group_by : &m->each)) < 0)
                    goto done;
                continue;
            }
        }
        p.i = st;
        if ((rc = rule(&p, st)) < 0)
            goto done;
    }
    if (tbl) {
        p.line = table_line_no;
        rc = perr(&p, 0, "table %s has no `end`", tbl->name);
        goto done;
    }
    p.line = 1;
    if (!m->from) {
        rc = perr(&p, 0, "no `from` line (from json / from csv ... / from order)");
        goto done;
    }
    if (!m->to) {
        rc = perr(&p, 0, "no `to` line (to order / to json ...)");
        goto done;
    }
    if ((rc = resolve_block(&p, &m->top)) < 0)
        goto done;
    if (!m->name) {
        const char *b = strrchr(m->file, '/');
        m->name = oh_arena_strdup(a, b ? b + 1 : m->file);
    }
    *out = m;
done:
    if (rc < 0)
        oh_arena_free(a);
    return rc;
}

int oh_map_load(const char *path, struct oh_map **out, struct oh_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if ((rc = oh_read_file(path, 1u << 20, &buf, &len, err)) < 0) {
        oh_err_prefix(err, "%s", path);
        return rc;
    }
    rc = oh_map_compile(buf, len, path, out, err);
    free(buf);
    return rc;
}

void oh_map_free(struct oh_map *m)
{
    if (!m)
        return;
    oh_map_scratch_free(m);
    oh_arena_free(m->arena);
}

const char *oh_map_name(const struct oh_map *m)
{
    return m->name;
}

const char *oh_map_from(const struct oh_map *m)
{
    return m->from;
}

const char *oh_map_to(const struct oh_map *m)
{
    return m->to;
}

const char *oh_map_message(const struct oh_map *m)
{
    return m->message;
}
