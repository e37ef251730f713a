"""The Python side of tests/all/database_results.rs: Celery with django-celery-results'
database backend (`result_backend = "django-db"`) on the test's database, reading and writing
the rows canter reads and writes.

Environment: CANTER_DB_URL (sqlite:///FILE, postgres://…[?options=-c search_path=S] or
mysql://… — MariaDB through PyMySQL). Usage: db_results.py COMMAND ARGS…
  migrate                      Django's migrate of django_celery_results (its real tables)
  read ID…                     one line per id: STATE and the result (a failure: Type: message)
  write OK_ID FAILED_ID        a SUCCESS {"x": [1, 2]} and a FAILURE ValueError("boom")
  group GROUP_ID               the chord counter's count and its members' ids
  apply_chord GROUP_ID ID…     Celery's apply_chord: a counter for these members
  send_kwargs                  canter's demo.add by name with kwargs on CANTER_AMQP (a RabbitMQ
                               vhost); prints its result, read from the database
"""
import os
import sys
from urllib.parse import parse_qs, unquote, urlparse

import django
from django.conf import settings


def database(url):
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.netloc + parts.path)}
    engine = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql"}[parts.scheme]
    if engine == "mysql":
        import pymysql

        pymysql.install_as_MySQLdb()
    config = {
        "ENGINE": f"django.db.backends.{engine}",
        "NAME": parts.path.lstrip("/"),
        "HOST": parts.hostname,
        "PORT": parts.port or "",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
    }
    options = parse_qs(parts.query).get("options")
    if options:
        config["OPTIONS"] = {"options": options[0]}
    return config


settings.configure(
    DATABASES={"default": database(os.environ["CANTER_DB_URL"])},
    INSTALLED_APPS=["django_celery_results"],
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from celery import Celery, states  # noqa: E402

app = Celery("dbresults", broker=os.environ.get("CANTER_AMQP", "memory://"), backend="django-db")


def migrate():
    from django.core.management import call_command

    call_command("migrate", "django_celery_results", verbosity=0)


def read(*ids):
    for task_id in ids:
        result = app.AsyncResult(task_id)
        value = result.result
        if isinstance(value, BaseException):
            value = f"{type(value).__name__}: {value}"
        print(result.state, value, flush=True)


def write(ok_id, failed_id):
    app.backend.store_result(ok_id, {"x": [1, 2]}, states.SUCCESS)
    app.backend.mark_as_failure(failed_id, ValueError("boom"), traceback="Traceback (most recent call last): …")


def group(group_id):
    from django_celery_results.models import ChordCounter

    counter = ChordCounter.objects.get(group_id=group_id)
    print(counter.count, " ".join(r.id for r in counter.group_result(app=app).results), flush=True)


def apply_chord(group_id, *ids):
    header = app.GroupResult(group_id, [app.AsyncResult(i) for i in ids])
    app.backend.apply_chord(header, {})


def send_kwargs():
    print(app.send_task("demo.add", kwargs={"a": 2, "b": 3}).get(timeout=30), flush=True)


if __name__ == "__main__":
    commands = {"migrate": migrate, "read": read, "write": write, "group": group, "apply_chord": apply_chord,
                "send_kwargs": send_kwargs}
    commands[sys.argv[1]](*sys.argv[2:])
