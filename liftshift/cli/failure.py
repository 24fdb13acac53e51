"""A failure as `--output json` gives it: one JSON document on stdout, `{"error": ..., "exit_code": N, ...}`.

`error` and `exit_code` are the stable keys (the schema of every command's error output); `kind` names the
exception class, and a located error (app.yaml, a compose file) adds `file`, `line` and `key`. The text message
still goes to stderr, so a CI log shows it when stdout is captured.

Usage errors (an unknown option, a missing argument: click's exit 2) happen before a command runs, so the typer
group itself (`JsonAwareGroup`) turns them into the same document when the command line asks for JSON.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import typer
from typer.core import TyperGroup


def error_document(message: str, exit_code: int, exc: BaseException | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"error": message, "exit_code": exit_code}
    if exc is not None:
        doc["kind"] = type(exc).__name__
        if all(hasattr(exc, a) for a in ("file", "line", "path", "message")):  # spec.yamlsource.SourceError
            from ..spec.yamlsource import dotted

            doc.update(file=str(exc.file), line=exc.line, key=dotted(exc.path) or None)
        step = getattr(exc, "step", None)  # apply.executor.StepFailed
        if step is not None:
            doc["step"] = {"action": str(step.action), "kind": str(step.kind), "name": step.name,
                           "service": step.service}
    return doc


def print_error_document(message: str, exit_code: int, exc: BaseException | None = None) -> None:
    from ..report import as_json

    typer.echo(as_json(error_document(message, exit_code, exc)))


def wants_json(args: Sequence[str]) -> bool:
    """Whether a command line asks for `--output json` (in any of click's spellings), before click parses it."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("-o", "--output") and i + 1 < len(args) and args[i + 1] == "json":
            return True
        if arg in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


class JsonAwareGroup(TyperGroup):
    """The root command: with `--output json` on the command line, a usage error is the JSON error document too."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or not wants_json(argv):
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=standalone_mode, **extra)
        try:
            code = super().main(args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                                **extra)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        except typer.TyperException as exc:  # typer's own click: UsageError, BadParameter, NoSuchOption...
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            status = getattr(exc, "exit_code", 2)
            print_error_document(message, status, exc)
            typer.echo(f"error: {message}", err=True)
            sys.exit(status)
        # not standalone: click returns the exit code of an Exit, or the command's return value (None: done)
        sys.exit(code if isinstance(code, int) else 0)
