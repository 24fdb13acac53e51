"""A stack never adopts or changes what another stack owns (issue 9 §2).

Names cannot collide (pure tests of names.py), validate refuses a stack whose own services would share
a name, and on moto: two stacks whose old names collided deploy side by side and are destroyed apart;
one stack with a service `web` behind a load balancer and a service `web-lb` deploys; resources made
by hand or by another stack under the names a deploy would use make `plan` and `deploy` exit 2 naming
their owner, with nothing changed.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from liftshift.model import names
from liftshift.cli.base import app
from liftshift.model.observed import Observed
from liftshift.aws.ownership import check_ownership, claims
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.pipeline.prepare import prepare
from liftshift.progress import Progress
from liftshift.spec.errors import SpecError
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"
LB = {"port": 8081, "health": {"path": "/", "interval": 5, "healthy": 2, "unhealthy": 2, "timeout": 3}}

# --------------------------------------------------------------------------- names (pure)

PARTS = ["a", "b", "c", "a-b", "b-c", "a-b-c", "lb", "web", "web-lb", "x" * 32, "y" * 32, "x" * 31 + "1"]
PAIRS = [(s, v) for s, v in itertools.product(PARTS, PARTS)]


@pytest.mark.parametrize("make", [names.role, names.security_group, names.lb_security_group, names.load_balancer,
                                  lambda s, v: names.launch_template(s, v, "0123456789ab"),
                                  lambda s, v: names.auto_scaling_group(s, v, "0123456789ab"),
                                  lambda s, v: names.target_group(s, v, "0123456789ab"), names.repository])
def test_no_two_stack_service_pairs_share_a_name(make):
    made = {}
    for pair in PAIRS:
        name = make(*pair).lower()  # IAM and security group names ignore case
        assert name not in made, f"{pair} and {made[name]} both make {name}"
        made[name] = pair


def test_the_issues_collisions_are_gone():
    # stack a + service b-c and stack a-b + service c made the same role, security group and load balancer
    assert names.role("a", "b-c") != names.role("a-b", "c")
    assert names.security_group("a", "b-c") != names.security_group("a-b", "c")
    assert names.load_balancer("a", "b-c") != names.load_balancer("a-b", "c")
    # service web's load balancer group and service web-lb's group
    assert names.lb_security_group("s", "web") != names.security_group("s", "web-lb")
    assert names.shared_name("s", {"web": True, "web-lb": False}) is None
    # an instance group never equals a load balancer group, whatever the names
    instance_groups = {names.security_group(s, v) for s, v in PAIRS}
    assert not instance_groups & {names.lb_security_group(s, v) for s, v in PAIRS}


def test_names_keep_within_what_aws_allows():
    for stack, service in PAIRS:
        role = names.role(stack, service)
        assert len(role) <= 64 and re.fullmatch(r"[\w+=,.@-]+", role)
        for group in (names.security_group(stack, service), names.lb_security_group(stack, service)):
            assert len(group) <= 255 and not group.startswith("sg-")
            assert re.fullmatch(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+", group)
        template = names.launch_template(stack, service, "0123456789ab")
        assert 3 <= len(template) <= 128 and re.fullmatch(r"[a-zA-Z0-9().\-/_]+", template)
        group = names.auto_scaling_group(stack, service, "0123456789ab")
        assert len(group) <= 255 and ":" not in group
        for elb in (names.load_balancer(stack, service), names.target_group(stack, service, "0123456789ab")):
            assert len(elb) <= 32 and re.fullmatch(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?", elb)
            assert not elb.startswith("internal-")
            assert elb.startswith(names.elb_stack_prefix(stack))  # what observe lists by


def _truncation_twin(stack: str, service: str) -> str:
    """A service name whose role name equals `service`'s truncated one (names.bounded's prefix + hash)."""
    full = f"liftshift.{stack}.{service}"
    truncated = names.role(stack, service)
    assert len(full) > 64 and truncated != full
    return truncated[len(f"liftshift.{stack}."):]


STACK32 = "s" * 32


def test_shared_name_finds_a_real_collision_of_truncated_names():
    twin = _truncation_twin(STACK32, "a" * 32)
    assert len(twin) <= 32 and names.role(STACK32, twin) == names.role(STACK32, "a" * 32)
    assert names.shared_name(STACK32, {"a" * 32: False, twin: False}) == (
        "iam role", names.role(STACK32, twin), "a" * 32, twin)


def write_app(directory: Path, stack: str, services: dict[str, dict]) -> Path:
    """An app.yaml (and the hello stack's Dockerfile and site) for `services`, each built from it."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HELLO / "Dockerfile", directory / "Dockerfile")
    if not (directory / "site").exists():
        shutil.copytree(HELLO / "site", directory / "site")
    doc = {"version": 1, "name": stack,
           "services": {n: {"build": ".", "port": 8080, **extra} for n, extra in services.items()}}
    (directory / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")  # JSON is YAML
    return directory / "app.yaml"


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_validate_refuses_services_that_would_share_a_name(tmp_path):
    twin = _truncation_twin(STACK32, "a" * 32)
    app_yaml = write_app(tmp_path / "twins", STACK32, {"a" * 32: {}, twin: {"publish": 8081}})
    with pytest.raises(SpecError) as info:
        load_spec(app_yaml)
    text = str(info.value)
    lines = app_yaml.read_text().splitlines()
    second = next(i for i, line in enumerate(lines, 1) if line.strip().startswith(f'"{twin}"'))
    assert f":{second}:" in text and f"services.{twin}" in text  # file, line and key of the second service
    assert f"iam role {names.role(STACK32, twin)!r}" in text and "a" * 32 in text
    result = run_cli("validate", str(app_yaml))
    assert result.exit_code == 2 and names.role(STACK32, twin) in result.output


def test_validate_checks_every_kind_of_name(tmp_path, monkeypatch):
    """The check is not dead for names that cannot collide today: make one collide."""
    app_yaml = write_app(tmp_path / "s", "shop", {"web": {"load_balancer": LB}, "api": {}})
    load_spec(app_yaml)
    monkeypatch.setattr(names, "target_group", lambda stack, service, config: "ls-same")
    monkeypatch.setattr(names, "load_balancer", lambda stack, service: f"ls-{service}")
    write_app(tmp_path / "s", "shop", {"web": {"load_balancer": LB}, "api": {"load_balancer": LB}})
    with pytest.raises(SpecError) as info:
        load_spec(app_yaml)
    assert "services.api" in str(info.value) and "target group 'ls-same'" in str(info.value)


# --------------------------------------------------------------------------- what is looked up (pure)


def _want(services: dict[str, dict]):
    import test_plan  # the planner tests' helpers: stack "shop", vpc-1, made-up account and images

    return test_plan, test_plan.desired(test_plan.make_spec(
        {n: test_plan.service_dict(**extra) for n, extra in services.items()}))


def test_claims_are_every_name_the_plan_creates_or_changes():
    from liftshift.plan.images import ImageWant, plan_images
    from liftshift.plan.stack import plan_stack
    from liftshift.model.desired import ImageInfo

    helpers, want = _want({"web": {"load_balancer": {"port": 80}}, "api": {}})
    steps = plan_stack(want, Observed()).steps
    images = [ImageWant(s.name, s.repository, s.repository_uri, ImageInfo("sha256:" + "c" * 64))
              for s in want.services.values()]
    steps = plan_images("shop", images, Observed()) + steps
    web, api = want.services["web"], want.services["api"]
    found = {(c.kind, c.name, c.vpc) for c in claims(steps)}
    assert found == {
        ("ecr repository", "shop/web", None), ("ecr repository", "shop/api", None),
        ("log group", "/liftshift/shop", None),
        ("iam role", web.role.name, None), ("iam role", api.role.name, None),
        ("instance profile", web.role.name, None), ("instance profile", api.role.name, None),
        ("security group", names.security_group("shop", "web"), "vpc-1"),
        ("security group", names.lb_security_group("shop", "web"), "vpc-1"),
        ("security group", names.security_group("shop", "api"), "vpc-1"),
        ("launch template", web.launch_template.name, None), ("launch template", api.launch_template.name, None),
        ("load balancer", names.load_balancer("shop", "web"), None),
        ("target group", web.fleet.target_group.name, None),
        ("auto scaling group", web.fleet.auto_scaling_group, None),
    }
    assert {c.service for c in claims(steps) if c.kind != "log group"} == {"web", "api"}


class NoCalls:
    """An Aws stand-in that fails the test on any client use."""

    def client(self, name):
        raise AssertionError(f"unexpected {name} call")


def test_a_converged_stack_claims_nothing_and_costs_no_call():
    from liftshift.plan.stack import plan_stack

    helpers, want = _want({"web": {}, "api": {}})
    steps = plan_stack(want, helpers.converged(want)).steps
    assert steps == [] and claims(steps) == []
    check_ownership(NoCalls(), "shop", steps, helpers.converged(want))


def test_names_observation_proves_free_cost_no_call():
    """Load balancers and target groups (all of the region listed), repositories (all of <stack>/) and the
    log group (listed by its name) that observe did not see need no lookup."""
    from liftshift.plan.stack import plan_stack

    helpers, want = _want({"web": {"load_balancer": {"port": 80}}})
    seen = helpers.converged(want)
    seen.load_balancers, seen.target_groups = {}, []
    seen.region_load_balancers = {"ls-someone-else": "arn:lb"}
    steps = [s for s in plan_stack(want, seen).steps if s.kind in ("load balancer", "target group")]
    assert {c.kind for c in claims(steps)} == {"load balancer", "target group"}
    check_ownership(NoCalls(), "shop", steps, seen)


@pytest.mark.parametrize("tags,problem", [
    (None, None),
    ({names.TAG_STACK: "shop", names.TAG_SERVICE: "web"}, None),
    ({names.TAG_STACK: "shop", names.TAG_SERVICE: "-"}, None),
    ({names.TAG_STACK: "shop-web", names.TAG_SERVICE: "web"}, "iam role r belongs to stack shop-web"),
    ({names.TAG_STACK: "shop", names.TAG_SERVICE: "api"}, "iam role r belongs to service api of stack shop"),
    ({}, "iam role r exists and is not made by liftshift (no liftshift:stack tag)"),
    ({"team": "payments"}, "iam role r exists and is not made by liftshift (no liftshift:stack tag)"),
])
def test_verdicts(tags, problem):
    from liftshift.aws.ownership import Claim, _verdict

    assert _verdict("shop", Claim("iam role", "r", "web"), tags) == problem


# --------------------------------------------------------------------------- on moto


@pytest.fixture
def env(deploy_env, lb_endpoint):
    return deploy_env

def client(name):
    return boto3.client(name, region_name="eu-west-1")


def target():
    return aws_target(None, None, Progress())


def run(app_yaml: Path) -> dict:
    spec, base = load_spec(app_yaml)
    return deploy(spec, base, target())


def policy_of(role: str) -> dict:
    return client("iam").get_role_policy(RoleName=role, PolicyName=names.role_policy_name())["PolicyDocument"]


def groups_of(stack: str) -> dict[str, dict]:
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]
    return {g["GroupName"]: g for g in client("ec2").describe_security_groups(Filters=flt)["SecurityGroups"]}


def test_two_stacks_whose_old_names_collided_live_side_by_side(env, tmp_path, unique):
    """Stack X with service b-c and stack X-b with service c: both were role liftshift-X-b-c."""
    one, two = unique, f"{unique}-b"
    first = write_app(tmp_path / "one", one, {"b-c": {}})
    second = write_app(tmp_path / "two", two, {"c": {}})
    assert f"liftshift-{one}-b-c" == f"liftshift-{two}-c"  # the old scheme's one name
    run(first)
    before = {"policy": policy_of(names.role(one, "b-c")), "groups": groups_of(one)}
    run(second)

    roles = {one: names.role(one, "b-c"), two: names.role(two, "c")}
    assert roles[one] != roles[two]
    for stack, service in ((one, "b-c"), (two, "c")):
        role = roles[stack]
        tags = names.tag_dict(client("iam").list_role_tags(RoleName=role)["Tags"])
        assert tags == {names.TAG_STACK: stack, names.TAG_SERVICE: service}
        pulls = {s["Sid"]: s for s in policy_of(role)["Statement"]}["PullOwnImages"]["Resource"]
        assert pulls.endswith(f":repository/{stack}/{service}")
        profile = client("iam").get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [role]
        (group,) = groups_of(stack).values()
        assert group["GroupName"] == names.security_group(stack, service)
        assert names.tag_dict(group["Tags"])[names.TAG_SERVICE] == service
    # the first stack's role and group are as it left them, and its next deploy has nothing to do
    assert policy_of(roles[one]) == before["policy"]
    assert groups_of(one) == before["groups"]
    spec, base = load_spec(first)
    assert prepare(spec, base, target()).steps == []

    # destroying the second leaves the first whole
    spec_two, _ = load_spec(second)
    destroy(spec_two, target(), keep_images=False)
    assert stack_tagged(two) == {}
    left = stack_tagged(one)
    assert left["roles"] == [roles[one]] and left["profiles"] == [roles[one]]
    assert left["groups"] == [names.security_group(one, "b-c")] and len(left["instances"]) == 1
    assert left["repositories"] == [f"{one}/b-c"] and left["log_groups"] == [f"/liftshift/{one}"]
    assert policy_of(roles[one]) == before["policy"]
    destroy(spec, target(), keep_images=False)
    assert stack_tagged(one) == {}


def test_a_service_named_like_another_services_load_balancer_group(env, tmp_path, unique):
    """Service web behind a load balancer and service web-lb: both groups were liftshift-<stack>-web-lb."""
    app_yaml = write_app(tmp_path / "s", unique, {"web": {"load_balancer": LB}, "web-lb": {"publish": 8082}})
    report = run(app_yaml)
    assert report["services"]["web"]["load_balancer"]["release"] == 1
    assert len(report["services"]["web-lb"]["instances"]) == 1
    groups = groups_of(unique)
    assert sorted(groups) == sorted([names.security_group(unique, "web"), names.lb_security_group(unique, "web"),
                                     names.security_group(unique, "web-lb")])
    lb_group = names.tag_dict(groups[names.lb_security_group(unique, "web")]["Tags"])
    assert lb_group[names.TAG_SERVICE] == "web" and lb_group[names.TAG_PART] == "lb"
    other = names.tag_dict(groups[names.security_group(unique, "web-lb")]["Tags"])
    assert other[names.TAG_SERVICE] == "web-lb" and names.TAG_PART not in other
    assert {(p["FromPort"], r["CidrIp"]) for p in groups[names.security_group(unique, "web-lb")]["IpPermissions"]
            for r in p["IpRanges"]} == {(8082, "0.0.0.0/0")}
    assert run(app_yaml)["changed"] is False
    spec, _ = load_spec(app_yaml)
    destroy(spec, target(), keep_images=False)
    assert stack_tagged(unique) == {}


def snapshot() -> dict:
    """Everything in moto a deploy could create or change (not the lock table)."""
    ec2, iam, elbv2, ecr, logs = client("ec2"), client("iam"), client("elbv2"), client("ecr"), client("logs")
    autoscaling = client("autoscaling")
    roles = {r["RoleName"]: (r["Path"], names.tag_dict(iam.list_role_tags(RoleName=r["RoleName"])["Tags"]),
                             iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"],
                             [p["PolicyArn"] for p in iam.list_attached_role_policies(
                                 RoleName=r["RoleName"])["AttachedPolicies"]])
             for r in iam.list_roles()["Roles"]}
    profiles = {p["InstanceProfileName"]: sorted(r["RoleName"] for r in p["Roles"])
                for p in iam.list_instance_profiles()["InstanceProfiles"]}
    lbs = elbv2.describe_load_balancers()["LoadBalancers"]
    tgs = elbv2.describe_target_groups()["TargetGroups"]
    arns = [x["LoadBalancerArn"] for x in lbs] + [x["TargetGroupArn"] for x in tgs]
    elb_tags = {d["ResourceArn"]: names.tag_dict(d["Tags"])
                for d in (elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"] if arns else [])}
    repos = ecr.describe_repositories()["repositories"]
    return {
        "roles": roles, "profiles": profiles,
        "groups": {g["GroupId"]: (g["GroupName"], names.tag_dict(g.get("Tags")), g["IpPermissions"])
                   for g in ec2.describe_security_groups()["SecurityGroups"]},
        "templates": {t["LaunchTemplateName"]: (t["LatestVersionNumber"], names.tag_dict(t.get("Tags")))
                      for t in ec2.describe_launch_templates()["LaunchTemplates"]},
        "instances": sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]),
        "load_balancers": {x["LoadBalancerName"]: elb_tags[x["LoadBalancerArn"]] for x in lbs},
        "listeners": [len(elbv2.describe_listeners(LoadBalancerArn=x["LoadBalancerArn"])["Listeners"]) for x in lbs],
        "target_groups": {x["TargetGroupName"]: (x.get("HealthCheckPath"), elb_tags[x["TargetGroupArn"]]) for x in tgs},
        "auto_scaling_groups": {g["AutoScalingGroupName"]: (g["DesiredCapacity"], sorted(
            (t["Key"], t["Value"]) for t in g.get("Tags", [])))
            for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]},
        "repositories": {r["repositoryName"]: (names.tag_dict(ecr.list_tags_for_resource(
            resourceArn=r["repositoryArn"])["tags"]), ecr.describe_images(repositoryName=r["repositoryName"])[
            "imageDetails"]) for r in repos},
        "lifecycle": {r["repositoryName"]: _lifecycle(ecr, r["repositoryName"]) for r in repos},
        "log_groups": {g["logGroupName"]: (g.get("retentionInDays"), logs.list_tags_log_group(
            logGroupName=g["logGroupName"])["tags"]) for g in logs.describe_log_groups()["logGroups"]},
    }


