"""`history`: each service's release records, newest first, and which one serves."""

from __future__ import annotations

from typing import Any

from ..model.releases import FAILED, of_service
from ..plan.rollback import live_configs
from ..spec.model import AppSpec
from ..targets.base import Target


def history(spec: AppSpec, target: Target, service: str | None = None) -> dict[str, Any]:
    from ..aws.observe import observe_stack

    target.aws.account_id()
    observed = observe_stack(target.aws, spec.name)
    live = live_configs(spec, observed)
    services: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(live):
        if service and name != service:
            continue
        services[name] = [
            {"number": r.number, "outcome": r.outcome, "serving": r.config == live[name] and r.outcome != FAILED,
             "image": r.image, "config": r.config, "launch_template": r.launch_template,
             "template_kept": any(t.name == r.launch_template for t in observed.templates),
             "at": r.at, "by": r.by, "commit": r.commit, "reason": r.reason,
             "listener": (r.fleet or {}).get("listener"), "health": ((r.fleet or {}).get("target_group") or {}).get("health")}
            for r in sorted(of_service(observed.releases, name), key=lambda r: -r.number)
        ]
    return {"stack": spec.name, "region": target.aws.region, "services": services}
