#!/usr/bin/env bash
# Soak test: `demo runserver` (release build) under mixed traffic for MINUTES (default 10), then
# checks that it held steady. Not run in CI (it takes minutes); see docs/hardening.md.
#
#   bash benches/soak.sh [MINUTES]
#
# 1. builds the demo and the traffic generator (benches/soak.rs), migrates a fresh database in a
#    scratch directory and starts `demo runserver 127.0.0.1:0` there (its in-process task worker
#    on the embedded broker);
# 2. warm-up: WARMUP seconds (default 60) of the same traffic, so caches fill (the allocator's,
#    SQLite's page caches as the task tables grow), then samples the server's RSS and open file
#    descriptors (/proc/PID);
# 3. the soak: MINUTES of HTTP requests, WebSocket sessions (half of them dropped without a close
#    frame) and tasks (see benches/soak.rs), then waits for every task enqueued to succeed;
# 4. samples RSS and fds again once the traffic has stopped, and checks: both within 10 % of the
#    warm-up sample (fds within 2, as well: a handful of descriptors is noise, not a leak), no
#    "panicked" in the server's log, no failed request, session or task. RSS is also sampled
#    every 15 s during the soak and printed: a leak climbs steadily, a cache levels off.
#
# Loopback only; the server is stopped by PID on exit. Logs stay in the scratch directory
# (printed at the end). Exit 0 when every check passes. WARMUP=SECS changes the warm-up;
# SOAK_PARTS=http,ws (any of http, ws, tasks) runs only those parts of the traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MINUTES=${1:-10}
SECS=$((MINUTES * 60))
WARMUP=${WARMUP:-60}

cargo build --release -q -p demo -p canter-benches --bin demo --bin soak
BIN=$ROOT/target/release
DIR=$(mktemp -d "${TMPDIR:-/tmp}/canter-soak.XXXXXX")
cd "$DIR"
"$BIN/demo" migrate > migrate.log 2>&1

RUST_LOG=${RUST_LOG:-warn} "$BIN/demo" runserver 127.0.0.1:0 > server.log 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
ADDR=
for _ in $(seq 1 300); do
  ADDR=$(sed -n 's|^Starting server at http://\([0-9.:]*\)/.*|\1|p' server.log)
  [ -n "$ADDR" ] && break
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "the server did not start:"; cat server.log; exit 1; }
echo "server pid $SERVER at $ADDR, scratch $DIR"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
fds() { ls "/proc/$SERVER/fd" | wc -l; }
# Lets connections in TIME_WAIT / being torn down and in-flight tasks settle before a sample.
settle() { sleep 5; }

echo "warm-up: ${WARMUP}s"
"$BIN/soak" "$ADDR" "$WARMUP" > warmup.log 2>&1 || { tail -n 20 warmup.log; exit 1; }
settle
RSS0=$(rss_kb); FD0=$(fds)
echo "after warm-up: rss=${RSS0} kB fds=${FD0}"

echo "soak: ${SECS}s"
status=0
( while sleep 15; do echo "$(rss_kb) $(fds)"; done > samples.txt 2>/dev/null ) &
SAMPLER=$!
"$BIN/soak" "$ADDR" "$SECS" > soak.log 2>&1 || status=$?
kill "$SAMPLER" 2>/dev/null || true
tail -n 1 soak.log
echo "rss every 15 s (kB): $(cut -d' ' -f1 samples.txt | tr '\n' ' ')"
echo "fds every 15 s: $(cut -d' ' -f2 samples.txt | tr '\n' ' ')"
settle
RSS1=$(rss_kb); FD1=$(fds)
echo "after the soak: rss=${RSS1} kB fds=${FD1}"

failed=()
[ "$status" -eq 0 ] || failed+=("traffic: failures (see $DIR/soak.log)")
within() { # within START END PERCENT MIN_ABS
  local diff=$(( $2 > $1 ? $2 - $1 : $1 - $2 ))
  local allowed=$(( $1 * $3 / 100 ))
  [ "$allowed" -ge "$4" ] || allowed=$4
  [ "$diff" -le "$allowed" ]
}
within "$RSS0" "$RSS1" 10 0 || failed+=("RSS ${RSS0} kB -> ${RSS1} kB: more than 10 %")
within "$FD0" "$FD1" 10 2 || failed+=("open fds ${FD0} -> ${FD1}")
panics=$(grep -c "panicked" server.log || true)
[ "$panics" -eq 0 ] || failed+=("${panics} \"panicked\" lines in $DIR/server.log")

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'SOAK FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "SOAK OK: ${MINUTES} min, rss ${RSS0} -> ${RSS1} kB, fds ${FD0} -> ${FD1}, no panic; logs in $DIR"
