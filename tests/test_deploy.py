"""Integration: the whole deploy against moto (server mode), the real Docker engine and a real registry."""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from liftshift.model import names
from liftshift.apply.executor import Executor
from liftshift.aws.session import CallLog
from liftshift.cli.base import app
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.pipeline.prepare import prepare
from liftshift.pipeline.status import status
from liftshift.progress import Progress
from liftshift.pipeline.history import history
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged
from support.registry import registry_digest

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"


@pytest.fixture
def env(aws_env, registry, busybox_image, docker_client, monkeypatch):
    monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # moto answers unimplemented calls with 500: fail fast
    return registry


@pytest.fixture
def cleanup_images(docker_client, env, unique):
    yield
    for image in docker_client.images.list():
        for tag in image.tags:  # untag: an `image:` service's tag may sit on a shared base image
            if tag.startswith(f"{env.host}/{unique}/"):
                docker_client.images.remove(tag)


def client(name):
    return boto3.client(name, region_name="eu-west-1")


def target(call_log=None):
    return aws_target(None, None, Progress(), call_log)


def edit(app_yaml: Path, old: str, new: str) -> None:
    text = app_yaml.read_text()
    assert old in text
    app_yaml.write_text(text.replace(old, new))


def template_user_data(template_name: str) -> str:
    version = client("ec2").describe_launch_template_versions(LaunchTemplateName=template_name)["LaunchTemplateVersions"][0]
    return base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode()


