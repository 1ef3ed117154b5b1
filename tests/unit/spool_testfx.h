/*
 * spool_testfx.h — the fixture the spool tests share: a fresh spool in its
 * own temporary directory (under $TMPDIR, else /tmp), removed with
 * everything in it afterwards. Define SPOOL_FX_TAG (a word for the
 * directory name) before including it; the tests use fx_setup and
 * fx_teardown as cmocka's setup and teardown.
 */
#ifndef OH_SPOOL_TESTFX_H
#define OH_SPOOL_TESTFX_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "spool/spool.h"

#ifndef SPOOL_FX_TAG
#error "define SPOOL_FX_TAG before including spool_testfx.h"
#endif

struct fx {
    char root[PATH_MAX];
    struct oh_spool *sp;
};

static int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *t = getenv("TMPDIR");
    struct oh_err err = {0};

    if (!f)
        return -1;
    if ((size_t)snprintf(f->root, sizeof(f->root), "%s/oh-spool-%s-XXXXXX",
                         t && *t ? t : "/tmp", SPOOL_FX_TAG) >= sizeof(f->root) ||
        !mkdtemp(f->root))
        return -1;
    if (oh_spool_open(f->root, NULL, &f->sp, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    unsetenv("OH_FAULTS"); /* a failed fault test must not spill over */
    oh_spool_free(f->sp);
    nftw(f->root, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

#endif
