"""Django's side of canter-accounts' interop test: Django 5.2 configured in-process on the
database canter uses (an SQLite file, or a PostgreSQL schema), the same SECRET_KEY.

Reads one JSON object on stdin: {"db": ..., "secret_key": ..., "steps": [...]} and prints one
JSON object with each step's result. Steps:
  check_password {password, encoded}        -> bool
  make_password {password}                  -> encoded (Django's default hasher)
  load_session {key}                        -> the session's data, as Django's SessionStore reads it
  session_user {key}                        -> get_user(request).username, or None
  login_session {username}                  -> a new session key, logged in by django.contrib.auth.login
  sign_cookie {name, value, salt}           -> response.set_signed_cookie's value
  unsign_cookie {name, signed, salt}        -> request.get_signed_cookie's value, or None
"""
import json
import sys
from urllib.parse import urlparse, parse_qs, unquote

import django
from django.conf import settings


def database(url):
    if url.startswith("sqlite://"):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url[len("sqlite://"):]}
    parsed = urlparse(url)
    options = {}
    query = parse_qs(parsed.query)
    if "options" in query:
        options["options"] = unquote(query["options"][0])
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parsed.path.lstrip("/"),
        "USER": parsed.username or "",
        "PASSWORD": parsed.password or "",
        "HOST": parsed.hostname or "",
        "PORT": parsed.port or "",
        "OPTIONS": options,
    }


def main():
    request = json.load(sys.stdin)
    settings.configure(
        SECRET_KEY=request["secret_key"],
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
        DATABASES={"default": database(request["db"])},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    )
    django.setup()
    from django.contrib.auth import get_user, get_user_model, login
    from django.contrib.auth.hashers import check_password, make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpRequest

    results = []
    for step in request["steps"]:
        kind = step["step"]
        if kind == "check_password":
            results.append(check_password(step["password"], step["encoded"]))
        elif kind == "make_password":
            results.append(make_password(step["password"]))
        elif kind == "load_session":
            results.append(dict(SessionStore(session_key=step["key"]).load()))
        elif kind == "session_user":
            http = HttpRequest()
            http.session = SessionStore(session_key=step["key"])
            user = get_user(http)
            results.append(user.get_username() if user.is_authenticated else None)
        elif kind == "sign_cookie":
            from django.http import HttpResponse
            response = HttpResponse()
            response.set_signed_cookie(step["name"], step["value"], salt=step["salt"])
            results.append(response.cookies[step["name"]].value)
        elif kind == "unsign_cookie":
            http = HttpRequest()
            http.COOKIES[step["name"]] = step["signed"]
            results.append(http.get_signed_cookie(step["name"], default=None, salt=step["salt"]))
        elif kind == "login_session":
            http = HttpRequest()
            http.session = SessionStore()
            http.META["CSRF_COOKIE"] = None
            user = get_user_model().objects.get(username=step["username"])
            login(http, user)
            http.session.save()
            results.append(http.session.session_key)
        else:
            raise SystemExit(f"unknown step {kind}")
    print(json.dumps({"results": results}))


main()
