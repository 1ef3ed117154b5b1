#!/usr/bin/env python3
"""SIGHUP reloads the configuration without dropping work (a route added
while running takes effect; a broken config is refused and the old one
kept); a second `run` on the same spool is refused while the daemon holds it,
naming the other process; SIGTERM drains and exits 0 and frees the spool."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, wait_until, write_json  # noqa: E402


def main():
    env = Env("signals")
    try:
        env.write_config()
        # start without the export route
        text = open(env.config).read()
        no_route = text.replace("[route export]\non = order.created\nto = export\n", "")
        open(env.config, "w").write(no_route)
        log_path = os.path.join(env.dir, "daemon.log")
        log = open(log_path, "ab")
        p = subprocess.Popen([env.bin, "run", "-c", env.config], stdout=log, stderr=log)
        try:
            write_json(os.path.join(env.inbox, "a.json"), order(1))
            wait_until(lambda: env.scalar("SELECT COUNT(*) FROM orders") == "1", 60, "order 1")
            check(env.scalar("SELECT COUNT(*) FROM outbox") == "0", "no route, no event")

            # a broken config is refused, the daemon keeps running on the old one
            open(env.config, "w").write(no_route + "\n[route bad]\non = order.created\nto = nowhere\n")
            p.send_signal(signal.SIGHUP)
            wait_until(lambda: b"daemon.reload_failed" in open(log_path, "rb").read(), 30,
                       "reload refused")
            check(p.poll() is None, "still running after a bad reload")

            open(env.config, "w").write(text)  # with the route
            p.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            write_json(os.path.join(env.inbox, "b.json"), order(2))
            wait_until(lambda: env.scalar("SELECT COUNT(*) FROM outbox WHERE state='done'") == "1",
                       60, "the new route delivers order 2")
            check(os.listdir(env.outbox) != [], "export file written")

            # a second orderhub on the same spool would recover (and redo)
            # the first one's claimed entries: refused
            second = env.run("run", "--once", check=False)
            check(second.returncode == 1, f"second run refused: {second.returncode}")
            check("is in use by another orderhub process (pid %d)" % p.pid in second.stderr,
                  "the refusal names the spool and the other pid: " + second.stderr)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        check(p.returncode == 0, "SIGTERM exits 0")
        check(b"daemon.stopped" in open(log_path, "rb").read(), "drained and stopped")
        check(env.run("run", "--once", check=False).returncode == 0,
              "once the daemon is gone the spool is free again")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
