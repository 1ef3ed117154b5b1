#!/usr/bin/env bash
# bench/sftp/run.sh — SFTP pickup throughput: orderhub's transport and
# file-channel engine against OpenSSH's own `sftp` client, on the same files
# from the local test sshd (scripts/sshd).
#
#   bench/sftp/run.sh [RUNS]        (default 3 runs of each case)
#
# Cases: 1,000 small CSV files (about 2 KiB each) and one 500 MiB file.
#   openssh-sftp   sftp -b with `get *` into a local directory
#   orderhub-fetch the transport's list + fetch of every file into a local directory
#   orderhub-pickup one pass of the file-channel engine into a spool
#                  (after = keep, stable = 1): fetch + spool commit (fsync),
#                  "seen" keys in memory
#   orderhub-pickup-store       the same with the seen keys in the store
#                  (MariaDB, scratch database): a look-up and a remember
#                  (one commit) per file, as the daemon's channel ops do
#   orderhub-pickup-store-many  the same, each group's keys remembered in one
#                  statement (oh_store_remember_many)
#                  (the two store rows only when OH_DB_USER is set:
#                  eval "$(scripts/mariadb env)")
# Builds a release tree (tests off, so no fault hooks) in $OH_BUILD_DIR or
# build-bench/ at the repository root (warnings not fatal: it is a measurement).
#
# Before/after on a busy machine: OH_BENCH_BASELINE=PATH names a bench_sftp
# built from another revision; its fetch and pickup then run in the same
# round as the others (rows baseline-fetch, baseline-pickup), on the same files.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${OH_BUILD_DIR:-$ROOT/build-bench}
RUNS=${1:-3}

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DORDERHUB_TESTS=OFF -DORDERHUB_WERROR=OFF >/dev/null
cmake --build "$BUILD" --target oh_conn_sftp oh_conn_dir oh_spool oh_store oh_core -j2 >/dev/null
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT" -I"$ROOT/core" $(pkg-config --cflags libmariadb) \
    "$HERE/bench_sftp.c" "$BUILD/liboh_conn_dir.a" "$BUILD/liboh_conn_sftp.a" "$BUILD/liboh_spool.a" \
    "$BUILD/liboh_store.a" "$BUILD/liboh_core.a" \
    $(pkg-config --libs libssh2 libcrypto inih jansson libmariadb) -lpthread -lm -o "$BUILD/bench_sftp"

"$ROOT/scripts/sshd" start
eval "$("$ROOT/scripts/sshd" env)"
SRC="$OH_SSHD_ROOT/inbox/bench"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" "$SRC"' EXIT
mkdir -p "$SRC/small" "$SRC/big"
for i in $(seq -w 1 1000); do
    {
        echo "order_id,sku,qty,price,name,street,city,postal,country"
        for l in $(seq 1 30); do echo "$i,SKU-$l,$l,19.90,Jane Doe,1 Main St,Springfield,12345,US"; done
    } >"$SRC/small/order-$i.csv"
done
head -c $((500 * 1024 * 1024)) /dev/urandom >"$SRC/big/big.dat"

openssh() { # DIR DEST
    local b="$WORK/batch"
    printf 'lcd %s\ncd %s\nget *\n' "$2" "$1" >"$b"
    sftp -q -b "$b" -i "$OH_SSHD_KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$OH_SSHD_KNOWN_HOSTS" \
        -o StrictHostKeyChecking=yes -P "$OH_SSHD_PORT" "$OH_SSHD_USER@127.0.0.1" >/dev/null
}

timeit() { # label files bytes cmd...
    local label=$1 files=$2 bytes=$3 t0 t1
    shift 3
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v l="$label" -v f="$files" -v b="$bytes" -v a="$t0" -v z="$t1" \
        'BEGIN { s = z - a; printf "%-27s files=%d seconds=%.3f MiB/s=%.1f files/s=%.0f\n", l, f, s, b / 1048576 / s, f / s }'
}

for case in small big; do
    files=$(find "$SRC/$case" -type f | wc -l)
    bytes=$(find "$SRC/$case" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
    echo "== $case: $files files, $bytes bytes"
    for r in $(seq 1 "$RUNS"); do
        d="$WORK/o$r-$case" && rm -rf "$d" && mkdir -p "$d"
        timeit openssh-sftp "$files" "$bytes" openssh "$SRC/$case" "$d"
        d="$WORK/f$r-$case" && rm -rf "$d" && mkdir -p "$d"
        timeit orderhub-fetch "$files" "$bytes" "$BUILD/bench_sftp" fetch \
            "sftp://$OH_SSHD_USER@127.0.0.1:$OH_SSHD_PORT$SRC/$case" "$d"
        d="$WORK/p$r-$case" && rm -rf "$d"
        timeit orderhub-pickup "$files" "$bytes" "$BUILD/bench_sftp" pickup \
            "sftp://$OH_SSHD_USER@127.0.0.1:$OH_SSHD_PORT$SRC/$case" "$d"
        if [ -n "${OH_DB_USER:-}" ]; then
            for mode in pickup-store pickup-store-many; do
                d="$WORK/p$r-$case-$mode" && rm -rf "$d"
                timeit "orderhub-$mode" "$files" "$bytes" "$BUILD/bench_sftp" "$mode" \
                    "sftp://$OH_SSHD_USER@127.0.0.1:$OH_SSHD_PORT$SRC/$case" "$d"
            done
        fi
        if [ -n "${OH_BENCH_BASELINE:-}" ]; then
            d="$WORK/f$r-$case-b" && rm -rf "$d" && mkdir -p "$d"
            timeit baseline-fetch "$files" "$bytes" "$OH_BENCH_BASELINE" fetch \
                "sftp://$OH_SSHD_USER@127.0.0.1:$OH_SSHD_PORT$SRC/$case" "$d"
            d="$WORK/p$r-$case-b" && rm -rf "$d"
            timeit baseline-pickup "$files" "$bytes" "$OH_BENCH_BASELINE" pickup \
                "sftp://$OH_SSHD_USER@127.0.0.1:$OH_SSHD_PORT$SRC/$case" "$d"
        fi
        rm -rf "$WORK"/[ofp]"$r-$case"*
    done
done
