/*
 * edi_channel.h — the EDI partner channel (`type = edi`), as seen by core's
 * inbound hook: the partner's settings, read once by the connector's open.
 */
#ifndef OH_EDI_CHANNEL_H
#define OH_EDI_CHANNEL_H

#include <stdint.h>

#include "connector.h"
#include "edi.h"

struct oh_edi_partner {
    enum oh_edi_syntax standard;
    /* X12: ISA05/06 and ISA07/08 as we send them (we are the sender);
     * EDIFACT: UNB S002 / S003 id and qualifier. */
    char sender_q[8], sender_id[40], receiver_q[8], receiver_id[40];
    char gs_sender[40], gs_receiver[40]; /* GS02 / GS03 */
    char version[16];    /* ISA12 ("00401") / UNB S001 ("UNOC:3") */
    char gs_version[16]; /* GS08 ("004010") / UNH S009 version ("D:96A:UN") */
    char test[2];        /* ISA15 "P"/"T"; EDIFACT: "1" when test */
    struct oh_edi_seps seps;
    int seps_set;        /* separators configured (else the defaults) */
    int ack_kind;        /* inbound: 997, 999, 1 = CONTRL, 0 = none, -1 = by GS08 */
    int expect_ack;      /* outbound interchanges expect an acknowledgement */
    int64_t ack_window_ms;
};

/* The partner settings of an open `type = edi` channel; NULL for any other
 * channel. Borrowed: valid while the channel is open. */
const struct oh_edi_partner *oh_edi_partner_of(const struct oh_channel *ch);

/* Acknowledgements found overdue since start-up (all EDI channels), for
 * metrics. */
unsigned long long oh_edi_overdue_total(void);

#endif
