"""The network a stack lands in, and its AMIs: read-only, before anything is built or changed.

Subnets and VPC per service (the listed subnets, else the default VPC's
default subnets), narrowed to the zones that offer each service's instance
type; AMI aliases resolved through AWS's public SSM parameters. Bad input
found here (no such subnet, a type no zone offers, an unknown AMI) is a
NetworkError, exit code 2, raised before any build.
"""

from __future__ import annotations

from ..model.launch_template import Ami
from ..model.observed import LeftOut, Network
from ..spec.grammar import AMI_ALIASES
from ..spec.model import AppSpec
from ..errors import BadInput
from .side_by_side import side_by_side


class NetworkError(BadInput):
    """The account has no usable network for the stack (bad input: exit 2)."""


# Answers meaning "cannot tell which zones offer it" (no permission; an emulator without the operation):
# every subnet is used then, as before this check existed, and plan says so. On AWS only the access codes
# occur for a well-formed request (a role without ec2:DescribeInstanceTypeOfferings); the others are how
# emulators say they lack the operation, and an InternalFailure that outlasts botocore's retries means the
# same there: no answer, so no subnet is dropped on a guess.
_OFFERINGS_UNKNOWN = ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "InternalFailure",
                      "NotImplemented", "InvalidAction")


def offered_zones(ec2, types: set[str] | list[str]) -> dict[str, set[str]] | str:
    """The availability zones of the region that offer each instance type: one paginated
    DescribeInstanceTypeOfferings (LocationType availability-zone, filtered by instance-type) for all the
    stack's types. A type no zone offers maps to an empty set. The error code when EC2 does not say (above)."""
    import botocore.exceptions

    wanted = sorted(set(types))
    zones: dict[str, set[str]] = {t: set() for t in wanted}
    try:
        pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": wanted}],
            PaginationConfig={"PageSize": 1000})
        for page in pages:
            for offer in page.get("InstanceTypeOfferings", []):
                zones.setdefault(offer["InstanceType"], set()).add(offer["Location"])
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in _OFFERINGS_UNKNOWN:
            return str(code)
        raise
    return zones


def usable_subnets(service: str, instance_type: str, chosen: list[tuple[str, str]], offered: set[str], *,
                   listed: bool, load_balanced: bool, region: str) -> tuple[tuple[str, ...], list[LeftOut]]:
    """The subnets of `chosen` ((subnet, zone) in order) whose zone offers the type, and those left out.
    Raises NetworkError (exit 2) when none is left, or when a load-balanced service keeps fewer than two
    zones (an Application Load Balancer needs subnets in at least two)."""
    kept = tuple(s for s, z in chosen if z in offered)
    left = [LeftOut(service, s, z, instance_type, listed) for s, z in chosen if z not in offered]
    which = "listed subnets (instances.subnets)" if listed else "default subnets"
    elsewhere = (f"it is offered in {', '.join(sorted(offered))}" if offered
                 else f"it is offered in no availability zone of {region}")
    if not kept:
        zones = ", ".join(sorted({z for _, z in chosen}))
        raise NetworkError(f"services.{service}: instances.type {instance_type} is not offered in {zones}, "
                           f"the zones of its {which}; {elsewhere}: choose another type"
                           + (" or list subnets in those zones" if offered else ""))
    kept_zones = sorted({z for s, z in chosen if z in offered})
    if load_balanced and len(kept_zones) < 2:
        gone = sorted({z for s, z in chosen if z not in offered})
        detail = f"{instance_type} is offered only in {kept_zones[0]} of them" if gone else (
            f"its {which} are all in {kept_zones[0]}")
        raise NetworkError(f"services.{service}: a load_balancer needs subnets in at least two availability zones "
                           f"that offer {instance_type}; {detail} ({elsewhere})")
    if load_balanced:
        # CreateLoadBalancer (Application): "You can specify only one subnet per Availability Zone."
        seen: dict[str, str] = {}
        for subnet, zone in chosen:
            if zone in offered and seen.setdefault(zone, subnet) != subnet:
                raise NetworkError(f"services.{service}.instances.subnets: {seen[zone]} and {subnet} are both in "
                                   f"{zone}; a load balancer takes one subnet per availability zone: list one each")
    return kept, left


