/*
 * bench_map.c — times orderhub's mapping engine on an NDJSON file of
 * documents (one document per line, as the daemon sees them one by one).
 *
 *   bench_map map  FILE.map INPUT.ndjson   records as compact JSON on stdout
 *                                          (oh_map_run_text: the same bytes as
 *                                          `orderhub map`, no jansson values)
 *   bench_map map-jansson FILE.map INPUT   the same through oh_map_run (jansson
 *                                          records, json_dumpf), as the daemon
 *   bench_map decode INPUT.ndjson          JSON decoder (bytes -> tree) only
 *   bench_map jansson INPUT.ndjson         json_loadb only, for comparison
 *
 * The input is read in 8 MiB pieces (a line is never copied; one longer than
 * the buffer grows it), so memory stays flat whatever the file's size. The
 * time of the loop (reading included, start-up and loading the mapping not)
 * and the throughput go to stderr.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "formats/formats.h"
#include "map/map.h"

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

static int emit_text(void *ud, size_t index, const char *json, size_t len, const struct oh_err *rec_err)
{
    struct sink *s = ud;
    (void)index;
    if (!json) {
        s->rejected++;
        fprintf(stderr, "%s\n", rec_err->msg);
        return 0;
    }
    fwrite(json, 1, len, s->out);
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
    int mapping = strcmp(mode, "map") == 0 || strcmp(mode, "map-jansson") == 0;
    const char *input = mapping ? (argc > 3 ? argv[3] : NULL) : (argc > 2 ? argv[2] : NULL);
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    struct oh_map_ctx ctx = {.channel = "bench", .received_at_ms = 1767225600000LL, .source = "bench"};
    struct sink s = {.out = stdout};
    struct oh_arena *a = oh_arena_new(0);
    const struct oh_format *json = oh_format_find("json");
    static char obuf[1 << 20];
    size_t cap = 8u << 20, have = 0, total = 0, docs = 0;
    char *buf = malloc(cap);
    int fd, eof = 0;
    double t0, t1;

    if (!input || !buf || (!mapping && strcmp(mode, "decode") && strcmp(mode, "jansson"))) {
        fprintf(stderr, "usage: bench_map map|map-jansson FILE.map INPUT.ndjson | decode INPUT | jansson INPUT\n");
        return 2;
    }
    if (mapping && oh_map_load(argv[2], &m, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if ((fd = open(input, O_RDONLY)) < 0) {
        perror(input);
        return 1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    t0 = now();
    while (!eof || have) {
        size_t pos = 0;
        if (!eof) {
            ssize_t r;
            if (have == cap) { /* one line longer than the buffer */
                char *nb = realloc(buf, cap *= 2);
                if (!nb)
                    return 1;
                buf = nb;
            }
            if ((r = read(fd, buf + have, cap - have)) < 0) {
                perror(input);
                return 1;
            }
            eof = r == 0;
            have += (size_t)r;
            total += (size_t)r;
        }
        for (;;) {
            char *nl = memchr(buf + pos, '\n', have - pos);
            size_t end = nl ? (size_t)(nl - buf) : have;
            if (!nl && !eof)
                break; /* an unfinished line: read more */
            if (end > pos) {
                if (m) {
                    int rc = strcmp(mode, "map") == 0
                                 ? oh_map_run_text(m, NULL, buf + pos, end - pos, &ctx, emit_text, &s, &err)
                                 : oh_map_run(m, buf + pos, end - pos, &ctx, emit, &s, &err);
                    if (rc < 0)
                        fprintf(stderr, "document %zu: %s\n", docs + 1, err.msg);
                } else if (strcmp(mode, "decode") == 0) {
                    struct oh_node *root;
                    if (json->decode(a, buf + pos, end - pos, NULL, &root, &err) < 0)
                        fprintf(stderr, "document %zu: %s\n", docs + 1, err.msg);
                    oh_arena_recycle(a);
                } else {
                    json_error_t je;
                    json_t *j = json_loadb(buf + pos, end - pos, 0, &je);
                    if (!j)
                        fprintf(stderr, "document %zu: %s\n", docs + 1, je.text);
                    json_decref(j);
                }
                docs++;
            }
            pos = nl ? end + 1 : have;
            if (pos >= have)
                break;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
    }
    fflush(stdout);
    t1 = now();
    fprintf(stderr, "%s: %zu documents, %.1f MB in %.2f s: %.0f docs/s, %.1f MB/s", mode, docs,
            (double)total / 1e6, t1 - t0, (double)docs / (t1 - t0), (double)total / 1e6 / (t1 - t0));
    if (m)
        fprintf(stderr, ", %zu records, %zu rejected", s.records, s.rejected);
    fputc('\n', stderr);
    close(fd);
    free(buf);
    oh_map_free(m);
    oh_arena_free(a);
    return 0;
}
