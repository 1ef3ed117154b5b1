/*
 * edi_bench.c — parse-and-validate throughput of the X12 codec on one file.
 *
 *   edi_bench [--mode tree|no_tree|scan] [--input mmap|read] [--drop-mb N] FILE
 *
 * Modes:
 *   tree     oh_x12_parse with full envelope validation, one tree per set
 *            built in an arena that the callback resets (keep_sets = 0)
 *   no_tree  the same validation, no trees (opts.no_tree = 1)
 *   scan     no parser: memchr over the input counting segment terminators
 *            (the floor: what reading the bytes costs)
 *
 * Input:
 *   mmap     (default) the file is mapped read-only with MADV_SEQUENTIAL; the
 *            set callback gives back the pages before the current set with
 *            MADV_DONTNEED every --drop-mb MiB (default 16; 0 = never), so
 *            resident memory stays bounded for any file size. The parser
 *            takes one whole buffer, so this is how a large file is fed to it.
 *   read     the whole file is read into one malloc'd buffer first (RSS is
 *            the file size); for comparison.
 *
 * Timing starts before open() and ends after the parse returns, so it
 * includes reading the file (page-cache hits when the file was just
 * written). Prints one line of key=value pairs: bytes, seconds, MB/s
 * (10^6 bytes), sets, sets/s, validation errors and warnings, and the peak
 * RSS (getrusage ru_maxrss). Exit status 1 when the parse fails or reports
 * any error, so a run script can refuse figures from a broken file.
 */

#include "arena.h"
#include "connectors/edi/edi.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct bench_state {
    const char *base;  /* mapping, NULL when the input was read */
    size_t len;
    size_t dropped;    /* bytes [0, dropped) given back */
    size_t drop_step;  /* 0 = never */
    size_t page;
    size_t sets, rejected, warned, trees;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void maybe_drop(struct bench_state *st, size_t upto)
{
    if (!st->base || !st->drop_step)
        return;
    size_t end = upto & ~(st->page - 1);
    if (end <= st->dropped || end - st->dropped < st->drop_step)
        return;
    /* Only pages before the current set: the parser holds no pointer there.
     * A page given back is read again from the file if touched. */
    madvise((void *)(st->base + st->dropped), end - st->dropped, MADV_DONTNEED);
    st->dropped = end;
}

static int on_set(void *ud, struct oh_node *set, const struct oh_edi_set_info *info,
                  struct oh_arena *a)
{
    struct bench_state *st = ud;
    st->sets++;
    if (info->status == OH_EDI_REJECTED)
        st->rejected++;
    else if (info->status == OH_EDI_ACCEPTED_ERRORS)
        st->warned++;
    if (set) {
        st->trees++;
        oh_arena_reset(a);
    }
    maybe_drop(st, info->offset);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: edi_bench [--mode tree|no_tree|scan] [--input mmap|read] "
                    "[--drop-mb N] FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *mode = "tree", *input = "mmap", *path = NULL;
    long drop_mb = 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--input") && i + 1 < argc)
            input = argv[++i];
        else if (!strcmp(argv[i], "--drop-mb") && i + 1 < argc)
            drop_mb = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] == '-' || path)
            usage();
        else
            path = argv[i];
    }
    int tree = !strcmp(mode, "tree"), scan = !strcmp(mode, "scan");
    if (!path || (!tree && !scan && strcmp(mode, "no_tree")) ||
        (strcmp(input, "mmap") && strcmp(input, "read")) || drop_mb < 0)
        usage();
    int use_mmap = !strcmp(input, "mmap");

    struct bench_state st;
    memset(&st, 0, sizeof(st));
    st.page = (size_t)sysconf(_SC_PAGESIZE);
    st.drop_step = (size_t)drop_mb << 20;

    struct oh_arena *a = NULL;
    struct oh_edi_report *rep = NULL;
    struct oh_err err;
    char *buf = NULL;
    void *map = MAP_FAILED;
    size_t segs = 0;
    int rc = 1, prc = 0;
    memset(&err, 0, sizeof(err));

    double t0 = now_s();
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size <= 0) {
        fprintf(stderr, "edi_bench: %s: %s\n", path, fd < 0 ? strerror(errno) : "empty file");
        goto done;
    }
    st.len = (size_t)sb.st_size;
    const char *data;
    if (use_mmap) {
        map = mmap(NULL, st.len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            fprintf(stderr, "edi_bench: mmap %s: %s\n", path, strerror(errno));
            goto done;
        }
        madvise(map, st.len, MADV_SEQUENTIAL);
        st.base = map;
        data = map;
    } else {
        if (!(buf = malloc(st.len))) {
            fprintf(stderr, "edi_bench: out of memory for %zu bytes\n", st.len);
            goto done;
        }
        size_t got = 0;
        while (got < st.len) {
            ssize_t n = read(fd, buf + got, st.len - got);
            if (n <= 0) {
                fprintf(stderr, "edi_bench: read %s: %s\n", path,
                        n < 0 ? strerror(errno) : "short read");
                goto done;
            }
            got += (size_t)n;
        }
        data = buf;
    }

    if (scan) {
        const char *p = data, *end = data + st.len;
        while ((p = memchr(p, '~', (size_t)(end - p)))) {
            segs++;
            p++;
            if (st.base && st.drop_step && (size_t)(p - data) - st.dropped >= st.drop_step)
                maybe_drop(&st, (size_t)(p - data));
        }
    } else {
        struct oh_edi_parse_opts o = {.keep_sets = 0, .no_tree = !tree};
        if (tree && !(a = oh_arena_new(256u << 20))) {
            fprintf(stderr, "edi_bench: arena\n");
            goto done;
        }
        prc = oh_x12_parse(data, st.len, &o, a, on_set, &st, &rep, &err);
    }
    double secs = now_s() - t0;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    size_t nerr = rep ? rep->nerrors : 0, nwarn = rep ? rep->nwarnings : 0;
    printf("mode=%s input=%s bytes=%zu seconds=%.3f MBps=%.1f sets=%zu sets_per_s=%.0f "
           "segments=%zu trees=%zu errors=%zu warnings=%zu rejected=%zu maxrss_mb=%.1f\n",
           mode, input, st.len, secs, (double)st.len / 1e6 / secs, st.sets,
           (double)st.sets / secs, segs, st.trees, nerr, nwarn, st.rejected,
           (double)ru.ru_maxrss / 1024.0);
    if (prc < 0) {
        fprintf(stderr, "edi_bench: %s: %s\n", path, err.msg);
        goto done;
    }
    if (nerr) {
        oh_edi_report_print(rep, stderr);
        goto done;
    }
    rc = 0;
done:
    oh_edi_report_free(rep);
    oh_arena_free(a);
    free(buf);
    if (map != MAP_FAILED)
        munmap(map, st.len);
    if (fd >= 0)
        close(fd);
    return rc;
}
