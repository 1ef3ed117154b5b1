#!/usr/bin/env python3
"""Shopify end to end through the real daemon: the fake Admin API, the
daemon's webhook server, the processor, the store and the dispatcher.

  1. 800 orders polled (50 per page) while the fake answers 429s and 5xx:
     every order stored, one order.created event each.
  2. The same new version of an order via a signed webhook and via the poll:
     stored once (one order.updated event).
  3. A webhook-only order, delivered twice with the same webhook id: stored
     once. A bad signature: 401, nothing spooled, nothing stored.
  4. A 3PL's shipment confirmation CSV on a `dir` channel: the shipment is
     stored, shipment.created is routed to @origin (the order's Shopify
     channel) and makes exactly one fulfillment at the fake with the
     tracking number; a 422 from the fake makes the row dead with Shopify's
     own message (the fake answers the POST with 422; that row is inserted
     directly, as the processor writes them).
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, wait_until  # noqa: E402
from e2e import Daemon, Fake, SRC, hmac_b64, settle, store_config, wait_count, write  # noqa: E402

N = 800
SECRET = "whsec-test-1"
TOKEN = "shpat_test_token"
API = "/admin/api/2024-10"


def main():
    env = Env("shopify_e2e")
    fake = Fake("shopify", "--orders", str(N), "--bucket", "40", "--leak", "20")
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

[channel shop]
type = shopify
shop = acme.myshopify.com
base_url = {fake.url}
access_token = env:OH_TEST_SHOPIFY_TOKEN
webhook_secret = env:OH_TEST_SHOPIFY_SECRET
mapping = {SRC}/mappings/shopify/webhook.map
page_limit = 50
poll = 1s
leak_rate = 20

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
pattern = *.csv
mapping = {SRC}/mappings/shipment-csv/shipments.map
poll = 1s

[route tracking]
on = shipment.created
to = @origin
""")
        os.makedirs(os.path.join(env.dir, "wms"), exist_ok=True)
        fake.control(op="faults", rate_429=0.08, rate_500=0.08)
        d = Daemon(env, {"OH_TEST_SHOPIFY_TOKEN": TOKEN, "OH_TEST_SHOPIFY_SECRET": SECRET})

        # 1. the poll under faults
        wait_count(env, "SELECT COUNT(*) FROM orders WHERE channel='shop'", N, 240,
                   "every polled order stored")
        fake.control(op="faults", rate_429=0, rate_500=0)
        wait_count(env, "SELECT COUNT(*) FROM outbox WHERE event='order.created'", N, 60,
                   "one order.created per order")
        stats = fake.control(op="stats")
        check(stats["throttled"] > 0, f"the fake throttled nothing: {stats}")
        check(int(env.scalar("SELECT COUNT(DISTINCT order_id) FROM outbox "
                             "WHERE event='order.created'")) == N, "one event per order")
        check(env.scalar("SELECT total FROM orders WHERE external_id='5000000007'") == "17.0700",
              "money stored exactly")

        # 2. the same version by webhook and by poll
        oid = 5000000010
        fake.control(op="update", ids=[oid], updated_at="now")
        body = json.dumps(fake.get(f"{API}/orders/{oid}.json",
                                   {"X-Shopify-Access-Token": TOKEN})["order"]).encode()
        st, _ = d.post("/webhooks/shop", body, {
            "Content-Type": "application/json", "X-Shopify-Topic": "orders/updated",
            "X-Shopify-Hmac-Sha256": hmac_b64(SECRET, body), "X-Shopify-Webhook-Id": "wh-upd-1"})
        check(st == 200, f"signed webhook answered {st}")
        q_upd = (f"SELECT COUNT(*) FROM outbox o JOIN orders r ON r.id = o.order_id "
                 f"WHERE o.event='order.updated' AND r.external_id='{oid}'")
        wait_count(env, q_upd, 1, 30, "the webhook's update stored")
        # let at least two more polls run over the updated order
        polls = fake.control(op="stats")["orders_requests"]
        wait_until(lambda: fake.control(op="stats")["orders_requests"] >= polls + 2, 30,
                   "two more polls")
        check(settle(env, q_upd) == "1", "the polled copy of the same version stored nothing new")
        check(env.scalar("SELECT COUNT(*) FROM orders") == str(N), "no extra order rows")

        # 3. webhook-only order; retry; bad signature
        o = fake.get(f"{API}/orders/5000000000.json", {"X-Shopify-Access-Token": TOKEN})["order"]
        o["id"], o["name"] = 7100000001, "#WEB-1"
        body = json.dumps(o).encode()
        hdr = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Hmac-Sha256": hmac_b64(SECRET, body), "X-Shopify-Webhook-Id": "wh-new-1"}
        check(d.post("/webhooks/shop", body, hdr)[0] == 200, "new order webhook accepted")
        st, ans = d.post("/webhooks/shop", body, hdr)
        check(st == 200 and "duplicate" in json.dumps(ans),
              f"retry acknowledged as a duplicate (remembered or still queued): {st} {ans!r}")
        wait_count(env, "SELECT COUNT(*) FROM seen_keys WHERE channel='shop' AND "
                   "seen_key='webhook:wh-new-1'", 1, 30, "the webhook id written to the store")
        wait_count(env, "SELECT COUNT(*) FROM orders WHERE external_id='7100000001'", 1, 30,
                   "the webhook order stored")
        check(settle(env, "SELECT COUNT(*) FROM documents WHERE source LIKE '%wh-new-1%'") == "1",
              "the retried delivery was spooled once")
        check(env.scalar("SELECT COUNT(*) FROM outbox o JOIN orders r ON r.id=o.order_id "
                         "WHERE r.external_id='7100000001' AND o.event='order.created'") == "1",
              "one order.created for the webhook order")

        o["id"], o["name"] = 7100000002, "#WEB-2"
        body = json.dumps(o).encode()
        bad = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Hmac-Sha256": hmac_b64("not-the-secret", body),
               "X-Shopify-Webhook-Id": "wh-bad-1"}
        st, _ = d.post("/webhooks/shop", body, bad)
        check(st == 401, f"bad signature answered {st}")
        bad["X-Shopify-Hmac-Sha256"] = "garbage"
        check(d.post("/webhooks/shop", body, bad)[0] == 401, "malformed signature: 401")
        del bad["X-Shopify-Hmac-Sha256"]
        check(d.post("/webhooks/shop", body, bad)[0] == 401, "missing signature: 401")
        check(settle(env, "SELECT COUNT(*) FROM documents WHERE source LIKE '%wh-bad-1%'") == "0",
              "nothing spooled for the bad signature")
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE external_id='7100000002'") == "0",
              "nothing stored for the bad signature")
        check(env.scalar("SELECT COUNT(*) FROM seen_keys WHERE seen_key LIKE '%wh-bad-1%'") == "0",
              "an unsigned webhook id is not remembered (the real one could still come)")

        # 4. tracking back to Shopify
        def shipment(ext, payload):
            oid_db = env.scalar(f"SELECT id FROM orders WHERE channel='shop' AND external_id='{ext}'")
            # this row's own id (the daemon adds rows of its own meanwhile)
            return env.sql("INSERT INTO outbox (event, target, origin, order_id, payload, "
                           "next_attempt_at) "
                           f"VALUES ('shipment.created', 'shop', 'shop', {oid_db}, "
                           f"'{json.dumps(payload)}', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND); "
                           "SELECT LAST_INSERT_ID()")[0][0]

        gets0 = fake.control(op="stats")["order_gets"]
        with open(os.path.join(env.dir, "wms", "confirm.csv.tmp"), "w") as f:
            f.write("shipment_id,order_id,order_channel,shipped_at,carrier,service,"
                    "tracking_number,line_no,sku,qty,weight_kg\n"
                    "SHP-1,5000000001,shop,2026-11-23T10:00:00Z,UPS,Ground,"
                    "1Z999AA10123456784,1,SKU-1,2,1.0\n"
                    "SHP-1,5000000001,shop,2026-11-23T10:00:00Z,UPS,Ground,"
                    "1Z999AA10123456784,2,SKU-2,3,1.0\n")
        os.rename(os.path.join(env.dir, "wms", "confirm.csv.tmp"),
                  os.path.join(env.dir, "wms", "confirm.csv"))
        wait_until(lambda: env.scalar("SELECT state FROM outbox WHERE event='shipment.created'")
                   == "done", 30, "the ingested shipment's shipment.created delivered")
        check(env.scalar("SELECT target FROM outbox WHERE event='shipment.created'") == "shop",
              "shipment.created went to the order's own channel")
        pushed = fake.control(op="pushed")["fulfillments"]
        mine = [f for f in pushed if f["order_id"] == 5000000001]
        check(len(mine) == 1, f"one fulfillment for the order, got {len(mine)}")
        check(mine[0]["tracking_number"] == "1Z999AA10123456784", "tracking number sent")
        check(mine[0]["tracking_company"] == "UPS", "carrier sent")
        check(sorted(li["id"] for li in mine[0]["line_items"]) == [50000000010, 50000000011],
              "every line of the order fulfilled")
        check(fake.control(op="stats")["order_gets"] == gets0,
              "shipment lines given by SKU matched through the stored order's lines, "
              "without asking Shopify for the order")
        check(env.scalar("SELECT status FROM orders WHERE external_id='5000000001'") == "shipped",
              "the order is shipped in the store")

        # A 422 on the POST. The fake injects it as the next-but-one vendor
        # request, so first stop polling (reload with poll = 1h, whose first
        # poll runs at start) so that only the dispatcher talks to the fake.
        with open(env.config) as f:
            conf = f.read().replace("poll = 1s", "poll = 1h")
        write(env, conf)
        npolls = d.log().count("shopify.poll ")
        d.p.send_signal(signal.SIGHUP)
        wait_until(lambda: d.log().count("shopify.poll ") > npolls, 30, "the poll after reload")
        fake.control(op="faults", next=[None, "422"])
        sid = shipment("5000000002", {"order_external_id": "5000000002", "carrier": "UPS",
                                      "tracking_number": "1ZBAD"})
        wait_until(lambda: env.scalar(f"SELECT state FROM outbox WHERE id={sid}") == "dead", 30,
                   "the 422 makes the row dead")
        err = env.scalar(f"SELECT last_error FROM outbox WHERE id={sid}")
        check("which is not fulfillable" in err, f"Shopify's message kept: {err}")
        check(env.scalar(f"SELECT attempts FROM outbox WHERE id={sid}") == "1",
              "a 422 is not retried")
        check(len([f for f in fake.control(op="pushed")["fulfillments"]
                   if f["order_id"] == 5000000002]) == 0, "nothing fulfilled on the 422")

        check(d.stop() == 0, "daemon stopped cleanly")
        d = None
        print("ok: shopify end to end")
    finally:
        if d:
            d.stop()
        fake.stop()
        env.close()


if __name__ == "__main__":
    main()
