"""The runbook as one document of plain data (what `-o json` prints and the template renders). Pure: the
plans and the check results come in as data, so golden tests build it from plain values.

Its parts follow AWS's rehost guidance (Prescriptive Guidance, "cutover runbook"; Application Migration
Service's test -> cutover -> revert -> finalize): inventory, pre-migration checklist, rehearsal, the resources
the deploy creates, the cutover steps with owners and times, validation with success criteria, a rollback for
every step, the warranty period, decommissioning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..checks import QUOTAS, Result  # noqa: F401 (Result: the runbook's results)
from ..spec.model import AppSpec
from . import cutover
from .inventory import inventory


@dataclass
class StackInput:
    spec: AppSpec
    file: str  # as the commands should name it
    wave: str
    plan: Optional[dict[str, Any]] = None  # pipeline.describe.plan_json: what `liftshift plan -o json` prints
    plan_error: Optional[str] = None  # why there is no plan (with --check: a failed check, not an abort)
    actions: list[str] = field(default_factory=list)  # the IAM actions the plan calls (checks.plan_actions)


MANUAL = (  # items no tool can check: (id, title, how)
    ("backup", "A backup of the old host (disks and databases) is taken and a restore was tried",
     "restore it on a scratch machine and start the app"),
    ("window", "The change window is agreed and the app's users are told", "the change ticket"),
    ("owners", "Every cutover step below has an owner, and one person decides go / roll back",
     "the Owner column is filled in"),
    ("monitoring", "The new stack's logs and metrics are watched during the cutover",
     "the CloudWatch Logs group /liftshift/STACK, liftshift status"),
)


def document(stacks: list[StackInput], *, title: str, warranty_days: int,
             waves: list[dict[str, Any]], results: Optional[dict[str, Result]] = None,
             migration_file: Optional[str] = None) -> dict[str, Any]:
    """The runbook: `stacks` in cutover order; `results` by check id ("STACK:ID") when --check ran."""
    checked = results is not None
    results = results or {}
    out_stacks = []
    checklist = []
    for item_id, what, how in MANUAL:
        checklist.append(_item("", item_id, what, how, None))
    for stack in stacks:
        services = inventory(stack.spec)
        region = (stack.plan or {}).get("region") or stack.spec.region or "the region of --region or AWS_REGION"
        for item_id, what, how in preflight(stack, services, region):
            checklist.append(_item(stack.spec.name, item_id, what, how, results.get(f"{stack.spec.name}:{item_id}")))
        copies = cutover.data_copies(stack.spec.name, services)
        out_stacks.append({
            "name": stack.spec.name, "file": stack.file, "wave": stack.wave, "region": region,
            "services": services,
            "plan": _plan(stack.plan), "plan_error": stack.plan_error,
            "rehearsal": cutover.rehearsal(stack.file, services),
            "data_copies": copies,
            "cutover": [{**step, "owner": "", "planned": "", "actual": ""}
                        for step in cutover.cutover_steps(stack.file, services, copies)],
            "validation": cutover.validation(stack.file, services),
            "decommissioning": cutover.decommissioning(stack.file, services, warranty_days),
        })
    failed = [c for c in checklist if c["ok"] is False]
    return {
        "title": title or (stacks[0].spec.name if len(stacks) == 1 else "migration"),
        "migration_file": migration_file,
        "warranty_days": warranty_days,
        "checked": checked,
        "failed_checks": len(failed),
        "waves": waves,
        "checklist": checklist,
        "stacks": out_stacks,
    }


def _item(stack: str, item_id: str, what: str, how: str, result: Optional[Result]) -> dict[str, Any]:
    return {"stack": stack, "id": item_id, "check": what, "how": how, "how_is_command": bool(stack),
            "ok": None if result is None else result.ok,
            "detail": "" if result is None else result.detail,
            "fix": "" if result is None or result.ok else result.fix}


def _plan(plan: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if plan is None:
        return None
    steps = [{"action": s["action"], "kind": s["kind"], "name": s["name"], "service": s["service"],
              "detail": s["detail"], "calls": [f"{c['client']} {c['operation']}" for c in s["calls"]]}
             for s in plan["steps"]]
    return {"changes": plan["changes"], "warnings": plan["warnings"], "notes": plan["notes"], "steps": steps}


def preflight(stack: StackInput, services: list[dict[str, Any]], region: str) -> list[tuple[str, str, str]]:
    """The checks `--check` runs for a stack, as (id, what, how to check by hand)."""
    file = stack.file
    running = [s for s in services if s["instances"]["count"]]
    peak = sum(2 * s["instances"]["count"] for s in running)
    lbs = [s for s in services if s["load_balancer"]]
    items = [
        ("credentials", f"AWS credentials work and the region is {region}", "aws sts get-caller-identity"),
        ("permissions", f"The deployer may make the {len(stack.actions) or 'planned'} changing calls the plan makes "
         "(the reads it needs are in the README's permission table)"
         + (f": {', '.join(stack.actions)}" if stack.actions else ""),
         "aws iam simulate-principal-policy --policy-source-arn ARN --action-names ..."),
        ("quota-instances", f"Room for {peak} instances at the peak of a rollout (old and new side by side): "
         + ", ".join(f"{n} x {t}" for t, n in sorted(_by_type(running).items())),
         f"aws service-quotas get-service-quota --service-code ec2 --quota-code {QUOTAS['instances'][1]}"),
        ("quota-security-groups", f"Room for {len(services) + len(lbs)} security group(s) in the region",
         f"aws service-quotas get-service-quota --service-code vpc --quota-code {QUOTAS['security-groups'][1]}"),
    ]
    if lbs:
        items.append(("quota-load-balancers", f"Room for {len(lbs)} Application Load Balancer(s)",
                      "aws service-quotas get-service-quota --service-code elasticloadbalancing --quota-code "
                      + QUOTAS["load-balancers"][1]))
    listed = sorted({sub for s in services for sub in s["instances"]["subnets"]})
    items.append(("network", "Subnets: " + (", ".join(listed) if listed else "the default VPC's default subnets"),
                  "aws ec2 describe-subnets"))
    for s in services:
        items.append((f"ami:{s['name']}", f"{s['name']}: AMI {s['instances']['ami']} ({s['instances']['arch']}) "
                      f"resolves in {region}", "aws ec2 describe-images / ssm get-parameter"))
    for s in services:
        for ref in s["secrets"] + s["secret_files"]:
            items.append((f"secret:{s['name']}:{ref['name']}",
                          f"{s['name']}: secret {ref['ref']} ({ref['name']}) exists and can be read",
                          f"aws ssm describe-parameters --parameter-filters Key=Name,Values={ref['secret']}"
                          if ref["store"] == "ssm" else
                          f"aws secretsmanager describe-secret --secret-id {ref['secret']}"))
    for s in lbs:
        arn = s["load_balancer"]["certificate_arn"]
        if arn:
            items.append((f"certificate:{s['name']}", f"{s['name']}: certificate {arn} is issued and in {region}",
                          f"aws acm describe-certificate --certificate-arn {arn}"))
    items.append(("images", "The images build and the plan is made", f"liftshift plan {file}"))
    ports = sorted({p["published"] for s in services for p in s["ports"]}
                   | {s["load_balancer"]["port"] for s in lbs})
    items.append(("ports", "Ports free on this machine for the rehearsal: " + ", ".join(map(str, ports)),
                  "ss -ltn"))
    return items


def _by_type(services: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in services:
        out[s["instances"]["type"]] = out.get(s["instances"]["type"], 0) + 2 * s["instances"]["count"]
    return out
