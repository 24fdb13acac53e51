"""Data volumes (services.X.data): made once, attached to the service's one instance, never deleted by a deploy.

An EBS volume lives in one availability zone and attaches to one instance there, so a data service's instances
are placed only in subnets of its volumes' zone, and a replacement goes old-first: the old instance is terminated
(and waited for) before the new one is launched and the volumes attached to it (instances.plan_instances).
Nothing here plans DeleteVolume except `destroy --delete-data` (destroy.py asks `delete_data_volumes`); a
service removed from app.yaml keeps its volumes, and the plan says so (`kept_data_notes`). Pure: nothing here
talks to AWS.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadInput
from ..model import names, refs
from ..model.data_volumes import DataVolume
from ..model.observed import Observed, ObservedVolume
from ..model.steps import Action, Call, Kind, RunToken, Step, Wait

# "Not yet" answers of AttachVolume while the volume's previous attachment goes away or a new volume becomes
# available: VolumeInUse, IncorrectState ("The volume must be in the available state"), and EC2's eventual
# consistency for a volume just made (InvalidVolume.NotFound: "Eventual consistency in the Amazon EC2 API",
# https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html). AttachVolume: "The volume and
# instance must be within the same Availability Zone" and the volume "must be in the available state"
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AttachVolume.html).
ATTACH_NOT_YET = ("VolumeInUse", "IncorrectState", "InvalidVolume.NotFound", "IncorrectInstanceState")


class DataZoneError(BadInput):
    """A data service's subnets and its volumes' availability zone do not meet (bad input: exit 2)."""


def volumes_of(service: str, observed: Observed) -> dict[str, ObservedVolume]:
    """The service's observed data volumes by name (the first by id where, against all care, two share one)."""
    out: dict[str, ObservedVolume] = {}
    for v in sorted(observed.data_volumes, key=lambda v: v.id):
        if v.service == service:
            out.setdefault(v.name, v)
    return out


def data_zone(service: str, data: tuple[DataVolume, ...], subnets: tuple[str, ...], zones: dict[str, str],
              observed: Observed, config: str | None = None) -> str:
    """The zone a data service lives in: its existing volumes', else the zone of a live instance of its current
    config in one of its subnets' zones (not replaced for a zone), else its first subnet's."""
    found = volumes_of(service, observed)
    held = sorted({found[d.name].zone for d in data if d.name in found})
    if len(held) > 1:
        raise DataZoneError(
            f"services.{service}.data: its volumes are in different availability zones ({', '.join(held)}) and "
            "one instance can attach only those of its own zone: move or delete one (see the volumes tagged "
            f"{names.TAG_DATA})")
    if held:
        return held[0]
    usable = {zones[s] for s in subnets if s in zones}
    live = sorted((i for i in observed.instances if i.service == service and i.config_hash == config
                   and i.state in ("pending", "running") and i.zone in usable), key=lambda i: i.id)
    if live:
        return live[0].zone
    if not subnets or subnets[0] not in zones:
        raise DataZoneError(f"services.{service}.instances.subnets: the availability zone of "
                            f"{subnets[0] if subnets else 'its subnet'} is not known; its data volumes are made there")
    return zones[subnets[0]]


def data_subnets(service: str, subnets: tuple[str, ...], zones: dict[str, str], zone: str) -> tuple[str, ...]:
    """The service's subnets in `zone`, where its instance can attach its volumes; refused when none is."""
    inside = tuple(s for s in subnets if zones.get(s) == zone)
    if not inside:
        listed = ", ".join(f"{s} ({zones.get(s, '?')})" for s in subnets)
        raise DataZoneError(
            f"services.{service}.instances.subnets: none of {listed} is in {zone}, where the service's data "
            "volumes are (an EBS volume attaches only to an instance in its own availability zone): list a subnet "
            f"in {zone}")
    return inside


