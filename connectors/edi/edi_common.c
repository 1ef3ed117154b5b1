/*
 * edi_common.c — the error list and report, text conversion, element nodes
 * and the loop engine shared by x12.c and edifact.c.
 *
 * The loop engine keeps a stack of open loops. A segment that starts a child
 * loop of an open loop opens it (closing the loops inside that one); a
 * segment that is a member of an open loop goes there (closing inner loops);
 * anything else is kept in the innermost loop, in order, and reported. This
 * is the X12/EDIFACT rule that a loop ends at the first segment that cannot
 * belong to it, without positional (sequence) checking.
 *
 * Speed: the loop tables are text; each is compiled once per process into
 * lookups by segment id (which loop a segment opens, which loops it belongs
 * to), and answers exactly what reading the text would. Elements without a
 * separator, release character or non-ASCII byte (nearly all) become string
 * nodes directly; the general path handles the rest.
 */
#include "edi_int.h"

#include "arena.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void edi_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (!s)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

int edi_valid_tag(const char *s, size_t n)
{
    if (n < 2 || n > 3 || s[0] < 'A' || s[0] > 'Z')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

int edi_is_digits(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

void edi_rcache_init(struct edi_rcache *c, enum oh_edi_syntax syntax)
{
    memset(c, 0, sizeof(*c));
    c->syntax = syntax;
}

/* The rules from r on that name segment seg (r's run), and the highest
 * element they read. */
static size_t rules_run(const struct edi_elemrule *r, const char *seg, size_t n, unsigned *maxel)
{
    size_t k = 0;
    *maxel = 0;
    for (; r && r[k].seg && strlen(r[k].seg) == n && memcmp(r[k].seg, seg, n) == 0; k++)
        if (r[k].elem > *maxel)
            *maxel = r[k].elem;
    return k;
}

const struct edi_elemrule *edi_rules_cached(struct edi_rcache *c, const char *seg, size_t n,
                                            size_t *nrules, unsigned *maxel)
{
    uint32_t code = edi_tag_code(seg, n);
    if (!code) {
        const struct edi_elemrule *r = edi_rules_for(c->syntax, seg, n);
        *nrules = rules_run(r, seg, n, maxel);
        return r;
    }
    unsigned h = (unsigned)((code * 2654435761u) >> 26) & (EDI_RCACHE_SLOTS - 1);
    if (c->code[h] != code) {
        unsigned m;
        c->code[h] = code;
        c->r[h] = edi_rules_for(c->syntax, seg, n);
        c->nr[h] = (uint16_t)rules_run(c->r[h], seg, n, &m);
        c->maxel[h] = m;
    }
    *nrules = c->nr[h];
    *maxel = c->maxel[h];
    return c->r[h];
}

/* ---- word-at-a-time byte search ---- */

#define ONES 0x0101010101010101ull
#define LOW7 0x7F7F7F7F7F7F7F7Full
#define HIGH 0x8080808080808080ull

/* High bit of each byte of x that is zero (exact, no false positives). */
static inline uint64_t zero_bytes(uint64_t x)
{
    return ~(((x & LOW7) + LOW7) | x | LOW7);
}

static inline uint64_t load64(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EDI_SWAR 1
#else
#define EDI_SWAR 0
#endif

size_t edi_split(const char *s, size_t n, char sep, struct edi_slice *el, size_t max)
{
    size_t k = 0, start = 0, i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i vs = _mm_set1_epi8(sep);
        for (;; i += 16) {
            unsigned m;
            size_t base = i;
            if (i + 16 <= n) {
                m = (unsigned)_mm_movemask_epi8(
                    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), vs));
            } else if (i < n) {
                /* the last 16 bytes, keeping only those not looked at yet */
                base = n - 16;
                m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
                        _mm_loadu_si128((const __m128i *)(const void *)(s + base)), vs)) &
                    (0xFFFFu << (16 - (n - i)));
            } else {
                break;
            }
            while (m) {
                size_t j = base + (size_t)__builtin_ctz(m);
                if (k < max) {
                    el[k].p = s + start;
                    el[k].n = j - start;
                }
                k++;
                start = j + 1;
                m &= m - 1;
            }
            if (base != i)
                break;
        }
        i = n;
    }
