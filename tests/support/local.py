"""Helpers for tests of the local rehearsal."""

from __future__ import annotations

from typer.testing import CliRunner

from liftshift.cli.base import app


def run_local(*args: str):
    return CliRunner().invoke(app, [*args, "--target", "local"], catch_exceptions=False)


def stack_containers(docker_client, stack: str) -> list:
    """App containers and stand-in hosts of a stack."""
    found = docker_client.containers.list(all=True, filters={"label": f"liftshift.stack={stack}"})
    found += docker_client.containers.list(all=True, filters={"label": f"liftshift.host.stack={stack}"})
    return found
