/* timerheap.c — see timerheap.h. */
#include "timerheap.h"

#include <stdlib.h>

static void swap(struct oh_timer *a, struct oh_timer *b)
{
    struct oh_timer t = *a;
    *a = *b;
    *b = t;
}

void oh_timerheap_push(struct oh_timerheap *h, int64_t due_ms, size_t key)
{
    size_t i;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        if (!(h->t = realloc(h->t, h->cap * sizeof(*h->t))))
            abort();
    }
    i = h->n++;
    h->t[i].due_ms = due_ms;
    h->t[i].key = key;
    while (i > 0 && h->t[(i - 1) / 2].due_ms > h->t[i].due_ms) {
        swap(&h->t[(i - 1) / 2], &h->t[i]);
        i = (i - 1) / 2;
    }
}

const struct oh_timer *oh_timerheap_peek(const struct oh_timerheap *h)
{
    return h->n ? &h->t[0] : NULL;
}

int oh_timerheap_pop(struct oh_timerheap *h, struct oh_timer *out)
{
    size_t i = 0;
    if (!h->n)
        return -1;
    *out = h->t[0];
    h->t[0] = h->t[--h->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->t[l].due_ms < h->t[m].due_ms)
            m = l;
        if (r < h->n && h->t[r].due_ms < h->t[m].due_ms)
            m = r;
        if (m == i)
            break;
        swap(&h->t[m], &h->t[i]);
        i = m;
    }
    return 0;
}

void oh_timerheap_clear(struct oh_timerheap *h)
{
    free(h->t);
    h->t = NULL;
    h->n = h->cap = 0;
}
