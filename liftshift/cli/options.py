"""Every option the commands share, declared once.

Options one command or a few take (`--service`, `--lock-wait`, `--strict`) are typer `Annotated` aliases used
by name. The ones every stack command takes (`--output`, `--profile`, `--region`, `--verbose`, `--quiet`,
`--target`, `--env`) are added by `@stack_options`, and the command receives them as one `StackOptions`: a
command cannot lose one of them, and they cannot drift apart between commands. `--parallel` (`Parallel`) is added
the same way to the commands that run steps (`@stack_options(parallel=True)`), so `open_target` hands it to the
target and no command has to remember to.
"""

import functools
import inspect
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ..targets.base import DEFAULT_PARALLEL  # plain data (targets/base.py imports nothing heavy)
from .completion import service_names


class Output(str, Enum):
    text = "text"
    json = "json"


class TargetName(str, Enum):
    aws = "aws"
    local = "local"


File = Annotated[Path, typer.Argument(help="The app.yaml describing the stack.", show_default=False)]
Service = Annotated[Optional[str], typer.Option("--service", "-s", help="Only this service.",
                                                autocompletion=service_names)]
LockWait = Annotated[float, typer.Option(
    "--lock-wait", min=0, metavar="SECONDS",
    help="Wait this long for another deploy or destroy of the stack to finish (default: fail at once, exit 4).")]
Env = Annotated[Optional[str], typer.Option(
    "--env", "-e", envvar="LIFTSHIFT_ENV", metavar="NAME",
    help="Environment: merge app.NAME.yaml (beside FILE) over it; the stack becomes NAME-ENV.")]
Parallel = Annotated[int, typer.Option(
    "--parallel", min=1, envvar="LIFTSHIFT_PARALLEL", metavar="N",
    help="How many independent steps, builds, pushes and health gates to run at once (1: one after another, "
         "in plan order).")]
Strict = Annotated[bool, typer.Option(
    "--strict", help="Fail (exit 2) on any warning: SSH open to the internet, AMIs not owned by Amazon, bind "
                     "mounts of host system paths.")]


@dataclass(frozen=True)
class StackOptions:
    """Where a command works (target, region, profile) and how it reports (output, verbose)."""

    output: Output = Output.text
    profile: Optional[str] = None
    region: Optional[str] = None
    verbose: bool = False
    quiet: bool = False  # only results, warnings and errors: no progress (progress.make_progress)
    target: TargetName = TargetName.aws
    env: Optional[str] = None  # the environment (spec/overlay.py): part of the stack's identity
    parallel: Optional[int] = None  # --parallel on the commands that run steps; None: the target's default

    @property
    def json(self) -> bool:
        return self.output == Output.json


_SHARED = [  # (name, annotated type, default): the order they show in --help, after the command's own
    ("output", Annotated[Output, typer.Option(
        "--output", "-o", help="text, or json for machines (no progress output).")], Output.text),
    ("profile", Annotated[Optional[str], typer.Option(
        "--profile", help="AWS profile (else AWS_PROFILE / the default chain).")], None),
    ("region", Annotated[Optional[str], typer.Option(
        "--region", help="AWS region (else app.yaml's region, AWS_REGION, the profile's).")], None),
    ("verbose", Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show all build and push output and every retried AWS call.")], False),
    ("quiet", Annotated[bool, typer.Option(
        "--quiet", "-q", help="Only results, warnings and errors: no progress.")], False),
    ("target", Annotated[TargetName, typer.Option(
        "--target", "-t", envvar="LIFTSHIFT_TARGET",
        help="aws, or local: rehearse the whole deployment on this machine.")], TargetName.aws),
    ("env", Env, None),
]
SHARED_OPTIONS = tuple(name for name, _, _ in _SHARED)


def stack_options(command: Optional[Callable[..., Any]] = None, *, parallel: bool = False) -> Any:
    """Give `command` the shared options; it takes them as its keyword argument `opts: StackOptions`.

    `@stack_options(parallel=True)`: a command that runs steps takes `--parallel N` too (`opts.parallel`)."""
    if command is None:
        return functools.partial(stack_options, parallel=parallel)
    signature = inspect.signature(command, eval_str=True)  # typer reads the types; resolve them here
    own = [p for name, p in signature.parameters.items() if name != "opts"]
    if len(own) == len(signature.parameters):
        raise TypeError(f"{command.__name__} must take `opts: StackOptions`")
    added = ([("parallel", Parallel, DEFAULT_PARALLEL)] if parallel else []) + _SHARED
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
              for name, kind, default in added]
    names = tuple(name for name, _, _ in added)

    @functools.wraps(command)
    def with_options(**kwargs: Any) -> Any:
        opts = StackOptions(**{name: kwargs.pop(name) for name in names})
        return command(**kwargs, opts=opts)

    with_options.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
    return with_options
