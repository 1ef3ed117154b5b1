#!/usr/bin/env python3
"""Privacy webhooks and `orderhub erase-customer` through the real daemon.

  * customers/data_request: an export file under [hub] exports holding the
    customer's orders; audit_log records it.
  * customers/redact: the customer's email/name/phone, address lines and
    notes are gone from the store, order numbers, SKUs and amounts stay; the
    archived raw payload that named the customer is deleted and its
    documents.source cleared; other customers are untouched.
  * erase-customer --email on the CLI: the same for another customer.
  * shop/redact: every order of the channel erased.
  * seen keys: a 3-day-old key is pruned at start-up (seen_retention = 2d),
    a fresh webhook id stays.
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, wait_until  # noqa: E402
from e2e import Daemon, SRC, hmac_b64, store_config, wait_count, write  # noqa: E402

SECRET = "privacy-secret"


def order(oid, cust, email, first, last):
    return {"id": oid, "name": f"#{oid}", "email": email, "created_at": "2026-11-20T09:00:00Z",
            "updated_at": "2026-11-20T09:00:00Z", "currency": "EUR", "total_price": "42.50",
            "financial_status": "paid", "note": f"call {first} first",
            "customer": {"id": cust, "first_name": first, "last_name": last, "phone": "+4930123"},
            "billing_address": {"name": f"{first} {last}", "address1": "Hauptstr. 1",
                                "city": "Berlin", "zip": "10115", "country_code": "DE"},
            "shipping_address": {"name": f"{first} {last}", "address1": "Hauptstr. 1",
                                 "city": "Berlin", "zip": "10115", "country_code": "DE"},
            "line_items": [{"id": oid * 10, "sku": "SKU-1", "quantity": 2, "price": "21.25"}]}


def main():
    env = Env("privacy")
    d = None
    try:
        write(env, f"""[hub]
spool = {env.dir}/spool
archive = yes
exports = {env.dir}/exports
seen_retention = 2d
workers = 1

{store_config(env)}
[http]
listen = 127.0.0.1:0

