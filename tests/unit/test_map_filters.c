/* test_map_filters.c — every filter of the mapping language, its error
 * message, and the exact-decimal, time and country helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "arena.h"
#include "map/map_int.h"
#include "test_map_util.h"

/* Runs `out = EXPR` on the JSON document doc; returns the record (or the
 * {"$error"} object), owned by the caller. */
static json_t *one(const char *expr, const char *doc)
{
    char map[1024];
    json_t *arr, *r;
    snprintf(map, sizeof(map),
             "from json\nto json\nout = %s\n"
             "table t\n  a => A\n  \"b c\" => \"B C\"\n  empty => \"\"\nend\n"
             "table d\n  a => A\n  * => other\nend\n",
             expr);
    arr = mt_run(map, doc);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 1);
    r = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return r;
}

#define DOC                                                                                       \
    "{\"s\":\"  Hello World  \",\"e\":\"Mixed@Example.COM\",\"n\":\"19.90\",\"i\":\"42\","         \
    "\"num\":7,\"big\":\"123456789012345678901234567890.123\",\"neg\":\"-4.99\","                 \
    "\"f\":\"2.00\",\"x\":\"x\",\"t\":\"2026-11-23T10:30:00+01:00\",\"tf\":\"2026-11-23T09:30:00.5Z\","\
    "\"de\":\"23.11.2026\",\"tags\":\"a, b ,c\",\"list\":[\"p\",\"q\",\"r\"],\"cents\":\"1234\","    \
    "\"ncents\":\"-5\",\"c1\":\"Deutschland\",\"c2\":\"united states\",\"c3\":\"usa\",\"c4\":\"gb\","\
    "\"c5\":\"\\u00d6sterreich\",\"c6\":\"DEU\",\"c7\":\"Narnia\",\"u\":\"M\\u00fcnchen\","           \
    "\"dc\":\"1.234,50\",\"empty\":\"\",\"nul\":null,\"obj\":{\"k\":1},\"q\":\"3\",\"zero\":\"0\"}"

struct fcase {
    const char *expr, *want; /* want: the JSON value of "out", or NULL for "not set" */
};

