#!/usr/bin/env python3
"""Lost store connections: while the daemon ingests, every connection it has
to the store is killed again and again. It reconnects with backoff, the spool
holds the work meanwhile, and in the end every order is stored once with
exactly one outbox event."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, wait_until, write_json  # noqa: E402

N = 3000


def main():
    env = Env("outage")
    try:
        env.write_config(hub="batch = 100")
        env.run("migrate")
        for i in range(N):
            write_json(os.path.join(env.inbox, f"o{i:05d}.json"), order(700000 + i, lines=2))
        log = open(os.path.join(env.dir, "daemon.log"), "ab")
        p = subprocess.Popen([env.bin, "run", "-c", env.config], stdout=log, stderr=log)
        kills = 0
        try:
            end = time.time() + 12
            while time.time() < end:
                ids = env.sql("SELECT id FROM information_schema.processlist "
                              f"WHERE db = '{env.db}' AND id <> CONNECTION_ID()")
                for (cid,) in ids:
                    try:
                        env.sql(f"KILL CONNECTION {cid}")
                        kills += 1
                    except subprocess.CalledProcessError:
                        pass  # already gone
                time.sleep(0.4)
            check(p.poll() is None, "the daemon survives lost connections")

            def done():
                r = env.sql("SELECT (SELECT COUNT(*) FROM orders), "
                            "(SELECT COUNT(*) FROM outbox WHERE state='done')")
                return r[0] == [str(N), str(N)]
            wait_until(done, 300, f"{N} orders stored and delivered after the outage")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        check(kills > 0, "connections were actually killed")
        check(env.scalar("SELECT COUNT(*) FROM outbox") == str(N), "no event doubled")
        check(len(os.listdir(env.outbox)) == N, "one export file per order")
        check(env.spool_files("dead") == [], "nothing dead")
        print(f"killed {kills} connections")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
