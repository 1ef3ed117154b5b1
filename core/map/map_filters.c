/*
 * map_filters.c — the filter table and the value helpers that filters need:
 * exact decimals (never through a double), ISO-8601 and strptime-style
 * times, and country names to ISO 3166 alpha-2 codes.
 *
 * The application of filters to values is in map_eval.c, which owns the
 * evaluation context; everything here is pure.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canonical.h"
#include "arena.h"
#include "map/map_int.h"

static const struct filter_info filters[] = {
    {"str", F_STR, 0, 0, 0},         {"int", F_INT, 0, 0, 0},
    {"decimal", F_DECIMAL, 0, 2, 0}, {"number", F_NUMBER, 0, 0, 0},
    {"lower", F_LOWER, 0, 0, 0},     {"upper", F_UPPER, 0, 0, 0},
    {"trim", F_TRIM, 0, 0, 0},       {"required", F_REQUIRED, 0, 0, 0},
    {"default", F_DEFAULT, 1, 1, 0}, {"lookup", F_LOOKUP, 1, 1, 0},
    {"time", F_TIME, 0, 1, 0},       {"date", F_DATE, 0, 1, 0},
    {"split", F_SPLIT, 1, 1, 0},     {"join", F_JOIN, 0, 1, 1},
    {"first", F_FIRST, 0, 0, 1},     {"last", F_LAST, 0, 0, 1},
    {"len", F_LEN, 0, 0, 1},         {"concat", F_CONCAT, 1, -1, 0},
    {"substr", F_SUBSTR, 1, 2, 0},   {"replace", F_REPLACE, 2, 2, 0},
    {"cents", F_CENTS, 0, 0, 0},     {"country", F_COUNTRY, 0, 0, 0},
    {"neg", F_NEG, 0, 0, 0},         {"div", F_DIV, 1, 1, 0},
    {"add", F_ADD, 1, -1, 0},        {"when", F_WHEN, 1, 1, 0},
};

const struct filter_info *oh_map_filter_info(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (strlen(filters[i].name) == len && memcmp(filters[i].name, name, len) == 0)
            return &filters[i];
    return NULL;
}

int oh_map_filter_lists(enum filter_id id)
{
    /* the table above is in enum order */
    _Static_assert(sizeof(filters) / sizeof(filters[0]) == F_WHEN + 1, "filter table order");
    return filters[id].list_input;
}

int oh_map_val_empty(const struct val *v)
{
    return v->k == V_NONE || ((v->k == V_STR) && v->len == 0) || (v->k == V_LIST && v->n == 0);
}

#define MAX_DIGITS 64

int oh_map_decimal(struct oh_arena *a, const char *s, size_t len, int places, char mark,
                   const char **out)
{
    char ip[MAX_DIGITS + 2], fp[MAX_DIGITS + 2], *o;
    size_t ni = 0, nf = 0, i = 0;
    int neg = 0, any = 0, nonzero = 0;
    char group = mark == ',' ? '.' : 0;

    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < len; i++) {
        char c = s[i];
        if (isdigit((unsigned char)c)) {
            if (ni == MAX_DIGITS)
                return -1;
            if (!(ni == 0 && c == '0'))
                ip[ni++] = c;
            any = 1;
        } else if (group && (c == group || c == ' ') && any && i + 1 < len &&
                   isdigit((unsigned char)s[i + 1])) {
            continue;
        } else {
            break;
        }
    }
    if (i < len && s[i] == mark) {
        for (i++; i < len && isdigit((unsigned char)s[i]); i++) {
            if (nf == MAX_DIGITS)
                return -1;
            fp[nf++] = s[i];
            any = 1;
        }
    }
    if (i != len || !any)
        return -1;
    if (places >= 0) {
        if ((int)nf > places) {
            int up = fp[places] >= '5';
            nf = (size_t)places;
            for (size_t k = nf; up && k-- > 0;) {
                if (fp[k] == '9') {
                    fp[k] = '0';
                } else {
                    fp[k]++;
                    up = 0;
                }
            }
            for (size_t k = ni; up && k-- > 0;) {
                if (ip[k] == '9') {
                    ip[k] = '0';
                } else {
                    ip[k]++;
                    up = 0;
                }
            }
            if (up) {
                if (ni == MAX_DIGITS)
                    return -1;
                memmove(ip + 1, ip, ni++);
                ip[0] = '1';
            }
        }
        while ((int)nf < places)
            fp[nf++] = '0';
    }
    for (size_t k = 0; k < ni; k++)
        nonzero |= ip[k] != '0';
    for (size_t k = 0; k < nf; k++)
        nonzero |= fp[k] != '0';
    o = oh_arena_alloc(a, ni + nf + 4);
    *out = o;
    if (neg && nonzero)
        *o++ = '-';
    if (ni == 0)
        *o++ = '0';
    memcpy(o, ip, ni);
    o += ni;
    if (nf) {
        *o++ = '.';
        memcpy(o, fp, nf);
        o += nf;
    }
    *o = '\0';
    return 0;
}

