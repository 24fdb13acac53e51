"""One base for every failure liftshift expects, carrying the exit code the CLI ends with.

The CLI maps errors with one `except LiftshiftError`, so it need not know which module raises what. A class
says what kind of failure it is by its base (BadInput, Unhealthy, Locked, or LiftshiftError itself for a
failed deployment); the class stays in the module that raises it. Nothing heavy is imported here: `liftshift
--help` loads this module.
"""

from __future__ import annotations

EXIT_OK = 0  # done
EXIT_FAILED = 1  # the deployment failed (or was interrupted): running the same command again converges
EXIT_BAD_INPUT = 2  # bad input or usage, missing setup: nothing was changed for it
EXIT_UNHEALTHY = 3  # a health check failed (the new release was rolled back)
EXIT_LOCKED = 4  # another run holds (or took) the stack's lock


class LiftshiftError(Exception):
    """A failure liftshift expects and explains in one message: the deployment failed (exit 1)."""

    exit_code: int = EXIT_FAILED

    def explain(self) -> str:
        """What the CLI prints after `error: `."""
        return str(self)


class BadInput(LiftshiftError):
    """app.yaml, an option, the account or the machine cannot do what was asked; nothing changed (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class Unhealthy(LiftshiftError):
    """A release never became healthy; it was removed and the old release still serves (exit 3)."""

    exit_code = EXIT_UNHEALTHY


class Locked(LiftshiftError):
    """Another deploy, destroy or rollback of the stack holds its lock, or took it from this run (exit 4)."""

    exit_code = EXIT_LOCKED


class PartlyApplied(LiftshiftError):
    """A planned step failed after earlier steps changed things: running the same command converges (exit 1)."""

    def explain(self) -> str:
        return f"deployment failed at {self}\nRun the same command again to converge from here."
