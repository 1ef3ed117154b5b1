/*
 * cmd_erase.c — `orderhub erase-customer -c FILE --channel C
 *               (--email E | --customer-id ID | --all) [--export]`
 *
 * The operator's way to do what a privacy webhook does (see
 * core/daemon/privacy.h for exactly what is erased): erase one customer's
 * personal data on one channel, or with --all every order of the channel;
 * with --export write the data-request file instead of erasing. One
 * transaction; recorded in audit_log with actor "cli".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon/hub.h"
#include "daemon/privacy.h"

int oh_cli_erase(int argc, char **argv)
{
    struct oh_hub *h = NULL;
    struct oh_store *st = NULL;
    struct oh_privacy_result res;
    struct oh_err err;
    const char *config, *channel, *email, *cid;
    int all, export, rc = 2;

    oh_err_clear(&err);
    channel = oh_cli_opt(&argc, argv, "--channel");
    email = oh_cli_opt(&argc, argv, "--email");
    cid = oh_cli_opt(&argc, argv, "--customer-id");
    all = oh_cli_flag(&argc, argv, "--all");
    export = oh_cli_flag(&argc, argv, "--export");
    config = oh_cli_config(&argc, argv);
    if (!channel || (!email && !cid && !all) || (all && (email || cid || export))) {
        fprintf(stderr, "usage: orderhub erase-customer -c FILE --channel C (--email E | "
                        "--customer-id ID | --all) [--export]\n");
        goto done;
    }
    if (oh_hub_open(config, OH_HUB_NO_SPOOL, NULL, NULL, &h, &err) < 0 ||
        oh_hub_store_open(h, &st, &err) < 0) {
        fprintf(stderr, "orderhub erase-customer: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    if (!oh_hub_channel(h, channel)) {
        fprintf(stderr, "orderhub erase-customer: no channel named '%s' in %s\n", channel, config);
        rc = 1;
        goto done;
    }
    rc = 1;
    if (oh_store_begin(st, &err) < 0)
        goto fail;
    if ((export ? oh_privacy_export(h, st, channel, cid, email, NULL, "cli", &res, &err)
                : oh_privacy_erase(h, st, channel, cid, email, all, "cli", &res, &err)) < 0) {
        oh_store_rollback(st);
        goto fail;
    }
    if (oh_store_commit(st, &err) < 0)
        goto fail;
    if (export)
        printf("exported %zu orders to %s\n", res.orders, res.export_path);
    else
        printf("erased personal data of %zu orders on %s; %zu raw payloads deleted\n", res.orders,
               channel, res.raw_erased);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "orderhub erase-customer: %s\n", err.msg);
done:
    oh_store_free(st);
    oh_hub_free(h);
    return rc;
}
