/*
 * csv.c — CSV decoder (libcsv) and encoder.
 *
 * Tree shape: the document root is an ARRAY with one OBJECT per data row,
 * members keyed by the header row in column order (duplicate header names
 * are kept, a lookup finds the first). A mapping reads it with
 * `each .[]` (one record per row) or `group-by .Name` (consecutive rows with
 * the same key form one record). Every value is a STRING, exactly as in the
 * file (no trimming); a row longer than the header gets keys "N" (1-based
 * column number) for the extra cells; a shorter row simply lacks the keys.
 * Each row node's `line` is the physical line its record starts on.
 *
 * Options (from the mapping's `from`/`to` line):
 *   delimiter=","|";"|"|"|tab   one byte, default ","
 *   encoding=utf-8|latin1|iso-8859-1|windows-1252   input is converted to
 *                                UTF-8; utf-8 input is validated
 *   header=yes|no                no: keys are "1", "2", ... and every row is data
 *   newline=crlf|lf              encoder only; default crlf (RFC 4180)
 * RFC 4180 quoting, delimiters and newlines inside quoted fields, CRLF or LF
 * record ends and a leading UTF-8 BOM are handled. An unterminated quoted
 * field is an error.
 *
 * The encoder writes an ARRAY of flat OBJECTs (or one OBJECT as one row):
 * a header row with the union of the keys in first-seen order, then one row
 * per object, quoting only where needed.
 */
#include <csv.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "formats/formats_int.h"

struct cctx {
    struct oh_arena *a;
    struct oh_node *root, *row;
    struct oh_node *hdr;       /* header row as a list of string nodes */
    const struct oh_node *hcur; /* header cell for the next field */
    int header, in_header;
    size_t field_no;
    uint32_t line, next_line;  /* physical line of this record / of the next */
    int failed;                /* 1: arena limit, 2: invalid UTF-8 */
    uint32_t bad_line;
};

static const unsigned short cp1252[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};

static int space_none(unsigned char c)
{
    (void)c;
    return 0;
}

static uint32_t count_nl(const char *s, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

static void on_field(void *s, size_t n, void *ud)
{
    struct cctx *c = ud;
    struct oh_node *v;
    char num[24];

    if (c->failed)
        return;
    if (!c->row) {
        c->line = c->next_line;
        if (!(c->row = oh_node_new(c->a, OH_NODE_OBJECT))) {
            c->failed = 1;
            return;
        }
        c->row->line = c->line;
        c->row->col = 1;
        c->field_no = 0;
        c->hcur = c->hdr ? c->hdr->first : NULL;
    }
    c->next_line += count_nl(s, n);
    c->field_no++;
    if (oh_utf8_check(s ? s : "", s ? n : 0) != 0) {
        c->failed = 2;
        c->bad_line = c->line;
        return;
    }
    if (!(v = oh_node_new_str(c->a, OH_NODE_STRING, s ? s : "", s ? n : 0))) {
        c->failed = 1;
        return;
    }
    v->line = c->line;
    v->col = (uint32_t)c->field_no;
    if (c->in_header) {
        oh_node_append(c->row, v);
        return;
    }
    if (c->hcur) {
        v->key = c->hcur->s;
        v->key_len = c->hcur->len;
        c->hcur = c->hcur->next;
    } else {
        int k = snprintf(num, sizeof(num), "%zu", c->field_no);
        if (oh_node_set_key(c->a, v, num, (size_t)k) < 0) {
            c->failed = 1;
            return;
        }
    }
    oh_node_append(c->row, v);
}

static void on_row(int term, void *ud)
{
    struct cctx *c = ud;
    (void)term;
    if (c->failed)
        return;
    c->next_line++;
    if (!c->row) { /* libcsv reports a row even for a lone delimiter-less line */
        return;
    }
    if (c->in_header) {
        c->hdr = c->row;
        c->in_header = 0;
    } else {
        oh_node_append(c->root, c->row);
    }
    c->row = NULL;
}

static int parse_delim(const char *v, unsigned char *out)
{
    if (!v)
        *out = ',';
    else if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0 || strcmp(v, "\t") == 0)
        *out = '\t';
    else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\r' && v[0] != '\n')
        *out = (unsigned char)v[0];
    else
        return -1;
    return 0;
}

