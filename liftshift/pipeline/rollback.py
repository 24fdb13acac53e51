"""`rollback`: put an earlier release out again, through the same health-gated rollout as deploy.

What goes back and how is planned by plan.rollback; this module reads the
stack and its network, holds the lock and runs the plan. Nothing is built or
pushed.
"""

from __future__ import annotations

from ..model.steps import Step
from ..plan.phases import InfraPlan
from ..plan.rollback import check_request, plan_rollback
from ..spec.model import AppSpec
from ..targets.base import Target
from .lock import stack_lock


def rollback(spec: AppSpec, target: Target, service: str | None, to: int | None, *, execute: bool = True,
             lock_wait: float = 0) -> list[Step]:
    from ..apply.executor import Executor
    from ..aws.observe import observe_stack
    from ..aws.ownership import check_ownership
    from .deploy import run_rollout

    target.aws.account_id()
    if not execute:
        observed = observe_stack(target.aws, spec.name)
        steps = _plan(spec, target, observed, service, to).steps
        check_ownership(target.aws, spec.name, steps, observed)
        return steps
    with stack_lock(spec, target, "rollback", lock_wait):
        observed = observe_stack(target.aws, spec.name)
        plan = _plan(spec, target, observed, service, to)
        check_ownership(target.aws, spec.name, plan.steps, observed)  # a release's groups are made again by name
        executor = Executor(target.aws.client, None, target.progress, gate=target.gate(spec), parallel=target.parallel)
        run_rollout(spec, target, executor, plan, observed)
        target.hosts.converge(spec, observe_stack(target.aws, spec.name))
    return plan.steps


def _plan(spec: AppSpec, target: Target, observed, service: str | None, to: int | None) -> InfraPlan:
    """The request checked against app.yaml, then the network read (the planner makes no call)."""
    from ..aws.network import network
    from ..aws.observe import require_services

    check_request(spec, service, to)
    require_services(spec, observed, registry_is_ecr=False)  # a rollback pushes nothing; a fleet needs ELBv2
    return plan_rollback(spec, observed, network(target.aws, spec), service, to)
