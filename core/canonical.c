/* canonical.c — see canonical.h. */
#include "canonical.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Active ISO 4217 codes (2024), space separated, sorted. */
static const char iso4217[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR "
    "KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
    "MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR "
    "SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD "
    "TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL";

/* ISO 3166-1 alpha-2, space separated. */
static const char iso3166[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ "
    "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW "
    "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY "
    "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV "
    "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG "
    "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA "
    "ZM ZW";

static int in_list(const char *list, const char *code, size_t len)
{
    if (strlen(code) != len)
        return 0;
    for (const char *p = list; *p; p += len + 1) {
        if (memcmp(p, code, len) == 0)
            return 1;
        if (!p[len])
            break;
    }
    return 0;
}

int oh_iso4217_valid(const char *code) { return in_list(iso4217, code, 3); }
int oh_iso3166_valid(const char *code) { return in_list(iso3166, code, 2); }

static const char *const statuses[] = {
    "pending", "accepted", "released", "partially_shipped", "shipped", "delivered",
    "on_hold", "cancelled", "returned", "invoiced", NULL,
};

int oh_order_status_valid(const char *s)
{
    for (size_t i = 0; statuses[i]; i++)
        if (strcmp(s, statuses[i]) == 0)
            return 1;
    return 0;
}

int oh_decimal_valid(const char *s, int max_frac)
{
    int intd = 0, frac = 0;
    const char *p = s;

    if (*p == '-' || *p == '+')
        p++;
    while (isdigit((unsigned char)*p))
        p++, intd++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, frac++;
        if (frac == 0)
            return 0;
    }
    return *p == '\0' && intd > 0 && intd <= 15 && frac <= max_frac;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int64_t oh_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int oh_time_parse_iso8601(const char *s, int64_t *ms, int *has_frac)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, msec = 0, off = 0;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (has_frac)
        *has_frac = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.' || *p == ',') {
                int n = 0;
                p++;
                while (isdigit((unsigned char)*p)) {
                    if (n < 3)
                        msec = msec * 10 + (*p - '0');
                    n++;
                    p++;
                }
                if (n == 0)
                    return -1;
                for (; n < 3; n++)
                    msec *= 10;
                if (has_frac)
                    *has_frac = 1;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
                return -1;
            if (oh > 14 || om > 59)
                return -1;
            off = sign * (oh * 60 + om);
        }
        /* No zone: taken as UTC (documented). */
    }
    if (*p)
        return -1;
    *ms = ((oh_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off * 60) * 1000 + msec;
    return 0;
}

void oh_time_format_utc(int64_t ms, int frac, char out[32])
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int rem = (int)(ms - (int64_t)t * 1000);
    struct tm tm;

    size_t n;

    gmtime_r(&t, &tm);
    n = oh_put_datetime(out, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, frac ? rem : -1, 'T');
    out[n] = 'Z';
    out[n + 1] = '\0';
}

/* --- validation ------------------------------------------------------- */

static const char *const order_fields[] = {
    "channel", "external_id", "number", "status", "placed_at", "updated_at", "currency",
    "subtotal", "shipping_total", "tax_total", "discount_total", "total", "po_number", "notes",
    "tags", "customer", "bill_to", "ship_to", "ship_method", "ship_by", "deliver_by", "partner",
    "lines", NULL,
};
static const char *const address_fields[] = {
    "name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone",
    "email", NULL,
};
static const char *const customer_fields[] = { "external_id", "email", "name", "phone", NULL };
static const char *const partner_fields[] = { "sender_id", "receiver_id", NULL };
static const char *const line_fields[] = {
    "line_no", "external_id", "sku", "gtin", "title", "qty", "uom", "unit_price", "tax",
    "discount", NULL,
};

static int known(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], key) == 0)
            return 1;
    return 0;
}

static int check_keys_of(json_t *obj, const char *const *list, const char *where,
                         const char *kind, struct oh_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!known(list, k))
            return oh_err_set(err, OH_EINVAL, "%s%s%s: not a field of the canonical %s", where,
                              *where ? "." : "", k, kind);
    }
    return 0;
}

