"""Emulators without ECR, ELBv2 or Auto Scaling (LocalStack's free edition): moto with those services refused.

LocalStack's free edition answers every ECR, ELBv2 and Auto Scaling call with HTTP 501, `InternalFailure`,
"The API for service elbv2 is either not included in your current license plan or has not yet been emulated
by LocalStack." (measured with localstack-core 2026.3.0; see README, "Settings for emulators"). `Refused`
answers liftshift's calls to those services exactly so, at the client (botocore's `before-call` event, as
support/faults.py injects faults), while the test's own boto3 clients still see moto's full state.

A stack without a load balancer, its images in LIFTSHIFT_REGISTRY, must then validate, plan, deploy, show its
status and be destroyed; a stack with a load balancer (or images going to ECR) gets one error naming the
service, exit 2, before anything changes. Where the services do answer, status and destroy still find a fleet
left by an earlier app.yaml; and a transient InternalFailure (no "license plan") is never taken for "absent".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from typer.testing import CliRunner

from liftshift.aws.session import Aws, service_unavailable
from liftshift.cli.base import app
from support.faults import _Raw, stack_tagged
from support.lb import answering_server

ROOT = Path(__file__).resolve().parent.parent
LICENSE = ("The API for service {service} is either not included in your current license plan or has not yet "
           "been emulated by LocalStack.")


class Refused:
    """Answers every call to `services` as LocalStack's free edition does; records them (service:Operation)."""

    def __init__(self, services=("ecr", "elbv2", "autoscaling"), message: str = LICENSE, status: int = 501):
        self.services = set(services)
        self.message = message
        self.status = status
        self.calls: list[str] = []

    def _answer(self, service: str, model, **_kw):
        self.calls.append(f"{service}:{model.name}")
        error = {"Code": "InternalFailure", "Message": self.message.format(service=service)}
        http = AWSResponse("http://refused", self.status, {}, _Raw(b""))
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": self.status}}

    def patch(self, monkeypatch) -> "Refused":
        original = Aws.client
        refused = self

        def client(aws_self, name, *args, **kwargs):
            made = original(aws_self, name, *args, **kwargs)
            if name in refused.services and not getattr(made, "_refused", False):
                made._refused = True
                made.meta.events.register("before-call", lambda **kw: refused._answer(name, **kw))
            return made

        monkeypatch.setattr(Aws, "client", client)
        return self


@pytest.fixture
def env(deploy_env):
    return deploy_env

def copy_stack(name: str, tmp_path: Path, unique: str) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "stacks" / name, target)
    app_yaml = target / "app.yaml"
    app_yaml.write_text(app_yaml.read_text().replace(f"name: {name}", f"name: {unique}"))
    return app_yaml


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def client(name: str):
    return boto3.client(name, region_name="eu-west-1")


