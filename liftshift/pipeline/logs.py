"""`liftshift logs`: the app containers' lines of a stack, merged in time order, once or followed.

What the lines are read from is the target's (`Hosts.log_events`: CloudWatch Logs on AWS, the stand-in
containers in the local rehearsal); this module only asks, merges and follows. Following polls every
`POLL_SECONDS`, re-reading a window before the newest line shown (CloudWatch ingests late lines with their
own, earlier timestamps) and showing only lines not shown before; it stops on Ctrl-C (exit 0) or, for
scripts and tests, after `follow_for` seconds.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..model.log_events import LogEvent, LogQuery, Seen, merge
from ..spec.model import AppSpec
from ..targets.base import Target
from ..errors import BadInput

POLL_SECONDS = 2.0
LATE_WINDOW_MS = 30_000  # how far back each poll looks again for lines that arrived late


class UnknownService(BadInput):
    """--service names no service of app.yaml: exit 2."""


def check_service(spec: AppSpec, service: str | None) -> None:
    if service is not None and service not in spec.services:
        raise UnknownService(f"--service {service}: app.yaml ({spec.name}) has no such service; it has "
                             + ", ".join(sorted(spec.services)))


def read(target: Target, query: LogQuery) -> list[LogEvent]:
    """The query's lines, in time order."""
    target.aws.account_id()  # the credentials first, as every command
    return merge(target.hosts.log_events(target.aws, query))


def logs_report(spec: AppSpec, target: Target, query: LogQuery) -> dict[str, Any]:
    events = read(target, query)
    return {"stack": spec.name, "target": target.name, "service": query.service, "instance": query.instance,
            "grep": query.grep, "since": query.start_ms, "events": [e.to_json() for e in events]}


def follow(target: Target, query: LogQuery, show: Callable[[LogEvent], None], *,
           follow_for: float | None = None, interval: float = POLL_SECONDS,
           sleep: Callable[[float], None] = time.sleep) -> int:
    """Show the query's lines and then new ones as they come, each once; returns how many were shown.
    Ctrl-C ends it quietly (the caller exits 0)."""
    seen = Seen(LATE_WINDOW_MS)
    deadline = None if follow_for is None else time.monotonic() + follow_for
    shown = 0
    start = query.start_ms
    try:
        while True:
            window = LogQuery(query.stack, query.service, query.instance, seen.next_start(start), None, query.grep)
            for event in seen.fresh(read(target, window)):
                show(event)
                shown += 1
            if deadline is not None and time.monotonic() >= deadline:
                return shown  # the last read began at or after the deadline
            sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))
    except KeyboardInterrupt:
        return shown