static int check_keys(json_t *obj, const char *const *list, const char *where, struct oh_err *err)
{
    return check_keys_of(obj, list, where, "order", err);
}

/* A scalar -> string in place (numbers keep their text). JSON null removes the key. */
static int want_string(json_t *obj, const char *key, const char *where, int required, size_t maxlen,
                       struct oh_err *err)
{
    json_t *v = json_object_get(obj, key);
    char buf[64];

    if (!v || json_is_null(v)) {
        if (v)
            json_object_del(obj, key);
        if (required)
            return oh_err_set(err, OH_EINVAL, "%s%s%s: required but missing", where,
                              *where ? "." : "", key);
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        json_object_set_new(obj, key, json_string(buf));
        v = json_object_get(obj, key);
    } else if (!json_is_string(v)) {
        return oh_err_set(err, OH_EINVAL, "%s%s%s: must be a string", where, *where ? "." : "", key);
    }
    if (required && json_string_length(v) == 0)
        return oh_err_set(err, OH_EINVAL, "%s%s%s: required but empty", where, *where ? "." : "", key);
    if (json_string_length(v) > maxlen)
        return oh_err_set(err, OH_EINVAL, "%s%s%s: longer than %zu characters", where,
                          *where ? "." : "", key, maxlen);
    return 0;
}

static int want_decimal(json_t *obj, const char *key, const char *where, int positive,
                        struct oh_err *err)
{
    json_t *v = json_object_get(obj, key);
    char buf[64];
    const char *s;

    if (!v || json_is_null(v)) {
        if (v)
            json_object_del(obj, key);
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        json_object_set_new(obj, key, json_string(buf));
        v = json_object_get(obj, key);
    } else if (json_is_real(v)) {
        return oh_err_set(err, OH_EINVAL,
                          "%s%s%s: a binary floating-point number; money and quantities must be exact decimal strings",
                          where, *where ? "." : "", key);
    } else if (!json_is_string(v)) {
        return oh_err_set(err, OH_EINVAL, "%s%s%s: must be a decimal", where, *where ? "." : "", key);
    }
    s = json_string_value(v);
    if (!oh_decimal_valid(s, 4))
        return oh_err_set(err, OH_EINVAL,
                          "%s%s%s: \"%.40s\" is not a decimal (digits, optional point, at most 4 decimals)",
                          where, *where ? "." : "", key, s);
    if (s[0] == '+') {
        json_object_set_new(obj, key, json_string(s + 1));
        s = json_string_value(json_object_get(obj, key));
    }
    if (positive) {
        int nonzero = 0;
        for (const char *p = s; *p; p++)
            nonzero |= (*p >= '1' && *p <= '9');
        if (s[0] == '-' || !nonzero)
            return oh_err_set(err, OH_EINVAL, "%s%s%s: \"%s\" must be greater than 0", where,
                              *where ? "." : "", key, s);
    }
    return 0;
}

static int want_time(json_t *obj, const char *key, const char *where, struct oh_err *err)
{
    json_t *v = json_object_get(obj, key);
    int64_t ms;
    int frac;
    char out[32];

    if (!v || json_is_null(v)) {
        if (v)
            json_object_del(obj, key);
        return 0;
    }
    if (!json_is_string(v) || oh_time_parse_iso8601(json_string_value(v), &ms, &frac) < 0)
        return oh_err_set(err, OH_EINVAL, "%s%s%s: \"%.40s\" is not an ISO-8601 date-time", where,
                          *where ? "." : "", key, json_is_string(v) ? json_string_value(v) : "?");
    oh_time_format_utc(ms, frac, out);
    json_object_set_new(obj, key, json_string(out));
    return 0;
}

/* l.qty required and > 0; l.line_no a positive integer (strings converted).
 * An absent line_no becomes dflt, or stays absent when dflt is 0. */
