#!/usr/bin/env python3
"""Runs the Dockerfile's steps without Docker (this kind of machine has no Docker daemon), so
they are checked in CI: the build stage's `RUN cargo build ...` in this checkout, then the
runtime stage as the image would run it — the binary alone in an empty folder, the ENV lines
set, the CMD run (the bind address moved to a spare port) — until `/healthz/` answers 200, and
a SIGTERM stops it cleanly. The HEALTHCHECK's command is the one asked.

Usage: deploy/check-dockerfile.py   (from anywhere; uses target/release)"""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
text = open(os.path.join(root, "Dockerfile")).read().replace("\\\n", " ")
stages = re.split(r"^FROM ", text, flags=re.M)[1:]
if len(stages) != 2:
    sys.exit(f"expected a build stage and a runtime stage, found {len(stages)}")
build, runtime = stages


def instructions(stage, name):
    return [line[len(name) + 1:].strip() for line in stage.splitlines() if line.startswith(name + " ")]


for command in instructions(build, "RUN"):
    print(f"build stage: RUN {command}", flush=True)
    subprocess.run(command, shell=True, cwd=root, check=True)

copies = [c for c in instructions(runtime, "COPY") if c.startswith("--from=build")]
if len(copies) != 1:
    sys.exit(f"expected one COPY --from=build, found {copies}")
source, target = shlex.split(copies[0])[1:]
binary = os.path.join(root, source.replace("/src/", "", 1))
app = tempfile.mkdtemp(prefix="canter-image-")
bin_dir = os.path.join(app, "bin")
os.makedirs(bin_dir)
shutil.copy(binary, os.path.join(bin_dir, os.path.basename(target)))

env = {k: v for k, v in os.environ.items() if not k.startswith("CANTER_") and k not in ("DATABASE_URL", "REDIS_URL")}
for line in instructions(runtime, "ENV"):
    for pair in shlex.split(line):
        key, _, value = pair.partition("=")
        env[key] = value
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env["CANTER_SERVER__BIND"] = f"127.0.0.1:{port}"
env["CANTER_SECRET_KEY"] = "check-dockerfile-secret-key-not-for-use-anywhere"
env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
workdir = os.path.join(app, "app")
os.makedirs(workdir)

cmd = instructions(runtime, "CMD")
if len(cmd) != 1:
    sys.exit("expected one CMD")
import json  # noqa: E402  (the CMD is JSON's exec form)
argv = json.loads(cmd[0])
print(f"runtime stage: CMD {argv} in an empty folder, bound to 127.0.0.1:{port}", flush=True)
server = subprocess.Popen(argv, cwd=workdir, env=env)
try:
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2) as response:
                body = response.read().decode()
                if response.status == 200 and '"ok"' in body:
                    print(f"/healthz/ answered 200: {body}")
                    break
        except OSError:
            pass
        if server.poll() is not None:
            sys.exit(f"the container's command exited with {server.returncode}")
        if time.time() > deadline:
            sys.exit("no 200 from /healthz/ within 60 s")
        time.sleep(0.3)
    health = [c for c in instructions(runtime, "HEALTHCHECK") if "CMD" in c]
    if not health or "/healthz/" not in health[0]:
        sys.exit("the HEALTHCHECK does not ask /healthz/")
    for name in ("staticfiles/staticfiles.json", "demo.sqlite3"):
        if not os.path.exists(os.path.join(workdir, name)):
            sys.exit(f"the command left no {name}")
finally:
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=45)
    shutil.rmtree(app, ignore_errors=True)
if code != 0:
    sys.exit(f"the server exited with {code} on SIGTERM")
print("the Dockerfile's steps build and run: ok")
