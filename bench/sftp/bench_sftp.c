/*
 * bench_sftp.c — SFTP pickup throughput (run by bench/sftp/run.sh).
 *
 *   bench_sftp fetch  URL DEST   every file in URL's directory, fetched by the
 *                                transport into DEST/ (what `sftp get` does)
 *   bench_sftp pickup URL SPOOL  one pass of the file-channel engine into a
 *                                spool under SPOOL (after = keep, stable = 1):
 *                                what the daemon does per poll
 *
 * Key and known_hosts come from OH_SSHD_KEY / OH_SSHD_KNOWN_HOSTS. Prints one
 * line: mode files bytes seconds MiB/s files/s.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "connectors/dir/filechan.h"
#include "connectors/sftp/sftp.h"
#include "spool/spool.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct out {
    int fd;
    long long bytes;
};

static int file_sink(void *ud, const void *buf, size_t len, struct oh_err *err)
{
    struct out *o = ud;
    o->bytes += (long long)len;
    if (oh_write_all(o->fd, buf, len) < 0)
        return oh_err_set(err, OH_ERROR, "local write failed");
    return 0;
}

static int seen(struct oh_channel *ch, const char *k, int *s, struct oh_err *err)
{
    *s = 0;
    return 0;
}

static int remember(struct oh_channel *ch, const char *k, struct oh_err *err) { return 0; }

static const struct oh_channel_ops ops = {.seen = seen, .remember = remember};

int main(int argc, char **argv)
{
    char text[8192];
    struct oh_conf *conf = NULL;
    struct oh_conf_section *sec;
    struct oh_err err = {0};
    void *t = NULL;
    const struct oh_file_transport *tp = NULL;
    struct oh_file_info *files = NULL;
    size_t n = 0;
    long long bytes = 0;
    double t0, t1;
    int rc = 1;

    oh_log_init(OH_LOG_WARN, 0);
    if (argc != 4 || (strcmp(argv[1], "fetch") != 0 && strcmp(argv[1], "pickup") != 0)) {
        fprintf(stderr, "usage: bench_sftp fetch|pickup URL DEST\n");
        return 2;
    }
    snprintf(text, sizeof(text),
             "[channel bench]\ntype = sftp\nurl = %s\nkey = %s\nknown_hosts = %s\n"
             "after = keep\nstable = 1\n",
             argv[2], getenv("OH_SSHD_KEY"), getenv("OH_SSHD_KNOWN_HOSTS"));
    if (oh_conf_parse(text, "bench.ini", &conf, &err) < 0 ||
        !(sec = oh_conf_find(conf, "channel", "bench")) ||
        oh_sftp_transport_open(sec, "bench", &t, &tp, &err) < 0) {
        fprintf(stderr, "bench_sftp: %s\n", err.msg);
        goto done;
    }
    t0 = now_s();
    if (strcmp(argv[1], "fetch") == 0) {
        if (tp->list(t, &files, &n, &err) < 0)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            char p[4096];
            struct out o = {0};
            snprintf(p, sizeof(p), "%s/%s", argv[3], files[i].name);
            if ((o.fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
                goto fail;
            if (tp->fetch(t, files[i].name, file_sink, &o, &err) < 0) {
                close(o.fd);
                goto fail;
            }
            close(o.fd);
            bytes += o.bytes;
        }
    } else {
        struct oh_channel ch = {0};
        struct oh_filechan fc = {0};
        struct oh_spool *sp = NULL;
        ch.name = "bench";
        ch.cfg = sec;
        ch.format = "csv";
        ch.ops = &ops;
        if (oh_filechan_configure(&fc, &ch, &err) < 0 || oh_spool_open(argv[3], NULL, &sp, &err) < 0)
            goto fail;
        fc.tp = tp;
        fc.t = t;
        rc = oh_filechan_poll(&fc, &ch, sp, &err);
        for (size_t i = 0; i < fc.nlast; i++)
            bytes += fc.last[i].size;
        n = fc.nlast;
        oh_filechan_clear(&fc);
        oh_spool_free(sp);
        if (rc < 0)
            goto fail;
    }
    t1 = now_s();
    printf("%s files=%zu bytes=%lld seconds=%.3f MiB/s=%.1f files/s=%.0f\n", argv[1], n, bytes,
           t1 - t0, (double)bytes / 1048576.0 / (t1 - t0), (double)n / (t1 - t0));
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_sftp: %s\n", err.msg);
    rc = 1;
done:
    if (files) {
        for (size_t i = 0; i < n; i++)
            free(files[i].name);
        free(files);
    }
    oh_sftp_transport_close(t);
    oh_conf_free(conf);
    return rc;
}
