/*
 * hub.h — one loaded configuration: settings, the spool, channels (each with
 * its connector opened), routes and compiled mappings. The daemon, `--once`
 * and the CLI subcommands all start from a hub.
 *
 * A hub is immutable once built; SIGHUP builds a new one and swaps it in
 * between units of work (nothing in flight is dropped: the spool and the
 * outbox hold everything durable).
 */
#ifndef OH_HUB_H
#define OH_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "connector.h"
#include "err.h"
#include "spool/spool.h"
#include "store/store.h"

struct oh_map;

struct oh_route {
    char *name;
    char **on;     /* event patterns: "order.created", "order.*", "*" */
    size_t non;
    char *to;      /* channel name, or "@origin" */
    int line;
};

struct oh_hub_channel {
    struct oh_channel ch;
    struct oh_map *map;      /* compiled inbound mapping (`mapping`), or NULL */
    struct oh_map *out_map;  /* compiled outbound mapping (`out_mapping`), or NULL */
    int inbound;             /* has a poll hook and is configured to poll */
};

struct oh_hub_settings {
    char *spool_dir;
    long workers;
    long worker_nice;         /* [hub] worker_nice: workers' nice value above the daemon's */
    long batch;               /* spool entries per store transaction */
    int64_t max_document_size;
    int outbox_attempts;
    int64_t retry_base_ms, retry_max_ms;
    int spool_attempts;
    int archive;
    int syslog;               /* log to syslog (daemon facility) instead of stderr */
    char *instance;           /* lease owner name: [hub] instance, default HOST:CONFIG-PATH */
    int64_t settle_ms;        /* --once: pause between the two looks at file inboxes */
    int64_t lease_ms;         /* outbox lease */
    char *exports_dir;        /* [hub] exports: customers/data_request files (privacy.c) */
    int64_t seen_retention_ms; /* [hub] seen_retention: webhook/seen keys kept (>= 48h) */
};

struct oh_hub {
    struct oh_conf *conf;
    struct oh_hub_settings set;
    struct oh_store_conf store_conf;
    char *store_password;     /* resolved secret, wiped on free */
    struct oh_hub_channel *chans;
    size_t nchans;
    struct oh_route *routes;
    size_t nroutes;
    struct oh_spool *spool;   /* NULL when opened with OH_HUB_NO_SPOOL */
};

enum { OH_HUB_NO_SPOOL = 1, OH_HUB_CHECK_ONLY = 2 };

/* Loads and checks everything the config names. With OH_HUB_CHECK_ONLY,
 * every problem is reported through report() (FILE:LINE: message) and the
 * function returns the first error after looking at all of them. */
int oh_hub_open(const char *config_path, int flags, void (*report)(const char *msg, void *ud),
                void *ud, struct oh_hub **out, struct oh_err *err);
void oh_hub_free(struct oh_hub *h);

struct oh_hub_channel *oh_hub_channel(const struct oh_hub *h, const char *name);
/* Calls cb for every target channel a route sends event to. */
void oh_hub_route(const struct oh_hub *h, const char *event, const char *origin,
                  void (*cb)(const char *target, void *ud), void *ud);

/* The store connection of the calling thread (each worker opens its own);
 * channel ops (cursors, seen keys) use it. */
void oh_hub_set_thread_store(struct oh_store *st);
struct oh_store *oh_hub_thread_store(void);
int oh_hub_store_open(const struct oh_hub *h, struct oh_store **out, struct oh_err *err);

#endif
