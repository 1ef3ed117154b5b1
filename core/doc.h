/*
 * doc.h — the document tree every decoder produces (DESIGN §5).
 *
 * One tree shape serves JSON, XML, CSV, X12 and EDIFACT, so one mapping
 * engine reads them all. The tree:
 *   - lives entirely in one struct oh_arena, freed in one call;
 *   - keeps object members in input order (duplicate keys are kept; a lookup
 *     finds the first);
 *   - keeps scalars as the exact text that came in ("19.90" stays "19.90";
 *     JSON strings are unescaped to UTF-8, numbers keep their lexeme);
 *   - is read-only once built.
 * Builders (decoders) use oh_node_new/oh_node_append; readers use the rest.
 */
#ifndef OH_DOC_H
#define OH_DOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct oh_arena;

enum oh_node_type {
    OH_NODE_NULL = 0,
    OH_NODE_BOOL,   /* s is "true" or "false" */
    OH_NODE_NUMBER, /* s is the number's lexeme, exactly as written */
    OH_NODE_STRING, /* s is UTF-8, len bytes, NUL-terminated */
    OH_NODE_ARRAY,
    OH_NODE_OBJECT,
};

struct oh_node {
    enum oh_node_type type;
    uint32_t len;            /* bytes in s (scalars) */
    uint32_t key_len;        /* bytes in key */
    uint32_t count;          /* children (arrays, objects) */
    const char *key;         /* member name when the parent is an object, else NULL */
    const char *s;           /* scalar text, NUL-terminated; NULL for containers */
    struct oh_node *first;   /* first child */
    struct oh_node *last;    /* last child (O(1) append) */
    struct oh_node *next;    /* next sibling */
    uint32_t line;           /* 1-based source line (0 = unknown), for messages */
    uint32_t col;            /* 1-based source column or EDI segment position */
};

/* Builders. Strings are copied into the arena. NULL only past the arena limit. */
struct oh_node *oh_node_new(struct oh_arena *a, enum oh_node_type t);
struct oh_node *oh_node_new_str(struct oh_arena *a, enum oh_node_type t, const char *s, size_t len);
int oh_node_set_key(struct oh_arena *a, struct oh_node *n, const char *key, size_t len);
/* Appends child to parent (an array or object). Returns child. */
static inline struct oh_node *oh_node_append(struct oh_node *parent, struct oh_node *child)
{
    if (parent->last)
        parent->last->next = child;
    else
        parent->first = child;
    parent->last = child;
    parent->count++;
    return child;
}
/* Convenience for objects: new child with key. NULL past the arena limit. */
struct oh_node *oh_node_add(struct oh_arena *a, struct oh_node *obj, const char *key,
                            enum oh_node_type t, const char *s, size_t len);

/* Readers. */
const struct oh_node *oh_node_get(const struct oh_node *obj, const char *key);
const struct oh_node *oh_node_getn(const struct oh_node *obj, const char *key, size_t len);
const struct oh_node *oh_node_at(const struct oh_node *arr, size_t i);
int oh_node_is_scalar(const struct oh_node *n);
/* "" for NULL/containers, else the scalar text. */
const char *oh_node_str(const struct oh_node *n);

/* Writes the tree as JSON (numbers and booleans bare, strings escaped). */
int oh_node_write_json(const struct oh_node *n, FILE *f, int pretty);
/* Same into a malloc'd NUL-terminated buffer the caller frees. */
char *oh_node_to_json(const struct oh_node *n, int pretty);

/* Validates UTF-8; returns 0 if valid, else the 1-based offset of the first bad byte. */
size_t oh_utf8_check(const char *s, size_t len);

#endif
