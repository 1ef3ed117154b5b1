#!/usr/bin/env python3
"""Crash safety (spool S1-S4, processor P1-P5): the daemon is killed with
SIGKILL at random moments while it ingests 10,000 orders, and restarted each
time. In the end exactly 10,000 orders are stored, each once, with exactly
one order.created outbox event each, and exactly one export file each."""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, wait_until, write_json  # noqa: E402

N = int(os.environ.get("OH_KILL9_ORDERS", "10000"))
KILLS = int(os.environ.get("OH_KILL9_KILLS", "6"))


def start(env, log):
    return subprocess.Popen([env.bin, "run", "-c", env.config], stdout=log, stderr=log)


def main():
    env = Env("kill9")
    rnd = random.Random(os.environ.get("OH_KILL9_SEED"))
    try:
        env.write_config(hub="batch = 200")
        env.run("migrate")
        for i in range(N):
            write_json(os.path.join(env.inbox, f"o{i:06d}.json"), order(500000 + i, lines=1))
        log = open(os.path.join(env.dir, "daemon.log"), "ab")
        for k in range(KILLS):
            p = start(env, log)
            time.sleep(rnd.uniform(0.5, 4.0))
            p.send_signal(signal.SIGKILL)
            p.wait()
        p = start(env, log)

        def done():
            rows = env.sql("SELECT (SELECT COUNT(*) FROM orders), "
                           "(SELECT COUNT(*) FROM outbox WHERE state='done')")
            return rows[0] == [str(N), str(N)]
        try:
            wait_until(done, 600, f"{N} orders stored and {N} events delivered")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        check(p.returncode == 0, "SIGTERM drains and exits 0")
        check(env.scalar("SELECT COUNT(DISTINCT external_id) FROM orders") == str(N), "each once")
        check(env.scalar("SELECT COUNT(*) FROM outbox") == str(N), "every event exactly once")
        check(env.scalar("SELECT COUNT(DISTINCT order_id) FROM outbox") == str(N),
              "one event per order")
        files = [f for f in os.listdir(env.outbox) if not f.startswith(".")]
        check(len(files) == N, f"one export file per event, got {len(files)}")
        check(env.spool_files("dead") == [], "nothing dead")
        check(env.spool_files("incoming") == [] and env.spool_files("active") == [],
              "spool drained")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
