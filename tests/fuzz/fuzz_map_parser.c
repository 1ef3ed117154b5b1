/* fuzz_map_parser.c — libFuzzer target: any mapping text compiles or fails
 * with a message; a plan that compiles is run on a small fixed document
 * (and rendered) without crashing or leaking, and oh_map_run_text gives
 * exactly json_dumps of oh_map_run's records. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    FILE *f = ud;
    char *t;
    (void)index;
    if (!record) {
        fprintf(f, "E %s\n", rec_err->msg);
        return 0;
    }
    t = json_dumps(record, JSON_COMPACT);
    fprintf(f, "R %s\n", t ? t : "(null)");
    free(t);
    return 0;
}

static int text_sink(void *ud, size_t index, const char *json, size_t len, const struct oh_err *rec_err)
{
    FILE *f = ud;
    (void)index;
    if (!json) {
        fprintf(f, "E %s\n", rec_err->msg);
        return 0;
    }
    fputs("R ", f);
    fwrite(json, 1, len, f);
    fputc('\n', f);
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
            char *a = NULL, *b = NULL;
            size_t al = 0, bl = 0;
            FILE *fa = open_memstream(&a, &al), *fb = open_memstream(&b, &bl);
            int ra = oh_map_run_as(m, "json", doc, strlen(doc), &ctx, sink, fa, &err);
            int rb = oh_map_run_text(m, "json", doc, strlen(doc), &ctx, text_sink, fb, &err);
            fclose(fa);
            fclose(fb);
            if (ra != rb || al != bl || memcmp(a, b, al) != 0)
                abort(); /* the text path must print what jansson prints */
            free(a);
            free(b);
        }
        oh_map_free(m);
    }
    return 0;
}