#endif
#if EDI_SWAR
    uint64_t pat = ONES * (unsigned char)sep;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = zero_bytes(load64(s + i) ^ pat);
        while (m) {
            size_t j = i + ((size_t)__builtin_ctzll(m) >> 3);
            if (k < max) {
                el[k].p = s + start;
                el[k].n = j - start;
            }
            k++;
            start = j + 1;
            m &= m - 1;
        }
    }
    if (i < n && n >= 8) {
        /* the last 8 bytes, keeping only the n - i not looked at yet */
        uint64_t m = zero_bytes(load64(s + n - 8) ^ pat) & (~0ull << (8 * (8 - (n - i))));
        while (m) {
            size_t j = n - 8 + ((size_t)__builtin_ctzll(m) >> 3);
            if (k < max) {
                el[k].p = s + start;
                el[k].n = j - start;
            }
            k++;
            start = j + 1;
            m &= m - 1;
        }
        i = n;
    }
#endif
    for (; i < n; i++) {
        if (s[i] == sep) {
            if (k < max) {
                el[k].p = s + start;
                el[k].n = i - start;
            }
            k++;
            start = i + 1;
        }
    }
    if (k < max) {
        el[k].p = s + start;
        el[k].n = n - start;
    }
    return k + 1;
}

size_t edi_split_upto(const char *s, size_t n, char sep, struct edi_slice *el, size_t want)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == sep) {
            el[k].p = s + start;
            el[k].n = i - start;
            start = i + 1;
            if (++k == want)
                return k;
        }
    }
    el[k].p = s + start;
    el[k].n = n - start;
    return k + 1;
}

/* 1 when s[0..n) holds none of comp, rep, rel (0 = none) and no byte >= 0x80:
 * such text is its own string node. */
static int plain_text(const char *s, size_t n, char comp, char rep, char rel)
{
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i vc = _mm_set1_epi8(comp ? comp : (char)0x80);
        const __m128i vr = _mm_set1_epi8(rep ? rep : (char)0x80);
        const __m128i vl = _mm_set1_epi8(rel ? rel : (char)0x80);
        for (;; i += 16) {
            const char *q = i + 16 <= n ? s + i : s + n - 16; /* the last block overlaps */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
            __m128i m = _mm_or_si128(_mm_or_si128(v, _mm_cmpeq_epi8(v, vc)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, vr), _mm_cmpeq_epi8(v, vl)));
            if (_mm_movemask_epi8(m))
                return 0;
            if (i + 16 >= n)
                return 1;
        }
    }
#endif
#if EDI_SWAR
    /* an absent separator is replaced by a byte >= 0x80, which fails anyway */
    uint64_t pc = ONES * (unsigned char)(comp ? comp : '\x80');
    uint64_t pr = ONES * (unsigned char)(rep ? rep : '\x80');
    uint64_t pl = ONES * (unsigned char)(rel ? rel : '\x80');
    for (; i + 8 <= n; i += 8) {
        uint64_t x = load64(s + i);
        if ((x & HIGH) | zero_bytes(x ^ pc) | zero_bytes(x ^ pr) | zero_bytes(x ^ pl))
            return 0;
    }
    if (i < n && n >= 8) {
        /* the last 8 bytes (some looked at twice: harmless here) */
        uint64_t x = load64(s + n - 8);
        return !((x & HIGH) | zero_bytes(x ^ pc) | zero_bytes(x ^ pr) | zero_bytes(x ^ pl));
    }
#endif
    for (; i < n; i++) {
        char c = s[i];
        if ((unsigned char)c >= 0x80 || (comp && c == comp) || (rep && c == rep) ||
            (rel && c == rel))
            return 0;
    }
    return 1;
}

struct oh_edi_report *edi_report_new(enum oh_edi_syntax syntax)
{
    struct oh_edi_report *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->syntax = syntax;
    return r;
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 8;
    void *q = realloc(p, nc * size);
    if (!q)
        abort();
    memset((char *)q + *cap * size, 0, (nc - *cap) * size);
    *cap = nc;
    return q;
}

/* Capacities are kept next to the arrays' lengths by doubling from 8; the
 * capacity is recomputed from the length (powers of two), so the public
 * structs need no capacity fields. */
static size_t cap_of(size_t n)
{
    size_t c = 8;
    while (c < n)
        c *= 2;
    return n ? c : 0;
}

