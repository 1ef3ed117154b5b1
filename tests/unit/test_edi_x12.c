/*
 * test_edi_x12.c — X12 reader, validator and encoder against the shared
 * fixtures (wrapped lines, '…' and newline terminators, several groups and
 * interchanges, duplicate interchange, repetition separator '-') and the
 * malformed variants in tests/fixtures/edi.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "connectors/edi/edi.h"
#include "formats/formats.h"
#include "util.h"

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    char *data = NULL;
    struct oh_err err = {0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (oh_read_file(path, 0, &data, len, &err) < 0)
        fail_msg("%s: %s", path, err.msg);
    return data;
}

struct doc {
    struct oh_arena *a;
    char *data;
    size_t len;
    struct oh_node *root;
    struct oh_edi_report *r;
};

static void load(struct doc *d, const char *dir, const char *name)
{
    struct oh_err err = {0};
    memset(d, 0, sizeof(*d));
    d->a = oh_arena_new(0);
    d->data = slurp(dir, name, &d->len);
    int rc = oh_x12_decode_tree(d->a, d->data, d->len, &d->root, &d->r, &err);
    if (rc < 0)
        fail_msg("%s: %s", name, err.msg);
}

static void unload(struct doc *d)
{
    oh_edi_report_free(d->r);
    oh_arena_free(d->a);
    free(d->data);
}

static const struct oh_node *get(const struct oh_node *n, const char *k)
{
    return oh_node_get(n, k);
}

/* The first member with key k whose "01" is v. */
static const struct oh_node *get_q(const struct oh_node *n, const char *k, const char *v)
{
    for (const struct oh_node *c = n ? n->first : NULL; c; c = c->next)
        if (c->key && strcmp(c->key, k) == 0 && strcmp(oh_node_str(oh_node_get(c, "01")), v) == 0)
            return c;
    return NULL;
}

static int count_key(const struct oh_node *n, const char *k)
{
    int c = 0;
    for (const struct oh_node *m = n ? n->first : NULL; m; m = m->next)
        c += m->key && strcmp(m->key, k) == 0;
    return c;
}

static const struct oh_edi_error *find_err(const struct oh_edi_report *r, const char *ref)
{
    for (size_t i = 0; i < r->nerr; i++)
        if (strcmp(r->err[i].elem_ref, ref) == 0)
            return &r->err[i];
    return NULL;
}

static const char *const valid_fixtures[] = {
    "210-staedi-wrapped-80-columns.x12",
    "214-staedi-ellipsis-segment-terminator.x12",
    "810-850-staedi-two-groups.x12",
    "810-staedi-simple.x12",
    "846-x12-types.x12",
    "850-ediengine-composite-sln.x12",
    "850-node-x12-newline-terminator.x12",
    "850-node-x12-redacted-newline-terminator.x12",
    "850-node-x12.x12",
    "855-node-x12.x12",
    "856-ediengine-crossdock.x12",
    "856-node-x12.x12",
    "860-x12-types.x12",
    "940-ediengine-2.x12",
    "940-ediengine-multiple-interchanges-and-groups.x12",
    "940-ediengine.x12",
    "997-staedi-invalid.x12",
    "997-staedi-multiple-interchanges.x12",
    "997-staedi-repetition-and-composites.x12",
    "997-staedi-simple.x12",
    "999-staedi-simple.x12",
    "850-node-x12-fat.x12",
    NULL,
};

static void test_fixtures_valid(void **state)
{
    (void)state;
    for (int i = 0; valid_fixtures[i]; i++) {
        struct doc d;
        load(&d, OH_FIXTURES "/x12", valid_fixtures[i]);
        if (d.r->nerrors)
            fail_msg("%s: %s", valid_fixtures[i], d.r->err[0].msg);
        assert_true(d.r->nsets > 0);
        assert_int_equal(d.root->count, d.r->nsets);
        unload(&d);
    }
}

