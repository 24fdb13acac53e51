"""Client tokens and "not yet" retries, where moto cannot show them.

EC2 keeps a client token after the instance has ended: a token repeated by a later launch gets the original
(perhaps terminated) reservation back, or IdempotentParameterMismatch. moto ignores tokens, so the test moto
server has AWS's semantics added (support/aws_semantics.py, installed for the whole session by conftest's
moto_server). Here: the plug-in itself, the planner's per-run tokens and retry rules, the executor's
resolution and retries, and on moto deploys that launch a configuration again (revert, destroy and re-create,
rollback) ending with the right instances running; with tokens repeated across runs (the old scheme), the
plug-in makes the revert fail as EC2 would.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from liftshift.apply import executor as apply

from liftshift import plan
from liftshift.apply.executor import Executor, StepFailed
from liftshift.model.observed import Observed
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.pipeline.describe import call_json as _call_json
from liftshift.progress import Progress
from liftshift.pipeline.history import history
from liftshift.pipeline.rollback import rollback
from liftshift.model.refs import Ref
from liftshift.spec.load import load_spec
from liftshift.model.steps import (NEW_FOR_AUTO_SCALING, NEW_GROUP_EC2, NEW_PROFILE_EC2, NEW_ROLE, NEW_TARGET_GROUP,
                             NEW_TEMPLATE_EC2, Call, RunToken, Step)
from liftshift.targets.aws import aws_target
from support import aws_semantics
from test_plan import DIGEST, LB, SUBNETS, calls, instance, want_web

# --------------------------------------------------------------------------- the planner and the executor


def every_call(steps: list[Step]) -> list[Call]:
    return [c for s in steps for c in s.calls]


def test_only_run_instances_and_create_launch_template_take_client_tokens():
    """Of every operation liftshift sends, botocore's models give an idempotency token to these two only: Auto
    Scaling, ELBv2, IAM, ECR, CloudWatch Logs, SSM and DynamoDB's calls used here take none."""
    import botocore.session

    session = botocore.session.get_session()
    used = {("ec2", "RunInstances"), ("ec2", "CreateLaunchTemplate"), ("ec2", "CreateSecurityGroup"),
            ("ec2", "AuthorizeSecurityGroupIngress"), ("ec2", "CreateTags"), ("ec2", "TerminateInstances"),
            ("autoscaling", "CreateAutoScalingGroup"), ("autoscaling", "UpdateAutoScalingGroup"),
            ("elbv2", "CreateLoadBalancer"), ("elbv2", "CreateTargetGroup"), ("elbv2", "CreateListener"),
            ("elbv2", "CreateRule"), ("elbv2", "ModifyListener"), ("iam", "CreateRole"),
            ("iam", "CreateInstanceProfile"), ("ecr", "CreateRepository"), ("logs", "CreateLogGroup"),
            ("ssm", "SendCommand"), ("dynamodb", "UpdateItem"), ("dynamodb", "PutItem")}
    tokens = {(service, op) for service, op in used
              if any(m.metadata.get("idempotencyToken")
                     for m in session.get_service_model(service).operation_model(op).input_shape.members.values())}
    assert tokens == {("ec2", "RunInstances"), ("ec2", "CreateLaunchTemplate")}


def test_every_client_token_is_a_per_run_placeholder_shown_as_such():
    steps = plan.plan_infrastructure(want_web(), Observed())
    tokened = [c for c in every_call(steps) if "ClientToken" in c.params]
    assert sorted(c.operation for c in tokened) == ["create_launch_template", "run_instances", "run_instances"]
    assert all(isinstance(c.params["ClientToken"], RunToken) for c in tokened)
    # plan -o json shows what kind of value it is, never a value, and stays JSON
    shown = [_call_json(c)["params"]["ClientToken"] for c in tokened]
    assert all(s.startswith("<token per run: ") for s in shown) and len(set(shown)) == 3
    json.dumps([_call_json(c) for c in every_call(steps)])

    from liftshift.model.releases import Release

    record = Release(service="web", number=1, config="c0nf1g", image=DIGEST, launch_template="liftshift.shop.web.c0nf1g",
                     at="", by="ci", commit=None, outcome="retired")
    rolled = plan.plan_instance_rollback("shop", "web", record, 2, SUBNETS, Observed(instances=[instance(0)]))
    assert all(isinstance(c.params["ClientToken"], RunToken) for c in calls(rolled, "run_instances"))


