#!/usr/bin/env python3
"""gen850.py — writes an X12 850 (purchase order) file of about SIZE bytes.

    gen850.py SIZE OUT [--seed N] [--sets-per-group N] [--groups-per-ichg N]
                       [--no-newline]

SIZE takes a K/M/G suffix (powers of 1024). The file is a run of valid
interchanges (ISA 00501, GS 005010): each holds several GS groups, each group
many 850 sets. A set is BEG, 2 REF, 2 DTM, ship-to and bill-to N1 loops with
N3/N4, 1 to 20 PO1 loops with PID, and CTT; SE01, GE01, IEA01 and every
control number (ISA13 = IEA02, GS06 = GE02, ST02 = SE02) are correct, so the
file must validate with no errors. Generation stops at the first set boundary
past SIZE and closes the open group and interchange. Segments end with '~'
followed by a newline unless --no-newline. Output is deterministic per seed.
"""
import argparse
import random
import sys

CITIES = [("SPRINGFIELD", "IL", "62701"), ("COLUMBUS", "OH", "43215"),
          ("AUSTIN", "TX", "73301"), ("PORTLAND", "OR", "97201"),
          ("ALBANY", "NY", "12207"), ("MADISON", "WI", "53703"),
          ("RALEIGH", "NC", "27601"), ("BOISE", "ID", "83702")]
STREETS = ["MAIN ST", "OAK AVE", "INDUSTRIAL PKWY", "COMMERCE DR", "HARBOR BLVD",
           "RIVER RD", "MARKET ST", "DEPOT LN"]
ITEMS = ["WIDGET BLUE 10MM", "GASKET RUBBER 3IN", "BOLT HEX M8X40 ZINC",
         "CABLE TIE 200MM BLACK", "BEARING 6204-2RS", "HOSE CLAMP 25-40MM",
         "SAFETY GLOVES NITRILE L", "LABEL ROLL 4X6 THERMAL",
         "PALLET WRAP 18IN 80GA", "CARTON 12X12X12 200LB"]
UOMS = ["EA", "CA", "BX", "PK", "DZ"]


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper()
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def make_set(rnd, ctrl, po_no, nl):
    t = "~" + nl
    segs = []
    segs.append("ST*850*%s" % ctrl)
    day = "2024%02d%02d" % (rnd.randint(1, 12), rnd.randint(1, 28))
    segs.append("BEG*00*SA*PO%09d**%s" % (po_no, day))
    segs.append("REF*DP*%03d" % rnd.randint(1, 999))
    segs.append("REF*IA*V%07d" % rnd.randint(1, 9999999))
    segs.append("DTM*002*2025%02d%02d" % (rnd.randint(1, 12), rnd.randint(1, 28)))
    segs.append("DTM*010*2025%02d%02d" % (rnd.randint(1, 12), rnd.randint(1, 28)))
    for q, name in (("ST", "ACME DC %03d" % rnd.randint(1, 500)), ("BT", "ACME CORP AP")):
        city, st, zipc = rnd.choice(CITIES)
        segs.append("N1*%s*%s*92*%04d" % (q, name, rnd.randint(1, 9999)))
        segs.append("N3*%d %s" % (rnd.randint(1, 9999), rnd.choice(STREETS)))
        segs.append("N4*%s*%s*%s*US" % (city, st, zipc))
    nlines = rnd.randint(1, 20)
    for i in range(1, nlines + 1):
        segs.append("PO1*%d*%d*%s*%d.%02d**BP*SKU%06d*VP*V%06d*UP*0%011d" % (
            i, rnd.randint(1, 500), rnd.choice(UOMS), rnd.randint(0, 999),
            rnd.randint(0, 99), rnd.randint(1, 999999), rnd.randint(1, 999999),
            rnd.randint(0, 99999999999)))
        segs.append("PID*F****%s" % rnd.choice(ITEMS))
    segs.append("CTT*%d" % nlines)
    segs.append("SE*%d*%s" % (len(segs) + 1, ctrl))
    return t.join(segs) + t


def main():
    ap = argparse.ArgumentParser(description="write an X12 850 file of about SIZE bytes")
    ap.add_argument("size")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=850)
    ap.add_argument("--sets-per-group", type=int, default=200)
    ap.add_argument("--groups-per-ichg", type=int, default=5)
    ap.add_argument("--no-newline", action="store_true")
    a = ap.parse_args()
    target = parse_size(a.size)
    nl = "" if a.no_newline else "\n"
    t = "~" + nl
    rnd = random.Random(a.seed)
    written = 0
    isa13 = 0
    gs06 = 0
    po = 0
    nsets = 0
    with open(a.out, "w", encoding="ascii", newline="\n", buffering=1 << 20) as f:
        done = False
        while not done:
            isa13 += 1
            isa = ("ISA*00*          *00*          *ZZ*%-15s*ZZ*%-15s*240102*1200*^*00501*%09d*0*P*>"
                   % ("ACMEBUYER", "SUPPLIERCO", isa13))
            out = [isa + t]
            written += len(out[0])
            ngroups = 0
            for _ in range(a.groups_per_ichg):
                gs06 += 1
                ngroups += 1
                out.append("GS*PO*ACMEBUYER*SUPPLIERCO*20240102*1200*%d*X*005010%s" % (gs06, t))
                written += len(out[-1])
                n = 0
                for k in range(a.sets_per_group):
                    po += 1
                    n += 1
                    s = make_set(rnd, "%04d" % (k + 1), po, nl)
                    out.append(s)
                    written += len(s)
                    if written >= target:
                        done = True
                        break
                out.append("GE*%d*%d%s" % (n, gs06, t))
                written += len(out[-1])
                nsets += n
                if done:
                    break
            out.append("IEA*%d*%09d%s" % (ngroups, isa13, t))
            written += len(out[-1])
            f.write("".join(out))
    print("%s: %d interchanges, %d groups, %d sets" % (a.out, isa13, gs06, nsets), file=sys.stderr)


if __name__ == "__main__":
    main()