static void test_850_mapping_paths(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_FIXTURES "/x12", "850-node-x12.x12");
    const struct oh_node *set = oh_node_at(d.root, 0);
    assert_string_equal(oh_node_str(get(get(set, "BEG"), "03")), "08292233294");
    const struct oh_node *st = get_q(set, "N1", "ST");
    assert_non_null(st);
    assert_string_equal(oh_node_str(get(st, "02")), "XYZ RETAIL");
    assert_string_equal(oh_node_str(get(get(st, "N3"), "01")), "31875 SOLON RD");
    assert_string_equal(oh_node_str(get(get(st, "N4"), "02")), "OH");
    assert_int_equal(count_key(set, "PO1"), 6);
    const struct oh_node *po1 = get(set, "PO1");
    assert_string_equal(oh_node_str(get(po1, "01")), "1");
    assert_string_equal(oh_node_str(get(po1, "02")), "120");
    assert_string_equal(oh_node_str(get(get(po1, "PID"), "05")), "SMALL WIDGET");
    assert_non_null(get(po1, "PO4"));
    /* summary segments are back at the set level, not inside the last PO1 */
    assert_non_null(get(set, "CTT"));
    assert_non_null(get(set, "SE"));
    /* envelope */
    const struct oh_node *env = get(set, "_envelope");
    assert_string_equal(oh_node_str(get(get(env, "GS"), "06")), "1421");
    assert_string_equal(oh_node_str(get(get(env, "ISA"), "13")), "000003438");
    assert_null(get(get(env, "ISA"), "16"));
    /* empty elements are left out */
    assert_null(get(get(set, "BEG"), "04"));
    assert_string_equal(oh_node_str(get(get(set, "BEG"), "05")), "20101127");
    assert_int_equal(d.r->ichg[0].groups[0].sets[0].status, OH_EDI_ACCEPTED);
    unload(&d);
}

static void test_composite_and_sln(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_FIXTURES "/x12", "850-ediengine-composite-sln.x12");
    const struct oh_node *set = oh_node_at(d.root, 0);
    const struct oh_node *sln = get(get(set, "PO1"), "SLN");
    assert_non_null(sln);
    const struct oh_node *c = get(sln, "05");
    assert_int_equal(c->type, OH_NODE_OBJECT);
    assert_string_equal(oh_node_str(get(c, "1")), "PC");
    assert_string_equal(oh_node_str(get(c, "4")), "EA");
    assert_string_equal(oh_node_str(get(c, "6")), "14.4");
    /* CTT opens its loop at the set level; AMT is inside it */
    assert_non_null(get(get(set, "CTT"), "AMT"));
    unload(&d);
}

static void test_856_hl_nesting(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_FIXTURES "/x12", "856-node-x12.x12");
    const struct oh_node *set = oh_node_at(d.root, 0);
    const struct oh_node *s = get_q(set, "HL", "1");
    assert_non_null(s);
    assert_string_equal(oh_node_str(get(s, "03")), "S");
    assert_non_null(get_q(s, "N1", "SH"));
    const struct oh_node *o = get_q(s, "HL", "2");
    assert_non_null(o);
    assert_string_equal(oh_node_str(get(o, "03")), "O");
    assert_int_equal(count_key(o, "HL"), 2); /* items 3 and 4 under order 2 */
    const struct oh_node *item = get_q(o, "HL", "3");
    assert_string_equal(oh_node_str(get(get(item, "LIN"), "05")), "999999310145");
    assert_non_null(get(set, "CTT"));
    /* ISA11 '-' is not split: the ZIP+4 stays whole */
    const struct oh_node *ob = get_q(s, "N1", "OB");
    assert_string_equal(oh_node_str(get(get(ob, "N4"), "03")), "31139-0020");
    assert_non_null(find_err(d.r, "ISA11"));
    assert_int_equal(d.r->nerrors, 0);
    unload(&d);

    load(&d, OH_FIXTURES "/x12", "856-ediengine-crossdock.x12");
    set = oh_node_at(d.root, 0);
    assert_int_equal(count_key(set, "HL"), 1); /* one shipment at the top */
    unload(&d);
}

