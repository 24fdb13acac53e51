"""`liftshift cutover`: move a service's DNS record from the old server to the stack (Route 53 weighted
records), step by step, and back; without a move, the records now and the cutover's history."""

import re
import sys
from typing import Annotated, Optional

import typer

from .. import report
from ..progress import settle
from ..errors import BadInput, LiftshiftError
from .base import emit, load, open_target
from .options import File, LockWait, Service, StackOptions, stack_options


def parse_percent(value: str) -> int:
    """`10%` or `10` -> 10 (1 to 100)."""
    match = re.fullmatch(r"\s*(\d{1,3})\s*%?\s*", value)
    if not match or not 1 <= int(match.group(1)) <= 100:
        raise BadInput(f"--to {value!r}: give a share of traffic for the stack from 1% to 100%, e.g. --to 10%")
    return int(match.group(1))


@stack_options(parallel=True)
def cutover(file: File, service: Service = None,
            to: Annotated[Optional[str], typer.Option(
                "--to", metavar="N%", help="Send N% of the traffic to the stack (weighted records; the old "
                                           "record's TTL is lowered to dns.ttl first).")] = None,
            complete: Annotated[bool, typer.Option(
                "--complete", help="Only the stack's record remains (plain, the original TTL).")] = False,
            back: Annotated[bool, typer.Option(
                "--back", help="All traffic to the old server: its record as it was, the stack's removed.")] = False,
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the steps; change nothing.")] = False,
            lock_wait: LockWait = 0.0, *, opts: StackOptions) -> None:
    """Move services.X.dns.name to the stack (--to N%, --complete) or back (--back); without a move, show the records."""
    from ..pipeline.cutover import cutover as run_cutover
    from ..plan.cutover import Move

    moves = [m for m in (to is not None and "to", complete and "complete", back and "back") if m]
    if len(moves) > 1:
        raise BadInput("give one of --to N%, --complete, --back")
    move = Move("to", parse_percent(to)) if to is not None else Move(moves[0]) if moves else None
    spec, base = load(file, opts.env)
    where = open_target(spec, opts)
    if move is None:
        emit(run_cutover(spec, base, where, service, None), opts.output, report.cutover_history_text)
        return
    if not dry_run and not yes:
        planned = run_cutover(spec, base, where, service, move, execute=False)
        if not any(s["steps"] for s in planned["services"].values()):
            emit(planned, opts.output, report.cutover_text)
            return
        if not sys.stdin.isatty():
            raise BadInput("cutover needs --yes when not run on a terminal (or --dry-run to see the steps)")
        settle()  # the live display stops before the question
        typer.echo(report.cutover_text(planned), err=True)
        if not typer.confirm(f"Make these changes to the DNS of stack {spec.name}?", err=True):
            raise LiftshiftError("nothing changed")
    emit(run_cutover(spec, base, where, service, move, execute=not dry_run, lock_wait=lock_wait), opts.output,
         report.cutover_text)
