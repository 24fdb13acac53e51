"""`liftshift runbook --check` on moto: every check's result is written into the checklist, a failed one is
marked ✗ with its fix and the command exits 2 after writing the runbook; the checks read no secret and call only
what the README's permission table lists. The checks moto cannot answer (IAM's policy simulator, most Service
Quotas) are tested here on crafted answers and are left to check by hand (☐) on moto, never passed."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import boto3
from typer.testing import CliRunner

from liftshift.aws.session import CallLog
from liftshift.cli import app
from liftshift.pipeline.runbook import runbook
from liftshift.progress import Progress
from liftshift.checks import aws as checks
from liftshift.runbook.render import render_runbook
from liftshift.targets.aws import aws_target
from support.registry import free_port

ROOT = Path(__file__).resolve().parent.parent
OTHER_REGION_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def stack(tmp_path: Path, name: str, services: str) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "stacks" / "hello", target)
    app_yaml = target / "app.yaml"
    app_yaml.write_text(f"version: 1\nname: {name}\nservices:\n{services}")
    return app_yaml


def row(text: str, words: str) -> str:
    """The checklist row holding `words`."""
    checklist = text.split("## 2. Pre-migration checklist")[1].split("\n## 3.")[0]
    found = [line for line in checklist.splitlines() if line.startswith("| ") and words in line]
    assert found, f"no checklist row with {words!r}"
    return found[0]


def test_failed_checks_are_marked_with_their_fix_and_exit_2(deploy_env, tmp_path, unique):
    boto3.client("ssm").put_parameter(Name=f"/{unique}/a", Value="s3cr3t-value", Type="SecureString")
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        app_yaml = stack(tmp_path, unique, f"""  web:
    build: .
    ports: ["{port}:8080", "{taken}:8081"]
    health: {{path: /}}
    secrets: {{A: "ssm:/{unique}/a", B: "secretsmanager:{unique}/missing"}}
""")
        out = tmp_path / "runbook.md"
        result = CliRunner().invoke(app, ["runbook", str(app_yaml), "--check", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "pre-flight check(s) failed" in result.output
    text = out.read_text()
    assert "s3cr3t-value" not in text
    assert row(text, "AWS credentials work").startswith("| ✓ |") and "123456789012" in row(text, "AWS credentials")
    assert row(text, f"ssm:/{unique}/a").startswith("| ✓ |")
    missing = row(text, f"secretsmanager:{unique}/missing")
    assert missing.startswith("| ✗ |") and f"aws secretsmanager create-secret --name {unique}/missing" in missing
    assert row(text, "Ports free").startswith("| ✗ |") and f"in use: {taken}" in row(text, "Ports free")
    assert row(text, "The images build").startswith("| ✓ |")
    assert row(text, "Subnets").startswith("| ✓ |") and row(text, "web: AMI al2023").startswith("| ✓ |")
    assert row(text, "The deployer may make").startswith("| ☐ |"), "moto has no policy simulator: left to check"
    for quota in ("instances at the peak", "security group(s)"):
        assert not row(text, quota).startswith("| ✗ |")
    assert "`ec2 run_instances`" in text.split("## 4.")[1], "the plan's resources are in the runbook"
    assert "2 failed" in text


def test_a_certificate_elsewhere_or_not_issued_fails_its_check(deploy_env, tmp_path, unique):
    pending = boto3.client("acm").request_certificate(DomainName="shop.example.com")["CertificateArn"]
    app_yaml = stack(tmp_path, unique, f"""  web:
    build: .
    port: 8080
    load_balancer: {{certificate_arn: "{OTHER_REGION_CERT}"}}
  shop:
    build: .
    port: 8080
    load_balancer: {{certificate_arn: "{pending}"}}
""")
    log = CallLog()
    data = runbook([app_yaml], lambda spec: aws_target(None, None, Progress(), log), check=True)
    text = render_runbook(data)
    elsewhere = row(text, "web: certificate")
    assert elsewhere.startswith("| ✗ |") and "in us-east-1, the stack deploys to eu-west-1" in elsewhere
    assert "request or import a certificate in eu-west-1" in elsewhere
    waiting = row(text, "shop: certificate")
    assert waiting.startswith("| ✗ |") and "PENDING\\_VALIDATION" in waiting
    # the plan itself refuses the certificate of another region (spec/limits): a failed check, not an abort
    assert row(text, "The images build").startswith("| ✗ |") and "No plan:" in text
    assert data["failed_checks"] >= 3
    # what the checks call is in the README's table; no secret is read
    from test_permissions import actions, readme_permissions

    table = readme_permissions()
    assert actions(log) - table["every"] - table["lb"] - table["check"] == set()
    assert {"acm:DescribeCertificate"} <= actions(log)
    assert not [c for c in log.calls if c in (("secretsmanager", "GetSecretValue"), ("ssm", "GetParameter"))]


# --- what moto cannot answer, on crafted answers -----------------------------------------------------------


class FakeIam:
    def __init__(self, deny: set[str]):
        self.deny, self.asked = deny, []

    def simulate_principal_policy(self, PolicySourceArn, ActionNames):
        self.asked.append(PolicySourceArn)
        return {"EvaluationResults": [{"EvalActionName": a, "EvalDecision": "implicitDeny" if a in self.deny
                                       else "allowed"} for a in ActionNames]}


class FakeAws:
    region = "eu-west-1"

    def __init__(self, **clients):
        self.clients = clients

    def client(self, name):
        return self.clients[name]


def test_permissions_denied_by_the_simulator_fail_with_the_actions():
    iam = FakeIam({"ec2:RunInstances"})
    actions = [f"ec2:Action{i}" for i in range(60)] + ["ec2:RunInstances"]
    result = checks.permissions(FakeAws(iam=iam), "arn:aws:sts::123456789012:assumed-role/deployer/ci-42", actions)
    assert result.ok is False and "ec2:RunInstances" in result.detail and "Permissions for the deployer" in result.fix
    assert iam.asked == ["arn:aws:iam::123456789012:role/deployer"] * 2, "an assumed role is simulated as its role"
    assert checks.permissions(FakeAws(iam=FakeIam(set())), "arn:aws:iam::123456789012:user/ci", actions).ok is True


def test_a_quota_without_room_fails_with_the_increase_to_ask_for():
    result = checks._room(8, 30, 32, "vCPUs of On-Demand standard instances", ("ec2", "L-1216C47A"))
    assert result.ok is False and "30 in use + 8 needed, quota 32" in result.detail
    assert "--quota-code L-1216C47A --desired-value 38" in result.fix
    assert checks._room(2, 30, 32, "x", ("ec2", "L-1216C47A")).ok is True
