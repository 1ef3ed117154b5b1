#!/usr/bin/env python3
"""bench/map/gen_orders.py N OUT — N Shopify Admin REST orders (the shape of
the orders/create webhook body), one per line, about 8 KB each, deterministic
(seeded). Values are synthetic; field names and nesting follow the REST
Order resource."""
import json
import random
import sys

FIRST = ["Bob", "Amélie", "Jürgen", "Ana", "Li", "Fatima", "John", "Sara", "Olav", "Zoë"]
LAST = ["Norman", "Testé", "Müller", "García", "Wang", "Khan", "Doe", "Smith", "Hansen", "Brown"]
CITIES = [("Louisville", "KY", "US", "40202"), ("Montréal", "QC", "CA", "H2X 1Y4"),
          ("München", "BY", "DE", "80331"), ("Leeds", "ENG", "GB", "LS1 4AP"),
          ("Austin", "TX", "US", "73301")]
PRODUCTS = ["IPod Nano - 8gb", "Mug, white", "Kaffeemühle aus Holz", "T-Shirt (organic)",
            "Notebook A5 – dotted", "USB-C cable 1 m", "Tea towel", "Desk lamp"]
STATUS = ["paid", "paid", "paid", "pending", "authorized", "partially_refunded", "refunded"]
OFFSETS = ["-05:00", "+01:00", "+00:00", "-08:00", "+05:30"]


def money(x):
    return "%.2f" % x


def money_set(x, cur):
    return {"shop_money": {"amount": money(x), "currency_code": cur},
            "presentment_money": {"amount": money(x), "currency_code": cur}}


def address(r, first, last, city):
    c, prov, cc, zipc = city
    return {"first_name": first, "address1": "%d Example Street" % r.randint(1, 999),
            "phone": "555-%03d-%04d" % (r.randint(100, 999), r.randint(0, 9999)), "city": c,
            "zip": zipc, "province": prov, "country": {"US": "United States", "CA": "Canada",
                                                         "DE": "Germany", "GB": "United Kingdom"}[cc],
            "last_name": last, "address2": r.choice(["", "Suite %d" % r.randint(1, 99)]),
            "company": r.choice([None, "Example Corp"]), "latitude": 45.41634, "longitude": -75.6868,
            "name": first + " " + last, "country_code": cc, "province_code": prov}


