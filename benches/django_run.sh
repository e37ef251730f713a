#!/usr/bin/env bash
# canter's demo against Django serving the same views, in one run (issues 15 and 17):
#
#   bash benches/django_run.sh        # ~6 min on a quiet machine, plus the builds and a venv
#
# Three views, each on both servers, SQLite, 64 connections (wrk):
#   hello         GET /hello/                 {"message": "Hello"}
#   first-active  GET /mymodel/first-active/  MyModel.objects.filter(active=True).afirst(), 10,000 rows
#   me            GET /accounts/me/           a logged-in session read + its user loaded
#                                             (Django: `await request.auser()`; canter: `req.user().await`)
# canter: target/release/demo runserver with CANTER_DEBUG=false, its middleware as shipped
# (request_id, logging, security, static, gzip, sessions, auth, csrf + Server-Timing). Django 5.2:
# benches/django/ (startproject's middleware list, DEBUG off) on uvicorn, 1 process, uvloop and
# httptools — the async views a Django user writes for these. Each server has its own SQLite file
# seeded with the same rows and a user "bench" with a session made as each framework's login
# makes it; wrk sends that session's cookie to `me`.
# And a WebSocket echo (ws_load echo: 50 connections, 32-byte text frames, 10 s): canter's echo
# consumer (benches/ws_bench_server.rs) against Channels 4's AsyncWebsocketConsumer on the same
# uvicorn process (benches/django/bench/consumers.py).
#
# Python: BENCH_PYTHON if it has django and uvicorn, else a venv made under target/ from PyPI
# (django 5.2, channels 4.3, uvicorn[standard] 0.38). Knobs: RUNS=3 DURATION=10 WARMUP=2 CONNS=64 QUIET_PCT=25
# QUIET_WAIT=20 WAIT_BUDGET=2400. Raw outputs: benches/results/django-<time>.tmp/ (git-ignored).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/target/release"
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
QUIET_PCT=${QUIET_PCT:-25}
QUIET_WAIT=${QUIET_WAIT:-20}
WAIT_BUDGET=${WAIT_BUDGET:-2400}
OUT="$ROOT/benches/results/django-$(date -u +%Y%m%dT%H%M%SZ).tmp"
mkdir -p "$OUT"
# shellcheck source=benches/wrk_lib.sh
source "$ROOT/benches/wrk_lib.sh"
trap stop_all_servers EXIT
trap 'exit 130' INT TERM
need_wrk

PYTHON=${BENCH_PYTHON:-}
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import django, uvicorn, channels' 2>/dev/null; then
  PYTHON="$ROOT/target/django-bench-venv/bin/python"
  if ! "$PYTHON" -c 'import django, uvicorn, channels' 2>/dev/null; then
    echo "making a venv with Django, Channels and uvicorn from PyPI under target/django-bench-venv..." >&2
    python3 -m venv "$ROOT/target/django-bench-venv"
    "$PYTHON" -m pip install -q --disable-pip-version-check "django==5.2.*" "channels==4.3.*" "uvicorn[standard]==0.38.*"
  fi
fi

wait_others
echo "building (cargo build --release -p demo -p canter-benches)..." >&2
cargo build --release -p demo -p canter-benches 2>&1 | tail -n 1 >&2

log "== canter's demo vs Django, the same views"
log "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); git: $(git rev-parse --short HEAD); machine: $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
log "Django $("$PYTHON" -c 'import django; print(django.get_version())'), Channels $("$PYTHON" -c 'import channels; print(channels.__version__)'), uvicorn $("$PYTHON" -c 'import uvicorn; print(uvicorn.__version__)'), $("$PYTHON" --version)"
log ""

# canter: migrate, seed, a superuser, and a session from logging in through the form.
CANTER_DB="sqlite://$OUT/canter.sqlite3"
DATABASE_URL="$CANTER_DB" "$BIN/demo" migrate >"$OUT/canter-migrate.log" 2>&1
"$BIN/orm_bench" seed --url "$CANTER_DB" >>"$OUT/canter-migrate.log"
DATABASE_URL="$CANTER_DB" CANTER_SUPERUSER_PASSWORD=bench-password \
  "$BIN/demo" createsuperuser --noinput --username bench --email bench@example.com >>"$OUT/canter-migrate.log" 2>&1
# Outside DEBUG the demo serves the collected static files (its pages name the hashed ones).
(cd "$OUT" && "$BIN/demo" collectstatic --noinput >>"$OUT/canter-migrate.log" 2>&1)
start_server canter '^Starting server at http://\([0-9.]*:[0-9]*\)/.*' \
  env -C "$OUT" RUST_LOG=warn CANTER_DEBUG=false DATABASE_URL="$CANTER_DB" "$BIN/demo" runserver 127.0.0.1:0
