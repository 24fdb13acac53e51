"""Plans of data volumes (services.X.data), pure (test_plan.py's style): made once in the first subnet's zone,
the instance placed in the volumes' zone, replaced old-first, a kept instance without its volume given it, a
rollback in the same order; DeleteVolume only in destroy --delete-data; a removed service's volumes kept."""

from __future__ import annotations

from typing import Any

import pytest

from liftshift import plan
from liftshift.errors import BadInput
from liftshift.model import names, refs
from liftshift.model.data_volumes import DEVICES, TooManyDataVolumes, data_volumes_of
from liftshift.model.desired import ImageInfo, StackWant, desired_stack
from liftshift.model.launch_template import Ami
from liftshift.model.observed import Observed, ObservedVolume
from liftshift.model.refs import Refs
from liftshift.model.releases import LIVE, Release
from liftshift.model.steps import Step
from liftshift.plan.data import kept_data, kept_data_notes
from liftshift.plan.instances import plan_instance_rollback
from liftshift.spec.model import AppSpec
from test_plan import ACCOUNT, DIGEST, IMAGE_ID, REGION, REGISTRY, calls, converged, instance, kinds, service_dict

SUBNETS = ("subnet-aaaaaaaa", "subnet-bbbbbbbb", "subnet-cccccccc")
ZONES = {"subnet-aaaaaaaa": "eu-west-1b", "subnet-bbbbbbbb": "eu-west-1a", "subnet-cccccccc": "eu-west-1b"}
DATA = {"pg": {"path": "/var/lib/postgresql/data", "size_gb": 20}, "files": {"path": "/srv/files"}}


def want(data: dict[str, Any] | None = None, subnets: tuple[str, ...] = SUBNETS, **over: Any) -> StackWant:
    web = service_dict(instances={"count": 1}, data=DATA if data is None else data, **over)
    spec = AppSpec.model_validate({"version": 1, "name": "shop", "services": {"web": web}})
    return desired_stack(spec, account=ACCOUNT, region=REGION, registry=REGISTRY,
                         images={"web": ImageInfo(IMAGE_ID, DIGEST)}, amis={"web": Ami("ami-12345678")},
                         subnets={"web": subnets}, vpc_ids={"web": "vpc-1"}, template_hash="t", zones=ZONES)


def volume(name: str, zone: str = "eu-west-1b", attached: tuple[str, ...] = (), service: str = "web") -> ObservedVolume:
    return ObservedVolume(f"vol-{service}-{name}", service, name, zone, "in-use" if attached else "available", 20,
                          attached)


def with_volumes(seen: Observed, *attached: str, zone: str = "eu-west-1b") -> Observed:
    seen.data_volumes = [volume(n, zone, tuple(attached)) for n in ("files", "pg")]
    return seen


def converged_data(w: StackWant) -> Observed:
    seen = converged(w)
    seen.instances = [instance(0, config=w.services["web"].launch_template.config_hash, subnet=SUBNETS[0])]
    seen.instances = [_in_zone(i, "eu-west-1b") for i in seen.instances]
    return with_volumes(seen, seen.instances[0].id)


def _in_zone(i, zone):
    from dataclasses import replace

    return replace(i, zone=zone)


def index_of(steps: list[Step], action: str, kind: str) -> int:
    return next(n for n, s in enumerate(steps) if s.action == action and s.kind == kind)


def test_devices_follow_the_sorted_names_and_the_hash_holds_no_volume_id():
    web = want().services["web"]
    assert [(d.name, d.device) for d in web.data] == [("files", "/dev/sdf"), ("pg", "/dev/sdg")]
    assert web.launch_template.user_data is not None and "vol-" not in web.launch_template.user_data
    with pytest.raises(TooManyDataVolumes, match=r"services\.web\.data: 12 data volumes; at most 11"):
        data_volumes_of("web", AppSpec.model_validate({"version": 1, "name": "shop", "services": {"web": service_dict(
            instances={"count": 1}, data={f"v{i}": {"path": f"/d{i}"} for i in range(12)})}}).services["web"])
    assert len(DEVICES) == 11


