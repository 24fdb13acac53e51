"""Read-only discovery of what a stack already has in AWS, found by its tags.

One batched, tag-filtered describe per resource kind, so the number of read
calls does not grow with the number of services. Nothing here changes AWS.
IAM roles and ECR repositories cannot be listed by tag; they are listed by the
stack's path/name prefix and, where something would be deleted, their tags are
checked one by one (`verify_tags=True`) so look-alikes are never touched.
An endpoint without ECR, ELBv2 or Auto Scaling (an emulator such as LocalStack's
free edition) holds nothing of them: `Observed.unavailable` notes it, and
`require_services` refuses only a stack that needs one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from ..model import names
from .session import ServiceUnavailable, service_unavailable
from ..model.desired import Ami
from ..spec.model import AMI_ALIASES, AppSpec

LIVE_STATES = ["pending", "running", "stopping", "stopped"]


class NetworkError(Exception):
    """The account has no usable network for the stack (bad input: exit 2)."""


@dataclass(frozen=True)
class ObservedInstance:
    id: str
    service: str
    config_hash: str
    state: str
    subnet: str
    zone: str
    public_ip: str | None
    private_ip: str | None
    launch_template: str | None
    host_hash: str = ""


@dataclass
class ObservedGroup:
    id: str
    name: str
    service: str
    vpc_id: str
    ingress: set[tuple[int, str]]
    other_rules: list[dict[str, Any]]  # rules liftshift would never have made: revoked to keep "only publish"


@dataclass(frozen=True)
class ObservedTemplate:
    id: str
    name: str
    service: str
    config_hash: str
    image_digest: str | None


@dataclass(frozen=True)
class ObservedRule:
    arn: str
    priority: str
    header_values: tuple[str, ...]  # values of the release header this rule matches (a pending release's probe)
    target_group: str | None


@dataclass
class ObservedLoadBalancer:
    arn: str
    name: str
    service: str
    dns: str
    listener_arn: str | None = None
    listener_port: int | None = None
    listener_protocol: str | None = None
    listener_certificate: str | None = None
    default_target_group: str | None = None  # None: no listener, or a fixed response (no release live yet)
    rules: list[ObservedRule] = field(default_factory=list)
    drops_invalid_headers: bool | None = None  # routing.http.drop_invalid_header_fields.enabled; None: not read


@dataclass(frozen=True)
class ObservedTargetGroup:
    arn: str
    name: str
    service: str
    config_hash: str
    port: int
    health: tuple[tuple[str, Any], ...]  # comparable form of the health settings


@dataclass(frozen=True)
class ObservedAutoScalingGroup:
    name: str
    service: str
    config_hash: str
    desired: int
    min_size: int
    max_size: int
    target_groups: tuple[str, ...]
    instances: tuple[str, ...]


@dataclass
class ObservedProfile:
    name: str
    arn: str
    roles: list[str]


@dataclass
class Observed:
    repositories: dict[str, str] = field(default_factory=dict)  # name -> arn
    log_group: str | None = None
    log_retention: int | None = None  # days; None: kept forever
    roles: dict[str, str] = field(default_factory=dict)  # name -> arn
    role_descriptions: dict[str, str] = field(default_factory=dict)  # name -> description (names its policy)
    profiles: dict[str, ObservedProfile] = field(default_factory=dict)
    groups: dict[str, ObservedGroup] = field(default_factory=dict)  # by service
    templates: list[ObservedTemplate] = field(default_factory=list)
    instances: list[ObservedInstance] = field(default_factory=list)
    lb_groups: dict[str, ObservedGroup] = field(default_factory=dict)  # by service
    load_balancers: dict[str, ObservedLoadBalancer] = field(default_factory=dict)  # by service
    target_groups: list[ObservedTargetGroup] = field(default_factory=list)
    auto_scaling_groups: list[ObservedAutoScalingGroup] = field(default_factory=list)
    releases: list[Any] = field(default_factory=list)  # releases.Release records
    # Every load balancer and target group name in the region, whoever owns it -> ARN: read anyway (ELBv2 cannot
    # filter by tag), kept so the ownership check knows without another call whether a name is taken.
    region_load_balancers: dict[str, str] = field(default_factory=dict)
    region_target_groups: dict[str, str] = field(default_factory=dict)
    # Services the endpoint does not offer at all (an emulator without them: aws.service_unavailable) -> its
    # answer. Nothing of theirs can exist there; require_services refuses a stack that needs one.
    unavailable: dict[str, str] = field(default_factory=dict)

    def services(self) -> set[str]:
        """Services that own anything in AWS (to find ones removed from app.yaml)."""
        found = {g.service for g in self.groups.values()} | set(self.lb_groups) | set(self.load_balancers)
        found |= {t.service for t in self.target_groups} | {a.service for a in self.auto_scaling_groups}
        found |= {t.service for t in self.templates} | {i.service for i in self.instances}
        return {s for s in found if s != names.STACK_LEVEL}


def stack_filter(stack: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]


def observe_stack(aws, stack: str, *, verify_tags: bool = False) -> Observed:
    ec2 = aws.client("ec2")
    seen = Observed()

    # Explicit page sizes: moto truncates DescribeLaunchTemplates at 15 results without a NextToken.
    pages = {"PageSize": 200}
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=stack_filter(stack) + [{"Name": "instance-state-name", "Values": LIVE_STATES}],
        PaginationConfig=pages,
    ):
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                tags = names.tag_dict(inst.get("Tags"))
                seen.instances.append(
                    ObservedInstance(
                        id=inst["InstanceId"],
                        service=tags.get(names.TAG_SERVICE, ""),
                        config_hash=tags.get(names.TAG_CONFIG, ""),
                        state=inst["State"]["Name"],
                        subnet=inst.get("SubnetId", ""),
                        zone=inst.get("Placement", {}).get("AvailabilityZone", ""),
                        public_ip=inst.get("PublicIpAddress"),
                        private_ip=inst.get("PrivateIpAddress"),
                        launch_template=tags.get("aws:ec2launchtemplate:id"),
                        host_hash=tags.get(names.TAG_HOST, ""),
                    )
                )

    for page in ec2.get_paginator("describe_launch_templates").paginate(Filters=stack_filter(stack), PaginationConfig=pages):
        for lt in page["LaunchTemplates"]:
            tags = names.tag_dict(lt.get("Tags"))
            seen.templates.append(
                ObservedTemplate(
                    id=lt["LaunchTemplateId"], name=lt["LaunchTemplateName"],
                    service=tags.get(names.TAG_SERVICE, ""), config_hash=tags.get(names.TAG_CONFIG, ""),
                    image_digest=tags.get(names.TAG_IMAGE),
                )
            )

    for page in ec2.get_paginator("describe_security_groups").paginate(Filters=stack_filter(stack), PaginationConfig=pages):
        for group in page["SecurityGroups"]:
            tags = names.tag_dict(group.get("Tags"))
            ingress, other = _parse_ingress(group.get("IpPermissions", []))
            service = tags.get(names.TAG_SERVICE, "")
            into = seen.lb_groups if tags.get(names.TAG_PART) == "lb" else seen.groups
            into[service] = ObservedGroup(
                id=group["GroupId"], name=group["GroupName"], service=service, vpc_id=group.get("VpcId", ""),
                ingress=ingress, other_rules=other,
            )

    _observe_fleets(aws, stack, seen)
    from ..model.releases import read_releases

    seen.releases = read_releases(aws.client("dynamodb"), stack)

    iam = aws.client("iam")
    path = names.iam_path(stack)
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=path):
        for role in page["Roles"]:
            if role["Path"] == path and (not verify_tags or _iam_tagged(iam.list_role_tags(RoleName=role["RoleName"]), stack)):
                seen.roles[role["RoleName"]] = role["Arn"]
                seen.role_descriptions[role["RoleName"]] = role.get("Description", "")
    for page in iam.get_paginator("list_instance_profiles").paginate(PathPrefix=path):
        for profile in page["InstanceProfiles"]:
            if profile["Path"] != path:
                continue
            members = [r["RoleName"] for r in profile.get("Roles", [])]
            # A profile counts as the stack's when it carries a verified role's name or holds one
            # (moto does not implement ListInstanceProfileTags, so its tags are not read).
            if verify_tags and profile["InstanceProfileName"] not in seen.roles and not set(members) & set(seen.roles):
                continue
            seen.profiles[profile["InstanceProfileName"]] = ObservedProfile(
                name=profile["InstanceProfileName"], arn=profile["Arn"],
                roles=[r["RoleName"] for r in profile.get("Roles", [])],
            )

    ecr = aws.client("ecr")
    with _unless_unavailable(seen, "ecr"):
        for page in ecr.get_paginator("describe_repositories").paginate():
            for repo in page["repositories"]:
                if not repo["repositoryName"].startswith(f"{stack}/"):
                    continue
                if verify_tags:
                    tags = names.tag_dict(ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags"))
                    if tags.get(names.TAG_STACK) != stack:
                        continue
                seen.repositories[repo["repositoryName"]] = repo["repositoryArn"]

    logs = aws.client("logs")
    group_name = names.log_group(stack)
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group_name):
        for group in page["logGroups"]:
            if group["logGroupName"] != group_name:
                continue
            if verify_tags:
                tags = logs.list_tags_log_group(logGroupName=group_name).get("tags", {})
                if tags.get(names.TAG_STACK) != stack:
                    continue
            seen.log_group = group_name
            seen.log_retention = group.get("retentionInDays")
    return seen


@contextlib.contextmanager
def _unless_unavailable(seen: Observed, service: str):
    """Read a service; an endpoint without it (aws.service_unavailable) holds nothing of it: noted, not raised."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        if not service_unavailable(exc):
            raise
        seen.unavailable[service] = str(exc)


