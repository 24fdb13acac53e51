"""`liftshift doctor` and `doctor --policy`: the machine's checks on this machine's engine (and an unreachable
one), the credentials and network on moto (a missing default VPC is ✗ with its fix), the local rehearsal's
ports, the -o json shape; the policy covers every call real deploy / changed deploy / failed release / rollback
/ destroy runs make on moto, names the resources the stack really made, and is IAM JSON moto's IAM accepts."""

from __future__ import annotations

import fnmatch
import json
import shutil
import socket
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from liftshift.aws.session import CallLog
from liftshift.checks import permissions
from liftshift.checks.policy import allows, policy
from liftshift.cli import app
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.pipeline.rollback import rollback
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.lb import answering_server
from support.registry import free_port
from test_permissions import actions, copy_stack, lifecycle, readme_permissions

ROOT = Path(__file__).resolve().parent.parent


def doctor(*args: str):
    return CliRunner().invoke(app, ["doctor", *args])


def app_yaml(tmp_path: Path, name: str, services: str) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "stacks" / "hello", target)
    path = target / "app.yaml"
    path.write_text(f"version: 1\nname: {name}\nservices:\n{services}")
    return path


def lines(output: str) -> dict[str, str]:
    """check id -> its line (and its fix line) of the text output."""
    out: dict[str, str] = {}
    last = None
    for line in output.splitlines():
        if line[:2] in ("✓ ", "✗ ", "☐ "):
            last = line[2:].split(": ", 1)[0]
            out[last] = line
        elif line.startswith("    ") and last:
            out[last] += "\n" + line
    return out


# --- the machine and the credentials ---------------------------------------------------------------------


def test_the_engine_here_answers_and_the_credentials_name_the_account(aws_env):
    result = doctor()
    assert result.exit_code == 0, result.output
    found = lines(result.output)
    assert found["docker"].startswith("✓") and "linux/" in found["docker"]
    assert found["builder"].startswith("✓")
    assert found["platforms"].startswith("✓") and "linux/amd64" in found["platforms"]
    assert found["credentials"].startswith("✓") and "123456789012" in found["credentials"]
    assert "eu-west-1" in found["credentials"]