def test_from_nothing_the_volumes_are_made_in_the_first_subnets_zone_and_attached_to_the_new_instance():
    w = want()
    steps = plan.plan_infrastructure(w, Observed())
    creates = calls(steps, "create_volume")
    assert [c.params["AvailabilityZone"] for c in creates] == ["eu-west-1b", "eu-west-1b"]
    (files, pg) = creates
    assert pg.params["Size"] == 20 and files.params["Size"] == 10
    assert (pg.params["VolumeType"], pg.params["Encrypted"]) == ("gp3", True)
    assert repr(pg.params["ClientToken"]).startswith("<token per run: create_volume")
    assert names.tag_dict(pg.params["TagSpecifications"][0]["Tags"]) == {
        names.TAG_STACK: "shop", names.TAG_SERVICE: "web", names.TAG_DATA: "pg", "Name": "liftshift-shop-web-pg"}
    assert pg.save == {refs.data_volume("web", "pg"): "VolumeId"}
    (launch,) = calls(steps, "run_instances")
    assert launch.params["SubnetId"] == "subnet-aaaaaaaa"  # eu-west-1b; never subnet-bbbbbbbb (eu-west-1a)
    assert launch.save[refs.data_instance("web")] == "Instances[0].InstanceId"
    order = kinds(steps)
    assert order.index(("create", "data volume")) < order.index(("launch", "instances")) < order.index(
        ("wait", "instances running")) < order.index(("attach", "data volume"))
    attaches = calls(steps, "attach_volume")
    assert [(a.params["VolumeId"], a.params["InstanceId"], a.params["Device"]) for a in attaches] == [
        (refs.data_volume("web", "files"), refs.data_instance("web"), "/dev/sdf"),
        (refs.data_volume("web", "pg"), refs.data_instance("web"), "/dev/sdg")]
    assert all("VolumeInUse" in a.retry for a in attaches)
    (wait,) = [c for c in calls(steps, "wait:instance_running")]
    assert wait.params["InstanceIds"] == Refs((refs.new_instances("web", "subnet-aaaaaaaa"),))
    assert not calls(steps, "delete_volume")


def test_a_converged_data_service_plans_nothing():
    w = want()
    assert plan.plan_infrastructure(w, converged_data(w)) == []


def test_a_replacement_goes_old_first_and_moves_the_same_volumes():
    w = want()
    seen = converged_data(w)
    seen.instances = [_in_zone(instance(0, config="0ld0ld0ld0ld", subnet=SUBNETS[0]), "eu-west-1b")]
    seen.data_volumes = [volume(n, attached=("i-web0000",)) for n in ("files", "pg")]
    steps = plan.plan_infrastructure(w, seen)
    seen.templates = []  # the new config's template is made too
    steps = plan.plan_infrastructure(w, seen)
    assert kinds(steps)[:7] == [
        ("create", "release"), ("create", "launch template"), ("terminate", "instances"), ("launch", "instances"),
        ("wait", "instances running"), ("attach", "data volume"), ("attach", "data volume")]
    terminate = steps[2]
    assert [c.operation for c in terminate.calls] == ["terminate_instances", "wait:instance_terminated"]
    assert terminate.calls[0].params["InstanceIds"] == ["i-web0000"]
    assert [a.params["VolumeId"] for a in calls(steps, "attach_volume")] == ["vol-web-files", "vol-web-pg"]
    assert not calls(steps, "create_volume") and not calls(steps, "delete_volume")
    assert len(calls(steps, "terminate_instances")) == 1  # not again in the cleanup


def test_an_interrupted_run_converges_a_kept_instance_without_its_volume_gets_it():
    w = want()
    seen = converged_data(w)
    seen.data_volumes = [volume("files", attached=(seen.instances[0].id,)), volume("pg")]
    steps = plan.plan_infrastructure(w, seen)
    assert kinds(steps) == [("attach", "data volume")]
    assert steps[0].calls[0].params == {"VolumeId": "vol-web-pg", "InstanceId": "i-web0000", "Device": "/dev/sdg"}
    # a volume that was never made (the run stopped before): made in the kept instance's zone and attached
    seen.data_volumes = [volume("files", attached=(seen.instances[0].id,))]
    steps = plan.plan_infrastructure(w, seen)
    assert kinds(steps) == [("create", "data volume"), ("attach", "data volume")]
    assert calls(steps, "create_volume")[0].params["AvailabilityZone"] == "eu-west-1b"


def test_an_instance_outside_the_volumes_zone_is_replaced_into_it():
    w = want()
    seen = converged_data(w)
    seen.data_volumes = [volume(n, zone="eu-west-1a") for n in ("files", "pg")]  # made when subnets differed
    steps = plan.plan_infrastructure(w, seen)
    assert calls(steps, "terminate_instances")[0].params["InstanceIds"] == ["i-web0000"]
    assert calls(steps, "run_instances")[0].params["SubnetId"] == "subnet-bbbbbbbb"


