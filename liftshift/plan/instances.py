"""Services without a load balancer: launch templates, instances launched and terminated by liftshift,
in-place updates of the existing instances, and a rollback to a recorded release.

Pure: nothing here talks to AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import names
from ..model import refs
from ..model.desired import ServiceWant
from ..model.observed import Observed, ObservedInstance
from ..model.releases import LIVE, PENDING, RETIRED, ROLLED_BACK, Origin, Release, of_service
from ..model.refs import Ref, Refs
from ..model.data_volumes import DataVolume
from ..model.steps import NEW_GROUP_EC2, NEW_PROFILE_EC2, NEW_TEMPLATE_EC2, Action, Call, Kind, RunToken, Step, Wait
from .data import data_subnets, data_zone, plan_attach, plan_create_volumes
from .in_place import InPlaceRollout, plan_updates
from .records import forget_call, new_release, record_call

PENDING_USER_DATA = "(rendered once the image is pushed: pulls the pushed digest)"

# RunInstances repeats the launch template's profile, metadata options and tags. On AWS this changes nothing:
# parameters given to RunInstances override the template's, and these are the template's own values ("Launch an
# instance from a launch template": "any parameters that you specify ... override the same parameters in the
# launch template"). moto, the emulator the tests and the rehearsal use, applies them only from here.
RUN_INSTANCES_REPEATS = ("IamInstanceProfile", "MetadataOptions", "TagSpecifications")


@dataclass
class InstancesPlan:
    """One service's instance steps, by where plan_stack puts them."""

    launch: list[Step]  # the release record, launch template, in-place updates and launches
    new_instances: list[Ref]  # the new instance ids, waited for before anything old goes
    cleanup: list[Step]  # the release recorded live, terminations, templates and records beyond `keep`
    in_place: InPlaceRollout | None  # undone when a health gate fails


def plan_instances(stack: str, service: ServiceWant, observed: Observed, origin: Origin) -> InstancesPlan:
    """A service's instance steps. With data volumes (plan/data.py), its instance lives in the volumes' zone
    and is replaced old-first: the old one terminated and waited for, the new one launched and waited for,
    then the volumes attached to it (an EBS volume attaches to one instance at a time)."""
    lt = service.launch_template
    mine = [i for i in observed.instances if i.service == service.name]
    zone, subnets = None, service.subnets
    if service.data:
        zone = data_zone(service.name, service.data, service.subnets, service.zones, observed, lt.config_hash)
        subnets = data_subnets(service.name, service.subnets, service.zones, zone)
    current = sorted(_live([i for i in mine if i.config_hash == lt.config_hash and zone in (None, i.zone)]),
                     key=lambda i: (i.state != "running", i.id))
    keep = current[: service.count]
    surplus = current[service.count:]
    outdated = [i for i in mine if i not in current]
    steps: list[Step] = []
    updatable: list[ObservedInstance] = []
    if service.in_place is not None:  # same host settings: the new release's user-data runs on them
        updatable = sorted([i for i in _live(outdated) if i.host_hash == service.in_place.host_hash
                            and zone in (None, i.zone)], key=lambda i: i.id)[: max(0, service.count - len(keep))]
        outdated = [i for i in outdated if i not in updatable]
    stale = outdated + surplus
    if zone is not None:
        steps += plan_create_volumes(stack, service.name, service.data, zone, observed)

    templates = [t for t in observed.templates if t.service == service.name]
    launch = service.count - len(keep) - len(updatable)
    group_id = security_group_id(service, observed)
    records = of_service(observed.releases, service.name)
    release = new_release(service, observed, origin)
    # a config with no instance yet goes out
    is_new = (launch > 0 or bool(updatable)) and not keep and service.count > 0
    if is_new:
        earlier = next((r for r in records if r.config == lt.config_hash), None)
        if earlier is None or earlier.outcome != PENDING:
            steps.append(Step(Action.CREATE, Kind.RELEASE, f"{service.name} #{release.number}", service.name,
                              (record_call(stack, release),), f"commit {release.commit or '-'}"))
    if launch > 0 or updatable:
        template = template_step(service, observed, group_id, release.number)
        if template is not None:
            steps.append(template)
    if zone is not None and stale:  # old-first: the volumes' attachment goes with the old instance
        steps += terminate_first(service.name, [i.id for i in stale], _why(lt.config_hash, outdated))
        stale = []
    if zone is not None and (updatable or keep):
        steps += plan_attach(stack, service.name, service.data, (updatable or keep)[0].id, observed,
                             "updated in place" if updatable else "kept instance")
    in_place = None
    if updatable:
        assert service.in_place is not None
        in_place = InPlaceRollout(service.name, release, lt.name, tuple((i.id, i.config_hash) for i in updatable),
                                  service.in_place.port, service.in_place.path, service.in_place.timeout)
        steps += plan_updates(stack, in_place)

    new_refs: list[Ref] = []
    if launch > 0:
        placed = spread(launch, subnets, keep)
        for subnet, n in placed.items():
            ref = refs.new_instances(service.name, subnet)
            new_refs.append(ref)
            save = {ref: "Instances[].InstanceId"}
            if zone is not None:
                save[refs.data_instance(service.name)] = "Instances[0].InstanceId"
            token = RunToken(f"run_instances {lt.name} {subnet} x{n}")  # fresh per run: see steps.RunToken
            steps.append(Step(Action.LAUNCH, Kind.INSTANCES, f"{n} x {service.name} in {subnet}", service.name, (
                Call("ec2", "run_instances", {
                    "LaunchTemplate": {"LaunchTemplateName": lt.name, "Version": "1"},
                    "MinCount": n, "MaxCount": n, "SubnetId": subnet, "ClientToken": token,
                    **{key: lt.data[key] for key in RUN_INSTANCES_REPEATS},
                }, save=save,
                    # a new profile, group or template takes seconds to be usable
                    retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2 + NEW_TEMPLATE_EC2),
            ), f"config {lt.config_hash}"))
        if zone is not None:  # its own wait: the volumes attach to a running instance, before anything else
            steps.append(wait_running(new_refs, service.name))
            steps += plan_attach(stack, service.name, service.data, refs.data_instance(service.name), observed,
                                 "new instance")
            new_refs = []

    cleanup: list[Step] = []
    current_record = next((r for r in records if r.config == lt.config_hash), None)
    if is_new or (current_record is not None and current_record.outcome != LIVE and service.count > 0):
        live = (current_record or release).with_outcome(LIVE)
        calls = [record_call(stack, live)]
        calls += [record_call(stack, r.with_outcome(RETIRED)) for r in records
                  if r.outcome == LIVE and r.config != lt.config_hash]
        cleanup.append(Step(Action.UPDATE, Kind.RELEASE, f"{service.name} #{live.number}", service.name, tuple(calls),
                            "live (instances running)"))
    if stale:
        cleanup.append(Step(Action.TERMINATE, Kind.INSTANCES, ", ".join(i.id for i in stale), service.name, (
            Call("ec2", "terminate_instances", {"InstanceIds": [i.id for i in stale]},
                 ignore=("InvalidInstanceID.NotFound",)),
        ), _why(lt.config_hash, outdated)))
    # Templates of recorded releases are kept for rollback (the last `keep`); others are removed.
    kept = {r.launch_template for r in sorted(records, key=lambda r: -r.number)[: service.keep]}
    gone_records = [r for r in sorted(records, key=lambda r: -r.number)[service.keep:] if r.config != lt.config_hash]
    for template in templates:
        if template.name == lt.name and service.count > 0:
            continue
        if template.name in kept and service.count > 0:
            continue
        cleanup.append(Step(Action.DELETE, Kind.LAUNCH_TEMPLATE, template.name, service.name, (
            Call("ec2", "delete_launch_template", {"LaunchTemplateId": template.id},
                 ignore=("InvalidLaunchTemplateId.NotFound",)),
        ), "no longer used" if template.name not in kept else "beyond the releases kept"))
    if gone_records:
        cleanup.append(Step(Action.DELETE, Kind.RELEASES, ", ".join(f"#{r.number}" for r in gone_records), service.name,
                            (forget_call(stack, gone_records),), f"keeps the last {service.keep} for rollback"))
    return InstancesPlan(steps, new_refs, cleanup, in_place)


