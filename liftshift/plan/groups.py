"""Security groups: each service's, and its load balancer's, with exactly the declared ingress rules.

An internal service's group admits the other services' instances' groups (desired.ServiceGroup sources). A
group made by this run is named by its ref; a rule naming it is authorized only once every group of the run
is made (plan_admissions, after every service's plan_groups), so the order of services in app.yaml and
services that admit each other do not matter.
"""

from __future__ import annotations

from typing import Any

from ..model import names
from ..model import refs
from ..model.desired import LB_GROUP, SecurityGroupWant, ServiceGroup, ServiceWant
from ..model.observed import ObservedGroup, Observed
from ..model.refs import Ref
from ..model.steps import NEW_GROUP_EC2, Action, Call, Kind, Step


def plan_groups(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    """The load balancer's group first (the instances' group admits it by id), then the instances'.
    Rules naming another service's group made by this run are left to plan_admissions."""
    from .fleet import lb_group_id

    steps = []
    lb_group: Any = None
    if service.fleet is not None:
        steps += plan_security_group(stack, service.name, service.fleet.lb_group, observed.lb_groups.get(service.name),
                                     refs.lb_security_group(service.name), part="lb")
        lb_group = lb_group_id(observed, service.name)
    now, _ = _sources(service, observed, lb_group)
    want = service.security_group
    want = SecurityGroupWant(want.name, want.description, want.vpc_id, now)
    return steps + plan_security_group(stack, service.name, want, observed.groups.get(service.name),
                                       refs.security_group(service.name), labels=_labels(service, observed))


def plan_admissions(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    """An internal service's rules naming other services' groups that this run makes: planned after every
    group's creation (a rule can name only an existing group)."""
    _, later = _sources(service, observed, None)
    if not later:
        return []
    have = observed.groups.get(service.name)
    group = have.id if have else refs.security_group(service.name)
    return [Step(Action.UPDATE, Kind.SECURITY_GROUP, service.security_group.name, service.name, (
        Call("ec2", "authorize_security_group_ingress", {"GroupId": group, "IpPermissions": _rules(later)},
             ignore=("InvalidPermission.Duplicate",), retry=NEW_GROUP_EC2),
    ), "open " + _describe_rules(later, _labels(service, observed)))]


def _sources(service: ServiceWant, observed: Observed, lb_group: Any) -> tuple[frozenset, frozenset]:
    """The wanted rules with group ids (or refs) for the markers: those that can be authorized with the group
    itself, and those naming a group this run makes for another service (authorized by plan_admissions)."""
    now, later = set(), set()
    for port, source in service.security_group.ingress:
        if source == LB_GROUP and lb_group is not None:
            now.add((port, lb_group))
        elif isinstance(source, ServiceGroup):
            have = observed.groups.get(source.service)
            if have is not None:
                now.add((port, have.id))
            else:
                later.add((port, refs.security_group(source.service)))
        else:
            now.add((port, source))
    return frozenset(now), frozenset(later)


def _labels(service: ServiceWant, observed: Observed) -> dict[Any, str]:
    """What plans call a source group that is another service's instances' group (its id, or its ref)."""
    labels: dict[Any, str] = {group.id: f"service {group.service}" for group in observed.groups.values()}
    for _, source in service.security_group.ingress:
        if isinstance(source, ServiceGroup):
            labels[refs.security_group(source.service)] = f"service {source.service}"
    return labels


def plan_security_group(stack: str, service: str, group: SecurityGroupWant, have: ObservedGroup | None, ref: Ref,
                        part: str | None = None, labels: dict[Any, str] | None = None) -> list[Step]:
    if have is None:
        tags = names.tags(stack, service, **({names.TAG_PART: part} if part else {}))
        calls = [Call("ec2", "create_security_group", {
            "GroupName": group.name, "Description": group.description, "VpcId": group.vpc_id,
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": names.tag_list(tags)}],
        }, save={ref: "GroupId"})]
        if group.ingress:
            calls.append(Call("ec2", "authorize_security_group_ingress",
                              {"GroupId": ref, "IpPermissions": _rules(group.ingress)}, retry=NEW_GROUP_EC2))
        opened = _describe_rules(group.ingress, labels) or "nothing"
        return [Step(Action.CREATE, Kind.SECURITY_GROUP, group.name, service, tuple(calls), f"opens {opened}")]
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
        "open " + _describe_rules(add, labels) if add else "",
        "close " + _describe_rules(remove, labels) if remove else "",
        f"remove {len(have.other_rules)} rule(s) not declared in app.yaml" if have.other_rules else "",
    ]))
    return [Step(Action.UPDATE, Kind.SECURITY_GROUP, group.name, service, tuple(calls), detail)]


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


def _describe_rules(rules, labels: dict[Any, str] | None = None) -> str:
    labels = labels or {}

    def source(c: Any) -> str:
        if c in labels:
            return labels[c]
        return "its load balancer" if isinstance(c, Ref) or str(c).startswith("sg-") else c

    return ", ".join(f"{p} from {source(c)}" for p, c in sorted(rules, key=str))
