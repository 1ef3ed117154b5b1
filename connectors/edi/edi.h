/*
 * edi.h — ASC X12 and UN/EDIFACT codecs: parse, validate, encode, and
 * build/read functional acknowledgements (997, 999, CONTRL).
 *
 * Everything here is a pure function over a buffer or a document tree; the
 * only global state is the format registry entry made by oh_edi_init().
 *
 * The document tree (DESIGN §5), for both syntaxes:
 *
 *   root    an array with one object per transaction set (X12 ST..SE) or
 *           message (EDIFACT UNH..UNT), in file order, so `each .[]` maps
 *           one record per set.
 *   set     an object: "_envelope" first, then the set's segments in order,
 *           each keyed by its segment id (repeated segments repeat the key;
 *           a lookup finds the first, a repeated step `.PO1[]` finds all).
 *   segment an object keyed by element position "01", "02", ... (empty
 *           elements are left out); a loop's (segment group's) member
 *           segments follow the elements of the loop's first segment, keyed
 *           by segment id, so `.N1[01=ST].N3.01` reads the ship-to street.
 *   element a string; a composite is an object keyed "1", "2", ... (empty
 *           components left out); a repeated element (X12 repetition
 *           separator, EDIFACT v4 repetition) is an array of those.
 *   _envelope  { "interchange": "1", "group": "1", "ISA": {...}, "GS": {...} }
 *           for X12 (ordinals are 1-based positions in the file) and
 *           { "interchange", "group", "UNB": {...}, "UNG": {...} (if any) }
 *           for EDIFACT. ISA11 (when it is the repetition separator) and
 *           ISA16 are syntax, not data, and are left out; the encoder writes
 *           them from its separators. Trailers (GE, IEA, UNE, UNZ) are
 *           checked by the parser and recomputed by the encoder.
 *
 * Loops come from small per-set tables (X12 850 855 856 810 846 940 945 997
 * 999; EDIFACT ORDERS ORDRSP DESADV INVOIC CONTRL APERAK); the 856 nests HL
 * loops by their parent id (HL02). Other sets parse flat. Strings are UTF-8:
 * EDIFACT UNOC text is decoded from Latin-1 (an element that is already
 * valid UTF-8 is kept as it is, with a warning — mojibake files exist).
 *
 * Errors are collected, never just the first: each names the element in the
 * standard's notation ("SE01", "UNT 0074"), the interchange, group and set
 * control numbers and the segment position, and carries the codes an
 * acknowledgement needs. A set with errors is still returned; its status is
 * in struct oh_edi_set_info and in the report.
 *
 * Ownership: trees live in the caller's arena; a struct oh_edi_report is
 * malloc'd and freed with oh_edi_report_free(). Acknowledgement results the
 * same with oh_edi_ack_result_free(). Nothing here touches the store: control
 * numbers for acknowledgements are passed in (struct oh_edi_ack_ctl).
 */
#ifndef OH_EDI_H
#define OH_EDI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "doc.h"
#include "err.h"

struct oh_arena;
struct oh_format_opts;

enum oh_edi_syntax { OH_EDI_UNKNOWN = 0, OH_EDI_X12 = 1, OH_EDI_EDIFACT = 2 };
enum oh_edi_severity { OH_EDI_ERROR = 0, OH_EDI_WARNING = 1 };

/* Set / group / interchange status, as in AK5-01 / AK9-01. */
enum {
    OH_EDI_ACCEPTED = 'A',
    OH_EDI_ACCEPTED_ERRORS = 'E',
    OH_EDI_PARTIAL = 'P', /* group only: some sets rejected */
    OH_EDI_REJECTED = 'R',
};

struct oh_edi_error {
    enum oh_edi_severity severity;
    int interchange, group, set; /* 1-based ordinals in the file; 0 = not inside one */
    char icn[16], gcn[16], scn[16]; /* ISA13/UNB 0020, GS06/UNG 0048, ST02/UNH 0062 */
    uint32_t seg_pos;  /* in the set (ST/UNH = 1) when set > 0, else in the interchange */
    char seg_id[8];
    char loop_id[8];   /* innermost open loop's first segment (AK303), "" if none */
    int elem, comp;    /* element / component position, 0 = not about one */
    char elem_ref[16]; /* the standard's notation: "SE01", "GE02", "UNT 0074", "ISA13" */
    /* Codes for acknowledgements (0 = none). X12: AK304/IK304, AK403/IK403,
     * AK502/IK502, AK905, TA105. EDIFACT: all are 0085 syntax error codes for
     * UCS, UCD, UCM, UCF and UCI. */
    int seg_code, elem_code, set_code, group_code, ichg_code;
    char msg[320];     /* the whole operator message, location first */
};

/* Separators. Encoders read them; the parser reports the ones it found. */
struct oh_edi_seps {
    char elem, comp;  /* X12 '*' '>'; EDIFACT '+' ':' */
    char rep;         /* repetition separator, 0 = none */
    char rel;         /* EDIFACT release character ('?'), 0 = none */
    char dec;         /* EDIFACT decimal mark ('.'), informational */
    char term[5];     /* segment terminator, 1..4 bytes (UTF-8 allowed) */
    size_t term_len;
    int newline;      /* encoder: write "\n" after each terminator */
};

