"""`liftshift import compose`: write an app.yaml from a docker compose file.

`import` is a Python keyword, so the command group is a typer sub-app registered under that name.
"""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .base import guarded_command
from .commands import SparesAbsentOptions
from .options import Output

import_app = typer.Typer(help="Write an app.yaml from another tool's description of the app.", no_args_is_help=True,
                         rich_markup_mode=None, cls=SparesAbsentOptions)  # as the root: cli/base.py, commands.py


@import_app.command("compose")
@guarded_command
def compose(
    file: Annotated[Optional[Path], typer.Argument(
        help="The compose file, or a directory holding one (default: compose.yaml, compose.yml, "
             "docker-compose.yml or docker-compose.yaml in the current directory).", show_default=False)] = None,
    out: Annotated[Optional[str], typer.Option(
        "--out", metavar="PATH", help="Where to write app.yaml (default: beside the compose file); - prints it.",
        show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option(
        "--name", help="The stack name (default: compose's top-level name, else the directory's name).",
        show_default=False)] = None,
    profile: Annotated[Optional[list[str]], typer.Option(
        "--profile", metavar="PROFILE",
        help="A compose profile to enable (repeatable; '*' enables all): services with profiles: are imported only "
             "when one of theirs is given (else COMPOSE_PROFILES). Not an AWS profile.",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing app.yaml.")] = False,
    allow_unsupported: Annotated[bool, typer.Option(
        "--allow-unsupported", help="Import services that use privileged or devices, without them.")] = False,
    output: Annotated[Output, typer.Option(
        "--output", "-o", help="text, or json: the mapping, the app.yaml text and the warnings as one document.")]
        = Output.text,
) -> None:
    """Write an app.yaml from a docker compose file; warn about what does not map."""
    import os

    from .. import report
    from ..migrate import import_compose

    result = import_compose(file, out, name, list(profile or []), force, allow_unsupported, dict(os.environ))
    if output == Output.json:
        typer.echo(report.as_json(result))
        return
    for finding in result["warnings"]:
        typer.echo(f"{finding_level(finding)}: {finding_text(finding)}", err=True)
    if result["out"] == "-":
        typer.echo(result["app_yaml"], nl=False)
        return
    typer.echo(summary(result))


def finding_level(finding: dict[str, Any]) -> str:
    return "note" if finding["level"] == "note" else "warning"


def finding_text(finding: dict[str, Any]) -> str:
    where = f"{finding['file']}:{finding['line']}" if finding["line"] else finding["file"]
    return f"{where}: {finding['key']}: {finding['message']}" if finding["key"] else f"{where}: {finding['message']}"


def summary(result: dict[str, Any]) -> str:
    count = len(result["services"])
    warned = sum(1 for f in result["warnings"] if f["level"] != "note")
    lines = [f"Wrote {result['out']}: stack {result['stack']}, {count} service{'s' if count != 1 else ''} from "
             f"{result['compose_file']}" + (f", {warned} warning{'s' if warned != 1 else ''}" if warned else "") + "."]
    if result["commands"]:
        lines.append("Store the secrets before the first deploy (file paths are from the directory of app.yaml):")
        lines.extend(f"  {c['command']}" for c in result["commands"])
    lines.append(f"Then: liftshift validate {result['out']} && liftshift plan {result['out']}")
    return "\n".join(lines)
