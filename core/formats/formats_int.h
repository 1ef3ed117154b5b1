/*
 * formats_int.h — shared between the built-in formats; not a public header.
 */
#ifndef OH_FORMATS_INT_H
#define OH_FORMATS_INT_H

#include "formats/formats.h"

extern const struct oh_format oh_format_json;
extern const struct oh_format oh_format_xml;
extern const struct oh_format oh_format_csv;

#define OH_FORMAT_DEFAULT_DEPTH 256

/* Rejects any option key not in the NULL-terminated list `allowed`. */
int oh_format_check_keys(const struct oh_format_opts *o, const char *const *allowed,
                         const char *fmt, struct oh_err *err);
/* 1-based line and column (in characters) of byte offset off. */
void oh_format_linecol(const char *data, size_t off, unsigned *line, unsigned *col);

#endif