static int want_qty_line_no(json_t *l, const char *where, json_int_t dflt, struct oh_err *err)
{
    json_t *no = json_object_get(l, "line_no");
    int rc;

    if (!json_object_get(l, "qty"))
        return oh_err_set(err, OH_EINVAL, "%s.qty: required but missing", where);
    if ((rc = want_decimal(l, "qty", where, 1, err)) < 0)
        return rc;
    if (!no || json_is_null(no)) {
        if (dflt > 0)
            json_object_set_new(l, "line_no", json_integer(dflt));
        else if (no)
            json_object_del(l, "line_no");
    } else if (json_is_string(no)) {
        char *end;
        long v = strtol(json_string_value(no), &end, 10);
        if (*end || v < 1)
            return oh_err_set(err, OH_EINVAL, "%s.line_no: \"%.20s\" is not a positive integer",
                              where, json_string_value(no));
        json_object_set_new(l, "line_no", json_integer(v));
    } else if (!json_is_integer(no) || json_integer_value(no) < 1) {
        return oh_err_set(err, OH_EINVAL, "%s.line_no: must be a positive integer", where);
    }
    return 0;
}

static int check_address(json_t *order, const char *role, struct oh_err *err)
{
    json_t *a = json_object_get(order, role);
    int rc;

    if (!a || json_is_null(a)) {
        json_object_del(order, role);
        return 0;
    }
    if (!json_is_object(a))
        return oh_err_set(err, OH_EINVAL, "%s: must be an object", role);
    if ((rc = check_keys(a, address_fields, role, err)) < 0)
        return rc;
    for (size_t i = 0; address_fields[i]; i++)
        if ((rc = want_string(a, address_fields[i], role, 0, 255, err)) < 0)
            return rc;
    json_t *c = json_object_get(a, "country");
    if (c) {
        char up[8] = "";
        const char *s = json_string_value(c);
        size_t n = strlen(s);
        for (size_t i = 0; i < n && i < 7; i++)
            up[i] = (char)toupper((unsigned char)s[i]);
        if (n != 2 || !oh_iso3166_valid(up))
            return oh_err_set(err, OH_EINVAL, "%s.country: \"%.40s\" is not an ISO 3166 alpha-2 code",
                              role, s);
        json_object_set_new(a, "country", json_string(up));
    }
    return 0;
}

static int check_lines(json_t *order, struct oh_err *err)
{
    json_t *lines = json_object_get(order, "lines"), *l;
    size_t i;
    int rc;
    char where[32];

    if (!lines || !json_is_array(lines) || json_array_size(lines) == 0)
        return oh_err_set(err, OH_EINVAL, "lines: an order needs at least one line");
    json_array_foreach(lines, i, l) {
        snprintf(where, sizeof(where), "lines[%zu]", i);
        if (!json_is_object(l))
            return oh_err_set(err, OH_EINVAL, "%s: must be an object", where);
        if ((rc = check_keys(l, line_fields, where, err)) < 0 ||
            (rc = want_string(l, "sku", where, 1, 255, err)) < 0 ||
            (rc = want_string(l, "external_id", where, 0, 255, err)) < 0 ||
            (rc = want_string(l, "gtin", where, 0, 64, err)) < 0 ||
            (rc = want_string(l, "title", where, 0, 1024, err)) < 0 ||
            (rc = want_string(l, "uom", where, 0, 16, err)) < 0 ||
            (rc = want_decimal(l, "unit_price", where, 0, err)) < 0 ||
            (rc = want_decimal(l, "tax", where, 0, err)) < 0 ||
            (rc = want_decimal(l, "discount", where, 0, err)) < 0)
            return rc;
        if ((rc = want_qty_line_no(l, where, (json_int_t)i + 1, err)) < 0)
            return rc;
    }
    return 0;
}

