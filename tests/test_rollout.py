"""Integration against moto: releases behind a load balancer (Auto Scaling group, target group, listener).

moto keeps the control plane faithfully but reports every target healthy and has
no data plane, so the probe through the load balancer is pointed at a real HTTP
server in the test (LIFTSHIFT_LB_ENDPOINT, documented for emulators): its answer
decides whether the gate passes. The local rehearsal (test_local_rollout.py) runs
the same rollouts with real containers behind a load-balancer stand-in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from liftshift.model import names
from liftshift.apply.gate import RolloutFailed
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.progress import Progress
from liftshift.pipeline.history import history
from liftshift.pipeline.rollback import rollback
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged

FLEET = Path(__file__).resolve().parent.parent / "stacks" / "fleet"


@pytest.fixture
def env(aws_env, registry, busybox_image, docker_client, monkeypatch, lb_endpoint):
    monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("LIFTSHIFT_DEPLOYED_BY", "ci@test")
    return registry


@pytest.fixture
def fleet_dir(tmp_path, unique, env, docker_client):
    target = tmp_path / "fleet"
    shutil.copytree(FLEET, target)
    app_yaml = target / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("name: fleet", f"name: {unique}"))
    yield target
    try:
        spec, _ = load_spec(app_yaml)
        destroy(spec, aws_target(None, None, Progress()), keep_images=False)
    finally:
        for image in docker_client.images.list():
            for tag in image.tags:
                if tag.startswith(f"{env.host}/{unique}/"):
                    docker_client.images.remove(tag)


def client(name):
    return boto3.client(name, region_name="eu-west-1")


def run_deploy(app_yaml: Path):
    spec, base = load_spec(app_yaml)
    return deploy(spec, base, aws_target(None, None, Progress()))


def fleet_state(stack: str) -> dict:
    asg = client("autoscaling").describe_auto_scaling_groups(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}])["AutoScalingGroups"]
    elbv2 = client("elbv2")
    lb = elbv2.describe_load_balancers(Names=[names.load_balancer(stack, "web")])["LoadBalancers"][0]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    rules = [r for r in elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if not r["IsDefault"]]
    groups = [tg for tg in elbv2.describe_target_groups()["TargetGroups"]
              if tg["TargetGroupName"].startswith(names.elb_stack_prefix(stack))]
    return {"asgs": asg, "lb": lb, "listener": listener, "rules": rules, "target_groups": groups}


def drops_invalid_headers(load_balancer_arn: str) -> str | None:
    attributes = client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)["Attributes"]
    return next((a["Value"] for a in attributes if a["Key"] == "routing.http.drop_invalid_header_fields.enabled"),
                None)


def recorded(stack: str) -> dict:
    """The stack's release records as stored in DynamoDB (liftshift-locks, releases/<stack>)."""
    import json

    item = client("dynamodb").get_item(TableName="liftshift-locks", Key={"stack": {"S": f"releases/{stack}"}},
                                       ConsistentRead=True)["Item"]
    return {k: json.loads(v["S"]) for k, v in item.items() if k != "stack"}


def set_page(app_dir: Path, text: str) -> None:
    (app_dir / "site" / "index.html").write_text(text + "\n")


