/*
 * edi_cli.c — `orderhub edi parse|validate|ack FILE [--control N]`.
 *
 *   parse     the document tree as JSON on stdout (errors on stderr)
 *   validate  every error and warning, one per line; exit 1 on any error
 *   ack       the 997/999 per functional group (X12) or the CONTRL per
 *             interchange (EDIFACT) that orderhub would send back; control
 *             numbers start at --control N (default 1) and count up
 *
 * X12 or EDIFACT is told from the first bytes (ISA / UNA / UNB). Exit codes:
 * 0 OK, 1 errors in the document, 2 usage or unreadable input.
 */
#include "edi.h"

#include "arena.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define EDI_CLI_MAX_INPUT (1024UL * 1024 * 1024)

static int usage(void)
{
    fprintf(stderr, "usage: orderhub edi parse FILE\n"
                    "       orderhub edi validate FILE\n"
                    "       orderhub edi ack FILE [--control N]\n");
    return 2;
}

static int cmd_ack(const struct oh_edi_report *r, unsigned long control, struct oh_arena *a)
{
    struct oh_err err = {0};
    int rc = 0;
    for (size_t i = 0; i < r->nichg; i++) {
        const struct oh_edi_ichg_info *ic = &r->ichg[i];
        if (r->syntax == OH_EDI_EDIFACT) {
            struct oh_edi_ack_ctl ctl = {.ichg_ctrl = control, .set_ctrl = control};
            char *text = NULL;
            struct oh_node *tree;
            if (oh_edifact_contrl_build(r, ic->ordinal, &ctl, NULL, a, &tree, &text, &err) < 0) {
                fprintf(stderr, "orderhub edi ack: %s\n", err.msg);
                rc = 1;
            } else {
                fputs(text, stdout);
            }
            free(text);
            control++;
            continue;
        }
        for (size_t g = 0; g < ic->ngroups; g++) {
            struct oh_edi_ack_ctl ctl = {
                .ichg_ctrl = control, .group_ctrl = control, .set_ctrl = control};
            char *text = NULL;
            struct oh_node *tree;
            if (oh_x12_ack_build(r, ic->ordinal, ic->groups[g].ordinal, &ctl, NULL, a, &tree,
                                 &text, &err) < 0) {
                fprintf(stderr, "orderhub edi ack: %s\n", err.msg);
                rc = 1;
            } else {
                fputs(text, stdout);
            }
            free(text);
            control++;
        }
    }
    return rc;
}

int oh_edi_cli(int argc, char **argv)
{
    struct oh_err err = {0};
    struct oh_arena *a = NULL;
    struct oh_edi_report *r = NULL;
    struct oh_node *root = NULL;
    char *data = NULL;
    size_t len = 0;
    unsigned long control = 1;
    const char *cmd, *file = NULL;
    int rc = 2;

    if (argc < 3)
        return usage();
    cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
            char *end;
            control = strtoul(argv[++i], &end, 10);
            if (*end || control == 0 || control > 999999999UL) {
                fprintf(stderr, "orderhub edi: --control wants a number from 1 to 999999999\n");
                return 2;
            }
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            return usage();
        }
    }
    if (!file || (strcmp(cmd, "parse") && strcmp(cmd, "validate") && strcmp(cmd, "ack")))
        return usage();
    if (oh_read_file(file, EDI_CLI_MAX_INPUT, &data, &len, &err) < 0) {
        fprintf(stderr, "orderhub edi: %s: %s\n", file, err.msg);
        goto done;
    }
    a = oh_arena_new(0);
    enum oh_edi_syntax syn = oh_edi_detect(data, len);
    int prc;
    if (syn == OH_EDI_X12)
        prc = oh_x12_decode_tree(a, data, len, &root, &r, &err);
    else if (syn == OH_EDI_EDIFACT)
        prc = oh_edifact_decode_tree(a, data, len, &root, &r, &err);
    else
        prc = oh_err_set(&err, OH_EINVAL, "neither X12 (ISA) nor EDIFACT (UNA/UNB)");
    if (prc < 0) {
        fprintf(stderr, "orderhub edi: %s: %s\n", file, err.msg);
        rc = 1;
        goto done;
    }
    if (strcmp(cmd, "parse") == 0) {
        oh_node_write_json(root, stdout, 1);
        fputc('\n', stdout);
        oh_edi_report_print(r, stderr);
        rc = r->nerrors ? 1 : 0;
    } else if (strcmp(cmd, "validate") == 0) {
        oh_edi_report_print(r, stdout);
        if (!r->nerr)
            printf("ok: %zu interchange%s, %zu set%s, no errors\n", r->nichg,
                   r->nichg == 1 ? "" : "s", r->nsets, r->nsets == 1 ? "" : "s");
        rc = r->nerrors ? 1 : 0;
    } else {
        rc = cmd_ack(r, control, a);
    }
done:
    oh_edi_report_free(r);
    oh_arena_free(a);
    free(data);
    return rc;
}
