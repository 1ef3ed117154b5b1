/* cmd_run.c — run, check, migrate. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon/daemon.h"
#include "daemon/hub.h"
#include "log.h"

int oh_cli_run(int argc, char **argv)
{
    const char *config = oh_cli_config(&argc, argv);
    int once = oh_cli_flag(&argc, argv, "--once");
    if (argc > 1) {
        fprintf(stderr, "orderhub run: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    return oh_daemon_run(config, once);
}

static void print_problem(const char *msg, void *ud)
{
    int *n = ud;
    fprintf(stderr, "%s\n", msg);
    (*n)++;
}

int oh_cli_check(int argc, char **argv)
{
    const char *config = oh_cli_config(&argc, argv);
    struct oh_hub *h = NULL;
    struct oh_err err;
    int problems = 0;

    if (oh_hub_open(config, OH_HUB_CHECK_ONLY | OH_HUB_NO_SPOOL, print_problem, &problems, &h,
                    &err) < 0 || problems) {
        fprintf(stderr, "%s: %d problem%s\n", config, problems ? problems : 1,
                problems == 1 ? "" : "s");
        oh_hub_free(h);
        return 1;
    }
    printf("%s: OK (%zu channels, %zu routes)\n", config, h->nchans, h->nroutes);
    oh_hub_free(h);
    return 0;
}

int oh_cli_migrate(int argc, char **argv)
{
    const char *config = oh_cli_config(&argc, argv);
    struct oh_hub *h = NULL;
    struct oh_store *st = NULL;
    struct oh_err err;
    int applied = 0, rc = 1;

    if (oh_hub_open(config, OH_HUB_NO_SPOOL, NULL, NULL, &h, &err) < 0 ||
        oh_hub_store_open(h, &st, &err) < 0 || oh_store_migrate(st, &applied, &err) < 0) {
        fprintf(stderr, "orderhub migrate: %s\n", err.msg);
        goto done;
    }
    printf("migrations applied: %d\n", applied);
    rc = 0;
done:
    oh_store_free(st);
    oh_hub_free(h);
    return rc;
}
