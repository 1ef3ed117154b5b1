/*
 * spool_int.h — what the spool's source files share; not a public header.
 *
 * spool.c     open/free, ids, group commit, enqueue, streaming writer, recover
 * outcome.c   claim, done, defer, kill, retry
 * spool_reap.c removing done entries' files in the background
 * held.c      the entries a sole claimer holds in place (a set of ids)
 * entry.c     the entry file format (header encode/parse), load/show/list/count
 */
#ifndef OH_SPOOL_INT_H
#define OH_SPOOL_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "spool.h"

/* Directory slots; the first four match enum oh_spool_queue. */
enum {
    SP_INCOMING = OH_SPOOL_INCOMING,
    SP_ACTIVE = OH_SPOOL_ACTIVE,
    SP_DEFERRED = OH_SPOOL_DEFERRED,
    SP_DEAD = OH_SPOOL_DEAD,
    SP_TMP,
    SP_ARCHIVE,
    SP_NDIRS
};

/* Largest header we accept when reading (the fields are bounded, escaping at
 * most triples them: well under this). */
#define SP_HDR_MAX 16384
/* A foreign process may defer entries we do not hear about: deferred/ is
 * rescanned at least this often while workers keep claiming. */
#define SP_DEFER_RESCAN_MS 1000

/* One "fsync round" per directory (group commit). Rounds are numbered; a
 * caller that changed the directory needs a round that started after its
 * change, and whichever caller finds no round running performs it for all. */
struct sp_gc {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t started;     /* rounds begun */
    uint64_t completed;   /* rounds finished */
    int running;
    uint64_t last_failed; /* number of the last round whose fsync failed */
    char failmsg[sizeof(((struct oh_err *)0)->msg)];
};

/* A sorted batch of names read with one readdir. */
struct sp_batch {
    char **names;
    size_t n, next;
};

/* Files of done entries kept in tmp/ ("f.<id>") to be written over by the
 * next enqueue: reusing an inode is much cheaper than allocating one (ext4
 * scans past every recently freed inode when it allocates; at a thousand
 * entries a second that scan was a fifth of a webhook's CPU time). */
#define SP_FREE_MAX 256
/* done runs an fsync round of active/ after this many puts, so that pooled
 * files become safe to write over without an enqueue ever waiting for it. */
#define SP_FREE_SYNC_EVERY 32
#define SP_FREE_NAME (OH_SPOOL_ID_MAX + 4)

/* Done entries' files waiting in tmp/ ("d.<id>") for a reaper thread to
 * remove them (spool_reap.c): a removal costs far more than a rename here,
 * and several overlap. */
#define SP_REAP_MAX 16384
#ifndef SP_REAP_THREADS
#define SP_REAP_THREADS 4
#endif

struct sp_reap_slot {
    int d;                   /* SP_TMP, or SP_INCOMING for an entry held in place */
    char name[SP_FREE_NAME];
};

struct sp_reap {
    pthread_mutex_t mu;
    pthread_cond_t work;     /* names queued, or stop */
    pthread_cond_t idle;     /* queue empty and no removal under way */
    struct sp_reap_slot *q;  /* ring of SP_REAP_MAX files to remove */
    size_t head, n, busy;
    pthread_t th[SP_REAP_THREADS];
    int nth, stop, failed;
};

/* What a sole claimer holds in place (oh_spool_sole_claimer): entry ids
 * claimed and still in incoming/ (SP_HELD_CLAIMED), or done and queued for
 * the reaper, still in incoming/ until it removes them (SP_HELD_REAPING).
 * An open-addressing set; every call with the spool's claim_mu held. */
enum { SP_HELD_NONE = 0, SP_HELD_CLAIMED, SP_HELD_REAPING, SP_HELD_GONE };

struct sp_held {
    char (*keys)[OH_SPOOL_ID_MAX];
    unsigned char *st;        /* SP_HELD_* per slot (GONE: a deleted slot) */
    size_t cap, used;         /* slots; slots not NONE */
    size_t n_claimed, n_reaping;
};

struct oh_spool {
    char *root;
    char dir[SP_NDIRS][PATH_MAX];
    struct oh_spool_opts opts;
    struct sp_gc gc[SP_NDIRS];

    pthread_mutex_t claim_mu; /* guards the two batches, defer_next_scan, held */
    int in_place;             /* oh_spool_sole_claimer was called */
    struct sp_held held;
    struct sp_batch incoming;
    struct sp_batch due;      /* deferred entries found due by the last scan */
    int64_t defer_next_scan;  /* no deferred/ scan before this time (ms) */

    pthread_mutex_t free_mu;  /* guards the free-file pool */
    char (*free_names)[SP_FREE_NAME]; /* a ring, oldest at free_head */
    uint64_t *free_mark;      /* free_dir's fsync rounds begun at each put */
    unsigned char *free_dir;  /* the directory each file left (SP_ACTIVE or SP_INCOMING) */
    size_t free_head, nfree;
    size_t free_unsynced;     /* puts since done last ran an active/ round */

    struct sp_reap reap;      /* spool_reap.c */
};

/* spool.c */
int sp_dirsync(struct oh_spool *sp, int d, struct oh_err *err);
/* Creates tmp/NAME (O_EXCL) for writing; *fd receives the descriptor. */
int sp_tmp_create(struct oh_spool *sp, const char *name, char path[PATH_MAX], int *fd,
                  struct oh_err *err);
