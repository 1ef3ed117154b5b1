#!/usr/bin/env python3
"""A fake WooCommerce REST API v3 (Python 3 standard library only).

    woocommerce_fake.py [--port N] [--orders 5000] [--fixtures DIR]
                        [--key ck_test] [--secret cs_test] [--seed 1]

Prints the bound port on stdout's first line. Follows the documented contract
(see the project's contracts reference, section 2):

  * /wp-json/wc/v3/... with HTTP Basic ck/cs (or consumer_key/consumer_secret
    query parameters); 401 {"code","message","data":{"status"}} without;
  * GET /orders: page (1-based), per_page <= 100 (400 rest_invalid_param
    above), modified_after/modified_before (exclusive, site time unless
    dates_are_gmt=true; this fake's site time is GMT-3), orderby
    date|id|include|title|slug|modified, order asc|desc; headers X-WP-Total,
    X-WP-TotalPages, Link (next/prev);
  * GET/PUT /orders/{id} (PUT partial; status validated), GET/POST
    /orders/{id}/notes, GET /products?sku=, POST /products/batch (per-item
    errors in the answer, as WooCommerce does).

Orders come from the fixture order shape (order-single-v3-rest-docs.json),
with varied ids, numbers, dates (three per second) and line items.

POST /_control {"op": ...}: faults (fakebase.py), update {"ids", "updated_at":
"max"|"now"|EPOCH}, update_after {"n", "ids", "updated_at"}, pushed ->
{"order_updates", "notes", "product_batches"}, stats.
"""
import argparse
import base64
import copy
import json
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakebase import FakeHandler, Faults, serve  # noqa: E402

SITE_TZ = timezone(timedelta(hours=-3))
BASE_TS = 1735689600
STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash")