def test_a_token_is_the_same_within_a_run_and_new_in_every_run():
    first, second = (Executor(lambda _: None, None, Progress()) for _ in range(2))
    token = RunToken("run_instances liftshift.shop.web.abc subnet-a x1")
    assert first.resolve(token) == first.resolve(token)  # a retried call sends the same token
    assert first.resolve(token) != second.resolve(token)  # a later run never repeats it
    assert first.resolve(token) != first.resolve(RunToken("run_instances liftshift.shop.web.abc subnet-b x1"))
    assert len(first.resolve(token)) <= 64  # EC2: at most 64 ASCII characters


class NotYetClient:
    """A stub EC2 client: answers `code` (with `message`) `times` times, then succeeds; keeps what it was sent."""

    def __init__(self, code: str, message: str, times: int = 2):
        self.code, self.message, self.times = code, message, times
        self.sent: list[dict] = []

    def __getattr__(self, operation):
        def call(**params):
            self.sent.append(params)
            if len(self.sent) <= self.times:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": self.code, "Message": self.message}}, operation)
            return {"Instances": [{"InstanceId": "i-1"}]}
        return call


# Each "not yet" answer AWS gives while something just made propagates, and the call liftshift retries it on.
NOT_YET = [
    ("run_instances", NEW_PROFILE_EC2, "InvalidParameterValue",
     "Value (liftshift.shop.web) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"),
    ("run_instances", NEW_GROUP_EC2, "InvalidGroup.NotFound", "The security group 'sg-1' does not exist"),
    ("run_instances", NEW_TEMPLATE_EC2, "InvalidLaunchTemplateName.NotFoundException",
     "The specified launch template, with template name liftshift.shop.web.abc, does not exist."),
    ("create_auto_scaling_group", NEW_FOR_AUTO_SCALING, "ValidationError",
     "You must use a valid fully-formed launch template. Value (liftshift.shop.web) for parameter "
     "iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"),
    ("create_auto_scaling_group", NEW_FOR_AUTO_SCALING, "ValidationError", "Invalid IamInstanceProfile: x"),
    ("create_auto_scaling_group", NEW_FOR_AUTO_SCALING, "ValidationError",
     "You must use a valid fully-formed launch template. The specified launch template, with template name "
     "liftshift.shop.web.abc, does not exist."),
    ("create_auto_scaling_group", NEW_FOR_AUTO_SCALING, "ValidationError",
     "Provided Target Groups may not be valid. Please ensure they exist and try again."),
    ("create_rule", NEW_TARGET_GROUP, "TargetGroupNotFound", "Target groups 'arn:...' not found"),
    ("add_role_to_instance_profile", NEW_ROLE, "NoSuchEntity", "The role with name x cannot be found."),
]


@pytest.mark.parametrize("operation,rules,code,message", NOT_YET, ids=[f"{o}-{c}" for o, _, c, _ in NOT_YET])
def test_the_executor_retries_a_not_yet_answer_with_the_same_token(monkeypatch, operation, rules, code, message):
    monkeypatch.setattr(apply.time, "sleep", lambda _s: None)
    client = NotYetClient(code, message)
    executor = Executor(lambda _: client, None, Progress(), retry_seconds=60)
    step = Step("launch", "instances", "1 x web", "web", (
        Call("ec2", operation, {"ClientToken": RunToken("x")}, save={Ref("ids"): "Instances[].InstanceId"},
             retry=rules),))
    executor.run([step])
    assert executor.value(Ref("ids")) == ["i-1"] and len(client.sent) == 3
    assert len({p["ClientToken"] for p in client.sent}) == 1  # one launch intent, one token


def test_a_permanent_error_is_not_retried(monkeypatch):
    monkeypatch.setattr(apply.time, "sleep", lambda _s: pytest.fail("slept"))
    client = NotYetClient("InvalidParameterValue", "Invalid value 't9.huge' for InstanceType.")
    executor = Executor(lambda _: client, None, Progress())
    step = Step("launch", "instances", "1 x web", "web", (
        Call("ec2", "run_instances", {}, retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2 + NEW_TEMPLATE_EC2),))
    with pytest.raises(StepFailed):
        executor.run([step])
    assert len(client.sent) == 1


