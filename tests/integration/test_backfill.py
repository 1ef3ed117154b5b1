#!/usr/bin/env python3
"""`orderhub backfill CHANNEL --since DATE` against the Shopify and the
WooCommerce fakes (30 orders, three per second from 2025-01-01T00:00:00Z).

For each vendor:
  1. `run --once` polls every order; the cursor is the newest timestamp.
  2. Three of the oldest orders change at the fake to a timestamp below
     cursor - overlap (overlap = 1s here); a second `run --once` does not see
     them (their new notes are not stored) — the situation backfill is for.
  3. `backfill --since 2025-01-01`: the three changes are stored, every
     order is still stored once, exactly three order.updated events and no
     new order.created, and the cursor has not moved. Progress is printed as
     plain lines (stderr is not a terminal here).
  4. A later --since reads only its window (15 orders); nothing changes.
  5. A malformed --since and an unknown channel are usage errors (exit 2).
  6. While another process holds the spool's lock (a running daemon), the
     backfill only spools: it says the running orderhub stores the orders,
     claims nothing, and `run --once` afterwards stores them (unchanged).
"""
import fcntl
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check  # noqa: E402
from e2e import Fake, SRC, store_config, write  # noqa: E402

N = 30
BASE_TS = 1735689600  # 2025-01-01T00:00:00Z, the fakes' first order


def config(env, channel_block):
    return f"""[hub]
spool = {env.dir}/spool
workers = 2
retry_base = 200ms
retry_max = 1s

{store_config(env)}
{channel_block}
overlap = 1s
poll = 1s

[channel sink]
type = dir
path = {env.outbox}
inbound = no

[route out]
on = order.created order.updated
to = sink
"""


