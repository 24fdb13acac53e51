"""The README's "Permissions for the deployer" cannot drift from the code.

Every AWS operation liftshift makes is an IAM action of the same name (the ELBv2 client's prefix is
`elasticloadbalancing`). Two sources are checked against the README's table:

* what real runs call: deploy, a changed deploy, a failing release, rollback, history, status and destroy of a
  stack without a load balancer, of one with `rollout.strategy: in-place`, of one with a load balancer, and of one
  with secrets, against moto, every call recorded by liftshift.aws.session.CallLog (botocore's before-call event on every
  client liftshift makes, so the health gates' and waiters' reads too);
* what the code can call at all: every `Call("client", "operation")` and `Wait("client", "waiter")` the planners
  emit (plan/) and every direct client call in liftshift/ (the gates, the lock, the release store, observation,
  ownership).

The runs also check the README's split: a stack without a load balancer uses only the "every stack" rows, an
in-place stack adds only the in-place rows, a load-balanced stack only the load_balancer rows.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import boto3
import pytest

from liftshift.aws.session import CallLog
from liftshift.apply.gate import RolloutFailed
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.pipeline.prepare import prepare
from liftshift.pipeline.status import status
from liftshift.progress import Progress
from liftshift.pipeline.history import history
from liftshift.pipeline.rollback import rollback
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.lb import answering_server

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PREFIX = {"elbv2": "elasticloadbalancing", "service-quotas": "servicequotas"}  # client -> IAM prefix, if not equal
NO_PERMISSION = {"sts:GetCallerIdentity"}  # "No permissions are required to perform this operation" (STS API)
SERVICES = {"ec2", "iam", "ecr", "logs", "elbv2", "autoscaling", "ssm", "dynamodb", "sts", "route53"}
# The local rehearsal's own code talks to its emulator, never to AWS with the deployer's credentials.
LOCAL_ONLY = ("targets", "local")  # liftshift/targets/local/
# Modules whose functions take a ready DynamoDB client (named `client`): the lock and the release store.
DYNAMODB_MODULES = {("aws", "lock.py"), ("aws", "release_store.py")}


# 'every stack' actions the runs above do not reach: an explicit AMI id, a role of an older liftshift, a lost lock
RARE = {"ec2:DescribeImages", "iam:UpdateRole", "ec2:RevokeSecurityGroupIngress", "dynamodb:DescribeTable",
        "dynamodb:CreateTable"}

# load_balancer actions they do not reach: a count change, targets not (yet) healthy (moto's are at once)
RARE_LB = {"autoscaling:UpdateAutoScalingGroup", "autoscaling:DescribeScalingActivities", "logs:GetLogEvents"}


def readme_permissions() -> dict[str, set[str]]:
    """The README's permission table: category ("every", "lb", "in-place", "ecr", "data", "dns", "check") -> IAM
    actions ("check": `runbook --check`'s pre-flight checks, tests/test_runbook_check.py; "logs": `liftshift logs`,
    tests/test_logs.py)."""
    text = README.read_text()
    start = text.index("## Permissions for the deployer")
    end = text.find("\n## ", start + 1)
    section = text[start: end if end > 0 else len(text)]
    out: dict[str, set[str]] = {"every": set(), "lb": set(), "in-place": set(), "ecr": set(), "data": set(),
                                "dns": set(), "check": set(), "logs": set()}
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("| ---"):
            continue
        when = line.split("|")[1]
        category = ("check" if "--check" in when else "logs" if "liftshift logs" in when
                    else "lb" if "load_balancer" in when
                    else "in-place" if "in-place" in when else "ecr" if "ECR" in when
                    else "data" if "`data`" in when else "dns" if "`dns`" in when
                    else "every" if "every" in when
                    else None)
        if category is None:
            continue
        out[category] |= set(re.findall(r"`([a-z0-9-]+:[A-Za-z*]+)`", line))
    return out


def action(service: str, operation: str) -> str:
    return f"{PREFIX.get(service, service)}:{operation}"


def actions(log: CallLog) -> set[str]:
    return {action(s, o) for s, o in log.calls} - NO_PERMISSION


# --- what the code can call -----------------------------------------------------------------------------


def _operation(service: str, method: str) -> str | None:
    """The API operation a client method, waiter ("wait:name" or get_waiter) or paginator names, or None."""
    client = boto3.client(service, region_name="eu-west-1")
    if method.startswith("wait:"):
        return client.get_waiter(method[5:]).config.operation
    return client.meta.method_to_api_mapping.get(method)


def code_actions() -> set[str]:
    """Every (client, operation) liftshift's code can call against AWS, as IAM actions."""
    found: set[str] = set()
    for path in sorted((ROOT / "liftshift").rglob("*.py")):
        where = path.relative_to(ROOT / "liftshift").parts
        if where[:2] == LOCAL_ONLY:
            continue
        tree = ast.parse(path.read_text())
        bound: dict[str, str] = {}  # variable -> client name, from `x = ....client("svc")`
        default = "dynamodb" if where in DYNAMODB_MODULES else None
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                service = _client_name(node.value)
                if service:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            bound[target.id] = service
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            # Call("ec2", "run_instances", ...) and Wait("ec2", "instance_running", ...): what the planners emit
            if isinstance(func, ast.Name) and func.id in ("Call", "Wait") and len(node.args) >= 2 and all(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[:2]):
                service, method = node.args[0].value, node.args[1].value
                if func.id == "Wait":
                    method = "wait:" + method  # the waiter's describe operation
                operation = _operation(service, method)
                assert operation, f"{path}: {func.id}({service!r}, {node.args[1].value!r}) is no {service} operation"
                found.add(action(service, operation))
                continue
            if not isinstance(func, ast.Attribute):
                continue
            owner = func.value
            # a client bound by assignment, a parameter named after its service (`ec2`), lock.py's `client`
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
            service = _client_name(owner) if isinstance(owner, ast.Call) else (
                bound.get(name) or (name if name in SERVICES else None)
                or (default if name in ("client", "dynamodb_client") else None))
            if not service:
                continue
            method = func.attr
            if method in ("get_paginator", "get_waiter") and node.args and isinstance(node.args[0], ast.Constant):
                method = ("wait:" if method == "get_waiter" else "") + node.args[0].value
            operation = _operation(service, method)
            if operation:
                found.add(action(service, operation))
    return found - NO_PERMISSION


