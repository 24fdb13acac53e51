"""Security groups: each service's, and its load balancer's, with exactly the declared ingress rules."""

from __future__ import annotations

from typing import Any

from ..model import names
from ..model import refs
from ..model.desired import LB_GROUP, SecurityGroupWant, ServiceWant
from ..model.observed import ObservedGroup, Observed
from ..model.refs import Ref
from ..model.steps import NEW_GROUP_EC2, Action, Call, Kind, Step


def plan_groups(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    """The load balancer's group first (the instances' group admits it by id), then the instances'."""
    from .fleet import lb_group_id

    steps = []
    lb_group: Any = None
    if service.fleet is not None:
        steps += plan_security_group(stack, service.name, service.fleet.lb_group, observed.lb_groups.get(service.name),
                                     refs.lb_security_group(service.name), part="lb")
        lb_group = lb_group_id(observed, service.name)
    want = service.security_group
    if lb_group is not None:
        want = SecurityGroupWant(want.name, want.description, want.vpc_id, frozenset(
            (port, lb_group if source == LB_GROUP else source) for port, source in want.ingress))
    return steps + plan_security_group(stack, service.name, want, observed.groups.get(service.name),
                                       refs.security_group(service.name))


def plan_security_group(stack: str, service: str, group: SecurityGroupWant, have: ObservedGroup | None, ref: Ref,
                        part: str | None = None) -> list[Step]:
    if have is None:
        tags = names.tags(stack, service, **({names.TAG_PART: part} if part else {}))
        calls = [Call("ec2", "create_security_group", {
            "GroupName": group.name, "Description": group.description, "VpcId": group.vpc_id,
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": names.tag_list(tags)}],
        }, save={ref: "GroupId"})]
        if group.ingress:
            calls.append(Call("ec2", "authorize_security_group_ingress",
                              {"GroupId": ref, "IpPermissions": _rules(group.ingress)}, retry=NEW_GROUP_EC2))
        opened = _describe_rules(group.ingress) or "nothing"
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
        "open " + _describe_rules(add) if add else "",
        "close " + _describe_rules(remove) if remove else "",
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


def _describe_rules(rules) -> str:
    return ", ".join(f"{p} from {'its load balancer' if isinstance(c, Ref) or str(c).startswith('sg-') else c}"
                     for p, c in sorted(rules, key=str))