def resolve_network(aws, spec: AppSpec) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Subnets and VPC per service, as `network` finds them."""
    found = network(aws, spec)
    return found.subnets, found.vpcs


def network(aws, spec: AppSpec) -> Network:
    """Subnets and VPC per service: the declared subnets, else the default VPC's default subnets, in both
    cases only those in zones that offer the service's instance type (one more read for the whole stack). The
    reads are made side by side."""
    ec2 = aws.client("ec2")
    explicit = sorted({s for svc in spec.services.values() for s in svc.instances.subnets})
    need_default = any(not svc.instances.subnets for svc in spec.services.values())
    vpc_of: dict[str, str] = {}
    zone_of: dict[str, str] = {}
    types = {svc.instances.type for svc in spec.services.values()}

    def default_subnets() -> list[dict]:
        if not need_default:
            return []
        found = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        if not found:
            raise NetworkError("this region has no default VPC subnets: list instances.subnets in app.yaml")
        return found

    def listed_subnets() -> list[dict]:
        if not explicit:
            return []
        try:
            return ec2.describe_subnets(SubnetIds=explicit)["Subnets"]
        except Exception as exc:  # botocore ClientError: InvalidSubnetID.NotFound
            raise NetworkError(f"instances.subnets: {exc}") from None

    defaults, listed, offered = side_by_side([default_subnets, listed_subnets, lambda: offered_zones(ec2, types)])
    for sub in defaults + listed:
        vpc_of[sub["SubnetId"]] = sub["VpcId"]
        zone_of[sub["SubnetId"]] = sub["AvailabilityZone"]
    default = [(sub["AvailabilityZone"], sub["SubnetId"]) for sub in defaults]
    default_ids = tuple(s for _, s in sorted(default))
    subnets, vpcs, left_out = {}, {}, []
    for name, service in spec.services.items():
        chosen = tuple(service.instances.subnets) or default_ids
        vpc_set = {vpc_of[s] for s in chosen}
        if len(vpc_set) != 1:
            raise NetworkError(f"services.{name}.instances.subnets: the subnets are in different VPCs")
        vpcs[name] = vpc_set.pop()
        if isinstance(offered, str):
            subnets[name] = chosen
            continue
        subnets[name], left = usable_subnets(
            name, service.instances.type, [(s, zone_of[s]) for s in chosen], offered.get(service.instances.type, set()),
            listed=bool(service.instances.subnets), load_balanced=service.load_balancer is not None,
            region=aws.region)
        left_out += left
    notes = () if not isinstance(offered, str) else (
        f"EC2 did not say which zones offer {', '.join(sorted(types))} (DescribeInstanceTypeOfferings: {offered}): "
        "every subnet is used",)
    return Network(subnets, vpcs, tuple(left_out), notes, zones=zone_of)


def resolve_amis(aws, spec: AppSpec) -> dict[str, Ami]:
    """AMI per service: aliases via the public SSM parameters (one batched call)."""
    wanted: dict[str, str] = {}
    for name, service in spec.services.items():
        inst = service.instances
        if inst.ami in AMI_ALIASES:
            ecs_arch = "arm64/" if inst.arch == "arm64" else ""
            wanted[name] = AMI_ALIASES[inst.ami].format(arch=inst.arch, ecs_arch=ecs_arch)
    found: dict[str, str] = {}
    params = sorted(set(wanted.values()))
    if params:
        ssm = aws.client("ssm")
        for i in range(0, len(params), 10):
            response = ssm.get_parameters(Names=params[i: i + 10])
            for p in response["Parameters"]:
                found[p["Name"]] = p["Value"]
            if response.get("InvalidParameters"):
                raise NetworkError(f"AWS has no public AMI parameter {response['InvalidParameters'][0]} in this region")
    explicit = sorted({s.instances.ami for n, s in spec.services.items() if n not in wanted})
    roots: dict[str, str] = {}
    amazon: set[str] = set()
    if explicit:
        for image in aws.client("ec2").describe_images(ImageIds=explicit)["Images"]:
            roots[image["ImageId"]] = image.get("RootDeviceName", "/dev/xvda")
            if image.get("ImageOwnerAlias") == "amazon":
                amazon.add(image["ImageId"])
        missing = [a for a in explicit if a not in roots]
        if missing:
            raise NetworkError(f"AMI {missing[0]} does not exist in this region (or is not shared with this account)")
    out = {}
    for name, service in spec.services.items():
        if name in wanted:
            out[name] = Ami(found[wanted[name]], "/dev/xvda")  # Amazon Linux 2023's root device
        else:
            ami = service.instances.ami
            out[name] = Ami(ami, roots[ami], owned_by_amazon=ami in amazon)
    return out