static void test_separators_and_wrapping(void **state)
{
    struct doc d;
    (void)state;
    /* wrapped at 80 columns, even inside the ISA */
    load(&d, OH_FIXTURES "/x12", "210-staedi-wrapped-80-columns.x12");
    const struct oh_node *set = oh_node_at(d.root, 0);
    assert_string_equal(oh_node_str(get(get(get(set, "_envelope"), "ISA"), "10")), "0224");
    assert_string_equal(d.r->ichg[0].seps.term, "~");
    /* 210 has no loop table: flat, in order */
    assert_string_equal(oh_node_str(get(get(set, "N4"), "03")), "286977576");
    assert_int_equal(d.r->ichg[0].groups[0].sets[0].nsegs, 31);
    unload(&d);

    /* '…' (3 bytes) then LF */
    load(&d, OH_FIXTURES "/x12", "214-staedi-ellipsis-segment-terminator.x12");
    assert_int_equal(d.r->ichg[0].seps.term_len, 3);
    assert_memory_equal(d.r->ichg[0].seps.term, "\xE2\x80\xA6", 3);
    set = oh_node_at(d.root, 0);
    assert_string_equal(oh_node_str(get(get(set, "B10"), "03")), "XXXX");
    assert_int_equal(d.r->nerrors, 0);
    unload(&d);

    /* LF is the terminator */
    load(&d, OH_FIXTURES "/x12", "850-node-x12-newline-terminator.x12");
    assert_string_equal(d.r->ichg[0].seps.term, "\n");
    set = oh_node_at(d.root, 0);
    assert_true(count_key(set, "PO1") > 0);
    unload(&d);

    /* repetition '^' and component ':' inside AK3/AK4 */
    load(&d, OH_FIXTURES "/x12", "997-staedi-repetition-and-composites.x12");
    set = oh_node_at(d.root, 0);
    const struct oh_node *ak3 = get(get(set, "AK2"), "AK3");
    const struct oh_node *rep = get(ak3, "02");
    assert_int_equal(rep->type, OH_NODE_ARRAY);
    assert_int_equal(rep->count, 3);
    assert_string_equal(oh_node_str(get(oh_node_at(rep, 2), "2")), "AK302-R3-COMP2");
    assert_non_null(get(ak3, "AK4"));
    unload(&d);

    /* 999: IK3 holds CTX and the IK4 loop; IK5 closes them */
    load(&d, OH_FIXTURES "/x12", "999-staedi-simple.x12");
    set = oh_node_at(d.root, 0);
    assert_int_equal(count_key(set, "AK2"), 3);
    const struct oh_node *ak2 = get_q(set, "AK2", "837");
    ak2 = ak2->next;
    assert_non_null(get(get(ak2, "IK3"), "IK4"));
    assert_string_equal(oh_node_str(get(get(ak2, "IK5"), "01")), "R");
    unload(&d);
}

static void test_several_groups_and_interchanges(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_FIXTURES "/x12", "940-ediengine-multiple-interchanges-and-groups.x12");
    assert_int_equal(d.r->nichg, 2);
    assert_int_equal(d.r->ichg[0].ngroups + d.r->ichg[1].ngroups, 4);
    assert_int_equal(d.r->nsets, 6);
    /* IEA02 written without leading zeros: a warning, not a rejection */
    assert_int_equal(d.r->nerrors, 0);
    assert_non_null(find_err(d.r, "IEA02"));
    const struct oh_node *last = oh_node_at(d.root, 5);
    assert_string_equal(oh_node_str(get(get(last, "_envelope"), "interchange")), "2");
    unload(&d);

    load(&d, OH_FIXTURES "/x12", "810-850-staedi-two-groups.x12");
    assert_int_equal(d.r->ichg[0].ngroups, 2);
    assert_string_equal(d.r->ichg[0].groups[0].func, "IN");
    assert_int_equal(d.r->ichg[0].groups[0].nsets, 2);
    assert_string_equal(d.r->ichg[0].groups[1].func, "PO");
    unload(&d);

    /* the same interchange twice: both parsed, the repeat flagged */
    load(&d, OH_FIXTURES "/x12", "850-node-x12-fat.x12");
    assert_int_equal(d.r->nichg, 2);
    const struct oh_edi_error *e = find_err(d.r, "ISA13");
    assert_non_null(e);
    assert_int_equal(e->ichg_code, 25);
    assert_int_equal(e->interchange, 2);
    unload(&d);
}

/* ---- malformed input ---- */

struct bad_case {
    const char *file;
    const char *ref;      /* expected element notation */
    const char *text;     /* expected in the message */
    int set_code, group_code, ichg_code;
    int good_sets;        /* sets still accepted */
};

