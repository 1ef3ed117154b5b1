/* timerheap.h — a binary min-heap of (due time, key): the scheduler's
 * "what is due next". Not thread-safe: the scheduler guards it. */
#ifndef OH_TIMERHEAP_H
#define OH_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

struct oh_timer {
    int64_t due_ms;
    size_t key;
};

struct oh_timerheap {
    struct oh_timer *t;
    size_t n, cap;
};

void oh_timerheap_push(struct oh_timerheap *h, int64_t due_ms, size_t key);
/* The earliest timer, or NULL when empty. */
const struct oh_timer *oh_timerheap_peek(const struct oh_timerheap *h);
/* Removes the earliest into *out; 0, or -1 when empty. */
int oh_timerheap_pop(struct oh_timerheap *h, struct oh_timer *out);
void oh_timerheap_clear(struct oh_timerheap *h);

#endif
