"""`liftshift runbook`: a migration runbook from app.yaml files (or a migration.yaml of waves) and the plan."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import report
from ..errors import BadInput
from .base import open_target, result_printed
from .options import StackOptions, stack_options

Files = Annotated[list[Path], typer.Argument(
    help="app.yaml files (moved in the order given), or one migration.yaml listing stacks in waves.", metavar="FILE",
    show_default=False)]


@stack_options
def runbook(
    files: Files,
    out: Annotated[Optional[Path], typer.Option(
        "--out", metavar="PATH", help="Write the runbook here (default: stdout).", show_default=False)] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Run the pre-flight checks live and write each result into the checklist; exit 2 if one "
                        "fails.")] = False,
    template: Annotated[Optional[Path], typer.Option(
        "--template", metavar="PATH", help="A Jinja2 template of your own (its data: -o json).",
        show_default=False)] = None,
    *, opts: StackOptions,
) -> None:
    """Write a migration runbook: inventory, checklist, rehearsal, resources, cutover, validation, rollback."""
    from ..pipeline.runbook import runbook as make_runbook
    from ..runbook.render import render_runbook

    data = make_runbook(files, lambda spec: open_target(spec, opts), check=check, env=opts.env)
    text = report.as_json(data) + "\n" if opts.json else render_runbook(data, template)
    if out is None:
        typer.echo(text, nl=False)
        result_printed()  # a failed check then exits 2 without a second JSON document
    else:
        out.write_text(text)
        if not opts.json:
            typer.echo(f"wrote {out}", err=True)
    if data["failed_checks"]:
        raise BadInput(f"{data['failed_checks']} pre-flight check(s) failed: see the checklist"
                       + (f" in {out}" if out else ""))
