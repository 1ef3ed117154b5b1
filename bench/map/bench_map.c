/*
 * bench_map.c — times orderhub's mapping engine on an NDJSON file of
 * documents (one document per line, as the daemon sees them one by one).
 *
 *   bench_map map  FILE.map INPUT.ndjson   records as compact JSON on stdout
 *   bench_map decode INPUT.ndjson          JSON decoder (jsmn -> tree) only
 *   bench_map jansson INPUT.ndjson         json_loadb only, for comparison
 *
 * The elapsed time and throughput go to stderr.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "formats/formats.h"
#include "map/map.h"
#include "util.h"

struct sink {
    FILE *out;
    size_t records, rejected;
};

static int emit(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    struct sink *s = ud;
    (void)index;
    if (!record) {
        s->rejected++;
        fprintf(stderr, "%s\n", rec_err->msg);
        return 0;
    }
    json_dumpf(record, s->out, JSON_COMPACT);
    fputc('\n', s->out);
    s->records++;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *input = strcmp(mode, "map") == 0 ? (argc > 3 ? argv[3] : NULL) : (argc > 2 ? argv[2] : NULL);
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    struct oh_map_ctx ctx = {.channel = "bench", .received_at_ms = 1767225600000LL, .source = "bench"};
    struct sink s = {.out = stdout};
    struct oh_arena *a = oh_arena_new(0);
    const struct oh_format *json = oh_format_find("json");
    static char obuf[1 << 20];
    char *data = NULL;
    size_t len = 0, docs = 0;
    double t0, t1;

    if (!input || (strcmp(mode, "map") && strcmp(mode, "decode") && strcmp(mode, "jansson"))) {
        fprintf(stderr, "usage: bench_map map FILE.map INPUT.ndjson | decode INPUT | jansson INPUT\n");
        return 2;
    }
    if (strcmp(mode, "map") == 0 && oh_map_load(argv[2], &m, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (oh_read_file(input, 0, &data, &len, &err) < 0) {
        fprintf(stderr, "%s: %s\n", input, err.msg);
        return 1;
    }
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    t0 = now();
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (end > pos) {
            if (m) {
                if (oh_map_run(m, data + pos, end - pos, &ctx, emit, &s, &err) < 0)
                    fprintf(stderr, "document %zu: %s\n", docs + 1, err.msg);
            } else if (strcmp(mode, "decode") == 0) {
                struct oh_node *root;
                if (json->decode(a, data + pos, end - pos, NULL, &root, &err) < 0)
                    fprintf(stderr, "document %zu: %s\n", docs + 1, err.msg);
                oh_arena_reset(a);
            } else {
                json_error_t je;
                json_t *j = json_loadb(data + pos, end - pos, 0, &je);
                if (!j)
                    fprintf(stderr, "document %zu: %s\n", docs + 1, je.text);
                json_decref(j);
            }
            docs++;
        }
        pos = end + 1;
    }
    fflush(stdout);
    t1 = now();
    fprintf(stderr, "%s: %zu documents, %.1f MB in %.2f s: %.0f docs/s, %.1f MB/s", mode, docs,
            (double)len / 1e6, t1 - t0, (double)docs / (t1 - t0), (double)len / 1e6 / (t1 - t0));
    if (m)
        fprintf(stderr, ", %zu records, %zu rejected", s.records, s.rejected);
    fputc('\n', stderr);
    free(data);
    oh_map_free(m);
    oh_arena_free(a);
    return 0;
}
