/*
 * spool_floor.c — what the spool alone costs on the ingest path: claims,
 * loads and marks done every entry of a spool, exactly the calls the
 * processor makes per document (oh_spool_claim, oh_spool_load,
 * oh_spool_done), with no decoding and no store. Prints entries/s: an upper
 * bound for one-entry-per-order ingest through one thread.
 *
 *   spool_floor -d SPOOL_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct oh_spool *sp = NULL;
    struct oh_err err;
    const char *dir = NULL;
    double t[4] = { 0 }, t0, t1;
    size_t n = 0;
    int c, rc = 1;

    while ((c = getopt(argc, argv, "d:")) != -1) {
        if (c != 'd') {
            fprintf(stderr, "usage: spool_floor -d SPOOL_DIR\n");
            return 2;
        }
        dir = optarg;
    }
    if (!dir) {
        fprintf(stderr, "usage: spool_floor -d SPOOL_DIR\n");
        return 2;
    }
    oh_err_clear(&err);
    if (oh_spool_open(dir, NULL, &sp, &err) < 0)
        goto fail;
    t0 = now_s();
    for (;;) {
        char id[OH_SPOOL_ID_MAX];
        struct oh_spool_entry *e = NULL;
        double a = now_s(), b, d;
        int r = oh_spool_claim(sp, id, &err);

        if (r == OH_ENOTFOUND)
            break;
        if (r < 0)
            goto fail;
        b = now_s();
        if (oh_spool_load(sp, id, &e, &err) < 0)
            goto fail;
        d = now_s();
        oh_spool_entry_free(e);
        if (oh_spool_done(sp, id, &err) < 0)
            goto fail;
        t[0] += b - a;
        t[1] += d - b;
        t[2] += now_s() - d;
        n++;
    }
    t1 = now_s();
    printf("spool_floor: %zu entries in %.3f s = %.0f entries/s (claim %.3f s, load %.3f s, "
           "done %.3f s)\n",
           n, t1 - t0, t1 > t0 ? (double)n / (t1 - t0) : 0.0, t[0], t[1], t[2]);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "spool_floor: %s\n", err.msg);
done:
    oh_spool_free(sp);
    return rc;
}
