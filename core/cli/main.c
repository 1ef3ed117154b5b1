/* main.c — `orderhub SUBCOMMAND ...`: the table of subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "connector.h"
#include "log.h"
#include "connectors/edi/edi.h"

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("orderhub %s\n", OH_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} commands[] = {
    { "run", oh_cli_run, "run -c FILE [--once]           run the daemon (--once: process what is there, then exit)" },
    { "check", oh_cli_check, "check -c FILE                  validate the config and every mapping it names" },
    { "backfill", oh_cli_backfill, "backfill CHANNEL --since DATE -c FILE   re-sync orders changed since DATE (ISO-8601) into the store" },
    { "migrate", oh_cli_migrate, "migrate -c FILE                apply store migrations" },
    { "spool", oh_cli_spool, "spool list [incoming|active|deferred|dead] | show ID | retry ID   -c FILE" },
    { "outbox", oh_cli_outbox, "outbox list [--state pending|leased|done|dead] | retry ID   -c FILE" },
    { "orders", oh_cli_orders, "orders list [--channel C] [--limit N] [--json] | show CHANNEL EXTERNAL_ID [--json]   -c FILE" },
    { "erase-customer", oh_cli_erase, "erase-customer -c FILE --channel C (--email E | --customer-id ID | --all) [--export]" },
    { "map", oh_cli_map, "map FILE.map INPUT [--format F] | map test [DIR]" },
    { "edi", oh_cli_edi, "edi parse|validate|ack FILE" },
    { "version", cmd_version, "version" },
    { "help", cmd_help, "help" },
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: orderhub COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        printf("  %s\n", commands[i].usage);
    printf("\nconnectors:");
    for (const struct oh_connector *const *c = oh_connector_all(); *c; c++)
        printf(" %s", (*c)->type);
    printf("\n\nThe config file defaults to $ORDERHUB_CONFIG, then /etc/orderhub/orderhub.conf.\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *lvl = getenv("ORDERHUB_LOG_LEVEL");
    enum oh_log_level level = OH_LOG_INFO;

    if (lvl)
        oh_log_parse_level(lvl, &level);
    oh_log_init(level, 0);
    /* formats are registered once, before any mapping is compiled */
    oh_edi_init();
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(0, NULL);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "orderhub: unknown command '%s' (try: orderhub help)\n", argv[1]);
    return 2;
}
