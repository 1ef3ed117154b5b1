/* test_formats_xml.c — the XML decoder (libxml2) and encoder. */
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

static int dec(const char *s, struct oh_node **out, struct oh_err *err)
{
    return oh_format_find("xml")->decode(A, s, strlen(s), NULL, out, err);
}

static void test_shape(void **state)
{
    const char *in = "<?xml version=\"1.0\"?>\n"
                     "<o:Order xmlns:o=\"urn:x\" xmlns:c=\"urn:c\" id=\"7\">\n"
                     "  <c:ID>A-1</c:ID>\n"
                     "  <Note></Note>\n"
                     "  <Item n=\"1\"><Sku>S1</Sku></Item>\n"
                     "  <Item n=\"2\"><Sku>S2</Sku></Item>\n"
                     "  <Money currency=\"EUR\">85.00</Money>\n"
                     "  <Text>a &amp; b &#233; <![CDATA[<raw>]]></Text>\n"
                     "</o:Order>\n";
    struct oh_node *n = NULL;
    const struct oh_node *o, *m;
    struct oh_err err = {0};
    (void)state;
    assert_int_equal(dec(in, &n, &err), 0);
    assert_int_equal(n->type, OH_NODE_OBJECT);
    assert_int_equal(n->count, 1);
    o = oh_node_get(n, "Order"); /* namespace prefix dropped */
    assert_non_null(o);
    assert_string_equal(oh_node_get(o, "@id")->s, "7");
    assert_string_equal(oh_node_get(o, "ID")->s, "A-1");
    assert_int_equal(oh_node_get(o, "ID")->type, OH_NODE_STRING);
    assert_int_equal(oh_node_get(o, "ID")->line, 3);
    assert_string_equal(oh_node_get(o, "Note")->s, "");
    /* repeated children are repeated keys, in order */
    assert_string_equal(oh_node_get(oh_node_at(o, 3), "Sku")->s, "S1");
    assert_string_equal(oh_node_at(o, 3)->key, "Item");
    assert_string_equal(oh_node_at(o, 4)->key, "Item");
    assert_string_equal(oh_node_get(oh_node_at(o, 4), "@n")->s, "2");
    m = oh_node_get(o, "Money");
    assert_string_equal(oh_node_get(m, "@currency")->s, "EUR");
    assert_string_equal(oh_node_get(m, "#text")->s, "85.00");
    assert_string_equal(oh_node_get(o, "Text")->s, "a & b \xc3\xa9 <raw>");
}

static void test_entities_refused(void **state)
{
    const char *bomb = "<?xml version=\"1.0\"?>\n"
                       "<!DOCTYPE lolz [\n"
                       " <!ENTITY lol \"lol\">\n"
                       " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                       " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
                       " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                       "]>\n"
                       "<lolz>&lol3;</lolz>\n";
    const char *xxe = "<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                      "<r>&x;</r>\n";
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    (void)state;
    /* libxml2 itself may stop the amplification first; either way no tree */
    assert_int_equal(dec(bomb, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "xml: line 8"));
    assert_int_equal(dec("<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>", &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "entity &e; refused"));
    assert_int_equal(dec("<!DOCTYPE r [<!ENTITY e \"x\">]><r a=\"&e;\"/>", &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "entity &e; refused"));
    assert_int_equal(dec(xxe, &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "entity &x; refused"));
}

static void test_errors_and_limits(void **state)
{
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    struct oh_format_opts o = {.max_depth = 3};
    char *deep;
    size_t k = 0;
    (void)state;
    assert_int_equal(dec("", &n, &err), OH_EINVAL);
    assert_int_equal(dec("<a>\n<b></a>", &n, &err), OH_EINVAL);
    assert_non_null(strstr(err.msg, "xml: line 2"));
    assert_int_equal(dec("not xml", &n, &err), OH_EINVAL);
    assert_int_equal(oh_format_find("xml")->decode(A, "<a><b><c><d/></c></b></a>", 25, &o, &n, &err),
                     OH_EINVAL);
    assert_non_null(strstr(err.msg, "nesting deeper than the limit of 3"));
    deep = malloc(300 * 7 + 1);
    for (int i = 0; i < 300; i++)
        k += (size_t)sprintf(deep + k, "<a>");
    for (int i = 0; i < 300; i++)
        k += (size_t)sprintf(deep + k, "</a>");
    assert_int_equal(dec(deep, &n, &err), OH_EINVAL);
    free(deep);
    o.max_depth = 0;
    o.max_size = 4;
    assert_int_equal(oh_format_find("xml")->decode(A, "<a/>  ", 6, &o, &n, &err), OH_ETOOBIG);
}

static void test_encode(void **state)
{
    const char *in = "<Ship id=\"1\"><To>A &amp; B</To><Pkg>1</Pkg><Pkg>2</Pkg><Empty/></Ship>";
    struct oh_node *n = NULL;
    struct oh_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;
    assert_int_equal(dec(in, &n, &err), 0);
    f = open_memstream(&buf, &len);
    assert_int_equal(oh_format_find("xml")->encode(n, NULL, f, &err), 0);
    fclose(f);
    assert_string_equal(buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<Ship id=\"1\">\n"
                             "  <To>A &amp; B</To>\n"
                             "  <Pkg>1</Pkg>\n"
                             "  <Pkg>2</Pkg>\n"
                             "  <Empty/>\n"
                             "</Ship>\n");
    free(buf);
    /* an array root cannot be a document */
    f = open_memstream(&buf, &len);
    assert_int_equal(oh_format_find("xml")->encode(oh_node_new(A, OH_NODE_ARRAY), NULL, f, &err),
                     OH_EINVAL);
    fclose(f);
    free(buf);
}

static void test_fixtures(void **state)
{
    static const char *files[] = {
        "xml/cxml-OrderRequest-cxml-php.xml", "xml/cxml-InvoiceDetailRequest-officeluv.xml",
        "xml/ubl-Order-2.1-example.xml",      "xml/ubl-DespatchAdvice-2.0-example.xml",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024], *data = NULL;
        size_t len = 0;
        struct oh_node *n = NULL;
        struct oh_err err = {0};
        snprintf(path, sizeof(path), "%s/%s", OH_FIXTURES, files[i]);
        assert_int_equal(oh_read_file(path, 0, &data, &len, &err), 0);
        if (oh_format_find("xml")->decode(A, data, len, NULL, &n, &err) != 0)
            fail_msg("%s: %s", files[i], err.msg);
        if (i == 0) {
            const struct oh_node *h = oh_node_get(oh_node_get(oh_node_get(oh_node_get(
                oh_node_get(n, "cXML"), "Request"), "OrderRequest"), "OrderRequestHeader"), "@orderID");
            assert_string_equal(h->s, "DO1234");
        }
        free(data);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entities_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixtures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
