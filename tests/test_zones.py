"""Zones that do not offer the instance type (issue 10, §2).

EC2 says which availability zones offer each instance type (DescribeInstanceTypeOfferings); liftshift
uses only the subnets in those zones, says in plan and deploy which were left out, and exits 2 before
any build or change when a service has none left (or a load-balanced one keeps a single zone).
moto carries AWS's offering data (t3 is not offered in us-east-1e; c8ib.large in no zone of eu-west-1;
p4d.24xlarge only in eu-west-1c) but would launch any type anywhere, so the tests read what was launched.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from typer.testing import CliRunner

from liftshift.model import names

from liftshift.aws import network as network_reads
from liftshift.aws.session import Aws, CallLog
from liftshift.cli.base import app
from liftshift.aws.network import NetworkError, network, offered_zones, usable_subnets
from liftshift.model.observed import LeftOut
from liftshift.pipeline.deploy import deploy
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged

FLEET = Path(__file__).resolve().parent.parent / "stacks" / "fleet"


# --- the filtering itself (no AWS) ---------------------------------------------------------------


def test_usable_subnets_keep_the_offered_zones_in_order_and_name_the_rest():
    chosen = [("subnet-a", "us-east-1a"), ("subnet-e", "us-east-1e"), ("subnet-f", "us-east-1f")]
    kept, left = usable_subnets("web", "t3.micro", chosen, {"us-east-1a", "us-east-1f"}, listed=False,
                                load_balanced=True, region="us-east-1")
    assert kept == ("subnet-a", "subnet-f")
    assert left == [LeftOut("web", "subnet-e", "us-east-1e", "t3.micro", False)]
    assert str(left[0]) == "services.web: subnet-e (us-east-1e) left out: t3.micro is not offered in us-east-1e"
    _, listed = usable_subnets("web", "t3.micro", chosen, {"us-east-1a"}, listed=True, load_balanced=False,
                               region="us-east-1")
    assert [str(x) for x in listed] == [
        "services.web.instances.subnets: subnet-e (us-east-1e) left out: t3.micro is not offered in us-east-1e",
        "services.web.instances.subnets: subnet-f (us-east-1f) left out: t3.micro is not offered in us-east-1f"]
    everything, none = usable_subnets("web", "t3.micro", chosen, {"us-east-1a", "us-east-1e", "us-east-1f"},
                                      listed=False, load_balanced=False, region="us-east-1")
    assert everything == ("subnet-a", "subnet-e", "subnet-f") and none == []


def test_no_subnet_left_is_bad_input_naming_the_service_the_type_and_the_zones():
    chosen = [("subnet-d", "us-east-1d"), ("subnet-e", "us-east-1e")]
    with pytest.raises(NetworkError) as elsewhere:
        usable_subnets("api", "p4d.24xlarge", chosen, {"us-east-1a", "us-east-1b"}, listed=True,
                       load_balanced=False, region="us-east-1")
    message = str(elsewhere.value)
    assert message.startswith("services.api: instances.type p4d.24xlarge is not offered in us-east-1d, us-east-1e")
    assert "it is offered in us-east-1a, us-east-1b" in message and "list subnets in those zones" in message
    with pytest.raises(NetworkError) as nowhere:
        usable_subnets("api", "c8ib.large", chosen, set(), listed=False, load_balanced=False, region="eu-west-1")
    assert "c8ib.large" in str(nowhere.value) and "offered in no availability zone of eu-west-1" in str(nowhere.value)


def test_a_load_balanced_service_needs_two_offered_zones():
    chosen = [("subnet-a", "eu-west-1a"), ("subnet-b", "eu-west-1b"), ("subnet-c", "eu-west-1c")]
    with pytest.raises(NetworkError) as one_zone:
        usable_subnets("web", "p4d.24xlarge", chosen, {"eu-west-1c"}, listed=False, load_balanced=True,
                       region="eu-west-1")
    assert "at least two availability zones that offer p4d.24xlarge" in str(one_zone.value)
    assert "offered only in eu-west-1c" in str(one_zone.value)
    # Two listed subnets in one zone are one zone, whatever is offered.
    with pytest.raises(NetworkError, match="all in eu-west-1a"):
        usable_subnets("web", "t3.micro", [("subnet-1", "eu-west-1a"), ("subnet-2", "eu-west-1a")],
                       {"eu-west-1a", "eu-west-1b"}, listed=True, load_balanced=True, region="eu-west-1")
    # Without a load balancer one zone is enough.
    kept, _ = usable_subnets("web", "p4d.24xlarge", chosen, {"eu-west-1c"}, listed=False, load_balanced=False,
                             region="eu-west-1")
    assert kept == ("subnet-c",)


class _Paginator:
    def __init__(self, ec2):
        self.ec2 = ec2

    def paginate(self, **params):
        self.ec2.asked.append(params)
        if self.ec2.refuse:
            raise botocore.exceptions.ClientError({"Error": {"Code": self.ec2.refuse, "Message": "no"}},
                                                  "DescribeInstanceTypeOfferings")
        yield {"InstanceTypeOfferings": [{"InstanceType": "t3.micro", "Location": "zone-a"},
                                         {"InstanceType": "m7g.large", "Location": "zone-a"}], "NextToken": "x"}
        yield {"InstanceTypeOfferings": [{"InstanceType": "t3.micro", "Location": "zone-b"}]}


class _Ec2:
    def __init__(self, refuse: str | None = None):
        self.asked: list[dict] = []
        self.refuse = refuse

    def get_paginator(self, name):
        assert name == "describe_instance_type_offerings"
        return _Paginator(self)

    def describe_subnets(self, **params):
        return {"Subnets": [{"SubnetId": f"subnet-{z}", "VpcId": "vpc-1", "AvailabilityZone": z}
                            for z in ("zone-a", "zone-b", "zone-c")]}


class _Aws:
    region = "test-1"

    def __init__(self, ec2):
        self.ec2 = ec2

    def client(self, name):
        assert name == "ec2"
        return self.ec2


def _spec(tmp_path: Path, body: str):
    (tmp_path / "app.yaml").write_text("version: 1\nname: zones\nservices:\n" + body)
    return load_spec(tmp_path / "app.yaml")[0]


def test_one_batched_paginated_question_for_every_type_of_the_stack(tmp_path):
    ec2 = _Ec2()
    assert offered_zones(ec2, {"t3.micro", "m7g.large", "c8ib.large"}) == {
        "c8ib.large": set(), "m7g.large": {"zone-a"}, "t3.micro": {"zone-a", "zone-b"}}
    assert ec2.asked == [{"LocationType": "availability-zone", "PaginationConfig": {"PageSize": 1000},
                          "Filters": [{"Name": "instance-type", "Values": ["c8ib.large", "m7g.large", "t3.micro"]}]}]
    spec = _spec(tmp_path, "  web: {image: 'nginx:1.27', port: 80}\n"
                           "  arm: {image: 'nginx:1.27', port: 80, instances: {type: m7g.large}}\n")
    ec2 = _Ec2()
    found = network(_Aws(ec2), spec)
    assert len(ec2.asked) == 1
    assert found.subnets == {"web": ("subnet-zone-a", "subnet-zone-b"), "arm": ("subnet-zone-a",)}
    assert found.messages == [
        "services.web: subnet-zone-c (zone-c) left out: t3.micro is not offered in zone-c",
        "services.arm: subnet-zone-b (zone-b) left out: m7g.large is not offered in zone-b",
        "services.arm: subnet-zone-c (zone-c) left out: m7g.large is not offered in zone-c"]


def test_when_ec2_does_not_say_every_subnet_is_used_and_plan_says_so(tmp_path):
    spec = _spec(tmp_path, "  web: {image: 'nginx:1.27', port: 80}\n")
    found = network(_Aws(_Ec2(refuse="UnauthorizedOperation")), spec)
    assert found.subnets == {"web": ("subnet-zone-a", "subnet-zone-b", "subnet-zone-c")}
    assert found.left_out == ()
    assert found.messages == ["EC2 did not say which zones offer t3.micro (DescribeInstanceTypeOfferings: "
                              "UnauthorizedOperation): every subnet is used"]
    with pytest.raises(botocore.exceptions.ClientError):  # anything else is a failure, not a guess
        network(_Aws(_Ec2(refuse="RequestLimitExceeded")), spec)


# --- against moto's offering data (in-process, no Docker) ----------------------------------------------


@pytest.fixture
def moto_us_east_1(monkeypatch):
    from moto import mock_aws

    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        log = CallLog()
        yield Aws(region="us-east-1", call_log=log), log


def _default_subnets(region: str) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    return {s["AvailabilityZone"]: s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}


def test_moto_has_the_offering_data_these_tests_rely_on(moto_us_east_1):
    aws, _ = moto_us_east_1
    zones = offered_zones(aws.client("ec2"), ["t3.micro", "m5.large", "p4d.24xlarge"])
    assert "us-east-1e" in _default_subnets("us-east-1")
    assert "us-east-1e" not in zones["t3.micro"] and {"us-east-1a", "us-east-1f"} <= zones["t3.micro"]
    west = offered_zones(boto3.client("ec2", region_name="eu-west-1"), ["c8ib.large", "p4d.24xlarge", "t3.micro"])
    assert west == {"c8ib.large": set(), "p4d.24xlarge": {"eu-west-1c"},
                    "t3.micro": {"eu-west-1a", "eu-west-1b", "eu-west-1c"}}


def test_default_and_listed_subnets_are_filtered_alike_with_one_more_read(moto_us_east_1, tmp_path):
    aws, log = moto_us_east_1
    subnets = _default_subnets("us-east-1")
    listed = [subnets["us-east-1a"], subnets["us-east-1e"], subnets["us-east-1b"]]
    spec = _spec(tmp_path, "  web: {image: 'nginx:1.27', port: 80}\n"
                           f"  api: {{image: 'nginx:1.27', port: 80, instances: {{subnets: {json.dumps(listed)}}}}}\n")
    found = network(aws, spec)
    assert subnets["us-east-1e"] not in found.subnets["web"] and len(found.subnets["web"]) == 5
    assert found.subnets["api"] == (subnets["us-east-1a"], subnets["us-east-1b"])  # in the order listed
    assert found.messages == [
        f"services.web: {subnets['us-east-1e']} (us-east-1e) left out: t3.micro is not offered in us-east-1e",
        f"services.api.instances.subnets: {subnets['us-east-1e']} (us-east-1e) left out: t3.micro is not offered "
        "in us-east-1e"]
    assert log.by_operation()["ec2:DescribeInstanceTypeOfferings"] == 1


# --- plan and deploy against moto (server mode), the registry and Docker ---------------------------------


@pytest.fixture
def env(aws_env, registry, busybox_image, docker_client, monkeypatch):
    monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return registry


@pytest.fixture
def us_east_1(env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return env


@pytest.fixture
def cleanup_images(docker_client, env, unique):
    yield
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(f"{env.host}/{unique}/"):
                docker_client.images.remove(tag)


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def edit(app_yaml: Path, old: str, new: str) -> None:
    text = app_yaml.read_text()
    assert old in text
    app_yaml.write_text(text.replace(old, new))


def _zones_of(stack: str, region: str) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region)
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]},
           {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    return sorted(i["Placement"]["AvailabilityZone"] for r in ec2.describe_instances(Filters=flt)["Reservations"]
                  for i in r["Instances"])


def test_a_stack_in_us_east_1_never_launches_t3_in_us_east_1e_and_says_so(us_east_1, stack_dir, unique,
                                                                            cleanup_images):
    app_yaml = stack_dir / "app.yaml"
    edit(app_yaml, "    publish: 8080\n", "    publish: 8080\n    instances: {count: 6}\n")
    left = _default_subnets("us-east-1")["us-east-1e"]
    note = f"services.web: {left} (us-east-1e) left out: t3.micro is not offered in us-east-1e"

    plan = run_cli("plan", str(app_yaml), "-o", "json")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["notes"] == [note] and planned["warnings"] == []
    launched_in = [c["params"]["SubnetId"] for s in planned["steps"] for c in s["calls"]
                   if c["operation"] == "run_instances"]
    assert len(launched_in) == 5 and left not in launched_in
    text = run_cli("plan", str(app_yaml))
    assert f"note: {note}\n" in text.stdout

    deployed = run_cli("deploy", str(app_yaml), "-o", "json")
    assert deployed.exit_code == 0, deployed.output
    report = json.loads(deployed.stdout)
    assert report["notes"] == [note]
    zones = [i["zone"] for i in report["services"]["web"]["instances"]]
    assert len(zones) == 6 and "us-east-1e" not in zones
    assert _zones_of(unique, "us-east-1") == sorted(zones)
    assert len(set(zones)) == 5  # still spread over every zone that offers the type
    again = run_cli("deploy", str(app_yaml))  # text: the note is in deploy's output too
    assert again.exit_code == 0 and f"note: {note}" in again.stderr


def _registry_repositories(registry) -> list[str]:
    with urllib.request.urlopen(f"{registry.url}/v2/_catalog") as response:
        return json.load(response).get("repositories") or []


def _nothing_made(stack: str, registry, docker_client, result) -> None:
    assert stack_tagged(stack) == {}
    assert boto3.client("ecr", region_name="eu-west-1").describe_repositories()["repositories"] == []
    assert not [r for r in _registry_repositories(registry) if r.startswith(f"{stack}/")]
    assert "building" not in result.stderr  # refused before any image build
    assert not [t for i in docker_client.images.list() for t in i.tags if f"/{stack}/" in t]


def test_a_type_offered_in_no_zone_of_the_region_exits_2_before_anything(env, stack_dir, unique, docker_client,
                                                                          cleanup_images):
    app_yaml = stack_dir / "app.yaml"
    edit(app_yaml, "    publish: 8080\n", "    publish: 8080\n    instances: {type: c8ib.large}\n")
    for command in ("plan", "deploy"):
        result = run_cli(command, str(app_yaml))
        assert result.exit_code == 2, result.output
        assert "services.web: instances.type c8ib.large is not offered in eu-west-1a, eu-west-1b, eu-west-1c" in \
            result.stderr
        assert "offered in no availability zone of eu-west-1" in result.stderr
        _nothing_made(unique, env, docker_client, result)


def test_a_load_balanced_service_left_with_one_zone_exits_2_before_anything(env, tmp_path, unique, docker_client,
                                                                             cleanup_images):
    fleet = tmp_path / "fleet"
    shutil.copytree(FLEET, fleet)
    app_yaml = fleet / "app.yaml"
    edit(app_yaml, "name: fleet", f"name: {unique}")
    edit(app_yaml, "instances: {count: 2}", "instances: {count: 2, type: p4d.24xlarge}")
    result = run_cli("deploy", str(app_yaml))
    assert result.exit_code == 2, result.output
    assert "services.web: a load_balancer needs subnets in at least two availability zones that offer " \
           "p4d.24xlarge; p4d.24xlarge is offered only in eu-west-1c" in result.stderr
    _nothing_made(unique, env, docker_client, result)
    assert boto3.client("elbv2", region_name="eu-west-1").describe_load_balancers()["LoadBalancers"] == []
    assert boto3.client("autoscaling", region_name="eu-west-1").describe_auto_scaling_groups()[
        "AutoScalingGroups"] == []


def test_listed_subnets_are_filtered_the_same_way(us_east_1, stack_dir, unique, cleanup_images):
    subnets = _default_subnets("us-east-1")
    app_yaml = stack_dir / "app.yaml"
    listed = [subnets["us-east-1e"], subnets["us-east-1a"]]
    edit(app_yaml, "    publish: 8080\n", f"    publish: 8080\n    instances: {{count: 2, subnets: {json.dumps(listed)}}}\n")
    plan = run_cli("plan", str(app_yaml), "-o", "json")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["notes"] == [f"services.web.instances.subnets: {subnets['us-east-1e']} (us-east-1e) left out: "
                                "t3.micro is not offered in us-east-1e"]
    runs = [c["params"] for s in planned["steps"] for c in s["calls"] if c["operation"] == "run_instances"]
    assert [(r["SubnetId"], r["MinCount"]) for r in runs] == [(subnets["us-east-1a"], 2)]

    only_e = [subnets["us-east-1e"]]
    edit(app_yaml, json.dumps(listed), json.dumps(only_e))
    refused = run_cli("plan", str(app_yaml))
    assert refused.exit_code == 2
    assert ("services.web: instances.type t3.micro is not offered in us-east-1e, the zones of its listed subnets"
            in refused.stderr)


def test_the_auto_scaling_group_and_load_balancer_get_only_the_offered_zones(us_east_1, tmp_path, unique,
                                                                             cleanup_images):
    fleet = tmp_path / "fleet"
    shutil.copytree(FLEET, fleet)
    app_yaml = fleet / "app.yaml"
    edit(app_yaml, "name: fleet", f"name: {unique}")
    subnets = _default_subnets("us-east-1")
    plan = run_cli("plan", str(app_yaml), "-o", "json")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    calls = {c["operation"]: c["params"] for s in planned["steps"] for c in s["calls"]}
    offered = sorted(s for z, s in subnets.items() if z != "us-east-1e")
    assert sorted(calls["create_load_balancer"]["Subnets"]) == offered
    assert sorted(calls["create_auto_scaling_group"]["VPCZoneIdentifier"].split(",")) == offered
    assert planned["notes"] == [f"services.web: {subnets['us-east-1e']} (us-east-1e) left out: t3.micro is not "
                                "offered in us-east-1e"]


def test_a_running_instance_in_a_left_out_zone_is_kept_and_new_ones_go_elsewhere(us_east_1, stack_dir, unique,
                                                                                  cleanup_images, monkeypatch):
    """An instance already running in a zone that (now) does not offer its type is kept: it runs, and
    replacing it would only cost a restart. New launches go to the zones that offer the type."""
    app_yaml = stack_dir / "app.yaml"
    edit(app_yaml, "    publish: 8080\n", "    publish: 8080\n    instances: {count: 6}\n")
    spec, base = load_spec(app_yaml)
    real = network_reads.offered_zones
    # As an older liftshift (or a zone that offered the type then) left it: one instance in every zone.
    monkeypatch.setattr(network_reads, "offered_zones", lambda ec2, types: {t: set(_default_subnets("us-east-1"))
                                                                      for t in types})
    deploy(spec, base, aws_target(None, None, Progress()))
    assert _zones_of(unique, "us-east-1").count("us-east-1e") == 1
    monkeypatch.setattr(network_reads, "offered_zones", real)

    log = CallLog()
    again = deploy(spec, base, aws_target(None, None, Progress(), log))
    assert again["changed"] is False and log.stack_changes() == []
    assert again["notes"] and "us-east-1e" in again["notes"][0]
    assert _zones_of(unique, "us-east-1").count("us-east-1e") == 1

    edit(app_yaml, "count: 6", "count: 8")
    spec, base = load_spec(app_yaml)
    more = deploy(spec, base, aws_target(None, None, Progress()))
    zones = _zones_of(unique, "us-east-1")
    assert len(zones) == 8 and zones.count("us-east-1e") == 1  # the two new ones went to offered zones
    assert not [c for c in more["changes"] if c["action"] == "terminate"]


def test_a_load_balancer_takes_one_subnet_per_zone():
    chosen = [("subnet-a1", "us-east-1a"), ("subnet-b", "us-east-1b"), ("subnet-a2", "us-east-1a")]
    with pytest.raises(NetworkError, match="subnet-a1 and subnet-a2 are both in us-east-1a"):
        usable_subnets("web", "t3.micro", chosen, {"us-east-1a", "us-east-1b"}, listed=True, load_balanced=True,
                       region="us-east-1")
    kept, _ = usable_subnets("web", "t3.micro", chosen, {"us-east-1a", "us-east-1b"}, listed=True,
                             load_balanced=False, region="us-east-1")
    assert kept == ("subnet-a1", "subnet-b", "subnet-a2")  # instances alone may share a zone
