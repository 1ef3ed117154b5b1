#!/usr/bin/env python3
"""1,000 canonical orders through a dir channel into the real MariaDB; the
same files again change nothing; a newer version updates; an older one is
ignored and recorded as stale. Every stored order has exactly one
order.created outbox event, delivered as one file."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, write_json  # noqa: E402

N = 1000


def main():
    env = Env("ingest")
    try:
        env.write_config(extra="[route shipped]\non = order.shipped, order.cancelled\nto = export\n")
        for i in range(N):
            write_json(os.path.join(env.inbox, f"o{i:05d}.json"), order(10000 + i))
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders") == str(N), "orders stored")
        check(env.scalar("SELECT COUNT(*) FROM order_lines") == str(3 * N), "3 lines each")
        check(env.scalar("SELECT COUNT(*) FROM addresses") == str(2 * N), "2 addresses each")
        check(env.scalar("SELECT COUNT(*) FROM outbox WHERE event='order.created'") == str(N),
              "one order.created per order")
        check(env.scalar("SELECT COUNT(*) FROM outbox WHERE state='done'") == str(N), "all delivered")
        files = [f for f in os.listdir(env.outbox) if not f.startswith(".")]
        check(len(files) == N, f"one export file per order, got {len(files)}")
        check(len([f for f in os.listdir(env.inbox) if f.endswith(".json")]) == 0, "inbox emptied")
        check(len(os.listdir(os.path.join(env.inbox, "processed"))) == N, "sources archived")
        with open(os.path.join(env.outbox, sorted(files)[0])) as f:
            exported = json.load(f)
        check(exported["channel"] == "inbox" and exported["lines"][0]["sku"] == "SKU-1",
              "export file is the canonical order")
        check(env.scalar("SELECT total FROM orders WHERE external_id='10000'") == "30.0000",
              "money exact")

        # the same documents again: nothing changes, no new events
        for i in range(N):
            write_json(os.path.join(env.inbox, f"again{i:05d}.json"), order(10000 + i))
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders") == str(N), "still N orders")
        check(env.scalar("SELECT COUNT(*) FROM outbox") == str(N), "no new outbox rows")
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE status='unchanged'") == str(N),
              "replays recorded as unchanged")

        # a newer version: lines and addresses replaced atomically
        newer = order(10001, updated="2026-11-21T10:00:00Z", lines=1, qty=5, status="shipped",
                      total="50.00")
        newer["ship_to"]["city"] = "Hamburg"
        write_json(os.path.join(env.inbox, "newer.json"), newer)
        env.once()
        oid = env.scalar("SELECT id FROM orders WHERE external_id='10001'")
        check(env.scalar(f"SELECT COUNT(*) FROM order_lines WHERE order_id={oid}") == "1",
              "lines replaced")
        check(env.scalar(f"SELECT qty FROM order_lines WHERE order_id={oid}") == "5.0000", "new qty")
        check(env.scalar(f"SELECT city FROM addresses WHERE order_id={oid} AND role='ship_to'")
              == "Hamburg", "address replaced")
        check(env.scalar(f"SELECT status FROM orders WHERE id={oid}") == "shipped", "status updated")
        check(env.scalar("SELECT COUNT(*) FROM outbox WHERE event='order.created'") == str(N),
              "an update is not a new order")
        check(env.scalar("SELECT COUNT(*) FROM outbox WHERE event='order.shipped'") == "1",
              "the status transition accepted -> shipped wrote one order.shipped event")

        # an older version: ignored, recorded as stale
        older = order(10001, updated="2026-11-19T10:00:00Z", lines=4)
        write_json(os.path.join(env.inbox, "older.json"), older)
        env.once()
        check(env.scalar(f"SELECT COUNT(*) FROM order_lines WHERE order_id={oid}") == "1",
              "older version did not overwrite")
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE status='stale'") == "1",
              "older version recorded as stale")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