struct oh_edi_ichg_info *edi_report_add_ichg(struct oh_edi_report *r)
{
    size_t cap = cap_of(r->nichg);
    r->ichg = grow(r->ichg, &cap, r->nichg, sizeof(*r->ichg));
    struct oh_edi_ichg_info *ic = &r->ichg[r->nichg++];
    memset(ic, 0, sizeof(*ic));
    ic->ordinal = (int)r->nichg;
    ic->status = OH_EDI_ACCEPTED;
    return ic;
}

struct oh_edi_group_info *edi_report_add_group(struct oh_edi_ichg_info *ic)
{
    size_t cap = cap_of(ic->ngroups);
    ic->groups = grow(ic->groups, &cap, ic->ngroups, sizeof(*ic->groups));
    struct oh_edi_group_info *g = &ic->groups[ic->ngroups++];
    memset(g, 0, sizeof(*g));
    g->ordinal = (int)ic->ngroups;
    g->status = OH_EDI_ACCEPTED;
    return g;
}

void edi_set_finish(struct oh_edi_report *r, struct oh_edi_group_info *g,
                    struct oh_edi_set_info *si, size_t nerr0, size_t nerrors0,
                    size_t nwarn_codes, int keep)
{
    si->first_err = nerr0;
    si->nerr = r->nerr - nerr0;
    for (size_t i = nerr0; i < r->nerr; i++)
        if (r->err[i].set_code && !si->set_code)
            si->set_code = r->err[i].set_code;
    if (r->nerrors > nerrors0) {
        si->status = OH_EDI_REJECTED;
        g->nrejected++;
    } else if (nwarn_codes) {
        si->status = OH_EDI_ACCEPTED_ERRORS;
        g->nwarned++;
        g->naccepted++;
    } else {
        si->status = OH_EDI_ACCEPTED;
        g->naccepted++;
    }
    g->nsets++;
    r->nsets++;
    if (keep)
        edi_group_keep_set(g, si);
}

int edi_group_keep_set(struct oh_edi_group_info *g, const struct oh_edi_set_info *si)
{
    size_t cap = cap_of(g->nsets_kept);
    g->sets = grow(g->sets, &cap, g->nsets_kept, sizeof(*g->sets));
    g->sets[g->nsets_kept++] = *si;
    return 0;
}

void oh_edi_report_free(struct oh_edi_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nichg; i++) {
        for (size_t j = 0; j < r->ichg[i].ngroups; j++)
            free(r->ichg[i].groups[j].sets);
        free(r->ichg[i].groups);
    }
    free(r->ichg);
    free(r->err);
    free(r);
}

void oh_edi_report_print(const struct oh_edi_report *r, FILE *f)
{
    for (size_t i = 0; i < r->nerr; i++)
        fprintf(f, "%s: %s\n", r->err[i].severity == OH_EDI_ERROR ? "error" : "warning",
                r->err[i].msg);
    if (r->errors_truncated)
        fprintf(f, "error: too many errors; later ones were not kept\n");
}