/* "12.340" -> 12340 and scale 3. */
static int scaled(const char *s, __int128 *v, int *scale)
{
    __int128 x = 0;
    int neg = 0, sc = 0, frac = 0, any = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    for (; *s; s++) {
        if (*s == '.' && !frac) {
            frac = 1;
            continue;
        }
        if (!isdigit((unsigned char)*s) || sc > 18 || x > (__int128)1 << 100)
            return -1;
        x = x * 10 + (*s - '0');
        sc += frac;
        any = 1;
    }
    if (!any)
        return -1;
    *v = neg ? -x : x;
    *scale = sc;
    return 0;
}

int oh_map_decimal_div(struct oh_arena *a, const char *x, const char *y, const char **out)
{
    __int128 n, d, q, r;
    int sn, sd, neg;
    char buf[80], *o = buf + sizeof(buf) - 1;
    int digits = 0;

    if (scaled(x, &n, &sn) < 0 || scaled(y, &d, &sd) < 0)
        return -1;
    if (d == 0)
        return -2;
    /* n/10^sn / (d/10^sd) * 10^4 = n * 10^(4 + sd - sn) / d */
    for (int k = 0; k < 4 + sd; k++) {
        if (n > ((__int128)1 << 110) || n < -((__int128)1 << 110))
            return -3;
        n *= 10;
    }
    for (int k = 0; k < sn; k++) {
        if (d > ((__int128)1 << 110) || d < -((__int128)1 << 110))
            return -3;
        d *= 10;
    }
    neg = (n < 0) != (d < 0);
    if (n < 0)
        n = -n;
    if (d < 0)
        d = -d;
    q = n / d;
    r = n % d;
    if (r * 2 >= d)
        q++;
    *o = '\0';
    do {
        *--o = (char)('0' + (int)(q % 10));
        q /= 10;
        if (++digits == 4)
            *--o = '.';
    } while (q > 0 || digits < 5);
    if (neg && strspn(o, "0.") != strlen(o))
        *--o = '-';
    {
        size_t l = strlen(o);
        while (o[l - 1] == '0' && o[l - 3] != '.')
            o[--l] = '\0';
        *out = oh_arena_strndup(a, o, l);
    }
    return 0;
}

int oh_map_decimal_add(struct oh_arena *a, const char *x, const char *y, const char **out)
{
    __int128 n, m, q;
    int sn, sm, sc, neg;
    char buf[80], *o = buf + sizeof(buf) - 1;
    int digits = 0;

    if (scaled(x, &n, &sn) < 0 || scaled(y, &m, &sm) < 0)
        return -1;
    for (sc = sn; sc < sm; sc++)
        n *= 10;
    for (; sm < sc; sm++)
        m *= 10;
    q = n + m;
    if (q > ((__int128)1 << 110) || q < -((__int128)1 << 110))
        return -3;
    neg = q < 0;
    if (neg)
        q = -q;
    *o = '\0';
    do {
        *--o = (char)('0' + (int)(q % 10));
        q /= 10;
        if (++digits == sc)
            *--o = '.';
    } while (q > 0 || digits <= sc);
    if (neg && strspn(o, "0.") != strlen(o))
        *--o = '-';
    *out = oh_arena_strdup(a, o);
    return 0;
}

/* --- countries ------------------------------------------------------------ */

static const struct {
    const char *code;
    const char *names; /* '|'-separated, lower case */
} countries[] = {
    {"US", "usa|united states|united states of america|america|u s a|u s"},
    {"CA", "can|canada"},
    {"MX", "mex|mexico|méxico"},
    {"GB", "gbr|uk|united kingdom|great britain|england|scotland|wales|northern ireland"},
    {"IE", "irl|ireland|éire"},
    {"DE", "deu|ger|germany|deutschland|bundesrepublik deutschland"},
    {"AT", "aut|austria|österreich"},
    {"CH", "che|switzerland|schweiz|suisse|svizzera"},
    {"LI", "lie|liechtenstein"},
    {"FR", "fra|france"},
    {"IT", "ita|italy|italia"},
    {"ES", "esp|spain|españa"},
    {"PT", "prt|portugal"},
    {"NL", "nld|netherlands|the netherlands|nederland|holland"},
    {"BE", "bel|belgium|belgië|belgique|belgien"},
    {"LU", "lux|luxembourg|luxemburg"},
    {"DK", "dnk|denmark|danmark|dänemark"},
    {"SE", "swe|sweden|sverige|schweden"},
    {"NO", "nor|norway|norge"},
    {"FI", "fin|finland|suomi"},
    {"IS", "isl|iceland|ísland"},
    {"PL", "pol|poland|polska|polen"},
    {"CZ", "cze|czech republic|czechia|česko|tschechien"},
    {"SK", "svk|slovakia|slovensko"},
    {"HU", "hun|hungary|magyarország|ungarn"},
    {"SI", "svn|slovenia|slovenija"},
    {"HR", "hrv|croatia|hrvatska|kroatien"},
    {"RO", "rou|romania|românia"},
    {"BG", "bgr|bulgaria"},
    {"GR", "grc|greece|hellas"},
    {"EE", "est|estonia|eesti"},
    {"LV", "lva|latvia|latvija"},
    {"LT", "ltu|lithuania|lietuva"},
    {"TR", "tur|turkey|türkiye"},
    {"RU", "rus|russia|russian federation"},
    {"UA", "ukr|ukraine"},
    {"AU", "aus|australia"},
    {"NZ", "nzl|new zealand"},
    {"JP", "jpn|japan"},
    {"CN", "chn|china|people's republic of china"},
    {"HK", "hkg|hong kong"},
    {"TW", "twn|taiwan"},
    {"KR", "kor|south korea|korea|republic of korea"},
    {"SG", "sgp|singapore"},
    {"IN", "ind|india"},
    {"AE", "are|uae|united arab emirates"},
    {"SA", "sau|saudi arabia"},
    {"IL", "isr|israel"},
    {"ZA", "zaf|south africa"},
    {"BR", "bra|brazil|brasil"},
    {"AR", "arg|argentina"},
    {"CL", "chl|chile"},
    {"CO", "col|colombia"},
    {"PR", "pri|puerto rico"},
};

