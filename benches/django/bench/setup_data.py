"""Run with `manage.py shell -c`-like: seeds 10,000 rows (every second active) and a user with
a logged-in session; prints the session key."""
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore

from bench.models import MyModel


def run():
    MyModel.objects.all().delete()
    MyModel.objects.bulk_create(
        [MyModel(name=f"row {i}", active=i % 2 == 0) for i in range(10_000)], batch_size=1_000
    )
    User = get_user_model()
    user, _ = User.objects.get_or_create(username="bench")
    user.set_password("bench-password")
    user.save()
    # What django.contrib.auth.login stores in the session.
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    print(session.session_key)
