"""What every command shares: the typer app, turning failures into exit codes, loading app.yaml, opening a
target, printing a result.

Nothing heavy is imported at module level (boto3, docker, pydantic load when a command runs), and the root
group loads a command's module only when it is used (cli/commands.py), so `liftshift --help` stays fast. Help
and usage errors are plain click text: typer's rich formatting would import rich (and markdown-it, pygments)
on every start; rich loads only to draw the live progress line (progress_live.py).
"""

import functools
from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

import typer

from .. import __version__
from ..errors import EXIT_BAD_INPUT, EXIT_FAILED, LiftshiftError
from ..progress import settle
from .commands import RootGroup
from .failure import print_error_document
from .options import Output, StackOptions, TargetName

T = TypeVar("T")

app = typer.Typer(
    cls=RootGroup,  # commands loaded when used (cli/commands.py); usage errors as JSON with -o json (cli/failure.py)
    rich_markup_mode=None,  # plain click help: rich only to draw (see above)
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish (cli/completion.py)
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Lift and shift containerised applications onto AWS EC2.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"liftshift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Lift and shift containerised applications onto AWS EC2."""


# Whether this run already printed its result document: a command that prints its result and then fails on it
# (verify exit 3, plan --strict, runbook --check) keeps stdout to that one document.
_run = {"printed": False}


def result_printed() -> None:
    """The command wrote its result on stdout (emit does this; a command that echoes its own says so)."""
    _run["printed"] = True


def fail(message: str, code: int, json_output: bool = False, exc: BaseException | None = None) -> NoReturn:
    """One message on stderr and exit `code`; with --output json also the error document on stdout, unless the
    command already printed its result there (stdout stays one JSON document)."""
    settle(ok=False)
    if json_output and not _run["printed"]:
        print_error_document(message, code, exc)
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(fn: Callable[[], T], json_output: bool = False) -> T:
    """Run a command body, turning known failures into one message and an exit code."""
    _run["printed"] = False
    try:
        return fn()
    except LiftshiftError as exc:
        fail(exc.explain(), exc.exit_code, json_output, exc)
    except KeyboardInterrupt as exc:
        fail("interrupted; run the same command again to converge", EXIT_FAILED, json_output, exc)
    except Exception as exc:  # botocore and docker errors not tied to one step
        import botocore.exceptions

        if isinstance(exc, (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            fail(f"AWS call failed: {exc}", EXIT_FAILED, json_output, exc)
        if isinstance(exc, (ValueError, TypeError)) and str(exc).startswith(("user-data:", "sh filter:")):
            # the renderer refusing a value validate let through: bad input, and nothing was changed for it
            fail(f"cannot render the user-data: {exc}", EXIT_BAD_INPUT, json_output, exc)
        settle(ok=False)
        raise
    finally:
        settle()


def guarded_command(command: Callable[..., T]) -> Callable[..., T]:
    """`command` with its failures turned into exit codes by `guarded` (how every command is registered); a
    command given `--output json` fails with the JSON error document (cli/failure.py)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> T:
        output = kwargs.get("output")
        return guarded(lambda: command(*args, **kwargs), json_output=getattr(output, "value", output) == "json")

    return run


def load(file: Path, env: str | None = None):
    """app.yaml, with environment `env`'s overlay merged in (--env / LIFTSHIFT_ENV)."""
    from ..spec.load import load_spec

    return load_spec(file, env)


def open_target(spec, opts: StackOptions, quiet: bool = False):
    """The target `opts` names, reporting progress on stderr (progress.make_progress: live on a terminal, plain
    lines in CI, only warnings with --output json or --quiet).

    quiet: a command whose result is all it prints (render, unlock) shows progress only with --verbose.
    """
    from ..progress import make_progress

    progress = make_progress(json=opts.json, quiet=opts.quiet or (quiet and not opts.verbose), verbose=opts.verbose)
    if opts.target == TargetName.local:
        from ..targets.local.target import local_target

        target = local_target(opts.region or spec.region, progress)
    else:
        from ..targets.aws import aws_target

        target = aws_target(opts.region or spec.region, opts.profile, progress)
    if opts.parallel is not None:  # --parallel N (commands that run steps)
        target.parallel = opts.parallel
    return target


def emit(data: Any, output: Output, text: Callable[[Any], str]) -> None:
    """The command's result on stdout: `text(data)`, or data as JSON with --output json."""
    from ..report import as_json

    settle()
    typer.echo(as_json(data) if output == Output.json else text(data))
    result_printed()
