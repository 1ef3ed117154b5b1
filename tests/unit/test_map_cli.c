/* test_map_cli.c — `orderhub map` and `orderhub map test`, including the
 * golden tests of every shipped mapping (mappings/<source>/tests/), EDI
 * ones included, so the EDI formats are linked in and registered.
 * oh-test-links: oh_conn_edi */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/edi/edi.h"
#include "map/map.h"
#include "util.h"

/* Runs fn(argc, argv) with stdout and stderr captured into *out (malloc'd). */
static int capture(int (*fn)(int, char **), int argc, char **argv, char **out)
{
    char path[] = "/tmp/oh-map-cli-XXXXXX";
    int fd = mkstemp(path), so, se, rc;
    size_t len;
    struct oh_err err = {0};
    fflush(stdout);
    fflush(stderr);
    so = dup(1);
    se = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fd);
    assert_int_equal(oh_read_file(path, 0, out, &len, &err), 0);
    unlink(path);
    return rc;
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    FILE *f;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_non_null(f = fopen(p, "w"));
    fputs(text, f);
    fclose(f);
}

static void test_shipped_mappings(void **state)
{
    char *argv[] = {"test", OH_SOURCE_DIR "/mappings", NULL};
    char *out = NULL;
    int rc;
    (void)state;
    oh_edi_init();
    rc = capture(oh_map_cli_test, 2, argv, &out);
    if (rc != 0)
        fail_msg("golden mapping tests failed:\n%s", out);
    assert_non_null(strstr(out, "ok   " OH_SOURCE_DIR "/mappings/x12/tests/850"));
    assert_non_null(strstr(out, "ok   " OH_SOURCE_DIR "/mappings/shopify/tests/order.input.json"));
    assert_non_null(strstr(out, ", 0 failed"));
    free(out);
}

static void test_map_run(void **state)
{
    char dir[] = "/tmp/oh-map-run-XXXXXX", mp[600], ip[600], *out = NULL;
    char *argv[] = {"map", mp, ip, "--channel", "web", NULL};
    char *argv2[] = {"map", mp, ip, "--bogus", NULL};
    int rc;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(mp, sizeof(mp), "%s/o.map", dir);
    snprintf(ip, sizeof(ip), "%s/in.json", dir);
    put(dir, "o.map", "from json\nto order\neach .[]\nnumber = .n\nlines[] = .l[]\nlines[].qty = .q | int\n");
    put(dir, "in.json", "[{\"n\":\"1\",\"l\":[{\"q\":2}]},{\"n\":\"2\",\"l\":[{\"q\":\"x\"}]}]");
    rc = capture(oh_map_cli_run, 5, argv, &out);
    assert_int_equal(rc, 1); /* one record failed */
    assert_non_null(strstr(out, "{\"channel\":\"web\",\"number\":\"1\",\"lines\":[{\"qty\":2}]}\n"));
    assert_non_null(strstr(out, "record 2: $[1].l[0].q: \"x\" is not an integer (oh-map-run-"));
    free(out);
    rc = capture(oh_map_cli_run, 4, argv2, &out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "usage:"));
    free(out);
    put(dir, "o.map", "from json\nto order\nnumber = .n | nope\n");
    rc = capture(oh_map_cli_run, 3, argv, &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "o.map:3:15: unknown filter nope"));
    free(out);
    /* --format replaces the decoder */
    put(dir, "o.map", "from json\nto order\neach .[]\nnumber = .n\n");
    put(dir, "in.json", "n\r\n7\r\n");
    {
        char *argv3[] = {"map", mp, ip, "--format", "csv", NULL};
        rc = capture(oh_map_cli_run, 5, argv3, &out);
    }
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"number\":\"7\""));
    free(out);
    unlink(mp);
    unlink(ip);
    rmdir(dir);
}

static void test_golden_failure_diff(void **state)
{
    char dir[] = "/tmp/oh-map-gold-XXXXXX", src[600], tests[600], *out = NULL;
    char *argv[] = {"test", dir, NULL};
    int rc;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(src, sizeof(src), "%s/acme", dir);
    snprintf(tests, sizeof(tests), "%s/acme/tests", dir);
    mkdir(src, 0755);
    mkdir(tests, 0755);
    put(src, "orders.map", "from json\nto order\neach .o[]\nnumber = .n\nlines[] = .l[]\nlines[].qty = .q | int\n");
    /* orders-page2 uses orders.map: the longest existing prefix */
    put(tests, "orders-page2.input.json", "{\"o\":[{\"n\":\"1\",\"l\":[{\"q\":2}]},{\"n\":\"2\",\"l\":[{\"q\":\"z\"}]}]}");
    put(tests, "orders-page2.expect.ndjson",
        "{\"channel\":\"acme\",\"number\":\"1\",\"lines\":[{\"qty\":2}]}\n"
        "{\"$error\":\"$.o[1].l[0].q: \\\"z\\\" is not an integer (acme/orders.map:6)\"}\n");
    rc = capture(oh_map_cli_test, 2, argv, &out);
    if (rc != 0)
        fail_msg("%s", out);
    free(out);
    /* now a wrong expectation: field-level diff, exit 1 */
    put(tests, "orders-page2.expect.ndjson",
        "{\"channel\":\"acme\",\"number\":\"9\",\"extra\":\"x\",\"lines\":[{\"qty\":\"2\"}]}\n"
        "{\"$error\":\"something else\"}\n");
    rc = capture(oh_map_cli_test, 2, argv, &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "orders-page2 record 1: number: expected \"9\", got \"1\""));
    assert_non_null(strstr(out, "orders-page2 record 1: extra: expected \"x\", got (absent)"));
    assert_non_null(strstr(out, "orders-page2 record 1: lines[0].qty: expected \"2\", got 2"));
    assert_non_null(strstr(out, "orders-page2 record 2: $error: expected \"something else\""));
    assert_non_null(strstr(out, "1 mapping test, 1 failed"));
    free(out);
    /* a test whose mapping does not exist */
    put(tests, "nomap.input.json", "{}");
    rc = capture(oh_map_cli_test, 2, argv, &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "no mapping"));
    free(out);
    {
        char p[700];
        snprintf(p, sizeof(p), "%s/nomap.input.json", tests);
        unlink(p);
        snprintf(p, sizeof(p), "%s/orders-page2.input.json", tests);
        unlink(p);
        snprintf(p, sizeof(p), "%s/orders-page2.expect.ndjson", tests);
        unlink(p);
        snprintf(p, sizeof(p), "%s/orders.map", src);
        unlink(p);
    }
    rmdir(tests);
    rmdir(src);
    /* no tests at all is a failure, not a silent pass */
    rc = capture(oh_map_cli_test, 2, argv, &out);
    assert_int_equal(rc, 1);
    free(out);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_mappings),
        cmocka_unit_test(test_map_run),
        cmocka_unit_test(test_golden_failure_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
