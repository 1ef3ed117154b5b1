/*
 * filechan.h — the file-channel engine shared by every file transport
 * (dir, sftp, and the EDI partner channels that ride on them).
 *
 * A transport only knows how to list, read, move/delete and write files on
 * its side. This engine does the rest, identically for all of them:
 *   - match `pattern` (glob) against listed names; skip names ending in
 *     .part/.tmp and hidden files;
 *   - skip files still being written: a file is taken only when its size and
 *     mtime are the same on two consecutive polls (`stable = 2` looks, the
 *     default), or at once when a marker file NAME + `marker` (e.g. ".done")
 *     exists;
 *   - refuse files over the channel's max_document_size: the file is spooled
 *     to dead/ as a short entry that names it and says why (so an operator
 *     sees it with `orderhub spool list dead`), then `after` applies;
 *   - stream the file into the spool (bounded memory), and only after the
 *     spool commit returned 0 for its entry and its identity is remembered
 *     apply `after = move|delete|keep` (move puts it under `archive_dir`,
 *     default "processed/" beside the inbox);
 *   - remember each file's identity (name, size, mtime, sha256) through
 *     ch->ops->remember so it is never spooled twice, even with after = keep;
 *   - commit files in groups (up to 64 files or 8 MiB: one shared fsync of
 *     the spool's incoming/), the commit of one group on a thread of its own
 *     while the next is fetched; a file that fails (unreadable, too big,
 *     cut short) is handled alone and the rest of its group flows.
 * Threads: a poll starts at most one helper thread at a time, which only
 * commits spool writers; ch->ops and the transport are called from the
 * polling thread only.
 * Outbound: put() writes under a temporary name and renames to the final
 * name; an existing final name is not overwritten unless `overwrite = yes`.
 */
#ifndef OH_FILECHAN_H
#define OH_FILECHAN_H

#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "err.h"

struct oh_spool;

struct oh_file_info {
    char *name;     /* base name, malloc'd */
    int64_t size;
    int64_t mtime;  /* seconds */
};

/* What a transport implements. t is the transport's own state. */
struct oh_file_transport {
    const char *kind; /* "dir", "sftp" */
    /* All regular files in the inbox (names only, no recursion). *files is
     * malloc'd; free with oh_file_infos_free. */
    int (*list)(void *t, struct oh_file_info **files, size_t *n, struct oh_err *err);
    /* 1 if NAME exists in the inbox (marker files). */
    int (*exists)(void *t, const char *name, int *exists, struct oh_err *err);
    /* Streams a file's bytes to sink; a sink error stops the read. */
    int (*fetch)(void *t, const char *name,
                 int (*sink)(void *ud, const void *buf, size_t len, struct oh_err *err), void *ud,
                 struct oh_err *err);
    /* Moves name into the archive directory (created when missing). */
    int (*archive)(void *t, const char *name, struct oh_err *err);
    int (*remove)(void *t, const char *name, struct oh_err *err);
    /* Outbound: write data as name (tmp name + rename; never a partial
     * final-named file). OH_EEXIST when name exists and overwrite is 0. */
    int (*put)(void *t, const char *name, const void *data, size_t len, int overwrite,
               struct oh_err *err);
};

enum oh_file_after { OH_AFTER_MOVE = 0, OH_AFTER_DELETE, OH_AFTER_KEEP };

struct oh_filechan {
    const struct oh_file_transport *tp;
    void *t;
    char *pattern;         /* default "*" */
    char *marker;          /* e.g. ".done", or NULL */
    enum oh_file_after after;
    int stable_looks;      /* default 2 */
    int overwrite;         /* outbound */
    char *out_name;        /* outbound file name template, default "{event}-{id}.json" */
    /* size/mtime seen last poll, to tell stable files */
    struct oh_file_info *last;
    size_t nlast;
    /* Optional, set by the owner after configure: remembers the identities
     * of a committed group in one store round trip (all of them on 0, none
     * on failure; e.g. over oh_store_remember_many). NULL: the channel's
     * ch->ops->remember_many (the daemon's: one statement per group), else
     * ch->ops->remember once per file. Called from the polling thread. */
    int (*remember_many)(struct oh_channel *ch, const char *const *keys, size_t n,
                         struct oh_err *err);
};

/* Reads the shared keys (pattern, marker, after, stable, overwrite,
 * filename) from ch->cfg into fc. tp and t are set by the caller. */
int oh_filechan_configure(struct oh_filechan *fc, struct oh_channel *ch, struct oh_err *err);
void oh_filechan_clear(struct oh_filechan *fc);
/* One inbound pass. Returns 0 when every eligible file was handled (or
 * skipped for a reason that is logged); a transport failure returns its code. */
int oh_filechan_poll(struct oh_filechan *fc, struct oh_channel *ch, struct oh_spool *sp,
                     struct oh_err *err);
/* One outbound message as a file named from out_name. */
/* The name a message gets from the outbound template (`filename`, default
 * FILECHAN_DEFAULT_NAME): {event} {id} {origin} {ext} expanded, '/' in it
 * turned into '_' so every file lands in the channel's own directory. */
#define FILECHAN_DEFAULT_NAME "{event}-{id}.{ext}"
void oh_filechan_name(const char *tmpl, const struct oh_outbox_msg *m, char *out, size_t n);
int oh_filechan_deliver(struct oh_filechan *fc, struct oh_channel *ch,
                        const struct oh_outbox_msg *m, struct oh_err *err);
void oh_file_infos_free(struct oh_file_info *f, size_t n);

#endif
