/* fuzz_map_parser.c — libFuzzer target: any mapping text compiles or fails
 * with a message; a plan that compiles is run on a small fixed document
 * (and rendered) without crashing or leaking. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map/map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    (void)ud, (void)index, (void)record, (void)rec_err;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char doc[] =
        "{\"orders\":[{\"id\":1,\"name\":\"#1\",\"tags\":\"a,b\",\"line_items\":[{\"sku\":\"S\","
        "\"quantity\":2,\"price\":\"9.90\"}],\"N1\":[{\"01\":\"ST\",\"02\":\"x\"}]}],\"t\":\"2026-01-01\"}";
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    struct oh_map_ctx ctx = {.channel = "fuzz", .received_at_ms = 1, .source = "fuzz"};

    if (oh_map_compile((const char *)data, size, "fuzz.map", &m, &err) == 0) {
        if (oh_map_is_kind(oh_map_from(m)) && !oh_map_is_kind(oh_map_to(m))) {
            json_t *r = json_loads(doc, 0, NULL);
            char *out = NULL;
            size_t len = 0;
            oh_map_render(m, r, &ctx, &out, &len, &err);
            free(out);
            json_decref(r);
        } else {
            oh_map_run_as(m, "json", doc, strlen(doc), &ctx, sink, NULL, &err);
        }
        oh_map_free(m);
    }
    return 0;
}
