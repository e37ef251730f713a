# Sourced by benches/tasks_vs_celery.sh and tasks_vs_celery_amqp.sh (from the repo's root): the
# Python side from PyPI, and the rounds that alternate canter's bench with Celery's.
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
export CANTER_BENCH_REDIS_URL=${CANTER_BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}
export CELERY_STAMPS="$CANTER_BENCH_REDIS_URL#celery-bench-$$:latency"
VENV=$ROOT/target/interop-venv
if [ -z "${PYTHON:-}" ]; then
  if [ ! -x "$VENV/bin/celery" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "celery[redis]==5.5.3"
  fi
  PYTHON=$VENV/bin/python
fi

# celery_rounds OUT FEATURES BENCH: ROUNDS rounds of canter's `BENCH` (canter-tasks with the
# given features) then Celery's bench.py, raw outputs kept in OUT, medians and ratios printed.
celery_rounds() {
  local out=$1 features=${2:+--features $2} bench=$3
  mkdir -p "$out"
  # shellcheck disable=SC2086 # $features is one flag and its value, or nothing
  cargo bench -p canter-tasks $features --bench "$bench" --no-run >/dev/null 2>&1
  for round in $(seq 1 "$ROUNDS"); do
    echo "round $round: canter"
    # shellcheck disable=SC2086
    cargo bench -q -p canter-tasks $features --bench "$bench" 2>/dev/null | tee -a "$out/canter.txt" | grep median
    echo "round $round: celery"
    timeout 600 "$PYTHON" benches/celery_bench/bench.py | tee -a "$out/celery.jsonl" | "$PYTHON" benches/celery_bench/round.py
  done
  "$PYTHON" benches/celery_bench/summary.py "$out"
  echo "raw outputs: $out"
}