static void test_filters(void **state)
{
    static const struct fcase cases[] = {
        {".num | str", "\"7\""},
        {".i | int", "42"},
        {".f | int", "2"},
        {".num | int", "7"},
        {".n | decimal", "\"19.90\""},
        {".n | decimal(1)", "\"19.9\""},
        {".n | decimal(4)", "\"19.9000\""},
        {".num | decimal(2)", "\"7.00\""},
        {".big | decimal", "\"123456789012345678901234567890.123\""},
        {".dc | decimal(\",\")", "\"1234.50\""},
        {".dc | decimal(2, \",\")", "\"1234.50\""},
        /* records are jansson objects: a non-integer number stays an exact
         * string there (rendered documents write it bare, see test_map_lang) */
        {".n | number", "\"19.90\""},
        {".num | number", "7"},
        {".e | lower", "\"mixed@example.com\""},
        {".e | upper", "\"MIXED@EXAMPLE.COM\""},
        {".s | trim", "\"Hello World\""},
        {".i | required", "\"42\""},
        {".nope | default(\"d\")", "\"d\""},
        {".empty | default(.i)", "\"42\""},
        {".nul | default(5)", "\"5\""},
        {".i | default(\"d\")", "\"42\""},
        {"\"a\" | lookup(t)", "\"A\""},
        {"\"b c\" | lookup(t)", "\"B C\""},
        {"\"empty\" | lookup(t) | default(\"fallback\")", "\"fallback\""},
        {"\"zz\" | lookup(d)", "\"other\""},
        {".nope | lookup(t)", NULL},
        {".t | time", "\"2026-11-23T09:30:00Z\""},
        {".tf | time", "\"2026-11-23T09:30:00.500Z\""},
        {".de | time(\"%d.%m.%Y\")", "\"2026-11-23T00:00:00Z\""},
        {"\"2026-11-23 10:30 +0100\" | time(\"%Y-%m-%d %H:%M %z\")", "\"2026-11-23T09:30:00Z\""},
        {"\"2026-11-23\" | time", "\"2026-11-23T00:00:00Z\""},
        {"\"2025-03-10 10:04:16 -0500\" | time", "\"2025-03-10T15:04:16Z\""},
        {".t | date", "\"2026-11-23\""},
        {".de | date(\"%d.%m.%Y\")", "\"2026-11-23\""},
        {".tags | split(\",\")", "[\"a\",\"b\",\"c\"]"},
        {".tags | split(\",\") | upper", "[\"A\",\"B\",\"C\"]"},
        {".tags | split(\",\") | join(\"+\")", "\"a+b+c\""},
        {".list[] | join(\"-\")", "\"p-q-r\""},
        {".list[] | join", "\"p,q,r\""},
        {".list[] | first", "\"p\""},
        {".list[] | last", "\"r\""},
        {".list[] | len", "3"},
        {".list | len", "3"},
        {".u | len", "7"},
        {".nope[] | len", "0"},
        {".list[] | last | upper", "\"R\""},
        {".x | concat(\"-\", .i, \"-\", 1)", "\"x-42-1\""},
        {".nope | concat(\" \", .nope2)", NULL},
        {".nope | concat(\" \", .x)", "\" x\""},
        {".u | substr(0, 3)", "\"M\\u00fcn\""},
        {".u | substr(3)", "\"chen\""},
        {".u | substr(-4)", "\"chen\""},
        {".s | replace(\"l\", \"L\")", "\"  HeLLo WorLd  \""},
        {".s | replace(\" \", \"\")", "\"HelloWorld\""},
        {".cents | cents", "\"12.34\""},
        {".ncents | cents", "\"-0.05\""},
        {".c1 | country", "\"DE\""},
        {".c2 | country", "\"US\""},
        {".c3 | country", "\"US\""},
        {".c4 | country", "\"GB\""},
        {".c5 | country", "\"AT\""},
        {".c6 | country", "\"DE\""},
        {"\"U.S.A.\" | country", "\"US\""},
        {"\"UK\" | country", "\"GB\""},
        {".neg | neg", "\"4.99\""},
        {".n | neg", "\"-19.90\""},
        {".zero | neg", "\"0\""},
        {".n | div(2)", "\"9.95\""},
        {".n | div(.q)", "\"6.6333\""},
        {".empty | int", NULL},
        {".nope | upper", NULL},
        {"\"\" | required | default(1)", "ERR"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = one(cases[i].expr, DOC), *v = json_object_get(r, "out"), *w;
        if (strcmp(cases[i].want ? cases[i].want : "", "ERR") == 0) {
            if (!json_object_get(r, "$error"))
                fail_msg("%s: expected an error", cases[i].expr);
        } else if (!cases[i].want) {
            if (v || json_object_get(r, "$error")) {
                char *g = json_dumps(r, JSON_COMPACT);
                fail_msg("%s: expected nothing, got %s", cases[i].expr, g);
            }
        } else {
            w = json_loads(cases[i].want, JSON_DECODE_ANY, NULL);
            assert_non_null(w);
            if (!v || !json_equal(v, w)) {
                char *g = json_dumps(r, JSON_COMPACT);
                fail_msg("%s: got %s, wanted %s", cases[i].expr, g, cases[i].want);
            }
            json_decref(w);
        }
        json_decref(r);
    }
}

static void test_filter_errors(void **state)
{
    static const struct fcase cases[] = {
        {".x | int", "$.x: \"x\" is not an integer (t/test.map:3)"},
        {".n | int", "$.n: \"19.90\" is not an integer (t/test.map:3)"},
        {".x | decimal", "$.x: \"x\" is not a decimal number (t/test.map:3)"},
        {".dc | decimal", "$.dc: \"1.234,50\" is not a decimal number (t/test.map:3)"},
        {".x | number", "$.x: \"x\" is not a decimal number (t/test.map:3)"},
        {".x | time", "$.x: \"x\" is not a time (expected ISO-8601) (t/test.map:3)"},
        {"\"2026-02-30\" | time", "$: \"2026-02-30\" is not a time (expected ISO-8601) (t/test.map:3)"},
        {".t | time(\"%d.%m.%Y\")", "$.t: \"2026-11-23T10:30:00+01:00\" is not a time (expected %d.%m.%Y) (t/test.map:3)"},
        {"\"31.02.2026\" | date(\"%d.%m.%Y\")", "is not a date (expected %d.%m.%Y)"},
        {".x | lookup(t)", "$.x: \"x\" is not in table t (t/test.map:3)"},
        {".c7 | country", "$.c7: \"Narnia\" is not a known country (t/test.map:3)"},
        {".n | cents", "$.n: \"19.90\" is not a whole number of cents (t/test.map:3)"},
        {".nope | required", "$.nope: required value is missing (t/test.map:3)"},
        {".empty | required", "$.empty: required value is empty (t/test.map:3)"},
        {".nul | required", "$.nul: required value is empty (t/test.map:3)"},
        {".obj | upper", "$.obj: upper: is an object, not a value (t/test.map:3)"},
        {".n | div(.zero)", "$.zero: division by zero (t/test.map:3)"},
        {".n | div(.nope)", "div: the divisor is missing"},
        {".list | concat(\"x\")", "concat: an object is not text"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = one(cases[i].expr, DOC);
        const char *msg = json_string_value(json_object_get(r, "$error"));
        if (!msg || !strstr(msg, cases[i].want))
            fail_msg("%s: got \"%s\", wanted \"%s\"", cases[i].expr, msg ? msg : "(no error)",
                     cases[i].want);
        json_decref(r);
    }
}

static void test_decimal_helper(void **state)
{
    static const struct {
        const char *in;
        int places;
        char mark;
        const char *out;
    } cases[] = {
        {"19.90", -1, '.', "19.90"}, {"007.50", -1, '.', "7.50"}, {".5", -1, '.', "0.5"},
        {"5.", -1, '.', "5"},        {"+3", -1, '.', "3"},        {"-0.00", -1, '.', "0.00"},
        {" 12 ", -1, '.', "12"},     {"1.005", 2, '.', "1.01"},   {"1.004", 2, '.', "1.00"},
        {"-1.005", 2, '.', "-1.01"}, {"-0.004", 2, '.', "0.00"},  {"999.995", 2, '.', "1000.00"},
        {"9.5", 0, '.', "10"},       {"1.234,5", 2, ',', "1234.50"}, {"12,5", -1, ',', "12.5"},
        {"1 234,5", -1, ',', "1234.5"},
    };
    static const char *bad[] = {"", "-", ".", "1,5", "1.2.3", "1e3", "abc", "1 2", "0x10"};
    struct oh_arena *a = oh_arena_new(0);
    const char *out;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(oh_map_decimal(a, cases[i].in, strlen(cases[i].in), cases[i].places,
                                        cases[i].mark, &out),
                         0);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("%s (%d): got %s, wanted %s", cases[i].in, cases[i].places, out, cases[i].out);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (oh_map_decimal(a, bad[i], strlen(bad[i]), -1, '.', &out) == 0)
            fail_msg("\"%s\" accepted as %s", bad[i], out);
    assert_int_equal(oh_map_decimal_div(a, "1", "3", &out), 0);
    assert_string_equal(out, "0.3333");
    assert_int_equal(oh_map_decimal_div(a, "2", "3", &out), 0);
    assert_string_equal(out, "0.6667");
    assert_int_equal(oh_map_decimal_div(a, "24.68", "2", &out), 0);
    assert_string_equal(out, "12.34");
    assert_int_equal(oh_map_decimal_div(a, "-10", "4", &out), 0);
    assert_string_equal(out, "-2.50");
    assert_int_equal(oh_map_decimal_div(a, "1", "0.00", &out), -2);
    oh_arena_free(a);
}

static void test_time_helper(void **state)
{
    int64_t ms;
    int frac;
    (void)state;
    assert_int_equal(oh_map_time("1970-01-01T00:00:00Z", NULL, &ms, &frac), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(oh_map_time("2024-02-29T23:59:60.999+00:00", NULL, &ms, &frac), 0);
    assert_int_equal(frac, 1);
    assert_int_equal(oh_map_time("2000-01-01T01:00:00+0100", NULL, &ms, &frac), 0);
    assert_int_equal(ms, 946684800000LL);
    assert_int_equal(oh_map_time("2000-01-01T00:00:00-05", NULL, &ms, &frac), 0);
    assert_int_equal(ms, 946702800000LL);
    assert_int_not_equal(oh_map_time("2023-02-29", NULL, &ms, &frac), 0);
    assert_int_not_equal(oh_map_time("2023-01-01T24:00:00Z", NULL, &ms, &frac), 0);
    assert_int_not_equal(oh_map_time("2023-01-01T10:00:00Zjunk", NULL, &ms, &frac), 0);
    assert_int_not_equal(oh_map_time("1.569521782042E9", NULL, &ms, &frac), 0);
    assert_int_equal(oh_map_time("03/10/2025 10:04 PM", "%m/%d/%Y %I:%M %p", &ms, &frac), 0);
    assert_int_equal(ms, 1741644240000LL);
}

static void test_country_helper(void **state)
{
    char cc[3];
    (void)state;
    assert_int_equal(oh_map_country("  Schweiz ", 10, cc), 0);
    assert_string_equal(cc, "CH");
    assert_int_equal(oh_map_country("THE NETHERLANDS", 15, cc), 0);
    assert_string_equal(cc, "NL");
    assert_int_equal(oh_map_country("\xc3\x96STERREICH", 11, cc), 0);
    assert_string_equal(cc, "AT");
    assert_int_equal(oh_map_country("fr", 2, cc), 0);
    assert_string_equal(cc, "FR");
    assert_int_equal(oh_map_country("Atlantis", 8, cc), -1);
    assert_int_equal(oh_map_country("1A", 2, cc), -1);
}

/* lower/upper on UTF-8: Latin-1, Latin Extended-A, Romanian Ș/Ț, Greek,
 * Cyrillic; everything else as it was. */
static void check_case(const char *in, const char *lo, const char *up)
{
    char doc[512];
    json_t *r;
    snprintf(doc, sizeof(doc), "{\"s\":\"%s\"}", in);
    r = one(".s | lower", doc);
    assert_string_equal(json_string_value(json_object_get(r, "out")), lo);
    json_decref(r);
    r = one(".s | upper", doc);
    assert_string_equal(json_string_value(json_object_get(r, "out")), up);
    json_decref(r);
}

static size_t put_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static void test_case_utf8(void **state)
{
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E}, {0xA0, 0x17F}, {0x200, 0x21F}, {0x222, 0x233},
        {0x386, 0x3CE}, {0x3D8, 0x3EF}, {0x400, 0x52F},
    };
    locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    (void)state;
    check_case("M\xc3\xbcnchen \xc3\x96STERREICH", "m\xc3\xbcnchen \xc3\xb6sterreich",
               "M\xc3\x9cNCHEN \xc3\x96STERREICH");
    check_case("Stra\xc3\x9f" "e", "stra\xc3\x9f" "e", "STRA\xc3\x9f" "E"); /* ß stays */
    check_case("\xc5\x81\xc3\xb3\x64\xc5\xba \xc8\x98\x74\x69\x72\x62\x65\xc8\x9b",
               "\xc5\x82\xc3\xb3\x64\xc5\xba \xc8\x99\x74\x69\x72\x62\x65\xc8\x9b",
               "\xc5\x81\xc3\x93\x44\xc5\xb9 \xc8\x98\x54\x49\x52\x42\x45\xc8\x9a"); /* Łódź Știrbeț */
    check_case("\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xcf\x82", /* Αθήνα ς */
               "\xce\xb1\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xcf\x82",
               "\xce\x91\xce\x98\xce\x89\xce\x9d\xce\x91 \xce\xa3");
    check_case("\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 \xd0\x81", /* Москва Ё */
               "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 \xd1\x91",
               "\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90 \xd0\x81");
    check_case("\xe2\x82\xac \xe4\xb8\xad x", "\xe2\x82\xac \xe4\xb8\xad x", "\xe2\x82\xac \xe4\xb8\xad X");
    check_case("\xc3\xbf\xc4\xb0\xc4\xb1\xc5\xbf", "\xc3\xbf" "i\xc4\xb1\xc5\xbf",
               "\xc5\xb8\xc4\xb0IS"); /* ÿ İ ı ſ */
    if (!loc) {
        skip(); /* no C.UTF-8 locale to compare every character with */
        return;
    }
    /* every character of the covered ranges as towlower/towupper has it */
    for (int up = 0; up < 2; up++) {
        char in[4096], want[4096], map[128];
        size_t il = 0, wl = 0;
        struct oh_map *m = NULL;
        struct oh_err err = {0};
        json_t *doc = json_object(), *arr = json_array(), *got;
        char *text;
        for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
            for (uint32_t c = ranges[r][0]; c <= ranges[r][1]; c++) {
                if (c == '"' || c == '\\')
                    continue;
                il += put_cp(in + il, c);
                wl += put_cp(want + wl, (uint32_t)(up ? towupper_l((wint_t)c, loc) : towlower_l((wint_t)c, loc)));
            }
        json_object_set_new(doc, "s", json_stringn(in, il));
        text = json_dumps(doc, 0);
        snprintf(map, sizeof(map), "from json\nto json\nout = .s | %s\n", up ? "upper" : "lower");
        assert_int_equal(oh_map_compile(map, strlen(map), "t/case.map", &m, &err), 0);
        assert_int_equal(oh_map_run(m, text, strlen(text), NULL, mt_collect, arr, &err), 0);
        got = json_object_get(json_array_get(arr, 0), "out");
        assert_int_equal(json_string_length(got), wl);
        assert_memory_equal(json_string_value(got), want, wl);
        oh_map_free(m);
        free(text);
        json_decref(arr);
        json_decref(doc);
    }
    freelocale(loc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_decimal_helper),
        cmocka_unit_test(test_time_helper),
        cmocka_unit_test(test_country_helper),
        cmocka_unit_test(test_case_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
