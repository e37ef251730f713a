# shellcheck shell=bash
# Shared pieces of the wrk-driven benchmark scripts (sourced, not run): servers started on
# ephemeral ports and stopped by PID, waiting for a quiet machine, one measured wrk run, and the
# medians-and-ratios table. The caller sets OUT (its raw-output folder), CONNS, DURATION, WARMUP,
# QUIET_PCT, QUIET_WAIT and WAIT_BUDGET before using them.

CLK_TCK=$(getconf CLK_TCK)
declare -A SERVER_PID=() SERVER_PORT=()

log() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }

# Stops every server still running (on exit or Ctrl-C).
stop_all_servers() {
  local name
  for name in "${!SERVER_PID[@]}"; do kill -TERM "${SERVER_PID[$name]}" 2>/dev/null || true; done
  for name in "${!SERVER_PID[@]}"; do wait "${SERVER_PID[$name]}" 2>/dev/null || true; done
}

need_wrk() {
  if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found: installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
}

# Other benchmarks of this repo, or a compiler at work, would disturb a measurement: wait for
# them (at most WAIT_BUDGET s over the whole script). A script may set its own OTHERS first
# (one that must leave itself out of the list).
OTHERS=${OTHERS:-'wrk|canter_bench|bare_hyper|benches/run.sh|benches/orm_run.sh|target/release/load'}
waited=0
wait_others() {
  local announced=0
  while pgrep -f "$OTHERS" >/dev/null || pgrep -x rustc >/dev/null; do
    if [ "$waited" -ge "$WAIT_BUDGET" ]; then
      echo "other benchmarks or builds still running after ${waited}s of waiting: measuring anyway" >&2
      return 0
    fi
    if [ "$announced" -eq 0 ]; then
      echo "waiting for other benchmarks and builds to finish" >&2
      announced=1
    fi
    sleep 10
    waited=$((waited + 10))
  done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# wait_quiet: up to QUIET_WAIT s for a 1 s window using at most QUIET_PCT % of one core.
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

# start_server NAME PATTERN COMMAND...: starts it in the background and waits (15 s at most)
# until its log shows PATTERN, a sed regex whose one group captures ip:port.
start_server() {
  local name=$1 pattern=$2
  shift 2
  "$@" >"$OUT/server-$name.log" 2>&1 &
  local pid=$! i addr=""
  SERVER_PID[$name]=$pid
  for i in $(seq 1 150); do
    addr=$(sed -n "s#$pattern#\\1#p" "$OUT/server-$name.log" | head -n1)
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server $name exited:" >&2
      cat "$OUT/server-$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "server $name did not start in 15 s:" >&2
    cat "$OUT/server-$name.log" >&2
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

# wrk_run CONFIG SERVER ROUND PATH [WRK ARGS...]: warm-up, then one measured wrk run of PATH
# against server SERVER (the CPU of its PID counted); appends a RUN line for CONFIG to
# $OUT/runs.txt.
wrk_run() {
  local name=$1 server=$2 round=$3 path=$4
  shift 4
  local port=${SERVER_PORT[$server]} pid=${SERVER_PID[$server]}
  local url="http://127.0.0.1:$port$path" file="$OUT/wrk-$name-$round.txt"
  wait_others
  wait_quiet
  wrk -t2 -c"$CONNS" -d"${WARMUP}s" "$@" "$url" >/dev/null
  local c0 c1 b0 b1 t0 t1 wrk_cpu other
  c0=$(cpu_ticks "$pid")
  b0=$(busy_ticks)
  t0=$(date +%s%N)
  wrk_cpu=$( { TIMEFORMAT='%U %S'; time wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" >"$file"; } 2>&1 | awk '{print $1 + $2}')
  t1=$(date +%s%N)
  b1=$(busy_ticks)
  c1=$(cpu_ticks "$pid")
  # CPU used by everything but this server and this wrk, in % of one core.
  other=$(awk -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v w="$wrk_cpu" -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
    'BEGIN {o = ((b - c) / hz - w) / (ns / 1e9) * 100; printf "%.0f", (o < 0 ? 0 : o)}')
  awk -v name="$name" -v round="$round" -v ticks=$((c1 - c0)) -v hz="$CLK_TCK" -v other="$other" '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /Requests\/sec:/ { rps = $2 }
    /requests in/ { reqs = $1 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "90%" { p90 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors:/ { gsub(",", ""); errs += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errs += $5 }
    END {
      cpu = (reqs > 0) ? ticks * 1e6 / hz / reqs : 0
      printf "RUN config=%s round=%s rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f errors=%d requests=%d server_cpu_us_per_req=%.2f other_cpu_pct=%s\n", name, round, rps, p50, p90, p99, errs + 0, reqs, cpu, other
    }' "$file" | tee -a "$OUT/runs.txt"
}

# table REF CONFIG...: one "|"-separated row per config from its RUN lines: medians over runs,
# and ratios to REF both as (median / median of REF) and as the median of per-round ratios.
table() {
  local ref=$1
  shift
  awk -v ref="$ref" -v list="$*" '
    function median(src, n,   a, i, j, t) {
      for (i = 1; i <= n; i++) a[i] = src[i]
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "RUN" {
      delete v
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      c = v["config"]; r = v["round"]
      rps[c, r] = v["rps"]; p50[c, r] = v["p50_ms"]; p90[c, r] = v["p90_ms"]; p99[c, r] = v["p99_ms"]
      err[c] += v["errors"]; cpu[c, r] = v["server_cpu_us_per_req"]
      if (v["other_cpu_pct"] + 0 > other[c]) other[c] = v["other_cpu_pct"] + 0
      if (r + 0 > rounds) rounds = r + 0
    }
    END {
      nc = split(list, configs, " ")
      for (k = 1; k <= nc; k++) {
        c = configs[k]; n = 0; runs = ""; nr = 0; ratios = ""
        for (r = 1; r <= rounds; r++) {
          if (!((c, r) in rps)) continue
          n++; x[n] = rps[c, r]; y[n] = p50[c, r]; y9[n] = p90[c, r]; z[n] = p99[c, r]; w[n] = cpu[c, r]
          runs = runs (n > 1 ? " / " : "") rps[c, r]
          if ((ref, r) in rps) { nr++; rr[nr] = rps[c, r] / rps[ref, r]; ratios = ratios (nr > 1 ? " / " : "") sprintf("%.3f", rr[nr]) }
        }
        if (n == 0) continue
        med[c] = median(x, n)
        printf "%s | %.0f | %s | %.3f | %.3f | %.3f | %d | %.2f | %d | %.3f | %.3f (%s)\n", c, med[c], runs, median(y, n), median(y9, n), median(z, n), err[c], median(w, n), other[c], med[c] / med[ref], median(rr, nr), ratios
      }
    }' "$OUT/runs.txt"
}
