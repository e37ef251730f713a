#!/usr/bin/env bash
# canter's HTTP-core benchmarks, each against a reference measured in the same run.
#
#   bash benches/run.sh hello        # 1. hello JSON: canter vs bare hyper (wrk -t2 -c64 -d10s)  ~3.5 min
#   bash benches/run.sh sleep        # 2. 2 s sleep view, 10,000 connections (benches/load.rs)   ~1.5 min
#   bash benches/run.sh middleware   # 3. hello with the demo's middleware added one at a time   ~5 min
#   bash benches/run.sh probe        # in-process: handle() cost, heap, cost per middleware      ~0.5 min
#   bash benches/run.sh all          # all of the above                                          ~10 min
#   bash benches/run.sh pinned       # 1. again, server pinned to CPU 0 and wrk to CPU 1         ~3.5 min
#   bash benches/run.sh instructions # user-space instructions per hello request (callgrind)     ~0.5 min
# (longer when the machine is busy: see QUIET_* and NOISE_PCT below)
#
# Everything listens on and loads 127.0.0.1 only; servers take ephemeral ports and are stopped
# by PID (also on exit or Ctrl-C). Every load is bounded: wrk by -d, load by request count and
# --total-timeout. Runs are interleaved (the order rotates each round) and medians are
# reported. Raw outputs go to benches/results/run-<time>.tmp/ (git-ignored).
#
# BIN=DIR takes the binaries from DIR instead of target/release (after the same build; e.g. a
# build with another profile, its `load` copied beside them).
# Knobs (environment): RUNS=3 DURATION=10 WARMUP=2 CONNS=64 SLEEP_CONNS=10000 SLEEP_REQUESTS=3
# CONNECT_RATE=5000 PROBE_ITERS=300000 QUIET_PCT=25 QUIET_WAIT=20 (before each measured run, wait
# up to QUIET_WAIT s for a 1 s window in which the machine uses at most QUIET_PCT % of one core:
# the machine is shared; each run also records how much CPU other processes took during it,
# and a wrk run during which they took more than NOISE_PCT=20 % of one core is logged as NOISY
# and repeated, at most NOISY_RETRIES=2 times). HELLO_RUNS=5 runs per config for figure 1.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-"$ROOT/target/release"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
SLEEP_CONNS=${SLEEP_CONNS:-10000}
SLEEP_REQUESTS=${SLEEP_REQUESTS:-3}
CONNECT_RATE=${CONNECT_RATE:-5000}
PROBE_ITERS=${PROBE_ITERS:-300000}
QUIET_PCT=${QUIET_PCT:-25}
NOISE_PCT=${NOISE_PCT:-20}
NOISY_RETRIES=${NOISY_RETRIES:-2}
HELLO_RUNS=${HELLO_RUNS:-5}
QUIET_WAIT=${QUIET_WAIT:-20}
CLK_TCK=$(getconf CLK_TCK)

MODE=${1:-all}
case "$MODE" in
  hello | sleep | middleware | probe | pinned | instructions | all) ;;
  *)
    echo "usage: $0 hello|sleep|middleware|probe|pinned|instructions|all" >&2
    exit 2
    ;;
esac

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$ROOT/benches/results/run-$STAMP.tmp"
mkdir -p "$OUT"

