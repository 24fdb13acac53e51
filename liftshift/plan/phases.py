"""How a run's steps are ordered: every service's preparation, then every health gate, then every finish.

Deploy and rollback assemble their plans the same way, here. Traffic moves
only in `finish`, so when any gate fails no service has switched yet and
every release this run put out (`rollouts`) can be undone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from ..model import refs
from ..model.observed import Observed
from ..model.refs import Ref
from ..model.steps import Step
from .fleet import Candidate, FleetPlan, plan_abandon
from .in_place import InPlaceRollout, plan_restore, updated_in_place

Rollout = Candidate | InPlaceRollout  # a release going out: abandoned (fleet) or restored (in place) on failure


@dataclass
class InfraPlan:
    steps: list[Step]
    rollouts: list[Rollout]  # undone if a gate fails


@dataclass
class Phases:
    prepare: list[Step] = field(default_factory=list)
    gate: list[Step] = field(default_factory=list)
    finish: list[Step] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)

    def add_fleet(self, fleet: FleetPlan) -> None:
        self.prepare += fleet.prepare
        self.gate += fleet.gate
        self.finish += fleet.finish
        if fleet.rollout is not None:
            self.rollouts.append(fleet.rollout)

    def plan(self, before: list[Step] | None = None, after: list[Step] | None = None) -> InfraPlan:
        """The steps in run order, between what must come `before` (shared resources) and `after` (removals).

        Each part is a stage (`Step.stage`): the executor runs steps of one stage side by side where they are
        independent, and a stage only once every earlier one is done, so every gate passes before any finish."""
        parts = (before or [], self.prepare, self.gate, self.finish, after or [])
        return InfraPlan([replace(step, stage=stage) for stage, part in enumerate(parts) for step in part],
                         self.rollouts)


def plan_undo(stack: str, rollout: Rollout, observed: Observed, reason: str, done: list[Step],
              made: Callable[[Ref], bool]) -> list[Step]:
    """The steps that take back a release a failed gate stopped: a load-balanced release is abandoned (its
    probe rule too when this run `made` it), instances updated in place (as `done` shows) are restored."""
    if isinstance(rollout, InPlaceRollout):
        return plan_restore(stack, rollout, updated_in_place(rollout, done), reason)
    return plan_abandon(stack, rollout, observed, reason, created_rule=made(refs.probe_rule(rollout.service)))
