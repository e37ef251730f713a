"""The Celery side of benches/tasks_vs_celery.sh (Redis) and benches/tasks_vs_celery_amqp.sh
(RabbitMQ): a no-op task and one that stamps when it started, on the broker in
CELERY_BROKER_URL; stamps go to the Redis list in CELERY_STAMPS (`redis://…#key`). No result
backend (results ignored, as canter's side)."""
import os
import time

import redis
from celery import Celery

BROKER = os.environ["CELERY_BROKER_URL"]
STAMPS_URL, STAMPS_KEY = os.environ["CELERY_STAMPS"].split("#", 1)

app = Celery("celerybench", broker=BROKER)
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)

_stamps = None


@app.task(name="bench.noop")
def noop():
    return None


@app.task(name="bench.stamp")
def stamp(sent_ns):
    started = time.time_ns()
    global _stamps
    if _stamps is None:
        _stamps = redis.Redis.from_url(STAMPS_URL)
    _stamps.rpush(STAMPS_KEY, f"{sent_ns} {started}")
