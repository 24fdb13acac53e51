"""What a stack has in AWS, as plain records: the planner's "observed" side.

Pure data, no AWS calls: `aws.observe` fills an `Observed` from tag-filtered
reads, `aws.network` a `Network` from the subnet and zone reads; the planner,
the targets and the tests build them directly. Values are as AWS answered them
(IDs, ARNs, names); `Observed.releases` are the records of `model.releases`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import names
from .releases import Release

# The health-check settings liftshift sets on a target group, as (setting, value) pairs in a fixed order
# (healthy, interval, path, timeout, unhealthy): comparable with what app.yaml asks for.
HealthSettings = tuple[tuple[str, int | str | None], ...]


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
    # Rules liftshift would never have made, as EC2's IpPermission entries (passed back unchanged to
    # RevokeSecurityGroupIngress): revoked to keep "only publish".
    other_rules: list[dict[str, Any]]


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
    health: HealthSettings  # comparable form of the health settings


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


@dataclass(frozen=True)
class ObservedVolume:
    """A data volume of the stack (an EBS volume with the liftshift:data tag)."""

    id: str
    service: str
    name: str  # its app.yaml name (services.SERVICE.data.NAME)
    zone: str
    state: str  # creating | available | in-use | deleting | error
    size_gb: int
    attached: tuple[str, ...] = ()  # ids of the instances it is attached (or attaching) to


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
    releases: list[Release] = field(default_factory=list)  # oldest first (aws.release_store)
    data_volumes: list[ObservedVolume] = field(default_factory=list)  # kept when their service goes (plan.data)
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
    zones: dict[str, str] = field(default_factory=dict)  # subnet id -> availability zone (data volumes' zone)

    @property
    def messages(self) -> list[str]:
        return [str(x) for x in self.left_out] + list(self.notes)
