"""End to end: the local rehearsal deploys every example stack for real and serves it."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import uuid
from pathlib import Path

import pytest

from support.local import run_local, stack_containers
from support.registry import free_port

STACKS = Path(__file__).resolve().parent.parent / "stacks"


def run(*args: str):
    return run_local(*args)


def get(url: str) -> tuple[int, str]:
    match = re.match(r"http://([^:/]+):(\d+)(/.*)?$", url)
    conn = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=5)
    try:
        conn.request("GET", match.group(3) or "/")
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def copy_stack(name: str, tmp_path: Path, stack: str) -> tuple[Path, dict[str, int]]:
    """A copy of stacks/NAME with a unique stack name and free publish ports; returns the ports by service."""
    target = tmp_path / name
    shutil.copytree(STACKS / name, target)
    app_yaml = target / "app.yaml"
    text = re.sub(r"^name: .*$", f"name: {stack}", app_yaml.read_text(), count=1, flags=re.M)
    ports: dict[str, int] = {}

    def new_port(match: re.Match) -> str:
        port = free_port()
        ports[str(len(ports))] = port
        return f"{match.group(1)}publish: {port}"

    text = re.sub(r"^(\s+)publish: \d+", new_port, text, flags=re.M)
    # a load balancer's listener port (nested deeper than a service's own port)
    text = re.sub(r"^(\s{6,})port: \d+", lambda m: f"{m.group(1)}port: {free_port()}", text, flags=re.M)
    app_yaml.write_text(text)
    return app_yaml, ports


# stacks/compose-app needs its secret stored first and is deployed by tests/test_compose_app.py.
@pytest.mark.parametrize("example", sorted(p.name for p in STACKS.iterdir()
                                           if (p / "app.yaml").exists() and p.name != "compose-app"))
def test_every_example_deploys_answers_and_is_destroyed(example, local, tmp_path, unique, docker_client, destroyed):
    app_yaml, _ = copy_stack(example, tmp_path, unique)
    destroyed.append((app_yaml, unique))
    result = run("deploy", str(app_yaml), "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for name, service in report["services"].items():
        assert service["instances"], name
        for instance in service["instances"]:
            status, body = get(instance["address"])
            assert status == 200 and body.strip(), (name, body)
        if service["load_balancer"]:  # and through the load-balancer stand-in
            assert service["load_balancer"]["release"] == 1
            status, body = get(service["load_balancer"]["address"])
            assert status == 200 and "release one" in body, body
    if example == "hello":
        assert "Hello from liftshift" in body
    if example == "microservices":  # web calls api at the address liftshift handed it
        web = report["services"]["web"]["instances"][0]["address"]
        status, body = get(web + "/cgi-bin/stock")
        api_port = report["services"]["api"]["instances"][0]["address"].rsplit(":", 1)[1]
        assert status == 200 and "42 widgets in stock" in body and f":{api_port}" in body, body

    gone = run("destroy", str(app_yaml), "--yes")
    assert gone.exit_code == 0, gone.output
    assert stack_containers(docker_client, unique) == []
    assert list(local.glob(f"lb.{unique}.*.json")) == []  # no load-balancer stand-in left running


def test_redeploy_changes_nothing_and_a_change_replaces_the_container(local, tmp_path, unique, docker_client, destroyed):
    app_yaml, ports = copy_stack("hello", tmp_path, unique)
    destroyed.append((app_yaml, unique))
    assert run("deploy", str(app_yaml)).exit_code == 0
    url = f"http://127.0.0.1:{ports['0']}/"
    assert "Hello from liftshift" in get(url)[1]
    before = {c.id for c in stack_containers(docker_client, unique)}

    again = run("deploy", str(app_yaml), "-o", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["changed"] is False
    assert {c.id for c in stack_containers(docker_client, unique)} == before

    (app_yaml.parent / "site" / "index.html").write_text("<h1>second release</h1>\n")
    changed = run("deploy", str(app_yaml), "-o", "json")
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.stdout)["changed"] is True
    assert "second release" in get(url)[1]
    after = {c.id for c in stack_containers(docker_client, unique)}
    assert not (after & before)  # the old host and app container are gone

    # without a load balancer a rollback also replaces the instances, from the recorded template
    back = run("rollback", str(app_yaml))
    assert back.exit_code == 0, back.output
    assert "Hello from liftshift" in get(url)[1]
    made = json.loads(run("history", str(app_yaml), "-o", "json").stdout)["services"]["web"]
    assert [(r["number"], r["outcome"], r["serving"]) for r in made] == [(2, "rolled back", False), (1, "live", True)]
    assert len([c for c in stack_containers(docker_client, unique) if c.status == "running"]) == 2

    shown = json.loads(run("status", str(app_yaml), "-o", "json").stdout)
    assert [i["address"] for i in shown["services"]["web"]["instances"]] == [url.rstrip("/")]


def test_several_instances_each_get_an_address(local, tmp_path, unique, destroyed):
    app_yaml, ports = copy_stack("hello", tmp_path, unique)
    destroyed.append((app_yaml, unique))
    app_yaml.write_text(app_yaml.read_text() + "    instances: {count: 2}\n")
    result = run("deploy", str(app_yaml), "-o", "json")
    assert result.exit_code == 0, result.output
    addresses = [i["address"] for i in json.loads(result.stdout)["services"]["web"]["instances"]]
    assert len(set(addresses)) == 2 and f"http://127.0.0.1:{ports['0']}" in addresses
    for address in addresses:
        assert "Hello from liftshift" in get(address)[1]


def test_a_busy_port_is_reported_before_anything_starts(local, tmp_path, unique, docker_client):
    app_yaml, ports = copy_stack("hello", tmp_path, unique)
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", ports["0"]))
        blocker.listen()
        result = run("deploy", str(app_yaml))
    assert result.exit_code == 2
    assert f"port {ports['0']}" in result.stderr and "already in use" in result.stderr
    assert stack_containers(docker_client, unique) == []
    assert json.loads(run("status", str(app_yaml), "-o", "json").stdout)["services"]["web"]["instances"] == []


def test_an_unhealthy_service_fails_with_exit_3_and_its_logs(local, tmp_path, unique, destroyed):
    app_yaml, _ = copy_stack("hello", tmp_path, unique)
    destroyed.append((app_yaml, unique))
    text = app_yaml.read_text().replace("health: {path: /,", "health: {path: /missing,")
    text = text.replace("retries: 3, start_period: 5", "retries: 1, start_period: 1")
    app_yaml.write_text(text)
    result = run("deploy", str(app_yaml))
    assert result.exit_code == 3, result.output
    assert "not healthy" in result.stderr and "last log lines" in result.stderr
    assert "response:404" in result.stderr  # the container log lines (busybox httpd -v) are shown


def test_no_docker_engine_is_bad_input(local, tmp_path, unique, monkeypatch):
    app_yaml, _ = copy_stack("hello", tmp_path, unique)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    result = run("deploy", str(app_yaml))
    assert result.exit_code == 2 and "Docker engine" in result.stderr


def test_render_local_shows_the_stand_in_branch(local, tmp_path, unique):
    app_yaml, _ = copy_stack("hello", tmp_path, unique)
    result = run("render", str(app_yaml))
    assert result.exit_code == 0, result.output
    assert "LIFTSHIFT_STAND_IN" in result.stdout and "docker pull" in result.stdout


def test_two_stacks_run_side_by_side_with_different_ports(local, tmp_path, docker_client, destroyed):
    first, second = "a" + uuid.uuid4().hex[:7], "b" + uuid.uuid4().hex[:7]
    one, ports_one = copy_stack("hello", tmp_path / "one", first)
    two, ports_two = copy_stack("hello", tmp_path / "two", second)
    destroyed += [(one, first), (two, second)]
    (two.parent / "site" / "index.html").write_text("<h1>the other stack</h1>\n")
    assert run("deploy", str(one)).exit_code == 0
    assert run("deploy", str(two)).exit_code == 0
    assert "Hello from liftshift" in get(f"http://127.0.0.1:{ports_one['0']}/")[1]
    assert "the other stack" in get(f"http://127.0.0.1:{ports_two['0']}/")[1]
    assert run("destroy", str(two), "--yes").exit_code == 0
    assert stack_containers(docker_client, second) == []
    assert "Hello from liftshift" in get(f"http://127.0.0.1:{ports_one['0']}/")[1]


def test_an_in_place_rollout_updates_the_same_hosts_and_restores_on_failure(local, tmp_path, unique, docker_client,
                                                                             destroyed):
    app_yaml, ports = copy_stack("hello", tmp_path, unique)
    destroyed.append((app_yaml, unique))
    app_yaml.write_text(app_yaml.read_text() + "    instances: {count: 2}\n    rollout: {strategy: in-place, timeout: 30}\n")
    first = run("deploy", str(app_yaml), "-o", "json")
    assert first.exit_code == 0, first.output
    addresses = [i["address"] for i in json.loads(first.stdout)["services"]["web"]["instances"]]
    hosts = {c.id for c in stack_containers(docker_client, unique) if "liftshift.host" in c.labels}

    (app_yaml.parent / "site" / "index.html").write_text("<h1>in place</h1>\n")
    second = run("deploy", str(app_yaml), "-o", "json")
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert [c["kind"] for c in report["changes"]].count("instance in place") == 2
    assert [i["address"] for i in report["services"]["web"]["instances"]] == addresses  # same instances
    assert {c.id for c in stack_containers(docker_client, unique) if "liftshift.host" in c.labels} == hosts
    assert all("in place" in get(a)[1] for a in addresses)

    # a release whose container cannot start: the first instance is put back, the second never touched
    dockerfile = app_yaml.parent / "Dockerfile"
    dockerfile.write_text(re.sub(r"^CMD .*$", 'CMD ["false"]', dockerfile.read_text(), flags=re.M))
    (app_yaml.parent / "site" / "index.html").write_text("<h1>broken</h1>\n")
    third = run("deploy", str(app_yaml))
    assert third.exit_code == 3, third.output
    assert "failed in place" in third.output and "keeps serving" in third.output
    assert all("in place" in get(a)[1] for a in addresses)
    made = json.loads(run("history", str(app_yaml), "-o", "json").stdout)["services"]["web"]
    assert [(r["number"], r["outcome"], r["serving"]) for r in made] == [
        (3, "failed", False), (2, "live", True), (1, "retired", False)]