/* 0 utf-8, 1 latin1, 2 windows-1252, -1 unknown */
static int parse_enc(const char *v)
{
    if (!v || strcasecmp(v, "utf-8") == 0 || strcasecmp(v, "utf8") == 0)
        return 0;
    if (strcasecmp(v, "latin1") == 0 || strcasecmp(v, "iso-8859-1") == 0 ||
        strcasecmp(v, "latin-1") == 0)
        return 1;
    if (strcasecmp(v, "windows-1252") == 0 || strcasecmp(v, "cp1252") == 0)
        return 2;
    return -1;
}

static int check(const struct oh_format_opts *o, struct oh_err *err)
{
    static const char *const keys[] = {"delimiter", "encoding", "header", "newline", NULL};
    unsigned char d;
    const char *v;
    int rc;

    if ((rc = oh_format_check_keys(o, keys, "csv", err)) < 0)
        return rc;
    if (parse_delim(oh_format_opt(o, "delimiter"), &d) < 0)
        return oh_err_set(err, OH_EINVAL, "csv: delimiter must be one character or tab, not \"%s\"",
                          oh_format_opt(o, "delimiter"));
    if (parse_enc(oh_format_opt(o, "encoding")) < 0)
        return oh_err_set(err, OH_EINVAL,
                          "csv: encoding must be utf-8, latin1 or windows-1252, not \"%s\"",
                          oh_format_opt(o, "encoding"));
    v = oh_format_opt(o, "header");
    if (v && strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
        return oh_err_set(err, OH_EINVAL, "csv: header must be yes or no, not \"%s\"", v);
    v = oh_format_opt(o, "newline");
    if (v && strcmp(v, "crlf") != 0 && strcmp(v, "lf") != 0)
        return oh_err_set(err, OH_EINVAL, "csv: newline must be crlf or lf, not \"%s\"", v);
    return 0;
}

/* 8-bit input -> UTF-8 in the arena. */
static char *to_utf8(struct oh_arena *a, const char *s, size_t n, int enc, size_t *outlen)
{
    char *o = oh_arena_try_alloc(a, n * 3 + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = (unsigned char)s[i];
        if (enc == 2 && cp >= 0x80 && cp < 0xA0 && cp1252[cp - 0x80])
            cp = cp1252[cp - 0x80];
        if (cp < 0x80) {
            *p++ = (char)cp;
        } else if (cp < 0x800) {
            *p++ = (char)(0xC0 | (cp >> 6));
            *p++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *p++ = (char)(0xE0 | (cp >> 12));
            *p++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *p++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    *p = '\0';
    *outlen = (size_t)(p - o);
    return o;
}

static int decode(struct oh_arena *a, const char *data, size_t len, const struct oh_format_opts *o,
                  struct oh_node **out, struct oh_err *err)
{
    struct csv_parser p;
    struct cctx c = {.a = a, .line = 1, .next_line = 1};
    const char *hv = oh_format_opt(o, "header");
    unsigned char delim;
    int enc, rc = 0, inited = 0;

    if ((rc = check(o, err)) < 0)
        return rc;
    parse_delim(oh_format_opt(o, "delimiter"), &delim);
    enc = parse_enc(oh_format_opt(o, "encoding"));
    if (o && o->max_size && len > o->max_size)
        return oh_err_set(err, OH_ETOOBIG, "csv: document of %zu bytes is over the limit of %zu",
                          len, o->max_size);
    if (enc == 0 && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    if (enc != 0 && !(data = to_utf8(a, data, len, enc, &len)))
        return oh_err_set(err, OH_ETOOBIG, "csv: document too large for memory limit");
    c.header = !(hv && strcmp(hv, "no") == 0);
    c.in_header = c.header;
    if (!(c.root = oh_node_new(a, OH_NODE_ARRAY)))
        return oh_err_set(err, OH_ETOOBIG, "csv: document too large for memory limit");
    c.root->line = 1;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return oh_err_set(err, OH_ERROR, "csv: out of memory");
    inited = 1;
    csv_set_delim(&p, delim);
    csv_set_space_func(&p, space_none);
    if (csv_parse(&p, data, len, on_field, on_row, &c) != len || csv_fini(&p, on_field, on_row, &c) != 0) {
        rc = oh_err_set(err, OH_EINVAL, "csv: line %u: %s", (unsigned)c.next_line,
                        csv_error(&p) == CSV_EPARSE ? "unterminated quoted field"
                                                    : csv_strerror(csv_error(&p)));
        goto done;
    }
    if (c.failed == 1) {
        rc = oh_err_set(err, OH_ETOOBIG, "csv: document too large for memory limit");
        goto done;
    }
    if (c.failed == 2) {
        rc = oh_err_set(err, OH_EINVAL,
                        "csv: line %u: invalid UTF-8 (is the file latin1? say encoding=latin1)",
                        (unsigned)c.bad_line);
        goto done;
    }
    if (c.header && !c.hdr) {
        rc = oh_err_set(err, OH_EINVAL, "csv: empty document (no header row)");
        goto done;
    }
    *out = c.root;
done:
    if (inited)
        csv_free(&p);
    return rc;
}

static int needs_quote(const char *s, size_t n, char delim)
{
    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == delim || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return 1;
    return 0;
}

static void put_cell(FILE *f, const char *s, size_t n, char delim)
{
    if (!needs_quote(s, n, delim)) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static int encode(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                  struct oh_err *err)
{
    const char *nl = oh_format_opt(o, "newline");
    const char *eol = nl && strcmp(nl, "lf") == 0 ? "\n" : "\r\n";
    const struct oh_node **keys = NULL;
    const struct oh_node *one[1];
    const struct oh_node *const *rows;
    size_t nrows = 0, nkeys = 0, cap = 0;
    unsigned char delim;
    int rc = 0;

    if ((rc = check(o, err)) < 0)
        return rc;
    parse_delim(oh_format_opt(o, "delimiter"), &delim);
    if (!root || (root->type != OH_NODE_ARRAY && root->type != OH_NODE_OBJECT))
        return oh_err_set(err, OH_EINVAL, "csv: can only write an array of objects");
    if (root->type == OH_NODE_OBJECT) {
        one[0] = root;
        rows = one;
        nrows = 1;
    } else {
        rows = NULL;
    }
    /* header: union of keys, first seen first */
    for (const struct oh_node *r = root->type == OH_NODE_OBJECT ? root : root->first; r;
         r = root->type == OH_NODE_OBJECT ? NULL : r->next) {
        if (r->type != OH_NODE_OBJECT) {
            rc = oh_err_set(err, OH_EINVAL, "csv: row %zu is not an object", nrows + 1);
            goto done;
        }
        for (const struct oh_node *c = r->first; c; c = c->next) {
            size_t k;
            if (!oh_node_is_scalar(c)) {
                rc = oh_err_set(err, OH_EINVAL, "csv: value %s is not a scalar", c->key);
                goto done;
            }
            for (k = 0; k < nkeys; k++)
                if (keys[k]->key_len == c->key_len && memcmp(keys[k]->key, c->key, c->key_len) == 0)
                    break;
            if (k < nkeys)
                continue;
            if (nkeys == cap) {
                const struct oh_node **nk;
                cap = cap ? cap * 2 : 16;
                if (!(nk = realloc(keys, cap * sizeof(*keys)))) {
                    rc = oh_err_set(err, OH_ERROR, "csv: out of memory");
                    goto done;
                }
                keys = nk;
            }
            keys[nkeys++] = c;
        }
    }
    for (size_t k = 0; k < nkeys; k++) {
        if (k)
            fputc(delim, f);
        put_cell(f, keys[k]->key, keys[k]->key_len, (char)delim);
    }
    fputs(eol, f);
    for (const struct oh_node *r = rows ? rows[0] : root->first; r; r = rows ? NULL : r->next) {
        for (size_t k = 0; k < nkeys; k++) {
            const struct oh_node *v = oh_node_getn(r, keys[k]->key, keys[k]->key_len);
            if (k)
                fputc(delim, f);
            if (v && v->s)
                put_cell(f, v->s, v->len, (char)delim);
        }
        fputs(eol, f);
    }
    if (ferror(f))
        rc = oh_err_set(err, OH_ERROR, "csv: write failed");
done:
    free(keys);
    return rc;
}

const struct oh_format oh_format_csv = {
    .name = "csv",
    .decode = decode,
    .encode = encode,
    .check = check,
};