struct oh_edi_set_info {
    int interchange, group, set; /* ordinals, 1-based, set within its group */
    char id[8];       /* ST01 / UNH 0065 */
    char ctrl[16];    /* ST02 / UNH 0062 */
    char impl[40];    /* ST03 / UNH S009 (type:version:release:agency) */
    uint32_t nsegs;   /* counted, ST..SE inclusive */
    int status;       /* OH_EDI_ACCEPTED, _ACCEPTED_ERRORS, _REJECTED */
    int set_code;     /* first AK502 code (0 = none) */
    size_t first_err, nerr; /* this set's errors: report->err[first_err ..] (set-level ones) */
    size_t offset;    /* byte offset of ST/UNH in the input */
};

struct oh_edi_group_info {
    int ordinal;      /* 1-based in its interchange; EDIFACT without UNG: 1, func "" */
    char func[8];     /* GS01 / UNG 0038 */
    char ctrl[16];    /* GS06 / UNG 0048 */
    char version[16]; /* GS08 / UNG S008 */
    char sender[40], receiver[40];
    int declared;     /* GE01 / UNE 0060 as sent, -1 when missing */
    int nsets;        /* sets seen */
    int nrejected, nwarned; /* sets rejected / accepted with errors */
    int naccepted;    /* sets accepted (with or without errors) */
    int status;       /* after the trailer: A, E, P or R */
    int group_code;   /* first AK905 code, 0 = none */
    struct oh_edi_set_info *sets; /* only when opts.keep_sets */
    size_t nsets_kept;
};

struct oh_edi_ichg_info {
    int ordinal;
    char ctrl[16];            /* ISA13 / UNB 0020 */
    char sender_q[8], sender[40], receiver_q[8], receiver[40];
    char date[16], time[16];
    char version[8];          /* ISA12 / UNB syntax version number */
    char syntax_id[8];        /* EDIFACT UNB S001 0001 (UNOA..), "" for X12 */
    char test[4];             /* ISA15 / UNB 0035 */
    struct oh_edi_seps seps;
    int status;               /* 'A' or 'R' (interchange-level errors) */
    int ichg_code;            /* first TA105 / UCI code */
    struct oh_edi_group_info *groups;
    size_t ngroups;
};

struct oh_edi_report {
    enum oh_edi_syntax syntax;
    struct oh_edi_ichg_info *ichg;
    size_t nichg;
    struct oh_edi_error *err;
    size_t nerr, nerrors, nwarnings; /* nerr = nerrors + nwarnings (kept) */
    size_t nsets;
    int errors_truncated;     /* more than opts.max_errors: later ones dropped */
};

void oh_edi_report_free(struct oh_edi_report *r);
/* Writes every error, one per line ("error: ..." / "warning: ..."). */
void oh_edi_report_print(const struct oh_edi_report *r, FILE *f);

/*
 * Streaming parse. For each set/message the parser builds its tree in arena a
 * and calls cb; when cb returns the parser holds no pointer into a, so the
 * callback may keep the tree or oh_arena_reset(a) (bounded memory for any
 * input size). A negative return from cb stops the parse with that code.
 */
typedef int (*oh_edi_set_cb)(void *ud, struct oh_node *set, const struct oh_edi_set_info *info,
                             struct oh_arena *a);

struct oh_edi_parse_opts {
    int keep_sets;       /* record every set in report groups (acks need it) */
    size_t max_errors;   /* 0 = 10000 */
    size_t max_segment;  /* longest segment in bytes, 0 = 1 MiB */
    int no_tree;         /* validate only: cb gets set == NULL (fastest) */
};

/* Both return 0 when the input could be read as the syntax (errors in it are
 * in the report), OH_EINVAL when it is not X12/EDIFACT at all, or cb's code.
 * *out (may be NULL) receives the report. */
int oh_x12_parse(const char *data, size_t len, const struct oh_edi_parse_opts *o,
                 struct oh_arena *a, oh_edi_set_cb cb, void *ud, struct oh_edi_report **out,
                 struct oh_err *err);
int oh_edifact_parse(const char *data, size_t len, const struct oh_edi_parse_opts *o,
                     struct oh_arena *a, oh_edi_set_cb cb, void *ud,
                     struct oh_edi_report **out, struct oh_err *err);

/* Whole document: *root is the array of sets in arena a. keep_sets is on. */
int oh_x12_decode_tree(struct oh_arena *a, const char *data, size_t len,
                       struct oh_node **root, struct oh_edi_report **rep, struct oh_err *err);
int oh_edifact_decode_tree(struct oh_arena *a, const char *data, size_t len,
                           struct oh_node **root, struct oh_edi_report **rep,
                           struct oh_err *err);

/* X12 or EDIFACT from the first bytes (after a BOM/whitespace): ISA, UNA, UNB. */
enum oh_edi_syntax oh_edi_detect(const char *data, size_t len);