def _lifecycle(ecr, repository: str) -> str | None:
    try:
        return ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return None


def made_by_hand(unique: str, steps: list[dict]) -> list[str]:
    """Resources under the names the plan would create, made by hand (untagged) or by another stack (tagged
    `other`); returns what the refusal must say about each."""
    ec2, iam, elbv2, ecr, logs = client("ec2"), client("iam"), client("elbv2"), client("ecr"), client("logs")
    named = {(s["kind"], s["service"]): s["name"] for s in steps if s["action"] == "create"}
    other = f"{unique}-other"
    theirs = names.tag_list(names.tags(other, "web"))
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
        "Subnets"]][:2]
    expected = []
    # api: its role belongs to another stack, its instance profile and security group to none
    role = named[("iam role", "api")]
    iam.create_role(RoleName=role, Path="/", AssumeRolePolicyDocument="{}", Tags=theirs)
    iam.put_role_policy(RoleName=role, PolicyName=names.role_policy_name(), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    expected.append(f"iam role {role} belongs to stack {other}")
    iam.create_instance_profile(InstanceProfileName=role, Path="/")
    expected.append(f"instance profile {role} exists and is not made by liftshift")
    group = named[("security group", "api")]
    ec2.create_security_group(GroupName=group, Description="by hand", VpcId=vpc)
    expected.append(f"security group {group} (in {vpc}) exists and is not made by liftshift")
    template = named[("launch template", "api")]
    ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={"ImageId": "ami-12345678"})
    expected.append(f"launch template {template} exists and is not made by liftshift")
    # web, behind a load balancer: the load balancer is another stack's, the target group and group nobody's
    lb = named[("load balancer", "web")]
    elbv2.create_load_balancer(Name=lb, Subnets=subnets, Tags=theirs)
    expected.append(f"load balancer {lb} belongs to stack {other}")
    tg = named[("target group", "web")]
    elbv2.create_target_group(Name=tg, Protocol="HTTP", Port=80, VpcId=vpc)
    expected.append(f"target group {tg} exists and is not made by liftshift")
    ec2.create_launch_template(LaunchTemplateName=f"{unique}-by-hand", LaunchTemplateData={"ImageId": "ami-12345678"})
    asg = named[("auto scaling group", "web")]
    client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=asg, MinSize=0, MaxSize=0, VPCZoneIdentifier=subnets[0],
        LaunchTemplate={"LaunchTemplateName": f"{unique}-by-hand", "Version": "1"},
        Tags=[{"Key": t["Key"], "Value": t["Value"], "PropagateAtLaunch": False} for t in theirs])
    expected.append(f"auto scaling group {asg} belongs to stack {other}")
    # the stack's repository and log group names, made by hand: liftshift would push into and change them
    ecr.create_repository(repositoryName=f"{unique}/web")
    expected.append(f"ecr repository {unique}/web exists and is not made by liftshift")
    logs.create_log_group(logGroupName=f"/liftshift/{unique}")
    expected.append(f"log group /liftshift/{unique} exists and is not made by liftshift")
    return expected


