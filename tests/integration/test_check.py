#!/usr/bin/env python3
"""`orderhub check` reports every problem of a config as FILE:LINE: message
and exits non-zero; a good config passes. Secrets never reach the output. A
route to a file channel that would read its own output back is refused."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check  # noqa: E402


def main():
    env = Env("check")
    try:
        env.write_config()
        p = subprocess.run([env.bin, "check", "-c", env.config], capture_output=True, text=True)
        check(p.returncode == 0 and "OK" in p.stdout, f"good config passes: {p.stdout}{p.stderr}")
        with open(env.config) as f:
            good = f.read()
        bad = good.replace("workers = 2", "workers = lots\nworker_nice = 40") + (
            "\n[channel x]\ntype = dri\n"
            "[route y]\non = order.created\nto = nope\n"
            "[channel z]\ntype = dir\npaht = /tmp\n"
            "[channel w]\ntype = dir\npath = /tmp\nafter = shred\npoll = soon\n"
            # sent to a directory it also reads with a pattern that takes the files back
            "[channel loop]\ntype = dir\npath = /tmp\npoll = 5s\n"
            "[route back]\non = order.created\nto = loop\n")
        with open(env.config, "w") as f:
            f.write(bad)
        lines = bad.splitlines()

        def line_of(text, start=0):
            for i, l in enumerate(lines[start:], start):
                if l.strip() == text:
                    return i + 1
            raise AssertionError(text)
        p = subprocess.run([env.bin, "check", "-c", env.config], capture_output=True, text=True)
        out = p.stderr
        check(p.returncode == 1, "bad config exits 1")
        cfg = env.config
        for expect in [
            f"{cfg}:{line_of('workers = lots')}: workers: 'lots' is not a whole number",
            f"{cfg}:{line_of('worker_nice = 40')}: worker_nice: must be from 0 to 19",
            f"{cfg}:{line_of('type = dri')}: [channel x] type: unknown connector 'dri'",
            f"{cfg}:{line_of('to = nope')}: [route y] to: no channel named 'nope'",
            f"{cfg}:{line_of('paht = /tmp')}: unknown key 'paht' in [channel z]",
            "[channel z] needs path = DIR",
            "after: 'shred' is not one of move|delete|keep",
            "poll: 'soon' is not a duration",
            f"{cfg}:{line_of('to = loop')}: [route back] to: channel 'loop' also reads the "
            "directory it is sent to, and its pattern '*' matches the files sent there "
            "(like order.created-1.json)",
        ]:
            check(expect in out, f"expected {expect!r} in:\n{out}")
        check(open(env.pwfile).read().strip() not in out, "no secret in the output")
        print("1 passed, 0 failed")
    finally:
        env.close()


if __name__ == "__main__":
    main()
