/*
 * held.c — the set of entry ids a sole claimer holds in place.
 *
 * When one process is known to be the spool's only claimer (it holds the
 * spool's lock: oh_spool_sole_claimer), a claim does not rename the entry
 * into active/: it stays in incoming/ and its id goes into this set, which
 * is what keeps it from being claimed twice (S3). Open addressing with
 * linear probing; deleted slots are marked GONE and the table is rebuilt
 * when live and deleted slots fill half of it. The caller holds claim_mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool_int.h"

#define HELD_MIN 1024

static size_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

/* The slot holding id, or the first free (NONE) slot of its probe run. */
static size_t find(const struct sp_held *h, const char *id, int *found)
{
    size_t mask = h->cap - 1, i = hash_id(id) & mask, tomb = (size_t)-1;

    for (;; i = (i + 1) & mask) {
        if (h->st[i] == SP_HELD_NONE) {
            *found = 0;
            return tomb != (size_t)-1 ? tomb : i;
        }
        if (h->st[i] == SP_HELD_GONE) {
            if (tomb == (size_t)-1)
                tomb = i;
        } else if (strcmp(h->keys[i], id) == 0) {
            *found = 1;
            return i;
        }
    }
}

static void count(struct sp_held *h, int state, int delta)
{
    if (state == SP_HELD_CLAIMED)
        h->n_claimed += (size_t)delta;
    else if (state == SP_HELD_REAPING)
        h->n_reaping += (size_t)delta;
}

/* Rebuilds the table with room for at least twice the live ids. */
static void rebuild(struct sp_held *h)
{
    struct sp_held old = *h;
    size_t live = h->n_claimed + h->n_reaping, cap = HELD_MIN;

    while (cap < live * 4)
        cap *= 2;
    h->cap = cap;
    h->used = 0;
    if (!(h->keys = calloc(cap, sizeof(*h->keys))) || !(h->st = calloc(cap, 1)))
        abort();
    for (size_t i = 0; i < old.cap; i++) {
        if (old.st[i] == SP_HELD_CLAIMED || old.st[i] == SP_HELD_REAPING) {
            int found;
            size_t at = find(h, old.keys[i], &found);
            memcpy(h->keys[at], old.keys[i], OH_SPOOL_ID_MAX);
            h->st[at] = old.st[i];
            h->used++;
        }
    }
    free(old.keys);
    free(old.st);
}

int sp_held_state(const struct sp_held *h, const char *id)
{
    int found;
    size_t at;

    if (h->cap == 0)
        return SP_HELD_NONE;
    at = find(h, id, &found);
    return found ? h->st[at] : SP_HELD_NONE;
}

void sp_held_put(struct sp_held *h, const char *id, int state)
{
    int found;
    size_t at;

    if (h->cap == 0 || (h->used + 1) * 2 > h->cap)
        rebuild(h);
    at = find(h, id, &found);
    if (found) {
        count(h, h->st[at], -1);
    } else {
        if (h->st[at] == SP_HELD_NONE)
            h->used++;
        snprintf(h->keys[at], OH_SPOOL_ID_MAX, "%s", id);
    }
    h->st[at] = (unsigned char)state;
    count(h, state, 1);
}

void sp_held_del(struct sp_held *h, const char *id)
{
    int found;
    size_t at;

    if (h->cap == 0)
        return;
    at = find(h, id, &found);
    if (!found)
        return;
    count(h, h->st[at], -1);
    h->st[at] = SP_HELD_GONE; /* stays counted in used until the next rebuild */
}

void sp_held_free(struct sp_held *h)
{
    free(h->keys);
    free(h->st);
    memset(h, 0, sizeof(*h));
}
