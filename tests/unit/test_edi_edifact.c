/*
 * test_edi_edifact.c — EDIFACT reader, validator and encoder against the
 * shared fixtures (UNA custom separators, decimal comma, wrapped lines,
 * mojibake, missing UNA, the deliberately bad INVOIC) and the malformed
 * variants in tests/fixtures/edi.
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

struct doc {
    struct oh_arena *a;
    char *data;
    size_t len;
    struct oh_node *root;
    struct oh_edi_report *r;
};

static void load(struct doc *d, const char *dir, const char *name)
{
    char path[1024];
    struct oh_err err = {0};
    memset(d, 0, sizeof(*d));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (oh_read_file(path, 0, &d->data, &d->len, &err) < 0)
        fail_msg("%s: %s", path, err.msg);
    d->a = oh_arena_new(0);
    if (oh_edifact_decode_tree(d->a, d->data, d->len, &d->root, &d->r, &err) < 0)
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

/* Fixtures without any error (warnings allowed). */
static const char *const valid_fixtures[] = {
    "DESADV-D96A-php-edifact.edi",
    "INVOIC-D97A-pydifact.edi",
    "INVOIC-D97B-staedi-una-custom-separators.edi",
    "ORDERS-D01B-EAN010-php-edifact-mojibake.edi",
    "PAORES-93-php-edifact-single-line.edi",
    NULL,
};

/* Fixtures with errors of their own, and the first error each must name. */
static const struct {
    const char *file, *ref, *text;
} invalid_fixtures[] = {
    {"APERAK-D96A-pydifact.edi", "UNT 0074", "UNT 0074 says 8 segments, counted 7"},
    {"APERAK-D96A-pydifact-rejected.edi", "UNT 0074", "UNT 0074 says 8 segments, counted 7"},
    {"INVOIC-D93A-staedi-una-decimal-comma.edi", "NAD 06", "outside UNOA"},
    {"INVOIC-D97B-staedi.edi", "NAD 04", "outside UNOA"},
    {"INVOIC-D97B-staedi-wrapped-50-columns.edi", "NAD 04", "outside UNOA"},
    {"INVOIC-D97B-staedi-bad.edi", "QTY 01.2", "QTY 01.2 '1020A' is not a number"},
    {"ORDERS-D96A-EAN008-pydifact-una.edi", "UNZ", "UNZ missing"},
    {"ORDERS-D96A-pydifact-minimal.edi", "UNZ", "UNZ missing"},
    {"ORDERS-D96A-pydifact-wikipedia-de.edi", "UNZ 0020", "UNZ 0020 '1234567' does not match UNB 0020 '1'"},
    {"ORDERS-D96B-EAN008-staedi-with-UNG.edi", "UNT 0074", "UNT 0074 says 21 segments, counted 18"},
    {NULL, NULL, NULL},
};

static void test_fixtures(void **state)
{
    (void)state;
    for (int i = 0; valid_fixtures[i]; i++) {
        struct doc d;
        load(&d, OH_FIXTURES "/edifact", valid_fixtures[i]);
        if (d.r->nerrors)
            fail_msg("%s: %s", valid_fixtures[i], d.r->err[0].msg);
        assert_true(d.r->nsets > 0);
        unload(&d);
    }
    for (int i = 0; invalid_fixtures[i].file; i++) {
        struct doc d;
        load(&d, OH_FIXTURES "/edifact", invalid_fixtures[i].file);
        const struct oh_edi_error *e = find_err(d.r, invalid_fixtures[i].ref);
        if (!e)
            fail_msg("%s: no %s error", invalid_fixtures[i].file, invalid_fixtures[i].ref);
        if (!strstr(e->msg, invalid_fixtures[i].text))
            fail_msg("%s: '%s' lacks '%s'", invalid_fixtures[i].file, e->msg,
                     invalid_fixtures[i].text);
        /* the message is still returned */
        assert_true(d.root->count > 0);
        unload(&d);
    }
}

