/* fuzz_formats_csv.c — libFuzzer target: the csv decoder must return an error or a
 * tree for any input, never crash, leak or read out of bounds; a decoded tree
 * must encode again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "arena.h"
#include "formats/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct oh_format *f = oh_format_find("csv");
    struct oh_arena *a = oh_arena_new(64u << 20);
    struct oh_format_opts o = {.max_depth = 64};
    struct oh_node *root = NULL;
    struct oh_err err = {0};
    /* the first byte picks the options, the rest is the document */
    if (size > 0) {
        static const char *delims[] = {",", ";", "tab", "|"};
        static const char *encs[] = {"utf-8", "latin1", "windows-1252", "utf-8"};
        o.key[0] = "delimiter";
        o.val[0] = delims[data[0] & 3];
        o.key[1] = "encoding";
        o.val[1] = encs[(data[0] >> 2) & 3];
        o.key[2] = "header";
        o.val[2] = (data[0] & 16) ? "no" : "yes";
        o.n = 3;
        data++;
        size--;
    }
    if (f->decode(a, (const char *)data, size, &o, &root, &err) == 0) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (out) {
            f->encode(root, NULL, out, &err);
            fclose(out);
        }
        free(buf);
    }
    oh_arena_free(a);
    return 0;
}
