"""Planning: desired vs observed -> ordered Steps, pure data printed by `plan` and run by the executor.

    stack       a deploy's plan: shared resources, then the releases going out in phases (phases.py)
    images      ECR repositories and pushes (phase one of a deploy)
    roles       instance roles and profiles;  groups: security groups
    instances   services without a load balancer: launches, terminations, in-place updates (in_place.py)
    fleet       services behind a load balancer: one Auto Scaling group and target group per release
    records     release records, written by all of the above
    rollback    which earlier release goes back, and its steps
    destroy     removal of a service or the whole stack, in dependency order

Nothing here talks to AWS or Docker. The names below are the planners' entry points.
"""

from .destroy import plan_destroy
from .images import LIFECYCLE_KEEP, ImageWant, plan_images
from .instances import PENDING_USER_DATA, plan_instance_rollback
from .phases import InfraPlan
from .stack import LOG_RETENTION_DAYS, plan_infrastructure, plan_stack

__all__ = ["LIFECYCLE_KEEP", "LOG_RETENTION_DAYS", "PENDING_USER_DATA", "ImageWant", "InfraPlan", "plan_destroy",
           "plan_images", "plan_infrastructure", "plan_instance_rollback", "plan_stack"]
