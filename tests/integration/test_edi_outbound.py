#!/usr/bin/env python3
"""Outbound EDI through partner channels over dir, with the shipped mappings.

EDIFACT: an ORDERS from the partner is stored and answered with a CONTRL;
then order.accepted, shipment.created and order.invoiced outbox rows for the
partner become ORDRSP, DESADV and INVOIC. X12: an 850 is stored and answered
with a 997; then the same three events become 855, 856 and 810. Every file
sent must validate with `orderhub edi validate`, carry the control numbers
the store handed out for its outbox row (edi_interchanges_out), and hold the
PO number and quantities of the order / shipment; the 856's HL levels must
link to their parents (S -> O -> P -> I) and CTT01 count them.

The X12 shipment is ingested as a 3PL reports it (canonical shipment JSON
on a `dir` channel, routed `to = @origin`), so the 856 is built from the
payload the processor really writes. The other outbox rows are inserted
with SQL, as the processor writes them for those events (the canonical
order; the EDIFACT DESADV gets a canonical shipment with its `order`)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check  # noqa: E402

SRC = os.environ["OH_SOURCE_DIR"]
FIX = os.environ["OH_FIXTURES"]


def outfiles(d, prefix=""):
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if not f.startswith(".") and f.startswith(prefix))


def one_file(d, prefix):
    fs = outfiles(d, prefix)
    check(len(fs) == 1, f"one {prefix} file in {d}, got {outfiles(d)}")
    return os.path.join(d, fs[0])


def validate(env, path):
    p = subprocess.run([env.bin, "edi", "validate", path], capture_output=True, text=True)
    check(p.returncode == 0, f"edi validate {os.path.basename(path)}: exit {p.returncode}\n"
                             f"{p.stdout}{p.stderr}\n{open(path).read()}")
    check("no errors" in p.stdout, f"validate says no errors: {p.stdout}")


def parse(env, path):
    p = subprocess.run([env.bin, "edi", "parse", path], capture_output=True, text=True)
    check(p.returncode == 0, f"edi parse {path}: {p.stderr}")
    # repeated segments are repeated keys: keep the first of each
    sets = json.loads(p.stdout, object_pairs_hook=lambda kv: dict(reversed(kv)))
    check(isinstance(sets, list) and len(sets) == 1, f"one set in {path}: {p.stdout[:300]}")
    return sets[0]


def segments(text, term):
    return [s.strip() for s in text.split(term) if s.strip()]


def elems(seg, sep):
    return seg.split(sep)


def add_outbox(env, event, target, order_id, payload):
    q = ("INSERT INTO outbox (event, target, origin, order_id, payload) VALUES "
         f"('{event}', '{target}', '{target}', {order_id}, "
         f"'{json.dumps(payload).replace(chr(92), chr(92) * 2).replace(chr(39), chr(39) * 2)}')")
    return env.sql(q + "; SELECT LAST_INSERT_ID()")[0][0]  # this row's, not the newest


def control_row(env, outbox_id):
    rows = env.sql("SELECT message, icn, gcn, scn FROM edi_interchanges_out "
                   f"WHERE outbox_id={outbox_id}")
    check(len(rows) == 1, f"edi_interchanges_out row for outbox {outbox_id}: {rows}")
    return rows[0]


def stored_order(env, channel):
    payload = env.scalar("SELECT payload FROM outbox WHERE event='order.created' "
                         f"AND origin='{channel}'")
    check(payload is not None, f"order.created payload for {channel}")
    oid = env.scalar(f"SELECT id FROM orders WHERE channel='{channel}'")
    return int(oid), json.loads(payload)


# ---------------------------------------------------------------- EDIFACT

def edifact_part(env):
    part_in = os.path.join(env.dir, "globex-in")
    part_out = os.path.join(env.dir, "globex-out")
    with open(os.path.join(FIX, "edifact", "ORDERS-D96A-EAN008-pydifact-una.edi"), "rb") as f:
        raw = f.read()
    with open(os.path.join(part_in, "orders.edi"), "wb") as f:
        f.write(raw)
    env.once()
    check(env.scalar("SELECT COUNT(*) FROM orders WHERE channel='globex'") == "1", "ORDERS stored")
    check(env.scalar("SELECT external_id FROM orders WHERE channel='globex'") == "801715918011",
          "PO number is the order's external id")
    contrl = one_file(part_out, "edi.ack")
    ctext = open(contrl).read()
    check("UNH+" in ctext and "CONTRL:" in ctext and "UCI+807+" in ctext,
          f"CONTRL answers interchange 807: {ctext}")
    validate(env, contrl)

    oid, order = stored_order(env, "globex")
    po = order["po_number"]
    check(po == "801715918011" and len(order["lines"]) == 2, f"stored order: {order}")

    accepted = add_outbox(env, "order.accepted", "globex", oid, order)
    shipment = {
        "channel": "wms", "external_id": "SHP-EF-1",
        "order_ref": {"channel": "globex", "external_id": po, "number": po},
        "carrier": "dhl", "service": "EXPRESS", "tracking_number": "JD014600003828",
        "shipped_at": "2026-03-05T14:30:00Z",
        "packages": [{"weight": "3.2"}, {"weight": "1.1"}, {"weight": "0.4"}],
        "lines": [{"line_no": 1, "sku": order["lines"][0]["sku"], "qty": "8"},
                  {"line_no": 2, "sku": order["lines"][1]["sku"], "qty": "5"}],
        "order": order,
    }
    shipped = add_outbox(env, "shipment.created", "globex", oid, shipment)
    inv = dict(order, currency="EUR", subtotal="149.60", tax_total="28.42", total="178.02",
               lines=[dict(order["lines"][0], unit_price="9.95"),
                      dict(order["lines"][1], unit_price="8.75")])
    invoiced = add_outbox(env, "order.invoiced", "globex", oid, inv)
    env.once()
    for ob in (accepted, shipped, invoiced):
        check(env.scalar(f"SELECT state FROM outbox WHERE id={ob}") == "done",
              f"outbox {ob} delivered: {env.sql(f'SELECT state, last_error FROM outbox WHERE id={ob}')}")

    icns = set()
    for prefix, ob, msg in (("order.accepted", accepted, "ORDRSP"),
                            ("shipment.created", shipped, "DESADV"),
                            ("order.invoiced", invoiced, "INVOIC")):
        path = one_file(part_out, prefix)
        validate(env, path)
        text = open(path).read()
        segs = segments(text, "'")
        unb = elems(segs[0], "+")
        unh = elems(next(s for s in segs if s.startswith("UNH+")), "+")
        message, icn, gcn, scn = control_row(env, ob)
        check(message == msg, f"{prefix}: recorded as {message}, wanted {msg}")
        check(unb[5] == icn, f"{msg}: UNB 0020 {unb[5]} is the store's icn {icn}")
        check(unh[1] == scn, f"{msg}: UNH 0062 {unh[1]} is the store's scn {scn}")
        check(unh[2] == f"{msg}:D:96A:UN", f"{msg}: UNH S009 {unh[2]}")
        check(unb[2] == "WBDZDD:ZZ" and unb[3] == "12345678:14", f"{msg}: parties {unb[2]} {unb[3]}")
        unz = elems(segs[-1], "+")
        check(unz[0] == "UNZ" and unz[2] == icn, f"{msg}: UNZ reference {segs[-1]}")
        unt = elems(segs[-2], "+")
        check(unt[0] == "UNT" and int(unt[1]) == len(segs) - 2 and unt[2] == scn,
              f"{msg}: UNT counts UNH..UNT ({len(segs) - 2}): {segs[-2]}")
        icns.add(icn)
        lins = [s for s in segs if s.startswith("LIN+")]
        qtys = [s for s in segs if s.startswith("QTY+")]
        if msg == "ORDRSP":
            check(f"RFF+ON:{po}" in segs and "BGM+231+801715918011+29" in segs,
                  f"ORDRSP references the PO: {segs}")
            check(lins == ["LIN+1+5+5020436373085:EN", "LIN+2+5+5020436373108:EN"],
                  f"ORDRSP accepts both lines: {lins}")
            check(qtys == ["QTY+21:8", "QTY+21:8"], f"ORDRSP quantities: {qtys}")
            check("CNT+2:2" in segs, "ORDRSP CNT")
        elif msg == "DESADV":
            check(f"RFF+ON:{po}" in segs and "RFF+CN:JD014600003828" in segs,
                  f"DESADV references PO and tracking: {segs}")
            cps = [s for s in segs if s.startswith("CPS+")]
            check(cps == ["CPS+1", "CPS+2+1", "CPS+3+1", "CPS+4+1"],
                  f"DESADV: consignment level and one child level per package: {cps}")
            check(segs[segs.index("CPS+1") + 1] == "PAC+3++CT", "consignment PAC counts 3 packages")
            check(qtys == ["QTY+12:8", "QTY+12:5"], f"DESADV despatch quantities: {qtys}")
            check(segs.index(lins[-1]) < segs.index("CPS+2+1"), "lines sit at the consignment level")
            check("DTM+11:202603051430:203" in segs, "despatch date")
        else:
            check("BGM+380+801715918011+9" in segs and f"RFF+ON:{po}" in segs,
                  f"INVOIC number and PO: {segs}")
            check(qtys == ["QTY+47:8", "QTY+47:8"], f"INVOIC quantities: {qtys}")
            check([s for s in segs if s.startswith("PRI+")] == ["PRI+AAA:9.95", "PRI+AAA:8.75"],
                  "INVOIC prices")
            check(segs.index("UNS+S") < segs.index("CNT+2:2") < segs.index("MOA+77:178.02"),
                  "UNS, then CNT, then the totals")
            check("MOA+79:149.60" in segs and "MOA+176:28.42" in segs, "INVOIC totals")
        # the tree the codec reads back holds the same PO number
        tree = parse(env, path)
        check(tree["UNH"]["01"] == scn, f"{msg}: parsed UNH")
    check(len(icns) == 3, f"three interchanges, three numbers: {icns}")
    check(env.scalar("SELECT value FROM edi_control_numbers WHERE partner='globex' "
                     "AND kind='UNB0020'") == str(max(int(i) for i in icns)),
          "the store's UNB counter is at the last number sent")


# ---------------------------------------------------------------- X12

def hl_levels(segs):
    out = []
    for s in segs:
        if s.startswith("HL*"):
            e = s.split("*")
            out.append((e[1], e[2], e[3]))
    return out


def x12_part(env):
    part_in = os.path.join(env.dir, "acme-in")
    part_out = os.path.join(env.dir, "acme-out")
    with open(os.path.join(FIX, "x12", "850-node-x12.x12"), "rb") as f:
        raw = f.read()
    with open(os.path.join(part_in, "po.x12"), "wb") as f:
        f.write(raw)
    env.once()
    check(env.scalar("SELECT COUNT(*) FROM orders WHERE channel='acme'") == "1", "850 stored")
    ack = open(one_file(part_out, "edi.ack")).read()
    check("ST*997*" in ack and "AK9*A*1*1*1" in ack, f"997 accepts the 850: {ack}")

    oid, order = stored_order(env, "acme")
    po = order["po_number"]
    check(po == "08292233294" and len(order["lines"]) == 6, f"stored 850: {order}")
    accepted = add_outbox(env, "order.accepted", "acme", oid, order)
    ship_lines = [{"line_no": ln["line_no"], "sku": ln["sku"], "qty": ln["qty"]}
                  for ln in order["lines"][:3]]
    # the shipment comes in as a 3PL would report it (canonical JSON on the
    # wms channel); shipment.created goes to @origin, the partner
    shipment = {
        "external_id": "SHP-X-1",
        "order_ref": {"external_id": order["external_id"], "number": po},
        "carrier": "ups", "service": "GROUND", "tracking_number": "1Z999AA10123456784",
        "shipped_at": "2026-03-05T14:30:00Z",
        "packages": [{"weight": "10"}, {"weight": "12"}],
        "lines": ship_lines,
    }
    with open(os.path.join(env.dir, "wms-in", "shp.json"), "w") as f:
        json.dump(shipment, f)
    invoiced = add_outbox(env, "order.invoiced", "acme", oid, order)
    env.once()
    shipped = env.scalar("SELECT id FROM outbox WHERE event='shipment.created' AND target='acme'")
    check(shipped is not None, "the ingested shipment queued shipment.created for the partner: "
          + str(env.sql("SELECT event, target FROM outbox")))
    check(env.scalar(f"SELECT status FROM orders WHERE id={oid}") == "partially_shipped",
          "3 of 6 lines shipped: the 850's order is partially shipped")
    for ob in (accepted, shipped, invoiced):
        check(env.scalar(f"SELECT state FROM outbox WHERE id={ob}") == "done",
              f"outbox {ob} delivered: {env.sql(f'SELECT state, last_error FROM outbox WHERE id={ob}')}")

    for prefix, ob, msg in (("order.accepted", accepted, "855"),
                            ("shipment.created", shipped, "856"),
                            ("order.invoiced", invoiced, "810")):
        path = one_file(part_out, prefix)
        validate(env, path)
        segs = segments(open(path).read(), "~")
        isa, gs = segs[0].split("*"), segs[1].split("*")
        st = segs[2].split("*")
        message, icn, gcn, scn = control_row(env, ob)
        check(message == msg and st[1] == msg, f"{prefix}: {message} / ST01 {st[1]}")
        check(isa[13] == f"{int(icn):09d}", f"{msg}: ISA13 {isa[13]} is the store's {icn}")
        check(gs[6] == gcn, f"{msg}: GS06 {gs[6]} is the store's {gcn}")
        check(st[2] == f"{int(scn):04d}", f"{msg}: ST02 {st[2]} is the store's {scn}")
        check(gs[1] == {"855": "PR", "856": "SH", "810": "IN"}[msg], f"{msg}: GS01 {gs[1]}")
        se = next(s for s in segs if s.startswith("SE*")).split("*")
        body = segs[2:segs.index(next(s for s in segs if s.startswith("SE*"))) + 1]
        check(int(se[1]) == len(body) and se[2] == st[2], f"{msg}: SE01 {se[1]} counts {len(body)}")
        qty = {ln["line_no"]: ln["qty"] for ln in order["lines"]}
        if msg == "855":
            check(segs[3] == "BAK*00*AC*08292233294*20101127", f"855 BAK: {segs[3]}")
            po1 = [s.split("*") for s in segs if s.startswith("PO1*")]
            check(len(po1) == 6 and all(p[2] == qty[int(p[1])] for p in po1),
                  f"855 echoes the 6 lines and their quantities: {po1}")
            check("CTT*6" in segs, "855 CTT")
        elif msg == "856":
            check(segs[3].startswith("BSN*00*SHP-X-1*20260305*1430*0001"), f"BSN: {segs[3]}")
            check(f"PRF*{po}***20101127" in segs, "856 PRF carries the PO")
            levels = hl_levels(segs)
            check([lv[0] for lv in levels] == [str(i) for i in range(1, len(levels) + 1)],
                  f"HL01 counts 1..n: {levels}")
            check([lv[2] for lv in levels] == ["S", "O", "P", "I", "I", "I", "P"],
                  f"S, O, P with the three items, second P: {levels}")
            byid = {lv[0]: lv for lv in levels}
            want_parent = {"S": None, "O": "S", "P": "O", "I": "P"}
            for hid, parent, code in levels:
                if want_parent[code] is None:
                    check(parent == "", f"shipment level has no parent: {levels}")
                else:
                    check(parent in byid and byid[parent][2] == want_parent[code],
                          f"HL {hid} ({code}) links to a {want_parent[code]} level: {levels}")
            check([lv[1] for lv in levels if lv[2] == "I"] == ["3", "3", "3"],
                  "items under the first pack")
            sn1 = [s.split("*") for s in segs if s.startswith("SN1*")]
            check([(s[1], s[2], s[3]) for s in sn1] ==
                  [(str(ln["line_no"]), ln["qty"], ln.get("uom", "EA")) for ln in ship_lines],
                  f"SN1 quantities and UOM of the order lines: {sn1}")
            check(f"CTT*{len(levels)}" in segs, f"CTT01 counts the HL segments ({len(levels)})")
            check("REF*CN*1Z999AA10123456784" in segs and "MAN*CP*1Z999AA10123456784" in segs,
                  "tracking number in REF*CN and MAN")
            # the decoder nests HL levels by HL02: the tree agrees
            tree = parse(env, path)
            item = tree["HL"]["HL"]["HL"]["HL"]
            check(tree["HL"]["03"] == "S" and tree["HL"]["HL"]["03"] == "O" and
                  tree["HL"]["HL"]["HL"]["03"] == "P" and item["03"] == "I",
                  f"parsed hierarchy S>O>P>I: {json.dumps(tree)[:400]}")
        else:
            check(segs[3].split("*")[2] == po and segs[3].split("*")[4] == po,
                  f"810 BIG carries the PO: {segs[3]}")
            it1 = [s.split("*") for s in segs if s.startswith("IT1*")]
            check(len(it1) == 6 and all(p[2] == qty[int(p[1])] for p in it1),
                  f"810 invoices the 6 lines and their quantities: {it1}")
            check(f"TDS*{order['total'].replace('.', '')}" in segs, f"TDS in cents: {order['total']}")
            check("CTT*6" in segs, "810 CTT")


def main():
    env = Env("edio")
    try:
        env.write_config(extra=f"""
