#!/usr/bin/env python3
"""WooCommerce end to end through the real daemon: the fake REST API v3, the
daemon's webhook server, the processor, the store and the dispatcher.

  1. 600 orders polled (50 per page) while the fake answers 429s and 5xx:
     every order stored, one order.created event each.
  2. The same new version of an order via a signed webhook and via the poll:
     stored once (one order.updated event).
  3. A webhook delivered twice with the same delivery id: stored once; the
     creation ping is answered 200; a bad signature: 401, nothing stored.
  4. A canonical shipment JSON (no lines: the whole order) on a `dir`
     channel: shipment.created is routed to @origin (the order's WooCommerce
     channel): one tracking note and the order completed at the fake; an
     unknown order id (404 from WooCommerce) makes the row dead with
     WooCommerce's message (that row is inserted directly, as the processor
     writes them).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, wait_until  # noqa: E402
from e2e import Daemon, Fake, SRC, hmac_b64, settle, store_config, wait_count, write  # noqa: E402

N = 600
SECRET = "woo-hook-secret"
BASIC = "Basic " + __import__("base64").b64encode(b"ck_test_key:cs_test_secret").decode()


def main():
    env = Env("woo_e2e")
    fake = Fake("woocommerce", "--orders", str(N))
    d = None
    try:
        write(env, f"""[hub]
spool = {env.dir}/spool
workers = 2
retry_base = 200ms
retry_max = 1s
outbox_attempts = 5

{store_config(env)}
[http]
listen = 127.0.0.1:0

[channel woo]
type = woocommerce
url = https://shop.example.com
base_url = {fake.url}
consumer_key = env:OH_TEST_WOO_CK
consumer_secret = env:OH_TEST_WOO_CS
webhook_secret = env:OH_TEST_WOO_SECRET
mapping = {SRC}/mappings/woocommerce/order.map
per_page = 50
poll = 1s

[channel sink]
type = dir
path = {env.outbox}
inbound = no

[route created]
on = order.created order.updated
to = sink

[channel wms]
type = dir
path = {env.dir}/wms
pattern = *.json
format = canonical
poll = 1s

