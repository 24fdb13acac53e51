"""What a stack holds, read from its spec alone: the runbook's inventory. Pure data, no I/O.

Env variables are listed by name and secrets by reference (where the instance fetches them), never a value:
app.yaml's env values may be anything, and a runbook is passed around.
"""

from __future__ import annotations

from typing import Any

from ..model import names
from ..model.data_volumes import data_volumes_of
from ..spec.grammar import parse_secret, peers_of
from ..spec.model import AppSpec, ServiceSpec

# Where a data volume's EBS file system is mounted on the instance (templates/user-data.sh.j2): the Docker
# volume is bound to its `volume` directory.
DATA_MOUNT = "/var/lib/liftshift/data/{name}/volume"


def inventory(spec: AppSpec) -> list[dict[str, Any]]:
    out = [service_inventory(spec.name, name, service) for name, service in spec.services.items()]
    for item in out:  # who calls it (by ${service.NAME...} or depends_on): an internal service's only clients
        item["called_by"] = [name for name, service in spec.services.items() if item["name"] in peers_of(service)]
    return out


def service_inventory(stack: str, name: str, service: ServiceSpec) -> dict[str, Any]:
    ports = [{"published": service.published_port, "container": service.port, "main": True}]
    ports += [{"published": p, "container": c, "main": False} for p, c in service.extra_ports]
    lb = service.load_balancer
    return {
        "name": name,
        "source": (f"build {service.build.context} ({service.build.dockerfile})" if service.build
                   else f"image {service.image}"),
        "repository": names.repository(stack, name),
        "instances": {"type": service.instances.type, "count": service.instances.count,
                      "ami": service.instances.ami, "arch": service.instances.arch,
                      "subnets": list(service.instances.subnets)},
        "ports": ports,
        "internal": service.internal,
        "ingress": [] if service.internal else list(service.instances.ingress),
        "health": _health(service),
        "load_balancer": None if lb is None else {
            "port": lb.listener_port, "protocol": lb.protocol, "certificate_arn": lb.certificate_arn,
            "health_path": lb.health.path},
        "rollout": service.rollout.strategy or ("blue-green" if lb else "replace"),
        "env": sorted(service.env),
        "secrets": [_secret(env, ref) for env, ref in sorted(service.secrets.items())],
        "secret_files": [{**_secret(file, item.ref), "path": service.secret_file_path(file)}
                         for file, item in sorted(service.secret_files.items())],
        "volumes": [{"host": v.host, "container": v.container, "read_only": v.read_only} for v in service.volumes],
        "data": [{"name": v.name, "path": v.path, "size_gb": v.size_gb, "device": v.device,
                  "docker_volume": names.data_volume(stack, name, v.name),
                  "on_instance": DATA_MOUNT.format(name=v.name)} for v in data_volumes_of(name, service)],
        "depends_on": sorted(service.depends_on),
        "dns": None if service.dns is None else service.dns.model_dump(mode="json"),
    }


def _health(service: ServiceSpec) -> dict[str, Any]:
    health = service.health
    if health is None:
        return {"kind": "none", "path": None, "command": None}
    if health.command is not None:
        command = health.command if isinstance(health.command, str) else " ".join(health.command)
        return {"kind": "command", "path": None, "command": command}
    return {"kind": "http", "path": health.path, "command": None}


def _secret(name: str, ref: str) -> dict[str, Any]:
    store, secret, key = parse_secret(ref)
    return {"name": name, "ref": ref, "store": store, "secret": secret, "key": key}