declare -A SERVER_PID=() SERVER_PORT=()
# Command prefixes for servers and wrk (mode `pinned` sets them to taskset).
SERVER_PREFIX=()
WRK_PREFIX=()
cleanup() {
  local name pid
  for name in "${!SERVER_PID[@]}"; do
    pid=${SERVER_PID[$name]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for name in "${!SERVER_PID[@]}"; do
    wait "${SERVER_PID[$name]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }

# --- setup -----------------------------------------------------------------------------------

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: installing it with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to apt-get install wrk" >&2
    exit 1
  fi
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

BUILD=(cargo build --release -p canter-benches --bin bare_hyper --bin canter_bench --bin load --bin probe)
echo "building (${BUILD[*]})..." >&2
"${BUILD[@]}" 2>&1 | tail -n 3 >&2

HARD_NOFILE=$(ulimit -Hn)
WANT_NOFILE=20000
if [ "$HARD_NOFILE" != unlimited ] && [ "$HARD_NOFILE" -lt "$WANT_NOFILE" ]; then
  WANT_NOFILE=$HARD_NOFILE
fi
ulimit -n "$WANT_NOFILE"

log "== canter benches: $MODE"
log "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
log "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
log "git: $(git rev-parse --short HEAD) ($(git status --porcelain -- canter canter-core | wc -l) uncommitted paths in canter/ canter-core/)"
log "tools: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), open files limit $(ulimit -n); servers, wrk and load share the same machine"
log "raw outputs: $OUT"
log ""

# --- helpers ---------------------------------------------------------------------------------

# start_server NAME COMMAND...: starts it in the background, waits for "listening on ADDR".
start_server() {
  local name=$1
  shift
  : >"$OUT/server-$name.log"
  "${SERVER_PREFIX[@]}" "$@" >"$OUT/server-$name.log" 2>&1 &
  local pid=$!
  SERVER_PID[$name]=$pid
  local i addr=""
  for i in $(seq 1 100); do
    addr=$(sed -n 's/^listening on \([0-9.]*:[0-9]*\).*/\1/p' "$OUT/server-$name.log" | head -n1)
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server $name exited:" >&2
      cat "$OUT/server-$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "server $name did not start in 10 s" >&2
    exit 1
  fi
  SERVER_PORT[$name]=${addr##*:}
}

stop_server() {
  local name=$1 pid=${SERVER_PID[$1]} i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "SERVER_PID[$name]" "SERVER_PORT[$name]"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Non-idle CPU ticks of the whole machine (user nice system irq softirq steal).
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# wait_quiet: up to QUIET_WAIT s for a quiet second (see the knobs above).
wait_quiet() {
  local start=$SECONDS b0 b1 pct
  while :; do
    b0=$(busy_ticks)
    sleep 1
    b1=$(busy_ticks)
    pct=$(((b1 - b0) * 100 / CLK_TCK))
    [ "$pct" -le "$QUIET_PCT" ] && return 0
    if [ $((SECONDS - start)) -ge "$QUIET_WAIT" ]; then
      echo "machine still busy ($pct% of one core) after ${QUIET_WAIT}s of waiting: measuring anyway" >&2
      return 0
    fi
  done
}

# wrk_run NAME ROUND: warm-up, then one measured wrk run against server NAME; appends a RUN line.
wrk_run() {
  local name=$1 round=$2 port=${SERVER_PORT[$1]} pid=${SERVER_PID[$1]}
  local url="http://127.0.0.1:$port/" attempt file line other
  for attempt in $(seq 0 "$NOISY_RETRIES"); do
    file="$OUT/wrk-$name-$round-$attempt.txt"
    wait_quiet
    "${WRK_PREFIX[@]}" wrk -t2 -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null
    local c0 c1 b0 b1 t0 t1 wrk_cpu
    c0=$(cpu_ticks "$pid")
    b0=$(busy_ticks)
    t0=$(date +%s%N)
    wrk_cpu=$( { TIMEFORMAT='%U %S'; time "${WRK_PREFIX[@]}" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$url" >"$file"; } 2>&1 | awk '{print $1 + $2}')
    t1=$(date +%s%N)
    b1=$(busy_ticks)
    c1=$(cpu_ticks "$pid")
    # CPU used by everything but this server and this wrk (the noise from others), in % of one core.
    other=$(awk -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v w="$wrk_cpu" -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
      'BEGIN {o = ((b - c) / hz - w) / (ns / 1e9) * 100; printf "%.0f", (o < 0 ? 0 : o)}')
    line=$(awk -v name="$name" -v round="$round" -v ticks=$((c1 - c0)) -v hz="$CLK_TCK" -v other="$other" '
      function ms(v) {
        if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
        if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
        if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
        return v + 0
      }
      /Requests\/sec:/ { rps = $2 }
      /requests in/ { reqs = $1 }
      $1 == "50%" { p50 = ms($2) }
      $1 == "99%" { p99 = ms($2) }
      /Socket errors:/ { gsub(",", ""); errs += $4 + $6 + $8 + $10 }
      /Non-2xx or 3xx responses:/ { errs += $5 }
      END {
        cpu = (reqs > 0) ? ticks * 1e6 / hz / reqs : 0
        printf "config=%s round=%s rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d requests=%d server_cpu_us_per_req=%.2f other_cpu_pct=%s", name, round, rps, p50, p99, errs + 0, reqs, cpu, other
      }' "$file")
    if [ "$other" -le "$NOISE_PCT" ] || [ "$attempt" -ge "$NOISY_RETRIES" ]; then
      echo "RUN $line" | tee -a "$OUT/runs.txt"
      return 0
    fi
    echo "NOISY $line (other processes used more than $NOISE_PCT% of a core: repeated)" | tee -a "$OUT/runs.txt"
  done
}

# table MODE REF CONFIG...: one "|"-separated row per config from its RUN lines: medians over
# runs, and ratios to REF both as (median / median of REF) and as the median of per-round
# ratios (runs of one round are minutes apart at most, which cancels slow drift of the machine).
# MODE "chain" adds the cost of each config over the one before it: (1/rps - 1/rps_prev) * 1e6
# µs, from the medians and as the median of per-round values.
table() {
  local mode=$1 ref=$2
  shift 2
  awk -v mode="$mode" -v ref="$ref" -v list="$*" '
    function median(src, n,   a, i, j, t) {
      for (i = 1; i <= n; i++) a[i] = src[i]
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "RUN" {
      delete v
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      c = v["config"]; r = v["round"]
      rps[c, r] = v["rps"]; p50[c, r] = v["p50_ms"]; p99[c, r] = v["p99_ms"]
      err[c] += v["errors"]; cpu[c, r] = v["server_cpu_us_per_req"]
      if (v["other_cpu_pct"] + 0 > other[c]) other[c] = v["other_cpu_pct"] + 0
      if (r + 0 > rounds) rounds = r + 0
    }
    END {
      nc = split(list, configs, " ")
      for (k = 1; k <= nc; k++) {
        c = configs[k]; n = 0; runs = ""; nr = 0; ratios = ""; nd = 0; costs = ""
        for (r = 1; r <= rounds; r++) {
          if (!((c, r) in rps)) continue
          n++; x[n] = rps[c, r]; y[n] = p50[c, r]; z[n] = p99[c, r]; w[n] = cpu[c, r]
          runs = runs (n > 1 ? " / " : "") rps[c, r]
          if ((ref, r) in rps) { nr++; rr[nr] = rps[c, r] / rps[ref, r]; ratios = ratios (nr > 1 ? " / " : "") sprintf("%.3f", rr[nr]) }
          if (mode == "chain" && k > 1 && ((configs[k - 1], r) in rps)) {
            nd++; dd[nd] = (1 / rps[c, r] - 1 / rps[configs[k - 1], r]) * 1e6
            costs = costs (nd > 1 ? " / " : "") sprintf("%+.2f", dd[nd])
          }
        }
        if (n == 0) continue
        med[c] = median(x, n); medcpu[c] = median(w, n)
        row = sprintf("%s | %.0f | %s | %.3f | %.3f | %d | %.2f | %d", c, med[c], runs, median(y, n), median(z, n), err[c], median(w, n), other[c])
        row = row sprintf(" | %.3f | %.3f (%s)", med[c] / med[ref], median(rr, nr), ratios)
        if (mode == "chain") {
          if (k == 1) row = row " | — | — | —"
          else row = row sprintf(" | %+.2f | %+.2f (%s) | %+.2f", (1 / med[c] - 1 / med[configs[k - 1]]) * 1e6, median(dd, nd), costs, medcpu[c] - medcpu[configs[k - 1]])
        }
        print row
      }
    }' "$OUT/runs.txt"
}

# --- 1. hello --------------------------------------------------------------------------------

bench_hello() {
  log "## 1. hello JSON: wrk -t2 -c$CONNS -d${DURATION}s --latency http://127.0.0.1:PORT/ (${WARMUP}s warm-up before each run, $HELLO_RUNS runs, interleaved)"
  start_server bare "$BIN/bare_hyper"
  start_server canter "$BIN/canter_bench"
  start_server canter-plain "$BIN/canter_bench" --plain-hyper
  local order=(bare canter canter-plain) round i k
  for round in $(seq 1 "$HELLO_RUNS"); do
    for i in 0 1 2; do
      k=$(((i + round - 1) % 3))
      wrk_run "${order[$k]}" "$round"
    done
  done
  stop_server bare
  stop_server canter
  stop_server canter-plain
  log ""
  log "config | req/s median | req/s runs | p50 ms (median) | p99 ms (median) | errors (all runs) | server CPU µs/req (median) | max CPU % of one core used by other processes | ratio to bare (medians) | ratio to bare, median of per-round (runs)"
  table plain bare bare canter canter-plain | tee -a "$OUT/summary.txt"
  log "(canter = canter::server::serve; canter-plain = the same CanterService behind bare_hyper's accept loop)"
  log "noisy runs repeated: $(grep -c '^NOISY config=\(bare\|canter\|canter-plain\) ' "$OUT/runs.txt" || true)"
  log ""
}

# --- 2. sleep --------------------------------------------------------------------------------

bench_sleep() {
  local cmd="load --addr 127.0.0.1:PORT --path /sleep/ --conns $SLEEP_CONNS --requests $SLEEP_REQUESTS --connect-rate $CONNECT_RATE --connect-concurrency 64 --total-timeout 120 --server-pid PID"
  log "## 2. 2 s sleep view, $SLEEP_CONNS connections x $SLEEP_REQUESTS sequential keep-alive requests: $cmd"
  log "(a fresh server process per run; $RUNS runs each, interleaved)"
  local round name order idle
  for round in $(seq 1 "$RUNS"); do
    if [ $((round % 2)) -eq 1 ]; then order="canter bare"; else order="bare canter"; fi
    for name in $order; do
      if [ "$name" = bare ]; then
        start_server sleep-bare "$BIN/bare_hyper"
      else
        start_server sleep-canter "$BIN/canter_bench"
      fi
      wait_quiet
      idle=$(status_kb "${SERVER_PID[sleep-$name]}" VmRSS)
      local pid=${SERVER_PID[sleep-$name]} c0 c1 b0 b1 t0 t1 load_cpu other
      c0=$(cpu_ticks "$pid")
      b0=$(busy_ticks)
      t0=$(date +%s%N)
      load_cpu=$( { TIMEFORMAT='%U %S'; time "$BIN/load" --addr "127.0.0.1:${SERVER_PORT[sleep-$name]}" --path /sleep/ \
        --conns "$SLEEP_CONNS" --requests "$SLEEP_REQUESTS" --connect-rate "$CONNECT_RATE" --connect-concurrency 64 \
        --total-timeout 120 --server-pid "$pid" >"$OUT/load-$name-$round.txt" || true; } 2>&1 | awk '{print $1 + $2}')
      t1=$(date +%s%N)
      b1=$(busy_ticks)
      c1=$(cpu_ticks "$pid")
      other=$(awk -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v w="$load_cpu" -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
        'BEGIN {o = ((b - c) / hz - w) / (ns / 1e9) * 100; printf "%.0f", (o < 0 ? 0 : o)}')
      stop_server "sleep-$name"
      grep -v '^RESULT' "$OUT/load-$name-$round.txt" >&2
      sed -n "s/^RESULT /SLEEP config=$name round=$round idle_rss_mb=$(awk -v k="$idle" 'BEGIN {printf "%.1f", k / 1024}') server_cpu_s=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}') load_cpu_s=$load_cpu other_cpu_pct=$other /p" \
        "$OUT/load-$name-$round.txt" | tee -a "$OUT/runs.txt"
    done
  done
  log ""
  log "config | req/s median | runs (req/s) | ratio to ideal | errors (all runs) | p50 ms | p99 ms | max ms | connect phase s | idle RSS MB | RSS with all connections open MB | peak RSS (VmHWM) MB median | runs (VmHWM MB) | server CPU s per run | max CPU % of one core used by other processes"
  for name in canter bare; do
    grep "^SLEEP config=$name " "$OUT/runs.txt" | awk -v config="$name" '
      function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n++; rps[n] = v["rps"]; ratio[n] = v["ratio"]; p50[n] = v["p50_ms"]; p99[n] = v["p99_ms"]; mx[n] = v["max_ms"]
        con[n] = v["connect_s"]; idle[n] = v["idle_rss_mb"]; open[n] = v["rss_open_mb"]; hwm[n] = v["hwm_mb"]
        scpu[n] = v["server_cpu_s"]; if (v["other_cpu_pct"] + 0 > other) other = v["other_cpu_pct"] + 0
        errs += v["errors"] + (v["timed_out"] > 0 ? 1 : 0)
        runs = runs (n > 1 ? " / " : "") v["rps"]; hwms = hwms (n > 1 ? " / " : "") v["hwm_mb"]
      }
      END {
        if (n == 0) exit
        printf "%s | %.1f | %s | %.3f | %d | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %s | %.2f | %d\n", config, median(rps, n), runs, median(ratio, n), errs, median(p50, n), median(p99, n), median(mx, n), median(con, n), median(idle, n), median(open, n), median(hwm, n), hwms, median(scpu, n), other
      }' | tee -a "$OUT/summary.txt" "$OUT/sleep-table.txt"
  done
  awk -F' [|] ' '$1 == "canter" || $1 == "bare" { rps[$1] = $2; p99[$1] = $7; hwm[$1] = $12 }
    END { if (("canter" in rps) && ("bare" in rps))
      printf "canter / bare (medians): throughput %.3f, p99 latency %.3f, peak RSS %.2f\n", rps["canter"] / rps["bare"], p99["canter"] / p99["bare"], hwm["canter"] / hwm["bare"] }' \
    "$OUT/sleep-table.txt" | tee -a "$OUT/summary.txt"
  log "(ideal = $SLEEP_CONNS / 2 s = $((SLEEP_CONNS / 2)) req/s; wall time runs from the moment all connections are open)"
  log ""
}

# --- 3. middleware ---------------------------------------------------------------------------

MW_NAMES=(none request_id logging security gzip timing log_sink)
MW_LISTS=(
  ""
  "canter.request_id"
  "canter.request_id,canter.logging"
  "canter.request_id,canter.logging,canter.security"
  "canter.request_id,canter.logging,canter.security,canter.gzip"
  "canter.request_id,canter.logging,canter.security,canter.gzip,bench.timing"
  "canter.request_id,canter.logging,canter.security,canter.gzip,bench.timing"
)

bench_middleware() {
  log "## 3. hello with middleware added one at a time (cumulative): wrk -t2 -c$CONNS -d${DURATION}s --latency (${WARMUP}s warm-up before each run, $RUNS runs, interleaved)"
  local i n=${#MW_NAMES[@]} round k
  for i in $(seq 0 $((n - 1))); do
    if [ "${MW_NAMES[$i]}" = log_sink ]; then
      start_server "mw-${MW_NAMES[$i]}" "$BIN/canter_bench" --middleware "${MW_LISTS[$i]}" --log-sink
    else
      start_server "mw-${MW_NAMES[$i]}" "$BIN/canter_bench" --middleware "${MW_LISTS[$i]}"
    fi
  done
  for round in $(seq 1 "$RUNS"); do
    for i in $(seq 0 $((n - 1))); do
      k=$(((i + (round - 1) * 2) % n))
      wrk_run "mw-${MW_NAMES[$k]}" "$round"
    done
  done
  for i in $(seq 0 $((n - 1))); do stop_server "mw-${MW_NAMES[$i]}"; done
  log ""
  for i in $(seq 0 $((n - 1))); do
    log "mw-${MW_NAMES[$i]}: ${MW_LISTS[$i]:-(no middleware)}$([ "${MW_NAMES[$i]}" = log_sink ] && echo ' + INFO fmt subscriber writing to io::sink')"
  done
  log "config | req/s median | req/s runs | p50 ms (median) | p99 ms (median) | errors (all runs) | server CPU µs/req (median) | max CPU % of one core used by other processes | ratio to none (medians) | ratio to none, median of per-round (runs) | added cost µs/req from medians | added cost µs/req, median of per-round (runs) | added server CPU µs/req (medians)"
  local configs=()
  for i in $(seq 0 $((n - 1))); do configs+=("mw-${MW_NAMES[$i]}"); done
  table chain mw-none "${configs[@]}" | tee -a "$OUT/summary.txt"
  log "(added cost = (1/rps - 1/rps of the row above) * 1e6 µs: wall-clock time per request at this concurrency, i.e. the server's CPU time spread over 2 cores shared with wrk, not CPU time of one core; added server CPU = difference of the servers' own CPU time (/proc/PID/stat utime+stime) per request)"
  log "(bench.timing = the demo's AsyncMiddleware (Server-Timing); no tracing subscriber is installed except in log_sink)"
  log "noisy runs repeated: $(grep -c '^NOISY config=mw-' "$OUT/runs.txt" || true)"
  log ""
}

# --- probe -----------------------------------------------------------------------------------

bench_probe() {
  local demo="canter.request_id,canter.logging,canter.security,canter.gzip,bench.timing" mw
  log "## in-process probe (no sockets): $BIN/probe --iters $PROBE_ITERS --inflight 1000 --middleware ''|$demo"
  for mw in "" "$demo"; do
    wait_quiet
    "$BIN/probe" --iters "$PROBE_ITERS" --inflight 1000 --middleware "$mw" | tee -a "$OUT/summary.txt"
  done
  log "## in-process cost per middleware: $BIN/probe --iters $PROBE_ITERS --cumulative $demo"
  wait_quiet
  "$BIN/probe" --iters "$PROBE_ITERS" --cumulative "$demo" | tee -a "$OUT/summary.txt"
  log ""
}

# --- pinned: figure 1 without the scheduler's say -----------------------------------------
# On 2 shared cores the servers' two tokio workers and wrk's two threads compete for the same
# CPUs, and which of them the scheduler preempts changes the result from run to run (canter
# and bare hyper alike show runs at two distinct speeds). Pinned, each server gets CPU 0 and
# wrk CPU 1: throughput is then the server's own cost per request.
bench_pinned() {
  SERVER_PREFIX=(taskset -c 0)
  WRK_PREFIX=(taskset -c 1)
  log "(pinned: servers on CPU 0 with taskset -c 0, wrk on CPU 1 with taskset -c 1)"
  bench_hello
  SERVER_PREFIX=()
  WRK_PREFIX=()
}

# --- instructions: the deterministic figure ---------------------------------------------------
# Each server under callgrind (user-space instructions only: not the kernel, not cache misses,
# so it is a floor of the difference, not a time): 1,000 warm-up requests, counters zeroed,
# then INSTR_REQUESTS sequential keep-alive GET / on one connection, counters dumped.
bench_instructions() {
  local n=${INSTR_REQUESTS:-10000}
  if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not found: installing it with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then
      echo "need root to apt-get install valgrind" >&2
      exit 1
    fi
    apt-get install -y -qq valgrind >/dev/null
  fi
  log "## user-space instructions per hello request (valgrind --tool=callgrind; $n requests on one keep-alive connection after 1,000 warm-up; counters zeroed in between)"
  log "config | instructions per request | ratio to bare"
  local name ref="" ir
  for name in bare canter canter-plain canter-counters; do
    local args=("$BIN/bare_hyper")
    [ "$name" = canter ] && args=("$BIN/canter_bench")
    [ "$name" = canter-plain ] && args=("$BIN/canter_bench" --plain-hyper)
    # The ops dashboard's per-route HTTP counters on (issue 21: within 3 % of canter).
    [ "$name" = canter-counters ] && args=("$BIN/canter_bench" --http-counters)
    start_server "ir-$name" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$name.%p" "${args[@]}"
    local pid=${SERVER_PID[ir-$name]} addr="127.0.0.1:${SERVER_PORT[ir-$name]}"
    "$BIN/load" --addr "$addr" --path / --conns 1 --requests 1000 --total-timeout 120 >"$OUT/ir-warmup-$name.txt"
    callgrind_control -z "$pid" >/dev/null 2>&1
    "$BIN/load" --addr "$addr" --path / --conns 1 --requests "$n" --total-timeout 300 >"$OUT/ir-load-$name.txt"
    callgrind_control -d "$pid" >/dev/null 2>&1
    stop_server "ir-$name"
    ir=$(callgrind_annotate "$OUT/callgrind-$name.$pid".1 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    [ -z "$ref" ] && ref=$ir
    log "$name | $((ir / n)) | $(awk -v a="$ir" -v b="$ref" 'BEGIN {printf "%.3f", a / b}')"
  done
  log ""
}

case "$MODE" in
  hello) bench_hello ;;
  pinned) bench_pinned ;;
  instructions) bench_instructions ;;
  sleep) bench_sleep ;;
  middleware) bench_middleware ;;
  probe) bench_probe ;;
  all)
    bench_hello
    bench_sleep
    bench_middleware
    bench_probe
    ;;
esac
log "done: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); raw outputs in $OUT"
