"""Rollback as a plan: which earlier release each service goes back to, and the steps that put it out.

A rollback is the same health-gated rollout as a deploy (plan_fleet) with the
recorded release as the candidate: its launch template (immutable, so the same
image digest and settings) and the listener and target-group settings recorded
with it. Nothing is built or pushed. Services without a load balancer get new
instances from the recorded template, then the others are terminated, as a
deploy would do. Pure: the caller reads the stack and its network.
"""

from __future__ import annotations

from ..errors import BadInput
from ..model.data_volumes import data_volumes_of
from ..model.desired import ListenerWant, TargetGroupWant
from ..model.observed import Network, Observed
from ..model.releases import FAILED, PENDING, Release, of_service
from ..spec.model import AppSpec
from .fleet import Candidate, live_config, plan_fleet
from .instances import plan_instance_rollback
from .phases import InfraPlan, Phases


class NoRelease(BadInput):
    """No release to roll back to (bad input: exit 2)."""


def live_configs(spec: AppSpec, observed: Observed) -> dict[str, str | None]:
    """Per service, the config hash serving now: the listener's target (load balancer) or the instances'."""
    out: dict[str, str | None] = {}
    for name in sorted(set(spec.services) | {r.service for r in observed.releases}):
        service = spec.services.get(name)
        if service is not None and service.fleet:
            out[name] = live_config(observed, name)
            continue
        hashes = {i.config_hash for i in observed.instances if i.service == name and i.state in ("pending", "running")}
        out[name] = hashes.pop() if len(hashes) == 1 else None
    return out


def choose(spec: AppSpec, observed: Observed, service: str, to: int | None) -> Release | None:
    """The release to go back to: `to`, else the newest one before the serving release that once served."""
    records = sorted(of_service(observed.releases, service), key=lambda r: r.number)
    templates = {t.name for t in observed.templates if t.service == service}
    live = live_configs(spec, observed).get(service)
    current = next((r for r in records if r.config == live), None)
    if to is not None:
        chosen = next((r for r in records if r.number == to), None)
        if chosen is None:
            raise NoRelease(f"{service} has no release #{to} (see `liftshift history`)")
        if chosen.outcome in (FAILED, PENDING):
            raise NoRelease(f"{service} #{to} never passed its health gate ({chosen.outcome}); choose one that served")
        if chosen.launch_template not in templates:
            raise NoRelease(f"{service} #{to}'s launch template is gone (only the last rollout.keep are kept)")
        return None if current is not None and current.number == to else chosen
    below = [r for r in records if (current is None or r.number < current.number)
             and r.outcome not in (FAILED, PENDING) and r.config != live and r.launch_template in templates]
    return below[-1] if below else None


def check_request(spec: AppSpec, service: str | None, to: int | None) -> None:
    """What app.yaml alone refutes, before anything is read."""
    if service is not None and service not in spec.services:
        raise NoRelease(f"no service {service!r} in app.yaml (services: {', '.join(spec.services)})")
    if to is not None and service is None and len(spec.services) > 1:
        raise NoRelease("--to needs --service when the stack has more than one service")


def plan_rollback(spec: AppSpec, observed: Observed, network: Network, service: str | None,
                  to: int | None) -> InfraPlan:
    """The rollback of `service` (else of every service) to release `to` (else the previous one that served)."""
    check_request(spec, service, to)
    phases = Phases()
    for name in ([service] if service else list(spec.services)):
        chosen = choose(spec, observed, name, to)
        if chosen is None:
            if service is not None or len(spec.services) == 1:
                raise NoRelease(f"{name} has no earlier release that served (see `liftshift history`)"
                                if to is None else f"{name} #{to} is already serving")
            continue
        settings = spec.services[name]
        if settings.fleet and chosen.fleet:
            phases.add_fleet(plan_fleet(spec.name, recorded_candidate(spec, name, chosen, network), observed))
        elif not settings.fleet and not chosen.fleet:
            phases.prepare += plan_instance_rollback(spec.name, name, chosen, settings.instances.count,
                                                     network.subnets[name], observed,
                                                     data_volumes_of(name, settings), network.zones)
        else:
            raise NoRelease(f"{name} #{chosen.number} was {'not ' if not chosen.fleet else ''}behind a load balancer "
                            "and app.yaml now says otherwise: deploy instead")
    return phases.plan()


def recorded_candidate(spec: AppSpec, name: str, chosen: Release, network: Network) -> Candidate:
    """A recorded release as a rollout's candidate: the settings recorded with it, today's count and subnets."""
    settings = spec.services[name]
    fleet = chosen.fleet
    assert fleet is not None
    return Candidate(
        service=name, config=chosen.config, launch_template=chosen.launch_template, template_step=None,
        target_group=TargetGroupWant(fleet["target_group"]["name"], fleet["target_group"]["port"],
                                     fleet["target_group"]["health"]),
        listener=ListenerWant(fleet["listener"]["port"], fleet["listener"]["protocol"],
                              fleet["listener"].get("certificate_arn")),
        auto_scaling_group=fleet["auto_scaling_group"], count=settings.instances.count,
        subnets=network.subnets[name], vpc_id=network.vpcs[name], timeout=settings.rollout.timeout,
        keep=settings.rollout.keep, record=chosen.with_outcome(PENDING), rollback=True,
    )
