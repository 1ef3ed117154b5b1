/*
 * store_keyidx.c — struct oh_keyidx (store.h): an open-addressing index of
 * borrowed keys, compared byte for byte with trailing spaces ignored (what
 * the store's utf8mb4_bin key columns do), so a batch's repeats and its
 * result rows are found in one pass instead of one comparison per pair.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static size_t trimmed(const char *s, size_t len)
{
    while (len > 0 && s[len - 1] == ' ')
        len--;
    return len;
}

static size_t hash_key(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 31));
}

/* The slot of the key equal to s[0..len) (len trimmed), or the free slot
 * where it would go. */
static struct oh_keyidx_slot *find(const struct oh_keyidx *x, const char *s, size_t len)
{
    size_t mask = x->cap - 1;

    for (size_t i = hash_key(s, len) & mask;; i = (i + 1) & mask) {
        struct oh_keyidx_slot *t = &x->slot[i];
        if (!t->s || (t->len == len && memcmp(t->s, s, len) == 0))
            return t;
    }
}

static void grow(struct oh_keyidx *x)
{
    struct oh_keyidx old = *x;

    x->cap = old.cap ? old.cap * 2 : 64;
    if (!(x->slot = calloc(x->cap, sizeof(*x->slot))))
        abort();
    for (size_t i = 0; i < old.cap; i++)
        if (old.slot[i].s)
            *find(x, old.slot[i].s, old.slot[i].len) = old.slot[i];
    free(old.slot);
}

long oh_keyidx_put(struct oh_keyidx *x, const char *s, size_t len, long v)
{
    struct oh_keyidx_slot *t;

    if ((x->n + 1) * 2 > x->cap)
        grow(x);
    len = trimmed(s, len);
    t = find(x, s, len);
    if (t->s)
        return t->v;
    t->s = s;
    t->len = len;
    t->v = v;
    x->n++;
    return -1;
}

long oh_keyidx_get(const struct oh_keyidx *x, const char *s, size_t len)
{
    const struct oh_keyidx_slot *t;

    if (x->n == 0)
        return -1;
    len = trimmed(s, len);
    t = find(x, s, len);
    return t->s ? t->v : -1;
}

void oh_keyidx_clear(struct oh_keyidx *x)
{
    if (x->n)
        memset(x->slot, 0, x->cap * sizeof(*x->slot));
    x->n = 0;
}

void oh_keyidx_free(struct oh_keyidx *x)
{
    free(x->slot);
    memset(x, 0, sizeof(*x));
}