[channel globex]
type = edi
standard = edifact
transport = dir
path = {env.dir}/globex-in
out_path = {env.dir}/globex-out
filename = {{event}}-{{id}}.edi
sender_qualifier = ZZ
sender_id = WBDZDD
receiver_qualifier = 14
receiver_id = 12345678
ack = contrl
mapping = {SRC}/mappings/edifact/orders.map
out_mapping.order.accepted = {SRC}/mappings/edifact/ordrsp.map
out_mapping.shipment.created = {SRC}/mappings/edifact/desadv.map
out_mapping.order.invoiced = {SRC}/mappings/edifact/invoic.map
poll = 1s

[channel acme]
type = edi
standard = x12
transport = dir
path = {env.dir}/acme-in
out_path = {env.dir}/acme-out
filename = {{event}}-{{id}}.x12
sender_qualifier = ZZ
sender_id = OURCO
receiver_qualifier = 01
receiver_id = 4405197800
ack = 997
mapping = {SRC}/mappings/x12/850.map
out_mapping.order.accepted = {SRC}/mappings/x12/855.map
out_mapping.shipment.created = {SRC}/mappings/x12/856.map
out_mapping.order.invoiced = {SRC}/mappings/x12/810.map
poll = 1s

[channel wms]
type = dir
path = {env.dir}/wms-in
pattern = *.json
format = canonical
poll = 1s

[route asn]
on = shipment.created
to = @origin
""")
        os.makedirs(os.path.join(env.dir, "wms-in"))
        os.makedirs(os.path.join(env.dir, "globex-in"))
        os.makedirs(os.path.join(env.dir, "acme-in"))
        edifact_part(env)
        x12_part(env)
    finally:
        env.close()
    print("ok")


if __name__ == "__main__":
    main()