void edi_err_add(struct oh_edi_report *r, size_t max, const struct edi_loc *loc,
                 enum oh_edi_severity sev, const char *elem_ref, int elem, int comp,
                 struct edi_codes codes, const char *fmt, ...)
{
    if (sev == OH_EDI_ERROR)
        r->nerrors++;
    else
        r->nwarnings++;
    if (!max)
        max = 10000;
    if (r->nerr >= max) {
        r->errors_truncated = 1;
        return;
    }
    size_t cap = cap_of(r->nerr);
    r->err = grow(r->err, &cap, r->nerr, sizeof(*r->err));
    struct oh_edi_error *e = &r->err[r->nerr++];
    memset(e, 0, sizeof(*e));
    e->severity = sev;
    e->interchange = loc->ichg;
    e->group = loc->group;
    e->set = loc->set;
    memcpy(e->icn, loc->icn, sizeof(e->icn));
    memcpy(e->gcn, loc->gcn, sizeof(e->gcn));
    memcpy(e->scn, loc->scn, sizeof(e->scn));
    e->seg_pos = loc->seg_pos;
    memcpy(e->seg_id, loc->seg_id, sizeof(e->seg_id));
    memcpy(e->loop_id, loc->loop_id, sizeof(e->loop_id));
    e->elem = elem;
    e->comp = comp;
    edi_copy(e->elem_ref, sizeof(e->elem_ref), elem_ref, strlen(elem_ref));
    e->seg_code = codes.seg;
    e->elem_code = codes.elem;
    e->set_code = codes.set;
    e->group_code = codes.group;
    e->ichg_code = codes.ichg;

    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    int x12 = loc->syntax == OH_EDI_X12;
    size_t n = 0, sz = sizeof(e->msg);
    if (loc->ichg)
        n += (size_t)snprintf(e->msg + n, sz - n, "interchange %s",
                              loc->icn[0] ? loc->icn : "(no control number)");
    else
        n += (size_t)snprintf(e->msg + n, sz - n, "file");
    if (loc->group && n < sz && (x12 || loc->gcn[0]))
        n += (size_t)snprintf(e->msg + n, sz - n, " group %s", loc->gcn[0] ? loc->gcn : "?");
    if (loc->set && n < sz)
        n += (size_t)snprintf(e->msg + n, sz - n, " %s %s", x12 ? "set" : "message",
                              loc->scn[0] ? loc->scn : "?");
    if (n < sz)
        n += (size_t)snprintf(e->msg + n, sz - n, ": %s", what);
    if (loc->seg_pos && n < sz)
        snprintf(e->msg + n, sz - n, " (segment %u%s%s)", loc->seg_pos,
                 loc->seg_id[0] ? ", " : "", loc->seg_id);
}

enum oh_edi_syntax oh_edi_detect(const char *data, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (len - i >= 4 && memcmp(data + i, "ISA", 3) == 0)
        return OH_EDI_X12;
    if (len - i >= 4 && (memcmp(data + i, "UNA", 3) == 0 || memcmp(data + i, "UNB", 3) == 0))
        return OH_EDI_EDIFACT;
    return OH_EDI_UNKNOWN;
}

/* ---- text ---- */

char *edi_to_utf8(struct oh_arena *a, const char *s, size_t n, size_t *outlen, int *was)
{
    size_t i = 0;
    while (i < n && !((unsigned char)s[i] & 0x80))
        i++;
    if (i == n || oh_utf8_check(s, n) == 0) {
        *was = i == n ? 0 : 1;
        *outlen = n;
        return oh_arena_strndup(a, s, n);
    }
    *was = 2;
    size_t extra = 0;
    for (size_t k = 0; k < n; k++)
        extra += ((unsigned char)s[k] & 0x80) ? 1 : 0;
    char *o = oh_arena_try_alloc(a, n + extra + 1);
    if (!o)
        return NULL;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x80) {
            o[m++] = (char)c;
        } else {
            o[m++] = (char)(0xC0 | (c >> 6));
            o[m++] = (char)(0x80 | (c & 0x3F));
        }
    }
    o[m] = '\0';
    *outlen = m;
    return o;
}

/* Next piece of p[0..n) up to sep (not released by rel). */
static size_t piece_end(const char *p, size_t n, char sep, char rel)
{
    size_t i = 0;
    while (i < n) {
        if (rel && p[i] == rel) {
            i += 2;
            continue;
        }
        if (p[i] == sep)
            return i;
        i++;
    }
    return n;
}

static int has_sep(const char *p, size_t n, char sep, char rel)
{
    return sep && piece_end(p, n, sep, rel) < n;
}

static struct oh_node *scalar(struct oh_arena *a, const char *p, size_t n, char rel,
                              int *flags)
{
    char tmp[256];
    char *buf = NULL;
    const char *src = p;
    if (rel && memchr(p, rel, n)) {
        buf = n < sizeof(tmp) ? tmp : oh_arena_try_alloc(a, n);
        if (!buf)
            return NULL;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == rel && i + 1 < n)
                i++;
            buf[m++] = p[i];
        }
        src = buf;
        n = m;
    }
    size_t len;
    int was;
    char *s = edi_to_utf8(a, src, n, &len, &was);
    if (!s)
        return NULL;
    *flags |= was == 1 ? 1 : was == 2 ? 2 : 0;
    struct oh_node *node = oh_node_new(a, OH_NODE_STRING);
    if (!node)
        return NULL;
    node->s = s;
    node->len = (uint32_t)len;
    return node;
}