[channel shop]
type = shopify
shop = acme.myshopify.com
base_url = http://127.0.0.1:9
access_token = test-token
webhook_secret = env:OH_TEST_SECRET
mapping = {SRC}/mappings/shopify/webhook.map
inbound = no
""")
        # seen keys from before: one 3 days old, one 1 day old
        env.run("migrate", env={"OH_TEST_SECRET": SECRET})
        env.sql("INSERT INTO seen_keys (channel, seen_key, created_at) VALUES "
                "('shop', 'webhook:old', UTC_TIMESTAMP(3) - INTERVAL 3 DAY), "
                "('shop', 'webhook:recent', UTC_TIMESTAMP(3) - INTERVAL 1 DAY)")
        d = Daemon(env, {"OH_TEST_SECRET": SECRET})
        n = [0]

        def hook(topic, obj):
            n[0] += 1
            body = json.dumps(obj).encode()
            st, _ = d.post("/webhooks/shop", body, {
                "Content-Type": "application/json", "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": hmac_b64(SECRET, body),
                "X-Shopify-Webhook-Id": f"wh-{n[0]}"})
            check(st == 200, f"{topic} answered {st}")

        hook("orders/create", order(1001, 501, "anna@example.com", "Anna", "Alpha"))
        hook("orders/create", order(1002, 501, "anna@example.com", "Anna", "Alpha"))
        hook("orders/create", order(1003, 502, "bert@example.com", "Bert", "Beta"))
        hook("orders/create", order(1004, 503, "carl@example.com", "Carl", "Gamma"))
        wait_count(env, "SELECT COUNT(*) FROM orders", 4, 30, "four orders stored")
        wait_until(lambda: len(os.listdir(f"{env.dir}/spool/archive")) == 4, 30, "archived")

        # seen-key pruning ran at start
        wait_until(lambda: env.scalar("SELECT COUNT(*) FROM seen_keys WHERE seen_key='webhook:old'") == "0",
                   30, "the 3-day-old key pruned")
        check(env.scalar("SELECT COUNT(*) FROM seen_keys WHERE seen_key='webhook:recent'") == "1",
              "the 1-day-old key kept (inside the 48h floor)")
        check(env.scalar("SELECT COUNT(*) FROM seen_keys WHERE seen_key='webhook:wh-1'") == "1",
              "a fresh webhook id kept")

        # data request
        hook("customers/data_request", {"shop_id": 1, "shop_domain": "acme.myshopify.com",
                                        "orders_requested": [1001, 1002],
                                        "customer": {"id": 501, "email": "anna@example.com"},
                                        "data_request": {"id": 9999}})
        wait_until(lambda: glob.glob(f"{env.dir}/exports/data-request-shop-9999-*.json"), 30,
                   "the export file")
        exp = json.load(open(glob.glob(f"{env.dir}/exports/data-request-shop-9999-*.json")[0]))
        check(sorted(o["external_id"] for o in exp["orders"]) == ["1001", "1002"],
              f"the customer's orders exported: {[o['external_id'] for o in exp['orders']]}")
        check(exp["orders"][0]["customer"]["email"] == "anna@example.com", "with what we hold")
        check(env.scalar("SELECT COUNT(*) FROM audit_log WHERE action='customer.data_request'") == "1",
              "data request audited")

        # customers/redact by id (the payload's email matches too)
        hook("customers/redact", {"shop_id": 1, "shop_domain": "acme.myshopify.com",
                                  "customer": {"id": 501, "email": "anna@example.com"},
                                  "orders_to_redact": [1001, 1002]})
        wait_until(lambda: env.scalar("SELECT COUNT(*) FROM orders WHERE customer_email IS NULL") == "2",
                   30, "Anna's orders erased")
        rows = env.sql("SELECT external_id, number, total, customer_name, customer_phone, notes "
                       "FROM orders WHERE external_id IN ('1001','1002') ORDER BY external_id")
        for r in rows:
            check(r[1] == f"#{r[0]}" and r[2] == "42.5000", f"number and total kept: {r}")
            check(r[3] == "NULL" and r[4] == "NULL" and r[5] == "NULL", f"personal data gone: {r}")
        check(env.scalar("SELECT COUNT(*) FROM addresses a JOIN orders o ON o.id=a.order_id WHERE "
                         "o.external_id IN ('1001','1002') AND (name IS NOT NULL OR line1 IS NOT NULL)")
              == "0", "address names and lines gone")
        check(env.scalar("SELECT COUNT(*) FROM addresses a JOIN orders o ON o.id=a.order_id WHERE "
                         "o.external_id='1001' AND city='Berlin'") == "2", "city kept")
        check(env.scalar("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id=l.order_id WHERE "
                         "o.external_id='1001' AND sku='SKU-1'") == "1", "SKU kept")
        check(env.scalar("SELECT customer_email FROM orders WHERE external_id='1003'") == "bert@example.com",
              "another customer untouched")
        arch = [open(p, "rb").read() for p in glob.glob(f"{env.dir}/spool/archive/*")]
        check(not any(b"anna@example.com" in a and b"orders/create" in a for a in arch),
              "Anna's raw order payloads deleted from the archive")
        check(any(b"bert@example.com" in a for a in arch), "Bert's raw payload kept")
        # Anna's two orders and the earlier data request, which named her too
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE source IS NULL") == "3",
              "the erased payloads' document sources cleared")
        check(env.scalar("SELECT COUNT(*) FROM audit_log WHERE action='customer.redact'") == "1",
              "redaction audited")

        # CLI, by email
        p = env.run("erase-customer", "--channel", "shop", "--email", "bert@example.com",
                    env={"OH_TEST_SECRET": SECRET})
        check("1 orders" in p.stdout and "1 raw payloads" in p.stdout, f"CLI said: {p.stdout}")
        check(env.scalar("SELECT customer_email FROM orders WHERE external_id='1003'") == "NULL",
              "the CLI erased Bert")
        check(env.scalar("SELECT customer_email FROM orders WHERE external_id='1004'") == "carl@example.com",
              "Carl untouched")
        p = env.run("erase-customer", "--channel", "shop", check=False, env={"OH_TEST_SECRET": SECRET})
        check(p.returncode == 2, "no customer given: usage error")

        # shop/redact
        hook("shop/redact", {"shop_id": 1, "shop_domain": "acme.myshopify.com"})
        wait_until(lambda: env.scalar("SELECT COUNT(*) FROM orders WHERE customer_email IS NOT NULL") == "0",
                   30, "every order of the shop erased")
        arch = [open(p, "rb").read() for p in glob.glob(f"{env.dir}/spool/archive/*")]
        check(not any(b"orders/create" in a for a in arch), "no raw order payload left")
        check(env.scalar("SELECT COUNT(*) FROM orders") == "4", "orders themselves kept")

        check(d.stop() == 0, "daemon stopped cleanly")
        d = None
        print("ok: privacy")
    finally:
        if d:
            d.stop()
        env.close()


if __name__ == "__main__":
    main()
