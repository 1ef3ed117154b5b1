/*
 * spool.h — the durable on-disk queue (DESIGN §3.2, Postfix-style).
 *
 *   ROOT/tmp/        being written (never read by workers)
 *   ROOT/incoming/   durable, waiting for a worker
 *   ROOT/active/     claimed by a worker
 *   ROOT/deferred/   failed retryably, waiting for its next-attempt time
 *   ROOT/dead/       failed permanently; ID.reason beside each entry
 *   ROOT/archive/    done entries, when archiving is on
 *
 * State machine (every arrow is one rename(2)):
 *
 *     enqueue            claim             done
 *   tmp ───────► incoming ─────► active ─────────► (removed | archive/)
 *                   ▲   ▲          │  │
 *        recover    │   │  due     │  │ kill / attempts exhausted
 *   (active→incoming)   │          │  ▼
 *                   │   └── deferred  dead ──retry──► incoming
 *                   └────────────────┘ defer
 *
 * Invariants (tests cite them by number):
 *   S1  oh_spool_enqueue returning 0 means the entry survives a crash or
 *       power loss: data fsync'd, renamed into incoming/, directory fsync'd.
 *   S2  An entry is in exactly one of incoming/active/deferred/dead at any
 *       instant (rename is atomic); tmp/ files are never entries.
 *   S3  Two workers never hold the same entry: claim is a rename and only
 *       one rename of a name succeeds (a sole claimer's claim in place is
 *       recorded under its claim lock, and no other process claims).
 *   S4  After a crash, oh_spool_recover puts every active/ entry back in
 *       incoming/ and deletes tmp/ leftovers; nothing else is lost.
 *   S5  Payload bytes are stored exactly as given.
 *   S6  Ids sort by enqueue time (time + counter + pid), so FIFO order is
 *       the name order.
 *
 * A done entry (without archiving) leaves active/ by a rename into tmp/,
 * where this process writes the next enqueued entry over it (see
 * spool_int.h, SP_FREE_MAX), or, when that pool is full, where reaper
 * threads remove it in the background (spool_reap.c). Either way these are
 * tmp/ files like any other (S2, S4): never claimed or listed again, and
 * removed by recovery after a crash; oh_spool_free removes the ones left
 * (it waits for the reaper), so a process that frees its spool on exit
 * leaves nothing of its done entries behind.
 *
 * A process that is the spool's only claimer (the daemon holds the spool's
 * lock) says so with oh_spool_sole_claimer: its claims then leave incoming/
 * entries where they are and remember them in memory (outcome.c), which
 * saves a rename per claim and another per done. S2 and S3 hold as above
 * with "held in place" for "in active/"; after a crash the held entries are
 * simply in incoming/ (S4).
 *
 * Thread-safe: many threads may enqueue and claim at once.
 */
#ifndef OH_SPOOL_H
#define OH_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define OH_SPOOL_ID_MAX 64

enum oh_spool_queue {
    OH_SPOOL_INCOMING = 0,
    OH_SPOOL_ACTIVE,
    OH_SPOOL_DEFERRED,
    OH_SPOOL_DEAD,
};

struct oh_spool_meta {
    char channel[128];   /* channel that received it */
    char format[32];     /* "canonical", "json", "xml", "csv", "x12", "edifact" */
    char source[512];    /* where it came from: file name, webhook id, API page */
    int64_t received_at; /* ms since the epoch (enqueue fills it when 0) */
    int attempts;        /* failed processing attempts so far */
    int64_t next_attempt;/* ms since the epoch (deferred entries) */
    char error[1024];    /* last error (deferred/dead entries) */
};

struct oh_spool_entry {
    char id[OH_SPOOL_ID_MAX];
    struct oh_spool_meta meta;
    char *data;          /* payload, NUL added (not counted in len) */
    size_t len;
};

struct oh_spool_opts {
    int archive;             /* keep done entries under archive/ */
    int64_t backoff_base_ms; /* default 30 s */
    int64_t backoff_max_ms;  /* default 1 h */
    int max_attempts;        /* deferrals before dead (default 10) */
    int64_t max_size;        /* payload limit for enqueue (0 = none) */
};

struct oh_spool;

/* Creates the directories if needed and checks they are writable.
 * opts may be NULL (defaults). Does not recover: call oh_spool_recover. */
int oh_spool_open(const char *root, const struct oh_spool_opts *opts, struct oh_spool **out,
                  struct oh_err *err);
void oh_spool_free(struct oh_spool *sp); /* NULL is a no-op */
const char *oh_spool_root(const struct oh_spool *sp);
/* This process is the only one that claims from the spool (it holds the
 * spool's lock for as long as it uses sp): claims hold incoming/ entries in
 * place. Call before the first claim. oh_spool_count counts the entries it
 * holds as active; other processes see them in incoming/. */
