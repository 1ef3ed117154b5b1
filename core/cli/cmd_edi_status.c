/* cmd_edi_status.c — `orderhub edi status [--channel C] [--json] -c FILE`:
 * the interchanges we sent to EDI partners and their acknowledgements
 * (pending, accepted, partial, rejected with the partner's codes, overdue). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon/hub.h"

int oh_cli_edi_status(int argc, char **argv)
{
    struct oh_hub *h = NULL;
    struct oh_store *st = NULL;
    struct oh_err err;
    const char *channel = oh_cli_opt(&argc, argv, "--channel");
    int json = oh_cli_flag(&argc, argv, "--json"), rc = 2;
    const char *config = oh_cli_config(&argc, argv);
    json_t *rows = NULL, *r;
    size_t i, overdue = 0;

    if (oh_hub_open(config, OH_HUB_NO_SPOOL, NULL, NULL, &h, &err) < 0 ||
        oh_hub_store_open(h, &st, &err) < 0) {
        fprintf(stderr, "orderhub edi status: %s\n", err.msg);
        goto done;
    }
    if (oh_store_edi_status(st, channel, 1000, &rows, &err) < 0) {
        fprintf(stderr, "orderhub edi status: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    if (json) {
        json_dumpf(rows, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        printf("%-16s %-8s %-10s %-10s %-8s %-24s %-9s %s\n", "CHANNEL", "MESSAGE", "ISA13",
               "GS06", "EXPECTS", "DUE", "STATUS", "CODES");
        json_array_foreach(rows, i, r) {
            int late = json_is_true(json_object_get(r, "overdue"));
            overdue += late;
            printf("%-16s %-8s %010lld %-10lld %-8s %-24s %-9s %s\n",
                   json_string_value(json_object_get(r, "partner")),
                   json_string_value(json_object_get(r, "message")),
                   (long long)json_integer_value(json_object_get(r, "icn")),
                   (long long)json_integer_value(json_object_get(r, "gcn")),
                   json_string_value(json_object_get(r, "ack_expected")) ?: "",
                   json_string_value(json_object_get(r, "ack_due_at")) ?: "",
                   late ? "overdue" : json_string_value(json_object_get(r, "ack_status")),
                   json_string_value(json_object_get(r, "ack_codes")) ?: "");
        }
        printf("%zu interchange(s), %zu overdue\n", json_array_size(rows), overdue);
    }
    rc = 0;
done:
    json_decref(rows);
    oh_store_free(st);
    oh_hub_free(h);
    return rc;
}
