/*
 * store_misc.c — cursors, "seen" keys, named leases (DESIGN §3.6),
 * channels, the audit log and schema migrations.
 *
 * Promises:
 *   - a "seen" key longer than 255 bytes is stored as "sha256:" + hex of
 *     it, so keys of any length work and stay exact (binary comparison);
 *   - oh_store_lease is one atomic INSERT ... ON DUPLICATE KEY UPDATE: a
 *     lease passes to another owner only after it expired, and its holder
 *     renews it by asking again;
 *   - oh_store_migrate applies each embedded migration once, in version
 *     order, under a server-side named lock so two instances starting
 *     together do not both apply it. DDL commits implicitly in MariaDB, so
 *     a migration that fails half-way is not recorded; migrations are
 *     written to be re-runnable (CREATE TABLE IF NOT EXISTS ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrate.h"
#include "store/store_int.h"
#include "util.h"

/* ---- cursors ------------------------------------------------------------------------- */

int oh_store_cursor_get(struct oh_store *st, const char *channel, const char *name, char **value,
                        struct oh_err *err)
{
    int rc;
    struct oh_rows r = { 0 };

    *value = NULL;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, channel);
    oh_p_str(st, name);
    if ((rc = oh_st_run(st, SQ_CURSOR_GET, "read cursor", &r, NULL, err)) < 0)
        goto done;
    if (r.nrows > 0 && oh_cell(&r, 0, 0)) {
        *value = r.cell[0]; /* taken over from the result */
        r.cell[0] = NULL;
    }
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_cursor_set(struct oh_store *st, const char *channel, const char *name,
                        const char *value, struct oh_err *err)
{
    int rc;

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, channel);
    oh_p_str(st, name);
    oh_p_str(st, value);
    return oh_st_run(st, SQ_CURSOR_SET, "write cursor", NULL, NULL, err);
}

/* ---- seen keys ----------------------------------------------------------------------- */

#define SEEN_KEY_MAX 255

static void bind_seen_key(struct oh_store *st, const char *key, char hashed[80])
{
    size_t len = strlen(key);

    if (len <= SEEN_KEY_MAX) {
        oh_p_strn(st, key, len);
        return;
    }
    memcpy(hashed, "sha256:", 7);
    oh_sha256_hex(key, len, hashed + 7);
    oh_p_str(st, hashed);
}

int oh_store_seen(struct oh_store *st, const char *channel, const char *key, int *seen,
                  struct oh_err *err)
{
    int rc;
    struct oh_rows r = { 0 };
    char hashed[80];

    *seen = 0;
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, channel);
    bind_seen_key(st, key, hashed);
    if ((rc = oh_st_run(st, SQ_SEEN, "look up seen key", &r, NULL, err)) < 0)
        goto done;
    *seen = r.nrows > 0;
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_seen_pair(struct oh_store *st, const char *channel, const char *a, const char *b,
                       int *seen_a, int *seen_b, struct oh_err *err)
{
    int rc;
    struct oh_rows r = { 0 };
    char ha[80], hb[80];
    const char *ka, *kb;

    *seen_a = *seen_b = 0;
    if (!b)
        return oh_store_seen(st, channel, a, seen_a, err);
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, channel);
    bind_seen_key(st, a, ha);
    oh_p_str(st, channel);
    bind_seen_key(st, b, hb);
    if ((rc = oh_st_run(st, SQ_SEEN_PAIR, "look up seen keys", &r, NULL, err)) < 0)
        goto done;
    /* the row holds the key as bound (hashed when long) */
    ka = strlen(a) <= SEEN_KEY_MAX ? a : ha;
    kb = strlen(b) <= SEEN_KEY_MAX ? b : hb;
    for (size_t i = 0; i < r.nrows; i++) {
        const char *k = oh_cell(&r, i, 0);
        if (k && oh_store_same_key(k, ka))
            *seen_a = 1;
        if (k && oh_store_same_key(k, kb))
            *seen_b = 1;
    }
done:
    oh_rows_free(&r);
    return rc;
}

int oh_store_remember(struct oh_store *st, const char *channel, const char *key,
                      struct oh_err *err)
{
    int rc;
    char hashed[80];

    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, channel);
    bind_seen_key(st, key, hashed);
    return oh_st_run(st, SQ_REMEMBER, "remember seen key", NULL, NULL, err);
}

/* ---- named leases -------------------------------------------------------------------- */

int oh_store_lease(struct oh_store *st, const char *name, const char *owner, int64_t ttl_ms,
                   int *got, struct oh_err *err)
{
    int rc;
    struct oh_rows r = { 0 };

    *got = 0;
    if (!name || !owner || !*owner || ttl_ms <= 0) {
        rc = oh_err_set(err, OH_EINVAL, "lease: name, owner and ttl > 0 are required");
        goto done;
    }
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, name);
    oh_p_str(st, owner);
    oh_p_i64(st, ttl_ms * 1000);
    if ((rc = oh_st_run(st, SQ_LEASE_TAKE, "take lease", NULL, NULL, err)) < 0)
        goto done;
    oh_p_reset(st);
    oh_p_str(st, name);
    if ((rc = oh_st_run(st, SQ_LEASE_OWNER, "read lease", &r, NULL, err)) < 0)
        goto done;
    *got = r.nrows > 0 && oh_cell(&r, 0, 0) && strcmp(oh_cell(&r, 0, 0), owner) == 0;
