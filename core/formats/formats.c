/*
 * formats.c — the format registry (see formats.h).
 *
 * The built-in json, xml and csv formats are registered the first time any
 * format is looked up or registered, so no start-up hook is needed for them;
 * other modules register theirs at start-up. Registration is not
 * thread-safe: it happens before worker threads start.
 */
#include "formats/formats.h"

#include <string.h>

#include "formats/formats_int.h"

#define MAX_FORMATS 32

static struct oh_format registry[MAX_FORMATS];
static size_t nformats;
static int builtins_done;

static int put(const struct oh_format *f)
{
    for (size_t i = 0; i < nformats; i++)
        if (strcmp(registry[i].name, f->name) == 0) {
            registry[i] = *f;
            return 0;
        }
    if (nformats == MAX_FORMATS)
        return OH_ETOOBIG;
    registry[nformats++] = *f;
    return 0;
}

static void builtins(void)
{
    if (builtins_done)
        return;
    builtins_done = 1;
    put(&oh_format_json);
    put(&oh_format_xml);
    put(&oh_format_csv);
}

int oh_format_register(const struct oh_format *f)
{
    if (!f || !f->name || !*f->name)
        return OH_EINVAL;
    builtins();
    return put(f);
}

const struct oh_format *oh_format_find(const char *name)
{
    if (!name)
        return NULL;
    builtins();
    for (size_t i = 0; i < nformats; i++)
        if (strcmp(registry[i].name, name) == 0)
            return &registry[i];
    return NULL;
}

const char *oh_format_opt(const struct oh_format_opts *o, const char *key)
{
    if (!o)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (o->key[i] && strcmp(o->key[i], key) == 0)
            return o->val[i];
    return NULL;
}

int oh_format_check_keys(const struct oh_format_opts *o, const char *const *allowed,
                         const char *fmt, struct oh_err *err)
{
    if (!o)
        return 0;
    for (size_t i = 0; i < o->n; i++) {
        int ok = 0;
        for (const char *const *a = allowed; a && *a; a++)
            if (strcmp(*a, o->key[i]) == 0)
                ok = 1;
        if (!ok)
            return oh_err_set(err, OH_EINVAL, "%s: unknown option %s", fmt, o->key[i]);
    }
    return 0;
}

void oh_format_linecol(const char *data, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (data[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}
