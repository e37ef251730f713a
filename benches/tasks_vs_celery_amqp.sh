#!/usr/bin/env bash
# Tasks on RabbitMQ: canter's AMQP transport against Celery 5 (prefork, 2 processes) on the same
# RabbitMQ, each run on a vhost of its own made here (rabbitmqctl) and deleted at the end, in one
# run, for ratios. ~3 min.
#
#   bash benches/tasks_vs_celery_amqp.sh
#
# Rounds alternate: canter (`cargo bench -p canter-tasks --features amqp --bench tasks_amqp`,
# itself 3 runs, medians) then Celery (benches/celery_amqp/bench.py: 10,000 no-op tasks enqueued,
# drained by a prefork -c2 worker told to go with add_consumer, enqueue->start latency), ROUNDS
# times; the medians of each side and their ratios are printed at the end.
#
# Knobs: ROUNDS=3; AMQP_SERVER (default amqp://guest:guest@127.0.0.1:5672); CANTER_BENCH_REDIS_URL
# (default redis://127.0.0.1:6379/14: latency stamps, and canter's coordination records under a
# prefix of their own); PYTHON (a Python with celery[redis]; default: target/interop-venv, made
# as .ci/run makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
AMQP_SERVER=${AMQP_SERVER:-amqp://guest:guest@127.0.0.1:5672}
export CANTER_BENCH_REDIS_URL=${CANTER_BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}
VENV=$ROOT/target/interop-venv
if [ -z "${PYTHON:-}" ]; then
  if [ ! -x "$VENV/bin/celery" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "celery[redis]==5.5.3"
  fi
  PYTHON=$VENV/bin/python
fi
OUT=$ROOT/benches/results/tasks-amqp-$(date +%Y%m%d-%H%M%S).tmp
mkdir -p "$OUT"

VHOST=canter-bench-$$-$RANDOM
USER_NAME=$(echo "$AMQP_SERVER" | sed -E 's#^amqps?://([^:@/]*).*#\1#')
rabbitmqctl add_vhost "$VHOST" >/dev/null
trap 'rabbitmqctl delete_vhost "$VHOST" >/dev/null' EXIT
rabbitmqctl set_permissions -p "$VHOST" "${USER_NAME:-guest}" ".*" ".*" ".*" >/dev/null
export CANTER_BENCH_AMQP_URL=$AMQP_SERVER/$VHOST CELERY_AMQP_URL=$AMQP_SERVER/$VHOST
export CELERY_STAMPS="$CANTER_BENCH_REDIS_URL#celery-bench-amqp-$$:latency"

cargo bench -p canter-tasks --features amqp --bench tasks_amqp --no-run >/dev/null 2>&1
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: canter"
  cargo bench -q -p canter-tasks --features amqp --bench tasks_amqp 2>/dev/null | tee -a "$OUT/canter.txt" | grep median
  echo "round $round: celery"
  timeout 600 "$PYTHON" benches/celery_amqp/bench.py | tee -a "$OUT/celery.jsonl" | "$PYTHON" -c 'import json, sys
r = json.loads(sys.stdin.read())
print("celery: enqueue %.0f/s, drain %.0f/s (ran %s), p50 %s ms, p99 %s ms" % (
    r["enqueue_per_s"], r["drain_tasks_per_s"], r["tasks_ran"], r["latency_p50_ms"], r["latency_p99_ms"]))'
done

"$PYTHON" - "$OUT" <<'PY'
import json, re, statistics, sys
out = sys.argv[1]
canter = [l for l in open(f"{out}/canter.txt") if l.startswith("median:")]
num = lambda pattern, line: float(re.search(pattern, line).group(1))
c = {
    "enqueue": statistics.median(num(r"enqueue (\d+)/s", l) for l in canter),
    "drain": statistics.median(num(r"drain (\d+)/s", l) for l in canter),
    "p50": statistics.median(num(r"p50 ([\d.]+) ms", l) for l in canter),
    "p99": statistics.median(num(r"p99 ([\d.]+) ms", l) for l in canter),
}
runs = [json.loads(l) for l in open(f"{out}/celery.jsonl")]
p = {
    "enqueue": statistics.median(r["enqueue_per_s"] for r in runs),
    "drain": statistics.median(r["drain_tasks_per_s"] for r in runs),
    "p50": statistics.median(r["latency_p50_ms"] for r in runs),
    "p99": statistics.median(r["latency_p99_ms"] for r in runs),
}
print(f"medians of {len(canter)} canter rounds and {len(runs)} Celery runs:")
print(f"  enqueue: canter {c['enqueue']:.0f}/s, Celery {p['enqueue']:.0f}/s -> {c['enqueue'] / p['enqueue']:.1f}x")
print(f"  drain:   canter {c['drain']:.0f}/s, Celery {p['drain']:.0f}/s -> {c['drain'] / p['drain']:.1f}x")
print(f"  enqueue->start p50: canter {c['p50']:.2f} ms, Celery {p['p50']:.2f} ms; p99: canter {c['p99']:.2f} ms, Celery {p['p99']:.2f} ms")
PY
echo "raw outputs: $OUT"