int oh_canonical_order_check(json_t *order, const char *channel, struct oh_err *err)
{
    static const char *const money[] = {
        "subtotal", "shipping_total", "tax_total", "discount_total", "total", NULL,
    };
    static const char *const times[] = { "placed_at", "updated_at", "ship_by", "deliver_by", NULL };
    static const char *const strings[] = { "number", "po_number", "ship_method", NULL };
    int rc;
    json_t *v;

    if (!json_is_object(order))
        return oh_err_set(err, OH_EINVAL, "an order must be a JSON object");
    if ((rc = check_keys(order, order_fields, "", err)) < 0)
        return rc;
    json_object_set_new(order, "channel", json_string(channel));
    if ((rc = want_string(order, "external_id", "", 1, 255, err)) < 0)
        return rc;
    for (size_t i = 0; strings[i]; i++)
        if ((rc = want_string(order, strings[i], "", 0, 255, err)) < 0)
            return rc;
    if ((rc = want_string(order, "notes", "", 0, 65535, err)) < 0)
        return rc;
    for (size_t i = 0; money[i]; i++)
        if ((rc = want_decimal(order, money[i], "", 0, err)) < 0)
            return rc;
    for (size_t i = 0; times[i]; i++)
        if ((rc = want_time(order, times[i], "", err)) < 0)
            return rc;
    if ((rc = want_string(order, "status", "", 0, 32, err)) < 0)
        return rc;
    v = json_object_get(order, "status");
    if (!v)
        json_object_set_new(order, "status", json_string("pending"));
    else if (!oh_order_status_valid(json_string_value(v)))
        return oh_err_set(err, OH_EINVAL,
                          "status: \"%.40s\" is not an order state (pending, accepted, released, "
                          "partially_shipped, shipped, delivered, on_hold, cancelled, returned, "
                          "invoiced)",
                          json_string_value(v));
    if ((rc = want_string(order, "currency", "", 0, 16, err)) < 0)
        return rc;
    if ((v = json_object_get(order, "currency"))) {
        char up[4] = "";
        const char *s = json_string_value(v);
        for (size_t i = 0; i < 3 && s[i]; i++)
            up[i] = (char)toupper((unsigned char)s[i]);
        if (strlen(s) != 3 || !oh_iso4217_valid(up))
            return oh_err_set(err, OH_EINVAL, "currency: \"%s\" is not an ISO 4217 code", s);
        json_object_set_new(order, "currency", json_string(up));
    }
    if ((rc = check_address(order, "bill_to", err)) < 0 ||
        (rc = check_address(order, "ship_to", err)) < 0)
        return rc;
    if ((v = json_object_get(order, "customer")) && !json_is_null(v)) {
        if (!json_is_object(v))
            return oh_err_set(err, OH_EINVAL, "customer: must be an object");
        if ((rc = check_keys(v, customer_fields, "customer", err)) < 0)
            return rc;
        for (size_t i = 0; customer_fields[i]; i++)
            if ((rc = want_string(v, customer_fields[i], "customer", 0, 255, err)) < 0)
                return rc;
    } else if (v) {
        json_object_del(order, "customer");
    }
    if ((v = json_object_get(order, "partner")) && !json_is_null(v)) {
        if (!json_is_object(v))
            return oh_err_set(err, OH_EINVAL, "partner: must be an object");
        if ((rc = check_keys(v, partner_fields, "partner", err)) < 0)
            return rc;
        for (size_t i = 0; partner_fields[i]; i++)
            if ((rc = want_string(v, partner_fields[i], "partner", 0, 64, err)) < 0)
                return rc;
    } else if (v) {
        json_object_del(order, "partner");
    }
    if ((v = json_object_get(order, "tags")) && !json_is_null(v)) {
        size_t i;
        json_t *t;
        if (!json_is_array(v))
            return oh_err_set(err, OH_EINVAL, "tags: must be an array of strings");
        json_array_foreach(v, i, t) if (!json_is_string(t))
            return oh_err_set(err, OH_EINVAL, "tags[%zu]: must be a string", i);
    } else if (v) {
        json_object_del(order, "tags");
    }
    return check_lines(order, err);
}

/* --- shipments ------------------------------------------------------- */

static const char *const shipment_fields[] = {
    "channel", "external_id", "order_ref", "carrier", "service", "tracking_number", "label",
    "shipped_at", "packages", "lines", NULL,
};
static const char *const order_ref_fields[] = { "channel", "external_id", "number", NULL };
static const char *const label_fields[] = { "format", "path", NULL };
static const char *const package_fields[] = { "weight", "dims", NULL };
static const char *const shipment_line_fields[] = { "line_no", "sku", "qty", NULL };

/* obj.key, when present, must be an array of objects with the given fields;
 * each is handed to check(). JSON null removes the key. */