def test_a_stack_without_a_load_balancer_works_where_ecr_elbv2_and_autoscaling_are_absent(
        env, tmp_path, unique, monkeypatch):
    refused = Refused().patch(monkeypatch)
    app_yaml = copy_stack("hello", tmp_path, unique)
    for command in (["validate"], ["plan"], ["deploy"], ["status"], ["plan"], ["destroy", "--yes"], ["status"]):
        result = cli(*command, str(app_yaml))
        assert result.exit_code == 0, (command, result.output)
        if command == ["deploy"]:
            assert "running" in result.stdout
            running = client("ec2").describe_instances(Filters=[
                {"Name": "tag:liftshift:stack", "Values": [unique]},
                {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
            assert len(running) == 1
        if command == ["plan"] and len(refused.calls) > 4:
            assert "No changes" in result.stdout  # the second plan: the deploy converged
    # Only reads were tried on the absent services, and nothing of them was made in moto.
    assert refused.calls and all(c.split(":")[1].startswith(("Describe", "List", "Get")) for c in refused.calls), \
        refused.calls
    assert client("ecr").describe_repositories()["repositories"] == []
    assert stack_tagged(unique) == {}


def test_a_stack_with_a_load_balancer_is_refused_naming_the_service(env, tmp_path, unique, monkeypatch):
    Refused().patch(monkeypatch)
    app_yaml = copy_stack("fleet", tmp_path, unique)
    assert cli("validate", str(app_yaml)).exit_code == 0  # app.yaml is fine; the endpoint lacks a service
    for command in (["plan"], ["deploy"], ["rollback"]):
        result = cli(*command, str(app_yaml))
        assert result.exit_code == 2, (command, result.output)
        assert f"stack {unique} needs Elastic Load Balancing (elbv2) and Auto Scaling (autoscaling) for " \
               "services.web.load_balancer, and this AWS endpoint does not offer them" in result.stderr, result.stderr
        assert "license plan" in result.stderr and "nothing was changed" in result.stderr
        assert result.stderr.count("error:") == 1
    assert stack_tagged(unique) == {}
    assert client("dynamodb").scan(TableName="liftshift-locks")["Items"] == []  # the lock was released


def test_images_for_ecr_need_ecr(env, tmp_path, unique, monkeypatch):
    monkeypatch.delenv("LIFTSHIFT_REGISTRY")
    Refused(services=("ecr",)).patch(monkeypatch)
    app_yaml = copy_stack("hello", tmp_path, unique)
    result = cli("deploy", str(app_yaml))
    assert result.exit_code == 2, result.output
    assert "needs ECR (ecr) for its images (pushed to ECR unless LIFTSHIFT_REGISTRY" in result.stderr
    assert stack_tagged(unique) == {}


def test_status_and_destroy_find_a_fleet_of_an_earlier_app_yaml(env, tmp_path, unique, monkeypatch):
    """Where ELBv2 and Auto Scaling answer, a stack whose app.yaml no longer has a load balancer still reads
    them: status shows the fleet left by the earlier app.yaml, destroy removes it."""
    with answering_server() as (_answer, address):
        monkeypatch.setenv("LIFTSHIFT_LB_ENDPOINT", address)
        app_yaml = copy_stack("fleet", tmp_path, unique)
        assert cli("deploy", str(app_yaml)).exit_code == 0
    text = app_yaml.read_text()
    app_yaml.write_text(text[:text.index("    load_balancer:")] + "    rollout: {timeout: 120, keep: 5}\n")
    status = cli("status", str(app_yaml))
    assert status.exit_code == 0 and "load balancer" in status.stdout, status.output
    assert client("autoscaling").describe_auto_scaling_groups(
        Filters=[{"Name": "tag:liftshift:stack", "Values": [unique]}])["AutoScalingGroups"]
    assert cli("destroy", "--yes", str(app_yaml)).exit_code == 0
    assert client("autoscaling").describe_auto_scaling_groups(
        Filters=[{"Name": "tag:liftshift:stack", "Values": [unique]}])["AutoScalingGroups"] == []
    assert [lb for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]
            if unique in lb["LoadBalancerName"]] == []
    assert stack_tagged(unique) == {}


def test_a_transient_internal_failure_is_not_taken_for_an_absent_service(env, tmp_path, unique, monkeypatch):
    """AWS answers InternalFailure now and then: status and destroy must fail (exit 1), never skip a service."""
    Refused(services=("elbv2",), message="We encountered an internal error. Please try again.",
            status=500).patch(monkeypatch)
    app_yaml = copy_stack("hello", tmp_path, unique)
    for command in (["status"], ["destroy", "--yes"]):
        result = cli(*command, str(app_yaml))
        assert result.exit_code == 1 and "InternalFailure" in result.stderr, (command, result.output)


def test_service_unavailable_reads_only_an_absent_service():
    def error(code, message):
        return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "DescribeLoadBalancers")

    assert service_unavailable(error("InternalFailure", LICENSE.format(service="elbv2")))
    assert not service_unavailable(error("InternalFailure", "We encountered an internal error."))
    assert not service_unavailable(error("AccessDenied", "not included in your current license plan"))
    assert not service_unavailable(ValueError("license plan"))
