"""`liftshift deploy`: build, push and run the stack through its health gates."""

import time
from typing import Annotated, Optional

import typer

from .. import report
from .base import emit, load, open_target
from .options import File, LockWait, StackOptions, Strict, stack_options

# deploy never prompts, so --yes does nothing; it stays accepted (hidden) so pipelines that pass it keep working.
Yes = Annotated[bool, typer.Option("--yes", "-y", hidden=True, help="Accepted for CD scripts; deploy never prompts.")]
# deploy and plan take it (plan shows what deploy would do with it): build once, promote the digest.
Image = Annotated[Optional[list[str]], typer.Option(
    "--image", metavar="SERVICE=REF", show_default=False,
    help="Deploy SERVICE from an image already built (repo:tag or repo@sha256:...) instead of building it; "
         "repeatable.")]


def image_sources(values: Optional[list[str]], spec, file) -> dict:
    """--image values as {service: ImageSource}; exit 2 naming the value before anything is built or changed."""
    from ..spec.image_override import parse_image_overrides

    return parse_image_overrides(values or [], spec.services, str(file))


@stack_options(parallel=True)
def deploy(file: File, yes: Yes = False, lock_wait: LockWait = 0.0, strict: Strict = False, image: Image = None,
           *, opts: StackOptions) -> None:
    """Build, push and run the stack; waits until every instance is running."""
    from ..pipeline.deploy import deploy as run_deploy

    started = time.monotonic()  # the summary says how long the deploy took
    spec, base = load(file, opts.env)
    sources = image_sources(image, spec, file)
    result = run_deploy(spec, base, open_target(spec, opts), lock_wait=lock_wait, strict=strict, sources=sources)
    emit(result, opts.output, lambda data: report.deploy_text(data, time.monotonic() - started))
