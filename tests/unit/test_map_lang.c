/* test_map_lang.c — the mapping language: compile errors, paths, each and
 * group-by, repeated blocks, run-time rejections, outbound rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "map/map.h"
#include "test_map_util.h"

#define HDR "from json\nto order\n"

static void check(json_t *got, const char *want)
{
    int ok = mt_equal(got, want);
    json_decref(got);
    assert_true(ok);
}

static void test_design_example(void **state)
{
    const char *map =
        "map    shopify-order\n"
        "from   json\n"
        "to     order\n"
        "each   .orders[]                      # a page of orders holds many records\n"
        "\n"
        "external_id     = .id | str\n"
        "number          = .name\n"
        "placed_at       = .created_at | time\n"
        "status          = .financial_status | lookup(shopify_status) | default(\"pending\")\n"
        "total           = .total_price | decimal\n"
        "customer.email  = .email | lower\n"
        "ship_to.country = .shipping_address.country_code | upper\n"
        "lines[]            = .line_items[]\n"
        "lines[].sku        = .sku | required\n"
        "lines[].qty        = .quantity | int\n"
        "lines[].unit_price = .price | decimal\n"
        "\n"
        "table shopify_status\n"
        "  paid      => accepted\n"
        "  refunded  => cancelled\n"
        "  *         => pending\n"
        "end\n";
    const char *doc =
        "{\"orders\":[{\"id\":1001,\"name\":\"#1001\",\"created_at\":\"2026-11-23T10:30:00+01:00\","
        "\"financial_status\":\"paid\",\"total_price\":\"19.90\",\"email\":\"A@B.COM\","
        "\"shipping_address\":{\"country_code\":\"de\"},"
        "\"line_items\":[{\"sku\":\"S1\",\"quantity\":2,\"price\":\"9.95\"}]},"
        "{\"id\":1002,\"financial_status\":\"weird\",\"line_items\":[]}]}";
    (void)state;
    check(mt_run(map, doc),
          "[{\"channel\":\"test-ch\",\"external_id\":\"1001\",\"number\":\"#1001\","
          "\"placed_at\":\"2026-11-23T09:30:00Z\",\"status\":\"accepted\",\"total\":\"19.90\","
          "\"customer\":{\"email\":\"a@b.com\"},\"ship_to\":{\"country\":\"DE\"},"
          "\"lines\":[{\"sku\":\"S1\",\"qty\":2,\"unit_price\":\"9.95\"}]},"
          "{\"channel\":\"test-ch\",\"external_id\":\"1002\",\"status\":\"pending\",\"lines\":[]}]");
}

struct case_ {
    const char *text, *msg;
};

static void test_compile_errors(void **state)
{
    static const struct case_ cases[] = {
        {HDR "foo = .x\n", "t/test.map:3:1: foo is not a field of the canonical order"},
        {HDR "customer.mail = .x\n", "t/test.map:3:1: customer.mail is not a field of the canonical order"},
        {HDR "number = .x | bogus\n", "t/test.map:3:15: unknown filter bogus"},
        {HDR "number = .x | lookup(nope)\n", "t/test.map:3:22: unknown table nope"},
        {HDR "lines[].sku = .sku\n", "t/test.map:3:1: lines[].sku: its repeated block is not declared; add a rule like `lines[] = .items[]`"},
        {HDR "number = $index.x\n", "t/test.map:3:16: $index is a number: nothing may follow it"},
        {HDR "number = .x | add()\n", "t/test.map:3:15: add takes at least 1 argument"},
        {HDR "number = .x | when(.a, .b)\n", "t/test.map:3:15: when takes 1 argument"},
        {HDR "number = .x | when(foo)\n", "t/test.map:3:20: when needs a \"string\", a number or a path, not foo"},
        {"from nope\nto order\n", "t/test.map:1:6: unknown format or kind nope"},
        {"from csv delimiter=xx\nto order\n", "t/test.map:1:6: csv: delimiter must be one character or tab"},
        {"from csv bogus=1\nto order\n", "t/test.map:1:6: csv: unknown option bogus"},
        {"from xml a=1\nto order\n", "t/test.map:1:6: format xml takes no options"},
        {"from order x=1\nto json\n", "a canonical kind takes no options"},
        {"from json\n", "t/test.map:1:1: no `to` line"},
        {"to order\n", "t/test.map:1:1: no `from` line"},
        {"from json\nnumber = .x\nto order\n", "t/test.map:2:1: rules must follow the `to` line"},
        {HDR "number = .x |\n", "t/test.map:3:14: expected a filter name after '|'"},
        {HDR "number =\n", "t/test.map:3:9: expected a value"},
        {HDR "number .x\n", "t/test.map:3:8: expected '=' after the target number"},
        {HDR "number = \"abc\n", "t/test.map:3:10: unterminated string"},
        {HDR "number = .x .y\n", "t/test.map:3:13: unexpected '.' after the expression"},
        {HDR "number = .x[a=]\n", "t/test.map:3:15: expected a value in path condition"},
        {HDR "number = .x[a b]\n", "t/test.map:3:15: expected '=' in path condition"},
        {HDR "table t\n a => b\n", "t/test.map:3:1: table t has no `end`"},
        {HDR "table t\n a => b\n a => c\nend\n", "t/test.map:5:2: table t: key \"a\" given twice"},
        {HDR "table t\n a\nend\n", "t/test.map:4:2: expected KEY => VALUE"},
        {HDR "table t\nend\ntable t\nend\n", "t/test.map:5:1: table t defined twice"},
        {HDR "end\n", "t/test.map:3:1: end without table"},
        {HDR "number = .x | default()\n", "t/test.map:3:15: default takes 1 argument"},
        {HDR "number = .x | replace(\"a\")\n", "t/test.map:3:15: replace takes 2 arguments"},
        {HDR "number = .x | concat\n", "t/test.map:3:15: concat takes at least 1 argument"},
        {HDR "number = .x | decimal(\"x\")\n", "t/test.map:3:23: decimal takes a number of places"},
        {HDR "number = .x | split(1)\n", "t/test.map:3:21: split needs a \"string\" argument"},
        {HDR "number = .x | substr(\"a\")\n", "t/test.map:3:22: substr needs whole-number arguments"},
        {HDR "number = .x | default(foo)\n", "t/test.map:3:23: default needs a \"string\", a number or a path, not foo"},
        {HDR "number = $foo.x\n", "t/test.map:3:10: unknown variable $foo"},
        {HDR "number = $doc.when\n", "t/test.map:3:15: unknown variable $doc.when"},
        {HDR "number = $channel.id\n", "unknown variable $channel.id"},
        {HDR "each .a[]\neach .b[]\n", "t/test.map:4:1: each given twice"},
        {HDR "each orders\n", "t/test.map:3:6: each needs a path like .orders[]"},
        {HDR "map a\nmap b\n", "t/test.map:4:1: map given twice"},
        {"from json\nto json\n[] = .a[]\nx = .b\n", "t/test.map:4:1: named targets cannot be mixed with [] rules"},
        {"from json\nto json\na[0] = .b\n", "t/test.map:3:2: only [] may follow a target name"},
        {"from json\nto nope\n", "t/test.map:2:4: unknown format or kind nope"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = mt_compile_err(cases[i].text);
        if (!strstr(got, cases[i].msg))
            fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, got, cases[i].msg);
    }
    /* comments, blank lines, quoted keys with '#' */
    assert_string_equal(mt_compile_err("# hello\n\nfrom json   # c\nto json\n\"a#b\" = .\"x#y\" # c\n"), "");
}