def test_deploy_runs_the_stack_with_the_pushed_digest(env, stack_dir, unique, cleanup_images):
    spec, base = load_spec(stack_dir / "app.yaml")
    report = deploy(spec, base, target())

    web = report["services"]["web"]
    assert [i["state"] for i in web["instances"]] == ["running"]
    served = registry_digest(env.host, f"{unique}/web", _pushed_tag(env.url, unique))
    assert served and web["image"] == served

    ec2 = client("ec2")
    template = ec2.describe_launch_templates(LaunchTemplateNames=[web["launch_template"]])["LaunchTemplates"][0]
    tags = names.tag_dict(template["Tags"])
    assert tags[names.TAG_STACK] == unique and tags[names.TAG_SERVICE] == "web"
    data = ec2.describe_launch_template_versions(LaunchTemplateName=web["launch_template"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    assert ebs["Encrypted"] is True and ebs["VolumeType"] == "gp3"
    user_data = template_user_data(web["launch_template"])
    assert f"{env.host}/{unique}/web@{served}" in user_data
    assert ":img-" not in user_data  # pulled by digest only

    instance_id = web["instances"][0]["id"]
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    itags = names.tag_dict(instance["Tags"])
    assert itags[names.TAG_STACK] == unique and itags[names.TAG_CONFIG] == web["config"]
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"/liftshift/{unique}/{names.role(unique, 'web')}")
    attr = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    assert base64.b64decode(attr["UserData"]["Value"]).decode() == user_data

    group = ec2.describe_security_groups(GroupIds=[g["GroupId"] for g in instance["SecurityGroups"]])["SecurityGroups"][0]
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]])
            for p in group["IpPermissions"]] == [("tcp", 8080, 8080, ["0.0.0.0/0"])]

    repo = client("ecr").describe_repositories(repositoryNames=[f"{unique}/web"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert client("ecr").get_lifecycle_policy(repositoryName=f"{unique}/web")["lifecyclePolicyText"]

    policy = json.loads(json.dumps(client("iam").get_role_policy(
        RoleName=names.role(unique, "web"), PolicyName=names.role_policy_name())["PolicyDocument"]))
    resources = {s["Sid"]: s.get("Resource", s.get("NotResource")) for s in policy["Statement"]}
    assert resources["EcrLogin"] == "*"
    assert resources["PullOwnImages"].endswith(f":repository/{unique}/web")
    assert resources["WriteOwnLogStreams"].endswith(f":log-group:/liftshift/{unique}:log-stream:web/*")
    assert resources["ReadNoOtherParameters"] == resources["ReadNoOtherSecrets"] == "*"  # it has no secrets
    attached = client("iam").list_attached_role_policies(RoleName=names.role(unique, "web"))["AttachedPolicies"]
    assert attached == []  # SSM's agent permissions only for in-place rollouts
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1  # the containers do not get the role
    assert client("logs").describe_log_groups(logGroupNamePrefix=f"/liftshift/{unique}")["logGroups"]


def _pushed_tag(registry_url: str, stack: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{registry_url}/v2/{stack}/web/tags/list") as response:
        tags = json.load(response)["tags"]
    assert len(tags) == 1 and tags[0].startswith("img-")
    return tags[0]


def test_second_deploy_makes_no_mutating_call_and_plan_is_empty(env, stack_dir, unique, cleanup_images):
    spec, base = load_spec(stack_dir / "app.yaml")
    first = deploy(spec, base, target())
    log = CallLog()
    again = deploy(spec, base, target(log))
    assert again["changed"] is False and again["changes"] == []
    assert log.stack_changes() == []
    assert log.mutating() == ["dynamodb:PutItem", "dynamodb:DeleteItem"]  # only the deploy lock is written
    assert again["services"] == first["services"]
    prepared = prepare(spec, base, target())
    assert prepared.steps == []


def test_a_role_with_other_permissions_is_brought_back_to_least_privilege(env, stack_dir, unique, cleanup_images):
    """A role as an older liftshift left it (SSM's managed policy attached, a broader inline policy) is
    updated in place by the next deploy; a switch to in-place rollouts attaches SSM's policy, and back."""
    app_yaml = stack_dir / "app.yaml"
    spec, base = load_spec(app_yaml)
    deploy(spec, base, target())
    iam, role = client("iam"), names.role(unique, "web")
    ssm_policy = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    wanted = iam.get_role_policy(RoleName=role, PolicyName=names.role_policy_name())["PolicyDocument"]
    iam.attach_role_policy(RoleName=role, PolicyArn=ssm_policy)
    iam.put_role_policy(RoleName=role, PolicyName=names.role_policy_name(), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    iam.update_role(RoleName=role, Description=f"liftshift instances of {unique}/web")

    report = deploy(spec, base, target())
    assert [(c["action"], c["kind"]) for c in report["changes"]] == [("update", "iam role")]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert iam.get_role_policy(RoleName=role, PolicyName=names.role_policy_name())["PolicyDocument"] == wanted
    assert deploy(spec, base, target())["changed"] is False

    edit(app_yaml, "    publish: 8080\n", "    publish: 8080\n    rollout: {strategy: in-place}\n")
    spec, base = load_spec(app_yaml)
    deploy(spec, base, target())
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ssm_policy]


def test_changed_settings_replace_instances_and_count_spreads(env, stack_dir, unique, cleanup_images):
    app_yaml = stack_dir / "app.yaml"
    spec, base = load_spec(app_yaml)
    first = deploy(spec, base, target())["services"]["web"]
    edit(app_yaml, "    publish: 8080\n", "    publish: 8080\n    env: {GREETING: hi}\n    instances: {count: 3}\n")
    spec, base = load_spec(app_yaml)
    second = deploy(spec, base, target())["services"]["web"]

    assert second["config"] != first["config"]
    live = [i for i in second["instances"] if i["state"] in ("pending", "running")]
    assert len(live) == 3 and first["instances"][0]["id"] not in {i["id"] for i in live}
    assert len({i["subnet"] for i in live}) == 3  # spread over the default subnets
    templates = client("ec2").describe_launch_templates(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [unique]}])["LaunchTemplates"]
    # the first release's template is kept for rollback; the second serves
    assert sorted(t["LaunchTemplateName"] for t in templates) == sorted([first["launch_template"],
                                                                         second["launch_template"]])
    assert "GREETING=hi" in template_user_data(second["launch_template"])
    made = history(spec, target())["services"]["web"]
    assert [(r["number"], r["outcome"], r["launch_template"]) for r in made] == [
        (2, "live", second["launch_template"]), (1, "retired", first["launch_template"])]

    edit(app_yaml, "count: 3", "count: 1")
    spec, base = load_spec(app_yaml)
    third = deploy(spec, base, target())["services"]["web"]
    assert third["config"] == second["config"]  # count changes in place: no replacement
    live = [i["id"] for i in third["instances"] if i["state"] in ("pending", "running")]
    assert len(live) == 1 and live[0] in {i["id"] for i in second["instances"]}


def test_interrupted_deploy_converges(env, stack_dir, unique, cleanup_images):
    spec, base = load_spec(stack_dir / "app.yaml")
    t = target()
    prepared = prepare(spec, base, t)
    executor = Executor(t.aws.client, None, Progress())
    # Stop after the role's first call (create_role) and the log group: a half-made stack.
    partial = [s for s in prepared.infra_steps if s.kind == "log group"]
    role_step = next(s for s in prepared.infra_steps if s.kind == "iam role")
    partial.append(type(role_step)(role_step.action, role_step.kind, role_step.name, role_step.service,
                                   role_step.calls[:1], role_step.detail))
    executor.run(partial)

    report = deploy(spec, base, target())
    assert len(report["services"]["web"]["instances"]) == 1
    profile = client("iam").get_instance_profile(InstanceProfileName=names.role(unique, "web"))["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [names.role(unique, "web")]
    assert client("iam").get_role_policy(RoleName=names.role(unique, "web"), PolicyName=names.role_policy_name())


def test_destroy_removes_only_what_the_stack_owns(env, stack_dir, unique, cleanup_images):
    spec, base = load_spec(stack_dir / "app.yaml")
    deploy(spec, base, target())
    ec2, iam, ecr, logs = client("ec2"), client("iam"), client("ecr"), client("logs")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    # Look-alikes with similar names and no stack tag.
    lookalike_group = ec2.create_security_group(GroupName=f"liftshift.{unique}.web.old", Description="x", VpcId=vpc)["GroupId"]
    iam.create_role(RoleName=f"liftshift.{unique}.other", Path=f"/liftshift/{unique}/",
                    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    ecr.create_repository(repositoryName=f"{unique}/other")
    logs.create_log_group(logGroupName=f"/liftshift/{unique}-other")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    stranger = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                 TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"{unique}-web"}]}])["Instances"][0]["InstanceId"]

    assert stack_tagged(unique)
    destroy(spec, target(), keep_images=False)
    assert stack_tagged(unique) == {}
    assert ec2.describe_security_groups(GroupIds=[lookalike_group])["SecurityGroups"]
    assert iam.get_role(RoleName=f"liftshift.{unique}.other")
    assert ecr.describe_repositories(repositoryNames=[f"{unique}/other"])["repositories"]
    assert logs.describe_log_groups(logGroupNamePrefix=f"/liftshift/{unique}-other")["logGroups"]
    state = ec2.describe_instances(InstanceIds=[stranger])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"
    assert status(spec, target())["services"]["web"]["instances"] == []


