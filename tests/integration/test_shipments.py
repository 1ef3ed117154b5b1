#!/usr/bin/env python3
"""Shipments reported by a 3PL: a shipment CSV channel (the shipped
mapping) and canonical shipment JSON. Each shipment is stored once against
its order; the order moves to partially_shipped, then shipped; the
shipment.created event goes to the order's own channel (`to = @origin`)
carrying the whole order; the same file again is unchanged with no new
event; a shipment for an unknown order, or one naming an order that exists
in two channels without saying which, goes to dead/ with a message naming
order_ref, and the rest keeps flowing; a changed shipment is
shipment.updated; invoicing moves a shipped order to invoiced
(order.invoiced)."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, write_json  # noqa: E402

SRC = os.environ.get("OH_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))


def outbox_files(d):
    return sorted(f for f in os.listdir(d) if not f.startswith("in-") and f != "processed")


def main():
    env = Env("shipments")
    try:
        wms = os.path.join(env.dir, "wms-in")
        shop = os.path.join(env.dir, "shop")  # the storefront: orders in, tracking out
        shop_out = shop
        os.makedirs(wms)
        os.makedirs(shop)
        env.write_config(extra=f"""
[channel wms]
type = dir
path = {wms}
pattern = *.csv
mapping = {SRC}/mappings/shipment-csv/shipments.map
poll = 1s

[channel shop]
type = dir
path = {shop}
pattern = in-*.json
format = canonical
poll = 1s

[route tracking-back]
on = shipment.*
to = @origin