static const struct bad_case bad_cases[] = {
    {"850-bad-se01.x12", "SE01", "interchange 000000101 group 7 set 0002: SE01 says 12 segments, counted 11", 4, 0, 0, 1},
    {"850-bad-se02.x12", "SE02", "set 0001: SE02 '0009' does not match ST02 '0001'", 3, 0, 0, 1},
    {"850-bad-ge01.x12", "GE01", "interchange 000000101 group 7: GE01 says 3 sets, counted 2", 0, 5, 0, 2},
    {"850-bad-ge02.x12", "GE02", "GE02 '8' does not match GS06 '7'", 0, 4, 0, 2},
    {"850-bad-iea02.x12", "IEA02", "IEA02 '000000102' does not match ISA13 '000000101'", 0, 0, 1, 1},
    {"850-missing-iea.x12", "IEA", "IEA missing", 0, 0, 23, 1},
    {"850-missing-se.x12", "SE", "set 0001: SE missing", 2, 0, 0, 1},
    {"850-bad-quantity.x12", "PO102", "PO102 '1O' is not a number", 5, 0, 0, 1},
    {NULL, NULL, NULL, 0, 0, 0, 0},
};

static void test_malformed(void **state)
{
    (void)state;
    for (const struct bad_case *c = bad_cases; c->file; c++) {
        struct doc d;
        load(&d, OH_TEST_FIXTURES "/edi", c->file);
        const struct oh_edi_error *e = find_err(d.r, c->ref);
        if (!e)
            fail_msg("%s: no %s error", c->file, c->ref);
        if (!strstr(e->msg, c->text))
            fail_msg("%s: message '%s' lacks '%s'", c->file, e->msg, c->text);
        assert_int_equal(e->severity, OH_EDI_ERROR);
        assert_int_equal(e->set_code, c->set_code);
        assert_int_equal(e->group_code, c->group_code);
        assert_int_equal(e->ichg_code, c->ichg_code);
        int good = 0;
        for (size_t g = 0; g < d.r->ichg[0].ngroups; g++)
            good += d.r->ichg[0].groups[g].naccepted;
        assert_int_equal(good, c->good_sets);
        unload(&d);
    }
}

static void test_unknown_segment_in_loop(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "850-unknown-segment-in-loop.x12");
    assert_int_equal(d.r->nerrors, 0);
    const struct oh_edi_error *e = NULL;
    for (size_t i = 0; i < d.r->nerr; i++)
        if (strcmp(d.r->err[i].seg_id, "ZZZ") == 0)
            e = &d.r->err[i];
    assert_non_null(e);
    assert_int_equal(e->severity, OH_EDI_WARNING);
    assert_int_equal(e->seg_code, 6);
    assert_int_equal(e->seg_pos, 8);
    assert_string_equal(e->loop_id, "PID");
    /* kept, in order, inside the loop it appeared in */
    const struct oh_node *po1 = get(oh_node_at(d.root, 0), "PO1");
    assert_string_equal(oh_node_str(get(get(get(po1, "PID"), "ZZZ"), "02")), "NOT A SEGMENT");
    assert_int_equal(d.r->ichg[0].groups[0].sets[0].status, OH_EDI_ACCEPTED_ERRORS);
    assert_int_equal(d.r->ichg[0].groups[0].sets[1].status, OH_EDI_ACCEPTED);
    unload(&d);
}

static void test_truncated_and_not_x12(void **state)
{
    struct doc d;
    struct oh_err err = {0};
    struct oh_node *root;
    struct oh_edi_report *r = NULL;
    struct oh_arena *a = oh_arena_new(0);
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "850-truncated-isa.x12");
    const struct oh_edi_error *e = find_err(d.r, "ISA");
    assert_non_null(e);
    assert_int_equal(e->ichg_code, 23);
    assert_non_null(strstr(e->msg, "ISA truncated"));
    assert_int_equal(d.r->nsets, 0);
    unload(&d);

    assert_int_equal(oh_x12_decode_tree(a, "UNB+UNOA:1'", 11, &root, &r, &err), OH_EINVAL);
    assert_null(r);
    /* an ISA whose widths are wrong is still read, with each width named */
    const char *narrow = "ISA*00*0*00*0*ZZ*A*ZZ*B*240102*1200*U*00401*101*0*P*>~GS*PO*A*B*20240102*1200*1*X*004010~"
                         "ST*850*0001~BEG*00*SA*1**20240102~SE*3*0001~GE*1*1~IEA*1*101~";
    assert_int_equal(oh_x12_decode_tree(a, narrow, strlen(narrow), &root, &r, &err), 0);
    assert_non_null(find_err(r, "ISA02"));
    assert_non_null(find_err(r, "ISA13"));
    assert_int_equal(find_err(r, "ISA06")->ichg_code, 6);
    assert_int_equal(root->count, 1);
    oh_edi_report_free(r);
    oh_arena_free(a);
}