def _why(config: str, outdated: list[ObservedInstance]) -> str:
    why = "replaced by config " + config if outdated else "more than the declared count"
    if outdated and any(i.config_hash != config for i in outdated):
        why += " (instances are replaced, not rolled: put the service behind a load_balancer for blue-green)"
    return why


def terminate_first(service: str, ids: list[str], why: str) -> list[Step]:
    """A data service's old instances, terminated and waited for before the new one is launched: its volumes
    are detached when it is terminated and kept (a volume attached after launch has DeleteOnTermination false:
    "Preserve data when an instance is terminated", https://docs.aws.amazon.com/ebs/latest/userguide/
    ebs-attaching-volume.html and https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/preserving-volumes-on-
    termination.html), and attach to the new instance once free."""
    return [Step(Action.TERMINATE, Kind.INSTANCES, ", ".join(ids), service, (
        Call("ec2", "terminate_instances", {"InstanceIds": ids}, ignore=("InvalidInstanceID.NotFound",)),
        Wait("ec2", "instance_terminated", {"InstanceIds": ids}),
    ), why + "; first, as its data volumes move to the new instance")]


def security_group_id(service: ServiceWant, observed: Observed) -> Any:
    """The instances' security group: its id, or the ref its creation earlier in the plan saves."""
    return observed.groups[service.name].id if service.name in observed.groups else refs.security_group(service.name)


