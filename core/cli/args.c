/* args.c — option helpers shared by the subcommands. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void drop(int *argc, char **argv, int i, int n)
{
    for (int k = i; k + n <= *argc; k++)
        argv[k] = argv[k + n];
    *argc -= n;
}

const char *oh_cli_opt(int *argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) == 0 && i + 1 < *argc) {
            const char *v = argv[i + 1];
            drop(argc, argv, i, 2);
            return v;
        }
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
            const char *v = argv[i] + n + 1;
            drop(argc, argv, i, 1);
            return v;
        }
    }
    return NULL;
}

int oh_cli_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i < *argc; i++)
        if (strcmp(argv[i], flag) == 0) {
            drop(argc, argv, i, 1);
            return 1;
        }
    return 0;
}

const char *oh_cli_config(int *argc, char **argv)
{
    const char *c = oh_cli_opt(argc, argv, "-c");
    if (!c)
        c = oh_cli_opt(argc, argv, "--config");
    if (!c)
        c = getenv("ORDERHUB_CONFIG");
    return c ? c : "/etc/orderhub/orderhub.conf";
}