def require_services(spec: AppSpec, observed: Observed, *, registry_is_ecr: bool) -> None:
    """Refuse (ServiceUnavailable, exit 2, before any change) a stack that needs a service the endpoint lacks:
    ELBv2 and Auto Scaling for a load_balancer, ECR when the images go to ECR."""
    fleets = [name for name, service in spec.services.items() if service.fleet]
    needs = {s: f"services.{fleets[0]}.load_balancer" for s in ("elbv2", "autoscaling") if fleets}
    if registry_is_ecr:
        needs["ecr"] = "its images (pushed to ECR unless LIFTSHIFT_REGISTRY names another registry)"
    missing = [s for s in needs if s in observed.unavailable]
    if missing:
        raise ServiceUnavailable(
            f"stack {spec.name} needs {' and '.join(SERVICE_NAMES[s] for s in missing)} for "
            f"{', '.join(sorted({needs[s] for s in missing}))}, and this AWS endpoint does not offer "
            f"{'them' if len(missing) > 1 else 'it'} ({observed.unavailable[missing[0]]}); nothing was changed. "
            "Use AWS, or an emulator with these services (moto has them), or change app.yaml.")


SERVICE_NAMES = {"elbv2": "Elastic Load Balancing (elbv2)", "autoscaling": "Auto Scaling (autoscaling)",
                 "ecr": "ECR (ecr)"}


