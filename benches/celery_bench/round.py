#!/usr/bin/env python3
"""One line about one Celery run (the JSON line on stdin), for the rounds' progress."""
import json
import sys

r = json.loads(sys.stdin.read())
print("celery: enqueue %.0f/s, drain %.0f/s (ran %s), p50 %s ms, p99 %s ms" % (
    r["enqueue_per_s"], r["drain_tasks_per_s"], r["tasks_ran"], r["latency_p50_ms"], r["latency_p99_ms"]))
