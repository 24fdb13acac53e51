"""One direction of flow: spec -> images -> observed -> plan -> apply -> report.

The commands in cli.py call these functions with a Target (the wiring of
clients); nothing here creates a client. `plan` and `deploy` share
`prepare`, so what plan prints is what deploy runs. Deploy runs in two
phases because a launch template names the image by its registry digest,
which exists only once the image is pushed: phase one makes repositories and
pushes, phase two is planned with the digests. Phase two's decisions (what
is created, replaced or kept) do not depend on the digest, only its text does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..model import names
from ..apply.executor import Executor
from ..aws.session import Aws
from ..aws.observe import Observed, network, observe_stack, resolve_amis
from ..aws.ownership import check_ownership
from ..plan.stack import ImageWant, InfraPlan, Step, plan_destroy, plan_images, plan_stack
from ..progress import Progress
from ..model.desired import ImageInfo, Registry, StackWant, desired_stack, templates_hash
from ..spec.model import AppSpec, check_limits
from ..targets.base import Target
from ..errors import BadInput


@dataclass
class Prepared:
    spec: AppSpec
    account: str
    observed: Observed
    image_wants: list[ImageWant]
    image_steps: list[Step]
    want: StackWant
    infra: InfraPlan
    facts: dict[str, Any]  # AMIs, subnets, VPCs, template hash: read once, reused by phase two
    warnings: list[str]
    origin: Any  # releases.Origin: who, when, which commit
    notes: list[str] = field(default_factory=list)  # subnets left out (zones without the instance type)

    @property
    def infra_steps(self) -> list[Step]:
        return self.infra.steps

    @property
    def steps(self) -> list[Step]:
        return self.image_steps + self.infra.steps


def _platform(spec: AppSpec, name: str) -> str:
    return "linux/arm64" if spec.services[name].instances.arch == "arm64" else "linux/amd64"


def build_images(spec: AppSpec, base: Path, target: Target) -> dict[str, ImageInfo]:
    from ..apply import images

    client = target.docker()
    out: dict[str, ImageInfo] = {}
    for name, service in spec.services.items():
        if service.build is not None:
            target.progress.phase(f"building {name} from {service.build.context}")
            built = images.build_image(
                client, name, (base / service.build.context).resolve(), service.build.dockerfile,
                dict(service.build.args), service.build.target, _platform(spec, name),
                target.progress.build_output,
            )
        else:
            target.progress.phase(f"using image {service.image} for {name}")
            built = images.ensure_local_image(client, name, service.image, _platform(spec, name),
                                              target.progress.build_output)
        out[name] = ImageInfo(built.image_id)
    return out


class StrictRefusal(BadInput):
    """--strict and at least one warning: bad input, exit code 2, nothing changed."""


def prepare(spec: AppSpec, base: Path, target: Target) -> Prepared:
    """Everything plan and deploy need to know, read without changing anything in AWS."""
    from ..apply import images as image_ops
    from ..spec.checks import warnings
    from ..aws.observe import require_services
    from ..origin import origin
    from ..model.user_data import templates_dir

    account = target.aws.account_id()  # proves credentials before any build
    check_limits(spec, target.aws.region, target.registry)  # now that region and registry are known
    net = network(target.aws, spec)  # before any build: a type no zone offers is bad input (exit 2)
    local = build_images(spec, base, target)
    target.progress.phase(f"reading stack {spec.name} in {target.aws.region}")
    observed = observe_stack(target.aws, spec.name)
    require_services(spec, observed, registry_is_ecr=target.registry.is_ecr)  # an emulator without ELBv2 or ECR
    auth = target.registry_auth()
    wants = []
    for name in spec.services:
        uri = target.registry.repository_uri(spec.name, name)
        info = local[name]
        digest = None
        if names.repository(spec.name, name) in observed.repositories or not target.registry.is_ecr:
            digest = image_ops.remote_digest(target.docker(), uri, info.tag, auth)
        wants.append(ImageWant(name, names.repository(spec.name, name), uri, ImageInfo(info.image_id, digest)))
    image_steps = plan_images(spec.name, wants, observed)
    facts = {"amis": resolve_amis(target.aws, spec), "subnets": net.subnets, "vpc_ids": net.vpcs,
             "template_hash": templates_hash(templates_dir())}
    made_by = origin(base)
    want, infra = _plan_infra(spec, target, account, observed, {w.service: w.image for w in wants}, facts, made_by)
    # Before phase one pushes anything: phase two's creations do not depend on the digests (their names neither).
    check_ownership(target.aws, spec.name, image_steps + infra.steps, observed)
    found = warnings(spec, facts["amis"])
    return Prepared(spec, account, observed, wants, image_steps, want, infra, facts, found, made_by, net.messages)


def _plan_infra(spec: AppSpec, target: Target, account: str, observed: Observed,
                images: dict[str, ImageInfo], facts: dict[str, Any], made_by) -> tuple[StackWant, InfraPlan]:
    want = desired_stack(spec, account=account, region=target.aws.region, registry=target.registry,
                         images=images, **facts)
    return want, plan_stack(want, observed, origin=made_by)


def deploy(spec: AppSpec, base: Path, target: Target, *, lock_wait: float = 0, strict: bool = False) -> dict[str, Any]:
    target.hosts.check_ports(spec)
    with _stack_lock(spec, target, "deploy", lock_wait):
        return _deploy(spec, base, target, strict)


@contextlib.contextmanager
def _stack_lock(spec: AppSpec, target: Target, operation: str, wait: float):
    """One deploy or destroy of a stack at a time, across machines (lock.py)."""
    from ..aws import lock

    target.aws.account_id()  # bad credentials are bad input (exit 2), not a lock problem
    def released_late(exc: Exception) -> None:
        target.progress.note(f"warning: the deploy lock of {spec.name} could not be released ({exc}); it "
                             "expires by itself, or run `liftshift unlock`")

    # The lock is refreshed while the run works (lock.KeepAlive); a run that loses it stops with LockLost.
    with lock.held(target.aws.client("dynamodb"), spec.name, lock.default_owner(), operation, ttl=lock.DEFAULT_TTL,
                   wait_seconds=wait, on_release_error=released_late):
        yield


def _deploy(spec: AppSpec, base: Path, target: Target, strict: bool) -> dict[str, Any]:
    prepared = prepare(spec, base, target)
    if strict and prepared.warnings:
        raise StrictRefusal("--strict: " + "; ".join(prepared.warnings))
    for warning in prepared.warnings:
        target.progress.note(f"warning: {warning}")
    for note in prepared.notes:
        target.progress.note(f"note: {note}")
    executor = Executor(target.aws.client, _pusher(target), target.progress, gate=target.gate(spec))
    if prepared.image_steps:
        target.progress.phase("pushing images")
    executor.run(prepared.image_steps)
    images = {
        w.service: ImageInfo(w.image.image_id, w.image.digest or executor.values[f"digest:{w.service}"])
        for w in prepared.image_wants
    }
    if images != {w.service: w.image for w in prepared.image_wants}:
        _, infra = _plan_infra(spec, target, prepared.account, prepared.observed, images, prepared.facts,
                               prepared.origin)
    else:
        infra = prepared.infra
    if infra.steps:
        target.progress.phase(f"applying {len(infra.steps)} change(s) to {spec.name}")
    run_rollout(spec, target, executor, infra, prepared.observed)
    observed = observe_stack(target.aws, spec.name) if executor.done else prepared.observed
    hosts = target.hosts.converge(spec, observed)
    report = status_report(spec, target, observed)
    if hosts is not None:
        report["hosts"] = hosts
    report["changes"] = [describe_step(s) for s in executor.done]
    report["changed"] = bool(executor.done)
    report["warnings"] = prepared.warnings
    report["notes"] = prepared.notes
    return report


def run_rollout(spec: AppSpec, target: Target, executor: Executor, infra: InfraPlan, observed: Observed) -> None:
    """Run the steps; when a health gate fails, remove every release this run put out (none has
    traffic yet: listeners switch only after all gates pass) and re-raise as exit 3."""
    from ..apply.gate import RolloutFailed
    from ..plan.fleet import plan_abandon
    from ..plan.in_place import InPlaceRollout, plan_restore

    try:
        executor.run(infra.steps)
    except RolloutFailed as exc:
        reason = str(exc)
        target.progress.phase("health gate failed: removing the new release(s); traffic stays where it was")
        for candidate in infra.rollouts:
            if isinstance(candidate, InPlaceRollout):
                updated = [s.name for s in executor.done if s.kind == "instance in place" and s.service == candidate.service]
                steps = plan_restore(spec.name, candidate, updated, reason)
            else:
                steps = plan_abandon(spec.name, candidate, observed, reason,
                                     created_rule=f"rule:{candidate.service}" in executor.values)
            try:
                executor.run(steps)
            except Exception as cleanup_error:  # the release's leftovers are removed by the next deploy
                target.progress.note(f"warning: could not remove all of {candidate.service} "
                                     f"#{candidate.record.number}: {cleanup_error}")
        kept = ", ".join(f"{c.service} #{c.record.number}" for c in infra.rollouts)
        raise RolloutFailed(f"{reason}\nundid {kept}; the previous release keeps serving") from None


def _pusher(target: Target) -> Callable[..., str]:
    from ..apply import images

    def push(service: str, image_id: str, repository: str, tag: str) -> str:
        target.progress.phase(f"pushing {service} to {repository}")
        return images.push_image(target.docker(), service, image_id, repository, tag, target.registry_auth(),
                                 target.progress.build_output)

    return push


def status(spec: AppSpec, target: Target) -> dict[str, Any]:
    target.aws.account_id()
    return status_report(spec, target, observe_stack(target.aws, spec.name))


def status_report(spec: AppSpec, target: Target, observed: Observed) -> dict[str, Any]:
    services: dict[str, Any] = {}
    addresses = target.hosts.addresses(spec.name)
    for name in sorted(set(spec.services) | observed.services()):
        instances = [i for i in observed.instances if i.service == name]
        templates = {t.config_hash: t for t in observed.templates if t.service == name}
        hashes = sorted({i.config_hash for i in instances if i.state in ("pending", "running")})
        current = templates.get(hashes[-1]) if len(hashes) == 1 else None
        services[name] = {
            "declared": name in spec.services,
            "count": spec.services[name].instances.count if name in spec.services else 0,
            "image": current.image_digest if current else None,
            "repository": target.registry.repository_uri(spec.name, name),
            "config": hashes[0] if len(hashes) == 1 else hashes,
            "launch_template": current.name if current else None,
            "load_balancer": _load_balancer_report(target, observed, name),
            "instances": [
                {"id": i.id, "state": i.state, "subnet": i.subnet, "zone": i.zone, "public_ip": i.public_ip,
                 "private_ip": i.private_ip, "config": i.config_hash, "address": addresses.get(i.id)}
                for i in sorted(instances, key=lambda i: i.id)
            ],
        }
    return {"stack": spec.name, "region": target.aws.region, "target": target.name, "services": services}


def _load_balancer_report(target: Target, observed: Observed, service: str) -> dict[str, Any] | None:
    from ..plan.fleet import live_config

    lb = observed.load_balancers.get(service)
    if lb is None:
        return None
    live = live_config(observed, service)
    release = next((r.number for r in observed.releases if r.service == service and r.config == live), None)
    return {"name": lb.name, "dns": lb.dns, "port": lb.listener_port, "protocol": lb.listener_protocol,
            "address": target.hosts.load_balancer_address(lb), "release": release,
            "config": live}


def destroy(spec: AppSpec, target: Target, *, keep_images: bool, execute: bool = True,
            lock_wait: float = 0) -> list[Step]:
    """The steps that remove everything tagged with the stack; run them too when `execute`."""
    target.aws.account_id()
    if not execute:
        return plan_destroy(spec.name, observe_stack(target.aws, spec.name, verify_tags=True), keep_images=keep_images)
    with _stack_lock(spec, target, "destroy", lock_wait):
        observed = observe_stack(target.aws, spec.name, verify_tags=True)
        steps = plan_destroy(spec.name, observed, keep_images=keep_images)
        Executor(target.aws.client, None, target.progress).run(steps)
        target.hosts.remove_all(spec.name)
    return steps


def describe_step(step: Step) -> dict[str, Any]:
    return {"action": step.action, "kind": step.kind, "name": step.name, "service": step.service,
            "detail": step.detail}


def plan_json(prepared: Prepared) -> dict[str, Any]:
    return {
        "stack": prepared.spec.name,
        "region": prepared.want.region,
        "changes": len(prepared.steps),
        "warnings": prepared.warnings,
        "notes": prepared.notes,
        "steps": [{**describe_step(s), "calls": [_call_json(c) for c in s.calls]} for s in prepared.steps],
    }


def _call_json(call) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return repr(value)

    return {"client": call.client, "operation": call.operation, "params": clean(call.params)}
