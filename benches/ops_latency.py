"""The ops dashboard's update latency under load (issue 21): event -> the page's update.

Usage: python benches/ops_latency.py BASE_URL TOKEN REDIS_URL KEY_PREFIX

Against a `demo runserver` whose broker is REDIS_URL with `global_keyprefix=KEY_PREFIX`, this
appends task events to the broker's event stream (`<prefix>canter.events`) as workers would
for TASKS_PER_S tasks a second (received, started, succeeded: three events a task), and once
a second a marker task that fails. It reads the page's own stream (`/ops/stream/`, what the
browser's EventSource gets and puts on screen as it is) and times each marker from its
`task-failed` event to the first update whose failures list shows it. Prints the achieved
load and the latency's median, p90 and max over the markers (SECONDS=20 of load).

This isolates the dashboard's side (reading events, its book, rendering, the stream): the
workers that would produce the events are not run.
"""

import json
import os
import statistics
import sys
import threading
import time
import urllib.request
import uuid

import redis

BASE, TOKEN, REDIS_URL, PREFIX = sys.argv[1:5]
RATE = int(os.environ.get("TASKS_PER_S", "1000"))
SECONDS = int(os.environ.get("SECONDS", "20"))
KEY = PREFIX + "canter.events"
TICK = 0.01

conn = redis.Redis.from_url(REDIS_URL)
sent = {}
seen = {}
lock = threading.Lock()
stop = threading.Event()


def event(kind, task_id, name, **fields):
    body = {"type": kind, "uuid": task_id, "name": name, "hostname": "load@bench",
            "timestamp": time.time(), **fields}
    return {"event": json.dumps(body)}


def load(counter):
    per_tick = RATE * TICK
    owed = 0.0
    while not stop.is_set():
        started = time.time()
        owed += per_tick
        pipe = conn.pipeline(transaction=False)
        while owed >= 1:
            owed -= 1
            task_id = str(uuid.uuid4())
            pipe.xadd(KEY, event("task-received", task_id, "bench.add", args=[1, 2],
                                 kwargs={}, queue="celery", eta=time.time()),
                      maxlen=10000, approximate=True)
            pipe.xadd(KEY, event("task-started", task_id, "bench.add"), maxlen=10000, approximate=True)
            pipe.xadd(KEY, event("task-succeeded", task_id, "bench.add", result=3, runtime=0.001),
                      maxlen=10000, approximate=True)
            counter[0] += 1
        pipe.execute()
        time.sleep(max(0.0, TICK - (time.time() - started)))


def markers():
    while not stop.is_set():
        marker = str(uuid.uuid4())
        conn.xadd(KEY, event("task-received", marker, "bench.marker", args=[], kwargs={}))
        with lock:
            sent[marker] = time.time()
        conn.xadd(KEY, event("task-failed", marker, "bench.marker", exception="Marker: timing"))
        stop.wait(1.0)


def read_stream():
    request = urllib.request.Request(BASE + "/ops/stream/", headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(request, timeout=30) as stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            if not line.startswith("data: "):
                continue
            now = time.time()
            with lock:
                for marker, at in list(sent.items()):
                    if marker not in seen and marker in line:
                        seen[marker] = now - at
            if stop.is_set():
                return


counter = [0]
reader = threading.Thread(target=read_stream, daemon=True)
reader.start()
time.sleep(1.0)
loader = threading.Thread(target=load, args=(counter,), daemon=True)
marking = threading.Thread(target=markers, daemon=True)
began = time.time()
loader.start()
marking.start()
time.sleep(SECONDS)
stop.set()
elapsed = time.time() - began
loader.join()
marking.join()
time.sleep(3.0)
with lock:
    latencies = sorted(seen.values())
    missed = len(sent) - len(seen)
print(f"load: {counter[0] / elapsed:.0f} tasks/s ({3 * counter[0] / elapsed:.0f} events/s) for {elapsed:.0f} s")
if latencies:
    p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
    print(f"latency over {len(latencies)} markers: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p90 {p90 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; not seen: {missed}")
else:
    print(f"no marker seen ({missed} sent)")
