"""`liftshift init [DIR]`: write the app.yaml (and the Dockerfile) an app directory needs to be deployed."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .options import Output


def init(
    directory: Annotated[Optional[Path], typer.Argument(
        help="The app's directory (default: the current directory).", show_default=False)] = None,
    base_image: Annotated[Optional[str], typer.Option(
        "--base-image", metavar="IMAGE",
        help="The image the app runs on (the Dockerfile's last FROM; default: one per kind, e.g. python:3.12-slim).",
        show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option(
        "--name", help="The stack name (default: the directory's name).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Write over an existing app.yaml and Dockerfile.")] = False,
    output: Annotated[Output, typer.Option(
        "--output", "-o", help="text, or json: what was found and guessed, what to check, and the files written.")]
        = Output.text,
) -> None:
    """Look at an app directory and write its app.yaml, and a Dockerfile when it has none; say what was guessed."""
    import os

    from .. import report
    from ..migrate.init_app import init_app

    result = init_app(directory, base_image, name, force, dict(os.environ))
    if output == Output.json:
        typer.echo(report.as_json(result))
        return
    typer.echo(summary(result))


def summary(result: dict[str, Any]) -> str:
    lines = [f"Found: {'; '.join(result['found'])}."]
    guessed = result["guessed"]
    if guessed:
        command = " ".join(guessed["command"]) if guessed["command"] else "the base image's own"
        lines.append(f"Guessed: port {guessed['port']}, start command: {command}, health path "
                     f"{guessed['health_path']}, base image {guessed['base_image']}"
                     + (f" (built on {guessed['build_image']})" if guessed.get("build_image") else "")
                     + (f", data volume at {', '.join(guessed['data'].values())}" if guessed["data"] else "") + ".")
    lines.append(f"Wrote {', '.join(f['path'] for f in result['files'])} (stack {result['stack']}).")
    if result["check"]:
        lines.append("Check before the first deploy:")
        lines.extend(f"  - {c}" for c in result["check"])
    app_yaml = next(f["path"] for f in result["files"] if f["path"].endswith("app.yaml"))
    lines.append(f"Then: liftshift validate {app_yaml} && liftshift plan {app_yaml}")
    return "\n".join(lines)
