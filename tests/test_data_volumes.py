"""Data volumes (services.X.data) on moto: an EBS volume made once, tagged, in the instance's zone and attached
to it; kept across a redeploy that replaces the instance (old-first: the new instance gets the same volume);
kept by destroy, which says so; deleted only by destroy --delete-data.

moto's AttachVolume attaches whatever it is given: a volume already attached elsewhere (it moves) and a volume
of another zone. EC2 refuses both: "The volume and instance must be within the same Availability Zone"
(InvalidVolume.ZoneMismatch) and the volume "must be in the available state" (VolumeInUse otherwise)
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AttachVolume.html, and the EC2 API's error codes:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html). The fixture `ebs_attach_rules`
gives the in-process moto server those rules (the pattern of test_internal.py), and the test checks they hold
before relying on them.
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
from liftshift.pipeline.destroy import destroy, destroy_plan
from liftshift.pipeline.prepare import prepare
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import stack_tagged

HELLO = Path(__file__).resolve().parent.parent / "stacks" / "hello"


@pytest.fixture
def ebs_attach_rules(monkeypatch):
    """EC2's AttachVolume rules for the moto server in this process: same zone, and not attached elsewhere."""
    from moto.ec2.exceptions import EC2ClientError, VolumeInUseError
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore

    original = ElasticBlockStore.attach_volume  # the API call (RunInstances attaches its root volume without it)

    def attach_volume(self):
        volume_id, instance_id = self._get_param("VolumeId"), self._get_param("InstanceId")
        volume, instance = self.ec2_backend.get_volume(volume_id), self.ec2_backend.get_instance(instance_id)
        held = volume.attachment
        if held is not None and held.instance.state != "terminated":
            raise VolumeInUseError(volume_id, held.instance.id)
        if volume.zone.name != getattr(instance.placement, "zone", instance.placement):
            raise EC2ClientError("InvalidVolume.ZoneMismatch", f"The volume '{volume_id}' is not in the same "
                                 f"availability zone as instance '{instance_id}'")
        return original(self)

    monkeypatch.setattr(ElasticBlockStore, "attach_volume", attach_volume)


@pytest.fixture
def env(deploy_env, ebs_attach_rules):
    return deploy_env


def ec2():
    return boto3.client("ec2", region_name="eu-west-1")


def write_app(directory: Path, stack: str, greeting: str, **service) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(HELLO / "Dockerfile", directory / "Dockerfile")
    if not (directory / "site").exists():
        shutil.copytree(HELLO / "site", directory / "site")
    doc = {"version": 1, "name": stack, "services": {"web": {
        "build": ".", "port": 8080, "env": {"GREETING": greeting},
        "data": {"files": {"path": "/www/files", "size_gb": 3}}, **service}}}
    (directory / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")  # JSON is YAML
    return directory / "app.yaml"


def target():
    return aws_target(None, None, Progress())


def run(app_yaml: Path) -> dict:
    spec, base = load_spec(app_yaml)
    return deploy(spec, base, target())


def volumes(stack: str) -> list[dict]:
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}, {"Name": "tag-key", "Values": [names.TAG_DATA]}]
    return ec2().describe_volumes(Filters=flt)["Volumes"]


