"""`liftshift logs`: the app's log lines, merged in time order across services and instances (read only)."""

import json
import os
import sys
import time
from typing import Annotated, Optional

import typer

from .. import report
from .base import emit, load, open_target
from .options import File, Service, StackOptions, stack_options

Instance = Annotated[Optional[str], typer.Option("--instance", "-i", help="Only this instance (its id).")]
Since = Annotated[str, typer.Option(
    "--since", metavar="WHEN", help="From this long ago (30s, 10m, 2h, 1d) or this ISO time (UTC if no zone).")]
Follow = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines (every 2 s) until Ctrl-C.")]
Grep = Annotated[Optional[str], typer.Option(
    "--grep", metavar="TEXT", help="Only lines containing TEXT (a plain, case-sensitive substring).")]
FollowFor = Annotated[Optional[float], typer.Option("--follow-for", hidden=True, min=0,
                                                    help="Stop following after this many seconds.")]


@stack_options
def logs(file: File, service: Service = None, instance: Instance = None, since: Since = "1h",
         follow: Follow = False, grep: Grep = None, follow_for: FollowFor = None, *, opts: StackOptions) -> None:
    """The app's log lines (CloudWatch Logs; the local rehearsal: its containers), merged by time."""
    from ..model.log_events import LogQuery, parse_since
    from ..pipeline import logs as pipeline

    spec, _ = load(file, opts.env)
    pipeline.check_service(spec, service)
    query = LogQuery(spec.name, service, instance, parse_since(since, int(time.time() * 1000)), None, grep or None)
    target = open_target(spec, opts, quiet=True)

    def show(event) -> None:  # JSON Lines when following: one object a line, flushed at once
        typer.echo(json.dumps(event.to_json(), sort_keys=True) if opts.json else report.log_line(event.to_json()))

    try:
        if not follow and follow_for is None:
            emit(pipeline.logs_report(spec, target, query), opts.output, report.logs_text)
        else:
            pipeline.follow(target, query, show, follow_for=follow_for)
    except BrokenPipeError:  # `liftshift logs ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