def test_blue_green_releases_on_moto(fleet_dir, unique, lb_endpoint):
    app_yaml = fleet_dir / "app.yaml"
    spec, _ = load_spec(app_yaml)
    report = run_deploy(app_yaml)
    first = fleet_state(unique)
    (asg,) = first["asgs"]
    (tg,) = first["target_groups"]
    tags = {t["Key"]: t["Value"] for t in asg["Tags"]}
    assert tags[names.TAG_STACK] == unique and tags[names.TAG_RELEASE] == "1"
    assert asg["DesiredCapacity"] == 2 and asg["TargetGroupARNs"] == [tg["TargetGroupArn"]]
    assert asg["HealthCheckType"] == "ELB"
    assert first["listener"]["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert first["listener"]["Port"] == 8081 and first["rules"] == []
    assert drops_invalid_headers(first["lb"]["LoadBalancerArn"]) == "true"
    elb_tags = client("elbv2").describe_tags(ResourceArns=[first["lb"]["LoadBalancerArn"], tg["TargetGroupArn"]])
    assert all(names.tag_dict(d["Tags"])[names.TAG_STACK] == unique for d in elb_tags["TagDescriptions"])
    assert tg["HealthCheckPath"] == "/healthz" and tg["HealthyThresholdCount"] == 2
    # the release's launch template is the one the group launches from, immutable at version 1
    template = asg["LaunchTemplate"]["LaunchTemplateName"]
    lt = client("ec2").describe_launch_templates(LaunchTemplateNames=[template])["LaunchTemplates"][0]
    assert names.tag_dict(lt["Tags"])[names.TAG_RELEASE] == "1" and lt["LatestVersionNumber"] == 1
    instances = [i["InstanceId"] for i in asg["Instances"]]
    assert len(instances) == 2 and len(report["services"]["web"]["instances"]) == 2
    # instances accept traffic from the load balancer's security group only
    ec2 = client("ec2")
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [unique]}])["SecurityGroups"]}
    lb_group = groups[names.lb_security_group(unique, "web")]
    (rule,) = groups[names.security_group(unique, "web")]["IpPermissions"]
    assert rule["FromPort"] == 8080 and [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [lb_group["GroupId"]]
    assert rule.get("IpRanges", []) == []

    # no change: nothing happens
    again = run_deploy(app_yaml)
    assert again["changed"] is False
    # a load balancer that passes invalid header fields (an older liftshift's, or edited by hand) is converged
    client("elbv2").modify_load_balancer_attributes(LoadBalancerArn=first["lb"]["LoadBalancerArn"], Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}])
    fixed = run_deploy(app_yaml)
    assert [(c["action"], c["kind"]) for c in fixed["changes"]] == [("update", "load balancer")]
    assert drops_invalid_headers(first["lb"]["LoadBalancerArn"]) == "true"

    # a new release: only its group remains, the listener points at it
    set_page(fleet_dir, "release two")
    rolled = run_deploy(app_yaml)
    second = fleet_state(unique)
    # after the switch the old group is detached from its target group (deregistered), drained, then removed
    assert [(c["action"], c["kind"]) for c in rolled["changes"] if c["kind"] in (
        "listener", "switch", "drain", "auto scaling group", "target group")][-6:] == [
        ("update", "listener"), ("wait", "switch"), ("update", "auto scaling group"), ("wait", "drain"),
        ("delete", "auto scaling group"), ("delete", "target group")]
    (asg2,) = second["asgs"]
    (tg2,) = second["target_groups"]
    assert asg2["AutoScalingGroupName"] != asg["AutoScalingGroupName"] and tg2["TargetGroupArn"] != tg["TargetGroupArn"]
    assert second["listener"]["DefaultActions"][0]["TargetGroupArn"] == tg2["TargetGroupArn"]
    assert second["rules"] == []  # the probe route is gone
    assert {t["Key"]: t["Value"] for t in asg2["Tags"]}[names.TAG_RELEASE] == "2"

    # a release failing its probe: removed; the old group and listener stay; exit 3 semantics
    lb_endpoint.status = 500
    set_page(fleet_dir, "release three")
    with pytest.raises(RolloutFailed) as failed:
        run_deploy(app_yaml)
    assert "HTTP 500" in str(failed.value) and "previous release keeps serving" in str(failed.value)
    third = fleet_state(unique)
    assert [g["AutoScalingGroupName"] for g in third["asgs"]] == [asg2["AutoScalingGroupName"]]
    assert [t["TargetGroupArn"] for t in third["target_groups"]] == [tg2["TargetGroupArn"]]
    assert third["listener"]["DefaultActions"][0]["TargetGroupArn"] == tg2["TargetGroupArn"]
    assert third["rules"] == []

    made = history(spec, aws_target(None, None, Progress()))["services"]["web"]
    assert [(r["number"], r["outcome"], r["serving"]) for r in made] == [
        (3, "failed", False), (2, "live", True), (1, "retired", False)]
    assert made[1]["by"] == "ci@test" and made[0]["reason"].startswith("web #3")
    assert made[2]["image"].startswith("sha256:") and made[2]["image"] != made[1]["image"]

    # rollback: release 1 again (same template, same health settings), through the same gate
    lb_endpoint.status = 200
    rollback(spec, aws_target(None, None, Progress()), None, None)
    back = fleet_state(unique)
    (asg1,) = back["asgs"]
    assert asg1["LaunchTemplate"]["LaunchTemplateName"] == template
    (tg1,) = back["target_groups"]
    assert back["listener"]["DefaultActions"][0]["TargetGroupArn"] == tg1["TargetGroupArn"]
    assert tg1["HealthCheckPath"] == "/healthz"
    made = history(spec, aws_target(None, None, Progress()))["services"]["web"]
    assert [(r["number"], r["outcome"], r["serving"]) for r in made] == [
        (3, "failed", False), (2, "rolled back", False), (1, "live", True)]


