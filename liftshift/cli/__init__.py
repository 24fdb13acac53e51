"""The command line: each command parses options, calls one pipeline function, prints its result.

Exit codes (liftshift/errors.py): 0 done, 1 the deployment failed, 2 bad input or usage, 3 a health check
failed (rolled back), 4 another run holds (or took) the stack's lock.
Results go to stdout (text, or JSON with --output json); progress and errors to stderr.

    base.py      the typer app; failures to exit codes (guarded); load app.yaml; open the target; emit
    failure.py   a failure as the -o json error document; the root group that does the same for usage errors
    options.py   the options commands share, declared once (@stack_options adds the ones every stack
                 command takes: --output, --profile, --region, --verbose, --quiet, --target, --env)
    <command>.py one module per command (releases.py: history and rollback; local.py: `local stop|endpoint`)

What a command prints is in liftshift/report.py.
"""

from . import (build, cutover, deploy, destroy, doctor, import_compose, init, logs, plan, releases, render, runbook,
               status, unlock, validate, verify)
from . import schema
from .base import app, guarded_command
from .local import local_app

# In the order `liftshift --help` lists them.
COMMANDS = (init.init, validate.validate, build.build, plan.plan, deploy.deploy, status.status, logs.logs,
            render.render, destroy.destroy, releases.history, releases.rollback, unlock.unlock, verify.verify,
            cutover.cutover, runbook.runbook, doctor.doctor)
for _command in COMMANDS:
    app.command()(guarded_command(_command))
app.command()(guarded_command(schema.schema))  # reads no stack: after the stack commands
app.add_typer(local_app, name="local")
app.add_typer(import_compose.import_app, name="import")


def main() -> None:
    app()


__all__ = ["COMMANDS", "app", "main"]
