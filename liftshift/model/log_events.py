"""`liftshift logs` as plain data: what is asked (a `LogQuery`), what comes back (`LogEvent`s), and the pure
rules both targets share: `--since` parsing, which streams a query wants, `--grep` matching, the time-ordered
merge and the de-duplication `--follow` needs.

The streams are the awslogs driver's `SERVICE/INSTANCE_ID` in the group `/liftshift/STACK`
(templates/user-data.sh.j2); the local rehearsal labels its containers with the same service and instance.
`--grep` is a plain, case-sensitive substring applied here, the same on both targets: CloudWatch filter
patterns match terms, not substrings, and Docker has no filter at all, so one rule keeps the answers alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from ..errors import BadInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BadSince(BadInput):
    """--since is neither a duration (10m, 2h, 1d) nor an ISO time: exit 2."""


@dataclass(frozen=True)
class LogQuery:
    """Which events: the stack, optionally one service and one instance, from `start_ms` (epoch ms)."""

    stack: str
    service: str | None = None
    instance: str | None = None
    start_ms: int = 0
    end_ms: int | None = None
    grep: str | None = None

    def wants(self, service: str, instance: str) -> bool:
        return (self.service is None or service == self.service) and (
            self.instance is None or instance == self.instance)

    def wants_stream(self, stream: str) -> bool:
        service, instance = split_stream(stream)
        return self.wants(service, instance)

    def keeps(self, event: "LogEvent") -> bool:
        return (self.wants(event.service, event.instance) and event.timestamp >= self.start_ms
                and (self.end_ms is None or event.timestamp <= self.end_ms)
                and (not self.grep or self.grep in event.message))


@dataclass(frozen=True)
class LogEvent:
    """One line an app container wrote. `key` tells two reads of the same line apart from two equal lines."""

    timestamp: int  # epoch milliseconds
    service: str
    instance: str
    message: str
    key: str  # CloudWatch's eventId; locally the container id and Docker's nanosecond timestamp

    def to_json(self) -> dict:
        return {"time": iso_ms(self.timestamp), "timestamp": self.timestamp, "service": self.service,
                "instance": self.instance, "message": self.message}


def split_stream(stream: str) -> tuple[str, str]:
    """`SERVICE/INSTANCE_ID` -> (service, instance); a stream of another shape keeps its whole name as service."""
    service, sep, instance = stream.partition("/")
    return (service, instance) if sep else (stream, "")


def iso_ms(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"


def parse_since(text: str, now_ms: int) -> int:
    """`10m`, `90s`, `2h`, `1d` before now, or an ISO 8601 time (without a zone: UTC), as epoch ms."""
    value = text.strip()
    match = re.fullmatch(r"(\d+)\s*([smhd])", value)
    if match:
        return now_ms - int(match.group(1)) * _UNITS[match.group(2)] * 1000
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadSince(f"--since {text!r}: give a duration (30s, 10m, 2h, 1d) or an ISO time "
                       "(2026-11-30T15:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def merge(events: Iterable[LogEvent]) -> list[LogEvent]:
    """All events in time order; equal times keep a stable order (service, instance, then as read)."""
    indexed = list(enumerate(events))
    indexed.sort(key=lambda pair: (pair[1].timestamp, pair[1].service, pair[1].instance, pair[0]))
    return [event for _, event in indexed]


class Seen:
    """The keys of events already shown within a window before the newest: a poll re-reads that window (late
    events arrive in it) and shows only what it has not shown."""

    def __init__(self, window_ms: int):
        self.window_ms = window_ms
        self.keys: dict[str, int] = {}
        self.newest = 0

    def fresh(self, events: Iterable[LogEvent]) -> list[LogEvent]:
        out = [e for e in events if e.key not in self.keys]
        for event in out:
            self.keys[event.key] = event.timestamp
            self.newest = max(self.newest, event.timestamp)
        horizon = self.newest - 2 * self.window_ms
        self.keys = {k: t for k, t in self.keys.items() if t >= horizon}
        return out

    def next_start(self, start_ms: int) -> int:
        """Where the next poll reads from: the window before the newest shown event (never before `start_ms`)."""
        return max(start_ms, self.newest - self.window_ms) if self.newest else start_ms