def scenario(vendor, channel, block, ids, cursor_name, secrets, total_known):
    env = Env("backfill_" + vendor)
    fake = Fake(vendor, "--orders", str(N))
    try:
        write(env, config(env, block.format(url=fake.url, src=SRC)))
        q_orders = f"SELECT COUNT(*) FROM orders WHERE channel='{channel}'"
        q_cursor = f"SELECT value FROM cursors WHERE channel='{channel}' AND name='{cursor_name}'"
        q_events = "SELECT COUNT(*) FROM outbox WHERE event='{}'"
        in_list = ",".join(f"'{i}'" for i in ids)
        q_notes = (f"SELECT COUNT(*) FROM orders WHERE channel='{channel}' "
                   f"AND external_id IN ({in_list}) AND notes LIKE 'updated %'")

        # 1. the initial poll
        env.once(env=secrets)
        check(int(env.scalar(q_orders)) == N, f"{vendor}: {N} orders stored by the poll")
        cursor = env.scalar(q_cursor)
        check(cursor is not None and cursor.startswith("2025-01-01T00:00:09"),
              f"{vendor}: cursor at the newest order (got {cursor})")
        check(int(env.scalar(q_events.format("order.created"))) == N, f"{vendor}: {N} order.created")

        # 2. changes below the cursor window: the poll misses them
        fake.control(op="update", ids=ids, updated_at=BASE_TS + 2)
        env.once(env=secrets)
        check(int(env.scalar(q_notes)) == 0,
              f"{vendor}: precondition: the poll does not see changes older than cursor - overlap")

        # 3. backfill the whole range
        p = env.run("backfill", channel, "--since", "2025-01-01", env=secrets)
        check(p.returncode == 0, f"{vendor}: backfill exits 0")
        want = f"{N}/{N} orders" if total_known else f"{N} orders"
        check(re.search(rf"^backfill {channel}: {want}$", p.stderr, re.M) is not None,
              f"{vendor}: plain progress line 'backfill {channel}: {want}' (stderr: {p.stderr!r})")
        check("\r" not in p.stderr, f"{vendor}: no bar redraws when stderr is not a terminal")
        check(f"{N} orders fetched" in p.stdout and "3 stored" in p.stdout,
              f"{vendor}: summary names fetched and stored (stdout: {p.stdout!r})")
        check(int(env.scalar(q_notes)) == 3, f"{vendor}: the three missed changes are stored")
        check(int(env.scalar(q_orders)) == N, f"{vendor}: still {N} orders")
        check(int(env.scalar(f"SELECT COUNT(DISTINCT external_id) FROM orders "
                             f"WHERE channel='{channel}'")) == N, f"{vendor}: each stored once")
        check(int(env.scalar(q_events.format("order.updated"))) == 3,
              f"{vendor}: exactly three order.updated events")
        check(int(env.scalar(q_events.format("order.created"))) == N,
              f"{vendor}: no new order.created")
        check(env.scalar(q_cursor) == cursor,
              f"{vendor}: the cursor did not move (was {cursor}, now {env.scalar(q_cursor)})")
        check(not env.spool_files("incoming") and not env.spool_files("dead"),
              f"{vendor}: the spool is empty after backfill")

        # 4. a later window
        p = env.run("backfill", channel, "--since", "2025-01-01T00:00:05Z", env=secrets)
        check("15 orders fetched" in p.stdout and "0 stored" in p.stdout,
              f"{vendor}: --since 00:00:05 reads 15 orders, stores none (stdout: {p.stdout!r})")
        check(int(env.scalar(q_events.format("order.updated"))) == 3, f"{vendor}: no new events")
        check(env.scalar(q_cursor) == cursor, f"{vendor}: cursor still unchanged")

        # 6. a daemon holds the spool: backfill spools and leaves the rest to it
        with open(os.path.join(env.dir, "spool", "lock"), "a+") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
            lk.seek(0)
            lk.truncate()
            lk.write("4242\n")
            lk.flush()
            p = env.run("backfill", channel, "--since", "2025-01-01T00:00:05Z", env=secrets)
            check(p.returncode == 0, f"{vendor}: backfill beside a daemon exits 0")
            check("15 orders fetched" in p.stdout and "the running orderhub stores them" in p.stdout
                  and "4242" in p.stdout,
                  f"{vendor}: it says who stores them (stdout: {p.stdout!r})")
            check(len(env.spool_files("incoming")) == 15 and not env.spool_files("active"),
                  f"{vendor}: 15 entries wait in incoming/, none claimed")
            fcntl.flock(lk, fcntl.LOCK_UN)
        env.once(env=secrets)
        check(not env.spool_files("incoming") and not env.spool_files("dead"),
              f"{vendor}: the next run stores them")
        check(int(env.scalar(q_events.format("order.updated"))) == 3, f"{vendor}: no new events")

        # 5. usage errors
        p = env.run("backfill", channel, "--since", "yesterday", check=False, env=secrets)
        check(p.returncode == 2 and "--since" in p.stderr, f"{vendor}: bad --since -> exit 2")
        p = env.run("backfill", "nosuch", "--since", "2025-01-01", check=False, env=secrets)
        check(p.returncode == 2, f"{vendor}: unknown channel -> exit 2")
        p = env.run("backfill", "sink", "--since", "2025-01-01", check=False, env=secrets)
        check(p.returncode == 2 and "cannot re-read" in p.stderr,
              f"{vendor}: a channel without a backfill hook -> exit 2")
    finally:
        fake.stop()
        env.close()


def main():
    scenario("shopify", "shop", """[channel shop]
type = shopify
shop = acme.myshopify.com
base_url = {url}
access_token = env:OH_TEST_SHOPIFY_TOKEN
webhook_secret = env:OH_TEST_SHOPIFY_SECRET
mapping = {src}/mappings/shopify/webhook.map
page_limit = 7
leak_rate = 20""", [5000000000, 5000000001, 5000000002], "orders.updated_at",
             {"OH_TEST_SHOPIFY_TOKEN": "shpat_test_token", "OH_TEST_SHOPIFY_SECRET": "s"},
             total_known=False)
    scenario("woocommerce", "woo", """[channel woo]
type = woocommerce
url = https://shop.example.com
base_url = {url}
consumer_key = env:OH_TEST_WOO_CK
consumer_secret = env:OH_TEST_WOO_CS
webhook_secret = env:OH_TEST_WOO_SECRET
mapping = {src}/mappings/woocommerce/order.map
per_page = 7""", [10000, 10001, 10002], "orders.modified_gmt",
             {"OH_TEST_WOO_CK": "ck_test_key", "OH_TEST_WOO_CS": "cs_test_secret",
              "OH_TEST_WOO_SECRET": "s"}, total_known=True)
    print("PASS")


if __name__ == "__main__":
    main()
