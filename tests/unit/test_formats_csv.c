/* test_formats_csv.c — the CSV decoder (libcsv) and encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "formats/formats.h"
#include "util.h"

static struct oh_arena *A;

static int setup(void **state)
{
    (void)state;
    A = oh_arena_new(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    oh_arena_free(A);
    return 0;
}

/* opts: "k=v" strings, NULL-terminated */
static int dec(const char *s, size_t len, const char **kv, struct oh_node **out, struct oh_err *err)
{
    struct oh_format_opts o = {0};
    for (; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        o.key[o.n] = oh_arena_strndup(A, *kv, (size_t)(eq - *kv));
        o.val[o.n++] = eq + 1;
    }
    return oh_format_find("csv")->decode(A, s, len, &o, out, err);
}

static const char *cell(const struct oh_node *root, size_t row, const char *key)
{
    const struct oh_node *r = oh_node_at(root, row), *c = oh_node_get(r, key);
    return c ? c->s : NULL;
}

static void test_basic(void **state)
{
    const char *in = "id,name,qty\r\n1,\"Mug, white\",2\r\n2,\"Line\nbreak \"\"quoted\"\"\",3\r\n";
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec(in, strlen(in), NULL, &n, &err), 0);
    assert_int_equal(n->type, OH_NODE_ARRAY);
    assert_int_equal(n->count, 2);
    assert_string_equal(cell(n, 0, "name"), "Mug, white");
    assert_string_equal(cell(n, 1, "name"), "Line\nbreak \"quoted\"");
    assert_string_equal(cell(n, 1, "qty"), "3");
    assert_string_equal(oh_node_at(n, 0)->first->key, "id");
    /* lines: header 1, first row 2, second row 3 (its field spans 3-4) */
    assert_int_equal(oh_node_at(n, 0)->line, 2);
    assert_int_equal(oh_node_at(n, 1)->line, 3);
}

static void test_lf_bom_spaces_short_long_rows(void **state)
{
    const char *in = "\xef\xbb\xbf" "a,b\n x , y \n1\n1,2,3\n";
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec(in, strlen(in), NULL, &n, &err), 0);
    assert_string_equal(oh_node_at(n, 0)->first->key, "a"); /* BOM stripped */
    assert_string_equal(cell(n, 0, "a"), " x "); /* no trimming */
    assert_null(cell(n, 1, "b"));                /* short row */
    assert_string_equal(cell(n, 2, "3"), "3");   /* extra cell keyed by position */
}

static void test_delimiters(void **state)
{
    const char *semi = "a;b\n1;\"x;y\"\n", *tab = "a\tb\n1\t2\n";
    const char *o1[] = {"delimiter=;", NULL}, *o2[] = {"delimiter=tab", NULL};
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec(semi, strlen(semi), o1, &n, &err), 0);
    assert_string_equal(cell(n, 0, "b"), "x;y");
    assert_int_equal(dec(tab, strlen(tab), o2, &n, &err), 0);
    assert_string_equal(cell(n, 0, "b"), "2");
}

static void test_header_no(void **state)
{
    const char *in = "x,y\n1,2\n", *o[] = {"header=no", NULL};
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec(in, strlen(in), o, &n, &err), 0);
    assert_int_equal(n->count, 2);
    assert_string_equal(cell(n, 0, "1"), "x");
    assert_string_equal(cell(n, 1, "2"), "2");
}