def _client_name(node: ast.Call) -> str | None:
    """"svc" for `<anything>.client("svc")`."""
    if isinstance(node.func, ast.Attribute) and node.func.attr == "client" and node.args and isinstance(
            node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def test_every_operation_the_code_can_call_is_in_the_readme():
    listed = set().union(*readme_permissions().values())
    missing = sorted(code_actions() - listed)
    assert not missing, f"README 'Permissions for the deployer' lacks {missing}"
    # sanity: the scan sees the planners, the gates, the lock and observation
    assert {"ec2:RunInstances", "elasticloadbalancing:DescribeTargetHealth", "dynamodb:PutItem",
            "ec2:DescribeLaunchTemplates", "ssm:SendCommand", "ecr:GetAuthorizationToken"} <= code_actions()


def test_the_readme_lists_what_aws_checks_beyond_the_calls():
    """Permissions with no call of their own, from AWS's documentation (README cites it)."""
    table = readme_permissions()
    assert {"iam:PassRole", "ec2:CreateTags", "iam:TagRole", "iam:TagInstanceProfile", "logs:TagResource",
            "ecr:TagResource"} <= table["every"]
    assert {"iam:CreateServiceLinkedRole", "elasticloadbalancing:AddTags", "autoscaling:CreateOrUpdateTags",
            "ec2:RunInstances"} <= table["lb"] | table["every"]
    assert {"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
            "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage"} <= table["ecr"]


# --- what real runs call ------------------------------------------------------------------------------


@pytest.fixture
def env(deploy_env):
    return deploy_env

def copy_stack(name: str, tmp_path: Path, unique: str, extra: str = "") -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "stacks" / name, target)
    app_yaml = target / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace(f"name: {name}", f"name: {unique}") + extra)
    return app_yaml