def _observe_fleets(aws, stack: str, seen: Observed) -> None:
    """Auto Scaling groups (tag filter), then load balancers and target groups (tags read in batches of 20:
    ELBv2 cannot filter by tag). Listeners, rules and attributes are read per load balancer: three calls per
    fleet service (the attributes are the only way to see whether it drops invalid header fields).
    An endpoint without Auto Scaling or ELBv2 (aws.service_unavailable) holds no fleet: noted in `unavailable`."""
    with _unless_unavailable(seen, "autoscaling"):
        _observe_auto_scaling(aws, stack, seen)
    with _unless_unavailable(seen, "elbv2"):
        _observe_load_balancers(aws, stack, seen)


def _observe_auto_scaling(aws, stack: str, seen: Observed) -> None:
    autoscaling = aws.client("autoscaling")
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
            Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]):
        for group in page["AutoScalingGroups"]:
            tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
            if tags.get(names.TAG_STACK) != stack:
                continue
            seen.auto_scaling_groups.append(ObservedAutoScalingGroup(
                name=group["AutoScalingGroupName"], service=tags.get(names.TAG_SERVICE, ""),
                config_hash=tags.get(names.TAG_CONFIG, ""), desired=group["DesiredCapacity"],
                min_size=group["MinSize"], max_size=group["MaxSize"],
                target_groups=tuple(group.get("TargetGroupARNs", [])),
                instances=tuple(i["InstanceId"] for i in group.get("Instances", [])),
            ))