/* Cuts the file at the current offset (a recycled file may be longer),
 * fdatasync(fd), then close(fd); closes fd in every case. Fault point
 * "spool.fsync". */
int sp_sync_close(int fd, const char *path, struct oh_err *err);
void sp_new_id(char id[OH_SPOOL_ID_MAX]);
/* A file in tmp/ to write a new entry into from offset 0: the oldest
 * recycled done entry when an fsync round of active/ covers its rename
 * (not truncated: sp_sync_close cuts it), else a new file named prefix +
 * id. Never waits for a round. */
int sp_tmp_take(struct oh_spool *sp, const char *prefix, char path[PATH_MAX], int *fd,
                struct oh_err *err);
/* Turns D/ID (D: active/, or incoming/ for an entry held in place) into a
 * free file for sp_tmp_take (and every SP_FREE_SYNC_EVERY calls runs an
 * fsync round of D). 0 when it did, OH_ENOTFOUND when D/ID is gone,
 * OH_EAGAIN when the pool is full or the rename failed (the caller removes
 * the entry as before). */
int sp_free_put(struct oh_spool *sp, int d, const char *id, struct oh_err *err);
/* Renames D/ID to tmp/NAME (dst: its path): 0; OH_ENOTFOUND (err set)
 * when D/ID is not there; OH_EAGAIN when the rename failed otherwise (the
 * caller removes the entry another way). */
int sp_move_to_tmp(struct oh_spool *sp, int d, const char *id, const char *name,
                   char dst[PATH_MAX], struct oh_err *err);
/* "DIR/NAME" into out; OH_EINVAL when too long. */
int sp_path(const struct oh_spool *sp, int d, const char *name, char out[PATH_MAX],
            struct oh_err *err);

/* spool_reap.c */
void sp_reap_init(struct oh_spool *sp);
/* Moves active/ID to tmp/d.ID and queues it for removal. 0 when it did,
 * OH_ENOTFOUND when active/ID is gone, OH_EAGAIN when the queue is full or
 * the rename failed (the caller removes the entry itself). */
int sp_reap_put(struct oh_spool *sp, const char *id, struct oh_err *err);
/* Queues tmp/NAME for removal; OH_EAGAIN when the queue is full. */
int sp_reap_tmp(struct oh_spool *sp, const char *name);
/* Queues incoming/ID, held in place, for removal: the reaper drops it from
 * the held set once the file is gone. OH_EAGAIN when the queue is full. */
int sp_reap_held(struct oh_spool *sp, const char *id);
/* Waits until every queued name is removed. */
void sp_reap_wait(struct oh_spool *sp);
/* Removes what is queued, stops the threads, frees the reaper. */
void sp_reap_free(struct oh_spool *sp);

/* outcome.c: where a claimed entry is, incoming/ when this process holds
 * it in place, else active/ (takes claim_mu). */
int sp_claimed_dir(struct oh_spool *sp, const char *id);

/* writer_direct.c: a streaming writer's payload written with O_DIRECT by a
 * thread of its own, in chunks; NULL when the file cannot be opened so.
 * bfd: the writer's own descriptor of the file, for writes O_DIRECT refuses. */
struct sp_direct;
struct sp_direct *sp_direct_open(const char *path, int bfd);
/* Appends the next bytes of the file (from offset 0). */
int sp_direct_put(struct sp_direct *d, const void *data, size_t len, struct oh_err *err);
/* Waits for the chunks written; *direct_bytes are on file, and the
 * *tail_len bytes at *tail (valid until sp_direct_free) come after them,
 * for the caller to write. */
int sp_direct_finish(struct sp_direct *d, uint64_t *direct_bytes, const char **tail,
                     size_t *tail_len, struct oh_err *err);
void sp_direct_free(struct sp_direct *d); /* NULL is a no-op; waits for the thread */

/* held.c (claim_mu held for each) */
int sp_held_state(const struct sp_held *h, const char *id); /* SP_HELD_NONE when absent */
void sp_held_put(struct sp_held *h, const char *id, int state); /* adds or changes */
void sp_held_del(struct sp_held *h, const char *id);
void sp_held_free(struct sp_held *h);

/* entry.c */
/* 1 when name is a well-formed entry id (what list/claim consider). */
int sp_valid_id(const char *name);
/* Serialises m into buf (header plus the blank line); returns its length or
 * -1 when it does not fit. */
int sp_hdr_format(const struct oh_spool_meta *m, char *buf, size_t n);
/* Reads the header from fd (positioned at 0). *payload_off receives where
 * the payload starts. OH_EINVAL on a malformed header. */
int sp_hdr_read(int fd, const char *path, struct oh_spool_meta *m, size_t *payload_off,
                struct oh_err *err);
/* Reads the entry at DIR/ID (meta only when out_data is NULL). */
int sp_entry_read(struct oh_spool *sp, int d, const char *id, struct oh_spool_meta *m,
                  char **out_data, size_t *out_len, struct oh_err *err);
/* Sorted names of the entries in one directory (caller frees with
 * sp_names_free). */
int sp_names(struct oh_spool *sp, int d, char ***out, size_t *n, struct oh_err *err);
void sp_names_free(char **names, size_t n);

#endif
