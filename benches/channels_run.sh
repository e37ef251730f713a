#!/usr/bin/env bash
# Channels benchmarks, each against a reference measured in the same run. ~6 min.
#
#   bash benches/channels_run.sh
#
# 1. echo: `ws_load echo` (50 connections, 32-byte text frames, 10 s): canter's echo consumer vs
#    a bare tokio-tungstenite echo server (bare_ws).
# 2. broadcast: one group of 1,000 sockets (100 messages) and of 10,000 sockets (10 messages):
#    canter with the in-process layer, canter with the Redis layer, and bare_ws's
#    tokio::sync::broadcast fan-out; deliveries/s and delivery latency (stamp to receive).
# 3. memory per idle socket: server RSS with 10,000 idle sockets minus its RSS before, / 10,000
#    (canter and bare_ws).
# 4. Redis group_send throughput: canter's layer (redis_group_send) vs channels_redis from
#    Python (4.3.0, the interop virtualenv), 10,000 group_sends to a one-member group each.
#
# Rounds alternate canter and the reference; medians over ROUNDS=3. Servers listen on
# ephemeral ports of 127.0.0.1 and are stopped by PID (also on exit). Raw outputs go to
# benches/results/channels-<time>.tmp/ (git-ignored). Knobs: ROUNDS=3, ECHO_SECS=10,
# ONLY=echo|fanout|idle|group_send (one figure), REDIS_URL (default redis://127.0.0.1:6379/13),
# PYTHON (default target/interop-venv/bin/python, made from PyPI when it lacks channels_redis).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/target/release
ROUNDS=${ROUNDS:-3}
ECHO_SECS=${ECHO_SECS:-10}
ONLY=${ONLY:-}
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
REDIS=${REDIS_URL:-redis://127.0.0.1:6379/13}
PYTHON=${PYTHON:-$ROOT/target/interop-venv/bin/python}
# channels_redis from PyPI, in a venv made as .ci/run makes it, when no Python was given.
if ! "$PYTHON" -c 'import channels_redis' 2>/dev/null; then
  python3 -m venv "$ROOT/target/interop-venv"
  "$ROOT/target/interop-venv/bin/pip" install -q --disable-pip-version-check "channels-redis==4.3.0" "celery[redis]==5.5.3"
  PYTHON=$ROOT/target/interop-venv/bin/python
fi
OUT=$ROOT/benches/results/channels-$(date +%Y%m%d-%H%M%S).tmp
mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -q -p canter-benches --bin ws_bench_server --bin bare_ws --bin ws_load --bin redis_group_send

PIDS=()
cleanup() { for pid in "${PIDS[@]:-}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME CMD...: starts a server, waits for "listening on ADDR", sets ADDR and PID.
start() {
  local name=$1; shift
  "$@" > "$OUT/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 100); do
    ADDR=$(sed -n 's/^listening on \([0-9.:]*\).*/\1/p' "$OUT/$name.log")
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  echo "$name did not start: $(cat "$OUT/$name.log")" >&2
  exit 1
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  for server in canter bare; do
    if [ $server = canter ]; then start canter "$BIN/ws_bench_server"; else start bare "$BIN/bare_ws"; fi
    if want echo; then
      "$BIN/ws_load" echo "ws://$ADDR/ws/echo/" 50 "$ECHO_SECS" | sed "s/^/$server round=$round /" | tee -a "$OUT/echo.txt"
    fi
    if want fanout; then
      for spec in "1000 100" "10000 10"; do
        set -- $spec
        "$BIN/ws_load" fanout "ws://$ADDR/ws/group/" "$1" "$2" | sed "s/^/$server-memory round=$round /" | tee -a "$OUT/fanout.txt"
      done
    fi
    stop
    if [ $server = canter ] && want fanout; then
      start canter-redis "$BIN/ws_bench_server" --redis "$REDIS"
      for spec in "1000 100" "10000 10"; do
        set -- $spec
        "$BIN/ws_load" fanout "ws://$ADDR/ws/group/" "$1" "$2" | sed "s/^/canter-redis round=$round /" | tee -a "$OUT/fanout.txt"
      done
      stop
    fi
    # Memory per idle socket: a fresh server, 10,000 sockets held open.
    want idle || continue
    if [ $server = canter ]; then start canter "$BIN/ws_bench_server"; else start bare "$BIN/bare_ws"; fi
    sleep 0.5
    before=$(rss_kb "$PID")
    "$BIN/ws_load" idle "ws://$ADDR/ws/echo/" 10000 6 > "$OUT/idle-$server.txt" &
    loader=$!
    for _ in $(seq 1 200); do grep -q ready "$OUT/idle-$server.txt" 2>/dev/null && break; sleep 0.1; done
    sleep 2
    after=$(rss_kb "$PID")
    wait "$loader"
    echo "$server idle before_kb=$before after_kb=$after per_socket_bytes=$(( (after - before) * 1024 / 10000 ))" | tee -a "$OUT/idle.txt"
    stop
  done
  # Redis group_send: canter's layer, then channels_redis.
  want group_send || continue
  "$BIN/redis_group_send" "$REDIS" 10000 | sed 's/^/canter /' | tee -a "$OUT/group_send.txt"
  "$PYTHON" - "$REDIS" 10000 <<'EOF' | sed 's/^/channels_redis /' | tee -a "$OUT/group_send.txt"
import asyncio, os, sys, time
from channels_redis.core import RedisChannelLayer
url, count = sys.argv[1], int(sys.argv[2])
async def main():
    prefix = f"benchgspy{os.getpid()}"
    layer = RedisChannelLayer(hosts=[url], prefix=prefix, capacity=count + 1)
    await layer.group_add("bench", "member")
    started = time.perf_counter()
    for n in range(count):
        await layer.group_send("bench", {"type": "bench.message", "n": n})
    elapsed = time.perf_counter() - started
    print(f"group_send count={count} per_s={count / elapsed:.0f}")
    await layer.flush()
asyncio.run(main())
EOF
done

"$PYTHON" - "$OUT" <<'EOF'
import re, statistics, sys
out = sys.argv[1]
def values(file, prefix, key):
    found = []
    for line in open(f"{out}/{file}"):
        if line.startswith(prefix + " "):
            m = re.search(rf"{key}=([\d.]+)", line)
            if m:
                found.append(float(m.group(1)))
    return found
med = lambda xs: statistics.median(xs) if xs else float("nan")
import os
def rounds(file, who, extra=""):
    """{round: line} of `who`'s lines (matching `extra`)."""
    found = {}
    if os.path.exists(f"{out}/{file}"):
        for l in open(f"{out}/{file}"):
            if l.startswith(who + " ") and extra in l:
                found[re.search(r"round=(\d+)", l).group(1)] = l
    return found
num = lambda line, key: float(re.search(rf"{key}=([\d.]+)", line).group(1))
# Ratios per round (canter and its reference ran back to back), then their median.
c, b = rounds("echo.txt", "canter"), rounds("echo.txt", "bare")
if c:
    ratios = [num(c[r], "per_s") / num(b[r], "per_s") for r in c if r in b]
    print(f"echo, 50 clients: canter {med([num(l, 'per_s') for l in c.values()]):.0f}/s, bare tungstenite {med([num(l, 'per_s') for l in b.values()]):.0f}/s -> {med(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
for conns in ("1000", "10000"):
    bare = rounds("fanout.txt", "bare-memory", f"conns={conns} ")
    for who in ("canter-memory", "canter-redis", "bare-memory"):
        mine = rounds("fanout.txt", who, f"conns={conns} ")
        if not mine:
            continue
        ratios = [num(mine[r], "per_s") / num(bare[r], "per_s") for r in mine if r in bare]
        delivered = [l.split("delivered=")[1].split()[0] for l in mine.values()]
        print(f"broadcast to {conns}: {who}: {med([num(l, 'per_s') for l in mine.values()]):.0f} deliveries/s ({med(ratios):.2f}x bare), p50 {med([num(l, 'p50_ms') for l in mine.values()]):.1f} ms, p99 {med([num(l, 'p99_ms') for l in mine.values()]):.1f} ms, delivered {', '.join(delivered)}")
for who in ("canter", "bare"):
    if not os.path.exists(f"{out}/idle.txt"):
        break
    per = [float(re.search(r"per_socket_bytes=(-?\d+)", l).group(1)) / 1024 for l in open(f"{out}/idle.txt") if l.startswith(who + " ")]
    print(f"memory per idle socket at 10,000: {who} {med(per):.1f} KB")
if os.path.exists(f"{out}/group_send.txt"):
    gs_c, gs_p = med(values("group_send.txt", "canter", "per_s")), med(values("group_send.txt", "channels_redis", "per_s"))
    print(f"Redis group_send: canter {gs_c:.0f}/s, channels_redis {gs_p:.0f}/s -> {gs_c / gs_p:.1f}x")
EOF
echo "raw outputs: $OUT"