def test_subnets_without_the_volumes_zone_are_refused_naming_the_field():
    w = want(subnets=("subnet-bbbbbbbb",))  # eu-west-1a only
    seen = with_volumes(Observed())  # eu-west-1b
    with pytest.raises(BadInput, match=r"services\.web\.instances\.subnets: none of subnet-bbbbbbbb \(eu-west-1a\) "
                                       r"is in eu-west-1b"):
        plan.plan_infrastructure(w, seen)


def test_nothing_but_destroy_with_the_flag_plans_delete_volume():
    w = want()
    seen = converged_data(w)
    assert not calls(plan.plan_infrastructure(want(env={"A": "changed"}), seen), "delete_volume")
    # the service removed from app.yaml: swept, but its volumes are kept, and the notes say so
    other = AppSpec.model_validate({"version": 1, "name": "shop", "services": {"api": service_dict()}})
    w_other = desired_stack(other, account=ACCOUNT, region=REGION, registry=REGISTRY,
                            images={"api": ImageInfo(IMAGE_ID, DIGEST)}, amis={"api": Ami("ami-12345678")},
                            subnets={"api": SUBNETS}, vpc_ids={"api": "vpc-1"}, template_hash="t", zones=ZONES)
    steps = plan.plan_infrastructure(w_other, seen)
    assert ("terminate", "instances") in kinds(steps) and not calls(steps, "delete_volume")
    notes = kept_data_notes("shop", {"api"}, seen)
    assert len(notes) == 2 and all("no longer in app.yaml" in n and "--delete-data" in n for n in notes)
    assert kept_data_notes("shop", {"web"}, seen) == []
    # destroy: kept unless asked
    assert not calls(plan.plan_destroy("shop", seen, keep_images=False), "delete_volume")
    assert kept_data("shop", seen) == [
        "data volume liftshift-shop-web-files (vol-web-files, 20 GiB in eu-west-1b) of service web is kept",
        "data volume liftshift-shop-web-pg (vol-web-pg, 20 GiB in eu-west-1b) of service web is kept"]
    steps = plan.plan_destroy("shop", seen, keep_images=False, delete_data=True)
    ops = [c.operation for s in steps for c in s.calls]
    assert [c.params["VolumeId"] for c in calls(steps, "delete_volume")] == ["vol-web-files", "vol-web-pg"]
    assert ops.index("wait:instance_terminated") < ops.index("delete_volume")


def test_a_rollback_of_a_data_service_goes_old_first_too():
    w = want()
    seen = converged_data(w)
    spec = AppSpec.model_validate({"version": 1, "name": "shop", "services": {"web": service_dict(
        instances={"count": 1}, data=DATA)}})
    release = Release(service="web", number=1, config="0ld0ld0ld0ld", image=DIGEST,
                      launch_template="liftshift.shop.web.0ld0ld0ld0ld", at="2026-01-01T00:00:00Z", by="me",
                      commit=None, outcome=LIVE)
    steps = plan_instance_rollback("shop", "web", release, 1, SUBNETS, seen, data_volumes_of("web", spec.services["web"]),
                                   ZONES)
    assert kinds(steps) == [("update", "release"), ("terminate", "instances"), ("launch", "instances"),
                            ("wait", "instances running"), ("attach", "data volume"), ("attach", "data volume"),
                            ("update", "release")]
    assert calls(steps, "run_instances")[0].params["SubnetId"] in ("subnet-aaaaaaaa", "subnet-cccccccc")


def test_a_changed_size_replaces_nothing_and_is_noted():
    from liftshift.plan.data import size_notes

    w = want()
    bigger = want(data={**DATA, "pg": {**DATA["pg"], "size_gb": 50}})
    assert bigger.services["web"].launch_template.config_hash == w.services["web"].launch_template.config_hash
    seen = converged_data(w)
    assert plan.plan_infrastructure(bigger, seen) == []
    notes = size_notes({"web": bigger.services["web"].data}, seen)
    assert notes[1].startswith("services.web.data.pg.size_gb is 50 but its volume vol-web-pg has 20 GiB")
    # files: 10 wanted, observed 20 in this fixture
    assert size_notes({"web": w.services["web"].data}, seen) == [
        "services.web.data.files.size_gb is 10 but its volume vol-web-files has 20 GiB: liftshift does not resize "
        "data volumes (EBS ModifyVolume, then resize2fs on the instance, do)"]
