/* cmd_orders.c — orders list | show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon/hub.h"

static const char *s(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

int oh_cli_orders(int argc, char **argv)
{
    struct oh_hub *h = NULL;
    struct oh_store *st = NULL;
    struct oh_err err;
    const char *config, *channel, *limit;
    int json, rc = 2;

    channel = oh_cli_opt(&argc, argv, "--channel");
    limit = oh_cli_opt(&argc, argv, "--limit");
    json = oh_cli_flag(&argc, argv, "--json");
    config = oh_cli_config(&argc, argv);
    if (oh_hub_open(config, OH_HUB_NO_SPOOL, NULL, NULL, &h, &err) < 0 ||
        oh_hub_store_open(h, &st, &err) < 0) {
        fprintf(stderr, "orderhub orders: %s\n", err.msg);
        goto done;
    }
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        json_t *rows = NULL, *r;
        size_t i;
        if (oh_store_orders_list(st, channel, limit ? strtoul(limit, NULL, 10) : 50, &rows, &err) < 0) {
            fprintf(stderr, "orderhub orders: %s\n", err.msg);
            rc = 1;
            goto done;
        }
        if (json) {
            json_dumpf(rows, stdout, JSON_INDENT(2));
            putchar('\n');
        } else {
            printf("%-14s %-18s %-12s %-17s %-4s %12s %5s  %s\n", "CHANNEL", "EXTERNAL_ID", "NUMBER",
                   "STATUS", "CUR", "TOTAL", "LINES", "PLACED_AT");
            json_array_foreach(rows, i, r)
                printf("%-14s %-18s %-12s %-17s %-4s %12s %5lld  %s\n", s(r, "channel"),
                       s(r, "external_id"), s(r, "number"), s(r, "status"), s(r, "currency"),
                       s(r, "total"), (long long)json_integer_value(json_object_get(r, "lines")),
                       s(r, "placed_at"));
        }
        json_decref(rows);
        rc = 0;
    } else if (argc == 4 && strcmp(argv[1], "show") == 0) {
        json_t *o = NULL;
        if (oh_store_order_get(st, argv[2], argv[3], &o, &err) < 0) {
            fprintf(stderr, "orderhub orders show: %s\n", err.msg);
            rc = 1;
            goto done;
        }
        json_dumpf(o, stdout, json ? JSON_COMPACT : JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
        rc = 0;
    } else {
        fprintf(stderr, "usage: orderhub orders list [--channel C] [--limit N] [--json] | show CHANNEL EXTERNAL_ID [--json]\n");
    }
done:
    oh_store_free(st);
    oh_hub_free(h);
    return rc;
}
