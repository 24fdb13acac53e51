"""Internal services on moto (issue 12): the group admits only the stack's other services' groups.

A two-service stack, `app` and an internal `db` (named so that destroy, which goes through services in
name order, meets `app`'s group first while `db`'s still names it): db's security group holds only a
rule admitting app's group on db's published port; a second deploy changes nothing; `internal: false`
brings the CIDR rule back and removes the group pair without replacing an instance, and back again;
destroy leaves nothing.

moto deletes a security group that another group's rule names; EC2 refuses it with DependencyViolation
("If you attempt to delete a security group that is associated with an instance or network interface, is
referenced by another security group in the same VPC, or has a VPC association, the operation fails with
DependencyViolation", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html).
The fixture `referenced_groups_stay` gives the in-process moto server that rule for the test's duration
(the pattern of support/aws_semantics.py), and the test checks that it holds before relying on it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from liftshift.model import names
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.pipeline.prepare import prepare
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"
APP_PORT, DB_PORT = 8080, 8081


@pytest.fixture
def referenced_groups_stay(monkeypatch):
    """EC2's rule for the moto server in this process: a group another group's rule names is not deleted."""
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    original = SecurityGroupBackend.delete_security_group

    def delete_security_group(self, name=None, group_id=None):
        target = group_id or getattr(self.get_security_group_by_name_or_id(name), "id", None)
        for groups in self.groups.values():
            for group in groups.values():
                if group.id == target:
                    continue
                for rule in (*group.ingress_rules, *group.egress_rules):
                    if (rule.source_group or {}).get("GroupId") == target:
                        raise DependencyViolationError(
                            f"resource {target} has a dependent object")  # EC2's message for this case
        return original(self, name=name, group_id=group_id)

    monkeypatch.setattr(SecurityGroupBackend, "delete_security_group", delete_security_group)


@pytest.fixture
def env(deploy_env, referenced_groups_stay):
    return deploy_env


def ec2():
    return boto3.client("ec2", region_name="eu-west-1")


def write_app(directory: Path, stack: str, *, internal: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HELLO / "Dockerfile", directory / "Dockerfile")
    if not (directory / "site").exists():
        shutil.copytree(HELLO / "site", directory / "site")
    doc = {"version": 1, "name": stack, "services": {
        "app": {"build": ".", "port": 8080, "publish": APP_PORT, "env": {"DB_URL": "${service.db.url}"}},
        "db": {"build": ".", "port": 8080, "publish": DB_PORT, "internal": internal},
    }}
    (directory / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")  # JSON is YAML
    return directory / "app.yaml"


def run(app_yaml: Path) -> dict:
    spec, base = load_spec(app_yaml)
    return deploy(spec, base, aws_target(None, None, Progress()))


def groups(stack: str) -> dict[str, dict]:
    """The stack's security groups by service."""
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]
    return {names.tag_dict(g["Tags"])[names.TAG_SERVICE]: g
            for g in ec2().describe_security_groups(Filters=flt)["SecurityGroups"]}


def rules(group: dict) -> set[tuple]:
    """Every ingress rule as (protocol, from, to, kind, source)."""
    out = set()
    for p in group["IpPermissions"]:
        head = (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"))
        out |= {(*head, "cidr", r["CidrIp"]) for r in p.get("IpRanges", [])}
        out |= {(*head, "cidr6", r["CidrIpv6"]) for r in p.get("Ipv6Ranges", [])}
        out |= {(*head, "prefix-list", r["PrefixListId"]) for r in p.get("PrefixListIds", [])}
        out |= {(*head, "group", r["GroupId"]) for r in p.get("UserIdGroupPairs", [])}
    return out


def instance_ids(stack: str) -> list[str]:
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]},
           {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    return sorted(i["InstanceId"] for r in ec2().describe_instances(Filters=flt)["Reservations"]
                  for i in r["Instances"])


def test_an_internal_service_admits_only_the_other_services_group_and_converges(env, tmp_path, unique):
    app_yaml = write_app(tmp_path / "s", unique, internal=True)
    run(app_yaml)
    found = groups(unique)
    app_group, db_group = found["app"]["GroupId"], found["db"]["GroupId"]
    # db: only app's group, on db's published port; no CIDR, no prefix list
    assert rules(found["db"]) == {("tcp", DB_PORT, DB_PORT, "group", app_group)}
    assert "from the stack's other services" in found["db"]["Description"]
    # app keeps today's rule
    assert rules(found["app"]) == {("tcp", APP_PORT, APP_PORT, "cidr", "0.0.0.0/0")}

    # the second deploy: nothing to plan, nothing changed
    spec, base = load_spec(app_yaml)
    assert prepare(spec, base, aws_target(None, None, Progress())).steps == []
    assert run(app_yaml)["changed"] is False
    assert groups(unique) == found

    # the semantics this test relies on hold: app's group cannot go while db's rule names it
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ec2().delete_security_group(GroupId=app_group)
    assert refused.value.response["Error"]["Code"] == "DependencyViolation"

    # internal off: the CIDR rule is back, the group pair gone, in place (the same instances)
    before = instance_ids(unique)
    report = run(write_app(tmp_path / "s", unique, internal=False))
    assert report["changed"] is True
    assert rules(groups(unique)["db"]) == {("tcp", DB_PORT, DB_PORT, "cidr", "0.0.0.0/0")}
    assert instance_ids(unique) == before
    assert run(app_yaml.parent / "app.yaml")["changed"] is False

    # and on again
    run(write_app(tmp_path / "s", unique, internal=True))
    assert rules(groups(unique)["db"]) == {("tcp", DB_PORT, DB_PORT, "group", app_group)}
    assert groups(unique)["db"]["GroupId"] == db_group and instance_ids(unique) == before

    # destroy: app's group comes first and db's rule naming it is revoked before its deletion
    destroy(load_spec(app_yaml)[0], aws_target(None, None, Progress()), keep_images=False)
    assert stack_tagged(unique) == {}


def test_status_shows_an_internal_service_by_its_private_address_only():
    from liftshift import report

    instance = {"id": "i-1", "state": "running", "zone": "eu-west-1a", "public_ip": "203.0.113.9",
                "private_ip": "172.31.0.9", "address": None}
    service = {"declared": True, "count": 1, "image": None, "load_balancer": None, "instances": [instance]}
    text = report.status_text({"stack": "s", "region": "eu-west-1", "target": "aws", "services": {
        "db": {**service, "internal": True}, "app": {**service, "internal": False}}})
    db, app = text.split("\n  app:")
    assert "internal: only the stack's services reach it" in db and "203.0.113.9" not in db
    assert "172.31.0.9" in db and "public 203.0.113.9" in app
