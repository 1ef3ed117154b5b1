/*
 * test_core_canonical_hash.c — oh_canonical_hash hashes exactly the text of
 * json_dumps(order, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII), so
 * content hashes stored before stay valid (a replay stays UNCHANGED): every
 * JSON file of the shared fixtures, hand-made edge cases (escapes, NUL,
 * non-ASCII and non-BMP text, key order, many keys, reals, deep nesting)
 * and a few thousand random trees.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "canonical.h"
#include "util.h"

/* What the hash must be: SHA-256 of jansson's own text. */
static int reference(const json_t *j, char out[65])
{
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);

    if (!s)
        return -1;
    oh_sha256_hex(s, strlen(s), out);
    free(s);
    return 0;
}

static void same(const json_t *j, const char *what)
{
    char want[65], got[65];

    assert_int_equal(reference(j, want), 0);
    if (oh_canonical_hash(j, got) != 0)
        fail_msg("%s: oh_canonical_hash failed", what);
    if (strcmp(want, got) != 0) {
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
        fail_msg("%s: hash differs from json_dumps's text: %.300s", what, s ? s : "?");
    }
}

static void test_edge_cases(void **state)
{
    static const char *const docs[] = {
        "{}",
        "{\"a\":[]}",
        "{\"b\":\"x\\u0000y\",\"a\":[1,-2,0,9223372036854775807,-9223372036854775808]}",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f \\u007f~\"}",
        "{\"t\":\"caf\\u00e9 \\u6f22\\u5b57 \\ud83d\\ude00 \\uffff \\u0800 \\u07ff\"}",
        "{\"r\":[3.5,1e300,0.1,-0.0,1.0,123456789.125,5e-324]}",
        "{\"k\":[true,false,null,{},[],\"\"]}",
        "{\"ab\":1,\"a\":2,\"b\":3,\"B\":4,\"\":5,\"a b\":6,\"\\u00e9\":7,\"z\\u0001\":8,\"z\":9}",
        ("{\"external_id\":\"1001\",\"lines\":[{\"sku\":\"A\",\"qty\":\"2\",\"unit_price\":\"9.90\"},"
         "{\"sku\":\"B\\/1\",\"qty\":\"1\"}],\"bill_to\":{\"name\":\"J\\u00f6rg\"},\"tags\":[\"x\"]}"),
    };

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_error_t e;
        json_t *j = json_loads(docs[i], JSON_ALLOW_NUL, &e);
        if (!j)
            fail_msg("case %zu: %s", i, e.text);
        same(j, docs[i]);
        json_decref(j);
    }
}

static void test_many_keys_and_deep(void **state)
{
    json_t *o = json_object(), *deep = json_string("leaf");
    char key[32];

    (void)state;
    /* more keys than are sorted on the stack, in reverse order */
    for (int i = 300; i > 0; i--) {
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(o, key, json_integer(i));
    }
    same(o, "300 keys");
    /* deeper than the serialiser's own depth (json_dumps takes over) */
    for (int i = 0; i < 200; i++) {
        json_t *w = i % 2 ? json_array() : json_object();
        if (json_is_array(w))
            json_array_append_new(w, deep);
        else
            json_object_set_new(w, i % 3 ? "b" : "a", deep);
        deep = w;
    }
    json_object_set_new(o, "deep", deep);
    same(o, "deep");
    json_decref(o);
}

static void test_invalid_utf8_refused(void **state)
{
    json_t *o = json_object();
    char out[65];

    (void)state;
    json_object_set_new(o, "x", json_stringn_nocheck("a\xc3(b", 4));
    assert_int_equal(reference(o, out), -1);
    assert_int_equal(oh_canonical_hash(o, out), -1);
    json_decref(o);
}

/* ---- random trees ---------------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static size_t put_utf8(char *p, unsigned cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xC0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xE0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static json_t *rand_string(void)
{
    static const unsigned ranges[][2] = {
        { 0x20, 0x7F }, { 0x00, 0x20 }, { 0x80, 0x800 }, { 0x800, 0xD800 },
        { 0xE000, 0x10000 }, { 0x10000, 0x110000 }, { '"', '"' + 1 }, { '\\', '\\' + 1 },
    };
    char buf[200];
    size_t len = 0, n = rnd(12);

    for (size_t i = 0; i < n; i++) {
        unsigned r = rnd(10);
        const unsigned *g = ranges[r < 3 ? 0 : r - 2];
        len += put_utf8(buf + len, g[0] + rnd(g[1] - g[0]));
    }
    return json_stringn(buf, len);
}

static json_t *rand_tree(int depth)
{
    unsigned t = depth > 4 ? 2 + rnd(5) : rnd(7);
    json_t *j;

    switch (t) {
    case 0:
        j = json_object();
        for (unsigned i = 0, n = rnd(8); i < n; i++) {
            json_t *k = rand_string();
            json_object_setn_new(j, json_string_value(k), json_string_length(k),
                                 rand_tree(depth + 1));
            json_decref(k);
        }
        return j;
    case 1:
        j = json_array();
        for (unsigned i = 0, n = rnd(5); i < n; i++)
            json_array_append_new(j, rand_tree(depth + 1));
        return j;
    case 2:
    case 3: return rand_string();
    case 4: return json_integer((json_int_t)rnd(2000000) - 1000000);
    case 5: return rnd(3) == 0 ? json_null() : json_boolean(rnd(2));
    default: return json_real((double)rnd(100000) / 7.0);
    }
}

static void test_random_trees(void **state)
{
    char what[32];

    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "t", rand_tree(0));
        snprintf(what, sizeof(what), "tree %d", i);
        same(o, what);
        json_decref(o);
    }
}

/* ---- the shared fixtures -------------------------------------------------------------- */

static size_t fixtures_seen;

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[4096];
        struct stat st;
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(path);
        } else if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
            json_t *j = json_load_file(path, JSON_DECODE_ANY, NULL);
            if (!j || !(json_is_object(j) || json_is_array(j))) {
                json_decref(j);
                continue;
            }
            same(j, path);
            fixtures_seen++;
            json_decref(j);
        }
    }
    closedir(d);
}

static void test_fixtures(void **state)
{
    (void)state;
    walk(OH_FIXTURES);
    walk(OH_TEST_FIXTURES);
    assert_true(fixtures_seen > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_many_keys_and_deep),
        cmocka_unit_test(test_invalid_utf8_refused),
        cmocka_unit_test(test_random_trees),
        cmocka_unit_test(test_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
