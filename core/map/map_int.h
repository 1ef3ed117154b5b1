/*
 * map_int.h — the compiled plan shared by the parser (map_parse.c), the
 * evaluator (map_eval.c) and the filters (map_filters.c). Not public.
 *
 * Everything in a plan lives in the plan's own arena and is read-only after
 * oh_map_compile returns.
 */
#ifndef OH_MAP_INT_H
#define OH_MAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "doc.h"
#include "formats/formats.h"
#include "map/map.h"

struct oh_arena;

enum step_kind { ST_KEY, ST_EXPAND, ST_INDEX, ST_FILTER };

struct path;

struct cond {
    const char *key, *val; /* val NULL: matches nothing */
    size_t klen, vlen;
    struct path *vpath;    /* the value is read from the current value: [line_no=.line_no] */
};

struct step {
    enum step_kind k;
    const char *key; /* ST_KEY */
    size_t klen;
    long index;       /* ST_INDEX */
    struct cond *conds; /* ST_FILTER */
    size_t nconds;
};

enum root_kind { R_CUR, R_RECORD, R_ROOT, R_CHANNEL, R_DOC, R_ENV, R_INDEX };

struct path {
    enum root_kind root;
    const char *var; /* R_CHANNEL/R_DOC/R_ENV: the name after the dot */
    struct step *steps;
    size_t nsteps;
    int dynamic; /* a condition value is a path */
};

enum expr_kind { E_PATH, E_LIT, E_WORD, E_ALT, E_PIPE };

struct filter;

struct expr {
    enum expr_kind k;
    int line, col;
    const char *text; /* source text, for messages */
    struct path path; /* E_PATH */
    const char *lit;  /* E_LIT (string or number literal) / E_WORD (bare word) */
    size_t litlen;
    int lit_is_num;
    struct expr *a, *b; /* E_ALT: a ?? b; E_PIPE: a is the input */
    struct filter *filters;
    size_t nfilters;
};

enum filter_id {
    F_STR, F_INT, F_DECIMAL, F_NUMBER, F_LOWER, F_UPPER, F_TRIM, F_REQUIRED, F_DEFAULT,
    F_LOOKUP, F_TIME, F_DATE, F_SPLIT, F_JOIN, F_FIRST, F_LAST, F_LEN, F_CONCAT, F_SUBSTR,
    F_REPLACE, F_CENTS, F_COUNTRY, F_NEG, F_DIV, F_ADD, F_WHEN,
};

struct table {
    const char *name;
    const char **keys, **vals;
    size_t n;
    const char *dflt; /* the `*` row, or NULL */
    int line;
};

struct filter {
    enum filter_id id;
    const char *name;
    int line, col;
    struct expr **args;
    size_t nargs;
    const struct table *table; /* F_LOOKUP, resolved at the end of compile */
    int places;                /* F_DECIMAL: -1 keep as written */
    char dec_mark;             /* F_DECIMAL: '.' or ',' */
};

struct tstep {
    const char *key; /* NULL: the document root itself (`[] = ...`) */
    size_t klen;
    int arr;
};

struct block;

struct rule {
    int line, col;
    struct tstep *t;
    size_t nt;
    struct expr *e;
    struct block *blk; /* set when the rule is `x[] = SOURCE` */
    const char *target_text;
};

struct block {
    struct rule *rules;
    size_t n, cap;
};

struct oh_map {
    struct oh_arena *arena;
    const char *file;  /* as given, for load errors */
    const char *short_name; /* parent/file.map, for run-time errors */
    const char *name, *from, *to, *message;
    int from_is_kind, to_is_kind;
    struct oh_format_opts from_opts, to_opts;
    struct path *each, *group_by;
    struct block top;
    int root_array; /* outbound rules target `[]` */
    struct table *tables;
    size_t ntables, tcap;
    struct map_scratch *scratch; /* arenas kept between runs (map_run.c), under a lock */
};

/* Frees the kept arenas (map_run.c); oh_map_free calls it. */
void oh_map_scratch_free(struct oh_map *m);

/* Filter table (map_filters.c). */
struct filter_info {
    const char *name;
    enum filter_id id;
    int min_args, max_args;
    int list_input; /* 1: consumes the whole list (first, last, len, join) */
};
const struct filter_info *oh_map_filter_info(const char *name, size_t len);
/* list_input of the filter with that id (no name lookup). */
int oh_map_filter_lists(enum filter_id id);

