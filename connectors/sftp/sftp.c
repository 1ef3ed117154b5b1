/*
 * sftp.c — the `sftp` channel type: a file channel (DESIGN §3.1) whose files
 * live on an SFTP server.
 *
 *   [channel acme-drop]
 *   type        = sftp
 *   url         = sftp://orders@sftp.acme.example:22/outgoing/orders
 *   key         = /etc/orderhub/keys/acme_ed25519
 *   known_hosts = /etc/orderhub/known_hosts
 *   pattern     = *.csv
 *   format      = csv
 *   mapping     = mappings/acme/orders.map
 *   after       = move            ; archive_dir = processed (default)
 *
 * Everything about files (pattern, stability, spooling, after, dedupe,
 * outbound names) is the shared engine's (connectors/dir/filechan.h); this
 * file only joins it to the SFTP transport (transport.c, settings in sftp.h).
 * open() does no network I/O, so `orderhub check` can run it; the first
 * poll or delivery connects.
 */
#include "sftp.h"

#include <stdlib.h>
#include <string.h>

#include "connector.h"

struct sftp_chan {
    struct oh_filechan fc;
    void *t;
};

static void sftp_close(struct oh_channel *ch)
{
    struct sftp_chan *sc = ch->priv;
    if (!sc)
        return;
    oh_filechan_clear(&sc->fc);
    oh_sftp_transport_close(sc->t);
    free(sc);
    ch->priv = NULL;
}

static int sftp_open(struct oh_channel *ch, struct oh_err *err)
{
    struct sftp_chan *sc = calloc(1, sizeof(*sc));
    const struct oh_file_transport *tp = NULL;
    int rc;

    if (!sc)
        return oh_err_set(err, OH_ERROR, "out of memory");
    ch->priv = sc;
    if ((rc = oh_sftp_transport_open(ch->cfg, ch->name, &sc->t, &tp, err)) < 0)
        goto done;
    sc->fc.tp = tp;
    sc->fc.t = sc->t;
    if ((rc = oh_filechan_configure(&sc->fc, ch, err)) < 0)
        goto done;
    /* configure owns the other fields; the transport is ours to set */
    sc->fc.tp = tp;
    sc->fc.t = sc->t;
done:
    if (rc < 0)
        sftp_close(ch);
    return rc;
}

static int sftp_poll(struct oh_channel *ch, struct oh_spool *sp, struct oh_err *err)
{
    struct sftp_chan *sc = ch->priv;
    return oh_filechan_poll(&sc->fc, ch, sp, err);
}

static int sftp_deliver(struct oh_channel *ch, const struct oh_outbox_msg *m, struct oh_err *err)
{
    struct sftp_chan *sc = ch->priv;
    return oh_filechan_deliver(&sc->fc, ch, m, err);
}

const struct oh_connector oh_connector_sftp = {
    .type = "sftp",
    .open = sftp_open,
    .poll = sftp_poll,
    .webhook = NULL,
    .deliver = sftp_deliver,
    .close = sftp_close,
};