static void test_metadata_and_load(void **state)
{
    char path[] = "/tmp/oh-map-test-XXXXXX";
    int fd = mkstemp(path);
    const char *txt = "map   my-map\nfrom  csv delimiter=\";\"\nto    x12 856\n";
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    (void)state;
    /* x12 is registered by another module; an unknown format is a load error */
    assert_int_equal(oh_map_compile(txt, strlen(txt), "t/m.map", &m, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "t/m.map:3:7: unknown format or kind x12"));
    txt = "map   my-map\nfrom  csv delimiter=\";\"\nto    shipment\n";
    assert_true(write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    assert_int_equal(oh_map_load(path, &m, &err), 0);
    assert_string_equal(oh_map_name(m), "my-map");
    assert_string_equal(oh_map_from(m), "csv");
    assert_string_equal(oh_map_to(m), "shipment");
    assert_null(oh_map_message(m));
    oh_map_free(m);
    unlink(path);
    assert_int_not_equal(oh_map_load(path, &m, &err), 0);
    assert_null(m);
    assert_non_null(strstr(err.msg, path));
    oh_map_free(NULL);
    /* a map without a `map` line is named after its file */
    assert_int_equal(oh_map_compile("from json\nto json\nto2 = .a\n", 27, "dir/thing.map", &m, &err), 0);
    assert_string_equal(oh_map_name(m), "thing.map");
    oh_map_free(m);
    /* `to FORMAT MESSAGE` */
    assert_int_equal(oh_map_compile("from order\nto csv report newline=lf\n", 35, "x.map", &m, &err), 0);
    assert_string_equal(oh_map_message(m), "report");
    oh_map_free(m);
    assert_true(oh_map_is_kind("order") && oh_map_is_kind("return") && !oh_map_is_kind("json"));
    assert_null(oh_map_canonical_fields("nope"));
}

static void test_paths(void **state)
{
    const char *map =
        "from json\nto json\n"
        "first = .a[]\n"
        "second = .a[1]\n"
        "quoted = .\"Order No\"\n"
        "nested = .o.p.q\n"
        "flat = .items.sku\n"
        "ship = .addr[type=ship].city\n"
        "ship2 = .addr[type=ship, kind=\"home\"].city\n"
        "edi = .N1[01=ST].02\n"
        "missing = .nope.nope\n"
        "alt = .nope ?? .empty ?? .null ?? .o.p.q\n"
        "rec = $record.o.p.q\n"
        "root = $root.o.p.q\n"
        "chan = $channel.name\n"
        "recv = $doc.received_at\n"
        "src = $doc.source\n"
        "env = $env.OH_MAP_TEST_VAR\n"
        "num = .n\n"
        "bool = .t\n"
        "lit = \"x\"\n"
        "litnum = 42\n"
        "paren = (.nope ?? .a[2]) | upper\n";
    const char *doc =
        "{\"a\":[\"x\",\"y\",\"z\"],\"Order No\":\"7\",\"o\":{\"p\":{\"q\":\"deep\"}},"
        "\"items\":[{\"sku\":\"s1\"},{\"sku\":\"s2\"}],\"empty\":\"\",\"null\":null,"
        "\"addr\":[{\"type\":\"bill\",\"city\":\"B\"},{\"type\":\"ship\",\"kind\":\"work\",\"city\":\"S1\"},"
        "{\"type\":\"ship\",\"kind\":\"home\",\"city\":\"S2\"}],"
        "\"N1\":[{\"01\":\"BT\",\"02\":\"Bill Co\"},{\"01\":\"ST\",\"02\":\"Ship Co\"}],"
        "\"n\":1.50,\"t\":true}";
    (void)state;
    setenv("OH_MAP_TEST_VAR", "from-env", 1);
    check(mt_run(map, doc),
          "[{\"first\":\"x\",\"second\":\"y\",\"quoted\":\"7\",\"nested\":\"deep\",\"flat\":\"s1\","
          "\"ship\":\"S1\",\"ship2\":\"S2\",\"edi\":\"Ship Co\",\"alt\":\"deep\",\"rec\":\"deep\","
          "\"root\":\"deep\",\"chan\":\"test-ch\",\"recv\":\"2026-01-01T00:00:00Z\",\"src\":\"in.json\","
          "\"env\":\"from-env\",\"num\":\"1.50\",\"bool\":\"true\",\"lit\":\"x\",\"litnum\":\"42\","
          "\"paren\":\"Z\"}]");
}

static void test_xml_like_paths(void **state)
{
    /* repeated keys (XML children) behave like arrays; [N] picks among them */
    const char *map = "from xml\nto json\n"
                      "id = .R.@id\n"
                      "second = .R.Item[1].Sku\n"
                      "money = .R.Money\n"
                      "cur = .R.Money.@currency\n"
                      "items[] = .R.Item[]\n"
                      "items[].sku = .Sku\n"
                      "items[].n = .@n | int\n";
    const char *doc = "<R id=\"9\"><Item n=\"1\"><Sku>A</Sku></Item><Item n=\"2\"><Sku>B</Sku></Item>"
                      "<Money currency=\"EUR\">85.00</Money></R>";
    (void)state;
    check(mt_run(map, doc),
          "[{\"id\":\"9\",\"second\":\"B\",\"money\":\"85.00\",\"cur\":\"EUR\","
          "\"items\":[{\"sku\":\"A\",\"n\":1},{\"sku\":\"B\",\"n\":2}]}]");
}

static void test_each_and_rejections(void **state)
{
    const char *map = HDR "each .orders[]\n"
                          "external_id = .id | str\n"
                          "lines[] = .line_items[]\n"
                          "lines[].sku = .sku | required\n"
                          "lines[].qty = .quantity | int\n";
    const char *doc = "{\"orders\":[{\"id\":1,\"line_items\":[{\"sku\":\"a\",\"quantity\":1}]},"
                      "{\"id\":2,\"line_items\":[{\"sku\":\"a\",\"quantity\":1},{\"sku\":\"b\",\"quantity\":\"x\"}]},"
                      "{\"id\":3,\"line_items\":[{\"quantity\":1}]},"
                      "{\"id\":4,\"line_items\":[{\"sku\":\"\",\"quantity\":1}]}]}";
    (void)state;
    check(mt_run(map, doc),
          "[{\"channel\":\"test-ch\",\"external_id\":\"1\",\"lines\":[{\"sku\":\"a\",\"qty\":1}]},"
          "{\"$error\":\"$.orders[1].line_items[1].quantity: \\\"x\\\" is not an integer (t/test.map:7)\"},"
          "{\"$error\":\"$.orders[2].line_items[0].sku: required value is missing (t/test.map:6)\"},"
          "{\"$error\":\"$.orders[3].line_items[0].sku: required value is empty (t/test.map:6)\"}]");
}

static void test_document_errors(void **state)
{
    struct oh_map_ctx ctx = {0};
    struct oh_err err = {0};
    (void)state;
    assert_null(mt_run_ctx(HDR "number = .a\n", "{\"a\":", &ctx, &err));
    assert_non_null(strstr(err.msg, "json: line 1"));
    assert_null(mt_run_ctx("from csv\nto order\nnumber = .a\n", "a,b\n\"x", &ctx, &err));
    assert_non_null(strstr(err.msg, "unterminated quoted field"));
    /* a CSV of several rows without each or group-by is refused, not cut
     * down to its first row; one row is one record */
    assert_null(mt_run_ctx("from csv\nto order\nnumber = .a\n", "a\n1\n2\n", &ctx, &err));
    assert_non_null(strstr(err.msg, "the CSV has 2 rows but the mapping has neither each nor group-by"));
    check(mt_run("from csv\nto order\nnumber = .a\n", "a\n1\n"),
          "[{\"channel\":\"test-ch\",\"number\":\"1\"}]");
    /* no each and no match: one record; each with no match: none */
    check(mt_run(HDR "each .none[]\nnumber = .a\n", "{\"a\":\"1\"}"), "[]");
}

static void test_group_by(void **state)
{
    const char *map = "from csv\nto order\ngroup-by .No\n"
                      "number = .No\n"
                      "notes = .Note\n"
                      "lines[] = .rows[]\n"
                      "lines[].sku = .Sku\n"
                      "lines[].qty = .Qty | int\n";
    const char *csv = "No,Note,Sku,Qty\n1,first,A,1\n1,,B,2\n2,x,C,3\n1,again,D,4\n";
    (void)state;
    check(mt_run(map, csv),
          "[{\"channel\":\"test-ch\",\"number\":\"1\",\"notes\":\"first\",\"lines\":[{\"sku\":\"A\",\"qty\":1},{\"sku\":\"B\",\"qty\":2}]},"
          "{\"channel\":\"test-ch\",\"number\":\"2\",\"notes\":\"x\",\"lines\":[{\"sku\":\"C\",\"qty\":3}]},"
          "{\"channel\":\"test-ch\",\"number\":\"1\",\"notes\":\"again\",\"lines\":[{\"sku\":\"D\",\"qty\":4}]}]");
    /* a rejected group names the row it came from */
    check(mt_run(map, "No,Note,Sku,Qty\n1,,A,1\n1,,B,zz\n"),
          "[{\"$error\":\"$[1].Qty: \\\"zz\\\" is not an integer (t/test.map:8)\"}]");
    /* each .[] gives one record per row */
    check(mt_run("from csv\nto order\neach .[]\nnumber = .No\n", "No\n1\n2\n"),
          "[{\"channel\":\"test-ch\",\"number\":\"1\"},{\"channel\":\"test-ch\",\"number\":\"2\"}]");
}

static void test_repeated_blocks(void **state)
{
    const char *map = "from json\nto json\n"
                      "lines[] = .items\n"                /* an array without [] */
                      "lines[].sku = .sku\n"
                      "lines[].parts[] = .parts[]\n"       /* nested block */
                      "lines[].parts[].id = .id\n"
                      "lines[].parts[].order = $record.no\n"
                      "lines[].codes[] = .codes[]\n"       /* values, no sub-rules */
                      "tags[] = .tags | split(\",\")\n"
                      "none[] = .missing[]\n"
                      "ship.a.b = .no\n";
    const char *doc = "{\"no\":\"N1\",\"tags\":\"a, b,,c\",\"items\":[{\"sku\":\"x\",\"parts\":[{\"id\":1},{\"id\":2}],"
                      "\"codes\":[\"c1\",\"c2\"]},{\"sku\":\"y\"}]}";
    (void)state;
    check(mt_run(map, doc),
          "[{\"lines\":[{\"sku\":\"x\",\"parts\":[{\"id\":\"1\",\"order\":\"N1\"},{\"id\":\"2\",\"order\":\"N1\"}],"
          "\"codes\":[\"c1\",\"c2\"]},{\"sku\":\"y\",\"parts\":[],\"codes\":[]}],"
          "\"tags\":[\"a\",\"b\",\"c\"],\"none\":[],\"ship\":{\"a\":{\"b\":\"N1\"}}}]");
    /* a copied object is the output's own: adding to it leaves the input alone */
    check(mt_run("from json\nto json\na = .\na.b = .\nc = .\n", "{\"x\":\"1\"}"),
          "[{\"a\":{\"x\":\"1\",\"b\":{\"x\":\"1\"}},\"c\":{\"x\":\"1\"}}]");
    /* canonical tags may be written tags or tags[] */
    check(mt_run(HDR "tags = .t | split(\";\")\n", "{\"t\":\"x;y\"}"),
          "[{\"channel\":\"test-ch\",\"tags\":[\"x\",\"y\"]}]");
}

/* $index, add, when and a block declared twice: what outbound EDI mappings
 * need for hierarchical levels, counts and conditional segments. */
static void test_index_add_when(void **state)
{
    const char *doc = "{\"a\":[{\"v\":\"x\"},{\"v\":\"y\"},{\"v\":\"z\"}],\"b\":[{\"v\":\"q\"}],"
                      "\"n\":\"2.5\",\"m\":\"-0.75\",\"t\":\"T1\"}";
    struct oh_err err = {0};
    (void)state;
    /* $index counts from 0 in the innermost block; add does exact sums */
    check(mt_run("from json\nto json\n"
                 "i = $index\n"
                 "l[] = .a[]\nl[].v = .v\nl[].no = $index | add(1)\n"
                 "l[].in[] = $root.b[]\nl[].in[].at = $index\n"
                 "l[].after = $index\n",
                 doc),
          "[{\"i\":0,\"l\":[{\"v\":\"x\",\"no\":1,\"in\":[{\"at\":0}],\"after\":0},"
          "{\"v\":\"y\",\"no\":2,\"in\":[{\"at\":0}],\"after\":1},"
          "{\"v\":\"z\",\"no\":3,\"in\":[{\"at\":0}],\"after\":2}]}]");
    check(mt_run("from json\nto json\n"
                 "s = .n | add(.m, 1, .missing)\n"
                 "c = .a | len | add(2, (.b[] ?? .) | len)\n"
                 "z = .m | add(\"0.75\")\n"
                 "big = .n | add(\"99999999999999.995\")\n",
                 doc),
          "[{\"s\":\"2.75\",\"c\":6,\"z\":\"0.00\",\"big\":\"100000000000002.495\"}]");
    check(mt_run("from json\nto json\nx = .t | add(1)\n", doc),
          "[{\"$error\":\"$.t: \\\"T1\\\" is not a decimal number (t/test.map:3)\"}]");
    check(mt_run("from json\nto json\nx = .n | add(.t)\n", doc),
          "[{\"$error\":\"$.t: \\\"T1\\\" is not a decimal number (t/test.map:3)\"}]");
    /* when: the value only if the condition is not empty */
    check(mt_run("from json\nto json\n"
                 "yes = \"CN\" | when(.t)\n"
                 "no = \"CN\" | when(.missing)\n"
                 "first[] = .a[]\n"
                 "first[].sub[] = $root.b[] | when($index | lookup(zero))\n"
                 "first[].sub[].v = .v\n"
                 "table zero\n  0 => yes\n  * => \"\"\nend\n",
                 doc),
          "[{\"yes\":\"CN\",\"first\":[{\"sub\":[{\"v\":\"q\"}]},{\"sub\":[]},{\"sub\":[]}]}]");
    /* a condition value may be a path, read from the current value: a join */
    check(mt_run("from json\nto json\n"
                 "l[] = .ship[]\n"
                 "l[].uom = $root.order[no=.no].uom ?? \"EA\"\n"
                 "l[].twice = $root.order[no=.no, uom=.want].uom\n"
                 "l[].byindex = $root.order[no=$index].uom\n",
                 "{\"order\":[{\"no\":0,\"uom\":\"PK\"},{\"no\":1,\"uom\":\"EA\"},{\"no\":2,\"uom\":\"CA\"}],"
                 "\"ship\":[{\"no\":2,\"want\":\"CA\"},{\"no\":7},{\"want\":\"EA\"}]}"),
          "[{\"l\":[{\"uom\":\"CA\",\"twice\":\"CA\",\"byindex\":\"PK\"},"
          "{\"uom\":\"EA\",\"byindex\":\"EA\"},{\"uom\":\"EA\",\"byindex\":\"CA\"}]}]");
    /* a block declared again appends to the same list; its rules follow it */
    check(mt_run("from json\nto json\n"
                 "p[] = .b[]\np[].kind = \"B\"\np[].v = .v\n"
                 "p[] = .a[]\np[].kind = \"A\"\n",
                 doc),
          "[{\"p\":[{\"kind\":\"B\",\"v\":\"q\"},{\"kind\":\"A\"},{\"kind\":\"A\"},{\"kind\":\"A\"}]}]");
    (void)err;
}

static void test_channel_rules(void **state)
{
    struct oh_map_ctx ctx = {0};
    struct oh_err err = {0};
    (void)state;
    /* the mapping's own channel wins; none in ctx leaves it out */
    check(mt_run(HDR "channel = \"mine\"\nnumber = .a\n", "{\"a\":\"1\"}"),
          "[{\"channel\":\"mine\",\"number\":\"1\"}]");
    check(mt_run_ctx(HDR "number = .a\n", "{\"a\":\"1\"}", &ctx, &err), "[{\"number\":\"1\"}]");
    /* a later rule for the same target replaces the earlier value */
    check(mt_run(HDR "number = .a\nnumber = .b\n", "{\"a\":\"1\",\"b\":\"2\"}"),
          "[{\"channel\":\"test-ch\",\"number\":\"2\"}]");
}

static char *render(const char *map, const char *rec, int *rc, struct oh_err *err)
{
    struct oh_map *m = NULL;
    json_t *r = json_loads(rec, 0, NULL);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(oh_map_compile(map, strlen(map), "out/test.map", &m, err), 0);
    *rc = oh_map_render(m, r, NULL, &out, &len, err);
    if (out)
        assert_int_equal(strlen(out), len);
    json_decref(r);
    oh_map_free(m);
    return out;
}

static void test_render(void **state)
{
    const char *rec = "{\"number\":\"#1\",\"ship_to\":{\"name\":\"A & B\"},"
                      "\"lines\":[{\"sku\":\"S1\",\"qty\":\"2\"},{\"sku\":\"S2\",\"qty\":\"1.5\"}]}";
    struct oh_err err = {0};
    int rc;
    char *out;
    (void)state;
    out = render("from order\nto json\nid = .number\nitems[] = .lines[]\nitems[].sku = .sku\n"
                 "items[].n = .qty | number\nitems[].o = $record.number\n",
                 rec, &rc, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "{\"id\":\"#1\",\"items\":[{\"sku\":\"S1\",\"n\":2,\"o\":\"#1\"},"
                             "{\"sku\":\"S2\",\"n\":1.5,\"o\":\"#1\"}]}\n");
    free(out);
    out = render("from order\nto csv newline=lf\n[] = .lines[]\n[].order = $record.number\n[].sku = .sku\n",
                 rec, &rc, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "order,sku\n#1,S1\n#1,S2\n");
    free(out);
    out = render("from order\nto xml\nShipNotice.@no = .number\nShipNotice.To = .ship_to.name\n"
                 "ShipNotice.Item[] = .lines[]\nShipNotice.Item[].@sku = .sku\n",
                 rec, &rc, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<ShipNotice no=\"#1\">\n"
                             "  <To>A &amp; B</To>\n"
                             "  <Item sku=\"S1\"/>\n"
                             "  <Item sku=\"S2\"/>\n"
                             "</ShipNotice>\n");
    free(out);
    /* a failing rule fails the render with the record path */
    out = render("from order\nto json\nx = .lines[1].qty | int\n", rec, &rc, &err);
    assert_int_equal(rc, OH_EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, "$.lines[1].qty: \"1.5\" is not an integer (out/test.map:3)");
    /* an encoder refusal names the mapping */
    out = render("from order\nto xml\na = .number\nb = .number\n", rec, &rc, &err);
    assert_int_equal(rc, OH_EINVAL);
    assert_non_null(strstr(err.msg, "out/test.map: xml: the document must be an object with one member"));
}

/* --- oh_map_run_text: the same bytes as json_dumps of oh_map_run's records --- */

static int dump_cb(void *ud, size_t index, json_t *record, const struct oh_err *rec_err)
{
    FILE *f = ud;
    char *t;
    if (!record) {
        fprintf(f, "%zu error %s\n", index, rec_err->msg);
        return 0;
    }
    t = json_dumps(record, JSON_COMPACT);
    fprintf(f, "%zu %s\n", index, t);
    free(t);
    return 0;
}

static int text_cb(void *ud, size_t index, const char *json, size_t len, const struct oh_err *rec_err)
{
    FILE *f = ud;
    if (!json) {
        fprintf(f, "%zu error %s\n", index, rec_err->msg);
        return 0;
    }
    assert_int_equal(strlen(json), len);
    fprintf(f, "%zu %s\n", index, json);
    return 0;
}

/* Runs map on doc both ways; returns the text lines (caller frees) after
 * checking they equal the jansson ones. */
static char *both_ways(const char *map, const char *doc, const char *channel)
{
    struct oh_map *m = NULL;
    struct oh_err err = {0};
    struct oh_map_ctx ctx = {.channel = channel, .received_at_ms = 1767225600000LL, .source = "in"};
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    FILE *fa = open_memstream(&a, &al), *fb = open_memstream(&b, &bl);
    int ra, rb;

    assert_int_equal(oh_map_compile(map, strlen(map), "t/test.map", &m, &err), 0);
    ra = oh_map_run(m, doc, strlen(doc), &ctx, dump_cb, fa, &err);
    rb = oh_map_run_text(m, NULL, doc, strlen(doc), &ctx, text_cb, fb, &err);
    fclose(fa);
    fclose(fb);
    assert_int_equal(ra, rb);
    assert_string_equal(a, b);
    free(a);
    oh_map_free(m);
    return b;
}

static void test_run_text(void **state)
{
    char *t;
    (void)state;
    /* channel first; escapes with upper-case hex; input numbers become text in
     * a canonical record, `int` makes a number */
    t = both_ways(HDR "number = .n\nnotes = .s\nexternal_id = .i | int\n"
                      "tags[] = .tags[]\nlines[] = .l[]\nlines[].qty = .q\nlines[].sku = .k\n",
                  "{\"n\":-0,\"s\":\"a\\\"b\\\\c\\n\\u0001\\u001f\\t\\/\\u00e9\\u2028x\","
                  "\"i\":\"0042\",\"tags\":[1,1.5,true],\"l\":[{\"q\":7,\"k\":\"A\"},{}]}",
                  "ch");
    assert_string_equal(t, "0 {\"channel\":\"ch\",\"number\":\"-0\","
                           "\"notes\":\"a\\\"b\\\\c\\n\\u0001\\u001F\\t/\xc3\xa9\xe2\x80\xa8x\","
                           "\"external_id\":42,\"tags\":[\"1\",\"1.5\",\"true\"],"
                           "\"lines\":[{\"qty\":\"7\",\"sku\":\"A\"},{}]}\n");
    free(t);
    /* numbers copied from the input as jansson has them: a whole 64-bit
     * integer is a number (-0 is 0), anything else a string */
    t = both_ways("from json\nto json\nraw = .\n",
                  "{\"a\":[-0,0,1.5,-7,1e3,123456789012345678901234,9223372036854775807,"
                  "-9223372036854775808,9223372036854775808,true,false,null,\"s\"]}",
                  "ch");
    assert_string_equal(t, "0 {\"raw\":{\"a\":[0,0,\"1.5\",-7,\"1e3\",\"123456789012345678901234\","
                           "9223372036854775807,-9223372036854775808,\"9223372036854775808\","
                           "true,false,null,\"s\"]}}\n");
    free(t);
    /* the mapping sets channel itself; no channel in the context; nothing set */
    free(both_ways(HDR "channel = .c\nnumber = .n\n", "{\"c\":\"mine\",\"n\":\"1\"}", "ch"));
    free(both_ways(HDR "number = .n\n", "{\"n\":\"1\"}", NULL));
    t = both_ways(HDR "number = .missing\n", "{\"n\":\"1\"}", "ch");
    assert_string_equal(t, "0 {\"channel\":\"ch\"}\n");
    free(t);
    /* a value copied from the input with a key twice: first place, last value */
    t = both_ways("from json\nto json\nraw = .o\nx = .o.a\n",
                  "{\"o\":{\"a\":1,\"b\":[{\"k\":1,\"k\":2}],\"a\":3}}", "ch");
    assert_string_equal(t, "0 {\"raw\":{\"a\":3,\"b\":[{\"k\":2}]},\"x\":\"1\"}\n");
    free(t);
    /* each, rejections in between, nested objects copied as they are */
    free(both_ways(HDR "each .o[]\nexternal_id = .id | required\nnotes = .x\nlines[] = .l\n",
                   "{\"o\":[{\"id\":1,\"x\":{\"deep\":[1,{\"y\":null}]},\"l\":[\"a\",\"b\"]},{},"
                   "{\"id\":\"\\u00fcml\\u00e4ut\"}]}",
                   "ch"));
    /* a root list (to a format) and a document error */
    free(both_ways("from json\nto json\n[] = .a[]\n[].v = .\n", "{\"a\":[1,\"x\"]}", "ch"));
    free(both_ways(HDR "number = .n\n", "{\"n\":", "ch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_metadata_and_load),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_xml_like_paths),
        cmocka_unit_test(test_each_and_rejections),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_group_by),
        cmocka_unit_test(test_repeated_blocks),
        cmocka_unit_test(test_index_add_when),
        cmocka_unit_test(test_channel_rules),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_run_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
