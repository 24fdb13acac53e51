"""`cutover`: read what Route 53 and the stack have, plan a move (plan/cutover.py), run it under the stack's lock.

Without a move it reads only: each service's records now and its cutover history. In the local rehearsal the
Route 53 is the emulator's (the zone, and the old server's record with an assumed TTL, are made there when
missing): nothing on the internet changes, and the result says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..apply.executor import Executor
from ..errors import BadInput
from ..model.cutover import CutoverState, fqdn
from ..model.observed import Observed
from ..plan.cutover import (CutoverInput, CutoverPlan, DnsProblem, Move, StackTarget, Zone, plan_cutover,
                            rehearsal_comment)
from ..spec.errors import SpecError
from ..spec.model import AppSpec
from ..targets.base import Target
from .describe import describe_step
from .lock import stack_lock

REHEARSAL_NOTE = ("local rehearsal: these records are set in the local emulator's Route 53; nothing on the "
                  "internet changes")


def chosen_services(spec: AppSpec, service: str | None) -> list[str]:
    """The services a cutover moves: `service`, else every one with a `dns` setting (exit 2 if none has)."""
    if service is not None:
        if service not in spec.services:
            raise _located(spec, ("services",), f"no service {service!r} (services: {', '.join(spec.services)})")
        if spec.services[service].dns is None:
            raise _located(spec, ("services", service, "dns"), "not set: cutover needs services."
                           f"{service}.dns (zone, name, old) to know which record to move")
        return [service]
    found = [name for name in sorted(spec.services) if spec.services[name].dns is not None]
    if not found:
        first = next(iter(spec.services))
        raise _located(spec, ("services", first, "dns"), "no service has a dns setting: cutover needs services."
                       "X.dns (zone, name, old) to know which record to move")
    return found


def cutover(spec: AppSpec, base: Path, target: Target, service: str | None, move: Move | None, *,
            execute: bool = True, lock_wait: float = 0) -> dict[str, Any]:
    """Plan `move` for each chosen service (and run it when `execute`), or with no move, report the records and
    the history. The result as data."""
    from ..aws.route53 import read_cutover

    names = chosen_services(spec, service)
    target.aws.account_id()
    result: dict[str, Any] = {"stack": spec.name, "region": target.aws.region, "target": target.name,
                              "rehearsal": target.rehearsal, "move": str(move) if move else None,
                              "dry_run": not execute, "services": {}}
    if target.rehearsal:
        result["note"] = REHEARSAL_NOTE
    if move is None:
        state = read_cutover(target.aws.client("dynamodb"), spec.name)
        for name in names:
            result["services"][name] = _history(spec, target, name, state)
        return result
    if not execute:
        plans = _plans(spec, base, target, names, move)
    else:
        with stack_lock(spec, target, "cutover", lock_wait):
            plans = _plans(spec, base, target, names, move)
            executor = Executor(target.aws.client, None, target.progress, parallel=target.parallel)
            for plan in plans.values():
                executor.run(plan.steps)
    for name, plan in plans.items():
        dns = spec.services[name].dns
        result["services"][name] = {
            "zone": dns.zone, "name": fqdn(dns.name), "changed": bool(plan.steps),
            "steps": [describe_step(s) for s in plan.steps], "records": [r.describe() for r in plan.records],
            "original": {"type": plan.original.type, "value": plan.original.value, "ttl": plan.original.ttl},
            "notes": plan.notes}
    return result


def _plans(spec: AppSpec, base: Path, target: Target, names: list[str], move: Move) -> dict[str, CutoverPlan]:
    from ..aws.observe import observe_stack
    from ..aws.route53 import read_cutover
    from ..origin import origin

    observed = observe_stack(target.aws, spec.name)
    state = read_cutover(target.aws.client("dynamodb"), spec.name)
    who = origin(base)
    out = {}
    for name in names:
        given = _input(spec, target, name, observed, state, who)
        try:
            out[name] = plan_cutover(given, move)
        except DnsProblem as exc:
            path = ("services", name, "dns") + ((exc.field,) if exc.field else ())
            raise _located(spec, path, str(exc)) from None
    return out


def _input(spec: AppSpec, target: Target, name: str, observed: Observed, state: CutoverState, who) -> CutoverInput:
    from ..aws.route53 import records_of

    dns = spec.services[name].dns
    zone = _zone(spec, target, name)
    wanted = fqdn(dns.name)
    if wanted != zone.name and not wanted.endswith("." + zone.name):
        raise _located(spec, ("services", name, "dns", "name"), f"{wanted} is not in the hosted zone {dns.zone} "
                       f"({zone.name})")
    current = () if zone.create else tuple(records_of(target.aws.client("route53"), zone.id, dns.name))
    return CutoverInput(stack=spec.name, service=name, name=dns.name, old=dns.old, ttl=dns.ttl, zone=zone,
                        current=current, target=_stack_target(target, name, observed), state=state, origin=who,
                        rehearsal=target.rehearsal)


def _zone(spec: AppSpec, target: Target, name: str) -> Zone:
    from ..aws.route53 import ZONE_ID_RE, find_rehearsal_zone, find_zone

    dns = spec.services[name].dns
    route53 = target.aws.client("route53")
    try:
        found = find_zone(route53, dns.zone)
    except ValueError as exc:
        raise _located(spec, ("services", name, "dns", "zone"), str(exc)) from None
    if found is None and target.rehearsal:
        found = find_rehearsal_zone(route53, rehearsal_comment(dns.zone))
        if found is None:  # made in the emulator by the plan; a zone given by id is named after the record's parent
            zone_name = dns.name.split(".", 1)[1] if ZONE_ID_RE.fullmatch(dns.zone) else dns.zone
            return Zone(id="", name=fqdn(zone_name), create=True, comment=rehearsal_comment(dns.zone))
    if found is None:
        raise _located(spec, ("services", name, "dns", "zone"), f"no hosted zone {dns.zone} in Route 53 (this "
                       "account); cutover moves a record of a zone Route 53 already serves")
    return Zone(id=found[0], name=found[1])


def _stack_target(target: Target, name: str, observed: Observed) -> StackTarget:
    from ..aws.route53 import load_balancer_zone

    lb = observed.load_balancers.get(name)
    if lb is not None and lb.listener_port:
        return StackTarget(lb_dns=lb.dns, lb_zone=load_balancer_zone(target.aws.client("elbv2"), lb.name))
    ips = sorted(i.public_ip for i in observed.instances
                 if i.service == name and i.state == "running" and i.public_ip)
    return StackTarget(ips=tuple(ips))


def _history(spec: AppSpec, target: Target, name: str, state: CutoverState) -> dict[str, Any]:
    from ..aws.route53 import find_rehearsal_zone, find_zone, records_of

    dns = spec.services[name].dns
    route53 = target.aws.client("route53")
    try:
        found = find_zone(route53, dns.zone)
    except ValueError:
        found = None
    if found is None and target.rehearsal:
        found = find_rehearsal_zone(route53, rehearsal_comment(dns.zone))
    records = [r.describe() for r in records_of(route53, found[0], dns.name)] if found else []
    original = state.originals.get(name)
    return {"zone": dns.zone, "name": fqdn(dns.name), "records": records,
            "original": {"type": original.type, "value": original.value, "ttl": original.ttl} if original else None,
            "history": [{"number": e.number, "move": e.move, "at": e.at, "by": e.by, "commit": e.commit,
                         "records": list(e.records)} for e in reversed(state.of(name))]}


def _located(spec: AppSpec, path: tuple, message: str) -> SpecError:
    from ..spec.yamlsource import LocatedData

    return SpecError.at(spec._source or LocatedData(file="app.yaml", data=None), path, message)


class ServingThroughDns(BadInput):
    """destroy refused: a service's DNS record still sends traffic to the stack (exit 2, nothing removed)."""