static void test_not_edifact(void **state)
{
    char *data = NULL;
    size_t len;
    struct oh_err err = {0};
    struct oh_node *root;
    struct oh_edi_report *r = NULL;
    struct oh_arena *a = oh_arena_new(0);
    (void)state;
    assert_int_equal(oh_read_file(OH_FIXTURES "/edifact/TRADACOMS-ORDHDR-staedi.edi", 0, &data,
                                  &len, &err), 0);
    assert_int_equal(oh_edi_detect(data, len), OH_EDI_UNKNOWN);
    assert_int_equal(oh_edifact_decode_tree(a, data, len, &root, &r, &err), OH_EINVAL);
    assert_null(r);
    free(data);
    assert_int_equal(oh_edi_detect("UNA:+.? 'UNB+", 13), OH_EDI_EDIFACT);
    assert_int_equal(oh_edi_detect("\xEF\xBB\xBF\r\nISA*00", 11), OH_EDI_X12);
    oh_arena_free(a);
}

static void test_orders_groups(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_FIXTURES "/edifact", "ORDERS-D01B-EAN010-php-edifact-mojibake.edi");
    const struct oh_node *m = oh_node_at(d.root, 0);
    assert_string_equal(oh_node_str(get(get(m, "UNH"), "01")), "2019265563");
    assert_string_equal(oh_node_str(get(get(get(m, "UNH"), "02"), "1")), "ORDERS");
    const struct oh_node *by = get_q(m, "NAD", "BY");
    assert_non_null(by);
    /* release character: 'A?+A' is "A+A" */
    assert_string_equal(oh_node_str(get(by, "04")), "A+A K\xEF\xBF\xBDlte GmbH");
    /* SG2 NAD holds its CTA/COM group */
    assert_non_null(get(get(by, "CTA"), "COM"));
    /* SG25 LIN loops hold QTY/PRI... */
    int lins = count_key(m, "LIN");
    assert_true(lins > 10);
    const struct oh_node *lin = get(m, "LIN");
    assert_non_null(get(lin, "QTY"));
    assert_non_null(get(m, "UNS"));
    assert_non_null(get(m, "UNT"));
    /* UNOC declared, UTF-8 found: kept, with one warning */
    assert_int_equal(d.r->nerrors, 0);
    assert_non_null(find_err(d.r, "UNB 0001"));
    unload(&d);
}

static void test_una_and_decimal_comma(void **state)
{
    struct doc d, plain;
    (void)state;
    load(&d, OH_FIXTURES "/edifact", "INVOIC-D97B-staedi-una-custom-separators.edi");
    assert_int_equal(d.r->ichg[0].seps.elem, '*');
    assert_int_equal(d.r->ichg[0].seps.comp, '=');
    assert_int_equal(d.r->ichg[0].seps.term[0], '~');
    const struct oh_node *m = oh_node_at(d.root, 0);
    /* '006?415160' is 006415160 */
    const struct oh_node *unb = get(get(m, "_envelope"), "UNB");
    assert_string_equal(oh_node_str(get(get(unb, "03"), "1")), "006415160");
    assert_string_equal(oh_node_str(get(get(get(get(m, "LIN"), "QTY"), "01"), "2")), "1020");
    /* same message as the plain file: the trees agree past the envelope */
    load(&plain, OH_FIXTURES "/edifact", "INVOIC-D97B-staedi-wrapped-50-columns.edi");
    const struct oh_node *pm = oh_node_at(plain.root, 0);
    assert_string_equal(oh_node_str(get(get(pm, "UNT"), "01")), oh_node_str(get(get(m, "UNT"), "01")));
    assert_string_equal(oh_node_str(get(get_q(pm, "NAD", "SE"), "04")), "B\xC3\x9CTTNER WIDGET COMPANY");
    unload(&plain);
    unload(&d);

    load(&d, OH_FIXTURES "/edifact", "INVOIC-D93A-staedi-una-decimal-comma.edi");
    assert_int_equal(d.r->ichg[0].seps.dec, ',');
    /* "19,9" is a number with this UNA: no MOA error */
    for (size_t i = 0; i < d.r->nerr; i++)
        assert_null(strstr(d.r->err[i].elem_ref, "MOA"));
    unload(&d);
}

static void test_latin1_and_release(void **state)
{
    struct doc d;
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-unoc-latin1-release.edi");
    assert_int_equal(d.r->nerrors, 0);
    assert_int_equal(d.r->nwarnings, 0);
    const struct oh_node *by = get_q(oh_node_at(d.root, 0), "NAD", "BY");
    assert_string_equal(oh_node_str(get(by, "04")), "M\xC3\xBCller + S\xC3\xB6hne's GmbH");
    unload(&d);
}