def gmt(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def local(ts):
    return datetime.fromtimestamp(ts, SITE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(s, is_gmt):
    s = s.strip().replace(" ", "+")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc if is_gmt else SITE_TZ)
    return int(d.timestamp())


def make_orders(n, fixtures):
    tmpl = None
    if fixtures:
        p = os.path.join(fixtures, "woocommerce", "order-single-v3-rest-docs.json")
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                tmpl = json.load(f)
    if tmpl is None:
        tmpl = {"id": 1, "status": "processing", "currency": "USD", "total": "10.00",
                "billing": {}, "shipping": {}, "line_items": [{"id": 1, "sku": "", "quantity": 1,
                                                               "product_id": 1, "price": 10}]}
    tline = tmpl["line_items"][0]
    orders = {}
    for i in range(n):
        o = copy.deepcopy(tmpl)
        oid = 10000 + i
        o["id"] = oid
        o["number"] = str(oid)
        o["order_key"] = "wc_order_%012x" % oid
        ts = BASE_TS + i // 3
        o["_ts"] = ts
        for k in ("date_created", "date_modified", "date_paid"):
            o[k] = local(ts)
            o[k + "_gmt"] = gmt(ts)
        o["total"] = "%d.%02d" % (10 + i % 90, i % 100)
        lines = []
        for j in range(1 + i % 3):
            li = copy.deepcopy(tline)
            li["id"] = oid * 10 + j
            li["sku"] = "SKU-%d" % ((i + j) % 400)
            li["product_id"] = 100 + (i + j) % 400
            li["quantity"] = 1 + (i + j) % 4
            lines.append(li)
        o["line_items"] = lines
        orders[oid] = o
    return orders


def public(o):
    return {k: v for k, v in o.items() if not k.startswith("_")}


def werr(code, message, status, **extra):
    d = {"status": status}
    d.update(extra)
    return {"code": code, "message": message, "data": d}


class Handler(FakeHandler):
    def too_many(self, retry_after):
        self.send(429, werr("too_many_requests", "Too many requests.", 429), {"Retry-After": retry_after})

    def server_error_body(self, status):
        return werr("internal_server_error", "There has been a critical error on this website.", status)

    def reject_body(self):
        return werr("woocommerce_rest_invalid_order", "Rejected by the fake.", 422)

    def do_GET(self):
        self.route("GET")

    def do_PUT(self):
        self.route("PUT")

    def do_POST(self):
        if self.path.split("?")[0] == "/_control":
            return self.handle_control()
        self.route("POST")

    def authed(self, q):
        s = self.server
        a = self.headers.get("Authorization") or ""
        if a.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(a[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == s.key and pw == s.secret
        return q.get("consumer_key") == s.key and q.get("consumer_secret") == s.secret

    def route(self, method):
        s = self.server
        u = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        with s.lock:
            s.requests += 1
        m = re.match(r"^/wp-json/wc/v3/(.+?)/?$", u.path)
        if not m:
            self.body()
            return self.send(404, werr("rest_no_route", "No route was found matching the URL and request method.", 404))
        if not self.authed(q):
            self.body()
            return self.send(401, werr("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401))
        handled, truncate = self.apply_fault()
        if handled:
            return
        rest = m.group(1)
        if method == "GET" and rest == "orders":
            return self.list_orders(q, truncate)
        mm = re.match(r"^orders/(\d+)$", rest)
        if mm and method == "GET":
            with s.lock:
                o = s.orders.get(int(mm.group(1)))
                if not o:
                    return self.send(404, werr("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404))
                return self.send(200, public(o), truncate=truncate)
        if mm and method == "PUT":
            return self.update_order(int(mm.group(1)))
        mm = re.match(r"^orders/(\d+)/notes$", rest)
        if mm:
            return self.notes(int(mm.group(1)), method)
        if rest == "products" and method == "GET":
            sku = q.get("sku")
            with s.lock:
                res = [p for p in s.products.values() if sku is None or p["sku"] == sku]
            return self.send(200, res[:100], {"X-WP-Total": str(len(res)), "X-WP-TotalPages": "1"})
        if rest == "products/batch" and method == "POST":
            return self.product_batch()
        self.body()
        self.send(404, werr("rest_no_route", "No route was found matching the URL and request method.", 404))

    def list_orders(self, q, truncate):
        s = self.server
        with s.lock:
            s.orders_requests += 1
            for pend in list(s.pending_updates):
                if s.orders_requests >= pend["n"]:
                    s.pending_updates.remove(pend)
                    self.apply_update(pend)
        try:
            page = int(q.get("page", "1"))
            per_page = int(q.get("per_page", "10"))
        except ValueError:
            return self.send(400, werr("rest_invalid_param", "Invalid parameter(s): page", 400))
        if per_page < 1 or per_page > 100:
            return self.send(400, werr("rest_invalid_param", "Invalid parameter(s): per_page", 400,
                                       params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}))
        if page < 1:
            return self.send(400, werr("rest_invalid_param", "Invalid parameter(s): page", 400))
        orderby = q.get("orderby", "date")
        if orderby not in ("date", "id", "include", "title", "slug", "modified"):
            return self.send(400, werr("rest_invalid_param", "Invalid parameter(s): orderby", 400))
        order = q.get("order", "desc")
        is_gmt = q.get("dates_are_gmt", "false") in ("true", "1")
        try:
            after = parse_date(q["modified_after"], is_gmt) if "modified_after" in q else None
            before = parse_date(q["modified_before"], is_gmt) if "modified_before" in q else None
        except ValueError:
            return self.send(400, werr("rest_invalid_param", "Invalid parameter(s): modified_after", 400))
        with s.lock:
            sel = [o for o in s.orders.values()
                   if (after is None or o["_ts"] > after) and (before is None or o["_ts"] < before)]
            if orderby == "modified":
                key = lambda o: (o["_ts"], o["id"])
            elif orderby == "date":
                key = lambda o: (o["_cts"], o["id"])
            else:
                key = lambda o: (o["id"],)
            sel.sort(key=key, reverse=(order == "desc"))
            total = len(sel)
            pages = (total + per_page - 1) // per_page
            chunk = sel[(page - 1) * per_page: page * per_page]
            data = json.dumps([public(o) for o in chunk]).encode()
        host = self.headers.get("Host", "127.0.0.1")
        links = []
        base = {k: v for k, v in q.items() if k not in ("consumer_key", "consumer_secret")}
        if page < pages:
            links.append('<http://%s/wp-json/wc/v3/orders?%s>; rel="next"' % (host, urlencode(dict(base, page=page + 1))))
        if page > 1:
            links.append('<http://%s/wp-json/wc/v3/orders?%s>; rel="prev"' % (host, urlencode(dict(base, page=page - 1))))
        hdrs = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            hdrs["Link"] = ", ".join(links)
        self.send(200, raw=data, headers=hdrs, truncate=truncate)

    def apply_update(self, req):
        s = self.server
        newest = max(o["_ts"] for o in s.orders.values()) if s.orders else BASE_TS
        to = req.get("updated_at", "now")
        ts = newest if to == "max" else (max(newest + 1, int(time.time())) if to == "now" else int(to))
        for oid in req.get("ids", []):
            o = s.orders.get(int(oid))
            if o:
                self.touch(o, ts)
                o["customer_note"] = "updated %d" % ts
        return ts

    def touch(self, o, ts=None):
        if ts is None:
            ts = max(int(time.time()), o["_ts"])
        o["_ts"] = ts
        o["date_modified"] = local(ts)
        o["date_modified_gmt"] = gmt(ts)

    def update_order(self, oid):
        s = self.server
        req = self.json_body()
        if not isinstance(req, dict):
            return self.send(400, werr("rest_invalid_json", "Invalid JSON body passed.", 400))
        if "status" in req and req["status"] not in STATUSES:
            return self.send(400, werr("rest_invalid_param", "Invalid parameter(s): status", 400,
                                       params={"status": "status is not one of %s." % ", ".join(STATUSES)}))
        with s.lock:
            o = s.orders.get(oid)
            if not o:
                return self.send(404, werr("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404))
            for k, v in req.items():
                if not k.startswith("_") and k != "id":
                    o[k] = v
            if req.get("status") == "completed":
                o["date_completed"] = local(int(time.time()))
                o["date_completed_gmt"] = gmt(int(time.time()))
            self.touch(o)
            s.order_updates.append({"id": oid, "request": req})
            out = public(o)
        self.send(200, out)

    def notes(self, oid, method):
        s = self.server
        with s.lock:
            if oid not in s.orders:
                self.body()
                return self.send(404, werr("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404))
            if method == "GET":
                return self.send(200, [n for n in s.notes if n["order_id"] == oid])
        req = self.json_body()
        if not isinstance(req, dict) or not req.get("note"):
            return self.send(400, werr("rest_missing_callback_param", "Missing parameter(s): note", 400))
        with s.lock:
            s.next_note += 1
            n = {"id": s.next_note, "order_id": oid, "author": "WooCommerce", "note": req["note"],
                 "customer_note": bool(req.get("customer_note", False)),
                 "date_created": local(int(time.time())), "date_created_gmt": gmt(int(time.time()))}
            s.notes.append(n)
        self.send(201, {k: v for k, v in n.items() if k != "order_id"})

    def product_batch(self):
        s = self.server
        req = self.json_body()
        if not isinstance(req, dict):
            return self.send(400, werr("rest_invalid_json", "Invalid JSON body passed.", 400))
        n = sum(len(req.get(k) or []) for k in ("create", "update", "delete"))
        if n > 100:
            return self.send(413, werr("woocommerce_rest_request_entity_too_large",
                                       "Unable to accept more than 100 items for this request.", 413))
        out = {"update": []}
        with s.lock:
            s.product_batches.append(req)
            for item in req.get("update") or []:
                p = s.products.get(item.get("id"))
                if not p:
                    out["update"].append({"id": item.get("id"), "error": werr(
                        "woocommerce_rest_product_invalid_id", "Invalid ID.", 400)})
                    continue
                for k in ("stock_quantity", "manage_stock", "stock_status"):
                    if k in item:
                        p[k] = item[k]
                out["update"].append(dict(p))
        self.send(200, out)

    def control(self, req):
        s = self.server
        op = req.get("op")
        if op == "update":
            return 200, {"updated_at": self.apply_update(req)}
        if op == "update_after":
            s.pending_updates.append(req)
            return 200, {"ok": True}
        if op == "pushed":
            return 200, {"order_updates": s.order_updates, "notes": s.notes, "product_batches": s.product_batches}
        if op == "order":
            o = s.orders.get(int(req["id"]))
            return (200, public(o)) if o else (404, {"error": "no such order"})
        if op == "stats":
            return 200, {"requests": s.requests, "orders_requests": s.orders_requests, "orders": len(s.orders)}
        return 400, {"error": "unknown op %r" % op}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--fixtures", default=os.environ.get("OH_FIXTURES"))
    ap.add_argument("--key", default="ck_test_key")
    ap.add_argument("--secret", default="cs_test_secret")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    def init(srv):
        srv.orders = make_orders(a.orders, a.fixtures)
        for o in srv.orders.values():
            o["_cts"] = o["_ts"]
        srv.products = {100 + n: {"id": 100 + n, "name": "Product %d" % n, "sku": "SKU-%d" % n,
                                  "manage_stock": True, "stock_quantity": 10, "stock_status": "instock"}
                        for n in range(400)}
        srv.key, srv.secret = a.key, a.secret
        srv.faults = Faults(a.seed)
        srv.requests = srv.orders_requests = 0
        srv.pending_updates = []
        srv.order_updates, srv.notes, srv.product_batches = [], [], []
        srv.next_note = 5000

    serve(Handler, a.port, init)


if __name__ == "__main__":
    main()