static const char *const comp_keys[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};

static int set_key_num(struct oh_arena *a, struct oh_node *n, unsigned k, int two)
{
    char key[12];
    if (!two && k >= 1 && k <= 9) {
        n->key = comp_keys[k - 1];
        n->key_len = 1;
        return 0;
    }
    int len = snprintf(key, sizeof(key), two ? "%02u" : "%u", k);
    return oh_node_set_key(a, n, key, (size_t)len);
}

/* One repetition: scalar or composite (NULL + *empty when no data). */
static struct oh_node *one_value(struct oh_arena *a, const char *p, size_t n, char comp,
                                 char rel, int *empty, int *flags, int keep_empty)
{
    *empty = 0;
    if (!has_sep(p, n, comp, rel)) {
        if (!n && !keep_empty) {
            *empty = 1;
            return NULL;
        }
        return scalar(a, p, n, rel, flags);
    }
    struct oh_node *obj = oh_node_new(a, OH_NODE_OBJECT);
    if (!obj)
        return NULL;
    unsigned k = 1;
    for (;;) {
        size_t e = piece_end(p, n, comp, rel);
        if (e) {
            struct oh_node *c = scalar(a, p, e, rel, flags);
            if (!c || set_key_num(a, c, k, 0) < 0)
                return NULL;
            oh_node_append(obj, c);
        }
        if (e >= n)
            break;
        p += e + 1;
        n -= e + 1;
        k++;
    }
    if (!obj->count && !keep_empty) {
        *empty = 1;
        return NULL;
    }
    return obj;
}

struct oh_node *edi_elem_node(struct oh_arena *a, const char *p, size_t n, char comp, char rep,
                              char rel, int *empty, int *flags)
{
    if (!has_sep(p, n, rep, rel))
        return one_value(a, p, n, comp, rel, empty, flags, 0);
    *empty = 0;
    struct oh_node *arr = oh_node_new(a, OH_NODE_ARRAY);
    if (!arr)
        return NULL;
    for (;;) {
        size_t e = piece_end(p, n, rep, rel);
        int em;
        struct oh_node *v = one_value(a, p, e, comp, rel, &em, flags, 1);
        if (!v)
            return NULL;
        oh_node_append(arr, v);
        if (e >= n)
            break;
        p += e + 1;
        n -= e + 1;
    }
    return arr;
}

/* ---- loop engine ---- */