done:
    oh_rows_free(&r);
    return rc;
}

/* ---- channels and audit ---------------------------------------------------------------- */

int oh_store_channel_ensure(struct oh_store *st, const char *name, const char *type,
                            struct oh_err *err)
{
    int rc;

    if (!name || !type)
        return oh_err_set(err, OH_EINVAL, "channel: name and type are required");
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, name);
    oh_p_str(st, type);
    return oh_st_run(st, SQ_CHANNEL_ENSURE, "record channel", NULL, NULL, err);
}

int oh_store_audit(struct oh_store *st, const char *actor, const char *action, const char *detail,
                   struct oh_err *err)
{
    int rc;

    if (!actor || !action)
        return oh_err_set(err, OH_EINVAL, "audit: actor and action are required");
    if ((rc = oh_st_ready(st, err)) < 0)
        return rc;
    oh_p_reset(st);
    oh_p_str(st, actor);
    oh_p_str(st, action);
    oh_p_str(st, detail);
    return oh_st_run(st, SQ_AUDIT, "write audit log", NULL, NULL, err);
}

/* ---- migrations ------------------------------------------------------------------------ */

/* 1 when s holds nothing but whitespace and "--" comments. */
static int blank_sql(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
            i++;
        } else if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else {
            return 0;
        }
    }
    return 1;
}

static int apply_one(struct oh_store *st, const struct oh_migration *m, struct oh_err *err)
{
    int rc = 0;
    const char *p = m->sql;

    while (*p) {
        const char *end = strstr(p, ";\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (!blank_sql(p, n)) {
            /* Constant text compiled into the binary, never input (T1). */
            if (mysql_real_query(st->db, p, n) != 0) {
                char what[160];

                snprintf(what, sizeof(what), "migration %03d_%s", m->version, m->name);
                rc = oh_st_fail(st, mysql_errno(st->db), mysql_error(st->db), what, err);
                goto done;
            }
            MYSQL_RES *res = mysql_store_result(st->db);
            if (res)
                mysql_free_result(res);
        }
        p += n;
        if (end)
            p += 2;
    }
    oh_p_reset(st);
    oh_p_i64(st, m->version);
    oh_p_str(st, m->name);
    rc = oh_st_run(st, SQ_MIGRATION_RECORD, "record migration", NULL, NULL, err);
done:
    return rc;
}

static int applied_already(const struct oh_rows *r, int version)
{
    for (size_t i = 0; i < r->nrows; i++)
        if (oh_st_atoi64(oh_cell(r, i, 0)) == version)
            return 1;
    return 0;
}

int oh_store_migrate(struct oh_store *st, int *applied, struct oh_err *err)
{
    int rc, locked = 0, count = 0;
    struct oh_rows r = { 0 };
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;

    if (applied)
        *applied = 0;
    if (st->in_tx) {
        rc = oh_err_set(err, OH_EINVAL, "migrate: not inside a transaction (DDL commits it)");
        goto done;
    }
    if ((rc = oh_st_ready(st, err)) < 0)
        goto done;
    if (mysql_real_query(st->db, "SELECT GET_LOCK('orderhub.migrate', 60)",
                          strlen("SELECT GET_LOCK('orderhub.migrate', 60)")) != 0 ||
        !(res = mysql_store_result(st->db))) {
        rc = oh_st_fail(st, mysql_errno(st->db), mysql_error(st->db), "migrate: lock", err);
        goto done;
    }
    row = mysql_fetch_row(res);
    if (!row || !row[0] || strcmp(row[0], "1") != 0) {
        rc = oh_err_retry(err, OH_EAGAIN, "migrate: another instance holds the migration lock");
        goto done;
    }
    locked = 1;
    if ((rc = oh_st_query(st,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, "
                          "applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) "
                          "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                          "migrate: schema_migrations", err)) < 0)
        goto done;
    oh_p_reset(st);
    if ((rc = oh_st_run(st, SQ_MIGRATIONS_APPLIED, "read schema_migrations", &r, NULL, err)) < 0)
        goto done;
    for (const struct oh_migration *m = oh_migrations; m->sql; m++) {
        if (applied_already(&r, m->version))
            continue;
        if ((rc = apply_one(st, m, err)) < 0)
            goto done;
        count++;
    }
    if (applied)
        *applied = count;
done:
    if (res)
        mysql_free_result(res);
    if (locked && !st->broken) {
        if (mysql_real_query(st->db, "DO RELEASE_LOCK('orderhub.migrate')",
                              strlen("DO RELEASE_LOCK('orderhub.migrate')")) == 0) {
            MYSQL_RES *x = mysql_store_result(st->db);
            if (x)
                mysql_free_result(x);
        }
    }
    oh_rows_free(&r);
    return rc;
}