def test_destroy_keep_images_keeps_the_repository(env, stack_dir, unique, cleanup_images):
    spec, base = load_spec(stack_dir / "app.yaml")
    deploy(spec, base, target())
    destroy(spec, target(), keep_images=True)
    assert set(stack_tagged(unique)) == {"repositories"}


# --- through the command line ---------------------------------------------------------


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_cli_deploy_status_destroy_json(env, stack_dir, unique, cleanup_images):
    app_yaml = str(stack_dir / "app.yaml")
    result = run_cli("deploy", app_yaml, "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stack"] == unique and report["changed"] is True
    assert report["services"]["web"]["instances"][0]["private_ip"]

    shown = json.loads(run_cli("status", app_yaml, "-o", "json").stdout)
    assert shown["services"]["web"]["image"] == report["services"]["web"]["image"]
    plan = json.loads(run_cli("plan", app_yaml, "-o", "json").stdout)
    assert plan["steps"] == []

    refused = run_cli("destroy", app_yaml)  # not a terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert stack_tagged(unique)
    gone = run_cli("destroy", app_yaml, "--yes", "-o", "json")
    assert gone.exit_code == 0 and json.loads(gone.stdout)["removed"]
    assert stack_tagged(unique) == {}


def test_bad_input_exits_2_and_creates_nothing(env, stack_dir, unique, docker_client):
    app_yaml = stack_dir / "app.yaml"
    edit(app_yaml, "    port: 8080\n", "    prot: 8080\n")
    images_before = {i.id for i in docker_client.images.list(all=True)}
    for command in ("validate", "plan", "deploy", "status", "render", "destroy"):
        result = run_cli(command, str(app_yaml), "--yes") if command == "destroy" else run_cli(command, str(app_yaml))
        assert result.exit_code == 2, (command, result.output)
        assert f"{app_yaml}:6: services.web.prot: unknown field (did you mean 'port'?)" in result.stderr
    assert {i.id for i in docker_client.images.list(all=True)} == images_before
    assert client("ecr").describe_repositories()["repositories"] == []
    assert client("ec2").describe_launch_templates()["LaunchTemplates"] == []


