/*
 * store_int.h — what the store's files share: the connection, the prepared
 * statement cache, parameter binding and result fetching.
 *
 * Every statement the store runs is one of the constant texts in the sq_*
 * table (store.c) or a multi-row INSERT built from constant fragments
 * (store_order.c); input only ever travels as bound parameters (T1).
 * Statements are prepared on first use on the current connection and
 * dropped with it; after a reconnect they are prepared again.
 */
#ifndef OH_STORE_INT_H
#define OH_STORE_INT_H

#include <mysql.h>
#include <stdint.h>

#include "store/store.h"

enum oh_sq {
    SQ_DOC_PUT,
    SQ_ORDER_LOCK,
    SQ_ORDER_INSERT,
    SQ_ORDER_UPDATE,
    SQ_LINES_DELETE,
    SQ_ADDR_DELETE,
    SQ_ORDER_GET,
    SQ_ORDER_GET_ID,
    SQ_LINES_GET,
    SQ_ADDR_GET,
    SQ_ORDERS_LIST,
    SQ_ORDERS_LIST_CH,
    SQ_ORDER_STATUS_LOCK,
    SQ_ORDER_STATUS_SET,
    SQ_OUTBOX_ADD,
    SQ_OUTBOX_DUE,
    SQ_OUTBOX_MARK_LEASED,
    SQ_OUTBOX_DONE,
    SQ_OUTBOX_ATTEMPTS,
    SQ_OUTBOX_SET_FAILED,
    SQ_OUTBOX_RETRY,
    SQ_OUTBOX_RELEASE,
    SQ_OUTBOX_LIST,
    SQ_OUTBOX_LIST_STATE,
    SQ_CURSOR_GET,
    SQ_CURSOR_SET,
    SQ_SEEN,
    SQ_SEEN_PAIR,
    SQ_REMEMBER,
    SQ_LEASE_TAKE,
    SQ_LEASE_OWNER,
    SQ_CHANNEL_ENSURE,
    SQ_AUDIT,
    SQ_MIGRATIONS_APPLIED,
    SQ_MIGRATION_RECORD,
    SQ__N
};

/* Rows per multi-row INSERT of order lines; larger orders use several. */
#define OH_LINES_PER_INSERT 16
#define OH_LINE_COLS 12
#define OH_ADDR_COLS 12
/* Keys per batch lookup (store_batch.c in_sql); shorter lists repeat their
 * last key. As many as a default [hub] batch, so a batch costs one lookup
 * per table. */
#define OH_BATCH_IN 256
#define OH_MAX_PARAMS_LINES (OH_LINES_PER_INSERT * OH_LINE_COLS + 8)
#define OH_MAX_PARAMS (OH_MAX_PARAMS_LINES > OH_BATCH_IN + 8 ? OH_MAX_PARAMS_LINES : OH_BATCH_IN + 8)
#define OH_TMP_LEN 48

/* Bound parameters of the statement about to run. Strings are borrowed:
 * they must live until the statement has executed. */
struct oh_params {
    int n;
    MYSQL_BIND b[OH_MAX_PARAMS];
    unsigned long len[OH_MAX_PARAMS];
    long long i64[OH_MAX_PARAMS];
    char tmp[OH_MAX_PARAMS][OH_TMP_LEN]; /* converted values (times, numbers) */
};

/* A fetched result: nrows * ncols cells, NULL for SQL NULL. Temporal
 * columns come back as ISO-8601 UTC ("2026-11-23T09:30:00Z", ".fff" when the
 * milliseconds are not zero). */
struct oh_rows {
    size_t nrows, ncols, cap;
    char **cell;
};

/* Batch statements (store_batch.c), prepared on first use like the others. */
enum oh_bq {
    OH_BQ_DOC_PUT,      /* documents upsert, bulk-bound */
    OH_BQ_DOC_IDS,      /* ids of OH_BATCH_IN spool ids of one channel */
    OH_BQ_ORDER_LOCK,   /* SELECT ... IN (OH_BATCH_IN) FOR UPDATE */
    OH_BQ_ORDER_INSERT, /* bulk-bound */
    OH_BQ_ADDR_INSERT,  /* bulk-bound */
    OH_BQ_LINES_INSERT, /* bulk-bound */
    OH_BQ_OUTBOX_ADD,   /* bulk-bound */
    OH_BQ__N
};

struct oh_store {
    MYSQL *db;
    char *host, *socket, *user, *password, *database;
    unsigned port, connect_timeout_s;
    int broken;  /* the connection is gone: reconnect on the next call */
    int in_tx;   /* between begin and commit/rollback */
    int tx_lost; /* the open transaction died with the connection or a deadlock */
    MYSQL_STMT *sq[SQ__N];
    MYSQL_STMT *lines_ins[OH_LINES_PER_INSERT + 1]; /* by row count */
    MYSQL_STMT *addr_ins[3];
    MYSQL_STMT *bq[OH_BQ__N];
    struct oh_params p;
};

