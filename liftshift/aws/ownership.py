"""A stack never adopts or changes what another stack, or no liftshift stack, owns.

observe.py finds what the stack owns by its `liftshift:stack` tag. Anything else a plan names may still exist
under that name: made by hand, by another tool, by another stack (an older liftshift's names could collide), or
by this stack in a run that was interrupted before it could be observed. The executor's create calls treat
"already exists" as done, so that interrupted runs converge; before any step runs, `check_ownership` looks up
every resource the plan would create or change by name, and refuses (OwnershipError, exit 2, nothing changed)
when one exists without this stack's tag. One with this stack's tag is an interrupted run's: it is adopted.

Read-only. Only names the plan writes are looked up, so a deploy with nothing to change costs no call here.
Where observation already proves a name free it costs none either: ECR repositories (all of `<stack>/` are
listed), the log group (listed by its exact name), load balancers and target groups (all of the region are
listed). Security groups, launch templates and Auto Scaling groups cost one batched call per kind; IAM roles
and instance profiles one call each (IAM cannot list by name or tag).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..model import names
from .session import is_mutating
from .side_by_side import side_by_side
from ..model.observed import Observed
from ..model.steps import Call, Step
from ..errors import BadInput


class OwnershipError(BadInput):
    """A resource the plan would create or change belongs to another stack or to no liftshift stack:
    bad input, exit code 2, nothing changed."""


@dataclass(frozen=True)
class Claim:
    """A resource, named by the plan, that a mutating call would create or change."""

    kind: str
    name: str
    service: str | None
    vpc: str | None = None  # security groups: names are unique per VPC

    def label(self) -> str:
        return f"{self.kind} {self.name}" + (f" (in {self.vpc})" if self.vpc else "")


# (client, parameter) -> kind: resources named (not referenced by an id or ARN) in a mutating call.
_BY_NAME = {
    ("iam", "RoleName"): "iam role",
    ("iam", "InstanceProfileName"): "instance profile",
    ("ecr", "repositoryName"): "ecr repository",
    ("logs", "logGroupName"): "log group",
    ("autoscaling", "AutoScalingGroupName"): "auto scaling group",
}
# Calls creating a resource whose other calls take its id or ARN: (client, operation) -> (kind, parameter).
_CREATES = {
    ("ec2", "create_security_group"): ("security group", "GroupName"),
    ("ec2", "create_launch_template"): ("launch template", "LaunchTemplateName"),
    ("elbv2", "create_load_balancer"): ("load balancer", "Name"),
    ("elbv2", "create_target_group"): ("target group", "Name"),
}


def claims(steps: Iterable[Step]) -> list[Claim]:
    """Every resource the steps' mutating calls create or change by name, once each, in plan order."""
    out: dict[tuple[str, str, str | None], Claim] = {}

    def add(kind: str, name: Any, service: str | None, vpc: str | None = None) -> None:
        if isinstance(name, str) and (kind, name, vpc) not in out:
            out[(kind, name, vpc)] = Claim(kind, name, service, vpc)

    for step in steps:
        for call in step.calls:
            # Only AWS calls change resources (waits, image pushes and gate questions do not); the lock
            # table is shared by every stack and its items are keyed by stack.
            if not isinstance(call, Call) or call.client == "dynamodb":
                continue
            if not is_mutating(_pascal(call.operation)):
                continue
            created = _CREATES.get((call.client, call.operation))
            if created is not None:
                kind, param = created
                add(kind, call.params.get(param), step.service,
                    call.params.get("VpcId") if kind == "security group" else None)
            for (client, param), kind in _BY_NAME.items():
                if call.client == client and param in call.params:
                    add(kind, call.params[param], step.service)
    return list(out.values())


