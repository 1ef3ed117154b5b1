#!/usr/bin/env python3
"""GET /metrics on the daemon's HTTP server.

The daemon reaches MariaDB through a small TCP proxy this test controls, so
the store can be taken away and given back without touching the shared
server.

  1. Signed Shopify webhooks (3 new, 1 repeated, 1 badly signed) and one to
     a channel that does not exist; an outbox row and an overdue EDI
     interchange inserted directly. The scrape is valid text exposition
     format 0.0.4 (every sample has a TYPE, no series twice) and says:
     webhooks by channel and code, spool queues, documents by status,
     outbox by state, one overdue acknowledgement, store up.
  2. The proxy stops: the endpoint still answers 200, quickly, with
     orderhub_store_up 0 and without the store's series; webhooks are 503.
  3. The proxy is back: orderhub_store_up 1 again.
"""
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, wait_until  # noqa: E402
from e2e import Daemon, SRC, hmac_b64, write  # noqa: E402

SECRET = "whsec-metrics-1"
FIXTURES = os.environ.get("OH_FIXTURES") or os.path.join(SRC, "..", "shared", "fixtures")


class Proxy:
    """127.0.0.1:PORT -> the MariaDB unix socket; stop() drops everything."""

    def __init__(self, unix_path):
        self.unix_path = unix_path
        self.port = 0
        self.lock = threading.Lock()
        self.socks = []
        self.ls = None
        self.start()

    def start(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.port = ls.getsockname()[1]
        self.ls = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                u.connect(self.unix_path)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.ls.close()
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def scrape(port):
    t0 = time.time()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        body = r.read().decode()
        return r.status, r.headers.get("Content-Type"), body, time.time() - t0


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.e+]+|NaN)$')


