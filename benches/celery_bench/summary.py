#!/usr/bin/env python3
"""Medians and ratios of one tasks_vs_celery*.sh run: canter's `median:` lines (canter.txt) and
Celery's JSON lines (celery.jsonl) in the run's folder, given as the only argument."""
import json
import re
import statistics
import sys


def canter_medians(path):
    lines = [line for line in open(path) if line.startswith("median:")]

    def num(pattern, line):
        return float(re.search(pattern, line).group(1))

    return len(lines), {
        "enqueue": statistics.median(num(r"enqueue (\d+)/s", line) for line in lines),
        "drain": statistics.median(num(r"drain (\d+)/s", line) for line in lines),
        "p50": statistics.median(num(r"p50 ([\d.]+) ms", line) for line in lines),
        "p99": statistics.median(num(r"p99 ([\d.]+) ms", line) for line in lines),
    }


def celery_medians(path):
    runs = [json.loads(line) for line in open(path)]
    return len(runs), {
        "enqueue": statistics.median(r["enqueue_per_s"] for r in runs),
        "drain": statistics.median(r["drain_tasks_per_s"] for r in runs),
        "p50": statistics.median(r["latency_p50_ms"] for r in runs),
        "p99": statistics.median(r["latency_p99_ms"] for r in runs),
    }


def main(out):
    nc, c = canter_medians(f"{out}/canter.txt")
    np, p = celery_medians(f"{out}/celery.jsonl")
    print(f"medians of {nc} canter rounds and {np} Celery runs:")
    for key in ("enqueue", "drain"):
        print(f"  {key}: canter {c[key]:.0f}/s, Celery {p[key]:.0f}/s -> {c[key] / p[key]:.1f}x")
    print(f"  enqueue->start p50: canter {c['p50']:.2f} ms, Celery {p['p50']:.2f} ms; "
          f"p99: canter {c['p99']:.2f} ms, Celery {p['p99']:.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