static void test_encodings(void **state)
{
    const char *in = "Ort;Preis\nW\xfcrzburg;1.234,50\n\x80;x\n";
    const char *o[] = {"delimiter=;", "encoding=latin1", NULL};
    const char *w[] = {"delimiter=;", "encoding=windows-1252", NULL};
    const char *u[] = {"delimiter=;", NULL};
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec(in, strlen(in), o, &n, &err), 0);
    assert_string_equal(cell(n, 0, "Ort"), "W\xc3\xbcrzburg");
    assert_string_equal(cell(n, 1, "Ort"), "\xc2\x80");
    assert_int_equal(dec(in, strlen(in), w, &n, &err), 0);
    assert_string_equal(cell(n, 1, "Ort"), "\xe2\x82\xac"); /* the euro sign */
    assert_int_equal(dec(in, strlen(in), u, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: invalid UTF-8"));
}

static void test_errors(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    const char *bad_delim[] = {"delimiter=ab", NULL}, *unknown[] = {"quote='", NULL};
    const char *bad_enc[] = {"encoding=ebcdic", NULL};
    struct oh_format_opts lim = {.max_size = 3};
    (void)state;
    assert_int_equal(dec("", 0, NULL, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "empty document"));
    assert_int_equal(dec("a,b\n1,\"open\n", 12, NULL, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "unterminated quoted field"));
    assert_int_equal(dec("a\n", 2, bad_delim, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "delimiter"));
    assert_int_equal(dec("a\n", 2, unknown, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "unknown option quote"));
    assert_int_equal(dec("a\n", 2, bad_enc, &n, &err), OH_EINVAL);
    assert_int_equal(oh_format_find("csv")->decode(A, "a,b\n", 4, &lim, &n, &err), OH_ETOOBIG);
    /* a header alone is an empty list, not an error */
    assert_int_equal(dec("a,b\n", 4, NULL, &n, &err), 0);
    assert_int_equal(n->count, 0);
}

static void test_encode(void **state)
{
    struct oh_node *root = oh_node_new(A, OH_NODE_ARRAY), *r1, *r2;
    struct oh_format_opts o = {.n = 1, .key = {"newline"}, .val = {"lf"}};
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    struct oh_err err = {0};
    (void)state;
    r1 = oh_node_append(root, oh_node_new(A, OH_NODE_OBJECT));
    oh_node_add(A, r1, "sku", OH_NODE_STRING, "A-1", 3);
    oh_node_add(A, r1, "name", OH_NODE_STRING, "Mug, \"white\"", 12);
    r2 = oh_node_append(root, oh_node_new(A, OH_NODE_OBJECT));
    oh_node_add(A, r2, "sku", OH_NODE_STRING, "B-2", 3);
    oh_node_add(A, r2, "qty", OH_NODE_NUMBER, "2", 1);
    f = open_memstream(&buf, &len);
    assert_int_equal(oh_format_find("csv")->encode(root, &o, f, &err), 0);
    fclose(f);
    assert_string_equal(buf, "sku,name,qty\nA-1,\"Mug, \"\"white\"\"\",\nB-2,,2\n");
    free(buf);
    /* default newline is CRLF; a nested value is refused */
    oh_node_add(A, r2, "x", OH_NODE_OBJECT, NULL, 0);
    f = open_memstream(&buf, &len);
    assert_int_equal(oh_format_find("csv")->encode(root, NULL, f, &err), OH_EINVAL);
    fclose(f);
    free(buf);
}

static struct oh_node *fixture(const char *name, const char **kv)
{
    char path[1024], *data = NULL;
    size_t len = 0;
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    snprintf(path, sizeof(path), "%s/%s", OH_FIXTURES, name);
    assert_int_equal(oh_read_file(path, 0, &data, &len, &err), 0);
    if (dec(data, len, kv, &n, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    free(data);
    return n;
}

static void test_fixtures(void **state)
{
    const char *semi[] = {"delimiter=;", "encoding=latin1", NULL}, *tab[] = {"delimiter=tab", NULL};
    struct oh_node *n;
    (void)state;
    n = fixture("csv/shopify-orders-export.csv", NULL);
    assert_int_equal(n->count, 8);
    assert_string_equal(cell(n, 0, "Notes"), "Please leave at the back door.\nGate code: 0000 (test data)");
    assert_int_equal(oh_node_at(n, 0)->count, 79);
    n = fixture("csv/wholesale-orders-semicolon-latin1.csv", semi);
    assert_int_equal(n->count, 6);
    assert_string_equal(cell(n, 0, "Ort"), "W\xc3\xbcrzburg");
    assert_string_equal(cell(n, 4, "Einzelpreis"), "1.234,50");
    assert_string_equal(cell(n, 4, "Bemerkung"), "Anlieferung nur mit Hebeb\xc3\xbchne, \"Rampe 3\"");
    n = fixture("csv/amazon-all-orders-report.tsv", tab);
    assert_int_equal(n->count, 6);
    assert_string_equal(cell(n, 5, "ship-city"), "M\xc3\xbcnchen");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lf_bom_spaces_short_long_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delimiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_no, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixtures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
