/*
 * store_testdb.h — what the tests that run against the private MariaDB
 * share: the connection settings from scripts/mariadb env (OH_DB_SOCKET or
 * OH_DB_HOST/OH_DB_PORT, OH_DB_USER, OH_DB_PASSWORD_FILE), a fresh
 * migrated database per run (orderhub_test_<name>_<pid>_<random>, dropped
 * at the end) with its store connection in g.st, and plain client access
 * for checks behind the store's back.
 *
 * Include after cmocka.h, with TESTDB_NAME defined as the test's name.
 */
#ifndef OH_STORE_TESTDB_H
#define OH_STORE_TESTDB_H

#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static struct {
    char socket[512], host[256], user[128], password[256], db[96];
    unsigned port;
    struct oh_store *st; /* the suite's main connection */
} g;

static inline int read_env(void)
{
    const char *sock = getenv("OH_DB_SOCKET"), *host = getenv("OH_DB_HOST");
    const char *port = getenv("OH_DB_PORT"), *user = getenv("OH_DB_USER");
    const char *pwf = getenv("OH_DB_PASSWORD_FILE");
    FILE *f;
    size_t n;

    if ((!sock || !*sock) && (!host || !*host)) {
        fprintf(stderr, TESTDB_NAME ": set OH_DB_SOCKET (or OH_DB_HOST/OH_DB_PORT), OH_DB_USER and "
                        "OH_DB_PASSWORD_FILE: run `scripts/mariadb start && eval "
                        "\"$(scripts/mariadb env)\"` first\n");
        return -1;
    }
    if (!user || !pwf) {
        fprintf(stderr, TESTDB_NAME ": OH_DB_USER and OH_DB_PASSWORD_FILE must be set "
                        "(see scripts/mariadb env)\n");
        return -1;
    }
    snprintf(g.socket, sizeof(g.socket), "%s", sock ? sock : "");
    snprintf(g.host, sizeof(g.host), "%s", (sock && *sock) ? "" : host);
    g.port = port ? (unsigned)atoi(port) : 0;
    snprintf(g.user, sizeof(g.user), "%s", user);
    f = fopen(pwf, "r");
    if (!f) {
        fprintf(stderr, TESTDB_NAME ": cannot read OH_DB_PASSWORD_FILE %s\n", pwf);
        return -1;
    }
    n = fread(g.password, 1, sizeof(g.password) - 1, f);
    fclose(f);
    while (n > 0 && (g.password[n - 1] == '\n' || g.password[n - 1] == '\r'))
        n--;
    g.password[n] = '\0';
    return 0;
}

static inline MYSQL *raw_connect(const char *db)
{
    MYSQL *m = mysql_init(NULL);

    if (!m)
        return NULL;
    if (!mysql_real_connect(m, g.host[0] ? g.host : NULL, g.user, g.password, db, g.port,
                            g.host[0] ? NULL : g.socket, 0)) {
        fprintf(stderr, TESTDB_NAME ": connect: %s\n", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    mysql_query(m, "SET time_zone = '+00:00'");
    return m;
}

/* First column of the first row as an integer (-1 when no row). */
static inline long long raw_int(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    MYSQL *m = raw_connect(g.db);
    MYSQL_RES *r;
    MYSQL_ROW row;
    long long v = -1;

    assert_non_null(m);
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (mysql_query(m, sql) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    r = mysql_store_result(m);
    assert_non_null(r);
    row = mysql_fetch_row(r);
    if (row && row[0])
        v = atoll(row[0]);
    mysql_free_result(r);
    mysql_close(m);
    return v;
}

static inline struct oh_store *open_store(void)
{
    struct oh_store_conf c = {
        .host = g.host, .port = g.port, .socket = g.socket,
        .user = g.user, .password = g.password, .database = g.db,
    };
    struct oh_store *st = NULL;
    struct oh_err err = { 0 };
    int rc = oh_store_open(&c, &st, &err);

    if (rc != 0)
        fail_msg("oh_store_open: %s", err.msg);
    return st;
}

static inline int group_setup(void **state)
{
    MYSQL *m;
    struct oh_err err = { 0 };
    int applied = -1;
    unsigned seed;

    (void)state;
    if (read_env() < 0)
        return -1;
    seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)clock();
    snprintf(g.db, sizeof(g.db), "orderhub_test_" TESTDB_NAME "_%d_%u", (int)getpid(),
             (unsigned)rand_r(&seed));
    m = raw_connect(NULL);
    if (!m)
        return -1;
    {
        char sql[160];
        snprintf(sql, sizeof(sql), "CREATE DATABASE `%s` CHARACTER SET utf8mb4", g.db);
        if (mysql_query(m, sql) != 0) {
            fprintf(stderr, TESTDB_NAME ": %s: %s\n", sql, mysql_error(m));
            mysql_close(m);
            return -1;
        }
    }
    mysql_close(m);
    struct oh_store_conf c = {
        .host = g.host, .port = g.port, .socket = g.socket,
        .user = g.user, .password = g.password, .database = g.db,
    };
    if (oh_store_open(&c, &g.st, &err) != 0) {
        fprintf(stderr, TESTDB_NAME ": open: %s\n", err.msg);
        return -1;
    }
    if (oh_store_migrate(g.st, &applied, &err) != 0 || applied < 1) {
        fprintf(stderr, TESTDB_NAME ": migrate: %s (applied %d)\n", err.msg, applied);
        return -1;
    }
    return 0;
}

static inline int group_teardown(void **state)
{
    MYSQL *m;
    char sql[256];

    (void)state;
    oh_store_free(g.st);
    g.st = NULL;
    if (!g.db[0])
        return 0;
    m = raw_connect(NULL);
    if (!m)
        return -1;
    /* A failed test may have left a connection inside a transaction on
     * this database; DROP would wait for it forever. */
    mysql_query(m, "SET SESSION lock_wait_timeout = 60");
    snprintf(sql, sizeof(sql),
             "SELECT id FROM information_schema.PROCESSLIST WHERE db = '%s' AND "
             "id <> CONNECTION_ID()", g.db);
    if (mysql_query(m, sql) == 0) {
        MYSQL_RES *r = mysql_store_result(m);
        MYSQL_ROW row;
        char kill[64];

        while (r && (row = mysql_fetch_row(r))) {
            snprintf(kill, sizeof(kill), "KILL %s", row[0]);
            mysql_query(m, kill);
        }
        if (r)
            mysql_free_result(r);
    }
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`", g.db);
    if (mysql_query(m, sql) != 0)
        fprintf(stderr, TESTDB_NAME ": %s: %s\n", sql, mysql_error(m));
    mysql_close(m);
    return 0;
}

#endif