/* ---- encoder ---- */

static char *encode(const struct oh_node *root, const struct oh_edi_seps *s, int counts)
{
    char *buf = NULL;
    size_t len = 0;
    struct oh_err err = {0};
    FILE *f = open_memstream(&buf, &len);
    int rc = oh_x12_encode(root, s, counts, f, &err);
    fclose(f);
    if (rc < 0)
        fail_msg("encode: %s", err.msg);
    return buf;
}

static void roundtrip(const char *dir, const char *name, const struct oh_edi_seps *s)
{
    struct doc d;
    struct oh_err err = {0};
    struct oh_node *root2;
    struct oh_edi_report *r2 = NULL;
    load(&d, dir, name);
    char *text = encode(d.root, s, 1);
    if (oh_x12_decode_tree(d.a, text, strlen(text), &root2, &r2, &err) < 0)
        fail_msg("%s: re-read: %s", name, err.msg);
    char *j1 = oh_node_to_json(d.root, 0), *j2 = oh_node_to_json(root2, 0);
    if (strcmp(j1, j2) != 0)
        fail_msg("%s: tree changed after encode/decode\n%s\n%s\n%s", name, j1, j2, text);
    assert_int_equal(r2->nerrors, 0);
    free(j1);
    free(j2);
    free(text);
    oh_edi_report_free(r2);
    unload(&d);
}

static void test_roundtrip(void **state)
{
    struct oh_edi_seps alt, nolf, lfterm, multi;
    (void)state;
    oh_x12_default_seps(&alt);
    alt.elem = '|';
    alt.comp = '}';
    alt.rep = '!';
    alt.term[0] = '\'';
    nolf = alt;
    nolf.newline = 0;
    memset(&lfterm, 0, sizeof(lfterm));
    lfterm.elem = '^';
    lfterm.comp = '\\';
    lfterm.rep = '{';
    lfterm.term[0] = '\n';
    lfterm.term_len = 1;
    multi = alt;
    memcpy(multi.term, "\xE2\x80\xA6", 3);
    multi.term_len = 3;
    for (int i = 0; valid_fixtures[i]; i++) {
        if (strstr(valid_fixtures[i], "fat"))
            continue; /* same ordinals twice: covered below */
        roundtrip(OH_FIXTURES "/x12", valid_fixtures[i], NULL);
        roundtrip(OH_FIXTURES "/x12", valid_fixtures[i], &alt);
        roundtrip(OH_FIXTURES "/x12", valid_fixtures[i], &nolf);
        roundtrip(OH_FIXTURES "/x12", valid_fixtures[i], &lfterm);
        roundtrip(OH_FIXTURES "/x12", valid_fixtures[i], &multi);
    }
    roundtrip(OH_FIXTURES "/x12", "850-node-x12-fat.x12", NULL);
    roundtrip(OH_TEST_FIXTURES "/edi", "850-good-two-sets.x12", &alt);
    roundtrip(OH_TEST_FIXTURES "/edi", "850-unknown-segment-in-loop.x12", NULL);
}

static void test_encoder_counts_and_errors(void **state)
{
    struct doc d;
    struct oh_err err = {0};
    (void)state;
    /* a set whose SE01 is wrong comes out right when counts are computed */
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-se01.x12");
    char *text = encode(d.root, NULL, 1);
    assert_non_null(strstr(text, "SE*11*0002~"));
    assert_non_null(strstr(text, "GE*2*7~"));
    assert_non_null(strstr(text, "IEA*1*000000101~"));
    free(text);
    /* ... and as it was without */
    text = encode(d.root, NULL, 0);
    assert_non_null(strstr(text, "SE*12*0002~"));
    free(text);
    /* a value holding the element separator cannot be written */
    struct oh_edi_seps s;
    oh_x12_default_seps(&s);
    s.elem = '-'; /* SKU-1 holds '-' */
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(oh_x12_encode(d.root, &s, 1, f, &err), OH_EINVAL);
    fclose(f);
    free(buf);
    assert_non_null(strstr(err.msg, "separator"));
    unload(&d);
}