def test_the_not_yet_rules_of_every_call_that_uses_what_a_run_just_made():
    steps = plan.plan_infrastructure(want_web(), Observed())
    rules = {c.operation: set(c.retry) for c in every_call(steps)}
    assert set(NEW_ROLE) <= rules["put_role_policy"] and set(NEW_ROLE) <= rules["add_role_to_instance_profile"]
    assert set(NEW_GROUP_EC2) <= rules["authorize_security_group_ingress"]
    assert set(NEW_PROFILE_EC2 + NEW_GROUP_EC2) <= rules["create_launch_template"]
    assert set(NEW_PROFILE_EC2 + NEW_GROUP_EC2 + NEW_TEMPLATE_EC2) <= rules["run_instances"]

    fleet = plan.plan_infrastructure(want_web(load_balancer=LB), Observed())
    rules = {c.operation: set(c.retry) for c in every_call(fleet)}
    assert {"InvalidSecurityGroup"} <= rules["create_load_balancer"]
    assert {"LoadBalancerNotFound"} <= rules["modify_load_balancer_attributes"] & rules["create_listener"]
    assert set(NEW_TARGET_GROUP) <= rules["modify_target_group_attributes"] & rules["create_rule"] & rules[
        "modify_listener"]
    assert set(NEW_FOR_AUTO_SCALING) <= rules["create_auto_scaling_group"]
    for group in calls(fleet, "authorize_security_group_ingress"):  # the instances' group admits the new LB group
        assert set(NEW_GROUP_EC2) <= set(group.retry)

    from liftshift.model.releases import Release

    record = Release(service="web", number=1, config="c0nf1g", image=DIGEST, launch_template="liftshift.shop.web.c0nf1g",
                     at="", by="ci", commit=None, outcome="retired")
    rolled = plan.plan_instance_rollback("shop", "web", record, 1, SUBNETS, Observed())
    (run,) = calls(rolled, "run_instances")
    assert set(NEW_PROFILE_EC2 + NEW_TEMPLATE_EC2) <= set(run.retry)


# --------------------------------------------------------------------------- the plug-in on moto


def ec2():
    return boto3.client("ec2", region_name="eu-west-1")


def test_the_plugin_gives_moto_ec2s_token_semantics(aws_env):
    client = ec2()
    ami = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    run = {"ImageId": ami, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro", "ClientToken": "tok-1"}
    first = client.run_instances(**run)["Instances"][0]["InstanceId"]
    assert client.run_instances(**run)["Instances"][0]["InstanceId"] == first  # a retry: no second instance
    client.terminate_instances(InstanceIds=[first])
    again = client.run_instances(**run)["Instances"][0]  # the original reservation (moto renders it as launched)
    assert again["InstanceId"] == first
    state = client.describe_instances(InstanceIds=[first])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.run_instances(**{**run, "InstanceType": "t3.small"})
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    other = client.run_instances(**{**run, "ClientToken": "tok-2"})["Instances"][0]["InstanceId"]
    assert other != first

    template = {"LaunchTemplateName": "lt-a", "LaunchTemplateData": {"ImageId": ami}, "ClientToken": "tok-3"}
    made = client.create_launch_template(**template)["LaunchTemplate"]["LaunchTemplateId"]
    client.delete_launch_template(LaunchTemplateId=made)
    assert client.create_launch_template(**template)["LaunchTemplate"]["LaunchTemplateId"] == made  # the deleted one
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.create_launch_template(**{**template, "LaunchTemplateData": {"ImageId": ami, "InstanceType": "t3.nano"}})
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    assert client.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]  # botocore's own token: passed


# --------------------------------------------------------------------------- deploys on moto with the plug-in


@pytest.fixture
def env(deploy_env):
    return deploy_env

def target():
    return aws_target(None, None, Progress())


def run_deploy(app_yaml: Path) -> dict:
    spec, base = load_spec(app_yaml)
    return deploy(spec, base, target())["services"]["web"]


def running(stack: str) -> list[tuple[str, str]]:
    """(instance id, config tag) of the stack's pending or running instances, as EC2 reports them."""
    out = []
    for r in ec2().describe_instances(Filters=[{"Name": "tag:liftshift:stack", "Values": [stack]},
                                              {"Name": "instance-state-name", "Values": ["pending", "running"]}])[
            "Reservations"]:
        for i in r["Instances"]:
            tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            out.append((i["InstanceId"], tags.get("liftshift:config")))
    return sorted(out)