def _observe_load_balancers(aws, stack: str, seen: Observed) -> None:
    elbv2 = aws.client("elbv2")
    prefix = (names.elb_stack_prefix(stack), names.legacy_elb_prefix(stack))  # tags decide; this only narrows
    every_lb = [lb for page in elbv2.get_paginator("describe_load_balancers").paginate() for lb in page["LoadBalancers"]]
    every_tg = [tg for page in elbv2.get_paginator("describe_target_groups").paginate() for tg in page["TargetGroups"]]
    seen.region_load_balancers = {lb["LoadBalancerName"]: lb["LoadBalancerArn"] for lb in every_lb}
    seen.region_target_groups = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in every_tg}
    lbs = [lb for lb in every_lb if lb["LoadBalancerName"].startswith(prefix)]
    groups = [tg for tg in every_tg if tg["TargetGroupName"].startswith(prefix)]
    arns = [lb["LoadBalancerArn"] for lb in lbs] + [tg["TargetGroupArn"] for tg in groups]
    tags_of: dict[str, dict[str, str]] = {}
    for i in range(0, len(arns), 20):
        for described in elbv2.describe_tags(ResourceArns=arns[i: i + 20])["TagDescriptions"]:
            tags_of[described["ResourceArn"]] = names.tag_dict(described.get("Tags"))
    for tg in groups:
        tags = tags_of.get(tg["TargetGroupArn"], {})
        if tags.get(names.TAG_STACK) != stack:
            continue
        seen.target_groups.append(ObservedTargetGroup(
            arn=tg["TargetGroupArn"], name=tg["TargetGroupName"], service=tags.get(names.TAG_SERVICE, ""),
            config_hash=tags.get(names.TAG_CONFIG, ""), port=tg.get("Port", 0), health=target_group_health(tg),
        ))
    for lb in lbs:
        tags = tags_of.get(lb["LoadBalancerArn"], {})
        if tags.get(names.TAG_STACK) != stack:
            continue
        found = ObservedLoadBalancer(arn=lb["LoadBalancerArn"], name=lb["LoadBalancerName"],
                                     service=tags.get(names.TAG_SERVICE, ""), dns=lb.get("DNSName", ""))
        seen.load_balancers[found.service] = found
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=found.arn).get("Attributes", [])
        found.drops_invalid_headers = any(a.get("Key") == "routing.http.drop_invalid_header_fields.enabled"
                                          and a.get("Value") == "true" for a in attributes)
        listeners = elbv2.describe_listeners(LoadBalancerArn=found.arn)["Listeners"]
        if not listeners:
            continue
        listener = listeners[0]
        found.listener_arn, found.listener_port = listener["ListenerArn"], listener["Port"]
        found.listener_protocol = listener["Protocol"]
        found.listener_certificate = (listener.get("Certificates") or [{}])[0].get("CertificateArn")
        found.default_target_group = _forward_target(listener.get("DefaultActions", []))
        for rule in elbv2.describe_rules(ListenerArn=found.listener_arn)["Rules"]:
            if rule.get("IsDefault") or rule["Priority"] == "default":
                continue
            values: tuple[str, ...] = ()
            for condition in rule.get("Conditions", []):
                header = condition.get("HttpHeaderConfig") or {}
                if header.get("HttpHeaderName", "").lower() == names.RELEASE_HEADER.lower():
                    values = tuple(header.get("Values", []))
            found.rules.append(ObservedRule(rule["RuleArn"], rule["Priority"], values,
                                            _forward_target(rule.get("Actions", []))))


