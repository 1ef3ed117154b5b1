/*
 * arena.h — a bump allocator for per-document data.
 *
 * Decoders and the mapping engine allocate the document tree, its strings
 * and their scratch space here, and everything is released in one call
 * (oh_arena_free or oh_arena_reset) after the document is committed or has
 * failed. Allocation never returns NULL: past the arena's limit it returns
 * NULL only through oh_arena_try_alloc; oh_arena_alloc aborts on real
 * out-of-memory (a broken invariant, not input).
 */
#ifndef OH_ARENA_H
#define OH_ARENA_H

#include <stddef.h>

struct oh_arena;

/* limit: the most bytes this arena may hold (0 = no limit). */
struct oh_arena *oh_arena_new(size_t limit);
void oh_arena_free(struct oh_arena *a); /* NULL is a no-op */
/* Keeps the first block, drops the rest: cheap reuse between documents. */
void oh_arena_reset(struct oh_arena *a);

/* 8-byte aligned; NULL when the arena's limit would be passed. */
void *oh_arena_try_alloc(struct oh_arena *a, size_t n);
/* Zeroed, 8-byte aligned; NULL only past the limit. */
void *oh_arena_alloc(struct oh_arena *a, size_t n);
/* Copies n bytes and adds a NUL. */
char *oh_arena_strndup(struct oh_arena *a, const char *s, size_t n);
char *oh_arena_strdup(struct oh_arena *a, const char *s);
char *oh_arena_printf(struct oh_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t oh_arena_used(const struct oh_arena *a);

/* A position in the arena: oh_arena_rewind drops everything allocated
 * after oh_arena_mark (blocks added since are freed). For a decoder that
 * tries a fast path and falls back to a careful one. */
struct oh_arena_mark {
    const void *block;
    size_t used;
};
void oh_arena_mark(const struct oh_arena *a, struct oh_arena_mark *m);
void oh_arena_rewind(struct oh_arena *a, const struct oh_arena_mark *m);
/* Like oh_arena_reset, but keeps the newest (largest) block instead of the
 * first: for an arena reused across documents of similar size. */
void oh_arena_recycle(struct oh_arena *a);

#endif