/* Run-time values (map_eval.c, map_filters.c). */
enum vk { V_NONE, V_STR, V_INT, V_NUM, V_NODE, V_LIST };

struct val {
    enum vk k;
    const char *s; /* V_STR, V_INT, V_NUM: text (NUL-terminated) */
    size_t len;
    const struct oh_node *node; /* V_NODE: the node; others: where it came from */
    struct val *items; /* V_LIST */
    size_t n;
};

int oh_map_val_empty(const struct val *v);

/* Exact decimal normalisation: returns 0 and an arena string, or -1.
 * places < 0 keeps the decimals as written; mark is '.' or ','. */
int oh_map_decimal(struct oh_arena *a, const char *s, size_t len, int places, char mark,
                   const char **out);
/* Exact a / b rounded half-up to 4 decimals, trailing zeros past the second
 * decimal dropped ("34.90" / "2" -> "17.45"). -1 on a bad number, -2 on
 * division by zero, -3 if too large. */
int oh_map_decimal_div(struct oh_arena *a, const char *x, const char *y, const char **out);
/* Exact x + y with the decimals of the longer one ("1.5" + "2.25" ->
 * "3.75"). -1 on a bad number, -3 if too large. */
int oh_map_decimal_add(struct oh_arena *a, const char *x, const char *y, const char **out);
/* Country name, alpha-3 or alpha-2 code -> ISO 3166 alpha-2 in out; -1 if unknown. */
int oh_map_country(const char *s, size_t len, char out[3]);
/* ISO-8601 date-time (offsets, fractions, Z; a bare date is midnight UTC),
 * or with fmt a strptime(3) format (interpreted as UTC unless it has %z)
 * -> ms since the epoch. has_frac: the input had fractional seconds. */
int oh_map_time(const char *s, const char *fmt, int64_t *ms, int *has_frac);

/* --- evaluation state shared by map_eval.c, map_apply.c, map_run.c --- */

struct map_ev {
    const struct oh_map *m;
    struct oh_arena *a;           /* the document's arena */
    const struct oh_map_ctx *ctx;
    const struct oh_node *doc;    /* document root, for paths in messages */
    const struct oh_node *record; /* $record */
    size_t index;                 /* $index: position in the innermost repeated block */
    struct oh_err *err;           /* the current record's rejection */
};

/* A growing list of nodes: the first few in the struct itself, then in the
 * arena; limit > 0 stops at that many. Not to be copied once pushed to. */
struct map_nset {
    const struct oh_node **v;
    size_t n, cap, limit;
    struct oh_arena *a;
    const struct oh_node *inl[4];
};

/* Appends n; 1 when the set is full. */
int oh_map_nset_push(struct map_nset *s, const struct oh_node *n);
/* Every node the path steps find from n, in document order; 1 when full. */
int oh_map_walk(const struct step *st, size_t ns, const struct oh_node *n, struct map_nset *out);
void oh_map_node_val(const struct oh_node *n, struct val *v);
void oh_map_str_val(struct val *v, const char *s, size_t len);
/* Rejects the record: "DOC-PATH[suffix]: what (file:line)"; returns OH_EINVAL. */
int oh_map_fail(struct map_ev *ev, const struct oh_node *where, const char *suffix, int line,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int oh_map_eval(struct map_ev *ev, const struct expr *e, const struct oh_node *cur, int multi,
                struct val *out);
int oh_map_eval_path(struct map_ev *ev, const struct path *pa, const struct oh_node *cur,
                     int multi, struct val *out);
/* One filter on one value (map_apply.c); list filters take the whole list. */
int oh_map_scalar_filter(struct map_ev *ev, const struct filter *f, const struct expr *pipe,
                         const struct oh_node *cur, struct val *v);
int oh_map_list_filter(struct map_ev *ev, const struct filter *f, struct val *v);
/* A record's text (map_out.c), malloc'd, reused between records. */
struct map_text {
    char *p;
    size_t len, cap;
};
/* Writes output tree o (with `channel` first, as map_run.c's record_json)
 * as the compact JSON jansson would write; NUL-terminated. OH_EAGAIN when
 * only jansson can write it (an object with a key twice). */
int oh_map_write_record(const struct map_ev *ev, const struct oh_node *o, struct map_text *t);

/* Evaluates the rules of b with `.` = cur into the output object out. */
int oh_map_run_block(struct map_ev *ev, const struct block *b, const struct oh_node *cur,
                     struct oh_node *out);

#endif