def test_an_unreachable_engine_is_a_failure_with_its_fix_and_exit_2(aws_env, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    result = doctor()
    assert result.exit_code == 2, result.output
    found = lines(result.output)
    assert found["docker"].startswith("✗") and "no Docker engine answers" in found["docker"]
    assert "fix: start the Docker engine" in found["docker"]
    assert found["platforms"].startswith("☐"), "no engine: cannot be told, not passed"
    assert found["credentials"].startswith("✓"), "the other checks still run"


def test_no_region_is_a_failure_with_its_fix(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    result = doctor()
    assert result.exit_code == 2
    assert "no AWS region" in lines(result.output)["credentials"]


# --- a stack on moto -------------------------------------------------------------------------------------


def test_a_stack_ready_to_deploy_passes_and_json_has_one_shape(aws_env, tmp_path, unique):
    path = app_yaml(tmp_path, unique, "  web:\n    build: .\n    port: 8080\n    health: {path: /}\n")
    result = doctor(str(path), "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    import jsonschema

    from liftshift.output_schema import output_schema

    jsonschema.validate(data, output_schema("doctor"))  # `liftshift schema --output-of doctor`
    assert set(data) == {"stack", "target", "checks", "failed", "passed"}
    assert data["stack"] == unique and data["target"] == "aws" and data["passed"] is True and data["failed"] == 0
    for check in data["checks"]:
        assert set(check) == {"id", "status", "ok", "detail", "fix"}
        assert check["status"] == {True: "ok", False: "failed", None: "unknown"}[check["ok"]]
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["arch:web"]["ok"] is True and "linux/amd64" in by_id["arch:web"]["detail"]
    assert by_id["network"]["ok"] is True and by_id["ami:web"]["ok"] is True
    assert by_id["permissions"]["ok"] is None, "moto has no policy simulator: left to check, never passed"
    assert {"docker", "builder", "platforms", "credentials", "quota-instances"} <= set(by_id)


def test_a_missing_default_vpc_is_a_failure_with_its_fix(aws_env, tmp_path, unique):
    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc)
    path = app_yaml(tmp_path, unique, "  web:\n    build: .\n    port: 8080\n")
    result = doctor(str(path))
    assert result.exit_code == 2, result.output
    network = lines(result.output)["network"]
    assert network.startswith("✗") and "aws ec2 create-default-vpc" in network
    assert "1 check(s) block a deploy" in result.output


def test_an_arm64_service_on_an_engine_that_cannot_build_it(aws_env, tmp_path, unique, monkeypatch):
    from liftshift.checks import machine

    monkeypatch.setattr(machine, "BINFMT_DIR", tmp_path / "binfmt")  # mounted, and no QEMU handler
    (tmp_path / "binfmt").mkdir()
    (tmp_path / "binfmt" / "status").write_text("enabled\n")
    path = app_yaml(tmp_path, unique, "  web:\n    build: .\n    port: 8080\n    instances: {type: t4g.small}\n")
    native = machine.engine_arch(machine.engine()[1])
    result = doctor(str(path))
    arch = lines(result.output)["arch:web"]
    if native == "arm64":
        assert arch.startswith("✓")
    else:
        assert result.exit_code == 2 and arch.startswith("✗") and "tonistiigi/binfmt --install arm64" in arch
        (tmp_path / "binfmt" / "qemu-aarch64").write_text("enabled\n")
        arch = lines(doctor(str(path)).output)["arch:web"]
        assert arch.startswith("✓") and "emulation" in arch


# --- the local rehearsal ---------------------------------------------------------------------------------


def test_local_target_names_a_busy_port(tmp_path, unique, monkeypatch):
    monkeypatch.setenv("LIFTSHIFT_STATE_DIR", str(tmp_path / "state"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        free = free_port()
        path = app_yaml(tmp_path, unique, f'  web:\n    build: .\n    ports: ["{free}:8080", "{taken}:8081"]\n')
        result = doctor(str(path), "--target", "local")
    assert result.exit_code == 2, result.output
    found = lines(result.output)
    assert found["ports"].startswith("✗") and f"in use: {taken}" in found["ports"] and "ss -ltnp" in found["ports"]
    assert found["emulator"].startswith("✓") and found["registry"].startswith("✓")
    assert "credentials" not in found, "the emulator plays AWS: no credentials are asked for"
    result = doctor(str(path), "--target", "local")
    assert result.exit_code == 0, result.output


# --- --policy --------------------------------------------------------------------------------------------


def test_the_action_table_is_the_readmes():
    assert {k: set(v) for k, v in permissions.TABLE.items()} == readme_permissions(), \
        "liftshift/checks/permissions.py and the README's permission table differ: change both"


def test_policy_needs_a_file_and_prints_iam_json(tmp_path, unique):
    assert doctor("--policy").exit_code == 2
    path = app_yaml(tmp_path, unique, "  web:\n    build: .\n    port: 8080\n")
    result = doctor(str(path), "--policy", "--region", "eu-west-1")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["Version"] == "2012-10-17"
    assert not allows(document, "elasticloadbalancing:CreateLoadBalancer"), "no load balancer: no ELB writes"
    assert not allows(document, "ssm:SendCommand")
    assert f"arn:aws:ecr:eu-west-1:*:repository/{unique}/*" in json.dumps(document)


def _accepted_by_iam(document: dict, name: str) -> None:
    text = json.dumps(document, separators=(",", ":"))
    assert len(text) <= 6144, "IAM's limit for a managed policy's document"
    arn = boto3.client("iam").create_policy(PolicyName=name, PolicyDocument=text)["Policy"]["Arn"]
    boto3.client("iam").delete_policy(PolicyArn=arn)


def _matches(document: dict, action: str, arn: str) -> bool:
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if action in statement["Action"] and any(fnmatch.fnmatchcase(arn, r.replace("::*:", "::123456789012:"))
                                                 for r in resources):
            return True
    return False


def test_the_policy_covers_a_load_balanced_stacks_lifecycle(deploy_env, tmp_path, unique, monkeypatch):
    log = CallLog()
    with answering_server() as (answer, address):
        monkeypatch.setenv("LIFTSHIFT_LB_ENDPOINT", address)
        path = copy_stack("fleet", tmp_path, unique)
        spec, base = load_spec(path)
        document = policy(spec, region="eu-west-1")
        _accepted_by_iam(document, unique)
        deploy(spec, base, aws_target(None, None, Progress(), log))
        # the scoped statements name what the deploy really made
        iam = boto3.client("iam")
        roles = [r["Arn"] for r in iam.list_roles(PathPrefix=f"/liftshift/{unique}/")["Roles"]]
        found = iam.list_instance_profiles(PathPrefix=f"/liftshift/{unique}/")["InstanceProfiles"]
        profiles = [p["Arn"] for p in found]
        repos = [r["repositoryArn"] for r in boto3.client("ecr").describe_repositories()["repositories"]
                 if r["repositoryName"].startswith(f"{unique}/")]
        groups = [g["arn"].removesuffix(":*") for g in
                  boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/liftshift/{unique}")["logGroups"]]
        assert roles and profiles and repos and groups
        for arn in roles:
            assert _matches(document, "iam:DeleteRole", arn) and _matches(document, "iam:PassRole", arn)
        for arn in profiles:
            assert _matches(document, "iam:DeleteInstanceProfile", arn)
        for arn in repos:
            assert _matches(document, "ecr:PutImage", arn) and _matches(document, "ecr:DeleteRepository", arn)
        for arn in groups:
            assert _matches(document, "logs:DeleteLogGroup", arn)
        (path.parent / "site" / "index.html").write_text("<h1>two</h1>\n")
        deploy(spec, base, aws_target(None, None, Progress(), log))
        answer.status = 500
        (path.parent / "site" / "index.html").write_text("<h1>three</h1>\n")
        from liftshift.apply.gate import RolloutFailed

        with pytest.raises(RolloutFailed):
            deploy(spec, base, aws_target(None, None, Progress(), log))
        answer.status = 200
        rollback(spec, aws_target(None, None, Progress(), log), None, None)
        destroy(spec, aws_target(None, None, Progress(), log), keep_images=False)
    missing = sorted(a for a in actions(log) if not allows(document, a))
    assert not missing, f"the policy lacks {missing}"
    assert not allows(document, "ssm:SendCommand"), "not an in-place stack"


def test_the_policy_covers_an_in_place_stack_with_data(deploy_env, tmp_path, unique):
    log = CallLog()
    path = copy_stack("hello", tmp_path, unique,
                      "    instances: {count: 2}\n    rollout: {strategy: in-place}\n")
    spec, base = load_spec(path)
    document = policy(spec, region="eu-west-1")
    _accepted_by_iam(document, unique)
    lifecycle(path, log, path.parent / "site" / "index.html")
    data = CallLog()
    path = copy_stack("hello", tmp_path / "d", unique + "d", "    data: {files: {path: /www/files}}\n")
    spec, base = load_spec(path)
    with_data = policy(spec, region="eu-west-1")
    deploy(spec, base, aws_target(None, None, Progress(), data))
    destroy(spec, aws_target(None, None, Progress(), data), keep_images=False, delete_data=True)
    missing = sorted(a for a in actions(log) if not allows(document, a))
    missing += sorted(a for a in actions(data) if not allows(with_data, a))
    assert not missing, f"the policy lacks {missing}"
    assert allows(document, "ssm:SendCommand") and not allows(document, "ec2:CreateVolume")


class PolicySimulator:
    """IAM's simulator for one identity policy, as far as doctor's questions go: Allow statements, Action
    names, Resource patterns (`*` wildcards) and StringEquals/ArnEquals conditions read from ContextEntries."""

    def __init__(self, document: dict):
        self.document = document

    def simulate_principal_policy(self, PolicySourceArn, ActionNames, ResourceArns=("*",), ContextEntries=()):
        context = {c["ContextKeyName"]: set(c["ContextKeyValues"]) for c in ContextEntries}
        results = []
        for action in ActionNames:
            ok = all(any(self._allows(s, action, arn, context) for s in self.document["Statement"])
                     for arn in ResourceArns)
            results.append({"EvalActionName": action, "EvalDecision": "allowed" if ok else "implicitDeny"})
        return {"EvaluationResults": results}

    @staticmethod
    def _allows(statement, action, arn, context) -> bool:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if action not in statement["Action"] or not any(fnmatch.fnmatchcase(arn, r) for r in resources):
            return False
        for test in statement.get("Condition", {}).values():
            for key, wanted in test.items():
                wanted = {wanted} if isinstance(wanted, str) else set(wanted)
                if not context.get(key) or not context[key] <= wanted:
                    return False
        return True


class FakeAws:
    region = "eu-west-1"

    def __init__(self, iam):
        self.iam = iam

    def client(self, name):
        assert name == "iam"
        return self.iam


def test_a_role_holding_exactly_the_policy_passes_doctors_permission_check(tmp_path, unique):
    from liftshift.checks import aws as checks
    from liftshift.checks.policy import probes

    path = copy_stack("fleet", tmp_path, unique, "  files:\n    build: .\n    port: 8080\n"
                                                 "    rollout: {strategy: in-place}\n    data: {files: {path: /f}}\n")
    spec, _ = load_spec(path)
    account, arn = "123456789012", "arn:aws:sts::123456789012:assumed-role/deployer/ci-42"
    asks = probes(spec, account, "eu-west-1")
    assert {a for ask in asks for a in ask["actions"]} == set(permissions.stack_actions(spec))
    held = PolicySimulator(policy(spec, account=account, region="eu-west-1"))
    result = checks.permissions(FakeAws(held), arn, [], asks)
    assert result.ok is True, result.detail
    # the same policy for another stack leaves this stack's own resources denied, and says which
    other = copy_stack("fleet", tmp_path / "o", unique + "o")
    held = PolicySimulator(policy(load_spec(other)[0], account=account, region="eu-west-1"))
    result = checks.permissions(FakeAws(held), arn, [], asks)
    assert result.ok is False and "iam:PassRole" in result.detail and "ecr:PutImage" in result.detail
    assert "ec2:TerminateInstances" in result.detail and "ec2:RunInstances" not in result.detail
    # runbook --check asks only its plan's actions, the same way (one the policy does not name: on "*")
    asks = probes(spec, account, "eu-west-1", only=["iam:PassRole", "ec2:RunInstances", "acm:DescribeCertificate"])
    assert [a["actions"] for a in asks] == [["iam:PassRole"], ["ec2:RunInstances"], ["acm:DescribeCertificate"]]
    assert asks[0]["resources"] and asks[0]["context"] and asks[2] == {"actions": ["acm:DescribeCertificate"],
                                                                        "resources": [], "context": []}
