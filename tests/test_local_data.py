"""Data volumes in the local rehearsal: a Docker named volume stands in for the EBS volume. A file written into the
container's data path is still served after a redeploy that replaces the stand-in and its container; a plain
destroy keeps the volume and says so; destroy --delete-data removes it."""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
from pathlib import Path

import docker.errors
import pytest

from support.local import run_local, stack_containers
from support.registry import free_port

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"


def write_stack(directory: Path, stack: str, port: int, greeting: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HELLO / "Dockerfile", directory / "Dockerfile")
    if not (directory / "site").exists():
        shutil.copytree(HELLO / "site", directory / "site")
    doc = {"version": 1, "name": stack, "services": {"web": {
        "build": ".", "port": 8080, "publish": port, "env": {"GREETING": greeting},
        "health": {"path": "/", "interval": 1, "timeout": 2, "retries": 3, "start_period": 0},
        "data": {"files": {"path": "/www/files", "size_gb": 1}}}}}
    (directory / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")  # JSON is YAML
    return directory / "app.yaml"


def get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def app_container(docker_client, stack: str):
    (app,) = [c for c in stack_containers(docker_client, stack) if "liftshift.host" not in c.labels]
    return app


@pytest.fixture
def data_volume(docker_client, unique):
    """The Docker volume that stands in for the test stack's EBS volume; removed afterwards whatever happens."""
    name = f"liftshift-{unique}-web-files"
    yield name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.volumes.get(name).remove(force=True)


def test_data_outlives_a_replaced_stand_in_and_goes_only_with_delete_data(local, tmp_path, unique, docker_client,
                                                                          destroyed, data_volume):
    port = free_port()
    app_yaml = write_stack(tmp_path / "s", unique, port, "one")
    destroyed.append((app_yaml, unique))
    first = run_local("deploy", str(app_yaml))
    assert first.exit_code == 0, first.output
    volume = docker_client.volumes.get(data_volume)
    assert volume.attrs["Labels"] == {"liftshift.stack": unique, "liftshift.service": "web", "liftshift.data": "files"}
    app = app_container(docker_client, unique)
    mounts = {m["Destination"]: m for m in app.attrs["Mounts"]}
    assert mounts["/www/files"]["Type"] == "volume" and mounts["/www/files"]["Name"] == data_volume
    wrote = app.exec_run(["sh", "-c", "echo kept across releases > /www/files/note.txt"])
    assert wrote.exit_code == 0, wrote.output
    assert get(port, "/files/note.txt") == (200, "kept across releases\n")

    # a changed env: a new instance, so a new stand-in host and container, and the same data
    second = run_local("deploy", str(write_stack(tmp_path / "s", unique, port, "two")), "-o", "json")
    assert second.exit_code == 0, second.output
    changes = [(c["action"], c["kind"]) for c in json.loads(second.stdout)["changes"]]
    assert ("attach", "data volume") in changes and ("create", "data volume") not in changes
    replaced = app_container(docker_client, unique)
    assert replaced.id != app.id and replaced.labels["liftshift.instance"] != app.labels["liftshift.instance"]
    assert get(port, "/files/note.txt") == (200, "kept across releases\n")

    # a plain destroy keeps the data, and says so
    kept = run_local("destroy", str(app_yaml), "--yes")
    assert kept.exit_code == 0, kept.output
    assert f"kept: data volume liftshift-{unique}-web-files" in kept.output and "--delete-data" in kept.output
    assert docker_client.volumes.get(data_volume).name == data_volume
    assert stack_containers(docker_client, unique) == []

    # destroy --delete-data: the EBS volume in the emulator and the Docker volume go
    gone = run_local("destroy", str(app_yaml), "--yes", "--delete-data", "-o", "json")
    assert gone.exit_code == 0, gone.output
    removed = json.loads(gone.stdout)["removed"]
    assert [(r["action"], r["kind"], r["name"]) for r in removed] == [
        ("delete", "data volume", f"liftshift-{unique}-web-files")]
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(data_volume)
