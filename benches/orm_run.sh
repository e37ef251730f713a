#!/usr/bin/env bash
# canter's ORM benchmarks, each against a reference measured in the same run:
#
#   bash benches/orm_run.sh          # both parts, ~6 min
#   bash benches/orm_run.sh orm      # 1. ORM vs raw sqlx, in process (benches/orm_bench.rs),
#                                    #    3 runs, SQLite, PostgreSQL, MariaDB                     ~2.5 min
#   bash benches/orm_run.sh http     # 2. the demo's /mymodel/first-active/ vs bare axum + sqlx,
#                                    #    wrk -t2 -c64 -d10s --latency, SQLite, PostgreSQL, MariaDB ~7.5 min
#   ONLY=mariadb bash benches/orm_run.sh   # one database only (sqlite, postgres or mariadb)
#
# Part 2 serves, per database, three servers side by side and loads them in turn (the order
# rotates each round): demo (target/release/demo runserver, its settings as shipped: debug on,
# middleware request_id, logging, security, gzip, plus the code-added Server-Timing one),
# demo-nomw (the same with CANTER_MIDDLEWARE= : only the code-added Server-Timing middleware)
# and axum (benches/axum_sqlx_ref.rs: one route, the same SQL, the same JSON). All three read
# the demo's table demo_mymodel, made by `demo migrate` and seeded with 10,000 rows (every
# second one active) by `orm_bench seed` before the servers start. SQLite: a file in the
# run's output folder; PostgreSQL: $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) with
# search_path canter_demo_bench (dropped and made anew each run); MariaDB: $BENCH_MYSQL_URL
# (default mysql://root@127.0.0.1:3306/test) with its database replaced by canter_demo_bench
# (dropped and made anew each run). orm_bench uses schema / database canter_bench.
#
# Everything listens on and loads 127.0.0.1 only; servers take ephemeral ports and are stopped
# by PID (also on exit or Ctrl-C). Every load is bounded by wrk's -d. Before anything is
# measured, and again before each measured run, the script waits (up to 40 min in all) until no
# other benchmark of this repo runs (wrk, canter_bench, bare_hyper, benches/run.sh,
# target/release/load) and no rustc.
# Raw outputs go to benches/results/orm-<time>.tmp/ (git-ignored).
#
# Knobs (environment): RUNS=3 DURATION=10 WARMUP=2 CONNS=64 N=2000 BULK_REPS=15 ORM_RUNS=3 QUIET_PCT=25
# QUIET_WAIT=20 BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
# BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test ONLY=(all)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/target/release"
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
N=${N:-2000}
BULK_REPS=${BULK_REPS:-15}
ORM_RUNS=${ORM_RUNS:-3}
QUIET_PCT=${QUIET_PCT:-25}
QUIET_WAIT=${QUIET_WAIT:-20}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
MYSQL_BASE=${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
ONLY=${ONLY:-}
PATH_FIRST=/mymodel/first-active/

MODE=${1:-all}
case "$MODE" in
  orm | http | all) ;;
  *)
    echo "usage: $0 [orm|http|all]" >&2
    exit 2
    ;;
esac

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/benches/results/orm-$STAMP.tmp"
mkdir -p "$OUT"

# The helpers shared with benches/django_run.sh: servers on ephemeral ports stopped by PID,
# waiting for other benchmarks and for a quiet machine, one measured wrk run, the ratio table.
# Their list of other benchmarks leaves this script out (it would match itself).
OTHERS='wrk|canter_bench|bare_hyper|benches/run.sh|target/release/load'
WAIT_BUDGET=${WAIT_BUDGET:-2400}
# shellcheck source=benches/wrk_lib.sh
source "$ROOT/benches/wrk_lib.sh"
trap stop_all_servers EXIT
trap 'exit 130' INT TERM

# --- setup -----------------------------------------------------------------------------------

need_wrk
# Wait until no other benchmark runs on this (shared) machine before building too (a build
# would disturb their measurements); wrk_run waits again before each measurement.
wait_others

echo "building (cargo build --release -p demo; cargo build --release -p canter-benches)..." >&2
cargo build --release -p demo 2>&1 | tail -n 2 >&2
cargo build --release -p canter-benches 2>&1 | tail -n 2 >&2

