#!/usr/bin/env python3
"""An X12 partner channel with transport = sftp, against the project's own
OpenSSH server: the partner's 850 is picked up over SFTP, stored as an
order, archived remotely only after the spool commit, and our 997 is
uploaded to the partner's outbound directory under its final name."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, need  # noqa: E402

SRC = os.environ["OH_SOURCE_DIR"]
FIX = os.environ["OH_FIXTURES"]


def main():
    port, user = need("OH_SSHD_PORT"), need("OH_SSHD_USER")
    key, known = need("OH_SSHD_KEY"), need("OH_SSHD_KNOWN_HOSTS")
    root = need("OH_SSHD_ROOT")
    env = Env("edisftp")
    remote = os.path.join(root, f"edi-{os.getpid()}")
    try:
        os.makedirs(os.path.join(remote, "in"))
        env.write_config(extra=f"""
[channel acme]
type = edi
standard = x12
transport = sftp
url = sftp://{user}@127.0.0.1:{port}{remote}/in
out_url = sftp://{user}@127.0.0.1:{port}{remote}/out
key = {key}
known_hosts = {known}
mkdirs = yes
sender_qualifier = ZZ
sender_id = OURCO
receiver_qualifier = 01
receiver_id = 4405197800
ack = 997
mapping = {SRC}/mappings/x12/850.map
poll = 1s
""")
        shutil.copy(os.path.join(FIX, "x12", "850-node-x12.x12"), os.path.join(remote, "in", "po1.x12"))
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE channel='acme'") == "1", "850 stored")
        check(not os.path.exists(os.path.join(remote, "in", "po1.x12")), "remote file moved away")
        check(os.path.exists(os.path.join(remote, "in", "processed", "po1.x12")),
              "remote file archived under processed/")
        out = sorted(f for f in os.listdir(os.path.join(remote, "out")) if not f.startswith("."))
        check(len(out) == 1 and not out[0].endswith(".part"), f"one 997 uploaded: {out}")
        ack = open(os.path.join(remote, "out", out[0])).read()
        check(ack.startswith("ISA*") and "ST*997*" in ack and "AK9*A" in ack, f"a 997: {ack}")
        # a second pass finds nothing new: the file is not taken twice
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM documents") == "1", "one document, once")
        print("1 passed, 0 failed")
    finally:
        shutil.rmtree(remote, ignore_errors=True)
        env.close()


if __name__ == "__main__":
    main()
