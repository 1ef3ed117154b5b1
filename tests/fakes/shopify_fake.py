#!/usr/bin/env python3
"""A fake Shopify Admin REST API (Python 3 standard library only).

    shopify_fake.py [--port N] [--orders 5000] [--fixtures DIR] [--token T]
                    [--api-version 2024-10] [--bucket 40] [--leak 2] [--seed 1]

Prints the bound port on stdout's first line. Follows the documented contract
(see the project's contracts reference, section 1):

  * /admin/api/{version}/... with X-Shopify-Access-Token (401 without);
  * GET orders.json: status, updated_at_min/max, limit <= 250 (400 above),
    order=updated_at asc|id asc|created_at desc (default), fields ignored;
    Link header pagination with an opaque page_info; with page_info only
    limit and fields are allowed (400 otherwise);
  * X-Shopify-Shop-Api-Call-Limit: n/BUCKET on every answer, a leaky bucket
    leaking LEAK per second; full -> 429 with Retry-After: 1.0;
  * GET orders/{id}/fulfillment_orders.json, POST fulfillments.json
    (422 {"errors":{...}} for bad input), POST inventory_levels/set.json;
  * error bodies {"errors":"text"} / {"errors":{"field":["msg"]}}.

Orders are built from the fixture order shape (order-single-*.json when
--fixtures is given), varying ids, names, updated_at (three orders share each
second, so same-second cursors are exercised) and line items.

POST /_control {"op": ...}:
  faults            see fakebase.py
  update            {"ids":[..], "updated_at": EPOCH_S | "max" | "now"}: bump
                    orders (max = the same second as the newest order)
  update_after      {"n": K, "ids": [..], "updated_at": ...}: the same, applied
                    just before the K-th orders.json request is answered
  pushed            -> {"fulfillments":[..], "inventory_sets":[..]}
  stats             -> {"requests": N, "orders_requests": N, "order_gets": N
                        (GET orders/{id}.json), "throttled": N}
  set_fo_status     {"order_id": N, "status": "closed"}
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

TZ = timezone(timedelta(hours=-5))
BASE_TS = 1735689600  # 2025-01-01T00:00:00Z


def fmt_ts(ts):
    return datetime.fromtimestamp(ts, TZ).isoformat()


def parse_ts(s):
    s = s.strip().replace(" ", "+")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


def base_order(fixtures):
    if fixtures:
        p = os.path.join(fixtures, "shopify", "order-single-shopify_python_api.json")
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)["order"]
    return {"id": 1, "email": "bob@example.com", "currency": "USD", "total_price": "10.00",
            "financial_status": "paid", "line_items": [{"id": 1, "sku": "SKU", "quantity": 1,
                                                        "price": "10.00", "variant_id": 1}],
            "shipping_address": {"name": "Bob", "country_code": "US"}}


def make_orders(n, fixtures):
    tmpl = base_order(fixtures)
    tmpl_line = tmpl["line_items"][0]
    orders = {}
    for i in range(n):
        o = copy.deepcopy(tmpl)
        oid = 5000000000 + i
        o["id"] = oid
        o["name"] = "#%d" % (1001 + i)
        o["number"] = i + 1
        o["order_number"] = 1001 + i
        o["admin_graphql_api_id"] = "gid://shopify/Order/%d" % oid
        ts = BASE_TS + i // 3
        o["_ts"] = ts
        o["created_at"] = fmt_ts(ts)
        o["updated_at"] = fmt_ts(ts)
        o["total_price"] = "%d.%02d" % (10 + i % 90, i % 100)
        lines = []
        for j in range(1 + i % 3):
            li = copy.deepcopy(tmpl_line)
            li["id"] = oid * 10 + j
            li["sku"] = "SKU-%d" % ((i + j) % 400)
            li["variant_id"] = 7000 + (i + j) % 400
            li["quantity"] = 1 + (i + j) % 4
            li["price"] = "%d.00" % (5 + j)
            lines.append(li)
        o["line_items"] = lines
        o["fulfillments"] = []
        orders[oid] = o
    return orders


def public(o):
    return {k: v for k, v in o.items() if not k.startswith("_")}


class Handler(FakeHandler):
    # -- rate limit ----------------------------------------------------
    def bucket_take(self):
        s = self.server
        with s.lock:
            now = time.monotonic()
            s.level = max(0.0, s.level - (now - s.last_leak) * s.leak)
            s.last_leak = now
            if s.level + 1 > s.bucket:
                s.throttled += 1
                return False
            s.level += 1
            return True

    def call_limit(self):
        return "%d/%d" % (min(self.server.bucket, int(self.server.level + 0.999)), self.server.bucket)

    def too_many(self, retry_after):
        self.server.throttled += 1
        self.send(429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."},
                  {"Retry-After": retry_after, "X-Shopify-Shop-Api-Call-Limit": self.call_limit()})

    def reject_body(self):
        return {"errors": {"base": ["The fulfillment order's status is closed, which is not fulfillable"]}}

    def err(self, status, errors):
        self.send(status, {"errors": errors}, {"X-Shopify-Shop-Api-Call-Limit": self.call_limit()})

    # -- dispatch ------------------------------------------------------
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        if self.path.split("?")[0] == "/_control":
            return self.handle_control()
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        s = self.server
        u = urlparse(self.path)
        with s.lock:
            s.requests += 1
        m = re.match(r"^/admin/api/([0-9]{4}-[0-9]{2}|unstable)/(.+)$", u.path)
        if not m:
            self.body()
            return self.err(404, "Not Found")
        if self.headers.get("X-Shopify-Access-Token") != s.token:
            self.body()
            return self.err(401, "[API] Invalid API key or access token (unrecognized login or wrong password)")
        handled, truncate = self.apply_fault()
        if handled:
            return
        if not self.bucket_take():
            self.body()
            return self.too_many("1.0")
        rest = m.group(2)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        if method == "GET" and rest == "orders.json":
            return self.list_orders(q, m.group(1), truncate)
        mm = re.match(r"^orders/(\d+)/fulfillment_orders\.json$", rest)
        if method == "GET" and mm:
            return self.fulfillment_orders(int(mm.group(1)), truncate)
        mm = re.match(r"^orders/(\d+)\.json$", rest)
        if method == "GET" and mm:
            with s.lock:
                s.order_gets += 1
                o = s.orders.get(int(mm.group(1)))
                if not o:
                    return self.err(404, "Not Found")
                return self.send(200, {"order": public(o)},
                                 {"X-Shopify-Shop-Api-Call-Limit": self.call_limit()}, truncate=truncate)
        if method == "POST" and rest == "fulfillments.json":
            return self.create_fulfillment()
        if method == "POST" and rest == "inventory_levels/set.json":
            return self.inventory_set()
        self.body()
        return self.err(404, "Not Found")

    # -- orders --------------------------------------------------------
    def list_orders(self, q, version, truncate):
        s = self.server
        with s.lock:
            s.orders_requests += 1
            for pend in list(s.pending_updates):
                if s.orders_requests >= pend["n"]:
                    s.pending_updates.remove(pend)
                    self.apply_update(pend)
        try:
            limit = int(q.get("limit", "50"))
        except ValueError:
            return self.err(400, {"limit": ["is not a number"]})
        if limit < 1 or limit > 250:
            return self.err(400, {"limit": ["must be between 1 and 250"]})
        if "page_info" in q:
            for k in q:
                if k not in ("page_info", "limit", "fields"):
                    return self.err(400, "%s cannot be passed when page_info is present" % k)
            try:
                pi = json.loads(base64.urlsafe_b64decode(q["page_info"] + "=" * (-len(q["page_info"]) % 4)))
                filt, after = pi["f"], pi["a"]
            except (ValueError, KeyError):
                return self.err(400, {"page_info": ["Invalid value."]})
        else:
            filt, after = {k: v for k, v in q.items() if k not in ("limit", "fields")}, None
        status = filt.get("status", "open")
        order = filt.get("order", "created_at desc").replace("+", " ")
        if order not in ("updated_at asc", "id asc", "created_at desc", "updated_at desc"):
            return self.err(400, {"order": ["is invalid"]})
        try:
            umin = parse_ts(filt["updated_at_min"]) if "updated_at_min" in filt else None
            umax = parse_ts(filt["updated_at_max"]) if "updated_at_max" in filt else None
        except ValueError:
            return self.err(400, {"updated_at_min": ["is invalid"]})
        with s.lock:
            sel = []
            for o in s.orders.values():
                if status == "open" and o.get("closed_at"):
                    continue
                if status == "cancelled" and not o.get("cancelled_at"):
                    continue
                if umin is not None and o["_ts"] < umin:
                    continue
                if umax is not None and o["_ts"] > umax:
                    continue
                sel.append(o)
            if order == "updated_at asc":
                key = lambda o: (o["_ts"], o["id"])
                rev = False
            elif order == "updated_at desc":
                key = lambda o: (o["_ts"], o["id"])
                rev = True
            elif order == "id asc":
                key = lambda o: (o["id"],)
                rev = False
            else:
                key = lambda o: (o["id"],)
                rev = True
            sel.sort(key=key, reverse=rev)
            if after is not None:
                a = tuple(after)
                sel = [o for o in sel if (key(o) < a if rev else key(o) > a)]
            page = sel[:limit]
            more = len(sel) > limit
            data = json.dumps({"orders": [public(o) for o in page]}).encode()
            hdrs = {"X-Shopify-Shop-Api-Call-Limit": self.call_limit(), "X-Shopify-API-Version": version}
            if more:
                tok = base64.urlsafe_b64encode(json.dumps({"f": filt, "a": list(key(page[-1]))}).encode()).decode().rstrip("=")
                host = self.headers.get("Host", "127.0.0.1")
                nxt = "http://%s/admin/api/%s/orders.json?%s" % (host, version, urlencode({"limit": limit, "page_info": tok}))
                link = '<%s>; rel="next"' % nxt
                if after is not None:
                    link = '<http://%s/admin/api/%s/orders.json?limit=%d&page_info=prev>; rel="previous", ' % (host, version, limit) + link
                hdrs["Link"] = link
        self.send(200, raw=data, headers=hdrs, truncate=truncate)

    def apply_update(self, req):
        s = self.server
        newest = max(o["_ts"] for o in s.orders.values()) if s.orders else BASE_TS
        to = req.get("updated_at", "now")
        if to == "max":
            ts = newest
        elif to == "now":
            ts = max(newest + 1, int(time.time()))
        else:
            ts = int(to)
        for oid in req.get("ids", []):
            o = s.orders.get(int(oid))
            if o:
                o["_ts"] = ts
                o["updated_at"] = fmt_ts(ts)
                o["note"] = "updated %d" % ts
        return ts

    # -- fulfillment ---------------------------------------------------
    def fo_for(self, o):
        s = self.server
        fo = s.fos.get(o["id"])
        if fo is None:
            fo = {"id": o["id"] * 10 + 1, "order_id": o["id"], "status": "open",
                  "assigned_location_id": 905684977, "request_status": "unsubmitted",
                  "line_items": [{"id": li["id"] * 10 + 1, "shop_id": 1, "fulfillment_order_id": o["id"] * 10 + 1,
                                  "line_item_id": li["id"], "inventory_item_id": 8000 + li["variant_id"],
                                  "quantity": li["quantity"], "fulfillable_quantity": li["quantity"],
                                  "variant_id": li["variant_id"]} for li in o["line_items"]]}
            s.fos[o["id"]] = fo
        return fo

    def fulfillment_orders(self, oid, truncate):
        s = self.server
        with s.lock:
            o = s.orders.get(oid)
            if not o:
                return self.err(404, "Not Found")
            fo = self.fo_for(o)
            data = json.dumps({"fulfillment_orders": [fo]}).encode()
        self.send(200, raw=data, headers={"X-Shopify-Shop-Api-Call-Limit": self.call_limit()}, truncate=truncate)

    def create_fulfillment(self):
        s = self.server
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            self.body()
            return self.err(400, "Content-Type must be application/json")
        req = self.json_body()
        if isinstance(req, ValueError) or not isinstance(req, dict):
            return self.err(400, "malformed JSON")
        f = req.get("fulfillment")
        if not isinstance(f, dict):
            return self.err(400, {"fulfillment": ["Required parameter missing or invalid"]})
        lbfo = f.get("line_items_by_fulfillment_order")
        if not isinstance(lbfo, list) or not lbfo:
            return self.err(422, {"line_items_by_fulfillment_order": ["must be present"]})
        with s.lock:
            fos = {fo["id"]: fo for fo in s.fos.values()}
            plan = []
            for item in lbfo:
                fo = fos.get(item.get("fulfillment_order_id"))
                if not fo:
                    return self.err(422, {"fulfillment_order_id": ["Fulfillment order does not exist"]})
                if fo["status"] != "open" and fo["status"] != "in_progress":
                    return self.err(422, {"fulfillment_order": ["The fulfillment order's status is %s, which is not fulfillable" % fo["status"]]})
                lines = item.get("fulfillment_order_line_items")
                if lines is None:
                    lines = [{"id": li["id"], "quantity": li["fulfillable_quantity"]} for li in fo["line_items"] if li["fulfillable_quantity"] > 0]
                for ln in lines:
                    li = next((x for x in fo["line_items"] if x["id"] == ln.get("id")), None)
                    if li is None:
                        return self.err(422, {"fulfillment_order_line_items": ["Fulfillment order line item %s does not exist" % ln.get("id")]})
                    q = ln.get("quantity")
                    if not isinstance(q, int) or q < 1 or q > li["fulfillable_quantity"]:
                        return self.err(422, {"base": ["Invalid fulfillment order line item quantity requested."]})
                    plan.append((fo, li, q))
            ti = f.get("tracking_info") or {}
            for fo, li, q in plan:
                li["fulfillable_quantity"] -= q
            for fo in {id(fo): fo for fo, _, _ in plan}.values():
                fo["status"] = "closed" if all(x["fulfillable_quantity"] == 0 for x in fo["line_items"]) else "in_progress"
            s.next_fulfillment += 1
            rec = {"id": s.next_fulfillment, "order_id": plan[0][0]["order_id"], "status": "success",
                   "tracking_company": ti.get("company"), "tracking_number": ti.get("number"),
                   "tracking_url": ti.get("url"), "notify_customer": f.get("notify_customer", False),
                   "line_items": [{"id": li["line_item_id"], "quantity": q} for _, li, q in plan],
                   "request": req}
            s.fulfillments.append(rec)
            out = {k: v for k, v in rec.items() if k != "request"}
        self.send(201, {"fulfillment": out}, {"X-Shopify-Shop-Api-Call-Limit": self.call_limit()})

    def inventory_set(self):
        s = self.server
        req = self.json_body()
        if isinstance(req, ValueError) or not isinstance(req, dict):
            return self.err(400, "malformed JSON")
        errs = {}
        for k in ("location_id", "inventory_item_id", "available"):
            if not isinstance(req.get(k), int):
                errs[k] = ["is required" if k not in req else "must be an integer"]
        if errs:
            return self.err(422, errs)
        with s.lock:
            s.inventory_sets.append(req)
        self.send(200, {"inventory_level": {"inventory_item_id": req["inventory_item_id"],
                                            "location_id": req["location_id"],
                                            "available": req["available"],
                                            "updated_at": fmt_ts(int(time.time()))}},
                  {"X-Shopify-Shop-Api-Call-Limit": self.call_limit()})

    # -- control -------------------------------------------------------
    def control(self, req):
        s = self.server
        op = req.get("op")
        if op == "update":
            return 200, {"updated_at": self.apply_update(req)}
        if op == "update_after":
            s.pending_updates.append(req)
            return 200, {"ok": True}
        if op == "pushed":
            return 200, {"fulfillments": s.fulfillments, "inventory_sets": s.inventory_sets}
        if op == "stats":
            return 200, {"requests": s.requests, "orders_requests": s.orders_requests,
                         "order_gets": s.order_gets, "throttled": s.throttled,
                         "orders": len(s.orders)}
        if op == "set_fo_status":
            o = s.orders.get(int(req["order_id"]))
            if not o:
                return 404, {"error": "no such order"}
            self.fo_for(o)["status"] = req.get("status", "closed")
            return 200, {"ok": True}
        return 400, {"error": "unknown op %r" % op}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--fixtures", default=os.environ.get("OH_FIXTURES"))
    ap.add_argument("--token", default="shpat_test_token")
    ap.add_argument("--bucket", type=int, default=40)
    ap.add_argument("--leak", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    def init(srv):
        srv.orders = make_orders(a.orders, a.fixtures)
        srv.token = a.token
        srv.bucket = a.bucket
        srv.leak = a.leak
        srv.level = 0.0
        srv.last_leak = time.monotonic()
        srv.faults = Faults(a.seed)
        srv.requests = srv.orders_requests = srv.throttled = srv.order_gets = 0
        srv.pending_updates = []
        srv.fos = {}
        srv.fulfillments = []
        srv.inventory_sets = []
        srv.next_fulfillment = 1000

    serve(Handler, a.port, init)


if __name__ == "__main__":
    main()
