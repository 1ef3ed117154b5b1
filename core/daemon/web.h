/*
 * web.h — the daemon's HTTP face: POST /webhooks/<channel> hands the request
 * to that channel's connector (which verifies it, spools it and only then
 * answers 200), GET /healthz reports the store and the spool.
 * Started only when [http] listen is set. Webhook handlers run on the HTTP
 * server's threads; each borrows a store connection from a small pool for
 * the connector's seen-key checks.
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
