/*
 * test_edi_ack.c — 997/999/CONTRL built from parse reports (accepted,
 * accepted with errors, rejected, partially accepted), read back with
 * oh_edi_ack_read, and the public 997/999 samples read.
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
    int rc = oh_edi_detect(d->data, d->len) == OH_EDI_X12
                 ? oh_x12_decode_tree(d->a, d->data, d->len, &d->root, &d->r, &err)
                 : oh_edifact_decode_tree(d->a, d->data, d->len, &d->root, &d->r, &err);
    if (rc < 0)
        fail_msg("%s: %s", name, err.msg);
}

static void unload(struct doc *d)
{
    oh_edi_report_free(d->r);
    oh_arena_free(d->a);
    free(d->data);
}

static const struct oh_edi_ack_ctl ctl = {
    .ichg_ctrl = 900, .group_ctrl = 901, .set_ctrl = 902, .date = "20240105", .time = "0930"};

/* Builds the ack of group g, checks it re-parses cleanly as X12 and reads
 * it back. *text is the encoding (caller frees). */
static struct oh_edi_ack_result *x12_ack(struct doc *d, int ichg, int g, char **text)
{
    struct oh_err err = {0};
    struct oh_node *tree, *root2;
    struct oh_edi_report *r2 = NULL;
    struct oh_edi_ack_result *res = NULL;
    if (oh_x12_ack_build(d->r, ichg, g, &ctl, NULL, d->a, &tree, text, &err) < 0)
        fail_msg("ack: %s", err.msg);
    assert_int_equal(oh_x12_decode_tree(d->a, *text, strlen(*text), &root2, &r2, &err), 0);
    if (r2->nerrors)
        fail_msg("ack does not validate: %s\n%s", r2->err[0].msg, *text);
    /* the tree handed back is the tree the text decodes to */
    char *j1 = oh_node_to_json(tree, 0), *j2 = oh_node_to_json(root2, 0);
    assert_string_equal(j1, j2);
    free(j1);
    free(j2);
    assert_int_equal(oh_edi_ack_read(oh_node_at(root2, 0), &res, &err), 0);
    oh_edi_report_free(r2);
    return res;
}

static void test_997_accepted(void **state)
{
    struct doc d;
    char *text;
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "850-good-two-sets.x12");
    struct oh_edi_ack_result *res = x12_ack(&d, 1, 1, &text);
    /* sender and receiver swapped, control numbers from the caller */
    assert_non_null(strstr(text, "ISA*00*          *00*          *ZZ*RECEIVERID     *ZZ*SENDERID       *240105*0930*U*00401*000000900*0*P*>~"));
    assert_non_null(strstr(text, "GS*FA*RECEIVERID*SENDERID*20240105*0930*901*X*004010~"));
    assert_non_null(strstr(text, "ST*997*0902~"));
    assert_non_null(strstr(text, "AK1*PO*7~"));
    assert_non_null(strstr(text, "AK2*850*0001~\nAK5*A~"));
    assert_non_null(strstr(text, "AK9*A*2*2*2~"));
    assert_non_null(strstr(text, "SE*8*0902~"));
    assert_string_equal(res->kind, "997");
    assert_int_equal(res->status, 'A');
    assert_int_equal(res->nsets, 2);
    assert_int_equal(res->accepted, 2);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);
}

