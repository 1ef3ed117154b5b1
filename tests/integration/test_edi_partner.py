#!/usr/bin/env python3
"""An X12 partner channel over dir: an 850 becomes an order and a 997 with
our envelope and control numbers; the same interchange again is a duplicate
and not stored twice; a set with a wrong SE01 is rejected in the 997 (AK5 R,
AK9) and not stored; an 855 we send records the 997 it expects, an incoming
997 for it marks it accepted; with a tiny ack window an unanswered one is
reported overdue."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ohtest import Env, check, order, write_json  # noqa: E402

SRC = os.environ["OH_SOURCE_DIR"]
FIX = os.environ["OH_FIXTURES"]


def outfiles(d):
    return sorted(f for f in os.listdir(d) if not f.startswith(".")) if os.path.isdir(d) else []


def main():
    env = Env("edi")
    try:
        part_in = os.path.join(env.dir, "acme-in")
        part_out = os.path.join(env.dir, "acme-out")
        os.makedirs(part_in)
        env.write_config(extra=f"""
[route ack-po]
on = order.accepted
to = acme

[channel acme]
type = edi
standard = x12
transport = dir
path = {part_in}
out_path = {part_out}
sender_qualifier = ZZ
sender_id = OURCO
receiver_qualifier = 01
receiver_id = 4405197800
ack = 997
ack_window = 1s
mapping = {SRC}/mappings/x12/850.map
out_mapping.order.accepted = {SRC}/mappings/x12/855.map
poll = 1s
""")
        raw = open(os.path.join(FIX, "x12", "850-node-x12.x12"), "rb").read()
        with open(os.path.join(part_in, "po1.x12"), "wb") as f:
            f.write(raw)
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE channel='acme'") == "1", "850 stored")
        check(env.scalar("SELECT COUNT(*) FROM order_lines") == "6", "6 lines")
        acks = outfiles(part_out)
        check(len(acks) == 1, f"one 997 written, got {acks}")
        ack = open(os.path.join(part_out, acks[0])).read()
        check(ack.startswith("ISA*"), "997 is an interchange")
        isa = ack.split("~")[0].split("*")
        check(isa[6].strip() == "999999999" and isa[8].strip() == "4405197800",
              f"sender/receiver swapped: {isa[6]!r} {isa[8]!r}")
        check(isa[13] == "000000001", f"first ISA13 from the store: {isa[13]}")
        check("ST*997*" in ack and "AK1*PO*1421" in ack and "AK9*A*1*1*1" in ack,
              f"997 accepts group 1421: {ack}")
        check(env.scalar("SELECT value FROM edi_control_numbers WHERE partner='acme' AND kind='ISA13'")
              == "1", "ISA13 counter at 1")

        # the same interchange again: duplicate, not stored twice, no new ack
        with open(os.path.join(part_in, "po1-again.x12"), "wb") as f:
            f.write(raw)
        p = env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders") == "1", "still one order")
        check(env.scalar("SELECT COUNT(*) FROM documents WHERE status='duplicate'") == "1",
              "duplicate recorded")
        check("edi.duplicate" in p.stderr + p.stdout, "duplicate logged")
        check(len(outfiles(part_out)) == 1, "no ack for the duplicate")

        # a malformed set (SE01 wrong) in a new interchange: rejected, not stored
        bad = raw.decode().replace("000003438", "000003439").replace("SE*33*", "SE*30*") \
                 .replace("08292233294", "BADPO")
        with open(os.path.join(part_in, "po2.x12"), "w") as f:
            f.write(bad)
        env.once()
        check(env.scalar("SELECT COUNT(*) FROM orders WHERE external_id='BADPO'") == "0",
              "rejected set not stored")
        acks = outfiles(part_out)
        check(len(acks) == 2, f"a second 997, got {acks}")
        rej = [open(os.path.join(part_out, a)).read() for a in acks]
        rej = [a for a in rej if "*000000002*" in a.split("~")[0]]
        check(len(rej) == 1, "second 997 numbered 2")
        check(re.search(r"AK5\*R\*4", rej[0]) and re.search(r"AK9\*R\*1\*1\*0", rej[0]),
              f"rejection with AK5/AK9 codes: {rej[0]}")

        # outbound: an accepted order routed to the partner becomes an 855
        write_json(os.path.join(env.inbox, "o1.json"), order(501))
        env.once()
        sent = [a for a in outfiles(part_out) if a.startswith("order.accepted")]
        check(len(sent) == 1, f"one 855 sent, got {outfiles(part_out)}")
        t855 = open(os.path.join(part_out, sent[0])).read()
        check("ST*855*" in t855 and "BAK*00*AC*" in t855, f"855 body: {t855}")
        gs06 = t855.split("~")[1].strip().split("*")[6]
        check(env.scalar("SELECT ack_status FROM edi_interchanges_out WHERE message='855'")
              == "pending", "855 waits for its 997")

        # the partner's 997 for it
        ack997 = (
            "ISA*00*          *00*          *01*4405197800     *ZZ*OURCO          *261123*1200*U*00401*000000777*0*P*>~\n"
            "GS*FA*4405197800*OURCO*20261123*1200*77*X*004010~\n"
            "ST*997*0001~\n"
            f"AK1*PR*{gs06}~\n"
            "AK9*A*1*1*1~\n"
            "SE*4*0001~\n"
            "GE*1*77~\n"
            "IEA*1*000000777~\n")
        with open(os.path.join(part_in, "ack.x12"), "w") as f:
            f.write(ack997)
        env.once()
        check(env.scalar("SELECT ack_status FROM edi_interchanges_out WHERE message='855'")
              == "accepted", "855 marked accepted by the 997")

        # a second 855 nobody answers: overdue after the 1 s window
        write_json(os.path.join(env.inbox, "o2.json"), order(502))
        env.once()
        time.sleep(1.5)
        p = env.once()
        check("edi.ack_overdue" in p.stderr + p.stdout, "overdue logged")
        st = env.run("edi", "status")
        check("overdue" in st.stdout and "855" in st.stdout, f"edi status lists it: {st.stdout}")
    finally:
        env.close()
    print("ok")


if __name__ == "__main__":
    main()
