"""`liftshift verify`: the checks a migration runbook names, exit 0 or 3 naming each failed one.

Pure: the internal-service check on crafted observed groups and the text. On moto (server mode, after real
deploys): an internal service's group admits only the stack's groups and its data volume is attached, while
the public service's instance address does not answer (moto runs nothing: exit 3 naming it); a service
behind a load balancer answers through it (LIFTSHIFT_LB_ENDPOINT stands in for the ALB's data plane), and a
failing answer is exit 3. In the local rehearsal: everything passes, an internal service does not answer on
127.0.0.1, a stopped container fails; and a cutover there sets the records in the emulator and says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
from typer.testing import CliRunner

from liftshift import report
from liftshift.cli.base import app
from liftshift.model.observed import Observed, ObservedGroup
from liftshift.pipeline.verify import VerifyFailed, _internal_group
from liftshift.spec.load import load_spec
from support.local import run_local, stack_containers
from support.registry import free_port

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "stacks" / "hello"


def group(gid: str, service: str, ingress) -> ObservedGroup:
    return ObservedGroup(id=gid, name=gid, service=service, vpc_id="vpc-1", ingress=set(ingress), other_rules=[])


def test_the_internal_check_accepts_only_the_stacks_groups():
    ok = Observed(groups={"app": group("sg-a", "app", {(80, "0.0.0.0/0")}), "db": group("sg-d", "db", {(5432, "sg-a")})})
    assert _internal_group("db", None, ok)["ok"] and "(app)" in _internal_group("db", None, ok)["detail"]
    cidr = Observed(groups={"db": group("sg-d", "db", {(5432, "10.0.0.0/8")})})
    assert not _internal_group("db", None, cidr)["ok"] and "10.0.0.0/8" in _internal_group("db", None, cidr)["detail"]
    foreign = Observed(groups={"db": group("sg-d", "db", {(5432, "sg-other")})})
    assert "not of this stack" in _internal_group("db", None, foreign)["detail"]


def test_the_text_has_one_line_per_check_and_the_error_names_each_failure():
    data = {"stack": "s", "region": "eu-west-1", "target": "aws", "passed": False, "checks": [
        {"service": "web", "check": "health", "target": "http://1.2.3.4:80/", "ok": True, "detail": "HTTP 200"},
        {"service": "db", "check": "data volume", "target": "pg", "ok": False, "detail": "no volume"}]}
    text = report.verify_text(data)
    assert "✓ [web] health http://1.2.3.4:80/: HTTP 200" in text and "✗ [db] data volume pg: no volume" in text
    assert str(VerifyFailed(data)) == "1 of 2 check(s) of stack s failed: db: data volume pg: no volume"


def write_two_tier(directory: Path, stack: str, app_port: int, db_port: int, data: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HELLO / "Dockerfile", directory / "Dockerfile")
    shutil.copytree(HELLO / "site", directory / "site", dirs_exist_ok=True)
    health = {"path": "/", "interval": 1, "timeout": 2, "retries": 3, "start_period": 0}
    db = {"build": ".", "port": 8080, "publish": db_port, "internal": True, "health": health}
    if data:
        db["data"] = {"files": {"path": "/www/files", "size_gb": 1}}
    doc = {"version": 1, "name": stack, "services": {
        "app": {"build": ".", "port": 8080, "publish": app_port, "env": {"DB_URL": "${service.db.url}"},
                "health": health},
        "db": db}}
    (directory / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")  # JSON is YAML
    return directory / "app.yaml"


def verify_cli(app_yaml: Path, *extra: str):
    return CliRunner().invoke(app, ["verify", str(app_yaml), "-o", "json", *extra], catch_exceptions=False)


def test_on_moto_internal_and_data_pass_and_an_unanswered_instance_fails(deploy_env, tmp_path, unique):
    from liftshift.pipeline.deploy import deploy
    from liftshift.pipeline.destroy import destroy
    from liftshift.progress import Progress
    from liftshift.targets.aws import aws_target

    app_yaml = write_two_tier(tmp_path / "s", unique, free_port(), free_port())
    spec, base = load_spec(app_yaml)
    deploy(spec, base, aws_target(None, None, Progress()))
    try:
        result = verify_cli(app_yaml)
        assert result.exit_code == 3, result.output
        checks = {(c["service"], c["check"]): c for c in json.loads(result.stdout)["checks"]}
        assert checks[("db", "internal")]["ok"] and "(app)" in checks[("db", "internal")]["detail"]
        assert checks[("db", "data volume")]["ok"]
        volume = checks[("db", "data volume")]["detail"].split()[0]
        assert boto3.client("ec2", region_name="eu-west-1").describe_volumes(
            VolumeIds=[volume])["Volumes"][0]["State"] == "in-use"
        assert not checks[("app", "health")]["ok"]  # moto runs no container at the instance's address
        assert "app: health" in result.stderr and "db:" not in result.stderr
    finally:
        destroy(spec, aws_target(None, None, Progress()), keep_images=False, delete_data=True)


def test_on_moto_a_load_balanced_service_answers_through_it(deploy_env, lb_endpoint, tmp_path, unique):
    from liftshift.pipeline.deploy import deploy
    from liftshift.pipeline.destroy import destroy
    from liftshift.progress import Progress
    from liftshift.targets.aws import aws_target

    target = tmp_path / "fleet"
    shutil.copytree(ROOT / "stacks" / "fleet", target)
    app_yaml = target / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("name: fleet", f"name: {unique}"))
    spec, base = load_spec(app_yaml)
    deploy(spec, base, aws_target(None, None, Progress()))
    try:
        ok = verify_cli(app_yaml)
        assert ok.exit_code == 0, ok.output
        (check,) = json.loads(ok.stdout)["checks"]
        assert check["check"] == "health via load balancer" and check["target"].endswith("/healthz")
        lb_endpoint.status = 500
        failed = CliRunner().invoke(app, ["verify", str(app_yaml)], catch_exceptions=False)
        assert failed.exit_code == 3 and "✗ [web] health via load balancer" in failed.stdout
        assert "HTTP 500" in failed.stderr
    finally:
        lb_endpoint.status = 200
        destroy(spec, aws_target(None, None, Progress()), keep_images=False)


def test_local_rehearsal_verify_passes_internal_is_not_on_loopback_and_cutover_sets_emulated_records(
        local, tmp_path, unique, docker_client, destroyed):
    app_port, db_port = free_port(), free_port()
    app_yaml = write_two_tier(tmp_path / "s", unique, app_port, db_port, data=False)
    text = app_yaml.read_text()
    doc = json.loads(text)
    doc["services"]["app"]["dns"] = {"zone": "example.com", "name": f"{unique}.example.com", "old": "203.0.113.10"}
    app_yaml.write_text(json.dumps(doc, indent=2) + "\n")
    destroyed.append((app_yaml, unique))
    assert run_local("deploy", str(app_yaml)).exit_code == 0

    result = run_local("verify", str(app_yaml))
    assert result.exit_code == 0, result.output
    assert f"✓ [db] internal tcp://127.0.0.1:{db_port}: refused from outside the stack" in result.stdout
    assert f"✓ [app] health http://127.0.0.1:{app_port}/: HTTP 200" in result.stdout
    assert "✗" not in result.stdout

    # the rehearsal's cutover: the records are set in the emulator, and the output says nothing else changes
    moved = run_local("cutover", str(app_yaml), "--to", "10%", "--yes")
    assert moved.exit_code == 0, moved.output
    assert "nothing on the internet changes" in moved.stdout and "weight 10 (liftshift-" in moved.stdout
    again = run_local("cutover", str(app_yaml), "--to", "10%", "--yes")
    assert "no changes" in again.stdout
    assert run_local("cutover", str(app_yaml), "--back", "--yes").exit_code == 0
    listing = run_local("cutover", str(app_yaml))
    assert "203.0.113.10 ttl 300" in listing.stdout and "#2" in listing.stdout

    # a stopped container: exit 3 naming the service
    (db,) = [c for c in stack_containers(docker_client, unique)
             if c.labels.get("liftshift.service") == "db" and "liftshift.host" not in c.labels]
    db.stop(timeout=1)
    failed = run_local("verify", str(app_yaml))
    assert failed.exit_code == 3 and "✗ [db] health" in failed.stdout
