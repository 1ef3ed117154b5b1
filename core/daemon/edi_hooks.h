/*
 * edi_hooks.h — what the processor does in addition for documents from an
 * EDI partner channel (`type = edi`):
 *   - before mapping: parse the interchange(s) once for the validation
 *     report and read any 997/999/CONTRL sets in it (a file of nothing but
 *     acknowledgements is not mapped);
 *   - inside the document's transaction: claim each interchange key
 *     (partner, sender, ISA13/UNB 0020) — a key seen before makes the whole
 *     document a duplicate, reported and not stored again; queue the
 *     997/999 (per functional group) or CONTRL (per interchange) as an
 *     `edi.ack` outbox message to the partner, numbered from the partner's
 *     control-number counters in the same transaction; mark the interchanges
 *     we sent that an incoming acknowledgement answers.
 * Rejected sets are left out by the mapping (`from x12 strict=0`) and
 * answered as rejected in the acknowledgement.
 */
#ifndef OH_EDI_HOOKS_H
#define OH_EDI_HOOKS_H

#include <stddef.h>

#include "hub.h"

struct oh_edi_doc;

/* 1 when hc is an EDI partner channel. */
int oh_edi_hook_wants(const struct oh_hub_channel *hc);
/* Parses data (borrowed: must outlive *out). *skip_map = 1 when the
 * document holds only acknowledgements. *out: oh_edi_doc_free. */
int oh_edi_hook_prepare(const struct oh_hub_channel *hc, const char *data, size_t len,
                        struct oh_edi_doc **out, int *skip_map, struct oh_err *err);
/* Inside the open transaction. *duplicate = 1: store nothing else. */
int oh_edi_hook_store(struct oh_store *st, const struct oh_hub_channel *hc, struct oh_edi_doc *d,
                      const char *spool_id, int *duplicate, struct oh_err *err);
void oh_edi_doc_free(struct oh_edi_doc *d); /* NULL is a no-op */

#endif
