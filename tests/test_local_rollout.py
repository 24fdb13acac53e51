"""End to end with --target local: blue-green releases behind the load-balancer stand-in.

Real containers answer through 127.0.0.1:<listener port>; a thread sends requests
throughout each rollout and every answer is kept, so "no failed request" and
"old response, then new" are asserted on what a client really saw.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from support.lb import Traffic
from support.local import run_local, stack_containers
from support.registry import free_port

FLEET = Path(__file__).resolve().parent.parent / "stacks" / "fleet"


@pytest.fixture
def fleet(local, tmp_path, unique, destroyed):
    target = tmp_path / "fleet"
    shutil.copytree(FLEET, target)
    app_yaml = target / "app.yaml"
    port = free_port()
    text = app_yaml.read_text().replace("name: fleet", f"name: {unique}")
    text = re.sub(r"^(\s{6})port: \d+", rf"\g<1>port: {port}", text, flags=re.M)
    app_yaml.write_text(text)
    destroyed.append((app_yaml, unique))
    return app_yaml, port


def page(app_yaml: Path, text: str) -> None:
    (app_yaml.parent / "site" / "index.html").write_text(text + "\n")


def test_switch_failed_release_and_rollback_as_a_client_sees_them(fleet, local, unique, docker_client):
    app_yaml, port = fleet
    first = run_local("deploy", str(app_yaml), "--output", "json")
    assert first.exit_code == 0, first.output

    # 1. blue-green: no failed request, old answer then new
    page(app_yaml, "release two")
    with Traffic(port) as traffic:
        second = run_local("deploy", str(app_yaml), "--output", "json")
    assert second.exit_code == 0, second.output
    assert traffic.failures == []
    assert traffic.switches() == ["release one", "release two"], traffic.switches()
    # the old release was deregistered, drained (the stand-in's requests in flight), then removed
    assert [(c["action"], c["kind"]) for c in json.loads(second.stdout)["changes"] if c["kind"] in (
        "switch", "drain", "auto scaling group", "target group")][-5:] == [
        ("wait", "switch"), ("update", "auto scaling group"), ("wait", "drain"), ("delete", "auto scaling group"),
        ("delete", "target group")]
    report = json.loads(second.stdout)["services"]["web"]
    assert report["load_balancer"]["release"] == 2 and len(report["instances"]) == 2

    # 2. a release whose health check fails: exit 3, why, and the old answer all along, also for a client
    # guessing the pending release's header (its probe route matches an unguessable value, not "3")
    (app_yaml.parent / "site" / "healthz").unlink()
    page(app_yaml, "release three")
    with Traffic(port) as traffic, Traffic(port, {"X-Liftshift-Release": "3"}) as guessing:
        third = run_local("deploy", str(app_yaml))
    assert third.exit_code == 3, third.output
    assert "web #3" in third.output and "[404]" in third.output and "keeps serving" in third.output
    assert traffic.failures == [] and traffic.switches() == ["release two"]
    assert guessing.requests > 50 and guessing.failures == [] and guessing.switches() == ["release two"]

    # 3. rollback: the previous release that served (#1), through the same gate
    with Traffic(port) as traffic:
        back = run_local("rollback", str(app_yaml))
    assert back.exit_code == 0, back.output
    assert traffic.failures == [] and traffic.switches() == ["release two", "release one"]

    made = json.loads(run_local("history", str(app_yaml), "--output", "json").stdout)["services"]["web"]
    assert [(r["number"], r["outcome"], r["serving"]) for r in made] == [
        (3, "failed", False), (2, "rolled back", False), (1, "live", True)]
    # the stand-in hosts are exactly the serving release's two instances
    hosts = [c for c in stack_containers(docker_client, unique) if "liftshift.host" in c.labels]
    assert len(hosts) == 2
    for host in hosts:  # the user-data (env values, secret names) is root's only, as on EC2
        assert host.get_archive("/var/lib/liftshift")[1]["mode"] & 0o777 == 0o700
        assert host.get_archive("/var/lib/liftshift/user-data")[1]["mode"] & 0o077 == 0
