"""`liftshift local ...`: the local rehearsal's background services (the AWS emulator and the registry)."""

import typer

from .. import report
from .base import guarded_command
from .commands import SparesAbsentOptions

local_app = typer.Typer(help="The local rehearsal's background services.", no_args_is_help=True,
                        rich_markup_mode=None, cls=SparesAbsentOptions)  # as the root: cli/base.py, commands.py


@local_app.command("stop")
@guarded_command
def local_stop() -> None:
    """Stop the AWS emulator and the registry of the local rehearsal (their state is lost)."""
    from ..targets.aws import docker_connector
    from ..targets.local.services import stop_services

    typer.echo(report.stopped_text(stop_services(docker_connector())))


@local_app.command("endpoint")
@guarded_command
def local_endpoint() -> None:
    """Print the emulator's URL (starting it if needed), e.g. to store secrets with the AWS CLI."""
    from ..targets.local.services import ensure_emulator

    typer.echo(ensure_emulator())