def instances(stack: str) -> list[dict]:
    flt = [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]},
           {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    return [i for r in ec2().describe_instances(Filters=flt)["Reservations"] for i in r["Instances"]]


def test_a_data_volume_is_made_once_attached_kept_across_a_replacement_and_deleted_only_with_the_flag(
        env, tmp_path, unique):
    app_yaml = write_app(tmp_path / "s", unique, "one")
    report = run(app_yaml)
    kinds = [(c["action"], c["kind"]) for c in report["changes"]]
    assert ("create", "data volume") in kinds and ("attach", "data volume") in kinds
    (volume,) = volumes(unique)
    (first,) = instances(unique)
    tags = names.tag_dict(volume["Tags"])
    assert tags == {names.TAG_STACK: unique, names.TAG_SERVICE: "web", names.TAG_DATA: "files",
                    "Name": f"liftshift-{unique}-web-files"}
    assert (volume["Size"], volume["VolumeType"], volume["Encrypted"]) == (3, "gp3", True)
    assert volume["AvailabilityZone"] == first["Placement"]["AvailabilityZone"]
    assert [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]] == [(first["InstanceId"], "/dev/sdf")]
    # status shows it
    from liftshift import report as text

    assert report["services"]["web"]["data"] == [{
        "name": "files", "id": volume["VolumeId"], "size_gb": 3, "zone": volume["AvailabilityZone"],
        "state": "in-use", "attached": [first["InstanceId"]]}]
    assert (f"    data files: {volume['VolumeId']}, 3 GiB in {volume['AvailabilityZone']}, attached to "
            f"{first['InstanceId']}") in text.status_text(report).splitlines()

    # the rules the test relies on hold: EC2 refuses a second attachment and another zone
    other_zone = next(z["ZoneName"] for z in ec2().describe_availability_zones()["AvailabilityZones"]
                      if z["ZoneName"] != volume["AvailabilityZone"])
    stray = ec2().create_volume(AvailabilityZone=other_zone, Size=1)["VolumeId"]
    for volume_id, code in ((volume["VolumeId"], "VolumeInUse"), (stray, "InvalidVolume.ZoneMismatch")):
        spare = ec2().run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                    Placement={"AvailabilityZone": volume["AvailabilityZone"]})["Instances"][0]
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            ec2().attach_volume(VolumeId=volume_id, InstanceId=spare["InstanceId"], Device="/dev/sdh")
        assert refused.value.response["Error"]["Code"] == code
        ec2().terminate_instances(InstanceIds=[spare["InstanceId"]])
    ec2().delete_volume(VolumeId=stray)

    # a second deploy: nothing planned, nothing changed
    spec, base = load_spec(app_yaml)
    assert prepare(spec, base, target()).steps == []
    assert run(app_yaml)["changed"] is False
    assert [v["VolumeId"] for v in volumes(unique)] == [volume["VolumeId"]]

    # a changed env replaces the instance: the old one goes first, the same volume is attached to the new one
    report = run(write_app(tmp_path / "s", unique, "two"))
    order = [(c["action"], c["kind"]) for c in report["changes"]]
    assert order.index(("terminate", "instances")) < order.index(("launch", "instances")) < order.index(
        ("attach", "data volume"))
    assert ("create", "data volume") not in order
    (second,) = instances(unique)
    assert second["InstanceId"] != first["InstanceId"]
    assert second["Placement"]["AvailabilityZone"] == volume["AvailabilityZone"]
    (again,) = volumes(unique)
    assert again["VolumeId"] == volume["VolumeId"]
    assert [a["InstanceId"] for a in again["Attachments"]] == [second["InstanceId"]]
    gone = ec2().describe_instances(InstanceIds=[first["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert gone["State"]["Name"] == "terminated"
    assert run(app_yaml)["changed"] is False

    # destroy without --delete-data: everything else goes, the volume stays and destroy says so
    steps, kept = destroy_plan(spec, target(), keep_images=False, execute=False)
    assert not [s for s in steps if s.kind == "data volume"]
    assert kept == [f"data volume liftshift-{unique}-web-files ({volume['VolumeId']}, 3 GiB in "
                    f"{volume['AvailabilityZone']}) of service web is kept"]
    destroy(spec, target(), keep_images=False)
    assert stack_tagged(unique) == {}
    (left,) = volumes(unique)
    assert left["VolumeId"] == volume["VolumeId"] and left["State"] == "available"
    assert destroy_plan(spec, target(), keep_images=False, execute=False) == ([], kept)

    # a deploy finds it again and attaches it to its new instance
    run(app_yaml)
    (third,) = instances(unique)
    assert [a["InstanceId"] for a in volumes(unique)[0]["Attachments"]] == [third["InstanceId"]]

    # destroy --delete-data: the instance is gone first, then the volume
    steps, kept = destroy_plan(spec, target(), keep_images=False, execute=False, delete_data=True)
    assert kept == [] and [s.name for s in steps if s.kind == "data volume"] == [f"liftshift-{unique}-web-files"]
    destroy(spec, target(), keep_images=False, delete_data=True)
    assert volumes(unique) == [] and stack_tagged(unique) == {}


def test_a_data_service_lives_in_its_volumes_zone_and_refuses_subnets_without_it(env, tmp_path, unique):
    subnets = {s["AvailabilityZone"]: s["SubnetId"] for s in ec2().describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}
    (zone_a, subnet_a), (zone_b, subnet_b) = sorted(subnets.items())[:2]
    app_yaml = write_app(tmp_path / "s", unique, "one", instances={"subnets": [subnet_b, subnet_a]})
    run(app_yaml)
    (volume,) = volumes(unique)
    assert volume["AvailabilityZone"] == zone_b  # the first subnet's zone
    (first,) = instances(unique)
    assert first["SubnetId"] == subnet_b

    # only a subnet of another zone: refused before anything changes, naming the field
    spec, base = load_spec(write_app(tmp_path / "s", unique, "one", instances={"subnets": [subnet_a]}))
    with pytest.raises(Exception) as refused:
        prepare(spec, base, target())
    assert refused.value.exit_code == 2
    assert "services.web.instances.subnets" in str(refused.value) and zone_b in str(refused.value)
    assert [i["InstanceId"] for i in instances(unique)] == [first["InstanceId"]]
    destroy(spec, target(), keep_images=False, delete_data=True)
    assert volumes(unique) == [] and stack_tagged(unique) == {}


def test_a_deploy_stopped_before_the_attachment_converges_on_the_next(env, tmp_path, unique, monkeypatch):
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore

    from liftshift.apply.executor import StepFailed

    checked = ElasticBlockStore.attach_volume  # ebs_attach_rules' version
    failures = [EC2ClientError("InternalError", "An internal error has occurred")]

    def attach_volume(self):
        if failures:
            raise failures.pop()
        return checked(self)

    monkeypatch.setattr(ElasticBlockStore, "attach_volume", attach_volume)
    app_yaml = write_app(tmp_path / "s", unique, "one")
    with pytest.raises(StepFailed, match="attach data volume"):
        run(app_yaml)
    (volume,) = volumes(unique)
    (first,) = instances(unique)
    assert volume["Attachments"] == []

    spec, base = load_spec(app_yaml)
    steps = prepare(spec, base, target()).steps
    assert [(s.action, s.kind) for s in steps if s.kind != "release"] == [("attach", "data volume")]
    run(app_yaml)
    (again,) = volumes(unique)
    assert again["VolumeId"] == volume["VolumeId"]
    assert [a["InstanceId"] for a in again["Attachments"]] == [first["InstanceId"]]
    assert [i["InstanceId"] for i in instances(unique)] == [first["InstanceId"]]
    assert prepare(spec, base, target()).steps == []


def test_a_rollback_moves_the_volume_to_the_earlier_releases_new_instance(env, tmp_path, unique):
    from liftshift.pipeline.rollback import rollback

    run(write_app(tmp_path / "s", unique, "one"))
    (volume,) = volumes(unique)
    app_yaml = write_app(tmp_path / "s", unique, "two")
    run(app_yaml)
    (second,) = instances(unique)
    spec, _ = load_spec(app_yaml)
    steps = rollback(spec, target(), None, None)
    order = [(s.action, s.kind) for s in steps]
    assert order.index(("terminate", "instances")) < order.index(("launch", "instances")) < order.index(
        ("attach", "data volume"))
    (third,) = instances(unique)
    assert third["InstanceId"] != second["InstanceId"]
    (again,) = volumes(unique)
    assert again["VolumeId"] == volume["VolumeId"]
    assert [a["InstanceId"] for a in again["Attachments"]] == [third["InstanceId"]]
