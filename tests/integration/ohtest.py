"""Shared helpers for integration tests: a fresh database on the private
MariaDB, a temporary work directory with a config, and the real binary.

Environment (set by scripts/test and ctest): ORDERHUB_BIN, OH_DB_SOCKET,
OH_DB_USER, OH_DB_PASSWORD_FILE. Absent -> the test fails loudly.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time


def need(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"FAIL: environment variable {name} is not set "
                 "(run through scripts/test, which starts the private MariaDB)")
    return v


class Env:
    def __init__(self, name):
        self.bin = need("ORDERHUB_BIN")
        self.sock = need("OH_DB_SOCKET")
        self.user = need("OH_DB_USER")
        self.pwfile = need("OH_DB_PASSWORD_FILE")
        self.db = f"orderhub_test_{name}_{os.getpid()}_{random.randint(0, 99999)}"
        self.dir = tempfile.mkdtemp(prefix=f"oh-{name}-")
        self.inbox = os.path.join(self.dir, "inbox")
        self.outbox = os.path.join(self.dir, "outbox")
        os.makedirs(self.inbox)
        os.makedirs(self.outbox)
        self.sql(f"CREATE DATABASE {self.db} CHARACTER SET utf8mb4", db=None)
        self.config = os.path.join(self.dir, "orderhub.conf")

    def write_config(self, extra="", hub="", inbox_extra=""):
        with open(self.config, "w") as f:
            f.write(f"""[hub]
spool = {self.dir}/spool
workers = 2
settle = 300ms
retry_base = 200ms
retry_max = 2s
{hub}

[store]
socket = {self.sock}
user = {self.user}
password = file:{self.pwfile}
database = {self.db}

[channel inbox]
type = dir
path = {self.inbox}
pattern = *.json
format = canonical
poll = 1s
{inbox_extra}

[channel export]
type = dir
path = {self.outbox}
inbound = no

[route export]
on = order.created
to = export
{extra}
""")

    def sql(self, q, db="__self__"):
        cmd = ["mariadb", f"--socket={self.sock}", "-u", self.user,
               f"-p{open(self.pwfile).read().strip()}", "-N", "-B", "-e", q]
        if db == "__self__":
            cmd.insert(1, f"--database={self.db}")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        return [line.split("\t") for line in out.stdout.splitlines()]

    def scalar(self, q):
        rows = self.sql(q)
        return rows[0][0] if rows else None

    def run(self, *args, check=True, env=None, timeout=600):
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.run([self.bin, *args, "-c", self.config], capture_output=True,
                           text=True, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"orderhub {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr[-4000:]}")
        return p

    def once(self, env=None):
        return self.run("run", "--once", env=env)

    def spool_files(self, queue):
        d = os.path.join(self.dir, "spool", queue)
        return sorted(f for f in os.listdir(d) if not f.endswith(".reason")) if os.path.isdir(d) else []

    def reason(self, spool_id):
        with open(os.path.join(self.dir, "spool", "dead", spool_id + ".reason")) as f:
            return f.read()

    def close(self):
        try:
            self.sql(f"DROP DATABASE IF EXISTS {self.db}", db=None)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def order(ext, updated="2026-11-20T10:00:00Z", lines=3, qty=1, status="accepted", total="30.00"):
    return {
        "external_id": str(ext),
        "number": f"#{ext}",
        "status": status,
        "placed_at": "2026-11-20T09:00:00Z",
        "updated_at": updated,
        "currency": "EUR",
        "total": total,
        "customer": {"email": f"c{ext}@example.com", "name": f"Customer {ext}"},
        "bill_to": {"name": f"Customer {ext}", "line1": "Hauptstr. 1", "city": "Berlin",
                    "postal_code": "10115", "country": "DE"},
        "ship_to": {"name": f"Customer {ext}", "line1": "Hauptstr. 1", "city": "Berlin",
                    "postal_code": "10115", "country": "DE"},
        "lines": [{"sku": f"SKU-{i}", "qty": str(qty), "unit_price": "10.00"}
                  for i in range(1, lines + 1)],
    }


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def wait_until(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return
        except subprocess.CalledProcessError:
            pass  # e.g. the daemon has not created its tables yet
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
