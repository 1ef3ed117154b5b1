"""Helpers for the end-to-end connector tests: a vendor fake on a free
loopback port, the real daemon with its HTTP server, signed webhooks.

The daemon is started with `[http] listen = 127.0.0.1:0`; the port it got is
read from its `http.listening ... port=N` log line.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

from ohtest import wait_until

SRC = os.environ.get("OH_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FAKES = os.path.join(SRC, "tests", "fakes")


class Fake:
    """tests/fakes/<name>_fake.py as a child process."""

    def __init__(self, name, *args):
        self.p = subprocess.Popen([sys.executable, os.path.join(FAKES, name + "_fake.py"), *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        if not line.strip().isdigit():
            self.p.kill()
            raise AssertionError(f"{name} fake did not start (first line {line!r})")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, **req):
        return http("POST", self.url + "/_control", json.dumps(req).encode(),
                    {"Content-Type": "application/json"})[1]

    def get(self, path, headers):
        return http("GET", self.url + path, None, headers)[1]

    def stop(self):
        self.p.kill()
        self.p.wait()


def http(method, url, body=None, headers=None, timeout=30):
    rq = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(rq, timeout=timeout) as r:
            data = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        data = e.read()
        status = e.code
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, data


class Daemon:
    """`orderhub run -c CONFIG` in the background, log in DIR/daemon.log."""

    def __init__(self, env, env_vars=None):
        self.log_path = os.path.join(env.dir, "daemon.log")
        self.logf = open(self.log_path, "ab")
        e = dict(os.environ)
        e.update(env_vars or {})
        self.p = subprocess.Popen([env.bin, "run", "-c", env.config], stdout=self.logf,
                                  stderr=self.logf, env=e)
        self.port = None
        wait_until(self._listening, 30, "the daemon's http.listening line")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _listening(self):
        if self.p.poll() is not None:
            raise AssertionError("daemon exited early:\n" + self.log()[-4000:])
        m = re.search(r"http\.listening .*port=(\d+)", self.log())
        if m:
            self.port = int(m.group(1))
            return True
        return False

    def post(self, path, body, headers):
        return http("POST", f"http://127.0.0.1:{self.port}{path}", body, headers)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()
        return self.p.returncode


def hmac_b64(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def store_config(env):
    return f"""[store]
socket = {env.sock}
user = {env.user}
password = file:{env.pwfile}
database = {env.db}
"""


def write(env, text):
    with open(env.config, "w") as f:
        f.write(text)


def wait_count(env, sql, want, timeout, what):
    wait_until(lambda: int(env.scalar(sql) or 0) == want, timeout,
               f"{what} (last: {env.scalar(sql)}, want {want})")


def settle(env, sql, secs=2.0):
    """Returns the value of sql once it has stopped changing for secs."""
    last, since = None, time.time()
    end = time.time() + 60
    while time.time() < end:
        v = env.scalar(sql)
        if v != last:
            last, since = v, time.time()
        elif time.time() - since >= secs:
            return v
        time.sleep(0.2)
    return last
