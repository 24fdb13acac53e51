"""A service's launch template: the machine image it boots, its data (instance type, disk, metadata
options, tags) and the context its user-data is rendered from. Pure data, no I/O.

Apart from desired.py because the same user-data context is rendered by `render` and checked against
EC2's size limit at validate (spec.limits), before any stack is planned.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import names
from .data_volumes import data_volumes_of
from .secret_files import secret_files_of
from ..errors import BadInput
from ..spec.grammar import parse_secret, peers_of
from ..spec.model import AppSpec, ServiceSpec

if TYPE_CHECKING:
    from .refs import Ref
    from .registry import Registry

USER_DATA_LIMIT = 16384  # EC2's limit on user-data before base64


class UserDataTooLarge(BadInput, ValueError):
    pass


@dataclass(frozen=True)
class Ami:
    image_id: str
    root_device: str = "/dev/xvda"
    owned_by_amazon: bool = True


def user_data_context(spec: AppSpec, name: str, want_image_ref: str, registry: Registry, region: str,
                      chash: str, peer_hashes: dict[str, str]):
    from .user_data import Health, Secret, UserDataContext, Volume

    service = spec.services[name]
    health = service.health
    return UserDataContext(
        stack=spec.name,
        service=name,
        image=want_image_ref,
        registry=registry.host,
        registry_is_ecr=registry.is_ecr,
        region=region,
        log_group=names.log_group(spec.name),
        port=service.port,
        publish=service.published_port,
        command=tuple(service.command) if service.command else None,
        env=tuple(sorted(service.env.items())),
        volumes=tuple(Volume(v.host, v.container, v.read_only) for v in service.volumes),
        health=Health(health.path, health.interval, health.timeout, health.retries, health.start_period,
                      command=_health_command(health.command)) if health else None,
        config_hash=chash,
        peers=tuple(_peer(spec, service, p, peer_hashes[p]) for p in peers_of(service)),
        secrets=tuple(Secret(n, *parse_secret(ref)) for n, ref in sorted(service.secrets.items())),
        data=data_volumes_of(name, service),
        extra_ports=tuple(service.extra_ports),
        secret_files=secret_files_of(service),
    )


def _peer(spec: AppSpec, service: ServiceSpec, name: str, chash: str):
    """A peer as the user-data sees it: where it answers, the names it has, and whether to wait for it."""
    from .user_data import Peer

    peer = spec.services[name]
    wait = name in service.depends_on and service.depends_on[name].condition == "healthy"
    http = peer.health is not None and peer.health.command is None
    return Peer(name, peer.published_port, chash, tuple(peer.aliases), wait,
                peer.health.path if wait and http and peer.health else "")


def _health_command(command: list[str] | str | None) -> tuple[str, ...] | str | None:
    """health.command as the renderer takes it: the exec form as a tuple, the shell form as its string."""
    return tuple(command) if isinstance(command, list) else command


def launch_template_data(service: ServiceSpec, ami: Ami, profile_name: str, group: Ref,
                         instance_tags: dict[str, str], user_data: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ImageId": ami.image_id,
        "InstanceType": service.instances.type,
        "IamInstanceProfile": {"Name": profile_name},
        "SecurityGroupIds": [group],
        "MetadataOptions": metadata_options(service),
        "BlockDeviceMappings": [
            {
                "DeviceName": ami.root_device,
                "Ebs": {"VolumeSize": service.instances.disk_gb, "VolumeType": "gp3", "Encrypted": True,
                        "DeleteOnTermination": True},
            }
        ],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": names.tag_list(instance_tags)},
            {"ResourceType": "volume", "Tags": names.tag_list(instance_tags)},
        ],
    }
    if service.instances.key_name:
        data["KeyName"] = service.instances.key_name
    if user_data is not None:
        data["UserData"] = base64.b64encode(user_data.encode()).decode()
    return data


def metadata_options(service: ServiceSpec) -> dict[str, Any]:
    """IMDSv2 only. Hop limit 1: the instance itself (the user-data: pulls, secrets, logs) reaches the
    metadata service and so the role's credentials; a container on Docker's bridge is one hop further
    and cannot (EC2 user guide, "Configure the Instance Metadata Service options": a hop limit of 2 is
    what lets containers in). `instances.container_credentials: true` opts a service's containers in."""
    hops = 2 if service.instances.container_credentials else 1
    return {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": hops}