def template_step(service: ServiceWant, observed: Observed, group_id: Any, number: int) -> Step | None:
    """The release's launch template, unless it exists (templates are immutable: one per config)."""
    lt = service.launch_template
    if any(t.service == service.name and t.name == lt.name for t in observed.templates):
        return None
    data = dict(lt.data)
    data["SecurityGroupIds"] = [group_id]
    if "UserData" not in data:
        data["UserData"] = PENDING_USER_DATA
    lt_tags = {**service.tags, names.TAG_IMAGE: service.image.digest or "pending", names.TAG_RELEASE: str(number)}
    return Step(Action.CREATE, Kind.LAUNCH_TEMPLATE, lt.name, service.name, (
        Call("ec2", "create_launch_template", {
            "LaunchTemplateName": lt.name,
            "ClientToken": RunToken(f"create_launch_template {lt.name}"),  # never one of an earlier run
            "VersionDescription": f"liftshift config {lt.config_hash}",
            "LaunchTemplateData": data,
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": names.tag_list(lt_tags)}],
        }, ignore=("InvalidLaunchTemplateName.AlreadyExistsException",), retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2),
    ), f"release #{number}: IMDSv2 required, encrypted gp3 root, image "
       f"{service.image_reference or 'pushed by this deploy'}")


def plan_instance_rollback(stack: str, service: str, release: Release, count: int, subnets: tuple[str, ...],
                           observed: Observed, data: tuple[DataVolume, ...] = (),
                           zones: dict[str, str] | None = None) -> list[Step]:
    """A service without a load balancer back on a recorded release: new instances from its template,
    then the others terminated (as a deploy replaces them). With data volumes (app.yaml's, at their
    devices today) the others go first and the volumes are attached to the new instance, as a deploy does."""
    template = release.launch_template
    old = [i.id for i in observed.instances if i.service == service]
    zone = None
    if data:
        zone = data_zone(service, data, subnets, zones or {}, observed)
        subnets = data_subnets(service, subnets, zones or {}, zone)
    tags = {**names.tags(stack, service), names.TAG_CONFIG: release.config, "Name": f"{stack}-{service}"}
    if release.host:
        tags[names.TAG_HOST] = release.host
    steps = [Step(Action.UPDATE, Kind.RELEASE, f"{service} #{release.number}", service,
                  (record_call(stack, release.with_outcome(PENDING)),), "rollback target")]
    if zone is not None:
        steps += plan_create_volumes(stack, service, data, zone, observed)
        if old:
            steps += terminate_first(service, old, f"rolled back to #{release.number}")
            old = []
    launched: list[Ref] = []
    for subnet, n in spread(count, subnets, []).items():
        ref = refs.new_instances(service, subnet)
        launched.append(ref)
        save = {ref: "Instances[].InstanceId"}
        if zone is not None:
            save[refs.data_instance(service)] = "Instances[0].InstanceId"
        steps.append(Step(Action.LAUNCH, Kind.INSTANCES, f"{n} x {service} in {subnet}", service, (
            Call("ec2", "run_instances", {
                "LaunchTemplate": {"LaunchTemplateName": template, "Version": "1"},
                "MinCount": n, "MaxCount": n, "SubnetId": subnet,
                "ClientToken": RunToken(f"run_instances {template} {subnet} x{n} (rollback)"),
                # Repeated from the template, as RUN_INSTANCES_REPEATS. The metadata options are the recorded
                # template's own (EC2 applies them; moto keeps its defaults).
                "IamInstanceProfile": {"Name": names.role(stack, service)},
                "TagSpecifications": [{"ResourceType": "instance", "Tags": names.tag_list(tags)},
                                      {"ResourceType": "volume", "Tags": names.tag_list(tags)}],
            }, save=save, retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2 + NEW_TEMPLATE_EC2),
        ), f"release #{release.number} ({template})"))
    if launched:
        steps.append(wait_running(launched, service))
        if zone is not None:
            steps += plan_attach(stack, service, data, refs.data_instance(service), observed, "new instance")
    calls = [record_call(stack, release.with_outcome(LIVE))]
    calls += [record_call(stack, r.with_outcome(ROLLED_BACK)) for r in of_service(observed.releases, service)
              if r.outcome == LIVE and r.number != release.number]
    steps.append(Step(Action.UPDATE, Kind.RELEASE, f"{service} #{release.number}", service, tuple(calls), "live again"))
    if old:
        steps.append(Step(Action.TERMINATE, Kind.INSTANCES, ", ".join(old), service, (
            Call("ec2", "terminate_instances", {"InstanceIds": old}, ignore=("InvalidInstanceID.NotFound",)),
        ), f"rolled back to #{release.number}"))
    return steps


def wait_running(launched: list[Ref], service: str | None) -> Step:
    """One wait for every instance the launches made, before anything old is removed."""
    return Step(Action.WAIT, Kind.INSTANCES_RUNNING, f"{len(launched)} launch(es)", service, (
        Wait("ec2", "instance_running", {"InstanceIds": Refs(tuple(launched))}),
    ))


def spread(count: int, subnets: tuple[str, ...], keep: list[ObservedInstance]) -> dict[str, int]:
    """New instances go to the subnets (AZs) with the fewest instances already kept."""
    load = {s: sum(1 for i in keep if i.subnet == s) for s in subnets}
    placed: dict[str, int] = {}
    for _ in range(count):
        subnet = min(subnets, key=lambda s: (load[s], subnets.index(s)))
        load[subnet] += 1
        placed[subnet] = placed.get(subnet, 0) + 1
    return placed


def _live(instances: list[ObservedInstance]) -> list[ObservedInstance]:
    return [i for i in instances if i.state in ("pending", "running")]