void oh_spool_sole_claimer(struct oh_spool *sp);

/* S4: active/ -> incoming/, tmp/ emptied. *moved may be NULL. */
int oh_spool_recover(struct oh_spool *sp, size_t *moved, struct oh_err *err);

/* S1. id (may be NULL) receives the new entry's id. OH_ETOOBIG past max_size. */
int oh_spool_enqueue(struct oh_spool *sp, const struct oh_spool_meta *m, const void *data,
                     size_t len, char id[OH_SPOOL_ID_MAX], struct oh_err *err);

/* Streaming enqueue for large payloads (bounded memory). Nothing is visible
 * in incoming/ until commit returns 0; abort (or a crash) leaves nothing.
 * The file in tmp/ is made when the first 64 KiB are written out, or at
 * commit: a spool that cannot create files fails the write or the commit. */
struct oh_spool_writer;
int oh_spool_writer_open(struct oh_spool *sp, const struct oh_spool_meta *m,
                         struct oh_spool_writer **out, struct oh_err *err);
int oh_spool_writer_write(struct oh_spool_writer *w, const void *data, size_t len, struct oh_err *err);
/* A hint before the first write: the payload will be about size bytes. A
 * large one (16 MiB or more) is then written around the page cache
 * (O_DIRECT, by a thread of the writer's own, where the filesystem allows
 * it); the commit's promises are the same. */
void oh_spool_writer_expect(struct oh_spool_writer *w, int64_t size);
/* Commits and frees w (also on failure). */
int oh_spool_writer_commit(struct oh_spool_writer *w, char id[OH_SPOOL_ID_MAX], struct oh_err *err);
void oh_spool_writer_abort(struct oh_spool_writer *w); /* NULL is a no-op */
/* Commits n writers as one group and frees them all (also on failure):
 * every file's data is written and fdatasync'd (their writeback started
 * together, so the filesystem can make them durable in one journal commit),
 * each is renamed into incoming/, then ONE fsync round of incoming/ covers
 * them all. rcs[i] is 0 and ids[i] the new id for each committed entry (S1
 * holds for it exactly as for oh_spool_writer_commit), else the entry's
 * error code (nothing of it is left in incoming/). Returns 0 when all were
 * committed, else the first failure's code with its message in err. A
 * thread may commit a group while others write, enqueue or claim. */
int oh_spool_writers_commit(struct oh_spool_writer **w, size_t n, char (*ids)[OH_SPOOL_ID_MAX],
                            int *rcs, struct oh_err *err);

/* S3: moves the oldest due entry (incoming/ first, then deferred/ whose time
 * has come) into active/ and returns its id. OH_ENOTFOUND when none is due. */
int oh_spool_claim(struct oh_spool *sp, char id[OH_SPOOL_ID_MAX], struct oh_err *err);
/* Reads an active entry. *out is the caller's: oh_spool_entry_free. */
int oh_spool_load(struct oh_spool *sp, const char *id, struct oh_spool_entry **out, struct oh_err *err);
void oh_spool_entry_free(struct oh_spool_entry *e);

/* Outcomes for a claimed (active) entry. */
int oh_spool_done(struct oh_spool *sp, const char *id, struct oh_err *err);
/* Retryable failure: attempts+1 and a next-attempt time with backoff and
 * jitter; past max_attempts the entry goes to dead/ instead (returns 1 then). */
int oh_spool_defer(struct oh_spool *sp, const char *id, const char *reason, struct oh_err *err);
/* Permanent failure: to dead/ with reason written to dead/ID.reason. */
int oh_spool_kill(struct oh_spool *sp, const char *id, const char *reason, struct oh_err *err);

/* Operator actions: a dead or deferred entry back to incoming/ now. */
int oh_spool_retry(struct oh_spool *sp, const char *id, struct oh_err *err);

/* Lists one queue in id order. cb returns non-zero to stop. */
typedef int (*oh_spool_list_cb)(const char *id, const struct oh_spool_meta *m, void *ud);
int oh_spool_list(struct oh_spool *sp, enum oh_spool_queue q, oh_spool_list_cb cb, void *ud,
                  struct oh_err *err);
/* Reads any entry's meta and payload, wherever it is (for `spool show`). */
int oh_spool_show(struct oh_spool *sp, const char *id, enum oh_spool_queue *where,
                  struct oh_spool_entry **out, struct oh_err *err);
int oh_spool_count(struct oh_spool *sp, enum oh_spool_queue q, size_t *n, struct oh_err *err);
const char *oh_spool_queue_name(enum oh_spool_queue q);

#endif
