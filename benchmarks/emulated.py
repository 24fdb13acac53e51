"""The stand-ins the benchmarks run against: a moto server and Debian's docker-registry on free
loopback ports, with the environment pointing liftshift at them (AWS_ENDPOINT_URL, LIFTSHIFT_REGISTRY)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def emulated(work: Path) -> Iterator[tuple[str, str]]:
    """(moto endpoint, registry host:port), both stopped on exit."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # before the server's IAM backend starts
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per moto request
    from moto.server import ThreadedMotoServer

    moto_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    reg_port = free_port()
    (work / "registry.yml").write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {work / 'registry'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{reg_port}\n")
    registry = subprocess.Popen(["docker-registry", "serve", str(work / "registry.yml")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{reg_port}/v2/")
        os.environ.update({
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_MAX_ATTEMPTS": "1", "LIFTSHIFT_REGISTRY": f"127.0.0.1:{reg_port}",
        })
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_RETRY_MODE"):
            os.environ.pop(var, None)
        yield f"http://127.0.0.1:{moto_port}", f"127.0.0.1:{reg_port}"
    finally:
        registry.terminate()
        registry.wait()
        server.stop()
        _untag(f"127.0.0.1:{reg_port}")


def _untag(registry: str) -> None:
    """Remove the local tags made for pushes to `registry`: it is gone with this run, so they would only pile up
    (the images themselves stay, shared with other tags or cleaned up by Docker's own prune)."""
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env()
        for image in client.images.list():
            for tag in image.tags:
                if tag.startswith(registry + "/"):
                    with contextlib.suppress(Exception):
                        client.images.remove(tag, noprune=True)