def target_group_health(tg: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The health settings liftshift sets, from a DescribeTargetGroups entry."""
    return (("healthy", tg.get("HealthyThresholdCount")), ("interval", tg.get("HealthCheckIntervalSeconds")),
            ("path", tg.get("HealthCheckPath")), ("timeout", tg.get("HealthCheckTimeoutSeconds")),
            ("unhealthy", tg.get("UnhealthyThresholdCount")))


def _forward_target(actions: list[dict[str, Any]]) -> str | None:
    for action in actions:
        if action.get("Type") == "forward":
            if action.get("TargetGroupArn"):
                return action["TargetGroupArn"]
            weighted = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            if weighted:
                return max(weighted, key=lambda t: t.get("Weight", 1))["TargetGroupArn"]
    return None


def _iam_tagged(response: dict[str, Any], stack: str) -> bool:
    return names.tag_dict(response.get("Tags")).get(names.TAG_STACK) == stack


def _parse_ingress(permissions: list[dict[str, Any]]) -> tuple[set[tuple[int, str]], list[dict[str, Any]]]:
    ours: set[tuple[int, str]] = set()
    other: list[dict[str, Any]] = []
    for perm in permissions:
        single_tcp = perm.get("IpProtocol") == "tcp" and perm.get("FromPort") == perm.get("ToPort")
        if not single_tcp or perm.get("PrefixListIds"):
            other.append(perm)
            continue
        for r in perm.get("IpRanges", []):
            ours.add((perm["FromPort"], r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            ours.add((perm["FromPort"], r["CidrIpv6"]))
        for pair in perm.get("UserIdGroupPairs", []):
            ours.add((perm["FromPort"], pair["GroupId"]))
    return ours, other


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


@dataclass(frozen=True)
class LeftOut:
    """A subnet a service does not use: its zone does not offer the service's instance type."""

    service: str
    subnet: str
    zone: str
    instance_type: str
    listed: bool  # named in app.yaml's instances.subnets (else one of the default VPC's default subnets)

    def __str__(self) -> str:
        key = f"services.{self.service}" + (".instances.subnets" if self.listed else "")
        return f"{key}: {self.subnet} ({self.zone}) left out: {self.instance_type} is not offered in {self.zone}"


@dataclass(frozen=True)
class Network:
    """Subnets (in zones that offer the service's instance type) and VPC per service, and what was left out."""

    subnets: dict[str, tuple[str, ...]]
    vpcs: dict[str, str]
    left_out: tuple[LeftOut, ...] = ()
    notes: tuple[str, ...] = ()  # left-out subnets, and a zone check that could not be made

    @property
    def messages(self) -> list[str]:
        return [str(x) for x in self.left_out] + list(self.notes)


# Answers meaning "cannot tell which zones offer it" (no permission; an emulator without the operation):
# every subnet is used then, as before this check existed, and plan says so.
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
    cases only those in zones that offer the service's instance type (one more read for the whole stack)."""
    ec2 = aws.client("ec2")
    explicit = sorted({s for svc in spec.services.values() for s in svc.instances.subnets})
    need_default = any(not svc.instances.subnets for svc in spec.services.values())
    vpc_of: dict[str, str] = {}
    zone_of: dict[str, str] = {}
    default: list[tuple[str, str]] = []
    if need_default:
        response = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
        for sub in response["Subnets"]:
            vpc_of[sub["SubnetId"]] = sub["VpcId"]
            zone_of[sub["SubnetId"]] = sub["AvailabilityZone"]
            default.append((sub["AvailabilityZone"], sub["SubnetId"]))
        if not default:
            raise NetworkError("this region has no default VPC subnets: list instances.subnets in app.yaml")
    if explicit:
        try:
            response = ec2.describe_subnets(SubnetIds=explicit)
        except Exception as exc:  # botocore ClientError: InvalidSubnetID.NotFound
            raise NetworkError(f"instances.subnets: {exc}") from None
        for sub in response["Subnets"]:
            vpc_of[sub["SubnetId"]] = sub["VpcId"]
            zone_of[sub["SubnetId"]] = sub["AvailabilityZone"]
    default_ids = tuple(s for _, s in sorted(default))
    types = {svc.instances.type for svc in spec.services.values()}
    offered = offered_zones(ec2, types)
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
    return Network(subnets, vpcs, tuple(left_out), notes)
