"""Django's template engine (DTL, Django's default) rendering the benchmark page: the same 100
rows through the same inheritance. Prints the median microseconds per render of ROUNDS rounds.
Run by benches/pages_run.sh with the interop venv's Python."""
import os
import statistics
import sys
import time

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))
settings.configure(
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(HERE, "django_templates")],
        # Production's cached loader: templates compiled once.
        "OPTIONS": {"loaders": [("django.template.loaders.cached.Loader", ["django.template.loaders.filesystem.Loader"])]},
    }],
)
django.setup()
from django.template.loader import get_template  # noqa: E402

rounds, iters = int(sys.argv[1]), int(sys.argv[2])
rows = [{"id": i, "name": f"name <{i}>", "email": f"user{i}@example.com", "active": i % 3 == 0} for i in range(100)]
template = get_template("list.html")
context = {"title": "Users & friends", "rows": rows}
size = len(template.render(context))
times = []
for _ in range(rounds):
    start = time.perf_counter()
    for _ in range(iters):
        template.render(context)
    times.append((time.perf_counter() - start) / iters * 1e6)
print(f"django-dtl | {statistics.median(times):.1f} | {size}")
