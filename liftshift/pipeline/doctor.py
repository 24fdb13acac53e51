"""`doctor`: why a deploy will not work, said before one runs. Every check is read only (nothing is built,
started or created) and comes from liftshift/checks/, shared with `runbook --check`.

Without an app.yaml: the machine (engine, builder, platforms) and, on AWS, the credentials, account and region.
With one: also each service's architecture against the engine, and on AWS the permissions its deploy, rollback
and destroy need (IAM's simulator on the caller; the actions are the deployer's table for this kind of stack,
checks/permissions.py), quotas, network, AMIs, secrets and certificates; in the local rehearsal the emulator,
the registry and the ports the stack publishes.
"""

from __future__ import annotations

from typing import Any, Optional

from ..checks import Result, machine
from ..checks.aws import CREDENTIALS_FIX, ports_free, run_checks
from ..spec.model import AppSpec

MARK = {True: "ok", False: "failed", None: "unknown"}


def doctor(spec: Optional[AppSpec], *, local: bool, region: Optional[str] = None,
           profile: Optional[str] = None) -> dict[str, Any]:
    """The checks as data: {"stack", "target", "checks": [{id, status, ok, detail, fix}], "failed", "passed"}."""
    results: dict[str, Result] = {}
    engine, info = machine.engine()
    results["docker"] = engine
    results["builder"] = machine.builder(info)
    results["platforms"] = machine.platforms(info)
    if spec is not None:
        for name, service in spec.services.items():
            arch = "arm64" if service.instances.arch == "arm64" else "amd64"
            results[f"arch:{name}"] = machine.service_arch(name, arch, info)
    if local:
        results.update(_local(spec, info is not None))
    else:
        results.update(_aws(spec, region, profile))
    checks = [{"id": key, "status": MARK[r.ok], "ok": r.ok, "detail": r.detail, "fix": r.fix}
              for key, r in results.items()]
    failed = sum(1 for c in checks if c["ok"] is False)
    return {"stack": spec.name if spec else None, "target": "local" if local else "aws", "checks": checks,
            "failed": failed, "passed": failed == 0}


def _aws(spec: Optional[AppSpec], region: Optional[str], profile: Optional[str]) -> dict[str, Result]:
    from ..aws.session import Aws
    from ..checks.permissions import stack_actions

    try:
        aws = Aws(region=region or (spec.region if spec else None), profile=profile)
    except Exception as exc:  # no region, an unknown profile
        return {"credentials": Result(False, _message(exc), CREDENTIALS_FIX)}
    if spec is None:
        try:
            arn = aws.client("sts").get_caller_identity()["Arn"]
            return {"credentials": Result(True, f"account {aws.account_id()}, {arn}, region {aws.region}")}
        except Exception as exc:
            return {"credentials": Result(False, _message(exc), CREDENTIALS_FIX)}
    prefix = f"{spec.name}:"
    from ..checks.policy import probes

    checks = run_checks(spec, aws, stack_actions(spec), lambda account, where: probes(spec, account, where))
    return {key[len(prefix):]: r for key, r in checks.items()}


def _local(spec: Optional[AppSpec], engine_ok: bool) -> dict[str, Result]:
    from ..checks import local

    client = None
    if engine_ok:
        import docker

        client = docker.from_env(timeout=10)
    out = {"emulator": local.emulator(), "registry": local.registry(client)}
    if spec is not None:
        out["ports"] = ports_free(spec.name, published_ports(spec))
    return out


def published_ports(spec: AppSpec) -> list[int]:
    """The host ports a rehearsal of the stack binds on 127.0.0.1 (the runbook's check asks the same)."""
    services = spec.services.values()
    return sorted({s.published_port for s in services} | {p for s in services for p, _ in s.extra_ports}
                  | {s.load_balancer.listener_port for s in services if s.load_balancer})


def _message(exc: Exception) -> str:
    from ..errors import LiftshiftError

    return exc.explain() if isinstance(exc, LiftshiftError) else (str(exc).splitlines() or [type(exc).__name__])[0]
