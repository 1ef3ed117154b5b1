#!/usr/bin/env python3
"""Stock levels from a WMS export (the shipped inventory CSV mapping): each
(sku, location) is stored once, available = on_hand - reserved when the
sheet leaves it out, and every changed level sends one inventory.changed;
the same sheet again sends nothing; an older count is stale and changes
nothing; a canonical JSON record (sku, no external_id) is inventory too; a
row without a SKU sends its document to dead/ naming the field, and the
rest keeps flowing."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, write_json  # noqa: E402

SRC = os.environ.get("OH_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
HEAD = "sku,location,on_hand,reserved,available,counted_at\n"


def events(d):
    out = []
    for f in sorted(os.listdir(d)):
        if f.startswith("inventory.changed"):
            with open(os.path.join(d, f)) as fh:
                out.append(json.load(fh))
    return out


def main():
    env = Env("inventory")
    try:
        wms = os.path.join(env.dir, "wms")
        os.makedirs(wms)
        env.write_config(extra=f"""
[channel wms]
type = dir
path = {wms}
pattern = *.csv
mapping = {SRC}/mappings/inventory-csv/levels.map
poll = 1s

[route stock]
on = inventory.changed
to = export
""")
        shutil.copy(os.path.join(SRC, "mappings/inventory-csv/tests/levels.input.csv"),
                    os.path.join(wms, "levels-1.csv"))
        env.once()
        rows = {(r[0], r[1]): r[2:] for r in
                env.sql("SELECT sku, location, on_hand, reserved, available FROM inventory")}
        check(rows.get(("IPOD2008GREEN", "main")) == ["12.0000", "2.0000", "10.0000"],
              f"available = on_hand - reserved: {rows}")
        check(rows.get(("IPOD2008RED", "main")) == ["5.0000", "0.0000", "5.0000"],
              f"no reserved: available = on_hand: {rows}")
        check(rows.get(("WIDGET-9", "overflow")) == ["100.5000", "0.5000", "97.0000"],
              f"a given available is kept: {rows}")
        ev = events(env.outbox)
        check(len(ev) == 3, f"three inventory.changed events: {ev}")
        green = [e for e in ev if e["sku"] == "IPOD2008GREEN"]
        check(green and green[0]["available"] == "10" and green[0]["location"] == "main",
              f"the event carries sku, location and available: {green}")

        # the same sheet again: unchanged, nothing sent
        shutil.copy(os.path.join(SRC, "mappings/inventory-csv/tests/levels.input.csv"),
                    os.path.join(wms, "levels-2.csv"))
        env.once()
        check(len(events(env.outbox)) == 3, "the same levels send nothing")
        check(env.scalar("SELECT status FROM documents WHERE source LIKE '%levels-2%'")
              == "unchanged", "the repeat is recorded as unchanged")

        # one level changes; an older count of another SKU is stale
        with open(os.path.join(wms, "levels-3.csv"), "w") as f:
            f.write(HEAD + "IPOD2008GREEN,main,11,2,,2026-11-23T09:00:00Z\n")
        with open(os.path.join(wms, "levels-4.csv"), "w") as f:
            f.write(HEAD + "IPOD2008RED,main,1,,,2026-11-22T09:00:00Z\n")
        env.once()
        ev = events(env.outbox)
        check(len(ev) == 4, f"one more event, for the changed level only: {len(ev)}")
        check(env.scalar("SELECT available FROM inventory WHERE sku = 'IPOD2008GREEN'")
              == "9.0000", "the new level is stored")
        check(env.scalar("SELECT available FROM inventory WHERE sku = 'IPOD2008RED'")
              == "5.0000", "the older count changed nothing")
        check(env.scalar("SELECT status FROM documents WHERE source LIKE '%levels-4%'")
              == "stale", "the older count is recorded as stale")

        # canonical JSON stock record, and a bad sheet next to it
        write_json(os.path.join(env.inbox, "stock.json"),
                   [{"sku": "NEW-1", "on_hand": "7", "reserved": "7"}])
        with open(os.path.join(wms, "levels-5.csv"), "w") as f:
            f.write(HEAD + ",main,1,,,2026-11-23T09:00:00Z\n")
        env.once()
        check(env.scalar("SELECT available FROM inventory WHERE sku = 'NEW-1'") == "0.0000",
              "canonical JSON inventory stored: 7 - 7 = 0")
        dead = env.spool_files("dead")
        check(len(dead) == 1, f"the sheet without a SKU is dead: {dead}")
        reason = env.reason(dead[0])
        check("sku" in reason, "the reason names the missing field: " + reason)
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
