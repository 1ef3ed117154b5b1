/*
 * xml.c — XML decoder (libxml2) and encoder.
 *
 * Tree shape: the document root is an OBJECT with one member named after the
 * root element. An element becomes
 *   - a STRING holding its text when it has no attributes and no child
 *     elements (an empty element is ""), else
 *   - an OBJECT whose members are, in document order: attributes as "@name",
 *     child elements by local name (repeated children are repeated keys, so
 *     `.Item[]` finds them all), and its non-blank text as "#text".
 * Namespaces are dropped (local names only; xmlns declarations vanish).
 *
 * Safety: the parser never touches the network (XML_PARSE_NONET), never
 * loads a DTD, never substitutes entities: a reference to any entity other
 * than the five predefined ones is an error, which also refuses "billion
 * laughs" documents. Nesting beyond opts->max_depth (default 256) and input
 * beyond opts->max_size are errors.
 *
 * The encoder is the inverse: an OBJECT with one member -> the root element;
 * "@x" -> attribute, "#text" -> text, ARRAY -> repeated elements of that
 * name, scalar -> element with text. It writes UTF-8 with a declaration,
 * indented by two spaces.
 */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <string.h>

#include "arena.h"
#include "formats/formats_int.h"

struct xctx {
    struct oh_arena *a;
    size_t max_depth;
    struct oh_err *err;
};

static int too_big(struct xctx *c)
{
    return oh_err_set(c->err, OH_ETOOBIG, "xml: document too large for memory limit");
}

static int has_element_children(xmlNode *n)
{
    for (xmlNode *ch = n->children; ch; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE)
            return 1;
    return 0;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* Text content of n's direct text children; entity references refused. */
static int collect_text(struct xctx *c, xmlNode *n, char **out, size_t *outlen)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;

    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        const char *t;
        size_t tl;
        if (ch->type == XML_ENTITY_REF_NODE)
            return oh_err_set(c->err, OH_EINVAL,
                              "xml: line %ld: entity &%s; refused (entities are not expanded)",
                              xmlGetLineNo(ch), (const char *)ch->name);
        if (ch->type != XML_TEXT_NODE && ch->type != XML_CDATA_SECTION_NODE)
            continue;
        t = (const char *)ch->content;
        tl = t ? strlen(t) : 0;
        if (len + tl + 1 > cap) {
            char *nb;
            size_t ncap = (len + tl + 1) * 2;
            if (!(nb = oh_arena_try_alloc(c->a, ncap)))
                return too_big(c);
            if (len)
                memcpy(nb, buf, len);
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + len, t, tl);
        len += tl;
    }
    if (!buf) {
        if (!(buf = oh_arena_strdup(c->a, "")))
            return too_big(c);
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

static int element(struct xctx *c, xmlNode *n, size_t depth, struct oh_node **out)
{
    struct oh_node *o;
    char *text = NULL;
    size_t tl = 0;
    int rc;

    if (depth >= c->max_depth)
        return oh_err_set(c->err, OH_EINVAL, "xml: line %ld: nesting deeper than the limit of %zu",
                          xmlGetLineNo(n), c->max_depth);
    if ((rc = collect_text(c, n, &text, &tl)) < 0)
        return rc;
    if (!n->properties && !has_element_children(n)) {
        if (!(o = oh_node_new(c->a, OH_NODE_STRING)))
            return too_big(c);
        o->s = text;
        o->len = (uint32_t)tl;
    } else {
        if (!(o = oh_node_new(c->a, OH_NODE_OBJECT)))
            return too_big(c);
        for (xmlAttr *at = n->properties; at; at = at->next) {
            xmlChar *v;
            for (xmlNode *ch = at->children; ch; ch = ch->next)
                if (ch->type == XML_ENTITY_REF_NODE)
                    return oh_err_set(c->err, OH_EINVAL,
                                      "xml: line %ld: entity &%s; refused (entities are not expanded)",
                                      xmlGetLineNo(n), (const char *)ch->name);
            v = xmlNodeListGetString(n->doc, at->children, 1);
            struct oh_node *an;
            char *k = oh_arena_printf(c->a, "@%s", (const char *)at->name);
            an = k ? oh_node_new_str(c->a, OH_NODE_STRING, v ? (const char *)v : "",
                                     v ? strlen((const char *)v) : 0)
                   : NULL;
            xmlFree(v);
            if (!an)
                return too_big(c);
            an->key = k;
            an->key_len = (uint32_t)strlen(k);
            an->line = (uint32_t)xmlGetLineNo(n);
            oh_node_append(o, an);
        }
        for (xmlNode *ch = n->children; ch; ch = ch->next) {
            struct oh_node *cn;
            if (ch->type != XML_ELEMENT_NODE)
                continue;
            if ((rc = element(c, ch, depth + 1, &cn)) < 0)
                return rc;
            if (oh_node_set_key(c->a, cn, (const char *)ch->name, strlen((const char *)ch->name)) < 0)
                return too_big(c);
            oh_node_append(o, cn);
        }
        if (!is_blank(text)) {
            struct oh_node *tn = oh_node_new(c->a, OH_NODE_STRING);
            if (!tn)
                return too_big(c);
            tn->s = text;
            tn->len = (uint32_t)tl;
            tn->key = "#text";
            tn->key_len = 5;
            oh_node_append(o, tn);
        }
    }
    o->line = (uint32_t)xmlGetLineNo(n);
    o->col = 1;
    *out = o;
    return 0;
}

static int decode(struct oh_arena *a, const char *data, size_t len, const struct oh_format_opts *o,
                  struct oh_node **out, struct oh_err *err)
{
    struct xctx c = {.a = a, .err = err};
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    xmlNode *rootel;
    struct oh_node *root = NULL, *el = NULL;
    int rc = 0;

    c.max_depth = o && o->max_depth ? o->max_depth : OH_FORMAT_DEFAULT_DEPTH;
    if (o && o->max_size && len > o->max_size)
        return oh_err_set(err, OH_ETOOBIG, "xml: document of %zu bytes is over the limit of %zu",
                          len, o->max_size);
    if (len > INT32_MAX)
        return oh_err_set(err, OH_ETOOBIG, "xml: document of %zu bytes is too large", len);
    if (len == 0)
        return oh_err_set(err, OH_EINVAL, "xml: empty document");
    if (!(ctxt = xmlNewParserCtxt()))
        return oh_err_set(err, OH_ERROR, "xml: out of memory");
    doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                XML_PARSE_NOCDATA);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[256];
        size_t ml;
        snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "not well-formed");
        ml = strlen(msg);
        while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
            msg[--ml] = '\0';
        rc = oh_err_set(err, OH_EINVAL, "xml: line %d col %d: %s", e ? e->line : 0,
                        e ? e->int2 : 0, msg);
        goto done;
    }
    if (!(rootel = xmlDocGetRootElement(doc))) {
        rc = oh_err_set(err, OH_EINVAL, "xml: no root element");
        goto done;
    }
    if ((rc = element(&c, rootel, 0, &el)) < 0)
        goto done;
    if (!(root = oh_node_new(a, OH_NODE_OBJECT)) ||
        oh_node_set_key(a, el, (const char *)rootel->name, strlen((const char *)rootel->name)) < 0) {
        rc = too_big(&c);
        goto done;
    }
    oh_node_append(root, el);
    root->line = 1;
    *out = root;
