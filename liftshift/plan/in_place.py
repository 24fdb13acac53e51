"""In-place rollouts (services without a load balancer, `rollout.strategy: in-place`).

The new release's launch template is made as for any release; then, one
instance at a time, the gate runs that template's user-data on the instance
(SSM Run Command on EC2; the stand-in host locally) - it pulls the new image by
digest and restarts the container - and probes the container there. The
instance's config tag moves to the new release only after its probe passes.
On the first failure the gate puts that instance's previous release back, and
`plan_restore` does the same for the instances already updated, so the service
ends on one release. Only container-level changes go out in place: a change of
instance type, AMI, disk or key pair (the host hash) replaces the instances.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import names
from ..model.releases import FAILED, Release
from ..model.steps import Action, Call, Check, GateCall, Kind, Step
from .records import record_call


@dataclass(frozen=True)
class InPlaceRollout:
    service: str
    record: Release
    template: str
    updates: tuple[tuple[str, str], ...]  # (instance id, its previous config hash), in update order
    port: int
    path: str | None
    timeout: int


def update_step(stack: str, r: InPlaceRollout, instance: str, previous: str, config: str) -> Step:
    return Step(Action.UPDATE, Kind.INSTANCE_IN_PLACE, instance, r.service, (
        GateCall(Check.UPDATE_IN_PLACE, {
            "service": r.service, "instance": instance, "release": r.record.number, "template": r.template,
            "previous": names.launch_template(stack, r.service, previous), "port": r.port, "path": r.path,
            "timeout": r.timeout}),
        Call("ec2", "create_tags", {"Resources": [instance], "Tags": [{"Key": names.TAG_CONFIG, "Value": config}]}),
    ), f"release #{r.record.number}: its container replaces the running one and is probed; on failure the "
       "previous one is put back")


def plan_updates(stack: str, r: InPlaceRollout) -> list[Step]:
    return [update_step(stack, r, instance, previous, r.record.config) for instance, previous in r.updates]


def updated_in_place(r: InPlaceRollout, done: list[Step]) -> list[str]:
    """The instances of `r` the run moved to its release before a gate failed, from the steps it finished."""
    return [s.name for s in done if s.kind is Kind.INSTANCE_IN_PLACE and s.service == r.service]


def plan_restore(stack: str, r: InPlaceRollout, updated: list[str], reason: str) -> list[Step]:
    """Instances this run already moved to the failed release go back to their previous one."""
    steps = []
    for instance, previous in r.updates:
        if instance not in updated:
            continue
        steps.append(Step(Action.UPDATE, Kind.INSTANCE_IN_PLACE, instance, r.service, (
            GateCall(Check.UPDATE_IN_PLACE, {
                "service": r.service, "instance": instance, "release": r.record.number,
                "template": names.launch_template(stack, r.service, previous), "previous": r.template,
                "port": r.port, "path": r.path, "timeout": r.timeout}),
            Call("ec2", "create_tags", {"Resources": [instance],
                                        "Tags": [{"Key": names.TAG_CONFIG, "Value": previous}]}),
        ), "back to its previous release"))
    steps.append(Step(Action.UPDATE, Kind.RELEASE, f"{r.service} #{r.record.number}", r.service,
                      (record_call(stack, r.record.with_outcome(FAILED, reason[:500])),),
                      "failed: " + reason.splitlines()[0][:120]))
    return steps
