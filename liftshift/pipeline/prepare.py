"""What plan and deploy share: everything read, built and planned before anything changes in AWS.

A launch template names the image by its registry digest, which exists only
once the image is pushed; so `prepare` plans the images (phase one) and the
infrastructure with the digests known so far, and `replan` plans phase two
again with the pushed digests. Phase two's decisions (what is created,
replaced or kept) do not depend on the digests, only their text does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from ..model import names
from ..model.desired import ImageInfo, StackWant, desired_stack, templates_hash
from ..model.launch_template import Ami
from ..model.observed import Observed
from ..model.releases import Origin
from ..model.steps import Step
from ..plan.images import ImageWant, plan_images
from ..spec.image_override import ImageSource
from ..plan.data import kept_data_notes, size_notes
from ..plan.phases import InfraPlan
from ..plan.stack import plan_stack
from ..progress import Progress, working_on
from ..spec.model import AppSpec
from ..targets.base import Target
from .bounded import run_bounded

if TYPE_CHECKING:
    from ..apply.promote import Pulled

T = TypeVar("T")


@dataclass(frozen=True)
class Facts:
    """What phase one reads once and phase two reuses."""

    amis: dict[str, Ami]  # by service
    subnets: dict[str, tuple[str, ...]]  # by service: in zones that offer its instance type
    vpc_ids: dict[str, str]  # by service
    template_hash: str  # the user-data templates (part of every config hash)
    zones: dict[str, str] = field(default_factory=dict)  # subnet id -> availability zone (data volumes)


@dataclass
class Prepared:
    spec: AppSpec
    account: str
    observed: Observed
    image_wants: list[ImageWant]
    image_steps: list[Step]
    want: StackWant
    infra: InfraPlan
    facts: Facts
    warnings: list[str]
    origin: Origin  # who, when, which commit
    notes: list[str] = field(default_factory=list)  # subnets left out (zones without the instance type)
    promoted: dict[str, Pulled] = field(default_factory=dict)  # --image: services pulled, not built

    @property
    def infra_steps(self) -> list[Step]:
        return self.infra.steps

    @property
    def steps(self) -> list[Step]:
        return self.image_steps + self.infra.steps

    @property
    def images(self) -> dict[str, ImageInfo]:
        return {w.service: w.image for w in self.image_wants}


def prepare(spec: AppSpec, base: Path, target: Target, sources: dict[str, ImageSource] | None = None) -> Prepared:
    """Everything plan and deploy need to know, read without changing anything in AWS.

    sources: `--image SERVICE=REF`, services whose image is pulled from REF instead of built."""
    from ..aws.network import network, resolve_amis
    from ..aws.observe import observe_stack, require_services
    from ..aws.ownership import check_ownership
    from ..aws.side_by_side import side_by_side
    from ..model.user_data import templates_dir
    from ..origin import origin
    from ..spec.checks import warnings
    from ..spec.limits import check_limits

    account = target.aws.account_id()  # proves credentials before any build
    check_limits(spec, target.aws.region, target.registry)  # now that region and registry are known
    net = network(target.aws, spec)  # before any build: a type no zone offers is bad input (exit 2)
    promoted = promote_images(spec, target, sources or {})  # a REF that cannot be found: exit 2 before any build
    local = build_images(spec, base, target, skip=set(promoted))
    local.update({name: ImageInfo(pulled.image_id) for name, pulled in promoted.items()})
    target.progress.phase(f"reading stack {spec.name} in {target.aws.region}")
    observed, amis = side_by_side([lambda: observe_stack(target.aws, spec.name), lambda: resolve_amis(target.aws, spec)])
    require_services(spec, observed, registry_is_ecr=target.registry.is_ecr)  # an emulator without ELBv2 or ECR
    wants = image_wants(spec, target, local, observed, {n: s.reference for n, s in (sources or {}).items()})
    image_steps = plan_images(spec.name, wants, observed)
    facts = Facts(amis=amis, subnets=net.subnets, vpc_ids=net.vpcs,
                  template_hash=templates_hash(templates_dir()), zones=net.zones)
    made_by = origin(base)
    want, infra = plan_infra(spec, target, account, observed, {w.service: w.image for w in wants}, facts, made_by)
    # Before phase one pushes anything: phase two's creations do not depend on the digests (their names neither).
    check_ownership(target.aws, spec.name, image_steps + infra.steps, observed)
    found = warnings(spec, facts.amis)
    notes = net.messages + kept_data_notes(spec.name, set(spec.services), observed)  # a removed service's data
    notes += size_notes({name: svc.data for name, svc in want.services.items()}, observed)
    return Prepared(spec, account, observed, wants, image_steps, want, infra, facts, found, made_by, notes, promoted)


def image_wants(spec: AppSpec, target: Target, local: dict[str, ImageInfo], observed: Observed,
                sources: dict[str, str] | None = None) -> list[ImageWant]:
    """Each service's image in the stack's repository, with its digest where the registry already has the tag."""
    from ..apply import images as image_ops

    auth = target.registry_auth()
    services = [n for n in spec.services if n in local]  # in app.yaml's order
    uris = {name: target.registry.repository_uri(spec.name, name) for name in services}

    def digest_of(name: str) -> Callable[[], str | None]:
        if names.repository(spec.name, name) in observed.repositories or not target.registry.is_ecr:
            return lambda: image_ops.remote_digest(target.docker(), uris[name], local[name].tag, auth)
        return lambda: None

    digests = run_bounded([digest_of(name) for name in services], target.parallel, "liftshift-lookup")
    return [ImageWant(name, names.repository(spec.name, name), uris[name], ImageInfo(local[name].image_id, digest),
                      source=(sources or {}).get(name)) for name, digest in zip(services, digests)]


def replan(prepared: Prepared, target: Target, images: dict[str, ImageInfo]) -> InfraPlan:
    """Phase two with the pushed digests (the prepared plan when no digest was new)."""
    if images == prepared.images:
        return prepared.infra
    _, infra = plan_infra(prepared.spec, target, prepared.account, prepared.observed, images, prepared.facts,
                          prepared.origin)
    return infra


def plan_infra(spec: AppSpec, target: Target, account: str, observed: Observed, images: dict[str, ImageInfo],
               facts: Facts, made_by: Origin) -> tuple[StackWant, InfraPlan]:
    want = desired_stack(spec, account=account, region=target.aws.region, registry=target.registry, images=images,
                         amis=facts.amis, subnets=facts.subnets, vpc_ids=facts.vpc_ids,
                         template_hash=facts.template_hash, zones=facts.zones)
    return want, plan_stack(want, observed, origin=made_by)


@dataclass(frozen=True)
class ImageJob:
    """One build or pull, which the progress display shows as a step would be ("[web, worker] build image from .");
    every service in `services` gets its result."""

    action: str  # build, use (an `image:` service: the local image, pulled if missing), pull (--image)
    name: str  # what it makes the image from
    services: tuple[str, ...]
    kind: str = "image"

    @property
    def service(self) -> str:
        return ", ".join(self.services)


def _reported(progress: Progress, job: ImageJob, make: Callable[[], T]) -> Callable[[], T]:
    """`make` as a job that reports its start and its end (✓ or ✗, with its time) like a step, and whose build
    output belongs to its own live line."""

    def run() -> T:
        progress.step_started(job)
        with working_on(job):  # a step as far as the display is concerned (it reads only what step_label reads)
            try:
                made = make()
            except BaseException as exc:
                progress.step_failed(job, exc)
                raise
        progress.step_done(job)
        return made

    return run


def _run_jobs(target: Target, verb: str, jobs: list[Callable[[], T]], cores_bound: bool = False) -> list[T]:
    """The jobs side by side (up to `target.parallel` at once; builds, `cores_bound`, also at most one per core of
    this machine, or four where it has fewer, since a build also waits on its context, layers and RUN steps'
    downloads), under one phase. The first failure
    in app.yaml's order is raised once the running jobs end (see bounded.run_bounded): the error a serial run
    raised."""
    limit = min(target.parallel, max(4, os.cpu_count() or 1)) if cores_bound else target.parallel
    workers = max(1, min(limit, len(jobs)))
    target.progress.phase(f"{verb} {len(jobs)} image(s)" + (f", {workers} at a time" if workers > 1 else ""))
    return run_bounded(jobs, workers, "liftshift-image")


def promote_images(spec: AppSpec, target: Target, sources: dict[str, ImageSource]) -> dict[str, Pulled]:
    """`--image SERVICE=REF`: pull each REF (with the source registry's credentials) instead of building; a REF
    named for several services (for the same platform) is pulled once."""
    from ..apply.promote import pull_source, source_auth

    pulls: dict[tuple[str, str], list[str]] = {}
    for name, source in sources.items():
        pulls.setdefault((source.reference, _platform(spec, name)), []).append(name)
    if not pulls:
        return {}
    auths = {key: source_auth(sources[named[0]], target) for key, named in pulls.items()}  # logins: this thread

    def job(key: tuple[str, str], named: list[str]) -> Callable[[], Pulled]:
        return _reported(target.progress, ImageJob("pull", f"{key[0]} (no build)", tuple(named)), lambda: pull_source(
            target.docker(), named[0], sources[named[0]], auths[key], key[1], target.progress.build_output))

    pulled = _run_jobs(target, "pulling", [job(key, named) for key, named in pulls.items()])
    made = {name: replace(one, service=name) for one, named in zip(pulled, pulls.values()) for name in named}
    return {name: made[name] for name in sources}


def build_images(spec: AppSpec, base: Path, target: Target, skip: set[str] = frozenset(),
                 only: str | None = None) -> dict[str, ImageInfo]:
    """Build (or pull, for `image:` services) every service but those in `skip`; `only`: that one service.

    Side by side, up to `target.parallel` at once. Services that make the same image (the same context,
    Dockerfile, args, target and platform; or the same `image:` for the same platform) share one job: built
    concurrently, two identical builds would run twice and give two image ids where one after another the
    second was the layer cache's copy of the first."""
    from ..apply import images

    wanted: dict[tuple, list[str]] = {}
    for name, service in spec.services.items():
        if name in skip or (only is not None and name != only):
            continue
        wanted.setdefault(_image_key(spec, base, name), []).append(name)
    if not wanted:
        return {}

    def job(key: tuple, named: list[str]) -> Callable[[], images.BuiltImage]:
        first, platform, progress = spec.services[named[0]], key[-1], target.progress
        if first.build is not None:
            build = first.build
            return _reported(progress, ImageJob("build", f"from {build.context}", tuple(named)), lambda: (
                images.build_image(target.docker(), named[0], key[1], build.dockerfile, dict(build.args),
                                   build.target, platform, progress.build_output)))
        return _reported(progress, ImageJob("use", str(first.image), tuple(named)), lambda: (
            images.ensure_local_image(target.docker(), named[0], first.image, platform, progress.build_output)))

    verb = "building" if all(key[0] == "build" for key in wanted) else "preparing"
    built = _run_jobs(target, verb, [job(key, named) for key, named in wanted.items()], cores_bound=True)
    made = {name: ImageInfo(one.image_id) for one, named in zip(built, wanted.values()) for name in named}
    return {name: made[name] for name in spec.services if name in made}  # in app.yaml's order


def _image_key(spec: AppSpec, base: Path, name: str) -> tuple:
    """What makes a service's image: services with equal keys get the same image."""
    service = spec.services[name]
    if service.build is None:
        return ("use", service.image, _platform(spec, name))
    build = service.build
    return ("build", (base / build.context).resolve(), build.dockerfile, tuple(sorted(build.args.items())),
            build.target, _platform(spec, name))


def _platform(spec: AppSpec, name: str) -> str:
    return "linux/arm64" if spec.services[name].instances.arch == "arm64" else "linux/amd64"
