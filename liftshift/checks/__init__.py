"""Pre-flight checks, shared by `liftshift doctor` and `liftshift runbook --check`: each says ✓, ✗ with its fix,
or ☐ when it cannot be told (never passed for want of an answer).

    aws.py          credentials, permissions (IAM's simulator), quotas, network, AMIs, secrets, certificates
    machine.py      the Docker engine, its builder and the platforms it can build for
    local.py        the local rehearsal's parts: emulator, registry (ports: aws.ports_free)
    permissions.py  the deployer's IAM actions by kind of stack (the README's table, checked by the tests)
    policy.py       the minimal IAM policy of a stack's pipeline role, from those actions
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Result:
    """A pre-flight check's outcome: ok True (✓), False (✗, with the fix), None (to check by hand)."""

    ok: Optional[bool]
    detail: str = ""
    fix: str = ""


# The Service Quotas checked, (service code, quota code): "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)
# instances" (vCPUs), "VPC security groups per Region", "Application Load Balancers per Region" (the Service
# Quotas console lists each code).
QUOTAS = {"instances": ("ec2", "L-1216C47A"), "security-groups": ("vpc", "L-E79EC296"),
          "load-balancers": ("elasticloadbalancing", "L-53DA6B97")}