def refuse_if_serving(spec: AppSpec, target: Target) -> None:
    """Before destroy: a stack that a cutover left receiving traffic (its weighted record, or the plain record of
    --complete) is not removed from under its clients; `cutover --back` first. A name whose records cannot be
    read is noted, not refused (destroy must work without Route 53 permissions for a stack never cut over)."""
    import botocore.exceptions

    from ..aws.route53 import find_rehearsal_zone, find_zone, read_cutover, records_of
    from ..model.cutover import stack_id

    services = [n for n in sorted(spec.services) if spec.services[n].dns is not None]
    if not services:
        return
    state = None
    for name in services:
        dns = spec.services[name].dns
        try:
            route53 = target.aws.client("route53")
            found = find_zone(route53, dns.zone)
            if found is None and target.rehearsal:
                found = find_rehearsal_zone(route53, rehearsal_comment(dns.zone))
            if found is None:
                continue
            now = records_of(route53, found[0], dns.name)
            if state is None:
                state = read_cutover(target.aws.client("dynamodb"), spec.name)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, ValueError) as exc:
            target.progress.note(f"warning: could not read {dns.name} in Route 53 ({exc}); not checked for traffic "
                                 "to this stack")
            continue
        entries = state.of(name)
        completed = bool(entries) and entries[-1].move == "complete"
        if any(r.set_id == stack_id(spec.name) for r in now) or (completed and any(r.set_id is None for r in now)):
            raise ServingThroughDns(
                f"{fqdn(dns.name)} still sends traffic to stack {spec.name} (services.{name}.dns; "
                f"{'; '.join(r.describe() for r in now)}): run `liftshift cutover FILE --service {name} --back` "
                "first, then destroy")