def parse(text):
    """{(name, labels-string): value}; raises on anything not 0.0.4 text."""
    check(text.endswith("\n"), "the exposition ends with a newline")
    typed, helped, out = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split(" ", 3)[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            check(typ in ("counter", "gauge", "untyped", "histogram", "summary"), line)
            check(name not in typed, f"TYPE given twice for {name}")
            typed[name] = typ
            continue
        m = SAMPLE.match(line)
        check(m is not None, f"not a sample line: {line!r}")
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
        check(name in typed, f"sample before its TYPE: {line}")
        check(name in helped, f"sample without HELP: {line}")
        check((name, labels) not in out, f"series given twice: {line}")
        out[(name, labels)] = value
    return out, typed


def main():
    env = Env("metrics")
    proxy = Proxy(env.sock)
    d = None
    try:
        write(env, f"""[hub]
spool = {env.dir}/spool
workers = 2
worker_nice = 5

[store]
host = 127.0.0.1
port = {proxy.port}
user = {env.user}
password = file:{env.pwfile}
database = {env.db}

[http]
listen = 127.0.0.1:0

[channel shop]
type = shopify
shop = acme.myshopify.com
access_token = env:OH_TEST_SHOPIFY_TOKEN
webhook_secret = env:OH_TEST_SHOPIFY_SECRET
mapping = {SRC}/mappings/shopify/webhook.map
poll = 0
""")
        d = Daemon(env, {"OH_TEST_SHOPIFY_TOKEN": "shpat_x", "OH_TEST_SHOPIFY_SECRET": SECRET})

        # [hub] worker_nice = 5: the two workers run 5 above the daemon's
        # nice value, every other thread at it
        def nices():
            out = []
            for tid in os.listdir(f"/proc/{d.p.pid}/task"):
                with open(f"/proc/{d.p.pid}/task/{tid}/stat") as f:
                    out.append(int(f.read().rsplit(")", 1)[1].split()[16]))
            return out
        base = os.getpriority(os.PRIO_PROCESS, d.p.pid)
        wait_until(lambda: nices().count(base + 5) == 2, 10, "two workers at nice +5")
        check(all(n in (base, base + 5) for n in nices()), f"other threads at the base: {nices()}")
        with open(os.path.join(FIXTURES, "shopify", "order-single-shopify_python_api.json"),
                  "rb") as f:
            order = json.loads(f.read())["order"]

        def hook(oid, wid, secret=SECRET, channel="shop"):
            o = dict(order, id=oid, updated_at="2026-11-20T10:00:00-05:00")
            body = json.dumps(o).encode()
            return d.post(f"/webhooks/{channel}", body, {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Webhook-Id": wid,
                "X-Shopify-Hmac-Sha256": hmac_b64(secret, body)})[0]

        # 1. traffic, then one scrape with everything in it
        for i in range(3):
            check(hook(9100 + i, f"wh-{i}") == 200, "signed webhook stored")
        check(hook(9100, "wh-0") == 200, "repeated webhook answered 200")
        check(hook(9200, "wh-bad", secret="wrong") == 401, "bad signature refused")
        check(hook(9300, "wh-x", channel="nosuch") == 404, "unknown channel")
        wait_until(lambda: env.scalar("SELECT COUNT(*) FROM orders") == "3", 60,
                   "three orders stored")
        # due in an hour: the dispatcher leaves it pending while we scrape
        env.sql("INSERT INTO outbox (event, target, origin, payload, next_attempt_at) "
                "VALUES ('order.created', 'sink', 'shop', '{}', "
                "UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)")
        env.sql("INSERT INTO edi_interchanges_out (partner, outbox_id, standard, message, icn, "
                "gcn, scn, ack_expected, ack_due_at, ack_status) VALUES ('acme', 1, 'x12', "
                "'855', 7, 7, 1, '997', CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR, 'pending'), "
                "('acme', 2, 'x12', '855', 8, 8, 1, '997', "
                "CURRENT_TIMESTAMP(3) + INTERVAL 1 HOUR, 'pending')")
        docs = int(env.scalar("SELECT COUNT(*) FROM documents"))
        check(docs >= 3, "documents recorded")

        def fresh():
            st, _, body, _ = scrape(d.port)
            m, _ = parse(body)
            return m.get(("orderhub_outbox_messages", 'state="pending"')) == 1.0
        # the store's counts are cached for a few seconds
        wait_until(fresh, 30, "the outbox row in a scrape")
        st, ctype, body, _ = scrape(d.port)
        check(st == 200, "metrics answer 200")
        check(ctype == "text/plain; version=0.0.4; charset=utf-8", f"content type {ctype}")
        m, typed = parse(body)
        print(body)
        check(m[("orderhub_webhooks_total", 'channel="shop",code="200"')] == 4, "4 answered 200")
        check(m[("orderhub_webhooks_total", 'channel="shop",code="401"')] == 1, "1 answered 401")
        check(m[("orderhub_webhooks_total", 'channel="",code="404"')] == 1,
              "unknown channel counted under an empty channel label")
        check(typed["orderhub_webhooks_total"] == "counter", "webhooks_total is a counter")
        for q in ("incoming", "active", "deferred", "dead"):
            check(("orderhub_spool_entries", f'queue="{q}"') in m, f"spool queue {q}")
        check(m[("orderhub_spool_entries", 'queue="dead"')] == 0, "nothing dead")
        check(m[("orderhub_store_up", "")] == 1, "store up")
        for s in ("pending", "leased", "done", "dead"):
            check(("orderhub_outbox_messages", f'state="{s}"') in m, f"outbox state {s}")
        got_docs = sum(v for (n, _), v in m.items() if n == "orderhub_documents")
        check(got_docs == docs, f"documents by status add up to {docs} (got {got_docs})")
        check(m[("orderhub_edi_acks_overdue", "")] == 1, "one acknowledgement overdue")
        check(("orderhub_edi_acks_overdue_found_total", "") in m, "EDI overdue counter")

        # 2. the store goes away
        proxy.stop()

        def down():
            st, _, body, secs = scrape(d.port)
            check(st == 200, "metrics answer while the store is down")
            check(secs < 10, f"a scrape without the store took {secs:.1f}s")
            mm, _ = parse(body)
            return mm.get(("orderhub_store_up", "")) == 0
        wait_until(down, 40, "orderhub_store_up 0")
        st, _, body, _ = scrape(d.port)
        m, _ = parse(body)
        check(not any(n in ("orderhub_outbox_messages", "orderhub_documents",
                            "orderhub_edi_acks_overdue") for n, _ in m),
              "no store series while the store is down")
        check(("orderhub_spool_entries", 'queue="incoming"') in m, "spool series still there")
        check(hook(9400, "wh-down") == 503, "webhook 503 while the store is down")
        st, _, body, _ = scrape(d.port)
        m, _ = parse(body)
        check(m[("orderhub_webhooks_total", 'channel="shop",code="503"')] >= 1, "503 counted")

        # 3. and comes back
        proxy.start()
        wait_until(lambda: parse(scrape(d.port)[2])[0].get(("orderhub_store_up", "")) == 1, 60,
                   "orderhub_store_up 1 again")
        check(d.stop() == 0, "daemon exits cleanly")
        d = None
        print("1 passed, 0 failed")
    finally:
        if d:
            d.stop()
        proxy.stop()
        env.close()


if __name__ == "__main__":
    main()
