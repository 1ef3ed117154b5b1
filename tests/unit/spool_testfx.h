/*
 * spool_testfx.h — the fixture the spool tests share: a fresh spool in its
 * own temporary directory (under $TMPDIR, else /tmp), removed with
 * everything in it afterwards. Define SPOOL_FX_TAG (a word for the
 * directory name) before including it, after cmocka.h; the tests use
 * fx_setup and fx_teardown as cmocka's setup and teardown, and the helpers
 * below to look at the spool's directories.
 */
#ifndef OH_SPOOL_TESTFX_H
#define OH_SPOOL_TESTFX_H

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static inline void fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static inline void fmt(char *out, size_t n, const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(out, n, f, ap);
    va_end(ap);
}

/* Entries in ROOT/sub: of any kind, dot files included (all = 1), or
 * leaving out names that start with a dot (all = 0). */
static inline size_t entries_in(const struct fx *f, const char *sub, int all)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    fmt(path, sizeof(path), "%s/%s", f->root, sub);
    assert_non_null(d = opendir(path));
    while ((de = readdir(d)))
        if (all ? strcmp(de->d_name, ".") && strcmp(de->d_name, "..") : de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static inline size_t files_in(const struct fx *f, const char *sub)
{
    return entries_in(f, sub, 1);
}

static inline int exists(const struct fx *f, const char *sub, const char *name)
{
    char path[PATH_MAX];
    struct stat st;

    fmt(path, sizeof(path), "%s/%s/%s", f->root, sub, name);
    return stat(path, &st) == 0;
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
