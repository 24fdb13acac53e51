"""`liftshift cutover` on moto's Route 53 (server mode), through the CLI, after real deploys on moto.

hello (no load balancer): the stack's record is A records of its instances' public IPs; 10 % -> 50 % -> 100 %
-> --complete -> --back, each twice (the second changes nothing), the old record's TTL lowered first and restored,
every move in the history with who. fleet (a load balancer): an alias A record to the ALB, the zone given by
id; --back from 50 %. Refusals (exit 2 naming services.X.dns...): no dns setting, no such zone, a name outside a
zone given by id, a name with no record. The calls made are in the README's permission rows.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from liftshift.aws.session import CallLog
from liftshift.cli.base import app
from liftshift.pipeline.cutover import ServingThroughDns, cutover
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.plan.cutover import Move
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target

ROOT = Path(__file__).resolve().parent.parent
OLD = "203.0.113.10"


def route53():
    return boto3.client("route53", region_name="us-east-1")


def make_zone(name: str = "example.com", record: str | None = None, ttl: int = 3600) -> str:
    """A hosted zone (and the old server's A record in it); its id without the prefix."""
    zone = route53().create_hosted_zone(Name=name, CallerReference=f"t-{name}-{record}")["HostedZone"]["Id"]
    if record:
        route53().change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {"Name": record, "Type": "A", "TTL": ttl,
                                                      "ResourceRecords": [{"Value": OLD}]}}]})
    return zone.rsplit("/", 1)[-1]


def records(zone: str, name: str) -> list[dict]:
    found = route53().list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return sorted((r for r in found if r["Name"] == name + "."), key=lambda r: r.get("SetIdentifier", ""))


def copy_stack(name: str, tmp_path: Path, stack: str, dns: dict | None) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "stacks" / name, target)
    app_yaml = target / "app.yaml"
    text = app_yaml.read_text().replace(f"name: {name}", f"name: {stack}")
    if dns is not None:
        text += f"    dns: {json.dumps(dns)}\n"
    app_yaml.write_text(text)
    return app_yaml


def cli(*args: str):
    return CliRunner().invoke(app, ["cutover", *args], catch_exceptions=False)


