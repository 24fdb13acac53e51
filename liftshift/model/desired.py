"""Desired resources derived from the spec: pure data, no I/O.

What the stack should look like once deployed. The planner compares this with
what is observed in AWS. A service's *config hash* names everything that
forces new instances (image, instance settings, container settings, the
user-data template); count, subnets and ingress rules are left out of it
because they change in place. The role's documents are in policies.py, the
launch template's data and user-data context in launch_template.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import names, refs
from .data_volumes import DataVolume, data_volumes_of
from .launch_template import USER_DATA_LIMIT, Ami, UserDataTooLarge, launch_template_data, user_data_context
from .policies import managed_policies, role_policy, secret_refs
from . import registry as _registry
from ..errors import BadInput
from ..spec.model import AppSpec, ServiceSpec
from ..spec.grammar import partition, peers_of, service_order

# The registry's home is registry.py (validate loads only that); what imports it from here still finds it.
Registry = _registry.Registry
ecr_registry = _registry.ecr_registry


@dataclass(frozen=True)
class ImageInfo:
    """The local image for a service and, once it is in the registry, its digest."""

    image_id: str
    digest: str | None = None

    @property
    def tag(self) -> str:
        return "img-" + self.image_id.split(":", 1)[-1]


@dataclass(frozen=True)
class RoleWant:
    name: str
    path: str
    arn: str
    policy_name: str
    policy: str  # JSON
    managed: tuple[str, ...]
    owner: str = ""  # "stack/service"

    @property
    def description(self) -> str:
        """Names the role's permissions by a hash: ListRoles returns descriptions, so a deploy sees a
        changed policy without reading every role's policies."""
        return f"liftshift instances of {self.owner} (permissions {names.short_hash(self.policy, *self.managed, length=12)})"


@dataclass(frozen=True)
class SecurityGroupWant:
    name: str
    description: str
    vpc_id: str
    # (port, source): a CIDR, LB_GROUP, or a ServiceGroup (another service's instances' group); the planner
    # puts the group ids (observed, or refs to groups made in the same run) in place of the markers
    ingress: frozenset[tuple[int, Any]]


@dataclass(frozen=True)
class LaunchTemplateWant:
    name: str
    config_hash: str
    data: dict[str, Any] = field(hash=False, compare=False)
    user_data: str | None = None  # None while the image's digest is unknown (not pushed yet)


LB_GROUP = "sg:lb"  # an ingress source: the service's load balancer's security group (its id is observed)


@dataclass(frozen=True)
class ServiceGroup:
    """An ingress source: the instances' security group of another service of the stack (internal services
    admit these). The planner names it by its observed id, or refs.security_group(service) when this run
    makes it."""

    service: str

    def __str__(self) -> str:
        return f"sg:service:{self.service}"


class InternalAcrossVpcs(BadInput, ValueError):
    """An internal service admits the other services' security groups, which must be in its VPC."""


@dataclass(frozen=True)
class TargetGroupWant:
    name: str
    port: int  # the instances' published port
    health: dict[str, Any] = field(hash=False, compare=False)  # path, interval, healthy, unhealthy, timeout


@dataclass(frozen=True)
class ListenerWant:
    port: int
    protocol: str  # HTTP | HTTPS
    certificate_arn: str | None = None


@dataclass(frozen=True)
class FleetWant:
    """A service behind an ALB: one Auto Scaling group and target group per release."""

    load_balancer: str
    lb_group: SecurityGroupWant
    listener: ListenerWant
    target_group: TargetGroupWant
    auto_scaling_group: str
    timeout: int  # seconds for a new release to become healthy


@dataclass(frozen=True)
class InPlaceWant:
    """Updating the containers on the existing instances, one at a time, and probing each."""

    host_hash: str
    port: int  # the published port, probed on the instance
    path: str | None  # HTTP health path, else a TCP connect
    timeout: int


@dataclass(frozen=True)
class ServiceWant:
    name: str
    repository: str
    repository_uri: str
    image: ImageInfo
    role: RoleWant
    security_group: SecurityGroupWant
    launch_template: LaunchTemplateWant
    count: int
    subnets: tuple[str, ...]
    tags: dict[str, str] = field(hash=False, compare=False)
    fleet: FleetWant | None = None
    keep: int = 5  # releases kept for rollback
    in_place: InPlaceWant | None = None
    data: tuple[DataVolume, ...] = ()  # data volumes (a single instance, no load balancer): plan/data.py
    zones: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # its subnets' zones

    @property
    def image_reference(self) -> str | None:
        return f"{self.repository_uri}@{self.image.digest}" if self.image.digest else None


