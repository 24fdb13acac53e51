"""Desired vs observed -> an ordered list of steps, each a list of API calls as data.

Pure: nothing here talks to AWS or Docker. The same steps are printed by
`plan` and run by `deploy` (see apply.py), which is what makes plan truthful.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..model import names
from ..aws.observe import Observed, ObservedInstance
from ..model.releases import LIVE, PENDING, RETIRED, ROLLED_BACK, Origin, Release, next_number, of_service
from ..model.steps import (NEW_GROUP_EC2, NEW_PROFILE_EC2, NEW_ROLE, NEW_TEMPLATE_EC2, Call, Refs, RunToken, Step)
from ..model.desired import (EC2_TRUST_POLICY, SSM_MANAGED_POLICY, ImageInfo, Ref, SecurityGroupWant, ServiceWant,
                        StackWant)

LIFECYCLE_KEEP = 20
LOG_RETENTION_DAYS = 30


PENDING_USER_DATA = "(rendered once the image is pushed: pulls the pushed digest)"


# --- images ------------------------------------------------------------------


@dataclass(frozen=True)
class ImageWant:
    service: str
    repository: str  # ECR repository name, stack/service
    repository_uri: str
    image: ImageInfo


def plan_images(stack: str, wants: list[ImageWant], observed: Observed) -> list[Step]:
    """ECR repositories and pushes: what must exist before launch templates can name a digest. Where the
    endpoint has no ECR (an emulator; images then go to LIFTSHIFT_REGISTRY: require_services), only the pushes."""
    steps = []
    ecr = "ecr" not in observed.unavailable
    for want in wants:
        if ecr and want.repository not in observed.repositories:
            steps.append(Step("create", "ecr repository", want.repository, want.service, (
                Call("ecr", "create_repository", {
                    "repositoryName": want.repository,
                    "imageTagMutability": "IMMUTABLE",
                    "imageScanningConfiguration": {"scanOnPush": True},
                    "encryptionConfiguration": {"encryptionType": "AES256"},
                    "tags": names.tag_list(names.tags(stack, want.service)),
                }, ignore=("RepositoryAlreadyExistsException",)),
                Call("ecr", "put_lifecycle_policy", {
                    "repositoryName": want.repository,
                    "lifecyclePolicyText": lifecycle_policy(),
                }),
            ), "scan on push, immutable tags, encrypted, keeps the last 20 images"))
        if want.image.digest is None:
            steps.append(Step("push", "image", f"{want.repository_uri}:{want.image.tag}", want.service, (
                # Put again with every push: a create interrupted before its policy converges here,
                # before any image could pile up (describe_repositories does not show policies).
                *([Call("ecr", "put_lifecycle_policy", {
                    "repositoryName": want.repository,
                    "lifecyclePolicyText": lifecycle_policy(),
                })] if ecr else []),
                Call("docker", "push", {
                    "service": want.service, "image_id": want.image.image_id,
                    "repository": want.repository_uri, "tag": want.image.tag,
                }, save={f"digest:{want.service}": "@"}),
            ), f"local image {want.image.image_id[:19]}"))
    return steps


def lifecycle_policy() -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1,
        "description": f"keep the last {LIFECYCLE_KEEP} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": LIFECYCLE_KEEP},
        "action": {"type": "expire"},
    }]}, sort_keys=True)


# --- infrastructure ----------------------------------------------------------


@dataclass
class InfraPlan:
    steps: list[Step]
    rollouts: list[Any]  # plan_fleet.Candidate / plan_in_place.InPlaceRollout: undone if a gate fails


def plan_infrastructure(want: StackWant, observed: Observed, *, keep_images: bool = True,
                        origin: Origin | None = None) -> list[Step]:
    return plan_stack(want, observed, keep_images=keep_images, origin=origin).steps


def plan_stack(want: StackWant, observed: Observed, *, keep_images: bool = True,
               origin: Origin | None = None) -> InfraPlan:
    """The stack's steps in the order deploy runs them: shared resources, launches and new releases'
    groups, the waits and health gates, then traffic switches and removals."""
    from .fleet import plan_fleet

    origin = origin or UNKNOWN_ORIGIN
    steps: list[Step] = []
    retention = Call("logs", "put_retention_policy", {"logGroupName": want.log_group,
                                                      "retentionInDays": LOG_RETENTION_DAYS})
    if observed.log_group is None:
        steps.append(Step("create", "log group", want.log_group, None, (
            Call("logs", "create_log_group", {"logGroupName": want.log_group, "tags": names.tags(want.stack)},
                 ignore=("ResourceAlreadyExistsException",)),
            retention,
        ), f"container logs, kept {LOG_RETENTION_DAYS} days"))
    elif observed.log_retention != LOG_RETENTION_DAYS:
        steps.append(Step("update", "log group", want.log_group, None, (retention,),
                          f"keep logs {LOG_RETENTION_DAYS} days (was {observed.log_retention or 'forever'})"))
    launches: list[Step] = []
    new_refs: list[str] = []
    cleanups: list[Step] = []
    gates: list[Step] = []
    finishes: list[Step] = []
    rollouts = []
    for service in want.services.values():
        steps += _plan_role(want.stack, service, observed)
        steps += _plan_group(want.stack, service, observed)
        if service.fleet is not None:
            fleet = plan_fleet(want.stack, _candidate(want.stack, service, observed, origin), observed)
            launches += fleet.prepare
            gates += fleet.gate
            finishes += fleet.finish
            if fleet.rollout is not None:
                rollouts.append(fleet.rollout)
            continue
        launch, refs, cleanup, in_place = _plan_instances(want.stack, service, observed, origin)
        if in_place is not None:
            rollouts.append(in_place)
        launches += launch
        new_refs += refs
        cleanups += cleanup
    steps += launches
    if new_refs:
        # One wait for every new instance of every service, before anything old is removed.
        steps.append(Step("wait", "instances running", f"{len(new_refs)} launch(es)", None, (
            Call("ec2", "wait:instance_running", {"InstanceIds": Refs(tuple(new_refs))}),
        )))
    steps += gates + finishes + cleanups
    for gone in sorted(observed.services() - set(want.services)):
        steps += sweep_service(want.stack, gone, observed, keep_images=keep_images,
                               reason="removed from app.yaml")
    return InfraPlan(steps, rollouts)


UNKNOWN_ORIGIN = Origin(by="unknown", at="", commit=None)


def _new_release(stack: str, service: ServiceWant, observed: Observed, origin: Origin) -> Release:
    """The record of the service's release for app.yaml's config: an earlier attempt's number, else the next."""
    mine = of_service(observed.releases, service.name)
    earlier = next((r for r in mine if r.config == service.launch_template.config_hash), None)
    fleet = None
    if service.fleet is not None:
        f = service.fleet
        fleet = {"listener": {"port": f.listener.port, "protocol": f.listener.protocol,
                              "certificate_arn": f.listener.certificate_arn},
                 "target_group": {"name": f.target_group.name, "port": f.target_group.port,
                                  "health": dict(f.target_group.health)},
                 "auto_scaling_group": f.auto_scaling_group}
    return Release(
        service=service.name, number=earlier.number if earlier else next_number(observed.releases, service.name),
        config=service.launch_template.config_hash, image=service.image.digest,
        launch_template=service.launch_template.name, at=origin.at, by=origin.by, commit=origin.commit,
        fleet=fleet, host=service.tags.get(names.TAG_HOST),
    )