log "== canter ORM benches: $MODE"
log "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
log "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load average at start: $(cut -d' ' -f1-3 /proc/loadavg); shared machine, load generator on the same machine"
log "git: $(git rev-parse --short HEAD) ($(git status --porcelain -- canter canter-core canter-orm examples/demo | wc -l) uncommitted paths in canter/ canter-core/ canter-orm/ examples/demo/)"
log "databases: SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo '(sqlite3 CLI missing)') (library bundled by sqlx), $(psql "$PG_BASE" -Atc 'select version()' 2>/dev/null | cut -d' ' -f1-2 || echo 'PostgreSQL (version unknown)'), MariaDB $(mysql -h 127.0.0.1 -u root -N -e 'select version()' 2>/dev/null || echo '(version unknown)') on 127.0.0.1"
log "waited ${waited}s for other benchmarks; raw outputs: $OUT"
log ""

# --- 1. ORM vs raw sqlx, in process ----------------------------------------------------------

bench_orm() {
  log "## 1. ORM vs raw sqlx in one process: $BIN/orm_bench --n $N --bulk-reps $BULK_REPS ${ONLY:+--only $ONLY} (BENCH_POSTGRES_URL=$PG_BASE BENCH_MYSQL_URL=$MYSQL_BASE), $ORM_RUNS runs (a fresh process each)"
  local run
  for run in $(seq 1 "$ORM_RUNS"); do
    wait_others
    wait_quiet
    BENCH_POSTGRES_URL="$PG_BASE" BENCH_MYSQL_URL="$MYSQL_BASE" "$BIN/orm_bench" --n "$N" --bulk-reps "$BULK_REPS" ${ONLY:+--only "$ONLY"} \
      >"$OUT/orm_bench-$run.txt" 2>"$OUT/orm_bench-$run.err" || {
      cat "$OUT/orm_bench-$run.err" >&2
      exit 1
    }
    sed -n "s/^RESULT /ORMRUN run=$run /p" "$OUT/orm_bench-$run.txt" | tee -a "$OUT/orm_runs.txt" >&2
  done
  grep -h '^SQL' "$OUT/orm_bench-1.err" | tee -a "$OUT/summary.txt"
  log ""
  log "backend | op | n per run | ORM p50 µs | raw p50 µs | raw-shared p50 µs | ORM p90 µs | raw p90 µs | ORM/raw p50 (median of runs) | runs | ORM/raw p90 (median) | runs | ORM/raw-shared p50 (median) | runs | ≤ 1.15× raw (p50 median)"
  awk '
    function median(src, n,   a, i, j, t) {
      for (i = 1; i <= n; i++) a[i] = src[i]
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "ORMRUN" {
      delete v
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      k = v["backend"] SUBSEP v["op"]
      if (!(k in cnt)) { order[++nk] = k }
      c = ++cnt[k]; nn[k] = v["n"]
      op50[k, c] = v["orm_p50_us"]; rp50[k, c] = v["raw_p50_us"]; sp50[k, c] = v["shared_p50_us"]
      op90[k, c] = v["orm_p90_us"]; rp90[k, c] = v["raw_p90_us"]
      r50[k, c] = v["ratio_p50"]; r90[k, c] = v["ratio_p90"]; rs50[k, c] = v["ratio_shared_p50"]
    }
    END {
      for (q = 1; q <= nk; q++) {
        k = order[q]; n = cnt[k]; split(k, parts, SUBSEP)
        l50 = ""; l90 = ""; ls50 = ""
        for (c = 1; c <= n; c++) {
          a[c] = op50[k, c]; b[c] = rp50[k, c]; d[c] = sp50[k, c]; e[c] = op90[k, c]; f[c] = rp90[k, c]
          x[c] = r50[k, c]; y[c] = r90[k, c]; z[c] = rs50[k, c]
          l50 = l50 (c > 1 ? " / " : "") x[c]; l90 = l90 (c > 1 ? " / " : "") y[c]; ls50 = ls50 (c > 1 ? " / " : "") z[c]
        }
        m = median(x, n)
        printf "%s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.3f | %s | %.3f | %s | %.3f | %s | %s\n", parts[1], parts[2], nn[k], median(a, n), median(b, n), median(d, n), median(e, n), median(f, n), m, l50, median(y, n), l90, median(z, n), ls50, (m <= 1.15 ? "yes" : "NO")
      }
    }' "$OUT/orm_runs.txt" | tee -a "$OUT/summary.txt"
  log "(latencies: medians over runs of each run's p50/p90; raw = plain sqlx on a pool of its own with canter's options; raw-shared = the same calls on the ORM's own pool)"
  log ""
}

# --- 2. HTTP ---------------------------------------------------------------------------------

# bench_http DB URL [SCHEMA]: SCHEMA (PostgreSQL's schema, MariaDB's database) is dropped and
# made anew first.
bench_http() {
  local db=$1 url=$2 schema=${3:-}
  log "## 2. $db: GET $PATH_FIRST, wrk -t2 -c$CONNS -d${DURATION}s --latency (${WARMUP}s warm-up before each run, $RUNS runs, interleaved)"
  log "DATABASE_URL=$url"
  if [ "$db" = mariadb ]; then
    "$BIN/orm_bench" reset-database --url "$MYSQL_BASE" --database "$schema" | tee -a "$OUT/summary.txt"
  elif [ -n "$schema" ]; then
    "$BIN/orm_bench" reset-schema --url "$PG_BASE" --schema "$schema" | tee -a "$OUT/summary.txt"
  fi
  # The demo's table comes from its migrations (runserver applies them itself only on SQLite).
  DATABASE_URL="$url" "$BIN/demo" migrate 2>&1 | tee -a "$OUT/summary.txt"
  "$BIN/orm_bench" seed --url "$url" | tee -a "$OUT/summary.txt"
  local started='^Starting server at http://\([0-9.]*:[0-9]*\)/.*'
  local listening='^listening on \([0-9.]*:[0-9]*\).*'
  start_server "$db-demo" "$started" env RUST_LOG=warn DATABASE_URL="$url" \
    "$BIN/demo" runserver 127.0.0.1:0
  start_server "$db-demo-nomw" "$started" env RUST_LOG=warn DATABASE_URL="$url" CANTER_MIDDLEWARE= \
    "$BIN/demo" runserver 127.0.0.1:0
  start_server "$db-axum" "$listening" env DATABASE_URL="$url" "$BIN/axum_sqlx_ref" 127.0.0.1:0
  local name
  for name in "$db-demo" "$db-demo-nomw" "$db-axum"; do
    {
      echo "-- $name: curl -si http://127.0.0.1:PORT$PATH_FIRST"
      curl -si --max-time 10 "http://127.0.0.1:${SERVER_PORT[$name]}$PATH_FIRST" | tr -d '\r'
      echo
    } >>"$OUT/responses.txt"
    if ! curl -sf --max-time 10 -o /dev/null "http://127.0.0.1:${SERVER_PORT[$name]}$PATH_FIRST"; then
      echo "$name does not answer $PATH_FIRST with 2xx:" >&2
      cat "$OUT/responses.txt" "$OUT/server-$name.log" >&2
      exit 1
    fi
  done
  local order=("$db-axum" "$db-demo" "$db-demo-nomw") round i k
  for round in $(seq 1 "$RUNS"); do
    for i in 0 1 2; do
      k=$(((i + round - 1) % 3))
      wrk_run "${order[$k]}" "${order[$k]}" "$round" "$PATH_FIRST"
    done
  done
  for name in "$db-demo" "$db-demo-nomw" "$db-axum"; do stop_server "$name"; done
  log ""
  log "config | req/s median | req/s runs | p50 ms | p90 ms | p99 ms (medians) | errors (all runs) | server CPU µs/req (median) | max CPU % of one core used by other processes (PostgreSQL included) | ratio to axum (medians) | ratio to axum, median of per-round (runs)"
  table "$db-axum" "$db-axum" "$db-demo" "$db-demo-nomw" | tee -a "$OUT/summary.txt"
  log ""
}

bench_http_all() {
  if [ -z "$ONLY" ] || [ "$ONLY" = sqlite ]; then
    bench_http sqlite "sqlite://$OUT/demo.sqlite3"
  fi
  local sep='?'
  case "$PG_BASE" in *\?*) sep='&' ;; esac
  if [ -z "$ONLY" ] || [ "$ONLY" = postgres ]; then
    bench_http postgres "$PG_BASE${sep}options=-c%20search_path%3Dcanter_demo_bench" canter_demo_bench
  fi
  if [ -z "$ONLY" ] || [ "$ONLY" = mariadb ]; then
    # The same server and user, the database canter_demo_bench (the URL's path replaced).
    local mysql_url
    mysql_url=$(printf '%s' "$MYSQL_BASE" | sed -E 's#^(mysql://[^/]*)(/[^?]*)?#\1/canter_demo_bench#')
    bench_http mariadb "$mysql_url" canter_demo_bench
  fi
  log "(demo = target/release/demo runserver as shipped: debug = true, middleware request_id, logging (RUST_LOG=warn), security, gzip (wrk sends no Accept-Encoding, so nothing is compressed) + the code-added Server-Timing middleware; demo-nomw = CANTER_MIDDLEWARE= , only Server-Timing; axum = benches/axum_sqlx_ref.rs. Responses: $OUT/responses.txt)"
  log ""
}

case "$MODE" in
  orm) bench_orm ;;
  http) bench_http_all ;;
  all)
    bench_orm
    bench_http_all
    ;;
esac
log "done: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); raw outputs in $OUT"