[route tracking]
on = shipment.created
to = @origin
""")
        os.makedirs(os.path.join(env.dir, "wms"), exist_ok=True)
        fake.control(op="faults", rate_429=0.08, rate_500=0.08)
        d = Daemon(env, {"OH_TEST_WOO_CK": "ck_test_key", "OH_TEST_WOO_CS": "cs_test_secret",
                         "OH_TEST_WOO_SECRET": SECRET})

        # 1. the poll under faults
        wait_count(env, "SELECT COUNT(*) FROM orders WHERE channel='woo'", N, 240,
                   "every polled order stored")
        fake.control(op="faults", rate_429=0, rate_500=0)
        wait_count(env, "SELECT COUNT(*) FROM outbox WHERE event='order.created'", N, 60,
                   "one order.created per order")
        check(int(env.scalar("SELECT COUNT(DISTINCT order_id) FROM outbox "
                             "WHERE event='order.created'")) == N, "one event per order")

        # 2. the same version by webhook and by poll
        oid = 10010
        fake.control(op="update", ids=[oid], updated_at="now")
        body = json.dumps(fake.control(op="order", id=oid)).encode()
        hdr = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
               "X-WC-Webhook-Signature": hmac_b64(SECRET, body),
               "X-WC-Webhook-Delivery-ID": "d-upd-1"}
        st, _ = d.post("/webhooks/woo", body, hdr)
        check(st == 200, f"signed webhook answered {st}")
        q_upd = (f"SELECT COUNT(*) FROM outbox o JOIN orders r ON r.id = o.order_id "
                 f"WHERE o.event='order.updated' AND r.external_id='{oid}'")
        wait_count(env, q_upd, 1, 30, "the webhook's update stored")
        polls = fake.control(op="stats")["orders_requests"]
        wait_until(lambda: fake.control(op="stats")["orders_requests"] >= polls + 2, 30,
                   "two more polls")
        check(settle(env, q_upd) == "1", "the polled copy of the same version stored nothing new")

        # 3. retry, ping, bad signature
        check(d.post("/webhooks/woo", body, hdr)[0] == 200, "retry acknowledged")
        check(settle(env, "SELECT COUNT(*) FROM documents WHERE source LIKE '%d-upd-1%'") == "1",
              "the retried delivery was spooled once")
        st, _ = d.post("/webhooks/woo", b"webhook_id=17",
                       {"Content-Type": "application/x-www-form-urlencoded"})
        check(st == 200, f"the creation ping answered {st}")
        o = fake.control(op="order", id=10020)
        o["id"] = 990001
        body = json.dumps(o).encode()
        bad = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
               "X-WC-Webhook-Signature": hmac_b64("wrong", body),
               "X-WC-Webhook-Delivery-ID": "d-bad-1"}
        st, _ = d.post("/webhooks/woo", body, bad)
        check(st == 401, f"bad signature answered {st}")
        check(settle(env, "SELECT COUNT(*) FROM documents WHERE source LIKE '%d-bad-1%'") == "0",
              "nothing spooled for the bad signature")
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE external_id='990001'") == "0",
              "nothing stored for the bad signature")

        # 4. tracking back to WooCommerce
        def shipment(ext, payload):
            oid_db = env.scalar(f"SELECT id FROM orders WHERE channel='woo' AND external_id='{ext}'")
            # this row's own id (the daemon adds rows of its own meanwhile)
            return env.sql("INSERT INTO outbox (event, target, origin, order_id, payload, "
                           "next_attempt_at) "
                           f"VALUES ('shipment.created', 'woo', 'woo', {oid_db or 'NULL'}, "
                           f"'{json.dumps(payload)}', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND); "
                           "SELECT LAST_INSERT_ID()")[0][0]

        with open(os.path.join(env.dir, "wms", "s.json.tmp"), "w") as f:
            json.dump({"external_id": "WMS-1", "order_ref": {"external_id": "10001"},
                       "carrier": "DHL", "tracking_number": "JD014600003SE",
                       "shipped_at": "2026-11-23T10:00:00Z"}, f)
        os.rename(os.path.join(env.dir, "wms", "s.json.tmp"),
                  os.path.join(env.dir, "wms", "s.json"))
        wait_until(lambda: env.scalar("SELECT state FROM outbox WHERE event='shipment.created'")
                   == "done", 30, "the ingested shipment's shipment.created delivered")
        check(env.scalar("SELECT target FROM outbox WHERE event='shipment.created'") == "woo",
              "shipment.created went to the order's own channel")
        check(env.scalar("SELECT status FROM orders WHERE external_id='10001'") == "shipped",
              "a shipment without lines ships the whole order")
        pushed = fake.control(op="pushed")
        notes = [n for n in pushed["notes"] if n["order_id"] == 10001]
        check(len(notes) == 1 and "JD014600003SE" in notes[0]["note"],
              f"one tracking note: {notes}")
        ups = [u for u in pushed["order_updates"] if u["id"] == 10001]
        check(len(ups) == 1 and ups[0]["request"].get("status") == "completed",
              f"order completed once: {ups}")

        sid = shipment("77777777", {"order_external_id": "77777777", "carrier": "DHL",
                                    "tracking_number": "JDBAD"})
        wait_until(lambda: env.scalar(f"SELECT state FROM outbox WHERE id={sid}") == "dead", 30,
                   "the 404 makes the row dead")
        err = env.scalar(f"SELECT last_error FROM outbox WHERE id={sid}")
        check("Invalid order ID" in err, f"WooCommerce's message kept: {err}")
        check(env.scalar(f"SELECT attempts FROM outbox WHERE id={sid}") == "1", "not retried")

        check(d.stop() == 0, "daemon stopped cleanly")
        d = None
        print("ok: woocommerce end to end")
    finally:
        if d:
            d.stop()
        fake.stop()
        env.close()


if __name__ == "__main__":
    main()
