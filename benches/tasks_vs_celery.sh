#!/usr/bin/env bash
# Tasks on Redis: canter's Redis broker against Celery 5 (prefork, 2 processes) on the same
# Redis, in one run, for ratios. ~2 min.
#
#   bash benches/tasks_vs_celery.sh
#
# Rounds alternate: canter (`cargo bench -p canter-tasks --bench tasks_redis`, itself 3 runs,
# medians) then Celery (benches/celery_bench/bench.py: 10,000 no-op tasks enqueued, drained by a
# prefork -c2 worker told to go with add_consumer, enqueue->start latency), ROUNDS times; the
# medians of each side and their ratios are printed at the end.
#
# Knobs: ROUNDS=3; CELERY_BROKER_URL (default redis://127.0.0.1:6379/15 — the Celery bench
# FLUSHes that database, so it must be one nothing else uses); CANTER_BENCH_REDIS_URL (default
# redis://127.0.0.1:6379/14: canter's queue under a key prefix of its own, and the latency
# stamps); PYTHON (a Python with celery[redis]; default: target/interop-venv, made as .ci/run
# makes it, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/celery_bench/common.sh
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15}
OUT=$ROOT/benches/results/tasks-$(date +%Y%m%d-%H%M%S).tmp
celery_rounds "$OUT" "" tasks_redis
