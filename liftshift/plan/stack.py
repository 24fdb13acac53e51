"""A stack's plan: desired vs observed -> the ordered steps deploy runs and `plan` prints.

Shared resources first (the log group, each service's role and security
groups), then the releases going out, in phases (see phases.py): services
behind a load balancer through fleet.py, the others through instances.py,
then services removed from app.yaml (destroy.py). Pure: nothing here talks to
AWS or Docker; the same steps are printed by `plan` and run by `deploy`,
which is what makes plan truthful.
"""

from __future__ import annotations

from dataclasses import replace

from ..model import names
from ..model.desired import ServiceWant, StackWant
from ..model.observed import Observed
from ..model.releases import Origin
from ..model.refs import Ref
from ..model.steps import Action, Call, Kind, Step
from .destroy import sweep_service
from .fleet import Candidate, plan_fleet
from .groups import plan_admissions, plan_groups
from .instances import plan_instances, security_group_id, template_step, wait_running
from .phases import InfraPlan, Phases
from .records import UNKNOWN_ORIGIN, new_release
from .roles import plan_role

LOG_RETENTION_DAYS = 30


def plan_infrastructure(want: StackWant, observed: Observed, *, keep_images: bool = True,
                        origin: Origin | None = None) -> list[Step]:
    return plan_stack(want, observed, keep_images=keep_images, origin=origin).steps


def plan_stack(want: StackWant, observed: Observed, *, keep_images: bool = True,
               origin: Origin | None = None) -> InfraPlan:
    """The stack's steps in the order deploy runs them: shared resources, launches and new releases'
    groups, the waits and health gates, then traffic switches and removals."""
    origin = origin or UNKNOWN_ORIGIN
    shared = plan_log_group(want, observed)
    phases = Phases()
    new_instances: list[Ref] = []
    cleanups: list[Step] = []
    for service in want.in_launch_order():  # a service's dependencies are launched before it
        shared += plan_role(want.stack, service, observed)
        shared += plan_groups(want.stack, service, observed)
        if service.fleet is not None:
            phases.add_fleet(plan_fleet(want.stack, candidate(want.stack, service, observed, origin), observed))
            continue
        instances = plan_instances(want.stack, service, observed, origin)
        if instances.in_place is not None:
            phases.rollouts.append(instances.in_place)
        phases.prepare += instances.launch
        new_instances += instances.new_instances
        cleanups += instances.cleanup
    for service in want.services.values():  # rules naming groups made above (internal services), once all exist
        shared += plan_admissions(want.stack, service, observed)
    # A service's role and its groups do not depend on each other (a group's rules name other groups by ref), so
    # each kind is a lane of its own; what uses them (the launch template) comes in a later stage (phases.py).
    shared = [replace(step, lane=f"{step.service}:{step.kind}") if step.service else step for step in shared]
    if new_instances:  # one wait for every new instance of every service, before anything old is removed
        phases.prepare.append(wait_running(new_instances, None))
    phases.finish += cleanups
    removed: list[Step] = []
    for gone in sorted(observed.services() - set(want.services)):
        removed += sweep_service(want.stack, gone, observed, keep_images=keep_images, reason="removed from app.yaml",
                                 planned=frozenset(want.services))
    return phases.plan(before=shared, after=removed)


def plan_log_group(want: StackWant, observed: Observed) -> list[Step]:
    retention = Call("logs", "put_retention_policy", {"logGroupName": want.log_group,
                                                      "retentionInDays": LOG_RETENTION_DAYS})
    if observed.log_group is None:
        return [Step(Action.CREATE, Kind.LOG_GROUP, want.log_group, None, (
            Call("logs", "create_log_group", {"logGroupName": want.log_group, "tags": names.tags(want.stack)},
                 ignore=("ResourceAlreadyExistsException",)),
            retention,
        ), f"container logs, kept {LOG_RETENTION_DAYS} days")]
    if observed.log_retention != LOG_RETENTION_DAYS:
        return [Step(Action.UPDATE, Kind.LOG_GROUP, want.log_group, None, (retention,),
                     f"keep logs {LOG_RETENTION_DAYS} days (was {observed.log_retention or 'forever'})")]
    return []


def candidate(stack: str, service: ServiceWant, observed: Observed, origin: Origin) -> Candidate:
    """The release app.yaml describes, as the candidate of a load-balanced rollout."""
    fleet = service.fleet
    assert fleet is not None
    record = new_release(service, observed, origin)
    return Candidate(
        service=service.name, config=service.launch_template.config_hash,
        launch_template=service.launch_template.name,
        template_step=template_step(service, observed, security_group_id(service, observed), record.number),
        target_group=fleet.target_group, listener=fleet.listener, auto_scaling_group=fleet.auto_scaling_group,
        count=service.count, subnets=service.subnets, vpc_id=service.security_group.vpc_id, timeout=fleet.timeout,
        keep=service.keep, record=record,
    )
