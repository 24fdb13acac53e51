"""Desired vs observed -> an ordered list of steps, each a list of API calls as data.

Pure: nothing here talks to AWS or Docker. The same steps are printed by
`plan` and run by `deploy` (see apply.py), which is what makes plan truthful.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import names
from .observe import Observed, ObservedInstance
from .resources import EC2_TRUST_POLICY, SSM_MANAGED_POLICY, ImageInfo, Ref, ServiceWant, StackWant

LIFECYCLE_KEEP = 20
LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Refs:
    """Several refs whose values (lists) are concatenated: e.g. all new instance ids."""

    names: tuple[str, ...]

    def __repr__(self) -> str:
        return "<" + " + ".join(self.names) + ">"


@dataclass(frozen=True)
class Call:
    client: str  # a boto3 service name, or "docker" for the image pusher
    operation: str  # the client method; "wait:<waiter>" for a botocore waiter
    params: dict[str, Any]
    save: dict[str, str] = field(default_factory=dict)  # ref name -> JMESPath into the response
    ignore: tuple[str, ...] = ()  # error codes meaning "already done" (safe re-runs)
    retry: tuple[str, ...] = ()  # "Code" or "Code:words in the message" meaning "not yet", retried with a bound


@dataclass(frozen=True)
class Step:
    action: str  # create | update | push | launch | terminate | delete | wait
    kind: str
    name: str
    service: str | None
    calls: tuple[Call, ...]
    detail: str = ""


PENDING_USER_DATA = "(rendered once the image is pushed: pulls the pushed digest)"


# --- images ------------------------------------------------------------------


@dataclass(frozen=True)
class ImageWant:
    service: str
    repository: str  # ECR repository name, stack/service
    repository_uri: str
    image: ImageInfo


def plan_images(stack: str, wants: list[ImageWant], observed: Observed) -> list[Step]:
    """ECR repositories and pushes: what must exist before launch templates can name a digest."""
    steps = []
    for want in wants:
        if want.repository not in observed.repositories:
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
                Call("ecr", "put_lifecycle_policy", {
                    "repositoryName": want.repository,
                    "lifecyclePolicyText": lifecycle_policy(),
                }),
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


def plan_infrastructure(want: StackWant, observed: Observed, *, keep_images: bool = True) -> list[Step]:
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
    for service in want.services.values():
        steps += _plan_role(want.stack, service, observed)
        steps += _plan_group(want.stack, service, observed)
        launch, refs, cleanup = _plan_instances(want.stack, service, observed)
        launches += launch
        new_refs += refs
        cleanups += cleanup
    steps += launches
    if new_refs:
        # One wait for every new instance of every service, before anything old is removed.
        steps.append(Step("wait", "instances running", f"{len(new_refs)} launch(es)", None, (
            Call("ec2", "wait:instance_running", {"InstanceIds": Refs(tuple(new_refs))}),
        )))
    steps += cleanups
    for gone in sorted(observed.services() - set(want.services)):
        steps += sweep_service(want.stack, gone, observed, keep_images=keep_images,
                               reason="removed from app.yaml")
    return steps


def _plan_role(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    role = service.role
    profile = observed.profiles.get(role.name)
    if role.name in observed.roles and profile is not None and role.name in profile.roles:
        return []
    calls: list[Call] = []
    if role.name not in observed.roles:
        calls.append(Call("iam", "create_role", {
            "RoleName": role.name, "Path": role.path,
            "AssumeRolePolicyDocument": EC2_TRUST_POLICY,
            "Description": f"liftshift instances of {stack}/{service.name}",
            "Tags": names.tag_list(names.tags(stack, service.name)),
        }, ignore=("EntityAlreadyExists",)))
    # Re-put on every incomplete role: an interrupted deploy converges.
    calls.append(Call("iam", "put_role_policy", {
        "RoleName": role.name, "PolicyName": role.policy_name, "PolicyDocument": role.policy}))
    for arn in role.managed:
        calls.append(Call("iam", "attach_role_policy", {"RoleName": role.name, "PolicyArn": arn}))
    if profile is None:
        calls.append(Call("iam", "create_instance_profile", {
            "InstanceProfileName": role.name, "Path": role.path,
            "Tags": names.tag_list(names.tags(stack, service.name)),
        }, ignore=("EntityAlreadyExists",)))
    calls.append(Call("iam", "add_role_to_instance_profile",
                      {"InstanceProfileName": role.name, "RoleName": role.name}, ignore=("LimitExceeded",)))
    action = "create" if role.name not in observed.roles else "update"
    return [Step(action, "iam role", role.name, service.name, tuple(calls),
                 "pulls only its repository, writes only the stack's log group, SSM managed")]


def _rules(rules: set[tuple[int, str]] | frozenset[tuple[int, str]]) -> list[dict[str, Any]]:
    out = []
    for port, cidr in sorted(rules):
        key, value = ("Ipv6Ranges", "CidrIpv6") if ":" in cidr else ("IpRanges", "CidrIp")
        out.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, key: [{value: cidr}]})
    return out


def _plan_group(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    group = service.security_group
    have = observed.groups.get(service.name)
    ref = f"sg:{service.name}"
    if have is None:
        calls = [Call("ec2", "create_security_group", {
            "GroupName": group.name, "Description": group.description, "VpcId": group.vpc_id,
            "TagSpecifications": [{"ResourceType": "security-group",
                                   "Tags": names.tag_list(names.tags(stack, service.name))}],
        }, save={ref: "GroupId"})]
        if group.ingress:
            calls.append(Call("ec2", "authorize_security_group_ingress",
                              {"GroupId": Ref(ref), "IpPermissions": _rules(group.ingress)}))
        opened = ", ".join(f"{p} from {c}" for p, c in sorted(group.ingress)) or "nothing"
        return [Step("create", "security group", group.name, service.name, tuple(calls), f"opens {opened}")]
    add = group.ingress - have.ingress
    remove = have.ingress - group.ingress
    calls = []
    if add:
        calls.append(Call("ec2", "authorize_security_group_ingress",
                          {"GroupId": have.id, "IpPermissions": _rules(add)},
                          ignore=("InvalidPermission.Duplicate",)))
    if remove or have.other_rules:
        calls.append(Call("ec2", "revoke_security_group_ingress",
                          {"GroupId": have.id, "IpPermissions": _rules(remove) + have.other_rules},
                          ignore=("InvalidPermission.NotFound",)))
    if not calls:
        return []
    detail = "; ".join(filter(None, [
        "open " + ", ".join(f"{p} from {c}" for p, c in sorted(add)) if add else "",
        "close " + ", ".join(f"{p} from {c}" for p, c in sorted(remove)) if remove else "",
        f"remove {len(have.other_rules)} rule(s) not declared in app.yaml" if have.other_rules else "",
    ]))
    return [Step("update", "security group", group.name, service.name, tuple(calls), detail)]


def _live(instances: list[ObservedInstance]) -> list[ObservedInstance]:
    return [i for i in instances if i.state in ("pending", "running")]


def _plan_instances(stack: str, service: ServiceWant, observed: Observed) -> tuple[list[Step], list[str], list[Step]]:
    """(launch template and launches, refs to the new instance ids, terminations and template deletions)."""
    lt = service.launch_template
    mine = [i for i in observed.instances if i.service == service.name]
    current = sorted(_live([i for i in mine if i.config_hash == lt.config_hash]),
                     key=lambda i: (i.state != "running", i.id))
    keep = current[: service.count]
    surplus = current[service.count:]
    outdated = [i for i in mine if i not in current]
    steps: list[Step] = []

    templates = [t for t in observed.templates if t.service == service.name]
    launch = service.count - len(keep)
    group_id: Any = observed.groups[service.name].id if service.name in observed.groups else Ref(f"sg:{service.name}")
    if launch > 0 and not any(t.name == lt.name for t in templates):
        data = _resolve_group(lt.data, group_id)
        if "UserData" not in data:
            data["UserData"] = PENDING_USER_DATA
        lt_tags = {**service.tags, names.TAG_IMAGE: service.image.digest or "pending"}
        steps.append(Step("create", "launch template", lt.name, service.name, (
            Call("ec2", "create_launch_template", {
                "LaunchTemplateName": lt.name,
                "ClientToken": names.short_hash(lt.name, str(sorted(data.items(), key=str)), length=32),
                "VersionDescription": f"liftshift config {lt.config_hash}",
                "LaunchTemplateData": data,
                "TagSpecifications": [{"ResourceType": "launch-template", "Tags": names.tag_list(lt_tags)}],
            }, ignore=("InvalidLaunchTemplateName.AlreadyExistsException",)),
        ), f"IMDSv2 required, encrypted gp3 root, image {service.image_reference or 'pushed by this deploy'}"))

    new_refs: list[str] = []
    if launch > 0:
        placed = _spread(launch, service.subnets, keep)
        for subnet, n in placed.items():
            ref = f"new:{service.name}:{subnet}"
            new_refs.append(ref)
            token = names.short_hash(stack, service.name, lt.config_hash, subnet, str(n),
                                     ",".join(sorted(i.id for i in keep)), length=32)
            steps.append(Step("launch", "instances", f"{n} x {service.name} in {subnet}", service.name, (
                Call("ec2", "run_instances", {
                    "LaunchTemplate": {"LaunchTemplateName": lt.name, "Version": "1"},
                    "MinCount": n, "MaxCount": n, "SubnetId": subnet, "ClientToken": token,
                    # Repeated from the template: EC2 takes them from either, moto only from here.
                    "IamInstanceProfile": lt.data["IamInstanceProfile"],
                    "MetadataOptions": lt.data["MetadataOptions"],
                    "TagSpecifications": lt.data["TagSpecifications"],
                }, save={ref: "Instances[].InstanceId"},
                    retry=("InvalidParameterValue:instance profile",)),  # a new profile takes seconds to be usable
            ), f"config {lt.config_hash}"))

    cleanup: list[Step] = []
    stale = outdated + surplus
    if stale:
        why = "replaced by config " + lt.config_hash if outdated else "more than the declared count"
        if outdated and any(i.config_hash != lt.config_hash for i in outdated):
            why += " (instances are replaced, not rolled: zero-downtime rollouts are not in this version)"
        cleanup.append(Step("terminate", "instances", ", ".join(i.id for i in stale), service.name, (
            Call("ec2", "terminate_instances", {"InstanceIds": [i.id for i in stale]},
                 ignore=("InvalidInstanceID.NotFound",)),
        ), why))
    for template in templates:
        if template.name != lt.name or service.count == 0:
            cleanup.append(Step("delete", "launch template", template.name, service.name, (
                Call("ec2", "delete_launch_template", {"LaunchTemplateId": template.id},
                     ignore=("InvalidLaunchTemplateId.NotFound",)),
            ), "no longer used"))
    return steps, new_refs, cleanup


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
    steps: list[Step] = []
    if terminate:
        steps += _terminate_and_wait([i.id for i in observed.instances if i.service == service], service, reason)
    for template in observed.templates:
        if template.service == service:
            steps.append(Step("delete", "launch template", template.name, service, (
                Call("ec2", "delete_launch_template", {"LaunchTemplateId": template.id},
                     ignore=("InvalidLaunchTemplateId.NotFound",)),
            ), reason))
    group = observed.groups.get(service)
    if group:
        steps.append(Step("delete", "security group", group.name, service, (
            Call("ec2", "delete_security_group", {"GroupId": group.id},
                 ignore=("InvalidGroup.NotFound",), retry=("DependencyViolation",)),
        ), reason))
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
        part = observed.roles[role].split(":")[1]  # arn:<partition>:iam::<account>:role/...
        calls += [
            Call("iam", "delete_role_policy", {"RoleName": role, "PolicyName": names.role_policy_name()},
                 ignore=("NoSuchEntity",)),
            Call("iam", "detach_role_policy", {"RoleName": role, "PolicyArn": SSM_MANAGED_POLICY.format(partition=part)},
                 ignore=("NoSuchEntity",)),
            Call("iam", "delete_role", {"RoleName": role}, ignore=("NoSuchEntity",)),
        ]
    return [Step("delete", "iam role", role, service, tuple(calls), reason)] if calls else []


def plan_destroy(stack: str, observed: Observed, *, keep_images: bool) -> list[Step]:
    """Everything found with the stack's tags, removed in dependency order."""
    steps = _terminate_and_wait([i.id for i in observed.instances], None, "destroy")
    services = observed.services() | {r.split("/", 1)[1] for r in observed.repositories}
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
    return steps
