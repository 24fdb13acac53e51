"""Plans as data: a step is a list of API calls, printed by `plan` and run by the executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Refs:
    """Several refs whose values (lists) are concatenated: e.g. all new instance ids."""

    names: tuple[str, ...]

    def __repr__(self) -> str:
        return "<" + " + ".join(self.names) + ">"


@dataclass(frozen=True)
class Withheld:
    """A parameter the executor sends as `value` but that plans, `-o json` and progress show as `shown`
    (a release's probe header value, which must stay unguessable)."""

    value: str = field(repr=False)
    shown: str = "(withheld)"

    def __repr__(self) -> str:
        return self.shown

    __str__ = __repr__


@dataclass(frozen=True)
class Call:
    client: str  # a boto3 service name, "docker" for the image pusher, "gate" for rollout health gates
    operation: str  # the client method; "wait:<waiter>" for a botocore waiter
    params: dict[str, Any]
    save: dict[str, str] = field(default_factory=dict)  # ref name -> JMESPath into the response
    ignore: tuple[str, ...] = ()  # error codes meaning "already done" (safe re-runs)
    retry: tuple[str, ...] = ()  # "Code" or "Code:words in the message" meaning "not yet", retried with a bound


@dataclass(frozen=True)
class Step:
    action: str  # create | update | push | launch | terminate | delete | wait
    kind: str
    name: str
    service: str | None
    calls: tuple[Call, ...]
    detail: str = ""