def lifecycle(app_yaml: Path, log: CallLog, page: Path, fail=None) -> None:
    """plan, deploy, a changed deploy, (a failing release), rollback, history, status, destroy."""
    def target():
        return aws_target(None, None, Progress(), log)

    spec, base = load_spec(app_yaml)
    prepare(spec, base, target())
    deploy(spec, base, target())
    page.write_text("<h1>two</h1>\n")
    deploy(spec, base, target())
    if fail is not None:
        fail.status = 500
        page.write_text("<h1>three</h1>\n")
        with pytest.raises(RolloutFailed):
            deploy(spec, base, target())
        fail.status = 200
    rollback(spec, target(), None, None)
    history(spec, target())
    status(spec, target())
    destroy(spec, target(), keep_images=False)


def test_the_readme_lists_every_call_of_real_runs_in_its_rows(env, tmp_path, unique, monkeypatch):
    table = readme_permissions()
    every, lb, in_place = table["every"], table["every"] | table["lb"], table["every"] | table["in-place"]

    plain = CallLog()
    app_yaml = copy_stack("hello", tmp_path / "a", unique)
    lifecycle(app_yaml, plain, app_yaml.parent / "site" / "index.html")
    assert actions(plain) - every == set(), "a stack without a load balancer needs more than 'every stack'"

    secrets = CallLog()
    app_yaml = copy_stack("hello", tmp_path / "b", unique + "s",
                          "    secrets: {A: 'ssm:/x/a', B: 'secretsmanager:x/b:key'}\n")
    spec, base = load_spec(app_yaml)
    deploy(spec, base, aws_target(None, None, Progress(), secrets))
    destroy(spec, aws_target(None, None, Progress(), secrets), keep_images=False)
    assert actions(secrets) - every == set()
    assert not [c for c in secrets.calls if c[0] == "secretsmanager" or c == ("ssm", "GetParameter")], \
        "the deployer reads no secret: only the instances do"

    moved = CallLog()
    app_yaml = copy_stack("hello", tmp_path / "c", unique + "i",
                          "    instances: {count: 2}\n    rollout: {strategy: in-place}\n")
    lifecycle(app_yaml, moved, app_yaml.parent / "site" / "index.html")
    assert actions(moved) - in_place == set(), "an in-place stack needs more than its rows"
    assert {"ssm:SendCommand", "ssm:GetCommandInvocation"} <= actions(moved)

    fleet = CallLog()
    with answering_server() as (answer, address):
        monkeypatch.setenv("LIFTSHIFT_LB_ENDPOINT", address)
        app_yaml = copy_stack("fleet", tmp_path / "d", unique + "f")
        lifecycle(app_yaml, fleet, app_yaml.parent / "site" / "index.html", fail=answer)
    assert actions(fleet) - lb == set(), "a load-balanced stack needs more than its rows"
    # The README's split is tight: each row is used by the runs of its kind (or is listed from AWS's documentation).
    documented = {"iam:PassRole", "ec2:CreateTags", "iam:TagRole", "iam:TagInstanceProfile", "logs:TagResource",
                  "ecr:TagResource", "iam:CreateServiceLinkedRole", "elasticloadbalancing:AddTags",
                  "autoscaling:CreateOrUpdateTags"}
    assert table["lb"] - actions(fleet) - documented - RARE_LB == set(), "a load_balancer row no such run uses"
    assert table["in-place"] - actions(moved) == set(), "an in-place row no such run uses"

    data = CallLog()  # data volumes: made, attached, moved to a replacement, deleted by destroy --delete-data
    app_yaml = copy_stack("hello", tmp_path / "e", unique + "d", "    data: {files: {path: /www/files}}\n")
    spec, base = load_spec(app_yaml)
    deploy(spec, base, aws_target(None, None, Progress(), data))
    app_yaml.write_text(app_yaml.read_text() + "    env: {CHANGED: '1'}\n")
    spec, base = load_spec(app_yaml)
    deploy(spec, base, aws_target(None, None, Progress(), data))
    destroy(spec, aws_target(None, None, Progress(), data), keep_images=False, delete_data=True)
    assert actions(data) - every - table["data"] == set(), "a data stack needs more than its rows"
    assert table["data"] - actions(data) - documented == set(), "a data row no such run uses"
    assert table["every"] - actions(plain) - actions(secrets) - documented - RARE - NO_PERMISSION == set(), \
        "an 'every stack' row no such run uses"
