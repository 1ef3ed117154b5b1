/*
 * order_gen.h — the benchmark's synthetic canonical orders, shared by
 * gen_spool (which writes them as canonical JSON into a spool) and ceiling
 * (which binds the same values straight into INSERT statements), so both
 * sides of the comparison store exactly the same rows.
 *
 * Promises:
 *   - bench_order_make(seed, i) is a pure function of (seed, i): the same
 *     order every time, in every program;
 *   - external ids are unique per i ("BN-<seed>-<i>", zero padded);
 *   - every order has 3 lines and both addresses, realistic field lengths,
 *     and totals that add up (subtotal + shipping + tax - discount = total),
 *     all money as exact decimal text;
 *   - the JSON passes orderhub's canonical validation unchanged.
 */
#ifndef OH_BENCH_ORDER_GEN_H
#define OH_BENCH_ORDER_GEN_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_LINES 3
#define BENCH_CHANNEL "bench"

struct bench_addr {
    char name[64], company[64], line1[96], line2[48], city[48], region[48];
    char postal_code[16], country[3], phone[32], email[96];
};

struct bench_line {
    int line_no;
    char external_id[64], sku[32], gtin[16], title[128], qty[8], uom[8];
    char unit_price[24], tax[24], discount[24];
};

struct bench_order {
    char external_id[48], number[32], status[16], currency[4];
    int64_t placed_at, updated_at; /* seconds since the epoch, UTC */
    char subtotal[24], shipping_total[24], tax_total[24], discount_total[24], total[24];
    char po_number[32], notes[128];
    char cust_ext[32], cust_email[96], cust_name[64], cust_phone[32];
    char ship_method[32];
    struct bench_addr bill_to, ship_to;
    struct bench_line lines[BENCH_LINES];
};

void bench_order_make(uint64_t seed, uint64_t i, struct bench_order *o);

/* The order as one canonical JSON object (UTF-8, no newline). Returns its
 * length, or 0 when it does not fit in n bytes. */
size_t bench_order_json(const struct bench_order *o, char *buf, size_t n);

/* "2026-11-20T09:00:00Z" and the store's "2026-11-20 09:00:00.000". */
void bench_time_iso(int64_t s, char out[32]);
void bench_time_sql(int64_t s, char out[32]);

#endif
