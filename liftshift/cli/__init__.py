"""The command line: each command parses options, calls one pipeline function, prints its result.

Exit codes (liftshift/errors.py): 0 done, 1 the deployment failed, 2 bad input or usage, 3 a health check
failed (rolled back), 4 another run holds (or took) the stack's lock.
Results go to stdout (text, or JSON with --output json); progress and errors to stderr.

    base.py      the typer app; failures to exit codes (guarded); load app.yaml; open the target; emit
    commands.py  the table of commands (name, module, one-line help) in --help's order; the root group loads a
                 command's module only when it runs, its help is shown or it is completed (fast start)
    failure.py   a failure as the -o json error document; the root group does the same for usage errors
    options.py   the options commands share, declared once (@stack_options adds the ones every stack
                 command takes: --output, --profile, --region, --verbose, --quiet, --target, --env; and
                 --parallel on those that run steps, which open_target hands to the target)
    <command>.py one module per command (releases.py: history and rollback; local.py: `local stop|endpoint`)

What a command prints is in liftshift/report.py. benchmarks/startup.py measures the start of each command;
tests/test_startup.py checks what a start imports.
"""

from .base import app
from .commands import COMMANDS


def main() -> None:
    app()


__all__ = ["COMMANDS", "app", "main"]