done:
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

static void esc(FILE *f, const char *s, size_t n, int attr)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"':
            if (attr) {
                fputs("&quot;", f);
                break;
            }
            /* fall through */
        default: fputc(s[i], f);
        }
    }
}

static int valid_name(const char *s, size_t n)
{
    if (!n || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_' ||
                (unsigned char)s[0] >= 0x80))
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || ch == ':' || ch >= 0x80))
            return 0;
    }
    return 1;
}

static int write_el(FILE *f, const char *name, size_t nl, const struct oh_node *n, int depth,
                    struct oh_err *err)
{
    int rc, kids = 0;

    if (n->type == OH_NODE_ARRAY) {
        for (const struct oh_node *c = n->first; c; c = c->next)
            if ((rc = write_el(f, name, nl, c, depth, err)) < 0)
                return rc;
        return 0;
    }
    if (!valid_name(name, nl))
        return oh_err_set(err, OH_EINVAL, "xml: \"%.*s\" is not an element name", (int)nl, name);
    fprintf(f, "%*s<%.*s", depth * 2, "", (int)nl, name);
    if (n->type != OH_NODE_OBJECT) {
        if (n->type == OH_NODE_NULL || !n->len) {
            fputs("/>\n", f);
            return 0;
        }
        fputc('>', f);
        esc(f, n->s, n->len, 0);
        fprintf(f, "</%.*s>\n", (int)nl, name);
        return 0;
    }
    for (const struct oh_node *c = n->first; c; c = c->next) {
        if (c->key_len > 1 && c->key[0] == '@') {
            if (!oh_node_is_scalar(c) || !valid_name(c->key + 1, c->key_len - 1))
                return oh_err_set(err, OH_EINVAL, "xml: bad attribute %s", c->key);
            fprintf(f, " %.*s=\"", (int)c->key_len - 1, c->key + 1);
            esc(f, oh_node_str(c), c->s ? c->len : 0, 1);
            fputc('"', f);
        } else {
            kids = 1;
        }
    }
    if (!kids) {
        fputs("/>\n", f);
        return 0;
    }
    fputs(">\n", f);
    for (const struct oh_node *c = n->first; c; c = c->next) {
        if (c->key_len > 1 && c->key[0] == '@')
            continue;
        if (c->key_len == 5 && memcmp(c->key, "#text", 5) == 0) {
            fprintf(f, "%*s", (depth + 1) * 2, "");
            esc(f, oh_node_str(c), c->s ? c->len : 0, 0);
            fputc('\n', f);
            continue;
        }
        if ((rc = write_el(f, c->key, c->key_len, c, depth + 1, err)) < 0)
            return rc;
    }
    fprintf(f, "%*s</%.*s>\n", depth * 2, "", (int)nl, name);
    return 0;
}

static int encode(const struct oh_node *root, const struct oh_format_opts *o, FILE *f,
                  struct oh_err *err)
{
    int rc;
    if (!root || root->type != OH_NODE_OBJECT || root->count != 1 ||
        root->first->type == OH_NODE_ARRAY)
        return oh_err_set(err, OH_EINVAL, "xml: the document must be an object with one member "
                                          "(the root element)");
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    if ((rc = write_el(f, root->first->key, root->first->key_len, root->first, 0, err)) < 0)
        return rc;
    return ferror(f) ? oh_err_set(err, OH_ERROR, "xml: write failed") : 0;
}

const struct oh_format oh_format_xml = {
    .name = "xml",
    .decode = decode,
    .encode = encode,
    .check = NULL,
};
