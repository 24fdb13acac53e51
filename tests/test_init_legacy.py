"""stacks/legacy (issue 13): an old-server app, not containerised, is containerised by `liftshift init` and
deployed with --target local unedited (but for the published port, which must be free on this machine).

The image builds on a Python base image made from this machine's own interpreter (tests/support/images.py:
nothing can be pulled here). The app answers /healthz, /add and / in the rehearsal; its SQLite file lives in
the data volume init proposed for the old server's DATA_DIR, so a redeploy that replaces the instance (and so
the container) keeps the rows.
"""

from __future__ import annotations

import shutil
import socket
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liftshift.cli.base import app
from support.images import ensure_python_image
from support.local import run_local, stack_containers

LEGACY = Path(__file__).resolve().parent.parent / "stacks" / "legacy"


@pytest.fixture(scope="session")
def python_image(docker_client) -> str:
    return ensure_python_image(docker_client)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as answer:
        return answer.read().decode()


def app_container(docker_client, stack: str):
    (found,) = [c for c in stack_containers(docker_client, stack)
                if c.labels.get("liftshift.service") == "web" and "liftshift.host" not in c.labels]
    return found


@pytest.fixture
def initialised(tmp_path, unique, python_image):
    """stacks/legacy copied to a scratch directory and containerised there by init, under a unique stack name."""
    work = tmp_path / "legacy"
    shutil.copytree(LEGACY, work, ignore=shutil.ignore_patterns("app.yaml", "Dockerfile", ".dockerignore", "data"))
    result = CliRunner().invoke(app, ["init", str(work), "--name", unique, "--base-image", python_image],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    port = free_port()
    app_yaml = work / "app.yaml"
    text = app_yaml.read_text()
    assert "    publish: 80  #" in text
    app_yaml.write_text(text.replace("    publish: 80  #", f"    publish: {port}  #", 1))
    return app_yaml, port


def test_init_containerises_the_old_server_app_and_the_rehearsal_runs_it(local, initialised, unique, docker_client,
                                                                          destroyed):
    app_yaml, port = initialised
    destroyed.append((app_yaml, unique))
    try:
        first = run_local("deploy", str(app_yaml))
        assert first.exit_code == 0, first.output

        assert get(port, "/healthz") == "ok\n"
        page = get(port, "/add?text=" + urllib.parse.quote("moved <off> the old server"))  # 303, then /
        assert "moved &lt;off&gt; the old server" in page
        assert get(port, "/count") == "1\n"
        checked = run_local("verify", str(app_yaml))  # the cutover's success test passes on what init wrote
        assert checked.exit_code == 0, checked.output

        container = app_container(docker_client, unique)
        assert container.attrs["Config"]["User"] == "10001"
        listing = container.exec_run(["ls", "-ln", "/var/lib/legacy"]).output.decode()
        assert "notes.db" in listing and " 10001 " in listing  # in the data volume, written by the app's user
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts["/var/lib/legacy"]["Type"] == "volume"

        # a change that replaces the instance (and so the container): the notes come along in the volume
        text = app_yaml.read_text()
        app_yaml.write_text(text.replace("      DATA_DIR: /var/lib/legacy", "      DATA_DIR: /var/lib/legacy\n"
                                                                          "      NOTES_RELEASE: \"2\"", 1))
        second = run_local("deploy", str(app_yaml))
        assert second.exit_code == 0, second.output
        assert app_container(docker_client, unique).id != container.id
        assert get(port, "/count") == "1\n"
        assert "moved &lt;off&gt; the old server" in get(port, "/")

        # a second deploy with no change changes nothing
        kept = app_container(docker_client, unique).id
        third = run_local("deploy", str(app_yaml))
        assert third.exit_code == 0, third.output
        assert app_container(docker_client, unique).id == kept
        assert get(port, "/count") == "1\n"
    finally:
        run_local("destroy", str(app_yaml), "--yes", "--delete-data")
    deadline = time.monotonic() + 30
    while [v for v in docker_client.volumes.list() if unique in v.name] and time.monotonic() < deadline:
        time.sleep(1)
    assert not [v for v in docker_client.volumes.list() if unique in v.name]


def test_the_local_python_image_runs_the_standard_library(docker_client, python_image):
    """The base image carries what the legacy app imports (sqlite3, wsgiref) and a shell for health checks."""
    script = ("import sqlite3, wsgiref.simple_server, urllib.request, json, ssl; "
              "print(sqlite3.connect(':memory:').execute('select 41+1').fetchone()[0])")
    out = docker_client.containers.run(python_image, ["sh", "-c", f"python -c \"{script}\" && which nc"],
                                       remove=True)
    assert out.decode().split() == ["42", "/bin/nc"]