def test_resources_of_another_owner_are_refused_by_plan_and_deploy(env, tmp_path, unique):
    app_yaml = write_app(tmp_path / "s", unique, {"web": {"load_balancer": LB}, "api": {"publish": 8082}})
    result = run_cli("plan", str(app_yaml), "-o", "json")
    assert result.exit_code == 0, result.output
    expected = made_by_hand(unique, json.loads(result.stdout)["steps"])
    before = snapshot()

    for command in ("plan", "deploy"):
        result = run_cli(command, str(app_yaml))
        assert result.exit_code == 2, result.output
        for problem in expected:
            assert problem in result.output, (command, problem, result.output)
        assert "nothing was changed" in result.output
        assert snapshot() == before
    item = client("dynamodb").get_item(TableName="liftshift-locks", Key={"stack": {"S": f"releases/{unique}"}})
    assert "Item" not in item  # no release recorded


def test_resources_this_stack_left_behind_are_adopted(env, tmp_path, unique):
    """With this stack's tag (an interrupted run's, not found by observation), a resource is this stack's."""
    app_yaml = write_app(tmp_path / "s", unique, {"web": {}})
    role = names.role(unique, "web")
    client("iam").create_role(RoleName=role, Path="/", AssumeRolePolicyDocument="{}",
                              Tags=names.tag_list(names.tags(unique, "web")))
    report = run(app_yaml)
    assert len(report["services"]["web"]["instances"]) == 1
    assert {s["Sid"] for s in policy_of(role)["Statement"]} >= {"PullOwnImages"}
    spec, _ = load_spec(app_yaml)
    destroy(spec, target(), keep_images=False)


