/*
 * edi_int.h — internals shared by the X12 and EDIFACT codecs: the error list,
 * text conversion, the loop (segment group) engine and its tables. Not a
 * public interface.
 */
#ifndef OH_EDI_INT_H
#define OH_EDI_INT_H

#include "edi.h"

#include <stdarg.h>

struct oh_arena;

/* Where the parser is, for error messages. */
struct edi_loc {
    enum oh_edi_syntax syntax;
    int ichg, group, set;
    char icn[16], gcn[16], scn[16];
    uint32_t seg_pos;
    char seg_id[8];
    char loop_id[8];
};

struct edi_codes {
    int seg, elem, set, group, ichg;
};

/* Adds an error (or warning) located at loc. elem_ref may be "". */
void edi_err_add(struct oh_edi_report *r, size_t max, const struct edi_loc *loc,
                 enum oh_edi_severity sev, const char *elem_ref, int elem, int comp,
                 struct edi_codes codes, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

struct oh_edi_report *edi_report_new(enum oh_edi_syntax syntax);
struct oh_edi_ichg_info *edi_report_add_ichg(struct oh_edi_report *r);
struct oh_edi_group_info *edi_report_add_group(struct oh_edi_ichg_info *ic);
int edi_group_keep_set(struct oh_edi_group_info *g, const struct oh_edi_set_info *si);
/* A set's end, the same for X12 and EDIFACT: its errors (those the report
 * gained since nerr0/nerrors0), its status (rejected when it gained an error,
 * accepted with errors when it gained warning codes), the group's and the
 * report's counts, and the kept copy when keep is set. */
void edi_set_finish(struct oh_edi_report *r, struct oh_edi_group_info *g,
                    struct oh_edi_set_info *si, size_t nerr0, size_t nerrors0,
                    size_t nwarn_codes, int keep);

/* Copies a field into a fixed buffer (truncating). */
void edi_copy(char *dst, size_t cap, const char *s, size_t n);

/* Converts input text to UTF-8 in the arena: ASCII and valid UTF-8 are kept,
 * anything else is read as Latin-1. *was: 0 ASCII, 1 UTF-8, 2 Latin-1. */
char *edi_to_utf8(struct oh_arena *a, const char *s, size_t n, size_t *outlen, int *was);

/* ---- loops ---- */

struct edi_loopdef {
    const char *name;    /* unique in its set: "N1", "PO1/N1" */
    const char *trigger; /* the loop's first segment */
    const char *parent;  /* parent loop's name, "" = the set itself */
    const char *members; /* space-separated segment ids */
};

struct edi_schema {
    enum oh_edi_syntax syntax;
    const char *id;       /* "850", "ORDERS" */
    int hl;               /* HL loops nest by HL02 */
    const char *root;     /* segments at the set level */
    const struct edi_loopdef *loops;
};

const struct edi_schema *edi_schema_find(enum oh_edi_syntax syntax, const char *id);

struct edi_elemrule {
    enum oh_edi_syntax syntax;
    const char *seg;
    unsigned elem, comp; /* comp 0: the element itself (or its first component) */
    char type;           /* 'n' numeric, 'a' any */
    size_t maxlen;       /* characters, 0 = no rule */
};
/* First rule of segment seg (rules of one segment are consecutive). */
const struct edi_elemrule *edi_rules_for(enum oh_edi_syntax syntax, const char *seg, size_t n);
/* 0 OK, 1 too long, 2 not a number. */
int edi_rule_check(const struct edi_elemrule *r, const char *v, size_t n, char dec);

/* Element rules by segment id, cached per parse: a small table keyed by the
 * id (ids of 1-3 bytes; longer ones are looked up every time). */
#define EDI_RCACHE_SLOTS 64
struct edi_rcache {
    enum oh_edi_syntax syntax;
    uint32_t code[EDI_RCACHE_SLOTS]; /* 0 = empty slot */
    const struct edi_elemrule *r[EDI_RCACHE_SLOTS];
    uint16_t nr[EDI_RCACHE_SLOTS];
    unsigned maxel[EDI_RCACHE_SLOTS];
};
void edi_rcache_init(struct edi_rcache *c, enum oh_edi_syntax syntax);
/* Same answer as edi_rules_for(c->syntax, seg, n); *nrules: how many rules
 * from there on name seg (the run a caller walks), *maxel: the highest
 * element they read (0 when none). */
const struct edi_elemrule *edi_rules_cached(struct edi_rcache *c, const char *seg, size_t n,
                                            size_t *nrules, unsigned *maxel);
/* 1-3 byte segment id packed in an integer (0 for other lengths): ids
 * compare as one integer compare. */
static inline uint32_t edi_tag_code(const char *s, size_t n)
{
    if (n == 0 || n > 3)
        return 0;
    uint32_t c = (uint32_t)n << 24 | (uint32_t)(unsigned char)s[0];
    if (n > 1)
        c |= (uint32_t)(unsigned char)s[1] << 8;
    if (n > 2)
        c |= (uint32_t)(unsigned char)s[2] << 16;
    return c;
}
#define EDI_TAG2(a, b) ((uint32_t)2 << 24 | (uint32_t)(b) << 8 | (uint32_t)(a))
#define EDI_TAG3(a, b, c) ((uint32_t)3 << 24 | (uint32_t)(c) << 16 | (uint32_t)(b) << 8 | (uint32_t)(a))

#define EDI_MAX_DEPTH 24

struct edi_cschema; /* a loop table compiled to lookups (edi_common.c) */

struct edi_tree {
    struct oh_arena *a;
    const struct edi_schema *sc;
    const struct edi_cschema *cs; /* NULL: the table is read as text */
    int depth;
    struct {
        const struct edi_loopdef *def; /* NULL at depth 0 */
        struct oh_node *node;
        char hl[16];                   /* HL01 of an HL level */
    } st[EDI_MAX_DEPTH];
};

void edi_tree_init(struct edi_tree *t, struct oh_arena *a, const struct edi_schema *sc,
                   struct oh_node *set);
/* Places seg (already keyed) in the tree. Returns 0 when the schema knows
 * it there, 2 when the segment belongs to the set but not here, 6 when the
 * set's table does not have it (it is still kept, in order, in the
 * innermost open loop). hl_id/hl_parent: HL01/HL02 for HL segments. */
int edi_tree_add(struct edi_tree *t, struct oh_node *seg, const char *id, const char *hl_id,
                 const char *hl_parent);
/* The innermost open loop's trigger, "" at the set level. */
const char *edi_tree_loop(const struct edi_tree *t);

/* Segment text split into elements (slices of the parser's buffer). */
#define EDI_MAX_ELEMS 512
struct edi_slice {
    const char *p;
    size_t n;
};

/* Splits s[0..n) at sep into el (at most max kept); returns the number of
 * pieces (which may exceed max). */
size_t edi_split(const char *s, size_t n, char sep, struct edi_slice *el, size_t max);
/* The first want pieces only, each delimited as edi_split would: returns
 * how many (fewer when s has fewer). */
size_t edi_split_upto(const char *s, size_t n, char sep, struct edi_slice *el, size_t want);

/* Element/component/repetition to node. rel: release char or 0 (then no
 * unescaping). Returns NULL past the arena limit; *empty set when the
 * element has no data (the caller leaves it out). */
struct oh_node *edi_elem_node(struct oh_arena *a, const char *p, size_t n, char comp, char rep,
                              char rel, int *empty, int *enc_flags);

int edi_is_digits(const char *s, size_t n);
/* A segment tag: 2-3 upper-case letters or digits, the first a letter. */
int edi_valid_tag(const char *s, size_t n);

/* "01".."99" (static) or the number in buf. */
const char *edi_key2(unsigned pos, char buf[12]);
/* Segment object from its elements (el[0] is the id): elements keyed
 * "01".., empty ones and those whose bit is set in skip left out. */
struct oh_node *edi_seg_node(struct oh_arena *a, const struct edi_slice *el, size_t nel,
                             char comp, char rep, char rel, uint64_t skip, uint32_t segpos,
                             int *flags);

#endif
