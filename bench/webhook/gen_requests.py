#!/usr/bin/env python3
"""gen_requests.py N SECRET FIXTURES OUT [ID_BASE] — N signed Shopify orders/create
webhook requests for load.c: each is a length line, then the raw HTTP/1.1
request. Bodies are the fixture order (shopify/order-single-*.json, about
5.7 KiB) with a distinct id, name, number, timestamps and line item ids;
X-Shopify-Webhook-Id is distinct too; X-Shopify-Hmac-Sha256 is
base64(HMAC-SHA256(SECRET, body)). Deterministic (no randomness)."""
import base64
import copy
import hashlib
import hmac
import json
import os
import sys
from datetime import datetime, timezone


def main():
    n, secret, fixtures, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4]
    id_base = int(sys.argv[5]) if len(sys.argv) > 5 else 7000000000
    with open(os.path.join(fixtures, "shopify", "order-single-shopify_python_api.json")) as f:
        tmpl = json.load(f)["order"]
    base_ts = 1767225600  # 2026-01-01T00:00:00Z
    with open(out, "wb") as f:
        for i in range(n):
            o = copy.deepcopy(tmpl)
            oid = id_base + i
            o["id"] = oid
            o["name"] = "#B%d" % (100000 + i)
            o["number"] = i + 1
            o["order_number"] = 100000 + i
            ts = base_ts + i // 10
            stamp = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            o["created_at"] = o["updated_at"] = stamp
            for j, li in enumerate(o.get("line_items", [])):
                li["id"] = oid * 10 + j
            body = json.dumps(o, separators=(",", ":")).encode()
            sig = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
            head = ("POST /webhooks/shop HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\n"
                    "X-Shopify-Topic: orders/create\r\n"
                    "X-Shopify-Shop-Domain: acme.myshopify.com\r\n"
                    "X-Shopify-API-Version: 2024-10\r\n"
                    f"X-Shopify-Webhook-Id: bench-{oid}\r\n"
                    f"X-Shopify-Hmac-Sha256: {sig}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            req = head + body
            f.write(b"%d\n" % len(req))
            f.write(req)


if __name__ == "__main__":
    main()
