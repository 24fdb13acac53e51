"""`deploy`, read top to bottom: prepare, push the images, plan with their digests, roll out, report.

The commands in cli/ call the pipeline with a Target (the wiring of clients);
nothing here creates a client. `plan` and `deploy` share `prepare`
(prepare.py), so what plan prints is what deploy runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..apply.executor import Executor
from ..errors import BadInput
from ..model import refs
from ..model.desired import ImageInfo
from ..model.observed import Observed
from ..plan.phases import InfraPlan, plan_undo
from ..spec.image_override import ImageSource
from ..spec.model import AppSpec
from ..targets.base import Target
from .lock import stack_lock
from .prepare import Prepared, prepare, replan
from .describe import describe_step
from .status import status_report


class StrictRefusal(BadInput):
    """--strict and at least one warning: bad input, exit code 2, nothing changed."""


def deploy(spec: AppSpec, base: Path, target: Target, *, lock_wait: float = 0, strict: bool = False,
           sources: dict[str, ImageSource] | None = None) -> dict[str, Any]:
    """sources: `--image SERVICE=REF`, services promoted from an image already built (pulled, not built)."""
    target.hosts.check_ports(spec)
    with stack_lock(spec, target, "deploy", lock_wait):
        prepared = prepare(spec, base, target, sources)
        refuse_or_warn(prepared, target, strict)
        executor = Executor(target.aws.client, _pusher(target), target.progress, gate=target.gate(spec),
                            parallel=target.parallel)
        images = push_images(prepared, target, executor)
        infra = replan(prepared, target, images)
        roll_out(spec, target, executor, infra, prepared.observed)
        return report(prepared, target, executor, images)


def refuse_or_warn(prepared: Prepared, target: Target, strict: bool) -> None:
    """--strict refuses a stack with warnings before anything changes; otherwise they are printed."""
    if strict and prepared.warnings:
        raise StrictRefusal("--strict: " + "; ".join(prepared.warnings))
    for warning in prepared.warnings:
        target.progress.note(f"warning: {warning}")
    for note in prepared.notes:
        target.progress.note(f"note: {note}")


def push_images(prepared: Prepared, target: Target, executor: Executor) -> dict[str, ImageInfo]:
    """Phase one: repositories and pushes. Returns every service's image with its digest."""
    if prepared.image_steps:
        target.progress.phase("pushing images")
    executor.run(prepared.image_steps)
    images = {w.service: ImageInfo(w.image.image_id, w.image.digest or executor.value(refs.image_digest(w.service)))
              for w in prepared.image_wants}
    for name, pulled in prepared.promoted.items():
        if pulled.source_digest and pulled.source_digest != images[name].digest:
            prepared.notes.append(f"{name}: the stack's repository holds {images[name].digest}, not the source's "
                                  f"{pulled.source_digest} (same image {pulled.image_id[:19]}; the engine "
                                  "re-compressed its layers for another registry)")
    return images


def roll_out(spec: AppSpec, target: Target, executor: Executor, infra: InfraPlan, observed: Observed) -> None:
    """Phase two: the infrastructure steps, health gates included."""
    if infra.steps:
        target.progress.phase(f"applying {len(infra.steps)} change(s) to {spec.name}")
    run_rollout(spec, target, executor, infra, observed)


def report(prepared: Prepared, target: Target, executor: Executor,
           images: dict[str, ImageInfo] | None = None) -> dict[str, Any]:
    """The stack as it is now (read again when anything changed), the hosts brought in line, what changed."""
    from ..aws.observe import observe_stack

    spec = prepared.spec
    observed = observe_stack(target.aws, spec.name) if executor.done else prepared.observed
    hosts = target.hosts.converge(spec, observed)
    out = status_report(spec, target, observed)
    if hosts is not None:
        out["hosts"] = hosts
    for name, image in (images or {}).items():  # what a pipeline promotes next: --image NAME=<reference>
        uri = target.registry.repository_uri(spec.name, name)
        out["services"][name].update(digest=image.digest, reference=f"{uri}@{image.digest}" if image.digest else None)
    out["changes"] = [describe_step(s) for s in executor.done]
    out["changed"] = bool(executor.done)
    out["warnings"] = prepared.warnings
    out["notes"] = prepared.notes
    return out


def run_rollout(spec: AppSpec, target: Target, executor: Executor, infra: InfraPlan, observed: Observed) -> None:
    """Run the steps; when a health gate fails, remove every release this run put out (none has
    traffic yet: listeners switch only after all gates pass) and re-raise as exit 3."""
    from ..apply.gate import RolloutFailed

    try:
        executor.run(infra.steps)
    except RolloutFailed as exc:
        reason = str(exc)
        target.progress.phase("health gate failed: removing the new release(s); traffic stays where it was")
        for rollout in infra.rollouts:
            steps = plan_undo(spec.name, rollout, observed, reason, executor.done, executor.made)
            try:
                executor.run(steps)
            except Exception as cleanup_error:  # the release's leftovers are removed by the next deploy
                target.progress.note(f"warning: could not remove all of {rollout.service} "
                                     f"#{rollout.record.number}: {cleanup_error}")
        kept = ", ".join(f"{c.service} #{c.record.number}" for c in infra.rollouts)
        raise RolloutFailed(f"{reason}\nundid {kept}; the previous release keeps serving") from None


def _pusher(target: Target) -> Callable[..., str]:
    """The executor's image pusher, safe to call from its worker threads: each push uses the calling thread's own
    docker client (`target.docker()`, see targets.aws.docker_connector) and the registry login is made once.
    Only tags the registry lacks are pushed: plan/images.py plans a push only where no digest was found."""
    import threading

    from ..apply import images

    login_lock = threading.Lock()
    login: list[dict | None] = []

    def registry_auth() -> dict | None:
        with login_lock:  # one ECR login for the pushes side by side, not one each
            if not login:
                login.append(target.registry_auth())
            return login[0]

    def push(service: str, image_id: str, repository: str, tag: str) -> str:
        target.progress.phase(f"pushing {service} to {repository}")
        return images.push_image(target.docker(), service, image_id, repository, tag, registry_auth(),
                                 target.progress.build_output)

    return push
