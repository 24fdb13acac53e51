"""Plans and steps as data the commands emit (`-o json`, and the text made from it): never a withheld value."""

from __future__ import annotations

from typing import Any

from ..model.steps import Instruction, Step
from .prepare import Prepared


def describe_step(step: Step) -> dict[str, Any]:
    return {"action": str(step.action), "kind": str(step.kind), "name": step.name, "service": step.service,
            "detail": step.detail}


def plan_json(prepared: Prepared) -> dict[str, Any]:
    return {
        "stack": prepared.spec.name,
        "region": prepared.want.region,
        "changes": len(prepared.steps),
        "warnings": prepared.warnings,
        "notes": prepared.notes,
        "steps": [{**describe_step(s), "calls": [call_json(c) for c in s.calls]} for s in prepared.steps],
    }


def call_json(call: Instruction) -> dict[str, Any]:
    """A planned call as JSON: refs, tokens and withheld values as their placeholders (their repr)."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return repr(value)

    return {"client": call.client, "operation": call.operation, "params": clean(call.params)}
