"""`liftshift validate`: check app.yaml and nothing else (no AWS, no Docker)."""

from ..errors import BadInput
from .base import load
from .options import Env, File


def validate(file: File, env: Env = None) -> None:
    """Check app.yaml (with --env, merged with its environment's overlay); prints nothing on success."""
    try:
        load(file, env)
    except Exception as exc:  # validate reads and checks only: any failure is about the file, never a traceback
        from ..spec.errors import SpecError

        if isinstance(exc, (SpecError, BadInput)):
            raise
        raise BadInput(f"{file}: cannot be checked: {type(exc).__name__}: {exc}") from exc