def set_env(app_yaml: Path, value: str | None) -> None:
    text = app_yaml.read_text().split("    env:")[0].rstrip("\n") + "\n"
    app_yaml.write_text(text + (f"    env: {{GREETING: {value}}}\n" if value else ""))


def test_revert_destroy_recreate_and_rollback_launch_running_instances(env, stack_dir, unique):
    app_yaml = stack_dir / "app.yaml"
    before = dict(aws_semantics.seen)
    first = run_deploy(app_yaml)
    assert [c for _, c in running(unique)] == [first["config"]]

    set_env(app_yaml, "changed")
    changed = run_deploy(app_yaml)
    assert changed["config"] != first["config"] and [c for _, c in running(unique)] == [changed["config"]]

    set_env(app_yaml, None)  # reverted: the first configuration is launched again
    reverted = run_deploy(app_yaml)
    assert reverted["config"] == first["config"]
    (now,) = running(unique)
    assert now[1] == first["config"] and now[0] != first["instances"][0]["id"]

    spec, _ = load_spec(app_yaml)
    destroy(spec, target(), keep_images=False)
    assert running(unique) == []
    recreated = run_deploy(app_yaml)  # the same stack and configuration again
    assert recreated["config"] == first["config"] and [c for _, c in running(unique)] == [first["config"]]

    set_env(app_yaml, "changed")
    run_deploy(app_yaml)
    spec, _ = load_spec(app_yaml)
    rollback(spec, target(), None, None)  # back to the first configuration, from its recorded template
    assert [c for _, c in running(unique)] == [first["config"]]
    made = history(spec, target())["services"]["web"]
    assert made[0]["serving"] is False and any(r["serving"] and r["config"] == first["config"] for r in made)
    # no launch was answered from an earlier launch's token
    assert aws_semantics.seen == before


def test_tokens_repeated_across_runs_get_the_terminated_instance_back(env, stack_dir, unique, monkeypatch):
    """What liftshift did before per-run tokens (a token that is a function of the configuration alone): the
    revert's launch repeats the first launch's token, and EC2 (here the plug-in) answers with the terminated
    instance, whose wait for `running` fails."""
    fresh = apply.new_run_id
    monkeypatch.setattr(apply, "new_run_id", lambda: "the-same-in-every-run")
    app_yaml = stack_dir / "app.yaml"
    first = run_deploy(app_yaml)
    set_env(app_yaml, "changed")
    changed = run_deploy(app_yaml)
    set_env(app_yaml, None)
    repeats = aws_semantics.seen["repeats"]
    with pytest.raises(StepFailed, match="waiting"):
        run_deploy(app_yaml)
    assert aws_semantics.seen["repeats"] == repeats + 1
    gone = ec2().describe_instances(InstanceIds=[first["instances"][0]["id"]])["Reservations"][0]["Instances"][0]
    assert gone["State"]["Name"] in ("shutting-down", "terminated")
    monkeypatch.setattr(apply, "new_run_id", fresh)
    # with a fresh token per run the same deploy converges
    assert [c for _, c in running(unique)] == [changed["config"]]  # the failed launch left the change running
    assert run_deploy(app_yaml)["config"] == first["config"]
    assert [c for _, c in running(unique)] == [first["config"]]
    spec, _ = load_spec(app_yaml)
    destroy(spec, target(), keep_images=False)


FLEET = Path(__file__).resolve().parent.parent / "stacks" / "fleet"


def test_a_fleet_destroyed_and_created_again_gets_a_new_launch_template(env, tmp_path, unique, monkeypatch):
    from support.lb import answering_server

    target_dir = tmp_path / "fleet"
    shutil.copytree(FLEET, target_dir)
    app_yaml = target_dir / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace("name: fleet", f"name: {unique}"))
    before = dict(aws_semantics.seen)
    with answering_server() as (_answer, address):
        monkeypatch.setenv("LIFTSHIFT_LB_ENDPOINT", address)
        spec, base = load_spec(app_yaml)
        first = deploy(spec, base, target())["services"]["web"]
        destroy(spec, target(), keep_images=False)
        again = deploy(spec, base, target())["services"]["web"]
        destroy(spec, target(), keep_images=False)
    assert again["launch_template"] == first["launch_template"] and again["load_balancer"]["release"] == 1
    assert aws_semantics.seen == before  # the template was made anew, not answered from the deleted one's token
