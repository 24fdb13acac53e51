"""`liftshift logs` in the local rehearsal: the stand-in app containers' own logs, read from the Docker engine.

On EC2 the awslogs driver sends each app container's output to the stream `SERVICE/INSTANCE_ID`; a stand-in
host runs the same user-data with the json-file driver instead (there is no CloudWatch to send to), and the
app container carries the labels `liftshift.service` and `liftshift.instance`. Reading every such container
with Docker's timestamps gives the same events: labelled by service and instance, merged by time by the
caller. A container removed with its instance (destroy, a replacement) takes its logs with it, unlike
CloudWatch, which keeps them for the retention period.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ...model.log_events import LogEvent, LogQuery


def read_container_logs(client: Any, query: LogQuery) -> list[LogEvent]:
    """The query's events from the stack's app containers (stdout and stderr, as the awslogs driver sends)."""
    import docker.errors

    containers = client.containers.list(all=True, filters={"label": [f"liftshift.stack={query.stack}",
                                                                      "liftshift.instance"]})
    events: list[LogEvent] = []
    for container in containers:
        service = container.labels.get("liftshift.service", "")
        instance = container.labels.get("liftshift.instance", "")
        if not query.wants(service, instance):
            continue
        try:  # whole seconds: Docker's `since` is in seconds; the milliseconds are filtered below
            raw = container.logs(stdout=True, stderr=True, timestamps=True, since=max(0, query.start_ms // 1000))
        except docker.errors.NotFound:  # removed while we read (an instance replaced)
            continue
        events += _parse(raw.decode("utf-8", errors="replace"), container.id[:12], service, instance, query)
    return events


def _parse(text: str, container: str, service: str, instance: str, query: LogQuery) -> list[LogEvent]:
    out = []
    repeats: dict[str, int] = {}
    for line in text.splitlines():
        stamp, _, message = line.partition(" ")
        timestamp = _epoch_ms(stamp)
        if timestamp is None:
            continue
        n = repeats[stamp] = repeats.get(stamp, 0) + 1
        event = LogEvent(timestamp, service, instance, message.rstrip("\r"), f"{container}@{stamp}@{n}")
        if query.keeps(event):
            out.append(event)
    return out


def _epoch_ms(stamp: str) -> int | None:
    """Docker's RFC 3339 time with nanoseconds (`2026-11-30T15:20:01.123456789Z`) as epoch milliseconds."""
    head, dot, rest = stamp.rstrip("Z").partition(".")
    try:
        moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    millis = int((rest[:3] if dot else "0").ljust(3, "0")) if rest[:3].isdigit() or not dot else 0
    return int(moment.timestamp()) * 1000 + millis
