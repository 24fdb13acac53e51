"""Which earlier steps of a plan each step must wait for: the graph the executor runs side by side.

A plan is a list in the order `plan` prints and `--parallel 1` runs. Running
steps at once is safe only where that order does not matter, so a step waits
for every earlier step that:

- saves a ref it reads (a new security group's id, a pushed digest, new instance ids);
- is of the same lane: acts on the same service (a service's steps keep their order: its launch template
  before its instances, its old release drained before it is removed), unless the planner said which of a
  service's steps are independent (`Step.lane`: a service's role and its security groups);
- acts on no service at all: a step shared by the stack (the log group, one wait for every new instance,
  destroy's termination of every instance) is a barrier, waiting for every step before it and waited for by
  every step after it;
- is of an earlier stage (`Step.stage`, set by plan/phases.py): no listener switches before every release's
  health gate has passed, and services removed from app.yaml go only after the rest is done.

Everything else (two services' roles, groups, launches, gates, drains) is independent. Pure: tested with plain
steps in tests/test_dependencies.py.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..model.refs import Ref, Refs
from ..model.steps import Step


def dependencies(steps: list[Step]) -> list[frozenset[int]]:
    """For each step, the indices of the earlier steps it waits for (not transitively reduced)."""
    out: list[frozenset[int]] = []
    saved_by: dict[Ref, int] = {}
    last_of_lane: dict[str, int] = {}
    barrier: int | None = None  # the latest step of no service
    for index, step in enumerate(steps):
        needs: set[int] = set()
        if barrier is not None:
            needs.add(barrier)
        for ref in refs_read(step):
            if ref in saved_by:
                needs.add(saved_by[ref])
        if step.service is None:
            needs.update(range(barrier + 1 if barrier is not None else 0, index))
            barrier = index
        elif lane_of(step) in last_of_lane:
            needs.add(last_of_lane[lane_of(step)])
        needs.update(j for j in range(index) if steps[j].stage < step.stage)
        if step.service is not None:
            last_of_lane[lane_of(step)] = index
        for call in step.calls:
            for ref in call.save:
                saved_by[ref] = index
        out.append(frozenset(needs))
    return out


def lane_of(step: Step) -> str:
    return step.lane or f"service:{step.service}"


def critical_paths(steps: list[Step], needs: list[frozenset[int]]) -> list[int]:
    """For each step, the most calls any chain of steps waiting on it still has to make, its own included: the
    executor starts the ready step with the longest first, so long chains do not start last."""
    longest = [len(step.calls) for step in steps]
    for index in range(len(steps) - 1, -1, -1):  # a step waits only for earlier ones
        for earlier in needs[index]:
            longest[earlier] = max(longest[earlier], len(steps[earlier].calls) + longest[index])
    return longest


def refs_read(step: Step) -> set[Ref]:
    """Every ref named in the step's parameters (a ref the step saves itself and reads later included)."""
    found: set[Ref] = set()
    for call in step.calls:
        _collect(call.params, found)
    return found


def _collect(value: Any, found: set[Ref]) -> None:
    if isinstance(value, Ref):
        found.add(value)
    elif isinstance(value, Refs):
        found.update(value.refs)
    elif isinstance(value, dict):
        _collect_all(value.values(), found)
    elif isinstance(value, (list, tuple)):
        _collect_all(value, found)


def _collect_all(values: Iterable[Any], found: set[Ref]) -> None:
    for value in values:
        _collect(value, found)
