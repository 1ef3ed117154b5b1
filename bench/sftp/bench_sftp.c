/*
 * bench_sftp.c — SFTP pickup throughput (run by bench/sftp/run.sh).
 *
 *   bench_sftp fetch  URL DEST   every file in URL's directory, fetched by the
 *                                transport into DEST/ (what `sftp get` does)
 *   bench_sftp pickup URL SPOOL  one pass of the file-channel engine into a
 *                                spool under SPOOL (after = keep, stable = 1),
 *                                "seen" keys in memory
 *   bench_sftp pickup-store URL SPOOL       the same with the seen keys in
 *                                the store (MariaDB, a scratch database made
 *                                and dropped here): a look-up per file and one
 *                                oh_store_remember (one commit) per file, as
 *                                the daemon's channel ops do today (look-ups
 *                                two files at a time with seen_pair)
 *   bench_sftp pickup-store-many URL SPOOL  the same, but each group's
 *                                identities remembered with one
 *                                oh_store_remember_many (filechan's
 *                                remember_many hook)
 *
 * Key and known_hosts come from OH_SSHD_KEY / OH_SSHD_KNOWN_HOSTS; the
 * store from OH_DB_SOCKET (or OH_DB_HOST/OH_DB_PORT), OH_DB_USER and
 * OH_DB_PASSWORD_FILE (scripts/mariadb env). Prints one line: mode files
 * bytes seconds MiB/s files/s.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "connectors/dir/filechan.h"
#include "connectors/sftp/sftp.h"
#include "spool/spool.h"
#include "store/store.h"

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

/* ---- the store variant --------------------------------------------------- */

static struct oh_store *bench_st;

static int st_seen(struct oh_channel *ch, const char *k, int *s, struct oh_err *err)
{
    return oh_store_seen(bench_st, ch->name, k, s, err);
}

static int st_remember(struct oh_channel *ch, const char *k, struct oh_err *err)
{
    return oh_store_remember(bench_st, ch->name, k, err);
}

static int st_remember_many(struct oh_channel *ch, const char *const *keys, size_t n,
                            struct oh_err *err)
{
    struct oh_seen_key v[64];
    int rc;
    for (size_t i = 0; i < n; i += 64) {
        size_t m = n - i < 64 ? n - i : 64;
        for (size_t j = 0; j < m; j++)
            v[j] = (struct oh_seen_key){ch->name, keys[i + j]};
        if ((rc = oh_store_remember_many(bench_st, v, m, err)) < 0)
            return rc;
    }
    return 0;
}

static int st_seen_pair(struct oh_channel *ch, const char *a, const char *b, int *sa, int *sb,
                        struct oh_err *err)
{
    return oh_store_seen_pair(bench_st, ch->name, a, b, sa, sb, err);
}

/* What the daemon's channel ops offer (core/daemon/hub.c). */
static const struct oh_channel_ops st_ops = {
    .seen = st_seen, .remember = st_remember, .seen_pair = st_seen_pair};

struct db {
    char host[256], sock[512], user[128], pw[256], name[64];
    unsigned port;
};

static MYSQL *db_raw(const struct db *d)
{
    MYSQL *m = mysql_init(NULL);
    if (m && !mysql_real_connect(m, d->sock[0] ? NULL : d->host, d->user, d->pw, NULL, d->port,
                                 d->sock[0] ? d->sock : NULL, 0)) {
        fprintf(stderr, "bench_sftp: MariaDB: %s\n", mysql_error(m));
        mysql_close(m);
        m = NULL;
    }
    return m;
}

/* A scratch database, migrated; bench_st connected to it. */
static int db_open(struct db *d, struct oh_err *err)
{
    const char *sock = getenv("OH_DB_SOCKET"), *host = getenv("OH_DB_HOST");
    const char *port = getenv("OH_DB_PORT"), *user = getenv("OH_DB_USER");
    const char *pwf = getenv("OH_DB_PASSWORD_FILE");
    char sql[128];
    MYSQL *m;
    FILE *f;
    size_t n;

    memset(d, 0, sizeof(*d));
    if (!user || !pwf || !(f = fopen(pwf, "r")))
        return oh_err_set(err, OH_EINVAL, "set the store's environment: eval \"$(scripts/mariadb env)\"");
    n = fread(d->pw, 1, sizeof(d->pw) - 1, f);
    fclose(f);
    while (n > 0 && (d->pw[n - 1] == '\n' || d->pw[n - 1] == '\r'))
        n--;
    d->pw[n] = 0;
    snprintf(d->sock, sizeof(d->sock), "%s", sock ? sock : "");
    snprintf(d->host, sizeof(d->host), "%s", host ? host : "127.0.0.1");
    d->port = port ? (unsigned)atoi(port) : 0;
    snprintf(d->user, sizeof(d->user), "%s", user);
    snprintf(d->name, sizeof(d->name), "orderhub_sftpbench_%ld", (long)getpid());
    if (!(m = db_raw(d)))
        return oh_err_set(err, OH_ERROR, "cannot connect to MariaDB");
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", d->name);
    if (mysql_query(m, sql) != 0) {
        mysql_close(m);
        return oh_err_set(err, OH_ERROR, "%s failed", sql);
    }
    mysql_close(m);
    struct oh_store_conf c = {.host = d->sock[0] ? "" : d->host, .port = d->port, .socket = d->sock,
                              .user = d->user, .password = d->pw, .database = d->name};
    if (oh_store_open(&c, &bench_st, err) < 0 || oh_store_migrate(bench_st, NULL, err) < 0)
        return OH_ERROR;
    return 0;
}

static void db_drop(struct db *d)
{
    char sql[128];
    MYSQL *m;
    oh_store_free(bench_st);
    bench_st = NULL;
    if (!d->name[0] || !(m = db_raw(d)))
        return;
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", d->name);
    mysql_query(m, sql);
    mysql_close(m);
}

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
    struct db db = {0};

    oh_log_init(OH_LOG_WARN, 0);
    if (argc != 4 || (strcmp(argv[1], "fetch") != 0 && strncmp(argv[1], "pickup", 6) != 0)) {
        fprintf(stderr, "usage: bench_sftp fetch|pickup|pickup-store|pickup-store-many URL DEST\n");
        return 2;
    }
    if (strncmp(argv[1], "pickup-store", 12) == 0 && db_open(&db, &err) < 0) {
        fprintf(stderr, "bench_sftp: %s\n", err.msg);
        db_drop(&db);
        return 1;
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
        ch.ops = bench_st ? &st_ops : &ops;
        if (oh_filechan_configure(&fc, &ch, &err) < 0 || oh_spool_open(argv[3], NULL, &sp, &err) < 0)
            goto fail;
        fc.tp = tp;
        fc.t = t;
        if (strcmp(argv[1], "pickup-store-many") == 0)
            fc.remember_many = st_remember_many;
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
    db_drop(&db);
    return rc;
}
