"""Release records: what a release's record says, and the DynamoDB writes that keep it.

Three planners (stack, fleet, in-place) record releases; they all write
through these functions, so a record has one shape. Pure: the calls are data.
"""

from __future__ import annotations

from typing import Any

from ..model import names
from ..model.desired import ServiceWant
from ..model.observed import Observed
from ..model.releases import PENDING, Origin, Release, item_key, next_number, of_service
from ..model.steps import Action, Call, Kind, Step, Withheld

UNKNOWN_ORIGIN = Origin(by="unknown", at="", commit=None)


def new_release(service: ServiceWant, observed: Observed, origin: Origin) -> Release:
    """The record of the service's release for app.yaml's config: an earlier attempt's number, else the next."""
    mine = of_service(observed.releases, service.name)
    earlier = next((r for r in mine if r.config == service.launch_template.config_hash), None)
    fleet = None
    if service.fleet is not None:
        f = service.fleet
        fleet = {"listener": {"port": f.listener.port, "protocol": f.listener.protocol,
                              "certificate_arn": f.listener.certificate_arn},
                 "target_group": {"name": f.target_group.name, "port": f.target_group.port,
                                  "health": dict(f.target_group.health)},
                 "auto_scaling_group": f.auto_scaling_group}
    return Release(
        service=service.name, number=earlier.number if earlier else next_number(observed.releases, service.name),
        config=service.launch_template.config_hash, image=service.image.digest,
        launch_template=service.launch_template.name, at=origin.at, by=origin.by, commit=origin.commit,
        fleet=fleet, host=service.tags.get(names.TAG_HOST),
    )


def record_step(stack: str, release: Release, what: str) -> Step:
    """One release's record written: created while pending, updated with any later outcome."""
    return Step(Action.UPDATE if release.outcome != PENDING else Action.CREATE, Kind.RELEASE,
                f"{release.service} #{release.number}", release.service, (record_call(stack, release),), what)


def record_call(stack: str, release: Release) -> Call:
    # A pending record holds its probe value: sent as it is, shown withheld (plan, -o json).
    value: Any = Withheld(release.to_json(), release.withheld_json()) if release.probe else release.to_json()
    return Call("dynamodb", "update_item", {
        "TableName": names.TABLE, "Key": item_key(stack), "UpdateExpression": "SET #k = :v",
        "ExpressionAttributeNames": {"#k": release.key},
        "ExpressionAttributeValues": {":v": {"S": value}},
    })


def forget_call(stack: str, releases: list[Release]) -> Call:
    keys = {f"#k{i}": r.key for i, r in enumerate(releases)}
    return Call("dynamodb", "update_item", {
        "TableName": names.TABLE, "Key": item_key(stack), "UpdateExpression": "REMOVE " + ", ".join(keys),
        "ExpressionAttributeNames": keys,
    })
