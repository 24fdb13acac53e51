"""`liftshift destroy`: remove what the stack owns (found by its tags), after showing it and asking."""

import sys
from typing import Annotated

import typer

from .. import report
from ..progress import settle
from ..errors import BadInput, LiftshiftError
from .base import emit, load, open_target
from .options import File, LockWait, StackOptions, stack_options


@stack_options(parallel=True)
def destroy(file: File, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
            keep_images: Annotated[bool, typer.Option(
                "--keep-images", help="Keep the ECR repositories and images.")] = False,
            delete_data: Annotated[bool, typer.Option(
                "--delete-data", help="Delete the data volumes (services.X.data) too; without it they are kept.")]
            = False,
            lock_wait: LockWait = 0.0, *, opts: StackOptions) -> None:
    """Remove everything the stack owns in AWS (found by its tags); data volumes only with --delete-data."""
    from ..pipeline.describe import describe_step
    from ..pipeline.destroy import destroy_plan

    spec, _ = load(file, opts.env)
    where = open_target(spec, opts)
    steps, kept = destroy_plan(spec, where, keep_images=keep_images, execute=False, delete_data=delete_data)
    if not steps:
        # local: orphaned stand-in hosts (and, with --delete-data, Docker volumes of an emulator that forgot them)
        _, kept = destroy_plan(spec, where, keep_images=keep_images, lock_wait=lock_wait, delete_data=delete_data)
        emit({"stack": spec.name, "removed": [], "kept_data": kept}, opts.output, report.nothing_to_destroy_text)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput("destroy needs --yes when not run on a terminal")
        settle()  # the live display stops before the question
        typer.echo(report.steps_text([describe_step(s) for s in steps]), err=True)
        if kept:
            typer.echo(report.kept_data_text(kept), err=True)
        if not typer.confirm(f"Remove these {len(steps)} resources of stack {spec.name}?", err=True):
            raise LiftshiftError("nothing removed")
    steps, kept = destroy_plan(spec, where, keep_images=keep_images, lock_wait=lock_wait, delete_data=delete_data)
    emit({"stack": spec.name, "removed": [describe_step(s) for s in steps], "kept_data": kept}, opts.output,
         report.destroyed_text)
