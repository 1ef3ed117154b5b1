#!/usr/bin/env python3
"""Bad input goes to dead/ with a reason that names the problem, and the good
files beside it are stored: not JSON, JSON missing required fields, a file
over the size limit, an unreadable file, an unknown field, a float price."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, write_json  # noqa: E402


def main():
    env = Env("bad")
    try:
        env.write_config(inbox_extra="max_document_size = 4K")
        write_json(os.path.join(env.inbox, "good1.json"), order(1))
        write_json(os.path.join(env.inbox, "good2.json"), order(2))
        with open(os.path.join(env.inbox, "notjson.json"), "w") as f:
            f.write('{"external_id": "3", "lines": [ {"sku": "A", "qty": "1"} \n')
        o = order(4)
        del o["lines"][0]["sku"]
        write_json(os.path.join(env.inbox, "nosku.json"), o)
        o = order(5)
        del o["external_id"]
        write_json(os.path.join(env.inbox, "noid.json"), o)
        big = order(6)
        big["notes"] = "x" * 8000
        write_json(os.path.join(env.inbox, "big.json"), big)
        write_json(os.path.join(env.inbox, "unreadable.json"), order(7))
        os.chmod(os.path.join(env.inbox, "unreadable.json"), 0)
        o = order(8)
        o["ship_to"]["contry"] = "DE"
        write_json(os.path.join(env.inbox, "typo.json"), o)
        with open(os.path.join(env.inbox, "float.json"), "w") as f:
            f.write(json.dumps(order(9)).replace('"unit_price": "10.00"', '"unit_price": 10.1e0'))
        o = order(10)
        o["currency"] = "EURO"
        write_json(os.path.join(env.inbox, "currency.json"), o)
        o = order(11)
        o["ship_to"]["country"] = "Germany"
        write_json(os.path.join(env.inbox, "country.json"), o)

        env.once(env={"OH_FAULTS": "dir.eacces"})
        check(env.scalar("SELECT GROUP_CONCAT(external_id ORDER BY external_id) FROM orders")
              == "1,2", "only the good orders stored")
        dead = env.spool_files("dead")
        reasons = {}
        for d in dead:
            text = env.reason(d)
            reasons[text] = d
        joined = "\n".join(reasons)
        expect = [
            ("notjson", "line"),                       # decode error names the place
            ("lines[0].sku", "required"),
            ("external_id", "required"),
            ("big.json", "max_document_size"),
            ("unreadable.json", "cannot be read"),
            ("ship_to.contry", "not a field"),
            ("unit_price", "not a decimal"),
            ("currency", "ISO 4217"),
            ("ship_to.country", "ISO 3166"),
        ]
        for a, b in expect:
            check(any(a in r and b in r for r in reasons) or
                  (a == "notjson" and any("line" in r.lower() for r in reasons)),
                  f"a dead reason mentioning {a!r} and {b!r}; reasons:\n{joined}")
        check(len(dead) == 9, f"nine dead entries, got {len(dead)}:\n{joined}")
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE status='dead'") == "9",
              "every dead document recorded in the store with its error")
        # the unreadable and the oversize files are left where they were
        check(os.path.exists(os.path.join(env.inbox, "big.json")), "oversize file left in place")
        check(os.path.exists(os.path.join(env.inbox, "unreadable.json")), "unreadable file left")
        # retry of a dead entry after fixing nothing: it dies again, nothing stored twice
        p = env.run("spool", "retry", dead[0])
        check("incoming" in p.stdout, "spool retry answers")
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders") == "2", "retry stores nothing bad")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
