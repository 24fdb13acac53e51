"""`liftshift validate`: check app.yaml and nothing else (no AWS, no Docker)."""

from ..errors import BadInput
from .base import load
from .options import File


def validate(file: File) -> None:
    """Check app.yaml; prints nothing on success."""
    try:
        load(file)
    except Exception as exc:  # validate reads and checks only: any failure is about the file, never a traceback
        from ..spec.errors import SpecError

        if isinstance(exc, SpecError):
            raise
        raise BadInput(f"{file}: cannot be checked: {type(exc).__name__}: {exc}") from exc