struct bad_case {
    const char *file, *ref, *text;
    int set_code, ichg_code, good;
};

static const struct bad_case bad_cases[] = {
    {"ORDERS-bad-unt-count.edi", "UNT 0074", "interchange IC0001 message M1: UNT 0074 says 5 segments, counted 14", 29, 0, 1},
    {"ORDERS-bad-unt-ref.edi", "UNT 0062", "UNT 0062 'M9' does not match UNH 0062 'M1'", 28, 0, 1},
    {"ORDERS-bad-unz.edi", "UNZ 0036", "UNZ 0036 says 3, counted 2", 0, 29, 2},
    {"ORDERS-bad-unz.edi", "UNZ 0020", "UNZ 0020 'IC0002' does not match UNB 0020 'IC0001'", 0, 28, 2},
    {"ORDERS-missing-unz.edi", "UNZ", "UNZ missing", 0, 13, 1},
    {"ORDERS-release-at-end.edi", "UNA", "release character '?' at the end of the file", 0, 22, 1},
    {NULL, NULL, NULL, 0, 0, 0},
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
            fail_msg("%s: '%s' lacks '%s'", c->file, e->msg, c->text);
        assert_int_equal(e->set_code, c->set_code);
        assert_int_equal(e->ichg_code, c->ichg_code);
        assert_int_equal(d.r->ichg[0].groups[0].naccepted, c->good);
        unload(&d);
    }
    struct doc d;
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-unknown-segment.edi");
    assert_int_equal(d.r->nerrors, 0);
    assert_int_equal(d.r->err[0].seg_code, 15);
    assert_string_equal(d.r->err[0].seg_id, "ZZZ");
    assert_string_equal(d.r->err[0].loop_id, "LIN");
    assert_non_null(get(get(oh_node_at(d.root, 0), "LIN"), "ZZZ"));
    unload(&d);
}

static char *encode(const struct oh_node *root, const struct oh_edi_seps *s, int counts)
{
    char *buf = NULL;
    size_t len = 0;
    struct oh_err err = {0};
    FILE *f = open_memstream(&buf, &len);
    int rc = oh_edifact_encode(root, s, counts, f, &err);
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
    char *text = encode(d.root, s, 0);
    if (oh_edifact_decode_tree(d.a, text, strlen(text), &root2, &r2, &err) < 0)
        fail_msg("%s: re-read: %s\n%s", name, err.msg, text);
    char *j1 = oh_node_to_json(d.root, 0), *j2 = oh_node_to_json(root2, 0);
    if (strcmp(j1, j2) != 0)
        fail_msg("%s: tree changed after encode/decode\n%s\n%s\n%s", name, j1, j2, text);
    free(j1);
    free(j2);
    free(text);
    oh_edi_report_free(r2);
    unload(&d);
}

static void test_roundtrip(void **state)
{
    struct oh_edi_seps alt, nolf;
    (void)state;
    oh_edifact_default_seps(&alt);
    alt.elem = '*';
    alt.comp = '^';
    alt.rel = '\\';
    alt.term[0] = '~';
    nolf = alt;
    nolf.newline = 0;
    const char *all[] = {
        "APERAK-D96A-pydifact-rejected.edi", "APERAK-D96A-pydifact.edi",
        "DESADV-D96A-php-edifact.edi", "INVOIC-D93A-staedi-una-decimal-comma.edi",
        "INVOIC-D97A-pydifact.edi", "INVOIC-D97B-staedi-bad.edi",
        "INVOIC-D97B-staedi-una-custom-separators.edi", "INVOIC-D97B-staedi-wrapped-50-columns.edi",
        "INVOIC-D97B-staedi.edi", "ORDERS-D01B-EAN010-php-edifact-mojibake.edi",
        "ORDERS-D96A-EAN008-pydifact-una.edi", "ORDERS-D96A-pydifact-minimal.edi",
        "ORDERS-D96A-pydifact-wikipedia-de.edi", "ORDERS-D96B-EAN008-staedi-with-UNG.edi",
        "PAORES-93-php-edifact-single-line.edi", NULL};
    for (int i = 0; all[i]; i++) {
        roundtrip(OH_FIXTURES "/edifact", all[i], NULL);
        roundtrip(OH_FIXTURES "/edifact", all[i], &alt);
        roundtrip(OH_FIXTURES "/edifact", all[i], &nolf);
    }
    roundtrip(OH_TEST_FIXTURES "/edi", "ORDERS-unoc-latin1-release.edi", NULL);
    roundtrip(OH_TEST_FIXTURES "/edi", "ORDERS-good-two-messages.edi", &alt);
}

