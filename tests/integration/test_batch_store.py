#!/usr/bin/env python3
"""The processor's batch store path: one run over many documents stores new
orders together, a document that only the store refuses (a gtin longer than
its column) goes to dead/ alone while its neighbours are stored (P2), the
same order twice in one batch ends as if processed in order, and replaying
the batch changes nothing (P5). A deadlock between workers (InnoDB rolls the
victim back with error 1213) is retried: the run still stores everything and
exits 0."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, write_json  # noqa: E402


def main():
    env = Env("batchstore")
    try:
        env.write_config()
        for i in range(1, 41):
            write_json(os.path.join(env.inbox, f"o{i:03d}.json"), order(f"N{i}", lines=1 + i % 4))
        # store-only failure: the check allows 64 bytes of gtin, the column 32
        bad = order("BAD")
        bad["lines"][0]["gtin"] = "1" * 40
        write_json(os.path.join(env.inbox, "o020b.json"), bad)
        # the same order twice: first version, then a newer one in a later file
        write_json(os.path.join(env.inbox, "o030b.json"),
                   [order("DUP", total="10.00"), order("M1")])
        write_json(os.path.join(env.inbox, "o030c.json"),
                   order("DUP", updated="2026-11-21T10:00:00Z", total="99.00", status="shipped",
                         lines=2))
        env.once()

        check(env.scalar("SELECT COUNT(*) FROM orders") == "42",
              "40 orders + DUP + M1 stored, BAD not: "
              + env.scalar("SELECT COUNT(*) FROM orders"))
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE external_id = 'BAD'") == "0",
              "the refused order is not stored")
        dead = env.spool_files("dead")
        check(len(dead) == 1, f"one dead entry, got {dead}")
        check("gtin" in env.reason(dead[0]), "its reason names the column: " + env.reason(dead[0]))
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE status = 'dead'") == "1",
              "the dead document is recorded")
        check(env.scalar("SELECT total FROM orders WHERE external_id = 'DUP'") == "99.0000",
              "the later copy of DUP wins")
        check(env.scalar("SELECT status FROM orders WHERE external_id = 'DUP'") == "shipped",
              "DUP has the later status")
        check(env.scalar("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
                         " WHERE o.external_id = 'DUP'") == "2", "DUP has the later lines")
        want_lines = sum(1 + i % 4 for i in range(1, 41))
        check(env.scalar("SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
                         " WHERE o.external_id LIKE 'N%'") == str(want_lines),
              "every new order has its lines")
        check(env.scalar("SELECT COUNT(*) FROM orders o JOIN documents d ON d.id = o.doc_id"
                         " WHERE d.status = 'stored'") == "42",
              "every stored order points at its stored document")
        check(env.scalar("SELECT COUNT(*) FROM addresses") == "84", "two addresses per order")

        # replay: the same files again are UNCHANGED, nothing new
        for i in range(1, 41):
            write_json(os.path.join(env.inbox, f"r{i:03d}.json"), order(f"N{i}", lines=1 + i % 4))
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders") == "42", "replay adds no order")
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE status = 'unchanged'") == "40",
              "replayed documents recorded as unchanged: "
              + env.scalar("SELECT COUNT(*) FROM documents WHERE status = 'unchanged'"))

        # a deadlock victim: the first three commits fail with 1213 and are redone
        for i in range(1, 11):
            write_json(os.path.join(env.inbox, f"d{i:03d}.json"), order(f"DL{i}"))
        p = env.once(env={"OH_FAULTS": "store.deadlock:3"})
        check("store.batch_retry" in p.stderr and "error 1213" in p.stderr,
              "the deadlock is logged as a retry: " + p.stderr[-800:])
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE external_id LIKE 'DL%'") == "10",
              "every order of the deadlocked batch is stored")
        check(env.spool_files("new") == [] and len(env.spool_files("dead")) == 1,
              "nothing left behind, nothing new in dead/")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
