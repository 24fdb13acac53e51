"""`history` and `rollback`: reading release records, and putting an earlier release out again.

A rollback is the same health-gated rollout as a deploy (plan_fleet) with the
recorded release as the candidate: its launch template (immutable, so the same
image digest and settings) and the listener and target-group settings recorded
with it. Nothing is built or pushed. Services without a load balancer get new
instances from the recorded template, then the others are terminated, as a
deploy would do.
"""

from __future__ import annotations

from typing import Any

from ..aws.observe import Observed, observe_stack, require_services, resolve_network
from ..aws.ownership import check_ownership
from ..plan.stack import InfraPlan, Step, plan_instance_rollback
from ..plan.fleet import Candidate, live_config, plan_fleet
from ..model.releases import FAILED, PENDING, Release, of_service
from ..model.desired import ListenerWant, TargetGroupWant
from ..spec.model import AppSpec
from ..errors import BadInput


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


def history(spec: AppSpec, target, service: str | None = None) -> dict[str, Any]:
    target.aws.account_id()
    observed = observe_stack(target.aws, spec.name)
    live = live_configs(spec, observed)
    services: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(live):
        if service and name != service:
            continue
        services[name] = [
            {"number": r.number, "outcome": r.outcome, "serving": r.config == live[name] and r.outcome != FAILED,
             "image": r.image, "config": r.config, "launch_template": r.launch_template,
             "template_kept": any(t.name == r.launch_template for t in observed.templates),
             "at": r.at, "by": r.by, "commit": r.commit, "reason": r.reason,
             "listener": (r.fleet or {}).get("listener"), "health": ((r.fleet or {}).get("target_group") or {}).get("health")}
            for r in sorted(of_service(observed.releases, name), key=lambda r: -r.number)
        ]
    return {"stack": spec.name, "region": target.aws.region, "services": services}


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


def plan_rollback(spec: AppSpec, target, observed: Observed, service: str | None, to: int | None) -> InfraPlan:
    if service is not None and service not in spec.services:
        raise NoRelease(f"no service {service!r} in app.yaml (services: {', '.join(spec.services)})")
    if to is not None and service is None and len(spec.services) > 1:
        raise NoRelease("--to needs --service when the stack has more than one service")
    require_services(spec, observed, registry_is_ecr=False)  # a rollback pushes nothing; a fleet needs ELBv2
    subnets, vpcs = resolve_network(target.aws, spec)
    steps: list[Step] = []
    gates: list[Step] = []
    finishes: list[Step] = []
    rollouts: list[Candidate] = []
    for name in ([service] if service else list(spec.services)):
        chosen = choose(spec, observed, name, to)
        if chosen is None:
            if service is not None or len(spec.services) == 1:
                raise NoRelease(f"{name} has no earlier release that served (see `liftshift history`)"
                                if to is None else f"{name} #{to} is already serving")
            continue
        settings = spec.services[name]
        if settings.fleet and chosen.fleet:
            fleet = chosen.fleet
            candidate = Candidate(
                service=name, config=chosen.config, launch_template=chosen.launch_template, template_step=None,
                target_group=TargetGroupWant(fleet["target_group"]["name"], fleet["target_group"]["port"],
                                             fleet["target_group"]["health"]),
                listener=ListenerWant(fleet["listener"]["port"], fleet["listener"]["protocol"],
                                      fleet["listener"].get("certificate_arn")),
                auto_scaling_group=fleet["auto_scaling_group"], count=settings.instances.count,
                subnets=subnets[name], vpc_id=vpcs[name], timeout=settings.rollout.timeout,
                keep=settings.rollout.keep, record=chosen.with_outcome(PENDING), rollback=True,
            )
            plan = plan_fleet(spec.name, candidate, observed)
            steps += plan.prepare
            gates += plan.gate
            finishes += plan.finish
            if plan.rollout is not None:
                rollouts.append(plan.rollout)
        elif not settings.fleet and not chosen.fleet:
            steps += plan_instance_rollback(spec.name, name, chosen, settings.instances.count, subnets[name], observed)
        else:
            raise NoRelease(f"{name} #{chosen.number} was {'not ' if not chosen.fleet else ''}behind a load balancer "
                            "and app.yaml now says otherwise: deploy instead")
    return InfraPlan(steps + gates + finishes, rollouts)


def rollback(spec: AppSpec, target, service: str | None, to: int | None, *, execute: bool = True,
             lock_wait: float = 0) -> list[Step]:
    from ..apply.executor import Executor
    from .deploy import _stack_lock, run_rollout

    target.aws.account_id()
    if not execute:
        observed = observe_stack(target.aws, spec.name)
        steps = plan_rollback(spec, target, observed, service, to).steps
        check_ownership(target.aws, spec.name, steps, observed)
        return steps
    with _stack_lock(spec, target, "rollback", lock_wait):
        observed = observe_stack(target.aws, spec.name)
        plan = plan_rollback(spec, target, observed, service, to)
        check_ownership(target.aws, spec.name, plan.steps, observed)  # a release's groups are made again by name
        executor = Executor(target.aws.client, None, target.progress, gate=target.gate(spec))
        run_rollout(spec, target, executor, plan, observed)
        target.hosts.converge(spec, observe_stack(target.aws, spec.name))
    return plan.steps