base="http://127.0.0.1:${SERVER_PORT[canter]}"
jar="$OUT/canter-cookies.txt"
form=$(curl -sf -c "$jar" "$base/accounts/login/")
token=$(printf '%s' "$form" | sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p' | head -n1)
curl -sf -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrfmiddlewaretoken=$token" \
  --data-urlencode username=bench --data-urlencode password=bench-password "$base/accounts/login/"
CANTER_SESSION=$(awk '$6 == "sessionid" {print $7}' "$jar")
[ -n "$CANTER_SESSION" ] || { echo "logging in to canter gave no session cookie" >&2; exit 1; }

# Django: its tables (the bench app has no migrations: --run-syncdb), the same rows, a session.
export BENCH_DB="$OUT/django.sqlite3"
(cd benches/django && "$PYTHON" manage.py migrate --run-syncdb -v 0)
DJANGO_SESSION=$(cd benches/django && "$PYTHON" manage.py shell -c 'from bench.setup_data import run; run()' | tail -n 1)
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server django '.*Uvicorn running on http://\([0-9.]*:[0-9]*\).*' \
  bash -c "cd '$ROOT/benches/django' && exec '$PYTHON' -m uvicorn benchsite.asgi:application --host 127.0.0.1 --port $port --log-level info --no-access-log"

# Both answer every view with 200 before anything is measured; `me` names the user.
for name in canter django; do
  session=$CANTER_SESSION
  [ "$name" = django ] && session=$DJANGO_SESSION
  for path in /hello/ /mymodel/first-active/ /accounts/me/; do
    body=$(curl -sf --max-time 10 -H "Cookie: sessionid=$session" "http://127.0.0.1:${SERVER_PORT[$name]}$path") || {
      echo "$name does not answer $path with 2xx" >&2
      cat "$OUT/server-$name.log" >&2
      exit 1
    }
    echo "$name $path $body" >>"$OUT/responses.txt"
  done
  grep -q "$name /accounts/me/ .*\"bench\"" "$OUT/responses.txt" || { echo "$name: /accounts/me/ is not logged in" >&2; exit 1; }
done

for view in hello:/hello/ first-active:/mymodel/first-active/ me:/accounts/me/; do
  label=${view%%:*}
  path=${view#*:}
  for round in $(seq 1 "$RUNS"); do
    order=(django canter)
    [ $((round % 2)) -eq 0 ] && order=(canter django)
    for name in "${order[@]}"; do
      session=$CANTER_SESSION
      [ "$name" = django ] && session=$DJANGO_SESSION
      wrk_run "$label-$name" "$name" "$round" "$path" -H "Cookie: sessionid=$session" >&2
    done
  done
done

# The WebSocket echo: canter's echo consumer, then Channels', alternating.
start_server canter-ws '^listening on \([0-9.]*:[0-9]*\).*' "$BIN/ws_bench_server" --addr 127.0.0.1:0
for round in $(seq 1 "$RUNS"); do
  for name in canter-ws django; do
    wait_quiet
    "$BIN/ws_load" echo "ws://127.0.0.1:${SERVER_PORT[$name]}/ws/echo/" 50 "$DURATION" |
      sed "s/^/$name round=$round /" | tee -a "$OUT/echo.txt" >&2
  done
done

log "view-server | req/s median | req/s runs | p50 ms | p90 ms | p99 ms | errors | server CPU µs/req | max other CPU % | ratio to Django (medians) | per-round ratio (runs)"
for label in hello first-active me; do
  table "$label-django" "$label-django" "$label-canter" | tee -a "$OUT/summary.txt"
done
log ""
"$PYTHON" - "$OUT/echo.txt" <<'PY' | tee -a "$OUT/summary.txt"
import re, statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    name, rnd = line.split()[:2]
    rounds.setdefault(rnd, {})[name] = float(re.search(r"per_s=([0-9.]+)", line).group(1))
canter = [r["canter-ws"] for r in rounds.values()]
django = [r["django"] for r in rounds.values()]
ratios = [r["canter-ws"] / r["django"] for r in rounds.values()]
print(f"ws echo, 50 connections: canter {statistics.median(canter):.0f} round trips/s, Channels "
      f"{statistics.median(django):.0f}/s -> {statistics.median(ratios):.1f}x "
      f"(rounds: {', '.join(f'{x:.1f}' for x in ratios)})")
PY
log "(responses: $OUT/responses.txt; done $(date -u '+%H:%M:%S UTC'))"