static void test_997_rejections(void **state)
{
    struct doc d;
    char *text;
    struct oh_edi_ack_result *res;
    (void)state;
    /* SE01 wrong in set 2: AK5*R*4, group partially accepted */
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-se01.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK2*850*0002~\nAK5*R*4~"));
    assert_non_null(strstr(text, "AK9*P*2*2*1~"));
    assert_int_equal(res->status, 'P');
    assert_int_equal(res->sets[0].status, 'A');
    assert_int_equal(res->sets[1].status, 'R');
    assert_int_equal(res->sets[1].codes[0], 4);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* SE02 != ST02: AK5*R*3 */
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-se02.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK2*850*0001~\nAK5*R*3~"));
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* GE02 != GS06: the group is rejected with AK905 4 */
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-ge02.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK9*R*2*2*2*4~"));
    assert_int_equal(res->status, 'R');
    assert_int_equal(res->codes[0], 4);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* GE01 wrong: AK9*R, included 3, received 2, code 5 */
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-ge01.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK9*R*3*2*2*5~"));
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* missing SE: AK5*R*2 */
    load(&d, OH_TEST_FIXTURES "/edi", "850-missing-se.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK2*850*0001~\nAK5*R*2~"));
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* a bad element: AK3 (segment 6 PO1, code 8) + AK4 (element 2, code 6) */
    load(&d, OH_TEST_FIXTURES "/edi", "850-bad-quantity.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK3*PO1*6*PO1*8~\nAK4*2**6~\nAK5*R*5~"));
    assert_int_equal(res->sets[0].nsegerr, 1);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* an unknown segment inside a loop: accepted with errors */
    load(&d, OH_TEST_FIXTURES "/edi", "850-unknown-segment-in-loop.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK3*ZZZ*8*PID*6~\nAK5*E*5~"));
    assert_non_null(strstr(text, "AK9*E*2*2*2~"));
    assert_int_equal(res->status, 'E');
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* the public 945 with SE01 12 for 16 segments (005010 group: a 999) */
    load(&d, OH_FIXTURES "/x12", "945-x12-types.x12");
    res = x12_ack(&d, 1, 1, &text);
    assert_string_equal(res->kind, "999");
    assert_non_null(strstr(text, "IK5*R*4~"));
    assert_non_null(strstr(text, "AK9*R*1*1*0~"));
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);
}

static void test_999_per_group(void **state)
{
    struct doc d;
    char *text;
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "850-two-groups-005010.x12");
    struct oh_edi_ack_result *res = x12_ack(&d, 1, 2, &text);
    assert_non_null(strstr(text, "ST*999*0902*005010X231~"));
    assert_non_null(strstr(text, "AK1*PO*8*005010~"));
    assert_non_null(strstr(text, "AK2*850*0003~\nIK5*R*4~"));
    assert_non_null(strstr(text, "AK9*P*2*2*1~"));
    assert_non_null(strstr(text, "*^*00501*000000900*"));
    assert_int_equal(res->nsets, 2);
    oh_edi_ack_result_free(res);
    free(text);
    res = x12_ack(&d, 1, 1, &text);
    assert_non_null(strstr(text, "AK9*A*1*1*1~"));
    oh_edi_ack_result_free(res);
    free(text);
    /* forcing a 997 for a 005010 group */
    struct oh_edi_ack_ctl c997 = ctl;
    struct oh_err err = {0};
    struct oh_node *tree;
    c997.kind = 997;
    assert_int_equal(oh_x12_ack_build(d.r, 1, 1, &c997, NULL, d.a, &tree, &text, &err), 0);
    assert_non_null(strstr(text, "ST*997*0902~"));
    free(text);
    assert_int_equal(oh_x12_ack_build(d.r, 1, 3, &ctl, NULL, d.a, &tree, &text, &err),
                     OH_ENOTFOUND);
    unload(&d);
}

static void test_read_public_acks(void **state)
{
    struct doc d;
    struct oh_err err = {0};
    struct oh_edi_ack_result *res;
    (void)state;
    load(&d, OH_FIXTURES "/x12", "997-staedi-simple.x12");
    assert_int_equal(oh_edi_ack_read(oh_node_at(d.root, 0), &res, &err), 0);
    assert_string_equal(res->kind, "997");
    assert_string_equal(res->func, "HC");
    assert_string_equal(res->group_ctrl, "000001");
    assert_int_equal(res->status, 'R');
    assert_int_equal(res->nsets, 1);
    assert_string_equal(res->sets[0].ctrl, "0021");
    assert_int_equal(res->sets[0].status, 'R');
    assert_int_equal(res->sets[0].codes[0], 5);
    assert_int_equal(res->sets[0].nsegerr, 1);
    assert_int_equal(res->included, 1);
    assert_int_equal(res->accepted, 0);
    oh_edi_ack_result_free(res);
    unload(&d);

    load(&d, OH_FIXTURES "/x12", "999-staedi-simple.x12");
    assert_int_equal(oh_edi_ack_read(oh_node_at(d.root, 0), &res, &err), 0);
    assert_string_equal(res->kind, "999");
    assert_int_equal(res->status, 'P');
    assert_int_equal(res->nsets, 3);
    assert_int_equal(res->sets[0].status, 'A');
    assert_int_equal(res->sets[1].status, 'R');
    assert_int_equal(res->sets[1].nsegerr, 1);
    assert_int_equal(res->accepted, 1);
    oh_edi_ack_result_free(res);

    /* not an ack */
    unload(&d);
    load(&d, OH_FIXTURES "/x12", "850-node-x12.x12");
    assert_int_equal(oh_edi_ack_read(oh_node_at(d.root, 0), &res, &err), OH_EINVAL);
    assert_null(res);
    unload(&d);
}