def plan_create_volumes(stack: str, service: str, data: tuple[DataVolume, ...], zone: str,
                        observed: Observed) -> list[Step]:
    """A create step for each data volume the service does not have yet (found by its tags)."""
    found = volumes_of(service, observed)
    steps = []
    for volume in data:
        if volume.name in found:
            continue
        name = names.data_volume(stack, service, volume.name)
        ref = refs.data_volume(service, volume.name)
        steps.append(Step(Action.CREATE, Kind.DATA_VOLUME, name, service, (
            Call("ec2", "create_volume", {
                "AvailabilityZone": zone, "Size": volume.size_gb, "VolumeType": "gp3", "Encrypted": True,
                # A token per run: a retry after a lost answer returns the same volume; a later run finds an
                # earlier run's volume by its tags instead (as steps.RunToken explains for RunInstances).
                "ClientToken": RunToken(f"create_volume {name}"),
                "TagSpecifications": [{"ResourceType": "volume", "Tags": names.tag_list(
                    names.data_volume_tags(stack, service, volume.name))}],
            }, save={ref: "VolumeId"}),
            Wait("ec2", "volume_available", {"VolumeIds": [ref]}),
        ), f"{volume.size_gb} GiB gp3, encrypted, in {zone}, mounted at {volume.path}; kept by destroy unless "
           "--delete-data"))
    return steps


def plan_attach(stack: str, service: str, data: tuple[DataVolume, ...], instance: Any, observed: Observed,
                why: str) -> list[Step]:
    """Attach each data volume to `instance` (an id, or the ref of this run's launch) where it is not yet."""
    found = volumes_of(service, observed)
    steps = []
    for volume in data:
        seen = found.get(volume.name)
        if seen is not None and isinstance(instance, str) and instance in seen.attached:
            continue
        volume_id = seen.id if seen is not None else refs.data_volume(service, volume.name)
        steps.append(Step(Action.ATTACH, Kind.DATA_VOLUME, names.data_volume(stack, service, volume.name), service, (
            Call("ec2", "attach_volume", {"VolumeId": volume_id, "InstanceId": instance, "Device": volume.device},
                 retry=ATTACH_NOT_YET),
        ), f"at {volume.device} of {instance} ({why})" if isinstance(instance, str) else
            f"at {volume.device} of the new instance, once it runs"))
    return steps


def delete_data_volumes(stack: str, observed: Observed, reason: str) -> list[Step]:
    """`destroy --delete-data` only: every data volume of the stack, once its instances are gone."""
    return [Step(Action.DELETE, Kind.DATA_VOLUME, _label(stack, v), v.service, (
        # VolumeInUse while the terminated instance's attachment goes away
        Call("ec2", "delete_volume", {"VolumeId": v.id}, ignore=("InvalidVolume.NotFound",), retry=("VolumeInUse",)),
    ), f"{reason}: its data is gone") for v in sorted(observed.data_volumes, key=lambda v: (v.service, v.name, v.id))]


def kept_data(stack: str, observed: Observed, services: set[str] | None = None) -> list[str]:
    """What destroy without --delete-data keeps (of `services`, else of the whole stack), one line each."""
    return [f"data volume {_label(stack, v)} ({v.id}, {v.size_gb} GiB in {v.zone}) of service {v.service} is kept"
            for v in sorted(observed.data_volumes, key=lambda v: (v.service, v.name, v.id))
            if services is None or v.service in services]


def size_notes(want: dict[str, tuple[DataVolume, ...]], observed: Observed) -> list[str]:
    """Data volumes whose size_gb differs from the volume's: liftshift makes a volume once and never resizes it."""
    out = []
    for service, data in want.items():
        found = volumes_of(service, observed)
        for volume in data:
            seen = found.get(volume.name)
            if seen is not None and seen.size_gb != volume.size_gb:
                out.append(f"services.{service}.data.{volume.name}.size_gb is {volume.size_gb} but its volume "
                           f"{seen.id} has {seen.size_gb} GiB: liftshift does not resize data volumes (EBS "
                           "ModifyVolume, then resize2fs on the instance, do)")
    return out


def kept_data_notes(stack: str, declared: set[str], observed: Observed) -> list[str]:
    """A deploy's notes on the data volumes of services no longer in app.yaml: kept, and how to delete them."""
    gone = {v.service for v in observed.data_volumes} - declared
    return [f"{line}: its service is no longer in app.yaml; `liftshift destroy --delete-data` deletes it with the "
            f"stack, or add the service back to use it again" for line in kept_data(stack, observed, gone)]


def _label(stack: str, volume: ObservedVolume) -> str:
    return names.data_volume(stack, volume.service, volume.name)
