"""`verify`: the validation a migration runbook names, run against what the stack runs now (read only).

Each service answers its health path through its load balancer's address when it has one, else on each
running instance's address (the addresses `status` reports); a service whose health is a command, or that
declares none, accepts a TCP connection on its port instead. An internal service is reachable from its
peers only: its security group admits no CIDR, only the stack's own groups (read from AWS or the
emulator), and in the local rehearsal its port does not answer on 127.0.0.1 (the stand-in publishes it on
the bridge's gateway, where the stack's containers reach it). Data volumes are attached to a running
instance of their service. Every check is one line of the result; any failed one makes the command exit 3.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .. import http_probe
from ..errors import Unhealthy
from ..model.observed import Observed
from ..spec.model import AppSpec, ServiceSpec
from ..targets.base import Target

PROBE_TIMEOUT = 5.0


class VerifyFailed(Unhealthy):
    """One or more checks of `verify` failed: exit code 3. The result names each one."""

    def __init__(self, result: dict[str, Any]):
        self.result = result
        failed = [c for c in result["checks"] if not c["ok"]]
        super().__init__(f"{len(failed)} of {len(result['checks'])} check(s) of stack {result['stack']} failed: "
                         + "; ".join(f"{c['service']}: {c['check']} {c['target']}: {c['detail']}" for c in failed))


def verify(spec: AppSpec, target: Target) -> dict[str, Any]:
    """Run every check; the result as data (`passed` False when any check failed)."""
    from ..aws.observe import observe_stack

    target.aws.account_id()
    observed = observe_stack(target.aws, spec.name)
    addresses = target.hosts.addresses(spec.name)
    checks: list[dict[str, Any]] = []
    for name in sorted(spec.services):
        checks += service_checks(spec, name, target, observed, addresses)
    return {"stack": spec.name, "region": target.aws.region, "target": target.name,
            "passed": all(c["ok"] for c in checks), "checks": checks}


def check(service: str, kind: str, where: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"service": service, "check": kind, "target": where, "ok": ok, "detail": detail}


def service_checks(spec: AppSpec, name: str, target: Target, observed: Observed,
                   addresses: dict[str, str]) -> list[dict[str, Any]]:
    service = spec.services[name]
    running = sorted((i for i in observed.instances if i.service == name and i.state == "running"),
                     key=lambda i: i.id)
    out: list[dict[str, Any]] = []
    if service.instances.count == 0:
        return [check(name, "instances", "count 0", True, "no instances declared: nothing to check")]
    if not running:
        return [check(name, "instances", f"count {service.instances.count}", False, "no running instance")]
    lb = observed.load_balancers.get(name)
    if lb is not None and service.load_balancer is not None:
        out.append(_through_load_balancer(name, service, target, lb))
    elif service.internal and target.name != "local":
        out.append(check(name, "health", "(internal)", True,
                         "not probed from here: on AWS it is reachable from the stack's services only"))
    else:
        for instance in running:
            out.append(_on_instance(name, service, instance, addresses.get(instance.id)))
    if service.internal:
        out.append(_internal_group(name, spec, observed))
        if target.rehearsal:
            out.append(_not_on_loopback(name, service))
    out += _data_volumes(name, service, observed, {i.id for i in running})
    return out


def _path(service: ServiceSpec) -> str | None:
    """The HTTP path to probe, or None: a TCP connect (health.command, or no health declared)."""
    if service.health is None or service.health.command is not None:
        return None
    return service.health.path


def _probe(name: str, kind: str, host: str, port: int, path: str | None, https: bool = False) -> dict[str, Any]:
    import http.client

    where = f"{'https' if https else 'http'}://{host}:{port}{path}" if path else f"tcp://{host}:{port}"
    if path is None:
        ok = http_probe.connects(host, port, PROBE_TIMEOUT)
        return check(name, kind, where, ok, "accepts a connection" if ok else "no connection")
    try:
        status, _ = http_probe.get(host, port, path, timeout=PROBE_TIMEOUT, https=https)
    except (OSError, http.client.HTTPException) as exc:
        return check(name, kind, where, False, f"no answer ({exc.__class__.__name__}: {exc})")
    return check(name, kind, where, status < 400, f"HTTP {status}")


def _through_load_balancer(name: str, service: ServiceSpec, target: Target, lb) -> dict[str, Any]:
    address = target.hosts.load_balancer_address(lb)
    # the load balancer's own check of each instance is the path its clients are promised
    path = service.load_balancer.health.path if service.load_balancer else "/"
    if target.name != "local":
        from ..targets.aws import lb_endpoint_override

        override = lb_endpoint_override()  # an emulator's load balancers have no data plane (README)
        if override:
            host, _, port = override.rpartition(":")
            return _probe(name, "health via load balancer", host, int(port), path)
    if not address:
        return check(name, "health via load balancer", lb.name, False, "the load balancer has no listener")
    url = urlsplit(address)
    return _probe(name, "health via load balancer", url.hostname or "", url.port or 80, path,
                  https=url.scheme == "https")


def _on_instance(name: str, service: ServiceSpec, instance, address: str | None) -> dict[str, Any]:
    if address:
        url = urlsplit(address)
        host, port = url.hostname or "", url.port or service.published_port
    else:
        host, port = instance.public_ip or instance.private_ip or "", service.published_port
    if not host:
        return check(name, "health", instance.id, False, "the instance has no address")
    result = _probe(name, "health", host, port, _path(service))
    result["instance"] = instance.id
    return result


def _internal_group(name: str, spec: AppSpec, observed: Observed) -> dict[str, Any]:
    """On AWS and in the emulator alike: the service's security group admits only the stack's groups."""
    group = observed.groups.get(name)
    if group is None:
        return check(name, "internal", "security group", False, "the service has no security group")
    ours = {g.id for g in observed.groups.values()} | {g.id for g in observed.lb_groups.values()}
    open_to = sorted(f"{source} on {port}" for port, source in group.ingress if not source.startswith("sg-"))
    foreign = sorted(f"{source} on {port}" for port, source in group.ingress
                     if source.startswith("sg-") and source not in ours)
    problems = ([f"admits {', '.join(open_to)}"] if open_to else []) + (
        [f"admits groups not of this stack: {', '.join(foreign)}"] if foreign else []) + (
        [f"{len(group.other_rules)} other rule(s)"] if group.other_rules else [])
    if problems:
        return check(name, "internal", group.id, False, "; ".join(problems))
    peers = sorted({g.service for g in observed.groups.values() for _, source in group.ingress if g.id == source})
    return check(name, "internal", group.id, True,
                 "admits no CIDR, only the stack's groups" + (f" ({', '.join(peers)})" if peers else ""))


def _not_on_loopback(name: str, service: ServiceSpec) -> dict[str, Any]:
    """The rehearsal publishes an internal service on the bridge's gateway only: 127.0.0.1 must not answer."""
    port = service.published_port
    answers = http_probe.connects("127.0.0.1", port, 2.0)
    return check(name, "internal", f"tcp://127.0.0.1:{port}", not answers,
                 "refused from outside the stack" if not answers else "answers on 127.0.0.1: reachable from outside")


def _data_volumes(name: str, service: ServiceSpec, observed: Observed, running: set[str]) -> list[dict[str, Any]]:
    out = []
    for volume in sorted(service.data):
        found = [v for v in observed.data_volumes if v.service == name and v.name == volume]
        attached = [(v, i) for v in found for i in v.attached if i in running]
        if attached:
            v, instance = attached[0]
            out.append(check(name, "data volume", volume, True, f"{v.id} attached to {instance}"))
        elif found:
            out.append(check(name, "data volume", volume, False,
                             f"{', '.join(v.id + ' ' + v.state for v in found)}: not attached to a running instance"))
        else:
            out.append(check(name, "data volume", volume, False, "no volume"))
    return out