static struct oh_edi_ack_result *contrl(struct doc *d, char **text)
{
    struct oh_err err = {0};
    struct oh_node *tree, *root2;
    struct oh_edi_report *r2 = NULL;
    struct oh_edi_ack_result *res = NULL;
    if (oh_edifact_contrl_build(d->r, 1, &ctl, NULL, d->a, &tree, text, &err) < 0)
        fail_msg("contrl: %s", err.msg);
    assert_int_equal(oh_edifact_decode_tree(d->a, *text, strlen(*text), &root2, &r2, &err), 0);
    if (r2->nerrors)
        fail_msg("CONTRL does not validate: %s\n%s", r2->err[0].msg, *text);
    assert_int_equal(oh_edi_ack_read(oh_node_at(root2, 0), &res, &err), 0);
    oh_edi_report_free(r2);
    return res;
}

static void test_contrl(void **state)
{
    struct doc d;
    char *text;
    struct oh_edi_ack_result *res;
    (void)state;
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-good-two-messages.edi");
    res = contrl(&d, &text);
    assert_non_null(strstr(text, "UNB+UNOC:3+4012345000009:14+5412345000013:14+240105:0930+900'"));
    assert_non_null(strstr(text, "UNH+902+CONTRL:D:3:UN'"));
    assert_non_null(strstr(text, "UCI+IC0001+5412345000013:14+4012345000009:14+7'"));
    assert_non_null(strstr(text, "UCM+M1+ORDERS:D:96A:UN+7'"));
    assert_string_equal(res->kind, "CONTRL");
    assert_string_equal(res->ichg_ctrl, "IC0001");
    assert_int_equal(res->status, 'A');
    assert_int_equal(res->nsets, 2);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* UNT count wrong in M1: UCM 4 with code 29; M2 acknowledged */
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-bad-unt-count.edi");
    res = contrl(&d, &text);
    assert_non_null(strstr(text, "UCM+M1+ORDERS:D:96A:UN+4+29'"));
    assert_non_null(strstr(text, "UCM+M2+ORDERS:D:96A:UN+7'"));
    assert_int_equal(res->status, 'P');
    assert_int_equal(res->sets[0].status, 'R');
    assert_int_equal(res->sets[0].codes[0], 29);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* interchange trailer wrong: UCI action 4 with its code */
    load(&d, OH_TEST_FIXTURES "/edi", "ORDERS-bad-unz.edi");
    res = contrl(&d, &text);
    assert_non_null(strstr(text, "UCI+IC0001+5412345000013:14+4012345000009:14+4+29'"));
    assert_int_equal(res->status, 'R');
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* element errors: UCS with UCD per element */
    load(&d, OH_FIXTURES "/edifact", "INVOIC-D97B-staedi-bad.edi");
    res = contrl(&d, &text);
    assert_non_null(strstr(text, "UCS+10'\nUCD+37+1:2'"));
    assert_non_null(strstr(text, "UCS+5'\nUCD+39+1:1'"));
    assert_int_equal(res->sets[0].status, 'R');
    assert_int_equal(res->sets[0].nsegerr, 3);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);

    /* explicit group: UCF around the UCM */
    load(&d, OH_FIXTURES "/edifact", "ORDERS-D96B-EAN008-staedi-with-UNG.edi");
    res = contrl(&d, &text);
    assert_non_null(strstr(text, "UCF+1+"));
    assert_int_equal(res->nsets, 1);
    oh_edi_ack_result_free(res);
    free(text);
    unload(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_997_accepted),
        cmocka_unit_test(test_997_rejections),
        cmocka_unit_test(test_999_per_group),
        cmocka_unit_test(test_read_public_acks),
        cmocka_unit_test(test_contrl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