def order(r, i):
    first, last = r.choice(FIRST), r.choice(LAST)
    city = r.choice(CITIES)
    cur = {"US": "USD", "CA": "CAD", "DE": "EUR", "GB": "GBP"}[city[2]]
    ts = "2026-%02d-%02dT%02d:%02d:%02d%s" % (r.randint(1, 12), r.randint(1, 28), r.randint(0, 23),
                                             r.randint(0, 59), r.randint(0, 59), r.choice(OFFSETS))
    lines = []
    subtotal = 0.0
    for k in range(r.randint(2, 4)):
        price = r.randint(199, 19999) / 100.0
        qty = r.randint(1, 4)
        subtotal += price * qty
        title = r.choice(PRODUCTS)
        lines.append({
            "id": 466157049 + i * 10 + k, "admin_graphql_api_id": "gid://shopify/LineItem/%d" % (466157049 + i * 10 + k),
            "fulfillable_quantity": qty, "fulfillment_service": "manual", "fulfillment_status": None,
            "gift_card": False, "grams": r.randint(50, 2000), "name": title + " - " + r.choice(["red", "green", "black"]),
            "price": money(price), "price_set": money_set(price, cur), "product_exists": True,
            "product_id": 632910392 + k, "properties": [{"name": "Custom Engraving", "value": "Happy Birthday"}] if k == 0 else [],
            "quantity": qty, "requires_shipping": True, "sku": "SKU-%05d-%d" % (r.randint(0, 99999), k),
            "taxable": True, "title": title, "total_discount": "0.00", "total_discount_set": money_set(0, cur),
            "variant_id": 39072856 + k, "variant_inventory_management": "shopify", "variant_title": "green",
            "vendor": None, "tax_lines": [{"channel_liable": None, "price": money(price * 0.06), "price_set": money_set(price * 0.06, cur),
                                           "rate": 0.06, "title": "State Tax"}],
            "duties": [], "discount_allocations": []})
    tax = subtotal * 0.06
    total = subtotal + tax
    addr = address(r, first, last, city)
    return {
        "id": 450789469 + i, "admin_graphql_api_id": "gid://shopify/Order/%d" % (450789469 + i),
        "app_id": None, "browser_ip": "0.0.0.0", "buyer_accepts_marketing": False, "cancel_reason": None,
        "cancelled_at": None, "cart_token": "68778783ad298f1c80c3bafcddeea02f", "checkout_id": 901414060 + i,
        "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c",
        "client_details": {"accept_language": None, "browser_height": None, "browser_ip": "0.0.0.0",
                           "browser_width": None, "session_hash": None, "user_agent": None},
        "closed_at": None, "confirmed": True, "contact_email": "%s.%s@Example.com" % (first.lower(), i),
        "created_at": ts, "currency": cur, "current_subtotal_price": money(subtotal),
        "current_subtotal_price_set": money_set(subtotal, cur), "current_total_discounts": "0.00",
        "current_total_discounts_set": money_set(0, cur), "current_total_price": money(total),
        "current_total_price_set": money_set(total, cur), "current_total_tax": money(tax),
        "current_total_tax_set": money_set(tax, cur), "customer_locale": "en", "discount_codes": [],
        "email": "%s.%s@Example.COM" % (first, i), "estimated_taxes": False,
        "financial_status": r.choice(STATUS), "fulfillment_status": None, "gateway": "bogus",
        "landing_site": "http://www.example.com?source=abc", "landing_site_ref": "abc",
        "location_id": None, "name": "#%d" % (1001 + i), "note": r.choice([None, "", "Please gift wrap."]),
        "note_attributes": [{"name": "custom engraving", "value": "Happy Birthday"}],
        "number": 1 + i, "order_number": 1001 + i,
        "order_status_url": "https://example.myshopify.com/548380009/orders/%d/authenticate?key=abc" % i,
        "payment_gateway_names": ["bogus"], "phone": "+1555%07d" % i, "presentment_currency": cur,
        "processed_at": ts, "processing_method": "direct", "reference": "fhwdgads", "referring_site": "http://www.otherexample.com",
        "source_identifier": "fhwdgads", "source_name": "web", "subtotal_price": money(subtotal),
        "subtotal_price_set": money_set(subtotal, cur), "tags": r.choice(["", "vip", "vip, wholesale", "gift, rush, vip"]),
        "tax_lines": [{"price": money(tax), "rate": 0.06, "title": "State Tax", "price_set": money_set(tax, cur)}],
        "taxes_included": False, "test": False, "token": "b1946ac92492d2347c6235b4d2611184",
        "total_discounts": "0.00", "total_discounts_set": money_set(0, cur), "total_line_items_price": money(subtotal),
        "total_line_items_price_set": money_set(subtotal, cur), "total_price": money(total),
        "total_price_set": money_set(total, cur), "total_price_usd": money(total), "total_shipping_price_set": money_set(0, cur),
        "total_tax": money(tax), "total_tax_set": money_set(tax, cur), "total_tip_received": "0.00",
        "total_weight": 600, "updated_at": ts, "user_id": None,
        "billing_address": addr, "shipping_address": dict(addr),
        "customer": {"id": 207119551 + i, "email": "%s.%s@example.com" % (first.lower(), i),
                     "accepts_marketing": False, "created_at": ts, "updated_at": ts, "first_name": first,
                     "last_name": last, "orders_count": 1, "state": "disabled", "total_spent": money(total),
                     "last_order_id": 450789469 + i, "note": None, "verified_email": True,
                     "multipass_identifier": None, "tax_exempt": False, "phone": None, "tags": "",
                     "last_order_name": "#%d" % (1001 + i), "currency": cur,
                     "default_address": dict(addr, id=207119551 + i, customer_id=207119551 + i, default=True)},
        "line_items": lines,
        "shipping_lines": [{"id": 369256396 + i, "carrier_identifier": None, "code": "Free Shipping",
                            "discounted_price": "0.00", "discounted_price_set": money_set(0, cur), "phone": None,
                            "price": "0.00", "price_set": money_set(0, cur), "source": "shopify",
                            "title": "Free Shipping", "tax_lines": [], "discount_allocations": []}],
        "fulfillments": [], "refunds": [],
        "payment_details": {"credit_card_bin": None, "avs_result_code": None, "cvv_result_code": None,
                            "credit_card_number": "•••• •••• •••• 4242", "credit_card_company": "Visa"},
    }


def main():
    n = int(sys.argv[1])
    r = random.Random(20261123)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(order(r, i), ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


if __name__ == "__main__":
    main()
