"""`runbook`: read the stacks (app.yaml files, or a migration.yaml of waves), plan each as `plan` does
(pipeline/prepare.py: the images are built, nothing in AWS changes), run the pre-flight checks when asked,
and return the runbook as data (runbook/document.py) for the template or `-o json`.

With --check, a stack that cannot be planned (no credentials, a certificate of another region...) is a failed
check written into the runbook, not an abort: the runbook still says what else was found.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInput, LiftshiftError
from ..checks.aws import CREDENTIALS_FIX
from ..runbook.document import Result, StackInput, document
from ..runbook.migration import from_app_files, is_migration, load_migration
from ..spec.load import load_spec
from ..spec.model import AppSpec
from ..targets.base import Target


def runbook(files: list[Path], target_for: Callable[[AppSpec], Target], *, check: bool,
            env: str | None = None) -> dict[str, Any]:
    """The runbook's data. `target_for` opens the target a stack is planned (and checked) in; `env`: every
    stack in that environment (spec/overlay.py)."""
    if len(files) == 1 and is_migration(files[0]):
        migration = load_migration(files[0])
        shown = {f: _shown(f) for wave in migration.waves for f in wave.stacks}
    else:
        migration = from_app_files(files)
        shown = {f: str(f) for f in files}
    stacks: list[StackInput] = []
    waves = []
    seen: dict[str, str] = {}
    results: dict[str, Result] = {}
    for wave in migration.waves:
        names = []
        for file in wave.stacks:
            spec, base = load_spec(file, env)
            if spec.name in seen:
                raise BadInput(f"{shown[file]}: stack {spec.name!r} is also {seen[spec.name]}: one runbook moves "
                               "each stack once")
            seen[spec.name] = shown[file]
            names.append(spec.name)
            stack = StackInput(spec, shown[file], wave.name)
            results.update(_plan_and_check(stack, base, target_for, check))
            stacks.append(stack)
        waves.append({"name": wave.name, "after": list(wave.after), "stacks": names})
    return document(stacks, title=migration.name, warranty_days=migration.warranty_days, waves=waves,
                    results=results if check else None, migration_file=migration.file)


def _plan_and_check(stack: StackInput, base: Path, target_for: Callable[[AppSpec], Target],
                    check: bool) -> dict[str, Result]:
    from ..checks import aws as checks
    from .describe import plan_json
    from .prepare import prepare

    name = stack.spec.name
    results: dict[str, Result] = {}
    try:
        target = target_for(stack.spec)  # no region or no credentials: nothing else can be asked
    except Exception as exc:
        if not check or not _expected(exc):
            raise
        stack.plan_error = _explain(exc)
        results[f"{name}:credentials"] = Result(False, stack.plan_error, CREDENTIALS_FIX)
        results[f"{name}:images"] = Result(False, f"no plan: {stack.plan_error}", "fix what the message names")
        return results
    try:
        stack.plan = plan_json(prepare(stack.spec, base, target))
    except Exception as exc:
        if not check or not _expected(exc):
            raise
        stack.plan_error = _explain(exc)
        results[f"{name}:images"] = Result(False, f"no plan: {stack.plan_error}", "fix what the message names")
    if stack.plan is not None:
        stack.actions = checks.plan_actions(stack.plan)
        results[f"{name}:images"] = Result(True, "built; section 4 is the plan made with them")
    if not check:
        return results
    from ..checks.policy import probes

    results.update(checks.run_checks(stack.spec, target.aws, stack.actions,
                                     lambda account, region: probes(stack.spec, account, region, stack.actions)))
    from .doctor import published_ports

    results[f"{name}:ports"] = checks.ports_free(name, published_ports(stack.spec))
    return results


def _explain(exc: Exception) -> str:
    return exc.explain() if isinstance(exc, LiftshiftError) else str(exc)


def _expected(exc: Exception) -> bool:
    """Failures a check reports: liftshift's own, AWS's and Docker's (a build that fails)."""
    if isinstance(exc, LiftshiftError):
        return True
    import botocore.exceptions

    if isinstance(exc, (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
        return True
    try:
        import docker.errors
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, docker.errors.DockerException)


def _shown(file: Path) -> str:
    """A stack's file as commands run from here name it."""
    try:
        return os.path.relpath(file)
    except ValueError:  # another drive
        return str(file)
