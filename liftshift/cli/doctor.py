"""`liftshift doctor`: say why a deploy will not work before one runs (exit 2 when something blocks), or with
--policy print the minimal IAM policy of a pipeline role for the stack."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .. import report
from ..errors import EXIT_BAD_INPUT, BadInput
from .base import load
from .options import StackOptions, TargetName, stack_options

SIGN = {True: "✓", False: "✗", None: "☐"}


@stack_options
def doctor(
    file: Annotated[Optional[Path], typer.Argument(
        help="The app.yaml of a stack (else only the machine and the credentials are checked).",
        show_default=False)] = None,
    policy: Annotated[bool, typer.Option(
        "--policy", help="Print the minimal IAM policy (JSON) a pipeline role needs to deploy, roll back and destroy "
                         "the stack of FILE, and check nothing.")] = False,
    *, opts: StackOptions,
) -> None:
    """Check the machine, credentials, permissions, quotas and network a deploy needs; exit 2 if something blocks."""
    spec = load(file, opts.env)[0] if file is not None else None
    if policy:
        if spec is None:
            raise BadInput("--policy needs the app.yaml of the stack: liftshift doctor FILE --policy")
        from ..checks.policy import policy as make_policy

        typer.echo(report.as_json(make_policy(spec, region=opts.region or spec.region or "*")))
        return
    from ..pipeline.doctor import doctor as run_doctor

    result = run_doctor(spec, local=opts.target == TargetName.local, region=opts.region, profile=opts.profile)
    typer.echo(report.as_json(result) if opts.json else doctor_text(result))
    if not result["passed"]:
        if not opts.json:
            typer.echo(f"error: {result['failed']} check(s) failed: fix them before a deploy", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


def doctor_text(result: dict[str, Any]) -> str:
    lines = []
    for check in result["checks"]:
        lines.append(f"{SIGN[check['ok']]} {check['id']}: {check['detail']}")
        if check["fix"] and check["ok"] is not True:
            lines.append(f"    fix: {check['fix']}")
        elif check["fix"]:
            lines.append(f"    note: {check['fix']}")
    unknown = sum(1 for check in result["checks"] if check["ok"] is None)
    by_hand = f" ({unknown} to check by hand)" if unknown else ""
    lines.append(("ready" if result["passed"] else f"{result['failed']} check(s) block a deploy") + by_hand)
    return "\n".join(lines)