def test_missing_dockerfile_and_credentials_exit_2(env, stack_dir, unique, monkeypatch):
    (stack_dir / "Dockerfile").unlink()
    result = run_cli("deploy", str(stack_dir / "app.yaml"))
    assert result.exit_code == 2 and "no Dockerfile" in result.stderr
    shutil.copy(HELLO / "Dockerfile", stack_dir / "Dockerfile")

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(stack_dir / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(stack_dir / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run_cli("deploy", str(stack_dir / "app.yaml"))
    assert result.exit_code == 2 and "no AWS credentials" in result.stderr

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = run_cli("plan", str(stack_dir / "app.yaml"))
    assert result.exit_code == 2 and "no AWS region" in result.stderr
    assert client("ecr").describe_repositories()["repositories"] == []


def test_failed_build_exits_1_before_anything_is_created(env, stack_dir, unique):
    (stack_dir / "Dockerfile").write_text("FROM busybox:1.36\nRUN echo building && false\n")
    result = run_cli("deploy", str(stack_dir / "app.yaml"))
    assert result.exit_code == 1
    assert "RUN echo building && false" in result.stderr
    assert stack_tagged(unique) == {}


def test_render_shows_the_user_data(env, stack_dir, unique, cleanup_images):
    result = run_cli("render", str(stack_dir / "app.yaml"), "--service", "web")
    assert result.exit_code == 0, result.output
    assert "#!/bin/bash" in result.stdout and "HttpTokens" in result.stdout
    assert run_cli("render", str(stack_dir / "app.yaml"), "--service", "nope").exit_code == 2


def test_a_held_lock_exits_4_naming_the_holder_and_unlock_clears_it(env, stack_dir, unique, cleanup_images):
    import threading

    from liftshift.aws import lock

    app_yaml = str(stack_dir / "app.yaml")
    dynamodb = client("dynamodb")
    held = lock.acquire(dynamodb, unique, "ci-runner-7 pid 42", "deploy")
    result = run_cli("deploy", app_yaml)
    assert result.exit_code == 4
    assert "ci-runner-7 pid 42" in result.stderr and "since" in result.stderr
    assert run_cli("destroy", app_yaml, "--yes").exit_code == 4
    assert stack_tagged(unique) == {}  # nothing was built into AWS while locked

    unlocked = run_cli("unlock", app_yaml)
    assert unlocked.exit_code == 0 and "ci-runner-7 pid 42" in unlocked.stdout
    assert lock.current(dynamodb, unique) is None

    held = lock.acquire(dynamodb, unique, "other deploy", "deploy")
    releaser = threading.Timer(1.0, lambda: lock.release(dynamodb, unique, held.token))
    releaser.start()
    try:
        waited = run_cli("deploy", app_yaml, "--lock-wait", "30")
    finally:
        releaser.cancel()
    assert waited.exit_code == 0, waited.output
    assert lock.current(dynamodb, unique) is None  # released after the deploy


def _slow_calls(monkeypatch, seconds: float):
    """Every planned AWS call takes `seconds` longer: a deploy that outlives a short lock ttl.
    Returns the original method, to put back."""
    original = Executor._call

    def slow(self, step, call):
        time.sleep(seconds)
        return original(self, step, call)

    monkeypatch.setattr(Executor, "_call", slow)
    return original


def test_a_deploy_longer_than_the_lock_ttl_keeps_its_lock(env, stack_dir, unique, cleanup_images, monkeypatch):
    import threading

    from liftshift.aws import lock

    monkeypatch.setattr(lock, "DEFAULT_TTL", 2)
    _slow_calls(monkeypatch, 0.3)
    dynamodb = client("dynamodb")
    done = threading.Event()
    tries: list[tuple[float, object]] = []

    def second_deploy() -> None:  # tries to take the stack's lock while the first deploy runs
        while not done.is_set():
            try:
                taken = lock.acquire(client("dynamodb"), unique, "second deploy", "deploy")
                lock.release(dynamodb, unique, taken.token)
                tries.append((time.monotonic(), "taken"))
            except lock.LockHeld:
                tries.append((time.monotonic(), "held"))
            except Exception as exc:  # no table yet
                tries.append((time.monotonic(), repr(exc)))
            time.sleep(0.2)

    start = time.monotonic()
    racer = threading.Thread(target=second_deploy, daemon=True)
    racer.start()
    try:
        result = run_cli("deploy", str(stack_dir / "app.yaml"))
    finally:
        done.set()
        racer.join()
    elapsed = time.monotonic() - start
    assert result.exit_code == 0, result.output
    assert elapsed > 3 * lock.DEFAULT_TTL  # the deploy outlived its first lease many times over
    # once the first deploy held the lock, no other run could take it until it ended
    first_held = next(t for t, outcome in tries if outcome == "held")
    assert [o for t, o in tries if first_held <= t < start + elapsed - 1] == ["held"] * len(
        [t for t, _ in tries if first_held <= t < start + elapsed - 1])
    assert lock.current(dynamodb, unique) is None


def test_a_deploy_that_loses_its_lock_stops_with_exit_4_and_a_rerun_converges(env, stack_dir, unique,
                                                                              cleanup_images, monkeypatch):
    import threading

    from liftshift.aws import lock

    monkeypatch.setattr(lock, "DEFAULT_TTL", 3)
    fast = _slow_calls(monkeypatch, 0.5)
    dynamodb = client("dynamodb")
    taken: list[lock.Lock] = []

    def take_over() -> None:  # someone runs `liftshift unlock` and deploys while the first deploy applies
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                holder = lock.current(dynamodb, unique)
            except Exception:
                holder = None
            if holder is not None and stack_tagged(unique):  # the deploy is changing AWS
                lock.force_unlock(dynamodb, unique)
                taken.append(lock.acquire(dynamodb, unique, "operator", "deploy", ttl=600))
                return
            time.sleep(0.1)

    thief = threading.Thread(target=take_over, daemon=True)
    thief.start()
    result = run_cli("deploy", str(stack_dir / "app.yaml"))
    thief.join()
    assert taken, "the deploy ended before anything was created"
    assert result.exit_code == 4, result.output
    assert "was lost" in result.stderr
    holder = lock.current(dynamodb, unique)
    assert holder is not None and holder.token == taken[0].token  # the other run's lock is untouched

    lock.release(dynamodb, unique, taken[0].token)
    monkeypatch.setattr(Executor, "_call", fast)
    again = run_cli("deploy", str(stack_dir / "app.yaml"), "-o", "json")
    assert again.exit_code == 0, again.output
    web = json.loads(again.stdout)["services"]["web"]
    assert [i["state"] for i in web["instances"]] == ["running"]
    settled = run_cli("deploy", str(stack_dir / "app.yaml"), "-o", "json")
    assert settled.exit_code == 0 and json.loads(settled.stdout)["changed"] is False


def test_plan_warns_and_strict_refuses_open_ssh_and_foreign_amis(env, stack_dir, unique, cleanup_images):
    app_yaml = stack_dir / "app.yaml"
    edit(app_yaml, "    publish: 8080\n", "    publish: 8080\n    instances: {ssh_ingress: [0.0.0.0/0], key_name: ops}\n")
    plan = run_cli("plan", str(app_yaml), "-o", "json")
    assert plan.exit_code == 0
    assert any("SSH (22)" in w for w in json.loads(plan.stdout)["warnings"])
    strict = run_cli("deploy", str(app_yaml), "--strict")
    assert strict.exit_code == 2 and "--strict" in strict.stderr and "SSH" in strict.stderr
    assert stack_tagged(unique) == {}

    ec2 = client("ec2")
    foreign = ec2.register_image(Name=f"{unique}-image", RootDeviceName="/dev/xvda")["ImageId"]
    edit(app_yaml, "instances: {ssh_ingress: [0.0.0.0/0], key_name: ops}", f"instances: {{ami: {foreign}}}")
    plan = run_cli("plan", str(app_yaml), "--strict")
    assert plan.exit_code == 2 and "not owned by Amazon" in plan.stdout + plan.stderr


def test_an_image_service_is_copied_into_the_stack_repository(env, tmp_path, unique, cleanup_images, docker_client):
    app_yaml = tmp_path / "app.yaml"
    app_yaml.write_text(
        f"version: 1\nname: {unique}\nservices:\n  cache:\n    image: busybox:1.36\n    port: 8080\n"
        "    command: [httpd, -f, -p, '8080']\n")
    spec, base = load_spec(app_yaml)
    report = deploy(spec, base, target())
    cache = report["services"]["cache"]
    local_id = docker_client.images.get("busybox:1.36").id
    assert registry_digest(env.host, f"{unique}/cache", "img-" + local_id.split(":")[1]) == cache["image"]
    user_data = template_user_data(cache["launch_template"])
    assert f"{env.host}/{unique}/cache@{cache['image']}" in user_data and "httpd" in user_data


def test_what_plan_prints_is_what_deploy_does(env, stack_dir, unique, cleanup_images):
    app_yaml = stack_dir / "app.yaml"

    def summary(steps):
        return [(s["action"], s["kind"], s["name"], s["service"]) for s in steps]

    for change in (None, ("    publish: 8080\n", "    publish: 8080\n    instances: {count: 2}\n"),
                   ("<h1>", "<h1>Changed: ")):
        if change:
            target_file = app_yaml if change[0].startswith("    publish") else stack_dir / "site" / "index.html"
            target_file.write_text(target_file.read_text().replace(*change))
        planned = json.loads(run_cli("plan", str(app_yaml), "-o", "json").stdout)["steps"]
        done = json.loads(run_cli("deploy", str(app_yaml), "-o", "json").stdout)["changes"]
        assert planned and summary(planned) == summary(done)


def test_retried_calls_are_shown_only_with_verbose(env, stack_dir, unique, cleanup_images, monkeypatch):
    from support.faults import FaultInjector

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    app_yaml = str(stack_dir / "app.yaml")
    outputs = {}
    for flags in ((), ("--verbose",)):
        with FaultInjector(throttle=0.3, seed=7).install(backoff_scale=0.01) as injector:
            result = run_cli("status", app_yaml, *flags)
        assert result.exit_code == 0, result.output
        assert injector.throttled > 0
        outputs[flags] = result.stderr
    assert "retrying" not in outputs[()]
    assert "retrying" in outputs[("--verbose",)] and "(attempt 2)" in outputs[("--verbose",)]