/* Values of one canonical order as they are bound (store_order.c). */
#define OH_OF_N 22     /* order fields after external_id, in SQ_ORDER_INSERT order */
#define OH_OF_STATUS 1
#define OH_LF_N 9      /* line fields after line_no */
#define OH_AF_N 10     /* address fields after role */
struct oh_fv {
    const char *s; /* NULL: SQL NULL */
    size_t len;
};
struct oh_order_vals {
    struct oh_fv ext;
    char ext_tmp[OH_TMP_LEN];
    struct oh_fv f[OH_OF_N];
    char tmp[OH_OF_N][OH_TMP_LEN];
    char *tags; /* malloc'd JSON text */
};
struct oh_line_vals {
    int64_t line_no;
    struct oh_fv f[OH_LF_N];
    char tmp[OH_LF_N][OH_TMP_LEN];
};
struct oh_addr_vals {
    int present;
    struct oh_fv f[OH_AF_N];
    char tmp[OH_AF_N][OH_TMP_LEN];
};
/* Checks and converts order (OH_EINVAL with the field's path when it does
 * not fit); *lv (caller frees) gets *nlines lines; av[0] bill_to, av[1]
 * ship_to. ov->tags is the caller's to free. */
int oh_st_collect(const json_t *order, struct oh_order_vals *ov, struct oh_line_vals **lv,
                  size_t *nlines, struct oh_addr_vals av[2], struct oh_err *err);

/* Connection */
int oh_st_ready(struct oh_store *st, struct oh_err *err);
/* Maps the current client error to an OH_E* code (T5) and fills err. */
int oh_st_fail(struct oh_store *st, unsigned no, const char *msg, const char *what,
               struct oh_err *err);
int oh_st_query(struct oh_store *st, const char *sql, const char *what, struct oh_err *err);

/* Statements */
int oh_st_stmt(struct oh_store *st, enum oh_sq id, MYSQL_STMT **out, struct oh_err *err);
int oh_st_prepare(struct oh_store *st, MYSQL_STMT **slot, const char *sql, const char *what,
                  struct oh_err *err);
/* Executes s with st->p; rows (may be NULL) receives any result set.
 * *affected (may be NULL) = matched rows of an UPDATE/INSERT. */
int oh_st_exec(struct oh_store *st, MYSQL_STMT *s, const char *what, struct oh_rows *rows,
               uint64_t *affected, struct oh_err *err);
/* A statement used rarely: prepared, executed with st->p and closed again
 * (not kept in the statement cache). */
int oh_st_run_sql(struct oh_store *st, const char *sql, const char *what, struct oh_rows *rows,
                  uint64_t *affected, struct oh_err *err);
/* The same for an INSERT: *id = the AUTO_INCREMENT value it generated. */
int oh_st_insert_sql(struct oh_store *st, const char *sql, const char *what, int64_t *id,
                     struct oh_err *err);
/* Shortcut: prepare-or-reuse statement id, execute with st->p. */
int oh_st_run(struct oh_store *st, enum oh_sq id, const char *what, struct oh_rows *rows,
              uint64_t *affected, struct oh_err *err);

/* Parameters (into st->p) */
void oh_p_reset(struct oh_store *st);
void oh_p_str(struct oh_store *st, const char *s);                  /* NULL -> NULL */
void oh_p_strn(struct oh_store *st, const char *s, size_t len);     /* NULL -> NULL */
void oh_p_i64(struct oh_store *st, int64_t v);
void oh_p_null(struct oh_store *st);
/* Milliseconds since the epoch as a DATETIME(3) value. */
void oh_p_time_ms(struct oh_store *st, int64_t ms);
/* A scratch buffer of OH_TMP_LEN bytes that lives as long as the params. */
char *oh_p_tmp(struct oh_store *st);

/* Results */
void oh_rows_free(struct oh_rows *r);
static inline const char *oh_cell(const struct oh_rows *r, size_t row, size_t col)
{
    return r->cell[row * r->ncols + col];
}

/* Time and numbers */
/* ISO-8601 (Z, +hh:mm offsets, or a bare date) -> "YYYY-MM-DD HH:MM:SS.fff" UTC. */
int oh_st_iso_to_sql(const char *iso, char out[OH_TMP_LEN]);
/* Checks a decimal string fits DECIMAL(19,4) without losing digits. */
int oh_st_decimal_ok(const char *s, size_t len);
/* Trims "19.9000" to keep at least min_frac fraction digits. */
void oh_st_trim_decimal(char *s, int min_frac);

int64_t oh_st_atoi64(const char *s);

#endif
