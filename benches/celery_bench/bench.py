#!/usr/bin/env python3
"""Celery 5 on Redis or RabbitMQ, measured as canter-tasks/benches/tasks_redis.rs and
tasks_amqp.rs measure canter:

  1. a prefork worker (-c 2) that listens only on an idle queue;
  2. N no-op tasks enqueued with .delay(), one after another (timed);
  3. add_consumer('celery'): the worker drains the queue; the clock stops when the queue holds
     no message (RabbitMQ: a passive queue.declare counts the ready ones; Redis: the `celery`
     list and kombu's `unacked` hash are both empty), polled every 2 ms; the worker's own
     counters say how many ran;
  4. enqueue->start latency: M sequential tasks on the idle worker, each stamping its start.

Env: CELERY_BROKER_URL (redis://… — a database of its own: it is flushed — or amqp://…/vhost), CELERY_STAMPS (redis://…#key), CELERY_N (10000),
CELERY_LAT_N (100), CELERY_CONCURRENCY (2). Prints one JSON line.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tasks import BROKER, STAMPS_KEY, STAMPS_URL, app, noop, stamp  # noqa: E402

import redis  # noqa: E402

N = int(os.environ.get("CELERY_N", "10000"))
LAT_N = int(os.environ.get("CELERY_LAT_N", "100"))
CONC = os.environ.get("CELERY_CONCURRENCY", "2")


def queued(channel, queue):
    """Messages of `queue` not yet finished with, on either transport."""
    if BROKER.startswith("redis"):
        client = channel.client
        return client.llen(queue) + client.hlen("unacked")
    return channel.queue_declare(queue=queue, passive=True).message_count


def wait_for_ping(worker):
    end = time.time() + 60
    while time.time() < end:
        if worker.poll() is not None:
            raise RuntimeError("the Celery worker exited")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("the Celery worker did not answer ping")


# Long on purpose: one benchmark run, measured step after step, as a script.
def main():
    stamps = redis.Redis.from_url(STAMPS_URL)
    if BROKER.startswith("redis"):
        redis.Redis.from_url(BROKER).flushdb()  # the run's own database: no earlier leftovers
    celery = str(Path(sys.executable).parent / "celery")
    command = [celery, "-A", "tasks", "worker", "-c", CONC, "-P", "prefork", "-Q", "bench.idle",
               "--loglevel", "warning", "-n", f"bench{os.getpid()}@%h"]
    worker = subprocess.Popen(command, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    out = {"worker": " ".join(command[1:]), "n": N}
    try:
        wait_for_ping(worker)
        time.sleep(1)
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            noop.apply_async(queue="bench.warmup")  # the producer's connection, warmed
            t0 = time.perf_counter()
            for _ in range(N):
                noop.delay()
            enqueue = time.perf_counter() - t0
            out.update(enqueue_per_s=round(N / enqueue, 1), queued=queued(channel, "celery"))

            t0 = time.perf_counter()
            app.control.add_consumer("celery", reply=True, timeout=5)
            end = time.time() + 300
            while time.time() < end and queued(channel, "celery") > 0:
                time.sleep(0.002)
            drain = time.perf_counter() - t0
        time.sleep(0.5)
        stats = app.control.inspect(timeout=2).stats() or {}
        ran = sum(v.get("total", {}).get("bench.noop", 0) for v in stats.values())
        out.update(drain_tasks_per_s=round(N / drain, 1), tasks_ran=ran)

        stamps.delete(STAMPS_KEY)
        stamp.delay(time.time_ns())
        stamps.blpop(STAMPS_KEY, timeout=10)  # warm-up, not counted
        latencies = []
        for _ in range(LAT_N):
            time.sleep(0.01)
            stamp.delay(time.time_ns())
            item = stamps.blpop(STAMPS_KEY, timeout=10)
            if item is None:
                continue
            sent, started = map(int, item[1].split())
            latencies.append((started - sent) / 1e6)
        latencies.sort()
        out.update(latency_n=len(latencies), latency_p50_ms=round(statistics.median(latencies), 3),
                   latency_p99_ms=round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3))
    finally:
        try:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(worker.pid, signal.SIGKILL)
        stamps.delete(STAMPS_KEY)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
