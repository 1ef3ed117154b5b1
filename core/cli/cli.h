/* cli.h — the `orderhub` subcommands. Each returns the process exit code:
 * 0 OK, 1 the command ran and found problems, 2 usage or environment. */
#ifndef OH_CLI_H
#define OH_CLI_H

int oh_cli_run(int argc, char **argv);
int oh_cli_check(int argc, char **argv);
int oh_cli_migrate(int argc, char **argv);
int oh_cli_spool(int argc, char **argv);
int oh_cli_outbox(int argc, char **argv);
int oh_cli_orders(int argc, char **argv);
int oh_cli_map(int argc, char **argv);
int oh_cli_edi(int argc, char **argv);
int oh_cli_edi_status(int argc, char **argv); /* argv[0] = "status" */
int oh_cli_erase(int argc, char **argv);
int oh_cli_backfill(int argc, char **argv);

/* Shared option handling: finds -c FILE / --config FILE (else $ORDERHUB_CONFIG,
 * else /etc/orderhub/orderhub.conf) and removes it from argv. */
const char *oh_cli_config(int *argc, char **argv);
/* Removes a flag (e.g. "--json") from argv; 1 if it was there. */
int oh_cli_flag(int *argc, char **argv, const char *flag);
/* Removes "--name VALUE" from argv; the value or NULL. */
const char *oh_cli_opt(int *argc, char **argv, const char *name);

#endif
