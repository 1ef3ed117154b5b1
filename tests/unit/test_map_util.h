/* test_map_util.h — helpers shared by the test_map_*.c tests (header-only). */
#ifndef OH_MAP_TEST_UTIL_H
#define OH_MAP_TEST_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/map.h"

static inline int mt_collect(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    json_t *arr = ud;
    (void)index;
    if (record)
        json_array_append(arr, record); /* the array takes its own reference */
    else
        json_array_append_new(arr, json_pack("{s:s}", "$error", rec_err->msg));
    return 0;
}

/* Compiles map text (must succeed) and runs it on data; returns the records
 * (or {"$error": msg}) as a new array, or NULL with *err set on a document error. */
static inline json_t *mt_run_ctx(const char *map, const char *data, const struct oh_map_ctx *ctx,
                          struct oh_err *err)
{
    struct oh_map *m = NULL;
    struct oh_err cerr = {0};
    json_t *arr;
    if (oh_map_compile(map, strlen(map), "t/test.map", &m, &cerr) != 0) {
        fprintf(stderr, "compile failed: %s\n", cerr.msg);
        return NULL;
    }
    arr = json_array();
    if (oh_map_run(m, data, strlen(data), ctx, mt_collect, arr, err) != 0) {
        json_decref(arr);
        arr = NULL;
    }
    oh_map_free(m);
    return arr;
}

static inline json_t *mt_run(const char *map, const char *data)
{
    struct oh_map_ctx ctx = {.channel = "test-ch", .received_at_ms = 1767225600000LL, .source = "in.json"};
    struct oh_err err = {0};
    json_t *r = mt_run_ctx(map, data, &ctx, &err);
    if (!r)
        fprintf(stderr, "run failed: %s\n", err.msg);
    return r;
}

/* 1 if got equals the JSON text want (order-independent for objects). */
static inline int mt_equal(const json_t *got, const char *want)
{
    json_error_t je;
    json_t *w = json_loads(want, 0, &je);
    int eq;
    if (!w) {
        fprintf(stderr, "bad expectation %s: %s\n", want, je.text);
        return 0;
    }
    eq = got && json_equal((json_t *)got, w);
    if (!eq) {
        char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
        fprintf(stderr, "got:  %s\nwant: %s\n", g ? g : "(null)", want);
        free(g);
    }
    json_decref(w);
    return eq;
}

/* The compile error message for map text ("" if it compiled). */
static inline const char *mt_compile_err(const char *map)
{
    static struct oh_err err;
    struct oh_map *m = NULL;
    memset(&err, 0, sizeof(err));
    if (oh_map_compile(map, strlen(map), "t/test.map", &m, &err) == 0) {
        oh_map_free(m);
        return "";
    }
    return err.msg;
}

#endif