def _pascal(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def check_ownership(aws, stack: str, steps: Iterable[Step], observed: Observed) -> None:
    """Raise OwnershipError naming every resource the steps would create or change that exists and is not
    this stack's. Read-only; see the module docstring for what it costs."""
    problems = [p for p in (_verdict(stack, c, tags) for c, tags in _lookup(aws, stack, claims(steps), observed))
                if p]
    if problems:
        raise OwnershipError(
            f"stack {stack} would adopt or change resources it does not own; nothing was changed:\n"
            + "\n".join(f"  {p}" for p in problems)
            + "\nliftshift never takes over another stack's resources: remove them, or rename the stack or service.")


def _verdict(stack: str, claim: Claim, tags: dict[str, str] | None) -> str | None:
    """None when the claim may go ahead: the resource does not exist, or it carries this stack's tag."""
    if tags is None:
        return None
    owner = tags.get(names.TAG_STACK)
    if owner is None:
        return f"{claim.label()} exists and is not made by liftshift (no {names.TAG_STACK} tag)"
    if owner != stack:
        return f"{claim.label()} belongs to stack {owner}"
    service = tags.get(names.TAG_SERVICE)
    if claim.service and service and service not in (claim.service, names.STACK_LEVEL):
        return f"{claim.label()} belongs to service {service} of stack {stack}"
    return None


def _lookup(aws, stack: str, wanted: list[Claim], observed: Observed) -> list[tuple[Claim, dict[str, str] | None]]:
    """Each claim with the tags of the resource of its name (None: no such resource). IAM's reads, one per name,
    are made side by side with the others."""
    by_kind: dict[str, list[Claim]] = {}
    for c in wanted:
        by_kind.setdefault(c.kind, []).append(c)
    named, iam = side_by_side([lambda: _lookup_named(aws, stack, by_kind, observed),
                               lambda: _lookup_iam(aws, stack, by_kind)])
    return named + iam


def _lookup_named(aws, stack: str, by_kind: dict[str, list[Claim]],
                  observed: Observed) -> list[tuple[Claim, dict[str, str] | None]]:
    """The claims on what is not IAM: at most one batched read per kind."""
    import botocore.exceptions

    found: list[tuple[Claim, dict[str, str] | None]] = []
    ours_lb = {lb.name for lb in observed.load_balancers.values()}
    ours_tg = {tg.name for tg in observed.target_groups}
    ours_sg = {(g.name, g.vpc_id) for g in [*observed.groups.values(), *observed.lb_groups.values()]}
    ours_lt = {t.name for t in observed.templates}
    ours_asg = {g.name for g in observed.auto_scaling_groups}

    # ECR: observe lists every repository named <stack>/..., by name only: one not seen does not exist.
    ecr = [c for c in by_kind.get("ecr repository", []) if c.name in observed.repositories]
    for c in ecr:
        arn = observed.repositories[c.name]
        found.append((c, names.tag_dict(aws.client("ecr").list_tags_for_resource(resourceArn=arn).get("tags"))))
    # The log group: observe lists it by its exact name, without its tags.
    for c in by_kind.get("log group", []):
        if c.name == observed.log_group or c.name != names.log_group(stack):
            try:
                response = aws.client("logs").list_tags_log_group(logGroupName=c.name)
                found.append((c, response.get("tags", {})))
            except botocore.exceptions.ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
    # Load balancers and target groups: observe lists every one in the region; tags only for a taken name.
    taken = [(c, observed.region_load_balancers[c.name]) for c in by_kind.get("load balancer", [])
             if c.name in observed.region_load_balancers and c.name not in ours_lb]
    taken += [(c, observed.region_target_groups[c.name]) for c in by_kind.get("target group", [])
              if c.name in observed.region_target_groups and c.name not in ours_tg]
    for i in range(0, len(taken), 20):
        batch = dict((arn, c) for c, arn in taken[i: i + 20])
        for described in aws.client("elbv2").describe_tags(ResourceArns=list(batch))["TagDescriptions"]:
            found.append((batch[described["ResourceArn"]], names.tag_dict(described.get("Tags"))))
    # Security groups, launch templates, Auto Scaling groups: one batched read per kind.
    groups = [c for c in by_kind.get("security group", []) if (c.name, c.vpc) not in ours_sg]
    if groups:
        filters = [{"Name": "group-name", "Values": sorted({c.name for c in groups})}]
        vpcs = sorted({c.vpc for c in groups if c.vpc})
        if vpcs:
            filters.append({"Name": "vpc-id", "Values": vpcs})
        existing = {}
        for page in aws.client("ec2").get_paginator("describe_security_groups").paginate(Filters=filters):
            for g in page["SecurityGroups"]:
                existing[(g["GroupName"], g.get("VpcId"))] = names.tag_dict(g.get("Tags"))
        found += [(c, existing[(c.name, c.vpc)]) for c in groups if (c.name, c.vpc) in existing]
    templates = [c for c in by_kind.get("launch template", []) if c.name not in ours_lt]
    if templates:
        existing = {}
        for page in aws.client("ec2").get_paginator("describe_launch_templates").paginate(
                Filters=[{"Name": "launch-template-name", "Values": sorted({c.name for c in templates})}]):
            for t in page["LaunchTemplates"]:
                existing[t["LaunchTemplateName"]] = names.tag_dict(t.get("Tags"))
        found += [(c, existing[c.name]) for c in templates if c.name in existing]
    asgs = [c for c in by_kind.get("auto scaling group", []) if c.name not in ours_asg]
    for i in range(0, len(asgs), 50):
        batch = {c.name: c for c in asgs[i: i + 50]}
        for page in aws.client("autoscaling").get_paginator("describe_auto_scaling_groups").paginate(
                AutoScalingGroupNames=list(batch)):
            for g in page["AutoScalingGroups"]:
                if g["AutoScalingGroupName"] in batch:
                    found.append((batch[g["AutoScalingGroupName"]], {t["Key"]: t["Value"] for t in g.get("Tags", [])}))
    return found


def _lookup_iam(aws, stack: str, by_kind: dict[str, list[Claim]]) -> list[tuple[Claim, dict[str, str] | None]]:
    """The claims on roles and instance profiles: IAM has no listing by name or tag; one read per name."""
    import botocore.exceptions

    found: list[tuple[Claim, dict[str, str] | None]] = []
    if not by_kind.get("iam role") and not by_kind.get("instance profile"):
        return found
    iam = aws.client("iam")
    role_tags: dict[str, dict[str, str] | None] = {}

    def tags_of_role(role: str) -> dict[str, str] | None:
        if role not in role_tags:
            try:
                role_tags[role] = names.tag_dict(iam.list_role_tags(RoleName=role).get("Tags"))
            except botocore.exceptions.ClientError as exc:
                if _code(exc) != "NoSuchEntity":
                    raise
                role_tags[role] = None
        return role_tags[role]

    def profile_of(name: str) -> dict[str, Any] | None:
        try:
            return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return None

    # One read per role and per profile, side by side; a profile's role is read again only if not among them.
    roles = by_kind.get("iam role", [])
    profiles = by_kind.get("instance profile", [])
    answers = side_by_side([lambda c=c: tags_of_role(c.name) for c in roles] +
                           [lambda c=c: profile_of(c.name) for c in profiles])
    found += list(zip(roles, answers[:len(roles)]))
    for c, profile in zip(profiles, answers[len(roles):]):
        found.append((c, None if profile is None else _profile_tags(stack, profile, tags_of_role)))
    return found


def _profile_tags(stack: str, profile: dict[str, Any], tags_of_role) -> dict[str, str]:
    """An instance profile's tags; where they are not returned, those of the role it holds; for an empty,
    untagged profile, this stack's when it is in the stack's IAM path (where only liftshift puts profiles)."""
    tags = names.tag_dict(profile.get("Tags"))
    if tags:
        return tags
    for member in profile.get("Roles", []):
        return tags_of_role(member["RoleName"]) or {}
    if profile.get("Path") == names.iam_path(stack):
        return names.tags(stack)
    return {}


def _code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")
