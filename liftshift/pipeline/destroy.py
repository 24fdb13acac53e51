"""`destroy`: remove everything tagged with the stack, in dependency order (plan.destroy)."""

from __future__ import annotations

from ..apply.executor import Executor
from ..model.steps import Step
from ..plan.destroy import plan_destroy
from ..spec.model import AppSpec
from ..targets.base import Target
from .lock import stack_lock


def destroy(spec: AppSpec, target: Target, *, keep_images: bool, execute: bool = True,
            lock_wait: float = 0) -> list[Step]:
    """The steps that remove everything tagged with the stack; run them too when `execute`."""
    from ..aws.observe import observe_stack

    target.aws.account_id()
    if not execute:
        return plan_destroy(spec.name, observe_stack(target.aws, spec.name, verify_tags=True), keep_images=keep_images)
    with stack_lock(spec, target, "destroy", lock_wait):
        observed = observe_stack(target.aws, spec.name, verify_tags=True)
        steps = plan_destroy(spec.name, observed, keep_images=keep_images)
        Executor(target.aws.client, None, target.progress).run(steps)
        target.hosts.remove_all(spec.name)
    return steps