struct stream_ctx {
    int sets;
    size_t max_used;
};

static int stream_cb(void *ud, struct oh_node *set, const struct oh_edi_set_info *info,
                     struct oh_arena *a)
{
    struct stream_ctx *c = ud;
    c->sets++;
    assert_non_null(set);
    assert_int_equal(info->status, OH_EDI_ACCEPTED);
    if (oh_arena_used(a) > c->max_used)
        c->max_used = oh_arena_used(a);
    oh_arena_reset(a);
    return 0;
}

static void test_streaming_bounded(void **state)
{
    (void)state;
    /* 2000 sets in one group: memory per set, not per file */
    const char *isa = "ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     "
                      "*240102*1200*U*00401*000000101*0*P*>~\n"
                      "GS*PO*SENDERID*RECEIVERID*20240102*1200*7*X*004010~\n";
    size_t cap = 2000 * 200 + 1000, n = 0;
    char *buf = malloc(cap);
    n += (size_t)snprintf(buf + n, cap - n, "%s", isa);
    for (int i = 1; i <= 2000; i++)
        n += (size_t)snprintf(buf + n, cap - n,
                              "ST*850*%04d~BEG*00*SA*PO%d**20240102~N1*ST*X~N3*Y~PO1*1*2*EA*3**VP*S~"
                              "CTT*1~SE*7*%04d~\n",
                              i, i, i);
    n += (size_t)snprintf(buf + n, cap - n, "GE*2000*7~IEA*1*000000101~\n");
    struct oh_arena *a = oh_arena_new(0);
    struct oh_edi_report *r = NULL;
    struct oh_err err = {0};
    struct stream_ctx c = {0};
    struct oh_edi_parse_opts o = {0};
    assert_int_equal(oh_x12_parse(buf, n, &o, a, stream_cb, &c, &r, &err), 0);
    assert_int_equal(c.sets, 2000);
    assert_int_equal(r->nerrors, 0);
    assert_null(r->ichg[0].groups[0].sets); /* keep_sets off */
    assert_int_equal(r->ichg[0].groups[0].nsets, 2000);
    assert_true(c.max_used < 16384);
    oh_edi_report_free(r);
    oh_arena_free(a);
    free(buf);
}

/* What an outbound mapping makes: repeated segments as lists of objects, HL
 * levels nested without HL01/HL02 (numbered by the encoder), a given HL01
 * kept and counted on from. */