def moved(app_yaml: Path, *flags: str) -> dict:
    result = cli(str(app_yaml), *flags, "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    return documented(json.loads(result.stdout))


def documented(document: dict) -> dict:
    """Every cutover document has the shape `liftshift schema --output-of cutover` documents."""
    import jsonschema

    from liftshift.output_schema import output_schema

    jsonschema.validate(document, output_schema("cutover"))
    return document


@pytest.fixture
def zone_ids_like_route53(monkeypatch):
    """Route 53 zone ids start with Z (Z0123456789ABC, as app.yaml's dns.zone accepts them); moto's are random."""
    import itertools

    import moto.route53.models as models

    counter = itertools.count(1)
    monkeypatch.setattr(models, "create_route53_zone_id", lambda **_: f"Z0TEST{next(counter):08d}")


def test_instance_ips_weighted_10_50_100_complete_and_back_idempotent_with_ttls(deploy_env, tmp_path, unique,
                                                                                monkeypatch):
    monkeypatch.setenv("LIFTSHIFT_DEPLOYED_BY", "ops@test")
    name = f"shop-{unique}.example.com"
    zone = make_zone(record=name)
    app_yaml = copy_stack("hello", tmp_path, unique, {"zone": "example.com", "name": name, "old": OLD, "ttl": 30})
    spec, base = load_spec(app_yaml)
    deploy(spec, base, aws_target(None, None, Progress()))
    try:
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        ips = sorted(i["PublicIpAddress"] for r in ec2.describe_instances(Filters=[
            {"Name": "tag:liftshift:stack", "Values": [unique]},
            {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"] for i in r["Instances"])
        assert ips

        # --dry-run prints and changes nothing
        dry = cli(str(app_yaml), "--to", "10%", "--dry-run")
        assert dry.exit_code == 0 and "Would run" in dry.stdout and "TTL 3600 -> 30" in dry.stdout
        assert [r.get("SetIdentifier") for r in records(zone, name)] == [None]
        # without --yes off a terminal: refused, nothing changed
        refused = cli(str(app_yaml), "--to", "10%")
        assert refused.exit_code == 2 and "--yes" in refused.stderr

        for percent in (10, 50, 100):
            out = moved(app_yaml, "--to", f"{percent}%")
            assert out["services"]["web"]["changed"]
            now = {r["SetIdentifier"]: r for r in records(zone, name)}
            assert now["old"]["Weight"] == 100 - percent and now["old"]["TTL"] == 30
            assert now["old"]["ResourceRecords"] == [{"Value": OLD}]
            mine = now[f"liftshift-{unique}"]
            assert mine["Weight"] == percent and mine["TTL"] == 30
            assert sorted(v["Value"] for v in mine["ResourceRecords"]) == ips
            assert moved(app_yaml, "--to", f"{percent}%")["services"]["web"]["changed"] is False  # idempotent

        # destroy will not pull the stack from under the traffic the record sends it
        with pytest.raises(ServingThroughDns, match="--back"):
            destroy(spec, aws_target(None, None, Progress()), keep_images=False)
        assert records(zone, name) and ec2.describe_instances(Filters=[
            {"Name": "tag:liftshift:stack", "Values": [unique]},
            {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]

        moved(app_yaml, "--complete")
        with pytest.raises(ServingThroughDns):
            destroy(spec, aws_target(None, None, Progress()), keep_images=False)
        (only,) = records(zone, name)
        assert "SetIdentifier" not in only and only["TTL"] == 3600  # the original TTL restored
        assert sorted(v["Value"] for v in only["ResourceRecords"]) == ips
        assert moved(app_yaml, "--complete")["services"]["web"]["changed"] is False

        moved(app_yaml, "--back")
        assert records(zone, name) == [{"Name": name + ".", "Type": "A", "TTL": 3600,
                                        "ResourceRecords": [{"Value": OLD}]}]  # as it was
        assert moved(app_yaml, "--back")["services"]["web"]["changed"] is False

        # the history, newest first, with who; the same in text
        listing = cli(str(app_yaml), "-o", "json")
        history = documented(json.loads(listing.stdout))["services"]["web"]
        assert [h["move"] for h in history["history"]] == ["back", "complete", "to 100%", "to 50%", "to 10%"]
        assert {h["by"] for h in history["history"]} == {"ops@test"}
        assert history["original"] == {"type": "A", "value": OLD, "ttl": 3600}
        text = cli(str(app_yaml)).stdout
        assert "#5" in text and "back" in text and "ops@test" in text

        # --back from 50 %: the old record as it was again
        moved(app_yaml, "--to", "50%")
        moved(app_yaml, "--back")
        assert [r.get("TTL") for r in records(zone, name)] == [3600]
    finally:
        with contextlib.suppress(ServingThroughDns):  # moto is reset by the next test anyway
            destroy(spec, aws_target(None, None, Progress()), keep_images=False)


def test_a_load_balancer_gets_an_alias_and_a_zone_by_id_works(deploy_env, lb_endpoint, zone_ids_like_route53,
                                                              tmp_path, unique):
    name = f"fleet-{unique}.example.org"
    zone = make_zone("example.org", record=name, ttl=300)
    assert zone.startswith("Z")
    app_yaml = copy_stack("fleet", tmp_path, unique, {"zone": zone, "name": name, "old": OLD})
    spec, base = load_spec(app_yaml)
    log = CallLog()
    deploy(spec, base, aws_target(None, None, Progress()))
    try:
        (lb,) = boto3.client("elbv2", region_name="eu-west-1").describe_load_balancers()["LoadBalancers"]
        for move in (Move("to", 50), Move("complete"), Move("back"), Move("to", 50), Move("back")):
            cutover(spec, base, aws_target(None, None, Progress(), log), None, move)
            if move == Move("to", 50):
                now = {r["SetIdentifier"]: r for r in records(zone, name)}
                alias = now[f"liftshift-{unique}"]["AliasTarget"]
                assert alias["DNSName"].rstrip(".") == lb["DNSName"].lower()
                assert alias["HostedZoneId"] == lb["CanonicalHostedZoneId"]
                assert now["old"]["TTL"] == 60 and now["old"]["Weight"] == 50  # dns.ttl's default
            elif move == Move("complete"):
                (only,) = records(zone, name)
                assert "SetIdentifier" not in only and only["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"].lower()
            else:
                assert records(zone, name) == [{"Name": name + ".", "Type": "A", "TTL": 300,
                                                "ResourceRecords": [{"Value": OLD}]}]
    finally:
        with contextlib.suppress(ServingThroughDns):
            destroy(spec, aws_target(None, None, Progress()), keep_images=False)
    # the calls are in the README's rows: every stack's, a load-balanced stack's (observing it) and the dns row
    from test_permissions import actions, readme_permissions

    table = readme_permissions()
    assert actions(log) - table["every"] - table["lb"] - table["dns"] == set()
    assert {"route53:ChangeResourceRecordSets", "route53:GetHostedZone", "route53:GetChange"} <= actions(log)


def test_refusals_name_the_dns_field_and_change_nothing(aws_env, zone_ids_like_route53, tmp_path, unique):
    zone = make_zone("example.net", record=f"old-{unique}.example.net")

    def attempt(dns) -> str:
        app_yaml = copy_stack("hello", tmp_path / str(len(list(tmp_path.iterdir()))), unique, dns)
        result = cli(str(app_yaml), "--to", "10%", "--yes")
        assert result.exit_code == 2, result.output
        return result.stderr

    assert "services.web.dns: no service has a dns setting" in attempt(None)
    assert "services.web.dns.zone: no hosted zone nowhere.example" in attempt(
        {"zone": "nowhere.example", "name": "a.nowhere.example", "old": OLD})
    assert "services.web.dns.name" in attempt({"zone": zone, "name": "shop.other.org", "old": OLD})
    missing = attempt({"zone": "example.net", "name": f"new-{unique}.example.net", "old": OLD})
    assert "services.web.dns.name" in missing and "no A record" in missing
    # nothing was changed in the zone
    assert [r["Name"] for r in route53().list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if r["Type"] == "A"] == [f"old-{unique}.example.net."]
