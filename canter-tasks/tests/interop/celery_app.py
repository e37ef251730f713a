"""The Python side of the Celery interop tests (tests/all/celery_*.rs): a Celery app on the
Redis broker and result backend under the test's key prefix (or, with CANTER_AMQP, on that
RabbitMQ vhost with results in the Redis backend), with tasks a Python worker runs, and
producers that send canter's `demo.add` by name.

Environment: CANTER_REDIS (the Redis URL), CANTER_PREFIX (kombu's global_keyprefix) and
optionally CANTER_AMQP (a RabbitMQ URL: the broker).
"""
import os
import sys

from celery import Celery

URL = os.environ["CANTER_REDIS"]
PREFIX = os.environ["CANTER_PREFIX"]
AMQP = os.environ.get("CANTER_AMQP")

app = Celery("interop", broker=AMQP or URL, backend=URL)
app.conf.update(
    broker_transport_options={} if AMQP else {"global_keyprefix": PREFIX, "visibility_timeout": 3600},
    result_backend_transport_options={"global_keyprefix": PREFIX},
    broker_connection_retry_on_startup=True,
    task_queue_max_priority=int(os.environ["CANTER_MAX_PRIORITY"]) if "CANTER_MAX_PRIORITY" in os.environ else None,
    worker_hijack_root_logger=False,
)


@app.task(name="py.mul")
def mul(a, b):
    return a * b


@app.task(name="py.sum")
def total(values):
    return sum(values)


@app.task(name="py.fail")
def fail():
    raise ValueError("boom")


def send_add():
    """A Python producer: canter's `demo.add` by name, on the default queue; prints the result."""
    result = app.send_task("demo.add", (2, 3))
    print(result.get(timeout=30), flush=True)


def send_kwargs():
    """canter's `demo.add` with keyword arguments: by name, mixed, and a call that does not fit
    (its TypeError rebuilt here from canter's FAILURE); prints one line each."""
    print(app.send_task("demo.add", kwargs={"a": 2, "b": 3}).get(timeout=30), flush=True)
    print(app.send_task("demo.add", (20,), {"b": 3}).get(timeout=30), flush=True)
    try:
        app.send_task("demo.add", kwargs={"a": 1, "c": 2}).get(timeout=30)
    except Exception as e:  # noqa: BLE001 - the rebuilt exception is what is checked
        print(f"{type(e).__name__}: {e}", flush=True)


def send_chord():
    """A chord with a Python member (queue `python`) and a canter one (queue `rust`), its
    callback canter's `interop.total` (queue `rust`); prints the callback's result."""
    from celery import chord

    members = [
        app.signature("py.mul", (2, 3), queue="python"),
        app.signature("demo.add", (1, 1), queue="rust"),
    ]
    callback = app.signature("interop.total", queue="rust")
    print(chord(members)(callback).get(timeout=30), flush=True)


def send_priorities():
    """canter's `interop.record` on queue `prio` with AMQP priorities 0, 9 and 5 (RabbitMQ: the
    higher first), not waiting."""
    for label, priority in [("py-0", 0), ("py-9", 9), ("py-5", 5)]:
        app.send_task("interop.record", (label,), queue="prio", priority=priority)


def send_linked():
    """canter's `demo.add` on queue `rust`, linked to Python's `py.mul` on queue `python`: canter's
    worker reads the callback from the message's embed and sends it; prints the callback's
    result."""
    callback = app.signature("py.mul", (10,), queue="python").set(task_id="linked-" + PREFIX)
    app.send_task("demo.add", (2, 3), queue="rust", link=callback)
    print(app.AsyncResult("linked-" + PREFIX).get(timeout=30), flush=True)


if __name__ == "__main__":
    {
        "send_add": send_add,
        "send_chord": send_chord,
        "send_kwargs": send_kwargs,
        "send_linked": send_linked,
        "send_priorities": send_priorities,
    }[sys.argv[1]]()