static int want_objects(json_t *obj, const char *key, const char *const *fields,
                        int (*check)(json_t *el, const char *where, struct oh_err *err),
                        struct oh_err *err)
{
    json_t *arr = json_object_get(obj, key), *el;
    size_t i;
    char where[48];
    int rc;

    if (!arr)
        return 0;
    if (json_is_null(arr)) {
        json_object_del(obj, key);
        return 0;
    }
    if (!json_is_array(arr))
        return oh_err_set(err, OH_EINVAL, "%s: must be an array", key);
    json_array_foreach(arr, i, el) {
        snprintf(where, sizeof(where), "%s[%zu]", key, i);
        if (!json_is_object(el))
            return oh_err_set(err, OH_EINVAL, "%s: must be an object", where);
        if ((rc = check_keys_of(el, fields, where, "shipment", err)) < 0 ||
            (rc = check(el, where, err)) < 0)
            return rc;
    }
    return 0;
}

static int check_package(json_t *p, const char *where, struct oh_err *err)
{
    int rc;
    if ((rc = want_decimal(p, "weight", where, 0, err)) < 0)
        return rc;
    return want_string(p, "dims", where, 0, 64, err);
}

static int check_shipment_line(json_t *l, const char *where, struct oh_err *err)
{
    int rc;

    if ((rc = want_string(l, "sku", where, 0, 255, err)) < 0)
        return rc;
    if ((rc = want_qty_line_no(l, where, 0, err)) < 0)
        return rc;
    if (!json_object_get(l, "line_no") && !json_object_get(l, "sku"))
        return oh_err_set(err, OH_EINVAL,
                          "%s: names no order line (line_no or sku is required)", where);
    return 0;
}

/* obj.key, when present, must be an object of the given fields. */
static int want_object(json_t *obj, const char *key, const char *const *fields, json_t **out,
                       struct oh_err *err)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v && json_is_null(v)) {
        json_object_del(obj, key);
        v = NULL;
    }
    if (!v)
        return 0;
    if (!json_is_object(v))
        return oh_err_set(err, OH_EINVAL, "%s: must be an object", key);
    *out = v;
    return check_keys_of(v, fields, key, "shipment", err);
}

