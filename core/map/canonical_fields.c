/*
 * canonical_fields.c — the target names a mapping may use for each canonical
 * kind (DESIGN §4), the one list the mapping compiler checks against.
 * "x[]" is a repeated block (or, for tags[], a list of strings); "x[].y" a
 * field of its elements. Add names here, never rename them.
 */
#include <string.h>

#include "map/map.h"

#define ADDR(p)                                                                                   \
    p ".name", p ".company", p ".line1", p ".line2", p ".city", p ".region", p ".postal_code",   \
        p ".country", p ".phone", p ".email"

static const char *const order_fields[] = {
    "channel", "external_id", "number", "status", "placed_at", "updated_at", "currency",
    "subtotal", "shipping_total", "tax_total", "discount_total", "total", "po_number", "notes",
    "tags[]", "customer.external_id", "customer.email", "customer.name", "customer.phone",
    ADDR("bill_to"), ADDR("ship_to"), "ship_method", "ship_by", "deliver_by",
    "partner.sender_id", "partner.receiver_id", "lines[]", "lines[].line_no",
    "lines[].external_id", "lines[].sku", "lines[].gtin", "lines[].title", "lines[].qty",
    "lines[].uom", "lines[].unit_price", "lines[].tax", "lines[].discount", NULL,
};

/* "order ref" of DESIGN §4 is order_ref.{channel,external_id,number}. */
static const char *const shipment_fields[] = {
    "channel", "external_id", "order_ref.channel", "order_ref.external_id", "order_ref.number",
    "carrier", "service", "tracking_number", "label.format", "label.path", "shipped_at",
    "packages[]", "packages[].weight", "packages[].dims", "lines[]", "lines[].line_no",
    "lines[].sku", "lines[].qty", NULL,
};

static const char *const inventory_fields[] = {
    "channel", "sku", "location", "on_hand", "reserved", "available", "updated_at", NULL,
};

static const char *const return_fields[] = {
    "channel", "external_id", "order_ref.channel", "order_ref.external_id", "order_ref.number",
    "status", "reason", "lines[]", "lines[].sku", "lines[].qty", "refund", NULL,
};

const char *const *oh_map_canonical_fields(const char *kind)
{
    if (!kind)
        return NULL;
    if (strcmp(kind, "order") == 0)
        return order_fields;
    if (strcmp(kind, "shipment") == 0)
        return shipment_fields;
    if (strcmp(kind, "inventory") == 0)
        return inventory_fields;
    if (strcmp(kind, "return") == 0)
        return return_fields;
    return NULL;
}

int oh_map_is_kind(const char *name)
{
    return oh_map_canonical_fields(name) != NULL;
}