/* Lower-cases ASCII and the Latin-1 letters À-Þ (UTF-8 C3 80-9E), drops
 * dots, squeezes blanks. */
static size_t fold(const char *s, size_t len, char *o, size_t cap)
{
    size_t n = 0;
    int space = 0;
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    for (size_t i = 0; i < len && n + 2 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' || c == ',')
            continue;
        if (isspace(c)) {
            space = 1;
            continue;
        }
        if (space && n)
            o[n++] = ' ';
        space = 0;
        if (c == 0xC3 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9E && (unsigned char)s[i + 1] != 0x97) {
            o[n++] = (char)c;
            o[n++] = (char)((unsigned char)s[++i] + 0x20);
            continue;
        }
        if (c == 0xC5 && i + 1 < len && (unsigned char)s[i + 1] == 0x8C) { /* Č -> č */
            o[n++] = (char)c;
            o[n++] = (char)0x8D;
            i++;
            continue;
        }
        o[n++] = (char)tolower(c);
    }
    o[n] = '\0';
    return n;
}

int oh_map_country(const char *s, size_t len, char out[3])
{
    char f[96];
    size_t n = fold(s, len, f, sizeof(f));

    for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]); i++) {
        const char *p = countries[i].names;
        while (*p) {
            const char *e = strchr(p, '|');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == n && memcmp(p, f, n) == 0) {
                memcpy(out, countries[i].code, 3);
                return 0;
            }
            p += l + (e ? 1 : 0);
        }
    }
    if (n == 2 && isalpha((unsigned char)f[0]) && isalpha((unsigned char)f[1])) {
        out[0] = (char)toupper((unsigned char)f[0]);
        out[1] = (char)toupper((unsigned char)f[1]);
        out[2] = '\0';
        return 0;
    }
    return -1;
}

/* --- time ---------------------------------------------------------------- */

static int num(const char **p, int n, int *out)
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

static int mdays(int y, int m)
{
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : md[m - 1];
}

static int iso(const char *s, int64_t *ms, int *has_frac)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, msec = 0, off = 0;

    while (isspace((unsigned char)*p))
        p++;
    if (num(&p, 4, &y) || *p++ != '-' || num(&p, 2, &mo) || *p++ != '-' || num(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo))
        return -1;
    if ((*p == 'T' || *p == 't' || *p == ' ') && isdigit((unsigned char)p[1])) {
        p++;
        if (num(&p, 2, &h) || *p++ != ':' || num(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (num(&p, 2, &sec))
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
                if (!n)
                    return -1;
                for (; n < 3; n++)
                    msec *= 10;
                *has_frac = 1;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (strncmp(p, "UTC", 3) == 0 || strncmp(p, "GMT", 3) == 0) {
            p += 3;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (num(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && num(&p, 2, &om))
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 60 + om);
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -1;
    *ms = ((oh_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off * 60) *
              1000 + msec;
    return 0;
}

int oh_map_time(const char *s, const char *fmt, int64_t *ms, int *has_frac)
{
    struct tm tm;
    const char *end;
    int y, mo, d;

    *has_frac = 0;
    if (!fmt)
        return iso(s, ms, has_frac);
    memset(&tm, 0, sizeof(tm));
    tm.tm_mday = 1;
    if (!(end = strptime(s, fmt, &tm)))
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    y = tm.tm_year + 1900;
    mo = tm.tm_mon + 1;
    d = tm.tm_mday;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo) || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    *ms = (oh_days_from_civil(y, mo, d) * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec -
           (strstr(fmt, "%z") ? tm.tm_gmtoff : 0)) *
          1000;
    return 0;
}