int oh_canonical_shipment_check(json_t *shipment, const char *channel, struct oh_err *err)
{
    static const struct {
        const char *key;
        size_t max;
    } strings[] = { { "carrier", 64 }, { "service", 128 }, { "tracking_number", 128 } };
    json_t *ref, *label;
    int rc;

    if (!json_is_object(shipment))
        return oh_err_set(err, OH_EINVAL, "a shipment must be a JSON object");
    if ((rc = check_keys_of(shipment, shipment_fields, "", "shipment", err)) < 0)
        return rc;
    json_object_set_new(shipment, "channel", json_string(channel));
    if ((rc = want_string(shipment, "external_id", "", 1, 255, err)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if ((rc = want_string(shipment, strings[i].key, "", 0, strings[i].max, err)) < 0)
            return rc;
    if ((rc = want_time(shipment, "shipped_at", "", err)) < 0)
        return rc;
    if ((rc = want_object(shipment, "order_ref", order_ref_fields, &ref, err)) < 0)
        return rc;
    if (!ref)
        return oh_err_set(err, OH_EINVAL, "order_ref.external_id: required but missing");
    if ((rc = want_string(ref, "external_id", "order_ref", 1, 255, err)) < 0 ||
        (rc = want_string(ref, "channel", "order_ref", 0, 64, err)) < 0 ||
        (rc = want_string(ref, "number", "order_ref", 0, 255, err)) < 0)
        return rc;
    if ((rc = want_object(shipment, "label", label_fields, &label, err)) < 0)
        return rc;
    if (label) {
        const char *f;
        if ((rc = want_string(label, "format", "label", 0, 8, err)) < 0 ||
            (rc = want_string(label, "path", "label", 0, 1024, err)) < 0)
            return rc;
        f = json_string_value(json_object_get(label, "format"));
        if (f && strcmp(f, "pdf") != 0 && strcmp(f, "zpl") != 0 && strcmp(f, "png") != 0)
            return oh_err_set(err, OH_EINVAL, "label.format: \"%.16s\" is not pdf, zpl or png", f);
    }
    if ((rc = want_objects(shipment, "packages", package_fields, check_package, err)) < 0)
        return rc;
    return want_objects(shipment, "lines", shipment_line_fields, check_shipment_line, err);
}

/* --- inventory ------------------------------------------------------ */

static const char *const inventory_fields[] = {
    "channel", "sku", "location", "on_hand", "reserved", "available", "updated_at", NULL,
};

/* Decimal string (checked by want_decimal) -> units of 1/10000. Quantities
 * of stock stay far below the 9e14 this allows; larger is refused. */
static int dec_units(const char *s, int64_t *out)
{
    int neg = *s == '-', frac = 0;
    int64_t v = 0;

    s += neg || *s == '+';
    for (; *s && *s != '.'; s++) {
        if (v > 90000000000000LL)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (*s == '.')
        for (s++; *s && frac < 4; s++, frac++)
            v = v * 10 + (*s - '0');
    for (; frac < 4; frac++)
        v *= 10;
    *out = neg ? -v : v;
    return 0;
}

static void units_dec(int64_t v, char out[32])
{
    int64_t a = v < 0 ? -v : v;
    int n = snprintf(out, 32, "%s%lld.%04lld", v < 0 ? "-" : "", (long long)(a / 10000),
                     (long long)(a % 10000));
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

int oh_canonical_inventory_check(json_t *inv, const char *channel, struct oh_err *err)
{
    static const char *const qty[] = { "on_hand", "reserved", "available", NULL };
    json_t *on_hand, *reserved;
    int rc;

    if (!json_is_object(inv))
        return oh_err_set(err, OH_EINVAL, "an inventory record must be a JSON object");
    if ((rc = check_keys_of(inv, inventory_fields, "", "inventory record", err)) < 0)
        return rc;
    json_object_set_new(inv, "channel", json_string(channel));
    if ((rc = want_string(inv, "sku", "", 1, 255, err)) < 0 ||
        (rc = want_string(inv, "location", "", 0, 128, err)) < 0 ||
        (rc = want_time(inv, "updated_at", "", err)) < 0)
        return rc;
    for (size_t i = 0; qty[i]; i++)
        if ((rc = want_decimal(inv, qty[i], "", 0, err)) < 0)
            return rc;
    on_hand = json_object_get(inv, "on_hand");
    reserved = json_object_get(inv, "reserved");
    if (!on_hand && !json_object_get(inv, "available"))
        return oh_err_set(err, OH_EINVAL, "on_hand or available: one of them is required");
    if (!json_object_get(inv, "available")) {
        /* available = on_hand - reserved, exactly */
        int64_t h, r = 0;
        char out[32];
        if (dec_units(json_string_value(on_hand), &h) < 0 ||
            (reserved && dec_units(json_string_value(reserved), &r) < 0))
            return oh_err_set(err, OH_EINVAL, "on_hand/reserved: too large for a stock quantity");
        units_dec(h - r, out);
        json_object_set_new(inv, "available", json_string(out));
    }
    return 0;
}

/* oh_canonical_hash: canonical_hash.c */

json_t *oh_node_to_canonical_json(const struct oh_node *n)
{
    json_t *j = NULL;

    switch (n->type) {
    case OH_NODE_NULL: return json_null();
    case OH_NODE_BOOL: return json_boolean(n->s && n->s[0] == 't');
    case OH_NODE_NUMBER:
    case OH_NODE_STRING: return json_stringn_nocheck(n->s, n->len);
    case OH_NODE_ARRAY:
        j = json_array();
        for (const struct oh_node *c = n->first; c; c = c->next)
            if (json_array_append_new(j, oh_node_to_canonical_json(c)) < 0)
                goto fail;
        return j;
    case OH_NODE_OBJECT:
        j = json_object();
        for (const struct oh_node *c = n->first; c; c = c->next)
            if (json_object_setn_new_nocheck(j, c->key, c->key_len, oh_node_to_canonical_json(c)) < 0)
                goto fail;
        return j;
    }
fail:
    json_decref(j);
    return NULL;
}