def _candidate(stack: str, service: ServiceWant, observed: Observed, origin: Origin):
    from .fleet import Candidate

    fleet = service.fleet
    assert fleet is not None
    record = _new_release(stack, service, observed, origin)
    group_id: Any = observed.groups[service.name].id if service.name in observed.groups else Ref(f"sg:{service.name}")
    return Candidate(
        service=service.name, config=service.launch_template.config_hash,
        launch_template=service.launch_template.name,
        template_step=_template_step(service, observed, group_id, record.number),
        target_group=fleet.target_group, listener=fleet.listener, auto_scaling_group=fleet.auto_scaling_group,
        count=service.count, subnets=service.subnets, vpc_id=service.security_group.vpc_id, timeout=fleet.timeout,
        keep=service.keep, record=record,
    )


def _template_step(service: ServiceWant, observed: Observed, group_id: Any, number: int) -> Step | None:
    lt = service.launch_template
    if any(t.service == service.name and t.name == lt.name for t in observed.templates):
        return None
    data = _resolve_group(lt.data, group_id)
    if "UserData" not in data:
        data["UserData"] = PENDING_USER_DATA
    lt_tags = {**service.tags, names.TAG_IMAGE: service.image.digest or "pending", names.TAG_RELEASE: str(number)}
    return Step("create", "launch template", lt.name, service.name, (
        Call("ec2", "create_launch_template", {
            "LaunchTemplateName": lt.name,
            "ClientToken": RunToken(f"create_launch_template {lt.name}"),  # never one of an earlier run
            "VersionDescription": f"liftshift config {lt.config_hash}",
            "LaunchTemplateData": data,
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": names.tag_list(lt_tags)}],
        }, ignore=("InvalidLaunchTemplateName.AlreadyExistsException",), retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2),
    ), f"release #{number}: IMDSv2 required, encrypted gp3 root, image "
       f"{service.image_reference or 'pushed by this deploy'}")