static int word_in(const char *list, const char *w)
{
    size_t wl = strlen(w);
    const char *p = list;
    if (!wl)
        return 0;
    while ((p = strstr(p, w)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
            return 1;
        p += wl;
    }
    return 0;
}

/* A loop table as lookups. Scopes: 0 is the set level, 1 + i is loops[i].
 * Segment ids of the table (1-7 bytes, no blank) get small numbers; for each
 * scope and id: the loop the id opens there (child_loop's answer, by the
 * scope's name) and whether the scope lists the id as a member. */
#define CS_TAGS 128
#define CS_LOOPS 48
#define CS_HASH 256

struct edi_cschema {
    int ntags;
    uint64_t tag[CS_TAGS];            /* packed id: bytes, length in the top byte */
    uint16_t hash[CS_HASH];           /* 1 + tag index, 0 = empty */
    uint8_t child[CS_LOOPS + 1][CS_TAGS]; /* 1 + loop index, 0 = none */
    uint64_t member[CS_LOOPS + 1][CS_TAGS / 64];
    const struct edi_loopdef *hl;     /* child_loop(sc, "", "HL") */
};

/* Packs a NUL-terminated id of 1-7 bytes; 0 when it has another length or
 * a blank (those take the text path). */
static uint64_t id_code(const char *id, size_t n)
{
    if (n == 0 || n > 7)
        return 0;
    uint64_t c = (uint64_t)n << 56;
    for (size_t i = 0; i < n; i++) {
        if (id[i] == ' ' || id[i] == '\0')
            return 0;
        c |= (uint64_t)(unsigned char)id[i] << (8 * i);
    }
    return c;
}

static unsigned id_hash(uint64_t c)
{
    return (unsigned)((c * 0x9E3779B97F4A7C15ull) >> 56) & (CS_HASH - 1);
}

static int cs_find(const struct edi_cschema *cs, uint64_t c)
{
    for (unsigned h = id_hash(c);; h = (h + 1) & (CS_HASH - 1)) {
        unsigned v = cs->hash[h];
        if (!v)
            return -1;
        if (cs->tag[v - 1] == c)
            return (int)v - 1;
    }
}

/* Adds the words of list; -1 when a word cannot be packed or the table is full. */
static int cs_words(struct edi_cschema *cs, const char *list, int scope_member)
{
    const char *w = list;
    while (*w) {
        while (*w == ' ')
            w++;
        size_t n = strcspn(w, " ");
        if (!n)
            break;
        uint64_t c = id_code(w, n);
        if (!c)
            return -1;
        int ti = cs_find(cs, c);
        if (ti < 0) {
            if (cs->ntags >= CS_TAGS)
                return -1;
            ti = cs->ntags++;
            cs->tag[ti] = c;
            unsigned h = id_hash(c);
            while (cs->hash[h])
                h = (h + 1) & (CS_HASH - 1);
            cs->hash[h] = (uint16_t)(ti + 1);
        }
        if (scope_member >= 0)
            cs->member[scope_member][ti / 64] |= 1ull << (ti % 64);
        w += n;
    }
    return 0;
}

static const struct edi_loopdef *child_loop(const struct edi_schema *sc, const char *parent,
                                            const char *id);

static int cs_compile(struct edi_cschema *cs, const struct edi_schema *sc)
{
    int nl = 0;
    memset(cs, 0, sizeof(*cs));
    for (const struct edi_loopdef *l = sc->loops; l && l->name; l++)
        if (++nl > CS_LOOPS)
            return -1;
    if (cs_words(cs, sc->root, 0) < 0)
        return -1;
    for (int i = 0; i < nl; i++) {
        const struct edi_loopdef *l = &sc->loops[i];
        if (cs_words(cs, l->trigger, -1) < 0 || cs_words(cs, l->members, 1 + i) < 0)
            return -1;
        /* a trigger is one word: "" or "A B" would match differently as text */
        if (!id_code(l->trigger, strlen(l->trigger)))
            return -1;
    }
    for (int scope = 0; scope <= nl; scope++) {
        const char *name = scope ? sc->loops[scope - 1].name : "";
        for (int ti = 0; ti < cs->ntags; ti++) {
            char id[8];
            uint64_t c = cs->tag[ti];
            size_t n = (size_t)(c >> 56);
            for (size_t k = 0; k < n; k++)
                id[k] = (char)(c >> (8 * k));
            id[n] = '\0';
            const struct edi_loopdef *l = child_loop(sc, name, id);
            if (l)
                cs->child[scope][ti] = (uint8_t)(1 + (l - sc->loops));
        }
    }
    cs->hl = child_loop(sc, "", "HL");
    return 0;
}

/* Compiled tables, shared by all threads: filled once under the lock, then
 * read without it (a slot's key is published after its table). */
#define CS_SLOTS 32
static struct edi_cschema cs_table[CS_SLOTS];
static const struct edi_schema *_Atomic cs_key[CS_SLOTS];
static int cs_bad[CS_SLOTS];
static pthread_mutex_t cs_mu = PTHREAD_MUTEX_INITIALIZER;

static const struct edi_cschema *cs_get(const struct edi_schema *sc)
{
    const struct edi_cschema *r = NULL;
    int i;
    for (i = 0; i < CS_SLOTS; i++) {
        const struct edi_schema *k = atomic_load_explicit(&cs_key[i], memory_order_acquire);
        if (k == sc)
            return cs_bad[i] ? NULL : &cs_table[i];
        if (!k)
            break;
    }
    if (i == CS_SLOTS)
        return NULL;
    pthread_mutex_lock(&cs_mu);
    for (i = 0; i < CS_SLOTS; i++) {
        const struct edi_schema *k = atomic_load_explicit(&cs_key[i], memory_order_relaxed);
        if (k == sc) {
            r = cs_bad[i] ? NULL : &cs_table[i];
            goto done;
        }
        if (!k)
            break;
    }
    if (i < CS_SLOTS) {
        cs_bad[i] = cs_compile(&cs_table[i], sc) < 0;
        atomic_store_explicit(&cs_key[i], sc, memory_order_release);
        r = cs_bad[i] ? NULL : &cs_table[i];
    }
done:
    pthread_mutex_unlock(&cs_mu);
    return r;
}

void edi_tree_init(struct edi_tree *t, struct oh_arena *a, const struct edi_schema *sc,
                   struct oh_node *set)
{
    t->a = a;
    t->sc = sc;
    t->cs = sc ? cs_get(sc) : NULL;
    t->depth = 0;
    t->st[0].def = NULL;
    t->st[0].node = set;
    t->st[0].hl[0] = '\0';
}

const char *edi_tree_loop(const struct edi_tree *t)
{
    return t->depth ? t->st[t->depth].def->trigger : "";
}

static const struct edi_loopdef *child_loop(const struct edi_schema *sc, const char *parent,
                                            const char *id)
{
    for (const struct edi_loopdef *l = sc->loops; l && l->name; l++)
        if (strcmp(l->trigger, id) == 0 && strcmp(l->parent, parent) == 0)
            return l;
    return NULL;
}

static int in_schema(const struct edi_schema *sc, const char *id)
{
    if (word_in(sc->root, id))
        return 1;
    for (const struct edi_loopdef *l = sc->loops; l && l->name; l++)
        if (strcmp(l->trigger, id) == 0 || word_in(l->members, id))
            return 1;
    return 0;
}

static void push(struct edi_tree *t, const struct edi_loopdef *def, struct oh_node *seg,
                 const char *hl)
{
    oh_node_append(t->st[t->depth].node, seg);
    if (t->depth + 1 >= EDI_MAX_DEPTH)
        return; /* XXX: deeper nesting is kept flat; no real set nests this deep */
    t->depth++;
    t->st[t->depth].def = def;
    t->st[t->depth].node = seg;
    edi_copy(t->st[t->depth].hl, sizeof(t->st[t->depth].hl), hl, hl ? strlen(hl) : 0);
}

/* HL: nest under the open HL whose HL01 is hl_parent; no parent: top. */
static int add_hl(struct edi_tree *t, struct oh_node *seg, const char *hl_id,
                  const char *hl_parent)
{
    const struct edi_loopdef *def = t->cs ? t->cs->hl : child_loop(t->sc, "", "HL");
    int d = t->depth;
    int found = 0;
    if (hl_parent && *hl_parent) {
        for (; d > 0; d--)
            if (t->st[d].def == def && strcmp(t->st[d].hl, hl_parent) == 0) {
                found = 1;
                break;
            }
    }
    if (!found)
        d = 0;
    t->depth = d;
    push(t, def, seg, hl_id);
    return (hl_parent && *hl_parent && !found) ? 2 : 0;
}

int edi_tree_add(struct edi_tree *t, struct oh_node *seg, const char *id, const char *hl_id,
                 const char *hl_parent)
{
    const struct edi_schema *sc = t->sc;
    if (!sc) {
        oh_node_append(t->st[0].node, seg);
        return 0;
    }
    if (sc->hl && id[0] == 'H' && id[1] == 'L' && id[2] == '\0')
        return add_hl(t, seg, hl_id, hl_parent);
    const struct edi_cschema *cs = t->cs;
    uint64_t code = 0;
    if (cs) {
        size_t n = 0;
        while (n < 8 && id[n])
            n++;
        code = id_code(id, n);
    }
    if (code) {
        int ti = cs_find(cs, code);
        if (ti < 0) {
            /* not in the table at all: no loop opens or holds it */
            oh_node_append(t->st[t->depth].node, seg);
            return 6;
        }
        uint64_t bit = 1ull << (ti % 64);
        for (int d = t->depth; d >= 0; d--) {
            int scope = d ? (int)(t->st[d].def - sc->loops) + 1 : 0;
            int c = cs->child[scope][ti];
            if (c) {
                t->depth = d;
                push(t, &sc->loops[c - 1], seg, NULL);
                return 0;
            }
            if (cs->member[scope][ti / 64] & bit) {
                t->depth = d;
                oh_node_append(t->st[d].node, seg);
                return 0;
            }
        }
        oh_node_append(t->st[t->depth].node, seg);
        return 2;
    }
    for (int d = t->depth; d >= 0; d--) {
        const char *name = d ? t->st[d].def->name : "";
        const struct edi_loopdef *c = child_loop(sc, name, id);
        if (c) {
            t->depth = d;
            push(t, c, seg, NULL);
            return 0;
        }
        if (word_in(d ? t->st[d].def->members : sc->root, id)) {
            t->depth = d;
            oh_node_append(t->st[d].node, seg);
            return 0;
        }
    }
    oh_node_append(t->st[t->depth].node, seg);
    return in_schema(sc, id) ? 2 : 6;
}

/* ---- segments ---- */

static const char *const K2[100] = {"00", "01", "02", "03", "04", "05", "06", "07", "08", "09",
    "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24",
    "25", "26", "27", "28", "29", "30", "31", "32", "33", "34", "35", "36", "37", "38", "39",
    "40", "41", "42", "43", "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54",
    "55", "56", "57", "58", "59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69",
    "70", "71", "72", "73", "74", "75", "76", "77", "78", "79", "80", "81", "82", "83", "84",
    "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "95", "96", "97", "98", "99"};

const char *edi_key2(unsigned pos, char buf[12])
{
    if (pos < 100)
        return K2[pos];
    snprintf(buf, 12, "%u", pos);
    return buf;
}

/* A string node for plain text (see plain_text): what scalar() makes of it,
 * with the same allocations in the same order (text, then node), so the
 * arena fills and reaches its limit exactly as on the general path. */
/* memcpy for the short texts of elements (no library call). */
static inline void copy_short(char *d, const char *s, size_t n)
{
#if EDI_SWAR
    if (n >= 8 && n <= 16) {
        uint64_t a = load64(s), b = load64(s + n - 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
        return;
    }
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
        return;
    }
#endif
    memcpy(d, s, n);
}

static struct oh_node *plain_node(struct oh_arena *a, const char *p, size_t n)
{
    char *s = oh_arena_try_alloc(a, n + 1);
    if (!s)
        return NULL;
    copy_short(s, p, n);
    s[n] = '\0';
    struct oh_node *node = oh_arena_try_alloc(a, sizeof(*node));
    if (!node)
        return NULL;
    *node = (struct oh_node){.type = OH_NODE_STRING, .s = s, .len = (uint32_t)n};
    return node;
}

struct oh_node *edi_seg_node(struct oh_arena *a, const struct edi_slice *el, size_t nel,
                             char comp, char rep, char rel, uint64_t skip, uint32_t segpos,
                             int *flags)
{
    struct oh_node *seg = oh_arena_try_alloc(a, sizeof(*seg));
    if (!seg)
        return NULL;
    *seg = (struct oh_node){.type = OH_NODE_OBJECT, .col = segpos};
    char *key = oh_arena_try_alloc(a, el[0].n + 1);
    if (!key)
        return NULL;
    copy_short(key, el[0].p, el[0].n);
    key[el[0].n] = '\0';
    seg->key = key;
    seg->key_len = (uint32_t)el[0].n;
    /* Elements are usually consecutive slices of one segment: one look at
     * the whole span tells whether every element is plain text. */
    int all_plain = 0;
    if (nel > 1) {
        const char *b = el[1].p, *e = el[1].p + el[1].n;
        size_t i = 2;
        for (; i < nel && el[i].p == e + 1; i++)
            e = el[i].p + el[i].n;
        all_plain = i == nel && plain_text(b, (size_t)(e - b), comp, rep, rel);
    }
    for (size_t i = 1; i < nel; i++) {
        if (!el[i].n || (i < 64 && (skip >> i) & 1))
            continue;
        struct oh_node *v;
        if (all_plain || plain_text(el[i].p, el[i].n, comp, rep, rel)) {
            if (!(v = plain_node(a, el[i].p, el[i].n)))
                return NULL;
        } else {
            int empty;
            v = edi_elem_node(a, el[i].p, el[i].n, comp, rep, rel, &empty, flags);
            if (empty)
                continue;
            if (!v)
                return NULL;
        }
        if (i < 100) {
            v->key = K2[i];
            v->key_len = 2;
        } else {
            char kb[12];
            int kl = snprintf(kb, sizeof(kb), "%zu", i);
            if (oh_node_set_key(a, v, kb, (size_t)kl) < 0)
                return NULL;
        }
        if (seg->last)
            seg->last->next = v;
        else
            seg->first = v;
        seg->last = v;
        seg->count++;
    }
    return seg;
}
