/* arena.c — see arena.h. Blocks grow geometrically up to 1 MiB each. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct oh_arena {
    struct block *head; /* current block; older blocks follow */
    size_t limit, total;
};

#define FIRST_BLOCK 8192
#define MAX_BLOCK (1u << 20)

static struct block *block_new(size_t size)
{
    struct block *b = malloc(sizeof(*b) + size);
    if (!b) {
        fprintf(stderr, "orderhub: out of memory (arena block of %zu bytes)\n", size);
        abort();
    }
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct oh_arena *oh_arena_new(size_t limit)
{
    struct oh_arena *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    a->limit = limit;
    a->head = block_new(FIRST_BLOCK);
    a->total = FIRST_BLOCK;
    return a;
}

void oh_arena_free(struct oh_arena *a)
{
    if (!a)
        return;
    for (struct block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void oh_arena_reset(struct oh_arena *a)
{
    struct block *b = a->head, *last = NULL;
    while (b) {
        struct block *n = b->next;
        if (!n) {
            last = b;
            break;
        }
        free(b);
        b = n;
    }
    a->head = last;
    a->head->used = 0;
    a->total = a->head->size;
}

void *oh_arena_try_alloc(struct oh_arena *a, size_t n)
{
    struct block *b = a->head;
    size_t off = (b->used + 7u) & ~(size_t)7u;

    if (off + n > b->size) {
        size_t sz = b->size * 2;
        if (sz > MAX_BLOCK)
            sz = MAX_BLOCK;
        if (sz < n)
            sz = n;
        if (a->limit && a->total + sz > a->limit)
            return NULL;
        b = block_new(sz);
        b->next = a->head;
        a->head = b;
        a->total += sz;
        off = 0;
    }
    b->used = off + n;
    return b->data + off;
}

void *oh_arena_alloc(struct oh_arena *a, size_t n)
{
    void *p = oh_arena_try_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *oh_arena_strndup(struct oh_arena *a, const char *s, size_t n)
{
    char *p = oh_arena_try_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *oh_arena_strdup(struct oh_arena *a, const char *s)
{
    return oh_arena_strndup(a, s, strlen(s));
}

char *oh_arena_printf(struct oh_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    char *p;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(p = oh_arena_try_alloc(a, (size_t)n + 1))) {
        va_end(ap2);
        return NULL;
    }
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

size_t oh_arena_used(const struct oh_arena *a)
{
    size_t n = 0;
    for (const struct block *b = a->head; b; b = b->next)
        n += b->used;
    return n;
}

void oh_arena_mark(const struct oh_arena *a, struct oh_arena_mark *m)
{
    m->block = a->head;
    m->used = a->head->used;
}

void oh_arena_rewind(struct oh_arena *a, const struct oh_arena_mark *m)
{
    while (a->head != m->block && a->head->next) {
        struct block *b = a->head;
        a->head = b->next;
        a->total -= b->size;
        free(b);
    }
    a->head->used = m->used;
}

void oh_arena_recycle(struct oh_arena *a)
{
    struct block *b = a->head->next;
    while (b) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    a->head->next = NULL;
    a->head->used = 0;
    a->total = a->head->size;
}