def _plan_role(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    """The role, its policies and its instance profile. A role whose description names other permissions
    (an older liftshift's, or the service's changed secrets or rollout) gets the wanted ones."""
    role = service.role
    profile = observed.profiles.get(role.name)
    current = observed.role_descriptions.get(role.name) == role.description
    if role.name in observed.roles and current and profile is not None and role.name in profile.roles:
        return []
    calls: list[Call] = []
    # IAM is eventually consistent: a role or profile created by this step's first calls may be NoSuchEntity briefly
    new_role = NEW_ROLE if role.name not in observed.roles else ()
    new_profile = NEW_ROLE if role.name not in observed.roles or profile is None else ()
    if role.name not in observed.roles:
        calls.append(Call("iam", "create_role", {
            "RoleName": role.name, "Path": role.path,
            "AssumeRolePolicyDocument": EC2_TRUST_POLICY,
            "Description": role.description,
            "Tags": names.tag_list(names.tags(stack, service.name)),
        }, ignore=("EntityAlreadyExists",)))
    # Re-put on every incomplete role: an interrupted deploy converges.
    calls.append(Call("iam", "put_role_policy", {
        "RoleName": role.name, "PolicyName": role.policy_name, "PolicyDocument": role.policy}, retry=new_role))
    for arn in role.managed:
        calls.append(Call("iam", "attach_role_policy", {"RoleName": role.name, "PolicyArn": arn}, retry=new_role))
    if role.name in observed.roles and not current:
        for arn in _managed_by_liftshift(observed.roles[role.name]) - set(role.managed):
            calls.append(Call("iam", "detach_role_policy", {"RoleName": role.name, "PolicyArn": arn},
                              ignore=("NoSuchEntity",)))
    if profile is None:
        calls.append(Call("iam", "create_instance_profile", {
            "InstanceProfileName": role.name, "Path": role.path,
            "Tags": names.tag_list(names.tags(stack, service.name)),
        }, ignore=("EntityAlreadyExists",)))
    calls.append(Call("iam", "add_role_to_instance_profile",
                      {"InstanceProfileName": role.name, "RoleName": role.name}, ignore=("LimitExceeded",),
                      retry=new_profile))
    if role.name in observed.roles and not current:  # last: an interrupted update is seen as not done
        calls.append(Call("iam", "update_role", {"RoleName": role.name, "Description": role.description}))
    action = "create" if role.name not in observed.roles else "update"
    ssm = ", SSM Run Command (in-place rollouts)" if role.managed else ""
    return [Step(action, "iam role", role.name, service.name, tuple(calls),
                 f"pulls only its repository, writes only its log streams, reads only its secrets{ssm}")]


def _managed_by_liftshift(role_arn: str) -> set[str]:
    """AWS managed policies some liftshift version may have attached to an instance role."""
    part = role_arn.split(":")[1]  # arn:<partition>:iam::<account>:role/...
    return {SSM_MANAGED_POLICY.format(partition=part)}


def _rules(rules) -> list[dict[str, Any]]:
    """Ingress rules: a source is a CIDR, or a security group (an id, or a Ref to one made by this plan)."""
    out = []
    for port, source in sorted(rules, key=str):
        if isinstance(source, Ref) or str(source).startswith("sg-"):
            out.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                        "UserIdGroupPairs": [{"GroupId": source}]})
            continue
        key, value = ("Ipv6Ranges", "CidrIpv6") if ":" in source else ("IpRanges", "CidrIp")
        out.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, key: [{value: source}]})
    return out


