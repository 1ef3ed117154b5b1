/* order_gen.c — see order_gen.h. */
#include "order_gen.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const first_names[] = {
    "Anna", "Jonas", "Lea", "Lukas", "Marie", "Felix", "Sophie", "Paul", "Emma", "Leon",
    "Mia", "Noah", "Hannah", "Elias", "Clara", "Ben", "Ida", "Finn", "Greta", "Karl",
};
static const char *const last_names[] = {
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
};
static const char *const streets[] = {
    "Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schulstraße",
    "Am Markt", "Bergstraße", "Kirchplatz", "Rosenweg", "Friedrichstraße",
};
static const struct {
    const char *city, *region, *postal_prefix;
} cities[] = {
    { "Berlin", "Berlin", "10" },         { "Hamburg", "Hamburg", "20" },
    { "München", "Bayern", "80" },        { "Köln", "Nordrhein-Westfalen", "50" },
    { "Frankfurt am Main", "Hessen", "60" }, { "Stuttgart", "Baden-Württemberg", "70" },
    { "Leipzig", "Sachsen", "04" },       { "Dresden", "Sachsen", "01" },
};
static const char *const companies[] = { "", "Nordlicht GmbH", "Bäckerei Sonne", "",
                                         "Müller & Söhne KG", "", "Atelier Blau", "" };