static void test_encoder_details(void **state)
{
    struct doc d;
    struct oh_edi_seps alt;
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-unoc-latin1-release.edi");
    char *text = encode(d.root, NULL, 1);
    /* default separators: no UNA; UNOC text goes out as Latin-1, escaped */
    assert_int_equal(strncmp(text, "UNB+", 4), 0);
    assert_non_null(strstr(text, "M\xFCller ?+ S\xF6hne?'s GmbH"));
    assert_non_null(strstr(text, "UNZ+1+IC0001'"));
    free(text);
    oh_edifact_default_seps(&alt);
    alt.term[0] = '~';
    text = encode(d.root, &alt, 1);
    assert_int_equal(strncmp(text, "UNA:+.? ~\n", 10), 0);
    free(text);
    unload(&d);
    /* counts recomputed on request */
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-bad-unt-count.edi");
    text = encode(d.root, NULL, 1);
    assert_non_null(strstr(text, "UNT+14+M1'"));
    free(text);
    unload(&d);
    /* a group's UNE is written back */
    load(&d, OH_FIXTURES "/edifact", "ORDERS-D96B-EAN008-staedi-with-UNG.edi");
    text = encode(d.root, NULL, 1);
    assert_non_null(strstr(text, "UNE+1+1'"));
    assert_non_null(strstr(text, "UNZ+1+2722166169492'"));
    free(text);
    unload(&d);
}

/* CPS levels nested in a mapping's output are numbered (7164) and linked
 * (7166) by the encoder; repeated segments come from lists. */
static void test_encoder_cps_levels(void **state)
{
    static const char json[] =
        "{\"_envelope\":{\"UNB\":{\"01\":{\"1\":\"UNOC\",\"2\":\"3\"},\"02\":\"US\",\"03\":\"THEM\","
        "\"04\":{\"1\":\"260101\",\"2\":\"1200\"},\"05\":\"9\"}},"
        "\"UNH\":{\"01\":\"9\",\"02\":{\"1\":\"DESADV\",\"2\":\"D\",\"3\":\"96A\",\"4\":\"UN\"}},"
        "\"BGM\":{\"01\":\"351\",\"02\":\"S1\"},"
        "\"CPS\":{\"PAC\":{\"01\":\"2\"},\"LIN\":[{\"01\":\"1\"},{\"01\":\"2\"}],"
        "\"CPS\":[{\"PAC\":{\"01\":\"1\"}},{\"PAC\":{\"01\":\"1\"}}]},\"CNT\":{\"01\":{\"1\":\"2\",\"2\":\"2\"}}}";
    const struct oh_format *js = oh_format_find("json");
    struct oh_arena *a = oh_arena_new(0);
    struct oh_node *root = NULL;
    struct oh_err err = {0};
    struct oh_format_opts o = {0};
    char *text;
    (void)state;
    assert_non_null(js);
    if (js->decode(a, json, strlen(json), &o, &root, &err) < 0)
        fail_msg("%s", err.msg);
    text = encode(root, NULL, 1);
    assert_string_equal(text, "UNB+UNOC:3+US+THEM+260101:1200+9'\n"
                              "UNH+9+DESADV:D:96A:UN'\nBGM+351+S1'\n"
                              "CPS+1'\nPAC+2'\nLIN+1'\nLIN+2'\n"
                              "CPS+2+1'\nPAC+1'\nCPS+3+1'\nPAC+1'\n"
                              "CNT+2:2'\nUNT+12+9'\nUNZ+1+9'\n");
    free(text);
    oh_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_not_edifact),
        cmocka_unit_test(test_orders_groups),
        cmocka_unit_test(test_una_and_decimal_comma),
        cmocka_unit_test(test_latin1_and_release),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_encoder_details),
        cmocka_unit_test(test_encoder_cps_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