def _describe_rules(rules) -> str:
    return ", ".join(f"{p} from {'its load balancer' if isinstance(c, Ref) or str(c).startswith('sg-') else c}"
                     for p, c in sorted(rules, key=str))


def _plan_group(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    steps = []
    lb_group: Any = None
    if service.fleet is not None:
        from .fleet import lb_group_id

        steps += plan_security_group(stack, service.name, service.fleet.lb_group, observed.lb_groups.get(service.name),
                                     f"sg:{service.name}:lb", part="lb")
        lb_group = lb_group_id(observed, service.name)
    want = service.security_group
    if lb_group is not None:
        from ..model.desired import LB_GROUP

        want = SecurityGroupWant(want.name, want.description, want.vpc_id, frozenset(
            (port, lb_group if source == LB_GROUP else source) for port, source in want.ingress))
    return steps + plan_security_group(stack, service.name, want, observed.groups.get(service.name),
                                       f"sg:{service.name}")


def plan_security_group(stack: str, service: str, group: SecurityGroupWant, have, ref: str,
                        part: str | None = None) -> list[Step]:
    if have is None:
        tags = names.tags(stack, service, **({names.TAG_PART: part} if part else {}))
        calls = [Call("ec2", "create_security_group", {
            "GroupName": group.name, "Description": group.description, "VpcId": group.vpc_id,
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": names.tag_list(tags)}],
        }, save={ref: "GroupId"})]
        if group.ingress:
            calls.append(Call("ec2", "authorize_security_group_ingress",
                              {"GroupId": Ref(ref), "IpPermissions": _rules(group.ingress)}, retry=NEW_GROUP_EC2))
        opened = _describe_rules(group.ingress) or "nothing"
        return [Step("create", "security group", group.name, service, tuple(calls), f"opens {opened}")]
    add = group.ingress - have.ingress
    remove = have.ingress - group.ingress
    calls = []
    if add:
        calls.append(Call("ec2", "authorize_security_group_ingress",
                          {"GroupId": have.id, "IpPermissions": _rules(add)},
                          ignore=("InvalidPermission.Duplicate",), retry=NEW_GROUP_EC2))  # a new source group
    if remove or have.other_rules:
        calls.append(Call("ec2", "revoke_security_group_ingress",
                          {"GroupId": have.id, "IpPermissions": _rules(remove) + have.other_rules},
                          ignore=("InvalidPermission.NotFound",)))
    if not calls:
        return []
    detail = "; ".join(filter(None, [
        "open " + _describe_rules(add) if add else "",
        "close " + _describe_rules(remove) if remove else "",
        f"remove {len(have.other_rules)} rule(s) not declared in app.yaml" if have.other_rules else "",
    ]))
    return [Step("update", "security group", group.name, service, tuple(calls), detail)]


def _live(instances: list[ObservedInstance]) -> list[ObservedInstance]:
    return [i for i in instances if i.state in ("pending", "running")]


def _plan_instances(stack: str, service: ServiceWant, observed: Observed, origin: Origin = None
                    ) -> tuple[list[Step], list[str], list[Step], Any]:
    """(launch template, in-place updates and launches; refs to the new instance ids; terminations, records and
    template deletions; the in-place rollout, if any)."""
    from .fleet import forget_call, record_call
    from .in_place import InPlaceRollout, plan_updates

    lt = service.launch_template
    mine = [i for i in observed.instances if i.service == service.name]
    current = sorted(_live([i for i in mine if i.config_hash == lt.config_hash]),
                     key=lambda i: (i.state != "running", i.id))
    keep = current[: service.count]
    surplus = current[service.count:]
    outdated = [i for i in mine if i not in current]
    steps: list[Step] = []
    updatable: list[ObservedInstance] = []
    if service.in_place is not None:  # same host settings: the new release's user-data runs on them
        updatable = sorted([i for i in _live(outdated) if i.host_hash == service.in_place.host_hash],
                           key=lambda i: i.id)[: max(0, service.count - len(keep))]
        outdated = [i for i in outdated if i not in updatable]

    templates = [t for t in observed.templates if t.service == service.name]
    launch = service.count - len(keep) - len(updatable)
    group_id: Any = observed.groups[service.name].id if service.name in observed.groups else Ref(f"sg:{service.name}")
    records = of_service(observed.releases, service.name)
    release = _new_release(stack, service, observed, origin or UNKNOWN_ORIGIN)
    # a config with no instance yet goes out
    new_release = (launch > 0 or bool(updatable)) and not keep and service.count > 0
    if new_release:
        earlier = next((r for r in records if r.config == lt.config_hash), None)
        if earlier is None or earlier.outcome != PENDING:
            steps.append(Step("create", "release", f"{service.name} #{release.number}", service.name,
                              (record_call(stack, release),), f"commit {release.commit or '-'}"))
    if launch > 0 or updatable:
        template = _template_step(service, observed, group_id, release.number)
        if template is not None:
            steps.append(template)
    in_place = None
    if updatable:
        assert service.in_place is not None
        in_place = InPlaceRollout(service.name, release, lt.name, tuple((i.id, i.config_hash) for i in updatable),
                                  service.in_place.port, service.in_place.path, service.in_place.timeout)
        steps += plan_updates(stack, in_place)

    new_refs: list[str] = []
    if launch > 0:
        placed = _spread(launch, service.subnets, keep)
        for subnet, n in placed.items():
            ref = f"new:{service.name}:{subnet}"
            new_refs.append(ref)
            token = RunToken(f"run_instances {lt.name} {subnet} x{n}")  # fresh per run: see steps.RunToken
            steps.append(Step("launch", "instances", f"{n} x {service.name} in {subnet}", service.name, (
                Call("ec2", "run_instances", {
                    "LaunchTemplate": {"LaunchTemplateName": lt.name, "Version": "1"},
                    "MinCount": n, "MaxCount": n, "SubnetId": subnet, "ClientToken": token,
                    # Repeated from the template: EC2 takes them from either, moto only from here.
                    "IamInstanceProfile": lt.data["IamInstanceProfile"],
                    "MetadataOptions": lt.data["MetadataOptions"],
                    "TagSpecifications": lt.data["TagSpecifications"],
                }, save={ref: "Instances[].InstanceId"},
                    # a new profile, group or template takes seconds to be usable
                    retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2 + NEW_TEMPLATE_EC2),
            ), f"config {lt.config_hash}"))

    cleanup: list[Step] = []
    current_record = next((r for r in records if r.config == lt.config_hash), None)
    if new_release or (current_record is not None and current_record.outcome != LIVE and service.count > 0):
        live = (current_record or release).with_outcome(LIVE)
        calls = [record_call(stack, live)]
        calls += [record_call(stack, r.with_outcome(RETIRED)) for r in records
                  if r.outcome == LIVE and r.config != lt.config_hash]
        cleanup.append(Step("update", "release", f"{service.name} #{live.number}", service.name, tuple(calls),
                            "live (instances running)"))
    stale = outdated + surplus
    if stale:
        why = "replaced by config " + lt.config_hash if outdated else "more than the declared count"
        if outdated and any(i.config_hash != lt.config_hash for i in outdated):
            why += " (instances are replaced, not rolled: put the service behind a load_balancer for blue-green)"
        cleanup.append(Step("terminate", "instances", ", ".join(i.id for i in stale), service.name, (
            Call("ec2", "terminate_instances", {"InstanceIds": [i.id for i in stale]},
                 ignore=("InvalidInstanceID.NotFound",)),
        ), why))
    # Templates of recorded releases are kept for rollback (the last `keep`); others are removed.
    kept = {r.launch_template for r in sorted(records, key=lambda r: -r.number)[: service.keep]}
    gone_records = [r for r in sorted(records, key=lambda r: -r.number)[service.keep:] if r.config != lt.config_hash]
    for template in templates:
        if template.name == lt.name and service.count > 0:
            continue
        if template.name in kept and service.count > 0:
            continue
        cleanup.append(Step("delete", "launch template", template.name, service.name, (
            Call("ec2", "delete_launch_template", {"LaunchTemplateId": template.id},
                 ignore=("InvalidLaunchTemplateId.NotFound",)),
        ), "no longer used" if template.name not in kept else "beyond the releases kept"))
    if gone_records:
        cleanup.append(Step("delete", "releases", ", ".join(f"#{r.number}" for r in gone_records), service.name,
                            (forget_call(stack, gone_records),), f"keeps the last {service.keep} for rollback"))
    return steps, new_refs, cleanup, in_place


def plan_instance_rollback(stack: str, service: str, release: Release, count: int, subnets: tuple[str, ...],
                           observed: Observed) -> list[Step]:
    """A service without a load balancer back on a recorded release: new instances from its template,
    then the others terminated (as a deploy replaces them)."""
    from .fleet import record_call

    template = release.launch_template
    tags = {**names.tags(stack, service), names.TAG_CONFIG: release.config, "Name": f"{stack}-{service}"}
    if release.host:
        tags[names.TAG_HOST] = release.host
    steps = [Step("update", "release", f"{service} #{release.number}", service,
                  (record_call(stack, release.with_outcome(PENDING)),), "rollback target")]
    refs = []
    for subnet, n in _spread(count, subnets, []).items():
        ref = f"new:{service}:{subnet}"
        refs.append(ref)
        steps.append(Step("launch", "instances", f"{n} x {service} in {subnet}", service, (
            Call("ec2", "run_instances", {
                "LaunchTemplate": {"LaunchTemplateName": template, "Version": "1"},
                "MinCount": n, "MaxCount": n, "SubnetId": subnet,
                "ClientToken": RunToken(f"run_instances {template} {subnet} x{n} (rollback)"),
                # Repeated from the template: EC2 takes it from either, moto only from here. The metadata
                # options are the recorded template's own (EC2 applies them; moto keeps its defaults).
                "IamInstanceProfile": {"Name": names.role(stack, service)},
                "TagSpecifications": [{"ResourceType": "instance", "Tags": names.tag_list(tags)},
                                      {"ResourceType": "volume", "Tags": names.tag_list(tags)}],
            }, save={ref: "Instances[].InstanceId"}, retry=NEW_PROFILE_EC2 + NEW_GROUP_EC2 + NEW_TEMPLATE_EC2),
        ), f"release #{release.number} ({template})"))
    if refs:
        steps.append(Step("wait", "instances running", f"{len(refs)} launch(es)", service, (
            Call("ec2", "wait:instance_running", {"InstanceIds": Refs(tuple(refs))}),
        )))
    calls = [record_call(stack, release.with_outcome(LIVE))]
    calls += [record_call(stack, r.with_outcome(ROLLED_BACK)) for r in of_service(observed.releases, service)
              if r.outcome == LIVE and r.number != release.number]
    steps.append(Step("update", "release", f"{service} #{release.number}", service, tuple(calls), "live again"))
    old = [i.id for i in observed.instances if i.service == service]
    if old:
        steps.append(Step("terminate", "instances", ", ".join(old), service, (
            Call("ec2", "terminate_instances", {"InstanceIds": old}, ignore=("InvalidInstanceID.NotFound",)),
        ), f"rolled back to #{release.number}"))
    return steps


def _resolve_group(data: dict[str, Any], group_id: Any) -> dict[str, Any]:
    out = dict(data)
    out["SecurityGroupIds"] = [group_id]
    return out


def _spread(count: int, subnets: tuple[str, ...], keep: list[ObservedInstance]) -> dict[str, int]:
    """New instances go to the subnets (AZs) with the fewest instances already kept."""
    load = {s: sum(1 for i in keep if i.subnet == s) for s in subnets}
    placed: dict[str, int] = {}
    for _ in range(count):
        subnet = min(subnets, key=lambda s: (load[s], subnets.index(s)))
        load[subnet] += 1
        placed[subnet] = placed.get(subnet, 0) + 1
    return placed


# --- removal -------------------------------------------------------------------


def _terminate_and_wait(ids: list[str], service: str | None, reason: str) -> list[Step]:
    if not ids:
        return []
    return [Step("terminate", "instances", ", ".join(ids), service, (
        Call("ec2", "terminate_instances", {"InstanceIds": ids}, ignore=("InvalidInstanceID.NotFound",)),
        Call("ec2", "wait:instance_terminated", {"InstanceIds": ids}),  # their security groups are freed then
    ), reason)]


def sweep_service(stack: str, service: str, observed: Observed, *, keep_images: bool, reason: str,
                  terminate: bool = True) -> list[Step]:
    """Steps removing everything one service owns, in dependency order."""
    from .fleet import forget_call, plan_fleet_removal

    steps: list[Step] = []
    if terminate:
        steps += plan_fleet_removal(stack, service, observed, reason)
        steps += _terminate_and_wait([i.id for i in observed.instances if i.service == service], service, reason)
    for template in observed.templates:
        if template.service == service:
            steps.append(Step("delete", "launch template", template.name, service, (
                Call("ec2", "delete_launch_template", {"LaunchTemplateId": template.id},
                     ignore=("InvalidLaunchTemplateId.NotFound",)),
            ), reason))
    for group in (observed.groups.get(service), observed.lb_groups.get(service)):
        if group:
            steps.append(Step("delete", "security group", group.name, service, (
                # DependencyViolation: a deleted load balancer's network interfaces go a little later
                Call("ec2", "delete_security_group", {"GroupId": group.id},
                     ignore=("InvalidGroup.NotFound",), retry=("DependencyViolation",)),
            ), reason))
    records = of_service(observed.releases, service)
    if records and terminate:
        steps.append(Step("delete", "releases", f"{len(records)} of {service}", service,
                          (forget_call(stack, records),), reason))
    steps += _sweep_role(names.role(stack, service), service, observed, reason)
    repo = names.repository(stack, service)
    if not keep_images and repo in observed.repositories:
        steps.append(Step("delete", "ecr repository", repo, service, (
            Call("ecr", "delete_repository", {"repositoryName": repo, "force": True},
                 ignore=("RepositoryNotFoundException",)),
        ), reason + " (with its images)"))
    return steps


def _sweep_role(role: str, service: str | None, observed: Observed, reason: str) -> list[Step]:
    calls: list[Call] = []
    profile = observed.profiles.get(role)
    if profile:
        for member in profile.roles:
            calls.append(Call("iam", "remove_role_from_instance_profile",
                              {"InstanceProfileName": profile.name, "RoleName": member}, ignore=("NoSuchEntity",)))
        calls.append(Call("iam", "delete_instance_profile", {"InstanceProfileName": profile.name},
                          ignore=("NoSuchEntity",)))
    if role in observed.roles:
        calls.append(Call("iam", "delete_role_policy", {"RoleName": role, "PolicyName": names.role_policy_name()},
                          ignore=("NoSuchEntity",)))
        calls += [Call("iam", "detach_role_policy", {"RoleName": role, "PolicyArn": arn}, ignore=("NoSuchEntity",))
                  for arn in sorted(_managed_by_liftshift(observed.roles[role]))]
        calls.append(Call("iam", "delete_role", {"RoleName": role}, ignore=("NoSuchEntity",)))
    return [Step("delete", "iam role", role, service, tuple(calls), reason)] if calls else []


def plan_destroy(stack: str, observed: Observed, *, keep_images: bool) -> list[Step]:
    """Everything found with the stack's tags, removed in dependency order: Auto Scaling groups and load
    balancers first (a group would replace terminated instances), instances, then what they used."""
    from .fleet import plan_fleet_removal
    from ..model.releases import item_key
    from ..aws.lock import TABLE

    services = observed.services() | {r.split("/", 1)[1] for r in observed.repositories}
    steps = []
    for service in sorted(services):
        steps += plan_fleet_removal(stack, service, observed, "destroy")
    steps += _terminate_and_wait([i.id for i in observed.instances], None, "destroy")
    for service in sorted(services):
        steps += sweep_service(stack, service, observed, keep_images=keep_images, reason="destroy", terminate=False)
    swept = {names.role(stack, s) for s in services}
    for role in sorted((set(observed.roles) | set(observed.profiles)) - swept):
        steps += _sweep_role(role, None, observed, "destroy")
    if observed.log_group:
        steps.append(Step("delete", "log group", observed.log_group, None, (
            Call("logs", "delete_log_group", {"logGroupName": observed.log_group},
                 ignore=("ResourceNotFoundException",)),
        ), "destroy"))
    if observed.releases:
        steps.append(Step("delete", "release history", f"{len(observed.releases)} release(s)", None, (
            Call("dynamodb", "delete_item", {"TableName": TABLE, "Key": item_key(stack)}),
        ), "destroy"))
    return steps