static const struct {
    const char *title, *sku;
} products[] = {
    { "Merino wool socks, anthracite, size 42-44", "SOCK-MER" },
    { "Organic cotton T-shirt, navy, M", "TS-ORG" },
    { "Stainless steel water bottle 750 ml", "BTL-750" },
    { "Ceramic coffee mug \"Morning\" 350 ml", "MUG-350" },
    { "Linen tea towel set (3 pieces)", "TOWEL-LIN" },
    { "Beeswax food wraps, assorted", "WRAP-BEE" },
    { "Bamboo cutting board 40 x 25 cm", "BOARD-BAM" },
    { "Scented candle, cedar & vetiver", "CANDLE-CED" },
    { "Leather card holder, cognac", "CARD-LEA" },
    { "Wool beanie, forest green", "HAT-WOOL" },
};
static const char *const ship_methods[] = { "DHL Paket", "DPD Classic", "Hermes Standard",
                                            "UPS Standard", "GLS Business" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned pick(uint64_t *s, unsigned n)
{
    return (unsigned)(splitmix(s) % n);
}

static void money(long long cents, char out[24])
{
    snprintf(out, 24, "%s%lld.%02lld", cents < 0 ? "-" : "", (cents < 0 ? -cents : cents) / 100,
             (cents < 0 ? -cents : cents) % 100);
}

/* EAN-13 with a correct check digit. */
static void gtin13(uint64_t v, char out[16])
{
    char d[14];
    int sum = 0;

    snprintf(d, sizeof(d), "400%09llu", (unsigned long long)(v % 1000000000ull));
    for (int k = 0; k < 12; k++)
        sum += (d[k] - '0') * (k % 2 ? 3 : 1);
    snprintf(out, 16, "%s%d", d, (10 - sum % 10) % 10);
}

static void make_addr(uint64_t *s, const char *name, const char *email, int billing,
                      struct bench_addr *a)
{
    unsigned c = pick(s, COUNT(cities));

    snprintf(a->name, sizeof(a->name), "%s", name);
    snprintf(a->company, sizeof(a->company), "%s", billing ? companies[pick(s, COUNT(companies))] : "");
    snprintf(a->line1, sizeof(a->line1), "%s %u", streets[pick(s, COUNT(streets))], 1 + pick(s, 180));
    if (pick(s, 4) == 0)
        snprintf(a->line2, sizeof(a->line2), "%u. OG links", 1 + pick(s, 5));
    else
        a->line2[0] = '\0';
    snprintf(a->city, sizeof(a->city), "%s", cities[c].city);
    snprintf(a->region, sizeof(a->region), "%s", cities[c].region);
    snprintf(a->postal_code, sizeof(a->postal_code), "%s%03u", cities[c].postal_prefix, pick(s, 1000));
    snprintf(a->country, sizeof(a->country), "DE");
    snprintf(a->phone, sizeof(a->phone), "+49 30 %07u", pick(s, 10000000));
    snprintf(a->email, sizeof(a->email), "%s", billing ? email : "");
}

void bench_order_make(uint64_t seed, uint64_t i, struct bench_order *o)
{
    uint64_t s = seed * 0x100000001B3ull ^ (i + 1) * 0xD6E8FEB86659FD93ull;
    const char *fn = first_names[pick(&s, COUNT(first_names))];
    const char *ln = last_names[pick(&s, COUNT(last_names))];
    long long sub = 0, tax = 0, disc = 0, ship;
    /* placed within November 2026, updated a few minutes later */
    int64_t base = 1793491200; /* 2026-11-01T00:00:00Z */

    memset(o, 0, sizeof(*o));
    snprintf(o->external_id, sizeof(o->external_id), "BN-%" PRIu64 "-%09" PRIu64, seed, i);
    snprintf(o->number, sizeof(o->number), "#%" PRIu64, 100000 + i);
    snprintf(o->status, sizeof(o->status), "%s", pick(&s, 5) ? "accepted" : "pending");
    snprintf(o->currency, sizeof(o->currency), "EUR");
    o->placed_at = base + (int64_t)pick(&s, 29 * 86400);
    o->updated_at = o->placed_at + 60 + (int64_t)pick(&s, 3600);
    snprintf(o->po_number, sizeof(o->po_number), "%s", pick(&s, 3) == 0 ? "PO-2026-" : "");
    if (o->po_number[0])
        snprintf(o->po_number + 8, sizeof(o->po_number) - 8, "%05u", pick(&s, 100000));
    if (pick(&s, 4) == 0)
        snprintf(o->notes, sizeof(o->notes), "Bitte beim Nachbarn abgeben, falls niemand öffnet.");
    snprintf(o->cust_ext, sizeof(o->cust_ext), "C-%07u", pick(&s, 5000000));
    snprintf(o->cust_name, sizeof(o->cust_name), "%s %s", fn, ln);
    snprintf(o->cust_email, sizeof(o->cust_email), "%c.%s%u@example.com", fn[0] | 0x20,
             pick(&s, 2) ? "kunde" : "shop", pick(&s, 100000));
    snprintf(o->cust_phone, sizeof(o->cust_phone), "+49 151 %08u", pick(&s, 100000000));
    snprintf(o->ship_method, sizeof(o->ship_method), "%s", ship_methods[pick(&s, COUNT(ship_methods))]);
    make_addr(&s, o->cust_name, o->cust_email, 1, &o->bill_to);
    if (pick(&s, 3) == 0)
        make_addr(&s, o->cust_name, "", 0, &o->ship_to);
    else {
        o->ship_to = o->bill_to;
        o->ship_to.email[0] = '\0';
        o->ship_to.company[0] = '\0';
    }

    for (int k = 0; k < BENCH_LINES; k++) {
        struct bench_line *l = &o->lines[k];
        unsigned p = pick(&s, COUNT(products));
        long long price = 299 + (long long)pick(&s, 7000), qty = 1 + pick(&s, 4);
        long long d = pick(&s, 5) == 0 ? price * qty / 10 : 0;
        long long t = ((price * qty - d) * 19 + 50) / 100; /* 19 % VAT, rounded */

        l->line_no = k + 1;
        snprintf(l->external_id, sizeof(l->external_id), "%s-L%d", o->external_id, k + 1);
        snprintf(l->sku, sizeof(l->sku), "%s-%02u", products[p].sku, pick(&s, 40));
        gtin13(splitmix(&s), l->gtin);
        snprintf(l->title, sizeof(l->title), "%s", products[p].title);
        snprintf(l->qty, sizeof(l->qty), "%lld", qty);
        snprintf(l->uom, sizeof(l->uom), "EA");
        money(price, l->unit_price);
        money(t, l->tax);
        money(d, l->discount);
        sub += price * qty;
        tax += t;
        disc += d;
    }
    ship = sub >= 5000 ? 0 : 490;
    money(sub, o->subtotal);
    money(ship, o->shipping_total);
    money(tax, o->tax_total);
    money(disc, o->discount_total);
    money(sub + ship + tax - disc, o->total);
}

void bench_time_iso(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void bench_time_sql(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S.000", &tm);
}

/* ---- JSON writer ------------------------------------------------------------------ */

struct jw {
    char *buf;
    size_t n, at;
    int over;
};

static void raw(struct jw *w, const char *s)
{
    size_t l = strlen(s);

    if (w->at + l + 1 > w->n) {
        w->over = 1;
        return;
    }
    memcpy(w->buf + w->at, s, l);
    w->at += l;
}

static void str(struct jw *w, const char *s)
{
    char esc[8];

    raw(w, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            esc[2] = '\0';
        } else if (*p < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            esc[1] = '\0';
        }
        raw(w, esc);
    }
    raw(w, "\"");
}

/* ,"key":"value" — skipped when value is empty (an absent optional field). */
static void kv(struct jw *w, int *first, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    raw(w, *first ? "" : ",");
    *first = 0;
    str(w, key);
    raw(w, ":");
    str(w, val);
}

static void addr(struct jw *w, const char *key, const struct bench_addr *a)
{
    int first = 1;

    raw(w, ",");
    str(w, key);
    raw(w, ":{");
    kv(w, &first, "name", a->name);
    kv(w, &first, "company", a->company);
    kv(w, &first, "line1", a->line1);
    kv(w, &first, "line2", a->line2);
    kv(w, &first, "city", a->city);
    kv(w, &first, "region", a->region);
    kv(w, &first, "postal_code", a->postal_code);
    kv(w, &first, "country", a->country);
    kv(w, &first, "phone", a->phone);
    kv(w, &first, "email", a->email);
    raw(w, "}");
}

size_t bench_order_json(const struct bench_order *o, char *buf, size_t n)
{
    struct jw w = { buf, n, 0, 0 };
    char t[2][32], num[16];
    int first = 1;

    bench_time_iso(o->placed_at, t[0]);
    bench_time_iso(o->updated_at, t[1]);
    raw(&w, "{");
    kv(&w, &first, "external_id", o->external_id);
    kv(&w, &first, "number", o->number);
    kv(&w, &first, "status", o->status);
    kv(&w, &first, "placed_at", t[0]);
    kv(&w, &first, "updated_at", t[1]);
    kv(&w, &first, "currency", o->currency);
    kv(&w, &first, "subtotal", o->subtotal);
    kv(&w, &first, "shipping_total", o->shipping_total);
    kv(&w, &first, "tax_total", o->tax_total);
    kv(&w, &first, "discount_total", o->discount_total);
    kv(&w, &first, "total", o->total);
    kv(&w, &first, "po_number", o->po_number);
    kv(&w, &first, "notes", o->notes);
    raw(&w, ",\"customer\":{");
    first = 1;
    kv(&w, &first, "external_id", o->cust_ext);
    kv(&w, &first, "email", o->cust_email);
    kv(&w, &first, "name", o->cust_name);
    kv(&w, &first, "phone", o->cust_phone);
    raw(&w, "}");
    addr(&w, "bill_to", &o->bill_to);
    addr(&w, "ship_to", &o->ship_to);
    first = 0;
    kv(&w, &first, "ship_method", o->ship_method);
    raw(&w, ",\"lines\":[");
    for (int k = 0; k < BENCH_LINES; k++) {
        const struct bench_line *l = &o->lines[k];

        raw(&w, k ? ",{" : "{");
        snprintf(num, sizeof(num), "%d", l->line_no);
        raw(&w, "\"line_no\":");
        raw(&w, num);
        first = 0;
        kv(&w, &first, "external_id", l->external_id);
        kv(&w, &first, "sku", l->sku);
        kv(&w, &first, "gtin", l->gtin);
        kv(&w, &first, "title", l->title);
        kv(&w, &first, "qty", l->qty);
        kv(&w, &first, "uom", l->uom);
        kv(&w, &first, "unit_price", l->unit_price);
        kv(&w, &first, "tax", l->tax);
        kv(&w, &first, "discount", l->discount);
        raw(&w, "}");
    }
    raw(&w, "]}");
    if (w.over)
        return 0;
    buf[w.at] = '\0';
    return w.at;
}
