/* cmd_queues.c — spool and outbox: list, show, retry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon/hub.h"
#include "util.h"

static int open_hub(int *argc, char **argv, int flags, struct oh_hub **h)
{
    const char *config = oh_cli_config(argc, argv);
    struct oh_err err;
    if (oh_hub_open(config, flags, NULL, NULL, h, &err) < 0) {
        fprintf(stderr, "orderhub: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int print_entry(const char *id, const struct oh_spool_meta *m, void *ud)
{
    char t[40];
    (void)ud;
    oh_fmt_time_ms(m->received_at, t, sizeof(t));
    printf("%-32s %-16s %-10s %-24s %3d  %s%s%s\n", id, m->channel, m->format, t, m->attempts,
           m->source, m->error[0] ? "  error: " : "", m->error);
    return 0;
}

int oh_cli_spool(int argc, char **argv)
{
    static const enum oh_spool_queue queues[] = {
        OH_SPOOL_INCOMING, OH_SPOOL_ACTIVE, OH_SPOOL_DEFERRED, OH_SPOOL_DEAD,
    };
    struct oh_hub *h = NULL;
    struct oh_err err;
    int rc = 2;

    if (open_hub(&argc, argv, 0, &h) < 0)
        return 2;
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        printf("%-32s %-16s %-10s %-24s %3s  %s\n", "ID", "CHANNEL", "FORMAT", "RECEIVED", "TRY",
               "SOURCE");
        rc = 0;
        for (size_t i = 0; i < 4; i++) {
            if (argc >= 3 && strcmp(argv[2], oh_spool_queue_name(queues[i])) != 0)
                continue;
            if (argc < 3)
                printf("-- %s\n", oh_spool_queue_name(queues[i]));
            if (oh_spool_list(h->spool, queues[i], print_entry, NULL, &err) < 0) {
                fprintf(stderr, "orderhub spool: %s\n", err.msg);
                rc = 1;
            }
        }
    } else if (argc == 3 && strcmp(argv[1], "show") == 0) {
        struct oh_spool_entry *e = NULL;
        enum oh_spool_queue where;
        if (oh_spool_show(h->spool, argv[2], &where, &e, &err) < 0) {
            fprintf(stderr, "orderhub spool show: %s\n", err.msg);
            rc = 1;
        } else {
            printf("id: %s\nqueue: %s\nchannel: %s\nformat: %s\nsource: %s\nattempts: %d\n", e->id,
                   oh_spool_queue_name(where), e->meta.channel, e->meta.format, e->meta.source,
                   e->meta.attempts);
            if (e->meta.error[0])
                printf("error: %s\n", e->meta.error);
            printf("bytes: %zu\n\n", e->len);
            fwrite(e->data, 1, e->len, stdout);
            if (e->len && e->data[e->len - 1] != '\n')
                putchar('\n');
            oh_spool_entry_free(e);
            rc = 0;
        }
    } else if (argc == 3 && strcmp(argv[1], "retry") == 0) {
        if (oh_spool_retry(h->spool, argv[2], &err) < 0) {
            fprintf(stderr, "orderhub spool retry: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%s: back in incoming\n", argv[2]);
            rc = 0;
        }
    } else {
        fprintf(stderr, "usage: orderhub spool list [incoming|active|deferred|dead] | show ID | retry ID\n");
    }
    oh_hub_free(h);
    return rc;
}

int oh_cli_outbox(int argc, char **argv)
{
    struct oh_hub *h = NULL;
    struct oh_store *st = NULL;
    struct oh_err err;
    const char *state;
    int json = 0, rc = 2;

    state = oh_cli_opt(&argc, argv, "--state");
    json = oh_cli_flag(&argc, argv, "--json");
    if (open_hub(&argc, argv, OH_HUB_NO_SPOOL, &h) < 0)
        return 2;
    if (oh_hub_store_open(h, &st, &err) < 0) {
        fprintf(stderr, "orderhub outbox: %s\n", err.msg);
        goto done;
    }
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        json_t *rows = NULL, *r;
        size_t i;
        if (oh_store_outbox_list(st, state, 1000, &rows, &err) < 0) {
            fprintf(stderr, "orderhub outbox: %s\n", err.msg);
            rc = 1;
            goto done;
        }
        if (json) {
            json_dumpf(rows, stdout, JSON_INDENT(2));
            putchar('\n');
        } else {
            printf("%-8s %-20s %-16s %-8s %4s  %s\n", "ID", "EVENT", "TARGET", "STATE", "TRY", "LAST ERROR");
            json_array_foreach(rows, i, r)
                printf("%-8lld %-20s %-16s %-8s %4lld  %s\n",
                       (long long)json_integer_value(json_object_get(r, "id")),
                       json_string_value(json_object_get(r, "event")),
                       json_string_value(json_object_get(r, "target")),
                       json_string_value(json_object_get(r, "state")),
                       (long long)json_integer_value(json_object_get(r, "attempts")),
                       json_string_value(json_object_get(r, "last_error")) ?: "");
        }
        json_decref(rows);
        rc = 0;
    } else if (argc == 3 && strcmp(argv[1], "retry") == 0) {
        if (oh_store_outbox_retry(st, strtoll(argv[2], NULL, 10), &err) < 0) {
            fprintf(stderr, "orderhub outbox retry: %s\n", err.msg);
            rc = 1;
        } else {
            printf("outbox %s: due now\n", argv[2]);
            rc = 0;
        }
    } else {
        fprintf(stderr, "usage: orderhub outbox list [--state S] [--json] | retry ID\n");
    }
done:
    oh_store_free(st);
    oh_hub_free(h);
    return rc;
}
