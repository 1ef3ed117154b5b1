#!/usr/bin/env python3
"""A dir channel reads other formats through its configured mapping: the
Latin-1, ';'-separated wholesale sheet (decimal commas, several rows per
order) and a Shopify REST order. A document with a record the mapping
rejects goes to dead/ whole, with the mapping's message naming the document
path and the mapping line; nothing of it is stored."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check  # noqa: E402

SRC = os.environ.get("OH_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))


def main():
    env = Env("mapped")
    try:
        csv_in = os.path.join(env.dir, "csv-in")
        shop_in = os.path.join(env.dir, "shop-in")
        os.makedirs(csv_in)
        os.makedirs(shop_in)
        env.write_config(extra=f"""
[channel wholesale]
type = dir
path = {csv_in}
pattern = *.csv
mapping = {SRC}/mappings/wholesale-csv/orders.map
poll = 1s

[channel shop]
type = dir
path = {shop_in}
pattern = *.json
mapping = {SRC}/mappings/shopify/order.map
poll = 1s
""")
        shutil.copy(os.path.join(SRC, "mappings/wholesale-csv/tests/orders.input.csv"),
                    os.path.join(csv_in, "orders.csv"))
        shutil.copy(os.path.join(SRC, "mappings/shopify/tests/order.input.json"),
                    os.path.join(shop_in, "order.json"))
        with open(os.path.join(SRC, "mappings/shopify/tests/order.input.json")) as f:
            text = f.read()
        # the same order with a quantity the mapping must reject
        bad = text.replace('"quantity": 1', '"quantity": "x"', 1)
        check(bad != text, "test input has a quantity to break")
        with open(os.path.join(shop_in, "bad.json"), "w") as f:
            f.write(bad.replace('"id": 450789469', '"id": 450789470', 1))

        env.once()
        expect = sum(1 for _ in open(os.path.join(SRC, "mappings/wholesale-csv/tests/orders.expect.ndjson")))
        got = env.scalar("SELECT COUNT(*) FROM orders WHERE channel='wholesale'")
        check(got == str(expect), f"{expect} wholesale orders stored, got {got}")
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE channel='shop'") == "1",
              "the good Shopify order stored, the bad one not")
        # decimal commas arrived exact
        check(env.scalar("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id "
                         "WHERE o.channel='wholesale' AND l.unit_price <> ROUND(l.unit_price, 2)") == "0",
              "prices exact to the cent")
        dead = env.spool_files("dead")
        check(len(dead) == 1, f"one dead document, got {dead}")
        reason = env.reason(dead[0])
        check("is not an integer" in reason and "order.map:" in reason and "$." in reason,
              f"reason names the path and the mapping line: {reason}")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