@dataclass(frozen=True)
class StackWant:
    stack: str
    region: str
    account: str
    log_group: str
    registry: Registry
    services: dict[str, ServiceWant] = field(hash=False, compare=False)
    # Every service after the ones it calls or depends on: the order their instances are launched in.
    order: tuple[str, ...] = ()

    def in_launch_order(self) -> list[ServiceWant]:
        return [self.services[n] for n in self.order if n in self.services] + [
            s for n, s in self.services.items() if n not in self.order]


def templates_hash(template_dir: Path) -> str:
    """The user-data templates' hash (part of every config hash). Only the shell templates (`*.sh.j2`) count:
    other templates there (the runbook's) put nothing on an instance, and adding one must replace none."""
    digest = hashlib.sha256()
    for path in sorted(template_dir.rglob("*.sh.j2")):
        if path.is_file():
            digest.update(path.relative_to(template_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def config_hash(service: ServiceSpec, image: ImageInfo, repository_uri: str, ami: Ami, region: str,
                template_hash: str, peers: dict[str, str] | None = None) -> str:
    """Names everything that forces new instances, including the configurations of the services it
    calls: their addresses are looked up at boot, so a replaced peer means a new lookup."""
    settings = service.model_dump(mode="json")
    for in_place in ("count", "subnets", "ingress", "ssh_ingress"):
        settings["instances"].pop(in_place, None)
    settings.pop("internal", None)  # only security group rules: changed in place
    settings.pop("dns", None)  # a record that `cutover` moves, nothing on the instance
    settings.pop("rollout", None)  # how a release is rolled out is not part of it
    for volume in (settings.get("data") or {}).values():
        volume.pop("size_gb", None)  # used only when the volume is made (plan/data.py); no new instance for it
    blob = json.dumps(
        {"service": settings, "image": image.image_id, "repository": repository_uri, "ami": ami.image_id,
         "root": ami.root_device, "region": region, "templates": template_hash, "peers": peers or {}},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def host_hash(service: ServiceSpec, ami: Ami, region: str) -> str:
    """Names what only new instances can change (type, AMI, disk, key pair): while it is unchanged, an
    in-place rollout can re-run a new release's user-data on the existing instances."""
    blob = json.dumps({"type": service.instances.type, "ami": ami.image_id, "root": ami.root_device,
                       "disk": service.instances.disk_gb, "key": service.instances.key_name, "region": region},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def desired_stack(
    spec: AppSpec,
    *,
    account: str,
    region: str,
    registry: Registry,
    images: dict[str, ImageInfo],
    amis: dict[str, Ami],
    subnets: dict[str, tuple[str, ...]],
    vpc_ids: dict[str, str],
    template_hash: str,
    zones: dict[str, str] | None = None,
) -> StackWant:
    """Everything the stack should have. `amis`, `subnets`, `vpc_ids` are keyed by service; `zones` maps
    subnet ids to availability zones (where a data volume is made)."""
    from .user_data import render_user_data

    part = partition(region)
    services = {}
    hashes: dict[str, str] = {}
    for name in service_order(spec):
        service = spec.services[name]
        image = images[name]
        repo_uri = registry.repository_uri(spec.name, name)
        ami = amis[name]
        peers = {p: hashes[p] for p in peers_of(service)}
        chash = hashes[name] = config_hash(service, image, repo_uri, ami, region, template_hash, peers)
        role_name = names.role(spec.name, name)
        role = RoleWant(
            name=role_name,
            path=names.iam_path(spec.name),
            arn=f"arn:{part}:iam::{account}:role{names.iam_path(spec.name)}{role_name}",
            policy_name=names.role_policy_name(),
            policy=role_policy(spec.name, name, account, region, finds_peers=bool(peers),
                               secrets=secret_refs(service)),
            managed=managed_policies(service, region),
            owner=f"{spec.name}/{name}",
        )
        port = service.published_port
        fleet = None
        if service.load_balancer is not None:
            fleet = fleet_want(spec.name, name, service, chash, vpc_ids[name])
            ingress = {(port, LB_GROUP)}  # only the load balancer reaches the instances
            opened = f"port {port} from its load balancer"
        elif service.internal:  # every published port (compose's ports) from the same sources
            ingress = {(p, source) for source in internal_sources(spec, name, vpc_ids)
                       for p in published_ports(service)}
            opened = f"{_ports_text(service)} from the stack's other services"
        else:
            ingress = {(p, cidr) for cidr in service.instances.ingress for p in published_ports(service)}
            opened = f"{_ports_text(service)} from the declared CIDRs"
        ingress |= {(22, cidr) for cidr in service.instances.ssh_ingress}
        group = SecurityGroupWant(
            name=names.security_group(spec.name, name),
            description=f"liftshift {spec.name}/{name}: {opened}",
            vpc_id=vpc_ids[name],
            ingress=frozenset(ingress),
        )
        service_tags = names.tags(spec.name, name)
        host = host_hash(service, ami, region)
        instance_tags = {**service_tags, names.TAG_CONFIG: chash, names.TAG_HOST: host, "Name": f"{spec.name}-{name}"}
        user_data = None
        if image.digest:
            ctx = user_data_context(spec, name, f"{repo_uri}@{image.digest}", registry, region, chash, hashes)
            user_data = render_user_data(ctx)
            size = len(user_data.encode())
            if size > USER_DATA_LIMIT:
                raise UserDataTooLarge(
                    f"service {name!r}: the rendered user-data is {size} bytes; EC2 allows {USER_DATA_LIMIT}"
                    " (shorten env values or the command)"
                )
        data = launch_template_data(service, ami, role_name, refs.security_group(name), instance_tags, user_data)
        services[name] = ServiceWant(
            name=name,
            repository=names.repository(spec.name, name),
            repository_uri=repo_uri,
            image=image,
            role=role,
            security_group=group,
            launch_template=LaunchTemplateWant(
                name=names.launch_template(spec.name, name, chash), config_hash=chash, data=data,
                user_data=user_data,
            ),
            count=service.instances.count,
            subnets=subnets[name],
            tags=instance_tags,
            fleet=fleet,
            keep=service.rollout.keep,
            in_place=InPlaceWant(host, port, service.health.path if service.health else None,
                                 service.rollout.timeout) if service.in_place else None,
            data=data_volumes_of(name, service),
            zones={s: (zones or {})[s] for s in subnets[name] if s in (zones or {})},
        )
    services = {name: services[name] for name in spec.services}  # app.yaml's order for plans and reports
    return StackWant(
        stack=spec.name, region=region, account=account, log_group=names.log_group(spec.name),
        registry=registry, services=services, order=tuple(service_order(spec)),
    )



def published_ports(service: ServiceSpec) -> list[int]:
    """The instance's ports a service publishes: the main one, then the others (a load balancer forwards
    only the main one; spec/load.py refuses more ports with one)."""
    return [service.published_port] + [published for published, _ in service.extra_ports]


def _ports_text(service: ServiceSpec) -> str:
    ports = published_ports(service)
    return f"port {ports[0]}" if len(ports) == 1 else "ports " + ", ".join(map(str, ports))


def internal_sources(spec: AppSpec, name: str, vpc_ids: dict[str, str]) -> list[ServiceGroup]:
    """The sources an internal service admits: every other service's instances' group, as compose puts every
    service on one default network (not only the services whose env names it: a service may reach another
    without a ${service.NAME...} reference, e.g. by an address written in its own configuration)."""
    others = [other for other in spec.services if other != name]
    away = [other for other in others if vpc_ids[other] != vpc_ids[name]]
    if away:
        raise InternalAcrossVpcs(
            f"services.{name}.internal: the service admits the security groups of the stack's other services, "
            f"but {', '.join(away)} run{'s' if len(away) == 1 else ''} in {vpc_ids[away[0]]} and {name} in "
            f"{vpc_ids[name]} (a rule names groups of its own VPC; liftshift sets up no VPC peering): put their "
            "instances.subnets in one VPC")
    return [ServiceGroup(other) for other in others]


def fleet_want(stack: str, name: str, service: ServiceSpec, chash: str, vpc_id: str) -> FleetWant:
    lb = service.load_balancer
    assert lb is not None
    return FleetWant(
        load_balancer=names.load_balancer(stack, name),
        lb_group=SecurityGroupWant(
            name=names.lb_security_group(stack, name),
            description=f"liftshift {stack}/{name} load balancer: port {lb.listener_port} from the declared CIDRs",
            vpc_id=vpc_id,
            ingress=frozenset((lb.listener_port, cidr) for cidr in service.instances.ingress),
        ),
        listener=ListenerWant(lb.listener_port, lb.protocol, lb.certificate_arn),
        target_group=TargetGroupWant(names.target_group(stack, name, chash), service.published_port,
                                     lb.health.model_dump()),
        auto_scaling_group=names.auto_scaling_group(stack, name, chash),
        timeout=service.rollout.timeout,
    )
