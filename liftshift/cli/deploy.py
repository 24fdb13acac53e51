"""`liftshift deploy`: build, push and run the stack through its health gates."""

import time
from typing import Annotated

import typer

from .. import report
from .base import emit, load, open_target
from .options import File, LockWait, StackOptions, Strict, stack_options

# deploy never prompts, so --yes does nothing; it stays accepted (hidden) so pipelines that pass it keep working.
Yes = Annotated[bool, typer.Option("--yes", "-y", hidden=True, help="Accepted for CD scripts; deploy never prompts.")]


@stack_options
def deploy(file: File, yes: Yes = False, lock_wait: LockWait = 0.0, strict: Strict = False, *,
           opts: StackOptions) -> None:
    """Build, push and run the stack; waits until every instance is running."""
    from ..pipeline.deploy import deploy as run_deploy

    started = time.monotonic()  # the summary says how long the deploy took

    spec, base = load(file, opts.env)
    result = run_deploy(spec, base, open_target(spec, opts), lock_wait=lock_wait, strict=strict)
    emit(result, opts.output, lambda data: report.deploy_text(data, time.monotonic() - started))
