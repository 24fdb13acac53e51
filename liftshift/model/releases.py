"""Release records: what each deploy of a service put out, kept in AWS for `history` and `rollback`.

A release is a launch template (immutable, version 1, named by the config
hash) plus this record: its number, image digest, who, when, the git commit
and its outcome, and for services behind a load balancer the listener and
target-group settings a rollback must restore. EC2 does not let a template's
tags change reliably (moto ignores CreateTags on templates), so the mutable
part lives in the DynamoDB table liftshift already keeps for its deploy locks,
as one item per stack (`releases/<stack>`) with one attribute per release:
one consistent read returns a stack's whole history.

Pure records only: `aws.release_store` reads the item, the planned calls
(plan.fleet) write it, and `liftshift.origin` finds who, when and which commit.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypedDict

PENDING, LIVE, FAILED, RETIRED, ROLLED_BACK = "pending", "live", "failed", "retired", "rolled back"


class ListenerRecord(TypedDict, total=False):
    """The listener a release was put out behind (records of older versions may lack the certificate)."""

    port: int
    protocol: str
    certificate_arn: str | None


class TargetGroupRecord(TypedDict):
    name: str
    port: int
    health: dict[str, int | str | None]  # path, interval, healthy, unhealthy, timeout (as in app.yaml)


class FleetRecord(TypedDict):
    """What a rollback of a load-balanced release restores: listener, target group, Auto Scaling group name.
    Stored as JSON in the record, so a plain dict at run time."""

    listener: ListenerRecord
    target_group: TargetGroupRecord
    auto_scaling_group: str


@dataclass(frozen=True)
class Release:
    service: str
    number: int
    config: str  # the config hash: names the launch template, target group and Auto Scaling group
    image: str | None  # registry digest
    launch_template: str
    at: str
    by: str
    commit: str | None
    outcome: str = PENDING
    reason: str | None = None
    fleet: FleetRecord | None = field(default=None, hash=False, compare=False)  # listener + target group
    host: str | None = None  # the host hash its instances are tagged with (in-place rollouts compare it)
    # The value of the release header that routes to it through the load balancer while it is pending (its
    # gate's probe): random, kept only while pending, never printed (see `withheld_json`). Records written by
    # an older liftshift have none.
    probe: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.number:06d}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def withheld_json(self) -> str:
        """to_json as plans and logs may show it: the probe value replaced by a mark."""
        data = asdict(self)
        if data.get("probe"):
            data["probe"] = "(withheld)"
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def with_outcome(self, outcome: str, reason: str | None = None) -> "Release":
        """The record with a new outcome; the probe value goes with the pending state (its route is gone after)."""
        return replace(self, outcome=outcome, reason=reason, probe=self.probe if outcome == PENDING else None)


def new_probe_value() -> str:
    """An unguessable value for the release header, from the OS's CSPRNG: 48 lowercase hex digits (192 bits).
    An ALB compares header values case-insensitively, up to 128 characters, with `*` and `?` as wildcards
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html, HTTP header
    conditions): hex has no wildcard character and loses nothing to case folding."""
    return secrets.token_hex(24)


def item_key(stack: str) -> dict[str, Any]:
    return {"stack": {"S": f"releases/{stack}"}}  # stack names never contain '/', so no lock is shadowed


def from_item(item: dict[str, Any]) -> list[Release]:
    """The releases in a stack's DynamoDB item (attribute values as GetItem returns them), oldest first per
    service. A record this version cannot read is left out (and left alone); fields a newer version added
    are ignored."""
    out = []
    for key, value in item.items():
        if key == "stack" or "S" not in value:
            continue
        try:
            data = json.loads(value["S"])
            known = {k: v for k, v in data.items() if k in Release.__dataclass_fields__}  # newer versions add fields
            out.append(Release(**known))
        except (TypeError, ValueError, AttributeError):
            continue  # a record this version cannot read is left alone
    return sorted(out, key=lambda r: (r.service, r.number))


def of_service(releases: list[Release], service: str) -> list[Release]:
    return [r for r in releases if r.service == service]


def next_number(releases: list[Release], service: str) -> int:
    return max((r.number for r in of_service(releases, service)), default=0) + 1


@dataclass(frozen=True)
class Origin:
    """Who and when, recorded with each release."""

    by: str
    at: str
    commit: str | None
