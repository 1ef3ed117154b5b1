/*
 * dir.h — the local-directory file transport, for the `dir` channel type and
 * for connectors that ride on a file transport (EDI partners with
 * `transport = dir`).
 *
 * Settings read from the section: path = DIR (inbox for inbound, target for
 * outbound), archive_dir (default PATH/processed; relative to path). No I/O
 * at open. On success *t is the caller's (free with oh_dir_transport_close)
 * and *tp is borrowed.
 */
#ifndef OH_DIR_H
#define OH_DIR_H

#include "config.h"
#include "connectors/dir/filechan.h"
#include "err.h"

int oh_dir_transport_open(const struct oh_conf_section *cfg, const char *channel, void **t,
                          const struct oh_file_transport **tp, struct oh_err *err);
void oh_dir_transport_close(void *t); /* NULL is a no-op */

#endif