static void test_encoder_lists_and_levels(void **state)
{
    static const char json[] =
        "{\"_envelope\":{\"ISA\":{\"01\":\"00\",\"03\":\"00\",\"05\":\"ZZ\",\"06\":\"US\","
        "\"07\":\"ZZ\",\"08\":\"THEM\",\"09\":\"260101\",\"10\":\"1200\",\"12\":\"00401\","
        "\"13\":\"7\",\"14\":\"0\",\"15\":\"P\"},\"GS\":{\"01\":\"SH\",\"02\":\"US\",\"03\":\"THEM\","
        "\"04\":\"20260101\",\"05\":\"1200\",\"06\":\"7\",\"07\":\"X\",\"08\":\"004010\"}},"
        "\"ST\":{\"01\":\"856\",\"02\":\"0007\"},\"BSN\":{\"01\":\"00\",\"02\":\"S1\"},"
        "\"HL\":{\"03\":\"S\",\"N1\":[{\"01\":\"ST\",\"02\":\"A\"},{\"01\":\"SF\",\"02\":\"B\"}],"
        "\"HL\":{\"03\":\"O\",\"HL\":[{\"03\":\"P\",\"HL\":[{\"03\":\"I\",\"SN1\":{\"02\":\"2\"}},"
        "{\"03\":\"I\"}]},{\"03\":\"P\"},{\"01\":\"20\",\"02\":\"1\",\"03\":\"T\"},{\"03\":\"P\"}]}},"
        "\"CTT\":{\"01\":\"8\"},\"X\":[]}";
    const struct oh_format *js = oh_format_find("json");
    struct oh_arena *a = oh_arena_new(0);
    struct oh_node *root = NULL, *bad = NULL;
    struct oh_err err = {0};
    struct oh_format_opts o = {0};
    char *text, *buf = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;
    assert_non_null(js);
    if (js->decode(a, json, strlen(json), &o, &root, &err) < 0)
        fail_msg("%s", err.msg);
    text = encode(root, NULL, 1);
    assert_string_equal(text,
                        "ISA*00*          *00*          *ZZ*US             *ZZ*THEM           "
                        "*260101*1200*U*00401*000000007*0*P*>~\n"
                        "GS*SH*US*THEM*20260101*1200*7*X*004010~\n"
                        "ST*856*0007~\nBSN*00*S1~\n"
                        "HL*1**S~\nN1*ST*A~\nN1*SF*B~\n"
                        "HL*2*1*O~\n"
                        "HL*3*2*P~\nHL*4*3*I~\nSN1**2~\nHL*5*3*I~\n"
                        "HL*6*2*P~\nHL*20*1*T~\nHL*21*2*P~\n"
                        "CTT*8~\nSE*15*0007~\nGE*1*7~\nIEA*1*7~\n");
    free(text);
    /* a list of something else than objects is refused */
    static const char bad_json[] = "{\"_envelope\":{\"ISA\":{\"13\":\"1\"},\"GS\":{\"06\":\"1\"}},"
                                   "\"ST\":{\"01\":\"856\",\"02\":\"1\"},\"REF\":[\"x\"]}";
    if (js->decode(a, bad_json, strlen(bad_json), &o, &bad, &err) < 0)
        fail_msg("%s", err.msg);
    f = open_memstream(&buf, &len);
    assert_int_equal(oh_x12_encode(bad, NULL, 1, f, &err), OH_EINVAL);
    fclose(f);
    free(buf);
    assert_non_null(strstr(err.msg, "segment REF: a repeated segment must be an object"));
    oh_arena_free(a);
}

static void test_registry(void **state)
{
    struct doc d;
    struct oh_err err = {0};
    struct oh_node *root = NULL;
    struct oh_format_opts o = {0};
    (void)state;
    assert_int_equal(oh_edi_init(), 0);
    const struct oh_format *x12 = oh_format_find("x12");
    assert_non_null(x12);
    assert_non_null(oh_format_find("edifact"));
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-se01.x12");
    /* strict by default: the first error is the message */
    assert_int_equal(x12->decode(d.a, d.data, d.len, &o, &root, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "SE01 says 12 segments, counted 11"));
    o.n = 1;
    o.key[0] = "strict";
    o.val[0] = "0";
    assert_int_equal(x12->decode(d.a, d.data, d.len, &o, &root, &err), 0);
    assert_int_equal(root->count, 2);
    struct oh_node *lenient = root;
    o.n = 2;
    o.key[1] = "schema";
    o.val[1] = "856";
    assert_int_equal(x12->decode(d.a, d.data, d.len, &o, &root, &err), OH_EINVAL);
    o.key[1] = "bogus";
    assert_int_equal(x12->check(&o, &err), OH_EINVAL);
    /* encoder options */
    struct oh_format_opts e = {.n = 3, .key = {"element", "segment", "newline"},
                               .val = {"|", "!", "0"}};
    if (x12->check(&e, &err) < 0)
        fail_msg("%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(x12->encode(lenient, &e, f, &err), 0);
    fclose(f);
    assert_non_null(strstr(buf, "!GS|PO|"));
    assert_non_null(strstr(buf, "SE|11|0002!"));
    free(buf);
    unload(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_valid),
        cmocka_unit_test(test_850_mapping_paths),
        cmocka_unit_test(test_composite_and_sln),
        cmocka_unit_test(test_856_hl_nesting),
        cmocka_unit_test(test_separators_and_wrapping),
        cmocka_unit_test(test_several_groups_and_interchanges),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unknown_segment_in_loop),
        cmocka_unit_test(test_truncated_and_not_x12),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_encoder_counts_and_errors),
        cmocka_unit_test(test_encoder_lists_and_levels),
        cmocka_unit_test(test_streaming_bounded),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
