"""`destroy`: remove everything tagged with the stack, in dependency order (plan.destroy).

Data volumes (services.X.data) are kept unless `delete_data` (destroy --delete-data): `kept_data` says which."""

from __future__ import annotations

from ..apply.executor import Executor
from ..model.steps import Step
from ..plan.data import kept_data
from ..plan.destroy import plan_destroy
from ..spec.model import AppSpec
from ..targets.base import Target
from .lock import stack_lock


def destroy(spec: AppSpec, target: Target, *, keep_images: bool, execute: bool = True,
            lock_wait: float = 0, delete_data: bool = False) -> list[Step]:
    """The steps that remove everything tagged with the stack; run them too when `execute`."""
    return destroy_plan(spec, target, keep_images=keep_images, execute=execute, lock_wait=lock_wait,
                        delete_data=delete_data)[0]


def destroy_plan(spec: AppSpec, target: Target, *, keep_images: bool, execute: bool = True,
                 lock_wait: float = 0, delete_data: bool = False) -> tuple[list[Step], list[str]]:
    """destroy's steps (run too when `execute`) and the data volumes it keeps, one line each."""
    from ..aws.observe import observe_stack

    from .cutover import refuse_if_serving

    target.aws.account_id()
    refuse_if_serving(spec, target)  # a cutover left DNS pointing here: `cutover --back` first
    if not execute:
        observed = observe_stack(target.aws, spec.name, verify_tags=True)
        return (plan_destroy(spec.name, observed, keep_images=keep_images, delete_data=delete_data),
                [] if delete_data else kept_data(spec.name, observed))
    with stack_lock(spec, target, "destroy", lock_wait):
        observed = observe_stack(target.aws, spec.name, verify_tags=True)
        steps = plan_destroy(spec.name, observed, keep_images=keep_images, delete_data=delete_data)
        Executor(target.aws.client, None, target.progress, parallel=target.parallel).run(steps)
        target.hosts.remove_all(spec.name)
        if delete_data:
            target.hosts.remove_data(spec.name)
    return steps, [] if delete_data else kept_data(spec.name, observed)
