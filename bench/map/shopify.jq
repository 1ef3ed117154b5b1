# bench/map/shopify.jq — the same records as shopify.map, with jq.
def utc:
  capture("^(?<d>[0-9-]+T[0-9:]+)(?<f>\\.[0-9]+)?(?<z>Z|[+-][0-9]{2}:[0-9]{2})$") as $c
  | ($c.d + "Z" | fromdateiso8601)
    - (if $c.z == "Z" then 0
       else (($c.z[1:3] | tonumber) * 3600 + ($c.z[4:6] | tonumber) * 60)
            * (if $c.z[0:1] == "-" then -1 else 1 end) end)
  | todateiso8601;
def status:
  {"pending": "pending", "authorized": "accepted", "paid": "accepted",
   "partially_refunded": "accepted", "refunded": "cancelled"}[.] // "pending";
def clean: walk(if type == "object" then with_entries(select(.value != null and .value != "")) else . end);
. as $o
| {
    channel: "bench",
    external_id: ($o.id | tostring),
    number: $o.name,
    status: ($o.financial_status | status),
    placed_at: ($o.created_at | utc),
    updated_at: ($o.updated_at | utc),
    currency: $o.currency,
    subtotal: $o.subtotal_price,
    tax_total: $o.total_tax,
    discount_total: $o.total_discounts,
    total: $o.total_price,
    notes: $o.note,
    tags: (if ($o.tags // "") == "" then null else [$o.tags | split(",")[] | gsub("^\\s+|\\s+$"; "") | select(. != "")] end),
    customer: {
      external_id: ($o.customer.id | tostring),
      email: ($o.email | ascii_downcase),
      name: ($o.customer.first_name + " " + $o.customer.last_name)
    },
    ship_to: {
      name: $o.shipping_address.name,
      line1: $o.shipping_address.address1,
      line2: $o.shipping_address.address2,
      city: $o.shipping_address.city,
      region: $o.shipping_address.province_code,
      postal_code: $o.shipping_address.zip,
      country: ($o.shipping_address.country_code | ascii_upcase),
      phone: $o.shipping_address.phone
    },
    ship_method: $o.shipping_lines[0].title,
    lines: [$o.line_items[] | {
      external_id: (.id | tostring),
      sku: .sku,
      title: .name,
      qty: .quantity,
      unit_price: .price
    }]
  }
| clean
