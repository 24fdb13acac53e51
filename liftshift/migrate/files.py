"""Writing what migrate/ makes (app.yaml, a Dockerfile): a new file, or over an existing one only with --force."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BadInput


def write(path: Path, text: str, force: bool) -> None:
    """`text` into `path`; an existing file is refused (exit 2) unless `force`, and then a symlink there is
    replaced, not followed (init and import write into an app's directory, which may hold anything)."""
    try:
        if force and path.is_symlink():
            os.unlink(path)
        with open(path, "w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise BadInput(f"{path} exists: give --force to overwrite it") from None
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror}") from None
