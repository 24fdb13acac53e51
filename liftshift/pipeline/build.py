"""`build`: the images without the stack, for pipelines that build in one job and deploy (`--image`) in another.

Without --push nothing leaves this machine (no AWS call). With --push the images go to the stack's
repositories by the same steps deploy's phase one runs (plan/images.py: repositories created where missing,
pushes only of tags the registry lacks), so a second build --push of the same images changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInput
from ..progress import Progress
from ..spec.model import AppSpec
from ..targets.base import DEFAULT_PARALLEL, Target
from .prepare import build_images, image_wants


@dataclass
class LocalEngine:
    """All a build without --push needs of a target: the Docker engine and the progress display. No AWS
    session, so a build job needs no credentials."""

    docker: Callable[[], object]  # each thread's own client (targets.aws.docker_connector)
    progress: Progress
    parallel: int = DEFAULT_PARALLEL  # builds side by side (`--parallel N`), as on a Target


def build(spec: AppSpec, base: Path, target: Target | LocalEngine, *, push: bool = False, service: str | None = None
          ) -> dict[str, Any]:
    if service is not None and service not in spec.services:
        raise BadInput(f"--service {service!r}: app.yaml has no service {service!r} "
                       f"(services: {', '.join(spec.services)})")
    if not push:
        local = build_images(spec, base, target, only=service)
        return {"stack": spec.name, "pushed": False, "changed": False, "changes": [],
                "services": {name: {"image_id": info.image_id, "tag": info.tag} for name, info in local.items()}}
    assert isinstance(target, Target), "--push needs a target with AWS and a registry"
    return _build_and_push(spec, base, target, service)


def _build_and_push(spec: AppSpec, base: Path, target: Target, service: str | None) -> dict[str, Any]:
    from ..apply.executor import Executor
    from ..aws.observe import observe_stack, require_services
    from ..aws.ownership import check_ownership
    from ..model import refs
    from ..plan.images import plan_images
    from ..spec.limits import check_limits
    from .deploy import _pusher
    from .describe import describe_step

    target.aws.account_id()  # proves credentials before any build
    check_limits(spec, target.aws.region, target.registry)
    local = build_images(spec, base, target, only=service)
    target.progress.phase(f"reading stack {spec.name} in {target.aws.region}")
    observed = observe_stack(target.aws, spec.name)
    require_services(spec, observed, registry_is_ecr=target.registry.is_ecr)
    wants = image_wants(spec, target, local, observed)
    steps = plan_images(spec.name, wants, observed)
    check_ownership(target.aws, spec.name, steps, observed)
    executor = Executor(target.aws.client, _pusher(target), target.progress, parallel=target.parallel)
    if steps:
        target.progress.phase("pushing images")
    executor.run(steps)
    services = {}
    for want in wants:
        digest = want.image.digest or executor.value(refs.image_digest(want.service))
        services[want.service] = {"image_id": want.image.image_id, "tag": want.image.tag,
                                  "repository": want.repository_uri, "digest": digest,
                                  "reference": f"{want.repository_uri}@{digest}"}
    return {"stack": spec.name, "pushed": True, "changed": bool(executor.done),
            "changes": [describe_step(s) for s in executor.done], "services": services}
