"""`liftshift history` and `liftshift rollback`: the releases a stack recorded, and putting one back."""

from typing import Annotated, Optional

import typer

from .. import report
from ..errors import BadInput
from .base import emit, load, open_target
from .options import File, LockWait, Service, StackOptions, stack_options


@stack_options
def history(file: File, service: Service = None, *, opts: StackOptions) -> None:
    """The releases of each service, newest first: number, image, who, when, commit, outcome."""
    from ..pipeline.history import history as run_history

    spec, _ = load(file, opts.env)
    if service is not None and service not in spec.services:
        raise BadInput(f"{file}: no service {service!r} (services: {', '.join(spec.services)})")
    emit(run_history(spec, open_target(spec, opts), service), opts.output, report.history_text)


@stack_options(parallel=True)
def rollback(file: File, service: Service = None,
             to: Annotated[Optional[int], typer.Option(
                 "--to", min=1, help="Release number (default: the previous one that served).")] = None,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the steps; change nothing.")] = False,
             lock_wait: LockWait = 0.0, *, opts: StackOptions) -> None:
    """Put an earlier release back, through the same health-gated rollout as deploy."""
    from ..pipeline.describe import describe_step
    from ..pipeline.rollback import rollback as run_rollback

    spec, _ = load(file, opts.env)
    steps = run_rollback(spec, open_target(spec, opts), service, to, execute=not dry_run, lock_wait=lock_wait)
    emit({"stack": spec.name, "dry_run": dry_run, "steps": [describe_step(s) for s in steps]}, opts.output,
         report.rollback_text)
