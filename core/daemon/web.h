/*
 * web.h — the daemon's HTTP face: POST /webhooks/<channel> hands the request
 * to that channel's connector (which verifies it, spools it and only then
 * answers 200), GET /healthz reports the store and the spool, GET /metrics
 * gives Prometheus text (spool queues, webhook answers by channel and code,
 * the store's outbox/document/EDI counts; see README "Metrics").
 * Started only when [http] listen is set. Webhook handlers run on the HTTP
 * server's threads; each borrows a store connection from a pool as large as
 * the thread pool for the connector's seen-key checks. The keys a connector
 * remembers are written in a round shared with the requests finishing at
 * the same time (one statement and one commit for all), always before the
 * answer is sent (web.c explains why that keeps every promise).
 */
#ifndef OH_WEB_H
#define OH_WEB_H

#include "hub.h"

struct oh_web;

/* *out stays NULL (and 0 is returned) when [http] has no listen key. */
int oh_web_start(struct oh_hub *h, struct oh_web **out, struct oh_err *err);
void oh_web_stop(struct oh_web *w); /* NULL is a no-op */
int oh_web_port(const struct oh_web *w);

#endif