[route order-status]
on = order.shipped
to = @origin
""")
        o1 = order("1001", lines=2)
        o1["lines"][0].update(sku="IPOD2008GREEN", qty="1")
        o1["lines"][1].update(sku="IPOD2008RED", qty="3")
        write_json(os.path.join(shop, "in-o1001.json"), o1)
        o2 = order("1002", lines=1)
        o2["lines"][0].update(sku="WIDGET-9", qty="3")
        write_json(os.path.join(shop, "in-o1002.json"), o2)
        # 1003 exists in two channels: a shipment without order_ref.channel is ambiguous
        write_json(os.path.join(env.inbox, "o1003.json"), order("1003"))
        write_json(os.path.join(shop, "in-o1003.json"), order("1003"))
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders") == "4", "four orders stored first")

        # SHP-1001 ships line 1 whole and 2 of 3 of line 2: partially shipped.
        # SHP-1002 names its line by SKU only and has no order channel: found
        # by external id alone, ships everything.
        shutil.copy(os.path.join(SRC, "mappings/shipment-csv/tests/shipments.input.csv"),
                    os.path.join(wms, "confirm-1.csv"))
        head = ("shipment_id,order_id,order_channel,shipped_at,carrier,service,"
                "tracking_number,line_no,sku,qty,weight_kg\n")
        with open(os.path.join(wms, "confirm-2.csv"), "w") as f:
            f.write(head + "SHP-9,9999,,2026-11-23T10:00:00Z,UPS,,1Z1,1,X,1,1\n")
        with open(os.path.join(wms, "confirm-2b.csv"), "w") as f:
            f.write(head + "SHP-10,1003,,2026-11-23T10:00:00Z,UPS,,1Z2,1,X,1,1\n")
        env.once()
        st = dict(env.sql("SELECT external_id, status FROM orders WHERE channel = 'shop'"))
        check(st.get("1001") == "partially_shipped", f"1001 partially shipped: {st}")
        check(st.get("1002") == "shipped", f"1002 shipped: {st}")
        check(env.scalar("SELECT COUNT(*) FROM shipments") == "2", "two shipments stored")
        check(env.scalar("SELECT SUM(qty) FROM shipment_lines") == "6.0000",
              "1 + 2 + 3 units shipped")
        check(env.scalar("SELECT s.order_id = o.id FROM shipments s JOIN orders o ON "
                         "o.channel = 'shop' AND o.external_id = '1002' "
                         "WHERE s.external_id = 'SHP-1002'") == "1",
              "SHP-1002 belongs to the shop's order 1002")
        dead = env.spool_files("dead")
        check(len(dead) == 2, f"confirm-2 and confirm-2b are dead: {dead}")
        reasons = " | ".join(env.reason(d) for d in dead)
        check("no order \"9999\"" in reasons and "order_ref" in reasons,
              "a dead reason names the missing order: " + reasons)
        check("exists in channels" in reasons and "set order_ref.channel" in reasons,
              "a dead reason names the ambiguity and the fix: " + reasons)

        # events: both shipments went to the order's channel with the order inside
        files = outbox_files(shop_out)
        created = [f for f in files if f.startswith("shipment.created")]
        check(len(created) == 2, f"two shipment.created files at the origin: {files}")
        bodies = [json.load(open(os.path.join(shop_out, f))) for f in created]
        by_id = {b["external_id"]: b for b in bodies}
        check(by_id["SHP-1001"]["order"]["external_id"] == "1001"
              and len(by_id["SHP-1001"]["order"]["lines"]) == 2
              and by_id["SHP-1001"]["order_ref"]["channel"] == "shop"
              and by_id["SHP-1001"]["tracking_number"] == "1Z999AA10123456784",
              "the event carries the shipment, its tracking and the whole order")
        check(by_id["SHP-1002"]["order_ref"]["channel"] == "shop",
              "the order channel found by lookup is filled in")
        shipped = [f for f in files if f.startswith("order.shipped")]
        check(len(shipped) == 1, f"one order.shipped event (1002): {files}")

        # the same confirmation again: unchanged, no new event
        shutil.copy(os.path.join(SRC, "mappings/shipment-csv/tests/shipments.input.csv"),
                    os.path.join(wms, "confirm-1-again.csv"))
        env.once()
        check(len(outbox_files(shop_out)) == len(files), "a repeated shipment sends nothing")
        check(env.scalar("SELECT COUNT(*) FROM shipments") == "2", "still two shipments")
        check(env.scalar("SELECT status FROM documents WHERE source LIKE '%confirm-1-again%'")
              == "unchanged", "the repeat is recorded as unchanged")

        # the rest of 1001 ships in a second shipment, with a corrected first one
        with open(os.path.join(wms, "confirm-3.csv"), "w") as f:
            f.write("shipment_id,order_id,order_channel,shipped_at,carrier,service,"
                    "tracking_number,line_no,sku,qty,weight_kg\n"
                    "SHP-1003,1001,shop,2026-11-24T09:00:00Z,UPS,,1Z3,2,IPOD2008RED,1,0.4\n")
        env.once()
        check(env.scalar("SELECT status FROM orders WHERE channel = 'shop' AND "
                         "external_id = '1001'") == "shipped", "1001 is now shipped")
        files2 = outbox_files(shop_out)
        check(len([f for f in files2 if f.startswith("order.shipped")]) == 2,
              f"order.shipped for 1001 too: {files2}")

        # a canonical shipment JSON that changes SHP-1003's tracking: updated
        write_json(os.path.join(shop, "in-s1003.json"), {
            "external_id": "SHP-1003",
            "order_ref": {"channel": "shop", "external_id": "1001"},
            "carrier": "ups", "tracking_number": "1Z3-FIXED",
            "lines": [{"line_no": 2, "qty": "1"}]})
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM shipments") == "4",
              "a shipment of the shop channel is its own row")
        updated = [f for f in outbox_files(shop_out) if f.startswith("shipment.updated")]
        check(updated == [], f"a new (channel, external_id) is created, not updated: {updated}")
        write_json(os.path.join(shop, "in-s1003b.json"), {
            "external_id": "SHP-1003",
            "order_ref": {"channel": "shop", "external_id": "1001"},
            "carrier": "ups", "tracking_number": "1Z3-FIXED-AGAIN",
            "lines": [{"line_no": 2, "qty": "1"}]})
        env.once()
        updated = [f for f in outbox_files(shop_out) if f.startswith("shipment.updated")]
        check(len(updated) == 1, f"a changed shipment is shipment.updated: {updated}")
        check(env.scalar("SELECT tracking_number FROM shipments WHERE channel = 'shop'")
              == "1Z3-FIXED-AGAIN", "the changed tracking number is stored")

        # invoicing: a shipped order may be invoiced (order.invoiced)
        inv = order("1002", lines=1, updated="2026-11-25T10:00:00Z", status="invoiced")
        inv["lines"][0].update(sku="WIDGET-9", qty="3")
        write_json(os.path.join(shop, "in-o1002-invoiced.json"), inv)
        env.once()
        check(env.scalar("SELECT status FROM orders WHERE channel = 'shop' AND "
                         "external_id = '1002'") == "invoiced", "1002 invoiced")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
