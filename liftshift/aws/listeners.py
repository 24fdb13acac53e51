"""Reading an Application Load Balancer's listener and rule actions, as DescribeListeners / DescribeRules
return them: where the liftshift-read stack state (aws.observe) and the local load-balancer stand-in
(targets.local.lbproxy) both find which target group a listener or rule sends traffic to. Pure."""

from __future__ import annotations

from typing import Any


def forward_target(actions: list[dict[str, Any]]) -> str | None:
    """The target group the actions forward to: a simple forward's TargetGroupArn, else the heaviest group of
    a weighted forward (ForwardConfig); None when no action forwards (fixed-response, redirect). Actions run
    in their Order; an ALB allows one forward among them, after any authenticate action."""
    for action in sorted(actions, key=lambda a: a.get("Order", 0)):
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            return action["TargetGroupArn"]
        weighted = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if weighted:
            return max(weighted, key=lambda g: g.get("Weight", 1))["TargetGroupArn"]
    return None
