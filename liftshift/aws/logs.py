"""Reading the stack's container logs from CloudWatch Logs (`liftshift logs` on AWS).

One `FilterLogEvents` pagination across the wanted streams rather than `GetLogEvents` per stream with a k-way
merge: it reads every stream in one paginated call with the time range applied by CloudWatch, so a stack of
many instances costs pages, not a call per stream per poll, and a stream that logged nothing costs nothing.
AWS returns its events "sorted by event timestamp, the timestamp when the event was ingested by CloudWatch
Logs, and the ID of the PutLogEvents request", and a page "might only be partially full, or even empty" while
a nextToken says more may follow (FilterLogEvents API reference), so every page is read until no token comes.
The events are still merged by time here (model.log_events.merge): more than 100 streams take several calls
(`logStreamNames` holds at most 100, same reference), and moto returns them stream by stream. The streams
are chosen by name first with `DescribeLogStreams` (prefix `SERVICE/` for --service), then named in
`logStreamNames`, because an instance id alone is no prefix of `SERVICE/INSTANCE_ID` (and moto ignores
`logStreamNamePrefix` in FilterLogEvents).
"""

from __future__ import annotations

from typing import Any

from ..model import names
from ..model.log_events import LogEvent, LogQuery, split_stream

NAMES_PER_CALL = 100  # FilterLogEvents: "logStreamNames ... Array Members: Minimum number of 1 item.
#                       Maximum number of 100 items."
PAGE_LIMIT = 10000  # events a page may hold (the API's maximum)


def read_log_events(aws: Any, query: LogQuery) -> list[LogEvent]:
    """The query's events from the stack's log group (none if the group or the streams do not exist yet)."""
    import botocore.exceptions

    logs = aws.client("logs")
    group = names.log_group(query.stack)
    try:
        streams = _streams(logs, group, query)
        events: list[LogEvent] = []
        for start in range(0, len(streams), NAMES_PER_CALL):
            events += _filter(logs, group, streams[start:start + NAMES_PER_CALL], query)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []  # no log group: nothing deployed yet, or destroyed
        raise
    return events


def _streams(logs: Any, group: str, query: LogQuery) -> list[str]:
    params: dict[str, Any] = {"logGroupName": group}
    if query.service:
        params["logStreamNamePrefix"] = f"{query.service}/"
    found = []
    for page in logs.get_paginator("describe_log_streams").paginate(**params):
        for stream in page.get("logStreams", []):
            # Not narrowed by lastEventTimestamp: AWS updates it "on an eventual consistency basis ... in less
            # than an hour" (LogStream data type), so a stream logging now could be left out.
            if query.wants_stream(stream["logStreamName"]):
                found.append(stream["logStreamName"])
    return sorted(found)


def _filter(logs: Any, group: str, streams: list[str], query: LogQuery) -> list[LogEvent]:
    params: dict[str, Any] = {"logGroupName": group, "logStreamNames": streams, "startTime": query.start_ms,
                              "limit": PAGE_LIMIT}
    if query.end_ms is not None:
        params["endTime"] = query.end_ms
    events = []
    while True:
        page = logs.filter_log_events(**params)
        for raw in page.get("events", []):
            service, instance = split_stream(raw.get("logStreamName", ""))
            event = LogEvent(int(raw["timestamp"]), service, instance, raw.get("message", "").rstrip("\n"),
                             raw.get("eventId") or f"{raw.get('logStreamName')}@{raw['timestamp']}")
            if query.keeps(event):  # also what CloudWatch applied: the streams, the times
                events.append(event)
        token = page.get("nextToken")
        if not token or token == params.get("nextToken"):
            return events
        params["nextToken"] = token
