"""`status`: the stack's services, images, instances and load balancers, as read from AWS; for people on call
also each load balancer's view of its targets' health (through the target's `Hosts`: describe_target_health on
AWS, the load-balancer stand-in's checks in the rehearsal) and a deploy in progress (the stack's lock)."""

from __future__ import annotations

from typing import Any

from ..model.observed import Observed
from ..spec.model import AppSpec
from ..targets.base import Target


def status(spec: AppSpec, target: Target) -> dict[str, Any]:
    from ..aws.observe import observe_stack

    target.aws.account_id()
    out = status_report(spec, target, observe_stack(target.aws, spec.name))
    out["lock"] = lock_report(target, spec.name)
    return out


def lock_report(target: Target, stack: str, now: float | None = None) -> dict[str, Any] | None:
    """Who holds the stack's lock (aws/lock.py) and since when: a deploy, rollback or destroy in progress, or
    one that died and left it (then `expired`, or `liftshift unlock`). None: no lock."""
    import time

    from ..aws.lock import current

    held = current(target.aws.client("dynamodb"), stack)
    if held is None:
        return None
    return {"owner": held.owner, "operation": held.operation, "since": held.acquired_at,
            "expires_at": held.expires_at, "expired": held.expires_at < int(time.time() if now is None else now)}


def status_report(spec: AppSpec, target: Target, observed: Observed) -> dict[str, Any]:
    services: dict[str, Any] = {}
    addresses = target.hosts.addresses(spec.name)
    for name in sorted(set(spec.services) | observed.services() | {v.service for v in observed.data_volumes}):
        instances = [i for i in observed.instances if i.service == name]
        templates = {t.config_hash: t for t in observed.templates if t.service == name}
        hashes = sorted({i.config_hash for i in instances if i.state in ("pending", "running")})
        current = templates.get(hashes[-1]) if len(hashes) == 1 else None
        services[name] = {
            "declared": name in spec.services,
            "internal": name in spec.services and spec.services[name].internal,
            "count": spec.services[name].instances.count if name in spec.services else 0,
            "image": current.image_digest if current else None,
            "repository": target.registry.repository_uri(spec.name, name),
            "config": hashes[0] if len(hashes) == 1 else hashes,
            "launch_template": current.name if current else None,
            "load_balancer": _load_balancer_report(target, observed, name, spec.name),
            # the ports it publishes besides the main one, on each instance's address
            "extra_ports": [{"published": p, "container": c} for p, c in spec.services[name].extra_ports]
            if name in spec.services else [],
            # data volumes (services.X.data): kept across replacements, and by destroy unless --delete-data
            "data": [{"name": v.name, "id": v.id, "size_gb": v.size_gb, "zone": v.zone, "state": v.state,
                      "attached": list(v.attached)}
                     for v in sorted(observed.data_volumes, key=lambda v: (v.name, v.id)) if v.service == name],
            "instances": [
                {"id": i.id, "state": i.state, "subnet": i.subnet, "zone": i.zone, "public_ip": i.public_ip,
                 "private_ip": i.private_ip, "config": i.config_hash, "address": addresses.get(i.id)}
                for i in sorted(instances, key=lambda i: i.id)
            ],
        }
    return {"stack": spec.name, "region": target.aws.region, "target": target.name, "services": services}


def _load_balancer_report(target: Target, observed: Observed, service: str, stack: str) -> dict[str, Any] | None:
    from ..plan.fleet import live_config

    lb = observed.load_balancers.get(service)
    if lb is None:
        return None
    live = live_config(observed, service)
    release = next((r.number for r in observed.releases if r.service == service and r.config == live), None)
    return {"name": lb.name, "dns": lb.dns, "port": lb.listener_port, "protocol": lb.listener_protocol,
            "address": target.hosts.load_balancer_address(lb), "release": release,
            "config": live, "health": _target_health(target, stack, service, lb.default_target_group)}


def _target_health(target: Target, stack: str, service: str, target_group: str | None) -> dict[str, Any] | None:
    """The serving target group's targets as the load balancer sees them: counts by state, and each target
    that is not healthy with AWS's reason code and description (ELB user guide, "Target health status")."""
    if target_group is None:
        return None
    targets = target.hosts.target_health(target.aws, stack, service, target_group)
    counts: dict[str, int] = {}
    for t in targets:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    return {"healthy": counts.get("healthy", 0), "total": len(targets), "states": counts,
            "targets": targets}
