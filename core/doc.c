/* doc.c — see doc.h. */
#include "doc.h"

#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct oh_node *oh_node_new(struct oh_arena *a, enum oh_node_type t)
{
    struct oh_node *n = oh_arena_alloc(a, sizeof(*n));
    if (n)
        n->type = t;
    return n;
}

struct oh_node *oh_node_new_str(struct oh_arena *a, enum oh_node_type t, const char *s, size_t len)
{
    struct oh_node *n = oh_node_new(a, t);
    if (!n)
        return NULL;
    if (!(n->s = oh_arena_strndup(a, s ? s : "", s ? len : 0)))
        return NULL;
    n->len = (uint32_t)(s ? len : 0);
    return n;
}

int oh_node_set_key(struct oh_arena *a, struct oh_node *n, const char *key, size_t len)
{
    if (!(n->key = oh_arena_strndup(a, key, len)))
        return -1;
    n->key_len = (uint32_t)len;
    return 0;
}

struct oh_node *oh_node_add(struct oh_arena *a, struct oh_node *obj, const char *key,
                            enum oh_node_type t, const char *s, size_t len)
{
    struct oh_node *n = (t == OH_NODE_ARRAY || t == OH_NODE_OBJECT || !s)
                            ? oh_node_new(a, t) : oh_node_new_str(a, t, s, len);
    if (!n || oh_node_set_key(a, n, key, strlen(key)) < 0)
        return NULL;
    return oh_node_append(obj, n);
}

const struct oh_node *oh_node_getn(const struct oh_node *obj, const char *key, size_t len)
{
    if (!obj || obj->type != OH_NODE_OBJECT)
        return NULL;
    for (const struct oh_node *c = obj->first; c; c = c->next)
        if (c->key_len == len && memcmp(c->key, key, len) == 0)
            return c;
    return NULL;
}

const struct oh_node *oh_node_get(const struct oh_node *obj, const char *key)
{
    return oh_node_getn(obj, key, strlen(key));
}

const struct oh_node *oh_node_at(const struct oh_node *arr, size_t i)
{
    if (!arr || (arr->type != OH_NODE_ARRAY && arr->type != OH_NODE_OBJECT))
        return NULL;
    for (const struct oh_node *c = arr->first; c; c = c->next, i--)
        if (i == 0)
            return c;
    return NULL;
}

int oh_node_is_scalar(const struct oh_node *n)
{
    return n && n->type != OH_NODE_ARRAY && n->type != OH_NODE_OBJECT;
}

const char *oh_node_str(const struct oh_node *n)
{
    return n && n->s ? n->s : "";
}

static void write_escaped(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

static void write_node(const struct oh_node *n, FILE *f, int pretty, int depth)
{
    switch (n->type) {
    case OH_NODE_NULL: fputs("null", f); return;
    case OH_NODE_BOOL:
    case OH_NODE_NUMBER: fwrite(n->s, 1, n->len, f); return;
    case OH_NODE_STRING: write_escaped(f, n->s, n->len); return;
    case OH_NODE_ARRAY:
    case OH_NODE_OBJECT: break;
    }
    fputc(n->type == OH_NODE_ARRAY ? '[' : '{', f);
    for (const struct oh_node *c = n->first; c; c = c->next) {
        if (pretty)
            fprintf(f, "\n%*s", (depth + 1) * 2, "");
        if (n->type == OH_NODE_OBJECT) {
            write_escaped(f, c->key ? c->key : "", c->key_len);
            fputs(pretty ? ": " : ":", f);
        }
        write_node(c, f, pretty, depth + 1);
        if (c->next)
            fputc(',', f);
    }
    if (pretty && n->first)
        fprintf(f, "\n%*s", depth * 2, "");
    fputc(n->type == OH_NODE_ARRAY ? ']' : '}', f);
}

int oh_node_write_json(const struct oh_node *n, FILE *f, int pretty)
{
    if (!n)
        fputs("null", f);
    else
        write_node(n, f, pretty, 0);
    return ferror(f) ? -1 : 0;
}

char *oh_node_to_json(const struct oh_node *n, int pretty)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    oh_node_write_json(n, f, pretty);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

size_t oh_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        unsigned int cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
        } else {
            return i + 1;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return i + 1;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i + 1;
        i += need + 1;
    }
    return 0;
}