def test_rollback_refuses_a_foreign_resource_under_a_recorded_name(env, tmp_path, unique):
    """A rollback makes the release's target group and Auto Scaling group again, by their recorded names."""
    from liftshift.pipeline.history import history

    app_yaml = write_app(tmp_path / "s", unique, {"web": {"load_balancer": LB}})
    run(app_yaml)
    (tmp_path / "s" / "site" / "index.html").write_text("second\n")
    run(app_yaml)
    spec, _ = load_spec(app_yaml)
    releases = history(spec, target())["services"]["web"]
    assert [(r["number"], r["serving"]) for r in releases] == [(2, True), (1, False)]
    tg = names.target_group(unique, "web", releases[1]["config"])
    vpc = client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    client("elbv2").create_target_group(Name=tg, Protocol="HTTP", Port=80, VpcId=vpc)
    before = snapshot()
    for extra in (["--dry-run"], []):
        result = run_cli("rollback", str(app_yaml), *extra)
        assert result.exit_code == 2, result.output
        assert f"target group {tg} exists and is not made by liftshift" in result.output
        assert snapshot() == before
    destroy(spec, target(), keep_images=False)


OLD_NAMES = {  # liftshift's names before they were unambiguous
    "role": lambda stack, service: names.bounded(f"liftshift-{stack}-{service}", 64),
    "security_group": lambda stack, service: f"liftshift-{stack}-{service}",
    "lb_security_group": lambda stack, service: f"liftshift-{stack}-{service}-lb",
    "launch_template": lambda stack, service, config: f"liftshift-{stack}-{service}-{config}",
    "auto_scaling_group": lambda stack, service, config: f"liftshift-{stack}-{service}-{config}",
    "load_balancer": lambda stack, service: names.bounded(f"ls-{stack}-{service}", 32),
    "target_group": lambda stack, service, config: names.bounded(f"ls-{stack}-{service}-{config}", 32),
}


def test_a_stack_made_under_the_old_names_is_kept_and_destroyed(env, tmp_path, unique, monkeypatch):
    app_yaml = write_app(tmp_path / "s", unique, {"web": {"load_balancer": LB}, "api": {"publish": 8082}})
    with monkeypatch.context() as old:
        for name, make in OLD_NAMES.items():
            old.setattr(names, name, make)
        run(app_yaml)
    lbs = [lb["LoadBalancerName"] for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]]
    assert lbs == [f"ls-{unique}-web"]
    # under the new names: the old resources are found by their tags and kept; only the roles are new
    report = run(app_yaml)
    assert {(c["action"], c["kind"]) for c in report["changes"]} == {("create", "iam role")}
    assert report["services"]["web"]["load_balancer"]["name"] == f"ls-{unique}-web"
    assert groups_of(unique).keys() == {f"liftshift-{unique}-web", f"liftshift-{unique}-web-lb",
                                        f"liftshift-{unique}-api"}
    assert run(app_yaml)["changed"] is False
    spec, _ = load_spec(app_yaml)
    destroy(spec, target(), keep_images=False)
    assert stack_tagged(unique) == {}
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert client("iam").list_roles()["Roles"] == []
