/*
 * edi_init.c — the "x12" and "edifact" entries of the format registry:
 * decoders for mapping files (`from x12 schema=850`) and encoders for
 * outbound documents (`to x12`). Thin wrappers over x12.c, edifact.c and
 * edi_enc.c; the registry is the only global state of this library.
 */
#include "edi_int.h"

#include "formats/formats.h"

#include <stdlib.h>
#include <string.h>

static int known_keys(const struct oh_format_opts *o, const char *const *keys, const char *fmt,
                      struct oh_err *err)
{
    for (size_t i = 0; o && i < o->n; i++) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], o->key[i]) != 0)
            k++;
        if (!keys[k])
            return oh_err_set(err, OH_EINVAL, "%s: unknown option '%s'", fmt, o->key[i]);
    }
    return 0;
}

static const char *const dec_keys[] = {"strict", "schema", "rejected", NULL};
static const char *const enc_keys[] = {"element", "component", "repetition", "segment",
                                       "newline", "counts", "release", "decimal", NULL};

static int flag(const struct oh_format_opts *o, const char *k, int def, int *out,
                const char *fmt, struct oh_err *err)
{
    const char *v = o ? oh_format_opt(o, k) : NULL;
    *out = def;
    if (!v)
        return 0;
    if (strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
        *out = 0;
    else
        return oh_err_set(err, OH_EINVAL, "%s: %s=%s is not 0 or 1", fmt, k, v);
    return 0;
}

static int check_dec(const struct oh_format_opts *o, const char *fmt, struct oh_err *err)
{
    int rc, strict;
    if ((rc = known_keys(o, dec_keys, fmt, err)) < 0)
        return rc;
    return flag(o, "strict", 1, &strict, fmt, err);
}

static int decode(enum oh_edi_syntax syn, struct oh_arena *a, const char *data, size_t len,
                  const struct oh_format_opts *o, struct oh_node **out, struct oh_err *err)
{
    const char *fmt = syn == OH_EDI_X12 ? "x12" : "edifact";
    struct oh_edi_report *r = NULL;
    struct oh_node *root = NULL;
    int rc, strict;

    *out = NULL;
    if ((rc = check_dec(o, fmt, err)) < 0 || (rc = flag(o, "strict", 1, &strict, fmt, err)) < 0)
        return rc;
    if (o && o->max_size && len > o->max_size)
        return oh_err_set(err, OH_ETOOBIG, "%s: input of %zu bytes is over the limit", fmt, len);
    rc = syn == OH_EDI_X12 ? oh_x12_decode_tree(a, data, len, &root, &r, err)
                           : oh_edifact_decode_tree(a, data, len, &root, &r, err);
    if (rc < 0)
        goto done;
    const char *schema = o ? oh_format_opt(o, "schema") : NULL;
    if (schema)
        for (size_t i = 0; i < r->nichg; i++)
            for (size_t g = 0; g < r->ichg[i].ngroups; g++)
                for (size_t s = 0; s < r->ichg[i].groups[g].nsets_kept; s++)
                    if (strcmp(r->ichg[i].groups[g].sets[s].id, schema) != 0) {
                        rc = oh_err_set(err, OH_EINVAL,
                                        "%s: interchange %s set %s is a %s, the mapping reads %s",
                                        fmt, r->ichg[i].ctrl, r->ichg[i].groups[g].sets[s].ctrl,
                                        r->ichg[i].groups[g].sets[s].id, schema);
                        goto done;
                    }
    if (strict && r->nerrors) {
        for (size_t i = 0; i < r->nerr; i++)
            if (r->err[i].severity == OH_EDI_ERROR) {
                rc = oh_err_set(err, OH_EINVAL, "%s: %s (%zu error%s in all)", fmt,
                                r->err[i].msg, r->nerrors, r->nerrors == 1 ? "" : "s");
                goto done;
            }
    }
    const char *rejected = o ? oh_format_opt(o, "rejected") : NULL;
    if (!strict && rejected && strcmp(rejected, "drop") == 0) {
        /* strict=0 rejected=drop keeps only the good sets: rejected ones leave the tree (they
         * are answered as rejected in the acknowledgement, never stored).
         * Tree children and kept set infos are both in file order. */
        struct oh_node **link = &root->first, *last = NULL;
        for (size_t i = 0; i < r->nichg; i++)
            for (size_t g = 0; g < r->ichg[i].ngroups; g++)
                for (size_t k = 0; k < r->ichg[i].groups[g].nsets_kept && *link; k++) {
                    if (r->ichg[i].groups[g].sets[k].status == OH_EDI_REJECTED) {
                        *link = (*link)->next;
                        root->count--;
                    } else {
                        last = *link;
                        link = &(*link)->next;
                    }
                }
        while (*link) {
            last = *link;
            link = &(*link)->next;
        }
        root->last = last;
    }
    if (!r->nsets) {
        rc = oh_err_set(err, OH_EINVAL, "%s: no transaction sets in the input", fmt);
        goto done;
    }
    *out = root;
done:
    oh_edi_report_free(r);
    return rc;
}

int oh_x12_decode(struct oh_arena *a, const char *data, size_t len,
                  const struct oh_format_opts *o, struct oh_node **out, struct oh_err *err)
{
    return decode(OH_EDI_X12, a, data, len, o, out, err);
}

int oh_edifact_decode(struct oh_arena *a, const char *data, size_t len,
                      const struct oh_format_opts *o, struct oh_node **out, struct oh_err *err)
{
    return decode(OH_EDI_EDIFACT, a, data, len, o, out, err);
}

static int one_char(const struct oh_format_opts *o, const char *k, char *dst, int allow_empty,
                    const char *fmt, struct oh_err *err)
{
    const char *v = o ? oh_format_opt(o, k) : NULL;
    if (!v)
        return 0;
    if (strcmp(v, "\\n") == 0)
        v = "\n";
    if ((strlen(v) != 1 && !(allow_empty && !*v)))
        return oh_err_set(err, OH_EINVAL, "%s: %s='%s' must be one character", fmt, k, v);
    *dst = v[0];
    return 0;
}

static int enc_seps(enum oh_edi_syntax syn, const struct oh_format_opts *o,
                    struct oh_edi_seps *s, int *counts, struct oh_err *err)
{
    const char *fmt = syn == OH_EDI_X12 ? "x12" : "edifact";
    int rc, nl;
    if (syn == OH_EDI_X12)
        oh_x12_default_seps(s);
    else
        oh_edifact_default_seps(s);
    if ((rc = known_keys(o, enc_keys, fmt, err)) < 0 ||
        (rc = one_char(o, "element", &s->elem, 0, fmt, err)) < 0 ||
        (rc = one_char(o, "component", &s->comp, 0, fmt, err)) < 0 ||
        (rc = one_char(o, "repetition", &s->rep, 1, fmt, err)) < 0 ||
        (rc = one_char(o, "release", &s->rel, 1, fmt, err)) < 0 ||
        (rc = one_char(o, "decimal", &s->dec, 0, fmt, err)) < 0 ||
        (rc = flag(o, "newline", 1, &nl, fmt, err)) < 0 ||
        (rc = flag(o, "counts", 1, counts, fmt, err)) < 0)
        return rc;
    s->newline = nl;
    const char *t = o ? oh_format_opt(o, "segment") : NULL;
    if (t) {
        if (strcmp(t, "\\n") == 0)
            t = "\n";
        if (!*t || strlen(t) > 4)
            return oh_err_set(err, OH_EINVAL, "%s: segment= wants 1 to 4 bytes", fmt);
        memset(s->term, 0, sizeof(s->term));
        memcpy(s->term, t, strlen(t));
        s->term_len = strlen(t);
    }
    return 0;
}

static int check_enc_x12(const struct oh_format_opts *o, struct oh_err *err)
{
    struct oh_edi_seps s;
    int counts;
    return enc_seps(OH_EDI_X12, o, &s, &counts, err);
}

static int check_enc_edifact(const struct oh_format_opts *o, struct oh_err *err)
{
    struct oh_edi_seps s;
    int counts;
    return enc_seps(OH_EDI_EDIFACT, o, &s, &counts, err);
}

/* The registry has one check per format for both directions: accept what
 * either direction knows. */
static int check_x12(const struct oh_format_opts *o, struct oh_err *err)
{
    struct oh_format_opts d = {0}, e = {0};
    for (size_t i = 0; o && i < o->n; i++) {
        int is_dec = strcmp(o->key[i], "strict") == 0 || strcmp(o->key[i], "schema") == 0 ||
                     strcmp(o->key[i], "rejected") == 0;
        struct oh_format_opts *t = is_dec ? &d : &e;
        t->key[t->n] = o->key[i];
        t->val[t->n++] = o->val[i];
    }
    int rc = check_dec(&d, "x12", err);
    return rc < 0 ? rc : check_enc_x12(&e, err);
}

static int check_edifact(const struct oh_format_opts *o, struct oh_err *err)
{
    struct oh_format_opts d = {0}, e = {0};
    for (size_t i = 0; o && i < o->n; i++) {
        int is_dec = strcmp(o->key[i], "strict") == 0 || strcmp(o->key[i], "schema") == 0 ||
                     strcmp(o->key[i], "rejected") == 0;
        struct oh_format_opts *t = is_dec ? &d : &e;
        t->key[t->n] = o->key[i];
        t->val[t->n++] = o->val[i];
    }
    int rc = check_dec(&d, "edifact", err);
    return rc < 0 ? rc : check_enc_edifact(&e, err);
}

int oh_x12_encode_fmt(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                      struct oh_err *err)
{
    struct oh_edi_seps s;
    int counts, rc;
    if ((rc = enc_seps(OH_EDI_X12, o, &s, &counts, err)) < 0)
        return rc;
    return oh_x12_encode(root, &s, counts, f, err);
}

int oh_edifact_encode_fmt(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                          struct oh_err *err)
{
    struct oh_edi_seps s;
    int counts, rc;
    if ((rc = enc_seps(OH_EDI_EDIFACT, o, &s, &counts, err)) < 0)
        return rc;
    return oh_edifact_encode(root, &s, counts, f, err);
}

int oh_edi_init(void)
{
    static const struct oh_format x12 = {
        .name = "x12", .decode = oh_x12_decode, .encode = oh_x12_encode_fmt, .check = check_x12};
    static const struct oh_format edifact = {.name = "edifact",
                                             .decode = oh_edifact_decode,
                                             .encode = oh_edifact_encode_fmt,
                                             .check = check_edifact};
    int rc = oh_format_register(&x12);
    return rc < 0 ? rc : oh_format_register(&edifact);
}