def test_destroy_removes_the_fleet_and_its_history(fleet_dir, unique):
    from typer.testing import CliRunner

    from liftshift.cli.base import app

    app_yaml = fleet_dir / "app.yaml"
    run_deploy(app_yaml)
    spec, _ = load_spec(app_yaml)
    before = fleet_state(unique)
    # bad rollback requests: one message, exit 2, nothing changed
    for args, words in ((["--to", "7"], "no release #7"), ([], "no earlier release"),
                        (["--service", "nope"], "no service 'nope'"), (["--to", "1"], "#1 is already serving")):
        result = CliRunner().invoke(app, ["rollback", str(app_yaml), *args])
        assert result.exit_code == 2 and words in result.output, (args, result.output)
    after = fleet_state(unique)
    assert [g["AutoScalingGroupName"] for g in after["asgs"]] == [g["AutoScalingGroupName"] for g in before["asgs"]]
    assert after["listener"]["DefaultActions"] == before["listener"]["DefaultActions"]
    destroy(spec, aws_target(None, None, Progress()), keep_images=False)
    assert stack_tagged(unique) == {}
    assert client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert [lb for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]] == []
    assert client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert history(spec, aws_target(None, None, Progress()))["services"]["web"] == []


def test_an_interrupted_rollout_keeps_the_old_release_serving_and_converges(fleet_dir, unique, monkeypatch):
    from liftshift.apply.gate import AwsGate
    from liftshift.pipeline.prepare import prepare

    app_yaml = fleet_dir / "app.yaml"
    run_deploy(app_yaml)
    before = fleet_state(unique)
    serving = before["listener"]["DefaultActions"][0]["TargetGroupArn"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the new release is being checked

    set_page(fleet_dir, "release two")
    with monkeypatch.context() as patch:
        patch.setattr(AwsGate, "healthy", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_deploy(app_yaml)
    left = fleet_state(unique)
    assert left["listener"]["DefaultActions"][0]["TargetGroupArn"] == serving  # traffic never moved
    assert len(left["asgs"]) == 2 and len(left["rules"]) == 1  # the new release's group and probe route
    # the probe route matches the pending record's unguessable value, not "2"
    (condition,) = left["rules"][0]["Conditions"]
    probe = recorded(unique)["web/000002"]["probe"]
    assert condition["HttpHeaderConfig"]["Values"] == [probe] and len(probe) == 48 and probe != "2"
    assert recorded(unique)["web/000002"]["outcome"] == "pending"

    # the next plan says what the next deploy does: finish the same release (#2), nothing made twice
    spec, base = load_spec(app_yaml)
    planned = prepare(spec, base, aws_target(None, None, Progress()))
    assert not [s for s in planned.infra_steps if s.action == "create" and s.kind in (
        "auto scaling group", "target group", "launch template", "listener rule")]
    # ... and shows the release header by number, never its value: plan, history (-o json)
    from typer.testing import CliRunner

    from liftshift.cli.base import app

    shown = CliRunner().invoke(app, ["plan", str(app_yaml), "-o", "json"])
    assert shown.exit_code == 0, shown.output
    assert "X-Liftshift-Release: #2 (value withheld)" in shown.stdout and probe not in shown.output
    listed = CliRunner().invoke(app, ["history", str(app_yaml), "-o", "json"])
    assert listed.exit_code == 0 and '"number": 2' in listed.stdout and probe not in listed.output
    report = run_deploy(app_yaml)
    assert probe not in repr(report)
    assert [(c["action"], c["kind"], c["name"]) for c in report["changes"]] == [
        (s.action, s.kind, s.name) for s in planned.steps]
    after = fleet_state(unique)
    (asg,) = after["asgs"]
    (tg,) = after["target_groups"]
    assert after["listener"]["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"] != serving
    assert after["rules"] == [] and {t["Key"]: t["Value"] for t in asg["Tags"]}[names.TAG_RELEASE] == "2"
    tags = client("elbv2").describe_tags(ResourceArns=[tg["TargetGroupArn"], after["lb"]["LoadBalancerArn"]])
    assert probe not in str(asg["Tags"]) + str(tags["TagDescriptions"])
    assert recorded(unique)["web/000002"]["probe"] is None  # kept while pending only: its route is gone
    made = history(spec, aws_target(None, None, Progress()))["services"]["web"]
    assert [(r["number"], r["outcome"]) for r in made] == [(2, "live"), (1, "retired")]


def test_a_run_stopped_while_the_old_release_drains_is_finished_by_the_next(fleet_dir, unique, monkeypatch):
    from liftshift.apply.gate import AwsGate

    app_yaml = fleet_dir / "app.yaml"
    run_deploy(app_yaml)
    (old_asg,) = fleet_state(unique)["asgs"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C (or a kill) while the old release drains

    set_page(fleet_dir, "release two")
    with monkeypatch.context() as patch:
        patch.setattr(AwsGate, "drain", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_deploy(app_yaml)
    left = fleet_state(unique)
    new_tg = left["listener"]["DefaultActions"][0]["TargetGroupArn"]
    old = next(g for g in left["asgs"] if g["AutoScalingGroupName"] == old_asg["AutoScalingGroupName"])
    assert len(left["asgs"]) == 2 and len(left["target_groups"]) == 2 and new_tg != old_asg["TargetGroupARNs"][0]
    assert old["TargetGroupARNs"] == []  # detached: its instances were deregistered, still running

    # the next deploy waits for the drain again (no second detach) and removes the old release
    report = run_deploy(app_yaml)
    assert [(c["action"], c["kind"]) for c in report["changes"]] == [
        ("wait", "switch"), ("wait", "drain"), ("delete", "auto scaling group"), ("delete", "target group")]
    after = fleet_state(unique)
    (asg,) = after["asgs"]
    (tg,) = after["target_groups"]
    assert tg["TargetGroupArn"] == new_tg == after["listener"]["DefaultActions"][0]["TargetGroupArn"]
    assert asg["TargetGroupARNs"] == [new_tg] and run_deploy(app_yaml)["changed"] is False


# (call, when): the call fails before it is sent, or AWS applies it and the answer is lost. A sample over
# every phase of a rollout: making the release, the probe route, the switch, its record, the drain, the removal.
ROLLOUT_FAULTS = [
    ("elbv2:CreateTargetGroup", "after"), ("autoscaling:CreateAutoScalingGroup", "after"),
    ("elbv2:CreateRule", "after"), ("elbv2:ModifyListener", "after"), ("elbv2:ModifyListener", "before"),
    ("dynamodb:UpdateItem", "after"), ("autoscaling:DetachLoadBalancerTargetGroups", "after"),
    ("autoscaling:DeleteAutoScalingGroup", "before"), ("elbv2:DeleteTargetGroup", "after"),
]


def test_a_rollout_failing_at_any_call_converges_on_the_next_deploy(fleet_dir, unique):
    from liftshift.apply.executor import StepFailed
    from support.faults import FaultInjector

    app_yaml = fleet_dir / "app.yaml"
    spec, _ = load_spec(app_yaml)
    run_deploy(app_yaml)
    for n, (call, when) in enumerate(ROLLOUT_FAULTS, start=2):
        set_page(fleet_dir, f"release {n}")
        injector = FaultInjector(fail_operation=call, when=when)
        with injector.install():
            with pytest.raises(StepFailed):
                run_deploy(app_yaml)
        assert injector.injected == [call], (call, when)
        run_deploy(app_yaml)
        state = fleet_state(unique)
        (asg,) = state["asgs"]
        (tg,) = state["target_groups"]
        assert state["listener"]["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"], (call, when)
        assert asg["TargetGroupARNs"] == [tg["TargetGroupArn"]] and state["rules"] == [], (call, when)
        made = history(spec, aws_target(None, None, Progress()))["services"]["web"]
        assert [r["number"] for r in made if r["serving"]] == [n] == [r["number"] for r in made
                                                                      if r["outcome"] == "live"], (call, when, made)
        assert run_deploy(app_yaml)["changed"] is False, (call, when)


def test_an_in_place_rollout_on_moto_goes_through_ssm_run_command(env, stack_dir, unique, docker_client):
    """moto records the commands but runs nothing (and reports success): what is asserted is that the
    release's own user-data (with the new digest) is sent to each instance in turn and the instances are
    retagged, not replaced. Running it for real and restoring on failure is tested locally (test_local.py)."""
    app_yaml = stack_dir / "app.yaml"
    app_yaml.write_text(app_yaml.read_text() + "    instances: {count: 2}\n    rollout: {strategy: in-place}\n")
    try:
        first = run_deploy(app_yaml)["services"]["web"]
        (stack_dir / "site" / "index.html").write_text("<h1>in place</h1>\n")
        second = run_deploy(app_yaml)["services"]["web"]
        assert [i["id"] for i in second["instances"]] == [i["id"] for i in first["instances"]]
        assert {i["config"] for i in second["instances"]} == {second["config"]} != {first["config"]}
        commands = client("ssm").list_commands()["Commands"]
        # one command per instance (moto records every instance of the region as a command's target)
        assert [c["DocumentName"] for c in commands] == ["AWS-RunShellScript"] * 2
        import base64
        import re as regex

        script = commands[0]["Parameters"]["commands"][0]
        user_data = base64.b64decode(regex.search(r"printf '%s' '([A-Za-z0-9+/=]+)'", script).group(1)).decode()
        assert second["image"] in user_data and "curl -fsS" in script
        assert run_deploy(app_yaml)["changed"] is False
    finally:
        spec, _ = load_spec(app_yaml)
        destroy(spec, aws_target(None, None, Progress()), keep_images=False)
        for image in docker_client.images.list():
            for tag in image.tags:
                if tag.startswith(f"{env.host}/{unique}/"):
                    docker_client.images.remove(tag)