/*
 * Format registry entry points (formats.h signatures). Options:
 *   decode: strict=0|1 (default 1: any error rejects the document, naming
 *           the first error; 0 keeps the good sets), schema=850 (every set
 *           must be that one)
 *   encode: x12: element= component= repetition= segment= newline=0|1
 *           counts=0|1 (default 1: SE01/GE01/IEA01 computed)
 *           edifact: element= component= decimal= release= segment=
 *           newline= counts=
 */
int oh_x12_decode(struct oh_arena *a, const char *data, size_t len,
                  const struct oh_format_opts *o, struct oh_node **out, struct oh_err *err);
int oh_edifact_decode(struct oh_arena *a, const char *data, size_t len,
                      const struct oh_format_opts *o, struct oh_node **out, struct oh_err *err);
int oh_x12_encode_fmt(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                      struct oh_err *err);
int oh_edifact_encode_fmt(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                          struct oh_err *err);

/* Encoders. root: an array of set objects (as decoded) or one set object.
 * Sets with the same _envelope interchange/group ordinals (consecutive)
 * share one ISA/GS (UNB/UNG). counts: compute SE01/UNT 0074 (group and
 * interchange counts are always computed). seps NULL: the defaults
 * (X12 * > ^ ~ + newline; EDIFACT + : . ? ' + newline). */
int oh_x12_encode(const struct oh_node *root, const struct oh_edi_seps *seps, int counts,
                  FILE *f, struct oh_err *err);
int oh_edifact_encode(const struct oh_node *root, const struct oh_edi_seps *seps, int counts,
                      FILE *f, struct oh_err *err);
void oh_x12_default_seps(struct oh_edi_seps *s);
void oh_edifact_default_seps(struct oh_edi_seps *s);

/* ---- acknowledgements ---- */

/* Control numbers and stamps for an outgoing acknowledgement; the caller
 * (later: the store) supplies them. */
struct oh_edi_ack_ctl {
    unsigned long ichg_ctrl;  /* ISA13 / UNB 0020 of the ack interchange */
    unsigned long group_ctrl; /* GS06 */
    unsigned long set_ctrl;   /* ST02 / UNH 0062 */
    const char *date;         /* YYYYMMDD, NULL = today (UTC) */
    const char *time;         /* HHMM, NULL = now (UTC) */
    int kind;                 /* 0 = by GS08 (005010+ -> 999, else 997), 997, 999 */
};

/*
 * Builds the 997/999 for group `group` (1-based ordinal) of interchange
 * `ichg` of a report made with keep_sets. *tree (in arena a) is a one-set
 * document as the X12 decoder would produce, *text (malloc'd, caller frees)
 * its encoding with seps (NULL = those of the received interchange).
 */
int oh_x12_ack_build(const struct oh_edi_report *r, int ichg, int group,
                     const struct oh_edi_ack_ctl *ctl, const struct oh_edi_seps *seps,
                     struct oh_arena *a, struct oh_node **tree, char **text,
                     struct oh_err *err);
/* CONTRL for interchange `ichg` of an EDIFACT report made with keep_sets. */
int oh_edifact_contrl_build(const struct oh_edi_report *r, int ichg,
                            const struct oh_edi_ack_ctl *ctl, const struct oh_edi_seps *seps,
                            struct oh_arena *a, struct oh_node **tree, char **text,
                            struct oh_err *err);

/* What an incoming 997 / 999 / CONTRL says. */
struct oh_edi_ack_set {
    char id[8];     /* AK201 / UCM S009 type */
    char ctrl[16];  /* AK202 / UCM 0062 */
    int status;     /* A, E, R (CONTRL: 7 -> A, 4 -> R) */
    int codes[5];   /* AK502.. / IK502.. / UCM 0085 */
    int ncodes;
    int nsegerr;    /* AK3/IK3 or UCS count */
};

struct oh_edi_ack_result {
    char kind[8];       /* "997", "999", "CONTRL" */
    char func[8];       /* AK101 (X12) */
    char group_ctrl[16];/* AK102 */
    char ichg_ctrl[16]; /* CONTRL UCI 0020 */
    int status;         /* AK901 / UCI 0083 mapped: A, E, P, R */
    int codes[5];       /* AK905.. / UCI 0085 */
    int ncodes;
    int included, received, accepted; /* AK902..AK904 (-1 if absent) */
    struct oh_edi_ack_set *sets;
    size_t nsets;
};

/* set: one decoded 997/999/CONTRL set object (an element of the root array). */
int oh_edi_ack_read(const struct oh_node *set, struct oh_edi_ack_result **out,
                    struct oh_err *err);
void oh_edi_ack_result_free(struct oh_edi_ack_result *r);

/* Registers "x12" and "edifact" with the format registry. */
int oh_edi_init(void);

/* `orderhub edi parse|validate|ack FILE [--control N]`; argv[0] is "edi".
 * Returns the process exit code. */
int oh_edi_cli(int argc, char **argv);

#endif
