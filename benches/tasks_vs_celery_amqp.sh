#!/usr/bin/env bash
# Tasks on RabbitMQ: canter's AMQP transport against Celery 5 (prefork, 2 processes) on the same
# RabbitMQ, each run on a vhost of its own made here (rabbitmqctl) and deleted at the end, in one
# run, for ratios. ~3 min.
#
#   bash benches/tasks_vs_celery_amqp.sh
#
# Rounds alternate: canter (`cargo bench -p canter-tasks --features amqp --bench tasks_amqp`,
# itself 3 runs, medians) then Celery (benches/celery_bench/bench.py: 10,000 no-op tasks enqueued,
# drained by a prefork -c2 worker told to go with add_consumer, enqueue->start latency), ROUNDS
# times; the medians of each side and their ratios are printed at the end.
#
# Knobs: ROUNDS=3; AMQP_SERVER (default amqp://guest:guest@127.0.0.1:5672); CANTER_BENCH_REDIS_URL
# (default redis://127.0.0.1:6379/14: latency stamps, and canter's coordination records under a
# prefix of their own); PYTHON (a Python with celery[redis]; default: target/interop-venv, made
# as .ci/run makes it, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/celery_bench/common.sh
AMQP_SERVER=${AMQP_SERVER:-amqp://guest:guest@127.0.0.1:5672}
VHOST=canter-bench-$$-$RANDOM
USER_NAME=$(echo "$AMQP_SERVER" | sed -E 's#^amqps?://([^:@/]*).*#\1#')
rabbitmqctl add_vhost "$VHOST" >/dev/null
trap 'rabbitmqctl delete_vhost "$VHOST" >/dev/null' EXIT
rabbitmqctl set_permissions -p "$VHOST" "${USER_NAME:-guest}" ".*" ".*" ".*" >/dev/null
export CANTER_BENCH_AMQP_URL=$AMQP_SERVER/$VHOST CELERY_BROKER_URL=$AMQP_SERVER/$VHOST
OUT=$ROOT/benches/results/tasks-amqp-$(date +%Y%m%d-%H%M%S).tmp
celery_rounds "$OUT" amqp tasks_amqp
