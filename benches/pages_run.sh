#!/usr/bin/env bash
# The pages benchmarks (issue 16), each against its reference in the same run:
#
#   1. the 100-row page through canter's templates (inheritance, compiled once) against the same
#      page built by string formatting (in-process, median µs per render of ROUNDS rounds), and
#      against Django's template engine rendering it (DTL with the cached loader; the interop
#      venv's Python, CANTER_TEST_PYTHON or /work/interop-venv/bin/python);
#   2. a 100 KB static file served by canter's `canter.static` middleware (production, after
#      collectstatic) against tower-http's ServeDir alone in a bare axum server: user-space
#      instructions per request under callgrind (deterministic on a shared machine), after
#      warm-up, REQUESTS keep-alive GETs on one connection.
#
# Build first: cargo build --release -p canter-benches. BIN=DIR takes the binaries from DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-"$ROOT/target/release"}
ROUNDS=${ROUNDS:-7}
ITERS=${ITERS:-2000}
REQUESTS=${REQUESTS:-2000}
PYTHON=${CANTER_TEST_PYTHON:-/work/interop-venv/bin/python}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "# pages benchmarks, $(date -u '+%Y-%m-%d %H:%M') UTC, commit $(git rev-parse --short HEAD)"
echo
echo "## rendering the 100-row page (median µs per render, $ROUNDS rounds of $ITERS)"
echo "variant | µs per render | bytes"
"$BIN/pages_bench" render "$ROUNDS" "$ITERS"
if [ -x "$PYTHON" ]; then
  "$PYTHON" benches/pages/django_render.py "$ROUNDS" "$((ITERS / 10))"
else
  echo "django-dtl | (no Python with Django at $PYTHON) |"
fi

echo
echo "## a 100 KB static file (user-space instructions per request, callgrind, $REQUESTS requests)"
echo "server | instructions per request | ratio to ServeDir"
mkdir -p "$WORK/static"
head -c 102400 /dev/urandom | base64 -w 100 | head -c 102400 >"$WORK/static/app.js"
# Starts a server under callgrind in this shell (so it can be waited for): sets PID and ADDR.
start() { # name, args…
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg-$name.%p" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    if grep -q "listening on" "$WORK/$name.out" 2>/dev/null; then break; fi
    sleep 0.1
  done
  ADDR=$(sed -n 's/listening on //p' "$WORK/$name.out")
}
ref=""
for name in servedir canter; do
  if [ "$name" = canter ]; then
    start "$name" "$BIN/pages_bench" serve-canter "$WORK/static"
    path=/static/$(python3 -c "import json,sys; print(json.load(open('$WORK/static/collected/staticfiles.json'))['paths']['app.js'])")
  else
    start "$name" "$BIN/pages_bench" serve-servedir "$WORK/static"
    path=/static/app.js
  fi
  pid=$PID addr=$ADDR
  "$BIN/load" --addr "$addr" --path "$path" --conns 1 --requests 200 --total-timeout 120 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  "$BIN/load" --addr "$addr" --path "$path" --conns 1 --requests "$REQUESTS" --total-timeout 300 >"$WORK/load-$name.txt"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  ir=$(callgrind_annotate "$WORK/cg-$name.$pid".1 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  [ -z "$ref" ] && ref=$ir
  echo "$name ($path) | $((ir / REQUESTS)) | $(awk -v a="$ir" -v b="$ref" 'BEGIN {printf "%.3f", a / b}')"
done
