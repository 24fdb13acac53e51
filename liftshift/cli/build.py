"""`liftshift build`: build (and with --push, push) the stack's images without provisioning anything."""

from typing import Annotated

import typer

from .. import report
from .base import emit, load, open_target
from .options import File, Service, StackOptions, stack_options

Push = Annotated[bool, typer.Option(
    "--push", help="Also push to the stack's repositories (created if missing), as deploy does.")]


@stack_options(parallel=True)
def build(file: File, push: Push = False, service: Service = None, *, opts: StackOptions) -> None:
    """Build the images (and push them with --push) without provisioning; prints each image and digest."""
    from ..pipeline.build import LocalEngine, build as run_build

    spec, base = load(file, opts.env)
    if push:
        target = open_target(spec, opts)
    else:  # nothing leaves the machine: no AWS session, no credentials needed
        from ..progress import LineProgress, Progress
        from ..targets.aws import docker_connector

        target = LocalEngine(docker_connector(), Progress() if opts.json else LineProgress(verbose=opts.verbose),
                             parallel=opts.parallel)  # --parallel: open_target sets it on a target
    emit(run_build(spec, base, target, push=push, service=service), opts.output, report.build_text)
