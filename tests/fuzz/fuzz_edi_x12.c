/*
 * fuzz_edi_x12.c — libFuzzer target: the x12 reader (tree, validation), the
 * encoder on what it read, the reader again on the encoder's output, and the
 * acknowledgement built from the report. Nothing may crash, leak or read out
 * of bounds; the acknowledgement built must not fail on memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "connectors/edi/edi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oh_arena *a = oh_arena_new(64u << 20);
    struct oh_edi_report *r = NULL, *r2 = NULL;
    struct oh_node *root = NULL, *root2 = NULL, *ack = NULL;
    struct oh_err err = {0};
    char *buf = NULL, *text = NULL;
    size_t len = 0;

    if (oh_x12_decode_tree(a, (const char *)data, size, &root, &r, &err) == 0 && root->count) {
        FILE *f = open_memstream(&buf, &len);
        int rc = oh_x12_encode(root, NULL, 1, f, &err);
        fclose(f);
        if (rc == 0)
            (void)oh_x12_decode_tree(a, buf, len, &root2, &r2, &err);
        struct oh_edi_ack_ctl ctl = {.ichg_ctrl = 1, .group_ctrl = 1, .set_ctrl = 1,
                                     .date = "20240101", .time = "0000"};
        if (r->nichg && r->ichg[0].ngroups) (void)oh_x12_ack_build(r, 1, 1, &ctl, NULL, a, &ack, &text, &err);
        free(text);
    }
    free(buf);
    oh_edi_report_free(r);
    oh_edi_report_free(r2);
    oh_arena_free(a);
    return 0;
}
