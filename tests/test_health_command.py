"""The local rehearsal with a container health command (health.command, issue 12): a service that does not
speak HTTP is healthy when Docker says its command passes, and a deploy whose command never passes exits 3."""

from __future__ import annotations

import json
from pathlib import Path

from support.local import run_local, stack_containers
from support.registry import free_port

# Listens on nothing: only its health command can tell it is ready.
DOCKERFILE = 'FROM busybox:1.36\nCMD ["sh", "-c", "touch /tmp/ready; exec sleep 3600"]\n'


def write_stack(tmp_path: Path, stack: str, health: str) -> Path:
    (tmp_path / "worker").mkdir(parents=True)
    (tmp_path / "worker" / "Dockerfile").write_text(DOCKERFILE)
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(f"version: 1\nname: {stack}\nservices:\n  worker:\n    build: ./worker\n    port: 6379\n"
                        f"    publish: {free_port()}\n    health: {health}\n")
    return app_yaml


def app_containers(docker_client, stack: str) -> list:
    return [c for c in stack_containers(docker_client, stack) if "liftshift.host" not in c.labels]


def test_a_passing_health_command_deploys_and_the_container_reports_healthy(local, tmp_path, unique, docker_client,
                                                                            destroyed):
    app_yaml = write_stack(tmp_path, unique, "{command: [test, -f, /tmp/ready], interval: 1, timeout: 2, "
                                             "retries: 2, start_period: 0}")
    destroyed.append((app_yaml, unique))
    result = run_local("deploy", str(app_yaml))
    assert result.exit_code == 0, result.output
    (app,) = app_containers(docker_client, unique)
    app.reload()
    assert app.attrs["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f /tmp/ready"]
    assert app.attrs["State"]["Health"]["Status"] == "healthy"

    # an in-place update of the same instance waits for the new container's health status too
    app_yaml.write_text(app_yaml.read_text() + "    rollout: {strategy: in-place, timeout: 30}\n")
    (tmp_path / "worker" / "Dockerfile").write_text(DOCKERFILE.replace("/tmp/ready;", "/tmp/ready /tmp/second;"))
    second = run_local("deploy", str(app_yaml), "-o", "json")
    assert second.exit_code == 0, second.output
    assert [c["kind"] for c in json.loads(second.stdout)["changes"]].count("instance in place") == 1
    (updated,) = app_containers(docker_client, unique)
    assert updated.id != app.id and updated.attrs["State"]["Health"]["Status"] == "healthy"
    assert updated.labels["liftshift.instance"] == app.labels["liftshift.instance"]

    # a release whose command fails in place: unhealthy, so the previous release is put back
    app_yaml.write_text(app_yaml.read_text().replace("[test, -f, /tmp/ready]", "[test, -f, /tmp/never]"))
    third = run_local("deploy", str(app_yaml))
    assert third.exit_code == 3, third.output
    assert "failed in place" in third.output and "unhealthy" in third.output
    (back,) = app_containers(docker_client, unique)
    assert back.labels["liftshift.config"] == updated.labels["liftshift.config"]
    assert back.attrs["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f /tmp/ready"]


def test_a_health_command_that_never_passes_exits_3(local, tmp_path, unique, docker_client, destroyed):
    app_yaml = write_stack(tmp_path, unique, "{command: 'test -f /tmp/never', interval: 1, timeout: 2, retries: 1, "
                                             "start_period: 0}")
    destroyed.append((app_yaml, unique))
    result = run_local("deploy", str(app_yaml))
    assert result.exit_code == 3, result.output
    assert "not healthy" in result.stderr and "its health command failed" in result.stderr
    (app,) = app_containers(docker_client, unique)
    assert app.attrs["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "test -f /tmp/never"]
