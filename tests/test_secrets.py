"""Secrets reach the container and nothing else: a sentinel value is searched for in every artefact."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path

import boto3
from typer.testing import CliRunner

from liftshift.model import names
from liftshift.model.policies import SSM_READS
from liftshift.cli.base import app

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"


def with_secrets(tmp_path: Path, stack: str, publish: int | None = None) -> Path:
    target = tmp_path / "hello"
    shutil.copytree(HELLO, target)
    app_yaml = target / "app.yaml"
    text = app_yaml.read_text().replace("name: hello", f"name: {stack}")
    if publish:
        text = text.replace("publish: 8080", f"publish: {publish}")
    text += (f"    secrets:\n      DB_PASSWORD: ssm:/{stack}/db-password\n"
             f"      API_TOKEN: secretsmanager:{stack}/api:token\n")
    app_yaml.write_text(text)
    return app_yaml


def store(endpoint: str | None, stack: str, sentinel: str) -> None:
    kwargs = {"region_name": "eu-west-1" if endpoint is None else "us-east-1"}
    if endpoint:
        kwargs.update(endpoint_url=endpoint, aws_access_key_id="liftshift-local", aws_secret_access_key="liftshift-local")
    boto3.client("ssm", **kwargs).put_parameter(Name=f"/{stack}/db-password", Value=sentinel + "-db",
                                                Type="SecureString", Overwrite=True)
    boto3.client("secretsmanager", **kwargs).create_secret(
        Name=f"{stack}/api", SecretString=json.dumps({"token": sentinel + "-token", "other": "x"}))


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_secrets_never_leave_the_instance_on_aws(aws_env, registry, busybox_image, monkeypatch, tmp_path, unique,
                                                 docker_client):
    monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    sentinel = "sentinel-" + uuid.uuid4().hex
    store(None, unique, sentinel)
    app_yaml = str(with_secrets(tmp_path, unique))
    outputs = []
    try:
        for args in (["plan", app_yaml, "-o", "json"], ["plan", app_yaml], ["deploy", app_yaml],
                     ["deploy", app_yaml, "-o", "json"], ["status", app_yaml, "-o", "json"], ["render", app_yaml]):
            result = run(*args)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)

        ec2 = boto3.client("ec2", region_name="eu-west-1")
        flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [unique]}]
        template = ec2.describe_launch_templates(Filters=flt)["LaunchTemplates"][0]
        data = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])[
            "LaunchTemplateVersions"][0]["LaunchTemplateData"]
        user_data = base64.b64decode(data["UserData"]).decode()
        instances = [i for r in ec2.describe_instances(Filters=flt)["Reservations"] for i in r["Instances"]]
        artefacts = outputs + [user_data, json.dumps(data), json.dumps(template, default=str),
                               json.dumps(instances, default=str)]
        for artefact in artefacts:
            assert sentinel not in artefact
        # The script fetches them by reference when the container starts.
        assert f"/{unique}/db-password" in user_data and "-e DB_PASSWORD" in user_data

        policy = boto3.client("iam").get_role_policy(RoleName=names.role(unique, "web"),
                                                     PolicyName=names.role_policy_name())["PolicyDocument"]
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert statements["ReadOwnParameters"]["Resource"] == [
            f"arn:aws:ssm:eu-west-1:123456789012:parameter/{unique}/db-password"]
        assert statements["ReadOwnSecrets"]["Resource"] == [
            f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{unique}/api-??????"]
        assert statements["ReadNoOtherParameters"] == {
            "Sid": "ReadNoOtherParameters", "Effect": "Deny", "Action": SSM_READS,
            "NotResource": statements["ReadOwnParameters"]["Resource"]}
        assert statements["ReadNoOtherSecrets"]["NotResource"] == statements["ReadOwnSecrets"]["Resource"]
        stars = [s["Sid"] for s in policy["Statement"] if s.get("Resource") == "*" and s["Effect"] == "Allow"]
        assert stars == ["EcrLogin"]  # the only action AWS allows on no narrower resource
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1  # the host fetches them, not the app
    finally:
        run("destroy", app_yaml, "--yes")
        for image in docker_client.images.list():
            for tag in image.tags:
                if f"/{unique}/" in tag:
                    docker_client.images.remove(tag)


def test_secrets_reach_the_container_in_the_local_rehearsal(local, tmp_path, unique, docker_client, destroyed):
    from liftshift.targets.local.services import ensure_emulator
    from support.registry import free_port

    sentinel = "sentinel-" + uuid.uuid4().hex
    store(ensure_emulator(), unique, sentinel)
    app_yaml = with_secrets(tmp_path, unique, free_port())
    destroyed.append((app_yaml, unique))
    result = run("deploy", str(app_yaml), "--target", "local")
    assert result.exit_code == 0, result.output
    assert sentinel not in result.output

    (container,) = docker_client.containers.list(filters={"label": f"liftshift.stack={unique}"})
    seen = container.exec_run(["sh", "-c", 'printf "%s|%s" "$DB_PASSWORD" "$API_TOKEN"']).output.decode()
    assert seen == f"{sentinel}-db|{sentinel}-token"
    (host,) = docker_client.containers.list(filters={"label": f"liftshift.host.stack={unique}"})
    assert sentinel not in json.dumps(host.attrs)  # files in the stand-in, not its env
    # The instance keeps the role from its containers (IMDS hop limit 1): the user-data fetched the
    # secrets on the host, and the app got only their values, no AWS credentials or endpoint.
    ec2 = boto3.client("ec2", endpoint_url=ensure_emulator(), region_name="us-east-1",
                       aws_access_key_id="liftshift-local", aws_secret_access_key="liftshift-local")
    (template,) = ec2.describe_launch_templates(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [unique]}])["LaunchTemplates"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert not [e for e in container.attrs["Config"]["Env"] if e.startswith("AWS_")]
    status = run("status", str(app_yaml), "--target", "local", "-o", "json")
    assert sentinel not in status.output
