#!/usr/bin/env bash
# bench/map/run.sh — the mapping engine against jq and JSONata on the same
# Shopify orders, mapped to the same canonical records.
#
#   bench/map/run.sh [N] [RUNS]     (default 100000 orders, 3 runs each)
#
# gen_orders.py writes N orders of about 8 KB as NDJSON (one order per line,
# the shape of the orders/create webhook body). Each tool maps every line
# and writes one compact JSON record per line:
#   orderhub   bench_map map shopify.map (JSON tree + compiled plan, records
#              written as text: oh_map_run_text, what `orderhub map` prints)
#   orderhub-map-jansson   the same through oh_map_run (jansson records, as
#              the daemon gets them) and json_dumpf
#   jq         jq -c -f shopify.jq
#   jsonata    node run_jsonata.js shopify.jsonata (jsonata from npm)
# plus the JSON decoders alone (orderhub's tree vs jansson's json_loadb).
# Outputs of the first 1,000 orders are compared as JSON before timing.
# Builds a release tree in $OH_BUILD_DIR or build-bench/ at the repository root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${OH_BUILD_DIR:-$ROOT/build-bench}
ONLY=${BENCH_ONLY:-}   # e.g. BENCH_ONLY="orderhub-map decode-tree": just those rows
N=${1:-100000}
RUNS=${2:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DORDERHUB_TESTS=OFF -DORDERHUB_WERROR=OFF >/dev/null
cmake --build "$BUILD" --target oh_map oh_formats oh_core -j2 >/dev/null
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT" -I"$ROOT/core" "$HERE/bench_map.c" \
    "$BUILD/liboh_map.a" "$BUILD/liboh_formats.a" "$BUILD/liboh_core.a" \
    $(pkg-config --libs jansson libxml-2.0 libcrypto inih) -lcsv -lpthread -lm -o "$BUILD/bench_map"
if [ ! -d "$BUILD/jsonata/node_modules/jsonata" ]; then
    npm install --silent --prefix "$BUILD/jsonata" jsonata@2 >/dev/null
fi
export NODE_PATH="$BUILD/jsonata/node_modules"

python3 "$HERE/gen_orders.py" "$N" "$WORK/orders.ndjson"
head -n 1000 "$WORK/orders.ndjson" >"$WORK/check.ndjson"
"$BUILD/bench_map" map "$HERE/shopify.map" "$WORK/check.ndjson" >"$WORK/oh.out" 2>/dev/null
"$BUILD/bench_map" map-jansson "$HERE/shopify.map" "$WORK/check.ndjson" 2>/dev/null | cmp -s - "$WORK/oh.out" ||
    { echo "bench_map map and map-jansson differ" >&2; exit 1; }
jq -c -f "$HERE/shopify.jq" "$WORK/check.ndjson" >"$WORK/jq.out"
node "$HERE/run_jsonata.js" "$HERE/shopify.jsonata" "$WORK/check.ndjson" >"$WORK/jsonata.out"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
load = lambda n: [json.loads(l) for l in open(f"{w}/{n}.out", encoding="utf-8")]
oh = load("oh")
for peer in ("jq", "jsonata"):
    other = load(peer)
    bad = [i for i, (a, b) in enumerate(zip(oh, other)) if a != b]
    if len(oh) != len(other) or bad:
        i = bad[0] if bad else 0
        sys.exit(f"{peer} differs from orderhub at record {i + 1}:\n{oh[i]}\n{other[i]}")
print(f"outputs agree on {len(oh)} records")
PY

echo "$N orders, $(du -m "$WORK/orders.ndjson" | cut -f1) MB; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
t() { # name command...
    local name=$1
    shift
    if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then
        return
    fi
    for r in $(seq 1 "$RUNS"); do
        local s e
        s=$(date +%s.%N)
        "$@" >/dev/null 2>"$WORK/err"
        e=$(date +%s.%N)
        awk -v n="$name" -v s="$s" -v e="$e" -v N="$N" -v r="$r" \
            'BEGIN { printf "%-18s run %d: %6.2f s  %8.0f orders/s\n", n, r, e - s, N / (e - s) }'
        # bench_map also times itself without start-up and reading the file
        sed -n 's/^\(map\|map-jansson\|decode\|jansson\): /    in-process: /p' "$WORK/err"
    done
}
t orderhub-map "$BUILD/bench_map" map "$HERE/shopify.map" "$WORK/orders.ndjson"
t orderhub-map-jansson "$BUILD/bench_map" map-jansson "$HERE/shopify.map" "$WORK/orders.ndjson"
t jq jq -c -f "$HERE/shopify.jq" "$WORK/orders.ndjson"
t jsonata node "$HERE/run_jsonata.js" "$HERE/shopify.jsonata" "$WORK/orders.ndjson"
t decode-tree "$BUILD/bench_map" decode "$WORK/orders.ndjson"
t decode-jansson "$BUILD/bench_map" jansson "$WORK/orders.ndjson"
