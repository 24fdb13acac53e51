"""SpecError: bad input in app.yaml, located at a file, a line and a key path.

Its own module because both loading (spec/load.py) and the AWS limits checked again once the region is
known (spec/limits.py) raise it.
"""

from __future__ import annotations

from typing import Any

from .yamlsource import LocatedData, SourceError
from ..errors import BadInput


class SpecError(SourceError, BadInput):
    """Bad input in app.yaml: exit code 2, nothing created."""

    @classmethod
    def at(cls, located: LocatedData, path: tuple[Any, ...], message: str) -> "SpecError":
        """The error for key `path` of `located`, at the line where that key (or its nearest parent) is."""
        return cls(located.file_of(path), located.line_of(path), path, message)
