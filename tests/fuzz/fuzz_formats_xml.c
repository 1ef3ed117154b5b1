/* fuzz_formats_xml.c — libFuzzer target: the xml decoder must return an error or a
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
    const struct oh_format *f = oh_format_find("xml");
    struct oh_arena *a = oh_arena_new(64u << 20);
    struct oh_format_opts o = {.max_depth = 64};
    struct oh_node *root = NULL;
    struct oh_err err = {0};
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
