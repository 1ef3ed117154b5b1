"""Shared plumbing for the vendor fakes (Python 3 standard library only).

A fake is a ThreadingHTTPServer bound to 127.0.0.1 (port 0 = a free one,
printed as the first line of stdout) plus:

  * fault injection, applied to vendor paths only (not /_control):
      {"op": "faults", "rate_429": 0.1, "rate_500": 0.05, "rate_slow": 0,
       "slow_ms": 1500, "rate_drop": 0, "rate_truncate": 0,
       "next": ["429", "500", "503", "drop", "truncate", "slow", "422"]}
    "next" faults are used one per request, in order, before the random ones.
    A "drop" closes the connection without an answer; a "truncate" sends a
    200 whose JSON body is cut in half (Content-Length matches the cut body).
  * POST /_control with a JSON body {"op": ...}; each fake adds its own ops.
"""
import json
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Faults:
    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.rates = {}
        self.next = []
        self.slow_ms = 1500
        self.injected = {}

    def configure(self, cfg):
        with self.lock:
            for k in ("rate_429", "rate_500", "rate_slow", "rate_drop", "rate_truncate"):
                if k in cfg:
                    self.rates[k] = float(cfg[k])
            if "slow_ms" in cfg:
                self.slow_ms = int(cfg["slow_ms"])
            if "next" in cfg:
                self.next = list(cfg["next"])

    def pick(self):
        with self.lock:
            f = None
            if self.next:
                f = self.next.pop(0)  # null = no fault for that request
                if f is None:
                    return None
            else:
                r = self.rng.random()
                acc = 0.0
                for name, key in (("429", "rate_429"), ("500", "rate_500"), ("slow", "rate_slow"),
                                  ("drop", "rate_drop"), ("truncate", "rate_truncate")):
                    acc += self.rates.get(key, 0.0)
                    if r < acc:
                        f = name
                        break
            if f:
                self.injected[f] = self.injected.get(f, 0) + 1
            return f


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "orderhub-fake/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- helpers -------------------------------------------------------
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def json_body(self):
        raw = self.body()
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, UnicodeDecodeError):
            return ValueError("malformed JSON")

    def send(self, status, obj=None, headers=None, raw=None, truncate=False):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        if truncate and len(data) > 2:
            data = data[: len(data) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def drop(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def apply_fault(self, retry_after="1.0"):
        """Returns (handled, truncate). handled=True means a reply was sent."""
        f = self.server.faults.pick()
        if f is None:
            return False, False
        if f == "429":
            self.body()
            self.too_many(retry_after)
            return True, False
        if f in ("500", "502", "503"):
            self.body()
            self.send(int(f), self.server_error_body(int(f)))
            return True, False
        if f == "slow":
            time.sleep(self.server.faults.slow_ms / 1000.0)
            return False, False
        if f == "drop":
            self.body()
            self.drop()
            return True, False
        if f == "truncate":
            return False, True
        if f == "422":
            self.body()
            self.send(422, self.reject_body())
            return True, False
        return False, False

    # overridden by each fake
    def too_many(self, retry_after):
        self.send(429, {"errors": "Exceeded call limit"}, {"Retry-After": retry_after})

    def reject_body(self):
        return {"errors": {"base": ["rejected by the fake"]}}

    def server_error_body(self, status):
        return {"errors": "Internal Server Error"}

    def control(self, req):
        return 400, {"error": "unknown op"}

    def handle_control(self):
        req = self.json_body()
        if not isinstance(req, dict):
            return self.send(400, {"error": "expected a JSON object"})
        op = req.get("op")
        if op == "faults":
            self.server.faults.configure(req)
            return self.send(200, {"ok": True})
        if op == "injected":
            return self.send(200, dict(self.server.faults.injected))
        with self.server.lock:
            status, obj = self.control(req)
        self.send(status, obj)


def serve(handler_cls, port, state_init):
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
    srv.daemon_threads = True
    srv.lock = threading.RLock()
    state_init(srv)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    sys.exit(0)
