"""Which liftshift commands work on an AWS emulator: each command of stacks/hello (no load balancer) and
stacks/fleet (one) run through the real CLI, in a subprocess, against the emulator, with its exit code,
time and the first line of its error. Prints a Markdown table; asserts nothing.

    python benchmarks/emulators.py --moto                      # a moto server it starts itself
    python benchmarks/emulators.py --endpoint http://127.0.0.1:4566 [--dynamodb-endpoint URL]

The second form is for an emulator started by hand, e.g. LocalStack's free edition (not part of the test suite:
see README, "Settings for emulators", for how it was started and what was measured). `--dynamodb-endpoint`
sends only DynamoDB to another endpoint (AWS_ENDPOINT_URL_DYNAMODB), e.g. a DynamoDB Local. Images go to
Debian's docker-registry, started on a free loopback port (LIFTSHIFT_REGISTRY); a fleet's probe "through the
load balancer" goes to a local HTTP server answering 200 (LIFTSHIFT_LB_ENDPOINT), as emulators have no data
plane. Needs dockerd, /usr/bin/docker-registry and the busybox:1.36 image (scripts/make-busybox-image.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulated import emulated, free_port, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [("validate",), ("plan",), ("render",), ("deploy",), ("status",), ("history",), ("change+deploy",),
            ("rollback",), ("unlock",), ("destroy", "--yes"), ("status after destroy",)]


def main() -> None:
    parser = argparse.ArgumentParser()
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--moto", action="store_true", help="start a moto server and use it")
    where.add_argument("--endpoint", help="AWS_ENDPOINT_URL of an emulator already running")
    parser.add_argument("--dynamodb-endpoint", help="AWS_ENDPOINT_URL_DYNAMODB (e.g. a DynamoDB Local)")
    parser.add_argument("--stacks", default="hello,fleet")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per command")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="liftshift-emulators-"))
    try:
        with emulated(work) as (moto_endpoint, registry), _answering() as lb:
            env = dict(os.environ, LIFTSHIFT_LB_ENDPOINT=lb, AWS_MAX_ATTEMPTS="2",
                       AWS_ENDPOINT_URL=moto_endpoint if args.moto else args.endpoint)
            if args.dynamodb_endpoint:
                env["AWS_ENDPOINT_URL_DYNAMODB"] = args.dynamodb_endpoint
            print(f"endpoint {env['AWS_ENDPOINT_URL']}, dynamodb {env.get('AWS_ENDPOINT_URL_DYNAMODB', 'same')}, "
                  f"registry {registry}\n")
            print("| stack | command | exit | seconds | first error line |\n| --- | --- | --- | --- | --- |")
            for name in args.stacks.split(","):
                run_stack(name, work, env, args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_stack(name: str, work: Path, env: dict, timeout: float) -> None:
    stack = f"m{uuid.uuid4().hex[:7]}"
    directory = work / stack
    shutil.copytree(ROOT / "stacks" / name, directory)
    app_yaml = directory / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace(f"name: {name}", f"name: {stack}"))
    page = directory / "site" / "index.html"
    for command in COMMANDS:
        argv = list(command)
        if command[0] == "change+deploy":
            page.write_text(page.read_text() + "<p>changed</p>\n")
            argv = ["deploy"]
        if command[0] == "status after destroy":
            argv = ["status"]
        started = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "liftshift.cli", argv[0], str(app_yaml), *argv[1:]],
                                  env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
            code, err = done.returncode, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, err = "timeout", (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) \
                else (exc.stderr or "")
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        first = (errors[0] if errors else (err.strip().splitlines() or [""])[-1] if code != 0 else "")[:220]
        print(f"| {name} | {command[0]} | {code} | {time.monotonic() - started:.1f} | {first.replace('|', '/')} |",
              flush=True)
    _untag(f"{env['LIFTSHIFT_REGISTRY']}/{stack}/")


def _untag(prefix: str) -> None:
    """Remove the tags the runs gave local images (the images themselves stay cached)."""
    import docker

    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(prefix):
                client.images.remove(tag)


@contextlib.contextmanager
def _answering():
    """A local HTTP server answering 200: the probe's stand-in for a load balancer's data plane."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_http(f"http://127.0.0.1:{server.server_address[1]}/")
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
